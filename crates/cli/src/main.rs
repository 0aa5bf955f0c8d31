//! `confiaro`: peer-to-peer BTC⇄XMR atomic swaps from the command line — for takers
//! (`swap buy-xmr`), makers (`maker run`) and testers (`devnet up`, a whole local regtest
//! stack).
//!
//! Every command that touches a wallet asks for its password (`--password-file`, the
//! `CONFIARO_PASSWORD` environment variable, or a prompt). Chain endpoints come from flags or,
//! on regtest, from a running devnet (`--devnet DIR`, default `./confiaro-devnet-data`).
//! `--json` prints one JSON object per line instead of text and progress bars.

mod admin;
mod audit;
mod check;
#[cfg(feature = "devnet")]
mod devnet;
mod maker;
mod maker_config;
mod output;
mod settings;
mod swap;
mod wallet;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use confiaro_orchestrator::{Multiaddr, Network};

use crate::output::Output;

#[derive(Parser)]
#[command(
    name = "confiaro",
    version,
    about = "Peer-to-peer BTC⇄XMR atomic swaps: no server, no custodian"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Args, Clone, Debug)]
pub(crate) struct Global {
    /// Data directory (wallet, swaps, logs); default ~/.confiaro/<network>.
    #[arg(long, global = true, env = "CONFIARO_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// mainnet, testnet4 or signet (each with Monero stagenet), or regtest.
    #[arg(long, global = true, default_value = "regtest", value_parser = settings::parse_network)]
    pub(crate) network: Network,
    /// The database, when not SQLite in the data directory: postgres://USER:PASSWORD@HOST/DB
    /// (a maker's PostgreSQL server; the password never appears in messages).
    #[arg(
        long,
        global = true,
        env = "CONFIARO_STORE_URL",
        hide_env_values = true
    )]
    pub(crate) store_url: Option<String>,
    /// A running devnet's directory; its devnet.json gives every endpoint (regtest only).
    #[cfg(feature = "devnet")]
    #[arg(long, global = true, env = "CONFIARO_DEVNET")]
    pub(crate) devnet: Option<PathBuf>,
    /// bitcoind JSON-RPC URL, e.g. http://127.0.0.1:18443 (Bitcoin Core needs -txindex=1).
    #[arg(long, global = true)]
    pub(crate) bitcoind_url: Option<String>,
    /// bitcoind RPC user (with --bitcoind-password).
    #[arg(long, global = true)]
    pub(crate) bitcoind_user: Option<String>,
    /// bitcoind RPC password.
    #[arg(long, global = true)]
    pub(crate) bitcoind_password: Option<String>,
    /// bitcoind's .cookie file (instead of user and password).
    #[arg(long, global = true)]
    pub(crate) bitcoind_cookie: Option<PathBuf>,
    /// An Electrum server (tcp://host:port, or ssl://host:port with TLS) instead of bitcoind.
    #[arg(long, global = true)]
    pub(crate) electrum: Option<String>,
    /// An Esplora server (http://host:port/path, or https://host/path) instead of bitcoind.
    #[arg(long, global = true)]
    pub(crate) esplora: Option<String>,
    /// A PEM file of the CA certificates an ssl:// Electrum or https:// Esplora server's
    /// certificate must chain to (a self-hosted server's own CA); default: the system's CAs.
    #[arg(long, global = true)]
    pub(crate) chain_ca: Option<PathBuf>,
    /// monerod RPC URL, e.g. http://127.0.0.1:28081 (through Tor: an onion address, or
    /// https with a certificate the system's CAs verify).
    #[arg(long, global = true, env = "CONFIARO_MONEROD_URL")]
    pub(crate) monerod_url: Option<String>,
    /// The monero-wallet-rpc binary.
    #[arg(long, global = true, default_value = "monero-wallet-rpc")]
    pub(crate) monero_wallet_rpc: PathBuf,
    /// libp2p address to listen on (repeatable); default /ip4/127.0.0.1/tcp/0.
    #[arg(long, global = true)]
    pub(crate) listen: Vec<Multiaddr>,
    /// Rendezvous point, /ip4/…/tcp/…/p2p/<peer id> (repeatable).
    #[arg(long, global = true)]
    pub(crate) rendezvous: Vec<Multiaddr>,
    /// Traffic over Tor: on (the default off regtest) or off (the default on regtest). With
    /// Tor on, peers are dialled only through Tor, a maker serves an onion service instead
    /// of a TCP port, and the chain sources are reached through Tor (see --tor-chain);
    /// nothing falls back to clear TCP.
    #[arg(long, global = true, value_parser = settings::parse_switch)]
    pub(crate) tor: Option<bool>,
    /// With Tor on, reach the chain sources (Bitcoin source, Monero daemon) through Tor too:
    /// on (the default) or off. Sources on this machine or its LAN are reached directly on
    /// the public Tor network, whose exits cannot reach them.
    #[arg(long, global = true, value_parser = settings::parse_switch)]
    pub(crate) tor_chain: Option<bool>,
    /// A private Tor network to join instead of the public one (a test network): a JSON file
    /// with its authorities and directory caches. Turns Tor on unless --tor off.
    #[arg(long, global = true, env = "CONFIARO_TOR_NETWORK")]
    pub(crate) tor_network: Option<PathBuf>,
    /// File holding the wallet password (else CONFIARO_PASSWORD, else a prompt).
    #[arg(long, global = true)]
    pub(crate) password_file: Option<PathBuf>,
    /// Print one JSON object per line instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Create the wallet of the data directory (prints the mnemonic once), or restore one.
    Init {
        /// Restore from a mnemonic read from standard input.
        #[arg(long)]
        restore: bool,
        /// On mainnet: confirms that this wallet moves real bitcoin and monero (required).
        #[arg(long)]
        real_money: bool,
    },
    /// The local regtest stack for testers.
    #[cfg(feature = "devnet")]
    Devnet {
        #[command(subcommand)]
        command: devnet::DevnetCommand,
    },
    /// Run as a maker.
    Maker {
        #[command(subcommand)]
        command: maker::MakerCommand,
    },
    /// List the offers registered at the rendezvous points, with their quotes.
    Offers,
    /// Swaps: buy XMR, follow, resume, cancel and refund, export receipts.
    Swap {
        #[command(subcommand)]
        command: swap::SwapCommand,
    },
    /// Check receipts and the local audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// The built-in BTC and XMR wallets.
    Wallet {
        #[command(subcommand)]
        command: wallet::WalletCommand,
    },
    /// Test the chain sources and monero-wallet-rpc: the Bitcoin source's tip and time, the
    /// Monero node's sync state, which monero-wallet-rpc runs and its version.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.global.json);
    settings::init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, out.clone()));
    match result {
        Ok(code) => code,
        Err(e) => {
            out.failure(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, out: Output) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Init {
            restore,
            real_money,
        } => wallet::init(&global, &out, restore, real_money).await,
        #[cfg(feature = "devnet")]
        Command::Devnet { command } => devnet::run(&global, &out, command).await,
        Command::Maker { command } => maker::run(&global, &out, command).await,
        Command::Offers => swap::offers(&global, &out).await,
        Command::Swap { command } => swap::run(&global, &out, command).await,
        Command::Audit { command } => audit::run(&global, &out, command).await,
        Command::Wallet { command } => wallet::run(&global, &out, command).await,
        Command::Check => check::run(&global, &out).await,
    }
}
