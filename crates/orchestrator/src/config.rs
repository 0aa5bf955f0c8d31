//! What an [`Engine`](crate::Engine) needs to know to start: where its data lives, which
//! network it swaps on, how it reaches Bitcoin, Monero and its peers. (How a maker quotes is
//! in [`crate::maker`].)

use std::path::PathBuf;
use std::time::Duration;

use confiaro_bitcoin::{
    BitcoindAuth, BitcoindSource, ChainSource, ElectrumSource, EsploraSource, SourceError,
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
    /// An Electrum server, `tcp://host:port`.
    Electrum {
        /// The server's URL.
        url: String,
    },
    /// An Esplora REST server, `http://host[:port][/path]`.
    Esplora {
        /// The server's base URL.
        url: String,
    },
}

/// How long one call to a chain source may take.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(30);

/// A new chain source (its own connection) for `config`.
///
/// # Errors
/// [`SourceError::Failed`] if the URL or credentials are unusable.
pub fn new_source(config: &BitcoinSourceConfig) -> Result<Box<dyn ChainSource>, SourceError> {
    Ok(match config {
        BitcoinSourceConfig::Bitcoind { url, auth } => {
            Box::new(BitcoindSource::new(url, auth.clone(), SOURCE_TIMEOUT)?)
        }
        BitcoinSourceConfig::Electrum { url } => {
            Box::new(ElectrumSource::new(url, SOURCE_TIMEOUT)?)
        }
        BitcoinSourceConfig::Esplora { url } => Box::new(EsploraSource::new(url, SOURCE_TIMEOUT)?),
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
}

impl MoneroConfig {
    /// `monero-wallet-rpc` from `PATH` against `daemon_url`.
    pub fn new(daemon_url: impl Into<String>) -> MoneroConfig {
        MoneroConfig {
            daemon_url: daemon_url.into(),
            wallet_rpc_binary: PathBuf::from("monero-wallet-rpc"),
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

/// Peer traffic over Tor: which Tor network, and whether to serve an onion service. The Tor
/// client keeps its state (guards, the onion service's key, so its address) in the data
/// directory's `tor/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorSettings {
    /// The public Tor network, or a private one (tests, a local test network).
    pub network: TorNetworkChoice,
    /// A maker's onion service: the port it serves on its onion address; `None` for a node
    /// that only dials (a taker).
    pub onion_port: Option<u16>,
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
