//! Load benchmark for the ingest processing worker: a temporary SQLite store (and, with
//! `--database-url`, a PostgreSQL database too) filled with N realistic 2 KB error envelopes as
//! the endpoint stores them, drained by the real worker code. Reports grouped events per
//! second and the bytes on disk per stored event, all told (SQLite database and WAL after
//! `PRAGMA wal_checkpoint(TRUNCATE)`, plus the blob directory; raw envelopes included).
//!
//! Run with: `cargo run --release -p bench-ingest-process --bin process-load -- --events 50000`
//!
//! Targets (issue 6): at least 5,000 events/s on SQLite, at most 3 KB on disk per event.
#![allow(clippy::print_stdout)]

use std::path::Path;

use anyhow::Context as _;
use bench_ingest_process::{
    ERRORS, Report, USERS, config, dir_size, postgres_bytes, run, setup, sqlite_bytes,
};
use bitwobbly_server::AppState;
use bitwobbly_store::Store;

#[derive(Debug)]
struct Settings {
    events: usize,
    batch: u32,
    workers: usize,
    database_url: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let mut settings = Settings {
        events: 50_000,
        batch: 500,
        workers: 1,
        database_url: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--events" => settings.events = value("--events")?.parse()?,
            "--batch" => settings.batch = value("--batch")?.parse()?,
            "--workers" => settings.workers = value("--workers")?.parse()?,
            "--database-url" => settings.database_url = Some(value("--database-url")?),
            "--help" | "-h" => {
                println!(
                    "process-load [--events 50000] [--batch 500] [--workers 1] [--database-url postgres://...]"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    anyhow::ensure!(settings.events > 0, "--events must be positive");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!(
            "{} error envelopes over {} distinct errors and {USERS} users, batches of {}, {} worker(s)",
            settings.events,
            ERRORS.len(),
            settings.batch,
            settings.workers
        );
        sqlite(&settings).await?;
        if let Some(url) = &settings.database_url {
            postgres(&settings, url).await?;
        }
        Ok(())
    })
}

fn print(backend: &str, r: &Report) {
    println!(
        "{backend}: filled in {:.2} s; processed {} events ({} bytes per envelope) in {:.2} s = {:.0} events/s; {} issues, {} distinct users summed over issues",
        r.fill_seconds,
        r.stored_events,
        r.envelope_bytes,
        r.process_seconds,
        r.rate(),
        r.issues,
        r.users
    );
}

async fn sqlite(settings: &Settings) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), None, settings.batch);
    let db = dir.path().join("bitwobbly.db");
    let store = Store::open(&config.database_url()).await?;
    let (ws, project) = setup(&store, "bench").await?;
    store.close().await;
    let blobs = bitwobbly_server::config::blob_dir(dir.path());
    let empty = sqlite_bytes(&db).await? + dir_size(&blobs)?;

    let store = Store::open(&config.database_url()).await?;
    let state = AppState::new(store.clone(), config, "bench".to_owned());
    let report = run(&state, ws, project, settings.events, settings.workers).await?;
    print("SQLite", &report);
    store.close().await;
    let full = sqlite_bytes(&db).await? + dir_size(&blobs)?;
    report_bytes(&db, empty, full, &blobs, report.events)
}

fn report_bytes(db: &Path, empty: u64, full: u64, blobs: &Path, n: usize) -> anyhow::Result<()> {
    let per_event = full.saturating_sub(empty) as f64 / n as f64;
    println!(
        "SQLite on disk: {} bytes empty, {} bytes after (database {} + blobs {}) = {per_event:.0} bytes per event",
        empty,
        full,
        std::fs::metadata(db).map_or(0, |m| m.len()),
        dir_size(blobs)?
    );
    Ok(())
}

async fn postgres(settings: &Settings, url: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), Some(url.to_owned()), settings.batch);
    let store = Store::open(url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let slug = format!(
        "bench-process-{}",
        bitwobbly_server::Clock.now().as_millis()
    );
    let (ws, project) = setup(&store, &slug).await?;
    let before = postgres_bytes(url).await?;
    let state = AppState::new(store.clone(), config, "bench".to_owned());
    let report = run(&state, ws, project, settings.events, settings.workers).await?;
    print("PostgreSQL", &report);
    let after = postgres_bytes(url).await?;
    println!(
        "PostgreSQL database grew by {} bytes = {:.0} bytes per event (pg_database_size, before vacuum; workspace {slug})",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / report.events as f64
    );
    store.close().await;
    Ok(())
}
