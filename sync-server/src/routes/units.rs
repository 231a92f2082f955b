//! `GET /v1/units`: the source units (公示名单) with equipment status, as JSON.

use axum::Router;

use crate::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
