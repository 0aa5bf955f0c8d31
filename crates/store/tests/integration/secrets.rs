//! Secret scan: after a real session (vault, Bob's and Alice's machines, engine data, an
//! audit entry), the database file and its WAL and shared-memory files hold none of the
//! secrets in the clear, nor the swap's receive address or the audit entry's detail.
//!
//! The scan proves it can see: a marker stored in a plaintext column is found by the same
//! scan, and the data key (recovered here independently, from the documented vault format)
//! opens the stored blobs to exactly the secrets the scan looked for.
use crate::common;

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use common::{bob_states, seed};
use confiaro_protocol::keys::{SwapEntropy, SwapSecrets};
use confiaro_protocol::{Role, SwapId, SwapState};
use confiaro_store::{KdfParams, NewSwap, Store};

const MNEMONIC: &str = "legal winner thank year wave sausage worth useful legal winner thank \
                        yellow";
const PASSWORD: &str = "Tr0ub4dor&3-secret-scan";
/// Stored in a plaintext column on purpose: the scan must find it.
const PLAINTEXT_MARKER: &str = "12D3KooWPlaintextMarkerTheScanMustFind";
const DATA: &[u8] = b"prepared-xmr-transfer:7f3c9a1e5b2d8c4f6a0e3b7d9c1f5a2e";
const RECEIVE_ADDRESS: &str = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx";
const AUDIT_DETAIL: &str = "LockFundingWithTxidOfTheScan";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file SQLite keeps for the database at `path`.
fn database_files(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
        .filter_map(|file| std::fs::read(&file).ok().map(|bytes| (file, bytes)))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The names and bytes of every secret to look for.
fn secrets_of(swaps: &[SwapSecrets], seed_bytes: &[u8], data_key: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("the mnemonic".to_owned(), MNEMONIC.as_bytes().to_vec()),
        ("the password".to_owned(), PASSWORD.as_bytes().to_vec()),
        ("the seed".to_owned(), seed_bytes.to_vec()),
        ("the seed (hex)".to_owned(), hex(seed_bytes).into_bytes()),
        ("the data key".to_owned(), data_key.to_vec()),
        ("the data key (hex)".to_owned(), hex(data_key).into_bytes()),
        ("the swap data".to_owned(), DATA.to_vec()),
        (
            "the receive address".to_owned(),
            RECEIVE_ADDRESS.as_bytes().to_vec(),
        ),
        (
            "the audit detail".to_owned(),
            AUDIT_DETAIL.as_bytes().to_vec(),
        ),
    ];
    for s in swaps {
        for (name, bytes) in [
            ("btc key", s.btc.to_bytes()),
            ("spend share", s.spend.to_bytes()),
            ("view share", s.view.to_bytes()),
        ] {
            out.push((format!("{:?}'s {name}", s.role), bytes.to_vec()));
            out.push((
                format!("{:?}'s {name} (hex)", s.role),
                hex(&bytes).into_bytes(),
            ));
            // serde_json's form of a byte array, as the state would hold it unencrypted
            let json = serde_json::to_string(&bytes).unwrap();
            out.push((format!("{:?}'s {name} (json)", s.role), json.into_bytes()));
        }
    }
    out
}

fn scan(path: &Path, secrets: &[(String, Vec<u8>)]) {
    let files = database_files(path);
    assert!(!files.is_empty());
    for (file, bytes) in &files {
        for (name, secret) in secrets {
            assert!(
                !contains(bytes, secret),
                "{name} is in {} in the clear",
                file.display()
            );
        }
    }
    assert!(
        files
            .iter()
            .any(|(_, bytes)| contains(bytes, PLAINTEXT_MARKER.as_bytes())),
        "the scan does not see plaintext columns, so it proves nothing"
    );
}

/// Recovers the data key from the vault row as the vault module documents it: argon2id of
/// the password over the salt, then XChaCha20-Poly1305 (`1 || nonce || ct || tag`) with
/// associated data `"confiaro/vault/data-key/v1" || costs (u32 BE each) || salt`.
async fn recover_data_key(path: &Path) -> [u8; 32] {
    let pool = common::raw_pool(path).await;
    let (memory, iterations, parallelism, salt, wrapped): (i64, i64, i64, Vec<u8>, Vec<u8>) =
        sqlx::query_as(
            "SELECT kdf_memory_kib, kdf_iterations, kdf_parallelism, salt, wrapped_key FROM vault",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (memory, iterations, parallelism) = (memory as u32, iterations as u32, parallelism as u32);
    let params = Params::new(memory, iterations, parallelism, Some(32)).unwrap();
    let mut kek = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(PASSWORD.as_bytes(), &salt, &mut kek)
        .unwrap();
    let mut aad = b"confiaro/vault/data-key/v1".to_vec();
    for cost in [memory, iterations, parallelism] {
        aad.extend_from_slice(&cost.to_be_bytes());
    }
    aad.extend_from_slice(&salt);
    assert_eq!(wrapped[0], 1);
    let key = XChaCha20Poly1305::new((&kek).into())
        .decrypt(
            XNonce::from_slice(&wrapped[1..25]),
            Payload {
                msg: &wrapped[25..],
                aad: &aad,
            },
        )
        .expect("the documented format unwraps the data key");
    key.try_into().unwrap()
}

#[tokio::test]
async fn the_database_files_hold_no_secret_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let store = Store::open(&path).await.unwrap();
    let vault = store
        .create_vault(PASSWORD, MNEMONIC.as_bytes(), KdfParams::default())
        .await
        .unwrap();

    // the seed both machines derive their keys from (as the app derives it from the mnemonic)
    let wallet_seed = seed(0x42);
    let bob_id = SwapId([0x0b; 32]);
    let alice_id = SwapId([0x0a; 32]);
    let (bob_states_, _) = bob_states(&wallet_seed, &wallet_seed, bob_id);
    let (_, alice_state) = bob_states(&wallet_seed, &wallet_seed, alice_id);
    let swap_secrets = [
        SwapSecrets::derive(&wallet_seed, &bob_id, Role::Bob, &SwapEntropy([0; 32])),
        SwapSecrets::derive(&wallet_seed, &alice_id, Role::Alice, &SwapEntropy([0; 32])),
    ];
    // the states really hold these secrets (so a plaintext state would be caught)
    let SwapState::Bob(bob_machine) = &bob_states_[2] else {
        unreachable!()
    };
    assert!(bob_machine.secrets == swap_secrets[0]);
    let SwapState::Alice(alice_machine) = &alice_state else {
        unreachable!()
    };
    assert!(alice_machine.secrets == swap_secrets[1]);

    let bob_new = NewSwap {
        peer: PLAINTEXT_MARKER,
        receive_address: Some(RECEIVE_ADDRESS),
        counterparty_wallet: None,
    };
    store
        .insert_swap(&vault, &bob_new, &bob_states_[0])
        .await
        .unwrap();
    for state in &bob_states_[1..3] {
        store.save_swap_state(&vault, state).await.unwrap();
    }
    store
        .insert_swap(
            &vault,
            &NewSwap {
                peer: "12D3KooWBob",
                receive_address: None,
                counterparty_wallet: None,
            },
            &alice_state,
        )
        .await
        .unwrap();
    store
        .put_swap_data(&vault, &bob_id, "xmr-transfer", DATA)
        .await
        .unwrap();
    store
        .put_swap_data(
            &vault,
            &alice_id,
            "spend",
            &swap_secrets[1].spend.to_bytes(),
        )
        .await
        .unwrap();
    store
        .append_audit(
            &vault,
            Some(&bob_id),
            "state",
            serde_json::json!({"to": AUDIT_DETAIL}),
        )
        .await
        .unwrap();

    let data_key = recover_data_key(&path).await;
    let secrets = secrets_of(&swap_secrets, &wallet_seed.0, &data_key);
    // the recovered key is the vault's: it opens the wallet secret the store wrote
    let pool = common::raw_pool(&path).await;
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT wallet_secret FROM vault")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mnemonic = XChaCha20Poly1305::new((&data_key).into())
        .decrypt(
            XNonce::from_slice(&sealed[1..25]),
            Payload {
                msg: &sealed[25..],
                aad: b"confiaro/vault/wallet-secret/v1",
            },
        )
        .unwrap();
    assert_eq!(mnemonic, MNEMONIC.as_bytes());

    // while the store is open (the WAL holds the recent writes)
    scan(&path, &secrets);
    store.close().await;
    drop(store);
    // and after it closed (checkpointed into the main file)
    scan(&path, &secrets);
}
