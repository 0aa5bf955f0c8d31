//! Bitcoin-side benchmarks on the devnet node, printed as JSON lines:
//! - `devnet_mining`: blocks mined and validated by libbitcoinkernel per second, empty and
//!   with 100 transactions each;
//! - `wallet_full_sync`: a fresh wallet's full sync, through the devnet's bitcoind JSON-RPC
//!   server, of a chain holding 1,000 transactions that pay it;
//! - `watch_latency`: from a broadcast / a mined block to the watcher's event (polling every
//!   200 ms), median and worst of 10.
//!
//! Run with `cargo bench -p confiaro-bitcoin --bench chain`.

use std::time::{Duration, Instant};

use bitcoin::{Amount, OutPoint, Transaction, TxOut};
use confiaro_bitcoin::watch::{WatchEvent, Watcher, DEFAULT_POLL_INTERVAL};
use confiaro_bitcoin::ChainSource;
use confiaro_devnet::testkit::TestKey;
use confiaro_testkit::btc::{burn, wallet, Devnet};

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dev = Devnet::start();
    let key = TestKey::new(1);

    // Mining speed, empty blocks (coinbase maturity for the funds below comes with it).
    let blocks = 300u32;
    let started = Instant::now();
    dev.mine(blocks, &key.p2wpkh());
    let empty = started.elapsed().as_secs_f64();

    // 1,000 payments to the wallet: one fan-out of 1,000 outputs, then 1,000 spends paying
    // 20 of the wallet's addresses in turn, mined 100 per block.
    let store = dev.store().await;
    let mut wallet = wallet(&store, "bench", 9).await;
    let mut addresses = Vec::new();
    for _ in 0..20 {
        addresses.push(wallet.new_address().await.expect("address").script_pubkey());
    }
    let coinbase_txid = dev.node().block_txids(1).expect("block 1")[0];
    let coinbase_value = Amount::from_int_btc(50);
    let count = 1_000usize;
    let each = Amount::from_sat(4_000_000);
    let fee = Amount::from_sat(2_000);
    let change = coinbase_value - each * count as u64 - Amount::from_sat(50_000);
    let mut outputs: Vec<TxOut> = (0..count)
        .map(|_| TxOut {
            value: each,
            script_pubkey: key.p2wpkh(),
        })
        .collect();
    outputs.push(TxOut {
        value: change,
        script_pubkey: key.p2wpkh(),
    });
    let fan_out = key.spend(OutPoint::new(coinbase_txid, 0), coinbase_value, outputs);
    let fan_txid = dev.node().submit(fan_out).expect("fan-out");
    dev.mine_empty(1);
    let payments: Vec<Transaction> = (0..count)
        .map(|i| {
            key.spend(
                OutPoint::new(fan_txid, i as u32),
                each,
                vec![TxOut {
                    value: each - fee,
                    script_pubkey: addresses[i % addresses.len()].clone(),
                }],
            )
        })
        .collect();
    let mut full_block_seconds = 0.0;
    for chunk in payments.chunks(100) {
        for tx in chunk {
            dev.node().submit(tx.clone()).expect("payment");
        }
        let started = Instant::now();
        dev.mine_empty(1);
        full_block_seconds += started.elapsed().as_secs_f64();
    }
    let full_blocks = count.div_ceil(100);
    println!(
        "{{\"bench\":\"devnet_mining\",\"empty_blocks\":{blocks},\"empty_blocks_per_second\":{:.1},\"blocks_with_100_txs\":{full_blocks},\"full_blocks_per_second\":{:.1}}}",
        f64::from(blocks) / empty,
        full_blocks as f64 / full_block_seconds
    );

    // The wallet's full sync from genesis through bitcoind RPC.
    let mut source = dev.bitcoind();
    let started = Instant::now();
    let report = wallet.sync(&mut source).await.expect("sync");
    let seconds = started.elapsed().as_secs_f64();
    let txs = wallet.bdk().transactions().count();
    assert_eq!(txs, count);
    assert_eq!(wallet.balance().confirmed, (each - fee) * count as u64);
    println!(
        "{{\"bench\":\"wallet_full_sync\",\"source\":\"bitcoind-rpc\",\"blocks\":{},\"wallet_txs\":{txs},\"seconds\":{seconds:.3},\"blocks_per_second\":{:.0}}}",
        report.blocks_applied,
        report.blocks_applied as f64 / seconds
    );

    // Watch latency.
    let watcher = Watcher::spawn(Box::new(dev.bitcoind()), DEFAULT_POLL_INTERVAL).expect("watcher");
    while watcher.next_event(Duration::from_millis(300)).is_some() {}
    let mut to_mempool = Vec::new();
    let mut to_confirmed = Vec::new();
    let change_outpoint = OutPoint::new(fan_txid, count as u32);
    let mut spendable = (change_outpoint, change);
    for _ in 0..10 {
        let tx = key.spend(
            spendable.0,
            spendable.1,
            vec![TxOut {
                value: spendable.1 - fee,
                script_pubkey: key.p2wpkh(),
            }],
        );
        let txid = tx.compute_txid();
        spendable = (OutPoint::new(txid, 0), spendable.1 - fee);
        watcher.add(txid, key.p2wpkh());
        // Let the add land and its first (NotFound) poll pass.
        std::thread::sleep(Duration::from_millis(250));
        let started = Instant::now();
        source.broadcast(&tx).expect("broadcast");
        wait_for(
            &watcher,
            |e| matches!(e, WatchEvent::InMempool(t) if *t == txid),
        );
        to_mempool.push(started.elapsed());
        let started = Instant::now();
        dev.mine(1, &burn());
        wait_for(
            &watcher,
            |e| matches!(e, WatchEvent::Confirmed { txid: t, .. } if *t == txid),
        );
        to_confirmed.push(started.elapsed());
        watcher.remove(txid);
    }
    let stats = |mut v: Vec<Duration>| {
        v.sort();
        (
            v[v.len() / 2].as_secs_f64() * 1000.0,
            v[v.len() - 1].as_secs_f64() * 1000.0,
        )
    };
    let (m_med, m_max) = stats(to_mempool);
    let (c_med, c_max) = stats(to_confirmed);
    println!(
        "{{\"bench\":\"watch_latency\",\"poll_ms\":{},\"mempool_ms_median\":{m_med:.0},\"mempool_ms_max\":{m_max:.0},\"confirmed_ms_median\":{c_med:.0},\"confirmed_ms_max\":{c_max:.0}}}",
        DEFAULT_POLL_INTERVAL.as_millis()
    );
}

fn wait_for(watcher: &Watcher, want: impl Fn(&WatchEvent) -> bool) {
    loop {
        let event = watcher
            .next_event(Duration::from_secs(10))
            .expect("watcher event within 10 s");
        if want(&event) {
            return;
        }
    }
}
