//! [`AdminClient`]: the blocking HTTP client of `zhichao admin …`; [`UnitClient`]: the one of
//! `zhichao import-weighings` (a source unit's weighing uploads).
//!
//! sled locks the server's data directory, so admin commands never open it: they call the
//! admin API of the running server with the admin token. Plain HTTP only (no TLS stack in the
//! binary): run the commands on the server machine or through an SSH tunnel, as the server
//! listens on loopback behind its reverse proxy.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use zhichao_core::weighing::{BatchOutcome, WeighingRecord};

use crate::api::{
    AddSupervisorRequest, AddSupervisorResponse, CreateEnrollmentRequest, EnrollmentResponse,
    ErrorBody, IssueTokenRequest, IssuedTokenResponse, RevokeRequest, RevokeResponse, TokenList,
};

/// How long one request may take, connect to answer.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is unusable.
    #[error("server URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The server could not be reached or the connection failed.
    #[error("cannot reach the server: {0}")]
    Transport(#[from] ureq::Error),
    /// The server answered with an error.
    #[error("server refused ({status}): {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The error code of the JSON body (`http_<status>` when it had none).
        code: String,
        /// The error message.
        message: String,
    },
    /// The answer is not what this client expects (another server version?).
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// True when the server refused the request itself (4xx): bad input or credentials.
    pub fn is_client_error(&self) -> bool {
        matches!(self, ClientError::Server { status, .. } if (400..500).contains(status))
    }

    /// True when the server refused the credentials (401, 403).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            ClientError::Server {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// Result of an admin request.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Plain HTTP with a bearer token to one server: any route, JSON in and out. The admin and
/// unit clients wrap it; tools and the demo use it directly with a principal's own token.
#[derive(Clone)]
pub struct ApiClient {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl ApiClient {
    /// A client of the server at `server` (`http://HOST:PORT`) sending `token` as bearer.
    ///
    /// # Errors
    /// [`ClientError::Url`] for anything but an `http://` URL.
    pub fn new(server: &str, token: &str) -> Result<Self> {
        let url = |reason| ClientError::Url {
            url: server.chars().take(100).collect(),
            reason,
        };
        let base = server.trim().trim_end_matches('/');
        if base.starts_with("https://") {
            return Err(url(
                "https is not supported by this client; use http:// on the server machine or through a tunnel",
            ));
        }
        let Some(host) = base.strip_prefix("http://") else {
            return Err(url("must start with http://"));
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
            return Err(url("must be http://HOST:PORT"));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Ok(ApiClient {
            agent,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    fn get<Resp: DeserializeOwned>(&self, path: &str) -> Result<Resp> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()?;
        decode(response)
    }

    /// `POST path` with a JSON body and this client's bearer token, for any route (the token
    /// need not be an admin's: weighbridge systems and supervisors use their own).
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn post_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp> {
        self.post(path, body)
    }

    /// `GET path` (with its query) with this client's bearer token, decoding a JSON answer.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn get_json<Resp: DeserializeOwned>(&self, path: &str) -> Result<Resp> {
        self.get(path)
    }

    fn post<Req: Serialize, Resp: DeserializeOwned>(&self, path: &str, body: &Req) -> Result<Resp> {
        let body = serde_json::to_string(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .content_type("application/json")
            .send(body)?;
        decode(response)
    }
}

/// A client of one server's admin API.
pub struct AdminClient {
    http: ApiClient,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base", &self.http.base)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// A client of the server at `server` (`http://HOST:PORT`) authenticating with the admin
    /// `token`.
    ///
    /// # Errors
    /// [`ClientError::Url`] for anything but an `http://` URL.
    pub fn new(server: &str, token: &str) -> Result<Self> {
        Ok(AdminClient {
            http: ApiClient::new(server, token)?,
        })
    }

    /// `POST /v1/admin/tokens`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn issue_token(&self, request: &IssueTokenRequest) -> Result<IssuedTokenResponse> {
        self.http.post("/v1/admin/tokens", request)
    }

    /// `POST /v1/admin/supervisors`: a supervisor's console password (generated when the
    /// request has none; the answer then carries it, once).
    ///
    /// # Errors
    /// [`ClientError`] (400 for a short password or a bad name or scope).
    pub fn add_supervisor(&self, request: &AddSupervisorRequest) -> Result<AddSupervisorResponse> {
        self.http.post("/v1/admin/supervisors", request)
    }

    /// `POST /v1/admin/enrollments`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn create_enrollment(
        &self,
        request: &CreateEnrollmentRequest,
    ) -> Result<EnrollmentResponse> {
        self.http.post("/v1/admin/enrollments", request)
    }

    /// `POST /v1/admin/revoke`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn revoke(&self, request: &RevokeRequest) -> Result<RevokeResponse> {
        self.http.post("/v1/admin/revoke", request)
    }

    /// `GET /v1/admin/tokens`, optionally of one principal.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn list(&self, principal: Option<&str>) -> Result<TokenList> {
        let path = match principal {
            Some(p) => format!("/v1/admin/tokens?principal={}", percent_encode(p)),
            None => "/v1/admin/tokens".to_owned(),
        };
        self.http.get(&path)
    }
}

/// Body of a batch upload: `{"records": [...]}` (at most
/// [`zhichao_core::weighing::MAX_BATCH_RECORDS`]).
#[derive(Serialize)]
struct WeighingBatch<'a> {
    records: &'a [WeighingRecord],
}

/// A client of a source unit's upload API, authenticating with a source-unit-system access
/// token of that unit (the server takes the unit from the token).
pub struct UnitClient {
    http: ApiClient,
}

impl std::fmt::Debug for UnitClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitClient")
            .field("base", &self.http.base)
            .finish_non_exhaustive()
    }
}

impl UnitClient {
    /// A client of the server at `server` (`http://HOST:PORT`) with the unit's access `token`.
    ///
    /// # Errors
    /// [`ClientError::Url`] for anything but an `http://` URL.
    pub fn new(server: &str, token: &str) -> Result<Self> {
        Ok(UnitClient {
            http: ApiClient::new(server, token)?,
        })
    }

    /// `GET /v1/auth/me`: who the token speaks for.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn me(&self) -> Result<crate::api::MeResponse> {
        self.http.get("/v1/auth/me")
    }

    /// `POST /v1/weighings` with `{"records": records}`: one [`BatchOutcome`] entry per record,
    /// in order. The caller keeps batches within
    /// [`zhichao_core::weighing::MAX_BATCH_RECORDS`].
    ///
    /// # Errors
    /// [`ClientError`]; [`ClientError::Decode`] also when the answer does not have one outcome
    /// per record.
    pub fn upload_weighings(&self, records: &[WeighingRecord]) -> Result<BatchOutcome> {
        let outcome: BatchOutcome = self
            .http
            .post("/v1/weighings", &WeighingBatch { records })?;
        if outcome.records.len() != records.len() {
            return Err(ClientError::Decode(format!(
                "{} outcomes for a batch of {} records",
                outcome.records.len(),
                records.len()
            )));
        }
        Ok(outcome)
    }
}

fn decode<T: DeserializeOwned>(mut response: ureq::http::Response<ureq::Body>) -> Result<T> {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()));
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => Err(ClientError::Server {
            status,
            code: body.error.code,
            message: body.error.message,
        }),
        Err(_) => Err(ClientError::Server {
            status,
            code: format!("http_{status}"),
            message: text.chars().take(200).collect(),
        }),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(AdminClient::new("http://127.0.0.1:8080/", "t").is_ok());
        for bad in [
            "https://x",
            "ftp://x",
            "127.0.0.1:8080",
            "http://",
            "http://a/b",
        ] {
            assert!(
                matches!(AdminClient::new(bad, "t"), Err(ClientError::Url { .. })),
                "{bad}"
            );
        }
        let c = AdminClient::new("http://h:1", "secret-token").unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn encoding() {
        assert_eq!(
            percent_encode("officer:zhang 1&x"),
            "officer%3Azhang%201%26x"
        );
        assert_eq!(percent_encode("李"), "%E6%9D%8E");
    }
}
