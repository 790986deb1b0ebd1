#!/usr/bin/env bash
# Install the Debian packages the build, the tests and the benchmarks need, only those missing.
# Idempotent: when everything is present it runs no apt command at all (a fraction of a second).
#
#   cmake, build-essential, pkg-config, libssl-dev, zlib1g-dev, libcurl4-openssl-dev: rdkafka's
#       `cmake-build` + `ssl` (librdkafka 2.12's rdkafka_conf.c includes curl/curl.h whenever
#       SSL is on, for OIDC; the build fails without the header); libsasl2-dev for a later
#       `gssapi` build
#   nasm, autoconf, automake, libtool: ISA-L (the archive's gzip), built from the source that
#       the isal-sys crate vendors
#   openssl: test certificates (mTLS listener); curl, jq, netcat-openbsd: scripts and smoke tests;
#   (and the shell linter, package shellcheck, which checks these scripts in the test run)
#   java (openjdk-17-jre-headless), mvn (maven): Kafka from Maven Central
#   wrk, nginx-light, time: benchmarks (reference static server, load generator, peak RSS)
#   chromium, chromium-driver, fonts-dejavu-core: the alert-page test drives Debian's headless
#       Chromium through chromedriver (selenium); a font so that the screenshots have text
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PACKAGES=(
  build-essential cmake pkg-config libssl-dev libsasl2-dev zlib1g-dev libcurl4-openssl-dev
  nasm autoconf automake libtool
  openssl curl jq netcat-openbsd shellcheck
  wrk nginx-light time
  chromium chromium-driver fonts-dejavu-core
)
# Tools that may come from elsewhere (a JDK in /opt, sdkman, ...): install the Debian one only
# when the command is missing.
command -v java >/dev/null 2>&1 || PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || PACKAGES+=(maven)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  log "apt: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || die "apt: need root or sudo to install: ${missing[*]}"
  SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
# Services in these packages (nginx) must not start on install: the benchmarks run their own.
# Containers usually ship a policy-rc.d that forbids it; add a temporary one where none exists.
policy=/usr/sbin/policy-rc.d added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  added_policy=1
fi
cleanup() { ((added_policy)) && "${SUDO[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT
log "apt: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "apt: done"
