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
COMPOSE_BIN="$CACHE_DIR/go/bin/docker-compose"

install_compose() {
  go_build_module docker-compose "$COMPOSE_MODULE" "$COMPOSE_VERSION" ./cmd \
    "-s -w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION"
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
[[ ${COMPOSE[0]} == docker ]] || install_compose

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
if [[ $local_images == 1 ]]; then
  files+=(-f "$REPO_ROOT/dev/compose/local-images.yml")
  # The stand-in registry (Apicurio) ignores client-chosen schema ids: schema-sync registers the
  # latest schema under the registry's own id instead of importing upstream's ids.
  export SCHEMA_SYNC_MODE=${SCHEMA_SYNC_MODE:-latest}
fi
exec "${COMPOSE[@]}" --project-directory "$REPO_ROOT" "${files[@]}" "$@"
