//! The document store: the conformance suite run against both stores, a model-based property
//! test comparing them, and crash tests of the sled store.

mod conformance;
mod crash;
mod model;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use zhichao_core::ids::DocumentId;

/// A document id made of one repeated byte.
pub(crate) fn id(n: u8) -> DocumentId {
    DocumentId::from_bytes([n; 16])
}

/// Appends `value` to the list `log` of `doc` in one change (creating the list in the first).
pub(crate) fn append(doc: &mut Automerge, value: i64) {
    let mut tx = doc.transaction();
    let list = match tx.get(ROOT, "log").expect("read log") {
        Some((Value::Object(ObjType::List), id)) => id,
        _ => tx
            .put_object(ROOT, "log", ObjType::List)
            .expect("create log"),
    };
    let len = tx.length(&list);
    tx.insert(&list, len, value).expect("append");
    tx.commit();
}

/// Sets the field `key` of the root map in one change.
pub(crate) fn set(doc: &mut Automerge, key: &str, value: impl Into<ScalarValue>) {
    let mut tx = doc.transaction();
    tx.put(ROOT, key, value.into()).expect("put");
    tx.commit();
}

/// The integers of the list `log` (empty when there is none).
pub(crate) fn values(doc: &Automerge) -> Vec<i64> {
    let Some((_, list)) = doc.get(ROOT, "log").expect("read log") else {
        return Vec::new();
    };
    (0..doc.length(&list))
        .map(|i| match doc.get(&list, i).expect("read item") {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Int(v) => *v,
                other => panic!("not an int: {other:?}"),
            },
            other => panic!("not a scalar: {other:?}"),
        })
        .collect()
}

/// The string field `key` of the root map.
pub(crate) fn field(doc: &Automerge, key: &str) -> Option<String> {
    match doc.get(ROOT, key).expect("read field")? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(text) => Some(text.to_string()),
            other => Some(format!("{other:?}")),
        },
        (other, _) => Some(format!("{other:?}")),
    }
}
