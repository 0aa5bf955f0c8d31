//! The engine's errors. Each message says what went wrong and, where there is one, what to do
//! next; none contains a secret.

use std::path::PathBuf;

use confiaro_protocol::quote::QuoteError;
use confiaro_protocol::{ProtocolError, SwapId};

/// Errors of the [`crate::Engine`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The data directory has no wallet yet.
    #[error("no wallet in {0}: create one with `confiaro init` (or restore one with `confiaro init --restore`)")]
    NoWallet(PathBuf),
    /// `init` on a data directory that already has a wallet.
    #[error("{0} already holds a wallet; use another --data-dir to create a new one")]
    WalletExists(PathBuf),
    /// The password does not open the wallet.
    #[error("wrong password for the wallet in {0}")]
    WrongPassword(PathBuf),
    /// Another process uses the data directory.
    #[error("{path} is in use by another confiaro process (pid {pid}); stop it first, or use another --data-dir")]
    DataDirLocked {
        /// The data directory.
        path: PathBuf,
        /// The other process, as its lock file names it.
        pid: String,
    },
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] confiaro_store::StoreError),
    /// The Bitcoin wallet failed.
    #[error("bitcoin wallet: {0}")]
    BitcoinWallet(#[from] confiaro_bitcoin::WalletError),
    /// The Bitcoin chain source failed.
    #[error(transparent)]
    BitcoinSource(#[from] confiaro_bitcoin::SourceError),
    /// The Monero side failed.
    #[error("monero: {0}")]
    Monero(#[from] confiaro_monero::MoneroError),
    /// The peer-to-peer network could not start.
    #[error("p2p network: {0}")]
    P2pStart(#[from] confiaro_p2p::StartError),
    /// Tor could not be started, or the onion service launched (the error names the cause:
    /// no circuits, timed out, ...). Nothing falls back to clear connections.
    #[error("{0}")]
    Tor(#[from] confiaro_tor::TorError),
    /// A peer could not be dialed.
    #[error("{0}")]
    Dial(#[from] confiaro_p2p::DialError),
    /// A request to a peer failed.
    #[error("{0}")]
    Send(#[from] confiaro_p2p::SendError),
    /// A rendezvous point failed.
    #[error("rendezvous: {0}")]
    Rendezvous(#[from] confiaro_p2p::RendezvousError),
    /// A quote is unusable, or the amount is outside it.
    #[error(transparent)]
    Quote(#[from] QuoteError),
    /// The swap machine refused the command.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// No swap with this id in this data directory.
    #[error("no swap {0} in this data directory (`confiaro swap list` shows them)")]
    UnknownSwap(SwapId),
    /// Not enough coins.
    #[error("not enough {coin}: {have} available, {need} needed")]
    InsufficientFunds {
        /// `BTC` or `XMR`.
        coin: &'static str,
        /// What is available, formatted.
        have: String,
        /// What is needed, formatted.
        need: String,
    },
    /// An argument is not valid (an address for another network, a zero amount, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// Off regtest, no swap starts while this machine's clock is off from the Bitcoin chain's
    /// median time or a chain source is behind the network: the engine would act on a wrong
    /// view of time (docs/2026-12-07-networks-and-tls.md). The text says which and what to do.
    #[error("not starting a swap: {0}")]
    ChainOutOfStep(String),
    /// The engine is shutting down.
    #[error("the engine is stopping")]
    Stopped,
}

impl EngineError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
        let what = what.into();
        move |source| EngineError::Io { what, source }
    }
}

impl From<confiaro_protocol::WrongNetwork> for EngineError {
    /// An address of another network is bad input: its text names both networks.
    fn from(err: confiaro_protocol::WrongNetwork) -> Self {
        EngineError::InvalidInput(err.to_string())
    }
}
