//! [`MemoryStore`]: the in-memory [`DocStore`], for tests and simulations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use automerge::{Automerge, ChangeHash};

use super::codec::{self, Meta};
use super::engine::{self, Bookkeeping, DocWrite, SavePlan, StoredParts};
use super::error::{Result, StoreError};
use super::{DocStore, IndexEntry, Loaded, SaveReport, StoredBytes};
use crate::ids::{DocumentId, StorageId};

/// A [`DocStore`] in memory: the same records, the same save and load logic and the same
/// reports as [`SledStore`](super::SledStore), without a disk ("flushed" is trivially true).
/// Passes the same conformance suite.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    meta: BTreeMap<DocumentId, Vec<u8>>,
    entries: HashMap<DocumentId, Vec<u8>>,
    snapshots: HashMap<DocumentId, Vec<u8>>,
    chunks: BTreeMap<(DocumentId, u64), Vec<u8>>,
    pending: BTreeSet<DocumentId>,
    index: BTreeSet<Vec<u8>>,
    sync: HashMap<(DocumentId, StorageId), Vec<u8>>,
    rejections: HashMap<DocumentId, Vec<u8>>,
    sequences: HashMap<String, u64>,
    quarantine: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records of `id` that repairing saves moved aside (kept, never deleted), in the order
    /// they were moved, as [`SledStore::quarantined`](super::SledStore::quarantined).
    ///
    /// # Errors
    /// Never; `Result` for symmetry with [`SledStore::quarantined`](super::SledStore::quarantined).
    pub fn quarantined(&self, id: &DocumentId) -> Result<Vec<Vec<u8>>> {
        let inner = self.lock();
        let prefix = codec::doc_key(id);
        Ok(inner
            .quarantine
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }

    pub(super) fn raw_record(&self, record: super::testing::Record) -> Option<Vec<u8>> {
        use super::testing::Record;
        let inner = self.lock();
        match record {
            Record::Meta(id) => inner.meta.get(&id).cloned(),
            Record::Entry(id) => inner.entries.get(&id).cloned(),
            Record::Snapshot(id) => inner.snapshots.get(&id).cloned(),
            Record::Chunk(id, seq) => inner.chunks.get(&(id, seq)).cloned(),
        }
    }

    pub(super) fn set_raw_record(&self, record: super::testing::Record, value: Option<&[u8]>) {
        use super::testing::Record;
        let mut inner = self.lock();
        let value = value.map(<[u8]>::to_vec);
        match (record, value) {
            (Record::Meta(id), Some(v)) => drop(inner.meta.insert(id, v)),
            (Record::Meta(id), None) => drop(inner.meta.remove(&id)),
            (Record::Entry(id), Some(v)) => drop(inner.entries.insert(id, v)),
            (Record::Entry(id), None) => drop(inner.entries.remove(&id)),
            (Record::Snapshot(id), Some(v)) => drop(inner.snapshots.insert(id, v)),
            (Record::Snapshot(id), None) => drop(inner.snapshots.remove(&id)),
            (Record::Chunk(id, seq), Some(v)) => drop(inner.chunks.insert((id, seq), v)),
            (Record::Chunk(id, seq), None) => drop(inner.chunks.remove(&(id, seq))),
        }
    }

    pub(super) fn chunk_seqs(&self, id: &DocumentId) -> Vec<u64> {
        self.lock()
            .chunks
            .range((*id, 0)..=(*id, u64::MAX))
            .map(|((_, seq), _)| *seq)
            .collect()
    }

    // A panic in another thread cannot leave `Inner` half-updated (a plan is checked before
    // it is applied, and applied by infallible code), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn read_meta(&self, id: &DocumentId) -> Result<Option<Meta>> {
        self.meta.get(id).map(|b| Meta::decode(b)).transpose()
    }

    fn parts(&self, id: &DocumentId) -> StoredParts<&[u8]> {
        StoredParts {
            snapshot: self.snapshots.get(id).map(Vec::as_slice),
            chunks: self
                .chunks
                .range((*id, 0)..=(*id, u64::MAX))
                .map(|((_, seq), v)| (codec::chunk_key(id, *seq).to_vec(), v.as_slice()))
                .collect(),
        }
    }

    fn save(&mut self, id: &DocumentId, doc: &Automerge, index: &IndexEntry) -> Result<SaveReport> {
        let prev = codec::decode_stored(
            self.meta.get(id).map(Vec::as_slice),
            self.entries.get(id).map(Vec::as_slice),
        )?;
        let plan = engine::plan_save(id, prev, doc, index, &self.parts(id))?;
        self.apply(id, plan)
    }

    /// Applies a plan as [`SledStore`](super::SledStore) does, with the same comparisons and
    /// the same check, so that the reports and errors agree. Checks before it changes
    /// anything, so a failed save writes nothing.
    fn apply(&mut self, id: &DocumentId, plan: SavePlan) -> Result<SaveReport> {
        let key = codec::doc_key(id);
        if let DocWrite::Chunk { seq, .. } = plan.write
            && self.chunks.contains_key(&(*id, seq))
        {
            return Err(StoreError::corrupt(
                "metadata record",
                format!("chunk {seq} is already stored"),
            ));
        }
        let mut written = Bookkeeping::default();
        match plan.write {
            DocWrite::Nothing => {}
            DocWrite::Chunk { seq, framed } => {
                written.put(&codec::chunk_key(id, seq), &[]);
                self.chunks.insert((*id, seq), framed);
            }
            DocWrite::Snapshot {
                bytes,
                remove,
                quarantine,
            } => {
                self.snapshots.insert(*id, bytes);
                written.put(&key, &[]);
                for old in remove {
                    // Keys come from `parts`: well formed.
                    if let Ok(seq) = codec::chunk_seq(&old) {
                        self.chunks.remove(&(*id, seq));
                    }
                    written.remove(&old);
                }
                let last = self
                    .quarantine
                    .range(key.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(&key))
                    .last()
                    .map(|(k, _)| k.as_slice());
                let first = codec::next_quarantine_number(last);
                for (number, bytes) in (first..).zip(quarantine) {
                    let q_key = codec::quarantine_key(id, number).to_vec();
                    written.put(&q_key, &bytes);
                    self.quarantine.insert(q_key, bytes);
                }
            }
        }
        if let Some(record) = plan.meta
            && self.meta.get(id) != Some(&record)
        {
            written.put(&key, &record);
            self.meta.insert(*id, record);
        }
        if let Some(record) = plan.entry
            && self.entries.get(id) != Some(&record)
        {
            written.put(&key, &record);
            self.entries.insert(*id, record);
        }
        for removed in &plan.index_removed {
            if self.index.remove(removed) {
                written.remove(removed);
            }
        }
        for added in plan.index_added {
            if !self.index.contains(&added) {
                written.put(&added, &[]);
                self.index.insert(added);
            }
        }
        if plan.mark_pending && self.pending.insert(*id) {
            written.put(&key, &[]);
        }
        Ok(SaveReport {
            overhead_bytes: written.bytes,
            ..plan.report
        })
    }
}

impl DocStore for MemoryStore {
    fn save(&self, id: &DocumentId, doc: &Automerge, index: &IndexEntry) -> Result<SaveReport> {
        self.lock().save(id, doc, index)
    }

    fn save_batch(&self, docs: &[(DocumentId, &Automerge, IndexEntry)]) -> Result<Vec<SaveReport>> {
        let mut inner = self.lock();
        docs.iter()
            .map(|(id, doc, index)| inner.save(id, doc, index))
            .collect()
    }

    fn load(&self, id: &DocumentId) -> Result<Option<Loaded>> {
        let (heads, assembled) = {
            let inner = self.lock();
            let Some(meta) = inner.meta.get(id) else {
                return Ok(None);
            };
            // A damaged metadata record does not keep the document from loading.
            let heads = Meta::decode(meta).ok().map(|meta| meta.heads);
            (heads, engine::assemble(&inner.parts(id)))
        };
        let outcome =
            engine::load_assembled(id, assembled, heads.as_deref(), engine::OnBadSnapshot::Fail)?;
        Ok(Some(Loaded {
            doc: outcome.doc,
            report: outcome.report,
        }))
    }

    fn load_bytes(&self, id: &DocumentId) -> Result<Option<StoredBytes>> {
        let inner = self.lock();
        if !inner.meta.contains_key(id) {
            return Ok(None);
        }
        let assembled = engine::assemble(&inner.parts(id));
        Ok(Some(StoredBytes {
            bytes: assembled.bytes,
            report: assembled.report,
        }))
    }

    fn contains(&self, id: &DocumentId) -> Result<bool> {
        Ok(self.lock().meta.contains_key(id))
    }

    fn ids(&self) -> Result<Vec<DocumentId>> {
        Ok(self.lock().meta.keys().copied().collect())
    }

    fn index_entry(&self, id: &DocumentId) -> Result<Option<IndexEntry>> {
        self.lock()
            .entries
            .get(id)
            .map(|b| codec::decode_entry(b))
            .transpose()
    }

    fn pending(&self) -> Result<Vec<DocumentId>> {
        Ok(self.lock().pending.iter().copied().collect())
    }

    fn acknowledge(&self, id: &DocumentId, heads: &[ChangeHash]) -> Result<bool> {
        let mut inner = self.lock();
        let Some(meta) = inner.read_meta(id)? else {
            return Ok(true);
        };
        if engine::covers(heads, &meta.heads) {
            inner.pending.remove(id);
        }
        Ok(!inner.pending.contains(id))
    }

    fn sync_state(
        &self,
        id: &DocumentId,
        peer: &StorageId,
    ) -> Result<Option<automerge::sync::State>> {
        let inner = self.lock();
        inner
            .sync
            .get(&(*id, peer.clone()))
            .map(|b| {
                automerge::sync::State::decode(b)
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
        self.lock().sync.insert((*id, peer.clone()), state.encode());
        Ok(())
    }

    fn put_rejection(&self, id: &DocumentId, reason: &str) -> Result<()> {
        let mut inner = self.lock();
        let heads = inner.read_meta(id)?.map(|m| m.heads).unwrap_or_default();
        let record = codec::encode_rejection(&heads, reason)?;
        inner.rejections.insert(*id, record);
        Ok(())
    }

    fn rejection(&self, id: &DocumentId) -> Result<Option<String>> {
        let inner = self.lock();
        let Some(bytes) = inner.rejections.get(id) else {
            return Ok(None);
        };
        let (heads, reason) = codec::decode_rejection(bytes)?;
        let current = inner.read_meta(id)?.map(|m| m.heads).unwrap_or_default();
        Ok((heads == current).then_some(reason))
    }

    fn find(&self, index: &str, value: &str) -> Result<Vec<DocumentId>> {
        let prefix = codec::index_prefix(index, value)?;
        let inner = self.lock();
        inner
            .index
            .range(prefix.clone()..)
            .take_while(|k| k.starts_with(&prefix))
            .map(|k| codec::id_from_index_key(k, prefix.len()))
            .collect()
    }

    fn remove(&self, id: &DocumentId) -> Result<bool> {
        let mut inner = self.lock();
        let held = inner.meta.remove(id).is_some();
        // The keys the entry put into the index; when it does not read (damage), every index
        // key ending with the id (they all do).
        let keys = inner
            .entries
            .remove(id)
            .and_then(|bytes| codec::decode_entry(&bytes).ok())
            .and_then(|entry| {
                entry
                    .lookup_keys()
                    .iter()
                    .map(|(index, value)| codec::index_key(index, value, id).ok())
                    .collect::<Option<Vec<_>>>()
            });
        match keys {
            Some(keys) => {
                for key in keys {
                    inner.index.remove(&key);
                }
            }
            None => inner.index.retain(|key| !key.ends_with(id.as_bytes())),
        }
        inner.snapshots.remove(id);
        let seqs: Vec<u64> = inner
            .chunks
            .range((*id, 0)..=(*id, u64::MAX))
            .map(|((_, seq), _)| *seq)
            .collect();
        for seq in seqs {
            inner.chunks.remove(&(*id, seq));
        }
        inner.pending.remove(id);
        inner.sync.retain(|(doc, _), _| doc != id);
        inner.rejections.remove(id);
        Ok(held)
    }

    fn next_sequence(&self, name: &str) -> Result<u64> {
        let mut inner = self.lock();
        let counter = inner.sequences.entry(name.to_owned()).or_insert(0);
        *counter = counter
            .checked_add(1)
            .ok_or(StoreError::SequenceExhausted)?;
        Ok(*counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ROOT;
    use automerge::transaction::Transactable;

    #[test]
    fn a_chunk_is_never_overwritten_even_by_a_plan_that_says_so() {
        let store = MemoryStore::new();
        let id = DocumentId::from_bytes([5; 16]);
        let mut doc = Automerge::new();
        for v in 0..50 {
            let mut tx = doc.transaction();
            tx.put(ROOT, format!("k{v}"), v).unwrap();
            tx.commit();
        }
        store.save(&id, &doc, &IndexEntry::new("case")).unwrap();
        let mut tx = doc.transaction();
        tx.put(ROOT, "k0", 99).unwrap();
        tx.commit();
        store.save(&id, &doc, &IndexEntry::new("case")).unwrap();
        let seqs = store.chunk_seqs(&id);
        assert_eq!(seqs.len(), 1);
        let seq = seqs[0];
        let (stored, meta) = {
            let inner = store.lock();
            (inner.chunks[&(id, seq)].clone(), inner.meta[&id].clone())
        };
        let plan = SavePlan {
            write: DocWrite::Chunk {
                seq,
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
            store.lock().apply(&id, plan),
            Err(StoreError::Corrupt { .. })
        ));
        let inner = store.lock();
        assert_eq!(inner.chunks[&(id, seq)], stored);
        assert_eq!(inner.meta[&id], meta);
    }
}
