//! 告警 Alerts: over-limit departures and upload interruptions, with their actions.

use axum::Router;

use crate::AppState;

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
}
