//! The monitors being checked on this node right now, so that one monitor never runs twice
//! at once here (across nodes the lease guarantees it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bitwobbly_store::types::MonitorId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// One lock per monitor being checked, created on demand and dropped with its last user.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    locks: Mutex<HashMap<MonitorId, Arc<AsyncMutex<()>>>>,
}

/// Holds a monitor's slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Running {
    set: Arc<InFlight>,
    id: MonitorId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl InFlight {
    fn lock_for(&self, id: MonitorId) -> Arc<AsyncMutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(id).or_default())
    }

    /// Takes the monitor's slot if it is free.
    pub(crate) fn try_start(self: &Arc<Self>, id: MonitorId) -> Option<Running> {
        let lock = self.lock_for(id);
        match lock.try_lock_owned() {
            Ok(guard) => Some(Running {
                set: Arc::clone(self),
                id,
                guard: Some(guard),
            }),
            Err(_) => {
                // The failed attempt dropped its reference.
                self.forget_if_unused(id);
                None
            }
        }
    }

    /// Waits for the monitor's slot.
    pub(crate) async fn start(self: &Arc<Self>, id: MonitorId) -> Running {
        let guard = self.lock_for(id).lock_owned().await;
        Running {
            set: Arc::clone(self),
            id,
            guard: Some(guard),
        }
    }

    /// Whether the monitor is being checked now.
    pub(crate) fn is_running(&self, id: MonitorId) -> bool {
        let map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&id).is_some_and(|l| l.try_lock().is_err())
    }

    /// How many monitors have a slot (held or awaited).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn forget_if_unused(&self, id: MonitorId) {
        let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the map holds it: nobody runs or waits for this monitor.
        if map.get(&id).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(&id);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.set.forget_if_unused(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_slot_per_monitor_and_freed_on_drop() {
        let set = Arc::new(InFlight::default());
        let a = set.try_start(MonitorId(1)).expect("free");
        assert!(set.is_running(MonitorId(1)));
        assert!(set.try_start(MonitorId(1)).is_none());
        let b = set
            .try_start(MonitorId(2))
            .expect("another monitor is independent");
        drop(a);
        assert!(!set.is_running(MonitorId(1)));
        let again = set.start(MonitorId(1)).await;
        drop(again);
        drop(b);
        assert_eq!(set.len(), 0);
    }
}
