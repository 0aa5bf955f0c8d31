//! `confiaro-devnet`: runs a local regtest stack for testers until SIGINT or SIGTERM: the
//! Bitcoin devnet node (validated by libbitcoinkernel) with a bitcoind-compatible JSON-RPC
//! server, an Electrum server and an Esplora REST server, and a regtest `monerod` with a funded `monero-wallet-rpc`, all on loopback.

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, PrivateKey};
use clap::{Parser, Subcommand};
use confiaro_devnet::electrum::ElectrumServer;
use confiaro_devnet::esplora::EsploraServer;
use confiaro_devnet::rpc::{Miner, RpcConfig, RpcServer};
use confiaro_devnet::Node;

/// The devnet's mining key: publicly known, for regtest only.
const MINING_KEY: [u8; 32] = [0x11; 32];

#[derive(Parser)]
#[command(
    name = "confiaro-devnet",
    version,
    about = "Regtest Bitcoin devnet node for Confiaro"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the node and its JSON-RPC server; stop with Ctrl-C or SIGTERM.
    Up {
        /// Data directory of the regtest chain (created if missing; an existing chain is kept).
        #[arg(long, default_value = "confiaro-devnet-data")]
        datadir: PathBuf,
        /// Loopback port of the JSON-RPC server; 0 picks a free port.
        #[arg(long, default_value_t = 18443)]
        rpc_port: u16,
        /// RPC user name (the cookie file is accepted too).
        #[arg(long, default_value = "confiaro")]
        rpc_user: String,
        /// RPC password.
        #[arg(long, default_value = "confiaro")]
        rpc_password: String,
        /// Mine one block every this many seconds (off when absent).
        #[arg(long)]
        mine_every: Option<u64>,
        /// Mine until the chain is at least this high at start-up.
        #[arg(long, default_value_t = 101)]
        initial_blocks: u32,
        /// Loopback port of the Electrum server; 0 picks a free port.
        #[arg(long, default_value_t = 60401)]
        electrum_port: u16,
        /// Loopback port of the Esplora REST server; 0 picks a free port.
        #[arg(long, default_value_t = 3002)]
        esplora_port: u16,
        /// Do not start the Monero side (monerod and the funded wallet RPC).
        #[arg(long)]
        no_monero: bool,
        /// Loopback port of monerod's RPC; 0 picks a free port.
        #[arg(long, default_value_t = 28081)]
        monero_rpc_port: u16,
        /// Loopback port of the funded wallet's monero-wallet-rpc; 0 picks a free port.
        #[arg(long, default_value_t = 28083)]
        wallet_rpc_port: u16,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("confiaro-devnet: error: {err:#}");
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
        } => up(
            datadir,
            rpc_port,
            (rpc_user, rpc_password),
            mine_every,
            initial_blocks,
            (electrum_port, esplora_port),
            (!no_monero).then_some((monero_rpc_port, wallet_rpc_port)),
        ),
    }
}

fn up(
    datadir: PathBuf,
    rpc_port: u16,
    user_password: (String, String),
    mine_every: Option<u64>,
    initial_blocks: u32,
    (electrum_port, esplora_port): (u16, u16),
    monero_ports: Option<(u16, u16)>,
) -> Result<()> {
    if mine_every == Some(0) {
        bail!("--mine-every must be at least 1 second");
    }
    let secp = Secp256k1::new();
    let secret = SecretKey::from_slice(&MINING_KEY).context("mining key")?;
    let key = PrivateKey::new(secret, Network::Regtest);
    let compressed = CompressedPublicKey::from_private_key(&secp, &key).context("mining key")?;
    let address = Address::p2wpkh(&compressed, Network::Regtest);
    let script = address.script_pubkey();

    let node = Node::open(&datadir).with_context(|| {
        format!(
            "cannot open the devnet data directory {}",
            datadir.display()
        )
    })?;
    let node = Arc::new(Mutex::new(node));
    println!("confiaro-devnet: regtest node in {}", datadir.display());
    println!(
        "mining key (REGTEST ONLY, publicly known, never use it elsewhere): {}",
        key.to_wif()
    );
    println!("mining address: {address}");
    {
        let mut node = node
            .lock()
            .map_err(|_| anyhow::anyhow!("node lock poisoned"))?;
        let tip = node.tip_height();
        if tip < initial_blocks {
            node.mine(initial_blocks - tip, &script)
                .context("mining the initial blocks")?;
        }
        println!("height: {}", node.tip_height());
    }

    let config = RpcConfig {
        port: rpc_port,
        user_password: Some(user_password.clone()),
        cookie_file: Some(datadir.join(".cookie")),
    };
    let server = RpcServer::start(Arc::clone(&node), config).context("starting the RPC server")?;
    println!("rpc url: {}", server.url());
    println!("rpc port: {}", server.local_addr().port());
    println!("rpc user: {}", user_password.0);
    println!("rpc password: {}", user_password.1);
    if let Some(cookie) = server.cookie_file() {
        println!("rpc cookie file: {}", cookie.display());
    }
    let electrum = ElectrumServer::start(Arc::clone(&node), electrum_port)
        .context("starting the Electrum server")?;
    println!("electrum url: {}", electrum.url());
    let esplora = EsploraServer::start(Arc::clone(&node), esplora_port)
        .context("starting the Esplora server")?;
    println!("esplora url: {}", esplora.url());
    let miner = match mine_every {
        Some(seconds) => {
            println!("mining a block every {seconds} s");
            Some(
                Miner::start(Arc::clone(&node), Duration::from_secs(seconds), script)
                    .context("starting the miner")?,
            )
        }
        None => None,
    };

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let monero = match monero_ports {
        Some((daemon_port, wallet_port)) => Some(runtime.block_on(monero::start(
            &datadir.join("monero"),
            daemon_port,
            wallet_port,
            mine_every.map(Duration::from_secs),
        ))?),
        None => None,
    };

    let (tx, rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    println!("ready (Ctrl-C or SIGTERM stops)");
    use std::io::Write as _;
    std::io::stdout().flush().ok();

    let _ = rx.recv();
    println!("stopping");
    if let Some(monero) = monero {
        runtime.block_on(monero.stop());
        println!("monero stopped");
    }
    if let Some(miner) = miner {
        miner.stop();
    }
    server.shutdown();
    electrum.shutdown();
    esplora.shutdown();
    let node = Arc::try_unwrap(node)
        .map_err(|_| anyhow::anyhow!("node still shared after shutdown"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("node lock poisoned"))?;
    let height = node.tip_height();
    // Dropping the node flushes and closes the kernel's chainstate.
    drop(node);
    println!("stopped at height {height}");
    std::io::stdout().flush().ok();
    Ok(())
}

/// The Monero half of the stack: regtest monerod and a funded wallet RPC.
mod monero {
    use std::path::Path;
    use std::time::Duration;

    use anyhow::{Context as _, Result};
    use confiaro_monero::process::{Monerod, ProcessConfig, WalletRpc};
    use confiaro_monero::MoneroError;

    /// Coinbase outputs unlock after 60 blocks; mining this many gives spendable funds and
    /// enough outputs for ring decoys.
    const FUNDED_HEIGHT: u64 = 130;
    const WALLET: &str = "devnet";

    /// The running Monero side.
    pub struct Running {
        monerod: Monerod,
        wallet: WalletRpc,
        miner: Option<tokio::task::JoinHandle<()>>,
    }

    impl Running {
        pub async fn stop(self) {
            if let Some(miner) = self.miner {
                miner.abort();
            }
            self.wallet.stop().await;
            self.monerod.stop().await;
        }
    }

    pub async fn start(
        dir: &Path,
        daemon_port: u16,
        wallet_port: u16,
        mine_every: Option<Duration>,
    ) -> Result<Running> {
        let monerod = Monerod::start(&ProcessConfig {
            rpc_port: daemon_port,
            ..ProcessConfig::new("monerod", dir.join("monerod"))
        })
        .await
        .context("starting monerod")?;
        println!("monerod rpc url: {}", monerod.url());
        let wallet = WalletRpc::start(
            &ProcessConfig {
                rpc_port: wallet_port,
                ..ProcessConfig::new("monero-wallet-rpc", dir.join("wallets"))
            },
            &monerod.address(),
        )
        .await
        .context("starting monero-wallet-rpc")?;
        let client = wallet.client();
        match client.open_wallet(WALLET, "").await {
            Ok(()) => {}
            Err(MoneroError::Rpc { .. }) => client
                .create_wallet(WALLET, "")
                .await
                .context("creating the devnet Monero wallet")?,
            Err(e) => return Err(e).context("opening the devnet Monero wallet"),
        }
        let address = client.address().await.context("wallet address")?;
        let height = monerod.client().height().await.context("monerod height")?;
        if height < FUNDED_HEIGHT {
            println!(
                "mining {} Monero blocks to fund the wallet",
                FUNDED_HEIGHT - height
            );
            monerod
                .client()
                .generate_blocks(FUNDED_HEIGHT - height, &address)
                .await
                .context("mining Monero blocks")?;
        }
        client.refresh().await.context("wallet refresh")?;
        let balance = client.balance().await.context("wallet balance")?;
        println!(
            "monero wallet rpc url: {} (no login, loopback only)",
            wallet.url()
        );
        println!("monero wallet address: {address}");
        println!(
            "monero wallet balance: {} piconero ({} unlocked)",
            balance.total.as_piconero(),
            balance.unlocked.as_piconero()
        );
        let miner = mine_every.map(|every| {
            let daemon = monerod.client().clone();
            println!("mining a Monero block every {} s", every.as_secs());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(err) = daemon.generate_blocks(1, &address).await {
                        eprintln!("monero miner: {err}");
                    }
                }
            })
        });
        Ok(Running {
            monerod,
            wallet,
            miner,
        })
    }
}
