//! The logic both stores share: what a save writes (chunk, compaction or repair), and how a
//! document is assembled from its snapshot and chunks on load. The stores only read and apply.

use std::collections::BTreeSet;

use automerge::{Automerge, ChangeHash};

use super::codec::{self, Meta};
use super::error::{Result, StoreError};
use super::{IndexEntry, LoadReport, SaveReport};
use crate::ids::DocumentId;

/// A document's stored records, as read from a store.
pub(crate) struct StoredParts<B> {
    /// The snapshot (automerge `save()` bytes), if any.
    pub(crate) snapshot: Option<B>,
    /// The chunks, framed, in the order they were written, with their keys (a malformed key
    /// makes its chunk count as damaged).
    pub(crate) chunks: Vec<(Vec<u8>, B)>,
}

/// The stored bytes put together: snapshot then every intact chunk.
pub(crate) struct Assembled {
    pub(crate) bytes: Vec<u8>,
    pub(crate) report: LoadReport,
    /// Length of the snapshot at the start of `bytes`.
    snapshot_len: usize,
    /// Key and range in `bytes` of each intact chunk's payload.
    chunk_ranges: Vec<(Vec<u8>, std::ops::Range<usize>)>,
    /// Keys of the chunks skipped as damaged.
    pub(crate) dropped: Vec<Vec<u8>>,
    /// What follows the header of each damaged chunk: automerge may still find complete,
    /// checksummed changes at its start.
    salvage: Vec<Vec<u8>>,
}

/// Puts a document's snapshot and intact chunks together; damaged chunks (by frame length and
/// checksum) are skipped and counted.
pub(crate) fn assemble<B: AsRef<[u8]>>(parts: &StoredParts<B>) -> Assembled {
    let snapshot = parts.snapshot.as_ref().map_or(&[][..], AsRef::as_ref);
    let total = snapshot.len()
        + parts
            .chunks
            .iter()
            .map(|(_, c)| c.as_ref().len())
            .sum::<usize>();
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(snapshot);
    let mut report = LoadReport::default();
    let mut chunk_ranges = Vec::with_capacity(parts.chunks.len());
    let mut dropped = Vec::new();
    let mut salvage = Vec::new();
    for (key, stored) in &parts.chunks {
        let stored = stored.as_ref();
        let payload = codec::chunk_seq(key)
            .ok()
            .and_then(|_| codec::unframe_chunk(stored));
        match payload {
            Some(payload) => {
                let start = bytes.len();
                bytes.extend_from_slice(payload);
                chunk_ranges.push((key.clone(), start..bytes.len()));
                report.chunks_loaded += 1;
            }
            None => {
                report.chunks_dropped += 1;
                report.bytes_dropped += stored.len();
                dropped.push(key.clone());
                if let Some(rest) = stored
                    .get(codec::CHUNK_HEADER_LEN..)
                    .filter(|r| !r.is_empty())
                {
                    salvage.push(rest.to_vec());
                }
            }
        }
    }
    report.bytes_loaded = bytes.len();
    Assembled {
        bytes,
        report,
        snapshot_len: snapshot.len(),
        chunk_ranges,
        dropped,
        salvage,
    }
}

/// Loads an assembled document. Normally one `Automerge::load` of all the bytes; should
/// automerge reject an intact-looking chunk, the snapshot is loaded alone and the chunks one
/// by one, and the rejected ones are reported as dropped.
pub(crate) fn load_assembled(
    id: &DocumentId,
    assembled: Assembled,
) -> Result<(Automerge, LoadReport, Vec<Vec<u8>>)> {
    let Assembled {
        bytes,
        mut report,
        snapshot_len,
        chunk_ranges,
        mut dropped,
        salvage,
    } = assembled;
    if report.chunks_dropped > 0 {
        tracing::warn!(
            doc_id = %id,
            chunks_dropped = report.chunks_dropped,
            bytes_dropped = report.bytes_dropped,
            "skipped damaged chunks"
        );
    }
    let mut doc = match Automerge::load(&bytes) {
        Ok(doc) => doc,
        Err(error) => {
            tracing::warn!(doc_id = %id, %error, "document does not load in one piece, loading chunk by chunk");
            let mut doc = Automerge::load(&bytes[..snapshot_len]).map_err(|source| {
                StoreError::CorruptDocument {
                    id: *id,
                    source: Box::new(source),
                }
            })?;
            for (key, range) in chunk_ranges {
                let len = range.len();
                if let Err(error) = doc.load_incremental(&bytes[range]) {
                    tracing::warn!(doc_id = %id, %error, "automerge rejected a chunk");
                    report.chunks_loaded -= 1;
                    report.chunks_dropped += 1;
                    report.bytes_dropped += len + codec::CHUNK_HEADER_LEN;
                    report.bytes_loaded -= len;
                    dropped.push(key);
                }
            }
            doc
        }
    };
    if !salvage.is_empty() {
        // Automerge checks each change's own checksum and loads the complete ones before the
        // damage ("every complete change before it loads").
        let before = doc.get_heads();
        for rest in &salvage {
            if let Err(error) = doc.load_incremental(rest) {
                tracing::warn!(doc_id = %id, %error, "nothing salvaged from a damaged chunk");
            }
        }
        if doc.get_heads() != before {
            report.changes_salvaged = doc.get_changes(&before).len();
        }
    }
    Ok((doc, report, dropped))
}

/// What the document part of a save writes.
pub(crate) enum DocWrite {
    /// Nothing new.
    Nothing,
    /// Append a framed chunk under sequence `seq`.
    Chunk { seq: u64, framed: Vec<u8> },
    /// Replace the snapshot, remove every chunk of the document, and keep the damaged chunks
    /// `quarantine` (chunk key, stored bytes) aside.
    Snapshot {
        bytes: Vec<u8>,
        quarantine: Vec<(Vec<u8>, Vec<u8>)>,
    },
}

/// Everything one save writes; applied atomically by the store, which compares every
/// bookkeeping write with what is stored inside the same transaction and skips the ones that
/// would not change anything (see [`Bookkeeping`]).
pub(crate) struct SavePlan {
    pub(crate) write: DocWrite,
    /// The new metadata record, encoded; `None` when it did not change.
    pub(crate) meta: Option<Vec<u8>>,
    /// The new index entry record, encoded; `None` when the entry did not change.
    pub(crate) entry: Option<Vec<u8>>,
    /// Index keys to remove and to add (encoded): the difference between the stored entry's
    /// keys and the new one's.
    pub(crate) index_removed: Vec<Vec<u8>>,
    pub(crate) index_added: Vec<Vec<u8>>,
    /// The save stores new changes: the document must be marked pending (if it is not yet).
    pub(crate) mark_pending: bool,
    /// The report, without [`SaveReport::overhead_bytes`]: the store counts those as it
    /// writes them.
    pub(crate) report: SaveReport,
}

impl SavePlan {
    /// Whether the plan may write anything at all.
    pub(crate) fn writes_anything(&self) -> bool {
        !matches!(self.write, DocWrite::Nothing)
            || self.meta.is_some()
            || self.entry.is_some()
            || !self.index_removed.is_empty()
            || !self.index_added.is_empty()
            || self.mark_pending
    }
}

/// Counts the bookkeeping bytes a save writes (keys, metadata and entry records, index keys,
/// the pending mark, removals), for [`SaveReport::overhead_bytes`]. Both stores apply a plan
/// in the same order with the same comparisons, so their reports agree.
#[derive(Default)]
pub(crate) struct Bookkeeping {
    pub(crate) bytes: usize,
}

impl Bookkeeping {
    /// A record of `key` and `value` is written.
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) {
        self.bytes += key.len() + value.len();
    }

    /// A record under `key` is removed.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.bytes += key.len();
    }
}

fn has_change(doc: &Automerge, hash: &ChangeHash) -> bool {
    doc.get_change_meta_by_hash(hash).is_some()
}

/// Decides what saving `doc` as `id` writes, given the stored metadata and index entry
/// `prev` (see [`codec::decode_stored`]). `read_stored` is called only when `doc` lacks stored
/// changes (then the stored document is merged in).
pub(crate) fn plan_save<B: AsRef<[u8]>>(
    id: &DocumentId,
    prev: Option<(Meta, IndexEntry)>,
    doc: &Automerge,
    index: &IndexEntry,
    read_stored: impl FnOnce() -> Result<StoredParts<B>>,
) -> Result<SavePlan> {
    let (prev, prev_entry) = prev.unzip();
    let old_keys = prev_entry
        .as_ref()
        .map(IndexEntry::lookup_keys)
        .unwrap_or_default();
    let new_keys = index.lookup_keys();
    let encode = |keys: &mut dyn Iterator<Item = &(String, String)>| -> Result<Vec<Vec<u8>>> {
        keys.map(|(name, value)| codec::index_key(name, value, id))
            .collect()
    };
    let index_removed = encode(&mut old_keys.difference(&new_keys))?;
    let index_added = encode(&mut new_keys.difference(&old_keys))?;
    let entry = if prev_entry.as_ref() == Some(index) {
        None
    } else {
        Some(codec::encode_entry(index)?)
    };

    let (write, meta, new_changes) = match &prev {
        None => {
            let bytes = doc.save();
            let heads = doc.get_heads();
            let meta = Meta {
                snapshot_bytes: bytes.len() as u64,
                heads,
                ..Meta::default()
            };
            let new_changes = !meta.heads.is_empty();
            let write = DocWrite::Snapshot {
                bytes,
                quarantine: Vec::new(),
            };
            (write, meta, new_changes)
        }
        Some(prev) if prev.heads.iter().all(|h| has_change(doc, h)) => {
            let incremental = doc.save_after(&prev.heads);
            if incremental.is_empty() {
                (DocWrite::Nothing, prev.clone(), false)
            } else {
                let framed = codec::frame_chunk(&incremental)?;
                let framed_len = framed.len() as u64;
                if prev.chunk_bytes + framed_len > prev.snapshot_bytes {
                    // The chunks would outgrow the snapshot: compact. `doc` holds everything
                    // stored (it has every stored head), so its snapshot replaces it all.
                    let bytes = doc.save();
                    let meta = Meta {
                        heads: doc.get_heads(),
                        snapshot_bytes: bytes.len() as u64,
                        chunk_bytes: 0,
                        chunks: 0,
                        next_chunk: prev.next_chunk,
                    };
                    let write = DocWrite::Snapshot {
                        bytes,
                        quarantine: Vec::new(),
                    };
                    (write, meta, true)
                } else {
                    let meta = Meta {
                        heads: doc.get_heads(),
                        snapshot_bytes: prev.snapshot_bytes,
                        chunk_bytes: prev.chunk_bytes + framed_len,
                        chunks: prev.chunks + 1,
                        next_chunk: prev.next_chunk + 1,
                    };
                    let write = DocWrite::Chunk {
                        seq: prev.next_chunk,
                        framed,
                    };
                    (write, meta, true)
                }
            }
        }
        Some(prev) => {
            // `doc` lacks stored changes: another copy of the document was saved, or a damaged
            // chunk was skipped when `doc` was loaded. Merge, and write the union as a fresh
            // snapshot, keeping damaged chunks aside.
            let parts = read_stored()?;
            let assembled = assemble(&parts);
            let (mut stored, _report, dropped) = load_assembled(id, assembled)?;
            let before = stored.get_heads();
            let known: Vec<ChangeHash> = prev
                .heads
                .iter()
                .filter(|h| has_change(doc, h))
                .copied()
                .collect();
            stored.apply_changes(doc.get_changes(&known))?;
            let heads = stored.get_heads();
            let new_changes = heads != before;
            tracing::info!(
                doc_id = %id,
                damaged_chunks = dropped.len(),
                new_changes,
                "merged a document lacking stored changes"
            );
            if !new_changes && dropped.is_empty() {
                // A stale copy holding nothing the store lacks, and nothing to repair: the
                // stored records stay as they are.
                (DocWrite::Nothing, prev.clone(), false)
            } else {
                let bytes = stored.save();
                let quarantine = parts
                    .chunks
                    .iter()
                    .filter(|(key, _)| dropped.contains(key))
                    .map(|(key, b)| (key.clone(), b.as_ref().to_vec()))
                    .collect();
                let meta = Meta {
                    heads,
                    snapshot_bytes: bytes.len() as u64,
                    chunk_bytes: 0,
                    chunks: 0,
                    next_chunk: prev.next_chunk,
                };
                (DocWrite::Snapshot { bytes, quarantine }, meta, new_changes)
            }
        }
    };

    let (bytes_written, compacted) = match &write {
        DocWrite::Nothing => (0, false),
        DocWrite::Chunk { framed, .. } => (framed.len(), false),
        DocWrite::Snapshot { bytes, .. } => (bytes.len(), true),
    };
    let meta = if prev.as_ref() == Some(&meta) {
        None
    } else {
        Some(meta.encode()?)
    };
    Ok(SavePlan {
        write,
        meta,
        entry,
        index_removed,
        index_added,
        mark_pending: new_changes,
        report: SaveReport {
            bytes_written,
            overhead_bytes: 0,
            compacted,
            new_changes,
        },
    })
}

/// Whether acknowledged `acked` heads cover every stored head.
pub(crate) fn covers(acked: &[ChangeHash], stored: &[ChangeHash]) -> bool {
    let acked: BTreeSet<&ChangeHash> = acked.iter().collect();
    stored.iter().all(|h| acked.contains(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc, ScalarValue};

    fn doc_with(values: &[i64]) -> Automerge {
        let mut doc = Automerge::new();
        for v in values {
            let mut tx = doc.transaction();
            tx.put(ROOT, format!("k{v}"), *v).unwrap();
            tx.commit();
        }
        doc
    }

    fn key(seq: u64) -> Vec<u8> {
        codec::chunk_key(&DocumentId::from_bytes([1; 16]), seq).to_vec()
    }

    fn framed(doc: &Automerge, after: &[ChangeHash]) -> Vec<u8> {
        codec::frame_chunk(&doc.save_after(after)).unwrap()
    }

    #[test]
    fn assembles_snapshot_and_chunks_and_skips_a_truncated_tail() {
        let mut doc = doc_with(&[1]);
        let snapshot = doc.save();
        let h1 = doc.get_heads();
        let mut tx = doc.transaction();
        tx.put(ROOT, "k2", 2).unwrap();
        tx.commit();
        let c1 = framed(&doc, &h1);
        let h2 = doc.get_heads();
        let mut tx = doc.transaction();
        tx.put(ROOT, "k3", 3).unwrap();
        tx.commit();
        let c2 = framed(&doc, &h2);

        let whole = StoredParts {
            snapshot: Some(snapshot.clone()),
            chunks: vec![(key(0), c1.clone()), (key(1), c2.clone())],
        };
        let (loaded, report, dropped) =
            load_assembled(&DocumentId::from_bytes([1; 16]), assemble(&whole)).unwrap();
        assert_eq!(loaded.get_heads(), doc.get_heads());
        assert_eq!(report.chunks_loaded, 2);
        assert!(report.is_complete() && dropped.is_empty());

        for cut in 1..c2.len() {
            let parts = StoredParts {
                snapshot: Some(snapshot.clone()),
                chunks: vec![(key(0), c1.clone()), (key(1), c2[..cut].to_vec())],
            };
            let (loaded, report, dropped) =
                load_assembled(&DocumentId::from_bytes([1; 16]), assemble(&parts)).unwrap();
            assert_eq!(loaded.get_heads(), h2.clone(), "cut at {cut}");
            assert_eq!(
                loaded
                    .get(ROOT, "k2")
                    .unwrap()
                    .map(|(v, _)| v.into_scalar().ok()),
                Some(Some(ScalarValue::Int(2)))
            );
            assert_eq!((report.chunks_loaded, report.chunks_dropped), (1, 1));
            assert_eq!(report.bytes_dropped, cut);
            assert_eq!(dropped, vec![key(1)]);
        }
    }

    #[test]
    fn covers_is_set_inclusion() {
        let a = ChangeHash([1; 32]);
        let b = ChangeHash([2; 32]);
        assert!(covers(&[a, b], &[b]));
        assert!(covers(&[a], &[]));
        assert!(!covers(&[a], &[a, b]));
    }
}
