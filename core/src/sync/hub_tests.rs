//! Tests of the hub with simulated phones over an in-memory "network" and store.

use std::collections::{HashMap, VecDeque};

use automerge::Automerge;

use super::connection::{Connection, Received};
use super::hub::{Announcement, ConnId, Hub, HubConfig, HubInput, HubOutput};
use super::session::SyncSession;
use super::wire::{PeerMetadata, WireMessage};
use crate::access::Principal;
use crate::docs::{Case, TypedDoc};
use crate::fixtures::{case as case_doc, officer, officer_elsewhere, pid};
use crate::ids::{DocumentId, PeerId, StorageId};
use crate::store::{DocStore, IndexEntry, MemoryStore};

/// A phone: one connection, its documents and sync sessions, what the server told it.
struct Phone {
    conn: ConnId,
    connection: Connection,
    docs: HashMap<DocumentId, (Automerge, SyncSession)>,
    rejected: Vec<(DocumentId, String)>,
    /// `(sessionId, count)` of each ephemeral message received.
    ephemeral_sessions: Vec<(String, u64)>,
    unavailable: Vec<DocumentId>,
    closed_by_error: Option<String>,
}

impl Phone {
    fn new(conn: ConnId) -> (Self, Vec<u8>) {
        Self::with_metadata(conn, PeerMetadata::default())
    }

    fn with_metadata(conn: ConnId, metadata: PeerMetadata) -> (Self, Vec<u8>) {
        let (connection, join) =
            Connection::client(PeerId::new(&format!("phone-{conn}")).unwrap(), metadata);
        (
            Phone {
                conn,
                connection,
                docs: HashMap::new(),
                rejected: Vec::new(),
                ephemeral_sessions: Vec::new(),
                unavailable: Vec::new(),
                closed_by_error: None,
            },
            join.encode(),
        )
    }

    fn remote(&self) -> PeerId {
        self.connection.remote().cloned().unwrap()
    }

    /// Starts syncing a document it has (push).
    fn push(&mut self, id: DocumentId, doc: Automerge) -> Option<Vec<u8>> {
        let mut session = SyncSession::new();
        let msg = session.generate(&doc);
        self.docs.insert(id, (doc, session));
        msg.map(|data| self.sync_frame(id, data, false))
    }

    /// Asks for a document it does not have.
    fn request(&mut self, id: DocumentId) -> Vec<u8> {
        let doc = Automerge::new();
        let mut session = SyncSession::new();
        let data = session.generate(&doc).unwrap_or_default();
        self.docs.insert(id, (doc, session));
        self.sync_frame(id, data, true)
    }

    fn sync_frame(&self, id: DocumentId, data: Vec<u8>, request: bool) -> Vec<u8> {
        let (sender_id, target_id) = (self.connection.local().clone(), self.remote());
        if request {
            WireMessage::Request {
                document_id: id,
                sender_id,
                target_id,
                data,
            }
        } else {
            WireMessage::Sync {
                document_id: id,
                sender_id,
                target_id,
                data,
            }
        }
        .encode()
    }

    /// The next sync frame for a document this phone holds (after a local edit).
    fn resync(&mut self, id: DocumentId) -> Option<Vec<u8>> {
        let (doc, session) = self.docs.get_mut(&id)?;
        let data = session.generate(doc)?;
        Some(self.sync_frame(id, data, false))
    }

    /// Handles a frame from the server; returns frames to send back.
    fn receive(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        match self.connection.receive(bytes) {
            Ok(Received::Established { .. }) => Vec::new(),
            Ok(Received::Message(WireMessage::Sync {
                document_id, data, ..
            })) => {
                let (doc, session) = self
                    .docs
                    .entry(document_id)
                    .or_insert_with(|| (Automerge::new(), SyncSession::new()));
                session.receive(doc, &data).unwrap();
                session
                    .generate(doc)
                    .map(|d| vec![self.sync_frame(document_id, d, false)])
                    .unwrap_or_default()
            }
            Ok(Received::Message(WireMessage::DocUnavailable { document_id, .. })) => {
                self.unavailable.push(document_id);
                Vec::new()
            }
            Ok(Received::Message(WireMessage::Ephemeral {
                document_id,
                data,
                session_id,
                count,
                ..
            })) => {
                self.ephemeral_sessions.push((session_id, count));
                let text = String::from_utf8_lossy(&data).to_string();
                self.rejected.push((document_id, text));
                Vec::new()
            }
            Ok(Received::Closed { reason }) => {
                self.closed_by_error = Some(reason);
                Vec::new()
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => panic!("phone got a protocol error: {e}"),
        }
    }
}

/// The server side: hub + store + the caller's loop.
struct Server {
    hub: Hub,
    store: MemoryStore,
    /// Frames to deliver to phones.
    outbox: VecDeque<(ConnId, Vec<u8>)>,
    closed: Vec<ConnId>,
    refused: Vec<String>,
    /// When false, saves are held back (to test save-then-ack).
    flush: bool,
    held: Vec<HubInput>,
    /// What discovery announces to the next peer that joins.
    discover: Vec<Announcement>,
    /// Sync states handed out for storage: (document, storage id) → state.
    sync_states: HashMap<(DocumentId, StorageId), Vec<u8>>,
    completed: Vec<ConnId>,
    /// Answers to server writes.
    written: Vec<(u64, Result<(), String>)>,
    /// Documents whose loads are held back (a slow store), and the held answers.
    hold_loads: std::collections::HashSet<DocumentId>,
    held_loads: Vec<HubInput>,
}

impl Server {
    fn new() -> Self {
        Self::with_session("session-1")
    }

    /// A server whose hub signs its ephemeral messages with `session_id`.
    fn with_session(session_id: &str) -> Self {
        Server {
            hub: Hub::new(HubConfig {
                peer_id: PeerId::new("server").unwrap(),
                metadata: PeerMetadata::default(),
                max_message_bytes: 1 << 20,
                max_idle_docs: 2,
                session_id: session_id.to_owned(),
                announce_window: 2,
            }),
            store: MemoryStore::new(),
            outbox: VecDeque::new(),
            closed: Vec::new(),
            refused: Vec::new(),
            flush: true,
            held: Vec::new(),
            discover: Vec::new(),
            sync_states: HashMap::new(),
            completed: Vec::new(),
            written: Vec::new(),
            hold_loads: std::collections::HashSet::new(),
            held_loads: Vec::new(),
        }
    }

    /// Answers the held loads.
    fn release_loads(&mut self) {
        self.hold_loads.clear();
        for input in std::mem::take(&mut self.held_loads) {
            self.input(input);
        }
    }

    fn input(&mut self, input: HubInput) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for output in self.hub.handle(input) {
                match output {
                    HubOutput::Send { conn, bytes } => self.outbox.push_back((conn, bytes)),
                    HubOutput::Close { conn, .. } => self.closed.push(conn),
                    HubOutput::Refused { reason, .. } => self.refused.push(reason),
                    HubOutput::Joined { conn, .. } => {
                        let docs = std::mem::take(&mut self.discover);
                        queue.push_back(HubInput::Discovered { conn, docs });
                    }
                    HubOutput::DiscoveryComplete { conn } => self.completed.push(conn),
                    HubOutput::Written { id, result, .. } => {
                        self.written.push((id, result));
                    }
                    HubOutput::StoreSyncState {
                        doc,
                        storage_id,
                        state,
                    } => {
                        self.sync_states.insert((doc, storage_id), state);
                    }
                    HubOutput::Load { doc } => {
                        let stored = self.store.load(&doc).unwrap().map(|l| Box::new(l.doc));
                        let loaded = HubInput::Loaded { doc, stored };
                        if self.hold_loads.contains(&doc) {
                            self.held_loads.push(loaded);
                        } else {
                            queue.push_back(loaded);
                        }
                    }
                    HubOutput::Save { doc, ticket, .. } => {
                        let am = self.hub.document(&doc).unwrap();
                        let kind = self.hub.header(&doc).unwrap().kind.as_str();
                        self.store.save(&doc, am, &IndexEntry::new(kind)).unwrap();
                        if self.flush {
                            queue.push_back(HubInput::Saved { doc, ticket });
                        } else {
                            self.held.push(HubInput::Saved { doc, ticket });
                        }
                    }
                }
            }
        }
    }

    /// Heads of the stored copy of a document.
    fn stored_heads(&self, id: &DocumentId) -> Vec<automerge::ChangeHash> {
        self.store.load(id).unwrap().unwrap().doc.get_heads()
    }

    fn connect(&mut self, conn: ConnId, principal: Principal) -> Phone {
        self.connect_as(conn, principal, PeerMetadata::default())
    }

    fn connect_with_storage(
        &mut self,
        conn: ConnId,
        principal: Principal,
        storage: &StorageId,
    ) -> Phone {
        let metadata = PeerMetadata {
            storage_id: Some(storage.clone()),
            ..PeerMetadata::default()
        };
        self.connect_as(conn, principal, metadata)
    }

    fn connect_as(&mut self, conn: ConnId, principal: Principal, metadata: PeerMetadata) -> Phone {
        self.input(HubInput::Connected {
            conn,
            principal,
            device: None,
        });
        let (mut phone, join) = Phone::with_metadata(conn, metadata);
        self.input(HubInput::Frame { conn, bytes: join });
        self.deliver(&mut [&mut phone]);
        phone
    }

    /// Delivers frames both ways until nothing moves.
    fn deliver(&mut self, phones: &mut [&mut Phone]) {
        for _ in 0..10_000 {
            let Some((conn, bytes)) = self.outbox.pop_front() else {
                return;
            };
            let Some(phone) = phones.iter_mut().find(|p| p.conn == conn) else {
                continue;
            };
            for reply in phone.receive(&bytes) {
                self.input(HubInput::Frame { conn, bytes: reply });
            }
        }
        panic!("the exchange did not go quiet");
    }

    fn send(&mut self, phone: &mut Phone, frame: Option<Vec<u8>>) {
        if let Some(bytes) = frame {
            self.input(HubInput::Frame {
                conn: phone.conn,
                bytes,
            });
        }
        self.deliver(&mut [phone]);
    }
}

#[test]
fn an_officer_pushes_a_case_and_a_teammate_fetches_it() {
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let case = case_doc(1, "officer:wang", "team-1");
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);
    let stored = server.store.load(&id).unwrap().expect("stored").doc;
    assert_eq!(stored.get_heads(), case.automerge().get_heads());
    assert!(wang.rejected.is_empty());

    let mut li = server.connect(2, officer("officer:li", "team-1"));
    let frame = li.request(id);
    server.send(&mut li, Some(frame));
    assert_eq!(li.docs[&id].0.get_heads(), case.automerge().get_heads());
    let opened = TypedDoc::<Case>::open(id, li.docs[&id].0.clone()).unwrap();
    assert_eq!(opened.body().unwrap(), case.body().unwrap());
}

#[test]
fn changes_are_acknowledged_only_after_they_are_flushed() {
    let mut server = Server::new();
    server.flush = false;
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let case = case_doc(2, "officer:wang", "team-1");
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);
    // Not flushed yet: the phone has not been told the server has its heads.
    let shared = wang.docs[&id].1.shared_heads().to_vec();
    assert_ne!(shared, case.automerge().get_heads());
    // Flushed: the acknowledgement arrives.
    for input in std::mem::take(&mut server.held) {
        server.input(input);
    }
    server.flush = true;
    server.deliver(&mut [&mut wang]);
    assert_eq!(
        wang.docs[&id].1.shared_heads(),
        &case.automerge().get_heads()[..]
    );
}

#[test]
fn another_teams_header_is_refused_and_nothing_is_stored() {
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let forged = case_doc(3, "officer:wang", "team-2");
    let id = forged.id();
    let frame = wang.push(id, forged.automerge().clone());
    server.send(&mut wang, frame);
    assert!(server.store.load(&id).unwrap().is_none());
    assert_eq!(wang.rejected.len(), 1, "{:?}", wang.rejected);
    assert!(wang.rejected[0].1.contains("rejected"));
    // Someone else's name as creator is refused too.
    let impostor = case_doc(4, "officer:li", "team-1");
    let frame = wang.push(impostor.id(), impostor.automerge().clone());
    server.send(&mut wang, frame);
    assert!(server.store.load(&impostor.id()).unwrap().is_none());
    assert_eq!(server.refused.len(), 2);
}

#[test]
fn rejections_carry_the_session_id_the_hub_was_given() {
    // automerge-repo peers drop an ephemeral message whose (sessionId, count) is not above
    // what they saw from that session, across connections: each hub instance (server start)
    // needs its own session id, since its count starts again at 1.
    let mut before = Server::with_session("start-1");
    let mut wang = before.connect(1, officer("officer:wang", "team-1"));
    for seed in [20, 21] {
        let forged = case_doc(seed, "officer:wang", "team-2");
        let frame = wang.push(forged.id(), forged.automerge().clone());
        before.send(&mut wang, frame);
    }
    let mut after = Server::with_session("start-2");
    let mut wang_again = after.connect(1, officer("officer:wang", "team-1"));
    let forged = case_doc(22, "officer:wang", "team-2");
    let frame = wang_again.push(forged.id(), forged.automerge().clone());
    after.send(&mut wang_again, frame);
    assert_eq!(
        wang.ephemeral_sessions,
        [("start-1".to_owned(), 1), ("start-1".to_owned(), 2)]
    );
    assert_eq!(wang_again.ephemeral_sessions, [("start-2".to_owned(), 1)]);
}

#[test]
fn an_enterprise_cannot_push_changes_to_a_case() {
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let case = case_doc(5, "officer:wang", "team-1");
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);
    let before = server.store.load(&id).unwrap().unwrap().doc.get_heads();

    let mut unit = server.connect(
        2,
        Principal::Enterprise {
            id: pid("unit:a"),
            unit: "914403001922038216".parse().unwrap(),
        },
    );
    // The enterprise got the bytes somehow and edits them.
    let mut edited = case;
    edited
        .update(&pid("unit:a"), 0, |c| {
            c.findings = "篡改".into();
            Ok(())
        })
        .unwrap();
    let frame = unit.push(id, edited.automerge().clone());
    server.send(&mut unit, frame);
    assert_eq!(server.stored_heads(&id), before);
    // It is told: unavailable (it may not even read it) or rejected — never accepted.
    assert!(
        !unit.unavailable.is_empty() || !unit.rejected.is_empty(),
        "the enterprise was not told"
    );
}

#[test]
fn unreadable_and_unknown_documents_look_the_same() {
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let case = case_doc(6, "officer:wang", "team-1");
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);

    let mut zhou = server.connect(3, officer_elsewhere("officer:zhou"));
    let frame = zhou.request(id);
    server.send(&mut zhou, Some(frame));
    let unknown = DocumentId::from_bytes([0xab; 16]);
    let frame = zhou.request(unknown);
    server.send(&mut zhou, Some(frame));
    assert_eq!(zhou.unavailable, [id, unknown]);
    assert!(zhou.docs[&id].0.get_heads().is_empty(), "nothing leaked");
}

#[test]
fn a_header_change_is_refused_and_the_stored_state_stays() {
    use automerge::transaction::Transactable;
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let case = case_doc(7, "officer:wang", "team-1");
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);
    let before = server.store.load(&id).unwrap().unwrap().doc.get_heads();
    // The phone edits the header behind the API's back and syncs.
    let (doc, _) = wang.docs.get_mut(&id).unwrap();
    let header = match automerge::ReadDoc::get(doc, automerge::ROOT, "header").unwrap() {
        Some((_, h)) => h,
        None => unreachable!(),
    };
    doc.transact(|tx| tx.put(&header, "team", "team-2"))
        .unwrap();
    let frame = wang.resync(id);
    server.send(&mut wang, frame);
    assert!(
        wang.rejected.iter().any(|(_, r)| r.contains("header")),
        "{:?}",
        wang.rejected
    );
    assert_eq!(server.stored_heads(&id), before);
    // The document is still served, in its stored state.
    let mut li = server.connect(2, officer("officer:li", "team-1"));
    let frame = li.request(id);
    server.send(&mut li, Some(frame));
    assert_eq!(li.docs[&id].0.get_heads(), before);
}

#[test]
fn malformed_input_closes_only_that_connection() {
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    server.input(HubInput::Connected {
        conn: 9,
        principal: officer("officer:bad", "team-1"),
        device: None,
    });
    server.input(HubInput::Frame {
        conn: 9,
        bytes: vec![0xff, 0x13, 0x37],
    });
    assert_eq!(server.closed, [9]);
    // Oversized frames too.
    server.input(HubInput::Connected {
        conn: 10,
        principal: officer("officer:bad", "team-1"),
        device: None,
    });
    server.input(HubInput::Frame {
        conn: 10,
        bytes: vec![0; (1 << 20) + 1],
    });
    assert_eq!(server.closed, [9, 10]);
    // Everyone else is still served.
    let case = case_doc(8, "officer:wang", "team-1");
    let frame = wang.push(case.id(), case.automerge().clone());
    server.send(&mut wang, frame);
    assert!(server.store.load(&case.id()).unwrap().is_some());
}

#[test]
fn a_device_token_only_works_with_that_devices_storage_id() {
    use crate::ids::StorageId;
    let device = StorageId::new("c4d691a5-76af-4f9a-9550-48c572aedc29").unwrap();
    for (announced, accepted) in [
        (Some(device.clone()), true),
        (Some(StorageId::new("someone-else").unwrap()), false),
        (None, false),
    ] {
        let mut server = Server::new();
        server.input(HubInput::Connected {
            conn: 1,
            principal: officer("officer:wang", "team-1"),
            device: Some(device.clone()),
        });
        let (_, join) = Connection::client(
            PeerId::new("phone").unwrap(),
            PeerMetadata {
                storage_id: announced,
                ..PeerMetadata::default()
            },
        );
        server.input(HubInput::Frame {
            conn: 1,
            bytes: join.encode(),
        });
        assert_eq!(server.closed.is_empty(), accepted);
    }
}

#[test]
fn deleting_a_case_event_is_refused_even_from_a_writer() {
    use crate::docs::Stage;
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let mut case = case_doc(11, "officer:wang", "team-1");
    let by = pid("officer:wang");
    case.update(&by, 0, |c| {
        c.record_stage(Stage::Registered, 0, by.clone(), "")
    })
    .unwrap();
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);
    let before = server.store.load(&id).unwrap().unwrap().doc.get_heads();
    // A raw change on the phone deletes the registration event.
    let (doc, _) = wang.docs.get_mut(&id).unwrap();
    let body = match doc.get(automerge::ROOT, "body").unwrap() {
        Some((_, b)) => b,
        None => unreachable!(),
    };
    let events = match doc.get(&body, "events").unwrap() {
        Some((_, e)) => e,
        None => unreachable!(),
    };
    doc.transact(|tx| tx.delete(&events, 0usize)).unwrap();
    let frame = wang.resync(id);
    server.send(&mut wang, frame);
    assert!(
        wang.rejected.iter().any(|(_, r)| r.contains("append-only")),
        "{:?}",
        wang.rejected
    );
    assert_eq!(server.stored_heads(&id), before);
    // Appending an event is still accepted.
    let mut li = server.connect(2, officer("officer:li", "team-1"));
    let frame = li.request(id);
    server.send(&mut li, Some(frame));
    let mut typed = TypedDoc::<Case>::open(id, li.docs[&id].0.clone()).unwrap();
    let li_id = pid("officer:li");
    typed
        .update(&li_id, 0, |c| {
            c.record_stage(Stage::Investigating, 0, li_id.clone(), "")
        })
        .unwrap();
    li.docs.get_mut(&id).unwrap().0 = typed.into_automerge();
    let frame = li.resync(id);
    server.send(&mut li, frame);
    let stored = server.store.load(&id).unwrap().unwrap().doc;
    let stored = TypedDoc::<Case>::open(id, stored).unwrap().body().unwrap();
    assert_eq!(stored.events.len(), 2);
}

#[test]
fn an_announced_document_reaches_a_reader_who_never_asked() {
    let mut server = Server::new();
    // A case in the store that this teammate never asked for: discovery on connect announces
    // what changed for the peer, and the hub starts the sync itself.
    let case = case_doc(12, "officer:wang", "team-1");
    let id = case.id();
    server
        .store
        .save(&id, case.automerge(), &IndexEntry::new("case"))
        .unwrap();
    server.discover = vec![announce(id)];
    let li = server.connect(1, officer("officer:li", "team-1"));
    assert_eq!(li.docs[&id].0.get_heads(), case.automerge().get_heads());
    assert_eq!(server.completed, [1]);
    // Not announced to someone who may not read it; unknown documents are ignored; discovery
    // still completes.
    server.discover = vec![announce(id), announce(DocumentId::from_bytes([0xcd; 16]))];
    let zhou = server.connect(2, officer_elsewhere("officer:zhou"));
    assert!(zhou.docs.is_empty());
    assert_eq!(server.completed, [1, 2]);
}

fn announce(doc: DocumentId) -> Announcement {
    Announcement {
        doc,
        sync_state: None,
    }
}

#[test]
fn discovery_is_paced_by_the_window_and_reports_the_count_in_the_handshake() {
    let mut server = Server::new();
    let mut ids = Vec::new();
    for n in 0..5u64 {
        let case = case_doc(40 + n, "officer:wang", "team-1");
        server
            .store
            .save(&case.id(), case.automerge(), &IndexEntry::new("case"))
            .unwrap();
        ids.push(case.id());
    }
    server.discover = ids.iter().copied().map(announce).collect();
    server.input(HubInput::Connected {
        conn: 1,
        principal: officer("officer:li", "team-1"),
        device: None,
    });
    let (mut li, join) = Phone::new(1);
    server.input(HubInput::Frame {
        conn: 1,
        bytes: join,
    });
    // The handshake reply, then only the window's worth of announcements.
    let first: Vec<_> = server.outbox.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(first.len(), 1 + 2, "reply + a window of 2");
    match WireMessage::decode(&first[0]).unwrap() {
        WireMessage::Peer { peer_metadata, .. } => {
            assert_eq!(peer_metadata.unwrap().announced, Some(5));
        }
        other => panic!("expected the handshake reply, got {other:?}"),
    }
    server.deliver(&mut [&mut li]);
    for id in &ids {
        assert_eq!(li.docs[id].0.get_heads(), server.stored_heads(id));
    }
    assert_eq!(server.completed, [1]);
}

#[test]
fn a_restored_sync_state_delivers_an_edit_in_one_round_trip() {
    let mut server = Server::new();
    let case = case_doc(50, "officer:wang", "team-1");
    let id = case.id();
    server
        .store
        .save(&id, case.automerge(), &IndexEntry::new("case"))
        .unwrap();
    // Li receives the case with a storage id: the hub hands out the state to keep.
    let storage = StorageId::new("li-phone").unwrap();
    server.discover = vec![announce(id)];
    let mut li = server.connect_with_storage(1, officer("officer:li", "team-1"), &storage);
    // Kept under the key of (Li, her storage id): another principal announcing the same
    // storage id would find nothing of hers.
    let key = super::hub::peer_storage_key(&pid("officer:li"), &storage);
    assert_ne!(
        key,
        super::hub::peer_storage_key(&pid("enterprise:1"), &storage)
    );
    assert_eq!(
        key,
        super::hub::peer_storage_key(&pid("officer:li"), &storage)
    );
    let state = server.sync_states[&(id, key)].clone();
    assert_eq!(
        SyncSession::restore(&state).unwrap().shared_heads(),
        &server.stored_heads(&id)[..]
    );
    server.input(HubInput::Disconnected { conn: 1 });
    // The server restarts on the same store; an edit is stored meanwhile (as from Wang);
    // Li reconnects with the same storage id.
    let mut server = Server {
        store: std::mem::take(&mut server.store),
        ..Server::new()
    };
    let mut edited = server.store.load(&id).unwrap().unwrap().doc;
    edited
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            use automerge::transaction::Transactable;
            tx.put(automerge::ROOT, "touched", true)?;
            Ok(())
        })
        .unwrap();
    server
        .store
        .save(&id, &edited, &IndexEntry::new("case"))
        .unwrap();
    server.discover = vec![Announcement {
        doc: id,
        sync_state: Some(state),
    }];
    server.input(HubInput::Connected {
        conn: 2,
        principal: officer("officer:li", "team-1"),
        device: None,
    });
    li.conn = 2;
    let (_, join) = Phone::new(2);
    server.input(HubInput::Frame {
        conn: 2,
        bytes: join,
    });
    // The reply and one sync message that already carries the edit.
    let frames: Vec<_> = server.outbox.drain(..).map(|(_, b)| b).collect();
    assert_eq!(frames.len(), 2);
    let WireMessage::Sync { data, .. } = WireMessage::decode(&frames[1]).unwrap() else {
        panic!("expected a sync message");
    };
    let message = automerge::sync::Message::decode(&data).unwrap();
    assert_eq!(
        message.changes.len(),
        1,
        "the edit travels in the first message"
    );
}

/// The county's rules document, as the server creates it.
fn rules_doc(id_text: &str, server: &str) -> TypedDoc<crate::docs::RulesVersions> {
    use crate::docs::{
        DocKind, Header, RulesVersion, RulesVersions, SCHEMA_VERSION, rules_document_id,
    };
    use crate::fixtures::county;
    use crate::rules::RulesConfig;
    let config = RulesConfig {
        id: id_text.to_owned(),
        ..RulesConfig::default()
    };
    TypedDoc::create(
        rules_document_id(&county()),
        automerge::ActorId::random(),
        &Header {
            kind: DocKind::Rules,
            schema: SCHEMA_VERSION,
            scope: county(),
            team: None,
            unit: None,
            parent: None,
            created_by: pid(server),
            created_at_ms: 1,
        },
        &RulesVersions {
            versions: vec![RulesVersion::of(&config, 1).unwrap()],
        },
    )
    .unwrap()
}

fn server_principal() -> Principal {
    Principal::Server {
        id: pid("server"),
        scope: crate::fixtures::county(),
    }
}

#[test]
fn server_writes_create_and_update_its_documents_and_reach_connected_readers_live() {
    use crate::docs::{RulesVersion, RulesVersions};
    use crate::rules::RulesConfig;
    let mut server = Server::new();
    // Li is connected before the document exists.
    let mut li = server.connect(1, officer("officer:li", "team-1"));
    let mut doc = rules_doc("yangcheng-2026", "server");
    let id = doc.id();
    server.input(HubInput::Write {
        id: 1,
        doc: id,
        changes: doc.automerge().save(),
        principal: server_principal(),
    });
    assert_eq!(server.written, [(1, Ok(()))]);
    server.deliver(&mut [&mut li]);
    assert_eq!(li.docs[&id].0.get_heads(), doc.automerge().get_heads());
    // A new version: appended, saved, fanned out to Li who syncs it.
    let heads = doc.automerge().get_heads();
    doc.update(&pid("server"), 2, |b: &mut RulesVersions| {
        let config = RulesConfig {
            id: "yangcheng-2027".to_owned(),
            tolerance_kg: 500,
            ..RulesConfig::default()
        };
        b.versions.push(RulesVersion::of(&config, 2)?);
        Ok(())
    })
    .unwrap();
    server.input(HubInput::Write {
        id: 2,
        doc: id,
        changes: doc.automerge().save_after(&heads),
        principal: server_principal(),
    });
    assert_eq!(server.written[1], (2, Ok(())));
    server.deliver(&mut [&mut li]);
    assert_eq!(li.docs[&id].0.get_heads(), doc.automerge().get_heads());
    let stored = TypedDoc::<RulesVersions>::open(id, server.store.load(&id).unwrap().unwrap().doc)
        .unwrap()
        .body()
        .unwrap();
    assert_eq!(stored.in_force().unwrap().id, "yangcheng-2027");
    assert_eq!(
        stored
            .version("yangcheng-2026")
            .unwrap()
            .config()
            .unwrap()
            .tolerance_kg,
        0
    );
    // Officers read it but cannot write it.
    let mut edit = li.docs[&id].0.clone();
    edit.transact::<_, _, automerge::AutomergeError>(|tx| {
        use automerge::transaction::Transactable;
        tx.put(automerge::ROOT, "x", 1)?;
        Ok(())
    })
    .unwrap();
    li.docs.get_mut(&id).unwrap().0 = edit;
    let frame = li.resync(id);
    server.send(&mut li, frame);
    assert!(
        server.refused.iter().any(|r| r.contains("no write rights")),
        "{:?}",
        server.refused
    );
}

#[test]
fn only_the_server_may_create_a_rules_document() {
    let mut server = Server::new();
    // A supervisor's attempt through the write path, and an officer's through sync.
    let forged = rules_doc("forged", "supervisor:zhao");
    server.input(HubInput::Write {
        id: 7,
        doc: forged.id(),
        changes: forged.automerge().save(),
        principal: Principal::Supervisor {
            id: pid("supervisor:zhao"),
            scope: crate::fixtures::county(),
        },
    });
    assert!(
        matches!(&server.written[..], [(7, Err(_))]),
        "{:?}",
        server.written
    );
    let by_officer = rules_doc("forged", "officer:wang");
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    let frame = wang.push(by_officer.id(), by_officer.automerge().clone());
    server.send(&mut wang, frame);
    assert!(!server.store.contains(&by_officer.id()).unwrap());
    assert!(
        server
            .refused
            .iter()
            .any(|r| r.contains("not allowed to create"))
    );
}

#[test]
fn a_response_to_a_notice_that_does_not_exist_is_refused_at_once() {
    use crate::docs::{DocKind, Header, Response, SCHEMA_VERSION};
    let mut server = Server::new();
    let unit: crate::uscc::Uscc = "914403001922038216".parse().unwrap();
    let response = TypedDoc::create(
        DocumentId::from_bytes([0x31; 16]),
        automerge::ActorId::random(),
        &Header {
            kind: DocKind::Response,
            schema: SCHEMA_VERSION,
            scope: crate::fixtures::county(),
            team: None,
            unit: Some(unit.clone()),
            parent: Some(DocumentId::from_bytes([0x32; 16])),
            created_by: pid("enterprise:1"),
            created_at_ms: 1,
        },
        &Response {
            statement: "已整改".into(),
            evidence: Vec::new(),
            submitted_at_ms: Some(1),
        },
    )
    .unwrap();
    let mut firm = server.connect(
        1,
        Principal::Enterprise {
            id: pid("enterprise:1"),
            unit,
        },
    );
    let frame = firm.push(response.id(), response.automerge().clone());
    server.send(&mut firm, frame);
    assert!(
        server
            .refused
            .iter()
            .any(|r| r.contains("not allowed to create")),
        "{:?}",
        server.refused
    );
    assert!(!server.store.contains(&response.id()).unwrap());
    assert_eq!(firm.rejected.len(), 1, "the enterprise is told");
}

#[test]
fn a_new_case_whose_body_does_not_read_is_refused_and_so_is_a_rewritten_case_number() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let mut server = Server::new();
    let mut wang = server.connect(1, officer("officer:wang", "team-1"));
    // A valid header, but events hold a number: once stored, no rule could be checked.
    let case = case_doc(61, "officer:wang", "team-1");
    let mut raw = case.automerge().clone();
    let body = match raw.get(automerge::ROOT, "body").unwrap() {
        Some((_, b)) => b,
        None => unreachable!(),
    };
    let events = match raw.get(&body, "events").unwrap() {
        Some((_, e)) => e,
        None => unreachable!(),
    };
    raw.transact(|tx| tx.insert(&events, 0usize, 5)).unwrap();
    let frame = wang.push(case.id(), raw);
    server.send(&mut wang, frame);
    assert!(!server.store.contains(&case.id()).unwrap());
    assert!(
        wang.rejected
            .iter()
            .any(|(_, r)| r.contains("kind's rules")),
        "{:?}",
        wang.rejected
    );
    // A stored case whose number a raw change rewrites: refused, the stored one stays.
    let case = case_doc(62, "officer:wang", "team-1");
    let id = case.id();
    let frame = wang.push(id, case.automerge().clone());
    server.send(&mut wang, frame);
    let before = server.stored_heads(&id);
    let (doc, _) = wang.docs.get_mut(&id).unwrap();
    let body = match doc.get(automerge::ROOT, "body").unwrap() {
        Some((_, b)) => b,
        None => unreachable!(),
    };
    doc.transact(|tx| tx.put(&body, "rules_id", "forged"))
        .unwrap();
    let frame = wang.resync(id);
    server.send(&mut wang, frame);
    assert!(
        wang.rejected
            .iter()
            .any(|(_, r)| r.contains("cannot change")),
        "{:?}",
        wang.rejected
    );
    assert_eq!(server.stored_heads(&id), before);
}

/// A review naming `parent` as what it reviews, by supervisor Liu.
fn review_of(id: DocumentId, parent: DocumentId) -> TypedDoc<crate::docs::Review> {
    use crate::docs::{DocKind, Header, Review, ReviewDecision, SCHEMA_VERSION};
    TypedDoc::create(
        id,
        automerge::ActorId::random(),
        &Header {
            kind: DocKind::Review,
            schema: SCHEMA_VERSION,
            scope: crate::fixtures::county(),
            team: None,
            unit: None,
            parent: Some(parent),
            created_by: pid("supervisor:liu"),
            created_at_ms: 1,
        },
        &Review {
            decision: ReviewDecision::Accept,
            comments: "".into(),
            reviewed_at_ms: 1,
        },
    )
    .unwrap()
}

fn supervisor() -> Principal {
    Principal::Supervisor {
        id: pid("supervisor:liu"),
        scope: crate::fixtures::county(),
    }
}

#[test]
fn parent_cycles_are_refused_and_stored_ones_never_hang_a_request() {
    let mut server = Server::new();
    let (a, b) = (
        DocumentId::from_bytes([0x41; 16]),
        DocumentId::from_bytes([0x42; 16]),
    );
    // Through sync: a review of itself, and a review of a document that is not there.
    let mut liu = server.connect(1, supervisor());
    for doc in [
        review_of(a, a),
        review_of(b, DocumentId::from_bytes([0x43; 16])),
    ] {
        let frame = liu.push(doc.id(), doc.automerge().clone());
        server.send(&mut liu, frame);
        assert!(!server.store.contains(&doc.id()).unwrap());
    }
    assert_eq!(liu.rejected.len(), 2, "{:?}", liu.rejected);
    // Stored before these checks (written straight into the store): a self-cycle and a
    // two-cycle. Requests for them are answered, not left waiting.
    let mut server = Server::new();
    for doc in [review_of(a, b), review_of(b, a)] {
        server
            .store
            .save(&doc.id(), doc.automerge(), &IndexEntry::new("review"))
            .unwrap();
    }
    let c = DocumentId::from_bytes([0x44; 16]);
    let own = review_of(c, c);
    server
        .store
        .save(&c, own.automerge(), &IndexEntry::new("review"))
        .unwrap();
    let mut liu = server.connect(1, supervisor());
    for id in [a, b, c] {
        let frame = liu.request(id);
        server.send(&mut liu, Some(frame));
        let answered = liu.unavailable.contains(&id)
            || liu
                .docs
                .get(&id)
                .is_some_and(|(d, _)| !d.get_heads().is_empty());
        assert!(answered, "no answer for {id}");
    }
}

#[test]
fn a_peer_that_lacks_many_changes_gets_them_in_messages_within_the_limit() {
    // Li has the case; while she is away the server stores 300 changes of ~400 bytes (as a
    // day's watch list grows by one change per upload). On her reconnect the restored session
    // would put all ~120 kB in its first message; every message must stay within the limit.
    let limit = 16 * 1024;
    let hub_config = |session: &str| HubConfig {
        peer_id: PeerId::new("server").unwrap(),
        metadata: PeerMetadata::default(),
        max_message_bytes: limit,
        max_idle_docs: 2,
        session_id: session.to_owned(),
        announce_window: 2,
    };
    let mut server = Server {
        hub: Hub::new(hub_config("s1")),
        ..Server::new()
    };
    let case = case_doc(60, "officer:wang", "team-1");
    let id = case.id();
    server
        .store
        .save(&id, case.automerge(), &IndexEntry::new("case"))
        .unwrap();
    let storage = StorageId::new("li-phone").unwrap();
    server.discover = vec![announce(id)];
    let mut li = server.connect_with_storage(1, officer("officer:li", "team-1"), &storage);
    let key = super::hub::peer_storage_key(&pid("officer:li"), &storage);
    let state = server.sync_states[&(id, key)].clone();
    server.input(HubInput::Disconnected { conn: 1 });

    let mut server = Server {
        store: std::mem::take(&mut server.store),
        hub: Hub::new(hub_config("s2")),
        ..Server::new()
    };
    let mut edited = server.store.load(&id).unwrap().unwrap().doc;
    for i in 0..300 {
        edited = edited.with_actor(automerge::ActorId::random());
        edited
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                use automerge::transaction::Transactable;
                // Incompressible, like a watch-list entry's record id, times and masses.
                let text: String = (0..12)
                    .map(|_| automerge::ActorId::random().to_hex_string())
                    .collect();
                tx.put(automerge::ROOT, format!("note-{i}"), text)?;
                Ok(())
            })
            .unwrap();
    }
    let lacking: usize = edited
        .get_changes(&case.automerge().get_heads())
        .iter()
        .map(|c| c.raw_bytes().len())
        .sum();
    assert!(lacking > 4 * limit, "{lacking} bytes of changes");
    server
        .store
        .save(&id, &edited, &IndexEntry::new("case"))
        .unwrap();
    server.discover = vec![Announcement {
        doc: id,
        sync_state: Some(state),
    }];
    server.input(HubInput::Connected {
        conn: 2,
        principal: officer("officer:li", "team-1"),
        device: None,
    });
    // Li's phone, reconnected: the documents it kept, a new connection.
    let (mut phone, join) = Phone::with_metadata(
        2,
        PeerMetadata {
            storage_id: Some(storage.clone()),
            ..PeerMetadata::default()
        },
    );
    phone.docs = std::mem::take(&mut li.docs);
    let mut li = phone;
    server.input(HubInput::Frame {
        conn: 2,
        bytes: join,
    });
    let mut frames = 0;
    for _ in 0..10_000 {
        let Some((conn, bytes)) = server.outbox.pop_front() else {
            break;
        };
        assert!(
            bytes.len() <= limit,
            "a message of {} bytes exceeds the limit of {limit}",
            bytes.len()
        );
        frames += 1;
        for reply in li.receive(&bytes) {
            server.input(HubInput::Frame { conn, bytes: reply });
        }
    }
    assert!(server.outbox.is_empty(), "the exchange did not go quiet");
    assert!(frames >= 3, "{frames} frames");
    assert_eq!(li.docs[&id].0.get_heads(), edited.get_heads());
    assert!(server.closed.is_empty());
}

#[test]
fn a_supervisors_review_written_through_the_hub_waits_for_its_parent_to_load() {
    // The case is in the store but not in the hub's memory (a restarted server): the write of
    // a review of it must load the case first to know it may be reviewed.
    let mut server = Server::new();
    let case = crate::fixtures::case(1, "officer:wang", "team-1");
    server
        .store
        .save(&case.id(), case.automerge(), &IndexEntry::new("case"))
        .unwrap();
    let review = review_of(DocumentId::from_bytes([0x51; 16]), case.id());
    server.input(HubInput::Write {
        id: 1,
        doc: review.id(),
        changes: review.automerge().save(),
        principal: supervisor(),
    });
    assert_eq!(server.written, [(1, Ok(()))]);
    assert!(server.store.contains(&review.id()).unwrap());
    // A review of a document that does not exist is refused, not left waiting.
    let orphan = review_of(
        DocumentId::from_bytes([0x52; 16]),
        DocumentId::from_bytes([0x53; 16]),
    );
    server.input(HubInput::Write {
        id: 2,
        doc: orphan.id(),
        changes: orphan.automerge().save(),
        principal: supervisor(),
    });
    assert!(
        matches!(&server.written[1], (2, Err(reason)) if reason.contains("not allowed")),
        "{:?}",
        server.written
    );
    assert!(!server.store.contains(&orphan.id()).unwrap());
}

/// A notice of team-1 to a unit, its enterprise, and the unit's submitted response to it, all
/// in the county.
fn notice_and_response() -> (
    TypedDoc<crate::docs::Notice>,
    Principal,
    TypedDoc<crate::docs::Response>,
) {
    use crate::docs::{DocKind, Header, Notice, Response, SCHEMA_VERSION};
    let unit: crate::uscc::Uscc = "914403001922038216".parse().unwrap();
    let notice = TypedDoc::create(
        DocumentId::from_bytes([0x61; 16]),
        automerge::ActorId::random(),
        &Header {
            kind: DocKind::Notice,
            unit: Some(unit.clone()),
            ..crate::fixtures::case_header("officer:wang", "team-1")
        },
        &Notice {
            case: DocumentId::from_bytes([0x60; 16]),
            unit_name: "阳城县某煤矿".to_owned(),
            legal_representative: None,
            facts: "放行超限车辆出场".into(),
            legal_basis: "《公路安全保护条例》第六十五条".into(),
            deadline: crate::docs::Deadline::Immediately,
            issued_by: crate::fixtures::joint_patrol(),
            issued_at_ms: 1,
            review_body: "阳城县人民政府".to_owned(),
            appeal_body: "阳城县人民法院".to_owned(),
            photos: Vec::new(),
        },
    )
    .unwrap();
    let firm = Principal::Enterprise {
        id: pid("enterprise:1"),
        unit: unit.clone(),
    };
    let response = TypedDoc::create(
        DocumentId::from_bytes([0x62; 16]),
        automerge::ActorId::random(),
        &Header {
            kind: DocKind::Response,
            schema: SCHEMA_VERSION,
            scope: crate::fixtures::county(),
            team: None,
            unit: Some(unit),
            parent: Some(notice.id()),
            created_by: pid("enterprise:1"),
            created_at_ms: 2,
        },
        &Response {
            statement: "已整改".into(),
            evidence: Vec::new(),
            submitted_at_ms: Some(2),
        },
    )
    .unwrap();
    (notice, firm, response)
}

/// Asks for `id` as `phone` and tells whether the document came (not "unavailable").
fn fetches(server: &mut Server, phone: &mut Phone, id: DocumentId) -> bool {
    let frame = phone.request(id);
    server.send(phone, Some(frame));
    !phone.unavailable.contains(&id)
        && phone
            .docs
            .get(&id)
            .is_some_and(|(d, _)| !d.get_heads().is_empty())
}

#[test]
fn a_review_written_after_its_notice_left_memory_still_reaches_the_notices_officers() {
    // The enterprise's phone reads its response: the hub loads it and its notice. The
    // supervisor's review is written next; loading it pushes the notice out of memory (the
    // bound is two documents) while the response stays. Wang, whose team issued the notice,
    // reads reviews of responses to it (discovery announces it from the log): the hub must not
    // answer "unavailable" because the notice is no longer in memory.
    let mut server = Server::new();
    let (notice, firm, response) = notice_and_response();
    for (id, doc, kind) in [
        (notice.id(), notice.automerge(), "notice"),
        (response.id(), response.automerge(), "response"),
    ] {
        server.store.save(&id, doc, &IndexEntry::new(kind)).unwrap();
    }
    let mut phone = server.connect(1, firm);
    assert!(fetches(&mut server, &mut phone, response.id()));
    let review = review_of(DocumentId::from_bytes([0x63; 16]), response.id());
    server.input(HubInput::Write {
        id: 1,
        doc: review.id(),
        changes: review.automerge().save(),
        principal: supervisor(),
    });
    assert_eq!(server.written, [(1, Ok(()))]);
    let mut wang = server.connect(2, officer("officer:wang", "team-1"));
    assert!(
        fetches(&mut server, &mut wang, review.id()),
        "{:?}",
        wang.unavailable
    );
    assert!(fetches(&mut server, &mut phone, review.id()));
}

#[test]
fn reviews_written_while_their_response_waits_for_its_notice_wait_too() {
    // A slow store: the notice's load is held, so the response the enterprise asked for waits
    // for it (its header is known, its parent's is not). Supervisors' reviews of the response
    // written meanwhile — two at once from two offices, and many more — must wait for the
    // whole chain: stored with the notice as grandparent, every one answered once.
    let mut server = Server::new();
    let (notice, firm, response) = notice_and_response();
    for (id, doc, kind) in [
        (notice.id(), notice.automerge(), "notice"),
        (response.id(), response.automerge(), "response"),
    ] {
        server.store.save(&id, doc, &IndexEntry::new(kind)).unwrap();
    }
    server.hold_loads.insert(notice.id());
    let mut phone = server.connect(1, firm);
    let frame = phone.request(response.id());
    server.send(&mut phone, Some(frame));
    let reviews: Vec<_> = (0..20u8)
        .map(|i| review_of(DocumentId::from_bytes([0x70 + i; 16]), response.id()))
        .collect();
    for (i, review) in (1u64..).zip(&reviews) {
        server.input(HubInput::Write {
            id: i,
            doc: review.id(),
            changes: review.automerge().save(),
            principal: supervisor(),
        });
    }
    assert!(server.written.is_empty(), "{:?}", server.written);
    server.release_loads();
    server.deliver(&mut [&mut phone]);
    let mut answered: Vec<u64> = server.written.iter().map(|(id, _)| *id).collect();
    answered.sort_unstable();
    assert_eq!(answered, (1..=20).collect::<Vec<_>>());
    assert!(
        server.written.iter().all(|(_, r)| r.is_ok()),
        "{:?}",
        server.written
    );
    let mut wang = server.connect(2, officer("officer:wang", "team-1"));
    for review in &reviews {
        assert!(server.store.contains(&review.id()).unwrap());
        assert!(
            fetches(&mut server, &mut wang, review.id()),
            "{}",
            review.id()
        );
    }
}
