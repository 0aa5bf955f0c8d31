//! The engine's peer-to-peer side: delivering the machines' messages until acknowledged,
//! routing what peers send to the right swap, answering quotes, and meeting peers at
//! rendezvous points.
//!
//! Every swap message is one request on its protocol (`/confiaro/swap-setup/1`, ...). The
//! receiver acknowledges it once the resulting state is durable, or refuses it with the
//! reason (a message that fails validation, or one for a swap it does not have with that
//! peer). Answers travel as requests of their own. Delivery retries with backoff until the
//! peer acknowledges or the swap no longer needs the message; the machines resend on their
//! own schedule too, and treat repeats as harmless.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confiaro_p2p::{
    send_with_retry, Backoff, DiscoveredPeer, InboundRequest, Multiaddr, Network as P2pNetwork,
    NetworkEvent, PeerId, SendError, SwapProtocol,
};
use confiaro_protocol::messages::{self, Message};
use confiaro_protocol::quote::{self, QuoteReply, QuoteRequest};
use confiaro_protocol::SwapId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::Inner;
use crate::error::EngineError;
use crate::events::{EngineEvent, SwapEventKind};
use crate::swap::{DriverMsg, SwapCtx};

/// How long the delivery of an abort keeps trying after its swap ended.
const ABORT_DELIVERY: Duration = Duration::from_secs(600);

/// The rendezvous namespace where makers of `network` register.
pub(crate) fn namespace(network: confiaro_protocol::Network) -> String {
    let name = match network {
        confiaro_protocol::Network::Mainnet => "mainnet",
        confiaro_protocol::Network::Testnet => "testnet",
        confiaro_protocol::Network::Regtest => "regtest",
    };
    format!("confiaro/{name}/offers")
}

/// The protocol a message travels on.
pub(crate) fn protocol_of(message: &Message) -> SwapProtocol {
    match message {
        Message::SetupBob(_)
        | Message::SetupAlice(_)
        | Message::LockProposal(_)
        | Message::AliceSignatures(_)
        | Message::BobSignatures(_) => SwapProtocol::SwapSetup,
        Message::TransferProof(_) => SwapProtocol::TransferProof,
        Message::RedeemEncryptedSignature(_) => SwapProtocol::EncryptedSignature,
        Message::Abort(_) => SwapProtocol::Abort,
    }
}

struct Delivery {
    bytes: Vec<u8>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The engine's network handle and its deliveries in flight.
pub(crate) struct NetSide {
    pub(crate) network: P2pNetwork,
    deliveries: Mutex<HashMap<(SwapId, u8), Delivery>>,
    backoff: Backoff,
}

impl NetSide {
    pub(crate) fn new(network: P2pNetwork, regtest: bool) -> NetSide {
        NetSide {
            network,
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

    /// Delivers `message` to the swap's peer until acknowledged. The same message already in
    /// flight is not sent twice; a new message of the same kind replaces the old one.
    pub(crate) fn deliver(&self, inner: &Arc<Inner>, ctx: &SwapCtx, message: Message) {
        let bytes = message.encode();
        let key = (ctx.swap_id, message.kind());
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = deliveries.get(&key) {
            if existing.bytes == bytes && !existing.task.is_finished() {
                return;
            }
            existing.cancel.cancel();
        }
        let is_abort = matches!(message, Message::Abort(_));
        // an abort must outlive its swap (which ends with it); everything else stops with it
        let cancel = if is_abort {
            inner.shutdown.child_token()
        } else {
            ctx.cancel.child_token()
        };
        let protocol = protocol_of(&message);
        let task = tokio::spawn({
            let inner = Arc::clone(inner);
            let ctx = ctx.clone();
            let cancel = cancel.clone();
            let bytes = bytes.clone();
            let name = message.name();
            let backoff = self.backoff;
            async move {
                let send = send_with_retry(
                    &inner.net.network,
                    ctx.peer,
                    protocol,
                    bytes,
                    backoff,
                    &cancel,
                );
                let result = if is_abort {
                    tokio::time::timeout(ABORT_DELIVERY, send)
                        .await
                        .unwrap_or(Err(SendError::Cancelled))
                } else {
                    send.await
                };
                match result {
                    Ok(_) => tracing::debug!(swap = %ctx.swap_id, "{name} acknowledged"),
                    Err(SendError::Cancelled) => {}
                    Err(SendError::Refused { reason, .. }) => {
                        ctx.audit(
                            &inner,
                            "peer-refused",
                            serde_json::json!({"message": name, "reason": reason}),
                        )
                        .await;
                        ctx.emit(&inner, SwapEventKind::PeerRefused { reason });
                    }
                    Err(e) => ctx.emit(
                        &inner,
                        SwapEventKind::Problem {
                            message: format!("sending {name}: {e}"),
                        },
                    ),
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

    /// Asks `peer` for its quote (and reserve proof, unchecked: see
    /// [`crate::engine::trusted_quote`]).
    pub(crate) async fn request_quote(
        &self,
        peer: PeerId,
        network: confiaro_protocol::Network,
    ) -> Result<QuoteReply, EngineError> {
        let request = QuoteRequest { network }.encode();
        let answer = self
            .network
            .send(peer, SwapProtocol::Quote, request)
            .await?
            .ok_or_else(|| {
                EngineError::InvalidInput(format!(
                    "{peer} answered the quote request without a quote"
                ))
            })?;
        let reply = quote::decode_reply(&answer)?;
        if reply.quote.network != network {
            return Err(EngineError::InvalidInput(format!(
                "{peer} quotes for {:?}, not {network:?}",
                reply.quote.network
            )));
        }
        Ok(reply)
    }

    /// Dials `address` (which must end in `/p2p/<peer id>` or reach one) and remembers it for
    /// the peer. Returns the peer.
    pub(crate) async fn dial(&self, address: &Multiaddr) -> Result<PeerId, EngineError> {
        let peer = self.network.dial(address.clone()).await?;
        self.network.add_peer_address(peer, address.clone()).await;
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

/// The task that takes the network's events: inbound requests (each handled on its own task,
/// so a slow proof check does not hold up others), connections, misbehaving peers.
pub(crate) async fn run_network_events(
    inner: Arc<Inner>,
    mut events: mpsc::Receiver<NetworkEvent>,
) {
    loop {
        let event = tokio::select! {
            _ = inner.shutdown.cancelled() => return,
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        match event {
            NetworkEvent::InboundRequest(request) => {
                let inner = Arc::clone(&inner);
                tokio::spawn(async move { handle_inbound(&inner, request).await });
            }
            NetworkEvent::PeerConnected { peer, address } => {
                if let Err(e) = inner
                    .store
                    .upsert_peer(&peer.to_string(), &[address.to_string()])
                    .await
                {
                    tracing::debug!("cannot record peer {peer}: {e}");
                }
            }
            NetworkEvent::PeerMisbehaved { peer, reason } => {
                tracing::warn!(%peer, "peer disconnected for sending garbage: {reason}");
                let _ = inner.events.send(EngineEvent::Warning {
                    message: format!("peer {peer} sent garbage and was disconnected: {reason}"),
                });
            }
            NetworkEvent::RegistrationRefreshFailed {
                rendezvous, reason, ..
            } => {
                let _ = inner.events.send(EngineEvent::Warning {
                    message: format!("rendezvous point {rendezvous} refused our registration: {reason} (retrying)"),
                });
            }
            NetworkEvent::PeerDisconnected { .. } => {}
        }
    }
}

async fn handle_inbound(inner: &Arc<Inner>, request: InboundRequest) {
    let InboundRequest {
        peer,
        protocol,
        payload,
        responder,
    } = request;
    if protocol == SwapProtocol::Quote {
        let answer = quote_answer(inner, peer, &payload);
        let _ = match answer {
            Ok(reply) => responder.ack(Some(reply.encode())).await,
            Err(reason) => responder.refuse(reason).await,
        };
        return;
    }
    // a setup message carries a DLEQ proof whose check takes ~0.1 s: off the async threads
    let decoded = tokio::task::spawn_blocking(move || messages::decode(&payload))
        .await
        .map_err(|e| format!("internal error: {e}"))
        .and_then(|r| r.map_err(|e| e.to_string()));
    let message = match decoded {
        Ok(message) if protocol_of(&message) == protocol => message,
        Ok(message) => {
            let _ = responder
                .refuse(format!("{} does not belong on {protocol}", message.name()))
                .await;
            return;
        }
        Err(reason) => {
            tracing::info!(%peer, "refused a malformed message: {reason}");
            let _ = responder.refuse(format!("invalid message: {reason}")).await;
            return;
        }
    };
    let result = route(inner, peer, message).await;
    let _ = match result {
        Ok(()) => responder.ack(None).await,
        Err(reason) => responder.refuse(reason).await,
    };
}

fn quote_answer(inner: &Inner, peer: PeerId, payload: &[u8]) -> Result<QuoteReply, String> {
    let request = quote::decode_request(payload).map_err(|e| e.to_string())?;
    let network = inner.config.network;
    if request.network != network {
        return Err(format!(
            "this maker swaps on {network:?}, not {:?}",
            request.network
        ));
    }
    inner
        .with_desk(|desk| desk.quote_for(peer, network, std::time::Instant::now()))
        .unwrap_or_else(|| Err("not a maker: this node does not quote".into()))
}

/// Hands a validated message to its swap's driver (creating the swap when it is a maker's new
/// setup) and waits for the outcome.
async fn route(inner: &Arc<Inner>, peer: PeerId, message: Message) -> Result<(), String> {
    let swap_id = message.swap_id();
    let sender = match inner.drivers.sender_and_peer(&swap_id) {
        Some((_, owner)) if owner != peer => {
            return Err(format!("swap {swap_id} is not a swap with you"));
        }
        Some((sender, _)) => sender,
        None => match inner.store.swap(&swap_id).await {
            Ok(Some(record)) if record.peer != peer.to_string() => {
                return Err(format!("swap {swap_id} is not a swap with you"));
            }
            // a swap that is over: repeats are harmless
            Ok(Some(record)) if record.phase.is_terminal() => return Ok(()),
            Ok(Some(_)) => return Err("swap is resuming, try again".into()),
            Ok(None) => match message {
                Message::SetupBob(setup) => {
                    return crate::engine::accept_swap(inner, peer, setup).await;
                }
                _ => return Err(format!("unknown swap {swap_id}")),
            },
            Err(e) => return Err(format!("busy ({e})")),
        },
    };
    let (reply, answer) = oneshot::channel();
    if sender.send(DriverMsg::Peer { message, reply }).is_err() {
        return Err("swap is stopping, try again".into());
    }
    answer
        .await
        .unwrap_or_else(|_| Err("swap is stopping, try again".into()))
}

/// Finds the new addresses of counterparties we cannot reach: every few seconds (regtest) or
/// minutes, asks the rendezvous points for the registrations of the peers of running swaps
/// that are not connected (a maker that restarted elsewhere, or on another port).
pub(crate) async fn run_peer_refresh(inner: Arc<Inner>) {
    let interval = match inner.config.network {
        confiaro_protocol::Network::Regtest => Duration::from_secs(3),
        _ => Duration::from_secs(60),
    };
    let namespace = namespace(inner.config.network);
    loop {
        tokio::select! {
            _ = inner.shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if inner.config.p2p.rendezvous.is_empty() {
            continue;
        }
        let peers = inner.drivers.unfinished_peers();
        if peers.is_empty() {
            continue;
        }
        let connected = inner.net.network.connected_peers().await;
        let missing: Vec<PeerId> = peers
            .into_iter()
            .filter(|p| !connected.contains(p))
            .collect();
        if missing.is_empty() {
            continue;
        }
        for point in inner.config.p2p.rendezvous.clone() {
            let Ok(found) = inner.net.discover_at(&point, &namespace).await else {
                continue;
            };
            for registration in found.into_iter().filter(|r| missing.contains(&r.peer)) {
                let addresses: Vec<String> = registration
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                tracing::info!(peer = %registration.peer, ?addresses, "found the peer again at the rendezvous point");
                let _ = inner
                    .store
                    .upsert_peer(&registration.peer.to_string(), &addresses)
                    .await;
            }
        }
    }
}
