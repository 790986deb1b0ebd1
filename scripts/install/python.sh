#!/usr/bin/env bash
# Create a Python virtualenv from a full lock:
#   python.sh      .cache/venv     from scripts/install/requirements.txt (test clients, tools)
#   python.sh s3   .cache/s3-venv  from scripts/install/s3-requirements.txt (moto, the local S3
#                                  server of scripts/s3/s3.sh; its own venv, see that file)
# Re-creates a venv only when its lock or the interpreter changed (marker VENV/.installed).
# The wheels are kept in .cache/wheels, so a re-creation downloads only new pins.
# Prints the venv's python path on stdout. Env: PYTHON (default python3, must be >= 3.11).
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case "${1:-}" in
  "") REQ="$REPO_ROOT/scripts/install/requirements.txt" VENV="$CACHE_DIR/venv" ;;
  s3) REQ="$REPO_ROOT/scripts/install/s3-requirements.txt" VENV="$CACHE_DIR/s3-venv" ;;
  *) die "usage: python.sh [s3]" ;;
esac
WHEELS="$CACHE_DIR/wheels"
MARKER="$VENV/.installed"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

command -v "$PY" >/dev/null 2>&1 || die "python: $PY not found"
pyver=$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python: need >= 3.11, $PY is $pyver"
want="$(sha256sum "$REQ" | cut -d' ' -f1) python-$pyver"

if [[ -f $MARKER && $(cat "$MARKER") == "$want" && -x $VENV/bin/python ]]; then
  log "python: venv up to date ($VENV)"
  echo "$VENV/bin/python"
  exit 0
fi

log "python: creating $VENV (python $pyver)"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
pip_install() { "$VENV/bin/python" -m pip install -q --no-compile --no-deps --no-index --find-links "$WHEELS" -r "$REQ"; }
if ! pip_install 2>/dev/null; then # some pins are not in the wheelhouse yet
  "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: -d "$WHEELS" -r "$REQ"
  pip_install
fi
"$VENV/bin/python" -m pip check >&2 || die "python: inconsistent lock in $REQ"

if [[ ${1:-} == s3 ]]; then
  # Smoke test: the server module and what its S3 backend imports.
  "$VENV/bin/python" -c 'import moto, moto.server, moto.s3.models, flask, flask_cors; print(f"python: moto {moto.__version__} in '"$VENV"'")' >&2
  echo "$want" >"$MARKER"
  echo "$VENV/bin/python"
  exit 0
fi

# Smoke test: the three packages the tests use, and the schema tree with every version.
"$VENV/bin/python" - >&2 <<'PY'
import os, lsst.alert.packet, fastavro, confluent_kafka
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: F401
from confluent_kafka.schema_registry.avro import AvroSerializer, AvroDeserializer  # noqa: F401
schema_dir = os.path.join(os.path.dirname(lsst.alert.packet.__file__), "schema")
latest = open(os.path.join(schema_dir, "latest.txt")).read().strip()
versions = sorted(
    (int(ma), int(mi))
    for ma in os.listdir(schema_dir) if ma.isdigit()
    for mi in os.listdir(os.path.join(schema_dir, ma)) if mi.isdigit()
)
for ma, mi in versions:
    assert os.path.exists(os.path.join(schema_dir, str(ma), str(mi), f"lsst.v{ma}_{mi}.alert.avsc")), (ma, mi)
assert versions[0] == (3, 0) and latest == "%d.%d" % versions[-1], (versions, latest)
print(f"python: confluent-kafka {confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]}), "
      f"fastavro {fastavro.__version__}; schemas {len(versions)} versions "
      f"{versions[0][0]}.{versions[0][1]}..{latest} in {schema_dir}")
PY

echo "$want" >"$MARKER"
log "python: done"
echo "$VENV/bin/python"
