/**
 * The Deno backend: opens the native library with `Deno.dlopen` over the one
 * symbol table. Pointers never leave `ffi/`; the returned object takes only
 * numbers and typed arrays.
 *
 * @module
 */

import { type NativeSymbols, symbols } from "./symbols.ts";

/** True when running under Deno with `Deno.dlopen` available. */
export function hasDenoFfi(): boolean {
  // deno-lint-ignore no-explicit-any
  const d = (globalThis as any).Deno;
  return typeof d?.dlopen === "function";
}

/**
 * Opens `path` with `Deno.dlopen`. The library is never closed: a call in
 * flight after `lib.close()` is a use-after-unmap, so hftlive keeps it loaded
 * for the life of the process (see `ffi/library.ts`).
 */
export function openDeno(path: string): NativeSymbols {
  const lib = Deno.dlopen(path, symbols);
  return lib.symbols as unknown as NativeSymbols;
}
