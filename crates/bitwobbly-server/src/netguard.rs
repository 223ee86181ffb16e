//! The optional refusal of private, loopback and link-local targets.
//!
//! A hosted, multi-tenant server must not let a tenant probe its internal network through
//! checks or webhooks. With [`TargetConfig::deny_private`](crate::config::TargetConfig) on,
//! every address a check or a webhook is about to connect to goes through [`check_ip`].

use std::net::IpAddr;

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target address {addr} is in a {range} range, which this server does not allow")]
pub struct Refused {
    /// The address.
    pub addr: IpAddr,
    /// Which kind of range, e.g. `loopback`.
    pub range: &'static str,
}

/// The non-public range `ip` falls in, if any.
pub fn private_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if o[0] == 100 && (64..128).contains(&o[1]) {
                Some("shared (CGNAT)")
            } else if v4.is_broadcast()
                || v4.is_multicast()
                || o[0] >= 240
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
            {
                Some("reserved")
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                Some("benchmarking")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_range(IpAddr::V4(v4));
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("private")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

/// Refuses `ip` when `deny_private` is on and it is not a public address.
///
/// # Errors
///
/// [`Refused`], naming the range.
pub fn check_ip(deny_private: bool, ip: IpAddr) -> Result<(), Refused> {
    match private_range(ip) {
        Some(range) if deny_private => Err(Refused { addr: ip, range }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for (ip, want) in [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (CGNAT)")),
            ("0.0.0.0", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fd00::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("::ffff:10.0.0.1", Some("private")),
            ("93.184.216.34", None),
            ("2606:4700::1111", None),
        ] {
            assert_eq!(private_range(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn only_refused_when_on() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(check_ip(false, ip).is_ok());
        let e = check_ip(true, ip).unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }
}
