//! The connectivity guard: a node whose own network is down must not record its targets
//! as down.
//!
//! The operator names a few targets that are always up (`scheduler.connectivity_probes`,
//! e.g. `https://1.1.1.1/` or `tcp://9.9.9.9:53`). They are checked every
//! `connectivity_interval`; while every one of them fails, the node counts its down results
//! as `skipped` instead of recording them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bitwobbly_check::Checker;
use bitwobbly_core::{CheckSpec, CompiledCheck, HttpSpec, SpecError, Status, TcpSpec};
use tokio::task::JoinSet;

use crate::AppState;

/// Whether this node can reach the outside world, per its probes.
#[derive(Debug)]
pub(crate) struct Connectivity {
    online: AtomicBool,
    checker: Checker,
}

impl Connectivity {
    /// Online until a probe round says otherwise. Probes use their own checker: they are
    /// the operator's own targets, never refused as private.
    pub(crate) fn new() -> Self {
        Self {
            online: AtomicBool::new(true),
            checker: Checker::new(),
        }
    }

    /// Whether the last probe round reached at least one probe (true when there are none).
    pub(crate) fn online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    fn set(&self, online: bool) {
        let was = self.online.swap(online, Ordering::Relaxed);
        if was != online {
            if online {
                tracing::info!("connectivity probes answer again; recording down results again");
            } else {
                tracing::warn!(
                    "every connectivity probe failed; this node records no target as down until one answers"
                );
            }
        }
    }
}

/// Turns a configured probe into a check: an `http://` or `https://` URL is an HTTP check
/// (any answer counts), `tcp://host:port` or `host:port` a TCP connect.
pub(crate) fn compile_probe(probe: &str, timeout: Duration) -> Result<CompiledCheck, SpecError> {
    let spec = if probe.starts_with("http://") || probe.starts_with("https://") {
        let mut s = HttpSpec::get(probe);
        s.timeout = timeout;
        CheckSpec::Http(s)
    } else {
        let rest = probe.strip_prefix("tcp://").unwrap_or(probe);
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| SpecError::new("connectivity_probes", "expected a URL or host:port"))?;
        let port = port
            .parse()
            .map_err(|_| SpecError::new("connectivity_probes", format!("bad port in {probe:?}")))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let mut s = TcpSpec::connect(host, port);
        s.timeout = timeout;
        CheckSpec::Tcp(s)
    };
    spec.compile()
}

/// Probes every `connectivity_interval` until shutdown. Does nothing without probes.
pub(crate) async fn run(state: AppState) {
    let config = &state.scheduler.config();
    if config.connectivity_probes.is_empty() {
        return;
    }
    let timeout = config
        .connectivity_interval
        .clamp(Duration::from_secs(1), Duration::from_secs(10));
    let mut probes = Vec::new();
    for p in &config.connectivity_probes {
        match compile_probe(p, timeout) {
            Ok(c) => probes.push(c),
            Err(e) => tracing::error!(probe = %p, error = %e, "ignoring a connectivity probe"),
        }
    }
    if probes.is_empty() {
        return;
    }
    let guard = &state.scheduler.connectivity;
    let mut tick = tokio::time::interval(config.connectivity_interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let mut set = JoinSet::new();
        for p in &probes {
            let checker = guard.checker.clone();
            let check = p.clone();
            set.spawn(async move { checker.run(&check).await });
        }
        let mut any_up = false;
        while let Some(r) = set.join_next().await {
            if let Ok(report) = r {
                if report.status != Status::Down {
                    any_up = true;
                } else {
                    tracing::debug!(target = %report.target, reason = ?report.reason, "connectivity probe failed");
                }
            }
        }
        guard.set(any_up);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_urls_or_host_ports() {
        let t = Duration::from_secs(5);
        assert_eq!(
            compile_probe("https://1.1.1.1/", t).unwrap().spec().kind(),
            "http"
        );
        assert_eq!(
            compile_probe("tcp://9.9.9.9:53", t).unwrap().spec().kind(),
            "tcp"
        );
        assert_eq!(
            compile_probe("[::1]:53", t).unwrap().spec().target(),
            "[::1]:53"
        );
        assert!(compile_probe("nonsense", t).is_err());
    }
}
