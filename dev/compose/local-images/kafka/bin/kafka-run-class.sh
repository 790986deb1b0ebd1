#!/usr/bin/env bash
# kafka-run-class.sh CLASS [ARGS...]: run a main class of the Kafka jars (as the distribution's).
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS and KAFKA_LOG4J_OPTS add JVM flags.
set -euo pipefail
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/etc/kafka/docker/tools-log4j2.xml}
# shellcheck disable=SC2086  # the *_OPTS variables are space-separated flag lists
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
  ${KAFKA_OPTS:-} $log4j -Djava.awt.headless=true -Dkafka.logs.dir=/opt/kafka/logs \
  -cp '/opt/kafka/libs/*' "$@"
