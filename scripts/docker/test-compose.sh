#!/usr/bin/env bash
# The compose test (part of scripts/test.sh): the service images built and checked, then
# `docker compose up` of docker-compose.yml as users run it, one visit sent through and checked
# end to end from the host, then everything torn down (containers, network, volumes).
#
#   1. a container engine (scripts/docker/engine.sh start; where none can be started the test is
#      skipped with a message saying so, and only then), Docker Compose, the base images and the
#      third-party stand-ins where they cannot be pulled;
#   2. the five service images and fake-gcs from the release binaries in target/release
#      (scripts/docker/build-images.sh --prebuilt; ALERTDIST_IMAGES_BUILT=1 skips it when the
#      caller just built them); each image: runs as 10001:10001, size <= 120 MB;
#   3. `compose up -d` (project alertdist-compose-test; host ports moved off the native stack's,
#      all on 127.0.0.1: Kafka SCRAM 19094, registry 18081, registry-proxy 18080, fake GCS 14443,
#      alertdb 15000, each overridable by the variable docker-compose.yml names); the services
#      start in the file's order, gated by its health checks;
#   4. the schema is registered (registry and registry-proxy list subject alert-packet); a
#      community broker over SCRAM-SHA-512 reads the whole generated visit and decodes it; the
#      server serves every alert byte-identical and the schema (compose_alert_check.py);
#   5. each of our containers ran as 10001:10001 on a read-only root filesystem; jobs exited 0,
#      daemons are healthy (their compose health check: GET /healthz) and never restarted.
# Logs of every container go to .run/compose-test/ when a check fails.
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT" || exit 1

export COMPOSE_PROJECT_NAME=alertdist-compose-test
export ALERTDIST_COMPOSE_KAFKA_SCRAM_PORT=${ALERTDIST_COMPOSE_KAFKA_SCRAM_PORT:-19094}
export ALERTDIST_COMPOSE_SCHEMA_REGISTRY_PORT=${ALERTDIST_COMPOSE_SCHEMA_REGISTRY_PORT:-18081}
export ALERTDIST_COMPOSE_REGISTRY_PROXY_PORT=${ALERTDIST_COMPOSE_REGISTRY_PROXY_PORT:-18080}
export ALERTDIST_COMPOSE_FAKE_GCS_PORT=${ALERTDIST_COMPOSE_FAKE_GCS_PORT:-14443}
export ALERTDIST_COMPOSE_ALERTDB_PORT=${ALERTDIST_COMPOSE_ALERTDB_PORT:-15000}
export ALERTSIM_VISIT_ALERTS=${ALERTSIM_VISIT_ALERTS:-100}
export COMMUNITY_BROKER_PASSWORD=${COMMUNITY_BROKER_PASSWORD:-community-broker-password}
MAX_IMAGE_MB=120
OUT="$RUN_DIR/compose-test"
PYTHON="$CACHE_DIR/venv/bin/python"
mkdir -p "$OUT"

passed=0
failed=0
check() { # check NAME COMMAND...: one counted check
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); log "compose-test: ok   $name"
  else failed=$((failed + 1)); log "compose-test: FAIL $name"; fi
}
compose() { "$DOCKER_SCRIPTS/compose.sh" "$@"; }

if ! "$DOCKER_SCRIPTS/engine.sh" start; then
  log "compose-test: SKIPPED: no container engine could be started on this machine (see above);"
  log "compose-test: the images and docker-compose.yml were not tested"
  exit 0
fi
[[ -x $PYTHON ]] || die "compose-test: no Python venv at $PYTHON (scripts/install/python.sh)"

start=$SECONDS
compose install >/dev/null
"$DOCKER_SCRIPTS/base-images.sh" debian python
# The upstream third-party images where a registry serves them, else the local stand-ins.
if ALERTDIST_COMPOSE_LOCAL_IMAGES=0 compose pull --quiet kafka kafka-init schema-registry gcs-init >/dev/null 2>&1; then
  export ALERTDIST_COMPOSE_LOCAL_IMAGES=0
  log "compose-test: the upstream third-party images (pulled)"
else
  "$DOCKER_SCRIPTS/third-party-images.sh"
  export ALERTDIST_COMPOSE_LOCAL_IMAGES=1
  log "compose-test: no registry to pull from: local stand-ins (dev/compose/local-images.yml)"
fi
[[ ${ALERTDIST_IMAGES_BUILT:-0} == 1 ]] || "$DOCKER_SCRIPTS/build-images.sh" --prebuilt
log "compose-test: engine, compose and images ready in $((SECONDS - start)) s"

teardown() {
  local status=$?
  if ((failed > 0 || status != 0)); then
    compose ps -a >"$OUT/ps.txt" 2>&1 || true
    compose logs --no-color --timestamps >"$OUT/compose.log" 2>&1 || true
    log "compose-test: container logs in ${OUT#"$REPO_ROOT"/}/compose.log"
  fi
  compose down --volumes --remove-orphans --timeout 20 >"$OUT/down.log" 2>&1 || log "compose-test: compose down failed (${OUT#"$REPO_ROOT"/}/down.log)"
  exit "$status"
}
trap teardown EXIT

# ---- the images
for service in "${SERVICES[@]}"; do
  image="$IMAGE_PREFIX/$service:$IMAGE_TAG"
  check "$service image runs as 10001:10001" test "$(docker image inspect -f '{{.Config.User}}' "$image")" == 10001:10001
  size=$(image_size_mb "$image")
  log "compose-test: $image is $size MB"
  check "$service image <= $MAX_IMAGE_MB MB ($size MB)" awk -v s="$size" -v m="$MAX_IMAGE_MB" 'BEGIN { exit !(s <= m) }'
done

# ---- up
compose down --volumes --remove-orphans >/dev/null 2>&1 || true
up_start=$SECONDS
# `up` returns once every service has started in order (each waits for the health checks and
# completed jobs it depends on); bounded, since a job that keeps failing would hold it forever.
if ! timeout 600 "$DOCKER_SCRIPTS/compose.sh" up --detach --no-build --pull never >"$OUT/up.log" 2>&1; then
  cat "$OUT/up.log" >&2
  failed=$((failed + 1))
  die "compose-test: compose up failed"
fi
log "compose-test: compose up returned in $((SECONDS - up_start)) s"

wait_http() { # wait_http URL SECONDS
  local _
  for _ in $(seq 1 "$2"); do curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0; sleep 1; done
  return 1
}
check "alertdb-server answers /healthz on 127.0.0.1:$ALERTDIST_COMPOSE_ALERTDB_PORT" wait_http "http://127.0.0.1:$ALERTDIST_COMPOSE_ALERTDB_PORT/healthz" 60
check "registry-proxy answers /healthz on 127.0.0.1:$ALERTDIST_COMPOSE_REGISTRY_PROXY_PORT" wait_http "http://127.0.0.1:$ALERTDIST_COMPOSE_REGISTRY_PROXY_PORT/healthz" 60
subject_listed() { curl -fsS --max-time 5 "$1/subjects" | grep -q '"alert-packet"'; }
check "schema registered (registry lists alert-packet)" subject_listed "http://127.0.0.1:$ALERTDIST_COMPOSE_SCHEMA_REGISTRY_PORT"
check "registry-proxy lists alert-packet" subject_listed "http://127.0.0.1:$ALERTDIST_COMPOSE_REGISTRY_PROXY_PORT"

# ---- one visit, end to end
visit_start=$SECONDS
alert_check() {
  BROKER_PASSWORD=$COMMUNITY_BROKER_PASSWORD "$PYTHON" "$DOCKER_SCRIPTS/compose_alert_check.py" \
    --bootstrap "127.0.0.1:$ALERTDIST_COMPOSE_KAFKA_SCRAM_PORT" --registry-proxy "http://127.0.0.1:$ALERTDIST_COMPOSE_REGISTRY_PROXY_PORT" \
    --alertdb "http://127.0.0.1:$ALERTDIST_COMPOSE_ALERTDB_PORT/alertdb" --expect "$ALERTSIM_VISIT_ALERTS" --timeout 300 \
    >"$OUT/alert-check.json" 2>"$OUT/alert-check.log"
  local rc=$?
  tail -n1 "$OUT/alert-check.json" >&2
  return "$rc"
}
check "visit of $ALERTSIM_VISIT_ALERTS alerts: broker reads and decodes, server serves each byte-identical" alert_check
log "compose-test: the visit checked in $((SECONDS - visit_start)) s"
example=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("example_alert_id", ""))' "$OUT/alert-check.json" 2>/dev/null || true)
served() { curl -fsS --max-time 5 -o "$OUT/alert.bin" "$1" && [[ $(head -c1 "$OUT/alert.bin" | od -An -tx1 | tr -d ' ') == 00 ]]; }
check "curl gets alert ${example:-?} from alertdb-server" served "http://127.0.0.1:$ALERTDIST_COMPOSE_ALERTDB_PORT/alertdb/v1/alerts/$example"

# ---- the containers
container_ok() { # container_ok SERVICE job|daemon
  local id state
  id=$(compose ps --all --quiet "$1")
  [[ -n $id ]] || { log "compose-test: no container for $1"; return 1; }
  state=$(docker inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
  log "compose-test: $1: user, read-only, status, exit code, restarts, health = $state"
  case $2 in
    job) [[ $state == "10001:10001 true exited 0 0 none" ]] ;;
    daemon) [[ $state == "10001:10001 true running 0 0 healthy" ]] ;;
  esac
}
for job in schema-sync simulator-generate simulator-load; do
  check "$job ran as 10001 on a read-only root and exited 0" container_ok "$job" job
done
wait_healthy() { local _; for _ in $(seq 1 60); do container_ok "$1" daemon >/dev/null 2>&1 && break; sleep 1; done; container_ok "$1" daemon; }
for daemon in registry-proxy simulator-replay alertdb-ingester alertdb-server; do
  check "$daemon runs as 10001 on a read-only root, healthy, no restart" wait_healthy "$daemon"
done

log "compose-test: whole test $((SECONDS - start)) s (compose up to the end: $((SECONDS - up_start)) s)"
echo "compose: $passed passed, $failed failed"
((failed == 0))
