//! [`SledStore`]: the [`DocStore`] on disk, in a sled database.
//!
//! Layout (one sled tree each; keys in `codec`):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | doc id | metadata record: stored heads and chunk sizes (version byte, postcard) |
//! | `entries` | doc id | the index entry of the last save (version byte, postcard) |
//! | `snapshots` | doc id | automerge `save()` bytes |
//! | `chunks` | doc id, seq (BE) | framed automerge `save_after` bytes, one sled value each |
//! | `pending` | doc id | empty: saved changes not acknowledged by the server |
//! | `index` | len+name, len+value, doc id | empty |
//! | `sync` | doc id, peer storage id | automerge encoded sync state |
//! | `sequences` | name | u64 BE |
//! | `quarantine` | doc id, number (BE) | records moved aside by repairing saves, never overwritten |
//!
//! A save writes its chunk or snapshot, the removal of replaced chunks, the metadata, the
//! index changes and the pending mark in one sled transaction (crash-atomic: sled recovers a
//! transaction's writes all or none), then flushes. Inside the transaction each bookkeeping
//! record is compared with the stored one and written only when it changes: a one-field edit
//! of a pending document writes its chunk and the metadata record (about 40 bytes) only; the
//! index entry, index keys and pending mark are left alone unless they change.
//!
//! A removal ([`DocStore::remove`]) deletes every record of the document but those moved
//! aside in `quarantine`, in one transaction too, then flushes.
//!
//! Opening reads sled's own recovery state only; no document, chunk or metadata record is read
//! until asked for, so listing pending documents after a restart costs a scan of the small
//! `pending` tree.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash};
use sled::transaction::{ConflictableTransactionResult, Transactional};
use sled::{IVec, Tree};

use super::codec::{self, FORMAT, Meta};
use super::engine::{self, Bookkeeping, DocWrite, SavePlan, StoredParts};
use super::error::{Result, StoreError};
use super::{DocStore, IndexEntry, Loaded, SaveReport, StoredBytes};
use crate::ids::{DocumentId, StorageId};

/// Page cache sled may use, in bytes. sled's default (1 GiB) is far beyond what a phone app
/// should hold; documents load from the OS page cache quickly enough.
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

const FORMAT_KEY: &[u8] = b"zhichao-store-format";

/// The on-disk [`DocStore`]. One process opens a database at a time (sled locks it).
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    meta: Tree,
    entries: Tree,
    snapshots: Tree,
    chunks: Tree,
    pending: Tree,
    index: Tree,
    sync: Tree,
    rejections: Tree,
    sequences: Tree,
    quarantine: Tree,
    /// sled's log file, fsynced after every flush.
    log: Option<std::fs::File>,
    /// Serialises read-modify-write operations (saves, acknowledgements, counters).
    writer: Mutex<()>,
}

impl SledStore {
    /// Opens (or creates) the store in the directory `path`, with a page cache of
    /// [`DEFAULT_CACHE_BYTES`].
    ///
    /// # Errors
    /// [`StoreError::Sled`] when the directory cannot be opened or is locked by another
    /// process, [`StoreError::UnsupportedFormat`] for a database of another store version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(
            path,
            sled::Config::new().cache_capacity(DEFAULT_CACHE_BYTES),
        )
    }

    /// Opens the store in `path` with a sled configuration of the caller's (cache size, mode);
    /// its path is replaced by `path`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    #[tracing::instrument(skip_all)]
    pub fn open_with(path: impl AsRef<Path>, config: sled::Config) -> Result<Self> {
        let path = path.as_ref();
        let db = open_waiting_for_lock(&config.path(path))?;
        // sled's flush ends in `sync_file_range` on Linux, which neither writes the file's
        // metadata (its size, as the log grows) nor flushes the drive's cache: fsync the log
        // through a handle of our own so that "saved" also survives a power loss.
        let log = std::fs::File::open(path.join("db"))
            .inspect_err(|e| tracing::warn!(error = %e, "cannot open sled's log to fsync it"))
            .ok();
        match db.get(FORMAT_KEY)? {
            Some(found) if found.as_ref() == FORMAT.to_be_bytes() => {}
            Some(found) => {
                return Err(StoreError::UnsupportedFormat {
                    found: format!("{:?}", found.as_ref()),
                    supported: FORMAT,
                });
            }
            None => {
                db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
                db.flush()?;
            }
        }
        let store = SledStore {
            meta: db.open_tree("meta")?,
            entries: db.open_tree("entries")?,
            snapshots: db.open_tree("snapshots")?,
            chunks: db.open_tree("chunks")?,
            pending: db.open_tree("pending")?,
            index: db.open_tree("index")?,
            sync: db.open_tree("sync")?,
            rejections: db.open_tree("rejections")?,
            sequences: db.open_tree("sequences")?,
            quarantine: db.open_tree("quarantine")?,
            db,
            log,
            writer: Mutex::new(()),
        };
        tracing::debug!(recovered = store.db.was_recovered(), "store opened");
        Ok(store)
    }

    /// The records of `id` that repairing saves moved aside (kept, never deleted), in the order
    /// they were moved: framed chunks as stored (see [`CHUNK_HEADER_LEN`](super::CHUNK_HEADER_LEN))
    /// and snapshots (automerge bytes).
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure.
    pub fn quarantined(&self, id: &DocumentId) -> Result<Vec<Vec<u8>>> {
        self.quarantine
            .scan_prefix(codec::doc_key(id))
            .values()
            .map(|v| Ok(v?.to_vec()))
            .collect()
    }

    /// Bytes the database occupies on disk.
    ///
    /// # Errors
    /// [`StoreError::Sled`] on I/O failure.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// The underlying sled database, for tests that damage records on purpose.
    #[doc(hidden)]
    pub fn raw_tree(&self, name: &str) -> Option<&Tree> {
        match name {
            "meta" => Some(&self.meta),
            "entries" => Some(&self.entries),
            "snapshots" => Some(&self.snapshots),
            "chunks" => Some(&self.chunks),
            "pending" => Some(&self.pending),
            "index" => Some(&self.index),
            "sync" => Some(&self.sync),
            "rejections" => Some(&self.rejections),
            "sequences" => Some(&self.sequences),
            "quarantine" => Some(&self.quarantine),
            _ => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guard protects no data, only ordering: poisoning is harmless.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_meta(&self, id: &DocumentId) -> Result<Option<Meta>> {
        self.meta
            .get(codec::doc_key(id))?
            .map(|b| Meta::decode(&b))
            .transpose()
    }

    /// Reads a document's records without the writer lock. Chunks are read before the
    /// snapshot: a compaction running meanwhile removes chunks only together with writing a
    /// snapshot that holds their changes, so any chunk missed by the scan is in the snapshot
    /// read after it, and every save completed before the read is seen.
    fn parts(&self, id: &DocumentId) -> Result<StoredParts<IVec>> {
        let chunks = self
            .chunks
            .scan_prefix(codec::doc_key(id))
            .map(|entry| {
                let (key, value) = entry?;
                Ok((key.to_vec(), value))
            })
            .collect::<Result<Vec<_>>>()?;
        let snapshot = self.snapshots.get(codec::doc_key(id))?;
        Ok(StoredParts { snapshot, chunks })
    }

    /// Plans and applies one save; the caller holds the writer lock and flushes. Returns the
    /// report and whether anything was written.
    fn save_locked(
        &self,
        id: &DocumentId,
        doc: &Automerge,
        index: &IndexEntry,
    ) -> Result<(SaveReport, bool)> {
        let prev = codec::decode_stored(
            self.meta.get(codec::doc_key(id))?.as_deref(),
            self.entries.get(codec::doc_key(id))?.as_deref(),
        )?;
        // Under the writer lock no record of this document changes meanwhile.
        let parts = self.parts(id)?;
        let plan = engine::plan_save(id, prev, doc, index, &parts)?;
        let written = self.apply(id, &plan)?;
        let report = SaveReport {
            overhead_bytes: written.unwrap_or(0),
            ..plan.report
        };
        Ok((report, written.is_some()))
    }

    /// Applies a plan in one sled transaction. Every bookkeeping write is compared with the
    /// stored record inside the transaction and skipped when it would change nothing; returns
    /// the bookkeeping bytes written, or `None` when the plan writes nothing at all.
    fn apply(&self, id: &DocumentId, plan: &SavePlan) -> Result<Option<usize>> {
        if !plan.writes_anything() {
            return Ok(None);
        }
        let key = codec::doc_key(id);
        // Under the writer lock no record of this document appears or goes meanwhile.
        let quarantine_keys: Vec<[u8; 24]> = match &plan.write {
            DocWrite::Snapshot { quarantine, .. } if !quarantine.is_empty() => {
                let last = self
                    .quarantine
                    .scan_prefix(key)
                    .keys()
                    .next_back()
                    .transpose()?;
                let first = codec::next_quarantine_number(last.as_deref());
                (first..)
                    .take(quarantine.len())
                    .map(|number| codec::quarantine_key(id, number))
                    .collect()
            }
            _ => Vec::new(),
        };
        let overhead = (
            &self.meta,
            &self.entries,
            &self.snapshots,
            &self.chunks,
            &self.pending,
            &self.index,
            &self.quarantine,
        )
            .transaction(
                |(tm, te, ts, tc, tp, ti, tq)| -> ConflictableTransactionResult<usize, StoreError> {
                    let mut written = Bookkeeping::default();
                    match &plan.write {
                        DocWrite::Nothing => {}
                        DocWrite::Chunk { seq, framed } => {
                            let chunk_key = codec::chunk_key(id, *seq);
                            // The plan checked the key is free; a stored chunk is never
                            // overwritten, whatever the metadata says.
                            if tc.get(chunk_key)?.is_some() {
                                return sled::transaction::abort(StoreError::corrupt(
                                    "metadata record",
                                    format!("chunk {seq} is already stored"),
                                ));
                            }
                            tc.insert(&chunk_key[..], framed.as_slice())?;
                            written.put(&chunk_key, &[]);
                        }
                        DocWrite::Snapshot {
                            bytes,
                            remove,
                            quarantine,
                        } => {
                            ts.insert(&key[..], bytes.as_slice())?;
                            written.put(&key, &[]);
                            for old in remove {
                                tc.remove(old.as_slice())?;
                                written.remove(old);
                            }
                            for (q_key, bytes) in quarantine_keys.iter().zip(quarantine) {
                                tq.insert(&q_key[..], bytes.as_slice())?;
                                written.put(q_key, bytes);
                            }
                        }
                    }
                    for (tree, record) in [(tm, &plan.meta), (te, &plan.entry)] {
                        if let Some(record) = record
                            && tree.get(key)?.as_deref() != Some(record.as_slice())
                        {
                            tree.insert(&key[..], record.as_slice())?;
                            written.put(&key, record);
                        }
                    }
                    for removed in &plan.index_removed {
                        if ti.get(removed)?.is_some() {
                            ti.remove(removed.as_slice())?;
                            written.remove(removed);
                        }
                    }
                    for added in &plan.index_added {
                        if ti.get(added)?.is_none() {
                            ti.insert(added.as_slice(), &[][..])?;
                            written.put(added, &[]);
                        }
                    }
                    if plan.mark_pending && tp.get(key)?.is_none() {
                        tp.insert(&key[..], &[][..])?;
                        written.put(&key, &[]);
                    }
                    Ok(written.bytes)
                },
            )?;
        Ok(Some(overhead))
    }

    /// Removes every record of `id` (but quarantined ones) in one sled transaction; the
    /// caller holds the writer lock and flushes. Returns whether the document was held (had a
    /// metadata record) and whether anything was removed.
    fn remove_locked(&self, id: &DocumentId) -> Result<(bool, bool)> {
        let key = codec::doc_key(id);
        let held = self.meta.contains_key(key)?;
        let index_keys = match self.entries.get(key)? {
            Some(bytes) => match codec::decode_entry(&bytes) {
                Ok(entry) => entry_index_keys(id, &entry),
                Err(e) => {
                    tracing::warn!(doc_id = %id, error = %e, "unreadable index entry; scanning the index");
                    None
                }
            },
            None if held => None,
            None => Some(Vec::new()),
        };
        // An entry that does not tell the keys: every index key ends with the document id.
        let index_keys = match index_keys {
            Some(keys) => keys,
            None => self
                .index
                .iter()
                .keys()
                .filter_map(|k| match k {
                    Ok(k) if k.ends_with(&key) => Some(Ok(k.to_vec())),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<_, _>>()?,
        };
        // Under the writer lock no record of this document appears or goes meanwhile.
        let prefixed = |tree: &Tree| -> Result<Vec<IVec>> {
            Ok(tree
                .scan_prefix(key)
                .keys()
                .collect::<std::result::Result<_, _>>()?)
        };
        let chunk_keys = prefixed(&self.chunks)?;
        let sync_keys = prefixed(&self.sync)?;
        let removed = (
            &self.meta,
            &self.entries,
            &self.snapshots,
            &self.chunks,
            &self.pending,
            &self.index,
            &self.sync,
            &self.rejections,
        )
            .transaction(
                |(tm, te, ts, tc, tp, ti, tsync, tr)| -> ConflictableTransactionResult<bool, StoreError> {
                    let mut removed = false;
                    for tree in [tm, te, ts, tp, tr] {
                        removed |= tree.remove(&key[..])?.is_some();
                    }
                    for chunk in &chunk_keys {
                        removed |= tc.remove(chunk)?.is_some();
                    }
                    for sync in &sync_keys {
                        removed |= tsync.remove(sync)?.is_some();
                    }
                    for index_key in &index_keys {
                        removed |= ti.remove(index_key.as_slice())?.is_some();
                    }
                    Ok(removed)
                },
            )?;
        Ok((held, removed))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        if let Some(log) = &self.log {
            log.sync_data()?;
        }
        Ok(())
    }
}

/// The keys a document's index `entry` put into the `index` tree; `None` when one cannot be
/// made (a stored entry always can: it was checked when saved).
fn entry_index_keys(id: &DocumentId, entry: &IndexEntry) -> Option<Vec<Vec<u8>>> {
    entry
        .lookup_keys()
        .iter()
        .map(|(index, value)| codec::index_key(index, value, id).ok())
        .collect()
}

/// How long [`SledStore::open`] (and [`open_sled`]) waits for the database lock of a previous
/// instance of the database in this process to be released.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens sled, waiting for the file lock while it is held: sled's `Db` drop returns before its
/// I/O threads release the lock (sled issues #1234, #1289), so reopening right after a close
/// may briefly find it held. Any other error is returned at once.
fn open_waiting_for_lock(config: &sled::Config) -> Result<sled::Db> {
    Ok(open_sled(config)?)
}

/// Opens a sled database as [`SledStore::open`] does: waiting up to [`LOCK_WAIT`] for the file
/// lock of a previous instance in this process, which sled's `Db` drop releases only after it
/// returns (sled issues #1234, #1289). Every sled database of the server opens with it. A lock
/// another process holds is still an error, after the wait.
///
/// # Errors
/// sled's error.
pub fn open_sled(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_millis(2);
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if is_lock_held(&e) && Instant::now() < deadline => {
                tracing::debug!("store is still locked, waiting");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// sled 0.34 reports a held lock as an `Other` I/O error with this message (config.rs,
/// `try_lock`), wrapping the `WouldBlock` of `flock`.
fn is_lock_held(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock
        || error.to_string().starts_with("could not acquire lock")
}

impl DocStore for SledStore {
    #[tracing::instrument(skip_all, fields(doc_id = %id))]
    fn save(&self, id: &DocumentId, doc: &Automerge, index: &IndexEntry) -> Result<SaveReport> {
        let (report, wrote) = {
            let _writer = self.lock();
            self.save_locked(id, doc, index)?
        };
        // Outside the lock: a flush makes durable everything written before it, so
        // concurrent savers share flushes.
        if wrote {
            self.flush()?;
        }
        Ok(report)
    }

    #[tracing::instrument(skip_all, fields(docs = docs.len()))]
    fn save_batch(&self, docs: &[(DocumentId, &Automerge, IndexEntry)]) -> Result<Vec<SaveReport>> {
        let mut reports = Vec::with_capacity(docs.len());
        let mut any = false;
        let result = {
            let _writer = self.lock();
            docs.iter().try_for_each(|(id, doc, index)| {
                let (report, wrote) = self.save_locked(id, doc, index)?;
                reports.push(report);
                any |= wrote;
                Ok::<_, StoreError>(())
            })
        };
        // Even when a later document failed, the earlier ones are saved: flush them.
        if any {
            self.flush()?;
        }
        result.map(|()| reports)
    }

    #[tracing::instrument(skip_all, fields(doc_id = %id))]
    fn load(&self, id: &DocumentId) -> Result<Option<Loaded>> {
        let Some((heads, assembled)) = self.load_parts_assembled(id)? else {
            return Ok(None);
        };
        let outcome =
            engine::load_assembled(id, assembled, heads.as_deref(), engine::OnBadSnapshot::Fail)?;
        Ok(Some(Loaded {
            doc: outcome.doc,
            report: outcome.report,
        }))
    }

    fn load_bytes(&self, id: &DocumentId) -> Result<Option<StoredBytes>> {
        Ok(self
            .load_parts_assembled(id)?
            .map(|(_, assembled)| StoredBytes {
                bytes: assembled.bytes,
                report: assembled.report,
            }))
    }

    fn contains(&self, id: &DocumentId) -> Result<bool> {
        Ok(self.meta.contains_key(codec::doc_key(id))?)
    }

    fn ids(&self) -> Result<Vec<DocumentId>> {
        self.meta
            .iter()
            .keys()
            .map(|k| codec::id_from_key(&k?))
            .collect()
    }

    fn index_entry(&self, id: &DocumentId) -> Result<Option<IndexEntry>> {
        self.entries
            .get(codec::doc_key(id))?
            .map(|b| codec::decode_entry(&b))
            .transpose()
    }

    fn pending(&self) -> Result<Vec<DocumentId>> {
        self.pending
            .iter()
            .keys()
            .map(|k| codec::id_from_key(&k?))
            .collect()
    }

    fn acknowledge(&self, id: &DocumentId, heads: &[ChangeHash]) -> Result<bool> {
        let _writer = self.lock();
        let Some(meta) = self.read_meta(id)? else {
            return Ok(true);
        };
        let key = codec::doc_key(id);
        if engine::covers(heads, &meta.heads) {
            self.pending.remove(key)?;
            return Ok(true);
        }
        Ok(!self.pending.contains_key(key)?)
    }

    fn sync_state(
        &self,
        id: &DocumentId,
        peer: &StorageId,
    ) -> Result<Option<automerge::sync::State>> {
        self.sync
            .get(codec::sync_key(id, peer.as_str()))?
            .map(|b| {
                automerge::sync::State::decode(&b)
                    .map_err(|e| StoreError::corrupt("sync state", e.to_string()))
            })
            .transpose()
    }

    fn put_sync_state(
        &self,
        id: &DocumentId,
        peer: &StorageId,
        state: &automerge::sync::State,
    ) -> Result<()> {
        // Under the writer lock, so that a removal of the document cannot miss it.
        let _writer = self.lock();
        self.sync
            .insert(codec::sync_key(id, peer.as_str()), state.encode())?;
        Ok(())
    }

    fn put_rejection(&self, id: &DocumentId, reason: &str) -> Result<()> {
        let _writer = self.lock();
        let heads = self.read_meta(id)?.map(|m| m.heads).unwrap_or_default();
        self.rejections
            .insert(codec::doc_key(id), codec::encode_rejection(&heads, reason)?)?;
        Ok(())
    }

    fn rejection(&self, id: &DocumentId) -> Result<Option<String>> {
        let Some(bytes) = self.rejections.get(codec::doc_key(id))? else {
            return Ok(None);
        };
        let (heads, reason) = codec::decode_rejection(&bytes)?;
        let current = self.read_meta(id)?.map(|m| m.heads).unwrap_or_default();
        Ok((heads == current).then_some(reason))
    }

    fn find(&self, index: &str, value: &str) -> Result<Vec<DocumentId>> {
        let prefix = codec::index_prefix(index, value)?;
        self.index
            .scan_prefix(&prefix)
            .keys()
            .map(|k| codec::id_from_index_key(&k?, prefix.len()))
            .collect()
    }

    #[tracing::instrument(skip_all, fields(doc_id = %id))]
    fn remove(&self, id: &DocumentId) -> Result<bool> {
        let (held, removed) = {
            let _writer = self.lock();
            self.remove_locked(id)?
        };
        if removed {
            self.flush()?;
        }
        Ok(held)
    }

    fn next_sequence(&self, name: &str) -> Result<u64> {
        let next = {
            let _writer = self.lock();
            let current = match self.sequences.get(name.as_bytes())? {
                Some(bytes) => codec::decode_counter(&bytes)?,
                None => 0,
            };
            let next = current
                .checked_add(1)
                .ok_or(StoreError::SequenceExhausted)?;
            self.sequences
                .insert(name.as_bytes(), &next.to_be_bytes())?;
            next
        };
        self.flush()?;
        Ok(next)
    }
}

impl SledStore {
    /// The stored heads (when the metadata record decodes) and the assembled records of a
    /// document the store holds (has a metadata record for, as [`DocStore::contains`] says).
    /// The metadata is read first: every save it records is in the records read after it.
    fn load_parts_assembled(
        &self,
        id: &DocumentId,
    ) -> Result<Option<(Option<Vec<ChangeHash>>, engine::Assembled)>> {
        let Some(meta) = self.meta.get(codec::doc_key(id))? else {
            return Ok(None);
        };
        // A damaged metadata record does not keep the document from loading; its heads are
        // then unknown.
        let heads = Meta::decode(&meta).ok().map(|meta| meta.heads);
        let parts = self.parts(id)?;
        Ok(Some((heads, engine::assemble(&parts))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ReadDoc, Value};

    fn append(doc: &mut Automerge, value: i64) {
        let mut tx = doc.transaction();
        let list = match tx.get(ROOT, "log").unwrap() {
            Some((Value::Object(ObjType::List), id)) => id,
            _ => tx.put_object(ROOT, "log", ObjType::List).unwrap(),
        };
        let len = tx.length(&list);
        tx.insert(&list, len, value).unwrap();
        tx.commit();
    }

    fn values(doc: &Automerge) -> Vec<i64> {
        let Some((_, list)) = doc.get(ROOT, "log").unwrap() else {
            return Vec::new();
        };
        (0..doc.length(&list))
            .map(|i| match doc.get(&list, i).unwrap() {
                Some((Value::Scalar(s), _)) => match s.as_ref() {
                    automerge::ScalarValue::Int(v) => *v,
                    other => panic!("not an int: {other:?}"),
                },
                other => panic!("not a scalar: {other:?}"),
            })
            .collect()
    }

    fn id(n: u8) -> DocumentId {
        DocumentId::from_bytes([n; 16])
    }

    fn last_chunk(store: &SledStore, id: &DocumentId) -> (IVec, IVec) {
        store
            .chunks
            .scan_prefix(codec::doc_key(id))
            .last()
            .expect("a chunk")
            .unwrap()
    }

    #[test]
    fn a_chunk_truncated_anywhere_in_its_last_64_bytes_loses_only_its_incomplete_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let doc_id = id(1);
        let index = IndexEntry::new("case");
        let mut doc = Automerge::new();
        // Enough history that the following chunks stay below the snapshot (no compaction).
        for v in 0..400 {
            append(&mut doc, v);
        }
        assert!(store.save(&doc_id, &doc, &index).unwrap().compacted);
        append(&mut doc, 400);
        assert!(!store.save(&doc_id, &doc, &index).unwrap().compacted);
        let before_last = doc.get_heads();
        let first_of_last = doc.get_heads();
        // The last chunk holds three changes.
        for v in 401..404 {
            append(&mut doc, v);
        }
        let report = store.save(&doc_id, &doc, &index).unwrap();
        assert!(!report.compacted);
        let change_lens: Vec<usize> = doc
            .get_changes(&first_of_last)
            .iter()
            .map(|c| c.raw_bytes().len())
            .collect();
        assert_eq!(change_lens.len(), 3);

        let (key, full) = last_chunk(&store, &doc_id);
        assert_eq!(full.len(), report.bytes_written);
        assert!(full.len() > 64, "chunk of {} bytes", full.len());
        for cut in full.len() - 64..full.len() {
            store.chunks.insert(&key, &full[..cut]).unwrap();
            let loaded = store.load(&doc_id).unwrap().unwrap();
            // Changes wholly inside the cut are salvaged; the rest of the chunk is dropped.
            let payload = cut.saturating_sub(codec::CHUNK_HEADER_LEN);
            let complete = change_lens
                .iter()
                .scan(0, |end, len| {
                    *end += len;
                    Some(*end)
                })
                .filter(|end| *end <= payload)
                .count();
            let expected: Vec<i64> = (0..401 + complete as i64).collect();
            assert_eq!(values(&loaded.doc), expected, "cut at {cut}");
            assert!(loaded.doc.get_changes(&before_last).len() == complete);
            assert_eq!(loaded.report.chunks_loaded, 1, "cut at {cut}");
            assert_eq!(loaded.report.chunks_dropped, 1, "cut at {cut}");
            assert_eq!(loaded.report.bytes_dropped, cut, "cut at {cut}");
            assert_eq!(loaded.report.changes_salvaged, complete, "cut at {cut}");
            assert!(!loaded.report.is_complete());
        }
        store.chunks.insert(&key, full).unwrap();
        let loaded = store.load(&doc_id).unwrap().unwrap();
        assert!(loaded.report.is_complete());
        assert_eq!(values(&loaded.doc), (0..404).collect::<Vec<_>>());
    }

    #[test]
    fn saving_a_document_loaded_past_a_damaged_chunk_repairs_it_and_keeps_the_damage_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let doc_id = id(2);
        let index = IndexEntry::new("case");
        let mut doc = Automerge::new();
        for v in 0..30 {
            append(&mut doc, v);
        }
        store.save(&doc_id, &doc, &index).unwrap();
        append(&mut doc, 30);
        store.save(&doc_id, &doc, &index).unwrap();
        let (key, full) = last_chunk(&store, &doc_id);
        store.chunks.insert(&key, &full[..full.len() - 3]).unwrap();

        let mut loaded = store.load(&doc_id).unwrap().unwrap();
        assert_eq!(loaded.report.chunks_dropped, 1);
        assert_eq!(values(&loaded.doc), (0..30).collect::<Vec<_>>());
        append(&mut loaded.doc, 99);
        let report = store.save(&doc_id, &loaded.doc, &index).unwrap();
        assert!(report.compacted && report.new_changes);
        assert_eq!(
            store.quarantined(&doc_id).unwrap(),
            vec![full[..full.len() - 3].to_vec()]
        );

        let again = store.load(&doc_id).unwrap().unwrap();
        assert!(again.report.is_complete());
        assert_eq!(again.report.chunks_loaded, 0);
        let mut expected: Vec<i64> = (0..30).collect();
        expected.push(99);
        assert_eq!(values(&again.doc), expected);
        // Later saves are incremental again.
        append(&mut loaded.doc, 100);
        let report = store.save(&doc_id, &loaded.doc, &index).unwrap();
        assert!(!report.compacted && report.new_changes);
    }

    #[test]
    fn corrupt_records_are_typed_errors_and_the_document_stays_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let doc_id = id(3);
        let mut doc = Automerge::new();
        append(&mut doc, 1);
        store.save(&doc_id, &doc, &IndexEntry::new("case")).unwrap();

        let key = codec::doc_key(&doc_id);
        let good_meta = store.meta.get(key).unwrap().unwrap();
        let good_entry = store.entries.get(key).unwrap().unwrap();
        let mut garbage = vec![codec::RECORD_VERSION];
        garbage.extend_from_slice(b"\xff garbage");
        store.meta.insert(key, garbage.as_slice()).unwrap();
        assert!(matches!(
            store.save(&doc_id, &doc, &IndexEntry::new("case")),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.acknowledge(&doc_id, &[]),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(values(&store.load(&doc_id).unwrap().unwrap().doc), vec![1]);
        // A record of a newer store version.
        store.meta.insert(key, &b"\xff garbage"[..]).unwrap();
        assert!(matches!(
            store.acknowledge(&doc_id, &[]),
            Err(StoreError::UnsupportedFormat { .. })
        ));
        store.meta.insert(key, good_meta).unwrap();

        store.entries.insert(key, garbage.as_slice()).unwrap();
        assert!(matches!(
            store.index_entry(&doc_id),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.save(&doc_id, &doc, &IndexEntry::new("case")),
            Err(StoreError::Corrupt { .. })
        ));
        // One of the pair missing is damage too.
        store.entries.remove(key).unwrap();
        assert!(matches!(
            store.save(&doc_id, &doc, &IndexEntry::new("case")),
            Err(StoreError::Corrupt { .. })
        ));
        store.entries.insert(key, good_entry).unwrap();
        store.save(&doc_id, &doc, &IndexEntry::new("case")).unwrap();

        store.pending.insert(&b"short"[..], &[][..]).unwrap();
        assert!(matches!(store.pending(), Err(StoreError::Corrupt { .. })));
        store.meta.insert(&b"also short"[..], &[][..]).unwrap();
        assert!(matches!(store.ids(), Err(StoreError::Corrupt { .. })));

        store.sequences.insert(&b"case"[..], &b"xyz"[..]).unwrap();
        assert!(matches!(
            store.next_sequence("case"),
            Err(StoreError::Corrupt { .. })
        ));

        let peer = StorageId::new("peer-1").unwrap();
        store
            .sync
            .insert(codec::sync_key(&doc_id, "peer-1"), &b"\x99"[..])
            .unwrap();
        assert!(matches!(
            store.sync_state(&doc_id, &peer),
            Err(StoreError::Corrupt { .. })
        ));

        // A malformed chunk key counts as a damaged chunk; the document still loads.
        let chunk_key = codec::chunk_key(&doc_id, 0);
        store.chunks.insert(&chunk_key[..16], &b"x"[..]).unwrap();
        let loaded = store.load(&doc_id).unwrap().unwrap();
        assert_eq!(values(&loaded.doc), vec![1]);
        assert_eq!(loaded.report.chunks_dropped, 1);
    }

    #[test]
    fn random_bytes_in_the_meta_record_are_typed_errors_and_the_document_stays_loadable() {
        use rand::{RngExt, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let doc_id = id(4);
        let index = IndexEntry::new("case").with("plate", "晋E12345");
        let mut doc = Automerge::new();
        append(&mut doc, 1);
        store.save(&doc_id, &doc, &index).unwrap();
        append(&mut doc, 2);
        store.save(&doc_id, &doc, &index).unwrap();
        let key = codec::doc_key(&doc_id);
        let good = store.meta.get(key).unwrap().unwrap();

        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for round in 0..200 {
            let len = rng.random_range(0..96);
            let mut garbage: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if round % 2 == 0 && !garbage.is_empty() {
                // Past the version byte, into the decoder proper.
                garbage[0] = codec::RECORD_VERSION;
            }
            store.meta.insert(key, garbage.as_slice()).unwrap();
            let typed = |result: Result<_>| {
                matches!(
                    result,
                    Err(StoreError::Corrupt { .. } | StoreError::UnsupportedFormat { .. })
                )
            };
            assert!(
                typed(store.save(&doc_id, &doc, &index).map(|_| ())),
                "{garbage:?}"
            );
            assert!(typed(store.acknowledge(&doc_id, &[]).map(|_| ())));
            // The document and its entry do not depend on the metadata record.
            assert_eq!(
                values(&store.load(&doc_id).unwrap().unwrap().doc),
                vec![1, 2]
            );
            assert_eq!(store.index_entry(&doc_id).unwrap(), Some(index.clone()));
        }
        store.meta.insert(key, good).unwrap();
        append(&mut doc, 3);
        assert!(store.save(&doc_id, &doc, &index).unwrap().new_changes);
    }

    #[test]
    fn a_chunk_is_never_overwritten_even_by_a_plan_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let doc_id = id(5);
        let mut doc = Automerge::new();
        for v in 0..50 {
            append(&mut doc, v);
        }
        store.save(&doc_id, &doc, &IndexEntry::new("case")).unwrap();
        append(&mut doc, 50);
        store.save(&doc_id, &doc, &IndexEntry::new("case")).unwrap();
        let (key, stored) = last_chunk(&store, &doc_id);
        let meta = store.meta.get(codec::doc_key(&doc_id)).unwrap();
        let plan = SavePlan {
            write: DocWrite::Chunk {
                seq: codec::chunk_seq(&key).unwrap(),
                framed: codec::frame_chunk(b"other").unwrap(),
            },
            meta: Some(b"not written".to_vec()),
            entry: None,
            index_removed: Vec::new(),
            index_added: Vec::new(),
            mark_pending: true,
            report: SaveReport::default(),
        };
        assert!(matches!(
            store.apply(&doc_id, &plan),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(last_chunk(&store, &doc_id), (key, stored));
        assert_eq!(store.meta.get(codec::doc_key(&doc_id)).unwrap(), meta);
    }

    #[test]
    fn a_database_of_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.insert(FORMAT_KEY, &99u32.to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            SledStore::open(dir.path()),
            Err(StoreError::UnsupportedFormat { .. })
        ));
    }
}
