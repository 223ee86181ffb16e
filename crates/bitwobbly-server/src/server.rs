//! The whole server: store, routes, layers, background tasks and graceful shutdown.
//!
//! [`Server::bind`] opens the store (creating the data directory, the SQLite file and the
//! blob directory, and applying migrations), binds the listener and, on a fresh database,
//! makes the first-run set-up link. [`Server::run`] serves until SIGINT or SIGTERM, then
//! shuts down gracefully:
//!
//! 1. `state.shutdown` is cancelled: the listener stops accepting, the scheduler stops
//!    claiming monitors and the deliverer stops claiming notifications;
//! 2. in-flight requests, checks and deliveries finish, up to `shutdown_grace`; the
//!    scheduler flushes its result batch and gives its leases back, the deliverer too;
//! 3. the store is closed.
//!
//! ```no_run
//! # async fn f() -> Result<(), bitwobbly_server::server::ServerError> {
//! use bitwobbly_server::{Config, server::Server};
//!
//! let server = Server::bind(Config::default()).await?;
//! println!("listening on {}", server.local_addr());
//! server.run().await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use bitwobbly_store::{BackendKind, Store, StoreError, StoreOptions};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::config::{Config, blob_dir};
use crate::error::{ApiError, error_chain};
use crate::state::AppState;

/// How long background tasks get beyond `shutdown_grace` to hand their work back (flush
/// results, release leases) before they are abandoned.
const TASK_DRAIN_MARGIN: Duration = Duration::from_secs(5);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The data directory (or its blob directory) could not be created.
    #[error("cannot create the data directory {}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database")]
    Store(#[source] StoreError),
    /// The configured blob store could not be set up.
    #[error("cannot set up the blob store ([blobs])")]
    Blobs(#[source] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving HTTP failed")]
    Serve(#[source] std::io::Error),
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
    local_addr: SocketAddr,
    setup_url: Option<String>,
}

impl Server {
    /// Opens the store, binds the listener and prepares the shared state.
    ///
    /// Without a `database_url`, the data directory, its SQLite database and its blob
    /// directory are created as needed. Migrations are applied. When `public_url` is not
    /// set it becomes `http://<bound address>` (so port 0 gives working links). When the
    /// database has no user, a one-time set-up link is made (see [`Server::setup_url`]).
    ///
    /// # Errors
    ///
    /// [`ServerError`] naming the step that failed.
    pub async fn bind(mut config: Config) -> Result<Self, ServerError> {
        let store = open_store(&config).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{local_addr}"));
        }
        let node = config.node_name.clone().unwrap_or_else(default_node_name);
        let backend = match store.kind() {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
            _ => "other",
        };
        let blobs = config
            .blobs
            .open(&config.data_dir)
            .map_err(ServerError::Blobs)?;
        if let Err(e) = crate::blobs::check(blobs.as_ref()).await {
            tracing::error!(error = %e, "the blob store is not reachable: /readyz fails until it is");
        }
        let state = AppState::with_blobs(store, config, node, blobs);
        let setup_url = crate::ops::setup::first_run_token(&state.store, state.clock.now())
            .await
            .map_err(ServerError::Store)?
            .map(|token| crate::ops::setup::setup_url(&state.config.public_url(), &token));
        tracing::info!(
            addr = %local_addr,
            node = %state.node,
            backend,
            public_url = %state.config.public_url(),
            "bitwobbly server bound"
        );
        if let Some(url) = &setup_url {
            tracing::info!("Open {url} to create the first admin");
        }
        Ok(Self {
            state,
            listener,
            local_addr,
            setup_url,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state (store, configuration, metrics, shutdown token).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The first-run set-up link, when the database had no user at [`Server::bind`].
    pub fn setup_url(&self) -> Option<&str> {
        self.setup_url.as_deref()
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully (see the module docs).
    ///
    /// # Errors
    ///
    /// [`ServerError::Serve`] if serving fails.
    pub async fn run(self) -> Result<(), ServerError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes (or `state().shutdown` is cancelled), then shuts
    /// down gracefully.
    ///
    /// # Errors
    ///
    /// [`ServerError::Serve`] if serving fails.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Self {
            state, listener, ..
        } = self;
        let config = &state.config;
        let tasks = TaskTracker::new();
        if config.scheduler.enabled {
            drop(crate::spawn(
                "scheduler",
                tasks.track_future(crate::scheduler::run(state.clone())),
            ));
        } else {
            tracing::info!("the scheduler is disabled on this node");
        }
        if config.notifier.enabled {
            drop(crate::spawn(
                "notifier",
                tasks.track_future(crate::notify::run(state.clone())),
            ));
        } else {
            tracing::info!("the notifier is disabled on this node");
        }
        crate::ingest::spawn_tasks(&state, &tasks);
        crate::pages::spawn_tasks(&state, &tasks);
        tasks.close();

        let app = router(state.clone());
        let stop = state.shutdown.clone();
        let http = crate::spawn(
            "http",
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .into_future(),
        );

        tokio::select! {
            () = signal => tracing::info!("shutting down: signal received"),
            () = state.shutdown.cancelled() => tracing::info!("shutting down"),
        }
        state.shutdown.cancel();
        let grace = config.shutdown_grace;
        let started = tokio::time::Instant::now();

        let mut result = Ok(());
        let abort = http.abort_handle();
        match tokio::time::timeout_at(started + grace, http).await {
            Ok(Ok(Ok(()))) => tracing::info!("HTTP server stopped"),
            Ok(Ok(Err(e))) => {
                tracing::error!(error = %error_chain(&e), "HTTP server failed");
                result = Err(ServerError::Serve(e));
            }
            Ok(Err(join)) => tracing::error!(error = %join, "HTTP server task failed"),
            Err(_) => {
                tracing::warn!(
                    grace = %humantime::format_duration(grace),
                    "requests still in flight after the shutdown grace period: closing them"
                );
                abort.abort();
            }
        }
        if tokio::time::timeout_at(started + grace + TASK_DRAIN_MARGIN, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not finish in time");
        }
        state.store.close().await;
        tracing::info!("shutdown complete");
        result
    }
}

/// Opens (and migrates) the configured database. Without a `database_url`, the data
/// directory, its SQLite database and its blob directory are created as needed. The admin
/// commands use this too, also while a server runs (SQLite is in WAL mode).
///
/// # Errors
///
/// [`ServerError::DataDir`] or [`ServerError::Store`].
pub async fn open_store(config: &Config) -> Result<Store, ServerError> {
    if config.database_url.is_none() {
        for dir in [config.data_dir.clone(), blob_dir(&config.data_dir)] {
            std::fs::create_dir_all(&dir)
                .map_err(|source| ServerError::DataDir { path: dir, source })?;
        }
    }
    let mut options = StoreOptions::default();
    if let Some(n) = config.database_max_connections {
        options = options.max_connections(n);
    }
    Store::open_with(&config.database_url(), options)
        .await
        .map_err(ServerError::Store)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The whole application: `/api/v1` (the REST API), `/ping/...` (heartbeats), `/healthz`,
/// `/readyz`, `/metrics` and `/setup`, with the layers every request goes through:
/// request ids (`x-request-id`, kept when the client sent one, echoed in the response),
/// a tracing span per request, request metrics by matched route and the request timeout
/// (`408`); all but the ingest routes also get response compression and the API's body limit
/// (`413`), both in the API's error shape.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.http.request_timeout;
    let max_body = state.config.http.max_body_bytes;
    // Everything but ingest: response compression and the API's body limit.
    let app = Router::new()
        .nest("/api/v1", crate::api::router())
        .nest("/app", crate::dashboard::router())
        .merge(crate::heartbeat::router())
        .merge(crate::ops::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(CompressionLayer::new())
                .layer(middleware::from_fn_with_state(max_body, body_limit))
                .layer(DefaultBodyLimit::max(max_body)),
        );
    // Ingest reads bodies under its own limits and never compresses its answers (some SDKs
    // break on compressed `{"id":...}` answers). Status pages serve precompressed cached
    // bytes (with an ETag per encoding) and small forms under the extractors' own limits.
    Router::new()
        .merge(app)
        .merge(crate::ingest::router())
        .merge(crate::pages::router())
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(RequestIds))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    record_request,
                ))
                .layer(middleware::from_fn_with_state(timeout, request_timeout)),
        )
        .with_state(state)
}

/// Random 128-bit request ids, as 32 hex digits.
#[derive(Debug, Clone, Copy, Default)]
struct RequestIds;

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let id: u128 = rand::random();
        HeaderValue::from_str(&format!("{id:032x}"))
            .ok()
            .map(RequestId::new)
    }
}

fn request_span<B>(req: &http::Request<B>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id = id,
    )
}

/// Counts the request in `bitwobbly_http_requests` and its duration, by matched route.
async fn record_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    state.metrics.record_request(
        method.as_str(),
        &route,
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}

/// Answers `408 request_timeout` when the handler takes longer than the configured timeout.
async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} and was abandoned",
                humantime::format_duration(limit)
            ),
        )
        .into_response(),
    }
}

/// Answers `413 payload_too_large` at once when the declared body is over the limit
/// (bodies without a length are cut off by the extractors' limit, with the same answer).
async fn body_limit(State(max): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {max} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// The host name plus a random suffix, so two processes on one host differ.
fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}-{:06x}", suffix & 0xff_ffff)
}
