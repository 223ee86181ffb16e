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

async fn claimed_monitors_carry_their_state(store: Store) {
    let ws = workspace(&store, "cs").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let machine = crate::harness::machine_down();
    s.update_monitor_state(
        m.id,
        &StateUpdate {
            last_result_at: Some(at(-60)),
            last_status: Some(CheckStatus::Down),
            ..StateUpdate::new(MonitorStatus::Down, machine.clone())
        },
    )
    .await
    .unwrap();
    let got = store
        .global()
        .claim_due_monitors("n1", at(5), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let st = &got[0].state;
    assert_eq!((st.monitor_id, st.workspace_id), (m.id, ws));
    assert_eq!((st.status, &st.machine), (MonitorStatus::Down, &machine));
    assert_eq!(
        (st.last_result_at, st.last_status),
        (Some(at(-60)), Some(CheckStatus::Down))
    );
    assert_eq!(
        (
            st.lease_owner.as_deref(),
            st.lease_expires_at,
            st.next_run_at
        ),
        (Some("n1"), Some(at(35)), T0)
    );
    assert_eq!(got[0].monitor, m);
}

async fn a_node_gives_back_all_its_leases_at_shutdown(store: Store) {
    let ws = workspace(&store, "rel").await;
    let mut s = store.workspace(ws);
    let mut ids = Vec::new();
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        let due = at(i64::try_from(i).unwrap());
        ids.push(s.create_monitor(&http_monitor(name), due).await.unwrap().id);
    }
    let mut g = store.global();
    let n1 = g.claim_due_monitors("n1", at(10), LEASE, 2).await.unwrap();
    let n2 = g.claim_due_monitors("n2", at(10), LEASE, 10).await.unwrap();
    assert_eq!((n1.len(), n2.len()), (2, 1));
    assert_eq!(g.release_all_monitors("n1").await.unwrap(), 2);
    assert_eq!(g.release_all_monitors("n1").await.unwrap(), 0);
    for c in &n1 {
        let st = s.monitor_state(c.monitor.id).await.unwrap().unwrap();
        assert_eq!(
            (st.lease_owner, st.lease_expires_at, st.next_run_at),
            (None, None, c.due_at),
            "next_run_at is kept"
        );
    }
    let kept = s.monitor_state(n2[0].monitor.id).await.unwrap().unwrap();
    assert_eq!(kept.lease_owner.as_deref(), Some("n2"));
    // Released monitors are due again at once, for any node; n2's lease still holds.
    let n3 = g.claim_due_monitors("n3", at(11), LEASE, 10).await.unwrap();
    let mut taken: Vec<_> = n3.iter().map(|c| c.monitor.id).collect();
    taken.sort();
    let mut want: Vec<_> = n1.iter().map(|c| c.monitor.id).collect();
    want.sort();
    assert_eq!(taken, want);
}

conformance!(
    leases_are_claimed_renewed_and_released,
    concurrent_claimers_never_share_a_monitor,
    claimed_monitors_carry_their_state,
    a_node_gives_back_all_its_leases_at_shutdown,
);
