//! The swap's transactions: the lock ([`TxLock`]) and the five spends of a 2-of-2
//! ([`TxRedeem`], [`TxCancel`], [`TxRefund`], [`TxPunish`], [`TxEarlyRefund`]).
//!
//! The five spends share one implementation, a private `SpendTemplate`: an unsigned
//! version-2 transaction with exactly one input (the spent 2-of-2 output) and one output
//! (cancel adds two keyed anchors after it, see [`ANCHOR_VALUE`](super::ANCHOR_VALUE)), plus
//! the spent value and the spent [`TwoOfTwo`]. Each spend type wraps it and only
//! adds its constructor (which input, which output, which timelock). They all offer the same
//! methods: `txid`, `sighash`, `spent_outpoint`, `spent_value`, `output_value`, `fee`,
//! `unsigned_tx`, `spent_two_of_two`, `verify_signature`, `complete`, plus an associated
//! `max_weight` for fee estimation.
//!
//! [`signature_from_witness`] reads a party's signature back out of a published spend, which
//! is how adaptor secrets are recovered from a redeem or a refund seen on chain.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{Message, Secp256k1};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, OutPoint, PublicKey, Script, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Weight, Witness,
};
use serde::{Deserialize, Serialize};

use super::script::{is_standard_destination, TwoOfTwo};
use super::{TxError, ANCHOR_VALUE, DUST_LIMIT};
use crate::Role;

/// Generates the methods common to the five spend types, each a thin delegation to the one
/// `SpendTemplate` implementation. The type must have a `template: SpendTemplate` field.
macro_rules! impl_spend_methods {
    ($ty:ident) => {
        impl $ty {
            /// The transaction id. Signatures never change it (segwit), so it is final.
            pub fn txid(&self) -> bitcoin::Txid {
                self.template.txid()
            }

            /// The BIP143 `SIGHASH_ALL` digest of input 0 (the 2-of-2 witness script and the
            /// spent value): the message both parties sign, directly or as an adaptor
            /// signature.
            pub fn sighash(&self) -> [u8; 32] {
                self.template.sighash()
            }

            /// The 2-of-2 output this transaction spends.
            pub fn spent_outpoint(&self) -> bitcoin::OutPoint {
                self.template.spent_outpoint()
            }

            /// The value of the spent 2-of-2 output.
            pub fn spent_value(&self) -> bitcoin::Amount {
                self.template.spent_value()
            }

            /// The value of the single output: [`spent_value`](Self::spent_value) minus
            /// [`fee`](Self::fee).
            pub fn output_value(&self) -> bitcoin::Amount {
                self.template.output_value()
            }

            /// The fee this transaction pays (always positive).
            pub fn fee(&self) -> bitcoin::Amount {
                self.template.fee()
            }

            /// The unsigned transaction (empty witness).
            pub fn unsigned_tx(&self) -> &bitcoin::Transaction {
                self.template.unsigned_tx()
            }

            /// The 2-of-2 this transaction spends; its keys must sign.
            pub fn spent_two_of_two(&self) -> &$crate::btc::TwoOfTwo {
                self.template.spent_two_of_two()
            }

            /// Checks that `sig` is `key`'s valid signature of [`sighash`](Self::sighash).
            ///
            /// A high-S signature is accepted (it is normalized first). Call it on every
            /// signature received from the counterparty before relying on it.
            ///
            /// # Errors
            ///
            /// [`TxError::KeyNotInTwoOfTwo`](crate::btc::TxError::KeyNotInTwoOfTwo) if `key`
            /// is neither key of the spent 2-of-2, and
            /// [`TxError::InvalidSignature`](crate::btc::TxError::InvalidSignature) naming
            /// the key's owner if the signature does not verify.
            pub fn verify_signature(
                &self,
                key: &bitcoin::PublicKey,
                sig: &bitcoin::secp256k1::ecdsa::Signature,
            ) -> Result<(), $crate::btc::TxError> {
                self.template.verify_signature(key, sig)
            }

            /// The fully signed transaction, ready to broadcast, from Alice's signature
            /// `sig_a` and Bob's signature `sig_b`.
            ///
            /// Both signatures are verified against the sighash first (and normalized to
            /// low-S, as relay policy demands), so the result is valid if the spent output
            /// exists and any timelock has expired.
            ///
            /// # Errors
            ///
            /// [`TxError::InvalidSignature`](crate::btc::TxError::InvalidSignature) with
            /// `party` `Alice` or `Bob` for the first signature that does not verify.
            pub fn complete(
                &self,
                sig_a: &bitcoin::secp256k1::ecdsa::Signature,
                sig_b: &bitcoin::secp256k1::ecdsa::Signature,
            ) -> Result<bitcoin::Transaction, $crate::btc::TxError> {
                self.template.complete(sig_a, sig_b)
            }
        }
    };
}

mod cancel;
mod early_refund;
mod lock;
mod punish;
mod redeem;
mod refund;

pub use cancel::TxCancel;
pub use early_refund::TxEarlyRefund;
pub use lock::{FundingInput, TxLock};
pub use punish::TxPunish;
pub use redeem::TxRedeem;
pub use refund::TxRefund;

/// Length of the largest ECDSA signature in a witness: 72 bytes of DER plus the sighash byte.
const MAX_SIGNATURE_LEN: usize = 73;

/// The shared body of the five spend types: an unsigned version-2 transaction with one input
/// spending a [`TwoOfTwo`] output and one output.
///
/// Invariants (checked by [`SpendTemplate::new`] and on deserialization): version 2, exactly
/// one input with empty script_sig and witness, a first output to a standard destination of
/// at least [`DUST_LIMIT`], then zero or more anchors (P2WPKH outputs of exactly
/// [`ANCHOR_VALUE`]), and `0 < fee = spent_value - all outputs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpendTemplateRepr")]
pub(crate) struct SpendTemplate {
    tx: Transaction,
    spent_value: Amount,
    spent: TwoOfTwo,
}

/// Unchecked serde form of [`SpendTemplate`].
#[derive(Deserialize)]
struct SpendTemplateRepr {
    tx: Transaction,
    spent_value: Amount,
    spent: TwoOfTwo,
}

impl TryFrom<SpendTemplateRepr> for SpendTemplate {
    type Error = TxError;

    fn try_from(repr: SpendTemplateRepr) -> Result<Self, TxError> {
        let SpendTemplateRepr {
            tx,
            spent_value,
            spent,
        } = repr;
        if tx.version != Version::TWO {
            return Err(TxError::WrongVersion {
                version: tx.version.0,
            });
        }
        let [input] = tx.input.as_slice() else {
            return Err(TxError::MalformedSpend {
                reason: "not exactly one input",
            });
        };
        if !input.script_sig.is_empty() || !input.witness.is_empty() {
            return Err(TxError::MalformedSpend {
                reason: "the input is not unsigned",
            });
        }
        let Some((output, anchors)) = tx.output.split_first() else {
            return Err(TxError::MalformedSpend {
                reason: "no output",
            });
        };
        if anchors
            .iter()
            .any(|a| a.value != ANCHOR_VALUE || !a.script_pubkey.is_p2wpkh())
        {
            return Err(TxError::MalformedSpend {
                reason: "an output after the first is not an anchor",
            });
        }
        let anchor_scripts: Vec<ScriptBuf> =
            anchors.iter().map(|a| a.script_pubkey.clone()).collect();
        let anchors_total = ANCHOR_VALUE * u64::try_from(anchors.len()).unwrap_or(u64::MAX);
        let fee = spent_value
            .checked_sub(output.value)
            .and_then(|rest| rest.checked_sub(anchors_total))
            .ok_or(TxError::MalformedSpend {
                reason: "the outputs exceed the spent value",
            })?;
        let template = SpendTemplate::new(
            input.previous_output,
            spent_value,
            spent,
            input.sequence,
            output.script_pubkey.clone(),
            fee,
            &anchor_scripts,
        )?;
        if template.tx != tx {
            return Err(TxError::MalformedSpend {
                reason: "unexpected lock time",
            });
        }
        Ok(template)
    }
}

impl SpendTemplate {
    /// Builds the unsigned spend of `spent_outpoint` (a `spent_value` output of `spent`) to
    /// `destination`, paying `fee`, with input sequence `sequence` and lock time 0; then one
    /// [`ANCHOR_VALUE`] output to each of `anchors` (P2WPKH scripts), in order.
    fn new(
        spent_outpoint: OutPoint,
        spent_value: Amount,
        spent: TwoOfTwo,
        sequence: Sequence,
        destination: ScriptBuf,
        fee: Amount,
        anchors: &[ScriptBuf],
    ) -> Result<Self, TxError> {
        if !is_standard_destination(&destination) {
            return Err(TxError::NonStandardDestination);
        }
        if fee == Amount::ZERO {
            return Err(TxError::ZeroFee);
        }
        if anchors.iter().any(|a| !a.is_p2wpkh()) {
            return Err(TxError::NonStandardDestination);
        }
        let anchors_total = ANCHOR_VALUE * u64::try_from(anchors.len()).unwrap_or(u64::MAX);
        let output_value = spent_value
            .checked_sub(fee)
            .and_then(|rest| rest.checked_sub(anchors_total))
            .filter(|value| *value > Amount::ZERO)
            .ok_or(TxError::FeeTooHigh {
                fee_sat: fee.to_sat(),
                spent_sat: spent_value.to_sat(),
            })?;
        if output_value < DUST_LIMIT {
            return Err(TxError::BelowDust {
                value_sat: output_value.to_sat(),
                dust_limit_sat: DUST_LIMIT.to_sat(),
            });
        }
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: spent_outpoint,
                script_sig: ScriptBuf::new(),
                sequence,
                witness: Witness::new(),
            }],
            output: std::iter::once(TxOut {
                value: output_value,
                script_pubkey: destination,
            })
            .chain(anchors.iter().map(|script| TxOut {
                value: ANCHOR_VALUE,
                script_pubkey: script.clone(),
            }))
            .collect(),
        };
        Ok(SpendTemplate {
            tx,
            spent_value,
            spent,
        })
    }

    fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }

    fn sighash(&self) -> [u8; 32] {
        SighashCache::new(&self.tx)
            .p2wsh_signature_hash(
                0,
                &self.spent.witness_script(),
                self.spent_value,
                EcdsaSighashType::All,
            )
            .expect("a spend template always has input 0")
            .to_byte_array()
    }

    fn input(&self) -> &TxIn {
        self.tx
            .input
            .first()
            .expect("a spend template always has exactly one input")
    }

    fn output(&self) -> &TxOut {
        self.tx
            .output
            .first()
            .expect("a spend template always has exactly one output")
    }

    fn spent_outpoint(&self) -> OutPoint {
        self.input().previous_output
    }

    fn spent_value(&self) -> Amount {
        self.spent_value
    }

    fn output_value(&self) -> Amount {
        self.output().value
    }

    fn fee(&self) -> Amount {
        let outputs = self.tx.output.iter().map(|o| o.value).sum::<Amount>();
        self.spent_value
            .checked_sub(outputs)
            .expect("a spend template's outputs never exceed the spent value")
    }

    /// The anchor outputs after the first output (only cancel has any).
    fn anchors(&self) -> &[TxOut] {
        &self.tx.output[1..]
    }

    /// Accepts a deserialized template without anchors (every spend but cancel).
    fn require_no_anchors(self) -> Result<Self, TxError> {
        if self.anchors().is_empty() {
            Ok(self)
        } else {
            Err(TxError::MalformedSpend {
                reason: "unexpected anchor outputs",
            })
        }
    }

    fn unsigned_tx(&self) -> &Transaction {
        &self.tx
    }

    fn spent_two_of_two(&self) -> &TwoOfTwo {
        &self.spent
    }

    /// Accepts a deserialized template of a spend without timelock (sequence
    /// `0xFFFFFFFD`, as every constructor without timelock sets it).
    fn require_no_timelock(self) -> Result<Self, TxError> {
        if self.input().sequence == Sequence::ENABLE_RBF_NO_LOCKTIME {
            self.require_no_anchors()
        } else {
            Err(TxError::MalformedSpend {
                reason: "unexpected input sequence",
            })
        }
    }

    /// Accepts a deserialized template of a spend with a non-zero relative block timelock
    /// set by `Sequence::from_height`.
    fn require_timelock(self) -> Result<Self, TxError> {
        match self.relative_timelock() {
            Some(blocks)
                if blocks > 0 && self.input().sequence == Sequence::from_height(blocks) =>
            {
                Ok(self)
            }
            _ => Err(TxError::MalformedSpend {
                reason: "missing relative timelock",
            }),
        }
    }

    /// The relative timelock of a template accepted by `require_timelock` or built with one.
    fn timelock(&self) -> u16 {
        self.relative_timelock()
            .expect("a timelocked spend template has a block timelock")
    }

    /// The relative block timelock of the input, `None` if the input has none.
    fn relative_timelock(&self) -> Option<u16> {
        match self.input().sequence.to_relative_lock_time() {
            Some(bitcoin::relative::LockTime::Blocks(height)) => Some(height.value()),
            _ => None,
        }
    }

    fn verify_signature(&self, key: &PublicKey, sig: &Signature) -> Result<(), TxError> {
        let party = if *key == self.spent.a {
            Role::Alice
        } else if *key == self.spent.b {
            Role::Bob
        } else {
            return Err(TxError::KeyNotInTwoOfTwo);
        };
        self.check_party_signature(party, sig).map(|_| ())
    }

    /// Verifies `sig` as `party`'s signature and returns it normalized to low-S.
    fn check_party_signature(&self, party: Role, sig: &Signature) -> Result<Signature, TxError> {
        let mut normalized = *sig;
        normalized.normalize_s();
        let message = Message::from_digest(self.sighash());
        Secp256k1::verification_only()
            .verify_ecdsa(&message, &normalized, &self.spent.key(party).inner)
            .map_err(|_| TxError::InvalidSignature { party })?;
        Ok(normalized)
    }

    fn complete(&self, sig_a: &Signature, sig_b: &Signature) -> Result<Transaction, TxError> {
        let sig_a = self.check_party_signature(Role::Alice, sig_a)?;
        let sig_b = self.check_party_signature(Role::Bob, sig_b)?;
        let mut tx = self.tx.clone();
        tx.input[0].witness = self.spent.witness(&sig_a, &sig_b);
        Ok(tx)
    }
}

/// The exact weight of a fully signed spend of a 2-of-2 paying to `destination`, assuming
/// both signatures have the maximal length of 73 bytes (72 DER + 1 sighash byte).
///
/// Real signatures are 71 to 73 bytes, so a signed spend weighs at most this and usually
/// 1 or 2 weight units less per signature. `anchors` P2WPKH anchor outputs follow.
fn max_spend_weight(destination: &Script, anchors: usize) -> Weight {
    // Any two distinct compressed keys give a witness script of the same length.
    let dummy_key = |byte: u8| {
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32])
            .expect("a constant in 1..n is a valid secret key");
        PublicKey::new(sk.public_key(&Secp256k1::signing_only()))
    };
    let two_of_two = TwoOfTwo::new(dummy_key(1), dummy_key(2))
        .expect("two distinct compressed constant keys form a 2-of-2");
    let mut witness = Witness::new();
    witness.push([]);
    witness.push([0u8; MAX_SIGNATURE_LEN]);
    witness.push([0u8; MAX_SIGNATURE_LEN]);
    witness.push(two_of_two.witness_script().as_bytes());
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness,
        }],
        output: std::iter::once(destination.to_owned())
            .chain(std::iter::repeat_n(
                ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::all_zeros()),
                anchors,
            ))
            .map(|script_pubkey| TxOut {
                value: Amount::ZERO,
                script_pubkey,
            })
            .collect(),
    };
    tx.weight()
}

/// Extracts the signature that `key` made in `tx`, a published spend of `two_of_two`.
///
/// Input 0's witness must be `[<empty>, <sig_A>, <sig_B>, <witness script>]` with the
/// witness script of `two_of_two`; element 1 is returned for Alice's key, element 2 for
/// Bob's. Call it on a redeem or refund seen on chain to recover the counterparty's completed
/// adaptor signature. The signature is only parsed, not verified: compare it against the
/// expected sighash (or the adaptor signature) before use.
///
/// # Errors
///
/// [`TxError::KeyNotInTwoOfTwo`] if `key` is neither key of `two_of_two`, and
/// [`TxError::MalformedWitness`] if `tx` has no input, the witness does not have that shape,
/// or the signature is not a strict-DER `SIGHASH_ALL` signature. Never panics.
pub fn signature_from_witness(
    tx: &Transaction,
    two_of_two: &TwoOfTwo,
    key: &PublicKey,
) -> Result<Signature, TxError> {
    let index = if *key == two_of_two.a {
        1
    } else if *key == two_of_two.b {
        2
    } else {
        return Err(TxError::KeyNotInTwoOfTwo);
    };
    let input = tx.input.first().ok_or(TxError::MalformedWitness {
        reason: "the transaction has no input",
    })?;
    let witness = &input.witness;
    if witness.len() != 4 {
        return Err(TxError::MalformedWitness {
            reason: "the witness does not have 4 elements",
        });
    }
    if witness.nth(0) != Some(&[][..]) {
        return Err(TxError::MalformedWitness {
            reason: "the multisig dummy element is not empty",
        });
    }
    if witness.nth(3) != Some(two_of_two.witness_script().as_bytes()) {
        return Err(TxError::MalformedWitness {
            reason: "the witness script is not the expected 2-of-2",
        });
    }
    let bytes = witness.nth(index).ok_or(TxError::MalformedWitness {
        reason: "the signature element is missing",
    })?;
    let sig =
        bitcoin::ecdsa::Signature::from_slice(bytes).map_err(|_| TxError::MalformedWitness {
            reason: "the signature is not a valid encoding",
        })?;
    if sig.sighash_type != EcdsaSighashType::All {
        return Err(TxError::MalformedWitness {
            reason: "the signature is not SIGHASH_ALL",
        });
    }
    Ok(sig.signature)
}

/// Shared fixtures of the unit tests of this module's files.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use bitcoin::CompressedPublicKey;

    pub(crate) const LOCK_AMOUNT: Amount = Amount::from_sat(1_000_000);
    pub(crate) const FEE: Amount = Amount::from_sat(1_000);

    pub(crate) fn secret(byte: u8) -> SecretKey {
        SecretKey::from_slice(&[byte; 32]).expect("valid secret key")
    }

    pub(crate) fn public(byte: u8) -> PublicKey {
        PublicKey::new(secret(byte).public_key(&Secp256k1::signing_only()))
    }

    /// Alice's key is secret 1, Bob's is secret 2.
    pub(crate) fn two_of_two() -> TwoOfTwo {
        TwoOfTwo::new(public(1), public(2)).expect("distinct keys")
    }

    pub(crate) fn p2wpkh(byte: u8) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&CompressedPublicKey(public(byte).inner).wpubkey_hash())
    }

    pub(crate) fn p2pkh(byte: u8) -> ScriptBuf {
        ScriptBuf::new_p2pkh(&public(byte).pubkey_hash())
    }

    pub(crate) fn p2tr(byte: u8) -> ScriptBuf {
        let (xonly, _) = public(byte).inner.x_only_public_key();
        ScriptBuf::new_p2tr(&Secp256k1::verification_only(), xonly, None)
    }

    pub(crate) fn funding_input(vout: u32, value: Amount) -> lock::FundingInput {
        lock::FundingInput {
            outpoint: OutPoint {
                txid: Txid::from_byte_array([9; 32]),
                vout,
            },
            txout: TxOut {
                value,
                script_pubkey: p2wpkh(7),
            },
        }
    }

    pub(crate) fn lock() -> TxLock {
        TxLock::new(
            vec![funding_input(0, Amount::from_sat(2_000_000))],
            LOCK_AMOUNT,
            two_of_two(),
            Some((p2wpkh(8), Amount::from_sat(990_000))),
        )
        .expect("valid lock")
    }

    /// Deterministic (RFC 6979) signature of `sighash` with secret `byte`.
    pub(crate) fn sign(sighash: [u8; 32], byte: u8) -> Signature {
        Secp256k1::signing_only().sign_ecdsa(&Message::from_digest(sighash), &secret(byte))
    }

    /// A transaction's weight must not exceed `max` and be at most 2 wu per signature below.
    pub(crate) fn assert_weight_close(tx: &Transaction, max: Weight) {
        let weight = tx.weight();
        assert!(weight <= max, "{weight} exceeds the maximum {max}");
        assert!(
            max - weight <= Weight::from_wu(4),
            "{weight} is too far below {max}"
        );
    }

    /// Round-trips `value` through JSON and bincode.
    pub(crate) fn assert_serde_round_trip<T>(value: &T)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let json = serde_json::to_string(value).expect("serializes to json");
        assert_eq!(
            &serde_json::from_str::<T>(&json).expect("deserializes from json"),
            value
        );
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(value, config).expect("serializes to bincode");
        let (decoded, read): (T, usize) =
            bincode::serde::decode_from_slice(&bytes, config).expect("deserializes from bincode");
        assert_eq!(read, bytes.len());
        assert_eq!(&decoded, value);
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn redeem_and_signed() -> (TxRedeem, Transaction) {
        let redeem = TxRedeem::new(&lock(), &p2wpkh(5), FEE).expect("valid redeem");
        let tx = redeem
            .complete(&sign(redeem.sighash(), 1), &sign(redeem.sighash(), 2))
            .expect("valid signatures");
        (redeem, tx)
    }

    #[test]
    fn signature_from_witness_returns_each_partys_signature() {
        let (redeem, tx) = redeem_and_signed();
        let tot = two_of_two();
        let mut expected_a = sign(redeem.sighash(), 1);
        expected_a.normalize_s();
        let mut expected_b = sign(redeem.sighash(), 2);
        expected_b.normalize_s();
        assert_eq!(signature_from_witness(&tx, &tot, &tot.a), Ok(expected_a));
        assert_eq!(signature_from_witness(&tx, &tot, &tot.b), Ok(expected_b));
        assert_eq!(
            signature_from_witness(&tx, &tot, &public(3)),
            Err(TxError::KeyNotInTwoOfTwo)
        );
    }

    #[test]
    fn signature_from_witness_rejects_malformed_witnesses() {
        let (_, tx) = redeem_and_signed();
        let tot = two_of_two();
        let with_witness = |elements: Vec<Vec<u8>>| {
            let mut tx = tx.clone();
            tx.input[0].witness = Witness::from_slice(&elements);
            tx
        };
        let elements: Vec<Vec<u8>> = tx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
        let malformed = |tx: &Transaction| {
            matches!(
                signature_from_witness(tx, &tot, &tot.a),
                Err(TxError::MalformedWitness { .. })
            )
        };

        let mut no_input = tx.clone();
        no_input.input.clear();
        assert!(malformed(&no_input));
        assert!(malformed(&with_witness(vec![])));
        assert!(malformed(&with_witness(elements[..3].to_vec())));
        let mut dummy = elements.clone();
        dummy[0] = vec![1];
        assert!(malformed(&with_witness(dummy)));
        let mut script = elements.clone();
        script[3] = TwoOfTwo::new(public(2), public(1))
            .expect("keys")
            .witness_script()
            .to_bytes();
        assert!(malformed(&with_witness(script)));
        let mut empty_sig = elements.clone();
        empty_sig[1] = vec![];
        assert!(malformed(&with_witness(empty_sig)));
        let mut bad_der = elements.clone();
        bad_der[1] = vec![0x30, 0x01, 0x02, 0x01];
        assert!(malformed(&with_witness(bad_der)));
        let mut sighash_none = elements.clone();
        if let Some(last) = sighash_none[1].last_mut() {
            *last = 0x02;
        }
        assert!(malformed(&with_witness(sighash_none)));
        // Bob's signature is still readable from the untouched element.
        let mut only_a_broken = elements;
        only_a_broken[1] = vec![];
        assert!(signature_from_witness(&with_witness(only_a_broken), &tot, &tot.b).is_ok());
    }

    #[test]
    fn max_spend_weight_depends_on_destination_length() {
        let p2wpkh_weight = max_spend_weight(&p2wpkh(1), 0);
        let p2tr_weight = max_spend_weight(&p2tr(1), 0);
        // 12 more script bytes, non-witness data: 4 wu each.
        assert_eq!(p2tr_weight - p2wpkh_weight, Weight::from_wu(48));
    }

    #[test]
    fn verify_signature_names_the_party() {
        let (redeem, _) = redeem_and_signed();
        let tot = two_of_two();
        let sighash = redeem.sighash();
        assert_eq!(redeem.verify_signature(&tot.a, &sign(sighash, 1)), Ok(()));
        assert_eq!(redeem.verify_signature(&tot.b, &sign(sighash, 2)), Ok(()));
        assert_eq!(
            redeem.verify_signature(&tot.a, &sign(sighash, 2)),
            Err(TxError::InvalidSignature { party: Role::Alice })
        );
        assert_eq!(
            redeem.verify_signature(&tot.b, &sign([0; 32], 2)),
            Err(TxError::InvalidSignature { party: Role::Bob })
        );
        assert_eq!(
            redeem.verify_signature(&public(3), &sign(sighash, 3)),
            Err(TxError::KeyNotInTwoOfTwo)
        );
    }

    #[test]
    fn complete_accepts_high_s_and_normalizes() {
        let (redeem, _) = redeem_and_signed();
        let sig_a = sign(redeem.sighash(), 1);
        // Negate s: (r, n - s) is the high-S twin of a low-S signature.
        let compact = sig_a.serialize_compact();
        let s = bitcoin::secp256k1::SecretKey::from_slice(&compact[32..]).expect("s is a scalar");
        let mut high = compact;
        high[32..].copy_from_slice(&s.negate().secret_bytes());
        let high_sig = Signature::from_compact(&high).expect("valid compact signature");
        assert_ne!(high_sig, sig_a);
        let tx = redeem
            .complete(&high_sig, &sign(redeem.sighash(), 2))
            .expect("normalized");
        let tot = two_of_two();
        assert_eq!(signature_from_witness(&tx, &tot, &tot.a), Ok(sig_a));
    }

    #[test]
    fn complete_rejects_each_wrong_signature() {
        let (redeem, _) = redeem_and_signed();
        let sighash = redeem.sighash();
        assert_eq!(
            redeem.complete(&sign(sighash, 2), &sign(sighash, 2)),
            Err(TxError::InvalidSignature { party: Role::Alice })
        );
        assert_eq!(
            redeem.complete(&sign(sighash, 1), &sign(sighash, 1)),
            Err(TxError::InvalidSignature { party: Role::Bob })
        );
        assert_eq!(
            redeem.complete(&sign(sighash, 2), &sign(sighash, 1)),
            Err(TxError::InvalidSignature { party: Role::Alice })
        );
    }

    #[test]
    fn deserialization_rejects_malformed_templates() {
        let redeem = TxRedeem::new(&lock(), &p2wpkh(5), FEE).expect("valid redeem");
        let json = serde_json::to_value(&redeem).expect("serializes");
        let reject = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut value = json.clone();
            edit(&mut value);
            assert!(serde_json::from_value::<TxRedeem>(value).is_err());
        };
        // Output above the spent value.
        reject(&|v| v["spent_value"] = serde_json::json!(1_000));
        // Zero fee.
        reject(&|v| v["spent_value"] = v["tx"]["output"][0]["value"].clone());
        // Two outputs.
        reject(&|v| {
            let out = v["tx"]["output"][0].clone();
            v["tx"]["output"].as_array_mut().expect("array").push(out);
        });
        // Version 1.
        reject(&|v| v["tx"]["version"] = serde_json::json!(1));
        // Non-zero lock time.
        reject(&|v| v["tx"]["lock_time"] = serde_json::json!(5));
        assert_eq!(
            serde_json::from_value::<TxRedeem>(json).expect("untouched"),
            redeem
        );
    }
}
