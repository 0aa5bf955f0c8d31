//! Wallet changesets on both backends, and opening a store by URL.
use crate::both_backends;
use crate::common;

use bdk_wallet::bitcoin::Network;
use bdk_wallet::ChangeSet;
use common::TestDb;
use confiaro_store::{Store, StoreError};

async fn round_trip_reopen_and_merge_order(db: TestDb) {
    let store = db.open().await;
    assert!(store.load_wallet_changeset("w").await.unwrap().is_none());
    let first = ChangeSet {
        network: Some(Network::Regtest),
        ..Default::default()
    };
    store.append_wallet_changeset("w", &first).await.unwrap();
    store
        .append_wallet_changeset("w", &ChangeSet::default())
        .await
        .unwrap();
    assert_eq!(
        store.load_wallet_changeset("w").await.unwrap(),
        Some(first.clone())
    );
    assert!(store
        .load_wallet_changeset("other")
        .await
        .unwrap()
        .is_none());
    store.close().await;
    drop(store);
    let store = db.open().await;
    assert_eq!(store.load_wallet_changeset("w").await.unwrap(), Some(first));
}

/// The BDK persister over the same rows: a new wallet initializes empty, an empty changeset
/// writes nothing, and what it persisted is what a later initialize (and the store) loads.
async fn the_wallet_persister_is_bdks_view_of_the_rows(db: TestDb) {
    use bdk_wallet::AsyncWalletPersister;
    use confiaro_store::WalletPersister;
    let store = db.open().await;
    let mut persister = WalletPersister::new(store.clone(), "p");
    assert_eq!(persister.wallet_id(), "p");
    let empty = WalletPersister::initialize(&mut persister).await.unwrap();
    assert_eq!(empty, ChangeSet::default(), "a new wallet starts empty");
    WalletPersister::persist(&mut persister, &ChangeSet::default())
        .await
        .unwrap();
    assert!(store.load_wallet_changeset("p").await.unwrap().is_none());
    let changes = ChangeSet {
        network: Some(Network::Regtest),
        ..Default::default()
    };
    WalletPersister::persist(&mut persister, &changes)
        .await
        .unwrap();
    let mut reopened = WalletPersister::new(store.clone(), "p");
    assert_eq!(
        WalletPersister::initialize(&mut reopened).await.unwrap(),
        changes
    );
    assert_eq!(
        store.load_wallet_changeset("p").await.unwrap(),
        Some(changes)
    );
}

async fn later_rows_win_when_merged(db: TestDb) {
    use bdk_wallet::bitcoin::hashes::Hash;
    use bdk_wallet::bitcoin::BlockHash;
    let store = db.open().await;
    let cs = |b: u8| {
        let mut c = ChangeSet::default();
        c.local_chain
            .blocks
            .insert(1, Some(BlockHash::from_byte_array([b; 32])));
        c
    };
    store.append_wallet_changeset("w", &cs(1)).await.unwrap();
    store.append_wallet_changeset("w", &cs(2)).await.unwrap();
    let merged = store.load_wallet_changeset("w").await.unwrap().unwrap();
    assert_eq!(
        merged.local_chain.blocks[&1],
        Some(BlockHash::from_byte_array([2; 32]))
    );
}

/// `connect` with the test database's URL (`sqlite://PATH` or `postgres://…`) opens the same
/// database as `open`, and reconnecting finds the migrations already applied.
async fn connect_by_url_reaches_the_same_database(db: TestDb) {
    let store = db.open().await;
    store.upsert_peer("p", &[]).await.unwrap();
    store.close().await;
    let by_url = Store::connect(&db.url).await.unwrap();
    assert!(by_url.peer("p").await.unwrap().is_some());
    let again = Store::connect(&db.url).await.unwrap();
    assert_eq!(again.peers().await.unwrap().len(), 1);
}

both_backends!(
    round_trip_reopen_and_merge_order,
    the_wallet_persister_is_bdks_view_of_the_rows,
    later_rows_win_when_merged,
    connect_by_url_reaches_the_same_database,
);

#[tokio::test]
async fn a_url_of_another_kind_is_a_typed_error_without_the_password() {
    for url in [
        "mysql://user:hunter2secret@localhost/db",
        "hunter2secret",
        "",
        "postgres://user:hunter2secret@localhost:notaport/db",
        "postgres://user:hunter2secret@localhost/db?sslmode=bogus",
    ] {
        let err = Store::connect(url).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2secret"), "{url}: {text}");
    }
}

#[tokio::test]
async fn connect_creates_a_missing_sqlite_file_like_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new dir?#").join("app.sqlite");
    std::fs::create_dir(path.parent().unwrap()).unwrap();
    // `open` takes any path, including characters a URL would have to escape
    let store = Store::open(&path).await.unwrap();
    store.upsert_peer("p", &[]).await.unwrap();
    store.close().await;
    assert!(path.exists());
    let other = dir.path().join("other.sqlite");
    let store = Store::connect(&format!("sqlite://{}", other.display()))
        .await
        .unwrap();
    assert!(store.peers().await.unwrap().is_empty());
    assert!(other.exists());
}

/// WAL mode is a property of the file, so another connection sees what the store set.
#[tokio::test]
async fn a_sqlite_database_is_in_wal_mode() {
    let db = TestDb::sqlite().await;
    let store = db.open().await;
    store.upsert_peer("p", &[]).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&db.raw().await)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}
