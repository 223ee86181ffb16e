//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 30-second
//! steps, 6 digits — what authenticator apps use by default — and the base32 (RFC 4648)
//! secrets and `otpauth://` links they read. Pure functions; the caller supplies the time.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The HOTP value (RFC 4226) of `key` at `counter`, with `digits` digits (1 to 9).
///
/// # Panics
///
/// When `digits` is 0 or more than 9.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    assert!((1..=9).contains(&digits), "1 to 9 digits");
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step a Unix time falls in.
pub fn step_of(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The TOTP value of `key` at `unix_secs`, with `digits` digits.
pub fn totp(key: &[u8], unix_secs: u64, digits: u32) -> u32 {
    hotp(key, step_of(unix_secs), digits)
}

/// The 6-digit code of `key` at `unix_secs`, zero-padded, as an app shows it.
pub fn code(key: &[u8], unix_secs: u64) -> String {
    format!("{:06}", totp(key, unix_secs, DIGITS))
}

/// Checks a 6-digit code typed at `unix_secs`, allowing `skew` steps of clock difference
/// either way. Spaces and dashes in the code are ignored. Returns the step that matched, so
/// the caller can refuse that step's code a second time.
pub fn verify(key: &[u8], typed: &str, unix_secs: u64, skew: u64) -> Option<u64> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = digits.parse().ok()?;
    let now = step_of(unix_secs);
    let mut found = None;
    // Every candidate is computed, so the time taken does not tell which one matched.
    for step in now.saturating_sub(skew)..=now.saturating_add(skew) {
        if hotp(key, step, DIGITS) == value && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 (RFC 4648) without padding, as authenticator apps take secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (RFC 4648), case-insensitive, ignoring spaces, dashes and `=` padding;
/// `None` for any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for c in text.chars() {
        if c.is_whitespace() || c == '-' || c == '=' {
            continue;
        }
        let c = c.to_ascii_uppercase();
        let v = ALPHABET.iter().position(|&a| char::from(a) == c)? as u64;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://totp/...` link an authenticator app scans (as a QR code) or opens.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer).replace('+', "%20"),
        enc(account).replace('+', "%20"),
        enc(issuer).replace('+', "%20"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 seed of RFC 6238 appendix B.
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_test_vectors() {
        for (t, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(totp(SEED, t, 8), expected, "T = {t}");
        }
        // Six digits are the last six of the eight.
        assert_eq!(code(SEED, 59), "287082");
        assert_eq!(code(SEED, 1_111_111_109), "081804");
    }

    #[test]
    fn rfc4226_hotp_test_vectors() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(SEED, counter as u64, 6), *want, "counter {counter}");
        }
    }

    #[test]
    fn verify_allows_one_step_of_skew_and_reports_the_step() {
        let t = 1_111_111_111;
        let now = code(SEED, t);
        assert_eq!(verify(SEED, &now, t, 1), Some(step_of(t)));
        let before = code(SEED, t - 30);
        assert_eq!(verify(SEED, &before, t, 1), Some(step_of(t) - 1));
        assert_eq!(verify(SEED, &before, t, 0), None);
        let long_ago = code(SEED, t - 90);
        assert_eq!(verify(SEED, &long_ago, t, 1), None);
        // Typing helpers are ignored; anything else is refused.
        let spaced = format!("{} {}", &now[..3], &now[3..]);
        assert!(verify(SEED, &spaced, t, 1).is_some());
        for bad in ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６"] {
            assert_eq!(verify(SEED, bad, t, 1), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_matches_rfc4648_vectors_and_round_trips() {
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(
            base32_decode("mzxw 6ytb-oi======").unwrap(),
            b"foobar".to_vec()
        );
        assert_eq!(base32_decode("MZXW1"), None, "1 is not base32");
        let key: Vec<u8> = (0..20).collect();
        assert_eq!(base32_decode(&base32_encode(&key)).unwrap(), key);
    }

    #[test]
    fn otpauth_links_name_issuer_account_and_parameters() {
        let uri = otpauth_uri("Bit Wobbly", "ada@example.com", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/Bit%20Wobbly:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Bit%20Wobbly&algorithm=SHA1&digits=6&period=30"
        );
    }
}
