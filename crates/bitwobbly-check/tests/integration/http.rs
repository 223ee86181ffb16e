//! http probe tests.
