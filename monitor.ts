/**
 * The live monitoring page of a client: `client.monitor()` serves one small
 * read-only page (see `monitor_page.ts`) with the runtime's own HTTP server
 * and pushes updates to it by Server-Sent Events.
 *
 * Costs nothing per event beyond one check: the monitor keeps the last trades
 * and order updates in two small rings, filled by a tap of the client's event
 * router (a store per trade, nothing when no monitor runs); everything else
 * (health, best bid/offer, the depth ladder, orders, positions, latency per
 * second) is read on the monitor's own timer (every `intervalMs`, unref'd),
 * serialized once per tick whatever the number of viewers, and conflated: a
 * viewer that has not taken the previous update skips this one.
 *
 * Safe by default: bound to 127.0.0.1 (another address needs `allowRemote`),
 * read-only (GET and HEAD only), every request needs the access token
 * (`?token=`, random unless given), refused requests are counted, and the page
 * shows no connector configuration or keys.
 *
 * @example
 * ```ts ignore
 * import { LiveClient } from "./mod.ts";
 * await using client = await LiveClient.connect({ instruments, ready: true });
 * await using monitor = await client.monitor();
 * console.log(`monitor: ${monitor.url}`);
 * ```
 *
 * @module
 */

import { ClosedError, ValidationError } from "./errors.ts";
import type { HealthRecorder } from "./health.ts";
import type {
  EventChannel,
  HttpBody,
  HttpRequest,
  HttpResponse,
  HttpServe,
  HttpServer,
} from "./http.ts";
import {
  type BookUpdate,
  type ConnectionHealth,
  type DepthSnapshot,
  type Order,
  orderStatusName,
  type OrderUpdate,
  type Position,
  type Trade,
} from "./models.ts";
import { PAGE_SCRIPT, PAGE_STYLE, pageHtml } from "./monitor_page.ts";
import type { InstrumentSpec } from "./orders.ts";
import type { EventRouter, RouterTap } from "./router.ts";

/**
 * Options of `LiveClient.monitor`.
 *
 * @example
 * ```ts
 * import type { MonitorOptions } from "./monitor.ts";
 * const o: MonitorOptions = { port: 8080, intervalMs: 500 };
 * ```
 */
export interface MonitorOptions {
  /** TCP port (default 0: a free port the system picks; see {@linkcode Monitor.url}). */
  readonly port?: number;
  /**
   * Address to bind (default `"127.0.0.1"`). Anything but a loopback address
   * (`127.x.x.x`, `::1`, `localhost`) throws {@linkcode ValidationError}
   * unless `allowRemote` is true.
   */
  readonly hostname?: string;
  /** Allow a non-loopback `hostname` (the page is then reachable from the network). */
  readonly allowRemote?: boolean;
  /**
   * The access token every request must carry as `?token=` (at least 16
   * characters of `A-Z a-z 0-9 _ -`). Default: 128 random bits
   * (`crypto.getRandomValues`), new for each monitor.
   */
  readonly token?: string;
  /** Milliseconds between updates (default 250; 50..60000). */
  readonly intervalMs?: number;
  /** Depth levels per side on the ladder (default 10; 1..50). */
  readonly levels?: number;
  /** Pages open at once (event streams; default 8, 1..100); more get 503 and are counted. */
  readonly maxViewers?: number;
}

/**
 * Counters of a {@linkcode Monitor}.
 *
 * @example
 * ```ts
 * import type { MonitorStats } from "./monitor.ts";
 * const costPerSecond = (s: MonitorStats, seconds: number): number => s.busyMs / seconds;
 * ```
 */
export interface MonitorStats {
  /** Requests refused: wrong or missing token (401), not GET/HEAD (405), too many viewers (503). */
  readonly refused: number;
  /** Event streams open now. */
  readonly viewers: number;
  /** Updates built (ticks with a viewer). */
  readonly updates: number;
  /** Updates a slow viewer skipped (conflated: it gets the next one). */
  readonly skipped: number;
  /** Bytes of updates written, over every viewer. */
  readonly bytesSent: number;
  /** Milliseconds the monitor's timer spent in JavaScript (reading state, serializing, writing). */
  readonly busyMs: number;
  /** Size of the last update (bytes of JSON). */
  readonly lastUpdateBytes: number;
  /** Size of the page (bytes). */
  readonly pageBytes: number;
}

/** What the monitor reads from its client (a `LiveClient` is one). */
export interface MonitorSource {
  /** The instruments, by asset. */
  readonly instruments: readonly InstrumentSpec[];
  /** The health snapshot. */
  readonly health: ConnectionHealth;
  /** True once the client's close started. */
  readonly closed: boolean;
  /** The core's book. */
  depth(asset: number, levels: number): DepthSnapshot;
  /** The last best bid/offer. */
  bbo(asset: number): BookUpdate | undefined;
  /** Active orders. */
  orders(): Order[];
  /** A position. */
  position(asset: number): Position;
}

/** What the monitor needs of the runtime. */
export interface MonitorRuntime {
  /** The runtime's HTTP server. */
  readonly serveHttp: HttpServe;
  /** Keeps a timer from holding the process open. */
  unrefTimer(t: ReturnType<typeof setInterval>): void;
}

/** How long one event stream stays open (ms) before the page reconnects (see `#rotate`). */
const STREAM_MS = 5000;
/** How soon the page reconnects (ms). */
const RECONNECT_MS = 200;
const RING = 32;
const SHOWN = 20;
const HISTORY = 120;
const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/** Monitors per router (per client): the tap fans out to them; the client's close closes them. */
const byRouter = new WeakMap<EventRouter, Set<Monitor>>();

function retap(router: EventRouter): void {
  const set = byRouter.get(router);
  const list = set === undefined ? [] : [...set].map((m) => tapOf(m));
  router.tap = list.length === 0 ? undefined : list.length === 1 ? list[0] : {
    trade: (ev) => {
      for (const t of list) t.trade(ev);
    },
    order: (ev) => {
      for (const t of list) t.order(ev);
    },
  };
}

let create!: (parts: Parts, port: number) => Promise<Monitor>;
let tapOf!: (m: Monitor) => RouterTap;

interface Parts {
  source: MonitorSource;
  router: EventRouter;
  health: HealthRecorder;
  runtime: MonitorRuntime;
  hostname: string;
  token: string;
  intervalMs: number;
  levels: number;
  maxViewers: number;
  csp: string;
}

function checkInt(v: unknown, name: string, lo: number, hi: number): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi)) {
    throw new ValidationError(
      `Cannot start the monitor: ${name} ${v} is not an integer in ${lo}..${hi}`,
    );
  }
}

function randomToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Compares a given token with the right one in time independent of where they differ. */
function sameToken(given: string, token: string): boolean {
  let d = given.length ^ token.length;
  for (let i = 0; i < token.length; i++) d |= token.charCodeAt(i) ^ (given.charCodeAt(i) | 0);
  return d === 0;
}

async function sha256(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...d));
}

/** Decimal places of a tick or lot size (0.1 → 1, 0.001 → 3). */
function decimals(step: number): number {
  const [m, e] = step.toExponential().split("e");
  return Math.min(12, Math.max(0, (m.split(".")[1]?.length ?? 0) - Number(e)));
}

/** p50 and p99 (nearest rank) of samples, null when there are none. */
function p50p99(s: Float64Array): [number | null, number | null] {
  if (s.length === 0) return [null, null];
  s.sort();
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return [at(0.5), at(0.99)];
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * Starts a monitor of `source` (called by `LiveClient.monitor`): validates the
 * options (throws {@linkcode ValidationError}), listens, starts the timer.
 */
export async function startMonitor(
  source: MonitorSource,
  router: EventRouter,
  health: HealthRecorder,
  runtime: MonitorRuntime,
  options: MonitorOptions = {},
): Promise<Monitor> {
  if (source.closed) throw new ClosedError("Cannot start the monitor: the client is closed");
  const o = options ?? {};
  const hostname = o.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw new ValidationError(
      `Cannot start the monitor: hostname ${String(hostname)} is not a name`,
    );
  }
  if (!LOOPBACK.test(hostname) && o.allowRemote !== true) {
    throw new ValidationError(
      `Cannot start the monitor on ${hostname}: not a loopback address; pass allowRemote: true ` +
        "to serve the page to the network",
    );
  }
  checkInt(o.port, "port", 0, 65535);
  checkInt(o.intervalMs, "intervalMs", 50, 60_000);
  checkInt(o.levels, "levels", 1, 50);
  checkInt(o.maxViewers, "maxViewers", 1, 100);
  if (o.token !== undefined && (typeof o.token !== "string" || !TOKEN.test(o.token))) {
    throw new ValidationError(
      "Cannot start the monitor: token must be 16 to 256 characters of A-Z a-z 0-9 _ -",
    );
  }
  const [script, style] = await Promise.all([sha256(PAGE_SCRIPT), sha256(PAGE_STYLE)]);
  const csp = `default-src 'none'; script-src 'sha256-${script}'; style-src 'sha256-${style}'; ` +
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return await create({
    source,
    router,
    health,
    runtime,
    hostname,
    token: o.token ?? randomToken(),
    intervalMs: o.intervalMs ?? 250,
    levels: o.levels ?? 10,
    maxViewers: o.maxViewers ?? 8,
    csp,
  }, o.port ?? 0);
}

/** Closes every monitor of a client (its `close()` does, first thing). */
export async function closeMonitors(router: EventRouter): Promise<void> {
  const set = byRouter.get(router);
  if (set !== undefined) await Promise.all([...set].map((m) => m.close()));
}

/**
 * A running monitoring page of one client (from `LiveClient.monitor`). The
 * page shows connection and per-instrument health, best bid/offer and a depth
 * ladder per instrument, the last trades, active orders with their state and
 * age, the last order updates, positions, and feed and order latency per
 * second (p50/p99). It is closed by {@linkcode Monitor.close}, or with its
 * client; it never keeps the process alive.
 *
 * @example
 * ```ts ignore
 * await using monitor = await client.monitor({ port: 8080 });
 * console.log(`open ${monitor.url}`); // http://127.0.0.1:8080/?token=…
 * ```
 */
export class Monitor {
  static {
    create = async (parts, port) => {
      const m = new Monitor(parts);
      await m.#listen(port);
      return m;
    };
    tapOf = (m) => m.#tap;
  }

  readonly #p: Parts;
  readonly #page: HttpBody;
  readonly #trades: (Trade | undefined)[] = new Array(RING);
  #tradeCount = 0;
  readonly #orderUpdates: (OrderUpdate | undefined)[] = new Array(RING);
  #orderCount = 0;
  readonly #tap: RouterTap = {
    trade: (ev) => {
      this.#trades[this.#tradeCount++ % RING] = ev;
    },
    order: (ev) => {
      this.#orderUpdates[this.#orderCount++ % RING] = ev;
    },
  };
  /** Open event streams, with when each was opened (ms). */
  readonly #viewers = new Map<EventChannel, number>();
  readonly #firstSeen = new Map<number, number>();
  /** Latency per second: [second (ms), feed p50, feed p99, order p50, order p99, feed n, order n]. */
  readonly #latency: (number | null)[][] = [];
  #feedMark: number;
  #orderMark: number;
  #second = 0;
  #healthView: unknown;
  #server: HttpServer | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;
  #last = "";
  #lastAt = 0;
  #seq = 0;
  #refused = 0;
  #skipped = 0;
  #bytes = 0;
  #busy = 0;
  #port = 0;

  private constructor(parts: Parts) {
    this.#p = parts;
    this.#feedMark = parts.health.feedWindow.added;
    this.#orderMark = parts.health.orderWindow.added;
    this.#page = {
      status: 200,
      headers: { ...this.#headers(), "content-type": "text/html; charset=utf-8" },
      body: pageHtml(),
    };
  }

  /** Listens, taps the router, starts the timer. */
  async #listen(port: number): Promise<void> {
    const p = this.#p;
    this.#server = await p.runtime.serveHttp(
      { hostname: p.hostname, port },
      (req) => this.#handle(req),
    );
    this.#port = this.#server.port;
    let set = byRouter.get(p.router);
    if (set === undefined) byRouter.set(p.router, set = new Set());
    set.add(this);
    retap(p.router);
    this.#timer = setInterval(() => this.#tick(), p.intervalMs);
    p.runtime.unrefTimer(this.#timer);
  }

  /** The page's address, token included: `http://127.0.0.1:<port>/?token=<token>`. */
  get url(): string {
    const h = this.#p.hostname.includes(":") && !this.#p.hostname.startsWith("[")
      ? `[${this.#p.hostname}]`
      : this.#p.hostname;
    return `http://${h}:${this.#port}/?token=${this.#p.token}`;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /** The address it is bound to. */
  get hostname(): string {
    return this.#p.hostname;
  }

  /** The access token (also in {@linkcode Monitor.url}). */
  get token(): string {
    return this.#p.token;
  }

  /** Requests refused so far (see {@linkcode MonitorStats.refused}). */
  get refused(): number {
    return this.#refused;
  }

  /** Counters: refused requests, viewers, updates, bytes, time spent. */
  get stats(): MonitorStats {
    return {
      refused: this.#refused,
      viewers: this.#viewers.size,
      updates: this.#seq,
      skipped: this.#skipped,
      bytesSent: this.#bytes,
      busyMs: this.#busy,
      lastUpdateBytes: this.#last.length,
      pageBytes: new TextEncoder().encode(this.#page.body).length,
    };
  }

  /** True once {@linkcode Monitor.close} was called (or the client closed). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stops the timer, ends every page's event stream (the page shows "client
   * closed"), and stops the server; resolves once the port is free. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Closes the monitor (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    const set = byRouter.get(this.#p.router);
    set?.delete(this);
    retap(this.#p.router);
    for (const ch of [...this.#viewers.keys()]) {
      ch.write("event: closed\ndata: {}\n\n");
      ch.end();
    }
    this.#viewers.clear();
    await this.#server?.close();
  }

  #headers(): Record<string, string> {
    return {
      "cache-control": "no-store, no-transform",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      "content-security-policy": this.#p.csp,
    };
  }

  #text(status: number, body: string, extra: Record<string, string> = {}): HttpBody {
    return {
      status,
      headers: { ...this.#headers(), "content-type": "text/plain; charset=utf-8", ...extra },
      body,
    };
  }

  #handle(req: HttpRequest): HttpResponse {
    let url: URL;
    try {
      url = new URL(req.url, "http://monitor.invalid");
    } catch {
      this.#refused++;
      return this.#text(400, "bad request\n");
    }
    const token = url.searchParams.get("token");
    if (token === null || !sameToken(token, this.#p.token)) {
      this.#refused++;
      return this.#text(
        401,
        "this page needs its access token: open the URL the monitor printed\n",
      );
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      this.#refused++;
      return this.#text(405, "read-only\n", { allow: "GET, HEAD" });
    }
    if (url.pathname === "/") return this.#page;
    if (url.pathname !== "/events") return this.#text(404, "not found\n");
    if (this.#closing !== undefined) return this.#text(503, "closed\n");
    if (this.#viewers.size >= this.#p.maxViewers) {
      this.#refused++;
      return this.#text(503, "too many viewers\n");
    }
    let channel: EventChannel | undefined;
    return {
      status: 200,
      headers: { ...this.#headers(), "content-type": "text/event-stream; charset=utf-8" },
      open: (ch) => {
        channel = ch;
        this.#viewers.set(ch, Date.now());
        ch.write(`retry: ${RECONNECT_MS}\n\n`);
        try {
          // The last update if it is recent, else a new one (built for every viewer).
          if (Date.now() - this.#lastAt < this.#p.intervalMs) this.#send(ch, this.#last);
          else this.#update();
        } catch { /* the client is closing: its close ends this stream */ }
      },
      closed: () => {
        if (channel !== undefined) this.#viewers.delete(channel);
      },
    };
  }

  #send(ch: EventChannel, json: string): void {
    const chunk = `data: ${json}\n\n`;
    if (ch.write(chunk)) this.#bytes += chunk.length;
    else this.#skipped++;
  }

  #tick(): void {
    const t0 = performance.now();
    try {
      if (this.#p.source.closed) return;
      const now = Date.now();
      const second = Math.floor(now / 1000) * 1000;
      if (second !== this.#second) this.#perSecond(second);
      if (this.#viewers.size > 0) {
        this.#rotate(now);
        this.#update(now);
      }
    } catch {
      // The client is closing under the timer (reads throw ClosedError): its close closes us.
    } finally {
      this.#busy += performance.now() - t0;
    }
  }

  /**
   * Ends the event streams open for {@linkcode STREAM_MS}: the page reconnects
   * by itself (after `retry`, {@linkcode RECONNECT_MS}). Deno's server keeps the
   * process alive while a response is in flight, whatever `unref()`; ending each
   * stream after a few seconds bounds how long an open page keeps a process
   * alive that has nothing else to do (the reconnect finds it gone).
   */
  #rotate(now: number): void {
    for (const [ch, since] of this.#viewers) {
      if (now - since < STREAM_MS) continue;
      this.#viewers.delete(ch);
      ch.end();
    }
  }

  /** Once a second: health (sorting its windows costs more) and the latency of the second. */
  #perSecond(second: number): void {
    const { health, source } = this.#p;
    const feed = health.feedWindow;
    const order = health.orderWindow;
    if (this.#second !== 0) {
      const f = feed.since(this.#feedMark);
      const o = order.since(this.#orderMark);
      const [f50, f99] = p50p99(f);
      const [o50, o99] = p50p99(o);
      this.#latency.push([this.#second, f50, f99, o50, o99, f.length, o.length]);
      if (this.#latency.length > HISTORY) this.#latency.shift();
    }
    this.#feedMark = feed.added;
    this.#orderMark = order.added;
    this.#second = second;
    // Read when an update needs it (nobody watching: no health read at all).
    this.#healthView = this.#viewers.size > 0 ? this.#healthOf(source.health) : undefined;
  }

  #healthOf(h: ConnectionHealth): unknown {
    const now = Date.now();
    let streamDrops = 0;
    for (const k in h.streamDrops) streamDrops += h.streamDrops[k];
    let errors = 0;
    for (const k in h.errors) errors += h.errors[k];
    return {
      connected: h.connected,
      connectors: Object.entries(h.connectors).map(([name, up]) => ({ name, up })),
      instruments: h.instruments.map((i) => ({
        asset: i.asset,
        symbol: i.symbol,
        connector: i.connector,
        registered: i.registered,
        waiting: i.waitingForConnector,
        stale: i.stale,
        lastMarketAgoMs: i.lastMarketAt > 0 ? Math.max(0, now - i.lastMarketAt / 1e6) : null,
      })),
      counters: {
        eventsPerSecond: h.eventsPerSecond,
        eventsTotal: h.eventsTotal,
        reconnects: h.reconnects,
        engineDrops: h.engineDrops,
        streamDrops,
        unknownRecords: h.unknownRecords,
        inexactFills: h.inexactFills,
        callbackErrors: h.callbackErrors,
        illegalTransitions: h.illegalTransitions,
        rateLimited: h.rateLimited,
        queued: h.requests.queued,
        inFlight: h.requests.inFlight,
        unanswered: h.requests.unanswered,
        errors,
      },
      feed: [num(h.feedLatency.p50), num(h.feedLatency.p99)],
      order: [num(h.orderLatency.p50), num(h.orderLatency.p99)],
    };
  }

  /** Builds one update and writes it to every viewer (conflated per viewer). */
  #update(now = Date.now()): void {
    const { source, levels } = this.#p;
    if (source.closed) return;
    this.#healthView ??= this.#healthOf(source.health);
    const instruments = source.instruments.map((spec, a) => {
      const b = source.bbo(a);
      const d = source.depth(a, levels);
      return {
        asset: a,
        symbol: spec.symbol,
        connector: spec.connector,
        pd: decimals(spec.tickSize),
        qd: decimals(spec.lotSize),
        // From the same read of the core's book as the ladder (the last bbo event the client
        // delivered can be a step behind it), else that event.
        bbo: d.bids.length > 0 && d.asks.length > 0
          ? [d.bids[0].price, d.bids[0].qty, d.asks[0].price, d.asks[0].qty]
          : b === undefined
          ? null
          : [num(b.bidPrice), num(b.bidQty), num(b.askPrice), num(b.askQty)],
        bids: d.bids.map((l) => [l.price, l.qty]),
        asks: d.asks.map((l) => [l.price, l.qty]),
        position: num(source.position(a).qty),
      };
    });
    const seen = new Map<number, number>();
    const orders = source.orders().map((o) => {
      const first = this.#firstSeen.get(o.orderId) ?? (o.requestTs > 0 ? o.requestTs / 1e6 : now);
      seen.set(o.orderId, first);
      return {
        id: o.orderId,
        a: o.asset,
        s: o.side,
        p: o.price,
        q: o.qty,
        leaves: o.leavesQty,
        status: orderStatusName(o.status),
        req: o.req === 0 ? "" : orderStatusName(o.req),
        ageMs: Math.max(0, now - first),
      };
    });
    this.#firstSeen.clear();
    for (const [k, v] of seen) this.#firstSeen.set(k, v);
    const json = JSON.stringify({
      seq: ++this.#seq,
      t: now,
      health: this.#healthView,
      instruments,
      trades: this.#recent(this.#trades, this.#tradeCount, (t) => ({
        t: t.exchTs / 1e6,
        a: t.asset,
        s: t.side,
        p: t.price,
        q: t.qty,
      })),
      orders,
      orderUpdates: this.#recent(this.#orderUpdates, this.#orderCount, (o) => ({
        t: o.recvTs / 1e6,
        id: o.orderId,
        a: o.asset,
        status: orderStatusName(o.status),
        leaves: o.leavesQty,
        execQty: o.execQty,
        execPrice: num(o.execPrice),
      })),
      latency: this.#latency,
    });
    this.#last = json;
    this.#lastAt = now;
    for (const ch of this.#viewers.keys()) this.#send(ch, json);
  }

  /** The newest `SHOWN` entries of a ring, newest first. */
  #recent<T, R>(ring: (T | undefined)[], count: number, f: (v: T) => R): R[] {
    const out: R[] = [];
    for (let i = count - 1; i >= 0 && i >= count - SHOWN; i--) out.push(f(ring[i % RING] as T));
    return out;
  }
}
