#!/usr/bin/env bash
# Each service image against the native stack (scripts/stack.sh start; part of scripts/test.sh,
# after the cargo tests, the stack still running): every container runs with the image's own
# user, a read-only root filesystem, no capabilities and the host's network (the stack listens
# on 127.0.0.1 only), and together they carry one real alert, on topics, a subject and a folder
# of their own:
#   schema-sync        registers the latest alert schema under a fresh subject; exits 0
#   rubin-alert-sim    generate (1 alert, into a mounted folder), create-stream, play-stream
#                      once: each exits 0
#   alertdb-ingester   archives the replayed alert into a mounted file:// folder; /healthz 200
#   alertdb-server     serves it back from that folder: the archived object decompressed, a
#                      Confluent wire-format message; /healthz 200
#   registry-proxy     serves the alert's schema by id from the stack's registry; /healthz 200
# Images: alert-distribution/<service>:dev (scripts/docker/build-images.sh).
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT" || exit 1

[[ -f $RUN_DIR/stack.env ]] || die "test-images: no .run/stack.env (scripts/stack.sh start)"
# shellcheck source=/dev/null
source "$RUN_DIR/stack.env"
docker_answers || die "test-images: no container engine answers (scripts/docker/engine.sh start)"

run_id="imgtest-$(date +%s)-$$"
subject="$run_id"
static_topic="$run_id-static"
live_topic="$run_id-live"
work="$RUN_DIR/compose-test/$run_id"
mkdir -p "$work/visit" "$work/archive"
# The containers' user (10001) owns their writable folders, as volumes would be.
chown -R 10001:10001 "$work" 2>/dev/null || chmod -R a+rwx "$work"
ports=(18190 18191 18192)   # ingester, server, proxy: loopback ports for this test
containers=()

passed=0
failed=0
check() { # check NAME COMMAND...: one counted check
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); log "test-images: ok   $name"
  else failed=$((failed + 1)); log "test-images: FAIL $name"; fi
}

cleanup() {
  local status=$? c
  for c in "${containers[@]}"; do
    ((failed == 0)) || docker logs "$c" >"$work/$c.log" 2>&1 || true
    docker rm -f "$c" >/dev/null 2>&1 || true
  done
  "$REPO_ROOT/scripts/kafka/kafka-tool" topics --bootstrap-server "$ALERTDIST_KAFKA_PLAINTEXT" --delete \
    --topic "$static_topic|$live_topic" >/dev/null 2>&1 || true
  curl -fsS -o /dev/null -X DELETE "$ALERTDIST_SCHEMA_REGISTRY_URL/subjects/$subject" 2>/dev/null || true
  # (Files the containers wrote belong to 10001: a non-root caller may not remove them all.)
  if ((failed == 0)); then rm -rf "$work" 2>/dev/null || true; fi
  exit "$status"
}
trap cleanup EXIT

# run SERVICE ARGS...: the image as a one-off job (the way docker-compose.yml and the charts run it).
run() {
  local service=$1; shift
  docker run --rm --network host --read-only --cap-drop ALL --security-opt no-new-privileges:true \
    -e RUST_LOG=warn -v "$work/visit:/visit" "$IMAGE_PREFIX/$service:$IMAGE_TAG" "$@"
}
# daemon SERVICE NAME ARGS...: the image as a service, in the background.
daemon() {
  local service=$1 name="$run_id-$2"; shift 2
  containers+=("$name")
  docker run -d --name "$name" --network host --read-only --cap-drop ALL --security-opt no-new-privileges:true \
    -e RUST_LOG=info -v "$work/archive:/var/lib/alertdb" "$IMAGE_PREFIX/$service:$IMAGE_TAG" "$@" >/dev/null
}
wait_http() { # wait_http URL SECONDS
  local _
  for _ in $(seq 1 "$2"); do curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0; sleep 1; done
  return 1
}
image_user_is_app() { [[ $(docker image inspect -f '{{.Config.User}}' "$IMAGE_PREFIX/$1:$IMAGE_TAG") == 10001:10001 ]]; }

for service in "${SERVICES[@]}"; do
  check "$service: the image's user is 10001:10001" image_user_is_app "$service"
done

check "schema-sync registers subject $subject and exits 0" \
  run schema-sync --schema-registry-url "$ALERTDIST_SCHEMA_REGISTRY_URL" --subject "$subject" --mode latest --wait 30
check "rubin-alert-sim generate exits 0" run rubin-alert-sim generate --alerts 1 --output /visit/visit.avro
check "rubin-alert-sim create-stream exits 0" run rubin-alert-sim create-stream --broker "$ALERTDIST_KAFKA_PLAINTEXT" \
  --create-topic --dst-topic "$static_topic" --schema-registry-url "$ALERTDIST_SCHEMA_REGISTRY_URL" --subject "$subject" \
  --timeout-sec 60 /visit/visit.avro
check "rubin-alert-sim play-stream (once) exits 0" run rubin-alert-sim play-stream --broker "$ALERTDIST_KAFKA_PLAINTEXT" \
  --src-topic "$static_topic" --dst-topic "$live_topic" --create-dst-topic --repeat-interval -1

daemon alertdb-ingester ingester --kafka-host "$ALERTDIST_KAFKA_PLAINTEXT" --kafka-auth-mechanism none \
  --kafka-topics "$live_topic" --kafka-group "$run_id" --no-dlq \
  --schema-registry-address "$ALERTDIST_SCHEMA_REGISTRY_URL" --alerts-url file:///var/lib/alertdb \
  --listen-host 127.0.0.1 --listen-port "${ports[0]}"
check "alertdb-ingester answers /healthz" wait_http "http://127.0.0.1:${ports[0]}/healthz" 60
archived() { # the one archived alert's path, once the ingester has written it
  local _ file
  for _ in $(seq 1 60); do
    file=$(find "$work/archive/v2/alerts" -name '*.avro.gz' 2>/dev/null | head -n1)
    [[ -n $file ]] && { echo "$file"; return 0; }
    sleep 1
  done
  return 1
}
alert_file=$(archived || true)
check "alertdb-ingester archives the alert (v2 layout, file://)" test -n "$alert_file"
alert_id=$(basename "${alert_file:-none}" .avro.gz)

daemon alertdb-server server --listen-host 127.0.0.1 --listen-port "${ports[1]}" --alerts-url file:///var/lib/alertdb
check "alertdb-server answers /healthz" wait_http "http://127.0.0.1:${ports[1]}/healthz" 60
served_identical() {
  curl -fsS --max-time 10 -o "$work/served.bin" "http://127.0.0.1:${ports[1]}/v1/alerts/$alert_id" || return 1
  # The archive is gzip of the whole wire-format message: the server must serve it decompressed.
  gzip -dc "$alert_file" | cmp -s - "$work/served.bin" && [[ $(head -c1 "$work/served.bin" | od -An -tx1 | tr -d ' ') == 00 ]]
}
check "alertdb-server serves alert $alert_id, the archived message decompressed" served_identical

schema_id=$(od -An -tu4 --endian=big -j1 -N4 "$work/served.bin" 2>/dev/null | tr -d ' ' || true)
daemon registry-proxy proxy --upstream-url "$ALERTDIST_SCHEMA_REGISTRY_URL" --listen-host 127.0.0.1 --listen-port "${ports[2]}"
check "registry-proxy answers /healthz" wait_http "http://127.0.0.1:${ports[2]}/healthz" 60
check "registry-proxy serves the alert's schema ${schema_id:-?}" wait_http "http://127.0.0.1:${ports[2]}/schemas/ids/${schema_id:-none}" 10
still_running() { [[ $(docker inspect -f '{{.State.Running}} {{.RestartCount}}' "$1") == "true 0" ]]; }
for c in "${containers[@]}"; do check "$c still runs" still_running "$c"; done

echo "images: $passed passed, $failed failed"
((failed == 0))
