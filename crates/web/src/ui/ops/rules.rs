//! `GET /rules`: the rules live detection runs, the rule files that failed
//! to load and why, and the detections of each rule since start; with the
//! admin's button that loads the rules again (`POST /rules/reload`, as
//! `POST /api/v1/rules/reload`). `GET /coverage`: which streams feed which
//! rules, and the rules no event has reached. Both read what
//! `GET /api/v1/coverage` answers, and are open to its roles.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::logsource_text;
use crate::events::{EventSink, RuleKind, RuleSummary};
use crate::state::AppState;
use crate::ui::Nav;
use crate::ui::pages::{self, render, see_other};
use crate::ui::responder::{ErrorLink, SeverityView, check_post, level};
use crate::ui::session::Session;

/// The API route the rules and coverage pages mirror.
const COVERAGE_API: &str = "/api/v1/coverage";

/// One rule that runs.
struct RuleRow {
    id: Option<String>,
    title: String,
    level: SeverityView,
    kind: &'static str,
    logsource: String,
    hits: u64,
    events_seen: u64,
    streams: u64,
}

/// A rule file that failed to load.
struct RuleError {
    file: String,
    reason: String,
}

/// Detections of a built-in detector (not a rule file).
struct DetectorRow {
    id: String,
    title: String,
    hits: u64,
}

#[derive(Template)]
#[template(path = "ops_rules.html")]
struct RulesPage<'a> {
    nav: Nav,
    csrf: &'a str,
    live: bool,
    /// The role may reload the rules.
    can_reload: bool,
    /// Just reloaded.
    reloaded: bool,
    summary: Vec<ErrorLink>,
    reload_error: Option<String>,
    rules: Vec<RuleRow>,
    errors: Vec<RuleError>,
    detectors: Vec<DetectorRow>,
    total_hits: u64,
}

fn kind_label(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Detection => "Detection",
        RuleKind::Correlation => "Correlation",
    }
}

/// Splits a load error (`file: reason`) at its first `": "`.
fn split_error(text: &str) -> RuleError {
    match text.split_once(": ") {
        Some((file, reason)) => RuleError {
            file: file.to_owned(),
            reason: reason.to_owned(),
        },
        None => RuleError {
            file: String::new(),
            reason: text.to_owned(),
        },
    }
}

/// The key a rule's hits are counted under: its id (empty when it has
/// none) and title.
fn hit_key(id: Option<&str>, title: &str) -> (String, String) {
    (id.unwrap_or_default().to_owned(), title.to_owned())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RulesQuery {
    #[serde(default)]
    reloaded: Option<String>,
}

/// The rules page's content from the sink (or without one).
fn rules_page<'a>(
    s: &'a Session,
    sink: Option<&dyn EventSink>,
    reloaded: bool,
    reload_error: Option<String>,
) -> RulesPage<'a> {
    let can_reload =
        crate::ui::api_allows(s.caller.user.role, Method::POST, "/api/v1/rules/reload");
    let summary = reload_error
        .iter()
        .map(|m| ErrorLink {
            href: "#reload".to_owned(),
            message: m.clone(),
        })
        .collect();
    let mut page = RulesPage {
        nav: Nav::new(s, "/rules"),
        csrf: &s.csrf,
        live: sink.is_some(),
        can_reload,
        reloaded,
        summary,
        reload_error,
        rules: Vec::new(),
        errors: Vec::new(),
        detectors: Vec::new(),
        total_hits: 0,
    };
    let Some(sink) = sink else {
        return page;
    };
    let coverage = sink.coverage();
    let mut hits: BTreeMap<(String, String), u64> = sink
        .rule_hits()
        .into_iter()
        .map(|h| ((h.rule_id, h.title), h.hits))
        .collect();
    page.total_hits = hits.values().sum();
    page.rules = coverage
        .rules
        .into_iter()
        .map(|r| RuleRow {
            hits: hits
                .remove(&hit_key(r.id.as_deref(), &r.title))
                .unwrap_or(0),
            level: level(r.level),
            kind: kind_label(r.kind),
            logsource: r
                .logsource
                .as_ref()
                .map_or_else(|| "its rules' matches".to_owned(), logsource_text),
            id: r.id,
            title: r.title,
            events_seen: r.events_seen,
            streams: r.streams,
        })
        .collect();
    // What is left was found by built-in detectors.
    page.detectors = hits
        .into_iter()
        .map(|((id, title), hits)| DetectorRow { id, title, hits })
        .collect();
    page.errors = sink.rule_errors().iter().map(|e| split_error(e)).collect();
    page
}

/// `GET /rules`.
pub(crate) async fn show_rules(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<axum::extract::Query<RulesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !crate::ui::api_allows(s.caller.user.role, Method::GET, COVERAGE_API) {
        return pages::not_found_page();
    }
    let reloaded = query.is_ok_and(|q| q.0.reloaded.is_some());
    render(
        StatusCode::OK,
        &rules_page(&s, state.events.as_deref(), reloaded, None),
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReloadForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /rules/reload`: as `POST /api/v1/rules/reload`; 303 back to the
/// rules page, or the page again with why the rules stay (422), or that
/// this server runs no live detection (503).
pub(crate) async fn reload_rules(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    form: Result<Form<ReloadForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.ok().map(|Form(f)| f.csrf);
    let s = match check_post(
        session.map(|Extension(s)| s),
        &headers,
        Method::POST,
        "/api/v1/rules/reload",
        csrf.as_deref(),
    ) {
        Ok(s) => s,
        Err(response) => return *response,
    };
    let Some(sink) = state.events.clone() else {
        return render(
            StatusCode::SERVICE_UNAVAILABLE,
            &rules_page(
                &s,
                None,
                false,
                Some("This server runs no live detection: there are no rules to load.".to_owned()),
            ),
        );
    };
    match sink.reload_rules().await {
        Ok(_) => see_other("/rules?reloaded=1"),
        Err(reason) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &rules_page(
                &s,
                Some(sink.as_ref()),
                false,
                Some(format!("The rules were not loaded again: {reason}")),
            ),
        ),
    }
}

/// One stream and the rules it feeds.
struct CoverageRow {
    name: String,
    host: Option<String>,
    logsource: String,
    events: u64,
    rules: Vec<String>,
}

/// A rule no event has reached.
struct IdleRule {
    id: Option<String>,
    title: String,
    kind: &'static str,
    logsource: String,
}

#[derive(Template)]
#[template(path = "ops_coverage.html")]
struct CoveragePage {
    nav: Nav,
    live: bool,
    streams: Vec<CoverageRow>,
    rules_running: usize,
    rules_fed: usize,
    idle: Vec<IdleRule>,
    untracked_events: u64,
}

fn idle(r: RuleSummary) -> IdleRule {
    IdleRule {
        kind: kind_label(r.kind),
        logsource: r
            .logsource
            .as_ref()
            .map_or_else(|| "its rules' matches".to_owned(), logsource_text),
        id: r.id,
        title: r.title,
    }
}

/// `GET /coverage`.
pub(crate) async fn show_coverage(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !crate::ui::api_allows(s.caller.user.role, Method::GET, COVERAGE_API) {
        return pages::not_found_page();
    }
    let nav = Nav::new(&s, "/coverage");
    let Some(sink) = state.events.as_ref() else {
        return render(
            StatusCode::OK,
            &CoveragePage {
                nav,
                live: false,
                streams: Vec::new(),
                rules_running: 0,
                rules_fed: 0,
                idle: Vec::new(),
                untracked_events: 0,
            },
        );
    };
    let coverage = sink.coverage();
    let rules_running = coverage.rules.len();
    let rules_fed = coverage.rules.iter().filter(|r| r.streams > 0).count();
    let streams = coverage
        .sources
        .into_iter()
        .map(|c| CoverageRow {
            name: c.name,
            host: c.host,
            logsource: logsource_text(&c.logsource),
            events: c.events,
            rules: c.rules.into_iter().map(|r| r.title).collect(),
        })
        .collect();
    render(
        StatusCode::OK,
        &CoveragePage {
            nav,
            live: true,
            streams,
            rules_running,
            rules_fed,
            idle: coverage
                .rules_without_events
                .into_iter()
                .map(idle)
                .collect(),
            untracked_events: coverage.untracked_events,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_errors_split_at_the_first_colon() {
        let e = split_error("rules/a.yml: line 3: bad key");
        assert_eq!(
            (e.file.as_str(), e.reason.as_str()),
            ("rules/a.yml", "line 3: bad key")
        );
        let e = split_error("no colon");
        assert_eq!((e.file.as_str(), e.reason.as_str()), ("", "no colon"));
    }
}
