#!/usr/bin/env bash
# Installs what building and testing Confiaro needs, and only what is missing. Idempotent.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi

# bitcoinconsensus (a dev-dependency) builds its C++ with the cc crate: it needs cc and c++.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(cc)
command -v c++ >/dev/null 2>&1 || missing+=(c++)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: ${missing[*]} missing; installing build-essential"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends build-essential
fi
