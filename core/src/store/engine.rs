//! The logic both stores share: what a save writes (chunk, compaction or repair), and how a
//! document is assembled from its snapshot and chunks on load. The stores only read and apply.

use std::collections::BTreeSet;

use automerge::{Automerge, ChangeHash, ReadDoc, SaveOptions};

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

impl<B: AsRef<[u8]>> StoredParts<B> {
    /// Whether there is no record at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.chunks.is_empty()
    }

    /// The snapshot's bytes; empty when there is none.
    fn snapshot_bytes(&self) -> &[u8] {
        self.snapshot.as_ref().map_or(&[][..], AsRef::as_ref)
    }
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
/// checksum) are skipped and counted, a missing or empty snapshot record is reported.
pub(crate) fn assemble<B: AsRef<[u8]>>(parts: &StoredParts<B>) -> Assembled {
    let snapshot = parts.snapshot_bytes();
    let total = snapshot.len()
        + parts
            .chunks
            .iter()
            .map(|(_, c)| c.as_ref().len())
            .sum::<usize>();
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(snapshot);
    let mut report = LoadReport {
        snapshot_missing: snapshot.is_empty(),
        ..LoadReport::default()
    };
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

/// What to do when the snapshot record is there but does not load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnBadSnapshot {
    /// Fail with [`StoreError::CorruptDocument`] (a caller's load).
    Fail,
    /// Load the chunks without it (a repairing save, which has the caller's copy besides).
    Skip,
}

/// A loaded document and what loading it found.
pub(crate) struct LoadOutcome {
    pub(crate) doc: Automerge,
    pub(crate) report: LoadReport,
    /// Keys of the chunks skipped as damaged (by frame, or rejected by automerge).
    pub(crate) dropped: Vec<Vec<u8>>,
    /// The snapshot record is there but does not load (only with [`OnBadSnapshot::Skip`]).
    pub(crate) snapshot_unreadable: bool,
}

/// Loads an assembled document. Normally one `Automerge::load` of all the bytes; should
/// automerge reject an intact-looking chunk, the snapshot is loaded alone and the chunks one
/// by one, and the rejected ones are reported as dropped. Then the loaded document is checked:
/// changes that were read but wait for missing dependencies, and `expected_heads` (the stored
/// heads, when known) it lacks, are reported.
pub(crate) fn load_assembled(
    id: &DocumentId,
    assembled: Assembled,
    expected_heads: Option<&[ChangeHash]>,
    on_bad_snapshot: OnBadSnapshot,
) -> Result<LoadOutcome> {
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
    let mut snapshot_unreadable = false;
    let mut doc = match Automerge::load(&bytes) {
        Ok(doc) => doc,
        Err(error) => {
            tracing::warn!(doc_id = %id, %error, "document does not load in one piece, loading chunk by chunk");
            let mut doc = match Automerge::load(&bytes[..snapshot_len]) {
                Ok(doc) => doc,
                Err(source) if on_bad_snapshot == OnBadSnapshot::Skip => {
                    tracing::warn!(doc_id = %id, error = %source, "the snapshot does not load");
                    snapshot_unreadable = true;
                    report.bytes_loaded -= snapshot_len;
                    Automerge::new()
                }
                Err(source) => {
                    return Err(StoreError::CorruptDocument {
                        id: *id,
                        source: Box::new(source),
                    });
                }
            };
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
    report.missing_deps = doc.get_missing_deps(&[]).len();
    report.heads_missing = expected_heads.map_or(0, |heads| {
        heads.iter().filter(|h| !has_change(&doc, h)).count()
    });
    if report.snapshot_missing || report.missing_deps > 0 || report.heads_missing > 0 {
        tracing::warn!(
            doc_id = %id,
            snapshot_missing = report.snapshot_missing,
            missing_deps = report.missing_deps,
            heads_missing = report.heads_missing,
            "stored changes could not be applied"
        );
    }
    Ok(LoadOutcome {
        doc,
        report,
        dropped,
        snapshot_unreadable,
    })
}

/// Whether the stored records a save builds on are as the metadata describes them: the
/// snapshot there, of the recorded size and intact by automerge's checksum; exactly the
/// recorded number and bytes of chunks, each intact by its frame, under keys below
/// [`Meta::next_chunk`]. Reads no more than a load does and parses nothing; when it holds, the
/// stored document loads, and appending a chunk under `next_chunk` overwrites nothing.
fn records_match<B: AsRef<[u8]>>(meta: &Meta, parts: &StoredParts<B>) -> bool {
    let snapshot = parts.snapshot_bytes();
    if snapshot.len() as u64 != meta.snapshot_bytes || !codec::snapshot_intact(snapshot) {
        return false;
    }
    if parts.chunks.len() as u64 != meta.chunks {
        return false;
    }
    let mut chunk_bytes = 0u64;
    for (key, stored) in &parts.chunks {
        let stored = stored.as_ref();
        let below_next = codec::chunk_seq(key).is_ok_and(|seq| seq < meta.next_chunk);
        if !below_next || codec::unframe_chunk(stored).is_none() {
            return false;
        }
        chunk_bytes += stored.len() as u64;
    }
    chunk_bytes == meta.chunk_bytes
}

/// The sequence number after every stored chunk's.
fn after_last_chunk<B>(parts: &StoredParts<B>) -> u64 {
    parts
        .chunks
        .iter()
        .filter_map(|(key, _)| codec::chunk_seq(key).ok())
        .max()
        .map_or(0, |seq| seq.saturating_add(1))
}

/// A document's compact snapshot: automerge's `save()` without changes it could not apply
/// (orphans), so that a stored snapshot always loads complete. A save never stores orphans:
/// the chunks hold applied changes only, too.
fn snapshot_of(doc: &Automerge) -> Vec<u8> {
    doc.save_with_options(SaveOptions {
        retain_orphans: false,
        ..SaveOptions::default()
    })
}

/// What the document part of a save writes.
pub(crate) enum DocWrite {
    /// Nothing new.
    Nothing,
    /// Append a framed chunk under sequence `seq` (a key no stored chunk has).
    Chunk { seq: u64, framed: Vec<u8> },
    /// Replace the snapshot, remove the chunks `remove` (every stored chunk of the document,
    /// by key), and keep the records `quarantine` aside (their stored bytes: a damaged
    /// snapshot, chunks whose changes the new snapshot does not hold).
    Snapshot {
        bytes: Vec<u8>,
        remove: Vec<Vec<u8>>,
        quarantine: Vec<Vec<u8>>,
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

/// The stored document merged with the caller's copy, and what of the stored records the
/// merged document cannot stand in for.
struct Merged {
    doc: Automerge,
    /// Stored bytes of the records to keep aside.
    quarantine: Vec<Vec<u8>>,
    /// Anything stored was damaged (dropped, unreadable, missing, or not applicable): the
    /// records must be rewritten even when the merge adds nothing.
    damaged: bool,
}

/// Merges whatever of the stored document loads into a copy of the stored document with the
/// caller's `doc`. A snapshot that does not load is skipped (the chunks are applied without
/// it, and `doc`'s changes supply what they build on). Records whose content the merged
/// document may not hold are listed for quarantine: damaged chunks and an unreadable
/// snapshot always; every record when some stored change still cannot be applied (which
/// record holds it is unknown).
fn merge_stored<B: AsRef<[u8]>>(
    id: &DocumentId,
    prev: Option<&Meta>,
    doc: &Automerge,
    parts: &StoredParts<B>,
) -> Result<Merged> {
    let loaded = load_assembled(
        id,
        assemble(parts),
        prev.map(|meta| meta.heads.as_slice()),
        OnBadSnapshot::Skip,
    )?;
    let mut merged = loaded.doc;
    let added = merged.get_changes_added(doc);
    merged.apply_changes(added)?;
    // Stored changes that were read but still cannot be applied: which records hold them is
    // not known, so every record is kept aside. (A stored head that is simply gone was in a
    // damaged chunk or snapshot, kept aside as such, or in a record that is gone itself.)
    let unapplied = !merged.get_missing_deps(&[]).is_empty();
    let heads_missing = prev.is_some_and(|meta| meta.heads.iter().any(|h| !has_change(&merged, h)));
    let damaged = unapplied
        || heads_missing
        || loaded.snapshot_unreadable
        || !loaded.report.is_complete()
        || prev.is_some_and(|meta| !records_match(meta, parts));

    let snapshot = parts.snapshot_bytes();
    let mut quarantine = Vec::new();
    if !snapshot.is_empty() && (unapplied || loaded.snapshot_unreadable) {
        quarantine.push(snapshot.to_vec());
    }
    quarantine.extend(
        parts
            .chunks
            .iter()
            .filter(|(key, _)| unapplied || loaded.dropped.contains(key))
            .map(|(_, stored)| stored.as_ref().to_vec()),
    );
    if damaged {
        tracing::warn!(
            doc_id = %id,
            unapplied,
            heads_missing,
            snapshot_unreadable = loaded.snapshot_unreadable,
            snapshot_missing = loaded.report.snapshot_missing,
            chunks_dropped = loaded.report.chunks_dropped,
            quarantined = quarantine.len(),
            "repairing a damaged document"
        );
    }
    Ok(Merged {
        doc: merged,
        quarantine,
        damaged,
    })
}

/// Decides what saving `doc` as `id` writes, given the stored metadata and index entry
/// `prev` (see [`codec::decode_stored`]) and the document's stored records `parts`.
///
/// The usual save checks that the records match the metadata ([`records_match`]) and that
/// `doc` has every stored head, then appends a chunk or compacts. Otherwise — `doc` lacks
/// stored changes, or the records are damaged, or records exist without metadata — it merges
/// the stored document with `doc` and writes the union as a fresh snapshot, keeping aside
/// every record whose content the snapshot may not hold.
pub(crate) fn plan_save<B: AsRef<[u8]>>(
    id: &DocumentId,
    prev: Option<(Meta, IndexEntry)>,
    doc: &Automerge,
    index: &IndexEntry,
    parts: &StoredParts<B>,
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
    let remove_all = || -> Vec<Vec<u8>> { parts.chunks.iter().map(|(k, _)| k.clone()).collect() };

    let mut merged_stored_changes = false;
    let (write, meta, new_changes) = match &prev {
        None if parts.is_empty() => {
            let bytes = snapshot_of(doc);
            let heads = doc.get_heads();
            let meta = Meta {
                snapshot_bytes: bytes.len() as u64,
                heads,
                ..Meta::default()
            };
            let new_changes = !meta.heads.is_empty();
            let write = DocWrite::Snapshot {
                bytes,
                remove: Vec::new(),
                quarantine: Vec::new(),
            };
            (write, meta, new_changes)
        }
        Some(prev)
            if prev.heads.iter().all(|h| has_change(doc, h)) && records_match(prev, parts) =>
        {
            let incremental = doc.save_after(&prev.heads);
            if incremental.is_empty() {
                (DocWrite::Nothing, prev.clone(), false)
            } else {
                let framed = codec::frame_chunk(&incremental)?;
                let framed_len = framed.len() as u64;
                if prev.chunk_bytes + framed_len > prev.snapshot_bytes {
                    // The chunks would outgrow the snapshot: compact. `doc` holds everything
                    // stored (it has every stored head), so its snapshot replaces it all.
                    let bytes = snapshot_of(doc);
                    let meta = Meta {
                        heads: doc.get_heads(),
                        snapshot_bytes: bytes.len() as u64,
                        chunk_bytes: 0,
                        chunks: 0,
                        next_chunk: prev.next_chunk,
                    };
                    let write = DocWrite::Snapshot {
                        bytes,
                        remove: remove_all(),
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
        prev => {
            // `doc` lacks stored changes (another copy of the document was saved, or a damaged
            // chunk was skipped when `doc` was loaded), or the stored records are damaged, or
            // there are records without metadata: merge, and write the union as a fresh
            // snapshot, keeping aside what it may not hold.
            let Merged {
                doc: merged,
                quarantine,
                damaged,
            } = merge_stored(id, prev.as_ref(), doc, parts)?;
            let prev_heads = prev.as_ref().map_or(&[][..], |meta| meta.heads.as_slice());
            let heads = merged.get_heads();
            let new_changes = heads != prev_heads;
            merged_stored_changes = heads.iter().any(|h| !has_change(doc, h));
            tracing::info!(
                doc_id = %id,
                damaged,
                new_changes,
                merged_stored_changes,
                "merged the stored document with a copy"
            );
            match prev {
                Some(prev) if !new_changes && !damaged => {
                    // A stale copy holding nothing the store lacks, and nothing to repair: the
                    // stored records stay as they are.
                    (DocWrite::Nothing, prev.clone(), false)
                }
                _ => {
                    let bytes = snapshot_of(&merged);
                    let meta = Meta {
                        heads,
                        snapshot_bytes: bytes.len() as u64,
                        chunk_bytes: 0,
                        chunks: 0,
                        next_chunk: prev
                            .as_ref()
                            .map_or(0, |meta| meta.next_chunk)
                            .max(after_last_chunk(parts)),
                    };
                    let write = DocWrite::Snapshot {
                        bytes,
                        remove: remove_all(),
                        quarantine,
                    };
                    (write, meta, new_changes)
                }
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
            merged_stored_changes,
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

    fn load(parts: &StoredParts<Vec<u8>>, heads: &[ChangeHash]) -> LoadOutcome {
        load_assembled(
            &DocumentId::from_bytes([1; 16]),
            assemble(parts),
            Some(heads),
            OnBadSnapshot::Fail,
        )
        .unwrap()
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
        let LoadOutcome {
            doc: loaded,
            report,
            dropped,
            ..
        } = load(&whole, &doc.get_heads());
        assert_eq!(loaded.get_heads(), doc.get_heads());
        assert_eq!(report.chunks_loaded, 2);
        assert!(report.is_complete() && dropped.is_empty());

        for cut in 1..c2.len() {
            let parts = StoredParts {
                snapshot: Some(snapshot.clone()),
                chunks: vec![(key(0), c1.clone()), (key(1), c2[..cut].to_vec())],
            };
            let LoadOutcome {
                doc: loaded,
                report,
                dropped,
                ..
            } = load(&parts, &h2);
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
