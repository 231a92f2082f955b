//! The weighing store (称重记录库): every record source units upload, exactly once per
//! (unit, record id), with the exit verdict it got, the over-limit departure (超限出场) alerts
//! it raised, and every conflicting version kept for audit.
//!
//! Why these rules (issue: `POST /v1/weighings`):
//! - **Idempotent**: a weighbridge uploader retries after a lost response, so the key is the
//!   unit's own record id and the content is compared by fingerprint
//!   ([`CheckedWeighing::fingerprint`]): the same content again is a duplicate, nothing changes.
//! - **Never overwritten**: the same id with other content is a conflict; the stored version
//!   stands and the new one goes to the conflicts tree with its receipt time, so an auditor
//!   sees both (a unit "correcting" a record after an alert is itself a finding).
//! - **Together or not at all**: a batch's new records, their departure alerts and the
//!   plates' yearly counts are written in one sled transaction over every tree involved;
//!   concurrent uploads of one record id serialise there, so exactly one stores it.
//!
//! Trees (in the ingest database, next to the alerts):
//! - `weighings`: USCC (18 bytes) ++ record id → [`StoredWeighing`] (version byte, JSON).
//! - `weighing_conflicts`: USCC ++ record id ++ `0x00` ++ fingerprint → [`ConflictingVersion`]
//!   (record ids hold no control characters, so the separator is unambiguous).
//! - `weighing_departures`: weighing time (UTC ms, u64 big-endian) ++ USCC ++ record id →
//!   nothing: the departures by time, for re-publishing the recent watch lists at start.
//! - `over_limit_year_counts`: year (China time, i32 big-endian) ++ plate → count (u32
//!   big-endian): over-limit departures of a plate in a calendar year (公路安全保护条例
//!   Art. 66 counts findings per year).

use serde::{Deserialize, Serialize};
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use zhichao_core::calendar::LocalDay;
use zhichao_core::docs::WatchEntry;
use zhichao_core::ids::PrincipalId;
use zhichao_core::rules::RulesConfig;
use zhichao_core::uscc::Uscc;
use zhichao_core::weighing::{
    CheckedWeighing, ExitAssessment, WeighingError, WeighingRecord, assess,
};

use super::alerts::{
    self, Alert, AlertAction, AlertEvent, AlertKind, AlertStatus, AlertStore, Departure,
};
use super::units::UnitInfo;
use super::{IngestError, Result, decode, encode};

const RECORDS_TREE: &str = "weighings";
const CONFLICTS_TREE: &str = "weighing_conflicts";
const DEPARTURES_TREE: &str = "weighing_departures";
const YEAR_COUNTS_TREE: &str = "over_limit_year_counts";

/// A weighing record as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWeighing {
    /// The source unit that uploaded it.
    pub unit: Uscc,
    /// The record as normalised by [`WeighingRecord::check`].
    pub record: WeighingRecord,
    /// Its content fingerprint ([`CheckedWeighing::fingerprint`]).
    pub fingerprint: String,
    /// Server receipt time, UTC ms.
    pub received_at_ms: u64,
    /// The verdict and classification under the rules in force when it was received.
    pub exit: ExitAssessment,
    /// The alerts it raised (the departure alert, for an over-limit departure).
    pub alert_ids: Vec<String>,
    /// For an over-limit departure: the plate's over-limit departures in the calendar year
    /// (China time) of the weighing, this one included, as counted when stored.
    pub year_count: Option<u32>,
    /// The unit's name from its profile when stored (`None`: no profile synced).
    pub unit_name: Option<String>,
}

impl StoredWeighing {
    /// The watch-list entry of an over-limit departure; `None` for any other record.
    pub fn watch_entry(&self) -> Option<WatchEntry> {
        let year_count = self.year_count.filter(|_| self.exit.departure)?;
        Some(WatchEntry {
            plate: self.record.plate.clone(),
            unit: self.unit.to_string(),
            unit_name: self.unit_name.clone().unwrap_or_default(),
            record_id: self.record.record_id.clone(),
            weighed_at_ms: self.record.weighed_at_ms,
            exit_at_ms: self.record.exit_at_ms,
            gross_kg: self.exit.gross_kg,
            limit_kg: self.exit.limit_kg,
            excess_kg: self.exit.excess_kg,
            configuration_assumed: self.exit.configuration_assumed,
            year_count,
        })
    }
}

/// A version of a record that arrived after another version of the same id was stored:
/// refused, kept for audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictingVersion {
    /// The source unit that uploaded it.
    pub unit: Uscc,
    /// The version refused, normalised.
    pub record: WeighingRecord,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The fingerprint of the version stored (which stands).
    pub stored_fingerprint: String,
    /// First receipt of this version, server time, UTC ms.
    pub received_at_ms: u64,
    /// How many times this version was uploaded.
    pub attempts: u32,
}

/// A record that passed the checks and was classified, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// The checked, normalised record.
    pub checked: CheckedWeighing,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The rules' verdict.
    pub exit: ExitAssessment,
}

impl Incoming {
    /// Checks `record` at server time `now_ms` and classifies it under `rules`.
    ///
    /// # Errors
    /// [`WeighingError`] from [`WeighingRecord::check`], or [`WeighingError::Classify`] when
    /// the rules cannot classify it.
    pub fn new(
        record: &WeighingRecord,
        now_ms: i64,
        rules: &RulesConfig,
    ) -> Result<Self, WeighingError> {
        let checked = record.check(now_ms)?;
        let exit = assess(&checked, rules)?;
        Ok(Incoming {
            fingerprint: checked.fingerprint(),
            checked,
            exit,
        })
    }
}

/// What became of one [`Incoming`] record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored now.
    New(StoredWeighing),
    /// Stored before with the same content.
    Duplicate(StoredWeighing),
    /// Stored before with other content: refused, this version kept in the conflicts tree.
    Conflict {
        /// The version stored before (which stands).
        stored: Box<StoredWeighing>,
    },
}

/// The weighing trees. Writing goes through [`WeighingStore::store`].
#[derive(Clone, Debug)]
pub struct WeighingStore {
    records: sled::Tree,
    conflicts: sled::Tree,
    departures: sled::Tree,
    year_counts: sled::Tree,
}

/// `USCC ++ record id`: the USCC has a fixed length of 18, so the key is unambiguous.
fn record_key(unit: &Uscc, record_id: &str) -> Vec<u8> {
    let mut key = unit.as_str().as_bytes().to_vec();
    key.extend_from_slice(record_id.as_bytes());
    key
}

fn conflict_prefix(unit: &Uscc, record_id: &str) -> Vec<u8> {
    let mut key = record_key(unit, record_id);
    key.push(0);
    key
}

fn departure_key(weighed_at_ms: i64, record_key: &[u8]) -> Vec<u8> {
    let mut key = u64::try_from(weighed_at_ms)
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    key.extend_from_slice(record_key);
    key
}

fn year_key(year: i32, plate: &str) -> Vec<u8> {
    let mut key = year.to_be_bytes().to_vec();
    key.extend_from_slice(plate.as_bytes());
    key
}

fn read_count(bytes: Option<&[u8]>) -> u32 {
    bytes
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// The year (China time) a weighing counts in.
fn year_of(weighed_at_ms: i64) -> i32 {
    LocalDay::of_ms(weighed_at_ms).map_or(0, LocalDay::year)
}

/// The departure alert of a record just stored.
fn departure_alert(
    unit: &UnitInfo,
    record: &StoredWeighing,
    year_count: u32,
    server: &PrincipalId,
) -> Alert {
    Alert {
        id: alerts::departure_alert_id(&unit.uscc, &record.record.record_id),
        kind: AlertKind::OverLimitDeparture,
        status: AlertStatus::Open,
        unit: unit.uscc.clone(),
        unit_name: unit.name.clone(),
        jurisdiction: unit.jurisdiction,
        recipients: unit.recipients(),
        raised_at_ms: record.received_at_ms,
        departure: Some(Departure {
            record_id: record.record.record_id.clone(),
            plate: record.record.plate.clone(),
            weighed_at_ms: record.record.weighed_at_ms,
            exit_at_ms: record.record.exit_at_ms,
            gross_kg: record.exit.gross_kg,
            limit_kg: record.exit.limit_kg,
            excess_kg: record.exit.excess_kg,
            rate_bp: record.exit.rate_bp,
            configuration_assumed: record.exit.configuration_assumed,
            year_count,
        }),
        interruption: None,
        dispatched_to: None,
        case: None,
        history: vec![AlertEvent {
            at_ms: record.received_at_ms,
            by: server.clone(),
            action: AlertAction::Raised,
        }],
    }
}

fn abort(e: IngestError) -> ConflictableTransactionError<IngestError> {
    ConflictableTransactionError::Abort(e)
}

impl WeighingStore {
    /// Opens the trees in `db`.
    ///
    /// # Errors
    /// [`IngestError::Sled`].
    pub fn open(db: &sled::Db) -> Result<Self> {
        Ok(WeighingStore {
            records: db.open_tree(RECORDS_TREE)?,
            conflicts: db.open_tree(CONFLICTS_TREE)?,
            departures: db.open_tree(DEPARTURES_TREE)?,
            year_counts: db.open_tree(YEAR_COUNTS_TREE)?,
        })
    }

    /// Stores the records `items` of `unit`, received at server time `received_at_ms`, in
    /// order and in one transaction: each is [`Stored::New`] (written with its departure
    /// alert, raised by `server`, and the plate's yearly count when it is an over-limit
    /// departure), [`Stored::Duplicate`] or [`Stored::Conflict`] (the new version added to the
    /// conflicts tree). A record id twice in `items` is handled as if uploaded one after the
    /// other. Not flushed: the caller flushes ([`super::Ingest::flush`]) before answering.
    ///
    /// # Errors
    /// [`IngestError`]; nothing is written then.
    pub fn store(
        &self,
        unit: &UnitInfo,
        items: &[Incoming],
        received_at_ms: u64,
        alert_store: &AlertStore,
        server: &PrincipalId,
    ) -> Result<Vec<Stored>> {
        let (alert_tree, by_time_tree) = alert_store.trees();
        (
            &self.records,
            &self.conflicts,
            &self.departures,
            &self.year_counts,
            alert_tree,
            by_time_tree,
        )
            .transaction(
                |(records, conflicts, departures, year_counts, alert_tree, by_time)| {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        let record = &item.checked.record;
                        let key = record_key(&unit.uscc, &record.record_id);
                        if let Some(bytes) = records.get(&key)? {
                            let stored: StoredWeighing = decode(&key, &bytes).map_err(abort)?;
                            if stored.fingerprint == item.fingerprint {
                                out.push(Stored::Duplicate(stored));
                                continue;
                            }
                            let mut ckey = conflict_prefix(&unit.uscc, &record.record_id);
                            ckey.extend_from_slice(item.fingerprint.as_bytes());
                            let version = match conflicts.get(&ckey)? {
                                Some(bytes) => {
                                    let mut v: ConflictingVersion =
                                        decode(&ckey, &bytes).map_err(abort)?;
                                    v.attempts = v.attempts.saturating_add(1);
                                    v
                                }
                                None => ConflictingVersion {
                                    unit: unit.uscc.clone(),
                                    record: record.clone(),
                                    fingerprint: item.fingerprint.clone(),
                                    stored_fingerprint: stored.fingerprint.clone(),
                                    received_at_ms,
                                    attempts: 1,
                                },
                            };
                            conflicts
                                .insert(ckey.clone(), encode(&ckey, &version).map_err(abort)?)?;
                            out.push(Stored::Conflict {
                                stored: Box::new(stored),
                            });
                            continue;
                        }
                        let mut stored = StoredWeighing {
                            unit: unit.uscc.clone(),
                            record: record.clone(),
                            fingerprint: item.fingerprint.clone(),
                            received_at_ms,
                            exit: item.exit.clone(),
                            alert_ids: Vec::new(),
                            year_count: None,
                            unit_name: unit.name.clone(),
                        };
                        if item.exit.departure {
                            let ykey = year_key(year_of(record.weighed_at_ms), &record.plate);
                            let count =
                                read_count(year_counts.get(&ykey)?.as_deref()).saturating_add(1);
                            year_counts.insert(ykey, &count.to_be_bytes()[..])?;
                            stored.year_count = Some(count);
                            let alert = departure_alert(unit, &stored, count, server);
                            alerts::insert_in(alert_tree, by_time, &alert)?;
                            stored.alert_ids.push(alert.id);
                            departures
                                .insert(departure_key(record.weighed_at_ms, &key), &[][..])?;
                        }
                        records.insert(key.clone(), encode(&key, &stored).map_err(abort)?)?;
                        out.push(Stored::New(stored));
                    }
                    Ok(out)
                },
            )
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => IngestError::Sled(e),
            })
    }

    /// The stored record `record_id` of `unit`.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn get(&self, unit: &Uscc, record_id: &str) -> Result<Option<StoredWeighing>> {
        let key = record_key(unit, record_id);
        self.records
            .get(&key)?
            .map(|bytes| decode(&key, &bytes))
            .transpose()
    }

    /// Every refused version of `record_id` of `unit` (audit), by fingerprint.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn conflicts(&self, unit: &Uscc, record_id: &str) -> Result<Vec<ConflictingVersion>> {
        self.conflicts
            .scan_prefix(conflict_prefix(unit, record_id))
            .map(|item| {
                let (key, bytes) = item?;
                decode(&key, &bytes)
            })
            .collect()
    }

    /// How many records are stored (all units).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The over-limit departures weighed at or after `from_ms` (UTC ms), earliest first.
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn departures_since(&self, from_ms: i64) -> Result<Vec<StoredWeighing>> {
        let start = u64::try_from(from_ms).unwrap_or(0).to_be_bytes();
        let mut out = Vec::new();
        for item in self.departures.range(start..) {
            let (key, _) = item?;
            let Some(record_key) = key.get(8..) else {
                continue;
            };
            let Some(bytes) = self.records.get(record_key)? else {
                continue;
            };
            out.push(decode(record_key, &bytes)?);
        }
        Ok(out)
    }

    /// Over-limit departures of `plate` (canonical form) counted in `year` (China time).
    ///
    /// # Errors
    /// [`IngestError`].
    pub fn year_count(&self, year: i32, plate: &str) -> Result<u32> {
        Ok(read_count(
            self.year_counts.get(year_key(year, plate))?.as_deref(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::rules::VehicleConfiguration;
    use zhichao_core::weighing::WeighingResult;

    const NOW: i64 = 1_796_000_000_000;

    fn record(id: &str, gross_kg: u32) -> WeighingRecord {
        WeighingRecord {
            record_id: id.to_owned(),
            lane: None,
            plate: "晋E12345".to_owned(),
            plate_colour: None,
            vehicle: VehicleConfiguration::axles_only(6),
            gross_kg,
            tare_kg: None,
            net_kg: None,
            cargo: None,
            loading_slip_no: None,
            entry_at_ms: None,
            weighed_at_ms: NOW - 60_000,
            exit_at_ms: Some(NOW),
            photos: Vec::new(),
            result: WeighingResult::Passed,
        }
    }

    fn incoming(id: &str, gross_kg: u32) -> Incoming {
        Incoming::new(&record(id, gross_kg), NOW, &RulesConfig::default()).unwrap()
    }

    fn unit() -> UnitInfo {
        UnitInfo::unregistered("91140522MA0000000K".parse().unwrap())
    }

    #[test]
    fn records_are_stored_once_and_conflicts_kept() {
        let ingest = super::super::Ingest::temporary().unwrap();
        let store = &ingest.weighings;
        let server = PrincipalId::new("server").unwrap();
        let items = [
            incoming("r1", 52_300),
            incoming("r1", 52_300),
            incoming("r1", 40_000),
            incoming("r2", 40_000),
        ];
        let out = store
            .store(&unit(), &items, 7, &ingest.alerts, &server)
            .unwrap();
        assert!(matches!(&out[0], Stored::New(s) if s.year_count == Some(1)));
        assert!(matches!(&out[1], Stored::Duplicate(_)));
        assert!(matches!(&out[2], Stored::Conflict { .. }));
        assert!(matches!(&out[3], Stored::New(s) if s.year_count.is_none()));
        assert_eq!(store.len(), 2);
        let conflicts = store.conflicts(&unit().uscc, "r1").unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].record.gross_kg, 40_000);
        assert!(store.conflicts(&unit().uscc, "r2").unwrap().is_empty());
        // Again: a duplicate, the same conflict counted twice, one alert, one count.
        let out = store
            .store(&unit(), &items[..3], 8, &ingest.alerts, &server)
            .unwrap();
        assert!(matches!(&out[0], Stored::Duplicate(s) if s.received_at_ms == 7));
        assert_eq!(store.conflicts(&unit().uscc, "r1").unwrap()[0].attempts, 2);
        assert_eq!(
            ingest.alerts.list(0, u64::MAX, 10, |_| true).unwrap().len(),
            1
        );
        assert_eq!(store.year_count(year_of(NOW), "晋E12345").unwrap(), 1);
        let departures = store.departures_since(NOW - 120_000).unwrap();
        assert_eq!(departures.len(), 1);
        assert_eq!(departures[0].watch_entry().unwrap().year_count, 1);
        assert!(store.departures_since(NOW).unwrap().is_empty());
    }
}
