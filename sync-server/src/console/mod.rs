//! The supervisors' web console (监管端网页): what the patrols and enterprises synced, reviewed
//! in a desktop browser by the county overload office (县治超办), townships and departments.
//!
//! Server-rendered HTML ([`maud`]: compile-time checked, auto-escaped templates), one small
//! stylesheet and no JavaScript framework, every asset served by the server itself (it may
//! run on a county intranet with no internet). Pages live under `/console`:
//!
//! | page | module |
//! |---|---|
//! | `GET /console/login`, `POST /console/login`, `POST /console/logout` | [`session`] |
//! | `GET /console/` (numbers at a glance, bar chart of over-limit departures) | [`home`] |
//! | `GET /console/alerts`, `GET /console/alerts/{id}`, `POST …/acknowledge`, `…/dispatch`, `…/close` | [`alerts`] |
//! | `GET /console/cases`, `GET /console/cases/{id}`, photos, history | [`cases`] |
//! | `GET /console/notices`, `GET /console/notices/{id}`, reviews | [`notices`] |
//! | `GET /console/units`, `GET /console/units.csv` | [`units`] |
//! | `GET /console/assets/console.css` | [`layout`] |
//!
//! **Authorization.** Only supervisors log in ([`session`]); every page reads through
//! [`model`], which shows a document only when `core::access::can_read` lets the supervisor
//! read it, and answers 404 otherwise — a township supervisor cannot tell another
//! township's case id from an id that does not exist. Every form carries the session's CSRF
//! token ([`session::CsrfForm`]); review decisions are written as `review` documents through
//! the sync hub with the supervisor as principal, exactly as a phone's would be.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::AppState;

pub mod alerts;
pub mod case_view;
pub mod cases;
pub mod history;
pub mod home;
pub mod layout;
pub mod model;
pub mod notices;
pub mod passwords;
pub mod review;
pub mod session;
pub mod units;

/// The console's state in [`AppState::console`]: live sessions and parsed document bodies.
#[derive(Debug, Default)]
pub struct ConsoleState {
    /// Logged-in supervisors.
    pub sessions: session::Sessions,
    /// Bodies parsed once per save ([`model::body`]).
    pub bodies: model::BodyCache,
    /// Held while a review is checked against the earlier ones and written
    /// ([`review::write_review`]): a form posted twice at once stores one review.
    pub reviews: tokio::sync::Mutex<()>,
    /// Headers and latest saves of the logged documents ([`model::list`]).
    pub index: model::DocIndex,
}

/// The console's pages (merged into [`crate::app`]), each answered with the console's
/// security headers ([`security_headers`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(layout::router())
        .merge(session::router())
        .merge(home::router())
        .merge(alerts::router())
        .merge(cases::router())
        .merge(notices::router())
        .merge(review::router())
        .merge(units::router())
        .route(
            "/console",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        // Any other path under /console is the console's own 404 page, not the API's JSON.
        .route(
            "/console/{*rest}",
            axum::routing::any(|| async { ConsoleError::NotFound }),
        )
        .layer(axum::middleware::map_response(security_headers))
}

/// The Content-Security-Policy of every console answer: everything from the server itself,
/// no script at all, no framing (clickjacking), forms posted only to the console.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; img-src 'self'; \
     style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the console's security headers: [`CONTENT_SECURITY_POLICY`], `X-Frame-Options: DENY`,
/// `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, and `Cache-Control:
/// no-store` on pages (a shared office PC must not keep case data in its cache; the
/// stylesheet keeps its own caching).
pub async fn security_headers(mut response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Why a console page could not be shown, answered as a small HTML page in Chinese with the
/// matching status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// No such page or document, or one outside the supervisor's scope (404; the same answer
    /// either way, so nothing leaks).
    #[error("not found")]
    NotFound,
    /// The form's CSRF token is missing or wrong, or the request came from another origin
    /// (403).
    #[error("the form has expired or did not come from this console")]
    Csrf,
    /// Logged in, but this account may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The form or query is invalid (400); the message says what to correct, in Chinese.
    #[error("{0}")]
    Invalid(String),
    /// The request contradicts what is stored (409), e.g. an alert already closed.
    #[error("{0}")]
    Conflict(String),
    /// A server-side failure (500): logged, never shown.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result of a console handler.
pub type ConsoleResult<T> = Result<T, ConsoleError>;

impl ConsoleError {
    /// A 500 from any error.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ConsoleError::Internal(e.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Csrf | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Invalid(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::error::ApiError> for ConsoleError {
    fn from(e: crate::error::ApiError) -> Self {
        use crate::error::ApiError;
        match e {
            ApiError::NotFound | ApiError::Missing { .. } => ConsoleError::NotFound,
            ApiError::Forbidden { message, .. } => ConsoleError::Forbidden(message.into_owned()),
            ApiError::Conflict { message } => ConsoleError::Conflict(message),
            ApiError::Internal(source) => ConsoleError::Internal(source),
            other => ConsoleError::Invalid(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (title, detail) = match &self {
            ConsoleError::NotFound => ("未找到", "没有这个页面，或不在您的监管范围内。".to_owned()),
            ConsoleError::Csrf => (
                "表单已失效",
                "表单已过期或不是从本系统提交的。请返回上一页，刷新后重试。".to_owned(),
            ),
            ConsoleError::Forbidden(m) => ("无权操作", m.clone()),
            ConsoleError::Invalid(m) => ("输入有误", m.clone()),
            ConsoleError::Conflict(m) => ("操作未完成", m.clone()),
            ConsoleError::Internal(source) => {
                tracing::error!(error = %source, "console: internal error");
                (
                    "服务器错误",
                    "服务器内部错误，请稍后重试或联系管理员。".to_owned(),
                )
            }
        };
        let body = layout::bare_page(
            title,
            &html! {
                h1 { (title) }
                p.error { (detail) }
                @if matches!(status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) {
                    // The browser's back button returns to the form with what was typed.
                    p.muted { "请用浏览器的“返回”按钮回到上一页，修改后重新提交。" }
                }
                p { a href="/console/" { "返回首页" } }
            },
        );
        (status, body).into_response()
    }
}
