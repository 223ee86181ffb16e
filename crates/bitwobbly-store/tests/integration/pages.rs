use bitwobbly_store::prelude::*;

use crate::harness::{T0, api_down, at, conformance, http_monitor, workspace};

fn page(slug: &str, domain: Option<&str>) -> NewStatusPage {
    NewStatusPage {
        slug: slug.into(),
        title: format!("{slug} status"),
        description: None,
        custom_domain: domain.map(str::to_owned),
        public: true,
    }
}

async fn status_pages_hold_ordered_components(store: Store) {
    let ws = workspace(&store, "pg").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let p = s
        .create_status_page(&page("acme", Some("status.acme.test")), T0)
        .await
        .unwrap();
    assert!(
        s.create_status_page(&page("acme", None), T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut g = store.global();
    assert_eq!(
        g.status_page_by_address("acme").await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        g.status_page_by_address("status.acme.test").await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(g.status_page_by_address("nope").await.unwrap(), None);

    let core = s.create_component_group(p.id, "Core", 0).await.unwrap();
    let edge = s.create_component_group(p.id, "Edge", 1).await.unwrap();
    let groups: Vec<_> = s
        .component_groups(p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(groups, vec![core.id, edge.id]);
    let new = |name: &str, group, monitor, position| NewComponent {
        page_id: p.id,
        group_id: group,
        monitor_id: monitor,
        name: name.into(),
        description: None,
        position,
    };
    let api = s
        .create_component(&new("API", Some(core.id), Some(m.id), 0))
        .await
        .unwrap();
    let web = s
        .create_component(&new("Web", Some(core.id), None, 1))
        .await
        .unwrap();
    let cdn = s
        .create_component(&new("CDN", Some(edge.id), None, 2))
        .await
        .unwrap();
    assert_eq!(api.status, ComponentStatus::Operational);
    assert!(
        s.create_component(&new("bad", Some(ComponentGroupId(99_999)), None, 3))
            .await
            .unwrap_err()
            .is_not_found()
    );

    s.reorder_components(p.id, &[cdn.id, api.id, web.id])
        .await
        .unwrap();
    s.set_component_status(api.id, ComponentStatus::MajorOutage)
        .await
        .unwrap();
    let comps = s.components(p.id).await.unwrap();
    assert_eq!(
        comps.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![cdn.id, api.id, web.id]
    );
    assert_eq!(comps[1].status, ComponentStatus::MajorOutage);

    // Incidents point at components.
    let inc = s.open_incident(&api_down(m.id)).await.unwrap();
    s.set_incident_components(inc.id, &[api.id, web.id])
        .await
        .unwrap();
    assert_eq!(
        s.incident_components(inc.id).await.unwrap(),
        vec![api.id, web.id]
    );

    s.delete_component_group(edge.id).await.unwrap();
    assert_eq!(s.components(p.id).await.unwrap()[0].group_id, None);
    s.delete_component(web.id).await.unwrap();
    assert_eq!(s.incident_components(inc.id).await.unwrap(), vec![api.id]);

    let mut changed = page("acme2", None);
    changed.public = false;
    let updated = s.update_status_page(p.id, &changed).await.unwrap();
    assert_eq!(
        (updated.slug.as_str(), updated.public, updated.custom_domain),
        ("acme2", false, None)
    );
    assert_eq!(s.status_pages().await.unwrap().len(), 1);
    s.delete_status_page(p.id).await.unwrap();
    assert_eq!(s.status_page(p.id).await.unwrap(), None);
    assert!(s.components(p.id).await.unwrap().is_empty());
}

async fn maintenance_windows_and_subscribers(store: Store) {
    let ws = workspace(&store, "mw").await;
    let mut s = store.workspace(ws);
    let p = s.create_status_page(&page("mw", None), T0).await.unwrap();
    let c = s
        .create_component(&NewComponent {
            page_id: p.id,
            group_id: None,
            monitor_id: None,
            name: "DB".into(),
            description: Some("primary".into()),
            position: 0,
        })
        .await
        .unwrap();
    let once = s
        .create_maintenance(
            &NewMaintenance {
                title: "Upgrade".into(),
                message: "Postgres 17".into(),
                starts_at: at(3600),
                ends_at: at(7200),
                recurrence_cron: None,
                duration_secs: None,
                components: vec![c.id],
            },
            T0,
        )
        .await
        .unwrap();
    let weekly = s
        .create_maintenance(
            &NewMaintenance {
                title: "Backups".into(),
                message: "weekly".into(),
                starts_at: T0,
                ends_at: at(365 * 86_400),
                recurrence_cron: Some("0 3 * * 0".into()),
                duration_secs: Some(1800),
                components: vec![],
            },
            T0,
        )
        .await
        .unwrap();
    let bad = NewMaintenance {
        title: "x".into(),
        message: "x".into(),
        starts_at: at(10),
        ends_at: at(5),
        recurrence_cron: None,
        duration_secs: None,
        components: vec![],
    };
    assert!(matches!(
        s.create_maintenance(&bad, T0).await,
        Err(StoreError::Invalid { .. })
    ));
    let ids: Vec<_> = s
        .maintenances(T0)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec![weekly.id, once.id]);
    let ids: Vec<_> = s
        .maintenances(at(7200))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec![weekly.id], "ended windows drop out");
    assert_eq!(s.maintenance_components(once.id).await.unwrap(), vec![c.id]);
    s.delete_maintenance(once.id).await.unwrap();
    assert!(s.maintenance_components(once.id).await.unwrap().is_empty());

    let sub = s
        .add_subscriber(p.id, SubscriberKind::Email, "a@x.io", T0)
        .await
        .unwrap();
    assert!(!sub.confirmed);
    assert!(
        s.add_subscriber(p.id, SubscriberKind::Email, "a@x.io", T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    s.add_subscriber(p.id, SubscriberKind::Webhook, "http://127.0.0.1:9/h", T0)
        .await
        .unwrap();
    s.confirm_subscriber(sub.id).await.unwrap();
    let subs = s.subscribers(p.id).await.unwrap();
    assert_eq!(subs.len(), 2);
    assert!(subs[0].confirmed);
    s.remove_subscriber(sub.id).await.unwrap();
    assert_eq!(s.subscribers(p.id).await.unwrap().len(), 1);

    // Another workspace sees none of it.
    let other = workspace(&store, "mw-other").await;
    let mut o = store.workspace(other);
    assert!(o.status_pages().await.unwrap().is_empty());
    assert!(o.components(p.id).await.unwrap().is_empty());
    assert!(o.subscribers(p.id).await.unwrap().is_empty());
    assert!(o.maintenances(T0).await.unwrap().is_empty());
    assert!(
        o.add_subscriber(p.id, SubscriberKind::Email, "b@x.io", T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.set_component_status(c.id, ComponentStatus::MajorOutage)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.delete_maintenance(weekly.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.create_component_group(p.id, "g", 0)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

conformance!(
    status_pages_hold_ordered_components,
    maintenance_windows_and_subscribers,
);
