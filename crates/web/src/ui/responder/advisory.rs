//! `/incidents/{id}/advisory`: the public advisory of an incident, as
//! responders write it. The page shows the draft (or the published text)
//! and its status; the form writes the public fields
//! (`POST /incidents/{id}/advisory`, the API's
//! `POST /api/v1/incidents/{id}/advisory`), and a responder other than the
//! author sees the button that publishes it
//! (`POST /incidents/{id}/advisory/approve`, the API's
//! `POST /api/v1/advisories/{id}/approve`).
//!
//! The store decides what may be disclosed (closed, confirmed, not
//! sensitive) and who may approve; its refusals are shown on the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use incidents::{
    Advisory, AdvisoryField, AdvisoryStatus, AdvisoryText, Incident, IncidentId, Role, Status,
    StoreError,
};
use serde::Deserialize;

use super::{ErrorLink, Names, Stamp, check_post, unavailable};
use crate::state::AppState;
use crate::ui::pages::{self, forbidden_page, render, see_other};
use crate::ui::session::Session;
use crate::ui::{Nav, api_allows};

const LIST_ROUTE: &str = "/api/v1/advisories";
const SAVE_ROUTE: &str = "/api/v1/incidents/{id}/advisory";
const APPROVE_ROUTE: &str = "/api/v1/advisories/{id}/approve";

/// Whether the incident page links here: the incident may be disclosed
/// (closed, confirmed, not sensitive) and `role` handles advisories.
pub(crate) fn offered(i: &Incident, role: Role) -> bool {
    i.status == Status::Closed
        && i.resolution.is_some_and(|r| r.is_confirmed())
        && !i.sensitive
        && api_allows(role, Method::GET, LIST_ROUTE)
}

/// What the form sends.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AdvisoryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    impact: String,
    #[serde(default)]
    remediation: String,
}

/// Each field's problem, and one for the whole form.
#[derive(Debug, Default)]
struct Errors {
    form: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    impact: Option<String>,
    remediation: Option<String>,
}

impl Errors {
    fn links(&self) -> Vec<ErrorLink> {
        [
            ("#advisory-form", &self.form),
            ("#title", &self.title),
            ("#summary", &self.summary),
            ("#impact", &self.impact),
            ("#remediation", &self.remediation),
        ]
        .into_iter()
        .filter_map(|(href, m)| {
            m.as_ref().map(|message| ErrorLink {
                href: href.to_owned(),
                message: message.clone(),
            })
        })
        .collect()
    }
}

#[derive(Template)]
#[template(path = "advisory_edit.html")]
struct AdvisoryPage<'a> {
    nav: Nav,
    csrf: &'a str,
    incident_id: String,
    incident_title: String,
    advisory: Option<AdvisoryView>,
    form: &'a AdvisoryForm,
    errors: Errors,
    summary: Vec<ErrorLink>,
    can_edit: bool,
    can_approve: bool,
    approval_note: Option<&'static str>,
}

struct AdvisoryView {
    id: String,
    published: bool,
    author: String,
    approver: Option<String>,
    updated: Stamp,
    published_at: Option<Stamp>,
}

/// Renders the page for incident `id` as `s` sees it.
async fn page(
    state: &AppState,
    s: &Session,
    id: IncidentId,
    form: Option<AdvisoryForm>,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let viewer = s.caller.viewer();
    let incident = match state.store.get_incident(&viewer, id).await {
        Ok(d) => d.incident,
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => return pages::not_found_page(),
        Err(error) => return unavailable(&error, "get incident for its advisory"),
    };
    let advisory = match state.store.incident_advisory(&viewer, id).await {
        Ok(a) => a,
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => return pages::not_found_page(),
        Err(error) => return unavailable(&error, "get an incident's advisory"),
    };
    let role = s.caller.user.role;
    let names = Names::load(state.store.as_ref(), &viewer).await;
    let draft = advisory
        .as_ref()
        .is_some_and(|a| a.status == AdvisoryStatus::Draft);
    let own = advisory
        .as_ref()
        .is_some_and(|a| a.author == s.caller.user.id);
    let may_approve = api_allows(role, Method::POST, APPROVE_ROUTE);
    let form = form.unwrap_or_else(|| match &advisory {
        Some(a) => AdvisoryForm {
            csrf: String::new(),
            title: a.text.title.clone(),
            summary: a.text.summary.clone(),
            impact: a.text.impact.clone(),
            remediation: a.text.remediation.clone(),
        },
        None => AdvisoryForm::default(),
    });
    let view = advisory.as_ref().map(|a: &Advisory| AdvisoryView {
        id: a.id.to_string(),
        published: a.status == AdvisoryStatus::Published,
        author: names.of(a.author),
        approver: a.approver.map(|u| names.of(u)),
        updated: Stamp::of(a.updated_at),
        published_at: a.published_at.map(Stamp::of),
    });
    let summary = errors.links();
    render(
        status,
        &AdvisoryPage {
            nav: Nav::new(s, "/incidents"),
            csrf: &s.csrf,
            incident_id: id.to_string(),
            incident_title: incident.title,
            can_edit: advisory.is_none() || draft,
            can_approve: draft && !own && may_approve,
            approval_note: (draft && own)
                .then_some("You wrote the current text, so another responder must approve it."),
            advisory: view,
            form: &form,
            errors,
            summary,
        },
    )
}

/// `GET /incidents/{id}/advisory`.
pub(crate) async fn show_advisory(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    Path(id): Path<String>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !api_allows(s.caller.user.role, Method::GET, LIST_ROUTE) {
        return pages::not_found_page();
    }
    let Ok(id) = id.parse::<IncidentId>() else {
        return pages::not_found_page();
    };
    page(&state, &s, id, None, Errors::default(), StatusCode::OK).await
}

fn field_errors(text: &AdvisoryText) -> Errors {
    let mut e = Errors::default();
    for (field, message) in text.problems() {
        let slot = match field {
            AdvisoryField::Title => &mut e.title,
            AdvisoryField::Summary => &mut e.summary,
            AdvisoryField::Impact => &mut e.impact,
            AdvisoryField::Remediation => &mut e.remediation,
        };
        *slot = Some(format!("The {message}."));
    }
    e
}

/// `POST /incidents/{id}/advisory`: write the draft's text.
pub(crate) async fn save_advisory(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<AdvisoryForm>,
) -> Response {
    let s = match check_post(
        session.map(|Extension(s)| s),
        &headers,
        Method::POST,
        SAVE_ROUTE,
        Some(&form.csrf),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<IncidentId>() else {
        return pages::not_found_page();
    };
    let text = AdvisoryText {
        title: form.title.clone(),
        summary: form.summary.clone(),
        impact: form.impact.clone(),
        remediation: form.remediation.clone(),
    };
    let errors = field_errors(&text);
    if errors.links().is_empty() {
        match state
            .store
            .save_advisory(&s.caller.viewer(), id, text)
            .await
        {
            Ok(_) => return see_other(&format!("/incidents/{id}/advisory")),
            Err(StoreError::NotFound(_)) => return pages::not_found_page(),
            Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => {
                let errors = Errors {
                    form: Some(format!("Not saved: {m}.")),
                    ..Errors::default()
                };
                return page(&state, &s, id, Some(form), errors, StatusCode::CONFLICT).await;
            }
            Err(StoreError::Forbidden(m)) => return forbidden_page(m, true),
            Err(error) => return unavailable(&error, "save an advisory"),
        }
    }
    page(
        &state,
        &s,
        id,
        Some(form),
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// What the approve button sends.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApproveForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /incidents/{id}/advisory/approve`: publish the draft.
pub(crate) async fn approve_advisory(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ApproveForm>,
) -> Response {
    let s = match check_post(
        session.map(|Extension(s)| s),
        &headers,
        Method::POST,
        APPROVE_ROUTE,
        Some(&form.csrf),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<IncidentId>() else {
        return pages::not_found_page();
    };
    let viewer = s.caller.viewer();
    let advisory = match state.store.incident_advisory(&viewer, id).await {
        Ok(Some(a)) => a,
        Ok(None) | Err(StoreError::NotFound(_)) => return pages::not_found_page(),
        Err(StoreError::Forbidden(m)) => return forbidden_page(m, true),
        Err(error) => return unavailable(&error, "get an advisory to approve"),
    };
    match state.store.approve_advisory(&viewer, &advisory.id).await {
        Ok(_) => see_other(&format!("/incidents/{id}/advisory")),
        Err(StoreError::NotFound(_)) => pages::not_found_page(),
        Err(StoreError::Forbidden(m)) => forbidden_page(m, true),
        Err(StoreError::Conflict(m)) => {
            let errors = Errors {
                form: Some(format!("Not published: {m}.")),
                ..Errors::default()
            };
            page(&state, &s, id, None, errors, StatusCode::CONFLICT).await
        }
        Err(error) => unavailable(&error, "approve an advisory"),
    }
}
