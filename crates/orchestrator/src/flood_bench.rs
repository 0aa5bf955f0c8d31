//! The setup-flood benchmark (issue 19): an attacker opens 1,000 bogus setups from 100
//! identities against a maker while an honest taker asks for quotes and sets up a swap; run
//! once with the maker's limits and once without. It prints one JSON line per run
//! (`FLOOD {...}`) and asserts only what must hold whatever the machine's speed: with the
//! limits, the attacker holds no more setups than the caps allow; without, it holds more.
//!
//! Run: `cargo test -p confiaro-orchestrator --release --lib flood_bench -- --ignored
//! --nocapture` (scripts/test.sh runs it). The maker is the whole intake on the test doubles
//! (real libp2p on loopback, real proof checks, a real SQLite store; an empty chain and a
//! fake wallet RPC holding 50 XMR), so "swap time" is the honest setup's time to be taken:
//! the part of a swap a flood can delay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::Amount;
use confiaro_p2p::{NetworkEvent, SwapProtocol};
use confiaro_protocol::messages::{Message, SwapTerms};
use confiaro_protocol::quote::{Price, QuoteRequest};
use confiaro_protocol::{Direction, Network, SwapId, XmrAmount};

use crate::intake::Intake;
use crate::maker::MakerSettings;
use crate::proofs::ProofLimits;
use crate::test_utils::{bob_with, loopback_peer, test_context};

const IDENTITIES: u8 = 100;
const SETUPS_PER_IDENTITY: u32 = 10;
const XMR: u64 = 1_000_000_000_000;

/// What one run measured.
#[derive(Debug, serde::Serialize)]
struct FloodReport {
    limits: bool,
    bogus_setups: u32,
    attacker_identities: u8,
    bogus_setups_taken: usize,
    bogus_setups_refused: u32,
    honest_quotes: usize,
    honest_quote_p50_ms: f64,
    honest_quote_p99_ms: f64,
    honest_setup_ms: f64,
    honest_setup: String,
    maker_free_xmr_before: u64,
    maker_free_xmr_after: u64,
    flood_wall_ms: f64,
    process_cpu_ms: f64,
}

/// User plus system CPU time of this process so far.
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass; nothing else is touched.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn run(limits: bool) -> FloodReport {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (cx, events) = test_context(dir.path(), XmrAmount::from_piconero(50 * XMR)).await;
    let proof_limits = if limits {
        ProofLimits::default()
    } else {
        ProofLimits {
            threads: 2,
            queue: 100_000,
            per_peer: u32::MAX,
        }
    };
    let intake = Arc::new(Intake::with_proof_limits(Arc::clone(&cx), proof_limits));
    cx.tasks.spawn(Arc::clone(&intake).run(events));
    let mut settings = MakerSettings::new(Amount::from_sat(10_000), Amount::from_sat(5_000_000));
    settings.quotes_per_minute = 10_000;
    if !limits {
        settings.max_open_setups = u32::MAX;
        settings.max_open_setups_per_peer = u32::MAX;
    }
    intake.start_maker(settings, Ok(Price(100 * XMR)));
    intake.refresh_free_xmr().await;
    let free_xmr = || {
        intake
            .with_desk(|d| d.status(Network::Regtest).free_piconero)
            .flatten()
            .unwrap_or(0)
    };
    let maker_free_xmr_before = free_xmr();
    let maker_address = cx.net.network.listen_addresses().await[0]
        .clone()
        .with_p2p(cx.net.network.local_peer_id())
        .expect("a peer address");
    let maker = cx.net.network.local_peer_id();

    // 1 XMR swaps at the quoted price; the attacker's setups are a few real ones, relabelled
    // (a setup's proof is not bound to its swap id: replaying one costs the attacker nothing)
    let terms = SwapTerms::new(
        Network::Regtest,
        Direction::BuyXmr,
        Amount::from_sat(1_000_000),
        XmrAmount::from_piconero(XMR),
    );
    let templates: Vec<Message> = (0..4u8)
        .map(|n| bob_with(terms, SwapId([0xB0 + n; 32])).1)
        .collect();
    let mut attackers = Vec::new();
    for n in 0..IDENTITIES {
        let (peer, mut events) = loopback_peer(100 + n).await;
        // the attacker never answers the maker's messages (its setups go nowhere)
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        peer.dial(maker_address.clone())
            .await
            .expect("an attacker connects");
        attackers.push(peer);
    }
    let (honest, mut honest_events) = loopback_peer(250).await;
    tokio::spawn(async move {
        while let Some(event) = honest_events.recv().await {
            if let NetworkEvent::InboundRequest(request) = event {
                let _ = request.responder.ack(None).await;
            }
        }
    });
    honest
        .dial(maker_address.clone())
        .await
        .expect("the taker connects");

    let cpu_before = process_cpu();
    let flood_started = Instant::now();
    let mut flood = Vec::new();
    for (n, attacker) in attackers.iter().enumerate() {
        for k in 0..SETUPS_PER_IDENTITY {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&(n as u32).to_le_bytes());
            id[4..8].copy_from_slice(&k.to_le_bytes());
            id[31] = 0xF1;
            let template = &templates[(n + k as usize) % templates.len()];
            let bytes = template.with_swap_id(SwapId(id)).encode();
            let attacker = attacker.clone();
            flood.push(tokio::spawn(async move {
                attacker.send(maker, SwapProtocol::SwapSetup, bytes).await
            }));
        }
    }
    // meanwhile the honest taker asks for quotes, then sets up its swap
    let quote_request = QuoteRequest {
        network: Network::Regtest,
    }
    .encode();
    let mut quote_times = Vec::new();
    for _ in 0..20 {
        let asked = Instant::now();
        let answer = honest
            .send(maker, SwapProtocol::Quote, quote_request.clone())
            .await;
        if answer.is_ok() {
            quote_times.push(asked.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let honest_setup = bob_with(terms, SwapId([0x77; 32])).1;
    let asked = Instant::now();
    let taken = honest
        .send(maker, SwapProtocol::SwapSetup, honest_setup.encode())
        .await;
    let honest_setup_ms = asked.elapsed().as_secs_f64() * 1000.0;
    let honest_setup = match taken {
        Ok(_) => "taken".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    // more quotes while the rest of the flood is handled
    for _ in 0..20 {
        let asked = Instant::now();
        if honest
            .send(maker, SwapProtocol::Quote, quote_request.clone())
            .await
            .is_ok()
        {
            quote_times.push(asked.elapsed());
        }
    }
    let mut bogus_setups_refused = 0;
    for task in flood {
        if task.await.expect("a send task").is_err() {
            bogus_setups_refused += 1;
        }
    }
    let flood_wall_ms = flood_started.elapsed().as_secs_f64() * 1000.0;
    let process_cpu_ms = (process_cpu() - cpu_before).as_secs_f64() * 1000.0;
    intake.refresh_free_xmr().await;
    let stored = cx.store.swaps(&cx.vault).await.expect("the swaps");
    let bogus_setups_taken = stored
        .iter()
        .filter(|s| s.swap_id != SwapId([0x77; 32]))
        .count();
    quote_times.sort();
    let report = FloodReport {
        limits,
        bogus_setups: u32::from(IDENTITIES) * SETUPS_PER_IDENTITY,
        attacker_identities: IDENTITIES,
        bogus_setups_taken,
        bogus_setups_refused,
        honest_quotes: quote_times.len(),
        honest_quote_p50_ms: percentile(&quote_times, 0.5),
        honest_quote_p99_ms: percentile(&quote_times, 0.99),
        honest_setup_ms,
        honest_setup,
        maker_free_xmr_before,
        maker_free_xmr_after: free_xmr(),
        flood_wall_ms,
        process_cpu_ms,
    };
    cx.shutdown.cancel();
    for attacker in attackers {
        attacker.shutdown().await;
    }
    honest.shutdown().await;
    cx.net.network.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/test.sh runs it and prints its numbers"]
async fn flood_bench() {
    let limited = run(true).await;
    println!(
        "FLOOD {}",
        serde_json::to_string(&limited).expect("a report")
    );
    let unlimited = run(false).await;
    println!(
        "FLOOD {}",
        serde_json::to_string(&unlimited).expect("a report")
    );
    let caps = MakerSettings::new(Amount::ZERO, Amount::ZERO);
    assert!(
        limited.bogus_setups_taken <= caps.max_open_setups as usize,
        "{limited:?}"
    );
    assert!(
        unlimited.bogus_setups_taken > limited.bogus_setups_taken,
        "without the limits the flood holds more: {unlimited:?}"
    );
}
