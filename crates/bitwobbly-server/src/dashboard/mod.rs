//! The dashboard: the server-rendered web UI under `/app`.
//!
//! Every page is rendered on the server (askama templates under `templates/dash/`) from the
//! same library calls the REST API makes; forms post back with a CSRF token; charts are SVG
//! drawn on the server ([`chart`]). No external fonts, scripts or stylesheets.
//!
//! The parts every page shares live here:
//!
//! - `Dash` (a signed-in member of the `{ws}` of a `/w/{ws}/...` route) and `Signed`
//!   (signed in, no workspace) extract the session of the `bitwobbly_session` cookie. Not
//!   signed in answers `303` to `/app/login?next=<path>`; a workspace that does not exist or
//!   that the user is not a member of answers the same `404` page.
//! - `CsrfForm` reads a url-encoded form whose `csrf` field must match the token of the
//!   session (a hash of the session cookie) or, before sign-in, of the `bitwobbly_csrf`
//!   cookie; a browser that says where the form came from (`Sec-Fetch-Site`, `Origin`) must
//!   say it came from this site.
//! - `render` / `render_status` answer a template with `no-store`, a strict CSP,
//!   `X-Frame-Options: DENY` and `nosniff`; `DashError` renders errors as pages.
//! - `redirect_with` redirects with a one-time flash message (the `bitwobbly_flash` cookie,
//!   cleared by the layer [`router`] installs once a page has shown it).
//! - `/app/static/app.css` (every `templates/dash/css/*.css`, concatenated) and
//!   `/app/static/app.js`, with an ETag and a versioned URL cached for a year.

pub mod chart;
pub mod mail;

mod account;
mod channels;
mod errors;
mod incidents;
mod monitors;
mod settings;
mod status_pages;

use std::sync::LazyLock;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bitwobbly_store::StoreError;
use bitwobbly_store::prelude::*;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::AppState;
use crate::auth::{self, Access, Caller, role_rank};
use crate::error::ApiError;

/// The cookie holding the CSRF token of forms shown before sign-in.
pub const GUEST_CSRF_COOKIE: &str = "bitwobbly_csrf";
/// The cookie carrying a one-time message to the next page.
pub const FLASH_COOKIE: &str = "bitwobbly_flash";
/// The Content-Security-Policy of every dashboard page.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes, mounted by the server at `/app`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(app_css))
        .route("/static/app.js", get(app_js))
        .merge(account::router())
        .merge(settings::router())
        .merge(monitors::router())
        .merge(incidents::router())
        .merge(status_pages::router())
        .merge(channels::router())
        .merge(errors::router())
        .fallback(not_found_page)
        .layer(middleware::from_fn(clear_shown_flash))
}

// === sessions and workspaces ===

/// The signed-in user of a request (no workspace): account pages.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
    /// Every workspace the user belongs to, with their role there.
    pub workspaces: Vec<(Workspace, Role)>,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// The one-time message from the previous page, if any.
    pub flash: Option<String>,
}

/// The signed-in member and the workspace of a `/w/{ws}/...` route.
///
/// Not signed in: `303` to `/app/login?next=<path>`. Not a member of `{ws}` (or no such
/// workspace): the `404` page, the same for both.
#[derive(Debug, Clone)]
pub(crate) struct Dash {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
    /// The workspace of the path.
    pub workspace: Workspace,
    /// The user's role there.
    pub role: Role,
    /// Every workspace the user belongs to, with their role there (the switcher).
    pub workspaces: Vec<(Workspace, Role)>,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// The one-time message from the previous page, if any.
    pub flash: Option<String>,
}

/// The part of the dashboard a page belongs to (highlighted in the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// Monitors and their checks.
    Monitors,
    /// Incidents and maintenance.
    Incidents,
    /// Status pages.
    Pages,
    /// Notification channels.
    Channels,
    /// Error tracking projects.
    Projects,
    /// Workspace settings.
    Settings,
    /// The user's own account.
    Account,
}

impl Section {
    /// Every workspace section, in navigation order, with its label and path.
    const NAV: [(Self, &'static str, &'static str); 6] = [
        (Self::Monitors, "Monitors", "monitors"),
        (Self::Incidents, "Incidents", "incidents"),
        (Self::Pages, "Status pages", "pages"),
        (Self::Channels, "Channels", "channels"),
        (Self::Projects, "Errors", "projects"),
        (Self::Settings, "Settings", "settings"),
    ];
}

/// One link of the navigation or the workspace switcher.
#[derive(Debug, Clone)]
pub(crate) struct NavLink {
    /// What it says.
    pub label: String,
    /// Where it goes.
    pub href: String,
    /// Whether it is the current one (`aria-current`).
    pub current: bool,
}

/// What `dash/base.html` needs: the title, the navigation, the workspace switcher, the user
/// menu, the CSRF token of the sign-out form and the flash message.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The page title (also the `<h1>` unless the page writes its own).
    pub title: String,
    /// The section the page belongs to.
    pub section: Option<Section>,
    /// The signed-in user's name (or email), when signed in.
    pub user: Option<String>,
    /// The current workspace (slug, name), when the page is in one.
    pub workspace: Option<(String, String)>,
    /// Section links of the current workspace.
    pub nav: Vec<NavLink>,
    /// The workspaces to switch to.
    pub switcher: Vec<NavLink>,
    /// The CSRF token for forms (and the sign-out form).
    pub csrf: String,
    /// A message from the previous page.
    pub flash: Option<String>,
    /// The versioned stylesheet URL.
    pub css: &'static str,
    /// The versioned script URL.
    pub js: &'static str,
}

impl Layout {
    /// A layout for pages shown to visitors who are not signed in (sign-in, errors, ...).
    pub(crate) fn guest(title: impl Into<String>, csrf: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section: None,
            user: None,
            workspace: None,
            nav: Vec::new(),
            switcher: Vec::new(),
            csrf: csrf.into(),
            flash: None,
            css: &ASSETS.css_url,
            js: &ASSETS.js_url,
        }
    }

    /// Adds a flash message.
    #[must_use]
    pub(crate) fn with_flash(mut self, flash: Option<String>) -> Self {
        self.flash = flash;
        self
    }

    fn signed(
        title: String,
        section: Section,
        user: &User,
        workspaces: &[(Workspace, Role)],
        current: Option<&Workspace>,
        csrf: &str,
        flash: Option<String>,
    ) -> Self {
        let nav = current
            .map(|ws| {
                Section::NAV
                    .iter()
                    .map(|(s, label, path)| NavLink {
                        label: (*label).to_owned(),
                        href: format!("/app/w/{}/{path}", ws.slug),
                        current: *s == section,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let switcher = workspaces
            .iter()
            .map(|(ws, _)| NavLink {
                label: ws.name.clone(),
                href: format!("/app/w/{}/monitors", ws.slug),
                current: current.is_some_and(|c| c.id == ws.id),
            })
            .collect();
        Self {
            title,
            section: Some(section),
            user: Some(if user.name.trim().is_empty() {
                user.email.clone()
            } else {
                user.name.clone()
            }),
            workspace: current.map(|ws| (ws.slug.clone(), ws.name.clone())),
            nav,
            switcher,
            csrf: csrf.to_owned(),
            flash,
            css: &ASSETS.css_url,
            js: &ASSETS.js_url,
        }
    }

    /// Whether `section` is the page's.
    pub(crate) fn is(&self, section: Section) -> bool {
        self.section == Some(section)
    }

    /// Whether the page is one of the user's account pages (for templates).
    pub(crate) fn is_account(&self) -> bool {
        self.is(Section::Account)
    }

    /// The current workspace's slug, or "" outside one (for templates building links).
    pub(crate) fn ws(&self) -> &str {
        self.workspace
            .as_ref()
            .map_or("", |(slug, _)| slug.as_str())
    }
}

impl Signed {
    /// The layout of an account page.
    pub(crate) fn layout(&self, title: impl Into<String>) -> Layout {
        Layout::signed(
            title.into(),
            Section::Account,
            &self.user,
            &self.workspaces,
            None,
            &self.csrf,
            self.flash.clone(),
        )
    }
}

impl Dash {
    /// The workspace's id (every store call is scoped by it).
    pub(crate) fn ws(&self) -> WorkspaceId {
        self.workspace.id
    }

    /// Refuses (403 page) unless the user's role is at least `role`.
    pub(crate) fn require(&self, role: Role) -> Result<(), DashError> {
        if role_rank(self.role) >= role_rank(role) {
            Ok(())
        } else {
            Err(DashError::Forbidden(format!(
                "This needs the {role} role or higher in this workspace; you are {}.",
                self.role
            )))
        }
    }

    /// The layout of a page of this workspace.
    pub(crate) fn layout(&self, title: impl Into<String>, section: Section) -> Layout {
        Layout::signed(
            title.into(),
            section,
            &self.user,
            &self.workspaces,
            Some(&self.workspace),
            &self.csrf,
            self.flash.clone(),
        )
    }

    /// The API's access for this user in this workspace (to call functions the API shares);
    /// 403 page when the role is below what `R` needs.
    pub(crate) fn access<R: auth::Need>(&self) -> Result<Access<R>, DashError> {
        Ok(Access::for_session(
            self.workspace.clone(),
            self.role,
            Caller::Session {
                user: self.user.clone(),
                session: self.session.clone(),
            },
        )?)
    }

    /// `/app/w/{ws}` + `path` (`path` starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("/app/w/{}{path}", self.workspace.slug)
    }
}

/// The CSRF token of a signed-in session: a hash of its cookie secret (so it needs no
/// storage and is useless without the cookie).
pub(crate) fn session_csrf(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"bitwobbly-dashboard-csrf\0");
    h.update(secret.as_bytes());
    hex(&h.finalize()[..20])
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The value of the cookie `name`, if present and not empty.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The flash message of the request, if any.
fn flash_of(headers: &HeaderMap) -> Option<String> {
    let raw = cookie(headers, FLASH_COOKIE)?;
    let msg: String = url::form_urlencoded::parse(format!("m={raw}").as_bytes())
        .find(|(k, _)| k == "m")
        .map(|(_, v)| v.into_owned())?;
    let msg: String = msg.chars().take(300).collect();
    (!msg.trim().is_empty()).then_some(msg)
}

/// The request's path and query, for `next=` after sign-in.
fn path_and_query(parts: &Parts) -> String {
    // Nested routers see the path without `/app`; the original URI is kept by axum.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// The signed-in user of a request, looked up once per request.
async fn signed_in(parts: &mut Parts, state: &AppState) -> Result<Signed, DashError> {
    if let Some(s) = parts.extensions.get::<Signed>() {
        return Ok(s.clone());
    }
    let next = path_and_query(parts);
    let secret =
        auth::session_cookie(&parts.headers).ok_or(DashError::SignIn { next: next.clone() })?;
    let now = state.clock.now();
    let (session, user) = state
        .store
        .global()
        .session(&secret, now)
        .await?
        .ok_or(DashError::SignIn { next })?;
    let workspaces = state.store.global().workspaces_of(user.id).await?;
    let signed = Signed {
        user,
        session,
        workspaces,
        csrf: session_csrf(&secret),
        flash: flash_of(&parts.headers),
    };
    parts.extensions.insert(signed.clone());
    Ok(signed)
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, DashError> {
        signed_in(parts, state).await
    }
}

impl FromRequestParts<AppState> for Dash {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, DashError> {
        let signed = signed_in(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| DashError::NotFound)?;
        let slug = params
            .iter()
            .find(|(k, _)| *k == "ws")
            .map(|(_, v)| v.to_owned())
            .ok_or(DashError::NotFound)?;
        // Only the user's own workspaces are looked at: another one answers exactly as one
        // that does not exist.
        let (workspace, role) = signed
            .workspaces
            .iter()
            .find(|(ws, _)| ws.slug == slug)
            .cloned()
            .ok_or(DashError::NotFound)?;
        Ok(Self {
            user: signed.user,
            session: signed.session,
            workspace,
            role,
            workspaces: signed.workspaces,
            csrf: signed.csrf,
            flash: signed.flash,
        })
    }
}

/// A visitor who may not be signed in (sign-in, sign-up, password reset, set-up): the CSRF
/// token of their forms. When the visitor had none, a fresh one is made and
/// [`Guest::respond`] sets its cookie.
#[derive(Debug, Clone)]
pub(crate) struct Guest {
    /// The CSRF token for the page's forms.
    pub csrf: String,
    /// The one-time message from the previous page, if any.
    pub flash: Option<String>,
    fresh: bool,
}

impl Guest {
    /// `res` with the CSRF cookie set when it was just made.
    pub(crate) fn respond(&self, state: &AppState, mut res: Response) -> Response {
        if self.fresh {
            let secure = if auth::secure_cookies(state) {
                "; Secure"
            } else {
                ""
            };
            let c = format!(
                "{GUEST_CSRF_COOKIE}={}; Path=/app; HttpOnly; SameSite=Strict{secure}",
                self.csrf
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }

    /// A guest layout carrying this visitor's token and flash.
    pub(crate) fn layout(&self, title: impl Into<String>) -> Layout {
        Layout::guest(title, self.csrf.clone()).with_flash(self.flash.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Guest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let flash = flash_of(&parts.headers);
        // A signed-in visitor's forms carry the session's token.
        if let Some(secret) = auth::session_cookie(&parts.headers) {
            return Ok(Self {
                csrf: session_csrf(&secret),
                flash,
                fresh: false,
            });
        }
        if let Some(token) = cookie(&parts.headers, GUEST_CSRF_COOKIE)
            .filter(|t| t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Ok(Self {
                csrf: token,
                flash,
                fresh: false,
            });
        }
        let bytes: [u8; 20] = rand::random();
        Ok(Self {
            csrf: hex(&bytes),
            flash,
            fresh: true,
        })
    }
}

// === forms ===

/// A url-encoded form whose `csrf` field matched; the other fields deserialised into `T`
/// (repeated keys into `Vec<_>`, empty strings kept). `T` never sees `csrf`.
///
/// Refused with the 403 page: no token, a wrong one, or a browser saying the form came from
/// another site. A body that is not a url-encoded form answers 415, one that does not fit
/// `T` 400, one over the body limit 413.
#[derive(Debug)]
pub(crate) struct CsrfForm<T>(pub T);

/// Whether `token` is the CSRF token of the request's session or guest cookie.
fn csrf_matches(headers: &HeaderMap, token: &str) -> bool {
    let mut expected = Vec::new();
    if let Some(secret) = auth::session_cookie(headers) {
        expected.push(session_csrf(&secret));
    }
    if let Some(guest) = cookie(headers, GUEST_CSRF_COOKIE) {
        expected.push(guest);
    }
    !token.is_empty()
        && expected
            .iter()
            .any(|e| bool::from(e.as_bytes().ct_eq(token.as_bytes())))
}

/// Splits a url-encoded body into the `csrf` value and the rest, re-encoded.
fn split_csrf(body: &[u8]) -> (Option<String>, String) {
    let mut csrf = None;
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(body) {
        if k == "csrf" {
            // Two tokens are as bad as none.
            csrf = if csrf.is_none() {
                Some(v.into_owned())
            } else {
                Some(String::new())
            };
        } else {
            rest.append_pair(&k, &v);
        }
    }
    (csrf, rest.finish())
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = DashError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, DashError> {
        let (parts, body) = req.into_parts();
        if parts.method != Method::POST {
            return Err(DashError::Page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Forms are sent with POST.".to_owned(),
            ));
        }
        let site_told = parts.headers.contains_key("sec-fetch-site")
            || parts.headers.contains_key(header::ORIGIN);
        if site_told && !auth::same_origin(state, &parts.headers) {
            return Err(DashError::Forbidden(
                "This form was sent from another site.".to_owned(),
            ));
        }
        let form_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(DashError::Page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Forms are sent url-encoded.".to_owned(),
            ));
        }
        let max = state.config.http.max_body_bytes;
        let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
            DashError::Page(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The form is larger than {max} bytes."),
            )
        })?;
        let (csrf, rest) = split_csrf(&bytes);
        if !csrf.is_some_and(|t| csrf_matches(&parts.headers, &t)) {
            return Err(DashError::Forbidden(
                "The form's security token is missing or out of date. Reload the page and try \
                 again."
                    .to_owned(),
            ));
        }
        serde_html_form::from_str::<T>(&rest)
            .map(CsrfForm)
            .map_err(|e| {
                DashError::Page(
                    StatusCode::BAD_REQUEST,
                    format!("The form is malformed: {e}."),
                )
            })
    }
}

/// Field-level messages for a form, by field name.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormErrors {
    fields: std::collections::BTreeMap<String, String>,
}

impl FormErrors {
    /// No errors.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the message of `field`.
    pub(crate) fn add(&mut self, field: impl Into<String>, msg: impl Into<String>) {
        self.fields.insert(field.into(), msg.into());
    }

    /// The messages of an API error that names a field (a `422`, a conflict on a field);
    /// `None` when it names none.
    pub(crate) fn from_api(e: &ApiError) -> Option<Self> {
        let field = e.field.as_ref()?;
        let mut errors = Self::new();
        errors.add(field.clone(), e.message.clone());
        Some(errors)
    }

    /// Like [`FormErrors::from_api`], with field names of the API mapped to the form's.
    pub(crate) fn from_api_mapped(e: &ApiError, map: impl Fn(&str) -> &str) -> Option<Self> {
        let field = e.field.as_ref()?;
        let mut errors = Self::new();
        errors.add(map(field), e.message.clone());
        Some(errors)
    }

    /// Puts an API error that names a field on that form field (its name passed through
    /// `map`); an error that names none is answered as an error page instead.
    pub(crate) fn add_api(
        &mut self,
        e: ApiError,
        map: impl Fn(&str) -> String,
    ) -> Result<(), DashError> {
        match &e.field {
            Some(field) => {
                self.add(map(field), e.message.clone());
                Ok(())
            }
            None => Err(e.into()),
        }
    }

    /// A form's errors from one API error (see [`FormErrors::add_api`]).
    pub(crate) fn of_api(e: ApiError, map: impl Fn(&str) -> String) -> Result<Self, DashError> {
        let mut errors = Self::new();
        errors.add_api(e, map)?;
        Ok(errors)
    }

    /// The message of `field`, if any.
    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every (field, message), by field name (for the summary above a form).
    pub(crate) fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

// === responses ===

/// Adds the headers every dashboard page carries.
fn page_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// A template as a full HTML page (`200`).
pub(crate) fn render(t: &impl Template) -> Response {
    render_status(StatusCode::OK, t)
}

/// A template as a full HTML page with `status` (`422` for a form with errors).
pub(crate) fn render_status(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response();
            page_headers(&mut res);
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a dashboard template failed to render");
            let mut res = (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "internal error",
            )
                .into_response();
            page_headers(&mut res);
            res
        }
    }
}

/// A `303` to `location` (a local path).
pub(crate) fn redirect(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A `303` to `location` that shows `message` once on the next page.
pub(crate) fn redirect_with(location: &str, message: &str) -> Response {
    let mut res = redirect(location);
    let value: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    let c = format!("{FLASH_COOKIE}={value}; Path=/app; HttpOnly; SameSite=Lax; Max-Age=60");
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Clears the flash cookie once a page (not a redirect) was answered to a request that
/// carried it, so the message shows once.
async fn clear_shown_flash(req: Request, next: Next) -> Response {
    let had = cookie(req.headers(), FLASH_COOKIE).is_some();
    let mut res = next.run(req).await;
    let sets_flash = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
    if had && !res.status().is_redirection() && !sets_flash {
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "bitwobbly_flash=; Path=/app; HttpOnly; SameSite=Lax; Max-Age=0",
            ),
        );
    }
    res
}

/// A local path to go to after sign-in: `next` if it is a path on this server under `/app`
/// (no scheme, no host, no `//` or `\`), else `/app`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/app" || n.starts_with("/app/") || n.starts_with("/app?"))
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && !n[1..].starts_with('/') =>
        {
            n.to_owned()
        }
        _ => "/app".to_owned(),
    }
}

/// An error as a page.
#[derive(Debug)]
pub(crate) enum DashError {
    /// Not signed in: `303` to the sign-in page, coming back to `next`.
    SignIn {
        /// Where the visitor was going.
        next: String,
    },
    /// `404`: no such thing (or not the user's to see).
    NotFound,
    /// `403` with a reason.
    Forbidden(String),
    /// `409` with a reason.
    Conflict(String),
    /// `429`: too many attempts.
    TooMany(Duration),
    /// Any other status with a message for people.
    Page(StatusCode, String),
    /// `500` (the cause is logged, never shown).
    Internal,
}

impl From<ApiError> for DashError {
    fn from(e: ApiError) -> Self {
        match e.status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::FORBIDDEN => Self::Forbidden(e.message),
            StatusCode::CONFLICT => Self::Conflict(e.message),
            StatusCode::TOO_MANY_REQUESTS => {
                Self::TooMany(e.retry_after.unwrap_or(Duration::from_secs(60)))
            }
            StatusCode::INTERNAL_SERVER_ERROR => Self::Internal,
            StatusCode::UNAUTHORIZED => Self::SignIn {
                next: "/app".to_owned(),
            },
            status => Self::Page(status, e.message),
        }
    }
}

impl From<StoreError> for DashError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "dash/error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let retry = match &self {
            Self::TooMany(after) => Some(after.as_secs().max(1)),
            _ => None,
        };
        let (status, title, message) = match self {
            Self::SignIn { next } => {
                let mut to = String::from("/app/login?next=");
                to.extend(url::form_urlencoded::byte_serialize(next.as_bytes()));
                return redirect(&to);
            }
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours to see.".to_owned(),
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            Self::Conflict(m) => (StatusCode::CONFLICT, "Conflict", m),
            Self::TooMany(after) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!(
                    "Too many attempts. Try again in {} seconds.",
                    after.as_secs().max(1)
                ),
            ),
            Self::Page(status, m) => (status, "Something is wrong", m),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "Something went wrong on the server. It has been logged.".to_owned(),
            ),
        };
        let page = ErrorPage {
            layout: Layout::guest(title, ""),
            status: status.as_u16(),
            message,
        };
        let mut res = render_status(status, &page);
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

async fn not_found_page() -> DashError {
    DashError::NotFound
}

// === static assets ===

/// The stylesheet and script, their ETags and versioned URLs.
struct Assets {
    css: String,
    css_etag: String,
    css_url: String,
    js: &'static str,
    js_etag: String,
    js_url: String,
}

/// Every part's stylesheet, base first. A part adding a file adds a line here.
const CSS_PARTS: [&str; 4] = [
    include_str!("../../templates/dash/css/base.css"),
    include_str!("../../templates/dash/css/monitors.css"),
    include_str!("../../templates/dash/css/pages.css"),
    include_str!("../../templates/dash/css/errors.css"),
];

static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let css = CSS_PARTS.join("\n");
    let js = include_str!("../../templates/dash/js/app.js");
    let tag = |bytes: &[u8]| hex(&Sha256::digest(bytes)[..8]);
    let (ct, jt) = (tag(css.as_bytes()), tag(js.as_bytes()));
    Assets {
        css_url: format!("/app/static/app.css?v={ct}"),
        css_etag: format!("\"{ct}\""),
        css,
        js_url: format!("/app/static/app.js?v={jt}"),
        js_etag: format!("\"{jt}\""),
        js,
    }
});

fn asset(headers: &HeaderMap, etag: &str, content_type: &'static str, body: String) -> Response {
    let cache = (
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let etag_header = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag_header);
    h.insert(cache.0, cache.1);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

async fn app_css(headers: HeaderMap) -> Response {
    asset(
        &headers,
        &ASSETS.css_etag,
        "text/css; charset=utf-8",
        ASSETS.css.clone(),
    )
}

async fn app_js(headers: HeaderMap) -> Response {
    asset(
        &headers,
        &ASSETS.js_etag,
        "text/javascript; charset=utf-8",
        ASSETS.js.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_a_local_dashboard_path() {
        assert_eq!(
            safe_next(Some("/app/w/acme/monitors?x=1")),
            "/app/w/acme/monitors?x=1"
        );
        for bad in [
            "https://evil.example/app",
            "//evil.example/app",
            "/\\evil.example",
            "/app\\..\\",
            "javascript:alert(1)",
            "/api/v1/me",
            "",
            "/app\n/x",
            "/appx/evil",
        ] {
            assert_eq!(safe_next(Some(bad)), "/app", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/app");
    }

    #[test]
    fn csrf_is_split_from_the_form() {
        let (csrf, rest) = split_csrf(b"a=1&csrf=tok&b=x+y&a=2");
        assert_eq!(csrf.as_deref(), Some("tok"));
        assert_eq!(rest, "a=1&b=x+y&a=2");
        let (csrf, _) = split_csrf(b"csrf=a&csrf=a");
        assert_eq!(csrf.as_deref(), Some(""), "two tokens are refused");
    }

    #[test]
    fn session_tokens_differ_by_session_and_are_not_the_secret() {
        let a = session_csrf("secret-a");
        assert_eq!(a.len(), 40);
        assert_ne!(a, session_csrf("secret-b"));
        assert!(!a.contains("secret"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("bitwobbly_session=secret-a"),
        );
        assert!(csrf_matches(&h, &a));
        assert!(!csrf_matches(&h, &session_csrf("secret-b")));
        assert!(!csrf_matches(&h, ""));
    }

    #[test]
    fn flash_messages_round_trip() {
        let res = redirect_with("/app", "Saved: a & b ✓");
        let set = res
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        let value = set.split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        assert_eq!(flash_of(&h).as_deref(), Some("Saved: a & b ✓"));
    }
}
