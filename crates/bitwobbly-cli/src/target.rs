//! Parsing the `TARGET` argument: `https://…`, `http://…`, `tcp://host:port`,
//! `dns://name?type=MX` and `tls://host[:port]`.

use std::net::Ipv6Addr;

use bitwobbly_core::RecordType;

use crate::error::UsageError;

/// The name the target argument goes by in messages.
pub const TARGET_ARG: &str = "<TARGET>";

/// Schemes a target may use, for messages.
const SCHEMES: &str = "https://, http://, tcp://, dns:// or tls://";

/// What to check, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An `http://` or `https://` URL, kept as written.
    Http {
        /// The URL.
        url: String,
    },
    /// `tcp://host:port`.
    Tcp {
        /// Host name or IP literal (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// `dns://name?type=T`.
    Dns {
        /// Name (or address, for PTR) to query.
        name: String,
        /// Record type (default A).
        record_type: RecordType,
    },
    /// `tls://host[:port]`.
    Tls {
        /// Host name or IP literal (IPv6 without brackets).
        host: String,
        /// Port (default 443).
        port: u16,
    },
}

/// The kind of check a target makes, to decide which flags apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTTP or HTTPS.
    Http,
    /// TCP.
    Tcp,
    /// DNS.
    Dns,
    /// TLS handshake.
    Tls,
}

impl Kind {
    /// How targets of this kind are written, for messages.
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Http => "http(s)://",
            Self::Tcp => "tcp://",
            Self::Dns => "dns://",
            Self::Tls => "tls://",
        }
    }
}

impl Target {
    /// The kind of check.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Http { .. } => Kind::Http,
            Self::Tcp { .. } => Kind::Tcp,
            Self::Dns { .. } => Kind::Dns,
            Self::Tls { .. } => Kind::Tls,
        }
    }
}

impl std::str::FromStr for Target {
    type Err = UsageError;

    /// Parses a target.
    ///
    /// # Errors
    ///
    /// A [`UsageError`] naming `<TARGET>`: a missing or unknown scheme, a missing host,
    /// a missing (tcp) or bad port, an IPv6 literal without brackets, an unknown record
    /// type or query parameter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem: String| UsageError::invalid(TARGET_ARG, s, problem);
        let s = s.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(bad(format!("missing scheme, expected {SCHEMES}")));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => {
                let url = url::Url::parse(s).map_err(|e| bad(e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad("missing host".to_owned()));
                }
                Ok(Self::Http { url: s.to_owned() })
            }
            "tcp" => {
                let (host, port) = host_port(rest, None, "tcp://HOST:PORT").map_err(bad)?;
                Ok(Self::Tcp { host, port })
            }
            "tls" => {
                let (host, port) = host_port(rest, Some(443), "tls://HOST[:PORT]").map_err(bad)?;
                Ok(Self::Tls { host, port })
            }
            "dns" => {
                let (name, record_type) = dns_target(rest).map_err(bad)?;
                Ok(Self::Dns { name, record_type })
            }
            other => Err(bad(format!("unknown scheme {other:?}, expected {SCHEMES}"))),
        }
    }
}

/// Parses `host:port` (or `[v6]:port`), with an optional trailing `/`.
fn host_port(rest: &str, default_port: Option<u16>, shape: &str) -> Result<(String, u16), String> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#' | '@')) {
        return Err(format!("unexpected {c:?}, expected {shape}"));
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in IPv6 literal".to_owned())?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| format!("{v6:?} is not an IPv6 address"))?;
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (v6, Some(p)),
                None => return Err(format!("unexpected {after:?} after the IPv6 literal")),
            },
        }
    } else if rest.matches(':').count() > 1 {
        return Err("IPv6 literals need brackets, e.g. tcp://[::1]:22".to_owned());
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(format!("missing host, expected {shape}"));
    }
    if !host.contains(':') {
        check_host_name(host)?;
    }
    let port = match (port, default_port) {
        (Some(p), _) => parse_port(p)?,
        (None, Some(d)) => d,
        (None, None) => return Err(format!("missing port, expected {shape}")),
    };
    Ok((host.to_owned(), port))
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("bad port {p:?}, expected 1-65535")),
        Ok(port) => Ok(port),
    }
}

fn check_host_name(host: &str) -> Result<(), String> {
    let ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!("{host:?} is not a host name or IP address"))
    }
}

/// Parses `name[?type=T]` of a `dns://` target.
fn dns_target(rest: &str) -> Result<(String, RecordType), String> {
    let (name, query) = match rest.split_once('?') {
        Some((n, q)) => (n, Some(q)),
        None => (rest, None),
    };
    let name = name.strip_suffix('/').unwrap_or(name);
    let name = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => {
            v6.parse::<Ipv6Addr>()
                .map_err(|_| format!("{v6:?} is not an IPv6 address"))?;
            v6
        }
        None if name.parse::<Ipv6Addr>().is_ok() => name,
        None => {
            if name.is_empty() {
                return Err("missing name, expected dns://NAME[?type=TYPE]".to_owned());
            }
            check_host_name(name)?;
            name
        }
    };
    let mut record_type = RecordType::A;
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("type") => {
                record_type = v
                    .parse()
                    .map_err(|e: bitwobbly_core::SpecError| e.problem)?;
            }
            _ => {
                return Err(format!(
                    "unknown query parameter {pair:?}, expected type=TYPE"
                ));
            }
        }
    }
    Ok((name.to_owned(), record_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Target {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn problem(s: &str) -> String {
        let e = s.parse::<Target>().unwrap_err();
        assert_eq!(e.flag, TARGET_ARG);
        assert_eq!(e.value.as_deref(), Some(s));
        e.problem
    }

    #[test]
    fn http_and_https_keep_the_url() {
        assert_eq!(
            parse("https://example.com/health?x=1"),
            Target::Http {
                url: "https://example.com/health?x=1".into()
            }
        );
        assert_eq!(parse("http://[::1]:8080/").kind(), Kind::Http);
        assert_eq!(parse("HTTPS://example.com").kind(), Kind::Http);
    }

    #[test]
    fn http_without_host_is_rejected() {
        assert!(
            problem("https://").contains("host"),
            "{}",
            problem("https://")
        );
    }

    #[test]
    fn tcp_needs_a_port() {
        assert_eq!(
            parse("tcp://db.example.com:5432"),
            Target::Tcp {
                host: "db.example.com".into(),
                port: 5432
            }
        );
        assert!(problem("tcp://db.example.com").contains("missing port"));
        assert!(problem("tcp://db:0").contains("bad port"));
        assert!(problem("tcp://db:99999").contains("bad port"));
        assert!(problem("tcp://:22").contains("missing host"));
    }

    #[test]
    fn ipv6_literals_in_brackets() {
        assert_eq!(
            parse("tcp://[::1]:22/"),
            Target::Tcp {
                host: "::1".into(),
                port: 22
            }
        );
        assert_eq!(
            parse("tls://[2001:db8::1]"),
            Target::Tls {
                host: "2001:db8::1".into(),
                port: 443
            }
        );
        assert!(problem("tcp://::1:22").contains("brackets"));
        assert!(problem("tcp://[::1:22").contains("unclosed"));
        assert!(problem("tcp://[nope]:22").contains("not an IPv6"));
    }

    #[test]
    fn tls_port_defaults_to_443() {
        assert_eq!(
            parse("tls://example.com"),
            Target::Tls {
                host: "example.com".into(),
                port: 443
            }
        );
        assert_eq!(
            parse("tls://127.0.0.1:8443"),
            Target::Tls {
                host: "127.0.0.1".into(),
                port: 8443
            }
        );
    }

    #[test]
    fn dns_type_defaults_to_a() {
        assert_eq!(
            parse("dns://example.com"),
            Target::Dns {
                name: "example.com".into(),
                record_type: RecordType::A
            }
        );
        assert_eq!(
            parse("dns://example.com?type=mx"),
            Target::Dns {
                name: "example.com".into(),
                record_type: RecordType::Mx
            }
        );
        assert_eq!(
            parse("dns://[2001:db8::1]?type=PTR"),
            Target::Dns {
                name: "2001:db8::1".into(),
                record_type: RecordType::Ptr
            }
        );
    }

    #[test]
    fn dns_bad_inputs() {
        assert!(problem("dns://example.com?type=BOGUS").contains("unknown record type"));
        assert!(problem("dns://example.com?class=IN").contains("unknown query parameter"));
        assert!(problem("dns://?type=A").contains("missing name"));
        assert!(problem("dns://exa mple.com").contains("not a host name"));
    }

    #[test]
    fn unknown_or_missing_scheme() {
        assert!(problem("ftp://example.com").contains("unknown scheme \"ftp\""));
        assert!(problem("example.com").contains("missing scheme"));
    }

    #[test]
    fn no_paths_on_tcp_targets() {
        assert!(problem("tcp://host:22/path").contains("unexpected '/'"));
        assert!(problem("tls://user@host").contains("unexpected '@'"));
    }
}
