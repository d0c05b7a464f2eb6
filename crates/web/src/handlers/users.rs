//! Users (admins only): list, create with a first token, disable.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use incidents::{NewUser, TokenHash};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::token;
use crate::types::{CreatedUserResponse, NewUserRequest, UserResponse};

/// `GET /api/v1/users`.
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserResponse>>, ApiError> {
    let users = state.store.list_users(&caller.viewer()).await?;
    Ok(Json(users.into_iter().map(Into::into).collect()))
}

/// `POST /api/v1/users`: the token is in the answer and nowhere else.
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<NewUserRequest>,
) -> Result<(StatusCode, Json<CreatedUserResponse>), ApiError> {
    let viewer = caller.viewer();
    let user = state
        .store
        .create_user(
            &viewer,
            NewUser {
                name: request.name,
                role: request.role,
            },
        )
        .await?;
    let token = token::generate();
    state
        .store
        .create_token(&viewer, user.id, "api", TokenHash::of(&token))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUserResponse {
            user: user.into(),
            token,
        }),
    ))
}

/// `POST /api/v1/users/{name}/disable`.
pub async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    let viewer = caller.viewer();
    let user = state.store.get_user_by_name(&viewer, &name).await?;
    if user.id == caller.user.id {
        return Err(ApiError::Conflict("you cannot disable yourself".to_owned()));
    }
    Ok(Json(
        state
            .store
            .set_user_disabled(&viewer, user.id, true)
            .await?
            .into(),
    ))
}
