//! Field-by-field validation of check specs.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::assert::{Assertion, AssertionKind};
use crate::error::SpecError;
use crate::spec::{
    CheckSpec, DnsSpec, HttpSpec, MAX_TIMEOUT, RecordType, ResolverSpec, TcpSpec, TlsOptions,
    TlsSpec,
};

/// Most response body bytes a check may keep (64 MiB).
pub(crate) const MAX_BODY_CAPTURE: usize = 64 * 1024 * 1024;
/// Most redirects a check may follow.
pub(crate) const MAX_REDIRECTS: u8 = 50;
/// Most banner bytes a TCP check may read (1 MiB).
pub(crate) const MAX_BANNER_CAP: usize = 1024 * 1024;
/// Longest DNS name, without the trailing dot.
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Checks every field of `spec`. Assertions are prepared (and checked one by one) by
/// [`crate::assert::CompiledAssertions::compile`]; only what depends on other fields is
/// checked here (a `cert_min_days` assertion needs an `https://` URL).
///
/// Returns the parsed URL of an HTTP check, so it is parsed once per spec, not per run.
pub(crate) fn validate(spec: &CheckSpec) -> Result<Option<url::Url>, SpecError> {
    match spec {
        CheckSpec::Http(s) => http(s).map(Some),
        CheckSpec::Tcp(s) => tcp(s).map(|()| None),
        CheckSpec::Dns(s) => dns(s).map(|()| None),
        CheckSpec::Tls(s) => tls(s).map(|()| None),
        CheckSpec::Heartbeat(p) => p.validate().map(|()| None),
    }
}

fn http(s: &HttpSpec) -> Result<url::Url, SpecError> {
    let url = url::Url::parse(&s.url)
        .map_err(|e| SpecError::new("url", format!("not a valid absolute URL: {e}")))?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(SpecError::new(
                "url",
                format!("scheme must be http or https, not {other}"),
            ));
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(SpecError::new("url", "has no host"));
    }
    if !is_token(&s.method) {
        return Err(SpecError::new(
            "method",
            format!("{:?} is not a valid HTTP method", s.method),
        ));
    }
    for (i, (name, value)) in s.headers.iter().enumerate() {
        if !is_token(name) {
            return Err(SpecError::new(
                format!("headers[{i}]"),
                format!("{name:?} is not a valid header name"),
            ));
        }
        if !is_header_value(value) {
            return Err(SpecError::new(
                format!("headers[{i}]"),
                format!("the value of {name} holds a control character (such as CR or LF)"),
            ));
        }
    }
    timeout(s.timeout)?;
    if s.body_capture > MAX_BODY_CAPTURE {
        return Err(SpecError::new("body_capture", "must be at most 64 MiB"));
    }
    if s.redirects.max > MAX_REDIRECTS {
        return Err(SpecError::new(
            "redirects.max",
            format!("must be at most {MAX_REDIRECTS}"),
        ));
    }
    tls_options(&s.tls).map_err(|e| e.within("tls"))?;
    resolver(&s.resolver).map_err(|e| e.within("resolver"))?;
    if !https {
        cert_needs_https(&s.assertions)?;
    }
    Ok(url)
}

fn tcp(s: &TcpSpec) -> Result<(), SpecError> {
    host("host", &s.host)?;
    port(s.port)?;
    if !(1..=MAX_BANNER_CAP).contains(&s.banner_cap) {
        return Err(SpecError::new(
            "banner_cap",
            "must be between 1 byte and 1 MiB",
        ));
    }
    timeout(s.timeout)?;
    resolver(&s.resolver).map_err(|e| e.within("resolver"))
}

fn dns(s: &DnsSpec) -> Result<(), SpecError> {
    let is_ptr_address = s.record_type == RecordType::Ptr && s.name.parse::<IpAddr>().is_ok();
    if !is_ptr_address {
        dns_name(&s.name).map_err(|p| SpecError::new("name", p))?;
    }
    timeout(s.timeout)?;
    resolver(&s.resolver).map_err(|e| e.within("resolver"))
}

fn tls(s: &TlsSpec) -> Result<(), SpecError> {
    host("host", &s.host)?;
    port(s.port)?;
    tls_options(&s.tls).map_err(|e| e.within("tls"))?;
    timeout(s.timeout)?;
    resolver(&s.resolver).map_err(|e| e.within("resolver"))
}

fn timeout(t: Duration) -> Result<(), SpecError> {
    if t.is_zero() {
        return Err(SpecError::new("timeout", "must be greater than zero"));
    }
    if t > MAX_TIMEOUT {
        return Err(SpecError::new(
            "timeout",
            format!(
                "must be at most {}",
                humantime_serde::re::humantime::format_duration(MAX_TIMEOUT)
            ),
        ));
    }
    Ok(())
}

fn port(p: u16) -> Result<(), SpecError> {
    if p == 0 {
        Err(SpecError::new("port", "must not be 0"))
    } else {
        Ok(())
    }
}

/// A host name or an IP address (an IPv6 address may be written in brackets).
fn host(field: &str, h: &str) -> Result<(), SpecError> {
    if h.is_empty() {
        return Err(SpecError::new(field, "must not be empty"));
    }
    let bare = h
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(h);
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    dns_name(h).map_err(|p| SpecError::new(field, p))
}

/// Checks a DNS name's shape: at most 253 characters, labels of 1 to 63 characters, no
/// whitespace or control characters. A single trailing dot (the root) is allowed, and
/// `.` alone is the root.
fn dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name == "." {
        return Ok(());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{name:?} holds whitespace or a control character"));
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.len() > MAX_NAME_LEN {
        return Err(format!("is longer than {MAX_NAME_LEN} characters"));
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(format!("{name:?} has an empty label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(format!(
                "has a label longer than {MAX_LABEL_LEN} characters"
            ));
        }
    }
    Ok(())
}

fn tls_options(t: &TlsOptions) -> Result<(), SpecError> {
    if let Some(pem) = &t.ca_pem
        && !has_pem_certificate(pem)
    {
        return Err(SpecError::new(
            "ca_pem",
            "holds no -----BEGIN CERTIFICATE----- block",
        ));
    }
    if let Some(name) = &t.server_name {
        host("server_name", name)?;
    }
    Ok(())
}

/// Whether `pem` holds a `BEGIN CERTIFICATE` line followed by its `END CERTIFICATE` line.
/// Decoding happens in the check crate; this catches a wrong file early.
fn has_pem_certificate(pem: &str) -> bool {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    pem.find(BEGIN)
        .is_some_and(|at| pem[at + BEGIN.len()..].contains(END))
}

fn resolver(r: &ResolverSpec) -> Result<(), SpecError> {
    match r {
        ResolverSpec::Server { addr, .. } => server_addr(*addr),
        _ => Ok(()),
    }
}

fn server_addr(addr: SocketAddr) -> Result<(), SpecError> {
    if addr.port() == 0 {
        return Err(SpecError::new("addr", "port must not be 0"));
    }
    if addr.ip().is_unspecified() {
        return Err(SpecError::new(
            "addr",
            format!("{} is not an address a server can be reached at", addr.ip()),
        ));
    }
    Ok(())
}

/// Certificates exist only over TLS: a `cert_min_days` assertion on a plain `http://`
/// URL could never pass.
fn cert_needs_https(assertions: &[Assertion]) -> Result<(), SpecError> {
    match assertions
        .iter()
        .position(|a| matches!(a.kind, AssertionKind::CertMinDays { .. }))
    {
        Some(i) => Err(SpecError::new(
            format!("assertions[{i}]"),
            "cert_min_days needs an https:// URL",
        )),
        None => Ok(()),
    }
}

/// Whether `s` is an HTTP token (RFC 9110 section 5.6.2), as a method or header name must be.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Whether `s` is a valid header value: visible characters, spaces, tabs and non-ASCII
/// text, but no other control characters (CR and LF above all).
fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::spec::{DnsSpec, HttpSpec, RecordType, TcpSpec, TlsSpec};

    /// Validation's verdict alone (the parsed URL is checked in `spec`'s tests).
    fn validate(spec: &CheckSpec) -> Result<(), SpecError> {
        super::validate(spec).map(drop)
    }

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn http_err(edit: impl FnOnce(&mut HttpSpec)) -> SpecError {
        let mut s = HttpSpec::get("https://example.com/health");
        edit(&mut s);
        validate(&CheckSpec::Http(s)).expect_err("invalid http spec")
    }

    fn tcp_err(edit: impl FnOnce(&mut TcpSpec)) -> SpecError {
        let mut s = TcpSpec::connect("db.example.com", 5432);
        edit(&mut s);
        validate(&CheckSpec::Tcp(s)).expect_err("invalid tcp spec")
    }

    fn tls_err(edit: impl FnOnce(&mut TlsSpec)) -> SpecError {
        let mut s = TlsSpec::handshake("example.com", 443);
        edit(&mut s);
        validate(&CheckSpec::Tls(s)).expect_err("invalid tls spec")
    }

    fn dns_check(name: &str, t: RecordType) -> Result<(), SpecError> {
        validate(&CheckSpec::Dns(DnsSpec::query(name, t)))
    }

    #[test]
    fn default_specs_are_valid() {
        for spec in [
            CheckSpec::Http(HttpSpec::get("http://127.0.0.1:8080/")),
            CheckSpec::Http(HttpSpec::get("https://[::1]/x?y=1")),
            CheckSpec::Tcp(TcpSpec::connect("127.0.0.1", 22)),
            CheckSpec::Tcp(TcpSpec::connect("::1", 22)),
            CheckSpec::Tcp(TcpSpec::connect("[::1]", 22)),
            CheckSpec::Dns(DnsSpec::query("example.com", RecordType::Mx)),
            CheckSpec::Tls(TlsSpec::handshake("example.com", 443)),
        ] {
            assert_eq!(validate(&spec), Ok(()), "{spec:?}");
        }
    }

    #[test]
    fn url_that_does_not_parse_is_rejected() {
        let e = http_err(|s| s.url = "not a url".to_owned());
        assert_eq!(e.field, "url");
        assert!(e.problem.starts_with("not a valid absolute URL"), "{e}");
    }

    #[test]
    fn relative_url_is_rejected() {
        assert_eq!(http_err(|s| s.url = "/health".to_owned()).field, "url");
    }

    #[test]
    fn url_without_host_is_rejected() {
        assert_eq!(http_err(|s| s.url = "http://".to_owned()).field, "url");
    }

    #[test]
    fn url_with_other_scheme_is_rejected() {
        let e = http_err(|s| s.url = "ftp://example.com/file".to_owned());
        assert_eq!(e.field, "url");
        assert_eq!(e.problem, "scheme must be http or https, not ftp");
    }

    #[test]
    fn method_with_space_is_rejected() {
        assert_eq!(http_err(|s| s.method = "GE T".to_owned()).field, "method");
    }

    #[test]
    fn empty_method_is_rejected() {
        assert_eq!(http_err(|s| s.method = String::new()).field, "method");
    }

    #[test]
    fn custom_method_token_is_accepted() {
        let mut s = HttpSpec::get("https://example.com/");
        s.method = "PROPFIND".to_owned();
        assert_eq!(validate(&CheckSpec::Http(s)), Ok(()));
    }

    #[test]
    fn bad_header_name_names_its_index() {
        let e = http_err(|s| {
            s.headers = vec![
                ("accept".to_owned(), "*/*".to_owned()),
                ("bad name".to_owned(), "x".to_owned()),
            ];
        });
        assert_eq!(e.field, "headers[1]");
        assert!(e.problem.contains("bad name"), "{e}");
    }

    #[test]
    fn header_value_with_newline_is_rejected() {
        let e = http_err(|s| {
            s.headers = vec![("x-a".to_owned(), "a\r\nInjected: yes".to_owned())];
        });
        assert_eq!(e.field, "headers[0]");
    }

    #[test]
    fn header_value_with_tab_and_non_ascii_is_accepted() {
        let mut s = HttpSpec::get("https://example.com/");
        s.headers = vec![("x-a".to_owned(), "caf\u{e9}\tau lait".to_owned())];
        assert_eq!(validate(&CheckSpec::Http(s)), Ok(()));
    }

    #[test]
    fn zero_timeout_is_rejected() {
        let e = http_err(|s| s.timeout = Duration::ZERO);
        assert_eq!(e.field, "timeout");
        assert_eq!(e.problem, "must be greater than zero");
    }

    #[test]
    fn timeout_above_maximum_is_rejected() {
        let e = tcp_err(|s| s.timeout = MAX_TIMEOUT + Duration::from_millis(1));
        assert_eq!(e.field, "timeout");
        assert_eq!(e.problem, "must be at most 5m");
    }

    #[test]
    fn timeout_at_maximum_is_accepted() {
        let mut s = DnsSpec::query("example.com", RecordType::A);
        s.timeout = MAX_TIMEOUT;
        assert_eq!(validate(&CheckSpec::Dns(s)), Ok(()));
    }

    #[test]
    fn body_capture_above_64_mib_is_rejected() {
        let e = http_err(|s| s.body_capture = MAX_BODY_CAPTURE + 1);
        assert_eq!(e.field, "body_capture");
    }

    #[test]
    fn body_capture_of_64_mib_is_accepted() {
        let mut s = HttpSpec::get("https://example.com/");
        s.body_capture = MAX_BODY_CAPTURE;
        assert_eq!(validate(&CheckSpec::Http(s)), Ok(()));
    }

    #[test]
    fn too_many_redirects_is_rejected() {
        let e = http_err(|s| s.redirects.max = MAX_REDIRECTS + 1);
        assert_eq!(e.field, "redirects.max");
    }

    #[test]
    fn ca_pem_without_certificate_is_rejected() {
        let e = http_err(|s| s.tls.ca_pem = Some("-----BEGIN PRIVATE KEY-----\n".to_owned()));
        assert_eq!(e.field, "tls.ca_pem");
    }

    #[test]
    fn ca_pem_without_end_line_is_rejected() {
        let e = tls_err(|s| {
            s.tls.ca_pem = Some("-----BEGIN CERTIFICATE-----\nMIIB\n".to_owned());
        });
        assert_eq!(e.field, "tls.ca_pem");
    }

    #[test]
    fn ca_pem_with_certificate_is_accepted() {
        let mut s = TlsSpec::handshake("example.com", 443);
        s.tls.ca_pem = Some(format!("# my root\n{PEM}"));
        assert_eq!(validate(&CheckSpec::Tls(s)), Ok(()));
    }

    #[test]
    fn empty_server_name_is_rejected() {
        let e = http_err(|s| s.tls.server_name = Some(String::new()));
        assert_eq!(e.field, "tls.server_name");
    }

    #[test]
    fn server_name_may_be_an_address() {
        let mut s = TlsSpec::handshake("127.0.0.1", 8443);
        s.tls.server_name = Some("::1".to_owned());
        assert_eq!(validate(&CheckSpec::Tls(s)), Ok(()));
    }

    #[test]
    fn resolver_with_port_zero_is_rejected() {
        let e = http_err(|s| {
            s.resolver = ResolverSpec::Server {
                addr: "127.0.0.1:0".parse().expect("addr"),
                transport: crate::spec::DnsTransport::Udp,
            };
        });
        assert_eq!(e.field, "resolver.addr");
    }

    #[test]
    fn resolver_with_unspecified_address_is_rejected() {
        let mut s = DnsSpec::query("example.com", RecordType::A);
        s.resolver = ResolverSpec::Server {
            addr: "0.0.0.0:53".parse().expect("addr"),
            transport: crate::spec::DnsTransport::Tcp,
        };
        let e = validate(&CheckSpec::Dns(s)).expect_err("unspecified");
        assert_eq!(e.field, "resolver.addr");
    }

    #[test]
    fn cert_min_days_on_plain_http_is_rejected() {
        let e = http_err(|s| {
            s.url = "http://example.com/".to_owned();
            s.assertions = vec![
                Assertion::fail(AssertionKind::StatusCode {
                    expect: crate::StatusMatch::Exact(200),
                }),
                Assertion::fail(AssertionKind::CertMinDays { days: 7 }),
            ];
        });
        assert_eq!(e.field, "assertions[1]");
        assert_eq!(e.problem, "cert_min_days needs an https:// URL");
    }

    #[test]
    fn cert_min_days_on_https_is_accepted() {
        let mut s = HttpSpec::get("https://example.com/");
        s.assertions = vec![Assertion::fail(AssertionKind::CertMinDays { days: 7 })];
        assert_eq!(validate(&CheckSpec::Http(s)), Ok(()));
    }

    #[test]
    fn tcp_empty_host_is_rejected() {
        let e = tcp_err(|s| s.host = String::new());
        assert_eq!(e.field, "host");
        assert_eq!(e.problem, "must not be empty");
    }

    #[test]
    fn tcp_host_with_space_is_rejected() {
        assert_eq!(tcp_err(|s| s.host = "db example".to_owned()).field, "host");
    }

    #[test]
    fn tcp_port_zero_is_rejected() {
        let e = tcp_err(|s| s.port = 0);
        assert_eq!(e.field, "port");
        assert_eq!(e.problem, "must not be 0");
    }

    #[test]
    fn tcp_banner_cap_zero_is_rejected() {
        assert_eq!(tcp_err(|s| s.banner_cap = 0).field, "banner_cap");
    }

    #[test]
    fn tcp_banner_cap_above_1_mib_is_rejected() {
        assert_eq!(
            tcp_err(|s| s.banner_cap = MAX_BANNER_CAP + 1).field,
            "banner_cap"
        );
    }

    #[test]
    fn tcp_banner_cap_limits_are_accepted() {
        for cap in [1, MAX_BANNER_CAP] {
            let mut s = TcpSpec::connect("127.0.0.1", 25);
            s.banner_cap = cap;
            s.send = Some("EHLO x\r\n".to_owned());
            assert_eq!(validate(&CheckSpec::Tcp(s)), Ok(()));
        }
    }

    #[test]
    fn tls_empty_host_is_rejected() {
        assert_eq!(tls_err(|s| s.host = String::new()).field, "host");
    }

    #[test]
    fn tls_port_zero_is_rejected() {
        assert_eq!(tls_err(|s| s.port = 0).field, "port");
    }

    #[test]
    fn dns_empty_name_is_rejected() {
        let e = dns_check("", RecordType::A).expect_err("empty");
        assert_eq!(e.field, "name");
    }

    #[test]
    fn dns_name_of_253_characters_is_accepted() {
        let name = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "b".repeat(61));
        assert_eq!(name.len(), 253);
        assert_eq!(dns_check(&name, RecordType::A), Ok(()));
        assert_eq!(dns_check(&format!("{name}."), RecordType::A), Ok(()));
    }

    #[test]
    fn dns_name_longer_than_253_is_rejected() {
        let name = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "b".repeat(62));
        let e = dns_check(&name, RecordType::A).expect_err("too long");
        assert_eq!(e.field, "name");
        assert_eq!(e.problem, "is longer than 253 characters");
    }

    #[test]
    fn dns_label_longer_than_63_is_rejected() {
        let name = format!("{}.example.com", "a".repeat(64));
        let e = dns_check(&name, RecordType::A).expect_err("long label");
        assert_eq!(e.field, "name");
        assert!(e.problem.contains("63"), "{e}");
    }

    #[test]
    fn dns_empty_label_is_rejected() {
        let e = dns_check("a..example.com", RecordType::A).expect_err("empty label");
        assert_eq!(e.field, "name");
    }

    #[test]
    fn dns_root_and_underscore_names_are_accepted() {
        assert_eq!(dns_check(".", RecordType::Ns), Ok(()));
        assert_eq!(dns_check("_sip._tcp.example.com", RecordType::Srv), Ok(()));
    }

    #[test]
    fn dns_ptr_accepts_addresses() {
        assert_eq!(dns_check("192.0.2.1", RecordType::Ptr), Ok(()));
        assert_eq!(dns_check("2001:db8::1", RecordType::Ptr), Ok(()));
        assert_eq!(
            dns_check("1.2.0.192.in-addr.arpa.", RecordType::Ptr),
            Ok(())
        );
    }

    #[test]
    fn dns_name_with_whitespace_is_rejected() {
        let e = dns_check("example .com", RecordType::A).expect_err("whitespace");
        assert_eq!(e.field, "name");
    }

    #[test]
    fn token_rules() {
        assert!(is_token("X-Request-Id"));
        assert!(is_token("!#$%&'*+-.^_`|~09azAZ"));
        for bad in ["", "a b", "a:b", "a\"b", "é", "a/b"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
