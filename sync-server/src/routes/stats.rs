//! `GET /v1/stats`: the numbers of the console's home page, as JSON, for supervisors (their
//! scope); other roles get 403 `forbidden`. Computed by [`crate::console::home::stats`], the
//! same function the page uses.
//!
//! ```text
//! GET /v1/stats
//! 200 {"day": "2026-11-29", "alerts_today": 3, "open_alerts": 5, "open_cases": 12,
//!      "overdue_notices": 1, "departures_this_month": [{"unit": "9114…", "name": "…", "count": 4}]}
//! ```

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::AppState;
use crate::auth::Authenticated;
use crate::console::home::{self, Stats};
use crate::error::{ApiResult, Json};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/stats", get(stats))
}

/// `GET /v1/stats`.
#[utoipa::path(
    tag = "stats",
    get,
    path = "/v1/stats",
    responses(
        (status = 200, description = "the numbers of today and this month (China Standard Time) \
                                      in the caller's scope", body = Stats),
        (status = 403, description = "not a supervisor (`forbidden`)")
    ),
    security(("bearer" = []))
)]
pub async fn stats(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Stats>> {
    super::check_supervisor(&principal)?;
    home::stats(&state, &principal, state.now_ms())
        .map(Json)
        .map_err(|e| super::console_error(e, None))
}
