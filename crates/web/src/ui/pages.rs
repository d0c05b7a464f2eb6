//! The page handlers and their templates.

use std::time::Instant;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Query, Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use incidents::user::TokenHash;
use incidents::{
    Category, Channel, NewAttachment, NewReport, NewSession, PageRequest, ReportFilter, StoreError,
};
use serde::Deserialize;

use super::session::{
    self, LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL, Session, Throttle, same_origin, same_secret,
};
use crate::state::AppState;

/// The longest description a report may have (the store's limit).
const MAX_DESCRIPTION: usize = 20_000;
/// The longest location.
const MAX_LOCATION: usize = 500;
/// The most files the report form takes: the store's per-report limit.
const MAX_FORM_FILES: usize = NewReport::MAX_ATTACHMENTS;
/// Room for the report form's text fields on top of its files.
const REPORT_FIELD_BYTES: usize = 256 * 1024;

/// The body limit of `POST /report`: the files together may be as large as
/// one upload through the API (the store's per-file cap,
/// [`incidents::Store::max_attachment_bytes`]), plus room for the text
/// fields. A larger body is the 413 page, and nothing is stored.
pub(crate) fn report_body_limit(max_attachment_bytes: usize) -> usize {
    max_attachment_bytes.saturating_add(REPORT_FIELD_BYTES)
}

/// The `/report` route: the form, and filing it with the body limit of
/// [`report_body_limit`] (the pages' router has no default limit).
pub(crate) fn report_route(state: &AppState) -> axum::routing::MethodRouter<AppState> {
    axum::routing::get(report_form)
        .post(file_report)
        .layer(axum::extract::DefaultBodyLimit::max(report_body_limit(
            state.store.max_attachment_bytes(),
        )))
}

/// A size in plain words: `10 MB`, `1.5 MB`, `2 KB`, `100 bytes`
/// (1 MB = 1,048,576 bytes).
fn size_words(bytes: usize) -> String {
    let (value, unit) = if bytes >= 1 << 20 {
        (bytes as f64 / f64::from(1 << 20), "MB")
    } else if bytes >= 1 << 10 {
        (bytes as f64 / f64::from(1 << 10), "KB")
    } else {
        return format!("{bytes} bytes");
    };
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

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
    /// "Up to N files, at most X MB each …".
    file_limits: String,
    /// Files sent with a form shown again (they are not kept).
    dropped: Vec<String>,
}

#[derive(Debug, Default)]
struct FieldErrors {
    category: Option<String>,
    description: Option<String>,
    occurred_at: Option<String>,
    location: Option<String>,
    attachments: Option<String>,
    form: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.category.is_some()
            || self.description.is_some()
            || self.occurred_at.is_some()
            || self.location.is_some()
            || self.attachments.is_some()
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
    /// The attachments' file names.
    files: Vec<String>,
}

#[derive(Template)]
#[template(path = "my_reports.html")]
struct MyReportsPage {
    nav: super::Nav,
    filed: Option<String>,
    /// The file names of the report just filed.
    filed_files: Vec<String>,
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

/// The name of the single sign-on provider the sign-in page offers, put
/// in the request when `[oidc]` is configured (by the sign-on module, so
/// this one needs nothing of it).
#[derive(Clone)]
pub(crate) struct SsoOffer(pub String);

/// `GET /login`.
pub(crate) async fn login_form(
    session: Option<Extension<Session>>,
    sso_offer: Option<Extension<SsoOffer>>,
    headers: HeaderMap,
) -> Response {
    if session.is_some() {
        return see_other("/report");
    }
    let sso = sso_offer.as_ref().map(|Extension(o)| o.0.as_str());
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
    sso_offer: Option<Extension<SsoOffer>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let sso = sso_offer.as_ref().map(|Extension(o)| o.0.as_str());
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

/// The report form's file limits in plain words, for the hint.
fn file_limits(max_attachment_bytes: usize) -> String {
    let each = size_words(max_attachment_bytes);
    format!("Up to {MAX_FORM_FILES} files, at most {each} each and {each} in all.")
}

/// `GET /report`.
pub(crate) async fn report_form(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
) -> Response {
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
            file_limits: file_limits(state.store.max_attachment_bytes()),
            dropped: Vec::new(),
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

/// What a `POST /report` body held: the fields, the files that may be
/// stored, and what was wrong with the others.
#[derive(Default)]
struct PostedReport {
    form: ReportForm,
    files: Vec<NewAttachment>,
    /// The names of every chosen file (for "choose them again").
    names: Vec<String>,
    /// Why the files cannot be stored as sent, if they cannot.
    file_error: Option<String>,
}

/// A body that could not be read at all.
enum Unreadable {
    /// Over the route's body limit.
    TooLarge,
    /// Not a form, or a broken one.
    Malformed,
}

impl Unreadable {
    fn from_status(status: StatusCode) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge
        } else {
            Self::Malformed
        }
    }
}

/// Reads the report form's body: `multipart/form-data` (the form, with
/// files) or `application/x-www-form-urlencoded` (no files). Files are
/// checked as the API checks an upload (name, type, the store's per-file
/// cap) and counted against the store's per-report limit; a file over the
/// cap is read to its end but not kept.
async fn read_report(
    request: Request,
    state: &AppState,
    max_file: usize,
) -> Result<PostedReport, Unreadable> {
    let is_multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"));
    if !is_multipart {
        return match Form::<ReportForm>::from_request(request, state).await {
            Ok(Form(form)) => Ok(PostedReport {
                form,
                ..PostedReport::default()
            }),
            Err(rejection) => Err(Unreadable::from_status(rejection.status())),
        };
    }
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| Unreadable::from_status(rejection.status()))?;
    let failed = |e: axum::extract::multipart::MultipartError| Unreadable::from_status(e.status());
    let mut posted = PostedReport::default();
    let (mut too_large, mut refused) = (Vec::new(), Vec::new());
    while let Some(mut field) = multipart.next_field().await.map_err(failed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "attachments" {
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(failed)? {
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let form = &mut posted.form;
            match name.as_str() {
                "csrf" => form.csrf = text,
                "category" => form.category = text,
                "sensitive" => form.sensitive = Some(text),
                "occurred_at" => form.occurred_at = text,
                "location" => form.location = text,
                "description" => form.description = text,
                _ => {}
            }
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_owned();
        let mut headers = HeaderMap::new();
        if let Some(value) = field
            .content_type()
            .and_then(|t| axum::http::HeaderValue::from_str(t).ok())
        {
            headers.insert(axum::http::header::CONTENT_TYPE, value);
        }
        let (mut bytes, mut over) = (Vec::new(), false);
        while let Some(chunk) = field.chunk().await.map_err(failed)? {
            if over {
                continue;
            }
            if bytes.len() + chunk.len() > max_file {
                over = true;
                bytes = Vec::new();
            } else {
                bytes.extend_from_slice(&chunk);
            }
        }
        // A file input with no file chosen sends an empty, unnamed part.
        if filename.is_empty() && bytes.is_empty() && !over {
            continue;
        }
        posted.names.push(filename.clone());
        if over {
            too_large.push(filename);
            continue;
        }
        if bytes.is_empty() {
            refused.push(format!("“{filename}” is empty"));
            continue;
        }
        let checked = crate::handlers::attachments::check_filename(Some(filename.clone()))
            .and_then(|filename| {
                crate::handlers::attachments::uploaded_type(&headers)
                    .map(|content_type| (filename, content_type))
            });
        match checked {
            Ok((filename, content_type)) => posted.files.push(NewAttachment {
                filename,
                content_type,
                bytes,
            }),
            Err(error) => refused.push(format!("“{filename}” cannot be attached ({error})")),
        }
    }
    let count = posted.names.len();
    posted.file_error = if count > MAX_FORM_FILES {
        Some(format!(
            "Choose at most {MAX_FORM_FILES} files (you chose {count}). Choose the files again."
        ))
    } else if !too_large.is_empty() {
        let names: Vec<String> = too_large.iter().map(|n| format!("“{n}”")).collect();
        let (verb, limit) = (
            if names.len() == 1 { "is" } else { "are" },
            size_words(max_file),
        );
        Some(format!(
            "{} {verb} larger than {limit}. Each file may be at most {limit}: choose the files again.",
            names.join(", ")
        ))
    } else if !refused.is_empty() {
        Some(format!("{}. Choose the files again.", refused.join("; ")))
    } else {
        None
    };
    Ok(posted)
}

/// The page for a body over the server's outer limit, refused before any
/// page handler ran: nothing was read or stored.
pub(crate) fn too_large_page() -> Response {
    render(
        StatusCode::PAYLOAD_TOO_LARGE,
        &MessagePage {
            title: "Too large to send",
            message: "Nothing was sent: what you sent was larger than this server accepts. Go back, choose fewer or smaller files, and send it again.",
            signed_in: true,
        },
    )
}

/// The page for a report body that could not be read; nothing was stored.
fn unreadable_page(why: Unreadable, max_attachment_bytes: usize) -> Response {
    let (status, title, message) = match why {
        Unreadable::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large to send",
            format!(
                "Your report was not sent: together, the files were larger than {}. Go back, choose fewer or smaller files, and send it again.",
                size_words(max_attachment_bytes)
            ),
        ),
        Unreadable::Malformed => (
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Your report was not sent. Go back and send it again.".to_owned(),
        ),
    };
    render(
        status,
        &MessagePage {
            title,
            message: &message,
            signed_in: true,
        },
    )
}

/// `POST /report`: a `multipart/form-data` body (the form with its files)
/// or a url-encoded one (no files), up to [`report_body_limit`].
pub(crate) async fn file_report(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    request: Request,
) -> Response {
    let Some(Extension(s)) = session else {
        return to_login();
    };
    if !same_origin(request.headers()) {
        return forbidden_page(
            "This form was sent from another site, or had expired.",
            true,
        );
    }
    let max_file = state.store.max_attachment_bytes();
    let posted = match read_report(request, &state, max_file).await {
        Ok(posted) => posted,
        Err(why) => return unreadable_page(why, max_file),
    };
    let PostedReport {
        form,
        files,
        names,
        file_error,
    } = posted;
    if !same_secret(&s.csrf, &form.csrf) {
        return forbidden_page(
            "This form was sent from another site, or had expired.",
            true,
        );
    }
    let mut errors = FieldErrors {
        attachments: file_error,
        ..FieldErrors::default()
    };
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
        // A file error says to choose them again; otherwise say it here.
        let dropped = if errors.attachments.is_some() {
            Vec::new()
        } else {
            names.clone()
        };
        render(
            status,
            &ReportPage {
                nav: super::Nav::new(&s, "/report"),
                csrf: &s.csrf,
                choices: choices(),
                form: &form,
                errors,
                file_limits: file_limits(max_file),
                dropped,
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
                attachments: files,
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
        Err(StoreError::QuotaExceeded(message)) => {
            errors.attachments = Some(format!(
                "The files cannot be stored: {message}. Send the report without them, or with smaller ones: choose the files again."
            ));
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
                files: r.attachments.iter().map(|a| a.filename.clone()).collect(),
            }
        })
        .collect();
    // Only a report of this user's own is confirmed.
    let filed_row = query.filed.and_then(|id| rows.iter().find(|r| r.id == id));
    let filed = filed_row.map(|r| r.id.clone());
    let filed_files = filed_row.map(|r| r.files.clone()).unwrap_or_default();
    render(
        StatusCode::OK,
        &MyReportsPage {
            nav: super::Nav::new(&s, "/my-reports"),
            filed,
            filed_files,
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
    fn sizes_and_file_limits_are_said_in_plain_words() {
        for (bytes, words) in [
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1 KB"),
            (1536, "1.5 KB"),
            (10 * 1024 * 1024, "10 MB"),
            (1024 * 1024 + 512 * 1024, "1.5 MB"),
        ] {
            assert_eq!(size_words(bytes), words, "{bytes}");
        }
        assert_eq!(
            file_limits(10 * 1024 * 1024),
            "Up to 20 files, at most 10 MB each and 10 MB in all."
        );
        assert_eq!(report_body_limit(1024), 1024 + 256 * 1024);
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
