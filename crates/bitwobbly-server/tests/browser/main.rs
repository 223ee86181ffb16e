//! A status page in headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over the W3C WebDriver protocol with plain HTTP: the page at desktop (1280x800) and phone
//! (390x844) widths shows every component with its status; when a monitor's target starts
//! answering 500, the component shows as down after a reload. Screenshots are saved under
//! `target/test-artifacts/browser/`.
//!
//! Needs `apt-get install chromium chromium-driver` (`.ci/setup` installs them). The
//! WebDriver client is `bitwobbly_test_support::browser`.

// The server harness of the pages_extras tests; this test uses only part of it.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../pages_extras/harness.rs"]
mod harness;

use bitwobbly_test_support::browser::Browser;
use bitwobbly_test_support::db::Backend;
use serde_json::Value;

use harness::{Running, Target, eventually, seed};

/// Every component on the page: (name, data-status, shown status text, visible).
async fn components(browser: &Browser) -> Vec<(String, String, String, bool)> {
    let v = browser
        .script(
            "return [...document.querySelectorAll('li.component')].map(li => { \
               const r = li.getBoundingClientRect(); \
               return [li.querySelector('.name').innerText, li.dataset.status, \
                       li.querySelector('.st').innerText, \
                       r.width > 0 && r.height > 0 && r.right <= window.innerWidth + 1]; });",
        )
        .await;
    v.as_array()
        .expect("an array")
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_owned(),
                c[1].as_str().unwrap().to_owned(),
                c[2].as_str().unwrap().to_owned(),
                c[3].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn page_in_a_real_browser(backend: Backend) {
    let target = Target::start();
    let server = Running::start(backend, |_| {}).await;
    let s = seed(&server.store, "acme", &target.url(), 2).await;
    let page_url = server.url("/s/acme");
    let http = harness::client();
    // Wait until both monitors have been checked once.
    eventually("the monitors to be up", || async {
        let v: Value = http
            .get(server.url("/s/acme/api/v2/components.json"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let all = v["components"].as_array()?;
        (all.len() == 3 && all.iter().all(|c| c["status"] == "operational")).then_some(())
    })
    .await;

    let browser = Browser::start().await;
    let tag = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    for (width, height, name) in [(1280, 800, "desktop"), (390, 844, "phone")] {
        browser.resize(width, height).await;
        browser.open(&page_url).await;
        let inner = browser.script("return window.innerWidth").await;
        assert!(inner.as_u64().unwrap() <= u64::from(width));
        let components = components(&browser).await;
        let names: Vec<&str> = components.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["API 0", "API 1", "Support desk"], "{name}");
        for (n, status, shown, visible) in &components {
            assert_eq!(status, "operational", "{name}: {n}");
            assert_eq!(shown, "Operational", "{name}: {n}");
            assert!(visible, "{name}: {n} fits the viewport");
        }
        // No horizontal scrolling at either width.
        let overflow = browser
            .script("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        assert!(overflow.as_i64().unwrap() <= 0, "{name}: {overflow}");
        browser.screenshot(&format!("{tag}-{name}-up.png")).await;
    }

    // The monitors' target fails: after a reload, their components are down.
    target.set(500);
    let down = eventually("API 0 to show as down after a reload", || async {
        browser.open(&page_url).await;
        let components = components(&browser).await;
        let api0 = components.iter().find(|c| c.0 == "API 0")?.clone();
        (api0.1 == "major_outage").then_some(components)
    })
    .await;
    assert_eq!(down[0].2, "Major outage");
    assert_eq!(
        down[2].1, "operational",
        "the manual component is not affected"
    );
    let banner = browser
        .script("return document.querySelector('#overall').innerText")
        .await;
    assert_ne!(banner, "All Systems Operational");
    for (width, height, name) in [(1280, 800, "desktop"), (390, 844, "phone")] {
        browser.resize(width, height).await;
        browser.open(&page_url).await;
        let path = browser.screenshot(&format!("{tag}-{name}-down.png")).await;
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    }
    browser.quit().await;
    assert_eq!(s.components.len(), 3);
    server.stop().await;
}

bitwobbly_test_support::both_backends!(crate::harness::run; page_in_a_real_browser);
