#!/usr/bin/env bash
# Sets up and runs what Confiaro has so far: the local regtest stack the app will run on —
# the Bitcoin devnet node (bitcoind JSON-RPC on 127.0.0.1:18443, user/password confiaro;
# Electrum tcp://127.0.0.1:60401; Esplora http://127.0.0.1:3002) and
# regtest monerod (127.0.0.1:28081) with a funded wallet RPC (127.0.0.1:28083), a block on
# each chain every 10 s. Ctrl-C stops it; the chains are kept in ./confiaro-devnet-data.
# Extra arguments go to `confiaro-devnet up` (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

cargo run -p confiaro-devnet --release -- up --datadir ./confiaro-devnet-data --mine-every 10 "$@"
