//! The documents that carry the work: cases, rectification notices, enterprises' responses,
//! supervisors' reviews and source-unit profiles, and the server's rules and watch lists, each an Automerge CRDT
//! document.
//!
//! Why CRDTs: phones work for hours without signal and two officers of one joint patrol may edit
//! the same case on two phones. Automerge merges any two replicas that saw the same changes to
//! the same state, whatever the order; nothing merges by comparing device clocks.
//!
//! Every document has the same two-part shape at its root:
//!
//! - `header`: the immutable [`Header`] holding everything access depends on (kind, schema
//!   version, scope, team, addressed source unit, parent document, creator, device creation
//!   time). It is written once by [`TypedDoc::create`]; the API offers no way to change it, and a
//!   replica whose header was changed concurrently (a conflict) is refused on open.
//! - `body`: the typed content ([`Case`], [`Notice`], [`Response`], [`Review`], [`UnitProfile`]),
//!   hydrated and reconciled with autosurgeon. Edits go through [`TypedDoc::update`], which
//!   hydrates the body, applies a closure, checks the kind's invariants (e.g. the case event list
//!   is append-only) and reconciles the difference in one transaction stamped with the acting
//!   principal and the device time.
//!
//! Text fields ([`TextField`]) are set by giving the whole new text; automerge's grapheme-aware
//! `update_text` turns it into splices, so CJK and emoji survive concurrent edits and clients
//! indexing in UTF-16 never split a character.

mod case;
mod common;
pub mod limits;
mod migrate;
mod notice;
mod photos;
mod review;
mod rules;
mod status;
mod typed;
mod unit;
mod watchlist;

pub use case::{
    Case, CaseEvent, CaseKind, CheckItem, CheckStatus, Checklist, EvidenceRef, MeasurementRecord,
    OnSiteRecord, PersonOnSite, Stage, SubjectRecord, Vehicle,
};
pub use common::{Agency, GeoPoint, Officer, TextField};
pub use migrate::SCHEMA_VERSION;
pub use notice::{Deadline, Notice, Response};
pub use photos::{
    BlobRole, BlobUse, DerivativeRef, NoticePhoto, PhotoDerivatives, referenced_blobs,
};
pub use review::{Review, ReviewDecision};
pub use rules::{RulesVersion, RulesVersions, rules_document_id};
pub use status::{CaseStatus, DECISION_DUE_DAYS, case_status, decision_due_ms};
pub use typed::{
    DocBody, DocError, DocKind, Header, TypedDoc, check_new_document, check_synced_edit,
    read_header,
};

#[cfg(test)]
mod tests;
pub use unit::UnitProfile;
pub use watchlist::{
    REVOCATION_THRESHOLD, WATCHLIST_DAYS, WatchEntry, WatchList, watchlist_document_id,
};
