"""fastavro's side of libs/alert-packet/examples/codec_bench.rs, on the same bytes.

fastavro_codec.py BODIES WRITER_AVSC READER_AVSC reencode|identity
Prints {"decode": alerts/s, "reencode": alerts/s} for one thread: schemaless_reader alone, and
schemaless_reader (with the reader schema when re-encoding) followed by schemaless_writer.
"""

import io
import json
import struct
import sys
import time

import fastavro
from fastavro.schema import parse_schema
from lsst.alert.packet import Schema


def bodies(path):
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def rate(items, f, minimum=3.0):
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < minimum:
        for item in items:
            f(item)
        done += len(items)
    return done / (time.perf_counter() - start)


def main():
    items = bodies(sys.argv[1])[:100]
    writer = parse_schema(Schema.from_file(sys.argv[2]).definition)
    reader = parse_schema(Schema.from_file(sys.argv[3]).definition)
    mode = sys.argv[4]

    def decode(body):
        return fastavro.schemaless_reader(io.BytesIO(body), writer)

    def reencode(body):
        if mode == "reencode":
            record = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
            target = reader
        else:
            record = fastavro.schemaless_reader(io.BytesIO(body), writer)
            target = writer
        out = io.BytesIO()
        fastavro.schemaless_writer(out, target, record)
        return out.getvalue()

    print(json.dumps({"decode": rate(items, decode), "reencode": rate(items, reencode)}))


if __name__ == "__main__":
    main()
