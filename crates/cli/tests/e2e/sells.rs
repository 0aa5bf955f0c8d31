//! Sell-XMR scenarios: a taker selling XMR (Alice) against a maker that buys it (Bob), as
//! separate `confiaro` processes on the devnet's real chains: the happy path with both
//! receipts verified, a taker who walks away before its XMR lock (the maker takes its BTC
//! back, records the walk-away and refuses the taker's next request), and a maker who
//! vanishes after the taker's XMR lock (the taker punishes).

use std::time::Duration;

use confiaro_testkit::e2e::*;

use super::devnet;
use super::swaps::verify_receipt;

const SWAP_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn a_taker_sells_xmr_to_a_maker_and_both_receipts_verify() {
    let maker_party = devnet().funded_two_sided_maker("maker-sell-happy");
    let seller = devnet().funded_seller("seller-happy");
    let (mut maker, address) = maker_party.start_two_sided_maker(&[]);
    let started = std::time::Instant::now();
    let (mut taker, id) = seller.sell(&address, &[]);
    expect_finish(&taker, "Completed", Some("BtcRedeemed"));
    let wall = started.elapsed();
    assert!(taker.wait_exit(Duration::from_secs(30)).success());
    expect_finish(&maker, "Completed", Some("XmrRedeemed"));
    maker.terminate();
    eprintln!(
        "sell swap wall time on the devnet: {:.1} s",
        wall.as_secs_f64()
    );
    let (seller_btc, seller_xmr) = seller.balances();
    assert!(
        seller_btc < SWAP_SAT && seller_btc > SWAP_SAT - 50_000,
        "the seller received 0.01 BTC minus the redeem fee: {seller_btc}"
    );
    assert!(
        seller_xmr < seller.funded_xmr - SWAP_PICONERO
            && seller_xmr > seller.funded_xmr - SWAP_PICONERO - XMR / 100,
        "the seller paid 1 XMR and a fee: {seller_xmr}"
    );
    let (maker_btc, maker_xmr) = maker_party.balances();
    assert!(
        maker_btc < TAKER_SAT - SWAP_SAT && maker_btc > TAKER_SAT - SWAP_SAT - 50_000,
        "the maker paid 0.01 BTC and a fee: {maker_btc}"
    );
    assert!(
        maker_xmr > maker_party.funded_xmr + SWAP_PICONERO - XMR / 100,
        "the maker received 1 XMR minus the sweep fee: {maker_xmr}"
    );
    for party in [&seller, &maker_party] {
        let verdict = verify_receipt(party, &id);
        assert!(
            verdict["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["what"] == "outcome: swapped" && c["ok"] == true),
            "the receipt proves the swap: {verdict}"
        );
    }
    // the swap's roles: the taker was Alice, the maker Bob
    assert_eq!(seller.swap(&id)["role"], "Alice");
    assert_eq!(maker_party.swap(&id)["role"], "Bob");
}

#[test]
fn a_seller_who_walks_away_before_its_xmr_lock_gets_the_maker_refunded_and_is_refused_next_time() {
    let maker_party = devnet().funded_two_sided_maker("maker-sell-walk");
    let seller = devnet().funded_seller("seller-walk");
    let (mut maker, address) = maker_party.start_two_sided_maker(&[]);
    // the seller dies once it has signed, before its XMR lock, and stays away
    let (mut taker, id) = seller.sell(
        &address,
        &[("CONFIARO_TEST_KILL_AFTER", "Alice:SignaturesReceived")],
    );
    assert!(Running::killed_by_sigkill(&taker.wait_exit(SWAP_TIMEOUT)));
    // the maker cancels at the timelock and refunds its BTC
    expect_finish(&maker, "Refunded", Some("BtcRefunded"));
    // the walk-away is on the maker's record: the seller's next request is refused
    // (the request is refused and the seller's new swap ends before anything is locked; the
    // seller's walked-away swap still holds its XMR as promised until it sees the refund, so
    // the seller brings more)
    devnet().fund_xmr(&seller.xmr_address, 2 * XMR);
    let (_, lines, stderr) = seller.run(&["swap", "sell-xmr", "--xmr", "1", "--maker", &address]);
    let said = format!("{lines:?}\n{stderr}");
    assert!(said.contains("walked away from 1"), "{said}");
    assert!(
        seller
            .swaps()
            .iter()
            .any(|s| s["swap_id"] != id.as_str() && s["phase"] == "Aborted"),
        "the refused swap ended: {:?}",
        seller.swaps()
    );
    maker.terminate();
    let (maker_btc, _) = maker_party.balances();
    assert!(
        maker_btc < TAKER_SAT && maker_btc > TAKER_SAT - 50_000,
        "the maker has its BTC back minus fees: {maker_btc}"
    );
    let (_, seller_xmr) = seller.balances();
    assert_eq!(
        seller_xmr,
        seller.funded_xmr + 2 * XMR,
        "the seller never locked its XMR"
    );
    // the maker's receipt shows its refund
    let verdict = verify_receipt(&maker_party, &id);
    assert!(verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["what"] == "outcome: refunded" && c["ok"] == true));
}

#[test]
fn a_maker_vanishing_after_the_sellers_xmr_lock_is_punished() {
    let maker_party = devnet().funded_two_sided_maker("maker-sell-van");
    let seller = devnet().funded_seller("seller-van");
    let (mut maker, address) = maker_party
        .start_two_sided_maker(&[("CONFIARO_TEST_KILL_AFTER", "Bob:XmrLockProofReceived")]);
    let (mut taker, _id) = seller.sell(&address, &[]);
    assert!(Running::killed_by_sigkill(&maker.wait_exit(SWAP_TIMEOUT)));
    // the seller cancels at the timelock and, the maker still away, punishes
    expect_finish(&taker, "Failed", Some("BtcPunished"));
    taker.wait_exit(Duration::from_secs(30));
    let (seller_btc, _) = seller.balances();
    assert!(
        seller_btc > SWAP_SAT - 50_000 && seller_btc < SWAP_SAT,
        "the seller took the BTC: {seller_btc}"
    );
}
