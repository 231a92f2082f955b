//! Every console answer carries the console's security headers (pages, redirects, errors, the
//! stylesheet), an unknown console path is the console's HTML 404, and the OpenAPI document
//! describes every JSON query route with its bearer scheme.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::ids::PrincipalId;
use zhichao_server::clock::ManualClock;
use zhichao_server::config::ServerConfig;
use zhichao_server::console::CONTENT_SECURITY_POLICY;
use zhichao_server::console::session::testing;
use zhichao_server::{AppState, app};

async fn get(
    state: &AppState,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, header::HeaderMap, String) {
    let mut request = Request::get(path);
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let state = AppState::temporary(
        ServerConfig::default(),
        Arc::new(ManualClock::new(1_790_000_000_000)),
    )
    .await
    .unwrap();
    let county = state.config.county;
    let (cookie, _) = testing::login(
        &state,
        Principal::Supervisor {
            id: PrincipalId::new("supervisor:zhao").unwrap(),
            scope: county,
        },
    );
    let pages = [
        ("/console/", Some(cookie.as_str()), StatusCode::OK),
        ("/console/alerts", Some(&cookie), StatusCode::OK),
        ("/console/cases", Some(&cookie), StatusCode::OK),
        ("/console/notices", Some(&cookie), StatusCode::OK),
        ("/console/units", Some(&cookie), StatusCode::OK),
        ("/console/units.csv", Some(&cookie), StatusCode::OK),
        ("/console/login", None, StatusCode::OK),
        ("/console/cases", None, StatusCode::SEE_OTHER),
        (
            "/console/cases/not-a-document",
            Some(&cookie),
            StatusCode::NOT_FOUND,
        ),
        (
            "/console/no/such/page",
            Some(&cookie),
            StatusCode::NOT_FOUND,
        ),
        ("/console/assets/console.css", None, StatusCode::OK),
        ("/console", None, StatusCode::PERMANENT_REDIRECT),
    ];
    for (path, cookie, expected) in pages {
        let (status, headers, body) = get(&state, path, cookie).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        if path.ends_with(".css") {
            assert!(
                headers[header::CACHE_CONTROL]
                    .to_str()
                    .unwrap()
                    .contains("max-age")
            );
        } else {
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
        }
        if status == StatusCode::NOT_FOUND {
            assert!(
                body.contains("未找到"),
                "{path}: the console's own page: {body}"
            );
        }
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} links elsewhere"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_query_route() {
    let state = AppState::temporary(
        ServerConfig::default(),
        Arc::new(ManualClock::new(1_790_000_000_000)),
    )
    .await
    .unwrap();
    let (status, _, body) = get(&state, "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/alerts",
        "/v1/alerts/{id}",
        "/v1/alerts/{id}/acknowledge",
        "/v1/alerts/{id}/dispatch",
        "/v1/alerts/{id}/close",
        "/v1/cases",
        "/v1/cases/{id}",
        "/v1/notices",
        "/v1/notices/{id}",
        "/v1/reviews",
        "/v1/units",
        "/v1/stats",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every schema a path refers to is defined.
    let text = body.as_str();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name} is referred to but not defined"
        );
    }
}
