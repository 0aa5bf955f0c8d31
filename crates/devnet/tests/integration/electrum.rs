//! The devnet's Electrum server, spoken to over real loopback TCP: through `electrum-client`
//! (the client `bdk_electrum` uses) and as raw JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Amount, OutPoint, ScriptBuf, Txid};
use confiaro_devnet::electrum::ElectrumServer;
use confiaro_devnet::rpc::{SharedNode, ESTIMATED_FEERATE_BTC_PER_KVB};
use confiaro_devnet::testkit::TestKey as Key;
use confiaro_devnet::Node;
use electrum_client::raw_client::RawClient;
use electrum_client::{ElectrumApi, Error as ElectrumError, Param};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh node with its Electrum server.
struct Devnet {
    _dir: tempfile::TempDir,
    node: SharedNode,
    server: ElectrumServer,
}

impl Devnet {
    fn start() -> Devnet {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Arc::new(Mutex::new(Node::open(dir.path()).expect("open node")));
        let server = ElectrumServer::start(node.clone(), 0).expect("start server");
        assert_ne!(server.local_addr().port(), 0);
        assert_eq!(server.url(), format!("tcp://{}", server.local_addr()));
        Devnet {
            _dir: dir,
            node,
            server,
        }
    }

    fn node(&self) -> MutexGuard<'_, Node> {
        self.node.lock().expect("node lock")
    }

    fn client(&self) -> RawClient<TcpStream> {
        RawClient::new(self.server.local_addr(), Some(TIMEOUT)).expect("connect")
    }

    /// A raw line-oriented connection.
    fn raw(&self) -> RawConn {
        let stream = TcpStream::connect(self.server.local_addr()).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        RawConn {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    /// The coinbase of block `height`: its outpoint and value.
    fn coinbase(&self, height: u32) -> (OutPoint, Amount) {
        let node = self.node();
        let txid = node.block_txids(height).expect("block")[0];
        let (tx, _) = node.get_tx(&txid).expect("coinbase");
        (OutPoint::new(txid, 0), tx.output[0].value)
    }
}

struct RawConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawConn {
    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).expect("write");
        self.writer.flush().expect("flush");
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read");
        assert!(n > 0, "connection closed");
        serde_json::from_str(&line).expect("reply is JSON")
    }

    /// Sends one line and reads one reply line.
    fn ask(&mut self, line: &str) -> Value {
        self.send(&format!("{line}\n"));
        self.read()
    }
}

/// The Electrum scripthash of `script`: its SHA-256, reversed, in hex.
fn scripthash(script: &ScriptBuf) -> String {
    let mut bytes = sha256::Hash::hash(script.as_bytes()).to_byte_array();
    bytes.reverse();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `message` of a server error.
fn protocol_message(err: ElectrumError) -> String {
    match err {
        ElectrumError::Protocol(v) => v["message"].as_str().expect("message").to_string(),
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// Proves every transaction of block `height` through `get_merkle` against the header the
/// server serves, as `bdk_electrum` does.
fn assert_proofs_verify(dev: &Devnet, client: &RawClient<TcpStream>, height: u32) -> usize {
    let txids: Vec<Txid> = dev.node().block_txids(height).expect("block").to_vec();
    let header = client.block_header(height as usize).expect("header");
    assert_eq!(Some(header.block_hash()), dev.node().block_hash(height));
    for (pos, txid) in txids.iter().enumerate() {
        let proof = client
            .transaction_get_merkle(txid, height as usize)
            .expect("merkle");
        assert_eq!(proof.pos, pos);
        assert_eq!(proof.block_height, height as usize);
        assert!(
            electrum_client::utils::validate_merkle_proof(txid, &header.merkle_root, &proof),
            "proof of {txid} (pos {pos} of {}) does not verify",
            txids.len()
        );
    }
    txids.len()
}

#[test]
fn headers_are_served_and_new_tips_are_notified() {
    let dev = Devnet::start();
    let client = dev.client();
    dev.node().mine(5, &Key::new(1).p2wpkh()).expect("mine");

    let version = client
        .raw_call(
            "server.version",
            vec![Param::String("test".into()), Param::String("1.4".into())],
        )
        .expect("version");
    assert_eq!(version[1], json!("1.4"));
    client.ping().expect("ping");
    let features = client.server_features().expect("features");
    assert_eq!(features.protocol_max, "1.4");

    let tip = client.block_headers_subscribe().expect("subscribe");
    assert_eq!(tip.height, 5);
    assert_eq!(tip.header.block_hash(), dev.node().tip_hash());
    for height in 0..=5 {
        let header = client.block_header(height).expect("header");
        assert_eq!(
            Some(header.block_hash()),
            dev.node().block_hash(height as u32)
        );
    }
    let headers = client.block_headers(2, 10).expect("headers");
    assert_eq!(headers.count, 4, "only up to the tip");
    assert_eq!(headers.max, 2016);
    for (i, header) in headers.headers.iter().enumerate() {
        assert_eq!(
            Some(header.block_hash()),
            dev.node().block_hash(2 + i as u32)
        );
        assert_eq!(
            header.prev_blockhash,
            dev.node().block_hash(1 + i as u32).unwrap()
        );
    }
    assert_eq!(client.block_headers(9, 3).expect("headers").count, 0);
    let message = protocol_message(client.block_header(6).expect_err("above the tip"));
    assert!(message.contains("out of range"), "{message}");

    assert_eq!(
        client.estimate_fee(6).expect("fee"),
        ESTIMATED_FEERATE_BTC_PER_KVB
    );
    assert_eq!(client.relay_fee().expect("relay fee"), 0.000_01);

    // A subscribed connection is told about the new tip.
    let new_tip = dev.node().mine(2, &Key::new(1).p2wpkh()).expect("mine")[1];
    let deadline = Instant::now() + Duration::from_secs(10);
    let notified = loop {
        client.ping().expect("ping"); // reads whatever the server sent meanwhile
        if let Some(n) = client.block_headers_pop().expect("pop") {
            break n;
        }
        assert!(Instant::now() < deadline, "no header notification");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(notified.height, 7);
    assert_eq!(notified.header.block_hash(), new_tip);
}

#[test]
fn history_balance_and_merkle_proofs_follow_the_chain() {
    let dev = Devnet::start();
    let client = dev.client();
    let alice = Key::new(1);
    let bob = Key::new(2);
    // Coinbases 1..=9 are mature in blocks 110 and 111.
    dev.node().mine(109, &alice.p2wpkh()).expect("mine");

    let history = client.script_get_history(&alice.p2wpkh()).expect("history");
    assert_eq!(history.len(), 109);
    for (i, entry) in history.iter().enumerate() {
        assert_eq!(entry.height, i as i32 + 1, "chain order");
        assert_eq!(
            entry.tx_hash,
            dev.node().block_txids(i as u32 + 1).unwrap()[0]
        );
    }
    assert!(client
        .script_get_history(&bob.p2wpkh())
        .expect("history")
        .is_empty());
    let status = client.script_subscribe(&bob.p2wpkh()).expect("subscribe");
    assert_eq!(status, None, "no history: null status");

    // Five mature coinbases spent to Bob, broadcast through Electrum.
    let fee = Amount::from_sat(1_000);
    let mut txids = Vec::new();
    for height in 1..=5 {
        let (outpoint, value) = dev.coinbase(height);
        let tx = alice.spend_to(outpoint, value, bob.p2wpkh(), fee);
        let txid = client.transaction_broadcast(&tx).expect("broadcast");
        assert_eq!(txid, tx.compute_txid());
        assert_eq!(client.transaction_get(&txid).expect("get"), tx);
        txids.push(txid);
    }
    let bob_history = client.script_get_history(&bob.p2wpkh()).expect("history");
    assert_eq!(bob_history.len(), 5);
    assert!(bob_history.iter().all(|h| h.height == 0));
    assert_eq!(bob_history[0].fee, Some(1_000));
    let alice_history = client.script_get_history(&alice.p2wpkh()).expect("history");
    assert_eq!(
        alice_history.len(),
        114,
        "spends of Alice's outputs are hers too"
    );
    let balance = client.script_get_balance(&bob.p2wpkh()).expect("balance");
    assert_eq!(balance.confirmed, 0);
    assert_eq!(balance.unconfirmed, 5 * (50 * 100_000_000 - 1_000));
    let unspent = client.script_list_unspent(&bob.p2wpkh()).expect("unspent");
    assert_eq!(unspent.len(), 5);

    // Bob's subscription is notified of the new status, which is Electrum's hash.
    let expected_status = |history: &[electrum_client::GetHistoryRes]| -> [u8; 32] {
        let text: String = history
            .iter()
            .map(|h| format!("{}:{}:", h.tx_hash, h.height))
            .collect();
        sha256::Hash::hash(text.as_bytes()).to_byte_array()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        client.ping().expect("ping");
        if let Some(status) = client.script_pop(&bob.p2wpkh()).expect("pop") {
            break status;
        }
        assert!(Instant::now() < deadline, "no scripthash notification");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(*status, expected_status(&bob_history));

    // Mined: six transactions in the block (an even level above an odd one).
    dev.node().mine(1, &Key::new(9).p2wpkh()).expect("mine");
    let bob_history = client.script_get_history(&bob.p2wpkh()).expect("history");
    assert!(bob_history.iter().all(|h| h.height == 110));
    let order: Vec<Txid> = bob_history.iter().map(|h| h.tx_hash).collect();
    assert_eq!(order, dev.node().block_txids(110).unwrap()[1..].to_vec());
    let balance = client.script_get_balance(&bob.p2wpkh()).expect("balance");
    assert_eq!(balance.confirmed, 5 * (50 * 100_000_000 - 1_000));
    assert_eq!(balance.unconfirmed, 0);
    assert_eq!(assert_proofs_verify(&dev, &client, 110), 6);
    assert_eq!(assert_proofs_verify(&dev, &client, 1), 1);
    let message = protocol_message(
        client
            .transaction_get_merkle(&txids[0], 109)
            .expect_err("wrong block"),
    );
    assert!(message.contains("not in block"), "{message}");
    assert_eq!(
        client.txid_from_pos(110, 2).expect("id_from_pos"),
        dev.node().block_txids(110).unwrap()[2]
    );

    // Four more spends make an odd number of transactions in the block.
    for height in 6..=9 {
        let (outpoint, value) = dev.coinbase(height);
        let tx = alice.spend_to(outpoint, value, bob.p2wpkh(), fee);
        client.transaction_broadcast(&tx).expect("broadcast");
    }
    dev.node().mine(1, &Key::new(9).p2wpkh()).expect("mine");
    assert_eq!(assert_proofs_verify(&dev, &client, 111), 5);

    // Reorg: the block with the five spends is replaced; they go back to the mempool, then
    // are mined again at another height with other proofs.
    dev.node()
        .reorg(2, 3, &Key::new(9).p2wpkh())
        .expect("reorg");
    let tip = client.block_headers_subscribe().expect("tip");
    assert_eq!(tip.height, 112);
    assert_eq!(tip.header.block_hash(), dev.node().tip_hash());
    let bob_history = client.script_get_history(&bob.p2wpkh()).expect("history");
    assert_eq!(bob_history.len(), 9);
    assert!(bob_history.iter().all(|h| h.height == 0), "{bob_history:?}");
    dev.node().mine(1, &Key::new(9).p2wpkh()).expect("mine");
    let bob_history = client.script_get_history(&bob.p2wpkh()).expect("history");
    assert!(bob_history.iter().all(|h| h.height == 113));
    assert_eq!(assert_proofs_verify(&dev, &client, 113), 10);
}

#[test]
fn broadcast_errors_carry_core_reject_reasons() {
    let dev = Devnet::start();
    let client = dev.client();
    let alice = Key::new(1);
    let bob = Key::new(2);
    dev.node().mine(101, &alice.p2wpkh()).expect("mine");
    let (outpoint, value) = dev.coinbase(1);

    let first = alice.spend_to(outpoint, value, bob.p2wpkh(), Amount::from_sat(1_000));
    let txid = client.transaction_broadcast(&first).expect("broadcast");
    // The same transaction again is accepted (as by bitcoind).
    assert_eq!(client.transaction_broadcast(&first).expect("again"), txid);
    let conflict = alice.spend_to(outpoint, value, bob.p2wpkh(), Amount::from_sat(2_000));
    let message = protocol_message(
        client
            .transaction_broadcast(&conflict)
            .expect_err("conflict"),
    );
    assert_eq!(message, "txn-mempool-conflict");

    dev.node().mine(1, &alice.p2wpkh()).expect("mine");
    let message = protocol_message(
        client
            .transaction_broadcast(&conflict)
            .expect_err("double spend"),
    );
    assert_eq!(message, "bad-txns-inputs-missingorspent");
    let message = protocol_message(client.transaction_broadcast(&first).expect_err("known"));
    assert_eq!(message, "txn-already-known");

    let (immature, value) = dev.coinbase(50);
    let early = alice.spend_to(immature, value, bob.p2wpkh(), Amount::from_sat(1_000));
    let message = protocol_message(client.transaction_broadcast(&early).expect_err("immature"));
    assert_eq!(message, "bad-txns-premature-spend-of-coinbase");

    let message = protocol_message(
        client
            .transaction_broadcast_raw(&[0xde, 0xad])
            .expect_err("garbage"),
    );
    assert_eq!(message, "TX decode failed");
    let unknown = Txid::from_byte_array([7; 32]);
    let message = protocol_message(client.transaction_get(&unknown).expect_err("unknown"));
    assert!(
        message.contains("No such mempool or blockchain transaction"),
        "{message}"
    );

    // The connection is still usable after errors.
    client.ping().expect("ping");
}

#[test]
fn raw_lines_batches_and_malformed_requests() {
    let dev = Devnet::start();
    dev.node().mine(3, &Key::new(1).p2wpkh()).expect("mine");
    let mut conn = dev.raw();

    let reply = conn.ask(r#"{"jsonrpc":"2.0","id":1,"method":"server.ping","params":[]}"#);
    assert_eq!(reply, json!({"jsonrpc": "2.0", "result": null, "id": 1}));

    // A batch: one line, one array of replies in order, an error inside does not spoil it.
    let reply = conn.ask(
        r#"[{"jsonrpc":"2.0","id":"a","method":"blockchain.headers.subscribe","params":[]},
            {"jsonrpc":"2.0","id":"b","method":"no.such.method","params":[]},
            {"jsonrpc":"2.0","id":"c","method":"blockchain.block.header","params":[3]}]"#
            .replace('\n', " ")
            .as_str(),
    );
    let replies = reply.as_array().expect("batch reply");
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0]["id"], json!("a"));
    assert_eq!(replies[0]["result"]["height"], json!(3));
    assert_eq!(replies[1]["id"], json!("b"));
    assert_eq!(replies[1]["error"]["code"], json!(-32601));
    assert!(replies[1].get("result").is_none());
    assert_eq!(replies[2]["id"], json!("c"));
    assert_eq!(replies[0]["result"]["hex"], replies[2]["result"]);

    // Pipelined: two requests in one write, two replies in order.
    conn.send(concat!(
        r#"{"jsonrpc":"2.0","id":10,"method":"blockchain.relayfee","params":[]}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":11,"method":"blockchain.estimatefee","params":[2]}"#,
        "\n"
    ));
    assert_eq!(conn.read()["id"], json!(10));
    assert_eq!(conn.read()["result"], json!(ESTIMATED_FEERATE_BTC_PER_KVB));

    // Malformed input gets errors, never a closed connection.
    let reply = conn.ask("this is not json");
    assert_eq!(reply["error"]["code"], json!(-32700));
    assert_eq!(reply["id"], Value::Null);
    let reply = conn.ask("{}");
    assert_eq!(reply["error"]["code"], json!(-32600));
    let reply = conn.ask("[]");
    assert_eq!(reply["error"]["code"], json!(-32600));
    let reply = conn.ask("42");
    assert_eq!(reply["error"]["code"], json!(-32600));
    let reply =
        conn.ask(r#"{"id":5,"method":"blockchain.scripthash.get_history","params":["xyz"]}"#);
    assert_eq!(reply["error"]["code"], json!(-32602));
    assert_eq!(reply["id"], json!(5));
    let reply = conn.ask(r#"{"id":6,"method":"blockchain.block.header","params":{"height":1}}"#);
    assert_eq!(reply["error"]["code"], json!(-32602));
    let reply = conn.ask(r#"{"id":7,"method":"blockchain.block.header","params":[-1]}"#);
    assert_eq!(reply["error"]["code"], json!(-32602));
    let reply = conn.ask(r#"{"id":8,"method":"blockchain.transaction.get","params":["00"]}"#);
    assert_eq!(reply["error"]["code"], json!(-32602));
    let reply = conn.ask(r#"{"id":9,"method":"blockchain.block.headers","params":[0]}"#);
    assert_eq!(reply["error"]["code"], json!(-32602));
    let reply = conn.ask("\u{0}\u{1}\u{ff}garbage");
    assert_eq!(reply["error"]["code"], json!(-32700));

    // A notification (no id) gets no reply: the next line read answers the next request.
    conn.send("{\"jsonrpc\":\"2.0\",\"method\":\"server.ping\",\"params\":[]}\n");
    let reply = conn.ask(r#"{"jsonrpc":"2.0","id":"last","method":"server.ping"}"#);
    assert_eq!(reply["id"], json!("last"));
    assert_eq!(reply["result"], Value::Null);

    // An unknown scripthash has an empty history and a null status.
    let unknown = scripthash(&Key::new(5).p2wpkh());
    let reply = conn.ask(&format!(
        r#"{{"id":1,"method":"blockchain.scripthash.get_history","params":["{unknown}"]}}"#
    ));
    assert_eq!(reply["result"], json!([]));
    let reply = conn.ask(&format!(
        r#"{{"id":2,"method":"blockchain.scripthash.subscribe","params":["{unknown}"]}}"#
    ));
    assert_eq!(reply["result"], Value::Null);
    let miner = scripthash(&Key::new(1).p2wpkh());
    let reply = conn.ask(&format!(
        r#"{{"id":3,"method":"blockchain.scripthash.get_history","params":["{miner}"]}}"#
    ));
    assert_eq!(reply["result"].as_array().map(Vec::len), Some(3));
}

#[test]
fn shutdown_closes_connections_and_refuses_new_ones() {
    let dev = Devnet::start();
    let client = dev.client();
    client.ping().expect("ping");
    let addr = dev.server.local_addr();
    let started = Instant::now();
    let Devnet {
        _dir, node, server, ..
    } = dev;
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown is prompt"
    );
    assert!(client.ping().is_err(), "the connection is closed");
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
    drop(node);
}
