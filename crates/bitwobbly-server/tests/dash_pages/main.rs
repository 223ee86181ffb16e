//! The dashboard's status pages, notification channels and notification outbox, over real
//! HTTP against the whole server on SQLite and PostgreSQL; journeys in headless Chromium.

mod browser;
mod channels;
#[path = "../dash_common/mod.rs"]
mod common;
mod pages;
mod receiver;
