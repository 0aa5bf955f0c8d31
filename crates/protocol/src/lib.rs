//! The Confiaro swap protocol: a pure, sans-IO, deterministic library for BTC⇄XMR
//! adaptor-signature atomic swaps.
//!
//! Roles are fixed by coin: **Alice** sells XMR for BTC, **Bob** sells BTC for XMR. Bitcoin
//! always locks first. The crate holds everything both parties compute:
//!
//! - [`keys`]: per-swap key derivation from a wallet seed and a swap id;
//! - [`crypto`]: ECDSA adaptor signatures and the cross-curve (secp256k1 ⇄ ed25519) DLEQ proof;
//! - [`xmr`]: Monero key math (shared spend and view keys, the lock address);
//! - [`btc`]: the Bitcoin transaction templates (lock, redeem, cancel, refund, punish,
//!   early refund), their weights and fees;
//! - [`messages`]: the versioned, size-bounded wire messages and their validating decoder;
//! - [`quote`]: a maker's price and limits, and the swap terms that follow from them;
//! - [`machine`], [`alice`], [`bob`]: the two role state machines.
//!
//! Nothing here does I/O, reads a clock or uses global randomness: time, blocks and chain
//! facts enter as inputs, and all randomness is drawn from seeds at creation. The caller (the
//! orchestrator, or the deterministic simulation in `tests/simulation.rs`) feeds inputs,
//! persists the new state, then performs the returned actions.
#![warn(unreachable_pub)]
#![forbid(unsafe_code)]

pub mod alice;
pub mod amount;
pub mod bob;
pub mod btc;
pub mod crypto;
pub mod keys;
pub mod machine;
pub mod messages;
pub mod network;
pub mod quote;
pub mod xmr;

pub use amount::XmrAmount;
pub use machine::{Action, Event, Input, Phase, ProtocolError, SwapState, Timestamp};
pub use network::{Network, Params, UnknownNetwork, WrongNetwork};

use serde::{Deserialize, Serialize};

/// The two protocol roles, fixed by coin (maker/taker is a separate axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Sells XMR for BTC.
    Alice,
    /// Sells BTC for XMR.
    Bob,
}

impl Role {
    /// A stable one-byte code, used in key derivation and hashes.
    pub fn code(self) -> u8 {
        match self {
            Role::Alice => 0,
            Role::Bob => 1,
        }
    }
}

/// Which way a swap goes, seen from the taker (the party that chose an offer).
///
/// The roles follow from it: a taker buying XMR is [`Role::Bob`] against a maker who is
/// [`Role::Alice`]; a taker selling XMR is Alice against a maker who is Bob. The direction is
/// part of the [`SwapTerms`](messages::SwapTerms), so both parties sign it in the commitment,
/// and it picks the swap's parameter set ([`Network::params_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Direction {
    /// The taker pays BTC and receives XMR (the maker sells XMR).
    #[default]
    BuyXmr,
    /// The taker pays XMR and receives BTC (the maker sells BTC).
    SellXmr,
}

impl Direction {
    /// Both directions, buy first.
    pub const ALL: [Direction; 2] = [Direction::BuyXmr, Direction::SellXmr];

    /// The taker's role in a swap of this direction.
    pub fn taker_role(self) -> Role {
        match self {
            Direction::BuyXmr => Role::Bob,
            Direction::SellXmr => Role::Alice,
        }
    }

    /// The maker's role in a swap of this direction.
    pub fn maker_role(self) -> Role {
        match self.taker_role() {
            Role::Alice => Role::Bob,
            Role::Bob => Role::Alice,
        }
    }

    /// The direction in which a taker plays `role`.
    pub fn of_taker(role: Role) -> Direction {
        match role {
            Role::Bob => Direction::BuyXmr,
            Role::Alice => Direction::SellXmr,
        }
    }

    /// A stable one-byte code, used in hashes.
    pub fn code(self) -> u8 {
        match self {
            Direction::BuyXmr => 0,
            Direction::SellXmr => 1,
        }
    }

    /// A short name for users and logs: `buy-xmr` or `sell-xmr` (the taker's side).
    pub fn name(self) -> &'static str {
        match self {
            Direction::BuyXmr => "buy-xmr",
            Direction::SellXmr => "sell-xmr",
        }
    }
}

/// A 32-byte swap identifier, chosen by the party that starts the swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SwapId(pub [u8; 32]);

impl std::fmt::Display for SwapId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}
