# shellcheck shell=bash
# shellcheck disable=SC2034  # the constants below are used by the scripts that source this file
# Common definitions for the project's scripts. Source it; do not run it.
#
# Layout (both folders are gitignored and safe to delete):
#   .cache/  tools installed by scripts/install-deps.sh (Kafka jars, Go binaries, Python venv, ...)
#   .run/    state of the local stack: data, logs, pid files, certificates, passwords, env file
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${ALERTDIST_CACHE_DIR:-$REPO_ROOT/.cache}"
RUN_DIR="${ALERTDIST_RUN_DIR:-$REPO_ROOT/.run}"
mkdir -p "$CACHE_DIR" "$RUN_DIR"

# Loopback ports of the local stack. The defaults are what the README documents; the
# ALERTDIST_*_PORT variables move a second stack (another checkout) beside the first.
KAFKA_PLAINTEXT_PORT=${ALERTDIST_KAFKA_PLAINTEXT_PORT:-9092}     # in-cluster services, no auth
KAFKA_MTLS_PORT=${ALERTDIST_KAFKA_MTLS_PORT:-9093}               # SSL with client certificates
KAFKA_SCRAM_PORT=${ALERTDIST_KAFKA_SCRAM_PORT:-9094}             # SASL_PLAINTEXT SCRAM-SHA-512, community brokers
KAFKA_CONTROLLER_PORT=${ALERTDIST_KAFKA_CONTROLLER_PORT:-9097}   # KRaft controller quorum
REGISTRY_PORT=${ALERTDIST_REGISTRY_PORT:-8081}
REGISTRY_MGMT_PORT=${ALERTDIST_REGISTRY_MGMT_PORT:-9081}         # the registry's health/metrics
FAKE_GCS_PORT=${ALERTDIST_FAKE_GCS_PORT:-4443}
S3_PORT=${ALERTDIST_S3_PORT:-9000}                               # S3 API (moto)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# bench_row COMPONENT FIGURE MEASURED TARGET REFERENCE RATIO VERDICT: one row of the benchmark
# report; scripts/bench/report.sh collects these tab-separated lines from every benchmark.
bench_row() { local IFS=$'\t'; printf 'BENCH-ROW\t%s\n' "$*"; }

# pid_alive FILE: true when FILE names a running process.
pid_alive() {
  local pidfile=$1
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# stop_pid NAME FILE: SIGTERM the process in FILE, wait up to 20 s, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 pid i
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped $name"; return 0; }
    sleep 0.1
  done
  log "$name did not stop within 20 s; killing"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# wait_tcp HOST PORT SECONDS: wait until a TCP connection to HOST:PORT succeeds.
wait_tcp() {
  local host=$1 port=$2 timeout=$3 _
  for _ in $(seq 1 $((timeout * 5))); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
