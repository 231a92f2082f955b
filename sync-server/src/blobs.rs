//! [`BlobStore`]: the photo blobs, content-addressed by SHA-256, with the document → blob
//! references that decide who may read them and how long they are kept.
//!
//! Documents hold only a photo's hash and metadata ([`zhichao_core::docs::referenced_blobs`]);
//! the bytes travel over HTTP (`/v1/blobs/{sha256}`, [`crate::routes::blobs`]), each original
//! and derivative as a blob of its own, uploaded in chunks that resume where they stopped.
//!
//! Layout under `<data_dir>/blobs/`:
//!
//! - `objects/<first 2 hex>/<sha256>`: complete blobs, verified against their name. A file
//!   appears there only by an atomic rename after its bytes hashed to the id and were fsynced
//!   (then the directory is fsynced too), so a complete blob is never partial.
//! - `partial/<sha256>`: uploads in progress. Each chunk is appended at the offset the
//!   server holds, fsynced, and only then is the new offset recorded (and flushed): the offset
//!   `HEAD` reports is always durable. Bytes past it (a crash between the write and the
//!   record) are cut off when the upload goes on.
//! - `meta/`: a sled database of its own (the change log's is private to it), trees
//!   `blob_refs` (key SHA-256 ‖ document id ‖ role → the document's kind and the size it
//!   declares), `blob_partial` (declared total, durable offset, last chunk time) and
//!   `blob_complete` (size, completion time) — times from the server's
//!   [`Clock`](crate::clock::Clock), so the sweeper can be tested with a moved clock.
//!
//! File names are always the re-formatted lower-hex id: nothing a client sends reaches a path.
//!
//! **References.** The sync driver calls [`BlobStore::record_refs`] for every batch of
//! accepted documents *before* it logs and stores them, and the save fails (is not
//! acknowledged; the phone pushes again) when the references cannot be recorded. A crash
//! between the two leaves a reference from a document whose changes were not stored: it grants
//! nothing to anyone who cannot read that document anyway (read access is decided from the
//! logged headers) and at worst keeps a blob from the sweeper. The other order could store a
//! document whose photo is then unreadable and swept as unreferenced. References are only
//! added: documents are never deleted.
//!
//! **Reading** a blob ([`BlobStore::may_read`]) needs a document that references it and that
//! the principal may read ([`access::can_read`] with the headers the change log keeps), and an
//! enterprise (or a source unit's system) never gets a blob that any case references as an
//! original — an officer's photo with its GPS and device data — even if a notice lists it.
//!
//! **Sweeping** ([`BlobStore::sweep`], run every `[blobs] sweep_interval_secs` by
//! [`sweep_loop`]): complete blobs no document references, completed longer than
//! `[blobs] unreferenced_ttl_hours` ago, and uploads untouched that long are removed.
//!
//! Concurrency: operations on one blob (a chunk, a sweep decision) hold one of
//! [`LOCK_STRIPES`] mutexes chosen by the hash, so two uploads of the same blob never
//! interleave; a sweep decision and the recording of references share one more short lock, so
//! a blob is never removed between the check that nothing references it and its removal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use automerge::Automerge;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zhichao_core::access::{self, Principal};
use zhichao_core::docs::{BlobRole, DocKind, referenced_blobs};
use zhichao_core::ids::{DocumentId, EvidenceId};

use crate::AppState;
use crate::changelog::{ChangeLog, ChangeLogError};
use crate::clock::millis;

/// Largest body of one `PUT` (a chunk), bytes: 8 MiB. Phones send 256 KiB to 1 MiB chunks; a
/// whole blob above this must be sent in chunks (`Content-Range`).
pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Number of per-blob locks (a blob's is chosen by its first hash byte).
pub const LOCK_STRIPES: usize = 64;

/// Why a blob operation failed (all server-side: answered 500).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// A file operation failed.
    #[error("blob storage: {0}")]
    Io(#[from] io::Error),
    /// The metadata database failed.
    #[error("blob metadata: {0}")]
    Sled(#[from] sled::Error),
    /// A metadata record does not decode.
    #[error("corrupt blob metadata: {0}")]
    Corrupt(String),
    /// The change log (document headers) failed.
    #[error(transparent)]
    Log(#[from] ChangeLogError),
}

/// Result alias of this module.
pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// What the server holds of one blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobStatus {
    /// Bytes held durably: 0 when nothing, the size when complete.
    pub offset: u64,
    /// The size declared by the upload's first chunk (the size itself once complete).
    pub total: Option<u64>,
    /// Complete and verified.
    pub complete: bool,
}

/// What [`BlobStore::put_chunk`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The chunk completed the blob, its hash matched, and it is now visible.
    Created {
        /// Its size.
        len: u64,
    },
    /// The blob was already complete: nothing written.
    AlreadyComplete {
        /// Its size.
        len: u64,
    },
    /// Stored; more is needed.
    Accepted {
        /// Bytes held now.
        offset: u64,
    },
    /// The chunk does not start at the bytes held (out of order or repeated): nothing written.
    OffsetMismatch {
        /// Bytes held.
        offset: u64,
    },
    /// The chunk declares another total than the upload's earlier chunks: nothing written.
    TotalMismatch {
        /// Bytes held.
        offset: u64,
        /// The total declared before.
        declared: u64,
    },
    /// The completed bytes do not hash to the id: the upload was discarded.
    HashMismatch,
}

/// One document's reference to a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// The document.
    pub doc: DocumentId,
    /// Its kind.
    pub kind: DocKind,
    /// What the blob is for it.
    pub role: BlobRole,
    /// The size it declares, if any.
    pub byte_len: Option<u64>,
}

/// What one [`BlobStore::sweep`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Complete blobs no document references.
    pub blobs_removed: u64,
    /// Unfinished uploads.
    pub partials_removed: u64,
    /// Bytes freed by both.
    pub bytes_freed: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PartialRecord {
    /// Declared by the first chunk (`None`: a file found without a record).
    total: Option<u64>,
    /// Bytes durably held.
    offset: u64,
    /// Last chunk stored (server clock, UTC ms).
    touched_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CompleteRecord {
    len: u64,
    /// Server clock, UTC ms (the first sweep that saw the file, if its record was lost).
    completed_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefRecord {
    kind: DocKind,
    byte_len: Option<u64>,
}

/// The blob store. Cheap to clone (shared).
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    objects: PathBuf,
    partial: PathBuf,
    db: sled::Db,
    refs: sled::Tree,
    partials: sled::Tree,
    completes: sled::Tree,
    stripes: Vec<Mutex<()>>,
    /// Held while references are inserted and while the sweeper decides on one blob.
    refs_gate: Mutex<()>,
    /// Remove `dir` when the last handle goes ([`BlobStore::temporary`]).
    temporary: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.temporary {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves nothing half-done that the next holder trusts: the
    // records are rewritten from the files' state.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlobStore {
    /// Opens (creating) the store in `dir` (`<data_dir>/blobs`).
    ///
    /// # Errors
    /// [`BlobError::Io`] when the directories cannot be created, [`BlobError::Sled`] when the
    /// metadata database cannot be opened (another process holds it).
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir.join("meta"))?;
        let db = sled::Config::new().path(dir.join("meta")).open()?;
        Self::assemble(dir.to_owned(), db, false)
    }

    /// A store in a fresh directory under the system's temporary directory, removed when the
    /// last handle is dropped, with its metadata in memory (router tests, simulations).
    ///
    /// # Errors
    /// As [`BlobStore::open`], or no system randomness for the directory name.
    pub fn temporary() -> Result<Self> {
        let mut bytes = [0u8; 8];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut bytes)
            .map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("zhichao-blobs-{name}"));
        let db = sled::Config::new().temporary(true).open()?;
        Self::assemble(dir, db, true)
    }

    fn assemble(dir: PathBuf, db: sled::Db, temporary: bool) -> Result<Self> {
        let objects = dir.join("objects");
        let partial = dir.join("partial");
        fs::create_dir_all(&objects)?;
        fs::create_dir_all(&partial)?;
        Ok(BlobStore {
            inner: Arc::new(Inner {
                refs: db.open_tree("blob_refs")?,
                partials: db.open_tree("blob_partial")?,
                completes: db.open_tree("blob_complete")?,
                db,
                dir,
                objects,
                partial,
                stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                refs_gate: Mutex::new(()),
                temporary,
            }),
        })
    }

    /// The store's directory (`objects/`, `partial/`, `meta/`).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Where a complete blob lives: `objects/<first 2 hex>/<sha256>`.
    pub fn object_path(&self, sha: &EvidenceId) -> PathBuf {
        let hex = sha.to_string();
        self.inner.objects.join(&hex[..2]).join(hex)
    }

    fn partial_path(&self, sha: &EvidenceId) -> PathBuf {
        self.inner.partial.join(sha.to_string())
    }

    fn lock_blob(&self, sha: &EvidenceId) -> MutexGuard<'_, ()> {
        lock(&self.inner.stripes[usize::from(sha.as_bytes()[0]) % LOCK_STRIPES])
    }

    fn partial_record(&self, sha: &EvidenceId) -> Result<Option<PartialRecord>> {
        self.inner
            .partials
            .get(sha.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn complete_record(&self, sha: &EvidenceId) -> Result<Option<CompleteRecord>> {
        self.inner
            .completes
            .get(sha.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// An upload's durable offset and declared total, from its record and its file: a record
    /// whose file is gone or shorter (it lost data) counts for nothing, and a file without a
    /// record (a crash before the first record) holds nothing: the upload starts over.
    fn upload_of(&self, sha: &EvidenceId) -> Result<Upload> {
        let record = self.partial_record(sha)?;
        let file = file_len(&self.partial_path(sha))?;
        Ok(match record {
            Some(r) if file.is_some_and(|len| len >= r.offset) => Upload {
                offset: r.offset,
                total: r.total,
                file,
            },
            _ => Upload {
                offset: 0,
                total: None,
                file,
            },
        })
    }

    /// What the server holds of `sha`: complete (with its size), or the durable offset of an
    /// upload in progress (0 when none).
    ///
    /// # Errors
    /// Storage errors.
    pub fn status(&self, sha: &EvidenceId) -> Result<BlobStatus> {
        if let Some(len) = file_len(&self.object_path(sha))? {
            return Ok(BlobStatus {
                offset: len,
                total: Some(len),
                complete: true,
            });
        }
        let upload = self.upload_of(sha)?;
        Ok(BlobStatus {
            offset: upload.offset,
            total: upload.total,
            complete: false,
        })
    }

    /// Appends `bytes` at `start` of the blob `sha` of `total` bytes, at `now_ms` (server
    /// clock). The chunk is taken only when `start` is the offset held and `total` the one
    /// declared before; the chunk that completes the blob is verified against `sha`, and the
    /// blob becomes visible atomically (fsync, rename, directory fsync) — or is discarded on a
    /// mismatch. The caller checks `total` against the size cap.
    ///
    /// # Errors
    /// Storage errors; [`BlobError::Io`] (`InvalidInput`) when the chunk is empty or ends past
    /// `total`.
    pub fn put_chunk(
        &self,
        sha: &EvidenceId,
        start: u64,
        total: u64,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<PutOutcome> {
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let end = start.checked_add(len).filter(|e| *e <= total && len > 0);
        let Some(end) = end else {
            return Err(
                io::Error::new(io::ErrorKind::InvalidInput, "chunk out of the blob").into(),
            );
        };
        let _blob = self.lock_blob(sha);
        if let Some(len) = file_len(&self.object_path(sha))? {
            return Ok(PutOutcome::AlreadyComplete { len });
        }
        let path = self.partial_path(sha);
        let Upload {
            offset,
            total: declared,
            file: existing,
        } = self.upload_of(sha)?;
        if let Some(declared) = declared
            && declared != total
        {
            return Ok(PutOutcome::TotalMismatch { offset, declared });
        }
        if start != offset {
            return Ok(PutOutcome::OffsetMismatch { offset });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // Bytes past the durable offset (a crash after a write, before its record) go.
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if existing.is_none() {
            sync_dir(&self.inner.partial)?;
        }
        if end < total {
            let record = PartialRecord {
                total: Some(total),
                offset: end,
                touched_ms: now_ms,
            };
            self.inner
                .partials
                .insert(sha.as_bytes(), encode(&record)?)?;
            self.inner.db.flush()?;
            return Ok(PutOutcome::Accepted { offset: end });
        }
        file.seek(SeekFrom::Start(0))?;
        let actual = hash_of(&mut file)?;
        drop(file);
        if actual != *sha {
            remove_if_present(&path)?;
            self.inner.partials.remove(sha.as_bytes())?;
            self.inner.db.flush()?;
            return Ok(PutOutcome::HashMismatch);
        }
        let object = self.object_path(sha);
        if let Some(shard) = object.parent()
            && !shard.is_dir()
        {
            fs::create_dir_all(shard)?;
            sync_dir(&self.inner.objects)?;
        }
        fs::rename(&path, &object)?;
        if let Some(shard) = object.parent() {
            sync_dir(shard)?;
        }
        sync_dir(&self.inner.partial)?;
        let record = CompleteRecord {
            len: total,
            completed_ms: now_ms,
        };
        self.inner
            .completes
            .insert(sha.as_bytes(), encode(&record)?)?;
        self.inner.partials.remove(sha.as_bytes())?;
        self.inner.db.flush()?;
        Ok(PutOutcome::Created { len: total })
    }

    /// Records the blobs each document references (`referenced_blobs` of its body: cases,
    /// notices, responses), adding only what is new, and flushes. Returns the number of
    /// references added. A body that does not read as its kind (the hub has checked it, so
    /// this should not happen) is logged and skipped.
    ///
    /// # Errors
    /// Storage errors; then nothing is recorded for the batch (the caller must not
    /// acknowledge the documents).
    pub fn record_refs(&self, docs: &[(DocumentId, DocKind, &Automerge)]) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut added = 0;
        for (doc, kind, body) in docs {
            if !matches!(kind, DocKind::Case | DocKind::Notice | DocKind::Response) {
                continue;
            }
            let uses = match referenced_blobs(*kind, body) {
                Ok(uses) => uses,
                Err(e) => {
                    tracing::error!(%doc, error = %e, "cannot read the photos a document references");
                    continue;
                }
            };
            for blob in uses {
                let key = ref_key(&blob.sha256, doc, blob.role);
                if self.inner.refs.contains_key(&key)? {
                    continue;
                }
                let record = RefRecord {
                    kind: *kind,
                    byte_len: blob.byte_len,
                };
                batch.insert(key, encode(&record)?);
                added += 1;
            }
        }
        if added > 0 {
            {
                let _gate = lock(&self.inner.refs_gate);
                self.inner.refs.apply_batch(batch)?;
            }
            self.inner.db.flush()?;
        }
        Ok(added)
    }

    /// Every recorded reference to `sha`.
    ///
    /// # Errors
    /// Storage errors, [`BlobError::Corrupt`].
    pub fn refs_of(&self, sha: &EvidenceId) -> Result<Vec<BlobRef>> {
        let mut out = Vec::new();
        for item in self.inner.refs.scan_prefix(sha.as_bytes()) {
            let (key, value) = item?;
            let corrupt = || BlobError::Corrupt("blob reference key".to_owned());
            let doc: [u8; 16] = key
                .get(32..48)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())?;
            let role = std::str::from_utf8(&key[48..])
                .ok()
                .and_then(BlobRole::parse)
                .ok_or_else(corrupt)?;
            let record: RefRecord = decode(&value)?;
            out.push(BlobRef {
                doc: DocumentId::from_bytes(doc),
                kind: record.kind,
                role,
                byte_len: record.byte_len,
            });
        }
        Ok(out)
    }

    /// May `principal` read the blob `sha`? Only through a document that references it and
    /// that the principal may read (headers from `log`), and never, for an enterprise or a
    /// source unit's system, a blob some case references as an original. Says nothing about
    /// whether the blob is complete.
    ///
    /// # Errors
    /// Storage errors of the store or the log.
    pub fn may_read(
        &self,
        log: &ChangeLog,
        principal: &Principal,
        sha: &EvidenceId,
    ) -> Result<bool> {
        let refs = self.refs_of(sha)?;
        let outside_the_state = matches!(
            principal,
            Principal::Enterprise { .. } | Principal::SourceUnitSystem { .. }
        );
        if outside_the_state
            && refs
                .iter()
                .any(|r| r.role == BlobRole::Original && r.kind == DocKind::Case)
        {
            return Ok(false);
        }
        let mut docs: Vec<DocumentId> = refs.iter().map(|r| r.doc).collect();
        docs.sort();
        docs.dedup();
        for doc in docs {
            if let Some((header, ancestors)) = log.header_chain(&doc)?
                && access::can_read(principal, &header, &ancestors)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes complete blobs that no document references and that were completed at least
    /// `ttl` before `now_ms`, and uploads whose last chunk is at least `ttl` old. Files found
    /// without a record (a crash between a rename and its record) are given one dated
    /// `now_ms`; records without files are dropped.
    ///
    /// # Errors
    /// Storage errors (what was removed before stays removed).
    pub fn sweep(&self, now_ms: u64, ttl: Duration) -> Result<SweepReport> {
        let ttl_ms = millis(ttl);
        let stale = |at: u64| now_ms.saturating_sub(at) >= ttl_ms;
        let mut report = SweepReport::default();
        let inner = &*self.inner;
        for (sha, path) in list_blobs(&inner.objects, true)? {
            let _blob = self.lock_blob(&sha);
            let Some(len) = file_len(&path)? else {
                continue;
            };
            let Some(record) = self.complete_record(&sha)? else {
                let record = CompleteRecord {
                    len,
                    completed_ms: now_ms,
                };
                inner.completes.insert(sha.as_bytes(), encode(&record)?)?;
                continue;
            };
            if !stale(record.completed_ms) {
                continue;
            }
            let _gate = lock(&inner.refs_gate);
            if inner.refs.scan_prefix(sha.as_bytes()).next().is_some() {
                continue;
            }
            remove_if_present(&path)?;
            inner.completes.remove(sha.as_bytes())?;
            report.blobs_removed += 1;
            report.bytes_freed += len;
        }
        for (sha, path) in list_blobs(&inner.partial, false)? {
            let _blob = self.lock_blob(&sha);
            let Some(len) = file_len(&path)? else {
                continue;
            };
            match self.partial_record(&sha)? {
                None => {
                    let record = PartialRecord {
                        total: None,
                        offset: 0,
                        touched_ms: now_ms,
                    };
                    inner.partials.insert(sha.as_bytes(), encode(&record)?)?;
                }
                Some(record) if stale(record.touched_ms) => {
                    remove_if_present(&path)?;
                    inner.partials.remove(sha.as_bytes())?;
                    report.partials_removed += 1;
                    report.bytes_freed += len;
                }
                Some(_) => {}
            }
        }
        for (tree, complete) in [(&inner.completes, true), (&inner.partials, false)] {
            let keys: Vec<sled::IVec> = tree.iter().keys().collect::<Result<_, _>>()?;
            for key in keys {
                let Ok(bytes) = <[u8; 32]>::try_from(key.as_ref()) else {
                    tree.remove(&key)?;
                    continue;
                };
                let sha = EvidenceId::from_digest(bytes);
                let _blob = self.lock_blob(&sha);
                let path = if complete {
                    self.object_path(&sha)
                } else {
                    self.partial_path(&sha)
                };
                if file_len(&path)?.is_none() {
                    tree.remove(&key)?;
                }
            }
        }
        inner.db.flush()?;
        Ok(report)
    }
}

/// Runs [`BlobStore::sweep`] of the state's store now and every `[blobs] sweep_interval_secs`
/// until the server shuts down (started by [`crate::serve`]).
pub async fn sweep_loop(state: AppState) {
    let mut stop = std::pin::pin!(state.shutdown_signal());
    loop {
        let store = state.blobs.clone();
        let (now_ms, ttl) = (state.now_ms(), state.config.blobs.unreferenced_ttl);
        match tokio::task::spawn_blocking(move || store.sweep(now_ms, ttl)).await {
            Ok(Ok(r)) if r == SweepReport::default() => {}
            Ok(Ok(r)) => tracing::info!(
                blobs = r.blobs_removed,
                uploads = r.partials_removed,
                bytes = r.bytes_freed,
                "swept unreferenced photo blobs"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "sweeping photo blobs failed"),
            Err(e) => tracing::warn!(error = %e, "the blob sweep did not finish"),
        }
        tokio::select! {
            () = tokio::time::sleep(state.config.blobs.sweep_interval) => {}
            () = &mut stop => return,
        }
    }
}

/// Reads the first bytes of a complete blob and names its type: `image/jpeg`, `image/png`,
/// `image/heic` (or `image/heif` for other HEIF brands), else `application/octet-stream`.
///
/// # Errors
/// The file cannot be read.
pub fn content_type_of(path: &Path) -> io::Result<&'static str> {
    let mut head = [0u8; 12];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(sniff(&head[..read]))
}

/// The media type of a blob from its first bytes (see [`content_type_of`]).
pub fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(&[0xff, 0xd8, 0xff]) {
        return "image/jpeg";
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return "image/png";
    }
    if head.get(4..8) == Some(b"ftyp") {
        match head.get(8..12) {
            Some(b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis") => {
                return "image/heic";
            }
            Some(b"mif1" | b"msf1") => return "image/heif",
            _ => {}
        }
    }
    "application/octet-stream"
}

/// A blob id from a request path segment: exactly 64 ASCII hex digits, either case.
pub fn parse_blob_id(text: &str) -> Option<EvidenceId> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    EvidenceId::parse(text).ok()
}

/// The blobs in `dir` (`objects/`, sharded, or `partial/`, flat), by their file names: only
/// names that are a lower-hex id (in the right shard) count; anything else is left alone.
fn list_blobs(dir: &Path, sharded: bool) -> Result<Vec<(EvidenceId, PathBuf)>> {
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    if sharded {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push((entry.path(), entry.file_name().to_str().map(str::to_owned)));
            }
        }
    } else {
        dirs.push((dir.to_owned(), None));
    }
    for (dir, shard) in dirs {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(sha) = name.to_str().and_then(parse_blob_id) else {
                continue;
            };
            let canonical = sha.to_string();
            if name.to_str() != Some(canonical.as_str())
                || shard
                    .as_ref()
                    .is_some_and(|s| !canonical.starts_with(s.as_str()))
                || !entry.file_type()?.is_file()
            {
                continue;
            }
            out.push((sha, entry.path()));
        }
    }
    Ok(out)
}

/// An upload in progress as far as it counts (see [`BlobStore::upload_of`]).
struct Upload {
    /// Bytes durably held.
    offset: u64,
    /// The total its first chunk declared.
    total: Option<u64>,
    /// The partial file's length, if there is one.
    file: Option<u64>,
}

fn ref_key(sha: &EvidenceId, doc: &DocumentId, role: BlobRole) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + 16 + 16);
    key.extend_from_slice(sha.as_bytes());
    key.extend_from_slice(doc.as_bytes());
    key.extend_from_slice(role.as_str().as_bytes());
    key
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| BlobError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| BlobError::Corrupt(e.to_string()))
}

/// The size of a regular file, `None` when there is none.
fn file_len(path: &Path) -> io::Result<Option<u64>> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn hash_of(reader: &mut impl Read) -> io::Result<EvidenceId> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        match reader.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(EvidenceId::from_digest(hasher.finalize().into()))
}

/// Makes a directory's entries durable (a created or renamed file survives a crash).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::docs::{Case, DerivativeRef, EvidenceRef, PhotoDerivatives, TypedDoc};
    use zhichao_core::fixtures::{case, pid};

    const HOUR_MS: u64 = 3_600_000;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        let mut out = vec![0xff, 0xd8, 0xff, 0xe0];
        out.extend((0..n).map(|i| u8::try_from(i % 251).unwrap() ^ seed));
        out
    }

    #[test]
    fn sniffs_images() {
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe1, 0, 0]), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), "image/heic");
        assert_eq!(sniff(b"\0\0\0\x18ftypmif1\0\0\0\0"), "image/heif");
        assert_eq!(sniff(b"\0\0\0\x18ftypisom"), "application/octet-stream");
        assert_eq!(sniff(b"<svg"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }

    #[test]
    fn blob_ids_are_exactly_64_hex_digits() {
        let sha = EvidenceId::of(b"x");
        let lower = sha.to_string();
        assert_eq!(parse_blob_id(&lower), Some(sha));
        assert_eq!(parse_blob_id(&lower.to_uppercase()), Some(sha));
        for bad in [
            &lower[..63],
            &format!("{lower}0"),
            &format!(" {}", &lower[1..]),
            &format!("+{}", &lower[1..]),
            &format!("../{}", &lower[3..]),
            "",
        ] {
            assert_eq!(parse_blob_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn chunks_append_in_order_and_the_blob_appears_whole() {
        let store = BlobStore::temporary().unwrap();
        let data = bytes(1000, 1);
        let sha = EvidenceId::of(&data);
        let total = data.len() as u64;
        let status = store.status(&sha).unwrap();
        assert_eq!((status.offset, status.complete), (0, false));
        assert_eq!(
            store.put_chunk(&sha, 0, total, &data[..400], 1).unwrap(),
            PutOutcome::Accepted { offset: 400 }
        );
        // Repeated, skipping ahead, another total: refused, nothing written.
        assert_eq!(
            store.put_chunk(&sha, 0, total, &data[..400], 2).unwrap(),
            PutOutcome::OffsetMismatch { offset: 400 }
        );
        assert_eq!(
            store.put_chunk(&sha, 800, total, &data[800..], 2).unwrap(),
            PutOutcome::OffsetMismatch { offset: 400 }
        );
        assert_eq!(
            store
                .put_chunk(&sha, 400, total + 1, &data[400..800], 2)
                .unwrap(),
            PutOutcome::TotalMismatch {
                offset: 400,
                declared: total
            }
        );
        assert!(
            !store.object_path(&sha).exists(),
            "nothing visible before the end"
        );
        assert_eq!(
            store.put_chunk(&sha, 400, total, &data[400..], 2).unwrap(),
            PutOutcome::Created { len: total }
        );
        let status = store.status(&sha).unwrap();
        assert_eq!((status.offset, status.complete), (total, true));
        assert_eq!(fs::read(store.object_path(&sha)).unwrap(), data);
        assert!(!store.partial_path(&sha).exists());
        assert_eq!(
            store.put_chunk(&sha, 0, total, &data, 3).unwrap(),
            PutOutcome::AlreadyComplete { len: total }
        );
        assert!(
            store.put_chunk(&sha, 0, 3, b"abcd", 3).is_err(),
            "past the total"
        );
        assert!(store.put_chunk(&sha, 0, 3, b"", 3).is_err(), "empty");
    }

    #[test]
    fn a_mismatch_discards_the_upload() {
        let store = BlobStore::temporary().unwrap();
        let data = bytes(100, 2);
        let sha = EvidenceId::of(b"something else");
        assert_eq!(
            store.put_chunk(&sha, 0, 104, &data[..50], 1).unwrap(),
            PutOutcome::Accepted { offset: 50 }
        );
        assert_eq!(
            store.put_chunk(&sha, 50, 104, &data[50..], 1).unwrap(),
            PutOutcome::HashMismatch
        );
        assert_eq!(store.status(&sha).unwrap().offset, 0);
        assert!(!store.object_path(&sha).exists());
        assert!(!store.partial_path(&sha).exists());
    }

    #[test]
    fn a_crash_mid_upload_resumes_from_the_durable_offset() {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(3000, 3);
        let sha = EvidenceId::of(&data);
        let total = data.len() as u64;
        {
            let store = BlobStore::open(dir.path()).unwrap();
            store.put_chunk(&sha, 0, total, &data[..1000], 1).unwrap();
            // A write that reached the file but not its record (the process died between).
            let mut file = OpenOptions::new()
                .append(true)
                .open(store.partial_path(&sha))
                .unwrap();
            file.write_all(&[0u8; 500]).unwrap();
        }
        let store = BlobStore::open(dir.path()).unwrap();
        assert_eq!(store.status(&sha).unwrap().offset, 1000);
        assert_eq!(
            store
                .put_chunk(&sha, 1000, total, &data[1000..], 2)
                .unwrap(),
            PutOutcome::Created { len: total }
        );
        assert_eq!(fs::read(store.object_path(&sha)).unwrap(), data);

        // A partial file without any record (died before the first record): start over.
        let other = bytes(10, 4);
        let other_sha = EvidenceId::of(&other);
        fs::write(store.partial_path(&other_sha), &other[..5]).unwrap();
        assert_eq!(store.status(&other_sha).unwrap().offset, 0);
        assert_eq!(
            store.put_chunk(&other_sha, 0, 14, &other, 3).unwrap(),
            PutOutcome::Created { len: 14 }
        );
    }

    fn derivative(n: u8) -> DerivativeRef {
        DerivativeRef {
            sha256: EvidenceId::from_digest([n; 32]),
            byte_len: 10,
            width: 4,
            height: 3,
        }
    }

    fn photo(original: EvidenceId) -> EvidenceRef {
        EvidenceRef {
            sha256: original,
            caption: "车牌".to_owned(),
            captured_at_ms: None,
            gps: None,
            taken_by: pid("officer:wang"),
            format: Some("jpeg".to_owned()),
            byte_len: Some(104),
            width: Some(4),
            height: Some(3),
            derivatives: Some(PhotoDerivatives {
                evidence_copy: derivative(1),
                thumbnail: derivative(2),
            }),
        }
    }

    #[allow(clippy::result_large_err)] // the closure's error type is `TypedDoc::update`'s
    fn case_with(seed: u64, photo: EvidenceRef) -> TypedDoc<Case> {
        let mut doc = case(seed, "officer:wang", "team-1");
        doc.update(&pid("officer:wang"), 0, |c| {
            c.evidence.push(photo);
            Ok(())
        })
        .unwrap();
        doc
    }

    #[test]
    fn references_are_recorded_once_with_their_roles() {
        let store = BlobStore::temporary().unwrap();
        let original = EvidenceId::of(b"original");
        let doc = case_with(1, photo(original));
        let batch = [(doc.id(), DocKind::Case, doc.automerge())];
        assert_eq!(store.record_refs(&batch).unwrap(), 3);
        assert_eq!(store.record_refs(&batch).unwrap(), 0, "idempotent");
        let refs = store.refs_of(&original).unwrap();
        assert_eq!(
            refs,
            [BlobRef {
                doc: doc.id(),
                kind: DocKind::Case,
                role: BlobRole::Original,
                byte_len: Some(104),
            }]
        );
        let copy = store.refs_of(&derivative(1).sha256).unwrap();
        assert_eq!(copy[0].role, BlobRole::EvidenceCopy);
        assert!(store.refs_of(&EvidenceId::of(b"none")).unwrap().is_empty());
        // Kinds without photos are not even read.
        let rules = [(doc.id(), DocKind::Rules, doc.automerge())];
        assert_eq!(store.record_refs(&rules).unwrap(), 0);
    }

    #[test]
    fn the_sweep_removes_what_nothing_references_after_the_ttl() {
        let store = BlobStore::temporary().unwrap();
        let ttl = Duration::from_secs(72 * 3_600);
        let t0 = 1_000 * HOUR_MS;
        let kept = bytes(20, 5);
        let kept_sha = EvidenceId::of(&kept);
        let lone = bytes(20, 6);
        let lone_sha = EvidenceId::of(&lone);
        let unfinished = bytes(20, 7);
        let unfinished_sha = EvidenceId::of(&unfinished);
        store.put_chunk(&kept_sha, 0, 24, &kept, t0).unwrap();
        store.put_chunk(&lone_sha, 0, 24, &lone, t0).unwrap();
        store
            .put_chunk(&unfinished_sha, 0, 24, &unfinished[..10], t0)
            .unwrap();
        let doc = case_with(2, photo(kept_sha));
        store
            .record_refs(&[(doc.id(), DocKind::Case, doc.automerge())])
            .unwrap();
        // Not yet.
        let report = store.sweep(t0 + 71 * HOUR_MS, ttl).unwrap();
        assert_eq!(report, SweepReport::default());
        let report = store.sweep(t0 + 72 * HOUR_MS, ttl).unwrap();
        assert_eq!(
            report,
            SweepReport {
                blobs_removed: 1,
                partials_removed: 1,
                bytes_freed: 24 + 10,
            }
        );
        assert!(store.status(&kept_sha).unwrap().complete);
        assert_eq!(store.status(&lone_sha).unwrap().offset, 0);
        assert_eq!(store.status(&unfinished_sha).unwrap().offset, 0);
        assert!(!store.partial_path(&unfinished_sha).exists());

        // A file without a record (a crash after the rename) is dated by the first sweep.
        let stray = bytes(20, 8);
        let stray_sha = EvidenceId::of(&stray);
        let path = store.object_path(&stray_sha);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &stray).unwrap();
        fs::write(store.dir().join("objects").join("not-a-blob"), b"x").unwrap();
        let t1 = t0 + 100 * HOUR_MS;
        assert_eq!(store.sweep(t1, ttl).unwrap(), SweepReport::default());
        assert!(path.exists());
        assert_eq!(
            store.sweep(t1 + 72 * HOUR_MS, ttl).unwrap().blobs_removed,
            1
        );
        assert!(!path.exists());
        assert!(store.dir().join("objects").join("not-a-blob").exists());
    }
}
