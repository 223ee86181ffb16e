use bitwobbly_store::prelude::*;

use crate::harness::{T0, api_down, at, conformance, http_monitor, workspace};

fn page(slug: &str, domain: Option<&str>) -> NewStatusPage {
    let mut p = NewStatusPage::new(slug, format!("{slug} status"));
    p.domains = domain.map(str::to_owned).into_iter().collect();
    p
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

    let core = s.create_component_group(p.id, "Core", 0, T0).await.unwrap();
    let edge = s.create_component_group(p.id, "Edge", 1, T0).await.unwrap();
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
        show_uptime: true,
        show_response_times: false,
    };
    let api = s
        .create_component(&new("API", Some(core.id), Some(m.id), 0), T0)
        .await
        .unwrap();
    let web = s
        .create_component(&new("Web", Some(core.id), None, 1), T0)
        .await
        .unwrap();
    let cdn = s
        .create_component(&new("CDN", Some(edge.id), None, 2), T0)
        .await
        .unwrap();
    assert_eq!(api.status, ComponentStatus::Operational);
    assert!(
        s.create_component(&new("bad", Some(ComponentGroupId(99_999)), None, 3), T0)
            .await
            .unwrap_err()
            .is_not_found()
    );

    s.reorder_components(p.id, &[cdn.id, api.id, web.id], T0)
        .await
        .unwrap();
    s.set_component_status(api.id, ComponentStatus::MajorOutage, T0)
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

    s.delete_component_group(edge.id, T0).await.unwrap();
    assert_eq!(s.components(p.id).await.unwrap()[0].group_id, None);
    s.delete_component(web.id, T0).await.unwrap();
    assert_eq!(s.incident_components(inc.id).await.unwrap(), vec![api.id]);

    let mut changed = page("acme2", None);
    changed.public = false;
    let updated = s.update_status_page(p.id, &changed, T0).await.unwrap();
    assert_eq!(
        (
            updated.slug.as_str(),
            updated.public,
            updated.domains.is_empty()
        ),
        ("acme2", false, true)
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
        .create_component(
            &NewComponent {
                key: None,
                page_id: p.id,
                group_id: None,
                monitor_id: None,
                name: "DB".into(),
                description: Some("primary".into()),
                position: 0,
                show_uptime: true,
                show_response_times: false,
            },
            T0,
        )
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
    s.confirm_subscriber(sub.id, T0).await.unwrap();
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
        o.set_component_status(c.id, ComponentStatus::MajorOutage, T0)
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
        o.create_component_group(p.id, "g", 0, T0)
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
        show_uptime: true,
        show_response_times: false,
    }
}

async fn components_have_keys_unique_per_page(store: Store) {
    let ws = workspace(&store, "ck").await;
    let mut s = store.workspace(ws);
    let p1 = s.create_status_page(&page("ck1", None), T0).await.unwrap();
    let p2 = s.create_status_page(&page("ck2", None), T0).await.unwrap();
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let api = s
        .create_component(&component(p1.id, Some("api"), Some(m.id)), T0)
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
        s.create_component(&component(p1.id, Some("api"), None), T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    // Another page, or no key at all: no clash.
    let api2 = s
        .create_component(&component(p2.id, Some("api"), None), T0)
        .await
        .unwrap();
    s.create_component(&component(p1.id, None, None), T0)
        .await
        .unwrap();
    s.create_component(&component(p1.id, None, None), T0)
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
    let g = s.create_component_group(p.id, "Core", 0, T0).await.unwrap();
    let foreign_group = s
        .create_component_group(other_page.id, "Elsewhere", 0, T0)
        .await
        .unwrap();
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let c = s
        .create_component(&component(p.id, Some("api"), None), T0)
        .await
        .unwrap();
    s.set_component_status(c.id, ComponentStatus::PartialOutage, T0)
        .await
        .unwrap();
    let taken = s
        .create_component(&component(p.id, Some("web"), None), T0)
        .await
        .unwrap();

    let mut new = component(p.id, Some("api-v2"), Some(m.id));
    new.group_id = Some(g.id);
    new.name = "Public API".into();
    new.description = Some("REST".into());
    new.position = 7;
    let updated = s.update_component(c.id, &new, T0).await.unwrap();
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
        s.update_component(c.id, &bad, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let mut bad = new.clone();
    bad.page_id = other_page.id;
    assert!(matches!(
        s.update_component(c.id, &bad, T0).await,
        Err(StoreError::Invalid {
            field: "page_id",
            ..
        })
    ));
    let mut bad = new.clone();
    bad.key = taken.key.clone();
    assert!(
        s.update_component(c.id, &bad, T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(
        s.update_component(ComponentId(999_999), &new, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let b = workspace(&store, "cup-other").await;
    assert!(
        store
            .workspace(b)
            .update_component(c.id, &new, T0)
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
        .create_component(&component(p.id, Some("db"), Some(m2.id)), T0)
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

fn field_of<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Err(StoreError::Invalid { field, .. }) => field,
        other => panic!("expected invalid, got {other:?}"),
    }
}

async fn page_settings_domains_and_password(store: Store) {
    let ws = workspace(&store, "ps").await;
    let mut s = store.workspace(ws);
    let mut new = page("ps", None);
    new.description = Some("All our services".into());
    new.logo_url = Some("https://cdn.example.com/logo.png".into());
    new.theme = PageTheme::Dark;
    new.footer_links = vec![FooterLink {
        label: "Home".into(),
        url: "https://example.com/".into(),
    }];
    new.domains = vec![
        "Status.Example.com".into(),
        "status.example.org.".into(),
        "status.example.com".into(),
    ];
    new.time_zone = "Europe/Berlin".into();
    new.hold_auto_incidents = true;
    let p = s.create_status_page(&new, T0).await.unwrap();
    assert_eq!(
        p.domains,
        vec!["status.example.com", "status.example.org"],
        "lowercased, sorted, once each"
    );
    assert_eq!(
        (
            p.theme,
            p.time_zone.as_str(),
            p.hold_auto_incidents,
            p.updated_at
        ),
        (PageTheme::Dark, "Europe/Berlin", true, T0)
    );
    assert_eq!(p.footer_links[0].label, "Home");
    assert!(!p.is_protected());
    assert_eq!(s.status_page(p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(s.status_pages().await.unwrap(), vec![p.clone()]);

    let mut g = store.global();
    assert_eq!(g.status_page_by_slug("ps").await.unwrap(), Some(p.clone()));
    assert_eq!(
        g.status_page_by_domain("STATUS.example.org").await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(g.status_page_by_domain("ps").await.unwrap(), None);
    assert_eq!(
        g.status_page_by_slug("status.example.com").await.unwrap(),
        None
    );
    assert_eq!(
        g.status_page_by_domain(&"a".repeat(10_000)).await.unwrap(),
        None
    );
    assert_eq!(
        g.status_page_by_address("status.example.com")
            .await
            .unwrap(),
        Some(p.clone())
    );

    // A domain belongs to one page, across workspaces.
    let other = workspace(&store, "ps-other").await;
    let mut o = store.workspace(other);
    assert!(
        o.create_status_page(&page("ps-other", Some("status.example.com")), T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(
        o.status_pages().await.unwrap().is_empty(),
        "nothing half-written"
    );
    assert!(
        o.update_status_page(p.id, &page("stolen", None), at(1))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.set_status_page_password(p.id, Some("hunter22"), at(1))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Update replaces the domains.
    let mut changed = new.clone();
    changed.domains = vec!["new.example.net".into()];
    let p2 = s.update_status_page(p.id, &changed, at(5)).await.unwrap();
    assert_eq!(p2.domains, vec!["new.example.net"]);
    assert_eq!(p2.updated_at, at(5));
    assert_eq!(
        g.status_page_by_domain("status.example.com").await.unwrap(),
        None
    );
    o.create_status_page(&page("ps-other", Some("status.example.com")), T0)
        .await
        .unwrap();

    // Bad settings name their field.
    let bad = |f: &dyn Fn(&mut NewStatusPage)| {
        let mut n = new.clone();
        n.slug = "ps-bad".into();
        n.domains.clear();
        f(&mut n);
        n
    };
    for (n, field) in [
        (
            bad(&|n| n.logo_url = Some("javascript:alert(1)".into())),
            "logo_url",
        ),
        (
            bad(&|n| n.domains = vec!["http://x.example.com/".into()]),
            "domains",
        ),
        (bad(&|n| n.domains = vec!["localhost".into()]), "domains"),
        (bad(&|n| n.time_zone = "Mars/Olympus".into()), "time_zone"),
        (bad(&|n| n.title = "  ".into()), "title"),
        (
            bad(&|n| {
                n.footer_links = vec![FooterLink {
                    label: "x".into(),
                    url: "ftp://example.com".into(),
                }]
            }),
            "footer_links",
        ),
    ] {
        assert_eq!(field_of(s.create_status_page(&n, T0).await), field);
    }

    // Passwords: argon2, a later set time each time, cleared opens the page.
    assert!(
        !g.verify_status_page_password(p.id, "anything")
            .await
            .unwrap()
    );
    let locked = s
        .set_status_page_password(p.id, Some("correct horse"), at(10))
        .await
        .unwrap();
    assert_eq!(locked.password_set_at, Some(at(10)));
    assert!(locked.is_protected());
    assert!(
        g.verify_status_page_password(p.id, "correct horse")
            .await
            .unwrap()
    );
    assert!(
        !g.verify_status_page_password(p.id, "wrong horse")
            .await
            .unwrap()
    );
    let again = s
        .set_status_page_password(p.id, Some("battery staple"), at(10))
        .await
        .unwrap();
    assert!(
        again.password_set_at > locked.password_set_at,
        "same ms still moves on"
    );
    assert!(
        !g.verify_status_page_password(p.id, "correct horse")
            .await
            .unwrap()
    );
    assert_eq!(
        field_of(s.set_status_page_password(p.id, Some(""), at(11)).await),
        "password"
    );
    let open = s
        .set_status_page_password(p.id, None, at(12))
        .await
        .unwrap();
    assert_eq!(open.password_set_at, None);
    assert!(
        !g.verify_status_page_password(p.id, "battery staple")
            .await
            .unwrap()
    );
    assert!(
        !g.verify_status_page_password(StatusPageId(999_999), "x")
            .await
            .unwrap()
    );
}

async fn groups_and_components_move_the_page_forward(store: Store) {
    let ws = workspace(&store, "gc").await;
    let mut s = store.workspace(ws);
    let p = s.create_status_page(&page("gc", None), T0).await.unwrap();
    let a = s.create_component_group(p.id, "A", 0, at(1)).await.unwrap();
    let b = s.create_component_group(p.id, "B", 1, at(2)).await.unwrap();
    assert_eq!(
        s.status_page(p.id).await.unwrap().unwrap().updated_at,
        at(2)
    );
    let renamed = s
        .rename_component_group(a.id, " Core ", at(3))
        .await
        .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.updated_at), ("Core", at(3)));
    assert_eq!(
        field_of(s.rename_component_group(a.id, "", at(3)).await),
        "name"
    );
    s.reorder_component_groups(p.id, &[b.id, a.id], at(4))
        .await
        .unwrap();
    let order: Vec<_> = s
        .component_groups(p.id)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(order, vec![b.id, a.id]);
    assert_eq!(s.component_group(a.id).await.unwrap().unwrap().position, 1);

    let mut manual = component(p.id, Some("db"), None);
    manual.show_uptime = false;
    manual.show_response_times = true;
    let c = s.create_component(&manual, at(5)).await.unwrap();
    assert_eq!(
        (
            c.show_uptime,
            c.show_response_times,
            c.created_at,
            c.updated_at
        ),
        (false, true, at(5), at(5))
    );
    let c = s
        .set_component_status(c.id, ComponentStatus::PartialOutage, at(6))
        .await
        .unwrap();
    assert_eq!(
        (c.status, c.updated_at),
        (ComponentStatus::PartialOutage, at(6))
    );
    assert_eq!(
        s.status_page(p.id).await.unwrap().unwrap().updated_at,
        at(6)
    );
    // The clock never moves the page back.
    s.set_component_status(c.id, ComponentStatus::Operational, at(1))
        .await
        .unwrap();
    assert_eq!(
        s.status_page(p.id).await.unwrap().unwrap().updated_at,
        at(6)
    );
    s.delete_component(c.id, at(7)).await.unwrap();
    assert_eq!(
        s.status_page(p.id).await.unwrap().unwrap().updated_at,
        at(7)
    );
    s.delete_component_group(b.id, at(8)).await.unwrap();
    assert_eq!(
        s.status_page(p.id).await.unwrap().unwrap().updated_at,
        at(8)
    );

    // Another workspace can neither see nor change them.
    let other = workspace(&store, "gc-other").await;
    let mut o = store.workspace(other);
    assert_eq!(o.component_group(a.id).await.unwrap(), None);
    assert!(
        o.rename_component_group(a.id, "x", at(9))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.reorder_component_groups(p.id, &[a.id], at(9))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.delete_component_group(a.id, at(9))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.status_page(p.id).await.unwrap().unwrap().updated_at,
        at(8)
    );
}

async fn pages_show_their_incidents(store: Store) {
    let ws = workspace(&store, "pi").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let open_page = s
        .create_status_page(&page("pi-open", None), T0)
        .await
        .unwrap();
    let mut held = page("pi-held", None);
    held.hold_auto_incidents = true;
    let held = s.create_status_page(&held, T0).await.unwrap();
    let unrelated = s
        .create_status_page(&page("pi-none", None), T0)
        .await
        .unwrap();
    let api_open = s
        .create_component(&component(open_page.id, Some("api"), Some(m.id)), T0)
        .await
        .unwrap();
    let db_open = s
        .create_component(&component(open_page.id, Some("db"), None), T0)
        .await
        .unwrap();
    let api_held = s
        .create_component(&component(held.id, Some("api"), Some(m.id)), T0)
        .await
        .unwrap();
    let other_comp = s
        .create_component(&component(unrelated.id, Some("x"), None), T0)
        .await
        .unwrap();
    let q = |open_only| PageIncidentQuery {
        open_only,
        from: None,
        to: None,
        limit: 50,
    };
    let ids = |v: &[IncidentDetail]| v.iter().map(|d| d.incident.id).collect::<Vec<_>>();

    // An automatic incident: unpublished, affects every component showing its monitor.
    let auto = s.open_incident(&api_down(m.id)).await.unwrap();
    assert!(!auto.published);
    let mut linked = s.incident_component_statuses(auto.id).await.unwrap();
    linked.sort_by_key(|a| a.component_id);
    assert_eq!(
        linked,
        vec![
            AffectedComponent {
                component_id: api_open.id,
                status: ComponentStatus::MajorOutage
            },
            AffectedComponent {
                component_id: api_held.id,
                status: ComponentStatus::MajorOutage
            },
        ]
    );
    let shown = s.page_incidents(open_page.id, &q(false)).await.unwrap();
    assert_eq!(ids(&shown), vec![auto.id]);
    assert_eq!(
        shown[0].components,
        vec![AffectedComponent {
            component_id: api_open.id,
            status: ComponentStatus::MajorOutage
        }],
        "only this page's components"
    );
    assert!(
        s.page_incidents(held.id, &q(false))
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    assert!(
        s.page_incidents(unrelated.id, &q(false))
            .await
            .unwrap()
            .is_empty()
    );
    let published = s.publish_incident(auto.id, at(5)).await.unwrap();
    assert!(published.published);
    assert_eq!(
        ids(&s.page_incidents(held.id, &q(false)).await.unwrap()),
        vec![auto.id]
    );

    // A manual incident with component statuses, then an update that changes them.
    let mut manual = api_down(m.id);
    manual.monitor_id = None;
    manual.kind = IncidentKind::Manual;
    manual.title = "Database slow".into();
    manual.impact = Impact::Minor;
    manual.started_at = at(60);
    let db_slow = AffectedComponent {
        component_id: db_open.id,
        status: ComponentStatus::DegradedPerformance,
    };
    let inc = s
        .open_incident_affecting(&manual, &[db_slow])
        .await
        .unwrap();
    assert!(inc.published);
    let up = s
        .post_incident_update(
            inc.id,
            &NewIncidentUpdate {
                status: IncidentStatus::Identified,
                message: "Disk full".into(),
                components: vec![
                    AffectedComponent {
                        component_id: db_open.id,
                        status: ComponentStatus::MajorOutage,
                    },
                    AffectedComponent {
                        component_id: other_comp.id,
                        status: ComponentStatus::PartialOutage,
                    },
                ],
            },
            at(120),
        )
        .await
        .unwrap();
    assert_eq!(
        up.components,
        vec![
            ComponentChange {
                component_id: db_open.id,
                old_status: Some(ComponentStatus::DegradedPerformance),
                new_status: ComponentStatus::MajorOutage
            },
            ComponentChange {
                component_id: other_comp.id,
                old_status: None,
                new_status: ComponentStatus::PartialOutage
            },
        ]
    );
    let timeline = s.incident_updates(inc.id).await.unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0].components[0].new_status, db_slow.status);
    assert_eq!(timeline[1].components.len(), 2);

    let shown = s.page_incidents(open_page.id, &q(false)).await.unwrap();
    assert_eq!(ids(&shown), vec![inc.id, auto.id], "newest first");
    let d = &shown[0];
    assert_eq!(
        d.updates.iter().map(|u| u.status).collect::<Vec<_>>(),
        vec![IncidentStatus::Identified, IncidentStatus::Investigating],
        "updates newest first"
    );
    assert_eq!(
        d.updates[0].components.len(),
        1,
        "changes to other pages' components are left out"
    );
    assert_eq!(
        d.components,
        vec![AffectedComponent {
            component_id: db_open.id,
            status: ComponentStatus::MajorOutage
        }]
    );
    assert_eq!(
        ids(&s.page_incidents(unrelated.id, &q(false)).await.unwrap()),
        vec![inc.id],
        "the other page's component is affected too"
    );

    // Filters: open only, time range, limit.
    s.resolve_incident(auto.id, at(200), "back").await.unwrap();
    assert_eq!(
        ids(&s.page_incidents(open_page.id, &q(true)).await.unwrap()),
        vec![inc.id]
    );
    let range = PageIncidentQuery {
        open_only: false,
        from: Some(T0),
        to: Some(at(60)),
        limit: 50,
    };
    assert_eq!(
        ids(&s.page_incidents(open_page.id, &range).await.unwrap()),
        vec![auto.id]
    );
    let one = PageIncidentQuery {
        limit: 0,
        ..q(false)
    };
    assert_eq!(s.page_incidents(open_page.id, &one).await.unwrap().len(), 1);

    // A manual incident that names no component is on every page.
    let mut everywhere = manual.clone();
    everywhere.title = "Email delays".into();
    everywhere.started_at = at(300);
    let all = s.open_incident(&everywhere).await.unwrap();
    for p in [open_page.id, held.id, unrelated.id] {
        assert_eq!(
            s.page_incidents(p, &q(true)).await.unwrap()[0].incident.id,
            all.id
        );
    }
    let edited = s
        .edit_incident(all.id, "Email delayed", Impact::Major, at(301))
        .await
        .unwrap();
    assert_eq!(
        (edited.title.as_str(), edited.impact),
        ("Email delayed", Impact::Major)
    );
    assert_eq!(
        field_of(s.edit_incident(all.id, " ", Impact::Major, at(302)).await),
        "title"
    );

    // Bad input and other workspaces.
    assert!(
        s.open_incident_affecting(
            &manual,
            &[AffectedComponent {
                component_id: ComponentId(999_999),
                status: ComponentStatus::MajorOutage
            }]
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    let other = workspace(&store, "pi-other").await;
    let mut o = store.workspace(other);
    assert!(
        o.page_incidents(open_page.id, &q(false))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.publish_incident(auto.id, at(9))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.edit_incident(inc.id, "x", Impact::None, at(9))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        o.post_incident_update(
            inc.id,
            &NewIncidentUpdate {
                status: IncidentStatus::Resolved,
                message: "x".into(),
                components: vec![]
            },
            at(9)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    let mut foreign = manual.clone();
    foreign.title = "theirs".into();
    assert!(
        o.open_incident_affecting(&foreign, &[db_slow])
            .await
            .unwrap_err()
            .is_not_found(),
        "cannot affect another workspace's component"
    );
    assert!(
        o.incidents(false, 10).await.unwrap().is_empty(),
        "nothing half-written"
    );
}

async fn pages_show_their_maintenance_and_subscribers_have_tokens(store: Store) {
    let ws = workspace(&store, "pm").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let p = s.create_status_page(&page("pm", None), T0).await.unwrap();
    let other_page = s.create_status_page(&page("pm2", None), T0).await.unwrap();
    let c = s
        .create_component(&component(p.id, Some("db"), None), T0)
        .await
        .unwrap();
    s.create_component(&component(p.id, Some("api"), Some(m.id)), T0)
        .await
        .unwrap();
    let by_component = s
        .create_maintenance(&window("by component", vec![], vec![c.id]), T0)
        .await
        .unwrap();
    let by_monitor = s
        .create_maintenance(&window("by monitor", vec![m.id], vec![]), T0)
        .await
        .unwrap();
    s.create_maintenance(&window("elsewhere", vec![], vec![]), T0)
        .await
        .unwrap();
    let ids = |v: Vec<Maintenance>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.maintenances_for_page(p.id, T0).await.unwrap()),
        vec![by_component.id, by_monitor.id]
    );
    assert!(
        s.maintenances_for_page(p.id, at(7200))
            .await
            .unwrap()
            .is_empty(),
        "ended"
    );
    assert!(
        s.maintenances_for_page(other_page.id, T0)
            .await
            .unwrap()
            .is_empty()
    );
    let other = workspace(&store, "pm-other").await;
    assert!(
        store
            .workspace(other)
            .maintenances_for_page(p.id, T0)
            .await
            .unwrap()
            .is_empty()
    );

    let a = s
        .add_subscriber(p.id, SubscriberKind::Email, " a@x.io ", T0)
        .await
        .unwrap();
    let b = s
        .add_subscriber(p.id, SubscriberKind::Email, "b@x.io", T0)
        .await
        .unwrap();
    assert_eq!(a.target, "a@x.io");
    assert_eq!(a.token.len(), 32);
    assert!(a.token.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a.token, b.token);
    assert_eq!(
        (a.confirmed, a.confirmed_at, a.workspace_id),
        (false, None, ws)
    );
    let mut g = store.global();
    assert_eq!(
        g.subscriber_by_token(&a.token).await.unwrap(),
        Some(a.clone())
    );
    for bad in ["", "nope", &"f".repeat(100_000), "' OR 1=1 --"] {
        assert_eq!(g.subscriber_by_token(bad).await.unwrap(), None);
    }
    s.confirm_subscriber(a.id, at(10)).await.unwrap();
    s.confirm_subscriber(a.id, at(20)).await.unwrap();
    let a2 = g.subscriber_by_token(&a.token).await.unwrap().unwrap();
    assert_eq!((a2.confirmed, a2.confirmed_at), (true, Some(at(10))));
    assert_eq!(
        field_of(
            s.add_subscriber(p.id, SubscriberKind::Email, "  ", T0)
                .await
        ),
        "target"
    );
    assert!(
        store
            .workspace(other)
            .confirm_subscriber(b.id, at(30))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

conformance!(
    status_pages_hold_ordered_components,
    maintenance_windows_and_subscribers,
    components_have_keys_unique_per_page,
    components_are_updated_in_place,
    maintenance_windows_cover_monitors,
    maintenance_recurrence_is_checked,
    page_settings_domains_and_password,
    groups_and_components_move_the_page_forward,
    pages_show_their_incidents,
    pages_show_their_maintenance_and_subscribers_have_tokens,
);
