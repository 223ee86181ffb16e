//! Load benchmark for the ingest processing worker, used by the `process-load` binary.
//!
//! A store is filled with realistic error envelopes exactly as the ingest endpoint makes them
//! durable (manifest rows with the raw bytes compressed inline, written in group commits of
//! 2,048 through `IngestQueue::record_envelopes`), then the real worker code
//! (`bitwobbly_server::ingest::process::process_batch`) drains the queue: parsing, grouping,
//! events, issues, distinct users and issue alerts, all in its batched transactions.

use std::path::Path;

use anyhow::Context as _;
use bitwobbly_server::ingest::process::process_batch;
use bitwobbly_server::{AppState, Clock, Config};
use bitwobbly_store::prelude::*;
use tokio::time::Instant;

/// Distinct errors the generated events are spread over (each becomes one issue).
pub const ERRORS: &[(&str, &str, &str, &str)] = &[
    ("KeyError", "'customer_id'", "app.views", "order_detail"),
    (
        "ValueError",
        "invalid literal for int() with base 10: 'abc'",
        "app.forms",
        "clean_quantity",
    ),
    (
        "TypeError",
        "'NoneType' object is not subscriptable",
        "app.cart",
        "total",
    ),
    (
        "AttributeError",
        "'User' object has no attribute 'plan'",
        "app.billing",
        "invoice",
    ),
    (
        "ZeroDivisionError",
        "division by zero",
        "app.reports",
        "conversion_rate",
    ),
    (
        "ConnectionError",
        "Connection refused: payments.internal:443",
        "app.payments",
        "charge",
    ),
    (
        "TimeoutError",
        "timed out after 30s",
        "app.search",
        "query_index",
    ),
    (
        "PermissionError",
        "[Errno 13] Permission denied: '/srv/uploads/tmp'",
        "app.uploads",
        "store",
    ),
    (
        "IntegrityError",
        "duplicate key value violates unique constraint 'orders_pkey'",
        "app.orders",
        "create",
    ),
    (
        "RuntimeError",
        "maximum recursion depth exceeded",
        "app.tree",
        "walk",
    ),
    (
        "IndexError",
        "list index out of range",
        "app.pagination",
        "page",
    ),
    (
        "UnicodeDecodeError",
        "'utf-8' codec can't decode byte 0xff in position 0",
        "app.imports",
        "parse_csv",
    ),
];

/// Distinct users the events come from.
pub const USERS: usize = 500;
const RELEASES: &[&str] = &["shop@2.14.0", "shop@2.14.1", "shop@2.15.0"];
const ENVIRONMENTS: &[&str] = &["production", "staging"];

/// The `i`-th generated envelope (about 2 KB of event payload) and its event id. Error kind,
/// user, release and environment vary with `i`; the timestamp is `now` minus up to an hour.
pub fn error_envelope(i: usize, now: Timestamp) -> (String, Vec<u8>) {
    let id = format!("{:032x}", 0x5eed_0000_0000_u64 + i as u64);
    let (ty, value, module, function) = ERRORS[(i * 7 + i / 13) % ERRORS.len()];
    let user = (i * 31 + 7) % USERS;
    let release = RELEASES[i % RELEASES.len()];
    let environment = ENVIRONMENTS[(i / 3) % ENVIRONMENTS.len()];
    let file = module.replace('.', "/");
    let seconds = (now.as_millis() - ((i * 613) % 3_600_000) as i64) as f64 / 1000.0;
    let event = format!(
        concat!(
            r#"{{"event_id":"{id}","timestamp":{seconds:.3},"platform":"python","#,
            r#""level":"error","logger":"{module}","server_name":"web-{server}","release":"{release}","#,
            r#""environment":"{environment}","transaction":"/api/{function}/{{id}}","#,
            r#""exception":{{"values":[{{"type":"{ty}","value":"{value}","#,
            r#""mechanism":{{"type":"django","handled":false}},"#,
            r#""stacktrace":{{"frames":["#,
            r#"{{"filename":"django/core/handlers/exception.py","abs_path":"/usr/lib/python3.12/site-packages/django/core/handlers/exception.py","function":"inner","module":"django.core.handlers.exception","lineno":55,"in_app":false}},"#,
            r#"{{"filename":"django/core/handlers/base.py","abs_path":"/usr/lib/python3.12/site-packages/django/core/handlers/base.py","function":"_get_response","module":"django.core.handlers.base","lineno":197,"in_app":false}},"#,
            r#"{{"filename":"{file}.py","abs_path":"/srv/{file}.py","function":"{function}","module":"{module}","lineno":{line},"in_app":true,"context_line":"    result = handle(request, item_id)","pre_context":["def {function}(request, item_id):","    data = load(item_id)"],"post_context":["    return render(request, result)"]}}"#,
            r#"]}}}}]}},"#,
            r#""breadcrumbs":{{"values":[{{"timestamp":{seconds:.1},"category":"query","message":"SELECT * FROM orders WHERE id = %s","level":"info"}},"#,
            r#"{{"timestamp":{seconds:.1},"category":"http","data":{{"url":"https://payments.internal/v1/status","method":"GET","status_code":200}},"level":"info"}}]}},"#,
            r#""request":{{"url":"https://shop.example.com/api/{function}/{user}","method":"GET","headers":{{"User-Agent":"Mozilla/5.0 (X11; Linux x86_64)","Accept":"application/json"}}}},"#,
            r#""user":{{"id":"user-{user}","ip_address":"203.0.113.{ip}"}},"#,
            r#""tags":{{"region":"eu-west-1","feature":"checkout-v2","browser":"Firefox 133"}},"#,
            r#""contexts":{{"runtime":{{"name":"CPython","version":"3.12.3"}},"os":{{"name":"Linux","version":"6.8.0"}},"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","span_id":"fa90fdead5f74052","op":"http.server"}}}},"#,
            r#""sdk":{{"name":"sentry.python.django","version":"2.19.0","packages":[{{"name":"pypi:sentry-sdk","version":"2.19.0"}}]}},"#,
            r#""modules":{{"django":"5.1.4","psycopg":"3.2.3","redis":"5.2.1"}}}}"#
        ),
        id = id,
        seconds = seconds,
        module = module,
        release = release,
        environment = environment,
        function = function,
        ty = ty,
        value = value,
        file = file,
        user = user,
        server = i % 8,
        line = 20 + i % 90,
        ip = user % 250,
    );
    let header = format!(
        r#"{{"event_id":"{id}","sent_at":"2025-01-01T12:00:00.200000Z","sdk":{{"name":"sentry.python.django","version":"2.19.0"}},"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","environment":"{environment}","release":"{release}","public_key":"k","sample_rate":"1.0"}}}}"#
    );
    let body = format!(
        "{header}\n{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n{event}\n",
        event.len()
    );
    (id, body.into_bytes())
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Envelopes (one error event each) stored and processed.
    pub events: usize,
    /// Average raw envelope size.
    pub envelope_bytes: usize,
    /// Seconds spent filling the queue.
    pub fill_seconds: f64,
    /// Seconds the worker(s) took to empty the queue.
    pub process_seconds: f64,
    /// Issues the events were grouped into.
    pub issues: usize,
    /// Events stored (duplicates and unusable payloads would be missing).
    pub stored_events: i64,
    /// The sum of the issues' distinct users.
    pub users: i64,
}

impl Report {
    /// Processed events per second.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.process_seconds
    }
}

/// Fills `store` (workspace `ws`, project `project`) with `n` envelopes and processes them
/// with `workers` concurrent workers of `state`.
///
/// # Errors
/// A store error, or a run that did not process every envelope.
pub async fn run(
    state: &AppState,
    ws: WorkspaceId,
    project: ProjectId,
    n: usize,
    workers: usize,
) -> anyhow::Result<Report> {
    let store = &state.store;
    let now = Clock.now();
    let started = Instant::now();
    let mut raw_total = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(2048) {
        let mut batch = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let (id, raw) = error_envelope(i, now);
            raw_total += raw.len();
            let manifest = NewEnvelope {
                project_id: project,
                event_id: Some(id),
                received_at: now,
                size: 0,
                blob_key: String::new(),
                item_types: vec!["event".to_owned()],
            };
            batch.push(DurableEnvelope::inline(ws, manifest, &raw)?);
        }
        store.global().record_envelopes(&batch).await?;
    }
    let fill_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers.max(1) {
        let state = state.clone();
        tasks.push(bitwobbly_server::spawn("process-load", async move {
            let owner = format!("bench#process-{w}");
            let mut claimed = 0;
            loop {
                let k = process_batch(&state, &owner).await?;
                if k == 0 {
                    return Ok::<usize, bitwobbly_store::StoreError>(claimed);
                }
                claimed += k;
            }
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        claimed += task.await.context("a worker panicked")??;
    }
    let process_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        claimed >= n,
        "the workers claimed {claimed} envelopes of {n}"
    );

    let mut scope = store.workspace(ws);
    let issues = scope.issues(project, None, 1000).await?;
    let stored_events = issues.iter().map(|i| i.event_count).sum();
    let users = issues.iter().map(|i| i.user_count).sum();
    anyhow::ensure!(
        stored_events == n as i64,
        "{stored_events} events stored of {n}"
    );
    Ok(Report {
        events: n,
        envelope_bytes: raw_total / n.max(1),
        fill_seconds,
        process_seconds,
        issues: issues.len(),
        stored_events,
        users,
    })
}

/// A server configuration for the run: data in `data_dir`, processing batches of `batch`.
pub fn config(data_dir: &Path, database_url: Option<String>, batch: u32) -> Config {
    let mut config = Config::default();
    config.data_dir = data_dir.to_owned();
    config.database_url = database_url;
    config.ingest.processing.batch = batch;
    config
}

/// A new workspace (slug `slug`) with one Python project.
///
/// # Errors
/// A store error.
pub async fn setup(store: &Store, slug: &str) -> anyhow::Result<(WorkspaceId, ProjectId)> {
    let now = Clock.now();
    let ws = store
        .global()
        .create_workspace(slug, "Bench", now)
        .await?
        .id;
    let project = store
        .workspace(ws)
        .create_project("shop", "Shop", Some("python"), now)
        .await?;
    Ok((ws, project.id))
}

pub use bench_ingest::dir_size;

/// Checkpoints the SQLite database at `db` (`PRAGMA wal_checkpoint(TRUNCATE)`) and returns the
/// bytes of the database file and its `-wal` file.
///
/// # Errors
/// A database or I/O error.
pub async fn sqlite_bytes(db: &Path) -> anyhow::Result<u64> {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Ok(size(db) + size(Path::new(&wal)))
}

/// The size of the current PostgreSQL database (`pg_database_size`).
///
/// # Errors
/// A database error.
pub async fn postgres_bytes(url: &str) -> anyhow::Result<u64> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let (n,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
