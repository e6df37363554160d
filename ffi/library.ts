/**
 * Locating and loading the native library, once per process.
 *
 * Search order (STYLE practice 5): the explicit `libPath` option, then the
 * `HFTLIVE_LIB` environment variable, then the cargo build output relative to
 * this module (`rust/target/release`, then `rust/target/debug`), never the
 * working directory. An explicit `libPath` is used alone (no fallback). On
 * failure one error lists every path tried. Right after
 * loading, `hl_abi_version()` must equal {@linkcode ABI_VERSION}.
 *
 * The library stays loaded for the life of the process and is never closed:
 * a native call still in flight (a pending `hl_client_wait`) after the library
 * is unmapped crashes the process, and clients of one process share it. Each
 * distinct path is loaded at most once.
 *
 * @module
 */

import { ErrorCode, errorFromStatus, type LiveError, NativeError } from "../errors.ts";
import { denoRuntime, isDeno } from "./deno.ts";
import { PermissionDenied, type Runtime } from "./runtime.ts";
import { ABI_VERSION, type NativeSymbols } from "./symbols.ts";

/** The runtime this process runs on. */
export function currentRuntime(): Runtime {
  if (isDeno()) return denoRuntime;
  throw new NativeError(
    "Cannot load the hftlive native library: this runtime is not supported yet (Deno is)",
    { code: ErrorCode.Library },
  );
}

/** Options for {@linkcode loadLibrary}. */
export interface LoadOptions {
  /** Path of `libhftlive` to load; takes precedence over everything else. */
  libPath?: string;
}

/** A loaded native library with its error helpers. */
export interface NativeLibrary {
  /** The native functions. */
  readonly symbols: NativeSymbols;
  /** Path it was loaded from. */
  readonly path: string;
  /** The runtime it was loaded by. */
  readonly runtime: Runtime;
  /** Reads the last error message of a handle (`hl_last_error`). */
  lastError(handle: number): string;
  /**
   * The choke point: returns `status` when it is `>= 0`, otherwise throws the
   * matching {@linkcode LiveError} with the handle's last error message.
   */
  check(handle: number, status: number, what: string, orderId?: number): number;
  /** Builds (does not throw) the error for a negative status. */
  error(handle: number, status: number, what: string, orderId?: number): LiveError;
}

function libFileName(os: string): string {
  if (os === "windows") return "hftlive.dll";
  if (os === "darwin") return "libhftlive.dylib";
  return "libhftlive.so";
}

/** The places searched for the library, in order (for error messages and docs). */
export function candidatePaths(options: LoadOptions = {}): string[] {
  const rt = currentRuntime();
  const out: string[] = [];
  if (options.libPath) out.push(options.libPath);
  const env = rt.env("HFTLIVE_LIB");
  if (env) out.push(env);
  const here = new URL(import.meta.url);
  if (here.protocol === "file:") {
    const name = libFileName(rt.os);
    for (const profile of ["release", "debug"]) {
      out.push(rt.fromFileUrl(new URL(`../rust/target/${profile}/${name}`, here)));
    }
  }
  return out;
}

const loaded = new Map<string, NativeLibrary>();
let defaultLib: NativeLibrary | undefined;
const textDecoder = new TextDecoder();

function wrap(symbols: NativeSymbols, path: string, runtime: Runtime): NativeLibrary {
  const msg = new Uint8Array(4096);
  const lastError = (handle: number): string => {
    const n = symbols.hl_last_error(handle, msg, msg.length);
    return n > 0 ? textDecoder.decode(msg.subarray(0, n)) : "";
  };
  const error = (handle: number, status: number, what: string, orderId?: number): LiveError => {
    const text = status === -1 ? "" : lastError(handle);
    return errorFromStatus(status, text, what, orderId === undefined ? {} : { orderId });
  };
  return {
    symbols,
    path,
    runtime,
    lastError,
    error,
    check(handle: number, status: number, what: string, orderId?: number): number {
      if (status >= 0) return status;
      throw error(handle, status, what, orderId);
    },
  };
}

/**
 * Loads `libhftlive` (once per path) and checks its ABI version.
 *
 * @throws {NativeError} with code `"LIBRARY"` listing every path tried.
 */
export function loadLibrary(options: LoadOptions = {}): NativeLibrary {
  if (!options.libPath && defaultLib) return defaultLib;
  const rt = currentRuntime();
  const tried: string[] = [];
  // An explicit path is authoritative: no fallback when it fails.
  const paths = options.libPath ? [options.libPath] : candidatePaths(options);
  for (const path of paths) {
    const cached = loaded.get(path);
    if (cached) {
      if (!options.libPath) defaultLib = cached;
      return cached;
    }
    let symbols: NativeSymbols;
    try {
      symbols = rt.open(path);
    } catch (e) {
      if (e instanceof PermissionDenied) {
        throw new NativeError(`Cannot load the hftlive native library: ${e.message}`, {
          code: ErrorCode.Library,
          cause: e,
        });
      }
      tried.push(`${path} (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`);
      continue;
    }
    const version = symbols.hl_abi_version();
    if (version !== ABI_VERSION) {
      // Not closed on purpose: another part of the process may hold the same file.
      throw new NativeError(
        `Cannot use the hftlive native library at ${path}: ABI version ${version}, expected ${ABI_VERSION} (rebuild it with \`cargo build --release -p hftlive\` in rust/)`,
        { code: ErrorCode.Library },
      );
    }
    const lib = wrap(symbols, path, rt);
    loaded.set(path, lib);
    if (!options.libPath) defaultLib = lib;
    return lib;
  }
  throw new NativeError(
    `Cannot load the hftlive native library: not found or not loadable; tried ${
      tried.length === 0 ? "no path" : tried.join("; ")
    }. Build it with \`cargo build --release -p hftlive\` in rust/, or set HFTLIVE_LIB or the libPath option.`,
    { code: ErrorCode.Library },
  );
}
