#!/usr/bin/env bash
# `docker compose` for docker-compose.yml on any machine:
#   - the compose plugin when the docker CLI has it; otherwise Docker Compose v2 built once from
#     its module source on the Go module proxy into .cache/go/bin/docker-compose (`install`);
#   - adds dev/compose/local-images.yml (images only, never wiring) when an upstream third-party
#     image that docker-compose.yml names is not on this machine (no registry to pull it from);
#     ALERTDIST_COMPOSE_LOCAL_IMAGES=1/0 forces it on/off.
#
#   scripts/docker/compose.sh install        build Docker Compose if no compose is available
#   scripts/docker/compose.sh ARGS...         docker compose -f docker-compose.yml [-f local-images.yml] ARGS...
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

COMPOSE_VERSION=v2.40.3
COMPOSE_MODULE=github.com/docker/compose/v2
GOBIN_DIR="$CACHE_DIR/go/bin"
COMPOSE_BIN="$GOBIN_DIR/docker-compose"

# Built like scripts/install/go-tools.sh builds its tools (same caches, a version marker), but
# with `go build` inside the module's own source: its go.mod has exclude directives, which
# `go install module@version` refuses.
install_compose() {
  local marker="$GOBIN_DIR/.docker-compose.version" go=go want start src dir
  command -v "$go" >/dev/null 2>&1 || go=/usr/local/go/bin/go
  [[ -x $(command -v "$go") ]] || die "compose: no go toolchain to build Docker Compose with"
  export GOPATH="$CACHE_DIR/go/path" GOMODCACHE="$CACHE_DIR/go/mod" GOCACHE="$CACHE_DIR/go/build"
  export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -modcacherw" CGO_ENABLED=0
  want="$COMPOSE_MODULE@$COMPOSE_VERSION $("$go" env GOVERSION)"
  if [[ -x $COMPOSE_BIN && -f $marker && $(cat "$marker") == "$want" ]]; then
    return 0
  fi
  log "compose: building Docker Compose $COMPOSE_VERSION from the Go module proxy (a few minutes, once)"
  start=$SECONDS
  mkdir -p "$GOBIN_DIR"
  rm -f "$marker"
  dir=$("$go" mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir ]] || die "compose: go mod download $COMPOSE_MODULE@$COMPOSE_VERSION failed"
  src=$(mktemp -d)
  cp -r "$dir/." "$src/"
  chmod -R u+w "$src"
  (cd "$src" && "$go" build -trimpath \
    -ldflags="-s -w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" -o "$COMPOSE_BIN" ./cmd)
  rm -rf "$src"
  echo "$want" >"$marker"
  log "compose: Docker Compose $COMPOSE_VERSION built in $((SECONDS - start)) s"
}

# COMPOSE: the command to run compose with.
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  COMPOSE=("$COMPOSE_BIN")
fi

if [[ ${1:-} == install ]]; then
  [[ ${COMPOSE[0]} == docker ]] || install_compose
  "${COMPOSE[@]}" version
  exit 0
fi
[[ ${COMPOSE[0]} == docker || -x $COMPOSE_BIN ]] || install_compose

files=(-f "$REPO_ROOT/docker-compose.yml")
local_images=${ALERTDIST_COMPOSE_LOCAL_IMAGES:-}
if [[ -z $local_images ]]; then
  local_images=0
  # The upstream images docker-compose.yml names for the services local-images.yml swaps.
  while read -r image; do
    if grep -q "${image%%:*}" <<<"apache/kafka confluentinc/cp-schema-registry curlimages/curl" \
       && ! docker image inspect "$image" >/dev/null 2>&1; then
      local_images=1
    fi
  done < <(sed -n 's/^    image: \([^ ]*\/[^ ]*:[^ ]*\)$/\1/p' "$REPO_ROOT/docker-compose.yml" | grep -v '^alert-distribution/' | sort -u)
fi
[[ $local_images == 1 ]] && files+=(-f "$REPO_ROOT/dev/compose/local-images.yml")
exec "${COMPOSE[@]}" --project-directory "$REPO_ROOT" "${files[@]}" "$@"
