//! Name resolution for checks, behind a small trait so tests and embedders can swap it.
//!
//! [`HickoryResolver`] is the default: a pure-Rust resolver (hickory) that reads the
//! system configuration or talks to the one server a spec names.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bitwobbly_core::{CheckError, DnsTransport, ErrorKind, IpPreference, Phase, ResolverSpec};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::{DnsError, NetError, NoRecords};
use hickory_proto::op::ResponseCode;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};

/// A boxed future returned by [`Resolve::lookup_ip`].
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, CheckError>> + Send + 'a>>;

/// Resolves host names to addresses for checks.
pub trait Resolve: Send + Sync + fmt::Debug + 'static {
    /// Resolves `host` (never an IP literal) through `resolver`, keeping only addresses
    /// allowed by `ip`, in the order they should be tried.
    ///
    /// # Errors
    ///
    /// A [`CheckError`] in phase `dns` with kind `dns_no_such_name`, `dns_timeout`,
    /// `dns_no_address` or `dns_failure`.
    fn lookup_ip<'a>(
        &'a self,
        host: &'a str,
        resolver: &'a ResolverSpec,
        ip: IpPreference,
    ) -> LookupFuture<'a>;
}

/// The phase a connection to `host` starts in: `dns`, unless the host is an IP literal
/// (then resolution is skipped and reported as zero).
pub(crate) fn first_phase(host: &str) -> Phase {
    if parse_ip_literal(host).is_some() {
        Phase::Connect
    } else {
        Phase::Dns
    }
}

/// Parses a host that is an IP literal (`127.0.0.1`, `::1` or `[::1]`).
pub(crate) fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// How long a resolver waits for one answer from a server named in a spec before it
/// tries again.
const SERVER_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times a resolver asks a server named in a spec before it gives up.
const SERVER_ATTEMPTS: usize = 2;

/// The default [`Resolve`]: hickory's resolver.
///
/// - [`ResolverSpec::System`] reads the system configuration (`/etc/resolv.conf` on Unix)
///   and the hosts file, so `localhost` and names in `/etc/hosts` work. Timeouts and
///   attempts come from the system configuration. When no configuration can be read,
///   only the hosts file and `localhost` resolve.
/// - [`ResolverSpec::Server`] asks only that server over UDP (falling back to TCP for
///   truncated answers) or TCP, ignores the hosts file, waits 3 s for an answer and asks
///   twice at most.
///
/// Each resolver is built once per spec and address family and then shared by every
/// check that names it. Answers are not cached: every check asks the server, so that
/// the `dns` phase measures a real lookup and a changed record is seen at once (a
/// caching resolver the system uses may of course still cache).
///
/// The resolvers run on the Tokio runtime that first uses them; use a checker from one
/// runtime.
#[derive(Default)]
pub struct HickoryResolver {
    resolvers: Mutex<HashMap<(ResolverSpec, IpPreference), TokioResolver>>,
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .resolvers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("HickoryResolver")
            .field("resolvers", &count)
            .finish()
    }
}

impl HickoryResolver {
    /// A resolver with no resolvers built yet; each is built on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared resolver for `spec` and `ip`, built on first use.
    fn resolver(&self, spec: &ResolverSpec, ip: IpPreference) -> Result<TokioResolver, CheckError> {
        let mut map = self
            .resolvers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = map.get(&(spec.clone(), ip)) {
            return Ok(r.clone());
        }
        let built = build_resolver(spec, ip)?;
        map.insert((spec.clone(), ip), built.clone());
        Ok(built)
    }
}

impl Resolve for HickoryResolver {
    fn lookup_ip<'a>(
        &'a self,
        host: &'a str,
        resolver: &'a ResolverSpec,
        ip: IpPreference,
    ) -> LookupFuture<'a> {
        Box::pin(async move {
            let r = self.resolver(resolver, ip)?;
            let lookup = r
                .lookup_ip(host)
                .await
                .map_err(|e| lookup_error(host, ip, &e))?;
            let addrs: Vec<IpAddr> = lookup
                .iter()
                .filter(|a| crate::connect::family_allowed(*a, ip))
                .collect();
            if addrs.is_empty() {
                return Err(no_address(host, ip));
            }
            Ok(addrs)
        })
    }
}

/// Builds the resolver for `spec`, keeping to the family `ip` allows.
fn build_resolver(spec: &ResolverSpec, ip: IpPreference) -> Result<TokioResolver, CheckError> {
    let (config, mut opts) = match spec {
        ResolverSpec::Server { addr, transport } => {
            let mut conns = match transport {
                DnsTransport::Tcp => vec![ConnectionConfig::tcp()],
                _ => vec![ConnectionConfig::udp(), ConnectionConfig::tcp()],
            };
            for c in &mut conns {
                c.port = addr.port();
            }
            let server = NameServerConfig::new(addr.ip(), true, conns);
            let mut opts = ResolverOpts::default();
            opts.timeout = SERVER_TIMEOUT;
            opts.attempts = SERVER_ATTEMPTS;
            opts.use_hosts_file = ResolveHosts::Never;
            (ResolverConfig::from_name_servers(vec![server]), opts)
        }
        _ => match hickory_resolver::system_conf::read_system_conf() {
            Ok((config, mut opts)) => {
                opts.use_hosts_file = ResolveHosts::Always;
                (config, opts)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no system resolver configuration; only the hosts file resolves");
                let mut opts = ResolverOpts::default();
                opts.use_hosts_file = ResolveHosts::Always;
                (ResolverConfig::from_name_servers(Vec::new()), opts)
            }
        },
    };
    opts.ip_strategy = match ip {
        IpPreference::V4 => LookupIpStrategy::Ipv4Only,
        IpPreference::V6 => LookupIpStrategy::Ipv6Only,
        _ => LookupIpStrategy::Ipv4AndIpv6,
    };
    // Every check asks the server: no answer (positive or negative) outlives its lookup.
    opts.cache_size = 0;
    opts.positive_max_ttl = Some(Duration::ZERO);
    opts.negative_max_ttl = Some(Duration::ZERO);
    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| {
            CheckError::new(
                ErrorKind::DnsFailure,
                Phase::Dns,
                format!("cannot set up the resolver: {e}"),
            )
        })
}

/// The error for a name that has no address of the family `ip` allows.
fn no_address(host: &str, ip: IpPreference) -> CheckError {
    let family = match ip {
        IpPreference::V4 => "IPv4 ",
        IpPreference::V6 => "IPv6 ",
        _ => "",
    };
    CheckError::new(
        ErrorKind::DnsNoAddress,
        Phase::Dns,
        format!("{host} has no {family}address"),
    )
}

/// Classifies a failed lookup by hickory's error kinds.
fn lookup_error(host: &str, ip: IpPreference, e: &NetError) -> CheckError {
    let kind = classify(e);
    if kind == ErrorKind::DnsNoAddress {
        return no_address(host, ip);
    }
    let message = match kind {
        ErrorKind::DnsNoSuchName => format!("{host} does not exist (NXDOMAIN)"),
        ErrorKind::DnsTimeout => format!("no answer for {host} in time"),
        _ => format!("resolving {host}: {e}"),
    };
    CheckError::new(kind, Phase::Dns, message)
}

/// The stable kind for a resolver error.
pub(crate) fn classify(e: &NetError) -> ErrorKind {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => ErrorKind::DnsNoSuchName,
                ResponseCode::NoError => ErrorKind::DnsNoAddress,
                _ => ErrorKind::DnsFailure,
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => ErrorKind::DnsNoSuchName,
        NetError::Timeout => ErrorKind::DnsTimeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ErrorKind::DnsTimeout,
        _ => ErrorKind::DnsFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    #[test]
    fn ip_literals_parse_with_and_without_brackets() {
        assert_eq!(parse_ip_literal("127.0.0.1"), Some([127, 0, 0, 1].into()));
        assert_eq!(
            parse_ip_literal("[::1]"),
            Some(std::net::Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(
            parse_ip_literal("::1"),
            Some(std::net::Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(parse_ip_literal("example.com"), None);
    }

    #[test]
    fn errors_are_classified_by_kind() {
        let nx = NetError::from(NoRecords::new(Query::default(), ResponseCode::NXDomain));
        assert_eq!(classify(&nx), ErrorKind::DnsNoSuchName);
        let nodata = NetError::from(NoRecords::new(Query::default(), ResponseCode::NoError));
        assert_eq!(classify(&nodata), ErrorKind::DnsNoAddress);
        let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        assert_eq!(classify(&servfail), ErrorKind::DnsFailure);
        assert_eq!(classify(&NetError::Timeout), ErrorKind::DnsTimeout);
        assert_eq!(classify(&NetError::NoConnections), ErrorKind::DnsFailure);
    }

    #[tokio::test]
    async fn localhost_resolves_without_asking_a_server() {
        let r = HickoryResolver::new();
        let v4 = r
            .lookup_ip("localhost", &ResolverSpec::System, IpPreference::V4)
            .await
            .expect("localhost resolves");
        assert_eq!(v4, vec![IpAddr::from([127, 0, 0, 1])]);
        let v6 = r
            .lookup_ip("localhost.", &ResolverSpec::System, IpPreference::V6)
            .await
            .expect("localhost resolves");
        assert!(v6.iter().all(IpAddr::is_ipv6) && !v6.is_empty());
    }

    #[test]
    fn resolvers_are_built_once_per_spec_and_family() {
        let r = HickoryResolver::new();
        let spec = ResolverSpec::Server {
            addr: "127.0.0.1:5353".parse().unwrap(),
            transport: DnsTransport::Udp,
        };
        r.resolver(&spec, IpPreference::V4).unwrap();
        r.resolver(&spec, IpPreference::V4).unwrap();
        r.resolver(&spec, IpPreference::Any).unwrap();
        assert_eq!(r.resolvers.lock().unwrap().len(), 2);
    }
}
