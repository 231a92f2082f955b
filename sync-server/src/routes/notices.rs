//! `GET /v1/notices`, `GET /v1/notices/{id}`: rectification notices and responses as JSON.

use axum::Router;

use crate::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
