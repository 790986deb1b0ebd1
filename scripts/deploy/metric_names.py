"""The metric names that the Grafana dashboard's queries and the Prometheus alerting rules name.

One implementation for both checks: scripts/deploy/check_dashboard.py (static: every name is
exported by a service's source) and integration-tests/tests/metric_names.rs (live: every name is
in a scrape of a running service).

Usage: metric_names.py [--with-source] [--dashboard JSON]... [--rules YAML]...
  --dashboard  a Grafana dashboard (panels[].targets[].expr)
  --rules      rendered YAML holding PrometheusRule documents (`helm template ...
               --api-versions monitoring.coreos.com/v1/PrometheusRule`), or the Helm template
               itself (templates/prometheusrule.yaml: its `expr:` values, with every {{ ... }}
               action removed, which leaves the metric names intact)
Prints each name once, sorted, one a line; with --with-source, `name<TAB>where` for every use
(the panel's title or the alert's name).
"""

import argparse
import json
import pathlib
import re
import sys

# Words of PromQL that are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "atan2", "inf", "nan"}
# Histogram/summary series suffixes: `x_bucket` is exported as itself, and in the source as `x`.
SUFFIXES = ("_bucket", "_sum", "_count")


def expr_metric_names(expr):
    """The metric names a PromQL expression selects (Grafana variables allowed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", expr)  # offset 10m
    expr = re.sub(r"\$\w+", " ", expr)  # Grafana variables outside ranges
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue  # a function or aggregation (sum, rate, histogram_quantile...) or a keyword
        names.add(name)
    return names


def dashboard_exprs(path):
    """(where, expr) of every query of a Grafana dashboard, rows' nested panels included."""
    dashboard = json.loads(pathlib.Path(path).read_text())
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f"panel {panel.get('title', panel.get('id'))!r}", target["expr"]


def rules_exprs(path):
    """(where, expr) of every rule of the PrometheusRules in a rendered file or the template."""
    text = pathlib.Path(path).read_text()
    if "{{" in text and "kind: PrometheusRule" in text and ".Values" in text:
        yield from template_exprs(text)
        return
    import yaml  # PyYAML, from the project's venv

    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") != "PrometheusRule":
            continue
        for group in doc.get("spec", {}).get("groups", []):
            for rule in group.get("rules", []):
                where = f"alert {rule['alert']}" if "alert" in rule else f"record {rule.get('record')}"
                yield where, str(rule["expr"])


def template_exprs(text):
    """The `expr:` values of a Helm template of PrometheusRules (a plain scalar or a block),
    each with its alert's name, and the template actions removed."""
    lines = text.splitlines()
    alert = None
    for i, line in enumerate(lines):
        named = re.match(r"^\s*-?\s*alert:\s*(\S+)", line)
        if named:
            alert = named.group(1)
        m = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*)$", line)
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        if value in ("|", "|-", "|+", ">", ">-", ">+"):
            block = []
            for following in lines[i + 1:]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                block.append(following)
            value = "\n".join(block)
        yield f"alert {alert}", re.sub(r"\{\{.*?\}\}", "", value)


def uses(dashboards=(), rules=()):
    """[(name, where)] for every metric name every query and rule names."""
    out = []
    for path in dashboards:
        for where, expr in dashboard_exprs(path):
            out.extend((name, f"{path}: {where}") for name in sorted(expr_metric_names(expr)))
    for path in rules:
        for where, expr in rules_exprs(path):
            out.extend((name, f"{path}: {where}") for name in sorted(expr_metric_names(expr)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dashboard", action="append", default=[])
    parser.add_argument("--rules", action="append", default=[])
    parser.add_argument("--with-source", action="store_true")
    args = parser.parse_args()
    if not args.dashboard and not args.rules:
        parser.error("give at least one --dashboard or --rules file")
    found = uses(args.dashboard, args.rules)
    if not found:
        sys.exit("metric_names: no metric names found")
    if args.with_source:
        for name, where in found:
            print(f"{name}\t{where}")
    else:
        for name in sorted({name for name, _ in found}):
            print(name)


if __name__ == "__main__":
    main()
