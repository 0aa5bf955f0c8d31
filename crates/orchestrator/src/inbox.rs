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
    /// is durable, or the reason it was refused.
    Peer {
        message: Message,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A user command.
    Command {
        command: Command,
        reply: oneshot::Sender<Result<(), ProtocolError>>,
    },
}

/// The sending side of a driver's inbox.
pub(crate) type DriverSender = mpsc::UnboundedSender<DriverMsg>;

/// A job's future: long work of a swap, reporting back to its driver as an input.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
