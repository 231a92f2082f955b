//! 复核 Reviews: a supervisor's decision (通过 accept / 退回 return with reasons) on a case or
//! on an enterprise's response to a notice, written as a `review` document
//! ([`zhichao_core::docs::Review`]).
//!
//! The console does not store the review itself: [`write_review`] builds the document and
//! hands it to the sync hub with the **supervisor** as principal, exactly as a supervisor's
//! phone would sync it. The hub checks `access::can_create` (a supervisor writes reviews in
//! scope, of a case or a response), stores it, records it in the change log, and the
//! officers' and the enterprise's phones receive it by discovery.
//!
//! ```text
//! POST /console/reviews   csrf=…&parent=<case or response id>&decision=accept|return
//!                         &reasons=<one reason per line>&comments=…
//! 303 → /console/cases/{case id}?reviewed=1         (a case)
//! 303 → /console/notices/{notice id}?reviewed=1     (a response)
//! ```
//!
//! **One decision, once.** A review is checked against the earlier reviews of the same
//! document, under one lock ([`super::ConsoleState::reviews`]) so that two posts at once are
//! checked one after the other:
//! - the same review again (same supervisor, decision, reasons and comments) within
//!   [`REPEAT_WINDOW`] — a double-click, a browser's "resend" or a client's retry — is the
//!   review already stored: its id is answered and nothing new is written;
//! - after an acceptance (通过) nothing more is reviewed (409): it closes the case or settles
//!   the notice, and a later return would send the officers or the enterprise back to work
//!   the office has accepted;
//! - a response (整改回复) is reviewed once (409 for a second review): a submitted response
//!   does not change, the enterprise answers a return with a new response;
//! - a case may be reviewed again after a return (the officers complete the file).
//!
//! Reviews that supervisors' phones sync are not checked here (phones work offline); the
//! pages read an acceptance among a document's reviews as final whatever else is there.
//!
//! Bounds are those of the phones (mobile-bindings `records.rs`): at most
//! [`MAX_REASONS`] reasons of [`MAX_REASON_CHARS`] characters, comments of at most
//! [`MAX_COMMENTS_CHARS`] characters; no control characters (comments may have line breaks
//! and tabs).

use std::time::Duration;

use automerge::ActorId;
use axum::Router;
use axum::extract::State;
use axum::response::Redirect;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use zhichao_core::access::{Principal, can_read};
use zhichao_core::docs::{
    DocError, DocKind, Header, Response, Review, ReviewDecision, SCHEMA_VERSION, TextField,
    TypedDoc,
};
use zhichao_core::ids::DocumentId;

use super::model::DocRef;
use super::session::CsrfForm;
use super::{ConsoleError, ConsoleResult, model};
use crate::AppState;

/// Most reasons of one returned review (the phones' limit).
pub use zhichao_core::docs::limits::MAX_REASONS;
/// Longest reason, characters (the phones' limit of a short text).
pub use zhichao_core::docs::limits::MAX_SHORT_TEXT_CHARS as MAX_REASON_CHARS;
/// Longest comments, characters (the phones' limit of a free text).
pub use zhichao_core::docs::limits::MAX_TEXT_CHARS as MAX_COMMENTS_CHARS;
/// How long the sync hub may take to store a review.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the same review posted again by the same supervisor counts as a repeat of the
/// first (server receipt time).
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The review routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/console/reviews", post(post_review))
}

/// What a review is about: the parent document's kind and, for a response, its notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reviewed {
    /// A case (案件).
    Case(DocumentId),
    /// A response (整改回复) to the notice (整改通知书) `notice`.
    Response {
        /// The response.
        response: DocumentId,
        /// Its notice.
        notice: DocumentId,
    },
}

impl Reviewed {
    /// The console page showing the reviewed document (the case, or the response's notice).
    pub fn page(&self) -> String {
        match self {
            Reviewed::Case(id) => format!("/console/cases/{id}"),
            Reviewed::Response { notice, .. } => format!("/console/notices/{notice}"),
        }
    }
}

/// The reviewable document `parent`, when `reviewer` may read it.
///
/// # Errors
/// [`ConsoleError::NotFound`] when it does not exist or is not readable;
/// [`ConsoleError::Invalid`] when it is neither a case nor a response;
/// [`ConsoleError::Internal`] when the change log cannot be read.
pub fn reviewed(
    state: &AppState,
    reviewer: &Principal,
    parent: &DocumentId,
) -> ConsoleResult<(Reviewed, model::DocRef)> {
    let Some((header, ancestors)) = state
        .log
        .header_chain(parent)
        .map_err(ConsoleError::internal)?
    else {
        return Err(ConsoleError::NotFound);
    };
    if !can_read(reviewer, &header, &ancestors) {
        return Err(ConsoleError::NotFound);
    }
    match header.kind {
        DocKind::Case => Ok((
            Reviewed::Case(*parent),
            model::get(state, reviewer, parent, DocKind::Case)?,
        )),
        DocKind::Response => {
            let doc = model::get(state, reviewer, parent, DocKind::Response)?;
            let notice = doc.header.parent.ok_or(ConsoleError::NotFound)?;
            Ok((
                Reviewed::Response {
                    response: *parent,
                    notice,
                },
                doc,
            ))
        }
        _ => Err(ConsoleError::Invalid("只能复核案件或整改回复。".to_owned())),
    }
}

/// Checks one reason or comment: bounded, no control characters (`multiline` allows line
/// breaks and tabs). Returns the trimmed text.
fn clean_text(what: &str, text: &str, max_chars: usize, multiline: bool) -> ConsoleResult<String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(ConsoleError::Invalid(format!(
            "{what}有 {chars} 个字，最多 {max_chars} 个字。"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        return Err(ConsoleError::Invalid(format!("{what}含有控制字符。")));
    }
    Ok(text.to_owned())
}

/// The decision as stored: a return's reasons trimmed, empty ones dropped, at least one left.
fn clean_decision(decision: ReviewDecision) -> ConsoleResult<ReviewDecision> {
    match decision {
        ReviewDecision::Accept => Ok(ReviewDecision::Accept),
        ReviewDecision::Return { reasons } => {
            let mut kept = Vec::with_capacity(reasons.len());
            for reason in &reasons {
                let reason = clean_text("退回理由", reason, MAX_REASON_CHARS, false)?;
                if !reason.is_empty() {
                    kept.push(reason);
                }
            }
            if kept.is_empty() {
                return Err(ConsoleError::Invalid(
                    "退回时请至少填写一条退回理由。".to_owned(),
                ));
            }
            if kept.len() > MAX_REASONS {
                return Err(ConsoleError::Invalid(format!(
                    "退回理由有 {} 条，最多 {MAX_REASONS} 条。",
                    kept.len()
                )));
            }
            Ok(ReviewDecision::Return { reasons: kept })
        }
    }
}

/// Writes `reviewer`'s review of `parent` (a case or a submitted response) with `decision` and
/// `comments`, through the sync hub with the reviewer as principal (the hub checks
/// `can_create`: a supervisor, in scope, of a case or a response); phones receive it by
/// discovery. The header takes the parent's scope, `created_by` = the reviewer, device time =
/// server time. Returns the new review's id.
///
/// # Errors
/// [`ConsoleError::Forbidden`] for a principal other than a supervisor, or when the hub
/// refuses the write; [`ConsoleError::NotFound`] when `parent` does not exist or is not
/// readable by `reviewer`; [`ConsoleError::Invalid`] (400, Chinese message) for a parent that
/// is neither a case nor a response, a return without a reason, a reason or comments too long
/// or with control characters; [`ConsoleError::Conflict`] for a response not yet submitted
/// (a draft), a response already reviewed, or a document already accepted (the same review
/// posted again within [`REPEAT_WINDOW`] is not an error: the stored review's id is
/// answered); [`ConsoleError::Internal`] when the hub does not answer. Nothing is stored on
/// error.
pub async fn write_review(
    state: &AppState,
    reviewer: &Principal,
    parent: &DocumentId,
    decision: ReviewDecision,
    comments: &str,
) -> ConsoleResult<DocumentId> {
    if !matches!(reviewer, Principal::Supervisor { .. }) {
        return Err(ConsoleError::Forbidden("只有监管人员可以复核。".to_owned()));
    }
    let (reviewed, parent_doc) = reviewed(state, reviewer, parent)?;
    let decision = clean_decision(decision)?;
    let comments = clean_text("备注", comments, MAX_COMMENTS_CHARS, true)?;
    if let Reviewed::Response { .. } = reviewed {
        let response = model::body::<Response>(state, &parent_doc)?;
        if response.submitted_at_ms.is_none() {
            return Err(ConsoleError::Conflict(
                "该整改回复尚未提交，不能复核。".to_owned(),
            ));
        }
    }
    // One review at a time from here to the hub's answer: the check sees every review
    // written before it.
    let _one_at_a_time = state.console.reviews.lock().await;
    if let Some(id) = earlier_review(state, reviewer, &reviewed, &decision, &comments)? {
        tracing::info!(review = %id, parent = %parent, by = %reviewer.id(), "review repeated");
        return Ok(id);
    }
    let now_ms = i64::try_from(state.now_ms()).unwrap_or(i64::MAX);
    let header = Header {
        kind: DocKind::Review,
        schema: SCHEMA_VERSION,
        scope: parent_doc.header.scope,
        team: None,
        unit: None,
        parent: Some(*parent),
        created_by: reviewer.id().clone(),
        created_at_ms: now_ms,
    };
    let body = Review {
        decision,
        comments: TextField(comments),
        reviewed_at_ms: now_ms,
    };
    let id = DocumentId::generate(&mut rand::rng());
    let doc = TypedDoc::create(id, ActorId::random(), &header, &body).map_err(|e| match e {
        DocError::Rule(m) | DocError::InvalidHeader(m) => {
            ConsoleError::Invalid(format!("复核不符合规则：{m}"))
        }
        other => ConsoleError::internal(other),
    })?;
    let changes = doc.automerge().save();
    let answer = tokio::time::timeout(
        WRITE_TIMEOUT,
        state.sync.write(id, changes, reviewer.clone()),
    )
    .await;
    match answer {
        Ok(Ok(Ok(()))) => {
            tracing::info!(review = %id, parent = %parent, by = %reviewer.id(), "review written");
            Ok(id)
        }
        Ok(Ok(Err(reason))) => Err(ConsoleError::Forbidden(format!(
            "同步服务拒绝保存该复核：{reason}"
        ))),
        Ok(Err(_)) => Err(ConsoleError::internal("the sync thread stopped")),
        Err(_) => Err(ConsoleError::internal(format!(
            "the sync hub did not store a review within {} s",
            WRITE_TIMEOUT.as_secs()
        ))),
    }
}

/// Checks a new review of `reviewed` against the earlier ones (see the module docs):
/// `Some(id)` of the same review by `reviewer` stored within [`REPEAT_WINDOW`], `None` when
/// the new one may be written.
///
/// # Errors
/// [`ConsoleError::Conflict`] after an acceptance, or for a response already reviewed;
/// [`ConsoleError::Internal`] when the change log cannot be read.
fn earlier_review(
    state: &AppState,
    reviewer: &Principal,
    reviewed: &Reviewed,
    decision: &ReviewDecision,
    comments: &str,
) -> ConsoleResult<Option<DocumentId>> {
    let parent = match reviewed {
        Reviewed::Case(id) => id,
        Reviewed::Response { response, .. } => response,
    };
    let now_ms = state.now_ms();
    let window_ms = u64::try_from(REPEAT_WINDOW.as_millis()).unwrap_or(u64::MAX);
    let mut accepted = false;
    let mut any = false;
    for doc in model::children(state, reviewer, parent, DocKind::Review)? {
        let Some(review) = model::body_or_skip::<Review>(state, &doc) else {
            continue;
        };
        if doc.header.created_by == *reviewer.id()
            && review.decision == *decision
            && review.comments.as_str() == comments
            && now_ms.saturating_sub(doc.latest.received_ms) <= window_ms
        {
            return Ok(Some(doc.id));
        }
        accepted |= review.accepts();
        any = true;
    }
    if accepted {
        return Err(ConsoleError::Conflict(
            "已复核通过，不能再次复核。".to_owned(),
        ));
    }
    if any && matches!(reviewed, Reviewed::Response { .. }) {
        return Err(ConsoleError::Conflict(
            "该整改回复已复核，不能再次复核；企业重新提交整改回复后再复核。".to_owned(),
        ));
    }
    Ok(None)
}

/// The review form's fields (the `csrf` field is checked by [`CsrfForm`]).
#[derive(Debug, Deserialize)]
struct ReviewForm {
    /// The case or response id.
    parent: String,
    /// `accept` or `return`.
    decision: String,
    /// Reasons of a return, one a line.
    #[serde(default)]
    reasons: String,
    /// Comments.
    #[serde(default)]
    comments: String,
}

/// A decision from its form or JSON name and the reasons given.
///
/// # Errors
/// [`ConsoleError::Invalid`] for another name, or reasons given with an acceptance (they
/// would be lost: comments go in the comments).
pub fn decision_of(name: &str, reasons: Vec<String>) -> ConsoleResult<ReviewDecision> {
    match name.trim() {
        "accept" => {
            if reasons.iter().any(|r| !r.trim().is_empty()) {
                return Err(ConsoleError::Invalid(
                    "通过时不填写退回理由；如需说明，请写在备注中。".to_owned(),
                ));
            }
            Ok(ReviewDecision::Accept)
        }
        "return" => Ok(ReviewDecision::Return { reasons }),
        _ => Err(ConsoleError::Invalid(
            "复核结论只能是“通过”或“退回”。".to_owned(),
        )),
    }
}

/// `POST /console/reviews`.
async fn post_review(
    State(state): State<AppState>,
    CsrfForm(user, form): CsrfForm<ReviewForm>,
) -> ConsoleResult<Redirect> {
    let parent = model::parse_id(form.parent.trim())?;
    let reasons = form.reasons.lines().map(str::to_owned).collect();
    let decision = decision_of(&form.decision, reasons)?;
    let (reviewed, _) = reviewed(&state, &user.principal, &parent)?;
    write_review(&state, &user.principal, &parent, decision, &form.comments).await?;
    Ok(Redirect::to(&format!("{}?reviewed=1", reviewed.page())))
}

/// The review form (复核) of a case or a response `parent_id`: reasons (one per line, needed
/// for a return), comments, and the two decisions as buttons, posted to `POST
/// /console/reviews`.
pub fn review_form(user: &super::session::ConsoleUser, parent_id: &str) -> maud::Markup {
    maud::html! {
        form.stack.review method="post" action="/console/reviews" {
            (super::layout::csrf_field(user))
            input type="hidden" name="parent" value=(parent_id);
            label for={ "reasons-" (parent_id) } { "退回理由（退回时必填，每行一条）" }
            textarea id={ "reasons-" (parent_id) } name="reasons" maxlength="4000" {}
            label for={ "comments-" (parent_id) } { "复核意见" }
            textarea id={ "comments-" (parent_id) } name="comments" maxlength="4000" {}
            p.actions {
                button type="submit" name="decision" value="accept" { "通过" }
                " "
                button.danger type="submit" name="decision" value="return" { "退回" }
            }
        }
    }
}

/// A supervisor's review (复核) of a case or a response, as the console and the JSON routes show
/// it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewView {
    /// The review's document id.
    pub id: String,
    /// `accept` (通过) or `return` (退回).
    pub decision: String,
    /// The reasons of a return.
    pub reasons: Vec<String>,
    /// Comments.
    pub comments: String,
    /// The reviewer's account id.
    pub reviewer: String,
    /// Device time of the review, UTC milliseconds.
    pub reviewed_at_ms: i64,
    /// Server time the review was last received, UTC milliseconds.
    pub received_ms: u64,
}

impl ReviewView {
    /// The view of review document `doc` with body `review`.
    pub fn of(doc: &DocRef, review: &Review) -> Self {
        let (decision, reasons) = match &review.decision {
            ReviewDecision::Accept => ("accept", Vec::new()),
            ReviewDecision::Return { reasons } => ("return", reasons.clone()),
        };
        ReviewView {
            id: doc.id.to_string(),
            decision: decision.to_owned(),
            reasons,
            comments: review.comments.as_str().to_owned(),
            reviewer: doc.header.created_by.to_string(),
            reviewed_at_ms: review.reviewed_at_ms,
            received_ms: doc.latest.received_ms,
        }
    }

    /// True for an acceptance.
    pub fn accepts(&self) -> bool {
        self.decision == "accept"
    }
}
