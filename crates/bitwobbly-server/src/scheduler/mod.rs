//! The scheduler: claims due monitors with leases, runs them on a bounded checker pool,
//! judges the outcomes with the core state machine, and writes results, state, incidents and
//! notifications.

use bitwobbly_check::Checker;

use crate::config::{Config, SchedulerConfig};

/// The scheduler's parts shared with request handlers (check-now uses the same pool).
#[derive(Debug)]
pub struct Shared {
    config: SchedulerConfig,
}

impl Shared {
    /// Shared parts per the configuration.
    pub fn new(config: &SchedulerConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    /// The scheduler configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }
}

/// The checker every scheduled check uses, built per the configuration.
pub fn build_checker(_config: &Config) -> Checker {
    Checker::new()
}
