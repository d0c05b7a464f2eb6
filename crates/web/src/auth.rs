//! Authentication and authorisation, enforced once for every route.
//!
//! [`authorize`] runs after routing: it finds the matched route in the
//! table ([`crate::routes::find`]), lets public routes through, and
//! otherwise requires `Authorization: Bearer wp_...`. The token is hashed
//! and looked up by hash in the store; an unknown, revoked or malformed
//! token, or a disabled user, is 401. A role the route does not list is 403.
//! The authenticated [`Caller`] is put in the request for handlers.
//!
//! Handlers read the caller through [`crate::caller`], not through this
//! module: this module reads the route table, which names the handlers.
//!
//! Resource-level visibility is not decided here: the store answers
//! "not found" for what the caller may not see.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use incidents::user::TokenHash;

pub use crate::caller::Caller;
use crate::error::ApiError;
use crate::routes::{self, Access};
use crate::state::AppState;
use crate::token;

/// The middleware that enforces the route table's access rules.
pub async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(route) = matched
        .as_ref()
        .and_then(|m| routes::find(request.method(), m.as_str()))
    else {
        // A known path with another method: the router answers 405 anyway.
        if matched
            .as_ref()
            .is_some_and(|m| routes::ROUTES.iter().any(|r| r.path == m.as_str()))
        {
            return ApiError::MethodNotAllowed.into_response();
        }
        // The router is built from the table, so this cannot happen; refuse
        // rather than serve a route nobody declared.
        return ApiError::internal(format!(
            "route {} {:?} has no entry in the route table",
            request.method(),
            matched.as_ref().map(MatchedPath::as_str)
        ))
        .into_response();
    };
    let Access::Roles(_) = route.access else {
        return next.run(request).await;
    };
    let caller = match authenticate(&state, request.headers().get(AUTHORIZATION)).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if !route.access.allows(caller.user.role) {
        return ApiError::Forbidden(format!(
            "the {} role may not call {} {}",
            caller.user.role, route.method, route.path
        ))
        .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

async fn authenticate(
    state: &AppState,
    header: Option<&axum::http::HeaderValue>,
) -> Result<Caller, ApiError> {
    let value = header
        .and_then(|h| h.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || !token::looks_valid(token) {
        return Err(ApiError::Unauthorized);
    }
    let (user, viewer) = state
        .store
        .authenticate(TokenHash::of(token))
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::Unauthorized)?;
    if user.disabled || viewer.is_system() {
        return Err(ApiError::Unauthorized);
    }
    Ok(Caller { user })
}
