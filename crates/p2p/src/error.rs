//! Typed errors of the network handle.
//!
//! None of them carries payload bytes or key material: only protocol names, sizes, peer ids
//! and short reasons.

use crate::codec::CodecError;
use crate::protocol::SwapProtocol;
use libp2p::PeerId;

/// Why a [`crate::Network`] could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The 32 identity bytes are not a valid ed25519 secret key.
    #[error("invalid ed25519 identity secret")]
    InvalidIdentity,
    /// Not called from within a tokio runtime.
    #[error("no tokio runtime to run the network on")]
    NoRuntime,
    /// The TCP/noise/yamux transport could not be built.
    #[error("building the transport failed: {0}")]
    Transport(String),
    /// Listening on one of the configured addresses failed.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// Why listening on an address failed.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The transport refused the address (unsupported or in use).
    #[error("cannot listen on {address}: {reason}")]
    Refused {
        /// The address asked for.
        address: String,
        /// The transport's reason.
        reason: String,
    },
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Why dialing a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The connection could not be established.
    #[error("dialing {address} failed: {reason}")]
    Failed {
        /// The address dialed.
        address: String,
        /// The transport's reason.
        reason: String,
    },
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Why a request was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The payload is bigger than the protocol allows; nothing was sent.
    #[error("{protocol}: message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The protocol.
        protocol: SwapProtocol,
        /// The payload's size in bytes.
        size: usize,
        /// The protocol's limit in bytes.
        max: usize,
    },
    /// The peer answered with a refusal.
    #[error("{protocol}: refused by the peer: {reason}")]
    Refused {
        /// The protocol.
        protocol: SwapProtocol,
        /// The peer's reason.
        reason: String,
    },
    /// The peer cannot take the message now and asks for it again later.
    #[error("{protocol}: the peer is busy: {reason}")]
    Busy {
        /// The protocol.
        protocol: SwapProtocol,
        /// The peer's reason.
        reason: String,
    },
    /// No connection to the peer could be established (unknown address, peer down).
    #[error("{protocol}: could not reach peer {peer}")]
    Unreachable {
        /// The protocol.
        protocol: SwapProtocol,
        /// The peer.
        peer: PeerId,
    },
    /// No answer within the protocol's timeout; the peer may or may not have received it.
    #[error("{protocol}: timed out waiting for an answer")]
    Timeout {
        /// The protocol.
        protocol: SwapProtocol,
    },
    /// The connection closed before an answer; the peer may or may not have received it.
    #[error("{protocol}: connection closed before an answer")]
    ConnectionClosed {
        /// The protocol.
        protocol: SwapProtocol,
    },
    /// The peer does not speak this protocol (or this version of it).
    #[error("{protocol}: the peer does not support this protocol")]
    UnsupportedProtocol {
        /// The protocol.
        protocol: SwapProtocol,
    },
    /// The peer's answer was not a valid frame; the peer has been disconnected.
    #[error("invalid answer: {0}")]
    InvalidReply(#[source] CodecError),
    /// Another I/O failure on the stream.
    #[error("{protocol}: stream failed: {reason}")]
    Io {
        /// The protocol.
        protocol: SwapProtocol,
        /// The I/O error's description.
        reason: String,
    },
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
    /// [`crate::send_with_retry`] was cancelled before an acknowledgement.
    #[error("cancelled before the message was acknowledged")]
    Cancelled,
}

impl SendError {
    /// Whether sending the same message again later may succeed.
    ///
    /// True for transport failures (unreachable, timeout, connection closed, I/O) and a
    /// busy peer; false for answers (refusal), local mistakes (too large), protocol
    /// mismatches, invalid answers, cancellation and a stopped network.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SendError::Unreachable { .. }
                | SendError::Busy { .. }
                | SendError::Timeout { .. }
                | SendError::ConnectionClosed { .. }
                | SendError::Io { .. }
        )
    }
}

/// Why answering an inbound request failed.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    /// The ack payload is bigger than the protocol allows; a refusal was sent instead.
    #[error("{protocol}: ack of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The protocol.
        protocol: SwapProtocol,
        /// The payload's size in bytes.
        size: usize,
        /// The protocol's limit in bytes.
        max: usize,
    },
    /// The request is no longer answerable (timed out or its connection closed).
    #[error("the request can no longer be answered")]
    Closed,
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Why a rendezvous operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RendezvousError {
    /// The namespace is longer than 255 bytes.
    #[error("namespace too long")]
    InvalidNamespace,
    /// We are not connected to the rendezvous point; dial it first with
    /// [`crate::Network::dial`].
    #[error("not connected to the rendezvous point {0}")]
    NotConnected(PeerId),
    /// We have no external address to register (see [`crate::NetworkConfig::advertise_listen_addresses`]
    /// and [`crate::Network::add_external_address`]).
    #[error("no external address to register")]
    NoExternalAddress,
    /// The rendezvous point refused the request.
    #[error("the rendezvous point refused: {0}")]
    Refused(String),
    /// No answer in time.
    #[error("the rendezvous point did not answer in time")]
    Timeout,
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
}
