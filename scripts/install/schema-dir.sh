#!/usr/bin/env bash
# Print the lsst-alert-packet schema directory inside .cache/venv (contains latest.txt and
# {MAJOR}/{MINOR}/lsst.v{M}_{m}.alert.avsc). Run scripts/install/python.sh first.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

shopt -s nullglob
dirs=("$CACHE_DIR"/venv/lib/python3*/site-packages/lsst/alert/packet/schema)
if ((${#dirs[@]} != 1)) || [[ ! -f ${dirs[0]}/latest.txt ]]; then
  die "lsst-alert-packet schemas not found under $CACHE_DIR/venv: run scripts/install/python.sh"
fi
echo "${dirs[0]}"
