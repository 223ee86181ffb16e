//! Two scheduler nodes on one PostgreSQL database share the work, never run a monitor twice
//! in one interval, and one takes over when the other dies without releasing its leases.

use std::collections::HashMap;
use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::http::TestServer;

use crate::harness::*;

const MONITORS: usize = 200;
const INTERVAL_MS: i64 = 10_000;

/// Every monitor's results since `since`, by monitor.
async fn results_by_monitor(
    store: &Store,
    ws: WorkspaceId,
    ids: &[MonitorId],
) -> HashMap<MonitorId, Vec<Timestamp>> {
    let mut out = HashMap::new();
    for id in ids {
        let times = all_results(store, ws, *id)
            .await
            .into_iter()
            .map(|r| r.result.started_at)
            .collect();
        out.insert(*id, times);
    }
    out
}

/// Waits until every monitor has been judged after `t`.
async fn all_judged_after(store: &Store, ws: WorkspaceId, t: Timestamp) {
    eventually("every monitor to run again", || async {
        let states = store.workspace(ws).monitor_states().await.unwrap();
        let behind = states
            .iter()
            .filter(|s| s.last_result_at.is_none_or(|at| at <= t))
            .count();
        if behind > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (states.len() == MONITORS && behind == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_work_and_one_takes_over_from_a_dead_one() {
    let db = TestDb::postgres().await;
    let store_a = db.store.clone();
    let store_b = db.reopen().await;
    let ws = workspace(&store_a, "acme").await;
    let server = TestServer::http().unwrap();
    let mut ids = Vec::new();
    for i in 0..MONITORS {
        let m = create(
            &store_a,
            ws,
            &http_monitor(&format!("m{i}"), &server.url("/"), thresholds(2, 2)),
        )
        .await;
        ids.push(m.id);
    }
    let mut config = fast_config();
    config.scheduler.lease = Duration::from_secs(3);
    config.scheduler.poll_interval = Duration::from_millis(100);
    let started = Clock.now();
    let a = Running::start(app(&store_a, config.clone(), "node-a"));
    let b = Running::start(app(&store_b, config, "node-b"));

    // Both nodes run: the creation run and at least one slot run of every monitor.
    all_judged_after(
        &store_a,
        ws,
        started.plus(Duration::from_millis(INTERVAL_MS as u64 + 500)),
    )
    .await;
    let up = "bitwobbly_checks_total{outcome=\"up\"}";
    let by_a = counter(&a.state, up);
    let by_b_before = counter(&b.state, up);
    assert!(
        by_a > 0.0 && by_b_before > 0.0,
        "a ran {by_a}, b ran {by_b_before}"
    );

    // Node A dies holding leases; B picks its monitors up once they expire.
    a.kill().await;
    let killed = Clock.now();
    all_judged_after(
        &store_a,
        ws,
        killed.plus(Duration::from_millis(INTERVAL_MS as u64 + 500)),
    )
    .await;
    assert!(counter(&b.state, up) > by_b_before);
    b.stop().await;

    // Never twice in one interval: after the creation run, runs follow the 10 s slots.
    let results = results_by_monitor(&store_a, ws, &ids).await;
    for (id, times) in &results {
        assert!(times.len() >= 3, "{id:?} ran {} times", times.len());
        for pair in times[1..].windows(2) {
            let gap = pair[1].as_millis() - pair[0].as_millis();
            assert!(
                gap >= INTERVAL_MS / 2,
                "{id:?} ran twice within {gap} ms: {times:?}"
            );
        }
        assert!(
            times.iter().any(|t| t.as_millis() > killed.as_millis()),
            "{id:?} was not taken over"
        );
    }
    let states = store_a.workspace(ws).monitor_states().await.unwrap();
    assert!(
        states
            .iter()
            .all(|s| s.lease_owner.as_deref() != Some("node-b"))
    );
    drop(store_b);
    db.finish().await;
}
