//! [`TypedDoc`]: an Automerge document with an immutable [`Header`] and a typed body.

use std::fmt;
use std::marker::PhantomData;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ROOT, ReadDoc};
use autosurgeon::{Hydrate, Reconcile, hydrate_prop, reconcile_prop};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, PrincipalId, TeamId};
use crate::scope::Scope;
use crate::uscc::Uscc;

use super::migrate;

/// The kinds of document. Each has one kind of writer (enforced by the sync server):
/// officers of the team for `case` and `notice`, the addressed enterprise for `response`,
/// supervisors for `review` and `unit`, the server for `rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A roadside check or site inspection (案件).
    Case,
    /// A rectification notice (整改通知书) to one source unit.
    Notice,
    /// An enterprise's response to one notice.
    Response,
    /// A supervisor's review of a case or response.
    Review,
    /// A source unit's profile (货运源头单位档案).
    Unit,
    /// The rules versions in force in a county (a server document).
    Rules,
    /// One day's over-limit departures in a county (a server document).
    WatchList,
}

impl DocKind {
    /// The stable lower-case name (`case`, `notice`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            DocKind::Case => "case",
            DocKind::Notice => "notice",
            DocKind::Response => "response",
            DocKind::Review => "review",
            DocKind::Unit => "unit",
            DocKind::Rules => "rules",
            DocKind::WatchList => "watchlist",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The immutable header of every document: what access depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Header {
    /// Document kind.
    pub kind: DocKind,
    /// Schema version the document was created with (see [`super::SCHEMA_VERSION`]).
    pub schema: u64,
    /// The part of the county it belongs to: decides who may read it.
    pub scope: Scope,
    /// The patrol team whose officers write it (`case`, `notice`).
    pub team: Option<TeamId>,
    /// The addressed source unit (`notice`, `response`; `unit` for its own profile).
    pub unit: Option<Uscc>,
    /// The parent document (`response` → notice, `review` → case or response).
    pub parent: Option<DocumentId>,
    /// Who created it.
    pub created_by: PrincipalId,
    /// Device time of creation, UTC milliseconds. Recorded, never used to merge.
    pub created_at_ms: i64,
}

/// Why a document operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// Automerge refused an operation or could not load bytes.
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
    /// The document content does not have the expected shape.
    #[error("document content is malformed: {0}")]
    Hydrate(#[from] autosurgeon::HydrateError),
    /// Writing the typed value failed.
    #[error("cannot write the document: {0}")]
    Reconcile(#[from] autosurgeon::ReconcileError),
    /// The document has no header (not one of ours).
    #[error("document has no header")]
    MissingHeader,
    /// Concurrent writes changed the header: someone tampered with it.
    #[error("document header was changed after creation")]
    HeaderConflict,
    /// Opened as the wrong kind.
    #[error("document is a {found}, not a {expected}")]
    WrongKind {
        /// The kind asked for.
        expected: DocKind,
        /// The kind in the header.
        found: DocKind,
    },
    /// Made by a newer version of the software.
    #[error("document schema {found} is newer than this software's {supported}; update the app")]
    SchemaTooNew {
        /// Schema in the document.
        found: u64,
        /// Newest schema this build reads.
        supported: u64,
    },
    /// The header does not fit the kind (e.g. a response without its notice).
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// An edit broke a rule of the document (e.g. removed a lifecycle event).
    #[error("refused: {0}")]
    Rule(String),
}

/// A document body: its kind, and the rules its header and edits must keep.
pub trait DocBody: Hydrate + Reconcile + Clone {
    /// The kind of document this body belongs to.
    const KIND: DocKind;

    /// Checks that a header fits this kind (required team, unit, parent).
    ///
    /// # Errors
    /// [`DocError::InvalidHeader`].
    fn check_header(header: &Header) -> Result<(), DocError>;

    /// Checks a new body, and an edit from `before` (None at creation) to `self`.
    ///
    /// # Errors
    /// [`DocError::Rule`] saying which rule the edit breaks.
    fn check(&self, before: Option<&Self>) -> Result<(), DocError>;

    /// Checks an edit that arrived by sync, from `before` to `self`. It may be a merge of
    /// concurrent edits, each valid alone, so only the rules a merge cannot break by itself
    /// belong here: what never changes, what is append-only, the validity of values.
    /// Default: [`check`](Self::check) with `before`.
    ///
    /// # Errors
    /// [`DocError::Rule`] saying which rule the edit breaks.
    fn check_merge(&self, before: &Self) -> Result<(), DocError> {
        self.check(Some(before))
    }

    /// Checks the initial body against the header at creation (default: nothing to check).
    ///
    /// # Errors
    /// [`DocError::InvalidHeader`].
    fn check_created(&self, _header: &Header) -> Result<(), DocError> {
        Ok(())
    }
}

fn require(ok: bool, what: &str) -> Result<(), DocError> {
    if ok {
        Ok(())
    } else {
        Err(DocError::InvalidHeader(what.to_owned()))
    }
}

/// Header checks shared by the kinds: `team`, `unit`, `parent` present or absent as required.
pub(crate) fn check_header_fields(
    header: &Header,
    team: bool,
    unit: bool,
    parent: bool,
) -> Result<(), DocError> {
    let kind = header.kind;
    require(
        header.team.is_some() == team,
        &format!(
            "a {kind} {} a team",
            if team { "needs" } else { "takes no" }
        ),
    )?;
    require(
        header.unit.is_some() == unit,
        &format!(
            "a {kind} {} a source unit",
            if unit { "needs" } else { "takes no" }
        ),
    )?;
    require(
        header.parent.is_some() == parent,
        &format!(
            "a {kind} {} a parent document",
            if parent { "needs" } else { "takes no" }
        ),
    )
}

/// A document of body type `T`: the Automerge document and its id.
#[derive(Clone, Debug)]
pub struct TypedDoc<T> {
    id: DocumentId,
    doc: Automerge,
    _body: PhantomData<T>,
}

impl<T: DocBody> TypedDoc<T> {
    /// Creates a document with its header and initial body, as one change by `header.created_by`
    /// at `header.created_at_ms`, on a replica identified by `actor` (one per device).
    ///
    /// # Errors
    /// [`DocError::InvalidHeader`] when the header does not fit the kind; [`DocError::Rule`]
    /// when the body breaks a rule.
    pub fn create(
        id: DocumentId,
        actor: ActorId,
        header: &Header,
        body: &T,
    ) -> Result<Self, DocError> {
        if header.kind != T::KIND {
            return Err(DocError::WrongKind {
                expected: T::KIND,
                found: header.kind,
            });
        }
        T::check_header(header)?;
        body.check(None)?;
        body.check_created(header)?;
        let mut doc = Automerge::new().with_actor(actor);
        let options = commit_options(&header.created_by, header.created_at_ms);
        doc.transact_with(
            |_| options,
            |tx| -> Result<(), DocError> {
                reconcile_prop(tx, ROOT, "header", header)?;
                reconcile_prop(tx, ROOT, "body", body)?;
                tx.put(ROOT, "body_schema", super::SCHEMA_VERSION)?;
                Ok(())
            },
        )
        .map_err(|f| f.error)?;
        Ok(TypedDoc {
            id,
            doc,
            _body: PhantomData,
        })
    }

    /// Opens a document received or loaded from storage: checks the header (present, not in
    /// conflict, of kind `T`, schema not newer than this build) and migrates an older body.
    ///
    /// # Errors
    /// [`DocError`] saying what is wrong; the bytes are left untouched on error.
    pub fn open(id: DocumentId, mut doc: Automerge) -> Result<Self, DocError> {
        let header = read_header(&doc)?;
        if header.kind != T::KIND {
            return Err(DocError::WrongKind {
                expected: T::KIND,
                found: header.kind,
            });
        }
        T::check_header(&header)?;
        migrate::migrate(&mut doc, T::KIND)?;
        Ok(TypedDoc {
            id,
            doc,
            _body: PhantomData,
        })
    }

    /// The document id.
    pub fn id(&self) -> DocumentId {
        self.id
    }

    /// The header.
    ///
    /// # Errors
    /// As [`read_header`].
    pub fn header(&self) -> Result<Header, DocError> {
        read_header(&self.doc)
    }

    /// The current body.
    ///
    /// # Errors
    /// [`DocError::Hydrate`] when the content is malformed.
    pub fn body(&self) -> Result<T, DocError> {
        Ok(hydrate_prop(&self.doc, &ROOT, "body")?)
    }

    /// Edits the body: hydrates it, lets `edit` change it, checks the kind's rules and writes
    /// the difference as one change by `by` at device time `now_ms`. Nothing is written when
    /// `edit` or a rule fails. Returns whether anything changed.
    ///
    /// # Errors
    /// The closure's error, [`DocError::Rule`], or an Automerge error.
    pub fn update<F>(&mut self, by: &PrincipalId, now_ms: i64, edit: F) -> Result<bool, DocError>
    where
        F: FnOnce(&mut T) -> Result<(), DocError>,
    {
        let before = self.body()?;
        let mut after = before.clone();
        edit(&mut after)?;
        after.check(Some(&before))?;
        let heads_before = self.doc.get_heads();
        let options = commit_options(by, now_ms);
        self.doc
            .transact_with(
                |_| options,
                |tx| -> Result<(), DocError> {
                    reconcile_prop(tx, ROOT, "body", &after)?;
                    Ok(())
                },
            )
            .map_err(|f| f.error)?;
        Ok(self.doc.get_heads() != heads_before)
    }

    /// Runs `edit` on the document in one transaction stamped like [`TypedDoc::update`], for
    /// kinds whose edit API writes a few keys of a large body without hydrating it (the
    /// caller checks what it writes). Returns whether anything changed.
    ///
    /// # Errors
    /// The closure's error, or an Automerge error.
    pub(crate) fn transact_raw<F>(
        &mut self,
        by: &PrincipalId,
        now_ms: i64,
        edit: F,
    ) -> Result<bool, DocError>
    where
        F: FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), DocError>,
    {
        let heads_before = self.doc.get_heads();
        let options = commit_options(by, now_ms);
        self.doc
            .transact_with(|_| options, edit)
            .map_err(|f| f.error)?;
        Ok(self.doc.get_heads() != heads_before)
    }

    /// Merges another replica of the same document into this one.
    ///
    /// # Errors
    /// Automerge errors, or [`DocError::HeaderConflict`] when the merge reveals a changed
    /// header (the merged state is then not kept).
    pub fn merge(&mut self, other: &mut Automerge) -> Result<Vec<ChangeHash>, DocError> {
        // Both sides must carry the same untouched header (created by op 1 of the same change,
        // never written again); then their merge does too, and no rollback copy is needed.
        let ours = header_origin(&self.doc)?;
        if header_origin(other)? != ours {
            return Err(DocError::HeaderConflict);
        }
        read_header(other)?;
        Ok(self.doc.merge(other)?)
    }

    /// The Automerge document (for saving and syncing).
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// The Automerge document, mutably (for applying sync messages).
    pub fn automerge_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// The document as Automerge, consuming the wrapper.
    pub fn into_automerge(self) -> Automerge {
        self.doc
    }
}

/// Commit options of a change: message = the acting principal (who, not which device), time =
/// device time, UTC milliseconds. Both are recorded for the change history, never used to merge.
fn commit_options(by: &PrincipalId, now_ms: i64) -> CommitOptions {
    CommitOptions::default()
        .with_message(by.as_str().to_owned())
        .with_time(now_ms)
}

/// The op id of the only value of a key, `None` when the key has no value or several.
fn single_op(values: &[(automerge::Value<'_>, automerge::ObjId)]) -> Option<(u64, ActorId)> {
    match values {
        [(_, automerge::ObjId::Id(counter, actor, _))] => Some((*counter, actor.clone())),
        _ => None,
    }
}

/// The header object and its creator. The header is the very first operation of the creating
/// change (op counter 1): a header object made by any later change — a replacement — is
/// refused, and so are two headers from two concurrent creations.
///
/// # Errors
/// [`DocError::MissingHeader`] or [`DocError::HeaderConflict`].
fn header_origin(doc: &Automerge) -> Result<(automerge::ObjId, ActorId), DocError> {
    let Some((automerge::Value::Object(ObjType::Map), header_obj)) = doc.get(ROOT, "header")?
    else {
        return Err(DocError::MissingHeader);
    };
    match single_op(&doc.get_all(ROOT, "header")?) {
        Some((1, creator)) => Ok((header_obj, creator)),
        _ => Err(DocError::HeaderConflict),
    }
}

/// Reads and checks the header of any document.
///
/// The header is written once, as the first operations of the creating change, before the
/// body. The header object must therefore be op 1, and every header value the only value of
/// its key, from the same actor, between the header's op and the body's: a later write by
/// anyone, a concurrent one, or a replaced header object is tampering.
///
/// # Errors
/// [`DocError::MissingHeader`], [`DocError::HeaderConflict`] when a header value was written
/// after creation, [`DocError::SchemaTooNew`], or [`DocError::Hydrate`].
pub fn read_header(doc: &Automerge) -> Result<Header, DocError> {
    let (header_obj, creator) = header_origin(doc)?;
    let header_op = 1;
    let (body_op, body_actor) =
        single_op(&doc.get_all(ROOT, "body")?).ok_or(DocError::HeaderConflict)?;
    if body_actor != creator || body_op <= header_op {
        return Err(DocError::HeaderConflict);
    }
    for key in doc.keys(&header_obj) {
        let (op, actor) =
            single_op(&doc.get_all(&header_obj, key.as_str())?).ok_or(DocError::HeaderConflict)?;
        if actor != creator || op <= header_op || op >= body_op {
            return Err(DocError::HeaderConflict);
        }
    }
    let header: Header = hydrate_prop(doc, &ROOT, "header")?;
    if header.schema > super::SCHEMA_VERSION {
        return Err(DocError::SchemaTooNew {
            found: header.schema,
            supported: super::SCHEMA_VERSION,
        });
    }
    Ok(header)
}

/// The body of `doc` read as `T`.
fn read_body<T: DocBody>(doc: &Automerge) -> Result<T, DocError> {
    Ok(hydrate_prop(doc, &ROOT, "body")?)
}

fn check_new<T: DocBody>(header: &Header, doc: &Automerge) -> Result<(), DocError> {
    T::check_header(header)?;
    let body = read_body::<T>(doc)?;
    body.check(None)?;
    body.check_created(header)
}

fn check_synced<T: DocBody>(before: &Automerge, after: &Automerge) -> Result<(), DocError> {
    let after = read_body::<T>(after)?;
    match read_body::<T>(before) {
        Ok(before) => after.check_merge(&before),
        // A stored body that does not read (written before the server checked bodies): the
        // new one must read, and keep the rules of a new one.
        Err(_) => after.check(None),
    }
}

/// Checks a document that arrived by sync to be created: its header fits its kind, its body
/// reads as that kind and keeps the rules of a new document. The sync hub runs it before
/// storing a new document from a peer.
///
/// # Errors
/// [`DocError`] naming the rule broken.
pub fn check_new_document(header: &Header, doc: &Automerge) -> Result<(), DocError> {
    use super::{Case, Notice, Response, Review, RulesVersions, UnitProfile, WatchList};
    match header.kind {
        DocKind::Case => check_new::<Case>(header, doc),
        DocKind::Notice => check_new::<Notice>(header, doc),
        DocKind::Response => check_new::<Response>(header, doc),
        DocKind::Review => check_new::<Review>(header, doc),
        DocKind::Unit => check_new::<UnitProfile>(header, doc),
        DocKind::Rules => check_new::<RulesVersions>(header, doc),
        DocKind::WatchList => check_new::<WatchList>(header, doc),
    }
}

/// Checks changes that arrived by sync to a stored document of `kind`, from the state
/// `before` to `after`: the body still reads as its kind and keeps the rules of
/// [`DocBody::check_merge`] (what never changes, what is append-only). The sync hub runs it
/// before storing any change.
///
/// # Errors
/// [`DocError`] naming the rule broken.
pub fn check_synced_edit(
    kind: DocKind,
    before: &Automerge,
    after: &Automerge,
) -> Result<(), DocError> {
    use super::{Case, Notice, Response, Review, RulesVersions, UnitProfile, WatchList};
    match kind {
        DocKind::Case => check_synced::<Case>(before, after),
        DocKind::Notice => check_synced::<Notice>(before, after),
        DocKind::Response => check_synced::<Response>(before, after),
        DocKind::Review => check_synced::<Review>(before, after),
        DocKind::Unit => check_synced::<UnitProfile>(before, after),
        DocKind::Rules => check_synced::<RulesVersions>(before, after),
        DocKind::WatchList => check_synced::<WatchList>(before, after),
    }
}
