//! Knowing whether the schema is current (for readiness checks).

use bitwobbly_store::{Store, StoreOptions};

use crate::harness::conformance;

async fn a_migrated_store_has_nothing_pending(store: Store) {
    assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
}

conformance!(a_migrated_store_has_nothing_pending);

#[tokio::test]
async fn an_unmigrated_database_has_every_migration_pending() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fresh.db").display()
    );
    let store = Store::open_with(&url, StoreOptions::default().migrate(false))
        .await
        .unwrap();
    // Every migration file of the backend, by its number.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut all: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .split('_')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    all.sort_unstable();
    assert!(all.starts_with(&[1, 2, 3, 4, 5]), "{all:?}");
    assert_eq!(store.pending_migrations().await.unwrap(), all);
    store.migrate().await.unwrap();
    assert!(store.pending_migrations().await.unwrap().is_empty());
    store.close().await;
}
