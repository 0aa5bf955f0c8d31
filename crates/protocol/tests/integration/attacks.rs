//! The attacks of `docs/2026-12-06-malicious-counterparty.md`, one regression test each, at
//! the level of the role machines: every test starts from a snapshot of the honest run
//! (`hostile.rs`'s fixture) and plays what a malicious counterparty (or a stale view after a
//! restart) feeds the victim. Each failed on the code before its fix.
//!
//! Findings 1 and 6 are tested where they live: key derivation (`keys.rs`, and the engine's
//! `keys.rs`) and the decoders (`messages.rs`, `quote.rs`).

use super::hostile::{fixture, seen, step, NOW, XMR_HEIGHT, XMR_TX_HASH};
use bitcoin::Amount;
use confiaro_protocol::machine::{SecretScalar, TxLabel};
use confiaro_protocol::messages::{LockProposal, Message, TransferProof};
use confiaro_protocol::network::XMR_RESTORE_MARGIN;
use confiaro_protocol::{Action, Input, ProtocolError, Role, SwapState, Timestamp};
use curve25519_dalek::Scalar as EdScalar;

fn params() -> confiaro_protocol::Params {
    fixture().terms.network.params()
}

fn lock_at(depth: u32) -> Input {
    seen(fixture().signed_tx(TxLabel::Lock), depth)
}

fn publishes(actions: &[Action], label: TxLabel) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::PublishBtc { label: l, .. } if *l == label))
}

fn sends_redeem_signature(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Send(Message::RedeemEncryptedSignature(_))))
}

fn snapshot(role: Role, name: &str) -> SwapState {
    fixture().state(role, name).clone()
}

fn redeem_signature() -> Input {
    Input::Message(fixture().message(7).clone())
}

// ---------------------------------------------------------------------------------------------
// Finding 2: Alice redeems too close to cancel.
// ---------------------------------------------------------------------------------------------

#[test]
fn alice_does_not_redeem_a_signature_that_arrives_inside_her_margin() {
    let mut alice = snapshot(Role::Alice, "XmrLocked");
    let late = params().last_redeem_depth() + 1;
    step(&mut alice, lock_at(late));
    let actions = step(&mut alice, redeem_signature());
    assert!(
        !publishes(&actions, TxLabel::Redeem),
        "Alice published her redeem at depth {late}, {} blocks before Bob may cancel",
        u32::from(params().cancel_timelock) - late
    );
    assert_eq!(alice.state_name(), "XmrLocked");
    // and when cancel becomes possible she cancels instead
    let actions = step(&mut alice, lock_at(u32::from(params().cancel_timelock)));
    assert_eq!(alice.state_name(), "BtcCancelled");
    assert!(publishes(&actions, TxLabel::Cancel));
}

#[test]
fn alice_redeems_the_last_depth_her_margin_allows() {
    let mut alice = snapshot(Role::Alice, "XmrLocked");
    step(&mut alice, lock_at(params().last_redeem_depth()));
    let actions = step(&mut alice, redeem_signature());
    assert!(publishes(&actions, TxLabel::Redeem), "{actions:?}");
}

#[test]
fn alice_does_not_redeem_on_a_depth_not_reported_since_a_restart() {
    let mut alice = snapshot(Role::Alice, "XmrLocked");
    step(&mut alice, Input::Resume);
    // the depth stored before the restart says 1; the chain may be at cancel by now
    let actions = step(&mut alice, redeem_signature());
    assert!(
        !publishes(&actions, TxLabel::Redeem),
        "Alice redeemed on a depth she has not checked since restarting"
    );
    // a fresh report that allows it redeems
    let actions = step(&mut alice, lock_at(2));
    assert!(publishes(&actions, TxLabel::Redeem), "{actions:?}");
}

#[test]
fn a_restarted_alice_does_not_publish_a_redeem_that_never_went_out_once_too_late() {
    // Alice decided to redeem and crashed before broadcasting
    let mut alice = snapshot(Role::Alice, "BtcRedeemPublished");
    let actions = step(&mut alice, Input::Resume);
    assert!(
        !publishes(&actions, TxLabel::Redeem),
        "the resumed redeem went out before its depth was checked"
    );
    let actions = step(&mut alice, lock_at(u32::from(params().cancel_timelock)));
    assert!(!publishes(&actions, TxLabel::Redeem), "{actions:?}");
    assert_eq!(alice.state_name(), "BtcCancelled");
    assert!(publishes(&actions, TxLabel::Cancel));
}

#[test]
fn bob_stops_offering_his_redeem_signature_inside_his_margin() {
    let mut bob = snapshot(Role::Bob, "EncSigSent");
    step(
        &mut bob,
        lock_at(params().last_redeem_signature_depth() + 1),
    );
    // neither a resend nor an answer to a repeated message carries it any more
    let far = Timestamp(NOW.0 + 10_000);
    let actions = step(&mut bob.clone(), Input::Tick);
    assert!(!sends_redeem_signature(&actions), "{actions:?}");
    let mut later = bob.clone();
    let actions = later.handle(far, Input::Tick).expect("tick");
    assert!(!sends_redeem_signature(&actions), "{actions:?}");
    let proof = fixture().message(6).clone();
    let actions = bob
        .handle(far, Input::Message(proof))
        .expect("a repeated message");
    assert!(!sends_redeem_signature(&actions), "{actions:?}");
}

// ---------------------------------------------------------------------------------------------
// Finding 8: Bob's refund in the mempool while Alice can still replace his cancel.
// ---------------------------------------------------------------------------------------------

#[test]
fn bob_publishes_his_refund_only_once_cancel_is_final() {
    let mut bob = snapshot(Role::Bob, "EncSigSent");
    let actions = step(&mut bob, lock_at(u32::from(params().cancel_timelock)));
    assert!(publishes(&actions, TxLabel::Cancel), "{actions:?}");
    assert!(!publishes(&actions, TxLabel::Refund), "{actions:?}");
    // cancel in the mempool: Alice holds his redeem signature and could replace cancel with
    // her redeem; a refund now would also hand her `s_b` and with it the XMR
    let cancel = fixture().signed_tx(TxLabel::Cancel).clone();
    let actions = step(&mut bob, seen(&cancel, 0));
    assert!(!publishes(&actions, TxLabel::Refund), "{actions:?}");
    let actions = step(&mut bob.clone(), Input::Resume);
    assert!(!publishes(&actions, TxLabel::Refund), "{actions:?}");
    // final by the network's rule: now the refund, and again on resume
    let actions = step(&mut bob, seen(&cancel, params().btc_finality.max(1)));
    assert!(publishes(&actions, TxLabel::Refund), "{actions:?}");
    let actions = step(&mut bob, Input::Resume);
    assert!(publishes(&actions, TxLabel::Refund), "{actions:?}");
}

// ---------------------------------------------------------------------------------------------
// Finding 3: a lock left in the mempool is a free option.
// ---------------------------------------------------------------------------------------------

#[test]
fn alice_refuses_a_lock_paying_far_below_her_fee_rate() {
    let f = fixture();
    let mut alice = snapshot(Role::Alice, "SetupAnswered");
    let Message::LockProposal(honest) = f.message(3) else {
        unreachable!("kind 3 is the lock proposal")
    };
    let mut psbt = f.lock_psbt.clone();
    let lock_value = psbt.unsigned_tx.output[0].value;
    psbt.inputs[0].witness_utxo.as_mut().expect("funded").value = lock_value + Amount::from_sat(1);
    let cheap = Message::LockProposal(LockProposal {
        lock_psbt: psbt.serialize(),
        ..honest.clone()
    });
    let before = alice.clone();
    let result = alice.handle(NOW, Input::Message(cheap));
    assert!(
        matches!(
            result,
            Err(ProtocolError::FeeOutOfBand {
                label: TxLabel::Lock,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(alice, before);
}

/// Finding 7 (in part): the fee band alone lets Bob burn most of what Alice would take by
/// punishing; his cancel fee is capped relative to the amount.
#[test]
fn alice_refuses_a_cancel_fee_above_its_share_of_the_amount() {
    let f = fixture();
    let mut alice = snapshot(Role::Alice, "SetupAnswered");
    let Message::LockProposal(honest) = f.message(3) else {
        unreachable!("kind 3 is the lock proposal")
    };
    let cap =
        f.terms.btc_amount.to_sat() / 100 * confiaro_protocol::network::MAX_CANCEL_FEE_PERCENT;
    let band_top = confiaro_protocol::btc::fee_for_weight(
        params().fee_band.max_sat_per_vb,
        confiaro_protocol::btc::TxCancel::max_weight(),
    );
    assert!(
        band_top.to_sat() > cap,
        "the band alone would allow {band_top}"
    );
    let burning = Message::LockProposal(LockProposal {
        cancel_fee: Amount::from_sat(cap + 1),
        ..honest.clone()
    });
    let result = alice.handle(NOW, Input::Message(burning));
    assert!(
        matches!(
            result,
            Err(ProtocolError::FeeOutOfBand {
                label: TxLabel::Cancel,
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn alice_walks_away_from_a_lock_left_unconfirmed_and_never_locks_for_it() {
    let mut alice = snapshot(Role::Alice, "SignaturesReceived");
    step(&mut alice, lock_at(0));
    let deadline = alice
        .next_deadline()
        .expect("a deadline while the lock is unconfirmed");
    assert!(deadline.0 <= NOW.0 + params().lock_confirmation_seconds());
    let actions = alice.handle(deadline, Input::Tick).expect("tick");
    assert_eq!(alice.state_name(), "AbortSent", "{actions:?}");
    // Bob accelerates his lock once the price suits him: Alice returns it, locks nothing
    let actions = alice.handle(deadline, lock_at(1)).expect("lock");
    assert!(
        !actions.iter().any(|a| matches!(a, Action::LockXmr { .. })),
        "{actions:?}"
    );
    assert_eq!(alice.state_name(), "BtcEarlyRefundPublished");
    assert!(publishes(&actions, TxLabel::EarlyRefund));
}

// ---------------------------------------------------------------------------------------------
// Finding 4: a late XMR lock after a refund, never swept.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_restarted_alice_does_not_lock_xmr_past_her_lock_margin() {
    let mut alice = snapshot(Role::Alice, "XmrLockPending");
    let actions = step(&mut alice, Input::Resume);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::LockXmr { .. })),
        "the resumed lock went out before its depth was checked: {actions:?}"
    );
    let actions = step(&mut alice, lock_at(params().last_xmr_lock_depth() + 1));
    assert!(
        !actions.iter().any(|a| matches!(a, Action::LockXmr { .. })),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::FindXmrLock { .. })),
        "Alice must still learn whether a transfer was made before the crash: {actions:?}"
    );
    // none was: nothing of hers is locked, she returns Bob's BTC
    step(
        &mut alice,
        Input::XmrLockFailed {
            reason: "too late".into(),
        },
    );
    assert_eq!(alice.state_name(), "BtcEarlyRefundPublished");
}

#[test]
fn alice_sweeps_back_a_transfer_that_lands_after_bobs_refund() {
    let f = fixture();
    let mut alice = snapshot(Role::Alice, "XmrLockPending");
    step(&mut alice, seen(f.signed_tx(TxLabel::Cancel), 3));
    step(&mut alice, seen(f.signed_tx(TxLabel::Refund), 1));
    let actions = step(
        &mut alice,
        Input::XmrLocked {
            tx_hash: XMR_TX_HASH,
            tx_key: SecretScalar(EdScalar::from(123_456_789u64)),
            height: XMR_HEIGHT,
            amount: f.terms.xmr_amount,
        },
    );
    assert_eq!(
        alice.state_name(),
        "BtcRefunded",
        "the refund revealed s_b: sweep, not wait to punish a spent output"
    );
    assert!(
        actions.iter().any(|a| matches!(a, Action::SweepXmr { .. })),
        "{actions:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 5: the taker's XMR left unsweepable.
// ---------------------------------------------------------------------------------------------

/// Bob after Alice's `proof` and his own node's word on it (block `XMR_HEIGHT + 1`).
fn bob_redeemed_after(proof: TransferProof, unlock_time: u64) -> (SwapState, Vec<Action>) {
    let f = fixture();
    let mut bob = snapshot(Role::Bob, "BtcLockPublished");
    step(&mut bob, lock_at(1));
    step(&mut bob, Input::Message(Message::TransferProof(proof)));
    let actions = step(
        &mut bob,
        Input::XmrTransferSeen {
            tx_hash: XMR_TX_HASH,
            amount: f.terms.xmr_amount,
            confirmations: 10,
            block_height: Some(XMR_HEIGHT + 1),
            unlock_time,
        },
    );
    (bob, actions)
}

/// Alice's honest transfer proof, claiming `height`.
fn lying_proof(height: u64) -> TransferProof {
    TransferProof {
        swap_id: fixture().swap_id,
        tx_hash: XMR_TX_HASH,
        tx_key: EdScalar::from(123_456_789u64),
        height,
    }
}

#[test]
fn bob_restores_his_sweep_wallet_from_his_own_nodes_height_not_alices_claim() {
    let f = fixture();
    let (mut bob, actions) = bob_redeemed_after(lying_proof(1_000_000_000), 0);
    assert!(sends_redeem_signature(&actions), "{actions:?}");
    let actions = step(&mut bob, seen(f.signed_tx(TxLabel::Redeem), 0));
    let restore_height = actions
        .iter()
        .find_map(|a| match a {
            Action::SweepXmr { restore_height, .. } => Some(*restore_height),
            _ => None,
        })
        .expect("Bob sweeps after the redeem");
    assert_eq!(
        restore_height,
        XMR_HEIGHT + 1 - XMR_RESTORE_MARGIN,
        "a restore height above the lock's block hides it from the sweep"
    );
}

#[test]
fn bob_refuses_an_xmr_lock_with_an_unlock_time() {
    let (bob, actions) = bob_redeemed_after(lying_proof(XMR_HEIGHT), 5_000_000);
    assert!(!sends_redeem_signature(&actions), "{actions:?}");
    assert_eq!(bob.state_name(), "XmrLockRejected");
}

#[test]
fn the_sweep_waits_for_the_lock_amount_not_for_every_output() {
    let f = fixture();
    let (mut bob, _) = bob_redeemed_after(lying_proof(XMR_HEIGHT), 0);
    let actions = step(&mut bob, seen(f.signed_tx(TxLabel::Redeem), 0));
    let amount = actions.iter().find_map(|a| match a {
        Action::SweepXmr { amount, .. } => Some(*amount),
        _ => None,
    });
    assert_eq!(amount, Some(f.terms.xmr_amount));
}

#[test]
fn alice_does_not_lock_for_a_lock_she_first_sees_confirmed_too_late() {
    let mut alice = snapshot(Role::Alice, "SignaturesReceived");
    step(&mut alice, lock_at(0));
    // offline past the deadline (no tick came); the lock has confirmed meanwhile
    let late = Timestamp(NOW.0 + params().lock_confirmation_seconds() + 1);
    let actions = alice.handle(late, lock_at(1)).expect("lock");
    assert!(
        !actions.iter().any(|a| matches!(a, Action::LockXmr { .. })),
        "{actions:?}"
    );
    assert_eq!(alice.state_name(), "BtcEarlyRefundPublished");
}
