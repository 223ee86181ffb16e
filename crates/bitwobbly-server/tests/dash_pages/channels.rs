//! Notification channels in the dashboard: every kind's form, secrets masked, enable and
//! disable, test sends with their outcome, the outbox with dead letters and replay; invalid
//! input; other workspaces and viewers.

use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_server::notify::{Alert, AlertKind};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::http::TestServer;

use crate::common::{Client, DashServer, eventually};
use crate::pages::{Fields, PASSWORD, last_id};
use crate::receiver::Receiver;

/// A server that may send to loopback, with owner `owner@acme.test` signed in.
async fn owner_with(backend: Backend, max_attempts: u32) -> (DashServer, Client) {
    let server = DashServer::start_with(backend, |c| {
        c.targets.deny_private = false;
        c.notifier.max_attempts = max_attempts;
        c.notifier.initial_backoff = Duration::from_millis(50);
    })
    .await;
    server.user("owner@acme.test", PASSWORD, "acme").await;
    let client = server.signed_in("owner@acme.test", PASSWORD).await;
    client.get("/app/w/acme/channels").await;
    (server, client)
}

async fn channel(server: &DashServer, id: i64) -> Channel {
    let ws = server.workspace("acme").await;
    server
        .store()
        .workspace(ws.id)
        .channel(ChannelId(id))
        .await
        .unwrap()
        .expect("the channel")
}

/// Creates a channel through the form; its page's path (following the page that shows a
/// generated secret).
async fn create(client: &Client, kind: &str, fields: &[(&str, &str)]) -> String {
    client
        .get(&format!("/app/w/acme/channels/new?kind={kind}"))
        .await;
    let mut all = vec![("kind", kind)];
    all.extend_from_slice(fields);
    let res = client.post_form("/app/w/acme/channels", &all).await;
    match res.status {
        303 => res.location(),
        200 => create_link(&res.body),
        s => panic!("creating a {kind} channel: {s} {}", res.body),
    }
}

async fn a_webhook_is_added_tested_and_switched_off(backend: Backend) {
    let (server, client) = owner_with(backend, 8).await;
    let receiver = Receiver::start(200).await;
    let hook = receiver.url("/hooks/bitwobbly");

    // Created without a secret: one is made and shown once, with a copy button.
    client.get("/app/w/acme/channels/new?kind=webhook").await;
    let res = client
        .post_form(
            "/app/w/acme/channels",
            &[
                ("kind", "webhook"),
                ("name", "Ops hook"),
                ("config.url", hook.as_str()),
                ("config.secret", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let secret = res.copy_text().expect("the secret with a copy button");
    assert!(secret.starts_with("whsec_"));
    let path = create_link(&res.body);
    let id = last_id(&path);
    assert_eq!(
        channel(&server, id).await.config["secret"].as_str(),
        Some(secret.as_str())
    );

    // Its page masks the secret.
    let page = client.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.has(&hook) && page.has("********"));
    assert!(!page.has(&secret), "the secret is never shown again");
    let list = client.get("/app/w/acme/channels").await;
    assert!(list.has("Ops hook") && list.has("Enabled"));

    // A test send arrives, signed, and the outcome is shown.
    client.get(&path).await;
    let res = client.post_form(&format!("{path}/test"), &[]).await;
    assert_eq!(res.status, 303);
    let page = client.get(&res.location()).await;
    assert!(
        page.has("Test sent: the receiver accepted it."),
        "{}",
        page.body
    );
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    assert!(got[0].headers.contains_key("webhook-signature"));
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert!(body.to_string().contains("Ops hook"), "{body}");

    // A receiver that refuses: the outcome says so.
    receiver.answer(500);
    let res = client.post_form(&format!("{path}/test"), &[]).await;
    let page = client.get(&res.location()).await;
    assert!(page.has("Test failed:"), "{}", page.body);
    assert!(page.has("500"));

    // Editing keeps the secret that was left empty.
    let res = client
        .post_form(
            &path,
            &[
                ("name", "Ops webhook"),
                ("config.url", hook.as_str()),
                ("config.secret", ""),
                ("key", "ops"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let saved = channel(&server, id).await;
    assert_eq!(saved.name, "Ops webhook");
    assert_eq!(saved.key.as_deref(), Some("ops"));
    assert_eq!(saved.config["secret"].as_str(), Some(secret.as_str()));

    // Disable, enable.
    client.get(&path).await;
    let res = client
        .post_form(&format!("{path}/enabled"), &[("enabled", "false")])
        .await;
    assert_eq!(res.status, 303);
    assert!(!channel(&server, id).await.enabled);
    assert!(client.get(&path).await.has("Disabled"));
    let res = client
        .post_form(&format!("{path}/enabled"), &[("enabled", "maybe")])
        .await;
    assert_eq!(res.status, 400);
    client
        .post_form(&format!("{path}/enabled"), &[("enabled", "true")])
        .await;
    assert!(channel(&server, id).await.enabled);

    // Delete.
    let res = client.post_form(&format!("{path}/delete"), &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(client.get(&path).await.status, 404);
    server.stop().await;
}

/// The channel link on the page that shows a generated secret.
fn create_link(body: &str) -> String {
    let at = body.find("href=\"/app/w/acme/channels/").expect("a link") + 6;
    let end = at + body[at..].find('"').unwrap();
    body[at..end].to_owned()
}

async fn every_kind_is_configured_from_its_form(backend: Backend) {
    let (server, client) = owner_with(backend, 8).await;
    let kinds: Vec<(&str, Fields<'_>, serde_json::Value, Vec<&str>)> = vec![
        (
            "slack",
            vec![
                ("name", "Slack"),
                ("config.url", "https://hooks.slack.example/T1/B2"),
            ],
            serde_json::json!({"url": "https://hooks.slack.example/T1/B2"}),
            vec![],
        ),
        (
            "discord",
            vec![
                ("name", "Discord"),
                ("config.url", "https://discord.example/api/webhooks/1/x"),
            ],
            serde_json::json!({"url": "https://discord.example/api/webhooks/1/x"}),
            vec![],
        ),
        (
            "teams",
            vec![
                ("name", "Teams"),
                ("config.url", "https://teams.example/hook"),
            ],
            serde_json::json!({"url": "https://teams.example/hook"}),
            vec![],
        ),
        (
            "pagerduty",
            vec![
                ("name", "PD"),
                ("config.routing_key", "R0UT1NGKEYabc123"),
                ("config.url", ""),
            ],
            serde_json::json!({"routing_key": "R0UT1NGKEYabc123"}),
            vec!["R0UT1NGKEYabc123"],
        ),
        (
            "ntfy",
            vec![
                ("name", "Phone"),
                ("config.url", "https://ntfy.example"),
                ("config.topic", "ops-alerts"),
                ("config.token", "tk_secret_token"),
                ("config.priority", "high"),
            ],
            serde_json::json!({"url": "https://ntfy.example", "topic": "ops-alerts",
                               "token": "tk_secret_token", "priority": "high"}),
            vec!["tk_secret_token"],
        ),
        (
            "email",
            vec![
                ("name", "Mail"),
                ("config.to", "a@acme.example\nb@acme.example"),
                ("config.smtp.from", "alerts@acme.example"),
                ("config.smtp.host", "smtp.acme.example"),
                ("config.smtp.port", "2525"),
                ("config.smtp.tls", "none"),
                ("config.smtp.username", "mailer"),
                ("config.smtp.password", "smtp-pass-1234"),
            ],
            serde_json::json!({"to": ["a@acme.example", "b@acme.example"], "smtp": {
                "from": "alerts@acme.example", "host": "smtp.acme.example", "port": 2525,
                "tls": "none", "username": "mailer", "password": "smtp-pass-1234"}}),
            vec!["smtp-pass-1234"],
        ),
        (
            "webhook",
            vec![
                ("name", "Signed"),
                ("config.url", "https://hooks.acme.example/"),
                ("config.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ],
            serde_json::json!({"url": "https://hooks.acme.example/",
                               "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
            vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ),
    ];
    for (kind, fields, config, secrets) in kinds {
        let form = client
            .get(&format!("/app/w/acme/channels/new?kind={kind}"))
            .await;
        assert_eq!(form.status, 200, "{kind}");
        let path = create(&client, kind, &fields).await;
        let saved = channel(&server, last_id(&path)).await;
        assert_eq!(saved.kind.as_str(), kind);
        assert_eq!(saved.config, config, "{kind}");
        let page = client.get(&path).await;
        for s in secrets {
            assert!(!page.has(s), "{kind}: a secret is shown");
            assert!(page.has("********"), "{kind}");
        }
        // Saving the form as shown (secrets left empty) keeps every setting.
        let shown: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| {
                let v = if k.ends_with("secret")
                    || k.ends_with("routing_key")
                    || k.ends_with("token")
                    || k.ends_with("password")
                {
                    String::new()
                } else {
                    (*v).to_owned()
                };
                ((*k).to_owned(), v)
            })
            .collect();
        let shown: Vec<(&str, &str)> = shown
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = client.post_form(&path, &shown).await;
        assert_eq!(res.status, 303, "{kind}: {}", res.body);
        assert_eq!(
            channel(&server, last_id(&path)).await.config,
            config,
            "{kind}"
        );
    }
    // A saved secret can be removed.
    let path = create(
        &client,
        "ntfy",
        &[
            ("name", "N2"),
            ("config.url", "https://ntfy.example"),
            ("config.topic", "t"),
            ("config.token", "tok"),
        ],
    )
    .await;
    client.get(&path).await;
    let res = client
        .post_form(
            &path,
            &[
                ("name", "N2"),
                ("config.url", "https://ntfy.example"),
                ("config.topic", "t"),
                ("config.token", ""),
                ("clear.token", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(
        channel(&server, last_id(&path))
            .await
            .config
            .get("token")
            .is_none()
    );
    server.stop().await;
}

async fn invalid_channel_input_is_named_on_the_form(backend: Backend) {
    let (server, client) = owner_with(backend, 8).await;
    let long = "n".repeat(500);
    let cases: Vec<(&str, Fields<'_>, &str)> = vec![
        (
            "webhook",
            vec![("name", ""), ("config.url", "https://x.example/")],
            "name",
        ),
        (
            "webhook",
            vec![
                ("name", long.as_str()),
                ("config.url", "https://x.example/"),
            ],
            "name",
        ),
        (
            "webhook",
            vec![("name", "W"), ("config.url", "ftp://x.example/")],
            "config.url",
        ),
        (
            "webhook",
            vec![("name", "W"), ("config.url", "")],
            "config.url",
        ),
        (
            "webhook",
            vec![
                ("name", "W"),
                ("config.url", "https://x.example/"),
                ("config.secret", "not-a-secret"),
            ],
            "config.secret",
        ),
        (
            "slack",
            vec![("name", "S"), ("config.url", "not a url")],
            "config.url",
        ),
        (
            "pagerduty",
            vec![("name", "P"), ("config.routing_key", "has spaces!")],
            "config.routing_key",
        ),
        (
            "ntfy",
            vec![
                ("name", "N"),
                ("config.url", "https://n.example"),
                ("config.topic", "bad topic!"),
            ],
            "config.topic",
        ),
        (
            "ntfy",
            vec![
                ("name", "N"),
                ("config.url", "https://n.example"),
                ("config.topic", "t"),
                ("config.priority", "loudest"),
            ],
            "config.priority",
        ),
        (
            "email",
            vec![
                ("name", "E"),
                ("config.to", ""),
                ("config.smtp.host", "h"),
                ("config.smtp.from", "a@b.example"),
            ],
            "config.to",
        ),
        (
            "email",
            vec![
                ("name", "E"),
                ("config.to", "ok@b.example\nnot-an-address"),
                ("config.smtp.host", "h"),
                ("config.smtp.from", "a@b.example"),
            ],
            "config.to",
        ),
        (
            "email",
            vec![
                ("name", "E"),
                ("config.to", "ok@b.example"),
                ("config.smtp.host", "h"),
                ("config.smtp.port", "abc"),
                ("config.smtp.from", "a@b.example"),
            ],
            "config.smtp.port",
        ),
        (
            "email",
            vec![
                ("name", "E"),
                ("config.to", "ok@b.example"),
                ("config.smtp.host", "h"),
                ("config.smtp.port", "70000"),
                ("config.smtp.from", "a@b.example"),
            ],
            "config.smtp.port",
        ),
        (
            "email",
            vec![
                ("name", "E"),
                ("config.to", "ok@b.example"),
                ("config.smtp.host", "h"),
                ("config.smtp.from", "a@b.example"),
                ("config.smtp.username", "u"),
            ],
            "config.smtp.password",
        ),
        (
            "webhook",
            vec![
                ("name", "W"),
                ("config.url", "https://x.example/"),
                ("key", "Bad Key!"),
            ],
            "key",
        ),
    ];
    for (kind, fields, field) in &cases {
        client
            .get(&format!("/app/w/acme/channels/new?kind={kind}"))
            .await;
        let mut all = vec![("kind", *kind)];
        all.extend_from_slice(fields);
        let res = client.post_form("/app/w/acme/channels", &all).await;
        assert_eq!(res.status, 422, "{kind} {field}: {}", res.body);
        assert!(
            res.field_error(field).is_some(),
            "{kind}: no error on {field}: {}",
            res.body
        );
        // What was typed (but not secrets) stays in the form.
        assert_eq!(
            res.input_value("name").as_deref(),
            fields.iter().find(|(k, _)| *k == "name").map(|(_, v)| *v)
        );
    }
    // A key used by another channel.
    create(
        &client,
        "slack",
        &[
            ("name", "One"),
            ("config.url", "https://s.example/1"),
            ("key", "k1"),
        ],
    )
    .await;
    client.get("/app/w/acme/channels/new?kind=slack").await;
    let res = client
        .post_form(
            "/app/w/acme/channels",
            &[
                ("kind", "slack"),
                ("name", "Two"),
                ("config.url", "https://s.example/2"),
                ("key", "k1"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("key").is_some());
    // Unknown kinds, malformed ids, hostile names.
    assert_eq!(
        client
            .get("/app/w/acme/channels/new?kind=carrier-pigeon")
            .await
            .status,
        404
    );
    assert_eq!(client.get("/app/w/acme/channels/new").await.status, 404);
    let res = client
        .post_form("/app/w/acme/channels", &[("kind", "pigeon"), ("name", "P")])
        .await;
    assert_eq!(res.status, 404);
    for path in [
        "/app/w/acme/channels/abc",
        "/app/w/acme/channels/0",
        "/app/w/acme/channels/777777",
    ] {
        assert_eq!(client.get(path).await.status, 404, "{path}");
    }
    let path = create(
        &client,
        "slack",
        &[
            ("name", "<img src=x onerror=alert(1)>"),
            ("config.url", "https://s.example/3"),
        ],
    )
    .await;
    let page = client.get(&path).await;
    assert!(!page.has("<img src=x"));
    assert!(page.has("&lt;img src=x") || page.has("&#60;img src=x"));
    let list = client.get("/app/w/acme/channels").await;
    assert!(!list.has("<img src=x"));
    // An oversized form is refused whole.
    let huge = "x".repeat(2 * 1024 * 1024);
    client
        .post_too_large(
            "/app/w/acme/channels",
            &[("kind", "slack"), ("name", huge.as_str())],
        )
        .await;
    server.stop().await;
}

async fn dead_letters_are_listed_and_replayed(backend: Backend) {
    let (server, client) = owner_with(backend, 1).await;
    let receiver = Receiver::start(500).await;
    let path = create(
        &client,
        "webhook",
        &[
            ("name", "Flaky"),
            ("config.url", receiver.url("/in").as_str()),
        ],
    )
    .await;
    let ch = channel(&server, last_id(&path)).await;
    let now = Clock.now();
    let alert = Alert {
        kind: AlertKind::Down,
        incident_id: Some(1),
        monitor_id: None,
        monitor: "Checkout".to_owned(),
        target: "https://shop.example/".to_owned(),
        reason: Some("status 503".to_owned()),
        started_at: now.to_datetime(),
        duration: None,
        link: "http://127.0.0.1/".to_owned(),
        at: now.to_datetime(),
    };
    let n = server
        .store()
        .workspace(ch.workspace_id)
        .enqueue_notification(
            &NewNotification {
                channel_id: ch.id,
                event: alert.kind.event().to_owned(),
                payload: serde_json::to_value(&alert).unwrap(),
                not_before: now,
            },
            now,
        )
        .await
        .unwrap();
    let store = server.store().clone();
    eventually("the notification to be dead", || {
        let store = store.clone();
        async move {
            let row = store
                .workspace(ch.workspace_id)
                .notification(n.id)
                .await
                .ok()??;
            (row.state == OutboxState::Dead).then_some(())
        }
    })
    .await;

    let dead = client.get("/app/w/acme/notifications?state=dead").await;
    assert_eq!(dead.status, 200);
    assert!(dead.has(&format!("id=\"notification-{}\"", n.id.0)));
    assert!(dead.has("Flaky") && dead.has("500"), "{}", dead.body);
    assert!(dead.has("Replay"));
    let all = client.get("/app/w/acme/notifications").await;
    assert!(all.has(&format!("id=\"notification-{}\"", n.id.0)));
    assert!(
        client
            .get(&path)
            .await
            .has(&format!("id=\"notification-{}\"", n.id.0))
    );
    assert!(
        !client
            .get("/app/w/acme/notifications?state=sent")
            .await
            .has(&format!("id=\"notification-{}\"", n.id.0))
    );

    // Replay once the receiver works: delivered.
    receiver.answer(200);
    client.get("/app/w/acme/notifications?state=dead").await;
    let res = client
        .post_form(&format!("/app/w/acme/notifications/{}/replay", n.id.0), &[])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    eventually("the replayed notification to be sent", || {
        let store = store.clone();
        async move {
            let row = store
                .workspace(ch.workspace_id)
                .notification(n.id)
                .await
                .ok()??;
            (row.state == OutboxState::Sent).then_some(())
        }
    })
    .await;
    let sent = client.get("/app/w/acme/notifications?state=sent").await;
    assert!(sent.has(&format!("id=\"notification-{}\"", n.id.0)));
    // Only dead letters replay.
    let res = client
        .post_form(&format!("/app/w/acme/notifications/{}/replay", n.id.0), &[])
        .await;
    assert_eq!(res.status, 409);
    // Bad filters name the field.
    for q in ["state=lost", "limit=0", "limit=abc", "limit=5000"] {
        let res = client.get(&format!("/app/w/acme/notifications?{q}")).await;
        assert_eq!(res.status, 422, "{q}");
    }
    assert_eq!(
        client
            .post_form("/app/w/acme/notifications/abc/replay", &[])
            .await
            .status,
        404
    );
    server.stop().await;
}

async fn other_workspaces_and_viewers_are_refused(backend: Backend) {
    let (server, client) = owner_with(backend, 1).await;
    let target = TestServer::http().unwrap();
    let path = create(
        &client,
        "slack",
        &[
            ("name", "Acme Slack"),
            ("config.url", target.url("/ok").as_str()),
        ],
    )
    .await;
    let gets = [
        "/app/w/acme/channels".to_owned(),
        "/app/w/acme/channels/new?kind=slack".to_owned(),
        path.clone(),
        "/app/w/acme/notifications".to_owned(),
        "/app/w/acme/notifications?state=dead".to_owned(),
    ];
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/app/w/acme/channels".to_owned(),
            vec![
                ("kind", "slack"),
                ("name", "X"),
                ("config.url", "https://x.example/"),
            ],
        ),
        (
            path.clone(),
            vec![
                ("name", "Hijacked"),
                ("config.url", "https://evil.example/"),
            ],
        ),
        (format!("{path}/enabled"), vec![("enabled", "false")]),
        (format!("{path}/test"), vec![]),
        (format!("{path}/delete"), vec![]),
        ("/app/w/acme/notifications/1/replay".to_owned(), vec![]),
    ];
    server.user("mallory@other.test", PASSWORD, "other").await;
    let other = server.signed_in("mallory@other.test", PASSWORD).await;
    other.get("/app/w/other/channels").await;
    for p in &gets {
        assert_eq!(other.get(p).await.status, 404, "{p}");
        let own = p.replace("/w/acme/", "/w/other/");
        if own.contains("/channels/") && !own.contains("new") {
            assert_eq!(other.get(&own).await.status, 404, "{own}");
        }
    }
    for (p, fields) in &posts {
        assert_eq!(other.post_form(p, fields).await.status, 404, "{p}");
        let own = p.replace("/w/acme/", "/w/other/");
        if own.contains("/channels/") {
            assert_eq!(other.post_form(&own, fields).await.status, 404, "{own}");
        }
    }
    server
        .member("viewer@acme.test", PASSWORD, "acme", Role::Viewer)
        .await;
    let viewer = server.signed_in("viewer@acme.test", PASSWORD).await;
    let list = viewer.get("/app/w/acme/channels").await;
    assert_eq!(list.status, 200);
    assert!(list.has("Acme Slack") && !list.has("Add a channel"));
    let page = viewer.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(!page.has("Send a test") && !page.has("Save channel"));
    assert_eq!(viewer.get("/app/w/acme/notifications").await.status, 200);
    assert_eq!(
        viewer
            .get("/app/w/acme/channels/new?kind=slack")
            .await
            .status,
        403
    );
    for (p, fields) in &posts {
        assert_eq!(viewer.post_form(p, fields).await.status, 403, "{p}");
    }
    let ch = channel(&server, last_id(&path)).await;
    assert_eq!(ch.name, "Acme Slack");
    assert!(ch.enabled);
    server.stop().await;
}

crate::dash_both!(
    a_webhook_is_added_tested_and_switched_off,
    every_kind_is_configured_from_its_form,
    invalid_channel_input_is_named_on_the_form,
    dead_letters_are_listed_and_replayed,
    other_workspaces_and_viewers_are_refused,
);
