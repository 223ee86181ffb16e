use std::collections::HashSet;
use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance, spawn, webhook, workspace};

fn envelope(project: ProjectId, n: i64) -> NewEnvelope {
    NewEnvelope {
        project_id: project,
        event_id: Some(format!("{n:032x}")),
        received_at: at(n),
        size: 100 + n,
        blob_key: format!("envelopes/{n}.bin"),
        item_types: vec![
            "event".into(),
            "attachment".into(),
            "unknown_future_type".into(),
        ],
    }
}

async fn projects_and_dsn_keys(store: Store) {
    let ws = workspace(&store, "proj").await;
    let mut s = store.workspace(ws);
    let p = s
        .create_project("backend", "Backend", Some("python"), T0)
        .await
        .unwrap();
    assert!(
        s.create_project("backend", "Again", None, T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert_eq!(s.project(p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(s.projects().await.unwrap(), vec![p.clone()]);
    let ch = webhook(&store, ws).await;
    s.set_project_channels(p.id, &[ch.id]).await.unwrap();
    assert_eq!(s.project_channels(p.id).await.unwrap(), vec![ch.id]);

    let key = s
        .create_dsn_key(p.id, "default", Some(600), T0)
        .await
        .unwrap();
    assert_eq!(key.public_key.len(), 32);
    assert_eq!(key.status, KeyStatus::Active);
    let mut g = store.global();
    assert_eq!(
        g.dsn_key_by_public_key(&key.public_key).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(g.active_dsn_keys().await.unwrap(), vec![key.clone()]);
    s.update_dsn_key(key.id, KeyStatus::Disabled, None)
        .await
        .unwrap();
    assert!(g.active_dsn_keys().await.unwrap().is_empty());
    let k = &s.dsn_keys(p.id).await.unwrap()[0];
    assert_eq!(
        (k.status, k.rate_limit_per_minute),
        (KeyStatus::Disabled, None)
    );

    let other = workspace(&store, "proj-other").await;
    let mut o = store.workspace(other);
    assert!(o.projects().await.unwrap().is_empty());
    assert!(o.dsn_keys(p.id).await.unwrap().is_empty());
    assert!(
        o.create_dsn_key(p.id, "steal", None, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.update_dsn_key(key.id, KeyStatus::Active, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.record_envelope(&envelope(p.id, 1))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn envelopes_queue_with_leases(store: Store) {
    let ws = workspace(&store, "env").await;
    let mut s = store.workspace(ws);
    let p = s.create_project("web", "Web", None, T0).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(s.record_envelope(&envelope(p.id, n)).await.unwrap().id);
    }
    let first = s.envelope(ids[0]).await.unwrap().unwrap();
    assert_eq!(first.manifest, envelope(p.id, 0));
    assert_eq!((first.state, first.attempts), (EnvelopeState::Pending, 0));

    // Four workers drain the queue concurrently; every envelope is claimed exactly once.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(spawn(async move {
            let node = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .global()
                    .claim_envelopes(&node, at(100), Duration::from_secs(60), 3)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                for e in got {
                    store.global().complete_envelope(e.id, &node).await.unwrap();
                    mine.push(e.id);
                }
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id), "envelope {id} processed twice");
        }
    }
    assert_eq!(seen.len(), 40);

    // Release puts one back; fail ends it; a lost lease is reported.
    let e = s.record_envelope(&envelope(p.id, 500)).await.unwrap();
    let mut g = store.global();
    let got = g
        .claim_envelopes("a", at(600), Duration::from_secs(10), 10)
        .await
        .unwrap();
    assert_eq!(got[0].id, e.id);
    g.release_envelope(e.id, "a", "db busy").await.unwrap();
    let got = g
        .claim_envelopes("b", at(601), Duration::from_secs(10), 10)
        .await
        .unwrap();
    assert_eq!(
        (got[0].attempts, got[0].last_error.as_deref()),
        (2, Some("db busy"))
    );
    assert!(
        g.complete_envelope(e.id, "a")
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    g.fail_envelope(e.id, "b", "bad payload").await.unwrap();
    assert_eq!(
        s.envelope(e.id).await.unwrap().unwrap().state,
        EnvelopeState::Failed
    );
    assert!(
        g.claim_envelopes("c", at(700), Duration::from_secs(10), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Retention returns the blob keys of what it deleted.
    let keys = g.delete_processed_envelopes(at(20), 1000).await.unwrap();
    assert_eq!(keys.len(), 20);
    assert!(keys.contains(&"envelopes/0.bin".to_owned()));
    assert_eq!(s.envelope(ids[0]).await.unwrap(), None);
    assert!(s.envelope(ids[39]).await.unwrap().is_some());
}

async fn issues_count_events_and_regress(store: Store) {
    let ws = workspace(&store, "iss").await;
    let mut s = store.workspace(ws);
    let p = s.create_project("api", "API", None, T0).await.unwrap();
    let sighting = |at_s: i64, users: i64| IssueSighting {
        project_id: p.id,
        fingerprint: "abc123".into(),
        title: "ZeroDivisionError".into(),
        culprit: Some("app.views.divide".into()),
        level: "error".into(),
        seen_at: at(at_s),
        first_seen: at(at_s),
        events: 1,
        new_users: users,
        release: Some("1.0.0".into()),
        environment: None,
        grouping_version: Some("bitwobbly-1".into()),
    };
    let first = s.record_sighting(&sighting(10, 1)).await.unwrap();
    assert!(first.created && !first.regressed);
    let second = s.record_sighting(&sighting(5, 0)).await.unwrap();
    assert!(!second.created && !second.regressed);
    assert_eq!(
        (
            second.issue.event_count,
            second.issue.user_count,
            second.issue.first_seen,
            second.issue.last_seen
        ),
        (2, 1, at(10), at(10))
    );

    let issue = first.issue.id;
    let event = NewEvent {
        project_id: p.id,
        event_id: "0123456789abcdef0123456789abcdef".into(),
        issue_id: Some(issue),
        level: "error".into(),
        timestamp: at(10),
        release: Some("1.0.0".into()),
        environment: Some("prod".into()),
        title: "ZeroDivisionError".into(),
        culprit: None,
        tags: vec![("browser".into(), "Firefox".into())],
        blob_key: Some("events/1".into()),
        payload: None,
    };
    let stored = s.insert_event(&event).await.unwrap().unwrap();
    assert_eq!(stored.event, event);
    assert_eq!(
        s.insert_event(&event).await.unwrap(),
        None,
        "duplicates are dropped"
    );
    assert_eq!(
        s.event(p.id, &event.event_id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(s.events_for_issue(issue, 10).await.unwrap(), vec![stored]);

    s.set_issue_status(issue, IssueStatus::Resolved, at(50))
        .await
        .unwrap();
    assert_eq!(
        s.issue(issue).await.unwrap().unwrap().resolved_at,
        Some(at(50))
    );
    assert!(
        s.issues(p.id, Some(IssueStatus::Unresolved), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let back = s.record_sighting(&sighting(60, 1)).await.unwrap();
    assert!(back.regressed && !back.created);
    assert_eq!(
        (
            back.issue.status,
            back.issue.regressed,
            back.issue.resolved_at,
            back.issue.event_count
        ),
        (IssueStatus::Unresolved, true, None, 3)
    );
    let again = s.record_sighting(&sighting(70, 0)).await.unwrap();
    assert!(
        !again.regressed,
        "only the first event after resolving regresses"
    );
    assert_eq!(s.issues(p.id, None, 10).await.unwrap().len(), 1);

    let other = workspace(&store, "iss-other").await;
    let mut o = store.workspace(other);
    assert_eq!(o.issue(issue).await.unwrap(), None);
    assert!(
        o.record_sighting(&sighting(80, 0))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.set_issue_status(issue, IssueStatus::Ignored, at(1))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(o.event(p.id, &event.event_id).await.unwrap(), None);
}

async fn transactions_sessions_check_ins_and_attachments(store: Store) {
    let ws = workspace(&store, "perf").await;
    let mut s = store.workspace(ws);
    let p = s.create_project("api", "API", None, T0).await.unwrap();
    let txs: Vec<_> = (0..1200)
        .map(|i| NewTransaction {
            project_id: p.id,
            event_id: format!("{i:032x}"),
            name: "/users/{id}".into(),
            op: Some("http.server".into()),
            duration_us: 1000 + i,
            status: Some("ok".into()),
            timestamp: at(i),
            release: None,
            environment: Some("prod".into()),
            trace_id: None,
        })
        .collect();
    assert_eq!(s.insert_transactions(&txs).await.unwrap(), 1200);
    let got = s.transactions(p.id, at(100), at(110), 100).await.unwrap();
    assert_eq!(got, txs[100..110].to_vec());

    let counts = |started| SessionCounts {
        project_id: p.id,
        release: "1.0.0".into(),
        environment: "prod".into(),
        bucket_start: T0,
        started,
        exited: started - 1,
        errored: 1,
        crashed: 0,
        abnormal: 0,
    };
    s.add_session_counts(&counts(10)).await.unwrap();
    s.add_session_counts(&counts(5)).await.unwrap();
    let rolled = s.session_counts(p.id, T0, at(60)).await.unwrap();
    assert_eq!(rolled.len(), 1);
    assert_eq!(
        (rolled[0].started, rolled[0].exited, rolled[0].errored),
        (15, 13, 2)
    );

    for (i, status) in [
        CheckInStatus::InProgress,
        CheckInStatus::Ok,
        CheckInStatus::Error,
    ]
    .into_iter()
    .enumerate()
    {
        s.insert_check_in(&NewCheckIn {
            project_id: p.id,
            check_in_id: format!("c{i}"),
            monitor_slug: "nightly-backup".into(),
            status,
            duration_ms: (i > 0).then_some(1500),
            environment: None,
            received_at: at(i as i64),
            release: None,
            monitor_id: None,
        })
        .await
        .unwrap();
    }
    let latest = s.check_ins(p.id, "nightly-backup", 2).await.unwrap();
    assert_eq!(
        latest.iter().map(|c| c.check_in.status).collect::<Vec<_>>(),
        vec![CheckInStatus::Error, CheckInStatus::Ok]
    );

    let att = NewAttachment {
        project_id: p.id,
        event_id: "e1".into(),
        name: "log.txt".into(),
        content_type: Some("text/plain".into()),
        size: 42,
        blob_key: "attachments/e1/log.txt".into(),
        attachment_type: Some("event.attachment".into()),
    };
    let stored = s.insert_attachment(&att, at(5)).await.unwrap();
    assert_eq!(s.attachments(p.id, "e1").await.unwrap(), vec![stored]);

    let other = workspace(&store, "perf-other").await;
    let mut o = store.workspace(other);
    assert!(
        o.insert_transactions(&txs[..1])
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.transactions(p.id, T0, at(10_000), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        o.add_session_counts(&counts(1))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.check_ins(p.id, "nightly-backup", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        o.insert_attachment(&att, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(o.attachments(p.id, "e1").await.unwrap().is_empty());
}

conformance!(
    projects_and_dsn_keys,
    envelopes_queue_with_leases,
    issues_count_events_and_regress,
    transactions_sessions_check_ins_and_attachments,
);
