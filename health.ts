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

import type { LatencyStats } from "./models.ts";

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
