//! The console's case pages (`/console/cases…`, `/console/blobs/…`) and the JSON case routes
//! (`/v1/cases…`), through `tower::ServiceExt::oneshot` on a temporary state with a manual
//! clock. Cases, photos and a unit profile are written through the sync hub as the phones
//! and the office would; photos are uploaded through `PUT /v1/blobs`.
//!
//! Fixture: case A in township A (140522100) about a quarry, registered 100 days ago
//! (overdue), created by officer Wang and edited by officer Li (findings, two photos: one
//! with derivatives, one without); case B county-wide, registered 10 days ago.

use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::docs::{
    Case, DerivativeRef, DocKind, EvidenceRef, Header, MeasurementRecord, PhotoDerivatives,
    SCHEMA_VERSION, Stage, TypedDoc, UnitProfile, Vehicle,
};
use zhichao_core::fixtures::{case_body, officer, photo_jpeg, pid};
use zhichao_core::ids::{DocumentId, EvidenceId, TeamId};
use zhichao_core::jurisdiction::SourceUnitKind;
use zhichao_core::plate::Plate;
use zhichao_core::rules::{Measurement, VehicleConfiguration};
use zhichao_core::scope::Scope;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::{Secret, ServerConfig};
use zhichao_server::console::session::testing::login;
use zhichao_server::{AppState, app};

const ADMIN: &str = "admin-bootstrap-token-for-tests-0001";
/// 2026-11-29 10:00 China Standard Time.
const NOW: u64 = 1_795_881_600_000 + 10 * 3_600_000;
const DAY: i64 = 24 * 3_600_000;
const TOWNSHIP_A: &str = "140522100";
const TOWNSHIP_B: &str = "140522101";
const UNIT_NAME: &str = "阳城县某石料厂";

fn unit(n: u32) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let code = format!("{first17}{}", check_char(&first17).unwrap());
    code.parse().unwrap()
}

fn township_scope(code: &str) -> Scope {
    Scope::township("140522".parse().unwrap(), code.parse().unwrap()).unwrap()
}

fn supervisor(id: &str, scope: &str) -> Principal {
    Principal::Supervisor {
        id: pid(id),
        scope: Scope::parse(scope).unwrap(),
    }
}

/// A stored photo: original, and optionally its two derivatives.
struct Photo {
    original: EvidenceId,
    original_bytes: Vec<u8>,
    derivatives: Option<PhotoDerivatives>,
}

struct Fixture {
    state: AppState,
    case_a: DocumentId,
    number_a: String,
    case_b: DocumentId,
    number_b: String,
    with_preview: Photo,
    without_preview: Photo,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Page {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

async fn call(state: &AppState, request: Request<Body>) -> Page {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Page {
        status,
        headers,
        body,
    }
}

/// A console GET with the session cookie of `who` (none: no cookie).
async fn console(state: &AppState, path: &str, who: Option<Principal>) -> Page {
    let mut request = Request::builder().method(Method::GET).uri(path);
    if let Some(p) = who {
        let (cookie, _csrf) = login(state, p);
        request = request.header(header::COOKIE, cookie);
    }
    call(state, request.body(Body::empty()).unwrap()).await
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
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.text());
    page.json()["token"].as_str().unwrap().to_owned()
}

async fn upload(state: &AppState, token: &str, bytes: &[u8]) -> EvidenceId {
    let sha = EvidenceId::of(bytes);
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("/v1/blobs/{sha}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    let page = call(state, request).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.text());
    sha
}

/// Writes a document through the hub as `principal`, as a phone's sync would.
async fn write(state: &AppState, id: DocumentId, changes: Vec<u8>, principal: Principal) {
    tokio::time::timeout(
        Duration::from_secs(30),
        state.sync.write(id, changes, principal),
    )
    .await
    .expect("the hub answers")
    .expect("the hub runs")
    .expect("the hub stores the document");
}

fn doc_id(seed: u64) -> DocumentId {
    use rand::SeedableRng;
    DocumentId::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

fn derivative(bytes: &[u8], width: u32, height: u32) -> DerivativeRef {
    DerivativeRef {
        sha256: EvidenceId::of(bytes),
        byte_len: bytes.len() as u64,
        width,
        height,
    }
}

fn evidence_ref(photo: &Photo, caption: &str, at_ms: i64) -> EvidenceRef {
    EvidenceRef {
        sha256: photo.original,
        caption: caption.to_owned(),
        captured_at_ms: Some(at_ms),
        gps: None,
        taken_by: pid("officer:li"),
        format: Some("jpeg".to_owned()),
        byte_len: Some(photo.original_bytes.len() as u64),
        width: Some(64),
        height: Some(48),
        derivatives: photo.derivatives,
    }
}

async fn fixture() -> Fixture {
    let clock = ManualClock::new(NOW);
    let state = AppState::temporary(
        ServerConfig {
            admin_token: Some(Secret::new(ADMIN)),
            ..ServerConfig::default()
        },
        Arc::new(clock),
    )
    .await
    .expect("state");
    let now = i64::try_from(NOW).unwrap();

    // The quarry's profile, kept by the county office.
    let profile_id = doc_id(900);
    let profile_header = Header {
        kind: DocKind::Unit,
        schema: SCHEMA_VERSION,
        scope: township_scope(TOWNSHIP_A),
        team: None,
        unit: Some(unit(1)),
        parent: None,
        created_by: pid("sup:county"),
        created_at_ms: 1,
    };
    let profile = UnitProfile {
        name: UNIT_NAME.to_owned(),
        kind: SourceUnitKind::Quarry,
        township: TOWNSHIP_A.parse().unwrap(),
        supervising_department: None,
        address: "町店镇".to_owned(),
        location: None,
        listed: true,
    };
    let profile_doc =
        TypedDoc::create(profile_id, ActorId::random(), &profile_header, &profile).unwrap();
    write(
        &state,
        profile_id,
        profile_doc.automerge().save(),
        supervisor("sup:county", "140522"),
    )
    .await;

    // Case A: created by Wang 100 days ago, in township A, about the quarry.
    let registered_a = now - 100 * DAY;
    let case_a = doc_id(1);
    let header_a = Header {
        kind: DocKind::Case,
        schema: SCHEMA_VERSION,
        scope: township_scope(TOWNSHIP_A),
        team: Some(TeamId::new("team-1").unwrap()),
        unit: None,
        parent: None,
        created_by: pid("officer:wang"),
        created_at_ms: registered_a,
    };
    let mut body: Case = case_body(7);
    body.source_unit = Some(unit(1));
    body.onsite.started_at_ms = registered_a;
    body.vehicle = Some(Vehicle {
        plate: Plate::parse("晋E12345").unwrap(),
        plate_as_typed: "晋e·12345".to_owned(),
        colour: None,
        configuration: VehicleConfiguration::axles_only(6),
    });
    body.measurement = Some(MeasurementRecord {
        measurement: Measurement {
            gross_kg: 52_300,
            ..Measurement::default()
        },
        measured_at_ms: registered_a,
        scale: Some("便携式轴重仪".to_owned()),
    });
    body.record_stage(Stage::Registered, registered_a, pid("officer:wang"), "立案")
        .unwrap();
    let number_a = body.case_number.to_string();
    let mut doc_a = TypedDoc::create(case_a, ActorId::random(), &header_a, &body).unwrap();
    write(
        &state,
        case_a,
        doc_a.automerge().save(),
        officer("officer:wang", "team-1"),
    )
    .await;

    // Li uploads two photos (one with derivatives) and adds them with the findings.
    let li = token(
        &state,
        json!({ "role": "officer", "name": "officer:li", "team": "team-1" }),
    )
    .await;
    let (orig, copy, thumb) = (
        photo_jpeg(64, 48, 1),
        photo_jpeg(32, 24, 2),
        photo_jpeg(16, 12, 3),
    );
    for bytes in [&orig, &copy, &thumb] {
        upload(&state, &li, bytes).await;
    }
    let with_preview = Photo {
        original: EvidenceId::of(&orig),
        original_bytes: orig,
        derivatives: Some(PhotoDerivatives {
            evidence_copy: derivative(&copy, 32, 24),
            thumbnail: derivative(&thumb, 16, 12),
        }),
    };
    let heic_like = photo_jpeg(64, 48, 4);
    upload(&state, &li, &heic_like).await;
    let without_preview = Photo {
        original: EvidenceId::of(&heic_like),
        original_bytes: heic_like,
        derivatives: None,
    };
    let evidence = vec![
        evidence_ref(&with_preview, "车辆正面及号牌", registered_a + 60_000),
        evidence_ref(&without_preview, "称重仪表读数", registered_a + 120_000),
    ];
    #[expect(clippy::result_large_err, reason = "the signature is core's")]
    let edit = |c: &mut Case| {
        c.findings = "车货总质量52.30吨，六轴列车限值49吨".into();
        c.evidence = evidence.clone();
        Ok(())
    };
    doc_a
        .update(&pid("officer:li"), registered_a + DAY, edit)
        .unwrap();
    write(
        &state,
        case_a,
        doc_a.automerge().save(),
        officer("officer:li", "team-1"),
    )
    .await;

    // Case B: county-wide, registered 10 days ago.
    let registered_b = now - 10 * DAY;
    let case_b = doc_id(2);
    let mut header_b = zhichao_core::fixtures::case_header("officer:wang", "team-1");
    header_b.created_at_ms = registered_b;
    let mut body_b = case_body(8);
    body_b.onsite.started_at_ms = registered_b;
    body_b
        .record_stage(Stage::Registered, registered_b, pid("officer:wang"), "立案")
        .unwrap();
    let number_b = body_b.case_number.to_string();
    let doc_b = TypedDoc::create(case_b, ActorId::random(), &header_b, &body_b).unwrap();
    write(
        &state,
        case_b,
        doc_b.automerge().save(),
        officer("officer:wang", "team-1"),
    )
    .await;

    Fixture {
        state,
        case_a,
        number_a,
        case_b,
        number_b,
        with_preview,
        without_preview,
    }
}

fn county() -> Option<Principal> {
    Some(supervisor("sup:county", "140522"))
}

fn town_a() -> Option<Principal> {
    Some(supervisor(
        "sup:town-a",
        &format!("140522/township/{TOWNSHIP_A}"),
    ))
}

fn town_b() -> Option<Principal> {
    Some(supervisor(
        "sup:town-b",
        &format!("140522/township/{TOWNSHIP_B}"),
    ))
}

#[tokio::test]
async fn console_case_pages_show_what_is_in_scope_and_404_otherwise() {
    let f = fixture().await;
    let s = &f.state;

    let list = console(s, "/console/cases", county()).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let html = list.text();
    for needle in [
        f.number_a.as_str(),
        f.number_b.as_str(),
        "晋E12345",
        UNIT_NAME,
    ] {
        assert!(html.contains(needle), "county list lacks {needle}");
    }
    assert!(html.contains(&format!("/console/cases/{}", f.case_a)));

    let list = console(s, "/console/cases", town_a()).await.text();
    assert!(list.contains(&f.number_a), "township A sees its case");
    assert!(
        !list.contains(&f.number_b),
        "a county-wide case is not township A's"
    );
    let list = console(s, "/console/cases", town_b()).await.text();
    assert!(!list.contains(&f.number_a) && !list.contains(&f.number_b));

    let detail = console(s, &format!("/console/cases/{}", f.case_a), county()).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    let html = detail.text();
    for needle in [
        f.number_a.as_str(),
        "晋E12345",
        "现场笔录",
        "14052219001",                         // an officer's certificate number
        r#"class="badge danger">超限</span>"#, // classified under the case's rules
        "52.30 t",
        "车货总质量52.30吨",
        r#"action="/console/reviews""#,
        &format!(r#"name="parent" value="{}""#, f.case_a),
        r#"name="csrf""#,
    ] {
        assert!(html.contains(needle), "case page lacks {needle}");
    }
    assert_eq!(
        console(s, &format!("/console/cases/{}", f.case_a), town_a())
            .await
            .status,
        StatusCode::OK
    );

    // Township B: the same 404 as an id that does not exist or is not a case.
    for path in [
        format!("/console/cases/{}", f.case_a),
        format!(
            "/console/cases/{}/photos/{}",
            f.case_a, f.with_preview.original
        ),
        format!("/console/cases/{}", doc_id(12_345)),
        "/console/cases/not-an-id".to_owned(),
    ] {
        let page = console(s, &path, town_b()).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The county office's unit profile is not a case.
    assert_eq!(
        console(s, &format!("/console/cases/{}", doc_id(900)), county())
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // No session: to the login page.
    for path in [
        "/console/cases".to_owned(),
        format!("/console/cases/{}", f.case_a),
        format!("/console/blobs/{}", f.with_preview.original),
    ] {
        let page = console(s, &path, None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        let location = page.headers[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with("/console/login"), "{location}");
    }
}

#[tokio::test]
async fn the_decision_clock_marks_overdue_cases_and_filters_narrow_the_list() {
    let f = fixture().await;
    let s = &f.state;
    let html = console(s, "/console/cases", county()).await.text();
    assert!(
        html.contains(r#"class="overdue""#),
        "case A, registered 100 days ago, is overdue"
    );
    assert!(html.contains("已超期"));
    assert!(
        html.contains("剩 80 天"),
        "case B, registered 10 days ago, has 80 days left"
    );

    let (number_a, number_b) = (f.number_a.as_str(), f.number_b.as_str());
    let only = |path: &'static str| async move {
        let page = console(s, path, county()).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text());
        let html = page.text();
        (html.contains(number_a), html.contains(number_b))
    };
    assert_eq!(only("/console/cases?overdue=1").await, (true, false));
    assert_eq!(
        only("/console/cases?plate=e%C2%B7123&status=&unit=&from=&to=").await,
        (true, false),
        "plate fragment, normalised; empty fields are no filter"
    );
    assert_eq!(
        only("/console/cases?unit=%E7%9F%B3%E6%96%99").await,
        (true, false),
        "unit name fragment 石料"
    );
    assert_eq!(only("/console/cases?status=registered").await, (true, true));
    assert_eq!(only("/console/cases?status=closed").await, (false, false));
    // Started 10 days ago (2026-11-19) only.
    assert_eq!(
        only("/console/cases?from=2026-11-19&to=2026-11-19").await,
        (false, true)
    );
    assert_eq!(only("/console/cases?limit=1").await, (false, true));
    assert_eq!(
        only("/console/cases?limit=1&page=2").await,
        (true, false),
        "second page"
    );
    let page = console(s, "/console/cases?limit=1", county()).await.text();
    assert!(page.contains("下一页") && page.contains(r#"name="page" value="2""#));

    let bad = console(s, "/console/cases?status=lost", county()).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("status"));
}

#[tokio::test]
async fn json_case_routes_are_for_supervisors_in_scope() {
    let f = fixture().await;
    let s = &f.state;
    let county = token(
        s,
        json!({ "role": "supervisor", "name": "sup:county", "scope": "140522" }),
    )
    .await;
    let town_b = token(
        s,
        json!({ "role": "supervisor", "name": "sup:town-b",
                "scope": format!("140522/township/{TOWNSHIP_B}") }),
    )
    .await;
    let wang = token(
        s,
        json!({ "role": "officer", "name": "officer:wang", "team": "team-1" }),
    )
    .await;
    let enterprise = token(
        s,
        json!({ "role": "enterprise", "name": "ent:quarry", "unit": unit(1).as_str() }),
    )
    .await;

    let list = api(s, "/v1/cases", &county).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let v = list.json();
    assert_eq!(v["total"], 2);
    let a = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == f.case_a.to_string())
        .expect("case A listed");
    assert_eq!(a["case_number"], f.number_a.as_str());
    assert_eq!(a["plate"], "晋E12345");
    assert_eq!(a["overdue"], true);
    assert_eq!(a["unit"]["name"], UNIT_NAME);
    assert_eq!(a["status"], "registered");
    let overdue = api(s, "/v1/cases?overdue=1", &county).await.json();
    assert_eq!(overdue["total"], 1);
    assert_eq!(
        api(s, "/v1/cases?limit=0", &county).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api(s, "/v1/cases", &town_b).await.json()["total"], 0);

    for other in [&wang, &enterprise] {
        for path in ["/v1/cases".to_owned(), format!("/v1/cases/{}", f.case_a)] {
            let page = api(s, &path, other).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(page.json()["error"]["code"], "forbidden");
        }
    }
    assert_eq!(
        api(s, "/v1/cases", "zat_not-a-token").await.status,
        StatusCode::UNAUTHORIZED
    );

    let detail = api(s, &format!("/v1/cases/{}", f.case_a), &county).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    let d = detail.json();
    assert_eq!(d["classification"]["over_limit"], true);
    assert_eq!(d["classification"]["excess_kg"], 3_300);
    assert_eq!(d["summary"]["overdue"], true);
    let photos: Vec<&str> = d["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(
        photos,
        [
            f.with_preview.original.to_string(),
            f.without_preview.original.to_string()
        ]
    );
    assert_eq!(d["photos"][1]["evidence_copy"], Value::Null);

    let hidden = api(s, &format!("/v1/cases/{}", f.case_a), &town_b).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let missing = api(s, &format!("/v1/cases/{}", doc_id(12_345)), &county).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.json(), missing.json(), "nothing tells them apart");

    let openapi = call(
        s,
        Request::builder()
            .uri("/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .json();
    assert!(openapi["paths"]["/v1/cases"]["get"].is_object());
    assert!(openapi["paths"]["/v1/cases/{id}"]["get"].is_object());
    assert!(openapi["components"]["schemas"]["CaseDetail"].is_object());
}

#[tokio::test]
async fn history_lists_each_save_with_the_person_and_the_fields_it_touched() {
    let f = fixture().await;
    let s = &f.state;
    let bearer = token(
        s,
        json!({ "role": "supervisor", "name": "sup:county", "scope": "140522" }),
    )
    .await;
    let d = api(s, &format!("/v1/cases/{}", f.case_a), &bearer)
        .await
        .json();
    let history = d["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["principal"], "officer:wang");
    assert_eq!(history[0]["created"], true);
    assert_eq!(history[1]["principal"], "officer:li");
    assert_eq!(history[1]["created"], false);
    assert_eq!(history[0]["received_ms"], NOW);
    let keys: Vec<&str> = history[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"findings") && keys.contains(&"evidence"),
        "{keys:?}"
    );
    assert!(!keys.contains(&"vehicle"), "{keys:?}");
    // Li's save holds Li's change only, stamped with Li's id and device time.
    let changes = history[1]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["message"], "officer:li");
    let registered_a = i64::try_from(NOW).unwrap() - 100 * DAY;
    assert_eq!(changes[0]["device_time_ms"], registered_a + DAY);

    let html = console(s, &format!("/console/cases/{}", f.case_a), county())
        .await
        .text();
    let table = &html[html.find("变更记录").expect("history section")..];
    for needle in [
        "officer:wang",
        "officer:li",
        "新建",
        "查明事实",
        "照片证据",
        "2026-08-22 10:00:00",
    ] {
        assert!(table.contains(needle), "history lacks {needle}");
    }
}

#[tokio::test]
async fn photos_are_served_to_supervisors_who_may_read_the_case() {
    let f = fixture().await;
    let s = &f.state;
    let original = f.with_preview.original;
    let thumb = f.with_preview.derivatives.unwrap().thumbnail.sha256;
    let copy = f.with_preview.derivatives.unwrap().evidence_copy.sha256;

    let html = console(s, &format!("/console/cases/{}", f.case_a), town_a())
        .await
        .text();
    assert!(html.contains(&format!(r#"src="/console/blobs/{thumb}""#)));
    assert!(html.contains(&format!(
        "/console/cases/{}/photos/{}",
        f.case_a, f.without_preview.original
    )));
    assert!(
        html.contains("无预览"),
        "a photo without derivatives shows a placeholder"
    );

    let photo = console(
        s,
        &format!("/console/cases/{}/photos/{original}", f.case_a),
        town_a(),
    )
    .await;
    assert_eq!(photo.status, StatusCode::OK, "{}", photo.text());
    let html = photo.text();
    assert!(html.contains(&format!(r#"src="/console/blobs/{copy}""#)));
    assert!(html.contains(&format!(r#"class="hash">{original}<"#)));
    assert!(html.contains(&format!(r#"href="/console/blobs/{original}?download=1""#)));
    assert!(html.contains("车辆正面及号牌"));
    let placeholder = console(
        s,
        &format!(
            "/console/cases/{}/photos/{}",
            f.case_a, f.without_preview.original
        ),
        town_a(),
    )
    .await
    .text();
    assert!(placeholder.contains("无预览") && !placeholder.contains("<img"));
    // A hash the case does not list.
    let other = EvidenceId::of(b"not in the case");
    assert_eq!(
        console(
            s,
            &format!("/console/cases/{}/photos/{other}", f.case_a),
            town_a()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let blob = console(s, &format!("/console/blobs/{original}"), town_a()).await;
    assert_eq!(blob.status, StatusCode::OK);
    assert_eq!(blob.body, f.with_preview.original_bytes);
    assert_eq!(blob.headers[header::CONTENT_TYPE], "image/jpeg");
    assert!(blob.headers.get(header::CONTENT_DISPOSITION).is_none());
    let download = console(
        s,
        &format!("/console/blobs/{original}?download=1"),
        county(),
    )
    .await;
    assert_eq!(download.status, StatusCode::OK);
    let disposition = download.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(
        disposition.starts_with("attachment") && disposition.contains(&format!("{original}.jpg")),
        "{disposition}"
    );
    for sha in [original, thumb, copy] {
        let page = console(s, &format!("/console/blobs/{sha}"), town_b()).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "township B, {sha}");
    }
    assert_eq!(
        console(s, &format!("/console/blobs/{other}"), county())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        console(s, "/console/blobs/xyz", county()).await.status,
        StatusCode::NOT_FOUND
    );
    // Case B is not case A's: the photo route checks the case lists the photo.
    assert_eq!(
        console(
            s,
            &format!("/console/cases/{}/photos/{original}", f.case_b),
            county()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

/// Case photos are case data: the console serves them `no-store`, as its pages, so a shared
/// office PC keeps no copy after logout (the JSON blob route keeps its long private caching
/// for the phones).
#[tokio::test]
async fn console_photos_are_not_kept_in_the_browser_cache() {
    let f = fixture().await;
    let s = &f.state;
    let thumb = f.with_preview.derivatives.unwrap().thumbnail.sha256;
    for path in [
        format!("/console/blobs/{thumb}"),
        format!("/console/blobs/{}?download=1", f.with_preview.original),
    ] {
        let page = console(s, &path, county()).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let cache = page.headers[header::CACHE_CONTROL].to_str().unwrap();
        assert!(
            cache.contains("no-store") && !cache.contains("max-age"),
            "{path}: {cache}"
        );
    }
}
