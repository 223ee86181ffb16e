use std::collections::HashSet;
use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance, http_monitor, spawn, workspace};

const LEASE: Duration = Duration::from_secs(30);

async fn leases_are_claimed_renewed_and_released(store: Store) {
    let ws = workspace(&store, "l").await;
    let mut s = store.workspace(ws);
    let a = s.create_monitor(&http_monitor("a"), T0).await.unwrap();
    let b = s.create_monitor(&http_monitor("b"), at(100)).await.unwrap();
    let mut g = store.global();

    let got = g.claim_due_monitors("n1", at(10), LEASE, 10).await.unwrap();
    assert_eq!(
        got.iter().map(|c| c.monitor.id).collect::<Vec<_>>(),
        vec![a.id],
        "b not due yet"
    );
    assert_eq!((got[0].due_at, got[0].lease_expires_at), (T0, at(40)));
    assert!(
        g.claim_due_monitors("n2", at(20), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "lease is live"
    );

    g.renew_monitor_lease(a.id, "n1", at(30), LEASE)
        .await
        .unwrap();
    assert!(
        g.renew_monitor_lease(a.id, "n2", at(30), LEASE)
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert!(
        g.claim_due_monitors("n2", at(50), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "renewed to 60"
    );

    // Expired: another node takes it over; the first one has lost it.
    let got = g.claim_due_monitors("n2", at(60), LEASE, 10).await.unwrap();
    assert_eq!(got[0].monitor.id, a.id);
    assert!(
        g.release_monitor(a.id, "n1", at(120))
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert!(
        g.renew_monitor_lease(a.id, "n1", at(61), LEASE)
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    g.release_monitor(a.id, "n2", at(120)).await.unwrap();
    let st = s.monitor_state(a.id).await.unwrap().unwrap();
    assert_eq!((st.next_run_at, st.lease_owner), (at(120), None));

    let got = g.claim_due_monitors("n1", at(120), LEASE, 1).await.unwrap();
    assert_eq!(got[0].monitor.id, b.id, "oldest due first, limit respected");
}

async fn concurrent_claimers_never_share_a_monitor(store: Store) {
    let ws = workspace(&store, "cc").await;
    let total = 120;
    for i in 0..total {
        store
            .workspace(ws)
            .create_monitor(&http_monitor(&format!("m{i}")), T0)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for node in 0..8 {
        let store = store.clone();
        tasks.push(spawn(async move {
            let name = format!("node-{node}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .global()
                    .claim_due_monitors(&name, at(5), Duration::from_secs(300), 7)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| c.monitor.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut count = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            count += 1;
            assert!(seen.insert(id), "monitor {id} claimed twice");
        }
    }
    assert_eq!((count, seen.len()), (total, total));
}

conformance!(
    leases_are_claimed_renewed_and_released,
    concurrent_claimers_never_share_a_monitor,
);
