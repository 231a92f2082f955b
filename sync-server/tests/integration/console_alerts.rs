//! The console's alert, source-unit and home pages, and `GET /v1/units`, `GET /v1/stats`,
//! through `tower::ServiceExt::oneshot`: a real departure alert raised by a weighing upload
//! and a real heartbeat, who sees what (county vs another township: 404), the action forms
//! with and without the CSRF token, closing with an unrelated case, the CSV export (BOM,
//! formula injection), the SVG chart, the JSON routes' roles and the OpenAPI document.

use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::docs::{DocKind, Header, SCHEMA_VERSION, TypedDoc, UnitProfile};
use zhichao_core::ids::{DocumentId, PrincipalId, TeamId};
use zhichao_core::jurisdiction::SourceUnitKind;
use zhichao_core::scope::Scope;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::ServerConfig;
use zhichao_server::console::layout::tonnes;
use zhichao_server::console::session::testing::login;
use zhichao_server::ingest::alerts::{Alert, AlertStatus};
use zhichao_server::{AppState, app};

/// 2026-11-29 12:00 in Beijing.
const NOON_MS: u64 = 1_795_924_800_000;
/// An hour before.
const WEIGHED_MS: i64 = 1_795_921_200_000;
const TOWNSHIP_A: &str = "140522100";
const TOWNSHIP_B: &str = "140522101";
const QUARRY: &str = "阳城县<北留>石料厂";
const PLATE: &str = "晋E12345";

fn uscc(n: u32) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let code = format!("{first17}{}", check_char(&first17).unwrap());
    code.parse().unwrap()
}

fn pid(s: &str) -> PrincipalId {
    PrincipalId::new(s).unwrap()
}

fn supervisor(name: &str, scope: &str) -> Principal {
    Principal::Supervisor {
        id: pid(name),
        scope: Scope::parse(scope).unwrap(),
    }
}

fn county() -> Principal {
    supervisor("sup:county", "140522")
}

fn town_b() -> Principal {
    supervisor("sup:town-b", &format!("140522/township/{TOWNSHIP_B}"))
}

struct Harness {
    state: AppState,
    alert: String,
}

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Page {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn page(&self, path: &str, who: Option<&Principal>) -> Page {
        let mut request = Request::builder().method(Method::GET).uri(path);
        if let Some(p) = who {
            request = request.header(header::COOKIE, login(&self.state, p.clone()).0);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Posts a form as `who`, with the session's CSRF token unless `csrf` is false.
    async fn form(&self, path: &str, who: &Principal, fields: &str, csrf: bool) -> Page {
        let (cookie, token) = login(&self.state, who.clone());
        let body = if csrf {
            format!("csrf={token}&{fields}")
        } else {
            fields.to_owned()
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    async fn token(&self, principal: Principal) -> String {
        self.state
            .auth
            .issue(principal, None, Duration::from_secs(3_600), NOON_MS)
            .await
            .unwrap()
            .token
    }

    async fn json(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Page {
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
        self.send(request).await
    }

    /// Registers a unit in township A as a county supervisor does (a `unit` document).
    async fn register(&self, unit: &Uscc, name: &str) {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&unit.as_str().as_bytes()[2..18]);
        let id = DocumentId::from_bytes(bytes);
        let header = Header {
            kind: DocKind::Unit,
            schema: SCHEMA_VERSION,
            scope: Scope::township("140522".parse().unwrap(), TOWNSHIP_A.parse().unwrap()).unwrap(),
            team: None,
            unit: Some(unit.clone()),
            parent: None,
            created_by: pid("sup:county"),
            created_at_ms: 1_795_000_000_000,
        };
        let profile = UnitProfile {
            name: name.to_owned(),
            kind: SourceUnitKind::Quarry,
            township: TOWNSHIP_A.parse().unwrap(),
            supervising_department: None,
            address: "阳城县北留镇".to_owned(),
            location: None,
            listed: true,
        };
        let doc = TypedDoc::create(id, ActorId::random(), &header, &profile).unwrap();
        self.state
            .sync
            .write(id, doc.automerge().save(), county())
            .await
            .unwrap()
            .unwrap();
    }

    /// Writes a case as officer Wang of team 1, about `unit` when given.
    async fn case(&self, seed: u64, unit: Option<&Uscc>) -> DocumentId {
        let mut case = zhichao_core::fixtures::case(seed, "officer:wang", "team-1");
        if let Some(unit) = unit {
            let unit = unit.clone();
            #[expect(clippy::result_large_err, reason = "the signature is core's")]
            let about = move |c: &mut zhichao_core::docs::Case| {
                c.source_unit = Some(unit.clone());
                Ok(())
            };
            case.update(&pid("officer:wang"), 1, about).unwrap();
        }
        self.state
            .sync
            .write(
                case.id(),
                case.automerge().save(),
                zhichao_core::fixtures::officer("officer:wang", "team-1"),
            )
            .await
            .unwrap()
            .unwrap();
        case.id()
    }

    fn stored(&self) -> Alert {
        self.state.ingest.alerts.get(&self.alert).unwrap().unwrap()
    }
}

/// A server at noon with two units in township A — a quarry (whose weighbridge uploads one
/// over-limit departure and whose video reports a heartbeat) and one whose name starts with
/// `=` — and the departure alert.
async fn harness() -> Harness {
    let state = AppState::temporary(ServerConfig::default(), Arc::new(ManualClock::new(NOON_MS)))
        .await
        .expect("state");
    let mut h = Harness {
        state,
        alert: String::new(),
    };
    h.register(&uscc(1), QUARRY).await;
    h.register(&uscc(2), "=1+2石料厂").await;
    let site = h
        .token(Principal::SourceUnitSystem {
            id: pid("sus:1"),
            unit: uscc(1),
        })
        .await;
    let record = json!({
        "record_id": "r-1",
        "lane": "1号磅",
        "plate": PLATE,
        "vehicle": {"axles": 6},
        "gross_kg": 52_300,
        "cargo": "石料",
        "weighed_at_ms": WEIGHED_MS,
        "exit_at_ms": WEIGHED_MS + 60_000,
        "result": "passed",
    });
    let up = h
        .json(Method::POST, "/v1/weighings", &site, Some(record))
        .await;
    assert!(up.status.is_success(), "{}: {}", up.status, up.body);
    let beat = h
        .json(
            Method::POST,
            "/v1/heartbeats",
            &site,
            Some(json!({"equipment": [{"kind": "video", "ok": true}]})),
        )
        .await;
    assert!(beat.status.is_success(), "{}: {}", beat.status, beat.body);
    let alerts = h
        .state
        .ingest
        .alerts
        .list(0, u64::MAX, 10, |_| true)
        .unwrap();
    assert_eq!(alerts.len(), 1, "one departure alert");
    h.alert = alerts[0].id.clone();
    h
}

#[tokio::test]
async fn the_county_sees_the_departure_listed_and_in_detail() {
    let h = harness().await;
    let list = h.page("/console/alerts", Some(&county())).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains(&h.alert), "{}", list.body);
    assert!(list.body.contains(PLATE));
    assert!(
        list.body.contains("阳城县&lt;北留&gt;石料厂"),
        "escaped name"
    );
    assert!(list.body.contains("52.30 t") && list.body.contains("49.00 t"));
    let excess = h.stored().departure.unwrap().excess_kg;
    assert!(list.body.contains(&tonnes(excess)), "excess shown");
    // Filters: another plate, or closed only, leave it out; the unit's name finds it.
    let other = h
        .page("/console/alerts?plate=%E6%99%8BE99999", Some(&county()))
        .await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.body.contains(&h.alert));
    let closed = h
        .page("/console/alerts?status=closed", Some(&county()))
        .await;
    assert!(!closed.body.contains(&h.alert));
    let by_name = h
        .page("/console/alerts?unit=%E5%8C%97%E7%95%99", Some(&county()))
        .await;
    assert!(by_name.body.contains(&h.alert), "{}", by_name.body);
    let bad = h
        .page("/console/alerts?from=yesterday", Some(&county()))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let detail = h
        .page(&format!("/console/alerts/{}", h.alert), Some(&county()))
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert!(detail.body.contains("超限出场"));
    assert!(detail.body.contains(PLATE));
    assert!(
        detail.body.contains("name=\"csrf\""),
        "forms carry the token"
    );
    assert!(detail.body.contains("/acknowledge") && detail.body.contains("/dispatch"));
}

#[tokio::test]
async fn another_township_neither_sees_nor_acts_on_it() {
    let h = harness().await;
    let town_a = supervisor("sup:town-a", &format!("140522/township/{TOWNSHIP_A}"));
    let a = h.page("/console/alerts", Some(&town_a)).await;
    assert!(a.body.contains(&h.alert), "township A's own unit");
    // Its jurisdiction filter offers its own township only, not the departments it cannot see.
    assert!(
        a.body.contains(&format!("value=\"township:{TOWNSHIP_A}\"")),
        "{}",
        a.body
    );
    assert!(!a.body.contains("value=\"emergency_management_bureau\""));
    let all = h.page("/console/alerts", Some(&county())).await;
    assert!(all.body.contains("value=\"emergency_management_bureau\""));
    let b = h.page("/console/alerts", Some(&town_b())).await;
    assert_eq!(b.status, StatusCode::OK);
    assert!(!b.body.contains(&h.alert), "{}", b.body);
    let detail = h
        .page(&format!("/console/alerts/{}", h.alert), Some(&town_b()))
        .await;
    assert_eq!(detail.status, StatusCode::NOT_FOUND);
    let missing = h
        .page(
            "/console/alerts/dep-000000000000000000000000",
            Some(&county()),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(detail.body, missing.body, "hidden and missing look alike");
    for action in ["acknowledge", "dispatch", "close"] {
        let p = h
            .form(
                &format!("/console/alerts/{}/{action}", h.alert),
                &town_b(),
                "team=team-1&note=x",
                true,
            )
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{action}: {}", p.body);
    }
    assert_eq!(h.stored().status, AlertStatus::Open);
    assert_eq!(h.stored().history.len(), 1);
}

#[tokio::test]
async fn acknowledge_and_dispatch_through_the_forms_need_the_token() {
    let h = harness().await;
    let path = |a: &str| format!("/console/alerts/{}/{a}", h.alert);
    let forged = h
        .form(&path("acknowledge"), &county(), "note=x", false)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = h
        .form(&path("acknowledge"), &county(), "csrf=nope&note=x", false)
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(h.stored().status, AlertStatus::Open, "nothing changed");
    assert_eq!(h.stored().history.len(), 1);

    let p = h
        .form(
            &path("acknowledge"),
            &county(),
            "note=%E5%B7%B2%E7%94%B5%E8%AF%9D%E6%A0%B8%E5%AE%9E",
            true,
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location(), format!("/console/alerts/{}", h.alert));
    assert_eq!(h.stored().status, AlertStatus::Acknowledged);

    let forged = h
        .form(&path("dispatch"), &county(), "team=team-1", false)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(h.stored().status, AlertStatus::Acknowledged);
    let bad_team = h
        .form(&path("dispatch"), &county(), "team=team+1%21", true)
        .await;
    assert_eq!(bad_team.status, StatusCode::BAD_REQUEST);
    let p = h
        .form(&path("dispatch"), &county(), "team=team-1&note=", true)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let stored = h.stored();
    assert_eq!(stored.status, AlertStatus::Dispatched);
    assert_eq!(stored.dispatched_to, Some(TeamId::new("team-1").unwrap()));

    let detail = h
        .page(&format!("/console/alerts/{}", h.alert), Some(&county()))
        .await;
    assert!(
        detail.body.contains("已电话核实"),
        "the note in the history"
    );
    assert!(detail.body.contains("sup:county"));
    assert!(detail.body.contains("team-1"));
}

#[tokio::test]
async fn closing_needs_a_case_about_the_plate_or_the_unit() {
    let h = harness().await;
    let path = format!("/console/alerts/{}/close", h.alert);
    let unrelated = h.case(8, None).await;
    let related = h.case(7, Some(&uscc(1))).await;

    let detail = h
        .page(&format!("/console/alerts/{}", h.alert), Some(&county()))
        .await;
    assert!(
        detail.body.contains(&format!("value=\"{related}\"")),
        "the related case is offered"
    );
    assert!(!detail.body.contains(&format!("value=\"{unrelated}\"")));

    let p = h
        .form(&path, &county(), &format!("case={unrelated}"), true)
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("无关"), "{}", p.body);
    let p = h
        .form(&path, &county(), "case_id=not-a-document", true)
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let p = h.form(&path, &county(), "note=done", true).await;
    assert_eq!(
        p.status,
        StatusCode::BAD_REQUEST,
        "a departure needs its case"
    );
    assert_eq!(h.stored().status, AlertStatus::Open, "still open");

    let p = h
        .form(
            &path,
            &county(),
            &format!("case={unrelated}&case_id={related}"),
            true,
        )
        .await;
    assert_eq!(
        p.status,
        StatusCode::SEE_OTHER,
        "the typed id wins: {}",
        p.body
    );
    let stored = h.stored();
    assert_eq!(stored.status, AlertStatus::Closed);
    assert_eq!(stored.case, Some(related));
    let detail = h
        .page(&format!("/console/alerts/{}", h.alert), Some(&county()))
        .await;
    assert!(detail.body.contains(&format!("/console/cases/{related}")));
    let again = h
        .form(
            &format!("/console/alerts/{}/acknowledge", h.alert),
            &county(),
            "",
            true,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_units_page_and_csv_show_equipment_and_heartbeats() {
    let h = harness().await;
    let p = h.page("/console/units", Some(&county())).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("阳城县&lt;北留&gt;石料厂"));
    assert!(p.body.contains(uscc(1).as_str()));
    assert!(p.body.contains("砂石料场"), "kind in Chinese");
    assert!(
        p.body.contains("2026-11-29 12:00"),
        "last heartbeat: {}",
        p.body
    );
    assert!(p.body.contains("未接入"), "the display never reported");
    let other = h.page("/console/units", Some(&town_b())).await;
    assert!(!other.body.contains(uscc(1).as_str()), "township B's list");

    let csv = h.page("/console/units.csv", Some(&county())).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"units-2026-11-29.csv\""
    );
    assert!(csv.body.starts_with('\u{FEFF}'), "BOM for Excel");
    let lines: Vec<&str> = csv.body.trim_start_matches('\u{FEFF}').lines().collect();
    assert!(
        lines[0].starts_with("单位名称,统一社会信用代码,类型"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    let quarry = lines.iter().find(|l| l.contains(uscc(1).as_str())).unwrap();
    assert!(quarry.starts_with(QUARRY), "{quarry}");
    assert!(quarry.contains("2026-11-29 12:00"));
    assert!(quarry.ends_with(",1"), "one departure this month: {quarry}");
    let injected = lines.iter().find(|l| l.contains(uscc(2).as_str())).unwrap();
    assert!(injected.starts_with("'=1+2石料厂,"), "{injected}");
}

#[tokio::test]
async fn the_home_page_draws_the_departures_by_unit() {
    let h = harness().await;
    let p = h.page("/console/", Some(&county())).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let svg = &p.body[p.body.find("<svg").expect("a chart")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert!(svg.contains("阳城县&lt;北留&gt;石料厂"), "{svg}");
    assert!(!p.body.contains("<script"));
    let b = h.page("/console/", Some(&town_b())).await;
    assert_eq!(b.status, StatusCode::OK);
    assert!(
        !b.body.contains("<svg"),
        "nothing of township A: {}",
        b.body
    );
}

#[tokio::test]
async fn units_and_stats_as_json_are_for_supervisors() {
    let h = harness().await;
    let sup = h.token(county()).await;
    let officer = h
        .token(zhichao_core::fixtures::officer("officer:wang", "team-1"))
        .await;
    let units = h.json(Method::GET, "/v1/units", &sup, None).await;
    assert_eq!(units.status, StatusCode::OK, "{}", units.body);
    let v: Value = serde_json::from_str(&units.body).unwrap();
    let quarry = v["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["uscc"] == uscc(1).as_str())
        .unwrap();
    assert_eq!(quarry["name"], QUARRY);
    assert_eq!(quarry["last_heartbeat_ms"], json!(NOON_MS));
    assert_eq!(quarry["departures_this_month"], 1);
    assert_eq!(quarry["equipment"][0]["equipment"], "weighing");
    assert_eq!(quarry["equipment"][0]["health"], "ok");
    assert_eq!(quarry["equipment"][2]["health"], "unknown");

    let stats = h.json(Method::GET, "/v1/stats", &sup, None).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let s: Value = serde_json::from_str(&stats.body).unwrap();
    assert_eq!(s["day"], "2026-11-29");
    assert_eq!(s["alerts_today"], 1);
    assert_eq!(s["open_alerts"], 1);
    assert_eq!(s["departures_this_month"][0]["unit"], uscc(1).as_str());
    assert_eq!(s["departures_this_month"][0]["count"], 1);

    for path in ["/v1/units", "/v1/stats"] {
        let p = h.json(Method::GET, path, &officer, None).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}: {}", p.body);
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_alert_routes() {
    let h = harness().await;
    let p = h.page("/v1/openapi.json", None).await;
    assert_eq!(p.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&p.body).unwrap();
    for path in [
        "/v1/alerts",
        "/v1/alerts/{id}",
        "/v1/alerts/{id}/acknowledge",
        "/v1/alerts/{id}/dispatch",
        "/v1/alerts/{id}/close",
        "/v1/units",
        "/v1/stats",
    ] {
        assert!(v["paths"][path].is_object(), "{path} missing");
    }
    assert!(v["components"]["schemas"]["Alert"].is_object());
}

#[tokio::test]
async fn every_page_without_a_session_goes_to_the_login() {
    let h = harness().await;
    for path in [
        "/console/".to_owned(),
        "/console/alerts".to_owned(),
        format!("/console/alerts/{}", h.alert),
        "/console/units".to_owned(),
        "/console/units.csv".to_owned(),
    ] {
        let p = h.page(&path, None).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert!(p.location().starts_with("/console/login"), "{path}");
    }
    let p = h
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/console/alerts/{}/acknowledge", h.alert))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("csrf=x"))
                .unwrap(),
        )
        .await;
    assert!(p.status.is_redirection(), "{}", p.status);
    assert_eq!(h.stored().status, AlertStatus::Open);
}
