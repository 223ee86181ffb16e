//! Notification channels: keys, updates, automatic disabling and their monitors.

use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance, http_monitor, workspace};

fn channel(key: Option<&str>, kind: ChannelKind) -> NewChannel {
    NewChannel {
        key: key.map(str::to_owned),
        name: format!("{kind} channel"),
        kind,
        config: serde_json::json!({ "url": "http://127.0.0.1:9/hook" }),
        enabled: true,
    }
}

async fn channels_have_keys_unique_per_workspace(store: Store) {
    let a = workspace(&store, "ca").await;
    let b = workspace(&store, "cb").await;
    let mut sa = store.workspace(a);
    let ops = sa
        .create_channel(&channel(Some("ops"), ChannelKind::Slack), T0)
        .await
        .unwrap();
    assert_eq!(
        (ops.key.as_deref(), ops.disabled_reason.as_deref()),
        (Some("ops"), None)
    );
    assert_eq!(sa.channel(ops.id).await.unwrap(), Some(ops.clone()));
    assert_eq!(sa.channel_by_key("ops").await.unwrap(), Some(ops.clone()));
    assert_eq!(sa.channel_by_key("dev").await.unwrap(), None);
    assert!(
        sa.create_channel(&channel(Some("ops"), ChannelKind::Email), T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    sa.create_channel(&channel(None, ChannelKind::Email), T0)
        .await
        .unwrap();
    sa.create_channel(&channel(None, ChannelKind::Email), T0)
        .await
        .unwrap();
    assert!(matches!(
        sa.create_channel(&channel(Some(""), ChannelKind::Email), T0)
            .await
            .unwrap_err(),
        StoreError::Invalid { field: "key", .. }
    ));

    let mut sb = store.workspace(b);
    assert_eq!(sb.channel(ops.id).await.unwrap(), None);
    assert_eq!(sb.channel_by_key("ops").await.unwrap(), None);
    sb.create_channel(&channel(Some("ops"), ChannelKind::Slack), T0)
        .await
        .unwrap();
}

async fn every_channel_kind_round_trips(store: Store) {
    let ws = workspace(&store, "kinds").await;
    let mut s = store.workspace(ws);
    for kind in ChannelKind::ALL {
        let c = s.create_channel(&channel(None, *kind), T0).await.unwrap();
        assert_eq!(s.channel(c.id).await.unwrap().unwrap().kind, *kind);
    }
    let names: Vec<_> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
    for name in ["teams", "pagerduty", "ntfy"] {
        assert!(names.contains(&name), "{name}");
    }
}

async fn channels_are_updated_and_disabled_with_a_reason(store: Store) {
    let ws = workspace(&store, "cu").await;
    let mut s = store.workspace(ws);
    let c = s
        .create_channel(&channel(Some("hook"), ChannelKind::Webhook), T0)
        .await
        .unwrap();
    let other = s
        .create_channel(&channel(Some("other"), ChannelKind::Webhook), T0)
        .await
        .unwrap();

    s.set_channel_enabled(c.id, false, Some("endpoint answered 410 Gone"))
        .await
        .unwrap();
    let off = s.channel(c.id).await.unwrap().unwrap();
    assert_eq!(
        (off.enabled, off.disabled_reason.as_deref()),
        (false, Some("endpoint answered 410 Gone"))
    );

    // An update that leaves it disabled keeps the reason.
    let mut new = channel(Some("hook"), ChannelKind::Ntfy);
    new.enabled = false;
    new.name = "phone".into();
    new.config = serde_json::json!({ "topic": "alerts" });
    let updated = s.update_channel(c.id, &new, at(1)).await.unwrap();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.kind,
            updated.enabled,
            updated.disabled_reason.as_deref(),
            updated.created_at
        ),
        (
            "phone",
            ChannelKind::Ntfy,
            false,
            Some("endpoint answered 410 Gone"),
            T0
        )
    );
    assert_eq!(updated.config, new.config);

    // Enabling it clears the reason.
    new.enabled = true;
    let on = s.update_channel(c.id, &new, at(2)).await.unwrap();
    assert_eq!((on.enabled, on.disabled_reason), (true, None));
    s.set_channel_enabled(c.id, false, Some("x")).await.unwrap();
    s.set_channel_enabled(c.id, true, Some("ignored"))
        .await
        .unwrap();
    let on = s.channel(c.id).await.unwrap().unwrap();
    assert_eq!((on.enabled, on.disabled_reason), (true, None));

    // Keys stay unique on update; unknown channels are not found.
    new.key = Some("other".into());
    assert!(
        s.update_channel(c.id, &new, at(3))
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(
        s.update_channel(
            ChannelId(999_999),
            &channel(None, ChannelKind::Email),
            at(3)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        s.set_channel_enabled(ChannelId(999_999), true, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.channel(other.id).await.unwrap().unwrap().key.as_deref(),
        Some("other")
    );

    // Another workspace cannot touch it.
    let b = workspace(&store, "cu2").await;
    let mut sb = store.workspace(b);
    assert!(
        sb.set_channel_enabled(c.id, false, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        sb.update_channel(c.id, &new, at(4))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn channels_know_their_monitors(store: Store) {
    let ws = workspace(&store, "cm").await;
    let mut s = store.workspace(ws);
    let c = s
        .create_channel(&channel(None, ChannelKind::Email), T0)
        .await
        .unwrap();
    let idle = s
        .create_channel(&channel(None, ChannelKind::Email), T0)
        .await
        .unwrap();
    let m1 = s.create_monitor(&http_monitor("one"), T0).await.unwrap();
    let m2 = s.create_monitor(&http_monitor("two"), T0).await.unwrap();
    s.set_monitor_channels(m2.id, &[c.id]).await.unwrap();
    s.set_monitor_channels(m1.id, &[c.id, idle.id])
        .await
        .unwrap();
    assert_eq!(
        s.monitors_for_channel(c.id).await.unwrap(),
        vec![m1.id, m2.id]
    );
    assert_eq!(s.monitors_for_channel(idle.id).await.unwrap(), vec![m1.id]);
    s.delete_monitor(m1.id).await.unwrap();
    assert_eq!(s.monitors_for_channel(c.id).await.unwrap(), vec![m2.id]);
    let b = workspace(&store, "cm2").await;
    assert!(
        store
            .workspace(b)
            .monitors_for_channel(c.id)
            .await
            .unwrap()
            .is_empty()
    );
}

conformance!(
    channels_have_keys_unique_per_workspace,
    every_channel_kind_round_trips,
    channels_are_updated_and_disabled_with_a_reason,
    channels_know_their_monitors,
);
