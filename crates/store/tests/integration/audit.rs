//! The hash-chained audit log on both backends: concurrent appends (from clones and from
//! separate stores, as separate processes would), and tampering by someone who drops the
//! append-only triggers.
use crate::both_backends;
use crate::common;

use common::{vault_of, TestDb};
use confiaro_protocol::SwapId;
use confiaro_store::{audit_entry_hash, Store, StoreError, Vault};
use serde_json::json;

/// Opens a store with `n` entries appended concurrently from 20 tasks; returns it and its
/// vault.
async fn log_with(db: &TestDb, n: usize) -> (Store, Vault) {
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let tasks: Vec<_> = (0..20)
        .map(|task| {
            let (store, vault) = (store.clone(), vault.clone());
            tokio::spawn(async move {
                for i in 0..n / 20 {
                    let swap = SwapId([(task % 4) as u8 + 1; 32]);
                    let swap = (i % 3 != 0).then_some(swap);
                    store
                        .append_audit(
                            &vault,
                            swap.as_ref(),
                            "state",
                            json!({"task": task, "i": i, "note": "ünïcode \"quoted\""}),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (store, vault)
}

/// The stored detail of entry `id` sealed anew by `vault` from `detail`, as the documented
/// format has it (what only the vault's holder can write).
fn sealed_detail(vault: &Vault, id: i64, detail: &str) -> String {
    let mut context = b"confiaro/audit-detail/v1".to_vec();
    context.extend_from_slice(&id.to_be_bytes());
    format!(
        "sealed:{}",
        hex::encode(vault.seal(&context, detail.as_bytes()))
    )
}

fn broken_at(result: Result<confiaro_store::AuditCheck, StoreError>) -> (i64, String) {
    match result {
        Err(StoreError::AuditBroken { id, reason }) => (id, reason),
        other => panic!("expected AuditBroken, got {other:?}"),
    }
}

async fn two_hundred_concurrent_appends_form_one_chain(db: TestDb) {
    // a verifier running while the entries are appended never sees a broken chain
    let verifier_store = db.open().await;
    let verifier_vault = vault_of(&verifier_store).await;
    let verifier = tokio::spawn(async move {
        let mut last = 0;
        for _ in 0..30 {
            let check = verifier_store
                .verify_audit_log(&verifier_vault)
                .await
                .unwrap();
            assert!(check.entries >= last);
            last = check.entries;
            tokio::task::yield_now().await;
        }
    });
    let (store, vault) = log_with(&db, 200).await;
    verifier.await.unwrap();
    let check = store.verify_audit_log(&vault).await.unwrap();
    assert_eq!(check.entries, 200);
    let entries = store.audit_entries(&vault, None).await.unwrap();
    assert_eq!(entries.len(), 200);
    assert_eq!(entries[0].prev_hash, [0; 32]);
    assert_eq!(check.head, entries[199].hash);
    for (i, pair) in entries.windows(2).enumerate() {
        assert_eq!(pair[0].id, i as i64 + 1);
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    // the documented encoding reproduces each stored hash from the entry's fields
    for e in &entries {
        let detail = canonical(&e.detail);
        assert_eq!(
            audit_entry_hash(
                &e.prev_hash,
                e.id,
                e.at_ms,
                e.swap_id.as_ref(),
                &e.kind,
                &detail
            ),
            e.hash
        );
    }
    // one swap's entries, oldest first
    let swap = SwapId([2; 32]);
    let mine = store.audit_entries(&vault, Some(&swap)).await.unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e.swap_id == Some(swap)));
    assert!(mine.windows(2).all(|w| w[0].id < w[1].id));
    // the returned entry is what is stored, and the chain goes on after a reopen
    store.close().await;
    drop(store);
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let next = store
        .append_audit(&vault, None, "timeout", json!({"b": 1, "a": [true, null]}))
        .await
        .unwrap();
    assert_eq!(next.id, 201);
    assert_eq!(next.prev_hash, check.head);
    assert_eq!(
        store.audit_entries(&vault, None).await.unwrap().last(),
        Some(&next)
    );
    assert_eq!(store.verify_audit_log(&vault).await.unwrap().entries, 201);
}

/// Canonical JSON as documented in the audit module: compact, keys sorted.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap(),
                        canonical(&map[k])
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => serde_json::to_string(other).unwrap(),
    }
}

async fn an_edited_detail_is_found_at_its_entry(db: TestDb) {
    let (store, vault) = log_with(&db, 100).await;
    let pool = db.raw().await;
    // details are stored sealed: none of their text is in the table
    let stored: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 100);
    assert!(
        stored
            .iter()
            .all(|d| d.starts_with("sealed:") && !d.contains("task") && !d.contains("quoted")),
        "{}",
        stored[0]
    );
    db.drop_audit_triggers(&pool).await;
    // one flipped hex digit in entry 57's sealed detail
    let flipped = {
        let mut text = stored[56].clone().into_bytes();
        let last = text.len() - 1;
        text[last] = if text[last] == b'0' { b'1' } else { b'0' };
        String::from_utf8(text).unwrap()
    };
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE id = 57")
        .bind(&flipped)
        .execute(&pool)
        .await
        .unwrap();
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 57);
    assert!(reason.contains("does not open"), "{reason}");
    // entry 58's intact detail moved to entry 41
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE id = 41")
        .bind(&stored[57])
        .execute(&pool)
        .await
        .unwrap();
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 41);
    assert!(reason.contains("does not open"), "{reason}");
    // a detail written in clear where a sealed one belongs
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE id = 12")
        .bind(r#"{"i":0}"#)
        .execute(&pool)
        .await
        .unwrap();
    let (id, _) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 12);
    // a detail rewritten by the vault's holder, sealed in its place: the hash catches it
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE id = 5")
        .bind(sealed_detail(&vault, 5, r#"{"i":0}"#))
        .execute(&pool)
        .await
        .unwrap();
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 5);
    assert!(reason.contains("hash"), "{reason}");
}

async fn an_edited_time_kind_or_swap_is_found_at_its_entry(db: TestDb) {
    let (store, vault) = log_with(&db, 40).await;
    let pool = db.raw().await;
    db.drop_audit_triggers(&pool).await;
    let other_swap = SwapId([0xff; 32]).to_string();
    // edited from the end backwards, so each edit is the first broken entry
    for (sql, id) in [
        (
            "UPDATE audit_log SET at_ms = at_ms + 1 WHERE id = 30".to_owned(),
            30,
        ),
        (
            "UPDATE audit_log SET kind = 'timeout' WHERE id = 20".to_owned(),
            20,
        ),
        (
            format!("UPDATE audit_log SET swap_id = '{other_swap}' WHERE id = 11"),
            11,
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&pool)
            .await
            .unwrap();
        let (found, reason) = broken_at(store.verify_audit_log(&vault).await);
        assert_eq!(found, id, "{sql}: {reason}");
    }
}

async fn a_deleted_entry_is_found_after_the_gap_even_at_the_end(db: TestDb) {
    let (store, vault) = log_with(&db, 60).await;
    let pool = db.raw().await;
    db.drop_audit_triggers(&pool).await;
    // the last entry: nothing links to it, but its id is never handed out again
    sqlx::query("DELETE FROM audit_log WHERE id = 60")
        .execute(&pool)
        .await
        .unwrap();
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 60, "{reason}");
    let next = store
        .append_audit(&vault, None, "state", json!({}))
        .await
        .unwrap();
    assert_eq!(next.id, 61);
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 61, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    // one in the middle
    sqlx::query("DELETE FROM audit_log WHERE id = 25")
        .execute(&pool)
        .await
        .unwrap();
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 26, "{reason}");
    // the first one
    sqlx::query("DELETE FROM audit_log WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let (id, _) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 2);
}

async fn swapped_hashes_and_a_forged_insertion_are_found(db: TestDb) {
    let (store, vault) = log_with(&db, 40).await;
    let pool = db.raw().await;
    db.drop_audit_triggers(&pool).await;
    // exchange the hashes of entries 10 and 11
    let hashes: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE id IN (10, 11) ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (id, hash) in [(10i64, &hashes[1]), (11, &hashes[0])] {
        sqlx::query("UPDATE audit_log SET hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    let (id, reason) = broken_at(store.verify_audit_log(&vault).await);
    assert_eq!(id, 10, "{reason}");

    // a fresh log, rewritten by someone who recomputes hashes
    let db2 = db.another().await;
    let (store2, vault2) = log_with(&db2, 20).await;
    let pool2 = db2.raw().await;
    db2.drop_audit_triggers(&pool2).await;
    let last = store2
        .audit_entries(&vault2, None)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let forged_detail = r#"{"forged":true}"#;
    // without the vault, a forged detail (here in clear, with a recomputed hash) does not
    // open where a sealed one belongs
    let forged_hash = audit_entry_hash(
        &last.prev_hash,
        20,
        last.at_ms,
        last.swap_id.as_ref(),
        &last.kind,
        forged_detail,
    );
    sqlx::query("UPDATE audit_log SET detail = $1, hash = $2 WHERE id = 20")
        .bind(forged_detail)
        .bind(forged_hash.as_slice())
        .execute(&pool2)
        .await
        .unwrap();
    let (id, reason) = broken_at(store2.verify_audit_log(&vault2).await);
    assert_eq!(id, 20, "{reason}");
    // with the vault, rewrite entry 20 with another detail and a recomputed, correctly linked
    // hash: the chain verifies (that is what the head is for)
    sqlx::query("UPDATE audit_log SET detail = $1, hash = $2 WHERE id = 20")
        .bind(sealed_detail(&vault2, 20, forged_detail))
        .bind(forged_hash.as_slice())
        .execute(&pool2)
        .await
        .unwrap();
    let check = store2.verify_audit_log(&vault2).await.unwrap();
    assert_ne!(check.head, last.hash, "a kept head exposes the rewrite");
    // but rewriting an entry in the middle breaks its successor's link
    let mid = store2.audit_entries(&vault2, None).await.unwrap()[9].clone();
    let forged_hash = audit_entry_hash(
        &mid.prev_hash,
        mid.id,
        mid.at_ms,
        mid.swap_id.as_ref(),
        &mid.kind,
        forged_detail,
    );
    sqlx::query("UPDATE audit_log SET detail = $1, hash = $2 WHERE id = $3")
        .bind(sealed_detail(&vault2, mid.id, forged_detail))
        .bind(forged_hash.as_slice())
        .bind(mid.id)
        .execute(&pool2)
        .await
        .unwrap();
    let (id, reason) = broken_at(store2.verify_audit_log(&vault2).await);
    assert_eq!(id, mid.id + 1, "{reason}");
    assert!(reason.contains("link"), "{reason}");
}

async fn an_empty_log_verifies_with_the_genesis_head(db: TestDb) {
    let store = db.open().await;
    let vault = vault_of(&store).await;
    let check = store.verify_audit_log(&vault).await.unwrap();
    assert_eq!((check.entries, check.head), (0, [0; 32]));
    assert!(store.audit_entries(&vault, None).await.unwrap().is_empty());
}

/// Separate stores on one database (as separate processes would have) append concurrently,
/// without the in-process lock they do not share: only the database's write lock keeps the
/// chain from forking.
async fn separate_stores_appending_at_once_form_one_chain(db: TestDb) {
    let first = db.open().await;
    let vault = vault_of(&first).await;
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let db_url = db.url.clone();
            let path = db.path.clone();
            let vault = vault.clone();
            tokio::spawn(async move {
                let store = match path {
                    Some(path) => Store::open(path).await.unwrap(),
                    None => Store::connect(&db_url).await.unwrap(),
                };
                for i in 0..25 {
                    store
                        .append_audit(&vault, None, "process", json!({"task": task, "i": i}))
                        .await
                        .unwrap();
                }
                store.close().await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let check = first.verify_audit_log(&vault).await.unwrap();
    assert_eq!(check.entries, 100);
    let ids: Vec<i64> = first
        .audit_entries(&vault, None)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, (1..=100).collect::<Vec<i64>>());
}

both_backends!(
    two_hundred_concurrent_appends_form_one_chain,
    an_edited_detail_is_found_at_its_entry,
    an_edited_time_kind_or_swap_is_found_at_its_entry,
    a_deleted_entry_is_found_after_the_gap_even_at_the_end,
    swapped_hashes_and_a_forged_insertion_are_found,
    an_empty_log_verifies_with_the_genesis_head,
    separate_stores_appending_at_once_form_one_chain,
);
