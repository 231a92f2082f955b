//! Supervisors' console sessions: the session cookie, the CSRF token of every form, and the
//! extractors that make a console handler's signature say "a logged-in supervisor".
//!
//! - The cookie [`SESSION_COOKIE`] holds 32 random bytes in hex; the server keeps only their
//!   SHA-256 (a copy of the server's memory or data opens no session). It is `HttpOnly`,
//!   `SameSite=Strict`, `Path=/console`.
//! - Each session has its own CSRF token (synchronizer token pattern, OWASP CSRF Prevention
//!   Cheat Sheet): every form carries it in the hidden field [`CSRF_FIELD`] and
//!   [`CsrfForm`] refuses a form without it, with another session's, or sent from another
//!   origin.
//! - A session ends at logout, after [`IDLE_TIMEOUT`] without a request, or after
//!   [`ABSOLUTE_TIMEOUT`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::TryRng;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use zhichao_core::access::Principal;
use zhichao_core::scope::Scope;

use crate::AppState;

use super::ConsoleError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "zhichao_console";

/// Name of the hidden form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A session ends this long after login, whatever the activity.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);

/// Largest form body accepted, bytes.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

type Hash = [u8; 32];

#[derive(Clone, Debug)]
struct SessionRecord {
    principal: Principal,
    csrf: String,
    created_ms: u64,
    last_seen_ms: u64,
}

/// The live sessions (in memory: a restart logs everyone out, which is what an office
/// expects of a server restart).
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<Hash, SessionRecord>>,
}

/// A session just opened: the cookie value to set and the session's CSRF token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The cookie's value (64 hex digits); only its hash is kept.
    pub cookie: String,
    /// The CSRF token of the session's forms.
    pub csrf: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession { .. }")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn random_hex() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ConsoleError::internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn hash(cookie: &str) -> Hash {
    Sha256::digest(cookie.as_bytes()).into()
}

impl Sessions {
    /// Opens a session for `principal` (a supervisor) at `now_ms`.
    ///
    /// # Errors
    /// [`ConsoleError::Internal`] when the system has no randomness.
    pub fn open(&self, principal: Principal, now_ms: u64) -> Result<NewSession, ConsoleError> {
        let cookie = random_hex()?;
        let csrf = random_hex()?;
        let mut live = lock(&self.live);
        live.retain(|_, r| !expired(r, now_ms));
        live.insert(
            hash(&cookie),
            SessionRecord {
                principal,
                csrf: csrf.clone(),
                created_ms: now_ms,
                last_seen_ms: now_ms,
            },
        );
        Ok(NewSession { cookie, csrf })
    }

    /// The session of a cookie value, touched at `now_ms`; `None` when unknown or expired
    /// (an expired one is removed).
    pub fn get(&self, cookie: &str, now_ms: u64) -> Option<(Principal, String)> {
        let key = hash(cookie);
        let mut live = lock(&self.live);
        let record = live.get_mut(&key)?;
        if expired(record, now_ms) {
            live.remove(&key);
            return None;
        }
        record.last_seen_ms = now_ms;
        Some((record.principal.clone(), record.csrf.clone()))
    }

    /// Ends the session of a cookie value.
    pub fn close(&self, cookie: &str) {
        lock(&self.live).remove(&hash(cookie));
    }

    /// Ends every session of an account (its password changed, it was removed).
    pub fn close_all_of(&self, id: &zhichao_core::ids::PrincipalId) {
        lock(&self.live).retain(|_, r| r.principal.id() != id);
    }
}

fn expired(r: &SessionRecord, now_ms: u64) -> bool {
    let idle = u64::try_from(IDLE_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let absolute = u64::try_from(ABSOLUTE_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    now_ms.saturating_sub(r.last_seen_ms) >= idle || now_ms.saturating_sub(r.created_ms) >= absolute
}

/// The `Set-Cookie` value that opens a session.
pub fn session_cookie(value: &str) -> String {
    format!("{SESSION_COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A logged-in supervisor (extractor). Without a valid session a page request is redirected
/// to the login page (coming back afterwards); any other request is answered 401.
#[derive(Clone, Debug)]
pub struct ConsoleUser {
    /// Who (always [`Principal::Supervisor`]).
    pub principal: Principal,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

impl ConsoleUser {
    /// What the supervisor oversees.
    pub fn scope(&self) -> &Scope {
        match &self.principal {
            Principal::Supervisor { scope, .. } => scope,
            // Sessions are opened for supervisors only; a county scope would be wrong, so
            // this arm is never taken. Answer the narrowest thing we have.
            Principal::Officer { scope, .. } | Principal::Server { scope, .. } => scope,
            _ => unreachable_scope(),
        }
    }
}

fn unreachable_scope() -> &'static Scope {
    static NONE: std::sync::OnceLock<Scope> = std::sync::OnceLock::new();
    NONE.get_or_init(|| {
        // A township of an impossible county: contains nothing real.
        Scope::parse("999999/township/999999999").unwrap_or_else(|_| unreachable!())
    })
}

/// Why a request has no console session.
#[derive(Debug)]
pub struct NoSession {
    page: Option<String>,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self.page {
            Some(next) => {
                Redirect::to(&format!("/console/login?next={}", encode_next(&next))).into_response()
            }
            None => (StatusCode::UNAUTHORIZED, "login required").into_response(),
        }
    }
}

/// Percent-encodes a path for the `next` parameter (our own paths: ASCII, `?`, `&`, `=`).
fn encode_next(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = NoSession;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let found = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|c| state.console.sessions.get(c, state.now_ms()));
        match found {
            Some((principal, csrf)) if matches!(principal, Principal::Supervisor { .. }) => {
                Ok(ConsoleUser { principal, csrf })
            }
            _ => Err(NoSession {
                page: (parts.method == Method::GET).then(|| {
                    parts
                        .uri
                        .path_and_query()
                        .map_or_else(|| "/console/".to_owned(), ToString::to_string)
                }),
            }),
        }
    }
}

/// A form posted by a logged-in supervisor with the session's CSRF token (extractor): the
/// user and the form's fields (`T`, which ignores the `csrf` field).
///
/// Refused with [`ConsoleError::Csrf`] (403) when the token is missing or wrong, or when the
/// `Origin` header names another host; redirected to the login page without a session.
#[derive(Debug)]
pub struct CsrfForm<T>(pub ConsoleUser, pub T);

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let user = ConsoleUser::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| {
                // A form without a session: back to the login page, then home.
                Redirect::to("/console/login").into_response()
            })?;
        if !same_origin(&parts.headers) {
            return Err(ConsoleError::Csrf.into_response());
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| ConsoleError::Invalid("表单过大。".to_owned()).into_response())?;
        let form = |bytes: axum::body::Bytes| Request::from_parts(parts.clone(), Body::from(bytes));
        let axum::Form(token) = axum::Form::<CsrfOnly>::from_request(form(bytes.clone()), state)
            .await
            .map_err(|_| ConsoleError::Csrf.into_response())?;
        let valid = token
            .csrf
            .is_some_and(|t| constant_time_eq(t.as_bytes(), user.csrf.as_bytes()));
        if !valid {
            return Err(ConsoleError::Csrf.into_response());
        }
        let axum::Form(fields) = axum::Form::<T>::from_request(form(bytes), state)
            .await
            .map_err(|e| {
                ConsoleError::Invalid(format!("表单有误：{}", e.body_text())).into_response()
            })?;
        Ok(CsrfForm(user, fields))
    }
}

/// True unless the request names an `Origin` whose host differs from its `Host` (browsers
/// send `Origin` with every cross-site POST; `SameSite=Strict` already withholds the cookie,
/// this is the second line).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session routes (login and logout).
pub fn router() -> Router<AppState> {
    Router::new()
}

/// Test support: opens a session for `principal` directly (no password) and gives the
/// `Cookie` header value and the CSRF token, for handler tests of the pages.
pub mod testing {
    use super::*;

    /// `(cookie header value, csrf token)` of a new session for `principal`.
    ///
    /// # Panics
    /// Without system randomness (tests only).
    pub fn login(state: &AppState, principal: Principal) -> (String, String) {
        let s = state
            .console
            .sessions
            .open(principal, state.now_ms())
            .expect("randomness");
        (format!("{SESSION_COOKIE}={}", s.cookie), s.csrf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; zhichao_console=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn sessions_expire_when_idle() {
        let s = Sessions::default();
        let p = Principal::Admin {
            id: zhichao_core::ids::PrincipalId::new("x").unwrap(),
        };
        let new = s.open(p, 1_000).unwrap();
        assert!(s.get(&new.cookie, 2_000).is_some());
        let idle = u64::try_from(IDLE_TIMEOUT.as_millis()).unwrap();
        assert!(s.get(&new.cookie, 2_000 + idle).is_none());
        assert!(
            s.get(&new.cookie, 2_000).is_none(),
            "an expired session is gone"
        );
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
