#!/usr/bin/env bash
# Runs one fuzz target for a while: bash fuzz/run.sh <target> [seconds, default 300]
# Targets: json_value, decimal, frame, client, fleet, fleet_client (README.md says what each
# checks).
# Needs a nightly toolchain (rustup toolchain list); installs cargo-fuzz when missing. The
# corpus grows in fuzz/corpus/<target>, seeded from fuzz/seeds; a failing input is written
# to fuzz/artifacts/<target>/ and replayed with: cargo +nightly fuzz run <target> <file>
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: bash fuzz/run.sh <json_value|decimal|frame|client|fleet|fleet_client> [seconds]}
seconds=${2:-300}
rustup toolchain list | grep -q '^nightly' || {
  echo "fuzz/run.sh: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
}
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --version 0.13.2 --locked

# Seeds: each sample frame as an input of its own (file name: its hash). `frame` and
# `json_value` take RocketRide's frames as they are; `fleet` takes fleet-rlm's after the
# byte that picks where its credential goes; `client` and `fleet_client` build their frames
# from the same samples themselves, and `decimal` needs none.
corpus=corpus/$target
mkdir -p "$corpus"
seed() { # seed <prefix> <file>
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    local text="$1${line//@SEQ@/7}"
    printf '%s' "$text" > "$corpus/$(printf '%s' "$text" | sha1sum | cut -c1-40)"
  done < "$2"
}
case $target in
  frame | json_value) seed "" seeds/rocketride.jsonl ;;
  fleet) seed "a" ../tests/fleet_support/sample.jsonl ;;
  client | fleet_client | decimal) ;;
  *) echo "fuzz/run.sh: no target '$target'" >&2; exit 2 ;;
esac
exec cargo +nightly fuzz run -O "$target" "$corpus" -- -max_total_time="$seconds" -max_len=8192
