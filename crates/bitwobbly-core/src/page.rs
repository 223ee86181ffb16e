//! Status-page settings: the checks on what a workspace may put on a public page (custom
//! domains, links, time zones), shared by the store and the API.
//!
//! Each check returns the problem as a short lowercase fragment for the caller to attach to
//! the field it came from.

/// The longest URL accepted for a logo or a footer link.
pub const MAX_URL_LEN: usize = 2048;

/// The most custom domains one page may have.
pub const MAX_DOMAINS: usize = 20;

/// The most footer links one page may have.
pub const MAX_FOOTER_LINKS: usize = 20;

/// A custom domain in its stored form: trimmed, lowercase, without a trailing dot.
///
/// # Errors
/// The problem when it is not a plain DNS host name of at most 253 characters with at least
/// two labels of letters, digits and `-` (not at either end of a label; 1 to 63 characters
/// each), or when it is an IP address, has a port, a scheme or a path.
pub fn normalize_domain(domain: &str) -> Result<String, &'static str> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() {
        return Err("must not be empty");
    }
    if d.len() > 253 {
        return Err("must be at most 253 characters");
    }
    if d.contains("://") || d.contains('/') || d.contains(':') {
        return Err("must be a host name only, without scheme, port or path");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err("must have at least two labels (status.example.com)");
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(
                "each label must be 1 to 63 letters, digits or `-`, not starting or ending with `-`",
            );
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a host name, not an IP address");
    }
    Ok(d)
}

/// Checks a URL shown to visitors (a logo, a footer link): absolute `http` or `https` with a
/// host, no credentials, at most [`MAX_URL_LEN`] characters.
///
/// # Errors
/// The problem.
pub fn check_web_url(raw: &str) -> Result<(), &'static str> {
    if raw.len() > MAX_URL_LEN {
        return Err("must be at most 2048 characters");
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute http or https URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must have a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    Ok(())
}

/// Checks an IANA time-zone name (`Europe/Berlin`, `UTC`).
///
/// # Errors
/// The problem when the zone is unknown.
pub fn check_time_zone(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 64 {
        return Err("must be an IANA time zone such as UTC or Europe/Berlin");
    }
    jiff::tz::TimeZone::get(name)
        .map(|_| ())
        .map_err(|_| "must be an IANA time zone such as UTC or Europe/Berlin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_and_trimmed() {
        assert_eq!(
            normalize_domain(" Status.Example.COM. ").unwrap(),
            "status.example.com"
        );
        assert_eq!(normalize_domain("a-b.c9.io").unwrap(), "a-b.c9.io");
    }

    #[test]
    fn bad_domains_are_refused() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        for bad in [
            "",
            "localhost",
            "https://status.example.com",
            "status.example.com:8080",
            "status.example.com/path",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "st atus.example.com",
            "statüs.example.com",
            "127.0.0.1",
            "<script>.example.com",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn web_urls_must_be_http_with_a_host() {
        assert!(check_web_url("https://example.com/logo.png").is_ok());
        assert!(check_web_url("http://example.com").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "/relative.png",
            "ftp://example.com/x",
            "https://user:pw@example.com/",
            "",
        ] {
            assert!(check_web_url(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_web_url(&long).is_err());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert!(check_time_zone("UTC").is_ok());
        assert!(check_time_zone("Europe/Berlin").is_ok());
        assert!(check_time_zone("Mars/Olympus").is_err());
        assert!(check_time_zone("").is_err());
        assert!(check_time_zone(&"x".repeat(100)).is_err());
    }
}
