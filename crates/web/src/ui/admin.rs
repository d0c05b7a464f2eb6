//! The users-and-roles page (`/admin/users`) and its forms: the users with
//! their role, status and creation time; adding a user (optionally with a
//! first password); disabling one; changing a role that needs no approval;
//! and the two-person grants of the need-to-know roles (`responder`,
//! `finance-ops`): asking for one, approving and rejecting.
//!
//! The page mirrors the users API ([`crate::handlers::users`]). Each part
//! is shown to the roles of the API route it mirrors, asked of
//! [`super::api_allows`]: the users table and its forms to the roles of
//! `GET /api/v1/users` (admins), the role requests to those of
//! `GET /api/v1/role-grants` (admins and responders, since only a
//! responder may approve). A role that may call neither gets the 404 page.
//! Each POST asks about its own route (`POST /api/v1/users`,
//! `POST /api/v1/users/{name}/disable`, `PUT /api/v1/users/{name}/role`,
//! `POST /api/v1/role-grants`, `POST /api/v1/role-grants/{id}/approve`,
//! `POST /api/v1/role-grants/{id}/reject`) and is refused (403, nothing
//! changed) for any other role, without the session's CSRF token, or from
//! another site ([`super::responder::check_post`]).
//!
//! Every change is made by the store call its API handler makes, as the
//! session's viewer, so the store decides (who may approve, which roles
//! need a grant) and the audit log records it the same way. The store's
//! refusals are shown on the page in words, next to the form that was
//! sent; a good form is answered with 303 back to the page, which then
//! says what was done.
//!
//! Two differences from the API, both about secrets a page cannot show
//! after a redirect: adding a user makes no API token (the API's answer
//! carries one; here the user gets a password, or none), and approving a
//! grant stores a new token for the user that nobody is shown (the store
//! revokes the user's old tokens either way; the user issues a new one for
//! themselves).

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use incidents::enums::{GrantStatus, Role};
use incidents::{NewUser, RoleGrantId, StoreError, TokenHash, User, UserId};
use serde::Deserialize;

use super::pages::{self, forbidden_page, render, see_other};
use super::responder::{Choice, ErrorLink, Stamp, check_post};
use super::session::Session;
use super::{Nav, api_allows};
use crate::state::AppState;

/// The page.
const PAGE: &str = "/admin/users";

/// The API routes the page and its forms mirror, for [`api_allows`].
const USERS_ROUTE: &str = "/api/v1/users";
const DISABLE_ROUTE: &str = "/api/v1/users/{name}/disable";
const ROLE_ROUTE: &str = "/api/v1/users/{name}/role";
const GRANTS_ROUTE: &str = "/api/v1/role-grants";
const APPROVE_ROUTE: &str = "/api/v1/role-grants/{id}/approve";
const REJECT_ROUTE: &str = "/api/v1/role-grants/{id}/reject";

/// The longest user name typed in a form (the store allows 64).
const MAX_NAME: usize = 200;
/// The most decided grants listed under the pending ones.
const DECIDED_SHOWN: usize = 20;

/// This module's page routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show_users).post(add_user))
        .route(
            "/admin/users/disable",
            get(confirm_disable).post(disable_user),
        )
        .route("/admin/users/role", post(change_role))
        .route("/admin/users/grants", post(request_grant))
        .route("/admin/users/grants/{id}/approve", post(approve_grant))
        .route("/admin/users/grants/{id}/reject", post(reject_grant))
}

/// What any of the page's forms sends; each form fills its own fields.
/// Kept whole to show what was typed again after an error (never the
/// password).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AdminForm {
    #[serde(default)]
    csrf: String,
    /// Add a user: the name, role and optional first password.
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    /// Disable or change the role of: the user's name.
    #[serde(default)]
    user: String,
    /// Change a role: the new one.
    #[serde(default)]
    new_role: String,
    /// Ask for a need-to-know role: whose, and which.
    #[serde(default)]
    grant_user: String,
    #[serde(default)]
    grant_role: String,
}

/// Field errors of the page's forms.
#[derive(Debug, Default)]
struct Errors {
    name: Option<String>,
    role: Option<String>,
    password: Option<String>,
    /// A role change refused: (whose, why).
    new_role: Option<(String, String)>,
    /// A user who may not be disabled.
    users: Option<String>,
    grant_user: Option<String>,
    grant_role: Option<String>,
    /// An approval or rejection refused.
    grants: Option<String>,
}

impl Errors {
    /// The error summary: each message linking to its field.
    fn summary(&self) -> Vec<ErrorLink> {
        let role_change = self
            .new_role
            .as_ref()
            .map(|(user, message)| (Some(message.clone()), format!("#role-of-{user}")));
        [
            (self.name.clone(), "#name".to_owned()),
            (self.role.clone(), "#role".to_owned()),
            (self.password.clone(), "#password".to_owned()),
            (self.users.clone(), "#users".to_owned()),
            (self.grant_user.clone(), "#grant-user".to_owned()),
            (self.grant_role.clone(), "#grant-role".to_owned()),
            (self.grants.clone(), "#pending".to_owned()),
        ]
        .into_iter()
        .chain(role_change)
        .filter_map(|(message, href)| message.map(|message| ErrorLink { href, message }))
        .collect()
    }
}

/// Which parts of the page the caller's role may use, by the API route
/// each mirrors.
struct Can {
    users: bool,
    add: bool,
    disable: bool,
    role: bool,
    grants: bool,
    request: bool,
    approve: bool,
    reject: bool,
}

impl Can {
    fn of(role: Role) -> Can {
        Can {
            users: api_allows(role, Method::GET, USERS_ROUTE),
            add: api_allows(role, Method::POST, USERS_ROUTE),
            disable: api_allows(role, Method::POST, DISABLE_ROUTE),
            role: api_allows(role, Method::PUT, ROLE_ROUTE),
            grants: api_allows(role, Method::GET, GRANTS_ROUTE),
            request: api_allows(role, Method::POST, GRANTS_ROUTE),
            approve: api_allows(role, Method::POST, APPROVE_ROUTE),
            reject: api_allows(role, Method::POST, REJECT_ROUTE),
        }
    }

    /// Whether the page is anything to this role.
    fn page(&self) -> bool {
        self.users || self.grants
    }
}

/// A row of the users table.
struct UserRow {
    name: String,
    role: &'static str,
    disabled: bool,
    created: Stamp,
    is_me: bool,
    /// The roles it may be changed to directly (not its own).
    roles: Vec<Choice>,
    /// The role change of this user was refused: why.
    error: Option<String>,
    /// The confirmation page of disabling.
    disable_href: String,
}

/// A pending role request.
struct PendingRow {
    id: String,
    user: String,
    role: &'static str,
    requested_by: String,
    requested: Stamp,
    /// An Approve button: the route table lets the role approve, and the
    /// caller is neither the asker nor the user (the store's rule).
    approve: bool,
    /// Why the caller may not approve it, when the role may approve others.
    why_not: Option<&'static str>,
}

/// A decided role request.
struct DecidedRow {
    user: String,
    role: &'static str,
    outcome: &'static str,
    requested_by: String,
    decided_by: String,
    decided: Option<Stamp>,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    nav: Nav,
    csrf: &'a str,
    can: Can,
    users: Vec<UserRow>,
    pending: Vec<PendingRow>,
    decided: Vec<DecidedRow>,
    form: &'a AdminForm,
    add_roles: Vec<Choice>,
    grant_roles: Vec<Choice>,
    errors: Errors,
    summary: Vec<ErrorLink>,
    done: Option<String>,
}

/// The roles given without approval, as the add and change forms offer
/// them: a person's roles that are not need-to-know (a log shipper's
/// `ingest` account is made where its token can be shown: the API or the
/// CLI).
fn direct_roles() -> impl Iterator<Item = Role> {
    Role::ALL
        .iter()
        .copied()
        .filter(|r| !r.has_need_to_know() && *r != Role::Ingest)
}

/// The roles given only through a grant.
fn granted_roles() -> impl Iterator<Item = Role> {
    Role::ALL.iter().copied().filter(|r| r.has_need_to_know())
}

fn choices(roles: impl Iterator<Item = Role>, chosen: &str) -> Vec<Choice> {
    roles
        .map(|r| Choice {
            value: r.as_str(),
            label: r.as_str(),
            selected: r.as_str() == chosen,
        })
        .collect()
}

/// What a 303 back to the page says was done (`?done=...&user=...`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    user: String,
}

/// The page after `kind` was done to `user`.
fn done_at(kind: &str, user: &str) -> Response {
    see_other(&format!(
        "{PAGE}{}",
        super::responder::query_string([("done", kind), ("user", user)])
    ))
}

/// The sentence of a `?done=` (only for a user the viewer can list, so a
/// link cannot make the page say something about anyone else).
fn done_message(query: &DoneQuery, users: &[User]) -> Option<String> {
    let user = users.iter().find(|u| u.name == query.user)?;
    let name = &user.name;
    Some(match query.done.as_str() {
        "added" => format!("{name} was added as {}.", user.role),
        "disabled" => format!(
            "{name} was disabled: their sessions ended and their API tokens no longer work."
        ),
        "role" => format!("{name} is now {}. Their sessions ended.", user.role),
        "requested" => {
            format!("The request for {name} waits for a responder's approval.")
        }
        "approved" => format!(
            "{name} is now {}. Their sessions ended and their old API tokens were revoked: they can issue a new one for themselves.",
            user.role
        ),
        "rejected" => format!("The request for {name} was rejected; nothing changed."),
        _ => return None,
    })
}

/// Builds the page for `s`: what their role may see and use.
async fn page(
    state: &AppState,
    s: &Session,
    form: &AdminForm,
    errors: Errors,
    done: &DoneQuery,
    status: StatusCode,
) -> Response {
    let viewer = s.caller.viewer();
    let me = s.caller.user.id;
    let can = Can::of(s.caller.user.role);
    // Admins list users through the users route; a responder's grants
    // name users too (the store lets responders list them).
    let all = match state.store.list_users(&viewer).await {
        Ok(users) => users,
        Err(error) => return unavailable(&error, "list users"),
    };
    let names: HashMap<UserId, &str> = all.iter().map(|u| (u.id, u.name.as_str())).collect();
    let name_of = |id: UserId| -> String {
        if id == UserId::SYSTEM {
            return "watchpost (server host)".to_owned();
        }
        names
            .get(&id)
            .map_or_else(|| "a colleague".to_owned(), |n| (*n).to_owned())
    };
    let grants = if can.grants {
        match state.store.list_role_grants(&viewer).await {
            Ok(grants) => grants,
            Err(error) => return unavailable(&error, "list role grants"),
        }
    } else {
        Vec::new()
    };
    let mut pending = Vec::new();
    let mut decided = Vec::new();
    for g in grants {
        if g.status == GrantStatus::Pending {
            let own = g.requested_by == me || g.user_id == me;
            pending.push(PendingRow {
                id: g.id.to_string(),
                user: name_of(g.user_id),
                role: g.role.as_str(),
                requested_by: name_of(g.requested_by),
                requested: Stamp::of(g.requested_at),
                approve: can.approve && !own,
                why_not: (can.approve && own).then_some(if g.user_id == me {
                    "It is for you: another responder approves."
                } else {
                    "You asked for it: another responder approves."
                }),
            });
        } else if decided.len() < DECIDED_SHOWN {
            decided.push(DecidedRow {
                user: name_of(g.user_id),
                role: g.role.as_str(),
                outcome: if g.status == GrantStatus::Approved {
                    "Approved"
                } else {
                    "Rejected"
                },
                requested_by: name_of(g.requested_by),
                decided_by: g.decided_by.map_or_else(String::new, name_of),
                decided: g.decided_at.map(Stamp::of),
            });
        }
    }
    let done = done_message(done, &all);
    let users = if can.users {
        all.iter()
            .map(|u| UserRow {
                name: u.name.clone(),
                role: u.role.as_str(),
                disabled: u.disabled,
                created: Stamp::of(u.created_at),
                is_me: u.id == me,
                roles: choices(direct_roles().filter(|r| *r != u.role), ""),
                error: errors
                    .new_role
                    .as_ref()
                    .filter(|(who, _)| *who == u.name)
                    .map(|(_, why)| why.clone()),
                disable_href: format!(
                    "/admin/users/disable{}",
                    super::responder::query_string([("user", u.name.as_str())])
                ),
            })
            .collect()
    } else {
        Vec::new()
    };
    let summary = errors.summary();
    render(
        status,
        &UsersPage {
            nav: Nav::new(s, PAGE),
            csrf: &s.csrf,
            can,
            users,
            pending,
            decided,
            form,
            add_roles: choices(direct_roles(), &form.role),
            grant_roles: choices(granted_roles(), &form.grant_role),
            errors,
            summary,
            done,
        },
    )
}

/// `GET /admin/users`.
pub(crate) async fn show_users(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !Can::of(s.caller.user.role).page() {
        return pages::not_found_page();
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    page(
        &state,
        &s,
        &AdminForm::default(),
        Errors::default(),
        &query,
        StatusCode::OK,
    )
    .await
}

/// The checked session and form of a POST (see
/// [`super::responder::check_post`]).
fn checked(
    session: Option<Extension<Session>>,
    headers: &HeaderMap,
    form: Result<Form<AdminForm>, FormRejection>,
    method: Method,
    api_path: &str,
) -> Result<(Session, AdminForm), Box<Response>> {
    let form = form.ok().map(|Form(f)| f);
    let s = check_post(
        session.map(|Extension(s)| s),
        headers,
        method,
        api_path,
        form.as_ref().map(|f| f.csrf.as_str()),
    )?;
    Ok((s, form.unwrap_or_default()))
}

/// The page again with `errors` (nothing was changed).
async fn again(
    state: &AppState,
    s: &Session,
    form: &AdminForm,
    errors: Errors,
    status: StatusCode,
) -> Response {
    page(state, s, form, errors, &DoneQuery::default(), status).await
}

/// `POST /admin/users` (`POST /api/v1/users`): adds a user, and sets their
/// first password if one was typed.
pub(crate) async fn add_user(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    form: Result<Form<AdminForm>, FormRejection>,
) -> Response {
    let (s, mut form) = match checked(session, &headers, form, Method::POST, USERS_ROUTE) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
    form.name = form.name.trim().to_owned();
    let mut errors = Errors::default();
    if form.name.is_empty() {
        errors.name = Some("Enter the user's name.".to_owned());
    } else if form.name.chars().count() > MAX_NAME {
        errors.name = Some(format!("A user name has at most {MAX_NAME} characters."));
    }
    let role = direct_roles().find(|r| r.as_str() == form.role);
    if role.is_none() {
        errors.role = Some("Choose a role: reporter or admin.".to_owned());
    }
    let password = std::mem::take(&mut form.password);
    let hash = if password.is_empty() {
        None
    } else {
        let hashed = tokio::task::spawn_blocking(move || super::hash_password(&password))
            .await
            .unwrap_or_else(|_| Err("cannot hash the password".into()));
        match hashed {
            Ok(hash) => Some(hash),
            Err(reason) => {
                errors.password = Some(format!("Choose another password: {reason}."));
                None
            }
        }
    };
    let Some(role) = role else {
        return again(&state, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    if errors.name.is_some() || errors.password.is_some() {
        return again(&state, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let viewer = s.caller.viewer();
    let created = state
        .store
        .create_user(
            &viewer,
            NewUser {
                name: form.name.clone(),
                role,
            },
        )
        .await;
    let user = match created {
        Ok(user) => user,
        Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => {
            errors.name = Some(sentence(&m));
            return again(&state, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(StoreError::Forbidden(m)) => {
            errors.role = Some(sentence(m));
            return again(&state, &s, &form, errors, StatusCode::FORBIDDEN).await;
        }
        Err(error) => return unavailable(&error, "create a user"),
    };
    if let Some(hash) = hash
        && let Err(error) = state.store.set_password(&viewer, user.id, Some(hash)).await
    {
        tracing::error!(%error, user = %user.name, "a user was added but their password was not set");
        return render(
            StatusCode::SERVICE_UNAVAILABLE,
            &Message {
                title: "Password not set",
                message: &format!(
                    "{} was added, but their password could not be set. Set it on the server host (watchpost users password {}).",
                    user.name, user.name
                ),
                signed_in: true,
            },
        );
    }
    done_at("added", &user.name)
}

/// The user a form names, as the caller sees them; the 404 page for a
/// name they cannot find.
async fn named_user(state: &AppState, s: &Session, name: &str) -> Result<User, Response> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(pages::not_found_page());
    }
    match state.store.get_user_by_name(&s.caller.viewer(), name).await {
        Ok(user) => Ok(user),
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => Err(pages::not_found_page()),
        Err(error) => Err(unavailable(&error, "find a user by name")),
    }
}

#[derive(Template)]
#[template(path = "admin_disable.html")]
struct DisablePage<'a> {
    nav: Nav,
    csrf: &'a str,
    name: &'a str,
    role: &'static str,
    /// Why it cannot be done, if it cannot.
    blocked: Option<&'static str>,
}

/// Why `user` cannot be disabled by `s`, said before the confirmation is
/// offered (the store refuses disabling yourself whatever this says; one
/// already disabled needs nothing).
fn why_not_disable(s: &Session, user: &User) -> Option<&'static str> {
    if user.id == s.caller.user.id {
        Some("You cannot disable yourself.")
    } else if user.disabled {
        Some("This user is already disabled.")
    } else {
        None
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserQuery {
    #[serde(default)]
    user: String,
}

/// `GET /admin/users/disable?user=...`: what disabling does, and the
/// button that does it.
pub(crate) async fn confirm_disable(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !api_allows(s.caller.user.role, Method::POST, DISABLE_ROUTE) {
        return pages::not_found_page();
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let user = match named_user(&state, &s, &query.user).await {
        Ok(user) => user,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &DisablePage {
            nav: Nav::new(&s, PAGE),
            csrf: &s.csrf,
            name: &user.name,
            role: user.role.as_str(),
            blocked: why_not_disable(&s, &user),
        },
    )
}

/// `POST /admin/users/disable` (`POST /api/v1/users/{name}/disable`).
pub(crate) async fn disable_user(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    form: Result<Form<AdminForm>, FormRejection>,
) -> Response {
    let (s, form) = match checked(session, &headers, form, Method::POST, DISABLE_ROUTE) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
    let user = match named_user(&state, &s, form.user.trim()).await {
        Ok(user) => user,
        Err(r) => return r,
    };
    match state
        .store
        .set_user_disabled(&s.caller.viewer(), user.id, true)
        .await
    {
        Ok(user) => done_at("disabled", &user.name),
        // Disabling yourself: the store's refusal, in words.
        Err(StoreError::Conflict(m)) => {
            let errors = Errors {
                users: Some(sentence(&m)),
                ..Errors::default()
            };
            again(
                &state,
                &s,
                &AdminForm::default(),
                errors,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(StoreError::NotFound(_)) => pages::not_found_page(),
        Err(StoreError::Forbidden(_)) => {
            forbidden_page("Your role may not make this change.", true)
        }
        Err(error) => unavailable(&error, "disable a user"),
    }
}

/// `POST /admin/users/role` (`PUT /api/v1/users/{name}/role`).
pub(crate) async fn change_role(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    form: Result<Form<AdminForm>, FormRejection>,
) -> Response {
    let (s, form) = match checked(session, &headers, form, Method::PUT, ROLE_ROUTE) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
    let user = match named_user(&state, &s, form.user.trim()).await {
        Ok(user) => user,
        Err(r) => return r,
    };
    let refuse = |why: String| Errors {
        new_role: Some((user.name.clone(), why)),
        ..Errors::default()
    };
    let Ok(role) = form.new_role.parse::<Role>() else {
        let errors = refuse("Choose one of the roles offered.".to_owned());
        return again(
            &state,
            &s,
            &AdminForm::default(),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match state
        .store
        .set_user_role(&s.caller.viewer(), user.id, role)
        .await
    {
        Ok(user) => done_at("role", &user.name),
        Err(StoreError::NotFound(_)) => pages::not_found_page(),
        Err(StoreError::Forbidden(m)) => {
            let why = if role.has_need_to_know() {
                format!(
                    "The {role} role needs a responder's approval: ask for it under \"Need-to-know roles\"."
                )
            } else {
                sentence(m)
            };
            again(
                &state,
                &s,
                &AdminForm::default(),
                refuse(why),
                StatusCode::FORBIDDEN,
            )
            .await
        }
        Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => {
            again(
                &state,
                &s,
                &AdminForm::default(),
                refuse(sentence(&m)),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(error) => unavailable(&error, "change a role"),
    }
}

/// `POST /admin/users/grants` (`POST /api/v1/role-grants`): asks for a
/// user to get a need-to-know role.
pub(crate) async fn request_grant(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    form: Result<Form<AdminForm>, FormRejection>,
) -> Response {
    let (s, mut form) = match checked(session, &headers, form, Method::POST, GRANTS_ROUTE) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
    form.grant_user = form.grant_user.trim().to_owned();
    let mut errors = Errors::default();
    let role = granted_roles().find(|r| r.as_str() == form.grant_role);
    if role.is_none() {
        errors.grant_role =
            Some("Choose the role to ask for: responder or finance-ops.".to_owned());
    }
    let viewer = s.caller.viewer();
    let mut user = None;
    if form.grant_user.is_empty() {
        errors.grant_user = Some("Enter the name of the user who needs the role.".to_owned());
    } else if form.grant_user.chars().count() > MAX_NAME {
        errors.grant_user = Some(format!("A user name has at most {MAX_NAME} characters."));
    } else {
        match state
            .store
            .get_user_by_name(&viewer, &form.grant_user)
            .await
        {
            Ok(u) => user = Some(u),
            Err(StoreError::NotFound(_)) => {
                errors.grant_user = Some(format!("There is no user called {}.", form.grant_user));
            }
            Err(error) => return unavailable(&error, "find a user by name"),
        }
    }
    let (Some(user), Some(role)) = (user, role) else {
        return again(&state, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    match state.store.request_role(&viewer, user.id, role).await {
        Ok(_) => done_at("requested", &user.name),
        Err(StoreError::Invalid(m)) => {
            errors.grant_role = Some(sentence(&m));
            again(&state, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(StoreError::Conflict(m)) => {
            errors.grant_user = Some(sentence(&m));
            again(&state, &s, &form, errors, StatusCode::CONFLICT).await
        }
        Err(StoreError::NotFound(_)) => {
            errors.grant_user = Some(format!("There is no user called {}.", form.grant_user));
            again(&state, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(StoreError::Forbidden(_)) => {
            forbidden_page("Your role may not make this change.", true)
        }
        Err(error) => unavailable(&error, "request a role"),
    }
}

/// A decision on a grant.
#[derive(Clone, Copy)]
enum Decision {
    Approve,
    Reject,
}

/// `POST /admin/users/grants/{id}/approve`
/// (`POST /api/v1/role-grants/{id}/approve`).
pub(crate) async fn approve_grant(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<AdminForm>, FormRejection>,
) -> Response {
    decide(state, session, headers, id, form, Decision::Approve).await
}

/// `POST /admin/users/grants/{id}/reject`
/// (`POST /api/v1/role-grants/{id}/reject`).
pub(crate) async fn reject_grant(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<AdminForm>, FormRejection>,
) -> Response {
    decide(state, session, headers, id, form, Decision::Reject).await
}

async fn decide(
    state: AppState,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    id: String,
    form: Result<Form<AdminForm>, FormRejection>,
    decision: Decision,
) -> Response {
    let route = match decision {
        Decision::Approve => APPROVE_ROUTE,
        Decision::Reject => REJECT_ROUTE,
    };
    let (s, _) = match checked(session, &headers, form, Method::POST, route) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<RoleGrantId>() else {
        return pages::not_found_page();
    };
    let viewer = s.caller.viewer();
    let outcome = match decision {
        Decision::Approve => {
            // The API hands this token to the approver; a page cannot show
            // it after the redirect, so no one holds it (the store has
            // revoked the user's old ones either way).
            let token = crate::token::generate();
            state
                .store
                .approve_role(&viewer, id, TokenHash::of(&token))
                .await
                .map(|(user, _)| ("approved", user.id))
        }
        Decision::Reject => state
            .store
            .reject_role(&viewer, id)
            .await
            .map(|grant| ("rejected", grant.user_id)),
    };
    let verb = match decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    };
    let (status, message) = match outcome {
        Ok((kind, user)) => {
            let name = match state.store.get_user(&viewer, user).await {
                Ok(user) => user.name,
                Err(_) => String::new(),
            };
            return done_at(kind, &name);
        }
        Err(StoreError::NotFound(_)) => return pages::not_found_page(),
        Err(StoreError::Forbidden(m)) => (
            StatusCode::FORBIDDEN,
            format!("You cannot {verb} this request. {}", sentence(m)),
        ),
        Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => (
            StatusCode::CONFLICT,
            format!(
                "This request cannot be {verb}d: {}.",
                m.trim_end_matches('.')
            ),
        ),
        Err(error) => return unavailable(&error, "decide on a role grant"),
    };
    let errors = Errors {
        grants: Some(message),
        ..Errors::default()
    };
    again(&state, &s, &AdminForm::default(), errors, status).await
}

/// A store message as a sentence.
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

#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    title: &'a str,
    message: &'a str,
    signed_in: bool,
}

/// A store failure that is nobody's input: logged, and a page that says so.
fn unavailable(error: &StoreError, what: &str) -> Response {
    tracing::error!(%error, what, "the users page failed");
    render(
        StatusCode::SERVICE_UNAVAILABLE,
        &Message {
            title: "Unavailable",
            message: "This page cannot be shown right now. Try again shortly.",
            signed_in: true,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_messages_become_sentences() {
        assert_eq!(
            sentence("a second person approves: not the one who asked, nor the user"),
            "A second person approves: not the one who asked, nor the user."
        );
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence(""), ".");
    }

    #[test]
    fn only_roles_without_need_to_know_are_given_directly() {
        let direct: Vec<&str> = direct_roles().map(Role::as_str).collect();
        assert_eq!(direct, ["reporter", "admin"]);
        let granted: Vec<&str> = granted_roles().map(Role::as_str).collect();
        assert_eq!(granted, ["responder", "finance-ops"]);
    }
}
