"""A community broker, as ALeRCE or Fink run one: confluent-kafka over SCRAM-SHA-512 in a
prefixed consumer group, schemas fetched from the registry by each frame's id, alerts decoded
with fastavro.

community_broker.py --bootstrap HOST:PORT --username USER --topic TOPIC --group GROUP
                    --registry URL (--expect N | --expect-file FILE) [--timeout SECONDS]
                    [--digests FILE] [--decode-every K] [--decode-workers W]
                    [--progress FILE] [--security-protocol SASL_SSL [--ssl-ca-location FILE]]
Password from BROKER_PASSWORD. Against a deployment whose external listener has TLS on, pass
--security-protocol SASL_SSL (docs/operations.md, "Verify a deployment end to end"). A refused
login or a denied topic or group ends the run at once with the broker's error, so the same
command checks that a removed user can no longer connect. Prints a JSON summary as the last line; exits 1 unless exactly
N alerts were read and decoded. With --expect-file the count is not known at start (the
producer is still running): the consumer reads on until FILE exists and holds N. With
--digests it writes the MD5 of every message value it received, one hex digest a line,
so a test can check that what the broker got is what the archive serves. A long run (the
soak) decodes one message in K (--decode-every) and rewrites a JSON progress file every 10 s.
With --decode-workers W > 1, W processes decode (each fetching the schemas it needs from the
registry itself), as a broker spreads fastavro's ~10 ms an alert over its cores.
The summary counts distinct alert ids (the alert id is the body's first field, a zigzag varint),
and gives the wall-clock times (epoch seconds) at which the first message, 98 % of the expected
count and the last expected message arrived (`first_at`, `at_98`, `last_at`), for the peak
benchmark (scripts/bench/peak.py).
"""

import argparse
import collections
import hashlib
import io
import json
import multiprocessing
import os
import struct
import sys
import time

import fastavro
from confluent_kafka import Consumer, KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--username", "--topic", "--group", "--registry"):
        parser.add_argument(flag, required=True)
    expect = parser.add_mutually_exclusive_group(required=True)
    expect.add_argument("--expect", type=int)
    expect.add_argument("--expect-file")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--digests")
    parser.add_argument("--decode-every", type=int, default=1)
    parser.add_argument("--decode-workers", type=int, default=1)
    parser.add_argument("--progress")
    parser.add_argument("--ready-file", help="written once the group has given this consumer its partitions")
    parser.add_argument("--security-protocol", default="SASL_PLAINTEXT", choices=["SASL_PLAINTEXT", "SASL_SSL"])
    parser.add_argument("--ssl-ca-location", help="CA bundle for SASL_SSL (default: the system's)")
    args = parser.parse_args()
    pool = None
    if args.decode_workers > 1:
        pool = multiprocessing.Pool(args.decode_workers, init_worker, (args.registry,))
    # Decodes submitted to the pool and not yet collected, oldest first; bounded so a slow
    # pool cannot make this process hold the whole stream.
    pending = collections.deque()

    # librdkafka reports a refused login through the error callback, not through poll().
    refused = []

    def on_error(error):
        if error.fatal() or error.code() in DENIED:
            refused.append(str(error))

    settings = {"ssl.ca.location": args.ssl_ca_location} if args.ssl_ca_location else {}
    consumer = Consumer({
        **settings,
        "error_cb": on_error,
        "bootstrap.servers": args.bootstrap,
        "security.protocol": args.security_protocol,
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": args.username,
        "sasl.password": os.environ["BROKER_PASSWORD"],
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    registry = SchemaRegistryClient({"url": args.registry})
    schemas = {}
    received, decoded, ids, errors = 0, 0, set(), []
    first_at = at_98 = last_at = None
    alert_ids = set()
    next_progress = time.monotonic() + 10
    digests = open(args.digests, "w") if args.digests else None
    expected = args.expect
    def on_assign(consumer, partitions):
        if args.ready_file and partitions:
            with open(args.ready_file, "w") as file:
                file.write(str(len(partitions)))

    consumer.subscribe([args.topic], on_assign=on_assign)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if expected is None:
            expected = read_expected(args.expect_file)
        if expected is not None and received >= expected:
            break
        if args.progress and time.monotonic() >= next_progress:
            write_progress(args.progress, received, len(alert_ids), errors)
            next_progress = time.monotonic() + 10
        message = consumer.poll(0.5)
        if refused:
            errors.extend(refused)
            break
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
        received += 1
        now = time.time()
        if first_at is None:
            first_at = now
        if expected is not None:
            if at_98 is None and received * 100 >= expected * 98:
                at_98 = now
            if received == expected:
                last_at = now
        alert_ids.add(first_long(value, 5))
        if schema_id not in schemas:
            text = registry.get_schema(schema_id).schema_str
            schemas[schema_id] = fastavro.parse_schema(json.loads(text))
        if received % args.decode_every == 0:
            if pool is None:
                fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id])
                decoded += 1
            else:
                pending.append(pool.apply_async(decode_in_worker, (schema_id, value[5:])))
                while len(pending) > 4 * args.decode_workers:
                    decoded += collect(pending.popleft(), errors)
        ids.add(schema_id)
        if digests:
            digests.write(hashlib.md5(value).hexdigest() + "\n")
    consumer.close()
    while pending:
        decoded += collect(pending.popleft(), errors)
    if pool is not None:
        pool.close()
        pool.join()
    if digests:
        digests.close()
    if args.progress:
        write_progress(args.progress, received, len(alert_ids), errors)
    print(json.dumps({"received": received, "decoded": decoded, "expected": expected,
                      "distinct_alert_ids": len(alert_ids), "schema_ids": sorted(ids),
                      "first_at": first_at, "at_98": at_98, "last_at": last_at,
                      "errors": errors}))
    sys.exit(0 if received == expected and not errors else 1)


# Errors that mean "not allowed": nothing will be read however long the run waits.
DENIED = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED,
          KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}

_worker_registry = None
_worker_schemas = {}


def init_worker(registry_url):
    global _worker_registry
    _worker_registry = SchemaRegistryClient({"url": registry_url})


def decode_in_worker(schema_id, body):
    """Decodes one alert body in a pool worker; the worker caches the schemas it fetched."""
    if schema_id not in _worker_schemas:
        text = _worker_registry.get_schema(schema_id).schema_str
        _worker_schemas[schema_id] = fastavro.parse_schema(json.loads(text))
    fastavro.schemaless_reader(io.BytesIO(body), _worker_schemas[schema_id])


def collect(result, errors):
    """1 when a pool decode succeeded; its error recorded otherwise."""
    try:
        result.get(timeout=120)
        return 1
    except Exception as error:  # a decode error is the finding, not a crash of the broker
        errors.append(f"decode: {error!r}")
        return 0


def first_long(data, at):
    """The Avro long (zigzag varint) at offset `at`."""
    shift, raw = 0, 0
    while True:
        byte = data[at]
        raw |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return (raw >> 1) ^ -(raw & 1)
        shift += 7


def write_progress(path, received, distinct, errors):
    with open(path + ".tmp", "w") as file:
        json.dump({"received": received, "distinct_alert_ids": distinct, "errors": errors}, file)
    os.replace(path + ".tmp", path)


def read_expected(path):
    """The count in PATH once a writer has put it there (written whole, then renamed)."""
    try:
        with open(path) as file:
            return int(file.read().strip())
    except (FileNotFoundError, ValueError):
        return None


if __name__ == "__main__":
    main()
