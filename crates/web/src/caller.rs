//! The authenticated caller of a request, as handlers read it. The
//! authorisation middleware ([`crate::auth::authorize`]) puts it in the
//! request after checking the token and the route's roles.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use incidents::access::Viewer;
use incidents::user::User;

use crate::error::ApiError;

/// The authenticated user making the request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
}

impl Caller {
    /// The store viewer for this caller.
    pub fn viewer(&self) -> Viewer {
        Viewer::new(self.user.id, self.user.role)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}
