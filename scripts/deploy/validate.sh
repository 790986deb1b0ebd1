#!/usr/bin/env bash
# Validates rendered manifests strictly (unknown fields and wrong types are errors, a kind with
# no schema is an error) with kubeconform against the schemas scripts/install/deploy-schemas.sh
# installs: Kubernetes 1.35 built-in kinds, Strimzi 1.2.0, strimzi-registry-operator 0.7.1, KEDA,
# cert-manager, prometheus-operator and Argo CD CRDs.
# Usage: scripts/deploy/validate.sh FILE...   (multi-document YAML, as `helm template` prints it)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

KUBECONFORM="$CACHE_DIR/go/bin/kubeconform"
SCHEMAS="$CACHE_DIR/deploy-schemas"
[[ -x $KUBECONFORM ]] || die "validate: no kubeconform at $KUBECONFORM (scripts/install/go-tools.sh kubeconform)"
[[ -f $SCHEMAS/.version ]] || die "validate: no schemas in $SCHEMAS (scripts/install/deploy-schemas.sh)"
(($# > 0)) || die "usage: scripts/deploy/validate.sh FILE..."

# VaultSecret (ricoberger.de/v1alpha1): no registry reachable here serves that operator's CRD.
skipped=VaultSecret
for file in "$@"; do
  if grep -q "^kind: VaultSecret" "$file"; then
    log "validate: $(basename "$file"): VaultSecret not validated (no schema of ricoberger/vault-secrets-operator can be installed here)"
  fi
done

"$KUBECONFORM" -strict -summary -output text -skip "$skipped" \
  -schema-location "$SCHEMAS/k8s/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
  -schema-location "$SCHEMAS/crds/{{ .Group }}_{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
  "$@"
