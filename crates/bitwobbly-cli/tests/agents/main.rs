//! End-to-end tests of checker agents: a real `bitwobbly serve` and three real
//! `bitwobbly agent` processes on loopback, each for its own location, checking one monitor
//! whose test target can fail for one location at a time (it answers by the `User-Agent`,
//! which names the agent's location).
//!
//! The agents reach the server through a TCP relay the test can cut, so the server can be
//! unreachable while it keeps running and its database can be read.
//!
//! Conditions are polled with generous deadlines, never timed.

#[allow(dead_code)]
#[path = "../serve/harness.rs"]
mod harness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use harness::{
    Api, Backend, Db, LocatedTarget, Node, Process, admin_token, bitwobbly, client, eager, ok,
    wait_until,
};

/// A TCP relay to the server that the test can cut: while down, new connections are closed
/// at once and open ones are dropped.
struct Relay {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<JoinSet<()>>>,
    _accept: JoinSet<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let down = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let mut accept = JoinSet::new();
        let (d, c) = (down.clone(), conns.clone());
        accept.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                c.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self {
            addr,
            down,
            conns,
            _accept: accept,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.conns.lock().unwrap().abort_all();
        }
    }
}

fn agent_args(server: &str, location: &str, dir: &Path) -> Vec<String> {
    [
        "agent",
        "--server",
        server,
        "--location",
        location,
        "--state-dir",
        &dir.display().to_string(),
        "--log-format",
        "json",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// A running agent for one location.
struct AgentProc {
    location: String,
    token: String,
    dir: PathBuf,
    server: String,
    process: Process,
}

impl AgentProc {
    fn start(server: &str, location: &str, token: &str, dir: &Path) -> Self {
        let process = Process::spawn(
            &agent_args(server, location, dir),
            &[("BITWOBBLY_AGENT_TOKEN", token)],
        );
        Self {
            location: location.to_owned(),
            token: token.to_owned(),
            dir: dir.to_owned(),
            server: server.to_owned(),
            process,
        }
    }

    fn restart(&mut self) {
        self.process = Process::spawn(
            &agent_args(&self.server, &self.location, &self.dir),
            &[("BITWOBBLY_AGENT_TOKEN", self.token.as_str())],
        );
    }

    /// The log lines whose message is `message`.
    fn logged(&self, message: &str) -> Vec<Value> {
        self.process
            .logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["message"] == message)
            .collect()
    }

    /// The agent id in its state directory.
    fn agent_id(&self) -> String {
        let state: Value = serde_json::from_slice(
            &std::fs::read(self.dir.join("agent.json")).expect("agent.json"),
        )
        .expect("agent.json is JSON");
        state["agent_id"].as_str().expect("an agent id").to_owned()
    }
}

/// Creates a location and an agent token for it; returns the token.
async fn location_token(api: &Api, location: &str) -> String {
    api.post("/locations", json!({"name": location})).await;
    let created = api
        .post(
            &format!("/locations/{location}/tokens"),
            json!({"name": format!("{location} agent")}),
        )
        .await;
    created["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("a token in {created}"))
        .to_owned()
}

/// Every result of monitor `id` (all pages), oldest first.
async fn results(api: &Api, id: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/monitors/{id}/results?limit=1000&order=asc");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api.get(&path).await;
        out.extend(page["items"].as_array().cloned().expect("items"));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// How many results of monitor `id` came from `location`.
async fn results_from(api: &Api, id: i64, location: &str) -> Vec<Value> {
    results(api, id)
        .await
        .into_iter()
        .filter(|r| r["location"] == location)
        .collect()
}

/// The highest `seq` the server stored for an agent, asked the way an agent asks (hello).
async fn stored_seq(node: &Node, agent: &AgentProc) -> u64 {
    let res = client()
        .post(node.url("/api/v1/agent/hello"))
        .bearer_auth(&agent.token)
        .json(
            &json!({"location": agent.location, "agent_id": agent.agent_id(),
                      "version": "test", "protocol": 1}),
        )
        .send()
        .await
        .expect("hello");
    assert!(res.status().is_success(), "hello: {}", res.status());
    let welcome: Value = res.json().await.expect("a welcome");
    welcome["last_seq"].as_u64().expect("last_seq")
}

fn open_incidents(incidents: &[Value], id: i64) -> Vec<Value> {
    incidents
        .iter()
        .filter(|i| i["monitor_id"] == id && i["resolved_at"].is_null())
        .cloned()
        .collect()
}

/// Copies a directory's files (one level of subdirectories), for a snapshot of an agent's
/// state.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "lock" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The whole story on one backend: quorum across three agents, then an outage with a
/// SIGKILL and a replayed state directory, and every result stored exactly once.
async fn three_agents(backend: Backend) {
    let db = Db::new(backend).await;
    let node = Node::start(&db, &[]).await;
    let token = admin_token(&db, "ops@example.test", "acme").await;
    let api = Api::new(&node, "acme", &token);
    let relay = Relay::start(node.addr).await;
    let target = LocatedTarget::start().await;
    let locations = ["eu", "us", "ap"];
    let monitor = {
        let mut tokens = Vec::new();
        for l in locations {
            tokens.push(location_token(&api, l).await);
        }
        let m = api
            .post(
                "/monitors",
                json!({"name": "Everywhere",
                       "spec": {"type": "http", "url": target.url(), "assertions": [ok()]},
                       "schedule": {"type": "interval", "every": "10s"},
                       "thresholds": eager(), "locations": locations}),
            )
            .await;
        (m["id"].as_i64().expect("monitor id"), tokens)
    };
    let (id, tokens) = monitor;
    let state = tempfile::tempdir().expect("state dirs");
    let mut agents: Vec<AgentProc> = locations
        .iter()
        .zip(&tokens)
        .map(|(l, t)| AgentProc::start(&relay.url(), l, t, &state.path().join(l)))
        .collect();

    // Every location reports, and the monitor is up.
    wait_until("results from every location", || async {
        let all = results(&api, id).await;
        locations
            .iter()
            .all(|l| all.iter().any(|r| r["location"] == *l))
    })
    .await;
    wait_until("the monitor to be up", || async {
        api.status(id).await == "up"
    })
    .await;
    for a in &agents {
        assert_eq!(
            a.logged("connected to the server").len(),
            1,
            "{}",
            a.process.logs()
        );
    }

    // One location's view of the target fails: no incident.
    target.set_failing("eu", true);
    let seen = results_from(&api, id, "eu").await.len();
    wait_until("two failed checks from eu recorded", || async {
        let eu = results_from(&api, id, "eu").await;
        eu.len() >= seen + 2 && eu.last().is_some_and(|r| r["status"] == "down")
    })
    .await;
    let others = (
        results_from(&api, id, "us").await.len(),
        results_from(&api, id, "ap").await.len(),
    );
    wait_until("the other locations to check again", || async {
        results_from(&api, id, "us").await.len() > others.0
            && results_from(&api, id, "ap").await.len() > others.1
    })
    .await;
    assert!(
        open_incidents(&api.incidents().await, id).is_empty(),
        "one location of three down opened an incident: {:?}",
        api.incidents().await
    );
    assert_ne!(api.status(id).await, "down");

    // A second one: a majority, so an incident naming them.
    target.set_failing("us", true);
    wait_until("an open incident", || async {
        !open_incidents(&api.incidents().await, id).is_empty()
    })
    .await;
    let incident = open_incidents(&api.incidents().await, id).remove(0);
    let detail = api
        .get(&format!("/incidents/{}", incident["id"]))
        .await
        .to_string();
    // e.g. "down from eu (HTTP 500), us (HTTP 500) (2 of 3); up from ap"
    assert!(
        detail.contains("down from ")
            && detail.contains("eu (")
            && detail.contains("us (")
            && detail.contains("(2 of 3)")
            && detail.contains("up from ap"),
        "the incident names the failing locations: {detail}"
    );
    assert_eq!(api.status(id).await, "down");

    // Both recover: the incident resolves.
    target.set_failing("eu", false);
    target.set_failing("us", false);
    wait_until("the incident to resolve", || async {
        open_incidents(&api.incidents().await, id).is_empty()
    })
    .await;

    // The server becomes unreachable; the agents go on checking into their buffers.
    relay.set_down(true);
    let ap_hits = target.hits("ap");
    wait_until("two checks from ap during the outage", || async {
        target.hits("ap") >= ap_hits + 2
    })
    .await;
    // SIGKILL while results wait in the buffer, keep a copy of its state, and restart it
    // while the server is still unreachable: it goes on from its kept assignments.
    agents[2].process.kill().await;
    let snapshot = state.path().join("ap-snapshot");
    copy_dir(&agents[2].dir, &snapshot);
    let kept = std::fs::read_dir(agents[2].dir.join("results"))
        .expect("a results directory")
        .count();
    assert!(kept > 0, "buffered results are on disk");
    agents[2].restart();
    let ap_hits = target.hits("ap");
    wait_until("the restarted agent checking during the outage", || async {
        target.hits("ap") > ap_hits
    })
    .await;
    assert!(
        agents[2].logged("connected to the server").is_empty(),
        "the server was unreachable"
    );

    // The server is back: everything buffered arrives.
    relay.set_down(false);
    wait_until("the restarted agent to connect", || async {
        !agents[2].logged("connected to the server").is_empty()
    })
    .await;
    wait_until("the buffers to drain", || async {
        let mut drained = true;
        for a in &agents {
            let stored = stored_seq(&node, a).await;
            drained &=
                stored > 0 && results_from(&api, id, &a.location).await.len() as u64 >= stored;
        }
        drained
    })
    .await;

    // Replay: the agent comes back with its state from before the delivery (as if killed
    // after the server stored a batch and before it deleted it). Nothing is stored twice.
    agents[2].process.kill().await;
    std::fs::remove_dir_all(&agents[2].dir).expect("remove state");
    copy_dir(&snapshot, &agents[2].dir);
    let replay_hits = target.hits("ap");
    agents[2].restart();
    wait_until("the replayed agent to connect", || async {
        !agents[2].logged("connected to the server").is_empty()
    })
    .await;
    let welcome_seq = agents[2].logged("connected to the server")[0]["fields"]["stored_seq"]
        .as_u64()
        .expect("stored_seq");
    let ap_hits = target.hits("ap");
    wait_until("the replayed agent to check again", || async {
        target.hits("ap") > ap_hits + 1
    })
    .await;

    // Stop every agent (a send under way finishes first), then compare: each location's
    // results are the agent's seqs 1..next_seq-1 less those still in its buffer, each
    // stored once: none lost, none reused, none twice.
    let mut made = Vec::new();
    for a in &mut agents {
        let status = a.process.terminate().await;
        assert!(
            status.success(),
            "{} exits 0: {}",
            a.location,
            a.process.logs()
        );
        let stopped = a.logged("agent stopped");
        assert_eq!(stopped.len(), 1, "{}", a.process.logs());
        let fields = &stopped[0]["fields"];
        let next = fields["next_seq"].as_u64().expect("next_seq");
        let pending = fields["pending"].as_u64().expect("pending");
        assert_eq!(fields["dropped"], 0, "{}", a.process.logs());
        // Every check made a numbered result (checks under way at SIGTERM finish); the
        // replayed agent numbered its own after what the server had stored.
        let (checks, numbered) = if a.location == "ap" {
            (target.hits("ap") - replay_hits, next - 1 - welcome_seq)
        } else {
            (target.hits(&a.location), next - 1)
        };
        assert_eq!(
            checks as u64,
            numbered,
            "{}: {}",
            a.location,
            a.process.logs()
        );
        made.push(next - 1 - pending);
    }
    for (a, made) in agents.iter().zip(made) {
        let stored = stored_seq(&node, a).await;
        let rows = results_from(&api, id, &a.location).await;
        assert_eq!(
            rows.len() as u64,
            made,
            "{}: every result the agent made and sent is stored",
            a.location
        );
        let mut starts: Vec<&str> = rows
            .iter()
            .map(|r| r["started_at"].as_str().expect("started_at"))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        assert_eq!(
            rows.len() as u64,
            stored,
            "{}: every result 1..={stored} stored once",
            a.location
        );
        assert_eq!(starts.len(), rows.len(), "{}: no result twice", a.location);
    }
    let logs = agents[2].process.logs();
    assert!(!logs.contains("dropped its oldest"), "{logs}");

    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_quorum_and_exactly_once_on_sqlite() {
    three_agents(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_quorum_and_exactly_once_on_postgres() {
    three_agents(Backend::Postgres).await;
}

/// An agent whose token is revoked, or who names another location, stops with exit 1 and
/// says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_agents_stop_and_say_why() {
    let db = Db::new(Backend::Sqlite).await;
    let node = Node::start(&db, &[]).await;
    let token = admin_token(&db, "ops@example.test", "acme").await;
    let api = Api::new(&node, "acme", &token);
    let eu = location_token(&api, "eu").await;
    let _us = location_token(&api, "us").await;
    let state = tempfile::tempdir().expect("state");

    // Another location's name.
    let mut wrong = AgentProc::start(&node.url(""), "us", &eu, &state.path().join("a"));
    let status = wrong.process.wait().await;
    assert_eq!(status.code(), Some(1), "{}", wrong.process.logs());
    assert!(
        wrong.process.logs().contains("location_mismatch"),
        "{}",
        wrong.process.logs()
    );

    // A token that does not exist.
    let mut unknown = AgentProc::start(
        &node.url(""),
        "eu",
        "bwa_not_a_real_token",
        &state.path().join("b"),
    );
    let status = unknown.process.wait().await;
    assert_eq!(status.code(), Some(1), "{}", unknown.process.logs());
    assert!(
        unknown.process.logs().contains("unknown or revoked"),
        "{}",
        unknown.process.logs()
    );

    // A working agent whose token is revoked while it runs.
    let mut ok_agent = AgentProc::start(&node.url(""), "eu", &eu, &state.path().join("c"));
    wait_until("the agent to connect", || async {
        !ok_agent.logged("connected to the server").is_empty()
    })
    .await;
    let tokens = api.get("/locations/eu/tokens").await;
    let list = tokens
        .as_array()
        .cloned()
        .or_else(|| tokens["items"].as_array().cloned())
        .expect("a list of tokens");
    for t in list {
        let res = client()
            .delete(node.url(&format!(
                "/api/v1/workspaces/acme/locations/eu/tokens/{}",
                t["id"]
            )))
            .bearer_auth(&token)
            .send()
            .await
            .expect("revoke");
        assert!(res.status().is_success(), "revoke: {}", res.status());
    }
    // The next assignments poll is refused.
    let status = ok_agent.process.wait().await;
    assert_eq!(status.code(), Some(1), "{}", ok_agent.process.logs());
    assert!(
        ok_agent.process.logs().contains("unknown or revoked"),
        "{}",
        ok_agent.process.logs()
    );
    let _ = ok_agent.process.try_wait();
    db.finish().await;
}

/// Bad flags are usage errors (exit 2) naming the flag, before anything connects.
#[tokio::test]
async fn bad_flags_name_the_flag() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state").display().to_string();
    let base = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "agent",
            "--server",
            "http://127.0.0.1:9",
            "--location",
            "eu",
            "--state-dir",
            &state,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let token = [("BITWOBBLY_AGENT_TOKEN", "bwa_x")];
    let pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&pem, "hello").expect("write");
    let pem = pem.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base(&["--buffer-max", "tiny"]), "--buffer-max"),
        (base(&["--buffer-max", "1KiB"]), "--buffer-max"),
        (base(&["--concurrency", "0"]), "--concurrency"),
        (base(&["--ca-file", "/nonexistent/ca.pem"]), "--ca-file"),
        (base(&["--ca-file", &pem]), "--ca-file"),
        (base(&["--log-format", "yaml"]), "--log-format"),
        (
            {
                let mut v = base(&[]);
                v[2] = "ftp://example.com".to_owned();
                v
            },
            "--server",
        ),
        (
            {
                let mut v = base(&[]);
                v[4] = "no spaces allowed".to_owned();
                v
            },
            "--location",
        ),
    ];
    for (args, flag) in cases {
        let out = bitwobbly(&args, "", &token).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(flag), "{args:?}: {}", out.stderr);
    }
    // No token at all.
    let out = bitwobbly(&base(&[]), "", &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--token"), "{}", out.stderr);
    // An empty token from the environment.
    let out = bitwobbly(&base(&[]), "", &[("BITWOBBLY_AGENT_TOKEN", "")]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--token"), "{}", out.stderr);
}

/// A second agent on the same state directory is refused while the first runs.
#[tokio::test]
async fn one_state_directory_one_agent() {
    let dir = tempfile::tempdir().expect("dir");
    let args = agent_args("http://127.0.0.1:9", "eu", dir.path());
    let env = [("BITWOBBLY_AGENT_TOKEN", "bwa_x")];
    let mut first = Process::spawn(&args, &env);
    wait_until("the first agent to take the directory", || async {
        dir.path().join("agent.json").exists()
    })
    .await;
    let out = bitwobbly(&args, "", &env).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("another agent"), "{}", out.stderr);
    assert!(first.try_wait().is_none(), "the first one keeps running");
    let status = first.terminate().await;
    assert!(status.success(), "{}", first.logs());
}
