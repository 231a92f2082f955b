//! `HEAD`, `PUT` and `GET /v1/blobs/{sha256}`: photo blobs, uploaded in chunks that resume
//! where they stopped and served with ranges (storage, references and access:
//! [`crate::blobs`]).
//!
//! All three need a bearer access token (401 otherwise). `{sha256}` is exactly 64 hex digits,
//! either case (400 `invalid_blob_id` otherwise; the file name is always the re-formatted
//! lower-hex id). `HEAD` and `PUT` are for principals who write documents with photos:
//! officers, enterprises and supervisors (403 `forbidden` for admins and weighbridge systems).
//!
//! **Access.** The server records who uploaded each blob. A document that references a blob
//! lets those who may read the document read the blob only if the reference is vouched for:
//! whoever's accepted change added it uploaded the blob or could already read it (so listing
//! a hash one learned in one's own document grants nothing; see `crate::blobs`), and an
//! enterprise never gets a blob a case references as an original.
//! Uploads in progress belong to the principal that sends them: each principal has its own
//! offset and declared total for a blob, and nobody else's chunks touch them.
//!
//! - `HEAD` → 200 with `Upload-Offset: N` and `Upload-Complete: true|false`. Complete (with
//!   `Content-Length: N`, the size) only to a principal who uploaded the blob or may read
//!   it; to anyone else, even when the server holds the blob, the offset of that principal's
//!   own upload (0 when none) and `false`: `HEAD` does not tell whether a hash is stored.
//! - `PUT`, body = bytes, `Content-Range: bytes START-END/TOTAL` (END inclusive; without it
//!   the body is the whole blob). Checked from the headers before the body is read:
//!   400 `invalid_content_range` (not that shape, END < START, END ≥ TOTAL), 413
//!   `blob_too_large` (TOTAL over `[blobs] max_blob_bytes`), 413 `chunk_too_large` (one body
//!   over [`MAX_CHUNK_BYTES`], 8 MiB), 400 `chunk_length_mismatch` (`Content-Length` ≠
//!   END-START+1, or the body read), 400 `empty_blob` (TOTAL 0). Then: 200 when the blob is
//!   complete and the principal uploaded it or may read it (the body is not read; nothing
//!   rewritten); otherwise the chunk goes to the principal's own upload: 409
//!   `blob_offset_mismatch` when START is not the offset it holds (out of order or repeated)
//!   and 409 `blob_total_mismatch` when TOTAL differs from what its first chunk declared,
//!   both with `Upload-Offset` — except that a chunk at START 0 with another TOTAL starts the
//!   principal's upload over; 202 with `Upload-Offset` when more is needed; 201 when the
//!   chunk completed the upload and its SHA-256 matched — the blob is then visible and the
//!   principal one of its uploaders, also when the server held the blob already (proof of
//!   possession: the bytes are not stored twice); 422 `blob_hash_mismatch` when it did not
//!   (the upload is discarded: `HEAD` says 0). A body that ends early is 400
//!   `incomplete_chunk` and stores nothing. 2xx bodies are `{"sha256": …, "offset": …,
//!   "complete": …}` with `Upload-Offset` and `Upload-Complete`.
//! - `GET`, optional `Range` (one range: 206 with `Content-Range`; several: the whole blob,
//!   200; unsatisfiable: 416 `range_not_satisfiable`), `If-None-Match` (304) and `If-Range`.
//!   `ETag: "<sha256>"`, `Cache-Control: private, max-age=31536000, immutable`, a sniffed
//!   `Content-Type` (`image/jpeg`, `image/png`, `image/heic`, …, else
//!   `application/octet-stream`) and `X-Content-Type-Options: nosniff`; streamed from the
//!   file. 404 `blob_not_found` alike when the blob is incomplete, unknown, referenced by no
//!   accepted document, or not readable by the principal: nothing tells them apart.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tower_http::services::ServeFile;
use zhichao_core::access::Principal;
use zhichao_core::ids::EvidenceId;

use crate::AppState;
use crate::auth::Authenticated;
use crate::blobs::{self, BlobStore, MAX_CHUNK_BYTES, PutOutcome};
use crate::error::{ApiError, ApiResult, Json};

/// Bytes the server holds of a blob (`HEAD`, and `PUT` answers).
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// `true` once the blob is complete and verified (`HEAD`, and `PUT` answers).
pub const UPLOAD_COMPLETE: HeaderName = HeaderName::from_static("upload-complete");
/// `Cache-Control` of a served blob: its bytes never change under its name.
pub const BLOB_CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// The blob routes, with a body limit of [`MAX_CHUNK_BYTES`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/blobs/{sha256}", get(download).head(status).put(upload))
        .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES))
}

/// A `Content-Range: bytes START-END/TOTAL` header (END inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// The blob's size.
    pub total: u64,
}

impl ContentRange {
    /// Parses `bytes START-END/TOTAL` (decimal, START ≤ END < TOTAL); `None` for anything
    /// else, including `*` for the range or the total.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (unit, rest) = text.split_at_checked(6)?;
        if !unit.eq_ignore_ascii_case("bytes ") {
            return None;
        }
        let (range, total) = rest.trim_start().split_once('/')?;
        let (start, end) = range.split_once('-')?;
        let number = |s: &str| {
            (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        let (start, end, total) = (number(start)?, number(end)?, number(total)?);
        (start <= end && end < total).then_some(ContentRange { start, end, total })
    }

    /// Bytes in the range.
    pub fn byte_count(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// The `{sha256}` of the path, validated (400 `invalid_blob_id`).
struct BlobId(EvidenceId);

impl FromRequestParts<AppState> for BlobId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let invalid = || ApiError::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_blob_id",
            message: "a blob id is the SHA-256 of its bytes: 64 hex digits".to_owned(),
        };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        blobs::parse_blob_id(&raw).map(BlobId).ok_or_else(invalid)
    }
}

/// The 2xx body of `PUT`.
#[derive(Debug, Serialize)]
struct BlobAnswer {
    sha256: String,
    offset: u64,
    complete: bool,
}

/// Officers, enterprises and supervisors write documents with photos; admins and weighbridge
/// systems do not.
fn may_upload(p: &Principal) -> bool {
    matches!(
        p,
        Principal::Officer { .. } | Principal::Enterprise { .. } | Principal::Supervisor { .. }
    )
}

fn forbidden() -> ApiError {
    ApiError::Forbidden {
        code: "forbidden",
        message: "only officers, enterprises and supervisors upload photos".into(),
    }
}

fn not_found() -> ApiError {
    ApiError::Missing {
        code: "blob_not_found",
        message: "no such blob for you",
    }
}

fn refused(state: &AppState, status: StatusCode, code: &'static str, message: String) -> ApiError {
    state.metrics.record_blob_rejected();
    ApiError::Invalid {
        status,
        code,
        message,
    }
}

fn number(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

fn flag(b: bool) -> HeaderValue {
    HeaderValue::from_static(if b { "true" } else { "false" })
}

/// Runs a store operation off the async threads (file and sled I/O).
async fn blocking<T, F>(state: &AppState, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&BlobStore) -> blobs::Result<T> + Send + 'static,
{
    let store = state.blobs.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

async fn status(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    BlobId(sha): BlobId,
) -> ApiResult<Response> {
    if !may_upload(&principal) {
        return Err(forbidden());
    }
    let log = state.log.clone();
    let held = blocking(&state, move |store| store.status(&log, &principal, &sha)).await?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(UPLOAD_OFFSET, number(held.offset));
    headers.insert(UPLOAD_COMPLETE, flag(held.complete));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if held.complete {
        headers.insert(header::CONTENT_LENGTH, number(held.offset));
    }
    Ok(response)
}

/// A `PUT` answer of the 2xx kind.
fn answer(status: StatusCode, sha: &EvidenceId, offset: u64, complete: bool) -> Response {
    let body = BlobAnswer {
        sha256: sha.to_string(),
        offset,
        complete,
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(UPLOAD_OFFSET, number(offset));
    response
        .headers_mut()
        .insert(UPLOAD_COMPLETE, flag(complete));
    response
}

/// A 409 with the offset to go on from.
fn conflict(state: &AppState, code: &'static str, message: String, offset: u64) -> Response {
    let mut response = refused(state, StatusCode::CONFLICT, code, message).into_response();
    response.headers_mut().insert(UPLOAD_OFFSET, number(offset));
    response
}

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ()> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or(()),
    }
}

async fn upload(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    BlobId(sha): BlobId,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if !may_upload(&principal) {
        return Err(forbidden());
    }
    let bad = |code: &'static str, message: String| {
        refused(&state, StatusCode::BAD_REQUEST, code, message)
    };
    let too_large = |code: &'static str, message: String| {
        refused(&state, StatusCode::PAYLOAD_TOO_LARGE, code, message)
    };
    let cap = state.config.blobs.max_blob_bytes;
    let content_length = header_u64(&headers, &header::CONTENT_LENGTH).map_err(|()| {
        bad(
            "invalid_request",
            "Content-Length is not a number".to_owned(),
        )
    })?;
    // (start, total, chunk length) as far as the headers tell.
    let (start, total, expected) = match headers.get(header::CONTENT_RANGE) {
        Some(value) => {
            let range = value
                .to_str()
                .ok()
                .and_then(ContentRange::parse)
                .ok_or_else(|| {
                    bad(
                        "invalid_content_range",
                        "Content-Range must be `bytes START-END/TOTAL` with START ≤ END < TOTAL"
                            .to_owned(),
                    )
                })?;
            (range.start, Some(range.total), Some(range.byte_count()))
        }
        None => (0, content_length, content_length),
    };
    if let Some(total) = total
        && total > cap
    {
        return Err(too_large(
            "blob_too_large",
            format!("a blob has at most {cap} bytes; this one declares {total}"),
        ));
    }
    if expected.is_some_and(|len| len > MAX_CHUNK_BYTES as u64) {
        return Err(too_large(
            "chunk_too_large",
            format!(
                "one request carries at most {MAX_CHUNK_BYTES} bytes: send chunks with Content-Range"
            ),
        ));
    }
    if let (Some(len), Some(sent)) = (expected, content_length)
        && len != sent
    {
        return Err(bad(
            "chunk_length_mismatch",
            format!("Content-Length {sent} is not the {len} bytes of the Content-Range"),
        ));
    }
    if total == Some(0) {
        return Err(bad("empty_blob", "a blob has at least one byte".to_owned()));
    }
    // What needs no body: a complete blob this principal knows, a chunk at the wrong offset
    // or of another total than the principal's own upload.
    let log = state.log.clone();
    let who = principal.clone();
    let held = blocking(&state, move |store| store.status(&log, &who, &sha)).await?;
    if held.complete {
        return Ok(answer(StatusCode::OK, &sha, held.offset, true));
    }
    let other_total = matches!((held.total, total), (Some(d), Some(t)) if d != t);
    if let (Some(declared), Some(total)) = (held.total, total)
        && other_total
        && start != 0
    {
        return Ok(total_mismatch(&state, held.offset, declared, total));
    }
    // A chunk at 0 of another total starts the principal's upload over.
    if start != held.offset && !(other_total && start == 0) {
        return Ok(offset_mismatch(&state, held.offset, start));
    }
    let limit = expected.map_or(MAX_CHUNK_BYTES, |len| {
        usize::try_from(len).unwrap_or(MAX_CHUNK_BYTES)
    });
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) if expected.is_none() => {
            return Err(too_large(
                "chunk_too_large",
                format!(
                    "one request carries at most {MAX_CHUNK_BYTES} bytes (or the body was cut \
                     off): send chunks with Content-Range"
                ),
            ));
        }
        Err(_) => {
            return Err(bad(
                "incomplete_chunk",
                "the body was cut off or is longer than its Content-Range; nothing was stored"
                    .to_owned(),
            ));
        }
    };
    let len = bytes.len() as u64;
    if expected.is_some_and(|e| e != len) {
        return Err(bad(
            "chunk_length_mismatch",
            format!("the body has {len} bytes, not the length its headers declare"),
        ));
    }
    let total = total.unwrap_or(len);
    if total == 0 {
        return Err(bad("empty_blob", "a blob has at least one byte".to_owned()));
    }
    if total > cap {
        return Err(too_large(
            "blob_too_large",
            format!("a blob has at most {cap} bytes; this one has {total}"),
        ));
    }
    let now_ms = state.now_ms();
    let outcome = blocking(&state, move |store| {
        store.put_chunk(&sha, &principal, start, total, &bytes, now_ms)
    })
    .await?;
    Ok(match outcome {
        PutOutcome::Created { len: size } => {
            state.metrics.record_blob_bytes_received(len);
            state.metrics.record_blob_stored();
            tracing::info!(%sha, bytes = size, "photo blob stored");
            answer(StatusCode::CREATED, &sha, size, true)
        }
        PutOutcome::Proven { len: size } => {
            state.metrics.record_blob_bytes_received(len);
            tracing::info!(%sha, bytes = size, "photo blob proven: uploader added");
            answer(StatusCode::CREATED, &sha, size, true)
        }
        PutOutcome::AlreadyComplete { len: size } => answer(StatusCode::OK, &sha, size, true),
        PutOutcome::Accepted { offset } => {
            state.metrics.record_blob_bytes_received(len);
            answer(StatusCode::ACCEPTED, &sha, offset, false)
        }
        PutOutcome::OffsetMismatch { offset } => offset_mismatch(&state, offset, start),
        PutOutcome::TotalMismatch { offset, declared } => {
            total_mismatch(&state, offset, declared, total)
        }
        PutOutcome::HashMismatch => {
            tracing::info!(%sha, "photo blob refused: its bytes do not hash to its id");
            refused(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "blob_hash_mismatch",
                "the bytes do not hash to the blob id; the upload was discarded".to_owned(),
            )
            .into_response()
        }
    })
}

fn offset_mismatch(state: &AppState, offset: u64, start: u64) -> Response {
    conflict(
        state,
        "blob_offset_mismatch",
        format!("the server holds {offset} bytes of this blob; a chunk at {start} is not next"),
        offset,
    )
}

fn total_mismatch(state: &AppState, offset: u64, declared: u64, total: u64) -> Response {
    conflict(
        state,
        "blob_total_mismatch",
        format!("this upload declared {declared} bytes, not {total}"),
        offset,
    )
}

/// Does `If-None-Match` (a list of entity tags, or `*`) match `etag`?
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

async fn download(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    BlobId(sha): BlobId,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve_blob(&state, principal, sha, &headers).await
}

/// Serves the blob `sha` to `principal` as `GET /v1/blobs/{sha256}` does (the module's
/// description: the read check of [`BlobStore::may_read`], ranges, `If-None-Match`, `ETag`,
/// caching and sniffed type); also used by the console's `GET /console/blobs/{sha256}`, so
/// both apply the one check.
///
/// # Errors
/// [`ApiError::Missing`] `blob_not_found` when the principal may not read it or it is not
/// complete; 416 `range_not_satisfiable`; [`ApiError::Internal`].
pub(crate) async fn serve_blob(
    state: &AppState,
    principal: Principal,
    sha: EvidenceId,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let log = state.log.clone();
    let found = blocking(state, move |store| {
        if !store.may_read(&log, &principal, &sha)? {
            return Ok(None);
        }
        let path = store.object_path(&sha);
        match blobs::content_type_of(&path) {
            Ok(content_type) => Ok(Some((path, content_type))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let Some((path, content_type)) = found else {
        return Err(not_found());
    };
    let etag = format!("\"{sha}\"");
    let mut response = if none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut forward = Request::builder().method(Method::GET).uri("/");
        let if_range_holds = headers
            .get(header::IF_RANGE)
            .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
        if let Some(range) = headers.get(header::RANGE)
            && if_range_holds
        {
            forward = forward.header(header::RANGE, range);
        }
        let forward = forward.body(Body::empty()).map_err(ApiError::internal)?;
        let served = match ServeFile::new(&path)
            .ignore_multi_range_requests(true)
            .try_call(forward)
            .await
        {
            Ok(served) => served,
            // Swept between the check and the open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(ApiError::internal(e)),
        };
        match served.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {}
            // Swept between the check and the open.
            StatusCode::NOT_FOUND => return Err(not_found()),
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let range = served.headers().get(header::CONTENT_RANGE).cloned();
                let mut response = ApiError::Invalid {
                    status: StatusCode::RANGE_NOT_SATISFIABLE,
                    code: "range_not_satisfiable",
                    message: "the range is not within the blob".to_owned(),
                }
                .into_response();
                if let Some(range) = range {
                    response.headers_mut().insert(header::CONTENT_RANGE, range);
                }
                return Ok(response);
            }
            other => {
                return Err(ApiError::internal(format!(
                    "serving a blob file answered {other}"
                )));
            }
        }
        let (parts, body) = served.into_parts();
        let mut response = Response::from_parts(parts, Body::new(body));
        response.headers_mut().remove(header::LAST_MODIFIED);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(BLOB_CACHE_CONTROL),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        let r = ContentRange::parse("bytes 0-1048575/3000000").unwrap();
        assert_eq!(
            (r.start, r.end, r.total, r.byte_count()),
            (0, 1_048_575, 3_000_000, 1_048_576)
        );
        assert_eq!(
            ContentRange::parse("Bytes 5-5/6"),
            Some(ContentRange {
                start: 5,
                end: 5,
                total: 6
            })
        );
        for bad in [
            "",
            "bytes",
            "bytes 0-9",
            "bytes 0-9/*",
            "bytes */10",
            "bytes 5-4/10",
            "bytes 0-10/10",
            "bytes -1-4/10",
            "bytes +0-4/10",
            "bytes 0-4/1e3",
            "items 0-4/10",
            "bytes 0 - 4/10",
            "bytes 0-4/99999999999999999999",
            "bytes ０-4/10",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn if_none_match_lists() {
        let etag = "\"abc\"";
        let mut headers = HeaderMap::new();
        assert!(!none_match(&headers, etag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(none_match(&headers, etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abd\""));
        assert!(!none_match(&headers, etag));
    }
}
