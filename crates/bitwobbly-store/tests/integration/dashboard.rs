//! Overview reads: many monitors' uptime windows and hourly latency in a few queries must
//! equal a brute-force count over the raw results, across the daily, hourly and raw parts;
//! phase buckets equal their brute-force means; another workspace's monitors get nothing;
//! the light monitors list says what the whole monitors and their states say.

use std::collections::BTreeMap;
use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, conformance, heartbeat_monitor, http_monitor, result, workspace};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn add(w: &mut WindowCounts, status: CheckStatus, latency: i64) {
    match status {
        CheckStatus::Up => w.up += 1,
        CheckStatus::Degraded => w.degraded += 1,
        CheckStatus::Down => w.down += 1,
    }
    if status != CheckStatus::Down {
        w.lat_count += 1;
        w.lat_sum_us += latency;
    }
}

/// Results every 7 minutes for 4 days and 5 hours; compaction at 3 days and 2 hours (so the
/// daily watermark is at day 3, the hourly one at 3 d 1 h); the windows from the summaries
/// must equal counting the raw rows.
async fn summaries_match_a_brute_force_count(store: Store) {
    let ws = workspace(&store, "dash").await;
    let other = workspace(&store, "other").await;
    let mut s = store.workspace(ws);
    let mut monitors = Vec::new();
    for i in 0..3 {
        let m = s
            .create_monitor(&http_monitor(&format!("m{i}")), T0)
            .await
            .unwrap();
        monitors.push(m.id);
    }
    let foreign = store
        .workspace(other)
        .create_monitor(&http_monitor("theirs"), T0)
        .await
        .unwrap()
        .id;
    let end = T0.as_millis() + 4 * DAY + 5 * HOUR;
    let mut rows = Vec::new();
    for (mi, m) in monitors.iter().enumerate() {
        let mut t = T0.as_millis() + mi as i64 * 11_000;
        let mut k = 0u64;
        while t < end {
            let status = match (k + mi as u64) % 13 {
                0 => CheckStatus::Down,
                5 | 9 => CheckStatus::Degraded,
                _ => CheckStatus::Up,
            };
            rows.push(result(
                *m,
                Timestamp::from_millis(t),
                status,
                1000 + (k as i64 % 50) * 100,
            ));
            t += 7 * 60_000;
            k += 1;
        }
    }
    for chunk in rows.chunks(1000) {
        s.insert_results(chunk).await.unwrap();
    }
    store
        .workspace(other)
        .insert_results(&[result(
            foreign,
            Timestamp::from_millis(end - HOUR),
            CheckStatus::Up,
            5,
        )])
        .await
        .unwrap();
    let policy = RetentionPolicy::default().with_raw(Duration::from_secs(365 * 86_400));
    let compacted_at = Timestamp::from_millis(T0.as_millis() + 3 * DAY + 2 * HOUR);
    store.global().compact(compacted_at, &policy).await.unwrap();

    let now = Timestamp::from_millis(end - 60_000);
    let starts = [
        now.minus(Duration::from_secs(86_400)).floor_hour(),
        now.minus(Duration::from_secs(2 * 86_400)).floor_day(),
        T0,
        // A start in the middle of a day, before the daily watermark: hourly rollups only.
        Timestamp::from_millis(T0.as_millis() + DAY + 5 * HOUR),
    ];
    let hours_from = now.minus(Duration::from_secs(23 * 3600));
    let mut ids = monitors.clone();
    ids.push(foreign);
    ids.push(MonitorId(999_999));
    let got = s
        .monitor_summaries(&ids, &starts, hours_from, now)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|g| g.monitor_id).collect::<Vec<_>>(),
        monitors,
        "only this workspace's monitors, in the order asked"
    );
    for summary in &got {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.monitor_id == summary.monitor_id && r.started_at <= now)
            .collect();
        for (i, w) in starts.iter().enumerate() {
            let mut want = WindowCounts::default();
            for r in mine.iter().filter(|r| r.started_at >= *w) {
                add(&mut want, r.status, r.timings.total_us);
            }
            assert!(want.total() > 0);
            assert_eq!(
                summary.windows[i], want,
                "window {i} of {:?}",
                summary.monitor_id
            );
        }
        let first = hours_from.floor_hour().as_millis();
        let mut want: BTreeMap<i64, WindowCounts> = BTreeMap::new();
        for h in 0..24 {
            want.insert(first + h * HOUR, WindowCounts::default());
        }
        for r in mine.iter().filter(|r| r.started_at.as_millis() >= first) {
            let h = r.started_at.as_millis() - r.started_at.as_millis() % HOUR;
            add(want.get_mut(&h).unwrap(), r.status, r.timings.total_us);
        }
        assert_eq!(summary.hours, want.into_values().collect::<Vec<_>>());
    }
    assert!(
        s.monitor_summaries(&[], &starts, hours_from, now)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Without any compaction, everything comes from the raw rows.
async fn summaries_before_any_compaction(store: Store) {
    let ws = workspace(&store, "fresh").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("m"), T0).await.unwrap().id;
    let batch: Vec<_> = (0..10)
        .map(|i| {
            let status = if i == 3 {
                CheckStatus::Down
            } else {
                CheckStatus::Up
            };
            result(
                m,
                Timestamp::from_millis(T0.as_millis() + i * 60_000),
                status,
                2000,
            )
        })
        .collect();
    s.insert_results(&batch).await.unwrap();
    let now = Timestamp::from_millis(T0.as_millis() + 10 * 60_000);
    let got = s
        .monitor_summaries(&[m], &[T0.minus(Duration::from_secs(86_400))], T0, now)
        .await
        .unwrap();
    assert_eq!(
        got[0].windows[0],
        WindowCounts {
            up: 9,
            degraded: 0,
            down: 1,
            lat_count: 9,
            lat_sum_us: 18_000
        }
    );
    assert_eq!(got[0].hours.len(), 1);
    assert_eq!(got[0].hours[0].mean_us(), Some(2000.0));
}

async fn phase_rows_are_bucket_means_of_successful_checks(store: Store) {
    let ws = workspace(&store, "phases").await;
    let other = workspace(&store, "other").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("m"), T0).await.unwrap().id;
    let mut batch = Vec::new();
    for i in 0..120i64 {
        let status = if i % 10 == 0 {
            CheckStatus::Down
        } else {
            CheckStatus::Up
        };
        let mut r = result(
            m,
            Timestamp::from_millis(T0.as_millis() + i * 60_000),
            status,
            10_000 + i,
        );
        r.timings.dns_us = i;
        r.timings.connect_us = 2 * i;
        batch.push(r);
    }
    s.insert_results(&batch).await.unwrap();
    let to = Timestamp::from_millis(T0.as_millis() + 2 * HOUR);
    let got = s
        .phase_rows(m, T0, to, Duration::from_secs(1800))
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    for (k, row) in got.iter().enumerate() {
        let start = T0.as_millis() + k as i64 * 1_800_000;
        assert_eq!(row.bucket_start.as_millis(), start);
        let ok: Vec<_> = batch
            .iter()
            .filter(|r| {
                let t = r.started_at.as_millis();
                t >= start && t < start + 1_800_000 && r.status != CheckStatus::Down
            })
            .collect();
        assert_eq!(row.count, ok.len() as i64);
        assert_eq!(
            row.sums_us[0],
            ok.iter().map(|r| r.timings.dns_us).sum::<i64>()
        );
        assert_eq!(
            row.sums_us[1],
            ok.iter().map(|r| r.timings.connect_us).sum::<i64>()
        );
        assert_eq!(
            row.sums_us[3],
            ok.iter().map(|r| r.timings.ttfb_us).sum::<i64>()
        );
        assert_eq!(
            row.total_sum_us,
            ok.iter().map(|r| r.timings.total_us).sum::<i64>()
        );
    }
    // Another workspace sees nothing of this monitor.
    let theirs = store
        .workspace(other)
        .phase_rows(m, T0, to, Duration::from_secs(1800))
        .await
        .unwrap();
    assert!(theirs.is_empty());
}

/// The list's rows equal what the whole monitors and their state rows say: name, key,
/// kind, target, paused and status, for every monitor of the workspace and no other.
async fn monitor_list_matches_whole_monitors(store: Store) {
    let ws = workspace(&store, "list").await;
    let other = workspace(&store, "other").await;
    let mut s = store.workspace(ws);
    let a = s.create_monitor(&http_monitor("alpha"), T0).await.unwrap();
    let mut keyed = http_monitor("Beta");
    keyed.key = Some("beta-key".to_owned());
    let b = s.create_monitor(&keyed, T0).await.unwrap();
    let c = s
        .create_monitor(&heartbeat_monitor("gamma", 300), T0)
        .await
        .unwrap();
    s.set_paused(b.id, true, T0).await.unwrap();
    let st = s.monitor_state(a.id).await.unwrap().unwrap();
    s.update_monitor_state(a.id, &StateUpdate::new(MonitorStatus::Down, st.machine))
        .await
        .unwrap();
    store
        .workspace(other)
        .create_monitor(&http_monitor("theirs"), T0)
        .await
        .unwrap();

    let list = s.monitor_list().await.unwrap();
    let whole = s.monitors().await.unwrap();
    let states = s.monitor_states().await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![a.id, b.id, c.id]
    );
    for (item, m) in list.iter().zip(&whole) {
        assert_eq!(item.id, m.id);
        assert_eq!(item.name, m.name);
        assert_eq!(item.key, m.key);
        assert_eq!(item.kind, m.spec.kind());
        assert_eq!(item.target(), m.spec.target());
        assert_eq!(item.paused, m.paused);
        let state = states
            .iter()
            .find(|x| x.monitor_id == m.id)
            .map(|x| x.status);
        assert_eq!(item.status, state);
    }
    assert_eq!(list[0].status, Some(MonitorStatus::Down));
    assert!(list[1].paused);
    assert_eq!(list[1].key.as_deref(), Some("beta-key"));
    assert_eq!(list[2].kind, "heartbeat");
    assert_eq!(list[0].target(), "http://127.0.0.1:9/health");
    // After a delete, the monitor is gone from the list.
    s.delete_monitor(c.id).await.unwrap();
    assert_eq!(s.monitor_list().await.unwrap().len(), 2);
}

conformance!(
    monitor_list_matches_whole_monitors,
    summaries_match_a_brute_force_count,
    summaries_before_any_compaction,
    phase_rows_are_bucket_means_of_successful_checks,
);
