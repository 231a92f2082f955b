//! `GET /v1/stats`: the numbers of the console's home page, as JSON.

use axum::Router;

use crate::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
