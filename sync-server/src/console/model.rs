//! What a principal may read, found through the change log (every stored document's header
//! and latest save), and the bodies of those documents, cached per save.
//!
//! Every console page and JSON query route reads documents through here, so the one rule —
//! `core::access::can_read` on the immutable headers — decides what a supervisor sees.
//! A document that exists but is not readable answers [`ConsoleError::NotFound`], exactly
//! like an id that does not exist.
//!
//! **The index.** Pages list documents of a kind several times per request, and a county's
//! log holds thousands of documents. Rather than scan the log and decode every header on each
//! [`list`], the console keeps [`DocIndex`] in memory: each logged document's header, its
//! ancestors' headers and its latest save, by kind (newest save first) and by parent. It is
//! built on the first read after a start and brought up to date before every read from the
//! saves logged since ([`ChangeLog::saves_since`]), so a read costs the documents of one kind
//! (or one parent's children) and never shows less than the log held when it began.
//!
//! **Warm-up.** Parsing a body (loading the Automerge document, hydrating it) costs about half
//! a millisecond, and a county supervisor's first case list parses every case. [`warm_up`]
//! builds the index and parses every body the console shows; [`crate::serve`] runs it in the
//! background at start (under a second for a county's 2 000 cases on two cores), after which
//! the first page is as fast as the next ones; the bodies are what the cache holds after one
//! county-wide page anyway.
//!
//! [`ChangeLog::saves_since`]: crate::changelog::ChangeLog::saves_since

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use automerge::Automerge;
use zhichao_core::access::{Principal, can_read};
use zhichao_core::docs::{
    Case, DocBody, DocKind, Header, Notice, Response, Review, RulesVersions, TypedDoc, UnitProfile,
};
use zhichao_core::ids::DocumentId;

use crate::AppState;
use crate::changelog::LogEntry;

use super::{ConsoleError, ConsoleResult};

/// A document the principal may read.
#[derive(Clone, Debug)]
pub struct DocRef {
    /// Its id.
    pub id: DocumentId,
    /// Its immutable header.
    pub header: Header,
    /// The headers of its parent and grandparent, as far as they exist.
    pub ancestors: Vec<Header>,
    /// Its latest accepted save (who, server receipt time, heads).
    pub latest: LogEntry,
}

/// Parsed bodies, keyed by document and the sequence number of the save they reflect.
#[derive(Debug, Default)]
pub struct BodyCache {
    bodies: Mutex<HashMap<DocumentId, CachedBody>>,
}

/// A parsed body and the sequence number of the save it reflects.
type CachedBody = (u64, Arc<dyn Any + Send + Sync>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The console's in-memory index of the change log (see the module documentation): what
/// [`list`], [`get`] and [`children`] read instead of scanning the log.
#[derive(Debug, Default)]
pub struct DocIndex {
    inner: RwLock<Indexed>,
    /// Held by [`warm_up`]: a second warm-up waits for the first instead of doing its work
    /// again.
    warming: Mutex<()>,
}

/// The index's content.
#[derive(Debug, Default)]
struct Indexed {
    /// Whether the documents logged before the first read are in (built from the latest-entry
    /// index of the log, then the saves after [`Indexed::upto`] applied).
    built: bool,
    /// Every save up to this sequence number is reflected.
    upto: u64,
    /// Each logged document with a header: header, ancestors, latest save.
    docs: HashMap<DocumentId, Entry>,
    /// Per kind: latest save's sequence number → document (ascending; read newest first).
    by_kind: HashMap<DocKind, BTreeMap<u64, DocumentId>>,
    /// Per parent: its children (any kind).
    by_parent: HashMap<DocumentId, Vec<DocumentId>>,
    /// Documents whose parent or grandparent header was not logged when they were indexed:
    /// their chain is read again when the log grows (as the scan of every read did).
    incomplete: HashSet<DocumentId>,
}

/// One indexed document.
#[derive(Clone, Debug)]
struct Entry {
    header: Header,
    ancestors: Vec<Header>,
    latest: LogEntry,
}

impl Entry {
    fn doc_ref(&self) -> DocRef {
        DocRef {
            id: self.latest.doc,
            header: self.header.clone(),
            ancestors: self.ancestors.clone(),
            latest: self.latest.clone(),
        }
    }
}

/// Whether a chain read from the log stops before its end: the last header read names a
/// parent that was not found, and fewer than two ancestors were read.
fn chain_incomplete(header: &Header, ancestors: &[Header]) -> bool {
    ancestors.len() < 2 && ancestors.last().unwrap_or(header).parent.is_some()
}

impl Indexed {
    /// Makes `entry` the latest save of its document when it is newer than the one indexed,
    /// reading the header chain of a document seen for the first time. A document without a
    /// logged header is left out, as the log scan did.
    fn apply(&mut self, state: &AppState, entry: LogEntry) -> ConsoleResult<()> {
        let id = entry.doc;
        if let Some(known) = self.docs.get_mut(&id) {
            if entry.seq > known.latest.seq {
                let kind = known.header.kind;
                let old = std::mem::replace(&mut known.latest, entry);
                let seqs = self.by_kind.entry(kind).or_default();
                seqs.remove(&old.seq);
                seqs.insert(known.latest.seq, id);
            }
            return Ok(());
        }
        let Some((header, ancestors)) = state
            .log
            .header_chain(&id)
            .map_err(ConsoleError::internal)?
        else {
            return Ok(());
        };
        if chain_incomplete(&header, &ancestors) {
            self.incomplete.insert(id);
        }
        if let Some(parent) = header.parent {
            self.by_parent.entry(parent).or_default().push(id);
        }
        self.by_kind
            .entry(header.kind)
            .or_default()
            .insert(entry.seq, id);
        self.docs.insert(
            id,
            Entry {
                header,
                ancestors,
                latest: entry,
            },
        );
        Ok(())
    }

    /// Reads again the chains that were incomplete (a parent may have been logged since).
    fn complete_chains(&mut self, state: &AppState) -> ConsoleResult<()> {
        let pending: Vec<DocumentId> = self.incomplete.iter().copied().collect();
        for id in pending {
            let Some((header, ancestors)) = state
                .log
                .header_chain(&id)
                .map_err(ConsoleError::internal)?
            else {
                continue;
            };
            if !chain_incomplete(&header, &ancestors) {
                self.incomplete.remove(&id);
            }
            if let Some(known) = self.docs.get_mut(&id) {
                known.ancestors = ancestors;
            }
        }
        Ok(())
    }

    /// Brings the index up to the log: on the first call every document from the log's
    /// latest-entry index, then the saves after what is reflected.
    fn catch_up(&mut self, state: &AppState) -> ConsoleResult<()> {
        if !self.built {
            // Read before the scan: everything up to it is in the scan; what is appended
            // meanwhile is found again in the saves after it.
            let complete = state.log.indexed_upto().map_err(ConsoleError::internal)?;
            for (_, entry) in state.log.changed_since(0).map_err(ConsoleError::internal)? {
                self.apply(state, entry)?;
            }
            self.upto = complete;
            self.built = true;
        }
        let saves = state
            .log
            .saves_since(self.upto)
            .map_err(ConsoleError::internal)?;
        if saves.is_empty() {
            return Ok(());
        }
        for entry in saves {
            let seq = entry.seq;
            self.apply(state, entry)?;
            self.upto = self.upto.max(seq);
        }
        if !self.incomplete.is_empty() {
            self.complete_chains(state)?;
        }
        Ok(())
    }
}

impl DocIndex {
    /// Brings the index up to the log when it grew, then runs `read` on it.
    fn read<R>(&self, state: &AppState, read: impl FnOnce(&Indexed) -> R) -> ConsoleResult<R> {
        let last = state.log.last_seq().map_err(ConsoleError::internal)?;
        {
            let indexed = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            if indexed.built && indexed.upto >= last {
                return Ok(read(&indexed));
            }
        }
        let mut indexed = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        indexed.catch_up(state)?;
        Ok(read(&indexed))
    }
}

/// A document id from a URL: anything that does not parse is simply not found.
///
/// # Errors
/// [`ConsoleError::NotFound`].
pub fn parse_id(text: &str) -> ConsoleResult<DocumentId> {
    text.parse().map_err(|_| ConsoleError::NotFound)
}

/// Every document of `kind` that `principal` may read, newest change first.
///
/// # Errors
/// [`ConsoleError::Internal`] when the change log cannot be read.
pub fn list(state: &AppState, principal: &Principal, kind: DocKind) -> ConsoleResult<Vec<DocRef>> {
    state.console.index.read(state, |indexed| {
        let Some(seqs) = indexed.by_kind.get(&kind) else {
            return Vec::new();
        };
        seqs.values()
            .rev()
            .filter_map(|id| indexed.docs.get(id))
            .filter(|e| can_read(principal, &e.header, &e.ancestors))
            .map(Entry::doc_ref)
            .collect()
    })
}

/// The document `id` of `kind`, when `principal` may read it.
///
/// # Errors
/// [`ConsoleError::NotFound`] when it does not exist, is of another kind or is not readable;
/// [`ConsoleError::Internal`] when the change log cannot be read.
pub fn get(
    state: &AppState,
    principal: &Principal,
    id: &DocumentId,
    kind: DocKind,
) -> ConsoleResult<DocRef> {
    state
        .console
        .index
        .read(state, |indexed| {
            indexed
                .docs
                .get(id)
                .filter(|e| e.header.kind == kind && can_read(principal, &e.header, &e.ancestors))
                .map(Entry::doc_ref)
        })?
        .ok_or(ConsoleError::NotFound)
}

/// The readable documents of `kind` whose parent is `parent` (the responses to a notice,
/// the reviews of a case or a response), oldest first.
///
/// # Errors
/// As [`list`].
pub fn children(
    state: &AppState,
    principal: &Principal,
    parent: &DocumentId,
    kind: DocKind,
) -> ConsoleResult<Vec<DocRef>> {
    let mut out: Vec<DocRef> = state.console.index.read(state, |indexed| {
        indexed
            .by_parent
            .get(parent)
            .into_iter()
            .flatten()
            .filter_map(|id| indexed.docs.get(id))
            .filter(|e| e.header.kind == kind && can_read(principal, &e.header, &e.ancestors))
            .map(Entry::doc_ref)
            .collect()
    })?;
    out.sort_by_key(|d| (d.header.created_at_ms, d.latest.seq));
    Ok(out)
}

/// The kinds [`warm_up`] parses, in its order (the most numerous, and the home page's, first).
const WARM_KINDS: [DocKind; 6] = [
    DocKind::Case,
    DocKind::Review,
    DocKind::Notice,
    DocKind::Response,
    DocKind::Unit,
    DocKind::Rules,
];

/// Builds the index and parses the body of every logged case, review, notice, response, unit
/// profile and rules document into the cache (newest first within each kind), so later reads
/// find them there. Returns how many bodies it parsed or found cached. Stops early when the
/// server shuts down. A document that does not read is skipped (logged at debug level: the
/// page that shows it reports it). A call while another runs waits for it, then finds its
/// work done.
///
/// # Errors
/// [`ConsoleError::Internal`] when the change log cannot be read.
pub fn warm_up(state: &AppState) -> ConsoleResult<usize> {
    let _one_at_a_time = lock(&state.console.index.warming);
    let docs: Vec<DocRef> = state.console.index.read(state, |indexed| {
        WARM_KINDS
            .iter()
            .filter_map(|kind| indexed.by_kind.get(kind))
            .flat_map(|seqs| seqs.values().rev())
            .filter_map(|id| indexed.docs.get(id))
            .map(Entry::doc_ref)
            .collect()
    })?;
    let mut parsed = 0;
    for doc in &docs {
        if state.is_shutting_down() {
            break;
        }
        let read = match doc.header.kind {
            DocKind::Case => body::<Case>(state, doc).map(drop),
            DocKind::Review => body::<Review>(state, doc).map(drop),
            DocKind::Notice => body::<Notice>(state, doc).map(drop),
            DocKind::Response => body::<Response>(state, doc).map(drop),
            DocKind::Unit => body::<UnitProfile>(state, doc).map(drop),
            DocKind::Rules => body::<RulesVersions>(state, doc).map(drop),
            DocKind::WatchList => continue,
        };
        match read {
            Ok(()) => parsed += 1,
            Err(e) => tracing::debug!(doc_id = %doc.id, error = %e, "warm-up: body does not read"),
        }
    }
    Ok(parsed)
}

/// The stored Automerge document of a readable document.
///
/// # Errors
/// [`ConsoleError::NotFound`] when the store lacks it; [`ConsoleError::Internal`] on a store
/// failure.
pub fn automerge(state: &AppState, doc: &DocRef) -> ConsoleResult<Automerge> {
    state
        .docs
        .load(&doc.id)
        .map_err(ConsoleError::internal)?
        .map(|l| l.doc)
        .ok_or(ConsoleError::NotFound)
}

/// The typed body of a readable document, parsed once per save and cached.
///
/// # Errors
/// As [`automerge`]; [`ConsoleError::Internal`] when the stored document does not parse as
/// `T` (it was checked when accepted, so this means a bug or a damaged store).
pub fn body<T>(state: &AppState, doc: &DocRef) -> ConsoleResult<Arc<T>>
where
    T: DocBody + Send + Sync + 'static,
{
    let cache = &state.console.bodies;
    if let Some((seq, any)) = lock(&cache.bodies).get(&doc.id)
        && *seq == doc.latest.seq
        && let Ok(body) = Arc::clone(any).downcast::<T>()
    {
        return Ok(body);
    }
    let automerge = automerge(state, doc)?;
    let typed = TypedDoc::<T>::open(doc.id, automerge).map_err(ConsoleError::internal)?;
    let body = Arc::new(typed.body().map_err(ConsoleError::internal)?);
    lock(&cache.bodies).insert(
        doc.id,
        (
            doc.latest.seq,
            Arc::clone(&body) as Arc<dyn Any + Send + Sync>,
        ),
    );
    Ok(body)
}

/// The typed body of a readable document for a list, or `None` (with a warning naming the
/// document) when it does not read: one damaged document must not take a whole list page
/// down.
pub fn body_or_skip<T>(state: &AppState, doc: &DocRef) -> Option<Arc<T>>
where
    T: DocBody + Send + Sync + 'static,
{
    match body::<T>(state, doc) {
        Ok(body) => Some(body),
        Err(e) => {
            tracing::warn!(
                doc_id = %doc.id,
                kind = %doc.header.kind,
                error = %e,
                "console: skipping a document that does not read"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use zhichao_core::fixtures::pid;
    use zhichao_core::ids::TeamId;
    use zhichao_core::scope::Scope;

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::ServerConfig;

    const NOW: u64 = 1_795_881_600_000;
    const UNIT: &str = "914403001922038216";

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap()
    }

    fn township_a() -> Scope {
        scope("140522/township/140522100")
    }

    fn township_b() -> Scope {
        scope("140522/township/140522101")
    }

    fn supervisor(name: &str, scope: Scope) -> Principal {
        Principal::Supervisor {
            id: pid(name),
            scope,
        }
    }

    fn officer_of(team: &str) -> Principal {
        Principal::Officer {
            id: pid("officer:wang"),
            team: TeamId::new(team).unwrap(),
            scope: township_a(),
        }
    }

    fn header(kind: DocKind, scope: Scope, parent: Option<DocumentId>) -> Header {
        Header {
            kind,
            schema: zhichao_core::docs::SCHEMA_VERSION,
            scope,
            team: matches!(kind, DocKind::Case | DocKind::Notice)
                .then(|| TeamId::new("team-a").unwrap()),
            unit: matches!(kind, DocKind::Notice | DocKind::Response | DocKind::Unit)
                .then(|| UNIT.parse().unwrap()),
            parent,
            created_by: pid("x:1"),
            created_at_ms: 1,
        }
    }

    fn id(n: u8) -> DocumentId {
        DocumentId::from_bytes([n; 16])
    }

    fn save(state: &AppState, doc: DocumentId, header: &Header, by: &str) -> u64 {
        state
            .log
            .append(&[(doc, header.clone(), pid(by), vec![])], NOW)
            .unwrap()
    }

    async fn state() -> AppState {
        AppState::temporary(ServerConfig::default(), Arc::new(ManualClock::new(NOW)))
            .await
            .unwrap()
    }

    /// What `list` answered before the index: a scan of the whole log, one header chain per
    /// document.
    fn scan(state: &AppState, principal: &Principal, kind: DocKind) -> Vec<(DocumentId, u64)> {
        let mut out = Vec::new();
        for (id, entry) in state.log.changed_since(0).unwrap() {
            let Some((header, ancestors)) = state.log.header_chain(&id).unwrap() else {
                continue;
            };
            if header.kind == kind && can_read(principal, &header, &ancestors) {
                out.push((id, entry.seq));
            }
        }
        out.sort_by_key(|(_, seq)| std::cmp::Reverse(*seq));
        out
    }

    fn listed(state: &AppState, principal: &Principal, kind: DocKind) -> Vec<(DocumentId, u64)> {
        list(state, principal, kind)
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.latest.seq))
            .collect()
    }

    /// The index answers what the scan of the log answers, for every kind and principal.
    fn assert_as_scan(state: &AppState) {
        let principals = [
            supervisor("sup:county", scope("140522")),
            supervisor("sup:a", township_a()),
            supervisor("sup:b", township_b()),
            officer_of("team-a"),
            officer_of("team-z"),
            Principal::Enterprise {
                id: pid("ent:1"),
                unit: UNIT.parse().unwrap(),
            },
        ];
        for p in &principals {
            for kind in [
                DocKind::Case,
                DocKind::Notice,
                DocKind::Response,
                DocKind::Review,
                DocKind::Unit,
                DocKind::Rules,
            ] {
                assert_eq!(
                    listed(state, p, kind),
                    scan(state, p, kind),
                    "{p:?} {kind:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn lists_by_kind_newest_first_and_follows_new_saves() {
        let state = state().await;
        let sup_a = supervisor("sup:a", township_a());
        let county = supervisor("sup:county", scope("140522"));
        let case_a = header(DocKind::Case, township_a(), None);
        save(&state, id(1), &case_a, "officer:wang");
        save(
            &state,
            id(2),
            &header(DocKind::Case, township_b(), None),
            "officer:li",
        );
        save(
            &state,
            id(3),
            &header(DocKind::Notice, township_a(), None),
            "officer:wang",
        );
        assert_eq!(
            listed(&state, &county, DocKind::Case)
                .into_iter()
                .map(|(d, _)| d)
                .collect::<Vec<_>>(),
            [id(2), id(1)]
        );
        // Kinds apart; another township's case unreadable, and 404 by id.
        assert_eq!(listed(&state, &sup_a, DocKind::Case).len(), 1);
        assert_eq!(listed(&state, &county, DocKind::Notice)[0].0, id(3));
        assert!(get(&state, &sup_a, &id(1), DocKind::Case).is_ok());
        assert!(matches!(
            get(&state, &sup_a, &id(2), DocKind::Case),
            Err(ConsoleError::NotFound)
        ));
        assert!(matches!(
            get(&state, &county, &id(3), DocKind::Case),
            Err(ConsoleError::NotFound)
        ));
        assert!(matches!(
            get(&state, &county, &id(9), DocKind::Case),
            Err(ConsoleError::NotFound)
        ));
        // A new save of case 1 moves it first, with its new entry; a new case appears.
        let seq = save(&state, id(1), &case_a, "officer:li");
        save(
            &state,
            id(4),
            &header(DocKind::Case, township_a(), None),
            "officer:li",
        );
        let cases = list(&state, &county, DocKind::Case).unwrap();
        assert_eq!(
            cases.iter().map(|d| d.id).collect::<Vec<_>>(),
            [id(4), id(1), id(2)]
        );
        assert_eq!(cases[1].latest.seq, seq);
        assert_eq!(cases[1].latest.principal, pid("officer:li"));
        assert_eq!(cases[1].header, case_a);
        let got = get(&state, &sup_a, &id(1), DocKind::Case).unwrap();
        assert_eq!(got.latest.seq, seq);
        assert_as_scan(&state);
    }

    #[tokio::test]
    async fn children_and_chains_completed_when_a_parent_is_logged_later() {
        let state = state().await;
        let officer = officer_of("team-a");
        let case = header(DocKind::Case, township_a(), None);
        save(&state, id(1), &case, "officer:wang");
        save(
            &state,
            id(2),
            &header(DocKind::Notice, township_a(), None),
            "officer:wang",
        );
        // A review of a response that is not logged yet: its chain stops at the response.
        let review = header(DocKind::Review, township_a(), Some(id(3)));
        save(&state, id(4), &review, "sup:a");
        assert!(listed(&state, &officer, DocKind::Review).is_empty());
        assert_as_scan(&state);
        // The response to the notice arrives: the officer of the notice's team reads the
        // review now, through the response and the notice.
        save(
            &state,
            id(3),
            &header(DocKind::Response, township_a(), Some(id(2))),
            "ent:1",
        );
        let reviews = list(&state, &officer, DocKind::Review).unwrap();
        assert_eq!(reviews.len(), 1);
        assert_eq!(
            reviews[0]
                .ancestors
                .iter()
                .map(|h| h.kind)
                .collect::<Vec<_>>(),
            [DocKind::Response, DocKind::Notice]
        );
        assert_as_scan(&state);
        // Children: by parent and kind, oldest first; none for another parent or kind.
        let mut later = header(DocKind::Review, township_a(), Some(id(1)));
        later.created_at_ms = 5;
        save(&state, id(6), &later, "sup:a");
        save(
            &state,
            id(5),
            &header(DocKind::Review, township_a(), Some(id(1))),
            "sup:a",
        );
        let county = supervisor("sup:county", scope("140522"));
        let of_case = children(&state, &county, &id(1), DocKind::Review).unwrap();
        assert_eq!(
            of_case.iter().map(|d| d.id).collect::<Vec<_>>(),
            [id(5), id(6)]
        );
        assert!(
            children(&state, &county, &id(1), DocKind::Response)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            children(&state, &county, &id(3), DocKind::Review).unwrap()[0].id,
            id(4)
        );
        let sup_b = supervisor("sup:b", township_b());
        assert!(
            children(&state, &sup_b, &id(1), DocKind::Review)
                .unwrap()
                .is_empty()
        );
        assert_as_scan(&state);
    }

    #[tokio::test]
    async fn warm_up_parses_the_bodies_the_pages_read_from_the_cache() {
        use zhichao_core::fixtures::{case, case_body, officer};
        let state = state().await;
        // A case written through the hub, as a phone's.
        let doc = case(7, "officer:wang", "team-1");
        let answer = state
            .sync
            .write(
                doc.id(),
                doc.automerge().save(),
                officer("officer:wang", "team-1"),
            )
            .await
            .unwrap();
        answer.unwrap();
        // The case and the rules document published at start.
        assert_eq!(warm_up(&state).unwrap(), 2);
        let county = supervisor("sup:county", scope("140522"));
        let listed = list(&state, &county, DocKind::Case).unwrap();
        let cached = lock(&state.console.bodies.bodies)
            .get(&doc.id())
            .map(|(seq, _)| *seq);
        assert_eq!(cached, Some(listed[0].latest.seq));
        assert_eq!(
            body::<Case>(&state, &listed[0]).unwrap().case_number,
            case_body(7).case_number
        );
        // Once warm, a second warm-up finds everything cached.
        assert_eq!(warm_up(&state).unwrap(), 2);
        state.sync.shutdown();
    }

    #[tokio::test]
    async fn is_rebuilt_from_the_log_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = || ServerConfig {
            data_dir: dir.path().to_owned(),
            ..ServerConfig::default()
        };
        let county = supervisor("sup:county", scope("140522"));
        let case = header(DocKind::Case, township_a(), None);
        let second = {
            let state = AppState::open(config(), Arc::new(ManualClock::new(NOW)))
                .await
                .unwrap();
            save(&state, id(1), &case, "officer:wang");
            let second = save(&state, id(2), &case, "officer:wang");
            assert_eq!(listed(&state, &county, DocKind::Case).len(), 2);
            state.sync.shutdown();
            second
        };
        let state = AppState::open(config(), Arc::new(ManualClock::new(NOW)))
            .await
            .unwrap();
        let seq = save(&state, id(1), &case, "officer:li");
        assert_eq!(
            listed(&state, &county, DocKind::Case),
            [(id(1), seq), (id(2), second)]
        );
        assert!(listed(&state, &county, DocKind::Notice).is_empty());
        assert_as_scan(&state);
        state.sync.shutdown();
    }
}
