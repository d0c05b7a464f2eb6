//! The public side: what anyone may read or send without signing in.
//!
//! - `GET /.well-known/security.txt` (RFC 9116, from `[security_txt]`) and
//!   `GET /security.txt` (301 to it);
//! - `GET/POST /security/report`: the vulnerability-report form, which
//!   files a third-party report ([`report`]);
//! - `GET /advisories`, `/advisories/{id}`, `/advisories.atom`,
//!   `/advisories/{id}/csaf.json`: the published advisories, as pages, an
//!   Atom feed and CSAF 2.0 documents;
//! - `GET /.well-known/csaf/provider-metadata.json` and the CSAF directory
//!   `/.well-known/csaf/white/` (`index.txt`, `changes.csv`,
//!   `{year}/{id}.json`).
//! - `GET/POST /check/{token}`: the "I didn't do this" page ([`check`]),
//!   served only when `[user_check]` is configured (its own 404 rule).
//!
//! Every route is served only when the public side is configured
//! ([`crate::disclosure::Disclosure`] in [`AppState::disclosure`]; else
//! 404). None reads a session or sets a cookie; every answer carries the
//! pages' Content-Security-Policy; every request counts against a per-IP
//! limit ([`READS_PER_MINUTE`], and [`REPORTS_PER_HOUR`] for the form's
//! POSTs), answered 429 with `Retry-After`. What is shown comes from the
//! store's public read ([`incidents::Store::published_advisories`]), which
//! returns only the fields written for the public.
//!
//! This module must not read the store as any user: it has no viewer.

mod check;
mod limit;
mod report;

pub use check::UserCheckPages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use incidents::{AdvisoryId, PublicAdvisory};

use self::limit::Limiter;
use crate::disclosure::{self, Disclosure};
use crate::state::AppState;

/// Requests one address may make to the public side in a minute.
pub const READS_PER_MINUTE: usize = 120;
/// Reports one address may send through the form in an hour.
pub const REPORTS_PER_HOUR: usize = 5;

/// What the public routes share: the limits and the form's signing key.
pub(crate) struct Shared {
    reads: Limiter,
    reports: Limiter,
    form_key: [u8; 32],
}

/// The public routes. Merged into the main router by
/// [`crate::router_with_stats`].
pub(crate) fn router() -> Router<AppState> {
    let mut form_key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut form_key);
    let shared = Arc::new(Shared {
        reads: Limiter::new(READS_PER_MINUTE, Duration::from_secs(60)),
        reports: Limiter::new(REPORTS_PER_HOUR, Duration::from_secs(3600)),
        form_key,
    });
    Router::new()
        .route("/.well-known/security.txt", get(security_txt))
        .route("/security.txt", get(security_txt_moved))
        .route(
            "/security/report",
            get(report::report_form)
                .post(report::file_report)
                .layer(axum::extract::DefaultBodyLimit::max(report::BODY_LIMIT)),
        )
        .route(
            "/check/{token}",
            get(check::show)
                .post(check::answer)
                .layer(axum::extract::DefaultBodyLimit::max(check::BODY_LIMIT)),
        )
        .route("/advisories", get(list_advisories))
        .route("/advisories.atom", get(atom))
        .route("/advisories/{id}", get(show_advisory))
        .route("/advisories/{id}/csaf.json", get(advisory_csaf))
        .route(
            "/.well-known/csaf/provider-metadata.json",
            get(provider_metadata),
        )
        .route("/.well-known/csaf/white/index.txt", get(csaf_index))
        .route("/.well-known/csaf/white/changes.csv", get(csaf_changes))
        .route("/.well-known/csaf/white/{year}/{file}", get(csaf_file))
        .layer(middleware::from_fn(limit_requests))
        .layer(Extension(shared))
        .layer(middleware::from_fn(headers))
}

/// The peer's address, when the server knows it.
fn peer_ip(request: &Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
}

/// Counts every request against the reading limit, and a report form POST
/// against the reporting limit too; past either, 429.
async fn limit_requests(
    Extension(shared): Extension<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let ip = peer_ip(&request);
    let now = Instant::now();
    if let Err(wait) = shared.reads.check(ip, now) {
        return too_many(
            wait,
            &format!(
                "This address made more than {READS_PER_MINUTE} requests in a minute. Wait a little and try again."
            ),
        );
    }
    if request.method() == Method::POST
        && let Err(wait) = shared.reports.check(ip, now)
    {
        let limit = shared.reports.limit();
        let hours = shared.reports.window().as_secs() / 3600;
        return too_many(
            wait,
            &format!(
                "This address already sent {limit} reports in the last {hours} hour{}. Wait {} and send it again, or write to the contact in /.well-known/security.txt.",
                if hours == 1 { "" } else { "s" },
                minutes(wait)
            ),
        );
    }
    next.run(request).await
}

/// A wait in words, rounded up to whole minutes.
fn minutes(wait: Duration) -> String {
    let m = wait.as_secs().div_ceil(60).max(1);
    format!("{m} minute{}", if m == 1 { "" } else { "s" })
}

/// 429 with `Retry-After` and a page that says why.
fn too_many(wait: Duration, message: &str) -> Response {
    let mut response = message_page(StatusCode::TOO_MANY_REQUESTS, "Too many requests", message);
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The pages' security headers on every public answer (the documents are
/// cacheable for a short while; pages are not cached).
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::ui::CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[derive(Template)]
#[template(path = "public/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Renders a template, or a plain 500 when it cannot be.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render a public page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &MessagePage { title, message })
}

fn not_found() -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

fn unavailable() -> Response {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "This is not available right now. Try again shortly.",
    )
}

/// The configured public side, or the 404 answer.
fn configured(state: &AppState) -> Result<Arc<Disclosure>, Box<Response>> {
    state
        .disclosure
        .clone()
        .ok_or_else(|| Box::new(not_found()))
}

/// Every published advisory, or the 503 answer.
async fn published(state: &AppState) -> Result<Vec<PublicAdvisory>, Box<Response>> {
    state.store.published_advisories().await.map_err(|error| {
        tracing::error!(%error, "cannot read published advisories");
        Box::new(unavailable())
    })
}

/// One published advisory by its id text, or the 404 (or 503) answer.
async fn published_one(state: &AppState, id: &str) -> Result<PublicAdvisory, Box<Response>> {
    let Ok(id) = id.parse::<AdvisoryId>() else {
        return Err(Box::new(not_found()));
    };
    match state.store.published_advisory(&id).await {
        Ok(a) => Ok(a),
        Err(incidents::StoreError::NotFound(_)) => Err(Box::new(not_found())),
        Err(error) => {
            tracing::error!(%error, "cannot read a published advisory");
            Err(Box::new(unavailable()))
        }
    }
}

fn body(content_type: &'static str, cache: &'static str, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        text,
    )
        .into_response()
}

fn json_body(value: &serde_json::Value) -> Response {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    body("application/json", "public, max-age=300", text)
}

/// `GET /.well-known/security.txt`.
async fn security_txt(State(state): State<AppState>) -> Response {
    let Some(d) = state.disclosure.as_deref() else {
        return not_found();
    };
    let Some(txt) = d.security_txt() else {
        return not_found();
    };
    body(
        "text/plain; charset=utf-8",
        "public, max-age=3600",
        txt.text(d.public_url()),
    )
}

/// `GET /security.txt`: moved to the well-known place.
async fn security_txt_moved() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, "/.well-known/security.txt")],
    )
        .into_response()
}

/// An advisory as the public pages show it.
struct AdvisoryView {
    id: String,
    title: String,
    summary: String,
    impact: String,
    remediation: String,
    published: String,
    updated: String,
    changed: bool,
}

impl AdvisoryView {
    fn of(a: &PublicAdvisory) -> Self {
        let published = disclosure::rfc3339(a.published_at);
        let updated = disclosure::rfc3339(a.updated_at.max(a.published_at));
        AdvisoryView {
            id: a.id.to_string(),
            title: a.text.title.clone(),
            summary: a.text.summary.clone(),
            impact: a.text.impact.clone(),
            remediation: a.text.remediation.clone(),
            changed: published != updated,
            published,
            updated,
        }
    }
}

#[derive(Template)]
#[template(path = "public/advisories.html")]
struct AdvisoriesPage {
    publisher: String,
    advisories: Vec<AdvisoryView>,
}

#[derive(Template)]
#[template(path = "public/advisory.html")]
struct AdvisoryPage {
    publisher: String,
    a: AdvisoryView,
}

/// `GET /advisories`.
async fn list_advisories(State(state): State<AppState>) -> Response {
    let d = match configured(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match published(&state).await {
        Ok(all) => render(
            StatusCode::OK,
            &AdvisoriesPage {
                publisher: d.publisher().name.clone(),
                advisories: all.iter().map(AdvisoryView::of).collect(),
            },
        ),
        Err(r) => *r,
    }
}

/// `GET /advisories/{id}`.
async fn show_advisory(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let d = match configured(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match published_one(&state, &id).await {
        Ok(a) => render(
            StatusCode::OK,
            &AdvisoryPage {
                publisher: d.publisher().name.clone(),
                a: AdvisoryView::of(&a),
            },
        ),
        Err(r) => *r,
    }
}

/// `GET /advisories.atom`.
async fn atom(State(state): State<AppState>) -> Response {
    let d = match configured(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match published(&state).await {
        Ok(all) => body(
            "application/atom+xml; charset=utf-8",
            "public, max-age=300",
            d.atom(&all, time::OffsetDateTime::now_utc()),
        ),
        Err(r) => *r,
    }
}

/// `GET /advisories/{id}/csaf.json`.
async fn advisory_csaf(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let d = match configured(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match published_one(&state, &id).await {
        Ok(a) => json_body(&d.csaf(&a)),
        Err(r) => *r,
    }
}

/// `GET /.well-known/csaf/provider-metadata.json`.
async fn provider_metadata(State(state): State<AppState>) -> Response {
    let d = match configured(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match published(&state).await {
        Ok(all) => json_body(&d.provider_metadata(&all, time::OffsetDateTime::now_utc())),
        Err(r) => *r,
    }
}

/// `GET /.well-known/csaf/white/index.txt`.
async fn csaf_index(State(state): State<AppState>) -> Response {
    if let Err(r) = configured(&state) {
        return *r;
    }
    match published(&state).await {
        Ok(all) => body(
            "text/plain; charset=utf-8",
            "public, max-age=300",
            disclosure::csaf_index(&all),
        ),
        Err(r) => *r,
    }
}

/// `GET /.well-known/csaf/white/changes.csv`.
async fn csaf_changes(State(state): State<AppState>) -> Response {
    if let Err(r) = configured(&state) {
        return *r;
    }
    match published(&state).await {
        Ok(all) => body(
            "text/csv; charset=utf-8",
            "public, max-age=300",
            disclosure::csaf_changes(&all),
        ),
        Err(r) => *r,
    }
}

/// `GET /.well-known/csaf/white/{year}/{file}`: a document by its directory
/// path (`2026/wp-2026-0001.json`); any other path is 404.
async fn csaf_file(
    State(state): State<AppState>,
    Path((year, file)): Path<(String, String)>,
) -> Response {
    let d = match configured(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let Some(id) = file
        .strip_suffix(".json")
        .map(str::to_uppercase)
        .filter(|id| id.starts_with("WP-"))
    else {
        return not_found();
    };
    match published_one(&state, &id).await {
        Ok(a) if Disclosure::csaf_path(&a) == format!("{year}/{file}") => json_body(&d.csaf(&a)),
        Ok(_) => not_found(),
        Err(r) => *r,
    }
}
