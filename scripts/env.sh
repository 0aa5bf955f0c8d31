# Sourced by the other scripts: shared build settings.
# Reuse the machine's shared build cache when there is one; otherwise build in ./target.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    if [ -d /work/target ]; then
        export CARGO_TARGET_DIR=/work/target
    else
        export CARGO_TARGET_DIR=target
    fi
fi
