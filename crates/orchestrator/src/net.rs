//! The engine's peer-to-peer side, outbound: delivering the machines' messages until
//! acknowledged, asking for quotes, and meeting peers at rendezvous points. What peers send
//! us is the intake's ([`crate::intake`]). This module knows the network and nothing of the
//! engine's state: a delivery reports its failure to the caller's closure.
//!
//! A swap the engine opens as a taker runs on a node of its own: a libp2p identity derived
//! from the seed and the swap id ([`crate::keys::EngineKeys::swap_identity`]), on the main
//! node's transport (through Tor, on a client isolated from every other node's circuits),
//! listening nowhere. Makers therefore cannot link a taker's swaps by its peer id, and a
//! restarted engine speaks for the swap with the same identity again. Everything else (quotes
//! for browsing, rendezvous points, a maker's own swaps) uses the main node.
//!
//! Every swap message is one request on its protocol (`/confiaro/swap-setup/1`, ...). The
//! receiver acknowledges it once the resulting state is durable, or refuses it with the
//! reason (a message that fails validation, or one for a swap it does not have with that
//! peer). Answers travel as requests of their own. Delivery retries with backoff until the
//! peer acknowledges or the swap no longer needs the message; the machines resend on their
//! own schedule too, and treat repeats as harmless.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use confiaro_p2p::{
    send_with_retry, Backoff, DiscoveredPeer, IdentitySecret, Multiaddr, Network as P2pNetwork,
    NetworkConfig, NetworkEvent, PeerId, SendError, SwapProtocol,
};
use confiaro_protocol::messages::Message;
use confiaro_protocol::quote::{self, QuoteReply, QuoteRequest};
use confiaro_protocol::SwapId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;

/// How long the delivery of an abort keeps trying (it outlives its swap, which ends with it).
const ABORT_DELIVERY: Duration = Duration::from_secs(600);

/// The rendezvous namespace where makers of `network` register.
pub(crate) fn namespace(network: confiaro_protocol::Network) -> String {
    format!("confiaro/{}/offers", network.name())
}

/// The protocol a message travels on.
pub(crate) fn protocol_of(message: &Message) -> SwapProtocol {
    protocol_of_kind(message.kind())
}

/// The protocol a message of `kind` ([`Message::kind`]) travels on.
pub(crate) fn protocol_of_kind(kind: u8) -> SwapProtocol {
    match kind {
        6 => SwapProtocol::TransferProof,
        7 => SwapProtocol::EncryptedSignature,
        8 => SwapProtocol::Abort,
        // the setups and the messages that finish them
        _ => SwapProtocol::SwapSetup,
    }
}

/// Why a delivery gave up.
pub(crate) enum DeliveryFailure {
    /// The peer refused the message, with its reason.
    Refused {
        message: &'static str,
        reason: String,
    },
    /// The message could not be sent.
    Failed {
        message: &'static str,
        error: String,
    },
}

struct Delivery {
    bytes: Vec<u8>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// How the engine starts a taker swap's own node: over the main node's transport, listening
/// nowhere.
#[derive(Clone, Default)]
pub(crate) struct SwapNodes {
    /// The Tor client the main node runs over, if it does (each swap node gets an isolated
    /// clone: no circuit is shared between two identities).
    pub(crate) tor: Option<confiaro_tor::Tor>,
}

impl SwapNodes {
    async fn start(
        &self,
        identity: IdentitySecret,
    ) -> Result<(P2pNetwork, mpsc::Receiver<NetworkEvent>), EngineError> {
        let config = NetworkConfig::new(identity);
        Ok(match &self.tor {
            None => P2pNetwork::start(config).await?,
            Some(tor) => {
                let transport = confiaro_tor::TorTransport::new(tor.isolated());
                P2pNetwork::start_over(config, confiaro_p2p::stream_transport(transport)).await?
            }
        })
    }
}

/// The engine's network handles (the main node and the taker swaps' own nodes) and its
/// deliveries in flight.
pub(crate) struct NetSide {
    pub(crate) network: P2pNetwork,
    swap_nodes: SwapNodes,
    /// The running nodes of taker swaps, by swap.
    by_swap: Mutex<HashMap<SwapId, P2pNetwork>>,
    deliveries: Mutex<HashMap<(SwapId, u8), Delivery>>,
    backoff: Backoff,
}

impl NetSide {
    pub(crate) fn new(network: P2pNetwork, swap_nodes: SwapNodes, regtest: bool) -> NetSide {
        NetSide {
            network,
            swap_nodes,
            by_swap: Mutex::new(HashMap::new()),
            deliveries: Mutex::new(HashMap::new()),
            backoff: if regtest {
                Backoff {
                    initial: Duration::from_millis(250),
                    max: Duration::from_secs(5),
                }
            } else {
                Backoff::default()
            },
        }
    }

    /// Starts the node of taker swap `swap_id` with `identity` and keeps it until
    /// [`NetSide::close_swap_node`]; returns it and its events (for the intake). A node
    /// already running for the swap is replaced.
    pub(crate) async fn open_swap_node(
        &self,
        swap_id: SwapId,
        identity: IdentitySecret,
    ) -> Result<(P2pNetwork, mpsc::Receiver<NetworkEvent>), EngineError> {
        let (node, events) = self.swap_nodes.start(identity).await?;
        let replaced = self
            .by_swap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(swap_id, node.clone());
        if let Some(old) = replaced {
            old.shutdown().await;
        }
        Ok((node, events))
    }

    /// Stops the node of swap `swap_id`, if it has one.
    pub(crate) async fn close_swap_node(&self, swap_id: &SwapId) {
        let node = self
            .by_swap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(swap_id);
        if let Some(node) = node {
            node.shutdown().await;
        }
    }

    /// Whether swap `swap_id` has a node of its own running.
    pub(crate) fn has_swap_node(&self, swap_id: &SwapId) -> bool {
        self.by_swap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(swap_id)
    }

    /// The node that speaks for swap `swap_id`: its own, or the main node.
    pub(crate) fn node_of(&self, swap_id: &SwapId) -> P2pNetwork {
        self.by_swap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(swap_id)
            .cloned()
            .unwrap_or_else(|| self.network.clone())
    }

    /// The running nodes of taker swaps.
    fn running_swap_nodes(&self) -> Vec<P2pNetwork> {
        self.by_swap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The peers any of the engine's nodes is connected to.
    pub(crate) async fn connected_peers(&self) -> Vec<PeerId> {
        let nodes = self.running_swap_nodes();
        let mut connected = self.network.connected_peers().await;
        for node in nodes {
            connected.extend(node.connected_peers().await);
        }
        connected
    }

    /// Gives the swaps' own nodes `peer`'s `addresses` (found by the main node at a
    /// rendezvous point, which already has them).
    pub(crate) async fn learn_addresses(&self, peer: PeerId, addresses: &[Multiaddr]) {
        let nodes = self.running_swap_nodes();
        for node in nodes {
            for address in addresses {
                node.add_peer_address(peer, address.clone()).await;
            }
        }
    }

    /// Stops every node, the main one last.
    pub(crate) async fn shutdown(&self) {
        let nodes: Vec<P2pNetwork> = self
            .by_swap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, node)| node)
            .collect();
        for node in nodes {
            node.shutdown().await;
        }
        self.network.shutdown().await;
    }

    /// Delivers `message` for `swap_id` to `peer` until acknowledged, or until `cancel`
    /// (an abort: until `cancel` or [`ABORT_DELIVERY`], whichever comes first). The same
    /// message already in flight is not sent twice; a new message of the same kind replaces
    /// the old one. A refusal or a lasting failure goes to `on_failure`.
    pub(crate) fn deliver<F, Fut>(
        &self,
        swap_id: SwapId,
        peer: PeerId,
        message: Message,
        cancel: CancellationToken,
        on_failure: F,
    ) where
        F: FnOnce(DeliveryFailure) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let bytes = message.encode();
        let key = (swap_id, message.kind());
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = deliveries.get(&key) {
            if existing.bytes == bytes && !existing.task.is_finished() {
                return;
            }
            existing.cancel.cancel();
        }
        // finished deliveries are kept only until the next one starts: a long-running maker
        // holds the ones in flight, not one entry per message it ever sent
        deliveries.retain(|_, d| !d.task.is_finished());
        let is_abort = matches!(message, Message::Abort(_));
        let protocol = protocol_of(&message);
        let task = tokio::spawn({
            let network = self.node_of(&swap_id);
            let cancel = cancel.clone();
            let bytes = bytes.clone();
            let name = message.name();
            let backoff = self.backoff;
            async move {
                let send = send_with_retry(&network, peer, protocol, bytes, backoff, &cancel);
                let result = if is_abort {
                    tokio::time::timeout(ABORT_DELIVERY, send)
                        .await
                        .unwrap_or(Err(SendError::Cancelled))
                } else {
                    send.await
                };
                match result {
                    Ok(_) => tracing::debug!(swap = %swap_id, "{name} acknowledged"),
                    Err(SendError::Cancelled) => {}
                    Err(SendError::Refused { reason, .. }) => {
                        on_failure(DeliveryFailure::Refused {
                            message: name,
                            reason,
                        })
                        .await
                    }
                    Err(e) => {
                        on_failure(DeliveryFailure::Failed {
                            message: name,
                            error: e.to_string(),
                        })
                        .await
                    }
                }
            }
        });
        deliveries.insert(
            key,
            Delivery {
                bytes,
                cancel,
                task,
            },
        );
    }

    /// How many deliveries are held (in flight, or finished since the last one started).
    #[cfg(test)]
    pub(crate) fn held_deliveries(&self) -> usize {
        self.deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Waits until no delivery of `swap_id` is in flight, or `timeout` passes. Returns
    /// whether all were done.
    pub(crate) async fn flush(&self, swap_id: &SwapId, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pending = {
                let deliveries = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
                deliveries
                    .iter()
                    .any(|((id, _), d)| id == swap_id && !d.task.is_finished())
            };
            if !pending {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks `peer`, from `node`, for its quote (and reserve proof, unchecked: see
    /// [`crate::taker::trusted_quote`]).
    pub(crate) async fn request_quote(
        &self,
        node: &P2pNetwork,
        peer: PeerId,
        network: confiaro_protocol::Network,
    ) -> Result<QuoteReply, EngineError> {
        let request = QuoteRequest { network }.encode();
        let answer = node
            .send(peer, SwapProtocol::Quote, request)
            .await?
            .ok_or_else(|| {
                EngineError::InvalidInput(format!(
                    "{peer} answered the quote request without a quote"
                ))
            })?;
        let reply = quote::decode_reply(&answer)?;
        if let Some(other) = reply.quotes.iter().find(|q| q.network != network) {
            return Err(EngineError::InvalidInput(format!(
                "{peer} quotes for {:?}, not {network:?}",
                other.network
            )));
        }
        Ok(reply)
    }

    /// Dials `address` (which must end in `/p2p/<peer id>` or reach one) from the main node
    /// and remembers it for the peer. Returns the peer.
    pub(crate) async fn dial(&self, address: &Multiaddr) -> Result<PeerId, EngineError> {
        self.dial_from(&self.network, address).await
    }

    /// [`NetSide::dial`] from `node`.
    pub(crate) async fn dial_from(
        &self,
        node: &P2pNetwork,
        address: &Multiaddr,
    ) -> Result<PeerId, EngineError> {
        let peer = node.dial(address.clone()).await?;
        node.add_peer_address(peer, address.clone()).await;
        Ok(peer)
    }

    /// The peers registered under `namespace` at the rendezvous point `point` (dialled first).
    pub(crate) async fn discover_at(
        &self,
        point: &Multiaddr,
        namespace: &str,
    ) -> Result<Vec<DiscoveredPeer>, EngineError> {
        let rendezvous = self.dial(point).await?;
        Ok(self.network.discover(rendezvous, namespace).await?)
    }
}
