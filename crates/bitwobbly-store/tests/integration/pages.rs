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
        key: None,
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
            key: None,
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
                recurrence_tz: None,
                duration_secs: None,
                components: vec![c.id],
                monitors: vec![],
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
                recurrence_tz: None,
                duration_secs: Some(1800),
                components: vec![],
                monitors: vec![],
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
        recurrence_tz: None,
        duration_secs: None,
        components: vec![],
        monitors: vec![],
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

fn component(page: StatusPageId, key: Option<&str>, monitor: Option<MonitorId>) -> NewComponent {
    NewComponent {
        key: key.map(str::to_owned),
        page_id: page,
        group_id: None,
        monitor_id: monitor,
        name: key.unwrap_or("component").to_owned(),
        description: None,
        position: 0,
    }
}

async fn components_have_keys_unique_per_page(store: Store) {
    let ws = workspace(&store, "ck").await;
    let mut s = store.workspace(ws);
    let p1 = s.create_status_page(&page("ck1", None), T0).await.unwrap();
    let p2 = s.create_status_page(&page("ck2", None), T0).await.unwrap();
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let api = s
        .create_component(&component(p1.id, Some("api"), Some(m.id)))
        .await
        .unwrap();
    assert_eq!(api.key.as_deref(), Some("api"));
    assert_eq!(s.component(api.id).await.unwrap(), Some(api.clone()));
    assert_eq!(
        s.component_by_key(p1.id, "api").await.unwrap(),
        Some(api.clone())
    );
    assert_eq!(s.component_by_key(p2.id, "api").await.unwrap(), None);
    assert!(
        s.create_component(&component(p1.id, Some("api"), None))
            .await
            .unwrap_err()
            .is_conflict()
    );
    // Another page, or no key at all: no clash.
    let api2 = s
        .create_component(&component(p2.id, Some("api"), None))
        .await
        .unwrap();
    s.create_component(&component(p1.id, None, None))
        .await
        .unwrap();
    s.create_component(&component(p1.id, None, None))
        .await
        .unwrap();
    assert_eq!(
        s.component_by_key(p2.id, "api").await.unwrap().unwrap().id,
        api2.id
    );
    let b = workspace(&store, "ck-other").await;
    assert_eq!(store.workspace(b).component(api.id).await.unwrap(), None);
    assert_eq!(
        store
            .workspace(b)
            .component_by_key(p1.id, "api")
            .await
            .unwrap(),
        None
    );
}

async fn components_are_updated_in_place(store: Store) {
    let ws = workspace(&store, "cup").await;
    let mut s = store.workspace(ws);
    let p = s.create_status_page(&page("cup", None), T0).await.unwrap();
    let other_page = s.create_status_page(&page("cup2", None), T0).await.unwrap();
    let g = s.create_component_group(p.id, "Core", 0).await.unwrap();
    let foreign_group = s
        .create_component_group(other_page.id, "Elsewhere", 0)
        .await
        .unwrap();
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let c = s
        .create_component(&component(p.id, Some("api"), None))
        .await
        .unwrap();
    s.set_component_status(c.id, ComponentStatus::PartialOutage)
        .await
        .unwrap();
    let taken = s
        .create_component(&component(p.id, Some("web"), None))
        .await
        .unwrap();

    let mut new = component(p.id, Some("api-v2"), Some(m.id));
    new.group_id = Some(g.id);
    new.name = "Public API".into();
    new.description = Some("REST".into());
    new.position = 7;
    let updated = s.update_component(c.id, &new).await.unwrap();
    assert_eq!(
        (
            updated.key.as_deref(),
            updated.group_id,
            updated.monitor_id,
            updated.name.as_str(),
            updated.description.as_deref(),
            updated.position,
            updated.status,
            updated.page_id
        ),
        (
            Some("api-v2"),
            Some(g.id),
            Some(m.id),
            "Public API",
            Some("REST"),
            7,
            ComponentStatus::PartialOutage,
            p.id
        )
    );
    assert_eq!(s.component(c.id).await.unwrap(), Some(updated));

    let mut bad = new.clone();
    bad.group_id = Some(foreign_group.id);
    assert!(
        s.update_component(c.id, &bad)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let mut bad = new.clone();
    bad.page_id = other_page.id;
    assert!(matches!(
        s.update_component(c.id, &bad).await,
        Err(StoreError::Invalid {
            field: "page_id",
            ..
        })
    ));
    let mut bad = new.clone();
    bad.key = taken.key.clone();
    assert!(
        s.update_component(c.id, &bad)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(
        s.update_component(ComponentId(999_999), &new)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let b = workspace(&store, "cup-other").await;
    assert!(
        store
            .workspace(b)
            .update_component(c.id, &new)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

fn window(title: &str, monitors: Vec<MonitorId>, components: Vec<ComponentId>) -> NewMaintenance {
    NewMaintenance {
        title: title.into(),
        message: "planned".into(),
        starts_at: at(3600),
        ends_at: at(7200),
        recurrence_cron: None,
        recurrence_tz: None,
        duration_secs: None,
        components,
        monitors,
    }
}

async fn maintenance_windows_cover_monitors(store: Store) {
    let ws = workspace(&store, "mm").await;
    let mut s = store.workspace(ws);
    let p = s.create_status_page(&page("mm", None), T0).await.unwrap();
    let m1 = s.create_monitor(&http_monitor("direct"), T0).await.unwrap();
    let m2 = s
        .create_monitor(&http_monitor("via component"), T0)
        .await
        .unwrap();
    let m3 = s
        .create_monitor(&http_monitor("untouched"), T0)
        .await
        .unwrap();
    let c2 = s
        .create_component(&component(p.id, Some("db"), Some(m2.id)))
        .await
        .unwrap();

    let direct = s
        .create_maintenance(&window("direct", vec![m1.id], vec![]), T0)
        .await
        .unwrap();
    assert_eq!(
        (direct.monitors.clone(), direct.components.clone()),
        (vec![m1.id], vec![])
    );
    let mut weekly = window("weekly", vec![m1.id], vec![c2.id]);
    weekly.starts_at = T0;
    weekly.recurrence_cron = Some("0 3 * * 0".into());
    weekly.recurrence_tz = Some("Europe/Berlin".into());
    weekly.duration_secs = Some(1800);
    let weekly = s.create_maintenance(&weekly, T0).await.unwrap();
    assert_eq!(weekly.recurrence_tz.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        (weekly.monitors.clone(), weekly.components.clone()),
        (vec![m1.id], vec![c2.id])
    );
    assert_eq!(
        s.maintenance(weekly.id).await.unwrap(),
        Some(weekly.clone())
    );
    assert_eq!(
        s.maintenance_monitors(weekly.id).await.unwrap(),
        vec![m1.id]
    );
    assert_eq!(
        s.maintenances(T0).await.unwrap(),
        vec![weekly.clone(), direct.clone()]
    );

    let ids = |v: Vec<Maintenance>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.maintenances_for_monitor(m1.id).await.unwrap()),
        vec![weekly.id, direct.id]
    );
    assert_eq!(
        ids(s.maintenances_for_monitor(m2.id).await.unwrap()),
        vec![weekly.id],
        "through the component that shows it"
    );
    assert!(s.maintenances_for_monitor(m3.id).await.unwrap().is_empty());

    // Update replaces the links.
    let mut changed = window("direct, moved", vec![m3.id], vec![c2.id]);
    changed.ends_at = at(9000);
    let updated = s.update_maintenance(direct.id, &changed).await.unwrap();
    assert_eq!(
        (
            updated.title.as_str(),
            updated.ends_at,
            updated.monitors.clone(),
            updated.components.clone(),
            updated.created_at
        ),
        ("direct, moved", at(9000), vec![m3.id], vec![c2.id], T0)
    );
    assert_eq!(
        ids(s.maintenances_for_monitor(m1.id).await.unwrap()),
        vec![weekly.id]
    );
    assert_eq!(
        ids(s.maintenances_for_monitor(m3.id).await.unwrap()),
        vec![direct.id]
    );
    assert_eq!(
        ids(s.maintenances_for_monitor(m2.id).await.unwrap()),
        vec![weekly.id, direct.id]
    );

    // A deleted monitor leaves its windows; a deleted window leaves nothing behind.
    s.delete_monitor(m3.id).await.unwrap();
    assert!(
        s.maintenance(direct.id)
            .await
            .unwrap()
            .unwrap()
            .monitors
            .is_empty()
    );
    s.delete_maintenance(direct.id).await.unwrap();
    assert_eq!(s.maintenance(direct.id).await.unwrap(), None);
    assert!(
        s.update_maintenance(direct.id, &changed)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        ids(s.maintenances_for_monitor(m2.id).await.unwrap()),
        vec![weekly.id]
    );

    // Other workspaces see none of it and cannot link to it.
    let b = workspace(&store, "mm-other").await;
    let mut sb = store.workspace(b);
    assert_eq!(sb.maintenance(weekly.id).await.unwrap(), None);
    assert!(sb.maintenances_for_monitor(m1.id).await.unwrap().is_empty());
    assert!(
        sb.create_maintenance(&window("x", vec![m1.id], vec![]), T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        sb.maintenances(T0).await.unwrap().is_empty(),
        "nothing half-written"
    );
}

async fn maintenance_recurrence_is_checked(store: Store) {
    let ws = workspace(&store, "mr").await;
    let mut s = store.workspace(ws);
    let recurring = |cron: &str, tz: Option<&str>| {
        let mut w = window("r", vec![], vec![]);
        w.recurrence_cron = Some(cron.into());
        w.recurrence_tz = tz.map(str::to_owned);
        w.duration_secs = Some(600);
        w
    };
    let field = |r: Result<Maintenance>| match r {
        Err(StoreError::Invalid { field, .. }) => field,
        other => panic!("expected invalid, got {other:?}"),
    };
    assert_eq!(
        field(
            s.create_maintenance(&recurring("0 3 * * *", Some("Mars/Olympus")), T0)
                .await
        ),
        "recurrence_tz"
    );
    assert_eq!(
        field(
            s.create_maintenance(&recurring("61 3 * * *", None), T0)
                .await
        ),
        "recurrence_cron"
    );
    let mut tz_only = window("t", vec![], vec![]);
    tz_only.recurrence_tz = Some("UTC".into());
    assert_eq!(
        field(s.create_maintenance(&tz_only, T0).await),
        "recurrence_tz"
    );
    let ok = s
        .create_maintenance(&recurring("0 3 * * *", None), T0)
        .await
        .unwrap();
    assert_eq!(ok.recurrence_tz, None);
    assert_eq!(
        field(
            s.update_maintenance(ok.id, &recurring("0 3 * * *", Some("Nowhere")))
                .await
        ),
        "recurrence_tz"
    );
}

conformance!(
    status_pages_hold_ordered_components,
    maintenance_windows_and_subscribers,
    components_have_keys_unique_per_page,
    components_are_updated_in_place,
    maintenance_windows_cover_monitors,
    maintenance_recurrence_is_checked,
);
