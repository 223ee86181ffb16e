//! A status page in headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over the W3C WebDriver protocol with plain HTTP: the page at desktop (1280x800) and phone
//! (390x844) widths shows every component with its status; when a monitor's target starts
//! answering 500, the component shows as down after a reload. Screenshots are saved under
//! `target/test-artifacts/browser/`.
//!
//! Needs `apt-get install chromium chromium-driver` (`.ci/setup` installs them).

// The server harness of the pages_extras tests; this test uses only part of it.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../pages_extras/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine as _;
use bitwobbly_test_support::db::Backend;
use serde_json::{Value, json};

use harness::{Running, Target, eventually, seed};

/// A chromedriver process and one browser session.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
    driver: tokio::process::Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is needed (apt-get install chromium chromium-driver)");
        let http = harness::client();
        let base = format!("http://127.0.0.1:{port}");
        eventually("chromedriver to be ready", || async {
            let status: Value = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (status["value"]["ready"] == true).then_some(())
        })
        .await;
        let profile = tempfile::tempdir().expect("a fresh profile");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Self {
            http,
            base,
            session,
            _profile: profile,
            driver,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("JSON");
        assert!(
            res["value"].get("error").is_none(),
            "webdriver {path}: {res}"
        );
        res["value"].clone()
    }

    async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Every component on the page: (name, data-status, shown status text, visible).
    async fn components(&self) -> Vec<(String, String, String, bool)> {
        let v = self
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

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a PNG");
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = artifacts();
        std::fs::create_dir_all(&dir).expect("artifact directory");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write the screenshot");
        path
    }

    async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill().await;
    }
}

/// `target/test-artifacts/browser` of the workspace.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("test-artifacts").join("browser")
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
        let components = browser.components().await;
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
        let components = browser.components().await;
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
