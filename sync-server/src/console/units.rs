//! 源头单位 Source units: the public list (公示名单) of the units the supervisor oversees, with
//! their kind, township, supervising authority, equipment status and last heartbeat, and its
//! export as CSV for Excel.
//!
//! The list is built once ([`unit_rows`]) for the page, the CSV and `GET /v1/units`
//! ([`crate::routes::units`]): unit profiles the supervisor may read ([`model::list`]), one
//! row per USCC (with several profiles of one unit, the newest created wins, as the ingest's
//! routing does — [`crate::ingest::units::lookup`]); the equipment state comes from the
//! heartbeats ([`heartbeats::states`]; an accepted weighing upload counts as the
//! weighbridge's heartbeat), judged as the upload monitor judges it: silent when it has not
//! worked for longer than the configured gap counted in operating hours.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use zhichao_core::access::Principal;
use zhichao_core::docs::{DocKind, UnitProfile};
use zhichao_core::ids::DocumentId;
use zhichao_core::jurisdiction::{self, Jurisdiction, SourceUnitKind};
use zhichao_core::scope::Department;
use zhichao_core::uscc::Uscc;
use zhichao_core::weighing::EquipmentKind;

use super::layout::{self, Nav};
use super::session::ConsoleUser;
use super::{ConsoleError, ConsoleResult, home, model};
use crate::AppState;
use crate::clock::millis;
use crate::ingest::heartbeats::{self, EquipmentState};

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/units", get(page))
        .route("/console/units.csv", get(csv_export))
}

/// How a piece of equipment is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EquipmentHealth {
    /// Working: reported working within the allowed gap (正常).
    Ok,
    /// Its last report says it is faulty, within the allowed gap (故障).
    Fault,
    /// Has not worked for longer than the allowed gap in operating hours (中断).
    Silent,
    /// Never reported (未接入).
    Unknown,
}

impl EquipmentHealth {
    /// Chinese name: 正常, 故障, 中断, 未接入.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::Ok => "正常",
            Self::Fault => "故障",
            Self::Silent => "中断",
            Self::Unknown => "未接入",
        }
    }
}

/// One piece of a unit's equipment (称重设备, 视频监控, 显示屏).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EquipmentStatus {
    /// `weighing`, `video` or `display`.
    #[schema(value_type = String)]
    pub equipment: EquipmentKind,
    /// How it is doing.
    pub health: EquipmentHealth,
    /// Since when, server time, UTC ms: for `silent` when it last worked (or was first heard
    /// of), for `fault` when the fault was reported, for `ok` when it last worked.
    pub since_ms: Option<u64>,
    /// What the site said with its last report (a fault's detail).
    pub detail: Option<String>,
}

/// A source unit (货运源头单位) as the public list shows it. JSON of `GET /v1/units`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitRow {
    /// Unified social credit code (统一社会信用代码).
    #[schema(value_type = String)]
    pub uscc: Uscc,
    /// Registered name.
    pub name: String,
    /// Kind: `coal_mine`, `ceramics`, `quarry`, `cement`, `logistics_yard`, `other`.
    #[schema(value_type = String)]
    pub kind: SourceUnitKind,
    /// Township (乡镇), 9-digit code.
    pub township: String,
    /// The township as people call it: its name from the server's `[townships]`, else
    /// `乡镇 <code>`.
    pub township_name: String,
    /// The supervising authority (监管主体) by the county plan's routing.
    #[schema(value_type = Object)]
    pub jurisdiction: Jurisdiction,
    /// The supervising department's code from the profile, when one is named.
    pub supervising_department: Option<String>,
    /// Address.
    pub address: String,
    /// On the public list (公示名单).
    pub listed: bool,
    /// Weighing, video and display equipment, in that order.
    pub equipment: Vec<EquipmentStatus>,
    /// The last sign of life of any of its equipment (heartbeat or weighing upload), server
    /// time, UTC ms.
    pub last_heartbeat_ms: Option<u64>,
    /// Over-limit departures (超限出场) raised this month (China Standard Time).
    pub departures_this_month: u32,
    /// The profile document.
    #[schema(value_type = String)]
    pub document: DocumentId,
}

impl UnitRow {
    /// The kind in Chinese (煤矿, 陶瓷企业, …).
    pub fn kind_name(&self) -> &'static str {
        self.kind.chinese_name()
    }

    /// Who supervises it, in Chinese: the department named in the profile, else the
    /// authority of the county plan (应急管理局, 开发区, or the township by name).
    pub fn supervisor_name(&self) -> String {
        self.supervising_department
            .as_deref()
            .and_then(Department::from_code)
            .map_or_else(
                || match self.jurisdiction {
                    Jurisdiction::Township(_) => self.township_name.clone(),
                    other => other.to_string(),
                },
                |d| d.chinese_name().to_owned(),
            )
    }
}

/// How `state` (or nothing known) is doing at `now_ms`, judged as the upload monitor does
/// ([`heartbeats::check_silence`]): silent once it has not worked for longer than `gap_ms`
/// counted in operating hours; else faulty when its last report, newer than its last working
/// time, says so.
pub fn equipment_status(
    kind: EquipmentKind,
    state: Option<&EquipmentState>,
    hours: heartbeats::OperatingHours,
    gap_ms: u64,
    now_ms: u64,
) -> EquipmentStatus {
    let Some(s) = state else {
        return EquipmentStatus {
            equipment: kind,
            health: EquipmentHealth::Unknown,
            since_ms: None,
            detail: None,
        };
    };
    let detail = s.last_report.as_ref().and_then(|r| r.detail.clone());
    let since = s.silent_since_ms();
    if hours.open_ms_between(since, now_ms) > gap_ms {
        return EquipmentStatus {
            equipment: kind,
            health: EquipmentHealth::Silent,
            since_ms: Some(since),
            detail,
        };
    }
    match &s.last_report {
        Some(r) if !r.ok && s.last_ok_ms.is_none_or(|ok| r.at_ms >= ok) => EquipmentStatus {
            equipment: kind,
            health: EquipmentHealth::Fault,
            since_ms: Some(r.at_ms),
            detail,
        },
        _ => EquipmentStatus {
            equipment: kind,
            health: EquipmentHealth::Ok,
            since_ms: s.last_ok_ms,
            detail,
        },
    }
}

/// Every source unit `principal` may read the profile of, one row per USCC, sorted by name,
/// with equipment status at `now_ms` and this month's over-limit departures.
///
/// # Errors
/// [`ConsoleError::Internal`] when the change log, the document store or the ingest database
/// fails. A profile that does not read is left out with a warning.
pub fn unit_rows(
    state: &AppState,
    principal: &Principal,
    now_ms: u64,
) -> ConsoleResult<Vec<UnitRow>> {
    let mut newest: HashMap<Uscc, (i64, DocumentId, std::sync::Arc<UnitProfile>)> = HashMap::new();
    for doc in model::list(state, principal, DocKind::Unit)? {
        let Some(uscc) = doc.header.unit.clone() else {
            continue;
        };
        let profile = match model::body::<UnitProfile>(state, &doc) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(doc_id = %doc.id, error = %e, "unit profile does not read");
                continue;
            }
        };
        let created = doc.header.created_at_ms;
        if newest
            .get(&uscc)
            .is_none_or(|(at, id, _)| created > *at || (created == *at && doc.id < *id))
        {
            newest.insert(uscc, (created, doc.id, profile));
        }
    }
    let mut equipment: HashMap<(Uscc, EquipmentKind), EquipmentState> = HashMap::new();
    for s in heartbeats::states(&state.ingest).map_err(ConsoleError::internal)? {
        equipment.insert((s.unit.clone(), s.equipment), s);
    }
    let departures =
        home::departures_by_unit(state, principal, home::month_start_ms(now_ms), u64::MAX)?;
    let settings = &state.config.ingest;
    let gap_ms = millis(settings.heartbeat_gap);
    let mut rows: Vec<UnitRow> = newest
        .into_iter()
        .map(|(uscc, (_, document, p))| {
            let states: Vec<Option<&EquipmentState>> = EquipmentKind::ALL
                .iter()
                .map(|k| equipment.get(&(uscc.clone(), *k)))
                .collect();
            let last_heartbeat_ms = states
                .iter()
                .flatten()
                .flat_map(|s| [s.last_ok_ms, s.last_report.as_ref().map(|r| r.at_ms)])
                .flatten()
                .max();
            let equipment = EquipmentKind::ALL
                .iter()
                .zip(&states)
                .map(|(k, s)| equipment_status(*k, *s, settings.operating_hours, gap_ms, now_ms))
                .collect();
            UnitRow {
                departures_this_month: departures.get(&uscc).map_or(0, |c| c.count),
                jurisdiction: jurisdiction::route(p.kind, &p.township),
                uscc,
                name: p.name.clone(),
                kind: p.kind,
                township: p.township.to_string(),
                township_name: state.config.township_label(&p.township),
                supervising_department: p.supervising_department.clone(),
                address: p.address.clone(),
                listed: p.listed,
                equipment,
                last_heartbeat_ms,
                document,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.uscc.cmp(&b.uscc)));
    Ok(rows)
}

/// Query of the units page and the CSV export.
#[derive(Debug, Default, Deserialize)]
pub struct UnitQuery {
    /// `yes`: on the public list only; `no`: off it only; else all.
    #[serde(default)]
    pub listed: Option<String>,
    /// A part of the name or the USCC.
    #[serde(default)]
    pub q: Option<String>,
}

impl UnitQuery {
    fn keeps(&self, row: &UnitRow) -> bool {
        let listed = match self.listed.as_deref() {
            Some("yes") => row.listed,
            Some("no") => !row.listed,
            _ => true,
        };
        let text = self.q.as_deref().map(str::trim).unwrap_or("");
        listed
            && (text.is_empty()
                || row.name.contains(text)
                || row.uscc.as_str().contains(&text.to_ascii_uppercase()))
    }
}

fn health_badge(s: &EquipmentStatus) -> Markup {
    let class = match s.health {
        EquipmentHealth::Ok => "badge ok",
        EquipmentHealth::Fault => "badge warn",
        EquipmentHealth::Silent => "badge danger",
        EquipmentHealth::Unknown => "badge muted",
    };
    html! {
        span class=(class) title=[s.detail.as_deref()] { (s.health.chinese_name()) }
        @if let (EquipmentHealth::Silent | EquipmentHealth::Fault, Some(since)) = (s.health, s.since_ms) {
            br;
            span.muted { "自 " (layout::server_time(since)) }
        }
    }
}

/// `GET /console/units`: the public list.
async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<UnitQuery>,
) -> ConsoleResult<Markup> {
    let rows: Vec<UnitRow> = unit_rows(&state, &user.principal, state.now_ms())?
        .into_iter()
        .filter(|r| query.keeps(r))
        .collect();
    let listed = query.listed.as_deref().unwrap_or("");
    let csv_href = format!(
        "/console/units.csv?listed={}&q={}",
        urlencode(listed),
        urlencode(query.q.as_deref().unwrap_or(""))
    );
    let body = html! {
        h1 { "源头单位 · 公示名单" }
        form.filters method="get" action="/console/units" {
            label { "公示"
                select name="listed" {
                    option value="" selected[listed.is_empty()] { "全部" }
                    option value="yes" selected[listed == "yes"] { "已公示" }
                    option value="no" selected[listed == "no"] { "未公示" }
                }
            }
            label { "单位名称或信用代码"
                input type="search" name="q" value=[query.q.as_deref()];
            }
            button type="submit" { "筛选" }
            a href=(csv_href) { "导出 CSV" }
        }
        @if rows.is_empty() {
            p.muted { "没有符合条件的源头单位。" }
        } @else {
            table {
                thead { tr {
                    th { "单位名称" } th { "统一社会信用代码" } th { "类型" } th { "乡镇" }
                    th { "监管部门" } th { "地址" } th { "公示" }
                    @for k in EquipmentKind::ALL { th { (k.chinese_name()) } }
                    th { "最后心跳" } th.num { "本月超限出场" }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (r.name) }
                            td.hash { (r.uscc.as_str()) }
                            td { (r.kind_name()) }
                            td { (r.township_name) }
                            td { (r.supervisor_name()) }
                            td { (r.address) }
                            td { @if r.listed { span.badge.ok { "公示" } } @else { span.muted { "—" } } }
                            @for s in &r.equipment { td { (health_badge(s)) } }
                            td { (r.last_heartbeat_ms.map_or_else(|| "—".to_owned(), layout::server_time)) }
                            td.num {
                                @if r.departures_this_month > 0 {
                                    a href=(format!("/console/alerts?status=all&kind=over_limit_departure&unit={}", r.uscc.as_str())) {
                                        (r.departures_this_month)
                                    }
                                } @else { "0" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("源头单位", &user, Nav::Units, &body))
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A cell safe to open in a spreadsheet: text starting with `=`, `+`, `-`, `@` (or a tab or
/// carriage return) would be read as a formula (CSV injection, OWASP), so it gets a leading
/// single quote.
pub fn spreadsheet_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The public list as CSV: UTF-8 with a byte-order mark (Excel on Chinese Windows reads it
/// as UTF-8 only with one), a header row in Chinese, one unit per row, every cell through
/// [`spreadsheet_cell`].
///
/// # Errors
/// [`ConsoleError::Internal`] when the writer fails (it writes to memory).
pub fn units_csv(rows: &[UnitRow]) -> ConsoleResult<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let mut header = vec![
            "单位名称",
            "统一社会信用代码",
            "类型",
            "乡镇",
            "监管部门",
            "地址",
            "公示",
        ];
        header.extend(EquipmentKind::ALL.iter().map(|k| k.chinese_name()));
        header.extend(["最后心跳", "本月超限出场"]);
        w.write_record(&header).map_err(ConsoleError::internal)?;
        for r in rows {
            let mut record = vec![
                r.name.clone(),
                r.uscc.as_str().to_owned(),
                r.kind_name().to_owned(),
                r.township_name.clone(),
                r.supervisor_name(),
                r.address.clone(),
                if r.listed { "是" } else { "否" }.to_owned(),
            ];
            record.extend(r.equipment.iter().map(|s| match s.since_ms {
                Some(since) if s.health != EquipmentHealth::Ok => {
                    format!(
                        "{}（自 {}）",
                        s.health.chinese_name(),
                        layout::server_time(since)
                    )
                }
                _ => s.health.chinese_name().to_owned(),
            }));
            record.push(
                r.last_heartbeat_ms
                    .map_or_else(String::new, layout::server_time),
            );
            record.push(r.departures_this_month.to_string());
            w.write_record(record.iter().map(|c| spreadsheet_cell(c)))
                .map_err(ConsoleError::internal)?;
        }
        w.flush().map_err(ConsoleError::internal)?;
    }
    Ok(out)
}

/// `GET /console/units.csv`: the list as shown (same filters), as an attachment
/// `units-YYYY-MM-DD.csv` (China date).
async fn csv_export(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<UnitQuery>,
) -> ConsoleResult<Response> {
    let now_ms = state.now_ms();
    let rows: Vec<UnitRow> = unit_rows(&state, &user.principal, now_ms)?
        .into_iter()
        .filter(|r| query.keeps(r))
        .collect();
    let bytes = units_csv(&rows)?;
    let day = layout::server_time(now_ms);
    let day = day.get(..10).unwrap_or("export");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"units-{day}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::heartbeats::{LastReport, OperatingHours};

    const MINUTE: u64 = 60_000;
    // 2026-11-29 12:00 China Standard Time.
    const NOON: u64 = 1_795_924_800_000;

    fn state(last_ok: Option<u64>, report: Option<(u64, bool)>) -> EquipmentState {
        EquipmentState {
            unit: "91140522MA0000000K".parse().unwrap(),
            equipment: EquipmentKind::Video,
            first_seen_ms: NOON - 600 * MINUTE,
            last_ok_ms: last_ok,
            last_report: report.map(|(at_ms, ok)| LastReport {
                at_ms,
                ok,
                detail: (!ok).then(|| "无画面".to_owned()),
            }),
        }
    }

    #[test]
    fn equipment_is_judged_as_the_monitor_judges_it() {
        let hours = OperatingHours::ROUND_THE_CLOCK;
        let gap = 15 * MINUTE;
        let judge = |s: Option<&EquipmentState>| {
            equipment_status(EquipmentKind::Video, s, hours, gap, NOON)
        };
        assert_eq!(judge(None).health, EquipmentHealth::Unknown);
        let fresh = state(Some(NOON - 5 * MINUTE), None);
        assert_eq!(judge(Some(&fresh)).health, EquipmentHealth::Ok);
        let silent = state(Some(NOON - 20 * MINUTE), None);
        let s = judge(Some(&silent));
        assert_eq!(s.health, EquipmentHealth::Silent);
        assert_eq!(s.since_ms, Some(NOON - 20 * MINUTE));
        let faulty = state(Some(NOON - 5 * MINUTE), Some((NOON - MINUTE, false)));
        let s = judge(Some(&faulty));
        assert_eq!(s.health, EquipmentHealth::Fault);
        assert_eq!(s.detail.as_deref(), Some("无画面"));
        let repaired = state(Some(NOON - MINUTE), Some((NOON - 5 * MINUTE, false)));
        assert_eq!(judge(Some(&repaired)).health, EquipmentHealth::Ok);
        // Closed hours do not count: silent since 21:50 the day before, judged at 06:05.
        let morning = NOON - 6 * 60 * MINUTE + 5 * MINUTE;
        let overnight = state(Some(NOON - (14 * 60 + 10) * MINUTE), None);
        let s = equipment_status(
            EquipmentKind::Video,
            Some(&overnight),
            OperatingHours::default(),
            gap,
            morning,
        );
        assert_eq!(s.health, EquipmentHealth::Ok, "{s:?}");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(spreadsheet_cell("=1+2"), "'=1+2");
        assert_eq!(spreadsheet_cell("+86"), "'+86");
        assert_eq!(spreadsheet_cell("-3"), "'-3");
        assert_eq!(spreadsheet_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_cell("阳城县=石料厂"), "阳城县=石料厂");
        assert_eq!(spreadsheet_cell(""), "");
    }
}
