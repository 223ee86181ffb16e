//! Server time of every dashboard page on a loaded database: 1,000 monitors with a week of
//! results (one every 15 minutes, rolled up by the compaction job) and 10,000 issues with an
//! event each (through the store's ingest calls). Each page is requested in-process through
//! the whole server router (`tower::ServiceExt::oneshot`, signed in with a real session),
//! many times; the p50 and p99 of the time to the full response body are printed as a
//! table.
//!
//! ```text
//! cargo run --release -p bench-dashboard [-- <requests per page, default 200>]
//! ```
// A wall-clock benchmark measures real time: `std::time::Instant` is what it wants.
#![allow(clippy::print_stdout, clippy::disallowed_types)]

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bitwobbly_server::Config;
use bitwobbly_server::server::{Server, router};
use bitwobbly_store::prelude::*;
use tower::ServiceExt as _;

const MONITORS: usize = 1_000;
const ISSUES: usize = 10_000;
const DAYS: i64 = 7;
const EVERY_MS: i64 = 15 * 60_000;

fn monitor(i: usize) -> Result<NewMonitor> {
    let input = serde_json::from_value(serde_json::json!({
        "name": format!("service-{i:04}"),
        "spec": {"type": "http", "url": format!("https://svc{i}.example.com/health")},
        "schedule": {"interval": "1m"},
    }))?;
    bitwobbly_server::api::validate_monitor(&input, &Config::default())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// What the seeded database holds that the pages' paths name.
struct Seeded {
    monitor: i64,
    incident: i64,
    page: i64,
    project: i64,
    issue: i64,
    secret: String,
}

async fn seed(store: &Store, now: Timestamp) -> Result<Seeded> {
    let t0 = Instant::now();
    let ws = store
        .global()
        .create_workspace("bench", "Bench", now)
        .await?;
    let user = store
        .global()
        .create_user("owner@bench.test", "Owner", "correct-horse-battery", now)
        .await?;
    let mut s = store.workspace(ws.id);
    s.set_member(user.id, Role::Owner, now).await?;
    let mut ids = Vec::with_capacity(MONITORS);
    for i in 0..MONITORS {
        ids.push(s.create_monitor(&monitor(i)?, now).await?.id);
    }
    let start = now.as_millis() - DAYS * 86_400_000;
    let mut batch = Vec::with_capacity(10_000);
    let mut written = 0usize;
    for (k, id) in ids.iter().enumerate() {
        let mut t = start + (k as i64 * 997) % EVERY_MS;
        let mut n = 0u64;
        while t < now.as_millis() {
            let status = match (n + k as u64) % 97 {
                0 => CheckStatus::Down,
                1 => CheckStatus::Degraded,
                _ => CheckStatus::Up,
            };
            let ms = 20 + (n * 7 + k as u64) % 200;
            let us = i64::try_from(ms).unwrap_or(0) * 1000;
            batch.push(NewCheckResult {
                monitor_id: *id,
                location: String::new(),
                started_at: Timestamp::from_millis(t),
                status,
                timings: PhaseTimes {
                    dns_us: us / 10,
                    connect_us: us / 10,
                    tls_us: us / 5,
                    ttfb_us: us / 2,
                    transfer_us: us / 10,
                    total_us: us,
                },
                http_status: Some(if status == CheckStatus::Down {
                    500
                } else {
                    200
                }),
                error_kind: None,
                message: None,
            });
            t += EVERY_MS;
            n += 1;
        }
        if batch.len() >= 5_000 {
            written += batch.len();
            s.insert_results(&batch).await?;
            batch.clear();
        }
    }
    written += batch.len();
    s.insert_results(&batch).await?;
    let report = store
        .global()
        .compact(now, &RetentionPolicy::default())
        .await?;
    println!(
        "seeded {MONITORS} monitors, {written} results, {} hourly and {} daily rollups in {:.1} s",
        report.hourly_rows,
        report.daily_rows,
        t0.elapsed().as_secs_f64()
    );
    // Some incidents, a third of them open.
    let mut incident = 0;
    for (k, id) in ids.iter().take(60).enumerate() {
        let i = s
            .open_incident(&NewIncident {
                monitor_id: Some(*id),
                kind: IncidentKind::Automatic,
                title: format!("service-{k:04} is down"),
                status: IncidentStatus::Investigating,
                impact: Impact::Major,
                message: "3 failures in a row".into(),
                started_at: now.minus(Duration::from_secs(3600 * (k as u64 + 1))),
            })
            .await?;
        if k % 3 != 0 {
            s.resolve_incident(i.id, now, "Recovered.").await?;
        }
        incident = i.id.0;
    }
    // A status page with 30 components, each showing a monitor.
    let page = s
        .create_status_page(&NewStatusPage::new("status", "Status"), now)
        .await?;
    for (k, id) in ids.iter().take(30).enumerate() {
        s.create_component(
            &NewComponent {
                key: None,
                page_id: page.id,
                group_id: None,
                monitor_id: Some(*id),
                name: format!("Service {k}"),
                description: None,
                position: k as i64,
                show_uptime: true,
                show_response_times: false,
            },
            now,
        )
        .await?;
    }
    // Issues, each with an event.
    let t1 = Instant::now();
    let project = s
        .create_project("web", "Web", Some("javascript"), now)
        .await?;
    let mut events = Vec::with_capacity(1000);
    let mut issue = 0;
    for i in 0..ISSUES {
        let seen = now.minus(Duration::from_secs(i as u64 * 37));
        let out = s
            .record_sighting(&IssueSighting {
                project_id: project.id,
                fingerprint: format!("{i:016x}"),
                title: format!("TypeError: cannot read property 'x{i}' of undefined"),
                culprit: Some(format!("app/module{}.js", i % 300)),
                level: if i % 10 == 0 { "warning" } else { "error" }.into(),
                seen_at: seen,
                first_seen: seen,
                events: 1,
                new_users: 1,
                release: Some(format!("web@1.{}.0", i % 20)),
                environment: Some("production".into()),
                grouping_version: None,
            })
            .await?;
        issue = out.issue.id.0;
        events.push(NewEvent {
            project_id: project.id,
            event_id: format!("{i:032x}"),
            issue_id: Some(out.issue.id),
            level: "error".into(),
            timestamp: seen,
            release: Some(format!("web@1.{}.0", i % 20)),
            environment: Some("production".into()),
            title: format!("TypeError: cannot read property 'x{i}' of undefined"),
            culprit: Some(format!("app/module{}.js", i % 300)),
            tags: vec![("browser".into(), "Firefox".into())],
            blob_key: None,
            payload: None,
        });
        if events.len() == 1000 {
            s.insert_events(&events).await?;
            events.clear();
        }
    }
    s.insert_events(&events).await?;
    println!(
        "seeded {ISSUES} issues with an event each in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    let (_, secret) = store
        .global()
        .create_session(user.id, now, Duration::from_secs(86_400))
        .await?;
    Ok(Seeded {
        monitor: ids[0].0,
        incident,
        page: page.id.0,
        project: project.id.0,
        issue,
        secret: secret.expose().to_owned(),
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()
        .context("requests per page")?
        .unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.listen = "127.0.0.1:0".parse()?;
    config.data_dir = dir.path().join("data");
    config.database_url = Some(format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ));
    let server = Server::bind(config).await?;
    let state = server.state().clone();
    let now = state.clock.now();
    let Seeded {
        monitor,
        incident,
        page,
        project,
        issue,
        secret,
    } = seed(&state.store, now).await?;
    let app = router(state.clone());
    let cookie = format!("bitwobbly_session={secret}");
    let w = "/app/w/bench";
    let pages: Vec<(&str, String)> = vec![
        ("monitors list", format!("{w}/monitors")),
        (
            "monitors list, search",
            format!("{w}/monitors?q=service-09&page=1"),
        ),
        ("monitors list, page 20", format!("{w}/monitors?page=20")),
        ("monitor detail", format!("{w}/monitors/{monitor}")),
        ("monitor edit form", format!("{w}/monitors/{monitor}/edit")),
        ("incidents", format!("{w}/incidents")),
        ("incident detail", format!("{w}/incidents/{incident}")),
        ("maintenance", format!("{w}/maintenance")),
        ("status pages list", format!("{w}/pages")),
        ("status page editor", format!("{w}/pages/{page}")),
        ("status page preview", format!("{w}/pages/{page}/preview")),
        ("channels", format!("{w}/channels")),
        ("projects", format!("{w}/projects")),
        ("issues list", format!("{w}/projects/{project}/issues")),
        (
            "issues list, filtered",
            format!("{w}/projects/{project}/issues?level=warning"),
        ),
        (
            "issue detail",
            format!("{w}/projects/{project}/issues/{issue}"),
        ),
        (
            "transactions",
            format!("{w}/projects/{project}/transactions"),
        ),
        ("releases", format!("{w}/projects/{project}/releases")),
        ("crons", format!("{w}/projects/{project}/crons")),
        ("settings", format!("{w}/settings")),
    ];
    println!("\n| page | status | p50 | p99 | body |\n| --- | --- | --- | --- | --- |");
    let mut slow = Vec::new();
    for (name, path) in &pages {
        let mut times = Vec::with_capacity(n);
        let mut status = StatusCode::OK;
        let mut size = 0;
        for i in 0..n + 5 {
            let req = Request::get(path.as_str())
                .header(header::COOKIE, &cookie)
                .body(Body::empty())?;
            let t = Instant::now();
            let res = app.clone().oneshot(req).await?;
            status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
            let took = t.elapsed();
            size = body.len();
            // The first few warm the statement cache.
            if i >= 5 {
                times.push(took);
            }
        }
        times.sort_unstable();
        let (p50, p99) = (quantile(&times, 0.5), quantile(&times, 0.99));
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {} KiB |",
            status.as_u16(),
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            size / 1024
        );
        if status == StatusCode::OK && p99 > Duration::from_millis(20) {
            slow.push(*name);
        }
    }
    if !slow.is_empty() {
        println!("\nover 20 ms at p99: {}", slow.join(", "));
    }
    drop(server);
    if pages.is_empty() {
        bail!("no pages");
    }
    Ok(())
}
