//! `GET /v1/notices`, `GET /v1/notices/{id}`, `POST /v1/reviews`: rectification notices
//! (整改通知书), the enterprises' responses and their reviews (复核) as JSON, for integrators.
//!
//! ```text
//! GET /v1/notices?state=submitted&overdue=1&unit=<USCC>
//! 200 {"notices": [{"id": "…", "case": "…", "unit": "9114…", "unit_name": "…",
//!                   "issued_at_ms": …, "deadline_date": "2026-12-15", "due_date": "2026-12-15",
//!                   "state": "submitted", "overdue": false, "responses": 1}, …]}
//!
//! GET /v1/notices/{id}
//! 200 {"notice": {…as listed…}, "facts": "…", "legal_basis": "…", "issued_by": […],
//!      "photos": […], "responses": [{"id": "…", "statement": "…", "submitted_at_ms": …,
//!      "photos": […], "reviews": [{"decision": "return", "reasons": ["…"], …}], …}]}
//!
//! POST /v1/reviews {"parent": "<case or response id>", "decision": "return",
//!                   "reasons": ["照片不清晰"], "comments": ""}
//! 201 {"id": "<review id>"}
//! ```
//!
//! Supervisors only (bearer token); other roles get 403 `forbidden`. A notice or parent the
//! supervisor may not read is 404, as a missing one. The views and rules (states, overdue,
//! order, filters) are those of the console's pages ([`crate::console::notices`]); a review is
//! written by [`crate::console::review::write_review`], through the sync hub with the
//! supervisor as principal, with its rules: the same review posted again by the same
//! supervisor within [`crate::console::review::REPEAT_WINDOW`] answers the stored review's id
//! (a retry stores nothing new); after an acceptance, or for a response already reviewed, a
//! review is 409. Unknown query parameters or body fields are 400.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use zhichao_core::ids::DocumentId;

use crate::AppState;
use crate::auth::Authenticated;
use crate::console::ConsoleError;
use crate::console::notices::{
    NoticeDetail, NoticeQuery, NoticeSummary, notice_detail, notice_list,
};
use crate::console::review::{decision_of, write_review};
use crate::error::{ApiError, ApiResult, Json};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/notices", get(list))
        .route("/v1/notices/{id}", get(one))
        .route("/v1/reviews", post(review))
}

/// Answer to `GET /v1/notices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeList {
    /// The notices by deadline: 立即改正 first, then by date, then by issue time.
    pub notices: Vec<NoticeSummary>,
}

/// A review's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionName {
    /// 通过: a case may close; a response settles its notice.
    Accept,
    /// 退回: returned for more work, with at least one reason.
    Return,
}

/// Body of `POST /v1/reviews`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// The reviewed case or submitted response (document id).
    pub parent: String,
    /// The decision.
    pub decision: DecisionName,
    /// The reasons of a return (at least one non-empty; at most 20 of 200 characters);
    /// none with an acceptance.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Comments, at most 4 000 characters.
    #[serde(default)]
    pub comments: String,
}

/// Answer to `POST /v1/reviews`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewCreated {
    /// The new review's document id.
    pub id: String,
}

const NOTICE_NOT_FOUND: (&str, &str) = ("notice_not_found", "no such notice");
const PARENT_NOT_FOUND: (&str, &str) = ("document_not_found", "no such case or response");

/// `GET /v1/notices`.
#[utoipa::path(
    get,
    path = "/v1/notices",
    tag = "notices",
    params(NoticeQuery),
    responses(
        (status = 200, description = "The notices the supervisor may read, by deadline", body = NoticeList),
        (status = 400, description = "A filter does not parse"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "Not a supervisor"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> ApiResult<Json<NoticeList>> {
    super::check_supervisor(&principal)?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let filter = query.filter().map_err(ApiError::invalid)?;
    let notices = tokio::task::spawn_blocking(move || notice_list(&state, &principal, &filter))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| super::console_error(e, Some(NOTICE_NOT_FOUND)))?;
    Ok(Json(NoticeList { notices }))
}

/// `GET /v1/notices/{id}`.
#[utoipa::path(
    get,
    path = "/v1/notices/{id}",
    tag = "notices",
    params(("id" = String, Path, description = "The notice's document id")),
    responses(
        (status = 200, description = "The notice, its submitted responses and their reviews", body = NoticeDetail),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "Not a supervisor"),
        (status = 404, description = "No such notice, or not in the supervisor's scope"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<NoticeDetail>> {
    super::check_supervisor(&principal)?;
    let Ok(id) = id.parse::<DocumentId>() else {
        return Err(super::console_error(
            ConsoleError::NotFound,
            Some(NOTICE_NOT_FOUND),
        ));
    };
    let detail = tokio::task::spawn_blocking(move || notice_detail(&state, &principal, &id))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| super::console_error(e, Some(NOTICE_NOT_FOUND)))?;
    Ok(Json(detail))
}

/// `POST /v1/reviews`.
#[utoipa::path(
    post,
    path = "/v1/reviews",
    tag = "notices",
    request_body = ReviewRequest,
    responses(
        (status = 201, description = "The review was stored and will sync to the phones (or, for the same review posted again by the same supervisor within ten minutes, the one stored)", body = ReviewCreated),
        (status = 400, description = "A return without a reason, a text too long, a parent that is neither a case nor a response"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "Not a supervisor"),
        (status = 404, description = "No such case or response, or not in the supervisor's scope"),
        (status = 409, description = "The response is a draft, or already reviewed; or the case or response was already accepted"),
    )
)]
pub async fn review(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(request): Json<ReviewRequest>,
) -> ApiResult<(StatusCode, Json<ReviewCreated>)> {
    super::check_supervisor(&principal)?;
    let parent: DocumentId = request
        .parent
        .trim()
        .parse()
        .map_err(|e| ApiError::invalid(format!("parent: {e}")))?;
    let name = match request.decision {
        DecisionName::Accept => "accept",
        DecisionName::Return => "return",
    };
    let decision = decision_of(name, request.reasons)
        .map_err(|e| super::console_error(e, Some(PARENT_NOT_FOUND)))?;
    let id = write_review(&state, &principal, &parent, decision, &request.comments)
        .await
        .map_err(|e| super::console_error(e, Some(PARENT_NOT_FOUND)))?;
    Ok((
        StatusCode::CREATED,
        Json(ReviewCreated { id: id.to_string() }),
    ))
}
