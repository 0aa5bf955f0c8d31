//! An Electrum protocol server for a [`Node`], on loopback over plain TCP.
//!
//! [`ElectrumServer::start`] binds `127.0.0.1:<port>` (port 0 picks a free port) and serves
//! each connection on its own thread. The protocol is Electrum's: JSON-RPC 2.0 requests, one
//! per line (newline-delimited), answered one line each in the order they came; a line may
//! also hold a JSON array of requests (a batch), answered by one line holding the array of
//! replies. Several requests may be sent before reading the replies (pipelining), which is
//! how `electrum-client` sends its batches.
//!
//! Served methods (protocol 1.4, what `electrum-client` and `bdk_electrum` use for a full
//! scan, a sync, broadcasting, fees and headers): `server.version`, `server.banner`,
//! `server.ping`, `server.features`, `blockchain.headers.subscribe`,
//! `blockchain.block.header`, `blockchain.block.headers`, `blockchain.estimatefee`,
//! `blockchain.relayfee`, `blockchain.scripthash.get_history`,
//! `blockchain.scripthash.get_mempool`, `blockchain.scripthash.get_balance`,
//! `blockchain.scripthash.listunspent`, `blockchain.scripthash.subscribe`,
//! `blockchain.scripthash.unsubscribe`, `blockchain.transaction.get` (raw hex only),
//! `blockchain.transaction.get_merkle`, `blockchain.transaction.id_from_pos`,
//! `blockchain.transaction.broadcast` and `mempool.get_fee_histogram`. Checkpoint proofs
//! (`cp_height`) and verbose transactions are not served (they answer an error).
//!
//! Subscriptions are live: a connection subscribed to headers is sent
//! `blockchain.headers.subscribe` notifications when the tip changes, and one subscribed to
//! scripthashes is sent `blockchain.scripthash.subscribe` notifications when their status
//! changes (checked about every 100 ms while the connection is idle, and after every
//! request).
//!
//! Electrum requests name scripts only by their scripthash (the SHA-256 of the script, hex in
//! reversed byte order), so the server keeps an index from scripthash to script, filled by
//! reading every block of the node's active chain once (and again after a reorg from the fork
//! point) and the mempool at each request. A script's history is then the node's
//! [`Node::script_history`].
//!
//! Errors follow ElectrumX: JSON-RPC's codes for malformed requests (`-32700` parse error,
//! `-32600` invalid request, `-32601` unknown method, `-32602` bad parameters), `1` for a
//! request the server refuses (a rejected transaction carries the node's reject reason,
//! Bitcoin Core's string, verbatim as the message) and `2` for a failure of the node itself.
//! No input ever panics the server or closes the connection, except a line longer than
//! [`MAX_LINE`] bytes (answered with an error, then the connection is closed).

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bitcoin::block::Header;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::hex::FromHex;
use bitcoin::hashes::{sha256, sha256d, Hash};
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, TxMerkleNode, Txid};
use serde_json::{json, Value};

use crate::rpc::{lock, SharedNode, ESTIMATED_FEERATE_BTC_PER_KVB};
use crate::{Node, RejectReason};

/// The Electrum protocol version the server speaks.
pub const PROTOCOL_VERSION: &str = "1.4";

/// The minimum relay fee `blockchain.relayfee` answers, in BTC per kvB: Bitcoin Core's
/// default (1 sat/vB). The devnet's mempool itself only requires a positive fee.
pub const RELAY_FEE_BTC_PER_KVB: f64 = 0.000_01;

/// The most headers one `blockchain.block.headers` call returns (ElectrumX's limit).
pub const MAX_HEADERS: u32 = 2016;

/// The longest request line accepted, in bytes; a longer line is answered with an error and
/// the connection is closed.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// How often idle connection threads and the accept loop look at the shutdown flag and, for
/// subscribed connections, at the node's tip and mempool.
const POLL: Duration = Duration::from_millis(100);

/// JSON-RPC error codes, as ElectrumX uses them.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
/// ElectrumX's `BAD_REQUEST`: the request is well-formed but refused (e.g. a rejected
/// transaction, an unknown transaction or height).
const BAD_REQUEST: i64 = 1;
/// ElectrumX's `DAEMON_ERROR`: the node failed (e.g. a block it cannot read back).
const DAEMON_ERROR: i64 = 2;

/// Errors starting the Electrum server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElectrumServerError {
    /// The listening socket could not be bound (e.g. the port is taken).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another I/O error of the listening socket or a thread spawn.
    #[error("electrum server: {0}")]
    Io(#[from] std::io::Error),
}

/// The server's view of the node's active chain: every block's hash and header, and the
/// scripthash → script index of every output script seen in those blocks and in the mempool.
///
/// Scripts are only ever added (a script of a reorged-out block stays indexed): the index only
/// finds scripts, and their history always comes from the node.
#[derive(Default)]
struct ChainIndex {
    /// `(hash, header)` of each indexed active-chain block, index = height.
    blocks: Vec<(BlockHash, Header)>,
    /// SHA-256 of a script (natural byte order) → the script.
    scripts: HashMap<[u8; 32], ScriptBuf>,
    /// The mempool transactions whose outputs are already indexed.
    mempool_indexed: HashSet<Txid>,
}

impl ChainIndex {
    /// Brings the index up to the node's active chain and mempool: drops blocks above the
    /// fork point after a reorg, reads the blocks above the indexed tip, and indexes new
    /// mempool transactions.
    fn catch_up(&mut self, node: &Node) -> Result<(), Fault> {
        let tip = node.tip_height();
        let tip_usize = usize::try_from(tip).unwrap_or(usize::MAX);
        // The highest indexed block still in the active chain (reorgs are shallow: walk down).
        let mut keep = self.blocks.len().min(tip_usize.saturating_add(1));
        while keep > 0 {
            let height = u32::try_from(keep - 1).unwrap_or(u32::MAX);
            if node.block_hash(height) == Some(self.blocks[keep - 1].0) {
                break;
            }
            keep -= 1;
        }
        self.blocks.truncate(keep);
        for height in u32::try_from(keep).unwrap_or(u32::MAX)..=tip {
            let block = node
                .block(height)
                .map_err(|e| Fault::new(DAEMON_ERROR, e.to_string()))?
                .ok_or_else(|| Fault::new(DAEMON_ERROR, format!("no block at height {height}")))?;
            for tx in &block.txdata {
                self.index_outputs(tx);
            }
            self.blocks.push((block.block_hash(), block.header));
        }
        let mempool: HashSet<Txid> = node.mempool().into_iter().collect();
        let new: Vec<Txid> = mempool.difference(&self.mempool_indexed).copied().collect();
        for txid in &new {
            if let Some((tx, _)) = node.get_tx(txid) {
                self.index_outputs(&tx);
            }
        }
        self.mempool_indexed = mempool;
        Ok(())
    }

    fn index_outputs(&mut self, tx: &Transaction) {
        for out in &tx.output {
            let hash = sha256::Hash::hash(out.script_pubkey.as_bytes()).to_byte_array();
            self.scripts
                .entry(hash)
                .or_insert_with(|| out.script_pubkey.clone());
        }
    }

    fn header(&self, height: u32) -> Option<&Header> {
        self.blocks
            .get(usize::try_from(height).ok()?)
            .map(|(_, header)| header)
    }
}

/// State shared by the connection threads.
struct Shared {
    node: SharedNode,
    /// Locked after `node`, never before.
    index: Mutex<ChainIndex>,
    shutdown: AtomicBool,
    /// Connection threads, joined at shutdown.
    connections: Mutex<Vec<JoinHandle<()>>>,
}

/// A running Electrum server. Stop it with [`ElectrumServer::shutdown`] (dropping it also
/// stops it).
pub struct ElectrumServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ElectrumServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ElectrumServer {
    /// Binds `127.0.0.1:<port>` (0 picks a free port, see [`ElectrumServer::local_addr`]) and
    /// starts serving `node`. The chain is indexed lazily, by the first request.
    ///
    /// # Errors
    ///
    /// [`ElectrumServerError::Bind`] if the port cannot be bound, [`ElectrumServerError::Io`]
    /// if the accept thread cannot be started.
    pub fn start(node: SharedNode, port: u16) -> Result<ElectrumServer, ElectrumServerError> {
        let want = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = TcpListener::bind(want)
            .map_err(|source| ElectrumServerError::Bind { addr: want, source })?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            node,
            index: Mutex::new(ChainIndex::default()),
            shutdown: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name("devnet-electrum-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(ElectrumServer {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// The address the server listens on (with the chosen port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's URL as Electrum clients take it, `tcp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Stops accepting, closes every connection and waits for their threads (each notices
    /// within about 100 ms once its current request is answered). Clients then see the
    /// connection closed, and new connections are refused.
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

impl Drop for ElectrumServer {
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
                    .name("devnet-electrum-conn".into())
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

/// What one connection subscribed to, and what it was last told.
#[derive(Default)]
struct Subscriptions {
    /// The tip last sent (answer or notification), if subscribed to headers.
    headers: Option<BlockHash>,
    /// Subscribed scripthashes (as sent, reversed hex) → the status last sent.
    scripts: HashMap<String, Option<String>>,
    /// The node's state (tip and mempool) when the script statuses were last computed.
    state: Option<(BlockHash, Vec<Txid>)>,
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    let mut subs = Subscriptions::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut last_check = Instant::now();
    while !shared.shutdown.load(Ordering::SeqCst) {
        // Answer every complete line already received.
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            if let Some(reply) = handle_line(shared, &mut subs, &line) {
                if send_line(&mut stream, &reply).is_err() {
                    return;
                }
            }
        }
        if buf.len() > MAX_LINE {
            let reply = error_reply(
                Value::Null,
                &Fault::new(INVALID_REQUEST, "request too long"),
            );
            let _ = send_line(&mut stream, &reply);
            return;
        }
        if (subs.headers.is_some() || !subs.scripts.is_empty()) && last_check.elapsed() >= POLL {
            last_check = Instant::now();
            for notification in notifications(shared, &mut subs) {
                if send_line(&mut stream, &notification).is_err() {
                    return;
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

fn send_line(stream: &mut TcpStream, value: &Value) -> std::io::Result<()> {
    let mut line = value.to_string().into_bytes();
    line.push(b'\n');
    stream.write_all(&line)?;
    stream.flush()
}

/// The notifications owed to a subscribed connection: a new tip, and the scripthashes whose
/// status changed since last sent.
fn notifications(shared: &Shared, subs: &mut Subscriptions) -> Vec<Value> {
    let node = lock(&shared.node);
    let mut out = Vec::new();
    let tip = node.tip_hash();
    if subs.headers.is_some_and(|sent| sent != tip) {
        let mut index = lock(&shared.index);
        if index.catch_up(&node).is_ok() {
            if let Ok(header) = tip_json(&node, &index) {
                out.push(json!({
                    "jsonrpc": "2.0",
                    "method": "blockchain.headers.subscribe",
                    "params": [header],
                }));
                subs.headers = Some(tip);
            }
        }
    }
    if subs.scripts.is_empty() {
        return out;
    }
    let state = (tip, node.mempool());
    if subs.state.as_ref() == Some(&state) {
        return out;
    }
    let mut index = lock(&shared.index);
    if index.catch_up(&node).is_err() {
        return out;
    }
    for (scripthash, sent) in &mut subs.scripts {
        let Ok(hash) = parse_scripthash(scripthash) else {
            continue;
        };
        let status = status_of(&history(&node, &index, &hash));
        if *sent != status {
            out.push(json!({
                "jsonrpc": "2.0",
                "method": "blockchain.scripthash.subscribe",
                "params": [scripthash, status],
            }));
            *sent = status;
        }
    }
    subs.state = Some(state);
    out
}

/// A JSON-RPC error: code and message.
#[derive(Debug)]
struct Fault {
    code: i64,
    message: String,
}

impl Fault {
    fn new(code: i64, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }
    fn params(message: impl Into<String>) -> Fault {
        Fault::new(INVALID_PARAMS, message)
    }
}

fn error_reply(id: Value, fault: &Fault) -> Value {
    json!({
        "jsonrpc": "2.0",
        "error": {"code": fault.code, "message": fault.message},
        "id": id,
    })
}

/// Answers one line: a request, a batch, or garbage. `None` when nothing is owed (a blank
/// line, or only notifications without an id).
fn handle_line(shared: &Shared, subs: &mut Subscriptions, line: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let parsed: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Some(error_reply(
                Value::Null,
                &Fault::new(PARSE_ERROR, format!("invalid JSON: {e}")),
            ))
        }
    };
    match parsed {
        Value::Array(requests) if requests.is_empty() => Some(error_reply(
            Value::Null,
            &Fault::new(INVALID_REQUEST, "empty batch"),
        )),
        Value::Array(requests) => {
            let replies: Vec<Value> = requests
                .iter()
                .filter_map(|r| handle_request(shared, subs, r))
                .collect();
            (!replies.is_empty()).then_some(Value::Array(replies))
        }
        request => handle_request(shared, subs, &request),
    }
}

/// Answers one request object; `None` for a notification (no `id`).
fn handle_request(shared: &Shared, subs: &mut Subscriptions, request: &Value) -> Option<Value> {
    let Some(object) = request.as_object() else {
        return Some(error_reply(
            Value::Null,
            &Fault::new(INVALID_REQUEST, "a request must be an object"),
        ));
    };
    let id = object.get("id").cloned();
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        // Not a request at all: answered even without an id (JSON-RPC 2.0).
        return Some(error_reply(
            id.unwrap_or(Value::Null),
            &Fault::new(INVALID_REQUEST, "missing method"),
        ));
    };
    let outcome = match object.get("params") {
        None | Some(Value::Null) => dispatch(shared, subs, method, &[]),
        Some(Value::Array(params)) => dispatch(shared, subs, method, params),
        Some(_) => Err(Fault::params("params must be an array")),
    };
    // A notification (a request without an id) is executed but not answered.
    let id = id?;
    Some(match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(fault) => error_reply(id, &fault),
    })
}

/// Positional parameters of one call.
struct Params<'a>(&'a [Value]);

impl<'a> Params<'a> {
    fn get(&self, index: usize) -> Option<&'a Value> {
        self.0.get(index).filter(|v| !v.is_null())
    }

    fn str(&self, index: usize, name: &str) -> Result<&'a str, Fault> {
        self.get(index)
            .ok_or_else(|| Fault::params(format!("missing parameter {name}")))?
            .as_str()
            .ok_or_else(|| Fault::params(format!("{name} must be a string")))
    }

    fn u32(&self, index: usize, name: &str) -> Result<u32, Fault> {
        self.get(index)
            .ok_or_else(|| Fault::params(format!("missing parameter {name}")))?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Fault::params(format!("{name} must be a non-negative integer")))
    }

    fn u32_or(&self, index: usize, name: &str, default: u32) -> Result<u32, Fault> {
        match self.get(index) {
            None => Ok(default),
            Some(_) => self.u32(index, name),
        }
    }

    fn bool_or(&self, index: usize, name: &str, default: bool) -> Result<bool, Fault> {
        match self.get(index) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| Fault::params(format!("{name} must be a boolean"))),
        }
    }
}

fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SHA-256 (natural byte order) named by an Electrum scripthash (64 hex digits, reversed).
fn parse_scripthash(s: &str) -> Result<[u8; 32], Fault> {
    let mut bytes = <[u8; 32]>::from_hex(s)
        .map_err(|_| Fault::params(format!("invalid scripthash {s:?}: need 64 hex digits")))?;
    bytes.reverse();
    Ok(bytes)
}

fn parse_txid(s: &str) -> Result<Txid, Fault> {
    if s.len() != 64 {
        return Err(Fault::params(format!(
            "invalid tx hash {s:?}: need 64 hex digits"
        )));
    }
    s.parse()
        .map_err(|_| Fault::params(format!("invalid tx hash {s:?}: need 64 hex digits")))
}

/// One entry of a script's Electrum history.
struct HistoryEntry {
    txid: Txid,
    /// The confirmation height; 0 in the mempool with confirmed inputs, -1 in the mempool with
    /// an unconfirmed parent.
    height: i64,
    /// The fee, for mempool entries (when every parent is known).
    fee: Option<Amount>,
}

/// The Electrum history of the script with SHA-256 `hash`: confirmed transactions in chain
/// order, then the mempool's. Empty for a script never seen.
fn history(node: &Node, index: &ChainIndex, hash: &[u8; 32]) -> Vec<HistoryEntry> {
    let Some(script) = index.scripts.get(hash) else {
        return Vec::new();
    };
    node.script_history(script)
        .into_iter()
        .map(|(txid, height)| match height {
            Some(height) => HistoryEntry {
                txid,
                height: i64::from(height),
                fee: None,
            },
            None => {
                let tx = node.get_tx(&txid).map(|(tx, _)| tx);
                let unconfirmed_parent = tx.as_ref().is_some_and(|tx| {
                    tx.input.iter().any(|i| {
                        node.get_tx(&i.previous_output.txid)
                            .is_some_and(|(_, confirmations)| confirmations.is_none())
                    })
                });
                HistoryEntry {
                    txid,
                    height: if unconfirmed_parent { -1 } else { 0 },
                    fee: tx.as_ref().and_then(|tx| node.fee_of(tx)),
                }
            }
        })
        .collect()
}

fn history_json(entries: &[HistoryEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| match e.fee {
                Some(fee) if e.height <= 0 => {
                    json!({"tx_hash": e.txid.to_string(), "height": e.height, "fee": fee.to_sat()})
                }
                _ => json!({"tx_hash": e.txid.to_string(), "height": e.height}),
            })
            .collect(),
    )
}

/// Electrum's status of a script: the SHA-256 (hex) of the concatenated `tx_hash:height:` of
/// its history, or `None` (JSON `null`) without history.
fn status_of(entries: &[HistoryEntry]) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let text: String = entries
        .iter()
        .map(|e| format!("{}:{}:", e.txid, e.height))
        .collect();
    Some(hex_string(
        sha256::Hash::hash(text.as_bytes()).as_byte_array(),
    ))
}

/// An output paying to the script, with its confirmation height (0 in the mempool).
struct Coin {
    outpoint: OutPoint,
    value: Amount,
    height: i64,
}

/// The outputs paying to `script` in its history's transactions, and the outpoints the
/// history spends: (coins, spent by confirmed transactions, spent by mempool transactions).
fn coins(
    node: &Node,
    script: &ScriptBuf,
    entries: &[HistoryEntry],
) -> (Vec<Coin>, HashSet<OutPoint>, HashSet<OutPoint>) {
    let mut found = Vec::new();
    let mut spent_confirmed = HashSet::new();
    let mut spent_mempool = HashSet::new();
    for entry in entries {
        let Some((tx, _)) = node.get_tx(&entry.txid) else {
            continue;
        };
        for input in &tx.input {
            if entry.height > 0 {
                spent_confirmed.insert(input.previous_output);
            } else {
                spent_mempool.insert(input.previous_output);
            }
        }
        for (vout, out) in tx.output.iter().enumerate() {
            if out.script_pubkey == *script {
                found.push(Coin {
                    outpoint: OutPoint::new(entry.txid, u32::try_from(vout).unwrap_or(u32::MAX)),
                    value: out.value,
                    height: entry.height.max(0),
                });
            }
        }
    }
    (found, spent_confirmed, spent_mempool)
}

/// `{height, hex}` of the tip, as `blockchain.headers.subscribe` answers and notifies.
fn tip_json(node: &Node, index: &ChainIndex) -> Result<Value, Fault> {
    let height = node.tip_height();
    let header = index
        .header(height)
        .ok_or_else(|| Fault::new(DAEMON_ERROR, "tip not indexed"))?;
    Ok(json!({"height": height, "hex": hex_string(&serialize(header))}))
}

/// The Electrum merkle branch of the transaction at `pos` among `txids` (a block's, in
/// order): the sibling hashes from the leaf up, each as a reversed-hex string.
fn merkle_branch(txids: &[Txid], pos: usize) -> Vec<String> {
    let mut level: Vec<sha256d::Hash> = txids.iter().map(|t| t.to_raw_hash()).collect();
    let mut index = pos;
    let mut branch = Vec::new();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            let last = level[level.len() - 1];
            level.push(last);
        }
        branch.push(TxMerkleNode::from_raw_hash(level[index ^ 1]).to_string());
        level = level
            .chunks(2)
            .map(|pair| {
                let mut engine = sha256d::Hash::engine();
                bitcoin::hashes::HashEngine::input(&mut engine, pair[0].as_byte_array());
                bitcoin::hashes::HashEngine::input(&mut engine, pair[1].as_byte_array());
                sha256d::Hash::from_engine(engine)
            })
            .collect();
        index /= 2;
    }
    branch
}

/// The txids of the active-chain block at `height`, or a `BAD_REQUEST` fault.
fn block_txids(node: &Node, height: u32) -> Result<&[Txid], Fault> {
    node.block_txids(height)
        .ok_or_else(|| Fault::new(BAD_REQUEST, format!("height {height} out of range")))
}

fn dispatch(
    shared: &Shared,
    subs: &mut Subscriptions,
    method: &str,
    params: &[Value],
) -> Result<Value, Fault> {
    let p = Params(params);
    // The node, then the index brought up to it (lock order: node, then index).
    let with_index = |f: &mut dyn FnMut(&mut Node, &ChainIndex) -> Result<Value, Fault>| {
        let mut node = lock(&shared.node);
        let mut index = lock(&shared.index);
        index.catch_up(&node)?;
        f(&mut node, &index)
    };
    match method {
        "server.version" => Ok(json!([
            concat!("confiaro-devnet ", env!("CARGO_PKG_VERSION")),
            PROTOCOL_VERSION
        ])),
        "server.banner" => Ok(json!(
            "Confiaro devnet: regtest node validated by libbitcoinkernel"
        )),
        "server.donation_address" => Ok(json!("")),
        "server.ping" => Ok(Value::Null),
        "server.features" => {
            let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
            Ok(json!({
                "genesis_hash": genesis.block_hash().to_string(),
                "hosts": {},
                "protocol_min": PROTOCOL_VERSION,
                "protocol_max": PROTOCOL_VERSION,
                "pruning": null,
                "server_version": concat!("confiaro-devnet ", env!("CARGO_PKG_VERSION")),
                "hash_function": "sha256",
            }))
        }
        "server.peers.subscribe" => Ok(json!([])),
        "blockchain.headers.subscribe" => with_index(&mut |node, index| {
            let tip = tip_json(node, index)?;
            subs.headers = Some(node.tip_hash());
            Ok(tip)
        }),
        "blockchain.block.header" => {
            let height = p.u32(0, "height")?;
            if p.u32_or(1, "cp_height", 0)? != 0 {
                return Err(Fault::new(
                    BAD_REQUEST,
                    "checkpoint proofs are not supported",
                ));
            }
            with_index(&mut |_, index| {
                index
                    .header(height)
                    .map(|h| json!(hex_string(&serialize(h))))
                    .ok_or_else(|| Fault::new(BAD_REQUEST, format!("height {height} out of range")))
            })
        }
        "blockchain.block.headers" => {
            let start = p.u32(0, "start_height")?;
            let count = p.u32(1, "count")?.min(MAX_HEADERS);
            if p.u32_or(2, "cp_height", 0)? != 0 {
                return Err(Fault::new(
                    BAD_REQUEST,
                    "checkpoint proofs are not supported",
                ));
            }
            with_index(&mut |_, index| {
                let mut hex = String::new();
                let mut returned = 0u32;
                for height in start..start.saturating_add(count) {
                    let Some(header) = index.header(height) else {
                        break;
                    };
                    hex.push_str(&hex_string(&serialize(header)));
                    returned += 1;
                }
                Ok(json!({"count": returned, "hex": hex, "max": MAX_HEADERS}))
            })
        }
        "blockchain.estimatefee" => {
            p.u32(0, "number")?;
            Ok(json!(ESTIMATED_FEERATE_BTC_PER_KVB))
        }
        "blockchain.relayfee" => Ok(json!(RELAY_FEE_BTC_PER_KVB)),
        "mempool.get_fee_histogram" => Ok(json!([])),
        "blockchain.scripthash.get_history" => {
            let hash = parse_scripthash(p.str(0, "scripthash")?)?;
            with_index(&mut |node, index| Ok(history_json(&history(node, index, &hash))))
        }
        "blockchain.scripthash.get_mempool" => {
            let hash = parse_scripthash(p.str(0, "scripthash")?)?;
            with_index(&mut |node, index| {
                let mut entries = history(node, index, &hash);
                entries.retain(|e| e.height <= 0);
                Ok(history_json(&entries))
            })
        }
        "blockchain.scripthash.subscribe" => {
            let scripthash = p.str(0, "scripthash")?;
            let hash = parse_scripthash(scripthash)?;
            with_index(&mut |node, index| {
                let status = status_of(&history(node, index, &hash));
                subs.scripts
                    .insert(scripthash.to_ascii_lowercase(), status.clone());
                Ok(json!(status))
            })
        }
        "blockchain.scripthash.unsubscribe" => {
            let scripthash = p.str(0, "scripthash")?;
            parse_scripthash(scripthash)?;
            Ok(json!(subs
                .scripts
                .remove(&scripthash.to_ascii_lowercase())
                .is_some()))
        }
        "blockchain.scripthash.get_balance" => {
            let hash = parse_scripthash(p.str(0, "scripthash")?)?;
            with_index(&mut |node, index| {
                let Some(script) = index.scripts.get(&hash) else {
                    return Ok(json!({"confirmed": 0, "unconfirmed": 0}));
                };
                let entries = history(node, index, &hash);
                let (found, spent_confirmed, spent_mempool) = coins(node, script, &entries);
                let mut confirmed: i64 = 0;
                let mut unconfirmed: i64 = 0;
                for coin in &found {
                    if spent_confirmed.contains(&coin.outpoint) {
                        continue;
                    }
                    let value = i64::try_from(coin.value.to_sat()).unwrap_or(i64::MAX);
                    if coin.height > 0 {
                        confirmed = confirmed.saturating_add(value);
                    } else {
                        unconfirmed = unconfirmed.saturating_add(value);
                    }
                    if spent_mempool.contains(&coin.outpoint) {
                        unconfirmed = unconfirmed.saturating_sub(value);
                    }
                }
                Ok(json!({"confirmed": confirmed, "unconfirmed": unconfirmed}))
            })
        }
        "blockchain.scripthash.listunspent" => {
            let hash = parse_scripthash(p.str(0, "scripthash")?)?;
            with_index(&mut |node, index| {
                let Some(script) = index.scripts.get(&hash) else {
                    return Ok(json!([]));
                };
                let entries = history(node, index, &hash);
                let (found, spent_confirmed, spent_mempool) = coins(node, script, &entries);
                Ok(Value::Array(
                    found
                        .iter()
                        .filter(|c| {
                            !spent_confirmed.contains(&c.outpoint)
                                && !spent_mempool.contains(&c.outpoint)
                        })
                        .map(|c| {
                            json!({
                                "tx_hash": c.outpoint.txid.to_string(),
                                "tx_pos": c.outpoint.vout,
                                "height": c.height,
                                "value": c.value.to_sat(),
                            })
                        })
                        .collect(),
                ))
            })
        }
        "blockchain.transaction.get" => {
            let txid = parse_txid(p.str(0, "tx_hash")?)?;
            if p.bool_or(1, "verbose", false)? {
                return Err(Fault::new(
                    BAD_REQUEST,
                    "verbose transactions are not supported",
                ));
            }
            let node = lock(&shared.node);
            let (tx, _) = node.get_tx(&txid).ok_or_else(|| {
                Fault::new(
                    BAD_REQUEST,
                    format!("No such mempool or blockchain transaction: {txid}"),
                )
            })?;
            Ok(json!(hex_string(&serialize(&tx))))
        }
        "blockchain.transaction.get_merkle" => {
            let txid = parse_txid(p.str(0, "tx_hash")?)?;
            let height = p.u32(1, "height")?;
            let node = lock(&shared.node);
            let txids = block_txids(&node, height)?;
            let pos = txids.iter().position(|t| *t == txid).ok_or_else(|| {
                Fault::new(
                    BAD_REQUEST,
                    format!("tx {txid} not in block at height {height}"),
                )
            })?;
            Ok(json!({
                "block_height": height,
                "merkle": merkle_branch(txids, pos),
                "pos": pos,
            }))
        }
        "blockchain.transaction.id_from_pos" => {
            let height = p.u32(0, "height")?;
            let pos = usize::try_from(p.u32(1, "tx_pos")?).unwrap_or(usize::MAX);
            let merkle = p.bool_or(2, "merkle", false)?;
            let node = lock(&shared.node);
            let txids = block_txids(&node, height)?;
            let txid = txids.get(pos).ok_or_else(|| {
                Fault::new(
                    BAD_REQUEST,
                    format!("no tx at position {pos} in block {height}"),
                )
            })?;
            if merkle {
                Ok(json!({"tx_hash": txid.to_string(), "merkle": merkle_branch(txids, pos)}))
            } else {
                Ok(json!(txid.to_string()))
            }
        }
        "blockchain.transaction.broadcast" => {
            let raw = p.str(0, "raw_tx")?;
            let tx: Transaction = Vec::<u8>::from_hex(raw)
                .ok()
                .and_then(|bytes| deserialize(&bytes).ok())
                .ok_or_else(|| Fault::new(BAD_REQUEST, "TX decode failed"))?;
            let txid = tx.compute_txid();
            match lock(&shared.node).submit(tx) {
                Ok(txid) => Ok(json!(txid.to_string())),
                // Like bitcoind: a transaction already in the mempool is accepted again.
                Err(RejectReason::AlreadyInMempool) => Ok(json!(txid.to_string())),
                Err(reason) => Err(Fault::new(BAD_REQUEST, reason.to_string())),
            }
        }
        _ => Err(Fault::new(
            METHOD_NOT_FOUND,
            format!("unknown method \"{method}\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_transaction_has_an_empty_branch() {
        let txid = Txid::from_byte_array([7; 32]);
        assert!(merkle_branch(&[txid], 0).is_empty());
    }

    #[test]
    fn the_branch_of_an_odd_level_pairs_the_last_hash_with_itself() {
        let txids: Vec<Txid> = (1..=3u8).map(|b| Txid::from_byte_array([b; 32])).collect();
        let branch = merkle_branch(&txids, 2);
        assert_eq!(branch.len(), 2);
        assert_eq!(
            branch[0],
            TxMerkleNode::from_raw_hash(txids[2].to_raw_hash()).to_string()
        );
    }

    #[test]
    fn status_is_null_without_history() {
        assert_eq!(status_of(&[]), None);
    }

    #[test]
    fn scripthash_is_the_reversed_sha256() {
        let mut hash = [0u8; 32];
        hash[0] = 0xab;
        let mut reversed = hash;
        reversed.reverse();
        assert_eq!(parse_scripthash(&hex_string(&reversed)).ok(), Some(hash));
        assert!(parse_scripthash("zz").is_err());
    }
}
