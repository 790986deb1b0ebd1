# shellcheck shell=bash
# Shared by the scripts in scripts/docker. Source it; do not run it.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

DOCKER_SCRIPTS="$REPO_ROOT/scripts/docker"
DOCKER_CACHE="$CACHE_DIR/docker"        # debootstrap root filesystems, build logs, timings
DOCKER_RUN="$RUN_DIR/docker"            # dockerd pid and log when engine.sh started it
mkdir -p "$DOCKER_CACHE"

# The five services, each an image built from the Dockerfile with --build-arg SERVICE=<name>.
SERVICES=(rubin-alert-sim schema-sync alertdb-ingester alertdb-server registry-proxy)
# The tag docker-compose.yml gives our images (alert-distribution/<service>:dev).
IMAGE_PREFIX="${ALERTDIST_IMAGE_PREFIX:-alert-distribution}"
IMAGE_TAG="${ALERTDIST_IMAGE_TAG:-dev}"

docker_answers() { docker info >/dev/null 2>&1; }

# docker_build ARGS...: `docker build` with BuildKit (the Dockerfile uses RUN --mount).
# A docker CLI with the buildx plugin uses it; a CLI without it (23+ falls back to the legacy
# builder, which cannot build this Dockerfile) is replaced by the Debian docker.io package's own
# CLI (20.10), whose built-in BuildKit client needs no plugin.
docker_build() {
  if docker buildx version >/dev/null 2>&1; then
    docker buildx build --load "$@"
  elif [[ -x /usr/bin/docker ]] && /usr/bin/docker version --format '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.'; then
    DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
  else
    DOCKER_BUILDKIT=1 docker build "$@"
  fi
}

# image_size_mb IMAGE: the image's size as `docker images` reports it, in MB (10^6 bytes).
image_size_mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f", $1 / 1e6}'; }

# go_build_module NAME MODULE VERSION PACKAGE LDFLAGS: build PACKAGE of MODULE@VERSION (source
# from the Go module proxy) into .cache/go/bin/NAME, as scripts/install/go-tools.sh builds its
# tools (same caches, a version marker, skipped when built already), but with `go build` inside
# the module's own source: Docker Compose's and Prometheus's go.mod have exclude/replace
# directives, which `go install module@version` refuses.
go_build_module() {
  local name=$1 module=$2 version=$3 package=$4 ldflags=$5 go=go
  local bin_dir="$CACHE_DIR/go/bin" marker want start dir src
  marker="$bin_dir/.$name.version"
  command -v "$go" >/dev/null 2>&1 || go=/usr/local/go/bin/go
  [[ -x $(command -v "$go") ]] || die "no go toolchain to build $name with"
  want="$module@$version $("$go" env GOVERSION)"
  [[ -x $bin_dir/$name && -f $marker && $(cat "$marker") == "$want" ]] && return 0
  log "building $name $version from the Go module proxy (a few minutes, once)"
  start=$SECONDS
  mkdir -p "$bin_dir"
  rm -f "$marker"
  dir=$(GOMODCACHE="$CACHE_DIR/go/mod" GOFLAGS=-modcacherw GOTOOLCHAIN=local "$go" mod download -json "$module@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir ]] || die "go mod download $module@$version failed"
  src=$(mktemp -d)
  cp -r "$dir/." "$src/"
  chmod -R u+w "$src"
  (cd "$src" && GOPATH="$CACHE_DIR/go/path" GOMODCACHE="$CACHE_DIR/go/mod" GOCACHE="$CACHE_DIR/go/build" \
    GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -modcacherw" CGO_ENABLED=0 \
    "$go" build -trimpath -ldflags="$ldflags" -o "$bin_dir/$name" "$package")
  rm -rf "$src"
  echo "$want" >"$marker"
  log "$name $version built in $((SECONDS - start)) s"
}
