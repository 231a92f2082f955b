//! `POST /v1/heartbeats`: a source unit's system reports its weighing, video and display
//! equipment alive (设备心跳); see [`crate::ingest::heartbeats`] for what the server makes of
//! it (the upload-interrupted monitor).
//!
//! Only a source-unit system may call it ([`SourceUnitSystem`]); the unit is the token's.
//!
//! ```text
//! POST /v1/heartbeats
//! Authorization: Bearer zat_…
//! {"equipment": [{"kind": "weighing"}, {"kind": "video", "ok": false, "detail": "2号摄像机无画面"},
//!                {"kind": "display"}]}
//!
//! 200 {"received_at_ms": 1796000000000}
//! ```
//!
//! - `equipment`: 1 to 3 reports, each kind (`weighing`, `video`, `display`) at most once;
//!   `ok` defaults to `true`; `detail` at most 200 characters, no control characters (line
//!   breaks, terminal escapes), as the weighing records' texts.
//! - A report with `ok: false` is recorded with its detail but does not count as working: if
//!   the equipment stays faulty past `[ingest] heartbeat_gap` in operating hours, the monitor
//!   raises an upload-interrupted alert as for silence.
//! - A working report after an interruption alert marks the alert resumed.
//! - Stored and flushed before the answer. 400 `invalid_request` for a bad body, 401 without a
//!   valid token, 403 `forbidden` for any other role.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use zhichao_core::weighing::{EquipmentKind, HeartbeatAnswer, HeartbeatRequest, MAX_TEXT_CHARS};

use crate::AppState;
use crate::auth::SourceUnitSystem;
use crate::error::{ApiError, ApiResult, Json};
use crate::ingest::heartbeats::record_report;

/// The heartbeat route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/heartbeats", post(heartbeat))
}

/// Checks the shape rules [`HeartbeatRequest`] states.
fn check(request: &HeartbeatRequest) -> Result<(), ApiError> {
    let n = request.equipment.len();
    if n == 0 || n > EquipmentKind::ALL.len() {
        return Err(ApiError::invalid(format!(
            "equipment: 1 to {} reports expected, got {n}",
            EquipmentKind::ALL.len()
        )));
    }
    for (i, report) in request.equipment.iter().enumerate() {
        if request.equipment[..i].iter().any(|r| r.kind == report.kind) {
            return Err(ApiError::invalid(format!(
                "equipment: {} reported twice",
                report.kind.as_str()
            )));
        }
        if report
            .detail
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_TEXT_CHARS)
        {
            return Err(ApiError::invalid(format!(
                "equipment: the detail of {} is longer than {MAX_TEXT_CHARS} characters",
                report.kind.as_str()
            )));
        }
        if report
            .detail
            .as_ref()
            .is_some_and(|d| d.chars().any(char::is_control))
        {
            return Err(ApiError::invalid(format!(
                "equipment: the detail of {} contains control characters",
                report.kind.as_str()
            )));
        }
    }
    Ok(())
}

/// `POST /v1/heartbeats`.
async fn heartbeat(
    State(state): State<AppState>,
    SourceUnitSystem { unit, .. }: SourceUnitSystem,
    Json(request): Json<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatAnswer>> {
    check(&request)?;
    let now_ms = state.now_ms();
    for report in &request.equipment {
        if let Some(alert_id) =
            record_report(&state.ingest, &unit, report, now_ms).map_err(ApiError::internal)?
        {
            tracing::info!(%alert_id, unit = %unit, "equipment reports again after an interruption");
        }
    }
    state.ingest.flush().await.map_err(ApiError::internal)?;
    Ok(Json(HeartbeatAnswer {
        received_at_ms: now_ms,
    }))
}
