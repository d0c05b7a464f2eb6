//! `GET /incidents`: the incident queue, newest first, with its filters in
//! the URL (`status`, `severity`, `category`, `owner`, `source`, `sensitive`,
//! `q`, and for staff `overdue`: incidents with an SLA clock running past
//! its deadline, each marked overdue in the list) and keyset
//! pagination (`cursor`) whose links keep them. Mirrors
//! `GET /api/v1/incidents`.

use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use incidents::{Category, IncidentFilter, PageRequest, Severity, Source, Status, StoreError};
use serde::Deserialize;

use super::{
    Choice, ErrorLink, Names, PAGE_SIZE, SeverityView, Stamp, category_label, query_string,
    severity, status_label, unavailable,
};
use crate::handlers::incidents::MAX_SEARCH_CHARS;
use crate::state::AppState;
use crate::ui::Nav;
use crate::ui::pages::{self, render};
use crate::ui::session::Session;

/// The queue's query: every value as typed (checked here, so a bad value
/// is a field error and never a rejected request).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    sensitive: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    cursor: String,
}

impl QueueQuery {
    /// The filter's pairs for links (the cursor left out).
    fn filter_pairs(&self) -> [(&str, &str); 8] {
        [
            ("status", self.status.as_str()),
            ("severity", self.severity.as_str()),
            ("category", self.category.as_str()),
            ("owner", self.owner.as_str()),
            ("source", self.source.as_str()),
            ("sensitive", self.sensitive.as_str()),
            ("q", self.q.as_str()),
            ("overdue", self.overdue.as_str()),
        ]
    }
}

#[derive(Debug, Default)]
struct QueueErrors {
    status: Option<String>,
    severity: Option<String>,
    category: Option<String>,
    owner: Option<String>,
    source: Option<String>,
    sensitive: Option<String>,
    q: Option<String>,
    overdue: Option<String>,
    cursor: Option<String>,
}

impl QueueErrors {
    fn summary(&self) -> Vec<ErrorLink> {
        [
            (&self.status, "#status"),
            (&self.severity, "#severity"),
            (&self.category, "#category"),
            (&self.owner, "#owner"),
            (&self.source, "#source"),
            (&self.sensitive, "#sensitive"),
            (&self.q, "#q"),
            (&self.overdue, "#overdue"),
            (&self.cursor, "#results"),
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

/// One row of the queue.
struct IncidentRow {
    id: String,
    title: String,
    severity: SeverityView,
    status: &'static str,
    category: &'static str,
    owner: Option<String>,
    sensitive: bool,
    /// An SLA clock runs past its deadline (staff only).
    overdue: bool,
    created: Stamp,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct QueuePage<'a> {
    nav: Nav,
    query: &'a QueueQuery,
    errors: QueueErrors,
    summary: Vec<ErrorLink>,
    statuses: Vec<Choice>,
    severities: Vec<Choice>,
    categories: Vec<Choice>,
    sources: Vec<Choice>,
    need_to_know: Vec<Choice>,
    /// The overdue filter's choices (staff only: SLA clocks are theirs).
    overdue: Option<Vec<Choice>>,
    rows: Vec<IncidentRow>,
    total: Option<i64>,
    filtered: bool,
    /// The next page's link, when there is one.
    next: Option<String>,
    /// The first page's link, on a later page.
    first: Option<String>,
    /// security.txt expires soon or has expired (responders and admins).
    security_txt_warning: Option<String>,
}

/// Parses a select's value: empty is "any".
fn parse_one<T: std::str::FromStr>(raw: &str, error: &mut Option<String>, message: &str) -> Vec<T> {
    if raw.is_empty() {
        return Vec::new();
    }
    match raw.parse::<T>() {
        Ok(v) => vec![v],
        Err(_) => {
            *error = Some(message.to_owned());
            Vec::new()
        }
    }
}

/// `GET /incidents`.
pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !crate::ui::api_allows(s.caller.user.role, Method::GET, "/api/v1/incidents") {
        return pages::not_found_page();
    }
    // A query that cannot be read at all (a repeated key) is the queue
    // unfiltered.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let viewer = s.caller.viewer();
    let mut errors = QueueErrors::default();
    let status = parse_one::<Status>(
        &query.status,
        &mut errors.status,
        "Choose a status from the list.",
    );
    let severities = parse_one::<Severity>(
        &query.severity,
        &mut errors.severity,
        "Choose a severity from the list.",
    );
    let categories = parse_one::<Category>(
        &query.category,
        &mut errors.category,
        "Choose a kind from the list.",
    );
    let sources = parse_one::<Source>(
        &query.source,
        &mut errors.source,
        "Choose a source from the list.",
    );
    let sensitive = match query.sensitive.as_str() {
        "" => None,
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            errors.sensitive = Some("Choose from the list.".to_owned());
            None
        }
    };
    let owner_name = query.owner.trim();
    let owner = if owner_name.is_empty() {
        None
    } else if owner_name.chars().count() > 200 {
        errors.owner = Some("A user name has at most 200 characters.".to_owned());
        None
    } else {
        match state.store.get_user_by_name(&viewer, owner_name).await {
            Ok(user) => Some(user.id),
            Err(StoreError::NotFound(_)) => {
                errors.owner = Some(format!(
                    "There is no user called {owner_name} that you can see."
                ));
                None
            }
            Err(error) => return unavailable(&error, "owner filter"),
        }
    };
    let text = query.q.trim();
    if text.chars().count() > MAX_SEARCH_CHARS {
        errors.q = Some(format!("Search for at most {MAX_SEARCH_CHARS} characters."));
    }
    let staff = viewer.is_staff();
    let only_overdue = match query.overdue.as_str() {
        "" => false,
        "true" if staff => true,
        _ => {
            errors.overdue = Some("Choose from the list.".to_owned());
            false
        }
    };
    let mut filter = IncidentFilter {
        status,
        severity: severities,
        category: categories,
        owner,
        text: (!text.is_empty()).then(|| text.to_owned()),
        source: sources,
        sensitive,
        ..IncidentFilter::default()
    };
    let now = time::OffsetDateTime::now_utc();
    let filter_errors = errors.summary();
    if filter_errors.is_empty() && only_overdue {
        match crate::sla::overdue_ids(state.store.as_ref(), &state.sla, &viewer, &filter, now).await
        {
            Ok(ids) => filter.ids = Some(ids),
            Err(error) => return unavailable(&error, "overdue incidents"),
        }
    }
    let mut rows = Vec::new();
    let mut total = None;
    let mut next = None;
    if filter_errors.is_empty() {
        let page = PageRequest {
            limit: Some(PAGE_SIZE),
            cursor: (!query.cursor.is_empty()).then(|| query.cursor.clone()),
        };
        match state.store.list_incidents(&viewer, &filter, &page).await {
            Ok(found) => {
                let names = Names::load(state.store.as_ref(), &viewer).await;
                match state.store.count_incidents(&viewer, &filter).await {
                    Ok(n) => total = Some(n),
                    Err(error) => return unavailable(&error, "count incidents"),
                }
                let slas = match crate::sla::evaluate(
                    state.store.as_ref(),
                    &state.sla,
                    &viewer,
                    &found.items,
                    now,
                )
                .await
                {
                    Ok(slas) => slas,
                    Err(error) => return unavailable(&error, "SLA clocks"),
                };
                let overdue: Vec<bool> = match slas {
                    Some(slas) => slas.iter().map(|s| s.is_overdue()).collect(),
                    None => vec![false; found.items.len()],
                };
                next = found.next_cursor.map(|cursor| {
                    let mut pairs = query.filter_pairs().to_vec();
                    pairs.push(("cursor", cursor.as_str()));
                    format!("/incidents{}", query_string(pairs))
                });
                rows = found
                    .items
                    .into_iter()
                    .zip(overdue)
                    .map(|(i, overdue)| IncidentRow {
                        id: i.id.to_string(),
                        title: i.title,
                        severity: severity(i.severity),
                        status: status_label(i.status),
                        category: category_label(i.category),
                        owner: i.owner.map(|o| names.of(o)),
                        sensitive: i.sensitive,
                        overdue,
                        created: Stamp::of(i.created_at),
                    })
                    .collect();
            }
            Err(StoreError::Invalid(_)) if !query.cursor.is_empty() => {
                errors.cursor = Some(
                    "This page link is no longer valid: start again from the first page."
                        .to_owned(),
                );
            }
            Err(error) => return unavailable(&error, "list incidents"),
        }
    }
    let first = (!query.cursor.is_empty())
        .then(|| format!("/incidents{}", query_string(query.filter_pairs())));
    let summary = errors.summary();
    let status_code = if summary.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let filtered = query
        .filter_pairs()
        .iter()
        .any(|(_, v)| !v.trim().is_empty());
    let security_txt_warning = matches!(
        s.caller.user.role,
        incidents::Role::Responder | incidents::Role::Admin
    )
    .then(|| {
        state
            .disclosure
            .as_ref()
            .and_then(|d| d.expiry_warning(time::OffsetDateTime::now_utc()))
    })
    .flatten();
    render(
        status_code,
        &QueuePage {
            security_txt_warning,
            nav: Nav::new(&s, "/incidents"),
            statuses: Choice::list(
                Status::ALL.iter().map(|s| (s.as_str(), status_label(*s))),
                &query.status,
            ),
            severities: Choice::list(
                Severity::ALL
                    .iter()
                    .map(|s| (s.as_str(), severity(*s).label)),
                &query.severity,
            ),
            categories: Choice::list(
                Category::ALL
                    .iter()
                    .map(|c| (c.as_str(), category_label(*c))),
                &query.category,
            ),
            sources: Choice::list(
                Source::ALL.iter().map(|s| (s.as_str(), source_label(*s))),
                &query.source,
            ),
            need_to_know: Choice::list(
                [("true", "Sensitive cases only"), ("false", "Not sensitive")],
                &query.sensitive,
            ),
            overdue: staff.then(|| {
                Choice::list(
                    [("true", "Overdue (an SLA clock is past its deadline)")],
                    &query.overdue,
                )
            }),
            query: &query,
            errors,
            summary,
            rows,
            total,
            filtered,
            next,
            first,
        },
    )
}

/// How the queue's source filter names a source.
fn source_label(s: Source) -> &'static str {
    match s {
        Source::Detection => "A detection (alerts)",
        Source::Web => "A report on the web form",
        Source::Api => "A report through the API",
        Source::Cli => "A report from the command line",
        Source::Slack => "A report from Slack",
        Source::Email => "A report by email",
        Source::ThirdParty => "A report from a third party",
    }
}
