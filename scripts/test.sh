#!/usr/bin/env bash
# Sets up and runs all tests (release mode: the simulation runs 10,000 schedules; the
# end-to-end scenarios run `confiaro` processes against real regtest chains; the desktop app
# runs in a real window under Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

# Cargo remembers a test's sources outside its own package by absolute path (confiaro-cli's
# tests/*.rs, the orchestrator's receipt test using the protocol's simulation): with a build
# cache shared between checkouts, a test built from another checkout's files would look up to
# date here. Rebuild those two packages when the cache was last used from elsewhere.
mkdir -p "$CARGO_TARGET_DIR"
last_checkout="$CARGO_TARGET_DIR/confiaro-last-checkout"
if [ "$(cat "$last_checkout" 2>/dev/null)" != "$PWD" ]; then
    cargo clean --release -p confiaro-cli -p confiaro-orchestrator
    echo "$PWD" > "$last_checkout"
fi

# The UI's TypeScript types come from the Rust IPC types: regenerate them and refuse a stale
# committed copy.
cargo test -p confiaro-app --release export_bindings -- --quiet
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- ui/src/bindings; then
    git diff --stat -- ui/src/bindings
    echo "ui/src/bindings differs from the Rust IPC types: commit the regenerated files" >&2
    exit 1
fi
# The UI: type check and build (the desktop binary embeds ui/dist), component tests, and
# every screen in headless Chromium against a scripted fake IPC (screenshots in
# ui/test-results/screens/).
(cd ui && npm run build && npm test && npm run test:screens)

# compile the benchmarks so they do not rot (run them with `cargo bench -p CRATE`)
cargo build --workspace --benches --release
cargo test --workspace --release --exclude confiaro-cli -- --skip ten_thousand_seeded_schedules
# the desktop app in a real window (Xvfb, tauri-driver, WebKitWebDriver): a wallet, play
# money and a swap against its own devnet's demo maker, through the UI (screenshots and
# metrics in ui/test-results/desktop/)
cargo build -p confiaro-desktop --release
(cd ui && npm run test:desktop)
# end-to-end: every scenario and every crash point, four at a time against one devnet each
cargo test -p confiaro-cli --release --bins
cargo test -p confiaro-cli --release --test swaps -- --test-threads 4
# the maker run from a config file: exchange feeds on loopback, admin API, metrics
cargo test -p confiaro-cli --release --test maker
cargo test -p confiaro-cli --release --test crash_points -- --test-threads 4 --nocapture
# the simulation last, with its summary line (`simulation: N schedules, ...`) shown
cargo test -p confiaro-protocol --release --test simulation -- --nocapture
