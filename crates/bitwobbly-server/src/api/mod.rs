//! The REST API under `/api/v1`.
//!
//! [`router`] serves every route in [`ROUTES`]; the server mounts it at `/api/v1`. Resources
//! of a workspace live under `/workspaces/{workspace}` (the workspace's slug): members,
//! tokens, monitors (with their results, statistics, channels and incidents), incidents,
//! maintenance windows, channels and the notification outbox. Callers authenticate with a
//! bearer API token or the dashboard session cookie (see [`crate::auth`]); every error has
//! the shape `{"error": {"code", "message", "field"}}` (see [`ApiError`]).
//!
//! The OpenAPI 3.1 description is generated from the handlers ([`ApiDoc`]) and served at
//! `GET /api/v1/openapi.json`.
//!
//! The server should serve the router with connection info
//! (`into_make_service_with_connect_info::<SocketAddr>()`) so that login attempts are also
//! limited per client address.

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::state::AppState;

pub mod agents;
pub mod channels;
pub mod extract;
pub mod incidents;
pub mod issues;
pub mod locations;
pub mod monitors;
pub mod pages;
pub mod projects;
pub mod session;
pub mod views;
pub mod workspaces;

pub use monitors::{MonitorInput, validate_monitor, validate_monitor_fields};

/// The path of one resource of a workspace: `/workspaces/{workspace}/<resources>/{id}`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// Workspace slug
    pub workspace: String,
    /// The resource's id
    pub id: i64,
}

/// A looked-up resource that may be missing: missing is 404 `not_found`.
pub(crate) trait OrNotFound<T> {
    /// The value, or 404 `not_found` naming `what` ("monitor", "channel", ...).
    fn or_not_found(self, what: &str) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, what: &str) -> Result<T, ApiError> {
        self.ok_or_else(|| ApiError::not_found(what))
    }
}

/// The error shape every failure answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error: a stable code, a message, and the input field at fault if one is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The input field at fault, as a path (`spec.url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<ApiError> for ErrorDetail {
    fn from(e: ApiError) -> Self {
        Self {
            code: e.code.to_owned(),
            message: e.message,
            field: e.field,
        }
    }
}

/// Declares the routes once: the router is built from this table and [`ROUTES`] lists it, so
/// tests can check every route against the OpenAPI document.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path;)+) => {
        /// Every route of the API as `(method, path)`, paths relative to `/api/v1`.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),+];

        fn routes() -> Router<AppState> {
            Router::new()$(.route($path, axum::routing::$method($handler)))+
        }
    };
}

api_routes! {
    get "/openapi.json" => openapi_json;
    post "/auth/login" => session::login;
    post "/auth/logout" => session::logout;
    get "/me" => session::me;

    get "/workspaces" => workspaces::list;
    post "/workspaces" => workspaces::create;
    get "/workspaces/{workspace}" => workspaces::get;
    patch "/workspaces/{workspace}" => workspaces::rename;
    delete "/workspaces/{workspace}" => workspaces::delete;

    get "/workspaces/{workspace}/members" => workspaces::list_members;
    post "/workspaces/{workspace}/members" => workspaces::add_member;
    patch "/workspaces/{workspace}/members/{user_id}" => workspaces::update_member;
    delete "/workspaces/{workspace}/members/{user_id}" => workspaces::remove_member;

    get "/workspaces/{workspace}/tokens" => workspaces::list_tokens;
    post "/workspaces/{workspace}/tokens" => workspaces::create_token;
    delete "/workspaces/{workspace}/tokens/{id}" => workspaces::revoke_token;

    get "/workspaces/{workspace}/locations" => locations::list;
    post "/workspaces/{workspace}/locations" => locations::create;
    delete "/workspaces/{workspace}/locations/{name}" => locations::delete;
    get "/workspaces/{workspace}/locations/{name}/tokens" => locations::list_tokens;
    post "/workspaces/{workspace}/locations/{name}/tokens" => locations::create_token;
    delete "/workspaces/{workspace}/locations/{name}/tokens/{id}" => locations::revoke_token;

    post "/agent/hello" => agents::hello;
    get "/agent/assignments" => agents::assignments;
    post "/agent/results" => agents::results;

    get "/workspaces/{workspace}/monitors" => monitors::list;
    post "/workspaces/{workspace}/monitors" => monitors::create;
    post "/workspaces/{workspace}/monitors/validate" => monitors::validate;
    get "/workspaces/{workspace}/monitors/{id}" => monitors::get;
    put "/workspaces/{workspace}/monitors/{id}" => monitors::update;
    delete "/workspaces/{workspace}/monitors/{id}" => monitors::delete;
    post "/workspaces/{workspace}/monitors/{id}/pause" => monitors::pause;
    post "/workspaces/{workspace}/monitors/{id}/resume" => monitors::resume;
    post "/workspaces/{workspace}/monitors/{id}/check" => monitors::check;
    get "/workspaces/{workspace}/monitors/{id}/channels" => monitors::channels;
    put "/workspaces/{workspace}/monitors/{id}/channels" => monitors::set_channels;
    get "/workspaces/{workspace}/monitors/{id}/results" => monitors::results;
    get "/workspaces/{workspace}/monitors/{id}/stats" => monitors::stats;
    get "/workspaces/{workspace}/monitors/{id}/incidents" => monitors::incidents;

    get "/workspaces/{workspace}/incidents" => incidents::list;
    post "/workspaces/{workspace}/incidents" => incidents::create;
    get "/workspaces/{workspace}/incidents/{id}" => incidents::get;
    patch "/workspaces/{workspace}/incidents/{id}" => incidents::edit;
    post "/workspaces/{workspace}/incidents/{id}/publish" => incidents::publish;
    post "/workspaces/{workspace}/incidents/{id}/updates" => incidents::add_update;
    post "/workspaces/{workspace}/incidents/{id}/resolve" => incidents::resolve;

    get "/workspaces/{workspace}/maintenance" => incidents::list_maintenance;
    post "/workspaces/{workspace}/maintenance" => incidents::create_maintenance;
    get "/workspaces/{workspace}/maintenance/{id}" => incidents::get_maintenance;
    put "/workspaces/{workspace}/maintenance/{id}" => incidents::update_maintenance;
    delete "/workspaces/{workspace}/maintenance/{id}" => incidents::delete_maintenance;

    get "/workspaces/{workspace}/pages" => pages::list;
    post "/workspaces/{workspace}/pages" => pages::create;
    get "/workspaces/{workspace}/pages/{id}" => pages::get;
    put "/workspaces/{workspace}/pages/{id}" => pages::update;
    delete "/workspaces/{workspace}/pages/{id}" => pages::delete;
    put "/workspaces/{workspace}/pages/{id}/password" => pages::set_password;
    post "/workspaces/{workspace}/pages/{id}/groups" => pages::create_group;
    patch "/workspaces/{workspace}/pages/{id}/groups/{group_id}" => pages::update_group;
    delete "/workspaces/{workspace}/pages/{id}/groups/{group_id}" => pages::delete_group;
    put "/workspaces/{workspace}/pages/{id}/group-order" => pages::order_groups;
    post "/workspaces/{workspace}/pages/{id}/components" => pages::create_component;
    put "/workspaces/{workspace}/pages/{id}/components/{component_id}" => pages::update_component;
    delete "/workspaces/{workspace}/pages/{id}/components/{component_id}" => pages::delete_component;
    put "/workspaces/{workspace}/pages/{id}/component-order" => pages::order_components;

    get "/workspaces/{workspace}/channels" => channels::list;
    post "/workspaces/{workspace}/channels" => channels::create;
    get "/workspaces/{workspace}/channels/{id}" => channels::get;
    put "/workspaces/{workspace}/channels/{id}" => channels::update;
    delete "/workspaces/{workspace}/channels/{id}" => channels::delete;
    post "/workspaces/{workspace}/channels/{id}/test" => channels::test;

    get "/workspaces/{workspace}/notifications" => channels::notifications;
    post "/workspaces/{workspace}/notifications/{id}/replay" => channels::replay;

    get "/workspaces/{workspace}/projects" => projects::list;
    post "/workspaces/{workspace}/projects" => projects::create;
    get "/workspaces/{workspace}/projects/{id}" => projects::get;
    patch "/workspaces/{workspace}/projects/{id}" => projects::update;
    delete "/workspaces/{workspace}/projects/{id}" => projects::delete;
    get "/workspaces/{workspace}/projects/{id}/keys" => projects::list_keys;
    post "/workspaces/{workspace}/projects/{id}/keys" => projects::create_key;
    patch "/workspaces/{workspace}/projects/{id}/keys/{key_id}" => projects::update_key;
    delete "/workspaces/{workspace}/projects/{id}/keys/{key_id}" => projects::revoke_key;
    post "/workspaces/{workspace}/projects/{id}/keys/{key_id}/rotate" => projects::rotate_key;
    get "/workspaces/{workspace}/projects/{id}/transactions" => projects::transactions;
    get "/workspaces/{workspace}/projects/{id}/transactions/series" => projects::transaction_series;
    get "/workspaces/{workspace}/projects/{id}/releases" => projects::releases;
    get "/workspaces/{workspace}/projects/{id}/crons" => projects::crons;
    get "/workspaces/{workspace}/projects/{id}/crons/{slug}/check-ins" => projects::check_ins;
    get "/workspaces/{workspace}/projects/{id}/issues" => issues::list;
    post "/workspaces/{workspace}/projects/{id}/issues/resolve" => issues::bulk_resolve;
    post "/workspaces/{workspace}/projects/{id}/issues/ignore" => issues::bulk_ignore;
    post "/workspaces/{workspace}/projects/{id}/issues/unresolve" => issues::bulk_unresolve;
    get "/workspaces/{workspace}/projects/{id}/issues/{issue_id}" => issues::get;
    post "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/resolve" => issues::resolve;
    post "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/ignore" => issues::ignore;
    post "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/unresolve" => issues::unresolve;
    get "/workspaces/{workspace}/projects/{id}/events/{event_id}" => issues::event;
    get "/workspaces/{workspace}/projects/{id}/events/{event_id}/raw" => issues::event_raw;
    get "/workspaces/{workspace}/projects/{id}/events/{event_id}/attachments" => issues::event_attachments;
    get "/workspaces/{workspace}/projects/{id}/attachments/{attachment_id}" => issues::attachment;
}

/// The API's routes, fallbacks in the error shape (404 `not_found`, 405
/// `method_not_allowed`), and the `RateLimit-*` headers of token-authenticated requests.
/// Mount it at `/api/v1`.
pub fn router() -> Router<AppState> {
    routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(auth::rate_limit_headers))
}

/// Unknown routes. A token is still counted (and its headers sent).
async fn not_found(_caller: Result<Caller, ApiError>) -> ApiError {
    ApiError::not_found("route")
}

/// Known routes with another method.
async fn method_not_allowed(_caller: Result<Caller, ApiError>) -> ApiError {
    ApiError::method_not_allowed()
}

/// Adds the two ways to authenticate to the document.
#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`bw_...`), bound to one workspace with a role. Each \
                         token is rate-limited; answers carry RateLimit-Limit, \
                         RateLimit-Remaining and RateLimit-Reset, and 429 adds Retry-After.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::SESSION_COOKIE,
                "The dashboard session cookie set by POST /auth/login. Requests that change \
                 something must come from this site (Origin or Sec-Fetch-Site).",
            ))),
        );
    }
}

/// The OpenAPI 3.1 description of the API, generated from the handlers.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Bit Wobbly API",
        description = "Monitors, incidents, maintenance windows, notification channels and \
                       workspaces. Every error answers `{\"error\": {\"code\", \"message\", \
                       \"field\"}}` with a stable code.",
    ),
    servers((url = "/api/v1")),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    paths(
        openapi_json,
        session::login, session::logout, session::me,
        workspaces::list, workspaces::create, workspaces::get, workspaces::rename,
        workspaces::delete,
        workspaces::list_members, workspaces::add_member, workspaces::update_member,
        workspaces::remove_member,
        workspaces::list_tokens, workspaces::create_token, workspaces::revoke_token,
        locations::list, locations::create, locations::delete, locations::list_tokens,
        locations::create_token, locations::revoke_token,
        agents::hello, agents::assignments, agents::results,
        monitors::list, monitors::create, monitors::validate, monitors::get, monitors::update,
        monitors::delete, monitors::pause, monitors::resume, monitors::check,
        monitors::channels, monitors::set_channels, monitors::results, monitors::stats,
        monitors::incidents,
        incidents::list, incidents::get, incidents::add_update, incidents::resolve,
        incidents::create, incidents::edit, incidents::publish,
        incidents::list_maintenance, incidents::create_maintenance, incidents::get_maintenance,
        incidents::update_maintenance, incidents::delete_maintenance,
        pages::list, pages::create, pages::get, pages::update, pages::delete,
        pages::set_password, pages::create_group, pages::update_group, pages::delete_group,
        pages::order_groups, pages::create_component, pages::update_component,
        pages::delete_component, pages::order_components,
        channels::list, channels::create, channels::get, channels::update, channels::delete,
        channels::test, channels::notifications, channels::replay,
        projects::list, projects::create, projects::get, projects::update, projects::delete,
        projects::list_keys, projects::create_key, projects::update_key, projects::revoke_key,
        projects::rotate_key, projects::transactions, projects::transaction_series,
        projects::releases, projects::crons, projects::check_ins,
        issues::list, issues::bulk_resolve, issues::bulk_ignore, issues::bulk_unresolve,
        issues::get, issues::resolve, issues::ignore, issues::unresolve, issues::event,
        issues::event_raw, issues::event_attachments, issues::attachment,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
)]
pub struct ApiDoc;

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi())
}
