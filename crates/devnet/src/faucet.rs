//! The devnet's faucet: pays any address from one key's coins (the devnet's mining key, whose
//! address every devnet block pays), with real signed P2WPKH spends submitted to the node's
//! mempool.
//!
//! [`Faucet::pay`] is the one implementation behind the stack's
//! [`fund_btc`](crate::stack::Stack::fund_btc) (which then mines a block) and the JSON-RPC
//! server's `sendtoaddress` (which does not, as bitcoind). Coins are chosen from
//! [`Node::spendable_outputs`]: mature confirmed outputs first, oldest first, then the
//! faucet's own unconfirmed change, so many payments in a row work without mining in between
//! (the node's mempool is the record of which outputs are already spent). The fee is
//! [`FEE_RATE_SAT_PER_VB`] on the signed size; change below the dust limit goes to the fee.

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};

use crate::testkit::TestKey;
use crate::{Node, RejectReason};

/// The byte the devnet's mining key repeats (`[0x11; 32]`): publicly known, regtest only.
pub const DEVNET_MINING_KEY_BYTE: u8 = 0x11;

/// The fee rate of the faucet's payments, in sat/vB: what the RPC server's
/// `estimatesmartfee` answers ([`crate::rpc::ESTIMATED_FEERATE_BTC_PER_KVB`]).
pub const FEE_RATE_SAT_PER_VB: u64 = 10;

/// Why the faucet could not pay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaucetError {
    /// The amount is zero or below the dust limit of the receiving output.
    #[error("amount {amount} is too small: the output's dust limit is {dust}")]
    AmountTooSmall {
        /// The amount asked for.
        amount: Amount,
        /// The smallest amount the receiving script may carry.
        dust: Amount,
    },
    /// The faucet's spendable coins do not cover the amount and the fee.
    #[error("insufficient funds: {requested} plus the fee requested, {available} spendable")]
    InsufficientFunds {
        /// The amount asked for.
        requested: Amount,
        /// Everything the faucet could spend now.
        available: Amount,
    },
    /// The node refused the faucet's own transaction (a bug, or an inconsistent node).
    #[error("the node refused the faucet's transaction: {0}")]
    Rejected(#[source] RejectReason),
}

/// Pays from one P2WPKH key's coins on a [`Node`]. Holds no state of its own: the node's UTXO
/// set and mempool say what is spendable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faucet {
    key: TestKey,
}

impl Faucet {
    /// The faucet of the devnet's mining key ([`DEVNET_MINING_KEY_BYTE`]).
    pub fn devnet() -> Faucet {
        Faucet::new(TestKey::new(DEVNET_MINING_KEY_BYTE))
    }

    /// A faucet spending `key`'s P2WPKH coins.
    pub fn new(key: TestKey) -> Faucet {
        Faucet { key }
    }

    /// The key (publicly known on the devnet).
    pub fn key(&self) -> &TestKey {
        &self.key
    }

    /// The key's regtest P2WPKH address: mine to it to fill the faucet.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The key's P2WPKH script.
    pub fn script_pubkey(&self) -> ScriptBuf {
        self.key.p2wpkh()
    }

    /// What the faucet could spend now on `node` (see [`Node::spendable_outputs`]).
    pub fn balance(&self, node: &Node) -> Amount {
        node.spendable_outputs(&self.script_pubkey())
            .iter()
            .fold(Amount::ZERO, |acc, (_, out, _)| {
                acc.checked_add(out.value).unwrap_or(Amount::MAX_MONEY)
            })
    }

    /// Pays `amount` to `to` with a signed transaction submitted to `node`'s mempool (not
    /// mined), with change back to the faucet. Returns its txid.
    ///
    /// # Errors
    ///
    /// [`FaucetError::AmountTooSmall`] for an amount below `to`'s dust limit;
    /// [`FaucetError::InsufficientFunds`] if the spendable coins do not cover amount and fee
    /// (mining more blocks to [`Faucet::address`] matures more); [`FaucetError::Rejected`]
    /// if the node refuses the transaction.
    pub fn pay(
        &self,
        node: &mut Node,
        to: &ScriptBuf,
        amount: Amount,
    ) -> Result<Txid, FaucetError> {
        let tx = self.build(node, to, amount)?;
        node.submit(tx).map_err(FaucetError::Rejected)
    }

    /// The signed payment [`Faucet::pay`] submits.
    fn build(
        &self,
        node: &Node,
        to: &ScriptBuf,
        amount: Amount,
    ) -> Result<Transaction, FaucetError> {
        let dust = to.minimal_non_dust();
        if amount < dust || amount == Amount::ZERO {
            return Err(FaucetError::AmountTooSmall { amount, dust });
        }
        let own = self.script_pubkey();
        let coins = node.spendable_outputs(&own);
        let available = coins.iter().fold(Amount::ZERO, |acc, (_, out, _)| {
            acc.checked_add(out.value).unwrap_or(Amount::MAX_MONEY)
        });
        let insufficient = FaucetError::InsufficientFunds {
            requested: amount,
            available,
        };
        let payment = TxOut {
            value: amount,
            script_pubkey: to.clone(),
        };
        let change_out = |value: Amount| TxOut {
            value,
            script_pubkey: own.clone(),
        };
        let mut selected: Vec<(OutPoint, TxOut)> = Vec::new();
        let mut total = Amount::ZERO;
        for (outpoint, out, _) in coins {
            total = total.checked_add(out.value).ok_or(insufficient.clone())?;
            selected.push((outpoint, out));
            let fee = fee_for(&selected, &[payment.clone(), change_out(Amount::ZERO)]);
            let Some(change) = amount
                .checked_add(fee)
                .and_then(|needed| total.checked_sub(needed))
            else {
                continue;
            };
            let outputs = if change >= own.minimal_non_dust() {
                vec![payment.clone(), change_out(change)]
            } else {
                // Dust change goes to the fee (which is then above the rate, as in Core).
                vec![payment.clone()]
            };
            return Ok(self.sign(&selected, outputs));
        }
        Err(insufficient)
    }

    /// A version-2 transaction spending `inputs` (the faucet's coins) to `outputs`, signed.
    fn sign(&self, inputs: &[(OutPoint, TxOut)], outputs: Vec<TxOut>) -> Transaction {
        let mut tx = unsigned(inputs, outputs);
        for (index, (_, spent)) in inputs.iter().enumerate() {
            self.key.sign_p2wpkh(&mut tx, index, spent);
        }
        tx
    }
}

/// The transaction spending `inputs` to `outputs`, with empty witnesses.
fn unsigned(inputs: &[(OutPoint, TxOut)], outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: inputs
            .iter()
            .map(|(outpoint, _)| TxIn {
                previous_output: *outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    }
}

/// The fee at [`FEE_RATE_SAT_PER_VB`] of a transaction spending `inputs` (P2WPKH) to
/// `outputs`, sized with the largest possible signatures.
fn fee_for(inputs: &[(OutPoint, TxOut)], outputs: &[TxOut]) -> Amount {
    let mut tx = unsigned(inputs, outputs.to_vec());
    // A DER signature is at most 72 bytes with the sighash byte; a compressed key 33.
    let mut witness = Witness::new();
    witness.push([0u8; 72]);
    witness.push([0u8; 33]);
    for input in &mut tx.input {
        input.witness = witness.clone();
    }
    Amount::from_sat(
        FEE_RATE_SAT_PER_VB.saturating_mul(u64::try_from(tx.vsize()).unwrap_or(u64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Node::open(dir.path()).expect("open node");
        (dir, node)
    }

    fn paid(node: &Node, txid: &Txid, to: &ScriptBuf) -> Amount {
        let (tx, _) = node.get_tx(txid).expect("known transaction");
        tx.output
            .iter()
            .filter(|o| &o.script_pubkey == to)
            .map(|o| o.value)
            .sum()
    }

    #[test]
    fn an_empty_chain_has_nothing_to_pay_with() {
        let (_dir, mut node) = node();
        let faucet = Faucet::devnet();
        let to = TestKey::new(2).p2wpkh();
        let err = faucet
            .pay(&mut node, &to, Amount::from_sat(10_000))
            .expect_err("no coins");
        assert_eq!(
            err,
            FaucetError::InsufficientFunds {
                requested: Amount::from_sat(10_000),
                available: Amount::ZERO
            }
        );
        // Immature coinbases are not spendable either: block 1's is spendable in block 101.
        node.mine(99, &faucet.script_pubkey()).expect("mine");
        assert_eq!(faucet.balance(&node), Amount::ZERO);
        node.mine(1, &faucet.script_pubkey()).expect("mine");
        assert_eq!(faucet.balance(&node), Amount::from_int_btc(50));
    }

    #[test]
    fn many_payments_in_a_row_chain_change_and_all_confirm_in_one_block() {
        let (_dir, mut node) = node();
        let faucet = Faucet::devnet();
        node.mine(101, &faucet.script_pubkey()).expect("mine");
        let to = TestKey::new(3).p2wpkh();
        // 30 BTC three times from two 50 BTC coins: the third needs unconfirmed change.
        let mut txids = Vec::new();
        for _ in 0..3 {
            let txid = faucet
                .pay(&mut node, &to, Amount::from_int_btc(30))
                .expect("pay");
            assert_eq!(paid(&node, &txid, &to), Amount::from_int_btc(30));
            txids.push(txid);
        }
        let before = faucet.balance(&node);
        assert!(before < Amount::from_int_btc(10), "{before}");
        assert!(before > Amount::from_int_btc(9), "{before}");
        node.mine(1, &TestKey::new(9).p2wpkh()).expect("mine");
        for txid in &txids {
            assert_eq!(node.get_tx(txid).expect("known").1, Some(1));
        }
        // Every fee is the rate on the signed size, within the signature-size slack.
        for txid in &txids {
            let (tx, _) = node.get_tx(txid).expect("known");
            let value_in: Amount = tx
                .input
                .iter()
                .map(|i| {
                    let (prev, _) = node.get_tx(&i.previous_output.txid).expect("parent");
                    prev.output[i.previous_output.vout as usize].value
                })
                .sum();
            let value_out: Amount = tx.output.iter().map(|o| o.value).sum();
            let fee = (value_in - value_out).to_sat();
            let vsize = u64::try_from(tx.vsize()).expect("size");
            assert!(
                fee >= vsize * FEE_RATE_SAT_PER_VB,
                "fee {fee} for {vsize} vB"
            );
            assert!(
                fee <= (vsize + 2) * FEE_RATE_SAT_PER_VB,
                "fee {fee} for {vsize} vB"
            );
        }
        // Left: the ~10 BTC of change and block 3's coinbase, mature since the last block.
        let err = faucet
            .pay(&mut node, &to, Amount::from_int_btc(60))
            .expect_err("not enough left");
        assert!(
            matches!(err, FaucetError::InsufficientFunds { .. }),
            "{err}"
        );
    }

    #[test]
    fn dust_is_refused() {
        let (_dir, mut node) = node();
        let faucet = Faucet::devnet();
        node.mine(101, &faucet.script_pubkey()).expect("mine");
        let to = TestKey::new(3).p2wpkh();
        let err = faucet
            .pay(&mut node, &to, Amount::from_sat(293))
            .expect_err("dust");
        assert_eq!(
            err,
            FaucetError::AmountTooSmall {
                amount: Amount::from_sat(293),
                dust: Amount::from_sat(294)
            }
        );
        let txid = faucet
            .pay(&mut node, &to, Amount::from_sat(294))
            .expect("just above dust");
        assert_eq!(paid(&node, &txid, &to), Amount::from_sat(294));
    }
}
