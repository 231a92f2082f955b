//! `zhichao demo`: a day of the county's work, played through the real interfaces.
//!
//! One command, nothing to set up: it starts a server on 127.0.0.1 with a fresh embedded sled
//! store in a directory it names, and plays the county plan's work through the real HTTP and
//! WebSocket interfaces — the phones are the mobile facade the Android and iOS apps run (core's
//! sync client underneath), the weighbridges post JSON like site software does, and nothing
//! goes around the protocol:
//!
//! 1. an administrator enrolls a supervisor of the county overload office, the two officers of
//!    a joint patrol (transport, traffic police), two enterprises, and the weighbridge systems
//!    of five source units (two coal mines, a ceramics plant, two quarries: three
//!    jurisdictions), whose profiles the supervisor registers; the supervisor also gets a
//!    password for the web console (`/console/`), printed in the summary;
//! 2. the weighbridges upload a morning of records (hundreds, a few over the limit), one
//!    retries a batch whose answer it lost (duplicates, nothing stored twice), one resends a
//!    record with other content (409, both kept), and one unit goes silent: over-limit
//!    departure and upload-interrupted alerts, routed by jurisdiction;
//! 3. the patrol's phones sync the watch list and go offline: at the roadside the flagged plate
//!    is looked up with no signal, a case is opened, measured, photographed (real photos from
//!    `--photos DIR` or the team's samples; generated JPEGs with EXIF otherwise), and both
//!    officers edit it concurrently;
//! 4. connectivity returns: both phones sync, the case merges, the photos upload (one resumes
//!    after an upload cut mid-way);
//! 5. a rectification notice goes to the source unit; the enterprise answers with a photo; the
//!    supervisor accepts; the case is closed and the alert closed with the case;
//! 6. a summary a person can read ([`DemoReport`]'s `Display`).
//!
//! `--seed N` makes the county, the records, the ids that matter (unit codes, record ids,
//! departure alert ids, case numbers — device prefixes come from device ids — photo hashes)
//! and the outcomes (counts, statuses) deterministic. Times are those of the run (the records
//! are of the hours before it, so interruption alert ids, which name the silence's start, and
//! departure times differ), and document ids stay random by design (they must not be
//! guessable). Rerunning
//! replaces the previous demo directory (only one the demo made: it holds the marker
//! [`MARKER`]).

mod inspection;
mod phone;
pub mod photos;
mod world;

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use automerge::ActorId;
use serde::Deserialize;
use zhichao_core::client::{self, MemoryCredentials, NoObserver, SyncClient, SyncConfig};
use zhichao_core::docs::{DocKind, Header, SCHEMA_VERSION, TypedDoc, UnitProfile};
use zhichao_core::field::FieldStore as CoreFieldStore;
use zhichao_core::ids::StorageId;
use zhichao_core::jurisdiction::{self, AdminCode, Jurisdiction};
use zhichao_core::scope::Scope;
use zhichao_core::store::SledStore;
use zhichao_core::weighing::{
    BatchOutcome, EquipmentKind, EquipmentReport, HeartbeatAnswer, HeartbeatRequest, RecordOutcome,
    RecordStatus, WeighingRecord,
};
use zhichao_mobile::{
    Agency, CaseStatus, GeoFix, MeasurementInput, NoticeInput, OfficerInfo, ReviewDecision,
    RoadsideCheckInput, Stage, SyncResult, VehicleConfig,
};

pub use self::inspection::PendingReview;
use self::phone::Phone;
use self::photos::{DemoPhoto, PhotoSource};
use self::world::{DemoUnit, Weighing};
use crate::api::{AddSupervisorRequest, IssueTokenRequest, PrincipalSpec, Role};
use crate::client::{AdminClient, ApiClient, ClientError};
use crate::clock::SystemClock;
use crate::config::{Secret, ServerConfig};
use crate::ingest::alerts::{Alert, AlertKind};
use crate::{AppState, StartError};

/// The file that marks a directory as the demo's own (so rerunning may replace it).
pub const MARKER: &str = ".zhichao-demo";

/// The default demo directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "zhichao-demo";

/// The server configuration the demo writes into its directory (the townships' names), for
/// `zhichao serve --config`.
pub const CONFIG_FILE: &str = "zhichao.toml";

/// The patrol team of the two officers.
pub const TEAM: &str = "patrol-1";

/// The demo server's heartbeat gap (a county's is minutes: `[ingest] heartbeat_gap`).
const HEARTBEAT_GAP: Duration = Duration::from_secs(3);

/// Photos the scenario attaches: two by Wang, one by Li, one by the enterprise.
const PHOTOS_NEEDED: usize = 4;

/// How long the demo waits for the server to notice the silent unit.
const SILENCE_WAIT: Duration = Duration::from_secs(30);

/// Options of a demo run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Seed of everything random that matters.
    pub seed: u64,
    /// The directory it creates (replacing a previous demo's).
    pub dir: PathBuf,
    /// A folder of photos; `None`: the team's samples when present, else generated JPEGs.
    pub photos: Option<PathBuf>,
    /// Weighing records per source unit (five units).
    pub records_per_unit: usize,
    /// How the summary names this program in the commands it suggests (default `zhichao`;
    /// the command line gives its own path, which works without an alias).
    pub program: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 1,
            dir: PathBuf::from(DEFAULT_DIR),
            photos: None,
            records_per_unit: 60,
            program: "zhichao".to_owned(),
        }
    }
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The directory holds something that is not a previous demo.
    #[error(
        "{path} exists and is not a previous demo's directory (not a directory, or no {MARKER} in \
         it); give another with --dir"
    )]
    ForeignDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The previous demo's directory is in use: a process (a demo still running, or a
    /// `zhichao serve --data-dir` looking at the data) holds one of its databases, so it is not
    /// replaced under that process's feet.
    #[error(
        "{path} is in use: another process holds the database {database} (a demo still running, \
         or a server started on its data); stop it first, or give another --dir"
    )]
    InUse {
        /// The demo directory.
        path: PathBuf,
        /// The locked database (sled's lock file).
        database: PathBuf,
    },
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// What.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The server did not start.
    #[error("the server did not start: {0}")]
    Start(#[from] StartError),
    /// A step of the scenario failed.
    #[error("{step}: {reason}")]
    Step {
        /// The step.
        step: String,
        /// Why.
        reason: String,
    },
}

impl DemoError {
    fn step(step: impl Into<String>, reason: impl fmt::Display) -> Self {
        DemoError::Step {
            step: step.into(),
            reason: reason.to_string(),
        }
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        DemoError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// A source unit as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitLine {
    /// USCC.
    pub uscc: String,
    /// Name.
    pub name: String,
    /// Kind, Chinese.
    pub kind: String,
    /// Township name.
    pub township: String,
    /// Who supervises it.
    pub jurisdiction: Jurisdiction,
}

/// What the weighbridges uploaded and what became of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeighingTotals {
    /// Records sent in the first uploads.
    pub sent: usize,
    /// Stored.
    pub stored: usize,
    /// Answered as duplicates when a batch was retried.
    pub duplicates_on_retry: usize,
    /// Refused with 409 (other content under a stored id).
    pub conflicts: usize,
    /// Refused as invalid.
    pub invalid: usize,
    /// Over the limit (stop at the barrier).
    pub over_limit: usize,
    /// Over-limit departures (超限出场).
    pub departures: usize,
    /// Classified with the configuration assumed from the axle count.
    pub configuration_assumed: usize,
    /// HTTP requests made.
    pub requests: usize,
}

/// One sync of one phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncLine {
    /// Whose phone.
    pub who: String,
    /// At which moment.
    pub when: String,
    /// Documents pushed / pulled.
    pub pushed: u64,
    /// Documents pulled.
    pub pulled: u64,
    /// Rejected documents.
    pub rejected: usize,
    /// WebSocket bytes sent / received.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// WebSocket messages sent.
    pub messages_sent: u64,
    /// WebSocket messages received.
    pub messages_received: u64,
    /// Photos (blobs) uploaded and their bytes.
    pub photos_uploaded: u64,
    /// Photo bytes sent.
    pub photo_bytes_sent: u64,
    /// Wall time, ms.
    pub duration_ms: u64,
}

/// A photo attached during the demo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoLine {
    /// The file or generated name.
    pub name: String,
    /// Who took it.
    pub by: String,
    /// SHA-256 of the original (the evidence id).
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of the evidence copy, when made.
    pub evidence_copy: Option<String>,
    /// The server holds the original, complete and verified (checked with `HEAD`).
    pub on_server: bool,
}

/// What a run did, for the summary and the end-to-end test.
#[derive(Clone, Debug)]
pub struct DemoReport {
    /// The demo directory.
    pub dir: PathBuf,
    /// The server's data directory (`zhichao serve --data-dir …` looks at it again).
    pub server_data_dir: PathBuf,
    /// The server's address while it ran.
    pub url: String,
    /// The seed.
    pub seed: u64,
    /// Where the photos came from.
    pub photo_source: PhotoSource,
    /// The units.
    pub units: Vec<UnitLine>,
    /// The weighings.
    pub weighings: WeighingTotals,
    /// The flagged truck's plate.
    pub flagged_plate: String,
    /// The exit screen's text for it.
    pub flagged_display: String,
    /// What the offline watch-list lookup said about it.
    pub watch_hit: String,
    /// Every alert at the end.
    pub alerts: Vec<Alert>,
    /// Alerts each supervising authority sees (by a supervisor of that scope).
    pub alerts_by_jurisdiction: Vec<(String, usize)>,
    /// The silent unit.
    pub silent_unit: String,
    /// The case number.
    pub case_number: String,
    /// The case document id.
    pub case_id: String,
    /// Its status on the patrol's phones at the end.
    pub case_status: String,
    /// Its findings as merged.
    pub findings: String,
    /// Wang's and Li's own edits of the findings, each to be found in the merged text.
    pub edits: [String; 2],
    /// The case's photos.
    pub case_photos: Vec<PhotoLine>,
    /// The enterprise's photo.
    pub response_photos: Vec<PhotoLine>,
    /// Photos the evidence pipeline refused, with the reason.
    pub refused_photos: Vec<(String, String)>,
    /// The photo whose upload was cut: sha256, bytes the server held before the resume, size.
    pub resumed: (String, u64, u64),
    /// Bytes of that photo's three blobs (original, evidence copy, thumbnail) on Li's phone:
    /// a resumed upload sends this less what the server held.
    pub resumed_blob_bytes: u64,
    /// The notice's id and whether it is still open at the end.
    pub notice: (String, bool),
    /// Every sync.
    pub syncs: Vec<SyncLine>,
    /// The alert closed with the case.
    pub closed_alert: String,
    /// The site inspection whose response awaits the office's review.
    pub pending_review: PendingReview,
    /// How to call this program in the suggested commands ([`DemoOptions::program`]).
    pub program: String,
    /// The supervisor's web console account (账号) and its generated password (密码), kept in
    /// the server's data: `zhichao serve --data-dir …` then `/console/`.
    pub console: (String, String),
    /// Wall time of the run, ms.
    pub duration_ms: u64,
}

/// Progress lines, as the demo goes.
struct Narrator<'a> {
    out: &'a mut dyn Write,
    started: Instant,
}

impl Narrator<'_> {
    fn say(&mut self, text: impl fmt::Display) {
        let secs = self.started.elapsed().as_secs_f64();
        // The narration is best effort: a closed pipe must not stop the demo.
        let _ = writeln!(self.out, "[{secs:6.1}s] {text}");
        let _ = self.out.flush();
    }

    fn step(&mut self, n: u8, title: &str) {
        let _ = writeln!(self.out);
        self.say(format_args!("── {n}/6 {title}"));
    }
}

/// The server of the demo, in-process on its own runtime.
struct DemoServer {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
    url: String,
}

impl DemoServer {
    fn start(
        data_dir: &Path,
        admin_token: &str,
        townships: std::collections::BTreeMap<AdminCode, String>,
    ) -> Result<DemoServer, DemoError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| DemoError::io(Path::new("tokio runtime"), e))?;
        let config = ServerConfig {
            townships,
            ..demo_config(data_dir, admin_token)
        };
        let (state, listener) = runtime.block_on(async {
            let state = AppState::open(config, Arc::new(SystemClock)).await?;
            let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .map_err(|e| DemoError::io(Path::new("127.0.0.1:0"), e))?;
            Ok::<_, DemoError>((state, listener))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| DemoError::io(Path::new("127.0.0.1:0"), e))?;
        let serving_state = state.clone();
        let serving = runtime.spawn(async move {
            let stop = serving_state.shutdown_signal();
            crate::serve(listener, serving_state, stop).await
        });
        Ok(DemoServer {
            runtime,
            state,
            serving,
            url: format!("http://{addr}"),
        })
    }

    fn stop(self) {
        self.state.request_shutdown();
        let _ = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(15), self.serving).await });
        self.state.sync.shutdown();
    }
}

/// The server settings of the demo: data in `data_dir`, the bootstrap admin token, and a
/// heartbeat gap of seconds (instead of minutes) so the silent unit is noticed during the run.
fn demo_config(data_dir: &Path, admin_token: &str) -> ServerConfig {
    ServerConfig {
        data_dir: data_dir.to_owned(),
        admin_token: Some(Secret::new(admin_token)),
        ingest: crate::config::IngestConfig {
            heartbeat_gap: HEARTBEAT_GAP,
            operating_hours: crate::ingest::heartbeats::OperatingHours::ROUND_THE_CLOCK,
            monitor_interval: Duration::from_millis(500),
        },
        ..ServerConfig::default()
    }
}

/// The first sled database under `dir` (at any depth, symbolic links not followed) that another
/// process holds: sled keeps an exclusive `flock` on the `db` file next to its `conf` while the
/// database is open, and [`std::fs::File::try_lock`] takes the same kind of lock.
fn locked_database(dir: &Path) -> Result<Option<PathBuf>, DemoError> {
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| DemoError::io(&current, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| DemoError::io(&current, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| DemoError::io(&path, e))?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && entry.file_name() == "db" && current.join("conf").is_file()
            {
                let file = std::fs::File::open(&path).map_err(|e| DemoError::io(&path, e))?;
                // A database this process closed a moment ago may still be locked by sled's
                // I/O threads: wait as the stores do before calling it in use.
                let deadline = Instant::now() + zhichao_core::store::LOCK_WAIT;
                loop {
                    match file.try_lock() {
                        Ok(()) => break,
                        Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(std::fs::TryLockError::WouldBlock) => return Ok(Some(path)),
                        Err(std::fs::TryLockError::Error(e)) => {
                            return Err(DemoError::io(&path, e));
                        }
                    }
                }
            }
        }
    }
    Ok(None)
}

/// Prepares `dir`: removes a previous demo's directory unless a process still uses it
/// ([`DemoError::InUse`]), refuses anything else that is not empty, and marks the new one.
fn prepare_dir(dir: &Path) -> Result<(), DemoError> {
    if dir.exists() && !dir.is_dir() {
        return Err(DemoError::ForeignDirectory {
            path: dir.to_owned(),
        });
    }
    if dir.exists() {
        let is_demo = dir.join(MARKER).is_file();
        let empty = std::fs::read_dir(dir)
            .map_err(|e| DemoError::io(dir, e))?
            .next()
            .is_none();
        if !is_demo && !empty {
            return Err(DemoError::ForeignDirectory {
                path: dir.to_owned(),
            });
        }
        if is_demo {
            if let Some(database) = locked_database(dir)? {
                return Err(DemoError::InUse {
                    path: dir.to_owned(),
                    database,
                });
            }
            std::fs::remove_dir_all(dir).map_err(|e| DemoError::io(dir, e))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| DemoError::io(dir, e))?;
    std::fs::write(
        dir.join(MARKER),
        "made by `zhichao demo`; rerunning the demo replaces this directory\n",
    )
    .map_err(|e| DemoError::io(dir, e))
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn spec(role: Role, name: &str) -> PrincipalSpec {
    PrincipalSpec {
        role,
        name: name.to_owned(),
        team: None,
        scope: None,
        unit: None,
    }
}

fn officer(name: &str, id: &str, agency: Agency) -> OfficerInfo {
    OfficerInfo {
        name: name.to_owned(),
        enforcement_id: id.to_owned(),
        agency,
    }
}

/// Runs the demo, narrating to `out`, and returns what happened.
///
/// # Errors
/// [`DemoError`] naming the step that failed.
pub fn run(options: &DemoOptions, out: &mut dyn Write) -> Result<DemoReport, DemoError> {
    let mut n = Narrator {
        out,
        started: Instant::now(),
    };
    // A bad --photos folder is said before anything starts.
    let photos = choose_photos(options, options.seed)?;
    prepare_dir(&options.dir)?;
    let dir = std::fs::canonicalize(&options.dir).map_err(|e| DemoError::io(&options.dir, e))?;
    let server_dir = dir.join("server");
    let admin_token = random_token();
    // The county's township names, for this server and for `zhichao serve --config` later.
    let townships: std::collections::BTreeMap<AdminCode, String> = world::units(options.seed)
        .iter()
        .map(|u| (u.township, u.township_name.to_owned()))
        .collect();
    let config_file = dir.join(CONFIG_FILE);
    let mut toml = String::from(
        "# Written by `zhichao demo`: the names of the demo county's townships, shown by the \
         console.\n# Use it with `zhichao serve --config`.\n[townships]\n",
    );
    for (code, name) in &townships {
        toml.push_str(&format!("{code} = {:?}\n", name));
    }
    std::fs::write(&config_file, toml).map_err(|e| DemoError::io(&config_file, e))?;
    let server = DemoServer::start(&server_dir, &admin_token, townships)?;
    n.say(format_args!(
        "server on {} (data in {})",
        server.url,
        server_dir.display()
    ));
    let result = play(options, &dir, &server, &admin_token, photos, &mut n);
    server.stop();
    let mut report = result?;
    report.duration_ms = u64::try_from(n.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// The phones and accounts of the demo.
struct Cast {
    supervisor: Phone,
    wang: Phone,
    li: Phone,
    enterprise: Phone,
    ceramics: Phone,
    weighbridges: Vec<ApiClient>,
    supervisor_http: ApiClient,
    /// The supervisor's console account and password.
    console: (String, String),
}

fn play(
    options: &DemoOptions,
    dir: &Path,
    server: &DemoServer,
    admin_token: &str,
    (photo_source, mut photos): (PhotoSource, Vec<DemoPhoto>),
    n: &mut Narrator<'_>,
) -> Result<DemoReport, DemoError> {
    let seed = options.seed;
    let url = server.url.clone();
    let county = server.state.config.county;
    let admin = AdminClient::new(&url, admin_token).map_err(|e| DemoError::step("admin", e))?;
    let units = world::units(seed);
    let mut syncs = Vec::new();

    // ── 1. Accounts and source units ─────────────────────────────────────────────────────
    n.step(1, "accounts, devices and source units");
    let cast = enroll_cast(&admin, &url, dir, seed, &units, n)?;
    let unit_lines = register_units(&admin, &url, dir, seed, county, &units)?;
    for u in &unit_lines {
        n.say(format_args!(
            "registered {} {} ({}, {}) → supervised by {}",
            u.uscc, u.name, u.kind, u.township, u.jurisdiction
        ));
    }
    sync_and_record(&mut syncs, &cast.supervisor, "supervisor's first sync")?;

    // ── 2. Weighbridges ──────────────────────────────────────────────────────────────────
    n.step(
        2,
        "weighbridges upload a morning of records; one unit goes silent",
    );
    let fleet = world::fleet(seed);
    let (morning, flagged) =
        world::morning(seed, &units, &fleet, options.records_per_unit, now_ms());
    let silent = units.len() - 1;
    for (u, client) in cast.weighbridges.iter().enumerate() {
        heartbeat(client)
            .map_err(|e| DemoError::step(format!("heartbeat of {}", units[u].name), e))?;
    }
    let beating = Arc::new(AtomicBool::new(true));
    let heart = spawn_heartbeats(&url, &cast, silent, &beating, &units)?;
    let mut totals = upload_morning(&cast, &units, &morning, n)?;
    let flagged_outcome: RecordOutcome = cast.weighbridges[flagged.unit]
        .post_json("/v1/weighings", &flagged.record)
        .map_err(|e| DemoError::step("the flagged truck's record", e))?;
    totals.sent += 1;
    totals.requests += 1;
    tally(&mut totals, std::slice::from_ref(&flagged_outcome));
    let flagged_display = flagged_outcome
        .exit
        .as_ref()
        .map(|e| e.display_text.clone())
        .unwrap_or_default();
    n.say(format_args!(
        "exit screen at {}: 「{}」 barrier: {}",
        units[flagged.unit].name,
        flagged_display,
        flagged_outcome.exit.as_ref().map_or("?", |e| {
            if e.verdict == zhichao_core::weighing::ExitVerdict::Stop {
                "stays shut"
            } else {
                "opens"
            }
        })
    ));
    retry_and_conflict(&cast, &morning, &mut totals, n)?;
    n.say(format_args!(
        "{} records sent, {} stored, {} duplicates on retry, {} conflict, {} over the limit, {} \
         over-limit departures, {} classified by axle count only",
        totals.sent,
        totals.stored,
        totals.duplicates_on_retry,
        totals.conflicts,
        totals.over_limit,
        totals.departures,
        totals.configuration_assumed
    ));
    n.say(format_args!(
        "{} stops reporting; waiting for the platform to notice …",
        units[silent].name
    ));
    let interruption = wait_for_interruption(&cast.supervisor_http, &units[silent])?;
    n.say(format_args!(
        "alert {}: {} at {}",
        interruption.id,
        AlertKind::UploadInterrupted.chinese_name(),
        units[silent].name
    ));
    let flagged_alert_id = flagged_outcome
        .alert_ids
        .first()
        .cloned()
        .ok_or_else(|| DemoError::step("the flagged truck's record", "raised no alert"))?;
    // The office sees the departure and sends the patrol.
    let _: Alert = cast
        .supervisor_http
        .post_json(
            &format!("/v1/alerts/{flagged_alert_id}/acknowledge"),
            &serde_json::json!({}),
        )
        .map_err(|e| DemoError::step("acknowledging the alert", e))?;
    let _: Alert = cast
        .supervisor_http
        .post_json(
            &format!("/v1/alerts/{flagged_alert_id}/dispatch"),
            &serde_json::json!({ "team": TEAM }),
        )
        .map_err(|e| DemoError::step("dispatching the alert", e))?;
    n.say(format_args!(
        "the county office acknowledges alert {flagged_alert_id} and dispatches it to {TEAM}"
    ));

    // ── 3. The patrol, offline ───────────────────────────────────────────────────────────
    n.step(3, "the patrol syncs the watch list and goes offline");
    sync_and_record(&mut syncs, &cast.wang, "before leaving")?;
    sync_and_record(&mut syncs, &cast.li, "before leaving")?;
    n.say(format_args!("photos: {photo_source}"));
    let plate = flagged.record.plate.clone();
    let hits = cast
        .wang
        .store
        .watchlist_lookup(plate.clone())
        .map_err(|e| DemoError::step("watch-list lookup", e))?;
    let watch_hit = hits.first().map_or_else(
        || "no entry".to_owned(),
        |h| {
            format!(
                "{} left {} at {} (Beijing time) with {} t, {} t over (findings this year: {})",
                h.plate,
                h.unit_name,
                local_hhmm(h.weighed_at_ms),
                zhichao_core::weighing::tonnes(h.gross_kg),
                zhichao_core::weighing::tonnes(h.excess_kg),
                h.year_count
            )
        },
    );
    n.say(format_args!(
        "no signal at the checkpoint; Wang types {plate}: {watch_hit}"
    ));
    let roadside = roadside_case(&cast, &units[flagged.unit], &plate, &mut photos, n)?;
    let ids = roadside.case_id.clone();
    // A moment of signal at the checkpoint: Wang shares the case with Li.
    let shared = sync_and_record(&mut syncs, &cast.wang, "a moment of signal")?;
    sync_and_record(&mut syncs, &cast.li, "a moment of signal")?;
    n.say(format_args!(
        "a moment of signal: Wang's phone sends the case and {} photo files ({} bytes); Li's \
         phone receives the case",
        shared.photos_uploaded, shared.photo_bytes_sent
    ));
    // Offline again: both edit the case.
    let wang_edit = "当事人称系矿方放行。".to_owned();
    let li_edit = "驾驶员出示货物装载单。".to_owned();
    let base = cast
        .wang
        .store
        .case(ids.clone())
        .map_err(|e| DemoError::step("the case on Wang's phone", e))?
        .findings;
    cast.wang
        .store
        .set_findings(ids.clone(), format!("{base}{wang_edit}"))
        .map_err(|e| DemoError::step("Wang's edit", e))?;
    cast.li
        .store
        .set_findings(ids.clone(), format!("{li_edit}{base}"))
        .map_err(|e| DemoError::step("Li's edit", e))?;
    let mut refused = roadside.refused.clone();
    let (li_photo, li_added) = next_photo_with(
        &cast.li,
        &ids,
        &mut photos,
        "车辆尾部及轮胎",
        &mut refused,
        n,
    )?;
    let resumed_blob_bytes = [
        Some(li_photo.bytes.len() as u64),
        file_len(li_added.evidence.evidence_copy_path.as_deref()),
        file_len(li_added.evidence.thumbnail_path.as_deref()),
    ]
    .into_iter()
    .map(|n| n.unwrap_or(0))
    .sum();
    n.say("offline, Wang adds to the findings and Li adds a sentence and a photo of the rear");

    // ── 4. Connectivity returns ──────────────────────────────────────────────────────────
    n.step(4, "connectivity returns: the case merges, photos upload");
    let resumed = cut_upload(&url, &cast.li, &li_photo)?;
    n.say(format_args!(
        "Li's photo upload was cut after {} of {} bytes",
        resumed.1, resumed.2
    ));
    sync_and_record(&mut syncs, &cast.wang, "back online")?;
    let li_sync = cast.li.sync()?;
    n.say(format_args!(
        "Li's sync resumes the photo: {} photo bytes sent for {} photo files",
        li_sync.photo_bytes_sent, li_sync.photos_uploaded
    ));
    record_sync(&mut syncs, &cast.li, "back online", &li_sync);
    sync_and_record(&mut syncs, &cast.wang, "receives Li's edits")?;
    let merged_wang = cast
        .wang
        .store
        .case(ids.clone())
        .map_err(|e| DemoError::step("the merged case", e))?;
    let merged_li = cast
        .li
        .store
        .case(ids.clone())
        .map_err(|e| DemoError::step("the merged case", e))?;
    if merged_wang.findings != merged_li.findings {
        return Err(DemoError::step(
            "merging the case",
            "the two phones disagree after syncing",
        ));
    }
    n.say(format_args!("merged findings: {}", merged_wang.findings));

    // ── 5. Notice, response, review ──────────────────────────────────────────────────────
    n.step(5, "notice → response → review; the case closes");
    let (notice_id, response_photos) = notice_flow(
        &cast,
        &units[flagged.unit],
        &ids,
        (&mut photos, &mut refused),
        &mut syncs,
        n,
    )?;
    close_case(&cast, &ids, &mut syncs)?;
    let pending_review = inspection::inspection_flow(&cast, &units[2], &mut syncs, n)?;
    let closed: Alert = ApiClient::new(&url, &cast.wang.access_token()?)
        .map_err(|e| DemoError::step("Wang's HTTP client", e))?
        .post_json(
            &format!("/v1/alerts/{flagged_alert_id}/close"),
            &serde_json::json!({ "case": ids, "note": "现场查处，已立案并结案" }),
        )
        .map_err(|e| DemoError::step("closing the alert with the case", e))?;
    n.say(format_args!(
        "Wang closes alert {} with case {} ({})",
        closed.id,
        roadside.case_number,
        closed.status.chinese_name()
    ));
    beating.store(false, Ordering::Relaxed);
    let _ = heart.join();

    // ── 6. Summary ───────────────────────────────────────────────────────────────────────
    n.step(6, "summary");
    let final_case = cast
        .wang
        .store
        .case(ids.clone())
        .map_err(|e| DemoError::step("the closed case", e))?;
    let notice_open = cast
        .wang
        .store
        .notice(notice_id.clone())
        .map_err(|e| DemoError::step("the notice", e))?
        .open;
    let alerts: Vec<Alert> = list_alerts(&cast.supervisor_http, "")?;
    let alerts_by_jurisdiction = alerts_by_jurisdiction(&admin, &url, county, &units)?;
    let mut case_photos = Vec::new();
    for e in cast
        .wang
        .store
        .evidence(ids.clone())
        .map_err(|e| DemoError::step("the case's photos", e))?
    {
        let name = roadside
            .photo_names
            .iter()
            .find(|(sha, _)| *sha == e.sha256)
            .map_or_else(|| li_photo.name.clone(), |(_, name)| name.clone());
        case_photos.push(photo_line(&cast.supervisor, &url, name, &e)?);
    }
    let mut response_lines = Vec::new();
    for (name, e) in response_photos {
        response_lines.push(photo_line(&cast.supervisor, &url, name, &e)?);
    }
    Ok(DemoReport {
        dir: dir.to_owned(),
        server_data_dir: dir.join("server"),
        url,
        seed,
        photo_source,
        units: unit_lines,
        weighings: totals,
        flagged_plate: plate,
        flagged_display,
        watch_hit,
        alerts,
        alerts_by_jurisdiction,
        silent_unit: units[silent].uscc.to_string(),
        case_number: roadside.case_number,
        case_id: ids,
        case_status: format!("{:?}", final_case.status),
        findings: final_case.findings,
        edits: [wang_edit, li_edit],
        case_photos,
        response_photos: response_lines,
        refused_photos: refused,
        resumed,
        resumed_blob_bytes,
        notice: (notice_id, notice_open),
        syncs,
        closed_alert: closed.id,
        pending_review,
        program: options.program.clone(),
        console: cast.console.clone(),
        duration_ms: 0,
    })
}

fn enroll_cast(
    admin: &AdminClient,
    url: &str,
    dir: &Path,
    seed: u64,
    units: &[DemoUnit],
    n: &mut Narrator<'_>,
) -> Result<Cast, DemoError> {
    let phones = dir.join("phones");
    let device = |who: &str| format!("demo-{seed}-{who}");
    let supervisor = Phone::enroll(
        admin,
        url,
        "supervisor Zhao (county office)",
        spec(Role::Supervisor, "supervisor:zhao"),
        &device("zhao"),
        &phones.join("zhao"),
    )?;
    let officer_spec = |name: &str| PrincipalSpec {
        team: Some(TEAM.to_owned()),
        ..spec(Role::Officer, name)
    };
    let wang = Phone::enroll(
        admin,
        url,
        "officer Wang (transport)",
        officer_spec("officer:wang"),
        &device("wang"),
        &phones.join("wang"),
    )?;
    let li = Phone::enroll(
        admin,
        url,
        "officer Li (traffic police)",
        officer_spec("officer:li"),
        &device("li"),
        &phones.join("li"),
    )?;
    let enterprise = Phone::enroll(
        admin,
        url,
        "the coal mine's safety office",
        PrincipalSpec {
            unit: Some(units[0].uscc.to_string()),
            ..spec(Role::Enterprise, "enterprise:dongye")
        },
        &device("dongye"),
        &phones.join("dongye"),
    )?;
    // The second enterprise (the ceramics plant) answers a notice from its own phone.
    let ceramics = Phone::enroll(
        admin,
        url,
        "the ceramics plant's office",
        PrincipalSpec {
            unit: Some(units[2].uscc.to_string()),
            ..spec(Role::Enterprise, "enterprise:fengcheng")
        },
        &device("fengcheng"),
        &phones.join("fengcheng"),
    )?;
    let mut weighbridges = Vec::new();
    for u in units {
        let token = admin
            .issue_token(&IssueTokenRequest {
                principal: PrincipalSpec {
                    unit: Some(u.uscc.to_string()),
                    ..spec(Role::SourceUnitSystem, &format!("weighbridge:{}", u.tag))
                },
                ttl: Some("1d".to_owned()),
                device: None,
            })
            .map_err(|e| DemoError::step(format!("{}'s weighbridge token", u.name), e))?
            .token;
        weighbridges.push(
            ApiClient::new(url, &token).map_err(|e| DemoError::step("weighbridge client", e))?,
        );
    }
    let supervisor_http = ApiClient::new(url, &supervisor.access_token()?)
        .map_err(|e| DemoError::step("supervisor's HTTP client", e))?;
    // Zhao's password for the web console, generated by the server (the admin API).
    let console = admin
        .add_supervisor(&AddSupervisorRequest {
            name: "supervisor:zhao".to_owned(),
            scope: None,
            password: None,
        })
        .map_err(|e| DemoError::step("the supervisor's console password", e))?;
    let console_password = console.password.ok_or_else(|| {
        DemoError::step(
            "the supervisor's console password",
            "the server generated no password",
        )
    })?;
    n.say(format_args!(
        "console account {} ({}) with a generated password (the summary shows it)",
        console.id, console.scope
    ));
    n.say(format_args!(
        "enrolled {}, {}, {} and {} on their phones; weighbridge tokens for {} units",
        supervisor.who,
        wang.who,
        li.who,
        enterprise.who,
        units.len()
    ));
    Ok(Cast {
        supervisor,
        wang,
        li,
        enterprise,
        ceramics,
        weighbridges,
        supervisor_http,
        console: (console.id.to_string(), console_password),
    })
}

/// The supervisor's desk registers the units' profiles (`unit` documents) through the core
/// sync client, as the console will.
fn register_units(
    admin: &AdminClient,
    url: &str,
    dir: &Path,
    seed: u64,
    county: Scope,
    units: &[DemoUnit],
) -> Result<Vec<UnitLine>, DemoError> {
    let step = |e: &dyn fmt::Display| DemoError::step("registering the source units", e);
    let device = StorageId::new(&format!("demo-{seed}-zhao-desk")).map_err(|e| step(&e))?;
    let code = admin
        .create_enrollment(&crate::api::CreateEnrollmentRequest {
            principal: spec(Role::Supervisor, "supervisor:zhao"),
            device: device.to_string(),
            ttl: None,
        })
        .map_err(|e| step(&e))?
        .code;
    let credentials = Arc::new(MemoryCredentials::new());
    let enrolled =
        client::enroll(url, &code, &device, credentials.as_ref()).map_err(|e| step(&e))?;
    let desk_dir = dir.join("phones").join("zhao-desk");
    let store = Arc::new(CoreFieldStore::new(
        SledStore::open(&desk_dir).map_err(|e| step(&e))?,
    ));
    let by = enrolled.principal.id().clone();
    let county_code = county.county_code();
    let mut lines = Vec::new();
    for u in units {
        let jurisdiction = jurisdiction::route(u.kind, &u.township);
        let scope = Scope::of_jurisdiction(county_code, &jurisdiction).map_err(|e| step(&e))?;
        let header = Header {
            kind: DocKind::Unit,
            schema: SCHEMA_VERSION,
            scope,
            team: None,
            unit: Some(u.uscc.clone()),
            parent: None,
            created_by: by.clone(),
            created_at_ms: now_ms(),
        };
        let profile = UnitProfile {
            name: u.name.to_owned(),
            kind: u.kind,
            township: u.township,
            supervising_department: None,
            address: format!("山西省晋城市阳城县{}", u.township_name),
            location: None,
            listed: true,
        };
        let doc = TypedDoc::create(
            zhichao_core::ids::DocumentId::generate(&mut rand::rng()),
            ActorId::random(),
            &header,
            &profile,
        )
        .map_err(|e| step(&e))?;
        store.save(&doc).map_err(|e| step(&e))?;
        lines.push(UnitLine {
            uscc: u.uscc.to_string(),
            name: u.name.to_owned(),
            kind: u.kind.chinese_name().to_owned(),
            township: u.township_name.to_owned(),
            jurisdiction,
        });
    }
    let client = SyncClient::new(
        Arc::clone(&store),
        url,
        credentials as Arc<dyn client::CredentialStore>,
        SyncConfig::default(),
    )
    .map_err(|e| step(&e))?;
    let report = client.sync_now(&NoObserver).map_err(|e| step(&e))?;
    if !report.rejected.is_empty() || report.pushed != units.len() as u64 {
        return Err(step(&format_args!("the server took {report:?}")));
    }
    Ok(lines)
}

fn heartbeat(client: &ApiClient) -> Result<HeartbeatAnswer, ClientError> {
    client.post_json(
        "/v1/heartbeats",
        &HeartbeatRequest {
            equipment: EquipmentKind::ALL
                .iter()
                .map(|&kind| EquipmentReport {
                    kind,
                    ok: true,
                    detail: None,
                })
                .collect(),
        },
    )
}

/// Every unit but the silent one keeps reporting, once a second, until told to stop.
fn spawn_heartbeats(
    url: &str,
    cast: &Cast,
    silent: usize,
    beating: &Arc<AtomicBool>,
    units: &[DemoUnit],
) -> Result<std::thread::JoinHandle<()>, DemoError> {
    let _ = (url, units);
    let clients: Vec<ApiClient> = cast
        .weighbridges
        .iter()
        .enumerate()
        .filter(|(u, _)| *u != silent)
        .map(|(_, c)| c.clone())
        .collect();
    let beating = Arc::clone(beating);
    std::thread::Builder::new()
        .name("demo-heartbeats".to_owned())
        .spawn(move || {
            while beating.load(Ordering::Relaxed) {
                for c in &clients {
                    if let Err(e) = heartbeat(c) {
                        tracing::warn!(error = %e, "demo heartbeat failed");
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
        .map_err(|e| DemoError::io(Path::new("heartbeat thread"), e))
}

fn tally(totals: &mut WeighingTotals, outcomes: &[RecordOutcome]) {
    for o in outcomes {
        match o.status {
            RecordStatus::Stored => totals.stored += 1,
            RecordStatus::Duplicate => totals.duplicates_on_retry += 1,
            RecordStatus::Conflict => totals.conflicts += 1,
            RecordStatus::Invalid => totals.invalid += 1,
        }
        if o.status == RecordStatus::Stored
            && let Some(exit) = &o.exit
        {
            totals.over_limit += usize::from(exit.over_limit);
            totals.departures += usize::from(exit.departure);
            totals.configuration_assumed += usize::from(exit.configuration_assumed);
        }
    }
}

fn upload_morning(
    cast: &Cast,
    units: &[DemoUnit],
    morning: &[Weighing],
    n: &mut Narrator<'_>,
) -> Result<WeighingTotals, DemoError> {
    let mut totals = WeighingTotals::default();
    for (u, unit) in units.iter().enumerate() {
        let records: Vec<&WeighingRecord> = morning
            .iter()
            .filter(|w| w.unit == u)
            .map(|w| &w.record)
            .collect();
        for batch in records.chunks(zhichao_core::weighing::MAX_BATCH_RECORDS.min(100)) {
            let answer: BatchOutcome = cast.weighbridges[u]
                .post_json("/v1/weighings", &serde_json::json!({ "records": batch }))
                .map_err(|e| DemoError::step(format!("{}'s upload", unit.name), e))?;
            totals.sent += batch.len();
            totals.requests += 1;
            tally(&mut totals, &answer.records);
        }
        n.say(format_args!(
            "{} uploaded {} records",
            unit.name,
            records.len()
        ));
    }
    Ok(totals)
}

/// A lost answer makes the first unit's software send its batch again (all duplicates); the
/// second unit's software resends a record with a corrected gross (409: the platform keeps
/// both versions for audit and the first stands).
fn retry_and_conflict(
    cast: &Cast,
    morning: &[Weighing],
    totals: &mut WeighingTotals,
    n: &mut Narrator<'_>,
) -> Result<(), DemoError> {
    let first: Vec<&WeighingRecord> = morning
        .iter()
        .filter(|w| w.unit == 0)
        .map(|w| &w.record)
        .take(100)
        .collect();
    let answer: BatchOutcome = cast.weighbridges[0]
        .post_json("/v1/weighings", &serde_json::json!({ "records": first }))
        .map_err(|e| DemoError::step("the retried batch", e))?;
    totals.requests += 1;
    tally(totals, &answer.records);
    n.say(format_args!(
        "a lost answer: the first mine resends {} records → {} duplicates, nothing stored twice",
        first.len(),
        answer.duplicates
    ));
    if let Some(w) = morning.iter().find(|w| w.unit == 1) {
        let mut changed = w.record.clone();
        changed.gross_kg += 100;
        changed.net_kg = changed.net_kg.map(|n| n + 100);
        totals.requests += 1;
        match cast.weighbridges[1].post_json::<_, RecordOutcome>("/v1/weighings", &changed) {
            Err(ClientError::Server { status: 409, .. }) => {
                totals.conflicts += 1;
                n.say(format_args!(
                    "record {} sent again with another gross → 409, both versions kept for audit",
                    changed.record_id
                ));
            }
            other => {
                return Err(DemoError::step(
                    "a conflicting record",
                    format_args!("expected 409, got {other:?}"),
                ));
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct AlertList {
    alerts: Vec<Alert>,
}

fn list_alerts(client: &ApiClient, query: &str) -> Result<Vec<Alert>, DemoError> {
    let list: AlertList = client
        .get_json(&format!("/v1/alerts?limit=1000{query}"))
        .map_err(|e| DemoError::step("listing alerts", e))?;
    Ok(list.alerts)
}

fn wait_for_interruption(client: &ApiClient, unit: &DemoUnit) -> Result<Alert, DemoError> {
    let deadline = Instant::now() + SILENCE_WAIT;
    loop {
        let found = list_alerts(client, &format!("&unit={}", unit.uscc))?
            .into_iter()
            .find(|a| a.kind == AlertKind::UploadInterrupted);
        if let Some(alert) = found {
            return Ok(alert);
        }
        if Instant::now() > deadline {
            return Err(DemoError::step(
                "waiting for the upload-interrupted alert",
                format_args!("none within {} s", SILENCE_WAIT.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// For each supervising authority, the number of alerts a supervisor of its scope sees.
fn alerts_by_jurisdiction(
    admin: &AdminClient,
    url: &str,
    county: Scope,
    units: &[DemoUnit],
) -> Result<Vec<(String, usize)>, DemoError> {
    let mut jurisdictions: Vec<Jurisdiction> = units
        .iter()
        .map(|u| jurisdiction::route(u.kind, &u.township))
        .collect();
    jurisdictions.sort();
    jurisdictions.dedup();
    jurisdictions.push(Jurisdiction::CountyOffice);
    let mut out = Vec::new();
    for (i, j) in jurisdictions.iter().enumerate() {
        let scope = Scope::of_jurisdiction(county.county_code(), j)
            .map_err(|e| DemoError::step("a jurisdiction's scope", e))?;
        let token = admin
            .issue_token(&IssueTokenRequest {
                principal: PrincipalSpec {
                    scope: Some(scope.to_string()),
                    ..spec(Role::Supervisor, &format!("supervisor:desk-{i}"))
                },
                ttl: Some("1h".to_owned()),
                device: None,
            })
            .map_err(|e| DemoError::step("a jurisdiction's supervisor", e))?
            .token;
        let client =
            ApiClient::new(url, &token).map_err(|e| DemoError::step("supervisor client", e))?;
        out.push((j.to_string(), list_alerts(&client, "")?.len()));
    }
    Ok(out)
}

/// What the roadside work produced.
struct Roadside {
    case_id: String,
    case_number: String,
    photo_names: Vec<(String, String)>,
    refused: Vec<(String, String)>,
}

fn choose_photos(
    options: &DemoOptions,
    seed: u64,
) -> Result<(PhotoSource, Vec<DemoPhoto>), DemoError> {
    // Taken at 10:00 of the demo's day: the same photos (and hashes) for one seed all day.
    let taken = china_time(now_ms()).format("%Y:%m:%d 10:00:00").to_string();
    let generated: Vec<DemoPhoto> = (0..PHOTOS_NEEDED as u64)
        .map(|i| photos::generated(seed * 10 + i, &taken, 35.486 + 0.001 * i as f64, 112.42))
        .collect();
    let folder = options.photos.clone().or_else(photos::default_folder);
    if let Some(dir) = folder {
        let mut found = photos::folder_photos(&dir).map_err(|e| DemoError::Step {
            step: format!("--photos {}", dir.display()),
            reason: e.to_string(),
        })?;
        if !found.is_empty() {
            // Generated photos stand in for any the folder lacks (or the pipeline refuses).
            found.extend(generated);
            return Ok((PhotoSource::Folder(dir), found));
        }
        if options.photos.is_some() {
            return Err(DemoError::step(
                format!("--photos {}", dir.display()),
                "holds no JPEG, PNG or HEIC file",
            ));
        }
    }
    Ok((PhotoSource::Generated, generated))
}

/// Attaches the next photo the evidence pipeline accepts to `doc`; refused ones are reported
/// and skipped.
fn next_photo_with(
    phone: &Phone,
    doc: &str,
    photos: &mut Vec<DemoPhoto>,
    caption: &str,
    refused: &mut Vec<(String, String)>,
    n: &mut Narrator<'_>,
) -> Result<(DemoPhoto, zhichao_mobile::PhotoAdded), DemoError> {
    while !photos.is_empty() {
        let photo = photos.remove(0);
        match futures_lite::future::block_on(phone.store.add_photo_bytes(
            doc.to_owned(),
            photo.bytes.clone(),
            caption.to_owned(),
            Some(GeoFix {
                latitude: 35.486,
                longitude: 112.421,
                accuracy_m: Some(8),
            }),
        )) {
            Ok(added) => {
                n.say(format_args!(
                    "{} attaches {} ({} bytes, {}{})",
                    phone.who,
                    photo.name,
                    photo.bytes.len(),
                    &added.evidence.sha256[..16],
                    added
                        .preview_error
                        .as_deref()
                        .map(|e| format!("; no preview: {e}"))
                        .unwrap_or_default()
                ));
                return Ok((photo, added));
            }
            Err(e) => {
                n.say(format_args!("refused {}: {e}", photo.name));
                refused.push((photo.name, e.to_string()));
            }
        }
    }
    Err(DemoError::step(
        format!("{}'s photo", phone.who),
        "no usable photo left (give --photos DIR with JPEGs)",
    ))
}

fn file_len(path: Option<&str>) -> Option<u64> {
    std::fs::metadata(path?).ok().map(|m| m.len())
}

fn patrol() -> Vec<OfficerInfo> {
    vec![
        officer("王强", "JT14052201", Agency::Transport),
        officer("李明", "JJ14052207", Agency::TrafficPolice),
    ]
}

fn roadside_case(
    cast: &Cast,
    unit: &DemoUnit,
    plate: &str,
    photos: &mut Vec<DemoPhoto>,
    n: &mut Narrator<'_>,
) -> Result<Roadside, DemoError> {
    let store = &cast.wang.store;
    let case = store
        .create_roadside_check(RoadsideCheckInput {
            plate: plate.to_owned(),
            configuration: VehicleConfig {
                axles: 6,
                kind: Some(zhichao_mobile::BodyKind::Articulated),
                drive_axles: Some(2),
                drive_tyres: None,
                suspension: None,
                single_tyre_axles: Some(0),
                wide_base_tyre_axles: None,
                registration_kg: None,
            },
            place: "S331省道东冶治超检查点".to_owned(),
            officers: patrol(),
            gps: Some(GeoFix {
                latitude: 35.486,
                longitude: 112.421,
                accuracy_m: Some(8),
            }),
            plate_colour: Some("yellow".to_owned()),
            source_unit: Some(unit.uscc.to_string()),
            started_at_ms: None,
        })
        .map_err(|e| DemoError::step("opening the roadside case", e))?;
    let verdict = store
        .record_measurement(
            case.id.clone(),
            MeasurementInput {
                gross_kg: 52_450,
                height_mm: None,
                width_mm: None,
                length_mm: None,
                rated_payload_kg: None,
                curb_kg: None,
                measured_at_ms: None,
                scale: Some("便携式轴重仪 ZC-07".to_owned()),
            },
        )
        .map_err(|e| DemoError::step("the measurement", e))?;
    store
        .set_findings(
            case.id.clone(),
            format!(
                "该车于当日自{}装载{}驶出，现场复称超限。",
                unit.name, unit.cargo
            ),
        )
        .map_err(|e| DemoError::step("the findings", e))?;
    n.say(format_args!(
        "case {} opened offline: {} kg against {} kg, {} kg over (超限率 {:.2} %), fine up to ¥{}",
        case.case_number,
        verdict.gross_kg,
        verdict.limit_kg,
        verdict.excess_kg,
        verdict.rate_bp as f64 / 100.0,
        verdict.penalty_max_yuan
    ));
    let mut refused = Vec::new();
    let mut names = Vec::new();
    for caption in ["车辆正面及号牌", "称重显示"] {
        let (photo, added) =
            next_photo_with(&cast.wang, &case.id, photos, caption, &mut refused, n)?;
        names.push((added.evidence.sha256, photo.name));
    }
    Ok(Roadside {
        case_id: case.id,
        case_number: case.case_number,
        photo_names: names,
        refused,
    })
}

/// Sends the first half of Li's photo to the server with his token, as an upload the network
/// cut; returns (sha256, bytes the server holds, size).
fn cut_upload(url: &str, li: &Phone, photo: &DemoPhoto) -> Result<(String, u64, u64), DemoError> {
    use sha2::{Digest, Sha256};
    let sha: String = Sha256::digest(&photo.bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let total = photo.bytes.len() as u64;
    let half = total / 2;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .put(format!("{url}/v1/blobs/{sha}"))
        .header("Authorization", format!("Bearer {}", li.access_token()?))
        .header("Content-Range", format!("bytes 0-{}/{total}", half - 1))
        .send(&photo.bytes[..usize::try_from(half).unwrap_or(0)])
        .map_err(|e| DemoError::step("the cut upload", e))?;
    let offset = answer
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            DemoError::step(
                "the cut upload",
                format_args!("answered {} without Upload-Offset", answer.status()),
            )
        })?;
    Ok((sha, offset, total))
}

fn notice_flow(
    cast: &Cast,
    unit: &DemoUnit,
    case_id: &str,
    (photos, refused): (&mut Vec<DemoPhoto>, &mut Vec<(String, String)>),
    syncs: &mut Vec<SyncLine>,
    n: &mut Narrator<'_>,
) -> Result<(String, Vec<(String, zhichao_mobile::EvidenceView)>), DemoError> {
    let wang = &cast.wang.store;
    for stage in [Stage::Registered, Stage::Investigating] {
        wang.record_stage(case_id.to_owned(), stage, String::new())
            .map_err(|e| DemoError::step("recording the case's stage", e))?;
    }
    let deadline = china_time(now_ms()).date_naive() + chrono::Days::new(15);
    let notice = wang
        .issue_notice(NoticeInput {
            case_id: case_id.to_owned(),
            unit_name: unit.name.to_owned(),
            facts: "你单位放行超限运输车辆驶出厂区，违反源头治超有关规定。".to_owned(),
            legal_basis: "《公路安全保护条例》第四十一条、第六十七条".to_owned(),
            officers: patrol(),
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            deadline_date: Some(deadline.format("%Y-%m-%d").to_string()),
            source_unit: None,
            legal_representative: Some("张某".to_owned()),
            include_case_photos: true,
        })
        .map_err(|e| DemoError::step("issuing the notice", e))?;
    wang.record_stage(
        case_id.to_owned(),
        Stage::Notified,
        "整改通知书已送达".to_owned(),
    )
    .map_err(|e| DemoError::step("recording the notice", e))?;
    sync_and_record(syncs, &cast.wang, "notice issued")?;
    n.say(format_args!(
        "Wang issues a rectification notice to {} (deadline {}), with {} case photos as evidence \
         copies",
        unit.name,
        notice.deadline_date.as_deref().unwrap_or("-"),
        notice.photos.len()
    ));
    sync_and_record(syncs, &cast.enterprise, "receives the notice")?;
    let company = &cast.enterprise.store;
    let received = company
        .my_notices()
        .map_err(|e| DemoError::step("the enterprise's notices", e))?;
    if !received.iter().any(|r| r.id == notice.id) {
        return Err(DemoError::step(
            "the enterprise's notices",
            "the notice did not arrive",
        ));
    }
    let draft = company
        .respond(
            notice.id.clone(),
            "已对出场称重岗位人员进行处理，道闸与称重系统联锁，超限车辆无法出场。".to_owned(),
        )
        .map_err(|e| DemoError::step("the response", e))?;
    let (photo, added) = next_photo_with(
        &cast.enterprise,
        &draft.id,
        photos,
        "道闸联锁改造后",
        refused,
        n,
    )?;
    company
        .submit_response(draft.id.clone())
        .map_err(|e| DemoError::step("submitting the response", e))?;
    sync_and_record(syncs, &cast.enterprise, "response sent")?;
    sync_and_record(syncs, &cast.supervisor, "receives the response")?;
    cast.supervisor
        .store
        .review(
            draft.id.clone(),
            ReviewDecision::Accept,
            "整改到位".to_owned(),
        )
        .map_err(|e| DemoError::step("the supervisor's review", e))?;
    sync_and_record(syncs, &cast.supervisor, "accepts the response")?;
    n.say("the mine answers with a photo of the barrier interlock; the county office accepts it");
    Ok((notice.id, vec![(photo.name, added.evidence)]))
}

fn close_case(cast: &Cast, case_id: &str, syncs: &mut Vec<SyncLine>) -> Result<(), DemoError> {
    let wang = &cast.wang.store;
    for stage in [
        Stage::Decided,
        Stage::Served,
        Stage::Enforced,
        Stage::Closed,
    ] {
        wang.record_stage(case_id.to_owned(), stage, String::new())
            .map_err(|e| DemoError::step("recording the case's stage", e))?;
    }
    sync_and_record(syncs, &cast.wang, "case closing")?;
    sync_and_record(syncs, &cast.supervisor, "receives the closing")?;
    cast.supervisor
        .store
        .review(
            case_id.to_owned(),
            ReviewDecision::Accept,
            "同意结案".to_owned(),
        )
        .map_err(|e| DemoError::step("the closing review", e))?;
    sync_and_record(syncs, &cast.supervisor, "accepts the closing")?;
    sync_and_record(syncs, &cast.wang, "sees the case closed")?;
    sync_and_record(syncs, &cast.li, "sees the case closed")?;
    let status = wang
        .case(case_id.to_owned())
        .map_err(|e| DemoError::step("the case", e))?
        .status;
    if status != CaseStatus::Closed {
        return Err(DemoError::step(
            "closing the case",
            format_args!("the case is {status:?} on Wang's phone"),
        ));
    }
    Ok(())
}

fn photo_line(
    supervisor: &Phone,
    url: &str,
    name: String,
    e: &zhichao_mobile::EvidenceView,
) -> Result<PhotoLine, DemoError> {
    Ok(PhotoLine {
        name,
        by: e.taken_by.clone(),
        sha256: e.sha256.clone(),
        bytes: e.byte_len.unwrap_or(0),
        evidence_copy: e.evidence_copy_sha256.clone(),
        on_server: blob_complete(url, &supervisor.access_token()?, &e.sha256)?,
    })
}

/// Asks the server (`HEAD /v1/blobs/{sha256}`, as a supervisor who may read every photo of the
/// county) whether it holds the blob complete and verified.
fn blob_complete(url: &str, token: &str, sha256: &str) -> Result<bool, DemoError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .head(format!("{url}/v1/blobs/{sha256}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .map_err(|e| DemoError::step("asking the server for a photo", e))?;
    Ok(answer.status() == 200
        && answer
            .headers()
            .get("upload-complete")
            .is_some_and(|v| v.as_bytes() == b"true"))
}

/// One "sync now" of `phone`, recorded.
fn sync_and_record(
    syncs: &mut Vec<SyncLine>,
    phone: &Phone,
    when: &str,
) -> Result<SyncResult, DemoError> {
    let result = phone.sync()?;
    record_sync(syncs, phone, when, &result);
    Ok(result)
}

fn record_sync(syncs: &mut Vec<SyncLine>, phone: &Phone, when: &str, r: &SyncResult) {
    syncs.push(SyncLine {
        who: phone.who.clone(),
        when: when.to_owned(),
        pushed: r.pushed,
        pulled: r.pulled,
        rejected: r.rejected.len(),
        bytes_sent: r.bytes_sent,
        bytes_received: r.bytes_received,
        messages_sent: r.messages_sent,
        messages_received: r.messages_received,
        photos_uploaded: r.photos_uploaded,
        photo_bytes_sent: r.photo_bytes_sent,
        duration_ms: r.duration_ms,
    });
}

/// The instant `at_ms` in China Standard Time.
fn china_time(at_ms: i64) -> chrono::DateTime<chrono::FixedOffset> {
    let offset =
        chrono::FixedOffset::east_opt(zhichao_core::calendar::CHINA_STANDARD_TIME_OFFSET_SECS)
            .unwrap_or_else(|| unreachable!("8 h is a valid offset"));
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .with_timezone(&offset)
}

fn local_hhmm(at_ms: i64) -> String {
    zhichao_core::calendar::local_time_of_day(at_ms)
        .map_or_else(|| "?".to_owned(), |t| t.format("%H:%M").to_string())
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "zhichao demo — seed {}, {:.1} s",
            self.seed,
            self.duration_ms as f64 / 1000.0
        )?;
        writeln!(f)?;
        writeln!(f, "Source units ({}):", self.units.len())?;
        for u in &self.units {
            writeln!(
                f,
                "  {}  {:<14} {:<6} {:<4} → {}",
                u.uscc, u.name, u.kind, u.township, u.jurisdiction
            )?;
        }
        let w = &self.weighings;
        writeln!(f)?;
        writeln!(
            f,
            "Weighings: {} sent in {} requests, {} stored, {} duplicates on retry (not stored \
             again), {} conflict (409, both kept), {} invalid",
            w.sent, w.requests, w.stored, w.duplicates_on_retry, w.conflicts, w.invalid
        )?;
        writeln!(
            f,
            "  {} over the limit, {} over-limit departures (超限出场), {} classified by axle \
             count only (configuration assumed)",
            w.over_limit, w.departures, w.configuration_assumed
        )?;
        writeln!(
            f,
            "  exit screen for {}: 「{}」",
            self.flagged_plate, self.flagged_display
        )?;
        writeln!(f)?;
        writeln!(f, "Alerts ({}):", self.alerts.len())?;
        for a in &self.alerts {
            let what = match (&a.departure, &a.interruption) {
                (Some(d), _) => format!(
                    "{} {} t over",
                    d.plate,
                    zhichao_core::weighing::tonnes(d.excess_kg)
                ),
                (_, Some(i)) => format!("{} silent", i.equipment.chinese_name()),
                _ => String::new(),
            };
            let recipients: Vec<String> = a.recipients.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "  {} {:<6} {:<4} {} — {} → {}{}",
                a.id,
                a.kind.chinese_name(),
                a.status.chinese_name(),
                a.unit_name.as_deref().unwrap_or(a.unit.as_str()),
                what,
                recipients.join(" + "),
                a.case
                    .filter(|c| c.to_string() == self.case_id)
                    .map(|_| format!(" (closed with case {})", self.case_number))
                    .unwrap_or_default()
            )?;
        }
        let by: Vec<String> = self
            .alerts_by_jurisdiction
            .iter()
            .map(|(j, n)| format!("{j} {n}"))
            .collect();
        writeln!(f, "  seen by: {}", by.join(", "))?;
        writeln!(f)?;
        writeln!(f, "Offline watch-list lookup: {}", self.watch_hit)?;
        writeln!(
            f,
            "Case {} (案号; document {}): {}",
            self.case_number, self.case_id, self.case_status
        )?;
        writeln!(f, "  findings as merged: {}", self.findings)?;
        writeln!(
            f,
            "  notice {}: {}",
            self.notice.0,
            if self.notice.1 { "open" } else { "settled" }
        )?;
        writeln!(f, "  alert {} closed with the case", self.closed_alert)?;
        let pending = &self.pending_review;
        writeln!(
            f,
            "Site inspection {} at {} (document {}): notice {}, response {} awaits the office's \
             review",
            pending.case_number,
            pending.unit_name,
            pending.case_id,
            pending.notice_id,
            pending.response_id
        )?;
        writeln!(f)?;
        writeln!(f, "Photos ({}):", {
            match &self.photo_source {
                PhotoSource::Folder(d) => format!("from {}", d.display()),
                PhotoSource::Generated => "generated JPEGs with EXIF".to_owned(),
            }
        })?;
        for p in self.case_photos.iter().chain(&self.response_photos) {
            writeln!(
                f,
                "  {} {:>9} bytes by {:<18} {} {}",
                p.sha256,
                p.bytes,
                p.by,
                if p.on_server {
                    "on the server"
                } else {
                    "NOT on the server"
                },
                p.name
            )?;
        }
        for (name, why) in &self.refused_photos {
            writeln!(f, "  refused {name}: {why}")?;
        }
        writeln!(
            f,
            "  resumed upload: {} — the server held {} of {} bytes when the connection came back",
            self.resumed.0, self.resumed.1, self.resumed.2
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Syncs ({}):   pushed pulled  sent B  recv B  msgs out/in  files  photo B    ms \
             (files: original, evidence copy, thumbnail)",
            self.syncs.len()
        )?;
        for s in &self.syncs {
            writeln!(
                f,
                "  {:<34} {:>4} {:>6} {:>7} {:>7} {:>6}/{:<5} {:>6} {:>8} {:>4}  {}",
                s.who,
                s.pushed,
                s.pulled,
                s.bytes_sent,
                s.bytes_received,
                s.messages_sent,
                s.messages_received,
                s.photos_uploaded,
                s.photo_bytes_sent,
                s.duration_ms,
                s.when
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "The data stays in {}. To look at it:",
            self.dir.display()
        )?;
        writeln!(
            f,
            "  export ZHICHAO_ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n')"
        )?;
        writeln!(
            f,
            "  {} serve --config {} --data-dir {} &",
            self.program,
            self.dir.join(CONFIG_FILE).display(),
            self.server_data_dir.display()
        )?;
        writeln!(
            f,
            "  open http://127.0.0.1:8080/console/ and log in (账号 {}, 密码 {})   \
             # the web console",
            self.console.0, self.console.1
        )?;
        writeln!(
            f,
            "  T=$({} admin issue-token --server http://127.0.0.1:8080 --role supervisor \
             --name supervisor:me)",
            self.program
        )?;
        writeln!(
            f,
            "  curl -H \"Authorization: Bearer $T\" http://127.0.0.1:8080/v1/alerts   \
             # the alerts, as JSON"
        )?;
        writeln!(
            f,
            "  curl -H \"Authorization: Bearer $ZHICHAO_ADMIN_TOKEN\" \
             http://127.0.0.1:8080/v1/admin/docs/{}/history   # the case's audit trail",
            self.case_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_previous_demo_still_in_use_is_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        prepare_dir(&dir).unwrap();
        // A server (the demo's, or `zhichao serve --data-dir`) has the data open.
        let data = dir.join("server").join("docs");
        let db = sled::open(&data).unwrap();
        db.insert("kept", "yes").unwrap();
        db.flush().unwrap();

        let e = prepare_dir(&dir).unwrap_err();
        assert!(
            matches!(&e, DemoError::InUse { database, .. } if database.starts_with(&dir)),
            "{e}"
        );
        assert!(e.to_string().contains("in use"), "{e}");
        assert!(dir.join(MARKER).is_file(), "left untouched");
        assert_eq!(db.get("kept").unwrap().as_deref(), Some(&b"yes"[..]));
        drop(db);
        assert!(
            sled::open(&data).unwrap().get("kept").unwrap().is_some(),
            "the data is still on disk"
        );

        // Once the process has let go, the rerun replaces it.
        prepare_dir(&dir).unwrap();
        assert!(dir.join(MARKER).is_file());
        assert!(!data.exists(), "replaced");
    }
}
