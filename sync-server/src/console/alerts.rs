//! 告警 Alerts: over-limit departures (超限出场) and upload interruptions (数据上传中断) that
//! the supervisor sees, with their actions — 确认 acknowledge, 派发 dispatch to a patrol team,
//! 关闭 close with the case that handled it.
//!
//! Everything goes through the functions of `/v1/alerts` ([`crate::routes::alerts`]):
//! [`list_visible`] with an [`AlertFilter`], [`visible`], [`acknowledge_as`], [`dispatch_as`],
//! [`close_as`] — so who sees what and what may be done is one code path for the page and
//! the JSON route. An alert the supervisor may not see is 404, as a missing one.
//!
//! The list shows what is still to be done by default (every state but closed); filters
//! (GET form): state, kind, supervising authority (as alerts are routed: a township, 应急管理局,
//! 开发区, or 县治超办 for units without a profile), unit (USCC or a part of its name), plate,
//! and a range of China days.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use zhichao_core::calendar::LocalDay;
use zhichao_core::docs::{Case, DocKind, UnitProfile};
use zhichao_core::ids::{DocumentId, TeamId};
use zhichao_core::jurisdiction::Jurisdiction;
use zhichao_core::uscc::Uscc;

use super::layout::{self, Nav};
use super::session::{ConsoleUser, CsrfForm};
use super::{ConsoleError, ConsoleResult, model};
use crate::AppState;
use crate::error::ApiError;
use crate::ingest::alerts::{Alert, AlertAction, AlertKind, AlertStatus};
use crate::routes::alerts::{
    AlertFilter, CloseRequest, MAX_LIST_LIMIT, UnitFilter, acknowledge_as, case_concerns,
    clean_note, close_as, dispatch_as, jurisdiction_param, list_visible, parse_jurisdiction,
    parse_plate, visible,
};

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/alerts", get(list_page))
        .route("/console/alerts/{id}", get(detail_page))
        .route("/console/alerts/{id}/acknowledge", post(acknowledge))
        .route("/console/alerts/{id}/dispatch", post(dispatch))
        .route("/console/alerts/{id}/close", post(close))
}

/// The list's filters as the form sends them (empty fields are no filter).
#[derive(Debug, Default, Deserialize)]
pub struct ListForm {
    /// `` (default: not closed), `all`, `open`, `acknowledged`, `dispatched`, `closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// `over_limit_departure` or `upload_interrupted`.
    #[serde(default)]
    pub kind: Option<String>,
    /// As `GET /v1/alerts`' `jurisdiction`.
    #[serde(default)]
    pub jurisdiction: Option<String>,
    /// A USCC, or a part of the unit's name.
    #[serde(default)]
    pub unit: Option<String>,
    /// A plate as people type it.
    #[serde(default)]
    pub plate: Option<String>,
    /// First China day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: Option<String>,
    /// Last China day (included), `YYYY-MM-DD`.
    #[serde(default)]
    pub to: Option<String>,
}

fn field(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day(text: &str, what: &str) -> ConsoleResult<u64> {
    let day: LocalDay = text
        .parse()
        .map_err(|_| ConsoleError::Invalid(format!("{what}须为 YYYY-MM-DD 格式的日期。")))?;
    u64::try_from(day.start_ms()).map_err(|_| ConsoleError::Invalid(format!("{what}超出范围。")))
}

const DAY_MS: u64 = 86_400_000;

impl ListForm {
    /// The filter this form asks for.
    ///
    /// # Errors
    /// [`ConsoleError::Invalid`] naming the field, in Chinese.
    pub fn filter(&self) -> ConsoleResult<AlertFilter> {
        let mut filter = AlertFilter {
            limit: MAX_LIST_LIMIT,
            ..AlertFilter::default()
        };
        match field(&self.status) {
            None => filter.exclude_closed = true,
            Some("all") => {}
            Some(s) => {
                filter.status = Some(
                    [
                        AlertStatus::Open,
                        AlertStatus::Acknowledged,
                        AlertStatus::Dispatched,
                        AlertStatus::Closed,
                    ]
                    .into_iter()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| ConsoleError::Invalid("状态筛选有误。".to_owned()))?,
                );
            }
        }
        filter.kind = match field(&self.kind) {
            None => None,
            Some("over_limit_departure") => Some(AlertKind::OverLimitDeparture),
            Some("upload_interrupted") => Some(AlertKind::UploadInterrupted),
            Some(_) => return Err(ConsoleError::Invalid("告警类型筛选有误。".to_owned())),
        };
        filter.jurisdiction = field(&self.jurisdiction)
            .map(parse_jurisdiction)
            .transpose()
            .map_err(|_| ConsoleError::Invalid("监管主体筛选有误。".to_owned()))?;
        filter.unit = field(&self.unit).map(|u| match u.to_ascii_uppercase().parse::<Uscc>() {
            Ok(uscc) => UnitFilter::Uscc(uscc),
            Err(_) => UnitFilter::NameContains(u.to_owned()),
        });
        filter.plate = field(&self.plate)
            .map(parse_plate)
            .transpose()
            .map_err(|e| ConsoleError::Invalid(format!("车牌号有误：{e}")))?;
        if let Some(from) = field(&self.from) {
            filter.from_ms = day(from, "开始日期")?;
        }
        if let Some(to) = field(&self.to) {
            filter.to_ms = day(to, "结束日期")?.saturating_add(DAY_MS);
        }
        Ok(filter)
    }
}

/// The unit's name, else its USCC.
fn unit_label(a: &Alert) -> String {
    a.unit_name
        .clone()
        .unwrap_or_else(|| a.unit.as_str().to_owned())
}

fn status_badge(s: AlertStatus) -> Markup {
    let class = match s {
        AlertStatus::Open => "badge danger",
        AlertStatus::Acknowledged | AlertStatus::Dispatched => "badge warn",
        AlertStatus::Closed => "badge ok",
    };
    html! { span class=(class) { (s.chinese_name()) } }
}

fn recipients(state: &AppState, a: &Alert) -> String {
    a.recipients
        .iter()
        .map(|j| state.config.jurisdiction_label(j))
        .collect::<Vec<_>>()
        .join("、")
}

/// The authorities the jurisdiction filter offers: the fixed ones and the townships of the
/// units the supervisor may read.
fn jurisdiction_options(state: &AppState, user: &ConsoleUser) -> ConsoleResult<Vec<Jurisdiction>> {
    let mut out = vec![
        Jurisdiction::CountyOffice,
        Jurisdiction::EmergencyManagementBureau,
        Jurisdiction::DevelopmentZone,
    ];
    let mut townships = Vec::new();
    for doc in model::list(state, &user.principal, DocKind::Unit)? {
        if let Ok(p) = model::body::<UnitProfile>(state, &doc) {
            let j = zhichao_core::jurisdiction::route(p.kind, &p.township);
            if matches!(j, Jurisdiction::Township(_)) && !townships.contains(&j) {
                townships.push(j);
            }
        }
    }
    townships.sort();
    out.extend(townships);
    // Only authorities within the supervisor's scope: a township sees its own alerts, so
    // offering 应急管理局 would only ever filter to nothing.
    let county = state.config.county.county_code();
    out.retain(|j| {
        zhichao_core::scope::Scope::of_jurisdiction(county, j)
            .is_ok_and(|s| user.scope().contains(&s))
    });
    Ok(out)
}

/// `GET /console/alerts`.
async fn list_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<ListForm>,
) -> ConsoleResult<Markup> {
    let filter = form.filter()?;
    let alerts = list_visible(&state, &user.principal, &filter)?;
    let options = jurisdiction_options(&state, &user)?;
    let status = field(&form.status).unwrap_or("");
    let kind = field(&form.kind).unwrap_or("");
    let jurisdiction = field(&form.jurisdiction).unwrap_or("");
    let body = html! {
        h1 { "告警" }
        form.filters method="get" action="/console/alerts" {
            label { "状态"
                select name="status" {
                    option value="" selected[status.is_empty()] { "未办结" }
                    option value="all" selected[status == "all"] { "全部" }
                    @for s in [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Dispatched, AlertStatus::Closed] {
                        option value=(s.as_str()) selected[status == s.as_str()] { (s.chinese_name()) }
                    }
                }
            }
            label { "类型"
                select name="kind" {
                    option value="" selected[kind.is_empty()] { "全部" }
                    option value="over_limit_departure" selected[kind == "over_limit_departure"] { "超限出场" }
                    option value="upload_interrupted" selected[kind == "upload_interrupted"] { "数据上传中断" }
                }
            }
            label { "监管主体"
                select name="jurisdiction" {
                    option value="" selected[jurisdiction.is_empty()] { "全部" }
                    @for j in &options {
                        @let v = jurisdiction_param(j);
                        option value=(v) selected[jurisdiction == v] { (state.config.jurisdiction_label(j)) }
                    }
                }
            }
            label { "源头单位（名称或信用代码）"
                input type="search" name="unit" value=[field(&form.unit)];
            }
            label { "车牌号"
                input type="search" name="plate" value=[field(&form.plate)] size="10";
            }
            label { "开始日期"
                input type="date" name="from" value=[field(&form.from)];
            }
            label { "结束日期"
                input type="date" name="to" value=[field(&form.to)];
            }
            button type="submit" { "筛选" }
        }
        @if alerts.is_empty() {
            p.muted { "没有符合条件的告警。" }
        } @else {
            table {
                thead { tr {
                    th { "时间" } th { "类型" } th { "源头单位" } th { "车牌 / 设备" }
                    th.num { "总重" } th.num { "限值" } th.num { "超限" }
                    th { "接收单位" } th { "状态" } th {}
                } }
                tbody {
                    @for a in &alerts {
                        @let href = format!("/console/alerts/{}", a.id);
                        tr {
                            td { (layout::server_time(a.raised_at_ms)) }
                            td { (a.kind.chinese_name()) }
                            td { (unit_label(a)) }
                            @if let Some(d) = &a.departure {
                                td { (d.plate) }
                                td.num { (layout::tonnes(d.gross_kg)) }
                                td.num { (layout::tonnes(d.limit_kg)) }
                                td.num.overdue { (layout::tonnes(d.excess_kg)) }
                            } @else if let Some(i) = &a.interruption {
                                td { (i.equipment.chinese_name()) }
                                td.num { "—" } td.num { "—" } td.num { "—" }
                            } @else {
                                td { "—" } td.num { "—" } td.num { "—" } td.num { "—" }
                            }
                            td { (recipients(&state, a)) }
                            td { (status_badge(a.status)) }
                            td { a href=(href) { "详情" } }
                        }
                    }
                }
            }
            @if alerts.len() >= MAX_LIST_LIMIT {
                p.muted { "只显示最新的 " (MAX_LIST_LIMIT) " 条，请缩小筛选范围。" }
            }
        }
    };
    Ok(layout::page("告警", &user, Nav::Alerts, &body))
}

fn action_label(a: &AlertAction) -> &'static str {
    match a {
        AlertAction::Raised => "产生",
        AlertAction::Acknowledged { .. } => "确认",
        AlertAction::Dispatched { .. } => "派发",
        AlertAction::Closed { .. } => "关闭",
        AlertAction::Resumed => "设备恢复上传",
    }
}

/// The case number (案号) of a case the supervisor may read, else its document id.
fn case_label(state: &AppState, user: &ConsoleUser, case: &DocumentId) -> String {
    model::get(state, &user.principal, case, DocKind::Case)
        .and_then(|doc| model::body::<Case>(state, &doc))
        .map_or_else(|_| case.to_string(), |c| c.case_number.to_string())
}

fn action_detail(a: &AlertAction, case_label: &dyn Fn(&DocumentId) -> String) -> Markup {
    html! {
        @match a {
            AlertAction::Acknowledged { note } => { @if let Some(n) = note { (n) } }
            AlertAction::Dispatched { team, note } => {
                "派发至巡查组 " (team.as_str())
                @if let Some(n) = note { "：" (n) }
            }
            AlertAction::Closed { case, note } => {
                @if let Some(c) = case {
                    "查处案件 " a href=(format!("/console/cases/{c}")) { (case_label(c)) }
                    @if note.is_some() { "；" }
                }
                @if let Some(n) = note { (n) }
            }
            AlertAction::Raised | AlertAction::Resumed => {}
        }
    }
}

/// The readable cases about this alert's plate or unit (the choices to close it with).
fn related_cases(
    state: &AppState,
    user: &ConsoleUser,
    alert: &Alert,
) -> ConsoleResult<Vec<(DocumentId, String)>> {
    let mut out = Vec::new();
    for doc in model::list(state, &user.principal, DocKind::Case)? {
        let Ok(case) = model::body::<Case>(state, &doc) else {
            continue;
        };
        if case_concerns(&case, alert) {
            let plate = case
                .vehicle
                .as_ref()
                .map(|v| format!(" · {}", v.plate))
                .unwrap_or_default();
            out.push((doc.id, format!("{}{plate}", case.case_number)));
        }
    }
    Ok(out)
}

/// `GET /console/alerts/{id}`.
async fn detail_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> ConsoleResult<Markup> {
    let alert = visible(&state, &user.principal, &id)?;
    let cases = if alert.status == AlertStatus::Closed {
        Vec::new()
    } else {
        related_cases(&state, &user, &alert)?
    };
    let base = format!("/console/alerts/{}", alert.id);
    let label = |c: &DocumentId| case_label(&state, &user, c);
    let body = html! {
        p { a href="/console/alerts" { "← 告警列表" } }
        h1 { (alert.kind.chinese_name()) " · " (unit_label(&alert)) " " (status_badge(alert.status)) }
        dl.fields {
            dt { "告警编号" } dd.hash { (alert.id) }
            dt { "产生时间" } dd { (layout::server_time(alert.raised_at_ms)) }
            dt { "源头单位" } dd { (unit_label(&alert)) " " span.hash { (alert.unit.as_str()) } }
            dt { "监管主体" } dd { (state.config.jurisdiction_label(&alert.jurisdiction.unwrap_or(Jurisdiction::CountyOffice))) }
            dt { "接收单位" } dd { (recipients(&state, &alert)) }
            @if let Some(d) = &alert.departure {
                dt { "车牌号" } dd { (d.plate) }
                dt { "称重时间" } dd { (layout::datetime(d.weighed_at_ms)) }
                @if let Some(exit) = d.exit_at_ms { dt { "出场时间" } dd { (layout::datetime(exit)) } }
                dt { "总重" } dd { (layout::tonnes(d.gross_kg)) }
                dt { "限值" } dd {
                    (layout::tonnes(d.limit_kg))
                    @if d.configuration_assumed { " " span.muted { "（仅知轴数，按最高限值）" } }
                }
                dt { "超限" } dd.overdue { (layout::tonnes(d.excess_kg)) " （超限率 " (format!("{:.2}", d.rate_bp as f64 / 100.0)) "%）" }
                dt { "本年超限次数" } dd { (d.year_count) }
                dt { "称重记录" } dd.hash { (d.record_id) }
            }
            @if let Some(i) = &alert.interruption {
                dt { "中断设备" } dd { (i.equipment.chinese_name()) }
                dt { "最后上传" } dd { (i.last_seen_ms.map_or_else(|| "监测开始以来无上传".to_owned(), layout::server_time)) }
                dt { "中断时长" } dd { (i.silent_ms / 60_000) " 分钟（营业时间内）" }
                @if let Some(r) = i.resumed_at_ms { dt { "恢复上传" } dd { (layout::server_time(r)) } }
            }
            @if let Some(team) = &alert.dispatched_to { dt { "派发巡查组" } dd { (team.as_str()) } }
            @if let Some(c) = &alert.case {
                dt { "查处案件" } dd { a href=(format!("/console/cases/{c}")) { (label(c)) } }
            }
        }
        h2 { "处置记录" }
        table {
            thead { tr { th { "时间" } th { "操作" } th { "操作人" } th { "说明" } } }
            tbody {
                @for e in &alert.history {
                    tr {
                        td { (layout::server_time(e.at_ms)) }
                        td { (action_label(&e.action)) }
                        td { (layout::person(e.by.as_str())) }
                        td { (action_detail(&e.action, &label)) }
                    }
                }
            }
        }
        @if alert.status != AlertStatus::Closed {
            h2 { "处置" }
            div.cards {
                @if alert.status == AlertStatus::Open {
                    form.stack.card method="post" action=(format!("{base}/acknowledge")) {
                        (layout::csrf_field(&user))
                        label for="ack-note" { "确认说明（可选）" }
                        textarea id="ack-note" name="note" maxlength="500" {}
                        p { button type="submit" { "确认" } }
                    }
                }
                form.stack.card method="post" action=(format!("{base}/dispatch")) {
                    (layout::csrf_field(&user))
                    label for="team" { "巡查组编号" }
                    input id="team" name="team" required value=[alert.dispatched_to.as_ref().map(TeamId::as_str)];
                    label for="dispatch-note" { "派发说明（可选）" }
                    textarea id="dispatch-note" name="note" maxlength="500" {}
                    p { button type="submit" { "派发" } }
                }
                form.stack.card method="post" action=(format!("{base}/close")) {
                    (layout::csrf_field(&user))
                    label for="case" { "查处案件" }
                    select id="case" name="case" {
                        option value="" { "—" }
                        @for (case_id, label) in &cases {
                            option value=(case_id.to_string()) { (label) }
                        }
                    }
                    label for="case-id" { "或输入案件的文档 ID" }
                    input id="case-id" name="case_id";
                    label for="close-note" {
                        @if alert.kind == AlertKind::UploadInterrupted { "说明（无案件时必填）" } @else { "说明（可选）" }
                    }
                    textarea id="close-note" name="note" maxlength="500" {}
                    p { button.danger type="submit" { "关闭告警" } }
                }
            }
        }
    };
    Ok(layout::page("告警详情", &user, Nav::Alerts, &body))
}

/// The acknowledge form.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    /// Optional note.
    #[serde(default)]
    pub note: Option<String>,
}

/// The dispatch form.
#[derive(Debug, Deserialize)]
pub struct DispatchForm {
    /// The patrol team's id.
    #[serde(default)]
    pub team: String,
    /// Optional note.
    #[serde(default)]
    pub note: Option<String>,
}

/// The close form: a case chosen from the list or typed, and a note.
#[derive(Debug, Deserialize)]
pub struct CloseForm {
    /// The case chosen from the related ones.
    #[serde(default)]
    pub case: Option<String>,
    /// A case document id typed in (wins over the choice).
    #[serde(default)]
    pub case_id: Option<String>,
    /// Optional note (required for an interruption without a case).
    #[serde(default)]
    pub note: Option<String>,
}

/// An action's refusal in the supervisor's words.
fn refused(e: ApiError) -> ConsoleError {
    match e {
        ApiError::Invalid {
            code: "invalid_case",
            ..
        } => ConsoleError::Invalid("没有这个案件，或您无权查看该案件。".to_owned()),
        ApiError::Invalid {
            code: "case_unrelated",
            ..
        } => ConsoleError::Invalid(
            "该案件与本告警无关：案件的车辆和源头单位都与告警不符。".to_owned(),
        ),
        ApiError::Conflict { .. } => {
            ConsoleError::Conflict("该告警已办结，不能再操作。".to_owned())
        }
        other => ConsoleError::from(other),
    }
}

fn note(text: Option<String>) -> ConsoleResult<Option<String>> {
    clean_note(text)
        .map_err(|_| ConsoleError::Invalid("说明最多 500 字，且不能含控制字符。".to_owned()))
}

fn back(id: &str) -> Redirect {
    Redirect::to(&format!("/console/alerts/{}", super::units::urlencode(id)))
}

/// `POST /console/alerts/{id}/acknowledge`.
async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, form): CsrfForm<NoteForm>,
) -> ConsoleResult<Redirect> {
    let note = note(form.note)?;
    acknowledge_as(&state, &user.principal, &id, note)
        .await
        .map_err(refused)?;
    Ok(back(&id))
}

/// `POST /console/alerts/{id}/dispatch`.
async fn dispatch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, form): CsrfForm<DispatchForm>,
) -> ConsoleResult<Redirect> {
    // Out of scope is 404 before anything about the form is said.
    visible(&state, &user.principal, &id)?;
    let team = TeamId::new(form.team.trim())
        .map_err(|e| ConsoleError::Invalid(format!("巡查组编号有误：{e}")))?;
    let note = note(form.note)?;
    dispatch_as(&state, &user.principal, &id, team, note)
        .await
        .map_err(refused)?;
    Ok(back(&id))
}

/// `POST /console/alerts/{id}/close`.
async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, form): CsrfForm<CloseForm>,
) -> ConsoleResult<Redirect> {
    let alert = visible(&state, &user.principal, &id)?;
    let case = field(&form.case_id)
        .or(field(&form.case))
        .map(|text| {
            text.parse::<DocumentId>()
                .map_err(|_| ConsoleError::Invalid(format!("案件编号 {text} 格式有误。")))
        })
        .transpose()?;
    let note = note(form.note)?;
    match (alert.kind, &case, &note) {
        (AlertKind::OverLimitDeparture, None, _) => {
            return Err(ConsoleError::Invalid(
                "超限出场告警须关联查处它的案件。".to_owned(),
            ));
        }
        (AlertKind::UploadInterrupted, None, None) => {
            return Err(ConsoleError::Invalid(
                "数据上传中断告警关闭时须填写说明或关联案件。".to_owned(),
            ));
        }
        _ => {}
    }
    close_as(&state, &user.principal, &id, CloseRequest { case, note })
        .await
        .map_err(refused)?;
    Ok(back(&id))
}
