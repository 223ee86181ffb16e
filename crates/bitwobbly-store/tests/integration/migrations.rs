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
    assert_eq!(store.pending_migrations().await.unwrap(), vec![1, 2, 3, 4]);
    store.migrate().await.unwrap();
    assert!(store.pending_migrations().await.unwrap().is_empty());
    store.close().await;
}
