//! Check specifications: what to probe and how.
//!
//! A [`CheckSpec`] is plain, serialisable data (JSON or TOML). Before it runs it is
//! compiled with [`CheckSpec::compile`], which validates every field and prepares
//! regular expressions and JSONPath queries once, so that a spec checked every ten
//! seconds does not pay for that work again.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::assert::{Assertion, AssertionKind, CompiledAssertions};
use crate::error::SpecError;
use crate::heartbeat::{Expect, HeartbeatPolicy};

/// Default limit for a whole check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of response body bytes kept for assertions and reports (1 MiB).
pub const DEFAULT_BODY_CAPTURE: usize = 1024 * 1024;
/// Default number of redirects followed before the check fails.
pub const DEFAULT_MAX_REDIRECTS: u8 = 10;
/// Longest timeout a check may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// What to check. The variant decides the probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckSpec {
    /// An HTTP or HTTPS request.
    Http(HttpSpec),
    /// A TCP connection, optionally exchanging a payload and banner.
    Tcp(TcpSpec),
    /// A DNS query.
    Dns(DnsSpec),
    /// A TLS handshake, for certificate facts.
    Tls(TlsSpec),
    /// A heartbeat (push) monitor: nothing is probed, pings are expected instead.
    ///
    /// Serialised with the policy's fields beside the tag, e.g.
    /// `{"type": "heartbeat", "expect": {"type": "period", "period": "5m"}, "grace": "1m"}`.
    /// It validates ([`CheckSpec::validate`]) but does not compile: it is never run.
    Heartbeat(HeartbeatPolicy),
}

/// Which address family to connect over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IpPreference {
    /// Use addresses in the order the resolver returns them, either family.
    #[default]
    Any,
    /// Only IPv4 addresses.
    V4,
    /// Only IPv6 addresses.
    V6,
}

/// Where host names are resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResolverSpec {
    /// The system's configuration (`/etc/resolv.conf` and hosts file).
    #[default]
    System,
    /// A specific DNS server.
    Server {
        /// Address and port of the server, e.g. `1.1.1.1:53`.
        addr: SocketAddr,
        /// Transport to reach it over.
        #[serde(default)]
        transport: DnsTransport,
    },
}

/// Transport used to talk to a DNS server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DnsTransport {
    /// UDP, falling back to TCP for truncated answers.
    #[default]
    Udp,
    /// TCP only.
    Tcp,
}

/// TLS settings shared by HTTPS and TLS checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsOptions {
    /// Accept any certificate (expired, self-signed, wrong name). Default `false`.
    /// Certificate facts are still reported.
    pub insecure: bool,
    /// Extra trusted roots in PEM, added to the built-in web PKI roots. Default none.
    pub ca_pem: Option<String>,
    /// Server name sent in SNI and verified, when it differs from the target host.
    /// Default: the target host.
    pub server_name: Option<String>,
}

/// HTTP protocol versions a check may negotiate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HttpVersionPref {
    /// HTTP/2 when the server offers it through ALPN, else HTTP/1.1. Plain HTTP uses HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge on plain HTTP, ALPN `h2` on HTTPS).
    Http2,
}

/// Whether and how far redirects are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RedirectPolicy {
    /// Follow `301`, `302`, `303`, `307` and `308` answers. Default `true`.
    pub follow: bool,
    /// How many redirects to follow before failing with `too_many_redirects`. Default 10.
    pub max: u8,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        Self {
            follow: true,
            max: DEFAULT_MAX_REDIRECTS,
        }
    }
}

/// An HTTP(S) check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpSpec {
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Request method. Default `GET`.
    #[serde(default = "default_method")]
    pub method: String,
    /// Request headers, in order. `Host` and `User-Agent` are added when missing.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Request body, sent as is.
    #[serde(default)]
    pub body: Option<String>,
    /// Limit for the whole check, redirects included. Default 10 s.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Redirect handling.
    #[serde(default)]
    pub redirects: RedirectPolicy,
    /// TLS settings for `https://` targets.
    #[serde(default)]
    pub tls: TlsOptions,
    /// Protocol versions to negotiate.
    #[serde(default)]
    pub http_version: HttpVersionPref,
    /// Body bytes kept for assertions and the report; the rest is read and counted. Default 1 MiB.
    #[serde(default = "default_body_capture")]
    pub body_capture: usize,
    /// Fail with `body_too_large` when the body is longer than this. Default: no limit.
    #[serde(default)]
    pub max_body: Option<u64>,
    /// Address family.
    #[serde(default)]
    pub ip: IpPreference,
    /// Resolver for the host name.
    #[serde(default)]
    pub resolver: ResolverSpec,
    /// Conditions on the response.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
}

impl HttpSpec {
    /// A `GET` of `url` with every other setting at its default.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: default_method(),
            headers: Vec::new(),
            body: None,
            timeout: DEFAULT_TIMEOUT,
            redirects: RedirectPolicy::default(),
            tls: TlsOptions::default(),
            http_version: HttpVersionPref::default(),
            body_capture: DEFAULT_BODY_CAPTURE,
            max_body: None,
            ip: IpPreference::default(),
            resolver: ResolverSpec::default(),
            assertions: Vec::new(),
        }
    }
}

/// A TCP check: connect, optionally send a payload and read a banner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TcpSpec {
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Bytes to send after connecting (escapes such as `\r\n` are already decoded).
    #[serde(default)]
    pub send: Option<String>,
    /// Read a banner after connecting (and sending). Implied by a `banner_contains` or
    /// `banner_matches` assertion.
    #[serde(default)]
    pub read_banner: bool,
    /// Most banner bytes read. Default 4 KiB.
    #[serde(default = "default_banner_cap")]
    pub banner_cap: usize,
    /// Limit for the whole check. Default 10 s.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Address family.
    #[serde(default)]
    pub ip: IpPreference,
    /// Resolver for the host name.
    #[serde(default)]
    pub resolver: ResolverSpec,
    /// Conditions on the connection and banner.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
}

impl TcpSpec {
    /// A plain connect check of `host:port`.
    pub fn connect(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            send: None,
            read_banner: false,
            banner_cap: default_banner_cap(),
            timeout: DEFAULT_TIMEOUT,
            ip: IpPreference::default(),
            resolver: ResolverSpec::default(),
            assertions: Vec::new(),
        }
    }
}

/// DNS record types a DNS check can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Name server.
    Ns,
    /// Start of authority.
    Soa,
    /// Certification authority authorisation.
    Caa,
    /// Service locator.
    Srv,
    /// Pointer (reverse lookup).
    Ptr,
}

impl RecordType {
    /// Every supported type, in the order above.
    pub const ALL: [Self; 10] = [
        Self::A,
        Self::Aaaa,
        Self::Cname,
        Self::Mx,
        Self::Txt,
        Self::Ns,
        Self::Soa,
        Self::Caa,
        Self::Srv,
        Self::Ptr,
    ];

    /// The type's mnemonic, e.g. `AAAA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Ns => "NS",
            Self::Soa => "SOA",
            Self::Caa => "CAA",
            Self::Srv => "SRV",
            Self::Ptr => "PTR",
        }
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RecordType {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                SpecError::new(
                    "record_type",
                    format!(
                        "unknown record type {s:?}, expected one of A, AAAA, CNAME, MX, TXT, NS, SOA, CAA, SRV, PTR"
                    ),
                )
            })
    }
}

/// A DNS check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DnsSpec {
    /// Name to query, e.g. `example.com` (or an address for `PTR`, which is turned into
    /// its `in-addr.arpa` / `ip6.arpa` name).
    pub name: String,
    /// Record type. Default `A`.
    #[serde(default = "default_record_type")]
    pub record_type: RecordType,
    /// Server to ask. Default: the system resolver.
    #[serde(default)]
    pub resolver: ResolverSpec,
    /// Limit for the whole check. Default 10 s.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Conditions on the answer.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
}

impl DnsSpec {
    /// A query for `name` of type `record_type` against the system resolver.
    pub fn query(name: impl Into<String>, record_type: RecordType) -> Self {
        Self {
            name: name.into(),
            record_type,
            resolver: ResolverSpec::default(),
            timeout: DEFAULT_TIMEOUT,
            assertions: Vec::new(),
        }
    }
}

/// A TLS check: handshake and certificate facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsSpec {
    /// Host name or IP literal.
    pub host: String,
    /// Port. Default 443.
    #[serde(default = "default_tls_port")]
    pub port: u16,
    /// TLS settings (SNI override, extra roots, insecure).
    #[serde(default)]
    pub tls: TlsOptions,
    /// Limit for the whole check. Default 10 s.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Address family.
    #[serde(default)]
    pub ip: IpPreference,
    /// Resolver for the host name.
    #[serde(default)]
    pub resolver: ResolverSpec,
    /// Conditions on the handshake and certificate.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
}

impl TlsSpec {
    /// A handshake with `host:port` using default TLS settings.
    pub fn handshake(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            tls: TlsOptions::default(),
            timeout: DEFAULT_TIMEOUT,
            ip: IpPreference::default(),
            resolver: ResolverSpec::default(),
            assertions: Vec::new(),
        }
    }
}

impl CheckSpec {
    /// The check's kind as a short lowercase name (`http`, `tcp`, `dns`, `tls`,
    /// `heartbeat`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::Dns(_) => "dns",
            Self::Tls(_) => "tls",
            Self::Heartbeat(_) => "heartbeat",
        }
    }

    /// Whether this is a heartbeat monitor (pinged, never run).
    pub fn is_heartbeat(&self) -> bool {
        matches!(self, Self::Heartbeat(_))
    }

    /// The heartbeat policy, for a heartbeat monitor.
    pub fn heartbeat(&self) -> Option<&HeartbeatPolicy> {
        match self {
            Self::Heartbeat(p) => Some(p),
            _ => None,
        }
    }

    /// The limit for the whole check; zero for a heartbeat, which is not run.
    pub fn timeout(&self) -> Duration {
        match self {
            Self::Http(s) => s.timeout,
            Self::Tcp(s) => s.timeout,
            Self::Dns(s) => s.timeout,
            Self::Tls(s) => s.timeout,
            Self::Heartbeat(_) => Duration::ZERO,
        }
    }

    /// The spec's assertions (none for a heartbeat).
    pub fn assertions(&self) -> &[Assertion] {
        match self {
            Self::Http(s) => &s.assertions,
            Self::Tcp(s) => &s.assertions,
            Self::Dns(s) => &s.assertions,
            Self::Tls(s) => &s.assertions,
            Self::Heartbeat(_) => &[],
        }
    }

    /// A human-readable target: the URL, `host:port`, `name TYPE`, or for a heartbeat what
    /// it expects (`ping every 5m`, `ping at 0 3 * * * Europe/Berlin`).
    pub fn target(&self) -> String {
        match self {
            Self::Http(s) => s.url.clone(),
            Self::Tcp(s) => format_host_port(&s.host, s.port),
            Self::Dns(s) => format!("{} {}", s.name, s.record_type),
            Self::Tls(s) => format_host_port(&s.host, s.port),
            Self::Heartbeat(p) => match &p.expect {
                Expect::Period { period } => {
                    format!("ping every {}", humantime::format_duration(*period))
                }
                Expect::Cron { cron } => format!("ping at {} {}", cron.expr(), cron.tz()),
            },
        }
    }

    /// Validates every field and the assertions, without preparing anything to run. A
    /// heartbeat's policy is validated here too (its fields sit beside the `type` tag, so
    /// its paths are `expect.period`, `max_runtime`).
    ///
    /// # Errors
    ///
    /// As [`CheckSpec::compile`], except that a valid heartbeat passes.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Self::Heartbeat(p) = self {
            return p.validate();
        }
        crate::validate::validate(self)?;
        CompiledAssertions::compile(self.kind(), self.assertions())
            .map_err(|e| e.within("assertions"))?;
        Ok(())
    }

    /// Validates every field and prepares the assertions.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] naming the first invalid field: a URL that is not absolute
    /// `http(s)`, an empty host, a zero or too long timeout, a header that is not valid
    /// HTTP, a PEM bundle with no certificate, a bad regular expression or JSONPath, or an
    /// assertion that makes no sense for this kind of check. A heartbeat is refused on
    /// field `type`: heartbeat monitors receive pings and are not run.
    pub fn compile(self) -> Result<CompiledCheck, SpecError> {
        if self.is_heartbeat() {
            return Err(SpecError::new(
                "type",
                "heartbeat monitors receive pings and are not run",
            ));
        }
        let url = crate::validate::validate(&self)?;
        // An HTTP check that says nothing about the status still fails on an error status.
        let default_status = matches!(self, Self::Http(_))
            && !self
                .assertions()
                .iter()
                .any(|a| matches!(a.kind, AssertionKind::StatusCode { .. }));
        let assertions = if default_status {
            let mut list = self.assertions().to_vec();
            list.push(Assertion::fail(AssertionKind::StatusCode {
                expect: crate::assert::DEFAULT_HTTP_STATUS,
            }));
            CompiledAssertions::compile(self.kind(), &list)
        } else {
            CompiledAssertions::compile(self.kind(), self.assertions())
        }
        .map_err(|e| e.within("assertions"))?;
        Ok(CompiledCheck {
            spec: self,
            assertions,
            url,
        })
    }
}

/// A validated spec with its assertions prepared, ready to run many times.
#[derive(Debug, Clone)]
pub struct CompiledCheck {
    spec: CheckSpec,
    assertions: CompiledAssertions,
    url: Option<url::Url>,
}

impl CompiledCheck {
    /// The spec this was compiled from.
    pub fn spec(&self) -> &CheckSpec {
        &self.spec
    }

    /// The prepared assertions.
    pub fn assertions(&self) -> &CompiledAssertions {
        &self.assertions
    }

    /// The parsed URL of an HTTP check (validated as absolute `http`/`https` with a
    /// host); `None` for other kinds.
    pub fn url(&self) -> Option<&url::Url> {
        self.url.as_ref()
    }

    /// The host the check connects to: the URL's host for HTTP, the `host` field for TCP
    /// and TLS; `None` for DNS checks, which query a name rather than connect to it.
    pub fn connect_host(&self) -> Option<&str> {
        match &self.spec {
            CheckSpec::Http(_) => self.url().and_then(url::Url::host_str),
            CheckSpec::Tcp(s) => Some(&s.host),
            CheckSpec::Tls(s) => Some(&s.host),
            CheckSpec::Dns(_) | CheckSpec::Heartbeat(_) => None,
        }
    }
}

/// Formats `host:port`, bracketing IPv6 literals.
pub fn format_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

fn default_body_capture() -> usize {
    DEFAULT_BODY_CAPTURE
}

fn default_banner_cap() -> usize {
    4096
}

fn default_record_type() -> RecordType {
    RecordType::A
}

fn default_tls_port() -> u16 {
    443
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::assert::{JsonOp, StatusMatch};
    use crate::report::Phase;

    fn round_trip(spec: &CheckSpec) -> CheckSpec {
        let text = serde_json::to_string(spec).expect("serialise");
        serde_json::from_str(&text).expect("deserialise")
    }

    fn full_http() -> CheckSpec {
        CheckSpec::Http(HttpSpec {
            url: "https://example.com/health?full=1".to_owned(),
            method: "POST".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-token".to_owned(), "abc".to_owned()),
            ],
            body: Some(r#"{"ping":true}"#.to_owned()),
            timeout: Duration::from_millis(2500),
            redirects: RedirectPolicy {
                follow: false,
                max: 3,
            },
            tls: TlsOptions {
                insecure: true,
                ca_pem: Some(
                    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_owned(),
                ),
                server_name: Some("api.example.com".to_owned()),
            },
            http_version: HttpVersionPref::Http2,
            body_capture: 4096,
            max_body: Some(1 << 20),
            ip: IpPreference::V6,
            resolver: ResolverSpec::Server {
                addr: "127.0.0.1:5353".parse().expect("addr"),
                transport: DnsTransport::Tcp,
            },
            assertions: vec![
                Assertion::fail(AssertionKind::StatusCode {
                    expect: StatusMatch::OneOf(vec![200, 204]),
                }),
                Assertion::degrade(AssertionKind::Time {
                    phase: Some(Phase::Ttfb),
                    below: Duration::from_millis(300),
                }),
                Assertion::fail(AssertionKind::Json {
                    path: "$.status".to_owned(),
                    op: JsonOp::Eq,
                    value: Some(json!("ok")),
                }),
                Assertion::fail(AssertionKind::CertMinDays { days: 14 }),
            ],
        })
    }

    fn full_tcp() -> CheckSpec {
        CheckSpec::Tcp(TcpSpec {
            host: "mail.example.com".to_owned(),
            port: 25,
            send: Some("EHLO bitwobbly\r\n".to_owned()),
            read_banner: true,
            banner_cap: 512,
            timeout: Duration::from_secs(3),
            ip: IpPreference::V4,
            resolver: ResolverSpec::System,
            assertions: vec![Assertion::fail(AssertionKind::BannerMatches {
                pattern: "^220 ".to_owned(),
            })],
        })
    }

    fn full_dns() -> CheckSpec {
        CheckSpec::Dns(DnsSpec {
            name: "example.com".to_owned(),
            record_type: RecordType::Mx,
            resolver: ResolverSpec::Server {
                addr: "[::1]:53".parse().expect("addr"),
                transport: DnsTransport::Udp,
            },
            timeout: Duration::from_secs(1),
            assertions: vec![
                Assertion::fail(AssertionKind::DnsRcode {
                    rcode: "NOERROR".to_owned(),
                }),
                Assertion::fail(AssertionKind::DnsAnswerContains {
                    value: "mail.example.com".to_owned(),
                }),
            ],
        })
    }

    fn full_tls() -> CheckSpec {
        CheckSpec::Tls(TlsSpec {
            host: "example.com".to_owned(),
            port: 8443,
            tls: TlsOptions {
                insecure: false,
                ca_pem: None,
                server_name: Some("www.example.com".to_owned()),
            },
            timeout: Duration::from_secs(4),
            ip: IpPreference::Any,
            resolver: ResolverSpec::System,
            assertions: vec![Assertion::degrade(AssertionKind::CertMinDays { days: 21 })],
        })
    }

    #[test]
    fn compiled_checks_keep_the_parsed_url_and_connect_host() {
        let http = CheckSpec::Http(HttpSpec::get("https://example.com:8443/health"))
            .compile()
            .expect("valid");
        let url = http.url().expect("an http check keeps its URL");
        assert_eq!(url.port(), Some(8443));
        assert_eq!(http.connect_host(), Some("example.com"));

        let tcp = CheckSpec::Tcp(TcpSpec::connect("::1", 25))
            .compile()
            .expect("valid");
        assert_eq!(tcp.url(), None);
        assert_eq!(tcp.connect_host(), Some("::1"));

        let dns = CheckSpec::Dns(DnsSpec::query("example.com", RecordType::Mx))
            .compile()
            .expect("valid");
        assert_eq!(dns.connect_host(), None);
    }

    #[test]
    fn full_http_spec_round_trips() {
        let spec = full_http();
        assert_eq!(round_trip(&spec), spec);
    }

    #[test]
    fn full_tcp_spec_round_trips() {
        let spec = full_tcp();
        assert_eq!(round_trip(&spec), spec);
    }

    #[test]
    fn full_dns_spec_round_trips() {
        let spec = full_dns();
        assert_eq!(round_trip(&spec), spec);
    }

    #[test]
    fn full_tls_spec_round_trips() {
        let spec = full_tls();
        assert_eq!(round_trip(&spec), spec);
    }

    #[test]
    fn full_specs_compile() {
        for spec in [full_http(), full_tcp(), full_dns(), full_tls()] {
            let kind = spec.kind();
            let check = spec.compile().expect("valid spec");
            assert_eq!(check.spec().kind(), kind);
            assert!(!check.assertions().is_empty());
        }
    }

    #[test]
    fn spec_json_uses_type_tag_and_readable_durations() {
        let v = serde_json::to_value(full_http()).expect("serialise");
        assert_eq!(v["type"], json!("http"));
        assert_eq!(v["timeout"], json!("2s 500ms"));
        assert_eq!(v["http_version"], json!("http2"));
        assert_eq!(v["resolver"]["kind"], json!("server"));
        assert_eq!(v["assertions"][1]["below"], json!("300ms"));
        assert_eq!(
            serde_json::to_value(full_dns()).expect("serialise")["record_type"],
            json!("MX")
        );
    }

    #[test]
    fn minimal_http_json_gets_defaults() {
        let spec: CheckSpec =
            serde_json::from_value(json!({"type": "http", "url": "https://example.com/"}))
                .expect("deserialise");
        assert_eq!(spec, CheckSpec::Http(HttpSpec::get("https://example.com/")));
    }

    #[test]
    fn minimal_tls_json_defaults_to_port_443() {
        let spec: CheckSpec = serde_json::from_value(json!({"type": "tls", "host": "example.com"}))
            .expect("deserialise");
        assert_eq!(spec, CheckSpec::Tls(TlsSpec::handshake("example.com", 443)));
    }

    #[test]
    fn minimal_dns_json_defaults_to_a() {
        let spec: CheckSpec = serde_json::from_value(json!({"type": "dns", "name": "example.com"}))
            .expect("deserialise");
        assert_eq!(
            spec,
            CheckSpec::Dns(DnsSpec::query("example.com", RecordType::A))
        );
    }

    #[test]
    fn unknown_spec_field_is_rejected() {
        let r = serde_json::from_value::<CheckSpec>(
            json!({"type": "tcp", "host": "x", "port": 1, "prot": 2}),
        );
        assert!(r.is_err());
    }

    #[test]
    fn compile_names_the_assertion_field() {
        let mut s = HttpSpec::get("https://example.com/");
        s.assertions = vec![
            Assertion::fail(AssertionKind::BodyContains {
                text: "ok".to_owned(),
            }),
            Assertion::fail(AssertionKind::BodyMatches {
                pattern: "(".to_owned(),
            }),
        ];
        let e = CheckSpec::Http(s).compile().expect_err("bad regex");
        assert_eq!(e.field, "assertions[1].pattern");
    }

    #[test]
    fn compile_names_an_assertion_for_the_wrong_kind() {
        let mut s = DnsSpec::query("example.com", RecordType::A);
        s.assertions = vec![Assertion::fail(AssertionKind::BannerContains {
            text: "x".to_owned(),
        })];
        let e = CheckSpec::Dns(s).compile().expect_err("wrong kind");
        assert_eq!(e.field, "assertions[0]");
        assert_eq!(
            e.to_string(),
            "invalid `assertions[0]`: banner_contains does not apply to dns checks"
        );
    }

    #[test]
    fn compile_checks_fields_before_assertions() {
        let mut s = HttpSpec::get("gopher://example.com/");
        s.assertions = vec![Assertion::fail(AssertionKind::BodyMatches {
            pattern: "(".to_owned(),
        })];
        assert_eq!(CheckSpec::Http(s).compile().expect_err("bad").field, "url");
    }

    #[test]
    fn record_type_parses_case_insensitively() {
        assert_eq!("aaaa".parse::<RecordType>(), Ok(RecordType::Aaaa));
        for t in RecordType::ALL {
            assert_eq!(t.as_str().parse::<RecordType>(), Ok(t));
        }
        assert_eq!(
            "AXFR".parse::<RecordType>().expect_err("unknown").field,
            "record_type"
        );
    }

    #[test]
    fn target_formats_each_kind() {
        assert_eq!(full_http().target(), "https://example.com/health?full=1");
        assert_eq!(full_tcp().target(), "mail.example.com:25");
        assert_eq!(full_dns().target(), "example.com MX");
        assert_eq!(
            CheckSpec::Tcp(TcpSpec::connect("::1", 22)).target(),
            "[::1]:22"
        );
    }

    #[test]
    fn heartbeat_spec_reads_the_documented_json() {
        let v = json!({
            "type": "heartbeat",
            "expect": {"type": "period", "period": "5m"},
            "grace": "1m",
            "max_runtime": "10m"
        });
        let spec: CheckSpec = serde_json::from_value(v.clone()).expect("deserialise");
        let want = HeartbeatPolicy::every(Duration::from_secs(300), Duration::from_secs(60))
            .with_max_runtime(Duration::from_secs(600));
        assert_eq!(spec, CheckSpec::Heartbeat(want.clone()));
        assert_eq!(spec.kind(), "heartbeat");
        assert!(spec.is_heartbeat());
        assert_eq!(spec.heartbeat(), Some(&want));
        assert!(spec.assertions().is_empty());
        assert_eq!(spec.target(), "ping every 5m");
        assert_eq!(serde_json::to_value(&spec).expect("serialise"), v);
        assert_eq!(round_trip(&spec), spec);
    }

    #[test]
    fn heartbeat_spec_with_cron_round_trips() {
        let cron = crate::schedule::CronSchedule::new("0 3 * * *", "Europe/Berlin").expect("cron");
        let spec = CheckSpec::Heartbeat(HeartbeatPolicy::cron(cron, Duration::from_secs(600)));
        assert_eq!(round_trip(&spec), spec);
        assert_eq!(spec.target(), "ping at 0 3 * * * Europe/Berlin");
        spec.validate().expect("valid");
    }

    #[test]
    fn heartbeat_spec_refuses_unknown_fields() {
        let r = serde_json::from_value::<CheckSpec>(json!({
            "type": "heartbeat",
            "expect": {"type": "period", "period": "5m"},
            "url": "https://example.com/"
        }));
        assert!(r.is_err());
    }

    #[test]
    fn heartbeat_validation_names_the_policy_field() {
        let spec = CheckSpec::Heartbeat(HeartbeatPolicy::every(
            Duration::from_secs(5),
            Duration::ZERO,
        ));
        assert_eq!(
            spec.validate().expect_err("too short").field,
            "expect.period"
        );
        let spec = CheckSpec::Heartbeat(
            HeartbeatPolicy::every(Duration::from_secs(60), Duration::ZERO)
                .with_max_runtime(Duration::ZERO),
        );
        assert_eq!(spec.validate().expect_err("zero").field, "max_runtime");
    }

    #[test]
    fn heartbeat_does_not_compile() {
        let spec = CheckSpec::Heartbeat(HeartbeatPolicy::every(
            Duration::from_secs(300),
            Duration::ZERO,
        ));
        spec.validate().expect("a valid heartbeat validates");
        let e = spec.compile().expect_err("not runnable");
        assert_eq!(e.field, "type");
        assert_eq!(
            e.problem,
            "heartbeat monitors receive pings and are not run"
        );
    }

    #[test]
    fn validate_checks_fields_and_assertions_without_compiling() {
        full_http().validate().expect("valid");
        let mut s = HttpSpec::get("https://example.com/");
        s.assertions = vec![Assertion::fail(AssertionKind::BodyMatches {
            pattern: "(".to_owned(),
        })];
        assert_eq!(
            CheckSpec::Http(s).validate().expect_err("bad regex").field,
            "assertions[0].pattern"
        );
        assert_eq!(
            CheckSpec::Http(HttpSpec::get("ftp://x/"))
                .validate()
                .expect_err("bad url")
                .field,
            "url"
        );
    }

    #[test]
    fn format_host_port_brackets_ipv6_once() {
        assert_eq!(format_host_port("::1", 80), "[::1]:80");
        assert_eq!(format_host_port("[::1]", 80), "[::1]:80");
        assert_eq!(format_host_port("127.0.0.1", 80), "127.0.0.1:80");
    }

    #[test]
    fn http_without_a_status_assertion_expects_200_to_399() {
        let spec: CheckSpec =
            serde_json::from_value(json!({"type": "http", "url": "http://127.0.0.1/"})).unwrap();
        let c = spec.compile().expect("compiles");
        let added: Vec<_> = c.assertions().iter().cloned().collect();
        assert_eq!(
            added,
            vec![Assertion::fail(AssertionKind::StatusCode {
                expect: StatusMatch::Range(200, 399)
            })]
        );

        // A status assertion of its own replaces the default; other kinds get none.
        let own: CheckSpec = serde_json::from_value(json!({
            "type": "http", "url": "http://127.0.0.1/",
            "assertions": [{"type": "status_code", "expect": "500"}]
        }))
        .unwrap();
        assert_eq!(own.compile().unwrap().assertions().len(), 1);
        let tcp: CheckSpec =
            serde_json::from_value(json!({"type": "tcp", "host": "127.0.0.1", "port": 1})).unwrap();
        assert!(tcp.compile().unwrap().assertions().is_empty());
    }
}
