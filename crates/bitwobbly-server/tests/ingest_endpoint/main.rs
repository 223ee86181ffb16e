//! The ingest endpoints (`/api/{project_id}/envelope/` and `/store/`) against a real server on
//! SQLite and PostgreSQL: every place a key can come from, encodings, framing, limits, hostile
//! input, quotas, CORS, and durability of what was answered `200`.

#[path = "../e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

mod accept;
mod encodings;
mod hostile;
mod quotas;
mod refuse;
mod setup;
