//! `POST /v1/sync/ticket`: a one-time, short-lived ticket for opening the sync WebSocket as
//! `GET /v1/sync?ticket=…`, for clients that cannot set an `Authorization` header on a
//! WebSocket (browsers, the stock automerge-repo adapter).

use axum::Router;
use axum::extract::State;
use axum::routing::post;

use crate::AppState;
use crate::api::TicketResponse;
use crate::auth::Credentials;
use crate::error::{ApiResult, Json};

/// The ticket route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sync/ticket", post(ticket))
}

async fn ticket(
    State(state): State<AppState>,
    Credentials(grant): Credentials,
) -> ApiResult<Json<TicketResponse>> {
    let issued = state.auth.issue_ticket(&grant, state.now_ms())?;
    state.metrics.record_ticket_issued();
    Ok(Json(TicketResponse {
        ticket: issued.token,
        expires_at_ms: issued.expires_at_ms.unwrap_or_default(),
    }))
}
