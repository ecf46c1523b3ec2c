#!/usr/bin/env bash
# Build release binaries and run every benchmark scenario; writes BENCHMARKS.md at the repository root.
# Add PostgreSQL with ORGD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres.
# One scenario only: bench/run.sh requests|import|export|drafts|events|coldstart|standin [--runs N] [--seconds N] [--backend sqlite|postgresql] [--out FILE]
# The events scenario compares this build with the last commit before the change history, built once here
# as target/release/orgd-before-events (in its own target folder, started from a copy of this one's).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "installing wrk (the HTTP load tool of the request scenarios)"
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --release -p orgd -p orgd-bench
BEFORE_EVENTS=7354c98
if [[ "${1:-all}" == all || "${1:-all}" == events ]] && [[ ! -x target/release/orgd-before-events ]]; then
    echo "building orgd at $BEFORE_EVENTS (before the change history), the baseline of the events scenario"
    rm -rf target/before-events && mkdir -p target/before-events/release
    git archive "$BEFORE_EVENTS" | tar -x -C target/before-events --exclude=target
    cp -a target/release/deps target/release/build target/release/.fingerprint target/before-events/release/
    CARGO_TARGET_DIR="$PWD/target/before-events" cargo build --release -p orgd \
        --manifest-path target/before-events/Cargo.toml
    cp target/before-events/release/orgd target/release/orgd-before-events
fi
exec target/release/orgd-bench "${@:-all}"
