//! Confiaro's Monero side: everything a swap needs from Monero, against the real daemon
//! (`monerod`) and wallet RPC (`monero-wallet-rpc`).
//!
//! - [`process`] starts, health-checks and stops `monerod` (regtest, offline, fixed
//!   difficulty, loopback only) and `monero-wallet-rpc` (loopback, one process per open
//!   wallet), with their data in a given directory; users may instead point the app at their
//!   own daemon and wallet RPC by URL.
//! - [`rpc`] is a typed JSON-RPC client for exactly the calls the swap makes, with explicit
//!   timeouts and retries: a daemon or wallet that hangs never hangs the caller.
//! - [`swap`] is what the orchestrator calls: Alice prepares her XMR lock, persists it, and
//!   publishes it (crash-safe and idempotent), and sends Bob a [`swap::TransferProof`];
//!   Bob checks it with the shared view key and gets a typed [`swap::TransferVerdict`]; the
//!   winner sweeps the lock address from the combined keys, restored at the lock height;
//!   makers prove and takers check reserves.
//!
//! All amounts are [`XmrAmount`] (integer piconero), the protocol crate's type.

pub mod process;
pub mod rpc;
pub mod swap;

use std::path::PathBuf;
use std::time::Duration;

pub use confiaro_protocol::XmrAmount;
pub use rpc::TxPresence;

/// Confirmations before Monero lets an output be spent (`CRYPTONOTE_DEFAULT_TX_SPENDABLE_AGE`).
pub const SPENDABLE_AGE: u64 = 10;

/// Errors of the Monero side. Messages never contain keys or passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MoneroError {
    /// A binary is not installed (or not where it was said to be).
    #[error("{binary} not found ({path}): install the `monero` package (apt install monero) or give its path")]
    BinaryMissing {
        /// `monerod` or `monero-wallet-rpc`.
        binary: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The port asked for is already in use by another process.
    #[error("{what}: port {port} on 127.0.0.1 is already in use: stop what uses it or choose another port (0 picks a free one)")]
    PortTaken {
        /// Which process.
        what: &'static str,
        /// The port.
        port: u16,
    },
    /// A process could not be started or its directory prepared.
    #[error("{what}: cannot start: {reason}")]
    Spawn {
        /// Which process.
        what: &'static str,
        /// The OS error.
        reason: String,
    },
    /// A process exited while starting or while in use.
    #[error("{what} exited ({status}); last log lines: {log_tail}")]
    Exited {
        /// Which process.
        what: &'static str,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log_tail: String,
    },
    /// A process started but its RPC did not answer in time.
    #[error("{what} did not answer within {after:?}; last log lines: {log_tail}")]
    StartTimeout {
        /// Which process.
        what: &'static str,
        /// How long we waited.
        after: Duration,
        /// The end of its log.
        log_tail: String,
    },
    /// The RPC server could not be reached (not running, wrong URL or port).
    #[error("{what} at {url} is unreachable: {reason}")]
    Unreachable {
        /// Which server.
        what: &'static str,
        /// Its URL.
        url: String,
        /// The transport's error.
        reason: String,
    },
    /// The RPC server did not answer within the call's timeout.
    #[error("{what} at {url} did not answer `{method}` within {after:?}")]
    Timeout {
        /// Which server.
        what: &'static str,
        /// Its URL.
        url: String,
        /// The call.
        method: String,
        /// The timeout.
        after: Duration,
    },
    /// The RPC server refused our login (HTTP 401): it wants other credentials than ours, or
    /// none were given for a server that asks for them.
    #[error("{what} at {url} refused our login (HTTP 401): wrong or missing RPC credentials")]
    Unauthorized {
        /// Which server.
        what: &'static str,
        /// Its URL.
        url: String,
    },
    /// The RPC server answered the call with an error.
    #[error("{what} refused `{method}`: {message} (code {code})")]
    Rpc {
        /// Which server.
        what: &'static str,
        /// The call.
        method: String,
        /// Its error code.
        code: i64,
        /// Its error message.
        message: String,
    },
    /// The RPC server answered something that is not a valid answer to the call.
    #[error("{what} sent an invalid answer to `{method}`: {reason}")]
    InvalidAnswer {
        /// Which server.
        what: &'static str,
        /// The call.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// A wallet file holds the wallet of another address than the one asked for.
    #[error("wallet file `{wallet}` holds the wallet of another address than the one asked for")]
    WrongWallet {
        /// The wallet file's name.
        wallet: String,
    },
    /// Keys given for a wallet are not the keys of the address given with them (wallet-rpc
    /// 0.18 would restore such a wallet without complaint, unable to spend).
    #[error("the keys given for wallet `{wallet}` are not the keys of its address")]
    KeysMismatch {
        /// The wallet file's name.
        wallet: String,
    },
    /// Waited for a chain or wallet condition that did not come in time.
    #[error("gave up waiting after {after:?}: {waiting_for}")]
    WaitTimeout {
        /// What we waited for.
        waiting_for: String,
        /// How long.
        after: Duration,
    },
}
