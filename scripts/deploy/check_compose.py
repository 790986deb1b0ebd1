"""Structure checks of docker-compose.yml with PyYAML (used besides `docker compose config`,
which needs the compose plugin): every service the issue lists is there, images are pinned (no
`latest`, no untagged), our services are built from the Dockerfile with SERVICE set and run
non-root on a read-only root filesystem, depends_on names existing services, profiles ui and
monitoring exist, mounted host paths exist. Usage: check_compose.py docker-compose.yml"""

import pathlib
import sys

import yaml

REQUIRED = {"kafka", "kafka-init", "schema-registry", "schema-sync", "registry-proxy", "simulator-load",
            "simulator-replay", "fake-gcs", "alertdb-ingester", "alertdb-server", "console", "prometheus", "grafana"}
OURS = {"schema-sync": "schema-sync", "registry-proxy": "registry-proxy", "simulator-generate": "rubin-alert-sim",
        "simulator-load": "rubin-alert-sim", "simulator-replay": "rubin-alert-sim",
        "alertdb-ingester": "alertdb-ingester", "alertdb-server": "alertdb-server"}


def main():
    path = pathlib.Path(sys.argv[1])
    root = path.resolve().parent
    compose = yaml.safe_load(path.read_text())
    services = compose["services"]
    failures = []
    missing = REQUIRED - services.keys()
    if missing:
        failures.append(f"missing services {sorted(missing)}")
    for name, svc in services.items():
        image = svc.get("image", "")
        if "build" not in svc and (":" not in image or image.endswith(":latest")):
            failures.append(f"{name}: image {image!r} is not pinned")
        for dep in svc.get("depends_on", []):
            if dep not in services:
                failures.append(f"{name}: depends on unknown service {dep}")
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not (root / source).exists():
                failures.append(f"{name}: mounts missing {source}")
        if name in OURS:
            build = svc.get("build", {})
            if build.get("args", {}).get("SERVICE") != OURS[name]:
                failures.append(f"{name}: not built with SERVICE={OURS[name]}")
            if svc.get("read_only") is not True or str(svc.get("user", "")).split(":")[0] in ("", "0", "root"):
                failures.append(f"{name}: not read-only and non-root")
    profiles = {p for svc in services.values() for p in svc.get("profiles", [])}
    if not {"ui", "monitoring"} <= profiles:
        failures.append(f"profiles {sorted(profiles)} lack ui or monitoring")
    kafka_env = services["kafka"]["environment"]
    if "SCRAM:SASL_PLAINTEXT" not in kafka_env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", ""):
        failures.append("kafka: no SCRAM listener")
    for failure in failures:
        print(f"FAIL {path}: {failure}")
    print(f"compose {path}: {len(services)} services, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
