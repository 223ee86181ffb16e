//! What a check found: status, timing breakdown, protocol facts and assertion results.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::assert::AssertionResult;

/// The phases of a check, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Resolving the host name (zero for IP literals).
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// From the end of connection set-up until the response head arrived: writing the
    /// request and waiting for the server (time to first byte). For TCP checks, sending
    /// the payload and waiting for the banner's first bytes.
    Ttfb,
    /// Reading the body (or the rest of a banner).
    Transfer,
}

impl Phase {
    /// Every phase in order.
    pub const ALL: [Self; 5] = [
        Self::Dns,
        Self::Connect,
        Self::Tls,
        Self::Ttfb,
        Self::Transfer,
    ];

    /// The phase's stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Ttfb => "ttfb",
            Self::Transfer => "transfer",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Phase {
    type Err = crate::SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                crate::SpecError::new(
                    "phase",
                    format!("unknown phase {s:?}, expected dns, connect, tls, ttfb or transfer"),
                )
            })
    }
}

/// Time spent in each phase, measured with a monotonic clock.
///
/// The phases are measured between consecutive instants, so they add up to `total`
/// exactly. With redirects, each phase is the sum over all hops (as blackbox_exporter
/// does), and each hop's own breakdown is in [`HttpFacts::hops`]. Serialised as whole
/// microseconds (`dns_us`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timings {
    /// Name resolution.
    #[serde(rename = "dns_us", with = "micros")]
    pub dns: Duration,
    /// TCP connect.
    #[serde(rename = "connect_us", with = "micros")]
    pub connect: Duration,
    /// TLS handshake.
    #[serde(rename = "tls_us", with = "micros")]
    pub tls: Duration,
    /// Request written until response head (time to first byte).
    #[serde(rename = "ttfb_us", with = "micros")]
    pub ttfb: Duration,
    /// Body transfer.
    #[serde(rename = "transfer_us", with = "micros")]
    pub transfer: Duration,
    /// The whole check.
    #[serde(rename = "total_us", with = "micros")]
    pub total: Duration,
}

impl Timings {
    /// The time spent in `phase`.
    pub fn phase(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Dns => self.dns,
            Phase::Connect => self.connect,
            Phase::Tls => self.tls,
            Phase::Ttfb => self.ttfb,
            Phase::Transfer => self.transfer,
        }
    }

    /// Mutable access to the time spent in `phase`.
    pub fn phase_mut(&mut self, phase: Phase) -> &mut Duration {
        match phase {
            Phase::Dns => &mut self.dns,
            Phase::Connect => &mut self.connect,
            Phase::Tls => &mut self.tls,
            Phase::Ttfb => &mut self.ttfb,
            Phase::Transfer => &mut self.transfer,
        }
    }

    /// The sum of all phases.
    pub fn sum_of_phases(&self) -> Duration {
        Phase::ALL.iter().map(|p| self.phase(*p)).sum()
    }

    /// Adds another breakdown phase by phase (used to sum redirect hops).
    pub fn accumulate(&mut self, other: &Self) {
        for p in Phase::ALL {
            *self.phase_mut(p) += other.phase(p);
        }
        self.total += other.total;
    }
}

/// The verdict of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Reachable and every assertion passed.
    Up,
    /// Reachable, but an assertion marked as degrading failed (e.g. slow).
    Degraded,
    /// Unreachable, or a failing assertion failed.
    Down,
}

impl Status {
    /// The status's stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a check could not complete, with a stable name a user can alert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The name does not exist (NXDOMAIN).
    DnsNoSuchName,
    /// The resolver did not answer in time.
    DnsTimeout,
    /// The name exists but has no address of the wanted family.
    DnsNoAddress,
    /// Any other resolution failure (SERVFAIL, refused, unreachable server).
    DnsFailure,
    /// The peer refused the connection.
    ConnectionRefused,
    /// The TCP connection was not established in time.
    ConnectTimeout,
    /// Any other connect failure (unreachable network or host, reset).
    ConnectFailure,
    /// The server's certificate is expired or not yet valid.
    TlsCertificateExpired,
    /// The certificate chains to no trusted root.
    TlsUnknownIssuer,
    /// The certificate is not valid for the name asked for.
    TlsNameMismatch,
    /// Any other handshake failure (protocol, alert, unsupported parameters).
    TlsHandshakeFailure,
    /// The server spoke broken or unexpected HTTP.
    HttpProtocolError,
    /// The body was longer than the spec's `max_body`.
    BodyTooLarge,
    /// More redirects than the policy allows, or a redirect without a usable location.
    TooManyRedirects,
    /// The check ran out of time; the error's phase says where.
    Timeout,
    /// The connection was closed or failed after it was set up.
    ConnectionReset,
    /// The target cannot be used (e.g. no host in the URL).
    InvalidTarget,
}

impl ErrorKind {
    /// The stable snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DnsNoSuchName => "dns_no_such_name",
            Self::DnsTimeout => "dns_timeout",
            Self::DnsNoAddress => "dns_no_address",
            Self::DnsFailure => "dns_failure",
            Self::ConnectionRefused => "connection_refused",
            Self::ConnectTimeout => "connect_timeout",
            Self::ConnectFailure => "connect_failure",
            Self::TlsCertificateExpired => "tls_certificate_expired",
            Self::TlsUnknownIssuer => "tls_unknown_issuer",
            Self::TlsNameMismatch => "tls_name_mismatch",
            Self::TlsHandshakeFailure => "tls_handshake_failure",
            Self::HttpProtocolError => "http_protocol_error",
            Self::BodyTooLarge => "body_too_large",
            Self::TooManyRedirects => "too_many_redirects",
            Self::Timeout => "timeout",
            Self::ConnectionReset => "connection_reset",
            Self::InvalidTarget => "invalid_target",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure to complete a check, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckError {
    /// Stable classification.
    pub kind: ErrorKind,
    /// The phase the check was in.
    pub phase: Phase,
    /// Details for people (not for matching on).
    pub message: String,
}

impl CheckError {
    /// Builds an error.
    pub fn new(kind: ErrorKind, phase: Phase, message: impl Into<String>) -> Self {
        Self {
            kind,
            phase,
            message: message.into(),
        }
    }

    /// Whether the check ran out of time (in any phase).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::ConnectTimeout | ErrorKind::DnsTimeout
        )
    }
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} during {}: {}", self.kind, self.phase, self.message)
    }
}

/// One request of an HTTP check; there is more than one when redirects were followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// URL requested.
    pub url: String,
    /// Status answered, when a response head arrived.
    pub status: Option<u16>,
    /// Address connected to.
    pub remote_addr: Option<SocketAddr>,
    /// This hop's breakdown.
    pub timings: Timings,
}

/// The response of the final hop of an HTTP check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFacts {
    /// Status code.
    pub status: u16,
    /// Negotiated version: `HTTP/1.1` or `HTTP/2`.
    pub version: String,
    /// Response headers in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The first `body_capture` bytes of the body (decoded text where possible when
    /// serialised).
    #[serde(with = "lossy_bytes")]
    pub body: Bytes,
    /// Total body length read, which may exceed `body.len()`.
    pub body_len: u64,
    /// Whether `body` holds only part of the body.
    pub body_truncated: bool,
    /// Every request made, the final one last.
    pub hops: Vec<Hop>,
}

impl HttpFacts {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Facts about the certificate a server presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    /// Subject distinguished name of the leaf.
    pub subject: String,
    /// Subject alternative names (DNS names and IP addresses).
    pub names: Vec<String>,
    /// Issuer distinguished name of the leaf.
    pub issuer: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whole days from the check until `not_after` (negative once expired).
    pub days_left: i64,
    /// Number of certificates the server sent.
    pub chain_len: usize,
    /// Negotiated TLS version, e.g. `TLSv1.3`.
    pub tls_version: Option<String>,
    /// Negotiated ALPN protocol, e.g. `h2`.
    pub alpn: Option<String>,
}

impl CertFacts {
    /// Whole days between `now` and `not_after` (negative once expired).
    pub fn days_until_expiry(not_after: OffsetDateTime, now: OffsetDateTime) -> i64 {
        (not_after - now).whole_days()
    }
}

/// One answer record of a DNS check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Owner name.
    pub name: String,
    /// Record type mnemonic.
    pub record_type: String,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Record data in presentation format, e.g. `10 mail.example.com.`.
    pub data: String,
}

/// The answer of a DNS check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsFacts {
    /// Response code mnemonic: `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, ...
    pub rcode: String,
    /// Answer section.
    pub answers: Vec<DnsRecord>,
    /// Server that answered.
    pub server: Option<SocketAddr>,
}

/// What a TCP check read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpFacts {
    /// The banner bytes read (up to the spec's cap).
    #[serde(with = "lossy_bytes")]
    pub banner: Bytes,
}

/// The full result of one check run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// `http`, `tcp`, `dns` or `tls`.
    pub kind: String,
    /// The target as written in the spec.
    pub target: String,
    /// The verdict.
    pub status: Status,
    /// One line saying why the status is not `up`.
    pub reason: Option<String>,
    /// When the check started (wall clock, for records; phases use a monotonic clock).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Breakdown by phase.
    pub timings: Timings,
    /// Address connected to, when a connection was made.
    pub remote_addr: Option<SocketAddr>,
    /// Why the check could not complete, if it could not.
    pub error: Option<CheckError>,
    /// The HTTP response, for HTTP checks that got one.
    pub http: Option<HttpFacts>,
    /// The certificate, for TLS handshakes that got one.
    pub tls: Option<CertFacts>,
    /// The DNS answer, for DNS checks.
    pub dns: Option<DnsFacts>,
    /// The banner, for TCP checks that read one.
    pub tcp: Option<TcpFacts>,
    /// Each assertion's result, in spec order.
    pub assertions: Vec<AssertionResult>,
}

/// Serde helpers: a `Duration` as whole microseconds.
mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

/// Serde helpers: bytes as (lossily decoded) UTF-8 text.
mod lossy_bytes {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        String::deserialize(d).map(Bytes::from)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn micros() -> impl Strategy<Value = Duration> {
        any::<u64>().prop_map(Duration::from_micros)
    }

    proptest! {
        #[test]
        fn timings_json_round_trips(
            dns in micros(),
            connect in micros(),
            tls in micros(),
            ttfb in micros(),
            transfer in micros(),
            total in micros(),
        ) {
            let t = Timings { dns, connect, tls, ttfb, transfer, total };
            let text = serde_json::to_string(&t).expect("serialise");
            let back: Timings = serde_json::from_str(&text).expect("deserialise");
            prop_assert_eq!(back, t);
        }
    }

    #[test]
    fn timings_serialise_as_whole_microseconds() {
        let t = Timings {
            dns: Duration::from_micros(1500),
            total: Duration::from_nanos(2_000_999),
            ..Timings::default()
        };
        assert_eq!(
            serde_json::to_value(t).expect("serialise"),
            json!({
                "dns_us": 1500, "connect_us": 0, "tls_us": 0,
                "ttfb_us": 0, "transfer_us": 0, "total_us": 2000
            })
        );
    }

    #[test]
    fn timings_phase_accessors_agree() {
        let mut t = Timings::default();
        for (i, p) in Phase::ALL.into_iter().enumerate() {
            *t.phase_mut(p) = Duration::from_millis(i as u64 + 1);
        }
        assert_eq!(t.phase(Phase::Transfer), Duration::from_millis(5));
        assert_eq!(t.sum_of_phases(), Duration::from_millis(15));
    }

    #[test]
    fn timings_accumulate_adds_phase_by_phase() {
        let hop = Timings {
            dns: Duration::from_millis(1),
            ttfb: Duration::from_millis(2),
            total: Duration::from_millis(3),
            ..Timings::default()
        };
        let mut sum = hop;
        sum.accumulate(&hop);
        assert_eq!(sum.dns, Duration::from_millis(2));
        assert_eq!(sum.ttfb, Duration::from_millis(4));
        assert_eq!(sum.total, Duration::from_millis(6));
    }

    #[test]
    fn phase_names_parse_and_serialise() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>(), Ok(p));
            assert_eq!(
                serde_json::to_value(p).expect("serialise"),
                json!(p.as_str())
            );
        }
        assert_eq!("TTFB".parse::<Phase>(), Ok(Phase::Ttfb));
        assert_eq!("wait".parse::<Phase>().expect_err("unknown").field, "phase");
    }

    #[test]
    fn error_kind_names_match_serde() {
        let kinds = [
            ErrorKind::DnsNoSuchName,
            ErrorKind::DnsTimeout,
            ErrorKind::DnsNoAddress,
            ErrorKind::DnsFailure,
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectTimeout,
            ErrorKind::ConnectFailure,
            ErrorKind::TlsCertificateExpired,
            ErrorKind::TlsUnknownIssuer,
            ErrorKind::TlsNameMismatch,
            ErrorKind::TlsHandshakeFailure,
            ErrorKind::HttpProtocolError,
            ErrorKind::BodyTooLarge,
            ErrorKind::TooManyRedirects,
            ErrorKind::Timeout,
            ErrorKind::ConnectionReset,
            ErrorKind::InvalidTarget,
        ];
        for k in kinds {
            assert_eq!(
                serde_json::to_value(k).expect("serialise"),
                json!(k.as_str())
            );
        }
    }

    #[test]
    fn check_error_display_and_timeout_question() {
        let e = CheckError::new(ErrorKind::ConnectTimeout, Phase::Connect, "after 2s");
        assert_eq!(e.to_string(), "connect_timeout during connect: after 2s");
        assert!(e.is_timeout());
        assert!(!CheckError::new(ErrorKind::ConnectionRefused, Phase::Connect, "").is_timeout());
    }

    #[test]
    fn days_until_expiry_counts_whole_days() {
        let now = datetime!(2025-06-01 12:00 UTC);
        assert_eq!(
            CertFacts::days_until_expiry(datetime!(2025-06-11 11:00 UTC), now),
            9
        );
        assert_eq!(
            CertFacts::days_until_expiry(datetime!(2025-05-30 12:00 UTC), now),
            -2
        );
    }

    #[test]
    fn http_header_lookup_is_case_insensitive_and_first() {
        let facts = HttpFacts {
            status: 200,
            version: "HTTP/2".to_owned(),
            headers: vec![
                ("set-cookie".to_owned(), "a=1".to_owned()),
                ("set-cookie".to_owned(), "b=2".to_owned()),
            ],
            body: Bytes::new(),
            body_len: 0,
            body_truncated: false,
            hops: Vec::new(),
        };
        assert_eq!(facts.header("Set-Cookie"), Some("a=1"));
        assert_eq!(facts.header("x-none"), None);
    }

    #[test]
    fn non_utf8_banner_serialises_lossily() {
        let facts = TcpFacts {
            banner: Bytes::from_static(b"ok\xff"),
        };
        assert_eq!(
            serde_json::to_value(&facts).expect("serialise"),
            json!({"banner": "ok\u{fffd}"})
        );
    }

    #[test]
    fn check_report_round_trips() {
        let report = CheckReport {
            kind: "http".to_owned(),
            target: "https://example.com/".to_owned(),
            status: Status::Degraded,
            reason: Some("assertion failed: total below 1s (expected < 1s, got 1200ms)".to_owned()),
            started_at: datetime!(2025-06-01 12:00 UTC),
            timings: Timings {
                total: Duration::from_millis(1200),
                ..Timings::default()
            },
            remote_addr: Some("127.0.0.1:443".parse().expect("addr")),
            error: None,
            http: Some(HttpFacts {
                status: 200,
                version: "HTTP/1.1".to_owned(),
                headers: vec![("server".to_owned(), "test".to_owned())],
                body: Bytes::from_static(b"hello"),
                body_len: 5,
                body_truncated: false,
                hops: vec![Hop {
                    url: "https://example.com/".to_owned(),
                    status: Some(200),
                    remote_addr: None,
                    timings: Timings::default(),
                }],
            }),
            tls: Some(CertFacts {
                subject: "CN=example.com".to_owned(),
                names: vec!["example.com".to_owned()],
                issuer: "CN=CA".to_owned(),
                not_before: datetime!(2025-01-01 0:00 UTC),
                not_after: datetime!(2026-01-01 0:00 UTC),
                days_left: 213,
                chain_len: 2,
                tls_version: Some("TLSv1.3".to_owned()),
                alpn: Some("http/1.1".to_owned()),
            }),
            dns: None,
            tcp: None,
            assertions: Vec::new(),
        };
        let text = serde_json::to_string(&report).expect("serialise");
        let back: CheckReport = serde_json::from_str(&text).expect("deserialise");
        assert_eq!(back, report);
    }
}
