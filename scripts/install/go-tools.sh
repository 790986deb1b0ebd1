#!/usr/bin/env bash
# Build pinned Go tools into .cache/go/bin (modules from the Go module proxy):
#   fake-gcs    GCS emulator for object-store tests (scripts/gcs/fake-gcs.sh): tools/fake-gcs, i.e.
#               fake-gcs-server (version pinned in tools/fake-gcs/go.mod) plus the XML API object
#               writes that object_store needs and upstream lacks; built with `go build`
#   actionlint  lints .github/workflows
#   helm        lints/renders the Helm chart (v3)
#   kubeconform validates rendered manifests against JSON schemas (scripts/deploy/validate.sh)
#   hclfmt      tools/hclfmt: `terraform fmt -check` (hclwrite.Format) of terraform/ where no
#               terraform CLI is installed (its module cannot be `go install`ed: replace
#               directives); built with `go build`
#   compose-config  tools/compose-config: `docker compose config` (compose-go) where the compose
#               plugin is not installed; built with `go build`
# A tool is skipped when its binary exists and its marker .cache/go/bin/.NAME.version names the same
# module@version (for fake-gcs: hash of its sources) and Go version.
# Usage: go-tools.sh [NAME...] (default: all).
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ACTIONLINT_VERSION=v1.7.12
HELM_VERSION=v3.22.0
# Also names the module whose scripts/openapi2jsonschema.py converts CRDs (install/deploy-schemas.sh).
KUBECONFORM_VERSION=v0.8.0

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
[[ -x $(command -v "$GO") ]] || die "go-tools: no go toolchain (looked for go and /usr/local/go/bin/go)"

GO_DIR="$CACHE_DIR/go"
export GOBIN="$GO_DIR/bin" GOPATH="$GO_DIR/path" GOMODCACHE="$GO_DIR/mod" GOCACHE="$GO_DIR/build"
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -modcacherw" CGO_ENABLED=0
mkdir -p "$GOBIN"
goversion=$("$GO" env GOVERSION)

# install NAME MODULE_PACKAGE VERSION [EXTRA GO FLAGS...]
install_tool() {
  local name=$1 pkg=$2 version=$3; shift 3
  local marker="$GOBIN/.$name.version" want="$pkg@$version $goversion" start
  if [[ -x $GOBIN/$name && -f $marker && $(cat "$marker") == "$want" ]]; then
    log "go-tools: $name $version present"
    return 0
  fi
  log "go-tools: building $name $version"
  start=$SECONDS
  rm -f "$marker"
  "$GO" install -trimpath "$@" "$pkg@$version"
  echo "$want" >"$marker"
  log "go-tools: $name $version built in $((SECONDS - start)) s"
}

# build_local NAME DIR: `go build` the main package of the in-repo module DIR.
build_local() {
  local name=$1 dir=$2 marker="$GOBIN/.$1.version" want start
  want="$(cd "$dir" && cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1) $goversion"
  if [[ -x $GOBIN/$name && -f $marker && $(cat "$marker") == "$want" ]]; then
    log "go-tools: $name present"
    return 0
  fi
  log "go-tools: building $name from ${dir#"$REPO_ROOT"/}"
  start=$SECONDS
  rm -f "$marker"
  (cd "$dir" && "$GO" build -trimpath -ldflags='-s -w' -o "$GOBIN/$name" .)
  echo "$want" >"$marker"
  log "go-tools: $name built in $((SECONDS - start)) s"
}

want_tool() { # true when NAME was asked for, or no name was given
  local name=$1 t
  (($# > 1)) || return 0
  shift
  for t in "$@"; do [[ $t == "$name" ]] && return 0; done
  return 1
}

want_tool fake-gcs "$@" &&
  build_local fake-gcs "$REPO_ROOT/tools/fake-gcs"
want_tool actionlint "$@" &&
  install_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" \
    -ldflags="-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
want_tool helm "$@" &&
  install_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
want_tool kubeconform "$@" &&
  install_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" -ldflags='-s -w'
want_tool hclfmt "$@" &&
  build_local hclfmt "$REPO_ROOT/tools/hclfmt"
want_tool compose-config "$@" &&
  build_local compose-config "$REPO_ROOT/tools/compose-config"
log "go-tools: binaries in $GOBIN"
