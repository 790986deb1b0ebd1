# shellcheck shell=bash
# Paths shared by the scripts in scripts/kafka. Source it; do not run it.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

KAFKA_SCRIPTS="$REPO_ROOT/scripts/kafka"
# The version is pinned once, in pom.xml.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_SCRIPTS/pom.xml")"
KAFKA_LIBS="$CACHE_DIR/kafka/$KAFKA_VERSION/libs"
KAFKA_RUN="$RUN_DIR/kafka"             # config, data, logs, pid of the local broker
KAFKA_SECRETS="$KAFKA_RUN/secrets"     # <username>-password files (admin-password included)
TLS_DIR="$RUN_DIR/tls"                 # CA, broker and client certificates (scripts/kafka/certs.sh)
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PLAINTEXT_PORT"

# random_password: 32 url-safe characters; SCRAM and JAAS configs take them without quoting trouble.
random_password() { openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 32; }

# ensure_password FILE: create FILE with a random password (mode 600) unless it exists; print it.
ensure_password() {
  local file=$1
  if [[ ! -s $file ]]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && random_password >"$file")
  fi
  cat "$file"
}
