//! `devnet up|down|mine|fund`: the local regtest stack for testers — the Bitcoin devnet node
//! (bitcoind RPC, Electrum, Esplora), regtest monerod with a funded wallet, a rendezvous
//! point, and a demo maker — and the commands that use a running one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bitcoin::Amount;
use clap::Subcommand;
use confiaro_demo::{
    DemoDevnet, DemoMaker, DemoSell, DevnetStep, MoneroPorts, StackConfig, StackInfo,
    DEMO_SELL_MAX, DEMO_SELL_MIN,
};
use confiaro_monero::rpc::{DaemonClient, RpcConfig, WalletClient};
use confiaro_orchestrator::{Engine, Network, Price, XmrAmount};

use crate::output::Output;
use crate::settings::{parse_btc, parse_price, parse_xmr, DEFAULT_DEVNET_DIR};
use crate::swap::{open_engine, stop_requested};
use crate::Global;

#[derive(Subcommand)]
pub(crate) enum DevnetCommand {
    /// Start the stack and a demo maker, until Ctrl-C or SIGTERM (or `devnet down`).
    Up {
        /// Where the chains and the maker live (kept across runs).
        #[arg(long, default_value = DEFAULT_DEVNET_DIR)]
        dir: PathBuf,
        /// Seconds between Bitcoin blocks, e.g. 10 or 0.5 (0: no timer; use `devnet mine`).
        #[arg(long, default_value_t = 10.0)]
        mine_every: f64,
        /// Seconds between Monero blocks (0: no timer). Keep Monero at least three times
        /// faster than Bitcoin: the XMR lock needs 10 confirmations within a few BTC blocks.
        #[arg(long, default_value_t = 2.0)]
        xmr_mine_every: f64,
        /// Do not start the demo maker.
        #[arg(long)]
        no_maker: bool,
        /// The demo maker's price in XMR per BTC.
        #[arg(long, default_value = "150", value_parser = parse_price)]
        maker_price: Price,
        /// The demo maker's smallest swap in BTC.
        #[arg(long, default_value = "0.0001", value_parser = parse_btc)]
        maker_min: Amount,
        /// The demo maker's largest swap in BTC.
        #[arg(long, default_value = "0.5", value_parser = parse_btc)]
        maker_max: Amount,
        /// The demo maker's bid in XMR per BTC, for takers selling XMR (it is funded with
        /// 1 BTC and buys XMR for 0.0001 to 0.1 BTC per swap).
        #[arg(long, default_value = "140", value_parser = parse_price)]
        maker_bid: Price,
        /// The demo maker does not buy XMR (no sell side, no BTC funding).
        #[arg(long)]
        maker_no_sell: bool,
        /// bitcoind JSON-RPC port (user/password confiaro/confiaro).
        #[arg(long, default_value_t = 18443)]
        rpc_port: u16,
        /// Electrum port.
        #[arg(long, default_value_t = 60401)]
        electrum_port: u16,
        /// Esplora port.
        #[arg(long, default_value_t = 3002)]
        esplora_port: u16,
        /// monerod RPC port.
        #[arg(long, default_value_t = 28081)]
        monerod_port: u16,
        /// The funded devnet wallet's RPC port.
        #[arg(long, default_value_t = 28083)]
        wallet_rpc_port: u16,
        /// The rendezvous point's port.
        #[arg(long, default_value_t = 7700)]
        rendezvous_port: u16,
        /// The demo maker's libp2p port.
        #[arg(long, default_value_t = 7701)]
        maker_port: u16,
    },
    /// Stop the devnet running in --devnet DIR (default ./confiaro-devnet-data).
    Down,
    /// Mine blocks now.
    Mine {
        /// Bitcoin blocks.
        #[arg(long, default_value_t = 1)]
        btc: u32,
        /// Monero blocks.
        #[arg(long, default_value_t = 0)]
        xmr: u64,
    },
    /// Pay play money to this data directory's wallets from the devnet.
    Fund {
        /// BTC to receive, e.g. 1.
        #[arg(long, value_parser = parse_btc)]
        btc: Option<Amount>,
        /// XMR to receive, e.g. 10.
        #[arg(long, value_parser = parse_xmr)]
        xmr: Option<XmrAmount>,
    },
}

pub(crate) async fn run(
    global: &Global,
    out: &Output,
    command: DevnetCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        DevnetCommand::Up {
            dir,
            mine_every,
            xmr_mine_every,
            no_maker,
            maker_price,
            maker_min,
            maker_max,
            maker_bid,
            maker_no_sell,
            rpc_port,
            electrum_port,
            esplora_port,
            monerod_port,
            wallet_rpc_port,
            rendezvous_port,
            maker_port,
        } => {
            let config = StackConfig {
                data_dir: dir.clone(),
                bitcoin_rpc_port: rpc_port,
                rpc_user: "confiaro".into(),
                rpc_password: "confiaro".into(),
                electrum_port: Some(electrum_port),
                esplora_port: Some(esplora_port),
                monero: Some(MoneroPorts {
                    daemon: monerod_port,
                    wallet: wallet_rpc_port,
                }),
                rendezvous_port: Some(rendezvous_port),
                initial_btc_blocks: 101,
            };
            let every = |s: f64| (s > 0.0).then(|| Duration::from_secs_f64(s));
            let demo_maker = (!no_maker).then_some(DemoMaker {
                port: maker_port,
                price: maker_price,
                min: maker_min,
                max: maker_max,
                sell: (!maker_no_sell).then_some(DemoSell {
                    bid: maker_bid,
                    min: DEMO_SELL_MIN,
                    max: DEMO_SELL_MAX,
                }),
            });
            let devnet = DemoDevnet::start(
                config,
                every(mine_every),
                every(xmr_mine_every),
                demo_maker,
                |step: DevnetStep| out.info(&format!("{step} ({})", dir.display())),
            )
            .await
            .context("starting the devnet")?;
            let info = devnet.info().clone();
            let maker = devnet.maker();
            let maker_addresses: Vec<String> = match &maker {
                Some(engine) => engine
                    .listen_addresses()
                    .await
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                None => Vec::new(),
            };
            out.result(
                &serde_json::json!({"ready": true, "devnet": info, "maker": maker_addresses}),
                &format!(
                    "devnet ready\n  bitcoind rpc {} (user {}, password {})\n  electrum {}\n  esplora {}\n  monerod {}\n  rendezvous {}\n  demo maker {}\n\
                     try, in another terminal:\n  confiaro --data-dir ./my-wallet init\n  confiaro --data-dir ./my-wallet devnet fund --btc 1\n  confiaro --data-dir ./my-wallet swap buy-xmr --btc 0.01\n\
                     (Ctrl-C stops the devnet)",
                    info.bitcoin_rpc_url,
                    info.rpc_user,
                    info.rpc_password,
                    info.electrum_url.as_deref().unwrap_or("-"),
                    info.esplora_url.as_deref().unwrap_or("-"),
                    info.monerod_url.as_deref().unwrap_or("-"),
                    info.rendezvous.as_deref().unwrap_or("-"),
                    maker_addresses.first().map(String::as_str).unwrap_or("(none)"),
                ),
            );
            let printer =
                maker.map(|engine| crate::swap::print_events(engine, out, None, "maker "));
            stop_requested().await;
            out.info("stopping the devnet");
            if let Some(p) = printer {
                p.abort();
            }
            devnet.stop().await;
            out.result(&serde_json::json!({"stopped": true}), "devnet stopped");
            Ok(ExitCode::SUCCESS)
        }
        DevnetCommand::Down => {
            let info = running(global)?;
            let dir = devnet_dir(global);
            let pid = libc::pid_t::try_from(info.pid).context("bad pid in devnet.json")?;
            // SAFETY: kill(2) with a pid read from the devnet's own state file; no memory involved.
            if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
                bail!(
                    "the devnet (pid {pid}) is not running; remove {} if it is stale",
                    StackInfo::path(&dir).display()
                );
            }
            for _ in 0..600 {
                if !StackInfo::path(&dir).exists() {
                    out.result(&serde_json::json!({"stopped": true}), "devnet stopped");
                    return Ok(ExitCode::SUCCESS);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            bail!("the devnet (pid {pid}) did not stop within a minute")
        }
        DevnetCommand::Mine { btc, xmr } => {
            let info = running(global)?;
            if btc > 0 {
                bitcoind(
                    &info,
                    "generatetoaddress",
                    serde_json::json!([btc, info.mining_address]),
                )
                .await?;
            }
            if xmr > 0 {
                let (daemon, wallet) = monero_clients(&info)?;
                let to = wallet.address().await?;
                daemon.generate_blocks(xmr, &to).await?;
            }
            out.result(
                &serde_json::json!({"mined_btc": btc, "mined_xmr": xmr}),
                &format!("mined {btc} BTC and {xmr} XMR blocks"),
            );
            Ok(ExitCode::SUCCESS)
        }
        DevnetCommand::Fund { btc, xmr } => {
            if btc.is_none() && xmr.is_none() {
                bail!("say what to receive: --btc AMOUNT and/or --xmr AMOUNT");
            }
            let info = running(global)?;
            let engine = open_engine(global, out).await?;
            let result = fund(&info, &engine, btc, xmr, out).await;
            engine.shutdown().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn devnet_dir(global: &Global) -> PathBuf {
    global
        .devnet
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DEVNET_DIR))
}

fn running(global: &Global) -> anyhow::Result<StackInfo> {
    if global.network != Network::Regtest {
        bail!("the devnet is regtest only");
    }
    let dir = devnet_dir(global);
    StackInfo::load(&dir).with_context(|| {
        format!(
            "no devnet runs in {} (start one with `confiaro devnet up --dir {}`)",
            dir.display(),
            dir.display()
        )
    })
}

fn monero_clients(info: &StackInfo) -> anyhow::Result<(DaemonClient, WalletClient)> {
    let daemon = DaemonClient::new(
        info.monerod_url
            .as_deref()
            .context("the devnet runs without Monero")?,
        RpcConfig::default(),
    )?;
    let wallet = WalletClient::new(
        info.monero_wallet_rpc_url
            .as_deref()
            .context("the devnet runs without Monero")?,
        RpcConfig::default(),
    )?;
    Ok((daemon, wallet))
}

/// One bitcoind JSON-RPC call on the devnet.
async fn bitcoind(
    info: &StackInfo,
    method: &str,
    params: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let answer: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .post(&info.bitcoin_rpc_url)
        .basic_auth(&info.rpc_user, Some(&info.rpc_password))
        .json(&serde_json::json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .with_context(|| format!("the devnet's bitcoind at {}", info.bitcoin_rpc_url))?
        .json()
        .await
        .context("the devnet's bitcoind answered nonsense")?;
    if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
        bail!("{method}: {error}");
    }
    Ok(answer["result"].clone())
}

async fn fund(
    info: &StackInfo,
    engine: &Engine,
    btc: Option<Amount>,
    xmr: Option<XmrAmount>,
    out: &Output,
) -> anyhow::Result<()> {
    if let Some(amount) = btc {
        let address = engine.btc_address().await?;
        let txid = bitcoind(
            info,
            "sendtoaddress",
            serde_json::json!([address.to_string(), amount.to_btc()]),
        )
        .await?;
        bitcoind(
            info,
            "generatetoaddress",
            serde_json::json!([1, info.mining_address]),
        )
        .await?;
        out.result(
            &serde_json::json!({"funded_btc_sat": amount.to_sat(), "address": address.to_string(), "txid": txid}),
            &format!("sent {amount} to {address} ({txid}), mined a block"),
        );
    }
    if let Some(amount) = xmr {
        let (daemon, wallet) = monero_clients(info)?;
        let address = engine.xmr_address();
        let sent = wallet.transfer(&address, amount).await?;
        let to = wallet.address().await?;
        daemon.generate_blocks(10, &to).await?;
        out.result(
            &serde_json::json!({"funded_xmr_piconero": amount.as_piconero(), "address": address.to_string(), "tx_hash": sent.tx_hash}),
            &format!("sent {amount} to {address}, mined 10 blocks so it unlocks"),
        );
    }
    Ok(())
}
