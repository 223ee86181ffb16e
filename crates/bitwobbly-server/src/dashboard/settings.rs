//! Dashboard pages: workspace settings — the name, members and their roles, invitations by
//! email, API tokens. Every change goes through the functions the API's handlers use, so the
//! rules (admin to manage, owner for the owner role, the last owner stays) are the same.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use bitwobbly_store::prelude::*;
use serde::Deserialize;

use super::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, mail, redirect_with, render_status,
};
use crate::AppState;
use crate::api::views::ApiRole;
use crate::api::workspaces::{self, NewTokenInput};
use crate::auth::{Manage, role_rank};
use crate::error::ApiError;

/// How long an invitation works.
const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Role names, lowest first.
const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/settings", get(workspace_page).post(rename))
        .route("/w/{ws}/settings/members", get(members_page))
        .route("/w/{ws}/settings/members/{user}/role", post(change_role))
        .route("/w/{ws}/settings/members/{user}/remove", post(remove))
        .route(
            "/w/{ws}/settings/invitations",
            get(invitations_page).post(invite),
        )
        .route("/w/{ws}/settings/invitations/{id}/delete", post(withdraw))
        .route(
            "/w/{ws}/settings/tokens",
            get(tokens_page).post(create_token),
        )
        .route("/w/{ws}/settings/tokens/{id}/revoke", post(revoke_token))
}

fn parse_role(field: &str, text: &str) -> Result<Role, FormErrors> {
    text.parse::<Role>().map_err(|_| {
        let mut e = FormErrors::new();
        e.add(
            field,
            format!("{field} must be one of {}", ROLES.join(", ")),
        );
        e
    })
}

fn parse_id(text: &str) -> Result<i64, DashError> {
    text.parse().map_err(|_| DashError::NotFound)
}

// === workspace ===

#[derive(Template)]
#[template(path = "dash/settings/workspace.html")]
struct WorkspacePage {
    layout: Layout,
    tab: &'static str,
    errors: FormErrors,
    name: String,
    role: String,
    can_manage: bool,
}

async fn workspace_page(dash: Dash) -> Response {
    render_status(
        StatusCode::OK,
        &workspace_view(&dash, FormErrors::new(), dash.workspace.name.clone()),
    )
}

fn workspace_view(dash: &Dash, errors: FormErrors, name: String) -> WorkspacePage {
    WorkspacePage {
        layout: dash.layout("Settings", Section::Settings),
        tab: "workspace",
        errors,
        name,
        role: dash.role.to_string(),
        can_manage: dash.require(Role::Admin).is_ok(),
    }
}

#[derive(Debug, Deserialize)]
struct NameInput {
    #[serde(default)]
    name: String,
}

/// `POST /w/{ws}/settings`: renames the workspace (admin), validated as the API does.
async fn rename(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(input): CsrfForm<NameInput>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    let name = match workspaces::validate_name("name", &input.name) {
        Ok(n) => n,
        Err(e) => {
            return form_error(&e, |errors| {
                workspace_view(&dash, errors, input.name.clone())
            });
        }
    };
    state
        .store
        .global()
        .rename_workspace(access.ws(), &name)
        .await?;
    Ok(redirect_with(
        &dash.url("/settings"),
        "The workspace is renamed.",
    ))
}

/// The form again with the API error's field message (422), or the error as a page.
fn form_error<T: Template>(
    e: &ApiError,
    page: impl FnOnce(FormErrors) -> T,
) -> Result<Response, DashError> {
    match FormErrors::from_api(e) {
        Some(errors) => Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(errors),
        )),
        None => Err(e.clone().into()),
    }
}

// === members ===

struct MemberRow {
    user_id: i64,
    email: String,
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "dash/settings/members.html")]
struct MembersPage {
    layout: Layout,
    tab: &'static str,
    members: Vec<MemberRow>,
    roles: [&'static str; 4],
    can_manage: bool,
}

async fn members_page(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    let members = workspaces::members_of(&state, dash.ws())
        .await?
        .into_iter()
        .map(|m| MemberRow {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: Role::from(m.role).to_string(),
        })
        .collect();
    let page = MembersPage {
        layout: dash.layout("Members", Section::Settings),
        tab: "members",
        members,
        roles: ROLES,
        can_manage: dash.require(Role::Admin).is_ok(),
    };
    Ok(render_status(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct RoleInput {
    #[serde(default)]
    role: String,
}

/// `POST .../members/{user}/role` (admin; owner for the owner role; the last owner stays).
async fn change_role(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, user)): Path<(String, String)>,
    CsrfForm(input): CsrfForm<RoleInput>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    let user = UserId(parse_id(&user)?);
    let role = parse_role("role", &input.role).map_err(|e| {
        DashError::Page(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.get("role").unwrap_or_default().to_owned(),
        )
    })?;
    let m = workspaces::change_member_role(&state, &access, user, role).await?;
    Ok(redirect_with(
        &dash.url("/settings/members"),
        &format!("{} is now {role}.", m.email),
    ))
}

/// `POST .../members/{user}/remove` (same rules).
async fn remove(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, user)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    let user = UserId(parse_id(&user)?);
    workspaces::remove_member_from(&state, &access, user).await?;
    if user == dash.user.id {
        return Ok(redirect_with("/app", "You left the workspace."));
    }
    Ok(redirect_with(
        &dash.url("/settings/members"),
        "The member is removed.",
    ))
}

// === invitations ===

struct InvitationRow {
    id: i64,
    email: String,
    role: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "dash/settings/invitations.html")]
struct InvitationsPage {
    layout: Layout,
    tab: &'static str,
    errors: FormErrors,
    email: String,
    role: String,
    roles: Vec<&'static str>,
    invitations: Vec<InvitationRow>,
    created_link: Option<String>,
}

/// The roles a member may hand out: up to their own.
fn grantable(dash: &Dash) -> Vec<&'static str> {
    ROLES
        .iter()
        .copied()
        .filter(|r| {
            r.parse::<Role>()
                .is_ok_and(|r| role_rank(r) <= role_rank(dash.role))
        })
        .collect()
}

async fn invitations_view(
    state: &AppState,
    dash: &Dash,
    errors: FormErrors,
    email: String,
    role: String,
    created_link: Option<String>,
) -> Result<InvitationsPage, DashError> {
    let invitations = state
        .store
        .global()
        .invitations(dash.ws(), state.clock.now())
        .await?
        .into_iter()
        .map(|t| InvitationRow {
            id: t.id,
            email: t.email,
            role: t.role.map(|r| r.to_string()).unwrap_or_default(),
            expires: super::account::when(t.expires_at),
        })
        .collect();
    Ok(InvitationsPage {
        layout: dash.layout("Invitations", Section::Settings),
        tab: "invitations",
        errors,
        email,
        role,
        roles: grantable(dash),
        invitations,
        created_link,
    })
}

async fn invitations_page(
    State(state): State<AppState>,
    dash: Dash,
) -> Result<Response, DashError> {
    dash.require(Role::Admin)?;
    let page = invitations_view(
        &state,
        &dash,
        FormErrors::new(),
        String::new(),
        "member".to_owned(),
        None,
    )
    .await?;
    Ok(render_status(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct InviteInput {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// `POST .../invitations`: a single-use link (7 days) mailed to the address, or shown to copy
/// when mail is not set up (admin; owner to invite an owner).
async fn invite(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(input): CsrfForm<InviteInput>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    let email = input.email.trim().to_lowercase();
    let mut errors = FormErrors::new();
    let valid = email.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !d.is_empty() && !email.contains(char::is_whitespace)
    }) && email.len() <= 254;
    if !valid {
        errors.add("email", "email must be an address like name@example.com");
    }
    let role = match parse_role("role", &input.role) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.add("role", e.get("role").unwrap_or_default());
            None
        }
    };
    if let Some(role) = role
        && let Err(e) = workspaces::check_owner_change(&access, None, Some(role))
    {
        errors.add("role", e.message);
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        let page = invitations_view(
            &state,
            &dash,
            errors,
            input.email.clone(),
            input.role.clone(),
            None,
        )
        .await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    if let Some(user) = state.store.global().user_by_email(&email).await?
        && state
            .store
            .workspace(dash.ws())
            .role_of(user.id)
            .await?
            .is_some()
    {
        let mut errors = FormErrors::new();
        errors.add(
            "email",
            "email belongs to a member already: change their role instead",
        );
        let page = invitations_view(
            &state,
            &dash,
            errors,
            input.email.clone(),
            input.role.clone(),
            None,
        )
        .await?;
        return Ok(render_status(StatusCode::CONFLICT, &page));
    }
    let (_, secret) = state
        .store
        .global()
        .create_account_token(
            &NewAccountToken {
                purpose: TokenPurpose::Invitation,
                user_id: None,
                email: &email,
                workspace_id: Some(dash.ws()),
                role: Some(role),
                created_by: Some(dash.user.id),
            },
            state.clock.now(),
            INVITATION_TTL,
        )
        .await?;
    let mut url = format!("{}/app/signup?invite=", state.config.public_url());
    url.extend(url::form_urlencoded::byte_serialize(
        secret.expose().as_bytes(),
    ));
    if mail::configured(&state) {
        let body = format!(
            "{} invites you to the Bit Wobbly workspace \"{}\" as {role}.\n\n\
             Accept here (the link works once, for 7 days):\n{url}\n",
            dash.user.name, dash.workspace.name
        );
        let subject = format!("Join {} on Bit Wobbly", dash.workspace.name);
        return Ok(match mail::send(&state, &email, &subject, &body).await {
            Ok(()) => redirect_with(
                &dash.url("/settings/invitations"),
                &format!("An invitation was sent to {email}."),
            ),
            Err(_) => {
                let page = invitations_view(
                    &state,
                    &dash,
                    FormErrors::new(),
                    String::new(),
                    "member".to_owned(),
                    Some(url),
                )
                .await?;
                render_status(StatusCode::OK, &page)
            }
        });
    }
    let page = invitations_view(
        &state,
        &dash,
        FormErrors::new(),
        String::new(),
        "member".to_owned(),
        Some(url),
    )
    .await?;
    Ok(render_status(StatusCode::CREATED, &page))
}

/// `POST .../invitations/{id}/delete`: withdraws an invitation of this workspace.
async fn withdraw(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    dash.access::<Manage>()?;
    if !state
        .store
        .global()
        .delete_invitation(dash.ws(), parse_id(&id)?)
        .await?
    {
        return Err(DashError::NotFound);
    }
    Ok(redirect_with(
        &dash.url("/settings/invitations"),
        "The invitation is withdrawn.",
    ))
}

// === API tokens ===

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    role: String,
    created: String,
    expires: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "dash/settings/tokens.html")]
struct TokensPage {
    layout: Layout,
    tab: &'static str,
    errors: FormErrors,
    name: String,
    role: String,
    expires_in: String,
    roles: Vec<&'static str>,
    tokens: Vec<TokenRow>,
    created: Option<String>,
}

async fn tokens_view(
    state: &AppState,
    dash: &Dash,
    errors: FormErrors,
    input: &TokenInput,
    created: Option<String>,
) -> Result<TokensPage, DashError> {
    let tokens = state
        .store
        .workspace(dash.ws())
        .api_tokens()
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.0,
            name: t.name,
            prefix: t.prefix,
            role: t.role.to_string(),
            created: super::account::when(t.created_at),
            expires: t
                .expires_at
                .map_or_else(|| "never".to_owned(), super::account::when),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    Ok(TokensPage {
        layout: dash.layout("API tokens", Section::Settings),
        tab: "tokens",
        errors,
        name: input.name.clone(),
        role: if input.role.is_empty() {
            "member".to_owned()
        } else {
            input.role.clone()
        },
        expires_in: input.expires_in.clone(),
        roles: grantable(dash),
        tokens,
        created,
    })
}

#[derive(Debug, Default, Deserialize)]
struct TokenInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    expires_in: String,
}

async fn tokens_page(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    dash.require(Role::Admin)?;
    let page = tokens_view(
        &state,
        &dash,
        FormErrors::new(),
        &TokenInput::default(),
        None,
    )
    .await?;
    Ok(render_status(StatusCode::OK, &page))
}

/// `POST .../tokens`: creates a token as the API does; its secret is shown on this answer
/// only.
async fn create_token(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(input): CsrfForm<TokenInput>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    let role = match parse_role("role", &input.role) {
        Ok(r) => r,
        Err(errors) => {
            let page = tokens_view(&state, &dash, errors, &input, None).await?;
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let api_input = NewTokenInput {
        name: input.name.clone(),
        role: Some(ApiRole::from(role)),
        expires_at: None,
        expires_in: Some(input.expires_in.trim().to_owned()).filter(|s| !s.is_empty()),
    };
    match workspaces::new_api_token(&state, &access, &api_input).await {
        Ok(created) => {
            let page = tokens_view(
                &state,
                &dash,
                FormErrors::new(),
                &TokenInput::default(),
                Some(created.secret),
            )
            .await?;
            Ok(render_status(StatusCode::CREATED, &page))
        }
        Err(e) if e.status == StatusCode::FORBIDDEN => {
            let mut errors = FormErrors::new();
            errors.add("role", e.message);
            let page = tokens_view(&state, &dash, errors, &input, None).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => {
            let errors = FormErrors::from_api(&e).ok_or_else(|| DashError::from(e.clone()))?;
            let page = tokens_view(&state, &dash, errors, &input, None).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST .../tokens/{id}/revoke`.
async fn revoke_token(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    let access = dash.access::<Manage>()?;
    workspaces::revoke_api_token(&state, &access, ApiTokenId(parse_id(&id)?)).await?;
    Ok(redirect_with(
        &dash.url("/settings/tokens"),
        "The token is revoked.",
    ))
}
