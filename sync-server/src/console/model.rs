//! What a principal may read, found through the change log (every stored document's header
//! and latest save), and the bodies of those documents, cached per save.
//!
//! Every console page and JSON query route reads documents through here, so the one rule —
//! `core::access::can_read` on the immutable headers — decides what a supervisor sees.
//! A document that exists but is not readable answers [`ConsoleError::NotFound`], exactly
//! like an id that does not exist.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use automerge::Automerge;
use zhichao_core::access::{Principal, can_read};
use zhichao_core::docs::{DocBody, DocKind, Header, TypedDoc};
use zhichao_core::ids::DocumentId;

use crate::AppState;
use crate::changelog::LogEntry;

use super::{ConsoleError, ConsoleResult};

/// A document the principal may read.
#[derive(Clone, Debug)]
pub struct DocRef {
    /// Its id.
    pub id: DocumentId,
    /// Its immutable header.
    pub header: Header,
    /// The headers of its parent and grandparent, as far as they exist.
    pub ancestors: Vec<Header>,
    /// Its latest accepted save (who, server receipt time, heads).
    pub latest: LogEntry,
}

/// Parsed bodies, keyed by document and the sequence number of the save they reflect.
#[derive(Debug, Default)]
pub struct BodyCache {
    bodies: Mutex<HashMap<DocumentId, CachedBody>>,
}

/// A parsed body and the sequence number of the save it reflects.
type CachedBody = (u64, Arc<dyn Any + Send + Sync>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A document id from a URL: anything that does not parse is simply not found.
///
/// # Errors
/// [`ConsoleError::NotFound`].
pub fn parse_id(text: &str) -> ConsoleResult<DocumentId> {
    text.parse().map_err(|_| ConsoleError::NotFound)
}

/// Every document of `kind` that `principal` may read, newest change first.
///
/// # Errors
/// [`ConsoleError::Internal`] when the change log cannot be read.
pub fn list(state: &AppState, principal: &Principal, kind: DocKind) -> ConsoleResult<Vec<DocRef>> {
    let latest = state.log.changed_since(0).map_err(ConsoleError::internal)?;
    let mut out = Vec::new();
    for (id, entry) in latest {
        let Some((header, ancestors)) = state
            .log
            .header_chain(&id)
            .map_err(ConsoleError::internal)?
        else {
            continue;
        };
        if header.kind == kind && can_read(principal, &header, &ancestors) {
            out.push(DocRef {
                id,
                header,
                ancestors,
                latest: entry,
            });
        }
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.latest.seq));
    Ok(out)
}

/// The document `id` of `kind`, when `principal` may read it.
///
/// # Errors
/// [`ConsoleError::NotFound`] when it does not exist, is of another kind or is not readable;
/// [`ConsoleError::Internal`] when the change log cannot be read.
pub fn get(
    state: &AppState,
    principal: &Principal,
    id: &DocumentId,
    kind: DocKind,
) -> ConsoleResult<DocRef> {
    let Some((header, ancestors)) = state.log.header_chain(id).map_err(ConsoleError::internal)?
    else {
        return Err(ConsoleError::NotFound);
    };
    if header.kind != kind || !can_read(principal, &header, &ancestors) {
        return Err(ConsoleError::NotFound);
    }
    let latest = state
        .log
        .latest(id)
        .map_err(ConsoleError::internal)?
        .ok_or(ConsoleError::NotFound)?;
    Ok(DocRef {
        id: *id,
        header,
        ancestors,
        latest,
    })
}

/// The readable documents of `kind` whose parent is `parent` (the responses to a notice,
/// the reviews of a case or a response), oldest first.
///
/// # Errors
/// As [`list`].
pub fn children(
    state: &AppState,
    principal: &Principal,
    parent: &DocumentId,
    kind: DocKind,
) -> ConsoleResult<Vec<DocRef>> {
    let mut out: Vec<DocRef> = list(state, principal, kind)?
        .into_iter()
        .filter(|d| d.header.parent == Some(*parent))
        .collect();
    out.sort_by_key(|d| (d.header.created_at_ms, d.latest.seq));
    Ok(out)
}

/// The stored Automerge document of a readable document.
///
/// # Errors
/// [`ConsoleError::NotFound`] when the store lacks it; [`ConsoleError::Internal`] on a store
/// failure.
pub fn automerge(state: &AppState, doc: &DocRef) -> ConsoleResult<Automerge> {
    state
        .docs
        .load(&doc.id)
        .map_err(ConsoleError::internal)?
        .map(|l| l.doc)
        .ok_or(ConsoleError::NotFound)
}

/// The typed body of a readable document, parsed once per save and cached.
///
/// # Errors
/// As [`automerge`]; [`ConsoleError::Internal`] when the stored document does not parse as
/// `T` (it was checked when accepted, so this means a bug or a damaged store).
pub fn body<T>(state: &AppState, doc: &DocRef) -> ConsoleResult<Arc<T>>
where
    T: DocBody + Send + Sync + 'static,
{
    let cache = &state.console.bodies;
    if let Some((seq, any)) = lock(&cache.bodies).get(&doc.id)
        && *seq == doc.latest.seq
        && let Ok(body) = Arc::clone(any).downcast::<T>()
    {
        return Ok(body);
    }
    let automerge = automerge(state, doc)?;
    let typed = TypedDoc::<T>::open(doc.id, automerge).map_err(ConsoleError::internal)?;
    let body = Arc::new(typed.body().map_err(ConsoleError::internal)?);
    lock(&cache.bodies).insert(
        doc.id,
        (
            doc.latest.seq,
            Arc::clone(&body) as Arc<dyn Any + Send + Sync>,
        ),
    );
    Ok(body)
}

/// The typed body of a readable document for a list, or `None` (with a warning naming the
/// document) when it does not read: one damaged document must not take a whole list page
/// down.
pub fn body_or_skip<T>(state: &AppState, doc: &DocRef) -> Option<Arc<T>>
where
    T: DocBody + Send + Sync + 'static,
{
    match body::<T>(state, doc) {
        Ok(body) => Some(body),
        Err(e) => {
            tracing::warn!(
                doc_id = %doc.id,
                kind = %doc.header.kind,
                error = %e,
                "console: skipping a document that does not read"
            );
            None
        }
    }
}
