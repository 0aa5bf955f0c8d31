//! Monero-side benchmarks against real monerod regtest, printed as JSON lines:
//! - `xmr_verify_after_mined`: from the lock transaction's block being mined to Bob's
//!   verified transfer proof (median of 5);
//! - `xmr_sweep_restore_height`: sweeping a lock wallet restored at the lock height versus
//!   at height 0, on a chain of 600 blocks (the difference is why the swap restores at the
//!   lock height).
//!
//! Run with `cargo bench -p confiaro-monero --bench xmr` (needs `monerod`; about 2 minutes).

use std::time::{Duration, Instant};

use confiaro_monero::swap::{self, SweepOutcome, SweepRequest, TransferVerdict};
use confiaro_monero::XmrAmount;
use confiaro_protocol::crypto::EdPoint;
use confiaro_protocol::{xmr, Network};
use confiaro_testkit::xmr::{scalar, Stack, XMR};

#[tokio::main]
async fn main() {
    let stack = Stack::start().await;
    let (alice, bob, sweep_near, sweep_zero) = tokio::join!(
        stack.wallet_rpc("alice"),
        stack.wallet_rpc("bob"),
        stack.wallet_rpc("near"),
        stack.wallet_rpc("zero")
    );
    let (a, b) = (alice.client(), bob.client());
    a.create_wallet("alice", "").await.expect("wallet");
    b.create_wallet("bob", "").await.expect("wallet");
    let alice_address = a.address().await.expect("address");
    let bob_address = b.address().await.expect("address");
    let chain = 600;
    let started = Instant::now();
    stack.mine(chain, &alice_address).await;
    let mining = started.elapsed().as_secs_f64();
    a.refresh().await.expect("refresh");

    let amount = XmrAmount::from_piconero(XMR);
    let mut verify = Vec::new();
    let mut locks = Vec::new();
    for i in 0..5u8 {
        let (s_a, s_b, v_a, v_b) = (
            scalar(10 + i),
            scalar(20 + i),
            scalar(30 + i),
            scalar(40 + i),
        );
        let view = xmr::shared_view_key(&v_a, &v_b);
        let address = xmr::lock_address(
            Network::Regtest,
            &EdPoint::from_scalar(&s_a),
            &EdPoint::from_scalar(&s_b),
            &view,
        );
        let height = stack.monerod.client().height().await.expect("height");
        let (proof, _) = swap::lock(a, &address, amount).await.expect("lock");
        stack.mine(1, &bob_address).await;
        let mined = Instant::now();
        let verdict = swap::verify_transfer(b, &proof, &address, amount, 1)
            .await
            .expect("verify");
        verify.push(mined.elapsed());
        assert_eq!(verdict, TransferVerdict::Confirmed { confirmations: 1 });
        locks.push((s_a, s_b, view, address, height));
    }
    verify.sort();
    println!(
        "{{\"bench\":\"xmr_verify_after_mined\",\"runs\":5,\"median_ms\":{:.1},\"max_ms\":{:.1}}}",
        verify[2].as_secs_f64() * 1000.0,
        verify[4].as_secs_f64() * 1000.0
    );

    stack.mine(10, &bob_address).await;
    let mut times = Vec::new();
    for ((s_a, s_b, view, address, height), (rpc, restore_height)) in locks
        .iter()
        .zip([(sweep_near.client(), None), (sweep_zero.client(), Some(0))])
    {
        let spend = xmr::private_key(&xmr::shared_spend_key(s_a, s_b));
        let view_key = xmr::private_key(view);
        let restore_height = restore_height.unwrap_or(*height);
        let request = SweepRequest {
            wallet_name: "bench-sweep",
            wallet_password: "bench",
            lock_address: address,
            spend_key: &spend,
            view_key: &view_key,
            restore_height,
            min_unlocked: XmrAmount::from_piconero(1),
            destination: &bob_address,
            unlock_timeout: Duration::from_secs(120),
        };
        let started = Instant::now();
        let outcome = swap::sweep(rpc, &request, |_| {}).await.expect("sweep");
        assert!(matches!(outcome, SweepOutcome::Swept { .. }), "{outcome:?}");
        times.push((restore_height, started.elapsed().as_secs_f64()));
    }
    println!(
        "{{\"bench\":\"xmr_sweep_restore_height\",\"chain_blocks\":{},\"restore_at_lock_height\":{},\"seconds_at_lock_height\":{:.2},\"seconds_at_height_0\":{:.2},\"mining_seconds_per_block\":{:.3}}}",
        chain + 16,
        times[0].0,
        times[0].1,
        times[1].1,
        mining / chain as f64
    );
    tokio::join!(
        alice.stop(),
        bob.stop(),
        sweep_near.stop(),
        sweep_zero.stop()
    );
    stack.monerod.stop().await;
}
