# Sourced by the other scripts: shared build settings.
#
# CARGO_TARGET_DIR ends up absolute, whatever the working directory: unset, it is the
# machine's shared build cache when there is one (/work/target), else the repository's
# target/; a relative value is taken relative to the repository root (where the scripts run
# cargo). Test harnesses resolve it the same way (ui/tests/paths.ts).
confiaro_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    if [ -d /work/target ]; then
        CARGO_TARGET_DIR=/work/target
    else
        CARGO_TARGET_DIR="$confiaro_repo/target"
    fi
fi
case "$CARGO_TARGET_DIR" in
    /*) ;;
    *) CARGO_TARGET_DIR="$confiaro_repo/$CARGO_TARGET_DIR" ;;
esac
export CARGO_TARGET_DIR

# The tester's features: the devnet and its demo maker in the app, the desktop app and the
# `confiaro` command (off by default, so the products' default builds contain no devnet and
# no libbitcoinkernel). Every script that builds for tests or runs the local stack passes
# them; with `--workspace` they select the same artifacts in every cargo call.
confiaro_devnet_features="confiaro-app/devnet,confiaro-cli/devnet,confiaro-desktop/devnet"
