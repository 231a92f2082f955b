//! [`ApiError`]: every error an HTTP route returns, as a status code and the JSON body
//! `{"error": {"code": "...", "message": "..."}}`, and [`Json`], the JSON extractor whose
//! rejections use the same body.
//!
//! Clients act on `code` (stable, snake_case); `message` is for people. A 5xx answer never
//! carries details: the cause is logged with the request's span and the client reads
//! `internal`.

use std::borrow::Cow;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{ErrorBody, ErrorDetail};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed or a value is invalid (400, or 409/413/415/416/422: an upload
    /// at the wrong offset, a body too large, a hash mismatch …).
    #[error("{message}")]
    Invalid {
        /// HTTP status (4xx).
        status: StatusCode,
        /// Stable code, e.g. `invalid_request`.
        code: &'static str,
        /// What is wrong with the input.
        message: String,
    },
    /// No valid credentials (401 with `WWW-Authenticate: Bearer`).
    #[error("{message}")]
    Unauthorized {
        /// Stable code: `unauthenticated`, `invalid_token`, `token_expired`, …
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// Authenticated, but not allowed (403).
    #[error("{message}")]
    Forbidden {
        /// Stable code, e.g. `forbidden`, `origin_not_allowed`.
        code: &'static str,
        /// Explanation.
        message: Cow<'static, str>,
    },
    /// No such route or resource (404).
    #[error("not found")]
    NotFound,
    /// A named resource that does not exist or is not shown to this principal (404 with its
    /// own code, e.g. `blob_not_found`; the same answer either way, so nothing leaks).
    #[error("{message}")]
    Missing {
        /// Stable code, e.g. `blob_not_found`.
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// The request contradicts what is stored (409 `conflict`), e.g. a weighing record id
    /// uploaded before with other content.
    #[error("{message}")]
    Conflict {
        /// What conflicts with what.
        message: String,
    },
    /// The route exists but not for this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A bounded resource is exhausted; retry later (503).
    #[error("{message}")]
    Unavailable {
        /// Stable code, e.g. `too_many_tickets`.
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// A server-side failure (500): logged, never sent.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result of a route handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400 `invalid_request` with a message about the input.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }

    /// A 500 from any error.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(e.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { status, .. } => *status,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::Missing { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Missing { code, .. }
            | ApiError::Unavailable { code, .. } => code,
            ApiError::NotFound => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                "internal error; see the server log".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self.code() {
                "unauthenticated" => "Bearer",
                _ => "Bearer error=\"invalid_token\"",
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match &rejection {
            JsonRejection::JsonSyntaxError(_) => "invalid_json",
            JsonRejection::JsonDataError(_) => "invalid_request",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "invalid_request",
        };
        if status.is_server_error() {
            return ApiError::internal(rejection.body_text());
        }
        ApiError::Invalid {
            status,
            code,
            message: rejection.body_text(),
        }
    }
}

/// A JSON body (extractor) or a JSON answer (response). Unlike `axum::Json`, a malformed,
/// oversized or mistyped body is answered with the [`ApiError`] JSON shape.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_details_stay_in_the_log() {
        let e = ApiError::internal("sled: disk on fire at /var/lib/zhichao");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.code(), "internal");
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("disk"), "{body}");
    }

    #[test]
    fn unauthorized_carries_a_challenge() {
        let response = ApiError::Unauthorized {
            code: "token_expired",
            message: "the token has expired",
        }
        .into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
    }
}
