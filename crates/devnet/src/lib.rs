//! A regtest Bitcoin node for tests and testers, whose blocks are validated by Bitcoin Core's
//! consensus library (`libbitcoinkernel`, through the `bitcoinkernel` crate).
//!
//! [`Node`] keeps a regtest chainstate in a data directory. Every block it mines is a real
//! regtest block (coinbase with the BIP34 height, witness commitment, proof of work at
//! `nBits` `0x207fffff`) built with rust-bitcoin and handed to the kernel; the block is part of
//! our chain only if the kernel made it the new tip. A block the kernel refuses is never part
//! of the chain, and the transactions it carried are dropped from the mempool.
//!
//! The kernel has no mempool and no UTXO lookup, so the node keeps its own UTXO set and
//! transaction index, updated from the blocks it submitted once the kernel has connected them
//! (and rebuilt from the kernel's block files when an existing data directory is reopened).
//! Its mempool ([`Node::submit`]) applies Bitcoin Core's checks that matter for a swap: inputs
//! exist and are unspent, scripts pass the kernel's script verification with the standard
//! flags, absolute (`nLockTime`) and relative (BIP68) timelocks are satisfiable in the next
//! block, coinbase maturity, and a positive fee. A rejection carries Bitcoin Core's reject
//! string ([`RejectReason`]).
//!
//! The kernel's log is process-global: it is connected once per process, into a bounded
//! in-memory buffer from which [`DevnetError::BlockRejected`] quotes the kernel's own reason
//! for refusing a block. Several nodes in one process (parallel tests) work.
//!
//! The [`rpc`] module serves a bitcoind-compatible JSON-RPC subset over loopback HTTP for a
//! node shared behind a mutex, and can mine every N seconds. The [`electrum`] module serves
//! the Electrum protocol over loopback TCP, and the [`esplora`] module the Esplora REST API
//! (Blockstream's electrs), for the same shared node. The [`faucet`] pays any address from
//! the devnet's mining key (the RPC server's `sendtoaddress`).
//!
//! The [`stack`] module runs all of it as one local regtest stack, with a regtest `monerod`,
//! a funded `monero-wallet-rpc` and a libp2p rendezvous point: the `confiaro-devnet` binary,
//! the CLI's devnet commands and the end-to-end tests use it.
//!
//! Reorgs are made on purpose with [`Node::reorg`] (a longer branch from an earlier block,
//! which the kernel switches to); the transactions of the abandoned blocks go back to the
//! mempool if they are still valid, as in Bitcoin Core. Mining follows a fee policy
//! ([`Node::set_min_mining_fee_rate`], [`Node::prioritise_transaction`]): packages by
//! ancestor fee rate, so a child can pay for its parent. Not in this slice: replace-by-fee.

pub mod electrum;
pub mod esplora;
pub mod faucet;
mod http;
pub mod rpc;
pub mod stack;
pub mod testkit;
pub mod tls;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Target, Transaction,
    TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use bitcoinkernel::prelude::*;

/// Blocks a coinbase output must wait before it can be spent (Bitcoin Core's
/// `COINBASE_MATURITY`).
pub const COINBASE_MATURITY: u32 = 100;

/// The regtest proof-of-work limit, as the compact `nBits` every devnet block carries.
pub const REGTEST_BITS: u32 = 0x207f_ffff;

/// Regtest's subsidy halving interval, in blocks.
const HALVING_INTERVAL: u32 = 150;

/// Standard script verification flags used for mempool acceptance: P2SH, DERSIG, NULLDUMMY,
/// CHECKLOCKTIMEVERIFY, CHECKSEQUENCEVERIFY, WITNESS and TAPROOT.
pub const STANDARD_SCRIPT_FLAGS: u32 = bitcoinkernel::VERIFY_P2SH
    | bitcoinkernel::VERIFY_DERSIG
    | bitcoinkernel::VERIFY_NULLDUMMY
    | bitcoinkernel::VERIFY_CHECKLOCKTIMEVERIFY
    | bitcoinkernel::VERIFY_CHECKSEQUENCEVERIFY
    | bitcoinkernel::VERIFY_WITNESS
    | bitcoinkernel::VERIFY_TAPROOT;

/// Bit 31 of `nSequence`: relative lock time disabled (BIP68).
const SEQUENCE_DISABLE_FLAG: u32 = 1 << 31;
/// Bit 22 of `nSequence`: the relative lock time counts 512-second units (BIP68).
const SEQUENCE_TYPE_FLAG: u32 = 1 << 22;
/// The low 16 bits of `nSequence`: the relative lock time's value (BIP68).
const SEQUENCE_LOCKTIME_MASK: u32 = 0x0000_ffff;
/// Time-based relative lock times are in units of 2^9 = 512 seconds (BIP68).
const SEQUENCE_GRANULARITY: u32 = 9;

/// How many kernel log lines the process-wide buffer keeps.
const LOG_CAPACITY: usize = 2000;

/// Errors of the devnet node itself (as opposed to a transaction's rejection, which is a
/// [`RejectReason`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// The data directory could not be created or is not valid UTF-8.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory given to [`Node::open`].
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The kernel returned an error (context, chainstate, block encoding or reading).
    #[error("bitcoinkernel: {0}")]
    Kernel(String),
    /// The kernel refused a block: the tip did not move to it. The block is not part of the
    /// chain; the transactions it carried were removed from the mempool.
    #[error("block {hash} at height {height} refused by the kernel: {kernel_log}")]
    BlockRejected {
        /// The refused block's hash.
        hash: BlockHash,
        /// The height it would have had.
        height: u32,
        /// The kernel's log lines that mention the block or an invalid block/transaction
        /// (its readable reason, e.g. `bad-txns-nonfinal`), possibly empty.
        kernel_log: String,
    },
    /// A block read back from the kernel's block files could not be decoded.
    #[error("block at height {height} in the kernel's files does not decode: {reason}")]
    CorruptBlock {
        /// The block's height in the active chain.
        height: u32,
        /// The decoding error.
        reason: String,
    },
    /// [`Node::reorg`] was asked for an impossible reorg.
    #[error("cannot replace {depth} of {tip} blocks with {new_blocks} (need 0 < depth < tip and new_blocks > depth)")]
    BadReorg {
        /// Blocks to replace.
        depth: u32,
        /// Blocks of the new branch.
        new_blocks: u32,
        /// The tip height.
        tip: u32,
    },
    /// A caller-supplied transaction for [`Node::mine_unchecked`] spends an output whose value
    /// the node does not know, so the coinbase amount cannot be computed.
    #[error("transaction {txid} spends unknown output {outpoint}")]
    UnknownInput {
        /// The spending transaction.
        txid: Txid,
        /// The unknown output.
        outpoint: OutPoint,
    },
}

/// Why the mempool refused a transaction: Bitcoin Core's reject reason.
///
/// [`Display`](std::fmt::Display) prints the exact string Bitcoin Core's
/// `sendrawtransaction`/`testmempoolaccept` report (for [`RejectReason::ScriptVerifyFailed`],
/// Core's prefix with the failing input, since the kernel does not report the script error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// A coinbase transaction cannot enter the mempool.
    #[error("coinbase")]
    Coinbase,
    /// The transaction has no inputs.
    #[error("bad-txns-vin-empty")]
    NoInputs,
    /// The transaction has no outputs.
    #[error("bad-txns-vout-empty")]
    NoOutputs,
    /// The transaction spends the same output twice.
    #[error("bad-txns-inputs-duplicate")]
    DuplicateInputs,
    /// The same transaction is already in the mempool.
    #[error("txn-already-in-mempool")]
    AlreadyInMempool,
    /// The transaction is already confirmed.
    #[error("txn-already-known")]
    AlreadyKnown,
    /// Its `nLockTime` is not satisfied in the next block.
    #[error("non-final")]
    NonFinal,
    /// One of its inputs is already spent by a mempool transaction.
    #[error("txn-mempool-conflict")]
    MempoolConflict,
    /// One of its inputs does not exist or is already spent in the chain.
    #[error("bad-txns-inputs-missingorspent")]
    InputsMissingOrSpent,
    /// A BIP68 relative timelock of one of its inputs is not satisfied in the next block.
    #[error("non-BIP68-final")]
    NonBip68Final,
    /// It spends a coinbase output with fewer than [`COINBASE_MATURITY`] confirmations.
    #[error("bad-txns-premature-spend-of-coinbase")]
    PrematureCoinbaseSpend,
    /// Its outputs are worth more than its inputs.
    #[error("bad-txns-in-belowout")]
    InBelowOut,
    /// It pays no fee.
    #[error("min relay fee not met")]
    MinRelayFeeNotMet,
    /// The kernel's script verification failed for one input with the standard flags.
    ///
    /// Bitcoin Core puts the script error in the parentheses (e.g. `Script evaluated without
    /// error but finished with a false/empty top stack element`); the kernel's verify call
    /// does not report it, so the input index and the kernel's error stand there instead.
    /// Compare [`RejectReason::code`], not the whole string, with Core's.
    #[error("mandatory-script-verify-flag-failed (input {input}: {detail})")]
    ScriptVerifyFailed {
        /// The index of the failing input.
        input: usize,
        /// The kernel's error for that input.
        detail: String,
    },
}

impl RejectReason {
    /// Bitcoin Core's reject reason token, without any detail: e.g. `non-BIP68-final`, or
    /// `mandatory-script-verify-flag-failed` for a script failure.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Coinbase => "coinbase",
            RejectReason::NoInputs => "bad-txns-vin-empty",
            RejectReason::NoOutputs => "bad-txns-vout-empty",
            RejectReason::DuplicateInputs => "bad-txns-inputs-duplicate",
            RejectReason::AlreadyInMempool => "txn-already-in-mempool",
            RejectReason::AlreadyKnown => "txn-already-known",
            RejectReason::NonFinal => "non-final",
            RejectReason::MempoolConflict => "txn-mempool-conflict",
            RejectReason::InputsMissingOrSpent => "bad-txns-inputs-missingorspent",
            RejectReason::NonBip68Final => "non-BIP68-final",
            RejectReason::PrematureCoinbaseSpend => "bad-txns-premature-spend-of-coinbase",
            RejectReason::InBelowOut => "bad-txns-in-belowout",
            RejectReason::MinRelayFeeNotMet => "min relay fee not met",
            RejectReason::ScriptVerifyFailed { .. } => "mandatory-script-verify-flag-failed",
        }
    }
}

/// An unspent output known to the node's UTXO set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utxo {
    /// The output itself.
    pub txout: TxOut,
    /// The height of the block that created it.
    pub height: u32,
    /// Whether it is a coinbase output (subject to [`COINBASE_MATURITY`]).
    pub is_coinbase: bool,
}

/// What the node remembers of each block of its active chain.
#[derive(Debug, Clone, Copy)]
struct BlockMeta {
    hash: BlockHash,
    time: u32,
}

/// A regtest Bitcoin node backed by a libbitcoinkernel chainstate.
///
/// Open one per data directory with [`Node::open`]; mine with [`Node::mine`]; submit
/// transactions with [`Node::submit`]. All methods are synchronous; the node is not shared
/// between threads by itself (wrap it in a mutex to do so).
pub struct Node {
    // Field order matters: the chainstate manager must be dropped before its context.
    chainman: bitcoinkernel::ChainstateManager,
    _context: bitcoinkernel::Context,
    data_dir: PathBuf,
    /// Active chain, index = height; height 0 is the regtest genesis block.
    chain: Vec<BlockMeta>,
    /// The txids of each active-chain block, index = height (coinbase first).
    block_txids: Vec<Vec<Txid>>,
    utxos: HashMap<OutPoint, Utxo>,
    /// Confirmed transactions: txid -> (transaction, block height).
    tx_index: HashMap<Txid, (Transaction, u32)>,
    /// Mempool in acceptance order (a parent always precedes its children).
    mempool: Vec<Transaction>,
    /// Outpoints spent by mempool transactions -> spending txid.
    mempool_spends: HashMap<OutPoint, Txid>,
    /// The clock blocks are stamped with, instead of the system clock, when set.
    mock_time: Option<u32>,
    /// Reorgs made by [`Node::reorg`] so far (tags their blocks' coinbases).
    reorgs: u32,
    /// Fee deltas set by [`Node::prioritise_transaction`]: txid -> sat added to its fee when
    /// choosing what to mine.
    fee_deltas: HashMap<Txid, i64>,
    /// The lowest package fee rate mined, in sat/vB ([`Node::set_min_mining_fee_rate`]).
    min_mining_fee_rate: u64,
    /// Transactions to hold out of blocks when they enter the mempool ([`Node::hold`]).
    held: HashSet<Txid>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.data_dir)
            .field("tip_height", &self.tip_height())
            .field("mempool", &self.mempool.len())
            .finish_non_exhaustive()
    }
}

/// The process-wide kernel log buffer: the last [`LOG_CAPACITY`] lines, each with its
/// sequence number (counting every line the kernel ever logged in this process).
struct LogBuffer {
    next_seq: u64,
    lines: VecDeque<(u64, String)>,
}

fn log_buffer() -> &'static Mutex<LogBuffer> {
    static BUFFER: OnceLock<Mutex<LogBuffer>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        Mutex::new(LogBuffer {
            next_seq: 0,
            lines: VecDeque::with_capacity(LOG_CAPACITY),
        })
    })
}

/// The sequence number the next kernel log line will get.
fn log_mark() -> u64 {
    log_buffer().lock().map(|b| b.next_seq).unwrap_or(0)
}

/// Sink for the kernel's global log.
struct BufferLog;

impl bitcoinkernel::Log for BufferLog {
    fn log(&self, message: &str) {
        if let Ok(mut buffer) = log_buffer().lock() {
            if buffer.lines.len() >= LOG_CAPACITY {
                buffer.lines.pop_front();
            }
            let seq = buffer.next_seq;
            buffer.next_seq += 1;
            buffer
                .lines
                .push_back((seq, message.trim_end().to_string()));
        }
    }
}

/// Connects the kernel's process-global log to [`log_buffer`], once per process.
fn init_logging() {
    static LOGGING: OnceLock<()> = OnceLock::new();
    LOGGING.get_or_init(|| {
        match bitcoinkernel::Logger::new(BufferLog) {
            // The connection must live as long as the process: leak it on purpose.
            Ok(logger) => std::mem::forget(logger),
            // Without a log connection the kernel still validates; we only lose its reasons.
            Err(_) => bitcoinkernel::disable_logging(),
        }
    });
}

/// The kernel's explanation of why it refused block `hash`, from the lines it logged since
/// `mark`: the lines naming the block and reporting a failure (e.g. `ConnectBlock <hash>
/// failed, bad-txns-nonfinal, ...`), else any line naming it, else the error lines logged
/// since `mark` (which, with several nodes in the process, may belong to another node).
fn kernel_log_about(hash: &BlockHash, mark: u64) -> String {
    let wanted = hash.to_string();
    let Ok(buffer) = log_buffer().lock() else {
        return String::new();
    };
    let recent: Vec<&str> = buffer
        .lines
        .iter()
        .filter(|(seq, _)| *seq >= mark)
        .map(|(_, line)| line.as_str())
        .collect();
    let pick = |pred: &dyn Fn(&str) -> bool| -> Vec<&str> {
        recent.iter().copied().filter(|l| pred(l)).collect()
    };
    let mut lines =
        pick(&|l| l.contains(&wanted) && (l.contains("failed") || l.contains("FAILED")));
    if lines.is_empty() {
        lines = pick(&|l| l.contains(&wanted));
    }
    if lines.is_empty() {
        lines = pick(&|l| l.contains("error") || l.contains("bad-"));
    }
    lines.join(" | ")
}

fn kernel_err(err: impl std::fmt::Display) -> DevnetError {
    DevnetError::Kernel(err.to_string())
}

/// The block subsidy at `height` on regtest.
fn subsidy(height: u32) -> Amount {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat(Amount::from_int_btc(50).to_sat() >> halvings)
}

fn now_unix() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// Whether `tx` is final in a block at `height` whose previous block has median time past
/// `mtp` (Bitcoin Core's `IsFinalTx` with BIP113).
fn is_final(tx: &Transaction, height: u32, mtp: u32) -> bool {
    let lock = tx.lock_time.to_consensus_u32();
    if lock == 0 {
        return true;
    }
    let limit = if lock < bitcoin::absolute::LOCK_TIME_THRESHOLD {
        height
    } else {
        mtp
    };
    if lock < limit {
        return true;
    }
    tx.input.iter().all(|i| i.sequence == Sequence::MAX)
}

impl Node {
    /// Opens (or creates) a regtest node whose chainstate lives in `data_dir`.
    ///
    /// Call once per directory; two nodes must not share a directory. An existing chain is
    /// kept: its blocks are read back from the kernel to rebuild the UTXO set and the
    /// transaction index. The mempool always starts empty.
    ///
    /// # Errors
    ///
    /// [`DevnetError::DataDir`] if the directory cannot be created or its path is not UTF-8;
    /// [`DevnetError::Kernel`] if the kernel cannot create the context or chainstate, or
    /// cannot read a block back; [`DevnetError::CorruptBlock`] if a stored block does not
    /// decode.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Node, DevnetError> {
        init_logging();
        let data_dir = data_dir.as_ref().to_path_buf();
        let blocks_dir = data_dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir).map_err(|e| DevnetError::DataDir {
            path: data_dir.clone(),
            reason: e.to_string(),
        })?;
        let not_utf8 = || DevnetError::DataDir {
            path: data_dir.clone(),
            reason: "path is not valid UTF-8".to_string(),
        };
        let data_str = data_dir.to_str().ok_or_else(not_utf8)?.to_string();
        let blocks_str = blocks_dir.to_str().ok_or_else(not_utf8)?.to_string();

        let context = bitcoinkernel::ContextBuilder::new()
            .chain_type(bitcoinkernel::ChainType::Regtest)
            .build()
            .map_err(kernel_err)?;
        let chainman = bitcoinkernel::ChainstateManager::new(&context, &data_str, &blocks_str)
            .map_err(kernel_err)?;
        chainman.import_blocks().map_err(kernel_err)?;

        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        let mut node = Node {
            chainman,
            _context: context,
            data_dir,
            chain: vec![BlockMeta {
                hash: genesis.block_hash(),
                time: genesis.header.time,
            }],
            block_txids: vec![genesis
                .txdata
                .iter()
                .map(Transaction::compute_txid)
                .collect()],
            utxos: HashMap::new(),
            tx_index: HashMap::new(),
            mempool: Vec::new(),
            mempool_spends: HashMap::new(),
            mock_time: None,
            reorgs: 0,
            fee_deltas: HashMap::new(),
            min_mining_fee_rate: 0,
            held: HashSet::new(),
        };
        node.replay_kernel_chain()?;
        Ok(node)
    }

    /// Rebuilds the node's index from the kernel's active chain (heights 1..=tip).
    fn replay_kernel_chain(&mut self) -> Result<(), DevnetError> {
        let tip = self.chainman.active_chain().height();
        let mut blocks = Vec::new();
        {
            let chain = self.chainman.active_chain();
            for height in 1..=tip.max(0) {
                let height_usize = usize::try_from(height).map_err(kernel_err)?;
                let entry = chain.at_height(height_usize).ok_or_else(|| {
                    DevnetError::Kernel(format!("no active-chain entry at height {height}"))
                })?;
                let kblock = self.chainman.read_block_data(&entry).map_err(kernel_err)?;
                let bytes = kblock.consensus_encode().map_err(kernel_err)?;
                let block: Block = deserialize(&bytes).map_err(|e| DevnetError::CorruptBlock {
                    height: u32::try_from(height).unwrap_or(0),
                    reason: e.to_string(),
                })?;
                blocks.push(block);
            }
        }
        for block in blocks {
            self.connect(&block);
        }
        Ok(())
    }

    /// Sets the clock the next blocks are stamped with (like bitcoind's `setmocktime`), or
    /// goes back to the system clock with `None`. Use it to test time-based timelocks.
    ///
    /// Block timestamps never go backwards and always exceed the median time past, whatever
    /// the clock says. The kernel checks timestamps against the real system clock: a block
    /// more than two hours ahead of it is refused ([`DevnetError::BlockRejected`]).
    pub fn set_mock_time(&mut self, time: Option<u32>) {
        self.mock_time = time;
    }

    fn clock(&self) -> u32 {
        self.mock_time.unwrap_or_else(now_unix)
    }

    /// The path given to [`Node::open`].
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The height of the active chain's tip (0 when only the genesis block exists).
    pub fn tip_height(&self) -> u32 {
        u32::try_from(self.chain.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// The hash of the active chain's tip.
    pub fn tip_hash(&self) -> BlockHash {
        self.chain.last().map(|m| m.hash).unwrap_or_else(|| {
            bitcoin::constants::genesis_block(bitcoin::Network::Regtest).block_hash()
        })
    }

    /// The hash of the active-chain block at `height`, or `None` above the tip.
    pub fn block_hash(&self, height: u32) -> Option<BlockHash> {
        self.chain
            .get(usize::try_from(height).ok()?)
            .map(|m| m.hash)
    }

    /// The txids of the active-chain block at `height`, coinbase first, or `None` above the
    /// tip. Use it with [`Node::get_tx`] to read a block's transactions (e.g. a coinbase).
    pub fn block_txids(&self, height: u32) -> Option<&[Txid]> {
        self.block_txids
            .get(usize::try_from(height).ok()?)
            .map(Vec::as_slice)
    }

    /// The active-chain block at `height`, read back from the kernel's block files, or
    /// `Ok(None)` above the tip.
    ///
    /// # Errors
    ///
    /// [`DevnetError::Kernel`] if the kernel cannot read the block;
    /// [`DevnetError::CorruptBlock`] if it does not decode.
    pub fn block(&self, height: u32) -> Result<Option<Block>, DevnetError> {
        if height > self.tip_height() {
            return Ok(None);
        }
        if height == 0 {
            return Ok(Some(bitcoin::constants::genesis_block(
                bitcoin::Network::Regtest,
            )));
        }
        let height_usize = usize::try_from(height).map_err(kernel_err)?;
        let chain = self.chainman.active_chain();
        let entry = chain.at_height(height_usize).ok_or_else(|| {
            DevnetError::Kernel(format!("no active-chain entry at height {height}"))
        })?;
        let kblock = self.chainman.read_block_data(&entry).map_err(kernel_err)?;
        let bytes = kblock.consensus_encode().map_err(kernel_err)?;
        let block: Block = deserialize(&bytes).map_err(|e| DevnetError::CorruptBlock {
            height,
            reason: e.to_string(),
        })?;
        Ok(Some(block))
    }

    /// The height of the active-chain block `hash`, or `None` if it is not in the active chain.
    pub fn block_height(&self, hash: &BlockHash) -> Option<u32> {
        self.chain
            .iter()
            .position(|m| m.hash == *hash)
            .and_then(|h| u32::try_from(h).ok())
    }

    /// The timestamp of the active-chain block at `height`, or `None` above the tip.
    pub fn block_time(&self, height: u32) -> Option<u32> {
        self.chain
            .get(usize::try_from(height).ok()?)
            .map(|m| m.time)
    }

    /// The hash of the kernel's own active-chain tip (normally equal to [`Node::tip_hash`];
    /// exposed so tests can check the kernel's view directly).
    pub fn kernel_tip_hash(&self) -> BlockHash {
        let bytes: [u8; 32] = self
            .chainman
            .active_chain()
            .tip()
            .block_hash()
            .to_owned()
            .into();
        BlockHash::from_byte_array(bytes)
    }

    /// The median time past of the block at `height` (median of its and its ten
    /// predecessors' timestamps), as BIP113 and BIP68 use it.
    pub fn median_time_past(&self, height: u32) -> u32 {
        let end = usize::try_from(height)
            .unwrap_or(0)
            .min(self.chain.len().saturating_sub(1));
        let start = end.saturating_sub(10);
        let mut times: Vec<u32> = self.chain[start..=end].iter().map(|m| m.time).collect();
        times.sort_unstable();
        times[times.len() / 2]
    }

    /// A transaction known to the node: confirmed (with its number of confirmations, 1 for
    /// the tip's block) or in the mempool (`None` confirmations); `None` if unknown.
    pub fn get_tx(&self, txid: &Txid) -> Option<(Transaction, Option<u32>)> {
        if let Some((tx, height)) = self.tx_index.get(txid) {
            return Some((tx.clone(), Some(self.tip_height() - height + 1)));
        }
        self.mempool
            .iter()
            .find(|tx| tx.compute_txid() == *txid)
            .map(|tx| (tx.clone(), None))
    }

    /// The txids in the mempool, in acceptance order (parents before children).
    pub fn mempool(&self) -> Vec<Txid> {
        self.mempool.iter().map(Transaction::compute_txid).collect()
    }

    /// The confirmed unspent output at `outpoint`, or `None` if it does not exist or is spent
    /// in the chain (spends by mempool transactions are not considered).
    pub fn utxo(&self, outpoint: &OutPoint) -> Option<Utxo> {
        self.utxos.get(outpoint).cloned()
    }

    /// The outputs paying to `script_pubkey` that a transaction entering the mempool now may
    /// spend: confirmed unspent outputs (coinbase outputs only once mature in the next block)
    /// and outputs of mempool transactions, in both cases not already spent by a mempool
    /// transaction. Confirmed outputs come first, oldest first; unconfirmed ones carry
    /// `height` [`None`]. This is what a wallet of that script could spend, as bitcoind's
    /// wallet spends its own unconfirmed change.
    pub fn spendable_outputs(
        &self,
        script_pubkey: &bitcoin::Script,
    ) -> Vec<(OutPoint, TxOut, Option<u32>)> {
        let next_height = self.tip_height() + 1;
        let mut confirmed: Vec<(OutPoint, TxOut, Option<u32>)> = self
            .utxos
            .iter()
            .filter(|(op, utxo)| {
                utxo.txout.script_pubkey.as_script() == script_pubkey
                    && !self.mempool_spends.contains_key(op)
                    && !(utxo.is_coinbase && next_height - utxo.height < COINBASE_MATURITY)
            })
            .map(|(op, utxo)| (*op, utxo.txout.clone(), Some(utxo.height)))
            .collect();
        confirmed.sort_by_key(|(op, _, height)| (*height, op.txid, op.vout));
        for tx in &self.mempool {
            let txid = tx.compute_txid();
            for (vout, out) in tx.output.iter().enumerate() {
                let op = OutPoint::new(txid, u32::try_from(vout).unwrap_or(u32::MAX));
                if out.script_pubkey.as_script() == script_pubkey
                    && !self.mempool_spends.contains_key(&op)
                {
                    confirmed.push((op, out.clone(), None));
                }
            }
        }
        confirmed
    }

    /// Checks `tx` against the mempool rules without adding it (like `testmempoolaccept`).
    ///
    /// # Errors
    ///
    /// The [`RejectReason`] Bitcoin Core would give, see [`Node::submit`].
    pub fn test_accept(&self, tx: &Transaction) -> Result<Amount, RejectReason> {
        let txid = tx.compute_txid();
        if tx.is_coinbase() {
            return Err(RejectReason::Coinbase);
        }
        if tx.input.is_empty() {
            return Err(RejectReason::NoInputs);
        }
        if tx.output.is_empty() {
            return Err(RejectReason::NoOutputs);
        }
        let mut seen = HashSet::new();
        if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
            return Err(RejectReason::DuplicateInputs);
        }
        let next_height = self.tip_height() + 1;
        let tip_mtp = self.median_time_past(self.tip_height());
        if !is_final(tx, next_height, tip_mtp) {
            return Err(RejectReason::NonFinal);
        }
        if self.mempool.iter().any(|m| m.compute_txid() == txid) {
            return Err(RejectReason::AlreadyInMempool);
        }
        if self.tx_index.contains_key(&txid) {
            return Err(RejectReason::AlreadyKnown);
        }
        if tx
            .input
            .iter()
            .any(|i| self.mempool_spends.contains_key(&i.previous_output))
        {
            return Err(RejectReason::MempoolConflict);
        }
        // The spent outputs, with their confirmation height (next_height when unconfirmed).
        let mut spent = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            let coin = self
                .utxos
                .get(&input.previous_output)
                .cloned()
                .or_else(|| self.mempool_output(&input.previous_output, next_height))
                .ok_or(RejectReason::InputsMissingOrSpent)?;
            spent.push(coin);
        }
        if !self.sequence_locks_ok(tx, &spent, next_height, tip_mtp) {
            return Err(RejectReason::NonBip68Final);
        }
        let mut value_in = Amount::ZERO;
        for coin in &spent {
            if coin.is_coinbase && next_height - coin.height < COINBASE_MATURITY {
                return Err(RejectReason::PrematureCoinbaseSpend);
            }
            value_in = value_in
                .checked_add(coin.txout.value)
                .ok_or(RejectReason::InBelowOut)?;
        }
        let value_out = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))
            .ok_or(RejectReason::InBelowOut)?;
        if value_in < value_out {
            return Err(RejectReason::InBelowOut);
        }
        let fee = value_in - value_out;
        if fee == Amount::ZERO {
            return Err(RejectReason::MinRelayFeeNotMet);
        }
        self.verify_scripts(tx, &spent)?;
        Ok(fee)
    }

    /// Submits `tx` to the mempool (like `sendrawtransaction`); it is mined by the next
    /// [`Node::mine`].
    ///
    /// The transaction is accepted only if, in this order (Bitcoin Core's): it is not a
    /// coinbase and has inputs and outputs, none duplicated; its `nLockTime` is satisfied in
    /// the next block (BIP113 median time past); it is not already known; none of its inputs is spent by a mempool
    /// transaction; every input exists, confirmed or in the mempool; its BIP68 relative
    /// timelocks (version >= 2, disable flag clear; block- and time-based, from the parent's
    /// confirmation height and median time past) are satisfied in the next block; it spends
    /// no immature coinbase; its outputs do not exceed its inputs and it pays a fee; and every
    /// input passes the kernel's script verification with [`STANDARD_SCRIPT_FLAGS`].
    ///
    /// # Errors
    ///
    /// The first failed check's [`RejectReason`], whose `Display` is Bitcoin Core's reject
    /// string (`non-final`, `txn-mempool-conflict`, `bad-txns-inputs-missingorspent`,
    /// `non-BIP68-final`, `bad-txns-premature-spend-of-coinbase`, `bad-txns-in-belowout`,
    /// `min relay fee not met`, `mandatory-script-verify-flag-failed (...)`, ...).
    pub fn submit(&mut self, tx: Transaction) -> Result<Txid, RejectReason> {
        let fee = self.test_accept(&tx)?;
        let txid = tx.compute_txid();
        if self.held.remove(&txid) {
            self.hold_now(txid, fee);
        }
        for input in &tx.input {
            self.mempool_spends.insert(input.previous_output, txid);
        }
        self.mempool.push(tx);
        Ok(txid)
    }

    /// An output of a mempool transaction, as a coin confirmed at `height`, if it is not
    /// spent by another mempool transaction.
    fn mempool_output(&self, outpoint: &OutPoint, height: u32) -> Option<Utxo> {
        if self.mempool_spends.contains_key(outpoint) {
            return None;
        }
        let parent = self
            .mempool
            .iter()
            .find(|tx| tx.compute_txid() == outpoint.txid)?;
        let txout = parent
            .output
            .get(usize::try_from(outpoint.vout).ok()?)?
            .clone();
        Some(Utxo {
            txout,
            height,
            is_coinbase: false,
        })
    }

    /// BIP68: whether `tx`'s relative timelocks are met in a block at `height` whose
    /// predecessor has median time past `prev_mtp` (Bitcoin Core's `CalculateSequenceLocks`
    /// and `EvaluateSequenceLocks`). `spent[i]` is input `i`'s coin with its confirmation
    /// height (`height` for an unconfirmed parent).
    fn sequence_locks_ok(
        &self,
        tx: &Transaction,
        spent: &[Utxo],
        height: u32,
        prev_mtp: u32,
    ) -> bool {
        if tx.version.0 < 2 {
            return true;
        }
        let mut min_height: i64 = -1;
        let mut min_time: i64 = -1;
        for (input, coin) in tx.input.iter().zip(spent) {
            let seq = input.sequence.to_consensus_u32();
            if seq & SEQUENCE_DISABLE_FLAG != 0 {
                continue;
            }
            let value = i64::from(seq & SEQUENCE_LOCKTIME_MASK);
            if seq & SEQUENCE_TYPE_FLAG != 0 {
                let coin_time = i64::from(self.median_time_past(coin.height.saturating_sub(1)));
                min_time = min_time.max(coin_time + (value << SEQUENCE_GRANULARITY) - 1);
            } else {
                min_height = min_height.max(i64::from(coin.height) + value - 1);
            }
        }
        min_height < i64::from(height) && min_time < i64::from(prev_mtp)
    }

    /// Runs the kernel's script verification on every input of `tx`.
    fn verify_scripts(&self, tx: &Transaction, spent: &[Utxo]) -> Result<(), RejectReason> {
        let script_err =
            |input: usize, detail: String| RejectReason::ScriptVerifyFailed { input, detail };
        let ktx = bitcoinkernel::Transaction::new(&serialize(tx))
            .map_err(|e| script_err(0, format!("kernel cannot parse the transaction: {e}")))?;
        let mut kouts = Vec::with_capacity(spent.len());
        for (index, coin) in spent.iter().enumerate() {
            let spk = bitcoinkernel::ScriptPubkey::new(coin.txout.script_pubkey.as_bytes())
                .map_err(|e| script_err(index, e.to_string()))?;
            let value = i64::try_from(coin.txout.value.to_sat())
                .map_err(|e| script_err(index, e.to_string()))?;
            kouts.push(bitcoinkernel::TxOut::new(&spk, value));
        }
        let precomputed = bitcoinkernel::PrecomputedTransactionData::new(&ktx, &kouts)
            .map_err(|e| script_err(0, e.to_string()))?;
        for (index, kout) in kouts.iter().enumerate() {
            bitcoinkernel::verify(
                &kout.script_pubkey(),
                Some(kout.value()),
                &ktx,
                index,
                Some(STANDARD_SCRIPT_FLAGS),
                &precomputed,
            )
            .map_err(|e| script_err(index, e.to_string()))?;
        }
        Ok(())
    }

    /// Mines `n` blocks paying their coinbase to `to`, each including every mempool
    /// transaction valid at its height (in dependency order), and returns their hashes.
    ///
    /// Each block is a real regtest block (BIP34 height in the coinbase, witness commitment,
    /// `nBits` [`REGTEST_BITS`] with a ground nonce, timestamp after its predecessor's and
    /// above the median time past) and becomes part of the chain only if the kernel connects
    /// it as the new tip.
    ///
    /// # Errors
    ///
    /// [`DevnetError::BlockRejected`] if the kernel refuses a block (the transactions it
    /// carried are dropped from the mempool; blocks mined before it stay);
    /// [`DevnetError::Kernel`] if the block cannot be handed to the kernel.
    pub fn mine(&mut self, n: u32, to: &ScriptBuf) -> Result<Vec<BlockHash>, DevnetError> {
        let mut hashes = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        for _ in 0..n {
            let (txs, fees) = self.select_mempool();
            let block = self.build_block(txs, fees, to, 0);
            match self.submit_block(&block) {
                Ok(hash) => hashes.push(hash),
                Err(err) => {
                    let included: HashSet<Txid> = block
                        .txdata
                        .iter()
                        .skip(1)
                        .map(Transaction::compute_txid)
                        .collect();
                    self.remove_from_mempool(&included);
                    return Err(err);
                }
            }
        }
        Ok(hashes)
    }

    /// Replaces the top `depth` blocks with a longer branch: mines `new_blocks` (more than
    /// `depth`) blocks on the block at `tip - depth`, hands them to the kernel, which switches
    /// to the branch with more work, and rebuilds the node's index from the kernel's new
    /// active chain. The abandoned blocks' transactions and the previous mempool are offered
    /// to the mempool again (those still valid come back, as in Bitcoin Core); the new
    /// blocks carry none of them. Returns the new blocks' hashes.
    ///
    /// Use it to test how wallets and watchers handle a reorg.
    ///
    /// # Errors
    ///
    /// [`DevnetError::BadReorg`] if `depth` is 0, reaches the genesis block, or
    /// `new_blocks <= depth`; [`DevnetError::BlockRejected`] if the kernel did not switch to
    /// the new branch (the node then follows whatever chain the kernel has);
    /// [`DevnetError::Kernel`] if a block cannot be handed to or read from the kernel.
    pub fn reorg(
        &mut self,
        depth: u32,
        new_blocks: u32,
        to: &ScriptBuf,
    ) -> Result<Vec<BlockHash>, DevnetError> {
        let tip = self.tip_height();
        if depth == 0 || depth >= tip || new_blocks <= depth {
            return Err(DevnetError::BadReorg {
                depth,
                new_blocks,
                tip,
            });
        }
        let fork = tip - depth;
        self.reorgs += 1;
        let mut abandoned = Vec::new();
        for height in fork + 1..=tip {
            if let Some(block) = self.block(height)? {
                abandoned.extend(block.txdata.into_iter().skip(1));
            }
        }
        let old_mempool = std::mem::take(&mut self.mempool);
        self.mempool_spends.clear();
        // Build the branch on the fork point: the index's chain is cut there so that heights,
        // timestamps and median time past are the branch's own.
        let keep = usize::try_from(fork).map_err(kernel_err)? + 1;
        self.chain.truncate(keep);
        self.block_txids.truncate(keep);
        let mut hashes = Vec::with_capacity(usize::try_from(new_blocks).unwrap_or(0));
        let mut last = None;
        for _ in 0..new_blocks {
            let block = self.build_block(Vec::new(), Amount::ZERO, to, self.reorgs);
            let kblock = bitcoinkernel::Block::new(&serialize(&block)).map_err(kernel_err)?;
            let _ = self.chainman.process_block(&kblock);
            hashes.push(block.block_hash());
            self.block_txids
                .push(block.txdata.iter().map(Transaction::compute_txid).collect());
            self.chain.push(BlockMeta {
                hash: block.block_hash(),
                time: block.header.time,
            });
            last = Some((block.block_hash(), self.tip_height()));
        }
        let mark = log_mark();
        self.rebuild_from_kernel()?;
        for tx in abandoned.into_iter().chain(old_mempool) {
            let _ = self.submit(tx);
        }
        match last {
            Some((hash, height)) if self.tip_hash() != hash => Err(DevnetError::BlockRejected {
                hash,
                height,
                kernel_log: kernel_log_about(&hash, mark),
            }),
            _ => Ok(hashes),
        }
    }

    /// Forgets the index and rebuilds it from the kernel's active chain.
    fn rebuild_from_kernel(&mut self) -> Result<(), DevnetError> {
        self.chain.truncate(1);
        self.block_txids.truncate(1);
        self.utxos.clear();
        self.tx_index.clear();
        self.replay_kernel_chain()
    }

    /// Removes `txid` and its descendants from the mempool (like a node that evicted it);
    /// returns whether it was there. Use it to make a transaction vanish in tests.
    pub fn evict(&mut self, txid: &Txid) -> bool {
        let present = self.mempool.iter().any(|tx| tx.compute_txid() == *txid);
        if present {
            self.remove_from_mempool(&HashSet::from([*txid]));
        }
        present
    }

    /// The transactions that pay to `script_pubkey` or spend an output paying to it: the
    /// confirmed ones in chain order, each with its block height, then the mempool's (height
    /// `None`) in acceptance order. This is the "history" Electrum and Esplora servers give
    /// for a script.
    pub fn script_history(&self, script_pubkey: &bitcoin::Script) -> Vec<(Txid, Option<u32>)> {
        self.history_matching(|script| script == script_pubkey)
    }

    /// [`Node::script_history`] of the script whose SHA-256 is `scripthash` (bytes in hash
    /// order, not reversed: Esplora's `/scripthash/:hash`; Electrum's script hash is the same
    /// bytes reversed). Every output script the node knows is hashed, so this is linear in
    /// the chain's size: fine for a devnet.
    pub fn scripthash_history(&self, scripthash: &[u8; 32]) -> Vec<(Txid, Option<u32>)> {
        use bitcoin::hashes::sha256;
        self.history_matching(|script| {
            sha256::Hash::hash(script.as_bytes()).as_byte_array() == scripthash
        })
    }

    /// The history of the scripts `matches` accepts (see [`Node::script_history`]).
    fn history_matching(
        &self,
        matches: impl Fn(&bitcoin::Script) -> bool,
    ) -> Vec<(Txid, Option<u32>)> {
        let touches = |tx: &Transaction| {
            tx.output.iter().any(|o| matches(&o.script_pubkey))
                || tx.input.iter().any(|i| {
                    self.tx_index
                        .get(&i.previous_output.txid)
                        .map(|(prev, _)| prev)
                        .or_else(|| {
                            self.mempool
                                .iter()
                                .find(|m| m.compute_txid() == i.previous_output.txid)
                        })
                        .and_then(|prev| {
                            prev.output
                                .get(usize::try_from(i.previous_output.vout).ok()?)
                        })
                        .is_some_and(|o| matches(&o.script_pubkey))
                })
        };
        let mut history = Vec::new();
        for (height, txids) in self.block_txids.iter().enumerate() {
            let height = u32::try_from(height).unwrap_or(u32::MAX);
            for txid in txids {
                if let Some((tx, _)) = self.tx_index.get(txid) {
                    if touches(tx) {
                        history.push((*txid, Some(height)));
                    }
                }
            }
        }
        for tx in &self.mempool {
            if touches(tx) {
                history.push((tx.compute_txid(), None));
            }
        }
        history
    }

    /// Mines one block containing exactly `txs` (in this order, after the coinbase), with
    /// none of the mempool's checks, and hands it to the kernel. Meant for tests that prove
    /// the kernel itself enforces a consensus rule.
    ///
    /// Every input of `txs` must spend a confirmed output known to the node or an output of
    /// an earlier transaction in `txs` (their values make up the coinbase's fee share). The
    /// mempool is left as it is, except that transactions of an accepted block are removed.
    ///
    /// # Errors
    ///
    /// [`DevnetError::UnknownInput`] if an input's value is unknown;
    /// [`DevnetError::BlockRejected`] if the kernel refuses the block (the tip does not
    /// move); [`DevnetError::Kernel`] if the block cannot be handed to the kernel.
    pub fn mine_unchecked(
        &mut self,
        txs: Vec<Transaction>,
        to: &ScriptBuf,
    ) -> Result<BlockHash, DevnetError> {
        let mut fees = Amount::ZERO;
        let mut created: HashMap<OutPoint, Amount> = HashMap::new();
        for tx in &txs {
            let txid = tx.compute_txid();
            let mut value_in = Amount::ZERO;
            for input in &tx.input {
                let value = self
                    .utxos
                    .get(&input.previous_output)
                    .map(|u| u.txout.value)
                    .or_else(|| created.get(&input.previous_output).copied())
                    .ok_or(DevnetError::UnknownInput {
                        txid,
                        outpoint: input.previous_output,
                    })?;
                value_in = value_in.checked_add(value).unwrap_or(Amount::MAX_MONEY);
            }
            let value_out = tx.output.iter().fold(Amount::ZERO, |acc, o| {
                acc.checked_add(o.value).unwrap_or(Amount::MAX_MONEY)
            });
            fees = fees
                .checked_add(value_in.checked_sub(value_out).unwrap_or(Amount::ZERO))
                .unwrap_or(Amount::MAX_MONEY);
            for (vout, out) in tx.output.iter().enumerate() {
                let vout = u32::try_from(vout).unwrap_or(u32::MAX);
                created.insert(OutPoint::new(txid, vout), out.value);
            }
        }
        let block = self.build_block(txs, fees, to, 0);
        self.submit_block(&block)
    }

    /// Sets the lowest fee rate, in sat/vB, of the transactions [`Node::mine`] includes
    /// (like `-blockmintxfee`); 0, the default, mines every valid transaction.
    ///
    /// A transaction is mined by its *package*: itself and its unconfirmed ancestors, at their
    /// combined (modified) fee over their combined virtual size, as Bitcoin Core's block
    /// assembly does. So a transaction below the minimum waits in the mempool until a child
    /// pays enough for both (child pays for parent).
    pub fn set_min_mining_fee_rate(&mut self, sat_per_vb: u64) {
        self.min_mining_fee_rate = sat_per_vb;
    }

    /// Adds `fee_delta_sat` to the fee [`Node::mine`] counts for `txid` (Bitcoin Core's
    /// `prioritisetransaction`); deltas add up, and the entry goes when the transaction is
    /// mined. A negative delta larger than the fee keeps the transaction, and every package
    /// it is in that does not make up the difference, out of blocks: a test's way of making
    /// one transaction too cheap without changing it.
    pub fn prioritise_transaction(&mut self, txid: Txid, fee_delta_sat: i64) {
        *self.fee_deltas.entry(txid).or_insert(0) += fee_delta_sat;
    }

    /// Holds transaction `txid` out of blocks until a child pays for it: its fee counts as
    /// -1 sat when mining ([`Node::prioritise_transaction`] by minus its fee plus one), now if
    /// it is in the mempool, otherwise when it enters. A test's way of making a transaction
    /// that someone else publishes pay far below what miners take, whenever it comes.
    pub fn hold(&mut self, txid: Txid) {
        match self.mempool_fee(&txid) {
            Some(fee) => self.hold_now(txid, fee),
            None => {
                self.held.insert(txid);
            }
        }
    }

    fn hold_now(&mut self, txid: Txid, fee: Amount) {
        let fee = i64::try_from(fee.to_sat()).unwrap_or(i64::MAX);
        self.prioritise_transaction(txid, -fee - 1);
    }

    /// The fee of a mempool transaction (inputs minus outputs), without any priority delta;
    /// `None` if it is not in the mempool.
    pub fn mempool_fee(&self, txid: &Txid) -> Option<Amount> {
        let tx = self.mempool.iter().find(|tx| tx.compute_txid() == *txid)?;
        self.fee_of(tx)
    }

    /// The fee `tx` pays: its inputs' values (from confirmed or mempool parents) minus its
    /// outputs'; `None` when a parent is unknown or the values do not add up.
    pub fn fee_of(&self, tx: &Transaction) -> Option<Amount> {
        let mut value_in = Amount::ZERO;
        for input in &tx.input {
            let (parent, _) = self.get_tx(&input.previous_output.txid)?;
            let out = parent
                .output
                .get(usize::try_from(input.previous_output.vout).ok()?)?;
            value_in = value_in.checked_add(out.value)?;
        }
        let value_out = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))?;
        value_in.checked_sub(value_out)
    }

    /// Chooses the mempool transactions for the next block and their total fee: of those
    /// valid in it, packages (a transaction with its not yet chosen ancestors) by highest
    /// modified fee rate while that rate reaches the minimum, returned in dependency order.
    fn select_mempool(&self) -> (Vec<Transaction>, Amount) {
        let valid = self.valid_in_next_block();
        if self.min_mining_fee_rate == 0 && self.fee_deltas.values().all(|d| *d >= 0) {
            // every package qualifies: all of them, without ranking
            let fees = valid.iter().fold(Amount::ZERO, |a, (_, fee)| a + *fee);
            return (valid.into_iter().map(|(tx, _)| tx).collect(), fees);
        }
        let index: HashMap<Txid, usize> = valid
            .iter()
            .enumerate()
            .map(|(i, (tx, _))| (tx.compute_txid(), i))
            .collect();
        // the in-block parents of each valid transaction
        let parents: Vec<Vec<usize>> = valid
            .iter()
            .map(|(tx, _)| {
                let mut ps: Vec<usize> = tx
                    .input
                    .iter()
                    .filter_map(|i| index.get(&i.previous_output.txid).copied())
                    .collect();
                ps.sort_unstable();
                ps.dedup();
                ps
            })
            .collect();
        let modified: Vec<i128> = valid
            .iter()
            .map(|(tx, fee)| {
                let delta = self
                    .fee_deltas
                    .get(&tx.compute_txid())
                    .copied()
                    .unwrap_or(0);
                i128::from(fee.to_sat()) + i128::from(delta)
            })
            .collect();
        let vsize: Vec<i128> = valid
            .iter()
            .map(|(tx, _)| i128::try_from(tx.vsize()).unwrap_or(i128::MAX))
            .collect();
        let mut chosen = vec![false; valid.len()];
        loop {
            // the best package still out: (fee, vsize, members)
            let mut best: Option<(i128, i128, Vec<usize>)> = None;
            for candidate in (0..valid.len()).filter(|&i| !chosen[i]) {
                let mut members = vec![candidate];
                let mut seen = HashSet::from([candidate]);
                let mut next = 0;
                while next < members.len() {
                    for &p in &parents[members[next]] {
                        if !chosen[p] && seen.insert(p) {
                            members.push(p);
                        }
                    }
                    next += 1;
                }
                let fee: i128 = members.iter().map(|&m| modified[m]).sum();
                let size: i128 = members.iter().map(|&m| vsize[m]).sum();
                let better = best.as_ref().is_none_or(|(bf, bs, _)| fee * bs > bf * size);
                if better {
                    best = Some((fee, size, members));
                }
            }
            let Some((fee, size, members)) = best else {
                break;
            };
            let rate = i128::from(self.min_mining_fee_rate);
            if fee < 0 || fee < rate * size {
                break;
            }
            for m in members {
                chosen[m] = true;
            }
        }
        let mut fees = Amount::ZERO;
        let mut selected = Vec::new();
        for ((tx, fee), chosen) in valid.into_iter().zip(chosen) {
            if chosen {
                fees += fee;
                selected.push(tx);
            }
        }
        (selected, fees)
    }

    /// The mempool transactions valid in the next block, in acceptance order (which is
    /// dependency order), each with its fee.
    fn valid_in_next_block(&self) -> Vec<(Transaction, Amount)> {
        let height = self.tip_height() + 1;
        let mtp = self.median_time_past(self.tip_height());
        let mut created: HashMap<OutPoint, TxOut> = HashMap::new();
        let mut used: HashSet<OutPoint> = HashSet::new();
        let mut valid = Vec::new();
        for tx in &self.mempool {
            if !is_final(tx, height, mtp) {
                continue;
            }
            let mut spent = Vec::with_capacity(tx.input.len());
            for input in &tx.input {
                let op = input.previous_output;
                let coin = if used.contains(&op) {
                    None
                } else if let Some(u) = self.utxos.get(&op) {
                    Some(u.clone())
                } else {
                    created.get(&op).map(|txout| Utxo {
                        txout: txout.clone(),
                        height,
                        is_coinbase: false,
                    })
                };
                match coin {
                    Some(c) => spent.push(c),
                    None => break,
                }
            }
            if spent.len() != tx.input.len() || !self.sequence_locks_ok(tx, &spent, height, mtp) {
                continue;
            }
            if spent
                .iter()
                .any(|c| c.is_coinbase && height - c.height < COINBASE_MATURITY)
            {
                continue;
            }
            let value_in = spent.iter().fold(Amount::ZERO, |a, c| a + c.txout.value);
            let value_out = tx.output.iter().fold(Amount::ZERO, |a, o| a + o.value);
            let Some(fee) = value_in.checked_sub(value_out) else {
                continue;
            };
            let txid = tx.compute_txid();
            for input in &tx.input {
                used.insert(input.previous_output);
            }
            for (vout, out) in tx.output.iter().enumerate() {
                let vout = u32::try_from(vout).unwrap_or(u32::MAX);
                created.insert(OutPoint::new(txid, vout), out.clone());
            }
            valid.push((tx.clone(), fee));
        }
        valid
    }

    /// Builds and grinds the next block on our tip with `txs` after the coinbase.
    ///
    /// `tag` goes into the coinbase after the height (0 for ordinary blocks), so that a reorg
    /// branch never repeats an abandoned block byte for byte.
    fn build_block(&self, txs: Vec<Transaction>, fees: Amount, to: &ScriptBuf, tag: u32) -> Block {
        let height = self.tip_height() + 1;
        let prev = self.chain[self.chain.len() - 1];
        let mtp = self.median_time_past(self.tip_height());
        // Never before the predecessor, always above the median time past (consensus), and
        // otherwise the clock: strictly increasing timestamps would run more than two hours
        // ahead of the clock after 7,200 fast blocks, which the kernel refuses (time-too-new).
        let time = self.clock().max(prev.time).max(mtp + 1);

        // BIP34: the coinbase script starts with the height; OP_0 pads it to >= 2 bytes.
        let script_sig = Builder::new()
            .push_int(i64::from(height))
            .push_int(i64::from(tag))
            .into_script();
        let mut coinbase_witness = Witness::new();
        coinbase_witness.push([0u8; 32]);
        let coinbase = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig,
                sequence: Sequence::MAX,
                witness: coinbase_witness,
            }],
            output: vec![TxOut {
                value: subsidy(height) + fees,
                script_pubkey: to.clone(),
            }],
        };
        let mut txdata = Vec::with_capacity(txs.len() + 1);
        txdata.push(coinbase);
        txdata.extend(txs);
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(0x2000_0000),
                prev_blockhash: prev.hash,
                merkle_root: TxMerkleNode::all_zeros(),
                time,
                bits: CompactTarget::from_consensus(REGTEST_BITS),
                nonce: 0,
            },
            txdata,
        };
        // BIP141 witness commitment (always present; the coinbase carries the reserved value).
        if let Some(witness_root) = block.witness_root() {
            let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
            let mut data = PushBytesBuf::new();
            // Four-byte BIP141 header followed by the 32-byte commitment: never too long.
            let _ = data.extend_from_slice(&[0xaa, 0x21, 0xa9, 0xed]);
            let _ = data.extend_from_slice(commitment.as_byte_array());
            block.txdata[0].output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::new_op_return(data),
            });
        }
        if let Some(root) = block.compute_merkle_root() {
            block.header.merkle_root = root;
        }
        let target = Target::from_compact(block.header.bits);
        while block.header.validate_pow(target).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
            if block.header.nonce == 0 {
                block.header.time += 1;
            }
        }
        block
    }

    /// Hands `block` (built on our tip) to the kernel and, if the kernel made it the new tip,
    /// connects it to the node's index and removes its transactions from the mempool.
    fn submit_block(&mut self, block: &Block) -> Result<BlockHash, DevnetError> {
        let hash = block.block_hash();
        let height = self.tip_height() + 1;
        let kblock = bitcoinkernel::Block::new(&serialize(block)).map_err(kernel_err)?;
        let mark = log_mark();
        // `process_block` answers NewBlock even for a block that fails when connected, so the
        // verdict is whether the kernel's tip moved to this block.
        let _ = self.chainman.process_block(&kblock);
        if self.kernel_tip_hash() != hash {
            return Err(DevnetError::BlockRejected {
                hash,
                height,
                kernel_log: kernel_log_about(&hash, mark),
            });
        }
        self.connect(block);
        let included: HashSet<Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
        self.fee_deltas.retain(|txid, _| !included.contains(txid));
        self.remove_from_mempool(&included);
        self.evict_conflicts();
        Ok(hash)
    }

    /// Applies a block the kernel connected at our tip + 1 to the UTXO set and tx index.
    fn connect(&mut self, block: &Block) {
        let height = self.tip_height() + 1;
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            let is_coinbase = tx.is_coinbase();
            if !is_coinbase {
                for input in &tx.input {
                    self.utxos.remove(&input.previous_output);
                }
            }
            for (vout, out) in tx.output.iter().enumerate() {
                if out.script_pubkey.is_op_return() {
                    continue;
                }
                let op = OutPoint::new(txid, u32::try_from(vout).unwrap_or(u32::MAX));
                self.utxos.insert(
                    op,
                    Utxo {
                        txout: out.clone(),
                        height,
                        is_coinbase,
                    },
                );
            }
            self.tx_index.insert(txid, (tx.clone(), height));
        }
        self.block_txids
            .push(block.txdata.iter().map(Transaction::compute_txid).collect());
        self.chain.push(BlockMeta {
            hash: block.block_hash(),
            time: block.header.time,
        });
    }

    /// Removes the given transactions from the mempool, with every descendant of a removed
    /// transaction that did not itself get confirmed.
    fn remove_from_mempool(&mut self, txids: &HashSet<Txid>) {
        let mut removed: HashSet<Txid> = HashSet::new();
        let mut kept = Vec::with_capacity(self.mempool.len());
        for tx in std::mem::take(&mut self.mempool) {
            let txid = tx.compute_txid();
            let orphaned = tx.input.iter().any(|i| {
                removed.contains(&i.previous_output.txid)
                    && !txids.contains(&i.previous_output.txid)
            });
            if txids.contains(&txid) || orphaned {
                removed.insert(txid);
            } else {
                kept.push(tx);
            }
        }
        self.mempool = kept;
        self.rebuild_spends();
    }

    /// Drops mempool transactions whose inputs are no longer available (spent by a block).
    fn evict_conflicts(&mut self) {
        let mut available: HashSet<OutPoint> = HashSet::new();
        let mut kept = Vec::with_capacity(self.mempool.len());
        for tx in std::mem::take(&mut self.mempool) {
            let ok = tx.input.iter().all(|i| {
                self.utxos.contains_key(&i.previous_output)
                    || available.contains(&i.previous_output)
            });
            if ok {
                for input in &tx.input {
                    available.remove(&input.previous_output);
                }
                let txid = tx.compute_txid();
                for vout in 0..tx.output.len() {
                    available.insert(OutPoint::new(txid, u32::try_from(vout).unwrap_or(u32::MAX)));
                }
                kept.push(tx);
            }
        }
        self.mempool = kept;
        self.rebuild_spends();
    }

    fn rebuild_spends(&mut self) {
        self.mempool_spends.clear();
        for tx in &self.mempool {
            let txid = tx.compute_txid();
            for input in &tx.input {
                self.mempool_spends.insert(input.previous_output, txid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regtest_subsidy_halves_every_150_blocks() {
        assert_eq!(subsidy(1), Amount::from_int_btc(50));
        assert_eq!(subsidy(150), Amount::from_int_btc(25));
    }

    #[test]
    fn reject_reasons_print_core_strings() {
        assert_eq!(RejectReason::NonBip68Final.to_string(), "non-BIP68-final");
        assert_eq!(
            RejectReason::InputsMissingOrSpent.to_string(),
            "bad-txns-inputs-missingorspent"
        );
        assert_eq!(RejectReason::MempoolConflict.code(), "txn-mempool-conflict");
    }
}
