/**
 * What hftlive needs from the JavaScript runtime, behind one small
 * interface, so that nothing outside `ffi/` names `Deno` or a Node module:
 * opening the native library over the symbol table, the environment,
 * timers that do not keep the process alive, the Unix socket of the
 * stream-mode doorbell, and the HTTP server of the monitoring page. `ffi/deno.ts` implements it over `Deno.*`,
 * `ffi/node.ts` over koffi and `node:*`.
 *
 * @module
 */

import type { HttpServe } from "../http.ts";
import type { NativeSymbols } from "./symbols.ts";

/** The part of a connected Unix socket the doorbell uses. */
export interface UnixConn {
  /** Reads into `p`: the number of bytes read, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Closes the socket (idempotent). */
  close(): void;
  /** Lets a pending read keep the process alive (the default). */
  ref(): void;
  /** Keeps a pending read from holding the process open. */
  unref(): void;
}

/** A JavaScript runtime as hftlive uses it. */
export interface Runtime {
  /** Runtime name, for messages. */
  readonly name: "deno" | "node";
  /** Operating system: "linux", "darwin", "windows", … */
  readonly os: string;
  /** CPU architecture in Node's naming: "x64", "arm64", … (picks the platform package). */
  readonly arch: string;
  /** This process's id. */
  readonly pid: number;
  /**
   * Opens the native library at `path` over the symbol table. Throws a
   * {@linkcode PermissionDenied} when the runtime does not allow FFI, any other
   * error when the file cannot be loaded. The library is never closed.
   */
  open(path: string): NativeSymbols;
  /** An environment variable, or undefined (also when reading it is not permitted). */
  env(name: string): string | undefined;
  /** A file path from a `file:` URL. */
  fromFileUrl(url: URL): string;
  /** Keeps a timer from holding the process open. */
  unrefTimer(id: ReturnType<typeof setTimeout>): void;
  /** Lets a timer hold the process open again. */
  refTimer(id: ReturnType<typeof setTimeout>): void;
  /**
   * Whether this process may use a Unix socket at `path` (connect, read,
   * write); false when the runtime has no Unix sockets.
   */
  unixSocketAllowed(path: string): boolean;
  /** Connects to the Unix stream socket at `path`. */
  connectUnix(path: string): Promise<UnixConn>;
  /**
   * Listens to SIGINT and SIGTERM (the listeners do not keep the process
   * alive); returns a function that stops listening.
   */
  onSignals(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void;
  /** Exits the process with `code`. */
  exit(code: number): void;
  /**
   * Serves HTTP with the runtime's own server (the monitoring page); neither
   * the server nor its open event streams keep the process alive.
   */
  serveHttp: HttpServe;
}

/** The runtime refused an operation for lack of a permission (e.g. `--allow-ffi`). */
export class PermissionDenied extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PermissionDenied";
  }
}
