//! Web: the HTTP JSON API under `/api/v1`, and the web pages ([`ui`]). The
//! only crate that knows status codes and response shapes.
//!
//! - [`routes::ROUTES`] is the one route table: method, path, summary, who
//!   may call it, and the handler. [`router`] is built from it alone.
//! - [`auth::authorize`] enforces the table's roles on every request;
//!   handlers read the authenticated [`caller::Caller`] (so no handler
//!   depends on the route table that names it).
//! - [`error::ApiError`] is the one error format, `{"error":{"code","message"}}`,
//!   also for 404/405/408/413 answered by the framework (rewritten by a
//!   middleware).
//! - Every request has a time limit ([`RouterOptions::request_timeout`],
//!   default 30 s) covering reading the body and handling it. Past it the
//!   handler is dropped (an open store transaction rolls back) and the
//!   answer is 408 `request_timeout`: 408 rather than 503 because at this
//!   limit the usual cause is a client that stops sending its body; a
//!   stalled database ends the same way and is logged as a warning.
//! - Every answer is counted by status ([`stats`]): refused credentials,
//!   oversized bodies and other bad input are counted, and admins read the
//!   counts at `GET /api/v1/stats`.
//! - Slack's `/incident` command and its buttons ([`slack`]) are two
//!   routes outside the table: Slack's request signature is their access
//!   check.
//! - Request and response types ([`types`]) are this crate's own; domain
//!   types are never serialised raw.
//!
//! This crate must not contain SQL: it talks to `incidents::Store` only, and
//! the store enforces need-to-know visibility.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub mod auth;
pub mod caller;
pub mod disclosure;
pub mod error;
pub mod events;
pub mod extract;
mod handlers;
pub mod mail_reply;
pub mod openapi;
mod public;
pub mod public_url;
pub mod routes;
pub mod schema;
mod sla;
pub mod slack;
mod state;
mod state_checks;
pub mod stats;
pub mod token;
pub mod types;
pub mod ui;

pub use error::ApiError;
pub use public::UserCheckPages;
pub use public_url::PublicUrl;
pub use state::{ApiDocument, AppState};

/// The default largest request body: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The default time limit of a request: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits applied to every request; [`RouterOptions::default`] works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterOptions {
    /// The largest request body in bytes; larger is 413. File uploads are
    /// limited by the store's attachment cap instead.
    pub max_body_bytes: usize,
    /// How long reading and handling a request may take; longer is 408.
    pub request_timeout: Duration,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Builds the API router from the route table, with authorisation, the
/// body size limit, the default request time limit and uniform errors.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    router_with(
        state,
        RouterOptions {
            max_body_bytes,
            ..RouterOptions::default()
        },
    )
}

/// [`router`] with every limit given.
///
/// Body limits are per route ([`routes::Route::body_limit`]): file uploads
/// may be as large as the store's attachment cap
/// ([`incidents::Store::max_attachment_bytes`]), every other route takes
/// [`RouterOptions::max_body_bytes`]. A body announced larger than both is
/// refused before authentication.
pub fn router_with(state: AppState, options: RouterOptions) -> Router {
    router_with_stats(state, options, Arc::default())
}

/// [`router_with`] counting into `stats`, which the caller shares with the
/// listener (it counts connections refused over the connection cap there).
pub fn router_with_stats(
    state: AppState,
    options: RouterOptions,
    stats: Arc<stats::RequestStats>,
) -> Router {
    let attachment_bytes = state.store.max_attachment_bytes();
    let event_bytes = state
        .events
        .as_ref()
        .map_or(options.max_body_bytes, |sink| sink.max_body_bytes());
    let largest_body = options
        .max_body_bytes
        .max(attachment_bytes)
        .max(event_bytes);
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for route in routes::ROUTES {
        let limit = match route.body_limit {
            routes::BodyLimit::Standard => options.max_body_bytes,
            routes::BodyLimit::Attachment => attachment_bytes,
            routes::BodyLimit::Events => event_bytes,
        };
        let handler = (route.handler)().route_layer(RequestBodyLimitLayer::new(limit));
        let merged = match by_path.remove(route.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(route.path, merged);
    }
    let mut router = Router::new();
    for (path, method_router) in by_path {
        router = router.route(path, method_router);
    }
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .merge(ui::router(state.clone()))
        .merge(slack::router())
        .merge(public::router())
        .fallback(fallback)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(largest_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        .layer(middleware::from_fn(uniform_errors))
        .layer(middleware::from_fn_with_state(stats.clone(), stats::count))
        .layer(axum::Extension(stats))
        .layer(axum::Extension(ApiDocument(Arc::new(openapi::document()))))
        .with_state(state)
}

/// A path nobody serves: the API's 404, or for a page path the pages'
/// (anonymous callers are sent to sign in).
async fn fallback(request: Request) -> Response {
    if ui::is_page_path(request.uri().path()) {
        ui::not_found(request).await
    } else {
        ApiError::NotFound.into_response()
    }
}

/// Rewrites error responses produced outside our handlers (405 from the
/// router, 408 from the time limit, 413 from the body limit) into the API's
/// error format; a 413 on a page path is the pages' "too large" page.
async fn uniform_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    // JSON is the API's own error; HTML is a page's.
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE && ui::is_page_path(&path) {
        return ui::too_large();
    }
    let error = match status.as_u16() {
        401 => ApiError::Unauthorized,
        404 => ApiError::NotFound,
        413 => ApiError::PayloadTooLarge,
        405 => ApiError::MethodNotAllowed,
        408 => {
            tracing::warn!(%method, %path, "request timed out");
            ApiError::RequestTimeout
        }
        s if s >= 500 => ApiError::Internal(format!("framework answered {status}")),
        _ => ApiError::BadRequest(
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_owned(),
        ),
    };
    let mut rewritten = error.into_response();
    *rewritten.status_mut() = status;
    rewritten
}
