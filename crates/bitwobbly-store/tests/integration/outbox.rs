use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, api_down, at, conformance, http_monitor, note, webhook, workspace};

const LEASE: Duration = Duration::from_secs(60);

/// An incident and its notification commit together, or not at all.
async fn incident_and_outbox_row_share_a_transaction(store: Store) {
    let ws = workspace(&store, "tx").await;
    let ch = webhook(&store, ws).await;
    let m = store
        .workspace(ws)
        .create_monitor(&http_monitor("api"), T0)
        .await
        .unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.workspace(ws)
        .open_incident(&api_down(m.id))
        .await
        .unwrap();
    tx.workspace(ws)
        .enqueue_notification(&note(ch.id, T0), T0)
        .await
        .unwrap();
    drop(tx); // rolled back
    assert!(
        store
            .workspace(ws)
            .incidents(false, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .global()
            .claim_notifications("n", at(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut tx = store.begin().await.unwrap();
    let inc = tx
        .workspace(ws)
        .open_incident(&api_down(m.id))
        .await
        .unwrap();
    let n = tx
        .workspace(ws)
        .enqueue_notification(&note(ch.id, T0), T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.workspace(ws).incident(inc.id).await.unwrap(),
        Some(inc)
    );
    let claimed = store
        .global()
        .claim_notifications("n", at(1), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![n.id]);

    let mut tx = store.begin().await.unwrap();
    tx.workspace(ws)
        .enqueue_notification(&note(ch.id, T0), T0)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        store
            .global()
            .claim_notifications("n", at(2), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn outbox_life_cycle(store: Store) {
    let ws = workspace(&store, "ob").await;
    let ch = webhook(&store, ws).await;
    let mut s = store.workspace(ws);
    let first = s.enqueue_notification(&note(ch.id, T0), T0).await.unwrap();
    let later = s
        .enqueue_notification(&note(ch.id, at(500)), T0)
        .await
        .unwrap();
    assert_eq!((first.state, first.attempts), (OutboxState::Pending, 0));
    assert_eq!(first.payload["title"], "API down");
    let mut g = store.global();

    // Claim: only the due one, once while leased, counted as an attempt.
    let got = g.claim_notifications("d1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(
        got.iter().map(|n| (n.id, n.attempts)).collect::<Vec<_>>(),
        vec![(first.id, 1)]
    );
    assert!(
        g.claim_notifications("d2", at(2), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        g.mark_sent(first.id, "d2", at(3))
            .await
            .unwrap_err()
            .is_lease_lost()
    );

    // Retry: back in the queue, not before the given time.
    g.schedule_retry(first.id, "d1", at(100), "HTTP 503")
        .await
        .unwrap();
    assert!(
        g.claim_notifications("d2", at(99), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let got = g
        .claim_notifications("d2", at(100), LEASE, 10)
        .await
        .unwrap();
    assert_eq!((got[0].id, got[0].attempts), (first.id, 2));
    assert_eq!(got[0].last_error.as_deref(), Some("HTTP 503"));

    // A crashed deliverer: its lease expires and another node claims the row.
    let got = g
        .claim_notifications("d3", at(161), LEASE, 10)
        .await
        .unwrap();
    assert_eq!((got[0].id, got[0].attempts), (first.id, 3));
    assert!(
        g.mark_dead(first.id, "d2", at(162), "x")
            .await
            .unwrap_err()
            .is_lease_lost()
    );

    // Dead, listed, replayed, delivered.
    g.mark_dead(first.id, "d3", at(162), "HTTP 410")
        .await
        .unwrap();
    let dead = s.dead_notifications(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].state, dead[0].finished_at),
        (OutboxState::Dead, Some(at(162)))
    );
    assert!(
        g.claim_notifications("d1", at(170), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.replay_notification(first.id, at(200)).await.unwrap();
    assert!(
        s.replay_notification(first.id, at(200))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.dead_notifications(10).await.unwrap().is_empty());
    let got = g
        .claim_notifications("d1", at(200), LEASE, 10)
        .await
        .unwrap();
    assert_eq!((got[0].id, got[0].attempts), (first.id, 1));
    g.mark_sent(first.id, "d1", at(201)).await.unwrap();
    let sent = s.notification(first.id).await.unwrap().unwrap();
    assert_eq!(
        (sent.state, sent.finished_at, sent.lease_owner),
        (OutboxState::Sent, Some(at(201)), None)
    );
    assert!(
        g.mark_sent(first.id, "d1", at(202))
            .await
            .unwrap_err()
            .is_lease_lost()
    );

    let got = g
        .claim_notifications("d1", at(500), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(got[0].id, later.id);
    assert_eq!(g.purge_sent(at(300)).await.unwrap(), 1);
    assert_eq!(s.notification(first.id).await.unwrap(), None);
}

async fn enqueueing_needs_a_channel_of_the_workspace(store: Store) {
    let ws = workspace(&store, "enq").await;
    let err = store
        .workspace(ws)
        .enqueue_notification(&note(ChannelId(424_242), T0), T0)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

async fn outbox_counts_and_lists_rows(store: Store) {
    let a = workspace(&store, "oca").await;
    let b = workspace(&store, "ocb").await;
    let cha = webhook(&store, a).await;
    let chb = webhook(&store, b).await;
    let mut sa = store.workspace(a);
    let mut g = store.global();
    assert_eq!(g.outbox_counts().await.unwrap(), (0, 0));
    let n1 = sa
        .enqueue_notification(&note(cha.id, T0), T0)
        .await
        .unwrap();
    let n2 = sa
        .enqueue_notification(&note(cha.id, T0), T0)
        .await
        .unwrap();
    let n3 = sa
        .enqueue_notification(&note(cha.id, T0), T0)
        .await
        .unwrap();
    store
        .workspace(b)
        .enqueue_notification(&note(chb.id, T0), T0)
        .await
        .unwrap();
    assert_eq!(g.outbox_counts().await.unwrap(), (4, 0));

    let got = g.claim_notifications("d", at(1), LEASE, 4).await.unwrap();
    assert_eq!(got.len(), 4);
    g.mark_dead(n1.id, "d", at(2), "HTTP 410").await.unwrap();
    g.mark_sent(n2.id, "d", at(2)).await.unwrap();
    assert_eq!(
        g.outbox_counts().await.unwrap(),
        (2, 1),
        "over every workspace"
    );

    let ids = |v: Vec<Notification>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(
        ids(sa.notifications(None, 10).await.unwrap()),
        vec![n3.id, n2.id, n1.id]
    );
    assert_eq!(
        ids(sa.notifications(None, 2).await.unwrap()),
        vec![n3.id, n2.id]
    );
    assert_eq!(
        ids(sa.notifications(Some(OutboxState::Dead), 10).await.unwrap()),
        vec![n1.id]
    );
    assert_eq!(
        ids(sa
            .notifications(Some(OutboxState::Pending), 10)
            .await
            .unwrap()),
        vec![n3.id]
    );
    assert_eq!(
        ids(store
            .workspace(b)
            .notifications(Some(OutboxState::Dead), 10)
            .await
            .unwrap()),
        Vec::<OutboxId>::new()
    );
}

async fn a_node_gives_back_its_notifications_at_shutdown(store: Store) {
    let ws = workspace(&store, "orel").await;
    let ch = webhook(&store, ws).await;
    let mut s = store.workspace(ws);
    let n1 = s.enqueue_notification(&note(ch.id, T0), T0).await.unwrap();
    let n2 = s.enqueue_notification(&note(ch.id, T0), T0).await.unwrap();
    let mut g = store.global();
    let got = g.claim_notifications("d1", at(1), LEASE, 1).await.unwrap();
    assert_eq!(got[0].id, n1.id);
    let got = g.claim_notifications("d2", at(1), LEASE, 1).await.unwrap();
    assert_eq!(got[0].id, n2.id);

    assert_eq!(g.release_notifications("d1").await.unwrap(), 1);
    assert_eq!(g.release_notifications("d1").await.unwrap(), 0);
    let back = s.notification(n1.id).await.unwrap().unwrap();
    assert_eq!(
        (
            back.state,
            back.attempts,
            back.lease_owner,
            back.next_attempt_at
        ),
        (OutboxState::Pending, 1, None, T0),
        "the attempt still counts"
    );
    // The old holder lost it; another node claims it at once, as its second attempt.
    assert!(
        g.mark_sent(n1.id, "d1", at(2))
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    let got = g.claim_notifications("d3", at(2), LEASE, 10).await.unwrap();
    assert_eq!(
        got.iter().map(|n| (n.id, n.attempts)).collect::<Vec<_>>(),
        vec![(n1.id, 2)]
    );
    g.mark_sent(n2.id, "d2", at(3)).await.unwrap();
}

conformance!(
    outbox_counts_and_lists_rows,
    a_node_gives_back_its_notifications_at_shutdown,
    incident_and_outbox_row_share_a_transaction,
    outbox_life_cycle,
    enqueueing_needs_a_channel_of_the_workspace,
);
