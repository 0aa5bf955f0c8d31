#!/usr/bin/env bash
# Sets up and runs all tests, in release mode, and ends with a table of seconds per stage:
#   setup       installs what is missing (scripts/setup.sh)
#   paths       every harness resolves the build dir and binaries to absolute paths
#               from any working directory (scripts/check-paths.sh)
#   format      the Rust code is as rustfmt writes it (cargo fmt --check)
#   ui          the UI: type check and build (the desktop binary embeds ui/dist),
#               component tests, every screen in headless Chromium
#   build       everything, once: libraries, binaries (the desktop app among them),
#               tests and benchmarks (so they do not rot), with one feature set: the
#               tester's devnet features on (scripts/env.sh)
#   leftovers   stops servers a killed earlier run left behind
#   bindings    the UI's TypeScript types match the Rust IPC types
#   unit        every crate's unit and integration tests (cargo-nextest)
#   flood       the setup-flood benchmark: a maker flooded with 1,000 bogus setups from 100
#               identities, with and without its limits; prints one FLOOD {json} line each
#   tor         libp2p over Tor on a private Tor network on loopback (Debian's tor relays,
#               embedded arti clients): a maker's onion service, its restart, an onion
#               nobody serves, a peer through an exit (TOR {json}); then swaps on the devnet
#               through a maker's onion service beside one over clear TCP (TOR-SWAP {json}).
#               Alone, because circuits built under full CPU load time out
#   e2e         every end-to-end scenario and crash point: `confiaro` processes on real
#               regtest chains (crates/cli/tests/e2e)
#   desktop     the desktop app in a real window under Xvfb buying and selling XMR
#   package     the desktop app's .deb from the release features only (the Tauri bundler,
#               in a build directory of its own), installed as root, started under Xvfb to
#               its first-run screen (screenshot in ui/test-results/package/), then removed
#               (scripts/package.sh, scripts/test-package.sh)
#   simulation  10,000 seeded schedules of whole swaps, then 10,000 with an attacker
# The stages run one after another: the e2e and desktop stages are CPU-bound on two cores, and
# a stage beside them slows them by as much as it saves.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- stage bookkeeping ---------------------------------------------------------------------
table_rows=()
suite_started=$SECONDS

print_table() {
    local status=$?
    echo
    echo "stage          seconds  result"
    echo "-------------  -------  ------"
    local row
    for row in "${table_rows[@]}"; do
        # shellcheck disable=SC2086
        printf '%-13s  %7s  %s\n' $row
    done
    echo "-------------  -------  ------"
    printf '%-13s  %7s  %s\n' total "$((SECONDS - suite_started))" "$([ $status -eq 0 ] && echo ok || echo FAILED)"
}
trap print_table EXIT

# stage NAME COMMAND...: runs COMMAND in the foreground; a failure ends the run. COMMAND runs
# where `set -e` does not apply (the status is tested), so a stage function of several
# commands chains them with && (or returns early): each failure must reach its status.
stage() {
    local name=$1
    shift
    echo "== $name"
    local started=$SECONDS status=0
    "$@" || status=$?
    table_rows+=("$name $((SECONDS - started)) $([ $status -eq 0 ] && echo ok || echo FAILED)")
    if [ $status -ne 0 ]; then
        echo "test: stage $name failed" >&2
        exit $status
    fi
}

# --- the stages ----------------------------------------------------------------------------
stage setup ./scripts/setup.sh
. ./scripts/env.sh
echo "test: build directory $CARGO_TARGET_DIR"

stage paths ./scripts/check-paths.sh

stage format cargo fmt --all -- --check

ui() {
    (cd ui && npm run build && npm test && npm run test:screens)
}
stage ui ui

# One cargo invocation builds every target of every package with one feature set; the test
# stages below only run what it built (each cargo call below selects --workspace too, so the
# features, and with them the artifacts, are the same).
stage build cargo build --workspace --release --all-targets --features "$confiaro_devnet_features"

stage leftovers "$CARGO_TARGET_DIR/release/confiaro-testkit-reap"

bindings() {
    cargo test --workspace --release --features "$confiaro_devnet_features" --lib --quiet export_bindings || return 1
    if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- ui/src/bindings; then
        git diff --stat -- ui/src/bindings
        echo "ui/src/bindings differs from the Rust IPC types: commit the regenerated files" >&2
        return 1
    fi
}
stage bindings bindings

e2e() {
    cargo test --workspace --release --features "$confiaro_devnet_features" --test e2e -- --test-threads "${E2E_THREADS:-4}" --nocapture --skip tor::
}
desktop() {
    (cd ui && npm run test:desktop)
}
unit() {
    cargo nextest run --workspace --release --features "$confiaro_devnet_features" --no-fail-fast \
        -E 'not (binary(e2e) | binary(simulation) | (package(confiaro-tor) & binary(onion)))'
}
package() {
    ./scripts/package.sh deb && ./scripts/test-package.sh
}
simulation() {
    cargo test --workspace --release --features "$confiaro_devnet_features" --test simulation -- --nocapture
}
flood() {
    cargo test --workspace --release --features "$confiaro_devnet_features" --lib flood_bench -- --ignored --nocapture
}
tor() {
    cargo test --workspace --release --features "$confiaro_devnet_features" --test onion -- --nocapture &&
        cargo test --workspace --release --features "$confiaro_devnet_features" --test e2e -- --test-threads 1 --nocapture tor::
}
stage unit unit
stage flood flood
stage tor tor
stage e2e e2e
stage desktop desktop
stage package package
stage simulation simulation
