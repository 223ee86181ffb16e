//! SDK set-up snippets for a DSN: how to install each SDK and the few lines that point it at
//! this server.

/// One SDK's set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snippet {
    /// A short id (`python`), for element ids.
    pub id: &'static str,
    /// The SDK's name.
    pub title: &'static str,
    /// The command that installs it.
    pub install: &'static str,
    /// The code that initialises it with the DSN.
    pub code: String,
}

/// `s` as the body of a double-quoted string literal of Python, JavaScript, Rust and Go
/// (a DSN is a URL, but the public URL comes from configuration: nothing is assumed).
fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Which snippet a project's platform calls for first.
fn rank(platform: Option<&str>, id: &str) -> u8 {
    let p = platform.unwrap_or("");
    let mine = match id {
        "python" => p.starts_with("python"),
        "node" => p == "node" || p.starts_with("node-") || p.starts_with("javascript-node"),
        "browser" => p.starts_with("javascript") && !p.starts_with("javascript-node"),
        "rust" => p.starts_with("rust"),
        "go" => p == "go" || p.starts_with("go-"),
        _ => false,
    };
    u8::from(!mine)
}

/// The set-up of the Python, Node, browser JavaScript, Rust and Go SDKs for `dsn`, the
/// project's own platform first.
pub(crate) fn snippets(dsn: &str, platform: Option<&str>) -> Vec<Snippet> {
    let d = literal(dsn);
    let mut out = vec![
        Snippet {
            id: "python",
            title: "Python",
            install: "pip install sentry-sdk",
            code: format!(
                "import sentry_sdk\n\nsentry_sdk.init(\n    dsn=\"{d}\",\n    traces_sample_rate=1.0,\n)\n"
            ),
        },
        Snippet {
            id: "node",
            title: "Node.js",
            install: "npm install @sentry/node",
            code: format!(
                "const Sentry = require(\"@sentry/node\");\n\nSentry.init({{\n  dsn: \"{d}\",\n  tracesSampleRate: 1.0,\n}});\n"
            ),
        },
        Snippet {
            id: "browser",
            title: "Browser JavaScript",
            install: "npm install @sentry/browser",
            code: format!(
                "import * as Sentry from \"@sentry/browser\";\n\nSentry.init({{\n  dsn: \"{d}\",\n  integrations: [Sentry.browserTracingIntegration()],\n  tracesSampleRate: 1.0,\n}});\n"
            ),
        },
        Snippet {
            id: "rust",
            title: "Rust",
            install: "cargo add sentry",
            code: format!(
                "let _guard = sentry::init((\n    \"{d}\",\n    sentry::ClientOptions {{\n        release: sentry::release_name!(),\n        traces_sample_rate: 1.0,\n        ..Default::default()\n    }},\n));\n"
            ),
        },
        Snippet {
            id: "go",
            title: "Go",
            install: "go get github.com/getsentry/sentry-go",
            code: format!(
                "err := sentry.Init(sentry.ClientOptions{{\n\tDsn:              \"{d}\",\n\tTracesSampleRate: 1.0,\n}})\nif err != nil {{\n\tlog.Fatalf(\"sentry.Init: %s\", err)\n}}\ndefer sentry.Flush(2 * time.Second)\n"
            ),
        },
    ];
    out.sort_by_key(|s| rank(platform, s.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &str = "http://0123456789abcdef0123456789abcdef@127.0.0.1:8080/42";

    #[test]
    fn every_sdk_gets_the_dsn_as_a_string_literal() {
        let all = snippets(DSN, None);
        let ids: Vec<_> = all.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["python", "node", "browser", "rust", "go"]);
        for s in &all {
            assert!(s.code.contains(&format!("\"{DSN}\"")), "{}", s.id);
        }
        assert!(all[0].code.contains("sentry_sdk.init("));
        assert!(all[3].code.contains("sentry::init(("));
    }

    #[test]
    fn the_projects_platform_comes_first() {
        for (platform, first) in [
            ("python-django", "python"),
            ("node", "node"),
            ("javascript-node", "node"),
            ("javascript-react", "browser"),
            ("rust", "rust"),
            ("go", "go"),
            ("ruby", "python"),
        ] {
            assert_eq!(snippets(DSN, Some(platform))[0].id, first, "{platform}");
        }
    }

    #[test]
    fn hostile_dsns_cannot_break_out_of_the_string() {
        let s = snippets("http://k@h/1\"); os.system(\"x\\\n", None);
        assert!(
            s[0].code
                .contains(r#"dsn="http://k@h/1\"); os.system(\"x\\\n","#)
        );
        assert_eq!(literal("a\u{7}b"), "a\\u{7}b");
    }
}
