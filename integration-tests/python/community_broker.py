"""A community broker, as ALeRCE or Fink run one: confluent-kafka over SCRAM-SHA-512 in a
prefixed consumer group, schemas fetched from the registry by each frame's id, alerts decoded
with fastavro.

community_broker.py --bootstrap HOST:PORT --username USER --topic TOPIC --group GROUP
                    --registry URL --expect N [--timeout SECONDS]
Password from BROKER_PASSWORD. Prints a JSON summary as the last line; exits 1 unless exactly
N alerts were read and decoded.
"""

import argparse
import io
import json
import os
import struct
import sys
import time

import fastavro
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--username", "--topic", "--group", "--registry"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": args.username,
        "sasl.password": os.environ["BROKER_PASSWORD"],
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    registry = SchemaRegistryClient({"url": args.registry})
    schemas = {}
    decoded, ids, errors = 0, set(), []
    consumer.subscribe([args.topic])
    deadline = time.monotonic() + args.timeout
    while decoded < args.expect and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            errors.append(str(message.error()))
            break
        value = message.value()
        magic, schema_id = struct.unpack(">bI", value[:5])
        if magic != 0:
            errors.append(f"magic byte {magic}")
            continue
        if schema_id not in schemas:
            text = registry.get_schema(schema_id).schema_str
            schemas[schema_id] = fastavro.parse_schema(json.loads(text))
        fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id])
        decoded += 1
        ids.add(schema_id)
    consumer.close()
    print(json.dumps({"decoded": decoded, "schema_ids": sorted(ids), "errors": errors}))
    sys.exit(0 if decoded == args.expect and not errors else 1)


if __name__ == "__main__":
    main()
