//! Photo blobs over HTTP: resumable upload of the phone's queue ([`upload_queued`]) and
//! verified download ([`ServerApi::get_blob`]).
//!
//! The server's contract (`/v1/blobs/{sha256}`):
//!
//! - `HEAD` answers `Upload-Offset` (bytes it holds) and `Upload-Complete` (`true` once the
//!   blob is complete and verified).
//! - `PUT` with `Content-Range: bytes START-END/TOTAL` appends a chunk when `START` is the
//!   offset it holds: `202` (more needed, new `Upload-Offset`), `201` (complete and verified),
//!   `200` (it already had it), `409` (another offset: the answer's `Upload-Offset` says
//!   where to go on), `413` (over its size cap), `422` (the bytes do not hash to the id).
//! - `GET` (with `Range`) serves a complete blob to a principal who may read a document that
//!   references it.
//!
//! An upload asks `HEAD` first and sends from the offset the server holds, so a chunk the
//! server stored is never sent again, even after the app was killed mid-upload.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::evidence::blobs::BlobDir;
use crate::ids::EvidenceId;

use super::credentials::Session;
use super::error::{ClientError, Result, from_answer};
use super::http::ServerApi;
use super::runner::now_ms;

/// Bytes sent per `PUT` (256 KiB: on a weak mountain link a chunk still finishes within the
/// request timeout, and an interrupted upload loses little).
pub const UPLOAD_CHUNK_BYTES: usize = 256 * 1024;

/// Bound of one blob request (a chunk or a download), connect to last byte.
pub const BLOB_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest blob downloaded (the server's default cap).
pub const MAX_DOWNLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// What the server holds of one blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobStatus {
    /// Bytes held (the whole size once complete).
    pub offset: u64,
    /// True once the blob is complete and its SHA-256 verified.
    pub complete: bool,
}

/// What [`upload_queued`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Blobs the server now holds complete (uploaded now, or found already there).
    pub uploaded: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Blobs still queued after this run.
    pub pending: u64,
    /// Blobs that failed this time, with the reason (they stay queued).
    pub failed: Vec<(EvidenceId, String)>,
}

/// Progress of [`upload_queued`], for the phone's UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadProgress {
    /// The blob being sent.
    pub sha256: EvidenceId,
    /// Bytes of it the server holds.
    pub offset: u64,
    /// Its size.
    pub total: u64,
    /// Blobs done so far in this run.
    pub done: u64,
    /// Blobs in this run.
    pub of: u64,
}

fn header_u64(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn header_true(response: &ureq::http::Response<ureq::Body>, name: &str) -> bool {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn error_of(mut response: ureq::http::Response<ureq::Body>) -> ClientError {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    from_answer(status, &body)
}

impl ServerApi {
    fn blob_url(&self, sha: &EvidenceId) -> String {
        self.url().http(&format!("/v1/blobs/{sha}"))
    }

    /// Sends a bodiless blob request with the token and the blob timeout; a non-2xx answer
    /// is an error.
    fn blob_call(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
        access_token: &str,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let response = request
            .header("Authorization", format!("Bearer {access_token}"))
            .config()
            .timeout_global(Some(BLOB_REQUEST_TIMEOUT))
            .build()
            .call()
            .map_err(|e| super::http::network(&e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_of(response))
        }
    }

    /// `HEAD /v1/blobs/{sha256}`: what the server holds of the blob.
    ///
    /// # Errors
    /// [`ClientError::TokenExpired`], [`ClientError::Unauthorized`], [`ClientError::Network`],
    /// [`ClientError::Server`], [`ClientError::Decode`] when `Upload-Offset` is missing.
    pub fn blob_status(&self, access_token: &str, sha: &EvidenceId) -> Result<BlobStatus> {
        let response = self.blob_call(self.agent().head(self.blob_url(sha)), access_token)?;
        let offset = header_u64(&response, "upload-offset").ok_or(ClientError::Decode {
            reason: "blob status without Upload-Offset".to_owned(),
        })?;
        Ok(BlobStatus {
            offset,
            complete: header_true(&response, "upload-complete"),
        })
    }

    /// `PUT /v1/blobs/{sha256}` of `chunk` at `start` of a blob of `total` bytes. A `409`
    /// (the server holds another offset) is not an error: the status says where to go on.
    ///
    /// # Errors
    /// [`ClientError::Server`] with status 413 (over the server's cap) or 422 (the bytes do
    /// not hash to `sha`), the errors of [`ServerApi::blob_status`].
    pub fn put_blob_chunk(
        &self,
        access_token: &str,
        sha: &EvidenceId,
        start: u64,
        chunk: &[u8],
        total: u64,
    ) -> Result<BlobStatus> {
        let end = start + chunk.len() as u64;
        let mut request = self
            .agent()
            .put(self.blob_url(sha))
            .header("Authorization", format!("Bearer {access_token}"))
            .header("Content-Type", "application/octet-stream");
        if !chunk.is_empty() {
            request = request.header(
                "Content-Range",
                format!("bytes {start}-{}/{total}", end - 1),
            );
        }
        let response = request
            .config()
            .timeout_global(Some(BLOB_REQUEST_TIMEOUT))
            .build()
            .send(chunk)
            .map_err(|e| super::http::network(&e))?;
        match response.status().as_u16() {
            200 | 201 => Ok(BlobStatus {
                offset: total,
                complete: true,
            }),
            202 | 409 => Ok(BlobStatus {
                offset: header_u64(&response, "upload-offset").ok_or(ClientError::Decode {
                    reason: "blob answer without Upload-Offset".to_owned(),
                })?,
                complete: false,
            }),
            _ => Err(error_of(response)),
        }
    }

    /// `GET /v1/blobs/{sha256}`: the whole blob, verified against its hash.
    ///
    /// # Errors
    /// [`ClientError::Server`] 404 when the server does not have it or will not show it to
    /// this principal; [`ClientError::Decode`] when the bytes do not hash to `sha` or exceed
    /// [`MAX_DOWNLOAD_BYTES`]; the errors of [`ServerApi::blob_status`].
    pub fn get_blob(&self, access_token: &str, sha: &EvidenceId) -> Result<Vec<u8>> {
        let mut response = self.blob_call(self.agent().get(self.blob_url(sha)), access_token)?;
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_DOWNLOAD_BYTES)
            .read_to_vec()
            .map_err(|e| super::http::network(&e))?;
        if EvidenceId::of(&bytes) != *sha {
            return Err(ClientError::Decode {
                reason: format!("blob {sha} does not match its hash"),
            });
        }
        Ok(bytes)
    }
}

fn storage(e: &crate::evidence::blobs::BlobError) -> ClientError {
    ClientError::Storage {
        reason: e.to_string(),
    }
}

/// Uploads one stored blob from the offset the server holds. Returns the bytes sent.
fn upload_one(
    api: &ServerApi,
    token: &str,
    blobs: &BlobDir,
    sha: &EvidenceId,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let total = blobs.size(sha).ok_or_else(|| ClientError::Storage {
        reason: format!("photo {sha} is queued but not on this device"),
    })?;
    // A file damaged on the phone would be refused by the server after the whole upload:
    // check first (hashing is cheap next to the network).
    if !blobs.verify(sha).map_err(|e| storage(&e))? {
        return Err(ClientError::Storage {
            reason: format!("photo {sha} is damaged on this device (its bytes no longer match)"),
        });
    }
    let mut status = api.blob_status(token, sha)?;
    let mut sent = 0;
    // Each round either advances or is answered with the server's offset; a server that
    // keeps answering the same offset without taking the chunk is not followed forever.
    let mut stalled = 0;
    while !status.complete {
        if cancel.load(Ordering::Relaxed) {
            return Err(ClientError::Cancelled);
        }
        progress(status.offset, total);
        if status.offset > total {
            return Err(ClientError::Decode {
                reason: format!(
                    "the server holds {} bytes of photo {sha}, which has {total}",
                    status.offset
                ),
            });
        }
        let chunk = blobs
            .read_at(sha, status.offset, UPLOAD_CHUNK_BYTES)
            .map_err(|e| storage(&e))?;
        if chunk.is_empty() && status.offset < total {
            return Err(ClientError::Storage {
                reason: format!("photo {sha} is shorter than recorded"),
            });
        }
        let next = api.put_blob_chunk(token, sha, status.offset, &chunk, total)?;
        if next.complete || next.offset > status.offset {
            sent += chunk.len() as u64;
            stalled = 0;
        } else {
            stalled += 1;
            if stalled > 3 {
                return Err(ClientError::Protocol {
                    reason: format!("the server does not take photo {sha} at {}", next.offset),
                });
            }
            if stalled == 2 {
                // The server keeps refusing where it says to go on (e.g. its partial upload
                // declared another size): start this upload over from the first byte, which
                // replaces our own partial upload on the server.
                status = BlobStatus {
                    offset: 0,
                    complete: false,
                };
                continue;
            }
        }
        status = next;
    }
    progress(total, total);
    Ok(sent)
}

/// Uploads every blob queued in `blobs`, oldest first, each resuming where the server
/// stopped. A blob the server confirms leaves the queue ([`BlobDir::mark_on_server`]); one
/// refused (too large, forbidden) gets its failure recorded and stays queued for a later
/// try; one whose file on the phone no longer hashes to its id is not sent and leaves the
/// queue as damaged ([`BlobDir::mark_damaged`]), reported in `failed`. A network failure stops the run: the rest waits for the next one.
///
/// # Errors
/// [`ClientError::Cancelled`]; [`ClientError::Network`] (after recording the failure on the
/// blob being sent); the token errors of [`Session::with_valid`]; [`ClientError::Storage`]
/// when the queue cannot be read.
pub fn upload_queued(
    api: &ServerApi,
    session: &Session,
    blobs: &BlobDir,
    cancel: &AtomicBool,
    observer: &mut dyn FnMut(UploadProgress),
) -> Result<UploadReport> {
    let queued = blobs.queued().map_err(|e| storage(&e))?;
    let of = queued.len() as u64;
    let mut report = UploadReport::default();
    for (done, entry) in queued.iter().enumerate() {
        let sha = entry.sha256;
        let done = done as u64;
        let result = session.with_valid(now_ms(), |credentials| {
            upload_one(
                api,
                &credentials.access_token,
                blobs,
                &sha,
                cancel,
                &mut |offset, total| {
                    observer(UploadProgress {
                        sha256: sha,
                        offset,
                        total,
                        done,
                        of,
                    });
                },
            )
        });
        match result {
            Ok(bytes) => {
                report.bytes_sent += bytes;
                report.uploaded += 1;
                blobs.mark_on_server(&sha).map_err(|e| storage(&e))?;
            }
            Err(ClientError::Cancelled) => return Err(ClientError::Cancelled),
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(photo = %sha, error = %reason, "photo upload failed");
                if blobs.verify(&sha).is_ok_and(|ok| !ok) {
                    // Not sent again and again: reported as damaged until stored again.
                    let _ = blobs.mark_damaged(&sha);
                } else {
                    let _ = blobs.record_failure(&sha, &reason);
                }
                report.failed.push((sha, reason));
                if e.is_transient() || matches!(e, ClientError::Unauthorized { .. }) {
                    break;
                }
            }
        }
    }
    report.pending = blobs.queued().map_err(|e| storage(&e))?.len() as u64;
    Ok(report)
}

/// Fetches a photo blob the phone does not hold (a teammate's photo, a notice's evidence
/// copy, a response's photos) into `blobs`, verified against its hash. Nothing is fetched
/// when it is there already.
///
/// # Errors
/// [`ClientError::Server`] 404 when the server does not have it or will not show it to this
/// principal; [`ClientError::Storage`]; the errors of [`ServerApi::get_blob`] and
/// [`Session::with_valid`].
pub fn fetch_photo(
    api: &ServerApi,
    session: &Session,
    blobs: &BlobDir,
    sha: &EvidenceId,
) -> Result<()> {
    if blobs.contains(sha) {
        return Ok(());
    }
    let bytes = session.with_valid(now_ms(), |credentials| {
        api.get_blob(&credentials.access_token, sha)
    })?;
    blobs.put_expecting(*sha, &bytes).map_err(|e| storage(&e))?;
    // It came from the server: it is there.
    blobs.mark_on_server(sha).map_err(|e| storage(&e))
}

/// Asks the server about every blob in `expected` (the blobs a case or response references,
/// [`referenced_blobs`](crate::docs::referenced_blobs)) and brings this phone's record up to
/// date: a blob the server holds is marked so, one it does not hold although this phone
/// believed it did (an upload swept while nothing referenced it) is queued again when the
/// phone has it. Returns the progress after the check, for a "complete on the server" view
/// that does not rely on the phone's memory alone.
///
/// # Errors
/// [`ClientError::Storage`]; the errors of [`ServerApi::blob_status`] and
/// [`Session::with_valid`].
pub fn confirm_photos(
    api: &ServerApi,
    session: &Session,
    blobs: &BlobDir,
    expected: Vec<crate::docs::BlobUse>,
) -> Result<crate::evidence::blobs::PhotoProgress> {
    for blob in &expected {
        let status = session.with_valid(now_ms(), |credentials| {
            api.blob_status(&credentials.access_token, &blob.sha256)
        })?;
        if status.complete {
            blobs
                .mark_on_server(&blob.sha256)
                .map_err(|e| storage(&e))?;
        } else if blobs.is_on_server(&blob.sha256) {
            tracing::warn!(photo = %blob.sha256, "the server no longer holds a photo; queued again");
            let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
            blobs
                .forget_on_server(&blob.sha256, now)
                .map_err(|e| storage(&e))?;
        }
    }
    Ok(blobs.progress(expected))
}
