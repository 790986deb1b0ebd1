#!/usr/bin/env bash
# Installs everything the stack, the build and the tests need, idempotently, into .cache/.
#
#   scripts/install.sh stack   Debian packages, Python venvs, Kafka jars, registry, fake-gcs-server,
#                              the S3 server (moto)
#   scripts/install.sh all     the above plus the Rust components, the workflow linter and the deployment
#                              checkers (helm, kubeconform and the schemas it validates against)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack() {
  "$REPO_ROOT/scripts/install/apt.sh"
  "$REPO_ROOT/scripts/install/python.sh"
  "$REPO_ROOT/scripts/install/python.sh" s3
  "$REPO_ROOT/scripts/install/go-tools.sh" fake-gcs
  "$REPO_ROOT/scripts/kafka/install.sh"
  "$REPO_ROOT/scripts/registry/install.sh"
}

rust() {
  local installed
  installed=$(rustup component list --installed 2>/dev/null || true)
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$installed" || rustup component add "$component"
  done
}

case "${1:-all}" in
  stack) stack ;;
  all)
    stack
    rust
    "$REPO_ROOT/scripts/install/go-tools.sh" actionlint helm kubeconform hclfmt compose-config
    "$REPO_ROOT/scripts/install/deploy-schemas.sh"
    ;;
  *) die "usage: scripts/install.sh stack|all" ;;
esac
