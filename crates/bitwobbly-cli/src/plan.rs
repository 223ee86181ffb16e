//! Turning `bitwobbly check` arguments into a check spec, flag by flag, so that every
//! problem names the flag it came from.

use std::time::Duration;

use bitwobbly_core::spec::DEFAULT_TIMEOUT;
use bitwobbly_core::{
    Assertion, AssertionKind, CheckSpec, CompiledAssertions, CompiledCheck, DnsSpec, DnsTransport,
    HttpSpec, HttpVersionPref, IpPreference, ResolverSpec, SpecError, StatusMatch, TcpSpec,
    TlsOptions, TlsSpec,
};

use crate::args::CheckArgs;
use crate::error::UsageError;
use crate::escape;
use crate::target::{Kind, TARGET_ARG, Target};
use crate::values;

/// Default time between the starts of runs with `--count`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The status codes an HTTP check expects when no `--expect-status` is given.
pub const DEFAULT_EXPECT_STATUS: StatusMatch = bitwobbly_core::assert::DEFAULT_HTTP_STATUS;

/// Everything `bitwobbly check` will do: the compiled check and how to run and show it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The check, validated.
    pub check: CompiledCheck,
    /// How many runs (at least 1).
    pub count: u32,
    /// Time between the starts of runs.
    pub interval: Duration,
    /// Print JSON instead of text.
    pub json: bool,
    /// Exit 1 when degraded.
    pub fail_on_degraded: bool,
}

impl Plan {
    /// Builds the plan from the arguments.
    ///
    /// # Errors
    ///
    /// A [`UsageError`] naming the flag (or `<TARGET>`) whose value is invalid, or a flag
    /// that does not apply to the target's kind.
    pub fn from_args(args: &CheckArgs) -> Result<Self, UsageError> {
        let check = Draft::from_args(args)?.compile()?;
        let interval = match &args.interval {
            Some(v) => values::duration(v).map_err(|p| UsageError::invalid("--interval", v, p))?,
            None => DEFAULT_INTERVAL,
        };
        Ok(Self {
            check,
            count: args.count.max(1),
            interval,
            json: args.json,
            fail_on_degraded: args.fail_on_degraded,
        })
    }
}

/// Where a spec field came from, to name the flag when validation rejects it.
#[derive(Debug, Clone)]
struct Origin {
    /// The spec field path (`timeout`, `headers[0]`, `assertions[2]`).
    field: String,
    /// The flag.
    flag: &'static str,
    /// The value given.
    value: Option<String>,
}

/// A spec built from the arguments, not yet compiled.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The spec.
    pub spec: CheckSpec,
    origins: Vec<Origin>,
    target: String,
}

/// Which kinds of target each flag applies to.
const HTTP: &[Kind] = &[Kind::Http];
const HTTP_TLS: &[Kind] = &[Kind::Http, Kind::Tls];
const CONNECTING: &[Kind] = &[Kind::Http, Kind::Tcp, Kind::Tls];
const TCP: &[Kind] = &[Kind::Tcp];
const DNS: &[Kind] = &[Kind::Dns];

impl Draft {
    /// Builds the spec, checking each flag's value as it goes.
    ///
    /// # Errors
    ///
    /// As [`Plan::from_args`], except for problems only whole-spec validation finds
    /// (see [`Draft::compile`]).
    pub fn from_args(args: &CheckArgs) -> Result<Self, UsageError> {
        let target: Target = args.target.parse()?;
        let kind = target.kind();
        check_applies(args, kind)?;
        let mut d = Self {
            spec: CheckSpec::Http(HttpSpec::get("")),
            origins: Vec::new(),
            target: args.target.clone(),
        };
        for field in ["url", "host", "port", "name", "record_type"] {
            d.origin(field, TARGET_ARG, Some(&args.target));
        }

        let timeout = match &args.timeout {
            Some(v) => {
                d.origin("timeout", "--timeout", Some(v));
                values::positive_duration(v).map_err(|p| UsageError::invalid("--timeout", v, p))?
            }
            None => DEFAULT_TIMEOUT,
        };
        let resolver = d.resolver(args)?;
        let ip = d.ip(args);
        let tls = d.tls(args)?;
        let assertions = Assertions::from_args(args, kind)?;
        for (i, (flag, value)) in assertions.sources.iter().enumerate() {
            d.origin(format!("assertions[{i}]"), flag, Some(value));
        }
        let assertions = assertions.items;

        d.spec = match target {
            Target::Http { url } => {
                let mut s = HttpSpec::get(url);
                d.http(args, &mut s)?;
                s.timeout = timeout;
                s.tls = tls;
                s.ip = ip;
                s.resolver = resolver;
                s.assertions = assertions;
                CheckSpec::Http(s)
            }
            Target::Tcp { host, port } => {
                let mut s = TcpSpec::connect(host, port);
                if let Some(v) = &args.send {
                    d.origin("send", "--send", Some(v));
                    s.send =
                        Some(escape::decode(v).map_err(|p| UsageError::invalid("--send", v, p))?);
                }
                // A payload asks for an answer: read the banner to show it.
                s.read_banner = s.send.is_some()
                    || !args.expect_banner.is_empty()
                    || !args.expect_banner_regex.is_empty();
                s.timeout = timeout;
                s.ip = ip;
                s.resolver = resolver;
                s.assertions = assertions;
                CheckSpec::Tcp(s)
            }
            Target::Dns { name, record_type } => {
                let mut s = DnsSpec::query(name, record_type);
                s.timeout = timeout;
                s.resolver = resolver;
                s.assertions = assertions;
                CheckSpec::Dns(s)
            }
            Target::Tls { host, port } => {
                let mut s = TlsSpec::handshake(host, port);
                s.tls = tls;
                s.timeout = timeout;
                s.ip = ip;
                s.resolver = resolver;
                s.assertions = assertions;
                CheckSpec::Tls(s)
            }
        };
        Ok(d)
    }

    /// Validates the whole spec and prepares it to run.
    ///
    /// # Errors
    ///
    /// A [`UsageError`] naming the flag the rejected field came from.
    pub fn compile(self) -> Result<CompiledCheck, UsageError> {
        let Self {
            spec,
            origins,
            target,
        } = self;
        spec.compile()
            .map_err(|e| spec_error_to_usage(&e, &origins, &target))
    }

    fn origin(&mut self, field: impl Into<String>, flag: &'static str, value: Option<&str>) {
        self.origins.push(Origin {
            field: field.into(),
            flag,
            value: value.map(str::to_owned),
        });
    }

    fn resolver(&mut self, args: &CheckArgs) -> Result<ResolverSpec, UsageError> {
        let Some(v) = &args.resolver else {
            if args.dns_tcp {
                return Err(UsageError::flag(
                    "--dns-tcp",
                    "needs --resolver (the system resolver's transport cannot be chosen)",
                ));
            }
            return Ok(ResolverSpec::System);
        };
        self.origin("resolver", "--resolver", Some(v));
        let addr = values::resolver(v).map_err(|p| UsageError::invalid("--resolver", v, p))?;
        let transport = if args.dns_tcp {
            DnsTransport::Tcp
        } else {
            DnsTransport::Udp
        };
        Ok(ResolverSpec::Server { addr, transport })
    }

    fn ip(&mut self, args: &CheckArgs) -> IpPreference {
        if args.ipv4 {
            self.origin("ip", "--ipv4", None);
            IpPreference::V4
        } else if args.ipv6 {
            self.origin("ip", "--ipv6", None);
            IpPreference::V6
        } else {
            IpPreference::Any
        }
    }

    fn tls(&mut self, args: &CheckArgs) -> Result<TlsOptions, UsageError> {
        let mut tls = TlsOptions::default();
        tls.insecure = args.insecure;
        if let Some(path) = &args.ca_file {
            self.origin("tls.ca_pem", "--ca-file", Some(path));
            let pem = std::fs::read_to_string(path)
                .map_err(|e| UsageError::invalid("--ca-file", path, format!("cannot read: {e}")))?;
            tls.ca_pem = Some(pem);
        }
        if let Some(name) = &args.sni {
            self.origin("tls.server_name", "--sni", Some(name));
            tls.server_name = Some(name.clone());
        }
        Ok(tls)
    }

    fn http(&mut self, args: &CheckArgs, s: &mut HttpSpec) -> Result<(), UsageError> {
        for (i, h) in args.headers.iter().enumerate() {
            self.origin(format!("headers[{i}]"), "--header", Some(h));
            let pair = values::header(h).map_err(|p| UsageError::invalid("--header", h, p))?;
            s.headers.push(pair);
        }
        if let Some(data) = &args.data {
            self.origin("body", "--data", Some(data));
            let body = match data.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path).map_err(|e| {
                    UsageError::invalid("--data", data, format!("cannot read {path}: {e}"))
                })?,
                None => data.clone(),
            };
            s.body = Some(body);
            s.method = "POST".to_owned();
        }
        if let Some(m) = &args.method {
            self.origin("method", "--method", Some(m));
            s.method.clone_from(m);
        }
        if args.no_follow {
            self.origin("redirects", "--no-follow", None);
            s.redirects.follow = false;
        }
        if let Some(n) = args.max_redirects {
            self.origin("redirects", "--max-redirects", Some(&n.to_string()));
            s.redirects.max = n;
        }
        if args.http1 {
            self.origin("http_version", "--http1", None);
            s.http_version = HttpVersionPref::Http1;
        } else if args.http2 {
            self.origin("http_version", "--http2", None);
            s.http_version = HttpVersionPref::Http2;
        }
        if let Some(v) = &args.body_cap {
            self.origin("body_capture", "--body-cap", Some(v));
            let n = values::bytes(v).map_err(|p| UsageError::invalid("--body-cap", v, p))?;
            s.body_capture = usize::try_from(n)
                .map_err(|_| UsageError::invalid("--body-cap", v, "too large"))?;
        }
        if let Some(v) = &args.max_body {
            self.origin("max_body", "--max-body", Some(v));
            s.max_body =
                Some(values::bytes(v).map_err(|p| UsageError::invalid("--max-body", v, p))?);
        }
        Ok(())
    }
}

/// Refuses flags that make no sense for the target's kind.
fn check_applies(args: &CheckArgs, kind: Kind) -> Result<(), UsageError> {
    let given: [(&str, bool, &[Kind]); 27] = [
        ("--method", args.method.is_some(), HTTP),
        ("--header", !args.headers.is_empty(), HTTP),
        ("--data", args.data.is_some(), HTTP),
        ("--max-redirects", args.max_redirects.is_some(), HTTP),
        ("--no-follow", args.no_follow, HTTP),
        ("--body-cap", args.body_cap.is_some(), HTTP),
        ("--max-body", args.max_body.is_some(), HTTP),
        ("--http1", args.http1, HTTP),
        ("--http2", args.http2, HTTP),
        ("--send", args.send.is_some(), TCP),
        ("--insecure", args.insecure, HTTP_TLS),
        ("--ca-file", args.ca_file.is_some(), HTTP_TLS),
        ("--sni", args.sni.is_some(), HTTP_TLS),
        ("--ipv4", args.ipv4, CONNECTING),
        ("--ipv6", args.ipv6, CONNECTING),
        ("--expect-status", args.expect_status.is_some(), HTTP),
        ("--expect-body", !args.expect_body.is_empty(), HTTP),
        ("--expect-no-body", !args.expect_no_body.is_empty(), HTTP),
        (
            "--expect-body-regex",
            !args.expect_body_regex.is_empty(),
            HTTP,
        ),
        ("--expect-json", !args.expect_json.is_empty(), HTTP),
        ("--expect-header", !args.expect_header.is_empty(), HTTP),
        (
            "--expect-header-regex",
            !args.expect_header_regex.is_empty(),
            HTTP,
        ),
        ("--cert-min-days", args.cert_min_days.is_some(), HTTP_TLS),
        ("--expect-answer", !args.expect_answer.is_empty(), DNS),
        ("--expect-rcode", args.expect_rcode.is_some(), DNS),
        ("--expect-banner", !args.expect_banner.is_empty(), TCP),
        (
            "--expect-banner-regex",
            !args.expect_banner_regex.is_empty(),
            TCP,
        ),
    ];
    for (flag, present, kinds) in given {
        if present && !kinds.contains(&kind) {
            let schemes: Vec<&str> = kinds.iter().map(|k| k.scheme()).collect();
            return Err(UsageError::flag(
                flag,
                format!(
                    "only applies to {} targets, not {}",
                    schemes.join(" and "),
                    kind.scheme()
                ),
            ));
        }
    }
    Ok(())
}

/// Assertions built from the flags, each with the flag and value it came from.
#[derive(Debug, Default)]
struct Assertions {
    kind: &'static str,
    items: Vec<Assertion>,
    sources: Vec<(&'static str, String)>,
}

impl Assertions {
    fn from_args(args: &CheckArgs, kind: Kind) -> Result<Self, UsageError> {
        let mut a = Self {
            kind: match kind {
                Kind::Http => "http",
                Kind::Tcp => "tcp",
                Kind::Dns => "dns",
                Kind::Tls => "tls",
            },
            ..Self::default()
        };
        if kind == Kind::Http {
            match &args.expect_status {
                Some(v) => {
                    let expect: StatusMatch = v.parse().map_err(|e: SpecError| {
                        UsageError::invalid("--expect-status", v, e.problem)
                    })?;
                    a.fail("--expect-status", v, AssertionKind::StatusCode { expect })?;
                }
                None => a.fail(
                    "--expect-status",
                    &format!("{DEFAULT_EXPECT_STATUS} (default)"),
                    AssertionKind::StatusCode {
                        expect: DEFAULT_EXPECT_STATUS,
                    },
                )?,
            }
        }
        for v in &args.expect_body {
            a.fail(
                "--expect-body",
                v,
                AssertionKind::BodyContains { text: v.clone() },
            )?;
        }
        for v in &args.expect_no_body {
            let kind = AssertionKind::BodyNotContains { text: v.clone() };
            a.fail("--expect-no-body", v, kind)?;
        }
        for v in &args.expect_body_regex {
            let kind = AssertionKind::BodyMatches { pattern: v.clone() };
            a.fail("--expect-body-regex", v, kind)?;
        }
        for v in &args.expect_json {
            let e =
                values::json_expect(v).map_err(|p| UsageError::invalid("--expect-json", v, p))?;
            let kind = AssertionKind::Json {
                path: e.path,
                op: e.op,
                value: e.value,
            };
            a.fail("--expect-json", v, kind)?;
        }
        for v in &args.expect_header {
            let (name, value) =
                values::header(v).map_err(|p| UsageError::invalid("--expect-header", v, p))?;
            a.fail(
                "--expect-header",
                v,
                AssertionKind::HeaderEquals { name, value },
            )?;
        }
        for v in &args.expect_header_regex {
            let (name, pattern) = values::header(v)
                .map_err(|p| UsageError::invalid("--expect-header-regex", v, p))?;
            let kind = AssertionKind::HeaderMatches { name, pattern };
            a.fail("--expect-header-regex", v, kind)?;
        }
        for v in &args.expect_banner {
            let text =
                escape::decode(v).map_err(|p| UsageError::invalid("--expect-banner", v, p))?;
            a.fail("--expect-banner", v, AssertionKind::BannerContains { text })?;
        }
        for v in &args.expect_banner_regex {
            let kind = AssertionKind::BannerMatches { pattern: v.clone() };
            a.fail("--expect-banner-regex", v, kind)?;
        }
        for v in &args.expect_answer {
            let kind = AssertionKind::DnsAnswerContains { value: v.clone() };
            a.fail("--expect-answer", v, kind)?;
        }
        if let Some(v) = &args.expect_rcode {
            let kind = AssertionKind::DnsRcode {
                rcode: v.to_ascii_uppercase(),
            };
            a.fail("--expect-rcode", v, kind)?;
        }
        if let Some(days) = args.cert_min_days {
            let v = days.to_string();
            a.fail("--cert-min-days", &v, AssertionKind::CertMinDays { days })?;
        }
        if let Some(v) = &args.max_time {
            let below = values::positive_duration(v)
                .map_err(|p| UsageError::invalid("--max-time", v, p))?;
            a.fail("--max-time", v, AssertionKind::Time { phase: None, below })?;
        }
        for v in &args.max_phase {
            let (phase, below) =
                values::phase_limit(v).map_err(|p| UsageError::invalid("--max-phase", v, p))?;
            let kind = AssertionKind::Time {
                phase: Some(phase),
                below,
            };
            a.fail("--max-phase", v, kind)?;
        }
        if let Some(v) = &args.degraded_time {
            let below = values::positive_duration(v)
                .map_err(|p| UsageError::invalid("--degraded-time", v, p))?;
            let assertion = Assertion::degrade(AssertionKind::Time { phase: None, below });
            a.push("--degraded-time", v, assertion)?;
        }
        Ok(a)
    }

    fn fail(
        &mut self,
        flag: &'static str,
        value: &str,
        kind: AssertionKind,
    ) -> Result<(), UsageError> {
        self.push(flag, value, Assertion::fail(kind))
    }

    /// Validates one assertion on its own, so that a bad one names its flag.
    fn push(&mut self, flag: &'static str, value: &str, a: Assertion) -> Result<(), UsageError> {
        CompiledAssertions::compile(self.kind, std::slice::from_ref(&a))
            .map_err(|e| UsageError::invalid(flag, value, e.problem))?;
        self.items.push(a);
        self.sources.push((flag, value.to_owned()));
        Ok(())
    }
}

/// Maps a spec field rejected by validation back onto the flag it came from.
fn spec_error_to_usage(e: &SpecError, origins: &[Origin], target: &str) -> UsageError {
    let matches = |o: &&Origin| {
        e.field == o.field
            || e.field
                .strip_prefix(o.field.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']))
    };
    // The most specific (longest) field wins, and for equal fields the last flag given.
    let best = origins.iter().filter(matches).max_by_key(|o| o.field.len());
    match best {
        Some(Origin {
            flag,
            value: Some(v),
            ..
        }) => UsageError::invalid(*flag, v, e.problem.clone()),
        Some(Origin {
            flag, value: None, ..
        }) => UsageError::flag(*flag, format!("cannot be used here: {}", e.problem)),
        None => UsageError::invalid(TARGET_ARG, target, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use bitwobbly_core::{JsonOp, Phase, RecordType, Severity};
    use serde_json::json;

    use super::*;

    fn args(argv: &[&str]) -> CheckArgs {
        crate::args::parse_check(argv)
    }

    fn draft(argv: &[&str]) -> Draft {
        Draft::from_args(&args(argv)).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
    }

    fn usage(argv: &[&str]) -> UsageError {
        Draft::from_args(&args(argv)).unwrap_err()
    }

    fn http(argv: &[&str]) -> HttpSpec {
        match draft(argv).spec {
            CheckSpec::Http(s) => s,
            other => panic!("not http: {other:?}"),
        }
    }

    fn kinds(spec: &CheckSpec) -> Vec<AssertionKind> {
        spec.assertions().iter().map(|a| a.kind.clone()).collect()
    }

    #[test]
    fn http_defaults_expect_200_to_399() {
        let s = http(&["https://example.com/"]);
        assert_eq!(s.method, "GET");
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            kinds(&CheckSpec::Http(s)),
            [AssertionKind::StatusCode {
                expect: StatusMatch::Range(200, 399)
            }]
        );
    }

    #[test]
    fn expect_status_replaces_the_default() {
        let s = http(&["https://example.com/", "--expect-status", "200,204"]);
        assert_eq!(
            kinds(&CheckSpec::Http(s)),
            [AssertionKind::StatusCode {
                expect: StatusMatch::OneOf(vec![200, 204])
            }]
        );
        let s = http(&["https://example.com/", "--expect-status", "2xx"]);
        assert_eq!(
            s.assertions[0].kind,
            AssertionKind::StatusCode {
                expect: StatusMatch::Range(200, 299)
            }
        );
    }

    #[test]
    fn request_flags_map_onto_the_http_spec() {
        let s = http(&[
            "http://127.0.0.1:8080/x",
            "-X",
            "PUT",
            "-H",
            "Accept: application/json",
            "-H",
            "X-Trace: a:b",
            "-d",
            "{}",
            "--timeout",
            "500ms",
            "--max-redirects",
            "3",
            "--http2",
            "--body-cap",
            "64k",
            "--max-body",
            "1MiB",
            "-6",
            "-k",
            "--sni",
            "api.example.com",
        ]);
        assert_eq!(s.method, "PUT");
        assert_eq!(
            s.headers,
            [
                ("Accept".into(), "application/json".into()),
                ("X-Trace".into(), "a:b".into())
            ]
        );
        assert_eq!(s.body.as_deref(), Some("{}"));
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(s.redirects.max, 3);
        assert!(s.redirects.follow);
        assert_eq!(s.http_version, HttpVersionPref::Http2);
        assert_eq!(s.body_capture, 65536);
        assert_eq!(s.max_body, Some(1 << 20));
        assert_eq!(s.ip, IpPreference::V6);
        assert!(s.tls.insecure);
        assert_eq!(s.tls.server_name.as_deref(), Some("api.example.com"));
    }

    #[test]
    fn data_implies_post_and_reads_files() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"from a file").unwrap();
        let at = format!("@{}", f.path().display());
        let s = http(&["https://x/", "-d", &at]);
        assert_eq!(s.method, "POST");
        assert_eq!(s.body.as_deref(), Some("from a file"));
        let e = usage(&["https://x/", "-d", "@/nonexistent/body.json"]);
        assert_eq!(e.flag, "--data");
        assert!(e.problem.contains("cannot read"), "{e}");
    }

    #[test]
    fn no_follow_and_http1() {
        let s = http(&["https://x/", "--no-follow", "--http1"]);
        assert!(!s.redirects.follow);
        assert_eq!(s.http_version, HttpVersionPref::Http1);
    }

    #[test]
    fn ca_file_is_read_into_tls_options() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"-----BEGIN CERTIFICATE-----\n").unwrap();
        let path = f.path().display().to_string();
        let s = match draft(&["tls://127.0.0.1:8443", "--ca-file", &path]).spec {
            CheckSpec::Tls(s) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            s.tls.ca_pem.as_deref(),
            Some("-----BEGIN CERTIFICATE-----\n")
        );
        let e = usage(&["tls://h", "--ca-file", "/nonexistent/ca.pem"]);
        assert_eq!(e.flag, "--ca-file");
    }

    #[test]
    fn body_and_header_assertions() {
        let s = http(&[
            "https://x/",
            "--expect-body",
            "ok",
            "--expect-no-body",
            "error",
            "--expect-body-regex",
            "v[0-9]+",
            "--expect-header",
            "Content-Type: application/json",
            "--expect-header-regex",
            "Server: ^nginx",
            "--expect-json",
            "$.status == \"ok\"",
        ]);
        let k = kinds(&CheckSpec::Http(s));
        assert_eq!(
            k[1..],
            [
                AssertionKind::BodyContains { text: "ok".into() },
                AssertionKind::BodyNotContains {
                    text: "error".into()
                },
                AssertionKind::BodyMatches {
                    pattern: "v[0-9]+".into()
                },
                AssertionKind::Json {
                    path: "$.status".into(),
                    op: JsonOp::Eq,
                    value: Some(json!("ok"))
                },
                AssertionKind::HeaderEquals {
                    name: "Content-Type".into(),
                    value: "application/json".into()
                },
                AssertionKind::HeaderMatches {
                    name: "Server".into(),
                    pattern: "^nginx".into()
                },
            ]
        );
    }

    #[test]
    fn time_assertions_and_severity() {
        let s = http(&[
            "https://x/",
            "--max-time",
            "2s",
            "--max-phase",
            "ttfb=300ms",
            "--max-phase",
            "dns=50ms",
            "--degraded-time",
            "1s",
            "--cert-min-days",
            "14",
        ]);
        let got: Vec<_> = s
            .assertions
            .iter()
            .map(|a| (a.kind.clone(), a.severity))
            .collect();
        assert_eq!(
            got[1..],
            [
                (AssertionKind::CertMinDays { days: 14 }, Severity::Fail),
                (
                    AssertionKind::Time {
                        phase: None,
                        below: Duration::from_secs(2)
                    },
                    Severity::Fail
                ),
                (
                    AssertionKind::Time {
                        phase: Some(Phase::Ttfb),
                        below: Duration::from_millis(300)
                    },
                    Severity::Fail
                ),
                (
                    AssertionKind::Time {
                        phase: Some(Phase::Dns),
                        below: Duration::from_millis(50)
                    },
                    Severity::Fail
                ),
                (
                    AssertionKind::Time {
                        phase: None,
                        below: Duration::from_secs(1)
                    },
                    Severity::Degrade
                ),
            ]
        );
    }

    #[test]
    fn tcp_send_and_banner_are_decoded() {
        let d = draft(&[
            "tcp://127.0.0.1:25",
            "--send",
            r"EHLO x\r\n",
            "--expect-banner",
            r"220 \x41",
            "--expect-banner-regex",
            "^220",
        ]);
        let CheckSpec::Tcp(s) = &d.spec else {
            panic!("{:?}", d.spec)
        };
        assert_eq!(s.send.as_deref(), Some("EHLO x\r\n"));
        assert!(s.read_banner);
        assert_eq!(
            kinds(&d.spec),
            [
                AssertionKind::BannerContains {
                    text: "220 A".into()
                },
                AssertionKind::BannerMatches {
                    pattern: "^220".into()
                },
            ]
        );
        let e = usage(&["tcp://h:1", "--send", r"\q"]);
        assert_eq!(e.flag, "--send");
    }

    #[test]
    fn plain_tcp_connect_reads_no_banner() {
        let CheckSpec::Tcp(s) = draft(&["tcp://127.0.0.1:22"]).spec else {
            panic!()
        };
        assert!(!s.read_banner);
        assert!(s.assertions.is_empty());
    }

    #[test]
    fn dns_flags() {
        let d = draft(&[
            "dns://example.com?type=MX",
            "--resolver",
            "127.0.0.1:5353",
            "--dns-tcp",
            "--expect-answer",
            "mail.example.com",
            "--expect-rcode",
            "noerror",
        ]);
        let CheckSpec::Dns(s) = &d.spec else { panic!() };
        assert_eq!(s.record_type, RecordType::Mx);
        assert_eq!(
            s.resolver,
            ResolverSpec::Server {
                addr: "127.0.0.1:5353".parse().unwrap(),
                transport: DnsTransport::Tcp
            }
        );
        assert_eq!(
            kinds(&d.spec),
            [
                AssertionKind::DnsAnswerContains {
                    value: "mail.example.com".into()
                },
                AssertionKind::DnsRcode {
                    rcode: "NOERROR".into()
                },
            ]
        );
    }

    #[test]
    fn resolver_applies_to_http() {
        let s = http(&["https://x/", "--resolver", "10.0.0.53"]);
        assert_eq!(
            s.resolver,
            ResolverSpec::Server {
                addr: "10.0.0.53:53".parse().unwrap(),
                transport: DnsTransport::Udp
            }
        );
    }

    #[test]
    fn dns_tcp_needs_a_resolver() {
        let e = usage(&["dns://example.com", "--dns-tcp"]);
        assert_eq!(
            e.to_string(),
            "--dns-tcp needs --resolver (the system resolver's transport cannot be chosen)"
        );
    }

    #[test]
    fn flags_for_another_kind_are_refused() {
        let e = usage(&["tcp://h:1", "--expect-status", "200"]);
        assert_eq!(
            e.to_string(),
            "--expect-status only applies to http(s):// targets, not tcp://"
        );
        assert_eq!(usage(&["https://x/", "--send", "hi"]).flag, "--send");
        assert_eq!(usage(&["dns://x", "-4"]).flag, "--ipv4");
        assert_eq!(
            usage(&["tcp://h:1", "--cert-min-days", "3"]).flag,
            "--cert-min-days"
        );
        assert_eq!(
            usage(&["tls://h", "--expect-answer", "1"]).flag,
            "--expect-answer"
        );
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["https://x/", "--timeout", "5 parsecs"],
                "--timeout",
                "5 parsecs",
            ),
            (&["https://x/", "--timeout", "0s"], "--timeout", "0s"),
            (
                &["https://x/", "--expect-status", "abc"],
                "--expect-status",
                "abc",
            ),
            (
                &["https://x/", "--expect-json", "$.a ~ 1"],
                "--expect-json",
                "$.a ~ 1",
            ),
            (&["https://x/", "-H", "nocolon"], "--header", "nocolon"),
            (
                &["https://x/", "--expect-header", "x"],
                "--expect-header",
                "x",
            ),
            (
                &["https://x/", "--max-phase", "nap=1s"],
                "--max-phase",
                "nap=1s",
            ),
            (&["https://x/", "--max-time", "soon"], "--max-time", "soon"),
            (
                &["https://x/", "--degraded-time", "0ms"],
                "--degraded-time",
                "0ms",
            ),
            (
                &["https://x/", "--body-cap", "3 bushels"],
                "--body-cap",
                "3 bushels",
            ),
            (
                &["https://x/", "--resolver", "dns.google"],
                "--resolver",
                "dns.google",
            ),
            (
                &["tcp://h:1", "--expect-banner", "\\"],
                "--expect-banner",
                "\\",
            ),
            (&["gopher://x"], TARGET_ARG, "gopher://x"),
        ];
        for (argv, flag, value) in cases {
            let e = usage(argv);
            assert_eq!(
                (e.flag.as_str(), e.value.as_deref()),
                (*flag, Some(*value)),
                "{argv:?}"
            );
            assert!(
                e.to_string().starts_with(&format!("invalid {flag} \"")),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_interval_names_the_flag() {
        let e = Plan::from_args(&args(&["tcp://h:1", "--interval", "often"])).unwrap_err();
        assert_eq!(e.flag, "--interval");
    }

    #[test]
    fn spec_errors_map_back_to_flags() {
        let origins = vec![
            Origin {
                field: "url".into(),
                flag: TARGET_ARG,
                value: Some("https://x/".into()),
            },
            Origin {
                field: "headers[0]".into(),
                flag: "--header",
                value: Some("A: 1".into()),
            },
            Origin {
                field: "headers[1]".into(),
                flag: "--header",
                value: Some("B\u{7f}: 2".into()),
            },
            Origin {
                field: "assertions[1]".into(),
                flag: "--expect-body-regex",
                value: Some("(".into()),
            },
            Origin {
                field: "ip".into(),
                flag: "--ipv6",
                value: None,
            },
        ];
        let map = |field: &str| {
            spec_error_to_usage(&SpecError::new(field, "bad"), &origins, "https://x/").to_string()
        };
        assert_eq!(
            map("headers[1].name"),
            r#"invalid --header "B\u{7f}: 2": bad"#
        );
        assert_eq!(
            map("assertions[1].pattern"),
            r#"invalid --expect-body-regex "(": bad"#
        );
        assert_eq!(map("url"), r#"invalid <TARGET> "https://x/": bad"#);
        assert_eq!(map("ip"), "--ipv6 cannot be used here: bad");
        assert_eq!(
            map("banner_cap"),
            r#"invalid <TARGET> "https://x/": invalid `banner_cap`: bad"#
        );
        // `headers[10]` must not be taken for `headers[1]`.
        assert_eq!(
            map("headers[10]"),
            r#"invalid <TARGET> "https://x/": invalid `headers[10]`: bad"#
        );
    }
}
