//! `/v1/admin/*`: accounts and devices, for administrators only (the [`Admin`] extractor).
//!
//! - `POST /v1/admin/enrollments` ([`CreateEnrollmentRequest`]): a one-time enrollment code
//!   for a principal's device (`zhichao admin enroll`).
//! - `POST /v1/admin/tokens` ([`IssueTokenRequest`]): an access token directly, for
//!   integrators and tests (`zhichao admin issue-token`).
//! - `GET /v1/admin/tokens[?principal=ID]`: stored tokens, never their secrets.
//! - `POST /v1/admin/revoke` ([`RevokeRequest`]): by token id, token, device or principal.
//! - `POST /v1/admin/supervisors` ([`AddSupervisorRequest`]): a supervisor's password for the
//!   web console, generated when not given (`zhichao admin add-supervisor`); adding the
//!   account again replaces the password and scope and ends its console sessions.
//! - `GET /v1/admin/docs/{id}/history`: every accepted save of a document, with the principal
//!   who made it (a person, not a device key) and the server receipt time (audit).
//!
//! Each action is logged with the admin's id and the principal concerned, never a token or a
//! password.

use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use zhichao_core::access::Principal;
use zhichao_core::ids::{DocumentId, PrincipalId, StorageId};

use crate::AppState;
use crate::api::{
    AddSupervisorRequest, AddSupervisorResponse, CreateEnrollmentRequest, EnrollmentResponse,
    IssueTokenRequest, IssuedTokenResponse, PrincipalSpec, RevokeRequest, RevokeResponse, Role,
    TokenList,
};
use crate::auth::{Admin, RevokeTarget, TokenId};
use crate::changelog::LogEntry;
use crate::config::{Secret, format_duration, parse_duration};
use crate::console::passwords::{self, PasswordError};
use crate::error::{ApiError, ApiResult, Json};

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/enrollments", post(create_enrollment))
        .route("/v1/admin/tokens", post(issue_token).get(list_tokens))
        .route("/v1/admin/revoke", post(revoke))
        .route("/v1/admin/supervisors", post(add_supervisor))
        .route("/v1/admin/docs/{id}/history", get(history))
}

/// `GET /v1/admin/docs/{id}/history`.
async fn history(
    State(state): State<AppState>,
    Admin(_): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<LogEntry>>> {
    let id: DocumentId = id
        .parse()
        .map_err(|e| ApiError::invalid(format!("document id: {e}")))?;
    let entries = state
        .log
        .history(&id)
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    if entries.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(entries))
}

/// A lifetime from the request, bounded by `max`.
fn ttl(text: Option<&str>, default: Duration, max: Duration) -> ApiResult<Duration> {
    let Some(text) = text else {
        return Ok(default);
    };
    let ttl = parse_duration(text).map_err(|e| ApiError::invalid(format!("ttl: {e}")))?;
    if ttl < Duration::from_secs(1) || ttl > max {
        return Err(ApiError::invalid(format!(
            "ttl: must be between 1s and {}",
            format_duration(max)
        )));
    }
    Ok(ttl)
}

fn device(text: &str) -> ApiResult<StorageId> {
    StorageId::new(text).map_err(|e| ApiError::invalid(format!("device: {e}")))
}

async fn create_enrollment(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(request): Json<CreateEnrollmentRequest>,
) -> ApiResult<(StatusCode, Json<EnrollmentResponse>)> {
    let principal = request
        .principal
        .into_principal(&state.config.county)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let device = device(&request.device)?;
    let tokens = &state.config.tokens;
    let ttl = ttl(
        request.ttl.as_deref(),
        tokens.enrollment_ttl,
        tokens.max_issued_ttl,
    )?;
    let issued = state
        .auth
        .create_enrollment(principal.clone(), device.clone(), Some(ttl), state.now_ms())
        .await?;
    tracing::info!(
        %admin,
        principal = %principal.id(),
        %device,
        code_id = %issued.id,
        "enrollment code created"
    );
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentResponse {
            code: issued.token,
            id: issued.id.to_string(),
            expires_at_ms: issued.expires_at_ms,
            principal,
            device,
        }),
    ))
}

async fn issue_token(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(request): Json<IssueTokenRequest>,
) -> ApiResult<(StatusCode, Json<IssuedTokenResponse>)> {
    let principal = request
        .principal
        .into_principal(&state.config.county)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let device = request.device.as_deref().map(device).transpose()?;
    let tokens = &state.config.tokens;
    let ttl = ttl(
        request.ttl.as_deref(),
        tokens.access_ttl,
        tokens.max_issued_ttl,
    )?;
    let issued = state
        .auth
        .issue(principal.clone(), device, ttl, state.now_ms())
        .await?;
    tracing::info!(
        %admin,
        principal = %principal.id(),
        token_id = %issued.id,
        "token issued"
    );
    Ok((
        StatusCode::CREATED,
        Json(IssuedTokenResponse {
            token: issued.token,
            id: issued.id.to_string(),
            expires_at_ms: issued.expires_at_ms,
            principal,
        }),
    ))
}

/// Query of `GET /v1/admin/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    principal: Option<String>,
}

async fn list_tokens(
    State(state): State<AppState>,
    Admin(_): Admin,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<TokenList>> {
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let principal = query
        .principal
        .as_deref()
        .map(PrincipalId::new)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("principal: {e}")))?;
    let tokens = state.auth.list(principal.as_ref())?;
    Ok(Json(TokenList { tokens }))
}

async fn revoke(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(request): Json<RevokeRequest>,
) -> ApiResult<Json<RevokeResponse>> {
    let target = match request {
        RevokeRequest {
            id: Some(id),
            token: None,
            device: None,
            principal: None,
        } => RevokeTarget::Id(
            id.parse::<TokenId>()
                .map_err(|e| ApiError::invalid(format!("id: {e}")))?,
        ),
        RevokeRequest {
            id: None,
            token: Some(token),
            device: None,
            principal: None,
        } => RevokeTarget::Token(token),
        RevokeRequest {
            id: None,
            token: None,
            device: Some(d),
            principal: None,
        } => RevokeTarget::Device(device(&d)?),
        RevokeRequest {
            id: None,
            token: None,
            device: None,
            principal: Some(p),
        } => RevokeTarget::Principal(
            PrincipalId::new(&p).map_err(|e| ApiError::invalid(format!("principal: {e}")))?,
        ),
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of id, token, device, principal",
            ));
        }
    };
    let revoked = state.auth.revoke(&target).await?;
    let what = match &target {
        RevokeTarget::Id(id) => format!("id {id}"),
        RevokeTarget::Token(_) => "a token".to_owned(),
        RevokeTarget::Device(d) => format!("device {d}"),
        RevokeTarget::Principal(p) => format!("principal {p}"),
    };
    tracing::info!(%admin, target = %what, revoked, "tokens revoked");
    Ok(Json(RevokeResponse { revoked }))
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            e @ (PasswordError::TooShort
            | PasswordError::TooLong
            | PasswordError::ControlCharacter
            | PasswordError::Blank
            | PasswordError::NotSupervisor) => ApiError::invalid(format!("password: {e}")),
            e => ApiError::internal(e),
        }
    }
}

/// `POST /v1/admin/supervisors`.
async fn add_supervisor(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(request): Json<AddSupervisorRequest>,
) -> ApiResult<(StatusCode, Json<AddSupervisorResponse>)> {
    // Console accounts are supervisors' and named as such: a password account named
    // `officer:wang` would sign county-wide reviews with a field officer's name.
    if !request.name.starts_with("supervisor:") {
        return Err(ApiError::invalid(format!(
            "name {:?}: a console account is a supervisor's, named supervisor:<name> (e.g. \
             supervisor:zhao)",
            request.name
        )));
    }
    let principal = PrincipalSpec {
        role: Role::Supervisor,
        name: request.name,
        team: None,
        scope: request.scope,
        unit: None,
    }
    .into_principal(&state.config.county)
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    let Principal::Supervisor { id, scope } = principal.clone() else {
        return Err(ApiError::internal(PasswordError::NotSupervisor));
    };
    let (password, generated) = match request.password {
        Some(p) => {
            passwords::check_new_password(&p)?;
            (Secret::new(p), false)
        }
        None => (passwords::generate_password()?, true),
    };
    let replaced = state
        .auth
        .passwords()
        .set(principal, &password, state.now_ms())
        .await?;
    // A new password ends the sessions opened with the old one (and the old scope).
    state.console.sessions.close_all_of(&id);
    tracing::info!(
        %admin,
        principal = %id,
        %scope,
        replaced,
        generated,
        "console password set"
    );
    Ok((
        StatusCode::CREATED,
        Json(AddSupervisorResponse {
            id,
            scope,
            password: generated.then(|| password.expose().to_owned()),
            replaced,
        }),
    ))
}
