//! The deterministic simulation: thousands of seeded schedules of whole swaps, each checked
//! for atomicity, safety of honest parties, termination and determinism.
//!
//! `SIM_SCHEDULES=<n>` sets the number of schedules (default 10,000); `SIM_SEED=<seed>` replays
//! one schedule and prints its report.

use confiaro_testkit::sim::{self, Outcome, Report};
use std::collections::BTreeMap;

fn replay_hint(seed: u64) -> String {
    format!("SIM_SEED={seed} cargo test -p confiaro-protocol --release --test simulation -- --nocapture")
}

#[test]
fn ten_thousand_seeded_schedules_keep_every_swap_atomic() {
    if let Ok(seed) = std::env::var("SIM_SEED") {
        let seed: u64 = seed.parse().expect("SIM_SEED is a number");
        let report = sim::run(seed);
        println!("{report:#?}");
        assert!(
            report.violations.is_empty(),
            "seed {seed} violates: {:?}",
            report.violations
        );
        return;
    }
    let schedules: u64 = std::env::var("SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let started = std::time::Instant::now();
    sim::pool();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2) as u64;
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (0..schedules)
                        .filter(|s| s % threads == t)
                        .map(sim::run)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Report> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect();
        all.sort_by_key(|r| r.seed);
        all
    });
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    for name in ["swapped", "refunded", "punished", "aborted"] {
        outcomes.insert(name, 0);
    }
    let mut failures = Vec::new();
    for report in &reports {
        let name = match report.outcome {
            Some(Outcome::Swapped) => "swapped",
            Some(Outcome::Refunded) => "refunded",
            Some(Outcome::Punished) => "punished",
            Some(Outcome::Aborted) => "aborted",
            None => "unfinished",
        };
        *outcomes.entry(name).or_default() += 1;
        if !report.violations.is_empty() {
            failures.push(report);
        }
    }
    // determinism: the same seed gives the same trace
    for seed in (0..schedules).step_by((schedules as usize / 20).max(1)) {
        let again = sim::run(seed);
        let first = &reports[seed as usize];
        assert_eq!(
            again.trace_hash,
            first.trace_hash,
            "seed {seed} is not deterministic; replay: {}",
            replay_hint(seed)
        );
    }
    let total_violations: usize = reports.iter().map(|r| r.violations.len()).sum();
    for report in failures.iter().take(5) {
        println!(
            "seed {} violates: {:?}\n  replay: {}",
            report.seed,
            report.violations,
            replay_hint(report.seed)
        );
    }
    let crashes: u64 = reports.iter().map(|r| u64::from(r.crashes)).sum();
    let reorgs: u64 = reports.iter().map(|r| u64::from(r.reorgs)).sum();
    let dropped: u64 = reports.iter().map(|r| u64::from(r.messages_dropped)).sum();
    println!(
        "simulation: {} schedules in {:.1?} ({} crashes, {} reorgs, {} messages dropped)",
        reports.len(),
        started.elapsed(),
        crashes,
        reorgs,
        dropped
    );
    let mut paths: BTreeMap<&str, u64> = BTreeMap::new();
    for report in &reports {
        *paths.entry(report.path).or_default() += 1;
    }
    println!("simulation: paths {paths:?}");
    if schedules >= 1_000 {
        for path in [
            "redeem",
            "cancel-refund",
            "cancel-punish",
            "early-refund",
            "wrong-xmr-amount-refund",
            "aborted-before-lock",
            "aborted-in-setup",
        ] {
            assert!(
                paths.get(path).copied().unwrap_or(0) > 0,
                "no schedule took the {path} path"
            );
        }
    }
    let kinds = outcomes.values().filter(|n| **n > 0).count();
    let list: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!(
        "simulation: {} schedules, {} outcomes {{{}}}, {} violations",
        reports.len(),
        kinds,
        list.join(", "),
        total_violations
    );
    assert!(
        failures.is_empty(),
        "{} schedules violate safety; first seed {}",
        failures.len(),
        failures[0].seed
    );
}
