//! [`ApiError`]: the one error type the host sees, and the single place where core's rich
//! errors are mapped into it.
//!
//! The host acts on the variant (show the reason, enroll again, retry later), so the mapping
//! decides once what each core failure means to an app. Messages say what is wrong with the
//! input or the store, never a document's content: no plate, name or token is ever put into a
//! message here (core's own messages follow the same rule). Details that do not fit a variant
//! are logged through [`crate::logging`] at `warn`.

use zhichao_core::client::ClientError;
use zhichao_core::docs::DocError;
use zhichao_core::evidence::blobs::BlobError;
use zhichao_core::evidence::photo::EvidenceError;
use zhichao_core::evidence::record::RecordError;
use zhichao_core::field::FieldError;
use zhichao_core::store::StoreError;

/// The errors of every exported function: few, actionable, without personal data.
///
/// Kotlin sees `ApiException` with one subclass per variant; Swift an `ApiError` enum.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The input was understood but is invalid (a malformed plate, an impossible vehicle
    /// configuration, a photo that is truncated or not a photo, an edit a document's rules
    /// refuse); `reason` says what to correct.
    #[error("invalid input: {reason}")]
    Validation {
        /// What is wrong, for display to the user.
        reason: String,
    },
    /// The document (or photo) is not on this device, or is not of the kind asked for.
    #[error("not found on this device")]
    NotFound,
    /// This device is not enrolled, its enrollment was revoked or expired (enroll again), or
    /// the signed-in account may not do this (an enterprise issuing a notice …).
    #[error("not authorized")]
    Unauthorized,
    /// The operation conflicts with the document's state (a response already submitted, a
    /// review's decision already made): reload and decide again.
    #[error("conflicts with the current state")]
    Conflict,
    /// The phone's storage failed (disk full, damaged files, the secret store refused).
    #[error("storage: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// The server could not be reached, did not answer in time, or is failing: try again
    /// later. Work stays on the phone and is sent by the next sync.
    #[error("network: {reason}")]
    Network {
        /// What happened (`timed out`, `cannot connect` …).
        reason: String,
    },
    /// A bug or an incompatible server: report it.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: String,
    },
}

/// Result of the exported functions.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    /// A validation error with `reason`.
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        ApiError::Validation {
            reason: reason.into(),
        }
    }

    /// An internal error with `reason`.
    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        ApiError::Internal {
            reason: reason.into(),
        }
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        match e {
            DocError::Rule(reason) | DocError::InvalidHeader(reason) => {
                ApiError::Validation { reason }
            }
            DocError::WrongKind { .. } => ApiError::NotFound,
            DocError::SchemaTooNew { .. } => ApiError::internal(e.to_string()),
            other => {
                tracing::warn!(error = %other, "a document does not read");
                ApiError::internal(other.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "local store failed");
        ApiError::Storage {
            reason: e.to_string(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        match e {
            FieldError::Store(e) => (*e).into(),
            FieldError::Doc(e) => (*e).into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound(_) => ApiError::NotFound,
            other => {
                tracing::warn!(error = %other, "photo store failed");
                ApiError::Storage {
                    reason: other.to_string(),
                }
            }
        }
    }
}

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        ApiError::Validation {
            reason: e.to_string(),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Photo(e) => e.into(),
            RecordError::Storage(e) => e.into(),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            // Not the URL itself: it may carry credentials (`http://user:password@…`).
            ClientError::Url { reason, .. } => ApiError::invalid(format!("server URL: {reason}")),
            ClientError::Network { reason } => ApiError::Network { reason },
            ClientError::Cancelled => ApiError::Network {
                reason: "cancelled".to_owned(),
            },
            ClientError::Server { status, .. } if status >= 500 || status == 429 => {
                ApiError::Network {
                    reason: e.to_string(),
                }
            }
            ClientError::Server { status: 409, .. } => ApiError::Conflict,
            // Not `NotFound` (which means: not on this device): a 404 from a server means a
            // wrong URL, a proxy or a captive portal, except where a call says otherwise
            // (`fetch_photo`).
            ClientError::Server { status: 404, .. } => ApiError::internal(
                "the server does not offer this: is the URL the zhichao sync server?",
            ),
            ClientError::Unauthorized { ref code, .. } => {
                tracing::warn!(%code, "the server refused this device's credentials");
                ApiError::Unauthorized
            }
            ClientError::TokenExpired | ClientError::NotEnrolled => {
                tracing::warn!(error = %e, "not signed in");
                ApiError::Unauthorized
            }
            ClientError::Storage { reason } | ClientError::CredentialStore { reason } => {
                ApiError::Storage { reason }
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ApiError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ApiError::internal(format!("host callback failed: {}", e.reason))
    }
}
