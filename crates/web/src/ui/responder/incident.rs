//! `GET /incidents/{id}`: one incident, its timeline as the spine, and
//! beside it the linked alerts (with their evidence) and reports, notes,
//! tasks, impact and participants; and the forms that change it, each
//! shown only to a role that may call its API route, each a POST under
//! `/incidents/{id}/`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use incidents::{
    Impact, ImpactLevel, Incident, IncidentDetail, IncidentId, NewTask, Resolution, Status,
    StoreError, TaskId, TaskPatch, UserId,
};
use serde::Deserialize;

use super::{
    Choice, ErrorLink, Names, SeverityView, Stamp, category_label, evidence, level, severity,
    status_label, unavailable,
};
use crate::state::AppState;
use crate::ui::pages::{self, forbidden_page, render, see_other};
use crate::ui::session::Session;
use crate::ui::{Nav, api_allows};

/// The longest note, impact summary (the store's limit), in characters.
const MAX_TEXT: usize = 20_000;
/// The longest task title.
const MAX_TASK_TITLE: usize = 500;
/// The longest user name typed in a form.
const MAX_NAME: usize = 200;
/// The most entries of each "affected" list, and the longest entry.
const MAX_ENTRIES: usize = 100;
const MAX_ENTRY_CHARS: usize = 500;

/// What any of the incident page's forms sends; each form fills its own
/// fields. Kept whole to show the typed values again after an error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    participant: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    task_owner: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    confidentiality: String,
    #[serde(default)]
    integrity: String,
    #[serde(default)]
    availability: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    affected_assets: String,
    #[serde(default)]
    affected_users: String,
    #[serde(default)]
    affected_data: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    into: String,
}

/// Field errors of the incident page's forms.
#[derive(Debug, Default)]
struct Errors {
    status: Option<String>,
    owner: Option<String>,
    participant: Option<String>,
    body: Option<String>,
    title: Option<String>,
    task_owner: Option<String>,
    tasks: Option<String>,
    confidentiality: Option<String>,
    integrity: Option<String>,
    availability: Option<String>,
    summary: Option<String>,
    affected_assets: Option<String>,
    affected_users: Option<String>,
    affected_data: Option<String>,
    resolution: Option<String>,
    into: Option<String>,
}

impl Errors {
    /// The error summary: each message linking to its field.
    fn summary(&self) -> Vec<ErrorLink> {
        [
            (&self.status, "#status-moves"),
            (&self.owner, "#owner"),
            (&self.participant, "#participant"),
            (&self.body, "#note-body"),
            (&self.title, "#task-title"),
            (&self.task_owner, "#task-owner"),
            (&self.tasks, "#tasks"),
            (&self.confidentiality, "#confidentiality"),
            (&self.integrity, "#integrity"),
            (&self.availability, "#availability"),
            (&self.summary, "#impact-summary"),
            (&self.affected_assets, "#affected-assets"),
            (&self.affected_users, "#affected-users"),
            (&self.affected_data, "#affected-data"),
            (&self.resolution, "#resolution"),
            (&self.into, "#merge-into"),
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

/// The incident's header.
struct Header {
    id: String,
    title: String,
    description: String,
    severity: SeverityView,
    status: &'static str,
    category: &'static str,
    owner: Option<String>,
    sensitive: bool,
    reported: Stamp,
    acknowledged: Option<Stamp>,
    closed: Option<Stamp>,
    resolution: Option<&'static str>,
    merged_into: Option<String>,
    alert_count: i64,
}

/// One SLA clock of the incident (staff only).
struct ClockView {
    /// The clock, in words.
    name: &'static str,
    /// Its target, as configured.
    target: String,
    /// Its deadline.
    due: Stamp,
    /// Its state in words: time left, overdue by, met or missed.
    state: String,
    /// Running past its deadline.
    overdue: bool,
}

impl ClockView {
    fn of(c: &incidents::ClockStatus, now: time::OffsetDateTime) -> ClockView {
        use incidents::{ClockState, SlaClock};
        let state = match c.state {
            ClockState::Running => format!("running, {} left", span(c.due - now)),
            ClockState::Breached => format!("overdue by {}", span(now - c.due)),
            ClockState::Met => "met".to_owned(),
            ClockState::Missed => match c.stopped_at {
                Some(at) => format!("missed by {}", span(at - c.due)),
                None => "missed".to_owned(),
            },
        };
        ClockView {
            name: match c.clock {
                SlaClock::Acknowledge => "Acknowledge",
                SlaClock::Triage => "Triage (to containment)",
                SlaClock::Resolve => "Resolve",
            },
            target: c.target.to_string(),
            due: Stamp::of(c.due),
            state,
            overdue: c.state == ClockState::Breached,
        }
    }
}

/// A length of time in words: days, hours and minutes (`2 d 3 h`,
/// `1 h 5 min`, `12 min`), or `under a minute`.
fn span(d: time::Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "under a minute".to_owned(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A line of the timeline.
struct Line {
    at: Stamp,
    actor: String,
    kind: String,
    message: String,
}

/// A linked alert and its evidence.
pub(super) struct AlertView {
    pub id: String,
    pub rule_title: String,
    pub rule_id: String,
    pub level: SeverityView,
    pub detected: Stamp,
    pub entities: String,
    pub disposition: &'static str,
    /// Evidence events as indented JSON (shown as text).
    pub evidence: Vec<String>,
    /// Evidence events not shown (the page's budget ran out).
    pub evidence_left: usize,
}

impl AlertView {
    pub(super) fn of(a: incidents::Alert, budget: &mut usize) -> AlertView {
        let (evidence, evidence_left) = evidence(&a.evidence, budget);
        AlertView {
            id: a.id.to_string(),
            rule_title: a.rule_title,
            rule_id: a.rule_id,
            level: level(a.level),
            detected: Stamp::of(a.detected_at),
            entities: a
                .entities
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            disposition: a.disposition.as_str(),
            evidence,
            evidence_left,
        }
    }
}

/// A linked report.
struct ReportView {
    id: String,
    filed: Stamp,
    channel: &'static str,
    category: &'static str,
    sensitive: bool,
    reporter: String,
    location: Option<String>,
    description: String,
}

struct NoteView {
    author: String,
    at: Stamp,
    body: String,
}

struct TaskView {
    id: String,
    title: String,
    owner: Option<String>,
    due: Option<Stamp>,
    done: bool,
}

struct ImpactView {
    confidentiality: &'static str,
    integrity: &'static str,
    availability: &'static str,
    summary: String,
    assets: Vec<String>,
    users: Vec<String>,
    data: Vec<String>,
}

/// Which forms the caller's role may send (by the API route each mirrors)
/// and the incident's state allows.
struct Can {
    status: bool,
    assign: bool,
    note: bool,
    task: bool,
    task_update: bool,
    impact: bool,
    close: bool,
    merge: bool,
    /// Link to the public advisory page (closed, confirmed, not sensitive,
    /// and a role that handles advisories).
    advisory: bool,
}

impl Can {
    fn any(&self) -> bool {
        self.status
            || self.assign
            || self.note
            || self.task
            || self.impact
            || self.close
            || self.merge
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage<'a> {
    nav: Nav,
    csrf: &'a str,
    head: Header,
    /// The SLA clocks (empty for those who are not staff).
    clocks: Vec<ClockView>,
    timeline: Vec<Line>,
    alerts: Vec<AlertView>,
    reports: Vec<ReportView>,
    notes: Vec<NoteView>,
    tasks: Vec<TaskView>,
    impact: Option<ImpactView>,
    participants: Vec<String>,
    can: Can,
    /// The status moves legal now (closing has its own form).
    moves: Vec<Choice>,
    levels_c: Vec<Choice>,
    levels_i: Vec<Choice>,
    levels_a: Vec<Choice>,
    resolutions: Vec<Choice>,
    form: &'a ActionForm,
    errors: Errors,
    summary: Vec<ErrorLink>,
}

/// Which form was sent (its fields are shown as typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Posted {
    Impact,
    Other,
}

fn level_label(l: ImpactLevel) -> &'static str {
    match l {
        ImpactLevel::None => "None",
        ImpactLevel::Low => "Low",
        ImpactLevel::Medium => "Medium",
        ImpactLevel::High => "High",
    }
}

fn resolution_label(r: Resolution) -> &'static str {
    match r {
        Resolution::TruePositiveImpact => "A real incident, with impact",
        Resolution::TruePositiveNoImpact => "A real incident, without impact",
        Resolution::FalsePositive => "Not an incident (false positive)",
        Resolution::Duplicate => "A duplicate of another incident",
        Resolution::NotApplicable => "Not applicable",
    }
}

/// The API route of each form, for [`api_allows`].
const STATUS_ROUTE: &str = "/api/v1/incidents/{id}/status";
const ASSIGN_ROUTE: &str = "/api/v1/incidents/{id}/assign";
const NOTES_ROUTE: &str = "/api/v1/incidents/{id}/notes";
const TASKS_ROUTE: &str = "/api/v1/incidents/{id}/tasks";
const TASK_ROUTE: &str = "/api/v1/incidents/{id}/tasks/{task_id}";
const IMPACT_ROUTE: &str = "/api/v1/incidents/{id}/impact";
const CLOSE_ROUTE: &str = "/api/v1/incidents/{id}/close";
const MERGE_ROUTE: &str = "/api/v1/incidents/{id}/merge";

/// Renders the incident page for `detail` as `s` sees it.
async fn page(
    state: &AppState,
    s: &Session,
    detail: IncidentDetail,
    mut form: ActionForm,
    posted: Posted,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let viewer = s.caller.viewer();
    let names = Names::load(state.store.as_ref(), &viewer).await;
    let role = s.caller.user.role;
    let i: Incident = detail.incident;
    let open = i.status.is_open();
    let can = Can {
        status: open && api_allows(role, Method::POST, STATUS_ROUTE),
        assign: open && api_allows(role, Method::POST, ASSIGN_ROUTE),
        note: api_allows(role, Method::POST, NOTES_ROUTE),
        task: open && api_allows(role, Method::POST, TASKS_ROUTE),
        task_update: open && api_allows(role, Method::PATCH, TASK_ROUTE),
        impact: open && api_allows(role, Method::PUT, IMPACT_ROUTE),
        close: open
            && Incident::can_move(i.status, Status::Closed)
            && api_allows(role, Method::POST, CLOSE_ROUTE),
        merge: open && api_allows(role, Method::POST, MERGE_ROUTE),
        advisory: super::advisory::offered(&i, role),
    };
    // The impact form shows the assessment on record, unless it was the
    // form sent.
    if posted != Posted::Impact {
        if let Some(impact) = &i.impact {
            form.confidentiality = impact.confidentiality.as_str().to_owned();
            form.integrity = impact.integrity.as_str().to_owned();
            form.availability = impact.availability.as_str().to_owned();
            form.summary = impact.summary.clone();
            form.affected_assets = impact.affected_assets.join("\n");
            form.affected_users = impact.affected_users.join("\n");
            form.affected_data = impact.affected_data.join("\n");
        } else {
            form.confidentiality.clear();
            form.integrity.clear();
            form.availability.clear();
        }
    }
    let levels = |chosen: &str| {
        Choice::list(
            ImpactLevel::ALL
                .iter()
                .map(|l| (l.as_str(), level_label(*l))),
            chosen,
        )
    };
    let moves = Choice::list(
        Incident::next_statuses(i.status)
            .into_iter()
            .filter(|s| *s != Status::Closed)
            .map(|s| (s.as_str(), status_label(s))),
        "",
    );
    let now = time::OffsetDateTime::now_utc();
    let clocks = match crate::sla::evaluate(
        state.store.as_ref(),
        &state.sla,
        &viewer,
        std::slice::from_ref(&i),
        now,
    )
    .await
    {
        Ok(slas) => slas
            .and_then(|s| s.into_iter().next())
            .map(|sla| sla.clocks.iter().map(|c| ClockView::of(c, now)).collect())
            .unwrap_or_default(),
        Err(error) => return super::unavailable(&error, "SLA clocks"),
    };
    let mut budget = super::EVIDENCE_BUDGET;
    let head = Header {
        id: i.id.to_string(),
        title: i.title,
        description: i.description,
        severity: severity(i.severity),
        status: status_label(i.status),
        category: category_label(i.category),
        owner: i.owner.map(|o| names.of(o)),
        sensitive: i.sensitive,
        reported: Stamp::of(i.times.reported_at),
        acknowledged: i.times.acknowledged_at.map(Stamp::of),
        closed: i.times.closed_at.map(Stamp::of),
        resolution: i.resolution.map(resolution_label),
        merged_into: i.merged_into.map(|m| m.to_string()),
        alert_count: i.alert_count,
    };
    let impact = i.impact.map(|m| ImpactView {
        confidentiality: level_label(m.confidentiality),
        integrity: level_label(m.integrity),
        availability: level_label(m.availability),
        summary: m.summary,
        assets: m.affected_assets,
        users: m.affected_users,
        data: m.affected_data,
    });
    let summary = errors.summary();
    render(
        status,
        &IncidentPage {
            nav: Nav::new(s, "/incidents"),
            csrf: &s.csrf,
            head,
            clocks,
            timeline: detail
                .timeline
                .into_iter()
                .map(|t| Line {
                    at: Stamp::of(t.at),
                    actor: names.of(t.actor),
                    kind: t.kind,
                    message: t.message,
                })
                .collect(),
            alerts: detail
                .alerts
                .into_iter()
                .map(|a| AlertView::of(a, &mut budget))
                .collect(),
            reports: detail
                .reports
                .into_iter()
                .map(|r| ReportView {
                    id: r.id.to_string(),
                    filed: Stamp::of(r.created_at),
                    channel: r.channel.as_str(),
                    category: category_label(r.category),
                    sensitive: r.sensitive,
                    reporter: r
                        .reporter
                        .map_or_else(|| "anonymous".to_owned(), |u| names.of(u)),
                    location: r.location,
                    description: r.description,
                })
                .collect(),
            notes: detail
                .notes
                .into_iter()
                .map(|n| NoteView {
                    author: names.of(n.author),
                    at: Stamp::of(n.created_at),
                    body: n.body,
                })
                .collect(),
            tasks: detail
                .tasks
                .into_iter()
                .map(|t| TaskView {
                    id: t.id.to_string(),
                    title: t.title,
                    owner: t.owner.map(|o| names.of(o)),
                    due: t.due_at.map(Stamp::of),
                    done: t.done,
                })
                .collect(),
            impact,
            participants: detail.participants.iter().map(|p| names.of(*p)).collect(),
            can,
            moves,
            levels_c: levels(&form.confidentiality),
            levels_i: levels(&form.integrity),
            levels_a: levels(&form.availability),
            resolutions: Choice::list(
                Resolution::ALL
                    .iter()
                    .map(|r| (r.as_str(), resolution_label(*r))),
                &form.resolution,
            ),
            form: &form,
            errors,
            summary,
        },
    )
}

/// `GET /incidents/{id}`.
pub(crate) async fn show_incident(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    Path(id): Path<String>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !api_allows(s.caller.user.role, Method::GET, "/api/v1/incidents/{id}") {
        return pages::not_found_page();
    }
    let Ok(id) = id.parse::<IncidentId>() else {
        return pages::not_found_page();
    };
    match state.store.get_incident(&s.caller.viewer(), id).await {
        Ok(detail) => {
            page(
                &state,
                &s,
                detail,
                ActionForm::default(),
                Posted::Other,
                Errors::default(),
                StatusCode::OK,
            )
            .await
        }
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => pages::not_found_page(),
        Err(error) => unavailable(&error, "get incident"),
    }
}

/// What every incident form handler starts from: the checked session, the
/// incident as the caller sees it (else the 404 page), and the form.
struct Prepared {
    s: Session,
    detail: IncidentDetail,
    form: ActionForm,
}

async fn prepare(
    state: &AppState,
    session: Option<Extension<Session>>,
    headers: &HeaderMap,
    id: &str,
    form: Result<Form<ActionForm>, FormRejection>,
    method: Method,
    api_path: &str,
) -> Result<Prepared, Response> {
    let form = form.ok().map(|Form(f)| f);
    let s = super::check_post(
        session.map(|Extension(s)| s),
        headers,
        method,
        api_path,
        form.as_ref().map(|f| f.csrf.as_str()),
    )
    .map_err(|r| *r)?;
    let form = form.unwrap_or_default();
    let Ok(id) = id.parse::<IncidentId>() else {
        return Err(pages::not_found_page());
    };
    match state.store.get_incident(&s.caller.viewer(), id).await {
        Ok(detail) => Ok(Prepared { s, detail, form }),
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => Err(pages::not_found_page()),
        Err(error) => Err(unavailable(&error, "get incident for a form")),
    }
}

impl Prepared {
    fn back(&self) -> Response {
        see_other(&format!("/incidents/{}", self.detail.incident.id))
    }

    /// The page again with `errors` (nothing was changed).
    async fn again(
        self,
        state: &AppState,
        posted: Posted,
        errors: Errors,
        status: StatusCode,
    ) -> Response {
        page(
            state,
            &self.s,
            self.detail,
            self.form,
            posted,
            errors,
            status,
        )
        .await
    }

    /// The page again after the store refused the change, the message
    /// put where `field` says; the 404 page when the store no longer
    /// shows the incident, the 403 page when the role may not.
    async fn refused(
        self,
        state: &AppState,
        posted: Posted,
        error: StoreError,
        field: impl FnOnce(&mut Errors, String),
    ) -> Response {
        let (status, message) = match error {
            StoreError::NotFound(_) => return pages::not_found_page(),
            StoreError::Forbidden(_) => {
                return forbidden_page("Your role may not make this change.", true);
            }
            StoreError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, capitalise(&m)),
            StoreError::Domain(e) => (StatusCode::CONFLICT, domain_message(&e)),
            StoreError::Conflict(m) => (StatusCode::CONFLICT, capitalise(&m)),
            error => return unavailable(&error, "change an incident"),
        };
        let mut errors = Errors::default();
        field(&mut errors, message);
        self.again(state, posted, errors, status).await
    }

    fn viewer(&self) -> incidents::Viewer {
        self.s.caller.viewer()
    }

    fn id(&self) -> IncidentId {
        self.detail.incident.id
    }
}

/// A store message as a sentence.
fn capitalise(m: &str) -> String {
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

/// A lifecycle refusal in plain words.
fn domain_message(e: &incidents::DomainError) -> String {
    use incidents::DomainError as D;
    match e {
        D::IllegalTransition { from, to } => format!(
            "An incident in {} cannot move to {}: the page may be out of date.",
            status_label(*from),
            status_label(*to)
        ),
        D::CloseRequiresImpact => "Assess the impact before closing.".to_owned(),
        D::CloseRequiresResolution => "Choose a resolution before closing.".to_owned(),
        D::Terminal(s) => format!(
            "The incident is {} and can no longer change.",
            status_label(*s).to_lowercase()
        ),
        other => capitalise(&other.to_string()),
    }
}

/// Looks up a user by the name typed in a form: `Ok(None)` for an empty
/// name, `Err(message)` for one the viewer cannot find.
async fn user_by_name(
    state: &AppState,
    viewer: &incidents::Viewer,
    typed: &str,
) -> Result<Result<Option<UserId>, String>, Response> {
    let name = typed.trim();
    if name.is_empty() {
        return Ok(Ok(None));
    }
    if name.chars().count() > MAX_NAME {
        return Ok(Err(format!(
            "A user name has at most {MAX_NAME} characters."
        )));
    }
    match state.store.get_user_by_name(viewer, name).await {
        Ok(user) => Ok(Ok(Some(user.id))),
        Err(StoreError::NotFound(_)) => Ok(Err(format!("There is no user called {name}."))),
        Err(error) => Err(unavailable(&error, "find a user by name")),
    }
}

/// `POST /incidents/{id}/status` (`POST /api/v1/incidents/{id}/status`).
pub(crate) async fn change_status(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        STATUS_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let legal = Incident::next_statuses(p.detail.incident.status);
    let to = p
        .form
        .status
        .parse::<Status>()
        .ok()
        .filter(|to| *to != Status::Closed && legal.contains(to));
    let Some(to) = to else {
        let errors = Errors {
            status: Some("Choose one of the moves offered.".to_owned()),
            ..Errors::default()
        };
        return p
            .again(
                &state,
                Posted::Other,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
    };
    match state
        .store
        .transition_incident(&p.viewer(), p.id(), to, None)
        .await
    {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.status = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/assign` (`POST /api/v1/incidents/{id}/assign`):
/// sets the owner by user name, or clears it when empty.
pub(crate) async fn assign_incident(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        ASSIGN_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let owner = match user_by_name(&state, &p.viewer(), &p.form.owner).await {
        Ok(Ok(owner)) => owner,
        Ok(Err(message)) => {
            let errors = Errors {
                owner: Some(message),
                ..Errors::default()
            };
            return p
                .again(
                    &state,
                    Posted::Other,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
        }
        Err(r) => return r,
    };
    match state
        .store
        .assign_incident(&p.viewer(), p.id(), owner)
        .await
    {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.owner = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/participants` (`POST /api/v1/incidents/{id}/assign`
/// with `participants`): names one more participant by user name, who may
/// then see the incident.
pub(crate) async fn add_participant(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        ASSIGN_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let user = match user_by_name(&state, &p.viewer(), &p.form.participant).await {
        Ok(Ok(Some(user))) => user,
        Ok(result) => {
            let message = result
                .err()
                .unwrap_or_else(|| "Give the user name of the person to add.".to_owned());
            let errors = Errors {
                participant: Some(message),
                ..Errors::default()
            };
            return p
                .again(
                    &state,
                    Posted::Other,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
        }
        Err(r) => return r,
    };
    match state.store.add_participant(&p.viewer(), p.id(), user).await {
        Ok(()) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.participant = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/notes` (`POST /api/v1/incidents/{id}/notes`).
pub(crate) async fn add_note(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        NOTES_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let body = p.form.body.trim();
    let problem = if body.is_empty() {
        Some("Write the note first.".to_owned())
    } else if body.chars().count() > MAX_TEXT {
        Some(format!(
            "A note has at most {MAX_TEXT} characters (this one has {}).",
            body.chars().count()
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        let errors = Errors {
            body: Some(message),
            ..Errors::default()
        };
        return p
            .again(
                &state,
                Posted::Other,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
    }
    let body = body.to_owned();
    match state.store.add_note(&p.viewer(), p.id(), &body).await {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.body = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/tasks` (`POST /api/v1/incidents/{id}/tasks`).
pub(crate) async fn add_task(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        TASKS_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut errors = Errors::default();
    let title = p.form.title.trim().to_owned();
    if title.is_empty() {
        errors.title = Some("Say what needs doing.".to_owned());
    } else if title.chars().count() > MAX_TASK_TITLE {
        errors.title = Some(format!("A task has at most {MAX_TASK_TITLE} characters."));
    }
    let owner = match user_by_name(&state, &p.viewer(), &p.form.task_owner).await {
        Ok(Ok(owner)) => owner,
        Ok(Err(message)) => {
            errors.task_owner = Some(message);
            None
        }
        Err(r) => return r,
    };
    if !errors.summary().is_empty() {
        return p
            .again(
                &state,
                Posted::Other,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
    }
    let new = NewTask {
        title,
        owner,
        due_at: None,
    };
    match state.store.add_task(&p.viewer(), p.id(), new).await {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.title = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/tasks/{task_id}` (`PATCH
/// /api/v1/incidents/{id}/tasks/{task_id}`): marks a task done or not.
pub(crate) async fn update_task(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path((id, task_id)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::PATCH,
        TASK_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    // The task must be one of this (visible) incident's.
    let Some(task) = task_id
        .parse::<TaskId>()
        .ok()
        .filter(|t| p.detail.tasks.iter().any(|task| task.id == *t))
    else {
        return pages::not_found_page();
    };
    let done = match p.form.done.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            let errors = Errors {
                tasks: Some("Use the task's own button to mark it done.".to_owned()),
                ..Errors::default()
            };
            return p
                .again(
                    &state,
                    Posted::Other,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
        }
    };
    let patch = TaskPatch {
        done: Some(done),
        ..TaskPatch::default()
    };
    match state.store.update_task(&p.viewer(), task, patch).await {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.tasks = Some(m))
                .await
        }
    }
}

/// The lines of a textarea, trimmed, empty ones left out.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks one "affected" list.
fn check_list(list: &[String], what: &str) -> Option<String> {
    if list.len() > MAX_ENTRIES {
        Some(format!("List at most {MAX_ENTRIES} {what}, one a line."))
    } else if list.iter().any(|l| l.chars().count() > MAX_ENTRY_CHARS) {
        Some(format!(
            "Each of the {what} has at most {MAX_ENTRY_CHARS} characters."
        ))
    } else {
        None
    }
}

/// `POST /incidents/{id}/impact` (`PUT /api/v1/incidents/{id}/impact`).
pub(crate) async fn set_impact(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::PUT,
        IMPACT_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut errors = Errors::default();
    let level = |raw: &str, slot: &mut Option<String>, what: &str| {
        raw.parse::<ImpactLevel>().ok().or_else(|| {
            *slot = Some(format!("Choose the impact on {what}."));
            None
        })
    };
    let c = level(
        &p.form.confidentiality,
        &mut errors.confidentiality,
        "confidentiality",
    );
    let i = level(&p.form.integrity, &mut errors.integrity, "integrity");
    let a = level(
        &p.form.availability,
        &mut errors.availability,
        "availability",
    );
    let summary = p.form.summary.trim().to_owned();
    if summary.chars().count() > MAX_TEXT {
        errors.summary = Some(format!("A summary has at most {MAX_TEXT} characters."));
    }
    let assets = lines(&p.form.affected_assets);
    let users = lines(&p.form.affected_users);
    let data = lines(&p.form.affected_data);
    errors.affected_assets = check_list(&assets, "assets");
    errors.affected_users = check_list(&users, "users");
    errors.affected_data = check_list(&data, "kinds of data");
    let (Some(c), Some(i), Some(a)) = (c, i, a) else {
        return p
            .again(
                &state,
                Posted::Impact,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
    };
    if !errors.summary().is_empty() {
        return p
            .again(
                &state,
                Posted::Impact,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
    }
    let impact = Impact {
        confidentiality: c,
        integrity: i,
        availability: a,
        affected_assets: assets,
        affected_users: users,
        affected_data: data,
        summary,
    };
    match state.store.set_impact(&p.viewer(), p.id(), impact).await {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Impact, e, |er, m| er.summary = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/close` (`POST /api/v1/incidents/{id}/close`):
/// closes with a resolution; the impact must be assessed first.
pub(crate) async fn close_incident(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        CLOSE_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let resolution = p.form.resolution.parse::<Resolution>();
    let problem = match resolution {
        Err(_) => Some("Choose how the incident ended."),
        Ok(_) if p.detail.incident.impact.is_none() => {
            Some("Assess the impact (below) before closing.")
        }
        Ok(_) => None,
    };
    let (Ok(resolution), None) = (resolution, problem) else {
        let errors = Errors {
            resolution: problem.map(str::to_owned),
            ..Errors::default()
        };
        return p
            .again(
                &state,
                Posted::Other,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
    };
    match state
        .store
        .close_incident(&p.viewer(), p.id(), resolution, None, None)
        .await
    {
        Ok(_) => p.back(),
        Err(e) => {
            p.refused(&state, Posted::Other, e, |er, m| er.resolution = Some(m))
                .await
        }
    }
}

/// `POST /incidents/{id}/merge` (`POST /api/v1/incidents/{id}/merge`):
/// merges this incident into the one named by id.
pub(crate) async fn merge_incident(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = match prepare(
        &state,
        session,
        &headers,
        &id,
        form,
        Method::POST,
        MERGE_ROUTE,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let target = match p.form.into.trim().parse::<IncidentId>() {
        Ok(t) if t == p.id() => Err("An incident cannot be merged into itself."),
        Ok(t) => Ok(t),
        Err(_) => Err("Give the id of the incident to merge into, as shown under its title."),
    };
    let message = match target {
        Err(message) => message.to_owned(),
        Ok(target) => match state
            .store
            .merge_incidents(&p.viewer(), p.id(), target)
            .await
        {
            Ok(_) => return p.back(),
            // The source is visible (read above): not found is the target,
            // missing or not visible alike.
            Err(StoreError::NotFound(_)) => {
                "There is no incident with this id that you can see.".to_owned()
            }
            Err(e) => {
                return p
                    .refused(&state, Posted::Other, e, |er, m| er.into = Some(m))
                    .await;
            }
        },
    };
    let errors = Errors {
        into: Some(message),
        ..Errors::default()
    };
    p.again(
        &state,
        Posted::Other,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}
