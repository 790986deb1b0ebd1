#!/usr/bin/env bash
# Fuzzes alert-packet's parsers (unframe, decode, skip, re-encode, container reader) with
# cargo-fuzz (libFuzzer). Not part of the test run: it takes as long as you let it.
#
#   scripts/fuzz.sh [SECONDS]     default 600
#
# Needs a nightly toolchain (rustup's `nightly`); installs cargo-fuzz into .cache/cargo-fuzz.
# The corpus starts from the package's sample alerts, framed, and their container files.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds=${1:-600}
fuzz_dir="$REPO_ROOT/libs/alert-packet/fuzz"
tool_root="$CACHE_DIR/cargo-fuzz"
if [[ ! -x $tool_root/bin/cargo-fuzz ]]; then
  log "installing cargo-fuzz into $tool_root"
  cargo install --locked --root "$tool_root" cargo-fuzz@0.13.2
fi
export PATH="$tool_root/bin:$PATH"

"$REPO_ROOT/scripts/install/python.sh" >/dev/null
schema_dir=$("$REPO_ROOT/scripts/install/schema-dir.sh")
corpus="$fuzz_dir/corpus/unframe_decode"
mkdir -p "$corpus"
for sample in "$schema_dir"/*/*/sample_data/fakeAlert.avro; do
  version=$(basename "$(dirname "$(dirname "$sample")")")
  major=$(basename "$(dirname "$(dirname "$(dirname "$sample")")")")
  cp "$sample" "$corpus/fake-$major.$version.avro"
done

cd "$fuzz_dir"
ALERT_SCHEMA_DIR="$schema_dir" cargo +nightly fuzz run unframe_decode "$corpus" -- \
  -max_total_time="$seconds" -rss_limit_mb=512 -max_len=262144
