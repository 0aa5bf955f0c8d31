//! From command-line options to an engine config: the data directory, the chain endpoints
//! (flags, or a running devnet's `devnet.json`), the password, value parsers and logging.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context as _};
use bitcoin::{Amount, Denomination};
use confiaro_orchestrator::config::P2pConfig;
use confiaro_orchestrator::{
    BitcoinSourceConfig, BitcoindAuth, EngineConfig, MoneroConfig, Network, Price,
    PrivateTorNetwork, TlsTrust, TorNetworkChoice, TorSettings, XmrAmount,
};

use crate::Global;

/// Where `devnet up` keeps its data unless told otherwise (the same as scripts/run.sh).
#[cfg(feature = "devnet")]
pub(crate) const DEFAULT_DEVNET_DIR: &str = "confiaro-devnet-data";

pub(crate) fn parse_network(text: &str) -> Result<Network, String> {
    text.parse()
        .map_err(|e: confiaro_orchestrator::UnknownNetwork| e.to_string())
}

/// An amount of BTC in decimal (`0.01`), exactly.
pub(crate) fn parse_btc(text: &str) -> Result<Amount, String> {
    Amount::from_str_in(
        text.trim().trim_end_matches("BTC").trim(),
        Denomination::Bitcoin,
    )
    .map_err(|e| format!("{text:?} is not a BTC amount: {e}"))
}

/// An amount of XMR in decimal (`1.5`), exactly.
pub(crate) fn parse_xmr(text: &str) -> Result<XmrAmount, String> {
    XmrAmount::from_str(text).map_err(|e| e.to_string())
}

/// A price in XMR per BTC (`150.5`), as piconero per BTC.
pub(crate) fn parse_price(text: &str) -> Result<Price, String> {
    let per_btc = parse_xmr(text)?;
    if per_btc == XmrAmount::ZERO {
        return Err("the price must be above zero".into());
    }
    Ok(Price(per_btc.as_piconero()))
}

pub(crate) fn init_logging(global: &Global) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONFIARO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!global.json)
        .try_init();
}

/// The data directory: `--data-dir`, or `~/.confiaro/<network>`.
pub(crate) fn data_dir(global: &Global) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.data_dir {
        return Ok(dir.clone());
    }
    let home = std::env::var_os("HOME").context("no --data-dir and no HOME to put one in")?;
    Ok(Path::new(&home)
        .join(".confiaro")
        .join(global.network.name()))
}

/// The endpoints of a running devnet that the engine config falls back on.
struct DevnetEndpoints {
    bitcoin_rpc_url: String,
    rpc_user: String,
    rpc_password: String,
    monerod_url: Option<String>,
    rendezvous: Option<String>,
}

/// The devnet whose endpoints to use: `--devnet`, else on regtest `./confiaro-devnet-data` if a
/// devnet runs there.
#[cfg(feature = "devnet")]
fn devnet_info(global: &Global) -> anyhow::Result<Option<DevnetEndpoints>> {
    let dir = match &global.devnet {
        Some(dir) => dir.clone(),
        None if global.network == Network::Regtest => PathBuf::from(DEFAULT_DEVNET_DIR),
        None => return Ok(None),
    };
    if global.network != Network::Regtest {
        bail!("--devnet is for regtest only");
    }
    match confiaro_demo::StackInfo::load(&dir) {
        Ok(info) => Ok(Some(DevnetEndpoints {
            bitcoin_rpc_url: info.bitcoin_rpc_url,
            rpc_user: info.rpc_user,
            rpc_password: info.rpc_password,
            monerod_url: info.monerod_url,
            rendezvous: info.rendezvous,
        })),
        Err(_) if global.devnet.is_none() => Ok(None),
        Err(e) => Err(e).with_context(|| {
            format!(
                "no running devnet in {} (start one with `confiaro devnet up --dir {}`)",
                dir.display(),
                dir.display()
            )
        }),
    }
}

/// No devnet: this build has none (the `devnet` feature).
#[cfg(not(feature = "devnet"))]
fn devnet_info(_global: &Global) -> anyhow::Result<Option<DevnetEndpoints>> {
    Ok(None)
}

/// The engine config from the options (and a devnet's endpoints where flags are missing).
pub(crate) fn engine_config(global: &Global) -> anyhow::Result<EngineConfig> {
    let devnet = devnet_info(global)?;
    let tls = match &global.chain_ca {
        Some(file) => TlsTrust::CaFile(
            std::path::absolute(file).with_context(|| format!("the CA file {}", file.display()))?,
        ),
        None => TlsTrust::System,
    };
    let bitcoin = if let Some(url) = &global.electrum {
        BitcoinSourceConfig::Electrum {
            url: url.clone(),
            tls,
        }
    } else if let Some(url) = &global.esplora {
        BitcoinSourceConfig::Esplora {
            url: url.clone(),
            tls,
        }
    } else {
        let url = global
            .bitcoind_url
            .clone()
            .or_else(|| devnet.as_ref().map(|d| d.bitcoin_rpc_url.clone()))
            .context(
                "no Bitcoin node: pass --bitcoind-url (or --electrum / --esplora), or run a devnet (`confiaro devnet up`)",
            )?;
        let auth = match (&global.bitcoind_cookie, &global.bitcoind_user, &devnet) {
            (Some(cookie), _, _) => BitcoindAuth::Cookie(cookie.clone()),
            (None, Some(user), _) => BitcoindAuth::UserPass {
                user: user.clone(),
                password: global.bitcoind_password.clone().unwrap_or_default(),
            },
            (None, None, Some(d)) => BitcoindAuth::UserPass {
                user: d.rpc_user.clone(),
                password: d.rpc_password.clone(),
            },
            (None, None, None) => {
                bail!("bitcoind needs --bitcoind-user/--bitcoind-password or --bitcoind-cookie")
            }
        };
        BitcoinSourceConfig::Bitcoind { url, auth }
    };
    let monerod = global
        .monerod_url
        .clone()
        .or_else(|| devnet.as_ref().and_then(|d| d.monerod_url.clone()))
        .context("no Monero node: pass --monerod-url, or run a devnet (`confiaro devnet up`)")?;
    let mut monero = MoneroConfig::new(monerod);
    monero.wallet_rpc_binary = global.monero_wallet_rpc.clone();
    let mut config = EngineConfig::new(data_dir(global)?, global.network, bitcoin, monero);
    let mut p2p = P2pConfig::default();
    if !global.listen.is_empty() {
        p2p.listen = global.listen.clone();
    }
    p2p.advertise_listen_addresses = global.network == Network::Regtest;
    p2p.tor = tor_settings(global)?;
    if p2p.tor.is_some() {
        if !global.listen.is_empty() {
            bail!("--listen is a clear TCP address, and Tor is on: over Tor a maker serves an onion service instead (pass --tor off to listen on TCP)");
        }
        p2p.listen.clear();
        // an onion address is reachable by anyone who knows it: register it
        p2p.advertise_listen_addresses = true;
    }
    p2p.rendezvous = global.rendezvous.clone();
    if p2p.rendezvous.is_empty() {
        if let Some(point) = devnet.as_ref().and_then(|d| d.rendezvous.as_deref()) {
            p2p.rendezvous
                .push(point.parse().context("the devnet's rendezvous address")?);
        }
    }
    config.p2p = p2p;
    config.store_url = global.store_url.clone();
    Ok(config)
}

/// Parses `on` or `off`.
pub(crate) fn parse_switch(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("{other:?}: expected on or off")),
    }
}

/// Tor, from `--tor`, `--tor-network` and `--tor-chain`: on by default off regtest (and
/// whenever a private Tor network is given), off on regtest; chain traffic through it
/// unless `--tor-chain off`. A taker's settings: a maker adds its onion port.
fn tor_settings(global: &Global) -> anyhow::Result<Option<TorSettings>> {
    let on = global
        .tor
        .unwrap_or(global.network != Network::Regtest || global.tor_network.is_some());
    if !on {
        return Ok(None);
    }
    let network = match &global.tor_network {
        None => TorNetworkChoice::Public,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the Tor network file {}", path.display()))?;
            serde_json::from_str::<PrivateTorNetwork>(&text)
                .with_context(|| format!("the Tor network file {}", path.display()))?
                .into()
        }
    };
    Ok(Some(TorSettings {
        network,
        onion_port: None,
        chain_traffic: global.tor_chain.unwrap_or(true),
    }))
}

/// The wallet password: `--password-file`, `CONFIARO_PASSWORD`, or a prompt (twice when
/// `confirm`).
pub(crate) fn password(global: &Global, confirm: bool) -> anyhow::Result<String> {
    if let Some(file) = &global.password_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the password file {}", file.display()))?;
        return Ok(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    if let Ok(password) = std::env::var("CONFIARO_PASSWORD") {
        return Ok(password);
    }
    let password = rpassword::prompt_password("wallet password: ")
        .context("no password: pass --password-file or set CONFIARO_PASSWORD")?;
    if confirm {
        let again = rpassword::prompt_password("the same password again: ")?;
        if again != password {
            bail!("the passwords differ");
        }
    }
    Ok(password)
}
