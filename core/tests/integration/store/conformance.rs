//! The conformance suite of [`DocStore`]: one `pub fn` per behaviour, generic over a
//! [`Harness`], and a macro (after matrix-rust-sdk's `statestore_integration_tests!`) that turns
//! them into `#[test]`s for one store. Run against [`MemoryStore`], [`SledStore`] and a shared
//! `Arc<dyn DocStore>`; a new store implementation adds one `doc_store_conformance!` line.

use std::sync::Arc;

use automerge::sync::State;
use automerge::{Automerge, ChangeHash};
use zhichao_core::ids::StorageId;
use zhichao_core::store::testing::{MetaFields, Record, Tamper};
use zhichao_core::store::{
    CHUNK_HEADER_LEN, DocStore, IndexEntry, KIND_INDEX, MemoryStore, SledStore, StoreError,
};

use super::{append, field, id, set, values};

/// Makes, and for persistent stores reopens, the store under test.
pub(crate) trait Harness: Sized {
    type Store: DocStore + 'static;
    fn new() -> Self;
    fn store(&self) -> &Self::Store;
    /// Raw access to the store's records, to damage them.
    fn tamper(&self) -> &dyn Tamper;
    /// Closes the store and opens it again from what it persisted.
    fn reopen(&mut self);
}

pub(crate) struct Memory(MemoryStore);

impl Harness for Memory {
    type Store = MemoryStore;
    fn new() -> Self {
        Memory(MemoryStore::new())
    }
    fn store(&self) -> &MemoryStore {
        &self.0
    }
    fn tamper(&self) -> &dyn Tamper {
        &self.0
    }
    fn reopen(&mut self) {}
}

/// A store shared as the app shares it: every call goes through `Arc<dyn DocStore>`.
pub(crate) struct Shared {
    store: Arc<dyn DocStore>,
    inner: Arc<MemoryStore>,
}

impl Harness for Shared {
    type Store = Arc<dyn DocStore>;
    fn new() -> Self {
        let inner = Arc::new(MemoryStore::new());
        Shared {
            store: inner.clone(),
            inner,
        }
    }
    fn store(&self) -> &Arc<dyn DocStore> {
        &self.store
    }
    fn tamper(&self) -> &dyn Tamper {
        &*self.inner
    }
    fn reopen(&mut self) {}
}

pub(crate) struct Sled {
    // Dropped before `dir`.
    store: Option<SledStore>,
    dir: tempfile::TempDir,
}

impl Harness for Sled {
    type Store = SledStore;
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path()).expect("open store");
        Sled {
            store: Some(store),
            dir,
        }
    }
    fn store(&self) -> &SledStore {
        self.store.as_ref().expect("store is open")
    }
    fn tamper(&self) -> &dyn Tamper {
        self.store()
    }
    fn reopen(&mut self) {
        self.store = None;
        self.store = Some(SledStore::open(self.dir.path()).expect("reopen store"));
    }
}

/// Runs every conformance test against the store of harness `$harness`.
macro_rules! doc_store_conformance {
    ($module:ident, $harness:ty) => {
        mod $module {
            use super::*;
            doc_store_conformance!(@tests $harness;
                save_then_load_round_trips,
                unknown_ids_are_none,
                an_empty_document_round_trips,
                a_one_field_edit_writes_only_the_incremental_chunk,
                unchanged_bookkeeping_is_not_rewritten,
                compaction_keeps_the_content_and_bounds_the_stored_bytes,
                index_entries_replace_and_find,
                pending_until_the_server_acknowledges_every_saved_head,
                sync_state_round_trips_per_peer,
                a_rejection_holds_until_the_document_changes,
                sequences_strictly_increase_per_name,
                batch_save_writes_every_document,
                a_stale_copy_saved_later_loses_nothing,
                reopening_keeps_everything,
                concurrent_saves_from_threads_are_all_kept,
                a_missing_snapshot_is_reported_and_repaired,
                changes_that_cannot_be_applied_are_reported_and_kept_aside,
                a_metadata_record_behind_the_chunks_never_overwrites_one,
                a_garbage_snapshot_is_rewritten_from_the_callers_copy,
                records_without_metadata_are_merged_not_overwritten,
                a_removed_document_is_gone_and_the_others_stay,
                a_removed_document_is_saved_again_fresh,
                a_document_with_an_unreadable_entry_is_removed_from_the_index,
            );
        }
    };
    (@tests $harness:ty; $($test:ident),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                super::$test::<$harness>();
            }
        )+
    };
}

doc_store_conformance!(memory, Memory);
doc_store_conformance!(sled, Sled);
doc_store_conformance!(shared, Shared);

fn case(plate: &str) -> IndexEntry {
    IndexEntry::new("case").with("plate", plate)
}

pub(crate) fn save_then_load_round_trips<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let mut doc = Automerge::new();
    set(&mut doc, "plate", "晋E·12345 超限 🚛👨‍👩‍👧🇨🇳");
    append(&mut doc, 1);
    append(&mut doc, 2);
    let report = store.save(&id(1), &doc, &case("晋E12345")).unwrap();
    assert!(report.new_changes && report.compacted, "{report:?}");
    assert!(store.contains(&id(1)).unwrap());

    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert!(loaded.report.is_complete());
    assert_eq!(loaded.doc.get_heads(), doc.get_heads());
    assert_eq!(values(&loaded.doc), vec![1, 2]);
    assert_eq!(
        field(&loaded.doc, "plate").as_deref(),
        Some("晋E·12345 超限 🚛👨‍👩‍👧🇨🇳")
    );

    let bytes = store.load_bytes(&id(1)).unwrap().unwrap();
    assert_eq!(
        Automerge::load(&bytes.bytes).unwrap().get_heads(),
        doc.get_heads()
    );
    assert_eq!(bytes.report, loaded.report);
}

pub(crate) fn unknown_ids_are_none<H: Harness>() {
    let h = H::new();
    let store = h.store();
    store
        .save(&id(1), &Automerge::new(), &IndexEntry::new("unit"))
        .unwrap();
    let unknown = id(2);
    assert!(store.load(&unknown).unwrap().is_none());
    assert!(store.load_bytes(&unknown).unwrap().is_none());
    assert!(store.index_entry(&unknown).unwrap().is_none());
    assert!(!store.contains(&unknown).unwrap());
    let peer = StorageId::new("peer").unwrap();
    assert!(store.sync_state(&unknown, &peer).unwrap().is_none());
    assert!(store.sync_state(&id(1), &peer).unwrap().is_none());
    assert!(store.find("plate", "nothing").unwrap().is_empty());
    assert!(store.acknowledge(&unknown, &[]).unwrap());
    assert_eq!(store.ids().unwrap(), vec![id(1)]);
}

pub(crate) fn an_empty_document_round_trips<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let doc = Automerge::new();
    let report = store.save(&id(1), &doc, &IndexEntry::new("case")).unwrap();
    assert!(!report.new_changes, "{report:?}");
    assert!(store.pending().unwrap().is_empty());
    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert!(loaded.doc.get_heads().is_empty());
    assert_eq!(store.find(KIND_INDEX, "case").unwrap(), vec![id(1)]);
}

pub(crate) fn a_one_field_edit_writes_only_the_incremental_chunk<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let index = case("晋E12345");
    let mut doc = Automerge::new();
    for i in 0..200 {
        set(&mut doc, "mass_kg", 49_000 + i);
        append(&mut doc, i);
    }
    store.save(&id(1), &doc, &index).unwrap();

    let before = doc.get_heads();
    set(&mut doc, "findings", "超限 3 300 kg");
    let incremental = doc.save_after(&before).len();
    let report = store.save(&id(1), &doc, &index).unwrap();
    assert!(report.new_changes && !report.compacted, "{report:?}");
    assert_eq!(report.bytes_written, incremental + CHUNK_HEADER_LEN);
    assert!(report.bytes_written < 250, "{report:?}");

    // Nothing new: nothing written.
    let report = store.save(&id(1), &doc, &index).unwrap();
    assert_eq!(report.bytes_written, 0);
    assert_eq!(report.overhead_bytes, 0);
    assert!(!report.new_changes);

    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert_eq!(loaded.report.chunks_loaded, 1);
    assert_eq!(
        field(&loaded.doc, "findings").as_deref(),
        Some("超限 3 300 kg")
    );
}

/// Bytes of a document key (the id), as the pending mark and the metadata record use it.
const DOC_KEY: usize = 16;
/// Bytes of a chunk key (id and sequence number).
const CHUNK_KEY: usize = 24;

pub(crate) fn unchanged_bookkeeping_is_not_rewritten<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let investigating = case("晋E12345").with("status", "investigating");
    let mut doc = Automerge::new();
    for i in 0..200 {
        set(&mut doc, "mass_kg", 49_000 + i);
        append(&mut doc, i);
    }
    store.save(&id(1), &doc, &investigating).unwrap();

    // The document is pending already and its entry is the same: the chunk, its key and the
    // metadata record (one head of 32 bytes, a version byte and a few varints) are all.
    set(&mut doc, "mass_kg", 52_300);
    let steady = store.save(&id(1), &doc, &investigating).unwrap();
    assert!(steady.new_changes && !steady.compacted, "{steady:?}");
    // (The sizes are varints: the record grows by a byte now and then.)
    let meta_record = |overhead: usize| overhead - CHUNK_KEY - DOC_KEY;
    assert!(
        (34..=48).contains(&meta_record(steady.overhead_bytes)),
        "{steady:?}"
    );
    for mass in 52_301..52_305 {
        set(&mut doc, "mass_kg", mass);
        let again = store.save(&id(1), &doc, &investigating).unwrap();
        assert!(!again.compacted, "{again:?}");
        assert!(
            (34..=48).contains(&meta_record(again.overhead_bytes)),
            "{again:?}"
        );
    }

    // Acknowledged: the next edit sets the pending mark (one more key) again, and only then.
    assert!(store.acknowledge(&id(1), &doc.get_heads()).unwrap());
    set(&mut doc, "mass_kg", 52_500);
    let after_ack = store.save(&id(1), &doc, &investigating).unwrap();
    assert!(!after_ack.compacted, "{after_ack:?}");
    assert!(
        (34..=48).contains(&(meta_record(after_ack.overhead_bytes) - DOC_KEY)),
        "{after_ack:?}"
    );
    assert_eq!(store.pending().unwrap(), vec![id(1)]);

    // A changed entry writes the entry record and the changed keys only; the metadata record
    // does not change without new changes, so it is not written.
    let closed = case("晋E12345").with("status", "closed");
    let report = store.save(&id(1), &doc, &closed).unwrap();
    assert_eq!(report.bytes_written, 0);
    assert!(!report.new_changes);
    let keys_changed = 2 * (2 + "status".len() + 4 + 16) + "investigating".len() + "closed".len();
    assert!(
        report.overhead_bytes > keys_changed && report.overhead_bytes < keys_changed + 80,
        "{report:?}"
    );
    assert_eq!(store.find("status", "closed").unwrap(), vec![id(1)]);
    assert!(store.find("status", "investigating").unwrap().is_empty());
    assert_eq!(store.find("plate", "晋E12345").unwrap(), vec![id(1)]);
    assert_eq!(store.index_entry(&id(1)).unwrap(), Some(closed.clone()));
    // The same entry given again: nothing at all.
    let report = store.save(&id(1), &doc, &closed).unwrap();
    assert_eq!((report.bytes_written, report.overhead_bytes), (0, 0));
}

pub(crate) fn compaction_keeps_the_content_and_bounds_the_stored_bytes<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let index = IndexEntry::new("case");
    let mut doc = Automerge::new();
    let mut compactions = 0;
    for i in 0..300 {
        append(&mut doc, i);
        let report = store.save(&id(1), &doc, &index).unwrap();
        if report.compacted {
            compactions += 1;
        }
        let snapshot = doc.save().len();
        let stored = store.load_bytes(&id(1)).unwrap().unwrap().bytes.len();
        // Snapshot plus chunks that never outgrow it (headers aside), so at most about twice
        // the compact size.
        assert!(
            stored <= 2 * snapshot + 300,
            "stored {stored} bytes for a {snapshot}-byte snapshot after save {i}"
        );
    }
    assert!(compactions > 2, "only {compactions} compactions");
    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert_eq!(values(&loaded.doc), (0..300).collect::<Vec<_>>());
    assert_eq!(loaded.doc.get_heads(), doc.get_heads());
}

pub(crate) fn index_entries_replace_and_find<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let doc = Automerge::new();
    let uscc = "91140522MA0K1234X5";
    let a = IndexEntry::new("case")
        .with("plate", "晋E12345")
        .with("status", "investigating")
        .with("unit", uscc);
    let b = IndexEntry::new("case")
        .with("plate", "晋E54321")
        .with("status", "investigating");
    let n = IndexEntry::new("notice")
        .with("unit", uscc)
        .with("open_notice", "");
    store.save(&id(3), &doc, &a).unwrap();
    store.save(&id(1), &doc, &b).unwrap();
    store.save(&id(2), &doc, &n).unwrap();

    assert_eq!(store.find("plate", "晋E12345").unwrap(), vec![id(3)]);
    assert_eq!(
        store.find("status", "investigating").unwrap(),
        vec![id(1), id(3)]
    );
    assert_eq!(store.find("unit", uscc).unwrap(), vec![id(2), id(3)]);
    assert_eq!(store.find("open_notice", "").unwrap(), vec![id(2)]);
    assert_eq!(store.find(KIND_INDEX, "case").unwrap(), vec![id(1), id(3)]);
    assert_eq!(store.find(KIND_INDEX, "notice").unwrap(), vec![id(2)]);
    // Exact values only: no prefix matches.
    assert!(store.find("plate", "晋E1234").unwrap().is_empty());
    assert!(store.find("plat", "e晋E12345").unwrap().is_empty());
    assert_eq!(store.index_entry(&id(3)).unwrap(), Some(a));

    // A save replaces the whole entry.
    let a2 = IndexEntry::new("case")
        .with("plate", "晋E12345")
        .with("status", "closed");
    store.save(&id(3), &doc, &a2).unwrap();
    assert_eq!(store.find("status", "investigating").unwrap(), vec![id(1)]);
    assert_eq!(store.find("status", "closed").unwrap(), vec![id(3)]);
    assert_eq!(store.find("unit", uscc).unwrap(), vec![id(2)]);
    assert_eq!(store.index_entry(&id(3)).unwrap(), Some(a2));

    // The notice is closed: its key goes, duplicates count once.
    let n2 = IndexEntry::new("notice")
        .with("unit", uscc)
        .with("unit", uscc);
    store.save(&id(2), &doc, &n2).unwrap();
    assert!(store.find("open_notice", "").unwrap().is_empty());
    assert_eq!(store.find("unit", uscc).unwrap(), vec![id(2)]);
    // Names and values with separators and NULs do not collide.
    let odd = IndexEntry::new("x").with("a\0b", "c").with("a", "b\0c");
    store.save(&id(4), &doc, &odd).unwrap();
    assert_eq!(store.find("a\0b", "c").unwrap(), vec![id(4)]);
    assert_eq!(store.find("a", "b\0c").unwrap(), vec![id(4)]);
    assert!(store.find("a", "b").unwrap().is_empty());
}

pub(crate) fn pending_until_the_server_acknowledges_every_saved_head<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let index = IndexEntry::new("case");
    let mut doc = Automerge::new();
    append(&mut doc, 1);
    store.save(&id(1), &doc, &index).unwrap();
    let mut other = Automerge::new();
    append(&mut other, 1);
    store.save(&id(2), &other, &index).unwrap();
    assert_eq!(store.pending().unwrap(), vec![id(1), id(2)]);

    let first = doc.get_heads();
    append(&mut doc, 2);
    store.save(&id(1), &doc, &index).unwrap();
    // The server acknowledges what it had before the second save: still pending.
    assert!(!store.acknowledge(&id(1), &first).unwrap());
    assert!(!store.acknowledge(&id(1), &[]).unwrap());
    assert_eq!(store.pending().unwrap(), vec![id(1), id(2)]);
    // A fork the store never saw does not count.
    let mut fork = doc.fork();
    append(&mut fork, 3);
    assert!(!store.acknowledge(&id(1), &fork.get_heads()).unwrap());
    // The current heads (plus anything else) clear it.
    let mut acked: Vec<ChangeHash> = doc.get_heads();
    acked.extend(other.get_heads());
    assert!(store.acknowledge(&id(1), &acked).unwrap());
    assert_eq!(store.pending().unwrap(), vec![id(2)]);
    // Saving without changes keeps it clear; new changes make it pending again.
    store.save(&id(1), &doc, &index).unwrap();
    store.save(&id(1), &doc, &case("晋E1")).unwrap();
    assert_eq!(store.pending().unwrap(), vec![id(2)]);
    append(&mut doc, 3);
    store.save(&id(1), &doc, &index).unwrap();
    assert_eq!(store.pending().unwrap(), vec![id(1), id(2)]);
    assert!(store.acknowledge(&id(2), &other.get_heads()).unwrap());
    assert!(store.acknowledge(&id(1), &doc.get_heads()).unwrap());
    assert!(store.pending().unwrap().is_empty());
}

pub(crate) fn sync_state_round_trips_per_peer<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let mut doc = Automerge::new();
    append(&mut doc, 1);
    let phone = StorageId::new("3b9f0c2e-phone").unwrap();
    let server = StorageId::new("server").unwrap();

    let mut state = State::new();
    state.shared_heads = doc.get_heads();
    store.put_sync_state(&id(1), &phone, &state).unwrap();
    let got = store.sync_state(&id(1), &phone).unwrap().unwrap();
    assert_eq!(got.shared_heads, doc.get_heads());
    assert!(store.sync_state(&id(1), &server).unwrap().is_none());
    assert!(store.sync_state(&id(2), &phone).unwrap().is_none());

    append(&mut doc, 2);
    state.shared_heads = doc.get_heads();
    store.put_sync_state(&id(1), &phone, &state).unwrap();
    store
        .put_sync_state(&id(1), &server, &State::new())
        .unwrap();
    assert_eq!(
        store
            .sync_state(&id(1), &phone)
            .unwrap()
            .unwrap()
            .shared_heads,
        doc.get_heads()
    );
    assert!(
        store
            .sync_state(&id(1), &server)
            .unwrap()
            .unwrap()
            .shared_heads
            .is_empty()
    );
    // Sync state is not a document.
    assert!(!store.contains(&id(1)).unwrap());
}

pub(crate) fn a_rejection_holds_until_the_document_changes<H: Harness>() {
    let mut h = H::new();
    let mut doc = Automerge::new();
    append(&mut doc, 1);
    let index = IndexEntry::new("case");
    h.store().save(&id(1), &doc, &index).unwrap();
    assert_eq!(h.store().rejection(&id(1)).unwrap(), None);
    h.store()
        .put_rejection(&id(1), "no write rights on this document")
        .unwrap();
    h.store().put_rejection(&id(2), "unknown document").unwrap();
    assert_eq!(
        h.store().rejection(&id(1)).unwrap().as_deref(),
        Some("no write rights on this document")
    );
    // Still pending: a refusal is not an acknowledgement.
    assert_eq!(h.store().pending().unwrap(), vec![id(1)]);
    // Not flushed, but a clean close keeps it.
    h.reopen();
    assert!(h.store().rejection(&id(1)).unwrap().is_some());
    // A new change makes it a new candidate.
    append(&mut doc, 2);
    h.store().save(&id(1), &doc, &index).unwrap();
    assert_eq!(h.store().rejection(&id(1)).unwrap(), None);
}

pub(crate) fn sequences_strictly_increase_per_name<H: Harness>() {
    let mut h = H::new();
    let mut last = 0;
    for _ in 0..20 {
        let next = h.store().next_sequence("case:K7Q2").unwrap();
        assert!(next > last);
        last = next;
    }
    assert_eq!(last, 20);
    assert_eq!(h.store().next_sequence("notice:K7Q2").unwrap(), 1);
    h.reopen();
    assert!(h.store().next_sequence("case:K7Q2").unwrap() > last);
}

pub(crate) fn batch_save_writes_every_document<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let mut docs: Vec<Automerge> = (0..5).map(|_| Automerge::new()).collect();
    for (i, doc) in docs.iter_mut().enumerate() {
        append(doc, i as i64);
    }
    let batch: Vec<_> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| (id(i as u8), doc, case(&format!("晋E0000{i}"))))
        .collect();
    let reports = store.save_batch(&batch).unwrap();
    assert_eq!(reports.len(), 5);
    assert!(reports.iter().all(|r| r.new_changes && r.compacted));
    assert_eq!(store.pending().unwrap().len(), 5);

    // One document twice in a batch: its saves apply in order.
    let before = docs[0].clone();
    append(&mut docs[0], 100);
    let batch = vec![
        (id(0), &before, case("晋E00000")),
        (id(0), &docs[0], case("晋E00000")),
        (id(1), &docs[1], case("晋E00001")),
    ];
    let reports = store.save_batch(&batch).unwrap();
    assert!(!reports[0].new_changes && reports[1].new_changes && !reports[2].new_changes);
    for (i, doc) in docs.iter().enumerate() {
        let loaded = store.load(&id(i as u8)).unwrap().unwrap();
        assert_eq!(values(&loaded.doc), values(doc));
        assert_eq!(
            store.find("plate", &format!("晋E0000{i}")).unwrap(),
            vec![id(i as u8)]
        );
    }
    assert!(store.save_batch(&[]).unwrap().is_empty());
}

pub(crate) fn a_stale_copy_saved_later_loses_nothing<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let index = IndexEntry::new("case");
    let mut first = Automerge::new();
    append(&mut first, 1);
    let report = store.save(&id(1), &first, &index).unwrap();
    assert!(!report.merged_stored_changes, "{report:?}");
    // A second copy (e.g. the sync engine's) saves more changes.
    let mut second = store.load(&id(1)).unwrap().unwrap().doc;
    append(&mut second, 2);
    let report = store.save(&id(1), &second, &index).unwrap();
    assert!(!report.merged_stored_changes, "{report:?}");
    // The first copy, unaware, saves its own edit: the store merges, and says so, since the
    // index entry given was derived from the stale copy.
    set(&mut first, "findings", "称重 52 300 kg");
    let report = store.save(&id(1), &first, &index).unwrap();
    assert!(report.new_changes, "{report:?}");
    assert!(report.merged_stored_changes, "{report:?}");

    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert_eq!(values(&loaded.doc), vec![1, 2]);
    assert_eq!(
        field(&loaded.doc, "findings").as_deref(),
        Some("称重 52 300 kg")
    );
    // The store's heads are the union: acknowledging the union clears pending.
    let mut merged = first.clone();
    merged.merge(&mut second.clone()).unwrap();
    assert_eq!(loaded.doc.get_heads(), merged.get_heads());
    assert!(store.acknowledge(&id(1), &merged.get_heads()).unwrap());
    // Saving a copy that holds nothing new changes nothing, but it still lacks stored
    // changes.
    let report = store.save(&id(1), &second, &index).unwrap();
    assert!(!report.new_changes, "{report:?}");
    assert!(report.merged_stored_changes, "{report:?}");
    assert_eq!((report.bytes_written, report.overhead_bytes), (0, 0));
    assert!(store.pending().unwrap().is_empty());
    // A copy holding everything stored merged nothing.
    let report = store.save(&id(1), &merged, &index).unwrap();
    assert!(
        !report.merged_stored_changes && !report.new_changes,
        "{report:?}"
    );
    append(&mut merged, 3);
    let report = store.save(&id(1), &merged, &index).unwrap();
    assert!(
        !report.merged_stored_changes && report.new_changes,
        "{report:?}"
    );
    assert!(!report.compacted, "{report:?}");
}

pub(crate) fn reopening_keeps_everything<H: Harness>() {
    let mut h = H::new();
    let mut doc = Automerge::new();
    for i in 0..50 {
        append(&mut doc, i);
        h.store().save(&id(1), &doc, &case("晋E12345")).unwrap();
    }
    h.store()
        .save(
            &id(2),
            &doc,
            &IndexEntry::new("notice").with("open_notice", ""),
        )
        .unwrap();
    h.store().acknowledge(&id(2), &doc.get_heads()).unwrap();
    let peer = StorageId::new("server").unwrap();
    let mut state = State::new();
    state.shared_heads = doc.get_heads();
    h.store().put_sync_state(&id(1), &peer, &state).unwrap();
    let seq = h.store().next_sequence("case").unwrap();

    h.reopen();
    let store = h.store();
    assert_eq!(store.ids().unwrap(), vec![id(1), id(2)]);
    assert_eq!(
        values(&store.load(&id(1)).unwrap().unwrap().doc),
        (0..50).collect::<Vec<_>>()
    );
    assert_eq!(store.pending().unwrap(), vec![id(1)]);
    assert_eq!(store.find("plate", "晋E12345").unwrap(), vec![id(1)]);
    assert_eq!(store.find("open_notice", "").unwrap(), vec![id(2)]);
    assert_eq!(store.index_entry(&id(1)).unwrap(), Some(case("晋E12345")));
    // Sync state writes are not flushed but survive a clean close.
    assert_eq!(
        store
            .sync_state(&id(1), &peer)
            .unwrap()
            .unwrap()
            .shared_heads,
        doc.get_heads()
    );
    assert!(store.next_sequence("case").unwrap() > seq);
    // Saves continue incrementally from the reopened state.
    append(&mut doc, 50);
    let report = store.save(&id(1), &doc, &case("晋E12345")).unwrap();
    assert!(report.new_changes);
    assert!(report.bytes_written < 250, "{report:?}");
}

pub(crate) fn concurrent_saves_from_threads_are_all_kept<H: Harness>() {
    let h = H::new();
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            // Through the trait object, as the app shares it (`Arc<dyn DocStore>`).
            let store: &dyn DocStore = h.store();
            scope.spawn(move || {
                let mut doc = Automerge::new();
                for i in 0..25 {
                    append(&mut doc, i);
                    store.save(&id(t), &doc, &IndexEntry::new("case")).unwrap();
                    store.next_sequence("shared").unwrap();
                }
            });
        }
    });
    let store = h.store();
    for t in 0..4u8 {
        let loaded = store.load(&id(t)).unwrap().unwrap();
        assert_eq!(values(&loaded.doc), (0..25).collect::<Vec<_>>());
    }
    assert_eq!(store.next_sequence("shared").unwrap(), 101);
}

/// Values in the snapshot of [`snapshot_and_two_chunks`]: enough that two small chunks stay
/// below it (no compaction).
const BASE: i64 = 300;

/// A document of a snapshot (values `0..BASE`) and two chunks (`BASE`, then `BASE + 1`), saved
/// in three saves; returns the complete in-memory copy.
fn snapshot_and_two_chunks<H: Harness>(h: &H, n: u8) -> Automerge {
    let store = h.store();
    let mut doc = Automerge::new();
    for v in 0..BASE {
        append(&mut doc, v);
    }
    store.save(&id(n), &doc, &IndexEntry::new("case")).unwrap();
    for v in BASE..BASE + 2 {
        append(&mut doc, v);
        let report = store.save(&id(n), &doc, &IndexEntry::new("case")).unwrap();
        assert!(!report.compacted, "{report:?}");
    }
    assert_eq!(h.tamper().chunk_seqs(&id(n)), vec![0, 1]);
    doc
}

fn assert_loads_complete<S: DocStore + ?Sized>(store: &S, n: u8, expected: &[i64]) {
    let loaded = store.load(&id(n)).unwrap().expect("the document is stored");
    assert!(loaded.report.is_complete(), "{:?}", loaded.report);
    assert_eq!(values(&loaded.doc), expected);
}

pub(crate) fn a_missing_snapshot_is_reported_and_repaired<H: Harness>() {
    let h = H::new();
    let store = h.store();
    // Missing or empty, with or without chunks: never silently `None`, never "complete".
    for (n, empty_record, keep_chunks) in [(1, false, true), (2, true, true), (3, false, false)] {
        let doc = snapshot_and_two_chunks(&h, n);
        if !keep_chunks {
            // Compact, so that the snapshot holds everything.
            let mut compacted = doc.clone();
            for v in BASE + 2..3 * BASE {
                append(&mut compacted, v);
            }
            assert!(
                store
                    .save(&id(n), &compacted, &IndexEntry::new("case"))
                    .unwrap()
                    .compacted
            );
            assert!(h.tamper().chunk_seqs(&id(n)).is_empty());
        }
        let before: Vec<i64> = values(&store.load(&id(n)).unwrap().unwrap().doc);
        let snapshot = h.tamper().raw(Record::Snapshot(id(n))).unwrap();
        h.tamper()
            .set_raw(Record::Snapshot(id(n)), empty_record.then_some(&[][..]));

        assert!(store.contains(&id(n)).unwrap());
        let loaded = store
            .load(&id(n))
            .unwrap()
            .expect("a listed document loads");
        assert!(!loaded.report.is_complete(), "{:?}", loaded.report);
        assert!(loaded.report.snapshot_missing, "{:?}", loaded.report);
        assert!(loaded.report.heads_missing > 0, "{:?}", loaded.report);
        if keep_chunks {
            // The chunks were read, but build on the lost snapshot.
            assert!(loaded.report.missing_deps > 0, "{:?}", loaded.report);
        }
        let bytes = store.load_bytes(&id(n)).unwrap().expect("listed");
        assert!(bytes.report.snapshot_missing && !bytes.report.is_complete());

        // A save of the complete copy the caller holds restores the document entirely.
        let mut copy = store.load(&id(n)).unwrap().unwrap().doc;
        copy.merge(&mut Automerge::load(&snapshot).unwrap())
            .unwrap();
        let report = store.save(&id(n), &copy, &IndexEntry::new("case")).unwrap();
        assert!(report.compacted, "{report:?}");
        assert_loads_complete(store, n, &before);
        // Saves are incremental again and keep it loadable.
        append(&mut copy, 1000);
        let report = store.save(&id(n), &copy, &IndexEntry::new("case")).unwrap();
        assert!(report.new_changes && !report.compacted, "{report:?}");
        let mut expected = before.clone();
        expected.push(1000);
        assert_loads_complete(store, n, &expected);
    }

    // The copy loaded past the loss (it lacks the snapshot's changes) is saved: the chunks
    // that cannot be applied are kept aside, and the document loads again.
    snapshot_and_two_chunks(&h, 4);
    let chunks: Vec<Vec<u8>> = [0, 1]
        .iter()
        .map(|seq| h.tamper().raw(Record::Chunk(id(4), *seq)).unwrap())
        .collect();
    h.tamper().set_raw(Record::Snapshot(id(4)), None);
    let mut partial = store.load(&id(4)).unwrap().unwrap().doc;
    set(&mut partial, "findings", "重新录入");
    let report = store
        .save(&id(4), &partial, &IndexEntry::new("case"))
        .unwrap();
    assert!(report.compacted && report.new_changes, "{report:?}");
    for chunk in &chunks {
        assert!(h.tamper().quarantined(&id(4)).contains(chunk));
    }
    let loaded = store.load(&id(4)).unwrap().unwrap();
    assert!(loaded.report.is_complete(), "{:?}", loaded.report);
    assert_eq!(field(&loaded.doc, "findings").as_deref(), Some("重新录入"));
}

pub(crate) fn changes_that_cannot_be_applied_are_reported_and_kept_aside<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let mut doc = snapshot_and_two_chunks(&h, 1);
    // Chunk 0 (value BASE) is lost: its place is taken by a chunk of value BASE + 2, as a save
    // overwriting it would have left it. Chunk 1 and the new one build on the lost one.
    let before = doc.get_heads();
    append(&mut doc, BASE + 2);
    // Framed the way the store frames a chunk: version, length, checksum, payload.
    let payload = doc.save_after(&before);
    let mut framed = vec![1];
    framed.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    framed.extend_from_slice(&sha256_prefix(&payload));
    framed.extend_from_slice(&payload);
    h.tamper().set_raw(Record::Chunk(id(1), 0), Some(&framed));
    let meta = MetaFields::decode(&h.tamper().raw(Record::Meta(id(1))).unwrap()).unwrap();
    let second = h.tamper().raw(Record::Chunk(id(1), 1)).unwrap();
    let forged = MetaFields {
        heads: doc.get_heads(),
        chunk_bytes: (framed.len() + second.len()) as u64,
        ..meta
    };
    h.tamper()
        .set_raw(Record::Meta(id(1)), Some(&forged.encode().unwrap()));

    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert_eq!(values(&loaded.doc), (0..BASE).collect::<Vec<_>>());
    assert!(!loaded.report.is_complete(), "{:?}", loaded.report);
    assert_eq!(loaded.report.chunks_dropped, 0);
    assert!(loaded.report.missing_deps > 0, "{:?}", loaded.report);
    assert_eq!(loaded.report.heads_missing, 1, "{:?}", loaded.report);

    // The caller saves what it loaded, with an edit: the document is rewritten, and the
    // chunks whose changes it cannot hold are kept aside, never deleted.
    let mut partial = loaded.doc;
    append(&mut partial, 99);
    let report = store
        .save(&id(1), &partial, &IndexEntry::new("case"))
        .unwrap();
    assert!(report.compacted, "{report:?}");
    let quarantined = h.tamper().quarantined(&id(1));
    assert!(quarantined.contains(&framed) && quarantined.contains(&second));
    let mut expected: Vec<i64> = (0..BASE).collect();
    expected.push(99);
    assert_loads_complete(store, 1, &expected);

    // A copy that has the lost change brings everything back, and merges the stored edit.
    let report = store.save(&id(1), &doc, &IndexEntry::new("case")).unwrap();
    assert!(report.merged_stored_changes, "{report:?}");
    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert!(loaded.report.is_complete(), "{:?}", loaded.report);
    let mut got = values(&loaded.doc);
    got.sort_unstable();
    let mut expected: Vec<i64> = (0..BASE + 3).collect();
    expected.push(99);
    expected.sort_unstable();
    assert_eq!(got, expected);
}

/// The first 4 bytes of the SHA-256 of `payload`, as the store's chunk frame holds them.
fn sha256_prefix(payload: &[u8]) -> [u8; 4] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(payload);
    [digest[0], digest[1], digest[2], digest[3]]
}

pub(crate) fn a_metadata_record_behind_the_chunks_never_overwrites_one<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let mut doc = snapshot_and_two_chunks(&h, 1);
    let chunk0 = h.tamper().raw(Record::Chunk(id(1), 0)).unwrap();
    // A metadata record that says no chunk was ever written.
    let meta = MetaFields::decode(&h.tamper().raw(Record::Meta(id(1))).unwrap()).unwrap();
    let forged = MetaFields {
        next_chunk: 0,
        chunks: 0,
        chunk_bytes: 0,
        ..meta
    };
    h.tamper()
        .set_raw(Record::Meta(id(1)), Some(&forged.encode().unwrap()));

    append(&mut doc, BASE + 2);
    let report = store.save(&id(1), &doc, &IndexEntry::new("case")).unwrap();
    assert!(!report.merged_stored_changes, "{report:?}");
    // Chunk 0 was not overwritten: it is either untouched or carried into a fresh snapshot.
    let now = h.tamper().raw(Record::Chunk(id(1), 0));
    assert!(now.is_none() || now.as_ref() == Some(&chunk0));
    assert_loads_complete(store, 1, &(0..BASE + 3).collect::<Vec<_>>());
    // Later saves append under fresh keys and keep it loadable.
    for v in BASE + 3..BASE + 6 {
        append(&mut doc, v);
        store.save(&id(1), &doc, &IndexEntry::new("case")).unwrap();
    }
    assert_loads_complete(store, 1, &(0..BASE + 6).collect::<Vec<_>>());
    let seqs = h.tamper().chunk_seqs(&id(1));
    assert!(seqs.iter().all(|seq| *seq >= 2), "{seqs:?}");
}

pub(crate) fn a_garbage_snapshot_is_rewritten_from_the_callers_copy<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let garbage = b"\x85\x6f\x4a\x83 not a snapshot at all".to_vec();

    // The caller's copy is complete; with and without a new edit.
    for (n, edit) in [(1, true), (2, false)] {
        let mut doc = snapshot_and_two_chunks(&h, n);
        h.tamper().set_raw(Record::Snapshot(id(n)), Some(&garbage));
        assert!(matches!(
            store.load(&id(n)),
            Err(StoreError::CorruptDocument { .. })
        ));
        let mut expected: Vec<i64> = (0..BASE + 2).collect();
        if edit {
            append(&mut doc, BASE + 2);
            expected.push(BASE + 2);
        }
        let report = store.save(&id(n), &doc, &IndexEntry::new("case")).unwrap();
        assert!(report.compacted, "{report:?}");
        assert_eq!(report.new_changes, edit, "{report:?}");
        assert!(!report.merged_stored_changes, "{report:?}");
        assert_loads_complete(store, n, &expected);
        assert!(h.tamper().quarantined(&id(n)).contains(&garbage));
    }

    // A snapshot damaged by one flipped bit is found as well.
    let mut doc = snapshot_and_two_chunks(&h, 3);
    let mut flipped = h.tamper().raw(Record::Snapshot(id(3))).unwrap();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x04;
    h.tamper().set_raw(Record::Snapshot(id(3)), Some(&flipped));
    append(&mut doc, BASE + 2);
    store.save(&id(3), &doc, &IndexEntry::new("case")).unwrap();
    assert_loads_complete(store, 3, &(0..BASE + 3).collect::<Vec<_>>());
    assert!(h.tamper().quarantined(&id(3)).contains(&flipped));

    // A stale copy (without the chunks' changes): the chunks apply on top of it.
    let full = snapshot_and_two_chunks(&h, 4);
    let mut stale = full.fork_at(&stale_heads(&full, BASE as usize)).unwrap();
    h.tamper().set_raw(Record::Snapshot(id(4)), Some(&garbage));
    set(&mut stale, "findings", "现场复核");
    let report = store
        .save(&id(4), &stale, &IndexEntry::new("case"))
        .unwrap();
    assert!(
        report.merged_stored_changes && report.compacted,
        "{report:?}"
    );
    assert_loads_complete(store, 4, &(0..BASE + 2).collect::<Vec<_>>());
    let loaded = store.load(&id(4)).unwrap().unwrap();
    assert_eq!(field(&loaded.doc, "findings").as_deref(), Some("现场复核"));
}

/// The heads of `doc` after its first `n` changes.
fn stale_heads(doc: &Automerge, n: usize) -> Vec<ChangeHash> {
    let changes = doc.get_changes(&[]);
    vec![changes[n - 1].hash()]
}

pub(crate) fn records_without_metadata_are_merged_not_overwritten<H: Harness>() {
    let h = H::new();
    let store = h.store();
    snapshot_and_two_chunks(&h, 1);
    h.tamper().set_raw(Record::Meta(id(1)), None);
    h.tamper().set_raw(Record::Entry(id(1)), None);
    assert!(!store.contains(&id(1)).unwrap());

    // A new document saved under the id does not wipe the records left behind.
    let mut fresh = Automerge::new();
    set(&mut fresh, "findings", "新建");
    let report = store
        .save(&id(1), &fresh, &IndexEntry::new("case"))
        .unwrap();
    assert!(
        report.merged_stored_changes && report.new_changes,
        "{report:?}"
    );
    let loaded = store.load(&id(1)).unwrap().unwrap();
    assert!(loaded.report.is_complete(), "{:?}", loaded.report);
    assert_eq!(values(&loaded.doc), (0..BASE + 2).collect::<Vec<_>>());
    assert_eq!(field(&loaded.doc, "findings").as_deref(), Some("新建"));
}

pub(crate) fn a_removed_document_is_gone_and_the_others_stay<H: Harness>() {
    let mut h = H::new();
    let phone = StorageId::new("3b9f0c2e-phone").unwrap();
    let server = StorageId::new("server").unwrap();
    let watch = IndexEntry::new("watchlist");
    let kept = {
        let store = h.store();
        let removed = snapshot_and_two_chunks(&h, 1);
        store
            .save(&id(1), &removed, &case("晋E12345").with("status", "closed"))
            .unwrap();
        let mut kept = Automerge::new();
        append(&mut kept, 7);
        store.save(&id(2), &kept, &case("晋E12345")).unwrap();
        store.save(&id(3), &Automerge::new(), &watch).unwrap();
        let mut state = State::new();
        state.shared_heads = removed.get_heads();
        for peer in [&phone, &server] {
            store.put_sync_state(&id(1), peer, &state).unwrap();
            store.put_sync_state(&id(2), peer, &state).unwrap();
        }
        assert_eq!(store.pending().unwrap(), vec![id(1), id(2)]);

        assert!(store.remove(&id(1)).unwrap());
        kept
    };
    // Gone from everything, durably; the others untouched.
    for round in 0..2 {
        let store = h.store();
        assert!(store.load(&id(1)).unwrap().is_none(), "round {round}");
        assert!(store.load_bytes(&id(1)).unwrap().is_none());
        assert!(!store.contains(&id(1)).unwrap());
        assert!(store.index_entry(&id(1)).unwrap().is_none());
        assert_eq!(store.ids().unwrap(), vec![id(2), id(3)]);
        assert_eq!(store.pending().unwrap(), vec![id(2)]);
        assert_eq!(store.find("plate", "晋E12345").unwrap(), vec![id(2)]);
        assert_eq!(store.find(KIND_INDEX, "case").unwrap(), vec![id(2)]);
        assert!(store.find("status", "closed").unwrap().is_empty());
        assert_eq!(store.find(KIND_INDEX, "watchlist").unwrap(), vec![id(3)]);
        for peer in [&phone, &server] {
            assert!(store.sync_state(&id(1), peer).unwrap().is_none());
            assert!(store.sync_state(&id(2), peer).unwrap().is_some());
        }
        assert_loads_complete(store, 2, &[7]);
        assert_eq!(
            store.load(&id(2)).unwrap().unwrap().doc.get_heads(),
            kept.get_heads()
        );
        assert_eq!(store.index_entry(&id(3)).unwrap(), Some(watch.clone()));
        // Removing twice, or an id never stored: nothing to remove.
        assert!(!store.remove(&id(1)).unwrap());
        assert!(!store.remove(&id(9)).unwrap());
        h.reopen();
    }
    assert!(h.store().remove(&id(3)).unwrap());
    assert!(h.store().find(KIND_INDEX, "watchlist").unwrap().is_empty());
    assert_eq!(h.store().ids().unwrap(), vec![id(2)]);
}

pub(crate) fn a_removed_document_is_saved_again_fresh<H: Harness>() {
    let h = H::new();
    let store = h.store();
    // Snapshot and chunks: none of them may come back under the id.
    let old = snapshot_and_two_chunks(&h, 1);
    store.put_rejection(&id(1), "refused").unwrap();
    assert_eq!(store.rejection(&id(1)).unwrap().as_deref(), Some("refused"));
    assert!(store.remove(&id(1)).unwrap());
    assert!(h.tamper().chunk_seqs(&id(1)).is_empty());

    let mut fresh = Automerge::new();
    append(&mut fresh, 42);
    let report = store.save(&id(1), &fresh, &case("晋E54321")).unwrap();
    assert!(
        report.new_changes && report.compacted && !report.merged_stored_changes,
        "{report:?}"
    );
    assert_loads_complete(store, 1, &[42]);
    assert_eq!(store.find("plate", "晋E54321").unwrap(), vec![id(1)]);
    assert_eq!(store.pending().unwrap(), vec![id(1)]);
    assert!(store.rejection(&id(1)).unwrap().is_none());
    // The old document saved again after a removal: stored as new, not refused any more.
    assert!(store.remove(&id(1)).unwrap());
    let report = store.save(&id(1), &old, &IndexEntry::new("case")).unwrap();
    assert!(
        report.new_changes && !report.merged_stored_changes,
        "{report:?}"
    );
    assert!(store.rejection(&id(1)).unwrap().is_none());
    assert_loads_complete(store, 1, &(0..BASE + 2).collect::<Vec<_>>());

    // A refusal of a document without changes (its heads do not change when saved again)
    // goes with the document too.
    store
        .save(&id(2), &Automerge::new(), &case("晋E1"))
        .unwrap();
    store.put_rejection(&id(2), "refused").unwrap();
    assert!(store.remove(&id(2)).unwrap());
    store
        .save(&id(2), &Automerge::new(), &case("晋E1"))
        .unwrap();
    assert!(store.rejection(&id(2)).unwrap().is_none());
}

pub(crate) fn a_document_with_an_unreadable_entry_is_removed_from_the_index<H: Harness>() {
    let h = H::new();
    let store = h.store();
    let mut doc = Automerge::new();
    append(&mut doc, 1);
    store
        .save(&id(1), &doc, &case("晋E12345").with("status", "closed"))
        .unwrap();
    store.save(&id(2), &doc, &case("晋E12345")).unwrap();
    h.tamper()
        .set_raw(Record::Entry(id(1)), Some(b"\x01 not an entry".as_slice()));
    assert!(store.remove(&id(1)).unwrap());
    assert!(store.find("status", "closed").unwrap().is_empty());
    assert_eq!(store.find("plate", "晋E12345").unwrap(), vec![id(2)]);
    assert_eq!(store.find(KIND_INDEX, "case").unwrap(), vec![id(2)]);
    assert_eq!(store.index_entry(&id(2)).unwrap(), Some(case("晋E12345")));
}

/// `Arc<S>` and `Box<S>` are stores: one store, shared between owners and threads.
#[test]
fn shared_and_boxed_stores_delegate() {
    let inner = Arc::new(MemoryStore::new());
    let shared: Arc<dyn DocStore> = inner.clone();
    let boxed: Box<dyn DocStore> = Box::new(Arc::clone(&shared));
    std::thread::scope(|scope| {
        for t in 0..2u8 {
            let store = Arc::clone(&shared);
            scope.spawn(move || {
                let mut doc = Automerge::new();
                append(&mut doc, i64::from(t));
                store.save(&id(t), &doc, &case("晋E12345")).unwrap();
            });
        }
    });
    assert_eq!(boxed.ids().unwrap(), vec![id(0), id(1)]);
    assert_eq!(inner.pending().unwrap(), vec![id(0), id(1)]);
    assert_eq!(boxed.find("plate", "晋E12345").unwrap(), vec![id(0), id(1)]);
    assert_eq!(values(&boxed.load(&id(1)).unwrap().unwrap().doc), vec![1]);
    let doc = boxed.load(&id(0)).unwrap().unwrap().doc;
    assert!(boxed.acknowledge(&id(0), &doc.get_heads()).unwrap());
    assert_eq!(shared.pending().unwrap(), vec![id(1)]);
    // Generic code takes them as any store.
    fn count<S: DocStore>(store: &S) -> usize {
        store.ids().unwrap().len()
    }
    assert_eq!(count(&shared), 2);
    assert_eq!(count(&boxed), 2);
    assert_eq!(count(&Box::new(MemoryStore::new())), 0);
}
