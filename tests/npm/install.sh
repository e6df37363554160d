#!/usr/bin/env bash
# Packs npm/hftlive and npm/linux-x64-gnu (built by `deno task npm`) with `npm pack` into DIR and
# installs the tarballs into the empty project DIR/app (koffi from the npm cache or the registry).
# Usage: bash tests/npm/install.sh DIR. Used by tests/npm/run.sh and bench/runtimes.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$1
for d in hftlive linux-x64-gnu; do
  [ -f "npm/$d/package.json" ] || { echo "npm/$d missing: run 'deno task npm' first" >&2; exit 1; }
  (cd "npm/$d" && npm pack --pack-destination "$dir" 2>&1 | grep -E 'filename|package size|unpacked size')
done
mkdir -p "$dir/app"
printf '{ "name": "app", "private": true, "type": "module" }\n' >"$dir/app/package.json"
(cd "$dir/app" && npm install --no-audit --no-fund --prefer-offline "$dir"/hftlive-*.tgz)
