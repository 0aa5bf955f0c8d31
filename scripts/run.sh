#!/usr/bin/env bash
# Sets up and runs the app. For now: the protocol's deterministic simulation demo.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

cargo test -p confiaro-protocol --release --test simulation -- --nocapture
