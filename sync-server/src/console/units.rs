//! 源头单位 Source units: the public list (公示名单) with equipment status, and its CSV export.

use axum::Router;

use crate::AppState;

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
}
