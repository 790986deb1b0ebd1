"""The Python reference for alert bytes: fastavro and lsst-alert-packet.

Driven by the Rust interop tests (integration-tests/tests/alert_packet_interop.rs):

  avro_reference.py reference SCHEMA_DIR OUT_DIR
      For every schema version: fastavro's Parsing Canonical Form (canonical.txt), the
      package's sample alert.json encoded by fastavro (sample.bin) and decoded back by fastavro
      (sample.json, normalised as below).

  avro_reference.py verify MANIFEST
      Runs the checks a manifest lists and prints {"results": [...]} as JSON.

Bodies files hold length-prefixed datums: a 4-byte big-endian length, then the bytes.
Decoded values are normalised for JSON: bytes as base64, datetimes (timestamp-micros) as
integer microseconds since the epoch, non-finite floats as "NaN"/"Infinity"/"-Infinity".
"""

import base64
import datetime
import io
import json
import math
import os
import struct
import sys

import fastavro
from fastavro.schema import parse_schema, to_parsing_canonical_form
from lsst.alert.packet import Schema

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        delta = value - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def versions(schema_dir):
    for major in sorted(os.listdir(schema_dir)):
        if not major.isdigit():
            continue
        for minor in sorted(os.listdir(os.path.join(schema_dir, major))):
            path = os.path.join(schema_dir, major, minor, f"lsst.v{major}_{minor}.alert.avsc")
            if os.path.isfile(path):
                yield f"{major}.{minor}", path


def load(path):
    return parse_schema(Schema.from_file(path).definition)


def read_bodies(path):
    with open(path, "rb") as f:
        data = f.read()
    bodies, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        bodies.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return bodies


def encode(schema, record):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


def decode(schema, body, reader=None):
    stream = io.BytesIO(body)
    value = fastavro.schemaless_reader(stream, schema, reader)
    if stream.tell() != len(body):
        raise ValueError(f"{len(body) - stream.tell()} bytes left after the datum")
    return value


def reference(schema_dir, out_dir):
    for version, path in versions(schema_dir):
        schema = load(path)
        target = os.path.join(out_dir, version)
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, "canonical.txt"), "w") as f:
            f.write(to_parsing_canonical_form(schema))
        with open(os.path.join(os.path.dirname(path), "sample_data", "alert.json")) as f:
            sample = json.load(f)
        body = encode(schema, sample)
        with open(os.path.join(target, "sample.bin"), "wb") as f:
            f.write(body)
        with open(os.path.join(target, "sample.json"), "w") as f:
            json.dump(normalise(decode(schema, body)), f)


def check(spec):
    kind = spec["kind"]
    if kind == "decode_equals":
        # fastavro decodes our bytes to the values we decoded.
        schema = load(spec["schema"])
        bodies = read_bodies(spec["bodies"])
        with open(spec["expected_json"]) as f:
            expected = json.load(f)
        if isinstance(expected, dict):
            expected = [expected]
        if len(bodies) != len(expected):
            return f"{len(bodies)} bodies but {len(expected)} expected values"
        for i, (body, want) in enumerate(zip(bodies, expected)):
            got = normalise(decode(schema, body))
            if got != want:
                return f"datum {i}: fastavro decodes {json.dumps(got)[:300]} but we expected {json.dumps(want)[:300]}"
        return None
    if kind == "roundtrip":
        # fastavro decode + encode gives back exactly our bytes.
        schema = load(spec["schema"])
        for i, body in enumerate(read_bodies(spec["bodies"])):
            again = encode(schema, decode(schema, body))
            if again != body:
                return f"datum {i}: fastavro re-encodes {len(body)} bytes as {len(again)} different bytes"
        return None
    if kind == "reencode":
        # fastavro with a reader schema gives exactly our re-encoded bytes.
        writer, reader = load(spec["writer"]), load(spec["reader"])
        bodies, ours = read_bodies(spec["bodies"]), read_bodies(spec["expected"])
        for i, (body, mine) in enumerate(zip(bodies, ours)):
            theirs = encode(reader, decode(writer, body, reader))
            if theirs != mine:
                return f"datum {i}: fastavro re-encodes to {len(theirs)} bytes, we to {len(mine)} (differ)"
        return None if len(bodies) == len(ours) else "count mismatch"
    if kind == "container":
        # fastavro and lsst.alert.packet read our container file; the records match our bodies.
        schema = load(spec["schema"])
        bodies = read_bodies(spec["bodies"])
        with open(spec["file"], "rb") as f:
            reader = fastavro.reader(f)
            records = list(reader)
            codec = reader.codec
        if codec != spec["codec"]:
            return f"codec {codec}, expected {spec['codec']}"
        if len(records) != len(bodies):
            return f"fastavro read {len(records)} records, expected {len(bodies)}"
        for i, (record, body) in enumerate(zip(records, bodies)):
            if normalise(record) != normalise(decode(schema, body)):
                return f"record {i} differs from the datum written"
        with open(spec["file"], "rb") as f:
            _, alerts = Schema.from_file(spec["schema"]).retrieve_alerts(f)
            count = sum(1 for _ in alerts)
        if count != len(bodies):
            return f"lsst.alert.packet read {count} alerts, expected {len(bodies)}"
        return None
    return f"unknown check {kind}"


def verify(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    results = []
    for spec in manifest["checks"]:
        try:
            error = check(spec)
        except Exception as e:  # a crash in the reference is a failed check, reported as such
            error = f"{type(e).__name__}: {e}"
        results.append({"name": spec.get("name", spec["kind"]), "ok": error is None, "error": error})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "reference":
        reference(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        sys.exit(f"usage: {sys.argv[0]} reference SCHEMA_DIR OUT_DIR | verify MANIFEST")
