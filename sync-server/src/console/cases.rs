//! 案件 Cases: the list, and one case with its photos and change history.
//!
//! | route | page |
//! |---|---|
//! | `GET /console/cases?status=&plate=&unit=&from=&to=&overdue=1&page=` | the cases the supervisor may read, latest change first, 100 a page, with the 90-day decision clock |
//! | `GET /console/cases/{id}` | one case: header facts, on-site record, vehicle and measurement, classification, findings, stages, reviews (and the review form), notices, photos, change history |
//! | `GET /console/cases/{id}/photos/{sha256}` | one photo: the evidence copy, caption, time, GPS, and the original's download with its SHA-256 |
//! | `GET /console/blobs/{sha256}[?download=1]` | a photo blob, with the read check of `GET /v1/blobs/{sha256}` ([`crate::routes::blobs::serve_blob`]), `no-store` as every console answer; `download=1` sends it as an attachment named by its hash |
//!
//! What is shown is computed in [`super::case_view`] (shared with the JSON routes); a case
//! the supervisor may not read is 404 like a missing one. The review form posts to
//! `POST /console/reviews` (fields `parent`, `decision` = `accept`|`return`, `reasons` one per
//! line, `comments`, and the CSRF token).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;
use zhichao_core::docs::{Agency, CheckItem, CheckStatus, MeasurementRecord, Stage, Vehicle};
use zhichao_core::rules::Classification;

use crate::AppState;

use super::case_view::{
    self, CaseDetail, CaseList, CaseQuery, CaseSummary, Gps, PHOTO_DISTANCE_WARNING_M, PhotoView,
    STATUSES,
};
use super::layout::{self, Nav, date, datetime, datetime_seconds, page, server_time};
use super::session::ConsoleUser;
use super::{ConsoleError, ConsoleResult, history, model};

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/cases", get(list_page))
        .route("/console/cases/{id}", get(detail_page))
        .route("/console/cases/{id}/photos/{sha256}", get(photo_page))
        .route("/console/blobs/{sha256}", get(blob))
}

/// Runs a read of the stores off the async threads.
///
/// # Errors
/// `f`'s error; [`ConsoleError::Internal`] when the task fails.
pub async fn blocking<T, F>(state: &AppState, f: F) -> ConsoleResult<T>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> ConsoleResult<T> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(ConsoleError::internal)?
}

/// Now, UTC ms, as a signed instant.
pub fn now_ms(state: &AppState) -> i64 {
    i64::try_from(state.now_ms()).unwrap_or(i64::MAX)
}

async fn list_page(
    user: ConsoleUser,
    State(state): State<AppState>,
    query: Result<Query<CaseQuery>, QueryRejection>,
) -> ConsoleResult<Markup> {
    let Query(query) = query.map_err(|e| ConsoleError::Invalid(e.body_text()))?;
    let filter = query.parse().map_err(ConsoleError::Invalid)?;
    let principal = user.principal.clone();
    let now = now_ms(&state);
    let list = blocking(&state, move |s| {
        case_view::list_cases(s, &principal, &filter, now)
    })
    .await?;
    Ok(page(
        "案件",
        &user,
        Nav::Cases,
        &html! {
            h1 { "案件" }
            (filters(&query))
            p.muted { "共 " (list.total) " 件" @if list.total > 0 { "，第 " (list.page) " 页" } }
            (case_table(&list, now))
            (pager(&query, &list))
        },
    ))
}

fn filters(q: &CaseQuery) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let status = value(&q.status);
    let overdue = matches!(q.overdue.as_deref(), Some("1" | "true" | "on"));
    html! {
        form.filters method="get" action="/console/cases" {
            label { "状态"
                select name="status" {
                    option value="" { "全部" }
                    @for s in STATUSES {
                        option value=(s.as_str()) selected[status == s.as_str()] {
                            (case_view::status_label(s))
                        }
                    }
                }
            }
            label { "车牌" input type="text" name="plate" value=(value(&q.plate)) placeholder="如 晋E123"; }
            label { "源头单位" input type="text" name="unit" value=(value(&q.unit)) placeholder="信用代码或名称"; }
            label { "开始日期自" input type="date" name="from" value=(value(&q.from)); }
            label { "至" input type="date" name="to" value=(value(&q.to)); }
            label { "仅超期" input type="checkbox" name="overdue" value="1" checked[overdue]; }
            button type="submit" { "筛选" }
            a href="/console/cases" { "清除" }
        }
    }
}

/// The decision clock of a case: due date with days left, or overdue in red.
fn clock(s: &CaseSummary) -> Markup {
    html! {
        @match s.decision_due_ms {
            None => span.muted { "未立案" },
            Some(due) => {
                @if s.overdue {
                    span.overdue title="立案90日内未作出处罚决定" { "已超期 " (date(due)) }
                } @else if let Some(days) = s.days_left {
                    (date(due)) " " span.muted { "剩 " (days) " 天" }
                } @else {
                    span.muted { (date(due)) " 已决定" }
                }
            }
        }
    }
}

fn unit_cell(s: &CaseSummary) -> Markup {
    html! {
        @if let Some(u) = &s.unit {
            @if let Some(name) = &u.name { (name) br; }
            span.hash { (u.uscc) }
        } @else {
            span.muted { "—" }
        }
    }
}

fn case_table(list: &CaseList, _now: i64) -> Markup {
    html! {
        @if list.cases.is_empty() {
            p.muted { "没有符合条件的案件。" }
        } @else {
            table.cases {
                thead { tr {
                    th { "案号" } th { "类型" } th { "状态" } th { "车牌" } th { "源头单位" }
                    th { "执法人员" } th { "开始日期" } th { "最近变更" } th { "处罚决定期限" }
                } }
                tbody {
                    @for s in &list.cases {
                        tr.overdue-row[s.overdue] {
                            td { a href={"/console/cases/" (s.id)} { (s.case_number) } }
                            td { (s.kind_label) }
                            td { (s.status_label) }
                            td { (s.plate.as_deref().unwrap_or("—")) }
                            td { (unit_cell(s)) }
                            td { (s.officers.join("、")) }
                            td { (date(s.started_at_ms)) }
                            td { (server_time(s.last_change_ms)) }
                            td { (clock(s)) }
                        }
                    }
                }
            }
        }
    }
}

/// Previous/next page buttons: GET forms carrying the filters (the browser encodes them).
fn pager(q: &CaseQuery, list: &CaseList) -> Markup {
    let carried: Vec<(&str, &str)> = [
        ("status", &q.status),
        ("plate", &q.plate),
        ("unit", &q.unit),
        ("from", &q.from),
        ("to", &q.to),
        ("overdue", &q.overdue),
        ("limit", &q.limit),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    let form = |to: usize, label: &str| {
        html! {
            form.inline method="get" action="/console/cases" {
                @for (k, v) in &carried { input type="hidden" name=(k) value=(v); }
                input type="hidden" name="page" value=(to);
                button.secondary type="submit" { (label) }
            }
        }
    };
    html! {
        p.pager {
            @if list.page > 1 { (form(list.page - 1, "上一页")) " " }
            @if list.has_more { (form(list.page + 1, "下一页")) }
        }
    }
}

async fn detail_page(
    user: ConsoleUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ConsoleResult<Markup> {
    let id = model::parse_id(&id)?;
    let principal = user.principal.clone();
    let now = now_ms(&state);
    let detail = blocking(&state, move |s| {
        case_view::case_detail(s, &principal, &id, now)
    })
    .await?;
    let title = format!("案件 {}", detail.summary.case_number);
    Ok(page(
        &title,
        &user,
        Nav::Cases,
        &detail_body(&user, &detail),
    ))
}

fn agency_label(a: Agency) -> &'static str {
    match a {
        Agency::Transport => "交通运输执法",
        Agency::TrafficPolice => "公安交警",
    }
}

fn check_label(s: CheckStatus) -> Markup {
    html! {
        @match s {
            CheckStatus::NotChecked => span.badge.muted { "未检查" },
            CheckStatus::Working => span.badge.ok { "正常" },
            CheckStatus::Faulty => span.badge.warn { "故障" },
            CheckStatus::Missing => span.badge.danger { "未安装" },
        }
    }
}

fn percent(bp: u64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

fn detail_body(user: &ConsoleUser, d: &CaseDetail) -> Markup {
    let s = &d.summary;
    html! {
        h1 { "案件 " (s.case_number) " " span.badge { (s.status_label) } }
        p { a href="/console/cases" { "← 返回案件列表" } }
        section.card {
            dl.fields {
                dt { "案号" } dd { (s.case_number) }
                dt { "类型" } dd { (s.kind_label) }
                dt { "状态" } dd { (s.status_label) }
                dt { "处罚决定期限" } dd { (clock(s)) }
                dt { "源头单位" } dd { (unit_cell(s)) }
                dt { "巡查组" } dd { (d.team.as_deref().unwrap_or("—")) }
                dt { "范围" } dd { (d.scope_name) }
                dt { "创建人" } dd { (d.created_by) " · " (datetime(d.created_at_ms)) }
                dt { "规则版本" } dd { (d.rules_id) }
                dt { "最近变更" } dd { (server_time(s.last_change_ms)) }
            }
        }
        h2 { "现场笔录" }
        section.card {
            dl.fields {
                dt { "地点" } dd { (d.onsite.place.as_str()) }
                dt { "GPS" } dd {
                    @match &d.onsite.gps { Some(g) => (Gps::of(g).text()), None => span.muted { "无定位" } }
                }
                dt { "开始" } dd { (datetime(d.onsite.started_at_ms)) }
                dt { "结束" } dd {
                    @match d.onsite.ended_at_ms { Some(t) => (datetime(t)), None => span.muted { "未结束" } }
                }
                dt { "执法人员" } dd {
                    @for o in &d.onsite.officers {
                        (o.name) "（" (agency_label(o.agency)) "，执法证号 " (o.enforcement_id.as_str()) "）" br;
                    }
                }
                dt { "现场当事人" } dd {
                    @match &d.onsite.person_on_site {
                        Some(p) => {
                            (p.name) "，" (p.role)
                            @if let Some(n) = &p.id_number { "，证件号 " (n) }
                        }
                        None => span.muted { "—" },
                    }
                }
            }
        }
        h2 { "车辆与称重" }
        section.card { (vehicle(d.vehicle.as_ref(), d.measurement.as_ref())) }
        h2 { "超限认定" }
        section.card.classification {
            @match (&d.classification, &d.classification_error) {
                (Some(c), _) => (classification(c)),
                (None, Some(e)) => p.error { "无法计算：" (e) },
                (None, None) => p.muted { "尚无车辆或称重数据。" },
            }
        }
        h2 { "查明事实" }
        section.card {
            @if d.findings.trim().is_empty() { p.muted { "—" } } @else { p.findings { (d.findings) } }
            @if !d.subjects.is_empty() {
                h3 { "一超四罚对象" }
                ul {
                    @for sub in &d.subjects {
                        li {
                            (sub.subject.chinese_name()) "："
                            (sub.name.as_deref().unwrap_or("未知"))
                            @if let Some(i) = &sub.identifier { " · " span.hash { (i) } }
                        }
                    }
                }
            }
            @if let Some(c) = &d.checklist {
                h3 { "设备检查" }
                table {
                    thead { tr { th { "项目" } th { "状态" } th { "说明" } } }
                    tbody {
                        @for (label, item) in [("称重检测", &c.weighing), ("视频监控", &c.video),
                                               ("电子显示屏", &c.display_screen), ("数据上传", &c.data_upload)] {
                            (check_row(label, item))
                        }
                    }
                }
            }
        }
        h2 { "办案环节" }
        @if d.events.is_empty() {
            p.muted { "尚未立案。" }
        } @else {
            table.events {
                thead { tr { th { "环节" } th { "时间" } th { "记录人" } th { "备注" } } }
                tbody {
                    @for e in &d.events {
                        tr {
                            td { (e.stage.chinese_name()) @if e.stage == Stage::Closed && s.status != "closed" { " " span.badge.warn { "待复核" } } }
                            td { (datetime(e.at_ms)) }
                            td { (e.by.as_str()) }
                            td { (e.note) }
                        }
                    }
                }
            }
        }
        h2 { "复核" }
        (reviews(d))
        // An accepting review is final (结案 takes effect with it); before that the office may
        // accept or return, again after a return.
        @if d.reviews.iter().any(|r| r.accepts()) {
            p.muted { "已复核通过，无需再次复核。" }
        } @else {
            (super::review::review_form(user, &s.id))
        }
        h2 { "整改通知书" }
        @if d.notices.is_empty() {
            p.muted { "本案未下发整改通知书。" }
        } @else {
            ul.notices {
                @for n in &d.notices {
                    li {
                        a href={"/console/notices/" (n.id)} { (n.unit_name) " · " (datetime(n.issued_at_ms)) }
                        " 整改期限 " (n.deadline)
                    }
                }
            }
        }
        h2 { "照片证据" }
        (gallery(&s.id, &d.photos))
        h2 { "变更记录" }
        (history::render(&d.history))
    }
}

fn check_row(label: &str, item: &CheckItem) -> Markup {
    html! { tr { td { (label) } td { (check_label(item.status)) } td { (item.note.as_str()) } } }
}

fn vehicle(v: Option<&Vehicle>, m: Option<&MeasurementRecord>) -> Markup {
    html! {
        dl.fields {
            @if let Some(v) = v {
                dt { "车牌" } dd.plate { (v.plate) @if let Some(c) = v.colour { "（" (c.chinese_name()) "）" } }
                dt { "录入车牌" } dd { (v.plate_as_typed) }
                dt { "车型" } dd {
                    (v.configuration.kind.map_or("车型未知", |k| k.chinese_name()))
                    "，" (v.configuration.axles) " 轴"
                    @if let Some(kg) = v.configuration.registration_kg { "，行驶证总质量 " (layout::tonnes(kg)) }
                }
            } @else {
                dt { "车辆" } dd.muted { "未记录" }
            }
            @if let Some(m) = m {
                dt { "车货总质量" } dd { (layout::tonnes(m.measurement.gross_kg)) }
                @for (label, mm) in [("高", m.measurement.height_mm), ("宽", m.measurement.width_mm), ("长", m.measurement.length_mm)] {
                    @if let Some(mm) = mm { dt { (label) } dd { (mm) " mm" } }
                }
                @if let Some(kg) = m.measurement.rated_payload_kg { dt { "核定载质量" } dd { (layout::tonnes(kg)) } }
                @if let Some(kg) = m.measurement.curb_kg { dt { "整备质量" } dd { (layout::tonnes(kg)) } }
                dt { "称重时间" } dd { (datetime(m.measured_at_ms)) }
                dt { "衡器" } dd { (m.scale.as_deref().unwrap_or("—")) }
            } @else {
                dt { "称重" } dd.muted { "未称重" }
            }
        }
    }
}

fn classification(c: &Classification) -> Markup {
    html! {
        p {
            @if c.over_limit { span.badge.danger { "超限" } } @else { span.badge.ok { "未超限" } }
            @if let Some(o) = &c.overload {
                " "
                @if o.overloaded { span.badge.danger { "超载" } } @else { span.badge.ok { "未超载" } }
            }
            @if c.configuration_assumed { " " span.badge.warn { "车型细节未知，按最高限值认定" } }
        }
        dl.fields {
            dt { "车货总质量" } dd { (layout::tonnes(c.gross_kg)) }
            dt { "限值" } dd { (layout::tonnes(c.limit_kg)) }
            dt { "允许误差" } dd { (layout::tonnes(c.tolerance_kg)) }
            dt { "超限质量" } dd { (layout::tonnes(c.excess_kg)) }
            dt { "超限率" } dd { (percent(c.rate_bp)) }
            dt { "限值依据" } dd { @for b in &c.limit.basis { (b) br; } }
            @for e in &c.dimension_excesses {
                dt { (e.dimension.chinese_name()) "超限" } dd { (e.measured_mm) " mm（限 " (e.limit_mm) " mm）" }
            }
            dt { "罚款估算" } dd {
                @if c.penalty.mass_warning_only { "警告；" }
                @if c.penalty.min_yuan() == c.penalty.max_yuan() {
                    "¥" (c.penalty.max_yuan())
                } @else {
                    "¥" (c.penalty.min_yuan()) " – ¥" (c.penalty.max_yuan())
                }
            }
            @if !c.subjects.is_empty() {
                dt { "一超四罚" } dd {
                    @for (i, s) in c.subjects.iter().enumerate() { @if i > 0 { "、" } (s.chinese_name()) }
                }
            }
            @if let Some(o) = &c.overload {
                dt { "超载质量" } dd { (layout::tonnes(o.excess_kg)) "（" (percent(o.rate_bp)) "）" }
                dt { "记分" } dd { (o.licence_points) " 分" }
            }
        }
    }
}

fn reviews(d: &CaseDetail) -> Markup {
    html! {
        @if d.reviews.is_empty() {
            p.muted { "尚无复核。" }
        } @else {
            table.reviews {
                thead { tr { th { "结论" } th { "理由" } th { "意见" } th { "复核人" } th { "时间" } } }
                tbody {
                    @for r in &d.reviews {
                        tr {
                            td {
                                @if r.decision == "accept" { span.badge.ok { "通过" } }
                                @else { span.badge.danger { "退回" } }
                            }
                            td { @for reason in &r.reasons { (reason) br; } }
                            td { (r.comments) }
                            td { (r.reviewer) }
                            td { (datetime(r.reviewed_at_ms)) br; span.muted { "接收 " (server_time(r.received_ms)) } }
                        }
                    }
                }
            }
        }
    }
}

fn blob_url(sha: &str) -> String {
    format!("/console/blobs/{sha}")
}

/// A warning when the photo's GPS lies far from the scene's (it may not show the scene).
fn far_from_scene(p: &PhotoView) -> Markup {
    html! {
        @if let Some(m) = p.distance_from_scene_m.filter(|m| *m > PHOTO_DISTANCE_WARNING_M) {
            br;
            span.badge.warn title="照片的定位与现场笔录的定位不一致，请核实照片是否摄于现场" {
                "距现场 " (format!("{:.1}", f64::from(m) / 1000.0)) " km"
            }
        }
    }
}

fn gallery(case_id: &str, photos: &[PhotoView]) -> Markup {
    html! {
        @if photos.is_empty() {
            p.muted { "无照片。" }
        } @else {
            div.gallery {
                @for p in photos {
                    figure {
                        a href={"/console/cases/" (case_id) "/photos/" (p.sha256)} {
                            @match &p.thumbnail {
                                Some(t) => img src=(blob_url(t)) alt=(p.caption) loading="lazy";,
                                None => span.placeholder { "无预览（" (p.format.as_deref().unwrap_or("原图")) "）" },
                            }
                        }
                        figcaption {
                            (p.caption)
                            @if let Some(t) = p.captured_at_ms { br; (datetime(t)) }
                            (far_from_scene(p))
                        }
                    }
                }
            }
        }
    }
}

async fn photo_page(
    user: ConsoleUser,
    State(state): State<AppState>,
    Path((id, sha)): Path<(String, String)>,
) -> ConsoleResult<Markup> {
    let id = model::parse_id(&id)?;
    let sha = crate::blobs::parse_blob_id(&sha).ok_or(ConsoleError::NotFound)?;
    let principal = user.principal.clone();
    let (case, photo) = blocking(&state, move |s| {
        case_view::case_photo(s, &principal, &id, &sha)
    })
    .await?;
    let original = photo.sha256.to_string();
    let copy = photo
        .derivatives
        .map(|d| d.evidence_copy.sha256.to_string());
    let body = html! {
        h1 { "照片 · 案件 " (case.case_number) }
        p { a href={"/console/cases/" (id)} { "← 返回案件" } }
        figure.evidence {
            @match &copy {
                Some(c) => img src=(blob_url(c)) alt=(photo.caption);,
                None => p.placeholder { "此照片无预览（" (photo.format.as_deref().unwrap_or("原图")) "），请下载原图查看。" },
            }
            figcaption { (photo.caption) }
        }
        section.card {
            dl.fields {
                dt { "说明" } dd { (photo.caption) }
                dt { "拍摄时间" } dd {
                    @match photo.captured_at_ms { Some(t) => (datetime_seconds(t)), None => span.muted { "未知" } }
                }
                dt { "拍摄位置" } dd {
                    @match &photo.gps { Some(g) => (Gps::of(g).text()), None => span.muted { "无定位" } }
                    (far_from_scene(&case_view::photo_view(&photo, case.onsite.gps.as_ref())))
                }
                dt { "拍摄人" } dd { (photo.taken_by.as_str()) }
                dt { "原图" } dd {
                    (photo.format.as_deref().unwrap_or("格式未知"))
                    @if let Some(n) = photo.byte_len { "，" (n) " 字节" }
                    @if let (Some(w), Some(h)) = (photo.width, photo.height) { "，" (w) "×" (h) }
                }
                dt { "原图 SHA-256" } dd.hash { (original) }
                @if let Some(c) = &copy { dt { "证据副本 SHA-256" } dd.hash { (c) } }
            }
            p { a.download href={(blob_url(&original)) "?download=1"} { "下载原图" } }
        }
    };
    Ok(page("照片", &user, Nav::Cases, &body))
}

#[derive(Debug, Deserialize)]
struct BlobQuery {
    download: Option<String>,
}

/// File-name extension of a served blob's type.
fn extension(content_type: Option<&HeaderValue>) -> &'static str {
    match content_type.and_then(|v| v.to_str().ok()) {
        Some("image/jpeg") => "jpg",
        Some("image/png") => "png",
        Some("image/heic") => "heic",
        Some("image/heif") => "heif",
        _ => "bin",
    }
}

async fn blob(
    user: ConsoleUser,
    State(state): State<AppState>,
    Path(sha): Path<String>,
    query: Result<Query<BlobQuery>, QueryRejection>,
    headers: HeaderMap,
) -> ConsoleResult<Response> {
    let sha = crate::blobs::parse_blob_id(&sha).ok_or(ConsoleError::NotFound)?;
    let download = query
        .ok()
        .and_then(|Query(q)| q.download)
        .is_some_and(|d| matches!(d.as_str(), "1" | "true"));
    let mut response =
        crate::routes::blobs::serve_blob(&state, user.principal, sha, &headers).await?;
    // Photos are case data: not kept in a shared office PC's cache after logout, as the
    // pages (the JSON route's year-long private caching is for the phones).
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if download && response.status().is_success() {
        let name = format!(
            "attachment; filename=\"{sha}.{}\"",
            extension(response.headers().get(header::CONTENT_TYPE))
        );
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&name).map_err(ConsoleError::internal)?,
        );
    }
    Ok(response)
}
