//! The OpenAPI document of the JSON query routes (for integrators), generated from the code
//! with [`utoipa`] and served at `GET /v1/openapi.json`.

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;

use crate::AppState;
use crate::error::Json;

/// The OpenAPI description: each route module annotates its handlers with
/// `#[utoipa::path]` and is listed here.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "zhichao query API",
        description = "What supervisors and integrators can read: alerts, cases, notices, \
                       source units and the numbers of the day. Bearer tokens (`zat_…`) from \
                       `zhichao admin issue-token`."
    ),
    paths(),
    components(schemas())
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
