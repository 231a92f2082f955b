//! Weighing records (称重记录) of source units, and what the exit screen and barrier do with them.
//!
//! Every listed source unit (货运源头单位) weighs each outbound truck and uploads the record in
//! real time to the county platform (REFERENCE.md §3): record id (unique per unit — a retry must
//! not duplicate), lane, plate and plate colour, axle count and configuration, gross / tare / net
//! mass, cargo, loading slip (货物装载单), entry / weighing / exit times, snapshot photo hashes and
//! the result (passed / blocked / unloaded and re-weighed). A record of a truck that left the
//! site over the limit is an **over-limit departure** (超限出场), the event the platform alerts on.
//!
//! This module is the shared, pure part: the upload's JSON shape ([`WeighingRecord`], also the
//! body of `POST /v1/weighings`), its checks ([`WeighingRecord::check`] → [`CheckedWeighing`]),
//! the content fingerprint that makes uploads idempotent ([`CheckedWeighing::fingerprint`]),
//! and the verdict for the exit screen ([`assess`] → [`ExitAssessment`]: pass or stop, and the
//! display text, `禁止出场` when over), and the bodies of `POST /v1/weighings`
//! ([`RecordOutcome`], [`BatchOutcome`]) and `POST /v1/heartbeats` ([`HeartbeatRequest`]).
//! Weighbridges often report only the axle count: the rules
//! then assume the highest limit any vehicle with that many axles may have and say so
//! ([`ExitAssessment::configuration_assumed`]), so an alert never rests on a guess against the
//! carrier.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plate::{Plate, PlateColour};
use crate::rules::{ClassifyError, Measurement, RulesConfig, VehicleConfiguration, classify};

/// Most records in one upload (`POST /v1/weighings` with `records`).
pub const MAX_BATCH_RECORDS: usize = 1_000;

/// Longest record id, characters (weighbridge software uses serial numbers such as
/// `2026112900123`).
pub const MAX_RECORD_ID_CHARS: usize = 64;

/// Longest free text (lane, cargo, loading-slip number), characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// Most snapshot photos per record.
pub const MAX_PHOTOS: usize = 16;

/// Heaviest gross mass accepted from a weighbridge, kg. Static weighbridges of source units are
/// rated up to 150 t; anything heavier is a unit mistake (tonnes read as kilograms × 1000).
pub const MAX_WEIGHBRIDGE_GROSS_KG: u32 = 200_000;

/// Earliest time accepted (2000-01-01T00:00:00Z), UTC ms: an unset clock reads 1970.
pub const EARLIEST_AT_MS: i64 = 946_684_800_000;

/// How far in the future a record may be dated, ms: one day (clock drift of a site PC).
pub const MAX_FUTURE_MS: i64 = 86_400_000;

/// What the site did with the truck (过磅结果).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeighingResult {
    /// Let out (放行).
    Passed,
    /// Stopped at the barrier, not let out (拦截).
    Blocked,
    /// Unloaded and weighed again (卸载复磅); the record's masses are those of the last weighing.
    UnloadedAndReweighed,
}

impl WeighingResult {
    /// Chinese name: 放行, 拦截, 卸载复磅.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::Passed => "放行",
            Self::Blocked => "拦截",
            Self::UnloadedAndReweighed => "卸载复磅",
        }
    }
}

/// Which snapshot a photo hash is (REFERENCE.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotRole {
    /// Front, for the plate.
    Front,
    /// Rear, proving every wheel is on the scale.
    Rear,
    /// Cab.
    Cab,
    /// Any other camera.
    Other,
}

/// One snapshot photo of a weighing, by the SHA-256 of its bytes (the photo itself stays at the
/// site's video system).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRef {
    /// Which camera.
    pub role: SnapshotRole,
    /// SHA-256 of the photo bytes, 64 hex digits (lower case after [`WeighingRecord::check`]).
    pub sha256: String,
}

/// One weighing record as a source unit uploads it (JSON body of `POST /v1/weighings`, or one
/// element of its `records`). Masses in kg, times UTC ms. Unknown fields are refused, so a
/// misspelt field is an error and not a silently missing value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeighingRecord {
    /// The unit's own id of the record, unique per source unit, 1–[`MAX_RECORD_ID_CHARS`]
    /// printable characters (no control characters, no invisible bidirectional or zero-width
    /// marks).
    pub record_id: String,
    /// Lane or weighbridge (通道/磅号).
    #[serde(default)]
    pub lane: Option<String>,
    /// Licence plate (车牌号), any accepted spelling ([`Plate::parse`]).
    pub plate: String,
    /// Plate colour (车牌颜色): code, English or Chinese name ([`PlateColour`]); the plate's
    /// usual colour when absent.
    #[serde(default)]
    pub plate_colour: Option<String>,
    /// Axle count and whatever else of the configuration the weighbridge knows.
    pub vehicle: VehicleConfiguration,
    /// Gross mass (毛重), kg.
    pub gross_kg: u32,
    /// Tare (皮重), kg.
    #[serde(default)]
    pub tare_kg: Option<u32>,
    /// Net mass (净重), kg; must equal gross − tare when both are given.
    #[serde(default)]
    pub net_kg: Option<u32>,
    /// Cargo (货物名称).
    #[serde(default)]
    pub cargo: Option<String>,
    /// Loading-slip number (货物装载单号).
    #[serde(default)]
    pub loading_slip_no: Option<String>,
    /// Entry time (进场时间), UTC ms.
    #[serde(default)]
    pub entry_at_ms: Option<i64>,
    /// Weighing time (过磅时间), UTC ms.
    pub weighed_at_ms: i64,
    /// Exit time (出场时间), UTC ms; absent for a blocked truck.
    #[serde(default)]
    pub exit_at_ms: Option<i64>,
    /// Snapshot photos by hash.
    #[serde(default)]
    pub photos: Vec<SnapshotRef>,
    /// What the site did.
    pub result: WeighingResult,
}

/// A record that passed [`WeighingRecord::check`]: the plate parsed, the colour known, the
/// masses consistent (net filled in from gross − tare), texts trimmed, hashes lower case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedWeighing {
    /// The record as normalised (plate in canonical form, colour as its English name).
    pub record: WeighingRecord,
    /// The plate.
    pub plate: Plate,
    /// The plate colour: given, or the usual colour of the plate's kind; `None` when neither
    /// says (an ordinary plate may be blue or yellow).
    pub plate_colour: Option<PlateColour>,
}

/// Why a weighing record is refused. Messages name the field and the value's problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WeighingError {
    /// A field is missing, empty, too long or malformed.
    #[error("{field}: {reason}")]
    Field {
        /// The JSON field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Gross, tare and net do not add up.
    #[error("masses do not add up: gross {gross_kg} kg − tare {tare_kg} kg ≠ net {net_kg} kg")]
    Masses {
        /// Gross.
        gross_kg: u32,
        /// Tare.
        tare_kg: u32,
        /// Net.
        net_kg: u32,
    },
    /// The times are out of order or out of range.
    #[error("times: {0}")]
    Times(String),
    /// The rules cannot classify the record (for example an impossible axle count).
    #[error("cannot classify: {0}")]
    Classify(#[from] ClassifyError),
}

impl WeighingError {
    fn field(field: &'static str, reason: impl Into<String>) -> Self {
        WeighingError::Field {
            field,
            reason: reason.into(),
        }
    }
}

/// Trims a text field; `None` when empty; refuses control characters and overlong text.
fn text(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, WeighingError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(WeighingError::field(
            field,
            format!("{chars} characters; at most {max_chars}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(WeighingError::field(field, "contains control characters"));
    }
    Ok(Some(value.to_owned()))
}

/// Invisible format characters (Unicode category Cf that draw nothing): soft hyphen, Arabic
/// letter mark, Mongolian vowel separator, zero-width space / non-joiner / joiner, left-to-right
/// and right-to-left marks, bidirectional embeddings, overrides and isolates, word joiner and
/// invisible operators, the byte-order mark. An id holding one looks exactly like the id without
/// it, so a retry "spelt" with one would be a second record.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

fn time(field: &'static str, at_ms: i64, now_ms: i64) -> Result<(), WeighingError> {
    if at_ms < EARLIEST_AT_MS {
        return Err(WeighingError::Times(format!(
            "{field} {at_ms} is before 2000-01-01 (is the site PC's clock set?)"
        )));
    }
    if at_ms > now_ms.saturating_add(MAX_FUTURE_MS) {
        return Err(WeighingError::Times(format!(
            "{field} {at_ms} is more than a day in the future (is the site PC's clock set?)"
        )));
    }
    Ok(())
}

impl WeighingRecord {
    /// Checks and normalises the record, `now_ms` being the receiver's clock (UTC ms).
    ///
    /// # Errors
    /// [`WeighingError::Field`] for a missing or malformed id (empty, too long, control or
    /// invisible format characters), plate, colour, text or hash, a
    /// zero or implausible gross (above [`MAX_WEIGHBRIDGE_GROSS_KG`]), a tare above the gross;
    /// [`WeighingError::Masses`] when net ≠ gross − tare; [`WeighingError::Times`] for times
    /// before 2000, more than a day ahead, or out of order (entry ≤ weighing ≤ exit), or an
    /// exit time on a blocked truck; [`WeighingError::Classify`] when the configuration has no
    /// limit (fewer than 2 or more than 6 axles, contradictory details).
    pub fn check(&self, now_ms: i64) -> Result<CheckedWeighing, WeighingError> {
        let record_id = self.record_id.trim();
        if record_id.is_empty() {
            return Err(WeighingError::field("record_id", "empty"));
        }
        let id_chars = record_id.chars().count();
        if id_chars > MAX_RECORD_ID_CHARS {
            return Err(WeighingError::field(
                "record_id",
                format!("{id_chars} characters; at most {MAX_RECORD_ID_CHARS}"),
            ));
        }
        if record_id.chars().any(char::is_control) {
            return Err(WeighingError::field(
                "record_id",
                "contains control characters",
            ));
        }
        if let Some(c) = record_id.chars().find(|&c| is_invisible_format(c)) {
            return Err(WeighingError::field(
                "record_id",
                format!(
                    "contains the invisible character U+{:04X} (a bidirectional or zero-width \
                     mark): the id would look like another",
                    u32::from(c)
                ),
            ));
        }
        let plate =
            Plate::parse(&self.plate).map_err(|e| WeighingError::field("plate", e.to_string()))?;
        let plate_colour = match text("plate_colour", self.plate_colour.as_deref(), 16)? {
            Some(c) => Some(
                c.parse::<PlateColour>()
                    .map_err(|e| WeighingError::field("plate_colour", e.to_string()))?,
            ),
            None => plate.default_colour(),
        };
        if self.gross_kg == 0 {
            return Err(WeighingError::field("gross_kg", "zero"));
        }
        if self.gross_kg > MAX_WEIGHBRIDGE_GROSS_KG {
            return Err(WeighingError::field(
                "gross_kg",
                format!(
                    "{} kg is above {MAX_WEIGHBRIDGE_GROSS_KG} kg (tonnes sent as kilograms?)",
                    self.gross_kg
                ),
            ));
        }
        let net_kg = match (self.tare_kg, self.net_kg) {
            (Some(tare), _) if tare > self.gross_kg => {
                return Err(WeighingError::field(
                    "tare_kg",
                    format!("{tare} kg is above the gross {} kg", self.gross_kg),
                ));
            }
            (Some(tare), Some(net)) if self.gross_kg - tare != net => {
                return Err(WeighingError::Masses {
                    gross_kg: self.gross_kg,
                    tare_kg: tare,
                    net_kg: net,
                });
            }
            (Some(tare), _) => Some(self.gross_kg - tare),
            (None, Some(net)) if net > self.gross_kg => {
                return Err(WeighingError::field(
                    "net_kg",
                    format!("{net} kg is above the gross {} kg", self.gross_kg),
                ));
            }
            (None, net) => net,
        };
        time("weighed_at_ms", self.weighed_at_ms, now_ms)?;
        if let Some(entry) = self.entry_at_ms {
            time("entry_at_ms", entry, now_ms)?;
            if entry > self.weighed_at_ms {
                return Err(WeighingError::Times(
                    "entry_at_ms is after weighed_at_ms".to_owned(),
                ));
            }
        }
        if let Some(exit) = self.exit_at_ms {
            time("exit_at_ms", exit, now_ms)?;
            if exit < self.weighed_at_ms {
                return Err(WeighingError::Times(
                    "exit_at_ms is before weighed_at_ms".to_owned(),
                ));
            }
            if self.result == WeighingResult::Blocked {
                return Err(WeighingError::Times(
                    "a blocked truck has no exit time".to_owned(),
                ));
            }
        }
        if self.photos.len() > MAX_PHOTOS {
            return Err(WeighingError::field(
                "photos",
                format!("{} photos; at most {MAX_PHOTOS}", self.photos.len()),
            ));
        }
        let mut photos = Vec::with_capacity(self.photos.len());
        for photo in &self.photos {
            let hash = photo.sha256.trim().to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(WeighingError::field(
                    "photos",
                    format!("{:?} is not a SHA-256 (64 hex digits)", photo.sha256),
                ));
            }
            photos.push(SnapshotRef {
                role: photo.role,
                sha256: hash,
            });
        }
        // The configuration must have a limit: classify once with a nominal gross.
        self.vehicle.gross_limit().map_err(ClassifyError::from)?;
        let record = WeighingRecord {
            record_id: record_id.to_owned(),
            lane: text("lane", self.lane.as_deref(), MAX_TEXT_CHARS)?,
            plate: plate.to_string(),
            plate_colour: plate_colour.map(|c| c.as_str().to_owned()),
            vehicle: self.vehicle.clone(),
            gross_kg: self.gross_kg,
            tare_kg: self.tare_kg,
            net_kg,
            cargo: text("cargo", self.cargo.as_deref(), MAX_TEXT_CHARS)?,
            loading_slip_no: text(
                "loading_slip_no",
                self.loading_slip_no.as_deref(),
                MAX_TEXT_CHARS,
            )?,
            entry_at_ms: self.entry_at_ms,
            weighed_at_ms: self.weighed_at_ms,
            exit_at_ms: self.exit_at_ms,
            photos,
            result: self.result,
        };
        Ok(CheckedWeighing {
            record,
            plate,
            plate_colour,
        })
    }
}

impl CheckedWeighing {
    /// The content fingerprint: SHA-256 (hex) of the normalised record's JSON. Two uploads of
    /// one record id are the same record exactly when their fingerprints agree, so a spelling
    /// difference the checks normalise away (`晋e·12345` vs `晋E12345`, upper-case hashes) is
    /// not a conflict.
    pub fn fingerprint(&self) -> String {
        // serde's derive writes fields in declaration order and serde_json adds no whitespace,
        // so the text is stable while the struct's field order is (part of this contract).
        let json = serde_json::to_vec(&self.record).unwrap_or_default();
        let digest = Sha256::digest(&json);
        let mut hex = String::with_capacity(64);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }
}

/// The exit screen's and barrier's answer (出场判定).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitVerdict {
    /// Within the limit: the barrier may open (准予出场).
    Pass,
    /// Over the limit: keep the barrier shut (禁止出场).
    Stop,
}

/// What the rules say about a weighing: the verdict for the barrier, the text for the exit
/// screen (LED 显示屏), and whether the record is an over-limit departure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitAssessment {
    /// Pass or stop.
    pub verdict: ExitVerdict,
    /// Over the limit (超限, 62号令 Art. 3: gross − tolerance > limit).
    pub over_limit: bool,
    /// The weighbridge did not give the full configuration, so the highest limit a vehicle with
    /// this axle count may have was applied (the verdict can only favour the carrier).
    pub configuration_assumed: bool,
    /// Gross mass, kg.
    pub gross_kg: u32,
    /// The gross mass limit applied, kg.
    pub limit_kg: u32,
    /// Mass over the limit (after the tolerance), kg; 0 when within.
    pub excess_kg: u32,
    /// 超限率 in basis points (1/100 %).
    pub rate_bp: u64,
    /// The rules version used ([`RulesConfig::id`]).
    pub rules_id: String,
    /// The truck left the site over the limit (超限出场): over the limit and not blocked.
    pub departure: bool,
    /// One line for the exit screen, e.g. `晋E12345 毛重52.30t 限重49.00t 超限3.30t 禁止出场`.
    pub display_text: String,
}

/// Tonnes with two decimals, from kg (`52300` → `52.30`).
pub fn tonnes(kg: u32) -> String {
    format!("{}.{:02}", kg / 1000, (kg % 1000) / 10)
}

/// Classifies a checked record under `rules` and builds the exit screen's answer.
///
/// A record is an over-limit departure (超限出场) when it is over the limit and the truck was
/// not blocked: passed, or unloaded and re-weighed but still over (the record's masses are those
/// of the last weighing).
///
/// # Errors
/// [`ClassifyError`] when the rules cannot classify it ([`WeighingRecord::check`] already
/// refuses configurations without a limit, so this is for masses the rules find implausible).
pub fn assess(
    weighing: &CheckedWeighing,
    rules: &RulesConfig,
) -> Result<ExitAssessment, ClassifyError> {
    let measurement = Measurement {
        gross_kg: weighing.record.gross_kg,
        ..Measurement::default()
    };
    let c = classify(&weighing.record.vehicle, &measurement, rules)?;
    let over = c.mass_over_limit;
    let verdict = if over {
        ExitVerdict::Stop
    } else {
        ExitVerdict::Pass
    };
    let mut display_text = format!(
        "{} 毛重{}t 限重{}t",
        weighing.plate,
        tonnes(c.gross_kg),
        tonnes(c.limit_kg)
    );
    if over {
        let _ = write!(display_text, " 超限{}t 禁止出场", tonnes(c.excess_kg));
    } else {
        display_text.push_str(" 准予出场");
    }
    Ok(ExitAssessment {
        verdict,
        over_limit: over,
        configuration_assumed: c.configuration_assumed,
        gross_kg: c.gross_kg,
        limit_kg: c.limit_kg,
        excess_kg: if over { c.excess_kg } else { 0 },
        rate_bp: if over { c.rate_bp } else { 0 },
        rules_id: c.rules_id,
        departure: over && weighing.record.result != WeighingResult::Blocked,
        display_text,
    })
}

/// Equipment of a source unit that reports it is alive (`POST /v1/heartbeats`): the plan asks
/// for stable weighing, video and display equipment and real-time upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EquipmentKind {
    /// The weighbridge and its uploader (称重设备).
    Weighing,
    /// Cameras and recorder (视频监控).
    Video,
    /// The exit screen (显示屏).
    Display,
}

impl EquipmentKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Weighing, Self::Video, Self::Display];

    /// Stable name: `weighing`, `video`, `display`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Weighing => "weighing",
            Self::Video => "video",
            Self::Display => "display",
        }
    }

    /// Chinese name: 称重设备, 视频监控, 显示屏.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::Weighing => "称重设备",
            Self::Video => "视频监控",
            Self::Display => "显示屏",
        }
    }
}

/// What became of one uploaded record (an element of [`BatchOutcome::records`], or the whole
/// answer to a single-record upload).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Stored now (HTTP 201 for a single record).
    Stored,
    /// Stored before with the same content: a retry; nothing changed (HTTP 200).
    Duplicate,
    /// Stored before with different content: refused, both versions kept for audit (HTTP 409
    /// for a single record).
    Conflict,
    /// Refused by the checks; [`RecordOutcome::reason`] says why (HTTP 400 for a single record).
    Invalid,
}

/// The answer about one record of `POST /v1/weighings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordOutcome {
    /// Position in the batch (0 for a single record).
    pub index: usize,
    /// The record id, when the record had one.
    pub record_id: Option<String>,
    /// What became of it.
    pub status: RecordStatus,
    /// Why it is invalid or in conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For the exit screen and barrier: the verdict on the stored record (stored, duplicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitAssessment>,
    /// Alerts raised for the record (an over-limit departure raises one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alert_ids: Vec<String>,
}

/// The answer to a batch upload (`{"records": [...]}`, HTTP 200): one outcome per record, in
/// order, and the counts. The valid records are kept whatever the others are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Records stored now.
    pub stored: usize,
    /// Retries of records stored before.
    pub duplicates: usize,
    /// Records refused because their id was stored with other content.
    pub conflicts: usize,
    /// Records refused by the checks.
    pub invalid: usize,
    /// One per record, in the batch's order.
    pub records: Vec<RecordOutcome>,
}

/// One piece of equipment's report in `POST /v1/heartbeats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquipmentReport {
    /// Which equipment.
    pub kind: EquipmentKind,
    /// Working (false: the site reports a fault, e.g. a camera without picture).
    #[serde(default = "default_true")]
    pub ok: bool,
    /// What the site says about it (at most [`MAX_TEXT_CHARS`] characters).
    #[serde(default)]
    pub detail: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Body of `POST /v1/heartbeats` (a source-unit system; the unit is the token's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The equipment reporting (at least one; each kind at most once).
    pub equipment: Vec<EquipmentReport>,
}

/// Answer to `POST /v1/heartbeats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    /// Server receipt time, UTC ms (the time the gap is measured from).
    pub received_at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::BodyType;

    const NOW: i64 = 1_796_000_000_000;

    fn record() -> WeighingRecord {
        WeighingRecord {
            record_id: "20261129-0001".to_owned(),
            lane: Some("1号磅".to_owned()),
            plate: "晋e·12345".to_owned(),
            plate_colour: None,
            vehicle: VehicleConfiguration::axles_only(6),
            gross_kg: 52_300,
            tare_kg: Some(15_200),
            net_kg: Some(37_100),
            cargo: Some("原煤".to_owned()),
            loading_slip_no: None,
            entry_at_ms: Some(NOW - 600_000),
            weighed_at_ms: NOW - 300_000,
            exit_at_ms: Some(NOW - 60_000),
            photos: vec![SnapshotRef {
                role: SnapshotRole::Front,
                sha256: "AB".repeat(32),
            }],
            result: WeighingResult::Passed,
        }
    }

    #[test]
    fn a_six_axle_truck_over_49_t_that_left_is_an_over_limit_departure() {
        let checked = record().check(NOW).unwrap();
        assert_eq!(checked.record.plate, "晋E12345");
        assert_eq!(
            checked.plate_colour, None,
            "an ordinary plate may be blue or yellow"
        );
        assert_eq!(checked.record.photos[0].sha256, "ab".repeat(32));
        let a = assess(&checked, &RulesConfig::default()).unwrap();
        assert!(a.over_limit && a.departure);
        assert!(a.configuration_assumed, "axles only: the limit is assumed");
        assert_eq!((a.limit_kg, a.excess_kg), (49_000, 3_300));
        assert_eq!(a.verdict, ExitVerdict::Stop);
        assert_eq!(
            a.display_text,
            "晋E12345 毛重52.30t 限重49.00t 超限3.30t 禁止出场"
        );
    }

    #[test]
    fn within_the_limit_passes_and_a_blocked_truck_is_no_departure() {
        let mut r = record();
        r.gross_kg = 48_000;
        r.tare_kg = None;
        r.net_kg = None;
        let a = assess(&r.check(NOW).unwrap(), &RulesConfig::default()).unwrap();
        assert_eq!(a.verdict, ExitVerdict::Pass);
        assert!(!a.departure && a.display_text.ends_with("准予出场"));
        assert_eq!((a.excess_kg, a.rate_bp), (0, 0));

        let mut r = record();
        r.result = WeighingResult::Blocked;
        r.exit_at_ms = None;
        let a = assess(&r.check(NOW).unwrap(), &RulesConfig::default()).unwrap();
        assert!(a.over_limit && !a.departure);
    }

    #[test]
    fn a_known_configuration_gives_its_own_limit() {
        let mut r = record();
        r.vehicle = VehicleConfiguration::new(BodyType::Articulated, 6);
        r.vehicle.drive_axles = Some(2);
        r.vehicle.single_tyre_axles = Some(0);
        let a = assess(&r.check(NOW).unwrap(), &RulesConfig::default()).unwrap();
        assert!(!a.configuration_assumed);
        assert_eq!(a.limit_kg, 49_000);
    }

    #[test]
    fn spelling_differences_do_not_change_the_fingerprint_but_content_does() {
        let a = record().check(NOW).unwrap();
        let mut r = record();
        r.plate = "晋E12345".to_owned();
        r.photos[0].sha256 = "ab".repeat(32);
        r.net_kg = None;
        let b = r.check(NOW).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut r = record();
        r.gross_kg += 10;
        r.net_kg = Some(37_110);
        assert_ne!(a.fingerprint(), r.check(NOW).unwrap().fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }

    #[test]
    fn bad_records_are_refused_with_the_field_named() {
        type Breaker = fn(&mut WeighingRecord);
        let cases: Vec<(Breaker, &str)> = vec![
            (|r| r.record_id = "  ".to_owned(), "record_id"),
            (|r| r.record_id = "x".repeat(65), "record_id"),
            (|r| r.record_id = "2026\u{202E}0001".to_owned(), "record_id"),
            (
                |r| r.record_id = "20261129-0001\u{200B}".to_owned(),
                "record_id",
            ),
            (
                |r| r.record_id = "\u{FEFF}20261129-0001".to_owned(),
                "record_id",
            ),
            (|r| r.plate = "ABC".to_owned(), "plate"),
            (|r| r.plate_colour = Some("紫".to_owned()), "plate_colour"),
            (|r| r.gross_kg = 0, "gross_kg"),
            (|r| r.gross_kg = 52_300_000, "gross_kg"),
            (|r| r.tare_kg = Some(60_000), "tare_kg"),
            (|r| r.net_kg = Some(1), "masses"),
            (|r| r.weighed_at_ms = 0, "times"),
            (|r| r.exit_at_ms = Some(NOW - 400_000), "times"),
            (|r| r.result = WeighingResult::Blocked, "times"),
            (|r| r.photos[0].sha256 = "xyz".to_owned(), "photos"),
            (
                |r| r.vehicle = VehicleConfiguration::axles_only(1),
                "classify",
            ),
            (|r| r.cargo = Some("a\u{0}b".to_owned()), "cargo"),
        ];
        for (break_it, field) in cases {
            let mut r = record();
            break_it(&mut r);
            let e = r.check(NOW).unwrap_err();
            assert!(
                e.to_string().to_lowercase().contains(field)
                    || format!("{e:?}").to_lowercase().contains(field),
                "{field}: {e}"
            );
        }
    }

    #[test]
    fn a_given_colour_is_read_in_any_spelling() {
        let mut r = record();
        r.plate_colour = Some(" 黄色 ".to_owned());
        let checked = r.check(NOW).unwrap();
        assert_eq!(checked.plate_colour, Some(PlateColour::Yellow));
        assert_eq!(checked.record.plate_colour.as_deref(), Some("yellow"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"record_id":"1","plate":"晋E12345","vehicle":{"axles":2},
            "gross_kg":1000,"weighed_at_ms":1796000000000,"result":"passed","grosss_kg":1}"#;
        assert!(serde_json::from_str::<WeighingRecord>(json).is_err());
    }

    #[test]
    fn tonnes_have_two_decimals() {
        assert_eq!(tonnes(52_300), "52.30");
        assert_eq!(tonnes(49_000), "49.00");
        assert_eq!(tonnes(3_305), "3.30");
        assert_eq!(tonnes(0), "0.00");
    }
}
