#!/usr/bin/env bash
# The local stack: real Kafka (KRaft; PLAINTEXT, mTLS and SCRAM listeners, ACLs), a
# Confluent-API schema registry, fake-gcs-server and an S3 server (moto), all on 127.0.0.1.
#
#   scripts/stack.sh start    install what is missing, start everything, wait until it answers
#   scripts/stack.sh stop     stop everything this checkout started
#   scripts/stack.sh status   what is running
#
# `start` writes .run/stack.env with every address and credential path; tests and
# services read it (`source .run/stack.env`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STACK_ENV="$RUN_DIR/stack.env"

write_env() {
  cat >"$STACK_ENV" <<ENV
# Written by scripts/stack.sh start; source it to reach the local stack.
export ALERTDIST_REPO="$REPO_ROOT"
export ALERTDIST_KAFKA_PLAINTEXT="127.0.0.1:$KAFKA_PLAINTEXT_PORT"
export ALERTDIST_KAFKA_MTLS="127.0.0.1:$KAFKA_MTLS_PORT"
export ALERTDIST_KAFKA_SCRAM="127.0.0.1:$KAFKA_SCRAM_PORT"
export ALERTDIST_KAFKA_ADMIN_USER="admin"
export ALERTDIST_KAFKA_ADMIN_PASSWORD_FILE="$RUN_DIR/kafka/secrets/admin-password"
export ALERTDIST_KAFKA_SECRETS_DIR="$RUN_DIR/kafka/secrets"
export ALERTDIST_TLS_CA="$RUN_DIR/tls/ca.crt"
export ALERTDIST_TLS_CLIENT_CRT="$RUN_DIR/tls/client.crt"
export ALERTDIST_TLS_CLIENT_KEY="$RUN_DIR/tls/client.key"
export ALERTDIST_SCHEMA_REGISTRY_URL="$(registry_url)"
export ALERTDIST_GCS_ENDPOINT="http://127.0.0.1:$FAKE_GCS_PORT"
export ALERTDIST_GCS_SERVICE_ACCOUNT="$RUN_DIR/fake-gcs/service-account.json"
$("$REPO_ROOT/scripts/s3/s3.sh" env)
export ALERTDIST_PYTHON="$CACHE_DIR/venv/bin/python"
ENV
}

registry_url() { "$REPO_ROOT/scripts/registry/registry.sh" url; }

start() {
  "$REPO_ROOT/scripts/install.sh" stack
  "$REPO_ROOT/scripts/kafka/kafka.sh" start
  "$REPO_ROOT/scripts/registry/registry.sh" start
  "$REPO_ROOT/scripts/gcs/fake-gcs.sh" start
  "$REPO_ROOT/scripts/s3/s3.sh" start
  "$REPO_ROOT/scripts/kafka/users.sh" apply --users "$REPO_ROOT/dev/kafka-users.json"
  write_env
  cat <<MSG

The local stack is up (everything on 127.0.0.1; state, logs and secrets under .run/):
  Kafka, in-cluster PLAINTEXT     127.0.0.1:$KAFKA_PLAINTEXT_PORT
  Kafka, mTLS (client certs)      127.0.0.1:$KAFKA_MTLS_PORT   CA/cert/key in .run/tls/
  Kafka, SCRAM-SHA-512 (brokers)  127.0.0.1:$KAFKA_SCRAM_PORT   users from dev/kafka-users.json,
                                  passwords in .run/kafka/secrets/<user>-password
  Schema registry                 $(registry_url)
  fake-gcs-server (GCS API)       http://127.0.0.1:$FAKE_GCS_PORT
  S3 API (moto)                   http://127.0.0.1:$S3_PORT   region, keys in .run/stack.env
  Logs                            .run/*/logs/
Environment for clients and tests: source .run/stack.env
Stop everything with: scripts/stack.sh stop
MSG
}

stop() {
  "$REPO_ROOT/scripts/s3/s3.sh" stop || true
  "$REPO_ROOT/scripts/gcs/fake-gcs.sh" stop || true
  "$REPO_ROOT/scripts/registry/registry.sh" stop || true
  "$REPO_ROOT/scripts/kafka/kafka.sh" stop || true
}

status() {
  "$REPO_ROOT/scripts/kafka/kafka.sh" status || true
  "$REPO_ROOT/scripts/registry/registry.sh" status || true
  "$REPO_ROOT/scripts/gcs/fake-gcs.sh" status || true
  "$REPO_ROOT/scripts/s3/s3.sh" status || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: scripts/stack.sh start|stop|status" ;;
esac
