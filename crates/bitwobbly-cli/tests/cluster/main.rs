//! Several real `bitwobbly serve` processes on one PostgreSQL database and one S3 bucket
//! (moto's server), the way a multi-node deployment runs them:
//!
//! - `three_nodes`: three nodes share monitors (each checked once per interval), envelopes
//!   (each processed once), alerts (each delivered once) and public page caches; one node is
//!   killed (SIGKILL) mid-work and nothing it had accepted is lost.
//! - `blobs`: one node with `[blobs] backend = "s3"`: a large envelope goes to the bucket, is
//!   processed and its attachment downloads; readiness fails while the bucket is missing.
//!
//! Everything listens on loopback. Conditions are polled with generous deadlines, never
//! timed.

// The process harness of the `serve` tests, shared rather than copied; this target uses a
// part of it.
#[allow(dead_code)]
#[path = "../serve/harness.rs"]
mod harness;

mod blobs;
mod three_nodes;

use bitwobbly_test_support::moto::Moto;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Api, Db, Node, client};

/// The bucket every node shares.
pub(crate) const BUCKET: &str = "bw-cluster";
/// The key prefix the nodes use inside it.
pub(crate) const PREFIX: &str = "cluster/blobs";

/// The environment that points a node at the moto bucket, names it, and shortens the lease
/// and polling settings so that a dead node's work moves on within seconds.
pub(crate) fn node_env(name: &str, moto: &Moto) -> Vec<(String, String)> {
    [
        ("BITWOBBLY_NODE_NAME", name.to_owned()),
        ("BITWOBBLY_BLOBS__BACKEND", "s3".to_owned()),
        ("BITWOBBLY_BLOBS__S3__BUCKET", BUCKET.to_owned()),
        ("BITWOBBLY_BLOBS__S3__ENDPOINT", moto.endpoint()),
        ("BITWOBBLY_BLOBS__S3__ALLOW_HTTP", "true".to_owned()),
        ("BITWOBBLY_BLOBS__S3__PREFIX", PREFIX.to_owned()),
        (
            "BITWOBBLY_BLOBS__S3__ACCESS_KEY_ID",
            Moto::ACCESS_KEY_ID.to_owned(),
        ),
        (
            "BITWOBBLY_BLOBS__S3__SECRET_ACCESS_KEY",
            Moto::SECRET_ACCESS_KEY.to_owned(),
        ),
        ("BITWOBBLY_SCHEDULER__LEASE", "4s".to_owned()),
        ("BITWOBBLY_INGEST__PROCESSING__LEASE", "4s".to_owned()),
        ("BITWOBBLY_NOTIFIER__SEND_TIMEOUT", "3s".to_owned()),
        ("BITWOBBLY_NOTIFIER__MAX_ATTEMPTS", "1000".to_owned()),
        // Only an invalidation refreshes a cached page within the test.
        ("BITWOBBLY_PAGES__MAX_AGE", "1h".to_owned()),
        ("BITWOBBLY_PAGES__REQUESTS_PER_MINUTE", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Starts a node with `env`.
pub(crate) async fn start_node(db: &Db, env: &[(String, String)]) -> Node {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Node::start(db, &pairs).await
}

/// A project (alerting `channel_ids` on new issues) and its DSN key: `(project id, key)`.
pub(crate) async fn create_project(api: &Api, name: &str, channel_ids: &[i64]) -> (i64, String) {
    let p = api
        .post(
            "/projects",
            json!({"name": name, "platform": "python", "channel_ids": channel_ids}),
        )
        .await;
    let key = p["keys"][0]["public_key"]
        .as_str()
        .unwrap_or_else(|| panic!("a key: {p}"))
        .to_owned();
    (p["id"].as_i64().expect("project id"), key)
}

/// An envelope with one error event of exception type `kind` (the grouping fingerprint),
/// and, when given, one attachment.
pub(crate) fn envelope(event_id: &str, kind: &str, attachment: Option<&[u8]>) -> Vec<u8> {
    let event = json!({
        "event_id": event_id,
        "level": "error",
        "platform": "python",
        "exception": {"values": [{"type": kind, "value": "boom"}]},
    });
    let mut out =
        format!("{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n{event}\n").into_bytes();
    if let Some(bytes) = attachment {
        out.extend_from_slice(
            format!(
                "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"dump.bin\",\
                 \"content_type\":\"application/octet-stream\"}}\n",
                bytes.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    out
}

/// Bytes that compress badly (so an envelope carrying them stays large).
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// Posts an envelope to `base` (a node's `http://addr`); `None` when the node did not answer.
pub(crate) async fn post_envelope(
    http: &reqwest::Client,
    base: &str,
    project: i64,
    key: &str,
    body: Vec<u8>,
) -> Option<StatusCode> {
    let res = http
        .post(format!("{base}/api/{project}/envelope/"))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_version=7, sentry_key={key}, sentry_client=cluster/1.0"),
        )
        .header("content-type", "application/x-sentry-envelope")
        .body(body)
        .send()
        .await
        .ok()?;
    Some(res.status())
}

/// Every issue of a project: title -> event count.
pub(crate) async fn issue_counts(
    api: &Api,
    project: i64,
) -> std::collections::HashMap<String, i64> {
    let page = api
        .get(&format!("/projects/{project}/issues?limit=500"))
        .await;
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("issues: {page}"))
        .iter()
        .map(|i| {
            (
                i["title"].as_str().expect("title").to_owned(),
                i["count"].as_i64().expect("count"),
            )
        })
        .collect()
}

/// The status of the component `name` in a public page's Statuspage v2 summary, from `node`.
pub(crate) async fn page_status(node: &Node, slug: &str, name: &str) -> String {
    let res = client()
        .get(node.url(&format!("/s/{slug}/api/v2/summary.json")))
        .send()
        .await
        .expect("summary");
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.expect("summary JSON");
    v["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {v}"))["status"]
        .as_str()
        .expect("status")
        .to_owned()
}
