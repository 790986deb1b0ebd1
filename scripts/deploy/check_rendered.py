"""Assertions over `helm template` output of the alert-distribution charts.

Usage: check_rendered.py VALUES_FILE RENDERED_YAML [--kind umbrella|ingester|server|...]

Reads the example values file the manifest was rendered from and checks that the manifest says
what the values ask for: one SCRAM KafkaUser per `users` entry with exactly BRIEF §2's ACLs and
the password from `<username>-password`, the three listeners with the pinned addresses, the
certificate's hosts, the topics, probes/resources/securityContext on every container, Prometheus
annotations, Workload Identity annotations, and no `latest` image tags. Exits non-zero on the
first run with any failure, after printing every failure.
"""

import pathlib
import sys

import yaml

failures = []
passed = 0


def check(condition, message):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(message)


def by_kind(docs, kind):
    return [d for d in docs if d and d.get("kind") == kind]


def named(docs, kind, name):
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    check(len(found) == 1, f"{kind}/{name}: expected exactly one, found {len(found)}")
    return found[0] if found else None


def acl_set(acls):
    out = set()
    for rule in acls:
        res = rule["resource"]
        ops = rule.get("operations") or [rule.get("operation")]
        for op in ops:
            out.add((res["type"], res.get("name"), res.get("patternType"), op, rule.get("type", "allow")))
    return out


def expected_user_acls(user):
    out = set()
    for topic in user["readonlyTopics"]:
        for op in ("Read", "Describe", "DescribeConfigs"):
            out.add(("topic", topic, "literal", op, "allow"))
    for group in user["groups"]:
        out.add(("group", group, "prefix", "All", "allow"))
    return out


def check_broker(docs, values):
    broker = values.get("alert-stream-broker", {})
    secret = broker.get("usersSecretName", "alert-stream-broker-secrets")
    cluster = values.get("global", {}).get("kafkaClusterName", "alert-broker")
    kafka = named(docs, "Kafka", cluster)
    if kafka is None:
        return
    # Users: exactly one SCRAM KafkaUser per entry, exact ACLs, password from <username>-password.
    for user in broker.get("users", []):
        ku = named(docs, "KafkaUser", user["username"])
        if ku is None:
            continue
        auth = ku["spec"]["authentication"]
        check(auth["type"] == "scram-sha-512", f"{user['username']}: authentication {auth['type']}")
        ref = auth["password"]["valueFrom"]["secretKeyRef"]
        check(ref == {"name": secret, "key": f"{user['username']}-password"},
              f"{user['username']}: password from {ref}")
        got = acl_set(ku["spec"]["authorization"]["acls"])
        want = expected_user_acls(user)
        check(got == want, f"{user['username']}: ACLs {sorted(got)} != {sorted(want)}")
        check(ku["metadata"]["labels"].get("strimzi.io/cluster") == cluster,
              f"{user['username']}: not labelled for cluster {cluster}")
    spec = kafka["spec"]["kafka"]
    check(spec["authorization"]["type"] == "simple", "authorization is not simple")
    check(spec["authorization"]["superUsers"] == broker.get("superusers", ["kafka-admin"]),
          f"superUsers {spec['authorization']['superUsers']}")
    listeners = {item["name"]: item for item in spec["listeners"]}
    for name, port in (("internal", 9092), ("tls", 9093)):
        lst = listeners.get(name)
        check(lst is not None and lst["port"] == port and lst["type"] == "internal" and lst["tls"] is True
              and lst["authentication"]["type"] == "tls", f"listener {name}: {lst}")
    ext = broker.get("externalListener", {})
    if ext.get("enabled", True):
        lst = listeners.get("external", {})
        check(lst.get("port") == 9094 and lst.get("type") == "loadbalancer"
              and lst.get("authentication", {}).get("type") == "scram-sha-512", f"listener external: {lst}")
        conf = lst.get("configuration", {})
        boot = ext.get("bootstrap", {})
        if boot.get("ip"):
            check(conf.get("bootstrap", {}).get("loadBalancerIP") == boot["ip"], "bootstrap IP not pinned")
        if boot.get("host"):
            check(conf.get("bootstrap", {}).get("alternativeNames") == [boot["host"]], "bootstrap host missing")
        want = [{"broker": i, **({"loadBalancerIP": b["ip"]} if b.get("ip") else {}),
                 **({"advertisedHost": b["host"]} if b.get("host") else {})}
                for i, b in enumerate(ext.get("brokers", []))]
        check(conf.get("brokers", []) == want, f"per-broker pins {conf.get('brokers')} != {want}")
        pools = [p for p in by_kind(docs, "KafkaNodePool") if "broker" in p["spec"]["roles"]]
        check(len(pools) == 1 and pools[0]["metadata"]["annotations"].get("strimzi.io/next-node-ids") == "[0-99]",
              "broker pool ids are not pinned to 0..N-1, the per-broker pins would not match")
        if ext.get("tls", {}).get("certManager", {}).get("enabled"):
            certs = by_kind(docs, "Certificate")
            hosts = [boot["host"]] + [b["host"] for b in ext.get("brokers", [])]
            check(len(certs) == 1 and certs[0]["spec"]["dnsNames"] == hosts, "certificate hosts")
            check(conf.get("brokerCertChainAndKey", {}).get("secretName") == certs[0]["spec"]["secretName"],
                  "external listener does not use the certificate's secret")
    else:
        check("external" not in listeners, "external listener rendered while disabled")
    for topic in broker.get("topics", []):
        kt = named(docs, "KafkaTopic", topic["name"])
        if kt is None:
            continue
        check(kt["spec"]["partitions"] == topic["partitions"] and kt["spec"]["replicas"] == topic["replicas"],
              f"topic {topic['name']}: partitions/replicas")
        config = kt["spec"]["config"]
        for key, field in (("retention.ms", "retentionMs"), ("retention.bytes", "retentionBytes"),
                           ("compression.type", "compression"), ("message.timestamp.type", "timestampType")):
            if field in topic:
                check(config.get(key) == topic[field], f"topic {topic['name']}: {key} {config.get(key)}")
    for pool in by_kind(docs, "KafkaNodePool"):
        for vol in pool["spec"]["storage"]["volumes"]:
            check(vol.get("deleteClaim") is False, f"{pool['metadata']['name']}: deleteClaim is not false")


def check_registry(docs, values):
    registry = values["schema-registry"]
    ssr = named(docs, "StrimziSchemaRegistry", registry["name"])
    if ssr:
        check(ssr["spec"]["listener"] == registry.get("listener", "tls"), "registry listener")
        check(ssr["spec"].get("registryTopic") == registry["schemaTopic"],
              f"registry topic {ssr['spec'].get('registryTopic')} != schemaTopic {registry['schemaTopic']}")
        check(ssr["spec"].get("strimziVersion") == "v1", "the registry operator is not told Strimzi's v1 API")
        check(ssr["spec"]["registryImageTag"] not in ("", "latest"), "registry image tag")
    topic = named(docs, "KafkaTopic", registry["schemaTopic"])
    if topic:
        check(topic["spec"]["config"].get("cleanup.policy") == "compact", "registry topic is not compacted")
    user = named(docs, "KafkaUser", registry["name"])
    if user:
        check(user["spec"]["authentication"]["type"] == "tls", "registry user is not mTLS")
        got = acl_set(user["spec"]["authorization"]["acls"])
        for op in ("Read", "Write", "DescribeConfigs"):
            check(("topic", registry["schemaTopic"], "literal", op, "allow") in got, f"registry user lacks {op}")
        check(("group", "schema-registry", "prefix", "All", "allow") in got, "registry user lacks its group")


def pod_specs(docs):
    for kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        for d in by_kind(docs, kind):
            yield kind, d["metadata"]["name"], d["spec"]["template"]


def check_workloads(docs):
    seen = 0
    for kind, name, template in pod_specs(docs):
        seen += 1
        spec = template["spec"]
        pod_sc = spec.get("securityContext", {})
        check(pod_sc.get("runAsNonRoot") is True, f"{kind}/{name}: pod runAsNonRoot not set")
        if kind == "Deployment":
            ann = template["metadata"].get("annotations", {})
            check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port"),
                  f"{kind}/{name}: no Prometheus scrape annotations")
            ports = {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
            check(int(ann.get("prometheus.io/port", 0)) in ports, f"{kind}/{name}: scrape port is not a container port")
        for container in spec.get("initContainers", []) + spec["containers"]:
            cname = f"{kind}/{name}/{container['name']}"
            image = container["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            check(tag not in ("", "latest"), f"{cname}: image {image} has no release tag")
            sc = container.get("securityContext", {})
            check(sc.get("readOnlyRootFilesystem") is True, f"{cname}: root filesystem is writable")
            check(sc.get("allowPrivilegeEscalation") is False, f"{cname}: privilege escalation allowed")
            check(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, f"{cname}: may run as root")
            res = container.get("resources", {})
            check(bool(res.get("requests")) and bool(res.get("limits")), f"{cname}: no resources")
            if kind == "Deployment":
                live = container.get("livenessProbe", {}).get("httpGet", {})
                ready = container.get("readinessProbe", {}).get("httpGet", {})
                check(live.get("path") == "/healthz", f"{cname}: liveness is not /healthz")
                check(ready.get("path") == "/readyz", f"{cname}: readiness is not /readyz")
                check_liveness_timing(cname, container)
    return seen


def duration_seconds(text):
    """A service-kit duration (10, 0.5, 500ms, 10s, 2m, 1h) in seconds."""
    for unit, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * scale
    return float(text)


def check_liveness_timing(cname, container):
    """A loop's --liveness-deadline and the liveness probe fit: the probe tolerates at least
    30 s of failures (a slow /healthz is not a dead loop), and the deadline is at least a probe
    period (a shorter one would restart on one late beat between two probes)."""
    probe = container.get("livenessProbe", {})
    grace = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
    check(grace >= 30, f"{cname}: the liveness probe restarts after only {grace} s of failures")
    for arg in container.get("args", []):
        if str(arg).startswith("--liveness-deadline="):
            deadline = duration_seconds(str(arg).split("=", 1)[1])
            check(deadline >= probe.get("periodSeconds", 10),
                  f"{cname}: --liveness-deadline {deadline} s is shorter than the liveness probe's period")


# Resources whose deletion deletes data (topics and their messages, the cluster and its disks'
# owners): the documented Argo CD Application prunes, these opt out.
HOLDS_DATA = {"Kafka", "KafkaNodePool", "KafkaTopic"}


def check_strimzi_api(docs):
    for doc in docs:
        if doc.get("apiVersion", "").startswith("kafka.strimzi.io/"):
            check(doc["apiVersion"] == "kafka.strimzi.io/v1",
                  f"{doc['kind']}/{doc['metadata']['name']}: {doc['apiVersion']} (Strimzi 1.x serves only v1)")
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        no_prune = "Prune=false" in annotations.get("argocd.argoproj.io/sync-options", "")
        name = f"{doc.get('kind')}/{doc['metadata']['name']}"
        if doc.get("kind") in HOLDS_DATA:
            check(no_prune, f"{name}: holds data but Argo CD may prune it when it leaves the values")
        else:
            # A user Argo CD may not prune keeps its credentials and ACLs after its removal.
            check(not no_prune, f"{name}: Argo CD may not prune it")


def check_jobs(docs):
    for job in by_kind(docs, "Job"):
        name = job["metadata"]["name"]
        annotations = job["metadata"].get("annotations") or {}
        check(annotations.get("argocd.argoproj.io/hook") and annotations.get("argocd.argoproj.io/hook-delete-policy"),
              f"Job/{name}: not an Argo CD hook with a delete policy")
        check(set(annotations.get("helm.sh/hook", "").split(",")) >= {"post-install", "post-upgrade"},
              f"Job/{name}: not run by plain helm install/upgrade (helm.sh/hook)")
        check(annotations.get("helm.sh/hook-delete-policy") == "before-hook-creation",
              f"Job/{name}: a second helm upgrade would fail on the previous Job (helm.sh/hook-delete-policy)")
        check(annotations.get("helm.sh/hook-weight") == str(annotations.get("argocd.argoproj.io/sync-wave")),
              f"Job/{name}: helm hook weight differs from the Argo CD sync wave")


OPS_PATHS = ("/metrics", "/healthz", "/readyz")


def check_public_ingresses(docs):
    """No public Ingress routes a service's ops endpoints (the proxy and the server answer them at
    their root): no path "/" and no path that is a prefix of an ops path."""
    for ingress in by_kind(docs, "Ingress"):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                p = path["path"].rstrip("/") or "/"
                exposed = [ops for ops in OPS_PATHS if p == "/" or ops == p or ops.startswith(p + "/")]
                check(not exposed, f"Ingress/{ingress['metadata']['name']}: path {path['path']} on "
                                   f"{rule.get('host')} publishes {', '.join(exposed)}")


def check_workload_identity(docs, values):
    for chart, role in (("alertdb-ingester", "ingester"), ("alertdb-server", "server")):
        sa_values = values.get(chart, {}).get("serviceAccount")
        if not sa_values:
            continue
        sa = named(docs, "ServiceAccount", sa_values["name"])
        want = sa_values.get("gcpServiceAccount")
        got = (((sa or {}).get("metadata") or {}).get("annotations") or {}).get("iam.gke.io/gcp-service-account")
        check(got == (want or None), f"ServiceAccount {sa_values['name']}: Workload Identity {got} != {want}")
        deployment = named(docs, "Deployment", chart)
        if deployment:
            check(deployment["spec"]["template"]["spec"].get("serviceAccountName") == sa_values["name"],
                  f"{chart}: does not run as {sa_values['name']}")


def merged(base, over):
    """Helm's merge of values: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merged(base.get(key), value) if key in base else value
        return out
    return over


def chart_defaults(chart):
    path = pathlib.Path(__file__).resolve().parents[2] / "helm" / chart / "values.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def main():
    values_path, rendered_path = sys.argv[1], sys.argv[2]
    with open(values_path) as f:
        values = yaml.safe_load(f) or {}
    with open(rendered_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    # A values file for one chart: wrap it as the umbrella would. Either way, the charts'
    # defaults are merged under what the file sets, as helm does.
    if len(sys.argv) > 3:
        values = {sys.argv[3]: values}
    for chart in list(values):
        if isinstance(values[chart], dict) and chart != "global":
            values[chart] = merged(chart_defaults(chart), values[chart])
    if "alert-stream-broker" in values:
        check_broker(docs, values)
    if "schema-registry" in values:
        check_registry(docs, values)
    check_strimzi_api(docs)
    check_jobs(docs)
    check_public_ingresses(docs)
    workloads = check_workloads(docs)
    check(workloads > 0 or "alert-stream-broker" in values or "schema-registry" in values,
          "no workload rendered")
    check_workload_identity(docs, values)
    for message in failures:
        print(f"FAIL {rendered_path}: {message}")
    print(f"deploy checks {rendered_path}: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
