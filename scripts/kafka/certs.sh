#!/usr/bin/env bash
# Create the local stack's TLS material under .run/tls (idempotent: existing files are kept).
#   ca.crt ca.key                 dev CA (10 years)
#   broker.crt broker.key         broker certificate, SAN IP:127.0.0.1, DNS:localhost
#   broker.p12                    the same as a PKCS12 keystore for the broker (Java reads PKCS12
#                                 without a key password dance; the truststore is ca.crt as PEM)
#   client.crt client.key         mTLS client "CN=internal-client", unencrypted PKCS#8 PEM (rdkafka etc.)
#   client.p12                    the same as PKCS12, for Java clients (kafka-tool)
#   store-password                password of both .p12 files
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

command -v openssl >/dev/null || die "openssl is required"
mkdir -p "$TLS_DIR"
chmod 700 "$TLS_DIR"
cd "$TLS_DIR"
umask 077
days=3650

if [[ ! -f ca.crt || ! -f ca.key ]]; then
  log "creating dev CA in $TLS_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -subj "/O=alert-distribution dev/CN=alert-distribution dev CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  # A new CA invalidates every certificate signed by the old one.
  rm -f broker.* client.*
fi

# issue NAME SUBJECT EXTENSIONS: key + CA-signed certificate, unless NAME.crt already exists.
issue() {
  local name=$1 subject=$2 ext=$3
  [[ -f $name.crt && -f $name.key ]] && return 0
  log "issuing $name certificate ($subject)"
  # genpkey writes PKCS#8 ("BEGIN PRIVATE KEY"), which both Java and librdkafka read.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -sha256 -extfile <(printf '%s\n' "$ext") -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.p12"
}

issue broker "/O=alert-distribution dev/CN=localhost" \
  "subjectAltName=IP:127.0.0.1,DNS:localhost
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
# The broker maps this CN to the principal User:internal-client (ssl.principal.mapping.rules).
issue client "/CN=internal-client" \
  "keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

store_password="$(ensure_password "$TLS_DIR/store-password")"
for name in broker client; do
  [[ -f $name.p12 ]] && continue
  openssl pkcs12 -export -name "$name" -in "$name.crt" -inkey "$name.key" -certfile ca.crt \
    -passout "pass:$store_password" -out "$name.p12"
done

# Certificates are public; only keys, stores and passwords stay owner-only.
chmod 644 ca.crt broker.crt client.crt
echo "$TLS_DIR"
