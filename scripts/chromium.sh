#!/usr/bin/env bash
# A headless Chromium for the monitoring page's browser test (tests/monitor_test.ts).
#
#   source scripts/chromium.sh; chromium_found        # prints the binary, exit 0 when found
#   source scripts/chromium.sh; ensure_chromium       # installs Debian's chromium when missing
#   bash scripts/chromium.sh                          # the same as ensure_chromium, prints the path
#
# Looks at $CHROMIUM, then chromium, chromium-browser, google-chrome(-stable) on the PATH. When
# none is there, installs Debian's `chromium` package with apt-get (via sudo if not root):
# `apt-get update` once, then `apt-get install -y --no-install-recommends chromium`. Fails with a
# message saying what to do when that is not possible; never downloads a browser from elsewhere.

chromium_found() {
  local c
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; return 0; fi
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

ensure_chromium() {
  chromium_found && return 0
  printf '[hftlive] installing Debian'"'"'s chromium (headless browser for the monitor test)\n' >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "chromium is missing and this user cannot install it: apt-get install chromium (as root), or set CHROMIUM" >&2
      return 1
    }
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "chromium is missing and there is no apt-get: install Chromium and set CHROMIUM to its binary" >&2
    return 1
  }
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    chromium >/dev/null; then
    echo "apt-get install chromium failed: install it by hand, or set CHROMIUM to a Chromium binary" >&2
    return 1
  fi
  chromium_found || {
    echo "chromium was installed but no binary was found on the PATH; set CHROMIUM" >&2
    return 1
  }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_chromium
fi
