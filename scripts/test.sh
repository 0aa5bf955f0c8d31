#!/usr/bin/env bash
# Sets up and runs all tests (release mode: the simulation runs 10,000 schedules).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

# compile the benchmarks so they do not rot (run them with `cargo bench -p CRATE`)
cargo build --workspace --benches --release
cargo test --workspace --release -- --skip ten_thousand_seeded_schedules
# the simulation last, with its summary line (`simulation: N schedules, ...`) shown
cargo test -p confiaro-protocol --release --test simulation -- --nocapture
