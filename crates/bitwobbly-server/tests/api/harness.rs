//! A database per test, the API router over it, requests and fixtures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bitwobbly_server::config::Config;
use bitwobbly_server::{AppState, Clock, api};
use bitwobbly_store::prelude::*;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

// === databases ===

/// A database made for one test; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn pg_admin_url() -> String {
    std::env::var("BITWOBBLY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("postgres url with a database");
    format!("{base}/{db}")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::open(&url).await.expect("open sqlite");
        Self {
            store,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub(crate) async fn postgres() -> Self {
        use sqlx::Connection as _;
        let admin = pg_admin_url();
        let name = format!(
            "bw_api_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            Clock.now().as_millis() % 1_000_000
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is needed for these tests at {admin}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let store = Store::open_with(
            &with_database(&admin, &name),
            StoreOptions::default().max_connections(8),
        )
        .await
        .expect("open postgres");
        Self {
            store,
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub(crate) async fn finish(mut self) {
        self.store.close().await;
        if let Some(name) = self.pg_name.take() {
            drop_pg(&name).await;
        }
    }
}

async fn drop_pg(name: &str) {
    use sqlx::Connection as _;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A failed test never reached `finish`: drop its database from a helper thread.
        if let Some(name) = self.pg_name.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg(&name));
                }
            })
            .join();
        }
    }
}

/// Runs each listed `async fn(&TestDb)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::harness::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::harness::TestDb::postgres().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )+
        }
    };
}
pub(crate) use both;

// === the API ===

/// The API router over a test database, mounted at `/api/v1` as the server does.
pub(crate) struct Api {
    app: Router,
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    /// The body as JSON (`null` when empty).
    pub(crate) fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the status and the error shape's code; returns the error object.
    #[track_caller]
    pub(crate) fn error(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!(
            (self.status.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "unexpected answer: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without a message: {body}"
        );
        body["error"].clone()
    }

    /// Asserts a success status; returns the JSON body.
    #[track_caller]
    pub(crate) fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request to build.
pub(crate) struct Call {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    pub(crate) fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: format!("/api/v1{path}"),
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub(crate) fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub(crate) fn put(path: &str) -> Self {
        Self::new(Method::PUT, path)
    }

    pub(crate) fn patch(path: &str) -> Self {
        Self::new(Method::PATCH, path)
    }

    pub(crate) fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub(crate) fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn json(mut self, v: &Value) -> Self {
        self.body = Some(serde_json::to_vec(v).expect("json"));
        self.header("content-type", "application/json")
    }

    pub(crate) fn raw(mut self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        match content_type {
            Some(ct) => self.header("content-type", ct),
            None => self,
        }
    }
}

impl Api {
    /// The API over `store` with `config`.
    pub(crate) fn new(store: &Store, config: Config) -> Self {
        let state = AppState::new(store.clone(), config, "api-test".to_owned());
        let app = Router::new()
            .nest("/api/v1", api::router())
            .with_state(state);
        Self { app }
    }

    /// The API over `store` with the default configuration.
    pub(crate) fn default_config(store: &Store) -> Self {
        Self::new(store, Config::default())
    }

    /// Sends a request as if from `127.0.0.1:40000`.
    pub(crate) async fn call(&self, call: Call) -> Resp {
        self.call_from(call, SocketAddr::from(([127, 0, 0, 1], 40000)))
            .await
    }

    /// Sends a request as if from `addr`.
    pub(crate) async fn call_from(&self, call: Call, addr: SocketAddr) -> Resp {
        let mut req = Request::builder().method(call.method).uri(&call.path);
        req = req.header(header::HOST, "127.0.0.1:8080");
        for (n, v) in &call.headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let mut req = req
            .body(call.body.map_or_else(Body::empty, Body::from))
            .expect("request");
        req.extensions_mut().insert(ConnectInfo(addr));
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("body").to_bytes().to_vec();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

// === fixtures ===

/// A workspace with a user of each role and a token of each role.
pub(crate) struct Tenant {
    pub(crate) ws: Workspace,
    pub(crate) owner: User,
    pub(crate) owner_token: String,
    pub(crate) admin_token: String,
    pub(crate) member_token: String,
    pub(crate) viewer_token: String,
}

impl Tenant {
    /// The token acting with `role`.
    pub(crate) fn token(&self, role: Role) -> &str {
        match role {
            Role::Owner => &self.owner_token,
            Role::Admin => &self.admin_token,
            Role::Member => &self.member_token,
            _ => &self.viewer_token,
        }
    }

    /// `/workspaces/<slug><rest>`.
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/workspaces/{}{rest}", self.ws.slug)
    }
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Creates a workspace `slug` whose owner is `<slug>@example.com`, with tokens of every role.
pub(crate) async fn tenant(store: &Store, slug: &str) -> Tenant {
    let now = Clock.now();
    let ws = store
        .global()
        .create_workspace(slug, &format!("Workspace {slug}"), now)
        .await
        .expect("workspace");
    let owner = store
        .global()
        .create_user(&format!("{slug}@example.com"), slug, PASSWORD, now)
        .await
        .expect("user");
    store
        .workspace(ws.id)
        .set_member(owner.id, Role::Owner, now)
        .await
        .expect("member");
    let mut tokens = Vec::new();
    for role in [Role::Owner, Role::Admin, Role::Member, Role::Viewer] {
        let (_, secret) = store
            .workspace(ws.id)
            .create_api_token(&format!("{role}"), role, Some(owner.id), now, None)
            .await
            .expect("token");
        tokens.push(secret.expose().to_owned());
    }
    let [owner_token, admin_token, member_token, viewer_token] =
        <[String; 4]>::try_from(tokens).expect("four tokens");
    Tenant {
        ws,
        owner,
        owner_token,
        admin_token,
        member_token,
        viewer_token,
    }
}

/// An HTTP monitor's input against `url`.
pub(crate) fn http_monitor(name: &str, url: &str) -> Value {
    serde_json::json!({
        "name": name,
        "spec": {"type": "http", "url": url},
        "schedule": {"type": "interval", "every": "30s"},
    })
}

/// The session cookie's `name=value` from a `Set-Cookie` answer.
pub(crate) fn cookie_of(resp: &Resp) -> String {
    let set = resp.header("set-cookie").expect("a Set-Cookie header");
    set.split(';').next().expect("name=value").to_owned()
}
