/**
 * The Deno backend of {@linkcode Runtime}: `Deno.dlopen` over the one symbol
 * table, `Deno.env`, `Deno.unrefTimer`, and `Deno.connect` for the doorbell's
 * Unix socket. Pointers never leave `ffi/`: the opened symbols take only
 * numbers and typed arrays.
 *
 * @module
 */

import type { EventChannel, HttpHandler, HttpListen, HttpResponse, HttpServer } from "../http.ts";
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
  serveHttp(listen: HttpListen, handler: HttpHandler): Promise<HttpServer> {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: listen.hostname,
        port: listen.port,
        onListen: () => {}, // no "Listening on" line: the monitor prints its own URL
        handler: (req) => {
          const u = new URL(req.url);
          return denoResponse(handler({ method: req.method, url: u.pathname + u.search }));
        },
      });
    } catch (e) {
      return Promise.reject(e);
    }
    server.unref(); // neither the listener nor its connections keep the process alive
    return Promise.resolve({
      port: server.addr.port,
      close: () => server.shutdown(),
    });
  },
};

const encoder = new TextEncoder();

/** A {@linkcode HttpResponse} as a `Response`: an event stream is a `ReadableStream` body. */
function denoResponse(r: HttpResponse): Response {
  if (!("open" in r)) return new Response(r.body, { status: r.status, headers: r.headers });
  let ended = false;
  const finish = (): void => {
    if (ended) return;
    ended = true;
    r.closed();
  };
  const body = new ReadableStream<Uint8Array>({
    start(c): void {
      const channel: EventChannel = {
        write(chunk: string): boolean {
          // desiredSize <= 0: the server has not taken the last chunks (the peer reads slowly).
          if (ended || (c.desiredSize ?? 0) <= 0) return false;
          c.enqueue(encoder.encode(chunk));
          return true;
        },
        end(): void {
          if (ended) return;
          try {
            c.close();
          } catch { /* already closed */ }
          finish();
        },
      };
      r.open(channel);
    },
    cancel: finish, // the peer went away
  }, { highWaterMark: 4 });
  return new Response(body, { status: r.status, headers: r.headers });
}
