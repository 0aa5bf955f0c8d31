//! Typed JSON-RPC clients for `monerod` ([`DaemonClient`]) and `monero-wallet-rpc`
//! ([`WalletClient`]), for exactly the calls a swap makes.
//!
//! Every call has a timeout: [`RpcConfig::timeout`] by default, a longer explicit one for
//! calls that can take long (a wallet's refresh, a restore, a sweep). Calls that only read
//! are retried after transport failures ([`RpcConfig::retries`], doubling backoff); calls
//! that change something (transfer, sweep, create) are never retried blindly — the caller
//! decides, with the state it persisted.

use std::net::SocketAddr;
use std::time::Duration;

use confiaro_protocol::XmrAmount;
use monero::{Address, PrivateKey, PublicKey};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::MoneroError;

/// Timeouts and retries of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcConfig {
    /// Timeout of an ordinary call.
    pub timeout: Duration,
    /// Timeout of calls that scan the chain or build transactions (refresh, restore,
    /// transfer, sweep, reserve proofs).
    pub long_timeout: Duration,
    /// How many times a read-only call is retried after a transport failure.
    pub retries: u32,
    /// The wait before the first retry (doubled each time).
    pub backoff: Duration,
}

impl Default for RpcConfig {
    /// 30 s per call, 10 minutes for long ones, 3 retries from 250 ms.
    fn default() -> Self {
        RpcConfig {
            timeout: Duration::from_secs(30),
            long_timeout: Duration::from_secs(600),
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// Whether a call may be repeated after a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Read-only: retry on transport failures.
    Safe,
    /// Changes state: never retried.
    Never,
}

/// The credentials of an RPC server that asks for a login (`monero-wallet-rpc --rpc-login`),
/// sent by HTTP digest authentication. `Debug` and errors never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcLogin {
    user: String,
    password: String,
}

impl RpcLogin {
    /// The login `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> RpcLogin {
        RpcLogin {
            user: user.into(),
            password: password.into(),
        }
    }

    /// A fresh login with a random password (128 bits from the OS), for a server this
    /// process starts and alone talks to.
    pub fn random() -> RpcLogin {
        let mut bytes = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        RpcLogin::new("confiaro", hex::encode(bytes))
    }

    /// The `user:password` form of `--rpc-login` (for a config file, never a command line:
    /// any local user can read another process's command line).
    pub(crate) fn user_and_password(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }
}

impl std::fmt::Debug for RpcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcLogin")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How many times a request is sent with a fresh digest challenge before the login counts as
/// refused.
const ANSWER_ATTEMPTS: u32 = 6;

/// A login and the server's latest digest challenge (reused, with its nonce count, until
/// the server sends a new one).
///
/// monero-wallet-rpc keeps one digest session per connection: it expects each request's
/// nonce count in turn and answers any other, or a nonce of another connection, with a new
/// nonce (stale), which every request still in flight then fails on. So the requests of one
/// login go one at a time (`in_turn`), in the order of their counts, over one kept-alive
/// connection (one idle connection per host; a 401's body is read so that its connection is
/// reused for the answer); the wallet RPC runs most calls one at a time anyway.
#[derive(Debug)]
struct Digest {
    login: RpcLogin,
    challenge: std::sync::Mutex<Option<digest_auth::WwwAuthenticateHeader>>,
    in_turn: tokio::sync::Mutex<()>,
}

impl Digest {
    /// The `Authorization` header for a POST of `body` to `uri`, once a challenge is known.
    fn authorization(&self, uri: &str, body: &[u8]) -> Option<String> {
        let mut challenge = self.challenge.lock().unwrap_or_else(|p| p.into_inner());
        let context = digest_auth::AuthContext::new_post(
            self.login.user.as_str(),
            self.login.password.as_str(),
            uri,
            Some(body),
        );
        challenge
            .as_mut()?
            .respond(&context)
            .ok()
            .map(|answer| answer.to_header_string())
    }

    /// Takes the server's new challenge; `false` when it is not a digest challenge.
    fn challenged(&self, header: &str) -> bool {
        match digest_auth::parse(header) {
            Ok(challenge) => {
                *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = Some(challenge);
                true
            }
            Err(_) => false,
        }
    }
}

/// A JSON-RPC 2.0 endpoint (`<base>/json_rpc`) with its timeouts.
#[derive(Debug, Clone)]
struct Endpoint {
    what: &'static str,
    base: String,
    http: reqwest::Client,
    config: RpcConfig,
    digest: Option<std::sync::Arc<Digest>>,
}

#[derive(Deserialize)]
struct Response {
    result: Option<Value>,
    error: Option<RpcErrorBody>,
}

#[derive(Deserialize)]
struct RpcErrorBody {
    code: i64,
    message: String,
}

impl Endpoint {
    fn new(what: &'static str, base_url: &str, config: RpcConfig) -> Result<Self, MoneroError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| MoneroError::Spawn {
                what,
                reason: format!("HTTP client: {e}"),
            })?;
        Ok(Endpoint {
            what,
            base: base_url.trim_end_matches('/').to_owned(),
            http,
            config,
            digest: None,
        })
    }

    /// The same endpoint, connecting through the SOCKS5 proxy at `proxy` (e.g. Tor's local
    /// proxy); host names go to the proxy unresolved.
    fn through_proxy(mut self, proxy: SocketAddr) -> Result<Endpoint, MoneroError> {
        let failed = |e: reqwest::Error| MoneroError::Spawn {
            what: self.what,
            reason: format!("HTTP client through the proxy at {proxy}: {e}"),
        };
        let route = reqwest::Proxy::all(format!("socks5h://{proxy}")).map_err(failed)?;
        self.http = reqwest::Client::builder()
            .proxy(route)
            .pool_max_idle_per_host(1)
            .build()
            .map_err(failed)?;
        Ok(self)
    }

    /// The same endpoint, logging in with `login`.
    fn with_login(mut self, login: RpcLogin) -> Endpoint {
        self.digest = Some(std::sync::Arc::new(Digest {
            login,
            challenge: std::sync::Mutex::new(None),
            in_turn: tokio::sync::Mutex::new(()),
        }));
        self
    }

    async fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
        retry: Retry,
    ) -> Result<R, MoneroError> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, &params, timeout).await {
                Err(e @ (MoneroError::Unreachable { .. } | MoneroError::Timeout { .. }))
                    if retry == Retry::Safe && attempt < self.config.retries =>
                {
                    let _ = e;
                    tokio::time::sleep(self.config.backoff * 2u32.saturating_pow(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn call_once<R: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<R, MoneroError> {
        let body = json!({"jsonrpc": "2.0", "id": "0", "method": method, "params": params});
        let (status, bytes) = self.post("json_rpc", method, &body, timeout).await?;
        let parsed: Response = serde_json::from_slice(&bytes)
            .map_err(|e| self.invalid(method, format!("HTTP {status}, not JSON-RPC: {e}")))?;
        if let Some(err) = parsed.error {
            return Err(MoneroError::Rpc {
                what: self.what,
                method: method.to_owned(),
                code: err.code,
                message: err.message,
            });
        }
        let result = parsed
            .result
            .ok_or_else(|| self.invalid(method, "neither result nor error".into()))?;
        serde_json::from_value(result).map_err(|e| self.invalid(method, e.to_string()))
    }

    /// Calls one of the daemon's plain JSON endpoints (`<base>/<path>`, not JSON-RPC), whose
    /// answer carries a `status` that is `"OK"` on success. Retried like [`Endpoint::call`].
    async fn call_plain<R: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
        timeout: Duration,
        retry: Retry,
    ) -> Result<R, MoneroError> {
        #[derive(Deserialize)]
        struct Status {
            #[serde(default)]
            status: String,
        }
        let mut attempt = 0;
        loop {
            match self.post(path, path, &body, timeout).await {
                Err(MoneroError::Unreachable { .. } | MoneroError::Timeout { .. })
                    if retry == Retry::Safe && attempt < self.config.retries =>
                {
                    tokio::time::sleep(self.config.backoff * 2u32.saturating_pow(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
                Ok((http, bytes)) => {
                    let status: Status = serde_json::from_slice(&bytes)
                        .map_err(|e| self.invalid(path, format!("HTTP {http}, not JSON: {e}")))?;
                    if status.status != "OK" {
                        return Err(MoneroError::Rpc {
                            what: self.what,
                            method: path.to_owned(),
                            code: 0,
                            message: status.status,
                        });
                    }
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| self.invalid(path, e.to_string()));
                }
            }
        }
    }

    /// POSTs `body` to `<base>/<path>`; the HTTP status and the body of the answer.
    async fn post(
        &self,
        path: &str,
        method: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), MoneroError> {
        let url = format!("{}/{path}", self.base);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                MoneroError::Timeout {
                    what: self.what,
                    url: self.base.clone(),
                    method: method.to_owned(),
                    after: timeout,
                }
            } else {
                MoneroError::Unreachable {
                    what: self.what,
                    url: self.base.clone(),
                    reason: error_chain(&e),
                }
            }
        };
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let uri = format!("/{path}");
        // one request of this login at a time, in nonce-count order (see `Digest`)
        let _turn = match &self.digest {
            Some(digest) => Some(digest.in_turn.lock().await),
            None => None,
        };
        // the first request of a login, or one with a stale nonce, gets a new challenge and
        // is answered again; a server that refuses the answer to a fresh challenge refuses us
        for attempt in 1..=ANSWER_ATTEMPTS {
            let mut request = self
                .http
                .post(&url)
                .timeout(timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(authorization) = self
                .digest
                .as_ref()
                .and_then(|d| d.authorization(&uri, &body))
            {
                request = request.header(reqwest::header::AUTHORIZATION, authorization);
            }
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                let challenge = response
                    .headers()
                    .get_all(reqwest::header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|h| h.to_str().ok())
                    .find(|h| h.starts_with("Digest"))
                    .map(str::to_owned);
                // the session is the connection's: read the body so that the answer to the
                // challenge goes on this same connection (a dropped, unread answer closes
                // it), and give the connection a moment to return to the pool (else the
                // answer goes on a new connection, stale there, which then holds the next
                // challenge: the attempt after that lands)
                let _ = response.bytes().await;
                match (&self.digest, challenge) {
                    (Some(digest), Some(challenge)) if digest.challenged(&challenge) => {
                        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                        continue;
                    }
                    _ => break,
                }
            }
            let bytes = response.bytes().await.map_err(transport)?;
            return Ok((status, bytes.to_vec()));
        }
        Err(MoneroError::Unauthorized {
            what: self.what,
            url: self.base.clone(),
        })
    }

    fn invalid(&self, method: &str, reason: String) -> MoneroError {
        MoneroError::InvalidAnswer {
            what: self.what,
            method: method.to_owned(),
            reason,
        }
    }
}

/// The error and its sources in one line (reqwest hides the OS error in its sources).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The daemon's view of the chain, from `get_info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DaemonInfo {
    /// The chain height (number of blocks, so the top block is `height - 1`).
    pub height: u64,
    /// Whether the daemon is still syncing.
    #[serde(default)]
    pub busy_syncing: bool,
    /// The height the daemon's peers claim (0 when it has none above its own): a daemon
    /// whose `height` is well below it is behind the network.
    #[serde(default)]
    pub target_height: u64,
    /// The network the daemon runs, as it names it: `mainnet`, `stagenet`, `testnet`, or
    /// `fakechain` (regtest); empty if it does not say.
    #[serde(default)]
    pub nettype: String,
    /// Whether the daemon runs on regtest (`nettype` "fakechain").
    #[serde(skip)]
    pub regtest: bool,
}

/// A client of `monerod`'s JSON-RPC.
#[derive(Debug, Clone)]
pub struct DaemonClient {
    endpoint: Endpoint,
}

impl DaemonClient {
    /// A client for the daemon at `url` (e.g. `http://127.0.0.1:18081`). Does not connect.
    ///
    /// # Errors
    ///
    /// [`MoneroError::Spawn`] if the HTTP client cannot be built.
    pub fn new(url: &str, config: RpcConfig) -> Result<Self, MoneroError> {
        Ok(DaemonClient {
            endpoint: Endpoint::new("monerod", url, config)?,
        })
    }

    /// The same client, reaching the daemon through the SOCKS5 proxy at `proxy` (e.g. Tor's
    /// local proxy).
    ///
    /// # Errors
    ///
    /// [`MoneroError::Spawn`] if the HTTP client cannot be built.
    pub fn through_proxy(self, proxy: SocketAddr) -> Result<DaemonClient, MoneroError> {
        Ok(DaemonClient {
            endpoint: self.endpoint.through_proxy(proxy)?,
        })
    }

    /// The daemon's URL.
    pub fn url(&self) -> &str {
        &self.endpoint.base
    }

    /// Height and sync state (`get_info`). Retried on transport failures.
    ///
    /// # Errors
    ///
    /// [`MoneroError::Unreachable`], [`MoneroError::Timeout`], or the daemon's error.
    pub async fn info(&self) -> Result<DaemonInfo, MoneroError> {
        let raw: Value = self
            .endpoint
            .call(
                "get_info",
                json!({}),
                self.endpoint.config.timeout,
                Retry::Safe,
            )
            .await?;
        let mut info: DaemonInfo =
            serde_json::from_value(raw.clone()).map_err(|e| MoneroError::InvalidAnswer {
                what: "monerod",
                method: "get_info".into(),
                reason: e.to_string(),
            })?;
        info.regtest = raw["nettype"].as_str() == Some("fakechain");
        Ok(info)
    }

    /// The chain height (number of blocks). Retried on transport failures.
    ///
    /// # Errors
    ///
    /// As [`DaemonClient::info`].
    pub async fn height(&self) -> Result<u64, MoneroError> {
        Ok(self.info().await?.height)
    }

    /// Mines `blocks` blocks paying `to` (regtest only, `generateblocks`); returns the new
    /// height. Not retried.
    ///
    /// # Errors
    ///
    /// The daemon's error (e.g. not on regtest), or a transport error.
    pub async fn generate_blocks(&self, blocks: u64, to: &Address) -> Result<u64, MoneroError> {
        #[derive(Deserialize)]
        struct Generated {
            height: u64,
        }
        let generated: Generated = self
            .endpoint
            .call(
                "generateblocks",
                json!({"amount_of_blocks": blocks, "wallet_address": to.to_string()}),
                self.endpoint.config.long_timeout,
                Retry::Never,
            )
            .await?;
        // `height` is the height of the last block mined; the chain has one more block.
        Ok(generated.height + 1)
    }

    /// Whether the daemon has transaction `tx_hash` (hex), in its pool or its chain
    /// (`/get_transactions`, the daemon's plain JSON endpoint). Retried on transport
    /// failures. A `tx_hash` that is not 64 hex digits names no transaction:
    /// [`TxPresence::NotFound`].
    ///
    /// # Errors
    ///
    /// [`MoneroError::Unreachable`], [`MoneroError::Timeout`], the daemon's error, or
    /// [`MoneroError::InvalidAnswer`] if it answers about another transaction.
    pub async fn tx_presence(&self, tx_hash: &str) -> Result<TxPresence, MoneroError> {
        #[derive(Deserialize)]
        struct Entry {
            tx_hash: String,
            #[serde(default)]
            in_pool: bool,
            #[serde(default)]
            block_height: u64,
            #[serde(default)]
            confirmations: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Transactions {
            #[serde(default)]
            txs: Vec<Entry>,
        }
        if !is_hex32(tx_hash) {
            return Ok(TxPresence::NotFound);
        }
        let found: Transactions = self
            .endpoint
            .call_plain(
                "get_transactions",
                json!({"txs_hashes": [tx_hash], "decode_as_json": false, "prune": true}),
                self.endpoint.config.timeout,
                Retry::Safe,
            )
            .await?;
        // An unknown hash is listed in `missed_tx` and leaves `txs` empty.
        let Some(entry) = found.txs.into_iter().next() else {
            return Ok(TxPresence::NotFound);
        };
        if !entry.tx_hash.eq_ignore_ascii_case(tx_hash) {
            return Err(MoneroError::InvalidAnswer {
                what: "monerod",
                method: "get_transactions".into(),
                reason: format!("asked for {tx_hash}, got {}", entry.tx_hash),
            });
        }
        if entry.in_pool {
            return Ok(TxPresence::InPool);
        }
        let confirmations = match entry.confirmations {
            Some(confirmations) => confirmations,
            // Daemons before 0.18 do not count: the chain height minus the block's height.
            None => self.height().await?.saturating_sub(entry.block_height),
        };
        Ok(TxPresence::Mined {
            height: entry.block_height,
            confirmations,
        })
    }

    /// The `unlock_time` of transaction `tx_hash` (0 for an ordinary transfer), or `None`
    /// when the daemon does not know it. A swap refuses a lock whose outputs stay locked
    /// longer than the usual 10 blocks.
    ///
    /// # Errors
    ///
    /// Transport errors, the daemon's error, or [`MoneroError::InvalidAnswer`] when its JSON
    /// form of the transaction has no unlock time.
    pub async fn tx_unlock_time(&self, tx_hash: &str) -> Result<Option<u64>, MoneroError> {
        #[derive(Deserialize)]
        struct Entry {
            tx_hash: String,
            #[serde(default)]
            as_json: String,
        }
        #[derive(Deserialize)]
        struct Transactions {
            #[serde(default)]
            txs: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Prefix {
            unlock_time: u64,
        }
        if !is_hex32(tx_hash) {
            return Ok(None);
        }
        let found: Transactions = self
            .endpoint
            .call_plain(
                "get_transactions",
                json!({"txs_hashes": [tx_hash], "decode_as_json": true, "prune": true}),
                self.endpoint.config.timeout,
                Retry::Safe,
            )
            .await?;
        let Some(entry) = found
            .txs
            .into_iter()
            .find(|e| e.tx_hash.eq_ignore_ascii_case(tx_hash))
        else {
            return Ok(None);
        };
        let prefix: Prefix =
            serde_json::from_str(&entry.as_json).map_err(|e| MoneroError::InvalidAnswer {
                what: "monerod",
                method: "get_transactions".into(),
                reason: format!("no unlock_time in the transaction's JSON: {e}"),
            })?;
        Ok(Some(prefix.unlock_time))
    }
}

/// Where the daemon has a transaction, from `/get_transactions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TxPresence {
    /// Neither in the pool nor in the chain (never relayed, dropped, or not yet propagated to
    /// this daemon).
    NotFound,
    /// In the daemon's pool, waiting to be mined.
    InPool,
    /// In the chain.
    Mined {
        /// The height of the block that holds it.
        height: u64,
        /// Its confirmations (1 when in the top block).
        confirmations: u64,
    },
}

/// Balance of a wallet's account 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Everything the wallet holds, locked or not.
    pub total: XmrAmount,
    /// What it can spend now.
    pub unlocked: XmrAmount,
    /// Blocks until everything is unlocked (0 when `total == unlocked`).
    pub blocks_to_unlock: u64,
}

/// A transfer's identifiers, from `transfer`. Its `Debug` output leaves out the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SentTransfer {
    /// The transaction hash (hex).
    pub tx_hash: String,
    /// The transaction's private key (hex): with it anyone can prove what it paid to an
    /// address. Not a spend key.
    pub tx_key: String,
    /// The amount sent.
    pub amount: XmrAmount,
    /// The fee paid.
    pub fee: XmrAmount,
}

impl std::fmt::Debug for SentTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentTransfer")
            .field("tx_hash", &self.tx_hash)
            .field("tx_key", &"<redacted>")
            .field("amount", &self.amount)
            .field("fee", &self.fee)
            .finish()
    }
}

/// A transfer the wallet built and signed but did not relay, from `transfer` with
/// `do_not_relay`. Its `Debug` output leaves out the key and the metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct UnrelayedTransfer {
    /// The transaction hash (hex).
    pub tx_hash: String,
    /// The transaction's private key (hex), as in [`SentTransfer::tx_key`].
    pub tx_key: String,
    /// The wallet's serialized pending transaction (hex), which `relay_tx` takes: the signed
    /// transaction and the wallet outputs it spends.
    pub tx_metadata: String,
    /// The amount it sends.
    pub amount: XmrAmount,
    /// The fee it pays.
    pub fee: XmrAmount,
}

impl std::fmt::Debug for UnrelayedTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnrelayedTransfer")
            .field("tx_hash", &self.tx_hash)
            .field("tx_key", &"<redacted>")
            .field("tx_metadata", &"<redacted>")
            .field("amount", &self.amount)
            .field("fee", &self.fee)
            .finish()
    }
}

/// What `check_tx_key` says a transaction paid to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxKeyCheck {
    /// Confirmations (0 when in the pool).
    pub confirmations: u64,
    /// Whether it is still in the daemon's pool.
    pub in_pool: bool,
    /// The amount it paid to the address.
    pub received: XmrAmount,
}

/// Result of `check_reserve_proof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveCheck {
    /// Whether the proof is valid for the address and message.
    pub good: bool,
    /// Total amount the proof covers.
    pub total: XmrAmount,
    /// Of which already spent.
    pub spent: XmrAmount,
}

/// A client of one `monero-wallet-rpc` process (which holds at most one open wallet).
#[derive(Debug, Clone)]
pub struct WalletClient {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct Empty {}

/// Whether `text` is 32 bytes in hex (a transaction hash or key).
pub(crate) fn is_hex32(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn amount(pico: u64) -> XmrAmount {
    XmrAmount::from_piconero(pico)
}

impl WalletClient {
    /// A client for the wallet RPC at `url` (e.g. `http://127.0.0.1:18083`). Does not
    /// connect.
    ///
    /// # Errors
    ///
    /// [`MoneroError::Spawn`] if the HTTP client cannot be built.
    pub fn new(url: &str, config: RpcConfig) -> Result<Self, MoneroError> {
        Ok(WalletClient {
            endpoint: Endpoint::new("monero-wallet-rpc", url, config)?,
        })
    }

    /// The same client, logging in with `login` (a wallet RPC started with `--rpc-login`).
    pub fn with_login(self, login: RpcLogin) -> WalletClient {
        WalletClient {
            endpoint: self.endpoint.with_login(login),
        }
    }

    /// The wallet RPC's URL.
    pub fn url(&self) -> &str {
        &self.endpoint.base
    }

    fn timeout(&self) -> Duration {
        self.endpoint.config.timeout
    }

    fn long(&self) -> Duration {
        self.endpoint.config.long_timeout
    }

    /// Creates wallet file `filename` in the RPC's wallet directory and opens it.
    ///
    /// # Errors
    ///
    /// The RPC's error (e.g. the file exists), or a transport error.
    pub async fn create_wallet(&self, filename: &str, password: &str) -> Result<(), MoneroError> {
        let _: Empty = self
            .endpoint
            .call(
                "create_wallet",
                json!({"filename": filename, "password": password, "language": "English"}),
                self.long(),
                Retry::Never,
            )
            .await?;
        Ok(())
    }

    /// Opens existing wallet file `filename` (closing any open wallet).
    ///
    /// # Errors
    ///
    /// The RPC's error (no such file, wrong password), or a transport error.
    pub async fn open_wallet(&self, filename: &str, password: &str) -> Result<(), MoneroError> {
        let _: Empty = self
            .endpoint
            .call(
                "open_wallet",
                json!({"filename": filename, "password": password}),
                self.long(),
                Retry::Safe,
            )
            .await?;
        Ok(())
    }

    /// Saves and closes the open wallet.
    ///
    /// # Errors
    ///
    /// The RPC's error, or a transport error.
    pub async fn close_wallet(&self) -> Result<(), MoneroError> {
        let _: Empty = self
            .endpoint
            .call("close_wallet", json!({}), self.long(), Retry::Never)
            .await?;
        Ok(())
    }

    /// Creates wallet file `filename` from keys and opens it: a view-only wallet when
    /// `spend` is `None`. The wallet scans from `restore_height` (never give 0 for a swap:
    /// the lock height is enough and far faster).
    ///
    /// # Errors
    ///
    /// [`MoneroError::Rpc`] if the file exists or the keys do not match `address`; a
    /// transport error.
    pub async fn generate_from_keys(
        &self,
        filename: &str,
        address: &Address,
        spend: Option<&PrivateKey>,
        view: &PrivateKey,
        restore_height: u64,
        password: &str,
    ) -> Result<(), MoneroError> {
        let _: Value = self
            .endpoint
            .call(
                "generate_from_keys",
                json!({
                    "filename": filename,
                    "address": address.to_string(),
                    "spendkey": spend.map(|k| hex::encode(k.as_bytes())).unwrap_or_default(),
                    "viewkey": hex::encode(view.as_bytes()),
                    "restore_height": restore_height,
                    "password": password,
                    "autosave_current": true,
                }),
                self.long(),
                Retry::Never,
            )
            .await?;
        Ok(())
    }

    /// The primary address of the open wallet.
    ///
    /// # Errors
    ///
    /// The RPC's error (no wallet open), or a transport error.
    pub async fn address(&self) -> Result<Address, MoneroError> {
        #[derive(Deserialize)]
        struct A {
            address: String,
        }
        let a: A = self
            .endpoint
            .call(
                "get_address",
                json!({"account_index": 0}),
                self.timeout(),
                Retry::Safe,
            )
            .await?;
        a.address.parse().map_err(|e| MoneroError::InvalidAnswer {
            what: "monero-wallet-rpc",
            method: "get_address".into(),
            reason: format!("address: {e}"),
        })
    }

    /// The open wallet's balance (as of its last refresh).
    ///
    /// # Errors
    ///
    /// The RPC's error, or a transport error.
    pub async fn balance(&self) -> Result<Balance, MoneroError> {
        #[derive(Deserialize)]
        struct B {
            balance: u64,
            unlocked_balance: u64,
            #[serde(default)]
            blocks_to_unlock: u64,
        }
        let b: B = self
            .endpoint
            .call(
                "get_balance",
                json!({"account_index": 0}),
                self.timeout(),
                Retry::Safe,
            )
            .await?;
        Ok(Balance {
            total: amount(b.balance),
            unlocked: amount(b.unlocked_balance),
            blocks_to_unlock: b.blocks_to_unlock,
        })
    }

    /// Scans new blocks (`refresh`), with the long timeout; returns the blocks fetched.
    ///
    /// # Errors
    ///
    /// [`MoneroError::Timeout`] if the scan takes longer; the RPC's error (e.g. no daemon
    /// connection); a transport error.
    pub async fn refresh(&self) -> Result<u64, MoneroError> {
        #[derive(Deserialize)]
        struct R {
            blocks_fetched: u64,
        }
        let r: R = self
            .endpoint
            .call("refresh", json!({}), self.long(), Retry::Safe)
            .await?;
        Ok(r.blocks_fetched)
    }

    /// The wallet's scanned height.
    ///
    /// # Errors
    ///
    /// The RPC's error, or a transport error.
    pub async fn height(&self) -> Result<u64, MoneroError> {
        #[derive(Deserialize)]
        struct H {
            height: u64,
        }
        let h: H = self
            .endpoint
            .call("get_height", json!({}), self.timeout(), Retry::Safe)
            .await?;
        Ok(h.height)
    }

    /// Sends `amount` to `to` and returns the transaction's hash and key. Never retried:
    /// after a transport error, check the wallet's transfers before sending again.
    ///
    /// # Errors
    ///
    /// The RPC's error (not enough unlocked money, ...), or a transport error.
    pub async fn transfer(
        &self,
        to: &Address,
        amount_to_send: XmrAmount,
    ) -> Result<SentTransfer, MoneroError> {
        #[derive(Deserialize)]
        struct T {
            tx_hash: String,
            tx_key: String,
            amount: u64,
            fee: u64,
        }
        let t: T = self
            .endpoint
            .call(
                "transfer",
                json!({
                    "destinations": [{"amount": amount_to_send.as_piconero(), "address": to.to_string()}],
                    "get_tx_key": true,
                }),
                self.long(),
                Retry::Never,
            )
            .await?;
        Ok(SentTransfer {
            tx_hash: t.tx_hash,
            tx_key: t.tx_key,
            amount: amount(t.amount),
            fee: amount(t.fee),
        })
    }

    /// Builds and signs a transfer of `amount_to_send` to `to` without relaying it
    /// (`transfer` with `do_not_relay`, `get_tx_key` and `get_tx_metadata`); publish it
    /// with [`WalletClient::relay_tx`]. The wallet does not mark the outputs it spends as
    /// spent until then: a second transfer built before the relay may pick the same ones.
    /// Not retried (harmless, but the caller decides).
    ///
    /// # Errors
    ///
    /// The RPC's error (not enough unlocked money, ...), or a transport error.
    pub async fn transfer_unrelayed(
        &self,
        to: &Address,
        amount_to_send: XmrAmount,
    ) -> Result<UnrelayedTransfer, MoneroError> {
        #[derive(Deserialize)]
        struct T {
            tx_hash: String,
            tx_key: String,
            tx_metadata: String,
            amount: u64,
            fee: u64,
        }
        let t: T = self
            .endpoint
            .call(
                "transfer",
                json!({
                    "destinations": [{"amount": amount_to_send.as_piconero(), "address": to.to_string()}],
                    "get_tx_key": true,
                    "get_tx_metadata": true,
                    "do_not_relay": true,
                }),
                self.long(),
                Retry::Never,
            )
            .await?;
        Ok(UnrelayedTransfer {
            tx_hash: t.tx_hash,
            tx_key: t.tx_key,
            tx_metadata: t.tx_metadata,
            amount: amount(t.amount),
            fee: amount(t.fee),
        })
    }

    /// Relays a transaction built by [`WalletClient::transfer_unrelayed`] from its
    /// metadata (`relay_tx`): the wallet sends it to its daemon and, on success, records it
    /// as an outgoing transaction and marks the outputs it spends as spent. Returns the
    /// transaction hash. Not retried: after an error, ask the daemon whether it has the
    /// transaction.
    ///
    /// The wallet treats the metadata's outputs as indices into its list of received
    /// outputs: the wallet must have scanned at least as far as when the transfer was built.
    ///
    /// # Errors
    ///
    /// The RPC's error (malformed metadata; "Failed to commit tx." when the daemon rejected
    /// it, e.g. because its outputs were spent by another transaction, or could not be
    /// reached), or a transport error.
    pub async fn relay_tx(&self, tx_metadata: &str) -> Result<String, MoneroError> {
        #[derive(Deserialize)]
        struct R {
            tx_hash: String,
        }
        let r: R = self
            .endpoint
            .call(
                "relay_tx",
                json!({"hex": tx_metadata}),
                self.long(),
                Retry::Never,
            )
            .await?;
        Ok(r.tx_hash)
    }

    /// Asks the daemon which of the wallet's outputs are spent, in the chain or in the
    /// pool, and marks them so (`rescan_spent`; needs a trusted daemon). After a restart
    /// that lost the wallet's record of a relayed transaction, the wallet learns again
    /// that its inputs are spent only from this (a refresh marks them when the
    /// transaction is mined, not while it is in the pool).
    ///
    /// # Errors
    ///
    /// The RPC's error ("This command requires a trusted daemon."), or a transport error.
    pub async fn rescan_spent(&self) -> Result<(), MoneroError> {
        let _: Empty = self
            .endpoint
            .call("rescan_spent", json!({}), self.long(), Retry::Safe)
            .await?;
        Ok(())
    }

    /// Saves the open wallet file (`store`).
    ///
    /// # Errors
    ///
    /// The RPC's error (no wallet open), or a transport error.
    pub async fn store(&self) -> Result<(), MoneroError> {
        let _: Empty = self
            .endpoint
            .call("store", json!({}), self.long(), Retry::Safe)
            .await?;
        Ok(())
    }

    /// Opens wallet `name` with `password`; if it does not exist, restores it from the
    /// given keys (`generate_from_keys`) at `restore_height`, protected by `password`, and
    /// opens it. Either way the open wallet is then the wallet of `address`.
    ///
    /// # Errors
    ///
    /// [`MoneroError::KeysMismatch`] if the keys are not those of `address` (checked here
    /// first); the RPC's refusal to open an existing file (a wrong password gives code -1,
    /// "Failed to open wallet"); [`MoneroError::WrongWallet`] if the file holds the wallet
    /// of another address; the RPC's refusal to restore; a transport error.
    pub async fn open_or_restore(
        &self,
        name: &str,
        password: &str,
        address: &Address,
        spend_key: &PrivateKey,
        view_key: &PrivateKey,
        restore_height: u64,
    ) -> Result<(), MoneroError> {
        // wallet-rpc 0.18 restores from a spend key that does not match the address.
        if PublicKey::from_private_key(spend_key) != address.public_spend
            || PublicKey::from_private_key(view_key) != address.public_view
        {
            return Err(MoneroError::KeysMismatch {
                wallet: name.to_owned(),
            });
        }
        // wallet-rpc answers "Failed to open wallet" both for a missing file and a wrong
        // password: try to restore, and if the file exists, the open's error stands.
        match self.open_wallet(name, password).await {
            Ok(()) => {}
            Err(open_error @ MoneroError::Rpc { .. }) => {
                return match self
                    .generate_from_keys(
                        name,
                        address,
                        Some(spend_key),
                        view_key,
                        restore_height,
                        password,
                    )
                    .await
                {
                    Ok(()) => Ok(()),
                    Err(MoneroError::Rpc { message, .. }) if message.contains("already exists") => {
                        Err(open_error)
                    }
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
        if self.address().await? != *address {
            return Err(MoneroError::WrongWallet {
                wallet: name.to_owned(),
            });
        }
        Ok(())
    }

    /// What transaction `tx_hash`, with private key `tx_key`, paid to `address`
    /// (`check_tx_key`; needs no wallet of that address).
    ///
    /// # Errors
    ///
    /// The RPC's error (unknown transaction, malformed key), or a transport error.
    pub async fn check_tx_key(
        &self,
        tx_hash: &str,
        tx_key: &str,
        address: &Address,
    ) -> Result<TxKeyCheck, MoneroError> {
        #[derive(Deserialize)]
        struct C {
            confirmations: u64,
            in_pool: bool,
            received: u64,
        }
        let c: C = self
            .endpoint
            .call(
                "check_tx_key",
                json!({"txid": tx_hash, "tx_key": tx_key, "address": address.to_string()}),
                self.timeout(),
                Retry::Safe,
            )
            .await?;
        Ok(TxKeyCheck {
            // A pool transaction reports a huge or zero count depending on the version.
            confirmations: if c.in_pool { 0 } else { c.confirmations },
            in_pool: c.in_pool,
            received: amount(c.received),
        })
    }

    /// Sends everything unlocked in the open wallet to `to`; returns the transaction hashes
    /// and the total amount sent (after fees). Never retried.
    ///
    /// # Errors
    ///
    /// The RPC's error (e.g. nothing unlocked), or a transport error.
    pub async fn sweep_all(&self, to: &Address) -> Result<(Vec<String>, XmrAmount), MoneroError> {
        #[derive(Deserialize)]
        struct S {
            #[serde(default)]
            tx_hash_list: Vec<String>,
            #[serde(default)]
            amount_list: Vec<u64>,
        }
        let s: S = self
            .endpoint
            .call(
                "sweep_all",
                json!({"address": to.to_string(), "account_index": 0}),
                self.long(),
                Retry::Never,
            )
            .await?;
        let total = s
            .amount_list
            .iter()
            .copied()
            .fold(0u64, u64::saturating_add);
        Ok((s.tx_hash_list, amount(total)))
    }

    /// The hashes of the open wallet's outgoing transactions (confirmed and pending).
    ///
    /// # Errors
    ///
    /// The RPC's error, or a transport error.
    pub async fn outgoing_transfers(&self) -> Result<Vec<String>, MoneroError> {
        #[derive(Deserialize)]
        struct Transfer {
            txid: String,
        }
        #[derive(Deserialize)]
        struct G {
            #[serde(default)]
            out: Vec<Transfer>,
            #[serde(default)]
            pending: Vec<Transfer>,
            #[serde(default)]
            pool: Vec<Transfer>,
        }
        let g: G = self
            .endpoint
            .call(
                "get_transfers",
                json!({"out": true, "pending": true, "pool": true, "account_index": 0}),
                self.timeout(),
                Retry::Safe,
            )
            .await?;
        Ok(g.out
            .into_iter()
            .chain(g.pending)
            .chain(g.pool)
            .map(|t| t.txid)
            .collect())
    }

    /// A proof that the open wallet holds its whole balance, bound to `message`
    /// (`get_reserve_proof` with `all`).
    ///
    /// # Errors
    ///
    /// The RPC's error (e.g. a view-only wallet), or a transport error.
    pub async fn reserve_proof(&self, message: &str) -> Result<String, MoneroError> {
        #[derive(Deserialize)]
        struct P {
            signature: String,
        }
        let p: P = self
            .endpoint
            .call(
                "get_reserve_proof",
                json!({"all": true, "message": message}),
                self.long(),
                Retry::Safe,
            )
            .await?;
        Ok(p.signature)
    }

    /// Checks a reserve proof of `address` for `message` (any open wallet can check).
    ///
    /// # Errors
    ///
    /// The RPC's error (a malformed proof), or a transport error.
    pub async fn check_reserve_proof(
        &self,
        address: &Address,
        message: &str,
        signature: &str,
    ) -> Result<ReserveCheck, MoneroError> {
        #[derive(Deserialize)]
        struct C {
            good: bool,
            #[serde(default)]
            total: u64,
            #[serde(default)]
            spent: u64,
        }
        let c: C = self
            .endpoint
            .call(
                "check_reserve_proof",
                json!({"address": address.to_string(), "message": message, "signature": signature}),
                self.long(),
                Retry::Safe,
            )
            .await?;
        Ok(ReserveCheck {
            good: c.good,
            total: amount(c.total),
            spent: amount(c.spent),
        })
    }
}
