//! [`SyncService`]: drives the sans-I/O [`Hub`] of `zhichao-core` on a dedicated thread, with
//! the store, group commit and per-connection outgoing queues.
//!
//! Why a thread of its own: the hub is a plain state machine and the store is synchronous
//! (sled). One OS thread owns both; WebSocket tasks talk to it through channels. Saves are
//! grouped: the thread drains every command already queued, then writes all documents those
//! commands changed with one flush ([`DocStore::save_batch`]), and only then tells the hub they
//! are saved — so acknowledgements always follow a flush, and one flush serves many phones.
//!
//! Each connection gets a bounded outgoing queue. A peer that does not read its queue (slow or
//! malicious) is disconnected instead of stalling the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;

use rand::TryRng;
use tokio::sync::mpsc;
use zhichao_core::access::{self, Principal};
use zhichao_core::calendar::LocalDay;
use zhichao_core::docs::{DocKind, WATCHLIST_DAYS};
use zhichao_core::ids::{DocumentId, StorageId};
use zhichao_core::store::{DocStore, IndexEntry};
use zhichao_core::sync::{Announcement, ConnId, Hub, HubConfig, HubInput, HubOutput, PeerMetadata};

use crate::blobs::BlobStore;
use crate::changelog::{Audience, ChangeLog};
use crate::clock::Clock;
use crate::metrics::Metrics;

/// Frames queued for one connection before it counts as stalled.
pub const OUTGOING_QUEUE: usize = 256;

/// Commands handled before a flush even when more are queued: under a constant stream of
/// input, saves (and so acknowledgements) must not wait for the queue to run dry.
pub const MAX_COMMANDS_PER_FLUSH: usize = 512;

/// What a connection task must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// Send this binary message.
    Frame(Vec<u8>),
    /// Close the connection.
    Close(String),
}

enum Command {
    Connect {
        conn: ConnId,
        principal: Principal,
        device: Option<StorageId>,
        outgoing: mpsc::Sender<Outgoing>,
    },
    Frame {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Disconnect {
        conn: ConnId,
    },
    Write {
        doc: DocumentId,
        changes: Vec<u8>,
        principal: Principal,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// From the discovery thread.
    Discovered {
        conn: ConnId,
        storage: StorageId,
        last: u64,
        docs: Vec<Announcement>,
    },
    Shutdown,
}

/// Handle to the sync thread. Cheap to clone.
#[derive(Clone)]
pub struct SyncService {
    tx: std_mpsc::Sender<Command>,
    next_conn: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
    /// Stops the thread when the last handle goes (the discovery thread keeps a sender of
    /// the command channel, so the channel alone would never close).
    _stop: Arc<StopOnDrop>,
}

/// Sends [`Command::Shutdown`] when dropped.
struct StopOnDrop(std_mpsc::Sender<Command>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(Command::Shutdown);
    }
}

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncService").finish_non_exhaustive()
    }
}

/// A connection registered with the service.
#[derive(Debug)]
pub struct SyncConnection {
    /// Its id.
    pub conn: ConnId,
    /// What to send to the peer.
    pub outgoing: mpsc::Receiver<Outgoing>,
}

impl SyncService {
    /// Starts the sync thread over `store`. `hub` gives the limits and identity; its
    /// `session_id` is replaced by a new random one and its metadata by the server's
    /// storage id from `log` (see [`ChangeLog::storage_id`]). The photos each saved document
    /// references are recorded in `blobs` ([`BlobStore::record_refs`]).
    ///
    /// # Errors
    /// When the thread cannot be spawned, the log cannot give the storage id, or the system
    /// has no randomness.
    pub fn start<S: DocStore + Clone + 'static>(
        store: S,
        log: ChangeLog,
        blobs: BlobStore,
        clock: Arc<dyn Clock>,
        mut hub: HubConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std_mpsc::channel();
        hub.session_id = new_session_id()?;
        hub.metadata = PeerMetadata {
            storage_id: Some(log.storage_id().map_err(std::io::Error::other)?),
            ..PeerMetadata::default()
        };
        let hub = Hub::new(hub);
        let thread_metrics = Arc::clone(&metrics);
        let (discovery_tx, discovery_rx) = std_mpsc::channel();
        let (worker_store, worker_log, worker_clock, results) =
            (store.clone(), log.clone(), Arc::clone(&clock), tx.clone());
        std::thread::Builder::new()
            .name("zhichao-discovery".to_owned())
            .spawn(move || {
                discovery_thread(
                    &worker_store,
                    &worker_log,
                    worker_clock.as_ref(),
                    &discovery_rx,
                    &results,
                );
            })?;
        std::thread::Builder::new()
            .name("zhichao-sync".to_owned())
            .spawn(move || {
                Driver {
                    hub,
                    store,
                    log,
                    blobs,
                    clock,
                    conns: HashMap::new(),
                    metrics: thread_metrics,
                    writes: HashMap::new(),
                    next_write: 1,
                    discovery: discovery_tx,
                }
                .run(&rx);
            })?;
        Ok(SyncService {
            _stop: Arc::new(StopOnDrop(tx.clone())),
            tx,
            next_conn: Arc::new(AtomicU64::new(1)),
            metrics,
        })
    }

    /// Registers an authenticated connection.
    pub fn connect(&self, principal: Principal, device: Option<StorageId>) -> SyncConnection {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (outgoing, rx) = mpsc::channel(OUTGOING_QUEUE);
        let _ = self.tx.send(Command::Connect {
            conn,
            principal,
            device,
            outgoing,
        });
        SyncConnection { conn, outgoing: rx }
    }

    /// Passes a received binary message.
    pub fn frame(&self, conn: ConnId, bytes: Vec<u8>) {
        self.metrics.record_bytes_received(bytes.len());
        let _ = self.tx.send(Command::Frame { conn, bytes });
    }

    /// The connection is gone.
    pub fn disconnect(&self, conn: ConnId) {
        let _ = self.tx.send(Command::Disconnect { conn });
    }

    /// Writes a server document through the hub (see [`HubInput::Write`]): `changes` are
    /// automerge bytes (`save` or `save_after`). The answer comes once they are flushed, or
    /// refused with the reason; it never comes if the store fails (use a timeout).
    pub fn write(
        &self,
        doc: DocumentId,
        changes: Vec<u8>,
        principal: Principal,
    ) -> tokio::sync::oneshot::Receiver<Result<(), String>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let _ = self.tx.send(Command::Write {
            doc,
            changes,
            principal,
            reply,
        });
        rx
    }

    /// Stops the thread after the queued commands (saves included) are handled.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown);
    }
}

/// A fresh `sessionId` for the hub's ephemeral messages: 16 random bytes in hex, new at every
/// start, since peers remember the highest `count` seen per session across reconnections (see
/// [`HubConfig::session_id`]).
fn new_session_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

struct Driver<S> {
    hub: Hub,
    store: S,
    log: ChangeLog,
    /// Where the blobs each saved document references are recorded.
    blobs: BlobStore,
    clock: Arc<dyn Clock>,
    conns: HashMap<ConnId, ConnInfo>,
    metrics: Arc<Metrics>,
    /// Server writes waiting for the hub's answer.
    writes: HashMap<u64, tokio::sync::oneshot::Sender<Result<(), String>>>,
    next_write: u64,
    /// Joins waiting for discovery (answered by [`Command::Discovered`]).
    discovery: std_mpsc::Sender<DiscoveryRequest>,
}

/// What the driver knows of a connection.
struct ConnInfo {
    outgoing: mpsc::Sender<Outgoing>,
    principal: Principal,
    /// The peer's storage id, once the handshake announced one.
    storage: Option<StorageId>,
    /// The log sequence discovery brings the peer up to (recorded when every announced
    /// document is in sync: [`HubOutput::DiscoveryComplete`]).
    discovered_up_to: u64,
}

/// A save the hub asked for, waiting for the group flush.
struct PendingSave {
    doc: DocumentId,
    ticket: u64,
    changed_by: Principal,
}

impl<S: DocStore> Driver<S> {
    fn run(mut self, rx: &std_mpsc::Receiver<Command>) {
        let mut saves: Vec<PendingSave> = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            let mut handled = 0;
            // Drain what is queued, up to a bound: one flush for all of it.
            while let Some(cmd) = next {
                if matches!(cmd, Command::Shutdown) {
                    self.flush(&mut saves);
                    return;
                }
                self.command(cmd, &mut saves);
                handled += 1;
                if handled >= MAX_COMMANDS_PER_FLUSH {
                    self.flush(&mut saves);
                    handled = 0;
                }
                next = rx.try_recv().ok();
            }
            self.flush(&mut saves);
        }
        self.flush(&mut saves);
    }

    fn command(&mut self, cmd: Command, saves: &mut Vec<PendingSave>) {
        let input = match cmd {
            Command::Connect {
                conn,
                principal,
                device,
                outgoing,
            } => {
                self.conns.insert(
                    conn,
                    ConnInfo {
                        outgoing,
                        principal: principal.clone(),
                        storage: None,
                        discovered_up_to: 0,
                    },
                );
                HubInput::Connected {
                    conn,
                    principal,
                    device,
                }
            }
            Command::Frame { conn, bytes } => HubInput::Frame { conn, bytes },
            Command::Disconnect { conn } => {
                self.forget(conn);
                HubInput::Disconnected { conn }
            }
            Command::Write {
                doc,
                changes,
                principal,
                reply,
            } => {
                let id = self.next_write;
                self.next_write += 1;
                self.writes.insert(id, reply);
                HubInput::Write {
                    id,
                    doc,
                    changes,
                    principal,
                }
            }
            Command::Discovered {
                conn,
                storage,
                last,
                docs,
            } => {
                let Some(info) = self.conns.get_mut(&conn) else {
                    return; // gone meanwhile
                };
                info.storage = Some(storage);
                info.discovered_up_to = last;
                HubInput::Discovered { conn, docs }
            }
            Command::Shutdown => return,
        };
        self.input(input, saves);
    }

    /// Feeds one input and performs the outputs; loads are answered at once.
    fn input(&mut self, input: HubInput, saves: &mut Vec<PendingSave>) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            for output in self.hub.handle(input) {
                match output {
                    HubOutput::Send { conn, bytes } => self.send(conn, Outgoing::Frame(bytes)),
                    HubOutput::Close { conn, reason } => {
                        self.send(conn, Outgoing::Close(reason));
                        self.conns.remove(&conn);
                    }
                    HubOutput::Joined { conn, storage_id } => {
                        let request = match (storage_id, self.conns.get(&conn)) {
                            (Some(storage), Some(info)) => Some(DiscoveryRequest {
                                conn,
                                principal: info.principal.clone(),
                                storage,
                            }),
                            _ => None,
                        };
                        // Without a storage id there is nothing to compare with: the peer
                        // asks for what it needs.
                        let queued = request.is_some_and(|r| self.discovery.send(r).is_ok());
                        if !queued {
                            queue.push(HubInput::Discovered {
                                conn,
                                docs: Vec::new(),
                            });
                        }
                    }
                    HubOutput::DiscoveryComplete { conn } => self.delivered(conn),
                    HubOutput::Written { id, result, .. } => {
                        if let Some(reply) = self.writes.remove(&id) {
                            let _ = reply.send(result);
                        }
                    }
                    HubOutput::StoreSyncState {
                        doc,
                        storage_id,
                        state,
                    } => match automerge::sync::State::decode(&state) {
                        Ok(state) => {
                            if let Err(e) = self.store.put_sync_state(&doc, &storage_id, &state) {
                                tracing::warn!(%doc, error = %e, "cannot keep a sync state");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(%doc, error = %e, "hub gave an undecodable sync state")
                        }
                    },
                    HubOutput::Refused { .. } => self.metrics.record_refusal(),
                    HubOutput::Load { doc } => {
                        let stored = match self.store.load(&doc) {
                            Ok(loaded) => loaded.map(|l| {
                                if !l.report.is_complete() {
                                    tracing::warn!(%doc, report = ?l.report, "document loaded with losses");
                                }
                                Box::new(l.doc)
                            }),
                            Err(e) => {
                                tracing::error!(%doc, error = %e, "cannot load document");
                                None
                            }
                        };
                        queue.push(HubInput::Loaded { doc, stored });
                    }
                    HubOutput::Save {
                        doc,
                        ticket,
                        changed_by,
                    } => saves.push(PendingSave {
                        doc,
                        ticket,
                        changed_by,
                    }),
                }
            }
        }
    }

    /// Every announced document reached the peer: record that its storage id is up to date
    /// (a later reconnect then announces only newer changes).
    fn delivered(&mut self, conn: ConnId) {
        let Some(info) = self.conns.get(&conn) else {
            return;
        };
        let Some(storage) = &info.storage else {
            return;
        };
        if let Err(e) = self.log.set_delivered(storage, info.discovered_up_to) {
            tracing::warn!(conn, error = %e, "cannot record delivery");
        }
    }

    /// Drops a connection.
    fn forget(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    fn send(&mut self, conn: ConnId, message: Outgoing) {
        let Some(tx) = self.conns.get(&conn).map(|c| &c.outgoing) else {
            return;
        };
        if let Outgoing::Frame(bytes) = &message {
            self.metrics.record_bytes_sent(bytes.len());
        }
        if let Err(e) = tx.try_send(message) {
            // Full (the peer does not read) or closed: drop it rather than stall everyone.
            match e {
                mpsc::error::TrySendError::Full(_) => tracing::warn!(
                    conn,
                    queued = OUTGOING_QUEUE,
                    "peer does not read its messages; disconnecting"
                ),
                mpsc::error::TrySendError::Closed(_) => {
                    tracing::debug!(conn, "peer already gone");
                }
            }
            self.conns.remove(&conn);
            let mut ignored = Vec::new();
            self.input(HubInput::Disconnected { conn }, &mut ignored);
        }
    }

    /// Writes every pending save with one flush, then acknowledges them (which may produce
    /// more saves: loop until none is left).
    fn flush(&mut self, saves: &mut Vec<PendingSave>) {
        while !saves.is_empty() {
            let batch = std::mem::take(saves);
            let saved = {
                let mut items = Vec::with_capacity(batch.len());
                let mut entries = Vec::with_capacity(batch.len());
                let mut photos = Vec::with_capacity(batch.len());
                for s in &batch {
                    let (Some(doc), Some(header)) =
                        (self.hub.document(&s.doc), self.hub.header(&s.doc))
                    else {
                        continue;
                    };
                    // Kind, and the source unit a document concerns: the weighing ingest
                    // finds a unit's profile by it.
                    let mut entry = IndexEntry::new(header.kind.as_str());
                    if let Some(unit) = &header.unit {
                        entry = entry.with(zhichao_core::field::index::UNIT, unit.to_string());
                    }
                    items.push((s.doc, doc, entry));
                    for (blob, adder) in self.hub.unsaved_blob_refs(&s.doc) {
                        photos.push((s.doc, header.kind, *blob, adder.clone()));
                    }
                    let heads = doc.get_heads().iter().map(ToString::to_string).collect();
                    entries.push((s.doc, header.clone(), s.changed_by.id().clone(), heads));
                }
                let now_ms = self.clock.now_ms();
                // Log, then store; both flushed before anything is acknowledged. In this order
                // a crash between the two leaves a log entry for changes the store lacks (the
                // phone, unacknowledged, pushes them again and they are logged again); the
                // other order could store changes no log entry announces, and a re-push of
                // changes the store already has logs nothing — discovery would never find them.
                // The blobs the documents reference come first: a crash after them leaves at
                // worst a reference from unsaved changes (which the phone pushes again), and it
                // grants nothing to anyone who cannot read that document; the other order could
                // leave a stored photo unreadable and swept as unreferenced (`crate::blobs`).
                self.blobs
                    .record_refs(&photos)
                    .map_err(|e| e.to_string())
                    .and_then(|_| self.log.append(&entries, now_ms).map_err(|e| e.to_string()))
                    .and_then(|_| self.store.save_batch(&items).map_err(|e| e.to_string()))
                    .map(|_| items.len())
            };
            match saved {
                Ok(count) => (0..count).for_each(|_| self.metrics.record_doc_synced()),
                Err(e) => {
                    // Not saved: not acknowledged. Peers resend after reconnecting.
                    tracing::error!(error = %e, "save failed; nothing acknowledged");
                    continue;
                }
            }
            for s in batch {
                tracing::debug!(doc = %s.doc, by = %s.changed_by.id(), "saved");
                self.input(
                    HubInput::Saved {
                        doc: s.doc,
                        ticket: s.ticket,
                    },
                    saves,
                );
            }
        }
    }
}

/// A join waiting for discovery.
struct DiscoveryRequest {
    conn: ConnId,
    principal: Principal,
    storage: StorageId,
}

/// The discovery thread: answers joins off the hub's thread, so a peer whose discovery reads
/// thousands of log entries delays only its own handshake. Results come back as
/// [`Command::Discovered`].
fn discovery_thread<S: DocStore>(
    store: &S,
    log: &ChangeLog,
    clock: &dyn Clock,
    requests: &std_mpsc::Receiver<DiscoveryRequest>,
    results: &std_mpsc::Sender<Command>,
) {
    while let Ok(DiscoveryRequest {
        conn,
        principal,
        storage,
    }) = requests.recv()
    {
        let (last, docs) = match discover(store, log, &principal, &storage, clock.now_ms()) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(conn, error = %e, "discovery failed; the peer syncs what it asks for");
                (0, Vec::new())
            }
        };
        tracing::debug!(conn, announced = docs.len(), "discovery");
        if results
            .send(Command::Discovered {
                conn,
                storage,
                last,
                docs,
            })
            .is_err()
        {
            return;
        }
    }
}

/// The documents to announce to a peer that just joined, and the log sequence they bring it
/// up to: those that concern it ([`access::concerns`]: what it may read, less other teams'
/// cases for an officer) changed since its storage id was last brought up to date,
/// each with the sync state kept for it — except those whose kept state already shares the
/// latest heads (the peer's own pushes, typically), which would cost a round trip each for
/// nothing, and watch lists of days before the [`WATCHLIST_DAYS`] a phone keeps (at `now_ms`,
/// by their header's `created_at_ms`, the start of the list's day), so that a phone enrolled
/// today does not download a year of lists it would prune at once.
fn discover<S: DocStore>(
    store: &S,
    log: &ChangeLog,
    principal: &Principal,
    storage: &StorageId,
    now_ms: u64,
) -> Result<(u64, Vec<Announcement>), crate::changelog::ChangeLogError> {
    let watchlist_horizon_ms = watchlist_horizon_ms(now_ms);
    let last = log.last_seq()?;
    let since = log.delivered(storage)?;
    // Officers and enterprises: only their audiences' index entries. Supervisors (and any
    // other principal) read across their scope: every document changed.
    let changed = match principal {
        Principal::Officer { team, .. } => {
            log.changed_since_for(&[Audience::Team(team.to_string()), Audience::Shared], since)?
        }
        Principal::Enterprise { unit, .. } => {
            log.changed_since_for(&[Audience::Unit(unit.to_string())], since)?
        }
        _ => log.changed_since(since)?,
    };
    let mut docs = Vec::new();
    for (doc, entry) in changed {
        let Some((header, ancestors)) = log.header_chain(&doc)? else {
            continue;
        };
        if !access::concerns(principal, &header, &ancestors) {
            continue;
        }
        if header.kind == DocKind::WatchList && header.created_at_ms < watchlist_horizon_ms {
            continue;
        }
        let state = match store.sync_state(&doc, storage) {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(%doc, error = %e, "unreadable sync state; starting fresh");
                None
            }
        };
        if let Some(state) = &state {
            let mut shared: Vec<String> =
                state.shared_heads.iter().map(ToString::to_string).collect();
            let mut latest = entry.heads.clone();
            shared.sort();
            latest.sort();
            if shared == latest {
                continue;
            }
        }
        docs.push(Announcement {
            doc,
            sync_state: state.map(|s| s.encode()),
        });
    }
    Ok((last, docs))
}

/// The start (UTC ms) of the oldest day whose watch list a phone keeps at `now_ms`: today and
/// the [`WATCHLIST_DAYS`]` - 1` days before, in China Standard Time.
fn watchlist_horizon_ms(now_ms: u64) -> i64 {
    LocalDay::of_ms(i64::try_from(now_ms).unwrap_or(i64::MAX))
        .and_then(|today| today.recent(WATCHLIST_DAYS).last().copied())
        .map_or(i64::MIN, LocalDay::start_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhichao_core::docs::{Header, SCHEMA_VERSION};
    use zhichao_core::fixtures;
    use zhichao_core::store::MemoryStore;

    #[test]
    fn a_joining_phone_is_not_announced_watch_lists_older_than_it_keeps() {
        let log = ChangeLog::temporary().unwrap();
        let store = MemoryStore::new();
        let today: LocalDay = "2026-11-29".parse().unwrap();
        let header = |kind: DocKind, day: LocalDay| Header {
            kind,
            schema: SCHEMA_VERSION,
            scope: fixtures::county(),
            team: None,
            unit: None,
            parent: None,
            created_by: fixtures::pid("server"),
            created_at_ms: day.start_ms(),
        };
        // Lists of today and the four days before, newest first; and an old rules document.
        let days = today.recent(WATCHLIST_DAYS + 2);
        let server = fixtures::pid("server");
        let mut lists = Vec::new();
        for (n, day) in (1u8..).zip(&days) {
            let id = DocumentId::from_bytes([n; 16]);
            log.append(
                &[(id, header(DocKind::WatchList, *day), server.clone(), vec![])],
                1,
            )
            .unwrap();
            lists.push(id);
        }
        let rules = DocumentId::from_bytes([99; 16]);
        let old = days[WATCHLIST_DAYS + 1];
        log.append(&[(rules, header(DocKind::Rules, old), server, vec![])], 1)
            .unwrap();

        let phone = StorageId::new("phone-new").unwrap();
        let officer = fixtures::officer("officer:wang", "team-1");
        let announced = |now_ms: u64| {
            let (last, docs) = discover(&store, &log, &officer, &phone, now_ms).unwrap();
            assert_eq!(last, log.last_seq().unwrap());
            let mut ids: Vec<DocumentId> = docs.iter().map(|a| a.doc).collect();
            ids.sort();
            ids
        };
        // Late in the evening of `today` (23:30 Beijing time): the last three days' lists
        // and the rules (other documents are announced however old).
        let evening = u64::try_from(today.start_ms() + 23 * 3_600_000 + 1_800_000).unwrap();
        let mut expected = lists[..WATCHLIST_DAYS].to_vec();
        expected.push(rules);
        assert_eq!(announced(evening), expected);
        // Half an hour later it is tomorrow: the oldest of the three is not announced.
        let mut expected = lists[..WATCHLIST_DAYS - 1].to_vec();
        expected.push(rules);
        assert_eq!(announced(evening + 1_800_000), expected);
    }

    #[test]
    fn every_start_signs_ephemeral_messages_with_a_new_session() {
        let a = new_session_id().unwrap();
        let b = new_session_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
