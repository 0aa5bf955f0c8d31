#!/usr/bin/env bash
# Builds the desktop app's packages with the Tauri bundler, from the release features only (no
# devnet, no libbitcoinkernel: the devnet feature is never passed here). Bundles: a .deb by
# default; `scripts/package.sh deb,appimage` for an AppImage too (the bundler fetches its
# linuxdeploy tools from GitHub, so that needs internet access).
#
# The build has a directory of its own, $CARGO_TARGET_DIR/package, so that the release binary
# does not replace the tests' devnet build at $CARGO_TARGET_DIR/release/confiaro-desktop.
# Ends with one line per package: PACKAGE {"kind":…,"path":…,"bytes":…}.
set -euo pipefail
cd "$(dirname "$0")/.."
. ./scripts/env.sh

bundles=${1:-deb}
# the UI as it is now: the binary embeds ui/dist
(cd ui && npm run build)
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/package"
ui/node_modules/.bin/tauri build --ci --bundles "$bundles"

bundle_dir="$CARGO_TARGET_DIR/release/bundle"
IFS=, read -r -a kinds <<< "$bundles"
for kind in "${kinds[@]}"; do
    case "$kind" in
        deb) pattern="$bundle_dir/deb/*.deb" ;;
        appimage) pattern="$bundle_dir/appimage/*.AppImage" ;;
        *) echo "package: unknown bundle $kind" >&2; exit 2 ;;
    esac
    # the newest package of this kind
    # shellcheck disable=SC2086
    file=$(ls -t $pattern 2>/dev/null | head -n 1)
    if [ -z "$file" ]; then
        echo "package: the bundler made no $kind package in $bundle_dir" >&2
        exit 1
    fi
    printf 'PACKAGE {"kind":"%s","path":"%s","bytes":%s}\n' "$kind" "$file" "$(stat -c %s "$file")"
done
