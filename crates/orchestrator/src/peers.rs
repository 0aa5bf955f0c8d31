//! Finding counterparties again: a running swap whose peer is not connected (a maker that
//! restarted elsewhere, or on another port) gets the peer's current addresses from the
//! rendezvous points.

use std::sync::Arc;
use std::time::Duration;

use confiaro_p2p::PeerId;

use crate::context::Context;
use crate::net::namespace;

/// Finds the new addresses of counterparties we cannot reach: every few seconds (regtest) or
/// minutes, asks the rendezvous points for the registrations of the peers of running swaps
/// that are not connected (a maker that restarted elsewhere, or on another port).
pub(crate) async fn run_peer_refresh(cx: Arc<Context>) {
    let interval = match cx.config.network {
        confiaro_protocol::Network::Regtest => Duration::from_secs(3),
        _ => Duration::from_secs(60),
    };
    let namespace = namespace(cx.config.network);
    loop {
        tokio::select! {
            _ = cx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if cx.config.p2p.rendezvous.is_empty() {
            continue;
        }
        let peers = cx.drivers.unfinished_peers();
        if peers.is_empty() {
            continue;
        }
        let connected = cx.net.connected_peers().await;
        let missing: Vec<PeerId> = peers
            .into_iter()
            .filter(|p| !connected.contains(p))
            .collect();
        if missing.is_empty() {
            continue;
        }
        for point in cx.config.p2p.rendezvous.clone() {
            let Ok(found) = cx.net.discover_at(&point, &namespace).await else {
                continue;
            };
            for registration in found.into_iter().filter(|r| missing.contains(&r.peer)) {
                let addresses: Vec<String> = registration
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                tracing::info!(peer = %registration.peer, ?addresses, "found the peer again at the rendezvous point");
                cx.net
                    .learn_addresses(registration.peer, &registration.addresses)
                    .await;
                let _ = cx
                    .store
                    .upsert_peer(&registration.peer.to_string(), &addresses)
                    .await;
            }
        }
    }
}
