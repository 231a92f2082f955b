//! The harness: our server in-process, principals, a real zhichao case, samod clients.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use automerge::{ChangeHash, ReadDoc};
use futures_util::StreamExt;
use samod::{BackoffConfig, ConnectionId, DialerEvent, DialerHandle, DocHandle, Repo};
use tokio::sync::mpsc;
use url::Url;
use zhichao_core::access::Principal;
use zhichao_core::docs::{Case, Stage, TypedDoc};
use zhichao_core::ids::DocumentId;
use zhichao_server::api::TicketResponse;
use zhichao_server::clock::ManualClock;
use zhichao_server::config::ServerConfig;
use zhichao_server::{AppState, SERVER_PRINCIPAL_ID, serve};

/// The server's clock (fixed: tickets issued at `NOW` stay valid).
pub(crate) const NOW: u64 = 1_780_000_000_000;

/// The bound of every wait. Generous for a loaded CI machine; a healthy run takes
/// milliseconds.
pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// How long "nothing happens" is watched for (no disconnection, nothing stored).
pub(crate) const QUIET: Duration = Duration::from_millis(500);

/// Awaits `f`, failing the test after [`WAIT`].
pub(crate) async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(WAIT, f).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

/// Our server on 127.0.0.1:0 with in-memory stores.
pub(crate) struct Server {
    pub(crate) state: AppState,
    addr: SocketAddr,
    serving: tokio::task::JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start() -> Server {
        let state = AppState::temporary(ServerConfig::default(), Arc::new(ManualClock::new(NOW)))
            .await
            .expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let serving_state = state.clone();
        let serving = tokio::spawn(async move {
            let stop = serving_state.shutdown_signal();
            serve(listener, serving_state, stop).await.expect("serve");
        });
        Server {
            state,
            addr,
            serving,
        }
    }

    /// An access token for `principal` (what an admin issues to a phone).
    async fn token(&self, principal: Principal) -> String {
        self.state
            .auth
            .issue(principal, None, Duration::from_secs(3_600), NOW)
            .await
            .expect("issue token")
            .token
    }

    /// A one-time sync ticket for `principal`, from the auth API.
    pub(crate) async fn ticket(&self, principal: Principal) -> String {
        let token = self.token(principal).await;
        let grant = self.state.auth.authenticate(&token, NOW).expect("grant");
        self.state
            .auth
            .issue_ticket(&grant, NOW)
            .expect("issue ticket")
            .token
    }

    /// A one-time sync ticket for `principal` as a browser gets one: `POST /v1/sync/ticket`
    /// with its bearer token.
    pub(crate) async fn ticket_over_http(&self, principal: Principal) -> String {
        let token = self.token(principal).await;
        let url = format!("http://{}/v1/sync/ticket", self.addr);
        let body = tokio::task::spawn_blocking(move || {
            ureq::post(&url)
                .header("authorization", &format!("Bearer {token}"))
                .send_empty()
                .expect("POST /v1/sync/ticket")
                .body_mut()
                .read_to_string()
                .expect("ticket body")
        });
        let body = within("POST /v1/sync/ticket", body).await.expect("join");
        let ticket: TicketResponse = serde_json::from_str(&body).expect("ticket JSON");
        ticket.ticket
    }

    /// `ws://…/v1/sync?ticket=…`
    pub(crate) fn sync_url(&self, ticket: &str) -> Url {
        Url::parse(&format!("ws://{}/v1/sync?ticket={ticket}", self.addr)).expect("sync URL")
    }

    /// The heads of the stored document, `None` when the store does not have it.
    pub(crate) fn stored_heads(&self, id: DocumentId) -> Option<Vec<ChangeHash>> {
        self.state
            .docs
            .load(&id)
            .expect("store readable")
            .map(|loaded| loaded.doc.get_heads())
    }

    /// The stored document, opened as a case.
    pub(crate) fn stored_case(&self, id: DocumentId) -> TypedDoc<Case> {
        let loaded = self.state.docs.load(&id).expect("store readable");
        TypedDoc::open(id, loaded.expect("stored").doc).expect("a valid case")
    }

    /// Shuts the server down and waits for it (bounded).
    pub(crate) async fn stop(self) {
        self.state.request_shutdown();
        within("server shutdown", self.serving)
            .await
            .expect("serve task");
        self.state.sync.shutdown();
    }
}

/// A samod repo connected to our server over one WebSocket.
pub(crate) struct Client {
    pub(crate) repo: Repo,
    pub(crate) dialer: DialerHandle,
    /// The connection to our server (for `they_have_our_changes`).
    pub(crate) conn: ConnectionId,
    /// The dialer's lifecycle events (forwarded by a task: samod's stream borrows the
    /// handle).
    events: mpsc::UnboundedReceiver<DialerEvent>,
}

impl Client {
    /// A samod repo with peer id `name`, dialled in with a one-time `ticket`. Resolves once the
    /// `join` / `peer` handshake is done.
    pub(crate) async fn connect(server: &Server, name: &str, ticket: &str) -> Client {
        let repo = Repo::build_tokio()
            .with_peer_id(samod::PeerId::from(name))
            .load()
            .await;
        let (dialer, conn, events) = dial(&repo, server, ticket).await;
        Client {
            repo,
            dialer,
            conn,
            events,
        }
    }

    /// Closes the dialer and dials `server` anew with `ticket`: the same repo (its documents,
    /// its memory of ephemeral sessions) on a new connection.
    pub(crate) async fn redial(&mut self, server: &Server, ticket: &str) {
        self.dialer.close();
        (self.dialer, self.conn, self.events) = dial(&self.repo, server, ticket).await;
    }

    /// Asserts the connection is still the one of the handshake: connected, same id, and no
    /// lifecycle event since (nor within [`QUIET`]).
    pub(crate) async fn assert_still_connected(&mut self) {
        assert!(self.dialer.is_connected(), "samod lost its connection");
        assert_eq!(self.dialer.connection_id(), Some(self.conn));
        if let Ok(event) = tokio::time::timeout(QUIET, self.events.recv()).await {
            panic!("samod's connection changed: {event:?}");
        }
        assert!(self.dialer.is_connected(), "samod lost its connection");
    }

    /// Finds `id` through our server (bounded).
    pub(crate) async fn find(&self, id: DocumentId) -> Option<DocHandle> {
        within("samod find", self.repo.find(samod_id(id)))
            .await
            .expect("repo running")
    }

    /// Stops the repo (bounded).
    pub(crate) async fn stop(self) {
        self.dialer.close();
        within("samod stop", self.repo.stop()).await;
    }
}

/// Dials our server from `repo` with a one-time `ticket`; resolves after the handshake.
async fn dial(
    repo: &Repo,
    server: &Server,
    ticket: &str,
) -> (
    DialerHandle,
    ConnectionId,
    mpsc::UnboundedReceiver<DialerEvent>,
) {
    // samod 0.16 can fail its very first dial attempt at random on a multi-threaded runtime:
    // `Repo::dial` hands the hub the "add dialer" event (which makes the IO loop task look
    // the dialer up) before it inserts the dialer into the map that task reads, so the lookup
    // may miss ("no dialer registered") and the attempt counts as failed. Hence a few quick
    // retries. They can only help before the upgrade: the ticket is spent by the first
    // upgrade, so once connected a lost connection cannot come back and ends in
    // `MaxRetriesReached` (watched by `Client::assert_still_connected`).
    let backoff = BackoffConfig {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retries: Some(5),
    };
    let dialer = repo
        .dial_websocket(server.sync_url(ticket), backoff)
        .expect("repo running");
    let (tx, mut events) = mpsc::unbounded_channel();
    let watched = dialer.clone();
    tokio::spawn(async move {
        let mut stream = watched.events();
        while let Some(event) = stream.next().await {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    let info = within("samod handshake", dialer.established())
        .await
        .expect("samod dialled our server");
    assert_eq!(info.peer_id, samod::PeerId::from(SERVER_PRINCIPAL_ID));
    let conn = dialer.connection_id().expect("connected");
    // Forget the failed attempts before the handshake, if any.
    within("samod's Connected event", async {
        while let Some(event) = events.recv().await {
            if matches!(event, DialerEvent::Connected { .. }) {
                break;
            }
        }
    })
    .await;
    (dialer, conn, events)
}

/// Our id as samod spells it (both are automerge-repo's bs58check of 16 bytes).
pub(crate) fn samod_id(id: DocumentId) -> samod::DocumentId {
    id.to_string().parse().expect("a samod document id")
}

/// samod's id as ours.
pub(crate) fn our_id(id: &samod::DocumentId) -> DocumentId {
    DocumentId::parse(&id.to_string()).expect("a zhichao document id")
}

/// The heads of samod's copy.
pub(crate) fn heads(handle: &DocHandle) -> Vec<ChangeHash> {
    handle.with_document(|doc| doc.get_heads())
}

/// Whether samod's copy has every change of `heads`.
pub(crate) fn has_all(handle: &DocHandle, heads: &[ChangeHash]) -> bool {
    handle.with_document(|doc| heads.iter().all(|h| doc.get_change_by_hash(h).is_some()))
}

/// Waits until samod's copy has every change of `heads` (bounded).
pub(crate) async fn until_has(handle: &DocHandle, heads: &[ChangeHash]) {
    let mut changes = handle.changes();
    within("samod receives the changes", async {
        while !has_all(handle, heads) {
            // Re-check at least every 50 ms: a change may land between the check and the
            // subscription.
            let _ = tokio::time::timeout(Duration::from_millis(50), changes.next()).await;
        }
    })
    .await;
}

/// Records `stage` on samod's copy as `by`: the edit a phone makes, through [`TypedDoc`]
/// (on a fork with its own actor, merged back), so the case's rules are kept.
#[allow(clippy::result_large_err)] // the closure's error type is `TypedDoc::update`'s
pub(crate) fn record_stage(handle: &DocHandle, by: &str, stage: Stage) {
    let id = our_id(handle.document_id());
    handle.with_document(|doc| {
        let mut typed = TypedDoc::<Case>::open(id, doc.fork()).expect("samod holds a case");
        let by = pid(by);
        let mut edited = typed.body().expect("a case body");
        edited
            .record_stage(stage, 0, by.clone(), "立案")
            .expect("the next stage");
        let changed = typed
            .update(&by, 0, |case| {
                *case = edited;
                Ok(())
            })
            .expect("a valid edit");
        assert!(changed);
        doc.merge(typed.automerge_mut()).expect("merge the edit");
    });
}

pub(crate) use zhichao_core::fixtures::{officer, officer_elsewhere, pid};

/// A roadside case of `team` created by `by`, as a phone creates it: header and body in one
/// change whose first operation creates the header. (The id samod uses is its own:
/// `Repo::create` draws one; this one only names the typed wrapper.)
pub(crate) fn case(seed: u32, by: &str, team: &str) -> TypedDoc<Case> {
    zhichao_core::fixtures::case(seed.into(), by, team)
}

/// samod creates `case` (no commit added: the content is not empty) and pushes it to our
/// server; returns samod's handle once the server acknowledged the heads, and the id.
pub(crate) async fn push_case(client: &Client, case: &TypedDoc<Case>) -> (DocHandle, DocumentId) {
    let handle = within("samod create", client.repo.create(case.automerge().clone()))
        .await
        .expect("repo running");
    assert_eq!(
        heads(&handle),
        case.automerge().get_heads(),
        "samod changed the document it was given"
    );
    within(
        "our server acknowledges samod's changes",
        handle.they_have_our_changes(client.conn),
    )
    .await;
    let id = our_id(handle.document_id());
    (handle, id)
}
