#!/usr/bin/env bash
# A container engine for the image and compose tests.
#
#   scripts/docker/engine.sh start    use the running engine, or install Debian's docker.io (when
#                                     dockerd is missing) and start dockerd; waits until it answers
#   scripts/docker/engine.sh stop     stop dockerd only if `start` started it (pid in .run/docker)
#   scripts/docker/engine.sh status   exit 0 when an engine answers
#
# dockerd keeps its data where the machine's default is (/var/lib/docker) unless
# ALERTDIST_DOCKER_DATA_ROOT names another folder. Starting dockerd needs root (or sudo).
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PIDFILE="$DOCKER_RUN/dockerd.pid"
LOGFILE="$DOCKER_RUN/dockerd.log"

SUDO=()
((EUID == 0)) || SUDO=(sudo)

install_engine() {
  command -v dockerd >/dev/null 2>&1 && return 0
  ((EUID == 0)) || command -v sudo >/dev/null 2>&1 || die "engine: need root or sudo to install docker.io"
  log "engine: installing Debian's docker.io (dockerd, containerd, runc)"
  export DEBIAN_FRONTEND=noninteractive
  # The package's systemd units must not start a second daemon: a temporary policy-rc.d forbids it
  # where none exists (as scripts/install/apt.sh does).
  local policy=/usr/sbin/policy-rc.d added=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    added=1
  fi
  local rc=0
  { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends docker.io >/dev/null; } || rc=$?
  ((added)) && "${SUDO[@]}" rm -f "$policy"
  ((rc == 0)) || die "engine: apt-get install docker.io failed"
  command -v dockerd >/dev/null 2>&1 || die "engine: docker.io installed but no dockerd on PATH"
}

start() {
  if docker_answers; then
    log "engine: a container engine answers ($(docker version --format '{{.Server.Version}}'))"
    return 0
  fi
  install_engine
  mkdir -p "$DOCKER_RUN"
  if pid_alive "$PIDFILE"; then
    log "engine: dockerd (pid $(cat "$PIDFILE")) started earlier does not answer yet"
  else
    local args=()
    [[ -n ${ALERTDIST_DOCKER_DATA_ROOT:-} ]] && args+=(--data-root "$ALERTDIST_DOCKER_DATA_ROOT")
    log "engine: starting dockerd (log: ${LOGFILE#"$REPO_ROOT"/})"
    # setsid: dockerd outlives this script and is not killed with the caller's process group.
    # Descriptors 3-9 closed: a lock the caller holds (`flock FILE scripts/test.sh`) must not be
    # inherited by the daemon and stay held as long as it runs.
    "${SUDO[@]}" setsid dockerd "${args[@]}" >>"$LOGFILE" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    echo $! >"$PIDFILE"
  fi
  local _
  for _ in $(seq 1 120); do
    docker_answers && { log "engine: dockerd $(docker version --format '{{.Server.Version}}') answers"; return 0; }
    pid_alive "$PIDFILE" || { tail -n 20 "$LOGFILE" >&2; die "engine: dockerd exited"; }
    sleep 0.5
  done
  tail -n 20 "$LOGFILE" >&2
  die "engine: dockerd did not answer within 60 s"
}

stop() {
  if [[ ! -f $PIDFILE ]]; then
    log "engine: not started by these scripts; left alone"
    return 0
  fi
  # dockerd stops its containers (and the containerd it started) on SIGTERM; give it time.
  local pid _
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    "${SUDO[@]}" kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "engine: dockerd did not stop in 60 s; killing"; "${SUDO[@]}" kill -9 "$pid"; }
  fi
  rm -f "$PIDFILE"
  log "engine: stopped dockerd"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) docker_answers ;;
  *) die "usage: scripts/docker/engine.sh start|stop|status" ;;
esac
