/**
 * The Node backend of {@linkcode Runtime}: [koffi](https://koffi.dev) over the
 * one symbol table, `process.env`, `Timeout.unref()`/`ref()`, `process`
 * signals and exit, `node:net` for the doorbell's Unix socket, and
 * `node:http` for the monitoring page. `ffi/library.ts` imports this module only under
 * Node, so Deno never loads it; koffi itself is required on the first
 * `open()`, through `createRequire` (invisible to Deno's and JSR's module
 * graph, which therefore need no koffi).
 *
 * Node 20 lacks `Promise.withResolvers` (Node 22 has it), which the client
 * uses: this module installs a polyfill when it is missing. Loading it is part
 * of importing the module under Node, so the polyfill is in place before any
 * client code runs.
 *
 * @module
 */

import { createServer, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { HttpHandler, HttpListen, HttpResponse, HttpServer } from "../http.ts";
import { PermissionDenied, type Runtime, type UnixConn } from "./runtime.ts";
import { type NativeSymbols, type NativeType, type SymbolDefinition, symbols } from "./symbols.ts";

if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(): PromiseWithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/** One function of a koffi library (the part this backend uses). */
export interface KoffiFunction {
  /** Calls the native function on this thread. */
  (...args: unknown[]): unknown;
  /** Calls it on a koffi worker thread; the last argument is `(err, result) => void`. */
  async(...args: unknown[]): void;
}

/** A library loaded by koffi (the part this backend uses). */
export interface KoffiLibrary {
  /** Declares the function `name` with C types. */
  func(name: string, result: string, parameters: string[]): KoffiFunction;
}

/** koffi's C type for each type of the symbol table: a buffer is a `void *` that takes typed arrays. */
const C_TYPES: Readonly<Record<NativeType, string>> = {
  u32: "uint32_t",
  i32: "int32_t",
  f64: "double",
  buffer: "void *",
};

/** A nonblocking symbol: koffi's async call (a libuv worker thread) as a promise. */
function promised(fn: KoffiFunction): (...args: unknown[]) => Promise<unknown> {
  return (...args) =>
    new Promise((resolve, reject) => {
      fn.async(...args, (err: unknown, result: unknown) => (err ? reject(err) : resolve(result)));
    });
}

/**
 * Declares every symbol of the table in `lib`: the same names, C types mapped
 * from the table, nonblocking symbols returning a promise, a missing optional
 * symbol as null. No symbol returns a buffer (a pointer would leave `ffi/`).
 */
export function bindSymbols(lib: KoffiLibrary): NativeSymbols {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(symbols) as [string, SymbolDefinition][]) {
    if (def.result === "buffer") throw new TypeError(`${name}: a pointer result is not supported`);
    let fn: KoffiFunction;
    try {
      const symbol = def.name ?? name; // a second (nonblocking) binding names its symbol
      fn = lib.func(symbol, C_TYPES[def.result], def.parameters.map((p) => C_TYPES[p]));
    } catch (e) {
      if (def.optional) {
        out[name] = null;
        continue;
      }
      throw e;
    }
    out[name] = def.nonblocking ? promised(fn) : fn;
  }
  return out as NativeSymbols;
}

let koffi: { load(path: string): KoffiLibrary } | undefined;

/** A connected Unix socket, read as `Deno.Conn` reads: into a buffer, null at the end. */
class NodeUnixConn implements UnixConn {
  readonly #socket: Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    const wake = (): void => {
      const w = this.#wake;
      this.#wake = undefined;
      w?.();
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      wake();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      wake();
    });
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0 && !this.#ended && this.#error === undefined) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const chunk = this.#chunks[0];
    if (chunk === undefined) {
      if (this.#error !== undefined) throw this.#error;
      return null;
    }
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
  }

  close(): void {
    this.#socket.destroy();
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }
}

/** The Node runtime. */
export const nodeRuntime: Runtime = {
  name: "node",
  os: process.platform === "win32" ? "windows" : process.platform,
  arch: process.arch,
  pid: process.pid,
  open(path: string): NativeSymbols {
    try {
      koffi ??= createRequire(import.meta.url)("koffi") as { load(path: string): KoffiLibrary };
      // Never unloaded: a call in flight after `close()` is a use-after-unmap (ffi/library.ts).
      return bindSymbols(koffi.load(path));
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === "ERR_DLOPEN_DISABLED" || code === "ERR_ACCESS_DENIED") {
        throw new PermissionDenied(
          "native addons are not permitted (Node's permission model: add --allow-addons)",
          { cause: e },
        );
      }
      throw e;
    }
  },
  env(name: string): string | undefined {
    const v = process.env[name];
    return v ? v : undefined;
  },
  fromFileUrl(url: URL): string {
    return fileURLToPath(url);
  },
  unrefTimer(id: ReturnType<typeof setTimeout>): void {
    (id as unknown as { unref?: () => void }).unref?.();
  },
  refTimer(id: ReturnType<typeof setTimeout>): void {
    (id as unknown as { ref?: () => void }).ref?.();
  },
  unixSocketAllowed(): boolean {
    return process.platform !== "win32";
  },
  connectUnix(path: string): Promise<UnixConn> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new NodeUnixConn(socket));
      });
    });
  },
  onSignals(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void {
    // Signal listeners do not keep a Node process alive.
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    };
  },
  exit(code: number): void {
    process.exit(code);
  },
  serveHttp(listen: HttpListen, handler: HttpHandler): Promise<HttpServer> {
    const server = createServer((req, res) => {
      reply(handler({ method: req.method ?? "GET", url: req.url ?? "/" }), res);
    });
    // Neither the listener nor its connections (an open event stream) keep the process alive.
    server.on("connection", (socket) => socket.unref());
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen.port, listen.hostname, () => {
        server.off("error", reject);
        server.unref();
        resolve({
          port: (server.address() as AddressInfo).port,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              server.closeAllConnections();
            }),
        });
      });
    });
  },
};

/** Writes a {@linkcode HttpResponse} to a `node:http` response. */
function reply(r: HttpResponse, res: ServerResponse): void {
  if (!("open" in r)) {
    res.writeHead(r.status, r.headers);
    res.end(r.body);
    return;
  }
  res.writeHead(r.status, r.headers);
  res.flushHeaders();
  let ended = false;
  let full = false; // the last write filled the socket's buffer: wait for "drain"
  const finish = (): void => {
    if (ended) return;
    ended = true;
    r.closed();
  };
  res.on("drain", () => (full = false));
  res.on("close", finish);
  r.open({
    write(chunk: string): boolean {
      if (ended || full) return false;
      full = !res.write(chunk);
      return true;
    },
    end(): void {
      if (ended) return;
      res.end();
      finish();
    },
  });
}
