#!/usr/bin/env bash
# Sets up and runs Confiaro on a local regtest stack: `confiaro devnet up` starts the Bitcoin
# devnet node (bitcoind JSON-RPC on 127.0.0.1:18443, user/password confiaro; Electrum
# tcp://127.0.0.1:60401; Esplora http://127.0.0.1:3002), regtest monerod (127.0.0.1:28081)
# with a funded wallet RPC (127.0.0.1:28083), a rendezvous point (127.0.0.1:7700) and a demo
# maker (127.0.0.1:7701), mining a Bitcoin block every 10 s and a Monero block every 2 s.
# It prints how to create a wallet and swap against the maker from another terminal.
# Ctrl-C stops it; the chains and the maker are kept in ./confiaro-devnet-data.
# Extra arguments go to `confiaro devnet up` (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

. ./scripts/env.sh

cargo build --release -p confiaro-cli
exec "${CARGO_TARGET_DIR}/release/confiaro" devnet up --dir ./confiaro-devnet-data "$@"
