//! Confiaro's swap engine: it drives the sans-IO protocol machines of `confiaro-protocol`
//! with the real adapters — the Bitcoin wallet and chain sources (`confiaro-bitcoin`), the
//! Monero daemon and wallet RPC (`confiaro-monero`), libp2p (`confiaro-p2p`) — and the store
//! (`confiaro-store`).
//!
//! # Operation
//! An [`Engine`] is opened on a data directory with the user's password
//! ([`Engine::open`]). It then, on its own:
//! - resumes every unfinished swap (each machine gets [`confiaro_protocol::Input::Resume`]);
//! - runs one driver task per swap: wait for an input (a peer message, a chain fact, a
//!   wallet result, a user command, or the machine's own deadline), call
//!   [`SwapState::handle`](confiaro_protocol::SwapState::handle), **persist the new state**,
//!   then perform the actions — idempotently, so a crash anywhere resumes safely;
//! - watches the Bitcoin chain for every swap's transactions and tells the machines about
//!   each new confirmation, so timelocks are acted on without the user (Bob cancels and
//!   refunds, Alice punishes, sweeps her XMR back, or returns Bob's BTC early);
//! - answers peers: quotes when it is a maker ([`Engine::start_maker`]), swap messages
//!   always;
//! - streams typed [`EngineEvent`]s (phase, progress, next deadline in blocks and time) for
//!   the CLI and the GUI ([`Engine::subscribe`]).
//!
//! The engine makes no protocol decision of its own: the machines decide, the engine moves
//! bytes, coins and time.
#![warn(unreachable_pub)]

// The modules form one-way layers: tests/module_layers.rs lists them bottom up and checks
// that each uses only modules below it.
mod actions;
mod btc;
pub mod chain_clock;
pub mod config;
pub mod connection_check;
mod context;
mod driver;
mod engine;
mod error;
pub mod events;
mod faults;
mod fee_bump;
#[cfg(test)]
mod flood_bench;
mod inbox;
mod intake;
pub mod keys;
pub mod maker;
mod net;
mod peers;
pub mod progress;
mod proofs;
pub mod receipt;
mod registry;
mod taker;
#[cfg(test)]
mod test_utils;
mod xmr;

pub use config::{
    BitcoinSourceConfig, EngineConfig, FallbackCache, MoneroConfig, P2pConfig, PrivateTorNetwork,
    StoreLocation, TorNetworkChoice, TorSettings,
};
pub use engine::{Engine, LocalData, OpenStep, WalletBalances};
pub use error::EngineError;
pub use events::{EngineEvent, EventStream, Received, SwapEvent, SwapEventKind, SwapView};
pub use maker::{MakerCounters, MakerSettings, MakerStatus, SellSide, SellStatus};
pub use progress::{Deadline, SwapProgress, Waiting};
pub use receipt::Receipt;
pub use taker::Offer;

pub use confiaro_bitcoin::{BitcoindAuth, Mnemonic, TlsTrust};
pub use confiaro_p2p::{Multiaddr, PeerId};
pub use confiaro_protocol::quote::{Price, Quote, QuoteReply};
pub use confiaro_protocol::{Direction, Network, Phase, Role, SwapId, UnknownNetwork, XmrAmount};
