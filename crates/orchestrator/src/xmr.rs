//! The engine's Monero side: its own `monero-wallet-rpc` holding the built-in wallet (keys
//! derived from the mnemonic, file encrypted with a derived password), the daemon client,
//! and one short-lived wallet RPC per sweep (a wallet RPC holds one open wallet, and a sweep
//! restores the lock address's wallet).
//!
//! Money-moving calls on the built-in wallet (locks, withdrawals) are serialized by one lock,
//! so two concurrent swaps never build transfers from the same outputs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use confiaro_monero::process::{ProcessConfig, WalletRpc};
use confiaro_monero::rpc::{Balance, DaemonClient, RpcConfig, TxKeyCheck, WalletClient};
use confiaro_monero::swap::{self, PreparedLock, SweepOutcome, SweepRequest, TxPresence};
use confiaro_monero::MoneroError;
use confiaro_protocol::{Network, XmrAmount};
use monero::{Address, PrivateKey};

use crate::config::MoneroConfig;
use crate::error::EngineError;
use crate::keys::EngineKeys;

/// The built-in wallet's file name.
const WALLET_NAME: &str = "confiaro";
/// Where the restore height of a new wallet is kept.
const RESTORE_HEIGHT_FILE: &str = "restore-height";
/// Blocks before the daemon's height at creation that a new wallet scans from.
const BIRTH_MARGIN_BLOCKS: u64 = 10;
/// Blocks before the first start's height that a new wallet created without a daemon scans
/// from (a day of Monero blocks).
const FRESH_MARGIN_BLOCKS: u64 = 720;
/// How long a sweep waits for the lock's outputs to unlock.
const SWEEP_UNLOCK_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The engine's Monero side.
pub(crate) struct XmrSide {
    daemon: DaemonClient,
    /// The daemon's URL, as the wallet RPCs get it.
    daemon_url: String,
    /// The proxy the wallet RPCs reach the daemon through (Tor), if any.
    daemon_proxy: Option<std::net::SocketAddr>,
    process: tokio::sync::Mutex<Option<WalletRpc>>,
    wallet: WalletClient,
    /// Serializes money-moving calls on the built-in wallet.
    money: tokio::sync::Mutex<()>,
    address: Address,
    password: String,
    binary: PathBuf,
    dir: PathBuf,
}

impl XmrSide {
    /// An `XmrSide` over a wallet RPC that something else runs (no process of its own): for
    /// tests that stand a double in for `monero-wallet-rpc` ([`crate::test_utils`]).
    #[cfg(test)]
    pub(crate) fn over(wallet_url: &str, address: Address, dir: PathBuf) -> XmrSide {
        let config = RpcConfig {
            timeout: Duration::from_secs(5),
            retries: 0,
            ..RpcConfig::default()
        };
        XmrSide {
            daemon: DaemonClient::new(wallet_url, config).expect("a valid URL"),
            daemon_url: wallet_url.to_owned(),
            daemon_proxy: None,
            process: tokio::sync::Mutex::new(None),
            wallet: WalletClient::new(wallet_url, config).expect("a valid URL"),
            money: tokio::sync::Mutex::new(()),
            address,
            password: String::new(),
            binary: PathBuf::from("monero-wallet-rpc"),
            dir,
        }
    }

    /// Records where a freshly created wallet starts on the Monero chain, so its first start
    /// does not scan the whole chain: the daemon's height now (minus a few blocks), or — when
    /// the daemon cannot be reached — a marker meaning "a day before the height at the first
    /// start" (coins may arrive between creation and first start). With `ask_daemon` false
    /// (the daemon is reached through Tor, which does not run yet) it records the marker.
    pub(crate) async fn record_birth(
        data_dir: &Path,
        config: &MoneroConfig,
        ask_daemon: bool,
    ) -> Result<(), EngineError> {
        let dir = data_dir.join("monero");
        std::fs::create_dir_all(&dir)
            .map_err(EngineError::io(format!("creating {}", dir.display())))?;
        let quick = RpcConfig {
            timeout: Duration::from_secs(5),
            retries: 0,
            ..RpcConfig::default()
        };
        let height = match DaemonClient::new(&config.daemon_url, quick) {
            Ok(daemon) if ask_daemon => daemon.height().await.ok(),
            _ => None,
        };
        let text = match height {
            Some(h) => h.saturating_sub(BIRTH_MARGIN_BLOCKS).to_string(),
            None => "fresh".to_owned(),
        };
        std::fs::write(dir.join(RESTORE_HEIGHT_FILE), text)
            .map_err(EngineError::io("writing the Monero restore height"))
    }

    /// Starts the wallet RPC and opens (or restores) the built-in wallet.
    pub(crate) async fn start(
        config: &MoneroConfig,
        keys: &EngineKeys,
        network: Network,
        data_dir: &Path,
    ) -> Result<XmrSide, EngineError> {
        let dir = data_dir.join("monero");
        let mut daemon = DaemonClient::new(&config.daemon_url, RpcConfig::default())?;
        if let Some(proxy) = config.daemon_proxy {
            daemon = daemon.through_proxy(proxy)?;
        }
        let height = daemon.height().await?;
        let process = WalletRpc::start(
            &ProcessConfig {
                binary: config.wallet_rpc_binary.clone(),
                daemon_proxy: config.daemon_proxy,
                ..ProcessConfig::new("monero-wallet-rpc", dir.join("wallet"))
            },
            &config.daemon_url,
        )
        .await?;
        let wallet = process.client().clone();
        let address = keys.monero_address(network);
        let marker = dir.join(RESTORE_HEIGHT_FILE);
        let restore_height = match std::fs::read_to_string(&marker)
            .ok()
            .as_deref()
            .map(str::trim)
        {
            Some("fresh") => height.saturating_sub(FRESH_MARGIN_BLOCKS),
            Some(h) => h.parse().unwrap_or(0),
            None => 0,
        };
        wallet
            .open_or_restore(
                WALLET_NAME,
                &keys.monero_wallet_password,
                &address,
                &keys.monero.spend,
                &keys.monero.view,
                restore_height,
            )
            .await?;
        std::fs::write(&marker, restore_height.to_string())
            .map_err(EngineError::io("writing the Monero restore height"))?;
        Ok(XmrSide {
            daemon,
            daemon_url: config.daemon_url.clone(),
            daemon_proxy: config.daemon_proxy,
            process: tokio::sync::Mutex::new(Some(process)),
            wallet,
            money: tokio::sync::Mutex::new(()),
            address,
            password: keys.monero_wallet_password.clone(),
            binary: config.wallet_rpc_binary.clone(),
            dir,
        })
    }

    /// The daemon's height and sync state.
    pub(crate) async fn daemon_info(
        &self,
    ) -> Result<confiaro_monero::rpc::DaemonInfo, EngineError> {
        Ok(self.daemon.info().await?)
    }

    /// The built-in wallet's address.
    pub(crate) fn address(&self) -> Address {
        self.address
    }

    /// Refreshes the built-in wallet, retrying a few times when the wallet RPC has momentarily
    /// lost its daemon (a busy daemon answers it late).
    async fn refresh(&self) -> Result<(), MoneroError> {
        let mut attempt = 0;
        loop {
            match self.wallet.refresh().await {
                Ok(_) => return Ok(()),
                Err(MoneroError::Rpc { message, .. })
                    if attempt < 4 && message.contains("no connection to daemon") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The built-in wallet's balance, after a refresh.
    pub(crate) async fn balance(&self) -> Result<Balance, EngineError> {
        self.refresh().await?;
        Ok(self.wallet.balance().await?)
    }

    /// Builds (without relaying) the lock transfer of `amount` to `lock_address`. The caller
    /// persists the result, then calls [`XmrSide::publish_lock`]. Holds the money lock until
    /// the returned guard is dropped, so the next transfer is built after this one is relayed.
    pub(crate) async fn prepare_lock(
        &self,
        lock_address: &Address,
        amount: XmrAmount,
    ) -> Result<(PreparedLock, tokio::sync::MutexGuard<'_, ()>), MoneroError> {
        let guard = self.money.lock().await;
        self.refresh().await?;
        let prepared = swap::prepare_lock(&self.wallet, &self.daemon, lock_address, amount).await?;
        Ok((prepared, guard))
    }

    /// Relays a prepared lock; idempotent.
    pub(crate) async fn publish_lock(
        &self,
        lock: &PreparedLock,
    ) -> Result<TxPresence, MoneroError> {
        swap::publish_lock(&self.wallet, &self.daemon, lock).await
    }

    /// The lock money guard, for callers that publish a lock prepared before a restart.
    pub(crate) async fn money_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.money.lock().await
    }

    /// Where our daemon has transaction `tx_hash`: in the pool, mined, or not at all.
    pub(crate) async fn tx_presence(&self, tx_hash: &str) -> Result<TxPresence, MoneroError> {
        self.daemon.tx_presence(tx_hash).await
    }

    /// The unlock time of transaction `tx_hash` by our daemon (`None` while it does not
    /// know the transaction).
    pub(crate) async fn tx_unlock_time(&self, tx_hash: &str) -> Result<Option<u64>, MoneroError> {
        self.daemon.tx_unlock_time(tx_hash).await
    }

    /// What `tx_hash` with key `tx_key` paid to `address`.
    pub(crate) async fn check_transfer(
        &self,
        tx_hash: &str,
        tx_key: &str,
        address: &Address,
    ) -> Result<TxKeyCheck, MoneroError> {
        self.wallet.check_tx_key(tx_hash, tx_key, address).await
    }

    /// A reserve proof of the built-in wallet over `message`, and the wallet's total balance
    /// when it was made (what the proof covers).
    pub(crate) async fn prove_reserves(
        &self,
        message: &str,
    ) -> Result<(String, XmrAmount), EngineError> {
        self.refresh().await?;
        let total = self.wallet.balance().await?.total;
        let signature = swap::prove_reserves(&self.wallet, message).await?;
        Ok((signature, total))
    }

    /// Checks another wallet's reserve proof: the unspent amount it proves, or `None` when it
    /// does not verify for `address` and `message`.
    pub(crate) async fn check_reserves(
        &self,
        address: &Address,
        message: &str,
        signature: &str,
    ) -> Result<Option<XmrAmount>, EngineError> {
        Ok(swap::check_reserves(&self.wallet, address, message, signature).await?)
    }

    /// Sweeps the lock address (restored from the combined keys at `restore_height` in a
    /// wallet RPC of its own) to `destination` once its funds unlock. Idempotent: the restored
    /// wallet is kept under `wallet_name` and a second call finds it swept.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn sweep(
        &self,
        wallet_name: &str,
        lock_address: &Address,
        spend_key: &PrivateKey,
        view_key: &PrivateKey,
        restore_height: u64,
        min_unlocked: XmrAmount,
        destination: &Address,
        on_wait: impl FnMut(u64),
    ) -> Result<SweepOutcome, MoneroError> {
        let process = WalletRpc::start(
            &ProcessConfig {
                binary: self.binary.clone(),
                daemon_proxy: self.daemon_proxy,
                ..ProcessConfig::new(
                    "monero-wallet-rpc",
                    self.dir.join("sweeps").join(wallet_name),
                )
            },
            &self.daemon_url,
        )
        .await?;
        let request = SweepRequest {
            wallet_name,
            lock_address,
            spend_key,
            view_key,
            restore_height,
            min_unlocked,
            destination,
            unlock_timeout: SWEEP_UNLOCK_TIMEOUT,
            wallet_password: &self.password,
        };
        let outcome = swap::sweep(process.client(), &request, on_wait).await;
        process.stop().await;
        outcome
    }

    /// Sends `amount` from the built-in wallet to `to`. Returns the tx hash.
    pub(crate) async fn withdraw(
        &self,
        to: &Address,
        amount: XmrAmount,
    ) -> Result<String, EngineError> {
        let _guard = self.money.lock().await;
        self.refresh().await?;
        let sent = self.wallet.transfer(to, amount).await?;
        self.wallet.store().await?;
        Ok(sent.tx_hash)
    }

    /// Stops the wallet RPC (saving the wallet).
    pub(crate) async fn stop(&self) {
        if let Some(process) = self.process.lock().await.take() {
            let _ = self.wallet.store().await;
            process.stop().await;
        }
    }
}
