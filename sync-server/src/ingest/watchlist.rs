//! The daily watch lists (超限出场名单): server-written, read-only documents, one per (county,
//! day), holding that day's over-limit departures (超限出场), so a patrol looks a plate up at
//! the roadside without signal ([`zhichao_core::docs::WatchList`]).
//!
//! - **After the store**: the weighing route first stores and flushes the records
//!   ([`super::weighings`]), then hands the departures to [`publish`], which adds each as a
//!   [`WatchEntry`] to the list of its weighing day (China time), creating the document when
//!   absent. One change per document per call, not per record.
//! - **One writer at a time**: writes hold a tokio mutex ([`super::Ingest`]), so each reads the
//!   document the previous one left and only adds entries it lacks. Entries are keyed
//!   (`USCC/record id`) and final, so publishing an entry twice changes nothing.
//! - **Deterministic creation**: the creating change has a fixed actor (the document id's
//!   bytes), time (the start of the day) and body (no entries), so it is byte-identical
//!   whenever it is made; a creation retried after a lost answer merges with the first
//!   instead of colliding with it. Entries are added by a second change.
//! - **Repair at start**: a crash can fall between the ingest flush and the watch-list write,
//!   and a write can fail (the hub stopped, a timeout); neither fails the upload. So
//!   [`crate::AppState`] calls [`reconcile`] when it opens: the departures weighed in the last
//!   [`WATCHLIST_DAYS`] days are read from the weighing store and the entries the documents
//!   lack are written. A retried upload (a duplicate) also re-publishes its departure.

use std::collections::BTreeMap;
use std::time::Duration;

use automerge::ActorId;
use zhichao_core::calendar::LocalDay;
use zhichao_core::docs::{
    DocKind, Header, SCHEMA_VERSION, TypedDoc, WATCHLIST_DAYS, WatchEntry, WatchList,
    watchlist_document_id,
};
use zhichao_core::ids::DocumentId;

use crate::AppState;
use crate::server_docs::ServerDocError;

/// How long the hub may take to store a watch-list change before the write counts as failed
/// (the records are stored already; [`reconcile`] repairs at the next start).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

const WHAT: &str = "watch-list document";

/// What [`publish`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Entries added to the documents.
    pub added: usize,
    /// Documents changed (created or appended to).
    pub documents: usize,
    /// Documents that could not be written (logged; the entries stay in the weighing store).
    pub failed: usize,
}

/// The county's watch list of `day` as first created: server header, no entries. Identical
/// bytes on every call (see the module docs).
///
/// # Errors
/// [`ServerDocError::Doc`] (never for a valid county scope).
pub fn create_document(
    state: &AppState,
    day: LocalDay,
) -> Result<TypedDoc<WatchList>, ServerDocError> {
    let id = watchlist_document_id(&state.config.county, day);
    let header = Header {
        kind: DocKind::WatchList,
        schema: SCHEMA_VERSION,
        scope: state.config.county,
        team: None,
        unit: None,
        parent: None,
        created_by: state.server_principal().id().clone(),
        created_at_ms: day.start_ms(),
    };
    let body = WatchList {
        day: day.to_string(),
        entries: BTreeMap::new(),
    };
    Ok(TypedDoc::create(
        id,
        ActorId::from(&id.as_bytes()[..]),
        &header,
        &body,
    )?)
}

/// The stored watch list of `day`, `None` when it does not exist.
///
/// # Errors
/// [`ServerDocError::Stored`] when it cannot be read.
pub fn load(state: &AppState, day: LocalDay) -> Result<Option<WatchList>, ServerDocError> {
    let id = watchlist_document_id(&state.config.county, day);
    let stored = |reason: String| ServerDocError::Stored { what: WHAT, reason };
    let Some(loaded) = state.docs.load(&id).map_err(|e| stored(e.to_string()))? else {
        return Ok(None);
    };
    let doc = TypedDoc::<WatchList>::open(id, loaded.doc).map_err(|e| stored(e.to_string()))?;
    doc.body().map(Some).map_err(|e| stored(e.to_string()))
}

/// Adds `entries` to the watch lists of their weighing days (those the documents lack), one
/// change per document, one call at a time. A document that cannot be written is logged and
/// counted in [`Published::failed`]; the others are still written.
pub async fn publish(state: &AppState, entries: Vec<WatchEntry>) -> Published {
    let mut by_day: BTreeMap<LocalDay, Vec<WatchEntry>> = BTreeMap::new();
    for entry in entries {
        match LocalDay::of_ms(entry.weighed_at_ms) {
            Some(day) => by_day.entry(day).or_default().push(entry),
            None => tracing::warn!(
                key = %entry.key(),
                weighed_at_ms = entry.weighed_at_ms,
                "departure without a calendar day is not put on a watch list"
            ),
        }
    }
    let mut published = Published::default();
    if by_day.is_empty() {
        return published;
    }
    let _one_writer = state.ingest.watchlist_writes.lock().await;
    for (day, entries) in by_day {
        let id = watchlist_document_id(&state.config.county, day);
        match write_day(state, id, day, entries).await {
            Ok(0) => {}
            Ok(added) => {
                published.added += added;
                published.documents += 1;
            }
            Err(e) => {
                published.failed += 1;
                tracing::warn!(
                    doc_id = %id,
                    day = %day,
                    error = %e,
                    "watch-list write failed; the departures are stored and are re-published \
                     at the next start"
                );
            }
        }
    }
    published
}

/// Adds the entries the list of `day` lacks; returns how many.
async fn write_day(
    state: &AppState,
    id: DocumentId,
    day: LocalDay,
    entries: Vec<WatchEntry>,
) -> Result<usize, ServerDocError> {
    let stored = state.docs.load(&id).map_err(|e| ServerDocError::Stored {
        what: WHAT,
        reason: e.to_string(),
    })?;
    let (mut doc, base_heads) = match stored {
        Some(loaded) => {
            let heads = loaded.doc.get_heads();
            let doc = TypedDoc::<WatchList>::open(id, loaded.doc.with_actor(ActorId::random()))?;
            (doc, heads)
        }
        None => {
            let created = create_document(state, day)?;
            let doc = TypedDoc::open(id, created.into_automerge().with_actor(ActorId::random()))?;
            (doc, Vec::new())
        }
    };
    let server = state.server_principal();
    let now_ms = i64::try_from(state.now_ms()).unwrap_or(i64::MAX);
    // Only the entries the list lacks are written, without reading the others: a write costs
    // the same on the day's first departure and its thousandth.
    let added = doc.add_entries(server.id(), now_ms, &entries)?;
    if added == 0 {
        return Ok(0);
    }
    let changes = doc.automerge().save_after(&base_heads);
    crate::server_docs::write(state, id, changes, WHAT, WRITE_TIMEOUT).await?;
    tracing::info!(doc_id = %id, day = %day, added, "watch list updated");
    Ok(added)
}

/// Re-publishes the over-limit departures weighed in the last [`WATCHLIST_DAYS`] days (China
/// time, today included) that the watch lists lack: the repair after a crash between the
/// ingest flush and the watch-list write, or a failed write. Called by [`crate::AppState`]
/// when it opens.
///
/// # Errors
/// [`super::IngestError`] when the weighing store cannot be read (document write failures are
/// in [`Published::failed`]).
pub async fn reconcile(state: &AppState) -> super::Result<Published> {
    let now_ms = i64::try_from(state.now_ms()).unwrap_or(i64::MAX);
    let Some(today) = LocalDay::of_ms(now_ms) else {
        return Ok(Published::default());
    };
    let from_ms = today
        .recent(WATCHLIST_DAYS)
        .last()
        .map_or(today.start_ms(), |d| d.start_ms());
    let entries: Vec<WatchEntry> = state
        .ingest
        .weighings
        .departures_since(from_ms)?
        .iter()
        .filter_map(|s| s.watch_entry())
        .collect();
    let published = publish(state, entries).await;
    if published.added > 0 || published.failed > 0 {
        tracing::info!(
            added = published.added,
            failed = published.failed,
            "watch lists reconciled with the weighing store"
        );
    }
    Ok(published)
}
