"""Reads the alert index table with the engines other teams use, for alert_index.rs.

Usage: index_check.py TABLE_DIR OBJECT_ID SINCE_MJD UNTIL_MJD

Prints JSON: the table's version and rows as delta-rs (PyPI `deltalake`) reads them, the
rows DuckDB reads from the Parquet files delta-rs lists (`file_uris()`: DuckDB's delta
extension cannot be downloaded here), and DuckDB's answers to an object query and a
time-range count. Rows are lists of the index's columns, `time` as integer microseconds.
"""

import json
import sys

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

COLUMNS = ["alert_id", "dia_source_id", "dia_object_id", "ss_object_id", "mjd_tai", "time",
           "ra", "dec", "healpix29", "band", "psf_flux", "psf_flux_err", "reliability",
           "schema_id", "archive_key", "kafka_topic", "kafka_partition", "kafka_offset"]


def rows(table):
    table = table.select(COLUMNS)
    time = table.column("time").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    table = table.set_column(COLUMNS.index("time"), "time", time)
    out = [[r[c] for c in COLUMNS] for r in table.to_pylist()]
    return sorted(out, key=lambda r: r[0])


def main():
    path, object_id, since, until = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    dt = DeltaTable(path)
    files = dt.file_uris()
    con = duckdb.connect()
    listed = "[" + ", ".join("'" + f.removeprefix("file://").replace("'", "''") + "'" for f in files) + "]"
    duck = con.execute(f"SELECT * FROM read_parquet({listed})").to_arrow_table()
    duck_object = con.execute(
        f"SELECT alert_id FROM read_parquet({listed}) WHERE dia_object_id = {object_id} "
        "ORDER BY mjd_tai, alert_id").fetchall()
    duck_count = con.execute(
        f"SELECT count(*) FROM read_parquet({listed}) WHERE mjd_tai >= {since!r} AND mjd_tai < {until!r}"
    ).fetchone()[0]
    json.dump({
        "version": dt.version(),
        "files": len(files),
        "schema": [f.name for f in dt.schema().fields],
        "deltalake_rows": rows(dt.to_pyarrow_table()),
        "duckdb_rows": rows(duck),
        "duckdb_object": [r[0] for r in duck_object],
        "duckdb_count": duck_count,
    }, sys.stdout)


if __name__ == "__main__":
    main()
