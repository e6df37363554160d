/**
 * Options of `LiveClient.connect`: their types, defaults and validation, and
 * the JSON configuration of the native core built from them.
 *
 * @example
 * ```ts
 * import { nativeConfig, resolveOptions } from "./options.ts";
 * const o = resolveOptions({
 *   instruments: [{ connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 * });
 * console.log(o.mode, o.streamCapacity, JSON.stringify(nativeConfig(o)));
 * ```
 *
 * @module
 */

import { ValidationError } from "./errors.ts";
import type { InstrumentSpec, RateLimit, Rounding } from "./orders.ts";

/**
 * How an instrument's book is kept: hftbacktest's `HashMapMarketDepth`, or
 * its `ROIVectorMarketDepth` over a price range of interest.
 *
 * @example
 * ```ts
 * import type { DepthKind } from "./options.ts";
 * const roi: DepthKind = { roi: [40_000, 60_000] };
 * ```
 */
export type DepthKind = "hashmap" | { readonly roi: readonly [number, number] };

/**
 * One instrument to trade: the connector it comes from and its grid.
 *
 * @example
 * ```ts
 * import type { InstrumentOptions } from "./options.ts";
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
 * import type { ConnectOptions } from "./options.ts";
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
  /**
   * `engineWait: "adaptive"`: how long the engine keeps yielding (a busy core)
   * after the last activity before it sleeps between polls, in µs (default 200).
   */
  readonly engineSpinUs?: number;
  /**
   * Timer slack of the engine's thread in ns (Linux; for an inline client the
   * thread that polls it). Linux's default of 50 µs stretches every idle
   * sleep of the engine to ~55 µs, which is then the wait of an event that
   * arrives while the engine sleeps; a smaller slack wakes it more often
   * (more CPU). Unset: the thread's own.
   */
  readonly engineTimerSlackNs?: number;
  /**
   * Stream mode: wake the event loop every this many ms while the client is
   * open (an empty, unref'd timer; 0, the default: never), so that an event
   * after a quiet spell finds the thread warm. At 50 trades/s on a shared
   * 2-vCPU VM, 1 ms cut the stream's p50 from 350 to 285 µs and callbacks'
   * from 256 to 197 µs (README, "Benchmarks"); it cost about 0.015 of a core
   * (main thread 0.009–0.010 → 0.023–0.027 cores at 50 trades/s).
   */
  readonly keepWarmMs?: number;
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
  /**
   * How order prices and quantities go to the grid: `"conservative"` (default;
   * never larger or more aggressive than asked: quantity down to the lot, buy
   * price down and sell price up to the tick) or `"nearest"` (hftbacktest's
   * rule, `Math.round(value / step)`).
   */
  readonly rounding?: Rounding;
  /**
   * Cancel every resting order when the client goes away: on `close()`, on
   * leaving an `await using` scope (also by an exception), on SIGINT and
   * SIGTERM (the client closes, then the process exits with 130/143). Default
   * true: an order left resting with nobody watching it is the failure that
   * costs money; a strategy that wants its orders to outlive the process says
   * so with `false` (and can find them again from a new client).
   */
  readonly cancelOnExit?: boolean;
  /** How long `close()` waits for the exchange to confirm those cancels (ms, default 5000). */
  readonly exitTimeoutMs?: number;
  /**
   * Requests sent to a connector and not answered yet, at most (per connector).
   * The connector's IPC buffer overwrites the oldest unread request when it is
   * full, so the core paces sends: beyond this many, requests wait in its
   * queue. Default: half the connector's buffer (`buffer_size`).
   */
  readonly maxInFlight?: number;
  /**
   * Requests waiting to be sent, at most (default 1,000,000): one more submit
   * or cancel throws {@linkcode BackpressureError} with nothing queued.
   */
  readonly maxQueuedRequests?: number;
  /**
   * A request unanswered this long is reported on `errors` (an unanswered
   * cancel can then be sent again; ms, default 10000).
   */
  readonly requestTimeoutMs?: number;
  /**
   * Take over the active orders the connector reports when an instrument
   * registers (default true): orders a dead client left resting become this
   * client's, listed by `orders()` and cancelled by `cancelAll()`. Set false
   * when several bots trade the same symbol through one connector (the
   * protocol does not say which bot placed an order).
   */
  readonly adoptOrders?: boolean;
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
 * Connect options with every default filled in, checked.
 *
 * @example
 * ```ts
 * import { type ResolvedOptions, resolveOptions } from "./options.ts";
 * const r: ResolvedOptions = resolveOptions({
 *   instruments: [{ connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 * });
 * console.log(r.waitTimeoutMs); // 10000
 * ```
 */
export interface ResolvedOptions {
  /** What the caller passed. */
  readonly given: ConnectOptions;
  /** The instruments, by asset index. */
  readonly instruments: readonly InstrumentSpec[];
  /** "stream" or "poll". */
  readonly mode: "stream" | "poll";
  /** The preferred wake-up of a stream-mode client. */
  readonly wake: "socket" | "wait";
  /** Records drained per native call. */
  readonly drainRecords: number;
  /** Default capacity of market-data streams. */
  readonly streamCapacity: number;
  /** Default limit of unread events that may not be dropped. */
  readonly streamMaxBuffered: number;
  /** Staleness threshold (ms). */
  readonly staleAfterMs: number;
  /** Period of the keep-warm timer (ms; 0: none). */
  readonly keepWarmMs: number;
  /** Interval of the snapshots stream (ms). */
  readonly snapshotIntervalMs: number;
  /** Levels per side in snapshots. */
  readonly snapshotLevels: number;
  /** Default timeout of waits (ms). */
  readonly waitTimeoutMs: number;
  /** Finished orders kept. */
  readonly keepFinishedOrders: number;
  /** Rounding of order prices and quantities. */
  readonly rounding: Rounding;
  /** Cancel resting orders when the client goes away. */
  readonly cancelOnExit: boolean;
  /** How long close() waits for those cancels (ms). */
  readonly exitTimeoutMs: number;
}

const NATIVE_ONLY = ["maxInFlight", "maxQueuedRequests", "requestTimeoutMs", "adoptOrders"];

/**
 * Fills in the defaults of `options` and checks what the client itself uses
 * (the core checks the rest when it parses {@linkcode nativeConfig}). Throws
 * {@linkcode ValidationError} naming the option.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./options.ts";
 * try {
 *   resolveOptions({ instruments: [] });
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot connect: instruments must be a non-empty array
 * }
 * ```
 */
export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    throw new ValidationError("Cannot connect: the options are not an object");
  }
  const unknown = Object.keys(options).filter((k) => !OPTION_NAMES.has(k));
  if (unknown.length > 0) {
    throw new ValidationError(
      `Cannot connect: unknown option${unknown.length > 1 ? "s" : ""} ${
        unknown.map((k) => `"${k}"`).join(", ")
      }`,
    );
  }
  const o = options;
  if (!Array.isArray(o.instruments) || o.instruments.length === 0) {
    throw new ValidationError("Cannot connect: instruments must be a non-empty array");
  }
  const mode = oneOf("mode", o.mode, ["stream", "poll"] as const, "stream");
  bool("inline", o.inline, false);
  if (o.inline && mode !== "poll") {
    throw new ValidationError('Cannot connect: inline: true needs mode "poll"');
  }
  if (o.libPath !== undefined && (typeof o.libPath !== "string" || o.libPath.length === 0)) {
    throw new ValidationError("Cannot connect: libPath is not a non-empty string");
  }
  if (o.ready !== undefined && typeof o.ready !== "boolean") timeout("ready", o.ready);
  if (o.ringCapacity !== undefined) {
    int("ringCapacity", o.ringCapacity, 64, MAX_RING);
    if ((o.ringCapacity & (o.ringCapacity - 1)) !== 0) {
      throw new ValidationError(
        `Cannot connect: ringCapacity ${o.ringCapacity} is not a power of two`,
      );
    }
  }
  oneOf("engineWait", o.engineWait, ENGINE_WAITS, "adaptive");
  if (o.pollSpinUs !== undefined) int("pollSpinUs", o.pollSpinUs, 0, 1_000_000);
  if (o.engineSpinUs !== undefined) int("engineSpinUs", o.engineSpinUs, 0, 60_000_000);
  if (o.engineTimerSlackNs !== undefined) {
    int("engineTimerSlackNs", o.engineTimerSlackNs, 1, 1_000_000_000);
  }
  if (o.registerIntervalMs !== undefined) {
    int("registerIntervalMs", o.registerIntervalMs, 1, 60_000);
  }
  if (o.livenessIntervalMs !== undefined) {
    int("livenessIntervalMs", o.livenessIntervalMs, 1, 60_000);
  }
  if (o.botId !== undefined) int("botId", o.botId, 1, Number.MAX_SAFE_INTEGER);
  if (o.maxInFlight !== undefined) int("maxInFlight", o.maxInFlight, 1, 1_000_000);
  if (o.maxQueuedRequests !== undefined) {
    int("maxQueuedRequests", o.maxQueuedRequests, 1, 100_000_000);
  }
  if (o.requestTimeoutMs !== undefined) {
    int("requestTimeoutMs", o.requestTimeoutMs, 1, MAX_TIMER_MS);
  }
  bool("adoptOrders", o.adoptOrders, true);
  if (o.rateLimit !== undefined) {
    const r = o.rateLimit;
    if (r === null || typeof r !== "object") {
      throw new ValidationError("Cannot connect: rateLimit is not an object { rate, burst? }");
    }
    if (!(typeof r.rate === "number" && Number.isFinite(r.rate) && r.rate > 0)) {
      throw new ValidationError(`Cannot connect: rateLimit.rate ${r.rate} is not above 0`);
    }
    if (
      r.burst !== undefined && !(typeof r.burst === "number" && r.burst >= 1 && r.burst < Infinity)
    ) {
      throw new ValidationError(`Cannot connect: rateLimit.burst ${r.burst} is not at least 1`);
    }
  }
  if (o.depth !== undefined) checkDepth(o.depth, "depth");
  const instruments = o.instruments.map((i, k): InstrumentSpec => {
    const what = `instrument ${k}`;
    if (i === null || typeof i !== "object") {
      throw new ValidationError(`Cannot connect: ${what} is not an object`);
    }
    for (const f of ["connector", "symbol"] as const) {
      const v = i[f];
      if (typeof v !== "string" || v.length === 0 || v.length > MAX_NAME) {
        throw new ValidationError(
          `Cannot connect: ${what}: ${f} ${
            JSON.stringify(v)
          } is not a string of 1..${MAX_NAME} characters`,
        );
      }
    }
    for (const f of ["tickSize", "lotSize"] as const) {
      if (!(typeof i[f] === "number" && Number.isFinite(i[f]) && i[f] > 0)) {
        throw new ValidationError(
          `Cannot connect: ${what} (${i.connector}/${i.symbol}): ${f} ${i[f]} is not above 0`,
        );
      }
    }
    if (i.depth !== undefined) checkDepth(i.depth, `${what}.depth`);
    if (o.instruments.findIndex((j) => j.connector === i.connector && j.symbol === i.symbol) < k) {
      throw new ValidationError(
        `Cannot connect: ${what} (${i.connector}/${i.symbol}) is listed twice`,
      );
    }
    return { connector: i.connector, symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize };
  });
  return {
    given: o,
    instruments,
    mode,
    wake: oneOf("wake", o.wake, ["socket", "wait"] as const, "socket"),
    drainRecords: int("drainRecords", o.drainRecords ?? 4096, 1, 1 << 20),
    streamCapacity: int("streamCapacity", o.streamCapacity ?? 10_000, 1, 100_000_000),
    streamMaxBuffered: int("streamMaxBuffered", o.streamMaxBuffered ?? 100_000, 1, 100_000_000),
    staleAfterMs: timeout("staleAfterMs", o.staleAfterMs ?? 5000),
    keepWarmMs: int("keepWarmMs", o.keepWarmMs ?? 0, 0, 60_000),
    snapshotIntervalMs: int("snapshotIntervalMs", o.snapshotIntervalMs ?? 1000, 1, MAX_TIMER_MS),
    snapshotLevels: int("snapshotLevels", o.snapshotLevels ?? 10, 1, 100_000),
    waitTimeoutMs: timeout("waitTimeoutMs", o.waitTimeoutMs ?? 10_000),
    keepFinishedOrders: int("keepFinishedOrders", o.keepFinishedOrders ?? 10_000, 0, 100_000_000),
    rounding: oneOf("rounding", o.rounding, ["conservative", "nearest"] as const, "conservative"),
    cancelOnExit: bool("cancelOnExit", o.cancelOnExit, true),
    exitTimeoutMs: timeout("exitTimeoutMs", o.exitTimeoutMs ?? 5000),
  };
}

/** The longest delay a timer takes (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The largest ring (records of 64 bytes: 1 GiB). */
const MAX_RING = 1 << 24;

/** Longest connector or symbol name (iceoryx2 service names hold 255 bytes with the suffix). */
const MAX_NAME = 200;

const ENGINE_WAITS = ["spin", "yield", "sleep", "node_wait", "adaptive"] as const;

const OPTION_NAMES = new Set([
  "instruments",
  "depth",
  "mode",
  "inline",
  "libPath",
  "ready",
  "ringCapacity",
  "engineWait",
  "engineSpinUs",
  "engineTimerSlackNs",
  "pollSpinUs",
  "keepWarmMs",
  "registerIntervalMs",
  "livenessIntervalMs",
  "botId",
  "streamCapacity",
  "streamMaxBuffered",
  "keepFinishedOrders",
  "staleAfterMs",
  "rateLimit",
  "snapshotIntervalMs",
  "snapshotLevels",
  "waitTimeoutMs",
  "drainRecords",
  "wake",
  "rounding",
  "cancelOnExit",
  "exitTimeoutMs",
  ...NATIVE_ONLY,
]);

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(
      `Cannot connect: ${name} ${String(v)} is not an integer in ${min}..${max}`,
    );
  }
  return v;
}

function bool(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") {
    throw new ValidationError(`Cannot connect: ${name} ${String(v)} is not a boolean`);
  }
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, values: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!values.includes(v as T)) {
    throw new ValidationError(
      `Cannot connect: ${name} ${JSON.stringify(v)} is not one of ${
        values.map((x) => `"${x}"`).join(", ")
      }`,
    );
  }
  return v as T;
}

/**
 * Checks a duration in milliseconds: a number in `0 ..= 2^31 - 1`, or
 * `Infinity` for "no limit". Returns it. `what` prefixes the message.
 *
 * @example
 * ```ts
 * import { checkTimeout } from "./options.ts";
 * console.log(checkTimeout(1500, "Cannot wait", "timeoutMs")); // 1500
 * ```
 */
export function checkTimeout(ms: unknown, what: string, name: string): number {
  if (
    typeof ms !== "number" || Number.isNaN(ms) || ms < 0 || (ms > MAX_TIMER_MS && ms !== Infinity)
  ) {
    throw new ValidationError(
      `${what}: ${name} ${String(ms)} is not a number of ms in 0..${MAX_TIMER_MS} (or Infinity)`,
    );
  }
  return ms;
}

function timeout(name: string, v: unknown): number {
  return checkTimeout(v, "Cannot connect", name);
}

function checkDepth(d: unknown, name: string): void {
  if (d === "hashmap") return;
  const roi = (d as { roi?: unknown } | null)?.roi;
  if (
    Array.isArray(roi) && roi.length === 2 && roi.every((x) => typeof x === "number") &&
    Number.isFinite(roi[0]) && Number.isFinite(roi[1]) && roi[0] >= 0 && roi[0] < roi[1]
  ) {
    return;
  }
  throw new ValidationError(
    `Cannot connect: ${name} ${
      JSON.stringify(d)
    } is not "hashmap" or { roi: [lower, upper] } with 0 <= lower < upper`,
  );
}

function depthJson(d: DepthKind | undefined): unknown {
  return d === undefined ? undefined : d === "hashmap" ? "hashmap" : { roi: [d.roi[0], d.roi[1]] };
}

/**
 * The native core's JSON configuration (`rust/ABI.md`, "Client configuration").
 *
 * @example
 * ```ts
 * import { nativeConfig, resolveOptions } from "./options.ts";
 * const cfg = nativeConfig(resolveOptions({
 *   instruments: [{ connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 *   engineWait: "spin",
 * }));
 * console.log(cfg.engine_wait); // "spin"
 * ```
 */
export function nativeConfig(r: ResolvedOptions): Record<string, unknown> {
  const o = r.given;
  // Keys left undefined take the core's default (JSON.stringify leaves them out).
  return {
    instruments: r.instruments.map((i, k) => ({
      connector: i.connector,
      symbol: i.symbol,
      tick_size: i.tickSize,
      lot_size: i.lotSize,
      depth: depthJson(o.instruments[k].depth),
    })),
    depth: depthJson(o.depth),
    ring_capacity: o.ringCapacity,
    engine_wait: o.engineWait,
    engine_spin_us: o.engineSpinUs,
    engine_timer_slack_ns: o.engineTimerSlackNs,
    poll_spin_us: o.pollSpinUs,
    register_interval_ms: o.registerIntervalMs,
    liveness_interval_ms: o.livenessIntervalMs,
    bot_id: o.botId,
    mode: o.inline ? "inline" : undefined,
    max_in_flight: o.maxInFlight,
    max_queued_requests: o.maxQueuedRequests,
    request_timeout_ms: o.requestTimeoutMs,
    adopt_orders: o.adoptOrders,
    cancel_on_exit: r.cancelOnExit,
    exit_timeout_ms: r.exitTimeoutMs === Infinity ? undefined : r.exitTimeoutMs,
  };
}

/** The faults {@linkcode LiveClient.injectFault} knows, in the core's numbering (1, 2, …). */
export const CLIENT_FAULTS: readonly ClientFault[] = [
  "enginePanic",
  "unknownRecord",
  "flood",
  "floodStop",
];

/**
 * A fault to inject into the native core, for testing how a strategy copes:
 * `"enginePanic"` makes the native engine panic at its next step, as a bug
 * in the core would. A stream-mode client then reports the failure on
 * `errors` and to `error` callbacks and closes itself (streams deliver what
 * they hold, then error; waits reject); in poll mode `poll()` throws
 * `NativeError` (status -12, `HL_E_ENGINE`) from then on.
 * `"unknownRecord"` makes the engine emit one record of a kind this module
 * does not know (as a newer core would): it is skipped, counted in
 * `health.unknownRecords` and reported once on `errors`. `"flood"` starts
 * the test producer: the engine fills its ring with trades of asset 0 whose
 * `price` is a sequence number (0, 1, 2, …) as fast as the client drains
 * them, never dropping one (a producer that is not the bottleneck, for
 * throughput benchmarks); `"floodStop"` stops it. Only a library built with
 * the cargo feature `fault-injection` has them; others throw `NativeError`.
 */
export type ClientFault = "enginePanic" | "unknownRecord" | "flood" | "floodStop";
