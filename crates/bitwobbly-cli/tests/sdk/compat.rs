//! Both SDKs against one `bitwobbly serve`, each into its own project, everything asserted
//! through the query API.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use bitwobbly_store::api::{AccountStore as _, IngestQueue as _, IngestStore as _};
use bitwobbly_store::blob::FsBlobStore;
use bitwobbly_store::types::{EnvelopeId, WorkspaceId};

use crate::harness::{self, Backend, DEADLINE, Db, Node, admin_token};
use crate::sdks::{self, Sdk, Sent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sdks_on_sqlite() {
    real_sdks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sdks_on_postgres() {
    real_sdks(Backend::Postgres).await;
}

/// How long a cron monitor may take to be judged missed, from when the test starts waiting:
/// its schedule is one minute with no margin (the scripts check in first thing), then the
/// scheduler's next pass.
const MISSED_DEADLINE: Duration = Duration::from_secs(150);

async fn real_sdks(backend: Backend) {
    sdks::require_installed().await;
    let db = Db::new(backend).await;
    let token = admin_token(&db, "ops@example.com", "acme").await;
    let node = Node::start(&db, &[]).await;

    let python_dsn = create_project(&node, &token, "Python app").await;
    let node_dsn = create_project(&node, &token, "Node app").await;
    let (python, node_sdk) = tokio::join!(
        sdks::run(Sdk::Python, &python_dsn),
        sdks::run(Sdk::Node, &node_dsn)
    );

    for (sent, dsn) in [(&python, &python_dsn), (&node_sdk, &node_dsn)] {
        let project = Project::new(&node, &token, dsn);
        errors_group_into_issues(&project, sent).await;
        stack_traces_and_chains(&project, sent).await;
        attachment_bytes_are_identical(&project, sent).await;
        transactions_have_durations(&project, sent).await;
        sessions_give_release_health(&project, sent).await;
        check_ins_are_recorded(&project, sent).await;
        feedback_is_attached(&project, sent).await;
        logs_are_kept(&db, &project, sent).await;
    }
    for (sent, dsn) in [(&python, &python_dsn), (&node_sdk, &node_dsn)] {
        missed_check_in_turns_the_monitor_down(&Project::new(&node, &token, dsn), sent).await;
    }
    let logs = node.logs();
    assert!(
        !logs.contains("\"level\":\"ERROR\""),
        "the server logged errors:\n{logs}"
    );
    db.finish().await;
}

/// Creates a project through the API and returns its DSN. The server listens on port 0, so
/// the DSN's host (built from `public_url`, by default the listen address) is replaced by the
/// address it bound.
async fn create_project(node: &Node, token: &str, name: &str) -> String {
    let res = harness::client()
        .post(node.url("/api/v1/workspaces/acme/projects"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .expect("create a project");
    assert_eq!(res.status(), StatusCode::CREATED);
    let project: Value = res.json().await.expect("a project");
    let dsn = project["dsn"].as_str().expect("a DSN");
    let (key, rest) = dsn
        .strip_prefix("http://")
        .and_then(|d| d.split_once('@'))
        .unwrap_or_else(|| panic!("not an http DSN: {dsn}"));
    let id = rest.rsplit('/').next().expect("a project id");
    assert_eq!(id, project["id"].to_string(), "{dsn}");
    format!("http://{key}@{}/{id}", node.addr)
}

/// One project's view of the query API, as the workspace owner.
struct Project {
    id: i64,
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Project {
    fn new(node: &Node, token: &str, dsn: &str) -> Self {
        let id = dsn.rsplit('/').next().expect("a project id");
        Self {
            id: id.parse().expect("a numeric project id"),
            http: harness::client(),
            base: node.url(&format!("/api/v1/workspaces/acme/projects/{id}")),
            token: token.to_owned(),
        }
    }

    async fn try_get(&self, path: &str) -> (StatusCode, bytes::Bytes) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("API request");
        (res.status(), res.bytes().await.expect("API body"))
    }

    /// A JSON answer that must be 200.
    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.try_get(path).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("a JSON answer")
    }

    /// The event, once processing has stored it.
    async fn event(&self, event_id: &str) -> Value {
        let path = format!("/events/{event_id}");
        poll(&format!("event {event_id}"), || async {
            let (status, body) = self.try_get(&path).await;
            (status == StatusCode::OK).then(|| serde_json::from_slice(&body).expect("JSON"))
        })
        .await
    }

    /// An issue, with its latest events.
    async fn issue(&self, id: i64) -> Value {
        self.get(&format!("/issues/{id}")).await
    }
}

/// Polls `f` until it gives a value, failing the test after the harness's deadline.
async fn poll<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn issue_id(event: &Value) -> i64 {
    event["issue_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an event with an issue: {event}"))
}

fn items(v: Value) -> Vec<Value> {
    v.as_array()
        .cloned()
        .or_else(|| v["items"].as_array().cloned())
        .unwrap_or_else(|| panic!("a list: {v}"))
}

/// What each SDK's script raised, as the issue titles must show it.
struct Expect {
    same_error_title: &'static str,
    other_error_title: &'static str,
    message_title: &'static str,
    chained: [&'static str; 2],
    frames: [&'static str; 3],
}

fn expect(sdk: Sdk) -> Expect {
    match sdk {
        Sdk::Python => Expect {
            same_error_title: "ValueError: boom for order",
            other_error_title: "ZeroDivisionError: division by zero",
            message_title: "py message: cache warmed",
            chained: ["KeyError", "RuntimeError"],
            frames: ["handle_request", "process_order", "validate_order"],
        },
        Sdk::Node => Expect {
            same_error_title: "TypeError: cart",
            other_error_title: "RangeError: quota x out of range",
            message_title: "node message: cache warmed",
            chained: ["SyntaxError", "Error"],
            frames: ["handleCheckout", "priceCart", "validateCart"],
        },
    }
}

/// The same error twice is one issue counted twice; a different error and a message are
/// issues of their own, each with the right title.
async fn errors_group_into_issues(project: &Project, sent: &Sent) {
    let want = expect(sent.sdk);
    let [first, second] = sent.same_error();
    let (a, b) = (project.event(&first).await, project.event(&second).await);
    assert_eq!(
        issue_id(&a),
        issue_id(&b),
        "{:?}: same error, two issues",
        sent.sdk
    );
    let id = issue_id(&a);
    let issue = poll("the repeated issue's count of 2", || async move {
        let issue = project.issue(id).await;
        (issue["count"] == 2).then_some(issue)
    })
    .await;
    let title = issue["title"].as_str().expect("a title");
    assert!(
        title.starts_with(want.same_error_title),
        "{:?}: {issue}",
        sent.sdk
    );
    assert_eq!(issue["level"], "error", "{issue}");
    assert_eq!(issue["status"], "unresolved", "{issue}");

    let other = project.event(&sent.str("other_error")).await;
    assert_ne!(
        issue_id(&other),
        id,
        "{:?}: two errors, one issue",
        sent.sdk
    );
    let other_issue = project.issue(issue_id(&other)).await;
    assert_eq!(
        other_issue["title"], want.other_error_title,
        "{other_issue}"
    );
    assert_eq!(other_issue["count"], 1, "{other_issue}");

    let message = project.event(&sent.str("message")).await;
    let message_issue = project.issue(issue_id(&message)).await;
    assert_eq!(
        message_issue["title"], want.message_title,
        "{message_issue}"
    );
    assert_eq!(message_issue["level"], "warning", "{message_issue}");
    let ids = [id, issue_id(&other), issue_id(&message)];
    assert!(ids[1] != ids[2] && ids[0] != ids[2], "{ids:?}");

    // The list shows them, filtered by release and searchable by title.
    let listed = items(
        project
            .get(&format!(
                "/issues?release={}&sort=count",
                sent.str("release")
            ))
            .await,
    );
    let listed_ids: Vec<i64> = listed.iter().filter_map(|i| i["id"].as_i64()).collect();
    for want in ids {
        assert!(listed_ids.contains(&want), "{want} not in {listed_ids:?}");
    }
    assert_eq!(
        listed[0]["id"], id,
        "sorted by count, the repeated issue first"
    );
}

/// Events keep their exception chain and in-app frames, innermost call last.
async fn stack_traces_and_chains(project: &Project, sent: &Sent) {
    let want = expect(sent.sdk);
    let event = project.event(&sent.same_error()[0]).await;
    let chain = exceptions(&event);
    let frames = chain
        .last()
        .and_then(|e| e["frames"].as_array())
        .unwrap_or_else(|| panic!("{:?}: no frames in {event}", sent.sdk));
    let in_app: Vec<&str> = frames
        .iter()
        .filter(|f| f["in_app"] == true)
        .filter_map(|f| f["function"].as_str())
        .collect();
    let pos = |name: &str| in_app.iter().position(|f| *f == name);
    let [outer, middle, inner] = want.frames.map(pos);
    assert!(
        outer.is_some() && outer < middle && middle < inner,
        "{:?}: in-app frames {in_app:?}",
        sent.sdk
    );

    let chained = project.event(&sent.str("chained")).await;
    let chain = exceptions(&chained);
    let types: Vec<&str> = chain.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, want.chained, "{:?}: {chained}", sent.sdk);
}

fn exceptions(event: &Value) -> Vec<Value> {
    event["payload"]["exceptions"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("an event with exceptions: {event}"))
}

/// The attachment downloads with exactly the bytes the SDK attached.
async fn attachment_bytes_are_identical(project: &Project, sent: &Sent) {
    let event_id = sent.str("attachment_event");
    project.event(&event_id).await;
    let list = items(
        project
            .get(&format!("/events/{event_id}/attachments"))
            .await,
    );
    assert_eq!(list.len(), 1, "{list:?}");
    let name = match sent.sdk {
        Sdk::Python => "py-blob.bin",
        Sdk::Node => "node-blob.bin",
    };
    assert_eq!(list[0]["name"], name, "{list:?}");
    let id = list[0]["id"].as_i64().expect("an attachment id");
    let (status, bytes) = project.try_get(&format!("/attachments/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bytes.as_ref(),
        sent.attachment().as_slice(),
        "{:?}: attachment bytes differ",
        sent.sdk
    );
}

/// The transaction is listed by name with its duration (its spans slept 70 ms).
async fn transactions_have_durations(project: &Project, sent: &Sent) {
    let name = sent.out["transaction"]["name"].as_str().expect("a name");
    let row = poll(&format!("transaction {name}"), || async {
        let list = project.get("/transactions?period=24h").await;
        let list = list["transactions"].as_array().cloned().unwrap_or_default();
        list.into_iter().find(|t| t["name"] == name)
    })
    .await;
    assert_eq!(row["count"], 1, "{row}");
    assert_eq!(row["failures"], 0, "{row}");
    let p50 = row["p50_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("a p50 in {row}"));
    assert!(
        p50 >= 70.0,
        "{:?}: p50 {p50} ms, the spans slept 70 ms",
        sent.sdk
    );
}

/// Release health: Python's request-mode aggregates (3 clean, 1 errored, 1 crashed) and
/// Node's sessions (the process session errored, one crashed, one clean; one user each).
async fn sessions_give_release_health(project: &Project, sent: &Sent) {
    let release = sent.str("release");
    let (started, crashed, errored) = match sent.sdk {
        Sdk::Python => (5, 1, 1),
        Sdk::Node => (3, 1, 1),
    };
    let row = poll(&format!("sessions of {release}"), || async {
        let list = items(project.get("/releases?period=24h").await);
        list.into_iter()
            .find(|r| r["release"] == release.as_str() && r["sessions"] == started)
    })
    .await;
    assert_eq!(row["crashed"], crashed, "{:?}: {row}", sent.sdk);
    assert_eq!(row["errored"], errored, "{:?}: {row}", sent.sdk);
    assert_eq!(
        row["exited"],
        started - crashed - errored,
        "{:?}: {row}",
        sent.sdk
    );
    assert_eq!(row["environment"], sent.str("environment"), "{row}");
    let rate = row["crash_free_sessions_percent"].as_f64().expect("a rate");
    let want = 100.0 * (1.0 - f64::from(crashed) / f64::from(started));
    assert!((rate - want).abs() < 0.01, "{:?}: {row}", sent.sdk);
    if sent.sdk == Sdk::Node {
        // Three users (session `did`s), one of whom crashed.
        assert_eq!(row["users"], 3, "{row}");
        let users = row["crash_free_users_percent"]
            .as_f64()
            .expect("a user rate");
        assert!((users - 66.67).abs() < 0.01, "{row}");
    }
}

/// An upserted monitor's check-in goes in_progress then ok; a failing job's ends in error.
/// Each is ONE check-in, updated in place by its closing update (Sentry semantics), with the
/// closing update's duration.
async fn check_ins_are_recorded(project: &Project, sent: &Sent) {
    let prefix = match sent.sdk {
        Sdk::Python => "py",
        Sdk::Node => "node",
    };
    let mut finished = Vec::new();
    for (slug, status) in [("nightly", "ok"), ("hourly", "error")] {
        let slug = format!("{prefix}-{slug}");
        let path = format!("/crons/{slug}/check-ins");
        let list = poll(&format!("{slug}'s check-in to be {status}"), || async {
            let list = items(project.get(&path).await);
            (list.first().is_some_and(|c| c["status"] == status)).then_some(list)
        })
        .await;
        assert_eq!(
            list.len(),
            1,
            "{:?}: one check-in per run: {list:?}",
            sent.sdk
        );
        assert!(
            list[0]["duration_ms"].as_i64().is_some_and(|d| d >= 0),
            "{:?}: the closing update's duration: {list:?}",
            sent.sdk
        );
        finished.push(list[0].clone());
    }
    assert_eq!(
        finished[0]["check_in_id"],
        sent.str("ok_check_in"),
        "{finished:?}"
    );
    assert_eq!(finished[0]["duration_ms"], 1500, "{finished:?}");
    let crons = items(project.get("/crons").await);
    let nightly = crons
        .iter()
        .find(|c| c["slug"] == format!("{prefix}-nightly"))
        .unwrap_or_else(|| panic!("no nightly monitor in {crons:?}"));
    assert_eq!(nightly["last_status"], "ok", "{nightly}");
    assert_eq!(nightly["monitor_status"], "up", "{nightly}");
}

/// The feedback shows on the event it is about.
async fn feedback_is_attached(project: &Project, sent: &Sent) {
    let event_id = &sent.same_error()[0];
    let (text, kind, name) = match sent.sdk {
        Sdk::Python => ("py feedback: the checkout broke", "user_report", "Py User"),
        Sdk::Node => ("node feedback: the checkout broke", "feedback", "Node User"),
    };
    let feedback = poll("the feedback", || async {
        let event = project.event(event_id).await;
        let list = event["feedback"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(feedback.len(), 1, "{feedback:?}");
    assert_eq!(feedback[0]["message"], text, "{feedback:?}");
    assert_eq!(feedback[0]["kind"], kind, "{feedback:?}");
    assert_eq!(feedback[0]["name"], name, "{feedback:?}");
}

async fn workspace(store: &bitwobbly_store::Store) -> WorkspaceId {
    store
        .global()
        .workspace_by_slug("acme")
        .await
        .expect("read the workspace")
        .expect("workspace acme")
        .id
}

/// Logs are accepted and kept: the raw envelope holding the SDK's `log` item is stored with
/// the log lines in it (the query API does not show logs).
async fn logs_are_kept(db: &Db, project: &Project, sent: &Sent) {
    let store = db.store().await;
    let ws = workspace(&store).await;
    let blobs = FsBlobStore::new(db.dir().join("data/blobs"));
    let mut bodies = Vec::new();
    let (mut id, mut missing) = (1, 0);
    // Envelope ids are one sequence; stop after a long run of ids that are not this
    // workspace's (there are a few dozen envelopes in all).
    while missing < 100 {
        match store
            .workspace(ws)
            .envelope(EnvelopeId(id))
            .await
            .expect("an envelope")
        {
            Some(e) if e.manifest.project_id.0 == project.id => {
                missing = 0;
                if e.manifest.item_types.iter().any(|t| t == "log") {
                    let body = store
                        .global()
                        .envelope_body(e.id, &blobs)
                        .await
                        .expect("the envelope's bytes")
                        .expect("kept");
                    bodies.push(String::from_utf8_lossy(&body).into_owned());
                }
            }
            Some(_) => missing = 0,
            None => missing += 1,
        }
        id += 1;
    }
    for line in sent.out["logs"].as_array().expect("log lines") {
        let line = line.as_str().expect("a log line");
        assert!(
            bodies.iter().any(|b| b.contains(line)),
            "{:?}: log {line:?} not kept in {} log envelopes",
            sent.sdk,
            bodies.len()
        );
    }
    store.close().await;
}

/// The monitor whose next check-in never came is judged down by the scheduler.
async fn missed_check_in_turns_the_monitor_down(project: &Project, sent: &Sent) {
    let slug = sent.str("missed_slug");
    let start = Instant::now();
    loop {
        let crons = items(project.get("/crons").await);
        let monitor = crons.iter().find(|c| c["slug"] == slug.as_str());
        if monitor.is_some_and(|m| m["monitor_status"] == "down") {
            break;
        }
        assert!(
            start.elapsed() < MISSED_DEADLINE,
            "{slug} was not judged missed: {crons:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
