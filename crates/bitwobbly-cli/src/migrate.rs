//! `bitwobbly migrate`: apply the store's migrations to a database.

use std::io::Write;

use anyhow::Context;
use bitwobbly_store::{BackendKind, Store, StoreError, StoreOptions};

use crate::{Exit, UsageError};

/// Opens the database at `args.database_url` and applies the embedded migrations.
///
/// # Errors
///
/// A [`UsageError`] naming `--database-url` for a URL of no supported kind; otherwise the
/// database or migration error.
pub(crate) async fn run(args: &crate::MigrateArgs, out: &mut impl Write) -> anyhow::Result<Exit> {
    let url = args.database_url.as_str();
    let store = match Store::open_with(url, StoreOptions::default().migrate(false)).await {
        Ok(store) => store,
        Err(e @ StoreError::UnsupportedUrl { .. }) => {
            return Err(UsageError::flag("--database-url", e.to_string()).into());
        }
        Err(e) => return Err(e).context("opening the database"),
    };
    store.migrate().await.context("applying migrations")?;
    let backend = match store.kind() {
        BackendKind::Sqlite => "SQLite",
        BackendKind::Postgres => "PostgreSQL",
        _ => "the",
    };
    writeln!(out, "migrations applied to {backend} database")?;
    Ok(Exit::Success)
}
