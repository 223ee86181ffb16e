//! `bitwobbly migrate` applies the store's migrations and is safe to run again.

use crate::support::{bitwobbly, bitwobbly_with_env};

#[test]
fn migrate_creates_and_migrates_a_sqlite_database_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bitwobbly.db");
    let url = format!("sqlite://{}", db.display());
    bitwobbly(&["migrate", "--database-url", &url])
        .assert_code(0)
        .stdout_has("migrations applied to SQLite database");
    assert!(db.exists(), "the database file was created");
    // Applying again changes nothing and still succeeds.
    bitwobbly_with_env(&["migrate"], &[("BITWOBBLY_DATABASE_URL", url.as_str())])
        .assert_code(0)
        .stdout_has("migrations applied");
}

#[test]
fn migrate_refuses_an_unsupported_url_naming_the_flag() {
    bitwobbly(&["migrate", "--database-url", "mysql://root@127.0.0.1/db"])
        .assert_code(2)
        .stderr_has("--database-url");
}

#[test]
fn migrate_without_a_database_is_a_usage_error() {
    bitwobbly(&["migrate"])
        .assert_code(2)
        .stderr_has("--database-url");
}

#[test]
fn migrate_reports_a_database_that_cannot_be_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory where the database file should be cannot be opened as one.
    let url = format!("sqlite://{}", dir.path().display());
    bitwobbly(&["migrate", "--database-url", &url])
        .assert_code(1)
        .stderr_has("opening the database");
}
