#!/usr/bin/env bash
# Benchmark of rubin-alert-sim against Kafka's own producer on the same local broker.
#
#   scripts/bench/simulator.sh [ALERTS]      (default 10000; needs the stack running)
#
# 1. generates a visit of ALERTS ~108 KB alerts (v11.1, with cutouts);
# 2. times create-stream (re-encode + produce) into a fresh static topic;
# 3. runs kafka-producer-perf-test (from the same Kafka jars) with records of the mean alert
#    size, the same count and the same producer settings as the simulator;
# 4. times one unpaced play-stream pass of the static topic, and its peak RSS;
# and prints alerts/s, MB/s and the ratios. Topics are deleted afterwards.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"
alerts=${1:-10000}
[[ -f $RUN_DIR/stack.env ]] || die "start the stack first: scripts/stack.sh start"
# shellcheck source=/dev/null
source "$RUN_DIR/stack.env"
export ALERT_SCHEMA_DIR
ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)

cargo build --release -q --workspace --bins
sim=target/release/rubin-alert-sim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
suffix=$RANDOM
static=bench-static-$suffix
live=bench-live-$suffix
perf=bench-perf-$suffix
broker=$ALERTDIST_KAFKA_PLAINTEXT

log "generating $alerts alerts"
$sim generate --alerts "$alerts" --output "$work/visit.avro" --codec null
bytes=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1]))" "$work/visit.avro")
record_size=$((bytes / alerts))

log "create-stream"
start=$(date +%s.%N)
$sim create-stream -B "$broker" --dst-topic "$static" --create-topic --schema-id 1101 "$work/visit.avro" >/dev/null
end=$(date +%s.%N)
load_seconds=$(python3 -c "print($end - $start)")

log "kafka-producer-perf-test"
scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --create --topic "$perf" --partitions 1 >/dev/null
perf_out=$(scripts/kafka/kafka-tool producer-perf-test --topic "$perf" --num-records "$alerts" \
  --record-size "$record_size" --throughput -1 \
  --producer-props bootstrap.servers="$broker" acks=all enable.idempotence=true linger.ms=5 \
  batch.size=4194304 max.request.size=10485760 buffer.memory=134217728 2>/dev/null | tail -n 1)

log "play-stream (one unpaced pass)"
/usr/bin/time -v -o "$work/time.txt" $sim play-stream -B "$broker" --src-topic "$static" --dst-topic "$live" \
  --create-dst-topic --pacing none --repeat-interval -1 --listen-port 0 2>"$work/play.log" >/dev/null
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
pass_line=$(grep -o 'sent [0-9]* alerts in [0-9.]* s' "$work/play.log" | tail -n 1)
pass_seconds=$(awk '{print $5}' <<<"$pass_line")

for t in "$static" "$live" "$perf"; do
  scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --delete --topic "$t" >/dev/null 2>&1 || true
done

python3 - "$alerts" "$record_size" "$load_seconds" "$pass_seconds" "$rss_kb" "$perf_out" <<'PY'
import re, sys
alerts, size, load_s, pass_s, rss_kb, perf = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
m = re.search(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", perf)
perf_rate, perf_mb = float(m.group(1)), float(m.group(2))
play_rate = alerts / pass_s
print(f"alerts: {alerts} of {size} bytes ({alerts * size / 1e9:.2f} GB)")
print(f"| measurement | alerts/s | MB/s | reference | ratio | target |")
print(f"|---|---|---|---|---|---|")
print(f"| play-stream, one unpaced pass | {play_rate:.0f} | {play_rate * size / 1048576:.0f} | kafka-producer-perf-test {perf_rate:.0f} records/s, {perf_mb:.0f} MB/s | {play_rate / perf_rate:.2f}x | >= 0.8x |")
print(f"| play-stream pass duration | {pass_s:.2f} s for {alerts} alerts | | upstream Python ~475 alerts/s | {play_rate / 475:.0f}x | <= 5 s |")
print(f"| create-stream (re-encode + produce, whole command) | {alerts / load_s:.0f} | {alerts * size / load_s / 1048576:.0f} | | | >= 5000 alerts/s |")
print(f"| play-stream peak RSS | {rss_kb / 1024:.0f} MB | | | | <= 200 MB |")

def row(*cells):  # a row of scripts/bench/report.sh's table
    print("BENCH-ROW\t" + "\t".join(str(c) for c in cells))
verdict = lambda ok: "met" if ok else "missed"
row("rubin-alert-sim", f"play-stream, one unpaced pass of {alerts} alerts of {size / 1000:.0f} KB", f"{play_rate:.0f} alerts/s ({play_rate * size / 1e6:.0f} MB/s)", ">= 0.8x reference",
    f"kafka-producer-perf-test {perf_rate:.0f} records/s", f"{play_rate / perf_rate:.2f}x", verdict(play_rate / perf_rate >= 0.8))
row("rubin-alert-sim", f"time of a {alerts}-alert pass", f"{pass_s:.2f} s", "<= 5 s (10,000 alerts)", "upstream Python ~475 alerts/s", f"{play_rate / 475:.1f}x", verdict(pass_s * 10000 / alerts <= 5))
row("rubin-alert-sim", "create-stream (re-encode + produce)", f"{alerts / load_s:.0f} alerts/s", ">= 5,000 alerts/s", f"kafka-producer-perf-test {perf_rate:.0f} records/s", f"{alerts / load_s / perf_rate:.2f}x", verdict(alerts / load_s >= 5000))
row("rubin-alert-sim", "play-stream peak RSS", f"{rss_kb / 1024:.0f} MB", "<= 200 MB", "", "", verdict(rss_kb / 1024 <= 200))
PY
