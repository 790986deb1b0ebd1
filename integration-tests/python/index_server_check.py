"""The alert index read by external engines, to compare with alertdb-server's answers
(integration-tests/tests/alert_index_service.rs).

Usage: index_server_check.py TABLE_DIR OBJECT_ID SINCE_MJD UNTIL_MJD RA DEC RADIUS_DEG

Reads the Delta table at TABLE_DIR twice, independently of our Rust code:
- with delta-rs (`deltalake`, the Delta Lake Python library): its log replay gives the live
  files and the rows (`to_pyarrow_table`);
- with DuckDB over the same Parquet files (its delta extension would have to be downloaded;
  plain `read_parquet` of the files the log lists is what any engine can do);
and answers the server's three questions with each: the alerts of one diaObject, the alerts
with SINCE <= mjd_tai < UNTIL, the alerts within RADIUS_DEG of (RA, DEC). Prints JSON:
{"deltalake": {"rows": n, "object": [ids], "time": [...], "cone": [...], "by_id": {...}},
 "duckdb": {"rows": n, "object": [...], "time": [...], "cone": [...]}}, ids sorted; `by_id`
holds each alert's values of the columns the server answers, to compare values too.
"""

import json
import math
import sys

import duckdb
from deltalake import DeltaTable


def distance_deg(ra1, dec1, ra2, dec2):
    d1, d2 = math.radians(dec1), math.radians(dec2)
    a = (math.sin((d2 - d1) / 2) ** 2
         + math.cos(d1) * math.cos(d2) * math.sin(math.radians(ra2 - ra1) / 2) ** 2)
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(a))))


def main():
    root = sys.argv[1]
    object_id = int(sys.argv[2])
    since, until = float(sys.argv[3]), float(sys.argv[4])
    ra, dec, radius = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])

    table = DeltaTable(root)
    rows = table.to_pyarrow_table().to_pylist()
    by_id = {
        str(row["alert_id"]): {
            "dia_object_id": row["dia_object_id"],
            "mjd_tai": row["mjd_tai"],
            "time": row["time"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "ra": row["ra"],
            "dec": row["dec"],
            "band": row["band"],
            "psf_flux": row["psf_flux"],
            "schema_id": row["schema_id"],
        }
        for row in rows
    }
    delta = {
        "rows": len(rows),
        "object": sorted(r["alert_id"] for r in rows if r["dia_object_id"] == object_id),
        "time": sorted(r["alert_id"] for r in rows if since <= r["mjd_tai"] < until),
        "cone": sorted(r["alert_id"] for r in rows
                       if distance_deg(ra, dec, r["ra"], r["dec"]) <= radius),
        "by_id": by_id,
    }

    files = ", ".join("'" + f.replace("'", "''") + "'" for f in table.file_uris())
    con = duckdb.connect()
    con.execute(f"CREATE VIEW idx AS SELECT * FROM read_parquet([{files}])")

    def ids(where):
        return sorted(r[0] for r in con.execute(f"SELECT alert_id FROM idx WHERE {where}").fetchall())

    distance = (f"degrees(2 * asin(least(1, sqrt(pow(sin(radians(dec - {dec!r}) / 2), 2) + "
                f"cos(radians({dec!r})) * cos(radians(dec)) * pow(sin(radians(ra - {ra!r}) / 2), 2)))))")
    duck = {
        "rows": con.execute("SELECT count(*) FROM idx").fetchone()[0],
        "object": ids(f"dia_object_id = {object_id}"),
        "time": ids(f"mjd_tai >= {since!r} AND mjd_tai < {until!r}"),
        "cone": ids(f"{distance} <= {radius!r}"),
    }
    json.dump({"deltalake": delta, "duckdb": duck}, sys.stdout)


if __name__ == "__main__":
    main()
