//! `init` and the wallet commands (`wallet balance|address|withdraw`).

use std::io::BufRead as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use bitcoin::Amount;
use clap::Subcommand;
use confiaro_orchestrator::{Engine, Mnemonic, XmrAmount};

use crate::output::Output;
use crate::settings::{self, parse_xmr};
use crate::swap::open_engine;
use crate::Global;

#[derive(Subcommand)]
pub(crate) enum WalletCommand {
    /// Both balances (BTC in sat, XMR in piconero, and in coins).
    Balance,
    /// A new BTC receive address and the Monero address.
    Address,
    /// Send coins out: `--btc AMOUNT|all --to ADDRESS` or `--xmr AMOUNT --to ADDRESS`.
    Withdraw {
        /// BTC to send, or `all`.
        #[arg(long, conflicts_with = "xmr")]
        btc: Option<String>,
        /// XMR to send.
        #[arg(long, value_parser = parse_xmr)]
        xmr: Option<XmrAmount>,
        /// The destination address.
        #[arg(long)]
        to: String,
    },
}

pub(crate) async fn init(
    global: &Global,
    out: &Output,
    restore: bool,
    real_money: bool,
) -> anyhow::Result<ExitCode> {
    if global.network.is_mainnet() && !real_money {
        anyhow::bail!(
            "a mainnet wallet moves real bitcoin and monero: confirm with `confiaro --network \
             mainnet init --real-money` (or try Confiaro on signet, testnet4 or regtest first)"
        );
    }
    let config = settings::engine_config(global).or_else(|_| {
        // creating a wallet needs no endpoints
        Ok::<_, anyhow::Error>(confiaro_orchestrator::EngineConfig::new(
            settings::data_dir(global)?,
            global.network,
            confiaro_orchestrator::BitcoinSourceConfig::Esplora {
                url: "http://127.0.0.1:1".into(),
                tls: Default::default(),
            },
            confiaro_orchestrator::MoneroConfig::new("http://127.0.0.1:1"),
        ))
    })?;
    let restore = if restore {
        out.info("type the mnemonic (words separated by spaces), then Enter:");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the mnemonic")?;
        Some(
            Mnemonic::parse(line.trim())
                .map_err(|e| anyhow::anyhow!("not a valid mnemonic: {e}"))?,
        )
    } else {
        None
    };
    let restoring = restore.is_some();
    let password = settings::password(global, true)?;
    let mnemonic = Engine::init(&config, &password, restore).await?;
    let btc = confiaro_bitcoin::first_address(&mnemonic, "", global.network.bitcoin())?;
    let xmr =
        confiaro_orchestrator::keys::EngineKeys::derive(&mnemonic).monero_address(global.network);
    if restoring {
        out.result(
            &serde_json::json!({"data_dir": config.data_dir, "restored": true,
                "btc_address": btc.to_string(), "xmr_address": xmr.to_string()}),
            &format!("wallet restored in {}", config.data_dir.display()),
        );
    } else if out.json() {
        out.result(
            &serde_json::json!({"data_dir": config.data_dir, "mnemonic": mnemonic.to_string(),
                "btc_address": btc.to_string(), "xmr_address": xmr.to_string()}),
            "",
        );
    } else {
        out.info(&format!("wallet created in {}", config.data_dir.display()));
        out.info(&format!("BTC address: {btc}\nXMR address: {xmr}"));
        out.info(
            "write these words down, in order; they restore both wallets (a running swap's keys \
             live in this data directory: back it up while swaps run):",
        );
        out.info(&format!("\n  {mnemonic}\n"));
        out.info("they are shown this once; anyone who has them can take your coins");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(
    global: &Global,
    out: &Output,
    command: WalletCommand,
) -> anyhow::Result<ExitCode> {
    let engine = open_engine(global, out).await?;
    let result = run_open(&engine, out, command).await;
    engine.shutdown().await;
    result
}

async fn run_open(
    engine: &Engine,
    out: &Output,
    command: WalletCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        WalletCommand::Balance => {
            let b = engine.balances().await?;
            out.result(
                &b,
                &format!(
                    "BTC: {} confirmed, {} pending, {} immature\nXMR: {} ({} unlocked)",
                    Amount::from_sat(b.btc_confirmed_sat),
                    Amount::from_sat(b.btc_pending_sat),
                    Amount::from_sat(b.btc_immature_sat),
                    XmrAmount::from_piconero(b.xmr_total_piconero),
                    XmrAmount::from_piconero(b.xmr_unlocked_piconero),
                ),
            );
        }
        WalletCommand::Address => {
            let btc = engine.btc_address().await?;
            let xmr = engine.xmr_address();
            out.result(
                &serde_json::json!({"btc": btc.to_string(), "xmr": xmr.to_string()}),
                &format!("BTC: {btc}\nXMR: {xmr}"),
            );
        }
        WalletCommand::Withdraw { btc, xmr, to } => match (btc, xmr) {
            (Some(amount), None) => {
                let amount = match amount.as_str() {
                    "all" => None,
                    text => Some(settings::parse_btc(text).map_err(anyhow::Error::msg)?),
                };
                let to: bitcoin::Address<bitcoin::address::NetworkUnchecked> = to
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--to {to}: not a Bitcoin address ({e})"))?;
                let txid = engine.withdraw_btc(to, amount).await?;
                out.result(
                    &serde_json::json!({"txid": txid.to_string()}),
                    &format!("sent: {txid}"),
                );
            }
            (None, Some(amount)) => {
                let to: monero::Address = to
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--to {to}: not a Monero address ({e})"))?;
                let tx = engine.withdraw_xmr(to, amount).await?;
                out.result(&serde_json::json!({"tx_hash": tx}), &format!("sent: {tx}"));
            }
            _ => bail!("say what to send: --btc AMOUNT|all or --xmr AMOUNT"),
        },
    }
    Ok(ExitCode::SUCCESS)
}
