#!/usr/bin/env bash
# Is there a libclang that bindgen (clang-sys 1.x, runtime loading) will load?
#
#   source scripts/libclang.sh; libclang_found [ROOT]   # exit 0 when found
#   bash scripts/libclang.sh [ROOT]                     # prints the library found, exit 1 if none
#
# Mirrors clang-sys's own search (build/common.rs, build/dynamic.rs): $LIBCLANG_PATH, then the
# directories /usr/local/llvm*/lib*, /usr/local/lib*{,/*,/*/*} and /usr/lib*{,/*,/*/*}, for files
# named libclang.so, libclang-*.so, libclang.so.* or libclang-*.so.*, skipping LLVM's C++ library
# libclang-cpp.so.N (it matches those patterns but is not the C API bindgen needs: a machine with
# only LLVM's runtime has it and no libclang). ROOT (for tests) prefixes every directory searched;
# with a ROOT, $LIBCLANG_PATH and ldconfig are not consulted.

libclang_name_ok() {
  case "$1" in
    *-cpp.*) return 1 ;;
    libclang.so | libclang-*.so | libclang.so.* | libclang-*.so.*) return 0 ;;
    *) return 1 ;;
  esac
}

libclang_found() {
  local root=${1:-} dir f
  local -a dirs=()
  if [ -z "$root" ]; then
    [ -n "${LIBCLANG_PATH:-}" ] && dirs+=("$LIBCLANG_PATH")
    # The dynamic loader's cache, as a last resort for unusual layouts.
    while read -r f; do
      libclang_name_ok "$(basename "$f")" && [ -e "$f" ] && { echo "$f"; return 0; }
    done < <(ldconfig -p 2>/dev/null | sed -n 's/.*=> //p')
  fi
  shopt -s nullglob
  for dir in "$root"/usr/local/llvm*/lib* "$root"/usr/local/lib*/*/* "$root"/usr/local/lib*/* \
    "$root"/usr/local/lib* "$root"/usr/lib*/*/* "$root"/usr/lib*/* "$root"/usr/lib*; do
    dirs+=("$dir")
  done
  for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    for f in "$dir"/libclang*.so*; do
      if libclang_name_ok "$(basename "$f")"; then
        shopt -u nullglob
        echo "$f"
        return 0
      fi
    done
  done
  shopt -u nullglob
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  libclang_found "${1:-}"
fi
