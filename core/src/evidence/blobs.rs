//! [`BlobDir`]: the phone's content-addressed store of photo blobs (originals and derivatives)
//! and its upload queue, in one directory that survives restarts.
//!
//! Layout under the root:
//!
//! - `objects/<2 hex>/<sha256>`: the blobs, each written to `tmp/` first, fsynced, then
//!   renamed into place, so a crash never leaves a half-written blob under its hash;
//! - `queue/<sha256>`: blobs still to upload (a small record: when queued, attempts, the last
//!   error);
//! - `sent/<sha256>`: blobs the server confirmed it holds complete and verified;
//! - `damaged/<sha256>`: queued blobs whose file on this phone no longer hashes to its id
//!   (storage fault): taken out of the queue so they are not sent again and again, and
//!   reported.
//!
//! File names are always the re-formatted lower-hex [`EvidenceId`], never text from outside.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::docs::BlobUse;
use crate::ids::EvidenceId;

/// Why a blob operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The file system refused (`op` names what was being done).
    #[error("photo storage: cannot {op}: {reason}")]
    Io {
        /// What was being done, e.g. `write blob`.
        op: &'static str,
        /// The system's reason.
        reason: String,
    },
    /// Bytes do not hash to the id they were stored or fetched under.
    #[error("photo {expected} does not match its hash (got {actual})")]
    HashMismatch {
        /// The id expected.
        expected: EvidenceId,
        /// The SHA-256 of the bytes.
        actual: EvidenceId,
    },
    /// The blob is not on this phone.
    #[error("photo {0} is not on this device")]
    NotFound(EvidenceId),
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> BlobError {
    move |e| BlobError::Io {
        op,
        reason: e.to_string(),
    }
}

/// A blob waiting to be uploaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedUpload {
    /// The blob.
    pub sha256: EvidenceId,
    /// When it was queued (device time, UTC ms).
    pub queued_at_ms: i64,
    /// Failed upload attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct QueueRecord {
    queued_at_ms: i64,
    attempts: u32,
    last_error: Option<String>,
}

/// Where one blob stands between this phone and the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// The server confirmed it holds the blob, complete and verified.
    OnServer,
    /// On this phone, waiting to be uploaded.
    Queued {
        /// Failed attempts so far.
        attempts: u32,
        /// Why the last attempt failed.
        last_error: Option<String>,
    },
    /// On this phone (received from the server, or stored without queueing).
    OnPhone,
    /// The file on this phone no longer matches its hash (storage fault): not sent; the
    /// photo must be taken or copied again.
    Damaged,
    /// Neither on this phone nor known to be on the server: taken on another phone that has
    /// not uploaded it yet, or lost.
    Missing,
}

/// The photo blobs one document expects and where each stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhotoProgress {
    /// Every blob the document references.
    pub expected: Vec<BlobUse>,
    /// How many of them the server confirmed.
    pub on_server: usize,
    /// Those the server does not have yet, with their state on this phone.
    pub missing: Vec<(BlobUse, UploadState)>,
}

impl PhotoProgress {
    /// True when the server holds every photo blob the document references.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// The content-addressed blob store and upload queue of one phone. See the
/// [module docs](self). Cheap to share behind an `Arc`; every operation goes to the file
/// system.
#[derive(Debug)]
pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    /// Opens (creating when needed) the store under `root`, removing temporary files a crash
    /// left behind.
    ///
    /// # Errors
    /// [`BlobError::Io`] when the directories cannot be made.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        for sub in ["objects", "queue", "sent", "damaged", "tmp"] {
            fs::create_dir_all(root.join(sub)).map_err(io("create the photo directories"))?;
        }
        if let Ok(entries) = fs::read_dir(root.join("tmp")) {
            for entry in entries.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(BlobDir { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object_path(&self, sha: &EvidenceId) -> PathBuf {
        let hex = sha.to_string();
        self.root.join("objects").join(&hex[..2]).join(hex)
    }

    fn marker(&self, dir: &str, sha: &EvidenceId) -> PathBuf {
        self.root.join(dir).join(sha.to_string())
    }

    /// Removes the marker of `sha` in `dir` (nothing when there is none).
    fn remove_marker(&self, dir: &str, sha: &EvidenceId) -> Result<(), BlobError> {
        match fs::remove_file(self.marker(dir, sha)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("update the upload queue")(e)),
        }
    }

    /// Writes `bytes` to `target` atomically: a temporary file, fsync, rename, fsync of the
    /// directory.
    fn write_atomically(&self, target: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        let tmp = self.root.join("tmp").join(format!(
            "{}.{}",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("blob"),
            rand::random::<u64>()
        ));
        let result = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir)?;
                fs::rename(&tmp, target)?;
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(io("write a photo file"))
    }

    /// Stores `bytes` under their SHA-256 and returns it. Storing the same bytes again does
    /// nothing.
    ///
    /// # Errors
    /// [`BlobError::Io`].
    pub fn put(&self, bytes: &[u8]) -> Result<EvidenceId, BlobError> {
        let sha = EvidenceId::of(bytes);
        self.store(sha, bytes)?;
        Ok(sha)
    }

    /// Stores `bytes` received for `sha` (a download), refusing bytes that do not hash to it.
    ///
    /// # Errors
    /// [`BlobError::HashMismatch`] (nothing stored), [`BlobError::Io`].
    pub fn put_expecting(&self, sha: EvidenceId, bytes: &[u8]) -> Result<(), BlobError> {
        let actual = EvidenceId::of(bytes);
        if actual != sha {
            return Err(BlobError::HashMismatch {
                expected: sha,
                actual,
            });
        }
        self.store(sha, bytes)
    }

    fn store(&self, sha: EvidenceId, bytes: &[u8]) -> Result<(), BlobError> {
        let path = self.object_path(&sha);
        // A file of the right size is kept only when it still hashes right: storing the
        // bytes again repairs a damaged copy.
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
            && self.verify(&sha).unwrap_or(false)
        {
            return Ok(());
        }
        self.write_atomically(&path, bytes)?;
        let _ = self.remove_marker("damaged", &sha);
        Ok(())
    }

    /// True when the blob is on this phone.
    pub fn contains(&self, sha: &EvidenceId) -> bool {
        self.object_path(sha).is_file()
    }

    /// The file holding the blob, when it is on this phone: for an app to show a thumbnail or
    /// evidence copy without copying it. Read-only: a changed file no longer matches its
    /// hash and is marked damaged before upload.
    pub fn local_path(&self, sha: &EvidenceId) -> Option<PathBuf> {
        let path = self.object_path(sha);
        path.is_file().then_some(path)
    }

    /// The blob's size in bytes, `None` when it is not on this phone.
    pub fn size(&self, sha: &EvidenceId) -> Option<u64> {
        fs::metadata(self.object_path(sha)).ok().map(|m| m.len())
    }

    /// The whole blob.
    ///
    /// # Errors
    /// [`BlobError::NotFound`], [`BlobError::Io`].
    pub fn read(&self, sha: &EvidenceId) -> Result<Vec<u8>, BlobError> {
        fs::read(self.object_path(sha)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BlobError::NotFound(*sha),
            _ => io("read a photo")(e),
        })
    }

    /// At most `max_len` bytes of the blob from `offset` (fewer at its end).
    ///
    /// # Errors
    /// [`BlobError::NotFound`], [`BlobError::Io`].
    pub fn read_at(
        &self,
        sha: &EvidenceId,
        offset: u64,
        max_len: usize,
    ) -> Result<Vec<u8>, BlobError> {
        let mut file = File::open(self.object_path(sha)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BlobError::NotFound(*sha),
            _ => io("open a photo")(e),
        })?;
        file.seek(SeekFrom::Start(offset))
            .map_err(io("read a photo"))?;
        let mut out = Vec::with_capacity(max_len.min(1 << 20));
        file.take(max_len as u64)
            .read_to_end(&mut out)
            .map_err(io("read a photo"))?;
        Ok(out)
    }

    /// Re-hashes the stored blob: true when its bytes still hash to `sha`.
    ///
    /// # Errors
    /// [`BlobError::NotFound`], [`BlobError::Io`].
    pub fn verify(&self, sha: &EvidenceId) -> Result<bool, BlobError> {
        Ok(EvidenceId::of(&self.read(sha)?) == *sha)
    }

    /// Queues the stored blob `sha` for upload (nothing when it is queued or on the server
    /// already).
    ///
    /// # Errors
    /// [`BlobError::NotFound`] when it is not stored here, [`BlobError::Io`].
    pub fn enqueue_upload(&self, sha: EvidenceId, now_ms: i64) -> Result<(), BlobError> {
        if !self.contains(&sha) {
            return Err(BlobError::NotFound(sha));
        }
        if self.is_on_server(&sha) || self.marker("queue", &sha).is_file() {
            return Ok(());
        }
        let _ = self.remove_marker("damaged", &sha);
        self.write_queue_record(
            &sha,
            &QueueRecord {
                queued_at_ms: now_ms,
                attempts: 0,
                last_error: None,
            },
        )
    }

    fn write_queue_record(&self, sha: &EvidenceId, record: &QueueRecord) -> Result<(), BlobError> {
        let bytes = postcard::to_stdvec(record).map_err(|e| BlobError::Io {
            op: "encode an upload record",
            reason: e.to_string(),
        })?;
        self.write_atomically(&self.marker("queue", sha), &bytes)
    }

    fn queue_record(&self, sha: &EvidenceId) -> Option<QueueRecord> {
        let bytes = fs::read(self.marker("queue", sha)).ok()?;
        // An unreadable record still means "queued": start its counters again.
        Some(postcard::from_bytes(&bytes).unwrap_or(QueueRecord {
            queued_at_ms: 0,
            attempts: 0,
            last_error: None,
        }))
    }

    /// The blobs waiting for upload, oldest first.
    ///
    /// # Errors
    /// [`BlobError::Io`] when the queue cannot be listed.
    pub fn queued(&self) -> Result<Vec<QueuedUpload>, BlobError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.join("queue")).map_err(io("list the upload queue"))? {
            let entry = entry.map_err(io("list the upload queue"))?;
            let Some(sha) = entry
                .file_name()
                .to_str()
                .and_then(|n| EvidenceId::parse(n).ok())
            else {
                continue;
            };
            if let Some(record) = self.queue_record(&sha) {
                out.push(QueuedUpload {
                    sha256: sha,
                    queued_at_ms: record.queued_at_ms,
                    attempts: record.attempts,
                    last_error: record.last_error,
                });
            }
        }
        out.sort_by_key(|q| (q.queued_at_ms, q.sha256));
        Ok(out)
    }

    /// Records a failed upload attempt of a queued blob.
    ///
    /// # Errors
    /// [`BlobError::Io`].
    pub fn record_failure(&self, sha: &EvidenceId, reason: &str) -> Result<(), BlobError> {
        let Some(mut record) = self.queue_record(sha) else {
            return Ok(());
        };
        record.attempts = record.attempts.saturating_add(1);
        record.last_error = Some(reason.chars().take(200).collect());
        self.write_queue_record(sha, &record)
    }

    /// Records that the server holds `sha` complete and verified: it leaves the queue.
    ///
    /// # Errors
    /// [`BlobError::Io`].
    pub fn mark_on_server(&self, sha: &EvidenceId) -> Result<(), BlobError> {
        self.write_atomically(&self.marker("sent", sha), b"")?;
        self.remove_marker("queue", sha)
    }

    /// Takes a queued blob whose file no longer hashes to its id out of the queue and marks
    /// it damaged ([`UploadState::Damaged`]); storing the right bytes again
    /// ([`BlobDir::put`]) repairs it, and queueing it again sends it.
    ///
    /// # Errors
    /// [`BlobError::Io`].
    pub fn mark_damaged(&self, sha: &EvidenceId) -> Result<(), BlobError> {
        self.write_atomically(&self.marker("damaged", sha), b"")?;
        self.remove_marker("queue", sha)
    }

    /// Forgets a confirmation the server no longer stands by (it answered that it does not
    /// hold `sha` complete), so the blob is queued again when it is on this phone.
    ///
    /// # Errors
    /// [`BlobError::Io`].
    pub fn forget_on_server(&self, sha: &EvidenceId, now_ms: i64) -> Result<(), BlobError> {
        self.remove_marker("sent", sha)?;
        if self.contains(sha) {
            self.enqueue_upload(*sha, now_ms)?;
        }
        Ok(())
    }

    /// True when the server confirmed it holds `sha`.
    pub fn is_on_server(&self, sha: &EvidenceId) -> bool {
        self.marker("sent", sha).is_file()
    }

    /// Where `sha` stands.
    pub fn upload_state(&self, sha: &EvidenceId) -> UploadState {
        if self.is_on_server(sha) {
            UploadState::OnServer
        } else if self.marker("damaged", sha).is_file() {
            UploadState::Damaged
        } else if let Some(record) = self.queue_record(sha) {
            UploadState::Queued {
                attempts: record.attempts,
                last_error: record.last_error,
            }
        } else if self.contains(sha) {
            UploadState::OnPhone
        } else {
            UploadState::Missing
        }
    }

    /// Expected against received for the blobs one document references
    /// ([`referenced_blobs`](crate::docs::referenced_blobs)): which the server holds and which
    /// it does not yet, so a case is never shown complete with a photo missing.
    pub fn progress(&self, expected: Vec<BlobUse>) -> PhotoProgress {
        let mut missing = Vec::new();
        let mut on_server = 0;
        for blob in &expected {
            match self.upload_state(&blob.sha256) {
                UploadState::OnServer => on_server += 1,
                state => missing.push((*blob, state)),
            }
        }
        PhotoProgress {
            expected,
            on_server,
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::BlobRole;

    #[test]
    fn stores_by_hash_atomically_and_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path()).unwrap();
        let sha = blobs.put(b"photo bytes").unwrap();
        assert_eq!(sha, EvidenceId::of(b"photo bytes"));
        assert_eq!(blobs.put(b"photo bytes").unwrap(), sha);
        assert_eq!(blobs.read(&sha).unwrap(), b"photo bytes");
        assert_eq!(blobs.size(&sha), Some(11));
        assert_eq!(blobs.read_at(&sha, 6, 3).unwrap(), b"byt");
        assert_eq!(blobs.read_at(&sha, 9, 100).unwrap(), b"es");
        assert!(blobs.verify(&sha).unwrap());
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );

        let other = EvidenceId::of(b"other");
        assert_eq!(blobs.read(&other), Err(BlobError::NotFound(other)));
        assert!(matches!(
            blobs.put_expecting(other, b"not other"),
            Err(BlobError::HashMismatch { .. })
        ));
        assert!(!blobs.contains(&other));
        blobs.put_expecting(other, b"other").unwrap();
        assert!(blobs.contains(&other));
    }

    #[test]
    fn a_damaged_copy_is_set_aside_and_repaired_by_storing_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path()).unwrap();
        let sha = blobs.put(b"original photo").unwrap();
        blobs.enqueue_upload(sha, 1).unwrap();
        let hex = sha.to_string();
        let path = dir.path().join("objects").join(&hex[..2]).join(&hex);
        fs::write(&path, b"original phot0").unwrap();
        assert!(!blobs.verify(&sha).unwrap());
        blobs.mark_damaged(&sha).unwrap();
        assert_eq!(blobs.upload_state(&sha), UploadState::Damaged);
        assert!(
            blobs.queued().unwrap().is_empty(),
            "not sent again and again"
        );
        // Same length, wrong bytes: storing the right bytes rewrites the file.
        assert_eq!(blobs.put(b"original photo").unwrap(), sha);
        assert!(blobs.verify(&sha).unwrap());
        assert_eq!(blobs.upload_state(&sha), UploadState::OnPhone);
        blobs.enqueue_upload(sha, 2).unwrap();
        assert_eq!(blobs.queued().unwrap().len(), 1);
    }

    #[test]
    fn queue_survives_reopening_and_tracks_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path()).unwrap();
        let a = blobs.put(b"a").unwrap();
        let b = blobs.put(b"b").unwrap();
        assert_eq!(
            blobs.enqueue_upload(EvidenceId::of(b"c"), 1),
            Err(BlobError::NotFound(EvidenceId::of(b"c")))
        );
        blobs.enqueue_upload(b, 20).unwrap();
        blobs.enqueue_upload(a, 10).unwrap();
        blobs.enqueue_upload(a, 30).unwrap();
        blobs.record_failure(&a, "network: timed out").unwrap();
        // A crash left a temporary file behind: reopening removes it, keeps the queue.
        fs::write(dir.path().join("tmp").join("half"), b"x").unwrap();
        drop(blobs);
        let blobs = BlobDir::open(dir.path()).unwrap();
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );
        let queued = blobs.queued().unwrap();
        assert_eq!(queued.iter().map(|q| q.sha256).collect::<Vec<_>>(), [a, b]);
        assert_eq!(queued[0].attempts, 1);
        assert_eq!(queued[0].last_error.as_deref(), Some("network: timed out"));

        blobs.mark_on_server(&a).unwrap();
        assert_eq!(blobs.upload_state(&a), UploadState::OnServer);
        assert_eq!(blobs.queued().unwrap().len(), 1);
        // Queueing a blob the server has does nothing.
        blobs.enqueue_upload(a, 40).unwrap();
        assert_eq!(blobs.queued().unwrap().len(), 1);

        let use_of = |sha, role| BlobUse {
            sha256: sha,
            role,
            byte_len: Some(1),
        };
        let missing_elsewhere = EvidenceId::of(b"taken on another phone");
        let progress = blobs.progress(vec![
            use_of(a, BlobRole::Original),
            use_of(b, BlobRole::EvidenceCopy),
            use_of(missing_elsewhere, BlobRole::Thumbnail),
        ]);
        assert!(!progress.is_complete());
        assert_eq!(progress.on_server, 1);
        assert_eq!(
            progress.missing,
            [
                (
                    use_of(b, BlobRole::EvidenceCopy),
                    UploadState::Queued {
                        attempts: 0,
                        last_error: None
                    }
                ),
                (
                    use_of(missing_elsewhere, BlobRole::Thumbnail),
                    UploadState::Missing
                )
            ]
        );
    }
}
