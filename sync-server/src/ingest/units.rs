//! Who a source unit (货运源头单位) is, as far as the weighing ingest needs: its name and the
//! authority that supervises it (监管主体), read from the unit's `unit` profile document
//! ([`UnitProfile`]) that supervisors keep and the sync hub indexes under the unit's USCC.
//!
//! The uploading system's token names the unit; the profile may not be synced yet (a unit
//! starts uploading before the office registers it). Its records are then still stored and
//! classified, and its alerts go to the county overload office alone ([`UnitInfo::jurisdiction`]
//! is `None`), which then registers it — an upload is never refused for a missing profile.

use zhichao_core::docs::{TypedDoc, UnitProfile};
use zhichao_core::field::index;
use zhichao_core::jurisdiction::{self, Jurisdiction};
use zhichao_core::store::{DocStore, StoreError};
use zhichao_core::uscc::Uscc;

use super::alerts;

/// A source unit as the ingest routes its alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitInfo {
    /// The unit (unified social credit code, 统一社会信用代码).
    pub uscc: Uscc,
    /// Its registered name, when a profile is synced.
    pub name: Option<String>,
    /// The supervising authority from the profile ([`jurisdiction::route`]: coal mine →
    /// 应急管理局, ceramics → 开发区, else the township); `None` without a profile.
    pub jurisdiction: Option<Jurisdiction>,
}

impl UnitInfo {
    /// A unit without a synced profile.
    pub fn unregistered(uscc: Uscc) -> Self {
        UnitInfo {
            uscc,
            name: None,
            jurisdiction: None,
        }
    }

    /// A unit with its profile.
    pub fn of_profile(uscc: Uscc, profile: &UnitProfile) -> Self {
        UnitInfo {
            uscc,
            name: Some(profile.name.clone()),
            jurisdiction: Some(jurisdiction::route(profile.kind, &profile.township)),
        }
    }

    /// Everyone its alerts go to: the supervising authority, then the county office (县治超办).
    pub fn recipients(&self) -> Vec<Jurisdiction> {
        alerts::recipients(self.jurisdiction)
    }
}

/// Looks up the unit's profile in the document store. With several profile documents for one
/// USCC (two supervisors registered it), the newest by creation time that reads is used (ties:
/// the first by document id). A profile document that does not read is skipped with a warning;
/// no profile at all is [`UnitInfo::unregistered`], with a warning (the county office should
/// register it).
///
/// # Errors
/// [`StoreError`] when the store fails (not for a missing or malformed profile).
pub fn lookup(docs: &dyn DocStore, uscc: &Uscc) -> Result<UnitInfo, StoreError> {
    let mut ids = docs.find(index::UNIT, uscc.as_str())?;
    ids.sort();
    let mut best: Option<(i64, UnitProfile)> = None;
    for id in ids {
        if docs.index_entry(&id)?.is_none_or(|e| e.kind != "unit") {
            continue;
        }
        let Some(loaded) = docs.load(&id)? else {
            continue;
        };
        let read = match TypedDoc::<UnitProfile>::open(id, loaded.doc) {
            Ok(doc) => match (doc.header(), doc.body()) {
                (Ok(header), Ok(body)) => Ok((header, body)),
                (Err(e), _) | (_, Err(e)) => Err(e),
            },
            Err(e) => Err(e),
        };
        match read {
            Ok((header, profile)) if header.unit.as_ref() == Some(uscc) => {
                if best
                    .as_ref()
                    .is_none_or(|(at, _)| header.created_at_ms > *at)
                {
                    best = Some((header.created_at_ms, profile));
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(doc_id = %id, unit = %uscc, error = %e, "unit profile does not read");
            }
        }
    }
    if let Some((_, profile)) = best {
        return Ok(UnitInfo::of_profile(uscc.clone(), &profile));
    }
    tracing::warn!(
        unit = %uscc,
        "no profile synced for this source unit: its alerts go to the county office only"
    );
    Ok(UnitInfo::unregistered(uscc.clone()))
}
