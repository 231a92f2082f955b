//! `GET /v1/cases`, `GET /v1/cases/{id}`: cases as JSON for supervisors and integrators —
//! the same data as the console's case pages ([`crate::console::case_view`]).
//!
//! Bearer token of a supervisor (403 `forbidden` for every other role). A case outside the
//! supervisor's scope is 404 `case_not_found`, like a missing one.
//!
//! ```text
//! GET /v1/cases?status=registered&plate=E123&unit=石料&from=2026-11-01&to=2026-11-30&overdue=1&page=1&limit=100
//! 200 {"cases": [{"id": "…", "case_number": "K7Q2-2026-00007", "status": "registered",
//!                 "decision_due_ms": …, "overdue": true, …}], "page": 1, "limit": 100,
//!      "total": 1, "has_more": false}
//!
//! GET /v1/cases/{id}
//! 200 {"summary": {…}, "onsite": {…}, "classification": {…}, "photos": [{"sha256": …}],
//!      "history": [{"principal": "officer:wang", "received_ms": …, "fields": […]}], …}
//! ```
//!
//! A bad filter value is 400 `invalid_request` naming the parameter.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;

use crate::AppState;
use crate::auth::Authenticated;
use crate::console::case_view::{self, CaseDetail, CaseList, CaseQuery};
use crate::console::cases::{blocking, now_ms};
use crate::error::{ApiError, ApiResult, Json};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", get(list))
        .route("/v1/cases/{id}", get(one))
}

/// The 404 of a case that is missing or not readable.
const CASE_NOT_FOUND: (&str, &str) = ("case_not_found", "no such case");

/// `GET /v1/cases`: the cases the supervisor may read, latest change first.
#[utoipa::path(
    get,
    path = "/v1/cases",
    tag = "cases",
    params(CaseQuery),
    responses(
        (status = 200, description = "A page of cases", body = CaseList),
        (status = 400, description = "A filter value is invalid (`invalid_request`)"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "Not a supervisor (`forbidden`)"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    query: Result<Query<CaseQuery>, QueryRejection>,
) -> ApiResult<Json<CaseList>> {
    super::check_supervisor(&principal)?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let filter = query.parse().map_err(ApiError::invalid)?;
    let now = now_ms(&state);
    blocking(&state, move |s| {
        case_view::list_cases(s, &principal, &filter, now)
    })
    .await
    .map(Json)
    .map_err(|e| super::console_error(e, Some(CASE_NOT_FOUND)))
}

/// `GET /v1/cases/{id}`: one case with classification, photos and change history.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}",
    tag = "cases",
    params(("id" = String, Path, description = "The case document's id")),
    responses(
        (status = 200, description = "The case", body = CaseDetail),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "Not a supervisor (`forbidden`)"),
        (status = 404, description = "No such case in the supervisor's scope (`case_not_found`)"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseDetail>> {
    super::check_supervisor(&principal)?;
    let id = crate::console::model::parse_id(&id)
        .map_err(|e| super::console_error(e, Some(CASE_NOT_FOUND)))?;
    let now = now_ms(&state);
    blocking(&state, move |s| {
        case_view::case_detail(s, &principal, &id, now)
    })
    .await
    .map(Json)
    .map_err(|e| super::console_error(e, Some(CASE_NOT_FOUND)))
}
