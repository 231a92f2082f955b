//! Home page (首页): numbers at a glance and the month's over-limit departures by unit.

use axum::Router;

use crate::AppState;

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
}
