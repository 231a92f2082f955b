//! The WebSocket sync route on a real server bound to 127.0.0.1:0, with clients built on
//! `zhichao-core`'s protocol types: push, fetch, access refusals, bad input.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use automerge::Automerge;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use zhichao_core::access::Principal;
use zhichao_core::docs::{Case, TypedDoc};
use zhichao_core::fixtures::{case, officer, officer_elsewhere};
use zhichao_core::ids::{DocumentId, PeerId, StorageId};
use zhichao_core::sync::{Connection, PeerMetadata, Received, SyncSession, WireMessage};
use zhichao_server::clock::ManualClock;
use zhichao_server::config::ServerConfig;
use zhichao_server::{AppState, serve};

const NOW: u64 = 1_780_000_000_000;
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    state: AppState,
    addr: std::net::SocketAddr,
}

async fn start() -> Server {
    start_with(ServerConfig::default()).await
}

async fn start_with(config: ServerConfig) -> Server {
    let state = AppState::temporary(config, Arc::new(ManualClock::new(NOW)))
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = state.clone();
    tokio::spawn(async move {
        let stop = serving.shutdown_signal();
        let _ = serve(listener, serving, stop).await;
    });
    Server { state, addr }
}

impl Server {
    async fn token(&self, principal: Principal) -> String {
        self.state
            .auth
            .issue(principal, None, Duration::from_secs(3600), NOW)
            .await
            .expect("issue")
            .token
    }
}

/// A minimal phone: one WebSocket, the protocol types of core.
struct Client {
    ws: Ws,
    connection: Connection,
}

impl Client {
    async fn connect(server: &Server, token: &str, name: &str) -> Client {
        Self::connect_with(server, token, name, None).await
    }

    /// Connects announcing a persistent storage id (a phone with a store).
    async fn connect_with(
        server: &Server,
        token: &str,
        name: &str,
        storage: Option<&str>,
    ) -> Client {
        Self::connect_to(server.addr, token, name, storage).await
    }

    async fn connect_to(
        addr: std::net::SocketAddr,
        token: &str,
        name: &str,
        storage: Option<&str>,
    ) -> Client {
        let mut request = format!("ws://{addr}/v1/sync")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("upgrade");
        let metadata = PeerMetadata {
            storage_id: storage.map(|s| StorageId::new(s).unwrap()),
            ..PeerMetadata::default()
        };
        let (mut connection, join) = Connection::client(PeerId::new(name).unwrap(), metadata);
        ws.send(Message::binary(join.encode())).await.unwrap();
        let reply = next_binary(&mut ws).await.expect("peer message");
        assert!(matches!(
            connection.receive(&reply).unwrap(),
            Received::Established { .. }
        ));
        Client { ws, connection }
    }

    fn frame(&self, doc: DocumentId, data: Vec<u8>, request: bool) -> Message {
        let sender_id = self.connection.local().clone();
        let target_id = self.connection.remote().cloned().unwrap();
        let m = if request {
            WireMessage::Request {
                document_id: doc,
                sender_id,
                target_id,
                data,
            }
        } else {
            WireMessage::Sync {
                document_id: doc,
                sender_id,
                target_id,
                data,
            }
        };
        Message::binary(m.encode())
    }

    /// Syncs `doc` until the server has nothing more to say; returns what else it sent.
    async fn sync(
        &mut self,
        id: DocumentId,
        doc: &mut Automerge,
        request: bool,
    ) -> Vec<WireMessage> {
        let mut session = SyncSession::new();
        let mut others = Vec::new();
        let first = session.generate(doc).unwrap_or_default();
        self.ws.send(self.frame(id, first, request)).await.unwrap();
        while let Some(bytes) = next_binary(&mut self.ws).await {
            match self.connection.receive(&bytes) {
                Ok(Received::Message(WireMessage::Sync { data, .. })) => {
                    session.receive(doc, &data).unwrap();
                    if let Some(reply) = session.generate(doc) {
                        self.ws.send(self.frame(id, reply, false)).await.unwrap();
                    }
                }
                Ok(Received::Message(other)) => others.push(other),
                other => panic!("unexpected {other:?}"),
            }
        }
        others
    }
}

impl Client {
    /// Pushes `doc` and returns as soon as the server acknowledged its heads (no waiting for
    /// silence): the moment a crash must not lose it any more.
    async fn push_until_acknowledged(&mut self, id: DocumentId, doc: &mut Automerge) {
        let mut session = SyncSession::new();
        let first = session.generate(doc).unwrap_or_default();
        self.ws.send(self.frame(id, first, false)).await.unwrap();
        while let Some(bytes) = next_binary(&mut self.ws).await {
            if let Ok(Received::Message(WireMessage::Sync { data, .. })) =
                self.connection.receive(&bytes)
            {
                session.receive(doc, &data).unwrap();
                if session.shared_heads() == doc.get_heads() {
                    return;
                }
                if let Some(reply) = session.generate(doc) {
                    self.ws.send(self.frame(id, reply, false)).await.unwrap();
                }
            }
        }
        panic!("no acknowledgement");
    }

    /// Takes whatever the server starts syncing on its own (discovery), until silence.
    async fn receive_announced(&mut self) -> HashMap<DocumentId, Automerge> {
        let mut docs: HashMap<DocumentId, (Automerge, SyncSession)> = HashMap::new();
        while let Some(bytes) = next_binary(&mut self.ws).await {
            if let Ok(Received::Message(WireMessage::Sync {
                document_id, data, ..
            })) = self.connection.receive(&bytes)
            {
                let (doc, session) = docs.entry(document_id).or_default();
                session.receive(doc, &data).unwrap();
                if let Some(reply) = session.generate(doc) {
                    self.ws
                        .send(self.frame(document_id, reply, false))
                        .await
                        .unwrap();
                }
            }
        }
        docs.into_iter().map(|(id, (doc, _))| (id, doc)).collect()
    }
}

/// The next binary message, or `None` after 300 ms of silence (the exchange is over).
async fn next_binary(ws: &mut Ws) -> Option<Vec<u8>> {
    loop {
        match tokio::time::timeout(Duration::from_millis(300), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => return Some(b.to_vec()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn a_case_pushed_by_one_officer_is_fetched_by_a_teammate() {
    let server = start().await;
    let case = case(1, "officer:wang", "team-1");
    let id = case.id();
    let token = server.token(officer("officer:wang", "team-1")).await;
    let mut wang = Client::connect(&server, &token, "phone-wang").await;
    let mut doc = case.automerge().clone();
    let others = wang.sync(id, &mut doc, false).await;
    assert!(others.is_empty(), "{others:?}");
    let stored = server.state.docs.load(&id).unwrap().expect("stored").doc;
    assert_eq!(stored.get_heads(), case.automerge().get_heads());

    let token = server.token(officer("officer:li", "team-1")).await;
    let mut li = Client::connect(&server, &token, "phone-li").await;
    let mut fetched = Automerge::new();
    li.sync(id, &mut fetched, true).await;
    assert_eq!(fetched.get_heads(), case.automerge().get_heads());
    assert_eq!(
        TypedDoc::<Case>::open(id, fetched).unwrap().body().unwrap(),
        case.body().unwrap()
    );
    assert!(server.state.metrics.snapshot().docs_synced >= 1);
}

#[tokio::test]
async fn refusals_are_answered_and_nothing_is_stored() {
    let server = start().await;
    // Another team's header: rejected with an ephemeral "rejected" message.
    let forged = case(2, "officer:wang", "team-2");
    let token = server.token(officer("officer:wang", "team-1")).await;
    let mut wang = Client::connect(&server, &token, "phone-wang").await;
    let mut doc = forged.automerge().clone();
    let others = wang.sync(forged.id(), &mut doc, false).await;
    assert!(
        others
            .iter()
            .any(|m| matches!(m, WireMessage::Ephemeral { data, .. }
            if String::from_utf8_lossy(data).contains("rejected"))),
        "{others:?}"
    );
    assert!(server.state.docs.load(&forged.id()).unwrap().is_none());
    // An officer of another county asking for a stored case: unavailable, nothing leaked.
    let ours = case(3, "officer:wang", "team-1");
    let mut doc = ours.automerge().clone();
    wang.sync(ours.id(), &mut doc, false).await;
    let token = server.token(officer_elsewhere("officer:zhou")).await;
    let mut zhou = Client::connect(&server, &token, "phone-zhou").await;
    let mut empty = Automerge::new();
    let others = zhou.sync(ours.id(), &mut empty, true).await;
    assert!(
        matches!(others.as_slice(), [WireMessage::DocUnavailable { .. }]),
        "{others:?}"
    );
    assert!(empty.get_heads().is_empty());
}

#[tokio::test]
async fn bad_input_closes_that_connection_only() {
    let server = start().await;
    let token = server.token(officer("officer:wang", "team-1")).await;
    // Unauthenticated upgrades are refused before the upgrade.
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/v1/sync", server.addr)).await;
    assert!(refused.is_err());
    // Garbage after the handshake: an error message, then the connection closes.
    let mut bad = Client::connect(&server, &token, "phone-bad").await;
    bad.ws
        .send(Message::binary(vec![0xff, 0x00, 0x13]))
        .await
        .unwrap();
    let answer = next_binary(&mut bad.ws).await.expect("an error message");
    assert!(matches!(
        WireMessage::decode(&answer),
        Ok(WireMessage::Error { .. })
    ));
    // Others are still served.
    let mut wang = Client::connect(&server, &token, "phone-wang").await;
    let case = case(4, "officer:wang", "team-1");
    let mut doc = case.automerge().clone();
    wang.sync(case.id(), &mut doc, false).await;
    assert!(server.state.docs.load(&case.id()).unwrap().is_some());
}

#[tokio::test]
async fn a_reconnecting_phone_receives_what_changed_and_nothing_twice() {
    let server = start().await;
    let case = case(5, "officer:wang", "team-1");
    let id = case.id();
    let token = server.token(officer("officer:wang", "team-1")).await;
    let mut wang = Client::connect(&server, &token, "phone-wang").await;
    let mut doc = case.automerge().clone();
    wang.sync(id, &mut doc, false).await;
    // The audit log has who and when (server time), not which device.
    let history = server.state.log.history(&id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].principal.as_str(), "officer:wang");
    assert_eq!(history[0].received_ms, NOW);

    // A teammate's phone with a store connects: the case arrives without asking.
    let token = server.token(officer("officer:li", "team-1")).await;
    let mut li = Client::connect_with(&server, &token, "phone-li", Some("li-store")).await;
    let got = li.receive_announced().await;
    assert_eq!(
        got.get(&id).map(Automerge::get_heads),
        Some(case.automerge().get_heads())
    );
    drop(li);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Reconnecting with nothing changed: nothing is announced again.
    let mut li = Client::connect_with(&server, &token, "phone-li", Some("li-store")).await;
    assert!(li.receive_announced().await.is_empty());
    // An officer of another county is announced nothing.
    let token = server.token(officer_elsewhere("officer:zhou")).await;
    let mut zhou = Client::connect_with(&server, &token, "phone-zhou", Some("zhou-store")).await;
    assert!(zhou.receive_announced().await.is_empty());
}

#[tokio::test]
async fn admins_read_a_documents_history_with_principals_and_receipt_times() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;
    let server = start().await;
    let case = case(6, "officer:wang", "team-1");
    let id = case.id();
    let token = server.token(officer("officer:wang", "team-1")).await;
    let mut wang = Client::connect(&server, &token, "phone-wang").await;
    let mut doc = case.automerge().clone();
    wang.sync(id, &mut doc, false).await;

    let admin = server
        .token(Principal::Admin {
            id: zhichao_core::fixtures::pid("admin:zhao"),
        })
        .await;
    let get = |path: String, bearer: String| {
        let app = zhichao_server::app(server.state.clone());
        async move {
            let response = app
                .oneshot(
                    Request::get(path)
                        .header("authorization", format!("Bearer {bearer}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let (status, body) = get(format!("/v1/admin/docs/{id}/history"), admin.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["principal"], "officer:wang");
    assert_eq!(body[0]["received_ms"], NOW);
    let (status, _) = get(format!("/v1/admin/docs/{id}/history"), token.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let unknown = DocumentId::from_bytes([0xee; 16]);
    let (status, _) = get(format!("/v1/admin/docs/{unknown}/history"), admin.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get("/v1/admin/docs/not-an-id/history".to_owned(), admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// Kill -9 of the server at any moment loses nothing that was acknowledged: push, wait for the
/// acknowledgement, SIGKILL, restart on the same data directory, fetch.
#[test]
fn acknowledged_changes_survive_a_sigkill_of_the_server() {
    use crate::serve::{ADMIN, admin, start, text};
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let mut server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let issue = |server: &crate::serve::Server, name: &str| {
        let out = admin(
            server,
            Some(ADMIN),
            &[
                "issue-token",
                "--role",
                "officer",
                "--name",
                name,
                "--team",
                "team-1",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let wang = issue(&server, "officer:wang");
    let li = issue(&server, "officer:li");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut pushed = Vec::new();
    for round in 0..3u64 {
        let case = case(100 + round, "officer:wang", "team-1");
        let addr = server.addr;
        runtime.block_on(async {
            let mut client = Client::connect_to(addr, &wang, "phone-wang", None).await;
            let mut doc = case.automerge().clone();
            client.push_until_acknowledged(case.id(), &mut doc).await;
        });
        pushed.push(case);
        // SIGKILL right after the acknowledgement, then restart on the same data.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        drop(server);
        server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
        for case in &pushed {
            let addr = server.addr;
            let heads = runtime.block_on(async {
                let mut client = Client::connect_to(addr, &li, "phone-li", None).await;
                let mut fetched = Automerge::new();
                client.sync(case.id(), &mut fetched, true).await;
                fetched.get_heads()
            });
            assert_eq!(heads, case.automerge().get_heads(), "round {round}");
        }
    }
}

/// A phone pushing 300 cases with the real client; the server is killed with SIGKILL while
/// the exchange is under way and restarted on the same data. The interrupted sync fails with
/// a network error; the next one finishes; nothing is lost on either side, and a teammate
/// receives every case.
#[test]
fn a_sigkill_during_a_sync_exchange_loses_nothing() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use zhichao_core::client::{
        self, CredentialStore, MemoryCredentials, NoObserver, SyncClient, SyncConfig, SyncEvent,
        SyncObserver,
    };
    use zhichao_core::field::FieldStore;
    use zhichao_core::store::{DocStore, MemoryStore};

    use crate::serve::{ADMIN, admin, start, text};

    /// Kills the server once the phone reports `after` documents acknowledged.
    struct KillAfter {
        after: u64,
        pid: u32,
        pushed: AtomicU64,
    }
    impl SyncObserver for KillAfter {
        fn on_event(&self, event: &SyncEvent) {
            if let SyncEvent::Progress { pushed, .. } = event {
                let before = self.pushed.swap(*pushed, Ordering::SeqCst);
                if before < self.after && *pushed >= self.after {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &self.pid.to_string()])
                        .status();
                }
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let mut server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let enroll = |server: &crate::serve::Server, name: &str, device: &str| {
        let out = admin(
            server,
            Some(ADMIN),
            &[
                "enroll", "--role", "officer", "--name", name, "--team", "team-1", "--device",
                device,
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let code = text(&out.stdout).trim().to_owned();
        let credentials = Arc::new(MemoryCredentials::new());
        let device = StorageId::new(device).unwrap();
        client::enroll(&server.url(), &code, &device, credentials.as_ref()).expect("enrolled");
        credentials
    };
    let wang_credentials = enroll(&server, "officer:wang", "phone-wang");
    let li_credentials = enroll(&server, "officer:li", "phone-li");
    let wang_store = Arc::new(FieldStore::new(MemoryStore::new()));
    let ids: Vec<_> = (0..300u64)
        .map(|n| {
            let doc = case(5_000 + n, "officer:wang", "team-1");
            wang_store.save(&doc).unwrap();
            doc.id()
        })
        .collect();
    let config = SyncConfig {
        idle_timeout: Duration::from_secs(10),
        ..SyncConfig::default()
    };
    let phone = |url: String, store, credentials: Arc<MemoryCredentials>| {
        SyncClient::new(store, &url, credentials as Arc<dyn CredentialStore>, config).unwrap()
    };

    let wang = phone(
        server.url(),
        Arc::clone(&wang_store),
        wang_credentials.clone(),
    );
    let killer = KillAfter {
        after: 40,
        pid: server.child.id(),
        pushed: AtomicU64::new(0),
    };
    let interrupted = wang.sync_now(&killer);
    assert!(
        interrupted.is_err(),
        "the server died mid-sync: {interrupted:?}"
    );
    server.child.wait().unwrap();
    let left = wang_store.store().pending().unwrap().len();
    assert!(
        left > 0 && left < 300,
        "{left} still pending after the kill"
    );
    drop(server);

    let server = start(&data, &logs, Some(ADMIN)).unwrap_or_else(|(_, log)| panic!("{log}"));
    let wang = phone(server.url(), Arc::clone(&wang_store), wang_credentials);
    let report = wang.sync_now(&NoObserver).expect("sync after restart");
    assert_eq!(report.pushed as usize, left, "{report:?}");
    assert!(wang_store.store().pending().unwrap().is_empty());

    let li_store = Arc::new(FieldStore::new(MemoryStore::new()));
    let li = phone(server.url(), Arc::clone(&li_store), li_credentials);
    let report = li.sync_now(&NoObserver).expect("teammate sync");
    // 300 cases and the county's rules document.
    assert_eq!(report.pulled, 301, "{report:?}");
    for id in &ids {
        assert!(li_store.store().contains(id).unwrap(), "{id} missing");
    }
}

/// An open connection ends when its token expires (and, checked every 30 s, when it is
/// revoked): a lost phone's token stops syncing without waiting for the phone to reconnect.
#[tokio::test]
async fn an_open_connection_ends_when_its_token_expires() {
    let server = start().await;
    let token = server
        .state
        .auth
        .issue(
            officer("officer:wang", "team-1"),
            None,
            Duration::from_millis(1_500),
            NOW,
        )
        .await
        .expect("issue")
        .token;
    let mut client = Client::connect(&server, &token, "wang").await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.ws.next().await {
                Some(Ok(Message::Close(frame))) => break frame.map(|f| f.reason.to_string()),
                None | Some(Err(_)) => break None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("closed within 10 s");
    assert_eq!(closed.as_deref(), Some("token expired"));
}

/// `limits.max_connections` bounds the open sync connections: one more is refused with 503.
#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let mut config = ServerConfig::default();
    config.limits.max_connections = 1;
    let server = start_with(config).await;
    let addr = server.addr;
    let token = server.token(officer("officer:wang", "team-1")).await;
    let _first = Client::connect(&server, &token, "wang").await;
    let mut request = format!("ws://{addr}/v1/sync")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected 503, got {other:?}"),
    }
}
