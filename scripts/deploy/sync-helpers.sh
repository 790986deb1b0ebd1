#!/usr/bin/env bash
# Copies helm/_shared/_common.tpl into each service chart as templates/_common.tpl, with the
# chart's own template-name prefix (subcharts share one template namespace in the umbrella).
#   scripts/deploy/sync-helpers.sh           rewrite the copies
#   scripts/deploy/sync-helpers.sh --check   fail when a copy differs from the source
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

declare -A PREFIX=(
  [registry-proxy]=rproxy
  [schema-sync]=ssync
  [schema-registry]=sreg
  [stream-simulator]=sim
  [alertdb-ingester]=ingester
  [alertdb-server]=server
)
status=0
for chart in "${!PREFIX[@]}"; do
  want=$(sed "s/PFX\./${PREFIX[$chart]}./g" "$REPO_ROOT/helm/_shared/_common.tpl")
  target="$REPO_ROOT/helm/$chart/templates/_common.tpl"
  if [[ ${1:-} == --check ]]; then
    if [[ ! -f $target ]] || [[ $want != "$(cat "$target")" ]]; then
      log "sync-helpers: $target differs from helm/_shared/_common.tpl (run scripts/deploy/sync-helpers.sh)"
      status=1
    fi
  else
    mkdir -p "$(dirname "$target")"
    printf '%s\n' "$want" >"$target"
  fi
done
exit "$status"
