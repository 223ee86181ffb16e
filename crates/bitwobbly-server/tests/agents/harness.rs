//! A server on a real loopback listener over a fresh database, a workspace with an owner
//! token, and HTTP helpers for the API and the agent protocol.

use std::time::Duration;

use bitwobbly_core::{CheckReport, Status, Timings};
use bitwobbly_server::Config;
use bitwobbly_server::server::Server;
use bitwobbly_store::prelude::*;
pub(crate) use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::db::TestDatabase;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long any request may take before a test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// A running server with a workspace `slug` and its owner's API token.
pub(crate) struct Env {
    pub(crate) base: String,
    pub(crate) state: bitwobbly_server::AppState,
    pub(crate) http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    tasks: JoinSet<Result<(), bitwobbly_server::server::ServerError>>,
    db: Option<TestDatabase>,
}

/// A workspace and an owner API token for it.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub(crate) slug: String,
    pub(crate) id: WorkspaceId,
    pub(crate) token: String,
}

/// An answer, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) etag: Option<String>,
    pub(crate) body: Value,
}

impl Answer {
    /// Asserts the status; returns the body.
    #[track_caller]
    pub(crate) fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        &self.body
    }

    /// Asserts the status and the error shape's code.
    #[track_caller]
    pub(crate) fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            (self.status, self.body["error"]["code"].as_str()),
            (status, Some(code)),
            "unexpected answer: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "no message: {}",
            self.body
        );
        &self.body["error"]
    }
}

impl Env {
    /// A server on a fresh database of `backend`.
    pub(crate) async fn start(backend: Backend) -> Self {
        let db = TestDatabase::create(backend, "agents").await;
        let mut c = Config::default();
        c.listen = "127.0.0.1:0".parse().expect("address");
        c.data_dir = db.dir().join("data");
        c.database_url = db.postgres_url().map(str::to_owned);
        c.shutdown_grace = Duration::from_secs(5);
        c.scheduler.poll_interval = Duration::from_millis(100);
        let server = Server::bind(c).await.expect("the server binds");
        let base = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut tasks = JoinSet::new();
        tasks.spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(DEADLINE)
            .build()
            .expect("a client");
        Self {
            base,
            state,
            http,
            stop: Some(stop),
            tasks,
            db: Some(db),
        }
    }

    /// A new workspace with an owner token.
    pub(crate) async fn tenant(&self, slug: &str) -> Tenant {
        let now = self.state.clock.now();
        let ws = self
            .state
            .store
            .global()
            .create_workspace(slug, slug, now)
            .await
            .expect("workspace");
        let (_, secret) = self
            .state
            .store
            .workspace(ws.id)
            .create_api_token("owner", Role::Owner, None, now, None)
            .await
            .expect("token");
        Tenant {
            slug: slug.to_owned(),
            id: ws.id,
            token: secret.expose().to_owned(),
        }
    }

    /// A request with an optional bearer token, JSON body and extra headers.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.read(req).await
    }

    /// A request with a raw body (sent as JSON).
    pub(crate) async fn raw(&self, path: &str, token: &str, body: Vec<u8>) -> Answer {
        let req = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        self.read(req).await
    }

    async fn read(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("the request is answered");
        let status = res.status().as_u16();
        let etag = res
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)))
        };
        Answer { status, etag, body }
    }

    /// Creates a location in `t` and an agent token for it; returns the secret.
    pub(crate) async fn agent_token(&self, t: &Tenant, location: &str) -> String {
        let ws = &t.slug;
        let made = self
            .call(
                reqwest::Method::POST,
                &format!("/workspaces/{ws}/locations"),
                Some(&t.token),
                Some(json!({ "name": location })),
                &[],
            )
            .await;
        assert!(
            made.status == 201 || made.status == 409,
            "creating a location: {made:?}"
        );
        let token = self
            .call(
                reqwest::Method::POST,
                &format!("/workspaces/{ws}/locations/{location}/tokens"),
                Some(&t.token),
                Some(json!({ "name": format!("{location} agent") })),
                &[],
            )
            .await;
        token.ok(201)["secret"]
            .as_str()
            .expect("a secret")
            .to_owned()
    }

    /// Creates an HTTP monitor in `t` run at `locations`, with `extra` fields merged in;
    /// returns its id.
    pub(crate) async fn monitor(&self, t: &Tenant, locations: &[&str], extra: Value) -> i64 {
        let mut body = json!({
            "name": "api",
            "spec": {"type": "http", "url": "http://127.0.0.1:9/health"},
            "schedule": {"interval": "1h"},
            "locations": locations,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let made = self
            .call(
                reqwest::Method::POST,
                &format!("/workspaces/{}/monitors", t.slug),
                Some(&t.token),
                Some(body),
                &[],
            )
            .await;
        made.ok(201)["id"].as_i64().expect("an id")
    }

    /// Says hello as an agent of `location`.
    pub(crate) async fn hello(&self, token: &str, location: &str, agent_id: &str) -> Answer {
        self.call(
            reqwest::Method::POST,
            "/agent/hello",
            Some(token),
            Some(json!({
                "location": location,
                "agent_id": agent_id,
                "version": "0.1.0",
                "protocol": 1,
            })),
            &[],
        )
        .await
    }

    /// Sends results `(seq, monitor, status, started_at)` as `agent_id`.
    pub(crate) async fn send(
        &self,
        token: &str,
        agent_id: &str,
        results: &[(u64, i64, Status, OffsetDateTime)],
    ) -> Answer {
        let results: Vec<Value> = results
            .iter()
            .map(|(seq, monitor, status, at)| {
                json!({
                    "seq": seq,
                    "monitor_id": monitor,
                    "started_at_ms": (at.unix_timestamp_nanos() / 1_000_000) as i64,
                    "report": report(*status, *at),
                })
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/agent/results",
            Some(token),
            Some(json!({ "agent_id": agent_id, "results": results })),
            &[],
        )
        .await
    }

    /// The incidents of a monitor, newest first, with their updates' messages.
    pub(crate) async fn incidents(&self, t: &Tenant, monitor: i64) -> Vec<(Incident, Vec<String>)> {
        let mut s = self.state.store.workspace(t.id);
        let list = s
            .incidents_for_monitor(MonitorId(monitor), 100)
            .await
            .expect("incidents");
        let mut out = Vec::new();
        for i in list {
            let updates = s
                .incident_updates(i.id)
                .await
                .expect("updates")
                .into_iter()
                .map(|u| u.message)
                .collect();
            out.push((i, updates));
        }
        out
    }

    /// Stops the server and drops the database.
    pub(crate) async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = tokio::time::timeout(DEADLINE, self.tasks.join_next())
            .await
            .expect("the server stops in time");
        done.expect("a server task")
            .expect("the task ran")
            .expect("the server stopped cleanly");
        self.state.store.close().await;
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }
}

/// A check report as an agent sends it.
pub(crate) fn report(status: Status, at: OffsetDateTime) -> CheckReport {
    CheckReport {
        kind: "http".into(),
        target: "http://127.0.0.1:9/health".into(),
        status,
        reason: (status != Status::Up).then(|| "connection refused".to_owned()),
        started_at: at,
        timings: Timings {
            total: Duration::from_millis(3),
            ..Timings::default()
        },
        remote_addr: None,
        error: None,
        http: None,
        tls: None,
        dns: None,
        tcp: None,
        assertions: Vec::new(),
    }
}

/// Runs a test on a server over a fresh database of `backend` (the test ends with
/// [`Env::finish`]).
pub(crate) async fn run<F: Future<Output = ()>>(backend: Backend, test: impl FnOnce(Env) -> F) {
    test(Env::start(backend).await).await;
}

/// Runs each listed `async fn(Env)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!($crate::harness::run; $($name),+);
    };
}
pub(crate) use both;
