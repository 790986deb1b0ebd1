# One image per service, from this one file (BuildKit: `docker buildx build`, or DOCKER_BUILDKIT=1):
#   docker build --build-arg SERVICE=alertdb-server -t alertdb-server:dev .
# SERVICE is one of rubin-alert-sim, schema-sync, alertdb-ingester, alertdb-server,
# registry-proxy. The alert schema tree of the lsst-alert-packet package (BRIEF §2) is fetched
# from PyPI at build time into /usr/share/lsst-alert-packet/schema (ALERT_SCHEMA_DIR).
# No `# syntax=` line: BuildKit's built-in Dockerfile frontend handles everything used here, and
# a frontend image cannot be pulled where no image registry is reachable.
#
# BINARY_FROM=prebuilt takes the binary from target/release/${SERVICE} of the build context
# instead of compiling it (CI: scripts/docker/build-images.sh --prebuilt, which passes a context
# holding only that file); the default, builder, compiles it in the rust image.
# Where no image registry is reachable, scripts/docker/base-images.sh makes the three base images
# under these names from Debian packages.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm
ARG BINARY_FROM=builder

# ---- the release binary
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
ARG SERVICE
# librdkafka is built from source (rdkafka's cmake-build feature) with OpenSSL (its rdkafka_conf.c
# includes curl/curl.h whenever SSL is on, so the curl headers too) and zlib, and ISA-L (the
# archive's gzip) from the source the isal-sys crate vendors, with nasm and autotools.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake libssl-dev pkg-config \
       libcurl4-openssl-dev zlib1g-dev nasm autoconf automake libtool \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<service>" >&2; exit 1; }
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p "${SERVICE}" --bin "${SERVICE}" \
    && install -D -m 0755 "target/release/${SERVICE}" "/out/${SERVICE}" \
    && strip --strip-debug "/out/${SERVICE}"

# ---- or the binary built outside (BINARY_FROM=prebuilt), its debug info stripped as above (the
# release profile keeps line tables: ~100 MB a binary with them, ~12 MB without; symbols stay)
FROM scratch AS prebuilt
ARG SERVICE
COPY target/release/${SERVICE} /out/${SERVICE}

FROM ${BINARY_FROM} AS binary

# ---- the alert schemas, from the pinned lsst-alert-packet package
FROM python:3.12-slim-${DEBIAN_RELEASE} AS schemas
ARG ALERT_PACKET_VERSION=30.2026.2700
RUN pip install --no-cache-dir --no-deps --target /opt/alert-packet "lsst-alert-packet==${ALERT_PACKET_VERSION}" \
    && test -f /opt/alert-packet/lsst/alert/packet/schema/latest.txt \
    && mkdir -p /usr/share/lsst-alert-packet \
    && cp -r /opt/alert-packet/lsst/alert/packet/schema /usr/share/lsst-alert-packet/schema

# ---- the runtime: small, non-root, read-only friendly (writes nothing but its store)
# /visit (the simulator's sample visit) and /var/lib/alertdb (a file:// archive) are owned by
# the service user, so fresh named volumes mounted there are writable.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG SERVICE
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 /visit /var/lib/alertdb
COPY --from=schemas /usr/share/lsst-alert-packet/schema /usr/share/lsst-alert-packet/schema
COPY --from=binary /out/${SERVICE} /usr/local/bin/${SERVICE}
# One fixed entrypoint name whatever the service, so the image runs with just arguments.
RUN ln -s "/usr/local/bin/${SERVICE}" /usr/local/bin/service
ENV ALERT_SCHEMA_DIR=/usr/share/lsst-alert-packet/schema \
    LOG_FORMAT=json \
    RUST_LOG=info
LABEL org.opencontainers.image.source="https://github.com/alert-distribution/alert-distribution" \
      org.opencontainers.image.description="alert-distribution ${SERVICE}"
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/service"]
