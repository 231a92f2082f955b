//! [`FieldStore`]: the documents of one device on top of a [`DocStore`], with the lookups a
//! patrol needs offline.
//!
//! The store knows bytes and index keys; the documents know their schema. This layer joins
//! them: it derives each document's [`IndexEntry`] when saving (plate, status, source unit,
//! parent, open notice), keeps derived entries of *other* documents current (a review changes
//! its case's status, an accepted response closes its notice), and makes case numbers from a
//! durable per-device sequence.

use automerge::ActorId;
use rand::Rng;

use crate::docs::{
    Case, CaseStatus, DocBody, DocError, DocKind, Header, Notice, Response, Review, TypedDoc,
    UnitProfile, case_status, read_header,
};
use crate::ids::{CaseNumber, CaseNumberError, DevicePrefix, DocumentId};
use crate::plate::Plate;
use crate::store::{DocStore, IndexEntry, LoadReport, SaveReport, StoreError};
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
