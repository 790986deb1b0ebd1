"""DuckDB's side of the alert index benchmark (libs/alert-index/examples/index_bench.rs).

Reads the query spec the benchmark wrote (the table's Parquet files, objects, cones with
their HEALPix ranges, time windows), runs each query twice with DuckDB on the same files
(the first pass warms DuckDB's Parquet metadata cache, the second is timed), and prints
JSON: per query shape the latencies in ms and the rows each query returned.

DuckDB gets the same help our engine has: the Parquet metadata cache is on, and a cone's
SQL carries the HEALPix ranges (and their overall bounds) so that row-group statistics can
prune as ours do. Queries materialise their rows (as an Arrow table), as ours decode them.
"""

import json
import sys
import time

import duckdb


def main():
    spec = json.load(open(sys.argv[1]))
    con = duckdb.connect()
    con.execute("SET enable_object_cache = true")
    files = ", ".join("'" + f.replace("'", "''") + "'" for f in spec["files"])
    con.execute(f"CREATE VIEW idx AS SELECT * FROM read_parquet([{files}])")
    limit = int(spec["limit"])

    def object_sql(object_id):
        return (f"SELECT * FROM idx WHERE dia_object_id = {int(object_id)} "
                f"ORDER BY mjd_tai, alert_id LIMIT {limit}")

    def cone_sql(cone):
        ranges = cone["ranges"]
        lo, hi = ranges[0][0], ranges[-1][1] - 1
        any_range = " OR ".join(f"healpix29 BETWEEN {a} AND {b - 1}" for a, b in ranges)
        ra, dec, r = repr(cone["ra"]), repr(cone["dec"]), repr(cone["radius"])
        distance = (f"degrees(2 * asin(least(1, sqrt(pow(sin(radians(dec - {dec}) / 2), 2) + "
                    f"cos(radians({dec})) * cos(radians(dec)) * pow(sin(radians(ra - {ra}) / 2), 2)))))")
        return (f"SELECT * FROM idx WHERE healpix29 BETWEEN {lo} AND {hi} AND ({any_range}) "
                f"AND {distance} <= {r} ORDER BY mjd_tai, alert_id LIMIT {limit}")

    def count_sql(window):
        since, until = window
        return f"SELECT count(*) FROM idx WHERE mjd_tai >= {since!r} AND mjd_tai < {until!r}"

    shapes = {
        "object": [object_sql(o) for o in spec["objects"]],
        "cone": [cone_sql(c) for c in spec["cones"]],
        "count": [count_sql(w) for w in spec["windows"]],
    }
    out = {"version": duckdb.__version__,
           "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}
    for name, queries in shapes.items():
        for sql in queries:  # warm-up pass
            con.execute(sql).to_arrow_table()
        times, rows = [], []
        for sql in queries:
            started = time.perf_counter()
            result = con.execute(sql).to_arrow_table()
            times.append((time.perf_counter() - started) * 1000.0)
            rows.append(result.column(0)[0].as_py() if name == "count" else result.num_rows)
        out[name] = {"ms": times, "rows": rows}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
