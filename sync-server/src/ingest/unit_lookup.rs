//! Who supervises a source unit, from its synced `unit` profile document (货运源头单位档案):
//! the routing of the alerts about it.
//!
//! The sync hub indexes every stored document under `unit` = its header's USCC
//! ([`zhichao_core::field::index::UNIT`]), so the unit's profile is found without scanning.
//! The profile's kind and township decide the supervising authority
//! ([`zhichao_core::jurisdiction::route`], county plan 阳政办发〔2024〕42号). A unit without a
//! readable profile is routed to the county office alone: the office then registers it.

use zhichao_core::docs::{DocKind, TypedDoc, UnitProfile};
use zhichao_core::jurisdiction::{Jurisdiction, route};
use zhichao_core::store::DocStore;
use zhichao_core::uscc::Uscc;

use crate::ingest::alerts::recipients;

/// What the alerts about a unit carry: its name and supervising authority (监管主体), when its
/// profile is synced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitRouting {
    /// The registered name, from the profile.
    pub name: Option<String>,
    /// The supervising authority; `None` without a profile.
    pub jurisdiction: Option<Jurisdiction>,
}

impl UnitRouting {
    /// Everyone an alert about the unit goes to: the supervising authority and the county
    /// office ([`recipients`]).
    pub fn recipients(&self) -> Vec<Jurisdiction> {
        recipients(self.jurisdiction)
    }
}

/// The routing of alerts about `unit`: from its `unit` profile document (the one created
/// last when several were made), or nobody but the county office when it has none.
///
/// Never fails: a store error or a profile that does not open is logged (warn) and treated
/// as no profile, because an alert routed to the county office alone is better than no
/// alert.
pub fn lookup(docs: &dyn DocStore, unit: &Uscc) -> UnitRouting {
    let ids = match docs.find(zhichao_core::field::index::UNIT, unit.as_str()) {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, unit = %unit, "cannot look up the unit's profile");
            return UnitRouting::default();
        }
    };
    let mut best: Option<(i64, UnitProfile)> = None;
    for id in ids {
        match docs.index_entry(&id) {
            Ok(Some(entry)) if entry.kind == DocKind::Unit.as_str() => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, doc_id = %id, "cannot read an index entry");
                continue;
            }
        }
        let loaded = match docs.load(&id) {
            Ok(Some(loaded)) => loaded,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, doc_id = %id, "cannot load a unit profile");
                continue;
            }
        };
        let doc = match TypedDoc::<UnitProfile>::open(id, loaded.doc) {
            Ok(doc) => doc,
            Err(e) => {
                tracing::warn!(error = %e, doc_id = %id, "a unit profile does not open");
                continue;
            }
        };
        match (doc.header(), doc.body()) {
            (Ok(header), Ok(body)) if header.unit.as_ref() == Some(unit) => {
                if best
                    .as_ref()
                    .is_none_or(|(at, _)| header.created_at_ms > *at)
                {
                    best = Some((header.created_at_ms, body));
                }
            }
            (Ok(_), Ok(_)) => {}
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, doc_id = %id, "a unit profile does not read");
            }
        }
    }
    match best {
        Some((_, profile)) => UnitRouting {
            jurisdiction: Some(route(profile.kind, &profile.township)),
            name: Some(profile.name),
        },
        None => UnitRouting::default(),
    }
}
