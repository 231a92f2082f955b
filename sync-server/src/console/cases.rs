//! 案件 Cases: the list, and one case with its photos and change history.

use axum::Router;

use crate::AppState;

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
}
