//! 首页 The home page: numbers at a glance for the supervisor's scope — alerts raised today,
//! alerts still open, open cases, overdue rectification notices — and this month's over-limit
//! departures by unit as a bar chart, an SVG drawn by the server (no chart library, no CDN).
//!
//! The numbers are computed once ([`stats`]) for this page and `GET /v1/stats`
//! ([`crate::routes::stats`]); alerts through [`crate::routes::alerts::list_visible`] (what
//! the supervisor may see), documents through [`model`] (what the supervisor may read).
//! Days and months are China Standard Time ([`LocalDay`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::Datelike as _;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use zhichao_core::access::Principal;
use zhichao_core::calendar::LocalDay;
use zhichao_core::docs::{Case, CaseStatus, DocKind, Review, case_status};

use super::notices::{NoticeFilter, notice_list};
use zhichao_core::ids::DocumentId;
use zhichao_core::uscc::Uscc;

use super::layout::{self, Nav};
use super::session::ConsoleUser;
use super::{ConsoleResult, model};
use crate::AppState;
use crate::ingest::alerts::AlertKind;
use crate::routes::alerts::{AlertFilter, list_visible};

/// The routes of this part of the console.
pub fn router() -> Router<AppState> {
    Router::new().route("/console/", get(page))
}

/// A unit and how many over-limit departures it had.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitCount {
    /// The source unit (USCC).
    #[schema(value_type = String)]
    pub unit: Uscc,
    /// Its name, when its profile is synced.
    pub name: Option<String>,
    /// Over-limit departures (超限出场).
    pub count: u32,
}

impl UnitCount {
    /// The name, else the USCC.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.unit.as_str().to_owned())
    }
}

/// The numbers of the home page. JSON of `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    /// Today, China Standard Time, `YYYY-MM-DD`.
    pub day: String,
    /// Alerts raised today that the supervisor sees.
    pub alerts_today: u32,
    /// Alerts not closed (open, acknowledged or dispatched).
    pub open_alerts: u32,
    /// Readable cases whose status is not closed (结案 with an accepting review).
    pub open_cases: u32,
    /// Readable notices past their deadline without an accepted response.
    pub overdue_notices: u32,
    /// Over-limit departures this month by unit, most first (ties: by name).
    pub departures_this_month: Vec<UnitCount>,
}

/// The China day of a server time (UTC ms); the epoch's day when out of range.
fn day_of(ms: u64) -> LocalDay {
    i64::try_from(ms)
        .ok()
        .and_then(LocalDay::of_ms)
        .or_else(|| LocalDay::from_ymd(1970, 1, 1))
        .unwrap_or_else(|| unreachable!("1970-01-01 is a date"))
}

fn as_server_ms(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// The start of the China day holding `now_ms`, UTC ms.
pub fn day_start_ms(now_ms: u64) -> u64 {
    as_server_ms(day_of(now_ms).start_ms())
}

/// The start of the China calendar month holding `now_ms`, UTC ms.
pub fn month_start_ms(now_ms: u64) -> u64 {
    let date = day_of(now_ms).date();
    LocalDay::from_ymd(date.year(), date.month(), 1)
        .map_or(0, |first| as_server_ms(first.start_ms()))
}

/// Over-limit departure alerts raised in `[from_ms, to_ms)` that `principal` sees, by unit.
///
/// # Errors
/// As [`list_visible`].
pub fn departures_by_unit(
    state: &AppState,
    principal: &Principal,
    from_ms: u64,
    to_ms: u64,
) -> ConsoleResult<HashMap<Uscc, UnitCount>> {
    let filter = AlertFilter {
        kind: Some(AlertKind::OverLimitDeparture),
        from_ms,
        to_ms,
        limit: usize::MAX,
        ..AlertFilter::default()
    };
    let mut out: HashMap<Uscc, UnitCount> = HashMap::new();
    for alert in list_visible(state, principal, &filter)? {
        let entry = out.entry(alert.unit.clone()).or_insert_with(|| UnitCount {
            unit: alert.unit.clone(),
            name: None,
            count: 0,
        });
        entry.count += 1;
        if entry.name.is_none() {
            entry.name.clone_from(&alert.unit_name);
        }
    }
    Ok(out)
}

/// Readable documents by parent: each child's id and body.
type Children<T> = HashMap<DocumentId, Vec<(DocumentId, Arc<T>)>>;

/// The bodies of the readable documents of `kind`, grouped by parent.
fn by_parent<T>(
    state: &AppState,
    principal: &Principal,
    kind: DocKind,
) -> ConsoleResult<Children<T>>
where
    T: zhichao_core::docs::DocBody + Send + Sync + 'static,
{
    let mut out: Children<T> = HashMap::new();
    for doc in model::list(state, principal, kind)? {
        let Some(parent) = doc.header.parent else {
            continue;
        };
        match model::body::<T>(state, &doc) {
            Ok(body) => out.entry(parent).or_default().push((doc.id, body)),
            Err(e) => tracing::warn!(doc_id = %doc.id, error = %e, "document does not read"),
        }
    }
    Ok(out)
}

/// The home numbers for `principal` at `now_ms`.
///
/// # Errors
/// [`ConsoleError::Internal`] when a store fails; [`ConsoleError::Forbidden`] for a principal
/// who may not see alerts.
pub fn stats(state: &AppState, principal: &Principal, now_ms: u64) -> ConsoleResult<Stats> {
    let today = day_of(now_ms);
    let alerts_today = list_visible(
        state,
        principal,
        &AlertFilter {
            from_ms: day_start_ms(now_ms),
            limit: usize::MAX,
            ..AlertFilter::default()
        },
    )?
    .len();
    let open_alerts = list_visible(
        state,
        principal,
        &AlertFilter {
            exclude_closed: true,
            limit: usize::MAX,
            ..AlertFilter::default()
        },
    )?
    .len();
    let reviews = by_parent::<Review>(state, principal, DocKind::Review)?;
    let mut open_cases = 0usize;
    for doc in model::list(state, principal, DocKind::Case)? {
        let case = match model::body::<Case>(state, &doc) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(doc_id = %doc.id, error = %e, "case does not read");
                continue;
            }
        };
        let case_reviews: Vec<Review> = reviews
            .get(&doc.id)
            .map(|rs| rs.iter().map(|(_, r)| Review::clone(r)).collect())
            .unwrap_or_default();
        if case_status(&case, &case_reviews) != CaseStatus::Closed {
            open_cases += 1;
        }
    }
    // The notices page's own rule (deadline passed, no accepted response), so the number
    // here is the length of its "overdue only" list.
    let overdue_notices = notice_list(
        state,
        principal,
        &NoticeFilter {
            overdue_only: true,
            ..NoticeFilter::default()
        },
    )?
    .len();
    let mut departures: Vec<UnitCount> =
        departures_by_unit(state, principal, month_start_ms(now_ms), u64::MAX)?
            .into_values()
            .collect();
    departures.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.label().cmp(&b.label()))
    });
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Stats {
        day: today.to_string(),
        alerts_today: count(alerts_today),
        open_alerts: count(open_alerts),
        open_cases: count(open_cases),
        overdue_notices: count(overdue_notices),
        departures_this_month: departures,
    })
}

/// Width of the chart, px.
const CHART_WIDTH: usize = 640;
/// Width of the label column, px.
const LABEL_WIDTH: usize = 220;
/// Height of one bar's row, px.
const ROW_HEIGHT: usize = 26;
/// Longest label drawn, characters (the whole label is the bar's tooltip).
const LABEL_CHARS: usize = 14;

/// The width of a bar of `count` when `max` fills `area` px: proportional, at least 2 px for
/// a count above zero.
fn bar_width(count: u32, max: u32, area: usize) -> usize {
    if count == 0 || max == 0 {
        return 0;
    }
    let width = u64::from(count.min(max)) * area as u64 / u64::from(max);
    usize::try_from(width).unwrap_or(area).max(2)
}

/// A horizontal bar chart as an inline SVG: one row per `(label, count)` in the given order,
/// the label on the left (cut to 14 characters with `…`; the whole label is the row's
/// `<title>` tooltip), a bar proportional to the largest count, the count after the bar.
/// Labels are escaped (they are unit names typed by people). No script, no external
/// reference.
pub fn bar_chart_svg(bars: &[(String, u32)]) -> String {
    let max = bars.iter().map(|(_, c)| *c).max().unwrap_or(0);
    let bar_area = CHART_WIDTH - LABEL_WIDTH - 48;
    let height = bars.len().max(1) * ROW_HEIGHT;
    let shown = |label: &str| {
        if label.chars().count() > LABEL_CHARS {
            let cut: String = label.chars().take(LABEL_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            label.to_owned()
        }
    };
    html! {
        svg width=(CHART_WIDTH) height=(height) viewBox=(format!("0 0 {CHART_WIDTH} {height}"))
            role="img" aria-label="本月各单位超限出场次数" font-size="13" {
            @for (i, (label, count)) in bars.iter().enumerate() {
                @let y = i * ROW_HEIGHT;
                @let width = bar_width(*count, max, bar_area);
                g {
                    title { (label) "：" (count) }
                    text x=(LABEL_WIDTH - 8) y=(y + 17) text-anchor="end" fill="#333" { (shown(label)) }
                    rect x=(LABEL_WIDTH) y=(y + 5) width=(width) height=(ROW_HEIGHT - 10) fill="#2f6fb3" {}
                    text x=(LABEL_WIDTH + width + 6) y=(y + 17) fill="#333" { (count) }
                }
            }
        }
    }
    .into_string()
}

/// Units drawn in the home page's chart, at most: the most departures first; the others
/// are counted under it (a county has hundreds of source units: one row each would make the
/// "small bar chart" thousands of pixels tall).
pub const CHART_UNITS: usize = 15;

/// The home page's chart of `units` (most departures first): the first [`CHART_UNITS`] as
/// bars, then one line counting the other units and their departures, with a link to the
/// alerts. Nothing to draw: a short note.
pub fn departures_chart(units: &[UnitCount]) -> Markup {
    let bars: Vec<(String, u32)> = units
        .iter()
        .take(CHART_UNITS)
        .map(|u| (u.label(), u.count))
        .collect();
    let rest = units.get(CHART_UNITS..).unwrap_or_default();
    let rest_count: u64 = rest.iter().map(|u| u64::from(u.count)).sum();
    html! {
        @if bars.is_empty() {
            p.muted { "本月暂无超限出场。" }
        } @else {
            (layout::trusted(bar_chart_svg(&bars)))
            @if !rest.is_empty() {
                p.muted {
                    "另有 " (rest.len()) " 家单位共 " (rest_count) " 次超限出场，见"
                    a href="/console/alerts?kind=over_limit_departure&status=all" { "告警列表" }
                    "。"
                }
            }
        }
    }
}

/// `GET /console/`: the numbers at a glance.
async fn page(State(state): State<AppState>, user: ConsoleUser) -> ConsoleResult<Markup> {
    let now_ms = state.now_ms();
    let s = stats(&state, &user.principal, now_ms)?;
    let today = &s.day;
    let body = html! {
        h1 { "今日概况 · " (today) }
        div.cards {
            a.card href=(format!("/console/alerts?status=all&from={today}&to={today}")) {
                div.figure { (s.alerts_today) }
                div.label { "今日告警" }
            }
            a.card href="/console/alerts" {
                div.figure { (s.open_alerts) }
                div.label { "待办结告警" }
            }
            a.card href="/console/cases" {
                div.figure { (s.open_cases) }
                div.label { "未结案件" }
            }
            a.card href="/console/notices" {
                div.figure.overdue[s.overdue_notices > 0] { (s.overdue_notices) }
                div.label { "逾期未整改通知书" }
            }
        }
        section.card.chart {
            h2 { "本月超限出场（按源头单位）" }
            (departures_chart(&s.departures_this_month))
        }
        p {
            a href="/console/alerts" { "告警" } " · "
            a href="/console/cases" { "案件" } " · "
            a href="/console/notices" { "整改" } " · "
            a href="/console/units" { "源头单位" }
        }
    };
    Ok(layout::page("首页", &user, Nav::Home, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_labels_escaped() {
        let svg = bar_chart_svg(&[
            ("阳城县<某>石料厂 & Co".to_owned(), 4),
            ("煤矿".to_owned(), 2),
            ("空".to_owned(), 0),
        ]);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("&lt;某&gt;"), "{svg}");
        assert!(svg.contains("&amp; Co"), "{svg}");
        assert!(!svg.contains("<某>"), "{svg}");
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("http"), "no external reference: {svg}");
        let widths: Vec<usize> = svg
            .split("<rect ")
            .skip(1)
            .map(|r| {
                let w = r.split("width=\"").nth(1).unwrap();
                w[..w.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(widths.len(), 3);
        assert_eq!(widths[0], 2 * widths[1], "{widths:?}");
        assert_eq!(widths[2], 0);
        assert_eq!(svg.matches("<g>").count(), 3);
    }

    #[test]
    fn long_labels_are_cut_but_kept_whole_in_the_tooltip() {
        let long = "阳城县某某某某某某某某某某某石料有限公司".to_owned();
        let svg = bar_chart_svg(&[(long.clone(), 1)]);
        assert!(svg.contains(&format!("<title>{long}：1</title>")), "{svg}");
        assert!(svg.contains("阳城县某某某某某某某某某某…<"), "{svg}");
    }

    #[test]
    fn a_month_of_five_hundred_units_draws_a_small_chart() {
        let units: Vec<UnitCount> = (0..500u32)
            .map(|i| {
                let first17 = format!("91140522MA{i:07}");
                let code = format!(
                    "{first17}{}",
                    zhichao_core::uscc::check_char(&first17).unwrap()
                );
                UnitCount {
                    unit: code.parse().unwrap(),
                    name: Some(format!("单位{i}")),
                    count: 1000 - i,
                }
            })
            .collect();
        let html = departures_chart(&units).into_string();
        assert_eq!(html.matches("<rect ").count(), CHART_UNITS);
        let height: usize = {
            let h = html.split("height=\"").nth(1).unwrap();
            h[..h.find('"').unwrap()].parse().unwrap()
        };
        assert!(height <= CHART_UNITS * ROW_HEIGHT, "{height} px");
        assert!(html.contains("单位0"), "the most departures first");
        assert!(!html.contains("单位15<"), "{html}");
        let rest: u32 = (15..500u32).map(|i| 1000 - i).sum();
        assert!(
            html.contains(&format!("另有 485 家单位共 {rest} 次")),
            "{html}"
        );
        // Fewer units than the bound: all drawn, no note.
        let few = departures_chart(&units[..3]).into_string();
        assert_eq!(few.matches("<rect ").count(), 3);
        assert!(!few.contains("另有"));
    }

    #[test]
    fn an_empty_chart_is_still_an_svg() {
        let svg = bar_chart_svg(&[]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<rect"));
    }

    #[test]
    fn months_start_on_the_first_in_china() {
        // 2026-11-29 12:00 China time → 2026-11-01 00:00 China = 2026-10-31 16:00 UTC.
        assert_eq!(month_start_ms(1_795_924_800_000), 1_793_462_400_000);
        assert_eq!(day_start_ms(1_795_924_800_000), 1_795_881_600_000);
    }
}
