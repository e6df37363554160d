/**
 * The Deno backend of {@linkcode Runtime}: `Deno.dlopen` over the one symbol
 * table, `Deno.env`, `Deno.unrefTimer`, and `Deno.connect` for the doorbell's
 * Unix socket. Pointers never leave `ffi/`: the opened symbols take only
 * numbers and typed arrays.
 *
 * @module
 */

import { PermissionDenied, type Runtime, type UnixConn } from "./runtime.ts";
import { type NativeSymbols, symbols } from "./symbols.ts";

/** True when running under Deno with `Deno.dlopen` available. */
export function isDeno(): boolean {
  return typeof (globalThis as { Deno?: { dlopen?: unknown } }).Deno?.dlopen === "function";
}

/** The Deno runtime. */
export const denoRuntime: Runtime = {
  name: "deno",
  get os(): string {
    return Deno.build.os;
  },
  get arch(): string {
    const arch: string = Deno.build.arch;
    return arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch;
  },
  get pid(): number {
    return Deno.pid;
  },
  open(path: string): NativeSymbols {
    try {
      // Never closed: a call in flight after `close()` is a use-after-unmap (ffi/library.ts).
      return Deno.dlopen(path, symbols).symbols as unknown as NativeSymbols;
    } catch (e) {
      if (e instanceof Error && e.name === "NotCapable") {
        throw new PermissionDenied("FFI is not permitted (run with --allow-ffi)", { cause: e });
      }
      throw e;
    }
  },
  env(name: string): string | undefined {
    try {
      const v = Deno.env.get(name);
      return v && v.length > 0 ? v : undefined;
    } catch {
      return undefined; // no --allow-env: skip this source
    }
  },
  fromFileUrl(url: URL): string {
    return decodeURIComponent(url.pathname);
  },
  unrefTimer(id: ReturnType<typeof setTimeout>): void {
    Deno.unrefTimer(id as unknown as number);
  },
  refTimer(id: ReturnType<typeof setTimeout>): void {
    Deno.refTimer(id as unknown as number);
  },
  unixSocketAllowed(path: string): boolean {
    try {
      // Deno asks for net access to "unix:<path>" and read and write access to the path.
      const needed: Deno.PermissionDescriptor[] = [
        { name: "net", host: `unix:${path}` },
        { name: "read", path },
        { name: "write", path },
      ];
      return needed.every((d) => Deno.permissions.querySync(d).state === "granted");
    } catch {
      return false;
    }
  },
  async connectUnix(path: string): Promise<UnixConn> {
    return await Deno.connect({ transport: "unix", path });
  },
  onSignals(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void {
    const int = (): void => handler("SIGINT");
    const term = (): void => handler("SIGTERM");
    Deno.addSignalListener("SIGINT", int);
    Deno.addSignalListener("SIGTERM", term);
    return () => {
      Deno.removeSignalListener("SIGINT", int);
      Deno.removeSignalListener("SIGTERM", term);
    };
  },
  exit(code: number): void {
    Deno.exit(code);
  },
};
