//! Headless Chromium driven over the W3C WebDriver protocol with plain HTTP (feature
//! `browser`; needs Debian's `chromium` and `chromium-driver`).
//!
//! ```no_run
//! # async fn f() {
//! use bitwobbly_test_support::browser::Browser;
//!
//! let b = Browser::start_in("dashboard").await;
//! b.open("http://127.0.0.1:8080/app/login").await;
//! b.fill("#email", "ada@example.com").await;
//! b.click("button[type=submit]").await;
//! b.wait_for("main h1").await;
//! b.screenshot("login.png").await; // target/test-artifacts/dashboard/login.png
//! b.quit().await;
//! # }
//! ```
//!
//! Waiting ([`Browser::wait_for`], [`eventually`]) polls with a generous deadline;
//! it proves that something happens, not how fast.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

/// How long the driver may take to start, and a wait may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The key WebDriver names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one headless browser session; the driver is killed on drop.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    suite: String,
    _profile: tempfile::TempDir,
    driver: tokio::process::Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `check` until it returns `Some`, panicking with `what` after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `target/test-artifacts/<suite>` of the workspace (or of `CARGO_TARGET_DIR`).
pub fn artifacts(suite: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("test-artifacts").join(suite)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose screenshots go to
    /// `target/test-artifacts/browser`.
    ///
    /// # Panics
    ///
    /// When chromedriver or Chromium is missing or does not start.
    pub async fn start() -> Self {
        Self::start_in("browser").await
    }

    /// Like [`Browser::start`], screenshots going to `target/test-artifacts/<suite>`.
    ///
    /// # Panics
    ///
    /// When chromedriver or Chromium is missing or does not start.
    pub async fn start_in(suite: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is needed (apt-get install chromium chromium-driver)");
        let http = reqwest::Client::builder()
            .timeout(DEADLINE)
            .build()
            .expect("an HTTP client");
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
            suite: suite.to_owned(),
            _profile: profile,
            driver,
        }
    }

    /// A raw WebDriver call on this session; the answer's `value` (panics on a WebDriver
    /// error).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let res = self.try_call(method, path, body).await;
        assert!(res.get("error").is_none(), "webdriver {path}: {res}");
        res
    }

    /// A raw WebDriver call; the answer's `value`, errors included.
    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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
        res["value"].clone()
    }

    /// Sets the window size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Opens `url` (waits for the page to load).
    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The URL of the current page.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page (`return ...` gives a value).
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The first element matching `css`, if any (no waiting).
    async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .try_call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.get(ELEMENT).and_then(Value::as_str).map(str::to_owned)
    }

    /// Waits for an element matching `css` to exist and returns its reference.
    pub async fn wait_for(&self, css: &str) -> String {
        eventually(&format!("an element matching {css}"), || self.find(css)).await
    }

    /// Types `text` into the element matching `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.wait_for(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let id = self.wait_for(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let id = self.wait_for(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the element matching `css` exists and is displayed.
    pub async fn visible(&self, css: &str) -> bool {
        let Some(id) = self.find(css).await else {
            return false;
        };
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/displayed"),
            None,
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Sends keys to whatever has focus (e.g. `"\u{E004}"` is Tab).
    pub async fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    /// Saves a screenshot of the viewport as `target/test-artifacts/<suite>/<name>` and
    /// returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a PNG");
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = artifacts(&self.suite);
        std::fs::create_dir_all(&dir).expect("artifact directory");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write the screenshot");
        path
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill().await;
    }
}
