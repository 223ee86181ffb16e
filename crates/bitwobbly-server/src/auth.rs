//! Authentication (dashboard sessions and bearer API tokens), roles, and rate limits.

use crate::config::AuthConfig;

/// Login-attempt and per-token request rate limits (in memory, per node).
#[derive(Debug)]
pub struct Limits {
    config: AuthConfig,
}

impl Limits {
    /// Limits per the configuration.
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    /// The configuration the limits follow.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }
}
