//! End-to-end swap benchmarks on the devnet, with `confiaro` processes; prints JSON lines.
//!
//! - `swap_happy_path`: one BTC→XMR swap between a maker and a taker process, with blocks mined
//!   the moment a party waits for a confirmation (no timer). Reports the wall time, the time
//!   during which some party waited for confirmations (mining included), and the rest — the
//!   engine's own time: setup, proofs, messages, polling, wallet work.
//! - `ten_concurrent_swaps`: ten taker processes against one maker, blocks on the tests' timer (4 s
//!   BTC, 400 ms XMR); wall time and the maker's peak memory (engine process, and its
//!   monero-wallet-rpc).
//!
//! `cargo bench -p confiaro-cli --features devnet --bench swaps` (about five minutes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confiaro_testkit::e2e::*;
use serde_json::Value;

/// A party's latest progress: how many progress events it has sent, and what it waits for
/// (chain, missing confirmations) if it waits for confirmations.
#[derive(Default)]
struct Latest {
    events: u64,
    wait: Option<(String, u64)>,
}

/// Each party's latest progress.
type Waits = Arc<Mutex<HashMap<String, Latest>>>;

fn observer(name: &str, waits: &Waits) -> Observer {
    let name = name.to_owned();
    let waits = Arc::clone(waits);
    Arc::new(move |v: &Value| {
        if v["kind"] != "progress" {
            return;
        }
        let waiting = &v["progress"]["waiting"];
        let wait = (waiting["for"] == "confirmations").then(|| {
            let need = waiting["need"].as_u64().unwrap_or(0);
            let have = waiting["have"].as_u64().unwrap_or(0);
            (
                waiting["chain"].as_str().unwrap_or_default().to_owned(),
                need.saturating_sub(have),
            )
        });
        let mut waits = waits.lock().unwrap();
        let latest = waits.entry(name.clone()).or_default();
        latest.events += 1;
        latest.wait = wait;
    })
}

/// Peak resident memory of a process in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The pid of the monero-wallet-rpc whose wallet dir is under `dir`.
fn wallet_rpc_pid(dir: &std::path::Path) -> Option<u32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            (cmdline.contains("monero-wallet-rpc") && cmdline.contains(&needle)).then_some(pid)
        })
}

fn happy_path() {
    let devnet = Devnet::shared_with(env!("CARGO_BIN_EXE_confiaro"), None);
    let alice = devnet.funded_maker("alice-bench", 1);
    let bob = devnet.funded_taker("bob-bench");
    let waits: Waits = Arc::default();
    let maker = alice.spawn_observed(
        &[
            "maker", "run", "--price", PRICE, "--min", "0.001", "--max", "0.1",
        ],
        observer("alice", &waits),
    );
    let ready = maker.wait_for("ready", Duration::from_secs(120), |v| v["ready"] == true);
    let address = ready["addresses"][0].as_str().unwrap().to_owned();
    let started = Instant::now();
    let taker = bob.spawn_observed(
        &["swap", "buy-xmr", "--btc", "0.01", "--maker", &address],
        observer("bob", &waits),
    );
    let (mut waiting, mut btc_blocks, mut xmr_blocks) = (Duration::ZERO, 0u64, 0u64);
    // the progress event each party's blocks were last mined for, and when: blocks are mined
    // once per new wait (mining on a stale one would rush a party past its timelocks), again
    // only if the party has not reported the blocks after a while
    let mut served: HashMap<String, (u64, Instant)> = HashMap::new();
    let deadline = started + Duration::from_secs(600);
    let mut tick = Instant::now();
    while !taker
        .seen()
        .iter()
        .chain(maker.seen().iter())
        .filter(|v| v["event"] == "swap" && v["kind"] == "finished")
        .count()
        .eq(&2)
    {
        assert!(Instant::now() < deadline, "the swap did not finish");
        let (mut btc, mut xmr, mut anyone_waits) = (0u64, 0u64, false);
        for (party, latest) in waits.lock().unwrap().iter() {
            let Some((chain, missing)) = &latest.wait else {
                continue;
            };
            anyone_waits = true;
            let due = match served.get(party) {
                Some((events, at)) => {
                    *events < latest.events || at.elapsed() > Duration::from_secs(3)
                }
                None => true,
            };
            if !due {
                continue;
            }
            served.insert(party.clone(), (latest.events, Instant::now()));
            match chain.as_str() {
                "bitcoin" => btc = btc.max(*missing),
                _ => xmr = xmr.max(*missing),
            }
        }
        if btc + xmr > 0 {
            devnet.mine(btc as u32, xmr);
            btc_blocks += btc;
            xmr_blocks += xmr;
        }
        std::thread::sleep(Duration::from_millis(20));
        if anyone_waits {
            waiting += tick.elapsed();
        }
        tick = Instant::now();
    }
    let total = started.elapsed();
    let bob_end = taker.wait_for_finish(Duration::from_secs(5));
    let alice_end = maker.wait_for_finish(Duration::from_secs(5));
    assert!(
        bob_end.1 == "XmrRedeemed" && alice_end.1 == "BtcRedeemed",
        "the swap did not complete: Bob {bob_end:?}, Alice {alice_end:?}\nBob:\n{}\nAlice:\n{}",
        tail(&taker.stderr(), 40),
        tail(&maker.stderr(), 40)
    );
    drop(taker);
    drop(maker);
    println!(
        "{}",
        serde_json::json!({
            "bench": "swap_happy_path",
            "total_s": (total.as_secs_f64() * 100.0).round() / 100.0,
            "waiting_for_confirmations_s": (waiting.as_secs_f64() * 100.0).round() / 100.0,
            "engine_s": ((total - waiting.min(total)).as_secs_f64() * 100.0).round() / 100.0,
            "btc_blocks_mined": btc_blocks,
            "xmr_blocks_mined": xmr_blocks,
        })
    );
}

fn ten_concurrent() {
    let devnet = Devnet::shared_with(env!("CARGO_BIN_EXE_confiaro"), None);
    devnet.start_mining(BTC_BLOCK, XMR_BLOCK);
    let alice = devnet.funded_maker("alice-ten", 10);
    let takers: Vec<Party> = (0..10)
        .map(|i| devnet.funded_taker(&format!("bob-ten-{i}")))
        .collect();
    let (maker, address) = alice.start_maker(&[]);
    let started = Instant::now();
    let running: Vec<(Running, String)> = takers.iter().map(|t| t.buy(&address, &[])).collect();
    let mut completed = 0;
    for (taker, _) in &running {
        if taker.wait_for_finish(Duration::from_secs(900)).0 == "Completed" {
            completed += 1;
        }
    }
    let wall = started.elapsed();
    let engine_peak = peak_rss_mib(maker.pid());
    let wallet_peak = wallet_rpc_pid(alice.dir.path()).and_then(peak_rss_mib);
    drop(running);
    drop(maker);
    println!(
        "{}",
        serde_json::json!({
            "bench": "ten_concurrent_swaps",
            "swaps": 10,
            "completed": completed,
            "wall_s": (wall.as_secs_f64() * 10.0).round() / 10.0,
            "maker_peak_rss_mib": engine_peak.map(|m| (m * 10.0).round() / 10.0),
            "maker_wallet_rpc_peak_rss_mib": wallet_peak.map(|m| (m * 10.0).round() / 10.0),
        })
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass other flags: only run
    // when benchmarking
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // `cargo bench --bench swaps -- NAME` runs the benchmarks whose name contains NAME
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    if wanted("swap_happy_path") {
        happy_path();
    }
    if wanted("ten_concurrent_swaps") {
        ten_concurrent();
    }
}
