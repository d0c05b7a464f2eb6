//! `GET /audit`: the audit trail, newest first, filtered by action and by
//! the kind of thing changed (both in the URL, kept by the page links),
//! with the hash chain's status at the top. Mirrors `GET /api/v1/audit`
//! (the entries the session's viewer may see) and `GET /api/v1/audit/verify`
//! (the chain).
//!
//! The store lists entries after a sequence number, oldest first; this
//! page walks back from the newest in windows of sequence numbers, at most
//! [`SCAN_LIMIT`] of them per request, and its "Older entries" link
//! (`before`) goes on from where it stopped.

use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use incidents::audit::{AuditEntry, AuditReport};
use incidents::{Store, StoreError, Viewer};
use serde::Deserialize;

use super::unavailable;
use crate::state::AppState;
use crate::ui::Nav;
use crate::ui::pages::{self, render};
use crate::ui::responder::{ErrorLink, Names, Stamp, query_string};
use crate::ui::session::Session;

/// Entries on one page.
const PAGE_SIZE: usize = 50;
/// Sequence numbers read per store call (the store's largest page).
const WINDOW: i64 = 1000;
/// The most sequence numbers one request looks through for matches.
const SCAN_LIMIT: i64 = 20_000;
/// The longest filter value.
const MAX_FILTER_CHARS: usize = 100;
/// The most characters of an entry's before or after JSON shown.
const CHANGE_CHARS: usize = 4096;

/// The page's query, as typed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    before: String,
}

impl AuditQuery {
    fn filter_pairs(&self) -> [(&str, &str); 2] {
        [
            ("action", self.action.trim()),
            ("entity", self.entity.trim()),
        ]
    }

    fn matches(&self, e: &AuditEntry) -> bool {
        let action = self.action.trim();
        let entity = self.entity.trim();
        (action.is_empty() || e.action.starts_with(action))
            && (entity.is_empty() || e.entity == entity)
    }
}

#[derive(Debug, Default)]
struct AuditErrors {
    action: Option<String>,
    entity: Option<String>,
    before: Option<String>,
}

impl AuditErrors {
    fn summary(&self) -> Vec<ErrorLink> {
        [
            (&self.action, "#action"),
            (&self.entity, "#entity"),
            (&self.before, "#results"),
        ]
        .into_iter()
        .filter_map(|(e, href)| {
            e.as_ref().map(|m| ErrorLink {
                href: href.to_owned(),
                message: m.clone(),
            })
        })
        .collect()
    }
}

/// The chain's state as the page shows it.
enum Chain {
    Intact {
        entries: i64,
    },
    Broken {
        seq: i64,
        reason: String,
    },
    /// The check could not run (or the role may not run it).
    Unknown,
}

/// One entry.
struct EntryRow {
    seq: i64,
    at: Stamp,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    incident: Option<String>,
    sensitive: bool,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "ops_audit.html")]
struct AuditPage<'a> {
    nav: Nav,
    query: &'a AuditQuery,
    errors: AuditErrors,
    summary: Vec<ErrorLink>,
    chain: Chain,
    rows: Vec<EntryRow>,
    filtered: bool,
    /// The sequence numbers looked through, newest first, when the page
    /// stopped before filling (`(from, to)`).
    searched: Option<(i64, i64)>,
    next: Option<String>,
    first: Option<String>,
}

/// JSON as indented text, cut at [`CHANGE_CHARS`]; `None` for `null`.
fn change_text(v: &serde_json::Value) -> Option<String> {
    if v.is_null() {
        return None;
    }
    let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
    if text.chars().count() > CHANGE_CHARS {
        text = text.chars().take(CHANGE_CHARS).collect();
        text.push_str("\n… (cut here)");
    }
    Some(text)
}

/// The newest sequence number `viewer` may see, at or after `from` (a
/// sequence number known to exist, or 0).
async fn newest_seq(store: &dyn Store, viewer: &Viewer, from: i64) -> Result<i64, StoreError> {
    let mut newest = from.max(0);
    loop {
        let found = store.list_audit(viewer, newest, WINDOW as u32).await?;
        let Some(last) = found.last() else {
            return Ok(newest);
        };
        newest = last.seq;
        if (found.len() as i64) < WINDOW {
            return Ok(newest);
        }
    }
}

/// `GET /audit`.
pub(crate) async fn show_audit(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    let role = s.caller.user.role;
    if !crate::ui::api_allows(role, Method::GET, "/api/v1/audit") {
        return pages::not_found_page();
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let viewer = s.caller.viewer();
    let store = state.store.as_ref();
    let mut errors = AuditErrors::default();
    if query.action.trim().chars().count() > MAX_FILTER_CHARS {
        errors.action = Some(format!("At most {MAX_FILTER_CHARS} characters, please."));
    }
    if query.entity.trim().chars().count() > MAX_FILTER_CHARS {
        errors.entity = Some(format!("At most {MAX_FILTER_CHARS} characters, please."));
    }
    let before = if query.before.is_empty() {
        None
    } else {
        match query.before.parse::<i64>() {
            Ok(n) if n > 1 => Some(n),
            _ => {
                errors.before = Some(
                    "This page link is not valid: start again from the newest entries.".to_owned(),
                );
                None
            }
        }
    };
    // The chain, as `GET /api/v1/audit/verify` answers it.
    let report: Option<AuditReport> =
        if crate::ui::api_allows(role, Method::GET, "/api/v1/audit/verify") {
            match store.verify_audit(&viewer).await {
                Ok(report) => Some(report),
                Err(error) => {
                    tracing::error!(%error, "cannot verify the audit chain for the page");
                    None
                }
            }
        } else {
            None
        };
    let chain = match &report {
        Some(r) => match &r.fault {
            None => Chain::Intact { entries: r.entries },
            Some(f) => Chain::Broken {
                seq: f.seq,
                reason: f.reason.clone(),
            },
        },
        None => Chain::Unknown,
    };
    let mut rows = Vec::new();
    let mut next = None;
    let mut searched = None;
    if errors.summary().is_empty() {
        // Where the walk starts: just past the newest entry, or `before`.
        let top = match before {
            Some(b) => b,
            None => {
                // Entries up to the chain's count (or up to a fault)
                // exist; any after are found by reading on.
                let known = match &report {
                    Some(r) => match &r.fault {
                        None => r.entries,
                        Some(f) => f.seq - 1,
                    },
                    None => 0,
                };
                match newest_seq(store, &viewer, known).await {
                    Ok(n) => n + 1,
                    Err(error) => return unavailable(&error, "newest audit entry"),
                }
            }
        };
        let mut found: Vec<AuditEntry> = Vec::new();
        let mut hi = top;
        let floor = (top - SCAN_LIMIT).max(1);
        while hi > floor && found.len() < PAGE_SIZE {
            let lo = (hi - WINDOW).max(floor);
            let window = match store.list_audit(&viewer, lo - 1, WINDOW as u32).await {
                Ok(w) => w,
                Err(error) => return unavailable(&error, "list audit"),
            };
            for e in window.into_iter().rev() {
                if e.seq >= hi || e.seq < lo || !query.matches(&e) {
                    continue;
                }
                if found.len() == PAGE_SIZE {
                    break;
                }
                found.push(e);
            }
            hi = lo;
        }
        let older_than = if found.len() == PAGE_SIZE {
            found.last().map(|e| e.seq)
        } else if hi > 1 {
            // The scan stopped at its limit before the oldest entry.
            searched = Some((hi, top - 1));
            Some(hi)
        } else {
            None
        };
        next = older_than.filter(|&n| n > 1).map(|n| {
            let n = n.to_string();
            let mut pairs = query.filter_pairs().to_vec();
            pairs.push(("before", n.as_str()));
            format!("/audit{}", query_string(pairs))
        });
        let names = Names::load(store, &viewer).await;
        rows = found
            .into_iter()
            .map(|e| EntryRow {
                seq: e.seq,
                at: Stamp::of(e.at),
                actor: names.of(e.actor),
                before: change_text(&e.before),
                after: change_text(&e.after),
                action: e.action,
                entity: e.entity,
                entity_id: e.entity_id,
                incident: e.incident_id.map(|i| i.to_string()),
                sensitive: e.sensitive,
            })
            .collect();
    }
    let first =
        (!query.before.is_empty()).then(|| format!("/audit{}", query_string(query.filter_pairs())));
    let summary = errors.summary();
    let status = if summary.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let filtered = query.filter_pairs().iter().any(|(_, v)| !v.is_empty());
    render(
        status,
        &AuditPage {
            nav: Nav::new(&s, "/audit"),
            query: &query,
            errors,
            summary,
            chain,
            rows,
            filtered,
            searched,
            next,
            first,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_cut_and_null_is_nothing() {
        assert_eq!(change_text(&serde_json::Value::Null), None);
        let long = serde_json::Value::String("x".repeat(10_000));
        let text = change_text(&long).unwrap();
        assert!(text.ends_with("… (cut here)"));
        assert_eq!(
            text.chars().count(),
            CHANGE_CHARS + "\n… (cut here)".chars().count()
        );
    }
}
