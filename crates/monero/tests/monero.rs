//! The Monero side against real `monerod` regtest and `monero-wallet-rpc` processes, each
//! test with its own daemon in a temporary directory on free loopback ports (stopped at the
//! end, and killed if the test panics).

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{scalar, Stack, XMR};
use confiaro_monero::process::{Monerod, ProcessConfig};
use confiaro_monero::rpc::{RpcConfig, WalletClient};
use confiaro_monero::swap::{self, SweepOutcome, SweepRequest, TransferProof, TransferVerdict};
use confiaro_monero::{MoneroError, XmrAmount};
use confiaro_protocol::crypto::EdPoint;
use confiaro_protocol::{xmr, Network};

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
    stack.mine(1, &alice_address).await;
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
    stack.mine(9, &alice_address).await;
    assert_eq!(
        verdict(proof.clone(), lock_address, amount).await,
        TransferVerdict::Confirmed { confirmations: 10 }
    );
    println!("bob verified the lock {verify_after_mined:?} after it was mined");

    // Bob learned s_a: he sweeps the lock address with s_a + s_b from the lock height.
    let spend = xmr::private_key(&xmr::shared_spend_key(&s_a, &s_b));
    let view_key = xmr::private_key(&view);
    let request = SweepRequest {
        wallet_name: "swap-1-redeem",
        lock_address: &lock_address,
        spend_key: &spend,
        view_key: &view_key,
        restore_height: lock_height,
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
    stack.mine(10, &alice_address).await;
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
