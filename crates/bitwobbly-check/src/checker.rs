//! The shared [`Checker`] and the run of one check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bitwobbly_core::{
    CertFacts, CheckError, CheckReport, CheckSpec, CompiledCheck, DnsFacts, ErrorKind, HttpFacts,
    Observation, Phase, TcpFacts, Timings, verdict,
};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::clock::PhaseClock;
use crate::resolve::{HickoryResolver, Resolve};
use crate::tls::TlsConfigs;

/// Default `User-Agent` sent by HTTP checks.
pub const DEFAULT_USER_AGENT: &str = concat!("bitwobbly/", env!("CARGO_PKG_VERSION"));

/// Runs checks. Build one and share it: it holds the TLS configurations and the
/// resolvers, so thousands of checks share them.
///
/// Cloning is cheap (an `Arc`).
#[derive(Debug, Clone)]
pub struct Checker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) tls: TlsConfigs,
    pub(crate) user_agent: String,
}

/// Builds a [`Checker`].
#[derive(Debug, Default)]
pub struct CheckerBuilder {
    resolver: Option<Arc<dyn Resolve>>,
    user_agent: Option<String>,
}

impl CheckerBuilder {
    /// The resolver for host names. Default: [`HickoryResolver`] (system configuration,
    /// or the server a spec names).
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The `User-Agent` for HTTP checks that set none. Default [`DEFAULT_USER_AGENT`].
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Builds the checker.
    pub fn build(self) -> Checker {
        Checker {
            inner: Arc::new(Inner {
                resolver: self
                    .resolver
                    .unwrap_or_else(|| Arc::new(HickoryResolver::new())),
                tls: TlsConfigs::new(),
                user_agent: self
                    .user_agent
                    .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned()),
            }),
        }
    }
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// A checker with every default.
    pub fn new() -> Self {
        CheckerBuilder::default().build()
    }

    /// Starts building a checker.
    pub fn builder() -> CheckerBuilder {
        CheckerBuilder::default()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Runs one check to completion (or its timeout) and reports what happened.
    ///
    /// This never fails: a target that cannot be reached is a report whose status is
    /// down, with an [`CheckError`] naming the phase and a stable [`ErrorKind`].
    pub async fn run(&self, check: &CompiledCheck) -> CheckReport {
        let spec = check.spec();
        let span = tracing::debug_span!("check", kind = spec.kind());
        self.run_inner(check).instrument(span).await
    }

    async fn run_inner(&self, check: &CompiledCheck) -> CheckReport {
        let spec = check.spec();
        let started_at = OffsetDateTime::now_utc();
        // A DNS check, or a connection to a name, starts by resolving.
        let first = check
            .connect_host()
            .map_or(Phase::Dns, crate::resolve::first_phase);
        let mut run = Run::new(first);
        let deadline = run.clock.started() + spec.timeout();
        // Each probe is boxed: the future of a check is then only as large as the probe
        // it runs (the largest kind would otherwise set the size of every check).
        let probe = async {
            match spec {
                CheckSpec::Http(s) => {
                    let url = check.url().ok_or_else(|| {
                        CheckError::new(
                            ErrorKind::InvalidTarget,
                            Phase::Connect,
                            "an http check compiled without its URL",
                        )
                    })?;
                    Box::pin(crate::http::run(self, s, url, &mut run)).await
                }
                CheckSpec::Tcp(s) => {
                    let banner = check.assertions().needs_banner();
                    Box::pin(crate::tcp::run(self, s, banner, &mut run)).await
                }
                CheckSpec::Dns(s) => Box::pin(crate::dns::run(self, s, &mut run)).await,
                CheckSpec::Tls(s) => Box::pin(crate::tlscheck::run(self, s, &mut run)).await,
                _ => Err(CheckError::new(
                    ErrorKind::InvalidTarget,
                    Phase::Connect,
                    "unsupported check kind",
                )),
            }
        };
        let outcome = tokio::time::timeout_at(deadline, probe).await;
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_elapsed) => Some(timeout_error(run.clock.current(), spec.timeout())),
        };
        run.into_report(check, started_at, error)
    }
}

/// The error for a check that ran out of time in `phase`.
pub(crate) fn timeout_error(phase: Phase, limit: Duration) -> CheckError {
    let kind = match phase {
        Phase::Dns => ErrorKind::DnsTimeout,
        Phase::Connect => ErrorKind::ConnectTimeout,
        _ => ErrorKind::Timeout,
    };
    CheckError::new(
        kind,
        phase,
        format!("no progress within the {} limit", humanize(limit)),
    )
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The state of a check in progress. Probes record what they learn here as soon as
/// they learn it, so that a timeout still reports what was seen before it.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) clock: PhaseClock,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) http: Option<HttpFacts>,
    pub(crate) cert: Option<CertFacts>,
    pub(crate) dns: Option<DnsFacts>,
    pub(crate) tcp: Option<TcpFacts>,
}

impl Run {
    fn new(first: Phase) -> Self {
        Self {
            clock: PhaseClock::start(first),
            remote_addr: None,
            http: None,
            cert: None,
            dns: None,
            tcp: None,
        }
    }

    fn into_report(
        mut self,
        check: &CompiledCheck,
        started_at: OffsetDateTime,
        error: Option<CheckError>,
    ) -> CheckReport {
        let timings: Timings = self.clock.finish();
        let now = OffsetDateTime::now_utc();
        let obs = Observation {
            timings: &timings,
            http: self.http.as_ref(),
            cert: self.cert.as_ref(),
            dns: self.dns.as_ref(),
            tcp: self.tcp.as_ref(),
            now,
        };
        let assertions = check.assertions().evaluate(&obs);
        let (status, reason) = verdict(error.as_ref(), &assertions);
        let spec = check.spec();
        CheckReport {
            kind: spec.kind().to_owned(),
            target: spec.target(),
            status,
            reason,
            started_at,
            timings,
            remote_addr: self.remote_addr,
            error,
            http: self.http,
            tls: self.cert,
            dns: self.dns,
            tcp: self.tcp,
            assertions,
        }
    }
}

#[cfg(test)]
mod tests {
    use bitwobbly_core::{DnsSpec, HttpSpec, RecordType, TcpSpec, TlsSpec};

    use super::*;

    /// A check in flight holds its future for as long as it waits, so that future must
    /// stay small whatever the kind: each probe's state is boxed and only as large as
    /// that probe needs.
    #[test]
    fn the_future_of_a_check_is_small() {
        let checker = Checker::new();
        let specs = [
            CheckSpec::Http(HttpSpec::get("https://127.0.0.1/")),
            CheckSpec::Tcp(TcpSpec::connect("127.0.0.1", 1)),
            CheckSpec::Dns(DnsSpec::query("example.com", RecordType::A)),
            CheckSpec::Tls(TlsSpec::handshake("127.0.0.1", 1)),
        ];
        for spec in specs {
            let check = spec.compile().unwrap();
            let size = std::mem::size_of_val(&checker.run(&check));
            assert!(
                size <= 2048,
                "{} bytes for a {} check",
                size,
                check.spec().kind()
            );
        }
    }
}
