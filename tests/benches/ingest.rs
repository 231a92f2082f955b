//! Ingest throughput of `POST /v1/weighings`: weighbridge systems post batches of 100 records
//! to our server in-process on 127.0.0.1 (stores on disk, every batch flushed before its
//! answer), each record checked, classified with the rules, stored idempotently, and — for the
//! about one in twenty that leave over the limit — an alert raised and the day's watch list
//! updated. A bench binary without a harness, printing its figures:
//!
//! ```sh
//! cargo bench -p zhichao-e2e --bench ingest                     # 200 batches × 100, 4 clients
//! cargo bench -p zhichao-e2e --bench ingest -- --batches 500 --clients 8 --batch 100
//! ```
//!
//! Timed: each request from send to answer (latency: median, p95, p99, max), and the whole
//! run (records per second). The county's volume is thousands of records a day; a province's a
//! few hundred thousand.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zhichao_core::rules::VehicleConfiguration;
use zhichao_core::weighing::{BatchOutcome, WeighingRecord, WeighingResult};
use zhichao_e2e::{ADMIN, TestServer};
use zhichao_server::api::{IssueTokenRequest, PrincipalSpec, Role};
use zhichao_server::client::{AdminClient, ApiClient};
use zhichao_server::config::ServerConfig;

struct Options {
    batches: usize,
    clients: usize,
    batch: usize,
    over_every: usize,
}

fn options() -> Options {
    let mut o = Options {
        batches: 200,
        clients: 4,
        batch: 100,
        over_every: 20,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--batches" => o.batches = value("--batches"),
            "--clients" => o.clients = value("--clients").max(1),
            "--batch" => o.batch = value("--batch").clamp(1, 1_000),
            "--over-every" => o.over_every = value("--over-every"),
            "--bench" => {}
            "--help" | "-h" => {
                println!(
                    "ingest [--batches N (200)] [--clients N (4)] [--batch N (100, at most 1000)] \
                     [--over-every N (20: one record in N leaves over the limit; 0: none)]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    o
}

/// A valid USCC for client `c` (one source unit per client).
fn unit(c: usize) -> String {
    let first17 = format!("91140522{:09}", 100_000 + c);
    let check = zhichao_core::uscc::check_char(&first17).expect("a check character");
    format!("{first17}{check}")
}

fn record(c: usize, i: usize, now_ms: i64, over_every: usize) -> WeighingRecord {
    let over = over_every > 0 && i.is_multiple_of(over_every);
    let gross = if over {
        52_300
    } else {
        38_000 + (i % 9_000) as u32
    };
    let at = now_ms - 3_600_000 + i64::try_from(i % 3_000_000).unwrap_or(0);
    WeighingRecord {
        record_id: format!("B{c}-{i:08}"),
        lane: Some("1号磅".to_owned()),
        plate: format!("晋E{:05}", 10_000 + (i * 7 + c) % 90_000),
        plate_colour: Some("yellow".to_owned()),
        vehicle: VehicleConfiguration::axles_only(6),
        gross_kg: gross,
        tare_kg: Some(15_500),
        net_kg: Some(gross - 15_500),
        cargo: Some("原煤".to_owned()),
        loading_slip_no: Some(format!("ZZD{c}{i:08}")),
        entry_at_ms: Some(at - 600_000),
        weighed_at_ms: at,
        exit_at_ms: Some(at + 120_000),
        photos: Vec::new(),
        result: WeighingResult::Passed,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = TestServer::start_with(
        ServerConfig {
            data_dir: dir.path().to_owned(),
            ..ServerConfig::default()
        },
        true,
    );
    let admin = AdminClient::new(&server.url(), ADMIN).expect("admin client");
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let per_client = o.batches.div_ceil(o.clients);
    let started = Instant::now();
    let threads: Vec<_> = (0..o.clients)
        .map(|c| {
            let token = admin
                .issue_token(&IssueTokenRequest {
                    principal: PrincipalSpec {
                        role: Role::SourceUnitSystem,
                        name: format!("weighbridge:bench-{c}"),
                        team: None,
                        scope: None,
                        unit: Some(unit(c)),
                    },
                    ttl: None,
                    device: None,
                })
                .expect("token")
                .token;
            let client = ApiClient::new(&server.url(), &token).expect("client");
            let latencies = Arc::clone(&latencies);
            let batch = o.batch;
            let over_every = o.over_every;
            std::thread::spawn(move || {
                let mut stored = 0;
                for b in 0..per_client {
                    let records: Vec<WeighingRecord> = (b * batch..(b + 1) * batch)
                        .map(|i| record(c, i, now_ms, over_every))
                        .collect();
                    let sent = Instant::now();
                    let answer: BatchOutcome = client
                        .post_json("/v1/weighings", &serde_json::json!({ "records": records }))
                        .expect("upload");
                    latencies.lock().expect("lock").push(sent.elapsed());
                    assert_eq!(answer.stored, batch, "{answer:?}");
                    stored += answer.stored;
                }
                stored
            })
        })
        .collect();
    let stored: usize = threads.into_iter().map(|t| t.join().expect("client")).sum();
    let elapsed = started.elapsed();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "ingest: {stored} records in {} requests of {} from {} clients in {:.2} s",
        latencies.len(),
        o.batch,
        o.clients,
        elapsed.as_secs_f64()
    );
    println!(
        "  throughput {:.0} records/s; latency per request median {:.1} ms, p95 {:.1} ms, p99 \
         {:.1} ms, max {:.1} ms",
        stored as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 95.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    if let Some(departures) = stored.checked_div(o.over_every) {
        println!(
            "  about {departures} over-limit departures (one in {}): each an alert and a \
             watch-list entry",
            o.over_every
        );
    }
    server.stop();
}
