use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{
    T0, api_down, at, conformance, http_monitor, note, result, webhook, workspace,
};

/// Workspace B, holding A's ids, sees and changes nothing of A's.
async fn another_workspace_sees_nothing(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let user = store
        .global()
        .create_user("u@x.io", "U", "pw", T0)
        .await
        .unwrap();

    let mut sa = store.workspace(a);
    sa.set_member(user.id, Role::Owner, T0).await.unwrap();
    let (token, _) = sa
        .create_api_token("t", Role::Admin, Some(user.id), T0, None)
        .await
        .unwrap();
    let m = sa.create_monitor(&http_monitor("api"), T0).await.unwrap();
    sa.insert_results(&[result(m.id, at(1), CheckStatus::Up, 10)])
        .await
        .unwrap();
    let ch = webhook(&store, a).await;
    let n = sa.enqueue_notification(&note(ch.id, T0), T0).await.unwrap();
    let inc = sa.open_incident(&api_down(m.id)).await.unwrap();
    store
        .global()
        .compact(at(3 * 3600), &RetentionPolicy::default())
        .await
        .unwrap();
    assert_eq!(
        sa.hourly_rollups(m.id, T0, at(86_400)).await.unwrap().len(),
        1
    );

    let mut sb = store.workspace(b);
    assert_eq!(sb.workspace_id(), b);
    // Reads.
    assert!(sb.members().await.unwrap().is_empty());
    assert_eq!(sb.role_of(user.id).await.unwrap(), None);
    assert!(sb.api_tokens().await.unwrap().is_empty());
    assert_eq!(sb.monitor(m.id).await.unwrap(), None);
    assert!(sb.monitors().await.unwrap().is_empty());
    assert_eq!(sb.monitor_state(m.id).await.unwrap(), None);
    let q = ResultQuery {
        monitor_id: m.id,
        from: T0,
        to: at(86_400),
        order: Order::Ascending,
        limit: 100,
        after: None,
    };
    assert!(sb.results(&q).await.unwrap().items.is_empty());
    assert!(sb.latest_results().await.unwrap().is_empty());
    assert!(
        sb.hourly_rollups(m.id, T0, at(86_400))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        sb.uptime_days(&[m.id], T0, at(86_400))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(sb.channels().await.unwrap().is_empty());
    assert!(sb.channels_for_monitor(m.id).await.unwrap().is_empty());
    assert_eq!(sb.notification(n.id).await.unwrap(), None);
    assert_eq!(sb.incident(inc.id).await.unwrap(), None);
    assert!(sb.incidents(false, 10).await.unwrap().is_empty());
    assert!(sb.incident_updates(inc.id).await.unwrap().is_empty());
    assert_eq!(sb.open_incident_for_monitor(m.id).await.unwrap(), None);

    // Writes are refused as not found.
    let nf = |r: Result<()>| assert!(r.unwrap_err().is_not_found());
    nf(sb.remove_member(user.id).await);
    nf(sb.revoke_api_token(token.id, at(1)).await);
    nf(sb
        .update_monitor(m.id, &http_monitor("x"), at(1))
        .await
        .map(|_| ()));
    nf(sb.set_paused(m.id, true, at(1)).await);
    nf(sb
        .update_monitor_state(
            m.id,
            &StateUpdate {
                last_result_at: Some(at(1)),
                last_status: Some(CheckStatus::Down),
                ..StateUpdate::new(MonitorStatus::Down, bitwobbly_core::MonitorState::new())
            },
        )
        .await);
    nf(sb.set_monitor_channels(m.id, &[]).await);
    nf(sb
        .insert_results(&[result(m.id, at(2), CheckStatus::Down, 0)])
        .await
        .map(|_| ()));
    nf(sb.delete_channel(ch.id).await);
    nf(sb
        .enqueue_notification(&note(ch.id, T0), T0)
        .await
        .map(|_| ()));
    nf(sb
        .add_incident_update(inc.id, IncidentStatus::Resolved, "x", at(1))
        .await
        .map(|_| ()));
    nf(sb.set_incident_components(inc.id, &[]).await);
    nf(sb.open_incident(&api_down(m.id)).await.map(|_| ()));
    nf(sb.delete_monitor(m.id).await);
    // B's own monitor cannot use A's channel.
    let mb = sb.create_monitor(&http_monitor("mine"), T0).await.unwrap();
    nf(sb.set_monitor_channels(mb.id, &[ch.id]).await);

    // A's data is untouched.
    assert!(sa.monitor(m.id).await.unwrap().is_some());
    assert_eq!(sa.results(&q).await.unwrap().items.len(), 1);
    let claimed = store
        .global()
        .claim_notifications("n", at(5), Duration::from_secs(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        sa.incident(inc.id).await.unwrap().unwrap().status,
        IncidentStatus::Investigating
    );
}

conformance!(another_workspace_sees_nothing);
