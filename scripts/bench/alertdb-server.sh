#!/usr/bin/env bash
# Benchmark alertdb-server against nginx serving the same files, in one run on this machine.
#
#   scripts/bench/alertdb-server.sh            # 10,000 alerts, 20 s per wrk run
#   ALERTS=2000 DURATION=10s scripts/bench/alertdb-server.sh
#   ROUNDS=5 DURATION=5s BASELINE_BIN=/tmp/old-alertdb-server scripts/bench/alertdb-server.sh
#
# 1. Writes ALERTS realistic alerts (~110 KB, latest schema, cutouts) as the ingester does
#    (v2 layout, gzip) into .run/bench/alertdb-archive (kept between runs).
# 2. Starts the release server on the archive (file://, alert cache off) and Debian nginx on
#    the same directory with `gzip_static on`, both on loopback ports.
# 3. wrk with a Lua script asks random ids with `Accept-Encoding: gzip` from both and prints
#    requests/s, p99 and the ratio; then latency at a fixed ~500 requests/s (wrk cannot
#    rate-limit, so the Lua script paces each of 10 connections with `delay()`: closed-loop
#    pacing, which does not correct for coordinated omission); cached schema requests/s; and the
#    server's peak RSS (VmHWM) after all of it.
# 4. With BASELINE_BIN=path/to/another/alertdb-server, also runs that binary on the same archive
#    (port SERVER_PORT+2) and measures it right after the server at full load: an A/B of two
#    builds in one run, beside the same nginx figure.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ALERTS=${ALERTS:-10000}
DURATION=${DURATION:-20s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-1}
SERVER_PORT=${SERVER_PORT:-18561}
NGINX_PORT=${NGINX_PORT:-18562}
WORK="$RUN_DIR/bench/alertdb"
ARCHIVE="$RUN_DIR/bench/alertdb-archive-$ALERTS"
mkdir -p "$WORK"

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v nginx >/dev/null || die "nginx not found (apt-get install nginx-light)"

log "building release binaries (once; several minutes the first time)"
# The services as scripts/test.sh builds them (the same package selection, so nothing is
# rebuilt and the binary the tests use is not replaced), then the archive writer.
(cd "$REPO_ROOT" && cargo build --release --quiet --workspace --bins \
  && cargo build --release --quiet -p alertdb-server --example bench_archive)
SERVER_BIN=${SERVER_BIN:-$REPO_ROOT/target/release/alertdb-server}
BASELINE_BIN=${BASELINE_BIN:-}
BASELINE_PORT=$((SERVER_PORT + 2))
POPULATE_BIN="$REPO_ROOT/target/release/examples/bench_archive"

if [[ ! -f $ARCHIVE/.complete ]]; then
  log "writing $ALERTS alerts to $ARCHIVE"
  rm -rf "$ARCHIVE"
  "$POPULATE_BIN" "$ARCHIVE" "$ALERTS" "$("$REPO_ROOT/scripts/install/schema-dir.sh")" >"$ARCHIVE.info"
  touch "$ARCHIVE/.complete"
fi
INFO=$(cat "$ARCHIVE.info")
log "archive: $INFO"
FIRST_ID=$(sed -E 's/.*first_alert_id=([0-9]+).*/\1/' <<<"$INFO")
SCHEMA_ID=$(sed -E 's/.*schema_id=([0-9]+).*/\1/' <<<"$INFO")

cat >"$WORK/random.lua" <<'LUA'
-- args: first_id count mode(server|nginx) [delay_ms]
local first, count, mode, pause
function init(args)
  first = tonumber(args[1]); count = tonumber(args[2]); mode = args[3]
  pause = tonumber(args[4] or "0")
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  -- Only paced runs define delay(): wrk arms a timer per request when it exists.
  if pause > 0 then
    delay = function() return pause end
  end
end
function request()
  local id = string.format("%.0f", first + math.random(0, count - 1))
  local path
  if mode == "nginx" then
    path = "/v2/alerts/" .. id:sub(1, 6) .. "/" .. id .. ".avro"
  else
    path = "/v1/alerts/" .. id
  end
  return wrk.format("GET", path, { ["Accept-Encoding"] = "gzip" })
end
LUA

cat >"$WORK/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx-tmp;
  proxy_temp_path $WORK/nginx-tmp;
  fastcgi_temp_path $WORK/nginx-tmp;
  uwsgi_temp_path $WORK/nginx-tmp;
  scgi_temp_path $WORK/nginx-tmp;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $ARCHIVE;
    gzip_static on;
    etag on;
  }
}
NGINX
mkdir -p "$WORK/nginx-tmp"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
LOG_FORMAT=text RUST_LOG=warn "$SERVER_BIN" --listen-host 127.0.0.1 --listen-port "$SERVER_PORT" \
  --alerts-url "file://$ARCHIVE" 2>"$WORK/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
if [[ -n $BASELINE_BIN ]]; then
  LOG_FORMAT=text RUST_LOG=warn "$BASELINE_BIN" --listen-host 127.0.0.1 --listen-port "$BASELINE_PORT" \
    --alerts-url "file://$ARCHIVE" 2>"$WORK/baseline.log" &
  PIDS+=($!)
fi

wait_http() {
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  die "$1 does not answer"
}
SAMPLE_PATH_ID=$FIRST_ID
wait_http "http://127.0.0.1:$SERVER_PORT/v1/health"
wait_http "http://127.0.0.1:$NGINX_PORT/v2/schemas/$SCHEMA_ID.json"
[[ -z $BASELINE_BIN ]] || wait_http "http://127.0.0.1:$BASELINE_PORT/v1/health"

# Same bytes from both (sanity check of the comparison).
S=${SAMPLE_PATH_ID:0:6}
cmp <(curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$SERVER_PORT/v1/alerts/$SAMPLE_PATH_ID") \
    <(curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$NGINX_PORT/v2/alerts/$S/$SAMPLE_PATH_ID.avro") \
  || die "server and nginx send different bytes"

# wrk_run NAME URL ARGS... → prints "NAME rps p99_ms"
wrk_run() {
  local name=$1 url=$2; shift 2
  local out
  out=$(wrk --latency -t"$THREADS" "$@" -s "$WORK/random.lua" "$url" -- "$FIRST_ID" "$ALERTS" "$name")
  echo "$out" >"$WORK/wrk-$name.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $(to_ms "$p99")"
}
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "warm-up"
wrk -t1 -c8 -d3s -s "$WORK/random.lua" "http://127.0.0.1:$NGINX_PORT" -- "$FIRST_ID" "$ALERTS" nginx >/dev/null
wrk -t1 -c8 -d3s -s "$WORK/random.lua" "http://127.0.0.1:$SERVER_PORT" -- "$FIRST_ID" "$ALERTS" server >/dev/null
[[ -z $BASELINE_BIN ]] ||
  wrk -t1 -c8 -d3s -s "$WORK/random.lua" "http://127.0.0.1:$BASELINE_PORT" -- "$FIRST_ID" "$ALERTS" server >/dev/null

log "max throughput: $CONNECTIONS connections, $DURATION each, $ROUNDS round(s)"
# ROUNDS > 1 alternates the targets round by round and reports medians, so that load from
# other work on the machine, which comes and goes, weighs on each of them alike.
NGINX_ALL=() SERVER_ALL=() BASELINE_ALL=() RATIOS=()
for round in $(seq "$ROUNDS"); do
  read -r NGINX_RPS NGINX_P99 < <(wrk_run nginx "http://127.0.0.1:$NGINX_PORT" -c"$CONNECTIONS" -d"$DURATION")
  read -r SERVER_RPS SERVER_P99 < <(wrk_run server "http://127.0.0.1:$SERVER_PORT" -c"$CONNECTIONS" -d"$DURATION")
  NGINX_ALL+=("$NGINX_RPS/$NGINX_P99") SERVER_ALL+=("$SERVER_RPS/$SERVER_P99")
  RATIOS+=("$(awk -v s="$SERVER_RPS" -v n="$NGINX_RPS" 'BEGIN { printf "%.2f", s / n }')")
  if [[ -n $BASELINE_BIN ]]; then
    read -r BASELINE_RPS BASELINE_P99 < <(wrk_run server "http://127.0.0.1:$BASELINE_PORT" -c"$CONNECTIONS" -d"$DURATION")
    BASELINE_ALL+=("$BASELINE_RPS/$BASELINE_P99")
  fi
  log "round $round: nginx $NGINX_RPS req/s, server $SERVER_RPS${BASELINE_BIN:+, baseline $BASELINE_RPS} (load $(cut -d' ' -f1 /proc/loadavg))"
done
# median "rps p99" of "rps/p99" items, by rps
median() { printf '%s\n' "$@" | sort -t/ -k1,1g | awk -F/ '{ r[NR] = $1; p[NR] = $2 } END { m = int((NR + 1) / 2); print r[m], p[m] }'; }
read -r NGINX_RPS NGINX_P99 < <(median "${NGINX_ALL[@]}")
read -r SERVER_RPS SERVER_P99 < <(median "${SERVER_ALL[@]}")
[[ -z $BASELINE_BIN ]] || read -r BASELINE_RPS BASELINE_P99 < <(median "${BASELINE_ALL[@]}")

log "fixed rate: 10 connections x 1 request / 20 ms = ~500 requests/s"
FIXED=$(wrk --latency -t2 -c10 -d"$DURATION" -s "$WORK/random.lua" "http://127.0.0.1:$SERVER_PORT" -- "$FIRST_ID" "$ALERTS" server 20)
FIXED_RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$FIXED")
FIXED_P99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$FIXED")")
FIXED_NGINX=$(wrk --latency -t2 -c10 -d"$DURATION" -s "$WORK/random.lua" "http://127.0.0.1:$NGINX_PORT" -- "$FIRST_ID" "$ALERTS" nginx 20)
FIXED_NGINX_P99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$FIXED_NGINX")")

log "cached schema"
SCHEMA_OUT=$(wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$SERVER_PORT/v1/schemas/$SCHEMA_ID")
SCHEMA_RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$SCHEMA_OUT")
SCHEMA_P99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$SCHEMA_OUT")")
SCHEMA_GZ_OUT=$(wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$SERVER_PORT/v1/schemas/$SCHEMA_ID")
SCHEMA_GZ_RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$SCHEMA_GZ_OUT")
SCHEMA_GZ_P99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$SCHEMA_GZ_OUT")")
NGINX_SCHEMA_OUT=$(wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$NGINX_PORT/v2/schemas/$SCHEMA_ID.json")
NGINX_SCHEMA_RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$NGINX_SCHEMA_OUT")

PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")

echo
echo "alertdb-server benchmark ($(nproc) cores, $ALERTS alerts: $INFO)"
[[ $ROUNDS == 1 ]] || echo "random alerts: median of $ROUNDS alternating rounds of $DURATION; server/nginx by round: ${RATIOS[*]}"
printf '%-44s %12s %10s\n' "" "requests/s" "p99 ms"
printf '%-44s %12s %10s\n' "nginx gzip_static, random alerts" "$NGINX_RPS" "$NGINX_P99"
printf '%-44s %12s %10s\n' "alertdb-server, random alerts (gzip)" "$SERVER_RPS" "$SERVER_P99"
awk -v s="$SERVER_RPS" -v n="$NGINX_RPS" 'BEGIN { printf "ratio server/nginx: %.2fx (target >= 0.7x)\n", s / n }'
if [[ -n $BASELINE_BIN ]]; then
  printf '%-44s %12s %10s\n' "baseline ($(basename "$BASELINE_BIN")), random" "$BASELINE_RPS" "$BASELINE_P99"
  awk -v s="$BASELINE_RPS" -v n="$NGINX_RPS" 'BEGIN { printf "ratio baseline/nginx: %.2fx\n", s / n }'
fi
printf '%-44s %12s %10s\n' "alertdb-server at ~500 req/s (paced)" "$FIXED_RPS" "$FIXED_P99"
printf '%-44s %12s %10s\n' "nginx at ~500 req/s (paced)" "" "$FIXED_NGINX_P99"
printf '%-44s %12s %10s\n' "alertdb-server, cached schema" "$SCHEMA_RPS" "$SCHEMA_P99"
printf '%-44s %12s\n' "nginx, same schema file" "$NGINX_SCHEMA_RPS"
printf '%-44s %12s %10s\n' "alertdb-server, cached schema, gzip accepted" "$SCHEMA_GZ_RPS" "$SCHEMA_GZ_P99"
echo "alertdb-server peak RSS: $((PEAK_RSS_KB / 1024)) MB (alert cache off; target <= 100 MB)"
# Other work shares the machine: figures taken under load are not comparable.
echo "load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
# Rows of scripts/bench/report.sh's table.
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? v >= t : v <= t; print (ok ? "met" : "missed") }'; }
RATIO=$(awk -v s="$SERVER_RPS" -v n="$NGINX_RPS" 'BEGIN { printf "%.2f", s / n }')
bench_row alertdb-server "random GET /v1/alerts/{id} (gzip), $CONNECTIONS connections, median of $ROUNDS" \
  "$SERVER_RPS req/s" ">= 0.7x nginx" "nginx gzip_static $NGINX_RPS req/s" "${RATIO}x" "$(verdict "$RATIO" 0.7 ">=")"
bench_row alertdb-server "p99 at ~500 req/s" "$FIXED_P99 ms" "<= 20 ms" "nginx $FIXED_NGINX_P99 ms" "" "$(verdict "$FIXED_P99" 20 "<=")"
bench_row alertdb-server "cached GET /v1/schemas/{id}" "$SCHEMA_RPS req/s" ">= 30,000 req/s" "nginx $NGINX_SCHEMA_RPS req/s" \
  "$(awk -v s="$SCHEMA_RPS" -v n="$NGINX_SCHEMA_RPS" 'BEGIN { printf "%.2fx", s / n }')" "$(verdict "$SCHEMA_RPS" 30000 ">=")"
bench_row alertdb-server "peak RSS (alert cache off)" "$((PEAK_RSS_KB / 1024)) MB" "<= 100 MB" "" "" "$(verdict "$((PEAK_RSS_KB / 1024))" 100 "<=")"
