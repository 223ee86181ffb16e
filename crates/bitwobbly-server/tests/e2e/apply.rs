//! Configuration as code: `apply` then `export` gives the document back, a second `apply`
//! changes nothing, updates and `prune` work by key, objects without a key are left alone,
//! and an invalid document changes nothing while naming section, key and field.

use bitwobbly_core::{CheckSpec, HttpSpec, Schedule, Thresholds};
use bitwobbly_server::apply::{self, Action, ApplyError, ApplyOptions, Document, Report};
use bitwobbly_store::prelude::*;

use crate::harness::{Backend, TestDb, both};

both!(
    export_after_apply_gives_the_document_back,
    changes_are_applied_by_key_and_prune_deletes,
    objects_without_a_key_are_left_alone,
    an_invalid_document_changes_nothing,
    a_dry_run_changes_nothing,
);

/// A document in the form `export` writes: sorted by key, defaults left out.
const DOC: &str = r#"
[[channel]]
key = "ops"
name = "Ops webhook"
kind = "webhook"
config = { url = "http://127.0.0.1:9/hook", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }

[[channel]]
key = "phone"
name = "Phone"
kind = "ntfy"
enabled = false
config = { url = "http://127.0.0.1:9", topic = "alerts" }

[[monitor]]
key = "api"
name = "API health"
spec = { type = "http", url = "http://127.0.0.1:9/health", timeout = "5s", assertions = [{ type = "status_code", expect = "200-299" }] }
schedule = { type = "interval", every = "30s" }
thresholds = { down_after = 3, window = 5 }
channels = ["ops", "phone"]

[[monitor]]
key = "backup"
name = "Nightly backup"
spec = { type = "heartbeat", grace = "1h", expect = { type = "period", period = "1day" } }
channels = ["ops"]

[[monitor]]
key = "db"
name = "Database port"
spec = { type = "tcp", host = "127.0.0.1", port = 5432 }
schedule = { type = "cron", expr = "*/5 * * * *", tz = "Europe/Paris" }
parent = "api"
paused = true

[[status_page]]
slug = "e2e-status"
title = "Acme status"

[[status_page.component]]
key = "api"
name = "API"
description = "The public API"
monitor = "api"

[[status_page.component]]
key = "backups"
name = "Backups"
monitor = "backup"
"#;

async fn setup(backend: Backend) -> (TestDb, Store, WorkspaceId) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let ws = store
        .global()
        .create_workspace("acme", "Acme", Timestamp::from_millis(1_700_000_000_000))
        .await
        .unwrap();
    (db, store, ws.id)
}

fn actions(report: &Report) -> Vec<(String, String, &'static str)> {
    report
        .changes
        .iter()
        .map(|c| (c.section.to_owned(), c.key.clone(), c.action.as_str()))
        .collect()
}

fn row(section: &str, key: &str, action: &'static str) -> (String, String, &'static str) {
    (section.to_owned(), key.to_owned(), action)
}

async fn export_after_apply_gives_the_document_back(backend: Backend) {
    let (db, store, ws) = setup(backend).await;
    let doc = Document::from_toml(DOC).unwrap();
    let opts = ApplyOptions::default();

    let report = apply::apply(&store, ws, &doc, &opts).await.unwrap();
    assert_eq!(report.count(Action::Create), 8, "{:?}", actions(&report));
    let backup = report.changes.iter().find(|c| c.key == "backup").unwrap();
    assert!(backup.ping_token.as_ref().is_some_and(|t| t.len() >= 22));

    let exported = apply::export(&store, ws).await.unwrap();
    assert_eq!(exported, doc);
    // ... and the TOML text reads back to the same document.
    let text = exported.to_toml().unwrap();
    assert_eq!(Document::from_toml(&text).unwrap(), doc, "{text}");

    // Applying again changes nothing.
    let again = apply::apply(&store, ws, &doc, &opts).await.unwrap();
    assert!(again.is_unchanged(), "{:?}", actions(&again));
    assert_eq!(again.changes.len(), 8);

    // The stored objects are what the file says.
    let mut scope = store.workspace(ws);
    let api = scope.monitor_by_key("api").await.unwrap().unwrap();
    let db_mon = scope.monitor_by_key("db").await.unwrap().unwrap();
    assert_eq!(db_mon.parent_id, Some(api.id));
    assert!(db_mon.paused);
    assert_eq!(
        api.schedule,
        Schedule::interval(std::time::Duration::from_secs(30)).unwrap()
    );
    assert_eq!(api.thresholds.down_after, 3);
    let linked: Vec<Option<String>> = scope
        .channels_for_monitor(api.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.key)
        .collect();
    assert_eq!(linked.len(), 2, "{linked:?}");
    let phone = scope.channel_by_key("phone").await.unwrap().unwrap();
    assert!(!phone.enabled);
    store.close().await;
    db.finish().await;
}

async fn changes_are_applied_by_key_and_prune_deletes(backend: Backend) {
    let (db, store, ws) = setup(backend).await;
    let opts = ApplyOptions::default();
    let doc = Document::from_toml(DOC).unwrap();
    apply::apply(&store, ws, &doc, &opts).await.unwrap();
    let api_id = store
        .workspace(ws)
        .monitor_by_key("api")
        .await
        .unwrap()
        .unwrap()
        .id;

    // Change the API's URL and channels, rename a channel, drop the database monitor and a
    // component.
    let changed = DOC
        .replace("http://127.0.0.1:9/health", "http://127.0.0.1:9/v2/health")
        .replace(r#"channels = ["ops", "phone"]"#, r#"channels = ["ops"]"#)
        .replace(r#"name = "Phone""#, r#"name = "On-call phone""#);
    let mut changed = Document::from_toml(&changed).unwrap();
    changed.monitors.retain(|m| m.key != "db");
    changed.status_pages[0]
        .components
        .retain(|c| c.key != "backups");

    let report = apply::apply(&store, ws, &changed, &opts).await.unwrap();
    let rows = actions(&report);
    assert!(rows.contains(&row("monitor", "api", "updated")), "{rows:?}");
    assert!(
        rows.contains(&row("channel", "phone", "updated")),
        "{rows:?}"
    );
    assert!(
        rows.contains(&row("monitor", "backup", "unchanged")),
        "{rows:?}"
    );
    let api = report
        .changes
        .iter()
        .find(|c| c.key == "api" && c.section == "monitor")
        .unwrap();
    assert_eq!(api.fields, ["spec", "channels"]);
    assert_eq!(report.count(Action::Delete), 0);
    // Updated in place: same id.
    let api_now = store
        .workspace(ws)
        .monitor_by_key("api")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(api_now.id, api_id);
    // Without --prune what the file no longer lists stays.
    let exported = apply::export(&store, ws).await.unwrap();
    assert!(exported.monitors.iter().any(|m| m.key == "db"));

    // With --prune it goes.
    let report = apply::apply(&store, ws, &changed, &opts.clone().prune(true))
        .await
        .unwrap();
    let rows = actions(&report);
    assert!(rows.contains(&row("monitor", "db", "deleted")), "{rows:?}");
    assert!(
        rows.contains(&row("component", "e2e-status/backups", "deleted")),
        "{rows:?}"
    );
    assert_eq!(report.count(Action::Delete), 2, "{rows:?}");
    assert_eq!(apply::export(&store, ws).await.unwrap(), changed);
    store.close().await;
    db.finish().await;
}

async fn objects_without_a_key_are_left_alone(backend: Backend) {
    let (db, store, ws) = setup(backend).await;
    let now = Timestamp::from_millis(1_700_000_000_000);
    // Made in the dashboard: no keys.
    let mut scope = store.workspace(ws);
    let manual = scope
        .create_monitor(
            &NewMonitor {
                key: None,
                name: "Made by hand".into(),
                spec: CheckSpec::Http(HttpSpec::get("http://127.0.0.1:9/manual")),
                schedule: Schedule::interval(std::time::Duration::from_secs(60)).unwrap(),
                thresholds: Thresholds::default(),
                parent_id: None,
                paused: false,
                locations: vec![],
                quorum: Default::default(),
            },
            now,
        )
        .await
        .unwrap();
    let pager = scope
        .create_channel(
            &NewChannel {
                key: None,
                name: "Manual hook".into(),
                kind: ChannelKind::Webhook,
                config: serde_json::json!({"url": "http://127.0.0.1:9/manual-hook"}),
                enabled: true,
            },
            now,
        )
        .await
        .unwrap();
    let doc = Document::from_toml(DOC).unwrap();
    apply::apply(&store, ws, &doc, &ApplyOptions::default())
        .await
        .unwrap();
    // Someone links the keyed monitor to the unkeyed channel by hand.
    let api = store
        .workspace(ws)
        .monitor_by_key("api")
        .await
        .unwrap()
        .unwrap();
    let mut links: Vec<ChannelId> = store
        .workspace(ws)
        .channels_for_monitor(api.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    links.push(pager.id);
    store
        .workspace(ws)
        .set_monitor_channels(api.id, &links)
        .await
        .unwrap();

    // Applying (and pruning) keeps the unkeyed objects and that link.
    let report = apply::apply(&store, ws, &doc, &ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert!(report.is_unchanged(), "{:?}", actions(&report));
    let mut scope = store.workspace(ws);
    assert!(scope.monitor(manual.id).await.unwrap().is_some());
    assert!(scope.channel(pager.id).await.unwrap().is_some());
    let linked = scope.channels_for_monitor(api.id).await.unwrap();
    assert!(linked.iter().any(|c| c.id == pager.id));
    assert_eq!(linked.len(), 3);
    // The export shows keyed objects only.
    let exported = apply::export(&store, ws).await.unwrap();
    assert_eq!(exported, doc);
    store.close().await;
    db.finish().await;
}

async fn an_invalid_document_changes_nothing(backend: Backend) {
    let (db, store, ws) = setup(backend).await;
    let bad = r#"
[[channel]]
key = "ops"
name = "Ops"
kind = "webhok"

[[monitor]]
key = "api"
name = "API"
spec = { type = "http", url = "ftp://example.com/" }
schedule = { type = "interval", every = "1s" }
channels = ["ops", "nope"]

[[monitor]]
key = "api"
name = "Again"
spec = { type = "tcp", host = "127.0.0.1", port = 0 }

[[monitor]]
key = "a"
name = "A"
parent = "b"
spec = { type = "tcp", host = "127.0.0.1", port = 1 }

[[monitor]]
key = "b"
name = "B"
parent = "a"
spec = { type = "tcp", host = "127.0.0.1", port = 1 }
"#;
    let doc = Document::from_toml(bad).unwrap();
    let Err(ApplyError::Invalid(problems)) =
        apply::apply(&store, ws, &doc, &ApplyOptions::default()).await
    else {
        panic!("the document is invalid");
    };
    let found: Vec<(&str, &str, Option<&str>)> = problems
        .iter()
        .map(|p| (p.section, p.key.as_str(), p.field.as_deref()))
        .collect();
    for want in [
        ("channel", "ops", Some("kind")),
        ("monitor", "api", Some("spec.url")),
        ("monitor", "api", Some("schedule.every")),
        ("monitor", "api", Some("channels[1]")),
        ("monitor", "api", Some("key")),
        ("monitor", "api", Some("spec.port")),
        ("monitor", "a", Some("parent")),
    ] {
        assert!(found.contains(&want), "{want:?} in {found:?}");
    }
    let text = problems[0].to_string();
    assert!(text.starts_with(r#"channel "ops", field kind: "#), "{text}");
    assert_eq!(
        apply::export(&store, ws).await.unwrap(),
        Document::default()
    );

    // References to keys that exist nowhere are found against the database.
    let dangling = Document::from_toml(
        r#"
[[monitor]]
key = "child"
name = "Child"
parent = "ghost"
spec = { type = "tcp", host = "127.0.0.1", port = 1 }

[[status_page]]
slug = "e2e-status"

[[status_page.component]]
key = "c"
name = "C"
monitor = "phantom"
"#,
    )
    .unwrap();
    let Err(ApplyError::Invalid(problems)) =
        apply::apply(&store, ws, &dangling, &ApplyOptions::default()).await
    else {
        panic!("dangling references are refused");
    };
    let found: Vec<(&str, &str, Option<&str>)> = problems
        .iter()
        .map(|p| (p.section, p.key.as_str(), p.field.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("monitor", "child", Some("parent")),
            ("component", "e2e-status/c", Some("monitor")),
        ]
    );
    assert_eq!(
        apply::export(&store, ws).await.unwrap(),
        Document::default()
    );
    assert!(store.workspace(ws).status_pages().await.unwrap().is_empty());
    store.close().await;
    db.finish().await;
}

async fn a_dry_run_changes_nothing(backend: Backend) {
    let (db, store, ws) = setup(backend).await;
    let doc = Document::from_toml(DOC).unwrap();
    let report = apply::apply(&store, ws, &doc, &ApplyOptions::default().dry_run(true))
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.count(Action::Create), 8);
    assert_eq!(
        apply::export(&store, ws).await.unwrap(),
        Document::default()
    );
    store.close().await;
    db.finish().await;
}
