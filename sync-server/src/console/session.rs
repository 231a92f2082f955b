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
//! - **Login** (`GET`/`POST /console/login`): account and password, checked by
//!   [`super::passwords`] (argon2id, lockout after repeated failures). The form is protected
//!   against login CSRF by a pre-session token: the cookie [`LOGIN_COOKIE`] (`SameSite=Strict`)
//!   repeated in the form's hidden [`CSRF_FIELD`] (double submit). Success opens a new session
//!   and goes to `next` when it is a console page ([`safe_next`]: no open redirect), 303; a
//!   wrong or unknown account answers the form again with 「账号或密码错误」 (401); a locked
//!   account says when to retry (429 with `Retry-After`). The login page is `no-store`.
//! - **Logout** (`POST /console/logout`, a [`CsrfForm`]) ends the session and clears the
//!   cookie. Setting a new password (`POST /v1/admin/supervisors`) ends the account's sessions
//!   ([`Sessions::close_all_of`]).
//! - No limit per client address (only per account): a reverse proxy in front can add one.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use rand::TryRng;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use zhichao_core::access::Principal;
use zhichao_core::scope::Scope;

use crate::AppState;

use super::passwords::LoginOutcome;
use super::{ConsoleError, ConsoleResult};

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
    /// What the supervisor oversees, as people say it: 全县, the township's name (or
    /// `乡镇 <code>`), or the department's Chinese name.
    pub scope_name: String,
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
                let user = ConsoleUser {
                    principal,
                    csrf,
                    scope_name: String::new(),
                };
                let scope_name = state.config.scope_label(user.scope());
                Ok(ConsoleUser { scope_name, ..user })
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

/// Name of the pre-session cookie of the login form: a random token that the form repeats in
/// its hidden [`CSRF_FIELD`] (double submit, against login CSRF: another site cannot log the
/// browser in to an account of its choosing).
pub const LOGIN_COOKIE: &str = "zhichao_login";

/// Where a login goes when `next` is missing or not a console page.
pub const HOME: &str = "/console/";

/// The login page.
pub const LOGIN_PATH: &str = "/console/login";

/// The session routes: `GET /console/login` (the form), `POST /console/login`,
/// `POST /console/logout`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(LOGIN_PATH, get(login_page).post(login))
        .route("/console/logout", post(logout))
}

/// `next` when it is a page of this console (a local path under `/console`, printable ASCII,
/// no backslash, no `.` or `..` segment — plain or percent-encoded, which a browser resolves
/// out of `/console` — not the login page), else [`HOME`]: a login never redirects to another
/// site or out of the console (OWASP Unvalidated Redirects and Forwards Cheat Sheet).
pub fn safe_next(next: Option<&str>) -> String {
    let dot_segment = |p: &str| {
        let path = p.split(['?', '#']).next().unwrap_or("");
        path.split('/').any(|segment| {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            decoded == "." || decoded == ".."
        })
    };
    let local = |p: &str| {
        (p == "/console" || p.starts_with("/console/") || p.starts_with("/console?"))
            && !p.starts_with(LOGIN_PATH)
            && p.len() <= 2048
            && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            && !dot_segment(p)
    };
    match next {
        Some(p) if local(p) => p.to_owned(),
        _ => HOME.to_owned(),
    }
}

/// The `Set-Cookie` value of the login form's pre-session token.
fn login_cookie(value: &str) -> String {
    format!("{LOGIN_COOKIE}={value}; Path={LOGIN_PATH}; HttpOnly; SameSite=Strict")
}

fn cleared_login_cookie() -> String {
    format!("{LOGIN_COOKIE}=; Path={LOGIN_PATH}; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Query of `GET /console/login`.
#[derive(Debug, Default, serde::Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Fields of `POST /console/login`.
#[derive(serde::Deserialize)]
struct LoginFields {
    #[serde(default)]
    account: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    csrf: Option<String>,
}

/// The login form (with a fresh pre-session token), `status`, an optional message, the
/// account typed before; never cached.
fn login_form(
    status: StatusCode,
    next: &str,
    account: &str,
    message: Option<&str>,
) -> ConsoleResult<Response> {
    let token = random_hex()?;
    let body = html! {
        h1 { "源头治超 · 监管端登录" }
        @if let Some(m) = message {
            p.error role="alert" { (m) }
        }
        form.stack method="post" action=(LOGIN_PATH) {
            input type="hidden" name=(CSRF_FIELD) value=(token);
            input type="hidden" name="next" value=(next);
            label for="account" { "账号" }
            input #account type="text" name="account" value=(account) autocomplete="username"
                required autofocus;
            label for="password" { "密码" }
            input #password type="password" name="password" autocomplete="current-password"
                required;
            p { button type="submit" { "登录" } }
        }
        p.muted { "账号由系统管理员开设。连续 5 次密码错误将锁定账号 15 分钟。" }
    };
    Ok((
        status,
        [
            (header::SET_COOKIE, login_cookie(&token)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        super::layout::bare_page("登录", &body),
    )
        .into_response())
}

/// `GET /console/login[?next=PATH]`: the form; a supervisor already logged in goes on to
/// `next`.
async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> ConsoleResult<Response> {
    // A malformed query is not worth an error page: the form, going home afterwards.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let next = safe_next(query.next.as_deref());
    let logged_in = cookie(&headers, SESSION_COOKIE)
        .and_then(|c| state.console.sessions.get(c, state.now_ms()))
        .is_some_and(|(p, _)| matches!(p, Principal::Supervisor { .. }));
    if logged_in {
        return Ok(Redirect::to(&next).into_response());
    }
    login_form(StatusCode::OK, &next, "", None)
}

/// `POST /console/login`: checks the pre-session token and the password; success opens a
/// session and goes to `next` (303); a wrong account or password answers the form again
/// with 「账号或密码错误」 (401); a locked account says until when (429, `Retry-After`).
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<axum::Form<LoginFields>, axum::extract::rejection::FormRejection>,
) -> ConsoleResult<Response> {
    let axum::Form(fields) =
        form.map_err(|e| ConsoleError::Invalid(format!("表单有误：{}", e.body_text())))?;
    let next = safe_next(fields.next.as_deref());
    let token_ok = match (cookie(&headers, LOGIN_COOKIE), fields.csrf.as_deref()) {
        (Some(c), Some(f)) => !c.is_empty() && constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    };
    if !token_ok || !same_origin(&headers) {
        tracing::warn!("console login refused: missing or wrong login form token, or origin");
        return login_form(
            StatusCode::FORBIDDEN,
            &next,
            "",
            Some("登录页面已失效或不是从本系统提交的，请重新输入账号和密码。"),
        );
    }
    let now_ms = state.now_ms();
    let outcome = state
        .auth
        .passwords()
        .verify(&fields.account, &fields.password, now_ms)
        .await
        .map_err(ConsoleError::internal)?;
    match outcome {
        LoginOutcome::Accepted(principal) => {
            if let Some(old) = cookie(&headers, SESSION_COOKIE) {
                state.console.sessions.close(old);
            }
            let session = state.console.sessions.open(principal, now_ms)?;
            let mut response = Redirect::to(&next).into_response();
            let h = response.headers_mut();
            for value in [session_cookie(&session.cookie), cleared_login_cookie()] {
                let value = header::HeaderValue::try_from(value).map_err(ConsoleError::internal)?;
                h.append(header::SET_COOKIE, value);
            }
            h.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        LoginOutcome::Refused => login_form(
            StatusCode::UNAUTHORIZED,
            &next,
            fields.account.trim(),
            Some("账号或密码错误。"),
        ),
        LoginOutcome::Locked { until_ms } => {
            let message = format!(
                "密码错误次数过多，账号已暂时锁定，请于 {} 后重试，或请管理员重设密码。",
                super::layout::server_time(until_ms.saturating_add(59_999))
            );
            let mut response = login_form(
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                fields.account.trim(),
                Some(&message),
            )?;
            let seconds = until_ms.saturating_sub(now_ms).div_ceil(1000);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
            Ok(response)
        }
    }
}

/// A form with no fields but the CSRF token.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// `POST /console/logout` (with the CSRF token): ends the session, clears the cookie, back to
/// the login page.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(user, NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Some(c) = cookie(&headers, SESSION_COOKIE) {
        state.console.sessions.close(c);
    }
    tracing::info!(account = %user.principal.id(), "console logout");
    (
        [(header::SET_COOKIE, cleared_cookie())],
        Redirect::to(LOGIN_PATH),
    )
        .into_response()
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
