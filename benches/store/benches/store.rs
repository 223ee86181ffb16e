//! Storage benchmarks: batched result inserts (SQLite and PostgreSQL), the 90-day uptime query
//! for a page of 50 monitors, and lease claiming with 4 concurrent claimers on PostgreSQL.
//!
//! Run with `cargo bench -p bench-store` (PostgreSQL server at `BITWOBBLY_BENCH_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, where each bench creates and drops its own
//! database; `BITWOBBLY_BENCH_SKIP_PG=1` skips PostgreSQL).

use std::time::Duration;

use bench_store::{Fixture, PgBenchDb, T0, results};
use bitwobbly_store::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const BATCH: usize = 5_000;
const DAY_MS: i64 = 86_400_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn fixtures(monitors: usize, pg: Option<&PgBenchDb>) -> Vec<(&'static str, Fixture)> {
    let mut out = vec![("sqlite", Fixture::sqlite(monitors).await)];
    if let Some(db) = pg {
        out.push(("postgres", Fixture::postgres(&db.url, monitors).await));
    }
    out
}

fn insert_results(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("insert_results");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    let pg = PgBenchDb::create("insert");
    for (name, fx) in rt.block_on(fixtures(50, pg.as_ref())) {
        let mut round = 0i64;
        group.bench_function(BenchmarkId::new(name, BATCH), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // A new time range each batch, built outside the measurement.
                        let start = Timestamp::from_millis(T0.as_millis() + round * 3_600_000);
                        round += 1;
                        let batch = results(&fx.monitors, start, 1_000, BATCH);
                        let t = tokio::time::Instant::now();
                        fx.store
                            .workspace(fx.ws)
                            .insert_results(&batch)
                            .await
                            .expect("insert");
                        total += t.elapsed();
                    }
                    total
                })
            });
        });
        rt.block_on(fx.cleanup());
    }
    group.finish();
}

fn uptime_90_days(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("uptime_90d_50_monitors");
    group.sample_size(50);
    let pg = PgBenchDb::create("uptime");
    for (name, fx) in rt.block_on(fixtures(50, pg.as_ref())) {
        let now = Timestamp::from_millis(T0.as_millis() + 91 * DAY_MS);
        rt.block_on(async {
            // 90 days of results every 6 hours per monitor, rolled up by the compaction job.
            let rows = results(&fx.monitors, T0, 6 * 3_600_000, 50 * 4 * 90);
            for chunk in rows.chunks(5_000) {
                fx.store
                    .workspace(fx.ws)
                    .insert_results(chunk)
                    .await
                    .expect("insert");
            }
            fx.store
                .global()
                .compact(now, &RetentionPolicy::default())
                .await
                .expect("compact");
        });
        let from = Timestamp::from_millis(now.floor_day().as_millis() - 90 * DAY_MS);
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let days = fx
                        .store
                        .workspace(fx.ws)
                        .uptime_days(&fx.monitors, from, now)
                        .await
                        .expect("uptime");
                    assert!(days.len() >= 50 * 89, "{} days", days.len());
                    days
                })
            });
        });
        rt.block_on(fx.cleanup());
    }
    group.finish();
}

/// Spawns a claimer (bench code: the lint targets production code).
#[allow(clippy::disallowed_methods)]
fn spawn<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(f)
}

fn lease_claiming(c: &mut Criterion) {
    let Some(db) = PgBenchDb::create("lease") else {
        return;
    };
    let rt = runtime();
    let mut group = c.benchmark_group("lease_claim_postgres");
    const CLAIMERS: u64 = 4;
    const PER_CLAIM: u32 = 10;
    group.throughput(Throughput::Elements(CLAIMERS * u64::from(PER_CLAIM)));
    group.sample_size(20);
    let fx = rt.block_on(Fixture::postgres(&db.url, 2_000));
    group.bench_function("4_claimers_claim_release_10", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = tokio::time::Instant::now();
                let mut tasks = Vec::new();
                for n in 0..CLAIMERS {
                    let store = fx.store.clone();
                    tasks.push(spawn(async move {
                        let node = format!("node-{n}");
                        let mut g = store.global();
                        for _ in 0..iters {
                            let now = T0;
                            let got = g
                                .claim_due_monitors(&node, now, Duration::from_secs(60), PER_CLAIM)
                                .await
                                .expect("claim");
                            for m in got {
                                // Due again at once, so the pool never runs dry.
                                g.release_monitor(m.monitor.id, &node, now)
                                    .await
                                    .expect("release");
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.expect("claimer");
                }
                start.elapsed()
            })
        });
    });
    rt.block_on(fx.cleanup());
    group.finish();
}

criterion_group!(benches, insert_results, uptime_90_days, lease_claiming);
criterion_main!(benches);
