//! dns test servers.
