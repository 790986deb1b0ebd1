#!/usr/bin/env bash
# Local S3-compatible server on http://127.0.0.1:$S3_PORT for object-store tests: moto in server
# mode (Apache-2.0; .cache/s3-venv, installed by `scripts/install/python.sh s3`).
#
#   s3.sh start    start it (no-op when already running) and wait until it answers
#   s3.sh stop     stop it (moto keeps buckets and objects in memory: they are gone)
#   s3.sh restart  stop, then start (empty)
#   s3.sh status   exit 0 when running and answering, 3 otherwise
#   s3.sh bucket NAME...  create buckets (start it first; an existing bucket is fine)
#   s3.sh env      print the ALERTDIST_S3_* lines of .run/stack.env
#
# Logs: .run/s3/logs/s3.log; pid: .run/s3/s3.pid. S3_LOG_REQUESTS=1 logs every request.
#
# Clients use path-style requests (http://127.0.0.1:$S3_PORT/BUCKET/KEY; object_storage does
# with an endpoint), region us-east-1, SigV4 with the access key and secret below. moto accepts
# any key and does not check signatures: the values are fixed so that every client of the stack
# uses the same ones (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which object_store reads).
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DIR="$RUN_DIR/s3"
PIDFILE="$DIR/s3.pid"
LOGFILE="$DIR/logs/s3.log"
PY="$CACHE_DIR/s3-venv/bin/python"
URL="http://127.0.0.1:$S3_PORT"
REGION=us-east-1
ACCESS_KEY_ID=alertdist
SECRET_ACCESS_KEY=alertdist-secret

# Any S3 request answers (ListBuckets, signed as clients sign).
answers() {
  curl -fsS -o /dev/null --max-time 2 --aws-sigv4 "aws:amz:$REGION:s3" \
    --user "$ACCESS_KEY_ID:$SECRET_ACCESS_KEY" "$URL/"
}

start() {
  mkdir -p "$DIR/logs"
  if pid_alive "$PIDFILE"; then
    answers 2>/dev/null || die "s3 (pid $(cat "$PIDFILE")) is running but does not answer on $URL; see $LOGFILE"
    log "s3 (moto) already running on $URL (pid $(cat "$PIDFILE"))"
    return 0
  fi
  rm -f "$PIDFILE"
  if (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then
    die "port $S3_PORT is taken by another process"
  fi
  "$REPO_ROOT/scripts/install/python.sh" s3 >/dev/null
  printf '\n===== %s start\n' "$(date -Is)" >>"$LOGFILE"
  # moto.server's main() with werkzeug's per-request log lines off unless asked for.
  local quiet=1
  [[ ${S3_LOG_REQUESTS:-0} == 1 ]] && quiet=0
  local program='
import logging, sys
if sys.argv[1] == "1":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
from moto.server import main
main(sys.argv[2:])
'
  # setsid: own session, so the server outlives the shell that started it. The inner shell writes
  # its own pid and then becomes the server (exec), so the pid file is right even if setsid forks.
  # Descriptors 3-9 closed: a lock the caller holds (`flock FILE scripts/test.sh`) must not be
  # inherited by the server and stay held as long as it runs.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
    "$PY" -c "$program" "$quiet" --host 127.0.0.1 --port "$S3_PORT" \
    </dev/null >>"$LOGFILE" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  local _
  for _ in $(seq 1 150); do # 30 s
    if [[ -s $PIDFILE ]] && ! pid_alive "$PIDFILE"; then break; fi
    if answers 2>/dev/null; then
      log "s3 (moto) running on $URL (pid $(cat "$PIDFILE")); buckets and objects in memory"
      return 0
    fi
    sleep 0.2
  done
  tail -n 20 "$LOGFILE" >&2 || true
  stop_pid s3 "$PIDFILE"
  die "s3 (moto) did not come up on $URL; see $LOGFILE"
}

stop() { stop_pid s3 "$PIDFILE"; }

status() {
  if pid_alive "$PIDFILE" && answers 2>/dev/null; then
    echo "s3 (moto) running on $URL (pid $(cat "$PIDFILE"))"
    return 0
  fi
  echo "s3 (moto) not running"
  return 3
}

create_buckets() {
  local name code
  answers 2>/dev/null || die "s3 is not running; run: $0 start"
  for name in "$@"; do
    # CreateBucket; 409 BucketAlreadyOwnedByYou is fine.
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Length: 0' \
      --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY_ID:$SECRET_ACCESS_KEY" "$URL/$name")
    [[ $code == 200 || $code == 409 ]] || die "creating bucket $name: HTTP $code"
  done
}

env_lines() {
  cat <<ENV
export ALERTDIST_S3_ENDPOINT="$URL"
export ALERTDIST_S3_REGION="$REGION"
export ALERTDIST_S3_ACCESS_KEY_ID="$ACCESS_KEY_ID"
export ALERTDIST_S3_SECRET_ACCESS_KEY="$SECRET_ACCESS_KEY"
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  bucket) shift; create_buckets "$@" ;;
  env) env_lines ;;
  *) die "usage: $0 start|stop|restart|status|bucket NAME...|env" ;;
esac
