//! `POST /v1/weighings` through the router: verdicts, idempotency, conflicts kept for audit,
//! batches, departure alerts routed by the unit's profile, the daily watch lists with the
//! plates' yearly counts, repair at restart, and concurrent uploads of one record.

use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zhichao_core::access::Principal;
use zhichao_core::calendar::LocalDay;
use zhichao_core::docs::{
    DocKind, Header, SCHEMA_VERSION, TypedDoc, UnitProfile, WatchEntry, WatchList,
    watchlist_document_id,
};
use zhichao_core::ids::{DocumentId, PrincipalId, TeamId};
use zhichao_core::jurisdiction::{AdminCode, Jurisdiction, SourceUnitKind};
use zhichao_core::rules::RulesConfig;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_core::weighing::{MAX_BATCH_RECORDS, WeighingRecord};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::ServerConfig;
use zhichao_server::ingest::units::UnitInfo;
use zhichao_server::ingest::watchlist;
use zhichao_server::ingest::weighings::Incoming;
use zhichao_server::{AppState, app};

/// 2026-11-29 12:00 in Beijing.
const NOON_MS: u64 = 1_795_924_800_000;
/// An hour before.
const WEIGHED_MS: i64 = 1_795_921_200_000;
const TOWNSHIP: &str = "140522100";

struct Harness {
    state: AppState,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

/// A valid USCC of Yangcheng whose organisation code ends in `n`.
fn uscc(n: u32) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let code = format!("{first17}{}", check_char(&first17).unwrap());
    code.parse().unwrap()
}

fn pid(s: &str) -> PrincipalId {
    PrincipalId::new(s).unwrap()
}

fn supervisor() -> Principal {
    Principal::Supervisor {
        id: pid("sup:county"),
        scope: ServerConfig::default().county,
    }
}

/// A record of a six-axle truck reported by axle count only (limit 49 t): over when the gross
/// is above 49 000 kg.
fn record(id: &str, plate: &str, gross_kg: u32) -> Value {
    json!({
        "record_id": id,
        "lane": "1号磅",
        "plate": plate,
        "vehicle": {"axles": 6},
        "gross_kg": gross_kg,
        "cargo": "原煤",
        "weighed_at_ms": WEIGHED_MS,
        "exit_at_ms": WEIGHED_MS + 60_000,
        "result": "passed",
    })
}

async fn harness_at(config: ServerConfig, now_ms: u64) -> Harness {
    let state = AppState::temporary(config, Arc::new(ManualClock::new(now_ms)))
        .await
        .expect("state");
    Harness { state }
}

async fn harness() -> Harness {
    harness_at(ServerConfig::default(), NOON_MS).await
}

impl Harness {
    async fn token(&self, principal: Principal) -> String {
        self.state
            .auth
            .issue(principal, None, Duration::from_secs(3_600), NOON_MS)
            .await
            .unwrap()
            .token
    }

    async fn system(&self, unit: &Uscc) -> String {
        self.token(Principal::SourceUnitSystem {
            id: pid(&format!("sus:{unit}")),
            unit: unit.clone(),
        })
        .await
    }

    async fn upload(&self, token: &str, body: &Value) -> Answer {
        self.upload_text(token, body.to_string()).await
    }

    async fn upload_text(&self, token: &str, body: String) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/weighings")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        Answer { status, body }
    }

    /// Registers the unit's profile as a supervisor does: a `unit` document through the hub.
    async fn register(&self, unit: &Uscc, name: &str, kind: SourceUnitKind) {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&unit.as_str().as_bytes()[2..18]);
        let id = DocumentId::from_bytes(bytes);
        let header = Header {
            kind: DocKind::Unit,
            schema: SCHEMA_VERSION,
            scope: self.state.config.county,
            team: None,
            unit: Some(unit.clone()),
            parent: None,
            created_by: supervisor().id().clone(),
            created_at_ms: 1_795_000_000_000,
        };
        let profile = UnitProfile {
            name: name.to_owned(),
            kind,
            township: TOWNSHIP.parse().unwrap(),
            supervising_department: None,
            address: "阳城县".to_owned(),
            location: None,
            listed: true,
        };
        let doc = TypedDoc::create(id, ActorId::random(), &header, &profile).unwrap();
        self.state
            .sync
            .write(id, doc.automerge().save(), supervisor())
            .await
            .unwrap()
            .unwrap();
    }

    fn alerts(&self) -> Vec<zhichao_server::ingest::alerts::Alert> {
        self.state
            .ingest
            .alerts
            .list(0, u64::MAX, 1_000, |_| true)
            .unwrap()
    }

    fn watch_list(&self, day: &str) -> Option<WatchList> {
        watchlist::load(&self.state, day.parse().unwrap()).unwrap()
    }
}

#[tokio::test]
async fn a_record_is_stored_with_the_exit_verdict_and_a_retry_is_a_duplicate() {
    let h = harness().await;
    let unit = uscc(1);
    let token = h.system(&unit).await;

    let over = h.upload(&token, &record("r-1", "晋E12345", 52_300)).await;
    assert_eq!(over.status, StatusCode::CREATED, "{}", over.body);
    assert_eq!(over.body["status"], "stored");
    assert_eq!(over.body["record_id"], "r-1");
    assert_eq!(over.body["exit"]["verdict"], "stop");
    assert_eq!(over.body["exit"]["departure"], true);
    assert_eq!(
        over.body["exit"]["display_text"],
        "晋E12345 毛重52.30t 限重49.00t 超限3.30t 禁止出场"
    );
    assert_eq!(over.body["alert_ids"].as_array().unwrap().len(), 1);

    let within = h.upload(&token, &record("r-2", "晋E12346", 48_000)).await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    assert_eq!(within.body["exit"]["verdict"], "pass");
    assert!(
        within.body["exit"]["display_text"]
            .as_str()
            .unwrap()
            .ends_with("准予出场")
    );
    assert!(within.body.get("alert_ids").is_none(), "{}", within.body);

    // A retry after a lost answer, spelt differently: the same record.
    let mut again = record("r-1", "晋e·12345", 52_300);
    again["record_id"] = json!(" r-1 ");
    let retry = h.upload(&token, &again).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.body["status"], "duplicate");
    assert_eq!(retry.body["exit"], over.body["exit"]);
    assert_eq!(retry.body["alert_ids"], over.body["alert_ids"]);
    assert_eq!(h.state.ingest.weighings.len(), 2);
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1, "one alert for the record, retried or not");
    assert_eq!(alerts[0].id, over.body["alert_ids"][0]);
    let stored = h.state.ingest.weighings.get(&unit, "r-1").unwrap().unwrap();
    assert_eq!(stored.record.plate, "晋E12345");
    assert_eq!(stored.received_at_ms, NOON_MS);
}

#[tokio::test]
async fn other_content_under_a_stored_id_is_a_conflict_and_both_versions_are_kept() {
    let h = harness().await;
    let unit = uscc(2);
    let token = h.system(&unit).await;
    let first = h.upload(&token, &record("r-1", "晋E12345", 52_300)).await;
    assert_eq!(first.status, StatusCode::CREATED);

    // The unit "corrects" the record after the alert: refused, kept.
    let corrected = h.upload(&token, &record("r-1", "晋E12345", 48_900)).await;
    assert_eq!(corrected.status, StatusCode::CONFLICT, "{}", corrected.body);
    assert_eq!(corrected.body["error"]["code"], "conflict");
    assert!(
        corrected.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("r-1")
    );
    let again = h.upload(&token, &record("r-1", "晋E12345", 48_900)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let stored = h.state.ingest.weighings.get(&unit, "r-1").unwrap().unwrap();
    assert_eq!(stored.record.gross_kg, 52_300, "the stored version stands");
    let conflicts = h.state.ingest.weighings.conflicts(&unit, "r-1").unwrap();
    assert_eq!(conflicts.len(), 1, "one other version");
    assert_eq!(conflicts[0].record.gross_kg, 48_900);
    assert_eq!(conflicts[0].stored_fingerprint, stored.fingerprint);
    assert_eq!(conflicts[0].received_at_ms, NOON_MS);
    assert_eq!(conflicts[0].attempts, 2);
    assert_eq!(h.alerts().len(), 1);
    // Another unit's record of the same id is its own record.
    let other = h.system(&uscc(3)).await;
    let theirs = h.upload(&other, &record("r-1", "晋E12345", 48_900)).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
}

#[tokio::test]
async fn a_batch_answers_each_record_and_keeps_the_valid_ones() {
    let h = harness().await;
    let unit = uscc(4);
    let token = h.system(&unit).await;
    assert_eq!(
        h.upload(&token, &record("old-1", "晋E00001", 40_000))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        h.upload(&token, &record("old-2", "晋E00002", 40_000))
            .await
            .status,
        StatusCode::CREATED
    );
    let mut misspelt = record("bad-shape", "晋E00003", 40_000);
    misspelt["grosss_kg"] = json!(1);
    let batch = json!({"records": [
        record("new-1", "晋E00004", 52_000),
        record("old-1", "晋E00001", 40_000),
        misspelt,
        "not a record",
        record("bad-content", "晋E00005", 0),
        record("old-2", "晋E00002", 41_000),
        record("new-2", "晋E00006", 30_000),
    ]});
    let a = h.upload(&token, &batch).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let statuses: Vec<&str> = a.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "stored",
            "duplicate",
            "invalid",
            "invalid",
            "invalid",
            "conflict",
            "stored"
        ]
    );
    assert_eq!(
        (
            &a.body["stored"],
            &a.body["duplicates"],
            &a.body["invalid"],
            &a.body["conflicts"]
        ),
        (&json!(2), &json!(1), &json!(3), &json!(1))
    );
    let records = &a.body["records"];
    for (i, r) in records.as_array().unwrap().iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(records[2]["record_id"], "bad-shape");
    assert!(
        records[2]["reason"].as_str().unwrap().contains("grosss_kg"),
        "{}",
        records[2]
    );
    assert!(records[3]["record_id"].is_null());
    assert!(records[4]["reason"].as_str().unwrap().contains("gross_kg"));
    assert_eq!(records[0]["exit"]["verdict"], "stop");
    assert_eq!(records[6]["exit"]["verdict"], "pass");
    assert_eq!(h.state.ingest.weighings.len(), 4);
    assert!(
        h.state
            .ingest
            .weighings
            .get(&unit, "new-2")
            .unwrap()
            .is_some()
    );
    assert!(
        h.state
            .ingest
            .weighings
            .get(&unit, "bad-content")
            .unwrap()
            .is_none()
    );
    assert_eq!(h.alerts().len(), 1, "new-1 only");
}

#[tokio::test]
async fn malformed_bodies_and_oversized_batches_are_refused_and_large_batches_accepted() {
    let h = harness().await;
    let token = h.system(&uscc(5)).await;
    let a = h.upload(&token, &json!([record("r", "晋E12345", 1)])).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"]["code"], "invalid_request");
    let a = h.upload(&token, &json!({"records": {}})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = h.upload(&token, &json!({"records": [], "unit": "x"})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = h.upload_text(&token, "{\"record_id\":".to_owned()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"]["code"], "invalid_json");
    let a = h.upload(&token, &json!({"record_id": "r"})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"]["code"], "invalid_record");
    let a = h.upload(&token, &record("r", "晋E12345", 0)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"]["code"], "invalid_record");
    assert!(h.state.ingest.weighings.is_empty());

    let too_many = json!({"records": vec![json!({}); MAX_BATCH_RECORDS + 1]});
    let a = h.upload(&token, &too_many).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.body["error"]["code"], "too_many_records");

    // Above the global 64 KiB JSON limit: this route takes full batches.
    let records: Vec<Value> = (0..200)
        .map(|i| {
            let mut r = record(&format!("big-{i}"), "晋E12345", 40_000);
            r["cargo"] = json!("原煤".repeat(90));
            r
        })
        .collect();
    let body = json!({ "records": records }).to_string();
    assert!(body.len() > 64 * 1024, "{}", body.len());
    let a = h.upload_text(&token, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["stored"], 200);
}

#[tokio::test]
async fn an_axle_count_alone_is_classified_with_the_assumed_configuration() {
    let h = harness().await;
    let token = h.system(&uscc(6)).await;
    let a = h.upload(&token, &record("axles", "晋E12345", 50_000)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["exit"]["configuration_assumed"], true);
    assert_eq!(a.body["exit"]["limit_kg"], 49_000);
    let mut full = record("full", "晋E12345", 40_000);
    full["vehicle"] = json!({"kind": "articulated", "axles": 6, "drive_axles": 2,
        "single_tyre_axles": 0});
    let a = h.upload(&token, &full).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["exit"]["configuration_assumed"], false);
    let stored = h
        .state
        .ingest
        .alerts
        .list(0, u64::MAX, 10, |_| true)
        .unwrap();
    assert!(stored[0].departure.as_ref().unwrap().configuration_assumed);
}

#[tokio::test]
async fn departure_alerts_go_to_the_supervising_authority_and_the_county_office() {
    let h = harness().await;
    let township: AdminCode = TOWNSHIP.parse().unwrap();
    let cases = [
        (
            uscc(10),
            Some(("某煤矿", SourceUnitKind::CoalMine)),
            vec![
                Jurisdiction::EmergencyManagementBureau,
                Jurisdiction::CountyOffice,
            ],
        ),
        (
            uscc(11),
            Some(("某陶瓷厂", SourceUnitKind::Ceramics)),
            vec![Jurisdiction::DevelopmentZone, Jurisdiction::CountyOffice],
        ),
        (
            uscc(12),
            Some(("某砂石料场", SourceUnitKind::Quarry)),
            vec![Jurisdiction::Township(township), Jurisdiction::CountyOffice],
        ),
        (uscc(13), None, vec![Jurisdiction::CountyOffice]),
    ];
    for (unit, profile, recipients) in cases {
        if let Some((name, kind)) = profile {
            h.register(&unit, name, kind).await;
        }
        let token = h.system(&unit).await;
        let a = h.upload(&token, &record("r-1", "晋E12345", 52_300)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let id = a.body["alert_ids"][0].as_str().unwrap();
        let alert = h.state.ingest.alerts.get(id).unwrap().unwrap();
        assert_eq!(alert.recipients, recipients, "{unit}");
        assert_eq!(alert.unit, unit);
        assert_eq!(alert.unit_name.as_deref(), profile.map(|p| p.0));
        assert_eq!(alert.jurisdiction, profile.map(|_| recipients[0]));
        assert_eq!(alert.raised_at_ms, NOON_MS);
        assert_eq!(alert.status.as_str(), "open");
        assert_eq!(alert.history.len(), 1);
        assert_eq!(alert.history[0].by.as_str(), "server");
        let d = alert.departure.as_ref().unwrap();
        assert_eq!(
            (d.gross_kg, d.limit_kg, d.excess_kg),
            (52_300, 49_000, 3_300)
        );
        assert_eq!(d.record_id, "r-1");
    }
}

#[tokio::test]
async fn only_source_unit_systems_upload() {
    let h = harness().await;
    let body = record("r-1", "晋E12345", 52_300);
    let county = h.state.config.county;
    for principal in [
        supervisor(),
        Principal::Officer {
            id: pid("officer:wang"),
            team: TeamId::new("team-1").unwrap(),
            scope: county,
        },
        Principal::Enterprise {
            id: pid("ent:1"),
            unit: uscc(20),
        },
        Principal::Admin { id: pid("admin") },
    ] {
        let token = h.token(principal).await;
        let a = h.upload(&token, &body).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
        assert_eq!(a.body["error"]["code"], "forbidden");
    }
    let a = h.upload("zat_nope", &body).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(h.state.ingest.weighings.is_empty());
}

#[tokio::test]
async fn departures_are_put_on_the_watch_list_of_their_day_with_the_plates_yearly_count() {
    let h = harness().await;
    let mine = uscc(30);
    h.register(&mine, "某煤矿", SourceUnitKind::CoalMine).await;
    let mine_token = h.system(&mine).await;
    let yard_token = h.system(&uscc(31)).await;
    // Last year's finding does not count this year.
    let mut last_year = record("y-0", "晋E12345", 52_000);
    last_year["weighed_at_ms"] = json!(1_767_110_400_000_i64); // 2025-12-31 00:00 Beijing
    last_year["exit_at_ms"] = json!(1_767_110_460_000_i64);
    assert_eq!(
        h.upload(&mine_token, &last_year).await.status,
        StatusCode::CREATED
    );
    // Three departures in one batch, a blocked truck, a truck within the limit, and a fourth
    // departure of the plate from another unit.
    let mut blocked = record("y-blocked", "晋E12345", 60_000);
    blocked["result"] = json!("blocked");
    blocked["exit_at_ms"] = Value::Null;
    let batch = json!({"records": [
        record("y-1", "晋E12345", 52_000),
        blocked,
        record("y-2", "晋e12345", 53_000),
        record("y-ok", "晋E12345", 40_000),
        record("y-3", "晋E12345", 54_000),
    ]});
    let a = h.upload(&mine_token, &batch).await;
    assert_eq!(a.body["stored"], 5, "{}", a.body);
    let a = h
        .upload(&yard_token, &record("y-4", "晋E12345", 55_000))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let list = h.watch_list("2026-11-29").expect("today's list");
    assert_eq!(list.day, "2026-11-29");
    let plate = zhichao_core::plate::Plate::parse("晋E12345").unwrap();
    let entries: Vec<&WatchEntry> = list.of_plate(&plate);
    assert_eq!(
        list.entries.len(),
        4,
        "departures only: {:?}",
        list.entries.keys()
    );
    let mut counts: Vec<(String, u32, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.record_id.clone(),
                e.year_count,
                e.revocation_threshold_crossed(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("y-1".to_owned(), 1, false),
            ("y-2".to_owned(), 2, false),
            ("y-3".to_owned(), 3, false),
            ("y-4".to_owned(), 4, true),
        ]
    );
    let first = &list.entries[&format!("{mine}/y-1")];
    assert_eq!(first.unit_name, "某煤矿");
    assert_eq!(
        (first.gross_kg, first.limit_kg, first.excess_kg),
        (52_000, 49_000, 3_000)
    );
    assert_eq!(first.weighed_at_ms, WEIGHED_MS);
    assert!(first.configuration_assumed);
    let fourth = &list.entries[&format!("{}/y-4", uscc(31))];
    assert_eq!(fourth.unit_name, "", "no profile synced");
    let alert = h
        .state
        .ingest
        .alerts
        .get(&zhichao_server::ingest::alerts::departure_alert_id(
            &uscc(31),
            "y-4",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(alert.departure.unwrap().year_count, 4);

    let last = h.watch_list("2025-12-31").expect("last year's list");
    assert_eq!(last.entries.len(), 1);
    assert_eq!(last.entries.values().next().unwrap().year_count, 1);

    // The documents are the server's: written by it, with the deterministic id.
    let id = watchlist_document_id(&h.state.config.county, "2026-11-29".parse().unwrap());
    let stored = h.state.docs.load(&id).unwrap().unwrap();
    let doc = TypedDoc::<WatchList>::open(id, stored.doc).unwrap();
    let header = doc.header().unwrap();
    assert_eq!(header.created_by.as_str(), "server");
    assert_eq!(header.kind, DocKind::WatchList);
    let day: LocalDay = "2026-11-29".parse().unwrap();
    assert_eq!(header.created_at_ms, day.start_ms());
    // Its creating change is the same bytes whenever it is made, so a creation retried after
    // a lost answer merges with the first.
    let a = watchlist::create_document(&h.state, day).unwrap();
    let b = watchlist::create_document(&h.state, day).unwrap();
    let created = a.automerge().get_heads();
    assert_eq!(created, b.automerge().get_heads());
    assert!(
        doc.automerge()
            .get_change_meta_by_hash(&created[0])
            .is_some()
    );
    // A retry changes nothing; the change log shows one change per upload with departures.
    let before = h.state.log.history(&id).unwrap().len();
    let a = h
        .upload(&yard_token, &record("y-4", "晋E12345", 55_000))
        .await;
    assert_eq!(a.body["status"], "duplicate");
    assert_eq!(h.state.log.history(&id).unwrap().len(), before);
    assert_eq!(before, 2, "one change per request, not per record");
}

#[tokio::test]
async fn phones_cannot_write_watch_lists() {
    let h = harness().await;
    let token = h.system(&uscc(40)).await;
    assert_eq!(
        h.upload(&token, &record("r-1", "晋E12345", 52_300))
            .await
            .status,
        StatusCode::CREATED
    );
    let day: LocalDay = "2026-11-29".parse().unwrap();
    let id = watchlist_document_id(&h.state.config.county, day);
    // Adding an entry to the server's list, as a supervisor or an officer: refused.
    let stored = h.state.docs.load(&id).unwrap().unwrap();
    let mut doc =
        TypedDoc::<WatchList>::open(id, stored.doc.with_actor(ActorId::random())).unwrap();
    let heads = doc.automerge().get_heads();
    let mut forged = doc.body().unwrap().entries.into_values().next().unwrap();
    forged.record_id = "forged".to_owned();
    forged.plate = "晋E99999".to_owned();
    #[expect(clippy::result_large_err, reason = "the signature is core's")]
    let forge = |b: &mut WatchList| {
        b.entries.insert(forged.key(), forged.clone());
        Ok(())
    };
    doc.update(supervisor().id(), 1, forge).unwrap();
    let changes = doc.automerge().save_after(&heads);
    let officer = Principal::Officer {
        id: pid("officer:wang"),
        team: TeamId::new("team-1").unwrap(),
        scope: h.state.config.county,
    };
    for who in [supervisor(), officer.clone()] {
        let answer = h.state.sync.write(id, changes.clone(), who).await.unwrap();
        assert!(answer.is_err(), "{answer:?}");
    }
    // Creating a list for another day: refused too.
    let other = day.previous();
    let other_id = watchlist_document_id(&h.state.config.county, other);
    let header = Header {
        kind: DocKind::WatchList,
        schema: SCHEMA_VERSION,
        scope: h.state.config.county,
        team: None,
        unit: None,
        parent: None,
        created_by: officer.id().clone(),
        created_at_ms: other.start_ms(),
    };
    let list = WatchList {
        day: other.to_string(),
        entries: Default::default(),
    };
    let doc = TypedDoc::create(other_id, ActorId::random(), &header, &list).unwrap();
    let answer = h
        .state
        .sync
        .write(other_id, doc.automerge().save(), officer)
        .await
        .unwrap();
    assert!(answer.is_err(), "{answer:?}");
    assert!(h.state.docs.load(&other_id).unwrap().is_none());
    let list = h.watch_list("2026-11-29").unwrap();
    assert_eq!(list.entries.len(), 1, "the forged entry is not there");
}

#[tokio::test]
async fn a_restart_re_publishes_departures_missing_from_the_recent_watch_lists() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().to_owned(),
        ..ServerConfig::default()
    };
    let clock = ManualClock::new(NOON_MS);
    let unit = UnitInfo::unregistered(uscc(50));
    let parse = |v: Value| serde_json::from_value::<WeighingRecord>(v).unwrap();
    let rules = RulesConfig::default();
    {
        let state = AppState::open(config.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        // As if the server died between the ingest flush and the watch-list write: the
        // departures are in the weighing store only. One is from five days ago, older than
        // the lists phones keep.
        let recent = Incoming::new(
            &parse(record("crash-1", "晋E12345", 52_300)),
            WEIGHED_MS,
            &rules,
        )
        .unwrap();
        let mut old = record("crash-old", "晋E12345", 52_300);
        old["weighed_at_ms"] = json!(WEIGHED_MS - 5 * 86_400_000);
        old["exit_at_ms"] = Value::Null;
        let old = Incoming::new(&parse(old), WEIGHED_MS, &rules).unwrap();
        let server = state.server_principal();
        state
            .ingest
            .weighings
            .store(
                &unit,
                &[recent, old],
                NOON_MS,
                &state.ingest.alerts,
                server.id(),
            )
            .unwrap();
        state.ingest.flush().await.unwrap();
        assert!(
            watchlist::load(&state, "2026-11-29".parse().unwrap())
                .unwrap()
                .is_none()
        );
        state.sync.shutdown();
    }
    let state = AppState::open(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let list = watchlist::load(&state, "2026-11-29".parse().unwrap())
        .unwrap()
        .expect("re-published at start");
    let entry = &list.entries[&format!("{}/crash-1", uscc(50))];
    assert_eq!(entry.year_count, 1);
    assert_eq!(entry.excess_kg, 3_300);
    assert!(
        watchlist::load(&state, "2026-11-24".parse().unwrap())
            .unwrap()
            .is_none(),
        "older than the lists phones keep"
    );
    // Nothing more to do at the next start.
    let again = watchlist::reconcile(&state).await.unwrap();
    assert_eq!(again.added, 0);
    assert_eq!(again.failed, 0);
    state.sync.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_one_record_store_it_once() {
    let h = harness().await;
    let token = h.system(&uscc(60)).await;
    let body = record("same", "晋E12345", 52_300);
    let uploads = (0..8).map(|_| {
        let state = h.state.clone();
        let token = token.clone();
        let body = body.clone();
        tokio::spawn(async move { Harness { state }.upload(&token, &body).await })
    });
    let mut statuses = Vec::new();
    for upload in uploads.collect::<Vec<_>>() {
        let a = upload.await.unwrap();
        statuses.push(a.body["status"].as_str().unwrap().to_owned());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| *s == "stored").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| *s == "duplicate").count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(h.state.ingest.weighings.len(), 1);
    assert_eq!(h.alerts().len(), 1);
    let year = LocalDay::of_ms(WEIGHED_MS).unwrap().year();
    assert_eq!(
        h.state
            .ingest
            .weighings
            .year_count(year, "晋E12345")
            .unwrap(),
        1
    );
    let list = h.watch_list("2026-11-29").unwrap();
    assert_eq!(list.entries.len(), 1);
}

/// A real `zhichao serve`: an acknowledged record survives `kill -9` (the answer leaves after
/// the flush), and its retry after the restart is a duplicate with the same alert.
#[test]
fn an_acknowledged_record_survives_a_sigkill_of_the_server() {
    use crate::serve::{ADMIN, admin, start, text};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let unit = uscc(70);
    let out = admin(
        &server,
        Some(ADMIN),
        &[
            "issue-token",
            "--role",
            "source-unit-system",
            "--name",
            "sus:70",
            "--unit",
            unit.as_str(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let mut body = record("kill-1", "晋E12345", 52_300);
    body["weighed_at_ms"] = json!(now_ms - 120_000);
    body["exit_at_ms"] = json!(now_ms - 60_000);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let post = |server: &crate::serve::Server| -> (u16, Value) {
        let mut r = agent
            .post(format!("{}/v1/weighings", server.url()))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("POST");
        let text = r.body_mut().read_to_string().unwrap();
        (r.status().as_u16(), serde_json::from_str(&text).unwrap())
    };
    let (status, first) = post(&server);
    assert_eq!(status, 201, "{first}");
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    drop(server);

    let logs = dir.path().join("logs-2");
    std::fs::create_dir_all(&logs).unwrap();
    let server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let (status, retry) = post(&server);
    assert_eq!(status, 200, "{retry}");
    assert_eq!(retry["status"], "duplicate");
    assert_eq!(retry["alert_ids"], first["alert_ids"]);
    assert_eq!(retry["exit"], first["exit"]);
}
