//! In-memory Bitcoin and Monero ledgers for the simulation: mempool, confirmations, BIP68
//! relative timelocks, replacement by fee, propagation delay, reorgs. Scripts are not run
//! here (Bitcoin Core's interpreter checks them in `confiaro-protocol`'s
//! `tests/integration/script_validity.rs`).

use bitcoin::{OutPoint, Transaction, TxOut, Txid};
use std::collections::{BTreeMap, BTreeSet};

/// A transaction that reached the mempool less than this many seconds before a block is not
/// in it: miners had not heard of it yet.
pub const PROPAGATION_SECONDS: u64 = 60;

/// A Bitcoin chain with a mempool.
///
/// Conflicts are resolved the way full-RBF nodes do (Bitcoin Core 28's default): a
/// transaction that pays a higher fee than everything it conflicts with (and their
/// descendants) replaces them.
#[derive(Default)]
pub struct BtcLedger {
    blocks: Vec<Vec<Txid>>,
    txs: BTreeMap<Txid, Transaction>,
    confirmed_at: BTreeMap<Txid, u32>,
    mempool: Vec<Txid>,
    genesis: BTreeMap<OutPoint, TxOut>,
    spent: BTreeMap<OutPoint, Txid>,
    /// When each mempool transaction arrived.
    arrived: BTreeMap<Txid, u64>,
    /// Transactions miners leave out for now (a lock paying too little, held back by Bob).
    stalled: BTreeSet<Txid>,
    /// The current simulated time, set by the driver.
    pub now: u64,
}

impl BtcLedger {
    /// Adds a confirmed output that exists from the start (e.g. Bob's funding).
    pub fn add_genesis_output(&mut self, outpoint: OutPoint, txout: TxOut) {
        self.genesis.insert(outpoint, txout);
    }

    /// The chain's height (blocks mined).
    pub fn tip(&self) -> u32 {
        self.blocks.len() as u32
    }

    fn output(&self, outpoint: &OutPoint) -> Option<(TxOut, Option<u32>)> {
        if let Some(out) = self.genesis.get(outpoint) {
            return Some((out.clone(), Some(0)));
        }
        let parent = self.txs.get(&outpoint.txid)?;
        if !self.confirmed_at.contains_key(&outpoint.txid) && !self.mempool.contains(&outpoint.txid)
        {
            return None;
        }
        let out = parent.output.get(outpoint.vout as usize)?.clone();
        Some((out, self.confirmed_at.get(&outpoint.txid).copied()))
    }

    /// The fee of a known transaction whose inputs are known.
    fn fee(&self, tx: &Transaction) -> u64 {
        let inputs: u64 = tx
            .input
            .iter()
            .filter_map(|i| {
                self.output(&i.previous_output)
                    .map(|(o, _)| o.value.to_sat())
            })
            .sum();
        let outputs: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        inputs.saturating_sub(outputs)
    }

    /// A mempool transaction and every mempool transaction spending its outputs.
    fn with_descendants(&self, txid: Txid, into: &mut BTreeSet<Txid>) {
        if !into.insert(txid) {
            return;
        }
        let children: Vec<Txid> = self
            .spent
            .iter()
            .filter(|(outpoint, spender)| outpoint.txid == txid && self.mempool.contains(spender))
            .map(|(_, spender)| *spender)
            .collect();
        for child in children {
            self.with_descendants(child, into);
        }
    }

    fn evict(&mut self, txid: Txid) {
        self.mempool.retain(|t| *t != txid);
        self.arrived.remove(&txid);
        if let Some(tx) = self.txs.get(&txid) {
            for input in &tx.input {
                if self.spent.get(&input.previous_output) == Some(&txid) {
                    self.spent.remove(&input.previous_output);
                }
            }
        }
    }

    /// Holds `txid` back from miners until [`BtcLedger::release`].
    pub fn stall(&mut self, txid: Txid) {
        self.stalled.insert(txid);
    }

    /// Lets miners include `txid` again.
    pub fn release(&mut self, txid: &Txid) {
        self.stalled.remove(txid);
    }

    /// When `txid` entered the mempool, while it is there.
    pub fn arrived_at(&self, txid: &Txid) -> Option<u64> {
        self.arrived.get(txid).copied()
    }

    /// Accepts a transaction into the mempool with Bitcoin Core's reject reasons, replacing
    /// conflicting mempool transactions that pay less in total.
    pub fn submit(&mut self, tx: &Transaction) -> Result<(), &'static str> {
        let txid = tx.compute_txid();
        if self.confirmed_at.contains_key(&txid) || self.mempool.contains(&txid) {
            return Ok(());
        }
        let mut input_value = 0u64;
        let mut conflicts = BTreeSet::new();
        for input in &tx.input {
            let Some((out, confirmed)) = self.output(&input.previous_output) else {
                return Err("bad-txns-inputs-missingorspent");
            };
            if let Some(spender) = self.spent.get(&input.previous_output) {
                if self.confirmed_at.contains_key(spender) {
                    return Err("bad-txns-inputs-missingorspent");
                }
                let spender = *spender;
                self.with_descendants(spender, &mut conflicts);
            }
            if let Some(relative) = input.sequence.to_relative_lock_time() {
                let bitcoin::relative::LockTime::Blocks(height) = relative else {
                    return Err("non-BIP68-final");
                };
                // valid in the next block if the parent then has `height` confirmations
                let Some(at) = confirmed else {
                    return Err("non-BIP68-final");
                };
                if self.tip() + 1 - at < u32::from(height.value()) {
                    return Err("non-BIP68-final");
                }
            }
            input_value += out.value.to_sat();
        }
        let output_value: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        if output_value > input_value {
            return Err("bad-txns-in-belowout");
        }
        if !conflicts.is_empty() {
            let replaced: u64 = conflicts.iter().map(|t| self.fee(&self.txs[t])).sum();
            if input_value - output_value <= replaced {
                return Err("insufficient fee: rejecting replacement");
            }
            for conflict in conflicts {
                self.evict(conflict);
            }
        }
        for input in &tx.input {
            self.spent.insert(input.previous_output, txid);
        }
        self.txs.insert(txid, tx.clone());
        self.mempool.push(txid);
        self.arrived.insert(txid, self.now);
        Ok(())
    }

    /// Accepts `tx` as if a child paid whatever it takes to outbid everything it conflicts
    /// with (package RBF): its mempool conflicts and their descendants go whatever they pay.
    /// Refused like [`BtcLedger::submit`] when an input is missing, spent in a block, or
    /// not yet final.
    pub fn submit_outbidding(&mut self, tx: &Transaction) -> Result<(), &'static str> {
        let mut conflicts = BTreeSet::new();
        for input in &tx.input {
            if let Some(spender) = self.spent.get(&input.previous_output).copied() {
                if self.confirmed_at.contains_key(&spender) {
                    return Err("bad-txns-inputs-missingorspent");
                }
                self.with_descendants(spender, &mut conflicts);
            }
        }
        // in mempool (dependency) order, to put them back as they were on a refusal
        let evicted: Vec<Transaction> = self
            .mempool
            .iter()
            .filter(|t| conflicts.contains(*t))
            .map(|t| self.txs[t].clone())
            .collect();
        for txid in &conflicts {
            self.evict(*txid);
        }
        let accepted = self.submit(tx);
        if accepted.is_err() {
            for conflict in evicted {
                let _ = self.submit(&conflict);
            }
        }
        accepted
    }

    /// Mines one block with every mempool transaction miners have heard of
    /// ([`PROPAGATION_SECONDS`]) and do not hold back, and whose parents are in the chain.
    pub fn mine(&mut self) {
        let height = self.tip() + 1;
        let mut block = Vec::new();
        for txid in self.mempool.clone() {
            let fresh = self
                .arrived
                .get(&txid)
                .is_some_and(|at| at + PROPAGATION_SECONDS > self.now);
            let parents_in = self.txs[&txid].input.iter().all(|i| {
                self.genesis.contains_key(&i.previous_output)
                    || self.confirmed_at.contains_key(&i.previous_output.txid)
                    || block.contains(&i.previous_output.txid)
            });
            if !fresh && !self.stalled.contains(&txid) && parents_in {
                block.push(txid);
            }
        }
        self.mempool.retain(|t| !block.contains(t));
        for txid in &block {
            self.confirmed_at.insert(*txid, height);
            self.arrived.remove(txid);
        }
        self.blocks.push(block);
    }

    /// Disconnects the last `depth` blocks, returns their transactions to the mempool (those
    /// that are no longer valid are dropped), then mines `depth + 1` blocks.
    pub fn reorg(&mut self, depth: usize) {
        let depth = depth.min(self.blocks.len());
        let mut returned = Vec::new();
        for _ in 0..depth {
            let block = self
                .blocks
                .pop()
                .expect("depth is bounded by the chain length");
            returned.splice(0..0, block);
        }
        for txid in &returned {
            self.confirmed_at.remove(txid);
        }
        let candidates: Vec<Txid> = returned
            .into_iter()
            .chain(std::mem::take(&mut self.mempool))
            .collect();
        for txid in &candidates {
            for input in &self.txs[txid].input {
                self.spent.remove(&input.previous_output);
            }
        }
        for txid in candidates {
            let tx = self.txs[&txid].clone();
            if self.submit(&tx).is_ok() {
                // miners knew it already: the new chain's blocks can include it
                self.arrived.insert(txid, 0);
            }
        }
        for _ in 0..=depth {
            self.mine();
        }
    }

    /// `Some((tx, confirmations))` (0 in mempool) or `None` when absent.
    pub fn status(&self, txid: &Txid) -> Option<(Transaction, u32)> {
        let tx = self.txs.get(txid)?;
        if let Some(at) = self.confirmed_at.get(txid) {
            return Some((tx.clone(), self.tip() + 1 - at));
        }
        self.mempool.contains(txid).then(|| (tx.clone(), 0))
    }

    /// Whether `txid` is in a block.
    pub fn is_confirmed(&self, txid: &Txid) -> bool {
        self.confirmed_at.contains_key(txid)
    }

    /// The height of the block holding `txid`, if any.
    pub fn confirmed_height(&self, txid: &Txid) -> Option<u32> {
        self.confirmed_at.get(txid).copied()
    }
}

/// One Monero transfer to a lock address.
#[derive(Clone)]
pub struct XmrTransfer {
    /// The transfer's transaction hash.
    pub hash: [u8; 32],
    /// The address it pays.
    pub address: String,
    /// Its amount in piconero.
    pub amount: u64,
    /// The block holding it (`None` in the pool).
    pub height: Option<u64>,
    /// The transaction's unlock time (a block height; 0: the usual 10 blocks).
    pub unlock_time: u64,
    /// Whether Alice paid it as her lock (not dust sent on the side).
    pub is_lock: bool,
}

/// What a watcher's `check_tx_key` and `get_transactions` say about a transfer.
pub struct TransferSeen {
    /// The amount in piconero.
    pub amount: u64,
    /// Its confirmations (0 in the pool).
    pub confirmations: u32,
    /// The block holding it (`None` in the pool).
    pub block_height: Option<u64>,
    /// Its unlock time (0: the usual 10 blocks).
    pub unlock_time: u64,
}

/// A Monero chain holding Alice's wallet and the lock addresses.
pub struct XmrLedger {
    /// The chain's height.
    pub height: u64,
    /// Alice's spendable balance, in piconero.
    pub alice_balance: u64,
    /// What Alice swept back from lock addresses.
    pub alice_swept_back: u64,
    /// What Bob swept from lock addresses.
    pub bob_received: u64,
    /// Every transfer to a lock address, in order.
    pub transfers: Vec<XmrTransfer>,
    /// Swept lock addresses and the amount each gave.
    pub swept: BTreeMap<String, u64>,
}

/// Monero outputs are spendable after this many blocks.
pub const XMR_UNLOCK: u64 = 10;

impl XmrLedger {
    /// A chain at height 200 where Alice holds `alice_balance`.
    pub fn new(alice_balance: u64) -> XmrLedger {
        XmrLedger {
            height: 200,
            alice_balance,
            alice_swept_back: 0,
            bob_received: 0,
            transfers: Vec::new(),
            swept: BTreeMap::new(),
        }
    }

    /// Mines one block: every pooled transfer gets into it.
    pub fn mine(&mut self) {
        self.height += 1;
        for t in &mut self.transfers {
            if t.height.is_none() {
                t.height = Some(self.height);
            }
        }
    }

    /// Pays `amount` to `address` unless a transfer to it exists (the idempotency contract).
    pub fn lock(
        &mut self,
        address: &str,
        amount: u64,
        hash: [u8; 32],
    ) -> Result<([u8; 32], u64), &'static str> {
        if let Some((hash, height, _)) = self.existing_lock(address) {
            return Ok((hash, height));
        }
        if self.alice_balance < amount {
            return Err("not enough unlocked balance");
        }
        self.alice_balance -= amount;
        self.push_transfer(address, amount, hash, true);
        Ok((hash, self.height))
    }

    /// Alice's lock transfer to `address`, if she made one: its hash and the height it was
    /// made at, and its amount.
    pub fn existing_lock(&self, address: &str) -> Option<([u8; 32], u64, u64)> {
        self.transfers
            .iter()
            .find(|t| t.address == address && t.is_lock)
            .map(|t| (t.hash, t.height.unwrap_or(self.height), t.amount))
    }

    /// A transfer that is not Alice's lock (an attacker's dust), paid from elsewhere.
    pub fn send_extra(&mut self, address: &str, amount: u64, hash: [u8; 32]) {
        self.push_transfer(address, amount, hash, false);
    }

    /// A new transfer in the pool, unlocking as usual.
    fn push_transfer(&mut self, address: &str, amount: u64, hash: [u8; 32], is_lock: bool) {
        self.transfers.push(XmrTransfer {
            hash,
            address: address.to_owned(),
            amount,
            height: None,
            unlock_time: 0,
            is_lock,
        });
    }

    /// What a watcher learns of the transfer `hash`, if it exists.
    pub fn transfer(&self, hash: &[u8; 32]) -> Option<TransferSeen> {
        let t = self.transfers.iter().find(|t| &t.hash == hash)?;
        let confirmations = t.height.map(|h| (self.height + 1 - h) as u32).unwrap_or(0);
        Some(TransferSeen {
            amount: t.amount,
            confirmations,
            block_height: t.height,
            unlock_time: t.unlock_time,
        })
    }

    fn unlocked(&self, t: &XmrTransfer) -> bool {
        t.height
            .is_some_and(|h| self.height + 1 - h >= XMR_UNLOCK && self.height >= t.unlock_time)
    }

    /// Sweeps what a wallet restored at `sweep.restore_height` sees at the address, once at
    /// least `sweep.amount` of it is unlocked (like `sweep_all`, it takes every unlocked
    /// output it sees). `Some(0)` if already swept, `None` while waiting — forever, if the
    /// wallet was restored above the lock's block.
    pub fn sweep(&mut self, sweep: &super::Sweep) -> Option<u64> {
        if self.swept.contains_key(&sweep.address) {
            return Some(0);
        }
        let visible: Vec<&XmrTransfer> = self
            .transfers
            .iter()
            .filter(|t| t.address == sweep.address)
            .filter(|t| t.height.is_some_and(|h| h >= sweep.restore_height))
            .collect();
        let unlocked: u64 = visible
            .iter()
            .filter(|t| self.unlocked(t))
            .map(|t| t.amount)
            .sum();
        if unlocked == 0 || unlocked < sweep.amount {
            return None;
        }
        self.swept.insert(sweep.address.clone(), unlocked);
        Some(unlocked)
    }

    /// What Alice's lock paid to `address` (dust sent on the side not counted).
    pub fn locked_at(&self, address: &str) -> u64 {
        self.transfers
            .iter()
            .filter(|t| t.address == address && t.is_lock)
            .map(|t| t.amount)
            .sum()
    }

    /// Gives Alice's lock to `address` an unlock time.
    pub fn set_unlock_time(&mut self, address: &str, unlock_time: u64) {
        for t in &mut self.transfers {
            if t.address == address && t.is_lock {
                t.unlock_time = unlock_time;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash as _;
    use bitcoin::{Amount, ScriptBuf, Sequence, TxIn, Witness};

    fn spend(from: OutPoint, value: u64, tag: u8) -> Transaction {
        Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: from,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: ScriptBuf::from_bytes(vec![0x51, tag]),
            }],
        }
    }

    #[test]
    fn an_outbidding_spend_replaces_a_richer_conflict_and_its_descendants() {
        let mut ledger = BtcLedger::default();
        let coin = OutPoint::new(Txid::from_byte_array([1; 32]), 0);
        ledger.add_genesis_output(
            coin,
            TxOut {
                value: Amount::from_sat(100_000),
                script_pubkey: ScriptBuf::new(),
            },
        );
        // cancel-like parent paying 5,000 and a refund-like child paying 1,000
        let cancel = spend(coin, 95_000, 1);
        let refund = spend(OutPoint::new(cancel.compute_txid(), 0), 94_000, 2);
        ledger.submit(&cancel).expect("cancel");
        ledger.submit(&refund).expect("refund");
        // a redeem-like conflict paying 1,000 is no replacement by plain fee rules
        let redeem = spend(coin, 99_000, 3);
        assert_eq!(
            ledger.submit(&redeem),
            Err("insufficient fee: rejecting replacement")
        );
        ledger.submit_outbidding(&redeem).expect("outbids");
        assert_eq!(
            ledger.status(&redeem.compute_txid()).map(|(_, c)| c),
            Some(0)
        );
        assert!(ledger.status(&cancel.compute_txid()).is_none());
        assert!(ledger.status(&refund.compute_txid()).is_none());
        ledger.now = PROPAGATION_SECONDS;
        ledger.mine();
        assert!(ledger.is_confirmed(&redeem.compute_txid()));
        // nothing outbids a block
        let late = spend(coin, 90_000, 4);
        assert!(ledger.submit_outbidding(&late).is_err());
        assert!(ledger.is_confirmed(&redeem.compute_txid()));
    }
}
