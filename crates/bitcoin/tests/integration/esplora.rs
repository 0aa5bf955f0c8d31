//! Wallet tests against a real devnet node through its Esplora REST server and
//! [`EsploraSource`] (`bdk_esplora` full scan and sync).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{Amount, FeeRate, Txid};
use confiaro_bitcoin::{ChainSource, EsploraSource, SourceError, TxStatus, WalletError};
use confiaro_testkit::btc::{burn, wallet, Devnet};

const BTC: u64 = 100_000_000;

#[tokio::test]
async fn fund_send_confirm_and_reorg_through_esplora() {
    let dev = Devnet::start();
    let server = dev.start_esplora();
    let mut source = dev.esplora(&server);
    let store = dev.store().await;
    let mut w1 = wallet(&store, "w1", 1).await;
    let mut w2 = wallet(&store, "w2", 2).await;

    // 101 coinbases: more than four pages of the address's history.
    let a1 = w1.new_address().await.unwrap();
    dev.mine(101, &a1.script_pubkey());
    let report = w1.sync(&mut source).await.unwrap();
    let tip = source.tip().unwrap();
    assert_eq!(tip.height, 101);
    assert_eq!(tip.hash, dev.node().tip_hash());
    assert_eq!(report.tip, tip);
    // Coinbases at heights 1 and 2 are spendable in block 102 (Core's and BDK's rule).
    let b = w1.balance();
    assert_eq!(b.confirmed, Amount::from_sat(100 * BTC));
    assert_eq!(b.immature, Amount::from_sat(99 * 50 * BTC));
    assert_eq!(b.trusted_pending + b.untrusted_pending, Amount::ZERO);

    // Send to w2 and broadcast through the source.
    let a2 = w2.new_address().await.unwrap();
    let psbt = w1
        .build_send(
            &a2,
            Amount::from_sat(10 * BTC),
            FeeRate::from_sat_per_vb(2).unwrap(),
        )
        .await
        .unwrap();
    let fee = psbt.fee().unwrap();
    let tx = w1.sign_and_extract(psbt).unwrap();
    let txid = source.broadcast(&tx).unwrap();
    assert_eq!(txid, tx.compute_txid());
    // Broadcasting it again is harmless.
    assert_eq!(source.broadcast(&tx).unwrap(), txid);
    assert_eq!(
        source.tx_status(&txid, &a2.script_pubkey()).unwrap(),
        TxStatus::InMempool
    );

    // Pending on both sides.
    w1.sync(&mut source).await.unwrap();
    w2.sync(&mut source).await.unwrap();
    assert_eq!(w2.balance().untrusted_pending, Amount::from_sat(10 * BTC));
    assert_eq!(w2.balance().confirmed, Amount::ZERO);
    assert_eq!(
        w1.balance().total(),
        Amount::from_sat(101 * 50 * BTC - 10 * BTC) - fee
    );
    assert!(
        w1.balance().trusted_pending > Amount::ZERO,
        "change is pending"
    );

    // Confirmed in block 102.
    let hash102 = dev.node().mine(1, &burn()).unwrap()[0];
    let status = source.tx_status(&txid, &a2.script_pubkey()).unwrap();
    assert_eq!(
        status,
        TxStatus::Confirmed {
            block: bdk_wallet::chain::BlockId {
                height: 102,
                hash: hash102
            }
        }
    );
    assert_eq!(status.confirmations(102), 1);
    w1.sync(&mut source).await.unwrap();
    w2.sync(&mut source).await.unwrap();
    assert_eq!(w2.balance().confirmed, Amount::from_sat(10 * BTC));
    assert_eq!(
        w1.balance().confirmed,
        Amount::from_sat(150 * BTC - 10 * BTC) - fee
    );
    assert_eq!(w1.balance().immature, Amount::from_sat(98 * 50 * BTC));
    assert_eq!(w1.tip().height, 102);

    // Block 102 is replaced by two empty blocks: the send is back in the mempool.
    dev.node().reorg(1, 2, &burn()).unwrap();
    assert_eq!(
        source.tx_status(&txid, &a2.script_pubkey()).unwrap(),
        TxStatus::InMempool
    );
    w1.sync(&mut source).await.unwrap();
    w2.sync(&mut source).await.unwrap();
    assert_eq!(w2.tip(), source.tip().unwrap());
    assert_eq!(w2.tip().height, 103);
    let in_w2 = w2.bdk().get_tx(txid).expect("w2 knows the send");
    assert!(!in_w2.chain_position.is_confirmed());
    assert!(!w1
        .bdk()
        .get_tx(txid)
        .expect("w1 knows the send")
        .chain_position
        .is_confirmed());
    assert_eq!(w2.balance().confirmed, Amount::ZERO);
    assert_eq!(w2.balance().untrusted_pending, Amount::from_sat(10 * BTC));

    // And forward again: mined in block 104.
    let hash104 = dev.node().mine(1, &burn()).unwrap()[0];
    w2.sync(&mut source).await.unwrap();
    w1.sync(&mut source).await.unwrap();
    let in_w2 = w2.bdk().get_tx(txid).expect("w2 knows the send");
    match in_w2.chain_position {
        bdk_wallet::chain::ChainPosition::Confirmed { anchor, .. } => {
            assert_eq!(anchor.block_id.height, 104);
            assert_eq!(anchor.block_id.hash, hash104);
        }
        other => panic!("not confirmed: {other:?}"),
    }
    assert_eq!(w2.balance().confirmed, Amount::from_sat(10 * BTC));
    assert_eq!(
        w1.balance().total(),
        Amount::from_sat(101 * 50 * BTC - 10 * BTC) - fee
    );
}

#[tokio::test]
async fn statuses_fees_rejections_and_a_dead_server() {
    let dev = Devnet::start();
    let server = dev.start_esplora();
    let mut source = dev.esplora(&server);
    let store = dev.store().await;
    let mut w = wallet(&store, "w", 3).await;
    let mut other = wallet(&store, "other", 4).await;

    // One mature coinbase: every send spends it, so two sends conflict.
    let a = w.new_address().await.unwrap();
    dev.mine(1, &a.script_pubkey());
    dev.mine_empty(100);
    w.sync(&mut source).await.unwrap();
    assert_eq!(w.balance().confirmed, Amount::from_sat(50 * BTC));
    let to = other.new_address().await.unwrap();
    let rate = FeeRate::from_sat_per_vb(2).unwrap();
    let psbt = w
        .build_send(&to, Amount::from_sat(BTC), rate)
        .await
        .unwrap();
    let first = w.sign_and_extract(psbt).unwrap();
    let psbt = w
        .build_send(&to, Amount::from_sat(2 * BTC), rate)
        .await
        .unwrap();
    let double = w.sign_and_extract(psbt).unwrap();
    assert_eq!(
        first.input[0].previous_output,
        double.input[0].previous_output
    );

    let txid = source.broadcast(&first).unwrap();
    let err = source.broadcast(&double).unwrap_err();
    assert_eq!(err.reject_reason(), Some("txn-mempool-conflict"), "{err}");
    dev.mine_empty(1);
    let err = source.broadcast(&double).unwrap_err();
    assert!(
        matches!(&err, SourceError::Rejected { reason } if reason.contains("bad-txns-inputs-missingorspent")),
        "{err}"
    );
    // Already confirmed: accepted, as by the bitcoind source.
    assert_eq!(source.broadcast(&first).unwrap(), txid);

    // Statuses.
    let script = to.script_pubkey();
    let tip = source.tip().unwrap();
    assert_eq!(tip.height, 102);
    assert_eq!(
        source.tx_status(&txid, &script).unwrap(),
        TxStatus::Confirmed { block: tip }
    );
    assert_eq!(
        source.tx_status(&Txid::all_zeros(), &script).unwrap(),
        TxStatus::NotFound
    );
    assert_eq!(
        source.tx_status(&double.compute_txid(), &script).unwrap(),
        TxStatus::NotFound
    );
    other.sync(&mut source).await.unwrap();
    assert_eq!(other.balance().confirmed, Amount::from_sat(BTC));

    // Fee estimates: the devnet's 10 sat/vB; none below target 1.
    assert_eq!(
        source.estimate_fee_rate(6).unwrap(),
        Some(FeeRate::from_sat_per_vb(10).unwrap())
    );
    assert_eq!(
        source.estimate_fee_rate(2000).unwrap(),
        Some(FeeRate::from_sat_per_vb(10).unwrap())
    );
    assert_eq!(source.estimate_fee_rate(0).unwrap(), None);

    // A server answering 404 to everything (a wrong base path) fails, naming the URL.
    let mut wrong = EsploraSource::new(
        &format!("{}/not-esplora", server.url()),
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(
        matches!(wrong.tip(), Err(SourceError::Failed { ref source_name, .. }) if source_name.contains("/not-esplora"))
    );

    // The server stops: every call is unreachable, the wallet is left as it was.
    let url = server.url();
    let before = w.tip();
    let balance = w.balance();
    server.shutdown();
    dev.mine_empty(1);
    let unreachable = |e: &SourceError| matches!(e, SourceError::Unreachable { source_name, .. } if source_name.contains(&url));
    let err = source.tip().unwrap_err();
    assert!(unreachable(&err), "{err}");
    assert!(err.to_string().contains(&url));
    match w.sync(&mut source).await {
        Err(WalletError::Source(e)) => assert!(unreachable(&e), "{e}"),
        other => panic!("sync through a dead server: {other:?}"),
    }
    assert_eq!(w.tip(), before);
    assert_eq!(w.balance(), balance);
    let err = source.broadcast(&double).unwrap_err();
    assert!(unreachable(&err), "{err}");
    let err = source.tx_status(&txid, &script).unwrap_err();
    assert!(unreachable(&err), "{err}");
    let err = source.estimate_fee_rate(1).unwrap_err();
    assert!(unreachable(&err), "{err}");
}

#[test]
fn a_server_that_never_answers_times_out_as_unreachable() {
    // A socket that accepts connections (in the kernel's backlog) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut source = EsploraSource::new(&url, Duration::from_secs(1)).unwrap();
    let started = Instant::now();
    let err = source.tip().unwrap_err();
    assert!(
        matches!(&err, SourceError::Unreachable { source_name, .. } if source_name.contains(&url)),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}

#[tokio::test]
async fn first_update_scans_in_full_later_ones_sync_revealed_scripts() {
    use bdk_wallet::KeychainKind;
    let dev = Devnet::start();
    let server = dev.start_esplora();
    let mut source = dev.esplora(&server);
    let store = dev.store().await;
    // A "restored" wallet: nothing revealed, funds at receive index 3.
    let mut w = wallet(&store, "restored", 5).await;
    assert!(w.revealed_addresses().is_empty());
    let at3 = w.bdk().peek_address(KeychainKind::External, 3).address;
    dev.mine(1, &at3.script_pubkey());
    w.sync(&mut source).await.unwrap();
    assert_eq!(w.balance().immature, Amount::from_sat(50 * BTC));
    assert_eq!(
        w.revealed_addresses().len(),
        4,
        "the scan revealed up to index 3"
    );

    // Later updates sync revealed scripts only: index 10 is not watched yet...
    let at10 = w.bdk().peek_address(KeychainKind::External, 10).address;
    dev.mine(1, &at10.script_pubkey());
    w.sync(&mut source).await.unwrap();
    assert_eq!(w.tip().height, 2);
    assert_eq!(w.balance().immature, Amount::from_sat(50 * BTC));
    // ...until a new source (e.g. after a restart) scans in full again.
    let mut fresh = dev.esplora(&server);
    w.sync(&mut fresh).await.unwrap();
    assert_eq!(w.balance().immature, Amount::from_sat(100 * BTC));
    assert_eq!(w.revealed_addresses().len(), 11);
}
