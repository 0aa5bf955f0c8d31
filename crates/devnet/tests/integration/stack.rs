//! The devnet stack as a library ([`confiaro_devnet::stack`]) against the real processes:
//! the devnet node and its servers over real loopback sockets, a real regtest `monerod` and
//! `monero-wallet-rpc`, and a real libp2p rendezvous point.

use std::io::Read as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::hex::FromHex;
use bitcoin::{Address, Amount, Network, ScriptBuf, Transaction, Txid};
use confiaro_devnet::faucet::FaucetError;
use confiaro_devnet::stack::{
    rendezvous_peer_id, Stack, StackConfig, StackError, StackInfo, DEFAULT_RPC_CREDENTIAL,
};
use confiaro_devnet::testkit::TestKey;
use confiaro_monero::process::{ProcessConfig, WalletRpc};
use confiaro_monero::rpc::{DaemonClient, RpcConfig as MoneroRpcConfig, WalletClient};
use confiaro_monero::{MoneroError, XmrAmount};
use confiaro_p2p::{IdentitySecret, Multiaddr, Network as P2pNetwork, NetworkConfig};
use confiaro_testkit::leftovers::test_dir;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// A JSON-RPC 1.0 call over a fresh HTTP connection: the whole reply object.
fn rpc_call(info: &StackInfo, method: &str, params: Value) -> Value {
    let addr: SocketAddr = info
        .bitcoin_rpc_url
        .strip_prefix("http://")
        .expect("http url")
        .parse()
        .expect("socket address");
    let body = json!({"jsonrpc": "1.0", "id": "t", "method": method, "params": params}).to_string();
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", info.rpc_user, info.rpc_password));
    let mut stream = TcpStream::connect(addr).expect("connect to the rpc server");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (_, body) = response.split_once("\r\n\r\n").expect("http response");
    serde_json::from_str(body).expect("json reply")
}

/// A call that must succeed: its result.
fn rpc(info: &StackInfo, method: &str, params: Value) -> Value {
    let reply = rpc_call(info, method, params);
    assert!(reply["error"].is_null(), "{method} failed: {reply}");
    reply["result"].clone()
}

/// A call that must fail: (code, message).
fn rpc_err(info: &StackInfo, method: &str, params: Value) -> (i64, String) {
    let reply = rpc_call(info, method, params);
    assert!(!reply["error"].is_null(), "{method} succeeded: {reply}");
    (
        reply["error"]["code"].as_i64().expect("code"),
        reply["error"]["message"]
            .as_str()
            .expect("message")
            .to_string(),
    )
}

/// The transaction `txid` as the RPC server has it, with its confirmations (`None` in the
/// mempool).
fn rpc_tx(info: &StackInfo, txid: &Txid) -> (Transaction, Option<u64>) {
    let verbose = rpc(info, "getrawtransaction", json!([txid.to_string(), true]));
    let bytes = Vec::<u8>::from_hex(verbose["hex"].as_str().expect("hex")).expect("hex");
    let tx: Transaction = deserialize(&bytes).expect("transaction");
    assert_eq!(tx.compute_txid(), *txid);
    (tx, verbose["confirmations"].as_u64())
}

/// What `tx` pays to `script`.
fn paid_to(tx: &Transaction, script: &ScriptBuf) -> Amount {
    tx.output
        .iter()
        .filter(|o| &o.script_pubkey == script)
        .map(|o| o.value)
        .sum()
}

fn btc_height(stack: &Stack) -> u32 {
    stack.node().lock().expect("node lock").tip_height()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A libp2p node on a free loopback port that advertises it (as a maker would).
async fn p2p_node(
    seed: u8,
) -> (
    P2pNetwork,
    tokio::sync::mpsc::Receiver<confiaro_p2p::NetworkEvent>,
) {
    let mut config = NetworkConfig::new(IdentitySecret::from_bytes([seed; 32]));
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    config.advertise_listen_addresses = true;
    P2pNetwork::start(config).await.expect("p2p node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_stack_funds_both_chains_mines_serves_rendezvous_and_stops_cleanly() {
    let dir = test_dir("devnet-stack");
    let stack = Stack::start(StackConfig::ephemeral(dir.path()))
        .await
        .expect("stack starts");

    // devnet.json says what the stack says, with our pid.
    let info = StackInfo::load(dir.path()).expect("devnet.json");
    assert_eq!(&info, stack.info());
    assert_eq!(info.pid, std::process::id());
    assert_eq!(info.rpc_user, DEFAULT_RPC_CREDENTIAL);
    assert!(info
        .electrum_url
        .as_deref()
        .is_some_and(|u| u.starts_with("tcp://127.0.0.1:")));
    assert!(info
        .esplora_url
        .as_deref()
        .is_some_and(|u| u.starts_with("http://127.0.0.1:")));
    let rendezvous: Multiaddr = info
        .rendezvous
        .as_deref()
        .expect("rendezvous address")
        .parse()
        .expect("multiaddr");
    assert!(
        rendezvous
            .to_string()
            .ends_with(&format!("/p2p/{}", rendezvous_peer_id())),
        "{info:?}"
    );
    assert_eq!(rpc(&info, "getblockcount", json!([])), 101);
    let mining: Address = info
        .mining_address
        .parse::<Address<_>>()
        .expect("address")
        .require_network(Network::Regtest)
        .expect("regtest");
    assert_eq!(mining, stack.faucet().address());

    // fund_btc twice to a P2WPKH address: each payment is exact and confirmed.
    let receiver = TestKey::new(0x42);
    let script = receiver.p2wpkh();
    let first = stack
        .fund_btc(&receiver.address(), Amount::from_sat(150_000_000))
        .await
        .expect("first funding");
    let second = stack
        .fund_btc(&receiver.address(), Amount::from_sat(25_000_001))
        .await
        .expect("second funding");
    assert_ne!(first, second);
    let (tx, confirmations) = rpc_tx(&info, &first);
    assert_eq!(paid_to(&tx, &script), Amount::from_sat(150_000_000));
    assert_eq!(confirmations, Some(2));
    let (tx, confirmations) = rpc_tx(&info, &second);
    assert_eq!(paid_to(&tx, &script), Amount::from_sat(25_000_001));
    assert_eq!(confirmations, Some(1));
    assert_eq!(rpc(&info, "getblockcount", json!([])), 103);

    // sendtoaddress over real HTTP: amounts as a JSON number and as a string, not mined.
    let other = TestKey::new(0x43);
    let by_number: Txid = rpc(
        &info,
        "sendtoaddress",
        json!([other.address().to_string(), 0.3]),
    )
    .as_str()
    .expect("txid")
    .parse()
    .expect("txid hex");
    let by_string: Txid = rpc(
        &info,
        "sendtoaddress",
        json!({"address": other.address().to_string(), "amount": "0.00012345"}),
    )
    .as_str()
    .expect("txid")
    .parse()
    .expect("txid hex");
    let mempool = rpc(&info, "getrawmempool", json!([]));
    for txid in [by_number, by_string] {
        assert!(
            mempool
                .as_array()
                .expect("array")
                .contains(&json!(txid.to_string())),
            "{mempool}"
        );
        assert_eq!(rpc_tx(&info, &txid).1, None, "not mined by sendtoaddress");
    }
    assert_eq!(rpc(&info, "getblockcount", json!([])), 103);
    rpc(
        &info,
        "generatetoaddress",
        json!([1, other.address().to_string()]),
    );
    let (tx, confirmations) = rpc_tx(&info, &by_number);
    assert_eq!(paid_to(&tx, &other.p2wpkh()), Amount::from_sat(30_000_000));
    assert_eq!(confirmations, Some(1));
    let (tx, confirmations) = rpc_tx(&info, &by_string);
    assert_eq!(paid_to(&tx, &other.p2wpkh()), Amount::from_sat(12_345));
    assert_eq!(confirmations, Some(1));

    // bitcoind's errors for a bad address, a bad amount and insufficient funds.
    let to = other.address().to_string();
    let mainnet = Address::p2wpkh(&other.compressed(), Network::Bitcoin).to_string();
    assert_eq!(
        rpc_err(&info, "sendtoaddress", json!(["nonsense", 1])).0,
        -5
    );
    assert_eq!(rpc_err(&info, "sendtoaddress", json!([mainnet, 1])).0, -5);
    assert_eq!(rpc_err(&info, "sendtoaddress", json!([to, 0])).0, -3);
    assert_eq!(rpc_err(&info, "sendtoaddress", json!([to, "-1"])).0, -3);
    assert_eq!(
        rpc_err(&info, "sendtoaddress", json!([to, "1.123456789"])).0,
        -3
    );
    assert_eq!(rpc_err(&info, "sendtoaddress", json!([to, "lots"])).0, -3);
    assert_eq!(
        rpc_err(&info, "sendtoaddress", json!([to, 20_000])),
        (-6, "Insufficient funds".to_string())
    );

    // fund_xmr twice to a fresh wallet in a second wallet RPC: exactly that much unlocked.
    let monerod_url = info.monerod_url.clone().expect("monerod url");
    let receiver_rpc = WalletRpc::start(
        &ProcessConfig::new("monero-wallet-rpc", dir.path().join("receiver-wallets")),
        monerod_url.strip_prefix("http://").expect("http url"),
    )
    .await
    .expect("second wallet rpc");
    let wallet = receiver_rpc.client();
    wallet
        .create_wallet("receiver", "")
        .await
        .expect("create wallet");
    let xmr_address = wallet.address().await.expect("address");
    let a = XmrAmount::from_piconero(1_234_567_890_123);
    let b = XmrAmount::from_piconero(7);
    let hash_a = stack.fund_xmr(&xmr_address, a).await.expect("fund xmr");
    let hash_b = stack
        .fund_xmr(&xmr_address, b)
        .await
        .expect("fund xmr again");
    assert_ne!(hash_a, hash_b);
    assert_eq!(hash_a.len(), 64);
    wallet.refresh().await.expect("refresh");
    let balance = wallet.balance().await.expect("balance");
    let sum = a.checked_add(b).expect("no overflow");
    assert_eq!(balance.unlocked, sum, "{balance:?}");
    assert_eq!(balance.total, sum, "{balance:?}");
    receiver_rpc.stop().await;

    // auto_mine raises both heights; stopping it stops both.
    let daemon = DaemonClient::new(&monerod_url, MoneroRpcConfig::default()).expect("client");
    let (btc_before, xmr_before) = (btc_height(&stack), daemon.height().await.expect("height"));
    let miner = stack.auto_mine(
        Some(Duration::from_millis(100)),
        Some(Duration::from_millis(200)),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let xmr = daemon.height().await.expect("height");
        if btc_height(&stack) >= btc_before + 3 && xmr >= xmr_before + 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "auto_mine did not mine both chains"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    miner.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let btc_stopped = btc_height(&stack);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(btc_height(&stack), btc_stopped, "no block after stop");

    // mine_btc / mine_xmr return the new heights.
    assert_eq!(stack.mine_btc(2).await.expect("mine"), btc_stopped + 2);
    let xmr = daemon.height().await.expect("height");
    assert_eq!(stack.mine_xmr(3).await.expect("mine"), xmr + 3);

    // A maker registers at the rendezvous point from devnet.json; a taker discovers it.
    const NAMESPACE: &str = "confiaro/regtest/offers";
    let (maker, _maker_events) = p2p_node(61).await;
    let (taker, _taker_events) = p2p_node(62).await;
    let loaded = StackInfo::load(dir.path()).expect("devnet.json");
    let point: Multiaddr = loaded
        .rendezvous
        .expect("rendezvous")
        .parse()
        .expect("multiaddr");
    assert_eq!(
        maker.dial(point.clone()).await.expect("maker dials"),
        rendezvous_peer_id()
    );
    maker
        .register(rendezvous_peer_id(), NAMESPACE, Some(60))
        .await
        .expect("registered");
    assert_eq!(
        taker.dial(point.clone()).await.expect("taker dials"),
        rendezvous_peer_id()
    );
    let found = taker
        .discover(rendezvous_peer_id(), NAMESPACE)
        .await
        .expect("discovered");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].peer, maker.local_peer_id());
    assert!(!found[0].addresses.is_empty());
    maker.shutdown().await;
    taker.shutdown().await;

    // stop: devnet.json and the cookie go, and nothing answers any more.
    let wallet_url = info.monero_wallet_rpc_url.clone().expect("wallet url");
    let cookie = stack.cookie_file().expect("cookie").to_path_buf();
    assert!(cookie.exists());
    stack.stop().await;
    assert!(!StackInfo::path(dir.path()).exists());
    assert!(!cookie.exists());
    assert!(matches!(
        StackInfo::load(dir.path()),
        Err(StackError::NotRunning { .. })
    ));
    let no_retry = MoneroRpcConfig {
        retries: 0,
        ..MoneroRpcConfig::default()
    };
    let daemon = DaemonClient::new(&monerod_url, no_retry).expect("client");
    assert!(
        matches!(daemon.height().await, Err(MoneroError::Unreachable { .. })),
        "monerod stopped"
    );
    let wallet = WalletClient::new(&wallet_url, no_retry).expect("client");
    assert!(
        matches!(wallet.balance().await, Err(MoneroError::Unreachable { .. })),
        "wallet rpc stopped"
    );
    let rpc_addr = info.bitcoin_rpc_url.strip_prefix("http://").expect("url");
    assert!(TcpStream::connect(rpc_addr).is_err(), "rpc server stopped");
    let (late, _late_events) = p2p_node(63).await;
    assert!(late.dial(point).await.is_err(), "rendezvous point stopped");

    // A restart keeps the Monero chain too (regtest monerod deletes it unless told to keep
    // it, and the funded wallet would then know blocks that are gone and fail to pay).
    let xmr_before = xmr + 3;
    let stack = Stack::start(StackConfig::ephemeral(dir.path()))
        .await
        .expect("the stack restarts");
    let daemon = DaemonClient::new(
        stack.info().monerod_url.as_deref().expect("monerod"),
        MoneroRpcConfig::default(),
    )
    .expect("client");
    let xmr_after = daemon.height().await.expect("height");
    assert!(
        xmr_after >= xmr_before,
        "the Monero chain is kept: {xmr_before} -> {xmr_after}"
    );
    stack
        .fund_xmr(&xmr_address, XmrAmount::from_piconero(1_000_000))
        .await
        .expect("the funded wallet pays after a restart");
    stack.stop().await;
}

/// Writes `devnet.json` naming a process that has exited.
fn write_stale_info(data_dir: &Path, like: &StackInfo) {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let pid = child.id();
    child.wait().expect("wait");
    let stale = StackInfo {
        pid,
        ..like.clone()
    };
    std::fs::write(
        StackInfo::path(data_dir),
        serde_json::to_string(&stale).expect("json"),
    )
    .expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitcoin_only_stack_tops_up_its_faucet_refuses_a_second_instance_and_restarts_with_the_same_chain_and_rendezvous_address(
) {
    let dir = test_dir("devnet-stack");
    let port = free_port();
    let config = StackConfig {
        electrum_port: None,
        esplora_port: None,
        monero: None,
        rendezvous_port: Some(port),
        initial_btc_blocks: 0,
        ..StackConfig::ephemeral(dir.path())
    };
    let stack = Stack::start(config.clone()).await.expect("stack starts");
    let info = stack.info().clone();
    assert_eq!(btc_height(&stack), 0);
    assert_eq!(info.electrum_url, None);
    assert_eq!(info.monerod_url, None);
    assert_eq!(
        info.rendezvous.as_deref(),
        Some(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", rendezvous_peer_id()).as_str())
    );
    assert!(matches!(
        stack.mine_xmr(1).await,
        Err(StackError::MoneroDisabled)
    ));

    // The faucet has nothing yet: funding mines until the first coinbase is mature (block
    // 1's, spendable in block 101) and pays in that block.
    let receiver = TestKey::new(0x51);
    let txid = stack
        .fund_btc(&receiver.address(), Amount::from_int_btc(2))
        .await
        .expect("funding tops the faucet up");
    assert_eq!(btc_height(&stack), 101);
    let (tx, confirmations) = rpc_tx(&info, &txid);
    assert_eq!(paid_to(&tx, &receiver.p2wpkh()), Amount::from_int_btc(2));
    assert_eq!(confirmations, Some(1));
    // Many more in a row, beyond the first coinbase's 50 BTC.
    for _ in 0..4 {
        stack
            .fund_btc(&receiver.address(), Amount::from_int_btc(20))
            .await
            .expect("funding");
    }

    let mainnet = Address::p2wpkh(&receiver.compressed(), Network::Bitcoin);
    assert!(matches!(
        stack.fund_btc(&mainnet, Amount::from_int_btc(1)).await,
        Err(StackError::WrongNetwork { .. })
    ));
    assert!(matches!(
        stack
            .fund_btc(&receiver.address(), Amount::from_sat(100))
            .await,
        Err(StackError::Funding(FaucetError::AmountTooSmall { .. }))
    ));

    // A second stack on the same data directory is refused; taken ports are named.
    let again = Stack::start(config.clone())
        .await
        .expect_err("second instance");
    assert!(
        matches!(again, StackError::AlreadyRunning { pid, .. } if pid == std::process::id()),
        "{again}"
    );
    let other_dir = test_dir("devnet-stack");
    let taken = Stack::start(StackConfig {
        data_dir: other_dir.path().to_path_buf(),
        ..config.clone()
    })
    .await
    .expect_err("rendezvous port taken");
    assert!(
        matches!(taken, StackError::PortTaken { port: p, .. } if p == port),
        "{taken}"
    );
    assert!(taken.to_string().contains("rendezvous point"), "{taken}");
    let rpc_port: u16 = info
        .bitcoin_rpc_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let taken = Stack::start(StackConfig {
        data_dir: other_dir.path().to_path_buf(),
        bitcoin_rpc_port: rpc_port,
        rendezvous_port: None,
        ..config.clone()
    })
    .await
    .expect_err("rpc port taken");
    assert!(
        matches!(taken, StackError::PortTaken { service: "bitcoin rpc", port: p } if p == rpc_port),
        "{taken}"
    );

    let height = btc_height(&stack);
    stack.stop().await;

    // A devnet.json left by a dead process is stale; a new stack replaces it and keeps the
    // chain, and the rendezvous point comes back at the same multiaddr.
    write_stale_info(dir.path(), &info);
    assert!(matches!(
        StackInfo::load(dir.path()),
        Err(StackError::StaleInfo { .. })
    ));
    let stack = Stack::start(config.clone()).await.expect("restarts");
    assert_eq!(btc_height(&stack), height);
    assert_eq!(stack.info().rendezvous, info.rendezvous);
    assert_eq!(StackInfo::load(dir.path()).expect("info"), *stack.info());
    assert_eq!(rpc_tx(stack.info(), &txid).1, Some(u64::from(height - 100)));
    // Dropped without stop: devnet.json goes too.
    drop(stack);
    assert!(!StackInfo::path(dir.path()).exists());
}
