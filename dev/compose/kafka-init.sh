#!/usr/bin/env bash
# docker-compose.yml's kafka-init: SCRAM users, their ACLs (BRIEF §2: Read, Describe and
# DescribeConfigs on each topic; All on groups with each prefix) and the topics, with Kafka's CLI.
# Idempotent: runs on every `docker compose up`.
set -euo pipefail
bin=/opt/kafka/bin
: "${BOOTSTRAP:?}" "${KAFKA_USER_PASSWORD:?}" "${KAFKA_ADMIN_PASSWORD:?}"

scram() { # scram USER PASSWORD
  "$bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}

for spec in ${KAFKA_TOPICS:-}; do
  "$bin/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "${spec%%:*}" --partitions "${spec##*:}" --replication-factor 1
done

scram admin "$KAFKA_ADMIN_PASSWORD"
for spec in ${KAFKA_USERS:-}; do
  IFS=: read -r user topics groups <<<"$spec"
  scram "$user" "$KAFKA_USER_PASSWORD"
  IFS=, read -r -a topic_list <<<"$topics"
  IFS=, read -r -a group_list <<<"$groups"
  for topic in "${topic_list[@]}"; do
    "$bin/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$user" \
      --operation Read --operation Describe --operation DescribeConfigs --topic "$topic"
  done
  for group in "${group_list[@]}"; do
    "$bin/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$user" \
      --operation All --group "$group" --resource-pattern-type prefixed
  done
done
echo "kafka-init: done"
