//! The ingest processing worker against real databases (SQLite and PostgreSQL): envelopes
//! stored as the endpoint stores them, processed by `process_batch`, observed through the
//! store; alerts delivered by the real notifier to a webhook on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitwobbly_server::config::Config;
use bitwobbly_server::ingest::process::{apply_retention, event_payload, process_batch};
use bitwobbly_server::{AppState, Clock};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};

const PATIENCE: Duration = Duration::from_secs(30);

mod sdk_shapes;

struct Env {
    store: Store,
    state: AppState,
    ws: WorkspaceId,
    project: Project,
    _dir: tempfile::TempDir,
}

async fn run(backend: Backend, test: impl AsyncFnOnce(&Env)) {
    let db = TestDatabase::create(backend, "process").await;
    let store = Store::open_with(db.url(), StoreOptions::default().max_connections(5))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.data_dir = dir.path().to_owned();
    config.public_url = Some("http://bw.example.test".to_owned());
    config.notifier.initial_backoff = Duration::from_millis(50);
    let state = AppState::new(store.clone(), config, "node-1".to_owned());
    let now = Clock.now();
    let ws = store
        .global()
        .create_workspace("acme", "Acme", now)
        .await
        .unwrap()
        .id;
    let project = store
        .workspace(ws)
        .create_project("backend", "Backend", Some("python"), now)
        .await
        .unwrap();
    let env = Env {
        store: store.clone(),
        state,
        ws,
        project,
        _dir: dir,
    };
    test(&env).await;
    store.close().await;
    db.finish().await;
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!(crate::run; $($name),+);
    };
}

both!(
    events_group_into_issues_count_users_and_regress,
    issue_alerts_reach_a_webhook_through_the_notifier,
    a_frequency_alert_reaches_a_webhook_through_the_notifier,
    a_missed_cron_check_in_takes_the_monitor_down,
    a_timed_out_cron_run_takes_the_monitor_down,
    transactions_sessions_reports_feedback_and_attachments,
    check_ins_create_and_feed_a_heartbeat_monitor,
    poison_and_hostile_envelopes_never_block_the_queue,
    retention_deletes_old_events_and_envelopes,
);

/// Stores `raw` as the endpoint does (inline, compressed) and returns its id.
async fn submit(env: &Env, event_id: Option<&str>, raw: &[u8]) -> EnvelopeId {
    let manifest = NewEnvelope {
        project_id: env.project.id,
        event_id: event_id.map(str::to_owned),
        received_at: Clock.now(),
        size: raw.len() as i64,
        blob_key: String::new(),
        item_types: vec![],
    };
    let d = DurableEnvelope::inline(env.ws, manifest, raw).unwrap();
    env.store.global().record_envelopes(&[d]).await.unwrap()[0]
}

fn item(ty: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!("{{\"type\":\"{ty}\",\"length\":{}}}\n", payload.len()).into_bytes();
    v.extend_from_slice(payload);
    v.push(b'\n');
    v
}

fn envelope(event_id: Option<&str>, items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = match event_id {
        Some(id) => format!("{{\"event_id\":\"{id}\"}}\n").into_bytes(),
        None => b"{}\n".to_vec(),
    };
    for i in items {
        v.extend_from_slice(i);
    }
    v
}

fn error_event(id: &str, ty: &str, user: &str) -> Vec<u8> {
    format!(
        r#"{{"event_id":"{id}","level":"error","platform":"python","release":"app@1.0","environment":"prod",
        "tags":{{"route":"/a"}},"user":{{"id":"{user}"}},
        "exception":{{"values":[{{"type":"{ty}","value":"boom 42","stacktrace":{{"frames":[
          {{"module":"app.views","function":"index","in_app":true}}]}}}}]}}}}"#
    )
    .into_bytes()
}

fn eid(n: u32) -> String {
    format!("{n:032x}")
}

async fn drain(env: &Env) {
    while process_batch(&env.state, "node-1").await.unwrap() > 0 {}
}

async fn event_envelope(env: &Env, n: u32, ty: &str, user: &str) -> Vec<u8> {
    let id = eid(n);
    let raw = envelope(Some(&id), &[item("event", &error_event(&id, ty, user))]);
    submit(env, Some(&id), &raw).await;
    raw
}

async fn webhook_channel(env: &Env, url: &str) -> ChannelId {
    let ch = env
        .store
        .workspace(env.ws)
        .create_channel(
            &NewChannel {
                key: None,
                name: "hook".into(),
                kind: ChannelKind::Webhook,
                config: serde_json::json!({ "url": url }),
                enabled: true,
            },
            Clock.now(),
        )
        .await
        .unwrap();
    env.store
        .workspace(env.ws)
        .set_project_channels(env.project.id, &[ch.id])
        .await
        .unwrap();
    ch.id
}

async fn events_group_into_issues_count_users_and_regress(env: &Env) {
    webhook_channel(env, "http://127.0.0.1:9/hook").await;
    event_envelope(env, 1, "KeyError", "u1").await;
    event_envelope(env, 2, "KeyError", "u2").await;
    event_envelope(env, 3, "KeyError", "u1").await;
    event_envelope(env, 3, "KeyError", "u3").await; // duplicate event id: not counted
    event_envelope(env, 4, "ValueError", "u1").await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    let issues = s.issues(env.project.id, None, 10).await.unwrap();
    assert_eq!(issues.len(), 2);
    let key = issues
        .iter()
        .find(|i| i.title.starts_with("KeyError"))
        .unwrap();
    assert_eq!(key.title, "KeyError: boom 42");
    assert_eq!(key.culprit.as_deref(), Some("app.views in index"));
    assert_eq!((key.event_count, key.user_count), (3, 2));
    let events = s.events_for_issue(key.id, 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].event.tags,
        vec![("route".to_owned(), "/a".to_owned())]
    );
    assert_eq!(events[0].event.release.as_deref(), Some("app@1.0"));
    // The payload comes back byte for byte.
    let payload = event_payload(&env.state, env.ws, env.project.id, &eid(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&payload[..], &error_event(&eid(2), "KeyError", "u2")[..]);
    // Two new-issue alerts so far.
    let rows = s.notifications(None, 100).await.unwrap();
    assert_eq!(
        rows.iter().filter(|n| n.event == "issue.created").count(),
        2
    );
    // Resolve, then a new event regresses it.
    s.set_issue_status(key.id, IssueStatus::Resolved, Clock.now())
        .await
        .unwrap();
    event_envelope(env, 5, "KeyError", "u9").await;
    drain(env).await;
    let key = s.issue(key.id).await.unwrap().unwrap();
    assert_eq!(key.status, IssueStatus::Unresolved);
    assert!(key.regressed);
    assert_eq!((key.event_count, key.user_count), (4, 3));
    let rows = s.notifications(None, 100).await.unwrap();
    assert_eq!(
        rows.iter().filter(|n| n.event == "issue.regressed").count(),
        1
    );
    // Every envelope is done.
    assert!(process_batch(&env.state, "node-1").await.unwrap() == 0);
}

/// A webhook receiver on loopback that records every JSON body posted to `/hook`.
struct Hook {
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    url: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Hook {
    async fn start() -> Self {
        let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let sink = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or_default());
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server =
            bitwobbly_server::spawn("test-hook", async move { axum::serve(listener, app).await });
        Self {
            bodies,
            url,
            server,
        }
    }

    /// Waits (up to [`PATIENCE`]) for a delivered alert of `kind` and returns it.
    async fn wait_for(&self, kind: &str) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let bodies = self.bodies.lock().unwrap().clone();
            if let Some(b) = bodies.iter().find(|b| b["kind"] == kind) {
                return b.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {kind} alert delivered: {bodies:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Runs the real notifier on `env.state` until `body` is done.
async fn with_notifier(env: &Env, body: impl AsyncFnOnce()) {
    let notifier = bitwobbly_server::spawn(
        "test-notifier",
        bitwobbly_server::notify::run(env.state.clone()),
    );
    body().await;
    env.state.shutdown.cancel();
    tokio::time::timeout(PATIENCE, notifier)
        .await
        .expect("the notifier stops")
        .expect("the notifier does not panic");
}

async fn issue_alerts_reach_a_webhook_through_the_notifier(env: &Env) {
    let hook = Hook::start().await;
    webhook_channel(env, &hook.url).await;
    event_envelope(env, 7, "RuntimeError", "u1").await;
    drain(env).await;
    with_notifier(env, async || {
        let b = hook.wait_for("new_issue").await;
        assert!(b.to_string().contains("RuntimeError: boom 42"), "{b}");
    })
    .await;
}

async fn a_frequency_alert_reaches_a_webhook_through_the_notifier(env: &Env) {
    let hook = Hook::start().await;
    let channel = webhook_channel(env, &hook.url).await;
    env.store
        .workspace(env.ws)
        .set_project_processing(
            env.project.id,
            &ProjectProcessing {
                alert_frequency_count: Some(3),
                alert_frequency_minutes: Some(10),
                ..ProjectProcessing::default()
            },
        )
        .await
        .unwrap();
    let frequent =
        |rows: &[Notification]| rows.iter().filter(|n| n.event == "issue.frequent").count();
    // Two events: below the threshold, only the new-issue alert.
    event_envelope(env, 80, "MemoryError", "u1").await;
    event_envelope(env, 81, "MemoryError", "u2").await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    assert_eq!(frequent(&s.notifications(None, 100).await.unwrap()), 0);
    // The third within ten minutes crosses it: one frequency alert.
    event_envelope(env, 82, "MemoryError", "u3").await;
    drain(env).await;
    let rows = s.notifications(None, 100).await.unwrap();
    assert_eq!(frequent(&rows), 1, "{rows:?}");
    let row = rows.iter().find(|n| n.event == "issue.frequent").unwrap();
    assert_eq!(row.channel_id, Some(channel));
    // More events in the same window raise no second one.
    event_envelope(env, 83, "MemoryError", "u3").await;
    event_envelope(env, 84, "MemoryError", "u4").await;
    drain(env).await;
    assert_eq!(frequent(&s.notifications(None, 100).await.unwrap()), 1);
    // Another issue has its own count: two events do not alert.
    event_envelope(env, 85, "OverflowError", "u1").await;
    event_envelope(env, 86, "OverflowError", "u1").await;
    drain(env).await;
    assert_eq!(frequent(&s.notifications(None, 100).await.unwrap()), 1);
    // The notifier delivers it to the webhook.
    with_notifier(env, async || {
        let b = hook.wait_for("frequent_issue").await;
        assert_eq!(b["monitor"], "MemoryError: boom 42", "{b}");
        assert_eq!(b["target"], "Backend", "{b}");
        assert!(
            b["reason"].as_str().unwrap_or("").contains("3 events"),
            "{b}"
        );
    })
    .await;
}

async fn transactions_sessions_reports_feedback_and_attachments(env: &Env) {
    let id = eid(20);
    let binary: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, 0, 0x80]).collect();
    let mut att = format!(
        "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"dump.bin\",\"content_type\":\"application/octet-stream\"}}\n",
        binary.len()
    )
    .into_bytes();
    att.extend_from_slice(&binary);
    att.push(b'\n');
    let raw = envelope(
        Some(&id),
        &[
            item("event", &error_event(&id, "OSError", "u1")),
            att,
            item(
                "client_report",
                br#"{"timestamp":1700000000,"discarded_events":[{"reason":"queue_overflow","category":"error","quantity":4}]}"#,
            ),
            item(
                "user_report",
                format!(r#"{{"event_id":"{id}","name":"Ann","email":"a@x.test","comments":"it broke"}}"#).as_bytes(),
            ),
            item("something_new", b"\x00\x01 kept in the raw envelope"),
        ],
    );
    submit(env, Some(&id), &raw).await;
    let tid = eid(21);
    let now_s = Clock.now().as_millis() as f64 / 1000.0;
    let tx = format!(
        r#"{{"type":"transaction","transaction":"/users","start_timestamp":{},"timestamp":{},
        "contexts":{{"trace":{{"op":"http.server","status":"ok","trace_id":"0123456789abcdef0123456789abcdef"}}}},
        "release":"app@1.0","environment":"prod","spans":[{{"op":"db"}}]}}"#,
        now_s - 0.5,
        now_s
    );
    submit(
        env,
        Some(&tid),
        &envelope(Some(&tid), &[item("transaction", tx.as_bytes())]),
    )
    .await;
    let sessions = envelope(
        None,
        &[
            item(
                "session",
                format!(r#"{{"sid":"s1","did":"user-a","init":true,"status":"crashed","started":{now_s},"attrs":{{"release":"app@1.0","environment":"prod"}}}}"#).as_bytes(),
            ),
            item(
                "session",
                format!(r#"{{"sid":"s2","did":"user-b","init":true,"status":"exited","started":{now_s},"attrs":{{"release":"app@1.0","environment":"prod"}}}}"#).as_bytes(),
            ),
            item(
                "sessions",
                format!(r#"{{"aggregates":[{{"started":{now_s},"exited":5,"errored":1,"did":"user-c"}}],"attrs":{{"release":"app@1.0","environment":"prod"}}}}"#).as_bytes(),
            ),
        ],
    );
    submit(env, None, &sessions).await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    let p = env.project.id;
    let far = (
        Timestamp::from_millis(0),
        Clock.now().plus(Duration::from_secs(7200)),
    );
    let txs = s.transactions(p, far.0, far.1, 10).await.unwrap();
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].name, "/users");
    assert!(
        (490_000..=510_000).contains(&txs[0].duration_us),
        "{}",
        txs[0].duration_us
    );
    assert_eq!(txs[0].op.as_deref(), Some("http.server"));
    let counts = s.session_counts(p, far.0, far.1).await.unwrap();
    let total: (i64, i64, i64, i64) = counts.iter().fold((0, 0, 0, 0), |a, c| {
        (
            a.0 + c.started,
            a.1 + c.crashed,
            a.2 + c.exited,
            a.3 + c.errored,
        )
    });
    assert_eq!(total, (8, 1, 6, 1));
    let users = s.session_user_counts(p, far.0, far.1).await.unwrap();
    assert_eq!((users[0].users, users[0].crashed_users), (3, 1));
    let reports = s.client_reports(p, far.0, far.1).await.unwrap();
    assert_eq!(
        (reports[0].reason.as_str(), reports[0].quantity),
        ("queue_overflow", 4)
    );
    let fb = s.feedback(p, Some(&id), 10).await.unwrap();
    assert_eq!(fb[0].feedback.message, "it broke");
    let atts = s.attachments(p, &id).await.unwrap();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].attachment.name, "dump.bin");
    let bytes = env
        .state
        .blobs
        .get(&atts[0].attachment.blob_key)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &binary[..]);
}

async fn check_ins_create_and_feed_a_heartbeat_monitor(env: &Env) {
    let check_in = |status: &str, config: bool| {
        let cfg = if config {
            r#","monitor_config":{"schedule":{"type":"interval","value":5,"unit":"minute"},"checkin_margin":1,"max_runtime":10}"#
        } else {
            ""
        };
        envelope(
            None,
            &[item(
                "check_in",
                format!(r#"{{"check_in_id":"{}","monitor_slug":"nightly","status":"{status}","duration":1.5,"environment":"prod"{cfg}}}"#, eid(99)).as_bytes(),
            )],
        )
    };
    submit(env, None, &check_in("in_progress", true)).await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    let cron = s
        .cron_monitor(env.project.id, "nightly")
        .await
        .unwrap()
        .unwrap();
    let monitor = s.monitor(cron.monitor_id).await.unwrap().unwrap();
    assert!(monitor.spec.is_heartbeat());
    submit(env, None, &check_in("error", false)).await;
    drain(env).await;
    let ins = s.check_ins(env.project.id, "nightly", 10).await.unwrap();
    // One check-in, updated in place by its closing update.
    assert_eq!(ins.len(), 1);
    assert_eq!(ins[0].check_in.status, CheckInStatus::Error);
    assert_eq!(ins[0].check_in.duration_ms, Some(1500));
    assert_eq!(ins[0].check_in.monitor_id, Some(monitor.id));
    // The failed run took the monitor down: an incident is open.
    let open = s.open_incident_for_monitor(monitor.id).await.unwrap();
    assert!(open.is_some(), "an error check-in opens an incident");
    // An unknown slug without a config is recorded, with no monitor.
    let other = envelope(
        None,
        &[item(
            "check_in",
            br#"{"monitor_slug":"ghost","status":"ok"}"#,
        )],
    );
    submit(env, None, &other).await;
    drain(env).await;
    let ghost = s.check_ins(env.project.id, "ghost", 10).await.unwrap();
    assert_eq!(ghost[0].check_in.monitor_id, None);
    assert!(
        s.cron_monitor(env.project.id, "ghost")
            .await
            .unwrap()
            .is_none()
    );
}

async fn poison_and_hostile_envelopes_never_block_the_queue(env: &Env) {
    let bad = submit(env, None, b"this is not an envelope\n{{{").await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!(
        r#"{{"message":"{}","tags":{{"k":"{}"}}}}"#,
        "x".repeat(2_000_000),
        "v".repeat(100_000)
    );
    let id = eid(50);
    let hostile = envelope(
        Some(&id),
        &[
            item("event", deep.as_bytes()),
            item("transaction", br#"{"transaction":5,"start_timestamp":"x","timestamp":[]}"#),
            item("session", br#"{"sid":[],"status":7}"#),
            item("sessions", br#"{"aggregates":"no"}"#),
            item("client_report", br#"{"discarded_events":[{"quantity":-1}]}"#),
            item("check_in", br#"{"monitor_slug":"","status":"ok"}"#),
            item("check_in", br#"{"monitor_slug":"x","status":"ok","environment":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}"#),
            item("feedback", b"\xff\xfe not json"),
        ],
    );
    let hostile_id = submit(env, Some(&id), &hostile).await;
    let id2 = eid(51);
    let big = submit(
        env,
        Some(&id2),
        &envelope(Some(&id2), &[item("event", huge.as_bytes())]),
    )
    .await;
    drain(env).await;
    let mut g = env.store.global();
    let state_of = |e: Option<Envelope>| e.unwrap().state;
    assert_eq!(
        state_of(env.store.workspace(env.ws).envelope(bad).await.unwrap()),
        EnvelopeState::Failed
    );
    assert_eq!(
        state_of(
            env.store
                .workspace(env.ws)
                .envelope(hostile_id)
                .await
                .unwrap()
        ),
        EnvelopeState::Done
    );
    assert_eq!(
        state_of(env.store.workspace(env.ws).envelope(big).await.unwrap()),
        EnvelopeState::Done
    );
    let ev = env
        .store
        .workspace(env.ws)
        .event(env.project.id, &id2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.event.title.chars().count(), 200);
    assert!(
        g.claim_envelopes("x", Clock.now(), Duration::from_secs(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn retention_deletes_old_events_and_envelopes(env: &Env) {
    let id = eid(60);
    let old = r#"{"message":"old one","timestamp":1000000000}"#;
    submit(
        env,
        Some(&id),
        &envelope(Some(&id), &[item("event", old.as_bytes())]),
    )
    .await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    assert!(s.event(env.project.id, &id).await.unwrap().is_some());
    s.set_project_processing(
        env.project.id,
        &ProjectProcessing {
            event_retention_days: Some(1),
            envelope_retention_days: Some(1),
            ..ProjectProcessing::default()
        },
    )
    .await
    .unwrap();
    // A week later the event (dated 2001) and its envelope are gone.
    let later = Clock.now().plus(Duration::from_secs(7 * 86_400));
    let (events, envelopes) = apply_retention(&env.state, later).await.unwrap();
    assert_eq!((events, envelopes), (1, 1));
    assert!(s.event(env.project.id, &id).await.unwrap().is_none());
    assert!(
        event_payload(&env.state, env.ws, env.project.id, &id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A configuration whose scheduler reacts quickly.
fn scheduler_config(env: &Env) -> Config {
    let mut config = env.state.config.clone();
    config.scheduler.poll_interval = Duration::from_millis(50);
    config.scheduler.result_flush_interval = Duration::from_millis(100);
    config.scheduler.lease = Duration::from_secs(10);
    config
}

/// A check-in envelope (check-in id `n`) for monitor `slug` with `status` and, if given, a
/// `monitor_config`.
fn cron_envelope(n: u32, slug: &str, status: &str, config: Option<&str>) -> Vec<u8> {
    let cfg = config
        .map(|c| format!(r#","monitor_config":{c}"#))
        .unwrap_or_default();
    envelope(
        None,
        &[item(
            "check_in",
            format!(
                r#"{{"check_in_id":"{}","monitor_slug":"{slug}","status":"{status}"{cfg}}}"#,
                eid(n)
            )
            .as_bytes(),
        )],
    )
}

/// The heartbeat monitor of cron `slug`.
async fn cron_monitor(env: &Env, slug: &str) -> Monitor {
    let mut s = env.store.workspace(env.ws);
    let link = s
        .cron_monitor(env.project.id, slug)
        .await
        .unwrap()
        .expect("the check-in created a monitor");
    s.monitor(link.monitor_id).await.unwrap().unwrap()
}

/// Moves the monitor's recorded pings `back` into the past (as if that much time had gone by
/// since the check-ins) and makes its next deadline its wake-up, in a transaction holding
/// its state; returns that deadline.
async fn age_heartbeat(env: &Env, monitor: &Monitor, back: Duration) -> Timestamp {
    let policy = monitor.spec.heartbeat().unwrap().clone();
    let mut tx = env.store.begin().await.unwrap();
    let s = tx
        .workspace(env.ws)
        .monitor_state_for_update(monitor.id)
        .await
        .unwrap()
        .unwrap();
    let mut hb = s.heartbeat.clone().expect("a check-in was recorded");
    let back = time::Duration::try_from(back).unwrap();
    hb.created_at -= back;
    hb.last_ping = hb.last_ping.map(|t| t - back);
    hb.running_since = hb.running_since.map(|t| t - back);
    let deadline = Timestamp::from(hb.deadline(&policy).unwrap());
    let mut u = StateUpdate::new(s.status, s.machine.clone());
    u.heartbeat = Some(hb);
    u.next_run_at = Some(deadline);
    tx.workspace(env.ws)
        .update_monitor_state(monitor.id, &u)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    deadline
}

/// Runs the scheduler until the monitor is down; returns the message of its down result.
async fn scheduler_takes_down(env: &Env, monitor: &Monitor) -> String {
    let state = AppState::new(
        env.store.clone(),
        scheduler_config(env),
        "node-2".to_owned(),
    );
    let scheduler = bitwobbly_server::spawn(
        "test-scheduler",
        bitwobbly_server::scheduler::run(state.clone()),
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let message = loop {
        let mut s = env.store.workspace(env.ws);
        let st = s.monitor_state(monitor.id).await.unwrap().unwrap();
        let results = s
            .results(&ResultQuery {
                monitor_id: monitor.id,
                from: Timestamp::EPOCH,
                to: Timestamp::from_millis(i64::MAX),
                order: Order::Descending,
                limit: 10,
                after: None,
            })
            .await
            .unwrap()
            .items;
        let down = results
            .iter()
            .find(|r| r.result.status == CheckStatus::Down);
        if st.status == MonitorStatus::Down
            && let Some(r) = down
        {
            break r.result.message.clone().unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the scheduler did not take the monitor down: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    state.shutdown.cancel();
    tokio::time::timeout(PATIENCE, scheduler)
        .await
        .expect("the scheduler stops")
        .expect("the scheduler does not panic");
    message
}

/// The monitor has one open incident and its alert is in the outbox for `channel`.
async fn incident_opened(env: &Env, monitor: &Monitor, channel: ChannelId) {
    let mut s = env.store.workspace(env.ws);
    let open = s
        .open_incident_for_monitor(monitor.id)
        .await
        .unwrap()
        .expect("an incident is open");
    assert_eq!(open.monitor_id, Some(monitor.id));
    assert_eq!(
        s.incidents_for_monitor(monitor.id, 10).await.unwrap().len(),
        1
    );
    let rows = s.notifications(None, 100).await.unwrap();
    assert!(
        rows.iter()
            .any(|n| n.event == "incident.opened" && n.channel_id == Some(channel)),
        "{rows:?}"
    );
}

/// A webhook channel on the project, then the first check-in (id `n`) of `slug` with
/// `status` and `config`, processed; returns the channel and the monitor it created (which
/// has no incident yet).
async fn first_check_in(
    env: &Env,
    n: u32,
    slug: &str,
    status: &str,
    config: &str,
) -> (ChannelId, Monitor) {
    let channel = webhook_channel(env, "http://127.0.0.1:9/hook").await;
    submit(env, None, &cron_envelope(n, slug, status, Some(config))).await;
    drain(env).await;
    let monitor = cron_monitor(env, slug).await;
    let open = env
        .store
        .workspace(env.ws)
        .open_incident_for_monitor(monitor.id)
        .await
        .unwrap();
    assert!(open.is_none());
    (channel, monitor)
}

async fn a_missed_cron_check_in_takes_the_monitor_down(env: &Env) {
    let config = r#"{"schedule":{"type":"interval","value":1,"unit":"minute"},"checkin_margin":1,"max_runtime":5}"#;
    let (channel, monitor) = first_check_in(env, 90, "every-minute", "ok", config).await;
    let mut s = env.store.workspace(env.ws);
    assert_eq!(
        s.monitor_state(monitor.id).await.unwrap().unwrap().status,
        MonitorStatus::Up
    );
    // Three minutes of silence: the ping was due one minute after the check-in, plus one
    // minute of margin, so the deadline passed a minute ago.
    let deadline = age_heartbeat(env, &monitor, Duration::from_secs(180)).await;
    assert!(deadline < Clock.now());
    let message = scheduler_takes_down(env, &monitor).await;
    assert_eq!(message, "no ping within 2m");
    incident_opened(env, &monitor, channel).await;
    // The next check-in brings it back up and resolves the incident.
    submit(env, None, &cron_envelope(91, "every-minute", "ok", None)).await;
    drain(env).await;
    assert_eq!(
        s.monitor_state(monitor.id).await.unwrap().unwrap().status,
        MonitorStatus::Up
    );
    assert!(
        s.open_incident_for_monitor(monitor.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_timed_out_cron_run_takes_the_monitor_down(env: &Env) {
    // Hourly, a run may take two minutes.
    let config = r#"{"schedule":{"type":"interval","value":1,"unit":"hour"},"checkin_margin":5,"max_runtime":2}"#;
    let (channel, monitor) = first_check_in(env, 92, "hourly-export", "in_progress", config).await;
    let mut s = env.store.workspace(env.ws);
    let st = s.monitor_state(monitor.id).await.unwrap().unwrap();
    assert!(st.heartbeat.unwrap().running_since.is_some());
    // Five minutes later no closing check-in came: the run's two minutes are over, while the
    // hourly ping is not due yet.
    let deadline = age_heartbeat(env, &monitor, Duration::from_secs(300)).await;
    assert!(deadline < Clock.now());
    let message = scheduler_takes_down(env, &monitor).await;
    assert!(message.contains("did not finish within 2m"), "{message}");
    incident_opened(env, &monitor, channel).await;
    let ins = s
        .check_ins(env.project.id, "hourly-export", 10)
        .await
        .unwrap();
    assert_eq!(ins.len(), 1);
    assert_eq!(ins[0].check_in.status, CheckInStatus::InProgress);
}
