//! The Monero side against real `monerod` regtest and `monero-wallet-rpc` processes, each
//! test with its own daemon in a temporary directory on free loopback ports (stopped at the
//! end, and killed if the test panics).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use confiaro_monero::process::{Monerod, ProcessConfig};
use confiaro_monero::rpc::{RpcConfig, WalletClient};
use confiaro_monero::swap::{
    self, PreparedLock, SweepOutcome, SweepRequest, TransferProof, TransferVerdict, TxPresence,
};
use confiaro_monero::{MoneroError, XmrAmount};
use confiaro_protocol::crypto::EdPoint;
use confiaro_protocol::{xmr, Network};
use confiaro_testkit::xmr::{key_images, lock_address, scalar, wallet_keys, Stack, XMR};

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

#[tokio::test]
async fn lock_verify_sweep_and_reserve_proofs() {
    let started = Instant::now();
    let stack = Stack::start().await;
    let (alice, bob, sweeper) = tokio::join!(
        stack.wallet_rpc("alice"),
        stack.wallet_rpc("bob"),
        stack.wallet_rpc("sweeper")
    );
    let (a, b) = (alice.client(), bob.client());
    a.create_wallet("alice", "").await.expect("alice wallet");
    b.create_wallet("bob", "").await.expect("bob wallet");
    let alice_address = a.address().await.expect("address");
    let bob_address = b.address().await.expect("address");
    println!("processes and wallets up after {:.1} s", secs(started));

    // ≥ 100 blocks: coinbases unlock after 60, and ring members need decoys.
    stack.mine(120, &alice_address).await;
    a.refresh().await.expect("refresh");
    let funded = a.balance().await.expect("balance");
    assert!(funded.unlocked > XmrAmount::ZERO, "{funded:?}");
    println!(
        "mined 120 blocks, alice has {funded:?} after {:.1} s",
        secs(started)
    );

    // The lock address from the protocol crate's key math.
    let (s_a, s_b, v_a, v_b) = (scalar(1), scalar(2), scalar(3), scalar(4));
    let view = xmr::shared_view_key(&v_a, &v_b);
    let lock_address = xmr::lock_address(
        Network::Regtest,
        &EdPoint::from_scalar(&s_a),
        &EdPoint::from_scalar(&s_b),
        &view,
    );
    let amount = XmrAmount::from_piconero(3 * XMR / 2);
    let lock_height = stack.monerod.client().height().await.expect("height");
    let (proof, fee) = swap::lock(a, &lock_address, amount).await.expect("lock");
    println!("alice locked {amount:?} (fee {fee:?}) in {}", proof.tx_hash);

    // Bob's verdicts, through his own wallet RPC.
    let verdict = |proof: TransferProof, to: monero::Address, expected: XmrAmount| async move {
        swap::verify_transfer(b, &proof, &to, expected, 10)
            .await
            .expect("verify")
    };
    assert_eq!(
        verdict(proof.clone(), lock_address, amount).await,
        TransferVerdict::Pending { confirmations: 0 }
    );
    stack
        .mine_until_mined(&[&proof.tx_hash], &alice_address)
        .await;
    let mined = Instant::now();
    assert_eq!(
        verdict(proof.clone(), lock_address, amount).await,
        TransferVerdict::Pending { confirmations: 1 }
    );
    let verify_after_mined = mined.elapsed();
    let wrong = XmrAmount::from_piconero(XMR);
    assert_eq!(
        verdict(proof.clone(), lock_address, wrong).await,
        TransferVerdict::WrongAmount {
            expected: wrong,
            received: amount
        }
    );
    assert_eq!(
        verdict(proof.clone(), bob_address, amount).await,
        TransferVerdict::NotToLockAddress
    );
    let unknown = TransferProof {
        tx_hash: "ab".repeat(32),
        tx_key: proof.tx_key.clone(),
    };
    assert_eq!(
        verdict(unknown, lock_address, amount).await,
        TransferVerdict::NotFound
    );
    let garbage = TransferProof {
        tx_hash: "not hex".into(),
        tx_key: "zz".into(),
    };
    assert_eq!(
        verdict(garbage, lock_address, amount).await,
        TransferVerdict::NotFound
    );
    // Bob's own node says the lock unlocks like any transfer (an unlock time would make
    // it worthless to him; finding 5 of docs/2026-12-06-malicious-counterparty.md)
    assert_eq!(
        stack
            .monerod
            .client()
            .tx_unlock_time(&proof.tx_hash)
            .await
            .expect("unlock time"),
        Some(0)
    );
    assert_eq!(
        stack
            .monerod
            .client()
            .tx_unlock_time(&"ab".repeat(32))
            .await
            .expect("unknown"),
        None
    );
    stack.mine(5, &alice_address).await;
    // Alice sends dust to the lock address: it is still locked when the lock unlocks
    a.refresh().await.expect("refresh");
    let dust = a
        .transfer(&lock_address, XmrAmount::from_piconero(XMR / 1000))
        .await
        .expect("dust");
    stack
        .mine_until_mined(&[&dust.tx_hash], &alice_address)
        .await;
    stack.mine(3, &alice_address).await;
    let confirmed = verdict(proof.clone(), lock_address, amount).await;
    assert!(
        matches!(confirmed, TransferVerdict::Confirmed { confirmations } if confirmations >= 10),
        "{confirmed:?}"
    );
    println!("bob verified the lock {verify_after_mined:?} after it was mined");

    // Bob learned s_a: he sweeps the lock address with s_a + s_b from the lock height.
    let spend = xmr::private_key(&xmr::shared_spend_key(&s_a, &s_b));
    let view_key = xmr::private_key(&view);
    let request = SweepRequest {
        wallet_name: "swap-1-redeem",
        wallet_password: "engine password",
        lock_address: &lock_address,
        spend_key: &spend,
        view_key: &view_key,
        restore_height: lock_height,
        min_unlocked: amount,
        destination: &bob_address,
        unlock_timeout: Duration::from_secs(60),
    };
    let swept_at = Instant::now();
    let outcome = swap::sweep(sweeper.client(), &request, |_| {})
        .await
        .expect("sweep");
    let SweepOutcome::Swept {
        tx_hashes,
        amount: swept,
    } = outcome
    else {
        panic!("expected a sweep, got {outcome:?}");
    };
    println!(
        "swept {swept:?} in {tx_hashes:?} after {:.1} s",
        secs(swept_at)
    );
    // the lock, without waiting for the dust (before 2026-12-06 the sweep waited for every
    // output, and repeated dust could hold it back for ever)
    assert!(swept < amount && swept.as_piconero() > amount.as_piconero() - XMR / 100);
    // A second call finds nothing and says so.
    let again = swap::sweep(sweeper.client(), &request, |_| {})
        .await
        .expect("sweep again");
    assert_eq!(
        again,
        SweepOutcome::AlreadySwept {
            tx_hashes: tx_hashes.clone()
        }
    );
    // The restored lock wallet, which holds the spend key, has the engine's password.
    sweeper
        .client()
        .open_wallet("swap-1-redeem", "")
        .await
        .expect_err("the lock wallet file needs its password");
    let sweeps: Vec<&str> = tx_hashes.iter().map(String::as_str).collect();
    stack.mine_until_mined(&sweeps, &alice_address).await;
    stack.mine(9, &alice_address).await;
    b.refresh().await.expect("refresh");
    let bob_balance = b.balance().await.expect("balance");
    assert_eq!(bob_balance.total, swept);
    assert_eq!(bob_balance.unlocked, swept);

    // Alice's reserves, proven to Bob and bound to the message.
    a.refresh().await.expect("refresh");
    let alice_balance = a.balance().await.expect("balance");
    let signature = swap::prove_reserves(a, "offer-42").await.expect("proof");
    let proven = swap::check_reserves(b, &alice_address, "offer-42", &signature)
        .await
        .expect("check");
    assert_eq!(proven, Some(alice_balance.total));
    assert_eq!(
        swap::check_reserves(b, &alice_address, "offer-43", &signature)
            .await
            .expect("check"),
        None
    );
    assert_eq!(
        swap::check_reserves(b, &bob_address, "offer-42", &signature)
            .await
            .expect("check"),
        None
    );
    println!(
        "reserve proof of {proven:?} checked; whole test {:.1} s",
        secs(started)
    );

    tokio::join!(alice.stop(), bob.stop(), sweeper.stop());
    stack.monerod.stop().await;
}

#[tokio::test]
async fn daemon_killed_mid_operation_gives_a_clear_error_and_recovers() {
    let mut stack = Stack::start().await;
    let wallet = stack.wallet_rpc("w").await;
    let w = wallet.client();
    w.create_wallet("w", "").await.expect("wallet");
    let address = w.address().await.expect("address");
    stack.mine(5, &address).await;
    let height = stack.monerod.client().height().await.expect("height");

    stack.monerod.kill().await;
    let err = stack
        .monerod
        .client()
        .height()
        .await
        .expect_err("daemon is dead");
    assert!(matches!(err, MoneroError::Unreachable { .. }), "{err:?}");
    println!("dead daemon: {err}");
    let err = w.refresh().await.expect_err("wallet without daemon");
    println!("wallet refresh without daemon: {err}");
    assert!(matches!(err, MoneroError::Rpc { .. }), "{err:?}");

    stack
        .monerod
        .restart(&ProcessConfig::new(
            "monerod",
            stack.dir.path().join("monerod"),
        ))
        .await
        .expect("restart");
    // The same port: the wallet RPC reconnects by itself.
    w.refresh().await.expect("refresh after restart");
    let after = stack.monerod.client().height().await.expect("height");
    assert!(after >= 1 && after <= height, "{after} vs {height}");
    stack.mine(2, &address).await;
    assert_eq!(
        stack.monerod.client().height().await.expect("height"),
        after + 2
    );
    wallet.stop().await;
    stack.monerod.stop().await;
}

#[tokio::test]
async fn start_and_call_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");

    let missing = ProcessConfig {
        binary: "/nonexistent/monerod".into(),
        ..ProcessConfig::new("monerod", dir.path().join("a"))
    };
    let err = Monerod::start(&missing).await.expect_err("missing binary");
    assert!(matches!(err, MoneroError::BinaryMissing { .. }), "{err:?}");
    println!("{err}");

    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let config = ProcessConfig {
        rpc_port: port,
        ..ProcessConfig::new("monerod", dir.path().join("b"))
    };
    let err = Monerod::start(&config).await.expect_err("port taken");
    assert!(
        matches!(err, MoneroError::PortTaken { port: p, .. } if p == port),
        "{err:?}"
    );
    println!("{err}");

    // Nothing listens: unreachable, after the retries.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let quick = RpcConfig {
        timeout: Duration::from_secs(1),
        long_timeout: Duration::from_secs(1),
        retries: 1,
        backoff: Duration::from_millis(10),
    };
    let client = WalletClient::new(&format!("http://127.0.0.1:{closed}"), quick).expect("client");
    let err = client.balance().await.expect_err("unreachable");
    assert!(matches!(err, MoneroError::Unreachable { .. }), "{err:?}");
    println!("{err}");

    // A wallet RPC that accepts and never answers (a stuck refresh) does not hang us.
    let hanging = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hanging_port = hanging.local_addr().expect("addr").port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hanging.incoming().take(4) {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let client =
        WalletClient::new(&format!("http://127.0.0.1:{hanging_port}"), quick).expect("client");
    let before = Instant::now();
    let err = client.refresh().await.expect_err("timeout");
    assert!(matches!(err, MoneroError::Timeout { .. }), "{err:?}");
    assert!(before.elapsed() < Duration::from_secs(20));
    println!("{err}");
}

#[tokio::test]
async fn two_locks_back_to_back_spend_different_outputs_and_both_confirm() {
    let stack = Stack::start().await;
    let alice = stack.wallet_rpc("alice").await;
    let (a, daemon) = (alice.client(), stack.monerod.client());
    a.create_wallet("alice", "").await.expect("wallet");
    let alice_address = a.address().await.expect("address");
    // Some 60 unlocked coinbase outputs of about 35 XMR each.
    stack.mine(120, &alice_address).await;

    let (first_address, second_address) = (lock_address(10), lock_address(20));
    let (first_amount, second_amount) = (
        XmrAmount::from_piconero(3 * XMR),
        XmrAmount::from_piconero(2 * XMR),
    );
    // As two swaps run by the engine, serialized: prepare + publish, then the next.
    let first = swap::prepare_lock(a, daemon, &first_address, first_amount)
        .await
        .expect("prepare first");
    let published = swap::publish_lock(a, daemon, &first)
        .await
        .expect("publish first");
    assert_eq!(published, TxPresence::InPool);
    let second = swap::prepare_lock(a, daemon, &second_address, second_amount)
        .await
        .expect("prepare second");
    let published = swap::publish_lock(a, daemon, &second)
        .await
        .expect("publish second");
    assert_eq!(published, TxPresence::InPool);

    // After relay_tx the wallet treats the first lock's inputs as spent at once.
    let first_inputs = key_images(daemon.url(), &first.tx_hash).await;
    let second_inputs = key_images(daemon.url(), &second.tx_hash).await;
    println!("first lock spends {first_inputs:?}, second {second_inputs:?}");
    assert!(!first_inputs.is_empty() && !second_inputs.is_empty());
    assert!(
        first_inputs.iter().all(|k| !second_inputs.contains(k)),
        "the locks share inputs"
    );

    let mined_at = stack
        .mine_until_mined(&[&first.tx_hash, &second.tx_hash], &alice_address)
        .await;
    for (lock, address, amount) in [
        (&first, first_address, first_amount),
        (&second, second_address, second_amount),
    ] {
        assert_eq!(
            daemon.tx_presence(&lock.tx_hash).await.expect("presence"),
            TxPresence::Mined {
                height: mined_at,
                confirmations: 1
            }
        );
        assert_eq!(
            swap::verify_transfer(a, &lock.proof(), &address, amount, 1)
                .await
                .expect("verify"),
            TransferVerdict::Confirmed { confirmations: 1 }
        );
    }
    alice.stop().await;
    stack.monerod.stop().await;
}

#[tokio::test]
async fn a_lock_survives_crashes_before_and_after_its_publish_and_pays_once() {
    let stack = Stack::start().await;
    let daemon = stack.monerod.client();
    let miner = stack.wallet_rpc("miner").await;
    let m = miner.client();
    m.create_wallet("miner", "").await.expect("wallet");
    let miner_address = m.address().await.expect("address");
    stack.mine(120, &miner_address).await;
    m.refresh().await.expect("refresh");

    // The engine's wallet, from its keys, password-protected, holding one 10 XMR output.
    let (spend, view, alice_address) = wallet_keys(7);
    let restore_height = daemon.height().await.expect("height");
    let open_alice = |rpc: &confiaro_monero::process::WalletRpc| {
        let client = rpc.client().clone();
        async move {
            client
                .open_or_restore(
                    "alice",
                    "alice password",
                    &alice_address,
                    &spend,
                    &view,
                    restore_height,
                )
                .await
                .expect("open or restore alice");
            client
        }
    };
    let funding = XmrAmount::from_piconero(10 * XMR);
    let funded = m.transfer(&alice_address, funding).await.expect("fund");
    stack
        .mine_until_mined(&[&funded.tx_hash], &miner_address)
        .await;
    stack.mine(9, &miner_address).await;
    let session = stack.wallet_rpc("alice").await;
    let a = open_alice(&session).await;
    // A freshly restored wallet may still be catching up in the background.
    let started = Instant::now();
    loop {
        a.refresh().await.expect("refresh");
        let balance = a.balance().await.expect("balance");
        if balance.unlocked == funding {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "alice was not funded: {balance:?} at wallet height {:?}, daemon height {:?}",
            a.height().await,
            daemon.height().await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Session 1: prepared, persisted, then the wallet RPC dies with the engine.
    let lock_to = lock_address(30);
    let amount = XmrAmount::from_piconero(4 * XMR);
    let prepared = swap::prepare_lock(&a, daemon, &lock_to, amount)
        .await
        .expect("prepare");
    assert_eq!(prepared.amount, amount);
    assert!(prepared.fee > XmrAmount::ZERO);
    assert!(prepared.height >= restore_height);
    let shown = format!("{prepared:?}");
    assert!(
        !shown.contains(&prepared.tx_key) && !shown.contains(&prepared.tx_metadata),
        "{shown}"
    );
    assert_eq!(
        daemon
            .tx_presence(&prepared.tx_hash)
            .await
            .expect("presence"),
        TxPresence::NotFound,
        "prepare must not relay"
    );
    let persisted = serde_json::to_string(&prepared).expect("serialize");
    session.kill().await;

    // Session 2: the restarted engine publishes what it persisted, twice (as a crash
    // right after the publish would make it), and dies again before the wallet saved.
    let prepared: PreparedLock = serde_json::from_str(&persisted).expect("deserialize");
    let session = stack.wallet_rpc("alice").await;
    let a = open_alice(&session).await;
    for _ in 0..2 {
        assert_eq!(
            swap::publish_lock(&a, daemon, &prepared)
                .await
                .expect("publish"),
            TxPresence::InPool
        );
    }
    // In the session that relayed it, the wallet itself knows its only output is spent
    // (no rescan here: a bare transfer).
    let second_to = lock_address(40);
    let small = XmrAmount::from_piconero(XMR);
    let err = a
        .transfer_unrelayed(&second_to, small)
        .await
        .expect_err("relay_tx marked the output spent");
    assert!(
        matches!(&err, MoneroError::Rpc { message, .. } if message.to_lowercase().contains("not enough")),
        "{err:?}"
    );
    session.kill().await;

    // Session 3: the reopened wallet lost its record of the relay; the lock is in the pool
    // and its only output is spent there. A new lock must not pick it again.
    let session = stack.wallet_rpc("alice").await;
    let a = open_alice(&session).await;
    let err = swap::prepare_lock(&a, daemon, &second_to, small)
        .await
        .expect_err("nothing is unlocked: the output is spent in the pool, the change is locked");
    println!("second lock while the first is in the pool: {err}");
    assert!(
        matches!(&err, MoneroError::Rpc { message, .. } if message.to_lowercase().contains("not enough")),
        "{err:?}"
    );

    // Mined: publishing again is a no-op that reports it, and Alice paid exactly once.
    let mined_at = stack
        .mine_until_mined(&[&prepared.tx_hash], &miner_address)
        .await;
    let mined = TxPresence::Mined {
        height: mined_at,
        confirmations: 1,
    };
    assert_eq!(
        swap::publish_lock(&a, daemon, &prepared)
            .await
            .expect("publish once mined"),
        mined
    );
    a.refresh().await.expect("refresh");
    let after_first = a.balance().await.expect("balance").total;
    assert_eq!(
        after_first.as_piconero(),
        funding.as_piconero() - amount.as_piconero() - prepared.fee.as_piconero()
    );
    // The persisted key still proves the lock to Bob.
    assert_eq!(
        swap::verify_transfer(&a, &prepared.proof(), &lock_to, amount, 1)
            .await
            .expect("verify"),
        TransferVerdict::Confirmed { confirmations: 1 }
    );

    // Once the change unlocks, the next lock goes through, from the change.
    stack.mine(10, &miner_address).await;
    let second = swap::prepare_lock(&a, daemon, &second_to, small)
        .await
        .expect("prepare second");
    assert_eq!(
        swap::publish_lock(&a, daemon, &second)
            .await
            .expect("publish second"),
        TxPresence::InPool
    );
    stack
        .mine_until_mined(&[&second.tx_hash], &miner_address)
        .await;
    a.refresh().await.expect("refresh");
    assert_eq!(
        a.balance().await.expect("balance").total.as_piconero(),
        after_first.as_piconero() - small.as_piconero() - second.fee.as_piconero()
    );
    // An unknown or malformed hash is simply not there.
    assert_eq!(
        daemon
            .tx_presence(&"ab".repeat(32))
            .await
            .expect("presence"),
        TxPresence::NotFound
    );
    assert_eq!(
        daemon.tx_presence("not a hash").await.expect("presence"),
        TxPresence::NotFound
    );
    tokio::join!(session.stop(), miner.stop());
    stack.monerod.stop().await;
}

#[tokio::test]
async fn open_or_restore_restores_once_then_opens_only_with_the_password() {
    let stack = Stack::start().await;
    let rpc = stack.wallet_rpc("engine").await;
    let w = rpc.client();
    let (spend, view, address) = wallet_keys(50);
    w.open_or_restore("engine", "secret", &address, &spend, &view, 0)
        .await
        .expect("restore");
    assert_eq!(w.address().await.expect("address"), address);
    w.store().await.expect("store");
    w.close_wallet().await.expect("close");

    w.open_wallet("engine", "")
        .await
        .expect_err("the file is password-protected");
    let err = w
        .open_or_restore("engine", "wrong", &address, &spend, &view, 0)
        .await
        .expect_err("wrong password");
    assert!(matches!(err, MoneroError::Rpc { .. }), "{err:?}");
    // The file was neither replaced nor damaged.
    w.open_or_restore("engine", "secret", &address, &spend, &view, 0)
        .await
        .expect("open");
    assert_eq!(w.address().await.expect("address"), address);

    // A file that holds another wallet is refused, not silently used.
    let (other_spend, other_view, other_address) = wallet_keys(60);
    let err = w
        .open_or_restore(
            "engine",
            "secret",
            &other_address,
            &other_spend,
            &other_view,
            0,
        )
        .await
        .expect_err("another wallet");
    assert!(matches!(err, MoneroError::WrongWallet { .. }), "{err:?}");
    // Keys that do not match the address are refused (wallet-rpc itself would restore a
    // wallet that shows the address's funds but cannot spend them).
    let err = w
        .open_or_restore("fresh", "secret", &address, &other_spend, &view, 0)
        .await
        .expect_err("mismatched keys");
    assert!(matches!(err, MoneroError::KeysMismatch { .. }), "{err:?}");
    w.open_wallet("fresh", "secret")
        .await
        .expect_err("no wallet file was made");
    rpc.stop().await;
    stack.monerod.stop().await;
}
