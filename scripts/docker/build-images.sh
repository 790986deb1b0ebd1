#!/usr/bin/env bash
# Builds the five service images (alert-distribution/<service>:dev, the names docker-compose.yml
# uses) from the Dockerfile, and the fake-gcs image from tools/fake-gcs/Dockerfile.
#
#   scripts/docker/build-images.sh --prebuilt   (default; CI) the Dockerfile's runtime stage around
#       the release binaries already built by `cargo build --release --locked --workspace --bins`
#       (target/release) and the fake-gcs binary of scripts/install/go-tools.sh
#       (BINARY_FROM=prebuilt, a build context holding only the binary): seconds per image
#   scripts/docker/build-images.sh --full       the whole multi-stage build, the release
#       workflow's: each binary compiled in the rust image (BuildKit cache mounts for the crates
#       and target/, shared by the five builds), fake-gcs compiled in the golang image
#
# Base images that cannot be pulled are made first (scripts/docker/base-images.sh). Prints and
# writes each image's build time and size to .cache/docker/images-<mode>.tsv.
# Options: --service NAME (repeatable; default all five and fake-gcs).
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT" || exit 1

mode=prebuilt
only=()
while (($#)); do
  case $1 in
    --prebuilt) mode=prebuilt ;;
    --full) mode=full ;;
    --service) only+=("$2"); shift ;;
    *) die "usage: scripts/docker/build-images.sh [--prebuilt|--full] [--service NAME]..." ;;
  esac
  shift
done
((${#only[@]})) || only=("${SERVICES[@]}" fake-gcs)

docker_answers || die "build-images: no container engine answers (scripts/docker/engine.sh start)"
if [[ $mode == full ]]; then
  "$DOCKER_SCRIPTS/base-images.sh" debian python rust golang
else
  "$DOCKER_SCRIPTS/base-images.sh" debian python
fi

TIMES="$DOCKER_CACHE/images-$mode.tsv"
printf 'image\tmode\tbuild_s\tsize_mb\n' >"$TIMES"
total_start=$SECONDS

build_one() {
  local name=$1 tag="$IMAGE_PREFIX/$1:$IMAGE_TAG" start=$SECONDS logfile="$DOCKER_CACHE/build-$1-$mode.log" context
  local args=(--label "org.alert-distribution.build-mode=$mode" -t "$tag")
  if [[ $name == fake-gcs ]]; then
    if [[ $mode == prebuilt ]]; then
      "$REPO_ROOT/scripts/install/go-tools.sh" fake-gcs >/dev/null 2>&1 || "$REPO_ROOT/scripts/install/go-tools.sh" fake-gcs
      context=$(mktemp -d)
      cp "$CACHE_DIR/go/bin/fake-gcs" "$context/fake-gcs"
      args+=(--build-arg BINARY_FROM=prebuilt -f tools/fake-gcs/Dockerfile "$context")
    else
      args+=(tools/fake-gcs)
    fi
  else
    args+=(--build-arg "SERVICE=$name")
    if [[ $mode == prebuilt ]]; then
      [[ -x target/release/$name ]] || die "build-images: no target/release/$name (cargo build --release --locked --workspace --bins)"
      context=$(mktemp -d)
      mkdir -p "$context/target/release"
      # Without debug info, as the Dockerfile's builder stage leaves it (symbols stay).
      strip --strip-debug -o "$context/target/release/$name" "target/release/$name"
      args+=(--build-arg BINARY_FROM=prebuilt -f Dockerfile "$context")
    else
      args+=(.)
    fi
  fi
  log "build-images: $tag ($mode)"
  docker_build "${args[@]}" >"$logfile" 2>&1 \
    || { tail -n 40 "$logfile" >&2; die "build-images: $tag failed (log: ${logfile#"$REPO_ROOT"/})"; }
  [[ -n ${context:-} ]] && rm -rf "$context"
  local took=$((SECONDS - start)) size
  size=$(image_size_mb "$tag")
  printf '%s\t%s\t%s\t%s\n' "$tag" "$mode" "$took" "$size" >>"$TIMES"
  log "build-images: $tag built in $took s, $size MB"
}

for name in "${only[@]}"; do build_one "$name"; done
log "build-images: ${#only[@]} images ($mode) in $((SECONDS - total_start)) s; times and sizes in ${TIMES#"$REPO_ROOT"/}"
column -t -s $'\t' "$TIMES" >&2 2>/dev/null || cat "$TIMES" >&2
