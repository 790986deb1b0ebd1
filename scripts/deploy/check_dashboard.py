"""Checks the Grafana dashboard and the Prometheus alerting rules against the services.

Usage: check_dashboard.py DASHBOARD_JSON [RULES_YAML...]

Dashboard: valid JSON, unique panel ids, at least one query. Rules (rendered `helm template`
output with `--api-versions monitoring.coreos.com/v1/PrometheusRule`, or the Helm template
itself): at least one PrometheusRule with rules, unique alert names, a `severity` label, the
`summary`, `description` and `runbook_url` annotations, and each runbook_url's `#section` a
heading of docs/alerting.md. Both: every metric a query or a rule's `expr` names (extracted by
metric_names.py, the same code the live test integration-tests/tests/metric_names.rs uses) is
exported by a service (found as a string in services/*/src; a histogram's `_bucket`, `_sum`,
`_count` series by its base name) or by Strimzi's Kafka exporter (kafka_*, not checked).
"""

import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import metric_names  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
SEVERITIES = {"critical", "warning", "info"}


def exported_names():
    exported = set()
    for source in REPO.glob("services/*/src/**/*.rs"):
        exported.update(re.findall(r'"([a-z][a-z0-9_]*)"', source.read_text()))
    return exported


def unexported(uses, exported):
    """Failures for every (name, where) whose metric no service exports."""
    failures = []
    for name, where in uses:
        if name.startswith("kafka_"):
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in exported and base not in exported:
            where = where.split(": ", 1)[-1]  # without the file's path, which the caller prints
            failures.append(f"{where}: metric {name} is not exported by any service")
    return failures


def runbook_anchors():
    """GitHub's anchors of the headings of docs/alerting.md."""
    path = REPO / "docs/alerting.md"
    if not path.is_file():
        return set()
    anchors = set()
    for line in path.read_text().splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def check_dashboard(path, exported):
    failures = []
    dashboard = json.loads(pathlib.Path(path).read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        failures.append("panel ids are not unique")
    queries = list(metric_names.dashboard_exprs(path))
    if not queries:
        failures.append("no queries")
    failures += unexported(metric_names.uses(dashboards=[path]), exported)
    return len(queries), failures


def check_rules(path, exported):
    import yaml  # PyYAML, from the project's venv

    failures = []
    text = pathlib.Path(path).read_text()
    if "{{" in text and ".Values" in text:
        rules = [{"alert": where.split(" ", 1)[1], "expr": expr}
                 for where, expr in metric_names.template_exprs(text)]
    else:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind") == "PrometheusRule"]
        if not docs:
            failures.append("no PrometheusRule (render with --api-versions monitoring.coreos.com/v1/PrometheusRule)")
        rules = [rule for doc in docs for group in doc["spec"]["groups"] for rule in group["rules"]]
        anchors = runbook_anchors()
        for rule in rules:
            name = rule.get("alert")
            if not name:
                continue
            labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
            if labels.get("severity") not in SEVERITIES:
                failures.append(f"alert {name}: severity label {labels.get('severity')!r} not one of {sorted(SEVERITIES)}")
            for key in ("summary", "description", "runbook_url"):
                if not annotations.get(key):
                    failures.append(f"alert {name}: no {key} annotation")
            anchor = annotations.get("runbook_url", "").rpartition("#")[2]
            if anchor not in anchors:
                failures.append(f"alert {name}: runbook_url section #{anchor} is not a heading of docs/alerting.md")
    names = [rule["alert"] for rule in rules if "alert" in rule]
    if not rules:
        failures.append("no rules")
    if len(names) != len(set(names)):
        failures.append(f"alert names are not unique: {sorted(names)}")
    failures += unexported(metric_names.uses(rules=[path]), exported)
    return len(rules), failures


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    exported = exported_names()
    failed = False
    dashboard = sys.argv[1]
    checks = [("dashboard", dashboard, check_dashboard)] + [("rules", p, check_rules) for p in sys.argv[2:]]
    for kind, path, check in checks:
        count, failures = check(path, exported)
        for failure in failures:
            print(f"FAIL {path}: {failure}")
        what = "queries" if kind == "dashboard" else "rules"
        print(f"{kind} {path}: {count} {what}, {len(failures)} failed")
        failed = failed or bool(failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
