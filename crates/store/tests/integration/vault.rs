//! The vault on both backends: passwords, password changes, reopening.
use crate::both_backends;
use crate::common;

use common::{TestDb, FAST_KDF};
use confiaro_store::{KdfParams, StoreError};

const MNEMONIC: &str = "abandon ability able about above absent absorb abstract absurd abuse \
                        access accident";

async fn the_right_password_unlocks_the_same_secret_and_a_wrong_one_is_refused(db: TestDb) {
    let store = db.open().await;
    assert!(!store.has_vault().await.unwrap());
    assert!(matches!(
        store.unlock_vault("pw").await,
        Err(StoreError::NoVault)
    ));
    // the real (default) costs, once
    let created = store
        .create_vault("correct horse", MNEMONIC.as_bytes(), KdfParams::default())
        .await
        .unwrap();
    assert!(store.has_vault().await.unwrap());
    assert_eq!(created.wallet_secret(), MNEMONIC.as_bytes());
    let err = store.unlock_vault("correct hors").await.unwrap_err();
    assert!(matches!(err, StoreError::WrongPassword));
    assert_eq!(err.to_string(), "wrong password");
    assert!(matches!(
        store.unlock_vault("").await,
        Err(StoreError::WrongPassword)
    ));
    let unlocked = store.unlock_vault("correct horse").await.unwrap();
    assert_eq!(unlocked.wallet_secret(), MNEMONIC.as_bytes());
    // both handles hold the same data key
    let sealed = created.seal(b"ctx", b"payload");
    assert_eq!(
        unlocked.open(b"ctx", &sealed).unwrap().as_slice(),
        b"payload"
    );
    // the stored costs are the ones given
    let pool = db.raw().await;
    let costs: (i64, i64, i64) =
        sqlx::query_as("SELECT kdf_memory_kib, kdf_iterations, kdf_parallelism FROM vault")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(costs, (19 * 1024, 2, 1));
}

async fn one_vault_per_database_and_passwords_must_not_be_empty(db: TestDb) {
    let store = db.open().await;
    assert!(matches!(
        store.create_vault("", b"secret", FAST_KDF).await,
        Err(StoreError::WeakPassword)
    ));
    assert!(!store.has_vault().await.unwrap());
    let bad_costs = KdfParams {
        memory_kib: 1,
        ..FAST_KDF
    };
    assert!(matches!(
        store.create_vault("pw", b"secret", bad_costs).await,
        Err(StoreError::Kdf { .. })
    ));
    let vault = store.create_vault("pw", b"secret", FAST_KDF).await.unwrap();
    assert!(matches!(
        store.create_vault("other", b"other", FAST_KDF).await,
        Err(StoreError::VaultExists)
    ));
    assert!(matches!(
        store.change_password(&vault, "", FAST_KDF).await,
        Err(StoreError::WeakPassword)
    ));
    // the first vault is untouched
    assert_eq!(
        store.unlock_vault("pw").await.unwrap().wallet_secret(),
        b"secret"
    );
}

async fn a_changed_password_replaces_the_old_one_and_survives_a_reopen(db: TestDb) {
    let store = db.open().await;
    let vault = store
        .create_vault("old password", MNEMONIC.as_bytes(), FAST_KDF)
        .await
        .unwrap();
    let sealed = vault.seal(b"data", b"sealed before the change");
    let new_costs = KdfParams {
        memory_kib: 512,
        iterations: 2,
        parallelism: 2,
    };
    store
        .change_password(&vault, "new password", new_costs)
        .await
        .unwrap();
    assert!(matches!(
        store.unlock_vault("old password").await,
        Err(StoreError::WrongPassword)
    ));
    store.close().await;
    drop(store);

    let store = db.open().await;
    assert!(matches!(
        store.unlock_vault("old password").await,
        Err(StoreError::WrongPassword)
    ));
    let reopened = store.unlock_vault("new password").await.unwrap();
    assert_eq!(reopened.wallet_secret(), MNEMONIC.as_bytes());
    // data sealed under the old password still opens: the data key did not change
    assert_eq!(
        reopened.open(b"data", &sealed).unwrap().as_slice(),
        b"sealed before the change"
    );
    let pool = db.raw().await;
    let costs: (i64, i64, i64) =
        sqlx::query_as("SELECT kdf_memory_kib, kdf_iterations, kdf_parallelism FROM vault")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(costs, (512, 2, 2));
}

async fn a_vault_from_another_database_cannot_change_this_ones_password(db: TestDb) {
    let mine = db.open().await;
    let theirs = db.another().await.open().await;
    mine.create_vault("mine", b"a", FAST_KDF).await.unwrap();
    let foreign = theirs.create_vault("theirs", b"b", FAST_KDF).await.unwrap();
    assert!(matches!(
        mine.change_password(&foreign, "stolen", FAST_KDF).await,
        Err(StoreError::WrongVault)
    ));
    assert_eq!(
        mine.unlock_vault("mine").await.unwrap().wallet_secret(),
        b"a"
    );
    assert!(matches!(
        theirs.change_password(&foreign, "x", FAST_KDF).await,
        Ok(())
    ));
    let empty = db.another().await.open().await;
    assert!(matches!(
        empty.change_password(&foreign, "x", FAST_KDF).await,
        Err(StoreError::NoVault)
    ));
}

async fn an_altered_wrapped_key_reads_as_a_wrong_password_not_a_panic(db: TestDb) {
    let store = db.open().await;
    store.create_vault("pw", b"secret", FAST_KDF).await.unwrap();
    let pool = db.raw().await;
    // a different salt derives another wrapping key
    sqlx::query("UPDATE vault SET salt = $1")
        .bind(vec![0u8; 16])
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.unlock_vault("pw").await,
        Err(StoreError::WrongPassword)
    ));
    sqlx::query("UPDATE vault SET kdf_memory_kib = -1")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.unlock_vault("pw").await,
        Err(StoreError::Corrupt { .. })
    ));
}

both_backends!(
    the_right_password_unlocks_the_same_secret_and_a_wrong_one_is_refused,
    one_vault_per_database_and_passwords_must_not_be_empty,
    a_changed_password_replaces_the_old_one_and_survives_a_reopen,
    a_vault_from_another_database_cannot_change_this_ones_password,
    an_altered_wrapped_key_reads_as_a_wrong_password_not_a_panic,
);
