//! What a swap's driver is told, and the type of its long work: the vocabulary shared by the
//! driver, the watchers that feed it ([`crate::btc`]) and the intake that routes peers'
//! messages to it. No engine state lives here.

use std::future::Future;
use std::pin::Pin;

use confiaro_protocol::machine::Command;
use confiaro_protocol::messages::Message;
use confiaro_protocol::{Input, ProtocolError};
use tokio::sync::{mpsc, oneshot};

/// What a driver is told.
pub(crate) enum DriverMsg {
    /// A chain fact or a job's result.
    Input(Input),
    /// A validated message from the counterparty; `reply` gets `Ok` once the resulting state
    /// is durable, or why it was not taken.
    Peer {
        message: Message,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    /// A user command.
    Command {
        command: Command,
        reply: oneshot::Sender<Result<(), ProtocolError>>,
    },
}

/// Why a peer's message was not taken, as the peer is told: for good, or only for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Refused for good (invalid, not the peer's swap, beyond the maker's terms or limits):
    /// sending it again changes nothing.
    Final(String),
    /// Not now (the swap is resuming or stopping, the store or a node did not answer, the
    /// proof checks are queued): the peer sends it again later.
    Busy(String),
}

impl Refusal {
    /// A refusal for now, because of `reason`.
    pub(crate) fn busy(reason: impl std::fmt::Display) -> Refusal {
        Refusal::Busy(reason.to_string())
    }
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal::Final(reason)
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Refusal {
        Refusal::Final(reason.to_owned())
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Final(reason) => f.write_str(reason),
            Refusal::Busy(reason) => write!(f, "busy: {reason}"),
        }
    }
}

/// The sending side of a driver's inbox.
pub(crate) type DriverSender = mpsc::UnboundedSender<DriverMsg>;

/// A job's future: long work of a swap, reporting back to its driver as an input.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
