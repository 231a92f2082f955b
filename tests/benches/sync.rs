//! Sync benchmarks: our server against samod 0.16. A bench binary without a harness, printing
//! its figures as text lines, then one JSON line per scenario:
//!
//! ```sh
//! cargo bench -p zhichao-e2e --bench sync                       # every "ours" scenario
//! cargo bench -p zhichao-e2e --bench sync -- --scenario push-1x4000 --docs 500
//! cargo bench -p zhichao-e2e --bench sync -- --scenario push-50x20 --impl samod
//! ```
//!
//! Options: `--scenario NAME` (one of [`SCENARIOS`]), `--impl ours|samod` (default `ours`;
//! samod runs only the two push scenarios and only when asked: it takes minutes), `--docs N`
//! (documents per phone: overrides the 20 / 4 000 / 50 of the push and reconnect scenarios,
//! and the largest size of `reconnect-idle`), `--window N` (pending documents a phone pushes
//! at once, default 32 like the server's announce window), `--stall SECS` (how long a phone
//! waits for the server's next frame before giving up, default 60), `--until-idle`
//! (`reconnect-500x50`: phones stay until discovery is done too, see below), `--team-size N`
//! (phones per patrol team, default 4). `RUST_LOG` sets
//! the log filter (default `warn`; e.g. `RUST_LOG=zhichao_server=debug`).
//!
//! "ours": the server of `zhichao-server` in-process on 127.0.0.1:0 with its sled store in a
//! temporary directory; each phone is a tokio task running core's sans-I/O [`Replica`] over a
//! `tokio-tungstenite` WebSocket (`Authorization: Bearer`, an officer token of the phone's
//! team: four phones a team unless `--team-size`),
//! its documents in a [`MemoryStore`]; peer ids spelled as the real client spells them, window
//! 32 as the real client's default. "samod": a stock samod `Repo` with a filesystem
//! storage in a temporary directory accepting WebSocket connections, and one stock samod
//! `Repo` per phone dialling it (`Repo::dial_websocket`), default share policy on both.
//!
//! 1. `push-50x20`: 50 phones each push 20 new cases to an empty server; time from the first
//!    connect until every push is acknowledged (ours: after the flush; samod: the server's
//!    sync state has our heads) and the server stored all 1 000.
//! 2. `push-1x4000`: one phone pushes 4 000 new cases.
//! 3. `reconnect-500x50` (ours): 500 phones, each with 50 pending cases, connect at once;
//!    time until all are drained. The server's discovery also announces to each phone its
//!    teammates' cases saved before it joined; a phone closes once its own pushes are
//!    acknowledged, or with `--until-idle` once the announced cases are in sync too.
//!    `--team-size 500` puts every phone in one team: each then receives every other
//!    phone's cases (a fan-out that depends on the order of the joins and takes minutes).
//! 4. `reconnect-edit` (ours): a case synced, then a one-field edit, reconnect: bytes after the
//!    handshake each way and round trips; then the same for a short text edit of `findings`.
//! 5. `reconnect-idle` (ours): a phone holding 10, 1 000 and 10 000 synced cases reconnects
//!    with nothing changed: bytes after the handshake each way.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use zhichao_core::docs::{Case, TypedDoc};
use zhichao_core::field::FieldStore;
use zhichao_core::fixtures::{case, officer, pid};
use zhichao_core::ids::{DocumentId, PeerId, StorageId};
use zhichao_core::store::{DocStore, MemoryStore};
use zhichao_core::sync::{
    Replica, ReplicaConfig, ReplicaInput, ReplicaOutput, ReplicaProgress, drive, drive_outputs,
};
use zhichao_server::clock::SystemClock;
use zhichao_server::config::{LogConfig, LogFormat, ServerConfig};
use zhichao_server::{AppState, serve};

/// The scenarios, in the order they run.
const SCENARIOS: [&str; 5] = [
    "push-50x20",
    "push-1x4000",
    "reconnect-500x50",
    "reconnect-edit",
    "reconnect-idle",
];

/// Those samod runs.
const SAMOD_SCENARIOS: [&str; 2] = ["push-50x20", "push-1x4000"];

/// Phones per patrol team (`--team-size`, default 4: a joint patrol of transport inspectors
/// and traffic police). Phone `n` belongs to team `team-{n / size}`.
static TEAM_SIZE: AtomicU64 = AtomicU64::new(4);

/// The team of phone `n`.
fn team_of(n: usize) -> String {
    let size = usize::try_from(TEAM_SIZE.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
    format!("team-{}", n / size.max(1))
}

/// A phone waiting longer than this many seconds for the server's next frame counts as
/// stalled (`--stall`).
static STALL_SECS: AtomicU64 = AtomicU64::new(60);

fn stall() -> Duration {
    Duration::from_secs(STALL_SECS.load(Ordering::Relaxed))
}

/// How long the reconnect scenarios keep listening after the exchange is done, to count
/// anything the server still sends.
const QUIET: Duration = Duration::from_millis(300);

/// samod gets this long per scenario before it counts as not finishing.
const SAMOD_DEADLINE: Duration = Duration::from_secs(900);

const USAGE: &str =
    "usage: sync [--scenario NAME] [--impl ours|samod] [--docs N] [--window N] [--stall SECS]
             [--until-idle] [--team-size N]
Without --scenario, every scenario of --impl ours runs (about a minute on 2 cores).
scenarios:
  push-50x20        50 phones push 20 new cases each to an empty server (goal < 1 s)
  push-1x4000       one phone pushes 4 000 new cases
  reconnect-500x50  500 phones with 50 pending cases each reconnect at once (goal < 10 s)
  reconnect-edit    bytes and round trips of a one-field edit after reconnecting (goal <= 400 B)
  reconnect-idle    bytes of a reconnect with nothing changed, 10 / 1 000 / 10 000 cases held
--impl samod runs push-50x20 and push-1x4000 with samod 0.16 instead (minutes).
options (defaults): --docs per phone (20 / 4000 / 50), --window 32, --stall 60,
  --team-size 4 (phones per patrol team), --until-idle (reconnect-500x50: wait for the
  announced documents too)";

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    Ours,
    Samod,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Samod => "samod",
        }
    }
}

#[derive(Debug)]
struct Args {
    scenario: Option<String>,
    imp: Impl,
    docs: Option<usize>,
    window: usize,
    until_idle: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        scenario: None,
        imp: Impl::Ours,
        docs: None,
        window: 32,
        until_idle: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--scenario" => {
                let name = value("--scenario")?;
                if !SCENARIOS.contains(&name.as_str()) {
                    return Err(format!("unknown scenario {name:?}"));
                }
                args.scenario = Some(name);
            }
            "--impl" => {
                args.imp = match value("--impl")?.as_str() {
                    "ours" => Impl::Ours,
                    "samod" => Impl::Samod,
                    other => return Err(format!("unknown implementation {other:?}")),
                }
            }
            "--docs" => {
                let n = value("--docs")?;
                args.docs = Some(
                    n.parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("--docs {n:?}: a positive number"))?,
                );
            }
            "--stall" => {
                let n = value("--stall")?;
                let secs: u64 = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--stall {n:?}: a positive number of seconds"))?;
                STALL_SECS.store(secs, Ordering::Relaxed);
            }
            "--window" => {
                let n = value("--window")?;
                args.window = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--window {n:?}: a positive number"))?;
            }
            "--until-idle" => args.until_idle = true,
            "--team-size" => {
                let n = value("--team-size")?;
                let size: u64 = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--team-size {n:?}: a positive number"))?;
                TEAM_SIZE.store(size, Ordering::Relaxed);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.imp == Impl::Samod
        && let Some(name) = &args.scenario
        && !SAMOD_SCENARIOS.contains(&name.as_str())
    {
        return Err(format!("{name} runs with --impl ours only"));
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    if let Err(e) = zhichao_server::telemetry::init(&LogConfig {
        format: LogFormat::Text,
        filter,
    }) {
        eprintln!("logging: {e}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let scenarios: Vec<&str> = match (&args.scenario, args.imp) {
        (Some(name), _) => vec![name.as_str()],
        (None, Impl::Ours) => SCENARIOS.to_vec(),
        (None, Impl::Samod) => SAMOD_SCENARIOS.to_vec(),
    };
    println!(
        "zhichao sync benchmarks ({} build, {} CPUs, impl {}, window {})",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.imp.name(),
        args.window,
    );
    let mut results = Vec::new();
    let mut failed = false;
    for name in scenarios {
        println!("== {name} ({})", args.imp.name());
        let started = Instant::now();
        let result = runtime.block_on(run(name, &args));
        let mut line = match result {
            Ok(value) => value,
            Err(e) => {
                failed = true;
                println!("   FAILED: {e}");
                json!({ "error": e })
            }
        };
        line["scenario"] = json!(name);
        line["impl"] = json!(args.imp.name());
        println!(
            "   (scenario took {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        results.push(line);
    }
    println!("== JSON");
    for line in &results {
        println!("{line}");
    }
    // The server threads and samod repos are not joined: exit now.
    drop(runtime);
    std::process::exit(i32::from(failed));
}

async fn run(name: &str, args: &Args) -> Result<Value, String> {
    match (name, args.imp) {
        ("push-50x20", Impl::Ours) => {
            ours_push(50, args.docs.unwrap_or(20), args.window, Stop::Idle).await
        }
        ("push-1x4000", Impl::Ours) => {
            ours_push(1, args.docs.unwrap_or(4_000), args.window, Stop::Idle).await
        }
        ("reconnect-500x50", Impl::Ours) => {
            let stop = if args.until_idle {
                Stop::Idle
            } else {
                Stop::Drained
            };
            ours_push(500, args.docs.unwrap_or(50), args.window, stop).await
        }
        ("reconnect-edit", Impl::Ours) => ours_reconnect_edit(args.window).await,
        ("reconnect-idle", Impl::Ours) => {
            let largest = args.docs.unwrap_or(10_000);
            let mut sizes: Vec<usize> = [10, 1_000, 10_000]
                .into_iter()
                .filter(|&n| n < largest)
                .collect();
            sizes.push(largest);
            ours_reconnect_idle(&sizes, args.window).await
        }
        ("push-50x20", Impl::Samod) => samod_push(50, args.docs.unwrap_or(20)).await,
        ("push-1x4000", Impl::Samod) => samod_push(1, args.docs.unwrap_or(4_000)).await,
        (other, imp) => Err(format!("{other} does not run with {}", imp.name())),
    }
}

// ---------------------------------------------------------------------------------------------
// Ours: the server.

/// Our server on 127.0.0.1:0, its stores (sled) in a temporary directory.
struct OurServer {
    state: AppState,
    addr: SocketAddr,
    serving: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl OurServer {
    async fn start() -> Result<OurServer, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let config = ServerConfig {
            data_dir: dir.path().join("data"),
            ..ServerConfig::default()
        };
        let state = AppState::open(config, Arc::new(SystemClock))
            .await
            .map_err(|e| format!("server state: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
        let serving_state = state.clone();
        let serving = tokio::spawn(async move {
            let stop = serving_state.shutdown_signal();
            if let Err(e) = serve(listener, serving_state, stop).await {
                eprintln!("serve: {e}");
            }
        });
        Ok(OurServer {
            state,
            addr,
            serving,
            _dir: dir,
        })
    }

    /// An access token of phone `n`'s officer ([`officer_id`], [`team_of`]), bound to no
    /// device.
    async fn token(&self, n: usize) -> Result<String, String> {
        self.state
            .auth
            .issue(
                officer(&officer_id(n), &team_of(n)),
                None,
                Duration::from_secs(86_400),
                self.state.now_ms(),
            )
            .await
            .map(|issued| issued.token)
            .map_err(|e| format!("issue a token: {e}"))
    }

    /// Documents saved since start (the sync thread counts each flushed save).
    fn saved(&self) -> u64 {
        self.state.metrics.snapshot().docs_synced
    }

    async fn stop(self) {
        self.state.request_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.serving).await;
        self.state.sync.shutdown();
    }
}

// ---------------------------------------------------------------------------------------------
// Ours: the phones.

/// A phone: an officer's token, a storage id, its documents in memory.
struct Phone {
    name: String,
    /// Its peer id, spelled as the real client spells it (`p` and 8 hex digits).
    peer: PeerId,
    officer: String,
    team: String,
    storage: StorageId,
    token: String,
    store: FieldStore<MemoryStore>,
}

impl Phone {
    fn new(n: usize, token: String) -> Result<Phone, String> {
        let name = format!("phone-{n}");
        Ok(Phone {
            storage: StorageId::new(&name).map_err(|e| format!("storage id: {e}"))?,
            peer: PeerId::new(&format!("p{n:08x}")).map_err(|e| format!("peer id: {e}"))?,
            officer: officer_id(n),
            team: team_of(n),
            name,
            token,
            store: FieldStore::new(MemoryStore::new()),
        })
    }

    /// Creates and saves the cases of `seeds` (pending until pushed).
    fn add_cases(&self, seeds: std::ops::Range<u64>) -> Result<Vec<DocumentId>, String> {
        seeds
            .map(|seed| {
                let doc = case(seed, &self.officer, &self.team);
                self.store
                    .save(&doc)
                    .map_err(|e| format!("save a case on {}: {e}", self.name))?;
                Ok(doc.id())
            })
            .collect()
    }

    fn pending(&self) -> Result<Vec<DocumentId>, String> {
        let store = self.store.store();
        let pending = store.pending().map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(pending.len());
        for id in pending {
            if store.rejection(&id).map_err(|e| e.to_string())?.is_none() {
                out.push(id);
            }
        }
        Ok(out)
    }
}

fn officer_id(n: usize) -> String {
    format!("officer:p{n}")
}

/// Seeds of phone `n`'s documents: disjoint across phones.
fn seeds(n: usize, docs: usize) -> std::ops::Range<u64> {
    let base = 1_000_000 * (n as u64 + 1);
    base..base + docs as u64
}

/// `count` phones with tokens and `docs` pending cases each (created on every core).
async fn phones(server: &OurServer, count: usize, docs: usize) -> Result<Vec<Arc<Phone>>, String> {
    let mut phones = Vec::with_capacity(count);
    for n in 0..count {
        let token = server.token(n).await?;
        phones.push(Phone::new(n, token)?);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let phones = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let phones = &phones;
                    scope.spawn(move || -> Result<(), String> {
                        for (n, phone) in phones.iter().enumerate().skip(t).step_by(threads) {
                            phone.add_cases(seeds(n, docs))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for worker in workers {
                worker
                    .join()
                    .map_err(|_| "creating cases panicked".to_owned())??;
            }
            Ok::<_, String>(())
        })?;
        Ok::<_, String>(phones)
    })
    .await
    .map_err(|e| format!("creating cases: {e}"))??;
    Ok(phones.into_iter().map(Arc::new).collect())
}

/// What one connection cost and did.
#[derive(Clone, Copy, Debug, Default)]
struct Traffic {
    /// The `join` message and the server's `peer` answer.
    handshake_up: usize,
    handshake_down: usize,
    /// Everything after the handshake.
    bytes_up: usize,
    bytes_down: usize,
    frames_up: usize,
    frames_down: usize,
    /// Phone → server sends that waited for the server (bursts after the handshake).
    round_trips: usize,
    pushed: u64,
    pulled: u64,
    rejected: u64,
    announced: u64,
    /// From the upgrade request to the server's handshake answer.
    handshake: Duration,
    /// From the upgrade request until every pending document was acknowledged (or refused).
    drained: Option<Duration>,
    /// From the upgrade request until the replica was idle (announced documents in sync too).
    idle: Option<Duration>,
}

impl Traffic {
    fn add(&mut self, other: &Traffic) {
        self.handshake_up += other.handshake_up;
        self.handshake_down += other.handshake_down;
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
        self.frames_up += other.frames_up;
        self.frames_down += other.frames_down;
        self.round_trips += other.round_trips;
        self.pushed += other.pushed;
        self.pulled += other.pulled;
        self.rejected += other.rejected;
        self.announced += other.announced;
        self.handshake = self.handshake.max(other.handshake);
        self.drained = self.drained.max(other.drained);
        self.idle = self.idle.max(other.idle);
    }

    fn json(&self) -> Value {
        json!({
            "handshake_bytes_up": self.handshake_up,
            "handshake_bytes_down": self.handshake_down,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "frames_up": self.frames_up,
            "frames_down": self.frames_down,
            "round_trips": self.round_trips,
            "pushed": self.pushed,
            "pulled": self.pulled,
            "rejected": self.rejected,
            "announced": self.announced,
        })
    }
}

/// When a phone closes its connection.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// Once every pending document is acknowledged (what discovery still announces is left
    /// for the next connection).
    Drained,
    /// Once the replica is idle: pushes acknowledged and announced documents in sync.
    Idle,
    /// Once idle, after listening this much longer (counting whatever still arrives).
    Quiet(Duration),
}

/// Connects `phone`, pushes its pending documents, takes what the server announces, and
/// closes as `stop` says.
async fn sync_phone(
    addr: SocketAddr,
    phone: &Phone,
    window: usize,
    stop: Stop,
    started: Instant,
) -> Result<Traffic, String> {
    let who = &phone.name;
    let mut request = format!("ws://{addr}/v1/sync")
        .into_client_request()
        .map_err(|e| format!("{who}: request: {e}"))?;
    let bearer = format!("Bearer {}", phone.token)
        .parse()
        .map_err(|e| format!("{who}: header: {e}"))?;
    request.headers_mut().insert("authorization", bearer);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("{who}: upgrade refused: {e}"))?;
    let (mut replica, join) = Replica::new(ReplicaConfig {
        peer_id: phone.peer.clone(),
        storage_id: phone.storage.clone(),
        window,
        max_message_bytes: zhichao_core::sync::MAX_MESSAGE_BYTES,
    });
    let mut t = Traffic {
        handshake_up: join.len(),
        ..Traffic::default()
    };
    send(&mut ws, vec![join])
        .await
        .map_err(|e| format!("{who}: {e}"))?;
    let answer = next_frame(&mut ws, stall())
        .await
        .map_err(|e| format!("{who}: handshake: {e}"))?
        .ok_or_else(|| format!("{who}: no handshake answer within {:?}", stall()))?;
    t.handshake_down = answer.len();
    t.handshake = started.elapsed();
    let store = &phone.store;
    let mut events = Vec::new();
    let mut out = drive(
        &mut replica,
        store,
        ReplicaInput::Frame(answer),
        &mut events,
    );
    let pending = phone
        .pending()
        .map_err(|e| format!("{who}: pending: {e}"))?;
    let outputs = replica.push(pending);
    out.extend(drive_outputs(&mut replica, store, outputs, &mut events));
    let mut listening_until = None;
    loop {
        if let Some(reason) = closed(&events) {
            return Err(format!(
                "{who}: the server closed the exchange: {reason} ({:?})",
                replica.progress()
            ));
        }
        if !out.is_empty() {
            t.round_trips += 1;
            t.frames_up += out.len();
            t.bytes_up += out.iter().map(Vec::len).sum::<usize>();
            send(&mut ws, std::mem::take(&mut out))
                .await
                .map_err(|e| format!("{who}: {e} ({:?})", replica.progress()))?;
        }
        if t.drained.is_none() && replica.progress().pushes_left == 0 {
            t.drained = Some(started.elapsed());
        }
        let wait = match stop {
            Stop::Drained if t.drained.is_some() => break,
            _ if replica.is_idle() => {
                if t.idle.is_none() {
                    t.idle = Some(started.elapsed());
                }
                let Stop::Quiet(quiet) = stop else { break };
                let until = *listening_until.get_or_insert_with(|| Instant::now() + quiet);
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                left
            }
            _ => stall(),
        };
        match next_frame(&mut ws, wait).await {
            Ok(Some(bytes)) => {
                t.frames_down += 1;
                t.bytes_down += bytes.len();
                out = drive(&mut replica, store, ReplicaInput::Frame(bytes), &mut events);
            }
            Ok(None) if listening_until.is_some() => {}
            Ok(None) => {
                return Err(format!(
                    "{who}: stalled, nothing from the server for {:?} ({:?})",
                    stall(),
                    replica.progress()
                ));
            }
            Err(e) => return Err(format!("{who}: {e} ({:?})", replica.progress())),
        }
    }
    let _ = ws.close(None).await;
    count(&mut t, replica.progress(), &events);
    Ok(t)
}

fn closed(events: &[ReplicaOutput]) -> Option<&str> {
    events.iter().find_map(|e| match e {
        ReplicaOutput::Closed { reason } => Some(reason.as_str()),
        _ => None,
    })
}

fn count(t: &mut Traffic, progress: ReplicaProgress, events: &[ReplicaOutput]) {
    t.pushed = progress.pushed;
    t.pulled = progress.pulled;
    t.rejected = progress.rejected;
    t.announced = progress.announced.unwrap_or(0);
    if let Some(reason) = events.iter().find_map(|e| match e {
        ReplicaOutput::Rejected { reason, .. } => Some(reason),
        _ => None,
    }) {
        println!("   refused by the server: {reason}");
    }
}

async fn send(ws: &mut Ws, frames: Vec<Vec<u8>>) -> Result<(), String> {
    for frame in frames {
        ws.feed(Message::binary(frame))
            .await
            .map_err(|e| format!("send: {e}"))?;
    }
    ws.flush().await.map_err(|e| format!("send: {e}"))
}

/// The next binary frame; `Ok(None)` after `wait` of silence; an error when the connection
/// ends (with the server's close reason, if it gave one).
async fn next_frame(ws: &mut Ws, wait: Duration) -> Result<Option<Vec<u8>>, String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return Ok(None),
            Ok(Some(Ok(Message::Binary(bytes)))) => return Ok(Some(bytes.to_vec())),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(format!(
                    "the server closed the connection: {}",
                    frame.map_or_else(|| "no reason".to_owned(), |f| f.reason.to_string())
                ));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("receive: {e}")),
            Ok(None) => return Err("the connection ended".to_owned()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ours: the scenarios.

/// `count` phones each push `docs` new cases at once: time from the first connect until every
/// push is acknowledged (hence flushed), and until the server counted them all saved.
async fn ours_push(count: usize, docs: usize, window: usize, stop: Stop) -> Result<Value, String> {
    let server = OurServer::start().await?;
    let prepared = Instant::now();
    let phones = phones(&server, count, docs).await?;
    let total = (count * docs) as u64;
    println!(
        "   {count} phones, {docs} pending cases each, ready in {:.1} s",
        prepared.elapsed().as_secs_f64()
    );
    // The server saved its own documents (the rules in force) at start: count from here.
    let before = server.saved();
    let start = Instant::now();
    let mut stored = watch_saved(&server, before, total, start);
    let mut tasks = tokio::task::JoinSet::new();
    for phone in &phones {
        let phone = Arc::clone(phone);
        let addr = server.addr;
        tasks.spawn(async move { sync_phone(addr, &phone, window, stop, start).await });
    }
    let mut traffic = Traffic::default();
    let mut errors = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(t)) => traffic.add(&t),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("phone task: {e}")),
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let seconds = traffic.drained.map_or(wall, |d| d.as_secs_f64());
    let idle_seconds = traffic.idle.map(|d| d.as_secs_f64());
    // The phones are done: the count is reached by now or never.
    let stored_seconds = match tokio::time::timeout(Duration::from_secs(1), &mut stored).await {
        Ok(at) => at.ok().flatten().map(|d| d.as_secs_f64()),
        Err(_) => {
            stored.abort();
            None
        }
    };
    // Check: every case in the server's store, nothing pending on any phone.
    let mut missing = 0;
    let mut still_pending = 0;
    for phone in &phones {
        still_pending += phone.pending()?.len();
        for id in phone.store.store().ids().map_err(|e| e.to_string())? {
            if !server.state.docs.contains(&id).map_err(|e| e.to_string())? {
                missing += 1;
            }
        }
    }
    let saved = server.saved() - before;
    server.stop().await;
    for e in errors.iter().take(10) {
        println!("   phone failed: {e}");
    }
    if errors.len() > 10 {
        println!("   … {} phones failed in all", errors.len());
    }
    println!(
        "   {total} cases from {count} phones: all acknowledged in {seconds:.3} s ({:.0} docs/s), \
         server counted all saved at {}, phones idle (announced documents in sync too) at {}, \
         all closed at {wall:.3} s; slowest handshake {:.3} s",
        total as f64 / seconds,
        stored_seconds.map_or_else(|| "never".to_owned(), |s| format!("{s:.3} s")),
        idle_seconds.map_or_else(
            || "- (phones close once drained)".to_owned(),
            |s| format!("{s:.3} s")
        ),
        traffic.handshake.as_secs_f64(),
    );
    println!(
        "   wire after handshakes: up {} B in {} frames, down {} B in {} frames; \
         pushed {}, pulled {} (announced {}), refused {}; saves counted {saved}; \
         missing from the store {missing}, still pending on phones {still_pending}",
        traffic.bytes_up,
        traffic.frames_up,
        traffic.bytes_down,
        traffic.frames_down,
        traffic.pushed,
        traffic.pulled,
        traffic.announced,
        traffic.rejected,
    );
    let mut value = json!({
        "phones": count,
        "docs_per_phone": docs,
        "docs": total,
        "seconds": seconds,
        "stored_seconds": stored_seconds,
        "idle_seconds": idle_seconds,
        "wall_seconds": wall,
        "docs_per_second": total as f64 / seconds,
        "slowest_handshake_seconds": traffic.handshake.as_secs_f64(),
        "saves_counted": saved,
        "missing": missing,
        "still_pending": still_pending,
        "failed_phones": errors.len(),
    });
    merge(&mut value, traffic.json());
    if !errors.is_empty() || missing > 0 || still_pending > 0 {
        return Err(format!(
            "{} phones failed, {missing} cases missing from the server, {still_pending} still \
             pending; figures: {value}",
            errors.len()
        ));
    }
    Ok(value)
}

/// Resolves with the time (since `start`) the server's saved count reached `before + total`;
/// `None` if it did not within [`SAMOD_DEADLINE`].
fn watch_saved(
    server: &OurServer,
    before: u64,
    total: u64,
    start: Instant,
) -> tokio::task::JoinHandle<Option<Duration>> {
    let metrics = Arc::clone(&server.state.metrics);
    tokio::spawn(async move {
        let mut report = start + Duration::from_secs(5);
        loop {
            let saved = metrics.snapshot().docs_synced.saturating_sub(before);
            if saved >= total {
                return Some(start.elapsed());
            }
            if start.elapsed() > SAMOD_DEADLINE {
                return None;
            }
            if Instant::now() >= report {
                println!(
                    "   … {saved}/{total} saved after {:.0} s",
                    start.elapsed().as_secs_f64()
                );
                report += Duration::from_secs(5);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

/// One case synced; then a one-field edit and a reconnect; then a short text edit of
/// `findings` and a reconnect.
async fn ours_reconnect_edit(window: usize) -> Result<Value, String> {
    let server = OurServer::start().await?;
    let phone = Phone::new(0, server.token(0).await?)?;
    let [id] = phone.add_cases(seeds(0, 1))?[..] else {
        return Err("one case expected".to_owned());
    };
    let first = sync_phone(
        server.addr,
        &phone,
        window,
        Stop::Quiet(QUIET),
        Instant::now(),
    )
    .await?;
    println!(
        "   first sync of one case: up {} B, down {} B, {} round trips",
        first.bytes_up, first.bytes_down, first.round_trips
    );
    let now = i64::try_from(server.state.now_ms()).unwrap_or(i64::MAX);
    let mut value = json!({ "first_sync": first.json() });
    let edits: [Edit; 2] = [
        (
            "field_edit",
            "onsite.ended_at_ms = Some(..)",
            |c: &mut Case| c.onsite.ended_at_ms = Some(1_780_000_600_000),
        ),
        (
            "text_edit",
            "findings += \"驾驶员拒绝签字\" (7 characters, 21 B)",
            |c: &mut Case| c.findings.0.push_str("驾驶员拒绝签字"),
        ),
    ];
    for (key, label, change) in edits {
        edit_case(&phone, id, now, change).map_err(|e| format!("{label}: {e}"))?;
        let t = sync_phone(
            server.addr,
            &phone,
            window,
            Stop::Quiet(QUIET),
            Instant::now(),
        )
        .await?;
        let stored = server
            .state
            .docs
            .load(&id)
            .map_err(|e| e.to_string())?
            .map(|l| l.doc.get_heads());
        let local = phone
            .store
            .store()
            .load(&id)
            .map_err(|e| e.to_string())?
            .map(|l| l.doc.get_heads());
        let in_sync = stored.is_some() && stored == local;
        let total = t.bytes_up + t.bytes_down;
        let goal_met = total <= 400 && t.round_trips <= 2;
        println!(
            "   {label}: after the handshake up {} B in {} frame(s), down {} B in {} frame(s), \
             total {} B, {} round trip(s) (goal ≤ 400 B, ≤ 2: {}); handshake {} B up, {} B \
             down; server has the edit: {in_sync}",
            t.bytes_up,
            t.frames_up,
            t.bytes_down,
            t.frames_down,
            total,
            t.round_trips,
            if goal_met { "met" } else { "MISSED" },
            t.handshake_up,
            t.handshake_down,
        );
        let mut figures = t.json();
        merge(
            &mut figures,
            json!({
                "edit": label,
                "bytes": total,
                "goal_met": goal_met,
                "server_has_edit": in_sync,
            }),
        );
        value[key] = figures;
        if !in_sync {
            server.stop().await;
            return Err(format!(
                "{label}: the server's copy differs from the phone's; figures: {value}"
            ));
        }
    }
    value["bytes"] = value["field_edit"]["bytes"].clone();
    value["round_trips"] = value["field_edit"]["round_trips"].clone();
    server.stop().await;
    Ok(value)
}

/// An edit of `reconnect-edit`: JSON key, description, the change.
type Edit = (&'static str, &'static str, fn(&mut Case));

/// Opens the case `id` on `phone`, applies `change` as its officer and saves it (pending).
#[allow(clippy::result_large_err)] // the closure's error type is `TypedDoc::update`'s
fn edit_case(phone: &Phone, id: DocumentId, now: i64, change: fn(&mut Case)) -> Result<(), String> {
    let mut doc: TypedDoc<Case> = phone
        .store
        .open::<Case>(&id)
        .map_err(|e| format!("open: {e}"))?
        .ok_or_else(|| "the case is gone".to_owned())?
        .doc;
    let changed = doc
        .update(&pid(&phone.officer), now, |c| {
            change(c);
            Ok(())
        })
        .map_err(|e| format!("update: {e}"))?;
    if !changed {
        return Err("nothing changed".to_owned());
    }
    phone.store.save(&doc).map_err(|e| format!("save: {e}"))?;
    Ok(())
}

/// A phone holding `sizes[i]` synced cases reconnects with nothing changed.
async fn ours_reconnect_idle(sizes: &[usize], window: usize) -> Result<Value, String> {
    let server = OurServer::start().await?;
    let phone = Arc::new(Phone::new(0, server.token(0).await?)?);
    let mut held = 0usize;
    let mut rows = Vec::new();
    for &size in sizes {
        // Bring the phone to `size` synced cases.
        let base = seeds(0, 0).start + held as u64;
        let added = size - held;
        let p = Arc::clone(&phone);
        tokio::task::spawn_blocking(move || p.add_cases(base..base + added as u64))
            .await
            .map_err(|e| format!("creating cases: {e}"))??;
        held = size;
        let fill = sync_phone(server.addr, &phone, window, Stop::Idle, Instant::now()).await?;
        if fill.pushed != added as u64 || !phone.pending()?.is_empty() {
            return Err(format!(
                "first sync of {size}: pushed {} of {added}",
                fill.pushed
            ));
        }
        // Twice: the first reconnect after new pushes, then one more with nothing new at all.
        let t = sync_phone(
            server.addr,
            &phone,
            window,
            Stop::Quiet(QUIET),
            Instant::now(),
        )
        .await?;
        let again = sync_phone(
            server.addr,
            &phone,
            window,
            Stop::Quiet(QUIET),
            Instant::now(),
        )
        .await?;
        println!(
            "   {size:>6} cases held: after the handshake up {} B, down {} B, {} round trips \
             (again: {} B, {} B, {}); handshake {} B up, {} B down, answered in {:.1} ms \
             (again: {:.1} ms); first sync of the {added} new: {:.2} s",
            t.bytes_up,
            t.bytes_down,
            t.round_trips,
            again.bytes_up,
            again.bytes_down,
            again.round_trips,
            t.handshake_up,
            t.handshake_down,
            t.handshake.as_secs_f64() * 1e3,
            again.handshake.as_secs_f64() * 1e3,
            fill.idle.unwrap_or_default().as_secs_f64(),
        );
        let mut row = t.json();
        merge(
            &mut row,
            json!({
                "docs": size,
                "bytes": t.bytes_up + t.bytes_down,
                "handshake_seconds": t.handshake.as_secs_f64(),
                "seconds": t.idle.unwrap_or_default().as_secs_f64(),
                "again": {
                    "bytes": again.bytes_up + again.bytes_down,
                    "round_trips": again.round_trips,
                    "handshake_seconds": again.handshake.as_secs_f64(),
                },
            }),
        );
        rows.push(row);
    }
    server.stop().await;
    let bytes: Vec<&Value> = rows.iter().map(|r| &r["bytes"]).collect();
    let constant = bytes.windows(2).all(|w| w[0] == w[1]);
    println!("   bytes after the handshake constant across sizes: {constant}");
    Ok(json!({ "sizes": rows, "constant": constant }))
}

// ---------------------------------------------------------------------------------------------
// samod.

/// samod's filesystem storage, counting the documents it was given.
#[derive(Clone)]
struct CountingStorage {
    inner: samod::storage::TokioFilesystemStorage,
    docs: Arc<Mutex<HashSet<String>>>,
    stored: Arc<AtomicU64>,
}

impl samod::storage::Storage for CountingStorage {
    fn load(
        &self,
        key: samod::storage::StorageKey,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send {
        samod::storage::Storage::load(&self.inner, key)
    }

    fn load_range(
        &self,
        prefix: samod::storage::StorageKey,
    ) -> impl Future<Output = std::collections::HashMap<samod::storage::StorageKey, Vec<u8>>> + Send
    {
        samod::storage::Storage::load_range(&self.inner, prefix)
    }

    fn put(
        &self,
        key: samod::storage::StorageKey,
        data: Vec<u8>,
    ) -> impl Future<Output = ()> + Send {
        let doc = (&key)
            .into_iter()
            .next()
            .filter(|first| first.as_str() != "storage-adapter-id")
            .cloned();
        let put = samod::storage::Storage::put(&self.inner, key, data);
        let (docs, stored) = (Arc::clone(&self.docs), Arc::clone(&self.stored));
        async move {
            put.await;
            if let Some(doc) = doc {
                let mut docs = docs
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if docs.insert(doc) {
                    stored.store(docs.len() as u64, Ordering::Relaxed);
                }
            }
        }
    }

    fn delete(&self, key: samod::storage::StorageKey) -> impl Future<Output = ()> + Send {
        samod::storage::Storage::delete(&self.inner, key)
    }
}

/// A samod repo accepting WebSocket connections on 127.0.0.1:0.
struct SamodServer {
    repo: samod::Repo,
    addr: SocketAddr,
    stored: Arc<AtomicU64>,
    accepting: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl SamodServer {
    async fn start() -> Result<SamodServer, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let storage = CountingStorage {
            inner: samod::storage::TokioFilesystemStorage::new(dir.path()),
            docs: Arc::default(),
            stored: Arc::default(),
        };
        let stored = Arc::clone(&storage.stored);
        let repo = samod::Repo::build_tokio()
            .with_peer_id(samod::PeerId::from("samod-server"))
            .with_storage(storage)
            .load()
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
        let url = url::Url::parse(&format!("ws://{addr}/")).map_err(|e| e.to_string())?;
        let acceptor = repo
            .make_acceptor(url)
            .map_err(|e| format!("samod acceptor: {e:?}"))?;
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let ws = match tokio_tungstenite::accept_async(tcp).await {
                        Ok(ws) => ws,
                        Err(e) => {
                            eprintln!("samod server: upgrade failed: {e}");
                            return;
                        }
                    };
                    let (sink, stream) = ws.split();
                    let stream = stream
                        .filter_map(|m| {
                            futures_util::future::ready(match m {
                                Ok(Message::Binary(b)) => Some(Ok(b.to_vec())),
                                Ok(_) => None,
                                Err(e) => Some(Err(e)),
                            })
                        })
                        .boxed();
                    let sink = sink.with(|b: Vec<u8>| {
                        futures_util::future::ready(Ok::<_, tungstenite::Error>(Message::binary(b)))
                    });
                    if let Err(e) = acceptor.accept(samod::Transport::new(stream, sink)) {
                        eprintln!("samod server: accept: {e:?}");
                    }
                });
            }
        });
        Ok(SamodServer {
            repo,
            addr,
            stored,
            accepting,
            _dir: dir,
        })
    }

    fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    async fn stop(self) {
        self.accepting.abort();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.repo.stop()).await;
    }
}

/// A samod phone: its repo, dialled in, and the handles of the documents it created.
struct SamodPhone {
    repo: samod::Repo,
    dialer: samod::DialerHandle,
}

/// Dials `addr`, creates `cases` and waits until the server has each one's changes.
async fn samod_phone(
    addr: SocketAddr,
    name: String,
    cases: Vec<TypedDoc<Case>>,
    acked: Arc<AtomicU64>,
) -> Result<SamodPhone, String> {
    let repo = samod::Repo::build_tokio()
        .with_peer_id(samod::PeerId::from(name.as_str()))
        .load()
        .await;
    // A few quick retries: samod 0.16 can fail its very first dial at random (see
    // tests/tests/interop/support.rs).
    let backoff = samod::BackoffConfig {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retries: Some(5),
    };
    let url = url::Url::parse(&format!("ws://{addr}/")).map_err(|e| e.to_string())?;
    let dialer = repo
        .dial_websocket(url, backoff)
        .map_err(|e| format!("{name}: dial: {e:?}"))?;
    dialer
        .established()
        .await
        .map_err(|e| format!("{name}: handshake: {e:?}"))?;
    let conn = dialer
        .connection_id()
        .ok_or_else(|| format!("{name}: not connected"))?;
    let mut handles = Vec::with_capacity(cases.len());
    for case in cases {
        let handle = repo
            .create(case.automerge().clone())
            .await
            .map_err(|e| format!("{name}: create: {e:?}"))?;
        handles.push(handle);
    }
    for handle in &handles {
        handle.they_have_our_changes(conn).await;
        acked.fetch_add(1, Ordering::Relaxed);
    }
    Ok(SamodPhone { repo, dialer })
}

/// `count` samod phones each create `docs` cases against a samod server: time from the first
/// connect until the server stored every document and every phone heard it has them.
async fn samod_push(count: usize, docs: usize) -> Result<Value, String> {
    let server = SamodServer::start().await?;
    let total = (count * docs) as u64;
    let prepared = Instant::now();
    let cases: Vec<Vec<TypedDoc<Case>>> = (0..count)
        .map(|n| {
            seeds(n, docs)
                .map(|seed| case(seed, &officer_id(n), &team_of(n)))
                .collect()
        })
        .collect();
    println!(
        "   {count} samod phones, {docs} cases each, ready in {:.1} s",
        prepared.elapsed().as_secs_f64()
    );
    let acked = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (n, cases) in cases.into_iter().enumerate() {
        let acked = Arc::clone(&acked);
        tasks.spawn(samod_phone(server.addr, format!("phone-{n}"), cases, acked));
    }
    let mut stored_at = None;
    let mut acked_at = None;
    let mut phones = Vec::new();
    let mut errors = Vec::new();
    let mut report = start + Duration::from_secs(10);
    while start.elapsed() < SAMOD_DEADLINE {
        if stored_at.is_none() && server.stored() >= total {
            stored_at = Some(start.elapsed());
        }
        if acked_at.is_none() && tasks.is_empty() {
            acked_at = Some(start.elapsed());
        }
        if stored_at.is_some() && acked_at.is_some() {
            break;
        }
        if Instant::now() >= report {
            println!(
                "   … after {:.0} s: {}/{total} stored by the server, {}/{total} acknowledged",
                start.elapsed().as_secs_f64(),
                server.stored(),
                acked.load(Ordering::Relaxed),
            );
            report += Duration::from_secs(10);
        }
        match tokio::time::timeout(Duration::from_millis(5), tasks.join_next()).await {
            Ok(Some(Ok(Ok(phone)))) => phones.push(phone),
            Ok(Some(Ok(Err(e)))) => errors.push(e),
            Ok(Some(Err(e))) => errors.push(format!("phone task: {e}")),
            Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(_) => {}
        }
    }
    let stored = server.stored();
    let acknowledged = acked.load(Ordering::Relaxed);
    tasks.abort_all();
    for phone in phones {
        phone.dialer.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), phone.repo.stop()).await;
    }
    server.stop().await;
    for e in &errors {
        println!("   phone failed: {e}");
    }
    let seconds = match (stored_at, acked_at) {
        (Some(s), Some(a)) => Some(s.max(a).as_secs_f64()),
        _ => None,
    };
    println!(
        "   {total} cases from {count} samod phones: server stored all at {}, all acknowledged \
         at {} ({stored} stored, {acknowledged} acknowledged at the end)",
        stored_at.map_or_else(
            || "never".to_owned(),
            |d| format!("{:.3} s", d.as_secs_f64())
        ),
        acked_at.map_or_else(
            || "never".to_owned(),
            |d| format!("{:.3} s", d.as_secs_f64())
        ),
    );
    let value = json!({
        "phones": count,
        "docs_per_phone": docs,
        "docs": total,
        "seconds": seconds,
        "stored_seconds": stored_at.map(|d| d.as_secs_f64()),
        "acknowledged_seconds": acked_at.map(|d| d.as_secs_f64()),
        "docs_per_second": seconds.map(|s| total as f64 / s),
        "stored": stored,
        "acknowledged": acknowledged,
        "failed_phones": errors.len(),
    });
    if seconds.is_none() || !errors.is_empty() {
        return Err(format!(
            "samod did not finish within {SAMOD_DEADLINE:?}; figures: {value}"
        ));
    }
    Ok(value)
}
