//! `zhichao import-weighings` as a user runs it: the built binary, a weighbridge's CSV export
//! and a real `zhichao serve` on 127.0.0.1 ([`serve::start`]), with a source-unit-system token
//! issued by `zhichao admin issue-token`. What reached the server is read back through the
//! server itself: a second import (duplicates or conflicts), the departure alerts a supervisor
//! sees at `GET /v1/alerts`, and the refusals counted at `/metrics`.
//!
//! One stand-in remains: [`CutRelay`], a relay in front of the real server that passes the
//! first batch and then answers 503, as a server going down mid-way would — something the
//! real server cannot be made to do between two batches without timing.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;
use tempfile::TempDir;

use crate::serve::{self, ADMIN, Server, agent, text};

/// The source unit whose weighbridge exports are imported (a valid USCC).
const UNIT: &str = "9144030071526726XG";

/// A running server with its directory, and the unit's upload token.
struct Site {
    dir: TempDir,
    server: Server,
    token: String,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let server = serve::start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let token = issue(
        &server,
        &[
            "--role",
            "source-unit-system",
            "--name",
            "sus:weighbridge",
            "--unit",
            UNIT,
        ],
    );
    Site { dir, server, token }
}

/// An access token from `zhichao admin issue-token` with `principal` (`--role …`).
fn issue(server: &Server, principal: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("issue-token")
        .chain(principal.iter().copied())
        .collect();
    let out = serve::admin(server, Some(ADMIN), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// A supervisor of the server's county (sees the alerts of units without a profile).
fn supervisor(server: &Server) -> String {
    issue(server, &["--role", "supervisor", "--name", "sup:county"])
}

/// Runs `zhichao import-weighings --server URL ARGS…`; ZHICHAO_TOKEN is set only when
/// `env_token` is.
fn import(url: &str, args: &[&str], env_token: Option<&str>) -> Output {
    let mut cmd = serve::zhichao();
    cmd.args(["import-weighings", "--server", url])
        .args(args)
        .env_remove("ZHICHAO_TOKEN");
    if let Some(t) = env_token {
        cmd.env("ZHICHAO_TOKEN", t);
    }
    cmd.output().expect("run the zhichao binary")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The value after a summary label, e.g. `imported    12` → 12.
fn count(summary: &str, label: &str) -> usize {
    summary
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{summary}"))
}

/// The summary line listing `line`.
fn listed(summary: &str, line: u64) -> &str {
    summary
        .lines()
        .find(|l| l.starts_with(&format!("  line {line}: ")))
        .unwrap_or_else(|| panic!("line {line} not listed:\n{summary}"))
}

/// The alerts of `plate` that `token` may see, newest first (`GET /v1/alerts?plate=`).
fn alerts(server: &Server, token: &str, plate: &str) -> Vec<Value> {
    let mut r = agent()
        .get(format!("{}/v1/alerts", server.url()))
        .query("plate", plate)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("GET /v1/alerts");
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// `zhichao_auth_failures_total` of the server's `/metrics`: requests refused for their
/// credentials (401 and 403).
fn auth_failures(server: &Server) -> u64 {
    let mut r = agent()
        .get(format!("{}/metrics", server.url()))
        .call()
        .expect("GET /metrics");
    let body = r.body_mut().read_to_string().unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("zhichao_auth_failures_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no auth failure counter in:\n{body}"))
}

/// Now, whole seconds, UTC ms.
fn now_s_ms() -> i64 {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(s).unwrap() * 1000
}

/// `ms` as a weighbridge PC in China writes it: `2026-11-29 08:15:30`, or with `format`.
fn cst(ms: i64, format: &str) -> String {
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .with_timezone(&china)
        .format(format)
        .to_string()
}

const CST: &str = "%Y-%m-%d %H:%M:%S";

/// The over-limit truck that left (放行) in [`gbk_export`]: six axles, 52.30 t.
const DEPARTED: &str = "晋EW5230";
/// The over-limit truck that was stopped (拦截) in [`gbk_export`]: no departure.
const STOPPED: &str = "晋EB5500";

/// A weighbridge export as Chinese Windows software writes it.
struct Export {
    file: PathBuf,
    /// Records the server should store.
    good: usize,
    /// Line numbers of the bad lines, each with a word its reason must contain.
    bad: Vec<(u64, &'static str)>,
    /// When [`DEPARTED`] was weighed, UTC ms.
    departed_at_ms: i64,
}

/// GBK, CRLF, a title line, Chinese headers (车号, 毛重, 皮重, 净重, 过磅时间, 轴数 …), masses
/// in tonnes with two decimals, weighed over the last hours: `under` six-axle trucks under
/// the limit (40.00 to 48.99 t), the truck that left over it ([`DEPARTED`]), the one stopped
/// ([`STOPPED`]), and four bad lines among them.
fn gbk_export(dir: &Path, under: usize) -> Export {
    let start_ms = now_s_ms() - 3 * 3_600_000;
    let mut lines = vec![
        "山西某煤业有限公司过磅记录".to_owned(),
        "磅单号,车号,轴数,毛重,皮重,净重,货物名称,过磅时间,过磅结果".to_owned(),
    ];
    let mut bad = Vec::new();
    let mut push_bad = |lines: &mut Vec<String>, line: String, reason: &'static str| {
        lines.push(line);
        bad.push((u64::try_from(lines.len()).unwrap(), reason));
    };
    for i in 0..under {
        let gross_10kg = 4_000 + (i * 37) % 899;
        let net_10kg = gross_10kg - 1_520;
        let at = cst(start_ms + i64::try_from(i).unwrap() * 1000, CST);
        lines.push(format!(
            "B{i:04},晋E{i:05},6,{}.{:02},15.20,{}.{:02},原煤,{at},放行",
            gross_10kg / 100,
            gross_10kg % 100,
            net_10kg / 100,
            net_10kg % 100,
        ));
        if i == under / 3 {
            push_bad(&mut lines, format!("X1,,6,52.30,,,原煤,{at},放行"), "plate");
            push_bad(
                &mut lines,
                format!("X2,晋E99999,6,5x.3,,,原煤,{at},放行"),
                "gross",
            );
        }
    }
    let departed_at_ms = start_ms + 3_000_000;
    let at = cst(departed_at_ms, CST);
    lines.push(format!(
        "D0001,{DEPARTED},6,52.30,15.20,37.10,原煤,{at},放行"
    ));
    lines.push(format!(
        "D0002,{STOPPED},6,55.00,15.20,39.80,原煤,{at},拦截"
    ));
    push_bad(
        &mut lines,
        "X3,晋E99998,6,40.00,,,原煤,2026-11-29 25:00:00,放行".to_owned(),
        "weighed_at",
    );
    push_bad(
        &mut lines,
        format!("X4,晋E99997,6,40.00,,,原煤,{at},放走"),
        "放走",
    );
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really GBK");
    let file = dir.join("过磅记录.csv");
    std::fs::write(&file, &bytes).unwrap();
    Export {
        file,
        good: under + 2,
        bad,
        departed_at_ms,
    }
}

#[test]
fn a_gbk_export_with_bad_lines_is_stored_and_its_departure_raises_an_alert() {
    let site = site();
    let url = site.server.url();
    let export = gbk_export(site.dir.path(), 130);
    let args = [
        path_str(&export.file),
        "--unit",
        UNIT,
        "--token",
        &site.token,
    ];
    let o = import(&url, &args, None);
    let out = text(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "some lines rejected:\n{out}\n{}",
        text(&o.stderr)
    );
    assert!(out.contains("encoding    GBK/GB18030"), "{out}");
    assert!(
        out.contains("mass unit   t (detected: gross values have a decimal point)"),
        "{out}"
    );
    assert_eq!(count(&out, "imported"), export.good, "{out}");
    assert_eq!(count(&out, "duplicates"), 0);
    assert_eq!(count(&out, "conflicts"), 0);
    assert_eq!(count(&out, "rejected"), 4);
    for (line, needle) in &export.bad {
        let l = listed(&out, *line);
        assert!(l.contains(needle), "{l}");
    }

    // The truck that left over the limit is a departure alert the county office sees, with
    // the masses read exactly from tonnes; the one stopped at the barrier is not.
    let sup = supervisor(&site.server);
    let found = alerts(&site.server, &sup, DEPARTED);
    assert_eq!(found.len(), 1, "{found:#?}");
    let alert = &found[0];
    assert_eq!(alert["kind"], "over_limit_departure");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["unit"], UNIT);
    let d = &alert["departure"];
    assert_eq!(d["plate"], DEPARTED);
    assert_eq!(d["record_id"], "D0001");
    assert_eq!(
        (&d["gross_kg"], &d["limit_kg"], &d["excess_kg"]),
        (&52_300.into(), &49_000.into(), &3_300.into())
    );
    assert_eq!(d["weighed_at_ms"], export.departed_at_ms);
    assert_eq!(d["configuration_assumed"], true, "only the axle count");
    assert_eq!(d["year_count"], 1);
    assert!(alerts(&site.server, &sup, STOPPED).is_empty());
    assert!(alerts(&site.server, &sup, "晋E00042").is_empty(), "under");
    // The unit's own token does not read alerts.
    let mut r = agent()
        .get(format!("{url}/v1/alerts"))
        .header("Authorization", format!("Bearer {}", site.token))
        .call()
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );

    // Again, with the token from the environment: every good line is already stored, the bad
    // ones are still listed, and no second alert is raised.
    let o = import(&url, &args[..3], Some(&site.token));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert_eq!(count(&out, "imported"), 0, "{out}");
    assert_eq!(count(&out, "duplicates"), export.good, "{out}");
    assert_eq!(count(&out, "rejected"), 4);
    assert_eq!(alerts(&site.server, &sup, DEPARTED), found);
}

/// A UTF-8 export of another weighbridge program, in kilograms, read with a mapping file.
fn write_utf8_export(path: &Path, departed_gross_kg: u32, at_ms: i64) {
    let at = |offset_s: i64| cst(at_ms + offset_s * 1000, "%Y.%m.%d %H:%M:%S");
    let text = format!(
        "磅单编号,车牌号码,总重量,二次过磅时间,处理结果\n\
         W-001,晋E3K001,30000,{},已出厂\n\
         W-002,晋E3K002,{departed_gross_kg},{},已出厂\n\
         W-003,晋E3K003,60000,{},扣车\n",
        at(0),
        at(60),
        at(120),
    );
    std::fs::write(path, text).unwrap();
}

const MAPPING: &str = r#"
mass_unit = "kg"
time_formats = ["%Y.%m.%d %H:%M:%S"]
default_axles = 6

[columns]
record_id = "磅单编号"
plate = "车牌号码"
gross = "总重量"
weighed_at = "二次过磅时间"
result = "处理结果"

[result_values]
"已出厂" = "passed"
"扣车" = "blocked"
"#;

#[test]
fn a_utf8_export_in_kg_with_a_mapping_and_a_changed_record_is_a_conflict_on_its_line() {
    let site = site();
    let url = site.server.url();
    let mapping = site.dir.path().join("mapping.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let file = site.dir.path().join("weighings.csv");
    let at_ms = now_s_ms() - 600_000;
    write_utf8_export(&file, 52_300, at_ms);
    let args = [
        path_str(&file),
        "--unit",
        UNIT,
        "--mapping",
        path_str(&mapping),
        "--quiet",
    ];
    let o = import(&url, &args, Some(&site.token));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("encoding    UTF-8"), "{out}");
    assert!(out.contains("mass unit   kg"), "{out}");
    assert_eq!(count(&out, "imported"), 3, "{out}");
    assert_eq!(count(&out, "rejected"), 0);

    // 52300 in the file is 52 300 kg, not tonnes; W-003 was stopped (扣车): no alert.
    let sup = supervisor(&site.server);
    let found = alerts(&site.server, &sup, "晋E3K002");
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0]["departure"];
    assert_eq!(
        (&d["gross_kg"], &d["excess_kg"]),
        (&52_300.into(), &3_300.into())
    );
    assert_eq!(d["weighed_at_ms"], at_ms + 60_000);
    assert!(alerts(&site.server, &sup, "晋E3K003").is_empty());

    // The site edits W-002 afterwards: the server keeps what it stored and says so, on the
    // record's line (3: the header is line 1).
    write_utf8_export(&file, 52_400, at_ms);
    let o = import(&url, &args, Some(&site.token));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert_eq!(count(&out, "imported"), 0);
    assert_eq!(count(&out, "duplicates"), 2);
    assert_eq!(count(&out, "conflicts"), 1);
    let l = listed(&out, 3);
    assert!(
        l.contains("\"W-002\"") && l.contains("other content") && l.contains(UNIT),
        "{l}"
    );
    assert_eq!(
        alerts(&site.server, &sup, "晋E3K002"),
        found,
        "the stored record stands"
    );

    // The original file is all duplicates: the stored W-002 is the first one.
    write_utf8_export(&file, 52_300, at_ms);
    let o = import(&url, &args, Some(&site.token));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    assert_eq!(count(&out, "duplicates"), 3, "{out}");
}

#[test]
fn a_refused_token_exits_2_with_a_clear_message_and_is_not_retried() {
    let site = site();
    let url = site.server.url();
    let export = gbk_export(site.dir.path(), 3);
    let file = path_str(&export.file);
    let officer = issue(
        &site.server,
        &[
            "--role",
            "officer",
            "--name",
            "officer:li",
            "--team",
            "team-1",
        ],
    );
    let token = "zat_not-a-token-of-this-server";
    let before = auth_failures(&site.server);
    let o = import(&url, &[file, "--unit", UNIT], Some(token));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("refused the token"), "{err}");
    assert!(err.contains("401"), "{err}");
    assert!(err.contains(UNIT), "{err}");
    assert!(!err.contains(token), "the token is not echoed: {err}");
    assert!(!text(&o.stdout).contains("imported"), "nothing began");
    assert_eq!(
        auth_failures(&site.server),
        before + 1,
        "one request, no retry"
    );
    // Tokens the server accepts but that are not this unit's weighbridge's: checked before
    // anything is sent (`GET /v1/auth/me`).
    let other_unit = "914403001922038216";
    let other = issue(
        &site.server,
        &[
            "--role",
            "source-unit-system",
            "--name",
            "sus:other",
            "--unit",
            other_unit,
        ],
    );
    for (token, says) in [
        (officer.as_str(), "not a source-unit system's"),
        (other.as_str(), other_unit),
    ] {
        let o = import(&url, &[file, "--unit", UNIT], Some(token));
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("nothing was sent"), "{err}");
        assert!(!err.contains(token), "the token is not echoed: {err}");
    }

    let before = auth_failures(&site.server);
    let o = import(&url, &[file, "--unit", UNIT], None);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--token or ZHICHAO_TOKEN"), "{err}");
    assert_eq!(
        auth_failures(&site.server),
        before,
        "nothing sent without a token"
    );

    // Nothing was stored by the refused runs.
    let o = import(&url, &[file, "--unit", UNIT], Some(&site.token));
    assert_eq!(count(&text(&o.stdout), "imported"), export.good);
}

#[test]
fn unusable_input_exits_2_before_anything_is_sent() {
    let site = site();
    let url = site.server.url();
    let export = gbk_export(site.dir.path(), 1);
    let good = path_str(&export.file);
    let broken = site.dir.path().join("broken.csv");
    std::fs::write(&broken, b"\xB3\xB5\xBA\xC5,\xFF\xFF\r\n").unwrap();
    let mapping = site.dir.path().join("mapping.toml");
    std::fs::write(&mapping, "mass_units = \"t\"\n").unwrap();
    let missing = site.dir.path().join("missing.csv");
    for (args, needle) in [
        (
            vec![path_str(&broken), "--unit", UNIT],
            "byte offset 5 (line 1)",
        ),
        (vec![good, "--unit", "9144030071526726XA"], "--unit"),
        (
            vec![good, "--unit", UNIT, "--mapping", path_str(&mapping)],
            "mass_units",
        ),
        (vec![path_str(&missing), "--unit", UNIT], "cannot read"),
    ] {
        let o = import(&url, &args, Some(&site.token));
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // The good file was never sent: its records are new to the server.
    let o = import(&url, &[good, "--unit", UNIT], Some(&site.token));
    let out = text(&o.stdout);
    assert_eq!(count(&out, "imported"), export.good, "{out}");
    assert_eq!(count(&out, "duplicates"), 0, "{out}");
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
    let export = gbk_export(dir.path(), 3);
    let o = import(
        &format!("http://127.0.0.1:{port}"),
        &[
            path_str(&export.file),
            "--unit",
            UNIT,
            "--token",
            "zat_unused",
        ],
        None,
    );
    let err = text(&o.stderr);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot reach the server"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(
        err.contains("running the same command again is safe"),
        "{err}"
    );
    assert!(
        !out.contains("imported"),
        "no summary of an import that never began: {out}"
    );
}

/// A relay to the real server's `POST /v1/weighings` that passes the first request and then
/// answers 503 to every other, as a server going down between two batches.
struct CutRelay {
    url: String,
    requests: Arc<AtomicUsize>,
    // Dropping the runtime stops the relay.
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct RelayState {
    upstream: String,
    requests: Arc<AtomicUsize>,
}

async fn relay(State(s): State<RelayState>, headers: HeaderMap, body: String) -> Response {
    if s.requests.fetch_add(1, Ordering::SeqCst) > 0 {
        let body = serde_json::json!({
            "error": {"code": "unavailable", "message": "the server is shutting down"}
        });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    forward(&s.upstream, "/v1/weighings", &headers, Some(body)).await
}

/// `GET /v1/auth/me` passed to the real server (the import checks its token first).
async fn relay_me(State(s): State<RelayState>, headers: HeaderMap) -> Response {
    forward(&s.upstream, "/v1/auth/me", &headers, None).await
}

/// Sends the request to the real server (`POST` with a JSON `body`, else `GET`) with the
/// caller's bearer token, and answers with its status and body.
async fn forward(
    upstream: &str,
    path: &str,
    headers: &HeaderMap,
    body: Option<String>,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let url = format!("{upstream}{path}");
    let (status, text) = tokio::task::spawn_blocking(move || {
        let answer = match body {
            Some(body) => agent()
                .post(url)
                .header("Authorization", bearer)
                .header("Content-Type", "application/json")
                .send(body),
            None => agent().get(url).header("Authorization", bearer).call(),
        };
        let mut r = answer.expect("the real server answers");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap();
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

impl CutRelay {
    fn start(upstream: String) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new()
            .route("/v1/weighings", post(relay))
            .route("/v1/auth/me", axum::routing::get(relay_me))
            .with_state(RelayState {
                upstream,
                requests: requests.clone(),
            });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        CutRelay {
            url,
            requests,
            _runtime: runtime,
        }
    }
}

#[test]
fn an_upload_cut_mid_way_reports_what_was_imported_and_a_rerun_sends_the_rest() {
    let site = site();
    let url = site.server.url();
    let export = gbk_export(site.dir.path(), 130);
    let args = [path_str(&export.file), "--unit", UNIT, "--quiet"];
    let cut = CutRelay::start(url.clone());
    let o = import(&cut.url, &args, Some(&site.token));
    let out = text(&o.stdout);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    // The first batch (100 records) reached the server; the second was refused once, not
    // retried (a 503 is an answer, not a network failure).
    assert_eq!(cut.requests.load(Ordering::SeqCst), 2);
    assert_eq!(count(&out, "imported"), 100, "{out}");
    let not_sent = export.good - 100;
    assert!(
        out.contains(&format!("{not_sent} record(s) not sent")),
        "{out}"
    );
    assert!(err.contains("503"), "{err}");
    assert!(
        err.contains("100 record(s) were imported before; running the same command again is safe"),
        "{err}"
    );

    // Straight to the server: the first batch is answered as duplicates, the rest stored.
    let o = import(&url, &args, Some(&site.token));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "the bad lines:\n{out}");
    assert_eq!(count(&out, "duplicates"), 100, "{out}");
    assert_eq!(count(&out, "imported"), not_sent, "{out}");
    assert_eq!(count(&out, "rejected"), 4);
}
