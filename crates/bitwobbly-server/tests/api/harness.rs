//! A database per test, the API router over it, requests and fixtures.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bitwobbly_server::config::Config;
use bitwobbly_server::{AppState, Clock, api};
use bitwobbly_store::prelude::*;
pub(crate) use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::db::TestDatabase;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

// === databases ===

/// Runs `test` on a store over a fresh database of `backend` (dropped or deleted
/// afterwards).
pub(crate) async fn with_store(backend: Backend, test: impl AsyncFnOnce(&Store)) {
    let db = TestDatabase::create(backend, "api").await;
    let store = Store::open(db.url()).await.expect("open the store");
    test(&store).await;
    store.close().await;
    db.finish().await;
}

/// Runs each listed `async fn(&Store)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!(crate::harness::with_store; $($name),+);
    };
}
pub(crate) use both;

// === the API ===

/// The API router over a test database, mounted at `/api/v1` as the server does.
pub(crate) struct Api {
    app: Router,
    state: AppState,
    /// The data directory of [`Api::default_config`] (blobs), removed on drop.
    _data: Option<tempfile::TempDir>,
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
            .with_state(state.clone());
        Self {
            app,
            state,
            _data: None,
        }
    }

    /// The API over `store` with the default configuration, its data directory (blobs) in a
    /// temporary directory.
    pub(crate) fn default_config(store: &Store) -> Self {
        let data = tempfile::tempdir().expect("a data directory");
        let mut config = Config::default();
        config.data_dir = data.path().to_path_buf();
        let mut api = Self::new(store, config);
        api._data = Some(data);
        api
    }

    /// The server state behind the router (its blob store, configuration, ...).
    pub(crate) fn state(&self) -> &AppState {
        &self.state
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

    /// `POST /workspaces/<slug>/monitors` as a member, without a body yet.
    pub(crate) fn post_monitors(&self) -> Call {
        Call::post(&self.path("/monitors")).bearer(&self.member_token)
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

/// Creates an HTTP monitor `name` against `url` in `t`'s workspace, as a member; its JSON.
pub(crate) async fn create_monitor(api: &Api, t: &Tenant, name: &str, url: &str) -> Value {
    api.call(t.post_monitors().json(&http_monitor(name, url)))
        .await
        .ok(201)
}

/// `POST /auth/login` with `email` and `password`.
pub(crate) fn login(email: &str, password: &str) -> Call {
    Call::post("/auth/login").json(&serde_json::json!({"email": email, "password": password}))
}

/// The session cookie's `name=value` from a `Set-Cookie` answer.
pub(crate) fn cookie_of(resp: &Resp) -> String {
    let set = resp.header("set-cookie").expect("a Set-Cookie header");
    set.split(';').next().expect("name=value").to_owned()
}
