use std::collections::BTreeMap;
use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, conformance, http_monitor, result, workspace};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A small deterministic generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[derive(Default, Debug)]
struct Expect {
    up: i64,
    degraded: i64,
    down: i64,
    latencies: Vec<i64>,
}

fn nearest_rank(sorted: &[i64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1] as f64
}

fn check(r: &Rollup, e: &mut Expect) {
    assert_eq!(
        (r.up, r.degraded, r.down),
        (e.up, e.degraded, e.down),
        "{:?}",
        r.bucket_start
    );
    e.latencies.sort_unstable();
    assert_eq!(r.latency.count(), e.latencies.len() as u64);
    assert_eq!(r.min_us, e.latencies.first().copied());
    assert_eq!(r.max_us, e.latencies.last().copied());
    assert_eq!(r.sum_us, e.latencies.iter().sum::<i64>());
    if e.latencies.is_empty() {
        return;
    }
    for q in [0.5, 0.95, 0.99] {
        let want = nearest_rank(&e.latencies, q);
        let got = r.latency.quantile(q).unwrap();
        assert!(
            (got - want).abs() <= want * LatencySketch::RELATIVE_ERROR + 1e-6,
            "p{q} want {want} got {got}"
        );
    }
}

/// Random results over three days for three monitors; the rollups must match a brute-force
/// computation over the same rows, hours and days alike.
async fn rollups_match_a_brute_force_computation(store: Store) {
    let ws = workspace(&store, "roll").await;
    let mut s = store.workspace(ws);
    let mut monitors = Vec::new();
    for i in 0..3 {
        monitors.push(
            s.create_monitor(&http_monitor(&format!("m{i}")), T0)
                .await
                .unwrap()
                .id,
        );
    }
    let mut rng = Lcg(42);
    let mut batch = Vec::new();
    let mut hours: BTreeMap<(MonitorId, i64), Expect> = BTreeMap::new();
    let mut days: BTreeMap<(MonitorId, i64), Expect> = BTreeMap::new();
    for (mi, m) in monitors.iter().enumerate() {
        let mut t = T0.as_millis() + (mi as i64) * 7_000;
        while t < T0.as_millis() + 3 * DAY {
            let status = match rng.next() % 20 {
                0 => CheckStatus::Down,
                1 | 2 => CheckStatus::Degraded,
                _ => CheckStatus::Up,
            };
            let latency = 500 + (rng.next() % 400_000) as i64 * (1 + mi as i64);
            batch.push(result(*m, Timestamp::from_millis(t), status, latency));
            for (map, bucket) in [(&mut hours, t - t % HOUR), (&mut days, t - t % DAY)] {
                let e = map.entry((*m, bucket)).or_default();
                match status {
                    CheckStatus::Up => e.up += 1,
                    CheckStatus::Degraded => e.degraded += 1,
                    CheckStatus::Down => e.down += 1,
                }
                if status != CheckStatus::Down {
                    e.latencies.push(latency);
                }
            }
            t += 60_000 + (rng.next() % 120_000) as i64;
        }
    }
    for chunk in batch.chunks(2000) {
        s.insert_results(chunk).await.unwrap();
    }

    let now = Timestamp::from_millis(T0.as_millis() + 3 * DAY + HOUR);
    let policy = RetentionPolicy::default().with_raw(Duration::from_secs(365 * 86_400));
    let report = store.global().compact(now, &policy).await.unwrap();
    assert_eq!(report.hourly_rows as usize, hours.len());
    assert_eq!(report.daily_rows as usize, days.len());
    assert_eq!(report.results_deleted, 0);

    let end = Timestamp::from_millis(T0.as_millis() + 4 * DAY);
    for m in &monitors {
        let got = s.hourly_rollups(*m, T0, end).await.unwrap();
        let want: Vec<_> = hours.keys().filter(|(mm, _)| mm == m).collect();
        assert_eq!(got.len(), want.len());
        for r in &got {
            check(r, hours.get_mut(&(*m, r.bucket_start.as_millis())).unwrap());
        }
        let got = s.daily_rollups(*m, T0, end).await.unwrap();
        assert_eq!(got.len(), 3);
        for r in &got {
            check(r, days.get_mut(&(*m, r.bucket_start.as_millis())).unwrap());
        }
    }

    let bars = s.uptime_days(&monitors, T0, end).await.unwrap();
    assert_eq!(bars.len(), 9);
    for b in &bars {
        let e = &days[&(b.monitor_id, b.day.as_millis())];
        assert_eq!((b.up, b.degraded, b.down), (e.up, e.degraded, e.down));
    }

    // Running it again changes nothing.
    let again = store.global().compact(now, &policy).await.unwrap();
    assert_eq!((again.hourly_rows, again.daily_rows), (0, 0));
}

async fn retention_deletes_only_what_is_rolled_up(store: Store) {
    let ws = workspace(&store, "ret").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("a"), T0).await.unwrap().id;
    // One result every 10 minutes for 5 days.
    let batch: Vec<_> = (0..5 * 144)
        .map(|i| {
            result(
                m,
                Timestamp::from_millis(T0.as_millis() + i * 600_000),
                CheckStatus::Up,
                1000,
            )
        })
        .collect();
    s.insert_results(&batch).await.unwrap();
    let day = |d: i64| Timestamp::from_millis(T0.as_millis() + d * DAY);

    // Now = day 5 + 2 min: the last hour has not settled (5 min), nothing of it is touched.
    let now = Timestamp::from_millis(day(5).as_millis() + 120_000);
    let policy = RetentionPolicy::default()
        .with_raw(Duration::from_secs(86_400))
        .with_hourly(Duration::from_secs(2 * 86_400))
        .with_daily(Some(Duration::from_secs(4 * 86_400)));
    let report = store.global().compact(now, &policy).await.unwrap();
    assert_eq!(
        report.hourly_until,
        Some(Timestamp::from_millis(day(5).as_millis() - HOUR))
    );

    let q = |from, to| ResultQuery {
        monitor_id: m,
        from,
        to,
        order: Order::Ascending,
        limit: 10_000,
        after: None,
    };
    let kept = s.results(&q(T0, day(6))).await.unwrap().items;
    // Raw kept from now - 1 day.
    let cutoff = now.as_millis() - DAY;
    assert!(
        kept.iter()
            .all(|r| r.result.started_at.as_millis() >= cutoff)
    );
    assert_eq!(
        kept.len() as u64 + report.results_deleted,
        batch.len() as u64
    );
    assert!(!kept.is_empty());

    // Hourly rollups before now - 2 days are gone (their days are merged). Days 0-3 were
    // merged (day 4 is not fully rolled up yet); daily ones are kept for 4 days.
    let hourly = s.hourly_rollups(m, T0, day(6)).await.unwrap();
    assert!(
        hourly
            .iter()
            .all(|r| r.bucket_start.as_millis() >= now.as_millis() - 2 * DAY)
    );
    assert!(!hourly.is_empty());
    let daily = s.daily_rollups(m, T0, day(6)).await.unwrap();
    let starts: Vec<_> = daily.iter().map(|r| r.bucket_start).collect();
    assert_eq!(starts, vec![day(2), day(3)]);
    assert!(daily.iter().all(|r| r.up == 144));
}

conformance!(
    rollups_match_a_brute_force_computation,
    retention_deletes_only_what_is_rolled_up,
);
