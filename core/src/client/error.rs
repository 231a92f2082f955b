//! [`ClientError`]: why a request to the server or a sync failed, in variants the phone acts
//! on (retry later, refresh, enroll again, show the server's word).
//!
//! No variant ever carries a token: messages come from the server's error body (which never
//! echoes credentials), from the kind of a network failure, or from this crate.

use crate::api::ErrorBody;

/// Why a request to the server or a sync failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is unusable (this client speaks `http://HOST[:PORT]` only).
    #[error("server URL {url:?}: {reason}")]
    Url {
        /// The URL given (at most 100 characters of it).
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The server could not be reached, did not answer in time, or the connection dropped:
    /// retry later.
    #[error("network: {reason}")]
    Network {
        /// What happened, e.g. `timed out`, `cannot connect`, `connection reset`.
        reason: String,
    },
    /// The server refused the credentials (401) or the principal may not do this (403): a
    /// revoked device, a spent or reused refresh token, a device mismatch. Retrying with the
    /// same credentials does not help; the device may need to be enrolled again.
    #[error("not authorized ({code}): {message}")]
    Unauthorized {
        /// The server's stable code, e.g. `token_revoked`, `refresh_reused`, `forbidden`.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The access token has expired (401 `token_expired`): refresh and retry. [`Session`]
    /// does this itself; callers see it only when a refreshed token is refused as expired too
    /// (the phone's clock or the server's is far off).
    ///
    /// [`Session`]: super::Session
    #[error("the access token has expired")]
    TokenExpired,
    /// The server answered with another error status.
    #[error("server error ({status}) {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The error code of the JSON body (`http_<status>` when it had none).
        code: String,
        /// The error message (for people).
        message: String,
    },
    /// The server's answer is not what this client expects (another server version?).
    #[error("unexpected answer from the server: {reason}")]
    Decode {
        /// What did not decode (never the content itself).
        reason: String,
    },
    /// The device has no credentials: enroll it first ([`enroll`](super::enroll)).
    #[error("this device is not enrolled")]
    NotEnrolled,
    /// The credential store (Keychain, Keystore) could not keep the credentials. A refreshed
    /// pair that could not be saved is kept in memory and saved before the next use.
    #[error("cannot save the credentials: {reason}")]
    CredentialStore {
        /// The store's reason.
        reason: String,
    },
    /// The local document store failed.
    #[error("local store: {reason}")]
    Storage {
        /// The store's error.
        reason: String,
    },
    /// The server ended the sync exchange (a protocol `error` message, or a message this
    /// phone could not accept).
    #[error("sync protocol: {reason}")]
    Protocol {
        /// Why.
        reason: String,
    },
    /// The sync was cancelled (the background sync is stopping).
    #[error("cancelled")]
    Cancelled,
}

/// Result of client operations.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

impl ClientError {
    /// A network failure described by `reason`.
    pub(crate) fn network(reason: impl Into<String>) -> Self {
        ClientError::Network {
            reason: reason.into(),
        }
    }

    /// True when retrying later may succeed without anyone acting: network failures, server
    /// errors (5xx, 503 `too_many_tickets`), an expired token (refreshed on the next try).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Network { .. } | ClientError::TokenExpired => true,
            ClientError::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// The error of an HTTP error answer (`status` not 2xx, `body` its bytes): 401
/// `token_expired` → [`ClientError::TokenExpired`], other 401 and 403 →
/// [`ClientError::Unauthorized`], else [`ClientError::Server`].
pub(crate) fn from_answer(status: u16, body: &[u8]) -> ClientError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (
            format!("http_{status}"),
            String::from_utf8_lossy(body).chars().take(120).collect(),
        ),
    };
    match status {
        401 if code == "token_expired" => ClientError::TokenExpired,
        401 | 403 => ClientError::Unauthorized { code, message },
        _ => ClientError::Server {
            status,
            code,
            message,
        },
    }
}

/// A JSON decoding failure described without the content (which may hold a token).
pub(crate) fn decode_error(what: &str, e: &serde_json::Error) -> ClientError {
    ClientError::Decode {
        reason: format!(
            "{what}: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_what_a_phone_does() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert_eq!(
            from_answer(401, body("token_expired").as_bytes()),
            ClientError::TokenExpired
        );
        assert_eq!(
            from_answer(401, body("token_revoked").as_bytes()),
            ClientError::Unauthorized {
                code: "token_revoked".to_owned(),
                message: "m".to_owned()
            }
        );
        assert!(matches!(
            from_answer(403, body("forbidden").as_bytes()),
            ClientError::Unauthorized { code, .. } if code == "forbidden"
        ));
        let e = from_answer(503, body("too_many_tickets").as_bytes());
        assert!(e.is_transient(), "{e}");
        assert_eq!(
            from_answer(502, b"<html>bad gateway</html>"),
            ClientError::Server {
                status: 502,
                code: "http_502".to_owned(),
                message: "<html>bad gateway</html>".to_owned()
            }
        );
        assert!(!from_answer(400, b"").is_transient());
    }

    #[test]
    fn decode_errors_do_not_quote_the_content() {
        let e = serde_json::from_str::<crate::api::TicketResponse>(
            r#"{"ticket": "t", "expires_at_ms": "ztk_secret"}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("secret"),
            "serde_json quotes it: {e}"
        );
        let e = decode_error("ticket", &e);
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
