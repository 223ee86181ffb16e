//! tcp test servers.
