#!/usr/bin/env bash
# Builds the native library and runs every test (Rust, then Deno, then the npm packages under
# Node and Deno), checks that the tests left no iceoryx2 files behind, then runs the static checks
# (fmt, lint, types, docs, clippy), each counted as a test. Ends with one line: "N passed, N failed".
# Used by `deno task test`, `bash scripts/run.sh test` and .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DENO=${DENO:-}
if [ -z "$DENO" ]; then
  if command -v deno >/dev/null 2>&1; then DENO=$(command -v deno)
  elif [ -x "$ROOT/.tools/node_modules/.bin/deno" ]; then DENO="$ROOT/.tools/node_modules/.bin/deno"
  else echo "deno not found: run 'bash scripts/run.sh test' to install it" >&2; echo "0 passed, 1 failed"; exit 1
  fi
fi

passed=0
failed=0
logdir=$(mktemp -d /tmp/hftlive-test.XXXXXX)

# Small shared-memory channels for the tests (the connector and every bot must agree;
# the sim runs in the same process or inherits this environment).
cat >"$logdir/channel.toml" <<'EOF'
buffer_size = 4096
max_bots = 16
EOF
export HFTBACKTEST_CHANNEL_CONFIG="$logdir/channel.toml"

iox_files() { { find /tmp/iceoryx2 -type f 2>/dev/null; ls -1 /dev/shm 2>/dev/null | grep '^iox2_' | sed 's|^|/dev/shm/|'; } | sort; }
iox_files >"$logdir/iox-before"

# The npm packages (npm/) first: their library is the release build, without the test-only fault
# injection, so the build for the tests below must come after it (switching rebuilds only the
# hftlive crates, ~15 s). Counted as one test.
echo "== deno task npm" >&2
if "$DENO" task npm >"$logdir/npm-build.log" 2>&1; then
  passed=$((passed + 1)); npm_built=1
else
  cat "$logdir/npm-build.log" >&2; failed=$((failed + 1)); npm_built=0
fi

# The library the Deno tests load is built with the test-only fault injection (hl_client_fault);
# `scripts/run.sh` (demo, setup) and releases build it without.
FEATURES=(--features hftlive/fault-injection)
echo "== cargo build --release ${FEATURES[*]}" >&2
if ! (cd rust && cargo build --release --workspace "${FEATURES[@]}" --quiet) 2>"$logdir/build.log"; then
  cat "$logdir/build.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== cargo test --release ${FEATURES[*]}" >&2
(cd rust && cargo test --release --workspace "${FEATURES[@]}" 2>&1) | tee "$logdir/cargo-test.log" >&2
rust_ok=${PIPESTATUS[0]}
while read -r p f; do
  passed=$((passed + p)); failed=$((failed + f))
done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$logdir/cargo-test.log")
if [ "$rust_ok" != 0 ] && ! grep -q '^test result: FAILED' "$logdir/cargo-test.log"; then
  failed=$((failed + 1)) # a build or harness failure, not a counted test
fi

# The monitor's browser test needs a headless Chromium: Debian's chromium, installed when missing
# (without it that test fails with the reason; it never skips).
# shellcheck source=scripts/chromium.sh
source "$ROOT/scripts/chromium.sh"
ensure_chromium >/dev/null || echo "== no Chromium: tests/monitor_test.ts's browser test will fail" >&2

echo "== deno test" >&2
"$DENO" test --allow-ffi --allow-env --allow-read --allow-write --allow-run --allow-net tests/ 2>&1 | tee "$logdir/deno-test.log" >&2
deno_ok=${PIPESTATUS[0]}
line=$(sed 's/\x1b\[[0-9;]*m//g' "$logdir/deno-test.log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
if [ -n "$line" ]; then
  p=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f))
elif [ "$deno_ok" != 0 ]; then
  failed=$((failed + 1))
fi

# The npm packages as users get them: packed, installed into an empty project, run under Node and
# Deno, and the portable Deno tests under Node (each step and each node:test test counts one).
if [ "$npm_built" = 1 ]; then
  echo "== npm packages: pack, install, Node and Deno" >&2
  DENO="$DENO" bash tests/npm/run.sh 2>&1 | tee "$logdir/npm-test.log" >&2
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logdir/npm-test.log" | tail -1)
  if [ -n "$line" ]; then
    passed=$((passed + ${line%% passed*})); f=${line#*, }; failed=$((failed + ${f%% failed}))
  else
    failed=$((failed + 1))
  fi
fi

# The tests must clean up after themselves: no dead iceoryx2 nodes (left by a test process
# that did not close its ports), and, when no other iceoryx2 process is running, no new files.
iox_files >"$logdir/iox-after"
nodes=$(rust/target/release/examples/iox_nodes 2>/dev/null)
dead=$(grep -c '^dead' <<<"$nodes")
alive=$(grep -c '^alive' <<<"$nodes")
left=$(comm -13 "$logdir/iox-before" "$logdir/iox-after")
if [ "$dead" != 0 ]; then
  echo "== $dead dead iceoryx2 node(s) left behind by the tests" >&2
  failed=$((failed + 1))
elif [ "$alive" = 0 ] && [ -n "$left" ]; then
  echo "== iceoryx2 files left behind by the tests:" >&2
  echo "$left" >&2
  failed=$((failed + 1))
else
  [ "$alive" = 0 ] || echo "== ($alive iceoryx2 node(s) of other running processes: file check skipped)" >&2
  echo "== no iceoryx2 leftovers of the tests" >&2
  passed=$((passed + 1))
fi

# Static checks, each counted as one test: formatting, lints, types, docs.
steplog="$logdir/check.log"
# shellcheck source=scripts/steps.sh
source "$ROOT/scripts/steps.sh"
check "deno fmt --check" "$DENO" fmt --check
check "deno lint" "$DENO" lint
check "deno check" "$DENO" check mod.ts tests/ examples/ bench/ npm-build.ts
check "deno doc --lint mod.ts" "$DENO" doc --lint mod.ts
check "cargo fmt --check" bash -c "cd rust && cargo fmt --all --check"
check "cargo clippy -D warnings" bash -c "cd rust && cargo clippy --workspace --all-targets --release --quiet ${FEATURES[*]} -- -D warnings"

rm -rf "$logdir"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
