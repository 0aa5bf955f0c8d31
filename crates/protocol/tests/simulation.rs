//! The deterministic simulation: thousands of seeded schedules of whole swaps, each checked
//! for atomicity, safety of honest parties, termination and determinism; then as many with
//! one party an attacker (`confiaro_testkit::sim::adversary`), checked for the victim.
//!
//! `SIM_SCHEDULES=<n>` sets the number of schedules of each kind (default 10,000);
//! `SIM_SEED=<seed>` replays one honest schedule, `ADVERSARIAL_SEED=<seed>` one adversarial
//! schedule, and prints its report.

use confiaro_protocol::Direction;
use confiaro_testkit::sim::{self, Outcome, Report};
use std::collections::BTreeMap;

fn replay_hint(seed: u64) -> String {
    format!("SIM_SEED={seed} cargo test -p confiaro-protocol --release --test simulation -- --nocapture")
}

fn adversarial_replay_hint(seed: u64) -> String {
    format!("ADVERSARIAL_SEED={seed} cargo test -p confiaro-protocol --release --test simulation adversarial -- --nocapture")
}

/// With `variable` set to a seed: runs that one schedule, prints its report, and asserts it
/// has no violation. Returns whether it did.
fn replayed_one(variable: &str, run: fn(u64) -> Report) -> bool {
    let Ok(seed) = std::env::var(variable) else {
        return false;
    };
    let seed: u64 = seed
        .parse()
        .unwrap_or_else(|_| panic!("{variable} is a number"));
    let report = run(seed);
    println!("{report:#?}");
    assert!(
        report.violations.is_empty(),
        "seed {seed} violates: {:?}",
        report.violations
    );
    true
}

fn schedules() -> u64 {
    std::env::var("SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// Runs `run` on seeds `0..schedules` on every core; reports sorted by seed.
fn run_all(schedules: u64, run: fn(u64) -> Report) -> Vec<Report> {
    sim::pool();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2) as u64;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (0..schedules)
                        .filter(|s| s % threads == t)
                        .map(run)
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
    })
}

#[test]
fn ten_thousand_seeded_schedules_keep_every_swap_atomic() {
    if replayed_one("SIM_SEED", sim::run) {
        return;
    }
    let schedules = schedules();
    let started = std::time::Instant::now();
    let reports = run_all(schedules, sim::run);
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
    let mut paths: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for report in &reports {
        *paths
            .entry((report.direction.name(), report.path))
            .or_default() += 1;
    }
    println!("simulation: paths by direction {paths:?}");
    if schedules >= 1_000 {
        // both directions, every path: a taker buying XMR (Bob) and a taker selling it
        // (Alice, whose request makes the maker open as Bob)
        for (direction, path) in Direction::ALL.into_iter().flat_map(|d| {
            [
                "redeem",
                "cancel-refund",
                "cancel-punish",
                "early-refund",
                "wrong-xmr-amount-refund",
                "aborted-before-lock",
                "aborted-in-setup",
            ]
            .map(|p| (d.name(), p))
        }) {
            assert!(
                paths.get(&(direction, path)).copied().unwrap_or(0) > 0,
                "no {direction} schedule took the {path} path"
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

#[test]
fn ten_thousand_adversarial_schedules_never_cost_the_victim() {
    if replayed_one("ADVERSARIAL_SEED", sim::run_adversarial) {
        return;
    }
    let schedules = schedules();
    let started = std::time::Instant::now();
    let reports = run_all(schedules, sim::run_adversarial);
    for seed in (0..schedules).step_by((schedules as usize / 20).max(1)) {
        assert_eq!(
            sim::run_adversarial(seed).trace_hash,
            reports[seed as usize].trace_hash,
            "adversarial seed {seed} is not deterministic; replay: {}",
            adversarial_replay_hint(seed)
        );
    }
    let mut by_strategy: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for report in &reports {
        let strategy = report.strategy.expect("adversarial");
        let entry = by_strategy
            .entry(format!("{strategy:?}/{}", report.direction.name()))
            .or_default();
        entry.0 += 1;
        entry.1 += report.violations.len() as u64;
        *outcomes.entry(format!("{:?}", report.outcome)).or_default() += 1;
    }
    let failures: Vec<&Report> = reports
        .iter()
        .filter(|r| !r.violations.is_empty())
        .collect();
    for report in failures.iter().take(5) {
        println!(
            "adversarial seed {} ({:?}) violates: {:?}\n  replay: {}",
            report.seed,
            report.strategy,
            report.violations,
            adversarial_replay_hint(report.seed)
        );
    }
    println!(
        "adversarial simulation: {} schedules in {:.1?}; per strategy (schedules, violations): {by_strategy:?}; outcomes {outcomes:?}",
        reports.len(),
        started.elapsed()
    );
    if schedules >= 100 {
        assert_eq!(
            by_strategy.len(),
            sim::STRATEGIES.len() * 2,
            "every strategy plays against both directions"
        );
    }
    let total: usize = reports.iter().map(|r| r.violations.len()).sum();
    println!(
        "adversarial simulation: {} schedules, {} strategies, {} violations",
        reports.len(),
        sim::STRATEGIES.len(),
        total
    );
    assert!(
        failures.is_empty(),
        "{} adversarial schedules cost the victim; first seed {}",
        failures.len(),
        failures[0].seed
    );
}
