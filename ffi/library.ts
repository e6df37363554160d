/**
 * Locating and loading the native library, once per process.
 *
 * Search order (STYLE practice 5): the explicit `libPath` option, then the
 * `HFTLIVE_LIB` environment variable, then the cargo build output relative to
 * this module (`rust/target/release`, then `rust/target/debug`: a checkout),
 * never the working directory; then the npm platform package of this
 * platform (`@hftlive/linux-x64-gnu`), which holds the prebuilt library and
 * exports its path. An explicit `libPath` is used alone (no fallback). The
 * first three are tried synchronously ({@linkcode loadLibrarySync}); the
 * package is imported, so {@linkcode loadLibrary} is async. On failure one
 * error lists every place tried and the package to install. Right after
 * loading, `hl_abi_version()` must equal {@linkcode ABI_VERSION}.
 *
 * The platform package is one literal dynamic import per platform, so every
 * runtime resolves it its own way: Deno (a checkout, or this module from JSR)
 * imports `npm:@hftlive/linux-x64-gnu@<VERSION>` and downloads it from the npm
 * registry itself; the npm build imports the bare name, which Node (and Deno
 * running the npm build) resolve from `node_modules`.
 *
 * The library stays loaded for the life of the process and is never closed:
 * a native call still in flight (a pending `hl_client_wait`) after the library
 * is unmapped crashes the process, and clients of one process share it. Each
 * distinct path is loaded at most once.
 *
 * Under Node this module imports the koffi backend (`ffi/node.ts`) when it is
 * evaluated (a top-level await); Deno never loads that module.
 *
 * @module
 */

import { ErrorCode, errorFromStatus, type LiveError, NativeError } from "../errors.ts";
import { denoRuntime, isDeno } from "./deno.ts";
import { PermissionDenied, type Runtime } from "./runtime.ts";
import { ABI_VERSION, type NativeSymbols, VERSION } from "./symbols.ts";

/** True when running under Node (and not Deno, which also defines `process.versions.node`). */
function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return !isDeno() && typeof p?.versions?.node === "string";
}

/** The Node backend, imported only under Node: Deno never loads it (nor koffi). */
const nodeRuntime: Runtime | undefined = isNode()
  ? (await import("./node.ts")).nodeRuntime
  : undefined;

/** The runtime this process runs on. */
export function currentRuntime(): Runtime {
  if (isDeno()) return denoRuntime;
  if (nodeRuntime) return nodeRuntime;
  throw new NativeError(
    "Cannot load the hftlive native library: this runtime is not supported (Deno 2 and Node 20+ are)",
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

/**
 * The paths searched for the library before the platform package, in order:
 * `libPath`, `HFTLIVE_LIB`, the cargo build beside the module.
 */
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
 * The npm package with the prebuilt library for a platform, or undefined when
 * none is published for it (only glibc Linux on x86-64 today).
 */
export function platformPackage(os: string, arch: string): string | undefined {
  return os === "linux" && arch === "x64" ? "@hftlive/linux-x64-gnu" : undefined;
}

/** Imports the platform package `name` and returns the library path it exports. */
async function importPlatformPackage(name: string): Promise<string> {
  let mod: { path?: unknown } = {};
  // One literal specifier per package, with the version of this module (tests/npm_test.ts checks
  // it): Deno (a checkout, JSR) downloads it through npm:, and npm-build.ts rewrites it to the bare
  // name, which Node (and Deno running the npm build) resolve from node_modules.
  if (name === "@hftlive/linux-x64-gnu") {
    // deno-lint-ignore no-import-prefix -- an npm: import is how a JSR module reaches the package
    mod = await import("npm:@hftlive/linux-x64-gnu@0.1.0");
  }
  if (typeof mod.path !== "string") throw new Error("it exports no library path");
  return mod.path;
}

/** Opens `path` (once per path) and checks its ABI version; undefined when it cannot be opened. */
function open(
  rt: Runtime,
  path: string,
  tried: string[],
  rebuild: string,
): NativeLibrary | undefined {
  const cached = loaded.get(path);
  if (cached) return cached;
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
    return undefined;
  }
  const version = symbols.hl_abi_version();
  if (version !== ABI_VERSION) {
    // Not closed on purpose: another part of the process may hold the same file.
    throw new NativeError(
      `Cannot use the hftlive native library at ${path}: ABI version ${version}, expected ${ABI_VERSION} (${rebuild})`,
      { code: ErrorCode.Library },
    );
  }
  const lib = wrap(symbols, path, rt);
  loaded.set(path, lib);
  return lib;
}

const REBUILD = "rebuild it with `cargo build --release -p hftlive` in rust/";

/** The first three sources, synchronously: the library, or undefined with `tried` filled. */
function openLocal(rt: Runtime, options: LoadOptions, tried: string[]): NativeLibrary | undefined {
  // An explicit path is authoritative: no fallback when it fails.
  const paths = options.libPath ? [options.libPath] : candidatePaths(options);
  for (const path of paths) {
    const lib = open(rt, path, tried, REBUILD);
    if (lib) return lib;
  }
  return undefined;
}

function notFound(rt: Runtime, options: LoadOptions, tried: string[]): NativeError {
  const pkg = platformPackage(rt.os, rt.arch);
  const hint = options.libPath
    ? "Fix the libPath option"
    : pkg
    ? `Install the npm package ${pkg}@${VERSION} (Node: \`npm install hftlive\` brings it; Deno: it comes through npm: when the npm registry is reachable), build the library with \`cargo build --release -p hftlive\` in rust/, or set HFTLIVE_LIB or the libPath option`
    : `No prebuilt library is published for ${rt.os}-${rt.arch}: build it with \`cargo build --release -p hftlive\` in rust/ and set HFTLIVE_LIB or the libPath option`;
  return new NativeError(
    `Cannot load the hftlive native library: not found or not loadable; tried ${
      tried.length === 0 ? "nothing" : tried.join("; ")
    }. ${hint}.`,
    { code: ErrorCode.Library },
  );
}

/**
 * Loads `libhftlive` (once per path) from the first three sources only
 * (`libPath`, `HFTLIVE_LIB`, the cargo build beside the module), synchronously,
 * and checks its ABI version.
 *
 * @throws {NativeError} with code `"LIBRARY"` listing every path tried.
 */
export function loadLibrarySync(options: LoadOptions = {}): NativeLibrary {
  if (!options.libPath && defaultLib) return defaultLib;
  const rt = currentRuntime();
  const tried: string[] = [];
  return found(rt, options, tried, openLocal(rt, options, tried));
}

/** The library found, remembered as the default unless it came from `libPath`; or the error. */
function found(
  rt: Runtime,
  options: LoadOptions,
  tried: string[],
  lib: NativeLibrary | undefined,
): NativeLibrary {
  if (!lib) throw notFound(rt, options, tried);
  if (!options.libPath) defaultLib = lib;
  return lib;
}

/**
 * Loads `libhftlive` (once per path) from the first source that has it, the
 * platform package last, and checks its ABI version.
 *
 * @throws {NativeError} with code `"LIBRARY"` listing every place tried and the package to install.
 */
export async function loadLibrary(options: LoadOptions = {}): Promise<NativeLibrary> {
  if (!options.libPath && defaultLib) return defaultLib;
  const rt = currentRuntime();
  const tried: string[] = [];
  let lib = openLocal(rt, options, tried);
  const pkg = options.libPath ? undefined : platformPackage(rt.os, rt.arch);
  if (!lib && pkg) {
    let path: string | undefined;
    try {
      path = await importPlatformPackage(pkg);
    } catch (e) {
      const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
      tried.push(`npm package ${pkg}@${VERSION} (${why})`);
    }
    if (path !== undefined) {
      lib = open(rt, path, tried, `reinstall ${pkg}@${VERSION}, the version of this module`);
    }
  }
  return found(rt, options, tried, lib);
}
