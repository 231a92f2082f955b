//! Alerts (`/v1/alerts`), heartbeats (`POST /v1/heartbeats`) and the upload-interrupted
//! monitor, through `tower::ServiceExt::oneshot` with a manual clock: filters, who sees what,
//! acknowledge → dispatch → close with a real case document, refusals, and the monitor's
//! counting of silence in operating hours (driven by calling `check_silence` at chosen
//! instants, never by sleeping).

use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::docs::{DocKind, Header, SCHEMA_VERSION, TypedDoc, UnitProfile};
use zhichao_core::ids::{DocumentId, PrincipalId};
use zhichao_core::jurisdiction::{AdminCode, Jurisdiction, SourceUnitKind};
use zhichao_core::scope::Scope;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_core::weighing::{EquipmentKind, EquipmentReport};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::{Secret, ServerConfig};
use zhichao_server::ingest::alerts::{
    Alert, AlertAction, AlertEvent, AlertKind, AlertStatus, Departure, Interruption,
    departure_alert_id, interruption_alert_id, recipients,
};
use zhichao_server::ingest::heartbeats::{self, check_silence};
use zhichao_server::{AppState, app};

const ADMIN: &str = "admin-bootstrap-token-for-tests-0001";
/// 2026-11-29 00:00 China Standard Time.
const MIDNIGHT: u64 = 1_795_881_600_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const TOWNSHIP: &str = "140522100";

struct Harness {
    state: AppState,
    clock: ManualClock,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn ids(&self) -> Vec<String> {
        self.body["alerts"]
            .as_array()
            .unwrap_or_else(|| panic!("no alerts in {}", self.body))
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn harness() -> Harness {
    let clock = ManualClock::new(MIDNIGHT + 10 * HOUR);
    let state = AppState::temporary(
        ServerConfig {
            admin_token: Some(Secret::new(ADMIN)),
            ..ServerConfig::default()
        },
        Arc::new(clock.clone()),
    )
    .await
    .expect("state");
    Harness { state, clock }
}

/// Percent-encodes a query value (plates are Chinese).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn unit(n: u32) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let code = format!("{first17}{}", check_char(&first17).unwrap());
    code.parse().unwrap()
}

fn server() -> PrincipalId {
    PrincipalId::new("server").unwrap()
}

fn township() -> AdminCode {
    TOWNSHIP.parse().unwrap()
}

impl Harness {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(v) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Answer { status, body }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn token(&self, principal: Value) -> String {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/admin/tokens")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "principal": principal }).to_string()))
            .unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    async fn supervisor(&self, name: &str, scope: &str) -> String {
        self.token(json!({ "role": "supervisor", "name": name, "scope": scope }))
            .await
    }

    async fn officer(&self, name: &str, team: &str) -> String {
        self.token(json!({ "role": "officer", "name": name, "team": team }))
            .await
    }

    async fn source_unit_system(&self, unit: &Uscc) -> String {
        self.token(json!({ "role": "source_unit_system", "name": "site:1", "unit": unit.as_str() }))
            .await
    }

    /// Writes a document through the hub as `principal`, as a phone's sync would.
    async fn write(&self, id: DocumentId, changes: Vec<u8>, principal: Principal) {
        let answer = tokio::time::timeout(
            Duration::from_secs(30),
            self.state.sync.write(id, changes, principal),
        )
        .await
        .expect("the hub answers")
        .expect("the hub runs");
        answer.expect("the hub stores the document");
    }

    /// Syncs a unit profile of `kind` in the test township, written by a county supervisor.
    async fn unit_profile(&self, unit: &Uscc, kind: SourceUnitKind, seed: u64) -> DocumentId {
        use rand::SeedableRng;
        let id = DocumentId::generate(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let by = PrincipalId::new("sup:county").unwrap();
        let header = Header {
            kind: DocKind::Unit,
            schema: SCHEMA_VERSION,
            scope: Scope::township("140522".parse().unwrap(), township()).unwrap(),
            team: None,
            unit: Some(unit.clone()),
            parent: None,
            created_by: by.clone(),
            created_at_ms: 1,
        };
        let profile = UnitProfile {
            name: "阳城县某石料厂".to_owned(),
            kind,
            township: township(),
            supervising_department: None,
            address: "町店镇".to_owned(),
            location: None,
            listed: true,
        };
        let doc = TypedDoc::create(id, ActorId::random(), &header, &profile).unwrap();
        let supervisor = Principal::Supervisor {
            id: by,
            scope: Scope::parse("140522").unwrap(),
        };
        self.write(id, doc.automerge().save(), supervisor).await;
        id
    }
}

/// A departure alert raised at `at_ms`, stored directly (as the weighing ingest will).
fn departure(unit: &Uscc, record: &str, plate: &str, j: Option<Jurisdiction>, at_ms: u64) -> Alert {
    Alert {
        id: departure_alert_id(unit, record),
        kind: AlertKind::OverLimitDeparture,
        status: AlertStatus::Open,
        unit: unit.clone(),
        unit_name: None,
        jurisdiction: j,
        recipients: recipients(j),
        raised_at_ms: at_ms,
        departure: Some(Departure {
            record_id: record.to_owned(),
            plate: plate.to_owned(),
            weighed_at_ms: i64::try_from(at_ms).unwrap(),
            exit_at_ms: None,
            gross_kg: 52_300,
            limit_kg: 49_000,
            excess_kg: 3_300,
            rate_bp: 673,
            configuration_assumed: true,
            year_count: 1,
        }),
        interruption: None,
        dispatched_to: None,
        case: None,
        history: vec![AlertEvent {
            at_ms,
            by: server(),
            action: AlertAction::Raised,
        }],
    }
}

fn interruption(unit: &Uscc, at_ms: u64) -> Alert {
    Alert {
        id: interruption_alert_id(unit, EquipmentKind::Video, at_ms - HOUR),
        kind: AlertKind::UploadInterrupted,
        departure: None,
        interruption: Some(Interruption {
            equipment: EquipmentKind::Video,
            last_seen_ms: Some(at_ms - HOUR),
            silent_ms: HOUR,
            resumed_at_ms: None,
        }),
        ..departure(unit, "-", "-", None, at_ms)
    }
}

/// Three alerts: a quarry's departure in the township (oldest), a coal mine's departure
/// (acknowledged), an unregistered unit's interruption (newest).
fn seed(h: &Harness) -> [String; 3] {
    let quarry = departure(
        &unit(1),
        "r1",
        "晋E12345",
        Some(Jurisdiction::Township(township())),
        MIDNIGHT + HOUR,
    );
    let mut coal = departure(
        &unit(2),
        "r2",
        "晋E99999",
        Some(Jurisdiction::EmergencyManagementBureau),
        MIDNIGHT + 2 * HOUR,
    );
    coal.status = AlertStatus::Acknowledged;
    let silent = interruption(&unit(3), MIDNIGHT + 3 * HOUR);
    for a in [&quarry, &coal, &silent] {
        assert!(h.state.ingest.alerts.insert(a).unwrap());
    }
    [quarry.id, coal.id, silent.id]
}

#[tokio::test]
async fn each_filter_narrows_the_list() {
    let h = harness().await;
    let [quarry, coal, silent] = seed(&h);
    let county = h.supervisor("sup:county", "140522").await;
    let list = |query: String| {
        let h = &h;
        let county = county.clone();
        async move { h.get(&format!("/v1/alerts{query}"), &county).await }
    };
    let a = list(String::new()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.ids(),
        [silent.as_str(), coal.as_str(), quarry.as_str()],
        "newest first"
    );
    assert_eq!(
        list("?status=acknowledged".into()).await.ids(),
        [coal.as_str()]
    );
    assert_eq!(
        list("?status=open".into()).await.ids(),
        [silent.as_str(), quarry.as_str()]
    );
    assert_eq!(
        list(format!("?jurisdiction=township:{TOWNSHIP}"))
            .await
            .ids(),
        [quarry.as_str()]
    );
    assert_eq!(
        list("?jurisdiction=emergency_management_bureau".into())
            .await
            .ids(),
        [coal.as_str()]
    );
    assert_eq!(
        list("?jurisdiction=county_office".into()).await.ids(),
        [silent.as_str()],
        "units without a profile are the county office's"
    );
    assert!(
        list("?jurisdiction=development_zone".into())
            .await
            .ids()
            .is_empty()
    );
    assert_eq!(
        list(format!("?unit={}", unit(2))).await.ids(),
        [coal.as_str()]
    );
    assert_eq!(
        list(format!("?plate={}", encode("晋e·12345"))).await.ids(),
        [quarry.as_str()],
        "the plate is normalised"
    );
    assert_eq!(
        list(format!(
            "?from_ms={}&to_ms={}",
            MIDNIGHT + 2 * HOUR,
            MIDNIGHT + 3 * HOUR
        ))
        .await
        .ids(),
        [coal.as_str()]
    );
    assert_eq!(
        list("?limit=2".into()).await.ids(),
        [silent.as_str(), coal.as_str()]
    );
    assert_eq!(
        list(format!("?status=open&unit={}", unit(1))).await.ids(),
        [quarry.as_str()]
    );

    for (query, needle) in [
        (format!("?plate={}", encode("晋E1234")), "plate"),
        ("?plate=12345".to_owned(), "plate"),
        ("?jurisdiction=township:140522".to_owned(), "township"),
        ("?jurisdiction=police".to_owned(), "jurisdiction"),
        ("?unit=123".to_owned(), "unit"),
        ("?status=lost".to_owned(), "status"),
        ("?limit=0".to_owned(), "limit"),
        ("?limit=1001".to_owned(), "limit"),
        ("?plates=x".to_owned(), "plates"),
    ] {
        let a = list(query.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {}", a.body);
        assert_eq!(a.code(), "invalid_request", "{query}");
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
}

#[tokio::test]
async fn each_sees_what_is_routed_or_dispatched_to_it() {
    let h = harness().await;
    let [quarry, coal, silent] = seed(&h);
    let county = h.supervisor("sup:county", "140522").await;
    let town = h
        .supervisor("sup:town", &format!("140522/township/{TOWNSHIP}"))
        .await;
    let other_town = h
        .supervisor("sup:other-town", "140522/township/140522101")
        .await;
    let coal_dept = h
        .supervisor("sup:coal", "140522/dept/emergency_management")
        .await;
    let team1 = h.officer("officer:wang", "team-1").await;
    let team2 = h.officer("officer:li", "team-2").await;

    assert_eq!(h.get("/v1/alerts", &county).await.ids().len(), 3);
    assert_eq!(h.get("/v1/alerts", &town).await.ids(), [quarry.as_str()]);
    assert!(h.get("/v1/alerts", &other_town).await.ids().is_empty());
    assert_eq!(h.get("/v1/alerts", &coal_dept).await.ids(), [coal.as_str()]);
    assert!(h.get("/v1/alerts", &team1).await.ids().is_empty());

    let a = h
        .post(
            &format!("/v1/alerts/{quarry}/dispatch"),
            &town,
            json!({ "team": "team-1" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(h.get("/v1/alerts", &team1).await.ids(), [quarry.as_str()]);
    assert!(h.get("/v1/alerts", &team2).await.ids().is_empty());

    // One alert: the same answer whether hidden or missing.
    assert_eq!(
        h.get(&format!("/v1/alerts/{coal}"), &coal_dept).await.body["id"],
        json!(coal)
    );
    for (path, token) in [
        (format!("/v1/alerts/{coal}"), &town),
        (format!("/v1/alerts/{silent}"), &coal_dept),
        (format!("/v1/alerts/{quarry}"), &team2),
        (
            "/v1/alerts/dep-000000000000000000000000".to_owned(),
            &county,
        ),
    ] {
        let a = h.get(&path, token).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.code(), "alert_not_found");
    }
    let a = h.get(&format!("/v1/alerts/{quarry}"), &team1).await;
    assert_eq!(a.body["dispatched_to"], "team-1");

    let enterprise = h
        .token(json!({ "role": "enterprise", "name": "ent:1", "unit": unit(1).as_str() }))
        .await;
    let site = h.source_unit_system(&unit(1)).await;
    for token in [&enterprise, &site, &ADMIN.to_owned()] {
        for path in ["/v1/alerts".to_owned(), format!("/v1/alerts/{quarry}")] {
            let a = h.get(&path, token).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(a.code(), "forbidden");
        }
    }
    let a = h
        .call(Method::GET, "/v1/alerts", "zat_nonsense", None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn acknowledge_dispatch_and_close_with_the_case_that_handled_it() {
    let h = harness().await;
    let [quarry, _, silent] = seed(&h);
    let town = h
        .supervisor("sup:town", &format!("140522/township/{TOWNSHIP}"))
        .await;
    let county = h.supervisor("sup:county", "140522").await;
    let wang = h.officer("officer:wang", "team-1").await;
    let li = h.officer("officer:li", "team-2").await;
    let path = |action: &str| format!("/v1/alerts/{quarry}/{action}");

    // Officers neither acknowledge nor dispatch.
    let a = h.post(&path("acknowledge"), &wang, json!({})).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    h.clock.advance(Duration::from_secs(60));
    let a = h.post(&path("acknowledge"), &town, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "acknowledged");
    let history = a.body["history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["action"], "acknowledged");
    assert_eq!(history[1]["by"], "sup:town");
    assert_eq!(history[1]["at_ms"], json!(MIDNIGHT + 10 * HOUR + MINUTE));
    let again = h.post(&path("acknowledge"), &town, json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.body["history"].as_array().unwrap().len(),
        2,
        "idempotent"
    );

    let a = h
        .post(&path("dispatch"), &town, json!({ "team": "team-2" }))
        .await;
    assert_eq!(a.body["status"], "dispatched");
    let a = h
        .post(&path("dispatch"), &town, json!({ "team": "team-1" }))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["dispatched_to"], "team-1");
    let teams: Vec<&Value> = a.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "dispatched")
        .map(|e| &e["team"])
        .collect();
    assert_eq!(
        teams,
        [&json!("team-2"), &json!("team-1")],
        "re-dispatch recorded"
    );
    let a = h
        .post(&path("dispatch"), &town, json!({ "team": "team 1!" }))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);

    // A real case about the quarry, written through the hub by officer Wang of team 1, and
    // one about nothing this alert concerns.
    let mut case = zhichao_core::fixtures::case(7, "officer:wang", "team-1");
    #[expect(clippy::result_large_err, reason = "the signature is core's")]
    let about_the_quarry = |c: &mut zhichao_core::docs::Case| {
        c.source_unit = Some(unit(1));
        Ok(())
    };
    case.update(
        &zhichao_core::fixtures::pid("officer:wang"),
        1,
        about_the_quarry,
    )
    .unwrap();
    h.write(
        case.id(),
        case.automerge().save(),
        zhichao_core::fixtures::officer("officer:wang", "team-1"),
    )
    .await;
    let unrelated = zhichao_core::fixtures::case(8, "officer:wang", "team-1");
    h.write(
        unrelated.id(),
        unrelated.automerge().save(),
        zhichao_core::fixtures::officer("officer:wang", "team-1"),
    )
    .await;
    let profile = h.unit_profile(&unit(1), SourceUnitKind::Quarry, 99).await;
    let rules = zhichao_core::docs::rules_document_id(&h.state.config.county);
    let missing = {
        use rand::SeedableRng;
        DocumentId::generate(&mut rand::rngs::StdRng::seed_from_u64(12_345))
    };

    // Team 2 no longer sees it.
    let a = h
        .post(
            &path("close"),
            &li,
            json!({ "case": case.id().to_string() }),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = h
        .post(&path("close"), &wang, json!({ "note": "done" }))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("case")
    );
    for not_a_case in [missing, profile, rules] {
        let a = h
            .post(
                &path("close"),
                &wang,
                json!({ "case": not_a_case.to_string() }),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{not_a_case}");
        assert_eq!(a.code(), "invalid_case");
    }
    // A case about another truck and no unit closes nothing.
    let a = h
        .post(
            &path("close"),
            &wang,
            json!({ "case": unrelated.id().to_string() }),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(a.code(), "case_unrelated");
    let a = h
        .post(
            &path("close"),
            &wang,
            json!({ "case": case.id().to_string(), "note": "a\u{1b}[2J" }),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "control characters in the note"
    );
    // A township supervisor may not read a county-wide case, so cannot close with it.
    let a = h
        .post(
            &path("close"),
            &town,
            json!({ "case": case.id().to_string() }),
        )
        .await;
    assert_eq!(a.code(), "invalid_case");
    let a = h
        .post(
            &path("close"),
            &wang,
            json!({ "case": case.id().to_string(), "note": "x".repeat(501) }),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let unchanged = h.state.ingest.alerts.get(&quarry).unwrap().unwrap();
    assert_eq!(
        unchanged.status,
        AlertStatus::Dispatched,
        "refusals change nothing"
    );

    let a = h
        .post(
            &path("close"),
            &wang,
            json!({ "case": case.id().to_string(), "note": " 已立案查处 " }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "closed");
    assert_eq!(a.body["case"], json!(case.id().to_string()));
    let last = a.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "closed");
    assert_eq!(last["by"], "officer:wang");
    assert_eq!(last["note"], "已立案查处");
    let stored = h.state.ingest.alerts.get(&quarry).unwrap().unwrap();
    assert_eq!(stored.case, Some(case.id()));

    for (action, token, body) in [
        ("acknowledge", &town, json!({})),
        ("dispatch", &town, json!({ "team": "team-2" })),
        ("close", &wang, json!({ "case": case.id().to_string() })),
        ("close", &county, json!({ "case": case.id().to_string() })),
    ] {
        let a = h.post(&path(action), token, body).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{action}");
        assert_eq!(a.code(), "conflict");
    }

    // An interruption closes with a note alone, not with nothing.
    let p = format!("/v1/alerts/{silent}/close");
    let a = h.post(&p, &county, json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = h.post(&p, &county, json!({ "note": "   " })).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "a blank note is no note");
    let a = h.post(&p, &county, json!({ "note": "停电，已恢复" })).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["status"], "closed");
    assert!(a.body.get("case").is_none());
}

#[tokio::test]
async fn heartbeats_are_stored_and_checked() {
    let h = harness().await;
    let site = h.source_unit_system(&unit(5)).await;
    let now = MIDNIGHT + 10 * HOUR;
    let a = h
        .post(
            "/v1/heartbeats",
            &site,
            json!({ "equipment": [
                { "kind": "weighing" },
                { "kind": "video", "ok": false, "detail": "2号摄像机无画面" },
                { "kind": "display", "ok": true }
            ]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body, json!({ "received_at_ms": now }));
    let weighing = heartbeats::state(&h.state.ingest, &unit(5), EquipmentKind::Weighing)
        .unwrap()
        .unwrap();
    assert_eq!(weighing.last_ok_ms, Some(now));
    assert_eq!(weighing.first_seen_ms, now);
    let video = heartbeats::state(&h.state.ingest, &unit(5), EquipmentKind::Video)
        .unwrap()
        .unwrap();
    assert_eq!(video.last_ok_ms, None, "a fault is not a sign of working");
    let report = video.last_report.unwrap();
    assert!(!report.ok);
    assert_eq!(report.detail.as_deref(), Some("2号摄像机无画面"));
    assert_eq!(heartbeats::states(&h.state.ingest).unwrap().len(), 3);
    assert!(
        heartbeats::state(&h.state.ingest, &unit(6), EquipmentKind::Weighing)
            .unwrap()
            .is_none()
    );

    for body in [
        json!({ "equipment": [] }),
        json!({ "equipment": [{ "kind": "video" }, { "kind": "video" }] }),
        json!({ "equipment": [{ "kind": "video", "detail": "坏".repeat(201) }] }),
        // Terminal escapes and line breaks: refused like the weighing texts.
        json!({ "equipment": [{ "kind": "video", "ok": false,
                                "detail": "2号\u{1b}[2J摄像机\n无画面" }] }),
        json!({ "equipment": [{ "kind": "radar" }] }),
        json!({ "equipment": [{ "kind": "video" }], "unit": "x" }),
        json!({ "equipment": [{ "kind": "weighing" }, { "kind": "video" },
                              { "kind": "display" }, { "kind": "weighing" }] }),
    ] {
        let a = h.post("/v1/heartbeats", &site, body.clone()).await;
        assert!(a.status.is_client_error(), "{body}: {}", a.status);
        assert_eq!(a.code(), "invalid_request", "{body}");
    }
    let video = heartbeats::state(&h.state.ingest, &unit(5), EquipmentKind::Video)
        .unwrap()
        .unwrap();
    assert_eq!(
        video.last_report.unwrap().detail.as_deref(),
        Some("2号摄像机无画面"),
        "a refused report changes nothing"
    );
    let supervisor = h.supervisor("sup:county", "140522").await;
    let a = h
        .post(
            "/v1/heartbeats",
            &supervisor,
            json!({ "equipment": [{ "kind": "video" }] }),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "forbidden");
}

fn working(kind: EquipmentKind) -> EquipmentReport {
    EquipmentReport {
        kind,
        ok: true,
        detail: None,
    }
}

#[tokio::test]
async fn one_silence_in_operating_hours_raises_one_alert_until_resumed() {
    let h = harness().await;
    let quarry = unit(10);
    h.unit_profile(&quarry, SourceUnitKind::Quarry, 10).await;
    let ingest = &h.state.ingest;
    let at = |minutes: u64| MIDNIGHT + 10 * HOUR + minutes * MINUTE;
    heartbeats::record_report(ingest, &quarry, &working(EquipmentKind::Video), at(0)).unwrap();

    assert!(
        check_silence(&h.state, 0, at(15)).unwrap().is_empty(),
        "15 min is the gap"
    );
    assert!(
        check_silence(&h.state, at(10), at(16)).unwrap().is_empty(),
        "the server's own downtime is not counted"
    );
    let raised = check_silence(&h.state, 0, at(16)).unwrap();
    assert_eq!(raised.len(), 1);
    let alert = &raised[0];
    assert_eq!(
        alert.id,
        interruption_alert_id(&quarry, EquipmentKind::Video, at(0))
    );
    assert_eq!(alert.kind, AlertKind::UploadInterrupted);
    assert_eq!(alert.jurisdiction, Some(Jurisdiction::Township(township())));
    assert_eq!(alert.unit_name.as_deref(), Some("阳城县某石料厂"));
    let i = alert.interruption.as_ref().unwrap();
    assert_eq!(
        (i.equipment, i.last_seen_ms, i.silent_ms),
        (EquipmentKind::Video, Some(at(0)), 16 * MINUTE)
    );
    for later in [17, 60, 300] {
        assert!(
            check_silence(&h.state, 0, at(later)).unwrap().is_empty(),
            "one alert per silence"
        );
    }
    let town = h
        .supervisor("sup:town", &format!("140522/township/{TOWNSHIP}"))
        .await;
    assert_eq!(h.get("/v1/alerts", &town).await.ids(), [alert.id.as_str()]);

    // It reports again: the alert is marked resumed and stays open.
    h.clock.set(at(30));
    let site = h.source_unit_system(&quarry).await;
    let a = h
        .post(
            "/v1/heartbeats",
            &site,
            json!({ "equipment": [{ "kind": "video" }] }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let stored = ingest.alerts.get(&alert.id).unwrap().unwrap();
    assert_eq!(stored.status, AlertStatus::Open);
    assert_eq!(
        stored.interruption.as_ref().unwrap().resumed_at_ms,
        Some(at(30))
    );
    assert_eq!(stored.history.last().unwrap().action, AlertAction::Resumed);
    // A second report does not mark it again.
    heartbeats::record_report(ingest, &quarry, &working(EquipmentKind::Video), at(31)).unwrap();
    assert_eq!(
        ingest.alerts.get(&alert.id).unwrap().unwrap().history.len(),
        2
    );
    assert!(check_silence(&h.state, 0, at(40)).unwrap().is_empty());

    // A fault report does not end the silence; an accepted weighing upload does.
    heartbeats::record_report(ingest, &quarry, &working(EquipmentKind::Weighing), at(31)).unwrap();
    let fault = EquipmentReport {
        kind: EquipmentKind::Video,
        ok: false,
        detail: Some("无画面".to_owned()),
    };
    heartbeats::record_report(ingest, &quarry, &fault, at(40)).unwrap();
    heartbeats::seen(ingest, &quarry, EquipmentKind::Weighing, at(45)).unwrap();
    let raised = check_silence(&h.state, 0, at(47)).unwrap();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(
        raised[0].id,
        interruption_alert_id(&quarry, EquipmentKind::Video, at(31)),
        "a new silence, a new alert"
    );
}

#[tokio::test]
async fn only_operating_hours_count() {
    let h = harness().await;
    let ingest = &h.state.ingest;
    let (evening, early) = (unit(20), unit(21));
    heartbeats::record_report(
        ingest,
        &evening,
        &working(EquipmentKind::Weighing),
        MIDNIGHT + 21 * HOUR + 50 * MINUTE,
    )
    .unwrap();
    heartbeats::record_report(
        ingest,
        &early,
        &working(EquipmentKind::Display),
        MIDNIGHT + 3 * HOUR,
    )
    .unwrap();
    // Silent since 03:00: counted from 06:00.
    assert!(
        check_silence(&h.state, 0, MIDNIGHT + 6 * HOUR + 15 * MINUTE)
            .unwrap()
            .is_empty()
    );
    let raised = check_silence(&h.state, 0, MIDNIGHT + 6 * HOUR + 16 * MINUTE).unwrap();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].unit, early);
    assert_eq!(
        raised[0].interruption.as_ref().unwrap().silent_ms,
        16 * MINUTE
    );

    // Silent since 20:00: two hours over by closing, but nothing is raised while closed.
    let late = unit(22);
    heartbeats::record_report(
        ingest,
        &late,
        &working(EquipmentKind::Video),
        MIDNIGHT + 20 * HOUR,
    )
    .unwrap();
    let next = MIDNIGHT + 24 * HOUR;
    for closed in [
        MIDNIGHT + 22 * HOUR + 30 * MINUTE,
        next + HOUR,
        next + 5 * HOUR + 59 * MINUTE,
    ] {
        assert!(
            check_silence(&h.state, 0, closed).unwrap().is_empty(),
            "nothing is raised while units are closed"
        );
    }
    let raised = check_silence(&h.state, 0, next + 6 * HOUR).unwrap();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].unit, late, "raised at opening");
    assert_eq!(raised[0].interruption.as_ref().unwrap().silent_ms, 2 * HOUR);
    // 21:50-22:00 and 06:00-06:05: 15 min, not more than the gap.
    assert!(
        check_silence(&h.state, 0, next + 6 * HOUR + 5 * MINUTE)
            .unwrap()
            .is_empty()
    );
    let raised = check_silence(&h.state, 0, next + 6 * HOUR + 6 * MINUTE).unwrap();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].unit, evening);
    assert_eq!(
        raised[0].interruption.as_ref().unwrap().silent_ms,
        16 * MINUTE
    );
    assert_eq!(
        raised[0].jurisdiction, None,
        "no profile: the county office alone"
    );
    assert_eq!(raised[0].recipients, [Jurisdiction::CountyOffice]);
}

/// The server's clock ran a day ahead while heartbeats came in, then was corrected: the
/// silence after the correction is still noticed (a last working time in the future must not
/// hide every silence until real time catches up with it).
#[tokio::test]
async fn a_silence_after_the_servers_clock_went_back_raises_an_alert() {
    let h = harness().await;
    let mine = unit(11);
    let ingest = &h.state.ingest;
    let at = |minutes: u64| MIDNIGHT + 10 * HOUR + minutes * MINUTE;
    let ahead = 24 * HOUR;
    // Reports stamped by a clock a day ahead (fault reports only for the camera, working
    // reports for the video recorder).
    let faulty = EquipmentReport {
        kind: EquipmentKind::Display,
        ok: false,
        detail: Some("no picture".to_owned()),
    };
    heartbeats::record_report(ingest, &mine, &working(EquipmentKind::Video), ahead + at(0))
        .unwrap();
    heartbeats::record_report(ingest, &mine, &faulty, ahead + at(0)).unwrap();
    // Corrected: the last reports come at the right time, then silence.
    heartbeats::record_report(ingest, &mine, &working(EquipmentKind::Video), at(5)).unwrap();
    heartbeats::record_report(ingest, &mine, &faulty, at(5)).unwrap();
    let raised = check_silence(&h.state, 0, at(30)).unwrap();
    let mut kinds: Vec<_> = raised
        .iter()
        .map(|a| a.interruption.as_ref().unwrap().equipment)
        .collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(
        kinds,
        [EquipmentKind::Display, EquipmentKind::Video],
        "{raised:?}"
    );
    let video = raised
        .iter()
        .find(|a| a.interruption.as_ref().unwrap().equipment == EquipmentKind::Video)
        .unwrap();
    assert_eq!(
        video.interruption.as_ref().unwrap().last_seen_ms,
        Some(at(5))
    );
}
