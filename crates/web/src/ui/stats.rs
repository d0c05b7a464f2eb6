//! `GET /stats`: the response metrics page, with its charts drawn on the
//! server as inline SVG (no script, no chart library). Mirrors
//! `GET /api/v1/metrics`: open to the roles of that route (asked through
//! [`super::api_allows`]; anyone else gets the 404 page), and every figure
//! comes from the store as the session's [`incidents::Viewer`], so an
//! incident the caller may not see (a sensitive one) is in no number, bar
//! or line of their page.
//!
//! Three charts, each answering one question, each with a text
//! alternative (`role="img"`, its `<title>` and `<desc>`) and the same
//! numbers as a table below it:
//! 1. How many incidents were reported each week, and of what kind
//!    (stacked bars; [`incidents::Store::metrics`] per week, by category).
//! 2. How long incidents waited for acknowledgement, and to be resolved,
//!    per severity, week by week (lines of the weekly medians of the same
//!    call, by severity).
//! 3. What share of incidents was acknowledged within its target, per
//!    severity: each incident's acknowledge clock as the configured SLA
//!    targets (`[sla]`, [`incidents::SlaPolicy`]) give it, the same clock
//!    the API's `sla` object shows. The incidents are read with
//!    [`incidents::Store::list_incidents`], with the same period and the
//!    same exclusion of merged incidents as the metrics call; an incident
//!    with no acknowledge target is not counted.
//!
//! The period is whole weeks, Monday 00:00 UTC to Monday 00:00 UTC, the
//! last of them the current week (so far): `?weeks=` (1 to
//! [`MAX_WEEKS`], default [`DEFAULT_WEEKS`]); any other value is a field
//! error (422) with the GOV.UK-style error summary, what was typed kept.
//!
//! This module must not hold access rules of its own: the route table
//! says who may read metrics, and the store says which incidents count.

mod chart;

use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use incidents::{
    Category, ClockState, Incident, IncidentFilter, Metrics, MetricsQuery, PageRequest, Severity,
    SlaClock, SlaPolicy, Status, Store, StoreError, Viewer,
};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use self::chart::{Shape, Tick};
use super::Nav;
use super::pages::{self, render};
use super::responder::ErrorLink;
use super::session::Session;
use crate::state::AppState;

/// The weeks shown when the query names none.
pub(crate) const DEFAULT_WEEKS: u32 = 12;
/// The most weeks shown: 52 weeks (364 days) stay within the metrics
/// API's longest period.
pub(crate) const MAX_WEEKS: u32 = 52;

/// Incidents read per page when measuring acknowledgement targets.
const LIST_PAGE: u32 = 500;

/// This module's page routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/stats", get(show_stats))
}

/// The page's query, as typed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatsQuery {
    #[serde(default)]
    weeks: Option<String>,
}

/// Reads `?weeks=`: empty or absent is [`DEFAULT_WEEKS`].
fn parse_weeks(raw: Option<&str>) -> Result<u32, String> {
    let raw = raw.unwrap_or("").trim();
    if raw.is_empty() {
        return Ok(DEFAULT_WEEKS);
    }
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_WEEKS).contains(&n) => Ok(n),
        _ => Err(format!(
            "Enter the number of weeks to show as a whole number from 1 to {MAX_WEEKS}."
        )),
    }
}

/// Monday 00:00 UTC of the week `t` falls in.
fn week_start(t: OffsetDateTime) -> OffsetDateTime {
    let day = t.to_offset(time::UtcOffset::UTC).date();
    let monday = day - Duration::days(i64::from(day.weekday().number_days_from_monday()));
    monday.midnight().assume_utc()
}

/// Whether an incident met its acknowledgement target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Acknowledged within the target.
    Met,
    /// Acknowledged later, or not yet and the target has passed.
    Missed,
    /// Not acknowledged yet, and still within the target.
    Pending,
}

/// The outcome of an incident's acknowledge clock (`None`: it has no
/// target, and is not counted). A clock stopped by its deadline is met; one
/// stopped later, or still running past it, is missed; one still running
/// before it is pending.
fn outcome(state: Option<ClockState>) -> Option<Outcome> {
    Some(match state? {
        ClockState::Met => Outcome::Met,
        ClockState::Missed | ClockState::Breached => Outcome::Missed,
        ClockState::Running => Outcome::Pending,
    })
}

/// A duration in words: seconds under a minute, else whole minutes,
/// hours and minutes, or days and hours.
fn duration_words(secs: f64) -> String {
    let secs = secs.max(0.0);
    if secs < 59.5 {
        return format!("{} s", secs.round());
    }
    let minutes = (secs / 60.0).round() as i64;
    if minutes < 60 {
        return format!("{minutes} min");
    }
    if minutes < 24 * 60 {
        let (h, m) = (minutes / 60, minutes % 60);
        return if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        };
    }
    let hours = (secs / 3600.0).round() as i64;
    let (d, h) = (hours / 24, hours % 24);
    if h == 0 {
        format!("{d} d")
    } else {
        format!("{d} d {h} h")
    }
}

/// The unit a duration axis is drawn in for values up to `max_secs`:
/// minutes under 2 hours, hours under 3 days, else days. Returns the
/// seconds per unit and its name.
fn duration_unit(max_secs: f64) -> (f64, &'static str) {
    if max_secs < 2.0 * 3600.0 {
        (60.0, "minutes")
    } else if max_secs < 72.0 * 3600.0 {
        (3600.0, "hours")
    } else {
        (86_400.0, "days")
    }
}

/// A day as the page writes it (`2026-11-30`).
fn day(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// A day as an axis label (`Nov 30`).
fn short_day(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[month repr:short] [day padding:none]"
    ))
    .unwrap_or_default()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A severity's words, CSS class and marker.
fn severity_style(s: Severity) -> (&'static str, &'static str, Shape) {
    match s {
        Severity::Sev1 => ("SEV1 critical", "s1", Shape::Square),
        Severity::Sev2 => ("SEV2 high", "s2", Shape::Diamond),
        Severity::Sev3 => ("SEV3 medium", "s3", Shape::TriangleUp),
        Severity::Sev4 => ("SEV4 low", "s4", Shape::TriangleDown),
    }
}

/// A label under the x axis.
pub(crate) struct XLabel {
    x: f64,
    text: String,
}

/// An entry of a chart's key.
pub(crate) struct KeyEntry {
    class: &'static str,
    label: &'static str,
    /// The line chart's marker, drawn in the key (`points` of a polygon
    /// centred on 14,7).
    marker: Option<String>,
}

/// A rectangle of the weekly bar chart.
pub(crate) struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    class: &'static str,
    title: String,
}

/// A table row: a week and its figures.
pub(crate) struct WeekRow {
    week: String,
    cells: Vec<String>,
}

/// Chart 1: incidents per week, by category.
pub(crate) struct VolumeChart {
    desc: String,
    y_ticks: Vec<Tick>,
    x_labels: Vec<XLabel>,
    bars: Vec<Bar>,
    key: Vec<KeyEntry>,
    columns: Vec<&'static str>,
    rows: Vec<WeekRow>,
}

/// A marker on a line.
pub(crate) struct Marker {
    points: String,
    title: String,
}

/// One severity's line.
pub(crate) struct SeriesLine {
    class: &'static str,
    runs: Vec<String>,
    markers: Vec<Marker>,
}

/// Chart 2: a weekly median duration per severity.
pub(crate) struct DurationChart {
    id: &'static str,
    heading: &'static str,
    desc: String,
    unit: &'static str,
    /// What is measured, for the axis title ("Median time to acknowledge").
    measure: &'static str,
    empty: &'static str,
    has_data: bool,
    y_ticks: Vec<Tick>,
    x_labels: Vec<XLabel>,
    lines: Vec<SeriesLine>,
    key: Vec<KeyEntry>,
    rows: Vec<WeekRow>,
}

/// One severity of the SLA chart.
pub(crate) struct SlaRow {
    label: &'static str,
    class: &'static str,
    target: String,
    met: u64,
    missed: u64,
    pending: u64,
    /// "50% (1 of 2)", or that nothing could be measured.
    share: String,
    bar_y: f64,
    bar_width: f64,
    text_x: f64,
    text_y: f64,
}

/// Chart 3: share acknowledged within target, per severity.
pub(crate) struct SlaChart {
    desc: String,
    height: f64,
    x_ticks: Vec<Tick>,
    rows: Vec<SlaRow>,
    /// Below the bars: the x axis.
    axis_y: f64,
    has_data: bool,
}

/// A severity's figures over the whole period (the API's `by_severity`).
pub(crate) struct SeverityTotal {
    label: &'static str,
    count: i64,
    acknowledged: i64,
    tta: String,
    resolved: i64,
    ttr: String,
}

/// Everything shown for a valid period.
pub(crate) struct Report {
    from: String,
    last_day: String,
    total: i64,
    volume: VolumeChart,
    /// Time to acknowledge, then time to resolve.
    durations: [DurationChart; 2],
    sla: SlaChart,
    totals: Vec<SeverityTotal>,
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    nav: Nav,
    weeks: String,
    error: Option<String>,
    summary: Vec<ErrorLink>,
    report: Option<Report>,
    targets: Vec<(&'static str, String)>,
    max_weeks: u32,
    width: f64,
    height: f64,
    left: f64,
    base: f64,
    right_edge: f64,
    share_left: f64,
    share_right: f64,
}

/// `GET /stats`.
pub(crate) async fn show_stats(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !super::api_allows(s.caller.user.role, Method::GET, "/api/v1/metrics") {
        return pages::not_found_page();
    }
    // A query that cannot be read at all (a repeated key, an unknown one)
    // is the default period.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let typed = query.weeks.clone().unwrap_or_default();
    let (status, error, report) = match parse_weeks(query.weeks.as_deref()) {
        Ok(weeks) => {
            let viewer = s.caller.viewer();
            let now = OffsetDateTime::now_utc();
            match build(state.store.as_ref(), &state.sla, &viewer, weeks, now).await {
                Ok(report) => (StatusCode::OK, None, Some(report)),
                Err(error) => return unavailable(&error),
            }
        }
        Err(message) => (StatusCode::UNPROCESSABLE_ENTITY, Some(message), None),
    };
    let summary = error
        .iter()
        .map(|m| ErrorLink {
            href: "#weeks".to_owned(),
            message: m.clone(),
        })
        .collect();
    render(
        status,
        &StatsPage {
            nav: Nav::new(&s, "/stats"),
            weeks: if typed.is_empty() {
                DEFAULT_WEEKS.to_string()
            } else {
                typed
            },
            error,
            summary,
            report,
            targets: Severity::ALL
                .iter()
                .map(|s| (severity_style(*s).0, target_words(&state.sla, *s)))
                .collect(),
            max_weeks: MAX_WEEKS,
            width: chart::WIDTH,
            height: chart::HEIGHT,
            left: chart::LEFT,
            base: chart::BASE,
            right_edge: chart::LEFT + chart::PLOT_W,
            share_left: chart::SHARE_LEFT,
            share_right: chart::SHARE_LEFT + chart::SHARE_W,
        },
    )
}

fn unavailable(error: &StoreError) -> Response {
    tracing::error!(%error, "the stats page failed");
    render(StatusCode::SERVICE_UNAVAILABLE, &Unavailable {})
}

#[derive(Template)]
#[template(
    source = "{% extends \"base.html\" %}{% block title %}Unavailable{% endblock %}{% block content %}<h1>Unavailable</h1><p>This page cannot be shown right now. Try again shortly.</p>{% endblock %}",
    ext = "html"
)]
struct Unavailable {}

/// Reads the period's figures as `viewer` and lays out the charts.
async fn build(
    store: &dyn Store,
    policy: &SlaPolicy,
    viewer: &Viewer,
    weeks: u32,
    now: OffsetDateTime,
) -> Result<Report, StoreError> {
    let this_week = week_start(now);
    let from = this_week - Duration::weeks(i64::from(weeks) - 1);
    let to = this_week + Duration::weeks(1);
    let total = store.metrics(viewer, MetricsQuery { from, to }).await?;
    let mut per_week = Vec::with_capacity(weeks as usize);
    let mut starts = Vec::with_capacity(weeks as usize);
    for i in 0..i64::from(weeks) {
        let start = from + Duration::weeks(i);
        let query = MetricsQuery {
            from: start,
            to: start + Duration::weeks(1),
        };
        per_week.push(store.metrics(viewer, query).await?);
        starts.push(start);
    }
    let incidents = reported_in(store, viewer, from, to).await?;
    let mut acks: Vec<(Severity, Option<ClockState>)> = Vec::with_capacity(incidents.len());
    for chunk in incidents.chunks(LIST_PAGE as usize) {
        let slas = crate::sla::evaluate(store, policy, viewer, chunk, now).await?;
        for (k, i) in chunk.iter().enumerate() {
            let state = slas
                .as_ref()
                .and_then(|s| s.get(k))
                .and_then(|s| s.clock(SlaClock::Acknowledge))
                .map(|c| c.state);
            acks.push((i.severity, state));
        }
    }
    Ok(Report {
        from: day(from),
        last_day: day(to - Duration::days(1)),
        total: total.total.count,
        volume: volume_chart(&starts, &per_week),
        durations: [
            duration_chart(&starts, &per_week, Measure::Acknowledge),
            duration_chart(&starts, &per_week, Measure::Resolve),
        ],
        sla: sla_chart(&acks, policy),
        totals: severity_totals(&total),
    })
}

/// The incidents `viewer` sees that were reported in `[from, to)`, merged
/// ones left out (as the metrics leave them out). An incident is never
/// reported after its row was created, so those created since `from` are
/// all there is to read.
async fn reported_in(
    store: &dyn Store,
    viewer: &Viewer,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<Incident>, StoreError> {
    let filter = IncidentFilter {
        created_from: Some(from),
        ..IncidentFilter::default()
    };
    let mut page = PageRequest::first(LIST_PAGE);
    let mut found = Vec::new();
    loop {
        let got = store.list_incidents(viewer, &filter, &page).await?;
        found.extend(got.items.into_iter().filter(|i| {
            i.status != Status::Merged && i.times.reported_at >= from && i.times.reported_at < to
        }));
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(found),
        }
    }
}

/// The week labels under the x axis.
fn x_labels(starts: &[OffsetDateTime]) -> Vec<XLabel> {
    chart::bands(starts.len())
        .into_iter()
        .zip(starts)
        .filter(|(band, _)| band.labelled)
        .map(|(band, start)| XLabel {
            x: band.center,
            text: short_day(*start),
        })
        .collect()
}

/// Counts of `c` in one week's metrics.
fn category_count(m: &Metrics, c: Category) -> u64 {
    m.by_category
        .iter()
        .find(|r| r.key == c.as_str())
        .map_or(0, |r| u64::try_from(r.count).unwrap_or(0))
}

fn volume_chart(starts: &[OffsetDateTime], weeks: &[Metrics]) -> VolumeChart {
    // The categories with any incident in the period, in the catalogue's
    // order; each keeps its colour class by its place in the catalogue.
    let present: Vec<(usize, Category)> = Category::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| weeks.iter().any(|m| category_count(m, *c) > 0))
        .collect();
    let columns: Vec<Vec<u64>> = weeks
        .iter()
        .map(|m| present.iter().map(|(_, c)| category_count(m, *c)).collect())
        .collect();
    let (axis, segments) = chart::stacked(&columns);
    let label = |c: Category| pages::describe(c).0;
    let bars = segments
        .into_iter()
        .map(|seg| {
            let (slot, category) = present[seg.series];
            Bar {
                x: seg.x,
                y: seg.y,
                width: seg.width,
                height: seg.height,
                class: CATEGORY_CLASSES[slot % CATEGORY_CLASSES.len()],
                title: format!(
                    "{}: {} in the week starting {}",
                    label(category),
                    plural(seg.value, "incident", "incidents"),
                    day(starts[seg.column])
                ),
            }
        })
        .collect();
    let rows = starts
        .iter()
        .zip(&columns)
        .map(|(start, counts)| {
            let mut cells: Vec<String> = counts.iter().map(u64::to_string).collect();
            cells.push(counts.iter().sum::<u64>().to_string());
            WeekRow {
                week: day(*start),
                cells,
            }
        })
        .collect();
    let total: u64 = columns.iter().flatten().sum();
    let busiest = columns
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .enumerate()
        .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)));
    let mut desc = format!(
        "Stacked bars, one per week starting on a Monday, from {} to {}: {} in all.",
        day(starts[0]),
        day(starts[starts.len() - 1]),
        plural(total, "incident", "incidents"),
    );
    if let Some((i, n)) = busiest.filter(|&(_, n)| n > 0) {
        desc.push_str(&format!(
            " The most in one week: {} in the week starting {}.",
            n,
            day(starts[i])
        ));
    }
    VolumeChart {
        desc,
        y_ticks: axis.ticks,
        x_labels: x_labels(starts),
        bars,
        key: present
            .iter()
            .map(|(slot, c)| KeyEntry {
                class: CATEGORY_CLASSES[slot % CATEGORY_CLASSES.len()],
                label: label(*c),
                marker: None,
            })
            .collect(),
        columns: present.iter().map(|(_, c)| label(*c)).collect(),
        rows,
    }
}

/// A colour class per category, by its place in [`Category::ALL`].
const CATEGORY_CLASSES: [&str; 11] = [
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    Acknowledge,
    Resolve,
}

fn duration_chart(starts: &[OffsetDateTime], weeks: &[Metrics], measure: Measure) -> DurationChart {
    let median = |m: &Metrics, s: Severity| -> Option<f64> {
        let row = m.by_severity.iter().find(|r| r.key == s.as_str())?;
        match measure {
            Measure::Acknowledge => row.tta_p50_secs,
            Measure::Resolve => row.ttr_p50_secs,
        }
    };
    let secs: Vec<Vec<Option<f64>>> = Severity::ALL
        .iter()
        .map(|s| weeks.iter().map(|m| median(m, *s)).collect())
        .collect();
    let max = secs.iter().flatten().flatten().copied().fold(0.0, f64::max);
    let has_data = secs.iter().flatten().any(Option::is_some);
    let (per_unit, unit) = duration_unit(max);
    let scaled: Vec<Vec<Option<f64>>> = secs
        .iter()
        .map(|line| line.iter().map(|v| v.map(|v| v / per_unit)).collect())
        .collect();
    let (axis, lines) = chart::lines(&scaled);
    let (id, heading, measure_words, verb, empty) = match measure {
        Measure::Acknowledge => (
            "tta",
            "How long did incidents wait to be acknowledged?",
            "Median time to acknowledge",
            "acknowledged",
            "No incident reported in these weeks has been acknowledged yet.",
        ),
        Measure::Resolve => (
            "ttr",
            "How long did incidents take to resolve?",
            "Median time to resolve",
            "resolved",
            "No incident reported in these weeks has been resolved yet.",
        ),
    };
    let series = lines
        .into_iter()
        .zip(Severity::ALL)
        .zip(&secs)
        .map(|((line, s), values)| {
            let (label, class, shape) = severity_style(*s);
            SeriesLine {
                class,
                runs: line.runs,
                markers: line
                    .points
                    .iter()
                    .map(|p| Marker {
                        points: chart::marker(shape, p.x, p.y),
                        title: format!(
                            "{label}, week starting {}: {} {}",
                            day(starts[p.column]),
                            measure_words.to_lowercase(),
                            duration_words(values[p.column].unwrap_or(0.0))
                        ),
                    })
                    .collect(),
            }
        })
        .collect();
    let rows = starts
        .iter()
        .enumerate()
        .map(|(i, start)| WeekRow {
            week: day(*start),
            cells: secs
                .iter()
                .map(|line| line[i].map_or_else(|| "none".to_owned(), duration_words))
                .collect(),
        })
        .collect();
    DurationChart {
        id,
        heading,
        desc: format!(
            "Lines, one per severity, of the median time from report until {verb} of the incidents reported each week, in {unit}. A week without a point had no incident of that severity {verb}."
        ),
        unit,
        measure: measure_words,
        empty,
        has_data,
        y_ticks: axis.ticks,
        x_labels: x_labels(starts),
        lines: series,
        key: Severity::ALL
            .iter()
            .map(|s| {
                let (label, class, shape) = severity_style(*s);
                KeyEntry {
                    class,
                    label,
                    marker: Some(chart::marker(shape, 14.0, 7.0)),
                }
            })
            .collect(),
        rows,
    }
}

/// The acknowledge target of a severity alone, in words ("no target"
/// when the targets set none).
fn target_words(policy: &SlaPolicy, s: Severity) -> String {
    policy
        .severity_target(SlaClock::Acknowledge, s)
        .map_or_else(|| "no target".to_owned(), |d| d.to_string())
}

fn sla_chart(acks: &[(Severity, Option<ClockState>)], policy: &SlaPolicy) -> SlaChart {
    let counts: Vec<(u64, u64, u64)> = Severity::ALL
        .iter()
        .map(|s| {
            acks.iter().filter(|(sev, _)| sev == s).fold(
                (0, 0, 0),
                |(met, missed, pending), (_, state)| match outcome(*state) {
                    Some(Outcome::Met) => (met + 1, missed, pending),
                    Some(Outcome::Missed) => (met, missed + 1, pending),
                    Some(Outcome::Pending) => (met, missed, pending + 1),
                    None => (met, missed, pending),
                },
            )
        })
        .collect();
    let shares: Vec<Option<f64>> = counts
        .iter()
        .map(|&(met, missed, _)| {
            let decided = met + missed;
            (decided > 0).then(|| met as f64 / decided as f64)
        })
        .collect();
    let bars = chart::share_bars(&shares);
    let rows: Vec<SlaRow> = Severity::ALL
        .iter()
        .zip(&counts)
        .zip(&shares)
        .zip(bars)
        .map(|(((s, &(met, missed, pending)), share), bar)| {
            let (label, class, _) = severity_style(*s);
            let target = target_words(policy, *s);
            SlaRow {
                label,
                class,
                target,
                met,
                missed,
                pending,
                share: match share {
                    Some(f) => format!("{}% ({} of {})", (f * 100.0).round(), met, met + missed),
                    None => "nothing to measure".to_owned(),
                },
                bar_y: bar.y,
                bar_width: bar.width,
                text_x: bar.text_x,
                text_y: bar.text_y,
            }
        })
        .collect();
    let measured: u64 = counts.iter().map(|(m, x, _)| m + x).sum();
    let met: u64 = counts.iter().map(|(m, _, _)| m).sum();
    SlaChart {
        desc: format!(
            "Horizontal bars, one per severity, of the share of incidents acknowledged within their target, 0 to 100 percent. In all, {met} of {measured} measured incidents met their target; incidents not yet acknowledged and still within their target are not counted."
        ),
        height: chart::share_height(rows.len()),
        x_ticks: chart::share_ticks(),
        axis_y: chart::TOP + rows.len() as f64 * chart::SHARE_ROW,
        has_data: measured > 0,
        rows,
    }
}

fn severity_totals(total: &Metrics) -> Vec<SeverityTotal> {
    Severity::ALL
        .iter()
        .map(|s| {
            let row = total.by_severity.iter().find(|r| r.key == s.as_str());
            let words = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), duration_words);
            SeverityTotal {
                label: severity_style(*s).0,
                count: row.map_or(0, |r| r.count),
                acknowledged: row.map_or(0, |r| r.acknowledged),
                tta: words(row.and_then(|r| r.tta_p50_secs)),
                resolved: row.map_or(0, |r| r.resolved),
                ttr: words(row.and_then(|r| r.ttr_p50_secs)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn weeks_are_whole_numbers_from_1_to_52() {
        for (raw, want) in [
            (None, Ok(12)),
            (Some(""), Ok(12)),
            (Some(" 4 "), Ok(4)),
            (Some("1"), Ok(1)),
            (Some("52"), Ok(52)),
        ] {
            assert_eq!(parse_weeks(raw), want, "{raw:?}");
        }
        for raw in ["0", "53", "-1", "4.5", "abc", "<script>", "99999999999"] {
            assert!(parse_weeks(Some(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn weeks_start_on_monday_at_midnight_utc() {
        // 2026-12-04 is a Friday.
        assert_eq!(
            week_start(datetime!(2026-12-04 14:05 UTC)),
            datetime!(2026-11-30 00:00 UTC)
        );
        assert_eq!(
            week_start(datetime!(2026-11-30 00:00 UTC)),
            datetime!(2026-11-30 00:00 UTC)
        );
        assert_eq!(
            week_start(datetime!(2026-11-29 23:59:59 UTC)),
            datetime!(2026-11-23 00:00 UTC)
        );
        // Sunday 23:30 in UTC+2 is Sunday 21:30 UTC.
        assert_eq!(
            week_start(datetime!(2026-12-06 23:30 +02:00)),
            datetime!(2026-11-30 00:00 UTC)
        );
    }

    #[test]
    fn acknowledge_clocks_count_as_met_missed_or_pending() {
        let cases = [
            (Some(ClockState::Met), Some(Outcome::Met)),
            (Some(ClockState::Missed), Some(Outcome::Missed)),
            (Some(ClockState::Breached), Some(Outcome::Missed)),
            (Some(ClockState::Running), Some(Outcome::Pending)),
            (None, None),
        ];
        for (state, want) in cases {
            assert_eq!(outcome(state), want, "{state:?}");
        }
    }

    #[test]
    fn durations_in_words() {
        for (secs, words) in [
            (0.0, "0 s"),
            (42.4, "42 s"),
            (60.0, "1 min"),
            (1800.0, "30 min"),
            (3600.0, "1 h"),
            (5400.0, "1 h 30 min"),
            (18_000.0, "5 h"),
            (86_400.0, "1 d"),
            (93_600.0, "1 d 2 h"),
            (-5.0, "0 s"),
        ] {
            assert_eq!(duration_words(secs), words, "{secs}");
        }
    }

    #[test]
    fn duration_axes_pick_a_unit() {
        assert_eq!(duration_unit(0.0), (60.0, "minutes"));
        assert_eq!(duration_unit(7199.0), (60.0, "minutes"));
        assert_eq!(duration_unit(7200.0), (3600.0, "hours"));
        assert_eq!(duration_unit(72.0 * 3600.0), (86_400.0, "days"));
    }
}
