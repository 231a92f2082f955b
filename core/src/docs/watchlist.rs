//! The `watchlist` document: a server document holding one day's over-limit departures
//! (超限出场) of a county, so that a patrol can type a plate at the roadside with no signal and
//! see that this truck left a given mine this morning 3.3 t over.
//!
//! One document per (county, day), the day in China Standard Time (UTC+8, [`LocalDay`]), with a
//! deterministic id ([`watchlist_document_id`]) so a phone opens the last three days' lists
//! without listing anything. Written only by the server (from the weighing ingest), read by
//! officers and supervisors whose scope lies in the county or covers it ([`crate::access`]).
//! Entries are keyed by `USCC/record id`, so writing an entry twice (a retried upload, a
//! restart that re-publishes) changes nothing, and concurrent writers merge.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calendar::LocalDay;
use crate::ids::{DocumentId, PrincipalId};
use crate::plate::Plate;
use crate::scope::Scope;

use super::typed::TypedDoc;

use super::typed::{DocBody, DocError, DocKind, Header, check_header_fields};

/// How many days of lists a phone keeps: today and the two days before
/// ([`LocalDay::recent`]).
pub const WATCHLIST_DAYS: usize = 3;

/// Over-limit findings of one vehicle within a year after which 公路安全保护条例 Art. 66
/// revokes its operating certificate (道路运输证): "一年内违法超限运输超过3次" — more than
/// three, so the fourth finding crosses it.
pub const REVOCATION_THRESHOLD: u32 = 3;

/// One over-limit departure on the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct WatchEntry {
    /// The plate, canonical form ([`Plate`]'s `Display`).
    pub plate: String,
    /// The source unit the truck left (USCC).
    pub unit: String,
    /// The unit's registered name, as the server knew it (empty when no profile was synced).
    pub unit_name: String,
    /// The unit's record id.
    pub record_id: String,
    /// Weighing time, UTC ms.
    pub weighed_at_ms: i64,
    /// Exit time, UTC ms, when the weighbridge reported it.
    pub exit_at_ms: Option<i64>,
    /// Gross mass, kg.
    pub gross_kg: u32,
    /// The limit applied, kg.
    pub limit_kg: u32,
    /// Over the limit after the tolerance, kg.
    pub excess_kg: u32,
    /// The weighbridge gave only the axle count: the highest possible limit was applied.
    pub configuration_assumed: bool,
    /// Over-limit findings of this plate in the calendar year of this departure, this one
    /// included, as the server counted them when it wrote the entry.
    pub year_count: u32,
}

impl WatchEntry {
    /// The entry's key in [`WatchList::entries`]: `USCC/record id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.unit, self.record_id)
    }

    /// More than [`REVOCATION_THRESHOLD`] findings this year (公路安全保护条例 Art. 66).
    pub fn revocation_threshold_crossed(&self) -> bool {
        self.year_count > REVOCATION_THRESHOLD
    }
}

/// The body of a `watchlist` document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct WatchList {
    /// The day, `YYYY-MM-DD` in China Standard Time.
    pub day: String,
    /// Departures by [`WatchEntry::key`]. Entries are never removed or changed.
    pub entries: BTreeMap<String, WatchEntry>,
}

impl WatchList {
    /// The entries of `plate`, earliest first.
    pub fn of_plate(&self, plate: &Plate) -> Vec<&WatchEntry> {
        let text = plate.to_string();
        let mut hits: Vec<&WatchEntry> =
            self.entries.values().filter(|e| e.plate == text).collect();
        hits.sort_by_key(|e| e.weighed_at_ms);
        hits
    }
}

impl DocBody for WatchList {
    const KIND: DocKind = DocKind::WatchList;

    fn check_header(header: &Header) -> Result<(), DocError> {
        check_header_fields(header, false, false, false)
    }

    fn check(&self, before: Option<&Self>) -> Result<(), DocError> {
        if self.day.parse::<LocalDay>().is_err() {
            return Err(DocError::Rule(format!(
                "watch-list day {:?} is not YYYY-MM-DD",
                self.day
            )));
        }
        // Entries are final: those of `before` were checked when they were added, so an edit
        // checks only the new ones.
        let new_entries = self
            .entries
            .iter()
            .filter(|(key, _)| before.is_none_or(|b| !b.entries.contains_key(*key)));
        for (key, entry) in new_entries {
            check_entry(key, entry)?;
        }
        if let Some(before) = before {
            if before.day != self.day {
                return Err(DocError::Rule(
                    "a watch list's day never changes".to_owned(),
                ));
            }
            for (key, entry) in &before.entries {
                if self.entries.get(key) != Some(entry) {
                    return Err(DocError::Rule(format!(
                        "watch-list entry {key:?} was removed or changed; entries are final"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// An entry is filed under its key and names its plate in canonical form.
fn check_entry(key: &str, entry: &WatchEntry) -> Result<(), DocError> {
    if key != entry.key() {
        return Err(DocError::Rule(format!(
            "watch-list entry {key:?} is filed under the wrong key"
        )));
    }
    if Plate::parse(&entry.plate).map(|p| p.to_string()).as_deref() != Ok(&entry.plate) {
        return Err(DocError::Rule(format!(
            "watch-list entry {key:?}: plate {:?} is not canonical",
            entry.plate
        )));
    }
    Ok(())
}

impl TypedDoc<WatchList> {
    /// Adds the `entries` the list lacks, in one change stamped with `by` and `now_ms`, and
    /// returns how many were added. Only the new entries are checked and written: the others
    /// are never read, so appending costs the same on a list of ten or ten thousand
    /// departures (hydrating the whole body, as [`TypedDoc::update`] does, grows with the
    /// list). An entry already listed under its key is left as it is (entries are final).
    ///
    /// # Errors
    /// [`DocError::Rule`] for an entry whose plate is not canonical (nothing is written then);
    /// [`DocError::Hydrate`] when the body has no `entries` map; Automerge errors.
    pub fn add_entries(
        &mut self,
        by: &PrincipalId,
        now_ms: i64,
        entries: &[WatchEntry],
    ) -> Result<usize, DocError> {
        for entry in entries {
            check_entry(&entry.key(), entry)?;
        }
        let mut added = 0;
        self.transact_raw(by, now_ms, |tx| {
            use automerge::ReadDoc as _;
            let body = match tx.get(automerge::ROOT, "body")? {
                Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
                _ => return Err(DocError::Rule("the watch list has no body".to_owned())),
            };
            let list = match tx.get(&body, "entries")? {
                Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
                _ => {
                    return Err(DocError::Rule(
                        "the watch list has no entries map".to_owned(),
                    ));
                }
            };
            for entry in entries {
                let key = entry.key();
                if tx.get(&list, key.as_str())?.is_none() {
                    autosurgeon::reconcile_prop(&mut *tx, &list, key.as_str(), entry)?;
                    added += 1;
                }
            }
            Ok(())
        })?;
        Ok(added)
    }
}

/// The id of a county's watch list of `day`: the first 16 bytes of
/// SHA-256(`"zhichao/watchlist/v1/"` + scope + `"/"` + day). Deterministic, so every phone and
/// the server agree on it without a lookup.
pub fn watchlist_document_id(scope: &Scope, day: LocalDay) -> DocumentId {
    let digest = Sha256::digest(format!("zhichao/watchlist/v1/{scope}/{day}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DocumentId::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::access::{Principal, can_read, can_write};
    use crate::docs::{SCHEMA_VERSION, TypedDoc};
    use crate::fixtures::{county, officer, other_county, pid};

    fn entry(unit: &str, record: &str, plate: &str) -> WatchEntry {
        WatchEntry {
            plate: plate.to_owned(),
            unit: unit.to_owned(),
            unit_name: "某煤矿".to_owned(),
            record_id: record.to_owned(),
            weighed_at_ms: 1_795_911_600_000,
            exit_at_ms: None,
            gross_kg: 52_300,
            limit_kg: 49_000,
            excess_kg: 3_300,
            configuration_assumed: true,
            year_count: 4,
        }
    }

    fn header(scope: Scope) -> Header {
        Header {
            kind: DocKind::WatchList,
            schema: SCHEMA_VERSION,
            scope,
            team: None,
            unit: None,
            parent: None,
            created_by: pid("server"),
            created_at_ms: 1_795_881_600_000,
        }
    }

    fn list() -> WatchList {
        let e = entry("91140522MA0000000K", "r1", "晋E12345");
        WatchList {
            day: "2026-11-29".to_owned(),
            entries: BTreeMap::from([(e.key(), e)]),
        }
    }

    #[test]
    fn entries_are_added_never_removed_or_changed() {
        let id = watchlist_document_id(&county(), "2026-11-29".parse().unwrap());
        let mut doc = TypedDoc::create(id, ActorId::random(), &header(county()), &list()).unwrap();
        let server = pid("server");
        let add = |b: &mut WatchList| {
            let e = entry("91140522MA0000000K", "r2", "晋E12345");
            b.entries.insert(e.key(), e);
            Ok(())
        };
        doc.update(&server, 1, add).unwrap();
        let plate = Plate::parse("晋e12345").unwrap();
        assert_eq!(doc.body().unwrap().of_plate(&plate).len(), 2);
        let remove = |b: &mut WatchList| {
            b.entries.clear();
            Ok(())
        };
        assert!(doc.update(&server, 2, remove).is_err());
        let misfile = |b: &mut WatchList| {
            let e = entry("91140522MA0000000K", "r3", "晋E12345");
            b.entries.insert("other".to_owned(), e);
            Ok(())
        };
        assert!(doc.update(&server, 3, misfile).is_err());
        assert!(
            doc.body().unwrap().entries["91140522MA0000000K/r1"].revocation_threshold_crossed()
        );
    }

    #[test]
    fn appending_writes_only_what_the_list_lacks_and_checks_it() {
        let id = watchlist_document_id(&county(), "2026-11-29".parse().unwrap());
        let mut doc = TypedDoc::create(id, ActorId::random(), &header(county()), &list()).unwrap();
        let server = pid("server");
        let known = list().entries.into_values().next().unwrap();
        let mut changed = known.clone();
        changed.gross_kg += 1;
        let new = entry("91140522MA0000000K", "r9", "晋E54321");
        // The listed entry (even with other content) is left alone; the new one is added.
        assert_eq!(
            doc.add_entries(&server, 5, &[changed, new.clone()])
                .unwrap(),
            1
        );
        let body = doc.body().unwrap();
        assert_eq!(body.entries.len(), 2);
        assert_eq!(body.entries[&known.key()], known);
        assert_eq!(body.entries[&new.key()], new);
        assert_eq!(
            doc.add_entries(&server, 6, &[new]).unwrap(),
            0,
            "nothing new"
        );
        // A non-canonical plate is refused and nothing is written.
        let heads = doc.automerge().get_heads();
        let bad = entry("91140522MA0000000K", "r10", "晋e·54321");
        assert!(doc.add_entries(&server, 7, &[bad]).is_err());
        assert_eq!(doc.automerge().get_heads(), heads);
        // What an append writes passes the document's own checks on the receiving side.
        let before = doc.automerge().clone();
        let another = entry("91140522MA0000000K", "r11", "晋E54322");
        assert_eq!(doc.add_entries(&server, 8, &[another]).unwrap(), 1);
        crate::docs::check_synced_edit(DocKind::WatchList, &before, doc.automerge()).unwrap();
    }

    #[test]
    fn ids_are_deterministic_per_county_and_day() {
        let day: LocalDay = "2026-11-29".parse().unwrap();
        assert_eq!(
            watchlist_document_id(&county(), day),
            watchlist_document_id(&county(), day)
        );
        assert_ne!(
            watchlist_document_id(&county(), day),
            watchlist_document_id(&county(), day.previous())
        );
        assert_ne!(
            watchlist_document_id(&county(), day),
            watchlist_document_id(&other_county(), day)
        );
    }

    #[test]
    fn the_server_writes_and_officers_of_the_county_read() {
        let h = header(county());
        let server = Principal::Server {
            id: pid("server"),
            scope: county(),
        };
        let wang = officer("wang", "team-1");
        assert!(can_write(&server, &h, &[]));
        assert!(!can_write(&wang, &h, &[]));
        assert!(can_read(&wang, &h, &[]));
        assert!(!can_read(&wang, &header(other_county()), &[]));
        let enterprise = Principal::Enterprise {
            id: pid("ent"),
            unit: "91140522MA0000000K".parse().unwrap(),
        };
        assert!(!can_read(&enterprise, &h, &[]));
    }
}
