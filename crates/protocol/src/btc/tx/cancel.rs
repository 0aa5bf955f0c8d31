//! The cancel transaction: after `cancel_timelock` blocks, either party moves the locked BTC
//! into a new 2-of-2 of the same keys, from which only refund (Bob) or, after
//! `punish_timelock` more blocks, punish (Alice) can spend.
//!
//! The timelock is a BIP68 relative lock on the input's sequence, which the signatures commit
//! to, so neither party can shorten it.

use bitcoin::hashes::Hash;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, WScriptHash, Weight};
use serde::{Deserialize, Serialize};

use super::{max_spend_weight, SpendTemplate, TxLock};
use crate::btc::{TwoOfTwo, TxError};

/// The unsigned cancel transaction: lock output → a new 2-of-2 of the same keys, valid
/// `cancel_timelock` blocks after the lock confirms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TxCancelRepr", into = "TxCancelRepr")]
pub struct TxCancel {
    template: SpendTemplate,
    output: TwoOfTwo,
}

/// Serde form of [`TxCancel`], validated when deserialized.
#[derive(Serialize, Deserialize)]
struct TxCancelRepr {
    template: SpendTemplate,
    output: TwoOfTwo,
}

impl TryFrom<TxCancelRepr> for TxCancel {
    type Error = TxError;

    fn try_from(repr: TxCancelRepr) -> Result<Self, TxError> {
        let template = repr.template.require_timelock()?;
        if template.output().script_pubkey != repr.output.script_pubkey() {
            return Err(TxError::MalformedSpend {
                reason: "the output is not the new 2-of-2",
            });
        }
        Ok(TxCancel {
            template,
            output: repr.output,
        })
    }
}

impl From<TxCancel> for TxCancelRepr {
    fn from(tx: TxCancel) -> Self {
        TxCancelRepr {
            template: tx.template,
            output: tx.output,
        }
    }
}

impl TxCancel {
    /// Builds the unsigned cancel of `lock`'s 2-of-2 output, paying `fee`, into a P2WSH of
    /// the same [`TwoOfTwo`], with input sequence `Sequence::from_height(cancel_timelock)`.
    ///
    /// Both parties call it with the same arguments (`cancel_timelock` from
    /// [`Params`](crate::network::Params)) and get the same transaction. Compute `fee` with
    /// [`fee_for_weight`](crate::btc::fee_for_weight) and [`TxCancel::max_weight`].
    ///
    /// # Errors
    ///
    /// [`TxError::ZeroTimelock`] if `cancel_timelock` is zero, [`TxError::ZeroFee`] if `fee`
    /// is zero, [`TxError::FeeTooHigh`] if it is not below the locked amount, and
    /// [`TxError::BelowDust`] if the output would be dust.
    pub fn new(lock: &TxLock, cancel_timelock: u16, fee: Amount) -> Result<Self, TxError> {
        if cancel_timelock == 0 {
            return Err(TxError::ZeroTimelock);
        }
        let output = lock.two_of_two().clone();
        let template = SpendTemplate::new(
            lock.outpoint(),
            lock.amount(),
            lock.two_of_two().clone(),
            Sequence::from_height(cancel_timelock),
            output.script_pubkey(),
            fee,
        )?;
        Ok(TxCancel { template, output })
    }

    /// The exact weight of a signed cancel with two maximal-length (73-byte) signatures: an
    /// upper bound of the real weight, for fee computation. Its output is always a P2WSH, so
    /// no destination is needed.
    pub fn max_weight() -> Weight {
        max_spend_weight(&ScriptBuf::new_p2wsh(&WScriptHash::all_zeros()))
    }

    /// The new 2-of-2 output (vout 0), which refund and punish spend.
    pub fn outpoint(&self) -> OutPoint {
        OutPoint {
            txid: self.txid(),
            vout: 0,
        }
    }

    /// The value of the new 2-of-2 output: the locked amount minus the cancel fee.
    pub fn amount(&self) -> Amount {
        self.output_value()
    }

    /// The 2-of-2 the cancel pays to (the same keys as the lock's).
    pub fn two_of_two(&self) -> &TwoOfTwo {
        &self.output
    }

    /// The relative timelock in blocks: the cancel is valid this many blocks after the lock
    /// confirms.
    pub fn timelock(&self) -> u16 {
        self.template.timelock()
    }
}

impl_spend_methods!(TxCancel);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;

    #[test]
    fn spends_the_lock_output_into_the_same_two_of_two() {
        let lock = lock();
        let tx = TxCancel::new(&lock, 12, FEE).expect("valid");
        assert_eq!(tx.spent_outpoint(), lock.outpoint());
        assert_eq!(tx.spent_two_of_two(), lock.two_of_two());
        assert_eq!(tx.two_of_two(), lock.two_of_two());
        assert_eq!(
            tx.unsigned_tx().output[0].script_pubkey,
            lock.two_of_two().script_pubkey()
        );
        assert_eq!(
            tx.unsigned_tx().input[0].sequence,
            Sequence::from_height(12)
        );
        assert_eq!(tx.timelock(), 12);
        assert_eq!(tx.amount(), LOCK_AMOUNT - FEE);
        assert_eq!(
            tx.outpoint(),
            OutPoint {
                txid: tx.txid(),
                vout: 0
            }
        );
        assert_eq!(tx.fee(), FEE);
    }

    #[test]
    fn rejects_bad_parameters() {
        let lock = lock();
        assert_eq!(TxCancel::new(&lock, 0, FEE), Err(TxError::ZeroTimelock));
        assert_eq!(
            TxCancel::new(&lock, 12, Amount::ZERO),
            Err(TxError::ZeroFee)
        );
        assert_eq!(
            TxCancel::new(&lock, 12, LOCK_AMOUNT),
            Err(TxError::FeeTooHigh {
                fee_sat: 1_000_000,
                spent_sat: 1_000_000
            })
        );
        assert_eq!(
            TxCancel::new(&lock, 12, LOCK_AMOUNT - Amount::from_sat(1)),
            Err(TxError::BelowDust {
                value_sat: 1,
                dust_limit_sat: 546
            })
        );
    }

    #[test]
    fn max_weight_bounds_the_signed_weight() {
        let tx = TxCancel::new(&lock(), u16::MAX, FEE).expect("valid");
        let signed = tx
            .complete(&sign(tx.sighash(), 1), &sign(tx.sighash(), 2))
            .expect("signed");
        assert_weight_close(&signed, TxCancel::max_weight());
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let tx = TxCancel::new(&lock(), 72, FEE).expect("valid");
        assert_serde_round_trip(&tx);
        let json = serde_json::to_value(&tx).expect("serializes");
        let mut other_output = json.clone();
        other_output["output"]["a"] = serde_json::json!(public(3).to_string());
        assert!(serde_json::from_value::<TxCancel>(other_output).is_err());
        let mut no_timelock = json;
        no_timelock["template"]["tx"]["input"][0]["sequence"] = serde_json::json!(0xFFFF_FFFDu32);
        assert!(serde_json::from_value::<TxCancel>(no_timelock).is_err());
    }
}
