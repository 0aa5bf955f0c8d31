//! Confiaro's peer-to-peer layer: libp2p over TCP with noise and yamux, carrying the swap
//! protocols as size-bounded request-response exchanges, with delivery-until-acknowledged and
//! rendezvous discovery.
//!
//! Payloads are opaque here: `confiaro_protocol::messages::{encode, decode}` produce and
//! validate them; this crate only moves bytes, bounds their size and reports who sent them.
//!
//! - [`Network`]: the handle over a running swarm ([`Network::start`]); [`NetworkEvent`]s
//!   come out of the receiver it returns.
//! - [`SwapProtocol`]: `/confiaro/quote/2`, `/confiaro/swap-setup/1`,
//!   `/confiaro/transfer-proof/1`, `/confiaro/encrypted-signature/1`, `/confiaro/abort/1`,
//!   each with a size limit and a timeout.
//! - [`send_with_retry`]: re-send until acknowledged or cancelled.
//! - Rendezvous: [`NetworkConfig::rendezvous_server`] makes a node a rendezvous point
//!   ([`RendezvousPoint`] is the ready-made one); [`Network::register`] /
//!   [`Network::discover`] are the client side.
#![warn(unreachable_pub)]

pub mod codec;
pub mod error;
pub mod network;
pub mod protocol;
pub mod rendezvous_point;
pub mod retry;

pub use codec::{CodecError, Reply, RequestFrame};
pub use error::{DialError, ListenError, RendezvousError, RespondError, SendError, StartError};
pub use network::{
    stream_transport, ByteStream, ConnectionCaps, DiscoveredPeer, IdentitySecret, InboundRequest,
    Network, NetworkConfig, NetworkEvent, RendezvousServerConfig, Responder, StreamTransport,
};
pub use protocol::SwapProtocol;
pub use rendezvous_point::RendezvousPoint;
pub use retry::{send_with_retry, Backoff};

/// The libp2p version this crate is built on, re-exported so callers name the same
/// [`PeerId`] and [`Multiaddr`] types.
pub use libp2p;
pub use libp2p::{Multiaddr, PeerId};
