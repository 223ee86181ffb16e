//! The DSN key cache: every active key in memory, refreshed periodically and looked up in the
//! database on a miss, with a negative cache and a lookup budget so that a flood of random keys
//! costs the database at most `key_lookups_per_second` queries. Concurrent misses for the same
//! key share one lookup (a new key's first burst costs one query, not one per request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use bitwobbly_store::api::IngestQueue;
use bitwobbly_store::model::DsnKey;
use bitwobbly_store::types::KeyStatus;
use bitwobbly_store::{Store, StoreError};

/// Most remembered unknown or disabled keys; past this the expired ones are dropped, and if
/// that is not enough the whole negative cache is.
const NEGATIVE_CAPACITY: usize = 10_000;

/// Most keys being looked up at once; misses beyond this are treated as unknown.
const IN_FLIGHT_CAPACITY: usize = 1024;

/// One database lookup that concurrent misses for the same key wait on.
type Flight = Arc<tokio::sync::OnceCell<Result<KeyLookup, String>>>;

/// What a key lookup found.
#[derive(Debug, Clone)]
pub(crate) enum KeyLookup {
    /// An active key.
    Active(Arc<DsnKey>),
    /// A known key that is disabled (revoked).
    Disabled,
    /// No such key (or the lookup budget is spent: treated as unknown, not remembered).
    Unknown,
}

#[derive(Debug)]
struct Negative {
    until: Instant,
    disabled: bool,
}

/// Database lookups allowed on misses: a token bucket of one second's worth.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    at: Instant,
}

/// Active keys by public key, plus recently seen unknown or disabled ones.
#[derive(Debug)]
pub(crate) struct KeyCache {
    active: RwLock<HashMap<String, Arc<DsnKey>>>,
    negative: Mutex<HashMap<String, Negative>>,
    budget: Mutex<Budget>,
    in_flight: Mutex<HashMap<String, Flight>>,
    negative_ttl: Duration,
    lookups_per_second: f64,
}

impl KeyCache {
    pub(crate) fn new(negative_ttl: Duration, lookups_per_second: u32) -> Self {
        let rate = f64::from(lookups_per_second.max(1));
        Self {
            active: RwLock::new(HashMap::new()),
            negative: Mutex::new(HashMap::new()),
            budget: Mutex::new(Budget {
                tokens: rate,
                at: Instant::now(),
            }),
            in_flight: Mutex::new(HashMap::new()),
            negative_ttl,
            lookups_per_second: rate,
        }
    }

    /// Finds a key: memory first, then (within the budget) the database.
    ///
    /// # Errors
    /// The store's error, as text (shared by every request waiting on the same lookup).
    pub(crate) async fn lookup(
        &self,
        store: &Store,
        public_key: &str,
    ) -> Result<KeyLookup, String> {
        if let Some(key) = self.read_active().get(public_key) {
            return Ok(KeyLookup::Active(key.clone()));
        }
        if let Some(found) = self.negative_hit(public_key, Instant::now()) {
            return Ok(found);
        }
        let flight = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(f) = in_flight.get(public_key) {
                f.clone()
            } else {
                if in_flight.len() >= IN_FLIGHT_CAPACITY {
                    return Ok(KeyLookup::Unknown);
                }
                let f = Flight::default();
                in_flight.insert(public_key.to_owned(), f.clone());
                f
            }
        };
        let found = flight
            .get_or_init(|| async {
                self.fetch(store, public_key)
                    .await
                    .map_err(|e| crate::error::error_chain(&e))
            })
            .await
            .clone();
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(public_key)
            .is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            in_flight.remove(public_key);
        }
        found
    }

    /// Asks the database (within the budget) and remembers the answer.
    async fn fetch(&self, store: &Store, public_key: &str) -> Result<KeyLookup, StoreError> {
        let now = Instant::now();
        if !self.spend_lookup(now) {
            return Ok(KeyLookup::Unknown);
        }
        let found = store.global().dsn_key_by_public_key(public_key).await?;
        Ok(match found {
            Some(key) if key.status == KeyStatus::Active => {
                let key = Arc::new(key);
                self.write_active()
                    .insert(key.public_key.clone(), key.clone());
                KeyLookup::Active(key)
            }
            Some(_) => {
                self.remember_negative(public_key, true, now);
                KeyLookup::Disabled
            }
            None => {
                self.remember_negative(public_key, false, now);
                KeyLookup::Unknown
            }
        })
    }

    /// Replaces the active keys with what the database holds now.
    pub(crate) async fn refresh(&self, store: &Store) -> Result<usize, StoreError> {
        let keys = store.global().active_dsn_keys().await?;
        let map: HashMap<String, Arc<DsnKey>> = keys
            .into_iter()
            .map(|k| (k.public_key.clone(), Arc::new(k)))
            .collect();
        let n = map.len();
        {
            let mut negative = self.negative.lock().unwrap_or_else(PoisonError::into_inner);
            negative.retain(|k, _| !map.contains_key(k));
        }
        *self.write_active() = map;
        Ok(n)
    }

    /// Forgets one key everywhere, so the next request reads it from the database (call
    /// after revoking, re-enabling or changing a key's limit).
    pub(crate) fn forget(&self, public_key: &str) {
        self.write_active().remove(public_key);
        self.negative
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(public_key);
    }

    fn read_active(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<DsnKey>>> {
        self.active.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_active(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<DsnKey>>> {
        self.active.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn negative_hit(&self, public_key: &str, now: Instant) -> Option<KeyLookup> {
        let mut negative = self.negative.lock().unwrap_or_else(PoisonError::into_inner);
        match negative.get(public_key) {
            Some(n) if n.until > now => Some(if n.disabled {
                KeyLookup::Disabled
            } else {
                KeyLookup::Unknown
            }),
            Some(_) => {
                negative.remove(public_key);
                None
            }
            None => None,
        }
    }

    fn remember_negative(&self, public_key: &str, disabled: bool, now: Instant) {
        let mut negative = self.negative.lock().unwrap_or_else(PoisonError::into_inner);
        if negative.len() >= NEGATIVE_CAPACITY {
            negative.retain(|_, n| n.until > now);
            if negative.len() >= NEGATIVE_CAPACITY {
                negative.clear();
            }
        }
        negative.insert(
            public_key.to_owned(),
            Negative {
                until: now + self.negative_ttl,
                disabled,
            },
        );
    }

    fn spend_lookup(&self, now: Instant) -> bool {
        let mut b = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.lookups_per_second).min(self.lookups_per_second);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
