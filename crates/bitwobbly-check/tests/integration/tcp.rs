//! tcp probe tests.
