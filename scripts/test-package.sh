#!/usr/bin/env bash
# The package test: installs the .deb that scripts/package.sh built (as root; apt brings its
# dependencies), checks that the installed app holds no devnet (no libbitcoinkernel, no
# crates/devnet code), starts the installed app under Xvfb and checks its first-run screen
# (ui/tests/package.ts: screenshot in ui/test-results/package/), then removes the package
# again, even when a check failed. Refuses to run when the package is installed already (a
# user's install is not ours to remove).
set -euo pipefail
cd "$(dirname "$0")/.."
. ./scripts/env.sh

# shellcheck disable=SC2012
deb=$(ls -t "$CARGO_TARGET_DIR"/package/release/bundle/deb/*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
    echo "test-package: no .deb in $CARGO_TARGET_DIR/package/release/bundle/deb: run scripts/package.sh" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
package=$(dpkg-deb -f "$deb" Package)
if dpkg -s "$package" >/dev/null 2>&1; then
    echo "test-package: $package is installed on this machine already; remove it first (apt-get remove $package)" >&2
    exit 1
fi
remove() {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get remove -y "$package" >/dev/null 2>&1 || true
}
trap remove EXIT

echo "test-package: installing $deb ($(stat -c %s "$deb") bytes)"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
bin=$(dpkg -L "$package" | grep '^/usr/bin/' | head -n 1)
echo "test-package: installed $bin ($(stat -c %s "$bin") bytes)"
for marker in bitcoinkernel crates/devnet/src crates/demo/src; do
    if grep -q "$marker" "$bin"; then
        echo "test-package: the installed app contains $marker: a devnet build was packaged" >&2
        exit 1
    fi
done

CONFIARO_INSTALLED_BIN="$bin" npm --prefix ui run --silent test:package

remove
trap - EXIT
if [ -e "$bin" ] || dpkg -s "$package" >/dev/null 2>&1; then
    echo "test-package: $package is still installed after its removal" >&2
    exit 1
fi
echo "test-package: removed $package"
