//! A bitcoind-compatible JSON-RPC server for a [`Node`], on loopback over HTTP/1.1.
//!
//! [`RpcServer::start`] binds `127.0.0.1:<port>` (port 0 picks a free port), writes a cookie
//! file (`__cookie__:<random hex>`, like bitcoind) and serves each connection on its own
//! thread, with keep-alive. Every request needs HTTP Basic auth with either the configured
//! user/password or the cookie's credentials; anything else answers HTTP 401.
//!
//! Requests are JSON-RPC 1.0 or 2.0 objects, or batches of them. Methods, field names and
//! error codes follow bitcoind: `getblockchaininfo`, `getblockcount`, `getbestblockhash`,
//! `getblockhash`, `getblockheader`, `getblock` (verbosity 0, 1, 2), `getrawmempool`,
//! `getrawtransaction`, `sendrawtransaction`, `testmempoolaccept`, `estimatesmartfee`, `prioritisetransaction`,
//! `generatetoaddress`, and the wallet method `sendtoaddress` when the server has a
//! [`Faucet`] ([`RpcServer::start_with_faucet`]). Like bitcoind, a failed JSON-RPC 1.0
//! request answers HTTP 500 (404 for an unknown method); JSON-RPC 2.0 requests and batches
//! answer HTTP 200.
//!
//! [`Miner`] mines a block every N seconds on a background thread.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::hex::FromHex;
use bitcoin::{Address, Amount, Block, BlockHash, Network, ScriptBuf, Transaction, Txid};
use serde_json::{json, Map, Value};

use crate::faucet::{Faucet, FaucetError};
use crate::http::{read_request, write_response};
use crate::{Node, RejectReason};

// The node moves between threads behind a mutex: the kernel's context and chainstate manager
// are `Send` (bitcoinkernel implements it), and so is everything else in `Node`.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Node>();
};

/// The node as the server shares it between connection threads.
pub type SharedNode = Arc<Mutex<Node>>;

/// The user name bitcoind uses in cookie files.
pub const COOKIE_USER: &str = "__cookie__";

/// The fee rate `estimatesmartfee` answers, in BTC per kvB (10 sat/vB).
pub const ESTIMATED_FEERATE_BTC_PER_KVB: f64 = 0.0001;

/// The content type of every response.
const JSON: &str = "application/json";

/// How often idle connection threads and the accept loop look at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);

/// Errors starting the RPC server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The listening socket could not be bound (e.g. the port is taken).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The cookie file could not be written.
    #[error("cannot write cookie file {path}: {source}")]
    Cookie {
        /// The cookie file's path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another I/O error of the listening socket or a thread spawn.
    #[error("rpc server: {0}")]
    Io(#[from] std::io::Error),
}

/// How to run the RPC server.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// The loopback port to listen on; 0 picks a free one (see [`RpcServer::local_addr`]).
    pub port: u16,
    /// The user and password accepted with Basic auth besides the cookie, if any.
    pub user_password: Option<(String, String)>,
    /// Where to write the cookie file (`__cookie__:<random hex>`); it is removed when the
    /// server stops. `None` writes no cookie file (then only `user_password` is accepted).
    pub cookie_file: Option<PathBuf>,
}

impl RpcConfig {
    /// A configuration listening on `port` with a cookie file at `<data_dir>/.cookie` and no
    /// user/password.
    pub fn with_cookie(port: u16, data_dir: &Path) -> RpcConfig {
        RpcConfig {
            port,
            user_password: None,
            cookie_file: Some(data_dir.join(".cookie")),
        }
    }
}

/// State shared by the connection threads.
struct Shared {
    node: SharedNode,
    /// The wallet `sendtoaddress` pays from, if any.
    faucet: Option<Faucet>,
    /// Accepted `Authorization` header payloads (base64 of `user:password`), decoded.
    credentials: Vec<String>,
    /// When each mempool transaction was first accepted through RPC (unix seconds).
    first_seen: Mutex<HashMap<Txid, u64>>,
    shutdown: AtomicBool,
    /// Connection threads, joined at shutdown.
    connections: Mutex<Vec<JoinHandle<()>>>,
}

/// A running JSON-RPC server. Stop it with [`RpcServer::shutdown`] (dropping it also stops
/// it).
pub struct RpcServer {
    addr: SocketAddr,
    cookie: Option<(PathBuf, String)>,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcServer")
            .field("addr", &self.addr)
            .field("cookie_file", &self.cookie.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

/// Locks `m`, taking the data even if a thread panicked while holding it (a devnet server
/// keeps serving rather than poisoning every later request). Shared by the RPC, Electrum and
/// Esplora servers.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes `contents` to `path`, readable by its owner only on Unix.
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

impl RpcServer {
    /// Binds `127.0.0.1:<config.port>`, writes the cookie file and starts serving `node`.
    ///
    /// # Errors
    ///
    /// [`RpcError::Bind`] if the port cannot be bound, [`RpcError::Cookie`] if the cookie
    /// file cannot be written, [`RpcError::Io`] if a thread cannot be started.
    pub fn start(node: SharedNode, config: RpcConfig) -> Result<RpcServer, RpcError> {
        RpcServer::start_with_faucet(node, config, None)
    }

    /// [`RpcServer::start`] with a wallet: `sendtoaddress` pays from `faucet`'s coins (like
    /// a bitcoind wallet holding the faucet's key). Without one, `sendtoaddress` answers
    /// bitcoind's "no wallet is loaded" error (-18).
    ///
    /// # Errors
    ///
    /// As [`RpcServer::start`].
    pub fn start_with_faucet(
        node: SharedNode,
        config: RpcConfig,
        faucet: Option<Faucet>,
    ) -> Result<RpcServer, RpcError> {
        let want = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener =
            TcpListener::bind(want).map_err(|source| RpcError::Bind { addr: want, source })?;
        let addr = listener.local_addr()?;
        let mut credentials = Vec::new();
        if let Some((user, password)) = &config.user_password {
            credentials.push(format!("{user}:{password}"));
        }
        let cookie = match config.cookie_file {
            Some(path) => {
                let secret: [u8; 32] = bitcoin::secp256k1::rand::random();
                let line = format!("{COOKIE_USER}:{}", hex_string(&secret));
                write_private(&path, &line).map_err(|source| RpcError::Cookie {
                    path: path.clone(),
                    source,
                })?;
                credentials.push(line.clone());
                Some((path, line))
            }
            None => None,
        };
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            node,
            faucet,
            credentials,
            first_seen: Mutex::new(HashMap::new()),
            shutdown: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name("devnet-rpc-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(RpcServer {
            addr,
            cookie,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// The address the server listens on (with the chosen port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The cookie file's path, if one was written.
    pub fn cookie_file(&self) -> Option<&Path> {
        self.cookie.as_ref().map(|(p, _)| p.as_path())
    }

    /// The cookie's `__cookie__:<hex>` credentials, if a cookie file was written.
    pub fn cookie_credentials(&self) -> Option<&str> {
        self.cookie.as_ref().map(|(_, c)| c.as_str())
    }

    /// Stops accepting, waits for every connection thread to finish (each notices within
    /// about 100 ms once its current request is answered) and removes the cookie file.
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
        if let Some((path, _)) = self.cookie.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let conn_shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("devnet-rpc-conn".into())
                    .spawn(move || serve_connection(stream, &conn_shared));
                let mut connections = lock(&shared.connections);
                connections.retain(|t| !t.is_finished());
                if let Ok(handle) = spawned {
                    connections.push(handle);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL / 4),
            Err(_) => std::thread::sleep(POLL / 4),
        }
    }
}

fn authorized(shared: &Shared, header: Option<&str>) -> bool {
    let Some(header) = header else {
        return false;
    };
    let Some(encoded) = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    shared.credentials.contains(&decoded)
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
            Err(_) => {
                let _ = write_response(&mut stream, 400, JSON, b"", false, "");
                return;
            }
        };
        let keep_alive = request.keep_alive;
        let sent = if !authorized(shared, request.authorization.as_deref()) {
            write_response(
                &mut stream,
                401,
                JSON,
                b"",
                keep_alive,
                "WWW-Authenticate: Basic realm=\"jsonrpc\"\r\n",
            )
        } else if request.method != "POST" {
            write_response(&mut stream, 405, JSON, b"", keep_alive, "")
        } else {
            let (status, body) = handle_body(shared, &request.body);
            write_response(&mut stream, status, JSON, body.as_bytes(), keep_alive, "")
        };
        if sent.is_err() || !keep_alive {
            return;
        }
    }
}

/// A JSON-RPC error with bitcoind's code and message.
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
    fn invalid_params(message: impl Into<String>) -> Fault {
        Fault::new(RPC_INVALID_PARAMETER, message)
    }
}

const RPC_INVALID_REQUEST: i64 = -32600;
const RPC_METHOD_NOT_FOUND: i64 = -32601;
const RPC_INVALID_PARAMS: i64 = -32602;
const RPC_PARSE_ERROR: i64 = -32700;
const RPC_MISC_ERROR: i64 = -1;
const RPC_TYPE_ERROR: i64 = -3;
const RPC_WALLET_ERROR: i64 = -4;
const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
const RPC_WALLET_INSUFFICIENT_FUNDS: i64 = -6;
const RPC_WALLET_NOT_FOUND: i64 = -18;
const RPC_INVALID_PARAMETER: i64 = -8;
const RPC_DESERIALIZATION_ERROR: i64 = -22;
const RPC_TRANSACTION_ERROR: i64 = -25;
const RPC_TRANSACTION_REJECTED: i64 = -26;
const RPC_TRANSACTION_ALREADY_IN_CHAIN: i64 = -27;

/// Answers an HTTP body: (status, JSON text).
fn handle_body(shared: &Shared, body: &[u8]) -> (u16, String) {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            let reply = json!({"result": null, "error": {"code": RPC_PARSE_ERROR, "message": "Parse error"}, "id": null});
            return (500, reply.to_string());
        }
    };
    match parsed {
        Value::Array(requests) => {
            let replies: Vec<Value> = requests
                .iter()
                .filter_map(|r| handle_request(shared, r).1)
                .collect();
            (200, Value::Array(replies).to_string())
        }
        request => match handle_request(shared, &request) {
            (status, Some(reply)) => (status, reply.to_string()),
            (_, None) => (204, String::new()),
        },
    }
}

/// Answers one request object: (HTTP status if it were alone, reply or `None` for a
/// JSON-RPC 2.0 notification).
fn handle_request(shared: &Shared, request: &Value) -> (u16, Option<Value>) {
    let Some(object) = request.as_object() else {
        let reply = json!({"result": null, "error": {"code": RPC_INVALID_REQUEST, "message": "Invalid Request object"}, "id": null});
        return (400, Some(reply));
    };
    let v2 = object.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let id = object.get("id").cloned();
    let outcome = match object.get("method").and_then(Value::as_str) {
        None => Err(Fault::new(RPC_INVALID_REQUEST, "Method must be a string")),
        Some(method) => {
            let params = object.get("params").cloned().unwrap_or(Value::Null);
            dispatch(shared, method, &params)
        }
    };
    if v2 && id.is_none() {
        return (204, None);
    }
    let id = id.unwrap_or(Value::Null);
    match outcome {
        Ok(result) => {
            let reply = if v2 {
                json!({"jsonrpc": "2.0", "result": result, "id": id})
            } else {
                json!({"result": result, "error": null, "id": id})
            };
            (200, Some(reply))
        }
        Err(fault) => {
            let error = json!({"code": fault.code, "message": fault.message});
            if v2 {
                (
                    200,
                    Some(json!({"jsonrpc": "2.0", "error": error, "id": id})),
                )
            } else {
                let status = match fault.code {
                    RPC_INVALID_REQUEST => 400,
                    RPC_METHOD_NOT_FOUND => 404,
                    _ => 500,
                };
                (
                    status,
                    Some(json!({"result": null, "error": error, "id": id})),
                )
            }
        }
    }
}

/// Positional or named parameters of one call.
struct Params<'a> {
    params: &'a Value,
}

impl<'a> Params<'a> {
    fn get(&self, index: usize, name: &str) -> Option<&'a Value> {
        let value = match self.params {
            Value::Array(list) => list.get(index),
            Value::Object(map) => map.get(name),
            _ => None,
        };
        value.filter(|v| !v.is_null())
    }

    fn required(&self, index: usize, name: &str) -> Result<&'a Value, Fault> {
        self.get(index, name).ok_or_else(|| {
            Fault::new(
                RPC_INVALID_PARAMS,
                format!("Missing required parameter {name}"),
            )
        })
    }

    fn str(&self, index: usize, name: &str) -> Result<&'a str, Fault> {
        self.required(index, name)?
            .as_str()
            .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, format!("Expected type string for {name}")))
    }

    fn u64(&self, index: usize, name: &str) -> Result<u64, Fault> {
        self.required(index, name)?
            .as_u64()
            .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, format!("Expected type number for {name}")))
    }

    /// A verbosity given as a boolean or a number, `default` when absent.
    fn verbosity(&self, index: usize, name: &str, default: u64) -> Result<u64, Fault> {
        match self.get(index, name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(u64::from(*b)),
            Some(v) => v.as_u64().ok_or_else(|| {
                Fault::new(
                    RPC_TYPE_ERROR,
                    format!("Expected type bool or number for {name}"),
                )
            }),
        }
    }
}

fn parse_hash<T: std::str::FromStr>(s: &str, name: &str) -> Result<T, Fault> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Fault::invalid_params(format!(
            "{name} must be of length 64 (not {}, for '{s}')",
            s.len()
        )));
    }
    s.parse().map_err(|_| {
        Fault::invalid_params(format!("{name} must be hexadecimal string (not '{s}')"))
    })
}

fn decode_tx(hex_str: &str) -> Result<Transaction, Fault> {
    let bytes = Vec::<u8>::from_hex(hex_str)
        .map_err(|_| Fault::new(RPC_DESERIALIZATION_ERROR, "TX decode failed"))?;
    deserialize(&bytes).map_err(|_| Fault::new(RPC_DESERIALIZATION_ERROR, "TX decode failed"))
}

fn btc(amount: Amount) -> Value {
    json!(amount.to_btc())
}

/// Total work of a regtest chain of `height + 1` blocks (each `nBits` 0x207fffff block is
/// worth 2), as bitcoind's 64-digit hex `chainwork`.
fn chainwork(height: u32) -> String {
    format!("{:064x}", (u64::from(height) + 1) * 2)
}

/// The difficulty of a regtest block, as bitcoind prints it.
const REGTEST_DIFFICULTY: f64 = 4.656_542_373_906_925e-10;

fn dispatch(shared: &Shared, method: &str, params: &Value) -> Result<Value, Fault> {
    let p = Params { params };
    let node_lock = || lock(&shared.node);
    match method {
        "getblockchaininfo" => {
            let node = node_lock();
            let height = node.tip_height();
            Ok(json!({
                "chain": "regtest",
                "blocks": height,
                "headers": height,
                "bestblockhash": node.tip_hash().to_string(),
                "difficulty": REGTEST_DIFFICULTY,
                "time": node.block_time(height).unwrap_or(0),
                "mediantime": node.median_time_past(height),
                "verificationprogress": 1.0,
                "initialblockdownload": false,
                "chainwork": chainwork(height),
                "size_on_disk": 0,
                "pruned": false,
                "warnings": "",
            }))
        }
        "getblockcount" => Ok(json!(node_lock().tip_height())),
        "getbestblockhash" => Ok(json!(node_lock().tip_hash().to_string())),
        "getblockhash" => {
            let height = p.required(0, "height")?;
            let height = height
                .as_i64()
                .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Expected type number for height"))?;
            let node = node_lock();
            u32::try_from(height)
                .ok()
                .and_then(|h| node.block_hash(h))
                .map(|h| json!(h.to_string()))
                .ok_or_else(|| Fault::invalid_params("Block height out of range"))
        }
        "getblockheader" => {
            let hash: BlockHash = parse_hash(p.str(0, "blockhash")?, "hash")?;
            let verbose = p.verbosity(1, "verbose", 1)? != 0;
            let node = node_lock();
            let (height, block) = find_block(&node, &hash)?;
            if verbose {
                Ok(Value::Object(header_json(&node, height, &block)))
            } else {
                Ok(json!(hex_string(&serialize(&block.header))))
            }
        }
        "getblock" => {
            let hash: BlockHash = parse_hash(p.str(0, "blockhash")?, "blockhash")?;
            let verbosity = p.verbosity(1, "verbosity", 1)?;
            let node = node_lock();
            let (height, block) = find_block(&node, &hash)?;
            if verbosity == 0 {
                return Ok(json!(hex_string(&serialize(&block))));
            }
            let mut object = header_json(&node, height, &block);
            object.insert("size".into(), json!(block.total_size()));
            object.insert(
                "strippedsize".into(),
                json!((block.weight().to_wu() as usize - block.total_size()) / 3),
            );
            object.insert("weight".into(), json!(block.weight().to_wu()));
            let txs: Vec<Value> = if verbosity == 1 {
                block
                    .txdata
                    .iter()
                    .map(|tx| json!(tx.compute_txid().to_string()))
                    .collect()
            } else {
                block
                    .txdata
                    .iter()
                    .map(|tx| Value::Object(tx_json(tx)))
                    .collect()
            };
            object.insert("tx".into(), Value::Array(txs));
            Ok(Value::Object(object))
        }
        "getrawmempool" => {
            let verbose = p.verbosity(0, "verbose", 0)? != 0;
            let node = node_lock();
            let txids = node.mempool();
            if !verbose {
                return Ok(json!(txids.iter().map(Txid::to_string).collect::<Vec<_>>()));
            }
            let first_seen = lock(&shared.first_seen);
            let height = node.tip_height();
            let mut out = Map::new();
            for txid in txids {
                let Some((tx, _)) = node.get_tx(&txid) else {
                    continue;
                };
                let fee = node.fee_of(&tx).unwrap_or(Amount::ZERO);
                out.insert(
                    txid.to_string(),
                    json!({
                        "vsize": tx.vsize(),
                        "weight": tx.weight().to_wu(),
                        "time": first_seen.get(&txid).copied().unwrap_or_else(now_secs),
                        "height": height,
                        "fees": {"base": btc(fee), "modified": btc(fee), "ancestor": btc(fee), "descendant": btc(fee)},
                        "wtxid": tx.compute_wtxid().to_string(),
                        "depends": tx.input.iter()
                            .filter(|i| node.get_tx(&i.previous_output.txid).is_some_and(|(_, c)| c.is_none()))
                            .map(|i| i.previous_output.txid.to_string())
                            .collect::<Vec<_>>(),
                        "bip125-replaceable": false,
                    }),
                );
            }
            Ok(Value::Object(out))
        }
        "getrawtransaction" => {
            let txid: Txid = parse_hash(p.str(0, "txid")?, "parameter 1")?;
            let verbose = p.verbosity(1, "verbose", 0)? != 0;
            let node = node_lock();
            let (tx, confirmations) = node.get_tx(&txid).ok_or_else(|| {
                Fault::new(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
                )
            })?;
            let hex = hex_string(&serialize(&tx));
            if !verbose {
                return Ok(json!(hex));
            }
            let mut object = tx_json(&tx);
            object.insert("hex".into(), json!(hex));
            if let Some(confirmations) = confirmations {
                let height = node.tip_height() + 1 - confirmations;
                if let (Some(hash), Some(time)) = (node.block_hash(height), node.block_time(height))
                {
                    object.insert("blockhash".into(), json!(hash.to_string()));
                    object.insert("confirmations".into(), json!(confirmations));
                    object.insert("time".into(), json!(time));
                    object.insert("blocktime".into(), json!(time));
                }
            }
            Ok(Value::Object(object))
        }
        "sendrawtransaction" => {
            let tx = decode_tx(p.str(0, "hexstring")?)?;
            let txid = tx.compute_txid();
            let mut node = node_lock();
            match node.submit(tx) {
                Ok(txid) => {
                    lock(&shared.first_seen).insert(txid, now_secs());
                    Ok(json!(txid.to_string()))
                }
                // bitcoind answers the txid for a transaction already in its mempool.
                Err(RejectReason::AlreadyInMempool) => Ok(json!(txid.to_string())),
                Err(RejectReason::AlreadyKnown) => Err(Fault::new(
                    RPC_TRANSACTION_ALREADY_IN_CHAIN,
                    "Transaction already in block chain",
                )),
                Err(RejectReason::InputsMissingOrSpent) => Err(Fault::new(
                    RPC_TRANSACTION_ERROR,
                    RejectReason::InputsMissingOrSpent.to_string(),
                )),
                Err(reason) => Err(Fault::new(RPC_TRANSACTION_REJECTED, reason.to_string())),
            }
        }
        "testmempoolaccept" => {
            let rawtxs = p
                .required(0, "rawtxs")?
                .as_array()
                .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Expected type array for rawtxs"))?;
            if rawtxs.is_empty() || rawtxs.len() > 25 {
                return Err(Fault::invalid_params(
                    "Array must contain between 1 and 25 transactions.",
                ));
            }
            let node = node_lock();
            let mut results = Vec::new();
            for raw in rawtxs {
                let raw = raw
                    .as_str()
                    .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Expected type string"))?;
                let tx = decode_tx(raw)?;
                let mut entry = json!({
                    "txid": tx.compute_txid().to_string(),
                    "wtxid": tx.compute_wtxid().to_string(),
                });
                let map = entry.as_object_mut().expect("object literal");
                match node.test_accept(&tx) {
                    Ok(fee) => {
                        map.insert("allowed".into(), json!(true));
                        map.insert("vsize".into(), json!(tx.vsize()));
                        map.insert("fees".into(), json!({"base": btc(fee)}));
                    }
                    Err(reason) => {
                        map.insert("allowed".into(), json!(false));
                        map.insert("reject-reason".into(), json!(reason.to_string()));
                    }
                }
                results.push(entry);
            }
            Ok(Value::Array(results))
        }
        "prioritisetransaction" => {
            // bitcoind's arguments: txid, dummy (must be 0 or null), fee_delta in sat
            let txid: Txid = parse_hash(p.str(0, "txid")?, "parameter 1")?;
            let delta = p
                .required(2, "fee_delta")?
                .as_i64()
                .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Expected type number for fee_delta"))?;
            node_lock().prioritise_transaction(txid, delta);
            Ok(json!(true))
        }
        "estimatesmartfee" => {
            let target = p.u64(0, "conf_target")?;
            Ok(json!({
                "feerate": ESTIMATED_FEERATE_BTC_PER_KVB,
                "blocks": target.clamp(1, 1008),
            }))
        }
        "generatetoaddress" => {
            let n = p
                .required(0, "nblocks")?
                .as_i64()
                .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Expected type number for nblocks"))?;
            let address = p.str(1, "address")?;
            let script = regtest_script(address)?;
            let n = u32::try_from(n).map_err(|_| Fault::invalid_params("nblocks must be >= 0"))?;
            let hashes = lock(&shared.node)
                .mine(n, &script)
                .map_err(|e| Fault::new(RPC_MISC_ERROR, e.to_string()))?;
            Ok(json!(hashes
                .iter()
                .map(BlockHash::to_string)
                .collect::<Vec<_>>()))
        }
        "sendtoaddress" => {
            let faucet = shared.faucet.as_ref().ok_or_else(|| {
                Fault::new(
                    RPC_WALLET_NOT_FOUND,
                    "No wallet is loaded. Load a wallet using loadwallet or create a new one with createwallet. (Note: A default wallet is no longer automatically created)",
                )
            })?;
            let script = address_script(p.str(0, "address")?, "Invalid address")?;
            let amount = amount_from_value(p.required(1, "amount")?)?;
            if amount == Amount::ZERO {
                return Err(Fault::new(RPC_TYPE_ERROR, "Invalid amount for send"));
            }
            if p.get(4, "subtractfeefromamount")
                .is_some_and(|v| v.as_bool() != Some(false))
            {
                return Err(Fault::invalid_params(
                    "subtractfeefromamount is not supported by the devnet wallet",
                ));
            }
            let txid = faucet
                .pay(&mut node_lock(), &script, amount)
                .map_err(|e| match e {
                    FaucetError::InsufficientFunds { .. } => {
                        Fault::new(RPC_WALLET_INSUFFICIENT_FUNDS, "Insufficient funds")
                    }
                    FaucetError::AmountTooSmall { .. } => {
                        Fault::new(RPC_WALLET_ERROR, "Transaction amount too small")
                    }
                    other => Fault::new(RPC_WALLET_ERROR, other.to_string()),
                })?;
            lock(&shared.first_seen).insert(txid, now_secs());
            Ok(json!(txid.to_string()))
        }
        _ => Err(Fault::new(RPC_METHOD_NOT_FOUND, "Method not found")),
    }
}

/// An amount in BTC given as a JSON number or string, as bitcoind's `AmountFromValue` reads
/// it: decimal with an optional exponent, at most 8 decimals, within `[0, 21,000,000]` BTC.
/// Exact: no floating point (a JSON number is read from its decimal text).
fn amount_from_value(value: &Value) -> Result<Amount, Fault> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            return Err(Fault::new(
                RPC_TYPE_ERROR,
                "Amount is not a number or string",
            ))
        }
    };
    let sats =
        parse_fixed_point_8(&text).ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Invalid amount"))?;
    u64::try_from(sats)
        .ok()
        .map(Amount::from_sat)
        .filter(|a| *a <= Amount::MAX_MONEY)
        .ok_or_else(|| Fault::new(RPC_TYPE_ERROR, "Amount out of range"))
}

/// Parses a decimal number with an optional sign, fraction and exponent (`-1.5`, `0.001`,
/// `1e-5`, `2E+3`) into units of 10^-8; `None` if it is malformed, needs more than 8
/// decimals, or is beyond 10^18 units (bitcoind's `ParseFixedPoint(_, 8, _)`).
fn parse_fixed_point_8(text: &str) -> Option<i128> {
    const DECIMALS: i64 = 8;
    const LIMIT: i128 = 1_000_000_000_000_000_000;
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => {
            let exp = &rest[at + 1..];
            let exp = exp.strip_prefix('+').unwrap_or(exp);
            if exp.is_empty()
                || exp.len() > 4
                || !exp
                    .trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            {
                return None;
            }
            (&rest[..at], exp.parse::<i64>().ok()?)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || (mantissa.contains('.') && frac_part.is_empty())
    {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    // value = digits * 10^(exponent - frac_len); in units: * 10^(DECIMALS + exponent - frac_len)
    let frac_len = i64::try_from(frac_part.len()).ok()?;
    let mut shift = DECIMALS + exponent - frac_len;
    let mut digits = digits.to_string();
    while shift < 0 {
        // Only trailing zeros may be dropped: anything else needs more than 8 decimals.
        if digits.is_empty() {
            shift = 0;
            break;
        }
        if !digits.ends_with('0') {
            return None;
        }
        digits.pop();
        shift += 1;
    }
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() > 19 || shift > 19 {
        return None;
    }
    let mut units: i128 = digits.parse().ok()?;
    for _ in 0..shift {
        units = units.checked_mul(10)?;
    }
    if units >= LIMIT {
        return None;
    }
    Some(if negative { -units } else { units })
}

/// The script of a regtest address, or bitcoind's invalid-address error
/// (`generatetoaddress`'s wording).
fn regtest_script(address: &str) -> Result<ScriptBuf, Fault> {
    address_script(address, "Error: Invalid address")
}

/// The script of a regtest address, or [`RPC_INVALID_ADDRESS_OR_KEY`] with `message` for
/// anything else (malformed, or another network's).
fn address_script(address: &str, message: &str) -> Result<ScriptBuf, Fault> {
    address
        .parse::<Address<bitcoin::address::NetworkUnchecked>>()
        .ok()
        .and_then(|a| a.require_network(Network::Regtest).ok())
        .map(|a| a.script_pubkey())
        .ok_or_else(|| Fault::new(RPC_INVALID_ADDRESS_OR_KEY, message))
}

fn find_block(node: &Node, hash: &BlockHash) -> Result<(u32, Block), Fault> {
    let not_found = || Fault::new(RPC_INVALID_ADDRESS_OR_KEY, "Block not found");
    let height = node.block_height(hash).ok_or_else(not_found)?;
    let block = node
        .block(height)
        .map_err(|e| Fault::new(RPC_MISC_ERROR, e.to_string()))?
        .ok_or_else(not_found)?;
    Ok((height, block))
}

fn header_json(node: &Node, height: u32, block: &Block) -> Map<String, Value> {
    let header = &block.header;
    let mut object = Map::new();
    object.insert("hash".into(), json!(block.block_hash().to_string()));
    object.insert(
        "confirmations".into(),
        json!(node.tip_height() - height + 1),
    );
    object.insert("height".into(), json!(height));
    object.insert("version".into(), json!(header.version.to_consensus()));
    object.insert(
        "versionHex".into(),
        json!(format!("{:08x}", header.version.to_consensus())),
    );
    object.insert("merkleroot".into(), json!(header.merkle_root.to_string()));
    object.insert("time".into(), json!(header.time));
    object.insert("mediantime".into(), json!(node.median_time_past(height)));
    object.insert("nonce".into(), json!(header.nonce));
    object.insert(
        "bits".into(),
        json!(format!("{:08x}", header.bits.to_consensus())),
    );
    object.insert("difficulty".into(), json!(REGTEST_DIFFICULTY));
    object.insert("chainwork".into(), json!(chainwork(height)));
    object.insert("nTx".into(), json!(block.txdata.len()));
    if height > 0 {
        object.insert(
            "previousblockhash".into(),
            json!(header.prev_blockhash.to_string()),
        );
    }
    if let Some(next) = node.block_hash(height + 1) {
        object.insert("nextblockhash".into(), json!(next.to_string()));
    }
    object
}

fn script_type(script: &ScriptBuf) -> &'static str {
    if script.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if script.is_p2wsh() {
        "witness_v0_scripthash"
    } else if script.is_p2tr() {
        "witness_v1_taproot"
    } else if script.is_p2pkh() {
        "pubkeyhash"
    } else if script.is_p2sh() {
        "scripthash"
    } else if script.is_op_return() {
        "nulldata"
    } else {
        "nonstandard"
    }
}

/// A transaction decoded as bitcoind's `decoderawtransaction` prints it.
fn tx_json(tx: &Transaction) -> Map<String, Value> {
    let vin: Vec<Value> = tx
        .input
        .iter()
        .map(|input| {
            let mut object = Map::new();
            if tx.is_coinbase() {
                object.insert(
                    "coinbase".into(),
                    json!(hex_string(input.script_sig.as_bytes())),
                );
            } else {
                object.insert("txid".into(), json!(input.previous_output.txid.to_string()));
                object.insert("vout".into(), json!(input.previous_output.vout));
                object.insert(
                    "scriptSig".into(),
                    json!({
                        "asm": input.script_sig.to_asm_string(),
                        "hex": hex_string(input.script_sig.as_bytes()),
                    }),
                );
            }
            if !input.witness.is_empty() {
                object.insert(
                    "txinwitness".into(),
                    json!(input.witness.iter().map(hex_string).collect::<Vec<_>>()),
                );
            }
            object.insert("sequence".into(), json!(input.sequence.to_consensus_u32()));
            Value::Object(object)
        })
        .collect();
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, out)| {
            let mut spk = json!({
                "asm": out.script_pubkey.to_asm_string(),
                "hex": hex_string(out.script_pubkey.as_bytes()),
                "type": script_type(&out.script_pubkey),
            });
            if let Ok(address) = Address::from_script(&out.script_pubkey, Network::Regtest) {
                spk["address"] = json!(address.to_string());
            }
            json!({"value": btc(out.value), "n": n, "scriptPubKey": spk})
        })
        .collect();
    let mut object = Map::new();
    object.insert("txid".into(), json!(tx.compute_txid().to_string()));
    object.insert("hash".into(), json!(tx.compute_wtxid().to_string()));
    object.insert("version".into(), json!(tx.version.0));
    object.insert("size".into(), json!(tx.total_size()));
    object.insert("vsize".into(), json!(tx.vsize()));
    object.insert("weight".into(), json!(tx.weight().to_wu()));
    object.insert("locktime".into(), json!(tx.lock_time.to_consensus_u32()));
    object.insert("vin".into(), Value::Array(vin));
    object.insert("vout".into(), Value::Array(vout));
    object
}

/// Mines one block every interval on a background thread, paying the coinbase to a script.
/// Stop it with [`Miner::stop`] (dropping it also stops it).
#[derive(Debug)]
pub struct Miner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Miner {
    /// Starts mining one block to `to` every `interval` (a failed block is reported on
    /// stderr and mining goes on).
    ///
    /// # Errors
    ///
    /// The operating system's error if the thread cannot be started.
    pub fn start(node: SharedNode, interval: Duration, to: ScriptBuf) -> std::io::Result<Miner> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("devnet-miner".into())
            .spawn(move || loop {
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(e) = lock(&node).mine(1, &to) {
                            eprintln!("devnet miner: {e}");
                        }
                    }
                    _ => return,
                }
            })?;
        Ok(Miner {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops mining and waits for the thread (a block being mined is finished first).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sats(value: Value) -> Result<u64, (i64, String)> {
        amount_from_value(&value)
            .map(Amount::to_sat)
            .map_err(|f| (f.code, f.message))
    }

    #[test]
    fn amounts_are_read_exactly_from_numbers_and_strings() {
        assert_eq!(sats(json!(1)), Ok(100_000_000));
        assert_eq!(sats(json!(0.1)), Ok(10_000_000));
        assert_eq!(sats(json!(0.00000001)), Ok(1));
        assert_eq!(sats(json!(1e-5)), Ok(1_000));
        assert_eq!(sats(json!("0.12345678")), Ok(12_345_678));
        assert_eq!(sats(json!("1.50000000000")), Ok(150_000_000));
        assert_eq!(sats(json!("2E+3")), Ok(200_000_000_000));
        assert_eq!(sats(json!("21000000")), Ok(2_100_000_000_000_000));
        assert_eq!(sats(json!("0")), Ok(0));
    }

    #[test]
    fn bad_amounts_get_bitcoinds_type_errors() {
        let invalid = Err((RPC_TYPE_ERROR, "Invalid amount".to_string()));
        let range = Err((RPC_TYPE_ERROR, "Amount out of range".to_string()));
        assert_eq!(sats(json!("0.123456789")), invalid);
        assert_eq!(sats(json!("abc")), invalid);
        assert_eq!(sats(json!("")), invalid);
        assert_eq!(sats(json!(".5")), invalid);
        assert_eq!(sats(json!("1.")), invalid);
        assert_eq!(sats(json!("1e")), invalid);
        assert_eq!(sats(json!("1 ")), invalid);
        assert_eq!(sats(json!(1e-9)), invalid);
        assert_eq!(sats(json!("-1")), range);
        assert_eq!(sats(json!("21000000.00000001")), range);
        assert_eq!(
            sats(json!(true)),
            Err((
                RPC_TYPE_ERROR,
                "Amount is not a number or string".to_string()
            ))
        );
    }
}
