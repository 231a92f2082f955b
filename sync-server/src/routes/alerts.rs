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
//! POST /v1/alerts/{id}/acknowledge                     (supervisor)
//! POST /v1/alerts/{id}/dispatch {"team": "team-1"}     (supervisor)
//! POST /v1/alerts/{id}/close {"case": "<document id>", "note": "已立案查处"}
//!                                     (supervisor, or an officer of the dispatched team)
//! 200 the alert as stored
//! ```
//!
//! List filters (all optional, combined with "and"), newest first:
//! - `status`: `open`, `acknowledged`, `dispatched`, `closed`;
//! - `jurisdiction`: the supervising authority — `county_office` (units without a synced
//!   profile, which the county office supervises alone), `emergency_management_bureau`,
//!   `development_zone`, `township:<9-digit code>`;
//! - `unit`: a USCC; `plate`: a plate as people type it (normalised; departures only);
//! - `from_ms`, `to_ms`: raised in `[from_ms, to_ms)`, UTC ms;
//! - `limit`: 1 to 1000, default 100.
//!
//! A bad value or an unknown parameter is 400 `invalid_request` with the reason.
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
use zhichao_core::docs::{DocKind, read_header};
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertList {
    /// The alerts, newest first.
    pub alerts: Vec<Alert>,
}

/// Body of `POST /v1/alerts/{id}/dispatch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// The patrol team (巡查组) sent to handle it.
    pub team: TeamId,
}

/// Body of `POST /v1/alerts/{id}/close`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// The `case` document that handled it (required for a departure).
    #[serde(default)]
    pub case: Option<DocumentId>,
    /// A note, at most [`MAX_NOTE_CHARS`] characters.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<AlertStatus>,
    jurisdiction: Option<String>,
    unit: Option<String>,
    plate: Option<String>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    limit: Option<usize>,
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

fn check_supervisor(p: &Principal) -> ApiResult<()> {
    match p {
        Principal::Supervisor { .. } => Ok(()),
        _ => Err(ApiError::Forbidden {
            code: "forbidden",
            message: "requires the supervisor role".into(),
        }),
    }
}

/// Parses the `jurisdiction` filter.
fn parse_jurisdiction(text: &str) -> ApiResult<Jurisdiction> {
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

/// `GET /v1/alerts`.
async fn list(
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
    let plate = q
        .plate
        .as_deref()
        .map(Plate::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("plate: {e}")))?
        .map(|p| p.to_string());
    let limit = q.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: 1 to {MAX_LIST_LIMIT}, got {limit}"
        )));
    }
    let (from_ms, to_ms) = (q.from_ms.unwrap_or(0), q.to_ms.unwrap_or(u64::MAX));
    let county = state.config.county;
    let alerts = state
        .ingest
        .alerts
        .list(from_ms, to_ms, limit, |a| {
            a.visible_to(&principal, &county)
                && q.status.is_none_or(|s| a.status == s)
                && jurisdiction
                    .is_none_or(|j| a.jurisdiction.unwrap_or(Jurisdiction::CountyOffice) == j)
                && unit.as_ref().is_none_or(|u| a.unit == *u)
                && plate.as_deref().is_none_or(|p| a.plate() == Some(p))
        })
        .map_err(ApiError::internal)?;
    Ok(Json(AlertList { alerts }))
}

/// The alert `id` if `principal` may see it.
fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Alert> {
    state
        .ingest
        .alerts
        .get(id)
        .map_err(ApiError::internal)?
        .filter(|a| a.visible_to(principal, &state.config.county))
        .ok_or_else(not_found)
}

/// `GET /v1/alerts/{id}`.
async fn one(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Alert>> {
    check_reader(&principal)?;
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
) -> ApiResult<Json<Alert>> {
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
    Ok(Json(alert))
}

/// `POST /v1/alerts/{id}/acknowledge`.
async fn acknowledge(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Alert>> {
    check_supervisor(&principal)?;
    act(&state, &principal, &id, |alert| {
        (alert.status == AlertStatus::Open).then(|| {
            alert.status = AlertStatus::Acknowledged;
            AlertAction::Acknowledged
        })
    })
    .await
}

/// `POST /v1/alerts/{id}/dispatch`.
async fn dispatch(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    Json(request): Json<DispatchRequest>,
) -> ApiResult<Json<Alert>> {
    check_supervisor(&principal)?;
    let team = request.team;
    act(&state, &principal, &id, |alert| {
        if alert.status == AlertStatus::Dispatched && alert.dispatched_to.as_ref() == Some(&team) {
            return None;
        }
        alert.status = AlertStatus::Dispatched;
        alert.dispatched_to = Some(team.clone());
        Some(AlertAction::Dispatched { team: team.clone() })
    })
    .await
}

/// Checks that `case` is a `case` document `principal` may read. Missing and unreadable are
/// answered alike.
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
    // The case must be about what the alert is about: the departed truck (its plate) or the
    // source unit; an interruption, the unit. One case cannot close unrelated alerts.
    let body = zhichao_core::docs::TypedDoc::<zhichao_core::docs::Case>::open(*case, loaded.doc)
        .map_err(|_| refused())?
        .body()
        .map_err(|_| refused())?;
    let plate = body.vehicle.as_ref().map(|v| v.plate.to_string());
    let same_unit = body.source_unit.as_ref() == Some(&alert.unit);
    let same_plate = plate.is_some() && plate.as_deref() == alert.plate();
    if same_unit || same_plate {
        return Ok(());
    }
    Err(ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        code: "case_unrelated",
        message: format!(
            "case: {case} is about {} and {}, not this alert's {}",
            plate.map_or_else(|| "no vehicle".to_owned(), |p| format!("vehicle {p}")),
            body.source_unit.map_or_else(
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

/// `POST /v1/alerts/{id}/close`.
async fn close(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    Json(request): Json<CloseRequest>,
) -> ApiResult<Json<Alert>> {
    check_reader(&principal)?;
    let note = request
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
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
        .is_some_and(|n| n.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::invalid(
            "note: control characters are not allowed",
        ));
    }
    let alert = visible(&state, &principal, &id)?;
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
        check_case(&state, &principal, case, &alert)?;
    }
    let case = request.case;
    act(&state, &principal, &id, |alert| {
        alert.status = AlertStatus::Closed;
        alert.case = case;
        Some(AlertAction::Closed {
            case,
            note: note.clone(),
        })
    })
    .await
}
