//! Schema versions and the migration path.
//!
//! - Version 1: text fields (findings, place, notes, statements, comments) were plain strings,
//!   which merge as last-writer-wins.
//! - Version 2 (current): they are Automerge text objects, so concurrent edits merge; a case
//!   names its `source_unit`.
//!
//! Optional fields added in a version read as absent from older documents through
//! `#[autosurgeon(missing = "Option::default")]`; only changes of representation need a step
//! here.
//!
//! Migration runs when a document is opened and its `body_schema` is older: each step rewrites
//! the body in the new shape in one change. Two replicas migrating concurrently write the same
//! values, so they still converge. The header keeps the version the document was created with.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use sha2::Digest;

use super::typed::{DocError, DocKind};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 2;

/// Body schema of a document (absent → 1).
fn body_schema(doc: &Automerge) -> Result<u64, DocError> {
    Ok(match doc.get(ROOT, "body_schema")? {
        Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
            automerge::ScalarValue::Uint(v) => *v,
            automerge::ScalarValue::Int(v) => u64::try_from(*v).unwrap_or(0),
            _ => 1,
        },
        _ => 1,
    })
}

/// Brings the body of `doc` to [`SCHEMA_VERSION`].
pub(crate) fn migrate(doc: &mut Automerge, kind: DocKind) -> Result<(), DocError> {
    let version = body_schema(doc)?;
    if version > SCHEMA_VERSION {
        return Err(DocError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    // Deterministic: the actor is derived from the heads being migrated and the time is fixed,
    // so two phones migrating the same state make the identical change (same hash), and their
    // later edits land on the same text objects.
    let own_actor = doc.get_actor().clone();
    let mut seed = sha2::Sha256::new();
    seed.update(b"zhichao schema migration");
    for head in doc.get_heads() {
        seed.update(head.0);
    }
    let digest = seed.finalize();
    doc.set_actor(ActorId::from(&digest[..16]));
    let result = doc
        .transact_with(
            |_| {
                CommitOptions::default()
                    .with_message(format!("schema migration {version} to {SCHEMA_VERSION}"))
                    .with_time(0)
            },
            |tx| -> Result<(), DocError> {
                if version < 2 {
                    v1_to_v2(tx, kind)?;
                }
                tx.put(ROOT, "body_schema", SCHEMA_VERSION)?;
                Ok(())
            },
        )
        .map(|_| ())
        .map_err(|f| f.error);
    doc.set_actor(own_actor);
    result
}

/// Paths (from `body`) of the text fields that version 1 stored as strings.
fn v1_text_paths(kind: DocKind) -> &'static [&'static [&'static str]] {
    match kind {
        DocKind::Case => &[&["findings"], &["onsite", "place"]],
        DocKind::Notice => &[&["facts"], &["legal_basis"]],
        DocKind::Response => &[&["statement"]],
        DocKind::Review => &[&["comments"]],
        DocKind::Unit | DocKind::Rules | DocKind::WatchList => &[],
    }
}

fn v1_to_v2(
    tx: &mut automerge::transaction::Transaction<'_>,
    kind: DocKind,
) -> Result<(), DocError> {
    for path in v1_text_paths(kind) {
        let Some((field, parents)) = path.split_last() else {
            continue;
        };
        let mut obj = match tx.get(ROOT, "body")? {
            Some((automerge::Value::Object(_), id)) => id,
            _ => return Ok(()),
        };
        let mut found = true;
        for key in parents {
            match tx.get(&obj, *key)? {
                Some((automerge::Value::Object(_), id)) => obj = id,
                _ => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        if let Some((automerge::Value::Scalar(s), _)) = tx.get(&obj, *field)?
            && let automerge::ScalarValue::Str(old) = s.as_ref()
        {
            let old = old.to_string();
            let text = tx.put_object(&obj, *field, automerge::ObjType::Text)?;
            tx.update_text(&text, &old)?;
        }
    }
    Ok(())
}
