//! Prometheus metrics, rendered in the text format at `/metrics`.
//!
//! Per-monitor series follow blackbox_exporter's names where they fit
//! (`probe_success`, `probe_duration_seconds`, `probe_http_duration_seconds{phase}`,
//! `probe_http_status_code`), labelled with the monitor id and workspace id.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bitwobbly_core::CheckReport;
use bitwobbly_store::types::{MonitorId, WorkspaceId};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabels {
    workspace: i64,
    monitor: i64,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    workspace: i64,
    monitor: i64,
    phase: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    stage: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn batch_histogram() -> Histogram {
    Histogram::new([
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
    ])
}

fn lag_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

fn request_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
    ])
}

/// The server's metrics. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    scheduler_lag: Histogram,
    checks: Family<OutcomeLabels, Counter>,
    probe_success: Family<MonitorLabels, FloatGauge>,
    probe_duration: Family<MonitorLabels, FloatGauge>,
    probe_phase: Family<PhaseLabels, FloatGauge>,
    probe_status: Family<MonitorLabels, FloatGauge>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram>,
    deliveries: Family<DeliveryLabels, Counter>,
    outbox_pending: Gauge,
    outbox_dead: Gauge,
    resident_memory: Gauge,
    checks_in_flight: Gauge,
    ingest_envelopes: Family<IngestLabels, Counter>,
    ingest_bytes: Family<BytesLabels, Counter>,
    ingest_commit_batch: Histogram,
    ingest_commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let scheduler_lag = lag_histogram();
        registry.register(
            "bitwobbly_scheduler_lag_seconds",
            "How late checks started after they were due",
            scheduler_lag.clone(),
        );
        let checks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "bitwobbly_checks",
            "Checks run, by outcome (up, degraded, down, skipped)",
            checks.clone(),
        );
        let probe_success = Family::<MonitorLabels, FloatGauge>::default();
        registry.register(
            "probe_success",
            "Whether the monitor's latest check succeeded",
            probe_success.clone(),
        );
        let probe_duration = Family::<MonitorLabels, FloatGauge>::default();
        registry.register(
            "probe_duration_seconds",
            "Total duration of the monitor's latest check",
            probe_duration.clone(),
        );
        let probe_phase = Family::<PhaseLabels, FloatGauge>::default();
        registry.register(
            "probe_http_duration_seconds",
            "Duration of each phase of the monitor's latest check (resolve, connect, tls, processing, transfer)",
            probe_phase.clone(),
        );
        let probe_status = Family::<MonitorLabels, FloatGauge>::default();
        registry.register(
            "probe_http_status_code",
            "HTTP status of the monitor's latest check (0 if none)",
            probe_status.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "bitwobbly_http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(
            request_histogram as fn() -> Histogram,
        );
        registry.register(
            "bitwobbly_http_request_duration_seconds",
            "HTTP request durations",
            http_duration.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "bitwobbly_notification_deliveries",
            "Notification delivery attempts by channel kind and outcome",
            deliveries.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "bitwobbly_outbox_pending",
            "Notifications waiting to be delivered",
            outbox_pending.clone(),
        );
        let outbox_dead = Gauge::default();
        registry.register(
            "bitwobbly_outbox_dead",
            "Notifications given up on (see the dead-letter API)",
            outbox_dead.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            resident_memory.clone(),
        );
        let checks_in_flight = Gauge::default();
        registry.register(
            "bitwobbly_checks_in_flight",
            "Checks running now on this node",
            checks_in_flight.clone(),
        );
        let ingest_envelopes = Family::<IngestLabels, Counter>::default();
        registry.register(
            "bitwobbly_ingest_envelopes",
            "Envelopes received on the ingest endpoints, by outcome (accepted, rejected) and \
             rejection reason (the error code)",
            ingest_envelopes.clone(),
        );
        let ingest_bytes = Family::<BytesLabels, Counter>::default();
        registry.register(
            "bitwobbly_ingest_bytes",
            "Ingest bytes by stage: received (request bodies as sent), stored (inline \
             compressed or blob bytes of accepted envelopes)",
            ingest_bytes.clone(),
        );
        let ingest_commit_batch = batch_histogram();
        registry.register(
            "bitwobbly_ingest_commit_batch_size",
            "Envelopes per group commit",
            ingest_commit_batch.clone(),
        );
        let ingest_commit_seconds = request_histogram();
        registry.register(
            "bitwobbly_ingest_commit_seconds",
            "Duration of each group commit",
            ingest_commit_seconds.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                scheduler_lag,
                checks,
                probe_success,
                probe_duration,
                probe_phase,
                probe_status,
                http_requests,
                http_duration,
                deliveries,
                outbox_pending,
                outbox_dead,
                resident_memory,
                checks_in_flight,
                ingest_envelopes,
                ingest_bytes,
                ingest_commit_batch,
                ingest_commit_seconds,
            }),
        }
    }

    /// Records how late a check started after it was due.
    pub fn observe_lag(&self, lag: Duration) {
        self.inner.scheduler_lag.observe(lag.as_secs_f64());
    }

    /// Counts a check by outcome (`up`, `degraded`, `down`, or `skipped` when the node's own
    /// connectivity failed).
    pub fn count_check(&self, outcome: &str) {
        self.inner
            .checks
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Sets a monitor's latest-check series from its report.
    pub fn record_probe(&self, workspace: WorkspaceId, monitor: MonitorId, report: &CheckReport) {
        let m = MonitorLabels {
            workspace: workspace.0,
            monitor: monitor.0,
        };
        let up = matches!(
            report.status,
            bitwobbly_core::Status::Up | bitwobbly_core::Status::Degraded
        );
        self.inner
            .probe_success
            .get_or_create(&m)
            .set(if up { 1.0 } else { 0.0 });
        let t = &report.timings;
        self.inner
            .probe_duration
            .get_or_create(&m)
            .set(t.total.as_secs_f64());
        for (phase, d) in [
            ("resolve", t.dns),
            ("connect", t.connect),
            ("tls", t.tls),
            ("processing", t.ttfb),
            ("transfer", t.transfer),
        ] {
            self.inner
                .probe_phase
                .get_or_create(&PhaseLabels {
                    workspace: workspace.0,
                    monitor: monitor.0,
                    phase,
                })
                .set(d.as_secs_f64());
        }
        let status = report.http.as_ref().map_or(0, |h| h.status);
        self.inner
            .probe_status
            .get_or_create(&m)
            .set(f64::from(status));
    }

    /// Drops a deleted monitor's series.
    pub fn forget_monitor(&self, workspace: WorkspaceId, monitor: MonitorId) {
        let m = MonitorLabels {
            workspace: workspace.0,
            monitor: monitor.0,
        };
        self.inner.probe_success.remove(&m);
        self.inner.probe_duration.remove(&m);
        self.inner.probe_status.remove(&m);
        for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
            self.inner.probe_phase.remove(&PhaseLabels {
                workspace: workspace.0,
                monitor: monitor.0,
                phase,
            });
        }
    }

    /// Records one served HTTP request; `route` is the matched route template, never the raw
    /// path (which would explode the label set).
    pub fn record_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let l = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.inner.http_requests.get_or_create(&l).inc();
        self.inner
            .http_duration
            .get_or_create(&l)
            .observe(took.as_secs_f64());
    }

    /// Counts a delivery attempt (`sent`, `retry`, `dead`, `disabled`) for a channel kind.
    pub fn count_delivery(&self, channel: &str, outcome: &str) {
        self.inner
            .deliveries
            .get_or_create(&DeliveryLabels {
                channel: channel.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The in-flight checks gauge (incremented while a check runs).
    pub fn checks_in_flight(&self) -> &Gauge {
        &self.inner.checks_in_flight
    }

    /// Sets the outbox gauges (read from the store at scrape time).
    pub fn set_outbox(&self, pending: i64, dead: i64) {
        self.inner.outbox_pending.set(pending);
        self.inner.outbox_dead.set(dead);
    }

    /// Sets the resident memory gauge.
    pub fn set_resident_memory(&self, bytes: i64) {
        self.inner.resident_memory.set(bytes);
    }

    /// Counts an envelope accepted by the ingest endpoints.
    pub fn count_ingest_accepted(&self) {
        self.inner
            .ingest_envelopes
            .get_or_create(&IngestLabels {
                outcome: "accepted",
                reason: "",
            })
            .inc();
    }

    /// Counts an envelope refused by the ingest endpoints, by error code.
    pub fn count_ingest_rejected(&self, reason: &'static str) {
        self.inner
            .ingest_envelopes
            .get_or_create(&IngestLabels {
                outcome: "rejected",
                reason,
            })
            .inc();
    }

    /// Adds ingest bytes at a stage (`received`, `stored`).
    pub fn add_ingest_bytes(&self, stage: &'static str, bytes: usize) {
        self.inner
            .ingest_bytes
            .get_or_create(&BytesLabels { stage })
            .inc_by(bytes as u64);
    }

    /// Records one group commit: how many envelopes and how long it took.
    pub fn observe_ingest_commit(&self, batch: usize, took: Duration) {
        self.inner.ingest_commit_batch.observe(batch as f64);
        self.inner.ingest_commit_seconds.observe(took.as_secs_f64());
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}
