#!/usr/bin/env bash
# Sets up and runs the app. For now: the protocol's deterministic simulation demo.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    if [ -d /work/target ]; then
        export CARGO_TARGET_DIR=/work/target
    else
        export CARGO_TARGET_DIR=target
    fi
fi

cargo test -p confiaro-protocol --release --test simulation -- --nocapture
