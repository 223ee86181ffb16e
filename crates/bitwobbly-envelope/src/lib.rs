//! bitwobbly-envelope.
