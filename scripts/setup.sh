#!/usr/bin/env bash
# Installs what building and testing Confiaro needs, and only what is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi

# apt-get install "$@", running apt-get update only before the first install of this run.
apt_updated=0
apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    if [ "$apt_updated" -eq 0 ]; then
        $sudo apt-get update
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$@"
}

# bitcoinconsensus (a dev-dependency) builds its C++ with the cc crate: it needs cc and c++.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(cc)
command -v c++ >/dev/null 2>&1 || missing+=(c++)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: ${missing[*]} missing; installing build-essential"
    apt_install build-essential
fi

# bitcoinkernel (crates/devnet) builds Bitcoin Core's libbitcoinkernel with cmake and needs the
# boost headers; monero brings monerod and monero-wallet-rpc (crates/monero); postgresql brings
# initdb and postgres, which the store's PostgreSQL tests run as a throwaway server on loopback
# (crates/testkit/src/postgres.rs). Install only the packages dpkg does not already
# have; apt-get update once.
missing_pkgs=()
# The desktop app (src-tauri, Tauri 2) builds against WebKitGTK 4.1 (pkg-config finds it);
# its tests need Xvfb and WebKitWebDriver (the real window, driven through tauri-driver) and
# Chromium (the UI's screens, through playwright-core; no browser is downloaded).
# tor (with tor-gencert) runs the tests' private Tor network on loopback
# (crates/testkit/src/tor.rs); the app itself embeds its Tor client and needs no tor daemon.
for pkg in cmake libboost-dev monero postgresql \
    pkg-config libwebkit2gtk-4.1-dev xvfb webkit2gtk-driver chromium tor; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        missing_pkgs+=("$pkg")
    fi
done
if [ "${#missing_pkgs[@]}" -gt 0 ]; then
    echo "setup: ${missing_pkgs[*]} missing; installing"
    apt_install "${missing_pkgs[@]}"
fi

# Node.js and npm build and test the UI (ui/); Debian's are used only when none is installed.
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm missing; installing nodejs and npm"
    apt_install nodejs npm
fi

# tauri-driver: the WebDriver server between the desktop test and WebKitWebDriver.
if ! command -v tauri-driver >/dev/null 2>&1; then
    echo "setup: installing tauri-driver"
    cargo install tauri-driver --version 2.0.4 --locked
fi

# cargo-nextest runs the unit and integration tests of all crates at once (scripts/test.sh).
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "setup: installing cargo-nextest"
    cargo install cargo-nextest --version 0.9.143 --locked
fi

# rustfmt: the test command checks the Rust formatting (cargo fmt --check).
if ! cargo fmt --version >/dev/null 2>&1; then
    echo "setup: installing rustfmt"
    rustup component add rustfmt
fi

# The UI's packages, exactly as package-lock.json has them, when they changed.
if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "setup: installing the UI's npm packages"
    (cd ui && npm ci --no-audit --no-fund)
fi
