//! Bitcoin Core's script interpreter (libbitcoinconsensus, via the `bitcoinconsensus` crate)
//! accepts every completed swap transaction and rejects the tampered ones.
//!
//! The flags are `VERIFY_ALL_PRE_TAPROOT` (P2SH, DERSIG, NULLDUMMY, CHECKLOCKTIMEVERIFY,
//! CHECKSEQUENCEVERIFY, WITNESS): everything that applies to segwit v0 spends.
//!
//! What this does NOT check: BIP68 relative timelocks. They are enforced by consensus on the
//! input's nSequence field when a transaction enters a block or the mempool, not by the script
//! (our 2-of-2 has no `OP_CHECKSEQUENCEVERIFY`), and libbitcoinconsensus only evaluates
//! scripts. The devnet node tests cover the timelocks; here we only show that the signatures
//! commit to the sequence, so no party can lower a timelock after signing.

use bitcoin::absolute::LockTime;
use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{rand, All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, CompressedPublicKey, OutPoint, PublicKey, ScriptBuf, Sequence, Transaction, TxIn,
    TxOut, Txid, Witness,
};
use confiaro_protocol::btc::{
    fee_for_weight, signature_from_witness, FundingInput, TwoOfTwo, TxCancel, TxEarlyRefund,
    TxError, TxLock, TxPunish, TxRedeem, TxRefund,
};
use confiaro_protocol::Role;

const FLAGS: u32 = bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT;
const LOCK_AMOUNT: Amount = Amount::from_sat(1_000_000);
const FEE_RATE: u64 = 2;
const CANCEL_TIMELOCK: u16 = 12;
const PUNISH_TIMELOCK: u16 = 6;

/// Runs Bitcoin Core's script verification of input `index` of `tx`, which spends `spent`.
fn consensus_verify(tx: &Transaction, index: usize, spent: &TxOut) -> Result<(), String> {
    bitcoinconsensus::verify_with_flags(
        spent.script_pubkey.as_bytes(),
        spent.value.to_sat(),
        &serialize(tx),
        None,
        index,
        FLAGS,
    )
    .map_err(|e| format!("{e:?}"))
}

fn assert_accepted(what: &str, tx: &Transaction, spent: &TxOut) {
    for index in 0..tx.input.len() {
        if let Err(e) = consensus_verify(tx, index, spent) {
            panic!("{what}: input {index} rejected by the script interpreter: {e}");
        }
    }
}

fn assert_rejected(what: &str, tx: &Transaction, spent: &TxOut) {
    assert!(
        consensus_verify(tx, 0, spent).is_err(),
        "{what}: accepted but must be rejected"
    );
}

fn p2wpkh(pk: &PublicKey) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(pk.inner).wpubkey_hash())
}

/// A whole swap's transactions, built from random keys.
struct Swap {
    secp: Secp256k1<All>,
    alice: SecretKey,
    bob: SecretKey,
    two_of_two: TwoOfTwo,
    redeem_address: ScriptBuf,
    refund_address: ScriptBuf,
    punish_address: ScriptBuf,
    lock: TxLock,
    lock_tx: Transaction,
    funding_output: TxOut,
}

impl Swap {
    fn new() -> Swap {
        let secp = Secp256k1::new();
        let mut rng = rand::thread_rng();
        let (alice, alice_pk) = secp.generate_keypair(&mut rng);
        let (bob, bob_pk) = secp.generate_keypair(&mut rng);
        let (funder, funder_pk) = secp.generate_keypair(&mut rng);
        let funder_pk = PublicKey::new(funder_pk);
        let two_of_two = TwoOfTwo::new(PublicKey::new(alice_pk), PublicKey::new(bob_pk))
            .expect("random keys are distinct");

        let address = |secp: &Secp256k1<All>| {
            let (_, pk) = secp.generate_keypair(&mut rand::thread_rng());
            p2wpkh(&PublicKey::new(pk))
        };
        let redeem_address = address(&secp);
        let refund_address = address(&secp);
        // Punish pays to a taproot output, to cover a second destination type.
        let (_, punish_pk) = secp.generate_keypair(&mut rng);
        let punish_address = ScriptBuf::new_p2tr(&secp, punish_pk.x_only_public_key().0, None);

        // A funding transaction paying Bob's wallet key; its own input is irrelevant here.
        let funding_output = TxOut {
            value: Amount::from_sat(2_000_000),
            script_pubkey: p2wpkh(&funder_pk),
        };
        let funding = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([7; 32]),
                    vout: 3,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![funding_output.clone()],
        };

        let lock = TxLock::new(
            vec![FundingInput {
                outpoint: OutPoint {
                    txid: funding.compute_txid(),
                    vout: 0,
                },
                txout: funding_output.clone(),
            }],
            LOCK_AMOUNT,
            two_of_two.clone(),
            Some((p2wpkh(&funder_pk), Amount::from_sat(990_000))),
        )
        .expect("valid lock");

        // The wallet's job: sign the P2WPKH input and finalize the PSBT.
        let sighash = SighashCache::new(lock.unsigned_tx())
            .p2wpkh_signature_hash(
                0,
                &funding_output.script_pubkey,
                funding_output.value,
                EcdsaSighashType::All,
            )
            .expect("input 0 exists");
        let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &funder);
        let mut signed = lock.psbt().clone();
        signed.inputs[0].final_script_witness = Some(Witness::p2wpkh(
            &bitcoin::ecdsa::Signature::sighash_all(sig),
            &funder_pk.inner,
        ));
        let lock_tx = lock.complete(signed).expect("finalized lock");

        Swap {
            secp,
            alice,
            bob,
            two_of_two,
            redeem_address,
            refund_address,
            punish_address,
            lock,
            lock_tx,
            funding_output,
        }
    }

    fn sign(&self, sighash: [u8; 32], key: &SecretKey) -> Signature {
        self.secp.sign_ecdsa(&Message::from_digest(sighash), key)
    }

    /// Both parties' signatures of `sighash`: (Alice's, Bob's).
    fn sign_both(&self, sighash: [u8; 32]) -> (Signature, Signature) {
        (
            self.sign(sighash, &self.alice),
            self.sign(sighash, &self.bob),
        )
    }

    /// The lock's 2-of-2 output, as the spends see it.
    fn lock_output(&self) -> TxOut {
        let vout = usize::try_from(self.lock.outpoint().vout).expect("small index");
        self.lock_tx.output[vout].clone()
    }

    fn redeem(&self) -> TxRedeem {
        let fee = fee_for_weight(FEE_RATE, TxRedeem::max_weight(&self.redeem_address));
        TxRedeem::new(&self.lock, &self.redeem_address, fee).expect("valid redeem")
    }

    fn cancel(&self, timelock: u16) -> TxCancel {
        let fee = fee_for_weight(FEE_RATE, TxCancel::max_weight());
        TxCancel::new(&self.lock, timelock, fee).expect("valid cancel")
    }
}

#[test]
fn lock_is_valid() {
    let swap = Swap::new();
    assert_eq!(swap.lock_tx.compute_txid(), swap.lock.txid());
    assert_accepted("lock", &swap.lock_tx, &swap.funding_output);
    assert_eq!(swap.lock_output().value, LOCK_AMOUNT);
    assert_eq!(
        swap.lock_output().script_pubkey,
        swap.two_of_two.script_pubkey()
    );
}

#[test]
fn every_completed_spend_is_valid() {
    let swap = Swap::new();
    let lock_output = swap.lock_output();

    let redeem = swap.redeem();
    let (a, b) = swap.sign_both(redeem.sighash());
    let redeem_tx = redeem.complete(&a, &b).expect("valid signatures");
    assert_eq!(redeem_tx.compute_txid(), redeem.txid());
    assert_eq!(redeem_tx.input[0].previous_output, swap.lock.outpoint());
    assert_accepted("redeem", &redeem_tx, &lock_output);

    let early_fee = fee_for_weight(FEE_RATE, TxEarlyRefund::max_weight(&swap.refund_address));
    let early = TxEarlyRefund::new(&swap.lock, &swap.refund_address, early_fee).expect("valid");
    let (a, b) = swap.sign_both(early.sighash());
    assert_accepted(
        "early refund",
        &early.complete(&a, &b).expect("valid"),
        &lock_output,
    );

    let cancel = swap.cancel(CANCEL_TIMELOCK);
    let (a, b) = swap.sign_both(cancel.sighash());
    let cancel_tx = cancel.complete(&a, &b).expect("valid signatures");
    assert_accepted("cancel", &cancel_tx, &lock_output);
    let cancel_output = cancel_tx.output[0].clone();
    assert_eq!(cancel_output.value, cancel.amount());

    let refund_fee = fee_for_weight(FEE_RATE, TxRefund::max_weight(&swap.refund_address));
    let refund = TxRefund::new(&cancel, &swap.refund_address, refund_fee).expect("valid");
    let (a, b) = swap.sign_both(refund.sighash());
    let refund_tx = refund.complete(&a, &b).expect("valid signatures");
    assert_eq!(refund_tx.input[0].previous_output, cancel.outpoint());
    assert_accepted("refund", &refund_tx, &cancel_output);

    let punish_fee = fee_for_weight(FEE_RATE, TxPunish::max_weight(&swap.punish_address));
    let punish = TxPunish::new(&cancel, &swap.punish_address, PUNISH_TIMELOCK, punish_fee)
        .expect("valid punish");
    let (a, b) = swap.sign_both(punish.sighash());
    assert_accepted(
        "punish",
        &punish.complete(&a, &b).expect("valid"),
        &cancel_output,
    );

    // Each paid at least the fee rate.
    for (what, tx, fee) in [
        ("redeem", &redeem_tx, redeem.fee()),
        ("cancel", &cancel_tx, cancel.fee()),
        ("refund", &refund_tx, refund.fee()),
    ] {
        assert!(
            fee >= fee_for_weight(FEE_RATE, tx.weight()),
            "{what} pays below the rate"
        );
    }
}

#[test]
fn published_signatures_can_be_read_back() {
    let swap = Swap::new();
    let redeem = swap.redeem();
    let (a, b) = swap.sign_both(redeem.sighash());
    let redeem_tx = redeem.complete(&a, &b).expect("valid signatures");
    let read_a = signature_from_witness(&redeem_tx, &swap.two_of_two, &swap.two_of_two.a)
        .expect("Alice's signature is in the witness");
    let read_b = signature_from_witness(&redeem_tx, &swap.two_of_two, &swap.two_of_two.b)
        .expect("Bob's signature is in the witness");
    assert_eq!(redeem.verify_signature(&swap.two_of_two.a, &read_a), Ok(()));
    assert_eq!(redeem.verify_signature(&swap.two_of_two.b, &read_b), Ok(()));
}

#[test]
fn swapped_signatures_are_rejected() {
    let swap = Swap::new();
    let redeem = swap.redeem();
    let (a, b) = swap.sign_both(redeem.sighash());
    assert_eq!(
        redeem.complete(&b, &a),
        Err(TxError::InvalidSignature { party: Role::Alice })
    );
    let mut tx = redeem.unsigned_tx().clone();
    tx.input[0].witness = swap.two_of_two.witness(&b, &a);
    assert_rejected("redeem with swapped signatures", &tx, &swap.lock_output());
}

#[test]
fn a_signature_from_the_wrong_key_is_rejected() {
    let swap = Swap::new();
    let redeem = swap.redeem();
    let (a, _) = swap.sign_both(redeem.sighash());
    let (mallory, _) = swap.secp.generate_keypair(&mut rand::thread_rng());
    let wrong = swap.sign(redeem.sighash(), &mallory);
    assert_eq!(
        redeem.complete(&a, &wrong),
        Err(TxError::InvalidSignature { party: Role::Bob })
    );
    let mut tx = redeem.unsigned_tx().clone();
    tx.input[0].witness = swap.two_of_two.witness(&a, &wrong);
    assert_rejected("redeem signed by a foreign key", &tx, &swap.lock_output());
    // Alice's key twice does not satisfy the 2-of-2 either.
    tx.input[0].witness = swap.two_of_two.witness(&a, &a);
    assert_rejected("redeem signed twice by Alice", &tx, &swap.lock_output());
}

#[test]
fn a_tampered_output_value_invalidates_the_signatures() {
    let swap = Swap::new();
    let redeem = swap.redeem();
    let (a, b) = swap.sign_both(redeem.sighash());
    let mut tx = redeem.complete(&a, &b).expect("valid signatures");
    tx.output[0].value -= Amount::from_sat(1);
    assert_rejected(
        "redeem with a tampered output value",
        &tx,
        &swap.lock_output(),
    );

    // Claiming a different spent value breaks the BIP143 sighash too.
    let tx = redeem.complete(&a, &b).expect("valid signatures");
    let mut lied = swap.lock_output();
    lied.value += Amount::from_sat(1);
    assert_rejected("redeem against a different spent value", &tx, &lied);
}

#[test]
fn timelocks_are_consensus_rules_not_script_rules() {
    let swap = Swap::new();
    let lock_output = swap.lock_output();

    // A cancel built with a timelock below the agreed one still passes the script
    // interpreter: the 2-of-2 script has no CHECKSEQUENCEVERIFY. BIP68 is enforced by
    // consensus on the input's nSequence field, which libbitcoinconsensus does not check (the
    // devnet node tests do). What protects the timelock is that both parties sign it:
    let short = swap.cancel(1);
    let (a, b) = swap.sign_both(short.sighash());
    assert_accepted(
        "cancel with a 1-block timelock",
        &short.complete(&a, &b).expect("valid"),
        &lock_output,
    );

    // ...the BIP143 sighash commits to nSequence, so lowering the sequence of the agreed,
    // signed cancel invalidates both signatures.
    let cancel = swap.cancel(CANCEL_TIMELOCK);
    let (a, b) = swap.sign_both(cancel.sighash());
    let mut tx = cancel.complete(&a, &b).expect("valid signatures");
    assert_accepted("agreed cancel", &tx, &lock_output);
    tx.input[0].sequence = Sequence::from_height(CANCEL_TIMELOCK - 1);
    assert_rejected("cancel with a lowered sequence", &tx, &lock_output);

    // The same holds for punish.
    let cancel_output = tx.output[0].clone();
    let fee = fee_for_weight(FEE_RATE, TxPunish::max_weight(&swap.punish_address));
    let punish = TxPunish::new(&cancel, &swap.punish_address, PUNISH_TIMELOCK, fee).expect("valid");
    let (a, b) = swap.sign_both(punish.sighash());
    let mut tx = punish.complete(&a, &b).expect("valid signatures");
    tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
    assert_rejected("punish without its timelock", &tx, &cancel_output);
}

/// An unsigned child spending `outpoint` into an empty OP_RETURN (it burns the value).
fn unsigned_child(outpoint: OutPoint) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::new_op_return([]),
        }],
    }
}

/// A child spending `party`'s anchor of `cancel`, signed with `key` (P2WPKH, SIGHASH_ALL).
fn anchor_child(
    swap: &Swap,
    cancel: &TxCancel,
    party: Role,
    key: &SecretKey,
) -> (Transaction, TxOut) {
    let (outpoint, anchor) = cancel.anchor(party).expect("cancel has anchors");
    let mut child = unsigned_child(outpoint);
    let sighash = SighashCache::new(&child)
        .p2wpkh_signature_hash(
            0,
            &anchor.script_pubkey,
            anchor.value,
            EcdsaSighashType::All,
        )
        .expect("input 0 exists");
    let sig = swap.sign(sighash.to_byte_array(), key);
    let pk = bitcoin::secp256k1::PublicKey::from_secret_key(&swap.secp, key);
    child.input[0].witness = Witness::p2wpkh(&bitcoin::ecdsa::Signature::sighash_all(sig), &pk);
    (child, anchor)
}

#[test]
fn each_party_and_only_that_party_can_spend_its_cancel_anchor() {
    let swap = Swap::new();
    let cancel = swap.cancel(CANCEL_TIMELOCK);
    let (alice_child, alice_anchor) = anchor_child(&swap, &cancel, Role::Alice, &swap.alice);
    assert_accepted("Alice's anchor spent by Alice", &alice_child, &alice_anchor);
    let (bob_child, bob_anchor) = anchor_child(&swap, &cancel, Role::Bob, &swap.bob);
    assert_accepted("Bob's anchor spent by Bob", &bob_child, &bob_anchor);
    let (stolen, _) = anchor_child(&swap, &cancel, Role::Alice, &swap.bob);
    assert_rejected(
        "Alice's anchor spent with Bob's key",
        &stolen,
        &alice_anchor,
    );
    // the completed cancel itself stays valid with its anchors
    let (sig_a, sig_b) = swap.sign_both(cancel.sighash());
    let signed = cancel.complete(&sig_a, &sig_b).expect("complete");
    assert_eq!(signed.output.len(), 3);
    assert_accepted("cancel with anchors", &signed, &swap.lock_output());
}

#[test]
fn the_swap_secrets_sign_their_own_anchor_and_no_other_output() {
    use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
    use confiaro_protocol::SwapId;
    let secrets = SwapSecrets::derive(
        &WalletSeed([3; 64]),
        &SwapId([4; 32]),
        Role::Alice,
        &SwapEntropy([5; 32]),
    );
    let key = confiaro_protocol::crypto::to_bitcoin_key(&confiaro_protocol::crypto::secp_public(
        &secrets.btc,
    ));
    let anchor = TxOut {
        value: confiaro_protocol::btc::ANCHOR_VALUE,
        script_pubkey: p2wpkh(&key),
    };
    let mut child = unsigned_child(OutPoint {
        txid: Txid::from_byte_array([8; 32]),
        vout: 1,
    });
    child.input[0].witness = secrets
        .anchor_witness(&child, 0, &anchor)
        .expect("our anchor");
    assert_accepted("anchor spent with the swap secrets", &child, &anchor);
    let foreign = TxOut {
        value: anchor.value,
        script_pubkey: p2wpkh(&PublicKey::new(
            Secp256k1::new().generate_keypair(&mut rand::thread_rng()).1,
        )),
    };
    assert!(secrets.anchor_witness(&child, 0, &foreign).is_err());
    assert!(secrets.anchor_witness(&child, 1, &anchor).is_err());
}
