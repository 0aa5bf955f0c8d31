//! Confiaro's Tor: an embedded Tor client (arti) that a user installs nothing for, on the
//! public Tor network or on a private one (the tests' network on loopback); onion services,
//! so a maker is reachable without a public address; and [`TorTransport`], a libp2p transport
//! over both, so the swap protocols run over Tor unchanged.
//!
//! - [`Tor::bootstrap`] starts the client in a directory of its own (state, cache, and the
//!   onion services' keys, so a maker keeps its onion address across restarts) and reports
//!   progress while it fetches the network's directory.
//! - [`Tor::launch_onion_service`] hosts an onion service with the proof-of-work defence on:
//!   under a flood of introductions, clients that solve a puzzle come first.
//! - [`TorTransport`] dials `/onion3/…`, `/dns*/…/tcp/…` and `/ip4|ip6/…/tcp/…` addresses
//!   through Tor, and listens on the onion service it was given.
//! - [`LocalProxy`] is a loopback SOCKS4a/SOCKS5/HTTP `CONNECT` proxy into Tor, for the
//!   chain clients and monero-wallet-rpc, which open their own connections.
//!
//! Errors name their cause ([`Failure`]): no circuits, onion service not found, timed out.
//! Facts this crate relies on: `docs/2026-12-06-tor-on-arti.md`.

mod proxy;
mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arti_client::config::dir::FallbackDir;
use arti_client::config::onion_service::OnionServiceConfigBuilder;
use arti_client::config::TorClientConfigBuilder;
use arti_client::{ErrorKind, HasKind as _, TorClient};
use base64ct::Encoding as _;
use futures::StreamExt as _;
use libp2p::multiaddr::{Multiaddr, Protocol};
use safelog::DisplayRedacted as _;
use tor_cell::relaycell::msg::Connected;
use tor_hsservice::{RunningOnionService, StreamRequest};
use tor_llcrypto::pk::ed25519::Ed25519Identity;
use tor_llcrypto::pk::rsa::RsaIdentity;
use tor_rtcompat::PreferredRuntime;

pub use proxy::{LocalProxy, HANDSHAKE_TIMEOUT};
pub use transport::TorTransport;

/// A directory cache a client may bootstrap from, as a private network names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FallbackCache {
    /// The relay's RSA identity fingerprint (40 hex digits).
    pub rsa_fingerprint: String,
    /// The relay's ed25519 identity (unpadded base64).
    pub ed25519_identity: String,
    /// Its ORPort.
    pub or_address: SocketAddr,
}

/// Which Tor network to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorNetworkChoice {
    /// The public Tor network (arti's built-in authorities and fallbacks).
    Public,
    /// A private network (tests): its authorities' v3 identities and its directory caches.
    /// Relays on loopback are allowed, and loopback targets through an exit.
    Private {
        /// The v3 identities (40 hex digits) of the directory authorities.
        authorities: Vec<String>,
        /// Where to fetch the directory from first.
        fallbacks: Vec<FallbackCache>,
    },
}

/// A private Tor network as a file describes it (JSON: `authorities`, `fallbacks`), e.g. the
/// one the test kit starts: what [`TorNetworkChoice::Private`] holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrivateTorNetwork {
    /// The v3 identities (40 hex digits) of the directory authorities.
    pub authorities: Vec<String>,
    /// Where to fetch the directory from first.
    pub fallbacks: Vec<FallbackCache>,
}

impl From<PrivateTorNetwork> for TorNetworkChoice {
    fn from(network: PrivateTorNetwork) -> TorNetworkChoice {
        TorNetworkChoice::Private {
            authorities: network.authorities,
            fallbacks: network.fallbacks,
        }
    }
}

/// Where the client keeps its files and which network it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorConfig {
    /// The client's directory: `state/` (guards, onion service keys) and `cache/`
    /// (the directory). Keep it to keep a maker's onion address.
    pub dir: PathBuf,
    /// The network.
    pub network: TorNetworkChoice,
}

/// Why a Tor operation failed, as the user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No onion service is published at the address (it is down, or never existed).
    OnionNotFound,
    /// The network did not answer in time.
    TimedOut,
    /// Tor cannot build circuits (not bootstrapped, no usable relays, network unreachable).
    NoCircuits,
    /// The destination refused or closed the connection.
    Refused,
    /// Anything else.
    Other,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Failure::OnionNotFound => "onion service not found",
            Failure::TimedOut => "timed out",
            Failure::NoCircuits => "no circuits",
            Failure::Refused => "connection refused",
            Failure::Other => "failed",
        })
    }
}

impl Failure {
    fn of(error: &arti_client::Error) -> Failure {
        match error.kind() {
            ErrorKind::OnionServiceNotFound | ErrorKind::OnionServiceNotRunning => {
                Failure::OnionNotFound
            }
            ErrorKind::TorNetworkTimeout
            | ErrorKind::RemoteNetworkTimeout
            | ErrorKind::ExitTimeout => Failure::TimedOut,
            ErrorKind::BootstrapRequired
            | ErrorKind::TorAccessFailed
            | ErrorKind::NoPath
            | ErrorKind::NoExit
            | ErrorKind::TorDirectoryUnusable
            | ErrorKind::LocalNetworkError
            | ErrorKind::CircuitCollapse => Failure::NoCircuits,
            ErrorKind::RemoteConnectionRefused
            | ErrorKind::RemoteStreamClosed
            | ErrorKind::RemoteStreamReset
            | ErrorKind::ExitPolicyRejected
            | ErrorKind::OnionServiceConnectionFailed => Failure::Refused,
            _ => Failure::Other,
        }
    }
}

/// Errors of this crate. Never names a private key; an onion address is public.
#[derive(Debug, thiserror::Error)]
pub enum TorError {
    /// The configuration cannot be used.
    #[error("invalid Tor configuration: {0}")]
    Config(String),
    /// Tor failed; `failure` says why in a word.
    #[error("Tor: {failure} ({source})")]
    Tor {
        /// The cause.
        failure: Failure,
        /// arti's error.
        #[source]
        source: arti_client::Error,
    },
    /// An address this transport does not dial (or listen on).
    #[error("not an address Tor can reach: {0}")]
    Unroutable(String),
    /// The onion service could not be launched.
    #[error("onion service: {0}")]
    OnionService(String),
}

impl From<arti_client::Error> for TorError {
    fn from(source: arti_client::Error) -> TorError {
        TorError::Tor {
            failure: Failure::of(&source),
            source,
        }
    }
}

impl TorError {
    /// The cause, when Tor itself failed.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            TorError::Tor { failure, .. } => Some(*failure),
            _ => None,
        }
    }
}

/// A running Tor client. Cheap to clone.
#[derive(Clone)]
pub struct Tor {
    client: Arc<TorClient<PreferredRuntime>>,
}

impl std::fmt::Debug for Tor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tor").finish_non_exhaustive()
    }
}

/// How far the bootstrap is, for a progress bar: the fraction done (0 to 1) and what Tor is
/// doing (or what blocks it).
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapProgress {
    /// 0.0 to 1.0.
    pub fraction: f32,
    /// arti's description of the step, or of what blocks it.
    pub status: String,
}

/// Installs the TLS provider the Tor client's links use (once per process; later calls do
/// nothing).
fn install_tls_provider() {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}

fn config_of(config: &TorConfig) -> Result<arti_client::TorClientConfig, TorError> {
    let mut builder = TorClientConfigBuilder::from_directories(
        config.dir.join("state"),
        config.dir.join("cache"),
    );
    if let TorNetworkChoice::Private {
        authorities,
        fallbacks,
    } = &config.network
    {
        let network = builder.tor_network();
        let identities = authorities
            .iter()
            .map(|hex| {
                RsaIdentity::from_hex(hex)
                    .ok_or_else(|| TorError::Config(format!("{hex:?} is no authority identity")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        network.authorities().set_v3idents(identities);
        // the list starts with arti's public fallbacks: a private network must replace it,
        // or the client goes to the public network first
        network.fallback_caches().clear();
        for cache in fallbacks {
            let mut fallback = FallbackDir::builder();
            fallback.rsa_identity(RsaIdentity::from_hex(&cache.rsa_fingerprint).ok_or_else(
                || TorError::Config(format!("{:?} is no RSA identity", cache.rsa_fingerprint)),
            )?);
            let ed = base64ct::Base64Unpadded::decode_vec(&cache.ed25519_identity)
                .ok()
                .and_then(|bytes| Ed25519Identity::from_bytes(&bytes))
                .ok_or_else(|| {
                    TorError::Config(format!(
                        "{:?} is no ed25519 identity",
                        cache.ed25519_identity
                    ))
                })?;
            fallback.ed_identity(ed);
            fallback.orports().push(cache.or_address);
            network.fallback_caches().push(fallback);
        }
        // every relay of a private network may sit on one address, and targets on loopback
        builder
            .path_rules()
            .ipv4_subnet_family_prefix(33)
            .ipv6_subnet_family_prefix(129);
        builder.address_filter().allow_local_addrs(true);
    }
    builder.build().map_err(|e| TorError::Config(e.to_string()))
}

impl Tor {
    /// Starts a Tor client with `config` and waits until it can build circuits, calling
    /// `progress` on each step. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`TorError::Config`] for an unusable configuration; [`TorError::Tor`] when the
    /// bootstrap fails (its [`Failure`] names why).
    pub async fn bootstrap(
        config: &TorConfig,
        mut progress: impl FnMut(BootstrapProgress) + Send + 'static,
    ) -> Result<Tor, TorError> {
        install_tls_provider();
        let runtime = PreferredRuntime::current().map_err(|e| TorError::Config(e.to_string()))?;
        let client = TorClient::with_runtime(runtime)
            .config(config_of(config)?)
            .create_unbootstrapped()?;
        let mut events = client.bootstrap_events();
        let reporter = tokio::spawn(async move {
            while let Some(status) = events.next().await {
                let done = status.ready_for_traffic();
                progress(BootstrapProgress {
                    fraction: status.as_frac(),
                    status: status.to_string(),
                });
                if done {
                    break;
                }
            }
        });
        let booted = client.bootstrap().await;
        if booted.is_err() {
            reporter.abort();
        }
        booted?;
        Ok(Tor { client })
    }

    /// A client on the same bootstrapped state whose streams never share a circuit with
    /// this one's (or any other isolated clone's): for traffic that must not be linkable to
    /// the rest, such as another libp2p identity's.
    pub fn isolated(&self) -> Tor {
        Tor {
            client: self.client.isolated_client(),
        }
    }

    /// Opens a stream to `host:port` through Tor (`host` a name, an IP address, or an
    /// `….onion` address).
    ///
    /// # Errors
    /// [`TorError::Tor`], naming why.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> Result<arti_client::DataStream, TorError> {
        Ok(self.client.connect((host, port)).await?)
    }

    /// Hosts the onion service `nickname` (its key, hence its address, is kept in the
    /// client's state and reused at every launch), with the proof-of-work defence on, for
    /// connections to `port`. The service runs as long as the returned handle lives.
    ///
    /// # Errors
    /// [`TorError::OnionService`] when it cannot be launched.
    pub fn launch_onion_service(
        &self,
        nickname: &str,
        port: u16,
    ) -> Result<OnionService, TorError> {
        let mut builder = OnionServiceConfigBuilder::default();
        builder.nickname(
            nickname
                .parse()
                .map_err(|e| TorError::OnionService(format!("nickname {nickname:?}: {e}")))?,
        );
        builder.enable_pow(true);
        let config = builder
            .build()
            .map_err(|e| TorError::OnionService(e.to_string()))?;
        let (service, requests) = self
            .client
            .launch_onion_service(config)
            .map_err(|e| TorError::OnionService(e.to_string()))?
            .ok_or_else(|| TorError::OnionService("the service is disabled".into()))?;
        let onion = service
            .onion_address()
            .ok_or_else(|| TorError::OnionService("the service has no address yet".into()))?
            .display_unredacted()
            .to_string();
        let address = onion_multiaddr(&onion, port)?;
        let requests = tor_hsservice::handle_rend_requests(requests)
            .filter(move |request| {
                // a stream to any other port of the onion is not ours to serve
                let wanted = matches!(
                    request.request(),
                    tor_proto::stream::IncomingStreamRequest::Begin(begin) if begin.port() == port
                );
                futures::future::ready(wanted)
            })
            .boxed();
        Ok(OnionService {
            address,
            onion,
            requests: Some(requests),
            service,
        })
    }
}

/// A running onion service ([`Tor::launch_onion_service`]); stops when dropped (and when
/// the [`TorTransport`] it was given to is dropped).
pub struct OnionService {
    address: Multiaddr,
    onion: String,
    requests: Option<futures::stream::BoxStream<'static, StreamRequest>>,
    service: Arc<RunningOnionService>,
}

impl std::fmt::Debug for OnionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionService")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl OnionService {
    /// Its libp2p address: `/onion3/<address>:<port>`.
    pub fn address(&self) -> &Multiaddr {
        &self.address
    }

    /// Its `….onion` host name.
    pub fn onion(&self) -> &str {
        &self.onion
    }

    /// Serves the service by sending each of its streams on to the TCP server at `target`
    /// (a node on this machine behind an onion address), for as long as the returned task
    /// runs. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`TorError::OnionService`] if the service's streams were already taken.
    pub fn forward_to(
        mut self,
        target: SocketAddr,
    ) -> Result<tokio::task::JoinHandle<()>, TorError> {
        let mut requests = self
            .take_requests()
            .ok_or_else(|| TorError::OnionService("its streams are taken".into()))?;
        Ok(tokio::spawn(async move {
            let _service = self;
            while let Some(request) = requests.next().await {
                tokio::spawn(async move {
                    let Ok(mut stream) = request.accept(Connected::new_empty()).await else {
                        return;
                    };
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut server).await;
                });
            }
        }))
    }

    /// The incoming streams (once: the transport that listens takes them).
    fn take_requests(&mut self) -> Option<futures::stream::BoxStream<'static, StreamRequest>> {
        self.requests.take()
    }

    /// The service's handle, kept alive by whoever serves it.
    fn handle(&self) -> Arc<RunningOnionService> {
        Arc::clone(&self.service)
    }
}

/// `/onion3/<56 base32 characters>:<port>` for `onion` (`….onion`).
fn onion_multiaddr(onion: &str, port: u16) -> Result<Multiaddr, TorError> {
    let host = onion.trim_end_matches(".onion");
    format!("/onion3/{host}:{port}")
        .parse()
        .map_err(|e| TorError::OnionService(format!("{onion} as a multiaddr: {e}")))
}

/// The host and port Tor connects to for `address` (a trailing `/p2p/…` is ignored).
///
/// # Errors
/// [`TorError::Unroutable`] for any other shape.
pub fn tor_target(address: &Multiaddr) -> Result<(String, u16), TorError> {
    let unroutable = || TorError::Unroutable(address.to_string());
    let mut parts = address.iter().filter(|p| !matches!(p, Protocol::P2p(_)));
    let first = parts.next().ok_or_else(unroutable)?;
    let target = match first {
        Protocol::Onion3(onion) => {
            let text = Protocol::Onion3(onion.clone()).to_string();
            let host = text
                .trim_start_matches("/onion3/")
                .split(':')
                .next()
                .ok_or_else(unroutable)?
                .to_owned();
            (format!("{host}.onion"), onion.port())
        }
        host @ (Protocol::Ip4(_)
        | Protocol::Ip6(_)
        | Protocol::Dns(_)
        | Protocol::Dns4(_)
        | Protocol::Dns6(_)) => {
            let Some(Protocol::Tcp(port)) = parts.next() else {
                return Err(unroutable());
            };
            let host = match host {
                Protocol::Ip4(ip) => ip.to_string(),
                Protocol::Ip6(ip) => ip.to_string(),
                Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name) => {
                    name.to_string()
                }
                _ => unreachable!("matched above"),
            };
            (host, port)
        }
        _ => return Err(unroutable()),
    };
    if parts.next().is_some() {
        return Err(unroutable());
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_the_host_and_port_tor_connects_to() {
        let onion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd";
        let cases = [
            (
                format!("/onion3/{onion}:1234"),
                (format!("{onion}.onion"), 1234),
            ),
            (
                format!(
                    "/onion3/{onion}:80/p2p/12D3KooWGRUVh4Ux3Ut1qo6GEQhFgCVfP4Hn3iwGp3E6DtmDV8Jk"
                ),
                (format!("{onion}.onion"), 80),
            ),
            ("/ip4/127.0.0.1/tcp/9000".into(), ("127.0.0.1".into(), 9000)),
            ("/ip6/::1/tcp/9000".into(), ("::1".into(), 9000)),
            (
                "/dns/maker.example.org/tcp/443".into(),
                ("maker.example.org".into(), 443),
            ),
        ];
        for (text, expected) in cases {
            let address: Multiaddr = text.parse().expect("a multiaddr");
            assert_eq!(tor_target(&address).expect(&text), expected, "{text}");
        }
        for text in [
            "/ip4/127.0.0.1/udp/9000",
            "/ip4/127.0.0.1",
            "/ip4/1.2.3.4/tcp/1/ws",
        ] {
            let address: Multiaddr = text.parse().expect("a multiaddr");
            assert!(
                matches!(tor_target(&address), Err(TorError::Unroutable(_))),
                "{text}"
            );
        }
        assert_eq!(
            onion_multiaddr(&format!("{onion}.onion"), 1234)
                .expect("an onion")
                .to_string(),
            format!("/onion3/{onion}:1234")
        );
    }
}
