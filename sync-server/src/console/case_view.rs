//! What the case pages ([`super::cases`]) and the JSON routes (`crate::routes::cases`) show
//! of cases, computed once here: the list filter, a summary row per case and the detail of
//! one case. Every document is read through [`super::model`], so a supervisor sees only what
//! `can_read` lets them read.
//!
//! - Status: [`case_status`] of the case and the reviews of it.
//! - The 90-day decision clock (行政处罚法 Art. 60): [`decision_due_ms`]; a case is overdue
//!   when the deadline has passed and it has not reached the decision (处罚决定) yet.
//! - Classification: [`Case::classify`] under the rules version the case records, read from
//!   the county's `rules` document ([`rules_document_id`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zhichao_core::access::Principal;
use zhichao_core::docs::{
    Case, CaseEvent, CaseKind, CaseStatus, Checklist, DocKind, EvidenceRef, GeoPoint,
    MeasurementRecord, Notice, OnSiteRecord, Review, RulesVersions, SubjectRecord, Vehicle,
    case_status, decision_due_ms, rules_document_id,
};
use zhichao_core::ids::{DocumentId, EvidenceId};
use zhichao_core::rules::Classification;
use zhichao_core::uscc::Uscc;

use crate::AppState;
use crate::console::review::ReviewView;

use super::history::{self, HistoryEntry};
use super::model::{self, DocRef};
use super::{ConsoleError, ConsoleResult};

/// Cases per page by default.
pub const PAGE_SIZE: usize = 100;
/// Most cases per page.
pub const MAX_PAGE_SIZE: usize = 1_000;
/// A day, milliseconds.
const DAY_MS: i64 = 24 * 3600 * 1000;
/// China Standard Time, seconds east of UTC.
const CHINA_OFFSET_S: i32 = 8 * 3600;

/// Every status, in lifecycle order.
pub const STATUSES: [CaseStatus; 9] = [
    CaseStatus::Draft,
    CaseStatus::Registered,
    CaseStatus::Investigating,
    CaseStatus::Notified,
    CaseStatus::Decided,
    CaseStatus::Served,
    CaseStatus::Enforced,
    CaseStatus::ClosePending,
    CaseStatus::Closed,
];

/// The Chinese name of a case status.
pub const fn status_label(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Draft => "草稿",
        CaseStatus::Registered => "立案",
        CaseStatus::Investigating => "调查取证",
        CaseStatus::Notified => "违法行为通知",
        CaseStatus::Decided => "处罚决定",
        CaseStatus::Served => "送达",
        CaseStatus::Enforced => "执行",
        CaseStatus::ClosePending => "结案待复核",
        CaseStatus::Closed => "结案",
    }
}

/// `roadside_check` or `site_inspection`.
pub const fn kind_name(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::RoadsideCheck => "roadside_check",
        CaseKind::SiteInspection => "site_inspection",
    }
}

/// 路面检查 or 现场检查.
pub const fn kind_label(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::RoadsideCheck => "路面检查",
        CaseKind::SiteInspection => "现场检查",
    }
}

/// The list filters as sent (page form or JSON query); empty values mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Status: `draft`, `registered`, `investigating`, `notified`, `decided`, `served`,
    /// `enforced`, `close_pending`, `closed`.
    pub status: Option<String>,
    /// Part of a plate as people type it (normalised: `e·123` finds `晋E12345`).
    pub plate: Option<String>,
    /// The source unit: a whole USCC, or part of its code or of its registered name.
    pub unit: Option<String>,
    /// First day (China time) the on-site work started, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// Last day (China time) the on-site work started, `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// Only cases past their decision deadline: `1`, `true` or `on`.
    pub overdue: Option<String>,
    /// Page, from 1.
    pub page: Option<String>,
    /// Cases per page, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// The filters, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Normalised plate fragment.
    pub plate: Option<String>,
    /// USCC or name fragment.
    pub unit: Option<String>,
    /// Started at or after, UTC ms.
    pub from_ms: Option<i64>,
    /// Started before, UTC ms.
    pub to_ms: Option<i64>,
    /// Only overdue cases.
    pub overdue_only: bool,
    /// Page, from 1.
    pub page: usize,
    /// Cases per page.
    pub limit: usize,
}

fn non_empty(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Midnight (China time) starting `date` (`YYYY-MM-DD`), UTC ms.
fn china_midnight_ms(what: &str, date: &str) -> Result<i64, String> {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| format!("{what}: {date:?} 不是日期 YYYY-MM-DD"))?;
    let utc = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| format!("{what}: {date:?} 不是日期 YYYY-MM-DD"))?;
    Ok(utc - i64::from(CHINA_OFFSET_S) * 1000)
}

impl CaseQuery {
    /// Checks the filters.
    ///
    /// # Errors
    /// A message naming the parameter and what is wrong (Chinese, with the parameter name).
    pub fn parse(&self) -> Result<CaseFilter, String> {
        let status = non_empty(self.status.as_ref())
            .map(|s| {
                STATUSES
                    .into_iter()
                    .find(|st| st.as_str() == s)
                    .ok_or_else(|| format!("status: {s:?} 不是已知的案件状态"))
            })
            .transpose()?;
        let plate = non_empty(self.plate.as_ref())
            .map(zhichao_core::plate::normalise_fragment)
            .filter(|p| !p.is_empty());
        let unit = non_empty(self.unit.as_ref()).map(str::to_owned);
        let from_ms = non_empty(self.from.as_ref())
            .map(|d| china_midnight_ms("from", d))
            .transpose()?;
        let to_ms = non_empty(self.to.as_ref())
            .map(|d| china_midnight_ms("to", d).map(|ms| ms + DAY_MS))
            .transpose()?;
        let overdue_only = match non_empty(self.overdue.as_ref()) {
            None | Some("0" | "false" | "off") => false,
            Some("1" | "true" | "on") => true,
            Some(other) => return Err(format!("overdue: {other:?} 应为 1 或 0")),
        };
        let number = |what: &str, v: Option<&String>, default: usize, max: usize| match non_empty(v)
        {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{what}: {s:?} 应为 1 到 {max} 的整数")),
        };
        Ok(CaseFilter {
            status,
            plate,
            unit,
            from_ms,
            to_ms,
            overdue_only,
            page: number("page", self.page.as_ref(), 1, 1_000_000)?,
            limit: number("limit", self.limit.as_ref(), PAGE_SIZE, MAX_PAGE_SIZE)?,
        })
    }
}

/// A source unit as shown with a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UnitRef {
    /// Unified social credit code (统一社会信用代码).
    pub uscc: String,
    /// Registered name from the unit's profile, when one is synced.
    pub name: Option<String>,
}

/// One row of the case list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    /// Document id.
    pub id: String,
    /// Case number (案号).
    pub case_number: String,
    /// `roadside_check` (路面检查) or `site_inspection` (现场检查).
    pub kind: String,
    /// The kind in Chinese.
    pub kind_label: String,
    /// Status (see the list filter).
    pub status: String,
    /// The status in Chinese.
    pub status_label: String,
    /// The vehicle's plate, normalised (roadside checks).
    pub plate: Option<String>,
    /// The source unit concerned.
    pub unit: Option<UnitRef>,
    /// The officers of the on-site record (names).
    pub officers: Vec<String>,
    /// Start of the on-site work, device time, UTC ms.
    pub started_at_ms: i64,
    /// Server receipt time of the latest save, UTC ms.
    pub last_change_ms: u64,
    /// Decision deadline (90 days after registration), UTC ms; none before registration.
    pub decision_due_ms: Option<i64>,
    /// True when the deadline has passed and the case is not decided yet.
    pub overdue: bool,
    /// Whole days left to the deadline (rounded up) while it runs; none when decided,
    /// overdue or not registered.
    pub days_left: Option<i64>,
}

/// A page of the case list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CaseList {
    /// The cases, latest change first.
    pub cases: Vec<CaseSummary>,
    /// This page, from 1.
    pub page: usize,
    /// Cases per page.
    pub limit: usize,
    /// Cases matching the filters, on all pages.
    pub total: usize,
    /// True when a further page exists.
    pub has_more: bool,
}

/// A notice (整改通知书) issued for the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NoticeLink {
    /// Document id of the notice.
    pub id: String,
    /// The unit's name on the notice.
    pub unit_name: String,
    /// Device time of issue, UTC ms.
    pub issued_at_ms: i64,
    /// The deadline: `立即` or the date.
    pub deadline: String,
}

/// A GPS fix in degrees (WGS-84).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Gps {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Horizontal accuracy, metres, when the device reported it.
    pub accuracy_m: Option<u32>,
}

impl Gps {
    /// The fix in degrees.
    pub fn of(gps: &GeoPoint) -> Self {
        #[expect(
            clippy::cast_precision_loss,
            reason = "degrees × 10⁷ fit an f64 exactly"
        )]
        let d = |e7: i64| e7 as f64 / 1e7;
        Gps {
            lat: d(gps.lat_e7),
            lon: d(gps.lon_e7),
            accuracy_m: gps.accuracy_m,
        }
    }

    /// `35.4866000, 112.4150000（±5 m）`.
    pub fn text(&self) -> String {
        match self.accuracy_m {
            Some(m) => format!("{:.7}, {:.7}（±{m} m）", self.lat, self.lon),
            None => format!("{:.7}, {:.7}", self.lat, self.lon),
        }
    }
}

/// A photo of the case.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    /// SHA-256 of the original (the evidence id).
    pub sha256: String,
    /// What it shows.
    pub caption: String,
    /// Capture time, UTC ms, when known.
    pub captured_at_ms: Option<i64>,
    /// Where it was taken, when known.
    pub gps: Option<Gps>,
    /// Who took it.
    pub taken_by: String,
    /// Format of the original: `jpeg`, `png`, `heif`.
    pub format: Option<String>,
    /// Size of the original, bytes.
    pub byte_len: Option<u64>,
    /// Width × height after orientation, pixels.
    pub width: Option<u32>,
    /// Height, pixels.
    pub height: Option<u32>,
    /// SHA-256 of the evidence copy (≤ 2048 px upright sRGB JPEG); none when no preview
    /// could be made (HEIC kept as is).
    pub evidence_copy: Option<String>,
    /// SHA-256 of the thumbnail (≤ 320 px).
    pub thumbnail: Option<String>,
    /// Distance between the photo's GPS and the on-site record's, metres, when both are known
    /// (a photo far from the scene, more than [`PHOTO_DISTANCE_WARNING_M`], is flagged).
    pub distance_from_scene_m: Option<u32>,
}

/// One case in full.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    /// What the list shows.
    pub summary: CaseSummary,
    /// The patrol team.
    pub team: Option<String>,
    /// Scope of the document (`140522`, `140522/township/140522100`).
    pub scope: String,
    /// The scope as people say it (全县, a township's name, a department).
    pub scope_name: String,
    /// Who created it.
    pub created_by: String,
    /// Device time of creation, UTC ms.
    pub created_at_ms: i64,
    /// The rules version the case is measured under.
    pub rules_id: String,
    /// The on-site record (现场笔录).
    #[schema(value_type = Object)]
    pub onsite: OnSiteRecord,
    /// The vehicle (roadside checks).
    #[schema(value_type = Option<Object>)]
    pub vehicle: Option<Vehicle>,
    /// The measurement.
    #[schema(value_type = Option<Object>)]
    pub measurement: Option<MeasurementRecord>,
    /// The verdict (超限/超载) under the case's rules version; none without vehicle and
    /// measurement or when it cannot be computed.
    #[schema(value_type = Option<Object>)]
    pub classification: Option<Classification>,
    /// Why there is no classification although vehicle and measurement are recorded.
    pub classification_error: Option<String>,
    /// The "一超四罚" subjects as far as known.
    #[schema(value_type = Vec<Object>)]
    pub subjects: Vec<SubjectRecord>,
    /// Facts found.
    pub findings: String,
    /// Equipment checklist (site inspections).
    #[schema(value_type = Option<Object>)]
    pub checklist: Option<Checklist>,
    /// Lifecycle events (立案 … 结案), oldest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<CaseEvent>,
    /// Supervisors' reviews of the case, oldest first.
    pub reviews: Vec<ReviewView>,
    /// Notices issued for the case.
    pub notices: Vec<NoticeLink>,
    /// Photos.
    pub photos: Vec<PhotoView>,
    /// Every accepted save: who, device and server time, fields touched.
    pub history: Vec<HistoryEntry>,
}

/// Unit names by USCC, looked up once per request.
#[derive(Debug, Default)]
pub struct UnitNames(HashMap<Uscc, Option<String>>);

impl UnitNames {
    fn get(&mut self, state: &AppState, uscc: &Uscc) -> ConsoleResult<Option<String>> {
        if let Some(name) = self.0.get(uscc) {
            return Ok(name.clone());
        }
        let name = crate::ingest::units::lookup(&*state.docs, uscc)
            .map_err(ConsoleError::internal)?
            .name;
        self.0.insert(uscc.clone(), name.clone());
        Ok(name)
    }
}

/// The reviews among `docs` that read, with their bodies (a damaged one is skipped with a
/// warning rather than failing the page).
fn review_bodies<'a>(state: &AppState, docs: &'a [DocRef]) -> Vec<(&'a DocRef, Arc<Review>)> {
    docs.iter()
        .filter_map(|d| model::body_or_skip::<Review>(state, d).map(|r| (d, r)))
        .collect()
}

/// The summary row of a case.
///
/// # Errors
/// [`ConsoleError::Internal`] when the unit lookup fails.
pub fn summarize(
    state: &AppState,
    doc: &DocRef,
    case: &Case,
    reviews: &[Arc<Review>],
    now_ms: i64,
    units: &mut UnitNames,
) -> ConsoleResult<CaseSummary> {
    let reviews: Vec<Review> = reviews.iter().map(|r| (**r).clone()).collect();
    let status = case_status(case, &reviews);
    let due = decision_due_ms(case);
    let decided = status >= CaseStatus::Decided;
    let overdue = !decided && due.is_some_and(|d| d < now_ms);
    let days_left = due
        .filter(|_| !decided && !overdue)
        .map(|d| (d - now_ms + DAY_MS - 1).div_euclid(DAY_MS));
    let unit = match &case.source_unit {
        Some(uscc) => Some(UnitRef {
            uscc: uscc.to_string(),
            name: units.get(state, uscc)?,
        }),
        None => None,
    };
    Ok(CaseSummary {
        id: doc.id.to_string(),
        case_number: case.case_number.to_string(),
        kind: kind_name(case.kind).to_owned(),
        kind_label: kind_label(case.kind).to_owned(),
        status: status.as_str().to_owned(),
        status_label: status_label(status).to_owned(),
        plate: case.vehicle.as_ref().map(|v| v.plate.to_string()),
        unit,
        officers: case
            .onsite
            .officers
            .iter()
            .map(|o| o.name.clone())
            .collect(),
        started_at_ms: case.onsite.started_at_ms,
        last_change_ms: doc.latest.received_ms,
        decision_due_ms: due,
        overdue,
        days_left,
    })
}

impl CaseFilter {
    /// Does the summary pass the filters (all but paging)?
    pub fn matches(&self, s: &CaseSummary) -> bool {
        if self.status.is_some_and(|st| st.as_str() != s.status) {
            return false;
        }
        if let Some(fragment) = &self.plate
            && !s
                .plate
                .as_ref()
                .is_some_and(|p| p.contains(fragment.as_str()))
        {
            return false;
        }
        if let Some(unit) = &self.unit {
            let upper = unit.to_ascii_uppercase();
            let hit = s.unit.as_ref().is_some_and(|u| {
                u.uscc.contains(&upper)
                    || u.name.as_ref().is_some_and(|n| n.contains(unit.as_str()))
            });
            if !hit {
                return false;
            }
        }
        if self.from_ms.is_some_and(|f| s.started_at_ms < f)
            || self.to_ms.is_some_and(|t| s.started_at_ms >= t)
        {
            return false;
        }
        !self.overdue_only || s.overdue
    }
}

/// The cases `principal` may read that pass `filter`, latest change first, one page. A case
/// or review that does not read (a damaged store) is left out with a warning.
///
/// # Errors
/// [`ConsoleError::Internal`] on a storage failure.
pub fn list_cases(
    state: &AppState,
    principal: &Principal,
    filter: &CaseFilter,
    now_ms: i64,
) -> ConsoleResult<CaseList> {
    let cases = model::list(state, principal, DocKind::Case)?;
    // The reviews once, grouped by the reviewed document (not one scan per case).
    let mut reviews: HashMap<DocumentId, Vec<DocRef>> = HashMap::new();
    for r in model::list(state, principal, DocKind::Review)? {
        if let Some(parent) = r.header.parent {
            reviews.entry(parent).or_default().push(r);
        }
    }
    let mut units = UnitNames::default();
    let mut matching = Vec::new();
    for doc in &cases {
        // A case that does not read is left out (logged), not the whole list.
        let Some(case) = model::body_or_skip::<Case>(state, doc) else {
            continue;
        };
        let of_case: Vec<Arc<Review>> =
            review_bodies(state, reviews.get(&doc.id).map_or(&[][..], Vec::as_slice))
                .into_iter()
                .map(|(_, r)| r)
                .collect();
        let summary = summarize(state, doc, &case, &of_case, now_ms, &mut units)?;
        if filter.matches(&summary) {
            matching.push(summary);
        }
    }
    let total = matching.len();
    let skip = (filter.page - 1).saturating_mul(filter.limit);
    let cases: Vec<CaseSummary> = matching.into_iter().skip(skip).take(filter.limit).collect();
    Ok(CaseList {
        has_more: skip.saturating_add(cases.len()) < total,
        cases,
        page: filter.page,
        limit: filter.limit,
        total,
    })
}

/// A photo taken farther than this from the scene's GPS fix is flagged: evidence of the
/// scene should come from the scene.
pub const PHOTO_DISTANCE_WARNING_M: u32 = 1_000;

/// Great-circle distance between two fixes, metres (haversine, mean Earth radius).
pub fn distance_m(a: &GeoPoint, b: &GeoPoint) -> u32 {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let rad = |e7: i64| (e7 as f64 / 1e7).to_radians();
    let (lat1, lat2) = (rad(a.lat_e7), rad(b.lat_e7));
    let dlat = lat2 - lat1;
    let dlon = rad(b.lon_e7) - rad(a.lon_e7);
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    let metres = 2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin();
    // Saturating: at most half the Earth's circumference, which fits.
    metres.round() as u32
}

/// The view of photo `e` of a case whose scene was fixed at `scene`.
pub fn photo_view(e: &EvidenceRef, scene: Option<&GeoPoint>) -> PhotoView {
    PhotoView {
        distance_from_scene_m: match (e.gps.as_ref(), scene) {
            (Some(photo), Some(scene)) if photo.is_valid() && scene.is_valid() => {
                Some(distance_m(photo, scene))
            }
            _ => None,
        },
        sha256: e.sha256.to_string(),
        caption: e.caption.clone(),
        captured_at_ms: e.captured_at_ms,
        gps: e.gps.as_ref().map(Gps::of),
        taken_by: e.taken_by.to_string(),
        format: e.format.clone(),
        byte_len: e.byte_len,
        width: e.width,
        height: e.height,
        evidence_copy: e.derivatives.map(|d| d.evidence_copy.sha256.to_string()),
        thumbnail: e.derivatives.map(|d| d.thumbnail.sha256.to_string()),
    }
}

/// The classification of `case` under the rules version it records, or why there is none.
fn classification(
    state: &AppState,
    principal: &Principal,
    case: &Case,
) -> ConsoleResult<(Option<Classification>, Option<String>)> {
    if case.vehicle.is_none() || case.measurement.is_none() {
        return Ok((None, None));
    }
    let rules_id = rules_document_id(&state.config.county);
    let rules = match model::get(state, principal, &rules_id, DocKind::Rules) {
        Ok(doc) => model::body::<RulesVersions>(state, &doc)?,
        Err(ConsoleError::NotFound) => {
            return Ok((None, Some("规则文档不可用".to_owned())));
        }
        Err(e) => return Err(e),
    };
    let Some(version) = rules.version(&case.rules_id) else {
        return Ok((
            None,
            Some(format!("规则版本 {} 未在本县施行过", case.rules_id)),
        ));
    };
    let verdict = match version.config() {
        Ok(config) => case.classify(&config),
        Err(e) => Err(e),
    };
    Ok(match verdict {
        Ok(c) => (c, None),
        Err(e) => (None, Some(e.to_string())),
    })
}

/// One case in full, when `principal` may read it.
///
/// # Errors
/// [`ConsoleError::NotFound`] when it does not exist, is not a case or is not readable;
/// [`ConsoleError::Internal`] on a storage failure.
pub fn case_detail(
    state: &AppState,
    principal: &Principal,
    id: &DocumentId,
    now_ms: i64,
) -> ConsoleResult<CaseDetail> {
    let doc = model::get(state, principal, id, DocKind::Case)?;
    let case = model::body::<Case>(state, &doc)?;
    let review_docs = model::children(state, principal, id, DocKind::Review)?;
    let readable = review_bodies(state, &review_docs);
    let bodies: Vec<Arc<Review>> = readable.iter().map(|(_, r)| Arc::clone(r)).collect();
    let summary = summarize(
        state,
        &doc,
        &case,
        &bodies,
        now_ms,
        &mut UnitNames::default(),
    )?;
    let reviews = readable.iter().map(|(d, r)| ReviewView::of(d, r)).collect();
    let mut notices = Vec::new();
    for n in model::list(state, principal, DocKind::Notice)? {
        let Some(notice) = model::body_or_skip::<Notice>(state, &n) else {
            continue;
        };
        if notice.case == *id {
            notices.push(NoticeLink {
                id: n.id.to_string(),
                unit_name: notice.unit_name.clone(),
                issued_at_ms: notice.issued_at_ms,
                deadline: match &notice.deadline {
                    zhichao_core::docs::Deadline::Immediately => "立即".to_owned(),
                    zhichao_core::docs::Deadline::By { date } => date.clone(),
                },
            });
        }
    }
    notices.sort_by_key(|n| n.issued_at_ms);
    let (classification, classification_error) = classification(state, principal, &case)?;
    let mut events = case.events.clone();
    events.sort_by_key(|e| (e.stage, e.at_ms));
    Ok(CaseDetail {
        summary,
        team: doc.header.team.as_ref().map(ToString::to_string),
        scope: doc.header.scope.to_string(),
        scope_name: state.config.scope_label(&doc.header.scope),
        created_by: doc.header.created_by.to_string(),
        created_at_ms: doc.header.created_at_ms,
        rules_id: case.rules_id.clone(),
        onsite: case.onsite.clone(),
        vehicle: case.vehicle.clone(),
        measurement: case.measurement.clone(),
        classification,
        classification_error,
        subjects: case.subjects.clone(),
        findings: case.findings.as_str().to_owned(),
        checklist: case.checklist.clone(),
        events,
        reviews,
        notices,
        photos: case
            .evidence
            .iter()
            .map(|e| photo_view(e, case.onsite.gps.as_ref()))
            .collect(),
        history: history::history(state, &doc)?,
    })
}

/// The photo `sha` (an original's SHA-256) of a case `principal` may read, with the case.
///
/// # Errors
/// [`ConsoleError::NotFound`] when the case is not readable or has no such photo.
pub fn case_photo(
    state: &AppState,
    principal: &Principal,
    id: &DocumentId,
    sha: &EvidenceId,
) -> ConsoleResult<(Arc<Case>, EvidenceRef)> {
    let doc = model::get(state, principal, id, DocKind::Case)?;
    let case = model::body::<Case>(state, &doc)?;
    let photo = case
        .evidence
        .iter()
        .find(|e| e.sha256 == *sha)
        .cloned()
        .ok_or(ConsoleError::NotFound)?;
    Ok((case, photo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> CaseQuery {
        let mut q = CaseQuery::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "status" => q.status = v,
                "plate" => q.plate = v,
                "unit" => q.unit = v,
                "from" => q.from = v,
                "to" => q.to = v,
                "overdue" => q.overdue = v,
                "page" => q.page = v,
                "limit" => q.limit = v,
                _ => unreachable!(),
            }
        }
        q
    }

    #[test]
    fn empty_form_fields_mean_any() {
        let f = query(&[
            ("status", ""),
            ("plate", " "),
            ("from", ""),
            ("overdue", ""),
        ])
        .parse()
        .unwrap();
        assert_eq!(
            f,
            CaseFilter {
                status: None,
                plate: None,
                unit: None,
                from_ms: None,
                to_ms: None,
                overdue_only: false,
                page: 1,
                limit: PAGE_SIZE,
            }
        );
    }

    #[test]
    fn dates_are_china_days_and_to_is_inclusive() {
        let f = query(&[
            ("from", "2026-11-29"),
            ("to", "2026-11-29"),
            ("overdue", "1"),
        ])
        .parse()
        .unwrap();
        // 2026-11-29 00:00 China = 2026-11-28 16:00 UTC.
        assert_eq!(f.from_ms, Some(1_795_881_600_000));
        assert_eq!(f.to_ms, Some(1_795_881_600_000 + DAY_MS));
        assert!(f.overdue_only);
        assert_eq!(
            query(&[("plate", "e·１23")])
                .parse()
                .unwrap()
                .plate
                .as_deref(),
            Some("E123")
        );
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (k, v) in [
            ("status", "lost"),
            ("from", "2026-13-01"),
            ("to", "yesterday"),
            ("overdue", "maybe"),
            ("page", "0"),
            ("limit", "1001"),
            ("limit", "x"),
        ] {
            let e = query(&[(k, v)]).parse().unwrap_err();
            assert!(e.starts_with(k), "{k}={v}: {e}");
        }
    }
}

#[cfg(test)]
mod distance_tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint {
            lat_e7: (lat * 1e7) as i64,
            lon_e7: (lon * 1e7) as i64,
            accuracy_m: None,
        }
    }

    #[test]
    fn distances_are_great_circle_metres() {
        let checkpoint = at(35.486, 112.421);
        assert_eq!(distance_m(&checkpoint, &checkpoint), 0);
        // 0.01° of latitude is about 1.11 km.
        let north = at(35.496, 112.421);
        let d = distance_m(&checkpoint, &north);
        assert!((1_100..1_125).contains(&d), "{d}");
        // Rome from Yangcheng: about 8 300 km.
        let rome = at(41.853, 12.489);
        let d = distance_m(&checkpoint, &rome);
        assert!((8_000_000..8_600_000).contains(&d), "{d}");
    }
}
