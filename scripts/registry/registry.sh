#!/usr/bin/env bash
# Run the local schema registry (Apicurio Registry, in-memory storage) for the stack.
#
#   scripts/registry/registry.sh start    install if needed, start, wait until the Confluent API
#                                         answers, print its base URL on stdout
#   scripts/registry/registry.sh stop
#   scripts/registry/registry.sh status   print the base URL and exit 0 if running, else exit 1
#   scripts/registry/registry.sh url      print the base URL
#
# Listens on 127.0.0.1:$REGISTRY_PORT (8081); Quarkus' management interface (health, metrics) on
# 127.0.0.1:$REGISTRY_MGMT_PORT (9081). The Confluent-compatible API is at
#   http://127.0.0.1:8081/apis/ccompat/v7
# Logs: .run/registry/logs/registry.log; pid: .run/registry/registry.pid.
# Storage is in memory: every start begins with an empty registry.
#
# Known limitation: the Confluent API here ignores a client-chosen "id" (PUT /mode/{s} IMPORT is
# accepted and stored, but POST /subjects/{s}/versions with "id" still gets the next id).
# Apicurio's own import (POST /apis/registry/v3/admin/import?requireEmptyRegistry=false, an
# Apicurio export zip) does keep content ids, which the Confluent API then serves as schema ids.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

REG_RUN="$RUN_DIR/registry"
PIDFILE="$REG_RUN/registry.pid"
LOGDIR="$REG_RUN/logs"
LOGFILE="$LOGDIR/registry.log"
BASE_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
START_TIMEOUT="${REGISTRY_START_TIMEOUT:-180}"

answers() { curl -sf -o /dev/null --max-time 5 "$BASE_URL/subjects"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if pid_alive "$PIDFILE"; then
    answers || die "registry (pid $(cat "$PIDFILE")) is running but $BASE_URL does not answer; see $LOGFILE"
    echo "$BASE_URL"; return 0
  fi
  command -v curl >/dev/null || die "curl not found"
  "$(dirname "${BASH_SOURCE[0]}")/install.sh"
  local java app pid
  java=$(cat "$CACHE_DIR/registry/java-path")
  app=$(cat "$CACHE_DIR/registry/app-path")
  port_busy "$REGISTRY_PORT" && die "port $REGISTRY_PORT is already in use"
  port_busy "$REGISTRY_MGMT_PORT" && die "port $REGISTRY_MGMT_PORT (management) is already in use"
  mkdir -p "$LOGDIR" "$REG_RUN/tmp"
  [[ -f $LOGFILE ]] && mv -f "$LOGFILE" "$LOGFILE.1"
  log "starting schema registry on 127.0.0.1:$REGISTRY_PORT (log: $LOGFILE)"
  # Descriptors 3-9 closed: a lock the caller holds must not stay held while the registry runs.
  (
    cd "$app" || exit 1
    exec setsid "$java" \
      -XX:+UseSerialGC -Xms64m -Xmx512m -XX:TieredStopAtLevel=1 \
      -Djava.io.tmpdir="$REG_RUN/tmp" \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
      -Dapicurio.storage.snapshot.location="$REG_RUN/tmp" -Dapicurio.import.work-dir="$REG_RUN/tmp" \
      -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
      -Dapicurio.datasource.jdbc.max-size=20 \
      -jar quarkus-run.jar
  ) </dev/null >"$LOGFILE" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  pid=$!
  echo "$pid" > "$PIDFILE"
  for _ in $(seq 1 $((START_TIMEOUT * 5))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      tail -n 30 "$LOGFILE" >&2
      die "schema registry exited during startup; see $LOGFILE"
    fi
    if answers; then
      log "schema registry up (pid $pid)"
      echo "$BASE_URL"; return 0
    fi
    sleep 0.2
  done
  stop_pid registry "$PIDFILE"
  die "schema registry did not answer $BASE_URL/subjects within $START_TIMEOUT s; see $LOGFILE"
}

status() {
  if pid_alive "$PIDFILE" && answers; then
    log "schema registry running (pid $(cat "$PIDFILE"))"
    echo "$BASE_URL"; return 0
  fi
  if pid_alive "$PIDFILE"; then log "schema registry process $(cat "$PIDFILE") is up but not answering"; else log "schema registry stopped"; fi
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid registry "$PIDFILE" ;;
  status) status ;;
  url) echo "$BASE_URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
