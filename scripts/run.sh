#!/usr/bin/env bash
# Sets up, builds and opens the Confiaro desktop app on a local regtest stack: on first run
# choose "Regtest" (the default); the app then starts its own devnet (the Bitcoin devnet
# node, regtest monerod with a funded wallet, a rendezvous point, blocks every 10 s / 2 s)
# and a demo maker, so a swap works from the window: Swap → amount → "Get play money" → Buy.
# The app keeps its files in ~/.confiaro-app (CONFIARO_APP_DIR to change). It needs a
# display; on a machine without one, `./scripts/run.sh --headless` runs the same stack and
# demo maker without a window (`confiaro devnet up`, extra arguments go to it; then use the
# `confiaro` command from another terminal, see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

if [ "${1:-}" = "--headless" ]; then
    shift
    exec ./scripts/confiaro devnet up --dir "$PWD/confiaro-devnet-data" "$@"
fi

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "run: no display (DISPLAY is not set): the desktop app needs one." >&2
    echo "run: on a machine without a screen use ./scripts/run.sh --headless (the same regtest stack, driven with the confiaro command)" >&2
    exit 1
fi

(cd ui && npm run build)
# the app starts its own devnet on regtest: the tester's `devnet` feature
cargo build --release -p confiaro-desktop --features devnet
exec "${CARGO_TARGET_DIR}/release/confiaro-desktop"
