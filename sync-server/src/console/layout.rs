//! The page shell shared by every console page (header with the account and the logout form,
//! navigation, main area), small formatting helpers (China Standard Time, tonnes), and the
//! stylesheet, served by the server itself (`/console/assets/console.css`; no CDN).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::AppState;

use super::session::ConsoleUser;

/// The stylesheet (one file, no web fonts: the office PC's CJK fonts render the Chinese).
pub const CSS: &str = include_str!("assets/console.css");

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/console/assets/console.css";

/// The console's icon (a weighbridge), so browsers do not ask for a `/favicon.ico` that is not
/// there.
pub const ICON: &str = include_str!("assets/favicon.svg");

/// Where the icon is served.
pub const ICON_PATH: &str = "/console/assets/favicon.svg";

/// The stylesheet and icon routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(CSS_PATH, get(css))
        .route(ICON_PATH, get(icon))
}

async fn icon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        ICON,
    )
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}

/// The sections of the navigation bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// 首页.
    Home,
    /// 告警.
    Alerts,
    /// 案件.
    Cases,
    /// 整改.
    Notices,
    /// 源头单位.
    Units,
}

impl Nav {
    const ALL: [(Nav, &'static str, &'static str); 5] = [
        (Nav::Home, "/console/", "首页"),
        (Nav::Alerts, "/console/alerts", "告警"),
        (Nav::Cases, "/console/cases", "案件"),
        (Nav::Notices, "/console/notices", "整改"),
        (Nav::Units, "/console/units", "源头单位"),
    ];
}

/// A whole page for a logged-in supervisor: `<title>` is `title · 治超监管`, the header shows
/// who is logged in (account and scope) with the logout button, `nav` is highlighted.
pub fn page(title: &str, user: &ConsoleUser, nav: Nav, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body {
                header.top {
                    span.brand { "源头治超 · 监管端" }
                    nav {
                        @for (item, href, label) in Nav::ALL {
                            @if item == nav {
                                a.active href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                    span.who {
                        span.account { (user.principal.id().as_str()) }
                        " "
                        span.scope { (user.scope_name) }
                        form.inline method="post" action="/console/logout" {
                            (csrf_field(user))
                            button type="submit" { "退出" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The `<head>` of every page: `<title>` is `title · 治超监管`, the stylesheet and the icon.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · 治超监管" }
            link rel="stylesheet" href=(CSS_PATH);
            link rel="icon" href=(ICON_PATH) type="image/svg+xml";
        }
    }
}

/// A page without navigation (login, errors).
pub fn bare_page(title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body.bare { main { (body) } }
        }
    }
}

/// The hidden CSRF field every form of the console carries (checked by
/// [`super::session::CsrfForm`]).
pub fn csrf_field(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name=(super::session::CSRF_FIELD) value=(user.csrf); }
}

/// A UTC millisecond instant as China Standard Time, `2026-11-29 14:03` (`—` when out of
/// range).
pub fn datetime(ms: i64) -> String {
    fmt_china(ms, "%Y-%m-%d %H:%M")
}

/// As [`datetime`] with seconds, `2026-11-29 14:03:07`.
pub fn datetime_seconds(ms: i64) -> String {
    fmt_china(ms, "%Y-%m-%d %H:%M:%S")
}

/// The China Standard Time date of an instant, `2026-11-29`.
pub fn date(ms: i64) -> String {
    fmt_china(ms, "%Y-%m-%d")
}

/// A server time (unsigned ms) as [`datetime`].
pub fn server_time(ms: u64) -> String {
    datetime(i64::try_from(ms).unwrap_or(i64::MAX))
}

fn fmt_china(ms: i64, format: &str) -> String {
    use chrono::TimeZone as _;
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
    match china.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) => t.format(format).to_string(),
        _ => "—".to_owned(),
    }
}

/// A mass in kilograms as tonnes with two decimals, `52.30 t`.
pub fn tonnes(kg: u32) -> String {
    format!("{}.{:02} t", kg / 1000, (kg % 1000) / 10)
}

/// Who did something, as shown: an account id, or 「平台」 for the server itself (alerts it
/// raised, documents it writes).
pub fn person(id: &str) -> &str {
    if id == crate::SERVER_PRINCIPAL_ID {
        "平台"
    } else {
        id
    }
}

/// A raw HTML fragment known to be safe (an SVG built by our own code from numbers and
/// escaped text).
pub fn trusted(markup: String) -> PreEscaped<String> {
    PreEscaped(markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_standard_time() {
        // 2026-11-29T06:03:07Z is 14:03:07 in China.
        let ms = 1_795_932_187_000;
        assert_eq!(datetime_seconds(ms), "2026-11-29 14:03:07");
        assert_eq!(datetime(ms), "2026-11-29 14:03");
        assert_eq!(date(ms), "2026-11-29");
        assert_eq!(datetime(i64::MAX), "—");
    }

    #[test]
    fn tonnes_have_two_decimals() {
        assert_eq!(tonnes(52_300), "52.30 t");
        assert_eq!(tonnes(49_000), "49.00 t");
        assert_eq!(tonnes(5), "0.00 t");
    }
}
