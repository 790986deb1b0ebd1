#!/usr/bin/env bash
# Makes the base images the Dockerfile names, locally, when they cannot be pulled (no image
# registry is reachable from this project's machines). Each is tagged with the name the
# Dockerfile uses, so the unchanged Dockerfile builds here and pulls the real images anywhere else:
#
#   debian:bookworm-slim        `debootstrap --variant=minbase bookworm` from deb.debian.org, slimmed
#                               as Debian's own slim images are (no docs, man pages or locales),
#                               imported with `docker import`
#   python:3.12-slim-bookworm   that image plus Debian's python3 and pip. NOTE: Debian bookworm's
#                               Python is 3.11, not 3.12; the Dockerfile only runs `pip install
#                               --target` of a pure-Python package in it, which is the same with either
#   rust:1.95-bookworm          that image plus the C toolchain the official one has
#                               (buildpack-deps: gcc, g++, make, git, curl, pkg-config, libssl-dev)
#                               and the host's own Rust toolchain (`rustc --print sysroot`, which
#                               must be 1.95.x, without its HTML docs) laid out as the official
#                               image has it: RUSTUP_HOME=/usr/local/rustup,
#                               CARGO_HOME=/usr/local/cargo, cargo/rustc on PATH. Nothing is
#                               downloaded but Debian packages.
#   golang:1.26-bookworm        (tools/fake-gcs/Dockerfile's builder; only when asked for: `golang`)
#                               that image plus the host's Go toolchain (/usr/local/go, 1.26.x)
#
# The builder images (python, rust, golang; never debian:bookworm-slim, so no runtime image gets
# it) also trust the TLS roots this machine adds to its own bundle beyond Debian's
# ca-certificates (an HTTPS-intercepting egress proxy's CA, for example): without them pip, cargo
# and go could not reach PyPI, crates.io or the Go module proxy from a build here.
#
# An image that already exists under its tag, or that can be pulled, is left alone (FORCE=1
# makes it here all the same).
# Images made here carry the label org.alert-distribution.local-base=1.
# Usage: scripts/docker/base-images.sh [debian|python|rust|golang...] (default: the first three)
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEBIAN_RELEASE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The tags, as the Dockerfile spells them (its ARG defaults).
RUST_VERSION=$(sed -n 's/^ARG RUST_VERSION=//p' "$REPO_ROOT/Dockerfile")
DEBIAN_TAG="debian:$DEBIAN_RELEASE-slim"
PYTHON_TAG="python:3.12-slim-$DEBIAN_RELEASE"
RUST_TAG="rust:$RUST_VERSION-$DEBIAN_RELEASE"
GOLANG_VERSION=$(sed -n 's/^FROM golang:\([0-9.]*\)-.*/\1/p' "$REPO_ROOT/tools/fake-gcs/Dockerfile")
GOLANG_TAG="golang:$GOLANG_VERSION-$DEBIAN_RELEASE"
LABEL=org.alert-distribution.local-base=1

# exists TAG: the image is here already, or could be pulled (where a registry is reachable the
# real image is used and nothing is made).
exists() {
  [[ ${FORCE:-0} != 1 ]] || return 1
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  docker pull -q "$1" >/dev/null 2>&1 && { log "base-images: pulled $1"; return 0; }
  return 1
}

make_debian() {
  exists "$DEBIAN_TAG" && { log "base-images: $DEBIAN_TAG present"; return 0; }
  command -v debootstrap >/dev/null 2>&1 || {
    ((EUID == 0)) || die "base-images: debootstrap is missing and installing it needs root"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  local start=$SECONDS root="$DOCKER_CACHE/rootfs-$DEBIAN_RELEASE-minbase"
  log "base-images: debootstrap --variant=minbase $DEBIAN_RELEASE (from $MIRROR)"
  rm -rf "$root"
  debootstrap --variant=minbase "$DEBIAN_RELEASE" "$root" "$MIRROR" >"$DOCKER_CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$DOCKER_CACHE/debootstrap.log" >&2; die "base-images: debootstrap failed"; }
  # Slim as Debian's own images are: no documentation, man pages or translations, now or later.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root/var/cache/apt/"*.bin
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  # apt as in Debian's own images: no package caches or downloaded .debs left in a layer (80 MB
  # of pkgcache.bin/srcpkgcache.bin otherwise), no translations, compressed indexes.
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\n' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # The image's apt sources: the release, its updates and its security fixes.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $DEBIAN_RELEASE $DEBIAN_RELEASE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $DEBIAN_RELEASE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log "$root/tmp/"*
  echo "$DEBIAN_RELEASE-minbase" >"$root/etc/hostname"
  tar --numeric-owner -C "$root" -c . | docker import \
    -c "CMD [\"bash\"]" -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c "LABEL $LABEL" -m "debootstrap --variant=minbase $DEBIAN_RELEASE" - "$DEBIAN_TAG" >/dev/null
  rm -rf "$root"
  log "base-images: $DEBIAN_TAG made in $((SECONDS - start)) s, $(image_size_mb "$DEBIAN_TAG") MB"
}

# host_roots DIR: write into DIR/host-roots/ each certificate of the machine's bundle that
# Debian's ca-certificates does not ship (nothing when there is none).
host_roots() {
  mkdir -p "$1/host-roots"
  python3 - /etc/ssl/certs/ca-certificates.crt /usr/share/ca-certificates "$1/host-roots" <<'PY'
import pathlib, re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
bundle, shipped_dir, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
try:
    host = pem.findall(pathlib.Path(bundle).read_text())
except FileNotFoundError:
    host = []
shipped = {c for f in shipped_dir.rglob("*.crt") for c in pem.findall(f.read_text())}
for i, cert in enumerate(c for c in host if c not in shipped):
    (out / f"host-root-{i}.crt").write_text(cert + "\n")
PY
}

# The lines of a derived image's Dockerfile that add the host roots (after ca-certificates).
HOST_ROOTS_STEP='COPY host-roots/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null'

# derived TAG CONTEXT_DIR: build TAG from the Dockerfile text on stdin (FROM debian:bookworm-slim),
# with the host's network so that apt reaches deb.debian.org.
derived() {
  local tag=$1 context=$2 start=$SECONDS
  docker_build --network host --label "$LABEL" -t "$tag" -f - "$context" >"$DOCKER_CACHE/base-$(tr ':/' '--' <<<"$tag").log" 2>&1 \
    || { tail -n 30 "$DOCKER_CACHE/base-$(tr ':/' '--' <<<"$tag").log" >&2; die "base-images: building $tag failed"; }
  log "base-images: $tag made in $((SECONDS - start)) s, $(image_size_mb "$tag") MB"
}

make_python() {
  exists "$PYTHON_TAG" && { log "base-images: $PYTHON_TAG present"; return 0; }
  make_debian
  local context
  context=$(mktemp -d)
  host_roots "$context"
  # Debian marks its Python as externally managed (PEP 668); the official image's is not.
  derived "$PYTHON_TAG" "$context" <<DOCKERFILE
FROM $DEBIAN_TAG
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates \\
    && rm -rf /var/lib/apt/lists/* /usr/lib/python3*/EXTERNALLY-MANAGED \\
    && ln -s /usr/bin/python3 /usr/local/bin/python
$HOST_ROOTS_STEP
CMD ["python3"]
DOCKERFILE
  rm -rf "$context"
}

make_rust() {
  exists "$RUST_TAG" && { log "base-images: $RUST_TAG present"; return 0; }
  make_debian
  local sysroot version context
  sysroot=$(rustc --print sysroot) || die "base-images: no rustc on this machine"
  version=$(rustc --version | awk '{print $2}')
  [[ $version == "$RUST_VERSION".* ]] || die "base-images: the host's rustc is $version, the Dockerfile wants $RUST_VERSION"
  context=$(mktemp -d)
  host_roots "$context"
  # The toolchain without its 800 MB of HTML documentation (a build never reads them).
  log "base-images: copying the host's Rust $version toolchain ($sysroot)"
  mkdir -p "$context/rustup/toolchains/$version-x86_64-unknown-linux-gnu"
  tar -C "$(readlink -f "$sysroot")" --exclude=./share/doc -c . \
    | tar -C "$context/rustup/toolchains/$version-x86_64-unknown-linux-gnu" -x
  derived "$RUST_TAG" "$context" <<DOCKERFILE
FROM $DEBIAN_TAG
RUN apt-get update \\
    && apt-get install -y --no-install-recommends build-essential ca-certificates curl git \\
       pkg-config libssl-dev procps file xz-utils \\
    && rm -rf /var/lib/apt/lists/*
$HOST_ROOTS_STEP
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$version
COPY rustup /usr/local/rustup
RUN mkdir -p /usr/local/cargo/bin \\
    && for tool in /usr/local/rustup/toolchains/$version-x86_64-unknown-linux-gnu/bin/*; do \\
         ln -s "\$tool" /usr/local/cargo/bin/; done \\
    && chmod -R a+w /usr/local/cargo \\
    && cargo --version && rustc --version
DOCKERFILE
  rm -rf "$context"
}

make_golang() {
  exists "$GOLANG_TAG" && { log "base-images: $GOLANG_TAG present"; return 0; }
  make_debian
  local goroot version context
  goroot=$(go env GOROOT) || die "base-images: no go on this machine"
  version=$(go env GOVERSION)
  [[ $version == "go$GOLANG_VERSION".* ]] || die "base-images: the host's Go is $version, tools/fake-gcs/Dockerfile wants $GOLANG_VERSION"
  context=$(mktemp -d)
  host_roots "$context"
  log "base-images: copying the host's $version toolchain ($goroot)"
  cp -a "$(readlink -f "$goroot")" "$context/go"
  derived "$GOLANG_TAG" "$context" <<DOCKERFILE
FROM $DEBIAN_TAG
RUN apt-get update \\
    && apt-get install -y --no-install-recommends ca-certificates git gcc libc6-dev make pkg-config \\
    && rm -rf /var/lib/apt/lists/*
$HOST_ROOTS_STEP
COPY go /usr/local/go
ENV GOLANG_VERSION=${version#go} GOTOOLCHAIN=local GOPATH=/go \\
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/bin /go/src && chmod -R 1777 /go && go version
WORKDIR /go
DOCKERFILE
  rm -rf "$context"
}

docker_answers || die "base-images: no container engine answers (scripts/docker/engine.sh start)"
(($# > 0)) || set -- debian python rust
for image in "$@"; do
  case $image in
    debian | python | rust | golang) "make_$image" ;;
    *) die "usage: scripts/docker/base-images.sh [debian|python|rust|golang...]" ;;
  esac
done
