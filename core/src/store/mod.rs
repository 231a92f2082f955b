//! The offline document store: every CRDT document a phone holds, kept so that nothing an
//! officer saved is ever lost.
//!
//! Phones work for hours without signal and can die mid-write, so the store is built around
//! three promises (issue 3, "Store"):
//!
//! - **Saved means durable.** [`DocStore::save`] returns only after the data reached the disk
//!   (sled flushes on its own only every ~500 ms). [`DocStore::save_batch`] shares one flush
//!   between many documents (group commit). A crash at any other moment loses at most the
//!   edit that was not yet saved.
//! - **Writes are small.** A document is a snapshot (automerge's compact `save()`) plus
//!   incremental chunks (`save_after(saved heads)`): a one-field edit writes one chunk of about
//!   a hundred bytes, plus a binary metadata record of about forty (the stored heads and chunk
//!   sizes); the index entry, index keys and pending mark are written only when they change. When the chunks together outgrow the snapshot, the next save writes a
//!   fresh snapshot and drops the chunks in the same atomic write (compaction), so the bytes
//!   kept stay within twice the compact size and loading never replays a long tail.
//! - **A damaged tail never makes a document unloadable.** Every chunk carries a length and a
//!   checksum; a torn, truncated or corrupt chunk is skipped, every complete change before it
//!   loads, and the loss is reported in [`LoadReport`] — as are changes that were read but
//!   cannot be applied (their dependencies are missing), a missing snapshot, and stored heads
//!   the loaded document lacks. The next save of the document repairs it: it merges whatever
//!   of the stored document loads with the caller's copy, writes a fresh snapshot and moves
//!   every record it cannot fully carry over aside (quarantine; never deleted). Every save
//!   checks the stored records it builds on (the snapshot by automerge's checksum, the chunks
//!   by theirs, the chunk keys against the metadata), so a save that returns `Ok` leaves a
//!   document that loads, and never overwrites a stored chunk.
//!
//! Beside the documents the store keeps what a patrol needs without loading them: which
//! documents have changes the server has not acknowledged ([`DocStore::pending`]), lookups by
//! plate, status, source unit … ([`DocStore::find`], fed by the [`IndexEntry`] given on every
//! save), the automerge sync state per (document, peer), and durable counters for case numbers
//! ([`DocStore::next_sequence`]). A document the phone no longer needs (a past day's watch
//! list) is dropped with all of that in one atomic write ([`DocStore::remove`]).
//!
//! The store does not know the document schema: the caller derives the [`IndexEntry`] from the
//! document it saves. Two implementations pass one conformance suite
//! (`core/tests/integration/store/`): [`SledStore`] on disk and [`MemoryStore`] for tests and
//! simulations.

mod codec;
mod engine;
mod error;
mod memory;
mod sled_store;
#[doc(hidden)]
pub mod testing;

use automerge::{Automerge, ChangeHash};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, StorageId};

pub use codec::CHUNK_HEADER_LEN;
pub use error::{Result, StoreError};
pub use memory::MemoryStore;
pub use sled_store::{DEFAULT_CACHE_BYTES, LOCK_WAIT, SledStore, open_sled};

/// The index under which every document is found by its [`IndexEntry::kind`]:
/// `find(KIND_INDEX, "case")` lists all cases.
pub const KIND_INDEX: &str = "kind";

/// A store of automerge documents keyed by [`DocumentId`]; see the [module docs](self) for the
/// durability contract.
///
/// Every method takes `&self`: a store is shared between threads (`Arc<dyn DocStore>`); writes
/// to one store are serialised internally.
pub trait DocStore: Send + Sync {
    /// Persists the changes of `doc` that are not yet stored for `id`, together with its index
    /// entry (which replaces the previous one atomically), and flushes before returning.
    ///
    /// The first save of a document writes a snapshot; later ones write an incremental chunk
    /// of the new changes, or — when the chunks would outgrow the snapshot — a fresh snapshot
    /// that replaces the chunks (compaction). A save with new changes marks the document
    /// pending. `doc` may lack changes that were stored earlier (another copy of the document
    /// was saved, or a damaged chunk was skipped on load): the store then merges the stored
    /// document with `doc`, so nothing stored is lost, and reports
    /// [`SaveReport::merged_stored_changes`] (the index entry given was derived from a copy
    /// that lacked them). (With an `AutoCommit`, pass `doc.document()`.)
    ///
    /// Every save first checks the stored records it builds on: the snapshot is there, of the
    /// recorded size and intact by automerge's checksum; the chunks are the recorded number
    /// and size, intact by their own checksums, under keys below the next one to write (so a
    /// save never overwrites a stored chunk). When they are damaged — or `doc` lacks stored
    /// changes — the save merges whatever of the stored document loads with `doc`, writes the
    /// union as a fresh snapshot, and moves aside every record it cannot fully carry over (a
    /// snapshot that does not load, damaged chunks, chunks holding changes that cannot be
    /// applied), never deleting them. So after an `Ok` save the document loads, even when
    /// [`load`](Self::load) failed before it.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure (nothing was written then),
    /// [`StoreError::Corrupt`] when the stored metadata cannot be read.
    fn save(&self, id: &DocumentId, doc: &Automerge, index: &IndexEntry) -> Result<SaveReport>;

    /// [`save`](Self::save) for many documents with a single flush (group commit). Each
    /// document is written atomically; the reports come in the order of `docs`. A document may
    /// appear more than once (its saves apply in order).
    ///
    /// # Errors
    /// As [`save`](Self::save); the documents before the failing one are saved (and flushed)
    /// nevertheless.
    fn save_batch(&self, docs: &[(DocumentId, &Automerge, IndexEntry)]) -> Result<Vec<SaveReport>>;

    /// Loads one document: snapshot and every intact chunk. A damaged (torn, truncated,
    /// corrupt) chunk is skipped, the complete changes at its start are still loaded, and the
    /// damage is reported in [`Loaded::report`], as is a missing snapshot record or any
    /// change that was read but could not be applied; `None` exactly when the store does not
    /// hold the document ([`contains`](Self::contains) is `false`).
    ///
    /// # Errors
    /// [`StoreError::CorruptDocument`] when the snapshot record is there but does not load
    /// (sled checks its own records, so this means damage outside the store's failure model);
    /// the next [`save`](Self::save) of the document repairs it from the caller's copy.
    fn load(&self, id: &DocumentId) -> Result<Option<Loaded>>;

    /// The stored bytes of a document as one automerge byte string (snapshot followed by every
    /// intact chunk), without loading it: `Automerge::load` of them gives what
    /// [`load`](Self::load) gives, except changes salvaged from damaged chunks. For export and
    /// for sending a whole document. `None` exactly when the store does not hold the document.
    ///
    /// # Errors
    /// As [`load`](Self::load), except that the bytes are not checked by automerge (so the
    /// report does not know of unapplied changes).
    fn load_bytes(&self, id: &DocumentId) -> Result<Option<StoredBytes>>;

    /// Whether the store holds a document with this id.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure.
    fn contains(&self, id: &DocumentId) -> Result<bool>;

    /// The ids of all stored documents, in byte order of the id.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure, [`StoreError::Corrupt`] on a malformed key.
    fn ids(&self) -> Result<Vec<DocumentId>>;

    /// The index entry given with the last save of `id`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored index entry record cannot be read.
    fn index_entry(&self, id: &DocumentId) -> Result<Option<IndexEntry>>;

    /// The documents with saved changes the server has not acknowledged, in byte order of the
    /// id, read from a small index (no document is loaded).
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure, [`StoreError::Corrupt`] on a malformed key.
    fn pending(&self) -> Result<Vec<DocumentId>>;

    /// The server acknowledged `heads` of `id` (typically the shared heads of a finished sync
    /// round). Clears the pending mark when `heads` include every saved head, i.e. the server
    /// has everything this store has; returns whether the document is now acknowledged (also
    /// `true` for an unknown id, which has nothing pending). An acknowledgement for older
    /// heads leaves the mark. Not flushed: a lost acknowledgement costs one more sync.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored metadata cannot be read.
    fn acknowledge(&self, id: &DocumentId, heads: &[ChangeHash]) -> Result<bool>;

    /// The sync state kept for (`id`, `peer`), decoded from automerge's encoding (which keeps
    /// only the shared heads).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored bytes do not decode.
    fn sync_state(
        &self,
        id: &DocumentId,
        peer: &StorageId,
    ) -> Result<Option<automerge::sync::State>>;

    /// Stores the sync state for (`id`, `peer`) in automerge's encoding. Not flushed: losing it
    /// costs only bandwidth.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure.
    fn put_sync_state(
        &self,
        id: &DocumentId,
        peer: &StorageId,
        state: &automerge::sync::State,
    ) -> Result<()>;

    /// Records that the server refused the changes of `id` as stored now (at its current
    /// heads), with the server's `reason`: [`rejection`](Self::rejection) reports it until the
    /// document changes. Replaces an earlier record. Not flushed: a lost record costs one
    /// more refused attempt.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure, [`StoreError::Corrupt`] on unreadable metadata.
    fn put_rejection(&self, id: &DocumentId, reason: &str) -> Result<()>;

    /// The server's reason for refusing `id`, while the document is still at the heads that
    /// were refused (`None` once it changed, or when it was never refused). A phone does not
    /// push a refused document again until it changes.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a stored record cannot be read.
    fn rejection(&self, id: &DocumentId) -> Result<Option<String>>;

    /// The documents whose current index entry holds the key `(index, value)`, e.g.
    /// `("plate", "晋E12345")`, `("status", "investigating")`, `(KIND_INDEX, "case")`; in byte
    /// order of the id.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] on a malformed key.
    fn find(&self, index: &str, value: &str) -> Result<Vec<DocumentId>>;

    /// Drops a document from the store, with everything kept for it: its snapshot and
    /// chunks, its metadata, its index entry and index keys, its pending mark, its sync states
    /// (with every peer) and the record of a refusal — in one atomic write, flushed before
    /// returning. Returns whether the store held the document ([`contains`](Self::contains)
    /// was `true`); records of the id left without metadata (damage) are removed all the same.
    /// Records that repairing saves moved aside are kept (they are never deleted). Saving the
    /// id again afterwards starts a fresh document.
    ///
    /// For documents a phone only reads and no longer needs (past days' watch lists): the
    /// store does not ask whether the server has the document's changes — a caller removing a
    /// [`pending`](Self::pending) document loses them.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure (nothing was removed then).
    fn remove(&self, id: &DocumentId) -> Result<bool>;

    /// The next value (≥ 1) of the durable counter `name`, e.g. a device's case-number
    /// sequence. Flushed before returning, so a value is never handed out twice, even across a
    /// crash (a crash may skip values).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored counter is malformed,
    /// [`StoreError::SequenceExhausted`] after `u64::MAX`.
    fn next_sequence(&self, name: &str) -> Result<u64>;
}

/// What a document is found by: its kind (`case`, `notice`, …, indexed under [`KIND_INDEX`])
/// and secondary keys `(index, value)`, e.g. `("plate", "晋E12345")`, `("unit", uscc)`,
/// `("open_notice", "")`. Derived by the caller from the document; each save replaces the
/// previous entry of the document atomically. Duplicate keys count once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The document kind.
    pub kind: String,
    /// Secondary keys `(index name, value)`.
    pub keys: Vec<(String, String)>,
}

impl IndexEntry {
    /// An entry of `kind` without secondary keys.
    pub fn new(kind: impl Into<String>) -> Self {
        IndexEntry {
            kind: kind.into(),
            keys: Vec::new(),
        }
    }

    /// Adds the key `(index, value)`.
    #[must_use]
    pub fn with(mut self, index: impl Into<String>, value: impl Into<String>) -> Self {
        self.keys.push((index.into(), value.into()));
        self
    }

    /// Every key the entry is found by, the kind included, without duplicates, sorted.
    pub fn lookup_keys(&self) -> std::collections::BTreeSet<(String, String)> {
        let mut keys: std::collections::BTreeSet<(String, String)> =
            self.keys.iter().cloned().collect();
        keys.insert((KIND_INDEX.to_owned(), self.kind.clone()));
        keys
    }
}

/// What one save wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveReport {
    /// Bytes of document data written: the chunk (automerge's incremental bytes plus a
    /// [`CHUNK_HEADER_LEN`]-byte header), or the snapshot when the save compacted; 0 when
    /// there was nothing new.
    pub bytes_written: usize,
    /// Every other byte the save wrote: the key of the chunk or snapshot, the metadata record
    /// (key and value), and — only when they changed — the index entry record, the index keys
    /// added or removed and the pending mark; when compacting or repairing, the keys of the
    /// chunks removed and the records moved aside (their bytes). Records the save would rewrite
    /// unchanged are not written and not counted. `bytes_written + overhead_bytes` is what the
    /// save hands to the store (sled adds its own log framing on top).
    pub overhead_bytes: usize,
    /// The save wrote a fresh snapshot and dropped the chunks (compaction, a merge with the
    /// stored document, or a repair of damaged records).
    pub compacted: bool,
    /// The save stored changes that were not stored before (the document is now pending).
    pub new_changes: bool,
    /// The stored document had changes the caller's copy lacked (a stale copy, or a copy
    /// loaded past damage): the store merged them in, so the document stored differs from the
    /// caller's copy, and the index entry given with the save was derived from the copy. The
    /// caller should load the stored document and save its index entry again.
    pub merged_stored_changes: bool,
}

/// What a load found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Bytes handed to automerge (snapshot and intact chunks).
    pub bytes_loaded: usize,
    /// Intact chunks loaded after the snapshot.
    pub chunks_loaded: usize,
    /// Damaged chunks (torn, truncated, bad checksum, or rejected by automerge) skipped.
    pub chunks_dropped: usize,
    /// Bytes of the skipped chunks.
    pub bytes_dropped: usize,
    /// Complete changes recovered from the start of damaged chunks (automerge checks each
    /// change's own checksum).
    pub changes_salvaged: usize,
    /// The snapshot record is missing or empty: the document was loaded from its chunks
    /// alone.
    pub snapshot_missing: bool,
    /// Changes that were read but cannot be applied wait for these many missing dependencies
    /// (automerge's `get_missing_deps(&[])` of the loaded document); 0 when every change read
    /// was applied.
    pub missing_deps: usize,
    /// Heads of the stored document (as recorded by the last save) that the loaded document
    /// lacks; not known to [`DocStore::load_bytes`], which does not load.
    pub heads_missing: usize,
}

impl LoadReport {
    /// Whether everything stored was loaded: no chunk dropped, the snapshot there, every
    /// change read applied and every stored head present.
    pub fn is_complete(&self) -> bool {
        self.chunks_dropped == 0
            && !self.snapshot_missing
            && self.missing_deps == 0
            && self.heads_missing == 0
    }
}

/// A loaded document and what the load found.
#[derive(Debug)]
pub struct Loaded {
    /// The document.
    pub doc: Automerge,
    /// Chunks loaded and dropped.
    pub report: LoadReport,
}

/// A document's stored bytes, see [`DocStore::load_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBytes {
    /// Snapshot followed by every intact chunk, in automerge's storage format.
    pub bytes: Vec<u8>,
    /// Chunks included and dropped (checked by length and checksum only).
    pub report: LoadReport,
}

/// Implements [`DocStore`] for a smart pointer by delegating to the store it points to, so
/// one store can serve many owners (`Arc<dyn DocStore>`, `Box<dyn DocStore>`).
macro_rules! delegate_doc_store {
    ($ptr:ty) => {
        impl<S: DocStore + ?Sized> DocStore for $ptr {
            fn save(
                &self,
                id: &DocumentId,
                doc: &Automerge,
                index: &IndexEntry,
            ) -> Result<SaveReport> {
                (**self).save(id, doc, index)
            }

            fn save_batch(
                &self,
                docs: &[(DocumentId, &Automerge, IndexEntry)],
            ) -> Result<Vec<SaveReport>> {
                (**self).save_batch(docs)
            }

            fn load(&self, id: &DocumentId) -> Result<Option<Loaded>> {
                (**self).load(id)
            }

            fn load_bytes(&self, id: &DocumentId) -> Result<Option<StoredBytes>> {
                (**self).load_bytes(id)
            }

            fn contains(&self, id: &DocumentId) -> Result<bool> {
                (**self).contains(id)
            }

            fn ids(&self) -> Result<Vec<DocumentId>> {
                (**self).ids()
            }

            fn index_entry(&self, id: &DocumentId) -> Result<Option<IndexEntry>> {
                (**self).index_entry(id)
            }

            fn pending(&self) -> Result<Vec<DocumentId>> {
                (**self).pending()
            }

            fn acknowledge(&self, id: &DocumentId, heads: &[ChangeHash]) -> Result<bool> {
                (**self).acknowledge(id, heads)
            }

            fn sync_state(
                &self,
                id: &DocumentId,
                peer: &StorageId,
            ) -> Result<Option<automerge::sync::State>> {
                (**self).sync_state(id, peer)
            }

            fn put_sync_state(
                &self,
                id: &DocumentId,
                peer: &StorageId,
                state: &automerge::sync::State,
            ) -> Result<()> {
                (**self).put_sync_state(id, peer, state)
            }

            fn put_rejection(&self, id: &DocumentId, reason: &str) -> Result<()> {
                (**self).put_rejection(id, reason)
            }

            fn rejection(&self, id: &DocumentId) -> Result<Option<String>> {
                (**self).rejection(id)
            }

            fn find(&self, index: &str, value: &str) -> Result<Vec<DocumentId>> {
                (**self).find(index, value)
            }

            fn remove(&self, id: &DocumentId) -> Result<bool> {
                (**self).remove(id)
            }

            fn next_sequence(&self, name: &str) -> Result<u64> {
                (**self).next_sequence(name)
            }
        }
    };
}

delegate_doc_store!(std::sync::Arc<S>);
delegate_doc_store!(Box<S>);
