//! Notification channels and the outbox deliverer.
