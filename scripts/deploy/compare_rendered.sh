#!/usr/bin/env bash
# Renders the Helm charts of two revisions the same way and diffs the output: the check that a
# refactoring of the charts (templates, helpers, the library chart) changes no manifest.
#   scripts/deploy/compare_rendered.sh BASE_REV            BASE_REV against the working tree
#   scripts/deploy/compare_rendered.sh BASE_REV NEW_REV    two revisions
#   KEEP=DIR scripts/deploy/compare_rendered.sh ...        keep the renderings in DIR/{base,new}
# Each side is a fresh copy of helm/ (`git archive`, or the working tree without its vendored
# charts/), so the umbrella's `helm dependency build` runs as Argo CD runs it: on the umbrella
# alone. Cases: what scripts/test-deploy.sh renders (every chart with its ci/ values, the umbrella
# with each values-*.yaml, the variants), plus every chart and the umbrella with default values,
# with global.* set and with nameOverride, the umbrella without the PrometheusRule CRD, and the
# values test-deploy.sh refuses (their error messages, without the template location). Output
# is compared byte for byte, `# Source:` lines included. Exits 1 when anything differs.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HELM="$CACHE_DIR/go/bin/helm"
[[ -x $HELM ]] || die "compare_rendered: no helm at $HELM (scripts/install/go-tools.sh helm)"
(($# >= 1 && $# <= 2)) || die "usage: scripts/deploy/compare_rendered.sh BASE_REV [NEW_REV]"
base_rev=$1 new_rev=${2:-}
cd "$REPO_ROOT" || exit 1
git rev-parse --verify --quiet "$base_rev^{commit}" >/dev/null || die "compare_rendered: no revision $base_rev"
[[ -z $new_rev ]] || git rev-parse --verify --quiet "$new_rev^{commit}" >/dev/null || die "compare_rendered: no revision $new_rev"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# checkout SIDE REV: helm/ of REV (or of the working tree when REV is empty) into $WORK/SIDE.
checkout() {
  local side=$1 rev=$2
  mkdir -p "$WORK/$side/tree"
  if [[ -n $rev ]]; then
    git archive "$rev" helm | tar -x -C "$WORK/$side/tree"
  else
    tar -c --exclude=charts --exclude=Chart.lock --exclude='*.tgz' helm | tar -x -C "$WORK/$side/tree"
  fi
}

# Values files shared by both sides (the variants of scripts/test-deploy.sh).
V="$WORK/values"
mkdir -p "$V"
cat >"$V/sim-volume.yaml" <<'YAML'
visit: {source: file, file: {path: /visit/sample.avro, volume: {persistentVolumeClaim: {claimName: sample}}}}
YAML
cat >"$V/ingester-no-dlq.yaml" <<'YAML'
alertsUrl: file:///var/lib/alertdb
dlq: {disabled: true}
YAML
cat >"$V/ingester-keda.yaml" <<'YAML'
alertsUrl: gs://alerts
serviceAccount: {name: writer, gcpServiceAccount: writer@p.iam.gserviceaccount.com}
keda: {enabled: true}
YAML
cat >"$V/proxy-shared-host.yaml" <<'YAML'
ingress: {enabled: true, host: data.example.org}
YAML
cat >"$V/broker-cert-manager.yaml" <<'YAML'
externalListener:
  tls: {enabled: true, certManager: {enabled: true}}
  bootstrap: {host: kafka.example.org, ip: 10.0.0.1}
  brokers: [{host: b0.example.org, ip: 10.0.0.2}, {host: b1.example.org}, {host: b2.example.org}]
users:
  - {username: reader, readonlyTopics: [a, b], groups: [reader, reader-batch]}
YAML
cat >"$V/ingester-extra.yaml" <<'YAML'
alertsUrl: gs://alerts
kafka: {extra: {session.timeout.ms: 10000, fetch.wait.max.ms: "100"}}
YAML
cat >"$V/proxy-own-host.yaml" <<'YAML'
pathPrefix: ""
ingress: {enabled: true, host: schemas.example.org}
YAML
cat >"$V/registry-topic.yaml" <<'YAML'
schemaTopic: schemas-v2
YAML
globals=(--set global.imageRegistry=registry.example.org --set global.imageTag=9.9.9 --set global.kafkaClusterName=other-kafka)

# render SIDE CASE CHART ARGS...: helm template into $WORK/SIDE/out/CASE.yaml, or, when helm
# refuses, its error without the template location into CASE.err.
render() {
  local side=$1 case=$2 chart=$3; shift 3
  local out="$WORK/$side/out/$case"
  local tree="$WORK/$side/tree/helm"
  local args=("$@") arg
  for arg in "${!args[@]}"; do args[arg]=${args[arg]//@CHART@/$tree/$chart}; done
  if ! (cd "$WORK/$side/tree" && "$HELM" template "$chart" "helm/$chart" "${args[@]}") >"$out.yaml" 2>"$out.stderr"; then
    rm -f "$out.yaml"
    sed -E 's/ at \([^)]*\)//; s/^(Error: )?template: [^ ]*: executing "[^"]*"/\1template/' "$out.stderr" >"$out.err"
  fi
  rm -f "$out.stderr"
}

render_side() {
  local side=$1 chart values name ci
  local tree="$WORK/$side/tree/helm"
  mkdir -p "$WORK/$side/out"
  # The umbrella first, on a tree whose charts have nothing vendored: as Argo CD builds it.
  "$HELM" dependency build "$tree/alert-distribution" >"$WORK/$side/dep.log" 2>&1 ||
    { cat "$WORK/$side/dep.log" >&2; die "compare_rendered: $side: helm dependency build alert-distribution failed"; }
  for values in "$tree"/alert-distribution/values-*.yaml; do
    name=$(basename "$values" .yaml)
    render "$side" "umbrella-$name" alert-distribution -f "$values" --api-versions monitoring.coreos.com/v1/PrometheusRule
    render "$side" "umbrella-$name-no-crd" alert-distribution -f "$values"
    render "$side" "umbrella-$name-globals" alert-distribution -f "$values" "${globals[@]}"
  done
  render "$side" umbrella-defaults alert-distribution --api-versions monitoring.coreos.com/v1/PrometheusRule
  # Then each chart alone, its dependencies (if any) vendored first.
  for chart in alert-stream-broker schema-registry schema-sync registry-proxy stream-simulator alertdb-ingester alertdb-server; do
    "$HELM" dependency build "$tree/$chart" >"$WORK/$side/dep.log" 2>&1 ||
      { cat "$WORK/$side/dep.log" >&2; die "compare_rendered: $side: helm dependency build $chart failed"; }
    ci=()
    [[ -f $tree/$chart/ci/test-values.yaml ]] && ci=(-f "$tree/$chart/ci/test-values.yaml")
    render "$side" "$chart" "$chart" "${ci[@]}"
    render "$side" "$chart-defaults" "$chart"
    render "$side" "$chart-globals" "$chart" "${ci[@]}" "${globals[@]}"
    render "$side" "$chart-name-override" "$chart" "${ci[@]}" --set nameOverride=renamed
  done
  render "$side" variant-sim-volume stream-simulator -f "$V/sim-volume.yaml"
  render "$side" variant-ingester-no-dlq alertdb-ingester -f "$V/ingester-no-dlq.yaml"
  render "$side" variant-ingester-keda alertdb-ingester -f "$V/ingester-keda.yaml"
  render "$side" variant-proxy-shared-host registry-proxy -f "$V/proxy-shared-host.yaml"
  render "$side" variant-broker-cert-manager alert-stream-broker -f "$V/broker-cert-manager.yaml"
  render "$side" variant-ingester-extra alertdb-ingester -f "$V/ingester-extra.yaml"
  render "$side" variant-proxy-own-host registry-proxy -f "$V/proxy-own-host.yaml"
  render "$side" variant-registry-topic schema-registry -f "$V/registry-topic.yaml"
  # The refusals of scripts/test-deploy.sh: the same message on both sides.
  render "$side" refused-proxy-latest registry-proxy --set image.tag=latest
  # The templates' own refusals where the schema refuses first.
  render "$side" refused-proxy-latest-template registry-proxy --skip-schema-validation --set image.tag=latest
  render "$side" refused-broker-no-api-template alert-stream-broker --skip-schema-validation --set strimziAPIVersion=
  render "$side" refused-registry-no-api-template schema-registry --skip-schema-validation --set strimziAPIVersion=
  render "$side" broker-api-deleted alert-stream-broker --set strimziAPIVersion=null
  render "$side" registry-api-deleted schema-registry --set strimziAPIVersion=null
  render "$side" refused-server-global-latest alertdb-server -f @CHART@/ci/test-values.yaml --set global.imageTag=latest
  render "$side" refused-user-twice alert-stream-broker --set 'users[0].username=a,users[0].readonlyTopics[0]=t,users[0].groups[0]=a' \
    --set 'users[1].username=a,users[1].readonlyTopics[0]=t,users[1].groups[0]=a'
  render "$side" refused-superuser-twice alert-stream-broker --set 'users[0].username=kafka-admin,users[0].readonlyTopics[0]=t,users[0].groups[0]=k'
  render "$side" refused-no-topics alert-stream-broker --set 'users[0].username=a,users[0].groups[0]=a'
  render "$side" refused-bootstrap-host alert-stream-broker --set externalListener.tls.enabled=true,externalListener.tls.certManager.enabled=true \
    --set nodePools.brokers.replicas=1 --set 'externalListener.brokers[0].host=b0.example.org'
  render "$side" refused-broker-entries alert-stream-broker --set 'externalListener.brokers[0].ip=1.2.3.4,externalListener.brokers[1].ip=1.2.3.5'
  render "$side" refused-broker-none alert-stream-broker --set externalListener.tls.enabled=true \
    --set externalListener.tls.certManager.enabled=true --set externalListener.bootstrap.host=k.example.org
  render "$side" refused-broker-v1beta2 alert-stream-broker --set strimziAPIVersion=v1beta2
  render "$side" refused-registry-v1beta2 schema-registry --set strimziAPIVersion=v1beta2
  render "$side" refused-kafka-version alert-stream-broker --set kafka.version=4.1.0  # an unsupported version, on purpose
  render "$side" refused-proxy-ops-route registry-proxy --set pathPrefix= --set ingress.enabled=true,ingress.host=s.example.org \
    --set 'ingress.apiPaths[0]=/metrics'
  render "$side" refused-proxy-api-path registry-proxy --set pathPrefix= --set ingress.enabled=true,ingress.host=s.example.org \
    --set 'ingress.apiPaths[0]=metrics'
  render "$side" refused-ingester-no-url alertdb-ingester
  render "$side" refused-server-http-url alertdb-server --set alertsUrl=http://bucket
  render "$side" refused-sync-mode schema-sync --set mode=sometimes
  render "$side" refused-broker-host alert-stream-broker --set externalListener.tls.enabled=true \
    --set externalListener.tls.certManager.enabled=true --set externalListener.bootstrap.host=k.example.org \
    --set nodePools.brokers.replicas=1 --set 'externalListener.brokers[0].ip=1.2.3.4'
  render "$side" refused-server-ingress-host alertdb-server -f @CHART@/ci/test-values.yaml --set ingress.enabled=true
}

checkout base "$base_rev"
checkout new "$new_rev"
render_side base
render_side new
label="${new_rev:-the working tree}"
rendered=$(find "$WORK/base/out" -name '*.yaml' | wc -l)
refused=$(find "$WORK/base/out" -name '*.err' | wc -l)
if [[ -n ${KEEP:-} ]]; then
  mkdir -p "$KEEP"
  rm -rf "$KEEP/base" "$KEEP/new"
  cp -r "$WORK/base/out" "$KEEP/base"
  cp -r "$WORK/new/out" "$KEEP/new"
fi
if diff -r -u "$WORK/base/out" "$WORK/new/out"; then
  echo "compare_rendered: $base_rev and $label render identically ($rendered renderings, $refused refusals)"
else
  echo "compare_rendered: $base_rev and $label render differently (diff above; $rendered renderings, $refused refusals in $base_rev)"
  exit 1
fi
