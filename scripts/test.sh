#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests and integration tests against the real local
# stack. Starts the stack if it is not running and stops what it started, also on failure.
# This is the README's test command; .ci/run calls it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1

started_stack=0
started_engine=0
cleanup() {
  local status=$?
  if [[ $started_stack == 1 ]]; then
    log "stopping the stack this run started"
    scripts/stack.sh stop || true
  fi
  if [[ $started_engine == 1 ]]; then
    scripts/docker/engine.sh stop || true
  fi
  exit "$status"
}
trap cleanup EXIT

step() { log "== $*"; }

step "install"
scripts/install.sh all

step "lint scripts and workflows"
shellcheck -x scripts/*.sh scripts/*/*.sh scripts/kafka/kafka-tool .ci/run
"$CACHE_DIR/go/bin/actionlint"

step "deployment: helm charts, compose, terraform, dashboard"
scripts/test-deploy.sh

step "cargo fmt --check"
cargo fmt --all -- --check

# --release: the C libraries that build scripts compile (librdkafka, aws-lc, ISA-L, ...) are
# built once, for this and for the release build below, instead of once per profile.
step "cargo clippy"
cargo clippy --release --workspace --all-targets --locked -- -D warnings

if ! scripts/kafka/kafka.sh status >/dev/null 2>&1 || ! scripts/registry/registry.sh status >/dev/null 2>&1 \
   || ! scripts/gcs/fake-gcs.sh status >/dev/null 2>&1 || ! scripts/s3/s3.sh status >/dev/null 2>&1; then
  started_stack=1
fi
step "start the stack"
scripts/stack.sh start

# Everything is compiled once, with the release profile: the services the integration tests
# start (the whole-system visit test's time is the optimised code's) and the tests themselves
# (Cargo.toml compiles the integration-test harness unoptimised, for build time).
# The binaries are built as the tests build them (integration-tests' `workspace_binary`):
# the same package selection gives the same dependency features, so nothing is rebuilt.
step "cargo build --release (the services)"
cargo build --release --locked --workspace --bins

step "cargo test --release"
cargo test --release --workspace --locked --no-fail-fast

# The container images and docker-compose.yml, for real (scripts/docker/): the images are built
# around the release binaries above (the full multi-stage build is the release workflow's,
# scripts/docker/build-images.sh --full), each is run against the stack, then `docker compose up`
# carries one visit end to end beside it on other host ports, and is torn down. Skipped, with a
# message, only where no container engine can be started.
step "containers: images and docker compose"
scripts/docker/engine.sh status || started_engine=1
if scripts/docker/engine.sh start; then
  # Docker Compose, where it has to be built (~5 min cold), builds meanwhile.
  scripts/docker/compose.sh install >"$RUN_DIR/compose-install.log" 2>&1 &
  compose_install=$!
  scripts/docker/build-images.sh --prebuilt
  scripts/docker/test-images.sh
  wait "$compose_install" || { cat "$RUN_DIR/compose-install.log" >&2; die "building Docker Compose failed"; }
  ALERTDIST_IMAGES_BUILT=1 scripts/docker/test-compose.sh
else
  started_engine=0
  log "SKIPPED the container tests: no container engine could be started on this machine (see above)"
fi
