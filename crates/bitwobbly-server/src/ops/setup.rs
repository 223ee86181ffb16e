//! First run: the one-time set-up link that creates the first administrator.
//!
//! When the store has no user, the server makes a one-time token at start
//! ([`first_run_token`]) and prints `Open <public_url>/setup?token=<secret> to create the
//! first admin`. `GET /setup?token=...` shows a small form; `POST /setup` (a form or JSON:
//! `token`, `email`, `password`, `name`, `workspace`) uses the token up, creates the user and
//! a workspace they own, and signs them in (session cookie). Scripts use
//! `bitwobbly admin create-user` instead.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bitwobbly_store::Store;
use bitwobbly_store::api::AccountStore;
use bitwobbly_store::types::Timestamp;
use serde::{Deserialize, Serialize};

use super::admin::{self, AdminError, NewOwner};
use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a set-up link stays usable.
pub const SETUP_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// The set-up routes: `GET /setup` and `POST /setup`.
pub fn router() -> Router<AppState> {
    Router::new().route("/setup", get(form).post(submit))
}

/// When the store has no user yet, a fresh one-time set-up token (valid for
/// [`SETUP_TOKEN_TTL`]); `None` once someone can log in.
///
/// # Errors
///
/// A database error.
pub async fn first_run_token(
    store: &Store,
    now: Timestamp,
) -> Result<Option<String>, bitwobbly_store::StoreError> {
    if store.global().user_count().await? > 0 {
        return Ok(None);
    }
    let secret = store
        .global()
        .create_setup_token(now, SETUP_TOKEN_TTL)
        .await?;
    Ok(Some(secret.expose().to_owned()))
}

/// The set-up link for a token.
pub fn setup_url(public_url: &str, token: &str) -> String {
    let mut url = format!("{}/setup?token=", public_url.trim_end_matches('/'));
    url.extend(url::form_urlencoded::byte_serialize(token.as_bytes()));
    url
}

#[derive(Debug, Deserialize)]
struct FormQuery {
    token: Option<String>,
}

/// `GET /setup?token=...`: the form (or a note that the server is set up already).
async fn form(State(state): State<AppState>, Query(q): Query<FormQuery>) -> Response {
    match state.store.global().user_count().await {
        Ok(0) => {}
        Ok(_) => return already_set_up(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let token = q.token.unwrap_or_default();
    page(
        StatusCode::OK,
        "Set up Bit Wobbly",
        &format!(
            r#"<p>Create the first administrator and their workspace.</p>
<form method="post" action="/setup">
<input type="hidden" name="token" value="{token}">
<p><label>Email<br><input type="email" name="email" required autocomplete="username"></label></p>
<p><label>Name<br><input type="text" name="name" autocomplete="name"></label></p>
<p><label>Password (at least 8 characters)<br><input type="password" name="password" minlength="8" required autocomplete="new-password"></label></p>
<p><label>Workspace name<br><input type="text" name="workspace" required></label></p>
<p><button type="submit">Create administrator</button></p>
</form>"#,
            token = escape(&token)
        ),
    )
}

/// What `POST /setup` takes, as a form or JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupInput {
    token: String,
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    workspace: Option<String>,
}

/// What `POST /setup` answers to JSON requests.
#[derive(Debug, Serialize)]
struct SetupDone {
    user: UserOut,
    workspace: WorkspaceOut,
}

#[derive(Debug, Serialize)]
struct UserOut {
    id: i64,
    email: String,
    name: String,
}

#[derive(Debug, Serialize)]
struct WorkspaceOut {
    id: i64,
    slug: String,
    name: String,
}

/// `POST /setup`: consume the token, create the administrator and their workspace, sign in.
async fn submit(
    State(state): State<AppState>,
    auth::ClientAddr(addr): auth::ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(body, state.config.http.max_body_bytes).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let input = if json {
        match serde_json::from_slice::<SetupInput>(&body) {
            Ok(i) => i,
            Err(e) => {
                return ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
                    .into_response();
            }
        }
    } else {
        match from_form(&body) {
            Ok(i) => i,
            Err(field) => {
                return respond_error(
                    json,
                    ApiError::invalid(field, format!("{field} is required")),
                );
            }
        }
    };
    // A browser must post the form from this site.
    if (headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN))
        && !auth::same_origin(&state, &headers)
    {
        return respond_error(
            json,
            ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "the set-up form must be posted from this site",
            ),
        );
    }
    // Guessing tokens is limited like logins.
    if let Err(e) = auth::check_login_limit(&state, "setup", addr) {
        return respond_error(json, e);
    }
    let workspace = input.workspace.as_deref().map(str::trim);
    let new = NewOwner {
        email: &input.email,
        name: input.name.as_deref(),
        password: &input.password,
        workspace_slug: None,
        workspace_name: workspace.filter(|w| !w.is_empty()),
    };
    let now = state.clock.now();
    let (user, ws) = match admin::create_first_owner(&state.store, &input.token, &new, now).await {
        Ok(created) => created,
        Err(e) => return respond_error(json, admin_error(e)),
    };
    tracing::info!(user_id = user.id.0, workspace = %ws.slug, "first administrator created");
    let ttl = state.config.auth.session_ttl;
    let cookie = match state.store.global().create_session(user.id, now, ttl).await {
        Ok((_, secret)) => auth::session_set_cookie(&state, secret.expose(), ttl),
        Err(e) => return respond_error(json, e.into()),
    };
    let mut res = if json {
        (
            StatusCode::CREATED,
            axum::Json(SetupDone {
                user: UserOut {
                    id: user.id.0,
                    email: user.email,
                    name: user.name,
                },
                workspace: WorkspaceOut {
                    id: ws.id.0,
                    slug: ws.slug,
                    name: ws.name,
                },
            }),
        )
            .into_response()
    } else {
        page(
            StatusCode::CREATED,
            "Bit Wobbly is set up",
            &format!(
                "<p>Signed in as {email}, owner of workspace <code>{slug}</code>.</p>\
                 <p>The API is at <code>{api}/api/v1/workspaces/{slug}/</code>; create API \
                 tokens with <code>bitwobbly admin create-token --email {email}</code>.</p>",
                email = escape(&user.email),
                slug = escape(&ws.slug),
                api = escape(&state.config.public_url()),
            ),
        )
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// The request body, at most `max` bytes (413 in the error shape beyond).
async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, max).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body is larger than {max} bytes"),
                );
            }
            cause = c.source();
        }
        ApiError::bad_request("the request body could not be read")
    })
}

fn from_form(body: &[u8]) -> Result<SetupInput, &'static str> {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let take = |name: &'static str| fields.get(name).cloned().ok_or(name);
    Ok(SetupInput {
        token: take("token")?,
        email: take("email")?,
        password: take("password")?,
        name: fields.get("name").cloned(),
        workspace: fields.get("workspace").cloned(),
    })
}

/// An administration error in the API's shape, naming its field.
pub(crate) fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Store(e) => e.into(),
        AdminError::SetupTokenInvalid => ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_setup_token",
            "the set-up link is invalid, expired or already used",
        )
        .with_field("token"),
        AdminError::UserExists { .. } | AdminError::WorkspaceExists { .. } => {
            let field = e.field().unwrap_or("email");
            ApiError::conflict(e.to_string()).with_field(field)
        }
        e => {
            let field = e.field().unwrap_or("input");
            ApiError::invalid(field, e.to_string())
        }
    }
}

/// The error in the API's shape for JSON callers, as a page for the form.
fn respond_error(json: bool, e: ApiError) -> Response {
    if json {
        return e.into_response();
    }
    page(
        e.status,
        "Set-up failed",
        &format!(
            "<p>{}</p><p><a href=\"javascript:history.back()\">Back</a></p>",
            escape(&e.message)
        ),
    )
}

fn already_set_up() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Already set up",
        "<p>This server has an administrator already. Sign in, or ask an administrator for \
         an account.</p>",
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;\
         padding:0 1rem}}input{{width:100%;padding:.4rem}}button{{padding:.5rem 1rem}}</style>\
         </head><body><h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape(title),
    );
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// Escapes text for HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn setup_links_encode_the_token() {
        assert_eq!(
            setup_url("http://127.0.0.1:8080/", "a+b/c"),
            "http://127.0.0.1:8080/setup?token=a%2Bb%2Fc"
        );
    }

    #[test]
    fn forms_need_token_email_and_password() {
        let i = from_form(b"token=t&email=a%40b.c&password=p%20w&workspace=Acme").unwrap();
        assert_eq!(i.email, "a@b.c");
        assert_eq!(i.password, "p w");
        assert_eq!(i.workspace.as_deref(), Some("Acme"));
        assert_eq!(from_form(b"email=a%40b.c&password=x").unwrap_err(), "token");
    }
}
