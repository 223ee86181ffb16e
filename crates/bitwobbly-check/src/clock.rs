//! A monotonic clock that attributes every instant of a check to exactly one phase.

use bitwobbly_core::{Phase, Timings};
use tokio::time::Instant;

/// Measures a check phase by phase.
///
/// The clock is always "in" one phase; [`PhaseClock::enter`] closes the current phase at
/// this instant and opens the next. Because phases are cut from one sequence of
/// instants, they add up to the total exactly. Hops (redirects) are cut the same way.
#[derive(Debug, Clone)]
pub(crate) struct PhaseClock {
    start: Instant,
    last: Instant,
    current: Phase,
    total: Timings,
    hop: Timings,
    hop_start: Instant,
}

impl PhaseClock {
    /// Starts the clock now, in `phase`.
    pub(crate) fn start(phase: Phase) -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last: now,
            current: phase,
            total: Timings::default(),
            hop: Timings::default(),
            hop_start: now,
        }
    }

    /// The instant the clock started.
    pub(crate) fn started(&self) -> Instant {
        self.start
    }

    /// The phase the check is in.
    pub(crate) fn current(&self) -> Phase {
        self.current
    }

    /// Closes the current phase now and enters `phase`.
    pub(crate) fn enter(&mut self, phase: Phase) {
        self.cut(Instant::now());
        self.current = phase;
    }

    fn cut(&mut self, now: Instant) {
        let spent = now.saturating_duration_since(self.last);
        *self.total.phase_mut(self.current) += spent;
        *self.hop.phase_mut(self.current) += spent;
        self.last = now;
    }

    /// Ends the current hop now and returns its breakdown; the next hop starts in `phase`.
    pub(crate) fn next_hop(&mut self, phase: Phase) -> Timings {
        let now = Instant::now();
        self.cut(now);
        let mut hop = std::mem::take(&mut self.hop);
        hop.total = now.saturating_duration_since(self.hop_start);
        self.hop_start = now;
        self.current = phase;
        hop
    }

    /// The breakdown of the hop in progress, up to now.
    pub(crate) fn hop_so_far(&mut self) -> Timings {
        let now = Instant::now();
        self.cut(now);
        let mut hop = self.hop;
        hop.total = now.saturating_duration_since(self.hop_start);
        hop
    }

    /// Stops the clock now and returns the whole breakdown.
    pub(crate) fn finish(&mut self) -> Timings {
        let now = Instant::now();
        self.cut(now);
        let mut t = self.total;
        t.total = t.sum_of_phases();
        t
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn phases_add_up_to_total() {
        let mut c = PhaseClock::start(Phase::Dns);
        tokio::time::sleep(Duration::from_millis(3)).await;
        c.enter(Phase::Connect);
        tokio::time::sleep(Duration::from_millis(5)).await;
        c.enter(Phase::Ttfb);
        tokio::time::sleep(Duration::from_millis(7)).await;
        let t = c.finish();
        assert_eq!(t.dns, Duration::from_millis(3));
        assert_eq!(t.connect, Duration::from_millis(5));
        assert_eq!(t.tls, Duration::ZERO);
        assert_eq!(t.ttfb, Duration::from_millis(7));
        assert_eq!(t.total, Duration::from_millis(15));
    }

    #[tokio::test(start_paused = true)]
    async fn hops_are_cut_from_the_same_instants() {
        let mut c = PhaseClock::start(Phase::Connect);
        tokio::time::sleep(Duration::from_millis(2)).await;
        c.enter(Phase::Ttfb);
        tokio::time::sleep(Duration::from_millis(4)).await;
        let first = c.next_hop(Phase::Dns);
        tokio::time::sleep(Duration::from_millis(1)).await;
        c.enter(Phase::Connect);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let second = c.hop_so_far();
        let all = c.finish();
        assert_eq!(first.total, Duration::from_millis(6));
        assert_eq!(second.total, Duration::from_millis(3));
        assert_eq!(all.total, first.total + second.total);
        assert_eq!(all.connect, Duration::from_millis(4));
    }
}
