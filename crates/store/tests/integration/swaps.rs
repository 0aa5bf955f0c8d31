//! Swaps, their state history, engine data and peers, on both backends.
use crate::both_backends;
use crate::common;

use bitcoin::Amount;
use common::{bob_states, seed, Backend, TestDb, FAST_KDF};
use confiaro_protocol::machine::Input;
use confiaro_protocol::{Network, Phase, Role, SwapId, XmrAmount};
use confiaro_store::{NewSwap, StoreError};

const PEER: &str = "12D3KooWAlicePeerIdForTests";

async fn saved_states_decrypt_to_equal_values_in_order_and_survive_a_reopen(db: TestDb) {
    let store = db.open().await;
    let vault = store
        .create_vault("pw", b"mnemonic", FAST_KDF)
        .await
        .unwrap();
    let id = SwapId([7; 32]);
    let (states, _) = bob_states(&seed(1), &seed(2), id);
    let names: Vec<&str> = states.iter().map(|s| s.state_name()).collect();
    assert_eq!(
        names,
        ["Initialized", "SetupSent", "LockFunding", "Aborted"]
    );

    let new = NewSwap {
        peer: PEER,
        receive_address: Some("4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx"),
        counterparty_wallet: None,
    };
    let record = store.insert_swap(&vault, &new, &states[0]).await.unwrap();
    assert_eq!(record.swap_id, id);
    assert_eq!(record.role, Role::Bob);
    assert_eq!(record.peer, PEER);
    assert_eq!(record.network, Network::Regtest);
    assert_eq!(record.btc_amount, Amount::from_sat(1_000_000));
    assert_eq!(
        record.xmr_amount,
        XmrAmount::from_piconero(1_000_000_000_000)
    );
    assert_eq!(record.receive_address.as_deref(), new.receive_address);
    assert_eq!(record.phase, Phase::Initialized);
    assert_eq!(store.swap(&vault, &id).await.unwrap(), Some(record.clone()));
    for (i, state) in states.iter().enumerate().skip(1) {
        assert_eq!(
            store.save_swap_state(&vault, state).await.unwrap(),
            i as u64
        );
        assert_eq!(
            store.swap_state(&vault, &id).await.unwrap().as_ref(),
            Some(state)
        );
    }
    store.close().await;
    drop(store);

    let store = db.open().await;
    let vault = store.unlock_vault("pw").await.unwrap();
    let history = store.swap_history(&id).await.unwrap();
    let summary: Vec<(u64, &str, Phase)> = history
        .iter()
        .map(|e| (e.seq, e.state_name.as_str(), e.phase))
        .collect();
    assert_eq!(
        summary,
        [
            (0, "Initialized", Phase::Initialized),
            (1, "SetupSent", Phase::Negotiating),
            (2, "LockFunding", Phase::Negotiating),
            (3, "Aborted", Phase::Aborted),
        ]
    );
    for (seq, state) in states.iter().enumerate() {
        assert_eq!(
            store
                .swap_state_at(&vault, &id, seq as u64)
                .await
                .unwrap()
                .as_ref(),
            Some(state)
        );
    }
    assert_eq!(store.swap_state_at(&vault, &id, 4).await.unwrap(), None);
    assert_eq!(
        store.swap_state(&vault, &id).await.unwrap().as_ref(),
        states.last()
    );
    let now = store.swap(&vault, &id).await.unwrap().unwrap();
    assert_eq!(now.state_name, "Aborted");
    assert_eq!(now.phase, Phase::Aborted);
    assert_eq!(now.created_at, record.created_at);
    assert!(now.updated_at >= record.updated_at);
    // a loaded state is a working machine
    let mut resumed = store.swap_state(&vault, &id).await.unwrap().unwrap();
    assert!(resumed
        .handle(confiaro_protocol::Timestamp(2), Input::Resume)
        .is_ok());
    let other = SwapId([8; 32]);
    assert_eq!(store.swap(&vault, &other).await.unwrap(), None);
    assert_eq!(store.swap_state(&vault, &other).await.unwrap(), None);
    assert!(store.swap_history(&other).await.unwrap().is_empty());
}

async fn a_phase_never_goes_back_and_unknown_or_mismatched_swaps_are_refused(db: TestDb) {
    let store = db.open().await;
    let vault = store.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    let id = SwapId([9; 32]);
    let (states, alice) = bob_states(&seed(1), &seed(2), id);
    let new = NewSwap {
        peer: PEER,
        receive_address: None,
        counterparty_wallet: None,
    };
    assert!(matches!(
        store.save_swap_state(&vault, &states[1]).await,
        Err(StoreError::UnknownSwap { swap_id }) if swap_id == id
    ));
    store.insert_swap(&vault, &new, &states[0]).await.unwrap();
    assert!(matches!(
        store.insert_swap(&vault, &new, &states[0]).await,
        Err(StoreError::SwapExists { swap_id }) if swap_id == id
    ));
    // Alice's machine of the same swap id is not this (Bob's) swap
    assert!(matches!(
        store.save_swap_state(&vault, &alice).await,
        Err(StoreError::SwapMismatch { field: "role", .. })
    ));
    store.save_swap_state(&vault, &states[2]).await.unwrap();
    // same phase again is fine (Negotiating -> Negotiating)
    assert_eq!(store.save_swap_state(&vault, &states[1]).await.unwrap(), 2);
    // back to Initialized is not
    let err = store.save_swap_state(&vault, &states[0]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::PhaseRegression { swap_id, from: Phase::Negotiating, to: Phase::Initialized }
                if swap_id == id
        ),
        "{err}"
    );
    store.save_swap_state(&vault, &states[3]).await.unwrap();
    assert!(matches!(
        store.save_swap_state(&vault, &states[2]).await,
        Err(StoreError::PhaseRegression {
            from: Phase::Aborted,
            to: Phase::Negotiating,
            ..
        })
    ));
    // refused saves left nothing behind
    assert_eq!(store.swap_history(&id).await.unwrap().len(), 4);
    assert_eq!(
        store.swap_state(&vault, &id).await.unwrap().as_ref(),
        Some(&states[3])
    );
}

async fn unfinished_swaps_leave_out_terminal_phases_and_lists_are_ordered(db: TestDb) {
    let store = db.open().await;
    let vault = store.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    let new = NewSwap {
        peer: PEER,
        receive_address: None,
        counterparty_wallet: None,
    };
    let (aborted, _) = bob_states(&seed(1), &seed(2), SwapId([1; 32]));
    let (_, alice) = bob_states(&seed(1), &seed(2), SwapId([2; 32]));
    let (fresh, _) = bob_states(&seed(1), &seed(2), SwapId([3; 32]));
    assert_eq!(alice.phase(), Phase::Negotiating);
    // oldest: a swap that ends aborted
    store.insert_swap(&vault, &new, &aborted[0]).await.unwrap();
    // then Alice negotiating, then a Bob just created
    store.insert_swap(&vault, &new, &alice).await.unwrap();
    store.insert_swap(&vault, &new, &fresh[0]).await.unwrap();
    // (the oldest ends after the others were created: order is by creation)
    store.save_swap_state(&vault, &aborted[3]).await.unwrap();

    let all: Vec<SwapId> = store
        .swaps(&vault)
        .await
        .unwrap()
        .iter()
        .map(|r| r.swap_id)
        .collect();
    assert_eq!(all, [SwapId([3; 32]), SwapId([2; 32]), SwapId([1; 32])]);
    let unfinished = store.unfinished_swaps(&vault).await.unwrap();
    let summary: Vec<(SwapId, Role, Phase)> = unfinished
        .iter()
        .map(|r| (r.swap_id, r.role, r.phase))
        .collect();
    assert_eq!(
        summary,
        [
            (SwapId([2; 32]), Role::Alice, Phase::Negotiating),
            (SwapId([3; 32]), Role::Bob, Phase::Initialized),
        ]
    );
}

async fn history_and_audit_rows_refuse_update_and_delete(db: TestDb) {
    let store = db.open().await;
    let vault = store.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    let id = SwapId([4; 32]);
    let (states, _) = bob_states(&seed(1), &seed(2), id);
    let new = NewSwap {
        peer: PEER,
        receive_address: None,
        counterparty_wallet: None,
    };
    store.insert_swap(&vault, &new, &states[0]).await.unwrap();
    store.save_swap_state(&vault, &states[1]).await.unwrap();
    store
        .append_audit(
            &vault,
            Some(&id),
            "state",
            serde_json::json!({"to": "SetupSent"}),
        )
        .await
        .unwrap();
    let pool = db.raw().await;
    for sql in [
        "UPDATE swap_states SET state_name = 'Forged'",
        "UPDATE swap_states SET state = state || state",
        "DELETE FROM swap_states WHERE seq = 1",
        "DELETE FROM swap_states",
        "UPDATE audit_log SET detail = '{}'",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if db.backend == Backend::Postgres {
        // TRUNCATE skips row triggers; statement triggers refuse it (SQLite has no TRUNCATE)
        for sql in ["TRUNCATE swap_states CASCADE", "TRUNCATE audit_log"] {
            let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
    }
    assert_eq!(store.swap_history(&id).await.unwrap().len(), 2);
    assert_eq!(store.verify_audit_log(&vault).await.unwrap().entries, 1);
    // appending still works
    let inserted = sqlx::query(
        "INSERT INTO swap_states (swap_id, seq, state_name, phase, state, created_at) \
         VALUES ($1, 2, 'X', 'Locked', $2, 0)",
    )
    .bind(id.to_string())
    .bind(vec![0u8])
    .execute(&pool)
    .await;
    assert!(inserted.is_ok());
}

async fn a_blob_moved_to_another_place_fails_with_decrypt_not_a_panic(db: TestDb) {
    let store = db.open().await;
    let vault = store.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    let (a, b) = (SwapId([5; 32]), SwapId([6; 32]));
    let (states_a, _) = bob_states(&seed(1), &seed(2), a);
    let (states_b, _) = bob_states(&seed(1), &seed(2), b);
    let new = NewSwap {
        peer: PEER,
        receive_address: None,
        counterparty_wallet: None,
    };
    store.insert_swap(&vault, &new, &states_a[0]).await.unwrap();
    store.save_swap_state(&vault, &states_a[1]).await.unwrap();
    store.insert_swap(&vault, &new, &states_b[0]).await.unwrap();
    store
        .put_swap_data(&vault, &a, "transfer", b"a's data")
        .await
        .unwrap();
    store
        .put_swap_data(&vault, &b, "transfer", b"b's data")
        .await
        .unwrap();
    store
        .put_swap_data(&vault, &a, "other", b"a's other")
        .await
        .unwrap();

    let pool = db.raw().await;
    // A's current state (seq 1) into B's row, with its seq
    sqlx::query(
        "UPDATE swaps SET state = (SELECT state FROM swaps WHERE swap_id = $1), \
         state_seq = (SELECT state_seq FROM swaps WHERE swap_id = $1) WHERE swap_id = $2",
    )
    .bind(a.to_string())
    .bind(b.to_string())
    .execute(&pool)
    .await
    .unwrap();
    assert!(matches!(
        store.swap_state(&vault, &b).await,
        Err(StoreError::Decrypt)
    ));
    // A's seq-0 state as A's current one (seq 1): another place in the same swap
    sqlx::query(
        "UPDATE swaps SET state = (SELECT state FROM swap_states WHERE swap_id = $1 AND seq = 0) \
         WHERE swap_id = $1",
    )
    .bind(a.to_string())
    .execute(&pool)
    .await
    .unwrap();
    assert!(matches!(
        store.swap_state(&vault, &a).await,
        Err(StoreError::Decrypt)
    ));
    // the history is untouched and still opens
    assert_eq!(
        store.swap_state_at(&vault, &a, 1).await.unwrap().as_ref(),
        Some(&states_a[1])
    );
    // engine data moved to another swap, and to another key
    sqlx::query(
        "UPDATE swap_data SET value = (SELECT value FROM swap_data WHERE swap_id = $1 AND \
         key = 'transfer') WHERE swap_id = $2 AND key = 'transfer'",
    )
    .bind(a.to_string())
    .bind(b.to_string())
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE swap_data SET value = (SELECT value FROM swap_data WHERE swap_id = $1 AND \
         key = 'transfer') WHERE swap_id = $1 AND key = 'other'",
    )
    .bind(a.to_string())
    .execute(&pool)
    .await
    .unwrap();
    assert!(matches!(
        store.swap_data(&vault, &b, "transfer").await,
        Err(StoreError::Decrypt)
    ));
    assert!(matches!(
        store.swap_data(&vault, &a, "other").await,
        Err(StoreError::Decrypt)
    ));
    assert_eq!(
        store
            .swap_data(&vault, &a, "transfer")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"a's data"[..])
    );
    // garbage and empty blobs too
    sqlx::query("UPDATE swaps SET state = $1 WHERE swap_id = $2")
        .bind(Vec::<u8>::new())
        .bind(b.to_string())
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.swap_state(&vault, &b).await,
        Err(StoreError::Decrypt)
    ));
    // another database's vault opens nothing here
    let elsewhere = db.another().await.open().await;
    let foreign = elsewhere.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    assert!(matches!(
        store.swap_state_at(&foreign, &a, 0).await,
        Err(StoreError::Decrypt)
    ));
}

async fn swap_data_is_upserted_per_swap_and_key(db: TestDb) {
    let store = db.open().await;
    let vault = store.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    let id = SwapId([10; 32]);
    assert!(matches!(
        store.put_swap_data(&vault, &id, "k", b"v").await,
        Err(StoreError::UnknownSwap { .. })
    ));
    let (states, _) = bob_states(&seed(1), &seed(2), id);
    let new = NewSwap {
        peer: PEER,
        receive_address: None,
        counterparty_wallet: None,
    };
    store.insert_swap(&vault, &new, &states[0]).await.unwrap();
    assert_eq!(store.swap_data(&vault, &id, "k").await.unwrap(), None);
    store
        .put_swap_data(&vault, &id, "k", b"first")
        .await
        .unwrap();
    store.put_swap_data(&vault, &id, "k2", b"").await.unwrap();
    store
        .put_swap_data(&vault, &id, "k", b"second")
        .await
        .unwrap();
    assert_eq!(
        store.swap_data(&vault, &id, "k").await.unwrap(),
        Some(b"second".to_vec())
    );
    assert_eq!(
        store.swap_data(&vault, &id, "k2").await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        store
            .swap_data(&vault, &SwapId([11; 32]), "k")
            .await
            .unwrap(),
        None
    );
}

async fn peers_are_upserted_and_listed(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.peer("p1").await.unwrap(), None);
    assert!(store.peers().await.unwrap().is_empty());
    let first = vec!["/ip4/127.0.0.1/tcp/9939".to_owned()];
    store.upsert_peer("p1", &first).await.unwrap();
    store.upsert_peer("p2", &[]).await.unwrap();
    let p1 = store.peer("p1").await.unwrap().unwrap();
    assert_eq!(p1.addresses, first);
    assert!(p1.last_seen > 0);
    let second = vec![
        "/ip4/127.0.0.1/tcp/9940".to_owned(),
        "/ip6/::1/tcp/9940".to_owned(),
    ];
    store.upsert_peer("p1", &second).await.unwrap();
    store.close().await;
    drop(store);
    let store = db.open().await;
    assert_eq!(store.peer("p1").await.unwrap().unwrap().addresses, second);
    let mut ids: Vec<String> = store
        .peers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.peer_id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["p1", "p2"]);
    // a corrupt row is an error, not a panic
    let pool = db.raw().await;
    sqlx::query("UPDATE peers SET addresses = 'not json' WHERE peer_id = 'p2'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.peer("p2").await,
        Err(StoreError::Corrupt { .. })
    ));
}

async fn concurrent_saves_queue_up_and_number_the_history_without_gaps(db: TestDb) {
    let store = db.open().await;
    let vault = store.create_vault("pw", b"m", FAST_KDF).await.unwrap();
    let id = SwapId([12; 32]);
    let (states, _) = bob_states(&seed(1), &seed(2), id);
    let new = NewSwap {
        peer: PEER,
        receive_address: None,
        counterparty_wallet: None,
    };
    store.insert_swap(&vault, &new, &states[0]).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let (store, vault) = (store.clone(), vault.clone());
            let state = states[1 + task % 2].clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for _ in 0..10 {
                    seqs.push(store.save_swap_state(&vault, &state).await.unwrap());
                    // audit appends from other swaps interleave with the saves
                    store
                        .append_audit(&vault, None, "tick", serde_json::json!({"task": task}))
                        .await
                        .unwrap();
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=80).collect::<Vec<u64>>());
    let history = store.swap_history(&id).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (0..=80).collect::<Vec<u64>>()
    );
    // the current state is the last one saved
    let last = store.swap_state_at(&vault, &id, 80).await.unwrap();
    assert_eq!(store.swap_state(&vault, &id).await.unwrap(), last);
    assert_eq!(store.verify_audit_log(&vault).await.unwrap().entries, 80);
}

both_backends!(
    saved_states_decrypt_to_equal_values_in_order_and_survive_a_reopen,
    a_phase_never_goes_back_and_unknown_or_mismatched_swaps_are_refused,
    unfinished_swaps_leave_out_terminal_phases_and_lists_are_ordered,
    history_and_audit_rows_refuse_update_and_delete,
    a_blob_moved_to_another_place_fails_with_decrypt_not_a_panic,
    swap_data_is_upserted_per_swap_and_key,
    peers_are_upserted_and_listed,
    concurrent_saves_queue_up_and_number_the_history_without_gaps,
);
