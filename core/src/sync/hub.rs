//! [`Hub`]: the server side of sync, sans-I/O.
//!
//! The hub holds the connections and the loaded documents. The caller feeds it
//! [`HubInput`]s — a connection opened or closed, a binary frame received, a document loaded,
//! a save flushed — and performs the [`HubOutput`]s it returns: send a frame, close a
//! connection, load a document, save one. It never touches a socket, a disk or a clock.
//!
//! The rules it enforces (issue "Sync hub and sync server"):
//!
//! - a request for a document the peer may not read gets `doc-unavailable`, exactly as for one
//!   that does not exist;
//! - a change from a peer without write rights is never merged or stored; it is answered with
//!   an `ephemeral` message whose payload says `rejected` and why, and the connection stays
//!   open ([`rejection_payload`]);
//! - the first changes of a new document go to a scratch copy and become a document only if
//!   its header is complete, names the authenticated principal as creator, and is of a kind
//!   and scope the principal may create;
//! - a change that alters a header is refused: the document falls back to its last saved
//!   state (it is evicted and reloaded), which is safe because nothing is acknowledged before
//!   it is saved;
//! - changes are acknowledged (the reply carrying the new heads is generated) only after the
//!   caller reports them flushed ([`HubInput::Saved`]);
//! - per-event work touches only the connections syncing that document;
//! - discovery: after the handshake the caller lists the documents the peer should receive
//!   ([`HubInput::Discovered`]); the hub announces them a window at a time, with sync states
//!   restored from storage, and reports [`HubOutput::DiscoveryComplete`] when all are in sync;
//! - sync states of peers with a storage id are handed out for storage
//!   ([`HubOutput::StoreSyncState`]) whenever a peer is in sync on a document.

use std::collections::{BTreeSet, HashMap, VecDeque};

use automerge::Automerge;
use automerge::sync::Message;

use crate::access::{self, Principal};
use crate::docs::{Header, check_new_document, check_synced_edit, read_header};
use crate::ids::{DocumentId, PeerId, StorageId};

use super::connection::{Connection, Received};
use super::session::SyncSession;
use super::wire::{PeerMetadata, WireMessage};

/// A connection, numbered by the caller.
pub type ConnId = u64;

/// New documents one connection may have in creation (scratch copies) at once: a phone
/// pushes a window of 32; more would let one peer grow the server's memory without bound.
pub const MAX_SCRATCH_PER_CONNECTION: usize = 256;

/// A stored sync state in automerge's encoding, if any.
type SyncStateBytes = Option<Vec<u8>>;

/// Limits and identity of a hub.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// The server's peer id on every connection.
    pub peer_id: PeerId,
    /// Handshake metadata announced to clients.
    pub metadata: PeerMetadata,
    /// Largest binary message accepted, bytes.
    pub max_message_bytes: usize,
    /// Documents kept in memory when idle (least recently used leave first).
    pub max_idle_docs: usize,
    /// The `sessionId` of the ephemeral messages this hub sends (our `rejected` notices); their
    /// `count` starts at 1 with each hub. Must be new for every hub instance (every server
    /// start): automerge-repo peers (JS and samod) drop an ephemeral message whose
    /// `(sessionId, count)` is not above the highest they saw from that session, and remember
    /// sessions across connections, so a restarted server reusing a session id would not be
    /// heard until its count overtook the old one. The caller draws it (the hub draws no
    /// randomness).
    pub session_id: String,
    /// Announced documents in flight per connection (discovery is paced so that a peer with
    /// thousands of documents to receive neither floods its outgoing queue nor the hub's
    /// memory).
    pub announce_window: usize,
}

/// A document discovery announces to a peer, with the sync state stored for (document, peer
/// storage id) if any (automerge's encoding, see [`SyncSession::encode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// The document.
    pub doc: DocumentId,
    /// The stored sync state with this peer, restored (and primed) for the announcement.
    pub sync_state: Option<Vec<u8>>,
}

/// Something that happened, for the hub to act on.
#[derive(Debug)]
pub enum HubInput {
    /// A connection was authenticated as `principal`.
    Connected {
        /// Connection.
        conn: ConnId,
        /// Who is on the other end.
        principal: Principal,
        /// The storage id the token is bound to (an enrolled device): the handshake must
        /// announce exactly this one, so sync state kept per storage id cannot be claimed by
        /// another device. `None` for tokens not bound to a device.
        device: Option<StorageId>,
    },
    /// A binary message arrived.
    Frame {
        /// Connection.
        conn: ConnId,
        /// The message bytes.
        bytes: Vec<u8>,
    },
    /// The connection is gone.
    Disconnected {
        /// Connection.
        conn: ConnId,
    },
    /// Answer to [`HubOutput::Joined`]: the documents to announce to the peer (discovery:
    /// changed since the peer's last delivery, and the peer may read them). The handshake
    /// reply goes out with this input, carrying their number in its metadata
    /// ([`PeerMetadata::announced`]); then the documents are synced a window at a time.
    Discovered {
        /// Connection.
        conn: ConnId,
        /// The documents, in the order to announce them.
        docs: Vec<Announcement>,
    },
    /// Answer to [`HubOutput::Load`].
    Loaded {
        /// Document.
        doc: DocumentId,
        /// The stored document, or `None` when the store does not have it.
        stored: Option<Box<Automerge>>,
    },
    /// The server itself writes a document (a server document such as the rules in force):
    /// `changes` (automerge's `save` or `save_after` bytes) are merged into the document — or
    /// create it — under the same checks as a peer's changes (header complete and unchanged,
    /// `principal` may create or write it), saved, fanned out to the connections syncing it,
    /// and announced to connected peers that may read it. Answered by
    /// [`HubOutput::Written`] once flushed or refused.
    Write {
        /// Caller's id of this write, echoed in [`HubOutput::Written`].
        id: u64,
        /// Document.
        doc: DocumentId,
        /// The changes.
        changes: Vec<u8>,
        /// Who writes (normally [`Principal::Server`]).
        principal: Principal,
    },
    /// Answer to [`HubOutput::Save`]: the document state is flushed.
    Saved {
        /// Document.
        doc: DocumentId,
        /// The ticket of the save.
        ticket: u64,
    },
}

/// Something the caller must do.
#[derive(Debug, PartialEq, Eq)]
pub enum HubOutput {
    /// Send a binary message.
    Send {
        /// Connection.
        conn: ConnId,
        /// The message.
        bytes: Vec<u8>,
    },
    /// Close the connection (after sending what came before).
    Close {
        /// Connection.
        conn: ConnId,
        /// Why, for the log.
        reason: String,
    },
    /// Load a document from the store and answer with [`HubInput::Loaded`].
    Load {
        /// Document.
        doc: DocumentId,
    },
    /// Save the document ([`Hub::document`]) durably, record `changed_by` in the change log,
    /// and answer with [`HubInput::Saved`].
    Save {
        /// Document.
        doc: DocumentId,
        /// Ticket to echo.
        ticket: u64,
        /// Who made the new changes (the last of them, when changes of several rode on one
        /// save).
        changed_by: crate::access::Principal,
    },
    /// The handshake completed: find what changed for this peer since its storage key was last
    /// brought up to date, and answer with [`HubInput::Discovered`] (an empty list when there
    /// is nothing or no storage id). The handshake reply is held until then.
    Joined {
        /// Connection.
        conn: ConnId,
        /// The peer's storage key ([`peer_storage_key`] of the storage id it announced), if
        /// it announced one: the key of its delivery mark and sync states.
        storage_id: Option<StorageId>,
    },
    /// Every document announced to the peer is in sync with it (or was dropped): record that
    /// the peer's storage id is up to date with the change log as of its join.
    DiscoveryComplete {
        /// Connection.
        conn: ConnId,
    },
    /// A peer is in sync on a document: store its sync state for (document, storage id),
    /// for the next reconnect ([`Announcement::sync_state`]). Losing it costs bandwidth only.
    StoreSyncState {
        /// Document.
        doc: DocumentId,
        /// The peer's storage id.
        storage_id: StorageId,
        /// automerge's encoding of the state (shared heads).
        state: Vec<u8>,
    },
    /// Answer to [`HubInput::Write`].
    Written {
        /// The write's id.
        id: u64,
        /// Document.
        doc: DocumentId,
        /// `Err(reason)` when refused or the document could not be loaded.
        result: Result<(), String>,
    },
    /// A change was refused (for logs and metrics; the peer was told).
    Refused {
        /// Connection.
        conn: ConnId,
        /// Document.
        doc: DocumentId,
        /// Why.
        reason: String,
    },
}

/// The key under which the server keeps a peer's sync states and delivery mark: the storage
/// id it announced, namespaced by the authenticated principal (the first 16 bytes of
/// SHA-256(principal id, 0, storage id), in hex). Deterministic, so a reconnect of the same
/// principal with the same storage finds its bookkeeping; another principal announcing the
/// same storage id gets other keys.
pub fn peer_storage_key(principal: &crate::ids::PrincipalId, storage: &StorageId) -> StorageId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(principal.as_str().as_bytes());
    h.update([0]);
    h.update(storage.as_str().as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    StorageId::new(&hex).unwrap_or_else(|_| unreachable!("32 hex digits are a valid storage id"))
}

/// The payload of our `discovery-complete` ephemeral message: a CBOR map
/// `{"type": "discovery-complete", "announced": N}`, sent (only to clients that asked, see
/// [`PeerMetadata::discovery_marker`]) once every announced document is in sync.
pub fn discovery_complete_payload(announced: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut e = minicbor::Encoder::new(&mut buf);
    let _ = e
        .map(2)
        .and_then(|e| e.str("type"))
        .and_then(|e| e.str("discovery-complete"))
        .and_then(|e| e.str("announced"))
        .and_then(|e| e.u64(announced));
    buf
}

/// The payload of our `rejected` ephemeral message: a CBOR map
/// `{"type": "rejected", "reason": TEXT}`.
pub fn rejection_payload(reason: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut e = minicbor::Encoder::new(&mut buf);
    let _ = e
        .map(2)
        .and_then(|e| e.str("type"))
        .and_then(|e| e.str("rejected"))
        .and_then(|e| e.str("reason"))
        .and_then(|e| e.str(reason));
    buf
}

/// Bytes of changes one sync message to a peer may carry: three quarters of
/// [`HubConfig::max_message_bytes`], the rest left for heads, Bloom filter and envelope. The
/// server's messages stay within the limit it holds its peers to (our phone accepts eight
/// times that), however many changes a peer lacks — a phone that last synced the day's watch
/// list in the morning gets the day's departures (about 400 bytes each) over several round
/// trips instead of one message it could not receive.
fn change_budget(config: &HubConfig) -> usize {
    let limit = config
        .max_message_bytes
        .min(super::replica::MAX_INCOMING_MESSAGE_BYTES);
    limit - limit / 4
}

/// A peer's state on one document.
#[derive(Debug, Default)]
struct PeerDoc {
    session: SyncSession,
    /// Waiting for a save before acknowledging.
    awaiting_save: bool,
    /// Shared heads last handed out for storage.
    stored_shared: Vec<automerge::ChangeHash>,
}

/// A loaded document.
#[derive(Debug)]
struct LoadedDoc {
    doc: Automerge,
    header: Header,
    /// Ancestors' headers (parent, grandparent) as far as needed for access.
    ancestors: Vec<Header>,
    /// Save in flight and whether another is needed after it.
    saving: Option<u64>,
    dirty_by: Option<crate::access::Principal>,
    /// Photo blob references that changes applied since the last completed save introduced,
    /// each with the principal whose change introduced it ([`Hub::unsaved_blob_refs`]).
    new_blob_refs: Vec<(crate::docs::BlobUse, crate::access::Principal)>,
}

/// A document not (yet) in memory.
#[derive(Debug)]
enum Slot {
    /// Load requested; messages wait.
    Loading { waiting: Vec<(ConnId, WireMessage)> },
    /// Loaded, ancestors missing: waiting for them.
    Resolving {
        doc: Automerge,
        header: Header,
        waiting: Vec<(ConnId, WireMessage)>,
    },
    /// In memory.
    Ready(LoadedDoc),
    /// The store does not have it.
    Absent,
}

/// A document being created by one connection, before its header is known.
#[derive(Debug)]
struct Scratch {
    doc: Automerge,
    session: SyncSession,
}

#[derive(Debug)]
struct Conn {
    connection: Connection,
    principal: Principal,
    device: Option<StorageId>,
    remote: Option<PeerId>,
    /// The storage id announced in the handshake.
    storage: Option<StorageId>,
    /// The handshake reply, held until discovery answers.
    pending_reply: Option<WireMessage>,
    /// The peer asked for the `discovery-complete` marker.
    wants_marker: bool,
    discovery: Discovery,
    docs: HashMap<DocumentId, PeerDoc>,
    scratch: HashMap<DocumentId, Scratch>,
}

/// Discovery of one connection: what is left to announce and what is in flight.
#[derive(Debug, Default)]
struct Discovery {
    open: bool,
    total: u64,
    queue: VecDeque<Announcement>,
    in_flight: BTreeSet<DocumentId>,
    last: Option<DocumentId>,
}

/// The server side of sync. See the module docs.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    conns: HashMap<ConnId, Conn>,
    docs: HashMap<DocumentId, Slot>,
    /// Candidates for eviction, oldest first (each once: `idle_set`).
    idle: VecDeque<DocumentId>,
    idle_set: std::collections::HashSet<DocumentId>,
    /// Connections syncing each document (kept while the document is evicted, for fan-out
    /// after it reloads).
    watchers: HashMap<DocumentId, BTreeSet<ConnId>>,
    next_ticket: u64,
    rejections: Rejections,
    /// Announcements waiting for their document to load, with their stored sync states.
    pending_announces: HashMap<DocumentId, Vec<(ConnId, SyncStateBytes)>>,
    /// Connections whose discovery may start more announcements.
    needs_pump: BTreeSet<ConnId>,
    /// Loaded documents waiting for their parent to load (by parent).
    children_waiting: HashMap<DocumentId, Vec<DocumentId>>,
    /// New documents (scratch copies) waiting for their parent to load (by parent).
    scratch_waiting: HashMap<DocumentId, Vec<(ConnId, DocumentId)>>,
    /// Writes creating a document whose parent is not loaded yet (a supervisor's review of a
    /// response the hub does not hold), by parent: they go on when the parent is known.
    writes_waiting: HashMap<DocumentId, Vec<(DocumentId, PendingWrite)>>,
    /// Server writes waiting for their document to load.
    pending_writes: HashMap<DocumentId, Vec<PendingWrite>>,
    /// Server writes waiting for their save, per document; and whether the save must be
    /// announced to connected readers.
    write_waiters: HashMap<DocumentId, Vec<u64>>,
}

/// A server write waiting for its document.
#[derive(Debug)]
struct PendingWrite {
    id: u64,
    changes: Vec<u8>,
    principal: Principal,
}

/// Sends our `rejected` notices: ephemeral messages signed with the hub's session id and a
/// count that only grows, as automerge-repo peers require.
#[derive(Debug)]
struct Rejections {
    peer_id: PeerId,
    session_id: String,
    count: u64,
}

impl Rejections {
    /// Logs and counts a refusal and tells the peer, keeping the connection open.
    fn reject(
        &mut self,
        conn: ConnId,
        c: &Conn,
        doc_id: DocumentId,
        reason: &str,
        out: &mut Vec<HubOutput>,
    ) {
        tracing::info!(%doc_id, principal = %c.principal.id(), reason, "refused");
        out.push(HubOutput::Refused {
            conn,
            doc: doc_id,
            reason: reason.to_owned(),
        });
        self.signal(conn, c, doc_id, rejection_payload(reason), out);
    }

    /// Sends an `ephemeral` message about `doc_id` with our session id and the next count.
    fn signal(
        &mut self,
        conn: ConnId,
        c: &Conn,
        doc_id: DocumentId,
        data: Vec<u8>,
        out: &mut Vec<HubOutput>,
    ) {
        let Some(remote) = remote_of(c) else {
            return;
        };
        self.count += 1;
        out.push(HubOutput::Send {
            conn,
            bytes: WireMessage::Ephemeral {
                sender_id: self.peer_id.clone(),
                target_id: remote,
                count: self.count,
                session_id: self.session_id.clone(),
                document_id: doc_id,
                data,
            }
            .encode(),
        });
    }
}

impl Hub {
    /// A hub with no connections and nothing loaded.
    pub fn new(config: HubConfig) -> Self {
        let rejections = Rejections {
            peer_id: config.peer_id.clone(),
            session_id: config.session_id.clone(),
            count: 0,
        };
        Hub {
            config,
            conns: HashMap::new(),
            docs: HashMap::new(),
            idle: VecDeque::new(),
            idle_set: std::collections::HashSet::new(),
            watchers: HashMap::new(),
            next_ticket: 1,
            rejections,
            pending_announces: HashMap::new(),
            needs_pump: BTreeSet::new(),
            pending_writes: HashMap::new(),
            children_waiting: HashMap::new(),
            scratch_waiting: HashMap::new(),
            writes_waiting: HashMap::new(),
            write_waiters: HashMap::new(),
        }
    }

    /// The in-memory document, for saving (see [`HubOutput::Save`]).
    pub fn document(&self, doc: &DocumentId) -> Option<&Automerge> {
        match self.docs.get(doc) {
            Some(Slot::Ready(d)) => Some(&d.doc),
            _ => None,
        }
    }

    /// The photo blob references that changes applied to `doc` since its last completed
    /// save introduced, each with the principal whose change (one peer message, or a server
    /// write) introduced it — not whoever else's changes ride on the same save. The driver
    /// records them with the save ([`HubOutput::Save`]); they are forgotten when that save
    /// completes ([`HubInput::Saved`]), and kept for the next one when it fails.
    pub fn unsaved_blob_refs(
        &self,
        doc: &DocumentId,
    ) -> &[(crate::docs::BlobUse, crate::access::Principal)] {
        match self.docs.get(doc) {
            Some(Slot::Ready(d)) => &d.new_blob_refs,
            _ => &[],
        }
    }

    /// The header of a loaded document.
    pub fn header(&self, doc: &DocumentId) -> Option<&Header> {
        match self.docs.get(doc) {
            Some(Slot::Ready(d)) => Some(&d.header),
            _ => None,
        }
    }

    /// Number of documents in memory.
    pub fn loaded_docs(&self) -> usize {
        self.docs
            .values()
            .filter(|s| matches!(s, Slot::Ready(_)))
            .count()
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// True when connection `conn` and the server share the current heads of `doc`.
    pub fn peer_in_sync(&self, conn: ConnId, doc: &DocumentId) -> bool {
        let (Some(c), Some(Slot::Ready(d))) = (self.conns.get(&conn), self.docs.get(doc)) else {
            return false;
        };
        c.docs.get(doc).is_some_and(|p| p.session.in_sync(&d.doc))
    }

    /// Handles one input and returns what to do.
    pub fn handle(&mut self, input: HubInput) -> Vec<HubOutput> {
        let mut out = Vec::new();
        match input {
            HubInput::Connected {
                conn,
                principal,
                device,
            } => {
                self.conns.insert(
                    conn,
                    Conn {
                        connection: Connection::server(
                            self.config.peer_id.clone(),
                            self.config.metadata.clone(),
                        ),
                        principal,
                        device,
                        remote: None,
                        storage: None,
                        pending_reply: None,
                        wants_marker: false,
                        discovery: Discovery::default(),
                        docs: HashMap::new(),
                        scratch: HashMap::new(),
                    },
                );
            }
            HubInput::Frame { conn, bytes } => self.on_frame(conn, &bytes, &mut out),
            HubInput::Disconnected { conn } => self.on_disconnect(conn),
            HubInput::Discovered { conn, docs } => self.on_discovered(conn, docs, &mut out),
            HubInput::Loaded { doc, stored } => self.on_loaded(doc, stored.map(|d| *d), &mut out),
            HubInput::Saved { doc, ticket } => self.on_saved(doc, ticket, &mut out),
            HubInput::Write {
                id,
                doc,
                changes,
                principal,
            } => self.on_write(
                doc,
                PendingWrite {
                    id,
                    changes,
                    principal,
                },
                &mut out,
            ),
        }
        self.pump_discovery(&mut out);
        self.evict_idle();
        out
    }

    fn on_write(&mut self, doc_id: DocumentId, write: PendingWrite, out: &mut Vec<HubOutput>) {
        match self.docs.get(&doc_id) {
            None => {
                self.request_load(doc_id, out);
                self.pending_writes.entry(doc_id).or_default().push(write);
            }
            Some(Slot::Loading { .. } | Slot::Resolving { .. }) => {
                self.pending_writes.entry(doc_id).or_default().push(write);
            }
            Some(Slot::Absent) => self.create_by_write(doc_id, write, out),
            Some(Slot::Ready(_)) => self.apply_write(doc_id, &write, out),
        }
    }

    fn written(id: u64, doc: DocumentId, result: Result<(), String>, out: &mut Vec<HubOutput>) {
        if let Err(reason) = &result {
            tracing::warn!(%doc, reason, "server write refused");
        }
        out.push(HubOutput::Written { id, doc, result });
    }

    /// A server write to a document the store does not have: it must create it.
    fn create_by_write(
        &mut self,
        doc_id: DocumentId,
        write: PendingWrite,
        out: &mut Vec<HubOutput>,
    ) {
        let mut doc = Automerge::new();
        if let Err(e) = doc.load_incremental(&write.changes) {
            return Self::written(
                write.id,
                doc_id,
                Err(format!("changes do not load: {e}")),
                out,
            );
        }
        let header = match read_header(&doc) {
            Ok(h) => h,
            Err(e) => {
                return Self::written(
                    write.id,
                    doc_id,
                    Err(format!("a new document needs a valid header: {e}")),
                    out,
                );
            }
        };
        // The rights to create a child (a review of a response) depend on the parent's header,
        // and who may read it on the grandparent's (the officers of a response's notice): wait
        // for the parent to be ready, as for a phone's new document. A parent waiting for its
        // own parent (resolving) is made ready once that one is known, never later than it;
        // the new document, absent from the store, cannot be part of that wait.
        if let Some(parent) = header.parent
            && parent != doc_id
            && matches!(
                self.docs.get(&parent),
                None | Some(Slot::Loading { .. } | Slot::Resolving { .. })
            )
        {
            if !self.docs.contains_key(&parent) {
                self.request_load(parent, out);
            }
            self.writes_waiting
                .entry(parent)
                .or_default()
                .push((doc_id, write));
            return;
        }
        let ancestors = self.ancestors_of(&header);
        if !access::can_create(&write.principal, &header, &ancestors) {
            return Self::written(
                write.id,
                doc_id,
                Err("not allowed to create this document".to_owned()),
                out,
            );
        }
        if let Err(e) = check_new_document(&header, &doc) {
            return Self::written(
                write.id,
                doc_id,
                Err(format!("a new document must keep its kind's rules: {e}")),
                out,
            );
        }
        let ticket = self.take_ticket();
        let new_blob_refs = introduced_blob_refs(header.kind, None, &doc)
            .into_iter()
            .map(|u| (u, write.principal.clone()))
            .collect();
        self.docs.insert(
            doc_id,
            Slot::Ready(LoadedDoc {
                doc,
                header,
                ancestors,
                saving: Some(ticket),
                dirty_by: None,
                new_blob_refs,
            }),
        );
        self.write_waiters.entry(doc_id).or_default().push(write.id);
        out.push(HubOutput::Save {
            doc: doc_id,
            ticket,
            changed_by: write.principal.clone(),
        });
    }

    /// A server write to a loaded document.
    fn apply_write(&mut self, doc_id: DocumentId, write: &PendingWrite, out: &mut Vec<HubOutput>) {
        let Some(Slot::Ready(d)) = self.docs.get_mut(&doc_id) else {
            return;
        };
        if !access::can_write(&write.principal, &d.header, &d.ancestors) {
            return Self::written(
                write.id,
                doc_id,
                Err("no write rights on this document".to_owned()),
                out,
            );
        }
        let mut next = d.doc.clone();
        if let Err(e) = next.load_incremental(&write.changes) {
            return Self::written(
                write.id,
                doc_id,
                Err(format!("changes do not load: {e}")),
                out,
            );
        }
        if read_header(&next).ok().as_ref() != Some(&d.header) {
            return Self::written(
                write.id,
                doc_id,
                Err("changes to a document header are refused".to_owned()),
                out,
            );
        }
        // The server's own writes were checked where they were made (`TypedDoc::update`, or a
        // kind's append API such as `add_entries`); reading a growing server document whole
        // again on every write (the day's watch list) would make each cost its whole size.
        let trusted = matches!(write.principal, Principal::Server { .. });
        if !trusted && let Err(e) = check_synced_edit(d.header.kind, &d.doc, &next) {
            return Self::written(
                write.id,
                doc_id,
                Err(format!("refused by the document's rules: {e}")),
                out,
            );
        }
        if next.get_heads() == d.doc.get_heads() {
            return Self::written(write.id, doc_id, Ok(()), out);
        }
        let by = write.principal.clone();
        for blob in introduced_blob_refs(d.header.kind, Some(&d.doc), &next) {
            d.new_blob_refs.push((blob, by.clone()));
        }
        d.doc = next;
        self.write_waiters.entry(doc_id).or_default().push(write.id);
        schedule_save(d, &mut self.next_ticket, doc_id, by, out);
    }

    /// After a server write is flushed: start syncing it with every connected peer that may
    /// read it and is not syncing it yet (live delivery of a new server document). Work is
    /// one access check per connection, for a rare event.
    fn announce_to_readers(&mut self, doc_id: DocumentId, out: &mut Vec<HubOutput>) {
        let Some(Slot::Ready(d)) = self.docs.get(&doc_id) else {
            return;
        };
        let watching = self.watchers.get(&doc_id);
        let readers: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(conn, c)| {
                c.remote.is_some()
                    && c.pending_reply.is_none()
                    && !watching.is_some_and(|w| w.contains(conn))
                    && access::can_read(&c.principal, &d.header, &d.ancestors)
            })
            .map(|(conn, _)| *conn)
            .collect();
        for conn in readers {
            self.on_announce(conn, doc_id, None, out);
        }
    }

    fn on_discovered(&mut self, conn: ConnId, docs: Vec<Announcement>, out: &mut Vec<HubOutput>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let total = docs.len() as u64;
        if let Some(mut reply) = c.pending_reply.take() {
            if let WireMessage::Peer { peer_metadata, .. } = &mut reply {
                peer_metadata
                    .get_or_insert_with(PeerMetadata::default)
                    .announced = Some(total);
            }
            out.push(HubOutput::Send {
                conn,
                bytes: reply.encode(),
            });
        }
        c.discovery = Discovery {
            open: true,
            total,
            queue: docs.into(),
            in_flight: BTreeSet::new(),
            last: None,
        };
        self.needs_pump.insert(conn);
    }

    /// Starts announcements up to the window on every connection that may need more, and
    /// reports discoveries that completed.
    fn pump_discovery(&mut self, out: &mut Vec<HubOutput>) {
        while let Some(conn) = self.needs_pump.pop_first() {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            if !c.discovery.open {
                continue;
            }
            let mut started = Vec::new();
            while c.discovery.in_flight.len() < self.config.announce_window {
                let Some(a) = c.discovery.queue.pop_front() else {
                    break;
                };
                if c.discovery.in_flight.insert(a.doc) {
                    c.discovery.last = Some(a.doc);
                    started.push(a);
                }
            }
            if started.is_empty()
                && c.discovery.in_flight.is_empty()
                && c.discovery.queue.is_empty()
            {
                c.discovery.open = false;
                let (total, last) = (c.discovery.total, c.discovery.last);
                if c.wants_marker
                    && let Some(doc) = last
                {
                    self.rejections
                        .signal(conn, c, doc, discovery_complete_payload(total), out);
                }
                out.push(HubOutput::DiscoveryComplete { conn });
                continue;
            }
            for a in started {
                self.on_announce(conn, a.doc, a.sync_state, out);
            }
        }
    }

    /// An announced document is in sync with the peer, or will never be: let discovery go on.
    fn finish_announcement(&mut self, conn: ConnId, doc: DocumentId) {
        if let Some(c) = self.conns.get_mut(&conn)
            && c.discovery.in_flight.remove(&doc)
        {
            self.needs_pump.insert(conn);
        }
    }

    /// After an event on (`conn`, `doc`): when the peer is in sync, hand its sync state out
    /// for storage and let discovery go on.
    fn after_event(&mut self, conn: ConnId, doc_id: DocumentId, out: &mut Vec<HubOutput>) {
        let (Some(c), Some(Slot::Ready(d))) = (self.conns.get_mut(&conn), self.docs.get(&doc_id))
        else {
            return;
        };
        let Some(peer) = c.docs.get_mut(&doc_id) else {
            return;
        };
        if peer.awaiting_save || !peer.session.in_sync(&d.doc) {
            return;
        }
        if let Some(storage) = &c.storage
            && peer.stored_shared.as_slice() != peer.session.shared_heads()
        {
            peer.stored_shared = peer.session.shared_heads().to_vec();
            out.push(HubOutput::StoreSyncState {
                doc: doc_id,
                storage_id: storage.clone(),
                state: peer.session.encode(),
            });
        }
        if c.discovery.in_flight.remove(&doc_id) {
            self.needs_pump.insert(conn);
        }
        self.mark_idle(doc_id);
    }

    fn on_frame(&mut self, conn: ConnId, bytes: &[u8], out: &mut Vec<HubOutput>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if bytes.len() > self.config.max_message_bytes {
            close_with_error(
                conn,
                format!(
                    "message of {} bytes exceeds the limit of {}",
                    bytes.len(),
                    self.config.max_message_bytes
                ),
                out,
            );
            return;
        }
        match c.connection.receive(bytes) {
            Err(e) => close_with_error(conn, e.to_string(), out),
            Ok(Received::Closed { reason }) => out.push(HubOutput::Close { conn, reason }),
            Ok(Received::Established {
                remote,
                reply,
                metadata,
            }) => {
                let wants_marker = metadata.as_ref().is_some_and(|m| m.discovery_marker);
                let announced = metadata.and_then(|m| m.storage_id);
                if let Some(device) = &c.device
                    && announced.as_ref() != Some(device)
                {
                    close_with_error(
                        conn,
                        "the storage id does not match the device this token was issued to"
                            .to_owned(),
                        out,
                    );
                    return;
                }
                c.remote = Some(remote);
                // Bookkeeping (sync states, delivery) is per principal and storage id: a token
                // not bound to a device may announce any storage id, and must not read or move
                // another device's marks.
                let key = announced.map(|s| peer_storage_key(c.principal.id(), &s));
                c.storage.clone_from(&key);
                c.wants_marker = wants_marker;
                c.pending_reply = reply;
                out.push(HubOutput::Joined {
                    conn,
                    storage_id: key,
                });
            }
            Ok(Received::Message(message)) => self.on_message(conn, message, out),
        }
    }

    fn on_message(&mut self, conn: ConnId, message: WireMessage, out: &mut Vec<HubOutput>) {
        let Some(doc_id) = message.document_id() else {
            // remote-subscription-change and similar: nothing to do.
            return;
        };
        match &message {
            WireMessage::Request { .. } | WireMessage::Sync { .. } => {}
            // Ephemeral and doc-unavailable from clients are not relayed.
            _ => return,
        }
        match self.docs.get_mut(&doc_id) {
            None => {
                self.docs.insert(
                    doc_id,
                    Slot::Loading {
                        waiting: vec![(conn, message)],
                    },
                );
                out.push(HubOutput::Load { doc: doc_id });
            }
            Some(Slot::Loading { waiting } | Slot::Resolving { waiting, .. }) => {
                waiting.push((conn, message));
            }
            Some(Slot::Absent) => self.on_absent_message(conn, doc_id, message, out),
            Some(Slot::Ready(_)) => self.on_ready_message(conn, doc_id, message, out),
        }
    }

    /// A message about a document the store does not have: `request` → unavailable; `sync`
    /// → the peer may be creating it.
    fn on_absent_message(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        message: WireMessage,
        out: &mut Vec<HubOutput>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let data = match message {
            WireMessage::Request { .. } => {
                if !c.scratch.contains_key(&doc_id) {
                    unavailable(&self.config.peer_id, conn, c, doc_id, out);
                    return;
                }
                // A request while creating: treat as sync on the scratch copy.
                match message {
                    WireMessage::Request { data, .. } => data,
                    _ => return,
                }
            }
            WireMessage::Sync { data, .. } => data,
            _ => return,
        };
        if !c.scratch.contains_key(&doc_id) && c.scratch.len() >= MAX_SCRATCH_PER_CONNECTION {
            self.rejections.reject(
                conn,
                c,
                doc_id,
                &format!(
                    "too many documents being created at once (at most {MAX_SCRATCH_PER_CONNECTION}); \
                     wait for the answers"
                ),
                out,
            );
            return;
        }
        let scratch = c.scratch.entry(doc_id).or_insert_with(|| Scratch {
            doc: Automerge::new(),
            session: SyncSession::new(),
        });
        if let Err(e) = scratch.session.receive(&mut scratch.doc, &data) {
            c.scratch.remove(&doc_id);
            self.rejections
                .reject(conn, c, doc_id, &format!("sync message refused: {e}"), out);
            return;
        }
        if scratch.doc.get_heads().is_empty() {
            // Nothing yet: answer with our (empty) state so the peer sends its changes.
            if let Some(reply) = scratch.session.generate(&scratch.doc) {
                send_sync(&self.config.peer_id, conn, c, doc_id, reply, out);
            }
            return;
        }
        // Changes arrived: the header decides whether this becomes a document.
        let header = match read_header(&scratch.doc) {
            Ok(h) => h,
            Err(e) => {
                c.scratch.remove(&doc_id);
                self.rejections.reject(
                    conn,
                    c,
                    doc_id,
                    &format!("a new document needs a valid header: {e}"),
                    out,
                );
                return;
            }
        };
        if let Some(parent) = header.parent {
            // Access to a response or review depends on its parent: keep it as a scratch
            // until the parent is loaded (the caller loads it; we ask). A parent known to be
            // absent decides at once (the creation is refused).
            match self.docs.get(&parent) {
                Some(Slot::Ready(_) | Slot::Absent) => {}
                known => {
                    if known.is_none() {
                        self.request_load(parent, out);
                    }
                    // Re-examined when the parent is known (see `parent_known`).
                    self.scratch_waiting
                        .entry(parent)
                        .or_default()
                        .push((conn, doc_id));
                    return;
                }
            }
        }
        self.promote_scratch(conn, doc_id, header, out);
    }

    /// Turns a scratch copy into a stored document if the principal may create it.
    fn promote_scratch(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        header: Header,
        out: &mut Vec<HubOutput>,
    ) {
        let ancestors = self.ancestors_of(&header);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if header.parent == Some(doc_id) {
            c.scratch.remove(&doc_id);
            self.rejections
                .reject(conn, c, doc_id, "a document cannot be its own parent", out);
            return;
        }
        if !access::can_create(&c.principal, &header, &ancestors) {
            c.scratch.remove(&doc_id);
            self.rejections
                .reject(conn, c, doc_id, "not allowed to create this document", out);
            return;
        }
        if let Some(scratch) = c.scratch.get(&doc_id)
            && let Err(e) = check_new_document(&header, &scratch.doc)
        {
            c.scratch.remove(&doc_id);
            self.rejections.reject(
                conn,
                c,
                doc_id,
                &format!("a new document must keep its kind's rules: {e}"),
                out,
            );
            return;
        }
        let Some(scratch) = c.scratch.remove(&doc_id) else {
            return;
        };
        c.docs.insert(
            doc_id,
            PeerDoc {
                session: scratch.session,
                awaiting_save: true,
                stored_shared: Vec::new(),
            },
        );
        let by = c.principal.clone();
        let new_blob_refs = introduced_blob_refs(header.kind, None, &scratch.doc)
            .into_iter()
            .map(|u| (u, by.clone()))
            .collect();
        self.watchers.entry(doc_id).or_default().insert(conn);
        let ticket = self.take_ticket();
        self.docs.insert(
            doc_id,
            Slot::Ready(LoadedDoc {
                doc: scratch.doc,
                header,
                ancestors,
                saving: Some(ticket),
                dirty_by: None,
                new_blob_refs,
            }),
        );
        out.push(HubOutput::Save {
            doc: doc_id,
            ticket,
            changed_by: by,
        });
    }

    /// Marks a document as loading (nothing waiting yet) and asks the caller to load it.
    fn request_load(&mut self, doc_id: DocumentId, out: &mut Vec<HubOutput>) {
        self.docs.insert(
            doc_id,
            Slot::Loading {
                waiting: Vec::new(),
            },
        );
        out.push(HubOutput::Load { doc: doc_id });
    }

    fn take_ticket(&mut self) -> u64 {
        let t = self.next_ticket;
        self.next_ticket += 1;
        t
    }

    /// The ancestors' headers of a header, as far as they are loaded. A ready parent brings
    /// its own ancestors, known when it was made ready: the grandparent may have left memory
    /// since (an officer reads a review of a response only knowing the response's notice).
    fn ancestors_of(&self, header: &Header) -> Vec<Header> {
        let mut out = Vec::new();
        let mut next = header.parent;
        while let Some(id) = next {
            match self.docs.get(&id) {
                Some(Slot::Ready(d)) => {
                    out.push(d.header.clone());
                    out.extend(d.ancestors.iter().cloned());
                    out.truncate(2);
                    break;
                }
                Some(Slot::Resolving { header, .. }) => {
                    out.push(header.clone());
                    next = header.parent;
                }
                _ => break,
            }
            if out.len() >= 2 {
                break;
            }
        }
        out
    }

    fn on_ready_message(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        message: WireMessage,
        out: &mut Vec<HubOutput>,
    ) {
        self.apply_ready_message(conn, doc_id, message, out);
        self.after_event(conn, doc_id, out);
    }

    fn apply_ready_message(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        message: WireMessage,
        out: &mut Vec<HubOutput>,
    ) {
        let peer_id = self.config.peer_id.clone();
        let (Some(c), Some(Slot::Ready(d))) =
            (self.conns.get_mut(&conn), self.docs.get_mut(&doc_id))
        else {
            return;
        };
        if !access::can_read(&c.principal, &d.header, &d.ancestors) {
            // Exactly as for a document that does not exist.
            unavailable(&peer_id, conn, c, doc_id, out);
            self.finish_announcement(conn, doc_id);
            return;
        }
        let data = match message {
            WireMessage::Request { data, .. } | WireMessage::Sync { data, .. } => data,
            _ => return,
        };
        let decoded = match Message::decode(&data) {
            Ok(m) => m,
            Err(e) => {
                self.rejections.reject(
                    conn,
                    c,
                    doc_id,
                    &format!("not an automerge sync message: {e}"),
                    out,
                );
                return;
            }
        };
        let carries_changes = !decoded.changes.is_empty();
        if carries_changes && !access::can_write(&c.principal, &d.header, &d.ancestors) {
            self.rejections
                .reject(conn, c, doc_id, "no write rights on this document", out);
            return;
        }
        self.watchers.entry(doc_id).or_default().insert(conn);
        // The state before, to check the body's rules on the result (a raw change could
        // delete case events, rewrite a case number, withdraw a submitted response …).
        let before = carries_changes.then(|| d.doc.clone());
        let budget = change_budget(&self.config);
        let peer = c.docs.entry(doc_id).or_insert_with(|| PeerDoc {
            session: SyncSession::new().with_change_budget(budget),
            ..PeerDoc::default()
        });
        let changed = match peer.session.receive_message(&mut d.doc, decoded) {
            Ok(changed) => changed,
            Err(e) => {
                self.rejections
                    .reject(conn, c, doc_id, &format!("sync message refused: {e}"), out);
                return;
            }
        };
        if changed {
            let refusal = if read_header(&d.doc).ok().as_ref() != Some(&d.header) {
                Some("changes to a document header are refused".to_owned())
            } else if let Some(before) = &before
                && let Err(e) = check_synced_edit(d.header.kind, before, &d.doc)
            {
                Some(format!("refused by the document's rules: {e}"))
            } else {
                None
            };
            if let Some(reason) = refusal {
                // Forget the in-memory state; the store has the last valid one.
                let by = c.principal.id().clone();
                self.rejections.reject(conn, c, doc_id, &reason, out);
                tracing::warn!(%doc_id, principal = %by, reason, "change refused; reloading");
                let peers: Vec<ConnId> = self
                    .watchers
                    .remove(&doc_id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                self.docs.remove(&doc_id);
                for p in peers {
                    if let Some(pc) = self.conns.get_mut(&p) {
                        pc.docs.remove(&doc_id);
                    }
                    self.finish_announcement(p, doc_id);
                }
                self.finish_announcement(conn, doc_id);
                return;
            }
            peer.awaiting_save = true;
            let by = c.principal.clone();
            for blob in introduced_blob_refs(d.header.kind, before.as_ref(), &d.doc) {
                d.new_blob_refs.push((blob, by.clone()));
            }
            schedule_save(d, &mut self.next_ticket, doc_id, by, out);
            return;
        }
        if !peer.awaiting_save
            && let Some(reply) = reply_to(peer, c.wants_marker, &d.doc)
        {
            send_sync(&peer_id, conn, c, doc_id, reply, out);
        }
    }

    fn on_loaded(
        &mut self,
        doc_id: DocumentId,
        stored: Option<Automerge>,
        out: &mut Vec<HubOutput>,
    ) {
        let waiting = match self.docs.remove(&doc_id) {
            Some(Slot::Loading { waiting }) => waiting,
            Some(other) => {
                // Not expected (a duplicate answer): keep what we have.
                self.docs.insert(doc_id, other);
                return;
            }
            None => Vec::new(),
        };
        let Some(doc) = stored else {
            self.docs.insert(doc_id, Slot::Absent);
            self.mark_idle(doc_id);
            for write in self.pending_writes.remove(&doc_id).unwrap_or_default() {
                self.on_write(doc_id, write, out);
            }
            for (conn, _) in self.pending_announces.remove(&doc_id).unwrap_or_default() {
                self.finish_announcement(conn, doc_id);
            }
            for (conn, message) in waiting {
                self.on_message(conn, message, out);
            }
            self.parent_known(doc_id, out);
            return;
        };
        let header = match read_header(&doc) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(%doc_id, error = %e, "stored document has no valid header");
                self.docs.insert(doc_id, Slot::Absent);
                self.mark_idle(doc_id);
                for write in self.pending_writes.remove(&doc_id).unwrap_or_default() {
                    Self::written(
                        write.id,
                        doc_id,
                        Err("the stored document has no valid header".to_owned()),
                        out,
                    );
                }
                self.parent_known(doc_id, out);
                self.mark_idle(doc_id);
                for (conn, _) in self.pending_announces.remove(&doc_id).unwrap_or_default() {
                    self.finish_announcement(conn, doc_id);
                }
                for (conn, message) in waiting {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        let _ = message;
                        unavailable(&self.config.peer_id, conn, c, doc_id, out);
                    }
                }
                return;
            }
        };
        // Load the ancestors access depends on (at most two levels).
        // A parent that is ready, absent, or itself waiting for its own parent (its header is
        // known) does not hold the child back: waiting on a waiting parent could be a cycle
        // (a document naming itself or a descendant as parent) that never resolves.
        let missing: Vec<DocumentId> = header
            .parent
            .into_iter()
            .filter(|p| {
                *p != doc_id && matches!(self.docs.get(p), None | Some(Slot::Loading { .. }))
            })
            .collect();
        if let Some(parent) = missing.first() {
            self.children_waiting
                .entry(*parent)
                .or_default()
                .push(doc_id);
            self.docs.insert(
                doc_id,
                Slot::Resolving {
                    doc,
                    header,
                    waiting,
                },
            );
            if !self.docs.contains_key(parent) {
                self.request_load(*parent, out);
            }
            return;
        }
        self.make_ready(doc_id, doc, header, waiting, out);
    }

    fn make_ready(
        &mut self,
        doc_id: DocumentId,
        doc: Automerge,
        header: Header,
        waiting: Vec<(ConnId, WireMessage)>,
        out: &mut Vec<HubOutput>,
    ) {
        let ancestors = self.ancestors_of(&header);
        self.docs.insert(
            doc_id,
            Slot::Ready(LoadedDoc {
                doc,
                header,
                ancestors,
                saving: None,
                dirty_by: None,
                new_blob_refs: Vec::new(),
            }),
        );
        self.mark_idle(doc_id);
        for (conn, message) in waiting {
            self.on_message(conn, message, out);
        }
        for (conn, state) in self.pending_announces.remove(&doc_id).unwrap_or_default() {
            self.on_announce(conn, doc_id, state, out);
        }
        for write in self.pending_writes.remove(&doc_id).unwrap_or_default() {
            self.apply_write(doc_id, &write, out);
        }
        self.parent_known(doc_id, out);
    }

    /// A document became known (ready or absent): the loaded children and the scratch copies
    /// that waited for it as their parent go on. Work is the number of waiters.
    fn parent_known(&mut self, parent: DocumentId, out: &mut Vec<HubOutput>) {
        for child in self.children_waiting.remove(&parent).unwrap_or_default() {
            if let Some(Slot::Resolving {
                doc,
                header,
                waiting,
            }) = self.docs.remove(&child)
            {
                self.make_ready(child, doc, header, waiting, out);
            }
        }
        for (doc_id, write) in self.writes_waiting.remove(&parent).unwrap_or_default() {
            self.on_write(doc_id, write, out);
        }
        for (conn, doc_id) in self.scratch_waiting.remove(&parent).unwrap_or_default() {
            let header = self
                .conns
                .get(&conn)
                .and_then(|c| c.scratch.get(&doc_id))
                .and_then(|s| read_header(&s.doc).ok());
            if let Some(header) = header {
                self.promote_scratch(conn, doc_id, header, out);
            }
        }
    }

    fn on_saved(&mut self, doc_id: DocumentId, ticket: u64, out: &mut Vec<HubOutput>) {
        let peer_id = self.config.peer_id.clone();
        let Some(Slot::Ready(d)) = self.docs.get_mut(&doc_id) else {
            return;
        };
        if d.saving != Some(ticket) {
            return;
        }
        d.saving = None;
        // Everything applied so far was in the state just saved (the driver reads the
        // document and these references together when it flushes).
        d.new_blob_refs.clear();
        if let Some(by) = d.dirty_by.take() {
            schedule_save(d, &mut self.next_ticket, doc_id, by, out);
            return;
        }
        // Flushed: acknowledge to the writers and fan out to everyone syncing it.
        let peers: Vec<ConnId> = self
            .watchers
            .get(&doc_id)
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default();
        for &conn in &peers {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            let Some(peer) = c.docs.get_mut(&doc_id) else {
                continue;
            };
            peer.awaiting_save = false;
            if let Some(reply) = reply_to(peer, c.wants_marker, &d.doc) {
                send_sync(&peer_id, conn, c, doc_id, reply, out);
            }
        }
        for conn in peers {
            self.after_event(conn, doc_id, out);
        }
        if let Some(ids) = self.write_waiters.remove(&doc_id) {
            for id in ids {
                Self::written(id, doc_id, Ok(()), out);
            }
            self.announce_to_readers(doc_id, out);
        }
    }

    fn on_announce(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        state: Option<Vec<u8>>,
        out: &mut Vec<HubOutput>,
    ) {
        match self.docs.get(&doc_id) {
            Some(Slot::Ready(_)) => {}
            Some(Slot::Absent) => {
                self.finish_announcement(conn, doc_id);
                return;
            }
            None => {
                // Load first; the announcement waits for the document (see `make_ready`).
                self.request_load(doc_id, out);
                self.pending_announces
                    .entry(doc_id)
                    .or_default()
                    .push((conn, state));
                return;
            }
            Some(Slot::Loading { .. } | Slot::Resolving { .. }) => {
                self.pending_announces
                    .entry(doc_id)
                    .or_default()
                    .push((conn, state));
                return;
            }
        }
        let peer_id = self.config.peer_id.clone();
        let (Some(c), Some(Slot::Ready(d))) =
            (self.conns.get_mut(&conn), self.docs.get_mut(&doc_id))
        else {
            return;
        };
        if !access::can_read(&c.principal, &d.header, &d.ancestors) {
            self.finish_announcement(conn, doc_id);
            return;
        }
        self.watchers.entry(doc_id).or_default().insert(conn);
        let budget = change_budget(&self.config);
        let peer = c.docs.entry(doc_id).or_insert_with(|| {
            // Restored and primed: the first message carries what changed since the peer
            // last had the document, so one round trip delivers it (bounded: see
            // `change_budget`).
            let session = state
                .as_deref()
                .and_then(|s| SyncSession::resume(s).ok())
                .unwrap_or_default()
                .with_change_budget(budget);
            PeerDoc {
                stored_shared: session.shared_heads().to_vec(),
                session,
                awaiting_save: false,
            }
        });
        if let Some(reply) = peer.session.generate(&d.doc) {
            send_sync(&peer_id, conn, c, doc_id, reply, out);
        }
    }

    fn on_disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            for doc_id in c.docs.keys() {
                if let Some(w) = self.watchers.get_mut(doc_id) {
                    w.remove(&conn);
                    if w.is_empty() {
                        self.watchers.remove(doc_id);
                    }
                }
                self.mark_idle(*doc_id);
            }
        }
    }

    /// Queues a document as a candidate for eviction (once).
    fn mark_idle(&mut self, doc_id: DocumentId) {
        if self.idle_set.insert(doc_id) {
            self.idle.push_back(doc_id);
        }
    }

    /// True when a document can leave memory: no save in flight and every connection syncing
    /// it is in sync (its session stays with the connection; the document reloads on need).
    fn evictable(&self, doc_id: &DocumentId) -> bool {
        match self.docs.get(doc_id) {
            Some(Slot::Absent) => true,
            Some(Slot::Ready(d)) => {
                d.saving.is_none()
                    && self.watchers.get(doc_id).is_none_or(|w| {
                        w.iter().all(|conn| {
                            self.conns
                                .get(conn)
                                .and_then(|c| c.docs.get(doc_id))
                                .is_none_or(|p| !p.awaiting_save && p.session.in_sync(&d.doc))
                        })
                    })
            }
            _ => false,
        }
    }

    /// Drops idle documents (and "absent" markers) beyond the bound, oldest candidates first.
    /// Work per call is the number of candidates examined, not the number of documents.
    fn evict_idle(&mut self) {
        while self.docs.len() > self.config.max_idle_docs {
            let Some(id) = self.idle.pop_front() else {
                break;
            };
            self.idle_set.remove(&id);
            if self.evictable(&id) {
                self.docs.remove(&id);
            }
        }
    }
}

/// The photo blob references `after` holds that `before` (`None`: a new document) did not,
/// for the kinds that reference photos; none when a body does not read (it was checked).
fn introduced_blob_refs(
    kind: crate::docs::DocKind,
    before: Option<&Automerge>,
    after: &Automerge,
) -> Vec<crate::docs::BlobUse> {
    use crate::docs::{DocKind, referenced_blobs};
    if !matches!(kind, DocKind::Case | DocKind::Notice | DocKind::Response) {
        return Vec::new();
    }
    let old = before
        .and_then(|b| referenced_blobs(kind, b).ok())
        .unwrap_or_default();
    referenced_blobs(kind, after)
        .unwrap_or_default()
        .into_iter()
        .filter(|u| !old.iter().any(|o| o.sha256 == u.sha256 && o.role == u.role))
        .collect()
}

/// Saves the document's new changes by `by`: now, or after the save in flight (one save at a
/// time per document; changes that arrive meanwhile ride on the next one).
fn schedule_save(
    d: &mut LoadedDoc,
    next_ticket: &mut u64,
    doc_id: DocumentId,
    by: crate::access::Principal,
    out: &mut Vec<HubOutput>,
) {
    if d.saving.is_some() {
        d.dirty_by = Some(by);
        return;
    }
    let ticket = *next_ticket;
    *next_ticket += 1;
    d.saving = Some(ticket);
    out.push(HubOutput::Save {
        doc: doc_id,
        ticket,
        changed_by: by,
    });
}

/// The next sync message for a peer: pure acknowledgements go without a Bloom filter to our
/// own client (see [`SyncSession::generate_ack`]), stock peers get automerge's message.
fn reply_to(peer: &mut PeerDoc, ours: bool, doc: &Automerge) -> Option<Vec<u8>> {
    if ours {
        peer.session.generate_ack(doc)
    } else {
        peer.session.generate(doc)
    }
}

fn close_with_error(conn: ConnId, reason: String, out: &mut Vec<HubOutput>) {
    out.push(HubOutput::Send {
        conn,
        bytes: WireMessage::Error {
            message: reason.clone(),
        }
        .encode(),
    });
    out.push(HubOutput::Close { conn, reason });
}

fn remote_of(c: &Conn) -> Option<PeerId> {
    c.remote.clone()
}

fn send_sync(
    local: &PeerId,
    conn: ConnId,
    c: &Conn,
    doc_id: DocumentId,
    data: Vec<u8>,
    out: &mut Vec<HubOutput>,
) {
    let Some(remote) = remote_of(c) else {
        return;
    };
    let message = WireMessage::Sync {
        document_id: doc_id,
        sender_id: local.clone(),
        target_id: remote,
        data,
    };
    // Our own client (it asked for the discovery marker) reads the compact form.
    let bytes = if c.wants_marker {
        message.encode_compact()
    } else {
        message.encode()
    };
    out.push(HubOutput::Send { conn, bytes });
}

fn unavailable(
    local: &PeerId,
    conn: ConnId,
    c: &Conn,
    doc_id: DocumentId,
    out: &mut Vec<HubOutput>,
) {
    let Some(remote) = remote_of(c) else {
        return;
    };
    out.push(HubOutput::Send {
        conn,
        bytes: WireMessage::DocUnavailable {
            sender_id: local.clone(),
            target_id: remote,
            document_id: doc_id,
        }
        .encode(),
    });
}
