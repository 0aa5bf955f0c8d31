//! Whole-protocol benchmarks, printed as JSON lines:
//! - `setup_exchange`: one complete setup for both roles, from key derivation through both
//!   DLEQ proofs, every message encoded and decoded (verifying the proofs), to Bob ready to
//!   publish his lock and Alice holding all signatures;
//! - `simulation`: deterministic simulation schedules per second on one thread.
//!
//! Run with `cargo bench -p confiaro-protocol --bench swap`.

use confiaro_testkit::sim;
use std::time::Instant;

fn main() {
    // cargo bench passes `--bench`; a filter argument is ignored.
    let rounds = 5u8;
    let started = Instant::now();
    let mut messages = 0;
    for round in 0..rounds {
        messages = sim::setup_exchange(round).2;
    }
    let per_setup = started.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "{{\"bench\":\"setup_exchange\",\"rounds\":{rounds},\"messages\":{messages},\"seconds_per_setup\":{per_setup:.4}}}"
    );

    let warmup = Instant::now();
    sim::pool();
    let _ = sim::run(0);
    let warmup = warmup.elapsed().as_secs_f64();
    let schedules = 2_000u64;
    let started = Instant::now();
    let mut violations = 0;
    for seed in 0..schedules {
        violations += sim::run(seed).violations.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"simulation\",\"threads\":1,\"schedules\":{schedules},\"seconds\":{seconds:.2},\"schedules_per_second\":{:.0},\"pool_warmup_seconds\":{warmup:.2},\"violations\":{violations}}}",
        schedules as f64 / seconds
    );
}
