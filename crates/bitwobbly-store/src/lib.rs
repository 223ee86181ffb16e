//! bitwobbly-store.
