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
        crate::routes::alerts::list,
        crate::routes::alerts::one,
        crate::routes::alerts::acknowledge,
        crate::routes::alerts::dispatch,
        crate::routes::alerts::close,
        crate::routes::units::list,
        crate::routes::stats::stats,
    ),
    components(schemas(
        crate::ingest::alerts::Alert,
        crate::ingest::alerts::AlertEvent,
        crate::ingest::alerts::AlertAction,
        crate::ingest::alerts::AlertKind,
        crate::ingest::alerts::AlertStatus,
        crate::ingest::alerts::Departure,
        crate::ingest::alerts::Interruption,
        crate::routes::alerts::AlertList,
        crate::routes::alerts::AcknowledgeRequest,
        crate::routes::alerts::DispatchRequest,
        crate::routes::alerts::CloseRequest,
        crate::console::units::UnitRow,
        crate::console::units::EquipmentStatus,
        crate::routes::units::UnitList,
        crate::console::home::Stats,
        crate::console::home::UnitCount,
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
