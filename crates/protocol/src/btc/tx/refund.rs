//! The refund transaction: after cancel, Bob takes his BTC back.
//!
//! It spends the cancel's 2-of-2 output to Bob's refund script without any timelock. Alice
//! gives Bob an adaptor signature on [`TxRefund::sighash`]; when Bob publishes the refund
//! with the completed signature, Alice extracts it with
//! [`signature_from_witness`](super::signature_from_witness) and learns his Monero key share.

use bitcoin::{Amount, Script, ScriptBuf, Sequence, Weight};
use serde::{Deserialize, Serialize};

use super::{max_spend_weight, SpendTemplate, TxCancel};
use crate::btc::TxError;

/// The unsigned refund transaction: cancel output → Bob's refund script, no timelock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpendTemplate", into = "SpendTemplate")]
pub struct TxRefund {
    template: SpendTemplate,
}

impl TryFrom<SpendTemplate> for TxRefund {
    type Error = TxError;

    fn try_from(template: SpendTemplate) -> Result<Self, TxError> {
        Ok(TxRefund {
            template: template.require_no_timelock()?,
        })
    }
}

impl From<TxRefund> for SpendTemplate {
    fn from(tx: TxRefund) -> Self {
        tx.template
    }
}

impl TxRefund {
    /// Builds the unsigned refund of `cancel`'s 2-of-2 output to `refund_address` (a
    /// script_pubkey), paying `fee`.
    ///
    /// Both parties call it with the same arguments and get the same transaction. Compute
    /// `fee` with [`fee_for_weight`](crate::btc::fee_for_weight) and
    /// [`TxRefund::max_weight`].
    ///
    /// # Errors
    ///
    /// [`TxError::NonStandardDestination`] if `refund_address` is not a standard
    /// destination, [`TxError::ZeroFee`] if `fee` is zero, [`TxError::FeeTooHigh`] if it is
    /// not below the cancel output's value, and [`TxError::BelowDust`] if the output would
    /// be dust.
    pub fn new(
        cancel: &TxCancel,
        refund_address: &ScriptBuf,
        fee: Amount,
    ) -> Result<Self, TxError> {
        let template = SpendTemplate::new(
            cancel.outpoint(),
            cancel.amount(),
            cancel.two_of_two().clone(),
            Sequence::ENABLE_RBF_NO_LOCKTIME,
            refund_address.clone(),
            fee,
            &[],
        )?;
        Ok(TxRefund { template })
    }

    /// The exact weight of a signed refund paying to `destination` with two maximal-length
    /// (73-byte) signatures: an upper bound of the real weight, for fee computation.
    pub fn max_weight(destination: &Script) -> Weight {
        max_spend_weight(destination, 0)
    }
}

impl_spend_methods!(TxRefund);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;

    fn cancel() -> TxCancel {
        TxCancel::new(&lock(), 12, FEE).expect("valid cancel")
    }

    #[test]
    fn spends_the_cancel_output_to_the_destination() {
        let cancel = cancel();
        let tx = TxRefund::new(&cancel, &p2tr(6), FEE).expect("valid");
        assert_eq!(tx.spent_outpoint(), cancel.outpoint());
        assert_eq!(tx.spent_value(), cancel.amount());
        assert_eq!(tx.spent_two_of_two(), cancel.two_of_two());
        assert_eq!(tx.output_value(), cancel.amount() - FEE);
        assert_eq!(tx.fee(), FEE);
        assert_eq!(
            tx.unsigned_tx().input[0].sequence,
            Sequence::ENABLE_RBF_NO_LOCKTIME
        );
        assert_eq!(tx.unsigned_tx().output[0].script_pubkey, p2tr(6));
    }

    #[test]
    fn rejects_bad_parameters() {
        let cancel = cancel();
        let dest = p2wpkh(6);
        assert_eq!(
            TxRefund::new(&cancel, &dest, Amount::ZERO),
            Err(TxError::ZeroFee)
        );
        assert_eq!(
            TxRefund::new(&cancel, &dest, Amount::from_sat(u64::MAX)),
            Err(TxError::FeeTooHigh {
                fee_sat: u64::MAX,
                spent_sat: 998_340
            })
        );
        assert_eq!(
            TxRefund::new(&cancel, &dest, cancel.amount() - Amount::from_sat(300)),
            Err(TxError::BelowDust {
                value_sat: 300,
                dust_limit_sat: 546
            })
        );
        assert_eq!(
            TxRefund::new(&cancel, &ScriptBuf::new(), FEE),
            Err(TxError::NonStandardDestination)
        );
    }

    #[test]
    fn max_weight_bounds_the_signed_weight() {
        let cancel = cancel();
        for dest in [p2wpkh(6), p2tr(6), p2pkh(6)] {
            let tx = TxRefund::new(&cancel, &dest, FEE).expect("valid");
            let signed = tx
                .complete(&sign(tx.sighash(), 1), &sign(tx.sighash(), 2))
                .expect("signed");
            assert_weight_close(&signed, TxRefund::max_weight(&dest));
        }
    }

    #[test]
    fn serde_round_trips() {
        assert_serde_round_trip(&TxRefund::new(&cancel(), &p2wpkh(6), FEE).expect("valid"));
    }
}
