#!/usr/bin/env bash
# Install the Kafka broker and CLI jars from Maven Central into .cache/kafka/<version>/libs.
# Idempotent: a marker file written after a complete copy makes later runs a no-op.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

marker="$KAFKA_LIBS/.complete"
if [[ ! -f $marker ]]; then
  command -v java >/dev/null || die "java (17+) is required"
  command -v mvn >/dev/null || die "maven is required"
  log "installing Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
  # A half-finished copy is thrown away: the marker is the only sign of completeness.
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  # The local repository lives under .cache too, so nothing is written to ~/.m2.
  # Maven's output is only worth reading when it fails.
  mvn_log="$CACHE_DIR/kafka/$KAFKA_VERSION/mvn.log"
  mvn -B -Dstyle.color=never -f "$KAFKA_SCRIPTS/pom.xml" \
    -Dmaven.repo.local="$CACHE_DIR/m2" \
    -Dkafka.libs.dir="$KAFKA_LIBS" \
    dependency:copy-dependencies >"$mvn_log" 2>&1 \
    || { tail -n 40 "$mvn_log" >&2; die "maven failed (full log: $mvn_log)"; }
  ls "$KAFKA_LIBS"/kafka_2.13-"$KAFKA_VERSION".jar "$KAFKA_LIBS"/kafka-tools-"$KAFKA_VERSION".jar >/dev/null \
    || die "Kafka jars missing after maven ran"
  # maven leaves its build folder next to the pom; it is not needed.
  rm -rf "$KAFKA_SCRIPTS/target"
  touch "$marker"
fi
echo "$KAFKA_LIBS"
