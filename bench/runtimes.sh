#!/usr/bin/env bash
# Node against Deno on the same npm build (bench/runtimes.mjs): packs and installs npm/ (run
# `deno task npm` first) into a temporary project, runs each bench ROUNDS times per runtime,
# interleaved, prints every result, then per runtime and bench the median and the min-max.
# Usage: bash bench/runtimes.sh [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${1:-3}
DENO=${DENO:-deno}
work=$(mktemp -d /tmp/hftlive-runtimes.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash tests/npm/install.sh "$work" >/dev/null
cp bench/runtimes.mjs "$work/app/"
cd "$work/app"
for _ in $(seq "$ROUNDS"); do
  for b in throughput latency; do
    node runtimes.mjs "$b" | tee -a results.jsonl
    "$DENO" run --node-modules-dir=manual --allow-ffi --allow-net --allow-read=/tmp \
      --allow-write=/tmp runtimes.mjs "$b" | tee -a results.jsonl
  done
done
node "$ROOT/bench/runtimes_summary.mjs" results.jsonl
