//! `GET /v1/units`: the source units (公示名单) the supervisor oversees, with equipment status
//! and last heartbeat, as JSON; other roles get 403 `forbidden`. Built by
//! [`crate::console::units::unit_rows`], the same function the console's page and CSV use.
//!
//! ```text
//! GET /v1/units
//! 200 {"units": [{"uscc": "9114…", "name": "…", "kind": "quarry", "township": "140522100",
//!      "equipment": [{"equipment": "weighing", "health": "ok", "since_ms": …}, …],
//!      "last_heartbeat_ms": …, "departures_this_month": 2, …}]}
//! ```

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Authenticated;
use crate::console::units::{UnitRow, unit_rows};
use crate::error::{ApiResult, Json};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/units", get(list))
}

/// Answer to `GET /v1/units`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitList {
    /// The units, by name.
    pub units: Vec<UnitRow>,
}

/// `GET /v1/units`.
#[utoipa::path(
    tag = "units",
    get,
    path = "/v1/units",
    responses(
        (status = 200, description = "the units whose profile the caller may read, by name",
         body = UnitList),
        (status = 403, description = "not a supervisor (`forbidden`)")
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<UnitList>> {
    super::check_supervisor(&principal)?;
    let units =
        unit_rows(&state, &principal, state.now_ms()).map_err(|e| super::console_error(e, None))?;
    Ok(Json(UnitList { units }))
}
