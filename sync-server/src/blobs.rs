//! [`BlobStore`]: the photo blobs, content-addressed by SHA-256, with the document → blob
//! references and the uploaders that decide who may read them and how long they are kept.
//!
//! Documents hold only a photo's hash and metadata ([`zhichao_core::docs::referenced_blobs`]);
//! the bytes travel over HTTP (`/v1/blobs/{sha256}`, [`crate::routes::blobs`]), each original
//! and derivative as a blob of its own, uploaded in chunks that resume where they stopped.
//!
//! **Who may read a blob** ([`BlobStore::may_read`]). A hash is not a secret: it is in every
//! document that references the photo, and anyone may list any hash in a document of their
//! own. So a reference grants nothing by itself; the server records who *uploaded* each blob
//! (the uploader's [`Principal`], as it was when the upload completed) and:
//!
//! - a document that references a blob grants read access to those who may read the document
//!   ([`access::can_read`] with the headers the change log keeps) **only if the reference is
//!   vouched for**: a principal whose change introduced it — the hub compares each peer
//!   message's and each write's references before and after
//!   ([`Hub::unsaved_blob_refs`](zhichao_core::sync::Hub::unsaved_blob_refs)), so whoever
//!   else's changes ride on the same save does not count — uploaded the blob, or could read
//!   it through a reference vouched for already (up to [`MAX_ADDERS`] adders are kept).
//!   Officer Wang uploads a photo → his team's case lists it (added by Wang) → his teammates,
//!   the county's other officers and its supervisors read the photo. His teammate Li issues a
//!   notice listing its evidence copy: Li did not upload it but reads it through the case →
//!   the addressed enterprise reads the copy. An enterprise's response lists its own uploads →
//!   the officers who read the response read them. A hash learned elsewhere and listed in
//!   one's own document — an officer of another county's case, an enterprise's response
//!   listing an officer's other photo, a foreign notice listing an enterprise's photo — is
//!   vouched for by nobody and grants nothing, even where an uploader could read that
//!   document (found by the second breaker round; the third showed that crediting a save's
//!   last principal let a reference ride on a teammate's save, and lost an uploader's own);
//! - an enterprise (or a source unit's system) never gets a blob that any case references as
//!   an original — an officer's photo with its GPS and device data — even if a notice lists
//!   it;
//! - an uploader is recorded when its upload completes and the bytes hash to the id, and also
//!   when a principal uploads the bytes of a blob the server already holds (proof of
//!   possession: nothing is stored again, the principal is added as an uploader).
//!
//! **Uploads in progress belong to their uploader**: one partial upload per (blob, uploading
//! principal id), so nobody can block or spoil someone else's upload of the same blob (a
//! declared total, garbage bytes). `HEAD` ([`BlobStore::status`]) tells a principal that a
//! blob is complete only if it may read the blob or uploaded it; anyone else sees their own
//! upload's offset (0 when none), so `HEAD` is no oracle for a hash's existence, and such a
//! principal uploads the bytes to become an uploader.
//!
//! Layout under `<data_dir>/blobs/`:
//!
//! - `objects/<first 2 hex>/<sha256>`: complete blobs, verified against their name. A file
//!   appears there only by an atomic rename after its bytes hashed to the id and were fsynced
//!   (then the directory is fsynced too), so a complete blob is never partial.
//! - `partial/<sha256>.<owner>`: uploads in progress, `<owner>` the lower-hex SHA-256 of the
//!   uploading principal's id (fixed length, nothing a client chose). Each chunk is appended
//!   at the offset the server holds, fsynced, and only then is the new offset recorded (and
//!   flushed): the offset `HEAD` reports is always durable. Bytes past it (a crash between the
//!   write and the record) are cut off when the upload goes on. A `partial/<sha256>` without
//!   owner is an upload from before (store format 1): never resumed nor reported, swept like
//!   any upload untouched for the TTL.
//! - `meta/`: a sled database of its own (the change log's is private to it), trees
//!   `blob_refs` (key SHA-256 ‖ document id ‖ role → the document's kind, the size it
//!   declares, who added it, and `legacy` for references recorded before uploaders were), `blob_partial`
//!   (key SHA-256 ‖ owner → declared total, durable offset, last chunk time; a 32-byte key is
//!   a format-1 upload), `blob_complete` (size, completion time), `blob_uploaders` (key
//!   SHA-256 ‖ SHA-256 of the principal's JSON → the [`Principal`] as JSON) and `blob_format`
//!   (`format` → 2) — times from the server's [`Clock`](crate::clock::Clock), so the sweeper
//!   can be tested with a moved clock.
//!
//! **Upgrading a format-1 store** (no uploaders recorded): on open, every reference already
//! recorded is marked `legacy`, and a legacy reference is vouched for by its document's
//! creator, rebuilt as a principal from its header (an officer of the header's team and
//! scope, an enterprise of its unit). Access through the documents of that time is kept as it
//! was (so is any access a foreign reference already had), and a later document — a notice
//! listing an old evidence copy — grants when its adder could read the blob through one. A
//! blob complete before the upgrade that no document referenced then has no uploader: it
//! grants nothing until someone uploads its bytes again.
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
//! **Sweeping** ([`BlobStore::sweep`], run every `[blobs] sweep_interval_secs` by
//! [`sweep_loop`]): complete blobs no document references, completed longer than
//! `[blobs] unreferenced_ttl_hours` ago (with their uploaders), and uploads untouched that
//! long (anyone's, and those of format 1) are removed.
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

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zhichao_core::access::{self, Principal};
use zhichao_core::docs::{BlobRole, BlobUse, DocKind, Header};
use zhichao_core::ids::{DocumentId, EvidenceId, PrincipalId};

use crate::AppState;
use crate::changelog::{ChangeLog, ChangeLogError};
use crate::clock::millis;

/// Largest body of one `PUT` (a chunk), bytes: 8 MiB. Phones send 256 KiB to 1 MiB chunks; a
/// whole blob above this must be sent in chunks (`Content-Range`).
pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Number of per-blob locks (a blob's is chosen by its first hash byte).
pub const LOCK_STRIPES: usize = 64;

/// Most principals kept as having introduced one reference (two officers adding the same
/// photo concurrently, a photo removed and added back).
pub const MAX_ADDERS: usize = 8;

/// The metadata format this code writes: 2 = uploaders recorded, uploads per principal.
pub const STORE_FORMAT: u64 = 2;

const FORMAT_KEY: &[u8] = b"format";

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

/// What the server holds of one blob, as shown to one principal ([`BlobStore::status`]): the
/// complete blob, or that principal's own upload in progress.
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
    /// The chunk completed the uploader's own upload of a blob the server already held, and
    /// its hash matched: the upload was discarded and the principal added as an uploader
    /// (proof of possession).
    Proven {
        /// Its size.
        len: u64,
    },
    /// The blob was already complete and the principal is one of its uploaders: nothing
    /// written.
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// The document.
    pub doc: DocumentId,
    /// Its kind.
    pub kind: DocKind,
    /// What the blob is for it.
    pub role: BlobRole,
    /// The size it declares, if any.
    pub byte_len: Option<u64>,
    /// Whose accepted changes introduced the reference (empty for `legacy` ones).
    pub added_by: Vec<Principal>,
    /// Recorded before uploaders were (store format 1): the document's creator counts as an
    /// uploader of the blob.
    pub legacy: bool,
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
    /// Whose accepted changes introduced the reference (at most [`MAX_ADDERS`]; empty in
    /// records written before this was kept: those are `legacy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    added_by: Vec<Principal>,
    /// Recorded before the upgrade to format 2 (see the module documentation).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    legacy: bool,
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
    uploaders: sled::Tree,
    format: sled::Tree,
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
        let db = zhichao_core::store::open_sled(&sled::Config::new().path(dir.join("meta")))?;
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
        let store = BlobStore {
            inner: Arc::new(Inner {
                refs: db.open_tree("blob_refs")?,
                partials: db.open_tree("blob_partial")?,
                completes: db.open_tree("blob_complete")?,
                uploaders: db.open_tree("blob_uploaders")?,
                format: db.open_tree("blob_format")?,
                db,
                dir,
                objects,
                partial,
                stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                refs_gate: Mutex::new(()),
                temporary,
            }),
        };
        store.upgrade()?;
        Ok(store)
    }

    /// Brings a format-1 store (no uploaders, no format record) to format 2: every reference
    /// recorded so far is marked `legacy` (see the module documentation), then the format is
    /// recorded. Runs before the store serves anything; a crash midway runs it again.
    fn upgrade(&self) -> Result<()> {
        let inner = &*self.inner;
        if inner.format.get(FORMAT_KEY)?.is_some() {
            return Ok(());
        }
        let mut marked = 0u64;
        for item in inner.refs.iter() {
            let (key, value) = item?;
            let mut record: RefRecord = decode(&value)?;
            if !record.legacy {
                record.legacy = true;
                inner.refs.insert(key, encode(&record)?)?;
                marked += 1;
            }
        }
        inner
            .format
            .insert(FORMAT_KEY, &STORE_FORMAT.to_be_bytes())?;
        inner.db.flush()?;
        if marked > 0 {
            tracing::info!(
                references = marked,
                "blob store upgraded to format 2: earlier references keep their access"
            );
        }
        Ok(())
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

    fn partial_path(&self, key: &PartialKey) -> PathBuf {
        self.inner.partial.join(key.file_name())
    }

    fn lock_blob(&self, sha: &EvidenceId) -> MutexGuard<'_, ()> {
        lock(&self.inner.stripes[usize::from(sha.as_bytes()[0]) % LOCK_STRIPES])
    }

    fn partial_record(&self, key: &PartialKey) -> Result<Option<PartialRecord>> {
        self.inner
            .partials
            .get(key.record_key())?
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
    fn upload_of(&self, key: &PartialKey) -> Result<Upload> {
        let record = self.partial_record(key)?;
        let file = file_len(&self.partial_path(key))?;
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

    /// The size of the complete blob `sha`, `None` when the server does not hold it whole.
    /// Says nothing about who may know it.
    ///
    /// # Errors
    /// Storage errors.
    pub fn object_len(&self, sha: &EvidenceId) -> Result<Option<u64>> {
        Ok(file_len(&self.object_path(sha))?)
    }

    /// The upload of `sha` in progress by the principal `uploader`: its durable offset (0
    /// when none) and declared total; never complete.
    ///
    /// # Errors
    /// Storage errors.
    pub fn upload_status(&self, sha: &EvidenceId, uploader: &PrincipalId) -> Result<BlobStatus> {
        let upload = self.upload_of(&PartialKey::owned(sha, uploader))?;
        Ok(BlobStatus {
            offset: upload.offset,
            total: upload.total,
            complete: false,
        })
    }

    /// What `principal` is told of `sha` (`HEAD`, and the checks of `PUT` before its body):
    /// complete with its size when the blob is complete and the principal uploaded it or may
    /// read it ([`BlobStore::may_read`]); otherwise the principal's own upload in progress
    /// ([`BlobStore::upload_status`]), so nobody learns from it whether a hash is stored.
    ///
    /// # Errors
    /// Storage errors of the store or the log.
    pub fn status(
        &self,
        log: &ChangeLog,
        principal: &Principal,
        sha: &EvidenceId,
    ) -> Result<BlobStatus> {
        if let Some(len) = self.object_len(sha)?
            && (self.is_uploader(sha, principal.id())? || self.may_read(log, principal, sha)?)
        {
            return Ok(BlobStatus {
                offset: len,
                total: Some(len),
                complete: true,
            });
        }
        self.upload_status(sha, principal.id())
    }

    /// The principals recorded as uploaders of `sha` (see the module documentation).
    ///
    /// # Errors
    /// Storage errors, [`BlobError::Corrupt`].
    pub fn uploaders_of(&self, sha: &EvidenceId) -> Result<Vec<Principal>> {
        self.inner
            .uploaders
            .scan_prefix(sha.as_bytes())
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    /// Is the account `id` one of the uploaders of `sha` (as whatever principal it was)?
    ///
    /// # Errors
    /// As [`BlobStore::uploaders_of`].
    pub fn is_uploader(&self, sha: &EvidenceId, id: &PrincipalId) -> Result<bool> {
        Ok(self.uploaders_of(sha)?.iter().any(|p| p.id() == id))
    }

    /// Records `principal` as an uploader of `sha` (not flushed: the caller flushes).
    fn add_uploader(&self, sha: &EvidenceId, principal: &Principal) -> Result<()> {
        let value = encode(principal)?;
        let mut key = Vec::with_capacity(64);
        key.extend_from_slice(sha.as_bytes());
        key.extend_from_slice(EvidenceId::of(&value).as_bytes());
        self.inner.uploaders.insert(key, value)?;
        Ok(())
    }

    /// Appends `bytes` at `start` of `uploader`'s own upload of the blob `sha` of `total`
    /// bytes, at `now_ms` (server clock). The chunk is taken only when `start` is the offset
    /// that upload holds and `total` the one it declared before — except that a chunk at 0
    /// with another total starts the upload over. The chunk that completes the upload is
    /// verified against `sha`: on a mismatch the upload is discarded; on a match the blob
    /// becomes visible atomically (fsync, rename, directory fsync) and `uploader` is recorded
    /// as its uploader — or, when the server held it already, the upload is discarded and
    /// `uploader` added as an uploader (proof of possession). A blob the server holds and
    /// `uploader` uploaded before is not written again. The caller checks `total` against the
    /// size cap.
    ///
    /// # Errors
    /// Storage errors; [`BlobError::Io`] (`InvalidInput`) when the chunk is empty or ends past
    /// `total`.
    pub fn put_chunk(
        &self,
        sha: &EvidenceId,
        uploader: &Principal,
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
        let held = self.object_len(sha)?;
        if let Some(len) = held
            && self.is_uploader(sha, uploader.id())?
        {
            return Ok(PutOutcome::AlreadyComplete { len });
        }
        let key = PartialKey::owned(sha, uploader.id());
        let path = self.partial_path(&key);
        let Upload {
            mut offset,
            total: declared,
            file: existing,
        } = self.upload_of(&key)?;
        if let Some(declared) = declared
            && declared != total
        {
            if start != 0 {
                return Ok(PutOutcome::TotalMismatch { offset, declared });
            }
            // The uploader declared another size before: its upload starts over.
            offset = 0;
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
                .insert(key.record_key(), encode(&record)?)?;
            self.inner.db.flush()?;
            return Ok(PutOutcome::Accepted { offset: end });
        }
        file.seek(SeekFrom::Start(0))?;
        let actual = hash_of(&mut file)?;
        drop(file);
        if actual != *sha {
            remove_if_present(&path)?;
            self.inner.partials.remove(key.record_key())?;
            self.inner.db.flush()?;
            return Ok(PutOutcome::HashMismatch);
        }
        if let Some(len) = held {
            // Proof of possession: the server has these bytes already.
            remove_if_present(&path)?;
            self.add_uploader(sha, uploader)?;
            self.inner.partials.remove(key.record_key())?;
            self.inner.db.flush()?;
            return Ok(PutOutcome::Proven { len });
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
        self.add_uploader(sha, uploader)?;
        self.inner.partials.remove(key.record_key())?;
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
    pub fn record_refs(&self, refs: &[(DocumentId, DocKind, BlobUse, Principal)]) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut added = 0;
        for (doc, kind, blob, adder) in refs {
            let key = ref_key(&blob.sha256, doc, blob.role);
            let record = match self.inner.refs.get(&key)? {
                Some(stored) => {
                    let mut record: RefRecord = decode(&stored)?;
                    if record.added_by.iter().any(|p| p.id() == adder.id())
                        || record.added_by.len() >= MAX_ADDERS
                    {
                        continue;
                    }
                    record.added_by.push(adder.clone());
                    record
                }
                None => RefRecord {
                    kind: *kind,
                    byte_len: blob.byte_len,
                    added_by: vec![adder.clone()],
                    legacy: false,
                },
            };
            batch.insert(key, encode(&record)?);
            added += 1;
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
                added_by: record.added_by,
                legacy: record.legacy,
            });
        }
        Ok(out)
    }

    /// May `principal` read the blob `sha`? Only through a document that references it, that
    /// the principal may read, and whose reference is *vouched for*: introduced by a change of
    /// an uploader of the blob, or of someone who could read the blob through a vouched-for
    /// reference (headers from `log`; for a `legacy` reference
    /// its document's creator stands in for the adder). Never, for an enterprise or a source
    /// unit's system, a blob some case references as an original. Says nothing about whether
    /// the blob is complete.
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
        if refs.is_empty() {
            return Ok(false);
        }
        let outside_the_state = matches!(
            principal,
            Principal::Enterprise { .. } | Principal::SourceUnitSystem { .. }
        );
        // A reference grants read access only when it is vouched for: added by an uploader
        // of the blob, or by someone who could read the blob through a reference vouched for
        // already (a teammate's notice listing the case's photos). A hash learned elsewhere
        // and listed in one's own document is vouched for by nobody. Legacy references
        // (recorded before adders were kept) count their document's creator as an uploader.
        let uploaders = self.uploaders_of(sha)?;
        let mut chains = Vec::with_capacity(refs.len());
        for r in &refs {
            chains.push(log.header_chain(&r.doc)?);
        }
        let mut vouched = vec![false; refs.len()];
        for (i, r) in refs.iter().enumerate() {
            vouched[i] = if r.legacy {
                // Its creator stands in for the uploader, as before adders were kept.
                chains[i].as_ref().is_some_and(|(header, ancestors)| {
                    creator_of(header)
                        .is_some_and(|creator| access::can_read(&creator, header, ancestors))
                })
            } else {
                r.added_by
                    .iter()
                    .any(|a| uploaders.iter().any(|u| u.id() == a.id()))
            };
        }
        // Grow the vouched set until nothing changes (at most one pass per reference).
        loop {
            let mut grew = false;
            for i in 0..refs.len() {
                if vouched[i] {
                    continue;
                }
                let reads_a_vouched_one = refs[i].added_by.iter().any(|adder| {
                    (0..refs.len()).any(|j| {
                        vouched[j]
                            && chains[j].as_ref().is_some_and(|(header, ancestors)| {
                                access::can_read(adder, header, ancestors)
                            })
                    })
                });
                if reads_a_vouched_one {
                    vouched[i] = true;
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        // An officer's original never reaches an enterprise — judged by the references
        // vouched for, so a foreign case listing an enterprise's own photo as an "original"
        // cannot hide it from that enterprise.
        if outside_the_state
            && refs.iter().zip(&vouched).any(|(r, vouched)| {
                *vouched && r.role == BlobRole::Original && r.kind == DocKind::Case
            })
        {
            return Ok(false);
        }
        Ok(refs.iter().enumerate().any(|(i, _)| {
            vouched[i]
                && chains[i].as_ref().is_some_and(|(header, ancestors)| {
                    access::can_read(principal, header, ancestors)
                })
        }))
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
        for (sha, path) in list_objects(&inner.objects)? {
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
            remove_prefix(&inner.uploaders, sha.as_bytes())?;
            report.blobs_removed += 1;
            report.bytes_freed += len;
        }
        for (key, path) in list_partials(&inner.partial)? {
            let _blob = self.lock_blob(&key.sha);
            let Some(len) = file_len(&path)? else {
                continue;
            };
            match self.partial_record(&key)? {
                None => {
                    let record = PartialRecord {
                        total: None,
                        offset: 0,
                        touched_ms: now_ms,
                    };
                    inner.partials.insert(key.record_key(), encode(&record)?)?;
                }
                Some(record) if stale(record.touched_ms) => {
                    remove_if_present(&path)?;
                    inner.partials.remove(key.record_key())?;
                    report.partials_removed += 1;
                    report.bytes_freed += len;
                }
                Some(_) => {}
            }
        }
        // Records without their files (and keys of no known shape) go.
        enum Records {
            Complete,
            Partial,
            Uploader,
        }
        for (tree, records) in [
            (&inner.completes, Records::Complete),
            (&inner.partials, Records::Partial),
            (&inner.uploaders, Records::Uploader),
        ] {
            let keys: Vec<sled::IVec> = tree.iter().keys().collect::<Result<_, _>>()?;
            for key in keys {
                let file = match records {
                    Records::Complete => {
                        sha_of_key(&key, 32).map(|sha| (sha, self.object_path(&sha)))
                    }
                    Records::Partial => {
                        PartialKey::from_record_key(&key).map(|k| (k.sha, self.partial_path(&k)))
                    }
                    Records::Uploader => {
                        sha_of_key(&key, 64).map(|sha| (sha, self.object_path(&sha)))
                    }
                };
                let Some((sha, path)) = file else {
                    tree.remove(&key)?;
                    continue;
                };
                let _blob = self.lock_blob(&sha);
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

/// The complete blobs in `objects/`, by their file names: only names that are a lower-hex id
/// in the right shard count; anything else is left alone.
fn list_objects(dir: &Path) -> Result<Vec<(EvidenceId, PathBuf)>> {
    let mut out = Vec::new();
    for shard in fs::read_dir(dir)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        let Some(prefix) = shard.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        for entry in fs::read_dir(shard.path())? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(sha) = name.to_str().and_then(canonical_id) else {
                continue;
            };
            if sha.to_string().starts_with(prefix.as_str()) && entry.file_type()?.is_file() {
                out.push((sha, entry.path()));
            }
        }
    }
    Ok(out)
}

/// The uploads in progress in `partial/`, by their file names (`<sha256>.<owner>`, or a
/// format-1 `<sha256>`): anything else is left alone.
fn list_partials(dir: &Path) -> Result<Vec<(PartialKey, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(key) = entry.file_name().to_str().and_then(PartialKey::parse) else {
            continue;
        };
        if entry.file_type()?.is_file() {
            out.push((key, entry.path()));
        }
    }
    Ok(out)
}

/// An id written exactly as the store writes it (64 lower-hex digits), else `None`.
fn canonical_id(text: &str) -> Option<EvidenceId> {
    parse_blob_id(text).filter(|sha| sha.to_string() == text)
}

/// The blob id of a record key of `len` bytes that starts with it.
fn sha_of_key(key: &[u8], len: usize) -> Option<EvidenceId> {
    if key.len() != len {
        return None;
    }
    let bytes: [u8; 32] = key.get(..32)?.try_into().ok()?;
    Some(EvidenceId::from_digest(bytes))
}

fn remove_prefix(tree: &sled::Tree, prefix: &[u8]) -> Result<()> {
    let keys: Vec<sled::IVec> = tree.scan_prefix(prefix).keys().collect::<Result<_, _>>()?;
    for key in keys {
        tree.remove(key)?;
    }
    Ok(())
}

/// The creator of a document as the principal its header shows (for `legacy` references):
/// an officer of the header's team and scope for a case or notice, an enterprise of its unit
/// for a response. The hub checked at creation that the creator could write it.
fn creator_of(header: &Header) -> Option<Principal> {
    match header.kind {
        DocKind::Case | DocKind::Notice => Some(Principal::Officer {
            id: header.created_by.clone(),
            team: header.team.clone()?,
            scope: header.scope,
        }),
        DocKind::Response => Some(Principal::Enterprise {
            id: header.created_by.clone(),
            unit: header.unit.clone()?,
        }),
        _ => None,
    }
}

/// One upload in progress: a blob and whose upload it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartialKey {
    sha: EvidenceId,
    /// The SHA-256 of the uploading principal's id; `None` for an upload from before
    /// (store format 1), which nobody resumes.
    owner: Option<[u8; 32]>,
}

impl PartialKey {
    /// The upload of `sha` by the account `uploader`.
    fn owned(sha: &EvidenceId, uploader: &PrincipalId) -> Self {
        let owner = EvidenceId::of(format!("zhichao blob uploader\0{uploader}").as_bytes());
        PartialKey {
            sha: *sha,
            owner: Some(*owner.as_bytes()),
        }
    }

    /// SHA-256 ‖ owner (32 or 64 bytes).
    fn record_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(64);
        key.extend_from_slice(self.sha.as_bytes());
        if let Some(owner) = &self.owner {
            key.extend_from_slice(owner);
        }
        key
    }

    fn from_record_key(key: &[u8]) -> Option<Self> {
        let sha = EvidenceId::from_digest(key.get(..32)?.try_into().ok()?);
        match key.len() {
            32 => Some(PartialKey { sha, owner: None }),
            64 => Some(PartialKey {
                sha,
                owner: Some(key[32..].try_into().ok()?),
            }),
            _ => None,
        }
    }

    /// `<sha256>.<owner>` in lower hex (`<sha256>` without owner).
    fn file_name(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{}.{}", self.sha, EvidenceId::from_digest(*owner)),
            None => self.sha.to_string(),
        }
    }

    /// The key of a file name written by [`PartialKey::file_name`], else `None`.
    fn parse(name: &str) -> Option<Self> {
        match name.split_once('.') {
            None => Some(PartialKey {
                sha: canonical_id(name)?,
                owner: None,
            }),
            Some((sha, owner)) => Some(PartialKey {
                sha: canonical_id(sha)?,
                owner: Some(*canonical_id(owner)?.as_bytes()),
            }),
        }
    }
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
    use zhichao_core::fixtures::{case, officer, officer_elsewhere, other_county, pid};

    const HOUR_MS: u64 = 3_600_000;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        let mut out = vec![0xff, 0xd8, 0xff, 0xe0];
        out.extend((0..n).map(|i| u8::try_from(i % 251).unwrap() ^ seed));
        out
    }

    fn wang() -> Principal {
        officer("officer:wang", "team-1")
    }

    /// Wang's upload of `sha`.
    fn mine(sha: &EvidenceId) -> PartialKey {
        PartialKey::owned(sha, wang().id())
    }

    /// `by`'s upload of `sha`: (offset, declared total).
    fn held(store: &BlobStore, sha: &EvidenceId, by: &Principal) -> (u64, Option<u64>) {
        let status = store.upload_status(sha, by.id()).unwrap();
        assert!(!status.complete);
        (status.offset, status.total)
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
    fn partial_keys_name_the_blob_and_the_uploader() {
        let sha = EvidenceId::of(b"x");
        let key = PartialKey::owned(&sha, &pid("officer:wang"));
        assert_ne!(key, PartialKey::owned(&sha, &pid("officer:li")));
        let name = key.file_name();
        assert_eq!(name.len(), 64 + 1 + 64);
        assert!(name.starts_with(&format!("{sha}.")));
        assert_eq!(PartialKey::parse(&name), Some(key));
        assert_eq!(PartialKey::from_record_key(&key.record_key()), Some(key));
        let legacy = PartialKey { sha, owner: None };
        assert_eq!(PartialKey::parse(&sha.to_string()), Some(legacy));
        assert_eq!(PartialKey::from_record_key(sha.as_bytes()), Some(legacy));
        for bad in [
            name.to_uppercase(),
            format!("{name}.x"),
            format!("{sha}."),
            format!("{sha}.tmp"),
            "x".to_owned(),
        ] {
            assert_eq!(PartialKey::parse(&bad), None, "{bad:?}");
        }
        assert_eq!(PartialKey::from_record_key(&[0; 40]), None);
    }

    #[test]
    fn chunks_append_in_order_and_the_blob_appears_whole() {
        let store = BlobStore::temporary().unwrap();
        let data = bytes(1000, 1);
        let sha = EvidenceId::of(&data);
        let total = data.len() as u64;
        let wang = wang();
        assert_eq!(held(&store, &sha, &wang), (0, None));
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 0, total, &data[..400], 1)
                .unwrap(),
            PutOutcome::Accepted { offset: 400 }
        );
        // Repeated, skipping ahead, another total: refused, nothing written.
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 0, total, &data[..400], 2)
                .unwrap(),
            PutOutcome::OffsetMismatch { offset: 400 }
        );
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 800, total, &data[800..], 2)
                .unwrap(),
            PutOutcome::OffsetMismatch { offset: 400 }
        );
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 400, total + 1, &data[400..800], 2)
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
            store
                .put_chunk(&sha, &wang, 400, total, &data[400..], 2)
                .unwrap(),
            PutOutcome::Created { len: total }
        );
        assert_eq!(store.object_len(&sha).unwrap(), Some(total));
        assert_eq!(fs::read(store.object_path(&sha)).unwrap(), data);
        assert!(!store.partial_path(&mine(&sha)).exists());
        assert_eq!(store.uploaders_of(&sha).unwrap(), [wang.clone()][..]);
        assert_eq!(
            store.put_chunk(&sha, &wang, 0, total, &data, 3).unwrap(),
            PutOutcome::AlreadyComplete { len: total }
        );
        assert!(
            store.put_chunk(&sha, &wang, 0, 3, b"abcd", 3).is_err(),
            "past the total"
        );
        assert!(store.put_chunk(&sha, &wang, 0, 3, b"", 3).is_err(), "empty");
    }

    #[test]
    fn each_principal_has_its_own_upload_and_a_chunk_at_zero_restarts_it() {
        let store = BlobStore::temporary().unwrap();
        let data = bytes(1000, 9);
        let sha = EvidenceId::of(&data);
        let total = data.len() as u64;
        let (wang, squatter) = (wang(), officer("officer:zhou", "team-2"));
        // Someone else declares a huge total and sends garbage.
        assert_eq!(
            store
                .put_chunk(&sha, &squatter, 0, 64 << 20, &[0; 10], 1)
                .unwrap(),
            PutOutcome::Accepted { offset: 10 }
        );
        assert_eq!(held(&store, &sha, &wang), (0, None));
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 0, total, &data[..500], 1)
                .unwrap(),
            PutOutcome::Accepted { offset: 500 }
        );
        assert_eq!(held(&store, &sha, &squatter), (10, Some(64 << 20)));
        // A chunk at 0 with another total starts Wang's own upload over; elsewhere it is
        // refused.
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 500, total + 5, &data[500..600], 2)
                .unwrap(),
            PutOutcome::TotalMismatch {
                offset: 500,
                declared: total
            }
        );
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 0, total + 5, &data[..300], 2)
                .unwrap(),
            PutOutcome::Accepted { offset: 300 }
        );
        assert_eq!(held(&store, &sha, &wang), (300, Some(total + 5)));
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 0, total, &data[..600], 3)
                .unwrap(),
            PutOutcome::Accepted { offset: 600 }
        );
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 600, total, &data[600..], 3)
                .unwrap(),
            PutOutcome::Created { len: total }
        );
        assert_eq!(fs::read(store.object_path(&sha)).unwrap(), data);
        assert_eq!(store.uploaders_of(&sha).unwrap(), [wang]);
        // The squatter's upload is its own business: it ends in a mismatch for it alone.
        assert_eq!(held(&store, &sha, &squatter), (10, Some(64 << 20)));
    }

    #[test]
    fn uploading_bytes_the_server_holds_proves_possession() {
        let store = BlobStore::temporary().unwrap();
        let data = bytes(1000, 10);
        let sha = EvidenceId::of(&data);
        let total = data.len() as u64;
        let (wang, li) = (wang(), officer("officer:li", "team-1"));
        store.put_chunk(&sha, &wang, 0, total, &data, 1).unwrap();
        assert!(!store.is_uploader(&sha, li.id()).unwrap());
        assert_eq!(
            store
                .put_chunk(&sha, &li, 0, total, &data[..600], 2)
                .unwrap(),
            PutOutcome::Accepted { offset: 600 }
        );
        // Wrong bytes prove nothing.
        let mut wrong = data.clone();
        wrong[700] ^= 1;
        assert_eq!(
            store
                .put_chunk(&sha, &li, 600, total, &wrong[600..], 2)
                .unwrap(),
            PutOutcome::HashMismatch
        );
        assert!(!store.is_uploader(&sha, li.id()).unwrap());
        assert_eq!(
            store.put_chunk(&sha, &li, 0, total, &data, 3).unwrap(),
            PutOutcome::Proven { len: total }
        );
        assert!(store.is_uploader(&sha, li.id()).unwrap());
        assert_eq!(store.uploaders_of(&sha).unwrap().len(), 2);
        assert!(
            !store
                .partial_path(&PartialKey::owned(&sha, li.id()))
                .exists()
        );
        assert_eq!(fs::read(store.object_path(&sha)).unwrap(), data);
        // Again: nothing to do, and recorded once.
        assert_eq!(
            store.put_chunk(&sha, &li, 0, total, &data, 4).unwrap(),
            PutOutcome::AlreadyComplete { len: total }
        );
        assert_eq!(store.uploaders_of(&sha).unwrap().len(), 2);
    }

    #[test]
    fn a_mismatch_discards_the_upload() {
        let store = BlobStore::temporary().unwrap();
        let data = bytes(100, 2);
        let sha = EvidenceId::of(b"something else");
        let wang = wang();
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 0, 104, &data[..50], 1)
                .unwrap(),
            PutOutcome::Accepted { offset: 50 }
        );
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 50, 104, &data[50..], 1)
                .unwrap(),
            PutOutcome::HashMismatch
        );
        assert_eq!(held(&store, &sha, &wang), (0, None));
        assert!(!store.object_path(&sha).exists());
        assert!(!store.partial_path(&mine(&sha)).exists());
        assert!(store.uploaders_of(&sha).unwrap().is_empty());
    }

    #[test]
    fn a_crash_mid_upload_resumes_from_the_durable_offset() {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(3000, 3);
        let sha = EvidenceId::of(&data);
        let total = data.len() as u64;
        let wang = wang();
        {
            let store = BlobStore::open(dir.path()).unwrap();
            store
                .put_chunk(&sha, &wang, 0, total, &data[..1000], 1)
                .unwrap();
            // A write that reached the file but not its record (the process died between).
            let mut file = OpenOptions::new()
                .append(true)
                .open(store.partial_path(&mine(&sha)))
                .unwrap();
            file.write_all(&[0u8; 500]).unwrap();
        }
        let store = BlobStore::open(dir.path()).unwrap();
        assert_eq!(held(&store, &sha, &wang), (1000, Some(total)));
        assert_eq!(
            store
                .put_chunk(&sha, &wang, 1000, total, &data[1000..], 2)
                .unwrap(),
            PutOutcome::Created { len: total }
        );
        assert_eq!(fs::read(store.object_path(&sha)).unwrap(), data);

        // A partial file without any record (died before the first record): start over.
        let other = bytes(10, 4);
        let other_sha = EvidenceId::of(&other);
        fs::write(store.partial_path(&mine(&other_sha)), &other[..5]).unwrap();
        assert_eq!(held(&store, &other_sha, &wang), (0, None));
        assert_eq!(
            store
                .put_chunk(&other_sha, &wang, 0, 14, &other, 3)
                .unwrap(),
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

    /// Every reference of `doc` as introduced by `adder` (what the hub hands the driver for a
    /// new document).
    fn doc_refs(
        id: DocumentId,
        kind: DocKind,
        doc: &automerge::Automerge,
        adder: &Principal,
    ) -> Vec<(DocumentId, DocKind, BlobUse, Principal)> {
        zhichao_core::docs::referenced_blobs(kind, doc)
            .unwrap_or_default()
            .into_iter()
            .map(|u| (id, kind, u, adder.clone()))
            .collect()
    }

    #[test]
    fn references_are_recorded_once_with_their_roles() {
        let store = BlobStore::temporary().unwrap();
        let original = EvidenceId::of(b"original");
        let doc = case_with(1, photo(original));
        let wang = wang();
        let batch = doc_refs(doc.id(), DocKind::Case, doc.automerge(), &wang);
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
                added_by: vec![wang.clone()],
                legacy: false,
            }]
        );
        let copy = store.refs_of(&derivative(1).sha256).unwrap();
        assert_eq!(copy[0].role, BlobRole::EvidenceCopy);
        assert!(store.refs_of(&EvidenceId::of(b"none")).unwrap().is_empty());
        // Kinds without photos are not even read.
        let rules = doc_refs(doc.id(), DocKind::Rules, doc.automerge(), &wang);
        assert_eq!(store.record_refs(&rules).unwrap(), 0);
    }

    /// Logs `doc`'s header as the hub would (read access is decided from logged headers).
    fn log_doc<T: zhichao_core::docs::DocBody>(log: &ChangeLog, doc: &TypedDoc<T>) {
        let header = doc.header().unwrap();
        let by = header.created_by.clone();
        log.append(&[(doc.id(), header, by, Vec::new())], 1)
            .unwrap();
    }

    /// Officer Qin of another county lists `sha` in a case of his own, which the hub logs and
    /// whose references it records.
    #[allow(clippy::result_large_err)] // the closure's error type is `TypedDoc::update`'s
    fn reference_from_elsewhere(store: &BlobStore, log: &ChangeLog, seed: u64, sha: EvidenceId) {
        let mut foreign = case(seed, "officer:qin", "team-9");
        foreign
            .update(&pid("officer:qin"), 0, |c| {
                c.evidence.push(photo(sha));
                Ok(())
            })
            .unwrap();
        let header = Header {
            scope: other_county(),
            ..foreign.header().unwrap()
        };
        log.append(&[(foreign.id(), header, pid("officer:qin"), Vec::new())], 1)
            .unwrap();
        store
            .record_refs(&doc_refs(
                foreign.id(),
                DocKind::Case,
                foreign.automerge(),
                &officer_elsewhere("officer:qin"),
            ))
            .unwrap();
    }

    #[test]
    fn a_reference_grants_only_when_an_uploader_may_read_its_document() {
        let store = BlobStore::temporary().unwrap();
        let log = ChangeLog::temporary().unwrap();
        let data = bytes(100, 11);
        let sha = EvidenceId::of(&data);
        let (wang, qin) = (wang(), officer_elsewhere("officer:qin"));
        store.put_chunk(&sha, &wang, 0, 104, &data, 1).unwrap();
        reference_from_elsewhere(&store, &log, 21, sha);
        assert!(!store.may_read(&log, &qin, &sha).unwrap());
        assert!(!store.status(&log, &qin, &sha).unwrap().complete);
        // Wang's own team's case grants to those who read it.
        let own = case_with(22, photo(sha));
        log_doc(&log, &own);
        store
            .record_refs(&doc_refs(own.id(), DocKind::Case, own.automerge(), &wang))
            .unwrap();
        assert!(
            store
                .may_read(&log, &officer("officer:li", "team-1"), &sha)
                .unwrap()
        );
        assert!(!store.may_read(&log, &qin, &sha).unwrap());
        // Uploaded by nobody (no uploader recorded): nothing is granted.
        let lone = EvidenceId::of(b"lone");
        let doc = case_with(23, photo(lone));
        log_doc(&log, &doc);
        store
            .record_refs(&doc_refs(doc.id(), DocKind::Case, doc.automerge(), &wang))
            .unwrap();
        assert!(!store.may_read(&log, &wang, &lone).unwrap());
    }

    #[test]
    fn a_format_1_store_keeps_its_earlier_access_through_the_documents_creators() {
        let dir = tempfile::tempdir().unwrap();
        let log = ChangeLog::temporary().unwrap();
        let data = bytes(100, 12);
        let sha = EvidenceId::of(&data);
        let own = case_with(31, photo(sha));
        log_doc(&log, &own);
        let legacy_partial = bytes(50, 13);
        let legacy_sha = EvidenceId::of(&legacy_partial);
        {
            // What format 1 left: a blob and its reference, no uploader, no format record,
            // and an upload without owner.
            let store = BlobStore::open(dir.path()).unwrap();
            store.put_chunk(&sha, &wang(), 0, 104, &data, 1).unwrap();
            store
                .record_refs(&doc_refs(own.id(), DocKind::Case, own.automerge(), &wang()))
                .unwrap();
            store.inner.uploaders.clear().unwrap();
            store.inner.format.clear().unwrap();
            let key = PartialKey {
                sha: legacy_sha,
                owner: None,
            };
            fs::write(store.partial_path(&key), &legacy_partial[..20]).unwrap();
            let record = PartialRecord {
                total: Some(54),
                offset: 20,
                touched_ms: 1,
            };
            store
                .inner
                .partials
                .insert(key.record_key(), encode(&record).unwrap())
                .unwrap();
            store.inner.db.flush().unwrap();
        }
        let store = BlobStore::open(dir.path()).unwrap();
        assert!(store.refs_of(&sha).unwrap().iter().all(|r| r.legacy));
        assert!(store.uploaders_of(&sha).unwrap().is_empty());
        let li = officer("officer:li", "team-1");
        assert!(store.may_read(&log, &li, &sha).unwrap(), "as before");
        assert!(store.status(&log, &li, &sha).unwrap().complete);
        // A later foreign case grants nothing: the old case's creator cannot read it.
        let qin = officer_elsewhere("officer:qin");
        reference_from_elsewhere(&store, &log, 32, sha);
        assert!(!store.may_read(&log, &qin, &sha).unwrap());
        // Reopening does not mark the new reference legacy.
        drop(store);
        let store = BlobStore::open(dir.path()).unwrap();
        let refs = store.refs_of(&sha).unwrap();
        assert_eq!(refs.iter().filter(|r| r.legacy).count(), 1, "{refs:?}");
        assert!(!store.may_read(&log, &qin, &sha).unwrap());
        // The owner-less upload is reported to nobody and swept after the TTL.
        assert_eq!(held(&store, &legacy_sha, &wang()), (0, None));
        let ttl = Duration::from_secs(72 * 3_600);
        assert_eq!(
            store.sweep(1 + 71 * HOUR_MS, ttl).unwrap().partials_removed,
            0
        );
        let report = store.sweep(1 + 72 * HOUR_MS, ttl).unwrap();
        assert_eq!((report.partials_removed, report.bytes_freed), (1, 20));
        assert!(
            fs::read_dir(dir.path().join("partial"))
                .unwrap()
                .next()
                .is_none()
        );
        assert!(store.inner.partials.is_empty());
    }

    #[test]
    fn the_sweep_removes_what_nothing_references_after_the_ttl() {
        let store = BlobStore::temporary().unwrap();
        let ttl = Duration::from_secs(72 * 3_600);
        let t0 = 1_000 * HOUR_MS;
        let wang = wang();
        let kept = bytes(20, 5);
        let kept_sha = EvidenceId::of(&kept);
        let lone = bytes(20, 6);
        let lone_sha = EvidenceId::of(&lone);
        let unfinished = bytes(20, 7);
        let unfinished_sha = EvidenceId::of(&unfinished);
        store.put_chunk(&kept_sha, &wang, 0, 24, &kept, t0).unwrap();
        store.put_chunk(&lone_sha, &wang, 0, 24, &lone, t0).unwrap();
        store
            .put_chunk(&unfinished_sha, &wang, 0, 24, &unfinished[..10], t0)
            .unwrap();
        // Someone else's upload of the same blob is swept alike.
        store
            .put_chunk(
                &unfinished_sha,
                &officer("officer:li", "team-1"),
                0,
                24,
                &unfinished[..5],
                t0,
            )
            .unwrap();
        let doc = case_with(2, photo(kept_sha));
        store
            .record_refs(&doc_refs(doc.id(), DocKind::Case, doc.automerge(), &wang))
            .unwrap();
        // Not yet.
        let report = store.sweep(t0 + 71 * HOUR_MS, ttl).unwrap();
        assert_eq!(report, SweepReport::default());
        let report = store.sweep(t0 + 72 * HOUR_MS, ttl).unwrap();
        assert_eq!(
            report,
            SweepReport {
                blobs_removed: 1,
                partials_removed: 2,
                bytes_freed: 24 + 10 + 5,
            }
        );
        assert_eq!(store.object_len(&kept_sha).unwrap(), Some(24));
        assert_eq!(
            store.uploaders_of(&kept_sha).unwrap(),
            std::slice::from_ref(&wang)
        );
        assert_eq!(store.object_len(&lone_sha).unwrap(), None);
        assert!(store.uploaders_of(&lone_sha).unwrap().is_empty());
        assert_eq!(held(&store, &unfinished_sha, &wang), (0, None));
        assert!(!store.partial_path(&mine(&unfinished_sha)).exists());
        assert!(store.inner.partials.is_empty());

        // A file without a record (a crash after the rename) is dated by the first sweep.
        let stray = bytes(20, 8);
        let stray_sha = EvidenceId::of(&stray);
        let path = store.object_path(&stray_sha);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &stray).unwrap();
        fs::write(store.dir().join("objects").join("not-a-blob"), b"x").unwrap();
        fs::write(store.dir().join("partial").join("not-a-blob"), b"x").unwrap();
        let t1 = t0 + 100 * HOUR_MS;
        assert_eq!(store.sweep(t1, ttl).unwrap(), SweepReport::default());
        assert!(path.exists());
        assert_eq!(
            store.sweep(t1 + 72 * HOUR_MS, ttl).unwrap().blobs_removed,
            1
        );
        assert!(!path.exists());
        assert!(store.dir().join("objects").join("not-a-blob").exists());
        assert!(store.dir().join("partial").join("not-a-blob").exists());
    }
}
