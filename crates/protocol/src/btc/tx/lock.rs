//! The lock transaction: Bob's wallet pays the swap amount into the 2-of-2.
//!
//! Bob builds the unsigned lock as a PSBT with [`TxLock::new`] and sends it to Alice, who
//! validates it with [`TxLock::from_psbt`]. Both then pre-sign the spends of its 2-of-2
//! output; only afterwards does Bob's wallet sign the PSBT, and [`TxLock::complete`] checks
//! the signed PSBT and extracts the transaction to broadcast. Signing the wallet inputs is
//! the wallet's job, not this crate's.
//!
//! Every input must spend a native segwit output (P2WPKH, P2WSH or P2TR), so that signing
//! cannot change the txid the pre-signed spends refer to.

use std::collections::HashSet;
use std::str::FromStr;

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, OutPoint, Psbt, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use serde::{Deserialize, Serialize};

use crate::btc::script::{is_standard_destination, TwoOfTwo};
use crate::btc::{TxError, DUST_LIMIT};

/// A wallet output that funds the lock transaction, with the output itself so the value and
/// script are known without a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingInput {
    /// The output to spend.
    pub outpoint: OutPoint,
    /// The output's value and script_pubkey; the script must be P2WPKH, P2WSH or P2TR.
    pub txout: TxOut,
}

/// The lock transaction, as an unsigned PSBT whose output at [`TxLock::outpoint`] pays
/// exactly [`TxLock::amount`] to [`TxLock::two_of_two`].
///
/// Guarantees (checked by both constructors and on deserialization): version 2; at least one
/// input, none spent twice, every input with a native segwit `witness_utxo`; exactly one
/// output paying to the 2-of-2, of exactly the agreed amount; a positive fee.
///
/// Serialized, the PSBT is a base64 string in human-readable formats and its BIP174 bytes in
/// binary ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TxLockRepr", into = "TxLockRepr")]
pub struct TxLock {
    psbt: Psbt,
    amount: Amount,
    two_of_two: TwoOfTwo,
}

/// Serde form of [`TxLock`]; validated by [`TxLock::from_psbt`] when deserialized.
#[derive(Serialize, Deserialize)]
struct TxLockRepr {
    #[serde(with = "psbt_serde")]
    psbt: Psbt,
    amount: Amount,
    two_of_two: TwoOfTwo,
}

impl From<TxLock> for TxLockRepr {
    fn from(lock: TxLock) -> Self {
        TxLockRepr {
            psbt: lock.psbt,
            amount: lock.amount,
            two_of_two: lock.two_of_two,
        }
    }
}

impl TryFrom<TxLockRepr> for TxLock {
    type Error = TxError;

    fn try_from(repr: TxLockRepr) -> Result<Self, TxError> {
        TxLock::from_psbt(repr.psbt, repr.amount, repr.two_of_two)
    }
}

impl TxLock {
    /// Builds the unsigned lock PSBT spending `inputs`, paying `amount` to `two_of_two` at
    /// output 0 and, if given, `change = (script_pubkey, value)` at output 1. The fee is
    /// whatever the inputs hold beyond the outputs.
    ///
    /// The transaction has version 2 and lock time 0; every input has sequence
    /// `0xFFFFFFFD` (replaceable, no relative lock) and its `witness_utxo` set.
    ///
    /// # Errors
    ///
    /// - [`TxError::NoInputs`] if `inputs` is empty;
    /// - [`TxError::DuplicateInput`] if an outpoint appears twice;
    /// - [`TxError::NonSegwitInput`] if an input's script is not P2WPKH, P2WSH or P2TR;
    /// - [`TxError::ZeroAmount`] if `amount` is zero;
    /// - [`TxError::BelowDust`] if `amount` or the change is below [`DUST_LIMIT`];
    /// - [`TxError::NonStandardDestination`] if the change script is not a standard
    ///   destination;
    /// - [`TxError::InsufficientFunds`] if the inputs do not exceed `amount` plus change;
    /// - [`TxError::MultipleLockOutputs`] if the change pays to the 2-of-2 as well;
    /// - [`TxError::AmountOverflow`] if a sum overflows.
    pub fn new(
        inputs: Vec<FundingInput>,
        amount: Amount,
        two_of_two: TwoOfTwo,
        change: Option<(ScriptBuf, Amount)>,
    ) -> Result<TxLock, TxError> {
        if inputs.is_empty() {
            return Err(TxError::NoInputs);
        }
        check_lock_amount(amount)?;
        let mut output = vec![TxOut {
            value: amount,
            script_pubkey: two_of_two.script_pubkey(),
        }];
        if let Some((script_pubkey, value)) = change {
            if !is_standard_destination(&script_pubkey) {
                return Err(TxError::NonStandardDestination);
            }
            if value < DUST_LIMIT {
                return Err(TxError::BelowDust {
                    value_sat: value.to_sat(),
                    dust_limit_sat: DUST_LIMIT.to_sat(),
                });
            }
            output.push(TxOut {
                value,
                script_pubkey,
            });
        }
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: inputs
                .iter()
                .map(|input| TxIn {
                    previous_output: input.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output,
        };
        let mut psbt = Psbt::from_unsigned_tx(tx)
            .expect("a transaction without script_sig or witness is a valid unsigned transaction");
        for (psbt_input, input) in psbt.inputs.iter_mut().zip(inputs) {
            psbt_input.witness_utxo = Some(input.txout);
        }
        TxLock::from_psbt(psbt, amount, two_of_two)
    }

    /// Validates a lock PSBT received from the counterparty, which must pay `amount` to
    /// `two_of_two`; the 2-of-2 output may be at any index.
    ///
    /// Alice calls this on Bob's proposed lock before signing anything that spends it. The
    /// input values are taken from the PSBT's `witness_utxo` fields; a lie there only makes
    /// Bob's own wallet signature invalid (BIP143 and BIP341 sign the spent value).
    ///
    /// # Errors
    ///
    /// - [`TxError::WrongVersion`] if the transaction is not version 2;
    /// - [`TxError::PsbtShape`] if the PSBT's input or output maps do not match its
    ///   transaction, [`TxError::MalformedSpend`] if an input already has a script_sig or
    ///   witness in the unsigned transaction;
    /// - [`TxError::NoInputs`], [`TxError::DuplicateInput`];
    /// - [`TxError::MissingWitnessUtxo`] if an input has no `witness_utxo`,
    ///   [`TxError::NonSegwitInput`] if it is not native segwit;
    /// - [`TxError::ZeroAmount`], [`TxError::BelowDust`] for an unusable `amount`;
    /// - [`TxError::LockOutputMissing`] if no output pays to `two_of_two`,
    ///   [`TxError::MultipleLockOutputs`] if several do, [`TxError::WrongLockAmount`] if it
    ///   holds another amount;
    /// - [`TxError::InsufficientFunds`] if the fee is not positive,
    ///   [`TxError::AmountOverflow`] if a sum overflows.
    pub fn from_psbt(psbt: Psbt, amount: Amount, two_of_two: TwoOfTwo) -> Result<TxLock, TxError> {
        let tx = &psbt.unsigned_tx;
        if tx.version != Version::TWO {
            return Err(TxError::WrongVersion {
                version: tx.version.0,
            });
        }
        check_psbt_shape(&psbt)?;
        if tx.input.is_empty() {
            return Err(TxError::NoInputs);
        }
        let mut seen = HashSet::with_capacity(tx.input.len());
        let mut inputs_total = Amount::ZERO;
        for (index, (txin, psbt_input)) in tx.input.iter().zip(&psbt.inputs).enumerate() {
            if !seen.insert(txin.previous_output) {
                return Err(TxError::DuplicateInput {
                    index,
                    outpoint: txin.previous_output,
                });
            }
            if !txin.script_sig.is_empty() || !txin.witness.is_empty() {
                return Err(TxError::MalformedSpend {
                    reason: "an input of the unsigned lock transaction has a script_sig or witness",
                });
            }
            let utxo = psbt_input
                .witness_utxo
                .as_ref()
                .ok_or(TxError::MissingWitnessUtxo { index })?;
            if !is_native_segwit(&utxo.script_pubkey) {
                return Err(TxError::NonSegwitInput { index });
            }
            inputs_total = inputs_total
                .checked_add(utxo.value)
                .ok_or(TxError::AmountOverflow)?;
        }
        check_lock_amount(amount)?;
        let lock_vout = find_lock_output(tx, &two_of_two)?;
        let found = tx.output[lock_vout].value;
        if found != amount {
            return Err(TxError::WrongLockAmount {
                expected_sat: amount.to_sat(),
                found_sat: found.to_sat(),
            });
        }
        let outputs_total = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |sum, out| sum.checked_add(out.value))
            .ok_or(TxError::AmountOverflow)?;
        if inputs_total <= outputs_total {
            return Err(TxError::InsufficientFunds {
                inputs_sat: inputs_total.to_sat(),
                outputs_sat: outputs_total.to_sat(),
            });
        }
        Ok(TxLock {
            psbt,
            amount,
            two_of_two,
        })
    }

    /// The txid of the lock transaction. All inputs are native segwit, so signing does not
    /// change it: the pre-signed spends stay valid.
    pub fn txid(&self) -> Txid {
        self.psbt.unsigned_tx.compute_txid()
    }

    /// The 2-of-2 output, which redeem, cancel and early refund spend.
    pub fn outpoint(&self) -> OutPoint {
        let vout = find_lock_output(&self.psbt.unsigned_tx, &self.two_of_two)
            .expect("a TxLock always has exactly one 2-of-2 output");
        OutPoint {
            txid: self.txid(),
            vout: u32::try_from(vout).expect("a valid transaction has fewer than 2^32 outputs"),
        }
    }

    /// The amount locked in the 2-of-2.
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// The 2-of-2 the lock pays to.
    pub fn two_of_two(&self) -> &TwoOfTwo {
        &self.two_of_two
    }

    /// The unsigned PSBT, to be sent to the counterparty or to the wallet for signing.
    pub fn psbt(&self) -> &Psbt {
        &self.psbt
    }

    /// The fee: the inputs' `witness_utxo` values minus all outputs. Always positive.
    pub fn fee(&self) -> Amount {
        let inputs = self
            .psbt
            .inputs
            .iter()
            .filter_map(|input| input.witness_utxo.as_ref())
            .try_fold(Amount::ZERO, |sum, utxo| sum.checked_add(utxo.value));
        let outputs = self
            .psbt
            .unsigned_tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |sum, out| sum.checked_add(out.value));
        inputs
            .zip(outputs)
            .and_then(|(inputs, outputs)| inputs.checked_sub(outputs))
            .expect("a TxLock's inputs are summable and exceed its summable outputs")
    }

    /// The weight the signed lock is expected to have: the unsigned transaction plus a
    /// P2WPKH-sized witness (108 weight units) per input. Exact for P2WPKH inputs, an
    /// overestimate for P2TR key spends and an underestimate for large P2WSH scripts.
    pub fn estimated_weight(&self) -> bitcoin::Weight {
        const WITNESS_PER_INPUT_WU: u64 = 1 + (1 + 72) + (1 + 33);
        const SEGWIT_MARKER_WU: u64 = 2;
        let tx = &self.psbt.unsigned_tx;
        tx.weight()
            + bitcoin::Weight::from_wu(
                SEGWIT_MARKER_WU + WITNESS_PER_INPUT_WU * tx.input.len() as u64,
            )
    }

    /// The unsigned lock transaction.
    pub fn unsigned_tx(&self) -> &Transaction {
        &self.psbt.unsigned_tx
    }

    /// Checks a PSBT signed and finalized by the wallet and extracts the lock transaction to
    /// broadcast.
    ///
    /// The signatures themselves are not verified (that needs the spent outputs' scripts
    /// evaluated; a node will reject a bad one), but the transaction is guaranteed to be the
    /// agreed one with the agreed txid.
    ///
    /// # Errors
    ///
    /// [`TxError::TxidMismatch`] if `signed` is not a signature of this lock's unsigned
    /// transaction, [`TxError::PsbtShape`] if its input maps do not match, and
    /// [`TxError::InputNotFinalized`] if an input lacks a non-empty `final_script_witness`
    /// or has a non-empty `final_script_sig`.
    pub fn complete(&self, signed: Psbt) -> Result<Transaction, TxError> {
        let expected = self.txid();
        let found = signed.unsigned_tx.compute_txid();
        if found != expected {
            return Err(TxError::TxidMismatch { expected, found });
        }
        check_psbt_shape(&signed)?;
        for (index, input) in signed.inputs.iter().enumerate() {
            let has_witness = input
                .final_script_witness
                .as_ref()
                .is_some_and(|w| !w.is_empty());
            let has_script_sig = input
                .final_script_sig
                .as_ref()
                .is_some_and(|s| !s.is_empty());
            if !has_witness || has_script_sig {
                return Err(TxError::InputNotFinalized { index });
            }
        }
        let tx = signed.extract_tx_unchecked_fee_rate();
        let found = tx.compute_txid();
        if found != expected {
            return Err(TxError::TxidMismatch { expected, found });
        }
        Ok(tx)
    }
}

/// Rejects a lock amount of zero or below dust.
fn check_lock_amount(amount: Amount) -> Result<(), TxError> {
    if amount == Amount::ZERO {
        return Err(TxError::ZeroAmount);
    }
    if amount < DUST_LIMIT {
        return Err(TxError::BelowDust {
            value_sat: amount.to_sat(),
            dust_limit_sat: DUST_LIMIT.to_sat(),
        });
    }
    Ok(())
}

/// Checks that the PSBT has one input map per input and one output map per output.
fn check_psbt_shape(psbt: &Psbt) -> Result<(), TxError> {
    let tx = &psbt.unsigned_tx;
    if psbt.inputs.len() != tx.input.len() {
        return Err(TxError::PsbtShape {
            what: "input",
            maps: psbt.inputs.len(),
            tx: tx.input.len(),
        });
    }
    if psbt.outputs.len() != tx.output.len() {
        return Err(TxError::PsbtShape {
            what: "output",
            maps: psbt.outputs.len(),
            tx: tx.output.len(),
        });
    }
    Ok(())
}

/// Index of the single output of `tx` paying to `two_of_two`.
fn find_lock_output(tx: &Transaction, two_of_two: &TwoOfTwo) -> Result<usize, TxError> {
    let script_pubkey = two_of_two.script_pubkey();
    let mut matching = tx
        .output
        .iter()
        .enumerate()
        .filter(|(_, out)| out.script_pubkey == script_pubkey)
        .map(|(index, _)| index);
    let first = matching.next().ok_or(TxError::LockOutputMissing)?;
    let others = matching.count();
    if others > 0 {
        return Err(TxError::MultipleLockOutputs { count: others + 1 });
    }
    Ok(first)
}

/// Whether spending an output with `script_pubkey` leaves the txid unchanged by signing.
fn is_native_segwit(script_pubkey: &bitcoin::Script) -> bool {
    script_pubkey.is_p2wpkh() || script_pubkey.is_p2wsh() || script_pubkey.is_p2tr()
}

/// Serde for a PSBT: base64 in human-readable formats, BIP174 bytes in binary ones.
mod psbt_serde {
    use super::*;
    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub(super) fn serialize<S: Serializer>(psbt: &Psbt, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(psbt)
        } else {
            serializer.serialize_bytes(&psbt.serialize())
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Psbt, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Psbt::from_str(&text).map_err(D::Error::custom)
        } else {
            deserializer.deserialize_byte_buf(BytesVisitor)
        }
    }

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Psbt;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the bytes of a BIP174 psbt")
        }

        fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Psbt, E> {
            Psbt::deserialize(bytes).map_err(E::custom)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Psbt, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(byte) = seq.next_element::<u8>()? {
                bytes.push(byte);
            }
            self.visit_bytes(&bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;

    fn input(vout: u32, sat: u64) -> FundingInput {
        funding_input(vout, Amount::from_sat(sat))
    }

    fn change(sat: u64) -> Option<(ScriptBuf, Amount)> {
        Some((p2wpkh(8), Amount::from_sat(sat)))
    }

    #[test]
    fn new_builds_the_agreed_psbt() {
        let lock = TxLock::new(
            vec![input(0, 700_000), input(1, 600_000)],
            LOCK_AMOUNT,
            two_of_two(),
            change(299_000),
        )
        .expect("valid lock");
        let tx = lock.unsigned_tx();
        assert_eq!(tx.version, Version::TWO);
        assert_eq!(tx.lock_time, LockTime::ZERO);
        assert!(tx.input.iter().all(|i| i.sequence == Sequence(0xFFFF_FFFD)));
        assert_eq!(tx.output[0].script_pubkey, two_of_two().script_pubkey());
        assert_eq!(tx.output[0].value, LOCK_AMOUNT);
        assert_eq!(tx.output[1].value, Amount::from_sat(299_000));
        assert!(lock.psbt().inputs.iter().all(|i| i.witness_utxo.is_some()));
        assert_eq!(
            lock.outpoint(),
            OutPoint {
                txid: lock.txid(),
                vout: 0
            }
        );
        assert_eq!(lock.fee(), Amount::from_sat(1_000));
        assert_eq!(lock.amount(), LOCK_AMOUNT);
        assert_eq!(lock.two_of_two(), &two_of_two());
        // Without change, everything above the amount is fee.
        let lock = TxLock::new(vec![input(0, 1_000_500)], LOCK_AMOUNT, two_of_two(), None)
            .expect("valid lock");
        assert_eq!(lock.unsigned_tx().output.len(), 1);
        assert_eq!(lock.fee(), Amount::from_sat(500));
    }

    #[test]
    fn new_rejects_bad_parameters() {
        let tot = two_of_two();
        assert_eq!(
            TxLock::new(vec![], LOCK_AMOUNT, tot.clone(), None),
            Err(TxError::NoInputs)
        );
        assert_eq!(
            TxLock::new(vec![input(0, 2_000_000)], Amount::ZERO, tot.clone(), None),
            Err(TxError::ZeroAmount)
        );
        assert_eq!(
            TxLock::new(
                vec![input(0, 2_000_000)],
                Amount::from_sat(545),
                tot.clone(),
                None
            ),
            Err(TxError::BelowDust {
                value_sat: 545,
                dust_limit_sat: 546
            })
        );
        assert_eq!(
            TxLock::new(
                vec![input(0, 2_000_000)],
                LOCK_AMOUNT,
                tot.clone(),
                change(545)
            ),
            Err(TxError::BelowDust {
                value_sat: 545,
                dust_limit_sat: 546
            })
        );
        assert_eq!(
            TxLock::new(
                vec![input(0, 2_000_000)],
                LOCK_AMOUNT,
                tot.clone(),
                Some((ScriptBuf::new_op_return([1]), Amount::from_sat(10_000)))
            ),
            Err(TxError::NonStandardDestination)
        );
        // Inputs exactly equal to the outputs: zero fee.
        assert_eq!(
            TxLock::new(
                vec![input(0, 1_100_000)],
                LOCK_AMOUNT,
                tot.clone(),
                change(100_000)
            ),
            Err(TxError::InsufficientFunds {
                inputs_sat: 1_100_000,
                outputs_sat: 1_100_000
            })
        );
        assert_eq!(
            TxLock::new(vec![input(0, 900_000)], LOCK_AMOUNT, tot.clone(), None),
            Err(TxError::InsufficientFunds {
                inputs_sat: 900_000,
                outputs_sat: 1_000_000
            })
        );
        let dup = input(3, 600_000);
        assert_eq!(
            TxLock::new(
                vec![dup.clone(), dup.clone()],
                LOCK_AMOUNT,
                tot.clone(),
                None
            ),
            Err(TxError::DuplicateInput {
                index: 1,
                outpoint: dup.outpoint
            })
        );
        let mut legacy = input(0, 2_000_000);
        legacy.txout.script_pubkey = p2pkh(7);
        assert_eq!(
            TxLock::new(
                vec![input(1, 10_000), legacy],
                LOCK_AMOUNT,
                tot.clone(),
                None
            ),
            Err(TxError::NonSegwitInput { index: 1 })
        );
        assert_eq!(
            TxLock::new(
                vec![input(0, 3_000_000)],
                LOCK_AMOUNT,
                tot.clone(),
                Some((tot.script_pubkey(), LOCK_AMOUNT))
            ),
            Err(TxError::MultipleLockOutputs { count: 2 })
        );
        let max = FundingInput {
            txout: TxOut {
                value: Amount::MAX,
                ..input(0, 0).txout
            },
            ..input(0, 0)
        };
        assert_eq!(
            TxLock::new(vec![max, input(1, 1)], LOCK_AMOUNT, tot, None),
            Err(TxError::AmountOverflow)
        );
    }

    /// A PSBT as Bob's wallet might propose it: change first, lock output at index 1.
    fn proposed_psbt(lock_value: Amount, lock_script: ScriptBuf) -> Psbt {
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: input(0, 0).outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![
                TxOut {
                    value: Amount::from_sat(990_000),
                    script_pubkey: p2tr(8),
                },
                TxOut {
                    value: lock_value,
                    script_pubkey: lock_script,
                },
            ],
        };
        let mut psbt = Psbt::from_unsigned_tx(tx).expect("unsigned");
        psbt.inputs[0].witness_utxo = Some(input(0, 2_000_000).txout);
        psbt
    }

    #[test]
    fn from_psbt_accepts_the_lock_output_at_index_1() {
        let psbt = proposed_psbt(LOCK_AMOUNT, two_of_two().script_pubkey());
        let lock = TxLock::from_psbt(psbt, LOCK_AMOUNT, two_of_two()).expect("valid proposal");
        assert_eq!(
            lock.outpoint(),
            OutPoint {
                txid: lock.txid(),
                vout: 1
            }
        );
        assert_eq!(lock.fee(), Amount::from_sat(10_000));
    }

    #[test]
    fn from_psbt_rejects_the_wrong_amount() {
        let psbt = proposed_psbt(Amount::from_sat(999_999), two_of_two().script_pubkey());
        assert_eq!(
            TxLock::from_psbt(psbt, LOCK_AMOUNT, two_of_two()),
            Err(TxError::WrongLockAmount {
                expected_sat: 1_000_000,
                found_sat: 999_999
            })
        );
    }

    #[test]
    fn from_psbt_rejects_the_wrong_script() {
        // The keys in the wrong order are a different 2-of-2.
        let swapped = TwoOfTwo::new(public(2), public(1)).expect("keys");
        let psbt = proposed_psbt(LOCK_AMOUNT, swapped.script_pubkey());
        assert_eq!(
            TxLock::from_psbt(psbt, LOCK_AMOUNT, two_of_two()),
            Err(TxError::LockOutputMissing)
        );
    }

    #[test]
    fn from_psbt_rejects_a_missing_witness_utxo() {
        let mut psbt = proposed_psbt(LOCK_AMOUNT, two_of_two().script_pubkey());
        psbt.inputs[0].witness_utxo = None;
        assert_eq!(
            TxLock::from_psbt(psbt, LOCK_AMOUNT, two_of_two()),
            Err(TxError::MissingWitnessUtxo { index: 0 })
        );
    }

    #[test]
    fn from_psbt_rejects_other_malformations() {
        let good = || proposed_psbt(LOCK_AMOUNT, two_of_two().script_pubkey());
        let check = |psbt: Psbt, expected: TxError| {
            assert_eq!(
                TxLock::from_psbt(psbt, LOCK_AMOUNT, two_of_two()),
                Err(expected)
            );
        };

        let mut v1 = good();
        v1.unsigned_tx.version = Version::ONE;
        check(v1, TxError::WrongVersion { version: 1 });

        let mut dup = good();
        dup.unsigned_tx.input.push(dup.unsigned_tx.input[0].clone());
        dup.inputs.push(dup.inputs[0].clone());
        check(
            dup,
            TxError::DuplicateInput {
                index: 1,
                outpoint: input(0, 0).outpoint,
            },
        );

        let mut no_inputs = good();
        no_inputs.unsigned_tx.input.clear();
        no_inputs.inputs.clear();
        check(no_inputs, TxError::NoInputs);

        let mut shape = good();
        shape.inputs.clear();
        check(
            shape,
            TxError::PsbtShape {
                what: "input",
                maps: 0,
                tx: 1,
            },
        );

        let mut nested = good();
        nested.inputs[0].witness_utxo = Some(TxOut {
            value: Amount::from_sat(2_000_000),
            script_pubkey: ScriptBuf::new_p2sh(&p2wpkh(7).script_hash()),
        });
        check(nested, TxError::NonSegwitInput { index: 0 });

        let mut fee = good();
        fee.inputs[0].witness_utxo = Some(input(0, 1_990_000).txout);
        check(
            fee,
            TxError::InsufficientFunds {
                inputs_sat: 1_990_000,
                outputs_sat: 1_990_000,
            },
        );

        let mut two = good();
        two.unsigned_tx.output[0].script_pubkey = two_of_two().script_pubkey();
        check(two, TxError::MultipleLockOutputs { count: 2 });

        let mut signed_in_tx = good();
        signed_in_tx.unsigned_tx.input[0].witness.push([1]);
        assert!(matches!(
            TxLock::from_psbt(signed_in_tx, LOCK_AMOUNT, two_of_two()),
            Err(TxError::MalformedSpend { .. })
        ));

        assert_eq!(
            TxLock::from_psbt(good(), Amount::ZERO, two_of_two()),
            Err(TxError::ZeroAmount)
        );
    }

    fn finalized(lock: &TxLock) -> Psbt {
        let mut psbt = lock.psbt().clone();
        for input in &mut psbt.inputs {
            let mut witness = Witness::new();
            witness.push([1; 72]);
            witness.push(public(7).to_bytes());
            input.final_script_witness = Some(witness);
        }
        psbt
    }

    #[test]
    fn complete_extracts_the_signed_transaction() {
        let lock = lock();
        let tx = lock.complete(finalized(&lock)).expect("finalized");
        assert_eq!(tx.compute_txid(), lock.txid());
        assert_eq!(tx.input[0].witness.len(), 2);
    }

    #[test]
    fn complete_rejects_unfinalized_or_foreign_psbts() {
        let lock = lock();
        assert_eq!(
            lock.complete(lock.psbt().clone()),
            Err(TxError::InputNotFinalized { index: 0 })
        );

        let mut empty_witness = finalized(&lock);
        empty_witness.inputs[0].final_script_witness = Some(Witness::new());
        assert_eq!(
            lock.complete(empty_witness),
            Err(TxError::InputNotFinalized { index: 0 })
        );

        let mut script_sig = finalized(&lock);
        script_sig.inputs[0].final_script_sig = Some(ScriptBuf::from_bytes(vec![0x51]));
        assert_eq!(
            lock.complete(script_sig),
            Err(TxError::InputNotFinalized { index: 0 })
        );

        let mut other = finalized(&lock);
        other.unsigned_tx.output[1].value = Amount::from_sat(989_999);
        let found = other.unsigned_tx.compute_txid();
        assert_eq!(
            lock.complete(other),
            Err(TxError::TxidMismatch {
                expected: lock.txid(),
                found
            })
        );
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let lock = lock();
        assert_serde_round_trip(&lock);
        let json = serde_json::to_value(&lock).expect("serializes");
        assert!(json["psbt"].is_string(), "the psbt is base64 in json");
        // A lock whose amount does not match its PSBT does not deserialize.
        let mut wrong = json;
        wrong["amount"] = serde_json::json!(999_999);
        assert!(serde_json::from_value::<TxLock>(wrong).is_err());
    }

    #[test]
    fn funding_input_round_trips() {
        assert_serde_round_trip(&input(4, 12_345));
    }
}
