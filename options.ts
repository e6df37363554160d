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
import type { InstrumentSpec, RateLimit } from "./orders.ts";

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
  /** Interval of the snapshots stream (ms). */
  readonly snapshotIntervalMs: number;
  /** Levels per side in snapshots. */
  readonly snapshotLevels: number;
  /** Default timeout of waits (ms). */
  readonly waitTimeoutMs: number;
  /** Finished orders kept. */
  readonly keepFinishedOrders: number;
}

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
  const wake = options.wake ?? "socket";
  if (wake !== "socket" && wake !== "wait") {
    throw new ValidationError(`Cannot connect: wake "${wake}" is not "socket" or "wait"`);
  }
  const drain = options.drainRecords ?? 4096;
  if (!Number.isInteger(drain) || drain < 1 || drain > 1 << 20) {
    throw new ValidationError(`Cannot connect: drainRecords ${drain} is not in 1..1048576`);
  }
  const instruments = options.instruments.map((i, k): InstrumentSpec => {
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
    return { connector: i.connector, symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize };
  });
  return {
    given: options,
    instruments,
    mode,
    wake,
    drainRecords: drain,
    streamCapacity: options.streamCapacity ?? 10_000,
    streamMaxBuffered: options.streamMaxBuffered ?? 100_000,
    staleAfterMs: options.staleAfterMs ?? 5000,
    snapshotIntervalMs: options.snapshotIntervalMs ?? 1000,
    snapshotLevels: options.snapshotLevels ?? 10,
    waitTimeoutMs: options.waitTimeoutMs ?? 10_000,
    keepFinishedOrders: options.keepFinishedOrders ?? 10_000,
  };
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
    poll_spin_us: o.pollSpinUs,
    register_interval_ms: o.registerIntervalMs,
    liveness_interval_ms: o.livenessIntervalMs,
    bot_id: o.botId,
    mode: o.inline ? "inline" : undefined,
  };
}
