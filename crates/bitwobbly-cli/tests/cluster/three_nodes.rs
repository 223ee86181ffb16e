//! Three `serve` nodes on one PostgreSQL database and one S3 bucket, with distinct node
//! names, read back through the API and the database:
//!
//! 1. monitors are checked once per interval (request counts at the target and result rows
//!    agree with the elapsed intervals; no two checks of a monitor closer than half an
//!    interval);
//! 2. envelopes sent to all three nodes are each processed once (exact issue counts);
//! 3. alerts are delivered once each (one request per outbox row's webhook-id);
//! 4. a monitor transition changes the public page another node serves from its cache;
//! 5. one node is SIGKILLed while checks, envelopes and slow deliveries are in flight: every
//!    envelope answered `200` is processed, every alert is delivered (at least once, same
//!    webhook-id), and the monitors keep being checked.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitwobbly_test_support::moto::Moto;
use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::harness::{
    Api, Backend, Db, Receiver, Target, WEBHOOK_SECRET, admin_token, client, eager, metric_sum, ok,
    wait_until,
};
use crate::{
    BUCKET, PREFIX, create_project, envelope, issue_counts, node_env, noise, page_status,
    post_envelope, start_node,
};

const MONITORS: usize = 12;
const INTERVAL: Duration = Duration::from_secs(10);
/// Envelopes of the first phase, and the fingerprints they are spread over.
const ENVELOPES: usize = 60;
const KINDS: usize = 6;

/// Milliseconds since the epoch of a test-clock instant.
struct WallClock {
    at: Instant,
    wall: OffsetDateTime,
}

impl WallClock {
    fn now() -> Self {
        Self {
            at: Instant::now(),
            wall: OffsetDateTime::now_utc(),
        }
    }

    fn millis(&self, t: Instant) -> i64 {
        let offset = if t >= self.at {
            time::Duration::try_from(t - self.at).expect("offset")
        } else {
            -time::Duration::try_from(self.at - t).expect("offset")
        };
        i64::try_from((self.wall + offset).unix_timestamp_nanos() / 1_000_000).expect("millis")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // the summary line tells the reader what the run exercised
async fn three_nodes_share_the_work_once_and_survive_a_kill() {
    let moto = Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let db = Db::new(Backend::Postgres).await;
    let target = Target::start().await;
    let receiver = Receiver::start().await;
    let envs: Vec<_> = (1..=3)
        .map(|i| node_env(&format!("node-{i}"), &moto))
        .collect();
    // Started together: three migrators race (PostgreSQL's advisory lock orders them).
    let (n1, n2, n3) = tokio::join!(
        start_node(&db, &envs[0]),
        start_node(&db, &envs[1]),
        start_node(&db, &envs[2]),
    );
    let mut nodes = vec![n1, n2, n3];
    let token = admin_token(&db, "ops@example.com", "acme").await;
    let apis: Vec<Api> = nodes.iter().map(|n| Api::new(n, "acme", &token)).collect();
    let api = &apis[0];

    // A webhook channel hears about every monitor and about new issues.
    let hook = api
        .post(
            "/channels",
            json!({"name": "Hook", "kind": "webhook",
                   "config": {"url": receiver.url(), "secret": WEBHOOK_SECRET}}),
        )
        .await;
    let hook_id = hook["id"].as_i64().expect("channel id");
    let (project, key) = create_project(api, "Shop", &[hook_id]).await;
    let mut ids = Vec::new();
    for i in 0..MONITORS {
        // Created through each node in turn.
        let m = apis[i % 3]
            .post(
                "/monitors",
                json!({"name": format!("m{i}"),
                       "spec": {"type": "http", "url": target.url(&format!("/t/m{i}")),
                                "assertions": [ok()]},
                       "schedule": {"type": "interval", "every": "10s"},
                       "thresholds": eager()}),
            )
            .await;
        let id = m["id"].as_i64().expect("monitor id");
        api.put(
            &format!("/monitors/{id}/channels"),
            json!({"channel_ids": [hook_id]}),
        )
        .await;
        ids.push(id);
    }
    let names: Vec<String> = (0..MONITORS).map(|i| format!("m{i}")).collect();
    let page = api
        .post("/pages", json!({"slug": "cluster", "title": "Cluster"}))
        .await;
    api.post(
        &format!("/pages/{}/components", page["id"]),
        json!({"name": "Checkout", "monitor_id": ids[0]}),
    )
    .await;

    // The first check runs at creation; from the second on, the schedule rules.
    wait_until("every monitor checked twice", || async {
        let hits = target.all_hits();
        names
            .iter()
            .all(|n| hits.get(n).is_some_and(|h| h.len() >= 2))
    })
    .await;
    let clock = WallClock::now();
    let from = Instant::now();

    // === 2. envelopes, spread over the three nodes ===
    let http = client();
    let bases: Vec<String> = nodes.iter().map(|n| n.url("")).collect();
    let mut sent: HashMap<String, i64> = HashMap::new();
    let mut event_ids = Vec::new();
    for i in 0..ENVELOPES {
        let kind = format!("Kind{}Error", i % KINDS);
        let event_id = format!("{:032x}", 0x1000 + i);
        let status = post_envelope(
            &http,
            &bases[i % 3],
            project,
            &key,
            envelope(&event_id, &kind, None),
        )
        .await;
        assert_eq!(status, Some(StatusCode::OK), "envelope {i}");
        *sent.entry(format!("{kind}: boom")).or_default() += 1;
        event_ids.push(event_id);
    }
    // Three large ones (blobs in the bucket), each with an attachment.
    let big: Vec<Vec<u8>> = (0..3).map(|i| noise(100 * 1024, i + 1)).collect();
    for (i, bytes) in big.iter().enumerate() {
        let event_id = format!("{:032x}", 0x2000 + i);
        let status = post_envelope(
            &http,
            &bases[i],
            project,
            &key,
            envelope(&event_id, "BigError", Some(bytes)),
        )
        .await;
        assert_eq!(status, Some(StatusCode::OK), "large envelope {i}");
        event_ids.push(event_id);
    }
    sent.insert("BigError: boom".to_owned(), 3);
    wait_until("every envelope processed", || async {
        issue_counts(api, project).await == sent
    })
    .await;
    let events = db
        .count(&format!(
            "SELECT count(*) FROM events WHERE project_id = {project}"
        ))
        .await;
    assert_eq!(events, (ENVELOPES + 3) as i64);
    assert_eq!(
        db.count("SELECT count(DISTINCT lease_owner) FROM envelopes WHERE state = 'done'")
            .await,
        0,
        "leases are given back"
    );
    for (i, bytes) in big.iter().enumerate() {
        // Each attachment downloads from a node other than the one that took it.
        let other = &apis[(i + 1) % 3];
        let event_id = format!("{:032x}", 0x2000 + i);
        let list = other
            .get(&format!(
                "/projects/{project}/events/{event_id}/attachments"
            ))
            .await;
        let att = &list.as_array().expect("attachments")[0];
        let res = http
            .get(nodes[(i + 1) % 3].url(&format!(
                "/api/v1/workspaces/acme/projects/{project}/attachments/{}",
                att["id"]
            )))
            .bearer_auth(&token)
            .send()
            .await
            .expect("download");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    }
    assert!(
        moto.list_keys(BUCKET, PREFIX).await.len() >= 6,
        "three envelopes and three attachments in the bucket"
    );

    // === 4. a transition, seen through node 1, changes the page node 2 has cached ===
    assert_eq!(
        page_status(&nodes[1], "cluster", "Checkout").await,
        "operational"
    );
    assert_eq!(
        page_status(&nodes[1], "cluster", "Checkout").await,
        "operational"
    );
    target.set_failing(true);
    wait_until("every monitor down (via node 1)", || async {
        for id in &ids {
            if api.status(*id).await != "down" {
                return false;
            }
        }
        true
    })
    .await;
    wait_until("node 2's cached page to show the outage", || async {
        page_status(&nodes[1], "cluster", "Checkout").await == "major_outage"
    })
    .await;
    target.set_failing(false);
    wait_until("every monitor up again (via node 3)", || async {
        for id in &ids {
            if apis[2].status(*id).await != "up" {
                return false;
            }
        }
        true
    })
    .await;
    wait_until("node 3's page to show recovery", || async {
        page_status(&nodes[2], "cluster", "Checkout").await == "operational"
    })
    .await;

    // === 1. once per interval, over three whole intervals ===
    let until = from + INTERVAL * 3;
    tokio::time::sleep_until(until + Duration::from_secs(2)).await;
    let hits = target.all_hits();
    for (n, id) in names.iter().zip(&ids) {
        let all = &hits[n];
        let seen: Vec<Instant> = all
            .iter()
            .copied()
            .filter(|t| *t >= from && *t < until)
            .collect();
        assert!(
            (2..=4).contains(&seen.len()),
            "{n} was checked {} times in three intervals",
            seen.len()
        );
        for pair in all[1..].windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= INTERVAL / 2 && gap <= INTERVAL + INTERVAL / 2,
                "{n}: two checks {gap:?} apart"
            );
        }
        // One result row per request, no more, no fewer (margins of 2 s either side hold no
        // other check: they are at least 5 s apart).
        let lo = clock.millis(seen[0]) - 2000;
        let hi = clock.millis(*seen.last().expect("a check")) + 2000;
        let rows = api
            .get(&format!(
                "/monitors/{id}/results?from={lo}&to={hi}&limit=1000"
            ))
            .await;
        assert_eq!(
            rows["items"].as_array().expect("results").len(),
            seen.len(),
            "{n}: result rows against requests"
        );
    }
    let per_node: Vec<f64> = {
        let mut v = Vec::new();
        for n in &nodes {
            v.push(metric_sum(&n.metrics().await, "bitwobbly_checks_total"));
        }
        v
    };
    assert!(
        per_node.iter().filter(|c| **c > 0.0).count() >= 2,
        "the checks are shared: {per_node:?}"
    );

    // === 3. every alert so far delivered exactly once ===
    let expected_alerts = 2 * MONITORS + (KINDS + 1);
    wait_until("every alert sent", || async {
        let rows = api.notifications().await;
        rows.len() == expected_alerts && rows.iter().all(|r| r["state"] == "sent")
    })
    .await;
    let rows = api.notifications().await;
    let outbox: HashSet<String> = rows.iter().map(|r| format!("msg_{}", r["id"])).collect();
    let deliveries = receiver.deliveries();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for d in &deliveries {
        assert!(d.signed && d.accepted, "{d:?}");
        *per_id.entry(d.id.as_str()).or_default() += 1;
    }
    assert_eq!(per_id.len(), expected_alerts, "{per_id:?}");
    for id in &outbox {
        assert_eq!(
            per_id.get(id.as_str()),
            Some(&1),
            "{id} delivered {per_id:?}"
        );
    }
    let events: HashMap<&str, usize> = rows.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r["event"].as_str().expect("event")).or_default() += 1;
        m
    });
    assert_eq!(events["incident.opened"], MONITORS, "{events:?}");
    assert_eq!(events["incident.resolved"], MONITORS, "{events:?}");
    assert_eq!(events["issue.created"], KINDS + 1, "{events:?}");

    // === 5. a node dies mid-work ===
    receiver.set_delay(Duration::from_millis(1500));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let unanswered = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mut sender = tokio::task::JoinSet::new();
    {
        let (stop, accepted, unanswered) = (stop.clone(), accepted.clone(), unanswered.clone());
        let (bases, key, http) = (bases.clone(), key.clone(), http.clone());
        sender.spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                // Each kind goes to every node in turn.
                let kind = format!("Late{}Error", (i / 3) % 3);
                let event_id = format!("{:032x}", 0x10_0000 + i);
                let got = post_envelope(
                    &http,
                    &bases[i % 3],
                    project,
                    &key,
                    envelope(&event_id, &kind, None),
                )
                .await;
                let entry = (event_id, format!("{kind}: boom"));
                match got {
                    Some(StatusCode::OK) => accepted.lock().unwrap().push(entry),
                    _ => unanswered.lock().unwrap().push(entry),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    target.set_failing(true);
    // Kill the node that holds a delivery lease at that moment.
    let started = Instant::now();
    let victim = 'found: loop {
        for i in 0..3 {
            let held = db
                .count(&format!(
                    "SELECT count(*) FROM outbox WHERE state = 'pending' \
                     AND lease_owner = 'node-{}'",
                    i + 1
                ))
                .await;
            if held > 0 {
                break 'found i;
            }
        }
        assert!(
            started.elapsed() < crate::harness::DEADLINE,
            "no node ever held a delivery in flight"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let killed_at = Instant::now();
    nodes[victim].kill().await;
    // What it held when it died (its leases stay until they expire).
    let in_flight = db
        .text(&format!(
            "SELECT string_agg('msg_' || id::text, ',') FROM outbox \
             WHERE state = 'pending' AND lease_owner = 'node-{}'",
            victim + 1
        ))
        .await
        .unwrap_or_default();
    let survivor = &apis[(victim + 1) % 3];

    wait_until("every monitor down after the kill", || async {
        for id in &ids {
            if survivor.status(*id).await != "down" {
                return false;
            }
        }
        true
    })
    .await;
    target.set_failing(false);
    wait_until("every monitor up again after the kill", || async {
        for id in &ids {
            if survivor.status(*id).await != "up" {
                return false;
            }
        }
        true
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    sender
        .join_next()
        .await
        .expect("the sender")
        .expect("the sender ran");

    // Every envelope answered 200 is processed, once.
    let accepted = accepted.lock().unwrap().clone();
    let unanswered = unanswered.lock().unwrap().clone();
    assert!(
        accepted.len() >= 30,
        "{} envelopes accepted",
        accepted.len()
    );
    wait_until("every accepted envelope processed", || async {
        db.count("SELECT count(*) FROM envelopes WHERE state <> 'done'")
            .await
            == 0
    })
    .await;
    let counts = issue_counts(survivor, project).await;
    for kind in 0..3 {
        let title = format!("Late{kind}Error: boom");
        let ok = accepted.iter().filter(|(_, t)| *t == title).count() as i64;
        let maybe = unanswered.iter().filter(|(_, t)| *t == title).count() as i64;
        let got = counts.get(&title).copied().unwrap_or_default();
        assert!(ok > 0, "{title}: nothing accepted");
        assert!(
            got >= ok && got <= ok + maybe,
            "{title}: {got} events, {ok} accepted, {maybe} unanswered"
        );
    }
    for (event_id, _) in &accepted {
        survivor
            .get(&format!("/projects/{project}/events/{event_id}"))
            .await;
    }
    let events = db
        .count(&format!(
            "SELECT count(*) FROM events WHERE project_id = {project}"
        ))
        .await;
    let counted: i64 = counts.values().sum();
    assert_eq!(events, counted, "issue counts match the stored events");

    // Every alert is delivered, at least once, under its own webhook-id.
    wait_until("every alert sent after the kill", || async {
        let rows = survivor.notifications().await;
        rows.len() >= expected_alerts + 2 * MONITORS && rows.iter().all(|r| r["state"] == "sent")
    })
    .await;
    let rows = survivor.notifications().await;
    let outbox: HashSet<String> = rows.iter().map(|r| format!("msg_{}", r["id"])).collect();
    let deliveries = receiver.deliveries();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for d in &deliveries {
        assert!(d.signed, "{d:?}");
        assert!(outbox.contains(&d.id), "an unknown webhook-id {}", d.id);
        if d.accepted {
            *per_id.entry(d.id.as_str()).or_default() += 1;
        }
    }
    for id in &outbox {
        assert!(per_id.contains_key(id.as_str()), "{id} was never delivered");
    }
    // Only what the dead node had in flight may arrive twice.
    let in_flight: HashSet<&str> = in_flight.split(',').filter(|s| !s.is_empty()).collect();
    for (id, n) in &per_id {
        assert!(
            *n == 1 || in_flight.contains(id),
            "{id} delivered {n} times without being in flight on the dead node"
        );
    }

    // The monitors kept being checked after the kill.
    wait_until("every monitor checked twice after the kill", || async {
        let hits = target.all_hits();
        names
            .iter()
            .all(|n| hits[n].iter().filter(|t| **t > killed_at).count() >= 2)
    })
    .await;
    eprintln!(
        "cluster summary: checks per node before the kill {per_node:?}; node-{} killed holding \
         {} deliveries; {} deliveries repeated; {} envelopes accepted during the kill, {} not \
         answered; {} alerts in all",
        victim + 1,
        in_flight.len(),
        per_id.values().filter(|n| **n > 1).count(),
        accepted.len(),
        unanswered.len(),
        outbox.len(),
    );
    for (i, node) in nodes.iter().enumerate() {
        if i != victim {
            assert!(!node.logs().contains("panicked"), "{}", node.logs());
        }
    }
    drop(nodes);
    db.finish().await;
}
