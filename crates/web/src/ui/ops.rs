//! Planned pages (see [`super`]).

use axum::Router;

use crate::state::AppState;

/// This module's page routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
