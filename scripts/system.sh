#!/usr/bin/env bash
# The whole system, locally: the stack (scripts/stack.sh) plus every service.
#
#   scripts/system.sh start    build the services (release), start the stack and the services
#   scripts/system.sh stop     stop the services and the stack
#   scripts/system.sh status
#
# What runs after start (all on 127.0.0.1; logs in .run/services/logs/):
#   schema-sync          registers the latest alert schema (subject alert-packet), then exits
#   registry-proxy       :8082, read-only face of the registry
#   rubin-alert-sim      loads a generated 10,000-alert visit into alerts-static, then replays it
#                        into alerts-simulated every 37 s (metrics :9100)
#   alertdb-ingester     archives alerts-simulated into .run/alertdb (metrics :9101)
#   alertdb-server       :5000, the archive's HTTP API (/alertdb/v1/...)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

SERVICES_DIR="$RUN_DIR/services"
LOG_DIR="$SERVICES_DIR/logs"
BIN="$REPO_ROOT/target/release"
PROXY_PORT=${ALERTDIST_PROXY_PORT:-8082}
SERVER_PORT=${ALERTDIST_SERVER_PORT:-5000}
SIM_METRICS_PORT=${ALERTDIST_SIM_METRICS_PORT:-9100}
INGESTER_METRICS_PORT=${ALERTDIST_INGESTER_METRICS_PORT:-9101}
ARCHIVE="$RUN_DIR/alertdb"
VISIT="$SERVICES_DIR/visit.avro"
DAEMONS=(alertdb-server alertdb-ingester play-stream registry-proxy)

# daemon NAME COMMAND...: start COMMAND in the background with its pid and log files.
daemon() {
  local name=$1; shift
  local pidfile="$SERVICES_DIR/$name.pid"
  if pid_alive "$pidfile"; then
    log "$name already running (pid $(cat "$pidfile"))"
    return 0
  fi
  "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  log "started $name (pid $!, log ${LOG_DIR#"$REPO_ROOT"/}/$name.log)"
}

wait_http() { # NAME URL
  local _
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$2" && return 0
    sleep 0.2
  done
  die "$1 did not answer at $2; see $LOG_DIR/$1.log"
}

start() {
  mkdir -p "$LOG_DIR" "$ARCHIVE"
  # Installs first: on a fresh machine the build needs Debian packages (librdkafka's curl and
  # SASL headers, nasm for ISA-L) that the install brings.
  scripts/install.sh stack
  log "building the services (release; the first build takes several minutes)"
  cargo build --release -q --workspace --bins
  scripts/stack.sh start
  # shellcheck source=/dev/null
  source "$RUN_DIR/stack.env"
  local registry=$ALERTDIST_SCHEMA_REGISTRY_URL broker=$ALERTDIST_KAFKA_PLAINTEXT
  export ALERT_SCHEMA_DIR
  ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)

  # The registry is in memory and starts empty: register the schema on every start. Apicurio
  # cannot take chosen ids (README), so the registry assigns the id.
  "$BIN/schema-sync" --schema-registry-url "$registry" --mode latest --wait 60 >>"$LOG_DIR/schema-sync.log" 2>&1 \
    || die "schema-sync failed; see $LOG_DIR/schema-sync.log"
  log "schema-sync registered the latest alert schema"

  daemon registry-proxy "$BIN/registry-proxy" --upstream-url "$registry" --listen-host 127.0.0.1 --listen-port "$PROXY_PORT"
  wait_http registry-proxy "http://127.0.0.1:$PROXY_PORT/healthz"

  if [[ ! -f $VISIT ]]; then
    log "generating a 10,000-alert visit into ${VISIT#"$REPO_ROOT"/}"
    "$BIN/rubin-alert-sim" generate --alerts 10000 --output "$VISIT" >/dev/null
  fi
  if ! pid_alive "$SERVICES_DIR/play-stream.pid"; then
    "$BIN/rubin-alert-sim" create-stream -B "$broker" --dst-topic alerts-static --create-topic \
      --schema-registry-url "$registry" "$VISIT" >>"$LOG_DIR/create-stream.log" 2>&1 \
      || die "create-stream failed; see $LOG_DIR/create-stream.log"
    log "loaded the visit into alerts-static"
    # The live topic must exist before the community users' consumers and the ingester start,
    # and the ingester's dead-letter topic before it reports ready.
    scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --create --if-not-exists \
      --topic alerts-simulated --partitions 4 >/dev/null
    scripts/kafka/kafka-tool topics --bootstrap-server "$broker" --create --if-not-exists \
      --topic alerts-simulated.dlq --partitions 1 >/dev/null
  fi
  daemon play-stream "$BIN/rubin-alert-sim" play-stream -B "$broker" --src-topic alerts-static \
    --dst-topic alerts-simulated --repeat-interval 37 --listen-port "$SIM_METRICS_PORT"
  daemon alertdb-ingester "$BIN/alertdb-ingester" --kafka-host "$broker" --kafka-auth-mechanism none \
    --kafka-topics alerts-simulated --schema-registry-address "$registry" \
    --alerts-url "file://$ARCHIVE" --listen-port "$INGESTER_METRICS_PORT"
  daemon alertdb-server "$BIN/alertdb-server" --alerts-url "file://$ARCHIVE" \
    --listen-host 127.0.0.1 --listen-port "$SERVER_PORT"
  wait_http alertdb-server "http://127.0.0.1:$SERVER_PORT/alertdb/v1/health"

  cat <<MSG

The whole system is up:
  schema registry (read-write)   $registry
  registry-proxy (read-only)     http://127.0.0.1:$PROXY_PORT        e.g. curl http://127.0.0.1:$PROXY_PORT/subjects
  simulator                      replays alerts-static -> alerts-simulated every 37 s; metrics http://127.0.0.1:$SIM_METRICS_PORT/metrics
  alertdb-ingester               archives alerts-simulated into ${ARCHIVE#"$REPO_ROOT"/}; metrics http://127.0.0.1:$INGESTER_METRICS_PORT/metrics
  alertdb-server                 http://127.0.0.1:$SERVER_PORT/alertdb/v1/health
  logs                           ${LOG_DIR#"$REPO_ROOT"/}/

Consume the stream as the community broker "alerce" (SCRAM-SHA-512, read-only):
  BROKER_PASSWORD=$(cat .run/kafka/secrets/alerce-password) .cache/venv/bin/python integration-tests/python/community_broker.py \\
      --bootstrap $ALERTDIST_KAFKA_SCRAM --username alerce --group alerce-demo --topic alerts-simulated \\
      --registry http://127.0.0.1:$PROXY_PORT --expect 100

Fetch an archived alert (ids of the generated visit start at 170000000000000; the first pass
arrives within a minute):
  curl -s -o alert.avro http://127.0.0.1:$SERVER_PORT/alertdb/v1/alerts/170000000000000
  curl -s 'http://127.0.0.1:$SERVER_PORT/alertdb/v1/alerts/170000000000000?format=json' | head -c 400

Stop everything with: scripts/system.sh stop
MSG
}

stop() {
  local name
  for name in "${DAEMONS[@]}"; do
    stop_pid "$name" "$SERVICES_DIR/$name.pid"
  done
  scripts/stack.sh stop
}

status() {
  local name
  for name in "${DAEMONS[@]}"; do
    if pid_alive "$SERVICES_DIR/$name.pid"; then
      echo "$name: running (pid $(cat "$SERVICES_DIR/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
  scripts/stack.sh status
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: scripts/system.sh start|stop|status" ;;
esac
