//! How fast the supervisors' web console answers at county scale: a server in-process on
//! 127.0.0.1 (stores on disk) filled through the real paths with a county's history — unit
//! profiles registered by the county office, cases written through the sync hub by the
//! patrols' officers (with photos, some edited a second time), notices, the enterprises'
//! responses, supervisors' reviews, and weighbridge uploads (`POST /v1/weighings`) whose
//! over-limit departures raise alerts — then every page timed over HTTP with a supervisor's
//! session cookie (the JSON routes with a supervisor's bearer token). A bench binary without a
//! harness, printing its figures:
//!
//! ```sh
//! cargo bench -p zhichao-e2e --bench console        # 2000 cases, 500 notices, 2000 alerts, 50 units
//! cargo bench -p zhichao-e2e --bench console -- --cases 5000 --notices 1000 --requests 50
//! ```
//!
//! For a county supervisor (县治超办, sees everything) and a township supervisor (one township
//! of ten), each page on a freshly started server (a restart before each, so no page warms
//! another's caches; the machine's disk cache stays warm): **cold** is its first request right
//! after the start, while the server warms the console's caches in the background
//! (`console::model::warm_up`); **warmed** the first request once that warm-up is done (a
//! server up for a while); **warm** the median and p95 of `--requests` requests after that.
//! "Loads fast on an office PC" (issue 8) is read as: well under 200 ms a page.

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::ActorId;
use tokio::sync::oneshot::Receiver;
use zhichao_core::access::Principal;
use zhichao_core::docs::{
    Case, Deadline, DerivativeRef, DocKind, EvidenceRef, Header, MeasurementRecord, Notice,
    PhotoDerivatives, Response, Review, ReviewDecision, SCHEMA_VERSION, Stage, TypedDoc,
    UnitProfile, Vehicle,
};
use zhichao_core::fixtures::{case_body, joint_patrol};
use zhichao_core::ids::{DocumentId, EvidenceId, PrincipalId, TeamId};
use zhichao_core::jurisdiction::SourceUnitKind;
use zhichao_core::plate::Plate;
use zhichao_core::rules::{Measurement, VehicleConfiguration};
use zhichao_core::scope::Scope;
use zhichao_core::uscc::{Uscc, check_char};
use zhichao_core::weighing::{BatchOutcome, WeighingRecord, WeighingResult};
use zhichao_e2e::{ADMIN, TestServer};
use zhichao_server::api::{IssueTokenRequest, PrincipalSpec, Role};
use zhichao_server::client::{AdminClient, ApiClient};
use zhichao_server::config::ServerConfig;
use zhichao_server::console::model;
use zhichao_server::console::session::testing::login;

const COUNTY: &str = "140522";
const DAY_MS: i64 = 86_400_000;
/// Writes handed to the hub before waiting for their answers (the hub flushes what is queued
/// together, as with many phones syncing at once).
const WRITE_WAVE: usize = 200;

struct Options {
    cases: usize,
    notices: usize,
    alerts: usize,
    units: usize,
    townships: usize,
    requests: usize,
    /// Where to save each page's body as answered (to look at them), if anywhere.
    save: Option<std::path::PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        cases: 2_000,
        notices: 500,
        alerts: 2_000,
        units: 50,
        townships: 10,
        requests: 20,
        save: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--cases" => o.cases = value("--cases").max(1),
            "--notices" => o.notices = value("--notices"),
            "--alerts" => o.alerts = value("--alerts"),
            "--units" => o.units = value("--units").max(1),
            "--townships" => o.townships = value("--townships").clamp(1, 99),
            "--requests" => o.requests = value("--requests").max(1),
            "--save" => o.save = Some(args.next().expect("--save needs a folder").into()),
            "--bench" => {}
            "--help" | "-h" => {
                println!(
                    "console [--cases N (2000)] [--notices N (500, at most --cases)] \
                     [--alerts N (2000)] [--units N (50)] [--townships N (10)] \
                     [--requests N (20 timed requests per page, warm)] \
                     [--save DIR (each page's body, as answered)]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    o.notices = o.notices.min(o.cases);
    o
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

fn pid(s: &str) -> PrincipalId {
    PrincipalId::new(s).expect("principal id")
}

fn township_code(t: usize) -> String {
    format!("{COUNTY}{}", 100 + t)
}

fn township(t: usize) -> Scope {
    Scope::parse(&format!("{COUNTY}/township/{}", township_code(t))).expect("township scope")
}

/// A valid USCC for unit `n`.
fn unit(n: usize) -> Uscc {
    let first17 = format!("91140522MA{n:07}");
    let check = check_char(&first17).expect("a check character");
    format!("{first17}{check}").parse().expect("USCC")
}

/// Most units are quarries, cement plants and freight yards (supervised by their township);
/// one in five a coal mine (应急管理局).
fn unit_kind(n: usize) -> SourceUnitKind {
    match n % 5 {
        0 => SourceUnitKind::CoalMine,
        1 | 3 => SourceUnitKind::Quarry,
        2 => SourceUnitKind::Cement,
        _ => SourceUnitKind::LogisticsYard,
    }
}

/// The township of unit `n`: five units in a row share one (one of each kind), so every
/// township has units it supervises itself.
fn township_of(n: usize, o: &Options) -> usize {
    (n / 5) % o.townships
}

fn team(t: usize) -> TeamId {
    TeamId::new(&format!("team-{t}")).expect("team id")
}

fn officer(t: usize, k: usize) -> Principal {
    Principal::Officer {
        id: pid(&format!("officer:t{t}-{k}")),
        team: team(t),
        scope: township(t),
    }
}

fn sup_county() -> Principal {
    Principal::Supervisor {
        id: pid("sup:county"),
        scope: Scope::parse(COUNTY).expect("county scope"),
    }
}

fn sup_township() -> Principal {
    Principal::Supervisor {
        id: pid("sup:township-0"),
        scope: township(0),
    }
}

fn enterprise(n: usize) -> Principal {
    Principal::Enterprise {
        id: pid(&format!("ent:{n}")),
        unit: unit(n),
    }
}

/// A photo reference with an evidence copy and a thumbnail (the page shows them; the blobs
/// themselves are not needed to render it).
fn photo(seed: usize, by: &PrincipalId, at_ms: i64) -> EvidenceRef {
    let derivative = |tag: u8, width: u32| DerivativeRef {
        sha256: EvidenceId::of(format!("{seed}-{tag}").as_bytes()),
        byte_len: u64::from(width) * 200,
        width,
        height: width * 3 / 4,
    };
    EvidenceRef {
        sha256: EvidenceId::of(seed.to_string().as_bytes()),
        caption: "车辆正面及号牌".to_owned(),
        captured_at_ms: Some(at_ms),
        gps: None,
        taken_by: by.clone(),
        format: Some("jpeg".to_owned()),
        byte_len: Some(3_000_000),
        width: Some(4_000),
        height: Some(3_000),
        derivatives: Some(PhotoDerivatives {
            evidence_copy: derivative(1, 1_600),
            thumbnail: derivative(2, 320),
        }),
    }
}

/// Writes handed to the sync hub, answered in waves.
struct Writer<'a> {
    server: &'a TestServer,
    pending: Vec<Receiver<Result<(), String>>>,
    written: usize,
}

impl Writer<'_> {
    fn write(&mut self, id: DocumentId, changes: Vec<u8>, principal: Principal) {
        self.pending
            .push(self.server.state.sync.write(id, changes, principal));
        if self.pending.len() >= WRITE_WAVE {
            self.wait();
        }
    }

    /// Waits for every pending answer: the next wave may build on these documents.
    fn wait(&mut self) {
        for rx in self.pending.drain(..) {
            rx.blocking_recv()
                .expect("the hub runs")
                .expect("the hub stores the document");
            self.written += 1;
        }
    }
}

struct Seeded {
    /// A case of township 0 with a notice (readable by both supervisors).
    case: DocumentId,
    /// Its notice.
    notice: DocumentId,
    documents: usize,
}

fn header(kind: DocKind, t: usize, created_by: &PrincipalId, created_at_ms: i64) -> Header {
    Header {
        kind,
        schema: SCHEMA_VERSION,
        scope: township(t),
        team: None,
        unit: None,
        parent: None,
        created_by: created_by.clone(),
        created_at_ms,
    }
}

/// The county's documents, written through the sync hub by their authors.
#[expect(
    clippy::too_many_lines,
    reason = "one county's history, kind after kind"
)]
fn seed_documents(server: &TestServer, o: &Options, now: i64) -> Seeded {
    let mut w = Writer {
        server,
        pending: Vec::new(),
        written: 0,
    };
    let county_id = pid("sup:county");
    // Unit profiles, registered by the county office.
    for n in 0..o.units {
        let id = DocumentId::generate(&mut rand::rng());
        let t = township_of(n, o);
        let h = Header {
            unit: Some(unit(n)),
            ..header(DocKind::Unit, t, &county_id, now - 400 * DAY_MS)
        };
        let profile = UnitProfile {
            name: format!("阳城县第{n}号源头单位有限公司"),
            kind: unit_kind(n),
            township: township_code(t).parse().expect("township code"),
            supervising_department: None,
            address: format!("第{t}镇"),
            location: None,
            listed: true,
        };
        let doc = TypedDoc::create(id, ActorId::random(), &h, &profile).expect("profile");
        w.write(id, doc.automerge().save(), sup_county());
    }
    w.wait();

    // Cases, over the last 120 days (some past the 90-day decision clock), three photos each;
    // one in three edited again by the second officer of the patrol (a second save).
    let mut cases = Vec::with_capacity(o.cases);
    for i in 0..o.cases {
        let n = i % o.units;
        let t = township_of(n, o);
        let by = officer(t, 1);
        let created = now - i64::try_from(i % 120).expect("days") * DAY_MS - 3_600_000;
        let id = DocumentId::generate(&mut rand::rng());
        let h = Header {
            team: Some(team(t)),
            ..header(DocKind::Case, t, by.id(), created)
        };
        let mut body: Case = case_body(u32::try_from(i + 1).expect("case number"));
        body.source_unit = Some(unit(n));
        body.onsite.started_at_ms = created;
        body.vehicle = Some(Vehicle {
            plate: Plate::parse(&format!("晋E{:05}", 10_000 + i % 90_000)).expect("plate"),
            plate_as_typed: format!("晋E{:05}", 10_000 + i % 90_000),
            colour: None,
            configuration: VehicleConfiguration::axles_only(6),
        });
        body.measurement = Some(MeasurementRecord {
            measurement: Measurement {
                gross_kg: 52_300,
                ..Measurement::default()
            },
            measured_at_ms: created,
            scale: Some("便携式轴重仪".to_owned()),
        });
        body.evidence = (0..3)
            .map(|p| photo(i * 3 + p, by.id(), created + 60_000))
            .collect();
        body.record_stage(Stage::Registered, created, by.id().clone(), "立案")
            .expect("stage");
        let mut doc = TypedDoc::create(id, ActorId::random(), &h, &body).expect("case");
        w.write(id, doc.automerge().save(), by);
        if i % 3 == 0 {
            let second = officer(t, 2);
            let heads = doc.automerge().get_heads();
            #[expect(clippy::result_large_err, reason = "the signature is core's")]
            let edit = |c: &mut Case| {
                c.findings = "车货总质量52.30吨，六轴列车限值49吨，超限3.30吨".into();
                Ok(())
            };
            doc.update(second.id(), created + DAY_MS / 2, edit)
                .expect("edit");
            cases.push((id, t, n, Some((doc.automerge().save_after(&heads), second))));
        } else {
            cases.push((id, t, n, None));
        }
    }
    w.wait();
    for (id, _, _, edit) in &mut cases {
        if let Some((changes, by)) = edit.take() {
            w.write(*id, changes, by);
        }
    }
    w.wait();

    // Notices for the first cases (to the case's unit), by the patrol.
    let mut notices = Vec::with_capacity(o.notices);
    for (i, (case, t, n, _)) in cases.iter().take(o.notices).enumerate() {
        let by = officer(*t, 1);
        let issued = now - i64::try_from(i % 60).expect("days") * DAY_MS;
        let id = DocumentId::generate(&mut rand::rng());
        let h = Header {
            team: Some(team(*t)),
            unit: Some(unit(*n)),
            ..header(DocKind::Notice, *t, by.id(), issued)
        };
        let deadline_day = chrono_date(issued + 15 * DAY_MS);
        let body = Notice {
            case: *case,
            unit_name: format!("阳城县第{n}号源头单位有限公司"),
            legal_representative: Some("张三".to_owned()),
            facts: "放行超限车辆出场".into(),
            legal_basis: "《公路安全保护条例》第六十五条".into(),
            deadline: Deadline::By { date: deadline_day },
            issued_by: joint_patrol(),
            issued_at_ms: issued,
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            photos: Vec::new(),
        };
        let doc = TypedDoc::create(id, ActorId::random(), &h, &body).expect("notice");
        w.write(id, doc.automerge().save(), by);
        notices.push((id, *t, *n, issued));
    }
    w.wait();

    // Responses to two notices in three, each with a photo.
    let mut responses = Vec::new();
    for (i, (notice, t, n, issued)) in notices.iter().enumerate() {
        if i % 3 == 2 {
            continue;
        }
        let by = enterprise(*n);
        let id = DocumentId::generate(&mut rand::rng());
        let h = Header {
            unit: Some(unit(*n)),
            parent: Some(*notice),
            ..header(DocKind::Response, *t, by.id(), issued + DAY_MS)
        };
        let body = Response {
            statement: "已安装出场称重拦截装置，超限车辆不再放行".into(),
            evidence: vec![photo(1_000_000 + i, by.id(), issued + DAY_MS)],
            submitted_at_ms: Some(issued + DAY_MS),
        };
        let doc = TypedDoc::create(id, ActorId::random(), &h, &body).expect("response");
        w.write(id, doc.automerge().save(), by);
        responses.push((id, *t, issued + DAY_MS));
    }
    w.wait();

    // Reviews: half of the responses (accepted or returned) and one case in four (accepted),
    // by the township's or the county's supervisor.
    let review = |parent: DocumentId, t: usize, at: i64, decision: ReviewDecision| {
        let id = DocumentId::generate(&mut rand::rng());
        let h = Header {
            parent: Some(parent),
            ..header(DocKind::Review, t, &county_id, at)
        };
        let body = Review {
            decision,
            comments: "请按期复查".into(),
            reviewed_at_ms: at,
        };
        let doc = TypedDoc::create(id, ActorId::random(), &h, &body).expect("review");
        (id, doc.automerge().save())
    };
    for (i, (response, t, at)) in responses.iter().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let decision = if i % 4 == 0 {
            ReviewDecision::Accept
        } else {
            ReviewDecision::Return {
                reasons: vec!["照片不清晰，请补充拦截装置运行记录".to_owned()],
            }
        };
        let (id, changes) = review(*response, *t, at + DAY_MS, decision);
        w.write(id, changes, sup_county());
    }
    for (case, t, _, _) in cases.iter().step_by(4) {
        let (id, changes) = review(*case, *t, now - DAY_MS, ReviewDecision::Accept);
        w.write(id, changes, sup_county());
    }
    w.wait();
    Seeded {
        case: cases[0].0,
        notice: notices.first().map_or(cases[0].0, |n| n.0),
        documents: w.written,
    }
}

/// `YYYY-MM-DD` (China time) of `ms`.
fn chrono_date(ms: i64) -> String {
    zhichao_core::calendar::LocalDay::of_ms(ms)
        .expect("a day")
        .to_string()
}

/// Weighbridge uploads with over-limit departures: `alerts` of them spread over the units,
/// each raising an alert routed to the unit's authority and the county office.
fn seed_weighings(server: &TestServer, o: &Options, now: i64) -> usize {
    let admin = AdminClient::new(&server.url(), ADMIN).expect("admin client");
    let per_unit = o.alerts.div_ceil(o.units);
    let mut departures = 0;
    for n in 0..o.units {
        let count = per_unit.min(o.alerts.saturating_sub(n * per_unit));
        if count == 0 {
            break;
        }
        let token = admin
            .issue_token(&IssueTokenRequest {
                principal: PrincipalSpec {
                    role: Role::SourceUnitSystem,
                    name: format!("weighbridge:unit-{n}"),
                    team: None,
                    scope: None,
                    unit: Some(unit(n).to_string()),
                },
                ttl: None,
                device: None,
            })
            .expect("token")
            .token;
        let client = ApiClient::new(&server.url(), &token).expect("client");
        let records: Vec<WeighingRecord> = (0..count)
            .map(|i| {
                let at = now - 3_600_000 - i64::try_from(i).expect("index") * 600_000;
                WeighingRecord {
                    record_id: format!("U{n}-{i:06}"),
                    lane: Some("1号磅".to_owned()),
                    plate: format!("晋E{:05}", 10_000 + (i * 7 + n) % 90_000),
                    plate_colour: Some("yellow".to_owned()),
                    vehicle: VehicleConfiguration::axles_only(6),
                    gross_kg: 52_300,
                    tare_kg: Some(15_500),
                    net_kg: Some(36_800),
                    cargo: Some("原煤".to_owned()),
                    loading_slip_no: Some(format!("ZZD{n}-{i:06}")),
                    entry_at_ms: Some(at - 600_000),
                    weighed_at_ms: at,
                    exit_at_ms: Some(at + 120_000),
                    photos: Vec::new(),
                    result: WeighingResult::Passed,
                }
            })
            .collect();
        for batch in records.chunks(100) {
            let answer: BatchOutcome = client
                .post_json("/v1/weighings", &serde_json::json!({ "records": batch }))
                .expect("upload");
            assert_eq!(answer.stored, batch.len(), "{answer:?}");
            departures += batch.len();
        }
    }
    departures
}

/// A supervisor's bearer token for the JSON routes.
fn supervisor_token(server: &TestServer, name: &str, scope: &Scope) -> String {
    AdminClient::new(&server.url(), ADMIN)
        .expect("admin client")
        .issue_token(&IssueTokenRequest {
            principal: PrincipalSpec {
                role: Role::Supervisor,
                name: name.to_owned(),
                team: None,
                scope: Some(scope.to_string()),
                unit: None,
            },
            ttl: None,
            device: None,
        })
        .expect("token")
        .token
}

/// Who asks.
struct Viewer {
    label: &'static str,
    principal: Principal,
}

/// How a page is asked for.
#[derive(Clone, Copy)]
enum Auth {
    /// The console's session cookie.
    Session,
    /// A bearer token (the JSON routes).
    Bearer,
}

/// One GET, timed from send to the last byte of the body; panics on a status other than 200.
fn timed_get(agent: &ureq::Agent, url: &str, auth: Auth, credential: &str) -> (Duration, Vec<u8>) {
    let request = agent.get(url);
    let request = match auth {
        Auth::Session => request.header("Cookie", credential),
        Auth::Bearer => request.header("Authorization", &format!("Bearer {credential}")),
    };
    let started = Instant::now();
    let mut response = request.call().expect("request");
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .expect("body");
    let elapsed = started.elapsed();
    assert_eq!(
        status.as_u16(),
        200,
        "{url}: {}",
        String::from_utf8_lossy(&body)
    );
    (elapsed, body)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// What one viewer needs to ask: a session cookie and a bearer token.
fn credentials(server: &TestServer, viewer: &Viewer) -> (String, String) {
    let (cookie, _) = login(&server.state, viewer.principal.clone());
    let Principal::Supervisor { id, scope } = &viewer.principal else {
        unreachable!("viewers are supervisors")
    };
    (cookie, supervisor_token(server, id.as_str(), scope))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn start(dir: &Path) -> TestServer {
    TestServer::start_with(
        ServerConfig {
            data_dir: dir.to_owned(),
            ..ServerConfig::default()
        },
        true,
    )
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().expect("temporary directory");
    let now = now_ms();
    let server = start(dir.path());
    let started = Instant::now();
    let seeded = seed_documents(&server, &o, now);
    let documents_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let departures = seed_weighings(&server, &o, now);
    let weighings_s = started.elapsed().as_secs_f64();
    println!(
        "console: {} documents through the sync hub in {documents_s:.1} s ({} units, {} cases, \
         {} notices with responses and reviews, {} townships); {departures} over-limit \
         departures (alerts) uploaded in {weighings_s:.1} s",
        seeded.documents, o.units, o.cases, o.notices, o.townships
    );
    server.stop();

    let pages: Vec<(String, Auth)> = vec![
        ("/console/".to_owned(), Auth::Session),
        ("/console/alerts".to_owned(), Auth::Session),
        ("/console/cases".to_owned(), Auth::Session),
        (format!("/console/cases/{}", seeded.case), Auth::Session),
        ("/console/notices".to_owned(), Auth::Session),
        (format!("/console/notices/{}", seeded.notice), Auth::Session),
        ("/console/units".to_owned(), Auth::Session),
        ("/console/units.csv".to_owned(), Auth::Session),
        ("/v1/cases".to_owned(), Auth::Bearer),
        ("/v1/stats".to_owned(), Auth::Bearer),
    ];
    let viewers = [
        Viewer {
            label: "county supervisor",
            principal: sup_county(),
        },
        Viewer {
            label: "township supervisor",
            principal: sup_township(),
        },
    ];
    let agent = agent();
    for viewer in &viewers {
        println!(
            "\n{} ({}): ms per request; cold = first right after a server start (while it \
             warms its caches), warmed = first after its warm-up, warm over {} requests",
            viewer.label,
            match &viewer.principal {
                Principal::Supervisor { scope, .. } => scope.to_string(),
                _ => String::new(),
            },
            o.requests
        );
        println!(
            "  {:<44} {:>9} {:>9} {:>11} {:>9} {:>9}",
            "page", "cold", "warmed", "warm median", "warm p95", "bytes"
        );
        let mut restarts = Vec::new();
        let mut warm_ups = Vec::new();
        for (path, auth) in &pages {
            let restart = Instant::now();
            let server = start(dir.path());
            restarts.push(restart.elapsed());
            let (cookie, token) = credentials(&server, viewer);
            let credential = match auth {
                Auth::Session => &cookie,
                Auth::Bearer => &token,
            };
            let url = format!("{}{path}", server.url());
            let (cold, _) = timed_get(&agent, &url, *auth, credential);
            // Wait for the server's warm-up (a second one waits for the first), then the
            // first request of a server that has been up a while.
            let warming = Instant::now();
            model::warm_up(&server.state).expect("warm-up");
            warm_ups.push(warming.elapsed());
            let (warmed, _) = timed_get(&agent, &url, *auth, credential);
            let mut warm: Vec<Duration> = Vec::with_capacity(o.requests);
            let mut body = Vec::new();
            for _ in 0..o.requests {
                let (d, b) = timed_get(&agent, &url, *auth, credential);
                warm.push(d);
                body = b;
            }
            let bytes = body.len();
            if let Some(dir) = &o.save {
                let name: String = format!("{}{path}", viewer.label)
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                std::fs::create_dir_all(dir).expect("folder to save pages");
                std::fs::write(dir.join(name), &body).expect("page saved");
            }
            warm.sort();
            let shown = if path.len() > 44 {
                format!("{}…", &path[..43])
            } else {
                path.clone()
            };
            println!(
                "  {shown:<44} {:>9.1} {:>9.1} {:>11.1} {:>9.1} {bytes:>9}",
                ms(cold),
                ms(warmed),
                ms(percentile(&warm, 50.0)),
                ms(percentile(&warm, 95.0)),
            );
            server.stop();
        }
        restarts.sort();
        warm_ups.sort();
        println!(
            "  (server start on the filled stores: median {:.0} ms; the console's warm-up \
             after it, from the first request on: median {:.0} ms)",
            ms(percentile(&restarts, 50.0)),
            ms(percentile(&warm_ups, 50.0))
        );
    }
}
