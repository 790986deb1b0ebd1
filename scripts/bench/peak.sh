#!/usr/bin/env bash
# The requirement at peak: a 40,000-alert visit to five community brokers and the archive, 98 %
# within 60 s, with Kafka's own perf tools on the same broker as the reference
# (scripts/bench/peak.py says what is measured and how).
#
#   scripts/bench/peak.sh [--visits 10000x1,40000x2,40000x1] [--partitions 4]
#
# Builds the release binaries, starts the stack if it is not running (and stops it after),
# and keeps its generated visits (~5.5 GB) in .run/bench/peak for the next run. Takes ~15
# minutes on 2 cores; run it on a quiet machine. Not part of the test run.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"
started_stack=0
if ! scripts/stack.sh status >/dev/null 2>&1; then started_stack=1; fi
stop_stack() { if [[ $started_stack == 1 ]]; then scripts/stack.sh stop; fi; }
trap stop_stack EXIT
scripts/stack.sh start
# shellcheck source=/dev/null
source "$RUN_DIR/stack.env"
export ALERT_SCHEMA_DIR
ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)
cargo build --release -q --locked --workspace --bins
"$ALERTDIST_PYTHON" scripts/bench/peak.py "$@"
