//! A monitor's life in headless Chromium (SQLite): sign in, fill in the new HTTP monitor
//! form against a local server checked every 10 s, watch the scheduler's results turn the
//! monitor page to up, make the target fail, and watch the page turn down with an open
//! incident that the incidents page lists too. Desktop and phone widths; screenshots go to
//! `target/test-artifacts/dash_monitors/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use bitwobbly_test_support::browser::{Browser, eventually};
use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::http::TestServer;

use crate::PW;
use crate::common::DashServer;

/// The page's width beyond the window's (0 or less: nothing scrolls sideways).
async fn overflow(b: &Browser) -> i64 {
    b.script("return document.documentElement.scrollWidth - window.innerWidth;")
        .await
        .as_i64()
        .expect("a number")
}

/// The status the monitor page's heading shows.
async fn status_shown(b: &Browser) -> String {
    b.text("h1 .mon-status").await
}

/// The newest row of the monitor page's recent results: `(result, HTTP status)`.
async fn newest_result(b: &Browser) -> Option<(String, String)> {
    let row = b
        .script(
            "const tr = document.querySelector('section[aria-labelledby=results-h] tbody tr'); \
             return tr ? [tr.cells[1].innerText.trim(), tr.cells[4].innerText.trim()] : null;",
        )
        .await;
    Some((row[0].as_str()?.to_owned(), row[1].as_str()?.to_owned()))
}

/// The monitor page's incidents: `[link, status, resolved]` per row.
async fn incidents_shown(b: &Browser) -> Vec<(String, String, String)> {
    let rows = b
        .script(
            "const s = document.querySelector('section[aria-labelledby=incidents-h]'); \
             return [...s.querySelectorAll('tbody tr')].map(tr => [ \
               tr.querySelector('a').getAttribute('href'), \
               tr.querySelector('.inc-status').innerText, \
               tr.cells[3].innerText.trim()]);",
        )
        .await;
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_goes_up_then_down_in_the_browser() {
    let server = DashServer::start(Backend::Sqlite).await;
    server.user("owner@acme.test", PW, "acme").await;
    let health = Arc::new(AtomicU16::new(200));
    let target = TestServer::builder()
        .switchable("/health", health.clone())
        .start()
        .unwrap();
    let url = target.url("/health");

    let b = Browser::start_in("dash_monitors").await;
    b.resize(1280, 800).await;
    b.open(&server.url("/app/login?next=/app/w/acme/monitors"))
        .await;
    b.fill("#email", "owner@acme.test").await;
    b.fill("#password", PW).await;
    b.click("form[action='/app/login'] button[type=submit]")
        .await;
    eventually("the monitors page after signing in", || async {
        b.url()
            .await
            .ends_with("/app/w/acme/monitors")
            .then_some(())
    })
    .await;
    b.wait_for("a[href='/app/w/acme/monitors/new?kind=http']")
        .await;
    assert!(b.text("main").await.contains("No monitors yet"));

    // The new HTTP monitor form, reached from the list's link.
    b.click("a[href='/app/w/acme/monitors/new?kind=http']")
        .await;
    b.wait_for("form.mon-form [name='spec.url']").await;
    for (name, value) in [
        ("name", "Shop"),
        ("spec.url", url.as_str()),
        ("spec.timeout", "5s"),
        ("schedule.every", "10s"),
        ("thresholds.down_after", "1"),
        ("thresholds.degraded_after", "1"),
        ("thresholds.window", "1"),
        ("thresholds.recover_after", "1"),
    ] {
        b.fill(&format!("form.mon-form [name='{name}']"), value)
            .await;
    }
    b.screenshot("01-new-monitor.png").await;
    b.click("form.mon-form button[type=submit]").await;
    let id: i64 = eventually("the new monitor's page", || async {
        let now = b.url().await;
        now.rsplit_once("/app/w/acme/monitors/")
            .and_then(|(_, id)| id.parse().ok())
    })
    .await;
    let page = server.url(&format!("/app/w/acme/monitors/{id}"));
    b.wait_for("h1 .mon-status").await;
    let main = b.text("main").await;
    assert!(main.contains("Monitor Shop created."), "{main}");
    assert!(main.contains(&url), "the target is shown: {main}");
    assert!(main.contains("Every 10s"), "the schedule is shown: {main}");

    // The scheduler checks it: the page shows it up, its result (HTTP 200), no incident.
    eventually("the monitor to be shown up with its result", || async {
        b.open(&page).await;
        let up = status_shown(&b).await == "up";
        (up && newest_result(&b).await? == ("up".into(), "200".into())).then_some(())
    })
    .await;
    assert!(incidents_shown(&b).await.is_empty());
    b.screenshot("02-up-desktop.png").await;
    b.resize(390, 844).await;
    b.open(&page).await;
    assert_eq!(status_shown(&b).await, "up");
    assert!(overflow(&b).await <= 0, "phone: no sideways scrolling");
    b.screenshot("03-up-phone.png").await;
    b.resize(1280, 800).await;

    // The target fails: the next check turns it down and opens an incident.
    health.store(500, Ordering::SeqCst);
    let incident = eventually("the monitor to be shown down with an incident", || async {
        b.open(&page).await;
        if status_shown(&b).await != "down"
            || newest_result(&b).await? != ("down".into(), "500".into())
        {
            return None;
        }
        incidents_shown(&b).await.into_iter().next()
    })
    .await;
    let (href, status, resolved) = incident;
    assert!(
        href.starts_with("/app/w/acme/incidents/"),
        "the incident is linked: {href}"
    );
    assert_eq!(status, "investigating");
    assert!(resolved.is_empty(), "the incident is open: {resolved}");
    b.screenshot("04-down-desktop.png").await;

    // The open incidents list has it, linked to the monitor.
    b.open(&server.url("/app/w/acme/incidents?open=true")).await;
    let listed = b
        .script(&format!(
            "const li = [...document.querySelectorAll('li.inc-item')] \
               .find(li => li.querySelector('a.inc-title, .inc-title a').getAttribute('href') == '{href}'); \
             return li ? [li.className, \
               [...li.querySelectorAll('a')].map(a => a.getAttribute('href'))] : null;"
        ))
        .await;
    assert!(!listed.is_null(), "the incident is listed as open");
    assert!(
        listed[0]
            .as_str()
            .is_some_and(|c| c.contains("is-investigating")),
        "{listed}"
    );
    assert!(
        listed[1]
            .as_array()
            .expect("links")
            .iter()
            .any(|a| a.as_str() == Some(&format!("/app/w/acme/monitors/{id}"))),
        "the incident names its monitor: {listed}"
    );
    b.screenshot("05-incidents.png").await;

    // Its page, reached from the list.
    b.click(&format!("li.inc-item a[href='{href}']")).await;
    eventually("the incident's page", || async {
        b.url().await.ends_with(&href).then_some(())
    })
    .await;
    b.wait_for("main h1").await;
    assert!(b.text("main").await.contains("Shop"));
    b.screenshot("06-incident.png").await;
    b.quit().await;
    server.stop().await;
}
