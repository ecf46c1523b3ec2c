#!/usr/bin/env bash
# Build release binaries and run every benchmark scenario; writes BENCHMARKS.md at the repository root.
# Add PostgreSQL with ORGD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres.
# One scenario only: bench/run.sh requests|import|export|coldstart|standin [--runs N] [--seconds N] [--backend sqlite|postgresql] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "installing wrk (the HTTP load tool of the request scenarios)"
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --release -p orgd -p orgd-bench
exec target/release/orgd-bench "${@:-all}"
