/**
 * Streams: one bounded queue per consumer behind a `ReadableStream`, and a
 * hub that fans events out to the consumers of each stream kind with the
 * kind's policy. Market data (`trades`, `depthUpdates`, the market part of
 * `events`) drops the oldest beyond a consumer's capacity; `bookUpdates` and
 * `snapshots` keep only the newest per instrument; everything else never
 * drops, and overflows with {@linkcode StreamOverflowError} past
 * `maxBuffered` unread events. Every drop is counted per kind.
 *
 * @example
 * ```ts
 * import { StreamHub } from "./streams.ts";
 * import type { Trade } from "./models.ts";
 *
 * const hub = new StreamHub({ capacity: 100, maxBuffered: 1000 });
 * const trades = hub.open("trades");
 * const t: Trade = {
 *   type: "trade", asset: 0, side: 1, price: 1, qty: 1, exchTs: 1, localTs: 1, engineTs: 1,
 *   wakeTs: 1, recvTs: 1, flags: 0,
 * };
 * hub.fan("trades", t);
 * hub.endAll();
 * for await (const x of trades) console.log(x.price);
 * ```
 *
 * @module
 */

import { StreamOverflowError, ValidationError } from "./errors.ts";
import type {
  BookUpdate,
  DepthClear,
  DepthSnapshot,
  DepthUpdate,
  ErrorEvent,
  Fill,
  LiveEvent,
  OrderUpdate,
  PositionUpdate,
  Trade,
} from "./models.ts";

/**
 * Names of the client's streams.
 *
 * @example
 * ```ts
 * import type { StreamKind } from "./streams.ts";
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
 * import type { StreamItem } from "./streams.ts";
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
 * Options of a stream: only one instrument, and the consumer's buffer size
 * (market-data streams only; order, fill, position and error streams never drop).
 *
 * @example
 * ```ts
 * import type { StreamOptions } from "./streams.ts";
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

const MARKET_TYPES = new Set(["trade", "depth", "depthClear", "bbo"]);

/**
 * Whether an event is market data (trade, depth change or clear, best bid/offer).
 *
 * @example
 * ```ts
 * import { isMarketEvent } from "./streams.ts";
 * console.log(isMarketEvent({ type: "trade" })); // true
 * ```
 */
export function isMarketEvent(e: { readonly type: string }): boolean {
  return MARKET_TYPES.has(e.type);
}

const always = (): boolean => true;

/** How a kind's consumers treat events they cannot deliver yet. */
interface Policy {
  /** Events that may be dropped (oldest first) beyond the capacity. */
  readonly droppable: ((e: { readonly type: string }) => boolean) | undefined;
  /** Keep only the newest event per instrument. */
  readonly conflate: boolean;
}

const POLICIES: { readonly [K in StreamKind]: Policy } = {
  trades: { droppable: always, conflate: false },
  depthUpdates: { droppable: always, conflate: false },
  bookUpdates: { droppable: undefined, conflate: true },
  snapshots: { droppable: undefined, conflate: true },
  orderUpdates: { droppable: undefined, conflate: false },
  fills: { droppable: undefined, conflate: false },
  positions: { droppable: undefined, conflate: false },
  errors: { droppable: undefined, conflate: false },
  events: { droppable: isMarketEvent, conflate: false },
};

/**
 * Hooks and defaults of a {@linkcode StreamHub}.
 *
 * @example
 * ```ts
 * import type { StreamHubOptions } from "./streams.ts";
 * const o: StreamHubOptions = { capacity: 10_000, maxBuffered: 100_000 };
 * ```
 */
export interface StreamHubOptions {
  /** Default capacity of market-data consumers. */
  readonly capacity: number;
  /** Default `maxBuffered` of consumers that may not drop. */
  readonly maxBuffered: number;
  /** Number of instruments (for checking `asset`); unchecked when absent. */
  readonly assets?: number;
  /** A consumer overflowed (called after the push that overflowed, from a microtask). */
  readonly onOverflow?: (error: StreamOverflowError, kind: StreamKind, asset: number) => void;
  /** A consumer started waiting for its next event. */
  readonly onWait?: () => void;
  /** The number of consumers of `kind` changed (subscribed or removed). */
  readonly onCount?: (kind: StreamKind, count: number) => void;
}

/**
 * The consumers of every stream kind: opens subscriptions, fans events out
 * with the kind's policy, counts drops and ends every stream at close.
 *
 * @example
 * ```ts
 * import { StreamHub } from "./streams.ts";
 * const hub = new StreamHub({ capacity: 10, maxBuffered: 10 });
 * const s = hub.open("errors");
 * console.log(hub.count("errors"), hub.drops.errors); // 1 0
 * await s.cancel();
 * console.log(hub.count("errors")); // 0
 * ```
 */
export class StreamHub {
  readonly #opts: StreamHubOptions;
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
  /** Events dropped or refused, per stream kind. */
  readonly drops: Record<StreamKind, number> = {
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
  #ended = false;
  readonly #shared = new Map<StreamKind, { sub: unknown; stream: ReadableStream }>();

  /** A hub with no consumers. */
  constructor(options: StreamHubOptions) {
    this.#opts = options;
  }

  /** Whether `kind` names a stream. */
  static isKind(kind: string): kind is StreamKind {
    return Object.hasOwn(POLICIES, kind);
  }

  /**
   * A new, independent subscription to `kind`. Throws {@linkcode ValidationError}
   * for an unknown kind, an unknown asset, or a capacity that is not an integer >= 1.
   */
  open<K extends StreamKind>(kind: K, options: StreamOptions = {}): ReadableStream<StreamItem[K]> {
    if (!StreamHub.isKind(kind)) {
      throw new ValidationError(`Cannot open stream "${kind}": no such stream`);
    }
    const n = this.#opts.assets;
    const asset = options.asset;
    if (
      asset !== undefined &&
      !(Number.isInteger(asset) && asset >= 0 && (n === undefined || asset < n))
    ) {
      throw new ValidationError(`Cannot open the ${kind} stream: asset ${asset} is not configured`);
    }
    const capacity = options.capacity ?? this.#opts.capacity;
    const maxBuffered = options.maxBuffered ?? this.#opts.maxBuffered;
    for (const [name, v] of [["capacity", capacity], ["maxBuffered", maxBuffered]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new ValidationError(
          `Cannot open the ${kind} stream: ${name} ${v} is not an integer >= 1`,
        );
      }
    }
    return this.#open(kind, asset, capacity, maxBuffered).stream;
  }

  /**
   * The one shared subscription of `kind` with default options: the same
   * stream on every call while it lives (until it is cancelled or ends), so
   * that reading `client.trades` again and again does not pile up consumers.
   */
  shared<K extends StreamKind>(kind: K): ReadableStream<StreamItem[K]> {
    const s = this.#shared.get(kind);
    if (s !== undefined) return s.stream as ReadableStream<StreamItem[K]>;
    if (!StreamHub.isKind(kind)) {
      throw new ValidationError(`Cannot open stream "${kind}": no such stream`);
    }
    const sub = this.#open(kind, undefined, this.#opts.capacity, this.#opts.maxBuffered);
    this.#shared.set(kind, { sub, stream: sub.stream });
    return sub.stream;
  }

  #open<K extends StreamKind>(
    kind: K,
    asset: number | undefined,
    capacity: number,
    maxBuffered: number,
  ): Subscriber<StreamItem[K]> {
    const list = this.#subs[kind] as Subscriber<StreamItem[K]>[];
    const policy = POLICIES[kind];
    const sub = new Subscriber<StreamItem[K]>({
      kind,
      asset,
      capacity,
      maxBuffered,
      droppable: policy.droppable,
      conflate: policy.conflate,
      onDrop: (k) => (this.drops[kind] += k),
      onOverflow: (e) =>
        // After the push that overflowed (not inside it).
        queueMicrotask(() => {
          if (!this.#ended) this.#opts.onOverflow?.(e, kind, asset ?? -1);
        }),
      onWait: () => this.#opts.onWait?.(),
      onRemove: (s) => {
        if (this.#shared.get(kind)?.sub === s) this.#shared.delete(kind);
        const i = list.indexOf(s);
        if (i >= 0) {
          list.splice(i, 1);
          this.#opts.onCount?.(kind, list.length);
        }
      },
    });
    list.push(sub);
    if (this.#ended) sub.end();
    else this.#opts.onCount?.(kind, list.length);
    return sub;
  }

  /** Offers `ev` to every consumer of `kind`. */
  fan<K extends StreamKind>(kind: K, ev: StreamItem[K]): void {
    const subs = this.#subs[kind];
    for (let i = 0; i < subs.length; i++) subs[i].push(ev);
  }

  /** Consumers of `kind`. */
  count(kind: StreamKind): number {
    return this.#subs[kind].length;
  }

  /** Whether any consumer has a read pending. */
  waiting(): boolean {
    for (const k in this.#subs) {
      for (const s of this.#subs[k as StreamKind]) if (s.waiting) return true;
    }
    return false;
  }

  /** Ends every stream after what it holds (with `error`, errors them instead). */
  endAll(error?: Error): void {
    this.#ended = true;
    for (const list of Object.values(this.#subs)) {
      for (const s of [...list]) s.end(error);
    }
  }
}

/**
 * One consumer's queue behind a ReadableStream. Droppable events beyond
 * `capacity` drop the oldest droppable one; conflating queues keep only the
 * newest event per asset. Events that may not be dropped are buffered up to
 * `maxBuffered`; one more overflows the stream: it refuses (and counts) every
 * later event, delivers what it holds, then errors with
 * {@linkcode StreamOverflowError}. Pull-driven: nothing is read until the
 * consumer reads.
 *
 * @example
 * ```ts
 * import { Subscriber } from "./streams.ts";
 * const s = new Subscriber<{ type: string; asset: number }>({
 *   kind: "trades",
 *   capacity: 2,
 *   maxBuffered: 10,
 *   droppable: () => true,
 *   onDrop: () => {},
 *   onOverflow: () => {},
 *   onWait: () => {},
 *   onRemove: () => {},
 * });
 * s.push({ type: "trade", asset: 0 });
 * s.end();
 * for await (const t of s.stream) console.log(t.type);
 * ```
 */
export class Subscriber<T extends { readonly type: string }> {
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
  /** Events this consumer dropped or refused. */
  dropped = 0;

  /** Creates the consumer's queue and its stream. */
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

  /** Offers one event (filtered by asset, dropped or conflated per the policy). */
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
