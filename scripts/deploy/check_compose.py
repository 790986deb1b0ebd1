"""Structure checks of docker-compose.yml with PyYAML (used besides `docker compose config`,
which needs the compose plugin): every service the issue lists is there, images are pinned (no
`latest`, no untagged), our services are built from the Dockerfile with SERVICE set and run
non-root on a read-only root filesystem, depends_on names existing services, the monitoring
profile exists, published ports are bound to 127.0.0.1, no image of a component under a licence
this project does not ship (Grafana: AGPL; Redpanda Console: BSL), mounted host paths exist, and
dev/compose/local-images.yml only swaps images of services the file has.
Usage: check_compose.py docker-compose.yml"""

import pathlib
import sys

import yaml

REQUIRED = {"kafka", "kafka-init", "schema-registry", "schema-sync", "registry-proxy", "simulator-load",
            "simulator-replay", "fake-gcs", "alertdb-ingester", "alertdb-server", "prometheus"}
# Images of components whose licences this project does not ship.
NOT_SHIPPED = ("grafana/", "redpandadata/")
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
        if image.startswith(NOT_SHIPPED):
            failures.append(f"{name}: image {image!r} is not under a licence this project ships")
        for port in svc.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                failures.append(f"{name}: port {port!r} is not bound to 127.0.0.1")
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
    if "monitoring" not in profiles:
        failures.append(f"profiles {sorted(profiles)} lack monitoring")
    override = root / "dev" / "compose" / "local-images.yml"
    if override.exists():
        for name, svc in (yaml.safe_load(override.read_text()) or {}).get("services", {}).items():
            if name not in services:
                failures.append(f"{override.name}: unknown service {name}")
            if set(svc) != {"image"}:
                failures.append(f"{override.name}: {name} changes more than its image: {sorted(svc)}")
    kafka_env = services["kafka"]["environment"]
    if "SCRAM:SASL_PLAINTEXT" not in kafka_env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", ""):
        failures.append("kafka: no SCRAM listener")
    for failure in failures:
        print(f"FAIL {path}: {failure}")
    print(f"compose {path}: {len(services)} services, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
