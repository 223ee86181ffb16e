//! A running server with a workspace, a project and a DSN key, and helpers to post to it and
//! read back what it stored.

use bitwobbly_server::Config;
use bitwobbly_store::prelude::*;
use bytes::Bytes;

use crate::harness::{Backend, Running, TestDb, client};

/// A 32-hex event id used by the sample envelopes.
pub(crate) const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

/// A small error envelope as SDKs send it (explicit lengths, final newline).
pub(crate) fn error_envelope(event_id: &str) -> Vec<u8> {
    let payload = format!(
        "{{\"event_id\":\"{event_id}\",\"level\":\"error\",\"platform\":\"python\",\
         \"exception\":{{\"values\":[{{\"type\":\"ValueError\",\"value\":\"bad input 42\"}}]}}}}"
    );
    format!(
        "{{\"event_id\":\"{event_id}\",\"sent_at\":\"2025-01-01T00:00:00Z\"}}\n\
         {{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

/// A server, its database, and one workspace with a project and an active key.
pub(crate) struct Env {
    pub(crate) db: TestDb,
    pub(crate) server: Running,
    pub(crate) ws: WorkspaceId,
    pub(crate) project: Project,
    pub(crate) key: DsnKey,
    pub(crate) http: reqwest::Client,
}

impl Env {
    /// A server on `backend` with processing off (envelopes stay as the endpoint stored
    /// them) and `tweak` applied to its configuration.
    pub(crate) async fn start(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let mut config = db.config();
        config.ingest.processing.enabled = false;
        config.scheduler.enabled = false;
        tweak(&mut config);
        let server = Running::start(config).await;
        let store = &server.state.store;
        let now = server.state.clock.now();
        let ws = store
            .global()
            .create_workspace("acme", "Acme", now)
            .await
            .expect("workspace")
            .id;
        let (project, key) = new_project(store, ws, "web", now).await;
        Self {
            db,
            server,
            ws,
            project,
            key,
            http: client(),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.server.state.store
    }

    /// `/api/<this project>/<endpoint>/`.
    pub(crate) fn url(&self, endpoint: &str) -> String {
        self.server
            .url(&format!("/api/{}/{endpoint}/", self.project.id.0))
    }

    /// An `X-Sentry-Auth` value for this key.
    pub(crate) fn auth(&self) -> String {
        x_sentry_auth(&self.key.public_key)
    }

    /// This project's DSN.
    pub(crate) fn dsn(&self) -> String {
        format!(
            "{}/{}",
            self.server
                .base
                .replacen("://", &format!("://{}@", self.key.public_key), 1),
            self.project.id.0
        )
    }

    /// Posts `body` to the envelope endpoint with `X-Sentry-Auth`.
    pub(crate) async fn post(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url("envelope"))
            .header("x-sentry-auth", self.auth())
            .body(body)
            .send()
            .await
            .expect("the request is answered")
    }

    /// Every stored envelope of this database, by id order: (manifest, raw bytes).
    pub(crate) async fn stored(&self) -> Vec<(Envelope, Bytes)> {
        stored_envelopes(self.store(), self.server.state.blobs.as_ref(), self.ws).await
    }

    pub(crate) async fn finish(self) {
        self.server.stop().await;
        self.db.finish().await;
    }
}

/// `Sentry sentry_key=<key>, sentry_version=7, sentry_client=...`.
pub(crate) fn x_sentry_auth(key: &str) -> String {
    format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=bitwobbly-test/1.0")
}

/// A project with one active key in workspace `ws`.
pub(crate) async fn new_project(
    store: &Store,
    ws: WorkspaceId,
    slug: &str,
    now: Timestamp,
) -> (Project, DsnKey) {
    let mut scope = store.workspace(ws);
    let project = scope
        .create_project(slug, slug, Some("python"), now)
        .await
        .expect("project");
    let key = scope
        .create_dsn_key(project.id, "default", None, now)
        .await
        .expect("key");
    (project, key)
}

/// Every envelope stored in `ws` (ids are dense from 1 in a fresh database; the scan stops
/// after a run of missing ids).
pub(crate) async fn stored_envelopes(
    store: &Store,
    blobs: &dyn bitwobbly_store::blob::BlobStore,
    ws: WorkspaceId,
) -> Vec<(Envelope, Bytes)> {
    let mut out = Vec::new();
    let mut missing = 0;
    let mut id = 1;
    while missing < 64 {
        match store
            .workspace(ws)
            .envelope(EnvelopeId(id))
            .await
            .expect("read a manifest")
        {
            Some(env) => {
                missing = 0;
                let raw = store
                    .global()
                    .envelope_body(env.id, blobs)
                    .await
                    .expect("read the body")
                    .expect("the body exists");
                out.push((env, raw));
            }
            None => missing += 1,
        }
        id += 1;
    }
    out
}

/// Asserts the CORS headers every ingest response carries.
#[track_caller]
pub(crate) fn assert_cors(res: &reqwest::Response) {
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "*", "{h:?}");
    let exposed = h["access-control-expose-headers"].to_str().unwrap();
    for name in ["x-sentry-error", "x-sentry-rate-limits", "retry-after"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
}

/// Asserts a refusal: status, error code, CORS, `X-Sentry-Error`, and no rate-limit headers
/// unless it is a 429.
pub(crate) async fn assert_refused(res: reqwest::Response, status: u16, code: &str) {
    assert_eq!(res.status().as_u16(), status, "{:?}", res.headers());
    assert_cors(&res);
    assert!(res.headers().contains_key("x-sentry-error"));
    if status != 429 {
        assert!(!res.headers().contains_key("retry-after"));
        assert!(!res.headers().contains_key("x-sentry-rate-limits"));
    }
    let body: serde_json::Value = res.json().await.expect("a JSON error body");
    assert_eq!(crate::harness::error_code(&body), code, "{body}");
}

/// Asserts a 200 answer with `{"id": id}` (or `{}` for `None`), CORS and no rate-limit
/// headers.
pub(crate) async fn assert_accepted(res: reqwest::Response, id: Option<&str>) {
    assert_eq!(res.status().as_u16(), 200, "{:?}", res.headers());
    assert_cors(&res);
    assert!(!res.headers().contains_key("retry-after"));
    assert!(!res.headers().contains_key("x-sentry-rate-limits"));
    assert!(!res.headers().contains_key("content-encoding"));
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: serde_json::Value = res.json().await.expect("a JSON body");
    match id {
        Some(id) => assert_eq!(body, serde_json::json!({ "id": id })),
        None => assert_eq!(body, serde_json::json!({})),
    }
}

/// Sends raw bytes over a new TCP connection and returns the response status and its whole
/// text (the request should say `Connection: close`). With `hang_up`, the client closes its
/// sending side after the request (a client that gives up mid-body). A connection the server
/// closes without an answer gives status 0.
pub(crate) async fn raw_http(base: &str, request: &[u8], hang_up: bool) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = base.trim_start_matches("http://");
    let conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = conn.into_split();
    let request = request.to_vec();
    // Write while reading: the server may answer (and close) before taking the whole body.
    let mut writing = tokio::task::JoinSet::new();
    writing.spawn(async move {
        let _ = writer.write_all(&request).await;
        if hang_up {
            let _ = writer.shutdown().await;
        }
        writer
    });
    let mut out = Vec::new();
    let read = tokio::time::timeout(crate::harness::DEADLINE, async {
        let mut chunk = [0u8; 8192];
        // A reset after the answer still leaves the answer.
        while let Ok(n) = reader.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the server answers or closes in time");
    drop(writing.join_all().await);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Asserts that the server still answers: health is fine and a good envelope is accepted.
pub(crate) async fn assert_healthy(env: &Env) {
    let res = env
        .http
        .get(env.server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_accepted(env.post(error_envelope(EVENT_ID)).await, Some(EVENT_ID)).await;
}
