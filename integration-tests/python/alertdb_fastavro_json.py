"""Decode a stored wire-format alert with fastavro, as a broker would, and print it as JSON
in the shape of alertdb-server's `?format=json`: bytes as base64, timestamp-micros as integer
microseconds, non-finite floats as strings.

Usage: alertdb_fastavro_json.py SCHEMA.json ALERT.avro
"""

import base64
import datetime
import io
import json
import math
import sys

import fastavro

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def normalise(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        delta = value - EPOCH
        return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def main():
    with open(sys.argv[1]) as f:
        schema = fastavro.parse_schema(json.load(f))
    with open(sys.argv[2], "rb") as f:
        message = f.read()
    if len(message) < 5 or message[0] != 0:
        sys.exit("not a Confluent wire-format message")
    record = fastavro.schemaless_reader(io.BytesIO(message[5:]), schema)
    json.dump(normalise(record), sys.stdout)


if __name__ == "__main__":
    main()
