//! Refusing private targets (with `targets.deny_private` on).
//!
//! Names are refused where they are resolved: [`DenyPrivate`] wraps the checker's resolver
//! and refuses an answer holding any address in a non-public range (all of them, so that a
//! name cannot mix a public and a private address). Targets that are IP literals never reach
//! a resolver, so [`preflight`] refuses them before a check runs, together with DNS checks
//! that ask a server at a private address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bitwobbly_check::Resolve;
use bitwobbly_check::resolve::LookupFuture;
use bitwobbly_core::{
    CheckError, CheckReport, CheckSpec, CompiledCheck, ErrorKind, IpPreference, Phase,
    ResolverSpec, Timings, verdict,
};
use time::OffsetDateTime;

use crate::netguard::{Refused, check_ip};

/// A resolver that refuses answers with addresses in private, loopback, link-local and
/// other non-public ranges.
#[derive(Debug)]
pub(crate) struct DenyPrivate {
    inner: Arc<dyn Resolve>,
}

impl DenyPrivate {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn Resolve>) -> Self {
        Self { inner }
    }
}

impl Resolve for DenyPrivate {
    fn lookup_ip<'a>(
        &'a self,
        host: &'a str,
        resolver: &'a ResolverSpec,
        ip: IpPreference,
    ) -> LookupFuture<'a> {
        Box::pin(async move {
            if let ResolverSpec::Server { addr, .. } = resolver {
                check_ip(true, addr.ip()).map_err(|r| refused_server(*addr, &r))?;
            }
            let addrs = self.inner.lookup_ip(host, resolver, ip).await?;
            for addr in &addrs {
                check_ip(true, *addr).map_err(|r| {
                    CheckError::new(
                        ErrorKind::InvalidTarget,
                        Phase::Dns,
                        format!(
                            "{host} resolves to {}, in a {} range, which this server does not allow",
                            r.addr, r.range
                        ),
                    )
                })?;
            }
            Ok(addrs)
        })
    }
}

fn refused_server(addr: SocketAddr, r: &Refused) -> CheckError {
    CheckError::new(
        ErrorKind::InvalidTarget,
        Phase::Dns,
        format!("DNS server {addr}: {r}"),
    )
}

fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Refuses, before it runs, a check whose target is an IP literal in a non-public range or
/// that names a DNS server there (when `deny_private` is on).
///
/// # Errors
///
/// A [`CheckError`] of kind `invalid_target` whose message names the address and its range.
pub(crate) fn preflight(deny_private: bool, check: &CompiledCheck) -> Result<(), CheckError> {
    if !deny_private {
        return Ok(());
    }
    if let Some(ip) = check.connect_host().and_then(ip_literal) {
        check_ip(true, ip).map_err(|r| {
            CheckError::new(ErrorKind::InvalidTarget, Phase::Connect, r.to_string())
        })?;
    }
    let server = match check.spec() {
        CheckSpec::Http(s) => &s.resolver,
        CheckSpec::Tcp(s) => &s.resolver,
        CheckSpec::Dns(s) => &s.resolver,
        CheckSpec::Tls(s) => &s.resolver,
        _ => return Ok(()),
    };
    if let ResolverSpec::Server { addr, .. } = server {
        check_ip(true, addr.ip()).map_err(|r| refused_server(*addr, &r))?;
    }
    Ok(())
}

/// After a run: refuses a report whose connection ended at a non-public address (an HTTP
/// redirect to an IP literal does not pass through the resolver). The report keeps its
/// timings; its status becomes down with the refusal as the reason, and nothing the target
/// answered is kept.
pub(crate) fn postflight(deny_private: bool, report: &mut CheckReport) {
    if !deny_private {
        return;
    }
    let Some(addr) = report.remote_addr else {
        return;
    };
    if let Err(r) = check_ip(true, addr.ip()) {
        let error = CheckError::new(ErrorKind::InvalidTarget, Phase::Connect, r.to_string());
        let (status, reason) = verdict(Some(&error), &[]);
        report.status = status;
        report.reason = reason;
        report.error = Some(error);
        report.http = None;
        report.tls = None;
        report.dns = None;
        report.tcp = None;
        report.assertions.clear();
    }
}

/// The report of a check that was refused (or could not be prepared) before it ran.
pub(crate) fn refused_report(spec: &CheckSpec, error: CheckError) -> CheckReport {
    let (status, reason) = verdict(Some(&error), &[]);
    CheckReport {
        kind: spec.kind().to_owned(),
        target: spec.target(),
        status,
        reason,
        started_at: OffsetDateTime::now_utc(),
        timings: Timings::default(),
        remote_addr: None,
        error: Some(error),
        http: None,
        tls: None,
        dns: None,
        tcp: None,
        assertions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use bitwobbly_core::{DnsSpec, HttpSpec, RecordType, TcpSpec};

    use super::*;

    #[test]
    fn ip_literal_targets_in_private_ranges_are_refused_only_when_denied() {
        let check = CheckSpec::Tcp(TcpSpec::connect("127.0.0.1", 80))
            .compile()
            .unwrap();
        assert!(preflight(false, &check).is_ok());
        let e = preflight(true, &check).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidTarget);
        assert!(e.message.contains("loopback"), "{e}");
        let v6 = CheckSpec::Http(HttpSpec::get("http://[::1]:8080/"))
            .compile()
            .unwrap();
        assert!(preflight(true, &v6).is_err());
        let public = CheckSpec::Http(HttpSpec::get("http://93.184.216.34/"))
            .compile()
            .unwrap();
        assert!(preflight(true, &public).is_ok());
    }

    #[test]
    fn dns_servers_in_private_ranges_are_refused() {
        let mut spec = DnsSpec::query("example.com", RecordType::A);
        spec.resolver = ResolverSpec::Server {
            addr: "10.0.0.53:53".parse().unwrap(),
            transport: Default::default(),
        };
        let check = CheckSpec::Dns(spec).compile().unwrap();
        let e = preflight(true, &check).unwrap_err();
        assert!(e.message.contains("10.0.0.53"), "{e}");
    }
}
