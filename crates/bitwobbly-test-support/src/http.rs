//! http test servers.
