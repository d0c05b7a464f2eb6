//! The page handlers and their templates.

use std::time::Instant;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use incidents::user::TokenHash;
use incidents::{Category, Channel, NewReport, NewSession, PageRequest, ReportFilter, StoreError};
use serde::Deserialize;

use super::session::{
    self, LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL, Session, Throttle, same_origin, same_secret,
};
use crate::state::AppState;

/// The longest description a report may have (the store's limit).
const MAX_DESCRIPTION: usize = 20_000;
/// The longest location.
const MAX_LOCATION: usize = 500;

/// A category as the report form offers it.
pub(crate) struct CategoryChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub always_sensitive: bool,
}

/// The policy's categories, each with a plain-language hint.
fn choices() -> Vec<CategoryChoice> {
    Category::ALL
        .iter()
        .map(|c| {
            let (label, hint) = describe(*c);
            CategoryChoice {
                value: c.as_str(),
                label,
                hint,
                always_sensitive: c.always_sensitive(),
            }
        })
        .collect()
}

/// The label and hint of a category.
pub(super) fn describe(c: Category) -> (&'static str, &'static str) {
    match c {
        Category::SecurityIncident => (
            "Security incident",
            "A suspicious email, a virus warning, a lost laptop, a password you gave away, a system acting strangely.",
        ),
        Category::PhysicalInjury => (
            "Physical injury",
            "Someone was hurt at work or on a work trip. Seen only by the people who handle it.",
        ),
        Category::Theft => (
            "Theft",
            "Equipment, money, goods or data taken without permission.",
        ),
        Category::PropertyDamage => (
            "Property damage",
            "Something of the company's was broken, vandalised or damaged.",
        ),
        Category::DenialOfService => (
            "Service outage or attack",
            "A website or service is unreachable or overwhelmed, perhaps on purpose.",
        ),
        Category::Threats => (
            "Threats",
            "Someone threatened people, the company or its systems.",
        ),
        Category::Harassment => (
            "Harassment",
            "Unwelcome conduct towards you or someone else. Seen only by the people who handle it.",
        ),
        Category::AccountAbuse => (
            "Misuse of an account",
            "An account used by someone it does not belong to, or for something it should not do.",
        ),
        Category::Forgery => (
            "Forgery",
            "A faked document, invoice, signature or message.",
        ),
        Category::Misrepresentation => (
            "Misrepresentation",
            "Someone pretending to be someone else, or giving false information to the company.",
        ),
        Category::Other => ("Something else", "Anything else that worries you."),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// The single sign-on provider's name, when `[oidc]` is configured.
    sso: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    nav: super::Nav,
    csrf: &'a str,
}

/// What the report form shows: the choices, what was typed, and the
/// errors by field.
#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    nav: super::Nav,
    csrf: &'a str,
    choices: Vec<CategoryChoice>,
    form: &'a ReportForm,
    errors: FieldErrors,
}

#[derive(Debug, Default)]
struct FieldErrors {
    category: Option<String>,
    description: Option<String>,
    occurred_at: Option<String>,
    location: Option<String>,
    form: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.category.is_some()
            || self.description.is_some()
            || self.occurred_at.is_some()
            || self.location.is_some()
            || self.form.is_some()
    }
}

/// A report as the "My reports" page lists it.
struct ReportRow {
    id: String,
    filed: String,
    category: &'static str,
    sensitive: bool,
    status: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "my_reports.html")]
struct MyReportsPage {
    nav: super::Nav,
    filed: Option<String>,
    reports: Vec<ReportRow>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
    signed_in: bool,
}

/// Renders a template, or a plain 500 when it cannot be (never input's
/// fault).
pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// 303 to `location`.
pub(super) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

/// 303 to the sign-in page.
pub(crate) fn to_login() -> Response {
    see_other("/login")
}

/// The 404 page.
pub(crate) fn not_found_page() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &MessagePage {
            title: "Not found",
            message: "There is no such page, or you may not see it.",
            signed_in: true,
        },
    )
}

pub(super) fn forbidden_page(message: &str, signed_in: bool) -> Response {
    render(
        StatusCode::FORBIDDEN,
        &MessagePage {
            title: "Refused",
            message,
            signed_in,
        },
    )
}

/// `GET /`: the report form for a signed-in user.
pub(crate) async fn home(session: Option<Extension<Session>>) -> Response {
    match session {
        Some(_) => see_other("/report"),
        None => to_login(),
    }
}

/// `GET /login`.
pub(crate) async fn login_form(
    session: Option<Extension<Session>>,
    oidc: Option<Extension<super::oidc::Oidc>>,
    headers: HeaderMap,
) -> Response {
    if session.is_some() {
        return see_other("/report");
    }
    let sso = oidc.as_ref().map(|Extension(o)| o.display_name());
    login_page(&headers, StatusCode::OK, "", None, sso)
}

/// The sign-in form ([`pre_session_form`]).
fn login_page(
    headers: &HeaderMap,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
    sso: Option<&str>,
) -> Response {
    pre_session_form(headers, |csrf| {
        render(
            status,
            &LoginPage {
                csrf,
                username,
                error,
                sso,
            },
        )
    })
}

/// The sign-in form with an error (a refused single sign-on).
pub(super) fn login_error(
    headers: &HeaderMap,
    status: StatusCode,
    sso: Option<&str>,
    error: &str,
) -> Response {
    login_page(headers, status, "", Some(error), sso)
}

/// "Signing in is not possible right now" (503).
pub(super) fn unavailable() -> Response {
    render(
        StatusCode::SERVICE_UNAVAILABLE,
        &MessagePage {
            title: "Unavailable",
            message: "Signing in is not possible right now. Try again shortly.",
            signed_in: false,
        },
    )
}

/// A form shown before sign-in (sign-in, setup): its CSRF token is the
/// browser's `__Host-wp_login` cookie when it has one (another tab, or a
/// request the browser made on its own, must not invalidate a form already
/// shown), else a fresh one set with the answer.
fn pre_session_form(headers: &HeaderMap, page: impl FnOnce(&str) -> Response) -> Response {
    let token = session::cookie(headers, LOGIN_COOKIE)
        .filter(|t| session::looks_like_secret(t))
        .map_or_else(session::secret, str::to_owned);
    let mut response = page(&token);
    if let Ok(value) = session::login_cookie(&token).parse() {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A PHC string that no password matches, verified when the user name is
/// unknown so that both answers take about as long.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4pGwqmYfyT9Q8mfxbl1pnYAZ7UN2QPRyxxgRwrfY0Lk";

/// `POST /login`.
pub(crate) async fn login(
    State(state): State<AppState>,
    Extension(throttle): Extension<std::sync::Arc<Throttle>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    old: Option<Extension<Session>>,
    oidc: Option<Extension<super::oidc::Oidc>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let sso = oidc.as_ref().map(|Extension(o)| o.display_name());
    if !same_origin(&headers) {
        return forbidden_page(
            "This form was sent from another site, and was refused.",
            false,
        );
    }
    let bound = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if bound.is_empty() || !same_secret(bound, &form.csrf) {
        return login_page(
            &headers,
            StatusCode::FORBIDDEN,
            &form.username,
            Some("The form had expired. Please sign in again."),
            sso,
        );
    }
    let username = form.username.trim().to_owned();
    let mut keys = vec![format!("user:{}", username.to_lowercase())];
    if let Some(Extension(ConnectInfo(addr))) = peer {
        keys.push(format!("addr:{}", addr.ip()));
    }
    if throttle.blocked(&keys, Instant::now()) {
        tracing::warn!("sign-in refused: too many failures");
        return login_page(
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &username,
            Some("Too many failed sign-ins. Wait 15 minutes and try again."),
            sso,
        );
    }
    let found = if username.is_empty() || username.len() > 200 {
        None
    } else {
        match state.store.password_login(&username).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "cannot look up a user for sign-in");
                return render(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &MessagePage {
                        title: "Unavailable",
                        message: "Signing in is not possible right now. Try again shortly.",
                        signed_in: false,
                    },
                );
            }
        }
    };
    let hash = found
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |(_, h)| h.clone());
    let password = form.password;
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match (found, verified) {
        (Some((user, _)), true) => user,
        _ => {
            throttle.fail(&keys, Instant::now());
            tracing::info!("sign-in failed");
            return login_page(
                &headers,
                StatusCode::UNAUTHORIZED,
                &username,
                Some("Wrong user name or password."),
                sso,
            );
        }
    };
    throttle.clear(&keys[0]);
    start_session(&state, old.map(|Extension(s)| s), user).await
}

/// Starts a session for `user` after a sign-in (password or single
/// sign-on): always a new id (any session this browser had ends), the
/// session cookie set, the sign-in form's cookie removed, 303 to the
/// report form.
pub(super) async fn start_session(
    state: &AppState,
    old: Option<Session>,
    user: incidents::UserId,
) -> Response {
    // A new id at every sign-in; any session this browser had ends.
    if let Some(old) = old
        && let Err(error) = state.store.delete_session(old.id_hash).await
    {
        tracing::warn!(%error, "cannot end the previous session");
    }
    let id = session::secret();
    let now = time::OffsetDateTime::now_utc();
    let created = state
        .store
        .create_session(NewSession {
            user,
            id_hash: TokenHash::of(&id),
            csrf: session::secret(),
            created_at: now,
            expires_at: now + SESSION_TTL,
        })
        .await;
    if let Err(error) = created {
        tracing::error!(%error, "cannot start a session");
        return unavailable();
    }
    let mut response = see_other("/report");
    let headers = response.headers_mut();
    for cookie in [
        session::session_cookie(&id),
        session::expired_cookie(LOGIN_COOKIE),
    ] {
        if let Ok(value) = cookie.parse() {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// Checks a password against a PHC string (Argon2id).
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashes a password with Argon2id and a random salt, as a PHC string.
pub(crate) fn hash(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// `GET /logout`: a button, since signing out changes state.
pub(crate) async fn logout_form(session: Option<Extension<Session>>) -> Response {
    match session {
        Some(Extension(s)) => render(
            StatusCode::OK,
            &LogoutPage {
                nav: super::Nav::new(&s, "/logout"),
                csrf: &s.csrf,
            },
        ),
        None => to_login(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(Extension(s)) = session else {
        return to_login();
    };
    if !same_origin(&headers) || !same_secret(&s.csrf, &form.csrf) {
        return forbidden_page(
            "This form was sent from another site, or had expired.",
            true,
        );
    }
    if let Err(error) = state.store.delete_session(s.id_hash).await {
        tracing::warn!(%error, "cannot end a session");
    }
    let mut response = to_login();
    if let Ok(value) = session::expired_cookie(SESSION_COOKIE).parse() {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// What the report form sends (and shows again after an error).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    sensitive: Option<String>,
    #[serde(default)]
    occurred_at: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    description: String,
}

impl ReportForm {
    /// True when `value` is the chosen category (for the template).
    fn is_category(&self, value: &&str) -> bool {
        self.category == *value
    }
}

/// `GET /report`.
pub(crate) async fn report_form(session: Option<Extension<Session>>) -> Response {
    let Some(Extension(s)) = session else {
        return to_login();
    };
    render(
        StatusCode::OK,
        &ReportPage {
            nav: super::Nav::new(&s, "/report"),
            csrf: &s.csrf,
            choices: choices(),
            form: &ReportForm::default(),
            errors: FieldErrors::default(),
        },
    )
}

/// Parses the form's `datetime-local` value (`2026-12-03T14:05`, seconds
/// optional), read as UTC.
fn parse_local_time(text: &str) -> Option<time::OffsetDateTime> {
    let text = text.trim();
    let with_secs = if text.len() == 16 {
        format!("{text}:00")
    } else {
        text.to_owned()
    };
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(&with_secs, &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// `POST /report`.
pub(crate) async fn file_report(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Form(form): Form<ReportForm>,
) -> Response {
    let Some(Extension(s)) = session else {
        return to_login();
    };
    if !same_origin(&headers) || !same_secret(&s.csrf, &form.csrf) {
        return forbidden_page(
            "This form was sent from another site, or had expired.",
            true,
        );
    }
    let mut errors = FieldErrors::default();
    let category = form.category.parse::<Category>().ok();
    if category.is_none() {
        errors.category = Some("Choose what kind of event this is.".into());
    }
    let description = form.description.trim();
    if description.is_empty() {
        errors.description = Some("Describe what you saw.".into());
    } else if description.chars().count() > MAX_DESCRIPTION {
        errors.description = Some(format!(
            "At most {MAX_DESCRIPTION} characters, please (this has {}).",
            description.chars().count()
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    let occurred_at = if form.occurred_at.trim().is_empty() {
        None
    } else {
        match parse_local_time(&form.occurred_at) {
            Some(t) if t > now + time::Duration::minutes(5) => {
                errors.occurred_at = Some("This time is in the future.".into());
                None
            }
            Some(t) => Some(t),
            None => {
                errors.occurred_at =
                    Some("Give a date and time like 2026-12-03T14:05, or leave it empty.".into());
                None
            }
        }
    };
    let location = form.location.trim();
    if location.chars().count() > MAX_LOCATION {
        errors.location = Some(format!("At most {MAX_LOCATION} characters, please."));
    }
    let again = |errors: FieldErrors, status: StatusCode| {
        render(
            status,
            &ReportPage {
                nav: super::Nav::new(&s, "/report"),
                csrf: &s.csrf,
                choices: choices(),
                form: &form,
                errors,
            },
        )
    };
    let Some(category) = category.filter(|_| !errors.any()) else {
        return again(errors, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let filed = state
        .store
        .file_report(
            &s.caller.viewer(),
            NewReport {
                channel: Channel::Web,
                category,
                description: description.to_owned(),
                occurred_at,
                location: (!location.is_empty()).then(|| location.to_owned()),
                sensitive: form.sensitive.is_some(),
                anonymous: false,
                attachments: Vec::new(),
            },
        )
        .await;
    match filed {
        Ok(report) => see_other(&format!("/my-reports?filed={}", report.id)),
        Err(StoreError::RateLimited { message, .. }) => {
            errors.form = Some(message);
            again(errors, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(StoreError::Invalid(message)) => {
            errors.form = Some(message);
            again(errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(StoreError::Forbidden(_)) => forbidden_page("Your account may not file reports.", true),
        Err(error) => {
            tracing::error!(%error, "cannot file a report from the form");
            errors.form = Some("The report could not be saved. Please try again.".into());
            again(errors, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    token: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SetupQuery {
    #[serde(default)]
    token: String,
}

/// The page of a link that is not (or no longer) valid: the same for every
/// wrong token, used or not.
fn setup_not_found() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &MessagePage {
            title: "Not found",
            message: "This link is not valid, has expired, or was already used.",
            signed_in: false,
        },
    )
}

/// The set-password form, with a CSRF token bound to the browser's
/// sign-in cookie (as the sign-in form's).
fn setup_page(
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    error: Option<&str>,
) -> Response {
    pre_session_form(headers, |csrf| {
        render(status, &SetupPage { token, csrf, error })
    })
}

/// `GET /setup?token=...`: the first admin sets a password.
pub(crate) async fn setup_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Response {
    match &state.setup {
        Some(setup) if setup.user_for(&query.token).is_some() => {
            setup_page(&headers, StatusCode::OK, &query.token, None)
        }
        _ => setup_not_found(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /setup`.
pub(crate) async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    let Some(setup) = &state.setup else {
        return setup_not_found();
    };
    let Some(user) = setup.user_for(&form.token) else {
        return setup_not_found();
    };
    let bound = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !same_origin(&headers) || bound.is_empty() || !same_secret(bound, &form.csrf) {
        return forbidden_page(
            "This form was sent from another site, or had expired.",
            false,
        );
    }
    if form.password != form.confirm {
        return setup_page(
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.token,
            Some("The two passwords differ."),
        );
    }
    let password = form.password;
    let hashed = tokio::task::spawn_blocking(move || super::hash_password(&password))
        .await
        .unwrap_or_else(|_| Err("cannot hash the password".into()));
    let hash = match hashed {
        Ok(hash) => hash,
        Err(reason) => {
            return setup_page(
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form.token,
                Some(&format!("Choose another password: {reason}.")),
            );
        }
    };
    match state
        .store
        .set_password(&incidents::Viewer::system(), user, Some(hash))
        .await
    {
        Ok(()) => {
            setup.used();
            tracing::info!("the first admin's password was set through the setup link");
            see_other("/login")
        }
        Err(error) => {
            tracing::error!(%error, "cannot set the first admin's password");
            render(
                StatusCode::SERVICE_UNAVAILABLE,
                &MessagePage {
                    title: "Unavailable",
                    message: "The password could not be saved. Try again shortly.",
                    signed_in: false,
                },
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MyReportsQuery {
    filed: Option<String>,
}

/// `GET /my-reports`: the signed-in user's own reports, newest first.
pub(crate) async fn my_reports(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    Query(query): Query<MyReportsQuery>,
) -> Response {
    let Some(Extension(s)) = session else {
        return to_login();
    };
    let filter = ReportFilter {
        reporter: Some(s.caller.user.id),
        ..ReportFilter::default()
    };
    let page = PageRequest {
        limit: Some(200),
        cursor: None,
    };
    let reports = match state
        .store
        .list_reports(&s.caller.viewer(), &filter, &page)
        .await
    {
        Ok(page) => page.items,
        Err(error) => {
            tracing::error!(%error, "cannot list a user's reports");
            Vec::new()
        }
    };
    let rows: Vec<ReportRow> = reports
        .into_iter()
        .map(|r| {
            let mut summary: String = r.description.chars().take(120).collect();
            if r.description.chars().count() > 120 {
                summary.push('…');
            }
            ReportRow {
                id: r.id.to_string(),
                filed: r
                    .created_at
                    .format(time::macros::format_description!(
                        "[year]-[month]-[day] [hour]:[minute] UTC"
                    ))
                    .unwrap_or_default(),
                category: describe(r.category).0,
                sensitive: r.sensitive,
                status: r.incident_status.to_string(),
                summary,
            }
        })
        .collect();
    // Only a report of this user's own is confirmed.
    let filed = query.filed.filter(|id| rows.iter().any(|r| &r.id == id));
    render(
        StatusCode::OK,
        &MyReportsPage {
            nav: super::Nav::new(&s, "/my-reports"),
            filed,
            reports: rows,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_hint_and_sensitive_ones_say_so() {
        let all = choices();
        assert_eq!(all.len(), 11);
        for c in &all {
            assert!(!c.hint.is_empty() && !c.label.is_empty());
        }
        let sensitive: Vec<&str> = all
            .iter()
            .filter(|c| c.always_sensitive)
            .map(|c| c.value)
            .collect();
        assert_eq!(sensitive, ["physical_injury", "harassment"]);
    }

    #[test]
    fn form_times_are_read_as_utc() {
        assert_eq!(
            parse_local_time("2026-12-03T14:05"),
            Some(time::macros::datetime!(2026-12-03 14:05:00 UTC))
        );
        assert_eq!(
            parse_local_time("2026-12-03T14:05:09"),
            Some(time::macros::datetime!(2026-12-03 14:05:09 UTC))
        );
        assert_eq!(parse_local_time("yesterday"), None);
        assert_eq!(parse_local_time("2026-13-03T14:05"), None);
    }

    #[test]
    fn the_dummy_hash_parses_and_matches_nothing() {
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("", DUMMY_HASH));
        assert!(!verify_password("password", DUMMY_HASH));
    }
}
