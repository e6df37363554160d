/**
 * `LiveClient`: connects to hftbacktest connectors through the native core,
 * delivers market data and order updates as streams, callbacks or a
 * synchronous poll, sends orders, and reports health.
 *
 * **Two modes, chosen at connect time.**
 * - `mode: "stream"` (default): one pending native wait per client, shared by
 *   every stream, then synchronous drains into one buffer the client owns.
 *   Streams (`trades`, `bookUpdates`, …), callbacks (`on`) and `wait` options
 *   work without blocking the event loop.
 * - `mode: "poll"`: the strategy owns the thread and calls {@linkcode
 *   LiveClient.poll} in a loop (lowest latency). `poll` blocks the thread it
 *   runs on for up to its timeout, so run such a strategy in a Worker (or a
 *   process whose only job is the strategy). Callbacks still fire from inside
 *   `poll`; streams are not available. With `inline: true` the engine itself
 *   runs inside `poll` (no engine thread at all).
 *
 * **Lifecycle.** `close()` is idempotent: it wakes the pending native wait,
 * awaits it, delivers what is left, ends every stream, rejects pending waits
 * with {@linkcode ClosedError} and closes the native client. Every call after
 * `close()` throws {@linkcode ClosedError}. The native library stays loaded
 * for the life of the process (unloading it while a call may be in flight
 * crashes the process). No timer keeps the process alive after `close()`.
 *
 * **Thread safety.** A client belongs to the thread (main or Worker) that
 * connected it; several clients may live in one process and each gets its
 * own engine thread and order ids.
 *
 * @example Streams against the embedded sim
 * ```ts ignore
 * import { LiveClient, Side, Sim } from "./mod.ts";
 *
 * await using sim = Sim.start({
 *   name: "paper",
 *   instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
 * });
 * await using client = await LiveClient.connect({
 *   instruments: [{ connector: "paper", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 *   ready: true,
 * });
 * for await (const trade of client.trades) {
 *   console.log(trade.price, trade.qty);
 *   break;
 * }
 * const order = await client.submitOrder(
 *   { side: Side.Buy, price: 49_000, qty: 0.001 },
 *   { wait: true },
 * );
 * console.log(order.status);
 * ```
 *
 * @module
 */

import {
  CancelAllError,
  ClosedError,
  ConnectionError,
  errorFromStatus,
  InvalidOrderStatusError,
  LiveError,
  NativeError,
  OrderNotFoundError,
  StreamOverflowError,
  TimeoutError,
  ValidationError,
} from "./errors.ts";
import { type DecodedEvent, decodeOrder, RecordDecoder } from "./ffi/codec.ts";
import { loadLibrary, type NativeLibrary } from "./ffi/library.ts";
import { RECORD_SIZE } from "./ffi/symbols.ts";
import { LatencyWindow, RateCounter } from "./health.ts";
import {
  type BookLevel,
  type BookUpdate,
  type ConnectionHealth,
  type ConnectorEvent,
  type DepthClear,
  type DepthSnapshot,
  type DepthUpdate,
  type ErrorEvent,
  ErrorKind,
  type Fill,
  type InstrumentEvent,
  type InstrumentHealth,
  InstrumentState,
  isTerminalStatus,
  type LiveEvent,
  type Order,
  type OrderRequest,
  OrderStatus,
  orderStatusName,
  type OrderUpdate,
  type Position,
  type PositionUpdate,
  Side,
  type Trade,
} from "./models.ts";
import {
  type InstrumentSpec,
  nextOrderId,
  OrderTracker,
  type RateLimit,
  TokenBucket,
  validateOrder,
} from "./orders.ts";

/**
 * How an instrument's book is kept: hftbacktest's `HashMapMarketDepth`, or
 * its `ROIVectorMarketDepth` over a price range of interest.
 *
 * @example
 * ```ts
 * import type { DepthKind } from "./client.ts";
 * const roi: DepthKind = { roi: [40_000, 60_000] };
 * ```
 */
export type DepthKind = "hashmap" | { readonly roi: readonly [number, number] };

/**
 * One instrument to trade: the connector it comes from and its grid.
 *
 * @example
 * ```ts
 * import type { InstrumentOptions } from "./client.ts";
 * const i: InstrumentOptions = { connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 };
 * ```
 */
export interface InstrumentOptions extends InstrumentSpec {
  /** Book kind for this instrument (default: the client's `depth`, else "hashmap"). */
  readonly depth?: DepthKind;
}

/**
 * Options of {@linkcode LiveClient.connect}.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "./client.ts";
 * const o: ConnectOptions = {
 *   instruments: [{ connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 *   rateLimit: { rate: 10, burst: 20 },
 * };
 * ```
 */
export interface ConnectOptions {
  /** The instruments; their index is the `asset` number used everywhere. */
  readonly instruments: readonly InstrumentOptions[];
  /** Default book kind (default "hashmap"). */
  readonly depth?: DepthKind;
  /** "stream" (default) or "poll" (synchronous hot loop; see the module doc). */
  readonly mode?: "stream" | "poll";
  /** Poll mode only: run the engine inside `poll()` instead of on its own thread. */
  readonly inline?: boolean;
  /** Path of the native library (else `HFTLIVE_LIB`, else the cargo build output). */
  readonly libPath?: string;
  /** Wait until every instrument is registered (true: up to 10 s; or a number of ms). */
  readonly ready?: boolean | number;
  /** Engine → JavaScript ring capacity in records (power of two, default 65536). */
  readonly ringCapacity?: number;
  /** Engine idle strategy (default "adaptive"). */
  readonly engineWait?: "spin" | "yield" | "sleep" | "node_wait" | "adaptive";
  /** Poll mode: how long `poll()` spins before parking, in µs (default 50). */
  readonly pollSpinUs?: number;
  /** Re-send `RegisterInstrument` this often until answered (ms). */
  readonly registerIntervalMs?: number;
  /** Connector liveness check period (ms, default 100). */
  readonly livenessIntervalMs?: number;
  /** Bot id on the connector's IPC (default random). */
  readonly botId?: number;
  /** Default capacity of market-data streams (events per consumer, default 10000). */
  readonly streamCapacity?: number;
  /**
   * Default limit of unread events a stream that may not drop (orders, fills,
   * positions, errors, the non-market part of `events`) holds per consumer
   * before it overflows with {@linkcode StreamOverflowError} (default 100000).
   */
  readonly streamMaxBuffered?: number;
  /** Finished orders kept for `order(id)` and the duplicate-id check (default 10000). */
  readonly keepFinishedOrders?: number;
  /** An instrument is stale after this long without market data (ms, default 5000). */
  readonly staleAfterMs?: number;
  /** Optional token bucket on submit and cancel. */
  readonly rateLimit?: RateLimit;
  /** Interval of the `snapshots` stream (ms, default 1000). */
  readonly snapshotIntervalMs?: number;
  /** Levels per side in `snapshots` (default 10). */
  readonly snapshotLevels?: number;
  /** Default timeout of `wait` options (ms, default 10000). */
  readonly waitTimeoutMs?: number;
  /** Records drained per native call (default 4096). */
  readonly drainRecords?: number;
  /**
   * How a stream-mode client learns that records are ready. `"socket"`
   * (default): the engine writes a byte to a Unix socket that the runtime's own
   * event loop watches — the fastest wake-up (~40 µs better at the median
   * than `"wait"` here); Deno needs `--allow-net` (for the Unix socket) and
   * read and write permission on `/tmp` (the socket file is removed at once);
   * without them the client falls back to `"wait"`. `"wait"`: one pending `nonblocking` native wait, returned
   * through the runtime's blocking thread pool. `client.wake` says which is in use.
   */
  readonly wake?: "socket" | "wait";
}

/**
 * Options of a stream: only one instrument, and the consumer's buffer size
 * (market-data streams only; order, fill, position and error streams never drop).
 *
 * @example
 * ```ts
 * import type { StreamOptions } from "./client.ts";
 * const o: StreamOptions = { asset: 0, capacity: 100 };
 * ```
 */
export interface StreamOptions {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset?: number;
  /** Buffered events per consumer before dropping (market data). */
  readonly capacity?: number;
  /**
   * Unread events that may not be dropped this consumer holds before the stream
   * overflows with {@linkcode StreamOverflowError} (default the client's `streamMaxBuffered`).
   */
  readonly maxBuffered?: number;
}

/**
 * Options of requests that can wait for the connector's answer.
 *
 * @example
 * ```ts
 * import type { WaitOptions } from "./client.ts";
 * const o: WaitOptions = { wait: true, timeoutMs: 2000 };
 * ```
 */
export interface WaitOptions {
  /** Resolve on the first response instead of returning at once. */
  readonly wait?: boolean;
  /** Timeout of the wait (ms; default the client's `waitTimeoutMs`). */
  readonly timeoutMs?: number;
  /** Aborts the wait (not the request). */
  readonly signal?: AbortSignal;
}

/**
 * Names of the client's streams.
 *
 * @example
 * ```ts
 * import type { StreamKind } from "./client.ts";
 * const k: StreamKind = "trades";
 * ```
 */
export type StreamKind =
  | "trades"
  | "bookUpdates"
  | "depthUpdates"
  | "snapshots"
  | "orderUpdates"
  | "fills"
  | "positions"
  | "errors"
  | "events";

/**
 * The element type of each stream.
 *
 * @example
 * ```ts
 * import type { StreamItem } from "./client.ts";
 * type T = StreamItem["trades"]; // Trade
 * ```
 */
export interface StreamItem {
  /** Trades. */
  trades: Trade;
  /** Best bid/offer changes. */
  bookUpdates: BookUpdate;
  /** Depth level changes and clears. */
  depthUpdates: DepthUpdate | DepthClear;
  /** Periodic book snapshots. */
  snapshots: DepthSnapshot;
  /** Order updates. */
  orderUpdates: OrderUpdate;
  /** Fills. */
  fills: Fill;
  /** Position changes. */
  positions: PositionUpdate;
  /** Errors. */
  errors: ErrorEvent;
  /** Every event. */
  events: LiveEvent;
}

/**
 * Callback events of {@linkcode LiveClient.on} and their payloads.
 *
 * @example
 * ```ts
 * import type { ClientEvents } from "./client.ts";
 * type Disconnect = ClientEvents["disconnect"]; // ConnectorEvent
 * ```
 */
export interface ClientEvents {
  /** A trade. */
  trade: Trade;
  /** A best bid/offer change. */
  bbo: BookUpdate;
  /** A depth change or clear. */
  depth: DepthUpdate | DepthClear;
  /** An order update. */
  order: OrderUpdate;
  /** A fill. */
  fill: Fill;
  /** A position change. */
  position: PositionUpdate;
  /** A connector, engine or client error (never swallowed). */
  error: ErrorEvent;
  /** A connector came up for the first time. */
  connect: ConnectorEvent;
  /** A connector went away (within ~liveness interval of it going). */
  disconnect: ConnectorEvent;
  /** A connector came back, its instruments are registered again, books rebuilt, orders reconciled. */
  reconnect: ConnectorEvent;
  /** An instrument got no market data for `staleAfterMs` (connector may still be alive). */
  stale: InstrumentHealth;
  /** A stale instrument got market data again. */
  fresh: InstrumentHealth;
  /** Registration progress of an instrument. */
  instrument: InstrumentEvent;
  /** Every event. */
  event: LiveEvent;
}

type Handler<T> = (value: T) => void;

const MARKET_KINDS = new Set(["trade", "depth", "depthClear", "bbo"]);
const isMarket = (e: { type: string }): boolean => MARKET_KINDS.has(e.type);
const always = (): boolean => true;

/**
 * One consumer's queue behind a ReadableStream. Droppable events beyond
 * `capacity` drop the oldest droppable one; conflating queues keep only the
 * newest event per asset. Events that may not be dropped are buffered up to
 * `maxBuffered`; one more overflows the stream: it refuses (and counts) every
 * later event, delivers what it holds, then errors with
 * {@linkcode StreamOverflowError}. Pull-driven: nothing is read until the
 * consumer reads.
 */
class Subscriber<T extends { readonly type: string }> {
  /** The consumer's stream. */
  readonly stream: ReadableStream<T>;
  readonly #kind: StreamKind;
  readonly #asset: number | undefined;
  readonly #capacity: number;
  readonly #maxBuffered: number;
  readonly #droppable: ((e: T) => boolean) | undefined;
  readonly #conflate: Map<number, T> | undefined;
  readonly #onDrop: (n: number) => void;
  readonly #onOverflow: (e: StreamOverflowError) => void;
  readonly #onWait: () => void;
  readonly #onRemove: (s: Subscriber<T>) => void;
  #items: (T | undefined)[] = [];
  #marks: number[] = [];
  #markHead = 0;
  #base = 0;
  #strict = 0;
  /** A pending read was resolved since the last flush: the consumer takes all it holds next. */
  #offered = false;
  #resolve: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  dropped = 0;

  constructor(
    opts: {
      kind: StreamKind;
      asset?: number;
      capacity: number;
      maxBuffered: number;
      droppable?: (e: T) => boolean;
      conflate?: boolean;
      onDrop: (n: number) => void;
      onOverflow: (e: StreamOverflowError) => void;
      onWait: () => void;
      onRemove: (s: Subscriber<T>) => void;
    },
  ) {
    this.#kind = opts.kind;
    this.#asset = opts.asset;
    this.#capacity = Math.max(1, opts.capacity);
    this.#maxBuffered = Math.max(1, opts.maxBuffered);
    this.#droppable = opts.droppable;
    this.#conflate = opts.conflate ? new Map() : undefined;
    this.#onDrop = opts.onDrop;
    this.#onOverflow = opts.onOverflow;
    this.#onWait = opts.onWait;
    this.#onRemove = opts.onRemove;
    this.stream = new ReadableStream<T>({
      pull: (c) => this.#pull(c),
      cancel: () => this.#cancel(),
    }, { highWaterMark: 0 });
  }

  /** A read is pending (the consumer waits for the next event). */
  get waiting(): boolean {
    return this.#resolve !== undefined;
  }

  push(ev: T): void {
    if (this.#asset !== undefined && (ev as { asset?: number }).asset !== this.#asset) return;
    if (this.#ended) {
      if (this.#error instanceof StreamOverflowError) {
        // An overflowed stream refuses the rest, counted.
        this.dropped++;
        this.#onDrop(1);
      }
      return;
    }
    const conflate = this.#conflate;
    if (conflate !== undefined) {
      const a = (ev as { asset?: number }).asset ?? -1;
      if (conflate.has(a)) {
        this.dropped++;
        this.#onDrop(1);
      }
      conflate.set(a, ev);
    } else {
      const items = this.#items;
      const abs = this.#base + items.length;
      if (this.#droppable !== undefined && this.#droppable(ev)) {
        items.push(ev);
        this.#marks.push(abs);
        if (this.#marks.length - this.#markHead > this.#capacity) {
          const victim = this.#marks[this.#markHead++];
          items[victim - this.#base] = undefined;
          this.dropped++;
          this.#onDrop(1);
          if (this.#markHead > 1024 && this.#markHead * 2 > this.#marks.length) {
            this.#marks = this.#marks.slice(this.#markHead);
            this.#markHead = 0;
          }
        }
      } else if (this.#strict >= this.#maxBuffered && !this.#offered) {
        const e = new StreamOverflowError(
          `The ${this.#kind} stream overflowed: ${this.#strict} unread events that may not ` +
            `be dropped (maxBuffered ${this.#maxBuffered}); it delivers those, then ends with ` +
            `this error, and every later event is counted in health.streamDrops.${this.#kind}`,
        );
        this.#ended = true;
        this.#error = e;
        this.dropped++;
        this.#onDrop(1);
        this.#onOverflow(e);
      } else {
        items.push(ev);
        this.#strict++;
      }
    }
    const r = this.#resolve;
    if (r !== undefined) {
      this.#resolve = undefined;
      this.#offered = true;
      r();
    }
  }

  /** Ends the stream after what it holds; with `error`, errors it instead of closing. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const r = this.#resolve;
    if (r !== undefined) {
      this.#resolve = undefined;
      r();
    }
  }

  #flush(c: ReadableStreamDefaultController<T>): boolean {
    const conflate = this.#conflate;
    if (conflate !== undefined) {
      if (conflate.size === 0) return false;
      for (const v of conflate.values()) c.enqueue(v);
      conflate.clear();
      return true;
    }
    const items = this.#items;
    if (items.length === 0) return false;
    this.#items = [];
    this.#base += items.length;
    this.#marks = [];
    this.#markHead = 0;
    this.#strict = 0;
    this.#offered = false;
    let any = false;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it !== undefined) {
        c.enqueue(it);
        any = true;
      }
    }
    return any;
  }

  #finish(c: ReadableStreamDefaultController<T>): void {
    if (this.#error !== undefined) c.error(this.#error);
    else c.close();
    this.#onRemove(this);
  }

  #pull(c: ReadableStreamDefaultController<T>): Promise<void> | void {
    if (this.#flush(c)) return;
    if (this.#ended) return this.#finish(c);
    const p = new Promise<void>((resolve) => (this.#resolve = resolve)).then(() => {
      if (!this.#flush(c) && this.#ended) this.#finish(c);
    });
    this.#onWait();
    return p;
  }

  #cancel(): void {
    this.#ended = true;
    this.#error = undefined;
    this.#items = [];
    this.#conflate?.clear();
    this.#onRemove(this);
  }
}

interface Waiter {
  /** Error kind. */
  readonly kind: "submit" | "cancel";
  /** Order id. */
  readonly orderId: number;
  /** `resolve`. */
  readonly resolve: (o: Order) => void;
  /** `reject`. */
  readonly reject: (e: Error) => void;
  /** `timer`. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A Rejected update arrived; waiting (briefly) for its error code. */
  rejected?: Order;
  /** `cleanup`. */
  cleanup?: () => void;
}

const REJECT_CODE_GRACE_MS = 200;
const STATS_FIELDS = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The part of a Unix-socket connection the doorbell uses (Deno.UnixConn). */
interface UnixConn {
  read(p: Uint8Array): Promise<number | null>;
  close(): void;
}

/** GC backstop: closes a native client whose LiveClient was collected unclosed. */
const finalizer = new FinalizationRegistry<{ lib: NativeLibrary; handle: number }>(
  ({ lib, handle }) => {
    lib.symbols.hl_client_close(handle);
  },
);

function unrefTimer(id: ReturnType<typeof setInterval>): void {
  // deno-lint-ignore no-explicit-any
  const d = (globalThis as any).Deno;
  if (typeof d?.unrefTimer === "function") d.unrefTimer(id as unknown as number);
  // deno-lint-ignore no-explicit-any
  else (id as any)?.unref?.();
}

function reportCallbackError(e: unknown): void {
  // deno-lint-ignore no-explicit-any
  const report = (globalThis as any).reportError;
  if (typeof report === "function") report(e);
  else {queueMicrotask(() => {
      throw e;
    });}
}

/**
 * A live-trading client over the native core. Create it with
 * {@linkcode LiveClient.connect}.
 *
 * @example
 * ```ts ignore
 * import { LiveClient, Side } from "./mod.ts";
 * await using client = await LiveClient.connect({
 *   instruments: [{ connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 * });
 * client.on("disconnect", (e) => console.log(`${e.name} went away`));
 * const order = client.buy({ price: 50_000, qty: 0.001 });
 * console.log(order.orderId, client.health.connected);
 * ```
 */
export class LiveClient {
  readonly #lib: NativeLibrary;
  readonly #h: number;
  readonly #mode: "stream" | "poll";
  readonly #specs: readonly InstrumentSpec[];
  readonly #connectorNames: readonly string[];
  readonly #assetConn: readonly number[];
  readonly #buf: Uint8Array;
  readonly #maxRecords: number;
  readonly #decoder: RecordDecoder;
  readonly #msgBuf = new Uint8Array(4096);
  readonly #scratch = new Float64Array(64);
  readonly #tracker: OrderTracker;
  readonly #limiter: TokenBucket | undefined;
  readonly #opts: {
    streamCapacity: number;
    streamMaxBuffered: number;
    staleAfterMs: number;
    snapshotIntervalMs: number;
    snapshotLevels: number;
    waitTimeoutMs: number;
  };

  #closing = false;
  #closed = false;
  /** Why the client stopped by itself (the error that failed the event pump), if it did. */
  #failure: Error | undefined;
  #closePromise: Promise<void> | undefined;
  #pumpDone: Promise<void> | undefined;
  #wake: "socket" | "wait" = "wait";
  #inPoll = false;

  // Subscribers per stream kind.
  readonly #subs: { [K in StreamKind]: Subscriber<StreamItem[K]>[] } = {
    trades: [],
    bookUpdates: [],
    depthUpdates: [],
    snapshots: [],
    orderUpdates: [],
    fills: [],
    positions: [],
    errors: [],
    events: [],
  };
  readonly #streamDrops: Record<StreamKind, number> = {
    trades: 0,
    bookUpdates: 0,
    depthUpdates: 0,
    snapshots: 0,
    orderUpdates: 0,
    fills: 0,
    positions: 0,
    errors: 0,
    events: 0,
  };
  readonly #handlers = new Map<string, Set<Handler<never>>>();
  #snapshotTimer: ReturnType<typeof setInterval> | undefined;

  // Orders.
  readonly #waiters = new Map<number, Waiter[]>();

  // Health.
  readonly #connUp: (boolean | undefined)[];
  readonly #connWasDown: boolean[];
  readonly #connEverUp: boolean[];
  readonly #registered: boolean[];
  readonly #waitingReg: boolean[];
  readonly #lastMarket: Float64Array;
  readonly #stale: boolean[];
  readonly #batchOrders: Set<number>[];
  readonly #inBatch: boolean[];
  readonly #reconcileAfter: number[];
  readonly #bbo: (BookUpdate | undefined)[];
  readonly #feed = new LatencyWindow();
  readonly #feedExchLocal = new LatencyWindow();
  readonly #feedLocalJs = new LatencyWindow();
  readonly #orderRtt = new LatencyWindow();
  readonly #orderReqExch = new LatencyWindow();
  readonly #orderExchResp = new LatencyWindow();
  readonly #rates = new RateCounter();
  readonly #batchCounts = new Float64Array(16);
  readonly #errorCounts: Record<string, number> = {};
  #lastEventAt = 0;
  #engineDrops = 0;
  #engineDropsReported = 0;
  #unknownRecords = 0;
  #inexactFills = 0;
  readonly #unknownKinds = new Set<number>();
  readonly #stats = new Float64Array(STATS_FIELDS);
  #illegal = 0;
  #reconnects = 0;
  #lastTick = 0;
  readonly #readyWaiters: ((error?: Error) => void)[] = [];

  private constructor(
    lib: NativeLibrary,
    handle: number,
    options: ConnectOptions,
    connectorNames: string[],
    assetConn: number[],
  ) {
    this.#lib = lib;
    this.#h = handle;
    this.#mode = options.mode ?? "stream";
    this.#specs = options.instruments.map((i) => ({
      connector: i.connector,
      symbol: i.symbol,
      tickSize: i.tickSize,
      lotSize: i.lotSize,
    }));
    this.#connectorNames = connectorNames;
    this.#assetConn = assetConn;
    this.#maxRecords = options.drainRecords ?? 4096;
    this.#buf = new Uint8Array(this.#maxRecords * RECORD_SIZE);
    this.#decoder = new RecordDecoder(this.#buf, connectorNames, () => this.#takeMessage());
    this.#limiter = options.rateLimit ? new TokenBucket(options.rateLimit) : undefined;
    this.#tracker = new OrderTracker(options.keepFinishedOrders ?? 10_000);
    this.#opts = {
      streamCapacity: options.streamCapacity ?? 10_000,
      streamMaxBuffered: options.streamMaxBuffered ?? 100_000,
      staleAfterMs: options.staleAfterMs ?? 5000,
      snapshotIntervalMs: options.snapshotIntervalMs ?? 1000,
      snapshotLevels: options.snapshotLevels ?? 10,
      waitTimeoutMs: options.waitTimeoutMs ?? 10_000,
    };
    const n = this.#specs.length;
    this.#connUp = connectorNames.map(() => undefined);
    this.#connWasDown = connectorNames.map(() => false);
    this.#connEverUp = connectorNames.map(() => false);
    this.#registered = new Array(n).fill(false);
    this.#waitingReg = new Array(n).fill(false);
    this.#lastMarket = new Float64Array(n);
    this.#stale = new Array(n).fill(false);
    this.#batchOrders = Array.from({ length: n }, () => new Set<number>());
    this.#inBatch = new Array(n).fill(false);
    this.#reconcileAfter = new Array(n).fill(0);
    this.#bbo = new Array(n).fill(undefined);
    finalizer.register(this, { lib, handle }, this);
  }

  /**
   * Opens a client: loads the native library, starts the engine and, in
   * stream mode, the shared wait. With `ready`, resolves once every
   * instrument is registered with its connector.
   *
   * @example
   * ```ts ignore
   * import { LiveClient } from "./mod.ts";
   * const client = await LiveClient.connect({
   *   instruments: [{ connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
   *   ready: 5000,
   * });
   * await client.close();
   * ```
   */
  static async connect(options: ConnectOptions): Promise<LiveClient> {
    const client = LiveClient.#open(options);
    if (options.ready) {
      const ms = typeof options.ready === "number" ? options.ready : 10_000;
      try {
        await client.ready(ms);
      } catch (e) {
        await client.close();
        throw e;
      }
    }
    return client;
  }

  static #open(options: ConnectOptions): LiveClient {
    if (!options || !Array.isArray(options.instruments) || options.instruments.length === 0) {
      throw new ValidationError("Cannot connect: instruments must be a non-empty array");
    }
    const mode = options.mode ?? "stream";
    if (mode !== "stream" && mode !== "poll") {
      throw new ValidationError(`Cannot connect: mode "${mode}" is not "stream" or "poll"`);
    }
    if (options.inline && mode !== "poll") {
      throw new ValidationError('Cannot connect: inline: true needs mode "poll"');
    }
    const drain = options.drainRecords ?? 4096;
    if (!Number.isInteger(drain) || drain < 1 || drain > 1 << 20) {
      throw new ValidationError(`Cannot connect: drainRecords ${drain} is not in 1..1048576`);
    }
    const connectorNames: string[] = [];
    const assetConn: number[] = [];
    const depthJson = (d: DepthKind | undefined): unknown =>
      d === undefined ? undefined : d === "hashmap" ? "hashmap" : { roi: [d.roi[0], d.roi[1]] };
    const instruments = options.instruments.map((i, k) => {
      if (!i || typeof i.connector !== "string" || typeof i.symbol !== "string") {
        throw new ValidationError(
          `Cannot connect: instrument ${k} needs a connector and a symbol (strings)`,
        );
      }
      for (const f of ["tickSize", "lotSize"] as const) {
        if (!(typeof i[f] === "number" && Number.isFinite(i[f]) && i[f] > 0)) {
          throw new ValidationError(
            `Cannot connect: instrument ${k} (${i.connector}/${i.symbol}): ${f} ${
              i[f]
            } is not above 0`,
          );
        }
      }
      let c = connectorNames.indexOf(i.connector);
      if (c < 0) c = connectorNames.push(i.connector) - 1;
      assetConn.push(c);
      return {
        connector: i.connector,
        symbol: i.symbol,
        tick_size: i.tickSize,
        lot_size: i.lotSize,
        depth: depthJson(i.depth),
      };
    });
    const cfg: Record<string, unknown> = { instruments };
    const put = (k: string, v: unknown): void => {
      if (v !== undefined) cfg[k] = v;
    };
    put("depth", depthJson(options.depth));
    put("ring_capacity", options.ringCapacity);
    put("engine_wait", options.engineWait);
    put("poll_spin_us", options.pollSpinUs);
    put("register_interval_ms", options.registerIntervalMs);
    put("liveness_interval_ms", options.livenessIntervalMs);
    put("bot_id", options.botId);
    if (options.inline) cfg.mode = "inline";
    const lib = loadLibrary({ libPath: options.libPath });
    const json = encoder.encode(JSON.stringify(cfg));
    const out = new Uint32Array(1);
    const err = new Uint8Array(4096);
    const rc = lib.symbols.hl_client_open(json, json.length, out, err, err.length);
    if (rc < 0) {
      const end = err.indexOf(0);
      const msg = decoder.decode(err.subarray(0, end < 0 ? err.length : end));
      throw errorFromStatus(rc, msg ? `Cannot connect: ${msg}` : "", "Cannot connect");
    }
    const client = new LiveClient(lib, out[0], options, connectorNames, assetConn);
    const wake = options.wake ?? "socket";
    if (wake !== "socket" && wake !== "wait") {
      lib.symbols.hl_client_close(out[0]);
      finalizer.unregister(client);
      throw new ValidationError(`Cannot connect: wake "${wake}" is not "socket" or "wait"`);
    }
    if (mode === "stream") {
      const bell = wake === "socket" ? LiveClient.#listenBell(lib, out[0]) : undefined;
      client.#wake = bell !== undefined ? "socket" : "wait";
      client.#pumpDone = LiveClient.#pump(new WeakRef(client), lib, out[0], bell);
    }
    return client;
  }

  // ---------------------------------------------------------------- pump

  /**
   * The stream-mode pump: one pending `hl_client_wait` at a time, then
   * synchronous drains. It holds the client only through a WeakRef while it
   * waits, so a client dropped without `close()` can still be collected; the
   * finalizer then closes the native client, which wakes the wait, and the
   * pump ends (nothing keeps the process alive).
   */
  static async #pump(
    ref: WeakRef<LiveClient>,
    lib: NativeLibrary,
    h: number,
    bellPath: string | undefined,
  ): Promise<void> {
    // Wait first, drain after: nothing is delivered before the caller of connect() has had
    // the chance to attach callbacks and streams (the first drain is a task away).
    if (bellPath !== undefined) {
      const conn = await LiveClient.#connectBell(lib, h, bellPath);
      if (conn !== undefined) return LiveClient.#pumpBell(ref, lib, h, conn);
      LiveClient.#setWake(ref, "wait");
    }
    for (;;) {
      const r = await lib.symbols.hl_client_wait(h, 250);
      if (!LiveClient.#pumpStep(ref, r)) return;
    }
  }

  /**
   * Doorbell, synchronous part: the core listens on a fresh path in /tmp. Undefined (the native
   * wait is used) when the runtime has no Unix sockets or no permission for them, or it fails.
   */
  static #listenBell(lib: NativeLibrary, h: number): string | undefined {
    // deno-lint-ignore no-explicit-any
    const D = (globalThis as any).Deno;
    if (typeof D?.connect !== "function" || typeof D?.permissions?.querySync !== "function") {
      return undefined;
    }
    const path = `/tmp/hftlive-${D.pid}-${h}-${Math.floor(Math.random() * 1e9)}.sock`;
    try {
      // Deno asks for net access to "unix:<path>" and read and write access to the path.
      const needed = [{ name: "net", host: `unix:${path}` }, { name: "read", path }, {
        name: "write",
        path,
      }];
      for (const d of needed) {
        if (D.permissions.querySync(d).state !== "granted") return undefined;
      }
    } catch {
      return undefined;
    }
    const p = encoder.encode(path);
    return lib.symbols.hl_client_bell_listen(h, p, p.length) === 0 ? path : undefined;
  }

  /**
   * Doorbell, asynchronous part: the runtime connects with its own event loop, the core accepts
   * and removes the file. Undefined if that fails (the listener and file are removed then too).
   */
  static async #connectBell(
    lib: NativeLibrary,
    h: number,
    path: string,
  ): Promise<UnixConn | undefined> {
    // deno-lint-ignore no-explicit-any
    const D = (globalThis as any).Deno;
    let conn: UnixConn;
    try {
      conn = await D.connect({ transport: "unix", path });
    } catch {
      lib.symbols.hl_client_bell_accept(h); // removes the listener and its file
      return undefined;
    }
    if (lib.symbols.hl_client_bell_accept(h) !== 0) {
      conn.close();
      return undefined;
    }
    return conn;
  }

  /** Records the wake-up in use (a helper, so that no local holds the client in the pump). */
  static #setWake(ref: WeakRef<LiveClient>, wake: "socket" | "wait"): void {
    const c = ref.deref();
    if (c !== undefined) c.#wake = wake;
  }

  /**
   * The stream-mode pump over the doorbell: arm (records ready → drain at once), else sleep until
   * the socket's read completes (the engine writes a byte when records arrive) or the 250 ms
   * interval ticks for the periodic work. One read is pending at a time with one handler (a `Promise.race` per
   * sleep would pile reactions onto that read while idle). Like the wait pump it holds the client
   * only through a WeakRef, and no local may hold it across an await; close() and the
   * finalizer's native close ring the bell.
   */
  static async #pumpBell(
    ref: WeakRef<LiveClient>,
    lib: NativeLibrary,
    h: number,
    conn: UnixConn,
  ): Promise<void> {
    const buf = new Uint8Array(256);
    let reading = false;
    let readDone = false;
    let readResult: number | null = 0;
    let readError: unknown;
    let wakeUp: (() => void) | undefined;
    // One timer for the periodic work, not one per sleep (no timer work on the wake-up path).
    const tick = setInterval(() => wakeUp?.(), 250);
    try {
      for (;;) {
        const n = lib.symbols.hl_client_arm(h);
        if (n !== 0) {
          if (!LiveClient.#pumpStep(ref, n)) return;
          continue;
        }
        if (LiveClient.#gone(ref)) return;
        if (!reading) {
          reading = true;
          readDone = false;
          conn.read(buf).then((r) => {
            readDone = true;
            readResult = r;
            wakeUp?.();
          }, (e: unknown) => {
            readDone = true;
            readError = e;
            wakeUp?.();
          });
        }
        if (!readDone) {
          await new Promise<void>((resolve) => (wakeUp = resolve));
          wakeUp = undefined;
        }
        if (!readDone) {
          if (!LiveClient.#pumpStep(ref, 0)) return; // the tick
          continue;
        }
        reading = false;
        if (readError !== undefined) throw readError;
        if (readResult === null) {
          // The core closed its end: the client is closing (or was collected and finalized).
          LiveClient.#failRef(ref, new NativeError("The doorbell socket was closed by the core"));
          return;
        }
      }
    } catch (e) {
      LiveClient.#failRef(ref, e);
    } finally {
      clearInterval(tick);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  /** Fails the client behind `ref` unless it was collected or is closing. */
  static #failRef(ref: WeakRef<LiveClient>, e: unknown): void {
    const c = ref.deref();
    if (c !== undefined && !c.#closing) c.#fail(e);
  }

  /** The client was collected or is closing. */
  static #gone(ref: WeakRef<LiveClient>): boolean {
    const c = ref.deref();
    return c === undefined || c.#closing;
  }

  /**
   * Clients that something still consumes (a pending stream read, a callback, a pending wait) are held
   * strongly here, so a client referenced only by a frame suspended on one of its streams is not
   * collected under it. The pump unpins a client once nothing consumes it, and close() always
   * does; an unpinned, unreferenced client is collected and closed by the finalizer.
   */
  static readonly #pinned = new Set<LiveClient>();

  #pin(): void {
    // Poll mode has no pump: whoever calls poll() holds the client.
    if (!this.#closing && this.#mode === "stream") LiveClient.#pinned.add(this);
  }

  /** Whether anything still consumes this client's events. */
  #inUse(): boolean {
    for (const k in this.#subs) {
      for (const s of this.#subs[k as StreamKind]) if (s.waiting) return true;
    }
    for (const set of this.#handlers.values()) if (set.size > 0) return true;
    return this.#waiters.size > 0 || this.#readyWaiters.length > 0;
  }

  /** One step of the pump: handles a wait's result and drains; false to stop. */
  static #pumpStep(ref: WeakRef<LiveClient>, waited: number): boolean {
    const c = ref.deref();
    if (c === undefined || c.#closing) return false;
    if (!c.#inUse()) LiveClient.#pinned.delete(c);
    try {
      if (waited < 0) {
        throw c.#lib.error(c.#h, waited, "Cannot wait for events");
      }
      if (waited === 0) c.#tick(c.#lib.symbols.hl_now());
      c.#drainAll();
      return !c.#closing;
    } catch (e) {
      if (!c.#closing) c.#fail(e);
      return false;
    }
  }

  /**
   * The pump cannot go on (the engine stopped, a native call failed): the
   * failure is reported on `errors` and to callbacks, then the client closes
   * itself; streams deliver what they hold and end with the failure, pending
   * waits reject with it.
   */
  #fail(e: unknown): void {
    const err = e instanceof Error ? e : new NativeError(String(e));
    this.#failure = err;
    this.#clientError(
      -1,
      (err as { status?: number }).status ?? 0,
      0,
      `The event pump stopped, the client closes: ${err.message}`,
    );
    void this.close();
  }

  #drainAll(): void {
    const sym = this.#lib.symbols;
    for (;;) {
      const n = sym.hl_client_drain(this.#h, this.#buf, this.#maxRecords);
      if (n <= 0) {
        if (n < 0 && !this.#closing) throw this.#lib.error(this.#h, n, "Cannot drain events");
        return;
      }
      this.#process(n, undefined);
      if (n < this.#maxRecords) return;
    }
  }

  #process(n: number, out: LiveEvent[] | undefined): void {
    const now = this.#lib.symbols.hl_now();
    const dec = this.#decoder;
    const counts = this.#batchCounts;
    for (let i = 0; i < n; i++) {
      const ev = dec.decode(i, now);
      if (ev === undefined) {
        this.#unknownRecord(dec.kind(i), out);
        continue;
      }
      counts[dec.kind(i)]++;
      this.#dispatch(ev, out);
    }
    this.#lastEventAt = now;
    const r = this.#rates;
    const names = KIND_NAMES;
    for (let k = 1; k < counts.length; k++) {
      if (counts[k] > 0) {
        r.add(names[k], counts[k], now);
        counts[k] = 0;
      }
    }
    this.#tick(now);
  }

  /** A record this version cannot decode (a newer core?): counted, reported once per kind. */
  #unknownRecord(kind: number, out: LiveEvent[] | undefined): void {
    this.#unknownRecords++;
    if (this.#unknownKinds.has(kind)) return;
    this.#unknownKinds.add(kind);
    this.#clientError(
      -1,
      kind,
      0,
      `Records of unknown kind ${kind} from the native core are skipped (counted in ` +
        "health.unknownRecords); the library and the TypeScript module may be of different versions",
      out,
    );
  }

  /** Reports a client-side problem as an `error` event (streams, callbacks, counts). */
  #clientError(
    asset: number,
    code: number,
    orderId: number,
    message: string,
    out?: LiveEvent[],
    ts: number = this.#lib.symbols.hl_now(),
  ): void {
    this.#dispatch(
      { type: "error", kind: ErrorKind.Client, asset, code, orderId, message, ts },
      out,
    );
  }

  #takeMessage(): string {
    const n = this.#lib.symbols.hl_client_take_message(this.#h, this.#msgBuf, this.#msgBuf.length);
    return n > 0 ? decoder.decode(this.#msgBuf.subarray(0, n)) : "";
  }

  // ------------------------------------------------------------ dispatch

  #emit<K extends keyof ClientEvents>(name: K, value: ClientEvents[K]): void {
    const hs = this.#handlers.get(name);
    if (hs === undefined || hs.size === 0) return;
    for (const h of hs) {
      try {
        (h as Handler<ClientEvents[K]>)(value);
      } catch (e) {
        reportCallbackError(e);
      }
    }
  }

  #fan<K extends StreamKind>(kind: K, ev: StreamItem[K]): void {
    const subs = this.#subs[kind];
    for (let i = 0; i < subs.length; i++) subs[i].push(ev);
  }

  #dispatch(ev: DecodedEvent | ErrorEvent | Fill, out: LiveEvent[] | undefined): void {
    switch (ev.type) {
      case "trade": {
        this.#market(ev);
        this.#fan("trades", ev);
        this.#emit("trade", ev);
        break;
      }
      case "depth":
      case "depthClear":
        if (ev.exchTs > 0 && ev.localTs > 0) this.#lastMarket[ev.asset] = ev.recvTs;
        this.#fan("depthUpdates", ev);
        this.#emit("depth", ev);
        break;
      case "bbo":
        this.#bbo[ev.asset] = ev;
        this.#market(ev);
        this.#fan("bookUpdates", ev);
        this.#emit("bbo", ev);
        break;
      case "order":
        this.#onOrder(ev, out);
        return; // #onOrder delivers
      case "fill":
        this.#fan("fills", ev);
        this.#emit("fill", ev);
        break;
      case "position":
        this.#fan("positions", ev);
        this.#emit("position", ev);
        break;
      case "error":
        this.#onError(ev);
        this.#fan("errors", ev);
        this.#emit("error", ev);
        break;
      case "connector":
        this.#onConnector(ev);
        break;
      case "instrument":
        this.#onInstrument(ev);
        this.#emit("instrument", ev);
        break;
      case "dropped":
        this.#engineDropsReported += ev.count;
        break;
    }
    if (out !== undefined) out.push(ev);
    this.#fan("events", ev);
    this.#emit("event", ev);
  }

  #market(ev: Trade | BookUpdate): void {
    // Snapshot-derived records carry no real timestamps (hftbacktest's fused-depth snapshot
    // sets local_ts 0 and exch_ts to each level's age): no latency sample from them.
    if (ev.exchTs > 0 && ev.localTs > 0) {
      this.#lastMarket[ev.asset] = ev.recvTs;
      this.#feed.add(ev.recvTs - ev.exchTs);
      this.#feedExchLocal.add(ev.localTs - ev.exchTs);
      this.#feedLocalJs.add(ev.recvTs - ev.localTs);
    }
  }

  #onOrder(raw: OrderUpdate, out: LiveEvent[] | undefined): void {
    const { order, previous, illegal } = this.#tracker.apply(raw);
    if (this.#inBatch[raw.asset]) this.#batchOrders[raw.asset].add(raw.orderId);
    if (illegal !== undefined || order === undefined) {
      this.#illegal++;
      this.#clientError(
        raw.asset,
        0,
        raw.orderId,
        illegal ?? `Order ${raw.orderId}: update ignored`,
        out,
        raw.recvTs,
      );
      return;
    }
    const ev: OrderUpdate = { ...order, type: "order", recvTs: raw.recvTs, updateTs: raw.recvTs };
    // Order latency on the first response to a request.
    if (previous !== undefined && previous.req !== OrderStatus.None && previous.requestTs > 0) {
      const settled = ev.req === OrderStatus.None || isTerminalStatus(ev.status) ||
        (previous.req === OrderStatus.New && previous.status === OrderStatus.None);
      if (settled) {
        this.#orderRtt.add(ev.recvTs - previous.requestTs);
        if (ev.exchTs > 0) {
          this.#orderReqExch.add(ev.exchTs - previous.requestTs);
          this.#orderExchResp.add(ev.recvTs - ev.exchTs);
        }
      }
    }
    this.#fan("orderUpdates", ev);
    this.#emit("order", ev);
    if (out !== undefined) out.push(ev);
    this.#fan("events", ev);
    this.#emit("event", ev);
    // A fill: leaves went down.
    const prevLeaves = previous?.leavesQty ?? ev.qty;
    if (
      (ev.status === OrderStatus.Filled || ev.status === OrderStatus.PartiallyFilled) &&
      ev.leavesQty < prevLeaves
    ) {
      const qty = Number((prevLeaves - ev.leavesQty).toPrecision(12));
      // One execution per update is what connectors send over their streams; an update that
      // covers more (a REST answer: cumulative quantity, no price) or follows a lost one gives
      // a fill whose price is not known for all of its quantity.
      const exact = ev.execPrice > 0 &&
        Math.abs(ev.execQty - qty) <= 1e-9 * Math.max(1, qty);
      if (!exact) this.#inexactFills++;
      const fill: Fill = {
        type: "fill",
        asset: ev.asset,
        orderId: ev.orderId,
        side: ev.side,
        price: ev.execPrice > 0 ? ev.execPrice : NaN,
        qty,
        leavesQty: ev.leavesQty,
        maker: ev.maker,
        exact,
        exchTs: ev.exchTs,
        recvTs: ev.recvTs,
      };
      this.#dispatch(fill, out);
    }
    this.#settleWaiters(ev, previous);
    // A cancel asked for before the acknowledgement goes out now.
    // (The tracker's state, not `ev`: a callback above may have cancelled the order already.)
    const now = this.#tracker.get(ev.orderId);
    if (now !== undefined && this.#tracker.takeCancelOnAck(now)) {
      this.#sendDeferredCancel(ev.orderId);
    }
  }

  #settleWaiters(ev: Order, previous: Order | undefined): void {
    const ws = this.#waiters.get(ev.orderId);
    if (ws === undefined) return;
    for (const w of [...ws]) {
      if (w.kind === "submit") {
        if (ev.status === OrderStatus.Rejected && ev.rejectCode === undefined) {
          // Hold briefly for the ERROR record carrying the exchange's code.
          w.rejected = ev;
          if (w.timer !== undefined) clearTimeout(w.timer);
          w.timer = setTimeout(
            () => this.#finishWaiter(w, this.order(ev.orderId) ?? ev),
            REJECT_CODE_GRACE_MS,
          );
          continue;
        }
        this.#finishWaiter(w, ev);
      } else {
        const settled = isTerminalStatus(ev.status) ||
          (ev.req === OrderStatus.None && !this.#tracker.hasCancelOnAck(ev.orderId));
        if (settled && previous !== undefined) this.#finishWaiter(w, ev);
      }
    }
  }

  #sendDeferredCancel(orderId: number): void {
    try {
      this.#cancel(orderId, false);
    } catch (e) {
      const o = this.#tracker.get(orderId);
      this.#clientError(
        o?.asset ?? -1,
        (e as { status?: number }).status ?? 0,
        orderId,
        `Order ${orderId}: the cancel deferred to its acknowledgement could not be sent: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
      const ws = this.#waiters.get(orderId);
      if (ws !== undefined) {
        for (const w of [...ws]) {
          if (w.kind === "cancel") {
            this.#finishWaiter(w, e instanceof Error ? e : new Error(String(e)));
          }
        }
      }
    }
  }

  #finishWaiter(w: Waiter, value: Order | Error): void {
    const ws = this.#waiters.get(w.orderId);
    if (ws === undefined) return;
    const i = ws.indexOf(w);
    if (i < 0) return;
    ws.splice(i, 1);
    if (ws.length === 0) this.#waiters.delete(w.orderId);
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.cleanup?.();
    if (value instanceof Error) w.reject(value);
    else w.resolve(value);
  }

  #onError(ev: ErrorEvent): void {
    const name = ERROR_KIND_NAMES[ev.kind] ?? String(ev.kind);
    this.#errorCounts[name] = (this.#errorCounts[name] ?? 0) + 1;
    if (ev.kind === ErrorKind.OrderError && ev.orderId > 0) {
      const o = this.#tracker.setRejection(ev.orderId, ev.code, ev.message);
      if (o !== undefined && o.status === OrderStatus.Rejected) {
        const ws = this.#waiters.get(ev.orderId);
        if (ws !== undefined) {
          for (const w of [...ws]) if (w.rejected !== undefined) this.#finishWaiter(w, o);
        }
      }
    }
  }

  #onConnector(ev: ConnectorEvent): void {
    const c = ev.connector;
    const prev = this.#connUp[c];
    this.#connUp[c] = ev.up;
    if (ev.up) {
      if (prev === false && this.#connWasDown[c]) {
        // Reconnect: wait for every instrument of this connector to register again.
        for (let a = 0; a < this.#specs.length; a++) {
          if (this.#assetConn[a] === c) {
            this.#registered[a] = false;
            this.#reconcileAfter[a] = ev.ts;
          }
        }
      }
      if (!this.#connEverUp[c]) {
        // The first time this connector is seen up, whether or not it was seen down first
        // (a client started before its connector).
        this.#connEverUp[c] = true;
        this.#emit("connect", ev);
      }
    } else {
      // No connector to register with: its instruments wait for it (DESIGN point 1).
      for (let a = 0; a < this.#specs.length; a++) {
        if (this.#assetConn[a] === c) {
          this.#registered[a] = false;
          this.#waitingReg[a] = true;
        }
      }
      if (prev !== undefined) {
        this.#connWasDown[c] = true;
        this.#emit("disconnect", ev);
        // Cancels deferred to an acknowledgement from this connector: the request's outcome is
        // unknown now (its waiter is told so below), nothing is sent later on its behalf.
        this.#tracker.dropCancelOnAck((o) => this.#assetConn[o.asset] === c);
        // Outstanding requests on this connector have an unknown outcome now.
        for (const [id, ws] of [...this.#waiters]) {
          const o = this.#tracker.get(id);
          if (o === undefined || this.#assetConn[o.asset] !== c) continue;
          for (const w of [...ws]) {
            this.#finishWaiter(
              w,
              new ConnectionError(
                `Order ${id}: connector "${ev.name}" went away before answering; the outcome is unknown`,
                { orderId: id, ambiguous: true },
              ),
            );
          }
        }
      }
    }
  }

  #onInstrument(ev: InstrumentEvent): void {
    const a = ev.asset;
    if (a >= this.#specs.length) return;
    if (ev.state === InstrumentState.WaitingForConnector) {
      this.#waitingReg[a] = true;
    } else if (ev.state === InstrumentState.SnapshotBegin) {
      this.#batchOrders[a].clear();
      this.#inBatch[a] = true;
    } else if (ev.state === InstrumentState.Registered) {
      this.#waitingReg[a] = false;
      this.#registered[a] = true;
      this.#inBatch[a] = false;
      this.#lastMarket[a] = ev.ts; // staleness counts from registration
      if (this.#reconcileAfter[a] > 0) this.#reconcile(a);
      const c = this.#assetConn[a];
      if (this.#connWasDown[c] && this.#reconcileAfter[a] > 0) {
        this.#reconcileAfter[a] = 0;
        let all = true;
        for (let b = 0; b < this.#specs.length; b++) {
          if (this.#assetConn[b] === c && (!this.#registered[b] || this.#reconcileAfter[b] > 0)) {
            all = false;
          }
        }
        if (all) {
          this.#reconnects++;
          this.#emit("reconnect", {
            type: "connector",
            connector: c,
            name: this.#connectorNames[c],
            up: true,
            ts: ev.ts,
          });
        }
      }
      if (this.#registered.every((r) => r)) {
        const ws = this.#readyWaiters.splice(0);
        for (const w of ws) w();
      }
    }
  }

  /**
   * After a connector restart: orders we hold as active that the connector did
   * not report in its registration answer are unknown to it. They are marked
   * Expired (the outcome is ambiguous) and reported on `errors`.
   */
  #reconcile(asset: number): void {
    const seen = this.#batchOrders[asset];
    for (const o of this.#tracker.active(asset)) {
      if (seen.has(o.orderId) || o.requestTs > this.#reconcileAfter[asset]) continue;
      const done = this.#tracker.finish(o.orderId, OrderStatus.Expired);
      if (done === undefined) continue;
      const ts = this.#lib.symbols.hl_now();
      const up: OrderUpdate = { ...done, type: "order", recvTs: ts, updateTs: ts };
      this.#fan("orderUpdates", up);
      this.#emit("order", up);
      this.#fan("events", up);
      this.#clientError(
        asset,
        0,
        o.orderId,
        `Order ${o.orderId}: not reported by the restarted connector "${
          this.#specs[asset].connector
        }"; marked Expired (ambiguous)`,
        undefined,
        ts,
      );
    }
    seen.clear();
  }

  /** Periodic work: staleness (called after batches and wait timeouts). */
  #tick(now: number): void {
    if (now - this.#lastTick < 50e6) return;
    this.#lastTick = now;
    this.#rates.roll(now);
    const limit = this.#opts.staleAfterMs * 1e6;
    for (let a = 0; a < this.#specs.length; a++) {
      const stale = this.#registered[a] && this.#lastMarket[a] > 0 &&
        now - this.#lastMarket[a] > limit;
      if (stale !== this.#stale[a]) {
        this.#stale[a] = stale;
        this.#emit(stale ? "stale" : "fresh", this.#instrumentHealth(a, now));
      }
    }
  }

  // ------------------------------------------------------------- streams

  #assertOpen(what: string): void {
    if (this.#closed || this.#closing) {
      const f = this.#failure;
      throw f === undefined
        ? new ClosedError(`${what}: the client is closed`)
        : new ClosedError(`${what}: the client stopped: ${f.message}`, { cause: f });
    }
  }

  /**
   * A new, independent subscription to one kind of event. Market-data streams
   * (`trades`, `depthUpdates`, `events`' market part) drop the oldest event
   * beyond `capacity`; `bookUpdates` and `snapshots` keep only the newest per
   * asset; `orderUpdates`, `fills`, `positions` and `errors` never drop. Every
   * drop is counted in `health.streamDrops`. Cancelling the stream (or
   * leaving a `for await` loop) unsubscribes it; `close()` ends it.
   *
   * @example
   * ```ts ignore
   * for await (const t of client.stream("trades", { asset: 0, capacity: 100 })) {
   *   console.log(t.price);
   * }
   * ```
   */
  stream<K extends StreamKind>(
    kind: K,
    options: StreamOptions = {},
  ): ReadableStream<StreamItem[K]> {
    this.#assertOpen(`Cannot open the ${kind} stream`);
    if (this.#mode !== "stream") {
      throw new LiveError(
        "MODE",
        `Cannot open the ${kind} stream: the client was connected with mode "poll"; use poll() and on() instead`,
      );
    }
    if (!(kind in this.#subs)) {
      throw new ValidationError(`Cannot open stream "${kind}": no such stream`);
    }
    if (
      options.asset !== undefined && !(options.asset >= 0 && options.asset < this.#specs.length)
    ) {
      throw new ValidationError(
        `Cannot open the ${kind} stream: asset ${options.asset} is not configured`,
      );
    }
    const list = this.#subs[kind] as Subscriber<StreamItem[K]>[];
    const capacity = options.capacity ?? this.#opts.streamCapacity;
    const droppable = kind === "trades" || kind === "depthUpdates"
      ? always
      : kind === "events"
      ? isMarket
      : undefined;
    const maxBuffered = options.maxBuffered ?? this.#opts.streamMaxBuffered;
    for (const [name, v] of [["capacity", capacity], ["maxBuffered", maxBuffered]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new ValidationError(
          `Cannot open the ${kind} stream: ${name} ${v} is not an integer >= 1`,
        );
      }
    }
    const sub = new Subscriber<StreamItem[K]>({
      kind,
      asset: options.asset,
      capacity,
      maxBuffered,
      droppable,
      conflate: kind === "bookUpdates" || kind === "snapshots",
      onDrop: (n) => (this.#streamDrops[kind] += n),
      onOverflow: (e) =>
        // After the push that overflowed (not inside it): on callbacks, the other streams'
        // errors and the error counts.
        queueMicrotask(() => {
          if (this.#closed) return;
          this.#clientError(options.asset ?? -1, 0, 0, e.message);
        }),
      onWait: () => this.#pin(),
      onRemove: (s) => {
        const i = list.indexOf(s);
        if (i >= 0) list.splice(i, 1);
        if (kind === "snapshots" && list.length === 0) this.#stopSnapshots();
      },
    });
    list.push(sub);
    if (kind === "snapshots") this.#startSnapshots();
    return sub.stream;
  }

  /** Trades (new subscription on each access; drops oldest beyond capacity). */
  get trades(): ReadableStream<Trade> {
    return this.stream("trades");
  }
  /** Best bid/offer changes (conflated: newest per asset). */
  get bookUpdates(): ReadableStream<BookUpdate> {
    return this.stream("bookUpdates");
  }
  /** Depth level changes and clears (drops oldest beyond capacity). */
  get depthUpdates(): ReadableStream<DepthUpdate | DepthClear> {
    return this.stream("depthUpdates");
  }
  /** Book snapshots every `snapshotIntervalMs` (newest per asset). */
  get snapshots(): ReadableStream<DepthSnapshot> {
    return this.stream("snapshots");
  }
  /** Order updates of this client (never drops). */
  get orderUpdates(): ReadableStream<OrderUpdate> {
    return this.stream("orderUpdates");
  }
  /** Fills of this client's orders (never drops). */
  get fills(): ReadableStream<Fill> {
    return this.stream("fills");
  }
  /** Position changes (never drops). */
  get positions(): ReadableStream<PositionUpdate> {
    return this.stream("positions");
  }
  /** Connector, engine and client errors (never drops). */
  get errors(): ReadableStream<ErrorEvent> {
    return this.stream("errors");
  }
  /** Every event (market data drops oldest beyond capacity; the rest never drops). */
  get events(): ReadableStream<LiveEvent> {
    return this.stream("events");
  }

  #startSnapshots(): void {
    if (this.#snapshotTimer !== undefined) return;
    const timer = setInterval(() => {
      if (this.#closing) return;
      const levels = this.#opts.snapshotLevels;
      for (let a = 0; a < this.#specs.length; a++) {
        if (!this.#registered[a]) continue;
        let s: DepthSnapshot;
        try {
          s = this.depth(a, levels);
        } catch (e) {
          if (this.#closing) return;
          this.#clientError(
            a,
            (e as { status?: number }).status ?? 0,
            0,
            `Cannot take the snapshot of asset ${a}: ${e instanceof Error ? e.message : String(e)}`,
          );
          continue;
        }
        this.#fan("snapshots", s);
      }
    }, this.#opts.snapshotIntervalMs);
    unrefTimer(timer);
    this.#snapshotTimer = timer;
  }

  #stopSnapshots(): void {
    if (this.#snapshotTimer !== undefined) clearInterval(this.#snapshotTimer);
    this.#snapshotTimer = undefined;
  }

  /**
   * Registers a callback; returns a function that removes it. Callbacks run
   * synchronously as events are decoded (in stream mode from the client's
   * pump, in poll mode from inside `poll()`); an exception in one is reported
   * (`reportError`) and does not stop the others.
   *
   * @example
   * ```ts ignore
   * const off = client.on("disconnect", (e) => console.warn(`${e.name} is down`));
   * client.on("error", (e) => console.error(e.kind, e.code, e.message));
   * off();
   * ```
   */
  on<K extends keyof ClientEvents>(
    event: K,
    handler: (value: ClientEvents[K]) => void,
  ): () => void {
    this.#assertOpen(`Cannot add a "${event}" callback`);
    let set = this.#handlers.get(event);
    if (set === undefined) this.#handlers.set(event, set = new Set());
    set.add(handler as Handler<never>);
    this.#pin();
    return () => this.off(event, handler);
  }

  /**
   * Removes a callback added with {@linkcode LiveClient.on}.
   *
   * @example
   * ```ts ignore
   * const h = (t: Trade) => console.log(t.price);
   * client.on("trade", h);
   * client.off("trade", h);
   * ```
   */
  off<K extends keyof ClientEvents>(event: K, handler: (value: ClientEvents[K]) => void): void {
    this.#handlers.get(event)?.delete(handler as Handler<never>);
  }

  // ------------------------------------------------------------ hot loop

  /**
   * Hot-loop mode: waits up to `timeoutMs` (fractions allowed; 0 = don't wait)
   * for events and returns them decoded (also updating orders and health and
   * firing callbacks). Blocks the calling thread: run it in a Worker or a
   * process dedicated to the strategy.
   *
   * @example
   * ```ts ignore
   * const client = await LiveClient.connect({ instruments, mode: "poll" });
   * while (running) {
   *   for (const ev of client.poll(100)) if (ev.type === "bbo") quote(ev);
   * }
   * ```
   */
  poll(timeoutMs = 0): LiveEvent[] {
    this.#assertOpen("Cannot poll");
    if (this.#mode !== "poll") {
      throw new LiveError(
        "MODE",
        'Cannot poll: the client was connected with mode "stream" (its events go to streams and callbacks); connect with mode: "poll" for a hot loop',
      );
    }
    if (this.#inPoll) {
      throw new LiveError(
        "MODE",
        "Cannot poll: poll() is already running (called from a callback?)",
      );
    }
    const us = Math.min(0xffffffff, Math.max(0, Math.round(timeoutMs * 1000)));
    this.#inPoll = true;
    try {
      const n = this.#lib.symbols.hl_client_poll(this.#h, this.#buf, this.#maxRecords, us);
      if (n < 0) {
        if (n === -3 || this.#closed) throw new ClosedError("Cannot poll: the client is closed");
        throw this.#lib.error(this.#h, n, "Cannot poll");
      }
      const out: LiveEvent[] = [];
      if (n > 0) this.#process(n, out);
      else this.#tick(this.#lib.symbols.hl_now());
      return out;
    } finally {
      this.#inPoll = false;
    }
  }

  /**
   * Hot-loop iterator: yields events until the client is closed (or the
   * consumer breaks out), polling with `timeoutMs` each round.
   *
   * @example
   * ```ts ignore
   * for (const ev of client.iterate()) {
   *   if (ev.type === "trade") console.log(ev.price);
   * }
   * ```
   */
  *iterate(timeoutMs = 100): Generator<LiveEvent, void, undefined> {
    while (!this.#closed && !this.#closing) {
      let evs: LiveEvent[];
      try {
        evs = this.poll(timeoutMs);
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
      for (const ev of evs) yield ev;
    }
  }

  // -------------------------------------------------------------- orders

  /** Submits an order; returns the order as submitted (status None). */
  submitOrder(req: OrderRequest): Order;
  /** Submits an order and resolves on its first response (ack, rejection or fill). */
  submitOrder(req: OrderRequest, options: WaitOptions & { wait: true }): Promise<Order>;
  /** Submits an order; with `wait: true` resolves on the first response. */
  submitOrder(req: OrderRequest, options?: WaitOptions): Order | Promise<Order>;
  /**
   * Validates, rounds and submits an order. Without `wait`, returns the order
   * as submitted (status None) synchronously and throws on validation errors;
   * with `wait: true`, resolves on the first response (New, Rejected with
   * `rejectCode`, Filled, …) or rejects with {@linkcode TimeoutError}.
   *
   * @example
   * ```ts ignore
   * const o = await client.submitOrder(
   *   { side: Side.Buy, price: 50_000, qty: 0.001, timeInForce: TimeInForce.GTX },
   *   { wait: true, timeoutMs: 2000 },
   * );
   * if (o.status === OrderStatus.Rejected) console.log(o.rejectCode, o.rejectReason);
   * ```
   */
  submitOrder(req: OrderRequest, options?: WaitOptions): Order | Promise<Order> {
    if (options?.wait) {
      try {
        const o = this.#submit(req);
        return this.#wait("submit", o, options);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#submit(req);
  }

  #submit(req: OrderRequest): Order {
    const orderId = req?.orderId ?? nextOrderId();
    this.#assertOpen(`Cannot submit order ${orderId}`);
    const v = validateOrder(req, orderId, this.#specs, (asset, side) => {
      const b = this.#bbo[asset];
      return b === undefined ? NaN : side === Side.Buy ? b.askPrice : b.bidPrice;
    });
    this.#tracker.checkUnused(orderId);
    this.#limiter?.take(`Cannot submit order ${orderId}`);
    const rc = this.#lib.symbols.hl_client_submit(
      this.#h,
      v.asset,
      v.orderId,
      v.side,
      v.price,
      v.qty,
      v.timeInForce,
      v.orderType,
    );
    if (rc < 0) throw this.#lib.error(this.#h, rc, `Cannot submit order ${orderId}`, orderId);
    return this.#tracker.submitted(v, this.#lib.symbols.hl_now());
  }

  /**
   * A buy order (see {@linkcode LiveClient.submitOrder}).
   *
   * @example
   * ```ts ignore
   * const o = await client.buy({ price: 49_990, qty: 0.001 }, { wait: true });
   * ```
   */
  buy(req: Omit<OrderRequest, "side">): Order;
  /** A buy order that resolves on its first response. */
  buy(req: Omit<OrderRequest, "side">, options: WaitOptions & { wait: true }): Promise<Order>;
  /** A buy order; with `wait: true` resolves on the first response. */
  buy(req: Omit<OrderRequest, "side">, options?: WaitOptions): Order | Promise<Order>;
  /** Implementation. */
  buy(req: Omit<OrderRequest, "side">, options?: WaitOptions): Order | Promise<Order> {
    return this.submitOrder({ ...req, side: Side.Buy }, options);
  }

  /**
   * A sell order (see {@linkcode LiveClient.submitOrder}).
   *
   * @example
   * ```ts ignore
   * const o = client.sell({ price: 50_010, qty: 0.001 });
   * ```
   */
  sell(req: Omit<OrderRequest, "side">): Order;
  /** A sell order that resolves on its first response. */
  sell(req: Omit<OrderRequest, "side">, options: WaitOptions & { wait: true }): Promise<Order>;
  /** A sell order; with `wait: true` resolves on the first response. */
  sell(req: Omit<OrderRequest, "side">, options?: WaitOptions): Order | Promise<Order>;
  /** Implementation. */
  sell(req: Omit<OrderRequest, "side">, options?: WaitOptions): Order | Promise<Order> {
    return this.submitOrder({ ...req, side: Side.Sell }, options);
  }

  /** Requests a cancel; returns the order as it is now. */
  cancelOrder(orderId: number): Order;
  /** Requests a cancel and resolves when the connector answered (Canceled, or Filled if it lost the race). */
  cancelOrder(orderId: number, options: WaitOptions & { wait: true }): Promise<Order>;
  /** Requests a cancel; with `wait: true` resolves on the answer. */
  cancelOrder(orderId: number, options?: WaitOptions): Order | Promise<Order>;
  /**
   * Requests the cancellation of an order. Throws {@linkcode
   * OrderNotFoundError} for an unknown id and {@linkcode
   * InvalidOrderStatusError} for a finished order or one with a request in flight.
   *
   * @example
   * ```ts ignore
   * const o = client.buy({ price: 49_000, qty: 0.001 });
   * const after = await client.cancelOrder(o.orderId, { wait: true });
   * console.log(after.status === OrderStatus.Canceled);
   * ```
   */
  cancelOrder(orderId: number, options?: WaitOptions): Order | Promise<Order> {
    if (options?.wait) {
      try {
        const o = this.#cancel(orderId);
        return this.#wait("cancel", o, options);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#cancel(orderId);
  }

  #cancel(orderId: number, limit = true): Order {
    const what = `Cannot cancel order ${orderId}`;
    this.#assertOpen(what);
    const o = this.#tracker.get(orderId);
    if (o === undefined) {
      throw new OrderNotFoundError(`${what}: no such order on this client`, { orderId });
    }
    if (isTerminalStatus(o.status)) {
      throw new InvalidOrderStatusError(`${what}: it is ${orderStatusName(o.status)}`, { orderId });
    }
    if (limit) this.#limiter?.take(what);
    const rc = this.#lib.symbols.hl_client_cancel(this.#h, o.asset, orderId);
    if (rc < 0) throw this.#lib.error(this.#h, rc, what, orderId);
    this.#tracker.cancelRequested(orderId, this.#lib.symbols.hl_now());
    return this.#tracker.get(orderId)!;
  }

  /**
   * Cancels every active order (of one asset, or all) and returns their ids.
   * An order not yet acknowledged gets its cancel as soon as it is (a cancel
   * sent before would reach an exchange that may not know the order yet); an
   * order whose cancel is already in flight is included, nothing more is sent
   * for it. With `wait`, resolves with every one of them once finished
   * (Canceled, or Filled/Rejected/Expired if that came first).
   *
   * The client's rate limit never refuses it (cancelling everything is the
   * kill switch): the tokens it needs are borrowed, and later requests are
   * refused until the debt is repaid. If the core refuses some cancels, the
   * others still go out and {@linkcode CancelAllError} lists both (with
   * `wait`, its `settled` follows the ones sent).
   *
   * @example
   * ```ts ignore
   * const ids = client.cancelAll();
   * const finals = await client.cancelAll(0, { wait: true });
   * ```
   */
  cancelAll(asset?: number): number[];
  /** Cancels every active order and resolves with their final states. */
  cancelAll(asset: number | undefined, options: WaitOptions & { wait: true }): Promise<Order[]>;
  /** Cancels every active order (see the first overload). */
  cancelAll(asset?: number, options?: WaitOptions): number[] | Promise<Order[]>;
  /** Implementation. */
  cancelAll(asset?: number, options?: WaitOptions): number[] | Promise<Order[]> {
    const what = "Cannot cancel all orders";
    try {
      this.#assertOpen(what);
      if (asset !== undefined) this.#checkAsset(asset, what);
      const active = this.#tracker.active(asset);
      const send = active.filter((o) =>
        o.req === OrderStatus.None && o.status !== OrderStatus.None
      );
      const defer = active.filter((o) =>
        o.req === OrderStatus.New && !this.#tracker.hasCancelOnAck(o.orderId)
      );
      // Cancelling everything reduces risk: the client's own rate limit never refuses it, it
      // borrows the tokens (later requests are refused until the debt is repaid).
      this.#limiter?.force(send.length + defer.length);
      const sent: number[] = [];
      const failed: { orderId: number; error: Error }[] = [];
      for (const o of send) {
        try {
          this.#cancel(o.orderId, false);
          sent.push(o.orderId);
        } catch (e) {
          failed.push({ orderId: o.orderId, error: e instanceof Error ? e : new Error(String(e)) });
        }
      }
      for (const o of defer) {
        this.#tracker.cancelOnAck(o.orderId);
        sent.push(o.orderId);
      }
      const ids = active.map((o) => o.orderId).filter((id) =>
        !failed.some((f) => f.orderId === id)
      );
      const waits = options?.wait
        ? ids.map((id) => this.#wait("cancel", this.#tracker.get(id)!, options))
        : [];
      if (failed.length > 0) {
        const settled = waits.length > 0 ? Promise.allSettled(waits) : undefined;
        throw new CancelAllError(
          `${what}: ${failed.length} of ${active.length} cancels were refused (${
            failed.map((f) => `${f.orderId}: ${f.error.message}`).join("; ")
          }); the others were sent`,
          sent,
          failed,
          settled,
        );
      }
      return options?.wait ? Promise.all(waits) : ids;
    } catch (e) {
      if (options?.wait) return Promise.reject(e);
      throw e;
    }
  }

  /**
   * Cancel-and-replace: cancels `orderId`, waits for the cancel, then submits
   * a new order (new id) with the same side, type and time in force and the
   * given price/qty (qty defaults to what was left). hftbacktest's connectors
   * have no native modify, so this is two requests; if the order fills before
   * the cancel lands, it throws {@linkcode InvalidOrderStatusError} and
   * nothing new is submitted.
   *
   * @example
   * ```ts ignore
   * const replaced = await client.replaceOrder(o.orderId, { price: 50_001 }, { wait: true });
   * ```
   */
  async replaceOrder(
    orderId: number,
    changes: { readonly price?: number; readonly qty?: number; readonly orderId?: number },
    options: WaitOptions = {},
  ): Promise<Order> {
    const old = await this.cancelOrder(orderId, { ...options, wait: true });
    if (old.status !== OrderStatus.Canceled) {
      throw new InvalidOrderStatusError(
        `Cannot replace order ${orderId}: it is ${orderStatusName(old.status)}, not Canceled`,
        { orderId },
      );
    }
    const req: OrderRequest = {
      asset: old.asset,
      side: old.side,
      price: changes.price ?? old.price,
      qty: changes.qty ?? old.leavesQty,
      timeInForce: old.timeInForce,
      orderType: old.orderType,
      orderId: changes.orderId,
    };
    return options.wait
      ? await this.submitOrder(req, { ...options, wait: true })
      : this.submitOrder(req);
  }

  #wait(kind: "submit" | "cancel", o: Order, options: WaitOptions): Promise<Order> {
    if (this.#mode === "poll" && this.#inPoll) {
      return Promise.reject(
        new LiveError("MODE", `Cannot wait for order ${o.orderId} inside poll()`),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.#opts.waitTimeoutMs;
    const { promise, resolve, reject } = Promise.withResolvers<Order>();
    const w: Waiter = { kind, orderId: o.orderId, resolve, reject, timer: undefined };
    w.timer = setTimeout(() => {
      this.#finishWaiter(
        w,
        new TimeoutError(
          `Order ${o.orderId}: no answer to the ${kind} within ${timeoutMs} ms; the outcome is unknown`,
          { orderId: o.orderId, ambiguous: true },
        ),
      );
    }, timeoutMs);
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.#finishWaiter(w, signal.reason ?? new Error("aborted"));
      if (signal.aborted) {
        queueMicrotask(onAbort);
      } else {
        signal.addEventListener("abort", onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
    }
    let list = this.#waiters.get(o.orderId);
    if (list === undefined) this.#waiters.set(o.orderId, list = []);
    this.#pin();
    list.push(w);
    return promise;
  }

  /**
   * This client's active orders (optionally of one asset), by id. Readable
   * after close (also after the client stopped on a failure): the last known
   * state, for reconciling from a new client.
   *
   * @example
   * ```ts ignore
   * for (const o of client.orders(0)) console.log(o.orderId, o.status);
   * ```
   */
  orders(asset?: number): Order[] {
    // Readable after close: the last known state is what reconciliation from a new client needs.
    return this.#tracker.active(asset);
  }

  /**
   * The core's authoritative list of active orders of `asset` (for
   * reconciliation and debugging).
   *
   * @example
   * ```ts ignore
   * console.log(client.nativeOrders(0).length);
   * ```
   */
  nativeOrders(asset = 0): Order[] {
    this.#assertOpen("Cannot list orders");
    this.#checkAsset(asset, "Cannot list orders");
    const cap = 4096;
    const buf = new Uint8Array(cap * RECORD_SIZE);
    const n = this.#lib.check(
      this.#h,
      this.#lib.symbols.hl_client_orders(this.#h, asset, buf, cap),
      "Cannot list orders",
    );
    const v = new DataView(buf.buffer);
    const now = this.#lib.symbols.hl_now();
    const out: Order[] = [];
    for (let i = 0; i < n; i++) {
      const { type: _t, recvTs: _r, ...o } = decodeOrder(v, i * RECORD_SIZE, now);
      out.push(o);
    }
    return out;
  }

  /**
   * An order of this client by id (active or recently finished), or undefined.
   * Readable after close, like {@linkcode LiveClient.orders}.
   *
   * @example
   * ```ts ignore
   * console.log(client.order(42)?.status);
   * ```
   */
  order(orderId: number): Order | undefined {
    return this.#tracker.get(orderId);
  }

  /**
   * The position of an instrument, read from the core.
   *
   * @example
   * ```ts ignore
   * console.log(client.position(0).qty);
   * ```
   */
  position(asset = 0): Position {
    this.#assertOpen("Cannot read the position");
    this.#checkAsset(asset, "Cannot read the position");
    const out = this.#scratch;
    this.#lib.check(
      this.#h,
      this.#lib.symbols.hl_client_position(this.#h, asset, out),
      `Cannot read the position of asset ${asset}`,
    );
    return { asset, qty: out[0], exchTs: out[1] };
  }

  /**
   * The core's authoritative book of an instrument, best `levels` per side.
   *
   * @example
   * ```ts ignore
   * const book = client.depth(0, 5);
   * console.log(book.bids[0], book.asks[0]);
   * ```
   */
  depth(asset = 0, levels = 10): DepthSnapshot {
    this.#assertOpen("Cannot read the depth");
    this.#checkAsset(asset, "Cannot read the depth");
    if (!Number.isInteger(levels) || levels < 1 || levels > 100_000) {
      throw new ValidationError(`Cannot read the depth: levels ${levels} is not in 1..100000`);
    }
    const need = 2 + 4 * levels;
    const out = need <= this.#scratch.length ? this.#scratch : new Float64Array(need);
    this.#lib.check(
      this.#h,
      this.#lib.symbols.hl_client_depth(this.#h, asset, levels, out),
      `Cannot read the depth of asset ${asset}`,
    );
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (let i = 0; i < out[0]; i++) bids.push({ price: out[2 + 2 * i], qty: out[3 + 2 * i] });
    const base = 2 + 2 * levels;
    for (let i = 0; i < out[1]; i++) {
      asks.push({ price: out[base + 2 * i], qty: out[base + 1 + 2 * i] });
    }
    return { type: "snapshot", asset, bids, asks, ts: this.#lib.symbols.hl_now() };
  }

  /**
   * The last best bid/offer seen for an instrument (undefined before any).
   *
   * @example
   * ```ts ignore
   * const b = client.bbo(0);
   * if (b) console.log((b.bidPrice + b.askPrice) / 2);
   * ```
   */
  bbo(asset = 0): BookUpdate | undefined {
    this.#assertOpen("Cannot read the best bid/offer");
    this.#checkAsset(asset, "Cannot read the best bid/offer");
    return this.#bbo[asset];
  }

  #checkAsset(asset: number, what: string): void {
    if (!Number.isInteger(asset) || asset < 0 || asset >= this.#specs.length) {
      throw new ValidationError(
        `${what}: asset ${asset} is not configured (0..${this.#specs.length - 1})`,
      );
    }
  }

  // -------------------------------------------------------------- health

  /**
   * Resolves when every instrument is registered with its connector (stream
   * mode), or rejects with {@linkcode TimeoutError}.
   *
   * @example
   * ```ts ignore
   * await client.ready(5000);
   * ```
   */
  ready(timeoutMs = 10_000): Promise<void> {
    try {
      this.#assertOpen("Cannot wait for registration");
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#registered.every((r) => r)) return Promise.resolve();
    if (this.#mode === "poll") {
      // Nothing processes registrations in poll mode but poll() itself, and events polled here
      // would be lost to the caller.
      return Promise.reject(
        new ValidationError(
          "Cannot wait for registration in poll mode: call poll() until " +
            "client.health.instruments[i].registered (or an 'instrument' event says so)",
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      const i = this.#readyWaiters.indexOf(done);
      if (i >= 0) this.#readyWaiters.splice(i, 1);
      const waiting = this.#specs
        .filter((_, a) => !this.#registered[a])
        .map((s) => `${s.connector}/${s.symbol}`);
      reject(
        new TimeoutError(
          `Instruments not registered within ${timeoutMs} ms (waiting for connector): ${
            waiting.join(", ")
          }`,
        ),
      );
    }, timeoutMs);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    this.#readyWaiters.push(done);
    this.#pin();
    return promise;
  }

  #instrumentHealth(a: number, now: number): InstrumentHealth {
    const s = this.#specs[a];
    const last = this.#lastMarket[a];
    return {
      asset: a,
      symbol: s.symbol,
      connector: s.connector,
      registered: this.#registered[a],
      waitingForConnector: this.#waitingReg[a] && !this.#registered[a],
      lastMarketAt: last,
      stale: this.#registered[a] && last > 0 && now - last > this.#opts.staleAfterMs * 1e6,
    };
  }

  /**
   * A snapshot of the connection health: liveness per connector (from the
   * engine's liveness checks, independent of market data), per-instrument
   * registration and staleness, feed and order latencies (last and rolling
   * p50/p90/p99/max, ns), event rates, drops and error counts.
   *
   * @example
   * ```ts ignore
   * const h = client.health;
   * console.log(h.connected, h.feedLatency.p50 / 1e3, "µs", h.streamDrops.trades);
   * ```
   */
  get health(): ConnectionHealth {
    const now = this.#closed ? 0 : this.#lib.symbols.hl_now();
    if (!this.#closed) {
      const st = this.#stats;
      if (this.#lib.symbols.hl_client_stats(this.#h, st, STATS_FIELDS) > 1) {
        this.#engineDrops = st[1];
      }
      this.#rates.roll(now);
    }
    const connectors: Record<string, boolean> = {};
    this.#connectorNames.forEach((
      n,
      c,
    ) => (connectors[n] = this.#connUp[c] === true && !this.#closed));
    return {
      connected: !this.#closed && this.#connUp.every((u) => u === true),
      connectors,
      instruments: this.#specs.map((_, a) => this.#instrumentHealth(a, now)),
      lastEventAt: this.#lastEventAt,
      feedLatency: this.#feed.stats(),
      feedExchangeToLocal: this.#feedExchLocal.stats(),
      feedLocalToJs: this.#feedLocalJs.stats(),
      orderLatency: this.#orderRtt.stats(),
      orderRequestToExchange: this.#orderReqExch.stats(),
      orderExchangeToResponse: this.#orderExchResp.stats(),
      eventsPerSecond: this.#rates.perSecond(),
      eventsPerSecondByType: this.#rates.perSecondByType(),
      eventsTotal: this.#rates.total,
      engineDrops: Math.max(this.#engineDrops, this.#engineDropsReported),
      engineDropsReported: this.#engineDropsReported,
      unknownRecords: this.#unknownRecords,
      inexactFills: this.#inexactFills,
      streamDrops: { ...this.#streamDrops },
      rateLimited: this.#limiter?.refused ?? 0,
      illegalTransitions: this.#illegal,
      errors: { ...this.#errorCounts },
      reconnects: this.#reconnects,
    };
  }

  /**
   * Raw counters of the native engine (`hl_client_stats`).
   *
   * @example
   * ```ts ignore
   * console.log(client.nativeStats().recordsPushed);
   * ```
   */
  nativeStats(): {
    recordsPushed: number;
    marketDropped: number;
    foreignOrders: number;
    ipcErrors: number;
    registrations: number;
    engineLoops: number;
    ringCapacity: number;
    ready: number;
  } {
    this.#assertOpen("Cannot read native stats");
    const st = this.#stats;
    this.#lib.check(
      this.#h,
      this.#lib.symbols.hl_client_stats(this.#h, st, STATS_FIELDS),
      "Cannot read native stats",
    );
    return {
      recordsPushed: st[0],
      marketDropped: st[1],
      foreignOrders: st[2],
      ipcErrors: st[3],
      registrations: st[4],
      engineLoops: st[5],
      ringCapacity: st[6],
      ready: st[7],
    };
  }

  /**
   * Fault injection, for testing how a strategy copes with a failing core:
   * `"enginePanic"` makes the native engine panic at its next step, as a bug
   * in the core would. A stream-mode client then reports the failure on
   * `errors` and to `error` callbacks and closes itself (streams deliver what
   * they hold, then error; waits reject); in poll mode `poll()` throws
   * {@linkcode NativeError} (status -12, `HL_E_ENGINE`) from then on.
   * `"unknownRecord"` makes the engine emit one record of a kind this module
   * does not know (as a newer core would): it is skipped, counted in
   * `health.unknownRecords` and reported once on `errors`.
   *
   * @example
   * ```ts ignore
   * client.on("error", (e) => console.error(e.message));
   * client.injectFault("enginePanic");
   * ```
   */
  injectFault(fault: "enginePanic" | "unknownRecord"): void {
    this.#assertOpen("Cannot inject a fault");
    const kind = fault === "enginePanic" ? 1 : fault === "unknownRecord" ? 2 : 0;
    if (kind === 0) {
      throw new ValidationError(
        `Cannot inject fault "${fault}": not "enginePanic" or "unknownRecord"`,
      );
    }
    this.#lib.check(
      this.#h,
      this.#lib.symbols.hl_client_fault(this.#h, kind),
      "Cannot inject a fault",
    );
  }

  /** The instruments, indexed by asset number. */
  get instruments(): readonly InstrumentSpec[] {
    return this.#specs;
  }

  /**
   * How this stream-mode client is woken: `"socket"` (the doorbell) or `"wait"`. Known when
   * `connect()` returns; it turns to `"wait"` only if connecting to the doorbell socket fails.
   */
  get wake(): "socket" | "wait" {
    return this.#wake;
  }

  /** "stream" or "poll". */
  get mode(): "stream" | "poll" {
    return this.#mode;
  }

  /** True once `close()` has started. */
  get closed(): boolean {
    return this.#closing || this.#closed;
  }

  // ----------------------------------------------------------- lifecycle

  /**
   * Closes the client (idempotent; every call returns the same promise):
   * wakes and awaits the pending native wait, delivers remaining events,
   * ends every stream, rejects pending waits with {@linkcode ClosedError},
   * closes the native client and clears timers.
   *
   * @example
   * ```ts ignore
   * await client.close();
   * await client.close(); // no-op
   * ```
   */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closePromise = this.#doClose();
    return this.#closePromise;
  }

  async #doClose(): Promise<void> {
    this.#closing = true;
    LiveClient.#pinned.delete(this);
    const sym = this.#lib.symbols;
    this.#stopSnapshots();
    if (this.#pumpDone !== undefined) {
      sym.hl_client_wake(this.#h);
      await this.#pumpDone;
      try {
        this.#drainAll(); // what is left (order updates in particular)
      } catch { /* closing anyway */ }
    }
    this.#closed = true;
    sym.hl_client_close(this.#h);
    finalizer.unregister(this);
    const failure = this.#failure;
    const streamEnd = failure &&
      new ClosedError(`The client stopped: ${failure.message}`, { cause: failure });
    for (const list of Object.values(this.#subs)) {
      for (const s of [...list]) s.end(streamEnd);
    }
    const why = failure === undefined
      ? "the client was closed"
      : `the client stopped (${failure.message})`;
    for (const ws of [...this.#waiters.values()]) {
      for (const w of [...ws]) {
        this.#finishWaiter(
          w,
          new ClosedError(`Order ${w.orderId}: no answer before ${why}`, {
            orderId: w.orderId,
            ambiguous: true,
            cause: failure,
          }),
        );
      }
    }
    for (const w of this.#readyWaiters.splice(0)) {
      w(new ClosedError(`Cannot wait for registration: ${why}`, { cause: failure }));
    }
    this.#handlers.clear();
  }

  /** Closes the client (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const KIND_NAMES = [
  "",
  "trade",
  "depth",
  "depthClear",
  "bbo",
  "order",
  "position",
  "error",
  "connector",
  "instrument",
  "dropped",
  "",
  "",
  "",
  "",
  "",
];

const ERROR_KIND_NAMES: Record<number, string> = {
  0: "ConnectionInterrupted",
  1: "CriticalConnectionError",
  2: "OrderError",
  3: "Custom",
  100: "Engine",
  200: "Client",
};
