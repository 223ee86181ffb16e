//! Usage errors exit 2 and name the flag.

use crate::support::bitwobbly;

#[test]
fn bad_values_exit_two_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["check", "http://127.0.0.1:9/", "--timeout", "5 parsecs"],
            r#"error: invalid --timeout "5 parsecs": "#,
        ),
        (
            &["check", "http://127.0.0.1:9/", "--expect-body-regex", "("],
            r#"error: invalid --expect-body-regex "(": "#,
        ),
        (
            &["check", "http://127.0.0.1:9/", "--expect-json", "$.a ~ 1"],
            r#"error: invalid --expect-json "$.a ~ 1": unknown operator"#,
        ),
        (
            &["check", "http://127.0.0.1:9/", "-H", "no colon"],
            r#"error: invalid --header "no colon": "#,
        ),
        (
            &["check", "gopher://127.0.0.1/"],
            r#"error: invalid <TARGET> "gopher://127.0.0.1/": unknown scheme"#,
        ),
        (
            &["check", "tcp://127.0.0.1"],
            r#"error: invalid <TARGET> "tcp://127.0.0.1": missing port"#,
        ),
        (
            &["check", "tcp://127.0.0.1:9", "--expect-status", "200"],
            "error: --expect-status only applies to http(s):// targets",
        ),
        (
            &[
                "check",
                "http://127.0.0.1:9/",
                "--ca-file",
                "/nonexistent/ca.pem",
            ],
            r#"error: invalid --ca-file "/nonexistent/ca.pem": cannot read"#,
        ),
    ];
    for (args, message) in cases {
        let run = bitwobbly(args);
        run.assert_code(2).stderr_has(message);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn clap_errors_exit_two() {
    bitwobbly(&["check", "http://127.0.0.1:9/", "--bogus"])
        .assert_code(2)
        .stderr_has("--bogus");
    bitwobbly(&["check", "http://127.0.0.1:9/", "--count", "zero"])
        .assert_code(2)
        .stderr_has("--count");
    bitwobbly(&["check"]).assert_code(2).stderr_has("<TARGET>");
}

#[test]
fn help_documents_targets_and_the_default_status() {
    bitwobbly(&["check", "--help"])
        .assert_code(0)
        .stdout_has("tcp://host:port")
        .stdout_has("200-399")
        .stdout_has("--fail-on-degraded");
}
