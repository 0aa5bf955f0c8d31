//! An Esplora REST server (the HTTP API of Blockstream's electrs) for a [`Node`], on loopback
//! over HTTP/1.1.
//!
//! [`EsploraServer::start`] binds `127.0.0.1:<port>` (port 0 picks a free port) and serves
//! each connection on its own thread, with keep-alive, until [`EsploraServer::shutdown`] (or
//! drop). There is no authentication, like a public Esplora.
//!
//! The endpoints are those `esplora-client`'s blocking client calls for `bdk_esplora`'s
//! full scan and sync, broadcasting, fee estimates and transaction status, plus their close
//! relatives, with electrs' JSON shapes, content types, status codes and error texts:
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /blocks/tip/height`, `/blocks/tip/hash` | text |
//! | `GET /blocks[/:start_height]` | JSON: up to 10 blocks from the tip (or the height) down |
//! | `GET /block-height/:height` | text: the hash (404 above the tip) |
//! | `GET /block/:hash` | JSON block info |
//! | `GET /block/:hash/status` | JSON `{in_best_chain, height, next_best}` |
//! | `GET /block/:hash/header`, `/raw`, `/txids`, `/txid/:index`, `/txs[/:start]` | hex, bytes, JSON, text, JSON (25 per page) |
//! | `GET /tx/:txid` | JSON transaction with prevouts, fee and status (404 if unknown) |
//! | `GET /tx/:txid/hex`, `/raw` | hex text, bytes (404 if unknown) |
//! | `GET /tx/:txid/status` | JSON status; an unknown txid is `{"confirmed":false}`, as in electrs |
//! | `GET /tx/:txid/outspend/:vout`, `/outspends` | JSON spending status |
//! | `GET /scripthash/:hash/txs` | up to 50 mempool transactions, newest first, then the 25 newest confirmed |
//! | `GET /scripthash/:hash/txs/chain[/:last_seen_txid]` | the next 25 confirmed, newest first |
//! | `GET /scripthash/:hash/txs/mempool` | up to 50 mempool transactions, newest first |
//! | `GET /address/:address/txs...` | the same for a regtest address |
//! | `GET /mempool/txids` | JSON txids |
//! | `GET /fee-estimates` | JSON map of confirmation target to sat/vB |
//! | `POST /tx` (body: hex) | text txid, or 400 `sendrawtransaction RPC error: {"code":-26,"message":"<Core reject reason>"}` |
//!
//! A script hash is the SHA-256 of the script in hash byte order (not reversed, unlike
//! Electrum's). Malformed hashes, numbers or hex answer 400 with electrs' text (`Invalid hex
//! string`, `Invalid number`, `Invalid scripthash`); unknown paths answer 404 `endpoint does not
//! exist "<path>"`. Nothing a client sends can panic the server.
//!
//! Every request is answered under the node's lock, so each answer is one consistent
//! snapshot (e.g. a history page and the statuses in it).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::hex::FromHex;
use bitcoin::hex::DisplayHex;
use bitcoin::{Address, Amount, Block, BlockHash, Network, OutPoint, Transaction, TxOut, Txid};
use serde_json::{json, Map, Value};

use crate::http::{read_request, write_response};
use crate::rpc::{lock, SharedNode, ESTIMATED_FEERATE_BTC_PER_KVB};
use crate::{Node, RejectReason};

/// How often idle connection threads and the accept loop look at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);

/// Confirmed transactions per page of a script's history (electrs' `CHAIN_TXS_PER_PAGE`).
pub const CHAIN_TXS_PER_PAGE: usize = 25;

/// Mempool transactions in a script's history answer (electrs' `MAX_MEMPOOL_TXS`).
pub const MAX_MEMPOOL_TXS: usize = 50;

/// Blocks in a `/blocks` answer (electrs' `BLOCK_LIMIT`).
pub const BLOCK_LIMIT: u32 = 10;

/// The confirmation targets `/fee-estimates` answers for (electrs asks bitcoind for these).
const FEE_TARGETS: [u16; 28] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 144,
    504, 1008,
];

/// bitcoind's JSON-RPC error codes for a refused `sendrawtransaction`, quoted in the broadcast
/// error text as electrs does.
const RPC_DESERIALIZATION_ERROR: i64 = -22;
const RPC_TRANSACTION_ERROR: i64 = -25;
const RPC_TRANSACTION_REJECTED: i64 = -26;
const RPC_TRANSACTION_ALREADY_IN_CHAIN: i64 = -27;

const TEXT: &str = "text/plain";
const JSON: &str = "application/json";
const OCTETS: &str = "application/octet-stream";

/// Errors starting the Esplora server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EsploraError {
    /// The listening socket could not be bound (e.g. the port is taken).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another I/O error of the listening socket or a thread spawn.
    #[error("esplora server: {0}")]
    Io(#[from] std::io::Error),
}

/// State shared by the connection threads.
struct Shared {
    node: SharedNode,
    shutdown: AtomicBool,
    /// Connection threads, joined at shutdown.
    connections: Mutex<Vec<JoinHandle<()>>>,
}

/// A running Esplora server. Stop it with [`EsploraServer::shutdown`] (dropping it also stops
/// it); a stopped server's port refuses connections.
pub struct EsploraServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EsploraServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsploraServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EsploraServer {
    /// Binds `127.0.0.1:<port>` (0 picks a free port, see [`EsploraServer::local_addr`]) and
    /// starts serving `node`. The node may be shared with an [`crate::rpc::RpcServer`] and the
    /// test itself: each request holds the node's lock only while it is answered.
    ///
    /// # Errors
    ///
    /// [`EsploraError::Bind`] if the port cannot be bound, [`EsploraError::Io`] if the
    /// socket cannot be configured or a thread cannot be started.
    pub fn start(node: SharedNode, port: u16) -> Result<EsploraServer, EsploraError> {
        let want = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener =
            TcpListener::bind(want).map_err(|source| EsploraError::Bind { addr: want, source })?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            node,
            shutdown: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name("devnet-esplora-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(EsploraServer {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// The address the server listens on (with the chosen port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's base URL, `http://127.0.0.1:<port>` (no trailing slash), as
    /// `esplora-client` wants it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and waits for every connection thread to finish (each notices within
    /// about 100 ms once its current request is answered). The listening socket is closed
    /// when this returns.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        let threads: Vec<_> = lock(&self.shared.connections).drain(..).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for EsploraServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let conn_shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("devnet-esplora-conn".into())
                    .spawn(move || serve_connection(stream, &conn_shared));
                let mut connections = lock(&shared.connections);
                connections.retain(|t| !t.is_finished());
                if let Ok(handle) = spawned {
                    connections.push(handle);
                }
            }
            Err(_) => std::thread::sleep(POLL / 4),
        }
    }
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buf, &shared.shutdown) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = write_response(&mut stream, 400, TEXT, e.to_string().as_bytes(), false, "");
                return;
            }
        };
        let keep_alive = request.keep_alive;
        let reply = {
            let mut node = lock(&shared.node);
            route(&mut node, &request.method, &request.target, &request.body)
        };
        let reply = reply.unwrap_or_else(|e| e);
        let sent = write_response(
            &mut stream,
            reply.status,
            reply.content_type,
            &reply.body,
            keep_alive,
            "",
        );
        if sent.is_err() || !keep_alive {
            return;
        }
    }
}

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, text: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: TEXT,
            body: text.into().into_bytes(),
        }
    }

    fn json(value: &Value) -> Reply {
        Reply {
            status: 200,
            content_type: JSON,
            body: value.to_string().into_bytes(),
        }
    }

    fn bytes(body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type: OCTETS,
            body,
        }
    }

    fn bad_request(text: impl Into<String>) -> Reply {
        Reply::text(400, text)
    }

    fn not_found(text: impl Into<String>) -> Reply {
        Reply::text(404, text)
    }
}

/// An answer or an error answer (both are sent the same way; `Err` lets `?` short-cut).
type Answer = Result<Reply, Reply>;

fn parse_txid(s: &str) -> Result<Txid, Reply> {
    s.parse()
        .map_err(|_| Reply::bad_request("Invalid hex string"))
}

fn parse_block_hash(s: &str) -> Result<BlockHash, Reply> {
    s.parse()
        .map_err(|_| Reply::bad_request("Invalid hex string"))
}

fn parse_number<T: std::str::FromStr>(s: &str) -> Result<T, Reply> {
    s.parse().map_err(|_| Reply::bad_request("Invalid number"))
}

fn parse_scripthash(s: &str) -> Result<[u8; 32], Reply> {
    <[u8; 32]>::from_hex(s).map_err(|_| Reply::bad_request("Invalid scripthash"))
}

fn address_scripthash(s: &str) -> Result<[u8; 32], Reply> {
    use bitcoin::hashes::{sha256, Hash};
    let address = s
        .parse::<Address<bitcoin::address::NetworkUnchecked>>()
        .map_err(|e| Reply::bad_request(e.to_string()))?;
    let address = address
        .require_network(Network::Regtest)
        .map_err(|_| Reply::bad_request("Address on invalid network"))?;
    Ok(sha256::Hash::hash(address.script_pubkey().as_bytes()).to_byte_array())
}

/// Answers one request.
fn route(node: &mut Node, method: &str, target: &str, body: &[u8]) -> Answer {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let not_found = || Reply::not_found(format!("endpoint does not exist {path:?}"));
    if let ("POST", ["tx"]) = (method, parts.as_slice()) {
        return broadcast(node, body);
    }
    let node: &Node = node;
    match (method, parts.as_slice()) {
        ("GET", ["blocks", "tip", "height"]) => Ok(Reply::text(200, node.tip_height().to_string())),
        ("GET", ["blocks", "tip", "hash"]) => Ok(Reply::text(200, node.tip_hash().to_string())),
        ("GET", ["blocks"]) => blocks(node, None),
        // Like electrs, a start height that is not a number means "from the tip".
        ("GET", ["blocks", start]) => blocks(node, start.parse().ok()),
        ("GET", ["block-height", height]) => {
            let height: u32 = parse_number(height)?;
            node.block_hash(height)
                .map(|hash| Reply::text(200, hash.to_string()))
                .ok_or_else(|| Reply::not_found("Block not found"))
        }
        ("GET", ["block", hash, rest @ ..]) => {
            let hash = parse_block_hash(hash)?;
            block_route(node, &hash, rest).unwrap_or_else(|| Err(not_found()))
        }
        ("GET", ["tx", txid, rest @ ..]) => {
            let txid = parse_txid(txid)?;
            tx_route(node, &txid, rest).unwrap_or_else(|| Err(not_found()))
        }
        ("GET", ["scripthash", hash, "txs", rest @ ..]) => {
            let scripthash = parse_scripthash(hash)?;
            history_route(node, &scripthash, rest).unwrap_or_else(|| Err(not_found()))
        }
        ("GET", ["address", address, "txs", rest @ ..]) => {
            let scripthash = address_scripthash(address)?;
            history_route(node, &scripthash, rest).unwrap_or_else(|| Err(not_found()))
        }
        ("GET", ["mempool", "txids"]) => Ok(Reply::json(&json!(node
            .mempool()
            .iter()
            .map(Txid::to_string)
            .collect::<Vec<_>>()))),
        ("GET", ["fee-estimates"]) => Ok(Reply::json(&fee_estimates())),
        _ => Err(not_found()),
    }
}

/// The `/block/:hash/...` endpoints; `None` for an unknown sub-path.
fn block_route(node: &Node, hash: &BlockHash, rest: &[&str]) -> Option<Answer> {
    if rest == ["status"] {
        return Some(Ok(Reply::json(&block_status(node, hash))));
    }
    let known = matches!(
        rest,
        [] | ["header"] | ["raw"] | ["txids"] | ["txid", _] | ["txs"] | ["txs", _]
    );
    if !known {
        return None;
    }
    let answer = (|| {
        let (height, block) = find_block(node, hash)?;
        match rest {
            [] => Ok(Reply::json(&block_info(node, height, &block))),
            ["header"] => Ok(Reply::text(
                200,
                serialize(&block.header).to_lower_hex_string(),
            )),
            ["raw"] => Ok(Reply::bytes(serialize(&block))),
            ["txids"] => Ok(Reply::json(&json!(block
                .txdata
                .iter()
                .map(|tx| tx.compute_txid().to_string())
                .collect::<Vec<_>>()))),
            ["txid", index] => {
                let index: usize = parse_number(index)?;
                block
                    .txdata
                    .get(index)
                    .map(|tx| Reply::text(200, tx.compute_txid().to_string()))
                    .ok_or_else(|| Reply::not_found("tx index out of range"))
            }
            ["txs", start @ ..] => {
                // Like electrs, a start index that is not a number means 0.
                let start: usize = start.first().and_then(|s| s.parse().ok()).unwrap_or(0);
                if !start.is_multiple_of(CHAIN_TXS_PER_PAGE) {
                    return Err(Reply::bad_request(format!(
                        "start index must be a multiple of {CHAIN_TXS_PER_PAGE}"
                    )));
                }
                let confirmations = node.tip_height() - height + 1;
                let txs: Vec<Value> = block
                    .txdata
                    .iter()
                    .skip(start)
                    .take(CHAIN_TXS_PER_PAGE)
                    .map(|tx| tx_value(node, tx, Some(confirmations)))
                    .collect();
                Ok(Reply::json(&Value::Array(txs)))
            }
            _ => Err(Reply::not_found("endpoint does not exist")),
        }
    })();
    Some(answer)
}

/// The `/tx/:txid/...` endpoints; `None` for an unknown sub-path.
fn tx_route(node: &Node, txid: &Txid, rest: &[&str]) -> Option<Answer> {
    let unknown = || Reply::not_found("Transaction not found");
    let answer = match rest {
        [] => node
            .get_tx(txid)
            .map(|(tx, confirmations)| Reply::json(&tx_value(node, &tx, confirmations)))
            .ok_or_else(unknown),
        ["hex"] => node
            .get_tx(txid)
            .map(|(tx, _)| Reply::text(200, serialize(&tx).to_lower_hex_string()))
            .ok_or_else(unknown),
        ["raw"] => node
            .get_tx(txid)
            .map(|(tx, _)| Reply::bytes(serialize(&tx)))
            .ok_or_else(unknown),
        // electrs answers an unknown transaction as unconfirmed.
        ["status"] => Ok(Reply::json(&status_value(
            node,
            node.get_tx(txid).and_then(|(_, c)| c),
        ))),
        ["outspend", vout] => parse_number::<u32>(vout)
            .map(|vout| Reply::json(&outspend_value(node, &OutPoint::new(*txid, vout)))),
        ["outspends"] => node
            .get_tx(txid)
            .map(|(tx, _)| {
                let spends: Vec<Value> = (0..tx.output.len())
                    .map(|vout| {
                        let vout = u32::try_from(vout).unwrap_or(u32::MAX);
                        outspend_value(node, &OutPoint::new(*txid, vout))
                    })
                    .collect();
                Reply::json(&Value::Array(spends))
            })
            .ok_or_else(unknown),
        _ => return None,
    };
    Some(answer)
}

/// The `/scripthash/:hash/txs/...` (and `/address/:address/txs/...`) endpoints; `None` for an
/// unknown sub-path.
fn history_route(node: &Node, scripthash: &[u8; 32], rest: &[&str]) -> Option<Answer> {
    let history = node.scripthash_history(scripthash);
    // Newest first: the mempool in reverse acceptance order, the chain in reverse order.
    let mempool: Vec<Txid> = history
        .iter()
        .rev()
        .filter(|(_, height)| height.is_none())
        .map(|(txid, _)| *txid)
        .collect();
    let chain: Vec<Txid> = history
        .iter()
        .rev()
        .filter(|(_, height)| height.is_some())
        .map(|(txid, _)| *txid)
        .collect();
    let chain_page = |last_seen: Option<Txid>| -> Vec<Txid> {
        let start = match last_seen {
            None => 0,
            // electrs: a last-seen txid that is not in the history gives an empty page.
            Some(last) => match chain.iter().position(|t| *t == last) {
                Some(i) => i + 1,
                None => chain.len(),
            },
        };
        chain
            .iter()
            .skip(start)
            .take(CHAIN_TXS_PER_PAGE)
            .copied()
            .collect()
    };
    let txids: Vec<Txid> = match rest {
        [] => mempool
            .iter()
            .take(MAX_MEMPOOL_TXS)
            .copied()
            .chain(chain_page(None))
            .collect(),
        ["chain"] => chain_page(None),
        // electrs: a last-seen txid that does not parse means the first page.
        ["chain", last] => chain_page(last.parse().ok()),
        ["mempool"] => mempool.iter().take(MAX_MEMPOOL_TXS).copied().collect(),
        _ => return None,
    };
    let txs: Vec<Value> = txids
        .iter()
        .filter_map(|txid| node.get_tx(txid))
        .map(|(tx, confirmations)| tx_value(node, &tx, confirmations))
        .collect();
    Some(Ok(Reply::json(&Value::Array(txs))))
}

fn find_block(node: &Node, hash: &BlockHash) -> Result<(u32, Block), Reply> {
    let not_found = || Reply::not_found("Block not found");
    let height = node.block_height(hash).ok_or_else(not_found)?;
    let block = node
        .block(height)
        .map_err(|e| Reply::text(503, e.to_string()))?
        .ok_or_else(not_found)?;
    Ok((height, block))
}

/// electrs' `BlockValue`.
fn block_info(node: &Node, height: u32, block: &Block) -> Value {
    let header = &block.header;
    let mut object = Map::new();
    object.insert("id".into(), json!(block.block_hash().to_string()));
    object.insert("height".into(), json!(height));
    // electrs prints the version as an unsigned number.
    object.insert(
        "version".into(),
        json!(u32::from_ne_bytes(
            header.version.to_consensus().to_ne_bytes()
        )),
    );
    object.insert("timestamp".into(), json!(header.time));
    object.insert("tx_count".into(), json!(block.txdata.len()));
    object.insert("size".into(), json!(block.total_size()));
    object.insert("weight".into(), json!(block.weight().to_wu()));
    object.insert("merkle_root".into(), json!(header.merkle_root.to_string()));
    object.insert(
        "previousblockhash".into(),
        if height == 0 {
            Value::Null
        } else {
            json!(header.prev_blockhash.to_string())
        },
    );
    object.insert("mediantime".into(), json!(node.median_time_past(height)));
    object.insert("nonce".into(), json!(header.nonce));
    object.insert("bits".into(), json!(header.bits.to_consensus()));
    object.insert("difficulty".into(), json!(header.difficulty_float()));
    Value::Object(object)
}

fn blocks(node: &Node, start: Option<u32>) -> Answer {
    let start = match start {
        Some(height) if height > node.tip_height() => {
            return Err(Reply::not_found("Block not found"))
        }
        Some(height) => height,
        None => node.tip_height(),
    };
    let mut values = Vec::new();
    for height in (0..=start).rev().take(BLOCK_LIMIT as usize) {
        let block = node
            .block(height)
            .map_err(|e| Reply::text(503, e.to_string()))?
            .ok_or_else(|| Reply::not_found("Block not found"))?;
        values.push(block_info(node, height, &block));
    }
    Ok(Reply::json(&Value::Array(values)))
}

/// electrs' `BlockStatus`: `{"in_best_chain":false}` for a block not in the active chain.
fn block_status(node: &Node, hash: &BlockHash) -> Value {
    let mut object = Map::new();
    match node.block_height(hash) {
        Some(height) => {
            object.insert("in_best_chain".into(), json!(true));
            object.insert("height".into(), json!(height));
            if let Some(next) = node.block_hash(height + 1) {
                object.insert("next_best".into(), json!(next.to_string()));
            }
        }
        None => {
            object.insert("in_best_chain".into(), json!(false));
        }
    }
    Value::Object(object)
}

/// electrs' `TransactionStatus` for a transaction with `confirmations` (`None`: unconfirmed or
/// unknown).
fn status_value(node: &Node, confirmations: Option<u32>) -> Value {
    let block = confirmations.and_then(|c| {
        let height = node.tip_height().checked_add(1)?.checked_sub(c)?;
        Some((height, node.block_hash(height)?, node.block_time(height)?))
    });
    match block {
        Some((height, hash, time)) => json!({
            "confirmed": true,
            "block_height": height,
            "block_hash": hash.to_string(),
            "block_time": time,
        }),
        None => json!({"confirmed": false}),
    }
}

/// electrs' `TxOutValue`.
fn txout_value(out: &TxOut) -> Value {
    let script = &out.script_pubkey;
    let kind = if script.is_empty() {
        "empty"
    } else if script.is_op_return() {
        "op_return"
    } else if script.is_p2pk() {
        "p2pk"
    } else if script.is_p2pkh() {
        "p2pkh"
    } else if script.is_p2sh() {
        "p2sh"
    } else if script.is_p2wpkh() {
        "v0_p2wpkh"
    } else if script.is_p2wsh() {
        "v0_p2wsh"
    } else if script.is_p2tr() {
        "v1_p2tr"
    } else {
        "unknown"
    };
    let mut object = Map::new();
    object.insert(
        "scriptpubkey".into(),
        json!(script.as_bytes().to_lower_hex_string()),
    );
    object.insert("scriptpubkey_asm".into(), json!(script.to_asm_string()));
    object.insert("scriptpubkey_type".into(), json!(kind));
    if let Ok(address) = Address::from_script(script, Network::Regtest) {
        object.insert("scriptpubkey_address".into(), json!(address.to_string()));
    }
    object.insert("value".into(), json!(out.value.to_sat()));
    Value::Object(object)
}

/// The output `outpoint` spends, from a confirmed or mempool transaction the node knows.
fn prevout(node: &Node, outpoint: &OutPoint) -> Option<TxOut> {
    let (parent, _) = node.get_tx(&outpoint.txid)?;
    parent
        .output
        .get(usize::try_from(outpoint.vout).ok()?)
        .cloned()
}

/// electrs' `TransactionValue`: the transaction with its inputs' previous outputs, its fee
/// (0 for a coinbase) and its status.
fn tx_value(node: &Node, tx: &Transaction, confirmations: Option<u32>) -> Value {
    let is_coinbase = tx.is_coinbase();
    let mut value_in = Some(Amount::ZERO);
    let vin: Vec<Value> = tx
        .input
        .iter()
        .map(|input| {
            let prev = if is_coinbase {
                None
            } else {
                prevout(node, &input.previous_output)
            };
            value_in = match &prev {
                Some(p) => value_in.and_then(|v| v.checked_add(p.value)),
                None => None,
            };
            let mut object = Map::new();
            object.insert("txid".into(), json!(input.previous_output.txid.to_string()));
            object.insert("vout".into(), json!(input.previous_output.vout));
            object.insert(
                "prevout".into(),
                prev.as_ref().map_or(Value::Null, txout_value),
            );
            object.insert(
                "scriptsig".into(),
                json!(input.script_sig.as_bytes().to_lower_hex_string()),
            );
            object.insert(
                "scriptsig_asm".into(),
                json!(input.script_sig.to_asm_string()),
            );
            if !input.witness.is_empty() {
                object.insert(
                    "witness".into(),
                    json!(input
                        .witness
                        .iter()
                        .map(|w| w.to_lower_hex_string())
                        .collect::<Vec<_>>()),
                );
            }
            object.insert("is_coinbase".into(), json!(is_coinbase));
            object.insert("sequence".into(), json!(input.sequence.to_consensus_u32()));
            if let (Some(prev), Some(witness_script)) = (&prev, input.witness.last()) {
                if prev.script_pubkey.is_p2wsh() {
                    let script = bitcoin::Script::from_bytes(witness_script);
                    object.insert(
                        "inner_witnessscript_asm".into(),
                        json!(script.to_asm_string()),
                    );
                }
            }
            Value::Object(object)
        })
        .collect();
    let value_out = tx
        .output
        .iter()
        .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value));
    let fee = if is_coinbase {
        Amount::ZERO
    } else {
        value_in
            .zip(value_out)
            .and_then(|(i, o)| i.checked_sub(o))
            .unwrap_or(Amount::ZERO)
    };
    let mut object = Map::new();
    object.insert("txid".into(), json!(tx.compute_txid().to_string()));
    object.insert(
        "version".into(),
        json!(u32::from_ne_bytes(tx.version.0.to_ne_bytes())),
    );
    object.insert("locktime".into(), json!(tx.lock_time.to_consensus_u32()));
    object.insert("vin".into(), Value::Array(vin));
    object.insert(
        "vout".into(),
        Value::Array(tx.output.iter().map(txout_value).collect()),
    );
    object.insert("size".into(), json!(tx.total_size()));
    object.insert("weight".into(), json!(tx.weight().to_wu()));
    object.insert("fee".into(), json!(fee.to_sat()));
    object.insert("status".into(), status_value(node, confirmations));
    Value::Object(object)
}

/// electrs' `SpendingValue` for `outpoint`: `{"spent":false}` if unspent (or unknown).
fn outspend_value(node: &Node, outpoint: &OutPoint) -> Value {
    let spender = |tx: &Transaction| tx.input.iter().position(|i| i.previous_output == *outpoint);
    // A mempool spend first (the chain cannot also spend it), then the chain's.
    let mut found = None;
    for txid in node.mempool() {
        if let Some((tx, _)) = node.get_tx(&txid) {
            if let Some(vin) = spender(&tx) {
                found = Some((txid, vin, None));
                break;
            }
        }
    }
    // Only a transaction confirmed at or after the output's own block can spend it.
    let from = node
        .get_tx(&outpoint.txid)
        .and_then(|(_, c)| c)
        .and_then(|c| (node.tip_height() + 1).checked_sub(c));
    if let (None, Some(from)) = (found, from) {
        'blocks: for height in from..=node.tip_height() {
            for txid in node.block_txids(height).unwrap_or_default() {
                if let Some((tx, confirmations)) = node.get_tx(txid) {
                    if let Some(vin) = spender(&tx) {
                        found = Some((*txid, vin, confirmations));
                        break 'blocks;
                    }
                }
            }
        }
    }
    match found {
        Some((txid, vin, confirmations)) => json!({
            "spent": true,
            "txid": txid.to_string(),
            "vin": vin,
            "status": status_value(node, confirmations),
        }),
        None => json!({"spent": false}),
    }
}

/// electrs' `/fee-estimates`: the devnet's fixed estimate (the one `estimatesmartfee`
/// answers) for every target, in sat/vB.
fn fee_estimates() -> Value {
    let sat_per_kvb = Amount::from_btc(ESTIMATED_FEERATE_BTC_PER_KVB)
        .map(Amount::to_sat)
        .unwrap_or(0);
    let mut object = Map::new();
    if sat_per_kvb > 0 {
        // Whole sat/kvB, so the division by 1000 is exact enough for any real estimate.
        #[allow(clippy::cast_precision_loss)]
        let sat_per_vb = sat_per_kvb as f64 / 1000.0;
        for target in FEE_TARGETS {
            object.insert(target.to_string(), json!(sat_per_vb));
        }
    }
    Value::Object(object)
}

/// electrs' 400 text for a refused `sendrawtransaction`.
fn rpc_refusal(code: i64, message: &str) -> Reply {
    let error = json!({"code": code, "message": message});
    Reply::bad_request(format!("sendrawtransaction RPC error: {error}"))
}

/// `POST /tx`: the body is the transaction's hex (surrounding whitespace ignored).
fn broadcast(node: &mut Node, body: &[u8]) -> Answer {
    let text = std::str::from_utf8(body).map_err(|e| Reply::bad_request(e.to_string()))?;
    let tx: Transaction = Vec::<u8>::from_hex(text.trim())
        .ok()
        .and_then(|bytes| deserialize(&bytes).ok())
        .ok_or_else(|| rpc_refusal(RPC_DESERIALIZATION_ERROR, "TX decode failed"))?;
    let txid = tx.compute_txid();
    match node.submit(tx) {
        // Bitcoin Core answers the txid for a transaction already in its mempool.
        Ok(_) | Err(RejectReason::AlreadyInMempool) => Ok(Reply::text(200, txid.to_string())),
        Err(RejectReason::AlreadyKnown) => Err(rpc_refusal(
            RPC_TRANSACTION_ALREADY_IN_CHAIN,
            "Transaction already in block chain",
        )),
        Err(reason @ RejectReason::InputsMissingOrSpent) => {
            Err(rpc_refusal(RPC_TRANSACTION_ERROR, &reason.to_string()))
        }
        Err(reason) => Err(rpc_refusal(RPC_TRANSACTION_REJECTED, &reason.to_string())),
    }
}
