#!/usr/bin/env bash
# Benchmark alertdb-server's Herald-compatible API (/api/alerts) against Herald's own Python
# conversion of the same alerts, in one run on this machine.
#
#   scripts/bench/herald.sh                       # the server benchmark's 10,000-alert archive
#   ALERTS=2000 DURATION=10s scripts/bench/herald.sh
#   FORMATS="json fits" scripts/bench/herald.sh  # some routes only (avro json fits cutouts schema links)
#
# 1. Uses (or writes) the archive of scripts/bench/alertdb-server.sh: ALERTS realistic alerts
#    (~110 KB, latest schema, cutouts, 178+178 history records) as the ingester writes them.
# 2. Starts the release server on it (file://, alert cache off).
# 3. For each format (Avro OCF, JSON, FITS) and for the cutouts, schema and DataLink routes: wrk
#    asks random ids with CONNECTIONS connections for DURATION → requests/s and p99; then at a
#    fixed ~200 requests/s (10 connections, one request each 50 ms: closed-loop pacing, which
#    does not correct for coordinated omission) → p99.
# 4. scripts/bench/herald_python.py does Herald's conversion of the same archive's alerts in
#    PY_PROCESSES processes (default: one per core) for PY_SECONDS per format → conversions/s
#    and p99, without HTTP or S3 (an upper bound of what Herald serves here).
# 5. Prints both side by side with the ratios and the issue's targets (OCF and JSON >= 20x,
#    FITS >= 10x the Python conversion; p99 <= 50 ms at 200 requests/s).
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ALERTS=${ALERTS:-10000}
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_PORT=${SERVER_PORT:-18571}
PY_SECONDS=${PY_SECONDS:-15}
PY_PROCESSES=${PY_PROCESSES:-$(nproc)}
PYTHON=${PYTHON:-$CACHE_DIR/venv/bin/python}
WORK="$RUN_DIR/bench/herald"
ARCHIVE="$RUN_DIR/bench/alertdb-archive-$ALERTS"
mkdir -p "$WORK"

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ -x $PYTHON ]] || die "$PYTHON not found (scripts/install.sh python)"

log "building release binaries (once; several minutes the first time)"
(cd "$REPO_ROOT" && cargo build --release --quiet --workspace --bins \
  && cargo build --release --quiet -p alertdb-server --example bench_archive)
SERVER_BIN=${SERVER_BIN:-$REPO_ROOT/target/release/alertdb-server}

if [[ ! -f $ARCHIVE/.complete ]]; then
  log "writing $ALERTS alerts to $ARCHIVE"
  rm -rf "$ARCHIVE"
  "$REPO_ROOT/target/release/examples/bench_archive" "$ARCHIVE" "$ALERTS" \
    "$("$REPO_ROOT/scripts/install/schema-dir.sh")" >"$ARCHIVE.info"
  touch "$ARCHIVE/.complete"
fi
INFO=$(cat "$ARCHIVE.info")
log "archive: $INFO"
FIRST_ID=$(sed -E 's/.*first_alert_id=([0-9]+).*/\1/' <<<"$INFO")
SCHEMA_ID=$(sed -E 's/.*schema_id=([0-9]+).*/\1/' <<<"$INFO")

cat >"$WORK/random.lua" <<'LUA'
-- args: first_id count query-suffix [delay_ms]
local first, count, suffix, path, pause
function init(args)
  first = tonumber(args[1]); count = tonumber(args[2]); path = args[3]; suffix = args[4]
  pause = tonumber(args[5] or "0")
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  if pause > 0 then
    delay = function() return pause end
  end
end
function request()
  local id = string.format("%.0f", first + math.random(0, count - 1))
  return wrk.format("GET", path .. "?ID=" .. id .. suffix)
end
LUA

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

LOG_FORMAT=text RUST_LOG=warn "$SERVER_BIN" --listen-host 127.0.0.1 --listen-port "$SERVER_PORT" \
  --alerts-url "file://$ARCHIVE" 2>"$WORK/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
BASE="http://127.0.0.1:$SERVER_PORT"
for _ in $(seq 100); do curl -sf -o /dev/null "$BASE/v1/health" && break; sleep 0.1; done
curl -sf -o /dev/null "$BASE/api/alerts?ID=$FIRST_ID" || die "the server does not answer /api/alerts"

to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
# The server's CPU time so far, in clock ticks (user + system).
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
TICK=$(getconf CLK_TCK)
# run NAME PATH SUFFIX CONNECTIONS [DELAY_MS] → "rps p99_ms cpu_ms_per_request" (and wrk's
# output in $WORK). CPU per request is the server's own CPU time over the requests answered:
# unlike requests/s, it does not depend on how much of the machine other work takes.
run() {
  local name=$1 path=$2 suffix=$3 connections=$4 delay=${5:-0} out before after
  before=$(server_ticks)
  out=$(wrk --latency -t"$THREADS" -c"$connections" -d"$DURATION" -s "$WORK/random.lua" "$BASE" \
    -- "$FIRST_ID" "$ALERTS" "$path" "$suffix" "$delay")
  after=$(server_ticks)
  echo "$out" >"$WORK/wrk-$name.txt"
  grep -q "Non-2xx" <<<"$out" && die "$name: non-2xx answers (see $WORK/wrk-$name.txt)"
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")" \
    "$(awk -v t=$((after - before)) -v hz="$TICK" '/requests in/ { printf "%.3f", 1000 * t / hz / $1 }' <<<"$out")"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "warm-up"
wrk -t1 -c8 -d3s -s "$WORK/random.lua" "$BASE" -- "$FIRST_ID" "$ALERTS" /api/alerts "" >/dev/null

declare -A RPS P99 PACED CPU
read -r -a FORMATS <<<"${FORMATS:-avro json fits cutouts schema links}"
declare -A PATHS=([avro]=/api/alerts [json]=/api/alerts [fits]=/api/alerts [cutouts]=/api/alerts/cutouts
  [schema]=/api/alerts/schema [links]=/api/alerts/links)
declare -A SUFFIXES=([avro]="" [json]="&RESPONSEFORMAT=json" [fits]="&RESPONSEFORMAT=fits" [cutouts]=""
  [schema]="" [links]="")
for f in "${FORMATS[@]}"; do
  log "$f: $CONNECTIONS connections, $DURATION"
  read -r rps p99 cpu < <(run "$f" "${PATHS[$f]}" "${SUFFIXES[$f]}" "$CONNECTIONS")
  RPS[$f]=$rps P99[$f]=$p99 CPU[$f]=$cpu
  log "$f: ~200 requests/s (10 connections x 1 request / 50 ms)"
  read -r _ p99 _ < <(run "$f-paced" "${PATHS[$f]}" "${SUFFIXES[$f]}" 10 50)
  PACED[$f]=$p99
done
PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
kill "$SERVER_PID"

log "Herald's Python conversion: $PY_PROCESSES process(es), ${PY_SECONDS}s per format"
PY=$("$PYTHON" "$REPO_ROOT/scripts/bench/herald_python.py" "$ARCHIVE" "$FIRST_ID" "$ALERTS" "$SCHEMA_ID" \
  "$PY_SECONDS" "$PY_PROCESSES")
echo "$PY" >"$WORK/python.json"
py() { "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])" \
  "$WORK/python.json" "$1" "$2"; }

echo
echo "Herald-compatible API benchmark ($(nproc) cores, $ALERTS alerts: $INFO)"
printf '%-8s %11s %8s %12s %8s | %12s %8s %8s | %7s %7s %7s\n' format "server r/s" "p99 ms" "p99@200 ms" \
  "CPU ms" "python c/s" "p99 ms" "CPU ms" "ratio" "CPU x" target
for f in "${FORMATS[@]}"; do
  case $f in
    avro | json | fits)
      PY_RATE=$(py "$f" per_second) PY_P99=$(py "$f" p99_ms) PY_CPU=$(py "$f" cpu_ms)
      RATIO=$(awk -v s="${RPS[$f]}" -v p="$PY_RATE" 'BEGIN { printf "%.1fx", s / p }')
      CPU_RATIO=$(awk -v s="${CPU[$f]}" -v p="$PY_CPU" 'BEGIN { printf "%.1fx", p / s }')
      TARGET=$([[ $f == fits ]] && echo ">=10x" || echo ">=20x")
      ;;
    *) PY_RATE="" PY_P99="" PY_CPU="" RATIO="" CPU_RATIO="" TARGET="" ;;
  esac
  printf '%-8s %11s %8s %12s %8s | %12s %8s %8s | %7s %7s %7s\n' "$f" "${RPS[$f]}" "${P99[$f]}" "${PACED[$f]}" \
    "${CPU[$f]}" "$PY_RATE" "$PY_P99" "$PY_CPU" "$RATIO" "$CPU_RATIO" "$TARGET"
done
echo "ratio: server requests/s over Python conversions/s (both wall clock, measured one after the other);"
echo "CPU x: Python's CPU time per conversion over the server's CPU time per request (HTTP included)"
echo "server peak RSS: $((PEAK_RSS_KB / 1024)) MB; python: $PY_PROCESSES process(es), conversion only (no HTTP, no S3)"
echo "load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? v >= t : v <= t; print (ok ? "met" : "missed") }'; }
for f in avro json fits; do
  [[ -n ${RPS[$f]:-} ]] || continue
  target=$([[ $f == fits ]] && echo 10 || echo 20)
  ratio=$(awk -v s="${RPS[$f]}" -v p="$(py "$f" per_second)" 'BEGIN { printf "%.1f", s / p }')
  bench_row alertdb-server "GET /api/alerts $f, $CONNECTIONS connections" "${RPS[$f]} req/s" ">= ${target}x Python" \
    "Herald's conversion $(py "$f" per_second)/s on $PY_PROCESSES processes" "${ratio}x" "$(verdict "$ratio" "$target" ">=")"
  cpu_ratio=$(awk -v s="${CPU[$f]}" -v p="$(py "$f" cpu_ms)" 'BEGIN { printf "%.1f", p / s }')
  bench_row alertdb-server "GET /api/alerts $f, CPU per request" "${CPU[$f]} ms" ">= ${target}x Python" \
    "Herald's conversion $(py "$f" cpu_ms) ms CPU" "${cpu_ratio}x" "$(verdict "$cpu_ratio" "$target" ">=")"
  bench_row alertdb-server "GET /api/alerts $f, p99 at ~200 req/s" "${PACED[$f]} ms" "<= 50 ms" "" "" \
    "$(verdict "${PACED[$f]}" 50 "<=")"
done
