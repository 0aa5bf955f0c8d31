//! Swap scenarios: `confiaro` makers and takers as separate OS processes, every path to its
//! end, balances checked.
//!
//! Blocks are mined on a timer (4 s Bitcoin, 400 ms Monero) for the whole binary, so the
//! scenarios run side by side against one devnet.

use std::time::Duration;

use confiaro_testkit::e2e::*;
use serde_json::Value;

use super::devnet;

const SWAP_TIMEOUT: Duration = Duration::from_secs(300);

/// The phase and state a party's `swap show` reports.
fn outcome(party: &Party, id: &str) -> (String, String) {
    let swap = party.swap(id);
    (
        swap["phase"].as_str().unwrap().to_owned(),
        swap["state"].as_str().unwrap().to_owned(),
    )
}

/// Asserts Bob's and Alice's balances after a completed swap: Bob paid 0.01 BTC plus the
/// lock's fee and received 1 XMR minus the sweep's fee; Alice received 0.01 BTC minus the
/// redeem's fee and paid 1 XMR plus her lock's fee.
pub(crate) fn assert_swapped(
    bob: &Party,
    bob_btc_before: u64,
    alice: &Party,
    alice_xmr_before: u64,
) {
    let (bob_btc, bob_xmr) = bob.balances();
    let (alice_btc, alice_xmr) = alice.balances();
    let fees = 50_000; // sat: far above the regtest fees of one or two transactions
    assert!(
        bob_btc < bob_btc_before - SWAP_SAT && bob_btc > bob_btc_before - SWAP_SAT - fees,
        "Bob paid 0.01 BTC and a fee: {bob_btc_before} -> {bob_btc}"
    );
    assert!(
        bob_xmr < SWAP_PICONERO && bob_xmr > SWAP_PICONERO - XMR / 100,
        "Bob received 1 XMR minus the sweep fee: {bob_xmr}"
    );
    assert!(
        alice_btc < SWAP_SAT && alice_btc > SWAP_SAT - fees,
        "Alice received 0.01 BTC minus the redeem fee: {alice_btc}"
    );
    assert!(
        alice_xmr < alice_xmr_before - SWAP_PICONERO
            && alice_xmr > alice_xmr_before - SWAP_PICONERO - XMR / 100,
        "Alice paid 1 XMR and a fee: {alice_xmr_before} -> {alice_xmr}"
    );
}

/// Asserts that Bob got his BTC back (minus fees) and Alice her XMR (minus fees).
fn assert_refunded(bob: &Party, bob_btc_before: u64, alice: &Party, alice_xmr_before: u64) {
    let (bob_btc, bob_xmr) = bob.balances();
    let (_, alice_xmr) = alice.balances();
    assert!(
        bob_btc < bob_btc_before && bob_btc > bob_btc_before - 50_000,
        "Bob has his BTC back minus fees: {bob_btc_before} -> {bob_btc}"
    );
    assert_eq!(bob_xmr, 0, "Bob got no XMR");
    assert!(
        alice_xmr <= alice_xmr_before && alice_xmr > alice_xmr_before - XMR / 100,
        "Alice has her XMR back minus fees: {alice_xmr_before} -> {alice_xmr}"
    );
}

/// The txid of a swap's BTC lock, from `swap show`.
fn lock_txid(party: &Party, id: &str) -> String {
    party.swap(id)["txids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t[0] == "Lock")
        .expect("the swap has its transactions")[1]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until `txid` has `depth` confirmations.
fn wait_for_depth(txid: &str, depth: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while devnet().btc_confirmations(txid).unwrap_or(0) < depth {
        assert!(
            std::time::Instant::now() < deadline,
            "{txid} did not reach {depth} confirmations"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Exports `party`'s receipt of swap `id` and checks that `audit verify` accepts it.
pub(crate) fn verify_receipt(party: &Party, id: &str) -> Value {
    let path = party.dir.path().join(format!("receipt-{id}.json"));
    party.run_ok(&["swap", "receipt", id, "--out", path.to_str().unwrap()]);
    let verdict = party.run_ok(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(
        verdict["ok"], true,
        "{}'s receipt verifies: {verdict}",
        party.name
    );
    verdict
}

/// What a party's Bitcoin wallet knows, read through its vault with its password: the
/// extended public keys of its descriptors and the txids of its transactions.
fn wallet_knowledge(party: &Party) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = confiaro_store::Store::open(party.dir.path().join("confiaro.sqlite"))
            .await
            .expect("the party's store");
        let vault = store.unlock_vault(PASSWORD).await.expect("its vault");
        let wallet = store
            .load_wallet_changeset(&vault, "main")
            .await
            .expect("the wallet's rows")
            .expect("a wallet");
        let mut known = Vec::new();
        for descriptor in [wallet.descriptor, wallet.change_descriptor]
            .into_iter()
            .flatten()
        {
            let text = descriptor.to_string();
            known.extend(
                text.split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|word| word.starts_with("tpub"))
                    .map(str::to_owned),
            );
        }
        assert!(!known.is_empty(), "{}'s wallet has an xpub", party.name);
        known.extend(
            wallet
                .tx_graph
                .txs
                .iter()
                .map(|tx| tx.compute_txid().to_string()),
        );
        store.close().await;
        known
    })
}

/// Checks that someone who reads the parties' data directories without their password
/// finds none of their addresses (as text or as scripts), their wallets' xpubs or
/// transactions, nor the transactions of swap `id`.
fn assert_data_dirs_reveal_nothing(parties: &[&Party], id: &str) {
    let mut secrets = Vec::new();
    for party in parties {
        secrets.extend(wallet_knowledge(party));
        secrets.push(party.xmr_address.clone());
        secrets.push(party.btc_address.clone());
        let address: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
            party.btc_address.parse().expect("a Bitcoin address");
        secrets.push(address.assume_checked().script_pubkey().to_hex_string());
        for tx in party.swap(id)["txids"]
            .as_array()
            .expect("the swap's transactions")
        {
            secrets.push(tx[1].as_str().expect("a txid").to_owned());
        }
    }
    secrets.sort();
    secrets.dedup();
    for party in parties {
        let found = party.files_revealing(&secrets);
        assert!(
            found.is_empty(),
            "{}'s data directory shows, without the password: {found:#?}",
            party.name
        );
    }
}

#[test]
fn happy_path_between_two_processes_swaps_and_both_receipts_verify() {
    let alice = devnet().funded_maker("alice-happy", 2);
    let bob = devnet().funded_taker("bob-happy");
    let bob_btc = TAKER_SAT;
    let alice_xmr = alice.funded_xmr;
    let (mut maker, address) = alice.start_maker(&[]);
    let started = std::time::Instant::now();
    let (mut taker, id) = bob.buy(&address, &[]);
    let (phase, state) = taker.wait_for_finish(SWAP_TIMEOUT);
    assert_eq!(
        (phase.as_str(), state.as_str()),
        ("Completed", "XmrRedeemed"),
        "{}\nmaker: {}",
        taker.stderr(),
        maker.stderr()
    );
    // beside the sell happy path's (sells.rs), measured the same way
    eprintln!(
        "buy swap wall time on the devnet: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(taker.wait_exit(Duration::from_secs(30)).success());
    // deadlines are estimated at the devnet's observed block interval, not regtest's nominal
    // ten minutes
    let last_deadline = taker
        .seen()
        .iter()
        .rev()
        .find_map(|v| v["progress"]["deadline"].as_object().cloned())
        .expect("Bob's progress named the cancel deadline");
    let (blocks, eta) = (
        last_deadline["blocks"].as_u64().unwrap(),
        last_deadline["eta_seconds"].as_u64().unwrap(),
    );
    assert!(
        blocks > 0 && eta <= blocks * 4 * BTC_BLOCK.as_secs(),
        "{blocks} blocks estimated at {eta} s"
    );
    let (phase, state) = maker.wait_for_finish(SWAP_TIMEOUT);
    assert_eq!(
        (phase.as_str(), state.as_str()),
        ("Completed", "BtcRedeemed")
    );
    maker.terminate();
    assert_swapped(&bob, bob_btc, &alice, alice_xmr);
    assert_data_dirs_reveal_nothing(&[&bob, &alice], &id);
    for party in [&bob, &alice] {
        let verdict = verify_receipt(party, &id);
        let checks = verdict["checks"].as_array().unwrap();
        assert!(
            checks
                .iter()
                .any(|c| c["what"] == "outcome: swapped" && c["ok"] == true),
            "the receipt proves the swap: {verdict}"
        );
        assert!(checks
            .iter()
            .any(|c| c["what"] == "XMR lock" && c["ok"] == true));
        let log = party.run_ok(&["audit", "log"]);
        assert_eq!(log["intact"], true);
    }
    assert_a_third_party_verifies(&bob, &id);
}

/// Someone who holds only `party`'s receipt of swap `id` and public chain access (an Esplora
/// server and a Monero node, given as flags) verifies it: no wallet, no data directory, no
/// password; nothing is written.
fn assert_a_third_party_verifies(party: &Party, id: &str) {
    let outsider = tempfile::tempdir().expect("a directory");
    let receipt = outsider.path().join("receipt.json");
    std::fs::copy(
        party.dir.path().join(format!("receipt-{id}.json")),
        &receipt,
    )
    .expect("the exported receipt");
    let nowhere = outsider.path().join("no-data-dir");
    let info = &devnet().info;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_confiaro"))
        .current_dir(outsider.path())
        .args(["--json", "--network", "regtest", "--data-dir"])
        .arg(&nowhere)
        .args(["--esplora", info.esplora_url.as_deref().expect("esplora")])
        .args([
            "--monerod-url",
            info.monerod_url.as_deref().expect("monerod"),
        ])
        .args(["audit", "verify"])
        .arg(&receipt)
        .env_remove("CONFIARO_PASSWORD")
        .env_remove("CONFIARO_DATA_DIR")
        .env_remove("CONFIARO_MONEROD_URL")
        .output()
        .expect("confiaro runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "a third party's verification: {stderr}"
    );
    let verdict = confiaro_testkit::e2e::json_lines(&String::from_utf8_lossy(&output.stdout))
        .pop()
        .expect("a verdict");
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(verdict["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .any(|c| c["what"] == "outcome: swapped" && c["ok"] == true));
    assert!(!nowhere.exists(), "verifying wrote no data directory");
}

/// A taker's swaps reach the maker from a peer id each (derived from the taker's seed and
/// the swap id): the maker cannot tell that two of its swaps had the same taker.
#[test]
fn a_takers_two_swaps_reach_the_maker_from_two_peer_ids() {
    let alice = devnet().funded_maker("alice-ids", 2);
    let bob = devnet().funded_taker("bob-ids");
    // a maker whose clock is two hours slow takes nothing, and the taker hears why
    let (mut slow, address) = alice.start_maker(&[("CONFIARO_TEST_FAULT", "clock-skew=-7200")]);
    let output = bob
        .command(&["swap", "buy-xmr", "--btc", "0.01", "--maker", &address])
        .output()
        .expect("confiaro runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("out of step with the chain") && stderr.contains("clock is behind"),
        "{stderr}"
    );
    slow.terminate();
    let (mut maker, address) = alice.start_maker(&[]);
    // a clock two hours slow, or a day fast (as with a chain source a day behind): refused
    // before anything is asked of the maker or stored
    for (skew, reason) in [("-7200", "clock is behind"), ("86400", "source is behind")] {
        let output = bob
            .command(&["swap", "buy-xmr", "--btc", "0.01", "--maker", &address])
            .env("CONFIARO_TEST_FAULT", format!("clock-skew={skew}"))
            .output()
            .expect("confiaro runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "skew {skew}: {stderr}");
        assert!(
            stderr.contains("not starting a swap"),
            "skew {skew}: {stderr}"
        );
        assert!(stderr.contains(reason), "skew {skew}: {stderr}");
    }
    assert!(bob.swaps().is_empty(), "nothing stored");
    let mut ids = Vec::new();
    // the first buy runs the clock check too (no skew): it passes on the live devnet
    for env in [[("CONFIARO_TEST_FAULT", "clock-skew=0")].as_slice(), &[]] {
        let (mut taker, id) = bob.buy(&address, env);
        let (phase, state) = taker.wait_for_finish(SWAP_TIMEOUT);
        assert_eq!(
            (phase.as_str(), state.as_str()),
            ("Completed", "XmrRedeemed"),
            "{}",
            taker.stderr()
        );
        assert!(taker.wait_exit(Duration::from_secs(30)).success());
        ids.push(id);
    }
    maker.terminate();
    let peer_at = |party: &Party, id: &str| -> String {
        party
            .swaps()
            .iter()
            .find(|s| s["swap_id"] == id)
            .unwrap_or_else(|| panic!("{} knows swap {id}", party.name))["peer"]
            .as_str()
            .expect("a peer id")
            .to_owned()
    };
    let maker_id = address.rsplit('/').next().expect("the maker's peer id");
    let takers: Vec<String> = ids.iter().map(|id| peer_at(&alice, id)).collect();
    assert_ne!(takers[0], takers[1], "one taker, two identities");
    for (id, taker) in ids.iter().zip(&takers) {
        assert_eq!(
            peer_at(&bob, id),
            maker_id,
            "the taker's side names the maker"
        );
        assert_ne!(taker, maker_id);
    }
}

#[test]
fn bob_restarted_before_the_xmr_lock_completes_the_swap() {
    let alice = devnet().funded_maker("alice-rb1", 2);
    let bob = devnet().funded_taker("bob-rb1");
    let (mut maker, address) = alice.start_maker(&[]);
    let (mut taker, id) = bob.buy(&address, &[]);
    taker.wait_for_state("BtcLockPublished", SWAP_TIMEOUT);
    taker.terminate();
    let resumed = bob.spawn(&["swap", "resume", &id], &[]);
    expect_finish(&resumed, "Completed", Some("XmrRedeemed"));
    expect_finish(&maker, "Completed", None);
    maker.terminate();
}

#[test]
fn bob_restarted_after_the_xmr_lock_completes_the_swap() {
    let alice = devnet().funded_maker("alice-rb2", 2);
    let bob = devnet().funded_taker("bob-rb2");
    let (mut maker, address) = alice.start_maker(&[]);
    let (mut taker, id) = bob.buy(&address, &[]);
    taker.wait_for_state("XmrLockProofReceived", SWAP_TIMEOUT);
    taker.terminate();
    std::thread::sleep(Duration::from_secs(1));
    let resumed = bob.spawn(&["swap", "resume", &id], &[]);
    expect_finish(&resumed, "Completed", None);
    expect_finish(&maker, "Completed", None);
    maker.terminate();
}

#[test]
fn alice_restarted_after_the_xmr_lock_completes_the_swap() {
    let alice = devnet().funded_maker("alice-ra", 2);
    let bob = devnet().funded_taker("bob-ra");
    let (mut maker, address) = alice.start_maker(&[]);
    let (taker, _) = bob.buy(&address, &[]);
    maker.wait_for_state("XmrLocked", SWAP_TIMEOUT);
    maker.terminate();
    let (mut maker, _) = alice.start_maker(&[]);
    expect_finish(&taker, "Completed", None);
    expect_finish(&maker, "Completed", None);
    maker.terminate();
}

#[test]
fn bob_offline_while_alice_redeems_sweeps_when_back() {
    let alice = devnet().funded_maker("alice-off", 2);
    let bob = devnet().funded_taker("bob-off");
    let alice_xmr = alice.funded_xmr;
    let bob_btc = TAKER_SAT;
    let (mut maker, address) = alice.start_maker(&[]);
    let (mut taker, id) = bob.buy(&address, &[]);
    // Bob goes away as soon as Alice has his signature and publishes the redeem
    maker.wait_for_state("BtcRedeemPublished", SWAP_TIMEOUT);
    taker.kill();
    // Alice redeems and settles while Bob is away
    expect_finish(&maker, "Completed", Some("BtcRedeemed"));
    maker.terminate();
    let resumed = bob.spawn(&["swap", "resume", &id], &[]);
    expect_finish(&resumed, "Completed", Some("XmrRedeemed"));
    drop(resumed);
    assert_swapped(&bob, bob_btc, &alice, alice_xmr);
}

#[test]
fn alice_who_never_locks_returns_bobs_btc_early() {
    let alice = devnet().funded_maker("alice-early", 1);
    let bob = devnet().funded_taker("bob-early");
    let bob_btc = TAKER_SAT;
    let (mut maker, address) = alice.start_maker(&[("CONFIARO_TEST_FAULT", "xmr-lock-fails")]);
    let (taker, id) = bob.buy(&address, &[]);
    expect_finish(&taker, "Refunded", Some("BtcEarlyRefunded"));
    expect_finish(&maker, "Refunded", Some("BtcEarlyRefunded"));
    maker.terminate();
    drop(taker);
    let (btc, xmr) = bob.balances();
    assert!(
        btc < bob_btc && btc > bob_btc - 50_000,
        "Bob has his BTC back minus fees: {bob_btc} -> {btc}"
    );
    assert_eq!(xmr, 0);
    verify_receipt(&bob, &id);
}

#[test]
fn bob_vanishing_after_the_xmr_lock_is_cancelled_refunded_and_alice_sweeps_back() {
    let alice = devnet().funded_maker("alice-van", 1);
    let bob = devnet().funded_taker("bob-van");
    let bob_btc = TAKER_SAT;
    let alice_xmr = alice.funded_xmr;
    let (mut maker, address) = alice.start_maker(&[]);
    let (mut taker, id) = bob.buy(
        &address,
        &[("CONFIARO_TEST_KILL_AFTER", "Bob:XmrLockProofReceived")],
    );
    let status = taker.wait_exit(SWAP_TIMEOUT);
    assert!(
        Running::killed_by_sigkill(&status),
        "Bob vanished: {status}"
    );
    // Bob comes back when it is too late to send his redeem signature (the lock is 9 blocks
    // deep; the signature is due before 8), so the swap cancels and he refunds
    let lock = lock_txid(&bob, &id);
    wait_for_depth(&lock, 9);
    let resumed = bob.spawn(&["swap", "resume", &id], &[]);
    expect_finish(&resumed, "Refunded", Some("BtcRefunded"));
    expect_finish(&maker, "Refunded", Some("XmrRefunded"));
    maker.terminate();
    drop(resumed);
    assert_refunded(&bob, bob_btc, &alice, alice_xmr);
    let verdict = verify_receipt(&alice, &id);
    assert!(verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["what"] == "outcome: refunded" && c["ok"] == true));
}

#[test]
fn manual_cancel_refund_is_refused_before_the_timelock_and_refunds_after() {
    let alice = devnet().funded_maker("alice-man", 1);
    let bob = devnet().funded_taker("bob-man");
    let bob_btc = TAKER_SAT;
    // the maker disappears after the signatures, before locking XMR
    let (mut maker, address) =
        alice.start_maker(&[("CONFIARO_TEST_KILL_AFTER", "Alice:SignaturesReceived")]);
    let (mut taker, id) = bob.buy(&address, &[]);
    taker.wait_for("lock published", SWAP_TIMEOUT, |v| {
        v["kind"] == "published" && v["tx"] == "Lock"
    });
    taker.terminate();
    assert!(Running::killed_by_sigkill(&maker.wait_exit(SWAP_TIMEOUT)));
    let (status, _, stderr) = bob.run(&["swap", "cancel-refund", &id]);
    assert!(!status.success(), "too early must be refused");
    assert!(
        stderr.contains("cancel timelock expires in"),
        "says when: {stderr}"
    );
    // wait for the cancel timelock (12 blocks after the lock confirms)
    wait_for_depth(&lock_txid(&bob, &id), 13);
    let refund = bob.spawn(&["swap", "cancel-refund", &id], &[]);
    expect_finish(&refund, "Refunded", Some("BtcRefunded"));
    drop(refund);
    let (btc, _) = bob.balances();
    assert!(
        btc < bob_btc && btc > bob_btc - 50_000,
        "refunded: {bob_btc} -> {btc}"
    );
    // the maker, back, finds nothing of hers at stake and ends safely
    let (mut maker, _) = alice.start_maker(&[]);
    let (phase, _) = maker.wait_for_finish(SWAP_TIMEOUT);
    assert!(
        phase == "Aborted" || phase == "Refunded",
        "Alice ends safely: {phase}"
    );
    maker.terminate();
}

#[test]
fn bob_dead_after_the_xmr_lock_is_punished() {
    let alice = devnet().funded_maker("alice-pun", 1);
    let bob = devnet().funded_taker("bob-pun");
    let (mut maker, address) = alice.start_maker(&[]);
    let (mut taker, id) = bob.buy(
        &address,
        &[("CONFIARO_TEST_KILL_AFTER", "Bob:XmrLockProofReceived")],
    );
    assert!(Running::killed_by_sigkill(&taker.wait_exit(SWAP_TIMEOUT)));
    expect_finish(&maker, "Failed", Some("BtcPunished"));
    maker.terminate();
    let (alice_btc, _) = alice.balances();
    assert!(
        alice_btc > SWAP_SAT - 50_000 && alice_btc < SWAP_SAT,
        "Alice took the BTC: {alice_btc}"
    );
    // Bob, back too late, learns he was punished
    let resumed = bob.spawn(&["swap", "resume", &id], &[]);
    expect_finish(&resumed, "Failed", Some("BtcPunished"));
}

#[test]
fn a_wrong_xmr_amount_makes_bob_refund_and_alice_sweep_back() {
    let alice = devnet().funded_maker("alice-wrong", 1);
    let bob = devnet().funded_taker("bob-wrong");
    let bob_btc = TAKER_SAT;
    let alice_xmr = alice.funded_xmr;
    let (mut maker, address) = alice.start_maker(&[("CONFIARO_TEST_FAULT", "xmr-lock-short")]);
    let (taker, _) = bob.buy(&address, &[]);
    taker.wait_for_state("XmrLockRejected", SWAP_TIMEOUT);
    expect_finish(&taker, "Refunded", Some("BtcRefunded"));
    expect_finish(&maker, "Refunded", Some("XmrRefunded"));
    maker.terminate();
    drop(taker);
    assert_refunded(&bob, bob_btc, &alice, alice_xmr);
}

/// Finding 5 of docs/2026-12-06-malicious-counterparty.md: the maker's transfer proof lies
/// about its height (a million blocks high) and the maker sends dust to the lock address
/// after its lock. The taker restores its sweep from its own node's height and sweeps the
/// lock without waiting for the dust.
#[test]
fn a_maker_lying_about_its_lock_height_and_sending_dust_still_pays_the_taker() {
    let alice = devnet().funded_maker("alice-liar", 1);
    let bob = devnet().funded_taker("bob-liar");
    let (mut maker, address) =
        alice.start_maker(&[("CONFIARO_TEST_FAULT", "xmr-proof-lies,xmr-dust")]);
    let (taker, _) = bob.buy(&address, &[]);
    expect_finish(&taker, "Completed", Some("XmrRedeemed"));
    expect_finish(&maker, "Completed", Some("BtcRedeemed"));
    maker.terminate();
    drop(taker);
    // the lock (and the dust, if it had unlocked by then) minus the sweep's fee
    let (_, bob_xmr) = bob.balances();
    assert!(
        bob_xmr > SWAP_PICONERO - XMR / 100 && bob_xmr < SWAP_PICONERO + XMR / 100,
        "Bob received 1 XMR minus the sweep fee: {bob_xmr}"
    );
}

#[test]
fn three_takers_swap_with_one_maker_at_once() {
    let alice = devnet().funded_maker("alice-three", 3);
    let takers: Vec<Party> = (0..3)
        .map(|i| devnet().funded_taker(&format!("bob-three-{i}")))
        .collect();
    let (mut maker, address) = alice.start_maker(&[]);
    let running: Vec<(Running, String)> = takers.iter().map(|t| t.buy(&address, &[])).collect();
    for (taker, _) in &running {
        expect_finish(taker, "Completed", None);
    }
    let ids: std::collections::HashSet<&str> = running.iter().map(|(_, id)| id.as_str()).collect();
    let deadline = std::time::Instant::now() + SWAP_TIMEOUT;
    loop {
        // every swap of the maker ends (its events interleave)
        let finished = maker_finished(&maker);
        if ids
            .iter()
            .all(|id| finished.iter().any(|(i, p)| i == id && p == "Completed"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the maker did not finish all three: {finished:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    maker.terminate();
    let (btc, _) = alice.balances();
    assert!(
        btc > 3 * SWAP_SAT - 100_000 && btc < 3 * SWAP_SAT,
        "Alice got three payments: {btc}"
    );
}

/// The (swap id, phase) of every swap the maker finished so far.
fn maker_finished(maker: &Running) -> Vec<(String, String)> {
    maker
        .seen()
        .iter()
        .filter(|v| v["kind"] == "finished")
        .map(|v| {
            (
                v["swap_id"].as_str().unwrap_or_default().to_owned(),
                v["phase"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_cooperative_abort_before_the_lock_ends_both_sides() {
    let alice = devnet().funded_maker("alice-abort", 1);
    let bob = devnet().funded_taker("bob-abort");
    let bob_btc = TAKER_SAT;
    // the maker stops after agreeing the transactions, before sending its signatures
    let (mut maker, address) =
        alice.start_maker(&[("CONFIARO_TEST_KILL_AFTER", "Alice:SignaturesSent")]);
    let (mut taker, id) = bob.buy(&address, &[]);
    assert!(Running::killed_by_sigkill(&maker.wait_exit(SWAP_TIMEOUT)));
    taker.wait_for_state("LockProposed", SWAP_TIMEOUT);
    taker.terminate();
    let abort = bob.spawn(&["swap", "abort", &id], &[]);
    let (mut maker, _) = alice.start_maker(&[]);
    let told = abort.wait_for("abort result", Duration::from_secs(90), |v| {
        v["aborted"] == true
    });
    assert_eq!(told["peer_acknowledged"], true, "the maker heard the abort");
    expect_finish(&maker, "Aborted", Some("Aborted"));
    maker.terminate();
    drop(abort);
    assert_eq!(outcome(&bob, &id), ("Aborted".into(), "Aborted".into()));
    let (btc, _) = bob.balances();
    assert_eq!(btc, bob_btc, "nothing was spent");
}

/// The transaction `label` of a swap, as a party's `swap show` lists it.
fn txid_of(party: &Party, id: &str, label: &str) -> String {
    party.swap(id)["txids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t[0] == label)
        .unwrap_or_else(|| panic!("the swap has its {label}"))[1]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The children a party's process added to pay for its waiting `label`.
fn children_paying_for(running: &Running, label: &str) -> Vec<String> {
    running
        .seen()
        .iter()
        .filter(|v| v["kind"] == "fee_bumped" && v["tx"] == label)
        .map(|v| v["child_txid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_redeem_too_cheap_for_the_miners_confirms_through_a_child_before_cancel() {
    let alice = devnet().funded_maker("alice-cpfp-redeem", 1);
    let bob = devnet().funded_taker("bob-cpfp-redeem");
    let (bob_btc, alice_xmr) = (TAKER_SAT, alice.funded_xmr);
    let (mut maker, address) = alice.start_maker(&[]);
    let (taker, id) = bob.buy(&address, &[]);
    taker.wait_for_state("BtcLockPublished", SWAP_TIMEOUT);
    // miners will not take Alice's redeem alone, as in a fee spike after setup
    let redeem = txid_of(&bob, &id, "Redeem");
    devnet().hold_btc_tx(&redeem);
    expect_finish(&maker, "Completed", Some("BtcRedeemed"));
    expect_finish(&taker, "Completed", Some("XmrRedeemed"));
    maker.terminate();
    drop(taker);
    let children = children_paying_for(&maker, "Redeem");
    assert!(
        !children.is_empty(),
        "Alice paid for her redeem with a child"
    );
    assert!(devnet().btc_confirmations(&redeem).unwrap_or(0) >= 1);
    for child in &children {
        assert!(
            devnet().btc_confirmations(child).unwrap_or(0) >= 1,
            "the child {child} is in a block"
        );
    }
    assert_swapped(&bob, bob_btc, &alice, alice_xmr);
}

#[test]
fn a_cancel_and_a_refund_too_cheap_for_the_miners_confirm_through_children_before_punish() {
    let alice = devnet().funded_maker("alice-cpfp-cancel", 1);
    let bob = devnet().funded_taker("bob-cpfp-cancel");
    let (bob_btc, alice_xmr) = (TAKER_SAT, alice.funded_xmr);
    let (mut maker, address) = alice.start_maker(&[]);
    let (mut taker, id) = bob.buy(
        &address,
        &[("CONFIARO_TEST_KILL_AFTER", "Bob:XmrLockProofReceived")],
    );
    assert!(Running::killed_by_sigkill(&taker.wait_exit(SWAP_TIMEOUT)));
    // miners will take neither the cancel nor the refund alone, whoever publishes them
    let (cancel, refund) = (txid_of(&bob, &id, "Cancel"), txid_of(&bob, &id, "Refund"));
    devnet().hold_btc_tx(&cancel);
    devnet().hold_btc_tx(&refund);
    // Bob comes back too late to send his redeem signature: cancel waits until a child
    // spending an anchor pays for it, the refund until Bob's child does, before Alice may
    // punish
    wait_for_depth(&lock_txid(&bob, &id), 9);
    let resumed = bob.spawn(&["swap", "resume", &id], &[]);
    expect_finish(&resumed, "Refunded", Some("BtcRefunded"));
    expect_finish(&maker, "Refunded", Some("XmrRefunded"));
    maker.terminate();
    let children: Vec<String> = children_paying_for(&resumed, "Cancel")
        .into_iter()
        .chain(children_paying_for(&maker, "Cancel"))
        .collect();
    drop(resumed);
    assert!(
        !children.is_empty(),
        "a party paid for cancel through its anchor"
    );
    assert!(
        children
            .iter()
            .any(|child| devnet().btc_confirmations(child).unwrap_or(0) >= 1),
        "an anchor child is in a block"
    );
    assert_refunded(&bob, bob_btc, &alice, alice_xmr);
}

#[test]
fn a_redeem_signature_sent_just_before_cancel_is_not_redeemed_and_both_get_their_coins_back() {
    let alice = devnet().funded_maker("alice-late-sig", 1);
    let bob = devnet().funded_taker("bob-late-sig");
    let (bob_btc, alice_xmr) = (TAKER_SAT, alice.funded_xmr);
    let (mut maker, address) = alice.start_maker(&[]);
    // an attacking taker holds his signature back until one block before cancel, hoping
    // Alice's redeem reveals her key in the mempool while his cancel can still win
    let (taker, id) = bob.buy(
        &address,
        &[("CONFIARO_TEST_FAULT", "late-redeem-signature")],
    );
    expect_finish(&taker, "Refunded", Some("BtcRefunded"));
    expect_finish(&maker, "Refunded", Some("XmrRefunded"));
    maker.terminate();
    assert!(
        taker
            .stderr()
            .contains("late-redeem-signature: sending it at lock depth"),
        "the signature went out late: {}",
        tail(&taker.stderr(), 20)
    );
    assert!(
        !maker
            .seen()
            .iter()
            .any(|v| v["kind"] == "published" && v["tx"] == "Redeem"),
        "Alice never published her redeem"
    );
    drop(taker);
    assert_refunded(&bob, bob_btc, &alice, alice_xmr);
    verify_receipt(&alice, &id);
}

/// A party's exported receipt of swap `id`.
fn receipt_of(party: &Party, id: &str) -> Value {
    let path = party.dir.path().join(format!("receipt-{id}.json"));
    party.run_ok(&["swap", "receipt", id, "--out", path.to_str().unwrap()]);
    serde_json::from_slice(&std::fs::read(&path).expect("receipt written")).expect("JSON")
}

#[test]
fn a_restored_maker_offered_a_finished_swaps_id_makes_new_keys() {
    let alice = devnet().funded_maker("alice-reuse", 1);
    let bob = devnet().funded_taker("bob-reuse");
    let (mut maker, address) = alice.start_maker(&[]);
    let (taker, id) = bob.buy(&address, &[]);
    expect_finish(&taker, "Completed", Some("XmrRedeemed"));
    expect_finish(&maker, "Completed", Some("BtcRedeemed"));
    maker.terminate();
    drop(taker);
    let finished = receipt_of(&alice, &id);
    // the maker's mnemonic restored into an empty data directory (or a second instance)
    let mut restored = devnet().restored_party("alice-reuse-restored", &alice.mnemonic);
    devnet().fund_xmr(&restored.xmr_address, 2 * XMR);
    restored.funded_xmr = 2 * XMR;
    let (mut maker, address) = restored.start_maker(&[]);
    // a taker who knows the finished swap's keys opens a new swap with its id
    let thief = devnet().funded_taker("bob-reuse-again");
    let (taker, same_id) = thief.buy(
        &address,
        &[("CONFIARO_TEST_FAULT", &format!("reuse-swap-id={id}"))],
    );
    assert_eq!(same_id, id, "the taker reused the id");
    expect_finish(&taker, "Completed", Some("XmrRedeemed"));
    expect_finish(&maker, "Completed", Some("BtcRedeemed"));
    maker.terminate();
    drop(taker);
    let reused = receipt_of(&restored, &id);
    assert_ne!(
        finished["alice"], reused["alice"],
        "the maker's keys for the reused id are new"
    );
    assert_ne!(finished["lock_address"], reused["lock_address"]);
}
