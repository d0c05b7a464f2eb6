//! Users (admins only): list, create with a first token, disable, set a
//! role; and the two-person grants of need-to-know roles (admins and
//! responders ask, responders approve).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use incidents::{NewUser, RoleGrantId, TokenHash};

use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;
use crate::token;
use crate::types::{
    CreatedUserResponse, NewUserRequest, RoleChangeRequest, RoleGrantRequest, RoleGrantResponse,
    UserResponse,
};

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
    // The store refuses disabling yourself (409).
    Ok(Json(
        state
            .store
            .set_user_disabled(&viewer, user.id, true)
            .await?
            .into(),
    ))
}

/// `PUT /api/v1/users/{name}/role`.
pub async fn set_user_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(request): Json<RoleChangeRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let viewer = caller.viewer();
    let user = state.store.get_user_by_name(&viewer, &name).await?;
    Ok(Json(
        state
            .store
            .set_user_role(&viewer, user.id, request.role)
            .await?
            .into(),
    ))
}

/// `GET /api/v1/role-grants`.
pub async fn list_role_grants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RoleGrantResponse>>, ApiError> {
    let grants = state.store.list_role_grants(&caller.viewer()).await?;
    Ok(Json(grants.into_iter().map(Into::into).collect()))
}

/// `POST /api/v1/role-grants`.
pub async fn create_role_grant(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<RoleGrantRequest>,
) -> Result<(StatusCode, Json<RoleGrantResponse>), ApiError> {
    let viewer = caller.viewer();
    let user = match state.store.get_user_by_name(&viewer, &request.user).await {
        Ok(user) => user,
        Err(incidents::StoreError::NotFound(_)) => {
            return Err(ApiError::Conflict(format!(
                "no user named {:?}",
                request.user
            )));
        }
        Err(other) => return Err(other.into()),
    };
    let grant = state
        .store
        .request_role(&viewer, user.id, request.role)
        .await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

/// `POST /api/v1/role-grants/{id}/approve`: the user's one new token is in
/// the answer and nowhere else.
pub async fn approve_role_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CreatedUserResponse>, ApiError> {
    let id: RoleGrantId = id.parse().map_err(|_| ApiError::NotFound)?;
    let token = token::generate();
    let (user, _) = state
        .store
        .approve_role(&caller.viewer(), id, TokenHash::of(&token))
        .await?;
    Ok(Json(CreatedUserResponse {
        user: user.into(),
        token,
    }))
}

/// `POST /api/v1/role-grants/{id}/reject`.
pub async fn reject_role_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RoleGrantResponse>, ApiError> {
    let id: RoleGrantId = id.parse().map_err(|_| ApiError::NotFound)?;
    Ok(Json(
        state.store.reject_role(&caller.viewer(), id).await?.into(),
    ))
}
