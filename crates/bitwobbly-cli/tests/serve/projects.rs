//! `bitwobbly admin create-project`: the DSN on standard output, usage errors naming their
//! flag, and, end to end, an SDK-style envelope posted with the printed key becoming an issue
//! that the query API lists.

use crate::harness::{Api, Backend, Db, Node, admin_token, bitwobbly, client, wait_until};

fn args(list: &[&str], db: &Db) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.extend(db.args());
    v
}

/// `{scheme}://{key}@{host}/{project}` split into the key and the project id.
fn split_dsn(dsn: &str) -> (String, i64) {
    let rest = dsn.strip_prefix("http://").expect("an http DSN");
    let (key, host_path) = rest.split_once('@').expect("key@host");
    assert_eq!(key.len(), 32, "{dsn}");
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{dsn}");
    let project = host_path.rsplit('/').next().expect("project id");
    (
        key.to_owned(),
        project.parse().expect("a numeric project id"),
    )
}

async fn create_project_prints_a_dsn_and_refuses_bad_input(backend: Backend) {
    let db = Db::new(backend).await;
    admin_token(&db, "ann@example.com", "acme").await;
    let out = bitwobbly(
        &args(
            &[
                "admin",
                "create-project",
                "--email",
                "Ann@Example.com",
                "--name",
                "Web Shop",
                "--platform",
                "python",
            ],
            &db,
        ),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "only the DSN on stdout: {out:?}"
    );
    let dsn = out.stdout.trim();
    let (key, project) = split_dsn(dsn);
    assert!(dsn.contains("@127.0.0.1:8080/"), "{dsn}");
    assert!(out.stderr.contains("web-shop"), "{out:?}");
    let store = db.store().await;
    let stored =
        bitwobbly_store::api::IngestQueue::dsn_key_by_public_key(&mut store.global(), &key)
            .await
            .unwrap()
            .expect("the key is stored");
    assert_eq!(stored.project_id.0, project);
    store.close().await;

    // A viewer in the workspace, for the role refusal.
    let out = bitwobbly(
        &args(
            &[
                "admin",
                "create-user",
                "--email",
                "val@example.com",
                "--password-stdin",
            ],
            &db,
        ),
        "correct horse battery\n",
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");

    for (list, flag) in [
        (
            &[
                "admin",
                "create-project",
                "--email",
                "ann@example.com",
                "--name",
                "Web Shop",
            ][..],
            "--name",
        ),
        (
            &[
                "admin",
                "create-project",
                "--email",
                "ann@example.com",
                "--name",
                " ",
            ],
            "--name",
        ),
        (
            &[
                "admin",
                "create-project",
                "--email",
                "nobody@example.com",
                "--name",
                "X",
            ],
            "--email",
        ),
        (
            &[
                "admin",
                "create-project",
                "--email",
                "ann@example.com",
                "--name",
                "X",
                "--workspace",
                "val",
            ],
            "--workspace",
        ),
        (
            &[
                "admin",
                "create-project",
                "--email",
                "ann@example.com",
                "--name",
                "X",
                "--platform",
                "Not A Platform",
            ],
            "--platform",
        ),
        (
            &["admin", "create-project", "--email", "ann@example.com"],
            "--name",
        ),
    ] {
        let out = bitwobbly(&args(list, &db), "", &[]).await;
        assert_eq!(out.code, 2, "{list:?}: {out:?}");
        assert!(out.stderr.contains(flag), "{list:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{list:?}: {out:?}");
    }
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_project_prints_a_dsn_on_sqlite() {
    create_project_prints_a_dsn_and_refuses_bad_input(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_project_prints_a_dsn_on_postgres() {
    create_project_prints_a_dsn_and_refuses_bad_input(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_with_the_printed_dsn_becomes_an_issue() {
    let db = Db::new(Backend::Sqlite).await;
    let token = admin_token(&db, "ann@example.com", "acme").await;
    let mut node = Node::start(&db, &[]).await;
    // Created while the server runs.
    let out = bitwobbly(
        &args(
            &[
                "admin",
                "create-project",
                "--email",
                "ann@example.com",
                "--name",
                "Shop",
            ],
            &db,
        ),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let (key, project) = split_dsn(out.stdout.trim());
    let event_id = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let envelope = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n\
         {{\"event_id\":\"{event_id}\",\"level\":\"error\",\"platform\":\"python\",\
         \"exception\":{{\"values\":[{{\"type\":\"KeyError\",\"value\":\"'user_id'\"}}]}}}}\n"
    );
    let res = client()
        .post(node.url(&format!("/api/{project}/envelope/")))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_version=7, sentry_key={key}, sentry_client=test/1.0"),
        )
        .header("content-type", "application/x-sentry-envelope")
        .body(envelope)
        .send()
        .await
        .expect("post the envelope");
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status.as_u16(), 200, "{body}");
    assert!(body.contains(event_id), "{body}");

    let api = Api::new(&node, "acme", &token);
    let issues_path = format!("/projects/{project}/issues");
    wait_until("the event to become an issue", || {
        let api = api.clone();
        let path = issues_path.clone();
        async move {
            let page = api.get(&path).await;
            page["items"].as_array().is_some_and(|a| !a.is_empty())
        }
    })
    .await;
    let page = api.get(&issues_path).await;
    assert_eq!(page["items"][0]["title"], "KeyError: 'user_id'", "{page}");
    let detail = api
        .get(&format!("/projects/{project}/events/{event_id}"))
        .await;
    assert_eq!(
        detail["payload"]["exceptions"][0]["type"], "KeyError",
        "{detail}"
    );
    node.terminate().await;
    db.finish().await;
}
