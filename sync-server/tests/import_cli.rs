//! `zhichao import-weighings` as a user runs it: the built binary, a CSV file, and an HTTP
//! server on 127.0.0.1.
//!
//! The server here is [`ContractStub`], a STAND-IN for the real `POST /v1/weighings` (built in
//! parallel): it implements the documented contract honestly — bearer token check (401 with
//! the API's JSON error body), `{"records": [...]}` of at most `MAX_BATCH_RECORDS`, each record
//! checked with `WeighingRecord::check`, record id → fingerprint to answer stored / duplicate /
//! conflict — and counts requests. A test against the real server belongs with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use zhichao_core::weighing::{
    BatchOutcome, MAX_BATCH_RECORDS, RecordOutcome, RecordStatus, WeighingRecord,
};

const TOKEN: &str = "unit-token-0123456789abcdef";
const UNIT: &str = "9144030071526726XG";

/// What the stand-in has stored: record id → (fingerprint, record).
type Stored = HashMap<String, (String, WeighingRecord)>;

#[derive(Clone, Default)]
struct StubState {
    requests: Arc<AtomicUsize>,
    stored: Arc<Mutex<Stored>>,
}

/// A stand-in for the weighing upload contract (see the module docs), on 127.0.0.1.
struct ContractStub {
    url: String,
    state: StubState,
    // Dropping the runtime stops the server.
    _runtime: tokio::runtime::Runtime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    records: Vec<WeighingRecord>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

async fn upload(State(s): State<StubState>, headers: HeaderMap, body: String) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if bearer != Some(&format!("Bearer {TOKEN}")) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid or expired token",
        );
    }
    let batch: Batch = match serde_json::from_str(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
    };
    if batch.records.is_empty() || batch.records.len() > MAX_BATCH_RECORDS {
        return error(StatusCode::BAD_REQUEST, "bad_request", "batch size");
    }
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let mut stored = s.stored.lock().unwrap();
    let mut outcome = BatchOutcome::default();
    for (index, record) in batch.records.into_iter().enumerate() {
        let mut answer = RecordOutcome {
            index,
            record_id: Some(record.record_id.clone()),
            status: RecordStatus::Invalid,
            reason: None,
            exit: None,
            alert_ids: Vec::new(),
        };
        match record.check(now_ms) {
            Err(e) => {
                answer.reason = Some(e.to_string());
                outcome.invalid += 1;
            }
            Ok(checked) => {
                let fingerprint = checked.fingerprint();
                match stored.get(&checked.record.record_id) {
                    None => {
                        stored.insert(
                            checked.record.record_id.clone(),
                            (fingerprint, checked.record),
                        );
                        answer.status = RecordStatus::Stored;
                        outcome.stored += 1;
                    }
                    Some((f, _)) if *f == fingerprint => {
                        answer.status = RecordStatus::Duplicate;
                        outcome.duplicates += 1;
                    }
                    Some(_) => {
                        answer.status = RecordStatus::Conflict;
                        answer.reason =
                            Some("the record id is stored with other content".to_owned());
                        outcome.conflicts += 1;
                    }
                }
            }
        }
        outcome.records.push(answer);
    }
    Json(outcome).into_response()
}

impl ContractStub {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = StubState::default();
        let app = axum::Router::new()
            .route("/v1/weighings", post(upload))
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        ContractStub {
            url,
            state,
            _runtime: runtime,
        }
    }

    fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    fn stored(&self) -> Stored {
        self.state.stored.lock().unwrap().clone()
    }
}

/// Runs `zhichao import-weighings` with `args` after the command name; ZHICHAO_TOKEN is set
/// only when `env_token` is.
fn import(args: &[&str], env_token: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zhichao"));
    cmd.arg("import-weighings")
        .args(args)
        .env_remove("ZHICHAO_TOKEN");
    if let Some(t) = env_token {
        cmd.env("ZHICHAO_TOKEN", t);
    }
    cmd.output().expect("run the zhichao binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A weighbridge export as Chinese Windows software writes it: GBK, CRLF, a title line, masses
/// in tonnes with two decimals. `good` lines, then four bad ones; returns the file and the
/// numbers of the bad lines.
fn gbk_export(dir: &Path, good: usize) -> (PathBuf, Vec<u64>) {
    let mut lines = vec![
        "山西某煤业有限公司过磅记录".to_owned(),
        "磅单号,车牌号,轴数,毛重,皮重,净重,货物名称,过磅时间,过磅结果".to_owned(),
    ];
    for i in 0..good {
        let gross_kg = (40 + i % 15) * 1000 + i % 100 * 10;
        let net_kg = gross_kg - 15_200;
        lines.push(format!(
            "B{i:04},晋E{i:05},6,{}.{:02},15.20,{}.{:02},原煤,2026-11-29 {:02}:{:02}:{:02},放行",
            gross_kg / 1000,
            gross_kg % 1000 / 10,
            net_kg / 1000,
            net_kg % 1000 / 10,
            8 + i / 3600,
            i / 60 % 60,
            i % 60,
        ));
    }
    lines.push("X1,,6,52.30,,,原煤,2026-11-29 09:00:00,放行".to_owned());
    lines.push("X2,晋E99999,6,5x.3,,,原煤,2026-11-29 09:00:01,放行".to_owned());
    lines.push("X3,晋E99998,6,40.00,,,原煤,2026-11-29 25:00:00,放行".to_owned());
    lines.push("X4,晋E99997,6,40.00,,,原煤,2026-11-29 09:00:03,放走".to_owned());
    let first_bad = u64::try_from(lines.len()).unwrap() - 3;
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really GBK");
    let path = dir.join("过磅记录.csv");
    std::fs::write(&path, &bytes).unwrap();
    (path, (first_bad..first_bad + 4).collect())
}

/// The value after a summary label, e.g. `imported    12` → "12".
fn count(summary: &str, label: &str) -> usize {
    summary
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{summary}"))
}

#[test]
fn a_gbk_export_with_bad_lines_imports_the_good_ones_and_a_rerun_finds_duplicates() {
    let stub = ContractStub::start();
    let dir = tempfile::tempdir().unwrap();
    let (file, bad_lines) = gbk_export(dir.path(), 130);
    let args = [
        "--server",
        &stub.url,
        path_str(&file),
        "--unit",
        UNIT,
        "--token",
        TOKEN,
    ];
    let o = import(&args, None);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("encoding    GBK/GB18030"), "{out}");
    assert!(
        out.contains("mass unit   t (detected: gross values have a decimal point)"),
        "{out}"
    );
    assert_eq!(count(&out, "imported"), 130);
    assert_eq!(count(&out, "duplicates"), 0);
    assert_eq!(count(&out, "rejected"), 4);
    for (line, needle) in bad_lines
        .iter()
        .zip(["plate", "gross", "weighed_at", "放走"])
    {
        let listed = out
            .lines()
            .find(|l| l.starts_with(&format!("  line {line}: ")))
            .unwrap_or_else(|| panic!("line {line} not listed:\n{out}"));
        assert!(listed.contains(needle), "{listed}");
    }
    // 130 records: two requests of 100 and 30; the bad lines were not sent.
    assert_eq!(stub.requests(), 2);
    let stored = stub.stored();
    assert_eq!(stored.len(), 130);
    let (_, first) = &stored["B0000"];
    assert_eq!(first.plate, "晋E00000");
    assert_eq!(
        (first.gross_kg, first.tare_kg, first.net_kg),
        (40_000, Some(15_200), Some(24_800))
    );
    assert_eq!(first.cargo.as_deref(), Some("原煤"));
    // 2026-11-29 08:00:00 China Standard Time.
    assert_eq!(first.weighed_at_ms, 1_795_910_400_000);
    let (_, r) = &stored["B0123"];
    assert_eq!(
        (r.gross_kg, r.net_kg),
        (43_230, Some(28_030)),
        "43.23 t exactly"
    );

    // Again, with the token from the environment: everything is a duplicate.
    let o = import(&args[..5], Some(TOKEN));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert_eq!(count(&out, "imported"), 0);
    assert_eq!(count(&out, "duplicates"), 130);
    assert_eq!(count(&out, "rejected"), 4);
    assert_eq!(stub.requests(), 4);
    assert_eq!(stub.stored().len(), 130);
}

#[test]
fn a_clean_file_exits_0_and_a_changed_record_is_a_conflict_on_its_line() {
    let stub = ContractStub::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.csv");
    let write = |gross_kg: &str| {
        let text = format!(
            "\u{feff}流水号,车号,轴数,毛重,过磅时间\n1,晋E12345,6,52300,2026-11-29 08:15:30\n2,晋E12346,2,{gross_kg},2026/11/29 8:16\n"
        );
        std::fs::write(&file, text).unwrap();
    };
    write("17000");
    let args = [
        "--server",
        &stub.url,
        path_str(&file),
        "--unit",
        UNIT,
        "--quiet",
    ];
    let o = import(&args, Some(TOKEN));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("encoding    UTF-8 (with BOM)"), "{out}");
    assert!(out.contains("mass unit   kg"), "{out}");
    assert_eq!(count(&out, "imported"), 2);
    assert_eq!(stub.stored()["2"].1.gross_kg, 17_000);

    write("17100");
    let o = import(&args, Some(TOKEN));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert_eq!(count(&out, "duplicates"), 1);
    assert_eq!(count(&out, "conflicts"), 1);
    assert!(
        out.lines().any(|l| l.starts_with("  line 3: ")
            && l.contains("\"2\"")
            && l.contains("other content")),
        "{out}"
    );
    assert_eq!(
        stub.stored()["2"].1.gross_kg,
        17_000,
        "the stored record stays"
    );
}

#[test]
fn a_wrong_or_missing_token_exits_2_with_a_clear_message() {
    let stub = ContractStub::start();
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = gbk_export(dir.path(), 3);
    let args = ["--server", &stub.url, path_str(&file), "--unit", UNIT];
    let o = import(&args, Some("not-the-unit-token"));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("refused the token"), "{err}");
    assert!(err.contains("401"), "{err}");
    assert!(err.contains(UNIT), "{err}");
    assert_eq!(count(&text(&o.stdout), "imported"), 0);
    assert_eq!(stub.requests(), 1, "a refusal is not retried");
    assert!(stub.stored().is_empty());

    let o = import(&args, None);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--token or ZHICHAO_TOKEN"), "{err}");
    assert_eq!(stub.requests(), 1, "nothing sent without a token");
}

#[test]
fn a_server_that_is_down_exits_2_and_says_a_rerun_is_safe() {
    // A port nobody listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = gbk_export(dir.path(), 3);
    let url = format!("http://127.0.0.1:{port}");
    let o = import(
        &[
            "--server",
            &url,
            path_str(&file),
            "--unit",
            UNIT,
            "--token",
            TOKEN,
        ],
        None,
    );
    let err = text(&o.stderr);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot reach the server"), "{err}");
    assert!(
        err.contains("running the same command again is safe"),
        "{err}"
    );
    assert_eq!(count(&out, "imported"), 0);
    assert!(out.contains("STOPPED"), "{out}");
    assert!(out.contains("3 record(s) not sent"), "{out}");
}

#[test]
fn unusable_input_exits_2_before_anything_is_sent() {
    let stub = ContractStub::start();
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = gbk_export(dir.path(), 1);
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, b"\xB3\xB5\xBA\xC5,\xFF\xFF\r\n").unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, "mass_units = \"t\"\n").unwrap();
    let missing = dir.path().join("missing.csv");
    for (args, needle) in [
        (
            vec![path_str(&broken), "--unit", UNIT],
            "byte offset 5 (line 1)",
        ),
        (
            vec![path_str(&good), "--unit", "9144030071526726XA"],
            "--unit",
        ),
        (
            vec![
                path_str(&good),
                "--unit",
                UNIT,
                "--mapping",
                path_str(&mapping),
            ],
            "mass_units",
        ),
        (vec![path_str(&missing), "--unit", UNIT], "cannot read"),
    ] {
        let mut full = vec!["--server", stub.url.as_str(), "--token", TOKEN];
        full.extend(args);
        let o = import(&full, None);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert_eq!(stub.requests(), 0);
}
