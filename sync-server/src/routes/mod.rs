//! The HTTP routes, one module per resource, each with a `router()` that [`crate::app`]
//! merges. Every route but `/healthz` and `/metrics` needs a principal: the extractors of
//! [`crate::auth`] in a handler's signature say which.
//!
//! | route | who | module |
//! |---|---|---|
//! | `GET /healthz` | anyone | [`health`] |
//! | `GET /metrics` | anyone (Prometheus) | [`metrics`] |
//! | `POST /v1/admin/enrollments`, `GET`/`POST /v1/admin/tokens`, `POST /v1/admin/revoke`, `GET /v1/admin/docs/{id}/history` | admin | [`admin`] |
//! | `POST /v1/auth/enroll`, `POST /v1/auth/refresh` | holder of a code / refresh token | [`auth`] |
//! | `GET /v1/auth/me` | any principal (who the token speaks for) | [`auth`] |
//! | `POST /v1/sync/ticket` | any principal | [`ticket`] |
//! | `GET /v1/sync` (WebSocket) | any principal, bearer or `?ticket=` | [`sync`] |
//! | `HEAD`/`PUT /v1/blobs/{sha256}` | officer, enterprise, supervisor | [`blobs`] |
//! | `GET /v1/blobs/{sha256}` | a reader of a document that references the blob | [`blobs`] |
//! | `POST /v1/weighings` | source-unit system | [`weighings`] |
//! | `POST /v1/heartbeats` | source-unit system | [`heartbeats`] |
//! | `GET /v1/alerts`, `GET /v1/alerts/{id}` | supervisor (its scope), officer (its team's) | [`alerts`] |
//! | `POST /v1/alerts/{id}/acknowledge`, `…/dispatch` | supervisor | [`alerts`] |
//! | `POST /v1/alerts/{id}/close` | supervisor, officer of the dispatched team | [`alerts`] |

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod blobs;
pub mod cases;
pub mod health;
pub mod heartbeats;
pub mod metrics;
pub mod notices;
pub mod stats;
/// `GET /v1/sync`: the WebSocket sync route.
pub mod sync;
pub mod ticket;
pub mod units;
pub mod weighings;

use zhichao_core::access::Principal;

use crate::console::ConsoleError;
use crate::error::{ApiError, ApiResult};

/// Supervisors only (403 `forbidden` for other roles): the query routes are for the console's
/// users and the integrators acting for them.
pub(crate) fn check_supervisor(p: &Principal) -> ApiResult<()> {
    match p {
        Principal::Supervisor { .. } => Ok(()),
        _ => Err(ApiError::Forbidden {
            code: "forbidden",
            message: "requires the supervisor role".into(),
        }),
    }
}

/// A console read or write error as a JSON route answers it; `not_found` names what was looked
/// for (`(code, message)` of the 404), `None` for the plain `not_found`.
pub(crate) fn console_error(
    e: ConsoleError,
    not_found: Option<(&'static str, &'static str)>,
) -> ApiError {
    match e {
        ConsoleError::NotFound => match not_found {
            Some((code, message)) => ApiError::Missing { code, message },
            None => ApiError::NotFound,
        },
        ConsoleError::Csrf => ApiError::Forbidden {
            code: "forbidden",
            message: "refused".into(),
        },
        ConsoleError::Forbidden(m) => ApiError::Forbidden {
            code: "forbidden",
            message: m.into(),
        },
        ConsoleError::Invalid(m) => ApiError::invalid(m),
        ConsoleError::Conflict(m) => ApiError::Conflict { message: m },
        ConsoleError::Internal(source) => ApiError::Internal(source),
    }
}
