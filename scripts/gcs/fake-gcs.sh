#!/usr/bin/env bash
# Local GCS emulator on http://127.0.0.1:$FAKE_GCS_PORT for object-store tests (tools/fake-gcs,
# built on fake-gcs-server).
#
#   fake-gcs.sh start    start it (no-op when already running) and wait until it answers
#   fake-gcs.sh stop     stop it (data is kept)
#   fake-gcs.sh restart  stop, then start
#   fake-gcs.sh status   exit 0 when running and answering, 3 otherwise
#   fake-gcs.sh reset    stop it and delete all buckets and objects
#   fake-gcs.sh bucket NAME...  create buckets (start it first; an existing bucket is fine)
#
# Objects live on disk (filesystem backend, .run/fake-gcs/data: one folder per bucket, metadata in
# extended attributes), so they survive a restart. Logs: .run/fake-gcs/logs/fake-gcs.log; pid:
# .run/fake-gcs/fake-gcs.pid. FAKE_GCS_LOG_REQUESTS=1 logs every request.
#
# The binary is tools/fake-gcs (built by scripts/install/go-tools.sh): upstream fake-gcs-server's
# handler plus the XML API writes that object_store's GCS client makes and upstream rejects (object
# PUT answers 400 "invalid uploadType" there; copy, multipart, paginated listing).
#
# Point object_store at it with the service-account file written on start,
# .run/fake-gcs/service-account.json (GOOGLE_SERVICE_ACCOUNT / service_account_path): it sets
# gcs_base_url and disable_oauth. XML API paths (/BUCKET/OBJECT) are served only for requests whose
# Host header is exactly 127.0.0.1:$FAKE_GCS_PORT (-public-host): use 127.0.0.1, not localhost.
# -external-url sets the host in selfLink/mediaLink and in resumable-upload Location headers.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

BIN="$CACHE_DIR/go/bin/fake-gcs"
DIR="$RUN_DIR/fake-gcs"
PIDFILE="$DIR/fake-gcs.pid"
LOGFILE="$DIR/logs/fake-gcs.log"
SA_FILE="$DIR/service-account.json"
URL="http://127.0.0.1:$FAKE_GCS_PORT"

answers() { curl -fsS -o /dev/null --max-time 2 "$URL/storage/v1/b"; }

write_service_account() {
  local want
  want=$(printf '{"gcs_base_url":"%s","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}' "$URL")
  [[ -f $SA_FILE && $(cat "$SA_FILE") == "$want" ]] || printf '%s\n' "$want" >"$SA_FILE"
}

start() {
  mkdir -p "$DIR/data" "$DIR/logs"
  write_service_account
  if pid_alive "$PIDFILE"; then
    answers 2>/dev/null || die "fake-gcs (pid $(cat "$PIDFILE")) is running but does not answer on $URL; see $LOGFILE"
    log "fake-gcs already running on $URL (pid $(cat "$PIDFILE"))"
    return 0
  fi
  rm -f "$PIDFILE"
  if (exec 3<>"/dev/tcp/127.0.0.1/$FAKE_GCS_PORT") 2>/dev/null; then
    die "port $FAKE_GCS_PORT is taken by another process"
  fi
  [[ -x $BIN ]] || bash "$REPO_ROOT/scripts/install/go-tools.sh" fake-gcs
  printf '\n===== %s start\n' "$(date -Is)" >>"$LOGFILE"
  # Descriptors 3-9 closed: a lock the caller holds (`flock FILE scripts/test.sh`) must not stay
  # held for as long as the daemon runs.
  # setsid: own session, so the server outlives the shell that started it. The inner shell writes
  # its own pid and then becomes the server (exec), so the pid file is right even if setsid forks.
  local args=(
    -host 127.0.0.1 -port "$FAKE_GCS_PORT"
    -public-host "127.0.0.1:$FAKE_GCS_PORT" -external-url "$URL"
    -filesystem-root "$DIR/data"
  )
  [[ ${FAKE_GCS_LOG_REQUESTS:-0} == 1 ]] && args+=(-log-requests)
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "$BIN" "${args[@]}" </dev/null >>"$LOGFILE" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  local _
  for _ in $(seq 1 100); do # 20 s
    if [[ -s $PIDFILE ]] && ! pid_alive "$PIDFILE"; then break; fi
    if answers 2>/dev/null; then
      log "fake-gcs running on $URL (pid $(cat "$PIDFILE")); data in $DIR/data"
      return 0
    fi
    sleep 0.2
  done
  tail -n 20 "$LOGFILE" >&2 || true
  stop_pid fake-gcs "$PIDFILE"
  die "fake-gcs did not come up on $URL; see $LOGFILE"
}

stop() { stop_pid fake-gcs "$PIDFILE"; }

status() {
  if pid_alive "$PIDFILE" && answers 2>/dev/null; then
    echo "fake-gcs running on $URL (pid $(cat "$PIDFILE"))"
    return 0
  fi
  echo "fake-gcs not running"
  return 3
}

create_buckets() {
  local name code
  answers 2>/dev/null || die "fake-gcs is not running; run: $0 start"
  for name in "$@"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$URL/storage/v1/b?project=test" \
      -H 'Content-Type: application/json' -d "{\"name\":\"$name\"}")
    [[ $code == 200 || $code == 409 ]] || die "creating bucket $name: HTTP $code"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  reset) stop; rm -rf "$DIR/data"; log "fake-gcs data deleted" ;;
  bucket) shift; create_buckets "$@" ;;
  *) die "usage: $0 start|stop|restart|status|reset|bucket NAME..." ;;
esac
