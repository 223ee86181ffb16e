//! Login, logout and "who am I".

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::views::{TokenView, UserView, WorkspaceView};
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// Credentials to sign in with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    /// The account's email address.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// Who is signed in and where they may go.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The user (a token created by a user that still exists shows that user).
    pub user: Option<UserView>,
    /// The API token the request was made with, if it was.
    pub token: Option<TokenView>,
    /// The workspaces the caller can act in, with its role there.
    pub workspaces: Vec<WorkspaceView>,
}

/// The workspaces a caller can act in.
pub(super) async fn workspaces_of(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<WorkspaceView>, ApiError> {
    Ok(match caller {
        Caller::Anonymous => Vec::new(),
        Caller::Session { user, .. } => state
            .store
            .global()
            .workspaces_of(user.id)
            .await?
            .into_iter()
            .map(|(ws, role)| WorkspaceView::new(ws, role))
            .collect(),
        Caller::Token(t) => state
            .store
            .global()
            .workspace(t.workspace_id)
            .await?
            .map(|ws| WorkspaceView::new(ws, t.role))
            .into_iter()
            .collect(),
    })
}

/// Signs in: sets the `bitwobbly_session` cookie (HttpOnly, SameSite=Lax, Secure when the
/// server is reached over https) and answers who signed in.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()),
    request_body = LoginInput,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionView),
        (status = 401, description = "Wrong email or password", body = super::ErrorBody),
        (status = 429, description = "Too many attempts for this email or address", body = super::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    auth::ClientAddr(addr): auth::ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Response, ApiError> {
    // A browser that says where the form came from must say it came from here.
    if (headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN))
        && !auth::same_origin(&state, &headers)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "sign-in must come from this site",
        ));
    }
    auth::check_login_limit(&state, &input.email, addr)?;
    let Some(user) = state
        .store
        .global()
        .verify_login(&input.email, &input.password)
        .await?
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong email or password",
        ));
    };
    let ttl = state.config.auth.session_ttl;
    let (session, secret) = state
        .store
        .global()
        .create_session(user.id, state.clock.now(), ttl)
        .await?;
    let caller = Caller::Session {
        user: user.clone(),
        session,
    };
    let body = SessionView {
        user: Some(UserView::from(user)),
        token: None,
        workspaces: workspaces_of(&state, &caller).await?,
    };
    let cookie = auth::session_set_cookie(&state, secret.expose(), ttl);
    let mut res = Json(body).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(&e))?,
    );
    Ok(res)
}

/// Signs out: ends the session of the cookie and clears it.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(()),
    responses((status = 204, description = "Signed out (also when there was no session)")))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let (Caller::Session { .. }, Some(secret)) = (&caller, auth::session_cookie(&headers)) {
        state.store.global().delete_session(&secret).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::session_clear_cookie(&state))
            .map_err(|e| ApiError::internal(&e))?,
    );
    Ok(res)
}

/// The caller: the signed-in user or the API token, and their workspaces.
#[utoipa::path(get, path = "/me", tag = "auth",
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = super::ErrorBody),
    ))]
pub async fn me(
    State(state): State<AppState>,
    auth::Authenticated(caller): auth::Authenticated,
) -> Result<Json<SessionView>, ApiError> {
    let (user, token) = match &caller {
        Caller::Session { user, .. } => (Some(user.clone()), None),
        Caller::Token(t) => {
            let user = match t.created_by {
                Some(id) => state.store.global().user(id).await?,
                None => None,
            };
            (user, Some(TokenView::from(t.clone())))
        }
        Caller::Anonymous => (None, None),
    };
    Ok(Json(SessionView {
        user: user.map(UserView::from),
        token,
        workspaces: workspaces_of(&state, &caller).await?,
    }))
}
