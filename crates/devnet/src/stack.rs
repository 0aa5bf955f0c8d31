//! The whole local regtest stack as a library: the Bitcoin devnet [`Node`] with its JSON-RPC,
//! Electrum and Esplora servers, a regtest `monerod` with a funded `monero-wallet-rpc`, and a
//! libp2p rendezvous point, all on loopback, started and stopped as one [`Stack`].
//!
//! The `confiaro-devnet up` binary, the `confiaro devnet` commands and the end-to-end tests
//! all run this one implementation.
//!
//! # Operation
//! 1. [`Stack::start`] with a [`StackConfig`] ([`StackConfig::ephemeral`] for tests: free
//!    ports, everything on). It opens (or creates) the chain in
//!    [`StackConfig::data_dir`], starts the servers, mines the initial blocks, starts Monero
//!    and the rendezvous point, and writes [`StackInfo`] to `<data_dir>/devnet.json`
//!    (atomically, with the stack's pid) for other processes ([`StackInfo::load`]).
//! 2. Use it: [`Stack::fund_btc`] / [`Stack::fund_xmr`] pay any address from the devnet's
//!    funds and mine so the payment is usable; [`Stack::mine_btc`] / [`Stack::mine_xmr`]
//!    mine; [`Stack::auto_mine`] mines on a timer; [`Stack::node`] gives tests the node
//!    itself (reorgs, evictions). Bitcoin and Monero never wait on each other: the node has
//!    its own lock and the Monero side its own.
//! 3. [`Stack::stop`]: miners stop, the rendezvous point and the Monero processes stop
//!    (SIGTERM, so the wallet is saved), the servers shut, the node is flushed and
//!    `devnet.json` is removed. Dropping a [`Stack`] without `stop` also releases everything
//!    (the Monero processes are then killed) and removes `devnet.json`.
//!
//! Everything here is regtest only: the mining key ([`crate::faucet::DEVNET_MINING_KEY_BYTE`])
//! and the rendezvous point's identity ([`rendezvous_identity`]) are publicly known
//! constants, so addresses and the rendezvous multiaddr are the same on every run.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Amount, Network, ScriptBuf, Txid};
use confiaro_monero::process::{Monerod, ProcessConfig, WalletRpc};
use confiaro_monero::rpc::DaemonClient;
use confiaro_monero::{MoneroError, TxPresence, XmrAmount};
use confiaro_p2p::{IdentitySecret, Multiaddr, PeerId, RendezvousPoint, RendezvousServerConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::electrum::{ElectrumServer, ElectrumServerError};
use crate::esplora::{EsploraError, EsploraServer};
use crate::faucet::{Faucet, FaucetError};
use crate::rpc::{lock, write_private, RpcConfig, RpcError, RpcServer, SharedNode};
use crate::{DevnetError, Node, COINBASE_MATURITY};

/// The JSON-RPC port of `confiaro-devnet up` (bitcoind's regtest port).
pub const DEFAULT_BITCOIN_RPC_PORT: u16 = 18443;
/// The Electrum port of `confiaro-devnet up`.
pub const DEFAULT_ELECTRUM_PORT: u16 = 60401;
/// The Esplora port of `confiaro-devnet up`.
pub const DEFAULT_ESPLORA_PORT: u16 = 3002;
/// monerod's RPC port of `confiaro-devnet up`.
pub const DEFAULT_MONEROD_PORT: u16 = 28081;
/// The funded wallet's `monero-wallet-rpc` port of `confiaro-devnet up`.
pub const DEFAULT_MONERO_WALLET_PORT: u16 = 28083;
/// The rendezvous point's TCP port of `confiaro-devnet up`.
pub const DEFAULT_RENDEZVOUS_PORT: u16 = 7700;
/// The chain height a stack starts with by default: 101 blocks to the mining key, so its
/// first coinbase outputs are mature and [`Stack::fund_btc`] can pay at once.
pub const DEFAULT_INITIAL_BTC_BLOCKS: u32 = COINBASE_MATURITY + 1;

/// The user name and password of the JSON-RPC server in [`StackConfig::new`] and
/// [`StackConfig::ephemeral`].
pub const DEFAULT_RPC_CREDENTIAL: &str = "confiaro";

/// The name of the stack's file in its data directory.
pub const INFO_FILE: &str = "devnet.json";

/// The Monero chain height the devnet wallet is funded to at start: coinbase outputs unlock
/// after 60 blocks, so this gives spendable coinbases and enough outputs for ring decoys.
const XMR_FUNDED_HEIGHT: u64 = 130;
/// Blocks a Monero coinbase output waits before it can be spent.
const XMR_COINBASE_UNLOCK: u64 = 60;
/// The devnet wallet's file name, in `<data_dir>/monero/wallets`.
const XMR_WALLET: &str = "devnet";

/// At most this many blocks are mined to the faucet when [`Stack::fund_btc`] runs out of
/// spendable coins: enough to mature a coinbase mined now.
const MAX_TOP_UP_BLOCKS: u32 = COINBASE_MATURITY + 1;

/// How long [`Stack::stop`] waits for other holders of the node (an auto-miner finishing a
/// block, a test's clone) before it leaves the last holder to close it.
const NODE_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// What the rendezvous point's identity is derived from (SHA-256 of these bytes).
const RENDEZVOUS_IDENTITY_SEED: &[u8] = b"confiaro devnet rendezvous point (regtest only)";

/// Errors of the stack. Messages say what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// Not called inside a tokio runtime.
    #[error("the devnet stack must be started inside a tokio runtime")]
    NoRuntime,
    /// The data directory cannot be created or used.
    #[error("cannot open the devnet data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another stack (a live process) uses this data directory.
    #[error("a devnet is already running in {data_dir} (pid {pid}): stop it first or use another data directory")]
    AlreadyRunning {
        /// The data directory.
        data_dir: PathBuf,
        /// The running stack's process id.
        pid: u32,
    },
    /// [`StackInfo::load`]: no stack runs in this data directory.
    #[error("no devnet is running in {data_dir}: {path} does not exist (start one first)")]
    NotRunning {
        /// The data directory.
        data_dir: PathBuf,
        /// The info file looked for.
        path: PathBuf,
    },
    /// [`StackInfo::load`]: the info file names a process that is gone (it crashed or was
    /// killed); the stack it describes is not running.
    #[error("{path} is stale: the devnet process {pid} is gone (start the devnet again)")]
    StaleInfo {
        /// The info file.
        path: PathBuf,
        /// The process it names.
        pid: u32,
    },
    /// The info file cannot be written, read or parsed.
    #[error("devnet info file {path}: {source}")]
    InfoFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Bitcoin node failed (opening its chain, mining).
    #[error("bitcoin devnet node: {0}")]
    Node(#[from] DevnetError),
    /// A fixed port is in use by another process.
    #[error("{service}: cannot listen on 127.0.0.1:{port}: the port is in use (stop what uses it, or choose another port; 0 picks a free one)")]
    PortTaken {
        /// Which part of the stack.
        service: &'static str,
        /// The port.
        port: u16,
    },
    /// A server of the stack could not start for another reason.
    #[error("{service}: cannot start: {source}")]
    Server {
        /// Which server.
        service: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `monerod` or `monero-wallet-rpc` is not installed.
    #[error("{binary} not installed: apt install monero (or run the devnet without Monero)")]
    MoneroNotInstalled {
        /// The missing binary.
        binary: &'static str,
    },
    /// The Monero side failed.
    #[error("monero: {step}: {source}")]
    Monero {
        /// What the stack was doing.
        step: &'static str,
        /// The Monero error.
        source: MoneroError,
    },
    /// A Monero operation on a stack started without Monero.
    #[error("this devnet runs without Monero (start it with Monero to use XMR)")]
    MoneroDisabled,
    /// The rendezvous point could not start.
    #[error("rendezvous point: {0}")]
    Rendezvous(#[source] confiaro_p2p::StartError),
    /// [`Stack::fund_btc`] was given an address of another network.
    #[error("{address} is not a regtest address")]
    WrongNetwork {
        /// The address.
        address: String,
    },
    /// The devnet's funds could not pay.
    #[error("funding: {0}")]
    Funding(#[source] FaucetError),
    /// A background task of the stack failed (a panic in the node: a bug).
    #[error("devnet task failed: {0}")]
    Task(String),
}

/// The loopback ports of the Monero side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneroPorts {
    /// `monerod`'s RPC port; 0 picks a free one.
    pub daemon: u16,
    /// The funded wallet's `monero-wallet-rpc` port; 0 picks a free one.
    pub wallet: u16,
}

/// How to run a [`Stack`].
#[derive(Clone, PartialEq, Eq)]
pub struct StackConfig {
    /// Where the chains live (created if missing, kept across runs): the Bitcoin chain at
    /// the top, Monero's under `monero/`, the stack's info file ([`INFO_FILE`]) and the
    /// RPC cookie (`.cookie`).
    pub data_dir: PathBuf,
    /// The JSON-RPC server's loopback port; 0 picks a free one.
    pub bitcoin_rpc_port: u16,
    /// The JSON-RPC user name (the cookie file is accepted too).
    pub rpc_user: String,
    /// The JSON-RPC password.
    pub rpc_password: String,
    /// The Electrum server's port (0: a free one); `None` starts none.
    pub electrum_port: Option<u16>,
    /// The Esplora server's port (0: a free one); `None` starts none.
    pub esplora_port: Option<u16>,
    /// The Monero side's ports; `None` runs Bitcoin only.
    pub monero: Option<MoneroPorts>,
    /// The rendezvous point's port on `/ip4/127.0.0.1/tcp/PORT` (0: a free one); `None`
    /// starts none.
    pub rendezvous_port: Option<u16>,
    /// Mine to the mining key until the chain is at least this high at start (an existing
    /// higher chain is kept). Below [`DEFAULT_INITIAL_BTC_BLOCKS`] the faucet has no mature
    /// coins yet; [`Stack::fund_btc`] then mines until it has.
    pub initial_btc_blocks: u32,
}

impl std::fmt::Debug for StackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackConfig")
            .field("data_dir", &self.data_dir)
            .field("bitcoin_rpc_port", &self.bitcoin_rpc_port)
            .field("rpc_user", &self.rpc_user)
            .field("rpc_password", &"<redacted>")
            .field("electrum_port", &self.electrum_port)
            .field("esplora_port", &self.esplora_port)
            .field("monero", &self.monero)
            .field("rendezvous_port", &self.rendezvous_port)
            .field("initial_btc_blocks", &self.initial_btc_blocks)
            .finish()
    }
}

impl StackConfig {
    /// Everything on, on the fixed ports of `confiaro-devnet up` (18443, 60401, 3002,
    /// 28081/28083, 7700), user and password `confiaro`, 101 initial blocks.
    pub fn new(data_dir: impl Into<PathBuf>) -> StackConfig {
        StackConfig {
            data_dir: data_dir.into(),
            bitcoin_rpc_port: DEFAULT_BITCOIN_RPC_PORT,
            rpc_user: DEFAULT_RPC_CREDENTIAL.to_string(),
            rpc_password: DEFAULT_RPC_CREDENTIAL.to_string(),
            electrum_port: Some(DEFAULT_ELECTRUM_PORT),
            esplora_port: Some(DEFAULT_ESPLORA_PORT),
            monero: Some(MoneroPorts {
                daemon: DEFAULT_MONEROD_PORT,
                wallet: DEFAULT_MONERO_WALLET_PORT,
            }),
            rendezvous_port: Some(DEFAULT_RENDEZVOUS_PORT),
            initial_btc_blocks: DEFAULT_INITIAL_BTC_BLOCKS,
        }
    }

    /// For tests: everything on (Electrum, Esplora, Monero, rendezvous), every port 0 (free
    /// ports, so stacks run side by side), user and password `confiaro`, 101 initial blocks.
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> StackConfig {
        StackConfig {
            bitcoin_rpc_port: 0,
            electrum_port: Some(0),
            esplora_port: Some(0),
            monero: Some(MoneroPorts {
                daemon: 0,
                wallet: 0,
            }),
            rendezvous_port: Some(0),
            ..StackConfig::new(data_dir)
        }
    }
}

/// What clients need to use a running stack. Written as JSON to `<data_dir>/devnet.json`
/// ([`StackInfo::path`]) when the stack has started, removed when it stops.
///
/// Its `Debug` output leaves the RPC password out (the file itself holds it, readable by its
/// owner only).
#[derive(serde::Serialize, serde::Deserialize, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// The process running the stack.
    pub pid: u32,
    /// The bitcoind-compatible JSON-RPC server, `http://127.0.0.1:<port>`.
    pub bitcoin_rpc_url: String,
    /// Its user name.
    pub rpc_user: String,
    /// Its password.
    pub rpc_password: String,
    /// The Electrum server, `tcp://127.0.0.1:<port>`, if started.
    pub electrum_url: Option<String>,
    /// The Esplora server, `http://127.0.0.1:<port>`, if started.
    pub esplora_url: Option<String>,
    /// `monerod`'s RPC, `http://127.0.0.1:<port>`, if Monero runs.
    pub monerod_url: Option<String>,
    /// The funded "devnet" wallet's `monero-wallet-rpc` (no login, loopback only), if
    /// Monero runs.
    pub monero_wallet_rpc_url: Option<String>,
    /// The rendezvous point's multiaddr, `/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`, if
    /// started.
    pub rendezvous: Option<String>,
    /// The regtest address the stack mines to and funds from (the publicly known devnet
    /// mining key's P2WPKH address).
    pub mining_address: String,
}

impl std::fmt::Debug for StackInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackInfo")
            .field("pid", &self.pid)
            .field("bitcoin_rpc_url", &self.bitcoin_rpc_url)
            .field("rpc_user", &self.rpc_user)
            .field("rpc_password", &"<redacted>")
            .field("electrum_url", &self.electrum_url)
            .field("esplora_url", &self.esplora_url)
            .field("monerod_url", &self.monerod_url)
            .field("monero_wallet_rpc_url", &self.monero_wallet_rpc_url)
            .field("rendezvous", &self.rendezvous)
            .field("mining_address", &self.mining_address)
            .finish()
    }
}

impl StackInfo {
    /// `<data_dir>/devnet.json`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(INFO_FILE)
    }

    /// Reads the info of the stack running in `data_dir`.
    ///
    /// # Errors
    ///
    /// [`StackError::NotRunning`] if there is no info file; [`StackError::StaleInfo`] if the
    /// process it names is gone; [`StackError::InfoFile`] if it cannot be read or parsed.
    pub fn load(data_dir: &Path) -> Result<StackInfo, StackError> {
        let info = StackInfo::read(data_dir)?;
        if !process_alive(info.pid) {
            return Err(StackError::StaleInfo {
                path: StackInfo::path(data_dir),
                pid: info.pid,
            });
        }
        Ok(info)
    }

    /// The info file's content, whether or not its process still runs.
    fn read(data_dir: &Path) -> Result<StackInfo, StackError> {
        let path = StackInfo::path(data_dir);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StackError::NotRunning {
                    data_dir: data_dir.to_path_buf(),
                    path,
                })
            }
            Err(e) => {
                return Err(StackError::InfoFile {
                    path,
                    source: Box::new(e),
                })
            }
        };
        serde_json::from_slice(&text).map_err(|e| StackError::InfoFile {
            path,
            source: Box::new(e),
        })
    }

    /// Writes the file atomically (a temporary file renamed over it), readable by its owner
    /// only.
    fn write(&self, data_dir: &Path) -> Result<(), StackError> {
        let path = StackInfo::path(data_dir);
        let err = |e: Box<dyn std::error::Error + Send + Sync>| StackError::InfoFile {
            path: path.clone(),
            source: e,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| err(Box::new(e)))?;
        let temporary = data_dir.join(format!("{INFO_FILE}.tmp"));
        write_private(&temporary, &text).map_err(|e| err(Box::new(e)))?;
        std::fs::rename(&temporary, &path).map_err(|e| err(Box::new(e)))
    }
}

/// Whether process `pid` exists (on Unix; elsewhere assumed).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill(2) with signal 0 only checks that the process exists; no memory involved.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The devnet rendezvous point's identity: derived from a fixed, publicly known constant
/// (regtest only), so its [`PeerId`] and multiaddr are the same on every run.
pub fn rendezvous_identity() -> IdentitySecret {
    IdentitySecret::from_bytes(sha256::Hash::hash(RENDEZVOUS_IDENTITY_SEED).to_byte_array())
}

/// The devnet rendezvous point's [`PeerId`] (see [`rendezvous_identity`]).
pub fn rendezvous_peer_id() -> PeerId {
    rendezvous_identity()
        .peer_id()
        .expect("any 32 bytes are an ed25519 secret key")
}

/// Mines Monero blocks to the devnet wallet, one `generateblocks` call at a time (monerod
/// refuses a block built on a template another call already extended).
#[derive(Debug)]
struct XmrMiner {
    daemon: DaemonClient,
    to: monero::Address,
    lock: tokio::sync::Mutex<()>,
}

impl XmrMiner {
    /// How many blocks [`XmrMiner::bury`] mines at most while waiting for a transaction to
    /// enter one.
    const MAX_BLOCKS_UNTIL_MINED: u64 = 5;

    /// Mines `blocks` blocks; returns the new chain height.
    async fn mine(&self, blocks: u64) -> Result<u64, MoneroError> {
        let _turn = self.lock.lock().await;
        self.daemon.generate_blocks(blocks, &self.to).await
    }

    /// Mines until transaction `tx_hash` is [`confiaro_monero::SPENDABLE_AGE`] blocks deep,
    /// so its outputs are spendable. A transfer the wallet has just relayed may miss the next
    /// block's template: then one more block is mined, a few times at most.
    async fn bury(&self, tx_hash: &str) -> Result<(), StackError> {
        let mut waited = 0;
        loop {
            let presence = self
                .daemon
                .tx_presence(tx_hash)
                .await
                .map_err(monero_err("looking up a funding"))?;
            let blocks = match presence {
                TxPresence::Mined { confirmations, .. } => {
                    confiaro_monero::SPENDABLE_AGE.saturating_sub(confirmations)
                }
                TxPresence::InPool | TxPresence::NotFound
                    if waited < Self::MAX_BLOCKS_UNTIL_MINED =>
                {
                    waited += 1;
                    1
                }
                TxPresence::InPool | TxPresence::NotFound => {
                    return Err(StackError::Monero {
                        step: "burying a funding",
                        source: MoneroError::InvalidAnswer {
                            what: "monerod",
                            method: "generateblocks".into(),
                            reason: format!(
                                "transfer {tx_hash} is in no block after {waited} blocks ({presence:?})"
                            ),
                        },
                    });
                }
            };
            if blocks == 0 {
                return Ok(());
            }
            self.mine(blocks).await.map_err(monero_err("mining"))?;
        }
    }
}

/// The running Monero side.
#[derive(Debug)]
struct MoneroHalf {
    monerod: Monerod,
    wallet: WalletRpc,
    miner: Arc<XmrMiner>,
    /// Serializes [`Stack::fund_xmr`] (one wallet, one transfer at a time).
    funding: tokio::sync::Mutex<()>,
}

impl MoneroHalf {
    /// Starts monerod and the wallet RPC with their data under `dir`, opens (or creates) the
    /// devnet wallet and mines until it has unlocked coinbases.
    async fn start(dir: &Path, ports: MoneroPorts) -> Result<MoneroHalf, StackError> {
        let monerod = Monerod::start(&ProcessConfig {
            rpc_port: ports.daemon,
            ..ProcessConfig::new("monerod", dir.join("monerod"))
        })
        .await
        .map_err(monero_err("starting monerod"))?;
        let wallet = match WalletRpc::start(
            &ProcessConfig {
                rpc_port: ports.wallet,
                // the shared play-money wallet: test tools and the CLI's `devnet` commands
                // reach it by the URL the stack prints
                without_login: true,
                ..ProcessConfig::new("monero-wallet-rpc", dir.join("wallets"))
            },
            &monerod.address(),
        )
        .await
        {
            Ok(wallet) => wallet,
            Err(e) => {
                monerod.stop().await;
                return Err(monero_err("starting monero-wallet-rpc")(e));
            }
        };
        match MoneroHalf::fund(&monerod, &wallet).await {
            Ok(miner) => Ok(MoneroHalf {
                monerod,
                wallet,
                miner: Arc::new(miner),
                funding: tokio::sync::Mutex::new(()),
            }),
            Err(e) => {
                wallet.stop().await;
                monerod.stop().await;
                Err(e)
            }
        }
    }

    /// Opens or creates the devnet wallet and mines to it up to [`XMR_FUNDED_HEIGHT`].
    async fn fund(monerod: &Monerod, wallet: &WalletRpc) -> Result<XmrMiner, StackError> {
        let client = wallet.client();
        match client.open_wallet(XMR_WALLET, "").await {
            Ok(()) => {}
            Err(MoneroError::Rpc { .. }) => client
                .create_wallet(XMR_WALLET, "")
                .await
                .map_err(monero_err("creating the devnet wallet"))?,
            Err(e) => return Err(monero_err("opening the devnet wallet")(e)),
        }
        let address = client
            .address()
            .await
            .map_err(monero_err("reading the devnet wallet's address"))?;
        let miner = XmrMiner {
            daemon: monerod.client().clone(),
            to: address,
            lock: tokio::sync::Mutex::new(()),
        };
        let height = monerod
            .client()
            .height()
            .await
            .map_err(monero_err("reading monerod's height"))?;
        if height < XMR_FUNDED_HEIGHT {
            miner
                .mine(XMR_FUNDED_HEIGHT - height)
                .await
                .map_err(monero_err("mining the devnet wallet's coins"))?;
        }
        client
            .refresh()
            .await
            .map_err(monero_err("refreshing the devnet wallet"))?;
        Ok(miner)
    }

    async fn stop(self) {
        self.wallet.stop().await;
        self.monerod.stop().await;
    }
}

/// Maps a Monero error met while doing `step`, with the install hint and port errors of
/// their own.
fn monero_err(step: &'static str) -> impl Fn(MoneroError) -> StackError {
    move |e| match e {
        MoneroError::BinaryMissing { binary, .. } => StackError::MoneroNotInstalled { binary },
        MoneroError::PortTaken { what, port } => StackError::PortTaken {
            service: what,
            port,
        },
        source => StackError::Monero { step, source },
    }
}

/// A server's start error: a taken port (`bind_error` is "address in use") gets its own.
fn server_err(
    service: &'static str,
    port: u16,
    bind_error: Option<&std::io::Error>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StackError {
    match bind_error {
        Some(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            StackError::PortTaken { service, port }
        }
        _ => StackError::Server {
            service,
            source: Box::new(source),
        },
    }
}

/// Runs blocking node work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StackError> + Send + 'static,
) -> Result<T, StackError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StackError::Task(e.to_string()))?
}

/// A running devnet stack. See the [module docs](self).
pub struct Stack {
    info: StackInfo,
    data_dir: PathBuf,
    /// `None` only inside [`Stack::stop`].
    node: Option<SharedNode>,
    faucet: Faucet,
    runtime: tokio::runtime::Handle,
    rpc: Option<RpcServer>,
    electrum: Option<ElectrumServer>,
    esplora: Option<EsploraServer>,
    monero: Option<MoneroHalf>,
    rendezvous: Option<RendezvousPoint>,
    /// Raised by [`Stack::stop`] (and on drop): every [`AutoMiner`] of this stack stops.
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("data_dir", &self.data_dir)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// Starts the stack described by `config` and writes its [`StackInfo`] to
    /// `<data_dir>/devnet.json`. An existing chain in the data directory is kept; the
    /// Bitcoin mempool starts empty.
    ///
    /// Takes about a second for Bitcoin only; Monero adds monerod's start and, on a new
    /// data directory, mining its 130 funding blocks (10-20 s together).
    ///
    /// # Errors
    ///
    /// [`StackError::NoRuntime`] outside a tokio runtime; [`StackError::DataDir`];
    /// [`StackError::AlreadyRunning`] if a live stack's `devnet.json` is in the data
    /// directory; [`StackError::Node`] if the chain cannot be opened or mined;
    /// [`StackError::PortTaken`] for a fixed port in use; [`StackError::Server`];
    /// [`StackError::MoneroNotInstalled`], [`StackError::Monero`];
    /// [`StackError::Rendezvous`]; [`StackError::InfoFile`] if `devnet.json` cannot be
    /// written. Whatever had started is stopped again.
    pub async fn start(config: StackConfig) -> Result<Stack, StackError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StackError::NoRuntime)?;
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| StackError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        match StackInfo::read(&data_dir) {
            Ok(previous) if process_alive(previous.pid) => {
                return Err(StackError::AlreadyRunning {
                    data_dir,
                    pid: previous.pid,
                })
            }
            // None, stale (the process is gone), or unreadable: this stack replaces it.
            _ => {}
        }

        let open_dir = data_dir.clone();
        let node = blocking(move || Node::open(&open_dir).map_err(StackError::Node)).await?;
        let node: SharedNode = Arc::new(std::sync::Mutex::new(node));
        let faucet = Faucet::devnet();

        let rpc = RpcServer::start_with_faucet(
            Arc::clone(&node),
            RpcConfig {
                port: config.bitcoin_rpc_port,
                user_password: Some((config.rpc_user.clone(), config.rpc_password.clone())),
                cookie_file: Some(data_dir.join(".cookie")),
            },
            Some(faucet),
        )
        .map_err(|e| {
            let bind = match &e {
                RpcError::Bind { source, .. } => Some(std::io::Error::from(source.kind())),
                _ => None,
            };
            server_err("bitcoin rpc", config.bitcoin_rpc_port, bind.as_ref(), e)
        })?;
        let electrum = match config.electrum_port {
            Some(port) => Some(ElectrumServer::start(Arc::clone(&node), port).map_err(|e| {
                let bind = match &e {
                    ElectrumServerError::Bind { source, .. } => {
                        Some(std::io::Error::from(source.kind()))
                    }
                    _ => None,
                };
                server_err("electrum server", port, bind.as_ref(), e)
            })?),
            None => None,
        };
        let esplora = match config.esplora_port {
            Some(port) => Some(EsploraServer::start(Arc::clone(&node), port).map_err(|e| {
                let bind = match &e {
                    EsploraError::Bind { source, .. } => Some(std::io::Error::from(source.kind())),
                    _ => None,
                };
                server_err("esplora server", port, bind.as_ref(), e)
            })?),
            None => None,
        };

        let initial = config.initial_btc_blocks;
        let mining_node = Arc::clone(&node);
        let script = faucet.script_pubkey();
        blocking(move || {
            let mut node = lock(&mining_node);
            let tip = node.tip_height();
            if tip < initial {
                node.mine(initial - tip, &script)?;
            }
            Ok(())
        })
        .await?;

        let rendezvous = match config.rendezvous_port {
            Some(port) => Some(start_rendezvous(port).await?),
            None => None,
        };
        let monero = match config.monero {
            Some(ports) => Some(MoneroHalf::start(&data_dir.join("monero"), ports).await?),
            None => None,
        };

        let info = StackInfo {
            pid: std::process::id(),
            bitcoin_rpc_url: rpc.url(),
            rpc_user: config.rpc_user.clone(),
            rpc_password: config.rpc_password.clone(),
            electrum_url: electrum.as_ref().map(ElectrumServer::url),
            esplora_url: esplora.as_ref().map(EsploraServer::url),
            monerod_url: monero.as_ref().map(|m| m.monerod.url().to_string()),
            monero_wallet_rpc_url: monero.as_ref().map(|m| m.wallet.url().to_string()),
            rendezvous: rendezvous
                .as_ref()
                .and_then(|p| p.addresses().first().map(Multiaddr::to_string)),
            mining_address: faucet.address().to_string(),
        };
        let (shutdown, _) = watch::channel(false);
        let stack = Stack {
            info,
            data_dir,
            node: Some(node),
            faucet,
            runtime,
            rpc: Some(rpc),
            electrum,
            esplora,
            monero,
            rendezvous,
            shutdown,
        };
        if let Err(e) = stack.info.write(&stack.data_dir) {
            stack.stop().await;
            return Err(e);
        }
        Ok(stack)
    }

    /// What clients need to use the stack (as written to `devnet.json`).
    pub fn info(&self) -> &StackInfo {
        &self.info
    }

    /// The Bitcoin node itself, for tests that reorg, evict or inspect. Lock it briefly:
    /// the servers and miners wait while it is held.
    pub fn node(&self) -> &SharedNode {
        self.node
            .as_ref()
            .expect("only stop takes the node, and stop consumes the stack")
    }

    /// The faucet [`Stack::fund_btc`] and the RPC server's `sendtoaddress` pay from (the
    /// devnet's mining key).
    pub fn faucet(&self) -> &Faucet {
        &self.faucet
    }

    /// The JSON-RPC cookie file (`<data_dir>/.cookie`, `__cookie__:<hex>`), removed at stop.
    pub fn cookie_file(&self) -> Option<&Path> {
        self.rpc.as_ref().and_then(RpcServer::cookie_file)
    }

    /// Mines `blocks` Bitcoin blocks to the mining address (with the mempool's
    /// transactions); returns the new tip height.
    ///
    /// # Errors
    ///
    /// [`StackError::Node`] if the kernel refuses a block.
    pub async fn mine_btc(&self, blocks: u32) -> Result<u32, StackError> {
        let node = Arc::clone(self.node());
        let script = self.faucet.script_pubkey();
        blocking(move || {
            let mut node = lock(&node);
            node.mine(blocks, &script)?;
            Ok(node.tip_height())
        })
        .await
    }

    /// Mines `blocks` Monero blocks to the devnet wallet (with the pool's transactions);
    /// returns the new chain height (number of blocks).
    ///
    /// # Errors
    ///
    /// [`StackError::MoneroDisabled`]; [`StackError::Monero`] if monerod fails.
    pub async fn mine_xmr(&self, blocks: u64) -> Result<u64, StackError> {
        let monero = self.monero.as_ref().ok_or(StackError::MoneroDisabled)?;
        monero
            .miner
            .mine(blocks)
            .await
            .map_err(monero_err("mining"))
    }

    /// Pays `amount` to `address` from the devnet's mining key (a real signed P2WPKH spend
    /// of its mature coinbase outputs or change, through the node's mempool; see
    /// [`Faucet::pay`]) and mines one block, so the payment has one confirmation when this
    /// returns. Works for many fundings in a row; when the mining key runs out of spendable
    /// coins, blocks are mined to it (at most 101) until it can pay.
    ///
    /// # Errors
    ///
    /// [`StackError::WrongNetwork`] for a non-regtest address; [`StackError::Funding`] for
    /// an amount below dust or more than the mining key can gather; [`StackError::Node`] if
    /// a block is refused.
    pub async fn fund_btc(
        &self,
        address: &bitcoin::Address,
        amount: Amount,
    ) -> Result<Txid, StackError> {
        if !address
            .as_unchecked()
            .is_valid_for_network(Network::Regtest)
        {
            return Err(StackError::WrongNetwork {
                address: address.to_string(),
            });
        }
        let to = address.script_pubkey();
        let node = Arc::clone(self.node());
        let faucet = self.faucet;
        blocking(move || fund_and_mine(&node, &faucet, &to, amount)).await
    }

    /// Pays `amount` to `address` from the funded devnet wallet and mines 10 blocks, so the
    /// payment is unlocked (spendable) when this returns. Returns the transaction's hash.
    /// Fundings are made one at a time.
    ///
    /// # Errors
    ///
    /// [`StackError::MoneroDisabled`]; [`StackError::Monero`] if the wallet refuses the
    /// transfer (e.g. more than it holds) or monerod fails.
    pub async fn fund_xmr(
        &self,
        address: &monero::Address,
        amount: XmrAmount,
    ) -> Result<String, StackError> {
        let monero = self.monero.as_ref().ok_or(StackError::MoneroDisabled)?;
        let _turn = monero.funding.lock().await;
        let wallet = monero.wallet.client();
        wallet
            .refresh()
            .await
            .map_err(monero_err("refreshing the devnet wallet"))?;
        let sent = match wallet.transfer(address, amount).await {
            Ok(sent) => sent,
            // Everything unlocked is spent or locked as change: unlock more coinbases.
            Err(MoneroError::Rpc { ref message, .. }) if message.contains("not enough") => {
                monero
                    .miner
                    .mine(XMR_COINBASE_UNLOCK)
                    .await
                    .map_err(monero_err("mining"))?;
                wallet
                    .refresh()
                    .await
                    .map_err(monero_err("refreshing the devnet wallet"))?;
                wallet
                    .transfer(address, amount)
                    .await
                    .map_err(monero_err("paying from the devnet wallet"))?
            }
            Err(e) => return Err(monero_err("paying from the devnet wallet")(e)),
        };
        monero.miner.bury(&sent.tx_hash).await?;
        Ok(sent.tx_hash)
    }

    /// Mines on a timer: a Bitcoin block every `btc_every` and a Monero block every
    /// `xmr_every` (`None`: that chain is not mined; Monero is ignored on a stack without
    /// it). Each chain runs on its own task, so neither waits on the other. A failed block
    /// is reported on stderr and mining goes on. Mining stops when the returned handle is
    /// dropped or [stopped](AutoMiner::stop), or when the stack stops.
    ///
    /// Intervals below 10 ms are raised to 10 ms.
    pub fn auto_mine(&self, btc_every: Option<Duration>, xmr_every: Option<Duration>) -> AutoMiner {
        let mut tasks = Vec::new();
        if let Some(every) = btc_every {
            let node = Arc::clone(self.node());
            let script = self.faucet.script_pubkey();
            tasks.push(self.runtime.spawn(on_timer(
                "bitcoin",
                every,
                self.shutdown.subscribe(),
                move || {
                    let node = Arc::clone(&node);
                    let script = script.clone();
                    blocking(move || {
                        lock(&node).mine(1, &script)?;
                        Ok(())
                    })
                },
            )));
        }
        if let (Some(every), Some(monero)) = (xmr_every, &self.monero) {
            let miner = Arc::clone(&monero.miner);
            tasks.push(self.runtime.spawn(on_timer(
                "monero",
                every,
                self.shutdown.subscribe(),
                move || {
                    let miner = Arc::clone(&miner);
                    async move { miner.mine(1).await.map(drop).map_err(monero_err("mining")) }
                },
            )));
        }
        AutoMiner { tasks }
    }

    /// Stops the stack cleanly: auto-miners stop, the rendezvous point stops, the Monero
    /// wallet RPC (which saves the wallet) and monerod stop, the servers shut (the cookie
    /// file goes), the node is flushed and closed, and `devnet.json` is removed.
    ///
    /// The node is closed once nothing else holds it: this waits up to 10 s for clones of
    /// [`Stack::node`] to be dropped, then leaves the closing to the last holder.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(point) = self.rendezvous.take() {
            point.shutdown().await;
        }
        if let Some(monero) = self.monero.take() {
            monero.stop().await;
        }
        let rpc = self.rpc.take();
        let electrum = self.electrum.take();
        let esplora = self.esplora.take();
        let _ = blocking(move || {
            if let Some(rpc) = rpc {
                rpc.shutdown();
            }
            if let Some(electrum) = electrum {
                electrum.shutdown();
            }
            if let Some(esplora) = esplora {
                esplora.shutdown();
            }
            Ok(())
        })
        .await;
        if let Some(node) = self.node.take() {
            let started = Instant::now();
            while Arc::strong_count(&node) > 1 && started.elapsed() < NODE_RELEASE_WAIT {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Closing the kernel's chainstate flushes it to disk; a node still held
            // elsewhere is closed by its last holder.
            let _ = blocking(move || {
                drop(node);
                Ok(())
            })
            .await;
        }
        let _ = std::fs::remove_file(StackInfo::path(&self.data_dir));
    }
}

impl Drop for Stack {
    /// Without [`Stack::stop`]: miners stop, servers shut, the Monero processes are killed,
    /// and `devnet.json` is removed.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let _ = std::fs::remove_file(StackInfo::path(&self.data_dir));
    }
}

/// Starts the devnet rendezvous point on `127.0.0.1:port`.
async fn start_rendezvous(port: u16) -> Result<RendezvousPoint, StackError> {
    const SERVICE: &str = "rendezvous point";
    if port != 0 {
        // libp2p's refusal does not say why; probe the port for a clear error.
        if let Err(e) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            return Err(server_err(
                SERVICE,
                port,
                Some(&std::io::Error::from(e.kind())),
                e,
            ));
        }
    }
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}")
        .parse()
        .expect("a loopback TCP multiaddr is valid");
    RendezvousPoint::start(
        rendezvous_identity(),
        vec![listen],
        // Short registrations are fine on a devnet (tests use seconds).
        RendezvousServerConfig {
            min_ttl: 1,
            ..RendezvousServerConfig::default()
        },
    )
    .await
    .map_err(StackError::Rendezvous)
}

/// [`Stack::fund_btc`]'s work, under the node's lock: pay, topping the faucet up with blocks
/// if it has nothing spendable, then mine the payment.
fn fund_and_mine(
    node: &SharedNode,
    faucet: &Faucet,
    to: &ScriptBuf,
    amount: Amount,
) -> Result<Txid, StackError> {
    let mut node = lock(node);
    let own = faucet.script_pubkey();
    let mut topped_up = 0;
    loop {
        match faucet.pay(&mut node, to, amount) {
            Ok(txid) => {
                node.mine(1, &own)?;
                return Ok(txid);
            }
            Err(FaucetError::InsufficientFunds { .. }) if topped_up < MAX_TOP_UP_BLOCKS => {
                node.mine(1, &own)?;
                topped_up += 1;
            }
            Err(e) => return Err(StackError::Funding(e)),
        }
    }
}

/// Runs `tick` every `every` (the first after one interval) until `shutdown` is raised or
/// its sender is gone. A failed tick is reported on stderr as the `chain` miner's, unless
/// the stack is stopping (its processes are going away).
async fn on_timer<F, Fut>(
    chain: &'static str,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StackError>>,
{
    let mut timer = tokio::time::interval(every.max(Duration::from_millis(10)));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer.tick().await;
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
        }
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = tick().await {
            if !*shutdown.borrow() {
                eprintln!("devnet {chain} miner: {e}");
            }
        }
    }
}

/// Mining on a timer ([`Stack::auto_mine`]). Mining stops when this is dropped or stopped
/// (a block being mined is finished first).
#[derive(Debug)]
pub struct AutoMiner {
    tasks: Vec<JoinHandle<()>>,
}

impl AutoMiner {
    /// Stops mining.
    pub fn stop(self) {}
}

impl Drop for AutoMiner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
