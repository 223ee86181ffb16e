//! Benchmarks for the check engine.
