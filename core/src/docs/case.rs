//! The `case` document (案件): a roadside check or a site inspection of a source unit.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseNumber, EvidenceId, PrincipalId};

use super::photos::PhotoDerivatives;
use crate::plate::{Plate, PlateColour};
use crate::rules::{
    Classification, ClassifyError, Measurement, PenaltySubject, RulesConfig, VehicleConfiguration,
};
use crate::uscc::Uscc;

use super::common::{GeoPoint, Officer, TextField, has_two_officers};
use super::typed::{DocBody, DocError, DocKind, Header, check_header_fields};

/// What kind of enforcement the case records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
pub enum CaseKind {
    /// A roadside check of a vehicle (路面检查), often with traffic police (路警联合执法).
    RoadsideCheck,
    /// A site inspection of a source unit's weighing, video, display and upload (现场检查).
    SiteInspection,
}

/// The on-site record (现场笔录), per 交通运输行政执法程序规定.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct OnSiteRecord {
    /// Place, as written by the officer.
    pub place: TextField,
    /// GPS fix of the place, when the phone had one.
    pub gps: Option<GeoPoint>,
    /// Start of the on-site work, device time, UTC milliseconds.
    pub started_at_ms: i64,
    /// End of the on-site work, device time, UTC milliseconds.
    pub ended_at_ms: Option<i64>,
    /// The officers present: at least two with enforcement certificates.
    pub officers: Vec<Officer>,
    /// The person on site (driver, unit representative), as far as known.
    pub person_on_site: Option<PersonOnSite>,
}

/// The person present on site for the party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct PersonOnSite {
    /// Full name.
    pub name: String,
    /// Role: driver, loader, unit representative …
    pub role: String,
    /// Identity document number, when recorded.
    pub id_number: Option<String>,
}

/// The vehicle checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Vehicle {
    /// The normalised plate (GA 36-2018).
    pub plate: Plate,
    /// The plate as the officer typed it.
    pub plate_as_typed: String,
    /// Plate colour, when noted.
    pub colour: Option<PlateColour>,
    /// The vehicle configuration as far as known.
    pub configuration: VehicleConfiguration,
}

/// A measurement and when it was taken. The verdict is never stored: it is computed from this
/// and the vehicle configuration when read ([`Case::classify`]), so concurrent edits of mass and
/// configuration never leave a stale verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct MeasurementRecord {
    /// What was measured.
    pub measurement: Measurement,
    /// Device time of the weighing, UTC milliseconds.
    pub measured_at_ms: i64,
    /// The weighbridge or portable scale used, when recorded.
    pub scale: Option<String>,
}

/// One of the "一超四罚" subjects named by [`RulesConfig::subjects`], as far as known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct SubjectRecord {
    /// Which subject.
    pub subject: PenaltySubject,
    /// Name (driver's name, company name …), when known.
    pub name: Option<String>,
    /// Identifier (licence number, USCC …), when known.
    pub identifier: Option<String>,
}

/// Status of one item of a site-inspection checklist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
pub enum CheckStatus {
    /// Not yet checked.
    NotChecked,
    /// Present and working.
    Working,
    /// Present but faulty.
    Faulty,
    /// Not installed.
    Missing,
}

/// One checklist item: its status and the officer's note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct CheckItem {
    /// Status found.
    pub status: CheckStatus,
    /// Note.
    pub note: TextField,
}

impl Default for CheckItem {
    fn default() -> Self {
        CheckItem {
            status: CheckStatus::NotChecked,
            note: TextField::default(),
        }
    }
}

/// The equipment the county plan requires at a source unit's exit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Checklist {
    /// Weighing equipment (称重检测).
    pub weighing: CheckItem,
    /// Video monitoring (视频监控).
    pub video: CheckItem,
    /// Electronic display screen (电子显示屏).
    pub display_screen: CheckItem,
    /// Real-time data upload to the county platform.
    pub data_upload: CheckItem,
}

/// A reference to a photo: its SHA-256 and metadata, never its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct EvidenceRef {
    /// SHA-256 of the original bytes; identifies the reference in lists.
    #[key]
    pub sha256: EvidenceId,
    /// What it shows (plate, scale display, loading slip …).
    pub caption: String,
    /// Capture time from the photo's EXIF or the device, UTC milliseconds.
    pub captured_at_ms: Option<i64>,
    /// Where it was taken, when known.
    pub gps: Option<GeoPoint>,
    /// Who took it.
    pub taken_by: PrincipalId,
    /// Detected format of the original: `jpeg`, `png` or `heif`. (Added with photo
    /// derivatives; absent in older references.)
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub format: Option<String>,
    /// Size of the original, bytes.
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub byte_len: Option<u64>,
    /// Width after orientation, pixels, when decoded.
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub width: Option<u32>,
    /// Height after orientation, pixels, when decoded.
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub height: Option<u32>,
    /// Evidence copy and thumbnail; `None` when no preview could be made (HEIC).
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub derivatives: Option<PhotoDerivatives>,
}

/// A stage of the case lifecycle (交通运输行政执法程序规定), in order.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Hydrate,
    Reconcile,
)]
pub enum Stage {
    /// 立案.
    Registered,
    /// 调查取证.
    Investigating,
    /// 违法行为通知.
    Notified,
    /// 处罚决定.
    Decided,
    /// 送达.
    Served,
    /// 执行.
    Enforced,
    /// 结案 (takes effect with an accepting review).
    Closed,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 7] = [
        Stage::Registered,
        Stage::Investigating,
        Stage::Notified,
        Stage::Decided,
        Stage::Served,
        Stage::Enforced,
        Stage::Closed,
    ];

    /// The Chinese term.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Stage::Registered => "立案",
            Stage::Investigating => "调查取证",
            Stage::Notified => "违法行为通知",
            Stage::Decided => "处罚决定",
            Stage::Served => "送达",
            Stage::Enforced => "执行",
            Stage::Closed => "结案",
        }
    }

    /// The stage before this one.
    pub fn previous(self) -> Option<Stage> {
        let i = Stage::ALL.iter().position(|s| *s == self)?;
        i.checked_sub(1).and_then(|p| Stage::ALL.get(p).copied())
    }
}

/// One lifecycle event. The list of events is append-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct CaseEvent {
    /// The stage reached.
    pub stage: Stage,
    /// Device time, UTC milliseconds.
    pub at_ms: i64,
    /// Who recorded it.
    pub by: PrincipalId,
    /// Note (decision number, service method …).
    pub note: String,
}

/// The body of a `case` document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Case {
    /// Case number (案号), made on the device.
    pub case_number: CaseNumber,
    /// Roadside check or site inspection.
    pub kind: CaseKind,
    /// The source unit concerned: the one inspected, or the one found to have loaded the truck.
    /// (Added in schema 2; absent in older documents.)
    #[autosurgeon(missing = "Option::default")]
    pub source_unit: Option<Uscc>,
    /// Id of the [`RulesConfig`] the case is measured under.
    pub rules_id: String,
    /// The on-site record.
    pub onsite: OnSiteRecord,
    /// The vehicle (roadside checks).
    pub vehicle: Option<Vehicle>,
    /// The measurement, when weighed.
    pub measurement: Option<MeasurementRecord>,
    /// The "一超四罚" subjects as far as known.
    pub subjects: Vec<SubjectRecord>,
    /// Facts found.
    pub findings: TextField,
    /// Equipment checklist (site inspections).
    pub checklist: Option<Checklist>,
    /// Photo evidence references.
    pub evidence: Vec<EvidenceRef>,
    /// Lifecycle events, append-only.
    pub events: Vec<CaseEvent>,
}

impl Case {
    /// A new case with no events, measurement or vehicle yet.
    pub fn new(
        case_number: CaseNumber,
        kind: CaseKind,
        rules: &RulesConfig,
        onsite: OnSiteRecord,
    ) -> Self {
        Case {
            case_number,
            kind,
            source_unit: None,
            rules_id: rules.id.clone(),
            onsite,
            vehicle: None,
            measurement: None,
            subjects: rules
                .subjects
                .iter()
                .map(|subject| SubjectRecord {
                    subject: *subject,
                    name: None,
                    identifier: None,
                })
                .collect(),
            findings: TextField::default(),
            checklist: match kind {
                CaseKind::SiteInspection => Some(Checklist::default()),
                CaseKind::RoadsideCheck => None,
            },
            evidence: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Classifies the recorded measurement with the recorded vehicle configuration under
    /// `rules`, which must be the version the case names. `Ok(None)` when there is no
    /// measurement or vehicle yet.
    ///
    /// # Errors
    /// [`DocError::Rule`] when `rules` is another version than the case's; the classification
    /// error when the recorded configuration or measurement has no verdict.
    pub fn classify(&self, rules: &RulesConfig) -> Result<Option<Classification>, DocError> {
        if rules.id != self.rules_id {
            return Err(DocError::Rule(format!(
                "case is measured under rules {:?}, not {:?}",
                self.rules_id, rules.id
            )));
        }
        let (Some(vehicle), Some(m)) = (&self.vehicle, &self.measurement) else {
            return Ok(None);
        };
        crate::rules::classify(&vehicle.configuration, &m.measurement, rules)
            .map(Some)
            .map_err(|e: ClassifyError| DocError::Rule(e.to_string()))
    }

    /// Appends a lifecycle event after checking it follows the current stage (the first must
    /// be [`Stage::Registered`]; repeating the current stage is refused).
    ///
    /// # Errors
    /// [`DocError::Rule`] naming the expected stage.
    pub fn record_stage(
        &mut self,
        stage: Stage,
        at_ms: i64,
        by: PrincipalId,
        note: impl Into<String>,
    ) -> Result<(), DocError> {
        let current = self.events.iter().map(|e| e.stage).max();
        if stage.previous() != current {
            return Err(DocError::Rule(format!(
                "cannot record {} ({}) after {}",
                stage.chinese_name(),
                format_args!("{stage:?}"),
                current.map_or("nothing", Stage::chinese_name)
            )));
        }
        self.events.push(CaseEvent {
            stage,
            at_ms,
            by,
            note: note.into(),
        });
        Ok(())
    }
}

impl DocBody for Case {
    const KIND: DocKind = DocKind::Case;

    fn check_header(header: &Header) -> Result<(), DocError> {
        // A roadside case names no source unit; the team writes it.
        check_header_fields(header, true, false, false)
    }

    fn check_created(&self, header: &Header) -> Result<(), DocError> {
        // A roadside case with no source unit belongs to the whole county.
        if self.source_unit.is_none() && header.scope.part().is_some() {
            return Err(DocError::InvalidHeader(
                "a case with no source unit is scoped to the county".to_owned(),
            ));
        }
        Ok(())
    }

    fn check_merge(&self, before: &Self) -> Result<(), DocError> {
        // Not the two-officer rule: a merge of two concurrent removals may leave fewer, and
        // refusing it would lose both edits; the case stays editable to add one back.
        if self.gps_changed_to_invalid(before) {
            return Err(DocError::Rule("GPS fix is out of range or 0,0".to_owned()));
        }
        self.check_immutable(before)
    }

    fn check(&self, before: Option<&Self>) -> Result<(), DocError> {
        // Checked when the officers change: a merge of two concurrent removals may leave fewer,
        // and the case must stay editable so someone can add the missing officer.
        let officers_changed = before.is_none_or(|b| b.onsite.officers != self.onsite.officers);
        if officers_changed && !has_two_officers(&self.onsite.officers) {
            return Err(DocError::Rule(
                "the on-site record needs at least two officers with distinct enforcement IDs"
                    .to_owned(),
            ));
        }
        let gps_changed = before.is_none_or(|b| b.onsite.gps != self.onsite.gps);
        if gps_changed
            && let Some(gps) = &self.onsite.gps
            && !gps.is_valid()
        {
            return Err(DocError::Rule("GPS fix is out of range or 0,0".to_owned()));
        }
        // Not on merge: two phones adding the same photo concurrently list it twice.
        if before.is_none_or(|b| b.evidence != self.evidence) {
            super::photos::check_evidence(&self.evidence)?;
        }
        match before {
            Some(before) => self.check_immutable(before),
            None => Ok(()),
        }
    }
}

impl Case {
    /// Case number and rules version never change; lifecycle events are append-only.
    fn check_immutable(&self, before: &Self) -> Result<(), DocError> {
        if self.case_number != before.case_number || self.rules_id != before.rules_id {
            return Err(DocError::Rule(
                "case number and rules version cannot change".to_owned(),
            ));
        }
        if self.events.get(..before.events.len()) != Some(&before.events[..]) {
            return Err(DocError::Rule(
                "lifecycle events are append-only".to_owned(),
            ));
        }
        Ok(())
    }

    fn gps_changed_to_invalid(&self, before: &Self) -> bool {
        self.onsite.gps != before.onsite.gps
            && self.onsite.gps.as_ref().is_some_and(|g| !g.is_valid())
    }
}
