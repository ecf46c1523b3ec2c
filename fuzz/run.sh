#!/usr/bin/env bash
# Run every fuzz target (or the ones named) for SECONDS each, starting from the seeds in fuzz/seeds/.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]     (needs cargo-fuzz; the stable toolchain runs it with
# RUSTC_BOOTSTRAP=1 and no sanitizer: Rust code is memory-safe, the targets look for panics and broken
# invariants). A crash leaves its input in fuzz/artifacts/<target>/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(export_query item_actions csv_import cidr_list token org_settings multipart dataset_definition path_params)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
if ! cargo fuzz build -s none >"$corpus/build.log" 2>&1; then cat "$corpus/build.log"; exit 1; fi
for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t"
    log="$corpus/$t.log"
    if cargo fuzz run -s none "$t" "$corpus/$t" "seeds/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz $t: clean, $(grep -E '^Done' "$log" | sed 's/^Done //')"
    else
        echo "fuzz $t: FAILED"; grep -E 'panicked|SUMMARY|Test unit written' -A2 "$log" | head -20
        exit 1
    fi
done
