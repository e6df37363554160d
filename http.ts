/**
 * The runtime-neutral HTTP port of the monitoring page: what the monitor asks
 * of the runtime's own HTTP server (`Deno.serve` under Deno, `node:http` under
 * Node; both behind the runtime backends in `ffi/`). A handler sees a request
 * as its method and URL and answers with a whole body, or with an event
 * stream it writes to (Server-Sent Events). Types only.
 *
 * @example
 * ```ts
 * import type { HttpHandler } from "./http.ts";
 * const hello: HttpHandler = (req) => ({
 *   status: 200,
 *   headers: { "content-type": "text/plain" },
 *   body: `${req.method} ${req.url}`,
 * });
 * ```
 *
 * @module
 */

/**
 * A request as the handler sees it.
 *
 * @example
 * ```ts
 * import type { HttpRequest } from "./http.ts";
 * const r: HttpRequest = { method: "GET", url: "/?token=abc" };
 * ```
 */
export interface HttpRequest {
  /** `GET`, `HEAD`, `POST`, … */
  readonly method: string;
  /** The request target as sent: path and query (`/events?token=…`). */
  readonly url: string;
}

/**
 * A response with its whole body.
 *
 * @example
 * ```ts
 * import type { HttpBody } from "./http.ts";
 * const r: HttpBody = { status: 404, headers: {}, body: "not found" };
 * ```
 */
export interface HttpBody {
  /** Status code. */
  readonly status: number;
  /** Response headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body (UTF-8). */
  readonly body: string;
}

/**
 * The writing end of an open event stream.
 *
 * @example
 * ```ts
 * import type { EventChannel } from "./http.ts";
 * const hello = (ch: EventChannel): boolean => ch.write("data: hello\n\n");
 * ```
 */
export interface EventChannel {
  /**
   * Queues `chunk` (UTF-8) for the peer. Returns false, and writes nothing,
   * when the peer has not taken what was written before (the caller skips
   * this update and sends a newer one later), or when the stream has ended.
   */
  write(chunk: string): boolean;
  /** Ends the stream (idempotent). */
  end(): void;
}

/**
 * A response that stays open: an event stream written through an
 * {@linkcode EventChannel}.
 *
 * @example
 * ```ts
 * import type { HttpEventStream } from "./http.ts";
 * const r: HttpEventStream = {
 *   status: 200,
 *   headers: { "content-type": "text/event-stream" },
 *   open: (ch) => void ch.write(": hello\n\n"),
 *   closed: () => {},
 * };
 * ```
 */
export interface HttpEventStream {
  /** Status code. */
  readonly status: number;
  /** Response headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** Called once the response has started, with its channel. */
  open(channel: EventChannel): void;
  /** Called once when the stream ends (the peer went away, or `end()`). */
  closed(): void;
}

/**
 * What a handler answers.
 *
 * @example
 * ```ts
 * import type { HttpResponse } from "./http.ts";
 * const isStream = (r: HttpResponse): boolean => "open" in r;
 * ```
 */
export type HttpResponse = HttpBody | HttpEventStream;

/**
 * Handles one request (synchronously; it must not throw).
 *
 * @example
 * ```ts
 * import type { HttpHandler } from "./http.ts";
 * const h: HttpHandler = () => ({ status: 204, headers: {}, body: "" });
 * ```
 */
export type HttpHandler = (req: HttpRequest) => HttpResponse;

/**
 * Where to listen.
 *
 * @example
 * ```ts
 * import type { HttpListen } from "./http.ts";
 * const l: HttpListen = { hostname: "127.0.0.1", port: 0 };
 * ```
 */
export interface HttpListen {
  /** Address to bind. */
  readonly hostname: string;
  /** Port (0: any free port). */
  readonly port: number;
}

/**
 * A listening server. It never keeps the process alive by itself (nor do its
 * open event streams).
 *
 * @example
 * ```ts
 * import type { HttpServer } from "./http.ts";
 * const stop = (s: HttpServer): Promise<void> => s.close();
 * ```
 */
export interface HttpServer {
  /** The port it listens on (the one chosen when 0 was asked). */
  readonly port: number;
  /** Stops listening and closes every connection; resolves once the port is free. */
  close(): Promise<void>;
}

/**
 * The runtime's HTTP server, as the monitor uses it.
 *
 * @example
 * ```ts
 * import type { HttpServe } from "./http.ts";
 * const serveHello = (serve: HttpServe) =>
 *   serve({ hostname: "127.0.0.1", port: 0 }, () => ({ status: 200, headers: {}, body: "hi" }));
 * ```
 */
export type HttpServe = (listen: HttpListen, handler: HttpHandler) => Promise<HttpServer>;
