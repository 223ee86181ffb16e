//! Name resolution for checks, behind a small trait so tests and embedders can swap it.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use bitwobbly_core::{CheckError, IpPreference, ResolverSpec};

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

/// Parses a host that is an IP literal (`127.0.0.1`, `::1` or `[::1]`).
pub(crate) fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}
