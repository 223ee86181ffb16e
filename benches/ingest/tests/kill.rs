//! An envelope answered `200` survives the server being killed with SIGKILL right after: the
//! real server runs in a child process (`ingest-load serve`), clients post envelopes
//! concurrently, the server is killed mid-stream, and every answered event id is then found,
//! with its body, in the reopened store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bench_ingest::{Conn, Request, ServeArgs, ServerProcess, error_envelope, stored_event_ids};
use bitwobbly_test_support::db::{Backend, TestDatabase};

const CONNECTIONS: usize = 16;
/// Answers to wait for before the kill.
const BEFORE_KILL: usize = 300;

async fn run<F: Future<Output = ()>>(backend: Backend, test: impl FnOnce(Backend) -> F) {
    test(backend).await;
}

bitwobbly_test_support::both_backends!(crate::run; answered_envelopes_survive_sigkill);

async fn answered_envelopes_survive_sigkill(backend: Backend) {
    let db = TestDatabase::create(backend, "ingest_kill").await;
    let args = ServeArgs {
        data_dir: db.dir().join("data"),
        database_url: db.postgres_url().map(str::to_owned),
    };
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_ingest-load"));
    let server = {
        let args = args.clone();
        tokio::task::spawn_blocking(move || ServerProcess::spawn(&exe, &args))
            .await
            .unwrap()
            .expect("the server starts")
    };
    let (body, offsets) = error_envelope();
    let request = Request::new(&server, &body, &offsets);
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CONNECTIONS {
        let mut request = request.clone();
        let addr = server.addr.clone();
        let answered = answered.clone();
        clients.spawn(async move {
            let mut ids = Vec::new();
            let Ok(mut conn) = Conn::connect(&addr).await else {
                return ids;
            };
            for n in 0.. {
                let id = ((c as u128) << 64) | n;
                request.set_event_id(id);
                match conn.send(request.bytes()).await {
                    Ok((200, body)) => {
                        let id = format!("{id:032x}");
                        assert_eq!(body, format!("{{\"id\":\"{id}\"}}").into_bytes());
                        ids.push(id);
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((status, body)) => {
                        panic!("status {status}: {}", String::from_utf8_lossy(&body))
                    }
                    // The server is gone.
                    Err(_) => break,
                }
            }
            ids
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::Relaxed) < BEFORE_KILL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server answers in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().expect("SIGKILL");
    let mut ids: Vec<String> = clients.join_all().await.into_iter().flatten().collect();
    ids.sort();
    assert!(ids.len() >= BEFORE_KILL);

    let url = args.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            args.data_dir.join("bitwobbly.db").display()
        )
    });
    let mut stored = stored_event_ids(&url, &args.data_dir)
        .await
        .expect("read the store after the kill");
    stored.sort();
    stored.dedup();
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| stored.binary_search(id).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered envelopes lost: {missing:?}",
        missing.len(),
        ids.len()
    );
    db.finish().await;
}
