//! rustls client configurations, shared by all checks, and certificate facts.

/// Client configurations keyed by the TLS options that shape them.
#[derive(Debug, Default)]
pub(crate) struct TlsConfigs {}

impl TlsConfigs {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}
