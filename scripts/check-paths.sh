#!/usr/bin/env bash
# The test command's first check: every harness resolves the build directory, the binaries
# and the UI's files to absolute paths, whatever the working directory and whether
# CARGO_TARGET_DIR is unset, relative or absolute. Each lookup runs from another directory;
# a wrong one fails with the path it gave.
#   scripts/env.sh            (sourced by every script)
#   ui/tests/paths.ts         (the desktop test and the screen walk)
# The end-to-end harness (crates/testkit/src/e2e.rs) takes the binary cargo names for the
# CLI's tests, refuses anything but an absolute path to a file, and starts every party from
# its own data directory.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
elsewhere="$(mktemp -d)"
trap 'rm -rf "$elsewhere"' EXIT
failed=0

# expect WHAT GOT WANT
expect() {
    if [ "$2" != "$3" ]; then
        echo "check-paths: $1 gave $2, expected $3" >&2
        failed=1
    fi
}

# env.sh: with CARGO_TARGET_DIR as given ("-" for unset), from $elsewhere; prints the result
env_sh() {
    (cd "$elsewhere" && if [ "$1" = - ]; then unset CARGO_TARGET_DIR; else export CARGO_TARGET_DIR="$1"; fi &&
        . "$repo/scripts/env.sh" && echo "$CARGO_TARGET_DIR")
}
default_target="$repo/target"
[ -d /work/target ] && default_target=/work/target
expect "env.sh with CARGO_TARGET_DIR unset" "$(env_sh -)" "$default_target"
expect "env.sh with CARGO_TARGET_DIR=target" "$(env_sh target)" "$repo/target"
expect "env.sh with CARGO_TARGET_DIR=../x/y" "$(env_sh ../x/y)" "$repo/../x/y"
expect "env.sh with CARGO_TARGET_DIR=$elsewhere/t" "$(env_sh "$elsewhere/t")" "$elsewhere/t"

# paths.ts: the desktop binary and dist/, from $elsewhere
tsx="$repo/ui/node_modules/.bin/tsx"
paths_ts() {
    (cd "$elsewhere" && if [ "$1" = - ]; then unset CARGO_TARGET_DIR; else export CARGO_TARGET_DIR="$1"; fi &&
        unset CONFIARO_DESKTOP_BIN && "$tsx" "$repo/ui/tests/paths.ts")
}
field() {
    node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; console.log(v)' "$1" "$2"
}
for given in - target "$elsewhere/t"; do
    case "$given" in
        -) want="$repo/target" ;;
        /*) want="$given" ;;
        *) want="$repo/$given" ;;
    esac
    out="$(paths_ts "$given")"
    expect "ui/tests/paths.ts desktop binary with CARGO_TARGET_DIR=$given" \
        "$(field "$out" desktop_binary)" "$want/release/confiaro-desktop"
    expect "ui/tests/paths.ts dist with CARGO_TARGET_DIR=$given" "$(field "$out" ui_dist)" "$repo/ui/dist"
done

if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "check-paths: env.sh and ui/tests/paths.ts give absolute paths from any directory"
