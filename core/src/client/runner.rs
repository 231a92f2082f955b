//! [`SyncClient`]: one sync of a phone's documents with the server, start to finish.
//!
//! A sync gets a valid access token ([`Session`]), opens the WebSocket ([`SyncSocket`]; a
//! `token_expired` refusal of the upgrade refreshes and retries once), sends the
//! [`Replica`]'s `join`, feeds every frame to [`drive`] (which loads and saves over the
//! [`FieldStore`]), pushes the store's pending documents once the handshake is done, and
//! closes the connection when the replica is idle: every push acknowledged or refused, every
//! announced document received. A refused document is not pushed again until it changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::RngExt;

use crate::evidence::blobs::BlobDir;
use crate::field::FieldStore;
use crate::ids::{DocumentId, EvidenceId, PeerId};
use crate::store::DocStore;
use crate::sync::{Replica, ReplicaConfig, ReplicaInput, ReplicaOutput, drive, drive_outputs};

use super::blobs::{UploadProgress, upload_queued};
use super::credentials::{CredentialStore, Credentials, Session};
use super::error::{ClientError, Result};
use super::http::ServerApi;
use super::server_url::ServerUrl;
use super::transport::{Incoming, SyncSocket, TransportConfig};

/// Settings of a [`SyncClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// Pending documents pushed at once (default 32).
    pub window: usize,
    /// A sync that is not done fails with [`ClientError::Network`] (`timed out`) when no
    /// message arrives for this long (default 30 s).
    pub idle_timeout: Duration,
    /// Socket timeouts and limits.
    pub transport: TransportConfig,
    /// Bound of each HTTP request (token refresh), connect to answer (default 20 s).
    pub http_timeout: Duration,
    /// The largest message the server accepts, bytes (default
    /// [`MAX_MESSAGE_BYTES`](crate::sync::MAX_MESSAGE_BYTES), the server's default): a
    /// document needing more is reported rejected instead of breaking the whole sync.
    pub max_message_bytes: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            window: 32,
            idle_timeout: Duration::from_secs(30),
            transport: TransportConfig::default(),
            http_timeout: super::http::REQUEST_TIMEOUT,
            max_message_bytes: crate::sync::MAX_MESSAGE_BYTES,
        }
    }
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Pending documents the server acknowledged.
    pub pushed: u64,
    /// Documents that received changes from the server.
    pub pulled: u64,
    /// Documents whose changes the server refuses, with its reason: those refused during
    /// this sync, and pending ones refused earlier and unchanged since (not pushed again).
    pub rejected: Vec<(DocumentId, String)>,
    /// Documents the server does not have or will not show.
    pub unavailable: u64,
    /// Documents the server announced for this phone (`None`: it did not say).
    pub announced: Option<u64>,
    /// Documents received that could not be saved on this phone (offered again next time).
    pub save_failed: u64,
    /// WebSocket payload bytes sent.
    pub bytes_sent: u64,
    /// WebSocket payload bytes received.
    pub bytes_received: u64,
    /// Binary messages sent.
    pub frames_sent: u64,
    /// Binary messages received.
    pub frames_received: u64,
    /// Wall time of the sync, milliseconds.
    pub duration_ms: u64,
    /// Photo blobs the server now holds complete (see [`SyncClient::with_photos`]).
    pub photos_uploaded: u64,
    /// Photo blobs still waiting for upload after this sync.
    pub photos_pending: u64,
    /// Photo bytes sent.
    pub photo_bytes_sent: u64,
    /// Photo blobs that failed this time, with the reason (they stay queued).
    pub photo_failures: Vec<(EvidenceId, String)>,
}

impl SyncReport {
    /// True when photos are still waiting because an upload failed: the documents synced,
    /// but the case is not complete on the server. [`BackgroundSync`](super::BackgroundSync)
    /// retries with backoff.
    pub fn photos_incomplete(&self) -> bool {
        self.photos_pending > 0 && !self.photo_failures.is_empty()
    }
}

/// What a sync reports while it runs, for the phone's UI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// Getting a token and opening the connection.
    Connecting,
    /// The handshake is done.
    Connected {
        /// Documents the server announced (`None`: it did not say).
        announced: Option<u64>,
    },
    /// Counters changed.
    Progress {
        /// Pending documents acknowledged so far.
        pushed: u64,
        /// Pending documents still to push.
        pushes_left: u64,
        /// Documents received so far.
        pulled: u64,
    },
    /// The server refused a document's changes (also for one refused earlier and unchanged).
    Rejected {
        /// The document.
        doc: DocumentId,
        /// The server's reason.
        reason: String,
    },
    /// A photo blob is being uploaded (after the documents synced).
    Photo(UploadProgress),
    /// The sync finished.
    Done(SyncReport),
    /// The sync failed.
    Failed(ClientError),
}

/// Receives [`SyncEvent`]s; called on the syncing thread, so keep it quick (post to the UI
/// thread).
pub trait SyncObserver: Send + Sync {
    /// One event.
    fn on_event(&self, event: &SyncEvent);
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl SyncObserver for NoObserver {
    fn on_event(&self, _: &SyncEvent) {}
}

/// Syncs one device's [`FieldStore`] with the server. See the [module docs](self). One per
/// device and process; share it behind an `Arc` (it is `Send + Sync`).
pub struct SyncClient<S: DocStore> {
    store: Arc<FieldStore<S>>,
    url: ServerUrl,
    session: Session,
    config: SyncConfig,
    photos: Option<Arc<BlobDir>>,
}

impl<S: DocStore> std::fmt::Debug for SyncClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("url", &self.url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: DocStore> SyncClient<S> {
    /// A client syncing `store` with the server at `server` (`http://HOST[:PORT]`), with the
    /// device's tokens in `credentials`.
    ///
    /// # Errors
    /// [`ClientError::Url`] when `server` is not a usable URL.
    pub fn new(
        store: Arc<FieldStore<S>>,
        server: &str,
        credentials: Arc<dyn CredentialStore>,
        config: SyncConfig,
    ) -> Result<Self> {
        let url = ServerUrl::parse(server)?;
        let api = ServerApi::with_timeouts(
            url.clone(),
            config.transport.connect_timeout,
            config.http_timeout,
        );
        Ok(SyncClient {
            store,
            url,
            session: Session::new(api, credentials),
            config,
            photos: None,
        })
    }

    /// Also uploads the photo blobs queued in `photos` on each sync, after the documents
    /// (resuming interrupted uploads; see [`upload_queued`]).
    #[must_use]
    pub fn with_photos(mut self, photos: Arc<BlobDir>) -> Self {
        self.photos = Some(photos);
        self
    }

    /// The photo store uploaded from, when set.
    pub fn photos(&self) -> Option<&Arc<BlobDir>> {
        self.photos.as_ref()
    }

    /// The documents synced.
    pub fn store(&self) -> &Arc<FieldStore<S>> {
        &self.store
    }

    /// The device's token session (for other requests that need a valid token).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The server's address.
    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// Syncs now, on the calling thread (blocking: call it from a worker thread, or use
    /// [`BackgroundSync`](super::BackgroundSync)). `observer` sees the progress, then
    /// [`SyncEvent::Done`] or [`SyncEvent::Failed`].
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`]; token errors of [`Session::valid`]; connection errors of
    /// [`SyncSocket::connect`]; [`ClientError::Network`] when the connection drops or no
    /// message arrives for [`SyncConfig::idle_timeout`]; [`ClientError::Protocol`] when the
    /// server ends the exchange; [`ClientError::Storage`] when the pending list cannot be
    /// read. What was acknowledged before a failure stays acknowledged; the rest is pushed
    /// again next time.
    pub fn sync_now(&self, observer: &dyn SyncObserver) -> Result<SyncReport> {
        self.sync_cancellable(observer, &AtomicBool::new(false))
    }

    /// [`SyncClient::sync_now`] that gives up with [`ClientError::Cancelled`] soon after
    /// `cancel` is set (within [`TransportConfig::poll_interval`], or an HTTP timeout while a
    /// token is being refreshed).
    ///
    /// # Errors
    /// As [`SyncClient::sync_now`], and [`ClientError::Cancelled`].
    pub fn sync_cancellable(
        &self,
        observer: &dyn SyncObserver,
        cancel: &AtomicBool,
    ) -> Result<SyncReport> {
        let started = Instant::now();
        let result = self.run(observer, cancel, started);
        match &result {
            Ok(report) => {
                tracing::info!(
                    pushed = report.pushed,
                    pulled = report.pulled,
                    rejected = report.rejected.len(),
                    duration_ms = report.duration_ms,
                    "sync done"
                );
                observer.on_event(&SyncEvent::Done(report.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "sync failed");
                observer.on_event(&SyncEvent::Failed(e.clone()));
            }
        }
        result
    }

    fn run(
        &self,
        observer: &dyn SyncObserver,
        cancel: &AtomicBool,
        started: Instant,
    ) -> Result<SyncReport> {
        observer.on_event(&SyncEvent::Connecting);
        let (socket, credentials) = self.connect(cancel)?;
        let (replica, join) = Replica::new(ReplicaConfig {
            peer_id: new_peer_id(),
            storage_id: credentials.device,
            window: self.config.window,
            max_message_bytes: self.config.max_message_bytes,
        });
        let mut sync = Exchange {
            store: &self.store,
            socket,
            replica,
            observer,
            report: SyncReport::default(),
        };
        let result = sync.run(join, self.config.idle_timeout, cancel);
        let Exchange {
            socket, mut report, ..
        } = sync;
        let stats = socket.stats();
        socket.close();
        result?;
        report.bytes_sent = stats.bytes_sent;
        report.bytes_received = stats.bytes_received;
        report.frames_sent = stats.frames_sent;
        report.frames_received = stats.frames_received;
        if let Some(photos) = &self.photos {
            let api = ServerApi::with_timeouts(
                self.url.clone(),
                self.config.transport.connect_timeout,
                self.config.http_timeout,
            );
            let uploads = upload_queued(&api, &self.session, photos, cancel, &mut |progress| {
                observer.on_event(&SyncEvent::Photo(progress));
            })?;
            report.photos_uploaded = uploads.uploaded;
            report.photos_pending = uploads.pending;
            report.photo_bytes_sent = uploads.bytes_sent;
            report.photo_failures = uploads.failed;
        }
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// Opens the socket with a valid token; a `token_expired` refusal refreshes and retries
    /// once.
    fn connect(&self, cancel: &AtomicBool) -> Result<(SyncSocket, Credentials)> {
        let mut used = None;
        let socket = self.session.with_valid(now_ms(), |credentials| {
            if cancel.load(Ordering::Relaxed) {
                return Err(ClientError::Cancelled);
            }
            used = Some(credentials.clone());
            SyncSocket::connect(
                &self.url,
                &credentials.access_token,
                &self.config.transport,
                cancel,
            )
        })?;
        let credentials = used.ok_or(ClientError::NotEnrolled)?;
        Ok((socket, credentials))
    }
}

/// One connection's exchange: the socket, the replica and the report so far.
struct Exchange<'a, S: DocStore> {
    store: &'a FieldStore<S>,
    socket: SyncSocket,
    replica: Replica,
    observer: &'a dyn SyncObserver,
    report: SyncReport,
}

impl<S: DocStore> Exchange<'_, S> {
    fn run(&mut self, join: Vec<u8>, idle_timeout: Duration, cancel: &AtomicBool) -> Result<()> {
        self.socket.send(join)?;
        let mut last_message = Instant::now();
        loop {
            if self.replica.is_idle() {
                return Ok(());
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(ClientError::Cancelled);
            }
            match self.socket.receive()? {
                Incoming::Frame(bytes) => {
                    last_message = Instant::now();
                    let mut events = Vec::new();
                    let frames = drive(
                        &mut self.replica,
                        self.store,
                        ReplicaInput::Frame(bytes),
                        &mut events,
                    );
                    self.send_all(frames)?;
                    self.handle(events)?;
                }
                Incoming::Nothing => {
                    if last_message.elapsed() >= idle_timeout {
                        return Err(ClientError::network("timed out"));
                    }
                }
                Incoming::Closed { reason } => {
                    return Err(if reason.is_empty() {
                        ClientError::network("connection closed by the server")
                    } else {
                        ClientError::Protocol { reason }
                    });
                }
            }
        }
    }

    fn send_all(&mut self, frames: Vec<Vec<u8>>) -> Result<()> {
        for frame in frames {
            self.socket.send(frame)?;
        }
        Ok(())
    }

    /// Acts on the replica's events (more may follow from pushing).
    fn handle(&mut self, events: Vec<ReplicaOutput>) -> Result<()> {
        let mut queue = std::collections::VecDeque::from(events);
        while let Some(event) = queue.pop_front() {
            match event {
                ReplicaOutput::Established { announced, .. } => {
                    self.report.announced = announced;
                    self.observer.on_event(&SyncEvent::Connected { announced });
                    let pushable = self.pushable()?;
                    let outputs = self.replica.push(pushable);
                    let mut more = Vec::new();
                    let frames = drive_outputs(&mut self.replica, self.store, outputs, &mut more);
                    self.send_all(frames)?;
                    queue.extend(more);
                    self.progress();
                }
                ReplicaOutput::Synced { .. } => self.progress(),
                ReplicaOutput::Rejected { doc, reason } => {
                    self.observer.on_event(&SyncEvent::Rejected {
                        doc,
                        reason: reason.clone(),
                    });
                    self.report.rejected.push((doc, reason));
                    self.progress();
                }
                ReplicaOutput::Unavailable { .. } => self.report.unavailable += 1,
                ReplicaOutput::Closed { reason } => {
                    return Err(ClientError::Protocol { reason });
                }
                ReplicaOutput::DiscoveryComplete
                | ReplicaOutput::Send(_)
                | ReplicaOutput::Load { .. }
                | ReplicaOutput::Save { .. } => {}
            }
        }
        Ok(())
    }

    /// The pending documents, less those refused at their current heads (reported as still
    /// rejected).
    fn pushable(&mut self) -> Result<Vec<DocumentId>> {
        let raw = self.store.store();
        let pending = raw.pending().map_err(|e| ClientError::Storage {
            reason: e.to_string(),
        })?;
        let mut push = Vec::with_capacity(pending.len());
        for doc in pending {
            match raw.rejection(&doc) {
                Ok(Some(reason)) => {
                    self.observer.on_event(&SyncEvent::Rejected {
                        doc,
                        reason: reason.clone(),
                    });
                    self.report.rejected.push((doc, reason));
                }
                Ok(None) => push.push(doc),
                Err(e) => {
                    tracing::warn!(doc_id = %doc, error = %e, "unreadable rejection record; pushing");
                    push.push(doc);
                }
            }
        }
        Ok(push)
    }

    fn progress(&mut self) {
        let p = self.replica.progress();
        self.report.pushed = p.pushed;
        self.report.pulled = p.pulled;
        self.report.save_failed = p.save_failed;
        self.observer.on_event(&SyncEvent::Progress {
            pushed: p.pushed,
            pushes_left: p.pushes_left,
            pulled: p.pulled,
        });
    }
}

/// A fresh peer id per connection: `p` and 8 random hex digits. It travels in every message
/// (twice: sender and target), so it is short; it only needs to tell this connection's
/// messages apart, which the server does by connection anyway.
fn new_peer_id() -> PeerId {
    let n: u32 = rand::rng().random();
    PeerId::new(&format!("p{n:08x}")).unwrap_or_else(|_| unreachable!("a valid peer id"))
}

/// Now, UTC milliseconds (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use super::super::MemoryCredentials;
    use super::*;
    use crate::fixtures::officer;
    use crate::ids::StorageId;
    use crate::store::MemoryStore;

    fn creds(n: u32) -> Credentials {
        Credentials {
            access_token: format!("zat_{n}"),
            access_expires_at_ms: None,
            refresh_token: format!("zrt_{n}"),
            refresh_expires_at_ms: None,
            device: StorageId::new("phone-1").unwrap(),
            principal: officer("officer:wang", "team-1"),
        }
    }

    /// Reads a request head (and its body, by content-length) from a fresh connection.
    fn read_request(stream: &std::net::TcpStream) -> String {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut text = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            text.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        text + &String::from_utf8(body).unwrap()
    }

    fn answer(stream: &mut std::net::TcpStream, status: &str, body: &str) {
        write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }

    fn quick() -> SyncConfig {
        SyncConfig {
            idle_timeout: Duration::from_millis(300),
            transport: TransportConfig {
                connect_timeout: Duration::from_secs(5),
                poll_interval: Duration::from_millis(20),
                ..TransportConfig::default()
            },
            http_timeout: Duration::from_secs(5),
            ..SyncConfig::default()
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // tungstenite's handshake callback type
    fn an_upgrade_refused_as_expired_refreshes_and_retries_once() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = format!("http://{}", listener.local_addr().unwrap());
        let fake = std::thread::spawn(move || {
            // 1. The upgrade with the stored token: expired.
            let (mut s, _) = listener.accept().unwrap();
            let request = read_request(&s);
            assert!(request.starts_with("GET /v1/sync "), "{request}");
            assert!(
                request.contains("Authorization: Bearer zat_1\r\n"),
                "{request}"
            );
            answer(
                &mut s,
                "401 Unauthorized",
                r#"{"error":{"code":"token_expired","message":"the token has expired"}}"#,
            );
            drop(s);
            // 2. The refresh with the stored refresh token.
            let (mut s, _) = listener.accept().unwrap();
            let request = read_request(&s);
            assert!(request.starts_with("POST /v1/auth/refresh "), "{request}");
            assert!(
                request.ends_with(r#"{"refresh_token":"zrt_1"}"#),
                "{request}"
            );
            let pair = r#"{"access_token":"zat_2","access_expires_at_ms":null,"refresh_token":"zrt_2",
                "refresh_expires_at_ms":null,
                "principal":{"role":"officer","id":"officer:wang","team":"team-1","scope":"140522"},
                "device":"phone-1"}"#;
            answer(&mut s, "200 OK", pair);
            drop(s);
            // 3. The upgrade with the new token; the join arrives; the server ends it.
            let (s, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept_hdr(
                s,
                |req: &tungstenite::handshake::server::Request,
                 resp: tungstenite::handshake::server::Response| {
                    assert_eq!(req.headers()["authorization"], "Bearer zat_2");
                    Ok(resp)
                },
            )
            .unwrap();
            let join = ws.read().unwrap();
            assert!(join.is_binary());
            ws.close(Some(tungstenite::protocol::CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Policy,
                reason: "test over".into(),
            }))
            .unwrap();
            while ws.read().is_ok() {}
        });
        let credentials = Arc::new(MemoryCredentials::with(creds(1)));
        let client = SyncClient::new(
            Arc::new(FieldStore::new(MemoryStore::new())),
            &server,
            credentials.clone(),
            quick(),
        )
        .unwrap();
        let e = client.sync_now(&NoObserver).unwrap_err();
        fake.join().unwrap();
        assert_eq!(
            e,
            ClientError::Protocol {
                reason: "test over".to_owned()
            }
        );
        // The rotated pair was saved.
        assert_eq!(credentials.load().unwrap().refresh_token, "zrt_2");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = format!("http://{}", listener.local_addr().unwrap());
        let fake = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(s).unwrap();
            // Read the join, say nothing; wait for the client to give up.
            let _ = ws.read();
            while ws.read().is_ok() {}
        });
        let client = SyncClient::new(
            Arc::new(FieldStore::new(MemoryStore::new())),
            &server,
            Arc::new(MemoryCredentials::with(creds(1))),
            quick(),
        )
        .unwrap();
        let started = Instant::now();
        let e = client.sync_now(&NoObserver).unwrap_err();
        assert_eq!(e, ClientError::network("timed out"));
        assert!(started.elapsed() < Duration::from_secs(5));
        fake.join().unwrap();
    }

    #[test]
    fn peer_ids_are_fresh() {
        let a = new_peer_id();
        let b = new_peer_id();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with('p') && a.as_str().len() == 9, "{a}");
    }

    #[test]
    fn a_client_needs_a_usable_url() {
        let store = Arc::new(FieldStore::new(MemoryStore::new()));
        let creds: Arc<dyn CredentialStore> = Arc::new(MemoryCredentials::new());
        let e = SyncClient::new(
            Arc::clone(&store),
            "https://x",
            Arc::clone(&creds),
            SyncConfig::default(),
        )
        .unwrap_err();
        assert!(matches!(e, ClientError::Url { .. }));
        let client =
            SyncClient::new(store, "http://127.0.0.1:1", creds, SyncConfig::default()).unwrap();
        // Not enrolled: fails before any connection, and says so to the observer.
        struct Last(std::sync::Mutex<Vec<SyncEvent>>);
        impl SyncObserver for Last {
            fn on_event(&self, e: &SyncEvent) {
                self.0.lock().unwrap().push(e.clone());
            }
        }
        let seen = Last(std::sync::Mutex::new(Vec::new()));
        assert_eq!(client.sync_now(&seen), Err(ClientError::NotEnrolled));
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                SyncEvent::Connecting,
                SyncEvent::Failed(ClientError::NotEnrolled)
            ]
        );
    }
}
