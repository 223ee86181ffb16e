//! bitwobbly-server.
