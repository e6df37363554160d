/**
 * Latency histograms of the TypeScript benches: HdrHistogram (`hdr-histogram-js`, its
 * WebAssembly build, ~60 ns per record) in nanoseconds, 1 ns .. 60 s, 3 significant digits, and
 * the per-stage recorder of a feed event's timestamps. Bench code only: the module itself
 * imports nothing.
 *
 * @module
 */

// Bench code only, so an inline npm: specifier rather than an entry in deno.json's imports (the
// published module imports nothing).
// deno-lint-ignore no-import-prefix
import * as hdr from "npm:hdr-histogram-js@3.0.1";

await hdr.initWebAssembly();

/** A histogram of nanoseconds. */
export type Histogram = hdr.Histogram;

/** A new histogram of ns: 1 ns .. 60 s, 3 significant digits. */
export function histogram(): Histogram {
  return hdr.build({
    useWebAssembly: true,
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e9,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records `ns` (a negative difference of clocks as 0, beyond 60 s as 60 s). */
export function record(h: Histogram, ns: number): void {
  h.recordValue(ns > 0 ? (ns < 60e9 ? Math.round(ns) : 60e9) : 0);
}

/** Percentiles of a histogram of ns, in µs (3 decimals). */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const us = (ns: number): number => Math.round(ns) / 1e3;

/** `n`, p50 .. p99.9 and max in µs. */
export function summary(h: Histogram): Summary {
  const n = h.totalCount;
  if (n === 0) return { n, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
  return {
    n,
    p50: us(h.getValueAtPercentile(50)),
    p90: us(h.getValueAtPercentile(90)),
    p99: us(h.getValueAtPercentile(99)),
    p999: us(h.getValueAtPercentile(99.9)),
    max: us(h.maxValue),
  };
}

/** The timestamps of a feed event (ns since the epoch, the core's clock). */
export interface Stamped {
  readonly localTs: number;
  readonly engineTs: number;
  readonly wakeTs: number;
  readonly recvTs: number;
}

/** The stages of a feed event's trip, each `[from, to]`. */
export const STAGES = ["engine", "wake", "drain", "handler"] as const;

/**
 * Latency of feed events (handler time − `localTs`) and its stages: `engine` (the connector's
 * publish → the engine took it off IPC), `wake` (→ the client's wake-up reached JavaScript;
 * in poll mode: → `poll()` drained it), `drain` (→ the drain), `handler` (→ the handler ran).
 */
export class LatencyRecorder {
  readonly total: Histogram = histogram();
  readonly engine: Histogram = histogram();
  readonly wake: Histogram = histogram();
  readonly drain: Histogram = histogram();
  readonly handler: Histogram = histogram();

  /** One event seen by the handler at `now` (ns). */
  add(now: number, ev: Stamped): void {
    record(this.total, now - ev.localTs);
    record(this.engine, ev.engineTs - ev.localTs);
    record(this.wake, ev.wakeTs - ev.engineTs);
    record(this.drain, ev.recvTs - ev.wakeTs);
    record(this.handler, now - ev.recvTs);
  }

  /** The summary: the total's percentiles and each stage's. */
  json(): Summary & { stages: Record<(typeof STAGES)[number], Summary> } {
    return {
      ...summary(this.total),
      stages: {
        engine: summary(this.engine),
        wake: summary(this.wake),
        drain: summary(this.drain),
        handler: summary(this.handler),
      },
    };
  }
}

/** The summary of samples given in µs (recorded into a histogram of ns). */
export function stats(samplesUs: readonly number[]): Summary {
  const h = histogram();
  for (const v of samplesUs) record(h, v * 1e3);
  const s = summary(h);
  h.destroy();
  return s;
}
