"""One visit through the compose system, checked from the host as its users see it:
a community broker (confluent-kafka over SCRAM-SHA-512 on the published Kafka port, in a group
under its allowed prefix) reads the visit's alerts from alerts-simulated and decodes each with
fastavro, with the schema fetched through registry-proxy by the frame's schema id; then every
alert's bytes are fetched back from alertdb-server (the ingester archived them) and compared,
and the schema the server serves is compared with the registry's.

compose_alert_check.py --bootstrap HOST:PORT --registry-proxy URL --alertdb URL --expect N
                       [--timeout SECONDS]
Password from BROKER_PASSWORD, user `community-broker`. Prints a JSON summary as its last
line; exits 1 on any failure.
"""

import argparse
import io
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request

import fastavro
from confluent_kafka import Consumer


def get(url, timeout=10):
    """(status, body) of a GET; a 4xx/5xx is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry-proxy", required=True)
    parser.add_argument("--alertdb", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    summary = {"received": 0, "decoded": 0, "served_identical": 0, "errors": []}

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "community-broker",
        "sasl.password": os.environ["BROKER_PASSWORD"],
        "group.id": f"community-broker-compose-test-{os.getpid()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe(["alerts-simulated"])
    alerts = {}  # alert id -> wire-format bytes
    schemas = {}
    while summary["received"] < args.expect and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            summary["errors"].append(f"kafka: {message.error()}")
            break
        value = message.value()
        magic, schema_id = struct.unpack(">bI", value[:5])
        if magic != 0:
            summary["errors"].append(f"magic byte {magic}")
            continue
        summary["received"] += 1
        if schema_id not in schemas:
            status, body = get(f"{args.registry_proxy}/schemas/ids/{schema_id}")
            if status != 200:
                summary["errors"].append(f"registry-proxy /schemas/ids/{schema_id}: {status}")
                break
            schemas[schema_id] = json.loads(json.loads(body)["schema"])
        record = fastavro.schemaless_reader(io.BytesIO(value[5:]), fastavro.parse_schema(schemas[schema_id]))
        summary["decoded"] += 1
        alert_id = record.get("diaSourceId", record.get("alertId"))
        alerts[alert_id] = value
    consumer.close()
    summary["schema_ids"] = sorted(schemas)
    if summary["received"] < args.expect:
        summary["errors"].append(f"read {summary['received']} of {args.expect} alerts in {args.timeout:.0f} s")

    # The archive: every alert read, byte for byte, from alertdb-server (waiting for the ingester).
    pending = dict(alerts)
    while pending and time.monotonic() < deadline:
        for alert_id, value in list(pending.items()):
            status, body = get(f"{args.alertdb}/v1/alerts/{alert_id}")
            if status == 200:
                if body == value:
                    summary["served_identical"] += 1
                else:
                    summary["errors"].append(f"alert {alert_id}: served bytes differ from the stream's")
                del pending[alert_id]
            elif status != 404:
                summary["errors"].append(f"alertdb /v1/alerts/{alert_id}: {status}")
                del pending[alert_id]
        if pending:
            time.sleep(1)
    if pending:
        summary["errors"].append(f"{len(pending)} alerts not served by alertdb-server in time")
    for schema_id, schema in schemas.items():
        status, body = get(f"{args.alertdb}/v1/schemas/{schema_id}")
        if status != 200 or json.loads(body) != schema:
            summary["errors"].append(f"alertdb /v1/schemas/{schema_id}: {status}, not the registry's schema")
    if alerts:
        summary["example_alert_id"] = next(iter(alerts))
    print(json.dumps(summary))
    sys.exit(1 if summary["errors"] or summary["served_identical"] != args.expect else 0)


if __name__ == "__main__":
    main()
