#!/usr/bin/env bash
# Benchmark of registry-proxy (issue 7): GET /schemas/ids/{id} through the proxy and, in the
# same run, through Debian's nginx configured as the seeds' ingress did (`limit_except GET
# { deny all; }` + proxy_pass to the same registry). Prints requests/s and p99 of each, the
# ratio proxy/nginx and the proxy's peak RSS. Everything it starts, it stops.
#
# Usage: scripts/bench/registry-proxy.sh [DURATION] [CONNECTIONS] [THREADS]
#   defaults: 15s, 32 connections, 2 threads. Needs the local stack (scripts/stack.sh start),
#   wrk and nginx (Debian: apt-get install wrk nginx-light).
#   BASELINE_BIN=path/to/another/registry-proxy also measures that build, right after this one,
#   in the same run (an A/B of two builds beside the same nginx figure).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
# shellcheck source=SCRIPTDIR/../lib.sh
source scripts/lib.sh  # bench_row
duration="${1:-15s}"
connections="${2:-32}"
threads="${3:-2}"

# shellcheck disable=SC1091
source .run/stack.env
registry="$ALERTDIST_SCHEMA_REGISTRY_URL"
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
    echo "error: $tool is not installed (apt-get install wrk nginx-light)" >&2
    exit 1
  }
done
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d)"
proxy_pid=""
baseline_pid=""
nginx_started=""
cleanup() {
  for pid in $proxy_pid $baseline_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$nginx_started" ]; then
    "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -s stop 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  "$ALERTDIST_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # url
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "error: $1 never answered" >&2
  exit 1
}

# A realistic schema: the full lsst-alert-packet alert schema (~120 KB of JSON), registered
# under a subject of its own.
subject="bench-registry-proxy-$RANDOM$RANDOM"
"$ALERTDIST_PYTHON" - "$registry" "$subject" >"$work/id" <<'EOF'
import json, sys, urllib.request
import lsst.alert.packet as packet
registry, subject = sys.argv[1], sys.argv[2]
schema = json.dumps(packet.Schema.from_file().definition)
request = urllib.request.Request(
    f"{registry}/subjects/{subject}/versions",
    data=json.dumps({"schema": schema}).encode(),
    headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    method="POST",
)
print(json.load(urllib.request.urlopen(request))["id"])
EOF
id="$(cat "$work/id")"
echo "schema id $id under subject $subject ($(curl -fsS "$registry/schemas/ids/$id" | wc -c) bytes)"

echo "building registry-proxy (release)..."
cargo build --release --quiet --workspace --bins
proxy_port="$(free_port)"
LOG_FORMAT=text RUST_LOG=warn target/release/registry-proxy \
  --upstream-url "$registry" --listen-host 127.0.0.1 --listen-port "$proxy_port" \
  --path-prefix /schema-registry 2>"$work/proxy.log" &
proxy_pid=$!
wait_http "http://127.0.0.1:$proxy_port/healthz"
baseline_bin="${BASELINE_BIN:-}"
if [ -n "$baseline_bin" ]; then
  baseline_port="$(free_port)"
  LOG_FORMAT=text RUST_LOG=warn "$baseline_bin" \
    --upstream-url "$registry" --listen-host 127.0.0.1 --listen-port "$baseline_port" \
    --path-prefix /schema-registry 2>"$work/baseline.log" &
  baseline_pid=$!
  wait_http "http://127.0.0.1:$baseline_port/healthz"
fi

nginx_port="$(free_port)"
upstream_hostport="$(echo "$registry" | sed -E 's#^http://([^/]+).*#\1#')"
upstream_path="$(echo "$registry" | sed -E 's#^http://[^/]+##')"
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream registry { server $upstream_hostport; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      # The seeds' ingress snippet: read-only access to the schema registry.
      limit_except GET { deny all; }
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://registry$upstream_path/;
    }
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log"
nginx_started=1
wait_http "http://127.0.0.1:$nginx_port/schemas/ids/$id"

accept='Accept: application/vnd.schemaregistry.v1+json'
proxy_url="http://127.0.0.1:$proxy_port/schema-registry/schemas/ids/$id"
nginx_url="http://127.0.0.1:$nginx_port/schemas/ids/$id"
cmp <(curl -fsS -H "$accept" "$proxy_url") <(curl -fsS -H "$accept" "$nginx_url") \
  || { echo "error: proxy and nginx answer differently" >&2; exit 1; }

run_wrk() { # name url
  echo "--- $1: wrk -t$threads -c$connections -d$duration --latency $2" >&2
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "$accept" "$2" | tee "$work/$1.wrk" >&2
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/$1.wrk")"
  p99="$(awk '$1 == "99%" {print $2}' "$work/$1.wrk")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' "$work/$1.wrk")"
  [ -z "$non2xx" ] || { echo "error: $1 answered $non2xx non-2xx responses" >&2; exit 1; }
  echo "$rps $p99"
}

# Warm both (the proxy's cache, nginx's upstream connections), then measure.
wrk -t1 -c4 -d2s -H "$accept" "$proxy_url" >/dev/null
wrk -t1 -c4 -d2s -H "$accept" "$nginx_url" >/dev/null
read -r nginx_rps nginx_p99 < <(run_wrk nginx "$nginx_url")
read -r proxy_rps proxy_p99 < <(run_wrk registry-proxy "$proxy_url")
peak_rss_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$proxy_pid/status")"
if [ -n "$baseline_bin" ]; then
  baseline_url="http://127.0.0.1:$baseline_port/schema-registry/schemas/ids/$id"
  wrk -t1 -c4 -d2s -H "$accept" "$baseline_url" >/dev/null
  read -r baseline_rps baseline_p99 < <(run_wrk baseline "$baseline_url")
fi

echo
echo "GET /schemas/ids/$id ($duration, $connections connections, $threads wrk threads)"
printf '%-16s %12s %10s\n' "" "requests/s" "p99"
printf '%-16s %12s %10s\n' "nginx" "$nginx_rps" "$nginx_p99"
printf '%-16s %12s %10s\n' "registry-proxy" "$proxy_rps" "$proxy_p99"
awk -v p="$proxy_rps" -v n="$nginx_rps" 'BEGIN { printf "ratio proxy/nginx requests/s: %.1fx (target >= 3x)\n", p / n }'
if [ -n "$baseline_bin" ]; then
  printf '%-16s %12s %10s\n' "baseline" "$baseline_rps" "$baseline_p99"
  awk -v b="$baseline_rps" -v n="$nginx_rps" -v p="$proxy_rps" \
    'BEGIN { printf "ratio baseline/nginx: %.1fx; this build/baseline: %.2fx\n", b / n, p / b }'
fi
awk -v kb="$peak_rss_kb" 'BEGIN { printf "registry-proxy peak RSS: %.1f MB (target <= 50 MB)\n", kb / 1024 }'
echo "(p99 target <= 5ms)"
ratio=$(awk -v p="$proxy_rps" -v n="$nginx_rps" 'BEGIN { printf "%.0f", p / n }')
rss_mb=$(awk -v kb="$peak_rss_kb" 'BEGIN { printf "%.1f", kb / 1024 }')
bench_row registry-proxy "GET /schemas/ids/{id}, $connections connections" "$proxy_rps req/s" ">= 3x nginx" \
  "nginx (limit_except GET) $nginx_rps req/s" "${ratio}x" "$( ((ratio >= 3)) && echo met || echo missed)"
p99_ms=$(awk -v v="$proxy_p99" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }')
bench_row registry-proxy "p99 latency, $connections connections" "$p99_ms ms" "<= 5 ms" "nginx $nginx_p99" "" \
  "$(awk -v v="$p99_ms" 'BEGIN { print (v <= 5 ? "met" : "missed") }')"
bench_row registry-proxy "peak RSS" "$rss_mb MB" "<= 50 MB" "" "" "$(awk -v v="$rss_mb" 'BEGIN { print (v <= 50 ? "met" : "missed") }')"
