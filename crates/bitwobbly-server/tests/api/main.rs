//! The REST API under `/api/v1`, on SQLite and PostgreSQL: every route's tenant isolation and
//! roles, the error shape for bad input, sessions and tokens with their rate limits, and each
//! resource.
//!
//! PostgreSQL is reached at `BITWOBBLY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates and drops its own database.

mod harness;

mod access;
mod channels;
mod incidents;
mod input;
mod issues;
mod monitors;
mod pages;
mod projects;
mod routes;
