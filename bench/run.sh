#!/usr/bin/env bash
# Runs hftlive's benchmarks side by side with the native baseline and prints a markdown report.
#
#   bash bench/run.sh              # full run (3 rounds, ~1 h: low rates need long runs)
#   bash bench/run.sh --quick      # ~4 min
#   bash bench/run.sh --mem-long   # memory over 300 s at 100k events/s and 1,000 cycles
#   options: --rounds N --lat-scale X --orders N --tp-seconds S --mem-seconds S --mem-rate R
#            --cycles N --only lat|mon|rtt|tp|flood|mem|record --out FILE.md (also writes FILE.raw.json)
#
# Builds the workspace and the native baseline example, and a copy of the library with the
# test-only fault-injection feature for the throughput-ceiling cases (its test producer;
# rust/target/bench/libhftlive-fi.so, given to those cases only as HFTLIVE_LIB); uses small
# iceoryx2 channels (buffer_size 4096, max_bots 16: the same for the sim and every bot), and
# runs bench/run.ts with Deno ($DENO, else `deno` on PATH, else ./.tools).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DENO=${DENO:-}
if [ -z "$DENO" ]; then
  if command -v deno >/dev/null 2>&1; then DENO=$(command -v deno)
  elif [ -x "$ROOT/.tools/node_modules/.bin/deno" ]; then DENO="$ROOT/.tools/node_modules/.bin/deno"
  else echo "deno not found: run 'bash scripts/run.sh setup' or set DENO" >&2; exit 1
  fi
fi

# The fault-injection build first (its library is copied aside), then the release build the
# other cases load (cargo rebuilds only the hftlive crate when the feature changes).
(
  cd rust
  cargo build --release --quiet -p hftlive --features hftlive/fault-injection
  mkdir -p target/bench
  cp target/release/libhftlive.so target/bench/libhftlive-fi.so
  cargo build --release --workspace --quiet
  cargo build --release --quiet -p hftlive --example native_baseline
)
export HFTLIVE_FLOOD_LIB="$ROOT/rust/target/bench/libhftlive-fi.so"

if [ -z "${HFTBACKTEST_CHANNEL_CONFIG:-}" ]; then
  cfg=$(mktemp /tmp/hftlive-bench-channel.XXXXXX.toml)
  trap 'rm -f "$cfg"' EXIT
  printf 'buffer_size = 4096\nmax_bots = 16\n' >"$cfg"
  export HFTBACKTEST_CHANNEL_CONFIG="$cfg"
fi

"$DENO" run -A bench/run.ts "$@"
