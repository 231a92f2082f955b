//! `GET /v1/cases`, `GET /v1/cases/{id}`: cases as JSON for supervisors and integrators.

use axum::Router;

use crate::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
