#!/usr/bin/env bash
# The system's benchmark report: runs every service benchmark and writes one table (figure,
# target, reference measured in the same run, ratio, verdict) into docs/benchmarks.md, between
# the "benchmark-report" markers: rows of the steps run now replace that step's earlier rows,
# rows of other steps stay with the run that measured them.
#
#   scripts/bench/report.sh [STEP...]
#
# Steps (default: all, in this order): codec simulator registry-proxy alertdb-server herald pages
# ingester-gzip ingester index visit peak (peak: scripts/bench/peak.sh, the 40,000-alert visit to
# five brokers; ~15 min on its own). Each benchmark prints its figures as BENCH-ROW lines
# (scripts/lib.sh: bench_row); each step's whole output is kept in .run/bench/report/STEP.log.
# Starts the stack if it is not running (and stops it afterwards). Takes ~30 minutes with peak; run it on
# a quiet machine: the load average at the start and the end is written beside the table.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"

all_steps=(codec simulator registry-proxy alertdb-server herald pages ingester-gzip ingester index visit peak)
steps=("$@")
((${#steps[@]} > 0)) || steps=("${all_steps[@]}")
out="$RUN_DIR/bench/report"
mkdir -p "$out"
rows="$out/rows.tsv"
: >"$rows"

started_stack=0
if ! scripts/stack.sh status >/dev/null 2>&1; then started_stack=1; fi
stop_stack() { if [[ $started_stack == 1 ]]; then scripts/stack.sh stop; fi; }
trap stop_stack EXIT
scripts/stack.sh start
# shellcheck source=/dev/null
source "$RUN_DIR/stack.env"
export ALERT_SCHEMA_DIR
ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
run_step() {
  case $1 in
    codec)
      cargo build --release -q -p alert-packet --example codec_bench
      target/release/examples/codec_bench "$ALERT_SCHEMA_DIR" "$ALERTDIST_PYTHON" "$RUN_DIR/bench/stream-visit.avro" ;;
    simulator) scripts/bench/simulator.sh 10000 ;;
    registry-proxy) scripts/bench/registry-proxy.sh 15s 32 2 ;;
    alertdb-server) ROUNDS=3 DURATION=8s scripts/bench/alertdb-server.sh ;;
    herald) DURATION=10s PY_SECONDS=10 scripts/bench/herald.sh ;;
    pages) DURATION=10s scripts/bench/pages.sh ;;
    ingester-gzip) cargo bench -q -p alertdb-ingester --bench gzip_levels ;;
    ingester) BENCH_ALERTS=10000 cargo bench -q -p alertdb-ingester --bench ingest_throughput ;;
    index) scripts/bench/index.sh ;;
    visit)
      cargo test -q --locked -p integration-tests --test whole_system \
        a_visit_reaches_the_brokers_and_the_archive_byte_identical -- --nocapture ;;
    peak)
      cargo build --release -q --locked --workspace --bins
      "$ALERTDIST_PYTHON" scripts/bench/peak.py ;;
    *) die "unknown step $1 (steps: ${all_steps[*]})" ;;
  esac
}

for step in "${steps[@]}"; do
  log "== $step (output in ${out#"$REPO_ROOT"/}/$step.log)"
  if run_step "$step" >"$out/$step.log" 2>&1; then
    found=$(grep -c '^BENCH-ROW' "$out/$step.log" || true)
    ((found > 0)) || printf 'BENCH-ROW\t%s\t%s\tno figures printed\t\t\t\t\tfailed\n' "$step" "$step" >>"$rows"
  else
    printf 'BENCH-ROW\t%s\t%s\tthe benchmark failed (see .run/bench/report/%s.log)\t\t\t\t\tfailed\n' "$step" "$step" "$step" >>"$rows"
  fi
  { grep '^BENCH-ROW' "$out/$step.log" || true; } | sed "s/^BENCH-ROW\t/BENCH-ROW\t$step\t/" >>"$rows"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$rows" docs/benchmarks.md "$(date -u +%Y-%m-%d)" "$(git rev-parse --short HEAD)" \
  "$load_start" "$load_end" "${steps[*]}" <<'PY'
import sys
rows_file, doc, day, commit, load_start, load_end, steps = sys.argv[1:]
run = f"{day}, `{commit}`, load {load_start.split()[0]}→{load_end.split()[0]}"
new = []
for line in open(rows_file):
    if line.startswith("BENCH-ROW"):
        step, *cells = line.rstrip("\n").split("\t")[1:]
        cells = (cells + [""] * 7)[:7]
        new.append([step] + [c.replace("|", "\\|") for c in cells] + [run])
begin, end = "<!-- benchmark-report:begin -->", "<!-- benchmark-report:end -->"
text = open(doc).read()
# Rows of steps this run did not repeat stay, with the run that measured them.
kept = []
if begin in text and end in text:
    old = text[text.index(begin):text.index(end)]
    for line in old.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 9 and cells[0] not in steps.split() \
                and cells[0] != "step" and not cells[0].startswith("---"):
            kept.append(cells)
order = "codec simulator registry-proxy alertdb-server ingester-gzip ingester index visit".split()
rank = lambda r: order.index(r[0]) if r[0] in order else len(order)
rows = sorted(kept + new, key=rank)
table = [
    "Each row names the `scripts/bench/report.sh` step that measured it and that run (date, "
    "commit, load average at its start and end); references ran in the same run as their row.",
    "",
    "| step | component | figure | measured | target | reference (same run) | ratio | verdict | run |",
    "|---|---|---|---|---|---|---|---|---|",
]
table += ["| " + " | ".join(r) + " |" for r in rows]
block = begin + "\n" + "\n".join(table) + "\n" + end
if begin in text and end in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## The benchmark report (all services)\n\n" + block + "\n"
open(doc, "w").write(text)
print("\n".join(table))
PY
