//! `POST /v1/auth/enroll` and `POST /v1/auth/refresh`: a device exchanges its one-time
//! enrollment code, then each refresh token, for a new access and refresh token. The code or
//! refresh token in the body is the credential; no `Authorization` header is needed.
//!
//! `GET /v1/auth/me` (bearer token): `{"principal": …}`, who the token speaks for — tools check
//! their token with it before they act (`zhichao import-weighings` that the token is the
//! unit's it was told).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use zhichao_core::ids::StorageId;

use crate::AppState;
use crate::api::{EnrollRequest, MeResponse, RefreshRequest, TokenPairResponse};
use crate::auth::{AuthError, Authenticated, TokenPair};
use crate::error::{ApiError, ApiResult, Json};

/// The enrollment and refresh routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/enroll", post(enroll))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/me", get(me))
}

/// `GET /v1/auth/me`.
async fn me(Authenticated(principal): Authenticated) -> Json<MeResponse> {
    Json(MeResponse { principal })
}

async fn enroll(
    State(state): State<AppState>,
    Json(request): Json<EnrollRequest>,
) -> ApiResult<Json<TokenPairResponse>> {
    let device = request
        .device
        .as_deref()
        .map(StorageId::new)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("device: {e}")))?;
    let pair = state
        .auth
        .enroll(&request.code, device.as_ref(), state.now_ms())
        .await
        .map_err(|e| counted(&state, e))?;
    tracing::info!(principal = %pair.principal.id(), device = %pair.device, "device enrolled");
    Ok(Json(response(pair)))
}

async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> ApiResult<Json<TokenPairResponse>> {
    let pair = state
        .auth
        .refresh(&request.refresh_token, state.now_ms())
        .await
        .map_err(|e| counted(&state, e))?;
    Ok(Json(response(pair)))
}

fn counted(state: &AppState, e: AuthError) -> ApiError {
    if !matches!(
        e,
        AuthError::Storage(_) | AuthError::Corrupt(_) | AuthError::Entropy(_)
    ) {
        state.metrics.record_auth_failure();
    }
    e.into()
}

fn response(pair: TokenPair) -> TokenPairResponse {
    TokenPairResponse {
        access_token: pair.access.token,
        access_expires_at_ms: pair.access.expires_at_ms,
        refresh_token: pair.refresh.token,
        refresh_expires_at_ms: pair.refresh.expires_at_ms,
        principal: pair.principal,
        device: pair.device,
    }
}
