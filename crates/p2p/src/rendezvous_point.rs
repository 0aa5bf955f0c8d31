//! A ready-made rendezvous point: a [`Network`] with the rendezvous server enabled, for the
//! devnet or a public deployment. Makers register their offers under a namespace such as
//! `confiaro/regtest/offers`; takers discover them there.

use crate::error::StartError;
use crate::network::{
    IdentitySecret, Network, NetworkConfig, NetworkEvent, RendezvousServerConfig,
};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

/// A running rendezvous point.
///
/// It answers no swap requests: inbound swap requests are refused. It stops when dropped
/// or on [`RendezvousPoint::shutdown`].
#[derive(Debug)]
pub struct RendezvousPoint {
    network: Network,
    addresses: Vec<Multiaddr>,
    drain: tokio::task::JoinHandle<()>,
}

impl RendezvousPoint {
    /// Starts a rendezvous point with `identity`, listening on `listen` (e.g.
    /// `/ip4/127.0.0.1/tcp/0`), accepting TTLs within `server`'s bounds.
    ///
    /// # Errors
    /// As [`Network::start`].
    pub async fn start(
        identity: IdentitySecret,
        listen: Vec<Multiaddr>,
        server: RendezvousServerConfig,
    ) -> Result<RendezvousPoint, StartError> {
        let mut config = NetworkConfig::new(identity);
        config.listen = listen;
        config.advertise_listen_addresses = true;
        config.rendezvous_server = Some(server);
        let (network, events) = Network::start(config).await?;
        let addresses = network.listen_addresses().await;
        let drain = tokio::spawn(drain(events));
        Ok(RendezvousPoint {
            network,
            addresses,
            drain,
        })
    }

    /// The point's [`PeerId`].
    pub fn peer_id(&self) -> PeerId {
        self.network.local_peer_id()
    }

    /// The addresses it listens on, each ending in `/p2p/<peer id>`, ready to hand to
    /// [`Network::dial`].
    pub fn addresses(&self) -> Vec<Multiaddr> {
        let peer = self.peer_id();
        self.addresses
            .iter()
            .map(|a| a.clone().with(libp2p::multiaddr::Protocol::P2p(peer)))
            .collect()
    }

    /// Stops the point.
    pub async fn shutdown(self) {
        self.network.shutdown().await;
        self.drain.abort();
    }
}

impl Drop for RendezvousPoint {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

async fn drain(mut events: mpsc::Receiver<NetworkEvent>) {
    while let Some(event) = events.recv().await {
        if let NetworkEvent::InboundRequest(request) = event {
            let _ = request
                .responder
                .refuse("this node is a rendezvous point")
                .await;
        }
    }
}
