//! Dashboard pages: the way in (home redirect, sign-in, sign-out, first-run set-up).

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use bitwobbly_core::totp;
use bitwobbly_store::prelude::*;
use serde::Deserialize;

use super::mail;
use super::{
    CsrfForm, DashError, FormErrors, Guest, Layout, Signed, redirect, redirect_with, render_status,
    safe_next,
};
use crate::AppState;
use crate::auth;
use crate::ops::admin::{self, NewOwner};

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/setup", get(setup_form).post(setup))
        .route("/login/totp", get(totp_form).post(totp_login))
        .route("/forgot", get(forgot_form).post(forgot))
        .route("/reset", get(reset_form).post(reset))
        .route("/verify", get(verify_email))
        .route("/signup", get(signup_form).post(signup))
        .route("/account", get(account_page))
        .route("/account/password", post(change_password))
        .route("/account/verify-email", post(send_verification))
        .route("/account/totp", get(totp_page))
        .route("/account/totp/enable", post(totp_enable))
        .route("/account/totp/disable", post(totp_disable))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_other_sessions))
}

/// `res` with the session cookie of `secret` set.
pub(super) fn with_session(state: &AppState, mut res: Response, secret: &str) -> Response {
    let cookie = auth::session_set_cookie(state, secret, state.config.auth.session_ttl);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The first page of a signed-in user: their first workspace's monitors.
fn landing(workspaces: &[(Workspace, Role)]) -> String {
    workspaces.first().map_or_else(
        || "/app/account".to_owned(),
        |(ws, _)| format!("/app/w/{}/monitors", ws.slug),
    )
}

/// `GET /app/`: the first workspace when signed in, else sign-in (or set-up on a new server).
async fn home(
    State(state): State<AppState>,
    signed: Result<Signed, DashError>,
) -> Result<Response, DashError> {
    if let Ok(s) = signed {
        return Ok(redirect(&landing(&s.workspaces)));
    }
    if state.store.global().user_count().await? == 0 {
        return Ok(redirect("/app/setup"));
    }
    Ok(redirect("/app/login"))
}

// === sign-in ===

#[derive(Template)]
#[template(path = "dash/auth/login.html")]
struct LoginPage {
    layout: Layout,
    errors: FormErrors,
    email: String,
    next: String,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `GET /app/login`: the form (a signed-in visitor goes on at once).
async fn login_form(
    State(state): State<AppState>,
    guest: Guest,
    signed: Result<Signed, DashError>,
    Query(q): Query<NextQuery>,
) -> Response {
    if signed.is_ok() {
        return redirect(&safe_next(q.next.as_deref()));
    }
    let page = LoginPage {
        layout: guest.layout("Sign in"),
        errors: FormErrors::new(),
        email: String::new(),
        next: safe_next(q.next.as_deref()),
    };
    guest.respond(&state, render_status(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct LoginInput {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /app/login`: checks the password (rate-limited like the API's sign-in), opens a
/// session and goes on to `next` (a local path only).
async fn login(
    State(state): State<AppState>,
    guest: Guest,
    client: ClientInfo,
    auth::ClientAddr(addr): auth::ClientAddr,
    CsrfForm(input): CsrfForm<LoginInput>,
) -> Result<Response, DashError> {
    let next = safe_next(input.next.as_deref());
    let again = |errors: FormErrors, status: StatusCode| {
        let page = LoginPage {
            layout: guest.layout("Sign in"),
            errors,
            email: input.email.clone(),
            next: next.clone(),
        };
        render_status(status, &page)
    };
    let mut errors = FormErrors::new();
    if input.email.trim().is_empty() {
        errors.add("email", "Enter your email address.");
    }
    if input.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !errors.is_empty() {
        return Ok(again(errors, StatusCode::UNPROCESSABLE_ENTITY));
    }
    auth::check_login_limit(&state, &input.email, addr)?;
    let Some(user) = state
        .store
        .global()
        .verify_login(&input.email, &input.password)
        .await?
    else {
        errors.add("password", "Wrong email or password.");
        return Ok(again(errors, StatusCode::UNAUTHORIZED));
    };
    let now = state.clock.now();
    let two_factor = state
        .store
        .global()
        .user_security(user.id)
        .await?
        .is_some_and(|sec| sec.totp_enabled_at.is_some());
    if !two_factor {
        return open_session(&state, &user, &client, &next, None).await;
    }
    // The password was right; the code step follows. Until then there is no session.
    let (_, secret) = state
        .store
        .global()
        .create_account_token(
            &NewAccountToken {
                purpose: TokenPurpose::TwoFactor,
                user_id: Some(user.id),
                email: &user.email,
                workspace_id: None,
                role: None,
                created_by: None,
            },
            now,
            TWO_FACTOR_TTL,
        )
        .await?;
    let mut to = String::from("/app/login/totp?next=");
    to.extend(url::form_urlencoded::byte_serialize(next.as_bytes()));
    let mut res = redirect(&to);
    let secure = if auth::secure_cookies(&state) {
        "; Secure"
    } else {
        ""
    };
    let c = format!(
        "{TWO_FACTOR_COOKIE}={}; Path=/app; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        secret.expose(),
        TWO_FACTOR_TTL.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `POST /app/logout`: ends the session and clears its cookie.
async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    if let Some(secret) = auth::session_cookie(&headers) {
        state.store.global().delete_session(&secret).await?;
    }
    let mut res = redirect_with("/app/login", "You are signed out.");
    if let Ok(v) = HeaderValue::from_str(&auth::session_clear_cookie(&state)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

// === first-run set-up ===

#[derive(Template)]
#[template(path = "dash/auth/setup.html")]
struct SetupPage {
    layout: Layout,
    errors: FormErrors,
    token: String,
    email: String,
    name: String,
    workspace: String,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Refuses set-up once someone can sign in (the same answer as `/setup`).
async fn ensure_not_set_up(state: &AppState) -> Result<(), DashError> {
    if state.store.global().user_count().await? > 0 {
        return Err(DashError::NotFound);
    }
    Ok(())
}

/// `GET /app/setup?token=...`: the form creating the first administrator.
async fn setup_form(
    State(state): State<AppState>,
    guest: Guest,
    Query(q): Query<TokenQuery>,
) -> Result<Response, DashError> {
    ensure_not_set_up(&state).await?;
    let page = SetupPage {
        layout: guest.layout("Set up Bit Wobbly"),
        errors: FormErrors::new(),
        token: q.token.unwrap_or_default(),
        email: String::new(),
        name: String::new(),
        workspace: String::new(),
    };
    Ok(guest.respond(&state, render_status(StatusCode::OK, &page)))
}

#[derive(Debug, Deserialize)]
struct SetupInput {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    workspace: String,
}

/// `POST /app/setup`: uses the one-time token up (the logic of `/setup`), creates the
/// administrator and their workspace, and signs them in.
async fn setup(
    State(state): State<AppState>,
    guest: Guest,
    client: ClientInfo,
    auth::ClientAddr(addr): auth::ClientAddr,
    CsrfForm(input): CsrfForm<SetupInput>,
) -> Result<Response, DashError> {
    ensure_not_set_up(&state).await?;
    // Guessing tokens is limited like sign-in.
    auth::check_login_limit(&state, "setup", addr)?;
    let workspace = input.workspace.trim();
    let name = input.name.trim();
    let new = NewOwner {
        email: &input.email,
        name: (!name.is_empty()).then_some(name),
        password: &input.password,
        workspace_slug: None,
        workspace_name: (!workspace.is_empty()).then_some(workspace),
    };
    let now = state.clock.now();
    let (user, ws) =
        match admin::create_first_owner(&state.store, input.token.trim(), &new, now).await {
            Ok(created) => created,
            Err(e) => {
                let e = crate::ops::setup::admin_error(e);
                let Some(errors) = FormErrors::from_api(&e) else {
                    return Err(e.into());
                };
                let page = SetupPage {
                    layout: guest.layout("Set up Bit Wobbly"),
                    errors,
                    token: input.token.clone(),
                    email: input.email.clone(),
                    name: input.name.clone(),
                    workspace: input.workspace.clone(),
                };
                return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
            }
        };
    tracing::info!(user_id = user.id.0, workspace = %ws.slug, "first administrator created");
    open_session(
        &state,
        &user,
        &client,
        &format!("/app/w/{}/monitors", ws.slug),
        Some("Welcome! Your account and workspace are ready."),
    )
    .await
}

// === shared steps ===

/// How long a password-reset link works.
const RESET_TTL: Duration = Duration::from_secs(3600);
/// How long an email-verification link works.
const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long the code step of a sign-in may take.
const TWO_FACTOR_TTL: Duration = Duration::from_secs(300);
/// The cookie of a sign-in waiting for its code (the `two_factor` link's secret).
const TWO_FACTOR_COOKIE: &str = "bitwobbly_2fa";
/// How many recovery codes are made.
const RECOVERY_CODES: usize = 10;

/// Opens a session for `user` (recording the browser and address) and answers a redirect to
/// `next` carrying its cookie.
async fn open_session(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    next: &str,
    flash: Option<&str>,
) -> Result<Response, DashError> {
    let (session, secret) = state
        .store
        .global()
        .create_session(user.id, state.clock.now(), state.config.auth.session_ttl)
        .await?;
    state
        .store
        .global()
        .set_session_client(session.id, &client.agent, &client.ip)
        .await?;
    let res = match flash {
        Some(m) => redirect_with(next, m),
        None => redirect(next),
    };
    Ok(with_session(state, res, secret.expose()))
}

/// The browser and address of a request, for the sessions list.
#[derive(Debug, Clone, Default)]
struct ClientInfo {
    agent: String,
    ip: String,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            ip: auth::client_addr(parts)
                .map(|a| a.to_string())
                .unwrap_or_default(),
        })
    }
}

/// The password rules of every form that sets one (those of the first administrator).
fn check_new_password(password: &str, confirm: Option<&str>) -> FormErrors {
    let mut errors = FormErrors::new();
    if let Err(e) = admin::check_password(password) {
        errors.add("password", e.to_string());
    } else if confirm.is_some_and(|c| c != password) {
        errors.add("confirm", "The two passwords differ.");
    }
    errors
}

/// A message page.
#[derive(Template)]
#[template(path = "dash/auth/message.html")]
struct MessagePage {
    layout: Layout,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
}

fn message(
    layout: Layout,
    status: StatusCode,
    paragraphs: &[&str],
    link: Option<(&str, &str)>,
) -> Response {
    let page = MessagePage {
        layout,
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        link: link.map(|(h, t)| (h.to_owned(), t.to_owned())),
    };
    render_status(status, &page)
}

/// A link on this server for `path` + `?token=secret`.
fn link(state: &AppState, path: &str, key: &str, secret: &str) -> String {
    let mut url = format!("{}/app{path}?{key}=", state.config.public_url());
    url.extend(url::form_urlencoded::byte_serialize(secret.as_bytes()));
    url
}

// === two-factor sign-in ===

#[derive(Template)]
#[template(path = "dash/auth/totp.html")]
struct TotpLoginPage {
    layout: Layout,
    errors: FormErrors,
    next: String,
}

/// `GET /app/login/totp`: the code form of a sign-in whose password was right.
async fn totp_form(
    State(state): State<AppState>,
    guest: Guest,
    headers: axum::http::HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, DashError> {
    let Some(secret) = super::cookie(&headers, TWO_FACTOR_COOKIE) else {
        return Ok(redirect("/app/login"));
    };
    let pending = state
        .store
        .global()
        .account_token(&secret, TokenPurpose::TwoFactor, state.clock.now())
        .await?;
    if pending.is_none() {
        return Ok(redirect("/app/login"));
    }
    let page = TotpLoginPage {
        layout: guest.layout("Two-factor sign-in"),
        errors: FormErrors::new(),
        next: safe_next(q.next.as_deref()),
    };
    Ok(guest.respond(&state, render_status(StatusCode::OK, &page)))
}

#[derive(Debug, Deserialize)]
struct TotpLoginInput {
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /app/login/totp`: a TOTP code (each works once) or a recovery code (single use)
/// finishes the sign-in; attempts are limited like passwords.
async fn totp_login(
    State(state): State<AppState>,
    guest: Guest,
    client: ClientInfo,
    auth::ClientAddr(addr): auth::ClientAddr,
    headers: axum::http::HeaderMap,
    CsrfForm(input): CsrfForm<TotpLoginInput>,
) -> Result<Response, DashError> {
    let next = safe_next(input.next.as_deref());
    let now = state.clock.now();
    let Some(secret) = super::cookie(&headers, TWO_FACTOR_COOKIE) else {
        return Ok(redirect("/app/login"));
    };
    let Some(pending) = state
        .store
        .global()
        .account_token(&secret, TokenPurpose::TwoFactor, now)
        .await?
    else {
        return Ok(redirect_with(
            "/app/login",
            "The sign-in took too long. Sign in again.",
        ));
    };
    let user_id = pending.user_id.ok_or(DashError::Internal)?;
    auth::check_login_limit(&state, &format!("2fa:{}", pending.email), addr)?;
    let user = state
        .store
        .global()
        .user(user_id)
        .await?
        .ok_or(DashError::NotFound)?;
    let sec = state
        .store
        .global()
        .user_security(user_id)
        .await?
        .ok_or(DashError::NotFound)?;
    let mut errors = FormErrors::new();
    let passed = if !input.recovery_code.trim().is_empty() {
        let ok = state
            .store
            .global()
            .use_recovery_code(user_id, &input.recovery_code, now)
            .await?;
        if !ok {
            errors.add(
                "recovery_code",
                "This recovery code is wrong or was used already.",
            );
        }
        ok
    } else {
        let key = sec
            .totp_secret
            .as_deref()
            .filter(|_| sec.totp_enabled_at.is_some())
            .and_then(totp::base32_decode)
            .ok_or(DashError::Internal)?;
        let unix = u64::try_from(now.as_millis() / 1000).unwrap_or(0);
        match totp::verify(&key, &input.code, unix, 1) {
            Some(step) => {
                let fresh = state
                    .store
                    .global()
                    .use_totp_step(user_id, i64::try_from(step).unwrap_or(i64::MAX))
                    .await?;
                if !fresh {
                    errors.add("code", "This code was used already. Wait for the next one.");
                }
                fresh
            }
            None => {
                errors.add("code", "This code is wrong or expired.");
                false
            }
        }
    };
    if !passed {
        let page = TotpLoginPage {
            layout: guest.layout("Two-factor sign-in"),
            errors,
            next,
        };
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    if state
        .store
        .global()
        .consume_account_token(&secret, TokenPurpose::TwoFactor, now)
        .await?
        .is_none()
    {
        return Ok(redirect("/app/login"));
    }
    let mut res = open_session(&state, &user, &client, &next, None).await?;
    clear_cookie(&state, &mut res, TWO_FACTOR_COOKIE);
    Ok(res)
}

/// Appends a `Set-Cookie` removing `name` (set with path `/app`).
fn clear_cookie(state: &AppState, res: &mut Response, name: &str) {
    let secure = if auth::secure_cookies(state) {
        "; Secure"
    } else {
        ""
    };
    let c = format!("{name}=; Path=/app; HttpOnly; SameSite=Lax; Max-Age=0{secure}");
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

// === password reset ===

#[derive(Template)]
#[template(path = "dash/auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    errors: FormErrors,
    email: String,
    mail: bool,
}

/// `GET /app/forgot`.
async fn forgot_form(State(state): State<AppState>, guest: Guest) -> Response {
    let page = ForgotPage {
        layout: guest.layout("Reset your password"),
        errors: FormErrors::new(),
        email: String::new(),
        mail: mail::configured(&state),
    };
    guest.respond(&state, render_status(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct EmailInput {
    #[serde(default)]
    email: String,
}

/// `POST /app/forgot`: mails a single-use reset link when the address has an account; the
/// answer is the same either way. Limited per address and per client like sign-in.
async fn forgot(
    State(state): State<AppState>,
    guest: Guest,
    auth::ClientAddr(addr): auth::ClientAddr,
    CsrfForm(input): CsrfForm<EmailInput>,
) -> Result<Response, DashError> {
    let email = input.email.trim().to_lowercase();
    if !mail::configured(&state) {
        return Ok(redirect("/app/forgot"));
    }
    if !email.contains('@') || email.len() > 320 {
        let mut errors = FormErrors::new();
        errors.add("email", "Enter an email address like name@example.com.");
        let page = ForgotPage {
            layout: guest.layout("Reset your password"),
            errors,
            email: input.email.clone(),
            mail: true,
        };
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    auth::check_login_limit(&state, &format!("reset:{email}"), addr)?;
    if let Some(user) = state.store.global().user_by_email(&email).await? {
        let (_, secret) = state
            .store
            .global()
            .create_account_token(
                &NewAccountToken {
                    purpose: TokenPurpose::ResetPassword,
                    user_id: Some(user.id),
                    email: &user.email,
                    workspace_id: None,
                    role: None,
                    created_by: None,
                },
                state.clock.now(),
                RESET_TTL,
            )
            .await?;
        let url = link(&state, "/reset", "token", secret.expose());
        let body = format!(
            "Someone asked to reset the password of your Bit Wobbly account ({}).\n\n\
             Set a new password here (the link works once, for an hour):\n{url}\n\n\
             If it was not you, ignore this message: your password stays as it is.\n",
            user.email
        );
        // A failure is logged; the answer must not differ from an unknown address's.
        let _ = mail::send(&state, &user.email, "Reset your Bit Wobbly password", &body).await;
    }
    Ok(message(
        guest.layout("Check your email"),
        StatusCode::OK,
        &[
            "If an account uses this address, a link to set a new password is on its way. It works once, for an hour.",
        ],
        Some(("/app/login", "Back to sign-in")),
    ))
}

#[derive(Template)]
#[template(path = "dash/auth/reset.html")]
struct ResetPage {
    layout: Layout,
    errors: FormErrors,
    token: String,
    email: String,
}

#[derive(Debug, Deserialize)]
struct TokenOnly {
    token: Option<String>,
}

fn link_unusable(guest: &Guest) -> Response {
    message(
        guest.layout("This link does not work"),
        StatusCode::NOT_FOUND,
        &["The link is wrong, expired or was used already."],
        Some(("/app/forgot", "Ask for a new link")),
    )
}

/// `GET /app/reset?token=...`: the new-password form of a live link.
async fn reset_form(
    State(state): State<AppState>,
    guest: Guest,
    Query(q): Query<TokenOnly>,
) -> Result<Response, DashError> {
    let token = q.token.unwrap_or_default();
    let Some(t) = state
        .store
        .global()
        .account_token(&token, TokenPurpose::ResetPassword, state.clock.now())
        .await?
    else {
        return Ok(link_unusable(&guest));
    };
    let page = ResetPage {
        layout: guest.layout("Choose a new password"),
        errors: FormErrors::new(),
        token,
        email: t.email,
    };
    Ok(guest.respond(&state, render_status(StatusCode::OK, &page)))
}

#[derive(Debug, Deserialize)]
struct ResetInput {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /app/reset`: uses the link up, sets the password and signs out every session of the
/// account.
async fn reset(
    State(state): State<AppState>,
    guest: Guest,
    CsrfForm(input): CsrfForm<ResetInput>,
) -> Result<Response, DashError> {
    let now = state.clock.now();
    let Some(t) = state
        .store
        .global()
        .account_token(&input.token, TokenPurpose::ResetPassword, now)
        .await?
    else {
        return Ok(link_unusable(&guest));
    };
    let errors = check_new_password(&input.password, Some(&input.confirm));
    if !errors.is_empty() {
        let page = ResetPage {
            layout: guest.layout("Choose a new password"),
            errors,
            token: input.token.clone(),
            email: t.email,
        };
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let Some(t) = state
        .store
        .global()
        .consume_account_token(&input.token, TokenPurpose::ResetPassword, now)
        .await?
    else {
        return Ok(link_unusable(&guest));
    };
    let user = t.user_id.ok_or(DashError::Internal)?;
    state
        .store
        .global()
        .set_password(user, &input.password)
        .await?;
    // Whoever knew the old password is out.
    state.store.global().end_other_sessions(user, None).await?;
    // The link reached the mailbox: the address is confirmed.
    state.store.global().set_email_verified(user, now).await?;
    let mut res = redirect_with("/app/login", "Your password is changed. Sign in with it.");
    if let Ok(v) = HeaderValue::from_str(&auth::session_clear_cookie(&state)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

// === email verification ===

/// `GET /app/verify?token=...`: confirms the address of a live link (once).
async fn verify_email(
    State(state): State<AppState>,
    guest: Guest,
    Query(q): Query<TokenOnly>,
) -> Result<Response, DashError> {
    let now = state.clock.now();
    let token = q.token.unwrap_or_default();
    let Some(t) = state
        .store
        .global()
        .consume_account_token(&token, TokenPurpose::VerifyEmail, now)
        .await?
    else {
        return Ok(message(
            guest.layout("This link does not work"),
            StatusCode::NOT_FOUND,
            &[
                "The link is wrong, expired or was used already. Send a new one from your account page.",
            ],
            Some(("/app/account", "Your account")),
        ));
    };
    let user = t.user_id.ok_or(DashError::Internal)?;
    // The address may have changed since the link was sent.
    let current = state
        .store
        .global()
        .user(user)
        .await?
        .ok_or(DashError::NotFound)?;
    if current.email != t.email {
        return Err(DashError::NotFound);
    }
    state.store.global().set_email_verified(user, now).await?;
    Ok(redirect_with(
        "/app/account",
        "Your email address is verified.",
    ))
}

/// `POST /app/account/verify-email`: mails a verification link.
async fn send_verification(
    State(state): State<AppState>,
    signed: Signed,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    if !mail::configured(&state) {
        return Ok(redirect_with(
            "/app/account",
            "Mail is not set up on this server ([mail] smtp), so no verification email can be sent.",
        ));
    }
    let (_, secret) = state
        .store
        .global()
        .create_account_token(
            &NewAccountToken {
                purpose: TokenPurpose::VerifyEmail,
                user_id: Some(signed.user.id),
                email: &signed.user.email,
                workspace_id: None,
                role: None,
                created_by: None,
            },
            state.clock.now(),
            VERIFY_TTL,
        )
        .await?;
    let url = link(&state, "/verify", "token", secret.expose());
    let body = format!(
        "Confirm that {} is your address for Bit Wobbly by opening this link (it works once, for a day):\n{url}\n",
        signed.user.email
    );
    match mail::send(
        &state,
        &signed.user.email,
        "Verify your email address",
        &body,
    )
    .await
    {
        Ok(()) => Ok(redirect_with(
            "/app/account",
            &format!("A verification link was sent to {}.", signed.user.email),
        )),
        Err(_) => Ok(redirect_with(
            "/app/account",
            "The verification email could not be sent. Try again later.",
        )),
    }
}

// === the account page ===

/// One row of the sessions list.
#[derive(Debug)]
struct SessionRow {
    id: i64,
    agent: String,
    ip: String,
    created: String,
    seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "dash/account/index.html")]
struct AccountPage {
    layout: Layout,
    errors: FormErrors,
    name: String,
    email: String,
    verified: bool,
    totp_enabled: bool,
    codes_left: i64,
    sessions: Vec<SessionRow>,
}

pub(super) fn when(t: Timestamp) -> String {
    let d = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute()
    )
}

/// The account page, with `errors` on the password form.
async fn account_view(
    state: &AppState,
    signed: &Signed,
    errors: FormErrors,
) -> Result<AccountPage, DashError> {
    let now = state.clock.now();
    let mut g = state.store.global();
    let sec = g
        .user_security(signed.user.id)
        .await?
        .ok_or(DashError::NotFound)?;
    let codes_left = g.recovery_codes_left(signed.user.id).await?;
    let sessions = g
        .sessions_of(signed.user.id, now)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.0,
            agent: if s.user_agent.is_empty() {
                "Unknown browser".to_owned()
            } else {
                s.user_agent
            },
            ip: s.ip,
            created: when(s.created_at),
            seen: when(s.last_seen_at),
            current: s.id == signed.session.id,
        })
        .collect();
    Ok(AccountPage {
        layout: signed.layout("Your account"),
        errors,
        name: signed.user.name.clone(),
        email: signed.user.email.clone(),
        verified: sec.email_verified_at.is_some(),
        totp_enabled: sec.totp_enabled_at.is_some(),
        codes_left,
        sessions,
    })
}

/// `GET /app/account`.
async fn account_page(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Response, DashError> {
    Ok(render_status(
        StatusCode::OK,
        &account_view(&state, &signed, FormErrors::new()).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct PasswordInput {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /app/account/password`: needs the current password; signs out the other sessions.
async fn change_password(
    State(state): State<AppState>,
    signed: Signed,
    auth::ClientAddr(addr): auth::ClientAddr,
    CsrfForm(input): CsrfForm<PasswordInput>,
) -> Result<Response, DashError> {
    auth::check_login_limit(&state, &signed.user.email, addr)?;
    let mut errors = check_new_password(&input.password, Some(&input.confirm));
    let ok = state
        .store
        .global()
        .verify_login(&signed.user.email, &input.current)
        .await?
        .is_some();
    if !ok {
        errors.add("current", "The current password is wrong.");
    }
    if !errors.is_empty() {
        let page = account_view(&state, &signed, errors).await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    state
        .store
        .global()
        .set_password(signed.user.id, &input.password)
        .await?;
    state
        .store
        .global()
        .end_other_sessions(signed.user.id, Some(signed.session.id))
        .await?;
    Ok(redirect_with(
        "/app/account",
        "Your password is changed; your other sessions are signed out.",
    ))
}

/// `POST /app/account/sessions/{id}/end`: signs out one of the user's own sessions.
async fn end_session(
    State(state): State<AppState>,
    signed: Signed,
    axum::extract::Path(id): axum::extract::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    let id: i64 = id.parse().map_err(|_| DashError::NotFound)?;
    if !state
        .store
        .global()
        .end_session(signed.user.id, SessionId(id))
        .await?
    {
        return Err(DashError::NotFound);
    }
    Ok(redirect_with("/app/account", "The session is signed out."))
}

/// `POST /app/account/sessions/end-others`.
async fn end_other_sessions(
    State(state): State<AppState>,
    signed: Signed,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, DashError> {
    let n = state
        .store
        .global()
        .end_other_sessions(signed.user.id, Some(signed.session.id))
        .await?;
    Ok(redirect_with(
        "/app/account",
        &format!("{n} other sessions signed out."),
    ))
}

// === two-factor set-up ===

#[derive(Template)]
#[template(path = "dash/account/totp.html")]
struct TotpPage {
    layout: Layout,
    errors: FormErrors,
    enabled: bool,
    secret: Option<String>,
    uri: String,
    recovery_codes: Vec<String>,
}

/// `GET /app/account/totp`: a fresh key to set up (while off), or the form turning it off.
async fn totp_page(State(state): State<AppState>, signed: Signed) -> Result<Response, DashError> {
    let sec = state
        .store
        .global()
        .user_security(signed.user.id)
        .await?
        .ok_or(DashError::NotFound)?;
    if sec.totp_enabled_at.is_some() {
        let page = TotpPage {
            layout: signed.layout("Two-factor sign-in"),
            errors: FormErrors::new(),
            enabled: true,
            secret: None,
            uri: String::new(),
            recovery_codes: Vec::new(),
        };
        return Ok(render_status(StatusCode::OK, &page));
    }
    let key: [u8; 20] = rand::random();
    let secret = totp::base32_encode(&key);
    state
        .store
        .global()
        .begin_totp(signed.user.id, &secret)
        .await?;
    Ok(render_status(
        StatusCode::OK,
        &totp_setup(&signed, secret, FormErrors::new()),
    ))
}

fn totp_setup(signed: &Signed, secret: String, errors: FormErrors) -> TotpPage {
    TotpPage {
        layout: signed.layout("Two-factor sign-in"),
        errors,
        enabled: false,
        uri: totp::otpauth_uri("Bit Wobbly", &signed.user.email, &secret),
        secret: Some(secret),
        recovery_codes: Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
struct CodeInput {
    #[serde(default)]
    code: String,
}

/// Ten random recovery codes, `xxxx-xxxx` of lowercase letters and digits.
fn new_recovery_codes() -> Vec<String> {
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw: [u8; 8] = rand::random();
            let s: String = raw
                .iter()
                .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
                .collect();
            format!("{}-{}", &s[..4], &s[4..])
        })
        .collect()
}

/// `POST /app/account/totp/enable`: a right code turns it on; the recovery codes are shown
/// once.
async fn totp_enable(
    State(state): State<AppState>,
    signed: Signed,
    CsrfForm(input): CsrfForm<CodeInput>,
) -> Result<Response, DashError> {
    let now = state.clock.now();
    let sec = state
        .store
        .global()
        .user_security(signed.user.id)
        .await?
        .ok_or(DashError::NotFound)?;
    if sec.totp_enabled_at.is_some() {
        return Ok(redirect("/app/account/totp"));
    }
    let Some(secret) = sec.totp_secret else {
        return Ok(redirect("/app/account/totp"));
    };
    let key = totp::base32_decode(&secret).ok_or(DashError::Internal)?;
    let unix = u64::try_from(now.as_millis() / 1000).unwrap_or(0);
    let Some(step) = totp::verify(&key, &input.code, unix, 1) else {
        let mut errors = FormErrors::new();
        errors.add(
            "code",
            "This code is wrong or expired: enter the code your app shows now.",
        );
        return Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &totp_setup(&signed, secret, errors),
        ));
    };
    let codes = new_recovery_codes();
    if !state
        .store
        .global()
        .enable_totp(signed.user.id, &codes, now)
        .await?
    {
        return Ok(redirect("/app/account/totp"));
    }
    state
        .store
        .global()
        .use_totp_step(signed.user.id, i64::try_from(step).unwrap_or(i64::MAX))
        .await?;
    let page = TotpPage {
        layout: signed
            .layout("Two-factor sign-in")
            .with_flash(Some("Two-factor sign-in is on.".to_owned())),
        errors: FormErrors::new(),
        enabled: true,
        secret: None,
        uri: String::new(),
        recovery_codes: codes,
    };
    Ok(render_status(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct PasswordOnly {
    #[serde(default)]
    password: String,
}

/// `POST /app/account/totp/disable`: needs the password.
async fn totp_disable(
    State(state): State<AppState>,
    signed: Signed,
    auth::ClientAddr(addr): auth::ClientAddr,
    CsrfForm(input): CsrfForm<PasswordOnly>,
) -> Result<Response, DashError> {
    auth::check_login_limit(&state, &signed.user.email, addr)?;
    if state
        .store
        .global()
        .verify_login(&signed.user.email, &input.password)
        .await?
        .is_none()
    {
        let mut errors = FormErrors::new();
        errors.add("password", "The password is wrong.");
        let page = TotpPage {
            layout: signed.layout("Two-factor sign-in"),
            errors,
            enabled: true,
            secret: None,
            uri: String::new(),
            recovery_codes: Vec::new(),
        };
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    state.store.global().disable_totp(signed.user.id).await?;
    Ok(redirect_with("/app/account", "Two-factor sign-in is off."))
}

// === invitations ===

#[derive(Template)]
#[template(path = "dash/auth/signup.html")]
struct SignupPage {
    layout: Layout,
    errors: FormErrors,
    invite: String,
    workspace: String,
    role: String,
    email: String,
    name: String,
    signed_in_as: Option<String>,
    account_exists: bool,
    next_encoded: String,
}

#[derive(Debug, Deserialize)]
struct InviteQuery {
    invite: Option<String>,
}

/// The live invitation of `secret` and its workspace.
async fn invitation(
    state: &AppState,
    secret: &str,
) -> Result<Option<(AccountToken, Workspace)>, DashError> {
    let Some(t) = state
        .store
        .global()
        .account_token(secret, TokenPurpose::Invitation, state.clock.now())
        .await?
    else {
        return Ok(None);
    };
    let Some(ws_id) = t.workspace_id else {
        return Ok(None);
    };
    let ws = state.store.global().workspace(ws_id).await?;
    Ok(ws.map(|ws| (t, ws)))
}

async fn signup_page(
    state: &AppState,
    guest: &Guest,
    signed: Option<&Signed>,
    invite: &str,
    (t, ws): (&AccountToken, &Workspace),
    errors: FormErrors,
    name: &str,
) -> Result<SignupPage, DashError> {
    let account_exists = state
        .store
        .global()
        .user_by_email(&t.email)
        .await?
        .is_some();
    let mut next = String::from("/app/signup?invite=");
    next.extend(url::form_urlencoded::byte_serialize(invite.as_bytes()));
    Ok(SignupPage {
        layout: match signed {
            Some(s) => s.layout(format!("Join {}", ws.name)),
            None => guest.layout(format!("Join {}", ws.name)),
        },
        errors,
        invite: invite.to_owned(),
        workspace: ws.name.clone(),
        role: t.role.map(|r| r.to_string()).unwrap_or_default(),
        email: t.email.clone(),
        name: name.to_owned(),
        signed_in_as: signed.map(|s| s.user.email.clone()),
        account_exists,
        next_encoded: url::form_urlencoded::byte_serialize(next.as_bytes()).collect(),
    })
}

/// `GET /app/signup?invite=...`: accept an invitation (creating the account, or adding the
/// workspace to the signed-in user's).
async fn signup_form(
    State(state): State<AppState>,
    guest: Guest,
    signed: Result<Signed, DashError>,
    Query(q): Query<InviteQuery>,
) -> Result<Response, DashError> {
    let invite = q.invite.unwrap_or_default();
    let Some((t, ws)) = invitation(&state, &invite).await? else {
        return Ok(message(
            guest.layout("This invitation does not work"),
            StatusCode::NOT_FOUND,
            &[
                "The invitation is wrong, expired, withdrawn or was used already. Ask for a new one.",
            ],
            None,
        ));
    };
    let page = signup_page(
        &state,
        &guest,
        signed.as_ref().ok(),
        &invite,
        (&t, &ws),
        FormErrors::new(),
        "",
    )
    .await?;
    Ok(guest.respond(&state, render_status(StatusCode::OK, &page)))
}

#[derive(Debug, Deserialize)]
struct SignupInput {
    #[serde(default)]
    invite: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// `POST /app/signup`: uses the invitation up; joins the signed-in user, or creates the
/// account of the invited address (its email counts as verified: the link reached it).
async fn signup(
    State(state): State<AppState>,
    guest: Guest,
    client: ClientInfo,
    signed: Result<Signed, DashError>,
    CsrfForm(input): CsrfForm<SignupInput>,
) -> Result<Response, DashError> {
    let now = state.clock.now();
    let Some((t, ws)) = invitation(&state, &input.invite).await? else {
        return Ok(message(
            guest.layout("This invitation does not work"),
            StatusCode::NOT_FOUND,
            &[
                "The invitation is wrong, expired, withdrawn or was used already. Ask for a new one.",
            ],
            None,
        ));
    };
    let role = t.role.unwrap_or(Role::Viewer);
    let landing = format!("/app/w/{}/monitors", ws.slug);
    let joined = format!("You joined {}.", ws.name);
    if let Ok(s) = &signed {
        if state
            .store
            .global()
            .consume_account_token(&input.invite, TokenPurpose::Invitation, now)
            .await?
            .is_none()
        {
            return Err(DashError::NotFound);
        }
        let mut scope = state.store.workspace(ws.id);
        // An existing member keeps a higher role.
        let keep = scope.role_of(s.user.id).await?;
        if keep.is_none_or(|r| auth::role_rank(r) < auth::role_rank(role)) {
            scope.set_member(s.user.id, role, now).await?;
        }
        return Ok(redirect_with(&landing, &joined));
    }
    if state
        .store
        .global()
        .user_by_email(&t.email)
        .await?
        .is_some()
    {
        let page = signup_page(
            &state,
            &guest,
            None,
            &input.invite,
            (&t, &ws),
            FormErrors::new(),
            &input.name,
        )
        .await?;
        return Ok(render_status(StatusCode::CONFLICT, &page));
    }
    let errors = check_new_password(&input.password, None);
    if !errors.is_empty() {
        let page = signup_page(
            &state,
            &guest,
            None,
            &input.invite,
            (&t, &ws),
            errors,
            &input.name,
        )
        .await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let name = input.name.trim();
    let name = if name.is_empty() {
        t.email.split('@').next().unwrap_or("")
    } else {
        name
    };
    if name.chars().count() > 200 {
        let mut errors = FormErrors::new();
        errors.add("name", "The name is longer than 200 characters.");
        let page = signup_page(
            &state,
            &guest,
            None,
            &input.invite,
            (&t, &ws),
            errors,
            &input.name,
        )
        .await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let mut tx = state.store.begin().await?;
    if tx
        .global()
        .consume_account_token(&input.invite, TokenPurpose::Invitation, now)
        .await?
        .is_none()
    {
        return Err(DashError::NotFound);
    }
    let user = tx
        .global()
        .create_user(&t.email, name, &input.password, now)
        .await?;
    tx.global().set_email_verified(user.id, now).await?;
    tx.workspace(ws.id).set_member(user.id, role, now).await?;
    tx.commit().await?;
    open_session(&state, &user, &client, &landing, Some(&joined)).await
}
