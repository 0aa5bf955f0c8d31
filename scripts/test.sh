#!/usr/bin/env bash
# Sets up and runs all tests (release mode: the simulation runs 10,000 schedules; the
# end-to-end scenarios run `confiaro` processes against real regtest chains).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

# compile the benchmarks so they do not rot (run them with `cargo bench -p CRATE`)
cargo build --workspace --benches --release
cargo test --workspace --release --exclude confiaro-cli -- --skip ten_thousand_seeded_schedules
# end-to-end: every scenario and every crash point, four at a time against one devnet each
cargo test -p confiaro-cli --release --bins
cargo test -p confiaro-cli --release --test swaps -- --test-threads 4
# the maker run from a config file: exchange feeds on loopback, admin API, metrics
cargo test -p confiaro-cli --release --test maker
cargo test -p confiaro-cli --release --test crash_points -- --test-threads 4 --nocapture
# the simulation last, with its summary line (`simulation: N schedules, ...`) shown
cargo test -p confiaro-protocol --release --test simulation -- --nocapture
