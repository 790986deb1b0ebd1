"""The Python reference for scripts/bench/herald.sh: Herald's conversion of archived alerts,
done the way Herald does it (lsst-sqre/herald's services/alert.py and services/fits.py), timed
per alert, without HTTP.

Usage: herald_python.py ARCHIVE FIRST_ID COUNT SCHEMA_ID SECONDS PROCESSES

For each format (avro, json, fits) and for SECONDS, PROCESSES processes each take random
archived alerts and do what Herald does for one request: read the gzip object, gunzip it,
split off the Confluent header, parse the schema JSON (Herald parses it on every request;
so does this), decode with fastavro, then

- avro: `fastavro.writer` of the one record into an object container file;
- json: base64 the bytes, null the non-finite floats, `json.dumps` as Starlette writes it;
- fits: astropy `BinTableHDU.from_columns` for ALERT (scalars + diaObject/ssObject/mpc_orbits),
  DIASOURCE (diaSource + prvDiaSources, trigger, iau_id) and each other record/array field,
  an `ImageHDU` per cutout (opened with astropy), `HDUList.writeto`.

Prints one JSON object: per format, conversions per second (all processes), the p50/p99
time of one conversion and its mean CPU time (`time.process_time`), in milliseconds. HTTP, S3 and uvicorn are not counted, so these are
upper bounds of what Herald itself can serve on this machine.

This is our own code written to do the same work as Herald's; it is not Herald's code.
"""

import base64
import gzip
import io
import json
import math
import multiprocessing
import os
import random
import sys
import time

import fastavro
import numpy as np
from astropy.io import fits

CUTOUTS = {"cutoutDifference": "DIFFIM", "cutoutScience": "SCIENCE", "cutoutTemplate": "TEMPLATE"}
MERGED = ("diaObject", "ssObject", "mpc_orbits")
NAMES = {"prvDiaForcedSources": "FORCEDPHOT", "ssSource": "SSSOURCE"}
INT32_NULL = int(np.iinfo(np.int32).min)
INT64_NULL = int(np.iinfo(np.int64).min)
# A few units, as the column-unit table gives them: the cost of a unit is the same whichever.
UNITS = {"ra": "deg", "dec": "deg", "psfFlux": "nJy", "psfFluxErr": "nJy", "midpointMjdTai": "d",
         "x": "pixel", "y": "pixel", "scienceFlux": "nJy", "scienceFluxErr": "nJy"}


def alert_path(archive, alert_id):
    text = str(alert_id)
    return os.path.join(archive, "v2", "alerts", text[:6], f"{text}.avro.gz")


def named_types(t, found):
    if isinstance(t, dict):
        if t.get("type") == "record":
            found[t["name"]] = t["fields"]
            for field in t["fields"]:
                named_types(field["type"], found)
        elif t.get("type") == "array":
            named_types(t["items"], found)
    elif isinstance(t, list):
        for x in t:
            named_types(x, found)
    return found


def fields_of(t, named):
    if isinstance(t, list):
        for x in t:
            if x != "null":
                fields = fields_of(x, named)
                if fields:
                    return fields
        return []
    if isinstance(t, dict):
        if t.get("type") == "record":
            return t["fields"]
        if t.get("type") == "array":
            return fields_of(t["items"], named)
        return []
    if isinstance(t, str):
        return named.get(t) or named.get(t.rpartition(".")[2]) or []
    return []


def is_array(t):
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        t = rest[0] if rest else None
    return isinstance(t, dict) and t.get("type") == "array"


def column(name, t, values):
    nullable, base = False, t
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        nullable, base = "null" in t, (rest[0] if rest else None)
    if not isinstance(base, str):
        return None
    unit = UNITS.get(name)
    if base == "float":
        return fits.Column(name=name, format="E", unit=unit, array=np.array(
            [np.nan if v is None else v for v in values], dtype=np.float32))
    if base == "double":
        return fits.Column(name=name, format="D", unit=unit, array=np.array(
            [np.nan if v is None else v for v in values], dtype=np.float64))
    if base == "int":
        return fits.Column(name=name, format="J", unit=unit, null=INT32_NULL if nullable else None,
                           array=np.array([INT32_NULL if v is None else v for v in values], dtype=np.int32))
    if base == "long":
        return fits.Column(name=name, format="K", unit=unit, null=INT64_NULL if nullable else None,
                           array=np.array([INT64_NULL if v is None else v for v in values], dtype=np.int64))
    if base == "boolean":
        if nullable:
            return fits.Column(name=name, format="B", null=255, array=np.array(
                [255 if v is None else int(v) for v in values], dtype=np.uint8))
        return fits.Column(name=name, format="L", array=np.array([bool(v) for v in values]))
    if base == "string":
        texts = ["" if v is None else str(v) for v in values]
        width = max(max((len(s) for s in texts), default=0), 1)
        return fits.Column(name=name, format=f"{width}A", array=np.array(texts))
    return None


def columns(rows, fields):
    out = []
    for field in fields:
        c = column(field["name"], field["type"], [row[field["name"]] for row in rows])
        if c is not None:
            out.append(c)
    return out


def to_fits(schema, record):
    top = schema["fields"]
    named = named_types(schema, {})
    by_name = {f["name"]: f for f in top}
    alert_cols = columns([record], top)
    for name in MERGED:
        data = record.get(name)
        if name in by_name and data is not None:
            extra = columns([data], fields_of(by_name[name]["type"], named))
            have = {c.name for c in alert_cols}
            for c in extra:
                if c.name in have:
                    c.name = f"{name}_{c.name}"
            alert_cols.extend(extra)
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "Rubin Observatory"
    primary.header["INSTRUME"] = "LSSTCam"
    hdus = [primary, fits.BinTableHDU.from_columns(alert_cols, name="ALERT")]
    for field, extname in CUTOUTS.items():
        if record.get(field) is not None:
            with fits.open(io.BytesIO(record[field])) as stamp:
                hdus.append(fits.ImageHDU(data=stamp[0].data, header=stamp[0].header, name=extname))
    rows = [record["diaSource"], *(record.get("prvDiaSources") or [])]
    dia = columns(rows, fields_of(by_name["diaSource"]["type"], named))
    names = [c.name for c in dia]
    if "psfFlux" in names and "midpointMjdTai" in names:
        moved = dia.pop(names.index("psfFlux"))
        dia.insert([c.name for c in dia].index("midpointMjdTai") + 1, moved)
    dia.append(fits.Column(name="trigger", format="L", array=np.array([True] + [False] * (len(rows) - 1))))
    ids = [f"LSST-AP-DS-{row['diaSourceId']}" for row in rows]
    dia.append(fits.Column(name="iau_id", format=f"{max(len(s) for s in ids)}A", array=np.array(ids)))
    hdus.append(fits.BinTableHDU.from_columns(dia, name="DIASOURCE"))
    for field in top:
        name = field["name"]
        if name in ("diaSource", "prvDiaSources", *MERGED, *CUTOUTS):
            continue
        sub = fields_of(field["type"], named)
        if not sub:
            continue
        data = record.get(name)
        if is_array(field["type"]):
            rows = data or []
        else:
            rows = [data] if data is not None else []
        hdus.append(fits.BinTableHDU.from_columns(columns(rows, sub), name=NAMES.get(name, name.upper())))
    buf = io.BytesIO()
    fits.HDUList(hdus).writeto(buf)
    return buf.getvalue()


def sanitize(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitize(v) for v in value]
    return value


def one(archive, schema_text, alert_id, fmt):
    raw = gzip.decompress(open(alert_path(archive, alert_id), "rb").read())
    body = raw[5:]
    schema = json.loads(schema_text)
    parsed = fastavro.parse_schema(json.loads(schema_text))
    record = fastavro.schemaless_reader(io.BytesIO(body), parsed, parsed)
    if fmt == "avro":
        buf = io.BytesIO()
        fastavro.writer(buf, parsed, [record])
        return len(buf.getvalue())
    if fmt == "json":
        return len(json.dumps(sanitize(record), ensure_ascii=False, allow_nan=False,
                              separators=(",", ":")).encode())
    return len(to_fits(schema, record))


def worker(args):
    archive, schema_text, first, count, fmt, seconds, seed = args
    rng = random.Random(seed)
    times = []
    cpu = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started, started_cpu = time.perf_counter(), time.process_time()
        one(archive, schema_text, first + rng.randrange(count), fmt)
        times.append(time.perf_counter() - started)
        cpu += time.process_time() - started_cpu
    return times, cpu


def main():
    archive, first, count, schema_id, seconds, processes = sys.argv[1:7]
    first, count, seconds, processes = int(first), int(count), float(seconds), int(processes)
    schema_text = open(os.path.join(archive, "v2", "schemas", f"{schema_id}.json")).read()
    result = {}
    with multiprocessing.Pool(processes) as pool:
        for fmt in ("avro", "json", "fits"):
            # Warm up: imports, caches, first-call costs.
            one(archive, schema_text, first, fmt)
            runs = pool.map(worker, [(archive, schema_text, first, count, fmt, seconds, 1000 * p + 7)
                                     for p in range(processes)])
            times = sorted(t for run, _ in runs for t in run)
            cpu = sum(c for _, c in runs)
            result[fmt] = {
                "cpu_ms": round(1000 * cpu / len(times), 2),
                "per_second": round(len(times) / seconds, 1),
                "p50_ms": round(1000 * times[len(times) // 2], 2),
                "p99_ms": round(1000 * times[min(len(times) - 1, int(len(times) * 0.99))], 2),
                "conversions": len(times),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
