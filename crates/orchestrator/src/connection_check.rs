//! The connection test behind `confiaro check` and the app's Settings: are the chain sources
//! and `monero-wallet-rpc` of an [`EngineConfig`] usable, before anything relies on them?
//!
//! Each part is tried once, with short timeouts, and reports what it found or what is wrong:
//! - the Bitcoin source: its genesis block (a source serving another network is refused by
//!   name), its tip, and whether this machine's clock is in step with the tip's median time
//!   past ([`crate::chain_clock`]);
//! - the Monero node: its network (`nettype`), its height, and whether it has synced;
//! - `monero-wallet-rpc`: where the engine would find it, and the version it prints.
//!
//! A source the engine reaches through Tor is dialled through Tor's local proxy when the
//! caller has one (a running engine's, [`crate::Engine::tor_proxy`]); without one it is
//! not dialled at all, since dialling it directly would show this machine's address to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use confiaro_monero::rpc::{DaemonClient, RpcConfig};
use confiaro_protocol::Network;

use crate::chain_clock::{bitcoin_verdict_now, monero_verdict};
use crate::config::{new_source, EngineConfig};

/// How long the Monero node has to answer the test.
const MONERO_TIMEOUT: Duration = Duration::from_secs(10);

/// One part's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked<T> {
    /// It works: what was found.
    Ok(T),
    /// It does not: what is wrong and, where known, what to do.
    Failed(String),
    /// It was not tried, and why (a source reached through Tor with no Tor running).
    Skipped(String),
}

impl<T> Checked<T> {
    /// Whether the part works or was rightly left untried.
    pub fn passed(&self) -> bool {
        !matches!(self, Checked::Failed(_))
    }
}

impl<T> From<Result<T, String>> for Checked<T> {
    fn from(result: Result<T, String>) -> Checked<T> {
        match result {
            Ok(found) => Checked::Ok(found),
            Err(error) => Checked::Failed(error),
        }
    }
}

/// What the Bitcoin source showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitcoinFound {
    /// The source, as it names itself (its kind and URL).
    pub source: String,
    /// Its tip's height.
    pub height: u32,
    /// Its tip's median time past (unix seconds).
    pub median_time_past: u64,
}

/// What the Monero node showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneroFound {
    /// Its URL.
    pub node: String,
    /// Its chain height.
    pub height: u64,
}

/// The `monero-wallet-rpc` the engine would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletRpcFound {
    /// Where it is.
    pub path: PathBuf,
    /// The version it prints, e.g. `v0.18.3.4-release`.
    pub version: String,
}

/// The outcome of [`check_connections`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    /// The network the parts were checked for.
    pub network: Network,
    /// The Bitcoin chain source.
    pub bitcoin: Checked<BitcoinFound>,
    /// The Monero node.
    pub monero: Checked<MoneroFound>,
    /// `monero-wallet-rpc`.
    pub wallet_rpc: Checked<WalletRpcFound>,
}

impl ConnectionReport {
    /// Whether no part failed.
    pub fn passed(&self) -> bool {
        self.bitcoin.passed() && self.monero.passed() && self.wallet_rpc.passed()
    }
}

/// Why a source reached through Tor was not tried.
const TOR_NOT_RUNNING: &str = "reached through Tor, which is not running here, so not dialled \
                               (dialling it directly would show this computer's address)";

/// Tests the chain sources and `monero-wallet-rpc` of `config` (see the module docs).
/// `tor_proxy` is Tor's local SOCKS proxy, through which the sources `config` sends over Tor
/// are dialled; `None` leaves them untried. Never fails as a whole: each part says its own
/// outcome. Takes at most some 40 s (a source's and the node's timeouts).
pub async fn check_connections(
    config: &EngineConfig,
    tor_proxy: Option<SocketAddr>,
) -> ConnectionReport {
    let network = config.network;
    let route = |url: &str| -> Result<Option<SocketAddr>, ()> {
        match &config.p2p.tor {
            Some(tor) if tor.carries(url) => tor_proxy.map(Some).ok_or(()),
            _ => Ok(None),
        }
    };

    let bitcoin = match route(config.bitcoin.url()) {
        Err(()) => Checked::Skipped(TOR_NOT_RUNNING.into()),
        Ok(proxy) => {
            let source_config = config.bitcoin.clone();
            tokio::task::spawn_blocking(move || check_bitcoin(network, &source_config, proxy))
                .await
                .unwrap_or_else(|e| Err(format!("the check stopped: {e}")))
                .into()
        }
    };

    let daemon_url = config.monero.daemon_url.clone();
    let monero = match route(&daemon_url) {
        Err(()) => Checked::Skipped(TOR_NOT_RUNNING.into()),
        Ok(proxy) => check_monero(network, &daemon_url, proxy).await.into(),
    };

    let wallet_rpc = confiaro_monero::process::locate_binary(
        "monero-wallet-rpc",
        &config.monero.wallet_rpc_binary,
    )
    .await
    .map(|found| WalletRpcFound {
        path: found.path,
        version: found.version,
    })
    .map_err(|e| e.to_string())
    .into();

    ConnectionReport {
        network,
        bitcoin,
        monero,
        wallet_rpc,
    }
}

/// The Bitcoin part: the genesis block, the tip and its median time past.
fn check_bitcoin(
    network: Network,
    config: &crate::config::BitcoinSourceConfig,
    proxy: Option<SocketAddr>,
) -> Result<BitcoinFound, String> {
    let mut source = new_source(config, proxy).map_err(|e| e.to_string())?;
    let genesis = source.block_hash(0).map_err(|e| e.to_string())?;
    if genesis != bitcoin::constants::genesis_block(network.bitcoin()).block_hash() {
        let serves = Network::ALL
            .into_iter()
            .find(|n| bitcoin::constants::genesis_block(n.bitcoin()).block_hash() == genesis)
            .map_or_else(
                || "another chain".to_owned(),
                |n| format!("Bitcoin {}", n.bitcoin()),
            );
        return Err(format!(
            "{} serves {serves}, not the Bitcoin {} this wallet is on (its genesis block is \
             {genesis}): choose a source for {network}",
            source.name(),
            network.bitcoin()
        ));
    }
    let tip = source.tip().map_err(|e| e.to_string())?;
    let median = source.median_time_past(&tip).map_err(|e| e.to_string())?;
    bitcoin_verdict_now(network, median, tip.height)?;
    Ok(BitcoinFound {
        source: source.name(),
        height: tip.height,
        median_time_past: median,
    })
}

/// The `nettype` monerod reports for the Monero side of `network`.
fn monero_nettype(network: Network) -> &'static str {
    match network {
        Network::Mainnet => "mainnet",
        Network::Testnet4 | Network::Signet => "stagenet",
        Network::Regtest => "fakechain",
    }
}

/// The Monero part: the node's network, height and sync state.
async fn check_monero(
    network: Network,
    url: &str,
    proxy: Option<SocketAddr>,
) -> Result<MoneroFound, String> {
    let quick = RpcConfig {
        timeout: MONERO_TIMEOUT,
        retries: 0,
        ..RpcConfig::default()
    };
    let mut daemon = DaemonClient::new(url, quick).map_err(|e| e.to_string())?;
    if let Some(proxy) = proxy {
        daemon = daemon.through_proxy(proxy).map_err(|e| e.to_string())?;
    }
    let info = daemon.info().await.map_err(|e| e.to_string())?;
    let wanted = monero_nettype(network);
    if !info.nettype.is_empty() && info.nettype != wanted {
        return Err(format!(
            "the Monero node at {url} runs {}, but a {network} wallet needs a {wanted} node",
            info.nettype
        ));
    }
    monero_verdict(&info)?;
    Ok(MoneroFound {
        node: url.to_owned(),
        height: info.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pairing_names_the_monero_network_its_node_must_run() {
        assert_eq!(monero_nettype(Network::Signet), "stagenet");
        assert_eq!(monero_nettype(Network::Testnet4), "stagenet");
        assert_eq!(monero_nettype(Network::Mainnet), "mainnet");
        assert_eq!(monero_nettype(Network::Regtest), "fakechain");
    }

    #[test]
    fn a_failed_part_fails_the_report_but_a_skipped_one_does_not() {
        let report = |monero| ConnectionReport {
            network: Network::Signet,
            bitcoin: Checked::Ok(BitcoinFound {
                source: "x".into(),
                height: 1,
                median_time_past: 1,
            }),
            monero,
            wallet_rpc: Checked::Failed::<WalletRpcFound>("missing".into()),
        };
        assert!(!report(Checked::Skipped("tor".into())).passed());
        let fine = ConnectionReport {
            wallet_rpc: Checked::Skipped("x".into()),
            ..report(Checked::Skipped("tor".into()))
        };
        assert!(fine.passed());
        assert!(!ConnectionReport {
            monero: Checked::Failed("dead".into()),
            ..fine
        }
        .passed());
    }
}
