//! API tokens: list a user's, issue, revoke, rotate. Anyone may manage
//! their own; admins may list and revoke anyone's, but only a token's owner
//! issues or rotates it (an admin holding another user's token would read
//! what that user may read). The store decides; a token or user the caller
//! may not see is 404. A new token is in the answer and nowhere else.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use incidents::{NewToken, TokenHash, TokenId};
use time::{Duration, OffsetDateTime};

use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::handlers::parse_id;
use crate::state::AppState;
use crate::token::{self, MAX_EXPIRES_IN_DAYS};
use crate::types::{CreatedTokenResponse, NewTokenRequest, TokenResponse};

/// `GET /api/v1/users/{name}/tokens`: revoked and expired ones included,
/// oldest first.
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<TokenResponse>>, ApiError> {
    let viewer = caller.viewer();
    let user = state.store.get_user_by_name(&viewer, &name).await?;
    let tokens = state.store.list_tokens(&viewer, user.id).await?;
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

/// The expiry a request asks for: at most one of the two fields.
fn expiry(
    request: &NewTokenRequest,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ApiError> {
    match (request.expires_at, request.expires_in_days) {
        (Some(_), Some(_)) => Err(ApiError::Unprocessable(
            "give expires_at or expires_in_days, not both".to_owned(),
        )),
        (Some(at), None) if at <= now => Err(ApiError::Conflict(
            "expires_at: must be in the future".to_owned(),
        )),
        (Some(at), None) => Ok(Some(at)),
        (None, Some(days @ 1..=MAX_EXPIRES_IN_DAYS)) => {
            Ok(Some(now + Duration::days(i64::from(days))))
        }
        (None, Some(_)) => Err(ApiError::Unprocessable(format!(
            "expires_in_days: must be between 1 and {MAX_EXPIRES_IN_DAYS}"
        ))),
        (None, None) => Ok(None),
    }
}

/// `POST /api/v1/users/{name}/tokens`.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(request): Json<NewTokenRequest>,
) -> Result<(StatusCode, Json<CreatedTokenResponse>), ApiError> {
    let viewer = caller.viewer();
    let expires_at = expiry(&request, OffsetDateTime::now_utc())?;
    let user = state.store.get_user_by_name(&viewer, &name).await?;
    let secret = token::generate();
    let issued = state
        .store
        .issue_token(
            &viewer,
            user.id,
            NewToken {
                label: request.label.unwrap_or_else(|| "api".to_owned()),
                hash: TokenHash::of(&secret),
                expires_at,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenResponse {
            api_token: issued.into(),
            token: secret,
        }),
    ))
}

/// `DELETE /api/v1/tokens/{id}`: answers the revoked token.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenResponse>, ApiError> {
    let viewer = caller.viewer();
    let id: TokenId = parse_id(&id)?;
    state.store.revoke_token(&viewer, id).await?;
    Ok(Json(state.store.get_token(&viewer, id).await?.into()))
}

/// `POST /api/v1/tokens/{id}/rotate`: revokes the token and answers a new
/// one with the same label and lifetime.
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CreatedTokenResponse>), ApiError> {
    let viewer = caller.viewer();
    let id: TokenId = parse_id(&id)?;
    let secret = token::generate();
    let issued = state
        .store
        .rotate_token(&viewer, id, TokenHash::of(&secret))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenResponse {
            api_token: issued.into(),
            token: secret,
        }),
    ))
}
