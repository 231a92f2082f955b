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
        crate::routes::cases::list,
        crate::routes::cases::one,
        crate::routes::alerts::list,
        crate::routes::alerts::one,
        crate::routes::alerts::acknowledge,
        crate::routes::alerts::dispatch,
        crate::routes::alerts::close,
        crate::routes::units::list,
        crate::routes::stats::stats,
        crate::routes::notices::list,
        crate::routes::notices::one,
        crate::routes::notices::review,
    ),
    components(schemas(
        crate::console::case_view::CaseList,
        crate::console::case_view::CaseSummary,
        crate::console::case_view::CaseDetail,
        crate::console::case_view::UnitRef,
        crate::console::case_view::NoticeLink,
        crate::console::case_view::PhotoView,
        crate::console::case_view::Gps,
        crate::console::history::HistoryEntry,
        crate::console::history::ChangeInfo,
        crate::console::history::FieldChange,
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
        crate::routes::notices::NoticeList,
        crate::routes::notices::ReviewRequest,
        crate::routes::notices::ReviewCreated,
        crate::routes::notices::DecisionName,
        crate::console::notices::NoticeSummary,
        crate::console::notices::NoticeDetail,
        crate::console::notices::ResponseState,
        crate::console::notices::ResponseView,
        crate::console::review::ReviewView,
        crate::console::notices::NoticePhotoView,
        crate::console::notices::IssuingOfficer,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the routes name: `Authorization: Bearer zat_…`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("an access token (`zat_…`) of a supervisor"))
                    .build(),
            ),
        );
    }
}

/// `GET /v1/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
