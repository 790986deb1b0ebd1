#!/usr/bin/env bash
# Soak: the whole system under a night's load for a while (not part of scripts/test.sh).
#
#   scripts/soak.sh [DURATION_SECONDS=3600] [ALERTS_PER_VISIT=10000]
#
# Environment: SOAK_CUTOUTS=1 gives the alerts their three FITS cutouts (~108 KB an alert
# instead of ~84 KB; the archive of an hour then needs ~80 GB), SOAK_KEEP=1 keeps the archive
# and the topics afterwards (deleted by default: an hour is ~60 GB of disk).
#
# Runs, on its own topics, subject, users, ports and archive (.run/soak/<time>/), with release
# builds: schema-sync, rubin-alert-sim loading one generated visit and replaying it every 37 s
# with --renumber-ids (each pass is a new visit to everything downstream), alertdb-ingester
# into local files, alertdb-server, registry-proxy, and a community broker (Python
# confluent-kafka over SCRAM-SHA-512, schemas through registry-proxy, one alert in 100 decoded
# with fastavro) reading the live topic throughout. Every 30 s it samples each service's RSS
# and checks that none has died. Afterwards it checks that:
#   - the archive holds exactly passes x ALERTS distinct alerts (one file per alert id);
#   - the live topic holds as many messages, and the broker received every one (distinct ids);
#   - no service restarted or died, and none logged an error;
#   - alertdb-server serves a sample of the archived alerts;
# and writes summary.md (figures, RSS at start and end) in the run's directory. Exit status 0
# only when every check holds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

duration=${1:-3600}
alerts=${2:-10000}
interval=37
passes=$((duration / interval))
((passes >= 1)) || die "duration must be at least $interval s"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
work="$RUN_DIR/soak/$stamp"
logs="$work/logs"
archive="$work/archive"
mkdir -p "$logs" "$archive"
suffix=$(date +%s)
static_topic=soak-static-$suffix
live_topic=soak-live-$suffix
subject=soak-$suffix
user=soak-broker-$suffix
group=$user-night
proxy_port=${SOAK_PROXY_PORT:-18082}
ingester_port=${SOAK_INGESTER_PORT:-19101}
server_port=${SOAK_SERVER_PORT:-15000}
sim_port=${SOAK_SIM_PORT:-19100}
bin=target/release

log "soak: $passes passes of $alerts alerts every $interval s (${duration} s); work dir ${work#"$REPO_ROOT"/}"
cargo build --release -q --workspace --bins

started_stack=0
if ! scripts/stack.sh status >/dev/null 2>&1; then started_stack=1; fi
scripts/stack.sh start
# shellcheck source=/dev/null
source "$RUN_DIR/stack.env"
export ALERT_SCHEMA_DIR
ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)
broker=$ALERTDIST_KAFKA_PLAINTEXT
registry=$ALERTDIST_SCHEMA_REGISTRY_URL

declare -A pids=()
broker_pid=""
cleanup() {
  local status=$? name
  for name in "${!pids[@]}"; do kill "${pids[$name]}" 2>/dev/null || true; done
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null
  wait 2>/dev/null
  if [[ ${SOAK_KEEP:-0} != 1 ]]; then
    rm -rf "$archive" "$work/visit.avro"
    scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --delete --topic "$static_topic" >/dev/null 2>&1 || true
    scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --delete --topic "$live_topic" >/dev/null 2>&1 || true
  fi
  if [[ $started_stack == 1 ]]; then scripts/stack.sh stop || true; fi
  exit "$status"
}
trap cleanup EXIT

# start NAME COMMAND...: a service in the background, its pid remembered.
start() {
  local name=$1; shift
  "$@" >>"$logs/$name.log" 2>&1 </dev/null &
  pids[$name]=$!
}

wait_http() { # NAME URL
  local _
  for _ in $(seq 1 150); do curl -sf -o /dev/null "$2" && return 0; sleep 0.2; done
  die "$1 did not answer at $2; see $logs/$1.log"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

metric() { # URL NAME: the sum of a metric's samples
  { curl -sf "$1" || true; } | awk -v name="$2" '$1 == name || index($1, name "{") == 1 { sum += $2 } END { printf "%.0f\n", sum }'
}

# --- setup -------------------------------------------------------------------------------------
gen_args=(generate --alerts "$alerts" --codec null --output "$work/visit.avro")
[[ ${SOAK_CUTOUTS:-0} == 1 ]] || gen_args+=(--no-cutouts)
"$bin/rubin-alert-sim" "${gen_args[@]}" >>"$logs/generate.log" 2>&1 || die "generate failed; see $logs/generate.log"
visit_bytes=$(stat -c %s "$work/visit.avro")
# The archive stores gzip level 1: 0.64 of the raw bytes with cutouts; 0.67 with filesystem
# overhead without (2026-11-26 soak). Kafka keeps the live topic's retention (4 GiB) and the
# static visit.
need_kb=$(( (visit_bytes / 1024) * passes * 70 / 100 + 4 * 1024 * 1024 + 2 * visit_bytes / 1024 ))
avail_kb=$(df --output=avail -k "$work" | tail -1)
if ((avail_kb < need_kb)); then
  die "the soak needs ~$((need_kb / 1024 / 1024)) GiB of disk, $((avail_kb / 1024 / 1024)) GiB are free; shorten it or free space"
fi
log "visit: $alerts alerts, $((visit_bytes / alerts)) bytes each on average; disk needed ~$((need_kb / 1024 / 1024)) GiB of $((avail_kb / 1024 / 1024)) GiB free"

"$bin/schema-sync" --schema-registry-url "$registry" --subject "$subject" --mode latest --wait 60 \
  >>"$logs/schema-sync.log" 2>&1 || die "schema-sync failed; see $logs/schema-sync.log"
"$bin/rubin-alert-sim" create-stream -B "$broker" --dst-topic "$static_topic" --create-topic \
  --schema-registry-url "$registry" --subject "$subject" "$work/visit.avro" >>"$logs/create-stream.log" 2>&1 \
  || die "create-stream failed; see $logs/create-stream.log"
# Bounded retention on the live topic: 1 GiB a partition in 128 MiB segments (~4 visits of
# slack for the consumers; one that falls further behind loses messages and the checks say so).
scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --create --topic "$live_topic" --partitions 4 \
  --config retention.bytes=1073741824 --config segment.bytes=134217728 >/dev/null
printf '{"users": [{"username": "%s", "readonlyTopics": ["%s"], "groups": ["%s"]}]}\n' \
  "$user" "$live_topic" "$user" >"$work/users.json"
mkdir -p "$work/secrets"
scripts/kafka/users.sh apply --users "$work/users.json" --secrets "$work/secrets" >>"$logs/users.log" 2>&1 \
  || die "users.sh failed; see $logs/users.log"

start registry-proxy "$bin/registry-proxy" --upstream-url "$registry" --listen-host 127.0.0.1 --listen-port "$proxy_port"
start alertdb-ingester "$bin/alertdb-ingester" --kafka-host "$broker" --kafka-auth-mechanism none \
  --kafka-topics "$live_topic" --kafka-group "soak-ingester-$suffix" --schema-registry-address "$registry" \
  --alerts-url "file://$archive" --listen-host 127.0.0.1 --listen-port "$ingester_port"
start alertdb-server "$bin/alertdb-server" --alerts-url "file://$archive" --listen-host 127.0.0.1 --listen-port "$server_port"
wait_http registry-proxy "http://127.0.0.1:$proxy_port/healthz"
wait_http alertdb-ingester "http://127.0.0.1:$ingester_port/readyz"
wait_http alertdb-server "http://127.0.0.1:$server_port/alertdb/v1/health"

BROKER_PASSWORD=$(cat "$work/secrets/$user-password") "$ALERTDIST_PYTHON" \
  integration-tests/python/community_broker.py --bootstrap "$ALERTDIST_KAFKA_SCRAM" --username "$user" \
  --group "$group" --topic "$live_topic" --registry "http://127.0.0.1:$proxy_port" \
  --expect-file "$work/broker-expect" --decode-every 100 --progress "$work/broker-progress.json" \
  --timeout $((duration + 1800)) >"$work/broker-summary.json" 2>>"$logs/community-broker.log" &
broker_pid=$!

start play-stream "$bin/rubin-alert-sim" play-stream -B "$broker" --src-topic "$static_topic" \
  --dst-topic "$live_topic" --repeat-interval "$interval" --passes "$passes" --renumber-ids \
  --listen-host 127.0.0.1 --listen-port "$sim_port"
t0=$(date +%s)

# --- the run -----------------------------------------------------------------------------------
services=(play-stream alertdb-ingester alertdb-server registry-proxy)
echo "elapsed_s,passes,archived,$(IFS=,; echo "${services[*]/%/_rss_kb}")" >"$work/rss.csv"
died=()
sample() {
  local row name
  row="$(($(date +%s) - t0)),$(metric "http://127.0.0.1:$sim_port/metrics" alertsim_passes_total),$(metric "http://127.0.0.1:$ingester_port/metrics" alertdb_ingester_alerts_archived_total)"
  for name in "${services[@]}"; do row+=",$(rss_kb "${pids[$name]}")"; done
  echo "$row" >>"$work/rss.csv"
}
while kill -0 "${pids[play-stream]}" 2>/dev/null; do
  sample
  for name in alertdb-ingester alertdb-server registry-proxy; do
    kill -0 "${pids[$name]}" 2>/dev/null || died+=("$name")
  done
  ((${#died[@]} == 0)) || die "${died[*]} died during the soak; see $logs"
  log "$(tail -1 "$work/rss.csv")"
  sleep 30
done
sample
replay_status=0
wait "${pids[play-stream]}" || replay_status=$?
log "play-stream exited with status $replay_status after $(($(date +%s) - t0)) s"

expected=$((passes * alerts))
# The topic's message count (every partition's high watermark; nothing was deleted by retention
# before the consumers read it, or the counts below would differ).
topic_total=$(scripts/kafka/kafka-tool get-offsets --bootstrap-server "$broker" --topic "$live_topic" --time -1 \
  | awk -F: '{ sum += $3 } END { print sum + 0 }')
printf '%s\n' "$topic_total" >"$work/broker-expect.tmp" && mv "$work/broker-expect.tmp" "$work/broker-expect"

# The ingester drains the topic: wait until its lag is 0 and the archive holds every alert.
count_archive() { find "$archive/v2/alerts" -type f -name '*.avro.gz' 2>/dev/null | wc -l; }
for _ in $(seq 1 120); do
  archived_files=$(count_archive)
  if ((archived_files >= topic_total)); then break; fi
  sleep 5
done
sample
broker_status=0
wait "$broker_pid" || broker_status=$?
broker_pid=""

# --- checks ------------------------------------------------------------------------------------
failures=()
[[ $replay_status == 0 ]] || failures+=("play-stream exited with $replay_status")
((topic_total == expected)) || failures+=("the live topic holds $topic_total messages, expected $expected")
((archived_files == expected)) || failures+=("the archive holds $archived_files alerts, expected $expected")
broker_received=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["received"])' "$work/broker-summary.json" 2>/dev/null || echo 0)
broker_distinct=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["distinct_alert_ids"])' "$work/broker-summary.json" 2>/dev/null || echo 0)
[[ $broker_status == 0 && $broker_received == "$topic_total" && $broker_distinct == "$topic_total" ]] \
  || failures+=("the community broker received $broker_received messages ($broker_distinct distinct ids) of $topic_total, status $broker_status")
for name in alertdb-ingester alertdb-server registry-proxy; do
  kill -0 "${pids[$name]}" 2>/dev/null || failures+=("$name is not running at the end")
done
errors=0
for name in play-stream alertdb-ingester alertdb-server registry-proxy; do
  n=$(grep -c '"level":"ERROR"' "$logs/$name.log" || true)
  ((n == 0)) || failures+=("$name logged $n errors")
  errors=$((errors + n))
done
# A sample of the archive through alertdb-server: the files' ids, fetched over HTTP.
served=0
while read -r file; do
  id=$(basename "$file" .avro.gz)
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$server_port/alertdb/v1/alerts/$id")
  if [[ $code == 200 ]]; then served=$((served + 1)); fi
done < <(find "$archive/v2/alerts" -type f -name '*.avro.gz' | shuf -n 100)
((served == 100)) || failures+=("alertdb-server served $served of 100 sampled alerts")

# RSS: first sample after the first pass vs the last one, and the peak.
rss_report=$(python3 - "$work/rss.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
steady = [r for r in rows if float(r["passes"] or 0) >= 1] or rows
for key in [k for k in rows[0] if k.endswith("_rss_kb")]:
    values = [int(r[key]) for r in steady if int(r[key]) > 0]
    if values:
        print(f"| {key[:-7]} | {values[0]/1024:.1f} | {values[-1]/1024:.1f} | {max(values)/1024:.1f} |")
PY
)
elapsed=$(($(date +%s) - t0))
{
  echo "## Soak $stamp"
  echo
  echo "Command: \`scripts/soak.sh $duration $alerts\` (SOAK_CUTOUTS=${SOAK_CUTOUTS:-0}); $passes passes of $alerts alerts"
  echo "($((visit_bytes / alerts)) bytes on average) every $interval s, renumbered ids; $elapsed s from the first pass to the end of the checks."
  echo
  echo "| check | result |"
  echo "|---|---|"
  echo "| messages in the live topic | $topic_total (expected $expected) |"
  echo "| distinct alerts in the archive | $archived_files |"
  echo "| community broker received (distinct ids) | $broker_received ($broker_distinct) |"
  echo "| alerts served by alertdb-server (random sample) | $served of 100 |"
  echo "| errors logged by the services | $errors |"
  echo "| services restarted or died | $( ((${#died[@]} == 0)) && echo none || echo "${died[*]}") |"
  echo "| load average at the end | $(cut -d' ' -f1-3 /proc/loadavg) |"
  echo
  echo "| service | RSS after the first pass (MB) | RSS at the end (MB) | peak sampled RSS (MB) |"
  echo "|---|---|---|---|"
  echo "$rss_report"
  echo
  if ((${#failures[@]} == 0)); then echo "Every check held."; else printf -- '- FAILED: %s\n' "${failures[@]}"; fi
} >"$work/summary.md"
cat "$work/summary.md"
((${#failures[@]} == 0))
