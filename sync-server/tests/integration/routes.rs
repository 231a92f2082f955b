//! Every HTTP route through `tower::ServiceExt::oneshot`, positive and negative: no token,
//! wrong role, expired, revoked, refresh rotation and reuse, tickets (single use, 30 s), the
//! JSON error shape. (What the request log leaves out is checked on a real server's log in
//! `serve.rs`: a thread-local subscriber misses events under the parallel test runner.)

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::routing::get;
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_server::auth::{AuthError, SyncAuth, authenticate_upgrade};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::{Secret, ServerConfig};
use zhichao_server::{AppState, app};

const ADMIN: &str = "admin-bootstrap-token-for-tests-0001";
const START_MS: u64 = 1_750_000_000_000;

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
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts the error shape and returns the code.
    fn error_code(&self) -> String {
        let v = self.json();
        let error = v.get("error").expect("an error object");
        assert!(error["message"].is_string(), "{v}");
        assert_eq!(error.as_object().map(|o| o.len()), Some(2), "{v}");
        error["code"].as_str().expect("a code").to_owned()
    }
}

async fn harness_with(config: ServerConfig) -> Harness {
    let clock = ManualClock::new(START_MS);
    let state = AppState::temporary(config, Arc::new(clock.clone()))
        .await
        .expect("state");
    Harness { state, clock }
}

async fn harness() -> Harness {
    harness_with(ServerConfig {
        admin_token: Some(Secret::new(ADMIN)),
        ..ServerConfig::default()
    })
    .await
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

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(v) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.expect("request")).await
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, bearer, Some(body)).await
    }

    /// Issues a token through the admin API.
    async fn issue(&self, principal: Value, ttl: Option<&str>) -> String {
        let mut body = json!({ "principal": principal });
        if let Some(ttl) = ttl {
            body["ttl"] = json!(ttl);
        }
        let a = self.post("/v1/admin/tokens", Some(ADMIN), body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json()["token"].as_str().expect("token").to_owned()
    }

    async fn ticket(&self, bearer: Option<&str>) -> Answer {
        self.call(Method::POST, "/v1/sync/ticket", bearer, None)
            .await
    }

    async fn enrollment_code(&self, device: &str) -> String {
        let a = self
            .post(
                "/v1/admin/enrollments",
                Some(ADMIN),
                json!({ "principal": officer(), "device": device }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json()["code"].as_str().expect("code").to_owned()
    }
}

fn officer() -> Value {
    json!({ "role": "officer", "name": "officer:zhang", "team": "team-1" })
}

fn supervisor() -> Value {
    json!({ "role": "supervisor", "name": "sup:li" })
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let h = harness().await;
    let a = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({ "status": "ok" }));
    let a = h.call(Method::GET, "/healthz", Some("garbage"), None).await;
    assert_eq!(a.status, StatusCode::OK, "credentials are not even read");
    let a = h.call(Method::POST, "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn metrics_are_public_prometheus_text() {
    let h = harness().await;
    let _open = h.state.metrics.connection();
    h.state.metrics.record_refusal();
    let a = h.ticket(Some("zat_wrong")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = h.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for line in [
        "zhichao_sync_connections_open 1",
        "zhichao_sync_connections_total 1",
        "zhichao_refusals_total 1",
        "zhichao_auth_failures_total 1",
        // The rules document the server published at start.
        "zhichao_docs_synced_total 1",
        "zhichao_sync_received_bytes_total 0",
    ] {
        assert!(a.text.lines().any(|l| l == line), "{line} in\n{}", a.text);
    }
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let h = harness().await;
    let a = h
        .call(Method::GET, "/v1/nothing?ticket=x", None, None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_code(), "not_found");
}

#[tokio::test]
async fn admin_routes_need_an_admin() {
    let h = harness().await;
    let body = json!({ "principal": supervisor() });
    // No token.
    let a = h.post("/v1/admin/tokens", None, body.clone()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "unauthenticated");
    assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer");
    // Not a bearer header.
    let request = Request::post("/v1/admin/tokens")
        .header(header::AUTHORIZATION, format!("Basic {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let a = h.send(request).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "invalid_token");
    // Unknown token.
    let a = h
        .post("/v1/admin/tokens", Some("zat_0000"), body.clone())
        .await;
    assert_eq!(a.error_code(), "invalid_token");
    // Wrong role: a supervisor is no admin, for every admin route.
    let sup = h.issue(supervisor(), None).await;
    for (method, path) in [
        (Method::POST, "/v1/admin/tokens"),
        (Method::GET, "/v1/admin/tokens"),
        (Method::POST, "/v1/admin/enrollments"),
        (Method::POST, "/v1/admin/revoke"),
    ] {
        let a = h.call(method, path, Some(&sup), Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(a.error_code(), "forbidden");
    }
    // A token issued by the admin can itself be an admin.
    let admin2 = h
        .issue(json!({ "role": "admin", "name": "admin:wang" }), Some("1h"))
        .await;
    let a = h
        .call(Method::GET, "/v1/admin/tokens", Some(&admin2), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn issue_token_validates_its_input() {
    let h = harness().await;
    let a = h
        .post(
            "/v1/admin/tokens",
            Some(ADMIN),
            json!({ "principal": officer(), "ttl": "2h" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let v = a.json();
    assert!(v["token"].as_str().unwrap().starts_with("zat_"));
    assert_eq!(v["expires_at_ms"], START_MS + 2 * 3_600_000);
    assert_eq!(v["principal"]["role"], "officer");
    assert_eq!(v["principal"]["scope"], "140522", "the county by default");
    assert_eq!(v["id"].as_str().unwrap().len(), 24);

    let cases = [
        (
            json!({ "principal": { "role": "officer", "name": "officer:x" } }),
            "needs --team",
        ),
        (
            json!({ "principal": { "role": "enterprise", "name": "e", "unit": "914403001922038217" } }),
            "unit",
        ),
        (
            json!({ "principal": { "role": "supervisor", "name": "s", "scope": "140521" } }),
            "outside",
        ),
        (
            json!({ "principal": { "role": "admin", "name": "a b" } }),
            "name",
        ),
        (
            json!({ "principal": supervisor(), "ttl": "forever" }),
            "ttl",
        ),
        (
            json!({ "principal": supervisor(), "ttl": "400d" }),
            "between 1s and 365d",
        ),
        (json!({ "principal": supervisor(), "ttl": "0s" }), "between"),
        (
            json!({ "principal": supervisor(), "device": "bad device" }),
            "device",
        ),
    ];
    for (body, needle) in cases {
        let a = h.post("/v1/admin/tokens", Some(ADMIN), body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.text);
        assert_eq!(a.error_code(), "invalid_request");
        assert!(
            a.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{needle}: {}",
            a.text
        );
    }
    // Unknown role or field: the JSON extractor's rejection, same shape.
    for body in [
        json!({ "principal": { "role": "mayor", "name": "m" } }),
        json!({ "principal": supervisor(), "colour": "red" }),
        json!([1, 2]),
    ] {
        let a = h.post("/v1/admin/tokens", Some(ADMIN), body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(a.error_code(), "invalid_request");
    }
    // Malformed JSON, missing content type, oversized body.
    let raw = |body: &str, content_type: Option<&str>| {
        let mut r = Request::post("/v1/admin/tokens")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
        if let Some(ct) = content_type {
            r = r.header(header::CONTENT_TYPE, ct);
        }
        r.body(Body::from(body.to_owned())).unwrap()
    };
    let a = h
        .send(raw("{\"principal\":", Some("application/json")))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "invalid_json");
    let a = h.send(raw("{}", None)).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(a.error_code(), "unsupported_media_type");
    let huge = format!(
        "{{\"principal\":{{\"role\":\"admin\",\"name\":\"{}\"}}}}",
        "a".repeat(100_000)
    );
    let a = h.send(raw(&huge, Some("application/json"))).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.error_code(), "payload_too_large");
    let a = h
        .send(raw("\u{0}\u{ff}garbage", Some("application/json")))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tokens_expire() {
    let h = harness().await;
    let token = h.issue(supervisor(), Some("1h")).await;
    assert_eq!(h.ticket(Some(&token)).await.status, StatusCode::OK);
    h.clock.advance(Duration::from_secs(3_599));
    assert_eq!(h.ticket(Some(&token)).await.status, StatusCode::OK);
    h.clock.advance(Duration::from_secs(1));
    let a = h.ticket(Some(&token)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "token_expired");
    assert_eq!(
        a.headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    // The bootstrap admin token does not expire.
    h.clock.advance(Duration::from_secs(10 * 365 * 86_400));
    let a = h
        .call(Method::GET, "/v1/admin/tokens", Some(ADMIN), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn revoke_list_and_revoked_tokens() {
    let h = harness().await;
    let a1 = h.issue(supervisor(), None).await;
    let a2 = h.issue(supervisor(), None).await;
    let b = h.issue(officer(), None).await;
    let listed = h
        .call(
            Method::GET,
            "/v1/admin/tokens?principal=sup:li",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let tokens = listed.json()["tokens"].as_array().unwrap().clone();
    assert_eq!(tokens.len(), 2);
    let all = h
        .call(Method::GET, "/v1/admin/tokens", Some(ADMIN), None)
        .await;
    assert_eq!(
        all.json()["tokens"].as_array().unwrap().len(),
        4,
        "with the bootstrap admin"
    );
    for secret in [&a1, &a2, &b, &ADMIN.to_owned()] {
        assert!(!all.text.contains(secret.as_str()), "list shows no secrets");
    }
    let a = h
        .call(
            Method::GET,
            "/v1/admin/tokens?principal=a%20b",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = h
        .call(
            Method::GET,
            "/v1/admin/tokens?colour=red",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "invalid_request");

    // By token.
    let a = h
        .post("/v1/admin/revoke", Some(ADMIN), json!({ "token": a1 }))
        .await;
    assert_eq!(a.json(), json!({ "revoked": 1 }));
    let a = h.ticket(Some(&a1)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "token_revoked");
    assert_eq!(h.ticket(Some(&a2)).await.status, StatusCode::OK);
    // By principal: only the live one counts.
    let a = h
        .post(
            "/v1/admin/revoke",
            Some(ADMIN),
            json!({ "principal": "sup:li" }),
        )
        .await;
    assert_eq!(a.json(), json!({ "revoked": 1 }));
    assert_eq!(h.ticket(Some(&a2)).await.error_code(), "token_revoked");
    // By id.
    let id = h
        .call(
            Method::GET,
            "/v1/admin/tokens?principal=officer:zhang",
            Some(ADMIN),
            None,
        )
        .await
        .json()["tokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = h
        .post("/v1/admin/revoke", Some(ADMIN), json!({ "id": id }))
        .await;
    assert_eq!(a.json(), json!({ "revoked": 1 }));
    assert_eq!(h.ticket(Some(&b)).await.error_code(), "token_revoked");
    let a = h
        .post("/v1/admin/revoke", Some(ADMIN), json!({ "id": id }))
        .await;
    assert_eq!(a.json(), json!({ "revoked": 0 }), "idempotent");
    // Exactly one target, well formed.
    for body in [
        json!({}),
        json!({ "id": id, "principal": "sup:li" }),
        json!({ "id": "xyz" }),
        json!({ "device": "a b" }),
    ] {
        let a = h.post("/v1/admin/revoke", Some(ADMIN), body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.error_code(), "invalid_request");
    }
    // An admin may revoke its own token; afterwards it is locked out.
    let a = h
        .post(
            "/v1/admin/revoke",
            Some(ADMIN),
            json!({ "principal": "admin" }),
        )
        .await;
    assert_eq!(a.json(), json!({ "revoked": 1 }));
    let a = h
        .call(Method::GET, "/v1/admin/tokens", Some(ADMIN), None)
        .await;
    assert_eq!(a.error_code(), "token_revoked");
}

#[tokio::test]
async fn enrollment_and_refresh_rotation() {
    let h = harness().await;
    let code = h.enrollment_code("phone-1").await;
    assert!(code.starts_with("zec_"));
    // Only admins create codes.
    let sup = h.issue(supervisor(), None).await;
    let a = h
        .post(
            "/v1/admin/enrollments",
            Some(&sup),
            json!({ "principal": officer(), "device": "p" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = h
        .post(
            "/v1/admin/enrollments",
            Some(ADMIN),
            json!({ "principal": officer(), "device": "" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // A code is not a bearer token.
    assert_eq!(h.ticket(Some(&code)).await.error_code(), "invalid_token");
    // Wrong device, malformed device, unknown code.
    let a = h
        .post(
            "/v1/auth/enroll",
            None,
            json!({ "code": code, "device": "phone-2" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "device_mismatch");
    let a = h
        .post(
            "/v1/auth/enroll",
            None,
            json!({ "code": code, "device": "phone 2" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = h
        .post("/v1/auth/enroll", None, json!({ "code": "zec_nope" }))
        .await;
    assert_eq!(a.error_code(), "invalid_token");
    let a = h.post("/v1/auth/enroll", None, json!({})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    let a = h
        .post(
            "/v1/auth/enroll",
            None,
            json!({ "code": code, "device": "phone-1" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let first = a.json();
    assert_eq!(first["device"], "phone-1");
    assert_eq!(first["principal"]["name"], Value::Null);
    assert_eq!(first["principal"]["id"], "officer:zhang");
    assert_eq!(first["access_expires_at_ms"], START_MS + 3_600_000);
    let access1 = first["access_token"].as_str().unwrap().to_owned();
    let refresh1 = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(access1.starts_with("zat_") && refresh1.starts_with("zrt_"));
    assert_eq!(h.ticket(Some(&access1)).await.status, StatusCode::OK);
    // One-time code.
    let a = h
        .post("/v1/auth/enroll", None, json!({ "code": code }))
        .await;
    assert_eq!(a.error_code(), "already_used");
    // A refresh token is not a bearer token, nor an access token a refresh token.
    assert_eq!(
        h.ticket(Some(&refresh1)).await.error_code(),
        "invalid_token"
    );
    let a = h
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": access1 }),
        )
        .await;
    assert_eq!(a.error_code(), "invalid_token");

    // The access token expires offline; the refresh token still works, and rotates.
    h.clock.advance(Duration::from_secs(2 * 3_600));
    assert_eq!(h.ticket(Some(&access1)).await.error_code(), "token_expired");
    let a = h
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh1 }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let second = a.json();
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    let refresh2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh1);
    assert_eq!(second["device"], "phone-1");
    assert_eq!(h.ticket(Some(&access2)).await.status, StatusCode::OK);
    let a = h
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh2 }),
        )
        .await;
    let third = a.json();
    let access3 = third["access_token"].as_str().unwrap().to_owned();
    let refresh3 = third["refresh_token"].as_str().unwrap().to_owned();

    // Reuse of a spent refresh token: refused, and the device's tokens are revoked.
    let a = h
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh1 }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "refresh_reused");
    assert_eq!(h.ticket(Some(&access3)).await.error_code(), "token_revoked");
    assert_eq!(h.ticket(Some(&access2)).await.error_code(), "token_revoked");
    let a = h
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh3 }),
        )
        .await;
    assert_eq!(a.error_code(), "token_revoked");

    // The device enrolls again.
    let again = h.enrollment_code("phone-1").await;
    let a = h
        .post("/v1/auth/enroll", None, json!({ "code": again }))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let access4 = a.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(h.ticket(Some(&access4)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn enrollment_codes_and_refresh_tokens_expire() {
    let h = harness().await;
    let a = h
        .post(
            "/v1/admin/enrollments",
            Some(ADMIN),
            json!({ "principal": officer(), "device": "phone-9", "ttl": "1d" }),
        )
        .await;
    let code = a.json()["code"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::from_secs(86_400));
    let a = h
        .post("/v1/auth/enroll", None, json!({ "code": code }))
        .await;
    assert_eq!(a.error_code(), "token_expired");

    let code = h.enrollment_code("phone-9").await;
    let a = h
        .post("/v1/auth/enroll", None, json!({ "code": code }))
        .await;
    let refresh = a.json()["refresh_token"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::from_secs(90 * 86_400));
    let a = h
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(a.error_code(), "token_expired");
}

/// A route that only authenticates a would-be WebSocket, as the sync route does.
fn probe(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/sync",
            get(|SyncAuth(grant): SyncAuth| async move {
                match grant.principal {
                    Principal::Officer { id, .. } | Principal::Supervisor { id, .. } => {
                        id.to_string()
                    }
                    other => format!("{other:?}"),
                }
            }),
        )
        .with_state(state)
}

async fn probe_call(
    state: &AppState,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, String) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = probe(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn tickets_are_single_use_and_live_30_seconds() {
    let h = harness().await;
    let a = h.ticket(None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error_code(), "unauthenticated");
    let token = h.issue(officer(), None).await;
    let a = h.ticket(Some(&token)).await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    let ticket = v["ticket"].as_str().unwrap().to_owned();
    assert!(ticket.starts_with("ztk_"));
    assert_eq!(v["expires_at_ms"], START_MS + 30_000);
    assert_eq!(h.state.metrics.snapshot().tickets_issued, 1);

    // A ticket is no bearer token.
    assert_eq!(h.ticket(Some(&ticket)).await.error_code(), "invalid_token");

    // Redeemed once, just before it expires.
    h.clock.advance(Duration::from_millis(29_999));
    let uri = format!("/v1/sync?ticket={ticket}");
    assert_eq!(
        probe_call(&h.state, &uri, &[]).await,
        (StatusCode::OK, "officer:zhang".to_owned())
    );
    let (status, body) = probe_call(&h.state, &uri, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("invalid_token"), "{body}");

    // Expired at 30 s.
    let ticket = h.ticket(Some(&token)).await.json()["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clock.advance(Duration::from_secs(30));
    let (status, body) = probe_call(&h.state, &format!("/v1/sync?x=1&ticket={ticket}"), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("token_expired"), "{body}");

    // The helper the sync route calls, directly.
    let ticket = h.ticket(Some(&token)).await.json()["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let (parts, ()) = Request::get(format!("/v1/sync?ticket={ticket}"))
        .body(())
        .unwrap()
        .into_parts();
    let grant = authenticate_upgrade(&h.state, &parts).unwrap();
    assert_eq!(grant.principal.id().as_str(), "officer:zhang");
    assert!(matches!(
        authenticate_upgrade(&h.state, &parts),
        Err(AuthError::Invalid)
    ));
}

#[tokio::test]
async fn sync_upgrades_authenticate_by_header_or_ticket_and_check_origin() {
    let h = harness_with(ServerConfig {
        admin_token: Some(Secret::new(ADMIN)),
        allowed_origins: vec!["https://console.example.org".to_owned()],
        ..ServerConfig::default()
    })
    .await;
    let token = h.issue(supervisor(), None).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(
        probe_call(&h.state, "/v1/sync", &[(header::AUTHORIZATION, &bearer)]).await,
        (StatusCode::OK, "sup:li".to_owned())
    );
    let (status, body) = probe_call(&h.state, "/v1/sync", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("unauthenticated"));
    let (status, _) = probe_call(&h.state, "/v1/sync?ticket=", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = probe_call(&h.state, "/v1/sync?ticket=%00%ff", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Browsers: the allowed origin and the server's own pass, others are refused.
    let allowed = [
        (header::AUTHORIZATION, bearer.as_str()),
        (header::ORIGIN, "https://console.example.org"),
    ];
    assert_eq!(
        probe_call(&h.state, "/v1/sync", &allowed).await.0,
        StatusCode::OK
    );
    let same = [
        (header::AUTHORIZATION, bearer.as_str()),
        (header::HOST, "sync.example.org"),
        (header::ORIGIN, "https://sync.example.org"),
    ];
    assert_eq!(
        probe_call(&h.state, "/v1/sync", &same).await.0,
        StatusCode::OK
    );
    let ticket = h.ticket(Some(&token)).await.json()["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = probe_call(
        &h.state,
        &format!("/v1/sync?ticket={ticket}"),
        &[(header::ORIGIN, "https://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("origin_not_allowed"), "{body}");
    // The refused request did not consume the ticket.
    let (status, _) = probe_call(&h.state, &format!("/v1/sync?ticket={ticket}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn without_an_admin_token_nobody_is_admin() {
    let h = harness_with(ServerConfig::default()).await;
    let a = h
        .call(Method::GET, "/v1/admin/tokens", Some(ADMIN), None)
        .await;
    assert_eq!(a.error_code(), "invalid_token");
}

#[tokio::test]
async fn the_authenticated_extractor_gives_the_principal() {
    use zhichao_server::auth::Authenticated;
    let h = harness().await;
    let router = Router::new()
        .route(
            "/whoami",
            get(|Authenticated(p): Authenticated| async move { p.id().to_string() }),
        )
        .with_state(h.state.clone());
    let token = h.issue(officer(), None).await;
    let call = |bearer: Option<String>| {
        let router = router.clone();
        async move {
            let mut r = Request::get("/whoami");
            if let Some(b) = bearer {
                let value = header::HeaderValue::from_bytes(&b.into_bytes()).unwrap();
                r = r.header(header::AUTHORIZATION, value);
            }
            let response = router
                .oneshot(r.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    assert_eq!(
        call(Some(format!("Bearer {token}"))).await,
        (StatusCode::OK, "officer:zhang".to_owned())
    );
    assert_eq!(call(None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(Some("Bearer zat_\u{e9}".to_owned())).await.0,
        StatusCode::UNAUTHORIZED,
        "not visible ASCII"
    );
    let long = format!("Bearer {}", "a".repeat(4_000));
    let (status, body) = call(Some(long)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("invalid_token"), "{body}");
}

#[tokio::test]
async fn tokens_survive_a_restart_and_tickets_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().to_owned(),
        admin_token: Some(Secret::new(ADMIN)),
        ..ServerConfig::default()
    };
    let clock = ManualClock::new(START_MS);
    let (token, ticket) = {
        let state = AppState::open(config.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        let h = Harness {
            state,
            clock: clock.clone(),
        };
        let token = h.issue(officer(), None).await;
        let ticket = h.ticket(Some(&token)).await.json()["ticket"]
            .as_str()
            .unwrap()
            .to_owned();
        (token, ticket)
    };
    let state = AppState::open(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let h = Harness { state, clock };
    assert_eq!(h.ticket(Some(&token)).await.status, StatusCode::OK);
    let (status, _) = probe_call(&h.state, &format!("/v1/sync?ticket={ticket}"), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tickets live in memory");
    assert!(dir.path().join("docs").is_dir() && dir.path().join("auth").is_dir());
}

#[tokio::test]
async fn the_server_is_a_principal_of_its_county() {
    let h = harness().await;
    match h.state.server_principal() {
        Principal::Server { id, scope } => {
            assert_eq!(id.as_str(), "server");
            assert_eq!(scope.to_string(), "140522");
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.state.is_shutting_down());
    let signal = h.state.shutdown_signal();
    h.state.request_shutdown();
    tokio::time::timeout(Duration::from_secs(5), signal)
        .await
        .expect("the signal resolves");
}

#[tokio::test]
async fn the_rules_in_force_are_published_as_a_versioned_server_document() {
    use zhichao_core::docs::{RulesVersions, TypedDoc, rules_document_id};
    use zhichao_core::rules::RulesConfig;
    use zhichao_server::StartError;
    use zhichao_server::server_docs::ServerDocError;

    let dir = tempfile::tempdir().unwrap();
    let with_rules = |id: &str, tolerance_kg: u32| ServerConfig {
        data_dir: dir.path().to_owned(),
        rules: RulesConfig {
            id: id.to_owned(),
            tolerance_kg,
            ..RulesConfig::default()
        },
        ..ServerConfig::default()
    };
    let clock = ManualClock::new(START_MS);
    let versions = |state: &AppState| {
        let id = rules_document_id(&state.config.county);
        let stored = state.docs.load(&id).unwrap().expect("the rules document");
        let body = TypedDoc::<RulesVersions>::open(id, stored.doc)
            .unwrap()
            .body()
            .unwrap();
        body.versions
            .iter()
            .map(|v| (v.id.clone(), v.config().unwrap().tolerance_kg))
            .collect::<Vec<_>>()
    };
    let state = AppState::open(with_rules("yangcheng-2026", 0), Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(versions(&state), [("yangcheng-2026".to_owned(), 0)]);
    state.sync.shutdown();
    drop(state);
    // The same rules again: nothing appended. New rules: a new version.
    let state = AppState::open(with_rules("yangcheng-2026", 0), Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(versions(&state).len(), 1);
    state.sync.shutdown();
    drop(state);
    let state = AppState::open(with_rules("yangcheng-2027", 500), Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(
        versions(&state),
        [
            ("yangcheng-2026".to_owned(), 0),
            ("yangcheng-2027".to_owned(), 500)
        ]
    );
    let history = state
        .log
        .history(&rules_document_id(&state.config.county))
        .unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|e| e.principal.as_str() == "server"));
    state.sync.shutdown();
    drop(state);
    // An old id with other settings would make recorded cases ambiguous: refused at start,
    // saying what differs.
    let refused = AppState::open(with_rules("yangcheng-2026", 100), Arc::new(clock.clone())).await;
    match refused {
        Err(StartError::ServerDoc(e @ ServerDocError::RulesIdReused { .. })) => {
            assert!(e.to_string().contains("tolerance_kg: 0 → 100"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Rolling back to an earlier version with its settings appends it again.
    let state = AppState::open(with_rules("yangcheng-2026", 0), Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(
        versions(&state),
        [
            ("yangcheng-2026".to_owned(), 0),
            ("yangcheng-2027".to_owned(), 500),
            ("yangcheng-2026".to_owned(), 0)
        ]
    );
    state.sync.shutdown();
}
