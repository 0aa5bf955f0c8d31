//! The watcher on each chain source (bitcoind RPC, Electrum, Esplora) against the devnet's
//! real servers: new tips, and a watched transaction entering the mempool, confirming,
//! returning to the mempool after a reorg, and vanishing when evicted.

use std::time::{Duration, Instant};

use bitcoin::{Amount, FeeRate};
use confiaro_bitcoin::watch::{WatchEvent, Watcher, DEFAULT_POLL_INTERVAL};
use confiaro_bitcoin::ChainSource;
use confiaro_testkit::btc::{burn, wallet, Devnet};

async fn watch_scenario(dev: &Devnet, source_for_watcher: Box<dyn ChainSource>, label: &str) {
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut a = wallet(&store, "a", 1).await;
    let to_a = a.new_address().await.expect("address");
    dev.mine(101, &to_a.script_pubkey());
    a.sync(&mut source).await.expect("sync");
    let watcher = Watcher::spawn(source_for_watcher, DEFAULT_POLL_INTERVAL).expect("watcher");
    let next = |what: &str| {
        let started = Instant::now();
        let event = watcher
            .next_event(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{label}: no event for {what}"));
        println!("{label} {what}: {event:?} after {:?}", started.elapsed());
        event
    };
    assert!(matches!(next("start"), WatchEvent::NewTip(t) if t.height == 101));

    let psbt = a
        .build_send(
            &to_a,
            Amount::from_int_btc(1),
            FeeRate::from_sat_per_vb_u32(2),
        )
        .await
        .expect("send");
    let tx = a.sign_and_extract(psbt).expect("sign");
    let txid = tx.compute_txid();
    watcher.add(txid, to_a.script_pubkey());
    source.broadcast(&tx).expect("broadcast");
    assert_eq!(next("broadcast"), WatchEvent::InMempool(txid));

    dev.mine_empty(1);
    let tip = dev.node().tip_hash();
    assert!(matches!(next("mined"), WatchEvent::NewTip(t) if t.hash == tip));
    assert!(
        matches!(next("mined"), WatchEvent::Confirmed { txid: t, block } if t == txid && block.hash == tip)
    );

    dev.node().reorg(1, 2, &burn()).expect("reorg");
    assert!(matches!(next("reorg"), WatchEvent::NewTip(t) if t.height == 103));
    assert_eq!(next("reorg"), WatchEvent::InMempool(txid));

    dev.node().evict(&txid);
    assert_eq!(next("evicted"), WatchEvent::Vanished(txid));
}

#[tokio::test]
async fn watcher_on_bitcoind() {
    let dev = Devnet::start();
    watch_scenario(&dev, Box::new(dev.bitcoind()), "bitcoind").await;
}

#[tokio::test]
async fn watcher_on_electrum() {
    let dev = Devnet::start();
    let server = dev.start_electrum();
    watch_scenario(&dev, Box::new(dev.electrum(&server)), "electrum").await;
}

#[tokio::test]
async fn watcher_on_esplora() {
    let dev = Devnet::start();
    let server = dev.start_esplora();
    watch_scenario(&dev, Box::new(dev.esplora(&server)), "esplora").await;
}

#[tokio::test]
async fn watcher_reports_a_dead_source_once_and_its_recovery() {
    let dev = Devnet::start();
    let server = dev.start_esplora();
    let port = server.local_addr().port();
    let watcher =
        Watcher::spawn(Box::new(dev.esplora(&server)), DEFAULT_POLL_INTERVAL).expect("watcher");
    assert!(matches!(
        watcher.next_event(Duration::from_secs(10)),
        Some(WatchEvent::NewTip(_))
    ));
    server.shutdown();
    let failed = watcher
        .next_event(Duration::from_secs(10))
        .expect("failure event");
    assert!(matches!(failed, WatchEvent::SourceFailed(_)), "{failed:?}");
    println!("dead source: {failed:?}");
    // Reported once per failure streak, not every poll.
    assert_eq!(watcher.next_event(Duration::from_millis(800)), None);
    // The same port again: the watcher's source reconnects.
    let _again =
        confiaro_devnet::esplora::EsploraServer::start(dev.node.clone(), port).expect("restart");
    assert_eq!(
        watcher.next_event(Duration::from_secs(10)),
        Some(WatchEvent::SourceRecovered)
    );
}
