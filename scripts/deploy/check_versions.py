"""Checks that the project runs one Kafka version: the one scripts/kafka/pom.xml states (the jars
the local stack runs), which the broker chart, docker-compose.yml and every script must use too.

Usage: check_versions.py [ROOT]   (ROOT: a tree laid out like the repository; default: the repository)

Fails on: a chart default, appVersion or compose image tag other than the stated version; a
stated version the chart's values.schema.json refuses; any other Kafka-looking version (3.x.y or
4.x.y on a line that mentions Kafka) in helm/, docker-compose.yml, Dockerfile, dev/ or scripts/;
and any `v1beta2` Strimzi API in those places. A line that names another version on purpose (a
negative test) says so: "unsupported version, on purpose"."""

import json
import pathlib
import re
import sys

import yaml

VERSION_ON_KAFKA_LINE = re.compile(r"(?<![\d.])([34]\.\d+\.\d+)(?![\d.])")
SKIP_DIRS = {"charts", "__pycache__"}  # helm dependency build's vendored copies


def files(root):
    for top in ("helm", "scripts", "dev"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(root).parts) \
                    and path.name != pathlib.Path(__file__).name:
                yield path
    for name in ("docker-compose.yml", "Dockerfile"):
        if (root / name).is_file():
            yield root / name


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    failures = []
    pom = (root / "scripts/kafka/pom.xml").read_text()
    stated = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom).group(1)

    chart = root / "helm/alert-stream-broker"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    if values["kafka"]["version"] != stated:
        failures.append(f"helm/alert-stream-broker/values.yaml: kafka.version {values['kafka']['version']} != {stated}")
    app_version = yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]
    if app_version != stated:
        failures.append(f"helm/alert-stream-broker/Chart.yaml: appVersion {app_version} != {stated}")
    schema = json.loads((chart / "values.schema.json").read_text())
    pattern = schema["properties"]["kafka"]["properties"]["version"].get("pattern")
    if not pattern or not re.search(pattern, stated):
        failures.append(f"helm/alert-stream-broker/values.schema.json: kafka.version pattern {pattern!r} refuses {stated}")
    compose = (root / "docker-compose.yml").read_text()
    tags = re.findall(r"image:\s*apache/kafka:(\S+)", compose)
    if not tags:
        failures.append("docker-compose.yml: no apache/kafka image")
    failures += [f"docker-compose.yml: apache/kafka:{tag} != {stated}" for tag in tags if tag != stated]

    scanned = 0
    for path in files(root):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        scanned += 1
        rel = path.relative_to(root)
        for number, line in enumerate(text.splitlines(), 1):
            if "kafka.strimzi.io/v1beta2" in line or re.search(r"strimzi\w*:\s*v1beta2", line, re.IGNORECASE):
                failures.append(f"{rel}:{number}: Strimzi v1beta2 API: {line.strip()}")
            if "kafka" not in line.lower() or "unsupported version, on purpose" in line:
                continue
            for version in VERSION_ON_KAFKA_LINE.findall(line):
                if version != stated:
                    failures.append(f"{rel}:{number}: Kafka version {version}, the project's is {stated}: {line.strip()}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"kafka version {stated}: {scanned} files scanned, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
