//! Tests of the phone's [`Replica`] against the [`Hub`], over an in-memory "network": the
//! phone's field store and the server's store are real (in memory); only sockets are missing.

use std::collections::HashMap;

use crate::access::Principal;
use crate::docs::{Case, TypedDoc};
use crate::field::FieldStore;
use crate::fixtures::{case, officer, pid};
use crate::ids::{DocumentId, PeerId, StorageId};
use crate::store::{DocStore, IndexEntry, MemoryStore};

use super::hub::{Announcement, Hub, HubConfig, HubInput, HubOutput};
use super::replica::{Replica, ReplicaConfig, ReplicaInput, ReplicaOutput, drive, drive_outputs};
use super::wire::PeerMetadata;

/// The server: hub, store, kept sync states, and a discovery that announces the given
/// documents to the next peer.
struct Server {
    hub: Hub,
    store: MemoryStore,
    states: HashMap<(DocumentId, StorageId), Vec<u8>>,
    discover: Vec<DocumentId>,
    /// Saves wait for [`Server::flush`] (group commit: frames handled meanwhile) instead of
    /// being flushed at once.
    hold_saves: bool,
    held: Vec<(DocumentId, u64)>,
}

impl Server {
    fn new() -> Self {
        Server {
            hub: Hub::new(HubConfig {
                peer_id: PeerId::new("server").unwrap(),
                metadata: PeerMetadata {
                    storage_id: Some(StorageId::new("server-storage").unwrap()),
                    ..PeerMetadata::default()
                },
                max_message_bytes: 1 << 20,
                max_idle_docs: 4,
                session_id: "s1".to_owned(),
                announce_window: 2,
            }),
            store: MemoryStore::new(),
            states: HashMap::new(),
            discover: Vec::new(),
            hold_saves: false,
            held: Vec::new(),
        }
    }

    /// Flushes the held saves (the state of each document now, as the sync service's group
    /// commit does) and reports them saved; returns frames for the phone.
    fn flush(&mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while !self.held.is_empty() {
            for (doc, ticket) in std::mem::take(&mut self.held) {
                let am = self.hub.document(&doc).unwrap();
                let kind = self.hub.header(&doc).unwrap().kind.as_str();
                self.store.save(&doc, am, &IndexEntry::new(kind)).unwrap();
                frames.extend(self.input(HubInput::Saved { doc, ticket }));
            }
        }
        frames
    }

    /// Feeds one input; returns frames for the phone.
    fn input(&mut self, input: HubInput) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut queue = std::collections::VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for output in self.hub.handle(input) {
                match output {
                    HubOutput::Send { bytes, .. } => frames.push(bytes),
                    HubOutput::Joined { conn, storage_id } => {
                        let docs = std::mem::take(&mut self.discover)
                            .into_iter()
                            .map(|doc| Announcement {
                                doc,
                                sync_state: storage_id
                                    .as_ref()
                                    .and_then(|s| self.states.get(&(doc, s.clone())).cloned()),
                            })
                            .collect();
                        queue.push_back(HubInput::Discovered { conn, docs });
                    }
                    HubOutput::Load { doc } => {
                        let stored = self.store.load(&doc).unwrap().map(|l| Box::new(l.doc));
                        queue.push_back(HubInput::Loaded { doc, stored });
                    }
                    HubOutput::Save { doc, ticket, .. } if self.hold_saves => {
                        self.held.push((doc, ticket));
                    }
                    HubOutput::Save { doc, ticket, .. } => {
                        let am = self.hub.document(&doc).unwrap();
                        let kind = self.hub.header(&doc).unwrap().kind.as_str();
                        self.store.save(&doc, am, &IndexEntry::new(kind)).unwrap();
                        queue.push_back(HubInput::Saved { doc, ticket });
                    }
                    HubOutput::StoreSyncState {
                        doc,
                        storage_id,
                        state,
                    } => {
                        self.states.insert((doc, storage_id), state);
                    }
                    HubOutput::Close { .. }
                    | HubOutput::Refused { .. }
                    | HubOutput::DiscoveryComplete { .. }
                    | HubOutput::Written { .. } => {}
                }
            }
        }
        frames
    }
}

/// What one connection cost and produced.
#[derive(Debug, Default)]
struct Exchange {
    events: Vec<ReplicaOutput>,
    /// Bytes and frames after the handshake, each way.
    bytes_up: usize,
    bytes_down: usize,
    frames_up: usize,
    frames_down: usize,
    /// Phone → server sends that waited for an answer (round trips).
    round_trips: usize,
    /// Most documents the hub held in memory at once.
    max_loaded: usize,
}

/// Connects a phone, pushes its pending documents and runs the exchange until the replica
/// is idle.
fn sync(
    server: &mut Server,
    conn: u64,
    principal: Principal,
    device: &str,
    phone: &FieldStore<MemoryStore>,
) -> Exchange {
    sync_limited(
        server,
        conn,
        principal,
        device,
        phone,
        crate::sync::MAX_MESSAGE_BYTES,
    )
}

/// [`sync`] with a phone that sends messages of at most `limit` bytes.
fn sync_limited(
    server: &mut Server,
    conn: u64,
    principal: Principal,
    device: &str,
    phone: &FieldStore<MemoryStore>,
    limit: usize,
) -> Exchange {
    let device = StorageId::new(device).unwrap();
    server.input(HubInput::Connected {
        conn,
        principal,
        device: Some(device.clone()),
    });
    let (mut replica, join) = Replica::new(ReplicaConfig {
        peer_id: PeerId::new(&format!("phone-{conn}")).unwrap(),
        storage_id: device,
        window: 2,
        max_message_bytes: limit,
    });
    let mut ex = Exchange::default();
    let mut to_phone = server.input(HubInput::Frame { conn, bytes: join });
    // The handshake reply is not counted.
    let reply = to_phone.remove(0);
    let mut to_server = drive(
        &mut replica,
        phone,
        ReplicaInput::Frame(reply),
        &mut ex.events,
    );
    let pending: Vec<_> = phone
        .store()
        .pending()
        .unwrap()
        .into_iter()
        .filter(|id| phone.store().rejection(id).unwrap().is_none())
        .collect();
    let outputs = replica.push(pending);
    to_server.extend(drive_outputs(&mut replica, phone, outputs, &mut ex.events));
    for _ in 0..10_000 {
        if to_phone.is_empty() && to_server.is_empty() {
            break;
        }
        if !to_server.is_empty() {
            ex.round_trips += 1;
        }
        for bytes in std::mem::take(&mut to_server) {
            ex.bytes_up += bytes.len();
            ex.frames_up += 1;
            to_phone.extend(server.input(HubInput::Frame { conn, bytes }));
            ex.max_loaded = ex.max_loaded.max(server.hub.loaded_docs());
        }
        for bytes in std::mem::take(&mut to_phone) {
            ex.bytes_down += bytes.len();
            ex.frames_down += 1;
            to_server.extend(drive(
                &mut replica,
                phone,
                ReplicaInput::Frame(bytes),
                &mut ex.events,
            ));
        }
    }
    assert!(
        replica.is_idle(),
        "the exchange did not finish: {replica:?}"
    );
    server.input(HubInput::Disconnected { conn });
    ex
}

/// Officer Wang's phone (team 1, storage id `wang-phone`) syncs on connection `conn`.
fn sync_wang(server: &mut Server, conn: u64, wang: &FieldStore<MemoryStore>) -> Exchange {
    sync(
        server,
        conn,
        officer("officer:wang", "team-1"),
        "wang-phone",
        wang,
    )
}

fn phone() -> FieldStore<MemoryStore> {
    FieldStore::new(MemoryStore::new())
}

fn save_case(phone: &FieldStore<MemoryStore>, seed: u64, by: &str, team: &str) -> DocumentId {
    let doc = case(seed, by, team);
    phone.save(&doc).unwrap();
    doc.id()
}

#[test]
fn pending_cases_are_pushed_a_window_at_a_time_and_stop_being_pending() {
    let mut server = Server::new();
    let wang = phone();
    let ids: Vec<_> = (1..=5)
        .map(|n| save_case(&wang, n, "officer:wang", "team-1"))
        .collect();
    assert_eq!(wang.store().pending().unwrap().len(), 5);
    let ex = sync_wang(&mut server, 1, &wang);
    for id in &ids {
        assert!(server.store.contains(id).unwrap());
    }
    assert!(wang.store().pending().unwrap().is_empty());
    let pushed = ex
        .events
        .iter()
        .filter(|e| matches!(e, ReplicaOutput::Synced { pushed: true, .. }))
        .count();
    assert_eq!(pushed, 5);
}

#[test]
fn a_document_too_large_for_one_message_is_rejected_and_the_rest_syncs() {
    let mut server = Server::new();
    let wang = phone();
    let small = save_case(&wang, 1, "officer:wang", "team-1");
    let big = save_case(&wang, 2, "officer:wang", "team-1");
    let mut doc = wang.open::<Case>(&big).unwrap().unwrap().doc;
    doc.update(&pid("officer:wang"), 1, |c| {
        // 8 000 pseudo-random CJK characters (about 24 KB that do not compress).
        let mut x: u32 = 12_345;
        c.findings = (0..8_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from_u32(0x4E00 + (x >> 16) % 0x5000).unwrap_or('超')
            })
            .collect::<String>()
            .into();
        Ok(())
    })
    .unwrap();
    wang.save(&doc).unwrap();
    // A phone whose server accepts messages of at most 16 KiB.
    let ex = sync_limited(
        &mut server,
        1,
        officer("officer:wang", "team-1"),
        "phone-wang",
        &wang,
        16 * 1024,
    );
    assert!(
        ex.events.iter().any(|e| matches!(
            e,
            ReplicaOutput::Rejected { doc, reason } if *doc == big && reason.contains("at most 16384 bytes")
        )),
        "{:?}",
        ex.events
    );
    assert!(server.store.contains(&small).unwrap(), "the rest synced");
    assert!(!server.store.contains(&big).unwrap());
    // Kept on the phone, marked, not resent until it changes.
    assert_eq!(wang.store().pending().unwrap(), [big]);
    assert!(wang.store().rejection(&big).unwrap().is_some());
}

#[test]
fn a_refused_push_is_recorded_and_not_retried_until_the_document_changes() {
    let mut server = Server::new();
    let wang = phone();
    // A case claiming another team: the server refuses it.
    let id = save_case(&wang, 7, "officer:wang", "team-2");
    let ex = sync_wang(&mut server, 1, &wang);
    assert!(
        ex.events
            .iter()
            .any(|e| matches!(e, ReplicaOutput::Rejected { doc, .. } if *doc == id))
    );
    assert!(!server.store.contains(&id).unwrap());
    // Still pending (never acknowledged), but marked: the next sync does not resend it.
    assert_eq!(wang.store().pending().unwrap(), [id]);
    assert!(wang.store().rejection(&id).unwrap().is_some());
    let again = sync_wang(&mut server, 2, &wang);
    assert_eq!(again.bytes_up, 0, "nothing resent");
    // An edit changes the heads: the mark no longer applies.
    let mut doc = wang.open::<Case>(&id).unwrap().unwrap().doc;
    doc.update(&pid("officer:wang"), 1, |c| {
        c.findings = "复核后补充".into();
        Ok(())
    })
    .unwrap();
    wang.save(&doc).unwrap();
    assert!(wang.store().rejection(&id).unwrap().is_none());
}

#[test]
fn announced_documents_are_saved_and_indexed_before_the_server_hears_back() {
    let mut server = Server::new();
    let wang = phone();
    let id = save_case(&wang, 11, "officer:wang", "team-1");
    sync_wang(&mut server, 1, &wang);
    // Li, same team, never asked for it: discovery announces it.
    let li = phone();
    server.discover = vec![id];
    let ex = sync(
        &mut server,
        2,
        officer("officer:li", "team-1"),
        "li-phone",
        &li,
    );
    assert!(ex.events.iter().any(|e| matches!(
        e,
        ReplicaOutput::Synced {
            doc,
            pulled: true,
            ..
        } if *doc == id
    )));
    // Stored and indexed: found by status without opening anything.
    let status = li.case_status(&id).unwrap().expect("the case is stored");
    assert_eq!(li.cases_by_status(status).unwrap(), [id]);
    // Received documents are not pending on Li's phone.
    assert!(li.store().pending().unwrap().is_empty());
}

#[test]
fn a_reconnect_after_a_one_field_edit_costs_one_round_trip_and_few_bytes() {
    let mut server = Server::new();
    let wang = phone();
    let id = save_case(&wang, 21, "officer:wang", "team-1");
    sync_wang(&mut server, 1, &wang);
    // One field: the on-site record is closed.
    let mut doc = wang.open::<Case>(&id).unwrap().unwrap().doc;
    doc.update(&pid("officer:wang"), 2, |c| {
        c.onsite.ended_at_ms = Some(1_764_400_000_000);
        Ok(())
    })
    .unwrap();
    wang.save(&doc).unwrap();
    let ex = sync_wang(&mut server, 2, &wang);
    assert_eq!(ex.round_trips, 1, "{ex:?}");
    println!(
        "one-field edit: {} B up, {} B down",
        ex.bytes_up, ex.bytes_down
    );
    // Measured 390 B: two automerge-repo envelopes of ~78 B each (type, sender, target, raw
    // document id), the change (150 B: new actor, the creator's actor, author and time, one
    // op) with our heads, and the acknowledgement's heads.
    assert!(ex.bytes_up + ex.bytes_down <= 400, "{ex:?}");
    assert!(wang.store().pending().unwrap().is_empty());
    let stored = server.store.load(&id).unwrap().unwrap().doc;
    let body = TypedDoc::<Case>::open(id, stored).unwrap().body().unwrap();
    assert_eq!(body.onsite.ended_at_ms, Some(1_764_400_000_000));
}

#[test]
fn a_reconnect_with_nothing_changed_costs_nothing_after_the_handshake() {
    let mut server = Server::new();
    let wang = phone();
    for n in 0..20 {
        save_case(&wang, 100 + n, "officer:wang", "team-1");
    }
    sync_wang(&mut server, 1, &wang);
    let ex = sync_wang(&mut server, 2, &wang);
    assert_eq!((ex.bytes_up, ex.bytes_down), (0, 0), "{ex:?}");
}

/// Runs one connection over a network that drops, duplicates and reorders frames both ways,
/// until nothing is in flight. Returns the frames delivered.
fn lossy_sync(
    server: &mut Server,
    conn: u64,
    principal: Principal,
    device: &str,
    phone: &FieldStore<MemoryStore>,
    seed: u64,
) -> usize {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    let mut rng = StdRng::seed_from_u64(seed);
    let device = StorageId::new(device).unwrap();
    server.input(HubInput::Connected {
        conn,
        principal,
        device: Some(device.clone()),
    });
    let (mut replica, join) = Replica::new(ReplicaConfig {
        peer_id: PeerId::new(&format!("phone-{conn}")).unwrap(),
        storage_id: device,
        window: 2,
        max_message_bytes: crate::sync::MAX_MESSAGE_BYTES,
    });
    let mut events = Vec::new();
    // The handshake itself is not disturbed (a lost join is a failed connection).
    let mut net: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut to_phone = server.input(HubInput::Frame { conn, bytes: join });
    let reply = to_phone.remove(0);
    net.extend(to_phone.into_iter().map(|b| (false, b)));
    let mut up = drive(&mut replica, phone, ReplicaInput::Frame(reply), &mut events);
    let outputs = replica.push(phone.store().pending().unwrap());
    up.extend(drive_outputs(&mut replica, phone, outputs, &mut events));
    net.extend(up.into_iter().map(|b| (true, b)));
    let mut delivered = 0;
    while !net.is_empty() {
        assert!(delivered < 20_000, "the exchange never went quiet");
        let (to_server, bytes) = net.swap_remove(rng.random_range(0..net.len()));
        if rng.random_bool(0.15) {
            continue; // lost
        }
        if rng.random_bool(0.15) {
            net.push((to_server, bytes.clone())); // duplicated
        }
        delivered += 1;
        if to_server {
            let back = server.input(HubInput::Frame { conn, bytes });
            net.extend(back.into_iter().map(|b| (false, b)));
        } else {
            let back = drive(&mut replica, phone, ReplicaInput::Frame(bytes), &mut events);
            net.extend(back.into_iter().map(|b| (true, b)));
        }
    }
    server.input(HubInput::Disconnected { conn });
    delivered
}

#[test]
fn lost_duplicated_and_reordered_frames_never_loop_and_a_clean_reconnect_converges() {
    for seed in 0..16u64 {
        let mut server = Server::new();
        let wang = phone();
        let ids: Vec<_> = (0..4)
            .map(|n| save_case(&wang, 300 + seed * 10 + n, "officer:wang", "team-1"))
            .collect();
        lossy_sync(
            &mut server,
            1,
            officer("officer:wang", "team-1"),
            "wang-phone",
            &wang,
            seed,
        );
        // Whatever the lossy connection achieved, the next clean one finishes the job.
        sync_wang(&mut server, 2, &wang);
        for id in &ids {
            let server_heads = server.store.load(id).unwrap().unwrap().doc.get_heads();
            let phone_heads = wang.store().load(id).unwrap().unwrap().doc.get_heads();
            assert_eq!(server_heads, phone_heads, "seed {seed}");
        }
        assert!(wang.store().pending().unwrap().is_empty(), "seed {seed}");
    }
}

#[test]
fn the_hub_keeps_a_bounded_number_of_documents_in_memory_while_a_phone_pushes_hundreds() {
    let mut server = Server::new(); // max_idle_docs = 4, window = 2
    let wang = phone();
    let ids: Vec<_> = (0..300)
        .map(|n| save_case(&wang, 1_000 + n, "officer:wang", "team-1"))
        .collect();
    let ex = sync_wang(&mut server, 1, &wang);
    assert!(
        ex.max_loaded <= 4 + 2,
        "{} documents in memory",
        ex.max_loaded
    );
    assert!(wang.store().pending().unwrap().is_empty());
    for id in &ids {
        assert!(server.store.contains(id).unwrap());
    }
    // Evicted documents reload on demand: a teammate receives one of the first ones.
    let li = phone();
    server.discover = vec![ids[0]];
    sync(
        &mut server,
        2,
        officer("officer:li", "team-1"),
        "li-phone",
        &li,
    );
    assert!(li.store().contains(&ids[0]).unwrap());
}

#[test]
fn a_received_document_that_cannot_be_saved_does_not_hold_the_sync_forever() {
    let mut server = Server::new();
    let wang = phone();
    let id = save_case(&wang, 71, "officer:wang", "team-1");
    sync_wang(&mut server, 1, &wang);
    server.discover = vec![id];
    let device = StorageId::new("li-phone").unwrap();
    server.input(HubInput::Connected {
        conn: 2,
        principal: officer("officer:li", "team-1"),
        device: Some(device.clone()),
    });
    let (mut replica, join) = Replica::new(ReplicaConfig {
        peer_id: PeerId::new("phone-li").unwrap(),
        storage_id: device,
        window: 2,
        max_message_bytes: crate::sync::MAX_MESSAGE_BYTES,
    });
    let mut frames = server.input(HubInput::Frame {
        conn: 2,
        bytes: join,
    });
    let mut inputs: std::collections::VecDeque<ReplicaInput> =
        frames.drain(..).map(ReplicaInput::Frame).collect();
    while let Some(input) = inputs.pop_front() {
        for output in replica.handle(input) {
            match output {
                ReplicaOutput::Load { doc } => inputs.push_back(ReplicaInput::Loaded {
                    doc,
                    stored: None,
                    sync_state: None,
                }),
                // The phone's store fails.
                ReplicaOutput::Save { doc } => {
                    inputs.push_back(ReplicaInput::SaveFailed { doc });
                }
                ReplicaOutput::Send(bytes) => {
                    let back = server.input(HubInput::Frame { conn: 2, bytes });
                    inputs.extend(back.into_iter().map(ReplicaInput::Frame));
                }
                _ => {}
            }
        }
    }
    assert_eq!(replica.progress().save_failed, 1);
    assert!(replica.is_idle(), "{replica:?}");
}

/// Two officers edit the same case offline; Wang syncs, then Li — whose push crosses the
/// server's announcement of Wang's edit. When Li's second message (the acknowledgement of
/// Wang's edit, carrying the merged heads) reaches the server before its group commit flushed
/// Li's changes, the server must still tell Li it has them once they are saved, or Li's phone
/// waits forever for the acknowledgement of its push (it did, about one sync in four, until
/// its idle timeout). The other order (flush first) is checked too.
#[test]
fn a_push_crossing_an_announcement_is_acknowledged_when_the_next_message_arrives_before_the_save() {
    for second_message_before_flush in [true, false] {
        push_crossing_announcement(second_message_before_flush);
    }
}

fn push_crossing_announcement(second_message_before_flush: bool) {
    let mut server = Server::new();
    let (wang, li) = (phone(), phone());
    let id = save_case(&wang, 41, "officer:wang", "team-1");
    let mut doc = wang.open::<Case>(&id).unwrap().unwrap().doc;
    doc.update(&pid("officer:wang"), 1, |c| {
        c.findings = "超限运输".into();
        Ok(())
    })
    .unwrap();
    wang.save(&doc).unwrap();
    sync_wang(&mut server, 1, &wang);
    server.discover = vec![id];
    let li_officer = || officer("officer:li", "team-1");
    sync(&mut server, 2, li_officer(), "li-phone", &li);
    assert!(li.store().contains(&id).unwrap());

    // Offline, both edit the case: Wang the findings, Li the findings and the on-site record.
    let mut doc = wang.open::<Case>(&id).unwrap().unwrap().doc;
    doc.update(&pid("officer:wang"), 2, |c| {
        c.findings = "驾驶人张某称：超限运输".into();
        Ok(())
    })
    .unwrap();
    wang.save(&doc).unwrap();
    let mut doc = li.open::<Case>(&id).unwrap().unwrap().doc;
    doc.update(&pid("officer:li"), 3, |c| {
        c.findings = "超限运输，货物为煤炭".into();
        Ok(())
    })
    .unwrap();
    doc.update(&pid("officer:li"), 4, |c| {
        c.onsite.ended_at_ms = Some(1_764_400_000_000);
        Ok(())
    })
    .unwrap();
    li.save(&doc).unwrap();
    sync_wang(&mut server, 3, &wang);

    // Li connects; discovery announces the case (changed since Li's last sync).
    server.discover = vec![id];
    let device = StorageId::new("li-phone").unwrap();
    server.input(HubInput::Connected {
        conn: 4,
        principal: li_officer(),
        device: Some(device.clone()),
    });
    let (mut replica, join) = Replica::new(ReplicaConfig {
        peer_id: PeerId::new("phone-li").unwrap(),
        storage_id: device,
        window: 2,
        max_message_bytes: crate::sync::MAX_MESSAGE_BYTES,
    });
    let mut events = Vec::new();
    let mut down = server.input(HubInput::Frame {
        conn: 4,
        bytes: join,
    });
    // The handshake reply, then the announcement with Wang's edit.
    assert_eq!(down.len(), 2, "handshake reply and announcement");
    let announcement = down.pop().unwrap();
    let mut up = drive(
        &mut replica,
        &li,
        ReplicaInput::Frame(down.pop().unwrap()),
        &mut events,
    );
    // Li's push (its changes) goes up before the announcement is read …
    let outputs = replica.push(li.store().pending().unwrap());
    up.extend(drive_outputs(&mut replica, &li, outputs, &mut events));
    assert_eq!(up.len(), 1, "the push");
    // … then the announcement is saved and acknowledged with the merged heads.
    up.extend(drive(
        &mut replica,
        &li,
        ReplicaInput::Frame(announcement),
        &mut events,
    ));
    assert_eq!(up.len(), 2, "the push and the acknowledgement");
    // Both reach the server within one group commit (the acknowledgement is handled while
    // Li's changes wait for their flush), or the flush comes between them.
    server.hold_saves = true;
    let mut down = Vec::new();
    let (push, ack) = (up.remove(0), up.remove(0));
    down.extend(server.input(HubInput::Frame {
        conn: 4,
        bytes: push,
    }));
    if !second_message_before_flush {
        down.extend(server.flush());
    }
    down.extend(server.input(HubInput::Frame {
        conn: 4,
        bytes: ack,
    }));
    if second_message_before_flush {
        assert!(down.is_empty(), "nothing is acknowledged before the flush");
        down.extend(server.flush());
    }
    server.hold_saves = false;
    // From here, in order, until nothing moves.
    let mut up = Vec::new();
    for _ in 0..100 {
        if down.is_empty() && up.is_empty() {
            break;
        }
        for bytes in std::mem::take(&mut down) {
            up.extend(drive(
                &mut replica,
                &li,
                ReplicaInput::Frame(bytes),
                &mut events,
            ));
        }
        for bytes in std::mem::take(&mut up) {
            down.extend(server.input(HubInput::Frame { conn: 4, bytes }));
        }
    }
    assert!(
        replica.is_idle(),
        "Li's phone still waits for the server ({second_message_before_flush}): {:?}",
        replica.progress()
    );
    assert!(events.iter().any(|e| matches!(
        e,
        ReplicaOutput::Synced {
            doc,
            pushed: true,
            pulled: true,
            ..
        } if *doc == id
    )));
    assert!(li.store().pending().unwrap().is_empty());
    server.input(HubInput::Disconnected { conn: 4 });
    let on_server = server.store.load(&id).unwrap().unwrap().doc;
    let on_li = li.store().load(&id).unwrap().unwrap().doc;
    assert_eq!(on_server.get_heads(), on_li.get_heads());
    // Wang receives Li's edit: both findings merged, the on-site record closed.
    server.discover = vec![id];
    sync_wang(&mut server, 5, &wang);
    let body = wang.open::<Case>(&id).unwrap().unwrap().doc.body().unwrap();
    assert_eq!(body.onsite.ended_at_ms, Some(1_764_400_000_000));
    assert_eq!(body.findings.as_str(), "驾驶人张某称：超限运输，货物为煤炭");
}
