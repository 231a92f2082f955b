//! [`ServerApi`]: the blocking HTTP calls of a device: enroll, refresh, ticket.
//!
//! Bodies are the shared wire types of [`crate::api`]; errors become [`ClientError`]s the
//! phone acts on. Tokens travel in bodies and headers only, never in URLs, and never appear
//! in errors or logs (ureq redacts the `Authorization` header in its own logs).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{EnrollRequest, RefreshRequest, TicketResponse, TokenPairResponse};
use crate::ids::StorageId;

use super::error::{ClientError, Result, decode_error, from_answer};
use super::server_url::ServerUrl;

/// Default time to establish a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default bound of one whole request, connect to last byte of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest answer body read (the API's answers are well under 4 KiB).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// A blocking client of one server's device API (`/v1/auth/*`, `/v1/sync/ticket`). Cheap to
/// clone (the connection pool is shared).
#[derive(Clone)]
pub struct ServerApi {
    agent: ureq::Agent,
    url: ServerUrl,
}

impl std::fmt::Debug for ServerApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerApi")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ServerApi {
    /// A client of the server at `url` with the default timeouts ([`CONNECT_TIMEOUT`],
    /// [`REQUEST_TIMEOUT`]).
    pub fn new(url: ServerUrl) -> Self {
        Self::with_timeouts(url, CONNECT_TIMEOUT, REQUEST_TIMEOUT)
    }

    /// A client of the server at `url`: `connect` bounds establishing the connection,
    /// `request` the whole request.
    pub fn with_timeouts(url: ServerUrl, connect: Duration, request: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(connect))
            .timeout_global(Some(request))
            .max_redirects(0)
            .user_agent(concat!("zhichao-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        ServerApi { agent, url }
    }

    /// The server's address.
    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// The HTTP agent (shared connection pool; statuses are not errors).
    pub(super) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// `POST /v1/auth/enroll`: exchanges a one-time enrollment code for this device's first
    /// token pair. `device`, when given, must be the storage id the code was made for.
    ///
    /// # Errors
    /// [`ClientError::Unauthorized`] for an unknown, used, expired (`token_expired`) or
    /// revoked code, or one made for another device (`device_mismatch`);
    /// [`ClientError::Network`], [`ClientError::Server`], [`ClientError::Decode`].
    pub fn enroll(&self, code: &str, device: Option<&StorageId>) -> Result<TokenPairResponse> {
        let body = EnrollRequest {
            code: code.to_owned(),
            device: device.map(|d| d.as_str().to_owned()),
        };
        self.post("/v1/auth/enroll", None, &body)
            .map_err(|e| credential_expired(e, "the enrollment code has expired"))
    }

    /// `POST /v1/auth/refresh`: exchanges the refresh token for a new pair. The refresh token
    /// is spent by this call whatever happens to the answer: save the new pair before using
    /// it ([`Session`](super::Session) does).
    ///
    /// # Errors
    /// [`ClientError::Unauthorized`] when the refresh token is unknown, expired
    /// (`token_expired`), revoked, or was already used (`refresh_reused`: the server then
    /// revokes every token of the device) — the device must be enrolled again;
    /// [`ClientError::Network`], [`ClientError::Server`], [`ClientError::Decode`].
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenPairResponse> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        self.post("/v1/auth/refresh", None, &body).map_err(|e| {
            credential_expired(e, "the refresh token has expired; enroll the device again")
        })
    }

    /// `POST /v1/sync/ticket`: a one-time ticket for `GET /v1/sync?ticket=…` (for transports
    /// that cannot send an `Authorization` header; [`SyncClient`](super::SyncClient) does not
    /// need one).
    ///
    /// # Errors
    /// [`ClientError::TokenExpired`] when `access_token` has expired,
    /// [`ClientError::Unauthorized`], [`ClientError::Network`], [`ClientError::Server`]
    /// (503 `too_many_tickets`), [`ClientError::Decode`].
    pub fn ticket(&self, access_token: &str) -> Result<TicketResponse> {
        self.post("/v1/sync/ticket", Some(access_token), &())
    }

    fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Req,
    ) -> Result<Resp> {
        let body = serde_json::to_string(body).map_err(|e| decode_error("request", &e))?;
        let mut request = self.agent.post(self.url.http(path));
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request
            .content_type("application/json")
            .send(body)
            .map_err(|e| network(&e))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| network(&e))?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&bytes).map_err(|e| decode_error(path, &e))
        } else {
            Err(from_answer(status, &bytes))
        }
    }
}

/// A 401 `token_expired` to a code or refresh token is not an expired *access* token: no
/// refresh helps, the device must be enrolled (again).
fn credential_expired(e: ClientError, message: &str) -> ClientError {
    match e {
        ClientError::TokenExpired => ClientError::Unauthorized {
            code: "token_expired".to_owned(),
            message: message.to_owned(),
        },
        other => other,
    }
}

/// A transport failure of ureq as [`ClientError::Network`] (or [`ClientError::Decode`] for an
/// oversized answer).
pub(super) fn network(e: &ureq::Error) -> ClientError {
    match e {
        ureq::Error::Timeout(_) => ClientError::network("timed out"),
        ureq::Error::HostNotFound => ClientError::network("host not found"),
        ureq::Error::ConnectionFailed => ClientError::network("cannot connect"),
        ureq::Error::Io(io) => ClientError::network(super::transport::io_reason(io)),
        ureq::Error::BodyExceedsLimit(limit) => ClientError::Decode {
            reason: format!("answer larger than {limit} bytes"),
        },
        other => ClientError::network(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// Answers one HTTP request on a loopback port with `status` and `body`; returns the URL
    /// and a handle yielding the request (head and body) as received.
    fn one_answer(
        status: &'static str,
        body: &'static str,
    ) -> (ServerUrl, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = ServerUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut request_body = vec![0; length];
            reader.read_exact(&mut request_body).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            head + &String::from_utf8(request_body).unwrap()
        });
        (url, handle)
    }

    fn pair_json() -> &'static str {
        r#"{"access_token":"zat_a2","access_expires_at_ms":5000,"refresh_token":"zrt_r2",
            "refresh_expires_at_ms":null,
            "principal":{"role":"officer","id":"officer:wang","team":"t1","scope":"140522"},
            "device":"phone-1"}"#
    }

    #[test]
    fn refresh_posts_the_token_in_the_body() {
        let (url, server) = one_answer("200 OK", pair_json());
        let pair = ServerApi::new(url).refresh("zrt_r1").unwrap();
        assert_eq!(pair.access_token, "zat_a2");
        assert_eq!(pair.device.as_str(), "phone-1");
        let request = server.join().unwrap();
        assert!(
            request.starts_with("POST /v1/auth/refresh HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.ends_with(r#"{"refresh_token":"zrt_r1"}"#),
            "{request}"
        );
    }

    #[test]
    fn an_expired_refresh_token_means_enroll_again() {
        let (url, server) = one_answer(
            "401 Unauthorized",
            r#"{"error":{"code":"token_expired","message":"the token has expired"}}"#,
        );
        let e = ServerApi::new(url).refresh("zrt_r1").unwrap_err();
        server.join().unwrap();
        assert!(
            matches!(&e, ClientError::Unauthorized { code, .. } if code == "token_expired"),
            "{e:?}"
        );
        assert!(!e.to_string().contains("zrt_"), "{e}");
    }

    #[test]
    fn a_ticket_needs_a_live_access_token() {
        let (url, server) = one_answer(
            "401 Unauthorized",
            r#"{"error":{"code":"token_expired","message":"the token has expired"}}"#,
        );
        let e = ServerApi::new(url).ticket("zat_old").unwrap_err();
        let request = server.join().unwrap();
        assert_eq!(e, ClientError::TokenExpired);
        assert!(
            request.contains("authorization: Bearer zat_old\r\n")
                || request.contains("Authorization: Bearer zat_old\r\n"),
            "{request}"
        );
    }

    #[test]
    fn enroll_sends_code_and_device() {
        let (url, server) = one_answer("200 OK", pair_json());
        let device = StorageId::new("phone-1").unwrap();
        ServerApi::new(url).enroll("zec_c", Some(&device)).unwrap();
        let request = server.join().unwrap();
        assert!(
            request.ends_with(r#"{"code":"zec_c","device":"phone-1"}"#),
            "{request}"
        );
    }

    #[test]
    fn garbage_answers_are_decode_errors() {
        let (url, server) = one_answer("200 OK", r#"{"ticket": "ztk_secret"}"#);
        let e = ServerApi::new(url).ticket("zat").unwrap_err();
        server.join().unwrap();
        assert!(matches!(e, ClientError::Decode { .. }), "{e:?}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn nobody_listening_is_a_network_error() {
        // Bind and drop: the port is (very likely) closed now.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = ServerUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let api = ServerApi::with_timeouts(url, Duration::from_secs(2), Duration::from_secs(2));
        let e = api.refresh("zrt").unwrap_err();
        assert!(matches!(e, ClientError::Network { .. }), "{e:?}");
        assert!(e.is_transient());
    }
}
