/**
 * Connection health and latency statistics.
 *
 * {@linkcode LatencyWindow} keeps the last N samples (nanoseconds) in a ring
 * and computes percentiles on demand; {@linkcode RateCounter} counts events
 * per second per type. The client's `health` getter assembles them into a
 * {@linkcode ConnectionHealth} snapshot.
 *
 * @example
 * ```ts
 * import { LatencyWindow } from "./health.ts";
 * const w = new LatencyWindow(128);
 * for (const v of [10, 20, 30, 40]) w.add(v);
 * console.log(w.stats().p50); // 20
 * ```
 *
 * @module
 */

import type {
  BookUpdate,
  ConnectionHealth,
  InstrumentHealth,
  LatencyStats,
  Order,
  RequestStats,
  Trade,
} from "./models.ts";
import { isTerminalStatus, OrderStatus } from "./models.ts";

/**
 * A rolling window of latency samples with nearest-rank percentiles.
 *
 * @example
 * ```ts
 * import { LatencyWindow } from "./health.ts";
 * const w = new LatencyWindow();
 * w.add(1500);
 * console.log(w.stats().last); // 1500
 * ```
 */
export class LatencyWindow {
  readonly #buf: Float64Array;
  #n = 0;
  #next = 0;
  #last = NaN;
  #maxEver = NaN;
  #added = 0;

  /** A window of the last `size` samples (default 4096). */
  constructor(size = 4096) {
    this.#buf = new Float64Array(size);
  }

  /** Adds a sample; NaN and negative values (clock skew) are kept as given except NaN. */
  add(v: number): void {
    if (v !== v) return; // NaN
    this.#buf[this.#next] = v;
    this.#next = (this.#next + 1) % this.#buf.length;
    if (this.#n < this.#buf.length) this.#n++;
    this.#last = v;
    if (!(v <= this.#maxEver)) this.#maxEver = v;
    this.#added++;
  }

  /** Samples added since creation (a mark for {@linkcode LatencyWindow.since}). */
  get added(): number {
    return this.#added;
  }

  /**
   * The samples added after `mark` (a value of {@linkcode LatencyWindow.added}),
   * oldest first; at most the window's size (the older ones are gone).
   */
  since(mark: number): Float64Array {
    const k = Math.min(this.#added - mark, this.#n);
    if (!(k > 0)) return new Float64Array(0);
    const size = this.#buf.length;
    const start = (this.#next - k + size) % size;
    if (start + k <= size) return this.#buf.slice(start, start + k);
    const out = new Float64Array(k);
    out.set(this.#buf.subarray(start));
    out.set(this.#buf.subarray(0, k - (size - start)), size - start);
    return out;
  }

  /** Samples in the window. */
  get count(): number {
    return this.#n;
  }

  /** Last value and p50/p90/p99/max over the window (NaN when empty). */
  stats(): LatencyStats {
    const n = this.#n;
    if (n === 0) return { last: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, count: 0 };
    const s = this.#buf.slice(0, n).sort();
    const at = (q: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
    return { last: this.#last, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[n - 1], count: n };
  }

  /** Largest sample ever added (not only in the window). */
  get maxEver(): number {
    return this.#maxEver;
  }
}

/**
 * Counts events per type and reports the rate over the last completed second.
 *
 * @example
 * ```ts
 * import { RateCounter } from "./health.ts";
 * const r = new RateCounter();
 * r.add("trade", 3, 0);
 * r.add("trade", 1, 1_000_000_001);
 * console.log(r.perSecond()); // 3
 * ```
 */
export class RateCounter {
  #windowStart = 0;
  #current = new Map<string, number>();
  #lastRates = new Map<string, number>();
  #lastTotal = 0;
  #currentTotal = 0;
  /** Events counted since creation. */
  total = 0;

  /** Counts `n` events of `type` at time `nowNs`. */
  add(type: string, n: number, nowNs: number): void {
    this.roll(nowNs);
    this.#current.set(type, (this.#current.get(type) ?? 0) + n);
    this.#currentTotal += n;
    this.total += n;
  }

  /** Closes the current one-second window if it is over. */
  roll(nowNs: number): void {
    if (this.#windowStart === 0) {
      this.#windowStart = nowNs;
      return;
    }
    const elapsed = nowNs - this.#windowStart;
    if (elapsed < 1e9) return;
    if (elapsed < 2e9) {
      this.#lastRates = this.#current;
      this.#lastTotal = this.#currentTotal;
    } else {
      // A whole second or more passed with no events.
      this.#lastRates = new Map();
      this.#lastTotal = 0;
    }
    this.#current = new Map();
    this.#currentTotal = 0;
    this.#windowStart = nowNs;
  }

  /** Events per second over the last completed second. */
  perSecond(): number {
    return this.#lastTotal;
  }

  /** Events per second per type over the last completed second. */
  perSecondByType(): Record<string, number> {
    return Object.fromEntries(this.#lastRates);
  }
}

/**
 * The parts of a {@linkcode ConnectionHealth} snapshot that the recorder does not hold.
 *
 * @example
 * ```ts
 * import type { HealthParts } from "./health.ts";
 * const p: HealthParts = {
 *   connected: true, connectors: { bf: true }, instruments: [], streamDrops: {}, rateLimited: 0,
 *   engineDrops: 0,
 *   requests: {
 *     queued: 0, inFlight: 0, sent: 0, unanswered: 0, refused: 0, adopted: 0, window: 0,
 *     maxQueued: 0,
 *   },
 * };
 * ```
 */
export interface HealthParts {
  /** Every connector is up. */
  readonly connected: boolean;
  /** Per connector name: up or not. */
  readonly connectors: Readonly<Record<string, boolean>>;
  /** Per-instrument health. */
  readonly instruments: readonly InstrumentHealth[];
  /** Drops per stream kind. */
  readonly streamDrops: Readonly<Record<string, number>>;
  /** Requests refused by the rate limit. */
  readonly rateLimited: number;
  /** Market records the engine dropped (its own counter, read now). */
  readonly engineDrops: number;
  /** The core's requests (read now). */
  readonly requests: RequestStats;
}

/**
 * The latency windows, rates and counters of one client, filled in as events
 * are processed and assembled into a {@linkcode ConnectionHealth} on demand.
 * Event kinds are counted in batches by a small integer (`kindNames[kind]` is
 * the name reported in `eventsPerSecondByType`).
 *
 * @example
 * ```ts
 * import { HealthRecorder } from "./health.ts";
 * const h = new HealthRecorder(["", "trade"]);
 * h.count(1);
 * h.endBatch(1e9);
 * console.log(h.eventsTotal); // 1
 * ```
 */
export class HealthRecorder {
  readonly #kindNames: readonly string[];
  readonly #batch: Float64Array;
  readonly #feed = new LatencyWindow();
  readonly #feedExchLocal = new LatencyWindow();
  readonly #feedLocalJs = new LatencyWindow();
  readonly #orderRtt = new LatencyWindow();
  readonly #orderReqExch = new LatencyWindow();
  readonly #orderExchResp = new LatencyWindow();
  readonly #rates = new RateCounter();
  readonly #errors: Record<string, number> = {};
  readonly #feedFrom: number[] = [];
  /** When the last batch of events was processed (ns). */
  lastEventAt = 0;
  /** Drops the engine reported in order with `dropped` events. */
  engineDropsReported = 0;
  /** Records of unknown kind skipped. */
  unknownRecords = 0;
  /** Fills whose price does not cover all their quantity. */
  inexactFills = 0;
  /** Illegal order status transitions reported. */
  illegalTransitions = 0;
  /** Times a connector came back. */
  reconnects = 0;
  /** Exceptions thrown by callbacks. */
  callbackErrors = 0;

  /** A recorder for event kinds `0 .. kindNames.length - 1`. */
  constructor(kindNames: readonly string[]) {
    this.#kindNames = kindNames;
    this.#batch = new Float64Array(kindNames.length);
  }

  /** The feed latency window (exchange → JavaScript), read by the monitoring page. */
  get feedWindow(): LatencyWindow {
    return this.#feed;
  }

  /** The order round-trip window (request → first response), read by the monitoring page. */
  get orderWindow(): LatencyWindow {
    return this.#orderRtt;
  }

  /** Counts one event of `kind` in the current batch. */
  count(kind: number): void {
    this.#batch[kind]++;
  }

  /** Closes a batch of events processed at `now` (ns): rates and `lastEventAt`. */
  endBatch(now: number): void {
    this.lastEventAt = now;
    const counts = this.#batch;
    for (let k = 1; k < counts.length; k++) {
      if (counts[k] > 0) {
        this.#rates.add(this.#kindNames[k], counts[k], now);
        counts[k] = 0;
      }
    }
  }

  /** Rolls the rate window (call on idle ticks). */
  roll(now: number): void {
    this.#rates.roll(now);
  }

  /**
   * Feed latency counts for `asset` from `ts` on (its registration): events
   * published before that were queued while the client was connecting, and
   * their latency is the connect time, not the feed's.
   */
  feedFrom(asset: number, ts: number): void {
    this.#feedFrom[asset] = ts;
  }

  /** Feed latency samples of a trade or best bid/offer with real timestamps. */
  market(ev: Trade | BookUpdate): void {
    if (!(ev.localTs >= this.#feedFrom[ev.asset])) return; // before registration (or unknown)
    this.#feed.add(ev.recvTs - ev.exchTs);
    this.#feedExchLocal.add(ev.localTs - ev.exchTs);
    this.#feedLocalJs.add(ev.recvTs - ev.localTs);
  }

  /** Order latency, when `ev` is the first response to the request `previous` was waiting on. */
  orderUpdate(ev: Order & { readonly recvTs: number }, previous: Order | undefined): void {
    if (previous === undefined || previous.req === OrderStatus.None || previous.requestTs <= 0) {
      return;
    }
    const settled = ev.req === OrderStatus.None || isTerminalStatus(ev.status) ||
      (previous.req === OrderStatus.New && previous.status === OrderStatus.None);
    if (!settled) return;
    this.#orderRtt.add(ev.recvTs - previous.requestTs);
    if (ev.exchTs > 0) {
      this.#orderReqExch.add(ev.exchTs - previous.requestTs);
      this.#orderExchResp.add(ev.recvTs - ev.exchTs);
    }
  }

  /** Counts an error by kind name. */
  error(name: string): void {
    this.#errors[name] = (this.#errors[name] ?? 0) + 1;
  }

  /** Events counted in total. */
  get eventsTotal(): number {
    return this.#rates.total;
  }

  /** The snapshot, from what the recorder holds and `parts`. */
  snapshot(parts: HealthParts): ConnectionHealth {
    return {
      connected: parts.connected,
      connectors: parts.connectors,
      instruments: parts.instruments,
      lastEventAt: this.lastEventAt,
      feedLatency: this.#feed.stats(),
      feedExchangeToLocal: this.#feedExchLocal.stats(),
      feedLocalToJs: this.#feedLocalJs.stats(),
      orderLatency: this.#orderRtt.stats(),
      orderRequestToExchange: this.#orderReqExch.stats(),
      orderExchangeToResponse: this.#orderExchResp.stats(),
      eventsPerSecond: this.#rates.perSecond(),
      eventsPerSecondByType: this.#rates.perSecondByType(),
      eventsTotal: this.#rates.total,
      engineDrops: Math.max(parts.engineDrops, this.engineDropsReported),
      engineDropsReported: this.engineDropsReported,
      unknownRecords: this.unknownRecords,
      inexactFills: this.inexactFills,
      streamDrops: { ...parts.streamDrops },
      rateLimited: parts.rateLimited,
      illegalTransitions: this.illegalTransitions,
      errors: { ...this.#errors },
      reconnects: this.reconnects,
      callbackErrors: this.callbackErrors,
      requests: parts.requests,
    };
  }
}
