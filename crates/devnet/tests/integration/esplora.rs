//! The devnet's Esplora REST server, spoken to over real loopback HTTP: raw requests for
//! status codes and error texts, and `esplora-client`'s blocking client (the one
//! `bdk_esplora` uses) for the JSON shapes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Amount, Block, OutPoint, ScriptBuf, Transaction, Txid};
use confiaro_devnet::esplora::EsploraServer;
use confiaro_devnet::rpc::SharedNode;
use confiaro_devnet::testkit::TestKey as Key;
use confiaro_devnet::Node;
use esplora_client::{BlockingClient, Builder};
use serde_json::Value;

/// A running Esplora server on a fresh node.
struct Devnet {
    _dir: tempfile::TempDir,
    node: SharedNode,
    server: EsploraServer,
}

impl Devnet {
    fn start() -> Devnet {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Arc::new(Mutex::new(Node::open(dir.path()).expect("open node")));
        let server = EsploraServer::start(node.clone(), 0).expect("start server");
        assert_ne!(server.local_addr().port(), 0);
        Devnet {
            _dir: dir,
            node,
            server,
        }
    }

    fn node(&self) -> MutexGuard<'_, Node> {
        self.node.lock().expect("node lock")
    }

    fn client(&self) -> BlockingClient {
        Builder::new(&self.server.url())
            .timeout(10)
            .build_blocking()
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

/// One HTTP request on a fresh connection: (status, content type, body).
fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    stream.write_all(body).expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    parse_response(&response)
}

fn parse_response(response: &[u8]) -> (u16, String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("http response")
        + 4;
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_string();
    (status, content_type, response[end..].to_vec())
}

/// A GET: (status, body as text).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = request(addr, "GET", path, b"");
    (status, String::from_utf8(body).expect("utf8 body"))
}

/// A GET that must answer 200 with JSON.
fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, content_type, body) = request(addr, "GET", path, b"");
    assert_eq!(
        status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(content_type, "application/json", "GET {path}");
    serde_json::from_slice(&body).expect("json")
}

/// A POST /tx: (status, body as text).
fn post_tx(addr: SocketAddr, tx: &Transaction) -> (u16, String) {
    let hex: String = serialize(tx).iter().map(|b| format!("{b:02x}")).collect();
    let (status, _, body) = request(addr, "POST", "/tx", hex.as_bytes());
    (status, String::from_utf8(body).expect("utf8 body"))
}

/// The coinbase output of the block at `height` and its value.
fn coinbase_outpoint(node: &Node, height: u32) -> (OutPoint, Amount) {
    let txid = node.block_txids(height).expect("block")[0];
    let (tx, _) = node.get_tx(&txid).expect("coinbase");
    (OutPoint::new(txid, 0), tx.output[0].value)
}

fn burn() -> ScriptBuf {
    ScriptBuf::new_p2wsh(&ScriptBuf::from(vec![0x51]).wscript_hash())
}

#[test]
fn tip_and_blocks_match_the_node() {
    let dev = Devnet::start();
    let key = Key::new(1);
    dev.node().mine(12, &key.p2wpkh()).expect("mine");
    let addr = dev.addr();
    let client = dev.client();
    let (tip_height, tip_hash) = {
        let node = dev.node();
        (node.tip_height(), node.tip_hash())
    };

    assert_eq!(get(addr, "/blocks/tip/height"), (200, "12".to_string()));
    assert_eq!(get(addr, "/blocks/tip/hash"), (200, tip_hash.to_string()));
    assert_eq!(client.get_height().expect("height"), tip_height);
    assert_eq!(client.get_tip_hash().expect("tip hash"), tip_hash);

    // Ten blocks from the tip down, in esplora-client's shape.
    let infos = client.get_block_infos(None).expect("blocks");
    assert_eq!(infos.len(), 10);
    assert_eq!(
        infos.iter().map(|b| b.height).collect::<Vec<_>>(),
        (3..=12).rev().collect::<Vec<_>>()
    );
    let block5: Block = dev.node().block(5).expect("read").expect("block 5");
    let info5 = infos.iter().find(|b| b.height == 5).expect("block 5 info");
    assert_eq!(info5.id, block5.block_hash());
    assert_eq!(info5.previousblockhash, Some(block5.header.prev_blockhash));
    assert_eq!(info5.merkle_root, block5.header.merkle_root);
    assert_eq!(info5.bits, block5.header.bits);
    assert_eq!(info5.tx_count, 1);
    assert_eq!(info5.weight, block5.weight().to_wu());
    assert_eq!(u64::from(block5.header.time), info5.timestamp);

    // From a start height down to genesis, which has no previous block.
    let low = client.get_block_infos(Some(2)).expect("blocks from 2");
    assert_eq!(low.iter().map(|b| b.height).collect::<Vec<_>>(), [2, 1, 0]);
    assert_eq!(low[2].previousblockhash, None);
    assert_eq!(get(addr, "/blocks/13").0, 404);

    // Block by height and by hash.
    assert_eq!(client.get_block_hash(5).expect("hash"), block5.block_hash());
    assert_eq!(
        get(addr, "/block-height/13"),
        (404, "Block not found".into())
    );
    let hash5 = block5.block_hash();
    assert_eq!(
        client.get_header_by_hash(&hash5).expect("header"),
        block5.header
    );
    assert_eq!(
        client
            .get_block_by_hash(&hash5)
            .expect("raw")
            .expect("block"),
        block5
    );
    assert_eq!(
        client.get_block_txids(&hash5).expect("txids"),
        vec![block5.txdata[0].compute_txid()]
    );
    assert_eq!(client.get_block_info(&hash5).expect("info"), info5.clone());
    let status = client.get_block_status(&hash5).expect("status");
    assert!(status.in_best_chain);
    assert_eq!(status.height, Some(5));
    assert_eq!(status.next_best, dev.node().block_hash(6));
    let tip_status = get_json(addr, &format!("/block/{tip_hash}/status"));
    assert_eq!(
        tip_status,
        serde_json::json!({"in_best_chain": true, "height": 12})
    );
    let block_txs = client.get_block_txs(&hash5, None).expect("block txs");
    assert_eq!(block_txs.len(), 1);
    assert!(block_txs[0].vin[0].is_coinbase);
    assert_eq!(block_txs[0].status.block_height, Some(5));

    // An unknown block.
    let unknown = bitcoin::BlockHash::all_zeros();
    assert_eq!(
        get(addr, &format!("/block/{unknown}")),
        (404, "Block not found".into())
    );
    assert_eq!(
        get_json(addr, &format!("/block/{unknown}/status")),
        serde_json::json!({"in_best_chain": false})
    );
    assert!(client.get_block_by_hash(&unknown).expect("raw").is_none());
}

#[test]
fn transactions_carry_prevouts_fees_statuses_and_spends() {
    let dev = Devnet::start();
    let key = Key::new(2);
    let other = Key::new(3);
    dev.node().mine(101, &key.p2wpkh()).expect("mine");
    let addr = dev.addr();
    let client = dev.client();
    let (coinbase, value) = coinbase_outpoint(&dev.node(), 1);
    let fee = Amount::from_sat(1_000);
    let tx = key.spend_to(coinbase, value, other.p2wpkh(), fee);
    let txid = tx.compute_txid();

    assert_eq!(post_tx(addr, &tx), (200, txid.to_string()));
    // Already in the mempool: accepted again, as by Bitcoin Core.
    assert_eq!(post_tx(addr, &tx), (200, txid.to_string()));
    assert_eq!(
        get_json(addr, "/mempool/txids"),
        serde_json::json!([txid.to_string()])
    );

    let info = client.get_tx_info(&txid).expect("tx").expect("known");
    assert_eq!(info.txid, txid);
    assert_eq!(info.to_tx(), tx);
    assert_eq!(info.fee(), fee);
    assert_eq!(info.weight(), tx.weight());
    assert_eq!(info.size, tx.total_size());
    assert!(!info.status.confirmed);
    let prevout = info.vin[0].prevout.as_ref().expect("prevout");
    assert_eq!(prevout.value, value.to_sat());
    assert_eq!(prevout.scriptpubkey, key.p2wpkh());
    assert!(!info.vin[0].is_coinbase);
    let raw = get_json(addr, &format!("/tx/{txid}"));
    assert_eq!(raw["vout"][0]["scriptpubkey_type"], "v0_p2wpkh");
    assert_eq!(
        raw["vout"][0]["scriptpubkey_address"],
        other.address().to_string()
    );
    assert_eq!(raw["vin"][0]["prevout"]["scriptpubkey_type"], "v0_p2wpkh");
    assert_eq!(raw["status"], serde_json::json!({"confirmed": false}));
    assert_eq!(
        get_json(addr, &format!("/tx/{txid}/status")),
        serde_json::json!({"confirmed": false})
    );

    // The coinbase's spend is seen in the mempool.
    let spent = client
        .get_output_status(&coinbase.txid, 0)
        .expect("outspend")
        .expect("answer");
    assert!(spent.spent);
    assert_eq!(spent.txid, Some(txid));
    assert_eq!(spent.vin, Some(0));
    assert_eq!(spent.status.map(|s| s.confirmed), Some(false));

    let hash = dev.node().mine(1, &burn()).expect("mine")[0];
    let status = client.get_tx_status(&txid).expect("status");
    assert!(status.confirmed);
    assert_eq!(status.block_height, Some(102));
    assert_eq!(status.block_hash, Some(hash));
    assert_eq!(status.block_time, dev.node().block_time(102).map(u64::from));
    assert_eq!(
        client
            .get_tx_info(&txid)
            .expect("tx")
            .expect("known")
            .status,
        status
    );
    let spent = client
        .get_output_status(&coinbase.txid, 0)
        .expect("outspend")
        .expect("answer");
    assert_eq!(spent.status, Some(status.clone()));
    let unspent = client.get_output_status(&txid, 0).expect("outspend");
    assert_eq!(unspent.map(|s| s.spent), Some(false));
    let outspends = client.get_tx_outspends(&coinbase.txid).expect("outspends");
    assert_eq!(outspends.len(), 2, "coinbase output and witness commitment");
    assert!(outspends[0].spent && !outspends[1].spent);

    // Hex and raw forms.
    assert_eq!(client.get_tx(&txid).expect("raw"), Some(tx.clone()));
    let (status_code, hex) = get(addr, &format!("/tx/{txid}/hex"));
    assert_eq!(status_code, 200);
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    assert_eq!(deserialize::<Transaction>(&bytes).expect("decode"), tx);

    // A coinbase: no prevout, no fee.
    let coinbase_info = client
        .get_tx_info(&coinbase.txid)
        .expect("tx")
        .expect("known");
    assert!(coinbase_info.vin[0].is_coinbase);
    assert!(coinbase_info.vin[0].prevout.is_none());
    assert_eq!(coinbase_info.fee, 0);
    assert_eq!(coinbase_info.status.block_height, Some(1));

    // Unknown transactions: 404, except the status, which electrs answers as unconfirmed.
    let unknown = Txid::all_zeros();
    assert_eq!(
        get(addr, &format!("/tx/{unknown}")),
        (404, "Transaction not found".into())
    );
    assert_eq!(get(addr, &format!("/tx/{unknown}/hex")).0, 404);
    assert_eq!(get(addr, &format!("/tx/{unknown}/outspends")).0, 404);
    assert_eq!(
        get_json(addr, &format!("/tx/{unknown}/status")),
        serde_json::json!({"confirmed": false})
    );
    assert!(client.get_tx_info(&unknown).expect("answer").is_none());
}

#[test]
fn scripthash_history_pages_like_esplora() {
    let dev = Devnet::start();
    let key = Key::new(4);
    let script = key.p2wpkh();
    // 130 coinbases to the script, then one mempool spend of the first back to it.
    dev.node().mine(130, &script).expect("mine");
    let (coinbase, value) = coinbase_outpoint(&dev.node(), 1);
    let tx = key.spend_to(coinbase, value, script.clone(), Amount::from_sat(500));
    let mempool_txid = dev.node().submit(tx).expect("submit");
    let addr = dev.addr();
    let client = dev.client();
    let scripthash = sha256::Hash::hash(script.as_bytes());

    // First page: the mempool, then the 25 newest confirmed.
    let first = client.scripthash_txs(&script, None).expect("page");
    assert_eq!(first.len(), 26);
    assert_eq!(first[0].txid, mempool_txid);
    assert!(!first[0].status.confirmed);
    let heights: Vec<u32> = first[1..]
        .iter()
        .map(|t| t.status.block_height.expect("confirmed"))
        .collect();
    assert_eq!(heights, (106..=130).rev().collect::<Vec<_>>());

    // Then chain pages of 25 after the last seen, as bdk_esplora asks for them.
    let mut confirmed: Vec<u32> = heights;
    let mut last = first.last().map(|t| t.txid);
    loop {
        let page = client.scripthash_txs(&script, last).expect("page");
        assert!(page.len() <= 25);
        assert!(page.iter().all(|t| t.status.confirmed));
        confirmed.extend(page.iter().filter_map(|t| t.status.block_height));
        last = page.last().map(|t| t.txid);
        if page.len() < 25 {
            break;
        }
    }
    assert_eq!(confirmed, (1..=130).rev().collect::<Vec<_>>());

    // The chain's first page, the mempool alone, the address form.
    let chain = get_json(addr, &format!("/scripthash/{scripthash:x}/txs/chain"));
    assert_eq!(chain.as_array().map(Vec::len), Some(25));
    assert_eq!(chain[0]["status"]["block_height"], 130);
    let mempool = client.get_mempool_scripthash_txs(&script).expect("mempool");
    assert_eq!(mempool.len(), 1);
    assert_eq!(mempool[0].txid, mempool_txid);
    let by_address = client
        .get_address_txs(&key.address(), None)
        .expect("address");
    assert_eq!(
        by_address.iter().map(|t| t.txid).collect::<Vec<_>>(),
        first.iter().map(|t| t.txid).collect::<Vec<_>>()
    );
    // An unknown last-seen txid gives an empty page, like electrs.
    let none = get_json(
        addr,
        &format!("/scripthash/{scripthash:x}/txs/chain/{}", Txid::all_zeros()),
    );
    assert_eq!(none, serde_json::json!([]));

    // The script hash is SHA-256 in hash order: the reversed bytes (Electrum's) match nothing.
    let mut reversed = scripthash.to_byte_array();
    reversed.reverse();
    let reversed: String = reversed.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        get_json(addr, &format!("/scripthash/{reversed}/txs")),
        serde_json::json!([])
    );
}

#[test]
fn broadcast_refusals_carry_core_reject_strings() {
    let dev = Devnet::start();
    let key = Key::new(5);
    dev.node().mine(101, &key.p2wpkh()).expect("mine");
    let addr = dev.addr();
    let (coinbase, value) = coinbase_outpoint(&dev.node(), 1);
    let first = key.spend_to(
        coinbase,
        value,
        Key::new(6).p2wpkh(),
        Amount::from_sat(1_000),
    );
    let double = key.spend_to(
        coinbase,
        value,
        Key::new(7).p2wpkh(),
        Amount::from_sat(2_000),
    );
    assert_eq!(post_tx(addr, &first).0, 200);

    // A double spend of a mempool transaction.
    assert_eq!(
        post_tx(addr, &double),
        (
            400,
            r#"sendrawtransaction RPC error: {"code":-26,"message":"txn-mempool-conflict"}"#
                .to_string()
        )
    );
    // Once the first is confirmed, the double spend's input is spent.
    dev.node().mine(1, &burn()).expect("mine");
    assert_eq!(
        post_tx(addr, &double),
        (
            400,
            r#"sendrawtransaction RPC error: {"code":-25,"message":"bad-txns-inputs-missingorspent"}"#
                .to_string()
        )
    );
    // The confirmed transaction itself.
    let (status, body) = post_tx(addr, &first);
    assert_eq!(status, 400);
    assert!(body.contains(r#""code":-27"#), "{body}");
    // An immature coinbase.
    let (young, young_value) = coinbase_outpoint(&dev.node(), 100);
    let premature = key.spend_to(young, young_value, burn(), Amount::from_sat(1_000));
    let (status, body) = post_tx(addr, &premature);
    assert_eq!(status, 400);
    assert!(
        body.contains("bad-txns-premature-spend-of-coinbase"),
        "{body}"
    );
    // Not a transaction.
    let (status, _, body) = request(addr, "POST", "/tx", b"zz-not-hex");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("TX decode failed"));
    let (status, _, _) = request(addr, "POST", "/tx", b"00");
    assert_eq!(status, 400);
}

#[test]
fn bad_requests_and_unknown_paths_never_break_the_server() {
    let dev = Devnet::start();
    dev.node().mine(1, &burn()).expect("mine");
    let addr = dev.addr();
    let txid = dev.node().block_txids(1).expect("block")[0];

    assert_eq!(
        get(addr, "/nope"),
        (404, r#"endpoint does not exist "/nope""#.to_string())
    );
    assert_eq!(
        get(addr, "/"),
        (404, r#"endpoint does not exist "/""#.to_string())
    );
    assert_eq!(
        get(addr, "/tx"),
        (404, r#"endpoint does not exist "/tx""#.to_string())
    );
    assert_eq!(get(addr, &format!("/tx/{txid}/bogus")).0, 404);
    assert_eq!(
        get(addr, "/block/00/header"),
        (400, "Invalid hex string".into())
    );
    assert_eq!(get(addr, "/tx/xyz"), (400, "Invalid hex string".into()));
    assert_eq!(
        get(addr, "/block-height/abc"),
        (400, "Invalid number".into())
    );
    assert_eq!(
        get(addr, "/block-height/-1"),
        (400, "Invalid number".into())
    );
    assert_eq!(
        get(addr, &format!("/tx/{txid}/outspend/x")),
        (400, "Invalid number".into())
    );
    assert_eq!(
        get(addr, "/scripthash/xyz/txs"),
        (400, "Invalid scripthash".into())
    );
    assert_eq!(
        get(
            addr,
            "/address/bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq/txs"
        ),
        (400, "Address on invalid network".into())
    );
    assert_eq!(request(addr, "DELETE", "/tx", b"").0, 404);
    assert_eq!(request(addr, "GET", "/blocks/tip/height?x=1", b"").0, 200);

    // Garbage instead of a request: the connection gets a 400, the server carries on.
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    assert_eq!(parse_response(&response).0, 400);

    // Keep-alive: two requests on one connection.
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream
        .write_all(b"GET /blocks/tip/height HTTP/1.1\r\nHost: x\r\n\r\nGET /fee-estimates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let text = String::from_utf8(response).expect("utf8");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");

    // Fee estimates: the devnet's fixed 10 sat/vB for electrs' targets.
    let estimates = dev.client().get_fee_estimates().expect("estimates");
    assert_eq!(estimates.len(), 28);
    assert_eq!(estimates.get(&1), Some(&10.0));
    assert_eq!(estimates.get(&1008), Some(&10.0));
}

#[test]
fn a_stopped_server_refuses_connections() {
    let dev = Devnet::start();
    let addr = dev.addr();
    assert_eq!(get(addr, "/blocks/tip/height"), (200, "0".to_string()));
    // An idle keep-alive connection does not hold the shutdown up.
    let _idle = TcpStream::connect(addr).expect("connect");
    let Devnet { _dir, node, server } = dev;
    server.shutdown();
    assert!(TcpStream::connect(addr).is_err());
    // The node is still usable by its other owners.
    assert_eq!(node.lock().expect("node").tip_height(), 0);
}
