//! `GET /healthz`: liveness for load balancers and the integration tests; no authentication,
//! no store access, constant answer.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::Json;

/// The health route.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
