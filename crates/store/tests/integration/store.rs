//! Wallet changesets on both backends, and opening a store by URL.
use crate::both_backends;
use crate::common;

use bdk_wallet::bitcoin::Network;
use bdk_wallet::ChangeSet;
use common::{vault_of, TestDb};
use confiaro_store::{audit_entry_hash, NewSwap, Store, StoreError};

async fn round_trip_reopen_and_merge_order(db: TestDb) {
    let store = db.open().await;
    let vault = vault_of(&store).await;
    assert!(store
        .load_wallet_changeset(&vault, "w")
        .await
        .unwrap()
        .is_none());
    let first = ChangeSet {
        network: Some(Network::Regtest),
        ..Default::default()
    };
    store
        .append_wallet_changeset(&vault, "w", &first)
        .await
        .unwrap();
    store
        .append_wallet_changeset(&vault, "w", &ChangeSet::default())
        .await
        .unwrap();
    assert_eq!(
        store.load_wallet_changeset(&vault, "w").await.unwrap(),
        Some(first.clone())
    );
    assert!(store
        .load_wallet_changeset(&vault, "other")
        .await
        .unwrap()
        .is_none());
    store.close().await;
    drop(store);
    let store = db.open().await;
    let vault = vault_of(&store).await;
    assert_eq!(
        store.load_wallet_changeset(&vault, "w").await.unwrap(),
        Some(first)
    );
}

/// The BDK persister over the same rows: a new wallet initializes empty, an empty changeset
/// writes nothing, and what it persisted is what a later initialize (and the store) loads.
async fn the_wallet_persister_is_bdks_view_of_the_rows(db: TestDb) {
    use bdk_wallet::AsyncWalletPersister;
    use confiaro_store::WalletPersister;
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let mut persister = WalletPersister::new(store.clone(), vault.clone(), "p");
    assert_eq!(persister.wallet_id(), "p");
    let empty = WalletPersister::initialize(&mut persister).await.unwrap();
    assert_eq!(empty, ChangeSet::default(), "a new wallet starts empty");
    WalletPersister::persist(&mut persister, &ChangeSet::default())
        .await
        .unwrap();
    assert!(store
        .load_wallet_changeset(&vault, "p")
        .await
        .unwrap()
        .is_none());
    let changes = ChangeSet {
        network: Some(Network::Regtest),
        ..Default::default()
    };
    WalletPersister::persist(&mut persister, &changes)
        .await
        .unwrap();
    let mut reopened = WalletPersister::new(store.clone(), vault.clone(), "p");
    assert_eq!(
        WalletPersister::initialize(&mut reopened).await.unwrap(),
        changes
    );
    assert_eq!(
        store.load_wallet_changeset(&vault, "p").await.unwrap(),
        Some(changes)
    );
}

async fn later_rows_win_when_merged(db: TestDb) {
    use bdk_wallet::bitcoin::hashes::Hash;
    use bdk_wallet::bitcoin::BlockHash;
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let cs = |b: u8| {
        let mut c = ChangeSet::default();
        c.local_chain
            .blocks
            .insert(1, Some(BlockHash::from_byte_array([b; 32])));
        c
    };
    store
        .append_wallet_changeset(&vault, "w", &cs(1))
        .await
        .unwrap();
    store
        .append_wallet_changeset(&vault, "w", &cs(2))
        .await
        .unwrap();
    let merged = store
        .load_wallet_changeset(&vault, "w")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        merged.local_chain.blocks[&1],
        Some(BlockHash::from_byte_array([2; 32]))
    );
}

/// A wallet's rows are stored sealed (no block hash, no network name in the table), and a
/// row moved to another wallet does not open.
async fn wallet_rows_are_sealed_and_bound_to_their_wallet(db: TestDb) {
    use bdk_wallet::bitcoin::hashes::Hash;
    use bdk_wallet::bitcoin::BlockHash;
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let mut changes = ChangeSet {
        network: Some(Network::Regtest),
        ..Default::default()
    };
    let hash = BlockHash::from_byte_array([0xab; 32]);
    changes.local_chain.blocks.insert(7, Some(hash));
    store
        .append_wallet_changeset(&vault, "w", &changes)
        .await
        .unwrap();
    let pool = db.raw().await;
    let stored: String = sqlx::query_scalar("SELECT changeset FROM wallet_changesets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.starts_with("sealed:"), "{stored}");
    assert!(!stored.contains(&hash.to_string()) && !stored.contains("regtest"));
    sqlx::query("UPDATE wallet_changesets SET wallet = 'other'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.load_wallet_changeset(&vault, "other").await,
        Err(StoreError::Decrypt)
    ));
}

/// A database written by a version that kept wallet changesets, swap addresses and audit
/// details in clear: the first unlock seals the changesets and addresses in place (once),
/// keeps the older audit entries readable and verifiable in clear, and seals every later
/// one; after that, a row in clear is refused, not trusted.
async fn rows_in_clear_from_an_older_version_are_sealed_at_the_next_unlock(db: TestDb) {
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let swap_id = confiaro_protocol::SwapId([9; 32]);
    let (states, _) = common::bob_states(&common::seed(1), &common::seed(2), swap_id);
    let address = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx";
    store
        .insert_swap(
            &vault,
            &NewSwap {
                peer: "12D3KooWPeer",
                receive_address: Some(address),
                counterparty_wallet: None,
            },
            &states[0],
        )
        .await
        .unwrap();
    let changes = ChangeSet {
        network: Some(Network::Regtest),
        ..Default::default()
    };
    let pool = db.raw().await;
    // what the older version wrote: the vault row without the mark, rows in clear
    sqlx::query("UPDATE vault SET sealed_since_audit_id = NULL")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE swaps SET receive_address = $1")
        .bind(address)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO wallet_changesets (wallet, changeset, created_at) VALUES ('w', $1, 0)",
    )
    .bind(serde_json::to_string(&changes).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let mut prev = [0u8; 32];
    for id in 1..=3i64 {
        let detail = format!(r#"{{"old":{id}}}"#);
        let hash = audit_entry_hash(&prev, id, 1000 + id, None, "state", &detail);
        sqlx::query(
            "INSERT INTO audit_log (id, at_ms, swap_id, kind, detail, prev_hash, hash) \
             VALUES ($1, $2, NULL, 'state', $3, $4, $5)",
        )
        .bind(id)
        .bind(1000 + id)
        .bind(&detail)
        .bind(prev.as_slice())
        .bind(hash.as_slice())
        .execute(&pool)
        .await
        .unwrap();
        prev = hash;
    }
    store.close().await;
    drop(store);

    let store = db.open().await;
    let vault = store.unlock_vault("pw").await.unwrap();
    assert_eq!(vault.clear_audit_before(), 4);
    let changesets: Vec<String> = sqlx::query_scalar("SELECT changeset FROM wallet_changesets")
        .fetch_all(&pool)
        .await
        .unwrap();
    let addresses: Vec<String> = sqlx::query_scalar("SELECT receive_address FROM swaps")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(changesets
        .iter()
        .chain(&addresses)
        .all(|v| v.starts_with("sealed:")));
    assert_eq!(
        store.load_wallet_changeset(&vault, "w").await.unwrap(),
        Some(changes.clone())
    );
    let record = store.swap(&vault, &swap_id).await.unwrap().unwrap();
    assert_eq!(record.receive_address.as_deref(), Some(address));
    // the old entries stay in clear and verify; the next one is sealed
    let next = store
        .append_audit(&vault, None, "state", serde_json::json!({"new": true}))
        .await
        .unwrap();
    assert_eq!(next.id, 4);
    assert_eq!(store.verify_audit_log(&vault).await.unwrap().entries, 4);
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(details[0], r#"{"old":1}"#);
    assert!(details[3].starts_with("sealed:"), "{}", details[3]);
    assert_eq!(
        store.audit_entries(&vault, None).await.unwrap()[0].detail,
        serde_json::json!({"old": 1})
    );

    // once sealed, a row in clear is not trusted
    sqlx::query("UPDATE swaps SET receive_address = 'bcrt1qattacker'")
        .execute(&pool)
        .await
        .unwrap();
    let store = db.open().await;
    let vault = store.unlock_vault("pw").await.unwrap();
    assert_eq!(vault.clear_audit_before(), 4);
    assert!(matches!(
        store.swap(&vault, &swap_id).await,
        Err(StoreError::Decrypt)
    ));
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
    wallet_rows_are_sealed_and_bound_to_their_wallet,
    rows_in_clear_from_an_older_version_are_sealed_at_the_next_unlock,
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
