"""Checks the Grafana dashboard: valid JSON, unique panel ids, and every metric its queries name
is exported by a service (found as a string in services/*/src) or by Strimzi's Kafka exporter
(kafka_*). Usage: check_dashboard.py DASHBOARD_JSON"""

import json
import pathlib
import re
import sys

FUNCTIONS = {"sum", "rate", "irate", "max", "min", "avg", "by", "without", "histogram_quantile", "increase",
             "le", "count", "topk", "on", "ignoring", "and", "or", "unless"}


def main():
    path = pathlib.Path(sys.argv[1])
    dashboard = json.loads(path.read_text())
    repo = pathlib.Path(__file__).resolve().parents[2]
    exported = set()
    for source in repo.glob("services/*/src/**/*.rs"):
        exported.update(re.findall(r'"([a-z][a-z0-9_]*)"', source.read_text()))
    failures = []
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        failures.append("panel ids are not unique")
    queries = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries += 1
            expr = re.sub(r'\{[^}]*\}', "", target["expr"])
            expr = re.sub(r'\[[^\]]*\]', "", expr)
            expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
            for name in re.findall(r"[a-z_][a-z0-9_]*", expr):
                if name in FUNCTIONS or name.startswith("kafka_"):
                    continue
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name not in exported and base not in exported:
                    failures.append(f"panel {panel['title']!r}: metric {name} is not exported by any service")
    if queries == 0:
        failures.append("no queries")
    for failure in failures:
        print(f"FAIL {path}: {failure}")
    print(f"dashboard {path}: {queries} queries, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
