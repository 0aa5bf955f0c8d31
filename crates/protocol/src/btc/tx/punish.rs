//! The punish transaction: if Bob does not refund within `punish_timelock` blocks after
//! cancel, Alice takes the BTC (and Bob, who never revealed his Monero key share, loses
//! his XMR claim).
//!
//! The timelock is a BIP68 relative lock on the input's sequence, which the signatures commit
//! to, so neither party can shorten it.

use bitcoin::{Amount, Script, ScriptBuf, Sequence, Weight};
use serde::{Deserialize, Serialize};

use super::{max_spend_weight, SpendTemplate, TxCancel};
use crate::btc::TxError;

/// The unsigned punish transaction: cancel output → Alice's punish script, valid
/// `punish_timelock` blocks after the cancel confirms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpendTemplate", into = "SpendTemplate")]
pub struct TxPunish {
    template: SpendTemplate,
}

impl TryFrom<SpendTemplate> for TxPunish {
    type Error = TxError;

    fn try_from(template: SpendTemplate) -> Result<Self, TxError> {
        Ok(TxPunish {
            template: template.require_timelock()?.require_no_anchors()?,
        })
    }
}

impl From<TxPunish> for SpendTemplate {
    fn from(tx: TxPunish) -> Self {
        tx.template
    }
}

impl TxPunish {
    /// Builds the unsigned punish of `cancel`'s 2-of-2 output to `punish_address` (a
    /// script_pubkey), paying `fee`, with input sequence
    /// `Sequence::from_height(punish_timelock)`.
    ///
    /// Both parties call it with the same arguments (`punish_timelock` from
    /// [`Params`](crate::network::Params)) and get the same transaction. Compute `fee` with
    /// [`fee_for_weight`](crate::btc::fee_for_weight) and [`TxPunish::max_weight`].
    ///
    /// # Errors
    ///
    /// [`TxError::ZeroTimelock`] if `punish_timelock` is zero,
    /// [`TxError::NonStandardDestination`] if `punish_address` is not a standard destination,
    /// [`TxError::ZeroFee`] if `fee` is zero, [`TxError::FeeTooHigh`] if it is not below the
    /// cancel output's value, and [`TxError::BelowDust`] if the output would be dust.
    pub fn new(
        cancel: &TxCancel,
        punish_address: &ScriptBuf,
        punish_timelock: u16,
        fee: Amount,
    ) -> Result<Self, TxError> {
        if punish_timelock == 0 {
            return Err(TxError::ZeroTimelock);
        }
        let template = SpendTemplate::new(
            cancel.outpoint(),
            cancel.amount(),
            cancel.two_of_two().clone(),
            Sequence::from_height(punish_timelock),
            punish_address.clone(),
            fee,
            &[],
        )?;
        Ok(TxPunish { template })
    }

    /// The exact weight of a signed punish paying to `destination` with two maximal-length
    /// (73-byte) signatures: an upper bound of the real weight, for fee computation.
    pub fn max_weight(destination: &Script) -> Weight {
        max_spend_weight(destination, 0)
    }

    /// The relative timelock in blocks: the punish is valid this many blocks after the
    /// cancel confirms.
    pub fn timelock(&self) -> u16 {
        self.template.timelock()
    }
}

impl_spend_methods!(TxPunish);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;

    fn cancel() -> TxCancel {
        TxCancel::new(&lock(), 12, FEE).expect("valid cancel")
    }

    #[test]
    fn spends_the_cancel_output_after_the_timelock() {
        let cancel = cancel();
        let tx = TxPunish::new(&cancel, &p2wpkh(5), 6, FEE).expect("valid");
        assert_eq!(tx.spent_outpoint(), cancel.outpoint());
        assert_eq!(tx.spent_value(), cancel.amount());
        assert_eq!(tx.spent_two_of_two(), cancel.two_of_two());
        assert_eq!(tx.output_value(), cancel.amount() - FEE);
        assert_eq!(tx.unsigned_tx().input[0].sequence, Sequence::from_height(6));
        assert_eq!(tx.unsigned_tx().output[0].script_pubkey, p2wpkh(5));
        assert_eq!(tx.timelock(), 6);
    }

    #[test]
    fn rejects_bad_parameters() {
        let cancel = cancel();
        let dest = p2wpkh(5);
        assert_eq!(
            TxPunish::new(&cancel, &dest, 0, FEE),
            Err(TxError::ZeroTimelock)
        );
        assert_eq!(
            TxPunish::new(&cancel, &dest, 6, Amount::ZERO),
            Err(TxError::ZeroFee)
        );
        assert_eq!(
            TxPunish::new(&cancel, &dest, 6, cancel.amount()),
            Err(TxError::FeeTooHigh {
                fee_sat: 998_340,
                spent_sat: 998_340
            })
        );
        assert_eq!(
            TxPunish::new(&cancel, &dest, 6, cancel.amount() - Amount::from_sat(100)),
            Err(TxError::BelowDust {
                value_sat: 100,
                dust_limit_sat: 546
            })
        );
        assert_eq!(
            TxPunish::new(&cancel, &ScriptBuf::new_op_return([0; 20]), 6, FEE),
            Err(TxError::NonStandardDestination)
        );
    }

    #[test]
    fn max_weight_bounds_the_signed_weight() {
        let cancel = cancel();
        for dest in [p2wpkh(5), p2tr(5), p2pkh(5)] {
            let tx = TxPunish::new(&cancel, &dest, 6, FEE).expect("valid");
            let signed = tx
                .complete(&sign(tx.sighash(), 1), &sign(tx.sighash(), 2))
                .expect("signed");
            assert_weight_close(&signed, TxPunish::max_weight(&dest));
        }
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let tx = TxPunish::new(&cancel(), &p2pkh(5), 6, FEE).expect("valid");
        assert_serde_round_trip(&tx);
        let mut json = serde_json::to_value(&tx).expect("serializes");
        json["tx"]["input"][0]["sequence"] = serde_json::json!(0xFFFF_FFFDu32);
        assert!(serde_json::from_value::<TxPunish>(json).is_err());
    }
}
