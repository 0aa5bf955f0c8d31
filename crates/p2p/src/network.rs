//! The [`Network`] handle: one libp2p swarm (TCP, or another byte-stream transport such as
//! Tor, with noise + yamux on tokio) run by a background task, driven through a cloneable
//! handle and observed through a stream of [`NetworkEvent`]s.
//!
//! # Operation
//! 1. [`Network::start`] with a [`NetworkConfig`] (the caller's 32-byte ed25519 secret, so the
//!    [`PeerId`] is stable across restarts), or [`Network::start_over`] to use a
//!    [`StreamTransport`] instead of TCP. It spawns the swarm task on the current tokio
//!    runtime and returns the handle and the event receiver.
//! 2. Drain the receiver. Every [`NetworkEvent::InboundRequest`] carries a [`Responder`]; call
//!    [`Responder::ack`] or [`Responder::refuse`] (dropping it makes the sender see a failure
//!    and, with [`crate::send_with_retry`], send again).
//! 3. [`Network::send`] resolves when the peer acknowledges; refusals and transport failures
//!    are typed ([`SendError`]).
//!
//! The task stops when every handle is dropped or on [`Network::shutdown`].
//!
//! # Misbehaving peers
//! A peer whose frame is oversized or malformed (see [`crate::codec`]) is disconnected at once;
//! the reason is logged with `tracing` at `warn` and reported as
//! [`NetworkEvent::PeerMisbehaved`]. It may reconnect; banning is left to the application.

use crate::codec::{CodecError, FrameCodec, Reply, RequestFrame};
use crate::error::{DialError, ListenError, RendezvousError, RespondError, SendError, StartError};
use crate::protocol::SwapProtocol;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::peer_store::{self, memory_store::MemoryStore};
use libp2p::rendezvous;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    connection_limits, identify, identity, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm,
};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How long [`Network::register`] and [`Network::discover`] wait for the rendezvous point.
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(30);
/// Delay before retrying a failed registration refresh.
const REFRESH_RETRY: Duration = Duration::from_secs(5);

/// The caller's 32-byte ed25519 secret key that fixes this node's [`PeerId`].
///
/// Its `Debug` output is redacted; the bytes never appear in logs or errors.
#[derive(Clone)]
pub struct IdentitySecret([u8; 32]);

impl IdentitySecret {
    /// Wraps 32 secret bytes (e.g. derived from the wallet seed).
    pub fn from_bytes(bytes: [u8; 32]) -> IdentitySecret {
        IdentitySecret(bytes)
    }

    /// The [`PeerId`] these bytes give, without starting a network.
    ///
    /// # Errors
    /// [`StartError::InvalidIdentity`] if the bytes are not an ed25519 secret key.
    pub fn peer_id(&self) -> Result<PeerId, StartError> {
        Ok(self.keypair()?.public().to_peer_id())
    }

    fn keypair(&self) -> Result<identity::Keypair, StartError> {
        let mut bytes = self.0;
        identity::Keypair::ed25519_from_bytes(&mut bytes).map_err(|_| StartError::InvalidIdentity)
    }
}

impl fmt::Debug for IdentitySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentitySecret(<redacted>)")
    }
}

/// Settings of a rendezvous point ([`NetworkConfig::rendezvous_server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RendezvousServerConfig {
    /// Shortest registration TTL accepted, in seconds (libp2p's default: 2 hours).
    pub min_ttl: u64,
    /// Longest registration TTL accepted, in seconds (libp2p's default: 72 hours).
    pub max_ttl: u64,
}

impl Default for RendezvousServerConfig {
    fn default() -> Self {
        RendezvousServerConfig {
            min_ttl: rendezvous::MIN_TTL,
            max_ttl: rendezvous::MAX_TTL,
        }
    }
}

/// How many connections and streams a node accepts, so that peers (whose ids are free) cannot
/// exhaust it by connecting: beyond a limit a new connection is denied at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCaps {
    /// Established inbound connections, from all peers together.
    pub max_incoming: u32,
    /// Inbound connections still in their handshake.
    pub max_pending_incoming: u32,
    /// Established connections with one peer (both directions).
    pub max_per_peer: u32,
    /// Requests one connection may have open at once, per protocol.
    pub max_streams_per_connection: usize,
}

impl Default for ConnectionCaps {
    /// 256 inbound connections, 32 in their handshake, 2 per peer, 16 open requests per
    /// connection and protocol.
    fn default() -> Self {
        ConnectionCaps {
            max_incoming: 256,
            max_pending_incoming: 32,
            max_per_peer: 2,
            max_streams_per_connection: 16,
        }
    }
}

/// Everything [`Network::start`] needs.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// This node's identity.
    pub identity: IdentitySecret,
    /// Addresses to listen on at start, e.g. `/ip4/127.0.0.1/tcp/0` (port 0: a free port).
    pub listen: Vec<Multiaddr>,
    /// Treat every address we listen on as externally reachable (needed for rendezvous
    /// registration). Right for loopback tests and the devnet; on the internet add the real
    /// address with [`Network::add_external_address`] instead.
    pub advertise_listen_addresses: bool,
    /// `Some` makes this node a rendezvous point that other nodes register at.
    pub rendezvous_server: Option<RendezvousServerConfig>,
    /// Overrides every protocol's [`SwapProtocol::default_timeout`].
    pub request_timeout: Option<Duration>,
    /// How long a connection without open streams stays up.
    pub idle_connection_timeout: Duration,
    /// Capacity of the event channel. When it is full, events are dropped with a warning
    /// (an unanswered inbound request then fails on the sender's side, which retries).
    pub event_capacity: usize,
    /// How many connections and streams the node accepts.
    pub caps: ConnectionCaps,
}

impl NetworkConfig {
    /// A config with the given identity and defaults: no listen address, nothing advertised,
    /// no rendezvous server, protocol default timeouts, 5 minutes idle timeout, 1024 events,
    /// the default [`ConnectionCaps`].
    pub fn new(identity: IdentitySecret) -> NetworkConfig {
        NetworkConfig {
            identity,
            listen: Vec::new(),
            advertise_listen_addresses: false,
            rendezvous_server: None,
            request_timeout: None,
            idle_connection_timeout: Duration::from_secs(300),
            event_capacity: 1024,
            caps: ConnectionCaps::default(),
        }
    }
}

/// Something that happened on the network, in the order the swarm saw it.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A peer sent a request; answer it through its [`Responder`].
    InboundRequest(InboundRequest),
    /// The first connection to a peer was established.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// The peer's address on that connection.
        address: Multiaddr,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer sent an oversized or malformed frame and was disconnected.
    PeerMisbehaved {
        /// The peer.
        peer: PeerId,
        /// What it sent.
        reason: CodecError,
    },
    /// Refreshing a rendezvous registration failed; it is retried every few seconds.
    RegistrationRefreshFailed {
        /// The rendezvous point.
        rendezvous: PeerId,
        /// The namespace.
        namespace: String,
        /// Why.
        reason: String,
    },
}

/// A request received from a peer. Its `Debug` shows the payload's length, never its bytes
/// (a swap message names keys, addresses and transactions: logs must not hold them).
pub struct InboundRequest {
    /// Who sent it (authenticated by noise).
    pub peer: PeerId,
    /// On which protocol.
    pub protocol: SwapProtocol,
    /// The opaque payload, at most [`SwapProtocol::max_message_bytes`] long.
    pub payload: Vec<u8>,
    /// Answers the request; use it exactly once.
    pub responder: Responder,
}

impl fmt::Debug for InboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundRequest")
            .field("peer", &self.peer)
            .field("protocol", &self.protocol)
            .field("payload_bytes", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// The way to answer one [`InboundRequest`]. Dropping it without answering lets the request
/// fail on the sender's side.
pub struct Responder {
    protocol: SwapProtocol,
    channel: ResponseChannel<Reply>,
    commands: mpsc::Sender<Command>,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// Acknowledges the request, optionally with a payload.
    ///
    /// # Errors
    /// [`RespondError::TooLarge`] if the payload exceeds the protocol's limit (the peer then
    /// gets a refusal instead), [`RespondError::Closed`] if the request timed out or its
    /// connection closed, [`RespondError::Stopped`] if the network stopped.
    pub async fn ack(self, payload: Option<Vec<u8>>) -> Result<(), RespondError> {
        let max = self.protocol.max_message_bytes();
        if let Some(size) = payload.as_ref().map(Vec::len).filter(|size| *size > max) {
            let protocol = self.protocol;
            self.respond(Reply::Refused("answer too large".into()))
                .await?;
            return Err(RespondError::TooLarge {
                protocol,
                size,
                max,
            });
        }
        self.respond(Reply::Ack(payload)).await
    }

    /// Refuses the request for good with a short reason (cut to 1 KiB): the sender should
    /// not send it again. Never put secrets in the reason.
    ///
    /// # Errors
    /// As [`Responder::ack`], except `TooLarge`.
    pub async fn refuse(self, reason: impl Into<String>) -> Result<(), RespondError> {
        self.respond(Reply::Refused(crate::codec::truncate_reason(reason.into())))
            .await
    }

    /// Answers that the request cannot be taken now (starting, storage busy, queue full):
    /// the sender sends it again later ([`SendError::Busy`] is retryable). The reason is as
    /// for [`Responder::refuse`].
    ///
    /// # Errors
    /// As [`Responder::refuse`].
    pub async fn busy(self, reason: impl Into<String>) -> Result<(), RespondError> {
        self.respond(Reply::Busy(crate::codec::truncate_reason(reason.into())))
            .await
    }

    async fn respond(self, reply: Reply) -> Result<(), RespondError> {
        let (done, result) = oneshot::channel();
        self.commands
            .send(Command::Respond {
                protocol: self.protocol,
                channel: self.channel,
                reply,
                done,
            })
            .await
            .map_err(|_| RespondError::Stopped)?;
        result.await.map_err(|_| RespondError::Stopped)?
    }
}

/// A peer found at a rendezvous point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredPeer {
    /// The peer.
    pub peer: PeerId,
    /// Its signed, registered addresses (already added to our address book).
    pub addresses: Vec<Multiaddr>,
    /// Seconds the registration remains valid.
    pub ttl: u64,
}

/// A cloneable handle to a running network. All methods are cheap message sends to the swarm
/// task; they fail with a `Stopped` error once it has ended.
#[derive(Clone, Debug)]
pub struct Network {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
}

type Reply1<T> = oneshot::Sender<T>;
type SendReply = Reply1<Result<Option<Vec<u8>>, SendError>>;
type RegisterReply = Reply1<Result<u64, RendezvousError>>;
type DiscoverReply = Reply1<Result<Vec<DiscoveredPeer>, RendezvousError>>;

enum Command {
    Listen(Multiaddr, Reply1<Result<Multiaddr, ListenError>>),
    ListenAddresses(Reply1<Vec<Multiaddr>>),
    AddExternalAddress(Multiaddr),
    AddPeerAddress(PeerId, Multiaddr),
    Dial(Multiaddr, Reply1<Result<PeerId, DialError>>),
    Disconnect(PeerId),
    ConnectedPeers(Reply1<Vec<PeerId>>),
    Send {
        peer: PeerId,
        protocol: SwapProtocol,
        payload: Vec<u8>,
        done: Reply1<Result<Option<Vec<u8>>, SendError>>,
    },
    Respond {
        protocol: SwapProtocol,
        channel: ResponseChannel<Reply>,
        reply: Reply,
        done: Reply1<Result<(), RespondError>>,
    },
    Register {
        rendezvous: PeerId,
        namespace: rendezvous::Namespace,
        ttl: Option<u64>,
        done: Reply1<Result<u64, RendezvousError>>,
    },
    Unregister(PeerId, rendezvous::Namespace),
    Discover {
        rendezvous: PeerId,
        namespace: rendezvous::Namespace,
        done: Reply1<Result<Vec<DiscoveredPeer>, RendezvousError>>,
    },
    Shutdown,
}

/// A byte stream a [`StreamTransport`] yields: what noise and yamux run over.
pub trait ByteStream: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static {}

impl<T: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static> ByteStream for T {}

/// A transport of raw byte streams (no encryption, no multiplexing), boxed: what
/// [`Network::start_over`] uses instead of TCP, e.g. Tor streams. Make one with
/// [`stream_transport`].
pub type StreamTransport = libp2p::core::transport::Boxed<Box<dyn ByteStream>>;

/// Boxes `transport` (any libp2p transport of byte streams) as a [`StreamTransport`].
pub fn stream_transport<T>(transport: T) -> StreamTransport
where
    T: libp2p::core::Transport + Send + Unpin + 'static,
    T::Output: ByteStream,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    use libp2p::core::Transport as _;
    transport
        .map(|stream, _| Box::new(stream) as Box<dyn ByteStream>)
        .boxed()
}

impl Network {
    /// Builds the swarm over TCP, listens on [`NetworkConfig::listen`] and spawns the swarm
    /// task on the current tokio runtime. Returns the handle and the event stream.
    ///
    /// # Errors
    /// [`StartError::NoRuntime`] outside a tokio runtime, [`StartError::InvalidIdentity`],
    /// [`StartError::Transport`], or [`StartError::Listen`]
    /// if a listen address is refused.
    pub async fn start(
        config: NetworkConfig,
    ) -> Result<(Network, mpsc::Receiver<NetworkEvent>), StartError> {
        Network::start_with(config, None).await
    }

    /// As [`Network::start`], but over `streams` alone, with noise and yamux on top as on TCP:
    /// the node opens no TCP connection and listens on no TCP port of its own, so nothing can
    /// go around the transport (for Tor: no clear connection to a peer). Listen addresses and
    /// dialled addresses are the transport's (for Tor, `/onion3/…` to listen; `/onion3`,
    /// `/dns` and `/ip4` to dial).
    ///
    /// # Errors
    /// As [`Network::start`].
    pub async fn start_over(
        config: NetworkConfig,
        streams: StreamTransport,
    ) -> Result<(Network, mpsc::Receiver<NetworkEvent>), StartError> {
        Network::start_with(config, Some(streams)).await
    }

    async fn start_with(
        config: NetworkConfig,
        streams: Option<StreamTransport>,
    ) -> Result<(Network, mpsc::Receiver<NetworkEvent>), StartError> {
        let keypair = config.identity.keypair()?;
        let local_peer_id = keypair.public().to_peer_id();
        let swarm = build_swarm(keypair, &config, streams)?;
        let (commands, command_rx) = mpsc::channel(256);
        let (events, event_rx) = mpsc::channel(config.event_capacity.max(1));
        let task = SwarmTask {
            swarm,
            commands: command_rx,
            weak_commands: commands.downgrade(),
            events,
            advertise_listen_addresses: config.advertise_listen_addresses,
            pending_listens: HashMap::new(),
            pending_dials: HashMap::new(),
            pending_sends: HashMap::new(),
            pending_registers: HashMap::new(),
            pending_discovers: HashMap::new(),
            registrations: HashMap::new(),
        };
        tokio::runtime::Handle::try_current()
            .map_err(|_| StartError::NoRuntime)?
            .spawn(task.run());
        let network = Network {
            commands,
            local_peer_id,
        };
        for address in config.listen {
            network.listen(address).await?;
        }
        Ok((network, event_rx))
    }

    /// This node's [`PeerId`].
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    async fn call<T>(&self, make: impl FnOnce(Reply1<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Starts listening on `address` and returns the concrete address (port 0 resolved).
    ///
    /// # Errors
    /// [`ListenError::Refused`] if the transport refuses the address.
    pub async fn listen(&self, address: Multiaddr) -> Result<Multiaddr, ListenError> {
        self.call(|tx| Command::Listen(address, tx))
            .await
            .ok_or(ListenError::Stopped)?
    }

    /// The addresses this node currently listens on (empty if stopped).
    pub async fn listen_addresses(&self) -> Vec<Multiaddr> {
        self.call(Command::ListenAddresses)
            .await
            .unwrap_or_default()
    }

    /// Declares `address` an externally reachable address of ours (used by rendezvous
    /// registration and identify).
    pub async fn add_external_address(&self, address: Multiaddr) {
        let _ = self
            .commands
            .send(Command::AddExternalAddress(address))
            .await;
    }

    /// Remembers `address` for `peer`, so [`Network::send`] can dial it when not connected.
    /// The address is kept after failed dials (a peer that is down may come back there).
    pub async fn add_peer_address(&self, peer: PeerId, address: Multiaddr) {
        let _ = self
            .commands
            .send(Command::AddPeerAddress(peer, address))
            .await;
    }

    /// Connects to `address` (with or without a trailing `/p2p/<peer id>`) and returns the
    /// peer's authenticated [`PeerId`]. Returns at once if already connected to that peer.
    ///
    /// # Errors
    /// [`DialError::Failed`] if no connection could be established (including a peer id that
    /// does not match the one in the address).
    pub async fn dial(&self, address: Multiaddr) -> Result<PeerId, DialError> {
        self.call(|tx| Command::Dial(address, tx))
            .await
            .ok_or(DialError::Stopped)?
    }

    /// Closes all connections to `peer`.
    pub async fn disconnect(&self, peer: PeerId) {
        let _ = self.commands.send(Command::Disconnect(peer)).await;
    }

    /// The peers we have at least one connection to.
    pub async fn connected_peers(&self) -> Vec<PeerId> {
        self.call(Command::ConnectedPeers).await.unwrap_or_default()
    }

    /// Sends `payload` to `peer` on `protocol` and waits for the answer. Dials the peer with
    /// its known addresses if not connected.
    ///
    /// Returns the ack's payload (if any) once the peer acknowledged.
    ///
    /// # Errors
    /// [`SendError::TooLarge`] (nothing sent), [`SendError::Refused`] with the peer's reason,
    /// transport failures ([`SendError::is_retryable`]), [`SendError::UnsupportedProtocol`],
    /// [`SendError::InvalidReply`] (the peer is disconnected), [`SendError::Stopped`].
    pub async fn send(
        &self,
        peer: PeerId,
        protocol: SwapProtocol,
        payload: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, SendError> {
        let max = protocol.max_message_bytes();
        if payload.len() > max {
            return Err(SendError::TooLarge {
                protocol,
                size: payload.len(),
                max,
            });
        }
        self.call(|done| Command::Send {
            peer,
            protocol,
            payload,
            done,
        })
        .await
        .ok_or(SendError::Stopped)?
    }

    /// Registers this node's external addresses at the rendezvous point `rendezvous` under
    /// `namespace` (e.g. `confiaro/regtest/offers`) for `ttl` seconds (`None`: the point's
    /// default of 2 hours), and keeps the registration alive: it is refreshed at three
    /// quarters of the granted TTL until [`Network::unregister`]. Returns the granted TTL.
    ///
    /// Dial the rendezvous point first ([`Network::dial`]).
    ///
    /// # Errors
    /// [`RendezvousError::NotConnected`], [`RendezvousError::NoExternalAddress`],
    /// [`RendezvousError::InvalidNamespace`], [`RendezvousError::Refused`] (e.g. a TTL out of
    /// the point's bounds), [`RendezvousError::Timeout`].
    pub async fn register(
        &self,
        rendezvous: PeerId,
        namespace: &str,
        ttl: Option<u64>,
    ) -> Result<u64, RendezvousError> {
        let namespace = rendezvous::Namespace::new(namespace.to_owned())
            .map_err(|_| RendezvousError::InvalidNamespace)?;
        let call = self.call(|done| Command::Register {
            rendezvous,
            namespace,
            ttl,
            done,
        });
        tokio::time::timeout(RENDEZVOUS_TIMEOUT, call)
            .await
            .map_err(|_| RendezvousError::Timeout)?
            .ok_or(RendezvousError::Stopped)?
    }

    /// Removes our registration under `namespace` at `rendezvous` and stops refreshing it.
    pub async fn unregister(&self, rendezvous: PeerId, namespace: &str) {
        if let Ok(namespace) = rendezvous::Namespace::new(namespace.to_owned()) {
            let _ = self
                .commands
                .send(Command::Unregister(rendezvous, namespace))
                .await;
        }
    }

    /// Asks the rendezvous point `rendezvous` for the peers registered under `namespace`.
    /// Their addresses are added to our address book, so [`Network::send`] can reach them.
    /// Our own registration is left out.
    ///
    /// Dial the rendezvous point first ([`Network::dial`]).
    ///
    /// # Errors
    /// [`RendezvousError::NotConnected`], [`RendezvousError::InvalidNamespace`],
    /// [`RendezvousError::Refused`], [`RendezvousError::Timeout`].
    pub async fn discover(
        &self,
        rendezvous: PeerId,
        namespace: &str,
    ) -> Result<Vec<DiscoveredPeer>, RendezvousError> {
        let namespace = rendezvous::Namespace::new(namespace.to_owned())
            .map_err(|_| RendezvousError::InvalidNamespace)?;
        let call = self.call(|done| Command::Discover {
            rendezvous,
            namespace,
            done,
        });
        tokio::time::timeout(RENDEZVOUS_TIMEOUT, call)
            .await
            .map_err(|_| RendezvousError::Timeout)?
            .ok_or(RendezvousError::Stopped)?
    }

    /// Stops the swarm task: listeners close, connections drop, pending calls fail with
    /// `Stopped`, and the event stream ends.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    quote: request_response::Behaviour<FrameCodec>,
    swap_setup: request_response::Behaviour<FrameCodec>,
    transfer_proof: request_response::Behaviour<FrameCodec>,
    encrypted_signature: request_response::Behaviour<FrameCodec>,
    abort: request_response::Behaviour<FrameCodec>,
    rendezvous_client: rendezvous::client::Behaviour,
    rendezvous_server: Toggle<rendezvous::server::Behaviour>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    peer_store: peer_store::Behaviour<MemoryStore>,
}

impl Behaviour {
    fn rr(&mut self, protocol: SwapProtocol) -> &mut request_response::Behaviour<FrameCodec> {
        match protocol {
            SwapProtocol::Quote => &mut self.quote,
            SwapProtocol::SwapSetup => &mut self.swap_setup,
            SwapProtocol::TransferProof => &mut self.transfer_proof,
            SwapProtocol::EncryptedSignature => &mut self.encrypted_signature,
            SwapProtocol::Abort => &mut self.abort,
        }
    }
}

/// How long a connection over a [`StreamTransport`] may take to set up. libp2p's default
/// (10 s) is for TCP: over Tor, reaching an onion service whose cached descriptor is stale
/// (the service restarted) takes longer, and a dial cut short starts over from the same
/// stale descriptor every time.
const STREAM_CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);

/// The swarm over TCP, or over `streams` alone when given.
fn build_swarm(
    keypair: identity::Keypair,
    config: &NetworkConfig,
    streams: Option<StreamTransport>,
) -> Result<Swarm<Behaviour>, StartError> {
    let idle = config.idle_connection_timeout;
    let builder = libp2p::SwarmBuilder::with_existing_identity(keypair).with_tokio();
    let transport_error = |e: &dyn std::fmt::Display| StartError::Transport(e.to_string());
    let swarm = match streams {
        None => builder
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| transport_error(&e))?
            .with_behaviour(|key| behaviour(key, config))
            .map_err(|e| transport_error(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .build(),
        Some(streams) => builder
            .with_other_transport(|key| {
                use libp2p::core::{upgrade::Version, Transport as _};
                noise::Config::new(key)
                    .map(|noise| {
                        streams
                            .upgrade(Version::V1)
                            .authenticate(noise)
                            .multiplex(yamux::Config::default())
                    })
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })
            .map_err(|e| transport_error(&e))?
            .with_behaviour(|key| behaviour(key, config))
            .map_err(|e| transport_error(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .with_connection_timeout(STREAM_CONNECTION_TIMEOUT)
            .build(),
    };
    Ok(swarm)
}

/// The node's behaviours: connection caps, the swap protocols, rendezvous, identify, ping
/// and the peer store.
fn behaviour(key: &identity::Keypair, config: &NetworkConfig) -> Behaviour {
    let request_timeout = config.request_timeout;
    let caps = config.caps;
    let rr = move |protocol: SwapProtocol| {
        let timeout = request_timeout.unwrap_or(protocol.default_timeout());
        request_response::Behaviour::with_codec(
            FrameCodec::new(protocol),
            [(protocol.stream_protocol(), ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(timeout)
                .with_max_concurrent_streams(caps.max_streams_per_connection),
        )
    };
    Behaviour {
        limits: connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established_incoming(Some(caps.max_incoming))
                .with_max_pending_incoming(Some(caps.max_pending_incoming))
                .with_max_established_per_peer(Some(caps.max_per_peer)),
        ),
        quote: rr(SwapProtocol::Quote),
        swap_setup: rr(SwapProtocol::SwapSetup),
        transfer_proof: rr(SwapProtocol::TransferProof),
        encrypted_signature: rr(SwapProtocol::EncryptedSignature),
        abort: rr(SwapProtocol::Abort),
        rendezvous_client: rendezvous::client::Behaviour::new(key.clone()),
        rendezvous_server: Toggle::from(config.rendezvous_server.map(|s| {
            rendezvous::server::Behaviour::new(
                rendezvous::server::Config::default()
                    .with_min_ttl(s.min_ttl)
                    .with_max_ttl(s.max_ttl),
            )
        })),
        identify: identify::Behaviour::new(identify::Config::new(
            "/confiaro/id/1".to_owned(),
            key.public(),
        )),
        ping: ping::Behaviour::default(),
        peer_store: peer_store::Behaviour::new(MemoryStore::new(
            peer_store::memory_store::Config::default().set_remove_addr_on_dial_error(false),
        )),
    }
}

struct Registration {
    ttl: Option<u64>,
    refresh_at: Instant,
}

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    weak_commands: mpsc::WeakSender<Command>,
    events: mpsc::Sender<NetworkEvent>,
    advertise_listen_addresses: bool,
    pending_listens:
        HashMap<libp2p::core::transport::ListenerId, Reply1<Result<Multiaddr, ListenError>>>,
    pending_dials: HashMap<ConnectionId, (Multiaddr, Reply1<Result<PeerId, DialError>>)>,
    pending_sends: HashMap<(SwapProtocol, OutboundRequestId), SendReply>,
    pending_registers: HashMap<(PeerId, String), Vec<RegisterReply>>,
    pending_discovers: HashMap<(PeerId, String), VecDeque<DiscoverReply>>,
    registrations: HashMap<(PeerId, String), Registration>,
}

impl SwarmTask {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.handle_command(command),
                },
                event = self.swarm.select_next_some() => self.handle_swarm_event(event),
                _ = tick.tick() => self.refresh_registrations(),
            }
        }
        tracing::debug!(peer = %self.swarm.local_peer_id(), "network task stopped");
    }

    fn emit(&self, event: NetworkEvent) {
        if let Err(mpsc::error::TrySendError::Full(event)) = self.events.try_send(event) {
            tracing::warn!(?event, "event channel full, dropping event");
        }
    }

    fn misbehaved(&mut self, peer: PeerId, reason: CodecError) {
        tracing::warn!(%peer, %reason, "disconnecting peer that sent an invalid frame");
        let _ = self.swarm.disconnect_peer_id(peer);
        self.emit(NetworkEvent::PeerMisbehaved { peer, reason });
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Listen(address, done) => match self.swarm.listen_on(address.clone()) {
                Ok(id) => {
                    self.pending_listens.insert(id, done);
                }
                Err(e) => {
                    let _ = done.send(Err(ListenError::Refused {
                        address: address.to_string(),
                        reason: e.to_string(),
                    }));
                }
            },
            Command::ListenAddresses(done) => {
                let _ = done.send(self.swarm.listeners().cloned().collect());
            }
            Command::AddExternalAddress(address) => self.swarm.add_external_address(address),
            Command::AddPeerAddress(peer, address) => {
                self.swarm
                    .behaviour_mut()
                    .peer_store
                    .store_mut()
                    .add_address(&peer, &address);
            }
            Command::Dial(address, done) => self.dial(address, done),
            Command::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::ConnectedPeers(done) => {
                let _ = done.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Send {
                peer,
                protocol,
                payload,
                done,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .rr(protocol)
                    .send_request(&peer, RequestFrame::Payload(payload));
                self.pending_sends.insert((protocol, id), done);
            }
            Command::Respond {
                protocol,
                channel,
                reply,
                done,
            } => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .rr(protocol)
                    .send_response(channel, reply)
                    .map_err(|_| RespondError::Closed);
                let _ = done.send(result);
            }
            Command::Register {
                rendezvous,
                namespace,
                ttl,
                done,
            } => {
                if !self.swarm.is_connected(&rendezvous) {
                    let _ = done.send(Err(RendezvousError::NotConnected(rendezvous)));
                    return;
                }
                let key = (rendezvous, namespace.to_string());
                match self
                    .swarm
                    .behaviour_mut()
                    .rendezvous_client
                    .register(namespace, rendezvous, ttl)
                {
                    Ok(()) => {
                        self.pending_registers
                            .entry(key.clone())
                            .or_default()
                            .push(done);
                        // Remember the requested TTL for refreshes; schedule once granted.
                        self.registrations.insert(
                            key,
                            Registration {
                                ttl,
                                refresh_at: Instant::now() + RENDEZVOUS_TIMEOUT,
                            },
                        );
                    }
                    Err(rendezvous::client::RegisterError::NoExternalAddresses) => {
                        let _ = done.send(Err(RendezvousError::NoExternalAddress));
                    }
                    Err(e) => {
                        let _ = done.send(Err(RendezvousError::Refused(e.to_string())));
                    }
                }
            }
            Command::Unregister(rendezvous, namespace) => {
                self.registrations
                    .remove(&(rendezvous, namespace.to_string()));
                if self.swarm.is_connected(&rendezvous) {
                    self.swarm
                        .behaviour_mut()
                        .rendezvous_client
                        .unregister(namespace, rendezvous);
                }
            }
            Command::Discover {
                rendezvous,
                namespace,
                done,
            } => {
                if !self.swarm.is_connected(&rendezvous) {
                    let _ = done.send(Err(RendezvousError::NotConnected(rendezvous)));
                    return;
                }
                let key = (rendezvous, namespace.to_string());
                self.swarm.behaviour_mut().rendezvous_client.discover(
                    Some(namespace),
                    None,
                    None,
                    rendezvous,
                );
                self.pending_discovers
                    .entry(key)
                    .or_default()
                    .push_back(done);
            }
            Command::Shutdown => {}
        }
    }

    fn dial(&mut self, address: Multiaddr, done: Reply1<Result<PeerId, DialError>>) {
        let peer = match address.iter().last() {
            Some(Protocol::P2p(peer)) => Some(peer),
            _ => None,
        };
        let opts = match peer {
            Some(peer) if self.swarm.is_connected(&peer) => {
                let _ = done.send(Ok(peer));
                return;
            }
            Some(peer) => {
                self.swarm
                    .behaviour_mut()
                    .peer_store
                    .store_mut()
                    .add_address(&peer, &address);
                DialOpts::peer_id(peer)
                    .addresses(vec![address.clone()])
                    .condition(PeerCondition::Always)
                    .build()
            }
            None => DialOpts::unknown_peer_id().address(address.clone()).build(),
        };
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.pending_dials.insert(id, (address, done));
            }
            Err(e) => {
                let _ = done.send(Err(DialError::Failed {
                    address: address.to_string(),
                    reason: e.to_string(),
                }));
            }
        }
    }

    fn refresh_registrations(&mut self) {
        let now = Instant::now();
        let due: Vec<(PeerId, String)> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.refresh_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for (rendezvous, namespace) in due {
            let Some(registration) = self.registrations.get_mut(&(rendezvous, namespace.clone()))
            else {
                continue;
            };
            registration.refresh_at = now + REFRESH_RETRY;
            let ttl = registration.ttl;
            if !self.swarm.is_connected(&rendezvous) {
                tracing::debug!(%rendezvous, %namespace, "reconnecting to rendezvous point to refresh");
                let _ = self.swarm.dial(DialOpts::peer_id(rendezvous).build());
                continue;
            }
            let Ok(ns) = rendezvous::Namespace::new(namespace.clone()) else {
                continue;
            };
            tracing::debug!(%rendezvous, %namespace, "refreshing rendezvous registration");
            if let Err(e) = self
                .swarm
                .behaviour_mut()
                .rendezvous_client
                .register(ns, rendezvous, ttl)
            {
                self.emit(NetworkEvent::RegistrationRefreshFailed {
                    rendezvous,
                    namespace,
                    reason: e.to_string(),
                });
            }
        }
    }

    fn handle_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.handle_behaviour_event(event),
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                tracing::info!(%address, "listening");
                if self.advertise_listen_addresses {
                    self.swarm.add_external_address(address.clone());
                }
                if let Some(done) = self.pending_listens.remove(&listener_id) {
                    let _ = done.send(Ok(address));
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                addresses,
            } => {
                if let Some(done) = self.pending_listens.remove(&listener_id) {
                    let reason = match reason {
                        Ok(()) => "listener closed".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    let address = addresses
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let _ = done.send(Err(ListenError::Refused { address, reason }));
                }
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some(done) = self.pending_listens.remove(&listener_id) {
                    let _ = done.send(Err(ListenError::Refused {
                        address: String::new(),
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let Some((_, done)) = self.pending_dials.remove(&connection_id) {
                    let _ = done.send(Ok(peer_id));
                }
                let address = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => address.clone(),
                    ConnectedPoint::Listener { send_back_addr, .. } => send_back_addr.clone(),
                };
                if num_established.get() == 1 {
                    tracing::debug!(peer = %peer_id, %address, "peer connected");
                    self.emit(NetworkEvent::PeerConnected {
                        peer: peer_id,
                        address,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, ?cause, "peer disconnected");
                self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                // among them: connections beyond the node's caps, denied
                tracing::debug!(%send_back_addr, %error, "incoming connection refused");
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                peer_id,
            } => {
                tracing::debug!(?peer_id, %error, "outgoing connection failed");
                if let Some((address, done)) = self.pending_dials.remove(&connection_id) {
                    let _ = done.send(Err(DialError::Failed {
                        address: address.to_string(),
                        reason: error.to_string(),
                    }));
                }
            }
            _ => {}
        }
    }

    fn handle_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Quote(e) => self.handle_rr(SwapProtocol::Quote, e),
            BehaviourEvent::SwapSetup(e) => self.handle_rr(SwapProtocol::SwapSetup, e),
            BehaviourEvent::TransferProof(e) => self.handle_rr(SwapProtocol::TransferProof, e),
            BehaviourEvent::EncryptedSignature(e) => {
                self.handle_rr(SwapProtocol::EncryptedSignature, e)
            }
            BehaviourEvent::Abort(e) => self.handle_rr(SwapProtocol::Abort, e),
            BehaviourEvent::RendezvousClient(e) => self.handle_rendezvous(e),
            BehaviourEvent::RendezvousServer(e) => tracing::debug!(?e, "rendezvous server"),
            BehaviourEvent::Limits(never) => match never {},
            BehaviourEvent::Identify(_)
            | BehaviourEvent::Ping(_)
            | BehaviourEvent::PeerStore(_) => {}
        }
    }

    fn handle_rr(
        &mut self,
        protocol: SwapProtocol,
        event: request_response::Event<RequestFrame, Reply>,
    ) {
        use request_response::{Event, InboundFailure, Message, OutboundFailure};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let request = match request {
                    RequestFrame::Payload(payload) => payload,
                    RequestFrame::Invalid(reason) => {
                        drop(channel);
                        self.misbehaved(peer, reason);
                        return;
                    }
                };
                let Some(commands) = self.weak_commands.upgrade() else {
                    return;
                };
                tracing::debug!(%peer, %protocol, size = request.len(), "inbound request");
                self.emit(NetworkEvent::InboundRequest(InboundRequest {
                    peer,
                    protocol,
                    payload: request,
                    responder: Responder {
                        protocol,
                        channel,
                        commands,
                    },
                }));
            }
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let result = match response {
                    Reply::Ack(payload) => Ok(payload),
                    Reply::Refused(reason) => Err(SendError::Refused { protocol, reason }),
                    Reply::Busy(reason) => Err(SendError::Busy { protocol, reason }),
                };
                if let Some(done) = self.pending_sends.remove(&(protocol, request_id)) {
                    let _ = done.send(result);
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %protocol, %error, "outbound request failed");
                let error = match error {
                    OutboundFailure::DialFailure => SendError::Unreachable { protocol, peer },
                    OutboundFailure::Timeout => SendError::Timeout { protocol },
                    OutboundFailure::ConnectionClosed => SendError::ConnectionClosed { protocol },
                    OutboundFailure::UnsupportedProtocols => {
                        SendError::UnsupportedProtocol { protocol }
                    }
                    OutboundFailure::Io(e) => match CodecError::from_io(&e) {
                        // Our own write refused an oversized payload: a local error, not the peer's.
                        Some(CodecError::TooLarge { size, max, .. })
                            if e.kind() == std::io::ErrorKind::InvalidInput =>
                        {
                            SendError::TooLarge {
                                protocol,
                                size,
                                max,
                            }
                        }
                        Some(reason) => {
                            self.misbehaved(peer, reason.clone());
                            SendError::InvalidReply(reason)
                        }
                        None => SendError::Io {
                            protocol,
                            reason: e.to_string(),
                        },
                    },
                };
                if let Some(done) = self.pending_sends.remove(&(protocol, request_id)) {
                    let _ = done.send(Err(error));
                }
            }
            Event::InboundFailure { peer, error, .. } => match error {
                InboundFailure::Io(e) => match CodecError::from_io(&e) {
                    Some(reason) => self.misbehaved(peer, reason),
                    None => tracing::debug!(%peer, %protocol, error = %e, "inbound stream failed"),
                },
                other => {
                    tracing::debug!(%peer, %protocol, error = %other, "inbound request failed")
                }
            },
            Event::ResponseSent { .. } => {}
        }
    }

    fn handle_rendezvous(&mut self, event: rendezvous::client::Event) {
        use rendezvous::client::Event;
        match event {
            Event::Registered {
                rendezvous_node,
                ttl,
                namespace,
            } => {
                let key = (rendezvous_node, namespace.to_string());
                tracing::debug!(rendezvous = %rendezvous_node, %namespace, ttl, "registered");
                if let Some(registration) = self.registrations.get_mut(&key) {
                    // Refresh at three quarters of the granted TTL, at least a second from now.
                    let refresh =
                        Duration::from_secs(ttl.saturating_mul(3) / 4).max(Duration::from_secs(1));
                    registration.refresh_at = Instant::now() + refresh;
                }
                for done in self.pending_registers.remove(&key).unwrap_or_default() {
                    let _ = done.send(Ok(ttl));
                }
            }
            Event::RegisterFailed {
                rendezvous_node,
                namespace,
                error,
            } => {
                let key = (rendezvous_node, namespace.to_string());
                let reason = format!("{error:?}");
                let waiters = self.pending_registers.remove(&key).unwrap_or_default();
                if waiters.is_empty() {
                    tracing::warn!(rendezvous = %rendezvous_node, %namespace, %reason, "registration refresh failed");
                    self.emit(NetworkEvent::RegistrationRefreshFailed {
                        rendezvous: rendezvous_node,
                        namespace: namespace.to_string(),
                        reason,
                    });
                } else {
                    // A first registration that fails is not kept alive.
                    self.registrations.remove(&key);
                    for done in waiters {
                        let _ = done.send(Err(RendezvousError::Refused(reason.clone())));
                    }
                }
            }
            Event::Discovered {
                rendezvous_node,
                registrations,
                cookie,
            } => {
                let local = *self.swarm.local_peer_id();
                let mut found = Vec::new();
                for registration in registrations {
                    let peer = registration.record.peer_id();
                    if peer == local {
                        continue;
                    }
                    let addresses = registration.record.addresses().to_vec();
                    for address in &addresses {
                        self.swarm
                            .behaviour_mut()
                            .peer_store
                            .store_mut()
                            .add_address(&peer, address);
                    }
                    found.push(DiscoveredPeer {
                        peer,
                        addresses,
                        ttl: registration.ttl,
                    });
                }
                let namespace = cookie
                    .namespace()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if let Some(done) = self
                    .pending_discovers
                    .get_mut(&(rendezvous_node, namespace))
                    .and_then(VecDeque::pop_front)
                {
                    let _ = done.send(Ok(found));
                }
            }
            Event::DiscoverFailed {
                rendezvous_node,
                namespace,
                error,
            } => {
                let namespace = namespace.map(|n| n.to_string()).unwrap_or_default();
                if let Some(done) = self
                    .pending_discovers
                    .get_mut(&(rendezvous_node, namespace))
                    .and_then(VecDeque::pop_front)
                {
                    let _ = done.send(Err(RendezvousError::Refused(format!("{error:?}"))));
                }
            }
            Event::Expired { peer } => tracing::debug!(%peer, "discovered registration expired"),
        }
    }
}
