//! The devnet's bitcoind-compatible JSON-RPC server, spoken to over real loopback HTTP, and
//! the `confiaro-devnet` binary run as a child process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::hex::FromHex;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, Secp256k1};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Address, Amount, Block, Network, OutPoint, ScriptBuf, Sequence, Transaction, Txid, Witness,
};
use confiaro_devnet::rpc::{RpcConfig, RpcServer};
use confiaro_devnet::testkit::TestKey as Key;
use confiaro_devnet::Node;
use serde_json::{json, Value};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";

/// A running server on a fresh node.
struct Devnet {
    _dir: tempfile::TempDir,
    server: RpcServer,
}

fn start() -> Devnet {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(dir.path()).expect("open node");
    let config = RpcConfig {
        port: 0,
        user_password: Some((USER.into(), PASSWORD.into())),
        cookie_file: Some(dir.path().join("regtest").join(".cookie")),
    };
    let server = RpcServer::start(Arc::new(Mutex::new(node)), config).expect("start server");
    assert_ne!(server.local_addr().port(), 0);
    Devnet { _dir: dir, server }
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// One HTTP POST on a fresh connection: (status, body).
fn post(addr: SocketAddr, auth: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let response = String::from_utf8(response).expect("utf8");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_string())
}

/// A JSON-RPC 1.0 call with user/password: the whole reply object.
fn call_raw(dev: &Devnet, method: &str, params: Value) -> Value {
    let request = json!({"jsonrpc": "1.0", "id": "t", "method": method, "params": params});
    let (_, body) = post(
        dev.server.local_addr(),
        Some(&basic(USER, PASSWORD)),
        &request.to_string(),
    );
    serde_json::from_str(&body).expect("json reply")
}

/// A call that must succeed: its result.
fn call(dev: &Devnet, method: &str, params: Value) -> Value {
    let reply = call_raw(dev, method, params);
    assert!(reply["error"].is_null(), "{method} failed: {reply}");
    reply["result"].clone()
}

/// A call that must fail: (code, message).
fn call_err(dev: &Devnet, method: &str, params: Value) -> (i64, String) {
    let reply = call_raw(dev, method, params);
    let error = &reply["error"];
    assert!(!error.is_null(), "{method} unexpectedly succeeded: {reply}");
    (
        error["code"].as_i64().expect("code"),
        error["message"].as_str().expect("message").to_string(),
    )
}

/// A signed P2WPKH spend of `outpoint` (worth `value`, paying to `key`) to `to`, minus `fee`.
fn spend(outpoint: OutPoint, value: Amount, key: &Key, to: ScriptBuf, fee: Amount) -> Transaction {
    key.spend_to(outpoint, value, to, fee)
}

fn hex_of(tx: &Transaction) -> String {
    serialize(tx).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn auth_is_required() {
    let dev = start();
    let addr = dev.server.local_addr();
    let body =
        json!({"jsonrpc": "1.0", "id": 1, "method": "getblockcount", "params": []}).to_string();

    assert_eq!(post(addr, None, &body).0, 401, "no credentials");
    assert_eq!(post(addr, Some(&basic(USER, "wrong")), &body).0, 401);
    assert_eq!(post(addr, Some(&basic("__cookie__", "00")), &body).0, 401);

    let (status, reply) = post(addr, Some(&basic(USER, PASSWORD)), &body);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["result"], 0);

    let cookie_path = dev.server.cookie_file().expect("cookie file");
    assert!(cookie_path.ends_with("regtest/.cookie"));
    let cookie = std::fs::read_to_string(cookie_path).expect("read cookie");
    let (user, password) = cookie.split_once(':').expect("user:password");
    assert_eq!(user, "__cookie__");
    assert_eq!(password.len(), 64);
    let (status, _) = post(addr, Some(&basic(user, password)), &body);
    assert_eq!(status, 200);

    // The cookie file goes away with the server, like bitcoind's.
    let cookie_path = cookie_path.to_path_buf();
    dev.server.shutdown();
    assert!(!cookie_path.exists());
}

#[test]
fn keep_alive_batches_and_json_rpc_2() {
    let dev = start();
    let addr = dev.server.local_addr();
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let auth = basic(USER, PASSWORD);
    // Three requests on one connection: a batch, a 2.0 call, an unknown 2.0 method.
    let bodies = [
        json!([
            {"jsonrpc": "1.0", "id": 1, "method": "getblockcount"},
            {"jsonrpc": "1.0", "id": 2, "method": "nosuchmethod", "params": []}
        ]),
        json!({"jsonrpc": "2.0", "id": 3, "method": "getbestblockhash", "params": {}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "nosuchmethod"}),
    ];
    let mut replies = Vec::new();
    for body in &bodies {
        let body = body.to_string();
        write!(
            stream,
            "POST / HTTP/1.1\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status");
        assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        replies.push(serde_json::from_slice::<Value>(&body).expect("json"));
    }
    assert_eq!(replies[0][0]["result"], 0);
    assert_eq!(replies[0][0]["id"], 1);
    assert_eq!(replies[0][1]["error"]["code"], -32601);
    assert_eq!(replies[0][1]["id"], 2);
    assert_eq!(replies[1]["jsonrpc"], "2.0");
    assert_eq!(replies[1]["id"], 3);
    assert_eq!(replies[1]["result"].as_str().unwrap().len(), 64);
    assert_eq!(replies[2]["error"]["code"], -32601);
    assert!(replies[2].get("result").is_none());
}

#[test]
fn blockchain_info_and_mining_are_consistent() {
    let dev = start();
    let info = call(&dev, "getblockchaininfo", json!([]));
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 0);
    assert_eq!(info["headers"], 0);
    assert_eq!(info["bestblockhash"].as_str().unwrap().len(), 64);
    assert!(info["mediantime"].as_u64().is_some());
    assert_eq!(info["initialblockdownload"], false);
    assert_eq!(info["pruned"], false);

    // Unknown method, bad address, bad height.
    assert_eq!(call_err(&dev, "nosuchmethod", json!([])).0, -32601);
    let (code, msg) = call_err(&dev, "generatetoaddress", json!([1, "notanaddress"]));
    assert_eq!((code, msg.as_str()), (-5, "Error: Invalid address"));
    let mainnet = Address::p2wpkh(&Key::new(3).compressed(), Network::Bitcoin).to_string();
    assert_eq!(
        call_err(&dev, "generatetoaddress", json!([1, mainnet])).0,
        -5
    );
    assert_eq!(call_err(&dev, "getblockhash", json!([5])).0, -8);
    assert_eq!(call_err(&dev, "getblock", json!(["00"])).0, -8);
    assert_eq!(
        call_err(&dev, "getblock", json!([Txid::all_zeros().to_string()])).0,
        -5
    );

    let key = Key::new(7);
    let hashes = call(
        &dev,
        "generatetoaddress",
        json!([5, key.address().to_string()]),
    );
    let hashes: Vec<String> = serde_json::from_value(hashes).expect("hashes");
    assert_eq!(hashes.len(), 5);
    assert_eq!(call(&dev, "getblockcount", json!([])), 5);
    assert_eq!(call(&dev, "getbestblockhash", json!([])), hashes[4]);
    let info = call(&dev, "getblockchaininfo", json!([]));
    assert_eq!(info["blocks"], 5);
    assert_eq!(info["bestblockhash"], hashes[4]);
    for (i, hash) in hashes.iter().enumerate() {
        let height = i + 1;
        assert_eq!(call(&dev, "getblockhash", json!([height])), *hash);
        let block = call(&dev, "getblock", json!([hash, 1]));
        assert_eq!(block["hash"], *hash);
        assert_eq!(block["height"], height);
        assert_eq!(block["confirmations"], 6 - height);
        assert_eq!(block["tx"].as_array().unwrap().len(), 1);
        let header = call(&dev, "getblockheader", json!([hash]));
        assert_eq!(header["height"], height);
        assert_eq!(header["merkleroot"], block["merkleroot"]);
        if height > 1 {
            assert_eq!(header["previousblockhash"], hashes[i - 1]);
        }
        // Verbosity 0: the raw block, which hashes to the same hash.
        let raw = call(&dev, "getblock", json!([hash, 0]));
        let bytes = Vec::<u8>::from_hex(raw.as_str().unwrap()).unwrap();
        let decoded: Block = deserialize(&bytes).expect("block decodes");
        assert_eq!(decoded.block_hash().to_string(), *hash);
        let raw_header = call(&dev, "getblockheader", json!([hash, false]));
        assert_eq!(raw_header.as_str().unwrap().len(), 160);
        // Verbosity 2: decoded transactions paying our address.
        let block = call(&dev, "getblock", json!({"blockhash": hash, "verbosity": 2}));
        let coinbase = &block["tx"][0];
        assert!(coinbase["vin"][0]["coinbase"].is_string());
        assert_eq!(
            coinbase["vout"][0]["scriptPubKey"]["address"],
            key.address().to_string()
        );
    }
    let fee = call(&dev, "estimatesmartfee", json!([6]));
    assert!(fee["feerate"].as_f64().unwrap() > 0.0);
    assert_eq!(fee["blocks"], 6);
}

#[test]
fn transactions_mempool_and_rejections() {
    let dev = start();
    let key = Key::new(9);
    let other = Key::new(10);
    let hashes = call(
        &dev,
        "generatetoaddress",
        json!([101, key.address().to_string()]),
    );
    let block1 = &hashes[0];
    let block = call(&dev, "getblock", json!([block1, 2]));
    let coinbase_txid: Txid = block["tx"][0]["txid"].as_str().unwrap().parse().unwrap();
    let value = Amount::from_btc(block["tx"][0]["vout"][0]["value"].as_f64().unwrap()).unwrap();
    let outpoint = OutPoint::new(coinbase_txid, 0);

    let good = spend(
        outpoint,
        value,
        &key,
        other.p2wpkh(),
        Amount::from_sat(1_000),
    );
    let conflict = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(2_000));

    // testmempoolaccept: allowed, without entering the mempool.
    let result = call(&dev, "testmempoolaccept", json!([[hex_of(&good)]]));
    assert_eq!(result[0]["txid"], good.compute_txid().to_string());
    assert_eq!(result[0]["wtxid"], good.compute_wtxid().to_string());
    assert_eq!(result[0]["allowed"], true);
    assert_eq!(call(&dev, "getrawmempool", json!([])), json!([]));

    let txid = call(&dev, "sendrawtransaction", json!([hex_of(&good)]));
    assert_eq!(txid, good.compute_txid().to_string());
    assert_eq!(call(&dev, "getrawmempool", json!([])), json!([txid]));
    let verbose = call(&dev, "getrawmempool", json!([true]));
    let entry = &verbose[txid.as_str().unwrap()];
    assert_eq!(entry["vsize"], good.vsize());
    assert_eq!(entry["fees"]["base"], 0.00001);
    assert!(entry["time"].as_u64().unwrap() > 0);

    let raw = call(&dev, "getrawtransaction", json!([txid]));
    assert_eq!(raw, hex_of(&good));
    let verbose = call(&dev, "getrawtransaction", json!([txid, true]));
    assert_eq!(verbose["txid"], txid);
    assert_eq!(verbose["hex"], hex_of(&good));
    assert!(verbose.get("confirmations").is_none());
    assert_eq!(verbose["vin"][0]["txid"], coinbase_txid.to_string());

    // Double spend: -26 txn-mempool-conflict; testmempoolaccept says why too.
    let (code, msg) = call_err(&dev, "sendrawtransaction", json!([hex_of(&conflict)]));
    assert_eq!((code, msg.as_str()), (-26, "txn-mempool-conflict"));
    let result = call(&dev, "testmempoolaccept", json!([[hex_of(&conflict)]]));
    assert_eq!(result[0]["allowed"], false);
    assert_eq!(result[0]["reject-reason"], "txn-mempool-conflict");

    // Premature coinbase spend (block 2's coinbase has 100 confirmations in block 102: ok;
    // block 3's would not be) and garbage.
    let block3 = call(&dev, "getblock", json!([hashes[2], 2]));
    let cb3: Txid = block3["tx"][0]["txid"].as_str().unwrap().parse().unwrap();
    let early = spend(
        OutPoint::new(cb3, 0),
        value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(1_000),
    );
    let (code, msg) = call_err(&dev, "sendrawtransaction", json!([hex_of(&early)]));
    assert_eq!(
        (code, msg.as_str()),
        (-26, "bad-txns-premature-spend-of-coinbase")
    );
    assert_eq!(call_err(&dev, "sendrawtransaction", json!(["zz"])).0, -22);
    let (code, msg) = call_err(
        &dev,
        "getrawtransaction",
        json!([Txid::all_zeros().to_string()]),
    );
    assert_eq!(code, -5);
    assert_eq!(
        msg,
        "No such mempool or blockchain transaction. Use gettransaction for wallet transactions."
    );

    // Mine it: confirmed, with its block.
    let mined = call(
        &dev,
        "generatetoaddress",
        json!([1, key.address().to_string()]),
    );
    assert_eq!(call(&dev, "getrawmempool", json!([])), json!([]));
    let verbose = call(&dev, "getrawtransaction", json!([txid, 1]));
    assert_eq!(verbose["confirmations"], 1);
    assert_eq!(verbose["blockhash"], mined[0]);
    let block = call(&dev, "getblock", json!([mined[0], 1]));
    assert_eq!(block["tx"][1], txid);

    // Now confirmed: resending is -27, the conflict is missing inputs (-25).
    let (code, _) = call_err(&dev, "sendrawtransaction", json!([hex_of(&good)]));
    assert_eq!(code, -27);
    let (code, msg) = call_err(&dev, "sendrawtransaction", json!([hex_of(&conflict)]));
    assert_eq!(
        (code, msg.as_str()),
        (-25, "bad-txns-inputs-missingorspent")
    );
}

#[cfg(unix)]
#[test]
fn binary_serves_rpc_and_stops_on_sigterm() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_confiaro-devnet"))
        .args([
            "up",
            "--rpc-port",
            "0",
            "--rpc-user",
            "bob",
            "--rpc-password",
            "pw",
            "--electrum-port",
            "0",
            "--esplora-port",
            "0",
            "--monero-rpc-port",
            "0",
            "--wallet-rpc-port",
            "0",
            "--rendezvous-port",
            "0",
        ])
        .arg("--datadir")
        .arg(dir.path().join("chain"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn confiaro-devnet");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut url = None;
    let mut cookie = None;
    let mut wallet_url = None;
    let mut electrum_url = None;
    let mut esplora_url = None;
    let mut rendezvous = None;
    loop {
        assert!(Instant::now() < deadline, "binary did not get ready");
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read stdout") == 0 {
            panic!("binary exited early: {:?}", child.wait());
        }
        print!("devnet> {line}");
        if let Some(u) = line.strip_prefix("rpc url: ") {
            url = Some(u.trim().to_string());
        }
        if let Some(c) = line.strip_prefix("rpc cookie file: ") {
            cookie = Some(std::path::PathBuf::from(c.trim()));
        }
        if let Some(u) = line.strip_prefix("esplora url: ") {
            esplora_url = Some(u.trim().to_string());
        }
        if let Some(u) = line.strip_prefix("electrum url: ") {
            electrum_url = Some(u.trim().to_string());
        }
        if let Some(u) = line.strip_prefix("monero wallet rpc url: ") {
            wallet_url = u.split_whitespace().next().map(str::to_string);
        }
        if let Some(r) = line.strip_prefix("rendezvous point: ") {
            rendezvous = Some(r.trim().to_string());
        }
        if line.starts_with("ready") {
            break;
        }
    }
    // devnet.json tells other processes the same, with the binary's pid.
    let info = confiaro_devnet::stack::StackInfo::load(&dir.path().join("chain"))
        .expect("devnet.json while running");
    assert_eq!(info.pid, child.id());
    assert_eq!(Some(&info.bitcoin_rpc_url), url.as_ref());
    assert_eq!(info.rendezvous, rendezvous);
    assert!(
        rendezvous
            .as_deref()
            .is_some_and(|r| r.starts_with("/ip4/127.0.0.1/tcp/")
                && r.ends_with(&format!(
                    "/p2p/{}",
                    confiaro_devnet::stack::rendezvous_peer_id()
                ))),
        "printed the rendezvous point: {rendezvous:?}"
    );
    let url = url.expect("printed the rpc url");
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .expect("http url")
        .parse()
        .expect("socket address");
    assert_ne!(addr.port(), 0);
    let body = json!({"jsonrpc": "1.0", "id": 1, "method": "getblockcount"}).to_string();
    let (status, reply) = post(addr, Some(&basic("bob", "pw")), &body);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&reply).unwrap()["result"],
        101
    );
    let cookie = cookie.expect("printed the cookie path");
    let creds = std::fs::read_to_string(&cookie).expect("cookie");
    let (user, password) = creds.split_once(':').unwrap();
    assert_eq!(post(addr, Some(&basic(user, password)), &body).0, 200);
    assert_eq!(post(addr, None, &body).0, 401);

    // The Electrum server answers on the printed URL.
    let electrum_url = electrum_url.expect("printed the electrum url");
    let electrum_addr = electrum_url
        .strip_prefix("tcp://")
        .expect("tcp url")
        .to_string();
    let mut electrum = std::net::TcpStream::connect(&electrum_addr).expect("electrum connect");
    electrum
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"blockchain.headers.subscribe\",\"params\":[]}\n")
        .expect("electrum write");
    let mut reply = String::new();
    BufReader::new(&electrum)
        .read_line(&mut reply)
        .expect("electrum read");
    assert_eq!(
        serde_json::from_str::<Value>(&reply).unwrap()["result"]["height"],
        101,
        "{reply}"
    );

    // The Esplora server too.
    let esplora_url = esplora_url.expect("printed the esplora url");
    let esplora_addr: SocketAddr = esplora_url
        .strip_prefix("http://")
        .expect("http url")
        .trim_end_matches('/')
        .parse()
        .expect("esplora address");
    let mut esplora = std::net::TcpStream::connect(esplora_addr).expect("esplora connect");
    esplora
        .write_all(b"GET /blocks/tip/height HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("esplora write");
    let mut reply = String::new();
    esplora.read_to_string(&mut reply).expect("esplora read");
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("101"),
        "{reply}"
    );

    // The Monero half: a funded wallet with unlocked money, through its wallet RPC.
    let wallet_url = wallet_url.expect("printed the monero wallet rpc url");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let balance = runtime
        .block_on(async {
            let wallet = confiaro_monero::rpc::WalletClient::new(
                &wallet_url,
                confiaro_monero::rpc::RpcConfig::default(),
            )?;
            wallet.balance().await
        })
        .expect("monero balance");
    assert!(balance.unlocked.as_piconero() > 0, "{balance:?}");

    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read rest");
    print!("{rest}");
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit status {status}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(!cookie.exists(), "cookie removed at shutdown");
    assert!(rest.contains("monero stopped"), "{rest}");
    assert!(
        !confiaro_devnet::stack::StackInfo::path(&dir.path().join("chain")).exists(),
        "devnet.json removed at shutdown"
    );
    let monerod_gone = runtime.block_on(async {
        let wallet = confiaro_monero::rpc::WalletClient::new(
            &wallet_url,
            confiaro_monero::rpc::RpcConfig {
                retries: 0,
                ..Default::default()
            },
        )
        .expect("client");
        wallet.balance().await
    });
    assert!(
        matches!(
            monerod_gone,
            Err(confiaro_monero::MoneroError::Unreachable { .. })
        ),
        "{monerod_gone:?}"
    );
}

#[cfg(unix)]
#[test]
fn binary_reports_a_taken_port() {
    use std::process::Command;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_confiaro-devnet"))
        .args([
            "up",
            "--no-monero",
            "--electrum-port",
            "0",
            "--esplora-port",
            "0",
            "--initial-blocks",
            "0",
            "--rpc-port",
            &port,
            "--datadir",
        ])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on 127.0.0.1:"), "{stderr}");
}

#[test]
fn miner_mines_periodically_and_stops() {
    use confiaro_devnet::rpc::Miner;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Arc::new(Mutex::new(Node::open(dir.path()).expect("open node")));
    let miner = Miner::start(
        Arc::clone(&node),
        Duration::from_millis(100),
        Key::new(4).p2wpkh(),
    )
    .expect("start miner");
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.lock().unwrap().tip_height() < 3 {
        assert!(Instant::now() < deadline, "miner did not mine 3 blocks");
        std::thread::sleep(Duration::from_millis(50));
    }
    miner.stop();
    let height = node.lock().unwrap().tip_height();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        node.lock().unwrap().tip_height(),
        height,
        "no block after stop"
    );
    let node = Arc::try_unwrap(node).expect("miner released the node");
    drop(node);
}

#[test]
fn missing_and_bad_params() {
    let dev = start();
    assert_eq!(call_err(&dev, "getblockhash", json!([])).0, -32602);
    assert_eq!(call_err(&dev, "getblockhash", json!(["x"])).0, -3);
    assert_eq!(call_err(&dev, "testmempoolaccept", json!([[]])).0, -8);
    let (status, body) = post(
        dev.server.local_addr(),
        Some(&basic(USER, PASSWORD)),
        "{not json",
    );
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        -32700
    );
    // JSON-RPC 1.0 errors use bitcoind's HTTP statuses: 404 unknown method, 500 otherwise.
    let request = json!({"id": 1, "method": "nosuchmethod"}).to_string();
    let (status, _) = post(
        dev.server.local_addr(),
        Some(&basic(USER, PASSWORD)),
        &request,
    );
    assert_eq!(status, 404);
    let request = json!({"id": 1, "method": "getblockhash", "params": [99]}).to_string();
    let (status, _) = post(
        dev.server.local_addr(),
        Some(&basic(USER, PASSWORD)),
        &request,
    );
    assert_eq!(status, 500);
}

#[test]
fn binary_reports_an_unusable_datadir() {
    use std::process::Command;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_confiaro-devnet"))
        .args([
            "up",
            "--no-monero",
            "--electrum-port",
            "0",
            "--esplora-port",
            "0",
            "--rpc-port",
            "0",
            "--datadir",
        ])
        .arg(file.join("chain"))
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the devnet data directory"),
        "{stderr}"
    );
}

#[test]
fn bip68_timelocked_spend_is_rejected_early_over_rpc() {
    let dev = start();
    let key = Key::new(12);
    let hashes = call(
        &dev,
        "generatetoaddress",
        json!([101, key.address().to_string()]),
    );
    let block = call(&dev, "getblock", json!([hashes[0], 2]));
    let cb: Txid = block["tx"][0]["txid"].as_str().unwrap().parse().unwrap();
    let value = Amount::from_btc(block["tx"][0]["vout"][0]["value"].as_f64().unwrap()).unwrap();
    let fee = Amount::from_sat(1_000);
    let parent = spend(OutPoint::new(cb, 0), value, &key, key.p2wpkh(), fee);
    call(&dev, "sendrawtransaction", json!([hex_of(&parent)]));
    call(
        &dev,
        "generatetoaddress",
        json!([1, key.address().to_string()]),
    );

    // Spendable 5 blocks after the parent's block: in block 102 + 5 = 107.
    let mut child = spend(
        OutPoint::new(parent.compute_txid(), 0),
        value - fee,
        &key,
        key.p2wpkh(),
        fee,
    );
    child.input[0].sequence = Sequence::from_height(5);
    let child = {
        // Re-sign with the new sequence.
        let secp = Secp256k1::new();
        let mut tx = child;
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(0, &key.p2wpkh(), value - fee, EcdsaSighashType::All)
            .expect("sighash");
        let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &key.secret);
        let sig = bitcoin::ecdsa::Signature::sighash_all(sig);
        tx.input[0].witness = Witness::p2wpkh(&sig, &key.public.inner);
        tx
    };
    call(
        &dev,
        "generatetoaddress",
        json!([3, key.address().to_string()]),
    );
    // Tip 105: the next block is 106, one early.
    let (code, msg) = call_err(&dev, "sendrawtransaction", json!([hex_of(&child)]));
    assert_eq!((code, msg.as_str()), (-26, "non-BIP68-final"));
    let result = call(&dev, "testmempoolaccept", json!([[hex_of(&child)]]));
    assert_eq!(result[0]["allowed"], false);
    assert_eq!(result[0]["reject-reason"], "non-BIP68-final");
    call(
        &dev,
        "generatetoaddress",
        json!([1, key.address().to_string()]),
    );
    let txid = call(&dev, "sendrawtransaction", json!([hex_of(&child)]));
    assert_eq!(txid, child.compute_txid().to_string());
}
