//! `GET /alerts`: the alert queue (mirrors `GET /api/v1/alerts`), newest
//! first, filtered by disposition and rule in the URL, with each alert's
//! evidence and its actions: promote to an incident (`POST
//! /api/v1/alerts/{id}/promote`), attach to an existing incident (`POST
//! /api/v1/incidents/{id}/links`) and dismiss with a reason (`POST
//! /api/v1/alerts/{id}/dismiss`). A form's action carries the queue's
//! query, so the answer comes back to the same view.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use incidents::{AlertDisposition, AlertFilter, AlertId, IncidentId, PageRequest, StoreError};
use serde::Deserialize;

use super::incident::AlertView;
use super::{Choice, ErrorLink, PAGE_SIZE, check_post, query_string, unavailable};
use crate::state::AppState;
use crate::ui::pages::{self, forbidden_page, render, see_other};
use crate::ui::session::Session;
use crate::ui::{Nav, api_allows};

/// The longest rule id (the store's limit).
const MAX_RULE_ID: usize = 200;
/// The longest dismissal reason (the store's limit).
const MAX_REASON: usize = 2000;

const PROMOTE_ROUTE: &str = "/api/v1/alerts/{id}/promote";
const DISMISS_ROUTE: &str = "/api/v1/alerts/{id}/dismiss";
const LINK_ROUTE: &str = "/api/v1/incidents/{id}/links";

/// The queue's query, as typed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AlertsQuery {
    #[serde(default)]
    disposition: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    cursor: String,
}

impl AlertsQuery {
    fn filter_pairs(&self) -> [(&str, &str); 2] {
        [
            ("disposition", self.disposition.as_str()),
            ("rule", self.rule.as_str()),
        ]
    }

    /// The whole query, for a form's action (back to this view).
    fn back(&self) -> String {
        let mut pairs = self.filter_pairs().to_vec();
        pairs.push(("cursor", self.cursor.as_str()));
        query_string(pairs)
    }
}

/// What an alert's forms send.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AlertForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    incident: String,
    #[serde(default)]
    reason: String,
}

/// Which of an alert's forms an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Promote,
    Incident,
    Reason,
}

/// An error of one alert's form, with what was typed.
struct RowError {
    alert: AlertId,
    field: Field,
    message: String,
    typed: String,
}

/// One alert of the queue, with its forms.
struct AlertRow {
    a: AlertView,
    incident: Option<String>,
    sensitive: bool,
    can_promote: bool,
    can_attach: bool,
    can_dismiss: bool,
    promote_error: Option<String>,
    incident_error: Option<String>,
    incident_typed: String,
    reason_error: Option<String>,
    reason_typed: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage<'a> {
    nav: Nav,
    csrf: &'a str,
    query: &'a AlertsQuery,
    back: String,
    dispositions: Vec<Choice>,
    disposition_error: Option<String>,
    rule_error: Option<String>,
    cursor_error: Option<String>,
    summary: Vec<ErrorLink>,
    rows: Vec<AlertRow>,
    filtered: bool,
    next: Option<String>,
    first: Option<String>,
}

/// The disposition choices, in the store's words.
const DISPOSITIONS: &[(&str, &str)] = &[
    ("queued", "Queued (waiting for a decision)"),
    ("opened", "Opened an incident"),
    ("grouped", "Grouped into an incident"),
    ("suppressed", "Suppressed"),
    ("dismissed", "Dismissed"),
];

/// `GET /alerts`.
pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !api_allows(s.caller.user.role, Method::GET, "/api/v1/alerts") {
        return pages::not_found_page();
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    queue(&state, &s, &query, None, StatusCode::OK).await
}

/// Renders the queue for `query`, with `error` on its alert's form.
async fn queue(
    state: &AppState,
    s: &Session,
    query: &AlertsQuery,
    error: Option<RowError>,
    status: StatusCode,
) -> Response {
    let viewer = s.caller.viewer();
    let role = s.caller.user.role;
    let mut summary = Vec::new();
    let mut disposition_error = None;
    let mut rule_error = None;
    let mut cursor_error = None;
    let disposition = if query.disposition.is_empty() {
        None
    } else {
        let parsed = AlertDisposition::parse(&query.disposition);
        if parsed.is_none() {
            disposition_error = Some("Choose a disposition from the list.".to_owned());
        }
        parsed
    };
    let rule = query.rule.trim();
    if rule.chars().count() > MAX_RULE_ID {
        rule_error = Some(format!("A rule id has at most {MAX_RULE_ID} characters."));
    }
    let mut rows = Vec::new();
    let mut next = None;
    if disposition_error.is_none() && rule_error.is_none() {
        let filter = AlertFilter {
            rule_id: (!rule.is_empty()).then(|| rule.to_owned()),
            incident_id: None,
            disposition,
        };
        let page = PageRequest {
            limit: Some(PAGE_SIZE),
            cursor: (!query.cursor.is_empty()).then(|| query.cursor.clone()),
        };
        match state.store.list_alerts(&viewer, &filter, &page).await {
            Ok(found) => {
                next = found.next_cursor.map(|cursor| {
                    let mut pairs = query.filter_pairs().to_vec();
                    pairs.push(("cursor", cursor.as_str()));
                    format!("/alerts{}", query_string(pairs))
                });
                let mut budget = super::EVIDENCE_BUDGET;
                let can_promote = api_allows(role, Method::POST, PROMOTE_ROUTE);
                let can_attach = api_allows(role, Method::POST, LINK_ROUTE);
                let can_dismiss = api_allows(role, Method::POST, DISMISS_ROUTE);
                rows = found
                    .items
                    .into_iter()
                    .map(|alert| {
                        let mine = error.as_ref().filter(|e| e.alert == alert.id);
                        let on = |field: Field| mine.filter(|e| e.field == field);
                        AlertRow {
                            incident: alert.incident_id.map(|i| i.to_string()),
                            sensitive: alert.sensitive,
                            can_promote: can_promote && alert.incident_id.is_none(),
                            can_attach,
                            can_dismiss: can_dismiss
                                && alert.disposition != AlertDisposition::Dismissed,
                            promote_error: on(Field::Promote).map(|e| e.message.clone()),
                            incident_error: on(Field::Incident).map(|e| e.message.clone()),
                            incident_typed: on(Field::Incident)
                                .map(|e| e.typed.clone())
                                .unwrap_or_default(),
                            reason_error: on(Field::Reason).map(|e| e.message.clone()),
                            reason_typed: on(Field::Reason)
                                .map(|e| e.typed.clone())
                                .unwrap_or_default(),
                            a: AlertView::of(alert, &mut budget),
                        }
                    })
                    .collect();
            }
            Err(StoreError::Invalid(_)) if !query.cursor.is_empty() => {
                cursor_error = Some(
                    "This page link is no longer valid: start again from the first page."
                        .to_owned(),
                );
            }
            Err(error) => return unavailable(&error, "list alerts"),
        }
    }
    for (e, href) in [
        (&disposition_error, "#disposition".to_owned()),
        (&rule_error, "#rule".to_owned()),
        (&cursor_error, "#results".to_owned()),
    ] {
        if let Some(message) = e {
            summary.push(ErrorLink {
                href,
                message: message.clone(),
            });
        }
    }
    if let Some(e) = &error {
        let href = match e.field {
            Field::Promote => format!("#promote-{}", e.alert),
            Field::Incident => format!("#incident-{}", e.alert),
            Field::Reason => format!("#reason-{}", e.alert),
        };
        summary.push(ErrorLink {
            href,
            message: e.message.clone(),
        });
    }
    let status = if status == StatusCode::OK && !summary.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    let first = (!query.cursor.is_empty())
        .then(|| format!("/alerts{}", query_string(query.filter_pairs())));
    render(
        status,
        &AlertsPage {
            nav: Nav::new(s, "/alerts"),
            csrf: &s.csrf,
            query,
            back: query.back(),
            dispositions: Choice::list(DISPOSITIONS.iter().copied(), &query.disposition),
            disposition_error,
            rule_error,
            cursor_error,
            summary,
            rows,
            filtered: query
                .filter_pairs()
                .iter()
                .any(|(_, v)| !v.trim().is_empty()),
            next,
            first,
        },
    )
}

/// The checks of an alert's form: session, role (`api_path`), origin and
/// token, a readable alert id of an alert the caller sees.
async fn prepare(
    state: &AppState,
    session: Option<Extension<Session>>,
    headers: &HeaderMap,
    id: &str,
    form: Result<Form<AlertForm>, FormRejection>,
    api_path: &str,
) -> Result<(Session, AlertId, AlertForm), Response> {
    let form = form.ok().map(|Form(f)| f);
    let s = check_post(
        session.map(|Extension(s)| s),
        headers,
        Method::POST,
        api_path,
        form.as_ref().map(|f| f.csrf.as_str()),
    )
    .map_err(|r| *r)?;
    let Ok(alert) = id.parse::<AlertId>() else {
        return Err(pages::not_found_page());
    };
    match state.store.get_alert(&s.caller.viewer(), alert).await {
        Ok(_) => Ok((s, alert, form.unwrap_or_default())),
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => Err(pages::not_found_page()),
        Err(error) => Err(unavailable(&error, "get alert for a form")),
    }
}

/// The status and message of a refusal the page shows next to a field;
/// else the answer (404 page, 403 page, unavailable).
fn refusal(error: StoreError) -> Result<(StatusCode, String), Box<Response>> {
    match error {
        StoreError::NotFound(_) => Err(Box::new(pages::not_found_page())),
        StoreError::Forbidden(_) => Err(Box::new(forbidden_page(
            "Your role may not make this change.",
            true,
        ))),
        StoreError::Invalid(m) => Ok((StatusCode::UNPROCESSABLE_ENTITY, sentence(&m))),
        StoreError::Conflict(m) => Ok((StatusCode::CONFLICT, sentence(&m))),
        StoreError::Domain(e) => Ok((StatusCode::CONFLICT, sentence(&e.to_string()))),
        error => Err(Box::new(unavailable(&error, "change an alert"))),
    }
}

fn sentence(m: &str) -> String {
    let mut c = m.chars();
    let mut out: String = match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// `POST /alerts/{id}/promote`: opens an incident from the alert and goes
/// to it.
pub(crate) async fn promote_alert(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
    form: Result<Form<AlertForm>, FormRejection>,
) -> Response {
    let (s, alert, _form) = match prepare(&state, session, &headers, &id, form, PROMOTE_ROUTE).await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match state.store.promote_alert(&s.caller.viewer(), alert).await {
        Ok(incident) => see_other(&format!("/incidents/{}", incident.id)),
        Err(error) => match refusal(error) {
            Ok((status, message)) => {
                let e = RowError {
                    alert,
                    field: Field::Promote,
                    message,
                    typed: String::new(),
                };
                queue(&state, &s, &query, Some(e), status).await
            }
            Err(r) => *r,
        },
    }
}

/// `POST /alerts/{id}/attach`: links the alert to the incident whose id
/// is typed (as `POST /api/v1/incidents/{id}/links` with an `alert_id`).
pub(crate) async fn attach_alert(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
    form: Result<Form<AlertForm>, FormRejection>,
) -> Response {
    let (s, alert, form) = match prepare(&state, session, &headers, &id, form, LINK_ROUTE).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let typed = form.incident.trim().to_owned();
    let failed = match typed.parse::<IncidentId>() {
        Err(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give the id of the incident to attach this alert to, as shown under its title."
                .to_owned(),
        ),
        Ok(incident) => match state
            .store
            .link_alert(&s.caller.viewer(), incident, alert)
            .await
        {
            Ok(()) => return see_other(&format!("/alerts{}", query.back())),
            // The alert is visible (read above): not found is the
            // incident, missing or not visible alike.
            Err(StoreError::NotFound(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "There is no incident with this id that you can see.".to_owned(),
            ),
            Err(error) => match refusal(error) {
                Ok(failed) => failed,
                Err(r) => return *r,
            },
        },
    };
    let e = RowError {
        alert,
        field: Field::Incident,
        message: failed.1,
        typed,
    };
    queue(&state, &s, &query, Some(e), failed.0).await
}

/// `POST /alerts/{id}/dismiss`: dismisses the alert with a reason (needed).
pub(crate) async fn dismiss_alert(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
    form: Result<Form<AlertForm>, FormRejection>,
) -> Response {
    let (s, alert, form) = match prepare(&state, session, &headers, &id, form, DISMISS_ROUTE).await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let reason = form.reason.trim();
    let failed = if reason.is_empty() {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Say why this alert is dismissed.".to_owned(),
        )
    } else if reason.chars().count() > MAX_REASON {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("A reason has at most {MAX_REASON} characters."),
        )
    } else {
        match state
            .store
            .dismiss_alert(&s.caller.viewer(), alert, reason)
            .await
        {
            Ok(_) => return see_other(&format!("/alerts{}", query.back())),
            Err(error) => match refusal(error) {
                Ok(failed) => failed,
                Err(r) => return *r,
            },
        }
    };
    let e = RowError {
        alert,
        field: Field::Reason,
        message: failed.1,
        typed: form.reason.clone(),
    };
    queue(&state, &s, &query, Some(e), failed.0).await
}
