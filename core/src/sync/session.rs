//! [`SyncSession`]: the automerge sync state of one document with one peer, with a bound on
//! rounds that make no progress.
//!
//! Lost, duplicated or reordered messages can make two automerge peers exchange messages
//! forever without converging (automerge issue #1284). A session therefore counts the messages
//! it generates while nothing changes — neither our heads, nor the heads we share with the
//! peer, nor the heads the peer announced. After [`MAX_IDLE_ROUNDS`] such messages it falls
//! back to a fresh state once (a clean restart of the exchange, which converges from any
//! state); if that makes no progress either, it stops sending until something changes.
//!
//! The state persists as automerge's encoded form ([`SyncSession::encode`]), which keeps only
//! the shared heads: a reconnect starts from what both sides are known to have.
//!
//! A session may bound the bytes of changes one message carries
//! ([`SyncSession::with_change_budget`]): automerge puts every change the peer lacks into one
//! message, so a phone that last synced a watch list in the morning would get the day's
//! departures in one message of about 400 bytes each (one change per upload) and, past its
//! transport's limit, could never sync again. A bounded session sends the changes in causal
//! order, as many as fit, and the rest in the next messages as the peer acknowledges.

use automerge::sync::{BloomFilter, Have, Message, State, SyncDoc};
use automerge::{Automerge, ChangeHash};

/// Messages generated in a row without progress before the session falls back to a fresh
/// state (and, after a second run, goes quiet).
pub const MAX_IDLE_ROUNDS: u32 = 6;

/// Why a received sync message was not applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The bytes are not an automerge sync message.
    #[error("not an automerge sync message: {0}")]
    Decode(String),
    /// Automerge refused the message's changes.
    #[error("sync message refused: {0}")]
    Apply(#[from] automerge::AutomergeError),
    /// A persisted state does not decode.
    #[error("stored sync state is corrupt: {0}")]
    State(String),
}

/// What the session observes to tell progress from idling.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Progress {
    ours: Vec<ChangeHash>,
    shared: Vec<ChangeHash>,
    theirs: Option<Vec<ChangeHash>>,
}

/// The sync state of one document with one peer.
#[derive(Debug)]
pub struct SyncSession {
    state: State,
    last: Option<Progress>,
    idle_rounds: u32,
    reset_done: bool,
    quiet: bool,
    /// The next message is the first of a primed session: it goes without a Bloom filter.
    primed: bool,
    /// Bytes of changes one message may carry (`None`: unbounded, automerge's behaviour).
    change_budget: Option<usize>,
}

impl Default for SyncSession {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncSession {
    /// A session with no knowledge of the peer.
    pub fn new() -> Self {
        Self::from_state(State::new())
    }

    fn from_state(state: State) -> Self {
        SyncSession {
            state,
            last: None,
            idle_rounds: 0,
            reset_done: false,
            quiet: false,
            primed: false,
            change_budget: None,
        }
    }

    /// Bounds the bytes of changes one generated message carries to `bytes`: the changes go in
    /// causal order, as many as fit (at least one, however large), and the rest follow in the
    /// next messages, one per acknowledgement from the peer. For a sender whose peer limits
    /// the size of a message (the hub passes three quarters of its `max_message_bytes`, leaving room for
    /// heads, Bloom filter and envelope).
    pub fn with_change_budget(mut self, bytes: usize) -> Self {
        self.change_budget = Some(bytes);
        self
    }

    /// A session restored from [`SyncSession::encode`].
    ///
    /// # Errors
    /// [`SessionError::State`] when the bytes do not decode (start a fresh session instead).
    pub fn restore(encoded: &[u8]) -> Result<Self, SessionError> {
        State::decode(encoded)
            .map(Self::from_state)
            .map_err(|e| SessionError::State(e.to_string()))
    }

    /// A session restored from [`SyncSession::encode`] and primed for a cheap reconnect: its
    /// first message carries every change made since the shared heads, instead of only heads
    /// and a Bloom filter that make the peer ask for them (one round trip saved; a stock
    /// `generate_sync_message` from a restored state sends no change before it has the peer's
    /// `have`).
    ///
    /// That first message also omits the `have` Bloom filter (about 40 bytes): it would only
    /// tell the peer which of its changes to send back, and the peer learns that this side
    /// lacks its newer changes from the heads anyway — the next message asks for them by
    /// `need`. So an edit costs one message each way when only this side changed, and one
    /// more round trip when both did.
    ///
    /// Priming assumes the peer still holds the shared heads, which the persisted state says
    /// it acknowledged. If it does not (its data was restored from an older backup), it queues
    /// the changes it cannot apply yet and asks for their dependencies in its reply; the
    /// exchange converges as from a fresh state.
    ///
    /// # Errors
    /// [`SessionError::State`] when the bytes do not decode (start a fresh session instead).
    pub fn resume(encoded: &[u8]) -> Result<Self, SessionError> {
        let mut session = Self::restore(encoded)?;
        session.prime();
        Ok(session)
    }

    /// Pretends the peer announced exactly the shared heads, with nothing beyond them and no
    /// need: the next generated message then carries all changes since the shared heads.
    fn prime(&mut self) {
        let shared = self.state.shared_heads.clone();
        if shared.is_empty() {
            return;
        }
        self.state.their_heads = Some(shared.clone());
        self.state.their_need = Some(Vec::new());
        self.state.their_have = Some(vec![Have {
            last_sync: shared,
            bloom: BloomFilter::from_hashes(std::iter::empty::<ChangeHash>()),
        }]);
        self.primed = true;
    }

    /// The persistent form: automerge's encoded state (shared heads only).
    pub fn encode(&self) -> Vec<u8> {
        self.state.encode()
    }

    /// The automerge state (shared heads, what the peer announced).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Heads both sides are known to have.
    pub fn shared_heads(&self) -> &[ChangeHash] {
        &self.state.shared_heads
    }

    /// Applies a received sync message to `doc`. Returns true when `doc` gained changes.
    ///
    /// # Errors
    /// [`SessionError`]; `doc` is unchanged on error.
    pub fn receive(&mut self, doc: &mut Automerge, bytes: &[u8]) -> Result<bool, SessionError> {
        let message = Message::decode(bytes).map_err(|e| SessionError::Decode(e.to_string()))?;
        self.receive_message(doc, message)
    }

    /// Applies a decoded sync message (see [`SyncSession::receive`]).
    ///
    /// Unlike automerge's `receive_sync_message` alone, a message without changes whose heads
    /// equal ours does not count as our having sent those heads: automerge records them as
    /// "last sent" (so that the next [`generate`](SyncSession::generate) stays silent), which
    /// is right only when the peer already heard them from us. When it did not — our reply to
    /// its previous message was held back, as the hub holds acknowledgements until the store
    /// flushed, and this message came meanwhile — the peer would never learn that we have its
    /// changes, and would wait for that acknowledgement forever. So the heads we really sent
    /// are kept, and the next message announces ours if they differ.
    ///
    /// # Errors
    /// [`SessionError::Apply`].
    pub fn receive_message(
        &mut self,
        doc: &mut Automerge,
        message: Message,
    ) -> Result<bool, SessionError> {
        let before = doc.get_heads();
        // automerge's rule: `changes` empty and `heads == before` sets `last_sent_heads` to
        // them (empty heads are its "the peer lost its data" reset: left to it).
        let last_sent =
            (message.changes.is_empty() && !message.heads.is_empty() && message.heads == before)
                .then(|| self.state.last_sent_heads.clone());
        let received = doc.receive_sync_message(&mut self.state, message);
        if let Some(last_sent) = last_sent {
            self.state.last_sent_heads = last_sent;
        }
        received?;
        let changed = doc.get_heads() != before;
        if changed {
            self.quiet = false;
        }
        Ok(changed)
    }

    /// The next message to send, if any, encoded. Bounded: see the module docs.
    pub fn generate(&mut self, doc: &Automerge) -> Option<Vec<u8>> {
        self.generate_message(doc).map(Message::encode)
    }

    /// The next message to send, if any (see [`SyncSession::generate`]).
    pub fn generate_message(&mut self, doc: &Automerge) -> Option<Message> {
        let now = Progress {
            ours: doc.get_heads(),
            shared: self.state.shared_heads.clone(),
            theirs: self.state.their_heads.clone(),
        };
        if self.last.as_ref() == Some(&now) {
            if self.quiet {
                return None;
            }
            self.idle_rounds += 1;
        } else {
            self.idle_rounds = 0;
            self.quiet = false;
            self.last = Some(now);
        }
        if self.idle_rounds >= MAX_IDLE_ROUNDS {
            self.idle_rounds = 0;
            if self.reset_done {
                tracing::warn!("sync made no progress after a fresh start; waiting for changes");
                self.quiet = true;
                self.reset_done = false;
                return None;
            }
            tracing::debug!("sync made no progress; falling back to a fresh state");
            self.state = State::new();
            self.reset_done = true;
        }
        let sent_before = self.change_budget.map(|_| self.state.sent_hashes.clone());
        let mut message = doc.generate_sync_message(&mut self.state)?;
        if std::mem::take(&mut self.primed) {
            message.have.clear();
        }
        if let (Some(budget), Some(sent_before)) = (self.change_budget, sent_before) {
            self.bound(doc, &mut message, &sent_before, budget);
        }
        Some(message)
    }

    /// Cuts `message`'s changes down to a causal prefix of at most `budget` bytes (at least
    /// one change) and forgets having sent the rest, so that automerge offers them again in
    /// the next message. A message within the budget is left as it is.
    fn bound(
        &mut self,
        doc: &Automerge,
        message: &mut Message,
        sent_before: &std::collections::BTreeSet<ChangeHash>,
        budget: usize,
    ) {
        let carried: usize = message.changes.iter().map(<[u8]>::len).sum();
        if carried <= budget {
            return;
        }
        let in_message: std::collections::HashSet<ChangeHash> = self
            .state
            .sent_hashes
            .difference(sent_before)
            .copied()
            .collect();
        // Only what the peer lacks: a whole-document message (automerge's choice when the
        // peer lacks a third of it) also carries what the peer has, and a prefix of that
        // would move nothing, so the peer would not answer and the exchange would stall. The
        // peer has the ancestors of its heads (those we know).
        let their_heads: Vec<ChangeHash> = self
            .state
            .their_heads
            .iter()
            .flatten()
            .filter(|h| doc.get_change_meta_by_hash(h).is_some())
            .copied()
            .collect();
        // History order is causal: a prefix carries every dependency of its changes that the
        // peer lacks.
        let mut kept = Vec::new();
        let mut kept_bytes = 0;
        let mut full = false;
        for change in doc.get_changes(&their_heads) {
            if !in_message.contains(&change.hash()) {
                continue;
            }
            let bytes = change.raw_bytes();
            // A strict prefix: once one change does not fit, none after it goes (a later,
            // smaller one may depend on it).
            full = full || (!kept.is_empty() && kept_bytes + bytes.len() > budget);
            if full {
                self.state.sent_hashes.remove(&change.hash());
                continue;
            }
            kept_bytes += bytes.len();
            kept.push(bytes.to_vec());
        }
        if kept.is_empty() {
            return;
        }
        tracing::debug!(
            changes = kept.len(),
            bytes = kept_bytes,
            left = in_message.len() - kept.len(),
            "sync message bounded; the rest follows"
        );
        message.changes = match message.version {
            automerge::sync::MessageVersion::V1 => kept.into(),
            automerge::sync::MessageVersion::V2 => kept.concat().into(),
        };
    }

    /// The next message to send, if any, without a `have` when it is a pure acknowledgement
    /// (no changes, no need, and the peer already announced exactly our heads): the peer has
    /// everything, so the Bloom filter (about 40 bytes) tells it nothing. For our own phone
    /// client, which keeps no session open after an acknowledgement; a stock peer that later
    /// edits would need an extra round trip, so the hub uses this for our client only.
    pub fn generate_ack(&mut self, doc: &Automerge) -> Option<Vec<u8>> {
        let mut message = self.generate_message(doc)?;
        if message.changes.is_empty()
            && message.need.is_empty()
            && self.state.their_heads.as_deref() == Some(&message.heads[..])
        {
            message.have.clear();
        }
        Some(message.encode())
    }

    /// True when the last generated message carried our current heads and the peer confirmed
    /// them: nothing left to send.
    pub fn in_sync(&self, doc: &Automerge) -> bool {
        self.state.shared_heads == doc.get_heads()
            && self.state.their_heads.as_deref() == Some(&doc.get_heads()[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT};
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn doc_with(actor: u8, key: &str, n: i64) -> Automerge {
        let mut d = Automerge::new().with_actor(ActorId::from(&[actor; 16][..]));
        for i in 0..n {
            d.transact(|tx| tx.put(ROOT, format!("{key}{i}"), i))
                .unwrap();
        }
        d
    }

    /// Runs two sessions over a network that drops, duplicates and reorders messages, until
    /// both sides are quiet or `max_steps` is reached. Returns the steps used.
    fn run_lossy(
        a: &mut Automerge,
        b: &mut Automerge,
        seed: u64,
        loss: f64,
        max_steps: usize,
    ) -> usize {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut sa, mut sb) = (SyncSession::new(), SyncSession::new());
        // In-flight messages: (to_b, bytes).
        let mut net: Vec<(bool, Vec<u8>)> = Vec::new();
        for step in 0..max_steps {
            if let Some(m) = sa.generate(a) {
                net.push((true, m));
            }
            if let Some(m) = sb.generate(b) {
                net.push((false, m));
            }
            if net.is_empty() {
                return step;
            }
            let i = rng.random_range(0..net.len());
            let (to_b, bytes) = net.swap_remove(i);
            if rng.random_bool(loss) {
                continue; // dropped
            }
            if rng.random_bool(loss) {
                net.push((to_b, bytes.clone())); // duplicated
            }
            if to_b {
                sb.receive(b, &bytes).unwrap();
            } else {
                sa.receive(a, &bytes).unwrap();
            }
        }
        max_steps
    }

    #[test]
    fn two_peers_converge_over_a_perfect_network() {
        let mut a = doc_with(1, "a", 20);
        let mut b = doc_with(2, "b", 5);
        let steps = run_lossy(&mut a, &mut b, 1, 0.0, 1_000);
        assert!(steps < 1_000);
        assert_eq!(a.get_heads(), b.get_heads());
    }

    #[test]
    fn persisted_state_keeps_shared_heads_and_garbage_is_refused() {
        let mut a = doc_with(1, "a", 3);
        let mut b = Automerge::new();
        run_lossy(&mut a, &mut b, 2, 0.0, 1_000);
        let mut s = SyncSession::new();
        let mut b2 = b.clone();
        // Sync once more to learn the shared heads, then persist and restore.
        let mut sa = SyncSession::new();
        for _ in 0..10 {
            if let Some(m) = sa.generate(&a) {
                s.receive(&mut b2, &m).unwrap();
            }
            if let Some(m) = s.generate(&b2) {
                sa.receive(&mut a, &m).unwrap();
            }
        }
        let restored = SyncSession::restore(&s.encode()).unwrap();
        assert_eq!(restored.shared_heads(), &a.get_heads()[..]);
        assert!(SyncSession::restore(b"\x00garbage").is_err());
        assert!(s.receive(&mut b2, b"not a message").is_err());
    }

    /// A reply held back (the hub acknowledges only after the store flushed) while the peer's
    /// next message arrives, announcing exactly our heads without changes: the held reply must
    /// still tell the peer our heads, or it never learns that we have its changes.
    #[test]
    fn a_held_reply_still_announces_heads_the_peer_has_not_heard_from_us() {
        let mut a = doc_with(1, "base", 2);
        let mut b = Automerge::new();
        let (mut sa, mut sb) = (SyncSession::new(), SyncSession::new());
        for _ in 0..20 {
            let to_b = sa.generate(&a);
            if let Some(m) = &to_b {
                sb.receive(&mut b, m).unwrap();
            }
            let to_a = sb.generate(&b);
            if let Some(m) = &to_a {
                sa.receive(&mut a, m).unwrap();
            }
            if to_a.is_none() && to_b.is_none() {
                break;
            }
        }
        assert!(sa.in_sync(&a) && sb.in_sync(&b));
        // Both edit; each sends its change, the messages cross.
        let mut b = b.with_actor(ActorId::from(&[2; 16][..]));
        a.transact(|tx| tx.put(ROOT, "a", 1)).unwrap();
        b.transact(|tx| tx.put(ROOT, "b", 2)).unwrap();
        let from_a = sa.generate(&a).unwrap();
        let from_b = sb.generate(&b).unwrap();
        // `a` applies `b`'s change and holds its reply (saving) …
        assert!(sa.receive(&mut a, &from_b).unwrap());
        // … while `b` applies `a`'s change and answers with the merged heads.
        assert!(sb.receive(&mut b, &from_a).unwrap());
        let ack = sb.generate(&b).unwrap();
        assert!(!sa.receive(&mut a, &ack).unwrap());
        assert_eq!(a.get_heads(), b.get_heads());
        // The held reply goes out now: `b` has not heard that `a` has its change.
        assert!(!sb.in_sync(&b));
        let reply = sa
            .generate(&a)
            .expect("a reply announcing the merged heads");
        assert!(sa.in_sync(&a));
        sb.receive(&mut b, &reply).unwrap();
        assert!(sb.in_sync(&b));
        // And nothing more on either side.
        assert!(sb.generate(&b).is_none());
        assert!(sa.generate(&a).is_none());
    }

    proptest! {
        /// Lost, duplicated and reordered messages never loop forever: the exchange always
        /// goes quiet within a bound, and when nothing was lost at the end both converge.
        #[test]
        fn lossy_networks_never_loop_forever(
            seed in any::<u64>(),
            na in 0i64..15,
            nb in 0i64..15,
            loss in 0.0f64..0.4,
        ) {
            let mut a = doc_with(1, "a", na);
            let mut b = doc_with(2, "b", nb);
            let steps = run_lossy(&mut a, &mut b, seed, loss, 5_000);
            prop_assert!(steps < 5_000, "did not go quiet");
            // A clean follow-up exchange (as after a reconnect) converges.
            let steps = run_lossy(&mut a, &mut b, seed, 0.0, 5_000);
            prop_assert!(steps < 5_000);
            prop_assert_eq!(a.get_heads(), b.get_heads());
        }
    }

    /// A peer with nothing, then a peer that lacks the newer half: both get every change in
    /// bounded messages, and the exchange converges.
    #[test]
    fn a_change_budget_splits_large_deliveries_and_converges() {
        let mut server = Automerge::new();
        let add = |doc: &mut Automerge, from: usize, to: usize| {
            for i in from..to {
                *doc = std::mem::take(doc).with_actor(ActorId::random());
                doc.transact(|tx| {
                    let text: String = (0..8).map(|_| ActorId::random().to_hex_string()).collect();
                    tx.put(ROOT, format!("k{i}"), text)
                })
                .unwrap();
            }
        };
        add(&mut server, 0, 100);
        let budget = 4 * 1024;
        let exchange = |server: &Automerge, phone: &mut Automerge, s: &mut SyncSession| {
            let mut p = SyncSession::new();
            let mut server = server.clone();
            let mut largest = 0;
            for _ in 0..1_000 {
                let a = s.generate_message(&server);
                if let Some(m) = &a {
                    let bytes: usize = m.changes.iter().map(<[u8]>::len).sum();
                    largest = largest.max(bytes);
                    p.receive_message(phone, m.clone()).unwrap();
                }
                let b = p.generate(phone);
                if let Some(m) = &b {
                    s.receive(&mut server, m).unwrap();
                }
                if a.is_none() && b.is_none() {
                    return largest;
                }
            }
            panic!("no convergence");
        };
        let mut phone = Automerge::new();
        let mut s = SyncSession::new().with_change_budget(budget);
        let largest = exchange(&server, &mut phone, &mut s);
        assert_eq!(phone.get_heads(), server.get_heads());
        assert!(largest <= budget, "{largest} bytes in one message");
        // The phone keeps the state; the server grows by as much again.
        let state = s.encode();
        add(&mut server, 100, 200);
        let mut s = SyncSession::resume(&state)
            .unwrap()
            .with_change_budget(budget);
        let largest = exchange(&server, &mut phone, &mut s);
        assert_eq!(phone.get_heads(), server.get_heads());
        assert!(largest <= budget, "{largest} bytes in one message");
    }
}
