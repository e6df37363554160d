#!/usr/bin/env bash
# hftlive's entry point on a fresh machine: installs what is missing, builds, runs.
#
#   bash scripts/run.sh demo    # demo strategy against the embedded paper exchange
#   bash scripts/run.sh test    # build everything and run every test (Rust + Deno)
#   bash scripts/run.sh bench   # benchmarks (native baseline side by side)
#   bash scripts/run.sh setup   # only install prerequisites and build
#
# Installs, when missing: Debian's libclang-dev (iceoryx2's bindgen needs it) with apt-get,
# and Deno from the npm package `deno` into ./.tools (no global change); for `test`, Debian's
# chromium (the monitoring page's browser test; scripts/chromium.sh, run by scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DENO_VERSION=2.9.6

say() { printf '[hftlive] %s\n' "$*" >&2; }

# shellcheck source=scripts/libclang.sh
source "$ROOT/scripts/libclang.sh"

ensure_libclang() {
  if ! libclang_found >/dev/null; then
    say "installing libclang-dev (needed by iceoryx2's bindgen)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libclang-dev >/dev/null
    libclang_found >/dev/null || {
      say "libclang-dev installed but no libclang.so found; set LIBCLANG_PATH to its directory"
      exit 1
    }
  fi
}

ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || {
    say "cargo not found: install Rust (https://rustup.rs) and run again"
    exit 1
  }
}

ensure_deno() {
  if [ -n "${DENO:-}" ] && [ -x "$DENO" ]; then return; fi
  if command -v deno >/dev/null 2>&1; then DENO=$(command -v deno); export DENO; return; fi
  if [ ! -x "$ROOT/.tools/node_modules/.bin/deno" ]; then
    command -v npm >/dev/null 2>&1 || { say "neither deno nor npm found: install Node.js (for npm) or Deno"; exit 1; }
    say "installing Deno $DENO_VERSION from the npm package 'deno' into .tools/"
    mkdir -p "$ROOT/.tools"
    (cd "$ROOT/.tools" && npm install --no-audit --no-fund --silent "deno@$DENO_VERSION" >/dev/null)
  fi
  DENO="$ROOT/.tools/node_modules/.bin/deno"
  "$DENO" --version >/dev/null 2>&1 || { say "the npm package deno did not give a working binary at $DENO"; exit 1; }
  export DENO
}

build_native() {
  say "building the native library (cargo build --release)"
  (cd rust && cargo build --release --workspace --quiet)
}

cmd=${1:-demo}
shift || true
ensure_cargo
ensure_libclang
ensure_deno
export PATH="$(dirname "$DENO"):$PATH"
case "$cmd" in
  setup) build_native ;;
  demo) build_native; exec "$DENO" task demo "$@" ;;
  test) exec bash scripts/test.sh "$@" ;;
  bench) build_native; exec "$DENO" task bench "$@" ;;
  *) say "unknown command '$cmd' (demo | test | bench | setup)"; exit 2 ;;
esac
