//! The crash-point sweep: for each role and each state a swap persists, the party's process
//! kills itself with SIGKILL right after writing that state (before acting on it), is
//! restarted, and the swap must still end safely — both parties in matching terminal states,
//! balances as that outcome implies.
//!
//! Happy-path states are reached by an honest pair; failure-path states by fault injection
//! on the maker (a short XMR lock, a failing XMR lock) or by a taker that stays dead.
//!
//! While the crashed party is down, no Bitcoin blocks are mined (Monero's go on): regtest's
//! windows are a few blocks of a few seconds here, and a restart on a loaded two-core machine
//! could outlast one (Bob punished because his restart took longer than the punish window),
//! which says nothing about the engine; on a real chain the windows are hours.

use std::time::{Duration, Instant};

use confiaro_testkit::e2e::*;

use super::devnet;

const TIMEOUT: Duration = Duration::from_secs(300);

/// How the swap is steered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    /// Honest parties: the swap completes (or, if a restart made it too late, refunds).
    Happy,
    /// Alice locks one piconero short: Bob refunds, Alice sweeps back.
    WrongAmount,
    /// Alice's XMR lock fails: she returns Bob's BTC early.
    EarlyRefund,
    /// Bob dies after Alice's XMR lock and stays away: Alice punishes.
    Punish,
}

/// The outcomes (Bob's state, Alice's state) a path may end in.
fn expected(path: Path) -> &'static [(&'static str, &'static str)] {
    match path {
        // a restart can push a swap past its margins: then it refunds, still atomically
        Path::Happy => &[
            ("XmrRedeemed", "BtcRedeemed"),
            ("BtcRefunded", "XmrRefunded"),
            ("BtcEarlyRefunded", "BtcEarlyRefunded"),
        ],
        Path::WrongAmount => &[("BtcRefunded", "XmrRefunded")],
        Path::EarlyRefund => &[("BtcEarlyRefunded", "BtcEarlyRefunded")],
        Path::Punish => &[("BtcPunished", "BtcPunished")],
    }
}

fn crash_at(role: &str, state: &str, path: Path) {
    let started = Instant::now();
    devnet();
    let tag = format!("{}-{}", role.to_lowercase(), state.to_lowercase());
    let alice = devnet().funded_maker(&format!("alice-{tag}"), 1);
    let bob = devnet().funded_taker(&format!("bob-{tag}"));
    let bob_btc = TAKER_SAT;
    let alice_xmr = alice.funded_xmr;
    let hook = format!("{role}:{state}");
    let fault = match path {
        Path::WrongAmount => Some(("CONFIARO_TEST_FAULT", "xmr-lock-short")),
        Path::EarlyRefund => Some(("CONFIARO_TEST_FAULT", "xmr-lock-fails")),
        _ => None,
    };
    let mut maker_env: Vec<(&str, &str)> = fault.into_iter().collect();
    let mut taker_env: Vec<(&str, &str)> = Vec::new();
    let bob_hook = if path == Path::Punish && role == "Alice" {
        Some("Bob:XmrLockProofReceived".to_owned())
    } else if role == "Bob" {
        Some(hook.clone())
    } else {
        None
    };
    if role == "Alice" {
        maker_env.push(("CONFIARO_TEST_KILL_AFTER", &hook));
    }
    if let Some(h) = &bob_hook {
        taker_env.push(("CONFIARO_TEST_KILL_AFTER", h));
    }
    let (mut maker, address) = alice.start_maker(&maker_env);
    let mut taker = bob.spawn(
        &["swap", "buy-xmr", "--btc", "0.01", "--maker", &address],
        &taker_env,
    );

    // the crash; no Bitcoin blocks until the crashed party is back (see `BtcPause`)
    let mut restart_pause = None;
    let (mut maker, mut taker) = if role == "Alice" {
        let status = maker.wait_exit(TIMEOUT);
        assert!(
            Running::killed_by_sigkill(&status),
            "{hook}: the maker crashed ({status}):\n{}",
            maker.stderr()
        );
        let pause = devnet().pause_btc_mining();
        let restarted: Vec<(&str, &str)> = fault.into_iter().collect();
        let maker = alice.start_maker(&restarted).0;
        wait_for_chain_view(&maker);
        drop(pause);
        (maker, Some(taker))
    } else {
        let status = taker.wait_exit(TIMEOUT);
        assert!(
            Running::killed_by_sigkill(&status),
            "{hook}: the taker crashed ({status}):\n{}",
            taker.stderr()
        );
        if path != Path::Punish {
            restart_pause = Some(devnet().pause_btc_mining());
        }
        (maker, None)
    };
    let id = bob.swaps()[0]["swap_id"]
        .as_str()
        .expect("the swap is stored")
        .to_owned();
    // Bob back (if he crashed; in the punish path he stays away until Alice is done)
    let bob_dead = path == Path::Punish;
    if bob_dead {
        if let Some(mut t) = taker.take() {
            assert!(
                Running::killed_by_sigkill(&t.wait_exit(TIMEOUT)),
                "Bob vanished"
            );
        }
    }
    if taker.is_none() && !bob_dead {
        let resumed = bob.spawn(&["swap", "resume", &id], &[]);
        wait_for_chain_view(&resumed);
        taker = Some(resumed);
    }
    drop(restart_pause);
    let (alice_phase, alice_state) = maker.wait_for_finish(TIMEOUT);
    maker.terminate();
    let taker = match taker {
        Some(t) => t,
        None => bob.spawn(&["swap", "resume", &id], &[]),
    };
    let (bob_phase, bob_state) = taker.wait_for_finish(TIMEOUT);
    let outcome = (bob_state.as_str(), alice_state.as_str());
    assert!(
        expected(path).contains(&outcome),
        "{hook} ({path:?}): Bob {bob_phase}/{bob_state}, Alice {alice_phase}/{alice_state}\n\
         Bob (after the restart):\n{}\nAlice:\n{}",
        tail(&taker.stderr(), 40),
        tail(&maker.stderr(), 40)
    );
    drop(taker);

    // balances as the outcome implies
    let (btc, xmr) = bob.balances();
    let (alice_btc, alice_xmr_after) = alice.balances();
    let fees = 50_000;
    match outcome.0 {
        "XmrRedeemed" => {
            assert!(
                btc < bob_btc - SWAP_SAT && btc > bob_btc - SWAP_SAT - fees,
                "Bob paid: {bob_btc} -> {btc}"
            );
            assert!(
                xmr < SWAP_PICONERO && xmr > SWAP_PICONERO - XMR / 100,
                "Bob got the XMR: {xmr}"
            );
            assert!(
                alice_btc > SWAP_SAT - fees && alice_btc < SWAP_SAT,
                "Alice got the BTC: {alice_btc}"
            );
            assert!(
                alice_xmr_after < alice_xmr - SWAP_PICONERO,
                "Alice paid the XMR"
            );
        }
        "BtcRefunded" | "BtcEarlyRefunded" => {
            assert!(
                btc < bob_btc && btc > bob_btc - fees,
                "Bob has his BTC back: {bob_btc} -> {btc}"
            );
            assert_eq!(xmr, 0, "Bob got no XMR");
            assert_eq!(alice_btc, 0, "Alice got no BTC");
            assert!(
                alice_xmr_after <= alice_xmr && alice_xmr_after > alice_xmr - XMR / 100,
                "Alice has her XMR (back) minus fees: {alice_xmr} -> {alice_xmr_after}"
            );
        }
        "BtcPunished" => {
            assert!(btc < bob_btc - SWAP_SAT, "Bob lost the BTC he locked");
            assert!(
                alice_btc > SWAP_SAT - fees && alice_btc < SWAP_SAT,
                "Alice took it: {alice_btc}"
            );
        }
        other => panic!("unexpected outcome {other}"),
    }
    eprintln!(
        "crash-point: {hook:<30} {path:?}: Bob {bob_state}, Alice {alice_state} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// Waits until a restarted process has seen the Bitcoin tip (its first chain view, when it
/// acts on what happened while it was down), and a moment more for it to act; at most 30 s
/// (its first tip event may precede the output's subscription).
fn wait_for_chain_view(restarted: &Running) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !restarted.seen().iter().any(|v| v["event"] == "bitcoin_tip")
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
}

macro_rules! crash_points {
    ($($name:ident: $role:literal, $state:literal, $path:expr;)*) => {
        $(
            #[test]
            fn $name() {
                crash_at($role, $state, $path);
            }
        )*
    };
}

crash_points! {
    bob_setup_sent: "Bob", "SetupSent", Path::Happy;
    bob_lock_funding: "Bob", "LockFunding", Path::Happy;
    bob_lock_proposed: "Bob", "LockProposed", Path::Happy;
    bob_btc_lock_published: "Bob", "BtcLockPublished", Path::Happy;
    bob_xmr_lock_proof_received: "Bob", "XmrLockProofReceived", Path::Happy;
    bob_enc_sig_sent: "Bob", "EncSigSent", Path::Happy;
    bob_btc_redeemed: "Bob", "BtcRedeemed", Path::Happy;
    bob_xmr_lock_rejected: "Bob", "XmrLockRejected", Path::WrongAmount;
    bob_btc_cancelled: "Bob", "BtcCancelled", Path::WrongAmount;
    alice_setup_answered: "Alice", "SetupAnswered", Path::Happy;
    alice_signatures_sent: "Alice", "SignaturesSent", Path::Happy;
    alice_signatures_received: "Alice", "SignaturesReceived", Path::Happy;
    alice_xmr_lock_pending: "Alice", "XmrLockPending", Path::Happy;
    alice_xmr_locked: "Alice", "XmrLocked", Path::Happy;
    alice_btc_redeem_published: "Alice", "BtcRedeemPublished", Path::Happy;
    alice_btc_cancelled: "Alice", "BtcCancelled", Path::WrongAmount;
    alice_btc_refunded: "Alice", "BtcRefunded", Path::WrongAmount;
    alice_btc_early_refund_published: "Alice", "BtcEarlyRefundPublished", Path::EarlyRefund;
    alice_btc_punish_published: "Alice", "BtcPunishPublished", Path::Punish;
}

/// The crash-point sweep over the sell direction's roles: the taker selling XMR is Alice,
/// the maker buying it is Bob. `role` crashes right after persisting `state` (honest parties,
/// the happy path), is restarted (no Bitcoin blocks while it is down), and the swap must end
/// with both parties in matching terminal states and balances as that outcome implies.
fn sell_crash_at(role: &str, state: &str) {
    let started = Instant::now();
    let tag = format!("sell-{}-{}", role.to_lowercase(), state.to_lowercase());
    let maker_party = devnet().funded_two_sided_maker(&format!("maker-{tag}"));
    let seller = devnet().funded_seller(&format!("seller-{tag}"));
    let hook = format!("{role}:{state}");
    let kill = [("CONFIARO_TEST_KILL_AFTER", hook.as_str())];
    let none: &[(&str, &str)] = &[];
    let (maker_env, taker_env) = if role == "Bob" {
        (&kill[..], none)
    } else {
        (none, &kill[..])
    };
    let (mut maker, address) = maker_party.start_two_sided_maker(maker_env);
    let mut taker = seller.spawn(
        &["swap", "sell-xmr", "--xmr", "1", "--maker", &address],
        taker_env,
    );
    let crashed = if role == "Bob" {
        &mut maker
    } else {
        &mut taker
    };
    let status = crashed.wait_exit(TIMEOUT);
    assert!(
        Running::killed_by_sigkill(&status),
        "{hook}: crashed ({status})"
    );
    let id = seller.swaps()[0]["swap_id"]
        .as_str()
        .expect("the swap is stored")
        .to_owned();
    let pause = devnet().pause_btc_mining();
    if role == "Bob" {
        maker = maker_party.start_two_sided_maker(&[]).0;
        wait_for_chain_view(&maker);
    } else {
        taker = seller.spawn(&["swap", "resume", &id], &[]);
        wait_for_chain_view(&taker);
    }
    drop(pause);
    let (_, maker_state) = maker.wait_for_finish(TIMEOUT);
    let (_, taker_state) = taker.wait_for_finish(TIMEOUT);
    maker.terminate();
    let _ = taker.wait_exit(Duration::from_secs(30));
    let outcome = (maker_state.as_str(), taker_state.as_str());
    assert!(
        [
            ("XmrRedeemed", "BtcRedeemed"),
            ("BtcRefunded", "XmrRefunded"),
            ("BtcEarlyRefunded", "BtcEarlyRefunded"),
            ("Aborted", "Aborted"),
        ]
        .contains(&outcome),
        "{hook}: maker (Bob) {maker_state}, taker (Alice) {taker_state}\nmaker:\n{}\ntaker:\n{}",
        tail(&maker.stderr(), 40),
        tail(&taker.stderr(), 40)
    );
    drop(taker);
    let (seller_btc, seller_xmr) = seller.balances();
    let (maker_btc, maker_xmr) = maker_party.balances();
    let fees = 50_000;
    if outcome.0 == "XmrRedeemed" {
        assert!(
            seller_btc > SWAP_SAT - fees && seller_btc < SWAP_SAT,
            "{hook}: the seller got the BTC: {seller_btc}"
        );
        assert!(
            seller_xmr < seller.funded_xmr - SWAP_PICONERO,
            "{hook}: the seller paid the XMR"
        );
        assert!(
            maker_xmr > maker_party.funded_xmr + SWAP_PICONERO - XMR / 100,
            "{hook}: the maker got the XMR: {maker_xmr}"
        );
    } else {
        assert_eq!(seller_btc, 0, "{hook}: the seller got no BTC");
        assert!(
            seller_xmr <= seller.funded_xmr && seller_xmr > seller.funded_xmr - XMR / 100,
            "{hook}: the seller has its XMR (back) minus fees: {seller_xmr}"
        );
        assert!(
            maker_btc <= TAKER_SAT && maker_btc > TAKER_SAT - fees,
            "{hook}: the maker has its BTC back: {maker_btc}"
        );
    }
    eprintln!(
        "crash-point: sell {hook:<30}: maker {maker_state}, taker {taker_state} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

macro_rules! sell_crash_points {
    ($($name:ident: $role:literal, $state:literal;)*) => {
        $(
            #[test]
            fn $name() {
                sell_crash_at($role, $state);
            }
        )*
    };
}

sell_crash_points! {
    sell_taker_setup_answered: "Alice", "SetupAnswered";
    sell_taker_signatures_sent: "Alice", "SignaturesSent";
    sell_taker_signatures_received: "Alice", "SignaturesReceived";
    sell_taker_xmr_lock_pending: "Alice", "XmrLockPending";
    sell_taker_xmr_locked: "Alice", "XmrLocked";
    sell_taker_btc_redeem_published: "Alice", "BtcRedeemPublished";
    sell_maker_setup_sent: "Bob", "SetupSent";
    sell_maker_lock_funding: "Bob", "LockFunding";
    sell_maker_lock_proposed: "Bob", "LockProposed";
    sell_maker_btc_lock_published: "Bob", "BtcLockPublished";
    sell_maker_xmr_lock_proof_received: "Bob", "XmrLockProofReceived";
    sell_maker_enc_sig_sent: "Bob", "EncSigSent";
    sell_maker_btc_redeemed: "Bob", "BtcRedeemed";
}
