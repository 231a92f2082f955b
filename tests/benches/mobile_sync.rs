//! "Sync now" through the mobile facade (`zhichao-mobile`, what the Android and iOS apps
//! call): a phone enrolled with our server in-process on 127.0.0.1:0 records 20 roadside
//! checks offline (plate, configuration, measurement, two officers), then one
//! `FieldStore::sync_now` pushes them, receives the county's rules and uploads any photos.
//! A bench binary without a harness, printing its figures:
//!
//! ```sh
//! cargo bench -p zhichao-e2e --bench mobile_sync                  # 20 cases, 7 runs
//! cargo bench -p zhichao-e2e --bench mobile_sync -- --cases 50 --runs 3 --photos
//! ```
//!
//! Each run uses a fresh server and a fresh phone (enrollment included, not timed). Timed:
//! the `sync_now` call only, as the app's "sync now" button waits for it. `--photos` adds
//! one 1600 × 1200 JPEG per case (three blobs each: original, evidence copy, thumbnail).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_lite::future::block_on;
use zhichao_core::fixtures;
use zhichao_core::ids::StorageId;
use zhichao_e2e::TestServer;
use zhichao_mobile::{
    Agency, ApiError, BodyKind, FieldStore, MeasurementInput, OfficerInfo, RoadsideCheckInput,
    SecretStore, VehicleConfig,
};
use zhichao_server::config::TokenConfig;

/// The host's secret store, in memory.
#[derive(Default)]
struct MemorySecrets(Mutex<Option<String>>);

impl SecretStore for MemorySecrets {
    fn load(&self) -> Result<Option<String>, ApiError> {
        Ok(self.0.lock().expect("lock").clone())
    }
    fn save(&self, secret: String) -> Result<(), ApiError> {
        *self.0.lock().expect("lock") = Some(secret);
        Ok(())
    }
    fn clear(&self) -> Result<(), ApiError> {
        *self.0.lock().expect("lock") = None;
        Ok(())
    }
}

struct Options {
    cases: u32,
    runs: usize,
    photos: bool,
}

fn options() -> Options {
    let mut o = Options {
        cases: 20,
        runs: 7,
        photos: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match arg.as_str() {
            "--cases" => o.cases = u32::try_from(number("--cases")).expect("--cases fits u32"),
            "--runs" => o.runs = number("--runs").max(1),
            "--photos" => o.photos = true,
            "--bench" => {}
            "--help" | "-h" => {
                println!("mobile_sync [--cases N (20)] [--runs N (7)] [--photos]");
                std::process::exit(0);
            }
            other => panic!("unknown option {other:?} (see --help)"),
        }
    }
    o
}

fn case_input(i: u32) -> RoadsideCheckInput {
    RoadsideCheckInput {
        plate: format!("晋E{:05}", 10_000 + i),
        configuration: VehicleConfig {
            axles: 6,
            kind: Some(BodyKind::Articulated),
            drive_axles: Some(2),
            drive_tyres: None,
            suspension: None,
            single_tyre_axles: Some(0),
            wide_base_tyre_axles: None,
            registration_kg: None,
        },
        place: "S329 K12+300".to_owned(),
        officers: vec![
            OfficerInfo {
                name: "王强".to_owned(),
                enforcement_id: "14052219001".to_owned(),
                agency: Agency::Transport,
            },
            OfficerInfo {
                name: "李明".to_owned(),
                enforcement_id: "140522".to_owned(),
                agency: Agency::TrafficPolice,
            },
        ],
        gps: None,
        plate_colour: None,
        source_unit: None,
        started_at_ms: None,
    }
}

struct Run {
    ms: f64,
    pushed: u64,
    photos: u64,
    bytes_sent: u64,
    bytes_received: u64,
    messages: u64,
}

fn one_run(o: &Options, run: usize) -> Run {
    let server = TestServer::start(TokenConfig::default());
    let device = StorageId::new(&format!("bench-phone-{run}")).expect("device id");
    let code = server.officer_code("officer:wang", "team-1", &device);
    let secrets = Arc::new(MemorySecrets::default());
    block_on(zhichao_mobile::enroll(
        server.url(),
        code,
        device.to_string(),
        secrets.clone(),
    ))
    .expect("enrolled");
    let dir = tempfile::tempdir().expect("phone directory");
    let phone = FieldStore::open(
        dir.path().to_string_lossy().into_owned(),
        server.url(),
        secrets,
    )
    .expect("field store");
    for i in 0..o.cases {
        let case = phone.create_roadside_check(case_input(i)).expect("case");
        phone
            .record_measurement(
                case.id.clone(),
                MeasurementInput {
                    gross_kg: 48_000 + i * 250,
                    height_mm: None,
                    width_mm: None,
                    length_mm: None,
                    rated_payload_kg: None,
                    curb_kg: None,
                    measured_at_ms: None,
                    scale: None,
                },
            )
            .expect("measurement");
        if o.photos {
            let jpeg = fixtures::photo_jpeg(1600, 1200, u64::from(i) + 1000 * run as u64);
            block_on(phone.add_photo_bytes(case.id, jpeg, "车牌".to_owned(), None)).expect("photo");
        }
    }
    assert_eq!(phone.pending_documents().expect("pending"), o.cases);
    let started = Instant::now();
    let result = block_on(phone.sync_now()).expect("sync");
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(result.pushed, u64::from(o.cases), "{result:?}");
    assert!(result.rejected.is_empty(), "{result:?}");
    assert_eq!(result.photos_pending, 0, "{result:?}");
    for id in phone
        .cases_by_plate(format!("晋E{:05}", 10_000))
        .expect("lookup")
    {
        assert!(server.has(&id.id.parse().expect("document id")));
    }
    drop(phone);
    server.stop();
    Run {
        ms,
        pushed: result.pushed,
        photos: result.photos_uploaded,
        bytes_sent: result.bytes_sent + result.photo_bytes_sent,
        bytes_received: result.bytes_received,
        messages: result.messages_sent + result.messages_received,
    }
}

fn main() {
    let o = options();
    println!(
        "mobile sync now: {} pending cases{} per run, {} runs (fresh server and phone each)",
        o.cases,
        if o.photos { " with one photo each" } else { "" },
        o.runs
    );
    let mut times = Vec::with_capacity(o.runs);
    for run in 0..o.runs {
        let r = one_run(&o, run);
        println!(
            "run {run}: {:.1} ms, pushed {}, photo blobs {}, sent {} B, received {} B, {} messages",
            r.ms, r.pushed, r.photos, r.bytes_sent, r.bytes_received, r.messages
        );
        times.push(r.ms);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "sync now, {} cases{}: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        o.cases,
        if o.photos { " + photos" } else { "" },
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
