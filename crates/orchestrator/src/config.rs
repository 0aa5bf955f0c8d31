//! What an [`Engine`](crate::Engine) needs to know to start: where its data lives, which
//! network it swaps on, how it reaches Bitcoin, Monero and its peers. (How a maker quotes is
//! in [`crate::maker`].)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use confiaro_bitcoin::{
    BitcoindAuth, BitcoindSource, ChainSource, ElectrumSource, EsploraSource, SourceError, TlsTrust,
};
use confiaro_p2p::Multiaddr;
use confiaro_protocol::Network;
pub use confiaro_tor::{FallbackCache, PrivateTorNetwork, TorNetworkChoice};

/// Where the engine reads the Bitcoin chain and broadcasts.
#[derive(Debug, Clone)]
pub enum BitcoinSourceConfig {
    /// bitcoind's JSON-RPC (Bitcoin Core with `-txindex=1`, or the devnet node).
    Bitcoind {
        /// e.g. `http://127.0.0.1:18443`.
        url: String,
        /// User and password, or the cookie file.
        auth: BitcoindAuth,
    },
    /// An Electrum server, `tcp://host:port` or `ssl://host:port`.
    Electrum {
        /// The server's URL.
        url: String,
        /// The CAs an `ssl://` server's certificate must chain to.
        tls: TlsTrust,
    },
    /// An Esplora REST server, `http://host[:port][/path]` or `https://…`.
    Esplora {
        /// The server's base URL.
        url: String,
        /// The CAs an `https://` server's certificate must chain to.
        tls: TlsTrust,
    },
}

/// How long one call to a chain source may take.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(30);

impl BitcoinSourceConfig {
    /// The source's URL.
    pub fn url(&self) -> &str {
        match self {
            BitcoinSourceConfig::Bitcoind { url, .. }
            | BitcoinSourceConfig::Electrum { url, .. }
            | BitcoinSourceConfig::Esplora { url, .. } => url,
        }
    }
}

/// A new chain source (its own connection) for `config`, through `proxy` (Tor's local
/// proxy) if given.
///
/// # Errors
/// [`SourceError::Failed`] if the URL or credentials are unusable.
pub fn new_source(
    config: &BitcoinSourceConfig,
    proxy: Option<SocketAddr>,
) -> Result<Box<dyn ChainSource>, SourceError> {
    Ok(match config {
        BitcoinSourceConfig::Bitcoind { url, auth } => {
            let source = BitcoindSource::new(url, auth.clone(), SOURCE_TIMEOUT)?;
            match proxy {
                Some(proxy) => Box::new(source.through_proxy(proxy)),
                None => Box::new(source),
            }
        }
        BitcoinSourceConfig::Electrum { url, tls } => {
            let source = ElectrumSource::with_trust(url, SOURCE_TIMEOUT, tls)?;
            match proxy {
                Some(proxy) => Box::new(source.through_proxy(proxy)),
                None => Box::new(source),
            }
        }
        BitcoinSourceConfig::Esplora { url, tls } => {
            let source = EsploraSource::with_trust(url, SOURCE_TIMEOUT, tls)?;
            match proxy {
                Some(proxy) => Box::new(source.through_proxy(proxy)?),
                None => Box::new(source),
            }
        }
    })
}

/// How the engine reaches Monero.
#[derive(Debug, Clone)]
pub struct MoneroConfig {
    /// `monerod`'s RPC, e.g. `http://127.0.0.1:28081`.
    pub daemon_url: String,
    /// The `monero-wallet-rpc` binary (a path, or a name looked up in `PATH`); the engine runs
    /// its own, one per open wallet.
    pub wallet_rpc_binary: PathBuf,
    /// A SOCKS proxy to the daemon (Tor's local proxy), for the engine and its wallet RPCs.
    /// Set by the engine when [`TorSettings::carries`] the daemon's URL; `None` otherwise.
    pub daemon_proxy: Option<SocketAddr>,
}

impl MoneroConfig {
    /// `monero-wallet-rpc` from `PATH` against `daemon_url`.
    pub fn new(daemon_url: impl Into<String>) -> MoneroConfig {
        MoneroConfig {
            daemon_url: daemon_url.into(),
            wallet_rpc_binary: PathBuf::from("monero-wallet-rpc"),
            daemon_proxy: None,
        }
    }
}

/// How the engine meets peers.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. Makers must listen; takers
    /// listen so that makers can reach them back.
    pub listen: Vec<Multiaddr>,
    /// Rendezvous points (with their `/p2p/<peer id>`), where makers register and takers
    /// discover them.
    pub rendezvous: Vec<Multiaddr>,
    /// Treat the listen addresses as reachable by others (right on loopback and the devnet;
    /// on the internet, leave it off and announce the real address).
    pub advertise_listen_addresses: bool,
    /// `Some`: every peer connection goes through Tor, and the node has no TCP of its own
    /// (`listen` must then be empty: a maker listens on its onion service instead).
    pub tor: Option<TorSettings>,
}

/// Traffic over Tor: which Tor network, whether to serve an onion service, whether the chain
/// sources are reached through Tor too. The Tor client keeps its state (guards, the onion
/// service's key, so its address) in the data directory's `tor/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorSettings {
    /// The public Tor network, or a private one (tests, a local test network).
    pub network: TorNetworkChoice,
    /// Reach the chain sources (the Bitcoin source, the Monero daemon, by the engine and by
    /// its wallet RPC) through Tor too, so that no server learns which addresses and
    /// transactions this IP address watches. See [`TorSettings::carries`] for which ones.
    pub chain_traffic: bool,
    /// A maker's onion service: the port it serves on its onion address; `None` for a node
    /// that only dials (a taker).
    pub onion_port: Option<u16>,
}

impl TorSettings {
    /// Whether the chain traffic to `url` goes through Tor: with
    /// [`chain_traffic`](Self::chain_traffic) on, every host on the public network but this
    /// machine's and its LAN's (an exit cannot reach them, and they are the user's own
    /// nodes); on a private network every host, loopback included (its relays run on this
    /// machine, so its exits reach loopback: how the tests show the routing).
    pub fn carries(&self, url: &str) -> bool {
        self.chain_traffic
            && match self.network {
                TorNetworkChoice::Private { .. } => true,
                TorNetworkChoice::Public => !is_local_host(host_of(url)),
            }
    }
}

/// The host of `url` (`scheme://host:port/path`, `host:port`, `[v6]:port`).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => rest.split([':', '/']).next().unwrap_or(""),
    }
}

/// Whether `host` is this machine or its LAN: `localhost`, `*.local`, a loopback, private,
/// link-local or unique-local address.
fn is_local_host(host: &str) -> bool {
    use std::net::IpAddr;
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".local") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unicast_link_local()
                || ip.is_unique_local()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private())
        }
        Err(_) => false,
    }
}

impl Default for P2pConfig {
    /// Listen on a free loopback port, no rendezvous point, advertise, no Tor (regtest
    /// defaults).
    fn default() -> Self {
        P2pConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0"
                .parse()
                .expect("a valid literal multiaddr")],
            rendezvous: Vec::new(),
            advertise_listen_addresses: true,
            tor: None,
        }
    }
}

/// Everything [`Engine::open`](crate::Engine::open) needs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data directory (created if missing): the store, the Monero wallet files, logs.
    pub data_dir: PathBuf,
    /// The network pair to swap on.
    pub network: Network,
    /// The Bitcoin chain source.
    pub bitcoin: BitcoinSourceConfig,
    /// The Monero daemon and wallet RPC.
    pub monero: MoneroConfig,
    /// Peers.
    pub p2p: P2pConfig,
    /// How often the chains are polled (blocks, mempool, XMR transfers).
    pub poll_interval: Duration,
    /// The store's database: `None` is SQLite in the data directory ([`Self::store`]);
    /// `Some(url)` a `postgres://…` (or `sqlite://…`) URL, e.g. a maker's PostgreSQL server.
    pub store_url: Option<String>,
}

impl EngineConfig {
    /// A config for `network` with defaults for everything but the data directory and the
    /// chain endpoints: default p2p settings, and a poll every 250 ms on regtest, every 5 s
    /// elsewhere.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        network: Network,
        bitcoin: BitcoinSourceConfig,
        monero: MoneroConfig,
    ) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            network,
            bitcoin,
            monero,
            p2p: P2pConfig::default(),
            poll_interval: match network {
                Network::Regtest => Duration::from_millis(250),
                _ => Duration::from_secs(5),
            },
            store_url: None,
        }
    }

    /// Where this config's store is.
    pub fn store(&self) -> StoreLocation {
        StoreLocation {
            data_dir: self.data_dir.clone(),
            url: self.store_url.clone(),
        }
    }
}

/// Where a data directory's store is: SQLite in the directory, or a database server. Enough
/// to check a password or list swaps ([`crate::LocalData`]) without any chain endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// The data directory.
    pub data_dir: PathBuf,
    /// A `postgres://…` (or `sqlite://…`) URL; `None`: SQLite at [`Self::sqlite_path`].
    pub url: Option<String>,
}

impl StoreLocation {
    /// The store of `data_dir` in SQLite, the default.
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> StoreLocation {
        StoreLocation {
            data_dir: data_dir.into(),
            url: None,
        }
    }

    /// The SQLite database file, when no [`Self::url`] is set.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("confiaro.sqlite")
    }

    /// Whether the store may hold a wallet already: its SQLite file exists, or it is elsewhere
    /// (a database server, which only opening can tell).
    pub fn may_exist(&self) -> bool {
        self.url.is_some() || self.sqlite_path().exists()
    }

    /// Opens (creating and migrating as needed) the store: [`Self::url`] when set, otherwise
    /// SQLite at [`Self::sqlite_path`].
    ///
    /// # Errors
    /// Store errors (an unreachable server, a bad URL — never echoing its password).
    pub async fn open(&self) -> Result<confiaro_store::Store, confiaro_store::StoreError> {
        match &self.url {
            Some(url) => confiaro_store::Store::connect(url).await,
            None => confiaro_store::Store::open(self.sqlite_path()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tor(network: TorNetworkChoice, chain_traffic: bool) -> TorSettings {
        TorSettings {
            network,
            onion_port: None,
            chain_traffic,
        }
    }

    #[test]
    fn on_the_public_network_only_remote_chain_sources_go_through_tor() {
        let public = tor(TorNetworkChoice::Public, true);
        for remote in [
            "ssl://electrum.blockstream.info:50002",
            "https://mempool.space/api",
            "http://node.xmr.example:18081",
            "http://8.8.8.8:8332",
            "tcp://[2001:db8::1]:50001",
            "xmrnode.onion:18089",
        ] {
            assert!(public.carries(remote), "{remote} goes through Tor");
        }
        for local in [
            "http://127.0.0.1:18443",
            "http://localhost:18081",
            "tcp://192.168.1.20:50001",
            "http://10.0.0.2:3002",
            "http://[::1]:18081",
            "http://[fd00::5]:18081",
            "http://umbrel.local:3002",
            "169.254.1.1:8332",
        ] {
            assert!(!public.carries(local), "{local} is the user's own node");
        }
        let off = tor(TorNetworkChoice::Public, false);
        assert!(!off.carries("https://mempool.space/api"), "--tor-chain off");
    }

    #[test]
    fn on_a_private_network_loopback_goes_through_tor_too() {
        let private = tor(
            TorNetworkChoice::Private {
                authorities: Vec::new(),
                fallbacks: Vec::new(),
            },
            true,
        );
        assert!(private.carries("http://127.0.0.1:18443"));
        assert!(private.carries("tcp://localhost:50001"));
    }
}
