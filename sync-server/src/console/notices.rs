//! 整改 Notices and responses, and the review of a response.

use axum::Router;

use crate::AppState;

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
}
