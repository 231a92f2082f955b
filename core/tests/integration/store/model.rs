//! Model-based property test: random sequences of edits, saves, batch saves,
//! acknowledgements, removals and reopenings, applied to the in-memory and the sled store alike, must
//! give the same reports, the same pending sets and the same loaded documents — and match a
//! plain model of what was saved.

use std::collections::BTreeSet;

use automerge::{Automerge, ChangeHash};
use proptest::prelude::*;
use zhichao_core::store::{DocStore, IndexEntry, MemoryStore, SledStore};

use super::{append, id, values};

const DOCS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Edit { doc: usize, value: i64 },
    Save { doc: usize },
    SaveAll,
    AckSaved { doc: usize },
    AckStale { doc: usize },
    Remove { doc: usize },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..DOCS, any::<i64>()).prop_map(|(doc, value)| Op::Edit { doc, value }),
        3 => (0..DOCS).prop_map(|doc| Op::Save { doc }),
        1 => Just(Op::SaveAll),
        1 => (0..DOCS).prop_map(|doc| Op::AckSaved { doc }),
        1 => (0..DOCS).prop_map(|doc| Op::AckStale { doc }),
        1 => (0..DOCS).prop_map(|doc| Op::Remove { doc }),
        1 => Just(Op::Reopen),
    ]
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        // Each case opens a sled database and flushes on every save.
        config.cases = 48;
    }
    config
}

fn index(doc: usize, len: usize) -> IndexEntry {
    IndexEntry::new("case")
        .with("parity", if len.is_multiple_of(2) { "even" } else { "odd" })
        .with("doc", doc.to_string())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn memory_and_sled_stores_behave_alike(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryStore::new();
        let mut sled = Some(SledStore::open(dir.path()).unwrap());
        let mut docs: Vec<Automerge> = (0..DOCS).map(|_| Automerge::new()).collect();
        // What the model says is stored: heads and values of the last save of each document.
        let mut saved: Vec<Option<(Vec<ChangeHash>, Vec<i64>)>> = vec![None; DOCS];
        let mut pending = BTreeSet::new();

        for op in ops {
            let disk = sled.as_ref().unwrap();
            match op {
                Op::Edit { doc, value } => append(&mut docs[doc], value),
                Op::Save { doc } => {
                    let entry = index(doc, values(&docs[doc]).len());
                    let a = memory.save(&id(doc as u8), &docs[doc], &entry).unwrap();
                    let b = disk.save(&id(doc as u8), &docs[doc], &entry).unwrap();
                    prop_assert_eq!(a, b);
                    let heads = docs[doc].get_heads();
                    let changed = saved[doc].as_ref().is_none_or(|(h, _)| *h != heads);
                    prop_assert_eq!(a.new_changes, changed && !heads.is_empty());
                    // Each copy is the only one saved under its id: never stale.
                    prop_assert!(!a.merged_stored_changes);
                    if a.new_changes {
                        pending.insert(id(doc as u8));
                    }
                    saved[doc] = Some((heads, values(&docs[doc])));
                }
                Op::SaveAll => {
                    let batch: Vec<_> = docs
                        .iter()
                        .enumerate()
                        .map(|(i, d)| (id(i as u8), d, index(i, values(d).len())))
                        .collect();
                    let a = memory.save_batch(&batch).unwrap();
                    let b = disk.save_batch(&batch).unwrap();
                    prop_assert_eq!(&a, &b);
                    for (i, report) in a.iter().enumerate() {
                        prop_assert!(!report.merged_stored_changes);
                        if report.new_changes {
                            pending.insert(id(i as u8));
                        }
                        saved[i] = Some((docs[i].get_heads(), values(&docs[i])));
                    }
                }
                Op::AckSaved { doc } => {
                    let heads = saved[doc].as_ref().map(|(h, _)| h.clone()).unwrap_or_default();
                    prop_assert!(memory.acknowledge(&id(doc as u8), &heads).unwrap());
                    prop_assert!(disk.acknowledge(&id(doc as u8), &heads).unwrap());
                    pending.remove(&id(doc as u8));
                }
                Op::AckStale { doc } => {
                    let a = memory.acknowledge(&id(doc as u8), &[]).unwrap();
                    let b = disk.acknowledge(&id(doc as u8), &[]).unwrap();
                    prop_assert_eq!(a, b);
                    prop_assert_eq!(a, !pending.contains(&id(doc as u8)));
                }
                Op::Remove { doc } => {
                    // The copy in memory stays: saved again, it is stored as new.
                    let a = memory.remove(&id(doc as u8)).unwrap();
                    let b = disk.remove(&id(doc as u8)).unwrap();
                    prop_assert_eq!(a, b);
                    prop_assert_eq!(a, saved[doc].is_some());
                    saved[doc] = None;
                    pending.remove(&id(doc as u8));
                }
                Op::Reopen => {
                    drop(sled.take());
                    sled = Some(SledStore::open(dir.path()).unwrap());
                }
            }
            let disk = sled.as_ref().unwrap();
            let expected: Vec<_> = pending.iter().copied().collect();
            prop_assert_eq!(memory.pending().unwrap(), expected.clone());
            prop_assert_eq!(disk.pending().unwrap(), expected);
            prop_assert_eq!(memory.ids().unwrap(), disk.ids().unwrap());
            for parity in ["even", "odd"] {
                prop_assert_eq!(
                    memory.find("parity", parity).unwrap(),
                    disk.find("parity", parity).unwrap()
                );
            }
        }
        for (i, stored) in saved.iter().enumerate() {
            let m = memory.load(&id(i as u8)).unwrap();
            let s = sled.as_ref().unwrap().load(&id(i as u8)).unwrap();
            match stored {
                None => prop_assert!(m.is_none() && s.is_none()),
                Some((heads, vals)) => {
                    let (m, s) = (m.unwrap(), s.unwrap());
                    prop_assert_eq!(&m.doc.get_heads(), heads);
                    prop_assert_eq!(&s.doc.get_heads(), heads);
                    prop_assert_eq!(&values(&m.doc), vals);
                    prop_assert_eq!(&values(&s.doc), vals);
                    prop_assert_eq!(m.report, s.report);
                    prop_assert!(m.report.is_complete(), "{:?}", m.report);
                }
            }
        }
    }
}
