#!/usr/bin/env bash
# Sets up and runs all tests (release mode: the simulation runs 10,000 schedules).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

# compile the benchmarks so they don't rot (running them is `cargo bench -p confiaro-protocol`)
cargo build -p confiaro-protocol --benches --release
cargo test --workspace --release -- --skip ten_thousand_seeded_schedules
# the simulation last, with its summary line (`simulation: N schedules, ...`) shown
cargo test -p confiaro-protocol --release --test simulation -- --nocapture
