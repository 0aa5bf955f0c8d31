//! The bitcoind JSON-RPC chain source, block by block through `bdk_bitcoind_rpc`'s emitter.
//!
//! Works with Bitcoin Core and with the devnet node. Watching transactions that are not the
//! wallet's ([`ChainSource::tx_status`]) needs `getrawtransaction` to find confirmed
//! transactions: run Bitcoin Core with `-txindex=1` (the devnet always can).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bdk_bitcoind_rpc::bitcoincore_rpc::{self, jsonrpc, RpcApi};
use bdk_bitcoind_rpc::Emitter;
use bdk_wallet::chain::{BlockId, CheckPoint};
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{BlockHash, FeeRate, Script, Transaction, Txid};
use serde_json::{json, Value};

use super::{unix_now, BlockUpdate, ChainSource, ChainUpdate, SourceError, TxStatus};

/// bitcoind's "not found" error code (`RPC_INVALID_ADDRESS_OR_KEY`).
const RPC_NOT_FOUND: i32 = -5;
/// bitcoind's codes for a refused transaction: `RPC_VERIFY_ERROR`, `RPC_VERIFY_REJECTED`,
/// `RPC_VERIFY_ALREADY_IN_CHAIN`.
const RPC_VERIFY_ERROR: i32 = -25;
const RPC_VERIFY_REJECTED: i32 = -26;
const RPC_VERIFY_ALREADY_IN_CHAIN: i32 = -27;

/// bitcoind's JSON-RPC over HTTP through an HTTP `CONNECT` proxy (`jsonrpc`'s own HTTP
/// transport reaches a proxy only by SOCKS, and then for every connection, without timeouts).
struct ProxiedHttp {
    url: String,
    /// The `Authorization` header (never printed).
    authorization: String,
    timeout: Duration,
    proxy: SocketAddr,
}

impl ProxiedHttp {
    fn post<R: serde::de::DeserializeOwned>(
        &self,
        body: &impl serde::Serialize,
    ) -> Result<R, jsonrpc::Error> {
        let transport = |e: Box<dyn std::error::Error + Send + Sync>| jsonrpc::Error::Transport(e);
        let proxy = minreq::Proxy::new(self.proxy.to_string()).map_err(|e| transport(e.into()))?;
        let response = minreq::post(&self.url)
            .with_timeout(self.timeout.as_secs().max(1))
            .with_header("Content-Type", "application/json")
            .with_header("Authorization", &self.authorization)
            .with_body(serde_json::to_vec(body).map_err(jsonrpc::Error::Json)?)
            .with_proxy(proxy)
            .send()
            .map_err(|e| transport(e.into()))?;
        if response.status_code == 401 {
            return Err(transport("HTTP 401 Unauthorized".into()));
        }
        serde_json::from_slice(response.as_bytes()).map_err(|e| {
            transport(format!("HTTP {}: not a JSON-RPC answer ({e})", response.status_code).into())
        })
    }
}

impl jsonrpc::Transport for ProxiedHttp {
    fn send_request(&self, request: jsonrpc::Request) -> Result<jsonrpc::Response, jsonrpc::Error> {
        self.post(&request)
    }

    fn send_batch(
        &self,
        requests: &[jsonrpc::Request],
    ) -> Result<Vec<jsonrpc::Response>, jsonrpc::Error> {
        self.post(&requests)
    }

    fn fmt_target(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} through the proxy at {}", self.url, self.proxy)
    }
}

/// How to authenticate to bitcoind.
#[derive(Clone, PartialEq, Eq)]
pub enum BitcoindAuth {
    /// `rpcuser`/`rpcpassword`.
    UserPass {
        /// The user.
        user: String,
        /// The password (never printed).
        password: String,
    },
    /// The `.cookie` file bitcoind writes in its data directory, read on every connection.
    Cookie(PathBuf),
}

impl std::fmt::Debug for BitcoindAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BitcoindAuth::UserPass { user, .. } => f
                .debug_struct("UserPass")
                .field("user", user)
                .finish_non_exhaustive(),
            BitcoindAuth::Cookie(path) => f.debug_tuple("Cookie").field(path).finish(),
        }
    }
}

/// A [`ChainSource`] over bitcoind's JSON-RPC (Bitcoin Core, or the devnet node's server).
///
/// [`ChainSource::update`] emits every block above the last block the wallet and the node
/// agree on (so a reorg replaces the wallet's stale blocks), then the mempool and the
/// evictions of the wallet's unconfirmed transactions. The emitter keeps its place between
/// calls; syncing another wallet through the same source starts it afresh from that wallet's
/// tip.
pub struct BitcoindSource {
    url: String,
    client: Arc<bitcoincore_rpc::Client>,
    emitter: Option<Emitter<Arc<bitcoincore_rpc::Client>>>,
    /// The last block the emitter emitted (the wallet's tip after applying our update).
    emitted_tip: Option<BlockId>,
    /// `user:password` (never printed).
    login: String,
    timeout: Duration,
}

impl std::fmt::Debug for BitcoindSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitcoindSource")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl BitcoindSource {
    /// A source for bitcoind at `url` (e.g. `http://127.0.0.1:18443`) with `auth`; every call
    /// gives up after `timeout`. Does not connect yet.
    ///
    /// # Errors
    ///
    /// [`SourceError::Failed`] if the URL is not an `http://host:port` URL or the cookie file
    /// cannot be read.
    pub fn new(url: &str, auth: BitcoindAuth, timeout: Duration) -> Result<Self, SourceError> {
        let name = format!("bitcoind at {url}");
        let builder = jsonrpc::simple_http::Builder::new()
            .timeout(timeout)
            .url(url)
            .map_err(|e| SourceError::Failed {
                source_name: name.clone(),
                reason: format!("bad URL: {e}"),
            })?;
        let login = match auth {
            BitcoindAuth::UserPass { user, password } => format!("{user}:{password}"),
            BitcoindAuth::Cookie(path) => std::fs::read_to_string(&path)
                .map_err(|e| SourceError::Failed {
                    source_name: name.clone(),
                    reason: format!("cannot read cookie file {}: {e}", path.display()),
                })?
                .trim()
                .to_owned(),
        };
        // a cookie is `user:password`: both go as the same basic login
        let client = jsonrpc::Client::with_transport(builder.cookie_auth(&login).build());
        Ok(BitcoindSource {
            url: url.to_owned(),
            client: Arc::new(bitcoincore_rpc::Client::from_jsonrpc(client)),
            emitter: None,
            emitted_tip: None,
            login,
            timeout,
        })
    }

    /// The same source, connecting through the HTTP `CONNECT` proxy at `proxy` (e.g. Tor's
    /// local proxy): the node's name goes to the proxy unresolved.
    pub fn through_proxy(mut self, proxy: SocketAddr) -> Self {
        let transport = ProxiedHttp {
            url: self.url.clone(),
            authorization: format!("Basic {}", BASE64.encode(&self.login)),
            timeout: self.timeout,
            proxy,
        };
        self.client = Arc::new(bitcoincore_rpc::Client::from_jsonrpc(
            jsonrpc::Client::with_transport(transport),
        ));
        self.emitter = None;
        self
    }

    /// Maps a client error to a [`SourceError`] naming this source.
    fn error(&self, err: bitcoincore_rpc::Error) -> SourceError {
        let source_name = self.name();
        match err {
            bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Transport(e)) => {
                let reason = e.to_string();
                if reason.contains("401") || reason.to_lowercase().contains("unauthorized") {
                    SourceError::Unauthorized {
                        source_name,
                        reason,
                    }
                } else {
                    SourceError::Unreachable {
                        source_name,
                        reason,
                    }
                }
            }
            bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(e)) => SourceError::Failed {
                source_name,
                reason: format!("{} (code {})", e.message, e.code),
            },
            bitcoincore_rpc::Error::Io(e) => SourceError::Unreachable {
                source_name,
                reason: e.to_string(),
            },
            other => SourceError::Invalid {
                source_name,
                reason: other.to_string(),
            },
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> SourceError {
        SourceError::Invalid {
            source_name: self.name(),
            reason: reason.into(),
        }
    }

    fn call(&self, method: &str, params: &[Value]) -> Result<Value, bitcoincore_rpc::Error> {
        self.client.call(method, params)
    }

    /// The height of `hash` if it is in the node's best chain.
    fn best_chain_height(&self, hash: &BlockHash) -> Result<Option<u32>, SourceError> {
        let header = match self.call("getblockheader", &[json!(hash.to_string()), json!(true)]) {
            Ok(header) => header,
            Err(e) if rpc_code(&e) == Some(RPC_NOT_FOUND) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        if header["confirmations"].as_i64().unwrap_or(-1) < 0 {
            return Ok(None);
        }
        let height = header["height"]
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .ok_or_else(|| self.invalid("getblockheader without a height"))?;
        Ok(Some(height))
    }
}

/// The JSON-RPC error code of a server-side error.
fn rpc_code(err: &bitcoincore_rpc::Error) -> Option<i32> {
    match err {
        bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(e)) => Some(e.code),
        _ => None,
    }
}

impl ChainSource for BitcoindSource {
    fn name(&self) -> String {
        format!("bitcoind at {}", self.url)
    }

    fn update(&mut self, wallet: &bdk_wallet::Wallet) -> Result<ChainUpdate, SourceError> {
        let local: CheckPoint = wallet.latest_checkpoint();
        if self.emitted_tip != Some(local.block_id()) || self.emitter.is_none() {
            let unconfirmed: Vec<Arc<Transaction>> = wallet
                .transactions()
                .filter(|t| !t.chain_position.is_confirmed())
                .map(|t| t.tx_node.tx.clone())
                .collect();
            self.emitter = Some(Emitter::new(
                self.client.clone(),
                local.clone(),
                0,
                unconfirmed,
            ));
        }
        let result = (|| {
            let emitter = self.emitter.as_mut().ok_or(None)?;
            let mut blocks = Vec::new();
            while let Some(event) = emitter.next_block().map_err(Some)? {
                blocks.push(BlockUpdate {
                    height: event.block_height(),
                    connected_to: event.connected_to(),
                    block: event.block,
                });
            }
            let mempool = emitter.mempool_at(unix_now()).map_err(Some)?;
            Ok((blocks, mempool))
        })();
        match result {
            Ok((blocks, mut mempool)) => {
                // The emitter only reports evictions of transactions it saw in the mempool;
                // a wallet transaction confirmed in a block that a reorg replaced, and not
                // back in the mempool, is gone too: report it, or the wallet would keep it
                // as pending forever.
                let fork_height = blocks
                    .first()
                    .map_or(local.height(), |b| b.connected_to.height);
                let still_there: std::collections::HashSet<Txid> = blocks
                    .iter()
                    .flat_map(|b| b.block.txdata.iter().map(Transaction::compute_txid))
                    .chain(mempool.update.iter().map(|(tx, _)| tx.compute_txid()))
                    .chain(mempool.evicted.iter().map(|(txid, _)| *txid))
                    .collect();
                let now = unix_now();
                for t in wallet.transactions() {
                    let anchored_below_fork = match &t.chain_position {
                        bdk_wallet::chain::ChainPosition::Confirmed { anchor, .. } => {
                            anchor.block_id.height <= fork_height
                        }
                        bdk_wallet::chain::ChainPosition::Unconfirmed { .. } => false,
                    };
                    if !anchored_below_fork && !still_there.contains(&t.tx_node.txid) {
                        mempool.evicted.push((t.tx_node.txid, now));
                    }
                }
                self.emitted_tip = Some(
                    blocks
                        .last()
                        .map(|b| BlockId {
                            height: b.height,
                            hash: b.block.block_hash(),
                        })
                        .unwrap_or(local.block_id()),
                );
                Ok(ChainUpdate::Blocks {
                    blocks,
                    mempool: mempool.update,
                    evicted: mempool.evicted,
                })
            }
            Err(e) => {
                // Start afresh from the wallet's tip next time: the emitter may be mid-way.
                self.emitter = None;
                self.emitted_tip = None;
                Err(match e {
                    Some(e) => self.error(e),
                    None => self.invalid("no emitter"),
                })
            }
        }
    }

    fn tip(&mut self) -> Result<BlockId, SourceError> {
        let hash: BlockHash = self
            .client
            .get_best_block_hash()
            .map_err(|e| self.error(e))?;
        let height = self
            .best_chain_height(&hash)?
            .ok_or_else(|| self.invalid(format!("best block {hash} is not in its best chain")))?;
        Ok(BlockId { height, hash })
    }

    fn block_hash(&mut self, height: u32) -> Result<BlockHash, SourceError> {
        self.client
            .get_block_hash(u64::from(height))
            .map_err(|e| self.error(e))
    }

    fn median_time_past(&mut self, block: &BlockId) -> Result<u64, SourceError> {
        let header = self
            .call(
                "getblockheader",
                &[json!(block.hash.to_string()), json!(true)],
            )
            .map_err(|e| self.error(e))?;
        header["mediantime"]
            .as_u64()
            .ok_or_else(|| self.invalid(format!("no mediantime for block {}", block.hash)))
    }

    fn tx_status(&mut self, txid: &Txid, _script_pubkey: &Script) -> Result<TxStatus, SourceError> {
        let info = match self.call("getrawtransaction", &[json!(txid.to_string()), json!(true)]) {
            Ok(info) => info,
            Err(e) if rpc_code(&e) == Some(RPC_NOT_FOUND) => return Ok(TxStatus::NotFound),
            Err(e) => return Err(self.error(e)),
        };
        let Some(hash) = info["blockhash"].as_str() else {
            return Ok(TxStatus::InMempool);
        };
        let hash: BlockHash = hash
            .parse()
            .map_err(|_| self.invalid(format!("bad blockhash for {txid}")))?;
        Ok(match self.best_chain_height(&hash)? {
            Some(height) => TxStatus::Confirmed {
                block: BlockId { height, hash },
            },
            // In a stale block only: the node's mempool would have it back if still valid.
            None => TxStatus::NotFound,
        })
    }

    fn transaction(
        &mut self,
        txid: &Txid,
        _script_pubkey: &Script,
    ) -> Result<Option<Transaction>, SourceError> {
        let hex = match self.call(
            "getrawtransaction",
            &[json!(txid.to_string()), json!(false)],
        ) {
            Ok(hex) => hex,
            Err(e) if rpc_code(&e) == Some(RPC_NOT_FOUND) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let tx: Transaction = hex
            .as_str()
            .and_then(|h| bitcoin::consensus::encode::deserialize_hex(h).ok())
            .ok_or_else(|| self.invalid(format!("getrawtransaction {txid}: not a transaction")))?;
        if tx.compute_txid() != *txid {
            return Err(self.invalid(format!("asked for {txid}, got {}", tx.compute_txid())));
        }
        Ok(Some(tx))
    }

    fn broadcast(&mut self, tx: &Transaction) -> Result<Txid, SourceError> {
        let txid = tx.compute_txid();
        match self.call("sendrawtransaction", &[json!(serialize_hex(tx))]) {
            Ok(_) => Ok(txid),
            Err(e) => match &e {
                bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(rpc)) => match rpc.code {
                    RPC_VERIFY_ALREADY_IN_CHAIN => Ok(txid),
                    _ if rpc.message.contains("txn-already-in-mempool")
                        || rpc.message.contains("txn-already-known") =>
                    {
                        Ok(txid)
                    }
                    RPC_VERIFY_ERROR | RPC_VERIFY_REJECTED => Err(SourceError::Rejected {
                        reason: rpc.message.clone(),
                    }),
                    _ => Err(self.error(e)),
                },
                _ => Err(self.error(e)),
            },
        }
    }

    fn estimate_fee_rate(&mut self, target_blocks: u16) -> Result<Option<FeeRate>, SourceError> {
        let answer = self
            .call("estimatesmartfee", &[json!(target_blocks)])
            .map_err(|e| self.error(e))?;
        // BTC per 1000 vbytes; absent (with "errors") when the node has no estimate.
        let Some(btc_per_kvb) = answer.get("feerate").and_then(Value::as_f64) else {
            return Ok(None);
        };
        let sat_per_kvb = bitcoin::Amount::from_btc(btc_per_kvb)
            .map_err(|e| self.invalid(format!("fee rate {btc_per_kvb}: {e}")))?
            .to_sat();
        // 1 vbyte = 4 weight units: sat/kvB / 4 = sat/kwu.
        Ok(Some(FeeRate::from_sat_per_kwu(sat_per_kvb / 4)))
    }
}
