//! Journeys in headless Chromium (SQLite): a status page built in the dashboard and seen on
//! its public page; a webhook channel added, tested against a local receiver, and its
//! delivery shown. Screenshots go to `target/test-artifacts/dash_pages/`.

use bitwobbly_server::Clock;
use bitwobbly_server::notify::{Alert, AlertKind};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::browser::Browser;
use bitwobbly_test_support::db::Backend;

use crate::common::{DashServer, eventually};
use crate::pages::{PASSWORD, monitor};
use crate::receiver::Receiver;

/// Signs in through the form.
async fn sign_in(browser: &Browser, server: &DashServer) {
    browser.open(&server.url("/app/login")).await;
    browser.fill("input[name=email]", "owner@acme.test").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click("form[action=\"/app/login\"] button[type=submit]")
        .await;
    eventually("the sign-in to finish", || async {
        (!browser.url().await.contains("/app/login")).then_some(())
    })
    .await;
}

/// Whether the page is no wider than the window (nothing to scroll sideways).
async fn fits(browser: &Browser) -> bool {
    browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await
        .as_bool()
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_page_is_built_and_seen_in_a_browser() {
    let server = DashServer::start(Backend::Sqlite).await;
    server.user("owner@acme.test", PASSWORD, "acme").await;
    let api = monitor(&server, "acme", "API server").await;
    let browser = Browser::start_in("dash_pages").await;
    browser.resize(1280, 900).await;
    sign_in(&browser, &server).await;

    browser.open(&server.url("/app/w/acme/pages")).await;
    browser
        .click("a.button[href=\"/app/w/acme/pages/new\"]")
        .await;
    browser.fill("#slug", "acme").await;
    browser.fill("#title", "Acme Status").await;
    browser
        .click("form[action=\"/app/w/acme/pages\"] button[type=submit]")
        .await;
    browser.wait_for("#components-h").await;
    assert!(browser.text(".flash").await.contains("created"));

    browser.fill("#component-name", "Public API").await;
    browser
        .click(&format!(
            "#component-monitor option[value=\"{}\"]",
            api.id.0
        ))
        .await;
    browser
        .click("form[action$=\"/components\"] button[type=submit]")
        .await;
    browser.wait_for(".pg-components li").await;
    let listed = browser.text(".pg-components li").await;
    assert!(
        listed.contains("Public API") && listed.contains("Monitor: API server"),
        "{listed}"
    );
    assert!(fits(&browser).await, "the editor fits the window");
    browser.screenshot("page-editor.png").await;

    // The preview frame shows the public page with the component.
    let seen = eventually("the preview to show the component", || async {
        let text = browser
            .script(
                "const f = document.querySelector('iframe.pg-preview'); \
                 return f && f.contentDocument && f.contentDocument.body \
                   ? f.contentDocument.body.innerText : '';",
            )
            .await;
        text.as_str()
            .filter(|t| t.contains("Public API"))
            .map(str::to_owned)
    })
    .await;
    assert!(seen.contains("Acme Status"));

    // The public page, as a visitor sees it.
    browser.open(&server.url("/s/acme")).await;
    let name = browser.text("li.component .name").await;
    assert_eq!(name, "Public API");
    browser.screenshot("public-page.png").await;

    // The editor at phone width: nothing overflows sideways.
    browser.resize(390, 844).await;
    browser.open(&server.url("/app/w/acme/pages")).await;
    browser.click("td a[href^=\"/app/w/acme/pages/\"]").await;
    browser.wait_for("#components-h").await;
    assert!(fits(&browser).await, "the editor fits a phone");
    browser.screenshot("page-editor-phone.png").await;

    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_tested_and_its_delivery_shown_in_a_browser() {
    let server = DashServer::start_with(Backend::Sqlite, |c| c.targets.deny_private = false).await;
    server.user("owner@acme.test", PASSWORD, "acme").await;
    let receiver = Receiver::start(200).await;
    let browser = Browser::start_in("dash_pages").await;
    browser.resize(1280, 900).await;
    sign_in(&browser, &server).await;

    browser.open(&server.url("/app/w/acme/channels")).await;
    browser
        .click("a[href=\"/app/w/acme/channels/new?kind=webhook\"]")
        .await;
    browser.fill("#name", "Ops hook").await;
    browser
        .fill("#config-url", &receiver.url("/hooks/ops"))
        .await;
    browser
        .click("form[action=\"/app/w/acme/channels\"] button[type=submit]")
        .await;
    let secret = browser.text("#webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.screenshot("webhook-created.png").await;
    browser.click("main a.button").await;
    browser.wait_for("#settings-h").await;
    assert!(fits(&browser).await, "the channel page fits the window");

    browser
        .click("form[action$=\"/test\"] button[type=submit]")
        .await;
    browser.wait_for(".flash").await;
    assert_eq!(
        browser.text(".flash").await,
        "Test sent: the receiver accepted it."
    );
    let got = receiver.requests();
    assert_eq!(got.len(), 1, "the test arrived at the receiver");
    assert!(String::from_utf8_lossy(&got[0].body).contains("Ops hook"));
    browser.screenshot("webhook-test-sent.png").await;

    // An alert through the outbox is delivered and listed on the channel's page.
    let ws = server.workspace("acme").await;
    let ch = server.store().workspace(ws.id).channels().await.unwrap()[0].clone();
    let now = Clock.now();
    let alert = Alert {
        kind: AlertKind::Down,
        incident_id: Some(7),
        monitor_id: None,
        monitor: "Checkout".to_owned(),
        target: "https://shop.example/".to_owned(),
        reason: Some("status 503".to_owned()),
        started_at: now.to_datetime(),
        duration: None,
        link: server.url("/app/"),
        at: now.to_datetime(),
    };
    let n = server
        .store()
        .workspace(ws.id)
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
    let row = format!("#notification-{}", n.id.0);
    let page = browser.url().await;
    let state = eventually("the delivery to show as sent", || async {
        browser.open(&page).await;
        let shown = browser
            .script(&format!(
                "const r = document.querySelector('{row} .state-sent'); return r ? r.innerText : '';"
            ))
            .await;
        shown.as_str().filter(|s| *s == "sent").map(str::to_owned)
    })
    .await;
    assert_eq!(state, "sent");
    assert_eq!(receiver.requests().len(), 2);
    browser.screenshot("channel-deliveries.png").await;

    browser.open(&server.url("/app/w/acme/notifications")).await;
    browser.wait_for(&row).await;
    browser.screenshot("notifications.png").await;

    browser.quit().await;
    server.stop().await;
}
