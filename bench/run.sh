#!/usr/bin/env bash
# Build release binaries and run every benchmark scenario; writes BENCHMARKS.md at the repository root.
# Add PostgreSQL with ORGD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p orgd -p orgd-bench
exec target/release/orgd-bench "${@:-all}"
