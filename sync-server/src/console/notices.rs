//! 整改 Notices (整改通知书) and the enterprises' responses (整改回复), with the review form
//! (复核: 通过 accept / 退回 return with reasons, posted to [`super::review`]).
//!
//! ```text
//! GET /console/notices?state=submitted&overdue=1&unit=<USCC>
//! GET /console/notices/{id}[?reviewed=1]
//! ```
//!
//! The views ([`NoticeSummary`], [`NoticeDetail`]) are shared with the JSON routes of
//! [`crate::routes::notices`], so the rules below are written once:
//!
//! - **Responses** are those the enterprise submitted (`submitted_at_ms` set); drafts synced
//!   from its phone are not shown and cannot be reviewed.
//! - **Response state** ([`ResponseState`]): `accepted` when a supervisor accepted one of the
//!   responses (that settles the notice, as on the phones); else `submitted` when a
//!   submitted response has no review yet (awaiting review); else `returned` when every
//!   response was returned; else `none`.
//! - **Due date**: the deadline date (限期改正), or for 责令立即改正 the day of issue; both in
//!   China Standard Time. **Overdue** (逾期): today (China time, server clock) is after the
//!   due date and no response was accepted.
//! - **Order**: 立即改正 first (by issue time), then by deadline date, then by issue time.
//!
//! Everything is read through [`model`]: a notice the supervisor may not read is not listed
//! and its page answers 404.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use zhichao_core::access::Principal;
use zhichao_core::docs::{
    Agency, Deadline, DocKind, EvidenceRef, Notice, NoticePhoto, Response, Review, UnitProfile,
};
use zhichao_core::ids::DocumentId;
use zhichao_core::uscc::Uscc;

use super::layout::{self, Nav};
use super::model::{self, DocRef};
use super::session::ConsoleUser;
use super::{ConsoleError, ConsoleResult};
use crate::AppState;
use crate::console::review::ReviewView;

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/notices", get(list_page))
        .route("/console/notices/{id}", get(detail_page))
}

// ---------------------------------------------------------------------------------------------
// Views shared with the JSON routes

/// Where a notice's rectification stands, from its responses and their reviews.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseState {
    /// No response submitted (未回复).
    None,
    /// A submitted response awaits review (待复核).
    Submitted,
    /// Every submitted response was returned (已退回).
    Returned,
    /// A response was accepted: the notice is settled (已通过).
    Accepted,
}

impl ResponseState {
    /// Every state, in the order of the filter.
    pub const ALL: [ResponseState; 4] = [
        ResponseState::None,
        ResponseState::Submitted,
        ResponseState::Returned,
        ResponseState::Accepted,
    ];

    /// The stable name (`none`, `submitted`, `returned`, `accepted`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ResponseState::None => "none",
            ResponseState::Submitted => "submitted",
            ResponseState::Returned => "returned",
            ResponseState::Accepted => "accepted",
        }
    }

    /// The Chinese label.
    pub const fn label(self) -> &'static str {
        match self {
            ResponseState::None => "未回复",
            ResponseState::Submitted => "待复核",
            ResponseState::Returned => "已退回",
            ResponseState::Accepted => "已通过",
        }
    }

    fn badge(self) -> &'static str {
        match self {
            ResponseState::None => "badge muted",
            ResponseState::Submitted | ResponseState::Returned => "badge warn",
            ResponseState::Accepted => "badge ok",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A notice in the list: `GET /v1/notices` and the console's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeSummary {
    /// The notice's document id.
    pub id: String,
    /// The case it arises from (document id).
    pub case: String,
    /// The addressed source unit (USCC, 统一社会信用代码).
    pub unit: String,
    /// The unit's name: from its profile when the supervisor may read it, else as written on
    /// the notice.
    pub unit_name: String,
    /// Device time of issue, UTC milliseconds.
    pub issued_at_ms: i64,
    /// The deadline date `YYYY-MM-DD` (限期改正); absent for 责令立即改正 (immediately).
    pub deadline_date: Option<String>,
    /// The last day to correct, `YYYY-MM-DD` China time: the deadline date, or the day of
    /// issue for "immediately".
    pub due_date: String,
    /// Where the rectification stands.
    pub state: ResponseState,
    /// The due date has passed (China time) and no response was accepted (逾期).
    pub overdue: bool,
    /// Number of submitted responses.
    pub responses: usize,
}

impl NoticeSummary {
    /// True for 责令立即改正.
    pub fn immediately(&self) -> bool {
        self.deadline_date.is_none()
    }

    /// The deadline in Chinese: `立即改正` or the date.
    pub fn deadline_label(&self) -> String {
        self.deadline_date
            .clone()
            .unwrap_or_else(|| "立即改正".to_owned())
    }
}

/// A photo: a thumbnail linking to the evidence copy (or the original when it has no
/// derivatives), all served at `/console/blobs/{sha256}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticePhotoView {
    /// SHA-256 of the picture to show in full (the evidence copy when there is one).
    pub sha256: String,
    /// SHA-256 of the thumbnail, when there is one.
    pub thumbnail: Option<String>,
    /// SHA-256 of the original, for a response photo (a notice shows derivatives only).
    pub original: Option<String>,
    /// What it shows.
    pub caption: String,
    /// Capture time, UTC milliseconds, when known.
    pub captured_at_ms: Option<i64>,
}

impl NoticePhotoView {
    fn of_notice(p: &NoticePhoto) -> Self {
        NoticePhotoView {
            sha256: p.sha256.to_string(),
            thumbnail: Some(p.thumbnail.sha256.to_string()),
            original: None,
            caption: p.caption.clone(),
            captured_at_ms: None,
        }
    }

    fn of_evidence(e: &EvidenceRef) -> Self {
        NoticePhotoView {
            sha256: e
                .derivatives
                .map_or(e.sha256, |d| d.evidence_copy.sha256)
                .to_string(),
            thumbnail: e.derivatives.map(|d| d.thumbnail.sha256.to_string()),
            original: Some(e.sha256.to_string()),
            caption: e.caption.clone(),
            captured_at_ms: e.captured_at_ms,
        }
    }
}

/// A submitted response (整改回复) with its reviews.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResponseView {
    /// The response's document id.
    pub id: String,
    /// The enterprise account that wrote it.
    pub created_by: String,
    /// What the unit did.
    pub statement: String,
    /// When the unit submitted it (device time, UTC milliseconds).
    pub submitted_at_ms: i64,
    /// Server time it was last received, UTC milliseconds.
    pub received_ms: u64,
    /// The photos proving it.
    pub photos: Vec<NoticePhotoView>,
    /// Its reviews, oldest first.
    pub reviews: Vec<ReviewView>,
    /// Not yet reviewed: the console offers the review form.
    pub awaiting_review: bool,
}

/// An officer who issued the notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuingOfficer {
    /// Full name.
    pub name: String,
    /// Enforcement certificate number (执法证号).
    pub enforcement_id: String,
    /// `transport` (交通运输执法) or `traffic_police` (公安交警).
    pub agency: String,
}

/// A notice with its responses and their reviews: `GET /v1/notices/{id}` and the console's
/// notice page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeDetail {
    /// The notice as listed.
    pub notice: NoticeSummary,
    /// The unit's legal representative, when known.
    pub legal_representative: Option<String>,
    /// Facts found (违法事实).
    pub facts: String,
    /// Legal basis (法律依据).
    pub legal_basis: String,
    /// The issuing officers.
    pub issued_by: Vec<IssuingOfficer>,
    /// Where the unit may apply for administrative review (行政复议机关).
    pub review_body: String,
    /// Where the unit may bring an administrative suit (行政诉讼法院).
    pub appeal_body: String,
    /// Photos shown to the unit (derivatives of the case's photos).
    pub photos: Vec<NoticePhotoView>,
    /// The submitted responses, oldest first.
    pub responses: Vec<ResponseView>,
}

/// Which notices to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoticeFilter {
    /// Only notices in this state.
    pub state: Option<ResponseState>,
    /// Only overdue notices.
    pub overdue_only: bool,
    /// Only notices to this unit.
    pub unit: Option<Uscc>,
}

impl NoticeFilter {
    /// True when `notice` passes the filter.
    pub fn matches(&self, notice: &NoticeSummary) -> bool {
        self.state.is_none_or(|s| s == notice.state)
            && (!self.overdue_only || notice.overdue)
            && self.unit.as_ref().is_none_or(|u| u.as_str() == notice.unit)
    }
}

/// The list's query parameters, as typed (empty values mean "any", as a browser's filter form
/// sends them).
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    /// `none`, `submitted`, `returned` or `accepted`.
    pub state: Option<String>,
    /// `1`/`true`: overdue notices only.
    pub overdue: Option<String>,
    /// A unit's USCC.
    pub unit: Option<String>,
}

impl NoticeQuery {
    /// The filter.
    ///
    /// # Errors
    /// A message (English, naming the parameter) for a value that does not parse.
    pub fn filter(&self) -> Result<NoticeFilter, String> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let state = match given(&self.state) {
            None => None,
            Some(s) => Some(ResponseState::parse(&s).ok_or_else(|| {
                format!("state {s:?}: expected none, submitted, returned or accepted")
            })?),
        };
        let overdue_only = match given(&self.overdue).as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true" | "on") => true,
            Some(other) => return Err(format!("overdue {other:?}: expected 1 or 0")),
        };
        let unit = match given(&self.unit) {
            None => None,
            Some(u) => Some(u.parse::<Uscc>().map_err(|e| format!("unit {u:?}: {e}"))?),
        };
        Ok(NoticeFilter {
            state,
            overdue_only,
            unit,
        })
    }
}

/// The submitted responses and reviews readable by a principal, grouped by parent, and the
/// names of the units whose profiles it may read.
struct Related {
    /// Submitted responses by notice, oldest submission first.
    responses: HashMap<DocumentId, Vec<ResponseView>>,
    /// Unit names by USCC (newest profile by creation time).
    unit_names: HashMap<Uscc, String>,
}

impl Related {
    fn load(state: &AppState, principal: &Principal) -> ConsoleResult<Self> {
        let mut reviews: HashMap<DocumentId, Vec<ReviewView>> = HashMap::new();
        for doc in model::list(state, principal, DocKind::Review)? {
            let Some(parent) = doc.header.parent else {
                continue;
            };
            if let Some(review) = model::body_or_skip::<Review>(state, &doc) {
                reviews
                    .entry(parent)
                    .or_default()
                    .push(ReviewView::of(&doc, &review));
            }
        }
        for list in reviews.values_mut() {
            list.sort_by(|a, b| (a.reviewed_at_ms, &a.id).cmp(&(b.reviewed_at_ms, &b.id)));
        }
        let mut responses: HashMap<DocumentId, Vec<ResponseView>> = HashMap::new();
        for doc in model::list(state, principal, DocKind::Response)? {
            let Some(notice) = doc.header.parent else {
                continue;
            };
            let Some(response) = model::body_or_skip::<Response>(state, &doc) else {
                continue;
            };
            let Some(submitted_at_ms) = response.submitted_at_ms else {
                continue; // a draft
            };
            let reviews = reviews.remove(&doc.id).unwrap_or_default();
            responses.entry(notice).or_default().push(ResponseView {
                id: doc.id.to_string(),
                created_by: doc.header.created_by.to_string(),
                statement: response.statement.as_str().to_owned(),
                submitted_at_ms,
                received_ms: doc.latest.received_ms,
                photos: response
                    .evidence
                    .iter()
                    .map(NoticePhotoView::of_evidence)
                    .collect(),
                awaiting_review: reviews.is_empty(),
                reviews,
            });
        }
        for list in responses.values_mut() {
            list.sort_by(|a, b| (a.submitted_at_ms, &a.id).cmp(&(b.submitted_at_ms, &b.id)));
        }
        let mut newest: HashMap<Uscc, (i64, String)> = HashMap::new();
        for doc in model::list(state, principal, DocKind::Unit)? {
            let Some(uscc) = doc.header.unit.clone() else {
                continue;
            };
            if newest
                .get(&uscc)
                .is_some_and(|(at, _)| *at >= doc.header.created_at_ms)
            {
                continue;
            }
            if let Some(profile) = model::body_or_skip::<UnitProfile>(state, &doc) {
                newest.insert(uscc, (doc.header.created_at_ms, profile.name.clone()));
            }
        }
        Ok(Related {
            responses,
            unit_names: newest.into_iter().map(|(u, (_, n))| (u, n)).collect(),
        })
    }

    fn summary(&self, doc: &DocRef, notice: &Notice, today: &str) -> NoticeSummary {
        let responses = self.responses.get(&doc.id).map_or(&[][..], Vec::as_slice);
        let state = state_of(responses);
        let deadline_date = match &notice.deadline {
            Deadline::Immediately => None,
            Deadline::By { date } => Some(date.clone()),
        };
        let due_date = deadline_date
            .clone()
            .unwrap_or_else(|| layout::date(notice.issued_at_ms));
        let unit_name = doc
            .header
            .unit
            .as_ref()
            .and_then(|u| self.unit_names.get(u))
            .cloned()
            .unwrap_or_else(|| notice.unit_name.clone());
        NoticeSummary {
            id: doc.id.to_string(),
            case: notice.case.to_string(),
            unit: doc
                .header
                .unit
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            unit_name,
            issued_at_ms: notice.issued_at_ms,
            overdue: state != ResponseState::Accepted && today > due_date.as_str(),
            deadline_date,
            due_date,
            state,
            responses: responses.len(),
        }
    }
}

/// The state of a notice with these submitted responses (see the module docs).
fn state_of(responses: &[ResponseView]) -> ResponseState {
    if responses
        .iter()
        .any(|r| r.reviews.iter().any(ReviewView::accepts))
    {
        ResponseState::Accepted
    } else if responses.iter().any(|r| r.awaiting_review) {
        ResponseState::Submitted
    } else if responses.is_empty() {
        ResponseState::None
    } else {
        ResponseState::Returned
    }
}

/// Today in China time by the server's clock, `YYYY-MM-DD`.
fn today(state: &AppState) -> String {
    layout::date(i64::try_from(state.now_ms()).unwrap_or(i64::MAX))
}

/// The notices `principal` may read that pass `filter`, by deadline (立即改正 first, then by
/// date, then by issue time).
///
/// # Errors
/// [`ConsoleError::Internal`] when the change log or the store cannot be read.
pub fn notice_list(
    state: &AppState,
    principal: &Principal,
    filter: &NoticeFilter,
) -> ConsoleResult<Vec<NoticeSummary>> {
    let related = Related::load(state, principal)?;
    let today = today(state);
    let mut out = Vec::new();
    for doc in model::list(state, principal, DocKind::Notice)? {
        if filter
            .unit
            .as_ref()
            .is_some_and(|u| doc.header.unit.as_ref() != Some(u))
        {
            continue;
        }
        let Some(notice) = model::body_or_skip::<Notice>(state, &doc) else {
            continue;
        };
        let summary = related.summary(&doc, &notice, &today);
        if filter.matches(&summary) {
            out.push(summary);
        }
    }
    out.sort_by(|a, b| {
        let key = |n: &NoticeSummary| {
            (
                !n.immediately(),
                n.deadline_date.clone(),
                n.issued_at_ms,
                n.id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(out)
}

/// The notice `id` with its submitted responses and their reviews, when `principal` may read
/// it.
///
/// # Errors
/// [`ConsoleError::NotFound`] when it does not exist, is not a notice or is not readable;
/// [`ConsoleError::Internal`] when it cannot be read.
pub fn notice_detail(
    state: &AppState,
    principal: &Principal,
    id: &DocumentId,
) -> ConsoleResult<NoticeDetail> {
    let doc = model::get(state, principal, id, DocKind::Notice)?;
    let notice = model::body::<Notice>(state, &doc)?;
    let mut related = Related::load(state, principal)?;
    let summary = related.summary(&doc, &notice, &today(state));
    let responses = related.responses.remove(id).unwrap_or_default();
    Ok(NoticeDetail {
        notice: summary,
        legal_representative: notice.legal_representative.clone(),
        facts: notice.facts.as_str().to_owned(),
        legal_basis: notice.legal_basis.as_str().to_owned(),
        issued_by: notice
            .issued_by
            .iter()
            .map(|o| IssuingOfficer {
                name: o.name.clone(),
                enforcement_id: o.enforcement_id.to_string(),
                agency: match o.agency {
                    Agency::Transport => "transport",
                    Agency::TrafficPolice => "traffic_police",
                }
                .to_owned(),
            })
            .collect(),
        review_body: notice.review_body.clone(),
        appeal_body: notice.appeal_body.clone(),
        photos: notice
            .photos
            .iter()
            .map(NoticePhotoView::of_notice)
            .collect(),
        responses,
    })
}

// ---------------------------------------------------------------------------------------------
// Pages

/// `GET /console/notices`.
async fn list_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> ConsoleResult<Markup> {
    let Query(query) =
        query.map_err(|e| ConsoleError::Invalid(format!("筛选条件有误：{}", e.body_text())))?;
    let filter = query
        .filter()
        .map_err(|m| ConsoleError::Invalid(format!("筛选条件有误：{m}")))?;
    // The unit choices: every unit with a notice the supervisor may read.
    let all = notice_list(&state, &user.principal, &NoticeFilter::default())?;
    let units: BTreeMap<&str, &str> = all
        .iter()
        .map(|n| (n.unit.as_str(), n.unit_name.as_str()))
        .collect();
    let notices: Vec<&NoticeSummary> = all.iter().filter(|n| filter.matches(n)).collect();
    let selected_unit = filter.unit.as_ref().map(Uscc::as_str);
    let body = html! {
        h1 { "整改通知书" }
        form.filters method="get" action="/console/notices" {
            label { "整改状态"
                select name="state" {
                    option value="" { "全部" }
                    @for s in ResponseState::ALL {
                        option value=(s.as_str()) selected[filter.state == Some(s)] { (s.label()) }
                    }
                }
            }
            label { "源头单位"
                select name="unit" {
                    option value="" { "全部" }
                    @for (uscc, name) in &units {
                        option value=(uscc) selected[selected_unit == Some(*uscc)] { (name) }
                    }
                }
            }
            label.check { "仅看逾期"
                input type="checkbox" name="overdue" value="1" checked[filter.overdue_only];
            }
            button type="submit" { "筛选" }
        }
        @if notices.is_empty() {
            p.muted { "没有符合条件的整改通知书。" }
        } @else {
            table.notices {
                thead { tr {
                    th { "整改期限" } th { "源头单位" } th { "案件" } th { "下达日期" }
                    th { "整改状态" } th { "回复" } th {}
                } }
                tbody {
                    @for n in &notices {
                        tr class=[n.overdue.then_some("overdue-row")] {
                            td class=[n.overdue.then_some("overdue")] {
                                (n.deadline_label())
                                @if n.overdue { " " span.badge.danger { "逾期" } }
                            }
                            td { (n.unit_name) br; span.hash { (n.unit) } }
                            td { a href={ "/console/cases/" (n.case) } { "查看案件" } }
                            td { (layout::date(n.issued_at_ms)) }
                            td { span class=(n.state.badge()) { (n.state.label()) } }
                            td.num { (n.responses) }
                            td { a href={ "/console/notices/" (n.id) } { "详情" } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("整改通知书", &user, Nav::Notices, &body))
}

/// Query of the notice page: `reviewed=1` after a review was saved.
#[derive(Debug, Default, Deserialize)]
struct DetailQuery {
    reviewed: Option<String>,
}

/// `GET /console/notices/{id}`.
async fn detail_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(query): Query<DetailQuery>,
) -> ConsoleResult<Markup> {
    let id = model::parse_id(&id)?;
    let detail = notice_detail(&state, &user.principal, &id)?;
    let reviewed = query.reviewed.as_deref() == Some("1");
    let n = &detail.notice;
    let body = html! {
        p { a href="/console/notices" { "← 整改列表" } }
        h1 { "整改通知书 · " (n.unit_name) }
        @if reviewed { p.notice-ok { "复核已保存，将同步到执法人员和企业的手机。" } }
        div.card {
            dl.fields {
                dt { "源头单位" } dd { (n.unit_name) " " span.hash { (n.unit) } }
                @if let Some(rep) = &detail.legal_representative {
                    dt { "法定代表人" } dd { (rep) }
                }
                dt { "案件" } dd { a href={ "/console/cases/" (n.case) } { "查看案件" } }
                dt { "下达时间" } dd { (layout::datetime(n.issued_at_ms)) }
                dt { "整改期限" }
                dd class=[n.overdue.then_some("overdue")] {
                    @if n.immediately() { "责令立即改正（" (n.due_date) "）" } @else { "限期至 " (n.due_date) }
                    @if n.overdue { " " span.badge.danger { "逾期" } }
                }
                dt { "整改状态" } dd { span class=(n.state.badge()) { (n.state.label()) } }
                dt { "违法事实" } dd.text { (detail.facts) }
                dt { "法律依据" } dd.text { (detail.legal_basis) }
                dt { "下达人员" }
                dd {
                    @for (i, o) in detail.issued_by.iter().enumerate() {
                        @if i > 0 { "、" }
                        (o.name) "（" (agency_label(&o.agency)) " " (o.enforcement_id) "）"
                    }
                }
                dt { "行政复议机关" } dd { (detail.review_body) }
                dt { "行政诉讼法院" } dd { (detail.appeal_body) }
            }
        }
        @if !detail.photos.is_empty() {
            h2 { "通知书照片" }
            (gallery(&detail.photos))
        }
        h2 { "整改回复" }
        @if detail.responses.is_empty() {
            p.muted { "企业尚未提交整改回复。" }
        }
        @for r in &detail.responses {
            (response_card(&user, r))
        }
    };
    Ok(layout::page("整改通知书", &user, Nav::Notices, &body))
}

fn agency_label(agency: &str) -> &'static str {
    match agency {
        "transport" => "交通运输执法",
        "traffic_police" => "公安交警",
        _ => "执法",
    }
}

fn gallery(photos: &[NoticePhotoView]) -> Markup {
    html! {
        div.gallery {
            @for p in photos {
                figure {
                    @if let Some(thumbnail) = &p.thumbnail {
                        a href={ "/console/blobs/" (p.sha256) } {
                            img src={ "/console/blobs/" (thumbnail) } alt=(p.caption) loading="lazy";
                        }
                    } @else {
                        // A HEIC original is kept as evidence without a preview: the browser
                        // cannot show it, so say so instead of a broken image.
                        p.muted { "无预览（原图格式浏览器无法显示，请下载原图查看）" }
                    }
                    figcaption {
                        (p.caption)
                        @if let Some(at) = p.captured_at_ms { br; (layout::datetime(at)) }
                        @if let Some(original) = &p.original {
                            br; a href={ "/console/blobs/" (original) } { "原图" }
                            " " span.hash { "SHA-256 " (original) }
                        }
                    }
                }
            }
        }
    }
}

fn response_card(user: &ConsoleUser, r: &ResponseView) -> Markup {
    html! {
        div.card.response id={ "response-" (r.id) } {
            dl.fields {
                dt { "提交时间" } dd { (layout::datetime(r.submitted_at_ms)) }
                dt { "服务器接收" } dd { (layout::server_time(r.received_ms)) }
                dt { "提交账号" } dd { (r.created_by) }
                dt { "整改说明" } dd.text { (r.statement) }
            }
            @if !r.photos.is_empty() { (gallery(&r.photos)) }
            @if !r.reviews.is_empty() {
                h3 { "复核记录" }
                table.reviews {
                    thead { tr { th { "结论" } th { "退回理由" } th { "备注" } th { "复核人" } th { "复核时间" } } }
                    tbody {
                        @for v in &r.reviews {
                            tr {
                                td {
                                    @if v.accepts() { span.badge.ok { "通过" } }
                                    @else { span.badge.danger { "退回" } }
                                }
                                td { @if !v.reasons.is_empty() { ol.reasons { @for reason in &v.reasons { li { (reason) } } } } }
                                td.text { (v.comments) }
                                td { (v.reviewer) }
                                td { (layout::datetime(v.reviewed_at_ms)) }
                            }
                        }
                    }
                }
            }
            @if r.awaiting_review {
                h3 { "复核" }
                (super::review::review_form(user, &r.id))
            }
        }
    }
}
