//! The early refund transaction: before Alice locks XMR, Bob can take his BTC back from the
//! lock output directly, without waiting for the cancel timelock.
//!
//! Alice signs it (plainly, no adaptor) during setup; it is safe for her because until she
//! locks XMR she has nothing at stake. It spends the lock's 2-of-2 output to Bob's refund
//! script without any timelock.

use bitcoin::{Amount, Script, ScriptBuf, Sequence, Weight};
use serde::{Deserialize, Serialize};

use super::{max_spend_weight, SpendTemplate, TxLock};
use crate::btc::TxError;

/// The unsigned early refund transaction: lock output → Bob's refund script, no timelock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpendTemplate", into = "SpendTemplate")]
pub struct TxEarlyRefund {
    template: SpendTemplate,
}

impl TryFrom<SpendTemplate> for TxEarlyRefund {
    type Error = TxError;

    fn try_from(template: SpendTemplate) -> Result<Self, TxError> {
        Ok(TxEarlyRefund {
            template: template.require_no_timelock()?,
        })
    }
}

impl From<TxEarlyRefund> for SpendTemplate {
    fn from(tx: TxEarlyRefund) -> Self {
        tx.template
    }
}

impl TxEarlyRefund {
    /// Builds the unsigned early refund of `lock`'s 2-of-2 output to `refund_address` (a
    /// script_pubkey), paying `fee`.
    ///
    /// Both parties call it with the same arguments and get the same transaction. Compute
    /// `fee` with [`fee_for_weight`](crate::btc::fee_for_weight) and
    /// [`TxEarlyRefund::max_weight`].
    ///
    /// # Errors
    ///
    /// [`TxError::NonStandardDestination`] if `refund_address` is not a standard
    /// destination, [`TxError::ZeroFee`] if `fee` is zero, [`TxError::FeeTooHigh`] if it is
    /// not below the locked amount, and [`TxError::BelowDust`] if the output would be dust.
    pub fn new(lock: &TxLock, refund_address: &ScriptBuf, fee: Amount) -> Result<Self, TxError> {
        let template = SpendTemplate::new(
            lock.outpoint(),
            lock.amount(),
            lock.two_of_two().clone(),
            Sequence::ENABLE_RBF_NO_LOCKTIME,
            refund_address.clone(),
            fee,
            &[],
        )?;
        Ok(TxEarlyRefund { template })
    }

    /// The exact weight of a signed early refund paying to `destination` with two
    /// maximal-length (73-byte) signatures: an upper bound of the real weight, for fee
    /// computation.
    pub fn max_weight(destination: &Script) -> Weight {
        max_spend_weight(destination, 0)
    }
}

impl_spend_methods!(TxEarlyRefund);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;

    #[test]
    fn spends_the_lock_output_to_the_destination() {
        let lock = lock();
        let tx = TxEarlyRefund::new(&lock, &p2wpkh(6), FEE).expect("valid");
        assert_eq!(tx.spent_outpoint(), lock.outpoint());
        assert_eq!(tx.spent_value(), LOCK_AMOUNT);
        assert_eq!(tx.spent_two_of_two(), lock.two_of_two());
        assert_eq!(tx.output_value(), LOCK_AMOUNT - FEE);
        assert_eq!(
            tx.unsigned_tx().input[0].sequence,
            Sequence::ENABLE_RBF_NO_LOCKTIME
        );
        assert_eq!(tx.unsigned_tx().output[0].script_pubkey, p2wpkh(6));
        // Same input, different destination: not the redeem.
        let redeem = crate::btc::TxRedeem::new(&lock, &p2wpkh(5), FEE).expect("valid");
        assert_ne!(redeem.sighash(), tx.sighash());
    }

    #[test]
    fn rejects_bad_parameters() {
        let lock = lock();
        let dest = p2wpkh(6);
        assert_eq!(
            TxEarlyRefund::new(&lock, &dest, Amount::ZERO),
            Err(TxError::ZeroFee)
        );
        assert_eq!(
            TxEarlyRefund::new(&lock, &dest, LOCK_AMOUNT),
            Err(TxError::FeeTooHigh {
                fee_sat: 1_000_000,
                spent_sat: 1_000_000
            })
        );
        assert_eq!(
            TxEarlyRefund::new(&lock, &dest, LOCK_AMOUNT - Amount::from_sat(2)),
            Err(TxError::BelowDust {
                value_sat: 2,
                dust_limit_sat: 546
            })
        );
        assert_eq!(
            TxEarlyRefund::new(&lock, &lock.two_of_two().witness_script(), FEE),
            Err(TxError::NonStandardDestination)
        );
    }

    #[test]
    fn max_weight_bounds_the_signed_weight() {
        let lock = lock();
        for dest in [p2wpkh(6), p2tr(6), p2pkh(6)] {
            let tx = TxEarlyRefund::new(&lock, &dest, FEE).expect("valid");
            let signed = tx
                .complete(&sign(tx.sighash(), 1), &sign(tx.sighash(), 2))
                .expect("signed");
            assert_weight_close(&signed, TxEarlyRefund::max_weight(&dest));
        }
    }

    #[test]
    fn serde_round_trips() {
        assert_serde_round_trip(&TxEarlyRefund::new(&lock(), &p2tr(6), FEE).expect("valid"));
    }
}
