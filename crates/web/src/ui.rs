//! The web pages: server-rendered HTML (askama templates in
//! `crates/web/templates/`), no JavaScript needed, no external resources.
//!
//! Built today: sign-in with a local password (`/login`, `/logout`), the
//! first admin's one-time password link (`/setup`), the report form
//! (`/report`), the reporter's own reports (`/my-reports`), the responder
//! pages ([`responder`]: the incident queue `/incidents`, one incident
//! `/incidents/{id}` with the forms that move it, and the alert queue
//! `/alerts`), the operations pages ([`ops`]: `/sources`, `/rules`,
//! `/coverage`, `/audit`), users and roles ([`admin`]: `/admin/users`, with
//! the two-person approval of a need-to-know role), the charts ([`stats`]:
//! `/stats`, SVG drawn on the server), and single sign-on ([`oidc`]:
//! `/login/oidc`, when `[oidc]` is configured).
//!
//! - Pages read the store through the same calls as the API, as the
//!   signed-in user's [`incidents::access::Viewer`]: the store's
//!   need-to-know rules are the pages' rules too.
//! - A session is a random 256-bit id in the `__Host-wp_session` cookie
//!   (`Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`); the store keeps only
//!   its SHA-256, with a CSRF token, an absolute expiry ([`SESSION_TTL`])
//!   and an idle limit ([`SESSION_IDLE`]). Signing in always makes a new
//!   id ([`session`]).
//! - Every form carries a CSRF token (the session's, or before sign-in a
//!   token bound to the `__Host-wp_login` cookie), and every POST is
//!   refused when `Origin` names another host or `Sec-Fetch-Site` says
//!   `cross-site` ([`session::same_origin`]).
//! - Failed sign-ins are limited per user name and per address
//!   ([`session::Throttle`]).
//! - Every page is sent with a Content-Security-Policy that allows only
//!   this server's own styles and scripts (htmx, served from the binary;
//!   no inline or evaluated script) and nothing else, refuses framing, and is
//!   not cached ([`security_headers`]).
//! - An anonymous request for any page other than `/login` is redirected
//!   to `/login` with 303.

mod admin;
pub mod oidc;
mod ops;
mod pages;
mod responder;
pub(crate) mod session;
mod stats;

pub use session::same_secret;

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::http::header::{self, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use incidents::enums::Role;

use crate::state::AppState;

pub use crate::state::AdminSetup;
pub use session::{SESSION_IDLE, SESSION_TTL};

/// The page paths built today.
pub const PAGES: &[&str] = &[
    "/login",
    "/logout",
    "/report",
    "/my-reports",
    "/setup",
    "/incidents",
    "/incidents/{id}",
    "/alerts",
    "/sources",
    "/rules",
    "/coverage",
    "/audit",
    "/stats",
    "/admin/users",
];

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (hashing a huge one would be work for
/// nothing).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes a new password with Argon2id (the crate's defaults: 19 MiB,
/// 2 passes, 1 lane, as OWASP recommends) and a random salt, as a PHC
/// string. Refuses a password shorter than [`MIN_PASSWORD_CHARS`] or
/// longer than [`MAX_PASSWORD_BYTES`].
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "a password may have at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    pages::hash(password)
}

/// The stylesheet, served from the binary.
const CSS: &str = include_str!("../static/app.css");

/// htmx, vendored unchanged from npm (see `static/README.md`), served from
/// the binary: the CSP allows no inline or evaluated script.
const HTMX: &str = include_str!("../static/htmx.min.js");

/// The Content-Security-Policy of every page.
/// Scripts only from this origin (htmx), and htmx's requests only to it.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages' router. Merged into the API router by [`crate::router_with_stats`].
pub(crate) fn router(state: AppState) -> Router<AppState> {
    let throttle = std::sync::Arc::new(session::Throttle::default());
    Router::new()
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", get(pages::logout_form).post(pages::logout))
        .route("/report", pages::report_route(&state))
        .route("/my-reports", get(pages::my_reports))
        .route("/setup", get(pages::setup_form).post(pages::setup))
        .route("/", get(pages::home))
        .route("/static/app.css", get(stylesheet))
        .route("/static/htmx.min.js", get(htmx))
        .route("/favicon.ico", get(no_icon))
        .merge(responder::routes())
        .merge(ops::routes())
        .merge(admin::routes())
        .merge(stats::routes())
        .merge(oidc::routes())
        .layer(axum::Extension(throttle))
        .layer(middleware::from_fn(oidc::offer))
        .layer(middleware::from_fn_with_state(state, session::load_session))
        .layer(middleware::from_fn(security_headers))
}

/// Any other path that is not the API's: a page that does not exist
/// (yet). Anonymous callers are sent to `/login`, as for every page.
pub(crate) async fn not_found(request: Request) -> Response {
    let signed_in = session::has_session_cookie(request.headers());
    let mut response = if signed_in {
        pages::not_found_page()
    } else {
        pages::to_login()
    };
    set_security_headers(response.headers_mut());
    response
}

/// The page for a body refused by the server's outer limit on a page
/// path (the API's paths get the API's JSON error).
pub(crate) fn too_large() -> Response {
    let mut response = pages::too_large_page();
    set_security_headers(response.headers_mut());
    response
}

/// True when `path` belongs to the pages rather than the API.
pub(crate) fn is_page_path(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/v1/")
        || path == "/metrics"
        || path.starts_with("/slack/")
        || path.starts_with("/.well-known/"))
}

/// Browsers ask for `/favicon.ico` on their own: there is none (and it
/// must not be sent to sign in, which would start a second sign-in form).
async fn no_icon() -> Response {
    (
        axum::http::StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        HTMX,
    )
        .into_response()
}

/// Whether `role` may call the API route `method path` (a path of the
/// route table, e.g. `/api/v1/incidents/{id}`). A page that shows or
/// changes what an API route does asks this, so the pages and the API
/// share one rulebook: the route table's. An unknown route allows no one.
pub(crate) fn api_allows(role: Role, method: Method, path: &str) -> bool {
    crate::routes::find(&method, path).is_some_and(|route| route.access.allows(role))
}

/// A link of the main navigation.
pub(crate) struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// This is the page being shown (`aria-current="page"`).
    pub current: bool,
}

/// The main navigation of a signed-in page: who is signed in, and the
/// pages their role may open (by the API routes those pages use).
pub(crate) struct Nav {
    pub user: String,
    pub links: Vec<NavLink>,
}

impl Nav {
    /// The navigation for `session`, with `current` (a page path) marked.
    pub(crate) fn new(session: &session::Session, current: &str) -> Nav {
        let role = session.caller.user.role;
        // (page, label, the API route the page reads)
        const LINKS: &[(&str, &str, &str)] = &[
            ("/report", "Report something", "/api/v1/reports"),
            ("/my-reports", "My reports", "/api/v1/reports"),
            // The queue is for staff: the alerts route's roles.
            ("/incidents", "Incidents", "/api/v1/alerts"),
            ("/alerts", "Alerts", "/api/v1/alerts"),
            ("/sources", "Sources", "/api/v1/sources"),
            ("/rules", "Rules", "/api/v1/coverage"),
            ("/coverage", "Coverage", "/api/v1/coverage"),
            ("/stats", "Stats", "/api/v1/metrics"),
            ("/audit", "Audit", "/api/v1/audit"),
            ("/admin/users", "Users", "/api/v1/users"),
            // Responders approve need-to-know roles there; admins have the
            // link above.
            ("/admin/users", "Role requests", "/api/v1/role-grants"),
        ];
        let mut seen = std::collections::HashSet::new();
        let links = LINKS
            .iter()
            .filter(|(_, _, api)| api_allows(role, Method::GET, api))
            .filter(|(href, _, _)| seen.insert(*href))
            .map(|&(href, label, _)| match (role, href) {
                // The Head of Finance & Operations is there for the
                // need-to-know cases: their queue opens on those.
                (Role::FinanceOps, "/incidents") => NavLink {
                    href: "/incidents?sensitive=true",
                    label: "Sensitive cases",
                    current: href == current,
                },
                _ => NavLink {
                    href,
                    label,
                    current: href == current,
                },
            })
            .collect();
        Nav {
            user: session.caller.user.name.clone(),
            links,
        }
    }
}

/// Adds the pages' security headers to every answer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set_security_headers(response.headers_mut());
    response
}

fn set_security_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
