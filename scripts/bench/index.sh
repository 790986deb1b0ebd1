#!/usr/bin/env bash
# Benchmark of the alert index (issue 19): 10 million synthetic index rows appended visit by
# visit, compacted as the CronJob leaves them, in a local-files store; the object, cone (1')
# and 1-hour count queries timed by alert-index and, in the same run on the same Parquet
# files, by DuckDB (the venv's duckdb). Prints p50/p99 of both, their ratios and BENCH-ROW
# lines for scripts/bench/report.sh.
#
# Usage: scripts/bench/index.sh [ROWS]   (default 10000000; ~2 minutes and ~2 GB of disk at
#   the default, under .run/bench/index, deleted afterwards unless KEEP=1)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
rows="${1:-10000000}"
python="$(scripts/install/python.sh)"
dir="$repo/.run/bench/index"
cleanup() { if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$dir"; fi; }
trap cleanup EXIT
rm -rf "$dir"
mkdir -p "$dir"

cargo build --release -q --locked -p alert-index --example index_bench
target/release/examples/index_bench --rows "$rows" --dir "$dir" --python "$python"
