//! The records and enums the host sees, and their conversions from and to core's types.
//!
//! Inputs are parsed here, at the boundary: a plate, a USCC, an enforcement id or a document
//! id arrives as a string and leaves this module as core's typed value, or as
//! [`ApiError::Validation`] saying what is wrong. Views carry plain values (strings, integers)
//! with units in their names; times are UTC milliseconds since the Unix epoch (`*_at_ms`).

use zhichao_core::access::Principal;
use zhichao_core::docs::{self, Officer};
use zhichao_core::evidence::blobs::UploadState;
use zhichao_core::ids::{DocumentId, EnforcementId, EvidenceId};
use zhichao_core::plate::{Plate, PlateColour};
use zhichao_core::rules::{self, Classification, Measurement, VehicleConfiguration};
use zhichao_core::uscc::Uscc;

use crate::error::{ApiError, Result};

// ---------------------------------------------------------------------------------------------
// Parsing at the boundary

// The input limits are core's, shared with the server's console (`zhichao_core::docs::limits`).
pub use zhichao_core::docs::limits::{
    MAX_ID_CHARS, MAX_OFFICERS, MAX_REASONS, MAX_SHORT_TEXT_CHARS, MAX_TEXT_CHARS,
};

/// `value` when it has at most `max` characters.
///
/// # Errors
/// [`ApiError::Validation`] naming the field and the limit.
pub(crate) fn bounded(what: &str, value: String, max: usize) -> Result<String> {
    let chars = value.chars().count();
    if chars > max {
        return Err(ApiError::invalid(format!(
            "{what} is {chars} characters long; at most {max} are accepted"
        )));
    }
    Ok(value)
}

fn id_text<'a>(what: &str, text: &'a str) -> Result<&'a str> {
    if text.len() > MAX_ID_CHARS {
        return Err(ApiError::invalid(format!(
            "{what} is longer than {MAX_ID_CHARS} bytes"
        )));
    }
    Ok(text.trim())
}

pub(crate) fn parse_doc_id(text: &str) -> Result<DocumentId> {
    DocumentId::parse(id_text("a document id", text)?).map_err(|e| ApiError::invalid(e.to_string()))
}

pub(crate) fn parse_plate(text: &str) -> Result<Plate> {
    id_text("a plate", text)?
        .parse::<Plate>()
        .map_err(|e| ApiError::invalid(e.to_string()))
}

pub(crate) fn parse_uscc(text: &str) -> Result<Uscc> {
    id_text("a unified social credit code", text)?
        .parse::<Uscc>()
        .map_err(|e| ApiError::invalid(e.to_string()))
}

pub(crate) fn parse_sha(text: &str) -> Result<EvidenceId> {
    EvidenceId::parse(id_text("a photo hash", text)?).map_err(|e| ApiError::invalid(e.to_string()))
}

pub(crate) fn parse_colour(text: Option<&str>) -> Result<Option<PlateColour>> {
    text.map(|t| {
        id_text("a plate colour", t)?
            .parse::<PlateColour>()
            .map_err(|e| ApiError::invalid(e.to_string()))
    })
    .transpose()
}

/// `From` both ways between a host-facing enum and core's enum with the same variants: the
/// host's copy exists only because uniffi needs its own type.
macro_rules! mirror_enum {
    ($local:ident <=> $module:ident :: $core:ident { $($variant:ident),+ $(,)? }) => {
        impl From<$local> for $module::$core {
            fn from(value: $local) -> Self {
                match value {
                    $($local::$variant => $module::$core::$variant,)+
                }
            }
        }

        impl From<$module::$core> for $local {
            fn from(value: $module::$core) -> Self {
                match value {
                    $($module::$core::$variant => $local::$variant,)+
                }
            }
        }
    };
}

mirror_enum!(Agency <=> docs::Agency { Transport, TrafficPolice });
mirror_enum!(BodyKind <=> rules::BodyType { Truck, CentreAxle, Articulated, FullTrailer, RegistrationLimited });
mirror_enum!(DriveTyres <=> rules::DriveAxleTyres { Single, Dual });
mirror_enum!(SuspensionKind <=> rules::Suspension { Air, Other });
mirror_enum!(CaseKind <=> docs::CaseKind { RoadsideCheck, SiteInspection });
mirror_enum!(CaseStatus <=> docs::CaseStatus {
    Draft, Registered, Investigating, Notified, Decided, Served, Enforced, ClosePending, Closed,
});
mirror_enum!(Stage <=> docs::Stage { Registered, Investigating, Notified, Decided, Served, Enforced, Closed });
mirror_enum!(CheckStatus <=> docs::CheckStatus { NotChecked, Working, Faulty, Missing });

// ---------------------------------------------------------------------------------------------
// Accounts

/// What the signed-in account is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// A field officer (transport inspector or traffic police) of a patrol team (执法小组):
    /// roadside checks, site inspections, rectification notices.
    Officer,
    /// An enterprise (a source unit, 货运源头单位): reads its notices, answers them.
    Enterprise,
    /// A supervisor (county overload office, township, department): reviews.
    Supervisor,
}

/// The enrolled account of this device. No secret: tokens stay in the host's secret store.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Account {
    /// The account id, e.g. `officer:wang`.
    pub principal_id: String,
    /// What it may do.
    pub role: Role,
    /// Officers: the patrol team.
    pub team: Option<String>,
    /// Officers and supervisors: the scope, e.g. `140522` (a county) or
    /// `140522/township/140522100`.
    pub scope: Option<String>,
    /// Enterprises: the unified social credit code (统一社会信用代码) of their unit.
    pub unit: Option<String>,
    /// This device's storage id (what the administrator enrolled).
    pub device_id: String,
    /// The prefix of this device's case numbers (案号), e.g. `K7Q2ZX0A`.
    pub device_prefix: String,
    /// When the current access token expires, UTC ms (refreshed by itself before use).
    pub access_expires_at_ms: Option<u64>,
    /// When the refresh token expires, UTC ms: past it, enroll the device again.
    pub refresh_expires_at_ms: Option<u64>,
}

/// The role of a principal a phone may act as.
///
/// # Errors
/// [`ApiError::Unauthorized`] for weighbridge systems, administrators and the server.
pub(crate) fn role_of(principal: &Principal) -> Result<Role> {
    match principal {
        Principal::Officer { .. } => Ok(Role::Officer),
        Principal::Enterprise { .. } => Ok(Role::Enterprise),
        Principal::Supervisor { .. } => Ok(Role::Supervisor),
        _ => {
            tracing::warn!("this account cannot use the field app");
            Err(ApiError::Unauthorized)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values shared by several records

/// A GPS fix in WGS-84 degrees, as the platform's location service gives it.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct GeoFix {
    /// Latitude, degrees (−90 … 90).
    pub latitude: f64,
    /// Longitude, degrees (−180 … 180).
    pub longitude: f64,
    /// Horizontal accuracy, metres, when known.
    #[uniffi(default = None)]
    pub accuracy_m: Option<u32>,
}

impl GeoFix {
    /// Core's integer form (degrees × 10⁷).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for NaN, out-of-range values and the 0,0 "no fix" placeholder.
    pub(crate) fn to_core(self) -> Result<docs::GeoPoint> {
        let e7 = |v: f64, max: f64| -> Option<i64> {
            // `as` saturates; the range check before it keeps the value exact.
            (v.is_finite() && v.abs() <= max).then(|| (v * 1e7).round() as i64)
        };
        let (Some(lat_e7), Some(lon_e7)) = (e7(self.latitude, 90.0), e7(self.longitude, 180.0))
        else {
            return Err(ApiError::invalid(
                "GPS fix out of range (latitude −90…90, longitude −180…180)",
            ));
        };
        let point = docs::GeoPoint {
            lat_e7,
            lon_e7,
            accuracy_m: self.accuracy_m,
        };
        if !point.is_valid() {
            return Err(ApiError::invalid("GPS fix 0,0 means no fix; leave it out"));
        }
        Ok(point)
    }

    pub(crate) fn from_core(p: &docs::GeoPoint) -> Self {
        GeoFix {
            latitude: p.lat_e7 as f64 / 1e7,
            longitude: p.lon_e7 as f64 / 1e7,
            accuracy_m: p.accuracy_m,
        }
    }
}

/// The agency of an officer in a joint patrol (路警联合执法).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Agency {
    /// 交通运输执法: transport inspectors.
    Transport,
    /// 公安交警: traffic police.
    TrafficPolice,
}

/// An officer named on an on-site record or a notice.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OfficerInfo {
    /// Full name.
    pub name: String,
    /// Enforcement certificate number (执法证号), 4–32 of `A–Z 0–9 -`.
    pub enforcement_id: String,
    /// Agency.
    pub agency: Agency,
}

impl OfficerInfo {
    pub(crate) fn to_core(&self) -> Result<Officer> {
        if self.name.trim().is_empty() {
            return Err(ApiError::invalid("an officer's name is required"));
        }
        Ok(Officer {
            name: bounded(
                "an officer's name",
                self.name.trim().to_owned(),
                MAX_SHORT_TEXT_CHARS,
            )?,
            enforcement_id: EnforcementId::new(id_text("an enforcement id", &self.enforcement_id)?)
                .map_err(|e| ApiError::invalid(e.to_string()))?,
            agency: self.agency.into(),
        })
    }

    pub(crate) fn from_core(o: &Officer) -> Self {
        OfficerInfo {
            name: o.name.clone(),
            enforcement_id: o.enforcement_id.to_string(),
            agency: o.agency.into(),
        }
    }
}

pub(crate) fn officers_to_core(officers: &[OfficerInfo]) -> Result<Vec<Officer>> {
    if officers.len() > MAX_OFFICERS {
        return Err(ApiError::invalid(format!(
            "{} officers; at most {MAX_OFFICERS} are named on one record",
            officers.len()
        )));
    }
    officers.iter().map(OfficerInfo::to_core).collect()
}

// ---------------------------------------------------------------------------------------------
// Vehicles and measurements

/// Body type (62号令 Art. 3 table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum BodyKind {
    /// Rigid truck (货车), 2–4 axles.
    Truck,
    /// Centre-axle trailer combination (中置轴挂车列车).
    CentreAxle,
    /// Articulated vehicle, tractor + semi-trailer (铰接列车).
    Articulated,
    /// Full-trailer combination (全挂汽车列车).
    FullTrailer,
    /// Tractor, farm or low-speed vehicle: the limit is the registration total mass.
    RegistrationLimited,
}

/// Tyres per side on the drive axle(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum DriveTyres {
    /// One tyre per side.
    Single,
    /// Two tyres per side.
    Dual,
}

/// Drive-axle suspension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SuspensionKind {
    /// Air suspension (空气悬架).
    Air,
    /// Any other suspension.
    Other,
}

/// A vehicle configuration as far as known; `None` means unknown, and an unknown detail takes
/// the value giving the higher limit (the verdict then says `configuration_assumed`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VehicleConfig {
    /// Total axles of the vehicle or combination, 2–20.
    pub axles: u8,
    /// Body type.
    #[uniffi(default = None)]
    pub kind: Option<BodyKind>,
    /// Drive axles of the (towing) vehicle.
    #[uniffi(default = None)]
    pub drive_axles: Option<u8>,
    /// Tyres of the drive axle(s).
    #[uniffi(default = None)]
    pub drive_tyres: Option<DriveTyres>,
    /// Suspension of the drive axle(s).
    #[uniffi(default = None)]
    pub suspension: Option<SuspensionKind>,
    /// Non-drive axles behind the steering axle with single tyres (−3 000 kg each).
    #[uniffi(default = None)]
    pub single_tyre_axles: Option<u8>,
    /// Of those, axles with approved wide-base tyres (no reduction).
    #[uniffi(default = None)]
    pub wide_base_tyre_axles: Option<u8>,
    /// Total mass on the registration (行驶证总质量), kg.
    #[uniffi(default = None)]
    pub registration_kg: Option<u32>,
}

impl VehicleConfig {
    /// Core's configuration, checked: an impossible configuration is refused here, not when
    /// the case is classified later.
    ///
    /// # Errors
    /// [`ApiError::Validation`] with the reason (62号令 Art. 3 table).
    pub(crate) fn to_core(&self) -> Result<VehicleConfiguration> {
        let config = VehicleConfiguration {
            kind: self.kind.map(Into::into),
            axles: self.axles,
            drive_axles: self.drive_axles,
            drive_axle_tyres: self.drive_tyres.map(Into::into),
            suspension: self.suspension.map(Into::into),
            single_tyre_axles: self.single_tyre_axles,
            wide_base_tyre_axles: self.wide_base_tyre_axles,
            registration_kg: self.registration_kg,
        };
        config
            .gross_limit()
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(config)
    }

    pub(crate) fn from_core(c: &VehicleConfiguration) -> Self {
        VehicleConfig {
            axles: c.axles,
            kind: c.kind.map(Into::into),
            drive_axles: c.drive_axles,
            drive_tyres: c.drive_axle_tyres.map(Into::into),
            suspension: c.suspension.map(Into::into),
            single_tyre_axles: c.single_tyre_axles,
            wide_base_tyre_axles: c.wide_base_tyre_axles,
            registration_kg: c.registration_kg,
        }
    }
}

/// What was measured at the roadside.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct MeasurementInput {
    /// Gross mass of vehicle and load (车货总质量), kg.
    pub gross_kg: u32,
    /// Height from the ground incl. load, mm.
    #[uniffi(default = None)]
    pub height_mm: Option<u32>,
    /// Width incl. load, mm.
    #[uniffi(default = None)]
    pub width_mm: Option<u32>,
    /// Length incl. load, mm.
    #[uniffi(default = None)]
    pub length_mm: Option<u32>,
    /// Rated payload on the registration (核定载质量), kg; with `curb_kg` gives the 超载 verdict.
    #[uniffi(default = None)]
    pub rated_payload_kg: Option<u32>,
    /// Curb mass on the registration (整备质量), kg.
    #[uniffi(default = None)]
    pub curb_kg: Option<u32>,
    /// When weighed, UTC ms; `None`: now.
    #[uniffi(default = None)]
    pub measured_at_ms: Option<i64>,
    /// The weighbridge or portable scale used.
    #[uniffi(default = None)]
    pub scale: Option<String>,
}

impl MeasurementInput {
    pub(crate) fn measurement(&self) -> Measurement {
        Measurement {
            gross_kg: self.gross_kg,
            height_mm: self.height_mm,
            width_mm: self.width_mm,
            length_mm: self.length_mm,
            rated_payload_kg: self.rated_payload_kg,
            curb_kg: self.curb_kg,
        }
    }

    pub(crate) fn from_core(m: &docs::MeasurementRecord) -> Self {
        MeasurementInput {
            gross_kg: m.measurement.gross_kg,
            height_mm: m.measurement.height_mm,
            width_mm: m.measurement.width_mm,
            length_mm: m.measurement.length_mm,
            rated_payload_kg: m.measurement.rated_payload_kg,
            curb_kg: m.measurement.curb_kg,
            measured_at_ms: Some(m.measured_at_ms),
            scale: m.scale.clone(),
        }
    }
}

/// One outer dimension over its limit (62号令 Art. 3).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DimensionExcess {
    /// `height`, `width` or `length`.
    pub dimension: String,
    /// The Chinese term (车货总高度, 车货总宽度, 车货总长度).
    pub dimension_zh: String,
    /// Measured, mm.
    pub measured_mm: u32,
    /// Limit, mm.
    pub limit_mm: u32,
    /// Over by, mm.
    pub excess_mm: u32,
}

/// The 超载 verdict (over rated payload; 道路交通安全法 Art. 48/92, 公安部令第163号 points).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OverloadView {
    /// True when the gross exceeds the maximum permitted total mass.
    pub overloaded: bool,
    /// Maximum permitted total mass, kg.
    pub max_total_kg: u32,
    /// Over by, kg.
    pub excess_kg: u32,
    /// Excess / maximum total mass, basis points (1/100 %), rounded down.
    pub rate_bp: u64,
    /// Licence points (6, 3, 1; 0 when not overloaded).
    pub licence_points: u8,
}

/// The verdict on a measurement (62号令 Art. 3 limit, Art. 43 penalty estimate).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ClassificationView {
    /// The rules version applied.
    pub rules_id: String,
    /// Over the mass limit or any dimension limit (超限).
    pub over_limit: bool,
    /// Over the gross mass limit.
    pub mass_over_limit: bool,
    /// Measured gross mass, kg.
    pub gross_kg: u32,
    /// Tolerance deducted, kg.
    pub tolerance_kg: u32,
    /// The limit applied, kg (the highest possible when details are unknown).
    pub limit_kg: u32,
    /// The lowest limit the known details allow, kg.
    pub lowest_possible_limit_kg: u32,
    /// True when an unknown detail changed the limit: check `unknown_details` on the vehicle.
    pub configuration_assumed: bool,
    /// The unknown details that could lower the limit (`kind`, `drive_axles` …).
    pub unknown_details: Vec<String>,
    /// How the limit was found, for display (table row and adjustments).
    pub limit_basis: Vec<String>,
    /// `gross − tolerance − limit`, kg; 0 when not over.
    pub excess_kg: u32,
    /// 超限率 in basis points (1/100 %), rounded down.
    pub rate_bp: u64,
    /// 超限率 as shown, e.g. `6.73%`.
    pub rate_text: String,
    /// Dimensions over their limits.
    pub dimension_excesses: Vec<DimensionExcess>,
    /// Art. 43 (2): excess over 0 and at most 1 000 kg gives a warning only.
    pub warning_only: bool,
    /// Lowest total fine, yuan.
    pub penalty_min_yuan: u32,
    /// Highest total fine, yuan.
    pub penalty_max_yuan: u32,
    /// The "一超四罚" subjects when over-limit, in Chinese (车辆, 驾驶人 …).
    pub subjects: Vec<String>,
    /// The 超载 verdict, when rated payload and curb mass were given.
    pub overload: Option<OverloadView>,
}

impl ClassificationView {
    pub(crate) fn from_core(c: &Classification) -> Self {
        ClassificationView {
            rules_id: c.rules_id.clone(),
            over_limit: c.over_limit,
            mass_over_limit: c.mass_over_limit,
            gross_kg: c.gross_kg,
            tolerance_kg: c.tolerance_kg,
            limit_kg: c.limit_kg,
            lowest_possible_limit_kg: c.limit.lowest_possible_limit_kg,
            configuration_assumed: c.configuration_assumed,
            unknown_details: c.limit.unknown_details.iter().map(serde_name).collect(),
            limit_basis: c.limit.basis.clone(),
            excess_kg: c.excess_kg,
            rate_bp: c.rate_bp,
            rate_text: c.rate.to_string(),
            dimension_excesses: c
                .dimension_excesses
                .iter()
                .map(|d| DimensionExcess {
                    dimension: serde_name(&d.dimension),
                    dimension_zh: d.dimension.chinese_name().to_owned(),
                    measured_mm: d.measured_mm,
                    limit_mm: d.limit_mm,
                    excess_mm: d.excess_mm,
                })
                .collect(),
            warning_only: c.penalty.mass_warning_only,
            penalty_min_yuan: c.penalty.min_yuan(),
            penalty_max_yuan: c.penalty.max_yuan(),
            subjects: c
                .subjects
                .iter()
                .map(|s| s.chinese_name().to_owned())
                .collect(),
            overload: c.overload.as_ref().map(|o| OverloadView {
                overloaded: o.overloaded,
                max_total_kg: o.max_total_kg,
                excess_kg: o.excess_kg,
                rate_bp: o.rate_bp,
                licence_points: o.licence_points,
            }),
        }
    }
}

/// The stable snake_case name of a core enum value: its serde name (one source of truth).
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// Roadside check or site inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CaseKind {
    /// A roadside check of a vehicle (路面检查).
    RoadsideCheck,
    /// A site inspection of a source unit (现场检查).
    SiteInspection,
}

/// Where a case stands (交通运输行政执法程序规定 stages; closing needs a supervisor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CaseStatus {
    /// No lifecycle event yet.
    Draft,
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
    /// Closing recorded, waiting for a supervisor's accepting review.
    ClosePending,
    /// 结案.
    Closed,
}

/// A lifecycle stage, in order (交通运输行政执法程序规定).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
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
    /// 结案 (takes effect with a supervisor's accepting review).
    Closed,
}

/// A recorded lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StageEvent {
    /// The stage reached.
    pub stage: Stage,
    /// Its Chinese term.
    pub stage_zh: String,
    /// Device time, UTC ms.
    pub at_ms: i64,
    /// Who recorded it.
    pub by: String,
    /// Note (decision number, service method …).
    pub note: String,
}

/// An item of the site-inspection checklist (the equipment the county plan requires).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChecklistItem {
    /// Weighing equipment (称重检测).
    Weighing,
    /// Video monitoring (视频监控).
    Video,
    /// Electronic display screen (电子显示屏).
    DisplayScreen,
    /// Real-time data upload to the county platform.
    DataUpload,
}

/// Status of a checklist item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
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

/// One checklist item as found.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CheckItemView {
    /// Which item.
    pub item: ChecklistItem,
    /// Its status.
    pub status: CheckStatus,
    /// The officer's note.
    pub note: String,
}

pub(crate) fn checklist_view(c: &docs::Checklist) -> Vec<CheckItemView> {
    [
        (ChecklistItem::Weighing, &c.weighing),
        (ChecklistItem::Video, &c.video),
        (ChecklistItem::DisplayScreen, &c.display_screen),
        (ChecklistItem::DataUpload, &c.data_upload),
    ]
    .into_iter()
    .map(|(item, i)| CheckItemView {
        item,
        status: i.status.into(),
        note: i.note.as_str().to_owned(),
    })
    .collect()
}

pub(crate) fn checklist_item_mut(
    c: &mut docs::Checklist,
    item: ChecklistItem,
) -> &mut docs::CheckItem {
    match item {
        ChecklistItem::Weighing => &mut c.weighing,
        ChecklistItem::Video => &mut c.video,
        ChecklistItem::DisplayScreen => &mut c.display_screen,
        ChecklistItem::DataUpload => &mut c.data_upload,
    }
}

/// A new roadside check (路面检查).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct RoadsideCheckInput {
    /// The plate as typed (with or without the middle dot, full-width, lower case).
    pub plate: String,
    /// The vehicle configuration as far as known.
    pub configuration: VehicleConfig,
    /// Where, as the officer writes it.
    pub place: String,
    /// The officers present: at least two with distinct enforcement ids.
    pub officers: Vec<OfficerInfo>,
    /// The GPS fix of the place.
    #[uniffi(default = None)]
    pub gps: Option<GeoFix>,
    /// Plate colour (`yellow`, `blue`, `green`, `yellow_green`, `white`, `black`).
    #[uniffi(default = None)]
    pub plate_colour: Option<String>,
    /// The source unit that loaded the truck (USCC), when known.
    #[uniffi(default = None)]
    pub source_unit: Option<String>,
    /// Start of the on-site work, UTC ms; `None`: now.
    #[uniffi(default = None)]
    pub started_at_ms: Option<i64>,
}

/// A new site inspection (现场检查) of a source unit's weighing, video, display and upload.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SiteInspectionInput {
    /// The source unit inspected (USCC).
    pub source_unit: String,
    /// Where, as the officer writes it.
    pub place: String,
    /// The officers present: at least two.
    pub officers: Vec<OfficerInfo>,
    /// The GPS fix.
    #[uniffi(default = None)]
    pub gps: Option<GeoFix>,
    /// Start, UTC ms; `None`: now.
    #[uniffi(default = None)]
    pub started_at_ms: Option<i64>,
}

/// A case (案件) as the app shows it.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct CaseView {
    /// Document id.
    pub id: String,
    /// Case number (案号), e.g. `K7Q2ZX0A-2026-00017`.
    pub case_number: String,
    /// Roadside check or site inspection.
    pub kind: CaseKind,
    /// Where it stands.
    pub status: CaseStatus,
    /// Canonical plate, e.g. `晋E12345`.
    pub plate: Option<String>,
    /// Printed plate, e.g. `晋E·12345`.
    pub plate_printed: Option<String>,
    /// The vehicle configuration.
    pub configuration: Option<VehicleConfig>,
    /// The source unit concerned (USCC).
    pub source_unit: Option<String>,
    /// Place.
    pub place: String,
    /// GPS fix of the place.
    pub gps: Option<GeoFix>,
    /// Officers on the on-site record.
    pub officers: Vec<OfficerInfo>,
    /// Facts found.
    pub findings: String,
    /// The measurement.
    pub measurement: Option<MeasurementInput>,
    /// The verdict, computed now from measurement and configuration under the case's rules.
    pub classification: Option<ClassificationView>,
    /// Why there is no verdict although there is a measurement (rules not on the phone yet…).
    pub classification_error: Option<String>,
    /// The site-inspection checklist (empty for roadside checks).
    pub checklist: Vec<CheckItemView>,
    /// Photos listed.
    pub photo_count: u32,
    /// Lifecycle events.
    pub events: Vec<StageEvent>,
    /// Decision deadline, UTC ms (90 days after 立案, 行政处罚法 Art. 60).
    pub decision_due_at_ms: Option<i64>,
    /// Creator.
    pub created_by: String,
    /// Device time of creation, UTC ms.
    pub created_at_ms: i64,
}

// ---------------------------------------------------------------------------------------------
// Photos

/// Where a photo stands between this phone and the server.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum UploadStatus {
    /// The server holds it, verified.
    OnServer,
    /// Waiting for upload (sent by the next sync).
    Queued {
        /// Failed attempts so far.
        attempts: u32,
        /// Why the last attempt failed.
        last_error: Option<String>,
    },
    /// On this phone (received from the server).
    OnPhone,
    /// The file on this phone no longer matches its hash: take or copy it again.
    Damaged,
    /// Not on this phone and not uploaded from it: taken on another phone (download it with
    /// `fetch_photo` once that phone has synced its photos), or lost.
    Missing,
}

impl UploadStatus {
    pub(crate) fn from_core(s: UploadState) -> Self {
        match s {
            UploadState::OnServer => UploadStatus::OnServer,
            UploadState::Queued {
                attempts,
                last_error,
            } => UploadStatus::Queued {
                attempts,
                last_error,
            },
            UploadState::OnPhone => UploadStatus::OnPhone,
            UploadState::Damaged => UploadStatus::Damaged,
            UploadState::Missing => UploadStatus::Missing,
        }
    }
}

/// A photo listed on a case or response (照片证据).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct EvidenceView {
    /// SHA-256 of the original bytes (the evidence id), 64 hex digits.
    pub sha256: String,
    /// What it shows.
    pub caption: String,
    /// Capture time, UTC ms.
    pub captured_at_ms: Option<i64>,
    /// Where, when known.
    pub gps: Option<GeoFix>,
    /// Who took it.
    pub taken_by: String,
    /// `jpeg`, `png` or `heif`.
    pub format: Option<String>,
    /// Size of the original, bytes.
    pub byte_len: Option<u64>,
    /// Upright width, pixels.
    pub width: Option<u32>,
    /// Upright height, pixels.
    pub height: Option<u32>,
    /// The original's upload state.
    pub upload: UploadStatus,
    /// True when the server holds the original and both derivatives.
    pub complete_on_server: bool,
    /// SHA-256 of the thumbnail (≤ 320 px), when previews exist.
    pub thumbnail_sha256: Option<String>,
    /// SHA-256 of the evidence copy (≤ 2048 px), when previews exist.
    pub evidence_copy_sha256: Option<String>,
    /// The thumbnail's file on this phone, for display (read-only).
    pub thumbnail_path: Option<String>,
    /// The evidence copy's file on this phone, for display (read-only).
    pub evidence_copy_path: Option<String>,
}

/// Where a recorded capture time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CaptureTimeSource {
    /// The photo's EXIF capture time with its UTC offset.
    Exif,
    /// The device clock at capture.
    Device,
}

/// A photo just added to a case or response.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct PhotoAdded {
    /// The photo as listed.
    pub evidence: EvidenceView,
    /// Where its capture time came from.
    pub time_source: CaptureTimeSource,
    /// Why it has no preview (HEIC: hand the core JPEG instead), if so.
    pub preview_error: Option<String>,
    /// Camera make and model from the EXIF, when present.
    pub camera: Option<String>,
    /// True when the document listed this photo already (nothing changed).
    pub already_listed: bool,
}

// ---------------------------------------------------------------------------------------------
// Notices, responses, reviews

/// A new rectification notice (整改通知书) arising from a case.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NoticeInput {
    /// The case it arises from.
    pub case_id: String,
    /// The unit's registered name.
    pub unit_name: String,
    /// Facts found.
    pub facts: String,
    /// Legal basis (articles), e.g. `公路安全保护条例 第四十一条`.
    pub legal_basis: String,
    /// The issuing officers: at least two.
    pub officers: Vec<OfficerInfo>,
    /// Where the unit may apply for administrative review (行政复议机关).
    pub review_body: String,
    /// Where the unit may bring a suit (行政诉讼法院).
    pub appeal_body: String,
    /// Correct by this local date `YYYY-MM-DD` (限期改正); `None`: immediately (立即改正).
    #[uniffi(default = None)]
    pub deadline_date: Option<String>,
    /// The unit (USCC); `None`: the case's source unit.
    #[uniffi(default = None)]
    pub source_unit: Option<String>,
    /// The unit's legal representative.
    #[uniffi(default = None)]
    pub legal_representative: Option<String>,
    /// Show the case's photos in the notice (their evidence copies and thumbnails only, never
    /// an original with its GPS and device data).
    #[uniffi(default = true)]
    pub include_case_photos: bool,
}

/// A photo shown in a notice: derivatives only.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NoticePhotoView {
    /// SHA-256 of the evidence copy.
    pub sha256: String,
    /// SHA-256 of the thumbnail.
    pub thumbnail_sha256: String,
    /// What it shows.
    pub caption: String,
    /// The evidence copy's file on this phone, when here.
    pub path: Option<String>,
    /// The thumbnail's file on this phone, when here.
    pub thumbnail_path: Option<String>,
}

/// A rectification notice (整改通知书).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NoticeView {
    /// Document id.
    pub id: String,
    /// The case it arises from.
    pub case_id: String,
    /// The unit addressed (USCC).
    pub unit: String,
    /// Its name.
    pub unit_name: String,
    /// Facts found.
    pub facts: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Deadline date `YYYY-MM-DD`; `None`: correct immediately.
    pub deadline_date: Option<String>,
    /// Issuing officers.
    pub issued_by: Vec<OfficerInfo>,
    /// Device time of issue, UTC ms.
    pub issued_at_ms: i64,
    /// 行政复议机关.
    pub review_body: String,
    /// 行政诉讼法院.
    pub appeal_body: String,
    /// Not yet settled by an accepted response.
    pub open: bool,
    /// Photos shown.
    pub photos: Vec<NoticePhotoView>,
    /// Ids of the responses on this phone.
    pub response_ids: Vec<String>,
}

/// A supervisor's decision.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ReviewDecision {
    /// Accepted: a case may close; a response settles its notice.
    Accept,
    /// Returned for more work.
    Return {
        /// What must be done; at least one.
        reasons: Vec<String>,
    },
}

/// A review (审核) of a case or a response.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReviewView {
    /// Document id.
    pub id: String,
    /// The case or response reviewed.
    pub parent_id: String,
    /// The decision.
    pub decision: ReviewDecision,
    /// Comments.
    pub comments: String,
    /// Device time, UTC ms.
    pub reviewed_at_ms: i64,
    /// The supervisor.
    pub reviewer: String,
}

/// An enterprise's response (整改回复) to a notice.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ResponseView {
    /// Document id.
    pub id: String,
    /// The notice answered.
    pub notice_id: String,
    /// The unit (USCC).
    pub unit: String,
    /// What the unit did.
    pub statement: String,
    /// Photos proving it.
    pub evidence: Vec<EvidenceView>,
    /// When submitted, UTC ms; `None` while a draft.
    pub submitted_at_ms: Option<i64>,
    /// Supervisors' reviews on this phone.
    pub reviews: Vec<ReviewView>,
}

/// One over-limit departure (超限出场) of a plate on a watch list kept on this phone: the
/// truck left this source unit on this day this much over the limit, as the unit's
/// weighbridge reported it to the server. See [`crate::FieldStore::watchlist_lookup`].
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WatchHitRecord {
    /// The list's day, `YYYY-MM-DD` in China Standard Time.
    pub day: String,
    /// Canonical plate, e.g. `晋E12345`.
    pub plate: String,
    /// Printed plate with the middle dot, e.g. `晋E·12345`.
    pub plate_printed: String,
    /// The source unit the truck left (USCC).
    pub unit: String,
    /// The unit's registered name as the server knew it (empty when it had no profile).
    pub unit_name: String,
    /// The unit's weighing record id.
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
    /// The weighbridge gave only the axle count: the highest limit of that count was applied.
    pub configuration_assumed: bool,
    /// The plate's over-limit findings in the calendar year of `day`, the highest count on
    /// the lists kept on this phone.
    pub year_count: u32,
    /// More than three findings this year: 公路安全保护条例 Art. 66 revokes the vehicle's
    /// operating certificate (道路运输证).
    pub revocation_threshold_crossed: bool,
}

impl WatchHitRecord {
    pub(crate) fn from_core(hit: &zhichao_core::field::WatchHit) -> Self {
        WatchHitRecord {
            day: hit.day.to_string(),
            plate: hit.plate.to_string(),
            plate_printed: format!("{:#}", hit.plate),
            unit: hit.unit.to_string(),
            unit_name: hit.entry.unit_name.clone(),
            record_id: hit.entry.record_id.clone(),
            weighed_at_ms: hit.entry.weighed_at_ms,
            exit_at_ms: hit.entry.exit_at_ms,
            gross_kg: hit.entry.gross_kg,
            limit_kg: hit.entry.limit_kg,
            excess_kg: hit.entry.excess_kg,
            configuration_assumed: hit.entry.configuration_assumed,
            year_count: hit.year_count,
            revocation_threshold_crossed: hit.revocation_threshold_crossed,
        }
    }
}
