//! Quote throughput of one maker: 50 libp2p peers (in this process, each its own identity and
//! connection) ask a `confiaro maker run` process for 1,000 quotes in all, 20 each, over
//! loopback. Prints one JSON line: throughput, latency percentiles (p50, p99, max), and the
//! maker's resident memory with the 50 peers connected (and its peak).
//!
//! `cargo bench -p confiaro-cli --features devnet --bench quotes` (under a minute after the devnet is up).

use std::time::{Duration, Instant};

use confiaro_p2p::{IdentitySecret, Multiaddr, Network, NetworkConfig, SwapProtocol};
use confiaro_protocol::quote::{decode_reply, QuoteRequest};
use confiaro_testkit::e2e::*;

const PEERS: usize = 50;
const REQUESTS_PER_PEER: usize = 20;

/// A line of /proc/PID/status in MiB (`VmRSS`, `VmHWM`).
fn memory_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    if let Some(filter) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        if !"quote_throughput".contains(&filter) {
            return;
        }
    }
    let devnet = Devnet::shared(env!("CARGO_BIN_EXE_confiaro"));
    let maker_party = devnet.funded_maker("quote-bench-maker", 2);
    let (mut maker, address) = maker_party.start_maker(&[]);
    let maker_address: Multiaddr = address.parse().expect("the maker's multiaddr");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (latencies, wall, connected_rss) = runtime.block_on(async {
        // 50 peers, each connected before the clock starts
        let mut peers = Vec::new();
        for i in 0..PEERS {
            let mut secret = [0u8; 32];
            secret[0] = 1;
            secret[1] = i as u8;
            secret[31] = 0x42;
            let mut config = NetworkConfig::new(IdentitySecret::from_bytes(secret));
            config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
            let (network, events) = Network::start(config).await.expect("a peer starts");
            let maker = network
                .dial(maker_address.clone())
                .await
                .expect("the maker answers the dial");
            peers.push((network, events, maker));
        }
        let request = QuoteRequest {
            network: confiaro_protocol::Network::Regtest,
        }
        .encode();
        // the maker quotes once it knows its free XMR (the funding unlocks after 10 blocks)
        let warm_up = Instant::now();
        let (probe, _, maker_id) = &peers[0];
        while probe
            .send(*maker_id, SwapProtocol::Quote, request.clone())
            .await
            .is_err()
        {
            assert!(
                warm_up.elapsed() < Duration::from_secs(120),
                "the maker never quoted"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let connected_rss = memory_mib(maker.pid(), "VmRSS:");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (network, _events, maker) in &peers {
            let (network, maker, request) = (network.clone(), *maker, request.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(REQUESTS_PER_PEER);
                for _ in 0..REQUESTS_PER_PEER {
                    let sent = Instant::now();
                    let answer = network
                        .send(maker, SwapProtocol::Quote, request.clone())
                        .await
                        .expect("the maker answers")
                        .expect("with a quote");
                    decode_reply(&answer).expect("a valid quote");
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("a peer task"));
        }
        let wall = started.elapsed();
        for (network, _, _) in peers {
            network.shutdown().await;
        }
        (latencies, wall, connected_rss)
    });
    let peak = memory_mib(maker.pid(), "VmHWM:");
    maker.terminate();
    let mut sorted = latencies;
    sorted.sort();
    let requests = sorted.len();
    println!(
        "{}",
        serde_json::json!({
            "bench": "quote_throughput",
            "peers": PEERS,
            "requests": requests,
            "wall_s": wall.as_secs_f64(),
            "quotes_per_s": requests as f64 / wall.as_secs_f64(),
            "p50_ms": percentile(&sorted, 0.50),
            "p99_ms": percentile(&sorted, 0.99),
            "max_ms": percentile(&sorted, 1.0),
            "maker_rss_mib_with_peers_connected": connected_rss,
            "maker_peak_rss_mib": peak,
        })
    );
}
