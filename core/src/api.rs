//! Request and response bodies of the server's HTTP API that a device uses (enrollment,
//! refresh, tickets, errors), defined once here so the phone's client and the server's routes
//! cannot drift apart. The server's admin bodies stay in the server (`zhichao_server::api`),
//! which re-exports these.
//!
//! Times are UTC milliseconds since the Unix epoch (`*_at_ms`). Tokens appear in responses
//! only, once, when they are created: the server keeps their SHA-256 hashes.

use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::ids::StorageId;

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case: what a client acts on (`token_expired` → refresh).
    pub code: String,
    /// For people.
    pub message: String,
}

/// `GET /v1/auth/me`: who the bearer token speaks for (a tool checks its token before it
/// acts, e.g. that a weighbridge token is the unit's it is told to import for).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeResponse {
    /// The principal of the token.
    pub principal: Principal,
}

/// `POST /v1/auth/enroll`: a device exchanges its code for tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrollment code.
    pub code: String,
    /// The device's storage id; when given it must be the one the code was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// `POST /v1/auth/refresh`: rotate a refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The current refresh token; it is invalid after this call.
    pub refresh_token: String,
}

/// Answer to enrollment and refresh: a new access token and a new refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPairResponse {
    /// Bearer token for HTTP and sync.
    pub access_token: String,
    /// Its expiry, UTC ms.
    pub access_expires_at_ms: Option<u64>,
    /// Use once with `/v1/auth/refresh`.
    pub refresh_token: String,
    /// Its expiry, UTC ms.
    pub refresh_expires_at_ms: Option<u64>,
    /// Who the tokens speak for.
    pub principal: Principal,
    /// The device they are bound to.
    pub device: StorageId,
}

/// Answer to `POST /v1/sync/ticket`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketResponse {
    /// One-time ticket for `GET /v1/sync?ticket=…`.
    pub ticket: String,
    /// Expiry, UTC ms (30 s after issue by default).
    pub expires_at_ms: u64,
}
