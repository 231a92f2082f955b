//! Attacks on the console and its JSON query routes that once got through: damaged documents
//! taking whole pages down, reviews written through sync for what the reviewer may not read,
//! unknown console paths answered by the JSON API without the console's headers.
//!
//! Fixture: two cases in township A (140522100) written through the sync hub by an officer of
//! team-a; supervisors of the county, of township A and of township B (140522101).

use std::sync::Arc;
use std::time::Duration;

use automerge::{ActorId, ROOT, ReadDoc as _, transaction::Transactable as _};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::docs::{
    Case, DocKind, Header, Review, ReviewDecision, SCHEMA_VERSION, TextField, TypedDoc,
};
use zhichao_core::fixtures::case_body;
use zhichao_core::ids::{DocumentId, PrincipalId, TeamId};
use zhichao_core::scope::Scope;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::{Secret, ServerConfig};
use zhichao_server::console::session::testing::login;
use zhichao_server::{AppState, app};

const ADMIN: &str = "admin-bootstrap-token-for-tests-0001";
/// 2026-11-29 10:00 China Standard Time.
const NOW: u64 = 1_795_881_600_000 + 10 * 3_600_000;
const TOWNSHIP_A: &str = "140522100";
const TOWNSHIP_B: &str = "140522101";

fn pid(s: &str) -> PrincipalId {
    PrincipalId::new(s).unwrap()
}

fn township(code: &str) -> Scope {
    Scope::parse(&format!("140522/township/{code}")).unwrap()
}

fn supervisor(name: &str, scope: Scope) -> Principal {
    Principal::Supervisor {
        id: pid(name),
        scope,
    }
}

fn county_supervisor() -> Principal {
    supervisor("sup:county", Scope::parse("140522").unwrap())
}

fn town_b_supervisor() -> Principal {
    supervisor("sup:town-b", township(TOWNSHIP_B))
}

fn officer_a() -> Principal {
    Principal::Officer {
        id: pid("officer:wang"),
        team: TeamId::new("team-a").unwrap(),
        scope: township(TOWNSHIP_A),
    }
}

fn unit(n: u32) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let code = format!("{first17}{}", check_char(&first17).unwrap());
    code.parse().unwrap()
}

fn doc_id(seed: u64) -> DocumentId {
    use rand::SeedableRng;
    DocumentId::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn call(state: &AppState, request: Request<Body>) -> Page {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn console(state: &AppState, path: &str, who: Principal) -> Page {
    let (cookie, _) = login(state, who);
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    call(state, request).await
}

async fn api(state: &AppState, path: &str, token: &str) -> Page {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    call(state, request).await
}

async fn token(state: &AppState, principal: Value) -> String {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/admin/tokens")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "principal": principal }).to_string()))
        .unwrap();
    let page = call(state, request).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
    let v: Value = serde_json::from_str(&page.body).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// Writes a document through the hub as `principal`; the hub's answer (`Err` = refused).
async fn write(
    state: &AppState,
    id: DocumentId,
    changes: Vec<u8>,
    principal: Principal,
) -> Result<(), String> {
    tokio::time::timeout(
        Duration::from_secs(30),
        state.sync.write(id, changes, principal),
    )
    .await
    .expect("the hub answers")
    .expect("the hub runs")
}

struct Fixture {
    state: AppState,
    /// Case 1 of township A.
    good: DocumentId,
    good_number: String,
    /// Case 2 of township A.
    other: DocumentId,
    other_number: String,
}

async fn case_in_a(state: &AppState, seed: u64, sequence: u32) -> (DocumentId, String) {
    let id = doc_id(seed);
    let header = Header {
        kind: DocKind::Case,
        schema: SCHEMA_VERSION,
        scope: township(TOWNSHIP_A),
        team: Some(TeamId::new("team-a").unwrap()),
        unit: None,
        parent: None,
        created_by: pid("officer:wang"),
        created_at_ms: i64::try_from(NOW).unwrap() - 3_600_000,
    };
    let mut body: Case = case_body(sequence);
    body.source_unit = Some(unit(1));
    let number = body.case_number.to_string();
    let doc = TypedDoc::create(id, ActorId::random(), &header, &body).unwrap();
    write(state, id, doc.automerge().save(), officer_a())
        .await
        .expect("the officer's case is stored");
    (id, number)
}

async fn fixture() -> Fixture {
    let state = AppState::temporary(
        ServerConfig {
            admin_token: Some(Secret::new(ADMIN)),
            ..ServerConfig::default()
        },
        Arc::new(ManualClock::new(NOW)),
    )
    .await
    .expect("state");
    let (good, good_number) = case_in_a(&state, 1, 1).await;
    let (other, other_number) = case_in_a(&state, 2, 2).await;
    Fixture {
        state,
        good,
        good_number,
        other,
        other_number,
    }
}

/// Damages a stored document as a bad migration or a damaged disk would: the body field `key`
/// becomes a number, so the body no longer reads as its kind. The change log is untouched.
fn damage(state: &AppState, id: &DocumentId, key: &str) {
    let mut doc = state.docs.load(id).unwrap().expect("stored").doc;
    let (_, body) = doc.get(ROOT, "body").unwrap().expect("a body");
    let mut tx = doc.transaction();
    tx.put(&body, key, 42_i64).unwrap();
    tx.commit();
    let index = state.docs.index_entry(id).unwrap().expect("indexed");
    state.docs.save(id, &doc, &index).unwrap();
}

#[tokio::test]
async fn one_damaged_case_or_review_does_not_take_the_case_list_down() {
    let f = fixture().await;
    let s = &f.state;
    // A review of the good case by the county office, then damaged.
    let review = zhichao_server::console::review::write_review(
        s,
        &county_supervisor(),
        &f.good,
        ReviewDecision::Return {
            reasons: vec!["照片不清".to_owned()],
        },
        "",
    )
    .await
    .expect("the review is written");
    damage(s, &f.other, "case_number");
    damage(s, &review, "decision");

    let list = console(s, "/console/cases", county_supervisor()).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains(&f.good_number), "{}", list.body);
    assert!(
        !list.body.contains(&f.other_number),
        "the damaged case is left out"
    );

    let detail = console(
        s,
        &format!("/console/cases/{}", f.good),
        county_supervisor(),
    )
    .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert!(detail.body.contains(&f.good_number));
    // Township B reads neither case: its list is empty, not an error.
    let list = console(s, "/console/cases", town_b_supervisor()).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(!list.body.contains(&f.good_number));

    let sup = token(
        s,
        json!({ "role": "supervisor", "name": "sup:county", "scope": "140522" }),
    )
    .await;
    let json = api(s, "/v1/cases", &sup).await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.body);
    let v: Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["cases"][0]["id"], f.good.to_string());

    // The damaged case's own page is an error, not a page of half a case.
    let broken = console(
        s,
        &format!("/console/cases/{}", f.other),
        county_supervisor(),
    )
    .await;
    assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
}
/// A review of `parent` by `by`, with header scope `scope`, as a supervisor's own sync client
/// would build it.
fn review_doc(id: DocumentId, parent: DocumentId, by: &str, scope: Scope) -> TypedDoc<Review> {
    let header = Header {
        kind: DocKind::Review,
        schema: SCHEMA_VERSION,
        scope,
        team: None,
        unit: None,
        parent: Some(parent),
        created_by: pid(by),
        created_at_ms: i64::try_from(NOW).unwrap(),
    };
    let body = Review {
        decision: ReviewDecision::Accept,
        comments: TextField("已核查".to_owned()),
        reviewed_at_ms: i64::try_from(NOW).unwrap(),
    };
    TypedDoc::create(id, ActorId::random(), &header, &body).unwrap()
}

#[tokio::test]
async fn a_supervisor_cannot_review_through_sync_a_case_outside_its_scope() {
    let f = fixture().await;
    let s = &f.state;
    // Township B's supervisor accepts township A's case, labelling the review with its own
    // township (which it may write) — the console refuses this (404), sync must too.
    let id = doc_id(77);
    let doc = review_doc(id, f.good, "sup:town-b", township(TOWNSHIP_B));
    let refused = write(s, id, doc.automerge().save(), town_b_supervisor()).await;
    assert!(
        refused.is_err(),
        "a review of a case the reviewer cannot read is refused"
    );
    assert!(s.log.header(&id).unwrap().is_none(), "nothing is logged");
    // The case is not closed for the county office by it.
    let detail = console(
        s,
        &format!("/console/cases/{}", f.good),
        county_supervisor(),
    )
    .await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("尚无复核"), "{}", detail.body);

    // Township A's own supervisor still may, and the county office may review it too.
    let id = doc_id(78);
    let doc = review_doc(id, f.good, "sup:town-a", township(TOWNSHIP_A));
    write(
        s,
        id,
        doc.automerge().save(),
        supervisor("sup:town-a", township(TOWNSHIP_A)),
    )
    .await
    .expect("township A reviews its own case");
}

#[tokio::test]
async fn an_unknown_console_path_is_the_consoles_own_404_page_with_its_headers() {
    let f = fixture().await;
    for path in [
        "/console/nope",
        "/console/cases/x/y/z",
        "/console/assets/other.js",
    ] {
        let page = console(&f.state, path, county_supervisor()).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("未找到"), "{path}: {}", page.body);
        assert_eq!(
            page.headers[header::CONTENT_SECURITY_POLICY],
            zhichao_server::console::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store", "{path}");
    }
}
