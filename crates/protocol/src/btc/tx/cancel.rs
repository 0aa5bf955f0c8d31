//! The cancel transaction: after `cancel_timelock` blocks, either party moves the locked BTC
//! into a new 2-of-2 of the same keys, from which only refund (Bob) or, after
//! `punish_timelock` more blocks, punish (Alice) can spend.
//!
//! The timelock is a BIP68 relative lock on the input's sequence, which the signatures commit
//! to, so neither party can shorten it.
//!
//! Cancel's fee is fixed when both sign it at setup, and its main output pays the 2-of-2,
//! which neither wallet can spend alone. So it carries two *keyed anchors*: a P2WPKH output of
//! [`ANCHOR_VALUE`](crate::btc::ANCHOR_VALUE) to Alice's 2-of-2 key (vout 1) and one to Bob's (vout 2). Each party can
//! spend its own anchor in a child that pays for both (CPFP) when cancel waits in a fee spike;
//! nobody else can, so a third party cannot pin cancel with a cheap child. States stored
//! before anchors existed keep their cancel without them (accepted when deserialized).

use bitcoin::hashes::Hash;
use bitcoin::{
    Amount, CompressedPublicKey, OutPoint, ScriptBuf, Sequence, TxOut, WScriptHash, Weight,
};
use serde::{Deserialize, Serialize};

use super::{max_spend_weight, SpendTemplate, TxLock};
use crate::btc::{TwoOfTwo, TxError};
use crate::Role;

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
        let anchors: Vec<&ScriptBuf> = template
            .anchors()
            .iter()
            .map(|a| &a.script_pubkey)
            .collect();
        let keyed = anchor_scripts(&repr.output);
        if !anchors.is_empty() && anchors != keyed.iter().collect::<Vec<_>>() {
            return Err(TxError::MalformedSpend {
                reason: "the anchors are not the parties' keyed anchors",
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
    /// the same [`TwoOfTwo`] (vout 0), followed by the keyed anchors of Alice (vout 1) and
    /// Bob (vout 2), with input sequence `Sequence::from_height(cancel_timelock)`.
    ///
    /// Both parties call it with the same arguments (`cancel_timelock` from
    /// [`Params`](crate::network::Params)) and get the same transaction. Compute `fee` with
    /// [`fee_for_weight`](crate::btc::fee_for_weight) and [`TxCancel::max_weight`].
    ///
    /// # Errors
    ///
    /// [`TxError::ZeroTimelock`] if `cancel_timelock` is zero, [`TxError::ZeroFee`] if `fee`
    /// is zero, [`TxError::FeeTooHigh`] if it and the anchors do not fit below the locked
    /// amount, and [`TxError::BelowDust`] if the output would be dust.
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
            &anchor_scripts(&output),
        )?;
        Ok(TxCancel { template, output })
    }

    /// The exact weight of a signed cancel (with its two anchors) with two maximal-length
    /// (73-byte) signatures: an upper bound of the real weight, for fee computation. Its
    /// output is always a P2WSH, so no destination is needed.
    pub fn max_weight() -> Weight {
        max_spend_weight(&ScriptBuf::new_p2wsh(&WScriptHash::all_zeros()), 2)
    }

    /// `party`'s anchor: its outpoint and output, a P2WPKH of
    /// [`ANCHOR_VALUE`](crate::btc::ANCHOR_VALUE) to the
    /// party's key of the 2-of-2, which only that party can spend (with its 2-of-2 secret
    /// key, in a child paying for cancel). `None` for a cancel stored before anchors existed.
    pub fn anchor(&self, party: Role) -> Option<(OutPoint, TxOut)> {
        let vout: u32 = match party {
            Role::Alice => 1,
            Role::Bob => 2,
        };
        let output = self
            .template
            .anchors()
            .get(usize::try_from(vout - 1).ok()?)?;
        Some((
            OutPoint {
                txid: self.txid(),
                vout,
            },
            output.clone(),
        ))
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

/// The keyed anchor scripts of a cancel paying `two_of_two`: P2WPKH of Alice's key, then of
/// Bob's.
fn anchor_scripts(two_of_two: &TwoOfTwo) -> [ScriptBuf; 2] {
    [Role::Alice, Role::Bob].map(|party| {
        let key = CompressedPublicKey::try_from(*two_of_two.key(party))
            .expect("a TwoOfTwo holds compressed keys only");
        ScriptBuf::new_p2wpkh(&key.wpubkey_hash())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btc::tx::test_support::*;
    use crate::btc::ANCHOR_VALUE;

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
        assert_eq!(tx.amount(), LOCK_AMOUNT - FEE - ANCHOR_VALUE * 2);
        for (party, vout) in [(Role::Alice, 1), (Role::Bob, 2)] {
            let (outpoint, output) = tx.anchor(party).expect("anchored");
            assert_eq!(
                outpoint,
                OutPoint {
                    txid: tx.txid(),
                    vout
                }
            );
            assert_eq!(output.value, ANCHOR_VALUE);
            let key = CompressedPublicKey::try_from(*lock.two_of_two().key(party)).unwrap();
            assert_eq!(
                output.script_pubkey,
                ScriptBuf::new_p2wpkh(&key.wpubkey_hash())
            );
            assert_eq!(tx.unsigned_tx().output[vout as usize], output);
        }
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
            TxCancel::new(
                &lock,
                12,
                LOCK_AMOUNT - ANCHOR_VALUE * 2 - Amount::from_sat(1)
            ),
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
        let mut no_timelock = json.clone();
        no_timelock["template"]["tx"]["input"][0]["sequence"] = serde_json::json!(0xFFFF_FFFDu32);
        assert!(serde_json::from_value::<TxCancel>(no_timelock).is_err());
        // anchors swapped (both parties' scripts, wrong order) are refused
        let mut swapped = json.clone();
        let outputs = swapped["template"]["tx"]["output"].as_array_mut().unwrap();
        outputs.swap(1, 2);
        assert!(serde_json::from_value::<TxCancel>(swapped).is_err());
        // a third party's anchor is refused
        let mut foreign = json.clone();
        foreign["template"]["tx"]["output"][2]["script_pubkey"] =
            serde_json::to_value(p2wpkh(9)).unwrap();
        assert!(serde_json::from_value::<TxCancel>(foreign).is_err());
    }

    #[test]
    fn a_cancel_stored_before_anchors_existed_still_loads() {
        let tx = TxCancel::new(&lock(), 72, FEE).expect("valid");
        let mut legacy = serde_json::to_value(&tx).expect("serializes");
        let outputs = legacy["template"]["tx"]["output"].as_array_mut().unwrap();
        outputs.truncate(1);
        outputs[0]["value"] = serde_json::json!((LOCK_AMOUNT - FEE).to_sat());
        let loaded: TxCancel = serde_json::from_value(legacy).expect("a legacy cancel loads");
        assert_eq!(loaded.fee(), FEE);
        assert_eq!(loaded.amount(), LOCK_AMOUNT - FEE);
        assert_eq!(loaded.anchor(Role::Alice), None);
    }

    #[test]
    fn the_anchors_leave_a_spend_of_cancel_unaffected() {
        let cancel = TxCancel::new(&lock(), 12, FEE).expect("valid");
        let refund = crate::btc::TxRefund::new(&cancel, &p2wpkh(5), FEE).expect("refund");
        assert_eq!(refund.spent_outpoint(), cancel.outpoint());
        assert_eq!(refund.spent_value(), cancel.amount());
        // anchors on any other spend are refused when loaded
        let mut json = serde_json::to_value(&refund).unwrap();
        let outputs = json["tx"]["output"].as_array_mut().unwrap();
        outputs
            .push(serde_json::json!({"value": ANCHOR_VALUE.to_sat(), "script_pubkey": p2wpkh(5)}));
        outputs[0]["value"] = serde_json::json!((cancel.amount() - FEE - ANCHOR_VALUE).to_sat());
        assert!(serde_json::from_value::<crate::btc::TxRefund>(json).is_err());
    }
}
