"""Reads alertdb-server's Herald-compatible answers with the clients astronomers use.

Usage: herald_check.py MANIFEST.json

The manifest lists, per alert: the archived wire-format message and its stored schema (the
truth), and the files the server answered for it (Avro OCF, JSON, FITS, cutouts FITS, schema,
DataLink VOTable), plus the DataLink URL. For each alert this checks that

- fastavro reads the OCF, and its one record equals the archived alert read with its schema;
- the JSON equals that record as Herald writes it (bytes base64, NaN/inf null, timestamps in
  ISO 8601);
- astropy opens the FITS file: HDU names, column names, formats, units and null sentinels,
  row counts and every cell follow Herald's layout rules (re-implemented here in Python from
  the schema), and each cutout HDU holds the cutout's pixels;
- the schema answer is the stored schema;
- astropy parses the DataLink VOTable with verify='exception', and pyvo's DataLink support
  reads it from the server and follows every access URL to a 200 with the stated content type.

Units are checked against the APDB schema of lsst-sdm-schemas (apdb.yaml), the source Herald's
table is made from: a unit we write must be the APDB's unit of that column name.

Prints one JSON line of counts; exits non-zero with a message on the first difference.
"""

import base64
import datetime
import importlib.resources
import io
import json
import math
import sys

import fastavro
import numpy as np
import pyvo
import yaml
from astropy.io import fits, votable

IAU = "LSST-AP-DS-"
CUTOUTS = [
    ("cutoutDifference", "DIFFIM"),
    ("cutoutScience", "SCIENCE"),
    ("cutoutTemplate", "TEMPLATE"),
]
MERGED = ("diaObject", "ssObject", "mpc_orbits")
PRIMITIVES = {"float", "double", "int", "long", "boolean", "string"}
# Units Herald's table gives that apdb.yaml does not list, or spells differently.
UNIT_EXTRAS = {
    "firstDiaSourceMjdTai": "d",
    "lastDiaSourceMjdTai": "d",
    "timeProcessedMjdTai": "d",
    "timeWithdrawnMjdTai": "d",
    "validityStartMjdTai": "d",
}
# Columns every alert of these versions has, and their units.
KNOWN_UNITS = {"ra": "deg", "psfFlux": "nJy", "midpointMjdTai": "d", "x": "pixel"}


def fail(message):
    raise SystemExit(f"herald_check: {message}")


def apdb_units():
    path = importlib.resources.files("lsst.sdm.schemas").joinpath("apdb.yaml")
    units = {}
    for table in yaml.safe_load(path.read_text())["tables"]:
        for column in table.get("columns", []):
            unit = column.get("fits:tunit") or column.get("ivoa:unit")
            if unit:
                # Herald's table writes some squares as `arcsec2`, others as `deg**2`.
                units.setdefault(column["name"], set()).update({unit, unit.replace("**2", "2")})
    return units


def same(a, b, where):
    """Deep equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            fail(f"{where}: {a!r} != {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            fail(f"{where}: keys {list(a)} != {list(b)}")
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            fail(f"{where}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif type(a) is not type(b) or a != b:
        fail(f"{where}: {a!r} != {b!r}")


def herald_json(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: herald_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [herald_json(v) for v in value]
    return value


# --- Herald's FITS layout, from the schema --------------------------------------------------


def named_types(schema):
    found = {}

    def walk(t, namespace):
        if isinstance(t, list):
            for x in t:
                walk(x, namespace)
        elif isinstance(t, dict):
            kind = t.get("type")
            if kind in ("record", "enum", "fixed"):
                name = t["name"]
                ns = t.get("namespace", namespace)
                full = name if "." in name else (f"{ns}.{name}" if ns else name)
                found[full] = t
                found.setdefault(name, t)
                if kind == "record":
                    for field in t["fields"]:
                        walk(field["type"], full.rpartition(".")[0])
            elif kind == "array":
                walk(t["items"], namespace)
            elif kind == "map":
                walk(t["values"], namespace)

    walk(schema, schema.get("namespace", ""))
    return found


def record_fields(t, named):
    if isinstance(t, list):
        for x in t:
            if x != "null":
                fields = record_fields(x, named)
                if fields:
                    return fields
        return []
    if isinstance(t, dict):
        if t.get("type") == "record":
            return t["fields"]
        if t.get("type") == "array":
            return record_fields(t["items"], named)
        return []
    if isinstance(t, str) and t in named and named[t].get("type") == "record":
        return named[t]["fields"]
    return []


def is_array(t):
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return bool(rest) and isinstance(rest[0], dict) and rest[0].get("type") == "array"
    return isinstance(t, dict) and t.get("type") == "array"


def column_kind(t):
    """(TFORM letter, nullable) of a field, or None when Herald makes no column of it."""
    nullable = False
    base = t
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        nullable = "null" in t
        base = rest[0] if rest else None
    if not isinstance(base, str) or base not in PRIMITIVES:
        return None
    letter = {"float": "E", "double": "D", "int": "J", "long": "K", "string": "A"}.get(base)
    if base == "boolean":
        letter = "B" if nullable else "L"
    return letter, nullable


def columns(fields, slot):
    out = []
    for field in fields:
        kind = column_kind(field["type"])
        if kind:
            out.append({"name": field["name"], "form": kind[0], "nullable": kind[1],
                        "slot": slot, "field": field["name"]})
    return out


def expected_layout(schema, record):
    """[(extname, columns, rows)]: rows are lists of records (one per slot)."""
    named = named_types(schema)
    top = schema["fields"]
    by_name = {f["name"]: f for f in top}
    tables = []
    cols = columns(top, 0)
    slots = [record]
    for name in MERGED:
        if name not in by_name:
            continue
        sub = record_fields(by_name[name]["type"], named)
        data = record.get(name)
        if not sub or data is None:
            continue
        if isinstance(data, list):
            data = data[0]
        slot = len(slots)
        slots.append(data)
        for column in columns(sub, slot):
            if any(c["name"] == column["name"] for c in cols):
                column["name"] = f"{name}_{column['name']}"
            cols.append(column)
    tables.append(("ALERT", cols, [slots]))
    for field, extname in CUTOUTS:
        if record.get(field) is not None:
            tables.append((extname, None, None))
    dia = record_fields(by_name["diaSource"]["type"], named)
    rows = [[record["diaSource"]]] + [[r] for r in (record.get("prvDiaSources") or [])]
    cols = columns(dia, 0)
    names = [c["name"] for c in cols]
    if "psfFlux" in names and "midpointMjdTai" in names:
        psf, mjd = names.index("psfFlux"), names.index("midpointMjdTai")
        if psf != mjd + 1:
            moved = cols.pop(psf)
            if psf < mjd:
                mjd -= 1
            cols.insert(mjd + 1, moved)
    cols.append({"name": "trigger", "form": "L", "nullable": False, "special": "trigger"})
    cols.append({"name": "iau_id", "form": "A", "nullable": False, "special": "iau"})
    tables.append(("DIASOURCE", cols, rows))
    special = {"diaSource", "prvDiaSources", *MERGED, *(c for c, _ in CUTOUTS)}
    for field in top:
        if field["name"] in special:
            continue
        sub = record_fields(field["type"], named)
        if not sub:
            continue
        extname = {"prvDiaForcedSources": "FORCEDPHOT", "ssSource": "SSSOURCE"}.get(
            field["name"], field["name"].upper())
        data = record.get(field["name"])
        if is_array(field["type"]):
            rows = [[r] for r in (data or [])]
        else:
            rows = [[data]] if data is not None else []
        tables.append((extname, columns(sub, 0), rows))
    return tables


def check_cell(column, value, cell, where):
    form = column["form"]
    if form in ("E", "D"):
        want = np.float32(value) if form == "E" and value is not None else value
        if value is None:
            if not np.isnan(cell):
                fail(f"{where}: null must be NaN, found {cell!r}")
        elif not (cell == want or (np.isnan(cell) and np.isnan(want))):
            fail(f"{where}: {cell!r} != {want!r}")
    elif form in ("J", "K"):
        sentinel = np.iinfo(np.int32 if form == "J" else np.int64).min
        want = sentinel if value is None else value
        if int(cell) != want:
            fail(f"{where}: {cell!r} != {want!r}")
    elif form == "L":
        if bool(cell) != bool(value):
            fail(f"{where}: {cell!r} != {value!r}")
    elif form == "B":
        want = 255 if value is None else int(value)
        if int(cell) != want:
            fail(f"{where}: {cell!r} != {want!r}")
    elif form == "A":
        want = "" if value is None else value
        if str(cell) != want.rstrip():
            fail(f"{where}: {cell!r} != {want!r}")


def check_fits(path, schema, record, units, counts):
    layout = expected_layout(schema, record)
    with fits.open(path) as hdul:
        hdul.verify("exception")
        names = [hdu.name for hdu in hdul]
        want = ["PRIMARY"] + [t[0] for t in layout]
        if names != want:
            fail(f"{path}: HDUs {names} != {want}")
        if hdul[0].header.get("TELESCOP") != "Rubin Observatory":
            fail(f"{path}: TELESCOP {hdul[0].header.get('TELESCOP')!r}")
        for extname, cols, rows in layout:
            hdu = hdul[extname]
            if cols is None:
                field = next(f for f, e in CUTOUTS if e == extname)
                check_cutout(hdu, record[field], f"{path}[{extname}]")
                counts["cutouts"] += 1
                continue
            got = [c.name for c in hdu.columns]
            if got != [c["name"] for c in cols]:
                fail(f"{path}[{extname}]: columns {got} != {[c['name'] for c in cols]}")
            if hdu.header["NAXIS2"] != len(rows):
                fail(f"{path}[{extname}]: {hdu.header['NAXIS2']} rows != {len(rows)}")
            for column, fits_column in zip(cols, hdu.columns):
                where = f"{path}[{extname}].{column['name']}"
                if fits_column.format[-1] != column["form"]:
                    fail(f"{where}: format {fits_column.format} != {column['form']}")
                unit = fits_column.unit
                if column["form"] in "EDJK":
                    apdb = units.get(column["name"], set())
                    if unit and unit not in apdb and UNIT_EXTRAS.get(column["name"]) != unit:
                        fail(f"{where}: unit {unit!r}, APDB says {sorted(apdb)}")
                    if column["name"] in KNOWN_UNITS and unit != KNOWN_UNITS[column["name"]]:
                        fail(f"{where}: unit {unit!r} != {KNOWN_UNITS[column['name']]!r}")
                    if unit:
                        counts["units"] += 1
                elif unit:
                    fail(f"{where}: a {column['form']} column has unit {unit!r}")
                null = fits_column.null
                if column["form"] in "JK":
                    sentinel = int(np.iinfo(np.int32 if column["form"] == "J" else np.int64).min)
                    if (null is not None) != column["nullable"] or (null is not None and int(null) != sentinel):
                        fail(f"{where}: TNULL {null!r} (nullable: {column['nullable']})")
                if column["form"] == "B" and null != 255:
                    fail(f"{where}: TNULL {null!r} != 255")
                data = hdu.data[fits_column.name] if len(rows) else []
                for r, row in enumerate(rows):
                    if column.get("special") == "trigger":
                        value = r == 0
                    elif column.get("special") == "iau":
                        value = f"{IAU}{row[0]['diaSourceId']}"
                    else:
                        value = row[column["slot"]][column["field"]]
                    if isinstance(value, datetime.datetime | datetime.date):
                        fail(f"{where}: a logical-type field has a column")
                    check_cell(column, value, data[r], f"{where}[{r}]")
                    counts["cells"] += 1
            counts["tables"] += 1


def check_cutout(hdu, stamp, where):
    with fits.open(io.BytesIO(stamp)) as original:
        want = original[0].data
        if hdu.data is None or want is None or hdu.data.shape != want.shape:
            fail(f"{where}: shape {None if hdu.data is None else hdu.data.shape} != {want.shape}")
        if not np.array_equal(hdu.data, want):
            fail(f"{where}: pixels differ")
        for key in ("BITPIX", "NAXIS1", "NAXIS2"):
            if hdu.header[key] != original[0].header[key]:
                fail(f"{where}: {key} {hdu.header[key]} != {original[0].header[key]}")


# --- The rest -----------------------------------------------------------------------------


def check_links(entry, counts):
    # Strict: any VOTable warning is an error.
    table = votable.parse(entry["links"], verify="exception").get_first_table()
    rows = table.array
    semantics = [str(s) for s in rows["semantics"]]
    if semantics.count("#this") != 2 or "#cutout" not in semantics:
        fail(f"{entry['links']}: semantics {semantics}")
    results = pyvo.dal.adhoc.DatalinkResults.from_result_url(entry["links_url"])
    if results.status[0] != "OK":
        fail(f"{entry['links_url']}: status {results.status}")
    seen = set()
    for record in results:
        if str(record["ID"]) != str(entry["id"]):
            fail(f"{entry['links_url']}: ID {record['ID']!r}")
        url = record.getdataurl()
        if not url.startswith(entry["expected_base"]):
            fail(f"{url} does not start with {entry['expected_base']}")
        raw = record.getdataset(timeout=30)
        content_type = raw.headers.get("content-type", "").split(";")[0]
        body = raw.read()
        if content_type != record.content_type:
            fail(f"{url}: content type {content_type!r}, the link says {record.content_type!r}")
        if not body:
            fail(f"{url}: empty body")
        if record.content_type == "application/fits":
            fits.open(io.BytesIO(body)).verify("exception")
        seen.add(record.semantics)
        counts["links_followed"] += 1
    if not {"#this", "#cutout"} <= seen:
        fail(f"{entry['links_url']}: followed {seen}")


def main():
    manifest = json.load(open(sys.argv[1]))
    units = apdb_units()
    counts = {"alerts": 0, "tables": 0, "cells": 0, "units": 0, "cutouts": 0, "links_followed": 0,
              "versions": set()}
    for entry in manifest["alerts"]:
        schema = json.load(open(entry["schema"]))
        parsed = fastavro.parse_schema(schema)
        wire = open(entry["wire"], "rb").read()
        if wire[0] != 0:
            fail(f"{entry['wire']}: not wire format")
        archived = fastavro.schemaless_reader(io.BytesIO(wire[5:]), parsed, parsed)

        with open(entry["avro"], "rb") as f:
            reader = fastavro.reader(f)
            records = list(reader)
            embedded = json.loads(reader.metadata["avro.schema"])
        if embedded != schema:
            fail(f"{entry['avro']}: the embedded schema is not the stored one")
        if len(records) != 1:
            fail(f"{entry['avro']}: {len(records)} records")
        same(records[0], archived, f"{entry['avro']}")

        same(json.load(open(entry["json"])), herald_json(archived), entry["json"])
        check_fits(entry["fits"], schema, archived, units, counts)

        cutouts = [e for f, e in CUTOUTS if archived.get(f) is not None]
        with fits.open(entry["cutouts"]) as hdul:
            hdul.verify("exception")
            if [h.name for h in hdul] != ["PRIMARY"] + cutouts:
                fail(f"{entry['cutouts']}: HDUs {[h.name for h in hdul]}")
            for field, extname in CUTOUTS:
                if archived.get(field) is not None:
                    check_cutout(hdul[extname], archived[field], f"{entry['cutouts']}[{extname}]")

        if json.load(open(entry["schema_answer"])) != schema:
            fail(f"{entry['schema_answer']}: not the stored schema")
        check_links(entry, counts)
        counts["alerts"] += 1
        counts["versions"].add(schema.get("namespace", "?"))
    counts["versions"] = sorted(counts["versions"])
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
