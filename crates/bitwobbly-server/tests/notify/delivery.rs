//! The durable side: signatures, retries with backoff, dead rows and replay, Retry-After,
//! 410 Gone, a killed deliverer and a graceful stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bitwobbly_server::notify::{self, AlertKind, CHANNEL_GONE_REASON};
use bitwobbly_store::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::harness::{
    Deliverer, Receiver, Recorded, Reply, alert, both, channel, config, enqueue, now, row, state,
    wait_row, wait_state, workspace,
};

/// Verifies a Standard Webhooks signature independently of the server's code.
fn verify(secret: &str, rec: &Recorded) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 key");
    let id = rec.header("webhook-id").expect("webhook-id");
    let ts = rec.header("webhook-timestamp").expect("webhook-timestamp");
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&rec.body);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
    mac.update(&signed);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    rec.header("webhook-signature")
        .expect("webhook-signature")
        .split(' ')
        .any(|sig| sig.strip_prefix("v1,") == Some(expected.as_str()))
}

/// Asserts that `st`'s metrics count one webhook delivery with `outcome`.
#[track_caller]
fn assert_one_webhook_delivery(st: &bitwobbly_server::AppState, outcome: &str) {
    let metrics = st.metrics.render();
    let line = format!(
        r#"bitwobbly_notification_deliveries_total{{channel="webhook",outcome="{outcome}"}} 1"#
    );
    assert!(metrics.contains(&line), "{line} in {metrics}");
}

/// A webhook channel `name` posting to `receiver`'s `/hook`, signing with `secret`.
async fn webhook(
    store: &Store,
    ws: WorkspaceId,
    name: &str,
    receiver: &Receiver,
    secret: &str,
) -> Channel {
    let config = serde_json::json!({ "url": receiver.url("/hook"), "secret": secret });
    channel(store, ws, name, ChannelKind::Webhook, config).await
}

async fn signed_webhook_carries_the_alert(store: Store) {
    let ws = workspace(&store).await;
    let receiver = Receiver::answering(200).await;
    let secret = notify::new_webhook_secret();
    let ch = webhook(&store, ws, "hook", &receiver, &secret).await;
    let alert = alert(AlertKind::Down);
    let n = enqueue(&store, &ch, &alert).await;
    let st = state(&store, config(), "node-a");
    let d = Deliverer::start(&st);
    let sent = wait_state(&store, ws, n.id, OutboxState::Sent).await;
    d.stop().await;

    assert_eq!(sent.attempts, 1);
    let reqs = receiver.requests();
    assert_eq!(reqs.len(), 1);
    let rec = &reqs[0];
    assert_eq!(rec.method, "POST");
    assert_eq!(rec.path, "/hook");
    assert_eq!(
        rec.header("webhook-id"),
        Some(format!("msg_{}", n.id.0).as_str())
    );
    assert_eq!(rec.header("content-type"), Some("application/json"));
    assert!(rec.header("user-agent").unwrap().starts_with("bitwobbly/"));
    let ts: i64 = rec
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .expect("unix seconds");
    // Receivers refuse timestamps more than 5 minutes off.
    assert!((ts - rec.at.as_millis() / 1000).abs() < 300, "{ts}");
    assert!(verify(&secret, rec), "the signature verifies");
    // A different secret does not verify it.
    assert!(!verify(&notify::new_webhook_secret(), rec));

    let mut body = rec.json();
    assert_eq!(body["type"], "incident.opened");
    body.as_object_mut().unwrap().remove("type");
    assert_eq!(body, serde_json::to_value(&alert).unwrap());
    assert_one_webhook_delivery(&st, "sent");
}

async fn failing_receiver_is_retried_with_growing_delays(store: Store) {
    let ws = workspace(&store).await;
    // At each request, note the row's next_attempt_at: the time the previous failure set.
    let seen: Arc<std::sync::Mutex<Vec<Timestamp>>> = Arc::default();
    let outbox = Arc::new(std::sync::Mutex::new(None::<OutboxId>));
    let receiver = {
        let store = store.clone();
        let seen = seen.clone();
        let outbox = outbox.clone();
        Receiver::start(Arc::new(move |n, _| {
            let store = store.clone();
            let seen = seen.clone();
            let id = outbox.lock().unwrap().expect("the row id is known");
            Box::pin(async move {
                let r = row(&store, ws, id).await;
                seen.lock().unwrap().push(r.next_attempt_at);
                Reply::status(if n < 2 { 500 } else { 200 }).body("boom")
            })
        }))
        .await
    };
    let secret = notify::new_webhook_secret();
    let ch = webhook(&store, ws, "hook", &receiver, &secret).await;
    let n = enqueue(&store, &ch, &alert(AlertKind::Down)).await;
    *outbox.lock().unwrap() = Some(n.id);
    let mut cfg = config();
    cfg.notifier.max_attempts = 5;
    cfg.notifier.initial_backoff = Duration::from_millis(300);
    cfg.notifier.max_backoff = Duration::from_secs(5);
    let initial = cfg.notifier.initial_backoff;
    let st = state(&store, cfg, "node-a");
    let d = Deliverer::start(&st);
    let sent = wait_state(&store, ws, n.id, OutboxState::Sent).await;
    d.stop().await;

    assert_eq!(sent.attempts, 3);
    assert_eq!(sent.last_error, None);
    let reqs = receiver.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(
            r.header("webhook-id"),
            Some(format!("msg_{}", n.id.0).as_str())
        );
        assert!(verify(&secret, r));
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let ms = |d: Duration| d.as_millis() as i64;
    // First retry: at least half the initial backoff after the first attempt was due.
    let first_gap = seen[1].as_millis() - seen[0].as_millis();
    assert!(first_gap >= ms(initial) / 2, "{seen:?}");
    // Second retry: the backoff doubled, so at least the whole initial backoff after the
    // second attempt was due.
    let second_gap = seen[2].as_millis() - seen[1].as_millis();
    assert!(second_gap >= ms(initial), "{seen:?}");
    assert!(seen[0] < seen[1] && seen[1] < seen[2], "{seen:?}");
}

async fn dead_row_is_replayed_with_the_same_id(store: Store) {
    let ws = workspace(&store).await;
    let healthy = Arc::new(AtomicBool::new(false));
    let receiver = {
        let healthy = healthy.clone();
        Receiver::start(Arc::new(move |_, _| {
            let ok = healthy.load(Ordering::SeqCst);
            Box::pin(async move {
                if ok {
                    Reply::status(204)
                } else {
                    Reply::status(502).body("upstream down")
                }
            })
        }))
        .await
    };
    let secret = notify::new_webhook_secret();
    let ch = webhook(&store, ws, "hook", &receiver, &secret).await;
    let n = enqueue(&store, &ch, &alert(AlertKind::Down)).await;
    let st = state(&store, config(), "node-a");
    let d = Deliverer::start(&st);
    let dead = wait_state(&store, ws, n.id, OutboxState::Dead).await;
    assert_eq!(dead.attempts, 3);
    let err = dead.last_error.clone().unwrap_or_default();
    assert!(
        err.contains("502") && err.contains("upstream down"),
        "{err}"
    );
    assert_eq!(receiver.requests().len(), 3);
    let listed = store.workspace(ws).dead_notifications(10).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![n.id]);

    healthy.store(true, Ordering::SeqCst);
    store
        .workspace(ws)
        .replay_notification(n.id, now())
        .await
        .unwrap();
    let sent = wait_state(&store, ws, n.id, OutboxState::Sent).await;
    d.stop().await;
    assert_eq!(sent.attempts, 1, "a replay starts a fresh attempt count");
    let reqs = receiver.requests();
    assert_eq!(reqs.len(), 4);
    let id = format!("msg_{}", n.id.0);
    assert!(
        reqs.iter()
            .all(|r| r.header("webhook-id") == Some(id.as_str()))
    );
    assert!(verify(&secret, &reqs[3]));
    assert_one_webhook_delivery(&st, "dead");
}

async fn retry_after_is_honoured_and_capped(store: Store) {
    let ws = workspace(&store).await;
    let receiver = Receiver::sequence(vec![Reply::status(429).header("retry-after", "30")]).await;
    let capped = Receiver::sequence(vec![Reply::status(503).header("retry-after", "3600")]).await;
    let a = webhook(&store, ws, "a", &receiver, &notify::new_webhook_secret()).await;
    let b = channel(
        &store,
        ws,
        "b",
        ChannelKind::Slack,
        serde_json::json!({ "url": capped.url("/slack") }),
    )
    .await;
    let na = enqueue(&store, &a, &alert(AlertKind::Down)).await;
    let nb = enqueue(&store, &b, &alert(AlertKind::Down)).await;
    let mut cfg = config();
    cfg.notifier.initial_backoff = Duration::from_millis(100);
    cfg.notifier.max_backoff = Duration::from_secs(60);
    let st = state(&store, cfg, "node-a");
    let d = Deliverer::start(&st);
    let waiting =
        |r: &Notification| r.attempts == 1 && r.lease_owner.is_none() && r.last_error.is_some();
    let ra = wait_row(&store, ws, na.id, "waiting for a retry", waiting).await;
    let rb = wait_row(&store, ws, nb.id, "waiting for a retry", waiting).await;
    let observed = now();
    d.stop().await;

    let asked = receiver.requests()[0].at;
    assert!(
        ra.next_attempt_at.as_millis() >= asked.as_millis() + 30_000,
        "Retry-After 30 s is honoured: asked at {asked}, next at {}",
        ra.next_attempt_at
    );
    assert!(ra.last_error.unwrap().contains("429"));
    // A Retry-After longer than max_backoff is capped at max_backoff.
    let asked = capped.requests()[0].at;
    assert!(
        rb.next_attempt_at.as_millis() >= asked.as_millis() + 60_000,
        "{rb:?}"
    );
    assert!(
        rb.next_attempt_at.as_millis() <= observed.as_millis() + 60_000,
        "{rb:?}"
    );
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(capped.requests().len(), 1);
}

async fn gone_disables_the_channel_and_tells_the_others(store: Store) {
    let ws = workspace(&store).await;
    let gone = Receiver::answering(410).await;
    let other = Receiver::answering(200).await;
    let disabled_other = Receiver::answering(200).await;
    let a = webhook(&store, ws, "old-hook", &gone, &notify::new_webhook_secret()).await;
    let b = webhook(
        &store,
        ws,
        "team-hook",
        &other,
        &notify::new_webhook_secret(),
    )
    .await;
    let c = channel(
        &store,
        ws,
        "off",
        ChannelKind::Slack,
        serde_json::json!({ "url": disabled_other.url("/") }),
    )
    .await;
    store
        .workspace(ws)
        .set_channel_enabled(c.id, false, None)
        .await
        .unwrap();
    let n = enqueue(&store, &a, &alert(AlertKind::Down)).await;
    let st = state(&store, config(), "node-a");
    let d = Deliverer::start(&st);
    let dead = wait_state(&store, ws, n.id, OutboxState::Dead).await;
    let told = other.wait_for(1).await;
    d.stop().await;

    assert_eq!(dead.attempts, 1, "410 is not retried");
    assert!(dead.last_error.unwrap().contains("410"));
    let a = store.workspace(ws).channel(a.id).await.unwrap().unwrap();
    assert!(!a.enabled);
    assert_eq!(a.disabled_reason.as_deref(), Some(CHANNEL_GONE_REASON));
    assert_eq!(gone.requests().len(), 1);
    assert_eq!(told.len(), 1);
    let body = told[0].json();
    assert_eq!(body["type"], "channel.disabled");
    assert_eq!(body["kind"], "channel_disabled");
    assert_eq!(body["monitor"], "old-hook");
    assert!(
        body["reason"].as_str().unwrap().contains("410 Gone"),
        "{body}"
    );
    assert!(
        disabled_other.requests().is_empty(),
        "a disabled channel is not told"
    );
    let b = store.workspace(ws).channel(b.id).await.unwrap().unwrap();
    assert!(b.enabled);

    // Later alerts for the disabled channel go dead at once, without a request.
    let later = enqueue(&store, &a, &alert(AlertKind::Recovered)).await;
    let d = Deliverer::start(&st_again(&store));
    let dead = wait_state(&store, ws, later.id, OutboxState::Dead).await;
    d.stop().await;
    assert!(dead.last_error.unwrap().contains("disabled"));
    assert_eq!(gone.requests().len(), 1);
}

fn st_again(store: &Store) -> bitwobbly_server::AppState {
    state(store, config(), "node-b")
}

async fn killed_deliverer_loses_nothing(store: Store) {
    let ws = workspace(&store).await;
    // The receiver hangs until released: the first deliverer dies mid-send.
    let release = Arc::new(tokio::sync::Notify::new());
    let hanging = Arc::new(AtomicBool::new(true));
    let receiver = {
        let release = release.clone();
        let hanging = hanging.clone();
        Receiver::start(Arc::new(move |_, _| {
            let release = release.clone();
            let hang = hanging.load(Ordering::SeqCst);
            Box::pin(async move {
                if hang {
                    release.notified().await;
                }
                Reply::status(200)
            })
        }))
        .await
    };
    let secret = notify::new_webhook_secret();
    let ch = webhook(&store, ws, "hook", &receiver, &secret).await;
    let first = enqueue(&store, &ch, &alert(AlertKind::Down)).await;
    let mut cfg = config();
    cfg.notifier.send_timeout = Duration::from_secs(1);
    let st = state(&store, cfg.clone(), "node-a");
    let d = Deliverer::start(&st);
    receiver.wait_for(1).await;
    d.kill().await;
    // More alerts arrive while no deliverer runs, and another node claims two and dies too.
    let second = enqueue(&store, &ch, &alert(AlertKind::Recovered)).await;
    let third = enqueue(&store, &ch, &alert(AlertKind::Degraded)).await;
    let claimed = store
        .global()
        .claim_notifications("node-x", now(), Duration::from_secs(1), 10)
        .await
        .unwrap();
    let claimed: Vec<OutboxId> = claimed.iter().map(|r| r.id).collect();
    assert!(claimed.contains(&second.id) && claimed.contains(&third.id));
    let r = row(&store, ws, first.id).await;
    assert_eq!(r.state, OutboxState::Pending, "nothing is lost");
    assert!(
        r.lease_owner.is_some(),
        "a dead node's lease stays until it expires"
    );

    hanging.store(false, Ordering::SeqCst);
    release.notify_waiters();
    let st = state(&store, cfg, "node-b");
    let d = Deliverer::start(&st);
    for n in [&first, &second, &third] {
        wait_state(&store, ws, n.id, OutboxState::Sent).await;
    }
    d.stop().await;

    let reqs = receiver.requests();
    let ids: Vec<&str> = reqs
        .iter()
        .map(|r| r.header("webhook-id").expect("webhook-id"))
        .collect();
    let expected: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|n| format!("msg_{}", n.id.0))
        .collect();
    // Every request is one of the three alerts, each alert arrived, and the interrupted one
    // was sent again under the same id.
    assert!(
        ids.iter().all(|id| expected.iter().any(|e| e == id)),
        "{ids:?}"
    );
    for id in &expected[1..] {
        assert!(ids.contains(&id.as_str()), "{id} in {ids:?}");
    }
    assert!(
        ids.iter().filter(|id| **id == expected[0]).count() >= 2,
        "the interrupted send is repeated with the same id: {ids:?}"
    );
    assert!(reqs.iter().all(|r| verify(&secret, r)));
}

async fn graceful_stop_gives_back_leases(store: Store) {
    let ws = workspace(&store).await;
    let release = Arc::new(tokio::sync::Notify::new());
    let receiver = {
        let release = release.clone();
        Receiver::start(Arc::new(move |n, _| {
            let release = release.clone();
            Box::pin(async move {
                if n == 0 {
                    release.notified().await;
                }
                Reply::status(200)
            })
        }))
        .await
    };
    let ch = webhook(&store, ws, "hook", &receiver, &notify::new_webhook_secret()).await;
    let n = enqueue(&store, &ch, &alert(AlertKind::Down)).await;
    let mut cfg = config();
    // The send hangs past the grace: the stop abandons it and releases the lease.
    cfg.shutdown_grace = Duration::from_millis(200);
    cfg.notifier.send_timeout = Duration::from_secs(20);
    let st = state(&store, cfg.clone(), "node-a");
    let d = Deliverer::start(&st);
    receiver.wait_for(1).await;
    d.stop().await;
    let r = row(&store, ws, n.id).await;
    assert_eq!(r.state, OutboxState::Pending);
    assert_eq!(r.lease_owner, None, "the lease is given back");
    assert_eq!(r.attempts, 1, "the attempt still counts");
    release.notify_waiters();

    let d = Deliverer::start(&state(&store, cfg, "node-b"));
    wait_state(&store, ws, n.id, OutboxState::Sent).await;
    d.stop().await;
    let reqs = receiver.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("webhook-id"), reqs[1].header("webhook-id"));
}

async fn private_targets_are_refused_when_denied(store: Store) {
    let ws = workspace(&store).await;
    let receiver = Receiver::answering(200).await;
    let by_ip = webhook(&store, ws, "ip", &receiver, &notify::new_webhook_secret()).await;
    let by_name = channel(
        &store,
        ws,
        "name",
        ChannelKind::Webhook,
        serde_json::json!({ "url": format!("http://localhost:{}/hook", receiver.port()) }),
    )
    .await;
    let mut cfg = config();
    cfg.targets.deny_private = true;
    let st = state(&store, cfg, "node-a");
    for ch in [&by_ip, &by_name] {
        let e = notify::send_test(&st, ws, ch.id).await.unwrap_err();
        assert_eq!(e.status.as_u16(), 502);
        assert_eq!(e.code, "channel_failed");
        assert!(e.message.contains("loopback"), "{}", e.message);
    }
    assert!(receiver.requests().is_empty());
    // Allowed by default.
    let st = state(&store, config(), "node-a");
    notify::send_test(&st, ws, by_ip.id).await.unwrap();
    notify::send_test(&st, ws, by_name.id).await.unwrap();
    assert_eq!(receiver.requests().len(), 2);
}

both!(
    signed_webhook_carries_the_alert,
    failing_receiver_is_retried_with_growing_delays,
    dead_row_is_replayed_with_the_same_id,
    retry_after_is_honoured_and_capped,
    gone_disables_the_channel_and_tells_the_others,
    killed_deliverer_loses_nothing,
    graceful_stop_gives_back_leases,
    private_targets_are_refused_when_denied,
);
