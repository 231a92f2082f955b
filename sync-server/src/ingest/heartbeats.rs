//! Heartbeats (设备心跳) of source units' equipment and the upload-interrupted monitor
//! (数据上传中断监测).
//!
//! The county plan asks source units for stable weighing, video and display equipment and
//! real-time upload. Each unit's system reports its equipment alive (`POST /v1/heartbeats`,
//! [`record_report`]); an accepted weighing upload counts as a report of the weighing
//! equipment ([`seen`]). The server keeps, per (unit, equipment), when it last worked
//! ([`EquipmentState`], tree `heartbeats`, key `USCC/kind`, server time).
//!
//! Decisions:
//! - A report with `ok: false` (a camera without picture) is recorded with its detail
//!   ([`EquipmentState::last_report`]) but is **not** a sign of working: the silence goes on
//!   from the last working report, so equipment that stays faulty past the gap raises the same
//!   upload-interrupted alert as silent equipment, and a momentary fault raises nothing.
//! - Only operating hours count ([`OperatingHours`], China Standard Time): a silence that began
//!   before opening counts from opening, and nothing is raised while closed.
//! - Only equipment that has reported at least once is monitored (nothing is known of the
//!   rest), and the server's own downtime is not held against a unit: silence counts from the
//!   monitor's start at the earliest.
//! - One alert per silence: its id is [`interruption_alert_id`] of the silence's start, so
//!   monitor runs and restarts raise it once. When the equipment works again the alert gets
//!   [`AlertAction::Resumed`] and [`Interruption::resumed_at_ms`]; it stays for a supervisor to
//!   close.
//!
//! - The server's clock going back (corrected after running ahead) does not blind the monitor:
//!   a recorded time more than a minute ahead of a new report's is replaced by it.
//!
//! A heartbeat and the monitor never cross: the monitor raises an alert in one transaction that
//! also checks the silence still has the start it saw, and the heartbeat moves the start in a
//! transaction of its own before it looks for that silence's alert.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use zhichao_core::calendar::LocalDay;
use zhichao_core::ids::PrincipalId;
use zhichao_core::uscc::Uscc;
use zhichao_core::weighing::{EquipmentKind, EquipmentReport};

use super::alerts::{
    Alert, AlertAction, AlertEvent, AlertKind, AlertStatus, Interruption, insert_in,
    interruption_alert_id,
};
use super::{Ingest, IngestError, Result, units};
use crate::clock::millis;
use crate::{AppState, SERVER_PRINCIPAL_ID};

/// The sled tree of equipment states.
pub const HEARTBEATS_TREE: &str = "heartbeats";

const DAY_MS: u64 = 86_400_000;
const MINUTE_MS: u64 = 60_000;
/// How far a recorded working time may lie ahead of a new report's before the server's clock
/// is taken to have gone back (requests overtaking each other differ by far less).
const CLOCK_SLACK_MS: u64 = MINUTE_MS;

/// Daily operating hours (营业时间) of source units, China Standard Time, `HH:MM-HH:MM`;
/// `00:00-24:00` is round the clock. Opening comes before closing (a window over midnight is
/// not supported). Default `06:00-22:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatingHours {
    open_minute: u16,
    close_minute: u16,
}

/// Why a text is not operating hours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not operating hours such as 06:00-22:00 (opening before closing, 00:00-24:00 round the clock)"
)]
pub struct OperatingHoursError(String);

impl Default for OperatingHours {
    fn default() -> Self {
        OperatingHours {
            open_minute: 6 * 60,
            close_minute: 22 * 60,
        }
    }
}

impl OperatingHours {
    /// `00:00-24:00`.
    pub const ROUND_THE_CLOCK: Self = OperatingHours {
        open_minute: 0,
        close_minute: 24 * 60,
    };

    /// Hours from opening to closing, minutes after local midnight (closing at most 1440).
    ///
    /// # Errors
    /// [`OperatingHoursError`] unless `open_minute < close_minute <= 1440`.
    pub fn new(open_minute: u16, close_minute: u16) -> Result<Self, OperatingHoursError> {
        if open_minute < close_minute && close_minute <= 24 * 60 {
            Ok(OperatingHours {
                open_minute,
                close_minute,
            })
        } else {
            Err(OperatingHoursError(format!(
                "{}-{}",
                hhmm(open_minute),
                hhmm(close_minute)
            )))
        }
    }

    /// The window of the local day holding `at_ms`, UTC ms `[open, close)`; `None` out of
    /// chrono's range.
    fn window_of_day(&self, at_ms: u64) -> Option<(u64, u64)> {
        let day = LocalDay::of_ms(i64::try_from(at_ms).ok()?)?;
        let start = u64::try_from(day.start_ms()).ok()?;
        Some((
            start + u64::from(self.open_minute) * MINUTE_MS,
            start + u64::from(self.close_minute) * MINUTE_MS,
        ))
    }

    /// Whether units operate at `at_ms` (UTC ms).
    pub fn is_open(&self, at_ms: u64) -> bool {
        self.window_of_day(at_ms)
            .is_some_and(|(open, close)| (open..close).contains(&at_ms))
    }

    /// Operating time within `[from_ms, to_ms)`, ms (China Standard Time has no daylight
    /// saving, so every day has the same window).
    pub fn open_ms_between(&self, from_ms: u64, to_ms: u64) -> u64 {
        let mut total = 0;
        let mut t = from_ms;
        while t < to_ms {
            let Some((open, close)) = self.window_of_day(t) else {
                break;
            };
            let (start, end) = (t.max(open), to_ms.min(close));
            total += end.saturating_sub(start);
            // The next local midnight.
            t = open - u64::from(self.open_minute) * MINUTE_MS + DAY_MS;
        }
        total
    }
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

impl fmt::Display for OperatingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", hhmm(self.open_minute), hhmm(self.close_minute))
    }
}

impl FromStr for OperatingHours {
    type Err = OperatingHoursError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || OperatingHoursError(s.chars().take(40).collect());
        let minute = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let digits = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
            if !digits(h) || !digits(m) {
                return None;
            }
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (open, close) = s.split_once('-').ok_or_else(bad)?;
        let (open, close) = (
            minute(open).ok_or_else(bad)?,
            minute(close).ok_or_else(bad)?,
        );
        Self::new(open, close).map_err(|_| bad())
    }
}

/// The last report of one piece of equipment, as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastReport {
    /// Server receipt time, UTC ms.
    pub at_ms: u64,
    /// Working, by the site's account.
    pub ok: bool,
    /// What the site said (at most 200 characters).
    pub detail: Option<String>,
}

/// What the server knows of one piece of a unit's equipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquipmentState {
    /// The source unit.
    pub unit: Uscc,
    /// The equipment.
    pub equipment: EquipmentKind,
    /// When it was first heard of, server time, UTC ms.
    pub first_seen_ms: u64,
    /// When it last worked (a working report, or for the weighing equipment an accepted
    /// upload), server time, UTC ms; `None` when it has only reported faults.
    pub last_ok_ms: Option<u64>,
    /// Its last explicit report (`POST /v1/heartbeats`), faults included.
    pub last_report: Option<LastReport>,
}

impl EquipmentState {
    /// When the current silence began: the last working report, else the first report.
    pub fn silent_since_ms(&self) -> u64 {
        self.last_ok_ms.unwrap_or(self.first_seen_ms)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        super::encode(key(&self.unit, self.equipment).as_bytes(), self)
    }

    fn decode(key: &[u8], bytes: &[u8]) -> Result<Self> {
        super::decode(key, bytes)
    }
}

fn key(unit: &Uscc, equipment: EquipmentKind) -> String {
    format!("{unit}/{}", equipment.as_str())
}

fn tree(ingest: &Ingest) -> Result<sled::Tree> {
    Ok(ingest.db().open_tree(HEARTBEATS_TREE)?)
}

fn transaction_error(e: TransactionError<IngestError>) -> IngestError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => IngestError::Sled(e),
    }
}

fn server_id() -> PrincipalId {
    PrincipalId::new(SERVER_PRINCIPAL_ID).unwrap_or_else(|_| unreachable!())
}

/// Records the report of one piece of `unit`'s equipment received at `at_ms` (server time).
/// A working report ends a silence: the silence's open interruption alert, if one was raised,
/// is marked resumed, and its id returned. Not flushed.
///
/// # Errors
/// [`IngestError`].
pub fn record_report(
    ingest: &Ingest,
    unit: &Uscc,
    report: &EquipmentReport,
    at_ms: u64,
) -> Result<Option<String>> {
    if !report.ok {
        tracing::warn!(
            unit = %unit,
            equipment = report.kind.as_str(),
            detail = report.detail.as_deref().unwrap_or(""),
            "a source unit reports faulty equipment"
        );
    }
    touch(ingest, unit, report.kind, at_ms, Some(report))
}

/// Counts a sign of life of `unit`'s equipment at `at_ms` (server time) that is not a
/// heartbeat — the weighing ingest calls it with [`EquipmentKind::Weighing`] for an accepted
/// upload. As [`record_report`] with a working report, but the last explicit report is kept.
/// Not flushed.
///
/// # Errors
/// [`IngestError`].
pub fn seen(
    ingest: &Ingest,
    unit: &Uscc,
    kind: EquipmentKind,
    at_ms: u64,
) -> Result<Option<String>> {
    touch(ingest, unit, kind, at_ms, None)
}

fn touch(
    ingest: &Ingest,
    unit: &Uscc,
    kind: EquipmentKind,
    at_ms: u64,
    report: Option<&EquipmentReport>,
) -> Result<Option<String>> {
    let tree = tree(ingest)?;
    let k = key(unit, kind);
    let working = report.is_none_or(|r| r.ok);
    let before = tree
        .transaction(|t| {
            let before = t
                .get(k.as_bytes())?
                .map(|bytes| EquipmentState::decode(k.as_bytes(), &bytes))
                .transpose()
                .map_err(ConflictableTransactionError::Abort)?;
            let mut state = before.clone().unwrap_or_else(|| EquipmentState {
                unit: unit.clone(),
                equipment: kind,
                first_seen_ms: at_ms,
                last_ok_ms: None,
                last_report: None,
            });
            // Nothing was seen after a report: a first sighting in the future came from a
            // server clock that ran ahead.
            state.first_seen_ms = state.first_seen_ms.min(at_ms);
            if working {
                state.last_ok_ms = Some(match state.last_ok_ms {
                    // A late request never moves the time back …
                    Some(t) if t <= at_ms.saturating_add(CLOCK_SLACK_MS) => t.max(at_ms),
                    // … but a time further ahead came from a server clock that ran ahead and
                    // was corrected; kept, it would hide every silence until real time caught
                    // up with it.
                    _ => at_ms,
                });
            }
            if let Some(r) = report {
                state.last_report = Some(LastReport {
                    at_ms,
                    ok: r.ok,
                    detail: r.detail.clone(),
                });
            }
            let bytes = state
                .encode()
                .map_err(ConflictableTransactionError::Abort)?;
            t.insert(k.as_bytes(), bytes)?;
            Ok(before)
        })
        .map_err(transaction_error)?;
    let Some(before) = before.filter(|_| working) else {
        return Ok(None);
    };
    let id = interruption_alert_id(unit, kind, before.silent_since_ms());
    let mut marked = false;
    ingest.alerts.update::<IngestError>(&id, |alert| {
        // Retried on a concurrent change: decide afresh each time.
        marked = false;
        if alert.status != AlertStatus::Closed
            && let Some(i) = alert.interruption.as_mut()
            && i.resumed_at_ms.is_none()
        {
            i.resumed_at_ms = Some(at_ms);
            alert.history.push(AlertEvent {
                at_ms,
                by: server_id(),
                action: AlertAction::Resumed,
            });
            marked = true;
        }
        Ok(())
    })?;
    Ok(marked.then_some(id))
}

/// What is known of `unit`'s `kind` equipment.
///
/// # Errors
/// [`IngestError`].
pub fn state(ingest: &Ingest, unit: &Uscc, kind: EquipmentKind) -> Result<Option<EquipmentState>> {
    let k = key(unit, kind);
    tree(ingest)?
        .get(k.as_bytes())?
        .map(|bytes| EquipmentState::decode(k.as_bytes(), &bytes))
        .transpose()
}

/// Every piece of equipment that ever reported, by unit and kind.
///
/// # Errors
/// [`IngestError`] (a corrupt record stops the listing).
pub fn states(ingest: &Ingest) -> Result<Vec<EquipmentState>> {
    tree(ingest)?
        .iter()
        .map(|item| {
            let (k, v) = item?;
            EquipmentState::decode(&k, &v)
        })
        .collect()
}

/// One run of the monitor at `now_ms` (server time): for every piece of equipment that ever
/// reported, the silence since it last worked — counted within operating hours, and from
/// `monitoring_since_ms` at the earliest (the server's own downtime is not the unit's) — and
/// when it exceeds `ingest.heartbeat_gap` while units operate, an [`AlertKind::UploadInterrupted`]
/// alert routed by the unit's profile ([`units::lookup`]). Returns the alerts raised now (an
/// alert raised by an earlier run is not raised again). Not flushed.
///
/// A corrupt equipment record is logged and skipped, so one bad record does not silence the
/// monitor for every unit.
///
/// # Errors
/// [`IngestError`] when the database fails.
pub fn check_silence(
    state: &AppState,
    monitoring_since_ms: u64,
    now_ms: u64,
) -> Result<Vec<Alert>> {
    let settings = &state.config.ingest;
    let hours = settings.operating_hours;
    if !hours.is_open(now_ms) {
        return Ok(Vec::new());
    }
    let gap_ms = millis(settings.heartbeat_gap);
    let ingest = &state.ingest;
    let tree = tree(ingest)?;
    let (alerts, by_time) = ingest.alerts.trees();
    let mut raised = Vec::new();
    for item in tree.iter() {
        let (k, v) = item?;
        let equipment = match EquipmentState::decode(&k, &v) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "skipping a corrupt equipment record");
                continue;
            }
        };
        let since = equipment.silent_since_ms();
        let id = interruption_alert_id(&equipment.unit, equipment.equipment, since);
        if alerts.contains_key(id.as_bytes())? {
            continue;
        }
        let silent_ms = hours.open_ms_between(since.max(monitoring_since_ms), now_ms);
        if silent_ms <= gap_ms {
            continue;
        }
        let routing = units::lookup(state.docs.as_ref(), &equipment.unit).unwrap_or_else(|e| {
            tracing::warn!(error = %e, unit = %equipment.unit, "cannot look up the unit's profile");
            units::UnitInfo::unregistered(equipment.unit.clone())
        });
        let alert = Alert {
            id,
            kind: AlertKind::UploadInterrupted,
            status: AlertStatus::Open,
            unit: equipment.unit.clone(),
            unit_name: routing.name.clone(),
            jurisdiction: routing.jurisdiction,
            recipients: routing.recipients(),
            raised_at_ms: now_ms,
            departure: None,
            interruption: Some(Interruption {
                equipment: equipment.equipment,
                last_seen_ms: equipment.last_ok_ms,
                silent_ms,
                resumed_at_ms: None,
            }),
            dispatched_to: None,
            case: None,
            history: vec![AlertEvent {
                at_ms: now_ms,
                by: server_id(),
                action: AlertAction::Raised,
            }],
        };
        // Raised only if the equipment is still silent since `since`: a heartbeat that came
        // in meanwhile wins.
        let inserted = (&tree, alerts, by_time)
            .transaction(|(t, alerts, by_time)| {
                let current = t
                    .get(&k)?
                    .map(|bytes| EquipmentState::decode(&k, &bytes))
                    .transpose()
                    .map_err(ConflictableTransactionError::Abort)?;
                if current.is_none_or(|c| c.silent_since_ms() != since) {
                    return Ok(false);
                }
                insert_in(alerts, by_time, &alert)
            })
            .map_err(transaction_error)?;
        if inserted {
            tracing::warn!(
                alert_id = %alert.id,
                unit = %alert.unit,
                equipment = equipment.equipment.as_str(),
                silent_ms,
                "upload interrupted"
            );
            raised.push(alert);
        }
    }
    Ok(raised)
}

/// Runs [`check_silence`] every `ingest.monitor_interval` until the server shuts down,
/// flushing what it raised. Spawned by [`crate::serve`].
pub async fn monitor_loop(state: AppState) {
    let mut stop = std::pin::pin!(state.shutdown_signal());
    let started_ms = state.now_ms();
    let interval = state.config.ingest.monitor_interval;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => return,
        }
        let run = state.clone();
        let now_ms = state.now_ms();
        match tokio::task::spawn_blocking(move || check_silence(&run, started_ms, now_ms)).await {
            Ok(Ok(raised)) if raised.is_empty() => {}
            Ok(Ok(raised)) => {
                if let Err(e) = state.ingest.flush().await {
                    tracing::warn!(error = %e, "cannot flush the interruption alerts");
                }
                tracing::info!(raised = raised.len(), "upload-interrupted alerts raised");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the upload monitor failed"),
            Err(e) => tracing::warn!(error = %e, "the upload monitor panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-29 00:00 China Standard Time.
    const MIDNIGHT: u64 = 1_795_881_600_000;
    const HOUR: u64 = 3_600_000;

    #[test]
    fn hours_parse_and_print() {
        let h: OperatingHours = "06:00-22:00".parse().unwrap();
        assert_eq!(h, OperatingHours::default());
        assert_eq!(h.to_string(), "06:00-22:00");
        let all: OperatingHours = " 00:00 - 24:00 ".parse().unwrap();
        assert_eq!(all, OperatingHours::ROUND_THE_CLOCK);
        assert_eq!(all.to_string(), "00:00-24:00");
        for bad in [
            "",
            "6-22",
            "06:00",
            "22:00-06:00",
            "06:00-06:00",
            "24:30-25:00",
            "06:60-22:00",
            "6:00-22:00",
            "06:00-24:01",
            "０６:00-22:00",
        ] {
            assert!(bad.parse::<OperatingHours>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_operating_time_counts() {
        let h = OperatingHours::default();
        assert!(!h.is_open(MIDNIGHT + 5 * HOUR));
        assert!(h.is_open(MIDNIGHT + 6 * HOUR));
        assert!(!h.is_open(MIDNIGHT + 22 * HOUR));
        // 04:00 → 07:00: one hour, from opening.
        assert_eq!(
            h.open_ms_between(MIDNIGHT + 4 * HOUR, MIDNIGHT + 7 * HOUR),
            HOUR
        );
        // 21:00 → next day 07:00: 22:00-06:00 does not count.
        assert_eq!(
            h.open_ms_between(MIDNIGHT + 21 * HOUR, MIDNIGHT + 31 * HOUR),
            2 * HOUR
        );
        // Three whole days: 16 h each.
        assert_eq!(h.open_ms_between(MIDNIGHT, MIDNIGHT + 72 * HOUR), 48 * HOUR);
        assert_eq!(h.open_ms_between(MIDNIGHT + 7 * HOUR, MIDNIGHT), 0);
        let all = OperatingHours::ROUND_THE_CLOCK;
        assert!(all.is_open(MIDNIGHT + 23 * HOUR));
        assert_eq!(
            all.open_ms_between(MIDNIGHT + 20 * HOUR, MIDNIGHT + 30 * HOUR),
            10 * HOUR
        );
    }
}
