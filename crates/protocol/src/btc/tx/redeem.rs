//! The redeem transaction: Alice takes the locked BTC.
//!
//! It spends the lock's 2-of-2 output to Alice's redeem script without any timelock. Bob
//! gives Alice an adaptor signature on [`TxRedeem::sighash`]; when Alice publishes the
//! redeem with the completed signature, Bob extracts it with
//! [`signature_from_witness`](super::signature_from_witness) and learns her Monero key share.

use bitcoin::{Amount, Script, ScriptBuf, Sequence, Weight};
use serde::{Deserialize, Serialize};

use super::{max_spend_weight, SpendTemplate, TxLock};
use crate::btc::TxError;

/// The unsigned redeem transaction: lock output → Alice's redeem script, no timelock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpendTemplate", into = "SpendTemplate")]
pub struct TxRedeem {
    template: SpendTemplate,
}

impl TryFrom<SpendTemplate> for TxRedeem {
    type Error = TxError;

    fn try_from(template: SpendTemplate) -> Result<Self, TxError> {
        Ok(TxRedeem {
            template: template.require_no_timelock()?,
        })
    }
}

impl From<TxRedeem> for SpendTemplate {
    fn from(tx: TxRedeem) -> Self {
        tx.template
    }
}

impl TxRedeem {
    /// Builds the unsigned redeem of `lock`'s 2-of-2 output to `redeem_address` (a
    /// script_pubkey), paying `fee`.
    ///
    /// Both parties call it with the same arguments and get the same transaction. Compute
    /// `fee` with [`fee_for_weight`](crate::btc::fee_for_weight) and
    /// [`TxRedeem::max_weight`].
    ///
    /// # Errors
    ///
    /// [`TxError::NonStandardDestination`] if `redeem_address` is not a standard
    /// destination, [`TxError::ZeroFee`] if `fee` is zero, [`TxError::FeeTooHigh`] if it is
    /// not below the locked amount, and [`TxError::BelowDust`] if the output would be dust.
    pub fn new(lock: &TxLock, redeem_address: &ScriptBuf, fee: Amount) -> Result<Self, TxError> {
        let template = SpendTemplate::new(
            lock.outpoint(),
            lock.amount(),
            lock.two_of_two().clone(),
            Sequence::ENABLE_RBF_NO_LOCKTIME,
            redeem_address.clone(),
            fee,
            &[],
        )?;
        Ok(TxRedeem { template })
    }

    /// The exact weight of a signed redeem paying to `destination` with two maximal-length
    /// (73-byte) signatures: an upper bound of the real weight, for fee computation.
    pub fn max_weight(destination: &Script) -> Weight {
        max_spend_weight(destination, 0)
    }
}

impl_spend_methods!(TxRedeem);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;
    use crate::btc::TwoOfTwo;
    use bitcoin::OutPoint;

    #[test]
    fn spends_the_lock_output_to_the_destination() {
        let lock = lock();
        let tx = TxRedeem::new(&lock, &p2wpkh(5), FEE).expect("valid");
        assert_eq!(tx.spent_outpoint(), lock.outpoint());
        assert_eq!(tx.spent_value(), LOCK_AMOUNT);
        assert_eq!(tx.output_value(), LOCK_AMOUNT - FEE);
        assert_eq!(tx.fee(), FEE);
        assert_eq!(tx.spent_two_of_two(), lock.two_of_two());
        let unsigned = tx.unsigned_tx();
        assert_eq!(unsigned.version, bitcoin::transaction::Version::TWO);
        assert_eq!(unsigned.input.len(), 1);
        assert_eq!(unsigned.input[0].sequence, Sequence::ENABLE_RBF_NO_LOCKTIME);
        assert_eq!(unsigned.output.len(), 1);
        assert_eq!(unsigned.output[0].script_pubkey, p2wpkh(5));
        assert_eq!(tx.txid(), unsigned.compute_txid());
        assert_ne!(tx.spent_outpoint(), OutPoint::null());
    }

    #[test]
    fn rejects_bad_parameters() {
        let lock = lock();
        let dest = p2wpkh(5);
        assert_eq!(
            TxRedeem::new(&lock, &dest, LOCK_AMOUNT),
            Err(TxError::FeeTooHigh {
                fee_sat: 1_000_000,
                spent_sat: 1_000_000
            })
        );
        assert_eq!(
            TxRedeem::new(&lock, &dest, LOCK_AMOUNT + FEE),
            Err(TxError::FeeTooHigh {
                fee_sat: 1_001_000,
                spent_sat: 1_000_000
            })
        );
        assert_eq!(
            TxRedeem::new(&lock, &dest, LOCK_AMOUNT - Amount::from_sat(545)),
            Err(TxError::BelowDust {
                value_sat: 545,
                dust_limit_sat: 546
            })
        );
        assert!(TxRedeem::new(&lock, &dest, LOCK_AMOUNT - Amount::from_sat(546)).is_ok());
        assert_eq!(
            TxRedeem::new(&lock, &dest, Amount::ZERO),
            Err(TxError::ZeroFee)
        );
        let bare = TwoOfTwo::new(public(1), public(2))
            .expect("keys")
            .witness_script();
        assert_eq!(
            TxRedeem::new(&lock, &bare, FEE),
            Err(TxError::NonStandardDestination)
        );
    }

    #[test]
    fn max_weight_bounds_the_signed_weight() {
        let lock = lock();
        for dest in [p2wpkh(5), p2tr(5), p2pkh(5)] {
            let tx = TxRedeem::new(&lock, &dest, FEE).expect("valid");
            let signed = tx
                .complete(&sign(tx.sighash(), 1), &sign(tx.sighash(), 2))
                .expect("signed");
            assert_weight_close(&signed, TxRedeem::max_weight(&dest));
        }
    }

    #[test]
    fn serde_round_trips() {
        assert_serde_round_trip(&TxRedeem::new(&lock(), &p2tr(5), FEE).expect("valid"));
    }

    #[test]
    fn deserialization_rejects_a_timelocked_template() {
        let cancel = crate::btc::TxCancel::new(&lock(), 10, FEE).expect("valid");
        let json = serde_json::to_value(&cancel).expect("serializes");
        // A cancel template is not a redeem: its input carries a relative timelock.
        let mut template = json["template"].clone();
        template["tx"]["output"][0]["script_pubkey"] = serde_json::json!(p2wpkh(5).to_hex_string());
        assert!(serde_json::from_value::<TxRedeem>(template).is_err());
    }
}
