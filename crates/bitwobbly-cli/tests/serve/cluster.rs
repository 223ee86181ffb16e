//! Two `serve` processes on one PostgreSQL database share 200 monitors: each monitor is
//! checked once per interval and never twice, both nodes work, and when one is killed the
//! other takes over its monitors once their leases expire.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::time::Instant;

use crate::harness::{Backend, Db, Node, Target, admin_token, bitwobbly, metric_sum, wait_until};

const MONITORS: usize = 200;
const INTERVAL: Duration = Duration::from_secs(10);

/// Gaps between two checks of one monitor that still mean "once per interval": a check
/// may start late by up to half an interval, never twice within one.
fn gap_ok(gap: Duration) -> bool {
    gap >= INTERVAL / 2 && gap <= INTERVAL + INTERVAL / 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_200_monitors_and_one_takes_over() {
    let db = Db::new(Backend::Postgres).await;
    let target = Target::start().await;
    let env_a = [
        ("BITWOBBLY_NODE_NAME", "node-a"),
        ("BITWOBBLY_SCHEDULER__LEASE", "5s"),
    ];
    let env_b = [
        ("BITWOBBLY_NODE_NAME", "node-b"),
        ("BITWOBBLY_SCHEDULER__LEASE", "5s"),
    ];
    let mut a = Node::start(&db, &env_a).await;
    let b = Node::start(&db, &env_b).await;
    admin_token(&db, "ops@example.com", "acme").await;

    // 200 monitors, declared in a file and applied while both nodes run.
    let mut doc = String::new();
    for i in 0..MONITORS {
        writeln!(
            doc,
            "[[monitor]]\nkey = \"m{i}\"\nname = \"Monitor {i}\"\n\
             spec = {{ type = \"http\", url = \"{}\" }}\n\
             schedule = {{ type = \"interval\", every = \"10s\" }}\n",
            target.url(&format!("/t/m{i}"))
        )
        .unwrap();
    }
    let file = db.dir().join("monitors.toml");
    std::fs::write(&file, doc).unwrap();
    let mut args = vec![
        "apply".to_owned(),
        file.display().to_string(),
        "--workspace".to_owned(),
        "acme".to_owned(),
    ];
    args.extend(db.args());
    let out = bitwobbly(&args, "", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("200 created"), "{}", out.stdout);

    let names: Vec<String> = (0..MONITORS).map(|i| format!("m{i}")).collect();
    wait_until("every monitor checked once", || async {
        let hits = target.all_hits();
        names
            .iter()
            .all(|n| hits.get(n).is_some_and(|h| !h.is_empty()))
    })
    .await;

    // Several intervals with both nodes.
    let from = Instant::now();
    tokio::time::sleep(INTERVAL * 3 + Duration::from_secs(2)).await;
    let to = Instant::now();
    let hits = target.all_hits();
    for n in &names {
        let seen: Vec<Instant> = hits[n]
            .iter()
            .copied()
            .filter(|t| *t >= from && *t <= to)
            .collect();
        assert!(
            (2..=5).contains(&seen.len()),
            "{n} was checked {} times in {:?}",
            seen.len(),
            to - from
        );
        // The first check runs at creation, off the schedule; from the second on, one per
        // interval.
        for pair in hits[n][1..].windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap_ok(gap), "{n}: two checks {gap:?} apart");
        }
    }
    let checks_a = metric_sum(&a.metrics().await, "bitwobbly_checks_total");
    let checks_b = metric_sum(&b.metrics().await, "bitwobbly_checks_total");
    assert!(
        checks_a > 0.0 && checks_b > 0.0,
        "a: {checks_a}, b: {checks_b}"
    );

    // Node A dies without giving anything back; B takes everything over.
    a.kill().await;
    let killed = Instant::now();
    wait_until(
        "node B to check every monitor twice after the kill",
        || async {
            let hits = target.all_hits();
            names.iter().all(|n| {
                hits.get(n)
                    .is_some_and(|h| h.iter().filter(|t| **t > killed).count() >= 2)
            })
        },
    )
    .await;
    let checks_b_after = metric_sum(&b.metrics().await, "bitwobbly_checks_total");
    assert!(
        checks_b_after - checks_b >= (2 * MONITORS) as f64,
        "b checked {} more",
        checks_b_after - checks_b
    );
    drop(b);
    db.finish().await;
}
