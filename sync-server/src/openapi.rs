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
    paths(
        crate::routes::notices::list,
        crate::routes::notices::one,
        crate::routes::notices::review,
    ),
    components(schemas(
        crate::routes::notices::NoticeList,
        crate::routes::notices::ReviewRequest,
        crate::routes::notices::ReviewCreated,
        crate::routes::notices::DecisionName,
        crate::console::notices::NoticeSummary,
        crate::console::notices::NoticeDetail,
        crate::console::notices::ResponseState,
        crate::console::notices::ResponseView,
        crate::console::notices::ReviewView,
        crate::console::notices::PhotoView,
        crate::console::notices::IssuingOfficer,
    ))
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
