# shellcheck shell=bash
# Sourced by scripts/test.sh and tests/npm/run.sh: `check NAME CMD...` runs CMD with its output in
# the file $steplog and counts it as one test in $passed or $failed, printing "== NAME: ok" or
# "== NAME: FAILED" and the output to stderr.
check() {
  local name=$1; shift
  if "$@" >"$steplog" 2>&1; then
    echo "== $name: ok" >&2; passed=$((passed + 1))
  else
    echo "== $name: FAILED" >&2; cat "$steplog" >&2; failed=$((failed + 1))
  fi
}
