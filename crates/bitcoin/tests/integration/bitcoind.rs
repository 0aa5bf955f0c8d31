//! The bitcoind RPC chain source against the devnet node's RPC server: reorgs, a dead, a
//! wrongly authenticated and a lying server, the watcher, and fee estimation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use bitcoin::{Amount, FeeRate};
use confiaro_bitcoin::fee::{FeeOrigin, FeePolicy};
use confiaro_bitcoin::{
    BitcoindAuth, BitcoindSource, ChainSource, SourceError, TxStatus, WalletError,
};
use confiaro_testkit::btc::{burn, wallet, Devnet, USER};

/// Funds wallet "a" (seed 1) with mature coinbases and sends 3 BTC to wallet "b" (seed 2);
/// returns the send's txid, unconfirmed.
async fn funded_pair(
    dev: &Devnet,
    source: &mut BitcoindSource,
) -> (
    confiaro_testkit::btc::StoreWallet,
    confiaro_testkit::btc::StoreWallet,
    bitcoin::Txid,
) {
    let store = dev.store().await;
    let mut a = wallet(&store, "a", 1).await;
    let mut b = wallet(&store, "b", 2).await;
    let to_a = a.new_address().await.expect("address");
    dev.mine(101, &to_a.script_pubkey());
    a.sync(source).await.expect("sync a");
    let to_b = b.new_address().await.expect("address");
    let psbt = a
        .build_send(
            &to_b,
            Amount::from_int_btc(3),
            FeeRate::from_sat_per_vb_u32(2),
        )
        .await
        .expect("send");
    let tx = a.sign_and_extract(psbt).expect("sign");
    let txid = source.broadcast(&tx).expect("broadcast");
    (a, b, txid)
}

#[tokio::test]
async fn reorg_rolls_the_wallet_back_and_forward() {
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let (_a, mut b, txid) = funded_pair(&dev, &mut source).await;

    b.sync(&mut source).await.expect("sync");
    assert_eq!(b.balance().untrusted_pending, Amount::from_int_btc(3));
    dev.mine_empty(2);
    b.sync(&mut source).await.expect("sync");
    assert_eq!(b.balance().confirmed, Amount::from_int_btc(3));
    let confirmed_tip = b.tip();

    // The two blocks (one with the payment) are replaced by three empty ones: the payment
    // is unconfirmed again, and the wallet's tip follows the new branch.
    dev.node().reorg(2, 3, &burn()).expect("reorg");
    let report = b.sync(&mut source).await.expect("sync after reorg");
    assert_eq!(report.blocks_applied, 3);
    assert_eq!(b.tip().hash, dev.node().tip_hash());
    assert_ne!(b.tip(), confirmed_tip);
    assert_eq!(b.balance().confirmed, Amount::ZERO);
    assert_eq!(b.balance().untrusted_pending, Amount::from_int_btc(3));

    // Mined again on the new branch: confirmed again.
    dev.mine_empty(1);
    b.sync(&mut source).await.expect("sync");
    assert_eq!(b.balance().confirmed, Amount::from_int_btc(3));

    // Reorged out and evicted: the wallet forgets it.
    dev.node().reorg(1, 2, &burn()).expect("reorg");
    assert!(dev.node().evict(&txid));
    b.sync(&mut source).await.expect("sync");
    assert_eq!(b.balance().total(), Amount::ZERO);
    assert_eq!(
        source.tx_status(&txid, &burn()).expect("status"),
        TxStatus::NotFound
    );
}

#[tokio::test]
async fn dead_source_is_a_clear_error_and_loses_nothing() {
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let (_a, mut b, _txid) = funded_pair(&dev, &mut source).await;
    b.sync(&mut source).await.expect("sync");
    let tip = b.tip();
    let balance = b.balance();
    let url = dev.rpc.url();
    let Devnet { dir, node, rpc } = dev;
    rpc.shutdown();
    let err = b.sync(&mut source).await.expect_err("dead source");
    let text = err.to_string();
    assert!(
        matches!(err, WalletError::Source(SourceError::Unreachable { .. })),
        "{err:?}"
    );
    assert!(text.contains(&url), "{text}");
    println!("dead bitcoind: {text}");
    assert_eq!(b.tip(), tip);
    assert_eq!(b.balance(), balance);
    assert!(matches!(
        source.broadcast(&bitcoin::constants::genesis_block(bitcoin::Network::Regtest).txdata[0]),
        Err(SourceError::Unreachable { .. })
    ));
    drop((dir, node));
}

#[tokio::test]
async fn wrong_password_is_refused_by_name() {
    let dev = Devnet::start();
    let mut source = BitcoindSource::new(
        &dev.rpc.url(),
        BitcoindAuth::UserPass {
            user: USER.into(),
            password: "wrong-password".into(),
        },
        Duration::from_secs(5),
    )
    .expect("source");
    let err = source.tip().expect_err("unauthorized");
    assert!(matches!(err, SourceError::Unauthorized { .. }), "{err:?}");
    assert!(!err.to_string().contains("wrong-password"));
    println!("wrong password: {err}");
}

/// A server that answers every JSON-RPC call with a well-formed response whose result is
/// nonsense (a "block hash" that is not hex, a block that is not a block).
fn lying_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        break;
                    }
                    let request: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let answer = serde_json::json!({
                        "result": "ffff-not-a-hash",
                        "error": null,
                        "id": request["id"],
                    })
                    .to_string();
                    let mut out = &stream;
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    length = 0;
                }
            }
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn lying_source_is_refused() {
    let dev = Devnet::start();
    let store = dev.store().await;
    let mut w = wallet(&store, "w", 3).await;
    let tip = w.tip();
    let url = lying_server();
    let mut liar = BitcoindSource::new(
        &url,
        BitcoindAuth::UserPass {
            user: "u".into(),
            password: "p".into(),
        },
        Duration::from_secs(5),
    )
    .expect("source");
    let err = liar.tip().expect_err("nonsense");
    assert!(matches!(err, SourceError::Invalid { .. }), "{err:?}");
    let err = w.sync(&mut liar).await.expect_err("nonsense");
    assert!(
        matches!(err, WalletError::Source(SourceError::Invalid { .. })),
        "{err:?}"
    );
    println!("lying bitcoind: {err}");
    assert_eq!(w.tip(), tip);
}

#[tokio::test]
async fn fee_estimate_within_floor_and_cap() {
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let estimate = source
        .estimate_fee_rate(3)
        .expect("estimate")
        .expect("the devnet has one");
    let policy = FeePolicy::default();
    let choice = policy.choose(&mut source).expect("choice");
    assert_eq!(choice.estimate, Some(estimate));
    assert_eq!(choice.origin, FeeOrigin::Estimate);
    let low_cap = FeePolicy {
        cap: FeeRate::from_sat_per_vb_u32(1),
        ..policy
    };
    let cut = low_cap.choose(&mut source).expect("choice");
    println!("devnet estimate {estimate}; with a 1 sat/vB cap: {cut:?}");
    assert!(estimate > FeeRate::from_sat_per_vb_u32(1));
    assert_eq!(cut.origin, FeeOrigin::CutToCap);
    assert_eq!(cut.rate, FeeRate::from_sat_per_vb_u32(1));
}
