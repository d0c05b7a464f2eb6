//! The responder pages: the incident queue (`/incidents`), one incident
//! with its timeline and the forms that move it (`/incidents/{id}` and the
//! POSTs under it), and the alert queue (`/alerts`).
//!
//! Each handler asks [`super::api_allows`] about the exact API route it
//! mirrors (a page that reads `GET /api/v1/incidents/{id}` is open to the
//! roles of that route, a form that does `POST /api/v1/incidents/{id}/status`
//! to the roles of that one), and calls the store as the session's
//! [`incidents::Viewer`], so the store's need-to-know rules decide what is
//! shown. What a caller may not see is the 404 page, the same as for an id
//! that does not exist. A GET the role may not make is the 404 page too; a
//! POST it may not make is the 403 page.
//!
//! Every form is a POST carrying the session's CSRF token, refused (403,
//! nothing changed) unless [`super::session::same_origin`] holds and the
//! token matches; a good one is answered with 303 back to the page, a
//! refused value with the page again (422), its error summary linking to
//! the field and what was typed kept.
//!
//! This module must not hold access rules of its own: the route table
//! ([`crate::routes`]) says which role may call what, the store says which
//! rows they see, and the incidents crate says which status moves are legal
//! ([`incidents::Incident::next_statuses`]).

mod advisory;
mod alerts;
mod incident;
mod queue;

use std::collections::HashMap;

use axum::Router;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{get, post};
use incidents::{AlertLevel, Category, Severity, Status, Store, UserId, Viewer};

use super::pages::{self, forbidden_page};
use super::session::{Session, same_origin, same_secret};
use crate::state::AppState;

/// Rows on one page of a queue.
const PAGE_SIZE: u32 = 50;

/// This module's page routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(queue::list_incidents))
        .route("/incidents/{id}", get(incident::show_incident))
        .route("/incidents/{id}/status", post(incident::change_status))
        .route("/incidents/{id}/assign", post(incident::assign_incident))
        .route(
            "/incidents/{id}/participants",
            post(incident::add_participant),
        )
        .route("/incidents/{id}/notes", post(incident::add_note))
        .route("/incidents/{id}/tasks", post(incident::add_task))
        .route(
            "/incidents/{id}/tasks/{task_id}",
            post(incident::update_task),
        )
        .route("/incidents/{id}/impact", post(incident::set_impact))
        .route("/incidents/{id}/close", post(incident::close_incident))
        .route("/incidents/{id}/merge", post(incident::merge_incident))
        .route(
            "/incidents/{id}/advisory",
            get(advisory::show_advisory).post(advisory::save_advisory),
        )
        .route(
            "/incidents/{id}/advisory/approve",
            post(advisory::approve_advisory),
        )
        .route("/alerts", get(alerts::list_alerts))
        .route("/alerts/{id}/promote", post(alerts::promote_alert))
        .route("/alerts/{id}/attach", post(alerts::attach_alert))
        .route("/alerts/{id}/dismiss", post(alerts::dismiss_alert))
}

/// The answer to a form that was sent from another site, without the
/// session's token, or by a role that may not call its API route.
fn refused() -> Response {
    forbidden_page(
        "This form was sent from another site, had expired, or asks for something your role may not do. Nothing was changed.",
        true,
    )
}

/// The checks every form POST passes before anything is read: signed in
/// (else to sign-in), a role that may call the API route `api_path`
/// (`POST` unless `method` says otherwise), the same origin and the
/// session's CSRF token (else [`refused`]).
pub(crate) fn check_post(
    session: Option<Session>,
    headers: &HeaderMap,
    method: Method,
    api_path: &str,
    csrf: Option<&str>,
) -> Result<Session, Box<Response>> {
    let Some(s) = session else {
        return Err(Box::new(pages::to_login()));
    };
    if !super::api_allows(s.caller.user.role, method, api_path) {
        return Err(Box::new(refused()));
    }
    match csrf {
        Some(token) if same_origin(headers) && same_secret(&s.csrf, token) => Ok(s),
        _ => Err(Box::new(refused())),
    }
}

/// A time as the pages show it: UTC text, and the machine form for
/// `<time datetime>`.
pub(crate) struct Stamp {
    pub iso: String,
    pub text: String,
}

impl Stamp {
    pub(crate) fn of(t: time::OffsetDateTime) -> Stamp {
        let t = t.to_offset(time::UtcOffset::UTC);
        Stamp {
            iso: t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            text: t
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute] UTC"
                ))
                .unwrap_or_default(),
        }
    }
}

/// A severity as words (never only a colour) and its CSS class.
pub(crate) struct SeverityView {
    pub label: &'static str,
    pub class: &'static str,
}

fn severity(s: Severity) -> SeverityView {
    let (label, class) = match s {
        Severity::Sev1 => ("SEV1 critical", "sev sev1"),
        Severity::Sev2 => ("SEV2 high", "sev sev2"),
        Severity::Sev3 => ("SEV3 medium", "sev sev3"),
        Severity::Sev4 => ("SEV4 low", "sev sev4"),
    };
    SeverityView { label, class }
}

/// An alert level as a word and its CSS class (the severity an incident
/// it opens would get).
pub(crate) fn level(l: AlertLevel) -> SeverityView {
    let class = severity(l.severity()).class;
    SeverityView {
        label: l.as_str(),
        class,
    }
}

/// A status in plain words.
fn status_label(s: Status) -> &'static str {
    match s {
        Status::Triage => "Triage",
        Status::Investigating => "Investigating",
        Status::Contained => "Contained",
        Status::Eradicated => "Eradicated",
        Status::Recovered => "Recovered",
        Status::Closed => "Closed",
        Status::Declined => "Declined",
        Status::Merged => "Merged",
    }
}

/// A category's label (as the report form names it).
fn category_label(c: Category) -> &'static str {
    pages::describe(c).0
}

/// One choice of a `<select>`.
pub(crate) struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

impl Choice {
    fn list(
        items: impl IntoIterator<Item = (&'static str, &'static str)>,
        chosen: &str,
    ) -> Vec<Choice> {
        items
            .into_iter()
            .map(|(value, label)| Choice {
                value,
                label,
                selected: value == chosen,
            })
            .collect()
    }
}

/// User names by id, as far as the viewer may list users (responders and
/// admins: everyone; anyone else: themselves). Someone they may not list
/// is "a colleague"; the system actor is "watchpost".
pub(crate) struct Names(HashMap<UserId, String>);

impl Names {
    pub(crate) async fn load(store: &dyn Store, viewer: &Viewer) -> Names {
        let users = match store.list_users(viewer).await {
            Ok(users) => users,
            Err(error) => {
                tracing::warn!(%error, "cannot list users for a page");
                Vec::new()
            }
        };
        Names(users.into_iter().map(|u| (u.id, u.name)).collect())
    }

    pub(crate) fn of(&self, id: UserId) -> String {
        if id == UserId::SYSTEM {
            return "watchpost".to_owned();
        }
        self.0
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "a colleague".to_owned())
    }
}

/// The most characters of evidence JSON one page shows (alerts carry up
/// to 1 MiB each): past it, the page says how many events it left out.
const EVIDENCE_BUDGET: usize = 256 * 1024;
/// The most characters of one evidence event shown.
const EVIDENCE_EVENT_CHARS: usize = 16 * 1024;

/// Evidence events as indented JSON text, within what is left of
/// `budget`; and how many were left out.
fn evidence(events: &[serde_json::Value], budget: &mut usize) -> (Vec<String>, usize) {
    let mut shown = Vec::new();
    for (n, event) in events.iter().enumerate() {
        if *budget == 0 {
            return (shown, events.len() - n);
        }
        let mut text = serde_json::to_string_pretty(event).unwrap_or_default();
        let limit = EVIDENCE_EVENT_CHARS.min(*budget);
        if text.chars().count() > limit {
            text = text.chars().take(limit).collect();
            text.push_str("\n… (cut here)");
        }
        *budget = budget.saturating_sub(text.len());
        shown.push(text);
    }
    (shown, 0)
}

/// A link to an error's field, for the error summary.
pub(crate) struct ErrorLink {
    pub href: String,
    pub message: String,
}

/// A query string (`?a=b&c=d`, or empty) of the non-empty pairs,
/// form-encoded (`application/x-www-form-urlencoded`: space as `+`,
/// everything but letters, digits and `-_.*` percent-encoded).
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    fn encode(out: &mut String, text: &str) {
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        out.push(if out.is_empty() { '?' } else { '&' });
        encode(&mut out, k);
        out.push('=');
        encode(&mut out, v);
    }
    out
}

/// A store failure that is nobody's input: logged, and a page that says so.
fn unavailable(error: &incidents::StoreError, what: &str) -> Response {
    tracing::error!(%error, what, "a responder page failed");
    pages::render(axum::http::StatusCode::SERVICE_UNAVAILABLE, &Unavailable {})
}

#[derive(askama::Template)]
#[template(
    source = "{% extends \"base.html\" %}{% block title %}Unavailable{% endblock %}{% block content %}<h1>Unavailable</h1><p>This page cannot be shown right now. Try again shortly.</p>{% endblock %}",
    ext = "html"
)]
struct Unavailable {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_have_words() {
        let table = [
            (Severity::Sev1, "SEV1 critical"),
            (Severity::Sev2, "SEV2 high"),
            (Severity::Sev3, "SEV3 medium"),
            (Severity::Sev4, "SEV4 low"),
        ];
        for (s, word) in table {
            assert_eq!(severity(s).label, word);
        }
    }

    #[test]
    fn query_strings_skip_empty_values_and_encode() {
        assert_eq!(query_string([("status", ""), ("q", "")]), "");
        assert_eq!(
            query_string([("status", "triage"), ("q", "a&b <c>")]),
            "?status=triage&q=a%26b+%3Cc%3E"
        );
    }

    #[test]
    fn stamps_are_utc() {
        let t = time::macros::datetime!(2026-12-03 14:05:09 +02:00);
        let s = Stamp::of(t);
        assert_eq!(s.iso, "2026-12-03T12:05:09Z");
        assert_eq!(s.text, "2026-12-03 12:05 UTC");
    }
}
