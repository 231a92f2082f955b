//! Faults: `zhichao serve` killed with SIGKILL while phones sync and a weighbridge uploads,
//! then restarted on the same data directory. Nothing acknowledged may be lost (a weighing
//! answered `stored`, a case change the phone saw acknowledged), nothing may be stored twice
//! (resending every record gives only duplicates; one alert per departure), and the work that
//! was in flight completes after the restart.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zhichao_core::client::{
    self, CredentialStore, MemoryCredentials, NoObserver, SyncClient, SyncConfig,
};
use zhichao_core::field::FieldStore;
use zhichao_core::fixtures;
use zhichao_core::ids::{DocumentId, StorageId};
use zhichao_core::rules::{RulesConfig, VehicleConfiguration};
use zhichao_core::store::{DocStore, MemoryStore};
use zhichao_core::weighing::{BatchOutcome, RecordStatus, WeighingRecord, WeighingResult, assess};
use zhichao_server::api::{CreateEnrollmentRequest, IssueTokenRequest, PrincipalSpec, Role};
use zhichao_server::client::{AdminClient, ApiClient};

use crate::serve::{ADMIN, start};

const TEAM: &str = "team-kill";
const UNIT: &str = "914403001922038216";

fn spec(role: Role, name: &str) -> PrincipalSpec {
    PrincipalSpec {
        role,
        name: name.to_owned(),
        team: (role == Role::Officer).then(|| TEAM.to_owned()),
        scope: None,
        unit: (role == Role::SourceUnitSystem).then(|| UNIT.to_owned()),
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Record `i`: every seventh a six-axle truck let out 3 t over its 49 t limit.
fn record(i: usize, at_ms: i64) -> WeighingRecord {
    let over = i.is_multiple_of(7);
    let gross = if over { 52_000 } else { 40_000 };
    WeighingRecord {
        record_id: format!("K-{i:05}"),
        lane: None,
        plate: format!("晋E{:05}", 10_000 + i % 500),
        plate_colour: None,
        vehicle: VehicleConfiguration::axles_only(6),
        gross_kg: gross,
        tare_kg: Some(15_000),
        net_kg: Some(gross - 15_000),
        cargo: None,
        loading_slip_no: None,
        entry_at_ms: None,
        weighed_at_ms: at_ms,
        exit_at_ms: Some(at_ms + 60_000),
        photos: Vec::new(),
        result: WeighingResult::Passed,
    }
}

struct Phone {
    store: Arc<FieldStore<MemoryStore>>,
    credentials: Arc<MemoryCredentials>,
    name: String,
}

impl Phone {
    fn enroll(admin: &AdminClient, url: &str, name: &str) -> Phone {
        let device = StorageId::new(&format!("kill-{}", name.replace(':', "-"))).unwrap();
        let code = admin
            .create_enrollment(&CreateEnrollmentRequest {
                principal: spec(Role::Officer, name),
                device: device.to_string(),
                ttl: None,
            })
            .expect("enrollment code")
            .code;
        let credentials = Arc::new(MemoryCredentials::new());
        client::enroll(url, &code, &device, credentials.as_ref()).expect("enrolled");
        Phone {
            store: Arc::new(FieldStore::new(MemoryStore::new())),
            credentials,
            name: name.to_owned(),
        }
    }

    fn client(&self, url: &str) -> SyncClient<MemoryStore> {
        SyncClient::new(
            Arc::clone(&self.store),
            url,
            Arc::clone(&self.credentials) as Arc<dyn CredentialStore>,
            SyncConfig {
                idle_timeout: Duration::from_secs(10),
                ..SyncConfig::default()
            },
        )
        .expect("sync client")
    }

    /// Case ids on this phone that the server acknowledged.
    fn acknowledged(&self, created: &[DocumentId]) -> BTreeSet<DocumentId> {
        let pending: BTreeSet<DocumentId> =
            self.store.store().pending().unwrap().into_iter().collect();
        created
            .iter()
            .filter(|id| !pending.contains(id))
            .copied()
            .collect()
    }
}

#[test]
fn a_killed_server_loses_nothing_acknowledged_and_stores_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let url = server.url();
    let admin = AdminClient::new(&url, ADMIN).unwrap();
    let weighbridge_token = admin
        .issue_token(&IssueTokenRequest {
            principal: spec(Role::SourceUnitSystem, "weighbridge:kill"),
            ttl: None,
            device: None,
        })
        .unwrap()
        .token;
    let supervisor_token = admin
        .issue_token(&IssueTokenRequest {
            principal: spec(Role::Supervisor, "supervisor:kill"),
            ttl: None,
            device: None,
        })
        .unwrap()
        .token;
    let phones = [
        Phone::enroll(&admin, &url, "officer:wang"),
        Phone::enroll(&admin, &url, "officer:li"),
    ];
    let base_ms = now_ms() - 3_600_000;

    // Load: a weighbridge posting batches of 20, two phones creating cases and syncing.
    let running = Arc::new(AtomicBool::new(true));
    let acked_records = Arc::new(Mutex::new(Vec::<WeighingRecord>::new()));
    let sent_records = Arc::new(Mutex::new(Vec::<WeighingRecord>::new()));
    let weighbridge = {
        let (running, acked, sent) = (
            Arc::clone(&running),
            Arc::clone(&acked_records),
            Arc::clone(&sent_records),
        );
        let client = ApiClient::new(&url, &weighbridge_token).unwrap();
        std::thread::spawn(move || {
            let mut next = 0;
            while running.load(Ordering::Relaxed) {
                let batch: Vec<WeighingRecord> = (next..next + 20)
                    .map(|i| record(i, base_ms + i64::try_from(i).unwrap() * 1_000))
                    .collect();
                next += 20;
                sent.lock().unwrap().extend(batch.iter().cloned());
                match client.post_json::<_, BatchOutcome>(
                    "/v1/weighings",
                    &serde_json::json!({ "records": batch }),
                ) {
                    Ok(answer) => {
                        assert_eq!(answer.stored, batch.len(), "{answer:?}");
                        acked.lock().unwrap().extend(batch);
                    }
                    Err(_) => break,
                }
            }
        })
    };
    let created: Vec<Arc<Mutex<Vec<DocumentId>>>> =
        (0..2).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    let phone_threads: Vec<_> = phones
        .iter()
        .zip(&created)
        .enumerate()
        .map(|(p, (phone, created))| {
            let (running, created) = (Arc::clone(&running), Arc::clone(created));
            let client = phone.client(&url);
            let store = Arc::clone(&phone.store);
            let name = phone.name.clone();
            std::thread::spawn(move || {
                let mut seed = 1_000 * (p as u64 + 1);
                while running.load(Ordering::Relaxed) {
                    let case = fixtures::case(seed, &name, TEAM);
                    seed += 1;
                    store.save(&case).unwrap();
                    created.lock().unwrap().push(case.id());
                    if client.sync_now(&NoObserver).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();

    // Kill the server once both kinds of work have been acknowledged, mid-stream.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked_records.lock().unwrap().len() < 60
        || phones
            .iter()
            .zip(&created)
            .any(|(p, c)| p.acknowledged(&c.lock().unwrap()).len() < 2)
    {
        assert!(
            Instant::now() < deadline,
            "no load acknowledged within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut server = server;
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    running.store(false, Ordering::Relaxed);
    weighbridge.join().unwrap();
    for t in phone_threads {
        t.join().unwrap();
    }
    drop(server);
    let acked_records = acked_records.lock().unwrap().clone();
    let sent_records = sent_records.lock().unwrap().clone();
    let acked_cases: Vec<BTreeSet<DocumentId>> = phones
        .iter()
        .zip(&created)
        .map(|(p, c)| p.acknowledged(&c.lock().unwrap()))
        .collect();

    // Restart on the same data.
    let logs2 = tmp.path().join("logs2");
    std::fs::create_dir_all(&logs2).unwrap();
    let server = start(&data, &logs2, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let url = server.url();
    let weighbridge = ApiClient::new(&url, &weighbridge_token).unwrap();
    let resend = |records: &[WeighingRecord]| -> Vec<RecordStatus> {
        records
            .chunks(100)
            .flat_map(|batch| {
                weighbridge
                    .post_json::<_, BatchOutcome>(
                        "/v1/weighings",
                        &serde_json::json!({ "records": batch }),
                    )
                    .expect("upload after the restart")
                    .records
                    .into_iter()
                    .map(|o| o.status)
            })
            .collect()
    };
    // Every acknowledged record is there: resending it is a duplicate.
    let statuses = resend(&acked_records);
    assert!(
        statuses.iter().all(|s| *s == RecordStatus::Duplicate),
        "an acknowledged record was lost: {statuses:?}"
    );
    // What was in flight is stored now (or was already); then everything is there once.
    let statuses = resend(&sent_records);
    assert!(
        statuses
            .iter()
            .all(|s| matches!(s, RecordStatus::Duplicate | RecordStatus::Stored)),
        "{statuses:?}"
    );
    assert!(
        resend(&sent_records)
            .iter()
            .all(|s| *s == RecordStatus::Duplicate)
    );
    // One alert per departure, none twice.
    let rules = RulesConfig::default();
    let departures = sent_records
        .iter()
        .filter(|r| {
            assess(&r.check(now_ms()).unwrap(), &rules)
                .unwrap()
                .departure
        })
        .count();
    #[derive(serde::Deserialize)]
    struct Alerts {
        alerts: Vec<serde_json::Value>,
    }
    let alerts: Alerts = ApiClient::new(&url, &supervisor_token)
        .unwrap()
        .get_json("/v1/alerts?limit=1000")
        .unwrap();
    let ids: BTreeSet<String> = alerts
        .alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), alerts.alerts.len(), "an alert listed twice");
    assert_eq!(ids.len(), departures, "one alert per departure");

    // Every case change the phones saw acknowledged is on the server: a teammate's new phone
    // receives them all before the two phones sync again.
    let admin = AdminClient::new(&url, ADMIN).unwrap();
    let zhao = Phone::enroll(&admin, &url, "officer:zhao");
    zhao.client(&url)
        .sync_now(&NoObserver)
        .expect("teammate's sync");
    for (phone, acked) in phones.iter().zip(&acked_cases) {
        for id in acked {
            assert!(
                zhao.store.store().contains(id).unwrap(),
                "{}'s acknowledged case {id} was lost",
                phone.name
            );
        }
    }
    // The rest arrives when the phones sync again; afterwards nothing is pending anywhere.
    for phone in &phones {
        let report = phone
            .client(&url)
            .sync_now(&NoObserver)
            .expect("sync after restart");
        assert!(report.rejected.is_empty(), "{report:?}");
        assert!(phone.store.store().pending().unwrap().is_empty());
    }
    zhao.client(&url)
        .sync_now(&NoObserver)
        .expect("teammate's sync");
    for created in &created {
        for id in created.lock().unwrap().iter() {
            assert!(
                zhao.store.store().contains(id).unwrap(),
                "case {id} never arrived"
            );
        }
    }
}
