//! The dashboard tests' harness: a real server on a fresh database (SQLite or PostgreSQL)
//! served over HTTP on loopback, users and workspaces made through the store, and a
//! browser-like client (cookie jar, no automatic redirects, CSRF tokens read from the forms
//! it was shown).
//!
//! Each dashboard test target includes it with
//! `#[path = "../dash_common/mod.rs"] mod common;`.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitwobbly_server::server::Server;
use bitwobbly_server::{AppState, Clock, Config};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long any awaited condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs each listed `async fn(Backend)` of the enclosing module on SQLite and PostgreSQL.
#[macro_export]
macro_rules! dash_both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!($crate::common::run; $($name),+);
    };
}

/// Runs a test body for `backend`.
pub async fn run(backend: Backend, test: impl AsyncFnOnce(Backend)) {
    test(backend).await;
}

/// A configuration for a test server on `db`: port 0 (the public URL becomes the bound
/// address, so links in mail work), fast polling, 1000 sign-in attempts a minute.
pub fn config(db: &TestDatabase) -> Config {
    let mut c = Config::default();
    c.listen = "127.0.0.1:0".parse().expect("address");
    c.data_dir = db.dir().join("data");
    c.database_url = Some(db.url().to_owned());
    c.shutdown_grace = Duration::from_secs(5);
    c.scheduler.poll_interval = Duration::from_millis(50);
    c.scheduler.result_flush_interval = Duration::from_millis(50);
    c.notifier.poll_interval = Duration::from_millis(50);
    c.notifier.initial_backoff = Duration::from_millis(200);
    c.notifier.send_timeout = Duration::from_secs(5);
    // Tests sign in often from one address; the limit's own tests set it low again.
    c.auth.login_attempts_per_minute = 1000;
    c
}

/// The whole server (`bitwobbly_server::server::router`) running in this process.
pub struct DashServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The first-run set-up link printed at start (only on an empty database).
    pub setup_url: Option<String>,
    state: AppState,
    store: Store,
    db: Option<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    tasks: JoinSet<Result<(), bitwobbly_server::server::ServerError>>,
}

impl DashServer {
    /// A server on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// A server on a fresh database of `backend`, `tweak` adjusting its configuration.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create(backend, "dash").await;
        let mut c = config(&db);
        tweak(&mut c);
        let server = Server::bind(c).await.expect("the server binds");
        let base = format!("http://{}", server.local_addr());
        let setup_url = server.setup_url().map(str::to_owned);
        let state = server.state().clone();
        let store = state.store.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut tasks = JoinSet::new();
        tasks.spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            setup_url,
            state,
            store,
            db: Some(db),
            stop: Some(stop),
            tasks,
        }
    }

    /// The server's shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The server's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A link the server made (starting with its public URL) as a path.
    pub fn path_of(&self, link: &str) -> String {
        link.strip_prefix(&self.base)
            .unwrap_or_else(|| panic!("{link} is not under {}", self.base))
            .to_owned()
    }

    /// A new user owning a new workspace `workspace_slug` (or, when that workspace exists,
    /// joining it as owner).
    pub async fn user(&self, email: &str, password: &str, workspace_slug: &str) -> User {
        self.member(email, password, workspace_slug, Role::Owner)
            .await
    }

    /// A new user with `role` in workspace `workspace_slug` (created when missing).
    pub async fn member(
        &self,
        email: &str,
        password: &str,
        workspace_slug: &str,
        role: Role,
    ) -> User {
        let now = Clock.now();
        let user = self
            .store
            .global()
            .create_user(
                email,
                email.split('@').next().unwrap_or(email),
                password,
                now,
            )
            .await
            .expect("a user");
        let ws = self.workspace(workspace_slug).await;
        self.store
            .workspace(ws.id)
            .set_member(user.id, role, now)
            .await
            .expect("a membership");
        user
    }

    /// Workspace `slug`, created when missing.
    pub async fn workspace(&self, slug: &str) -> Workspace {
        let existing = self
            .store
            .global()
            .workspace_by_slug(slug)
            .await
            .expect("a lookup");
        match existing {
            Some(ws) => ws,
            None => self
                .store
                .global()
                .create_workspace(slug, slug, Clock.now())
                .await
                .expect("a workspace"),
        }
    }

    /// A browser-like client of this server.
    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// A client signed in as `email`.
    pub async fn signed_in(&self, email: &str, password: &str) -> Client {
        let c = self.client();
        let page = c.login(email, password).await;
        assert_eq!(page.status, 303, "sign-in of {email}: {}", page.body);
        c
    }

    /// Shuts the server down gracefully, then drops its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = tokio::time::timeout(DEADLINE, self.tasks.join_next())
            .await
            .expect("the server stops in time");
        done.expect("a server task")
            .expect("the task ran")
            .expect("the server stopped cleanly");
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }
}

/// A response: status, headers and body text.
#[derive(Debug, Clone)]
pub struct Page {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// Whether the body contains `text` (as written in the HTML, so `&` is `&amp;`).
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// The `Location` header (panics when absent).
    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body))
            .to_str()
            .expect("ASCII")
            .to_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The message of `<p class="field-error" id="<field>-error">`, if shown; also checks
    /// that an input names it with `aria-describedby` and `aria-invalid`.
    pub fn field_error(&self, field: &str) -> Option<String> {
        let id = format!("id=\"{field}-error\"");
        let at = self.body.find(&id)?;
        let start = at + self.body[at..].find('>')? + 1;
        let end = start + self.body[start..].find("</p>")?;
        let described = format!("aria-describedby=\"{field}-error\"");
        assert!(
            self.body.contains(&described),
            "the input of {field} does not point at its error"
        );
        Some(unescape(self.body[start..end].trim()))
    }

    /// The value of the form field `name` (`<input name="name" value="...">`) on the page.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\"");
        let at = self.body.find(&needle)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let v = tag.find("value=\"")? + 7;
        let end = v + tag[v..].find('"')?;
        Some(unescape(&tag[v..end]))
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> Option<String> {
        self.input_value("csrf")
    }

    /// The text of the element with `data-copy` (a secret shown once), if any.
    pub fn copy_text(&self) -> Option<String> {
        let at = self.body.find("data-copy=\"")? + 11;
        let end = at + self.body[at..].find('"')?;
        Some(unescape(&self.body[at..end]))
    }
}

/// Undoes askama's HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser-like client: keeps cookies, never follows redirects, remembers the CSRF token
/// of the last page that had a form.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
    csrf: Arc<Mutex<Option<String>>>,
    /// Extra headers sent with every request (e.g. `Sec-Fetch-Site`).
    extra: Arc<Mutex<Vec<(String, String)>>>,
}

impl Client {
    /// A client of the server at `base` with an empty cookie jar.
    pub fn new(base: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DEADLINE)
            .build()
            .expect("a client");
        Self {
            http,
            base: base.to_owned(),
            jar: Arc::default(),
            csrf: Arc::default(),
            extra: Arc::default(),
        }
    }

    /// The cookie `name`, if set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Sets (or, with `None`, removes) cookie `name`.
    pub fn set_cookie(&self, name: &str, value: Option<&str>) {
        let mut jar = self.jar.lock().unwrap();
        match value {
            Some(v) => {
                jar.insert(name.to_owned(), v.to_owned());
            }
            None => {
                jar.remove(name);
            }
        }
    }

    /// Sends `name: value` with every later request.
    pub fn always_send(&self, name: &str, value: &str) {
        self.extra
            .lock()
            .unwrap()
            .push((name.to_owned(), value.to_owned()));
    }

    /// The CSRF token of the last page with a form (panics when none was seen).
    pub fn csrf(&self) -> String {
        self.csrf
            .lock()
            .unwrap()
            .clone()
            .expect("no page with a form was fetched yet")
    }

    /// Forgets the remembered CSRF token.
    pub fn forget_csrf(&self) {
        *self.csrf.lock().unwrap() = None;
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        self.try_send(req).await.expect("the request is answered")
    }

    async fn try_send(&self, req: reqwest::RequestBuilder) -> reqwest::Result<Page> {
        let cookies = {
            let jar = self.jar.lock().unwrap();
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut req = req;
        if !cookies.is_empty() {
            req = req.header("cookie", cookies);
        }
        for (k, v) in self.extra.lock().unwrap().iter() {
            req = req.header(k.as_str(), v.as_str());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        {
            let mut jar = self.jar.lock().unwrap();
            for v in headers.get_all("set-cookie") {
                let v = v.to_str().expect("ASCII cookie");
                let Some((name, rest)) = v.split_once('=') else {
                    continue;
                };
                let value = rest.split(';').next().unwrap_or("").trim();
                let expired = v.to_ascii_lowercase().contains("max-age=0");
                if expired || value.is_empty() {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        let body = res.text().await?;
        let page = Page {
            status,
            headers,
            body,
        };
        if let Some(token) = page.csrf() {
            *self.csrf.lock().unwrap() = Some(token);
        }
        Ok(page)
    }

    /// `POST path` with a url-encoded form of `fields` (and the remembered CSRF token) over
    /// the body limit, and asserts it was refused: the server answers 413 and stops reading,
    /// so the client may see its upload cut off instead, which is a refusal too.
    pub async fn post_too_large(&self, path: &str, fields: &[(&str, &str)]) {
        let csrf = self.csrf.lock().unwrap().clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(&all));
        match self.try_send(req).await {
            Ok(page) => assert_eq!(page.status, 413, "not refused: {}", page.body),
            Err(e) => assert!(e.is_request() || e.is_body(), "the upload was cut off: {e}"),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a url-encoded form of `fields` and the remembered CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.lock().unwrap().clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &encode(&all)).await
    }

    /// `POST path` with a url-encoded form of exactly `fields` (no token added).
    pub async fn post_form_without_csrf(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_raw(path, &encode(fields)).await
    }

    /// `POST path` with a url-encoded body as given.
    pub async fn post_raw(&self, path: &str, body: &str) -> Page {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.to_owned()),
        )
        .await
    }

    /// Signs in through `/app/login` (fetching the form first for its token).
    pub async fn login(&self, email: &str, password: &str) -> Page {
        let form = self.get("/app/login").await;
        assert_eq!(form.status, 200, "the sign-in form: {}", form.body);
        self.post_form("/app/login", &[("email", email), ("password", password)])
            .await
    }
}

/// `fields` url-encoded.
pub fn encode(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
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
