//! [`TorTransport`]: libp2p connections over Tor streams. Dialling opens a stream through
//! Tor to the address's host and port; listening serves the onion service the transport was
//! given. Noise and yamux go on top as on TCP, so peers authenticate each other by their
//! libp2p keys whatever Tor says.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use arti_client::DataStream;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use libp2p::core::transport::{DialOpts, ListenerId, Transport, TransportError, TransportEvent};
use libp2p::multiaddr::{Multiaddr, Protocol};
use tor_cell::relaycell::msg::Connected;
use tor_hsservice::{RunningOnionService, StreamRequest};

use crate::{tor_target, OnionService, Tor, TorError};

/// A libp2p transport over Tor (see the module docs).
pub struct TorTransport {
    tor: Tor,
    service: Option<OnionService>,
    listener: Option<Listener>,
    waker: Option<Waker>,
}

struct Listener {
    id: ListenerId,
    address: Multiaddr,
    requests: BoxStream<'static, StreamRequest>,
    announced: bool,
    _service: Arc<RunningOnionService>,
}

impl TorTransport {
    /// A transport that dials through `tor` and listens nowhere (a taker).
    pub fn new(tor: Tor) -> TorTransport {
        TorTransport {
            tor,
            service: None,
            listener: None,
            waker: None,
        }
    }

    /// A transport that dials through `tor` and can listen on `service`'s address (a maker:
    /// `listen_on` that address).
    pub fn with_onion_service(tor: Tor, service: OnionService) -> TorTransport {
        TorTransport {
            service: Some(service),
            ..TorTransport::new(tor)
        }
    }
}

/// `address` without a trailing `/p2p/…`.
fn without_peer(address: &Multiaddr) -> Multiaddr {
    address
        .iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}

impl Transport for TorTransport {
    type Output = DataStream;
    type Error = TorError;
    type ListenerUpgrade = BoxFuture<'static, Result<DataStream, TorError>>;
    type Dial = BoxFuture<'static, Result<DataStream, TorError>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        address: Multiaddr,
    ) -> Result<(), TransportError<TorError>> {
        let Some(service) = self.service.as_mut() else {
            return Err(TransportError::MultiaddrNotSupported(address));
        };
        if without_peer(&address) != *service.address() {
            return Err(TransportError::MultiaddrNotSupported(address));
        }
        let requests = service.take_requests().ok_or_else(|| {
            TransportError::Other(TorError::OnionService(
                "the onion service is listened on already".into(),
            ))
        })?;
        self.listener = Some(Listener {
            id,
            address: service.address().clone(),
            requests,
            announced: false,
            _service: service.handle(),
        });
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        if self.listener.as_ref().is_some_and(|l| l.id == id) {
            self.listener = None;
            return true;
        }
        false
    }

    fn dial(
        &mut self,
        address: Multiaddr,
        _opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<TorError>> {
        let (host, port) =
            tor_target(&address).map_err(|_| TransportError::MultiaddrNotSupported(address))?;
        let tor = self.tor.clone();
        Ok(async move { tor.connect(&host, port).await }.boxed())
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, TorError>> {
        let this = self.get_mut();
        let Some(listener) = this.listener.as_mut() else {
            this.waker = Some(cx.waker().clone());
            return Poll::Pending;
        };
        if !listener.announced {
            listener.announced = true;
            return Poll::Ready(TransportEvent::NewAddress {
                listener_id: listener.id,
                listen_addr: listener.address.clone(),
            });
        }
        match listener.requests.poll_next_unpin(cx) {
            Poll::Ready(Some(request)) => {
                let upgrade = async move {
                    request
                        .accept(Connected::new_empty())
                        .await
                        .map_err(|e| TorError::OnionService(format!("accepting a stream: {e}")))
                }
                .boxed();
                Poll::Ready(TransportEvent::Incoming {
                    listener_id: listener.id,
                    upgrade,
                    local_addr: listener.address.clone(),
                    // a client of an onion service has no address
                    send_back_addr: listener.address.clone(),
                })
            }
            Poll::Ready(None) => {
                let listener_id = listener.id;
                this.listener = None;
                Poll::Ready(TransportEvent::ListenerClosed {
                    listener_id,
                    reason: Err(TorError::OnionService("the onion service stopped".into())),
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
