//! Store tests against a real SQLite file.
use bdk_wallet::bitcoin::Network;
use bdk_wallet::ChangeSet;
use confiaro_store::Store;

#[tokio::test]
async fn round_trip_reopen_and_merge_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let store = Store::open(&path).await.unwrap();
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
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.load_wallet_changeset("w").await.unwrap(), Some(first));
}

#[tokio::test]
async fn later_rows_win_when_merged() {
    use bdk_wallet::bitcoin::hashes::Hash;
    use bdk_wallet::bitcoin::BlockHash;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.sqlite")).await.unwrap();
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
