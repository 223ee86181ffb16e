//! Parsers for flag values. Each returns a lowercase problem description on failure;
//! the caller wraps it in a [`crate::UsageError`] naming the flag.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bitwobbly_core::assert::JsonPathScan;
use bitwobbly_core::{JsonOp, Phase};
use serde_json::Value;

/// A duration such as `500ms`, `10s` or `1m 30s` (humantime syntax).
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| e.to_string())
}

/// A duration that must be more than zero.
pub(crate) fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() {
        Err("must be more than zero".to_owned())
    } else {
        Ok(d)
    }
}

/// A size in bytes: a number with an optional unit `k`/`KiB` (1024), `M`/`MiB` or
/// `G`/`GiB` (case-insensitive).
pub(crate) fn bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a number of bytes, e.g. 65536 or 64KiB".to_owned())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?}, expected k, KiB, M, MiB, G or GiB"
            ));
        }
    };
    n.checked_mul(factor).ok_or_else(|| "too large".to_owned())
}

/// A header written `Name: value` (the value may be empty).
pub(crate) fn header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| "expected NAME: VALUE".to_owned())?;
    let name = name.trim();
    if name.is_empty() {
        return Err("missing header name before ':'".to_owned());
    }
    if name.contains(char::is_whitespace) {
        return Err(format!("header name {name:?} contains whitespace"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// A phase limit written `PHASE=DUR`, e.g. `ttfb=200ms`.
pub(crate) fn phase_limit(s: &str) -> Result<(Phase, Duration), String> {
    let (phase, dur) = s
        .split_once('=')
        .ok_or_else(|| "expected PHASE=DUR, e.g. ttfb=200ms".to_owned())?;
    let phase: Phase = phase
        .trim()
        .parse()
        .map_err(|e: bitwobbly_core::SpecError| e.problem)?;
    Ok((phase, positive_duration(dur)?))
}

/// A DNS server `ADDR[:PORT]`, port 53 by default; IPv6 in brackets when a port is given.
pub(crate) fn resolver(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    let addr = if let Ok(sa) = t.parse::<SocketAddr>() {
        sa
    } else if let Ok(ip) = t.parse::<IpAddr>() {
        SocketAddr::new(ip, 53)
    } else if let Some(v6) = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<Ipv6Addr>().ok())
    {
        SocketAddr::new(IpAddr::V6(v6), 53)
    } else {
        return Err(
            "expected an IP address with an optional port, e.g. 1.1.1.1, 127.0.0.1:5353 or [::1]:53"
                .to_owned(),
        );
    };
    if addr.port() == 0 {
        return Err("port must be 1-65535".to_owned());
    }
    Ok(addr)
}

/// A JSON expectation written `PATH OP [VALUE]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonExpect {
    /// The JSONPath query.
    pub(crate) path: String,
    /// The comparison.
    pub(crate) op: JsonOp,
    /// The value, absent for `exists` and `!exists`.
    pub(crate) value: Option<Value>,
}

/// Operators in the order they are tried (longest first where one is a prefix of another).
const OPS: [(&str, JsonOp); 9] = [
    ("==", JsonOp::Eq),
    ("!=", JsonOp::Ne),
    ("<=", JsonOp::Le),
    (">=", JsonOp::Ge),
    ("<", JsonOp::Lt),
    (">", JsonOp::Gt),
    ("!exists", JsonOp::NotExists),
    ("exists", JsonOp::Exists),
    ("contains", JsonOp::Contains),
];

const OP_LIST: &str = "== != < <= > >= contains exists !exists";

/// Parses `PATH OP VALUE`, e.g. `$.status == "ok"`, `$.items[0].n > 3`, `$.errors exists`.
///
/// The path runs to the first space or operator character outside brackets and quotes,
/// so `$['a b'].c` and filters such as `$.items[?@.n > 3]` work. VALUE is JSON; a bare
/// word that is not JSON (`ok`) is taken as a string.
pub(crate) fn json_expect(s: &str) -> Result<JsonExpect, String> {
    let s = s.trim();
    if !s.starts_with('$') {
        return Err(format!(
            "expected PATH OP VALUE with a JSONPath starting with '$', e.g. '$.status == \"ok\"' (operators: {OP_LIST})"
        ));
    }
    let end = path_end(s)?;
    let (path, rest) = s.split_at(end);
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Err(format!(
            "missing operator after {path:?}, expected one of {OP_LIST}"
        ));
    }
    let (op_text, op) = OPS
        .iter()
        .find(|(text, _)| {
            rest.strip_prefix(text).is_some_and(|after| {
                // Word operators must end at a space; symbols may touch the value.
                !text.ends_with(|c: char| c.is_ascii_alphabetic())
                    || after.is_empty()
                    || after.starts_with(char::is_whitespace)
            })
        })
        .copied()
        .ok_or_else(|| format!("unknown operator in {rest:?}, expected one of {OP_LIST}"))?;
    let value_text = rest[op_text.len()..].trim();
    let value = match op {
        JsonOp::Exists | JsonOp::NotExists => {
            if !value_text.is_empty() {
                return Err(format!("{op_text} takes no value, got {value_text:?}"));
            }
            None
        }
        _ => {
            if value_text.is_empty() {
                return Err(format!("missing value after {op_text}"));
            }
            let v = json_value(value_text)?;
            if matches!(op, JsonOp::Lt | JsonOp::Le | JsonOp::Gt | JsonOp::Ge) && !v.is_number() {
                return Err(format!("{op_text} compares numbers, got {value_text}"));
            }
            Some(v)
        }
    };
    Ok(JsonExpect {
        path: path.to_owned(),
        op,
        value,
    })
}

/// Where the path ends: the first space or operator character at bracket depth zero,
/// outside quotes.
fn path_end(s: &str) -> Result<usize, String> {
    let mut scan = JsonPathScan::new(s);
    let end = scan.by_ref().find(|&(_, c, depth)| {
        depth == 0 && (c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>'))
    });
    match end {
        Some((i, _, _)) => Ok(i),
        None if scan.is_balanced() => Ok(s.len()),
        None => Err("unclosed quote or bracket in the JSONPath".to_owned()),
    }
}

/// A JSON value, or a bare word taken as a string.
fn json_value(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(e) => {
            let looks_like_json = text.starts_with(['"', '{', '[']);
            if looks_like_json || text.contains(char::is_whitespace) {
                Err(format!(
                    "value {text} is not JSON ({e}); quote strings, e.g. \"two words\""
                ))
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn je(s: &str) -> JsonExpect {
        json_expect(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn json_string_equality() {
        assert_eq!(
            je(r#"$.status == "ok""#),
            JsonExpect {
                path: "$.status".into(),
                op: JsonOp::Eq,
                value: Some(json!("ok"))
            }
        );
    }

    #[test]
    fn json_numbers_and_indexes() {
        let e = je("$.items[0].n > 3");
        assert_eq!((e.path.as_str(), e.op), ("$.items[0].n", JsonOp::Gt));
        assert_eq!(e.value, Some(json!(3)));
        assert_eq!(je("$.n<=2.5").op, JsonOp::Le);
        assert_eq!(je("$.n>=1").op, JsonOp::Ge);
        assert_eq!(je("$.n < -1").value, Some(json!(-1)));
        assert_eq!(je("$.n!=null").value, Some(json!(null)));
    }

    #[test]
    fn json_exists_and_not_exists() {
        assert_eq!(je("$.errors exists").op, JsonOp::Exists);
        assert_eq!(je("$.errors !exists").op, JsonOp::NotExists);
        assert_eq!(je("$.errors !exists").value, None);
        assert!(
            json_expect("$.errors exists 3")
                .unwrap_err()
                .contains("no value")
        );
    }

    #[test]
    fn json_contains_and_bare_words() {
        let e = je("$.tags contains blue");
        assert_eq!(e.op, JsonOp::Contains);
        assert_eq!(e.value, Some(json!("blue")));
        assert_eq!(je("$.ok == true").value, Some(json!(true)));
        assert_eq!(
            je(r#"$.o == {"a": [1, 2]}"#).value,
            Some(json!({"a": [1, 2]}))
        );
    }

    #[test]
    fn json_paths_with_spaces_and_filters() {
        assert_eq!(je(r#"$['a b'].c == 1"#).path, "$['a b'].c");
        assert_eq!(
            je("$.items[?@.n > 3].name exists").path,
            "$.items[?@.n > 3].name"
        );
        assert_eq!(je(r#"$["x]y"] == 1"#).path, r#"$["x]y"]"#);
    }

    #[test]
    fn json_bad_inputs() {
        assert!(
            json_expect("status == ok")
                .unwrap_err()
                .contains("starting with '$'")
        );
        assert!(json_expect("$.a").unwrap_err().contains("missing operator"));
        assert!(
            json_expect("$.a ~= 1")
                .unwrap_err()
                .contains("unknown operator")
        );
        assert!(json_expect("$.a ==").unwrap_err().contains("missing value"));
        assert!(
            json_expect("$.a > high")
                .unwrap_err()
                .contains("compares numbers")
        );
        assert!(
            json_expect(r#"$.a == "open"#)
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            json_expect("$.a == two words")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(json_expect("$['a == 1").unwrap_err().contains("unclosed"));
        assert!(
            json_expect("$.a existsx")
                .unwrap_err()
                .contains("unknown operator")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("10s").unwrap(), Duration::from_secs(10));
        assert!(duration("5 parsecs").is_err());
        assert!(
            positive_duration("0s")
                .unwrap_err()
                .contains("more than zero")
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes("65536").unwrap(), 65536);
        assert_eq!(bytes("64k").unwrap(), 65536);
        assert_eq!(bytes("64KiB").unwrap(), 65536);
        assert_eq!(bytes("2MiB").unwrap(), 2 << 20);
        assert_eq!(bytes("1G").unwrap(), 1 << 30);
        assert!(bytes("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(bytes("lots").unwrap_err().contains("expected a number"));
        assert!(bytes("99999999999999999999G").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            header("Accept: text/html").unwrap(),
            ("Accept".into(), "text/html".into())
        );
        assert_eq!(
            header("X-Empty:").unwrap(),
            ("X-Empty".into(), String::new())
        );
        assert_eq!(
            header("X-Time: 12:30").unwrap(),
            ("X-Time".into(), "12:30".into())
        );
        assert!(header("no colon").unwrap_err().contains("NAME: VALUE"));
        assert!(header(": v").unwrap_err().contains("missing header name"));
        assert!(header("Bad Name: v").unwrap_err().contains("whitespace"));
    }

    #[test]
    fn phase_limits() {
        assert_eq!(
            phase_limit("ttfb=200ms").unwrap(),
            (Phase::Ttfb, Duration::from_millis(200))
        );
        assert_eq!(phase_limit("DNS=1s").unwrap().0, Phase::Dns);
        assert!(phase_limit("ttfb").unwrap_err().contains("PHASE=DUR"));
        assert!(
            phase_limit("lunch=1s")
                .unwrap_err()
                .contains("unknown phase")
        );
        assert!(phase_limit("tls=soon").is_err());
    }

    #[test]
    fn resolvers() {
        assert_eq!(resolver("1.1.1.1").unwrap(), "1.1.1.1:53".parse().unwrap());
        assert_eq!(
            resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(resolver("[::1]").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            resolver("[::1]:5300").unwrap(),
            "[::1]:5300".parse().unwrap()
        );
        assert!(resolver("dns.example.com").is_err());
        assert!(resolver("127.0.0.1:0").unwrap_err().contains("1-65535"));
    }
}
