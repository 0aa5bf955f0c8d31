//! Wallet tests against a real devnet node, through its Electrum server and
//! [`ElectrumSource`] (`bdk_electrum`).

use std::time::{Duration, Instant};

use bdk_wallet::KeychainKind;
use bitcoin::hashes::Hash;
use bitcoin::{Amount, FeeRate, Transaction, Txid};
use confiaro_bitcoin::{ChainSource, ElectrumSource, SourceError, TxStatus, WalletError};
use confiaro_testkit::btc::{burn, wallet, Devnet, StoreWallet};

const COIN: u64 = 100_000_000;

/// 50 BTC, the regtest subsidy below height 150.
fn subsidy() -> Amount {
    Amount::from_sat(50 * COIN)
}

/// The value of the coinbases a wallet mined at heights `1..=mined` that are mature at
/// `tip` (a coinbase at height `h` is spendable in block `h + 100`).
fn mature(mined: u32, tip: u32) -> Amount {
    subsidy() * u64::from(tip.saturating_sub(99).min(mined))
}

/// Signs a send of `amount` from `from` to a new address of `to` at 2 sat/vB.
async fn send(
    from: &mut StoreWallet,
    to: &mut StoreWallet,
    amount: Amount,
) -> (Transaction, Amount) {
    let address = to.new_address().await.expect("address");
    let psbt = from
        .build_send(
            &address,
            amount,
            FeeRate::from_sat_per_vb(2).expect("fee rate"),
        )
        .await
        .expect("build send");
    let fee = psbt.fee().expect("fee");
    (from.sign_and_extract(psbt).expect("sign"), fee)
}

fn is_confirmed(wallet: &StoreWallet, txid: Txid) -> bool {
    wallet
        .bdk()
        .get_tx(txid)
        .expect("wallet knows the transaction")
        .chain_position
        .is_confirmed()
}

#[tokio::test]
async fn fund_send_confirm_reorg_through_electrum() {
    let dev = Devnet::start();
    let server = dev.start_electrum();
    let mut source = dev.electrum(&server);
    let store = dev.store().await;
    let mut w1 = wallet(&store, "w1", 1).await;
    let mut w2 = wallet(&store, "w2", 2).await;

    // Funded by 101 coinbases: two are mature, 99 immature.
    let a1 = w1.new_address().await.expect("address");
    dev.mine(101, &a1.script_pubkey());
    let report = w1.sync(&mut source).await.expect("sync");
    assert_eq!(report.tip.height, 101);
    assert_eq!(w1.tip().hash, dev.node().tip_hash());
    assert_eq!(source.tip().expect("tip"), w1.tip());
    let b = w1.balance();
    assert_eq!(b.confirmed, mature(101, 101));
    assert_eq!(b.confirmed, Amount::from_sat(100 * COIN));
    assert_eq!(b.immature, subsidy() * 99);
    assert_eq!(b.trusted_pending + b.untrusted_pending, Amount::ZERO);
    let total = b.total();

    // Send 10 BTC to w2, broadcast through Electrum: pending on both sides.
    let ten = Amount::from_sat(10 * COIN);
    let (tx, fee) = send(&mut w1, &mut w2, ten).await;
    let txid = tx.compute_txid();
    let spent = subsidy() * tx.input.len() as u64;
    assert_eq!(source.broadcast(&tx).expect("broadcast"), txid);
    let a2 = w2.revealed_addresses()[0].script_pubkey();
    assert_eq!(
        source.tx_status(&txid, &a2).expect("status"),
        TxStatus::InMempool
    );
    w1.sync(&mut source).await.expect("sync w1");
    w2.sync(&mut source).await.expect("sync w2");
    assert!(!is_confirmed(&w1, txid));
    let b1 = w1.balance();
    assert_eq!(b1.confirmed, mature(101, 101) - spent);
    assert_eq!(b1.trusted_pending, spent - ten - fee, "our change");
    assert_eq!(b1.total(), total - ten - fee);
    let b2 = w2.balance();
    assert_eq!(b2.untrusted_pending, ten);
    assert_eq!(b2.confirmed, Amount::ZERO);
    // Fees are known: the previous outputs were fetched.
    let wallet_tx = w2.bdk().get_tx(txid).expect("w2 knows it").tx_node.tx;
    assert_eq!(w2.bdk().calculate_fee(&wallet_tx).expect("fee"), fee);

    // Confirmed in block 102.
    dev.mine(1, &burn());
    let block_102 = dev.node().tip_hash();
    assert_eq!(
        source.tx_status(&txid, &a2).expect("status"),
        TxStatus::Confirmed {
            block: bdk_wallet::chain::BlockId {
                height: 102,
                hash: block_102
            }
        }
    );
    w1.sync(&mut source).await.expect("sync w1");
    w2.sync(&mut source).await.expect("sync w2");
    assert!(is_confirmed(&w1, txid));
    assert_eq!(w1.balance().confirmed, mature(101, 102) - ten - fee);
    assert_eq!(w1.balance().immature, subsidy() * 98);
    assert_eq!(w2.balance().confirmed, ten);

    // Reorg: block 102 is replaced by two empty blocks; the send goes back to the mempool.
    dev.node().reorg(1, 2, &burn()).expect("reorg");
    assert!(dev.node().mempool().contains(&txid));
    w1.sync(&mut source).await.expect("sync w1 after reorg");
    w2.sync(&mut source).await.expect("sync w2 after reorg");
    assert_eq!(w1.tip().height, 103);
    assert_eq!(w1.tip().hash, dev.node().tip_hash());
    assert!(!is_confirmed(&w1, txid), "rolled back to unconfirmed");
    assert!(!is_confirmed(&w2, txid));
    assert_eq!(w2.balance().confirmed, Amount::ZERO);
    assert_eq!(w2.balance().untrusted_pending, ten);
    assert_eq!(w1.balance().confirmed, mature(101, 103) - spent);
    assert_eq!(w1.balance().trusted_pending, spent - ten - fee);
    assert_eq!(
        source.tx_status(&txid, &a2).expect("status"),
        TxStatus::InMempool
    );

    // And forward: mined again in block 104.
    dev.mine(1, &burn());
    w1.sync(&mut source).await.expect("sync w1");
    w2.sync(&mut source).await.expect("sync w2");
    assert!(is_confirmed(&w1, txid));
    assert!(is_confirmed(&w2, txid));
    assert_eq!(w2.balance().confirmed, ten);
    assert_eq!(w1.balance().confirmed, mature(101, 104) - ten - fee);
    let status = source.tx_status(&txid, &a2).expect("status");
    assert_eq!(status.confirmations(104), 1);
    assert_eq!(
        status,
        TxStatus::Confirmed {
            block: bdk_wallet::chain::BlockId {
                height: 104,
                hash: dev.node().tip_hash()
            }
        }
    );

    // Unknown transaction; the fee estimate; the tip.
    let unknown = Txid::from_byte_array([9; 32]);
    assert_eq!(
        source.tx_status(&unknown, &a2).expect("status"),
        TxStatus::NotFound
    );
    assert_eq!(
        source.estimate_fee_rate(6).expect("estimate"),
        Some(FeeRate::from_sat_per_vb(10).expect("fee rate"))
    );
    assert_eq!(source.tip().expect("tip"), w1.tip());

    // A reloaded wallet syncs to the same state (a new source does one full scan again).
    drop(w2);
    let mut w2 = wallet(&store, "w2", 2).await;
    let mut fresh = dev.electrum(&server);
    w2.sync(&mut fresh).await.expect("sync reloaded w2");
    assert_eq!(w2.balance().confirmed, ten);
}

#[tokio::test]
async fn first_sync_is_a_full_scan_that_finds_unrevealed_addresses() {
    let dev = Devnet::start();
    let server = dev.start_electrum();
    let mut source = dev.electrum(&server);
    let store = dev.store().await;
    let mut w = wallet(&store, "restored", 4).await;
    // Another copy of the seed used receive index 7 and change index 3.
    let used = w.bdk().peek_address(KeychainKind::External, 7).address;
    let change = w.bdk().peek_address(KeychainKind::Internal, 3).address;
    dev.mine(1, &used.script_pubkey());
    dev.mine(1, &change.script_pubkey());
    assert!(w.revealed_addresses().is_empty());
    w.sync(&mut source).await.expect("sync");
    assert_eq!(w.balance().immature, subsidy() * 2);
    assert_eq!(w.revealed_addresses().len(), 8, "indices 0..=7 revealed");
    assert_eq!(w.bdk().derivation_index(KeychainKind::Internal), Some(3));

    // Later syncs follow the revealed scripts.
    dev.mine(1, &used.script_pubkey());
    w.sync(&mut source).await.expect("sync");
    assert_eq!(w.balance().immature, subsidy() * 3);
}

#[tokio::test]
async fn double_spend_is_rejected_with_the_core_reason() {
    let dev = Devnet::start();
    let server = dev.start_electrum();
    let mut source = dev.electrum(&server);
    let store = dev.store().await;
    let mut w1 = wallet(&store, "w1", 1).await;
    let mut w2 = wallet(&store, "w2", 2).await;
    // A single mature coinbase: both sends must spend it.
    let a1 = w1.new_address().await.expect("address");
    dev.mine(100, &a1.script_pubkey());
    w1.sync(&mut source).await.expect("sync");
    assert_eq!(w1.balance().confirmed, subsidy());
    let (first, _) = send(&mut w1, &mut w2, Amount::from_sat(COIN)).await;
    let (second, _) = send(&mut w1, &mut w2, Amount::from_sat(2 * COIN)).await;
    assert_eq!(
        first.input[0].previous_output,
        second.input[0].previous_output
    );

    let txid = source.broadcast(&first).expect("broadcast");
    assert_eq!(
        source.broadcast(&first).expect("again"),
        txid,
        "already known is fine"
    );
    let err = source.broadcast(&second).expect_err("conflict");
    assert_eq!(err.reject_reason(), Some("txn-mempool-conflict"));

    dev.mine(1, &burn());
    let err = source.broadcast(&second).expect_err("double spend");
    match &err {
        SourceError::Rejected { reason } => {
            assert!(
                reason.contains("bad-txns-inputs-missingorspent"),
                "{reason}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.to_string().contains("already spent"), "{err}");
    assert_eq!(
        source.broadcast(&first).expect("confirmed is fine"),
        txid,
        "an already-confirmed transaction counts as broadcast"
    );
}

#[tokio::test]
async fn a_dead_server_is_unreachable() {
    let dev = Devnet::start();
    let server = dev.start_electrum();
    let url = server.url();
    let mut source = dev.electrum(&server);
    let store = dev.store().await;
    let mut w = wallet(&store, "w", 1).await;
    let a = w.new_address().await.expect("address");
    dev.mine(101, &a.script_pubkey());
    w.sync(&mut source).await.expect("sync");
    let tip = w.tip();
    let balance = w.balance();

    // The server stops under a connected source.
    server.shutdown();
    let started = Instant::now();
    match w.sync(&mut source).await {
        Err(WalletError::Source(SourceError::Unreachable { source_name, .. })) => {
            assert!(source_name.contains(&url), "{source_name}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert_eq!(w.tip(), tip, "the wallet is unchanged");
    assert_eq!(w.balance(), balance);
    // Reconnecting is refused too, for every call.
    assert!(matches!(source.tip(), Err(SourceError::Unreachable { .. })));
    let tx = {
        let node = dev.node();
        node.get_tx(&node.block_txids(1).expect("block")[0])
            .expect("coinbase")
            .0
    };
    assert!(matches!(
        source.broadcast(&tx),
        Err(SourceError::Unreachable { .. })
    ));
    assert!(matches!(
        source.estimate_fee_rate(2),
        Err(SourceError::Unreachable { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no waiting for the timeout: {:?}",
        started.elapsed()
    );

    // A port nobody listens on, from the start.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut nobody =
        ElectrumSource::new(&format!("tcp://127.0.0.1:{port}"), Duration::from_secs(2))
            .expect("source");
    let err = nobody.tip().expect_err("nobody listens");
    assert!(matches!(err, SourceError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[test]
fn bad_urls_are_refused_up_front() {
    let timeout = Duration::from_secs(1);
    for url in [
        "ssl://127.0.0.1",
        "ssl://:50002",
        "127.0.0.1",
        "tcp://:50001",
        "http://host:1/x",
    ] {
        assert!(
            matches!(
                ElectrumSource::new(url, timeout),
                Err(SourceError::Failed { .. })
            ),
            "{url}"
        );
    }
    assert!(ElectrumSource::new("tcp://127.0.0.1:50001", Duration::ZERO).is_err());
    let source = ElectrumSource::new("127.0.0.1:50001", timeout).expect("plain host:port");
    assert_eq!(source.name(), "electrum server at 127.0.0.1:50001");
}
