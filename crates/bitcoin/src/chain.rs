//! Chain sources: where the wallet and the swap learn about blocks, the mempool and fees,
//! and where they broadcast.
//!
//! Sans-IO in BDK's style: a [`ChainSource`] reads the wallet (its local chain and the
//! scripts it watches) and produces a [`ChainUpdate`]; [`crate::Wallet::sync`] applies it. A
//! source never mutates the wallet, so one that is dead fails with a [`SourceError`] and
//! leaves the wallet as it was, and one that lies (blocks that do not connect) is refused by
//! the wallet's chain.
//!
//! Three sources, one interface: [`BitcoindSource`] (bitcoind JSON-RPC through
//! `bdk_bitcoind_rpc`, block by block), [`ElectrumSource`] (`bdk_electrum`) and
//! [`EsploraSource`] (`bdk_esplora`, blocking HTTP), the last two script by script. The
//! devnet node serves all three protocols, so each is tested against a real server.

mod bitcoind;
mod electrum;
mod esplora;
mod tls;

use std::sync::Arc;

use bdk_wallet::chain::BlockId;
use bitcoin::{Block, BlockHash, FeeRate, Script, Transaction, Txid};

pub use bitcoind::{BitcoindAuth, BitcoindSource};
pub use electrum::ElectrumSource;
pub use esplora::EsploraSource;
pub use tls::TlsTrust;

/// Why a chain source failed. The text names the source and never contains secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source could not be reached or did not answer in time (connection refused, reset,
    /// timeout). Check that the node runs and that its URL and port are right.
    #[error("{source_name} is unreachable: {reason}")]
    Unreachable {
        /// Which source (kind and URL).
        source_name: String,
        /// The transport's error.
        reason: String,
    },
    /// The source refused the credentials.
    #[error("{source_name} refused our credentials: {reason}")]
    Unauthorized {
        /// Which source.
        source_name: String,
        /// What it said.
        reason: String,
    },
    /// The source answered something that is not a valid answer (malformed, inconsistent, a
    /// proof that does not verify): it is broken or lying.
    #[error("{source_name} sent an invalid answer: {reason}")]
    Invalid {
        /// Which source.
        source_name: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The source's TLS certificate was refused (not signed by a trusted CA, expired, made
    /// for another host name): it may be an impostor. Nothing was sent to it.
    #[error("{source_name}: its TLS certificate is refused: {reason}")]
    Certificate {
        /// Which source.
        source_name: String,
        /// Why the certificate was refused.
        reason: String,
    },
    /// The source answered with an error of its own.
    #[error("{source_name} failed: {reason}")]
    Failed {
        /// Which source.
        source_name: String,
        /// Its error.
        reason: String,
    },
    /// The network refused a transaction we broadcast; `reason` is the node's reject reason
    /// (Bitcoin Core's, e.g. `non-BIP68-final`). Nothing was broadcast.
    #[error("the network refused the transaction: {reason}{}", reject_hint(reason))]
    Rejected {
        /// The node's reject reason, verbatim.
        reason: String,
    },
}

/// What a reject reason means for the user, for the common ones.
fn reject_hint(reason: &str) -> &'static str {
    let table: [(&str, &str); 8] = [
        ("non-BIP68-final", " (a relative timelock has not expired yet: wait for more blocks and try again)"),
        ("non-final", " (its absolute timelock has not expired yet: wait and try again)"),
        ("bad-txns-inputs-missingorspent", " (an input is already spent or unknown: a double spend, or its parent is not yet known to the node)"),
        ("missing-inputs", " (an input is already spent or unknown: a double spend, or its parent is not yet known to the node)"),
        ("txn-mempool-conflict", " (it conflicts with a transaction already in the mempool)"),
        ("min relay fee not met", " (the fee is too low: raise the fee rate)"),
        ("mandatory-script-verify-flag-failed", " (a signature or script is invalid)"),
        ("premature-spend-of-coinbase", " (it spends a coinbase output that is not mature yet)"),
    ];
    table
        .iter()
        .find(|(token, _)| reason.contains(token))
        .map_or("", |(_, hint)| hint)
}

impl SourceError {
    /// For a [`SourceError::Rejected`], the node's reject reason.
    pub fn reject_reason(&self) -> Option<&str> {
        match self {
            SourceError::Rejected { reason } => Some(reason),
            _ => None,
        }
    }
}

/// One block for the wallet, in chain order.
#[derive(Debug, Clone)]
pub struct BlockUpdate {
    /// The full block (the wallet keeps only its relevant transactions and header).
    pub block: Block,
    /// Its height.
    pub height: u32,
    /// A block the wallet already has (or the block just before in the same update) that
    /// this block builds on; after a reorg, the fork point.
    pub connected_to: BlockId,
}

/// What a source knows that the wallet does not yet.
#[derive(Debug, Clone)]
pub enum ChainUpdate {
    /// Block by block (bitcoind RPC): new blocks, lowest first, the first connecting to a
    /// block of the wallet's local chain (blocks above that point are replaced: a reorg); the
    /// mempool, each transaction with the unix time it was seen; and the transactions the
    /// wallet believed unconfirmed that left the mempool without being mined.
    Blocks {
        /// New blocks, lowest first.
        blocks: Vec<BlockUpdate>,
        /// Mempool transactions (relevant or not; the wallet filters).
        mempool: Vec<(Arc<Transaction>, u64)>,
        /// Evicted transactions, with the unix time of the eviction.
        evicted: Vec<(Txid, u64)>,
    },
    /// Script by script (Electrum, Esplora): BDK's update of the wallet's scripts'
    /// transactions, their anchors and a chain update connecting to the local chain.
    Scan(Box<bdk_wallet::Update>),
}

/// Where a transaction is, as one source sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// The source does not know it (never seen, evicted, or reorged out and dropped).
    NotFound,
    /// In the source's mempool.
    InMempool,
    /// In the block `block` of the source's best chain.
    Confirmed {
        /// The block containing it.
        block: BlockId,
    },
}

impl TxStatus {
    /// Confirmations at `tip_height` (1 when in the tip's block), 0 when unconfirmed.
    pub fn confirmations(&self, tip_height: u32) -> u32 {
        match self {
            TxStatus::Confirmed { block } if block.height <= tip_height => {
                tip_height - block.height + 1
            }
            _ => 0,
        }
    }
}

/// A source of chain data for [`crate::Wallet::sync`], the swap's watcher
/// ([`crate::watch`]), fee estimation and broadcasting.
///
/// Every call is blocking I/O with its own timeout; call it from a blocking thread
/// (`tokio::task::spawn_blocking`) in async code. Errors name the source.
pub trait ChainSource: Send {
    /// The source's kind and URL, for messages (never credentials).
    fn name(&self) -> String;

    /// The update that brings `wallet` up to the source's view. Reads the wallet (its local
    /// chain, revealed scripts and unconfirmed transactions); never changes it.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read or answers nonsense.
    fn update(&mut self, wallet: &bdk_wallet::Wallet) -> Result<ChainUpdate, SourceError>;

    /// The source's best block.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read.
    fn tip(&mut self) -> Result<BlockId, SourceError>;

    /// The median time past of block `block` (BIP113: the median of the timestamps of it and
    /// the ten blocks before it), in unix seconds: the chain's own clock, which no single
    /// miner can move far. Call it with a block of [`ChainSource::tip`] to compare this
    /// machine's clock with the chain's before a swap starts.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read, or no longer has `block` in its chain.
    fn median_time_past(&mut self, block: &BlockId) -> Result<u64, SourceError>;

    /// The hash of the block at `height` in the source's best chain. Call it with height 0
    /// to learn which network the source serves: its genesis block names the chain.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read or has no block at `height`.
    fn block_hash(&mut self, height: u32) -> Result<BlockHash, SourceError>;

    /// Where transaction `txid` is. `script_pubkey` is the script of one of its outputs
    /// (script-indexed sources find transactions through it).
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read.
    fn tx_status(&mut self, txid: &Txid, script_pubkey: &Script) -> Result<TxStatus, SourceError>;

    /// Transaction `txid` with its witnesses, if the source has it in its mempool or best
    /// chain (`None` otherwise). `script_pubkey` is the script of one of its outputs, as for
    /// [`ChainSource::tx_status`]. Watchers need the witnesses: a published redeem or refund
    /// reveals a secret in its signatures.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read, or answers with another transaction.
    fn transaction(
        &mut self,
        txid: &Txid,
        script_pubkey: &Script,
    ) -> Result<Option<Transaction>, SourceError>;

    /// Broadcasts `tx`; returns its txid once the node accepted it into its mempool (an
    /// already-known transaction counts as accepted).
    ///
    /// # Errors
    ///
    /// [`SourceError::Rejected`] with the node's reject reason if the node refuses it;
    /// another [`SourceError`] if the source cannot be reached.
    fn broadcast(&mut self, tx: &Transaction) -> Result<Txid, SourceError>;

    /// The source's fee rate estimate for confirmation within `target_blocks`, or `None` if
    /// it has none (e.g. not enough data on regtest). Apply a floor and a cap with
    /// [`crate::fee::FeePolicy`].
    ///
    /// # Errors
    ///
    /// A [`SourceError`] if the source cannot be read.
    fn estimate_fee_rate(&mut self, target_blocks: u16) -> Result<Option<FeeRate>, SourceError>;
}

/// The unix time now, in seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
