//! Resolving and connecting, timed phase by phase.

use std::io;
use std::net::{IpAddr, SocketAddr};

use bitwobbly_core::{CheckError, ErrorKind, IpPreference, Phase, ResolverSpec};
use tokio::net::TcpStream;

use crate::checker::{Checker, Run};
use crate::resolve::parse_ip_literal;

/// Resolves `host` (in phase `dns`, skipped for IP literals) and opens a TCP connection
/// to `port` (in phase `connect`), trying each address in turn until one answers.
///
/// On return the clock is still in phase `connect`; the caller enters the next phase.
/// The connected address is recorded in `run.remote_addr`.
pub(crate) async fn open(
    checker: &Checker,
    host: &str,
    port: u16,
    ip: IpPreference,
    resolver: &ResolverSpec,
    run: &mut Run,
) -> Result<TcpStream, CheckError> {
    let addrs = match parse_ip_literal(host) {
        Some(addr) => {
            if !family_allowed(addr, ip) {
                return Err(CheckError::new(
                    ErrorKind::InvalidTarget,
                    Phase::Connect,
                    format!("{addr} is not an address of the required family"),
                ));
            }
            run.clock.enter(Phase::Connect);
            vec![addr]
        }
        None => {
            run.clock.enter(Phase::Dns);
            let addrs = checker
                .inner()
                .resolver
                .lookup_ip(host, resolver, ip)
                .await?;
            run.clock.enter(Phase::Connect);
            addrs
        }
    };
    let mut last_err = None;
    for addr in addrs {
        let target = SocketAddr::new(addr, port);
        match TcpStream::connect(target).await {
            Ok(stream) => {
                // Checks write a request and wait; Nagle would only add delay.
                let _ = stream.set_nodelay(true);
                run.remote_addr = Some(target);
                return Ok(stream);
            }
            Err(e) => last_err = Some((target, e)),
        }
    }
    Err(match last_err {
        Some((target, e)) => connect_error(target, &e),
        None => CheckError::new(
            ErrorKind::DnsNoAddress,
            Phase::Dns,
            format!("{host} has no address to connect to"),
        ),
    })
}

/// Whether `addr` belongs to the family `ip` allows.
pub(crate) fn family_allowed(addr: IpAddr, ip: IpPreference) -> bool {
    match ip {
        IpPreference::V4 => addr.is_ipv4(),
        IpPreference::V6 => addr.is_ipv6(),
        _ => true,
    }
}

/// Classifies a failed connect.
fn connect_error(target: SocketAddr, e: &io::Error) -> CheckError {
    let kind = match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
        io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
        _ => ErrorKind::ConnectFailure,
    };
    CheckError::new(kind, Phase::Connect, format!("connecting to {target}: {e}"))
}
