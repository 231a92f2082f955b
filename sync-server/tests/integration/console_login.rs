//! The console's login, logout and lockout through the router (`tower::ServiceExt::oneshot`),
//! the admin route that sets supervisors' passwords, and `zhichao admin add-supervisor`
//! against a real server.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_server::clock::ManualClock;
use zhichao_server::config::{Secret, ServerConfig};
use zhichao_server::console::passwords::LOCKOUT;
use zhichao_server::console::session::{LOGIN_COOKIE, SESSION_COOKIE};
use zhichao_server::{AppState, app};

const ADMIN: &str = "admin-bootstrap-token-for-console-01";
const START_MS: u64 = 1_750_000_000_000;
const PASSWORD: &str = "zhao-password-2026";

struct Harness {
    state: AppState,
    clock: ManualClock,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` line of cookie `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value `Set-Cookie` gives cookie `name`.
    fn cookie_value(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let pair = line.split(';').next()?;
        Some(pair.split_once('=')?.1.to_owned())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn harness() -> Harness {
    let clock = ManualClock::new(START_MS);
    let config = ServerConfig {
        admin_token: Some(Secret::new(ADMIN)),
        ..ServerConfig::default()
    };
    let state = AppState::temporary(config, Arc::new(clock.clone()))
        .await
        .expect("state");
    Harness { state, clock }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        Answer {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).expect("utf-8"),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut r = Request::builder().uri(path);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, path: &str, cookie: Option<&str>, body: String) -> Answer {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::from(body)).unwrap()).await
    }

    async fn admin_post(&self, bearer: Option<&str>, body: Value) -> Answer {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri("/v1/admin/supervisors")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = bearer {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(r.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Creates `name` with `password` through the admin API.
    async fn add(&self, name: &str, scope: &str, password: &str) {
        let a = self
            .admin_post(
                Some(ADMIN),
                json!({ "name": name, "scope": scope, "password": password }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }

    /// The login form's pre-session token (cookie value = hidden field).
    async fn login_token(&self) -> String {
        let page = self.get("/console/login", None).await;
        assert_eq!(page.status, StatusCode::OK);
        page.cookie_value(LOGIN_COOKIE).expect("a login cookie")
    }

    /// Posts the login form as a browser would (pre-session cookie and field).
    async fn login(&self, account: &str, password: &str, next: &str) -> Answer {
        let token = self.login_token().await;
        self.post_form(
            "/console/login",
            Some(&format!("{LOGIN_COOKIE}={token}")),
            form(&[
                ("csrf", &token),
                ("next", next),
                ("account", account),
                ("password", password),
            ]),
        )
        .await
    }

    /// The session of a `Set-Cookie` session value: its principal and CSRF token.
    fn session(&self, value: &str) -> Option<(Principal, String)> {
        self.state.console.sessions.get(value, self.state.now_ms())
    }
}

#[tokio::test]
async fn the_login_page_is_chinese_uncached_and_sets_a_strict_pre_session_cookie() {
    let h = harness().await;
    let page = h.get("/console/login?next=%2Fconsole%2Fcases", None).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "账号",
        "密码",
        "登录",
        "name=\"next\"",
        "value=\"/console/cases\"",
    ] {
        assert!(page.text.contains(text), "{text}: {}", page.text);
    }
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let cookie = page.set_cookie(LOGIN_COOKIE).expect("pre-session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let token = page.cookie_value(LOGIN_COOKIE).unwrap();
    assert!(token.len() >= 32);
    assert!(
        page.text.contains(&format!("value=\"{token}\"")),
        "the form repeats the cookie's token"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_401() {
    let h = harness().await;
    h.add("supervisor:zhao", "140522", PASSWORD).await;
    for (account, password) in [
        ("supervisor:zhao", "not-the-password"),
        ("supervisor:nobody", PASSWORD),
        ("", ""),
    ] {
        let a = h.login(account, password, "/console/").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{account}");
        assert!(a.text.contains("账号或密码错误"), "{}", a.text);
        assert!(a.set_cookie(SESSION_COOKIE).is_none());
    }
}

#[tokio::test]
async fn the_right_password_opens_a_strict_http_only_session() {
    let h = harness().await;
    h.add("supervisor:zhao", "140522/township/140522100", PASSWORD)
        .await;
    let a = h
        .login("supervisor:zhao", PASSWORD, "/console/cases?status=open")
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    assert_eq!(a.location(), "/console/cases?status=open");
    let line = a.set_cookie(SESSION_COOKIE).expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(line.contains(attr), "{attr}: {line}");
    }
    let value = a.cookie_value(SESSION_COOKIE).unwrap();
    let (principal, csrf) = h.session(&value).expect("a live session");
    assert_eq!(principal.id().as_str(), "supervisor:zhao");
    assert!(
        matches!(&principal, Principal::Supervisor { scope, .. } if scope.to_string() == "140522/township/140522100")
    );
    assert!(!csrf.is_empty());
    // The router knows the cookie: the login page sends a logged-in supervisor on.
    let again = h
        .get(
            "/console/login?next=%2Fconsole%2Fnotices",
            Some(&format!("{SESSION_COOKIE}={value}")),
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/console/notices");
    // A made-up cookie is not a session.
    let forged = h
        .get(
            "/console/login",
            Some(&format!("{SESSION_COOKIE}={}", "ab".repeat(32))),
        )
        .await;
    assert_eq!(forged.status, StatusCode::OK);
}

#[tokio::test]
async fn a_login_without_the_pre_session_token_is_refused() {
    let h = harness().await;
    h.add("supervisor:zhao", "140522", PASSWORD).await;
    let token = h.login_token().await;
    let fields = |csrf: Option<&str>| {
        let mut pairs = vec![("account", "supervisor:zhao"), ("password", PASSWORD)];
        if let Some(c) = csrf {
            pairs.push(("csrf", c));
        }
        form(&pairs)
    };
    let cookie = format!("{LOGIN_COOKIE}={token}");
    let other = "0".repeat(64);
    for (cookie, body) in [
        (None, fields(Some(&token))),
        (Some(cookie.as_str()), fields(None)),
        (Some(cookie.as_str()), fields(Some(&other))),
        (Some(&format!("{LOGIN_COOKIE}=")), fields(Some(""))),
    ] {
        let a = h.post_form("/console/login", cookie, body).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
        assert!(a.set_cookie(SESSION_COOKIE).is_none());
        assert!(a.text.contains("登录页面已失效"), "{}", a.text);
    }
    // From another site's page, even with both.
    let r = Request::builder()
        .method(Method::POST)
        .uri("/console/login")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "http://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &cookie)
        .body(Body::from(fields(Some(&token))))
        .unwrap();
    assert_eq!(h.send(r).await.status, StatusCode::FORBIDDEN);
    // Both right: in.
    let r = Request::builder()
        .method(Method::POST)
        .uri("/console/login")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &cookie)
        .body(Body::from(fields(Some(&token))))
        .unwrap();
    assert_eq!(h.send(r).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn next_never_leaves_the_console() {
    let h = harness().await;
    h.add("supervisor:zhao", "140522", PASSWORD).await;
    for (next, expected) in [
        ("//evil.example/console/", "/console/"),
        ("https://evil.example/", "/console/"),
        ("/\\evil.example", "/console/"),
        ("/console/\\\\evil.example", "/console/"),
        ("/consolefoo", "/console/"),
        ("/v1/admin/tokens", "/console/"),
        ("/console/login", "/console/"),
        // Dot segments, plain or percent-encoded, that a browser resolves out of /console.
        ("/console/../v1/admin/tokens", "/console/"),
        ("/console/..", "/console/"),
        ("/console/%2e%2e/v1/stats", "/console/"),
        ("/console/.%2E/v1/stats", "/console/"),
        ("/console/./../v1", "/console/"),
        ("/console/alerts/..?x=1", "/console/"),
        ("/console/案件", "/console/"),
        ("", "/console/"),
        (
            "/console/alerts?unit=x&plate=y",
            "/console/alerts?unit=x&plate=y",
        ),
    ] {
        let a = h.login("supervisor:zhao", PASSWORD, next).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(a.location(), expected, "{next}");
    }
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let h = harness().await;
    h.add("supervisor:zhao", "140522", PASSWORD).await;
    let a = h.login("supervisor:zhao", PASSWORD, "/console/").await;
    let value = a.cookie_value(SESSION_COOKIE).unwrap();
    let cookie = format!("{SESSION_COOKIE}={value}");
    let (_, csrf) = h.session(&value).unwrap();

    let refused = h
        .post_form("/console/logout", Some(&cookie), String::new())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = h
        .post_form(
            "/console/logout",
            Some(&cookie),
            form(&[("csrf", &"f".repeat(64))]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(h.session(&value).is_some(), "still logged in");

    let out = h
        .post_form("/console/logout", Some(&cookie), form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/console/login");
    let cleared = out.set_cookie(SESSION_COOKIE).expect("cleared cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(h.session(&value).is_none());
    // The old cookie opens nothing: a form goes to the login page, so does the login page's
    // own check.
    let again = h
        .post_form("/console/logout", Some(&cookie), form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/console/login");
    assert_eq!(
        h.get("/console/login", Some(&cookie)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_for_fifteen_minutes() {
    let h = harness().await;
    h.add("supervisor:zhao", "140522", PASSWORD).await;
    for i in 1..=4 {
        let a = h
            .login("supervisor:zhao", "wrong-password", "/console/")
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        h.clock.advance(Duration::from_secs(60));
    }
    let fifth = h
        .login("supervisor:zhao", "wrong-password", "/console/")
        .await;
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(fifth.text.contains("锁定"), "{}", fifth.text);
    // The sixth, with the right password, is refused too, saying when to retry.
    let sixth = h.login("supervisor:zhao", PASSWORD, "/console/").await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(sixth.set_cookie(SESSION_COOKIE).is_none());
    assert!(sixth.text.contains("后重试"), "{}", sixth.text);
    let retry: u64 = sixth
        .headers
        .get(header::RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, LOCKOUT.as_secs());
    // Another account is not affected.
    h.add("supervisor:qian", "140522", PASSWORD).await;
    assert_eq!(
        h.login("supervisor:qian", PASSWORD, "/console/")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // After the lock, the right password works again.
    h.clock.advance(LOCKOUT);
    let a = h.login("supervisor:zhao", PASSWORD, "/console/").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
}

#[tokio::test]
async fn the_admin_route_sets_passwords_for_admins_only() {
    let h = harness().await;
    // Not an admin.
    let body = json!({ "name": "supervisor:zhao", "scope": "140522" });
    assert_eq!(
        h.admin_post(None, body.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let officer = h
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/v1/admin/tokens")
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({ "principal": { "role": "supervisor", "name": "supervisor:zhao" } })
                        .to_string(),
                ))
                .unwrap(),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.admin_post(Some(&officer), body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    // Bad input: a short password, a bad name, a scope outside the county, unknown fields.
    for bad in [
        json!({ "name": "supervisor:zhao", "password": "123456789" }),
        json!({ "name": "bad name!", "password": "long enough password" }),
        json!({ "name": "officer:wang", "password": "long enough password" }),
        json!({ "name": "zhou", "password": "long enough password" }),
        json!({ "name": "supervisor:zhao", "scope": "110101" }),
        json!({ "name": "supervisor:zhao", "scope": "140522/nowhere" }),
    ] {
        let a = h.admin_post(Some(ADMIN), bad.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.text);
    }
    // Unknown fields: the JSON body does not fit (422, as on every route).
    let a = h
        .admin_post(
            Some(ADMIN),
            json!({ "name": "supervisor:zhao", "role": "admin" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let short = h
        .admin_post(
            Some(ADMIN),
            json!({ "name": "supervisor:zhao", "password": "123456789" }),
        )
        .await;
    assert!(
        short.text.contains("at least 10 characters"),
        "{}",
        short.text
    );
    assert_eq!(
        h.login("supervisor:zhao", "123456789", "/console/")
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "nothing was created"
    );

    // Generated: answered once, and it works.
    let a = h.admin_post(Some(ADMIN), body.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let v = a.json();
    assert_eq!(v["id"], "supervisor:zhao");
    assert_eq!(v["scope"], "140522");
    assert_eq!(v["replaced"], false);
    let generated = v["password"].as_str().unwrap().to_owned();
    assert!(generated.chars().count() >= 16, "{generated}");
    let first = h.login("supervisor:zhao", &generated, "/console/").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let first_session = first.cookie_value(SESSION_COOKIE).unwrap();
    assert!(h.session(&first_session).is_some());

    // Replaced with a given password (and a narrower scope): not echoed, the old password
    // and the old session end.
    let a = h
        .admin_post(
            Some(ADMIN),
            json!({
                "name": "supervisor:zhao",
                "scope": "140522/dept/emergency_management",
                "password": PASSWORD,
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let v = a.json();
    assert!(v.get("password").is_none(), "{v}");
    assert_eq!(v["replaced"], true);
    assert!(h.session(&first_session).is_none(), "old session ended");
    assert_eq!(
        h.login("supervisor:zhao", &generated, "/console/")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let second = h.login("supervisor:zhao", PASSWORD, "/console/").await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    let (principal, _) = h
        .session(&second.cookie_value(SESSION_COOKIE).unwrap())
        .unwrap();
    assert!(
        matches!(&principal, Principal::Supervisor { scope, .. } if scope.to_string() == "140522/dept/emergency_management"),
        "{principal:?}"
    );
}

/// A browser's login against a real server: the form's token, then the post.
fn browser_login(url: &str, account: &str, password: &str) -> (u16, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let page = agent
        .get(format!("{url}/console/login"))
        .call()
        .expect("GET login");
    let token = page
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{LOGIN_COOKIE}=")))
        .and_then(|rest| rest.split(';').next())
        .expect("login cookie")
        .to_owned();
    let answer = agent
        .post(format!("{url}/console/login"))
        .header("Cookie", format!("{LOGIN_COOKIE}={token}"))
        .content_type("application/x-www-form-urlencoded")
        .send(form(&[
            ("csrf", &token),
            ("account", account),
            ("password", password),
        ]))
        .expect("POST login");
    let session = answer
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .map(ToOwned::to_owned);
    (answer.status().as_u16(), session)
}

#[test]
fn add_supervisor_command_prints_a_password_that_logs_in() {
    use crate::serve::{ADMIN, admin, start, text, zhichao};
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let server = start(&dir.path().join("data"), &logs, Some(ADMIN))
        .unwrap_or_else(|(_, log)| panic!("{log}"));

    let out = admin(
        &server,
        Some(ADMIN),
        &[
            "add-supervisor",
            "--name",
            "supervisor:sun",
            "--scope",
            "140522/township/140522100",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("supervisor:sun") && stdout.contains("140522/township/140522100"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{}/console/", server.url())),
        "{stdout}"
    );
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a password line")
        .trim()
        .to_owned();
    assert!(password.len() >= 16, "{password}");
    let (status, session) = browser_login(&server.url(), "supervisor:sun", &password);
    assert_eq!(status, 303);
    assert!(session.is_some_and(|c| c.contains("HttpOnly")));
    assert_eq!(
        browser_login(&server.url(), "supervisor:sun", "wrong-password").0,
        401
    );

    // --password-stdin: a short one is refused before anything is sent (exit 2) …
    let run_stdin = |input: &str| {
        let mut child = zhichao()
            .args(["admin", "add-supervisor", "--server", &server.url()])
            .args(["--name", "supervisor:sun", "--password-stdin"])
            .env("ZHICHAO_ADMIN_TOKEN", ADMIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run_stdin("short\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("at least 10"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        browser_login(&server.url(), "supervisor:sun", &password).0,
        303,
        "unchanged"
    );
    // … a good one replaces the password (the trailing newline is not part of it).
    let out = run_stdin("a-new-password-2026\n");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("password replaced"), "{stdout}");
    assert!(!stdout.contains("a-new-password-2026"), "not echoed");
    assert_eq!(
        browser_login(&server.url(), "supervisor:sun", "a-new-password-2026").0,
        303
    );
    assert_eq!(
        browser_login(&server.url(), "supervisor:sun", &password).0,
        401
    );
    // Without the admin token: refused.
    let out = admin(&server, None, &["add-supervisor", "--name", "supervisor:x"]);
    assert_eq!(out.status.code(), Some(2));
}
