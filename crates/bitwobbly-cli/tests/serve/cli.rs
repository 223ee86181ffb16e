//! The admin, apply and export commands and the configuration errors of `serve`, as a user
//! runs them: exit codes, messages naming the flag, the file, the key and the field.

use crate::harness::{Backend, Db, PASSWORD, admin_token, bitwobbly};

fn args(list: &[&str], db: &Db) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.extend(db.args());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_create_users_and_tokens() {
    let db = Db::new(Backend::Sqlite).await;
    let token = admin_token(&db, "Ann@Example.com", "acme").await;
    assert!(token.len() > 20);

    // The same email again, a short password, nothing on stdin: usage errors naming flags.
    let again = args(
        &[
            "admin",
            "create-user",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ],
        &db,
    );
    let out = bitwobbly(&again, &format!("{PASSWORD}\n"), &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--email"), "{out:?}");
    let out = bitwobbly(
        &args(
            &[
                "admin",
                "create-user",
                "--email",
                "bob@example.com",
                "--password-stdin",
            ],
            &db,
        ),
        "short\n",
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--password-stdin"), "{out:?}");
    let out = bitwobbly(
        &args(&["admin", "create-user", "--email", "bob@example.com"], &db),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--password-stdin"), "{out:?}");

    // A second user with their own workspace, a viewer token with an expiry.
    let out = bitwobbly(
        &args(
            &[
                "admin",
                "create-user",
                "--email",
                "bob@example.com",
                "--password-stdin",
                "--name",
                "Bob",
            ],
            &db,
        ),
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("workspace bob"), "{out:?}");
    let out = bitwobbly(
        &args(
            &[
                "admin",
                "create-token",
                "--email",
                "bob@example.com",
                "--role",
                "viewer",
                "--expires-in",
                "30d",
                "--name",
                "ci",
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
        "only the token on stdout: {out:?}"
    );
    assert!(out.stderr.contains("viewer"), "{out:?}");

    // Refusals: unknown user, someone else's workspace, a bad role, a bad lifetime.
    for (list, flag) in [
        (
            &["admin", "create-token", "--email", "nobody@example.com"][..],
            "--email",
        ),
        (
            &[
                "admin",
                "create-token",
                "--email",
                "bob@example.com",
                "--workspace",
                "acme",
            ],
            "--workspace",
        ),
        (
            &[
                "admin",
                "create-token",
                "--email",
                "bob@example.com",
                "--role",
                "boss",
            ],
            "--role",
        ),
        (
            &[
                "admin",
                "create-token",
                "--email",
                "bob@example.com",
                "--expires-in",
                "soon",
            ],
            "--expires-in",
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
async fn admin_creates_agent_tokens_for_locations() {
    let db = Db::new(Backend::Sqlite).await;
    admin_token(&db, "ann@example.com", "acme").await;
    let make = |location: &str| {
        vec![
            "admin".to_owned(),
            "create-agent-token".to_owned(),
            "--email".to_owned(),
            "ann@example.com".to_owned(),
            "--location".to_owned(),
            location.to_owned(),
        ]
    };
    // The location is made when missing; a second token for it is fine.
    for _ in 0..2 {
        let mut list = make("eu-1");
        list.extend(db.args());
        let out = bitwobbly(&list, "", &[]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
        assert!(out.stdout.starts_with("bwa_"), "{out:?}");
        assert!(out.stderr.contains("eu-1"), "{out:?}");
    }
    // Bad locations and unknown users name their flag.
    for (location, email, flag) in [
        ("has space", "ann@example.com", "--location"),
        ("local", "ann@example.com", "--location"),
        ("eu-1", "nobody@example.com", "--email"),
    ] {
        let mut list = make(location);
        list[3] = email.to_owned();
        list.extend(db.args());
        let out = bitwobbly(&list, "", &[]).await;
        assert_eq!(out.code, 2, "{location}: {out:?}");
        assert!(out.stderr.contains(flag), "{location}: {out:?}");
        assert!(out.stdout.is_empty(), "{location}: {out:?}");
    }
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_export_round_trip_through_files() {
    let db = Db::new(Backend::Sqlite).await;
    admin_token(&db, "ops@example.com", "acme").await;
    let file = db.dir().join("monitors.toml");
    std::fs::write(
        &file,
        r#"
[[channel]]
key = "ops"
name = "Ops"
kind = "webhook"
config = { url = "http://127.0.0.1:9/hook", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }

[[monitor]]
key = "api"
name = "API"
spec = { type = "http", url = "http://127.0.0.1:9/health" }
channels = ["ops"]

[[monitor]]
key = "cron"
name = "Nightly job"
spec = { type = "heartbeat", grace = "10m", expect = { type = "period", period = "1day" } }
"#,
    )
    .unwrap();
    let apply = args(
        &["apply", file.to_str().unwrap(), "--workspace", "acme"],
        &db,
    );
    let out = bitwobbly(&apply, "", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("monitor api: created"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ping URL: http://"), "{}", out.stdout);
    assert!(out.stdout.contains("3 created"), "{}", out.stdout);

    let out = bitwobbly(&args(&["export", "--workspace", "acme"], &db), "", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let exported = db.dir().join("exported.toml");
    std::fs::write(&exported, &out.stdout).unwrap();
    assert!(out.stdout.contains("key = \"cron\""), "{}", out.stdout);

    // The export applied again changes nothing, and its export is the same text.
    let again = args(
        &[
            "apply",
            exported.to_str().unwrap(),
            "--workspace",
            "acme",
            "--prune",
        ],
        &db,
    );
    let out = bitwobbly(&again, "", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("0 created, 0 updated, 0 deleted, 3 unchanged"),
        "{}",
        out.stdout
    );
    let out2 = bitwobbly(&args(&["export", "--workspace", "acme"], &db), "", &[]).await;
    assert_eq!(out2.stdout, std::fs::read_to_string(&exported).unwrap());

    // A dry run of an empty file with --prune would delete everything, and does not.
    let empty = db.dir().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let dry = args(
        &[
            "apply",
            empty.to_str().unwrap(),
            "--workspace",
            "acme",
            "--prune",
            "--dry-run",
        ],
        &db,
    );
    let out = bitwobbly(&dry, "", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("3 deleted") && out.stdout.contains("nothing was changed"),
        "{}",
        out.stdout
    );
    let out = bitwobbly(&args(&["export", "--workspace", "acme"], &db), "", &[]).await;
    assert_eq!(out.stdout, out2.stdout);
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_reports_every_problem_with_file_key_and_field() {
    let db = Db::new(Backend::Sqlite).await;
    admin_token(&db, "ops@example.com", "acme").await;
    let file = db.dir().join("bad.toml");
    std::fs::write(
        &file,
        r#"
[[monitor]]
key = "api"
name = "API"
spec = { type = "http", url = "ftp://example.com/" }
channels = ["missing"]
"#,
    )
    .unwrap();
    let out = bitwobbly(
        &args(
            &["apply", file.to_str().unwrap(), "--workspace", "acme"],
            &db,
        ),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    let name = file.display().to_string();
    assert!(
        out.stderr
            .contains(&format!(r#"{name}: monitor "api", field spec.url: "#)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("field channels[0]"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);

    // A misspelt field: the TOML error with its line.
    std::fs::write(&file, "[[monitor]]\nkey = \"a\"\nnmae = \"A\"\n").unwrap();
    let out = bitwobbly(
        &args(
            &["apply", file.to_str().unwrap(), "--workspace", "acme"],
            &db,
        ),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("line 3") && out.stderr.contains("nmae"),
        "{}",
        out.stderr
    );

    // An unknown workspace names the flag.
    std::fs::write(&file, "").unwrap();
    let out = bitwobbly(
        &args(
            &["apply", file.to_str().unwrap(), "--workspace", "nope"],
            &db,
        ),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--workspace"), "{}", out.stderr);
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_bad_configuration_naming_the_source() {
    let db = Db::new(Backend::Sqlite).await;
    let serve = |extra: &[&str]| {
        let mut v = vec![
            "serve".to_owned(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
        ];
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let out = bitwobbly(
        &serve(&[]),
        "",
        &[("BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS", "many")],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS"),
        "{out:?}"
    );
    let out = bitwobbly(
        &serve(&["--config", "/nonexistent/bitwobbly.toml"]),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--config"), "{out:?}");
    let bad = db.dir().join("bad.toml");
    std::fs::write(&bad, "[scheduler]\nlease = \"forever\"\n").unwrap();
    let out = bitwobbly(&serve(&["--config", bad.to_str().unwrap()]), "", &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("scheduler.lease") && out.stderr.contains("bad.toml"),
        "{out:?}"
    );
    let out = bitwobbly(&serve(&["--listen", "nowhere"]), "", &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--listen"), "{out:?}");
    let out = bitwobbly(&serve(&["--database-url", "mysql://x"]), "", &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--database-url"), "{out:?}");
    db.finish().await;
}
