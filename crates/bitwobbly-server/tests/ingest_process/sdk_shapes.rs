//! What real SDKs send beyond the basic shapes: `@sentry/node` 11's span v2 containers (its
//! transactions), session updates repeated for one session id, and cron check-ins updated in
//! place by their id. Payloads are as the SDK sent them (captured from `@sentry/node` 11.12.0
//! against a loopback server), trimmed to the keys that matter.

use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_server::ingest::process::apply_retention;
use bitwobbly_store::prelude::*;

use crate::{Env, drain, eid, envelope, item, submit};

bitwobbly_test_support::both_backends!(crate::run;
    span_v2_segments_become_transactions,
    repeated_session_updates_count_once_per_session,
    check_in_updates_change_one_row,
);

fn now_s() -> f64 {
    Clock.now().as_millis() as f64 / 1000.0
}

fn span_item(payload: &str) -> Vec<u8> {
    let mut v = format!(
        "{{\"type\":\"span\",\"item_count\":3,\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"length\":{}}}\n",
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload.as_bytes());
    v.push(b'\n');
    v
}

fn far() -> (Timestamp, Timestamp) {
    (
        Timestamp::from_millis(0),
        Clock.now().plus(Duration::from_secs(7200)),
    )
}

async fn span_v2_segments_become_transactions(env: &Env) {
    let t = now_s();
    let attrs = r#""sentry.release":{"value":"sdk-node@1.0.0","type":"string"},
        "sentry.environment":{"value":"sdk-compat","type":"string"},
        "sentry.segment.name":{"value":"node-checkout","type":"string"}"#;
    let container = format!(
        r#"{{"version":2,"items":[
        {{"name":"SELECT * FROM carts","span_id":"871d57dd4b03a740","trace_id":"952efca354534e898036f3ae689bc5b4",
          "parent_span_id":"8994adc1f6f5dc93","start_timestamp":{s1},"end_timestamp":{e1},"is_segment":false,
          "status":"ok","attributes":{{"sentry.op":{{"value":"db.query","type":"string"}},{attrs}}}}},
        {{"name":"node-checkout","span_id":"8994adc1f6f5dc93","trace_id":"952efca354534e898036f3ae689bc5b4",
          "start_timestamp":{s0},"end_timestamp":{e0},"is_segment":true,"status":"ok",
          "attributes":{{"sentry.op":{{"value":"task","type":"string"}},{attrs},
            "sentry.sdk.integrations":{{"value":["Http","Express"],"type":"array"}},
            "device.memory_size":{{"value":25276502016,"type":"integer"}}}}}},
        {{"name":"failing-job","span_id":"aaaaaaaaaaaaaaaa","trace_id":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
          "start_timestamp":{s0},"end_timestamp":{e0},"status":"error",
          "attributes":{{"sentry.op":{{"value":"queue.process","type":"string"}}}}}}
        ]}}"#,
        s0 = t - 0.08,
        e0 = t,
        s1 = t - 0.07,
        e1 = t - 0.02,
    );
    // A container, a legacy standalone span (not a transaction), and hostile containers
    // that must be skipped without failing the envelope.
    let deep = format!(
        "{{\"items\":[{}{}]}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let huge_name = format!(
        r#"{{"items":[{{"name":"{}","span_id":"c","start_timestamp":{t},"end_timestamp":{t}}}]}}"#,
        "n".repeat(100_000)
    );
    let raw = envelope(
        None,
        &[
            span_item(&container),
            item(
                "span",
                br#"{"span_id":"dddddddddddddddd","op":"ui.webvital.lcp","start_timestamp":1,"timestamp":2}"#,
            ),
            span_item("\u{1}not json"),
            span_item(&deep),
            span_item(r#"{"items":[{"name":"backwards","start_timestamp":10,"end_timestamp":5}, 7, null]}"#),
            span_item(&huge_name),
        ],
    );
    let id = submit(env, None, &raw).await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    assert_eq!(
        s.envelope(id).await.unwrap().unwrap().state,
        EnvelopeState::Done
    );
    let (from, to) = far();
    let txs = s.transactions(env.project.id, from, to, 10).await.unwrap();
    assert_eq!(txs.len(), 3, "{txs:?}");
    let named = |name: &str| {
        txs.iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no transaction {name} in {txs:?}"))
    };
    assert!(
        txs.iter()
            .any(|t| t.name.starts_with("nnn") && t.name.chars().count() == 200),
        "a huge name is clipped"
    );
    let checkout = named("node-checkout");
    assert!(
        (79_000..=81_000).contains(&checkout.duration_us),
        "{}",
        checkout.duration_us
    );
    assert_eq!(
        (
            checkout.op.as_deref(),
            checkout.status.as_deref(),
            checkout.release.as_deref(),
            checkout.environment.as_deref(),
            checkout.trace_id.as_deref(),
            checkout.event_id.as_str(),
        ),
        (
            Some("task"),
            Some("ok"),
            Some("sdk-node@1.0.0"),
            Some("sdk-compat"),
            Some("952efca354534e898036f3ae689bc5b4"),
            "8994adc1f6f5dc93",
        )
    );
    // A span status `error` counts as a failure, like a transaction's `internal_error`.
    let failing = named("failing-job");
    assert_eq!(failing.status.as_deref(), Some("internal_error"));
    assert_eq!(failing.release, None);
}

fn session(sid: &str, did: &str, init: bool, status: &str, errors: u32, started: f64) -> Vec<u8> {
    item(
        "session",
        format!(
            r#"{{"sid":"{sid}","init":{init},"started":{started},"timestamp":{started},"status":"{status}","errors":{errors},"did":"{did}","attrs":{{"release":"sdk-node@1.0.0","environment":"sdk-compat"}}}}"#
        )
        .as_bytes(),
    )
}

/// (started, exited, errored, crashed, abnormal) of the SDK's release over all buckets.
async fn totals(env: &Env, project: ProjectId, ws: WorkspaceId) -> (i64, i64, i64, i64, i64) {
    let (from, to) = far();
    let counts = env
        .store
        .workspace(ws)
        .session_counts(project, from, to)
        .await
        .unwrap();
    counts
        .iter()
        .filter(|c| c.release == "sdk-node@1.0.0")
        .fold((0, 0, 0, 0, 0), |a, c| {
            (
                a.0 + c.started,
                a.1 + c.exited,
                a.2 + c.errored,
                a.3 + c.crashed,
                a.4 + c.abnormal,
            )
        })
}

async fn repeated_session_updates_count_once_per_session(env: &Env) {
    let t = now_s();
    let (p, ws) = (env.project.id, env.ws);
    // What @sentry/node sends: the process session errors then exits; a second session
    // crashes and is sent crashed twice (init, then from endSession); a third ends cleanly.
    submit(
        env,
        None,
        &envelope(None, &[session("s1", "u1", true, "ok", 1, t)]),
    )
    .await;
    submit(
        env,
        None,
        &envelope(None, &[session("s1", "u1", false, "exited", 1, t)]),
    )
    .await;
    submit(
        env,
        None,
        &envelope(None, &[session("s2", "u2", true, "crashed", 1, t)]),
    )
    .await;
    drain(env).await;
    submit(
        env,
        None,
        &envelope(None, &[session("s2", "u2", false, "crashed", 1, t)]),
    )
    .await;
    // The same update twice in one envelope, and an envelope delivered twice.
    let clean = envelope(
        None,
        &[
            session("s3", "u3", true, "exited", 0, t),
            session("s3", "u3", true, "exited", 0, t),
        ],
    );
    submit(env, None, &clean).await;
    submit(env, None, &clean).await;
    drain(env).await;
    assert_eq!(totals(env, p, ws).await, (3, 1, 1, 1, 0));
    let (from, to) = far();
    let users = env
        .store
        .workspace(ws)
        .session_user_counts(p, from, to)
        .await
        .unwrap();
    assert_eq!((users[0].users, users[0].crashed_users), (3, 1));

    // Errored, then crashed: the session moves from errored to crashed, in either order.
    submit(
        env,
        None,
        &envelope(None, &[session("s4", "u4", true, "ok", 2, t)]),
    )
    .await;
    drain(env).await;
    assert_eq!(totals(env, p, ws).await, (4, 1, 2, 1, 0));
    submit(
        env,
        None,
        &envelope(None, &[session("s4", "u4", false, "crashed", 3, t)]),
    )
    .await;
    drain(env).await;
    assert_eq!(totals(env, p, ws).await, (4, 1, 1, 2, 0));
    // A worse state never goes back: a late "exited" of the crashed session changes nothing.
    submit(
        env,
        None,
        &envelope(None, &[session("s4", "u4", false, "exited", 3, t)]),
    )
    .await;
    drain(env).await;
    assert_eq!(totals(env, p, ws).await, (4, 1, 1, 2, 0));

    // Hostile updates are skipped: no sid, a non-string sid, no release, a huge sid, junk.
    let huge = format!(
        r#"{{"sid":"{}","init":true,"status":"crashed","attrs":{{"release":"r"}}}}"#,
        "x".repeat(100_000)
    );
    let hostile = envelope(
        None,
        &[
            item("session", br#"{"init":true,"attrs":{"release":"r"}}"#),
            item(
                "session",
                br#"{"sid":7,"init":true,"attrs":{"release":"r"}}"#,
            ),
            item("session", br#"{"sid":"n","init":true,"status":"crashed"}"#),
            item(
                "session",
                br#"{"sid":"  ","init":true,"attrs":{"release":"r"}}"#,
            ),
            item("session", huge.as_bytes()),
            item("session", b"\xff\xfe{"),
        ],
    );
    let hostile_id = submit(env, None, &hostile).await;
    drain(env).await;
    assert_eq!(
        env.store
            .workspace(ws)
            .envelope(hostile_id)
            .await
            .unwrap()
            .unwrap()
            .state,
        EnvelopeState::Done
    );
    // The huge sid counted one (clipped) session of release "r", nothing else did.
    let (from, to) = far();
    let r: Vec<_> = env
        .store
        .workspace(ws)
        .session_counts(p, from, to)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.release == "r")
        .collect();
    assert_eq!((r.len(), r[0].started, r[0].crashed), (1, 1, 1), "{r:?}");

    // Another workspace's session with the same sid is its own session.
    let now = Clock.now();
    let other_ws = env
        .store
        .global()
        .create_workspace("other", "Other", now)
        .await
        .unwrap()
        .id;
    let other = env
        .store
        .workspace(other_ws)
        .create_project("node", "Node", Some("node"), now)
        .await
        .unwrap();
    let raw = envelope(None, &[session("s2", "u2", false, "crashed", 1, t)]);
    let manifest = NewEnvelope {
        project_id: other.id,
        event_id: None,
        received_at: Clock.now(),
        size: raw.len() as i64,
        blob_key: String::new(),
        item_types: vec![],
    };
    let d = DurableEnvelope::inline(other_ws, manifest, &raw).unwrap();
    env.store.global().record_envelopes(&[d]).await.unwrap();
    drain(env).await;
    assert_eq!(totals(env, other.id, other_ws).await, (0, 0, 0, 1, 0));
    assert_eq!(
        totals(env, p, ws).await.3,
        2,
        "the first project is unchanged"
    );

    // Retention forgets sessions silent for longer than the event retention.
    env.store
        .workspace(ws)
        .set_project_processing(
            p,
            &ProjectProcessing {
                event_retention_days: Some(1),
                ..ProjectProcessing::default()
            },
        )
        .await
        .unwrap();
    apply_retention(
        &env.state,
        Clock.now().plus(Duration::from_secs(3 * 86_400)),
    )
    .await
    .unwrap();
    submit(
        env,
        None,
        &envelope(None, &[session("s3", "u3", true, "exited", 0, t)]),
    )
    .await;
    drain(env).await;
    assert_eq!(
        totals(env, p, ws).await,
        (5, 2, 1, 2, 0),
        "a forgotten session counts anew"
    );
}

fn check_in(id: &str, slug: &str, status: &str, extra: &str) -> Vec<u8> {
    envelope(
        None,
        &[item(
            "check_in",
            format!(
                r#"{{"check_in_id":"{id}","monitor_slug":"{slug}","status":"{status}","environment":"prod"{extra}}}"#
            )
            .as_bytes(),
        )],
    )
}

const CONFIG: &str = r#","monitor_config":{"schedule":{"type":"crontab","value":"0 3 * * *"},"timezone":"Europe/Berlin","checkin_margin":5,"max_runtime":30}"#;

async fn check_in_updates_change_one_row(env: &Env) {
    let p = env.project.id;
    let (a, b, c) = (eid(201), eid(202), eid(203));
    // in_progress then ok with the same id: one row, ok, the closing update's duration.
    submit(env, None, &check_in(&a, "nightly", "in_progress", CONFIG)).await;
    drain(env).await;
    submit(
        env,
        None,
        &check_in(&a, "nightly", "ok", r#","duration":1.5,"release":"r@2""#),
    )
    .await;
    drain(env).await;
    let mut s = env.store.workspace(env.ws);
    let rows = s.check_ins(p, "nightly", 10).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0].check_in;
    assert_eq!(
        (
            row.check_in_id.as_str(),
            row.status,
            row.duration_ms,
            row.release.as_deref()
        ),
        (a.as_str(), CheckInStatus::Ok, Some(1500), Some("r@2"))
    );
    let cron = s.cron_monitor(p, "nightly").await.unwrap().unwrap();
    assert_eq!(row.monitor_id, Some(cron.monitor_id));
    // A finished check-in is not reopened or changed by a late update.
    submit(
        env,
        None,
        &check_in(&a, "nightly", "error", r#","duration":9"#),
    )
    .await;
    drain(env).await;
    let rows = s.check_ins(p, "nightly", 10).await.unwrap();
    assert_eq!(
        (
            rows.len(),
            rows[0].check_in.status,
            rows[0].check_in.duration_ms
        ),
        (1, CheckInStatus::Ok, Some(1500))
    );
    assert!(
        s.open_incident_for_monitor(cron.monitor_id)
            .await
            .unwrap()
            .is_none(),
        "the dropped error update did not fail the monitor"
    );

    // in_progress then error without a duration: the time between the two.
    submit(env, None, &check_in(&b, "nightly", "in_progress", "")).await;
    submit(env, None, &check_in(&b, "nightly", "in_progress", "")).await;
    drain(env).await;
    submit(env, None, &check_in(&b, "nightly", "error", "")).await;
    drain(env).await;
    let rows = s.check_ins(p, "nightly", 10).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = rows.iter().find(|r| r.check_in.check_in_id == b).unwrap();
    assert_eq!(row.check_in.status, CheckInStatus::Error);
    assert!(row.check_in.duration_ms.is_some_and(|d| d >= 0), "{row:?}");
    assert!(
        s.open_incident_for_monitor(cron.monitor_id)
            .await
            .unwrap()
            .is_some(),
        "the error closed the run and failed the monitor"
    );

    // The nil id closes the slug's latest check-in in progress.
    submit(env, None, &check_in(&c, "nightly", "in_progress", "")).await;
    drain(env).await;
    let nil = "00000000-0000-0000-0000-000000000000";
    submit(
        env,
        None,
        &check_in(nil, "nightly", "ok", r#","duration":2"#),
    )
    .await;
    drain(env).await;
    let rows = s.check_ins(p, "nightly", 10).await.unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let row = rows.iter().find(|r| r.check_in.check_in_id == c).unwrap();
    assert_eq!(
        (row.check_in.status, row.check_in.duration_ms),
        (CheckInStatus::Ok, Some(2000))
    );
    // With nothing in progress, the nil id is a check-in of its own.
    submit(env, None, &check_in(nil, "nightly", "ok", "")).await;
    drain(env).await;
    assert_eq!(s.check_ins(p, "nightly", 10).await.unwrap().len(), 4);

    // The end arrives before the in_progress that creates the monitor (SDKs send both at
    // once): one row, finished, and the monitor created late still gets its result.
    let d = eid(204);
    submit(env, None, &check_in(&d, "early", "ok", r#","duration":3"#)).await;
    submit(env, None, &check_in(&d, "early", "in_progress", CONFIG)).await;
    drain(env).await;
    let rows = s.check_ins(p, "early", 10).await.unwrap();
    let early = s.cron_monitor(p, "early").await.unwrap().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            rows[0].check_in.status,
            rows[0].check_in.duration_ms,
            rows[0].check_in.monitor_id
        ),
        (CheckInStatus::Ok, Some(3000), Some(early.monitor_id))
    );
    let state = s.monitor_state(early.monitor_id).await.unwrap().unwrap();
    assert_eq!(state.status, MonitorStatus::Up);

    // The same id under another slug is another check-in; hostile ids are clipped.
    submit(env, None, &check_in(&a, "weekly", "error", CONFIG)).await;
    let long = "f".repeat(10_000);
    submit(env, None, &check_in(&long, "weekly", "in_progress", "")).await;
    drain(env).await;
    submit(env, None, &check_in(&long, "weekly", "ok", "")).await;
    drain(env).await;
    let weekly = s.check_ins(p, "weekly", 10).await.unwrap();
    assert_eq!(weekly.len(), 2, "{weekly:?}");
    assert!(
        weekly
            .iter()
            .all(|r| r.check_in.check_in_id.chars().count() <= 64)
    );
    assert!(
        weekly
            .iter()
            .any(|r| r.check_in.status == CheckInStatus::Ok && r.check_in.check_in_id != a)
    );
    assert_eq!(
        s.check_ins(p, "nightly", 10).await.unwrap()[..]
            .iter()
            .filter(|r| r.check_in.check_in_id == a)
            .count(),
        1
    );
}
