//! Receipts and progress from real machines after a real (in-memory) setup exchange: both
//! parties' receipts verify offline and agree; any altered field is caught; progress names
//! the next deadline.

use confiaro_orchestrator::progress::{progress, Waiting};
use confiaro_orchestrator::receipt::Receipt;
use confiaro_protocol::{Phase, Role};
use confiaro_testkit::sim;

fn receipts() -> (Receipt, Receipt) {
    let (alice, bob, _) = sim::setup_exchange(7);
    (
        Receipt::from_state(&bob, Vec::new()),
        Receipt::from_state(&alice, Vec::new()),
    )
}

fn all_ok(receipt: &Receipt) -> bool {
    let checks = receipt.check();
    !checks.is_empty() && checks.iter().all(|c| c.ok)
}

#[test]
fn both_parties_receipts_verify_and_agree_on_what_was_signed() {
    let (bob, alice) = receipts();
    assert!(all_ok(&bob), "{:?}", bob.check());
    assert!(all_ok(&alice), "{:?}", alice.check());
    assert_eq!(bob.exported_by, Role::Bob);
    assert_eq!(alice.exported_by, Role::Alice);
    assert_eq!(bob.commitment, alice.commitment);
    assert_eq!(
        bob.alice_commitment_signature,
        alice.alice_commitment_signature
    );
    assert_eq!(bob.bob_commitment_signature, alice.bob_commitment_signature);
    assert_eq!(bob.transactions, alice.transactions);
    assert_eq!(bob.lock_address, alice.lock_address);
    // a receipt holds no spend secret: only public keys, the single-use view key and the tx key
    let text = serde_json::to_string(&bob).unwrap();
    assert!(!text.contains("secrets"));
}

#[test]
fn every_altered_field_is_caught() {
    let (bob, _) = receipts();
    let mut more_btc = bob.clone();
    more_btc.terms.btc_amount += bitcoin::Amount::from_sat(1);
    let mut other_txid = bob.clone();
    other_txid.transactions[1].txid = other_txid.transactions[2].txid.clone();
    let mut swapped_signatures = bob.clone();
    std::mem::swap(
        &mut swapped_signatures.alice_commitment_signature,
        &mut swapped_signatures.bob_commitment_signature,
    );
    let mut other_view_key = bob.clone();
    other_view_key.view_key = "01".repeat(32);
    let mut other_commitment = bob.clone();
    other_commitment.commitment = "00".repeat(32);
    let mut other_key = bob.clone();
    other_key.bob.btc = bob.alice.btc.clone();
    for (what, receipt) in [
        ("amount", more_btc),
        ("txid", other_txid),
        ("signatures", swapped_signatures),
        ("view key", other_view_key),
        ("commitment", other_commitment),
        ("key", other_key),
    ] {
        let failed: Vec<_> = receipt.check().into_iter().filter(|c| !c.ok).collect();
        assert!(!failed.is_empty(), "an altered {what} must fail");
    }
}

#[test]
fn progress_after_setup_names_the_cancel_deadline_and_what_happens_then() {
    let (alice, bob, _) = sim::setup_exchange(8);
    let p = progress(&bob, None);
    assert_eq!(p.phase, Phase::Locked);
    assert_eq!(p.state, "BtcLockPublished");
    let deadline = p
        .deadline
        .expect("Bob's lock is exposed to the cancel timelock");
    assert_eq!(
        deadline.blocks, 12,
        "regtest's cancel timelock, lock unconfirmed"
    );
    assert_eq!(
        deadline.eta_seconds,
        12 * 600,
        "at regtest's nominal interval"
    );
    assert!(deadline.automatic.contains("refund"));
    let observed = progress(&bob, Some(4)).deadline.expect("the same deadline");
    assert_eq!(
        (observed.blocks, observed.eta_seconds),
        (12, 48),
        "at an observed interval of 4 s"
    );
    let p = progress(&alice, None);
    assert_eq!(p.state, "SignaturesReceived");
    assert_eq!(p.waiting, Some(Waiting::Peer), "Alice waits for Bob's lock");
}
