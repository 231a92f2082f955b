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
    paths(crate::routes::cases::list, crate::routes::cases::one,),
    components(schemas(
        crate::console::case_view::CaseList,
        crate::console::case_view::CaseSummary,
        crate::console::case_view::CaseDetail,
        crate::console::case_view::UnitRef,
        crate::console::case_view::ReviewView,
        crate::console::case_view::NoticeLink,
        crate::console::case_view::PhotoView,
        crate::console::case_view::Gps,
        crate::console::history::HistoryEntry,
        crate::console::history::ChangeInfo,
        crate::console::history::FieldChange,
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
