//! The operations pages: the log sources live detection hears from
//! (`/sources`), the rules it runs (`/rules`, with the admin's reload
//! button), which streams feed which rules (`/coverage`), and the audit
//! trail with its hash-chain check (`/audit`).
//!
//! Each page mirrors one API route and asks [`super::api_allows`] about
//! exactly that route: `/sources` is `GET /api/v1/sources`, `/rules` and
//! `/coverage` are `GET /api/v1/coverage`, the reload form is
//! `POST /api/v1/rules/reload`, `/audit` is `GET /api/v1/audit` (its chain
//! status `GET /api/v1/audit/verify`). A GET the role may not make is the
//! 404 page, a POST it may not make the 403 page; an anonymous request is
//! sent to sign in. The data comes from the same calls as the API's
//! handlers: the event sink's (`sources`, `streams`, `coverage`, its rule
//! errors and hits) and the store's (`list_audit`, `verify_audit`, as the
//! session's [`incidents::Viewer`]).
//!
//! This module holds no access rules of its own.

mod audit;
mod rules;
mod sources;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::pages;
use crate::events::LogSourceBody;
use crate::state::AppState;

/// This module's page routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sources", get(sources::show_sources))
        .route("/rules", get(rules::show_rules))
        .route("/rules/reload", post(rules::reload_rules))
        .route("/coverage", get(rules::show_coverage))
        .route("/audit", get(audit::show_audit))
}

/// A logsource in words: `product / service / category`, the unset parts
/// left out ("any log" when none is set).
fn logsource_text(l: &LogSourceBody) -> String {
    let parts: Vec<&str> = [&l.product, &l.service, &l.category]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    if parts.is_empty() {
        "any log".to_owned()
    } else {
        parts.join(" / ")
    }
}

/// A rate with one decimal.
fn rate(per_minute: f64) -> String {
    format!("{per_minute:.1}")
}

/// A length of time in plain words, to the unit that reads best.
fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 90.0 {
        format!("{} s", s.round() as u64)
    } else if s < 90.0 * 60.0 {
        format!("{} min", (s / 60.0).round() as u64)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

/// A store failure that is nobody's input: logged, and a page that says so.
fn unavailable(error: &dyn std::fmt::Display, what: &str) -> Response {
    tracing::error!(%error, what, "an operations page failed");
    pages::render(StatusCode::SERVICE_UNAVAILABLE, &Unavailable {})
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
    fn logsources_read_as_words() {
        let l = LogSourceBody {
            product: Some("linux".into()),
            service: Some("sshd".into()),
            category: None,
        };
        assert_eq!(logsource_text(&l), "linux / sshd");
        assert_eq!(logsource_text(&LogSourceBody::default()), "any log");
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_text(12.4), "12 s");
        assert_eq!(duration_text(600.0), "10 min");
        assert_eq!(duration_text(3.0 * 3600.0), "3.0 h");
        assert_eq!(duration_text(3.0 * 86_400.0), "3.0 days");
        assert_eq!(rate(2.26), "2.3");
    }
}
