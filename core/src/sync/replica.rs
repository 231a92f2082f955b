//! [`Replica`]: the phone side of sync, sans-I/O.
//!
//! A phone holds a replica of the documents that concern it. When it connects, the replica
//! pushes its *pending* documents (saved locally, not yet acknowledged by the server) a window
//! at a time, and receives what the server's discovery announces (see
//! [`Hub`](super::hub::Hub)): new notices for an enterprise, reviews for an officer, the
//! watch-list. It never lists or scans documents, so a reconnect with nothing pending and
//! nothing announced costs the handshake only, whatever the number of documents held.
//!
//! The caller feeds [`ReplicaInput`]s (a frame received, a document loaded, a save flushed)
//! and performs the [`ReplicaOutput`]s (send a frame, load, save, record a sync). Received
//! changes are saved before the replica answers, so the server never counts as delivered
//! what a crash could lose. [`drive`] performs the storage outputs over a
//! [`FieldStore`](crate::field::FieldStore) for callers whose store is synchronous.
//!
//! Sync states are kept per (document, server storage id) and restored *primed*
//! ([`SyncSession::resume`]): the first message of a push carries the changes since the
//! shared heads, so a one-field edit costs one message each way.

use std::collections::{HashMap, VecDeque};

use automerge::{Automerge, ChangeHash};

use crate::ids::{DocumentId, PeerId, StorageId};

use super::connection::{Connection, ProtocolError, Received};
use super::session::SyncSession;
use super::wire::{PeerMetadata, WireMessage};

/// Identity and limits of a replica.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// This phone's peer id on the connection (new per connection is fine).
    pub peer_id: PeerId,
    /// This phone's storage id: the one its token is bound to.
    pub storage_id: StorageId,
    /// Pending documents pushed at once.
    pub window: usize,
    /// The largest message the server accepts, bytes (its `limits.max_message_bytes`; default
    /// [`MAX_MESSAGE_BYTES`]). A document whose changes would need a larger message is not
    /// sent — the server would close the connection and every other document would wait —
    /// but reported [`ReplicaOutput::Rejected`] with the reason, and the rest syncs.
    pub max_message_bytes: usize,
}

/// The server's default limit of one WebSocket message, bytes (1 MiB).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Largest message a phone accepts from the server, bytes (8 MiB; the client transport's
/// default). The server never sends more, whatever its own `limits.max_message_bytes`.
pub const MAX_INCOMING_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Something that happened, for the replica to act on.
#[derive(Debug)]
pub enum ReplicaInput {
    /// A binary message arrived from the server.
    Frame(Vec<u8>),
    /// Answer to [`ReplicaOutput::Load`].
    Loaded {
        /// Document.
        doc: DocumentId,
        /// The stored document, `None` when this phone does not have it.
        stored: Option<Box<Automerge>>,
        /// The sync state stored for (document, server storage id), automerge's encoding.
        sync_state: Option<Vec<u8>>,
    },
    /// Answer to [`ReplicaOutput::Save`]: the document is flushed.
    Saved {
        /// Document.
        doc: DocumentId,
    },
    /// Answer to [`ReplicaOutput::Save`]: the document could not be saved (the replica drops
    /// it without answering the server, which offers it again on the next connection).
    SaveFailed {
        /// Document.
        doc: DocumentId,
    },
}

/// Something the caller must do or know.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplicaOutput {
    /// Send this binary message to the server.
    Send(Vec<u8>),
    /// Load the document and its sync state with `server`; answer [`ReplicaInput::Loaded`].
    Load {
        /// Document.
        doc: DocumentId,
    },
    /// Save [`Replica::document`] durably; answer [`ReplicaInput::Saved`].
    Save {
        /// Document.
        doc: DocumentId,
    },
    /// The handshake completed.
    Established {
        /// The server's storage id (sync states are kept per storage id).
        server: Option<StorageId>,
        /// How many documents the server announced (`None`: a server that does not say).
        announced: Option<u64>,
    },
    /// The document is in sync with the server: acknowledge `heads` in the store (clears the
    /// pending mark) and keep `sync_state` for (document, server storage id).
    Synced {
        /// Document.
        doc: DocumentId,
        /// The heads both sides now have.
        heads: Vec<ChangeHash>,
        /// automerge's encoding of the sync state.
        sync_state: Vec<u8>,
        /// This phone pushed it (it was pending).
        pushed: bool,
        /// Changes from the server were saved.
        pulled: bool,
    },
    /// The server refused the document's changes; do not resend them as they are.
    Rejected {
        /// Document.
        doc: DocumentId,
        /// The server's reason.
        reason: String,
    },
    /// The server does not have the document or will not show it.
    Unavailable {
        /// Document.
        doc: DocumentId,
    },
    /// Every announced document is in sync.
    DiscoveryComplete,
    /// The server closed the exchange (protocol `error`, or a protocol violation).
    Closed {
        /// Why.
        reason: String,
    },
}

/// Counters of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaProgress {
    /// Pending documents acknowledged by the server.
    pub pushed: u64,
    /// Documents that received changes from the server.
    pub pulled: u64,
    /// Documents whose changes the server refused.
    pub rejected: u64,
    /// Pending documents not yet acknowledged (queued or in flight).
    pub pushes_left: u64,
    /// Documents received from the server that could not be saved here (offered again on the
    /// next connection).
    pub save_failed: u64,
    /// Documents the server announced, when it said.
    pub announced: Option<u64>,
}

#[derive(Debug)]
struct ReplicaDoc {
    doc: Automerge,
    session: SyncSession,
    pushing: bool,
    pulled: bool,
    /// Heads of the save in flight.
    saving: Option<Vec<ChangeHash>>,
}

#[derive(Debug)]
enum Slot {
    Loading {
        pushing: bool,
        waiting: Vec<Vec<u8>>,
    },
    Ready(Box<ReplicaDoc>),
}

/// The phone side of one connection. See the module docs.
#[derive(Debug)]
pub struct Replica {
    config: ReplicaConfig,
    connection: Connection,
    server: Option<StorageId>,
    established: bool,
    discovery_done: bool,
    closed: bool,
    queue: VecDeque<DocumentId>,
    pushing: usize,
    slots: HashMap<DocumentId, Slot>,
    progress: ReplicaProgress,
}

impl Replica {
    /// A replica and the `join` message to send first.
    pub fn new(config: ReplicaConfig) -> (Self, Vec<u8>) {
        let (connection, join) = Connection::client(
            config.peer_id.clone(),
            PeerMetadata {
                storage_id: Some(config.storage_id.clone()),
                discovery_marker: true,
                ..PeerMetadata::default()
            },
        );
        (
            Replica {
                config,
                connection,
                server: None,
                established: false,
                discovery_done: false,
                closed: false,
                queue: VecDeque::new(),
                pushing: 0,
                slots: HashMap::new(),
                progress: ReplicaProgress::default(),
            },
            join.encode(),
        )
    }

    /// Queues documents to push (the store's pending documents); duplicates are ignored.
    /// Returns the loads to start if the connection is already established.
    pub fn push(&mut self, docs: impl IntoIterator<Item = DocumentId>) -> Vec<ReplicaOutput> {
        for doc in docs {
            if !self.queue.contains(&doc) && !self.slots.contains_key(&doc) {
                self.queue.push_back(doc);
                self.progress.pushes_left += 1;
            }
        }
        let mut out = Vec::new();
        self.pump(&mut out);
        out
    }

    /// The in-memory copy of a document, for [`ReplicaOutput::Save`].
    pub fn document(&self, doc: &DocumentId) -> Option<&Automerge> {
        match self.slots.get(doc) {
            Some(Slot::Ready(d)) => Some(&d.doc),
            _ => None,
        }
    }

    /// The server's storage id, once established.
    pub fn server(&self) -> Option<&StorageId> {
        self.server.as_ref()
    }

    /// Counters so far.
    pub fn progress(&self) -> ReplicaProgress {
        self.progress
    }

    /// True when everything is done: established, every push acknowledged or refused, every
    /// announced document in sync, nothing loading or saving. When a received document could
    /// not be saved, the server's discovery never completes (it waits for that document), so
    /// the replica does not wait for it either: the rest is offered again next time.
    pub fn is_idle(&self) -> bool {
        self.established
            && (self.discovery_done || self.progress.save_failed > 0)
            && self.queue.is_empty()
            && self.slots.is_empty()
    }

    /// True once the server closed the exchange.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Handles one input and returns what to do.
    pub fn handle(&mut self, input: ReplicaInput) -> Vec<ReplicaOutput> {
        let mut out = Vec::new();
        match input {
            ReplicaInput::Frame(bytes) => self.on_frame(&bytes, &mut out),
            ReplicaInput::Loaded {
                doc,
                stored,
                sync_state,
            } => self.on_loaded(doc, stored.map(|d| *d), sync_state.as_deref(), &mut out),
            ReplicaInput::Saved { doc } => self.on_saved(doc, &mut out),
            ReplicaInput::SaveFailed { doc } => {
                self.progress.save_failed += 1;
                if let Some(Slot::Ready(d)) = self.slots.remove(&doc)
                    && d.pushing
                {
                    self.pushing -= 1;
                }
            }
        }
        self.pump(&mut out);
        out
    }

    fn on_frame(&mut self, bytes: &[u8], out: &mut Vec<ReplicaOutput>) {
        match self.connection.receive(bytes) {
            Err(e) => self.close(&e, out),
            Ok(Received::Closed { reason }) => {
                self.closed = true;
                out.push(ReplicaOutput::Closed { reason });
            }
            Ok(Received::Established { metadata, .. }) => {
                let metadata = metadata.unwrap_or_default();
                self.established = true;
                self.server = metadata.storage_id;
                self.progress.announced = metadata.announced;
                // A server that does not announce a count sends no completion marker either.
                self.discovery_done = metadata.announced.unwrap_or(0) == 0;
                out.push(ReplicaOutput::Established {
                    server: self.server.clone(),
                    announced: metadata.announced,
                });
            }
            Ok(Received::Message(message)) => self.on_message(message, out),
        }
    }

    fn close(&mut self, e: &ProtocolError, out: &mut Vec<ReplicaOutput>) {
        self.closed = true;
        out.push(ReplicaOutput::Closed {
            reason: e.to_string(),
        });
    }

    fn on_message(&mut self, message: WireMessage, out: &mut Vec<ReplicaOutput>) {
        match message {
            WireMessage::Sync {
                document_id, data, ..
            }
            | WireMessage::Request {
                document_id, data, ..
            } => self.on_sync(document_id, data, out),
            WireMessage::DocUnavailable { document_id, .. } => {
                self.drop_doc(document_id);
                out.push(ReplicaOutput::Unavailable { doc: document_id });
            }
            WireMessage::Ephemeral {
                document_id, data, ..
            } => match Signal::decode(&data) {
                Some(Signal::Rejected(reason)) => {
                    tracing::warn!(doc_id = %document_id, reason, "server refused changes");
                    self.drop_doc(document_id);
                    self.progress.rejected += 1;
                    out.push(ReplicaOutput::Rejected {
                        doc: document_id,
                        reason,
                    });
                }
                Some(Signal::DiscoveryComplete) => {
                    self.discovery_done = true;
                    out.push(ReplicaOutput::DiscoveryComplete);
                }
                None => {}
            },
            _ => {}
        }
    }

    /// Forgets a document in progress (refused, unavailable); a push counts as done.
    fn drop_doc(&mut self, doc: DocumentId) {
        let pushing = match self.slots.remove(&doc) {
            Some(Slot::Ready(d)) => d.pushing,
            Some(Slot::Loading { pushing, .. }) => pushing,
            None => false,
        };
        if pushing {
            self.pushing -= 1;
            self.progress.pushes_left = self.progress.pushes_left.saturating_sub(1);
        }
    }

    fn on_sync(&mut self, doc: DocumentId, data: Vec<u8>, out: &mut Vec<ReplicaOutput>) {
        match self.slots.get_mut(&doc) {
            None => {
                self.slots.insert(
                    doc,
                    Slot::Loading {
                        pushing: false,
                        waiting: vec![data],
                    },
                );
                out.push(ReplicaOutput::Load { doc });
            }
            Some(Slot::Loading { waiting, .. }) => waiting.push(data),
            Some(Slot::Ready(_)) => self.receive(doc, &data, out),
        }
    }

    fn receive(&mut self, doc: DocumentId, data: &[u8], out: &mut Vec<ReplicaOutput>) {
        let Some(Slot::Ready(d)) = self.slots.get_mut(&doc) else {
            return;
        };
        match d.session.receive(&mut d.doc, data) {
            Ok(true) => {
                d.pulled = true;
                if d.saving.is_none() {
                    d.saving = Some(d.doc.get_heads());
                    out.push(ReplicaOutput::Save { doc });
                }
            }
            Ok(false) => self.reply(doc, out),
            Err(e) => {
                // A message we cannot apply: start the exchange afresh.
                tracing::warn!(doc_id = %doc, error = %e, "sync message from the server refused; restarting");
                d.session = SyncSession::new();
                self.reply(doc, out);
            }
        }
    }

    /// Sends what the session has to say; completes the document when in sync.
    fn reply(&mut self, doc: DocumentId, out: &mut Vec<ReplicaOutput>) {
        let Some(Slot::Ready(d)) = self.slots.get_mut(&doc) else {
            return;
        };
        if d.saving.is_some() {
            return;
        }
        if let Some(data) = d.session.generate(&d.doc)
            && let Some(remote) = self.connection.remote()
        {
            let frame = WireMessage::Sync {
                document_id: doc,
                sender_id: self.config.peer_id.clone(),
                target_id: remote.clone(),
                data,
            }
            .encode_compact();
            if frame.len() > self.config.max_message_bytes {
                let reason = format!(
                    "the changes of this document since the last sync need a {} byte message; \
                     the server accepts at most {} bytes",
                    frame.len(),
                    self.config.max_message_bytes
                );
                tracing::warn!(doc_id = %doc, bytes = frame.len(), "a document is too large to sync");
                self.drop_doc(doc);
                self.progress.rejected += 1;
                out.push(ReplicaOutput::Rejected { doc, reason });
                return;
            }
            out.push(ReplicaOutput::Send(frame));
        }
        if d.session.in_sync(&d.doc) {
            let Some(Slot::Ready(d)) = self.slots.remove(&doc) else {
                return;
            };
            if d.pushing {
                self.pushing -= 1;
                self.progress.pushed += 1;
                self.progress.pushes_left = self.progress.pushes_left.saturating_sub(1);
            }
            if d.pulled {
                self.progress.pulled += 1;
            }
            out.push(ReplicaOutput::Synced {
                doc,
                heads: d.doc.get_heads(),
                sync_state: d.session.encode(),
                pushed: d.pushing,
                pulled: d.pulled,
            });
        }
    }

    fn on_loaded(
        &mut self,
        doc_id: DocumentId,
        stored: Option<Automerge>,
        sync_state: Option<&[u8]>,
        out: &mut Vec<ReplicaOutput>,
    ) {
        let Some(Slot::Loading { pushing, waiting }) = self.slots.remove(&doc_id) else {
            return;
        };
        if pushing && stored.is_none() {
            // Pending but gone from the store: nothing to push.
            self.pushing -= 1;
            self.progress.pushes_left = self.progress.pushes_left.saturating_sub(1);
            return;
        }
        let restored = sync_state.and_then(|s| {
            if pushing {
                SyncSession::resume(s).ok()
            } else {
                SyncSession::restore(s).ok()
            }
        });
        self.slots.insert(
            doc_id,
            Slot::Ready(Box::new(ReplicaDoc {
                doc: stored.unwrap_or_default(),
                session: restored.unwrap_or_default(),
                pushing,
                pulled: false,
                saving: None,
            })),
        );
        if waiting.is_empty() {
            self.reply(doc_id, out);
        }
        for data in waiting {
            self.receive(doc_id, &data, out);
        }
    }

    fn on_saved(&mut self, doc: DocumentId, out: &mut Vec<ReplicaOutput>) {
        let Some(Slot::Ready(d)) = self.slots.get_mut(&doc) else {
            return;
        };
        let Some(saved) = d.saving.take() else {
            return;
        };
        if saved != d.doc.get_heads() {
            // More arrived while saving: save again before answering.
            d.saving = Some(d.doc.get_heads());
            out.push(ReplicaOutput::Save { doc });
            return;
        }
        self.reply(doc, out);
    }

    /// Starts pushes up to the window.
    fn pump(&mut self, out: &mut Vec<ReplicaOutput>) {
        if !self.established || self.closed {
            return;
        }
        while self.pushing < self.config.window.max(1) {
            let Some(doc) = self.queue.pop_front() else {
                break;
            };
            match self.slots.get_mut(&doc) {
                // Already in progress because the server announced it: it becomes a push.
                Some(Slot::Loading { pushing, .. }) => *pushing = true,
                Some(Slot::Ready(d)) => d.pushing = true,
                None => {
                    self.slots.insert(
                        doc,
                        Slot::Loading {
                            pushing: true,
                            waiting: Vec::new(),
                        },
                    );
                    out.push(ReplicaOutput::Load { doc });
                }
            }
            self.pushing += 1;
        }
    }
}

/// Our `ephemeral` payloads (see [`rejection_payload`](super::hub::rejection_payload) and
/// [`discovery_complete_payload`](super::hub::discovery_complete_payload)).
enum Signal {
    Rejected(String),
    DiscoveryComplete,
}

impl Signal {
    fn decode(data: &[u8]) -> Option<Signal> {
        let mut d = minicbor::Decoder::new(data);
        let n = d.map().ok()??;
        let (mut kind, mut reason) = (None, None);
        for _ in 0..n {
            match d.str().ok()? {
                "type" => kind = Some(d.str().ok()?.to_owned()),
                "reason" => reason = Some(d.str().ok()?.to_owned()),
                _ => d.skip().ok()?,
            }
        }
        match kind.as_deref()? {
            "rejected" => Some(Signal::Rejected(
                reason.unwrap_or_else(|| "no reason given".to_owned()),
            )),
            "discovery-complete" => Some(Signal::DiscoveryComplete),
            _ => None,
        }
    }
}

/// Feeds `input` to `replica` and performs its storage outputs over `store` synchronously:
/// loads (document and sync state), saves ([`FieldStore::save_synced`]), acknowledgements and
/// sync states of synced documents, rejection marks. Returns the frames to send; every other
/// output (including the storage ones, after they were performed) is appended to `events`
/// for progress reporting.
///
/// A storage failure never loses data: a document that cannot be loaded is dropped from this
/// exchange, one that cannot be saved is not answered (the server offers it again next time).
///
/// [`FieldStore::save_synced`]: crate::field::FieldStore::save_synced
pub fn drive<S: crate::store::DocStore>(
    replica: &mut Replica,
    store: &crate::field::FieldStore<S>,
    input: ReplicaInput,
    events: &mut Vec<ReplicaOutput>,
) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut inputs = VecDeque::from([input]);
    while let Some(input) = inputs.pop_front() {
        let outputs = replica.handle(input);
        perform(replica, store, outputs, &mut inputs, &mut frames, events);
    }
    frames
}

/// [`drive`] for outputs the caller already has (those returned by [`Replica::push`]).
pub fn drive_outputs<S: crate::store::DocStore>(
    replica: &mut Replica,
    store: &crate::field::FieldStore<S>,
    outputs: Vec<ReplicaOutput>,
    events: &mut Vec<ReplicaOutput>,
) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut inputs = VecDeque::new();
    perform(replica, store, outputs, &mut inputs, &mut frames, events);
    while let Some(input) = inputs.pop_front() {
        let outputs = replica.handle(input);
        perform(replica, store, outputs, &mut inputs, &mut frames, events);
    }
    frames
}

fn perform<S: crate::store::DocStore>(
    replica: &Replica,
    store: &crate::field::FieldStore<S>,
    outputs: Vec<ReplicaOutput>,
    inputs: &mut VecDeque<ReplicaInput>,
    frames: &mut Vec<Vec<u8>>,
    events: &mut Vec<ReplicaOutput>,
) {
    let raw = store.store();
    for output in outputs {
        match output {
            ReplicaOutput::Send(bytes) => frames.push(bytes),
            ReplicaOutput::Load { doc } => {
                let stored = match raw.load(&doc) {
                    Ok(loaded) => loaded.map(|l| Box::new(l.doc)),
                    Err(e) => {
                        tracing::error!(doc_id = %doc, error = %e, "cannot load a document to sync");
                        None
                    }
                };
                let sync_state = replica.server().and_then(|server| {
                    raw.sync_state(&doc, server)
                        .inspect_err(|e| tracing::warn!(doc_id = %doc, error = %e, "unreadable sync state; starting fresh"))
                        .ok()
                        .flatten()
                        .map(|s| s.encode())
                });
                inputs.push_back(ReplicaInput::Loaded {
                    doc,
                    stored,
                    sync_state,
                });
            }
            ReplicaOutput::Save { doc } => {
                let result = replica.document(&doc).map(|am| store.save_synced(&doc, am));
                inputs.push_back(match result {
                    Some(Ok(_)) => ReplicaInput::Saved { doc },
                    Some(Err(e)) => {
                        tracing::error!(doc_id = %doc, error = %e, "cannot save a document received by sync");
                        ReplicaInput::SaveFailed { doc }
                    }
                    None => ReplicaInput::SaveFailed { doc },
                });
            }
            ReplicaOutput::Synced {
                doc,
                ref heads,
                ref sync_state,
                ..
            } => {
                if let Err(e) = raw.acknowledge(&doc, heads) {
                    tracing::warn!(doc_id = %doc, error = %e, "cannot record an acknowledgement");
                }
                if let Some(server) = replica.server()
                    && let Ok(state) = automerge::sync::State::decode(sync_state)
                    && let Err(e) = raw.put_sync_state(&doc, server, &state)
                {
                    tracing::warn!(doc_id = %doc, error = %e, "cannot keep a sync state");
                }
                events.push(output);
            }
            ReplicaOutput::Rejected { doc, ref reason } => {
                if let Err(e) = raw.put_rejection(&doc, reason) {
                    tracing::warn!(doc_id = %doc, error = %e, "cannot record a rejection");
                }
                events.push(output);
            }
            other => events.push(other),
        }
    }
}
