//! Backslash escapes for TCP payloads and banners: `\r`, `\n`, `\t`, `\\` and `\xNN`.

/// Decodes `\r`, `\n`, `\t`, `\\` and `\xNN` (two hex digits, at most `\x7f`: the
/// payload is sent as text).
///
/// # Errors
///
/// A lowercase description of the first bad escape: an unknown letter, a trailing
/// backslash, a `\x` without two hex digits, or a byte above `\x7f`.
pub(crate) fn decode(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let byte = (hex.len() == 2)
                    .then(|| u8::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("\\x needs two hex digits, got \\x{hex}"))?;
                if byte > 0x7f {
                    return Err(format!(
                        "\\x{hex} is above \\x7f; only ASCII bytes can be written as \\xNN"
                    ));
                }
                out.push(char::from(byte));
            }
            Some(other) => {
                return Err(format!(
                    "unknown escape \\{other}, expected \\r, \\n, \\t, \\\\ or \\xNN"
                ));
            }
            None => return Err("trailing backslash, write \\\\ for a backslash".to_owned()),
        }
    }
    Ok(out)
}

/// Shows bytes as text: printable ASCII as is, `\r`, `\n`, `\t`, `\\` escaped and
/// every other byte as `\xNN`, so a banner prints on one line.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_escape() {
        assert_eq!(
            decode(r"EHLO x\r\nQUIT\n\tend\\ \x41\x7f").unwrap(),
            "EHLO x\r\nQUIT\n\tend\\ A\x7f"
        );
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(decode("héllo").unwrap(), "héllo");
    }

    #[test]
    fn rejects_bad_escapes() {
        assert!(decode(r"\q").unwrap_err().contains("unknown escape \\q"));
        assert!(decode("abc\\").unwrap_err().contains("trailing backslash"));
        assert!(decode(r"\x4").unwrap_err().contains("two hex digits"));
        assert!(decode(r"\xzz").unwrap_err().contains("two hex digits"));
        assert!(decode(r"\xff").unwrap_err().contains("above"));
    }

    #[test]
    fn encode_round_trips_ascii() {
        let raw = "SSH-2.0-x\r\n\tback\\slash";
        assert_eq!(encode(raw.as_bytes()), r"SSH-2.0-x\r\n\tback\\slash");
        assert_eq!(decode(&encode(raw.as_bytes())).unwrap(), raw);
    }

    #[test]
    fn encode_escapes_binary() {
        assert_eq!(encode(&[0, 0xff, b'a']), r"\x00\xffa");
    }
}
