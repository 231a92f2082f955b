//! [`FieldStore`]: the documents of one device on top of a [`DocStore`], with the lookups a
//! patrol needs offline.
//!
//! The store knows bytes and index keys; the documents know their schema. This layer joins
//! them: it derives each document's [`IndexEntry`] when saving (plate, status, source unit,
//! parent, open notice), keeps derived entries of *other* documents current (a review changes
//! its case's status, an accepted response closes its notice), and makes case numbers from a
//! durable per-device sequence.
//!
//! It also answers the roadside question of the offline watch list (超限出场 watch list,
//! [`crate::docs::watchlist`]): did this truck leave a source unit over the limit in the last
//! [`WATCHLIST_DAYS`] days ([`FieldStore::watchlist_lookup`], by the lists' deterministic ids,
//! no listing), and drops the lists of older days ([`FieldStore::prune_watchlists`]).

use automerge::ActorId;
use rand::Rng;

use crate::calendar::LocalDay;
use crate::docs::{
    Case, CaseStatus, DocBody, DocError, DocKind, Header, Notice, REVOCATION_THRESHOLD, Response,
    Review, TypedDoc, UnitProfile, WATCHLIST_DAYS, WatchEntry, WatchList, case_status, read_header,
    watchlist_document_id,
};
use crate::ids::{CaseNumber, CaseNumberError, DevicePrefix, DocumentId};
use crate::plate::Plate;
use crate::scope::Scope;
use crate::store::{DocStore, IndexEntry, KIND_INDEX, LoadReport, SaveReport, StoreError};
use crate::uscc::Uscc;

/// Index names used by [`FieldStore`].
pub mod index {
    /// A case's vehicle plate, canonical form.
    pub const PLATE: &str = "plate";
    /// A case's status ([`crate::docs::CaseStatus::as_str`]).
    pub const STATUS: &str = "status";
    /// The source unit (USCC) a case, notice, response or unit profile concerns.
    pub const UNIT: &str = "unit";
    /// The parent document of a response or review.
    pub const PARENT: &str = "parent";
    /// Present (value "") on a notice not yet settled by an accepted response.
    pub const OPEN_NOTICE: &str = "open_notice";
}

/// Why a field-store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The store failed.
    #[error(transparent)]
    Store(Box<StoreError>),
    /// A document is malformed or an edit was refused.
    #[error(transparent)]
    Doc(Box<DocError>),
    /// A case number could not be made.
    #[error(transparent)]
    CaseNumber(#[from] CaseNumberError),
    /// The sequence overflowed the case-number format.
    #[error("case number sequence exhausted")]
    SequenceExhausted,
}

impl From<StoreError> for FieldError {
    fn from(e: StoreError) -> Self {
        FieldError::Store(Box::new(e))
    }
}

impl From<DocError> for FieldError {
    fn from(e: DocError) -> Self {
        FieldError::Doc(Box::new(e))
    }
}

/// Result alias of this module.
pub type Result<T, E = FieldError> = std::result::Result<T, E>;

/// A document loaded from the store, with what loading found.
#[derive(Debug)]
pub struct Opened<T> {
    /// The document.
    pub doc: TypedDoc<T>,
    /// Chunks dropped as torn or corrupt, if any.
    pub report: LoadReport,
}

/// The documents of one device over a store.
///
/// Every copy it hands out ([`FieldStore::create`], [`FieldStore::open`]) writes as a fresh
/// Automerge actor: two copies of one document open at once (a list screen and an edit screen)
/// must never share an actor, or their changes would collide on sequence numbers.
#[derive(Debug)]
pub struct FieldStore<S> {
    store: S,
}

/// Name of the durable sequence behind case numbers.
const CASE_SEQUENCE: &str = "case_number";

impl<S: DocStore> FieldStore<S> {
    /// A field store over `store`.
    pub fn new(store: S) -> Self {
        FieldStore { store }
    }

    /// The underlying store (pending list, sync states).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The next case number of this device: durable, so numbers never repeat after a crash.
    ///
    /// # Errors
    /// Store errors; [`FieldError::SequenceExhausted`] past 4 294 967 295 cases.
    pub fn next_case_number(&self, prefix: &DevicePrefix, year: u16) -> Result<CaseNumber> {
        let seq = self.store.next_sequence(CASE_SEQUENCE)?;
        let seq = u32::try_from(seq).map_err(|_| FieldError::SequenceExhausted)?;
        Ok(CaseNumber::new(prefix.clone(), year, seq)?)
    }

    /// Creates a document with a fresh id from `rng` and saves it (durably).
    ///
    /// # Errors
    /// [`DocError`] when the header or body is refused; store errors.
    pub fn create<T: DocBody, R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        header: &Header,
        body: &T,
    ) -> Result<TypedDoc<T>> {
        let doc = TypedDoc::create(DocumentId::generate(rng), ActorId::random(), header, body)?;
        self.save(&doc)?;
        Ok(doc)
    }

    /// Loads a document as type `T` (`None` when the store does not have it).
    ///
    /// # Errors
    /// [`DocError::WrongKind`] and other document errors; store errors.
    pub fn open<T: DocBody>(&self, id: &DocumentId) -> Result<Option<Opened<T>>> {
        let Some(loaded) = self.store.load(id)? else {
            return Ok(None);
        };
        let doc = loaded.doc.with_actor(ActorId::random());
        Ok(Some(Opened {
            doc: TypedDoc::open(*id, doc)?,
            report: loaded.report,
        }))
    }

    /// Saves a document (durably) with its index entry, and refreshes the entries that depend
    /// on it: a review's case or response's notice, a response's notice.
    ///
    /// # Errors
    /// Store and document errors.
    pub fn save<T: DocBody>(&self, doc: &TypedDoc<T>) -> Result<SaveReport> {
        self.save_automerge(&doc.id(), doc.automerge())
    }

    /// Saves a document received by sync (any kind: the header says which), as
    /// [`FieldStore::save`] does.
    ///
    /// # Errors
    /// [`DocError`] when the document has no valid header or its body does not read (it is
    /// not stored then); store errors.
    pub fn save_synced(&self, id: &DocumentId, doc: &automerge::Automerge) -> Result<SaveReport> {
        self.save_automerge(id, doc)
    }

    fn save_automerge(&self, id: &DocumentId, am: &automerge::Automerge) -> Result<SaveReport> {
        let header = read_header(am)?;
        let entry = self.index_entry(*id, am, &header)?;
        let report = self.store.save(id, am, &entry)?;
        if report.merged_stored_changes {
            // The store kept changes this copy lacked: index what it holds, not this copy.
            self.reindex(id)?;
        }
        // The document is saved. Refreshing the entries that depend on it can fail on a
        // damaged neighbour; that must not turn a completed save into an error.
        if let Err(e) = self.refresh_dependents(&header) {
            tracing::warn!(doc_id = %id, error = %e, "could not refresh dependent index entries");
        }
        Ok(report)
    }

    /// Re-indexes the documents whose entries depend on a document with `header`.
    fn refresh_dependents(&self, header: &Header) -> Result<()> {
        let Some(parent) = header.parent else {
            return Ok(());
        };
        self.reindex(&parent)?;
        if header.kind == DocKind::Review
            && let Some(grand) = self.store.load(&parent)?
        {
            // A review of a response may settle the response's notice.
            let grand_header = read_header(&grand.doc)?;
            if grand_header.kind == DocKind::Response
                && let Some(notice) = grand_header.parent
            {
                self.reindex(&notice)?;
            }
        }
        Ok(())
    }

    /// Recomputes and stores the index entry of a stored document (no new changes written).
    fn reindex(&self, id: &DocumentId) -> Result<()> {
        let Some(loaded) = self.store.load(id)? else {
            return Ok(());
        };
        if !loaded.report.is_complete() {
            tracing::warn!(doc_id = %id, report = ?loaded.report, "re-indexing a document loaded with losses");
        }
        let header = read_header(&loaded.doc)?;
        let entry = self.index_entry(*id, &loaded.doc, &header)?;
        if self.store.index_entry(id)?.as_ref() != Some(&entry) {
            self.store.save(id, &loaded.doc, &entry)?;
        }
        Ok(())
    }

    /// The reviews stored for `parent`.
    fn reviews_of(&self, parent: &DocumentId) -> Result<Vec<Review>> {
        let mut reviews = Vec::new();
        for id in self.store.find(index::PARENT, &parent.to_string())? {
            if self
                .store
                .index_entry(&id)?
                .is_some_and(|e| e.kind == "review")
                && let Some(opened) = self.open::<Review>(&id)?
            {
                reviews.push(opened.doc.body()?);
            }
        }
        Ok(reviews)
    }

    /// The index entry of a document, derived from its header and body.
    fn index_entry(
        &self,
        id: DocumentId,
        am: &automerge::Automerge,
        header: &Header,
    ) -> Result<IndexEntry> {
        let mut entry = IndexEntry::new(header.kind.as_str());
        if header.kind == DocKind::WatchList {
            // Found by its deterministic id; the kind only, for pruning.
            return Ok(entry);
        }
        if let Some(parent) = header.parent {
            entry = entry.with(index::PARENT, parent.to_string());
        }
        if let Some(unit) = &header.unit {
            entry = entry.with(index::UNIT, unit.to_string());
        }
        match header.kind {
            DocKind::Case => {
                let case: Case = TypedDoc::<Case>::open(id, am.clone())?.body()?;
                if let Some(v) = &case.vehicle {
                    entry = entry.with(index::PLATE, v.plate.to_string());
                }
                if let Some(unit) = &case.source_unit {
                    entry = entry.with(index::UNIT, unit.to_string());
                }
                let status = case_status(&case, &self.reviews_of(&id)?);
                entry = entry.with(index::STATUS, status.as_str());
            }
            DocKind::Notice => {
                // Settled when a supervisor accepted one of the unit's responses to it.
                let mut settled = false;
                for response in self.store.find(index::PARENT, &id.to_string())? {
                    if self
                        .store
                        .index_entry(&response)?
                        .is_some_and(|e| e.kind == "response")
                        && self.reviews_of(&response)?.iter().any(Review::accepts)
                    {
                        settled = true;
                        break;
                    }
                }
                if !settled {
                    entry = entry.with(index::OPEN_NOTICE, "");
                }
            }
            DocKind::Response
            | DocKind::Review
            | DocKind::Unit
            | DocKind::Rules
            | DocKind::WatchList => {}
        }
        Ok(entry)
    }

    /// Cases of a vehicle, by plate.
    ///
    /// # Errors
    /// Store errors.
    pub fn cases_by_plate(&self, plate: &Plate) -> Result<Vec<DocumentId>> {
        Ok(self.store.find(index::PLATE, &plate.to_string())?)
    }

    /// Cases in a status.
    ///
    /// # Errors
    /// Store errors.
    pub fn cases_by_status(&self, status: CaseStatus) -> Result<Vec<DocumentId>> {
        Ok(self.store.find(index::STATUS, status.as_str())?)
    }

    /// Cases concerning a source unit.
    ///
    /// # Errors
    /// Store errors.
    pub fn cases_by_unit(&self, unit: &Uscc) -> Result<Vec<DocumentId>> {
        self.of_kind(index::UNIT, unit.as_str(), "case")
    }

    /// Notices not yet settled by an accepted response.
    ///
    /// # Errors
    /// Store errors.
    pub fn open_notices(&self) -> Result<Vec<DocumentId>> {
        Ok(self.store.find(index::OPEN_NOTICE, "")?)
    }

    /// The reviews of a case (for its status) or of a response.
    ///
    /// # Errors
    /// Store and document errors.
    pub fn reviews(&self, parent: &DocumentId) -> Result<Vec<Review>> {
        self.reviews_of(parent)
    }

    /// The status of a stored case, from its events and stored reviews.
    ///
    /// # Errors
    /// Store and document errors; `None` when the case is not stored.
    pub fn case_status(&self, id: &DocumentId) -> Result<Option<CaseStatus>> {
        let Some(opened) = self.open::<Case>(id)? else {
            return Ok(None);
        };
        Ok(Some(case_status(
            &opened.doc.body()?,
            &self.reviews_of(id)?,
        )))
    }

    /// Documents of `kind` concerning a source unit: its notices, its responses, its profile.
    ///
    /// # Errors
    /// Store errors.
    pub fn by_unit(&self, unit: &Uscc, kind: DocKind) -> Result<Vec<DocumentId>> {
        self.of_kind(index::UNIT, unit.as_str(), kind.as_str())
    }

    /// Documents of `kind` whose parent is `parent`: the responses to a notice, the reviews
    /// of a case or response.
    ///
    /// # Errors
    /// Store errors.
    pub fn children(&self, parent: &DocumentId, kind: DocKind) -> Result<Vec<DocumentId>> {
        self.of_kind(index::PARENT, &parent.to_string(), kind.as_str())
    }

    /// The over-limit departures (超限出场) of `plate` on the watch lists of `county` this
    /// device holds for `today` and the [`WATCHLIST_DAYS`]` - 1` days before (China Standard
    /// Time days), newest first (by weighing time). Reads the lists by their deterministic ids
    /// ([`watchlist_document_id`]); a day whose list is not on the device (not synced yet, no
    /// departure that day) adds nothing. Each hit carries the plate's highest count of
    /// over-limit findings in its calendar year among the entries read (the server counts
    /// them as it writes each entry, so the latest entry knows the most), and whether that
    /// count crosses 公路安全保护条例 Art. 66 ([`REVOCATION_THRESHOLD`]).
    ///
    /// A list that does not read (damaged, not a watch list) is skipped with a warning, so it
    /// does not hide the other days; so is an entry whose USCC does not parse.
    ///
    /// # Errors
    /// Store errors.
    pub fn watchlist_lookup(
        &self,
        county: &Scope,
        plate: &Plate,
        today: LocalDay,
    ) -> Result<Vec<WatchHit>> {
        let mut hits = Vec::new();
        for day in today.recent(WATCHLIST_DAYS) {
            let id = watchlist_document_id(county, day);
            let list = match self.open::<WatchList>(&id).and_then(|opened| match opened {
                Some(opened) => Ok(Some(opened.doc.body()?)),
                None => Ok(None),
            }) {
                Ok(Some(list)) => list,
                Ok(None) => continue,
                Err(FieldError::Doc(e)) => {
                    tracing::warn!(doc_id = %id, %day, error = %e, "a watch list does not read");
                    continue;
                }
                Err(e) => return Err(e),
            };
            for entry in list.of_plate(plate) {
                match WatchHit::new(day, plate, entry) {
                    Some(hit) => hits.push(hit),
                    None => {
                        tracing::warn!(doc_id = %id, %day, "a watch-list entry names a malformed USCC")
                    }
                }
            }
        }
        // The plate's highest count per calendar year, on every hit of that year.
        let mut highest: std::collections::BTreeMap<i32, u32> = std::collections::BTreeMap::new();
        for hit in &hits {
            let count = highest.entry(hit.day.year()).or_default();
            *count = (*count).max(hit.year_count);
        }
        for hit in &mut hits {
            hit.year_count = highest
                .get(&hit.day.year())
                .copied()
                .unwrap_or(hit.year_count);
            hit.revocation_threshold_crossed = hit.year_count > REVOCATION_THRESHOLD;
        }
        hits.sort_by(|a, b| {
            (b.day, b.entry.weighed_at_ms, &b.entry.record_id).cmp(&(
                a.day,
                a.entry.weighed_at_ms,
                &a.entry.record_id,
            ))
        });
        Ok(hits)
    }

    /// Removes the watch lists (of any county) older than `today` and the
    /// [`WATCHLIST_DAYS`]` - 1` days before, with everything the store keeps for them
    /// ([`DocStore::remove`]); returns how many were removed. Found by the kind index; a
    /// list's day is read from its body, or else from its header's `created_at_ms` (the
    /// server sets it to the start of the day). A list whose day cannot be read either way is
    /// kept (with a warning), as are lists of days after `today` (a device clock behind).
    ///
    /// # Errors
    /// Store errors (the lists removed before the failure stay removed).
    pub fn prune_watchlists(&self, today: LocalDay) -> Result<usize> {
        let oldest_kept = today
            .recent(WATCHLIST_DAYS)
            .last()
            .copied()
            .unwrap_or(today);
        let mut removed = 0;
        for id in self.store.find(KIND_INDEX, DocKind::WatchList.as_str())? {
            let Some(day) = self.watchlist_day(&id)? else {
                continue;
            };
            if day < oldest_kept && self.store.remove(&id)? {
                tracing::debug!(doc_id = %id, %day, "watch list pruned");
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The day of a stored watch list: its body's, or its header's `created_at_ms`; `None`
    /// (logged) when neither reads or the document is gone.
    fn watchlist_day(&self, id: &DocumentId) -> Result<Option<LocalDay>> {
        let loaded = match self.store.load(id) {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return Ok(None),
            Err(StoreError::CorruptDocument { .. }) => {
                tracing::warn!(doc_id = %id, "a watch list does not load; kept");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let header = read_header(&loaded.doc);
        let from_body = TypedDoc::<WatchList>::open(*id, loaded.doc)
            .and_then(|doc| doc.body())
            .ok()
            .and_then(|list| list.day.parse::<LocalDay>().ok());
        let day = from_body.or_else(|| {
            header
                .ok()
                .and_then(|header| LocalDay::of_ms(header.created_at_ms))
        });
        if day.is_none() {
            tracing::warn!(doc_id = %id, "a watch list's day does not read; kept");
        }
        Ok(day)
    }

    fn of_kind(&self, index: &str, value: &str, kind: &str) -> Result<Vec<DocumentId>> {
        let mut out = Vec::new();
        for id in self.store.find(index, value)? {
            if self.store.index_entry(&id)?.is_some_and(|e| e.kind == kind) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// One over-limit departure (超限出场) of a plate found on a watch list kept on the device
/// ([`FieldStore::watchlist_lookup`]): that the truck left a source unit over the limit, when,
/// and by how much, as the weighbridge reported it to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchHit {
    /// The day of the list (China Standard Time).
    pub day: LocalDay,
    /// The plate.
    pub plate: Plate,
    /// The source unit (货运源头单位) the truck left.
    pub unit: Uscc,
    /// The entry as the list holds it (unit name, record id, times, masses, whether the
    /// configuration was assumed; its `year_count` is the one written with it).
    pub entry: WatchEntry,
    /// The plate's over-limit findings in the calendar year of `day`: the highest count among
    /// the entries of that year on the lists read (this departure included).
    pub year_count: u32,
    /// `year_count` is more than [`REVOCATION_THRESHOLD`]: 公路安全保护条例 Art. 66 revokes
    /// the vehicle's operating certificate (道路运输证).
    pub revocation_threshold_crossed: bool,
}

impl WatchHit {
    /// The hit of `entry` on the list of `day`; `None` when the entry's USCC is malformed.
    fn new(day: LocalDay, plate: &Plate, entry: &WatchEntry) -> Option<Self> {
        Some(WatchHit {
            day,
            plate: plate.clone(),
            unit: entry.unit.parse().ok()?,
            entry: entry.clone(),
            year_count: entry.year_count,
            revocation_threshold_crossed: entry.revocation_threshold_crossed(),
        })
    }
}

/// Types that [`FieldStore::open`] can read, re-exported for convenience.
pub type NoticeDoc = TypedDoc<Notice>;
/// See [`NoticeDoc`].
pub type ResponseDoc = TypedDoc<Response>;
/// See [`NoticeDoc`].
pub type UnitDoc = TypedDoc<UnitProfile>;
/// See [`NoticeDoc`].
pub type CaseDoc = TypedDoc<Case>;
/// See [`NoticeDoc`].
pub type ReviewDoc = TypedDoc<Review>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::{
        Agency, CaseKind, Deadline, Officer, OnSiteRecord, ReviewDecision, SCHEMA_VERSION, Stage,
        TextField, Vehicle,
    };
    use crate::ids::{EnforcementId, PrincipalId, TeamId};
    use crate::jurisdiction::YANGCHENG_COUNTY;
    use crate::rules::{RulesConfig, VehicleConfiguration};
    use crate::scope::Scope;
    use crate::store::{MemoryStore, SledStore};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const T0: i64 = 1_780_000_000_000;

    fn p(s: &str) -> PrincipalId {
        PrincipalId::new(s).unwrap()
    }

    fn header(kind: DocKind, unit: Option<&Uscc>, parent: Option<DocumentId>) -> Header {
        let team = matches!(kind, DocKind::Case | DocKind::Notice)
            .then(|| TeamId::new("yc-joint-1").unwrap());
        Header {
            kind,
            schema: SCHEMA_VERSION,
            scope: Scope::county(YANGCHENG_COUNTY).unwrap(),
            team,
            unit: unit.cloned(),
            parent,
            created_by: p("officer:wang"),
            created_at_ms: T0,
        }
    }

    fn officers() -> Vec<Officer> {
        vec![
            Officer {
                name: "王强".to_owned(),
                enforcement_id: EnforcementId::new("14052219001").unwrap(),
                agency: Agency::Transport,
            },
            Officer {
                name: "李明".to_owned(),
                enforcement_id: EnforcementId::new("140522").unwrap(),
                agency: Agency::TrafficPolice,
            },
        ]
    }

    fn case_body(number: CaseNumber, plate: &str, unit: Option<&Uscc>) -> Case {
        let mut case = Case::new(
            number,
            CaseKind::RoadsideCheck,
            &RulesConfig::default(),
            OnSiteRecord {
                place: "S329".into(),
                gps: None,
                started_at_ms: T0,
                ended_at_ms: None,
                officers: officers(),
                person_on_site: None,
            },
        );
        case.vehicle = Some(Vehicle {
            plate: plate.parse().unwrap(),
            plate_as_typed: plate.to_owned(),
            colour: None,
            configuration: VehicleConfiguration::axles_only(6),
        });
        case.source_unit = unit.cloned();
        case
    }

    fn review(decision: ReviewDecision) -> Review {
        Review {
            decision,
            comments: TextField::default(),
            reviewed_at_ms: T0,
        }
    }

    fn lookups_work<S: DocStore>(fs: &FieldStore<S>) {
        let mut rng = StdRng::seed_from_u64(42);
        let prefix = DevicePrefix::new("K7Q2").unwrap();
        let unit: Uscc = "914403001922038216".parse().unwrap();
        let n1 = fs.next_case_number(&prefix, 2026).unwrap();
        let n2 = fs.next_case_number(&prefix, 2026).unwrap();
        assert_eq!((n1.sequence(), n2.sequence()), (1, 2));

        let mut case = fs
            .create(
                &mut rng,
                &header(DocKind::Case, None, None),
                &case_body(n1, "晋E12345", Some(&unit)),
            )
            .unwrap();
        let other = fs
            .create(
                &mut rng,
                &header(DocKind::Case, None, None),
                &case_body(n2, "晋E54321", None),
            )
            .unwrap();
        let plate: Plate = "晋e·12345".parse().unwrap();
        assert_eq!(fs.cases_by_plate(&plate).unwrap(), [case.id()]);
        assert_eq!(fs.cases_by_unit(&unit).unwrap(), [case.id()]);
        let mut drafts = fs.cases_by_status(CaseStatus::Draft).unwrap();
        drafts.sort();
        let mut both = vec![case.id(), other.id()];
        both.sort();
        assert_eq!(drafts, both);

        // Walk the case to closing: pending until a supervisor accepts.
        let wang = p("officer:wang");
        case.update(&wang, T0, |c| {
            for stage in Stage::ALL {
                c.record_stage(stage, T0, wang.clone(), "")?;
            }
            Ok(())
        })
        .unwrap();
        fs.save(&case).unwrap();
        assert_eq!(
            fs.cases_by_status(CaseStatus::ClosePending).unwrap(),
            [case.id()]
        );
        let mut review_header = header(DocKind::Review, None, Some(case.id()));
        review_header.created_by = p("supervisor:zhao");
        fs.create(&mut rng, &review_header, &review(ReviewDecision::Accept))
            .unwrap();
        assert_eq!(fs.cases_by_status(CaseStatus::Closed).unwrap(), [case.id()]);
        assert!(
            fs.cases_by_status(CaseStatus::ClosePending)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            fs.case_status(&case.id()).unwrap(),
            Some(CaseStatus::Closed)
        );

        // A notice stays open until a response to it is accepted.
        let notice = fs
            .create(
                &mut rng,
                &header(DocKind::Notice, Some(&unit), None),
                &Notice {
                    case: case.id(),
                    unit_name: "某某煤业".to_owned(),
                    legal_representative: None,
                    facts: "放行超限车辆".into(),
                    legal_basis: "公路安全保护条例 第四十一条".into(),
                    deadline: Deadline::Immediately,
                    issued_by: officers(),
                    issued_at_ms: T0,
                    review_body: "阳城县人民政府".to_owned(),
                    appeal_body: "阳城县人民法院".to_owned(),
                    photos: Vec::new(),
                },
            )
            .unwrap();
        assert_eq!(fs.open_notices().unwrap(), [notice.id()]);
        let mut response_header = header(DocKind::Response, Some(&unit), Some(notice.id()));
        response_header.created_by = p("unit:914403001922038216");
        let response = fs
            .create(&mut rng, &response_header, &Response::default())
            .unwrap();
        let mut returned_header = header(DocKind::Review, None, Some(response.id()));
        returned_header.created_by = p("supervisor:zhao");
        fs.create(
            &mut rng,
            &returned_header,
            &review(ReviewDecision::Return {
                reasons: vec!["无照片".to_owned()],
            }),
        )
        .unwrap();
        assert_eq!(
            fs.open_notices().unwrap(),
            [notice.id()],
            "returned: still open"
        );
        fs.create(&mut rng, &returned_header, &review(ReviewDecision::Accept))
            .unwrap();
        assert!(fs.open_notices().unwrap().is_empty(), "accepted: settled");

        // Opening as the wrong kind is a typed error.
        assert!(matches!(
            fs.open::<Notice>(&case.id()),
            Err(FieldError::Doc(e)) if matches!(*e, DocError::WrongKind { .. })
        ));
        assert!(
            fs.open::<Case>(&DocumentId::from_bytes([9; 16]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_stale_copy_does_not_leave_a_stale_index() {
        let fs = FieldStore::new(MemoryStore::new());
        let mut rng = StdRng::seed_from_u64(7);
        let number = fs
            .next_case_number(&DevicePrefix::new("K7Q2").unwrap(), 2026)
            .unwrap();
        let stale = fs
            .create(
                &mut rng,
                &header(DocKind::Case, None, None),
                &case_body(number, "晋E12345", None),
            )
            .unwrap();
        // Another copy corrects the plate and is saved.
        let mut fresh = fs.open::<Case>(&stale.id()).unwrap().unwrap().doc;
        fresh
            .update(&p("officer:li"), T0, |c| {
                if let Some(v) = &mut c.vehicle {
                    v.plate = "晋E99999"
                        .parse()
                        .map_err(|_| DocError::Rule(String::new()))?;
                }
                Ok(())
            })
            .unwrap();
        fs.save(&fresh).unwrap();
        // The stale copy (old plate) is saved again with another edit.
        let mut stale = stale;
        stale
            .update(&p("officer:wang"), T0, |c| {
                c.findings = "补充".into();
                Ok(())
            })
            .unwrap();
        fs.save(&stale).unwrap();
        let id = stale.id();
        assert_eq!(
            fs.cases_by_plate(&"晋E99999".parse().unwrap()).unwrap(),
            [id]
        );
        assert!(
            fs.cases_by_plate(&"晋E12345".parse().unwrap())
                .unwrap()
                .is_empty()
        );
    }

    const MINE: &str = "91140522MA0000000K";

    fn departure(record: &str, plate: &str, weighed_at_ms: i64, year_count: u32) -> WatchEntry {
        WatchEntry {
            plate: plate.to_owned(),
            unit: MINE.to_owned(),
            unit_name: "某煤矿".to_owned(),
            record_id: record.to_owned(),
            weighed_at_ms,
            exit_at_ms: Some(weighed_at_ms + 60_000),
            gross_kg: 52_300,
            limit_kg: 49_000,
            excess_kg: 3_300,
            configuration_assumed: false,
            year_count,
        }
    }

    /// Stores the list of `day` for `scope` as the server writes it and sync delivers it.
    fn deliver<S: DocStore>(
        fs: &FieldStore<S>,
        scope: Scope,
        day: LocalDay,
        entries: &[WatchEntry],
    ) -> DocumentId {
        let header = Header {
            kind: DocKind::WatchList,
            schema: SCHEMA_VERSION,
            scope,
            team: None,
            unit: None,
            parent: None,
            created_by: p("server"),
            created_at_ms: day.start_ms(),
        };
        let list = WatchList {
            day: day.to_string(),
            entries: entries.iter().map(|e| (e.key(), e.clone())).collect(),
        };
        let id = watchlist_document_id(&scope, day);
        let doc = TypedDoc::create(id, ActorId::random(), &header, &list).unwrap();
        fs.save_synced(&id, doc.automerge()).unwrap();
        id
    }

    fn county() -> Scope {
        Scope::county(YANGCHENG_COUNTY).unwrap()
    }

    #[test]
    fn a_plate_is_found_on_the_last_days_lists_newest_first_with_its_highest_count() {
        let fs = FieldStore::new(MemoryStore::new());
        let today: LocalDay = "2026-11-29".parse().unwrap();
        let days = today.recent(4);
        let (d0, d1, d2, d3) = (days[0], days[1], days[2], days[3]);
        let at = |day: LocalDay, hour: i64| day.start_ms() + hour * 3_600_000;
        deliver(
            &fs,
            county(),
            d0,
            &[
                departure("r9", "晋E12345", at(d0, 6), 5),
                departure("r8", "晋E54321", at(d0, 7), 1),
            ],
        );
        deliver(&fs, county(), d1, &[]);
        deliver(
            &fs,
            county(),
            d2,
            &[departure("r2", "晋E12345", at(d2, 9), 3)],
        );
        // Out of the window: not read.
        deliver(
            &fs,
            county(),
            d3,
            &[departure("r1", "晋E12345", at(d3, 9), 2)],
        );

        let plate: Plate = "晋e·12345".parse().unwrap();
        let hits = fs.watchlist_lookup(&county(), &plate, today).unwrap();
        let seen: Vec<(&str, LocalDay)> = hits
            .iter()
            .map(|h| (h.entry.record_id.as_str(), h.day))
            .collect();
        assert_eq!(seen, [("r9", d0), ("r2", d2)]);
        let newest = &hits[0];
        assert_eq!(newest.plate, plate);
        assert_eq!(newest.unit.as_str(), MINE);
        assert_eq!(newest.entry.unit_name, "某煤矿");
        assert_eq!(
            (
                newest.entry.gross_kg,
                newest.entry.limit_kg,
                newest.entry.excess_kg
            ),
            (52_300, 49_000, 3_300)
        );
        assert_eq!(newest.entry.weighed_at_ms, at(d0, 6));
        assert_eq!(newest.entry.exit_at_ms, Some(at(d0, 6) + 60_000));
        // The older entry counted 3 (not crossed then); the plate has 5 this year now.
        assert!(
            hits.iter()
                .all(|h| h.year_count == 5 && h.revocation_threshold_crossed)
        );

        let other: Plate = "晋E54321".parse().unwrap();
        let hits = fs.watchlist_lookup(&county(), &other, today).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].year_count, 1);
        assert!(!hits[0].revocation_threshold_crossed);
        // A plate on no list, another county's lists, a day whose lists are not here.
        assert!(
            fs.watchlist_lookup(&county(), &"晋E99999".parse().unwrap(), today)
                .unwrap()
                .is_empty()
        );
        let elsewhere = crate::fixtures::other_county();
        assert!(
            fs.watchlist_lookup(&elsewhere, &plate, today)
                .unwrap()
                .is_empty()
        );
        let later: LocalDay = "2026-12-09".parse().unwrap();
        assert!(
            fs.watchlist_lookup(&county(), &plate, later)
                .unwrap()
                .is_empty()
        );
        // Only the kind is indexed: nothing is found by plate or unit.
        assert!(fs.cases_by_plate(&plate).unwrap().is_empty());
        assert!(fs.store().find(index::UNIT, MINE).unwrap().is_empty());
    }

    #[test]
    fn counts_start_again_with_the_calendar_year() {
        let fs = FieldStore::new(MemoryStore::new());
        let new_year: LocalDay = "2027-01-01".parse().unwrap();
        let eve = new_year.previous();
        deliver(
            &fs,
            county(),
            eve,
            &[departure("r1", "晋E12345", eve.start_ms(), 5)],
        );
        deliver(
            &fs,
            county(),
            new_year,
            &[departure("r2", "晋E12345", new_year.start_ms(), 1)],
        );
        let hits = fs
            .watchlist_lookup(&county(), &"晋E12345".parse().unwrap(), new_year)
            .unwrap();
        let counts: Vec<(u32, bool)> = hits
            .iter()
            .map(|h| (h.year_count, h.revocation_threshold_crossed))
            .collect();
        assert_eq!(counts, [(1, false), (5, true)]);
    }

    #[test]
    fn lists_older_than_the_window_are_pruned_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FieldStore::new(SledStore::open(dir.path()).unwrap());
        let today: LocalDay = "2026-11-29".parse().unwrap();
        let days = today.recent(5);
        let entry = |day: LocalDay| [departure("r1", "晋E12345", day.start_ms(), 1)];
        let ids: Vec<DocumentId> = days
            .iter()
            .map(|d| deliver(&fs, county(), *d, &entry(*d)))
            .collect();
        let elsewhere = deliver(
            &fs,
            crate::fixtures::other_county(),
            days[4],
            &entry(days[4]),
        );
        let mut rng = StdRng::seed_from_u64(3);
        let number = fs
            .next_case_number(&DevicePrefix::new("K7Q2").unwrap(), 2026)
            .unwrap();
        let case = fs
            .create(
                &mut rng,
                &header(DocKind::Case, None, None),
                &case_body(number, "晋E12345", None),
            )
            .unwrap();

        assert_eq!(
            fs.prune_watchlists(today).unwrap(),
            3,
            "two days of this county, one of another"
        );
        let store = fs.store();
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(store.contains(id).unwrap(), n < WATCHLIST_DAYS, "day {n}");
        }
        assert!(!store.contains(&elsewhere).unwrap());
        assert!(store.contains(&case.id()).unwrap());
        assert_eq!(
            fs.cases_by_plate(&"晋E12345".parse().unwrap()).unwrap(),
            [case.id()]
        );
        assert_eq!(fs.prune_watchlists(today).unwrap(), 0);
        let plate: Plate = "晋E12345".parse().unwrap();
        assert_eq!(
            fs.watchlist_lookup(&county(), &plate, today).unwrap().len(),
            3
        );
        // A day later, one more goes; a clock that went back removes nothing.
        assert_eq!(fs.prune_watchlists(today.previous()).unwrap(), 0);
        let tomorrow = LocalDay::of_ms(today.start_ms() + 86_400_000).unwrap();
        assert_eq!(fs.prune_watchlists(tomorrow).unwrap(), 1);
        assert!(!store.contains(&ids[2]).unwrap());
        assert_eq!(
            fs.watchlist_lookup(&county(), &plate, tomorrow)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn lookups_on_the_memory_store() {
        lookups_work(&FieldStore::new(MemoryStore::new()));
    }

    #[test]
    fn lookups_on_sled_and_case_numbers_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = DevicePrefix::new("K7Q2").unwrap();
        {
            let fs = FieldStore::new(SledStore::open(dir.path()).unwrap());
            lookups_work(&fs);
        }
        let fs = FieldStore::new(SledStore::open(dir.path()).unwrap());
        assert_eq!(fs.next_case_number(&prefix, 2026).unwrap().sequence(), 3);
        assert_eq!(fs.cases_by_status(CaseStatus::Closed).unwrap().len(), 1);
    }
}
