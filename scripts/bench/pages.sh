#!/usr/bin/env bash
# Benchmark alertdb-server's pages for people (issue 20): the alert page and the cutout PNGs.
#
#   scripts/bench/pages.sh                     # 1,000 realistic alerts, 10 s per wrk run
#   ALERTS=2000 DURATION=20s scripts/bench/pages.sh
#   BUILD=0 scripts/bench/pages.sh             # use the release binaries already built
#
# 1. Uses (or writes) an archive of scripts/bench/alertdb-server.sh's kind: ALERTS realistic
#    alerts (~110 KB, latest schema, 178+178 history records, three 37×37 cutouts) as the
#    ingester writes them (v2 layout, gzip).
# 2. Starts the release server on it (file://, alert cache off: every request reads, gunzips
#    and decodes its alert, as for an alert nobody asked for recently).
# 3. For GET /v1/alerts/{id}/view and GET /v1/alerts/{id}/cutouts/{kind}.png?size=256 (the
#    page's images; kinds in turn), random ids, wrk --latency:
#    - one connection, one request at a time: the latency of a request on an idle server
#      (server time plus loopback), p50 and p99, and the server's CPU time per request;
#    - ~100 requests/s (4 connections, one request each 40 ms: closed-loop pacing, which does
#      not correct for coordinated omission): p99 under a steady load;
#    - CONNECTIONS connections: the most requests/s, and p99 when saturated.
# 4. Prints the figures and BENCH-ROW lines against the issue's targets: alert page p99
#    <= 30 ms, cutout PNG p99 <= 10 ms (judged on the paced run: a steady load, not a
#    saturated server, whose queueing time is not the server's time for a request).
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ALERTS=${ALERTS:-1000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
SERVER_PORT=${SERVER_PORT:-18581}
BUILD=${BUILD:-1}
WORK="$RUN_DIR/bench/pages"
ARCHIVE="$RUN_DIR/bench/alertdb-archive-$ALERTS"
mkdir -p "$WORK"

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"

if [[ $BUILD == 1 ]]; then
  log "building release binaries (once; several minutes the first time)"
  (cd "$REPO_ROOT" && cargo build --release --quiet --workspace --bins \
    && cargo build --release --quiet -p alertdb-server --example bench_archive)
fi
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

cat >"$WORK/random.lua" <<'LUA'
-- args: first_id count what(page|png) [delay_ms]
local first, count, what, pause
local kinds = { "difference", "science", "template" }
local n = 0
function init(args)
  first = tonumber(args[1]); count = tonumber(args[2]); what = args[3]
  pause = tonumber(args[4] or "0")
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  if pause > 0 then
    delay = function() return pause end
  end
end
function request()
  local id = string.format("%.0f", first + math.random(0, count - 1))
  if what == "page" then
    return wrk.format("GET", "/v1/alerts/" .. id .. "/view")
  end
  n = n + 1
  return wrk.format("GET", "/v1/alerts/" .. id .. "/cutouts/" .. kinds[n % 3 + 1] .. ".png?size=256")
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
curl -sf -o "$WORK/page.html" "$BASE/v1/alerts/$FIRST_ID/view" || die "the server does not answer the alert page"
curl -sf -o "$WORK/science.png" "$BASE/v1/alerts/$FIRST_ID/cutouts/science.png?size=256" \
  || die "the server does not answer the cutout PNG"
PAGE_KB=$(($(stat -c %s "$WORK/page.html") / 1024))
PNG_BYTES=$(stat -c %s "$WORK/science.png")

to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
TICK=$(getconf CLK_TCK)
# run NAME WHAT CONNECTIONS [DELAY_MS] -> "requests/s p50_ms p99_ms cpu_ms_per_request"
run() {
  local name=$1 what=$2 connections=$3 delay=${4:-0} out before after
  before=$(server_ticks)
  out=$(wrk --latency -t1 -c"$connections" -d"$DURATION" -s "$WORK/random.lua" "$BASE" \
    -- "$FIRST_ID" "$ALERTS" "$what" "$delay")
  after=$(server_ticks)
  echo "$out" >"$WORK/wrk-$name.txt"
  grep -q "Non-2xx" <<<"$out" && die "$name: non-2xx answers (see $WORK/wrk-$name.txt)"
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")" \
    "$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")" \
    "$(awk -v t=$((after - before)) -v hz="$TICK" '/requests in/ { printf "%.3f", 1000 * t / hz / $1 }' <<<"$out")"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "warm-up"
wrk -t1 -c4 -d3s -s "$WORK/random.lua" "$BASE" -- "$FIRST_ID" "$ALERTS" page >/dev/null
wrk -t1 -c4 -d3s -s "$WORK/random.lua" "$BASE" -- "$FIRST_ID" "$ALERTS" png >/dev/null

declare -A ONE_P50 ONE_P99 CPU PACED MAX_RPS MAX_P99
for what in page png; do
  log "$what: one connection, $DURATION"
  read -r _ p50 p99 cpu < <(run "$what-one" "$what" 1)
  ONE_P50[$what]=$p50 ONE_P99[$what]=$p99 CPU[$what]=$cpu
  log "$what: ~100 requests/s (4 connections x 1 request / 40 ms), $DURATION"
  read -r _ _ p99 _ < <(run "$what-paced" "$what" 4 40)
  PACED[$what]=$p99
  log "$what: $CONNECTIONS connections, $DURATION"
  read -r rps _ p99 _ < <(run "$what-max" "$what" "$CONNECTIONS")
  MAX_RPS[$what]=$rps MAX_P99[$what]=$p99
done
PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")

echo
echo "Alert pages benchmark ($(nproc) cores, $ALERTS alerts: $INFO; page ~${PAGE_KB} KB, PNG 256x256 ${PNG_BYTES} bytes)"
printf '%-6s %10s %10s %10s %14s %12s %12s\n' route "p50 1c ms" "p99 1c ms" "CPU ms" "p99@100/s ms" \
  "max req/s" "p99 max ms"
for what in page png; do
  printf '%-6s %10s %10s %10s %14s %12s %12s\n' "$what" "${ONE_P50[$what]}" "${ONE_P99[$what]}" \
    "${CPU[$what]}" "${PACED[$what]}" "${MAX_RPS[$what]}" "${MAX_P99[$what]}"
done
echo "1c: one connection, one request at a time; CPU: the server's CPU time per request (HTTP included);"
echo "max: $CONNECTIONS connections, wrk on the same $(nproc) cores"
echo "server peak RSS: $((PEAK_RSS_KB / 1024)) MB"
echo "load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "met" : "missed") }'; }
bench_row alertdb-server "GET /v1/alerts/{id}/view, p99 at ~100 req/s" "${PACED[page]} ms" "<= 30 ms" \
  "idle p99 ${ONE_P99[page]} ms, CPU ${CPU[page]} ms/request" "" "$(verdict "${PACED[page]}" 30)"
bench_row alertdb-server "GET /v1/alerts/{id}/cutouts/{kind}.png?size=256, p99 at ~100 req/s" \
  "${PACED[png]} ms" "<= 10 ms" "idle p99 ${ONE_P99[png]} ms, CPU ${CPU[png]} ms/request" "" \
  "$(verdict "${PACED[png]}" 10)"
bench_row alertdb-server "GET /v1/alerts/{id}/view, $CONNECTIONS connections" "${MAX_RPS[page]} req/s" "" \
  "p99 ${MAX_P99[page]} ms" "" ""
