//! `confiaro-devnet`: runs the local regtest stack ([`confiaro_devnet::stack::Stack`]) for
//! testers until SIGINT or SIGTERM: the Bitcoin devnet node (validated by libbitcoinkernel)
//! with a bitcoind-compatible JSON-RPC server, an Electrum server and an Esplora REST server,
//! a regtest `monerod` with a funded `monero-wallet-rpc`, and a libp2p rendezvous point, all
//! on loopback. What clients need is printed and written to `<datadir>/devnet.json`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bitcoin::{Network, PrivateKey};
use clap::{Parser, Subcommand};
use confiaro_devnet::stack::{
    MoneroPorts, Stack, StackConfig, StackInfo, DEFAULT_BITCOIN_RPC_PORT, DEFAULT_ELECTRUM_PORT,
    DEFAULT_ESPLORA_PORT, DEFAULT_INITIAL_BTC_BLOCKS, DEFAULT_MONEROD_PORT,
    DEFAULT_MONERO_WALLET_PORT, DEFAULT_RENDEZVOUS_PORT, DEFAULT_RPC_CREDENTIAL,
};

#[derive(Parser)]
#[command(
    name = "confiaro-devnet",
    version,
    about = "Local regtest stack for Confiaro: Bitcoin devnet, Monero, rendezvous point"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the stack; stop with Ctrl-C or SIGTERM.
    Up {
        /// Data directory of the regtest chains (created if missing; existing chains are kept).
        #[arg(long, default_value = "confiaro-devnet-data")]
        datadir: PathBuf,
        /// Loopback port of the JSON-RPC server; 0 picks a free port.
        #[arg(long, default_value_t = DEFAULT_BITCOIN_RPC_PORT)]
        rpc_port: u16,
        /// RPC user name (the cookie file is accepted too).
        #[arg(long, default_value = DEFAULT_RPC_CREDENTIAL)]
        rpc_user: String,
        /// RPC password.
        #[arg(long, default_value = DEFAULT_RPC_CREDENTIAL)]
        rpc_password: String,
        /// Mine one block on each chain every this many seconds (off when absent).
        #[arg(long)]
        mine_every: Option<u64>,
        /// Mine until the Bitcoin chain is at least this high at start-up.
        #[arg(long, default_value_t = DEFAULT_INITIAL_BTC_BLOCKS)]
        initial_blocks: u32,
        /// Loopback port of the Electrum server; 0 picks a free port.
        #[arg(long, default_value_t = DEFAULT_ELECTRUM_PORT)]
        electrum_port: u16,
        /// Loopback port of the Esplora REST server; 0 picks a free port.
        #[arg(long, default_value_t = DEFAULT_ESPLORA_PORT)]
        esplora_port: u16,
        /// Do not start the Monero side (monerod and the funded wallet RPC).
        #[arg(long)]
        no_monero: bool,
        /// Loopback port of monerod's RPC; 0 picks a free port.
        #[arg(long, default_value_t = DEFAULT_MONEROD_PORT)]
        monero_rpc_port: u16,
        /// Loopback port of the funded wallet's monero-wallet-rpc; 0 picks a free port.
        #[arg(long, default_value_t = DEFAULT_MONERO_WALLET_PORT)]
        wallet_rpc_port: u16,
        /// Loopback TCP port of the libp2p rendezvous point; 0 picks a free port.
        #[arg(long, default_value_t = DEFAULT_RENDEZVOUS_PORT)]
        rendezvous_port: u16,
        /// Do not start the rendezvous point.
        #[arg(long)]
        no_rendezvous: bool,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Every error's message already carries its causes.
            eprintln!("confiaro-devnet: error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Up {
            datadir,
            rpc_port,
            rpc_user,
            rpc_password,
            mine_every,
            initial_blocks,
            electrum_port,
            esplora_port,
            no_monero,
            monero_rpc_port,
            wallet_rpc_port,
            rendezvous_port,
            no_rendezvous,
        } => {
            if mine_every == Some(0) {
                bail!("--mine-every must be at least 1 second");
            }
            let config = StackConfig {
                data_dir: datadir,
                bitcoin_rpc_port: rpc_port,
                rpc_user,
                rpc_password,
                electrum_port: Some(electrum_port),
                esplora_port: Some(esplora_port),
                monero: (!no_monero).then_some(MoneroPorts {
                    daemon: monero_rpc_port,
                    wallet: wallet_rpc_port,
                }),
                rendezvous_port: (!no_rendezvous).then_some(rendezvous_port),
                initial_btc_blocks: initial_blocks,
            };
            up(config, mine_every.map(Duration::from_secs))
        }
    }
}

/// The Bitcoin chain's height (read even if a thread panicked holding the node).
fn tip_height(stack: &Stack) -> u32 {
    stack
        .node()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .tip_height()
}

fn up(config: StackConfig, mine_every: Option<Duration>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| anyhow!("cannot start the async runtime: {e}"))?;
    let datadir = config.data_dir.clone();
    let with_monero = config.monero.is_some();
    println!(
        "confiaro-devnet: starting the regtest stack in {}",
        datadir.display()
    );
    std::io::stdout().flush().ok();
    let stack = runtime.block_on(Stack::start(config))?;
    let info = stack.info().clone();

    println!("confiaro-devnet: regtest node in {}", datadir.display());
    let key = PrivateKey::new(stack.faucet().key().secret, Network::Regtest);
    println!(
        "mining key (REGTEST ONLY, publicly known, never use it elsewhere): {}",
        key.to_wif()
    );
    println!("mining address: {}", info.mining_address);
    println!("height: {}", tip_height(&stack));
    println!("rpc url: {}", info.bitcoin_rpc_url);
    if let Some(port) = info.bitcoin_rpc_url.rsplit(':').next() {
        println!("rpc port: {port}");
    }
    println!("rpc user: {}", info.rpc_user);
    println!("rpc password: {}", info.rpc_password);
    if let Some(cookie) = stack.cookie_file() {
        println!("rpc cookie file: {}", cookie.display());
    }
    if let Some(url) = &info.electrum_url {
        println!("electrum url: {url}");
    }
    if let Some(url) = &info.esplora_url {
        println!("esplora url: {url}");
    }
    if let (Some(daemon), Some(wallet_url)) = (&info.monerod_url, &info.monero_wallet_rpc_url) {
        println!("monerod rpc url: {daemon}");
        println!("monero wallet rpc url: {wallet_url} (no login, loopback only)");
        let wallet = confiaro_monero::rpc::WalletClient::new(
            wallet_url,
            confiaro_monero::rpc::RpcConfig::default(),
        )?;
        let (address, balance) = runtime.block_on(async {
            Ok::<_, confiaro_monero::MoneroError>((
                wallet.address().await?,
                wallet.balance().await?,
            ))
        })?;
        println!("monero wallet address: {address}");
        println!(
            "monero wallet balance: {} piconero ({} unlocked)",
            balance.total.as_piconero(),
            balance.unlocked.as_piconero()
        );
    }
    if let Some(rendezvous) = &info.rendezvous {
        println!("rendezvous point: {rendezvous}");
    }
    println!("devnet info: {}", StackInfo::path(&datadir).display());
    let miner = mine_every.map(|every| {
        println!("mining a block every {} s", every.as_secs());
        if with_monero {
            println!("mining a Monero block every {} s", every.as_secs());
        }
        stack.auto_mine(Some(every), Some(every))
    });

    let (tx, rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| anyhow!("cannot install the SIGINT/SIGTERM handler: {e}"))?;
    println!("ready (Ctrl-C or SIGTERM stops)");
    std::io::stdout().flush().ok();

    let _ = rx.recv();
    println!("stopping");
    std::io::stdout().flush().ok();
    drop(miner);
    let height = tip_height(&stack);
    runtime.block_on(stack.stop());
    if with_monero {
        println!("monero stopped");
    }
    println!("stopped at height {height}");
    std::io::stdout().flush().ok();
    Ok(())
}
