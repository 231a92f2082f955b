//! `/v1/alerts`: the alerts supervisors and patrols act on (告警处置) — over-limit departures
//! (超限出场) and upload interruptions (数据上传中断); see [`crate::ingest::alerts`].
//!
//! Who: supervisors see the alerts routed to their scope, officers those dispatched to their
//! team ([`Alert::visible_to`]); enterprises, source-unit systems and admins get 403
//! `forbidden`. An alert a caller may not see is answered 404 `alert_not_found`, as a missing
//! one, so nothing leaks.
//!
//! ```text
//! GET /v1/alerts?status=open&jurisdiction=township:140522100&plate=晋E12345&limit=50
//! 200 {"alerts": [{"id": "dep-…", "kind": "over_limit_departure", "status": "open", …}, …]}
//!
//! GET /v1/alerts/dep-0123456789abcdef01234567
//! 200 {"id": "dep-…", …, "history": [{"at_ms": …, "by": "server", "action": "raised"}]}
//!
//! POST /v1/alerts/{id}/acknowledge {"note": "已电话核实"}   (supervisor; body optional)
//! POST /v1/alerts/{id}/dispatch {"team": "team-1", "note": "…"}   (supervisor)
//! POST /v1/alerts/{id}/close {"case": "<document id>", "note": "已立案查处"}
//!                                     (supervisor, or an officer of the dispatched team)
//! 200 the alert as stored
//! ```
//!
//! List filters (all optional, combined with "and"), newest first:
//! - `status`: `open`, `acknowledged`, `dispatched`, `closed`;
//! - `kind`: `over_limit_departure`, `upload_interrupted`;
//! - `jurisdiction`: the supervising authority — `county_office` (units without a synced
//!   profile, which the county office supervises alone), `emergency_management_bureau`,
//!   `development_zone`, `township:<9-digit code>`;
//! - `unit`: a USCC; `plate`: a plate as people type it (normalised; departures only);
//! - `from_ms`, `to_ms`: raised in `[from_ms, to_ms)`, UTC ms;
//! - `limit`: 1 to 1000, default 100.
//!
//! A bad value or an unknown parameter is 400 `invalid_request` with the reason.
//!
//! The console's alert pages ([`crate::console::alerts`]) list and act through the same
//! functions ([`list_visible`], [`acknowledge_as`], [`dispatch_as`], [`close_as`]), so the
//! rules are one code path.
//!
//! Life: open → acknowledged → dispatched → closed. Acknowledging again, or dispatching again
//! to the same team, changes nothing; dispatching to another team is recorded. A departure
//! closes only with the case that handled it: a `case` document that exists and the closer may
//! read (else 400 `invalid_case`); an interruption closes with a note or a case. A closed
//! alert refuses every action with 409 `conflict`. Each action is appended to the alert's
//! history with the caller's id and the server time, and flushed before the answer.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use zhichao_core::access::{Principal, can_read};
use zhichao_core::docs::{Case, DocKind, read_header};
use zhichao_core::ids::{DocumentId, TeamId};
use zhichao_core::jurisdiction::{AdminCode, AdminLevel, Jurisdiction};
use zhichao_core::plate::Plate;
use zhichao_core::uscc::Uscc;

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Json};
use crate::ingest::IngestError;
use crate::ingest::alerts::{Alert, AlertAction, AlertEvent, AlertKind, AlertStatus};

/// Default number of alerts listed.
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// Most alerts listed at once.
pub const MAX_LIST_LIMIT: usize = 1_000;
/// Longest closing note, characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// The alert routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/alerts", get(list))
        .route("/v1/alerts/{id}", get(one))
        .route("/v1/alerts/{id}/acknowledge", post(acknowledge))
        .route("/v1/alerts/{id}/dispatch", post(dispatch))
        .route("/v1/alerts/{id}/close", post(close))
}

/// Answer to `GET /v1/alerts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertList {
    /// The alerts, newest first.
    pub alerts: Vec<Alert>,
}

/// Body of `POST /v1/alerts/{id}/acknowledge` (optional: an empty body is no note).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// A note, at most [`MAX_NOTE_CHARS`] characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// Body of `POST /v1/alerts/{id}/dispatch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// The patrol team (巡查组) sent to handle it.
    #[schema(value_type = String)]
    pub team: TeamId,
    /// A note for the team, at most [`MAX_NOTE_CHARS`] characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// Body of `POST /v1/alerts/{id}/close`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// The `case` document that handled it (required for a departure).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub case: Option<DocumentId>,
    /// A note, at most [`MAX_NOTE_CHARS`] characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// Query of `GET /v1/alerts` (see the module documentation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open`, `acknowledged`, `dispatched` or `closed`.
    #[param(value_type = Option<String>)]
    status: Option<AlertStatus>,
    /// `over_limit_departure` or `upload_interrupted`.
    #[param(value_type = Option<String>)]
    kind: Option<AlertKind>,
    /// `county_office`, `emergency_management_bureau`, `development_zone` or
    /// `township:<9-digit code>`.
    jurisdiction: Option<String>,
    /// The source unit's USCC.
    unit: Option<String>,
    /// A plate as people type it.
    plate: Option<String>,
    /// Raised at or after, UTC ms.
    from_ms: Option<u64>,
    /// Raised before, UTC ms.
    to_ms: Option<u64>,
    /// 1 to 1000, default 100.
    limit: Option<usize>,
}

/// Which source unit an alert list is about: by USCC, or by a part of the unit's name (the
/// console's search box).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitFilter {
    /// This unit.
    Uscc(Uscc),
    /// Units whose profile name contains this text.
    NameContains(String),
}

/// What an alert list keeps, combined with "and"; shared by `GET /v1/alerts` and the
/// console's alert page, so both filter alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only alerts in this state.
    pub status: Option<AlertStatus>,
    /// Leave closed alerts out (the console's default: what is still to be done).
    pub exclude_closed: bool,
    /// Only alerts of this kind.
    pub kind: Option<AlertKind>,
    /// Only alerts of units under this supervising authority (`CountyOffice` for units
    /// without a profile).
    pub jurisdiction: Option<Jurisdiction>,
    /// Only this unit's.
    pub unit: Option<UnitFilter>,
    /// Only departures of this plate (canonical form).
    pub plate: Option<String>,
    /// Raised at or after, UTC ms.
    pub from_ms: u64,
    /// Raised before, UTC ms.
    pub to_ms: u64,
    /// At most this many.
    pub limit: usize,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            status: None,
            exclude_closed: false,
            kind: None,
            jurisdiction: None,
            unit: None,
            plate: None,
            from_ms: 0,
            to_ms: u64::MAX,
            limit: DEFAULT_LIST_LIMIT,
        }
    }
}

impl AlertFilter {
    /// Whether `a` passes every filter (the time range and the limit are the store's).
    pub fn keeps(&self, a: &Alert) -> bool {
        self.status.is_none_or(|s| a.status == s)
            && !(self.exclude_closed && a.status == AlertStatus::Closed)
            && self.kind.is_none_or(|k| a.kind == k)
            && self
                .jurisdiction
                .is_none_or(|j| a.jurisdiction.unwrap_or(Jurisdiction::CountyOffice) == j)
            && self.unit.as_ref().is_none_or(|u| match u {
                UnitFilter::Uscc(u) => a.unit == *u,
                UnitFilter::NameContains(text) => a
                    .unit_name
                    .as_deref()
                    .is_some_and(|n| n.contains(text.as_str())),
            })
            && self.plate.as_deref().is_none_or(|p| a.plate() == Some(p))
    }
}

fn forbidden() -> ApiError {
    ApiError::Forbidden {
        code: "forbidden",
        message: "requires the supervisor or officer role".into(),
    }
}

fn not_found() -> ApiError {
    ApiError::Missing {
        code: "alert_not_found",
        message: "no such alert",
    }
}

/// Supervisors and officers may look at alerts; nobody else.
fn check_reader(p: &Principal) -> ApiResult<()> {
    match p {
        Principal::Supervisor { .. } | Principal::Officer { .. } => Ok(()),
        _ => Err(forbidden()),
    }
}

/// Parses a `jurisdiction` filter: `county_office`, `emergency_management_bureau`,
/// `development_zone` or `township:<9-digit township code>`.
///
/// # Errors
/// [`ApiError::Invalid`] naming the value.
pub fn parse_jurisdiction(text: &str) -> ApiResult<Jurisdiction> {
    match text.trim() {
        "county_office" => Ok(Jurisdiction::CountyOffice),
        "emergency_management_bureau" => Ok(Jurisdiction::EmergencyManagementBureau),
        "development_zone" => Ok(Jurisdiction::DevelopmentZone),
        other => {
            let code = other.strip_prefix("township:").ok_or_else(|| {
                ApiError::invalid(format!(
                    "jurisdiction {other:?} is not county_office, emergency_management_bureau, \
                     development_zone or township:<code>"
                ))
            })?;
            let code: AdminCode = code
                .parse()
                .map_err(|e| ApiError::invalid(format!("jurisdiction: {e}")))?;
            if code.level() != AdminLevel::Township {
                return Err(ApiError::invalid(format!(
                    "jurisdiction: {code} is not a township code"
                )));
            }
            Ok(Jurisdiction::Township(code))
        }
    }
}

/// The text form [`parse_jurisdiction`] reads.
pub fn jurisdiction_param(j: &Jurisdiction) -> String {
    match j {
        Jurisdiction::CountyOffice => "county_office".to_owned(),
        Jurisdiction::EmergencyManagementBureau => "emergency_management_bureau".to_owned(),
        Jurisdiction::DevelopmentZone => "development_zone".to_owned(),
        Jurisdiction::Township(code) => format!("township:{code}"),
    }
}

/// Parses a plate filter as people type it into its canonical form.
///
/// # Errors
/// [`ApiError::Invalid`] when it is not a plate.
pub fn parse_plate(text: &str) -> ApiResult<String> {
    Plate::parse(text)
        .map(|p| p.to_string())
        .map_err(|e| ApiError::invalid(format!("plate: {e}")))
}

/// The alerts `principal` may see that `filter` keeps, newest first.
///
/// # Errors
/// [`ApiError::Forbidden`] unless a supervisor or an officer; [`ApiError::Internal`] when the
/// store fails.
pub fn list_visible(
    state: &AppState,
    principal: &Principal,
    filter: &AlertFilter,
) -> ApiResult<Vec<Alert>> {
    check_reader(principal)?;
    let county = state.config.county;
    state
        .ingest
        .alerts
        .list(filter.from_ms, filter.to_ms, filter.limit, |a| {
            a.visible_to(principal, &county) && filter.keeps(a)
        })
        .map_err(ApiError::internal)
}

/// `GET /v1/alerts`: the alerts the caller may see, filtered.
#[utoipa::path(
    tag = "alerts",
    get,
    path = "/v1/alerts",
    params(ListQuery),
    responses(
        (status = 200, description = "the alerts, newest first", body = AlertList),
        (status = 400, description = "a bad filter value (`invalid_request`)"),
        (status = 403, description = "not a supervisor or an officer (`forbidden`)")
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<AlertList>> {
    check_reader(&principal)?;
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let jurisdiction = q
        .jurisdiction
        .as_deref()
        .map(parse_jurisdiction)
        .transpose()?;
    let unit: Option<Uscc> = q
        .unit
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("unit: {e}")))?;
    let plate = q.plate.as_deref().map(parse_plate).transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: 1 to {MAX_LIST_LIMIT}, got {limit}"
        )));
    }
    let filter = AlertFilter {
        status: q.status,
        exclude_closed: false,
        kind: q.kind,
        jurisdiction,
        unit: unit.map(UnitFilter::Uscc),
        plate,
        from_ms: q.from_ms.unwrap_or(0),
        to_ms: q.to_ms.unwrap_or(u64::MAX),
        limit,
    };
    let alerts = list_visible(&state, &principal, &filter)?;
    Ok(Json(AlertList { alerts }))
}

/// The alert `id` if `principal` may see it.
///
/// # Errors
/// [`ApiError::Forbidden`] unless a supervisor or an officer; [`ApiError::Missing`]
/// (`alert_not_found`) when there is none or `principal` may not see it;
/// [`ApiError::Internal`] when the store fails.
pub fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Alert> {
    check_reader(principal)?;
    state
        .ingest
        .alerts
        .get(id)
        .map_err(ApiError::internal)?
        .filter(|a| a.visible_to(principal, &state.config.county))
        .ok_or_else(not_found)
}

/// `GET /v1/alerts/{id}`: one alert with its history.
#[utoipa::path(
    tag = "alerts",
    get,
    path = "/v1/alerts/{id}",
    params(("id" = String, Path, description = "the alert's id (`dep-…` or `int-…`)")),
    responses(
        (status = 200, description = "the alert", body = Alert),
        (status = 403, description = "not a supervisor or an officer (`forbidden`)"),
        (status = 404, description = "no such alert the caller may see (`alert_not_found`)")
    ),
    security(("bearer" = []))
)]
pub async fn one(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Alert>> {
    visible(&state, &principal, &id).map(Json)
}

/// Why an action was not applied: refused, or the store failed.
enum Refused {
    Api(ApiError),
    Store(IngestError),
}

impl From<IngestError> for Refused {
    fn from(e: IngestError) -> Self {
        Refused::Store(e)
    }
}

/// Applies `change` to the alert `id` as `principal` (who must see it, and it must not be
/// closed), appending what it returns to the history; flushes and answers the alert.
async fn act(
    state: &AppState,
    principal: &Principal,
    id: &str,
    mut change: impl FnMut(&mut Alert) -> Option<AlertAction>,
) -> ApiResult<Alert> {
    let county = state.config.county;
    let now_ms = state.now_ms();
    let updated = state
        .ingest
        .alerts
        .update::<Refused>(id, |alert| {
            if !alert.visible_to(principal, &county) {
                return Err(Refused::Api(not_found()));
            }
            if alert.status == AlertStatus::Closed {
                return Err(Refused::Api(ApiError::Conflict {
                    message: format!("alert {} is closed", alert.id),
                }));
            }
            if let Some(action) = change(alert) {
                alert.history.push(AlertEvent {
                    at_ms: now_ms,
                    by: principal.id().clone(),
                    action,
                });
            }
            Ok(())
        })
        .map_err(|e| match e {
            Refused::Api(e) => e,
            Refused::Store(e) => ApiError::internal(e),
        })?;
    let alert = updated.ok_or_else(not_found)?;
    state.ingest.flush().await.map_err(ApiError::internal)?;
    Ok(alert)
}

/// A note as stored: trimmed, `None` when empty.
///
/// # Errors
/// [`ApiError::Invalid`] when longer than [`MAX_NOTE_CHARS`] characters or holding control
/// characters other than a line break.
pub fn clean_note(note: Option<String>) -> ApiResult<Option<String>> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "note: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if note
        .as_ref()
        .is_some_and(|n| n.chars().any(|c| c.is_control() && c != '\n' && c != '\r'))
    {
        return Err(ApiError::invalid(
            "note: control characters are not allowed",
        ));
    }
    Ok(note.map(|n| n.replace("\r\n", "\n").replace('\r', "\n")))
}

/// Acknowledges the alert `id` as `principal` (a supervisor who sees it) with an optional
/// note; acknowledging again changes nothing. Flushed; answers the alert as stored.
///
/// # Errors
/// [`ApiError::Forbidden`] unless a supervisor; `alert_not_found`; 409 when closed; a bad
/// note.
pub async fn acknowledge_as(
    state: &AppState,
    principal: &Principal,
    id: &str,
    note: Option<String>,
) -> ApiResult<Alert> {
    super::check_supervisor(principal)?;
    let note = clean_note(note)?;
    act(state, principal, id, |alert| {
        (alert.status == AlertStatus::Open).then(|| {
            alert.status = AlertStatus::Acknowledged;
            AlertAction::Acknowledged { note: note.clone() }
        })
    })
    .await
}

/// `POST /v1/alerts/{id}/acknowledge` (body optional: `{"note": "…"}`).
#[utoipa::path(
    tag = "alerts",
    post,
    path = "/v1/alerts/{id}/acknowledge",
    params(("id" = String, Path, description = "the alert's id")),
    request_body(content = Option<AcknowledgeRequest>, description = "optional note"),
    responses(
        (status = 200, description = "the alert as stored", body = Alert),
        (status = 400, description = "a bad body or note (`invalid_request`)"),
        (status = 403, description = "not a supervisor (`forbidden`)"),
        (status = 404, description = "no such alert the caller may see (`alert_not_found`)"),
        (status = 409, description = "the alert is closed (`conflict`)")
    ),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Alert>> {
    super::check_supervisor(&principal)?;
    let request: AcknowledgeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AcknowledgeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("body: {e}")))?
    };
    acknowledge_as(&state, &principal, &id, request.note)
        .await
        .map(Json)
}

/// Dispatches the alert `id` to `team` as `principal` (a supervisor who sees it);
/// dispatching again to the same team changes nothing, to another team is recorded. Flushed;
/// answers the alert as stored.
///
/// # Errors
/// As [`acknowledge_as`].
pub async fn dispatch_as(
    state: &AppState,
    principal: &Principal,
    id: &str,
    team: TeamId,
    note: Option<String>,
) -> ApiResult<Alert> {
    super::check_supervisor(principal)?;
    let note = clean_note(note)?;
    act(state, principal, id, |alert| {
        if alert.status == AlertStatus::Dispatched && alert.dispatched_to.as_ref() == Some(&team) {
            return None;
        }
        alert.status = AlertStatus::Dispatched;
        alert.dispatched_to = Some(team.clone());
        Some(AlertAction::Dispatched {
            team: team.clone(),
            note: note.clone(),
        })
    })
    .await
}

/// `POST /v1/alerts/{id}/dispatch`.
#[utoipa::path(
    tag = "alerts",
    post,
    path = "/v1/alerts/{id}/dispatch",
    params(("id" = String, Path, description = "the alert's id")),
    request_body = DispatchRequest,
    responses(
        (status = 200, description = "the alert as stored", body = Alert),
        (status = 403, description = "not a supervisor (`forbidden`)"),
        (status = 404, description = "no such alert the caller may see (`alert_not_found`)"),
        (status = 409, description = "the alert is closed (`conflict`)"),
        (status = 422, description = "a bad team id")
    ),
    security(("bearer" = []))
)]
pub async fn dispatch(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    Json(request): Json<DispatchRequest>,
) -> ApiResult<Json<Alert>> {
    dispatch_as(&state, &principal, &id, request.team, request.note)
        .await
        .map(Json)
}

/// Checks that `case` is a `case` document `principal` may read, about the alert's plate or
/// unit. Missing and unreadable are answered alike.
fn check_case(
    state: &AppState,
    principal: &Principal,
    case: &DocumentId,
    alert: &Alert,
) -> ApiResult<()> {
    let refused = || ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_case",
        message: format!("case: no case document {case} that you may read"),
    };
    let loaded = state
        .docs
        .load(case)
        .map_err(ApiError::internal)?
        .ok_or_else(refused)?;
    let header = read_header(&loaded.doc).map_err(|_| refused())?;
    // A case has no parent: no ancestors to pass.
    if header.kind != DocKind::Case || !can_read(principal, &header, &[]) {
        return Err(refused());
    }
    let body = zhichao_core::docs::TypedDoc::<Case>::open(*case, loaded.doc)
        .map_err(|_| refused())?
        .body()
        .map_err(|_| refused())?;
    if case_concerns(&body, alert) {
        return Ok(());
    }
    let plate = body.vehicle.as_ref().map(|v| v.plate.to_string());
    Err(ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        code: "case_unrelated",
        message: format!(
            "case: {case} is about {} and {}, not this alert's {}",
            plate.map_or_else(|| "no vehicle".to_owned(), |p| format!("vehicle {p}")),
            body.source_unit.as_ref().map_or_else(
                || "no source unit".to_owned(),
                |u| format!("source unit {u}")
            ),
            match alert.plate() {
                Some(p) => format!("vehicle {p} or source unit {}", alert.unit),
                None => format!("source unit {}", alert.unit),
            }
        ),
    })
}

/// Whether `case` is about what `alert` is about: the departed truck (its plate) or the
/// source unit; for an interruption, the unit. One case cannot close unrelated alerts.
pub fn case_concerns(case: &Case, alert: &Alert) -> bool {
    let same_unit = case.source_unit.as_ref() == Some(&alert.unit);
    let same_plate = alert.plate().is_some_and(|p| {
        case.vehicle
            .as_ref()
            .is_some_and(|v| v.plate.to_string() == p)
    });
    same_unit || same_plate
}

/// Closes the alert `id` as `principal` (a supervisor who sees it, or an officer of the
/// dispatched team) with the case that handled it (required for a departure, which must
/// [`case_concerns`] the alert) and/or a note (an interruption needs one of the two).
/// Flushed; answers the alert as stored.
///
/// # Errors
/// [`ApiError::Forbidden`] for other roles; `alert_not_found`; 409 when closed; 400
/// `invalid_request` (no case for a departure, a bad note), `invalid_case` (no readable case
/// document), `case_unrelated`.
pub async fn close_as(
    state: &AppState,
    principal: &Principal,
    id: &str,
    request: CloseRequest,
) -> ApiResult<Alert> {
    check_reader(principal)?;
    let note = clean_note(request.note)?;
    let alert = visible(state, principal, id)?;
    if alert.status == AlertStatus::Closed {
        return Err(ApiError::Conflict {
            message: format!("alert {} is closed", alert.id),
        });
    }
    match (alert.kind, &request.case, &note) {
        (AlertKind::OverLimitDeparture, None, _) => {
            return Err(ApiError::invalid(
                "case: an over-limit departure closes with the case that handled it",
            ));
        }
        (AlertKind::UploadInterrupted, None, None) => {
            return Err(ApiError::invalid(
                "an upload interruption closes with a note or a case",
            ));
        }
        _ => {}
    }
    if let Some(case) = &request.case {
        check_case(state, principal, case, &alert)?;
    }
    let case = request.case;
    act(state, principal, id, |alert| {
        alert.status = AlertStatus::Closed;
        alert.case = case;
        Some(AlertAction::Closed {
            case,
            note: note.clone(),
        })
    })
    .await
}

/// `POST /v1/alerts/{id}/close`.
#[utoipa::path(
    tag = "alerts",
    post,
    path = "/v1/alerts/{id}/close",
    params(("id" = String, Path, description = "the alert's id")),
    request_body = CloseRequest,
    responses(
        (status = 200, description = "the alert as stored", body = Alert),
        (status = 400, description = "no case for a departure, a bad note (`invalid_request`), \
                                      no readable case (`invalid_case`), a case about another \
                                      vehicle and unit (`case_unrelated`)"),
        (status = 403, description = "not a supervisor or an officer (`forbidden`)"),
        (status = 404, description = "no such alert the caller may see (`alert_not_found`)"),
        (status = 409, description = "the alert is closed (`conflict`)")
    ),
    security(("bearer" = []))
)]
pub async fn close(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    Json(request): Json<CloseRequest>,
) -> ApiResult<Json<Alert>> {
    close_as(&state, &principal, &id, request).await.map(Json)
}
