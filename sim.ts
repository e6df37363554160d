/**
 * The embedded paper exchange: hftlive's sim connector, started inside this
 * process through the native library. It speaks hftbacktest's connector
 * protocol under a connector name, generates a seeded random-walk market,
 * matches orders and can inject faults. No keys, no network.
 *
 * @example Starting a sim and connecting to it
 * ```ts ignore
 * import { LiveClient, Sim } from "./mod.ts";
 *
 * await using sim = await Sim.start({
 *   name: "paper",
 *   instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
 *   rate: 1000,
 * });
 * await using client = await LiveClient.connect({
 *   instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 * });
 * ```
 *
 * @module
 */

import { ClosedError } from "./errors.ts";
import type { LoadOptions } from "./ffi/library.ts";
import { NativeSim } from "./ffi/native.ts";

/**
 * Faults the sim can inject (`rust/ABI.md`, "Sim faults").
 *
 * @example
 * ```ts
 * import { SimFault } from "./sim.ts";
 * console.log(SimFault.RejectOrders); // 2
 * ```
 */
export const SimFault = {
  /** value 1 pauses market data, 0 resumes it (the connector stays alive). */
  PauseMarket: 1,
  /** value = exchange error code every new order is rejected with (0 = off). */
  RejectOrders: 2,
  /** value = milliseconds by which order responses are delayed. */
  DelayMs: 3,
  /** Stop the sim as if its process exited. */
  Exit: 4,
  /** value = kind of connector `LiveError` to publish (0..3). */
  Error: 5,
} as const;
/** A {@linkcode SimFault} value. */
export type SimFault = typeof SimFault[keyof typeof SimFault];

/**
 * One instrument of the sim.
 *
 * @example
 * ```ts
 * import type { SimInstrument } from "./sim.ts";
 * const i: SimInstrument = { symbol: "ethusdt", tickSize: 0.01, lotSize: 0.001, startPrice: 3000 };
 * ```
 */
export interface SimInstrument {
  /** Symbol as the connector/exchange names it (e.g. `btcusdt`). */
  readonly symbol: string;
  /** Price tick size. */
  readonly tickSize: number;
  /** Quantity lot size. */
  readonly lotSize: number;
  /** Initial mid price. */
  readonly startPrice: number;
}

/**
 * Options of {@linkcode Sim.start}.
 *
 * @example
 * ```ts
 * import type { SimOptions } from "./sim.ts";
 * const o: SimOptions = {
 *   name: "paper-1",
 *   instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
 *   rate: 500,
 *   seed: 42,
 * };
 * ```
 */
export interface SimOptions extends LoadOptions {
  /** Connector name clients use (`instruments[].connector`); unique per running sim. */
  readonly name: string;
  /** The instruments it trades. */
  readonly instruments: readonly SimInstrument[];
  /** Market events per second over all instruments (default 1000; 0 = only the first book). */
  readonly rate?: number;
  /** Seed of the market model (default 0). */
  readonly seed?: number;
  /** Book levels per side (default 20). */
  readonly levels?: number;
  /** Share of market events that are trades (default 0.5). */
  readonly tradeRatio?: number;
  /** Emit depth deletions without LOCAL_EVENT like the real connector (default false). */
  readonly fuseDeletions?: boolean;
  /** Stop market data this long after it started, connector alive (default 0 = never). */
  readonly staleAfterMs?: number;
  /** Idle sleep of the sim thread in µs (default 50; 0 spins). */
  readonly pollUs?: number;
  /** Largest book level in lots (default 50). */
  readonly maxLevelLots?: number;
  /** Answer cancels of finished orders like the real connector (default true). */
  readonly cancelRace?: boolean;
  /**
   * Report an aggressive order's executions in one update with the cumulative
   * quantity and no price, like the real binancefutures connector forwarding a
   * REST answer (default false: one update per execution).
   */
  readonly restFills?: boolean;
  /**
   * Wrap every depth message in `BatchStart`/`BatchEnd` to all bots, like the
   * binancefutures connector (default true).
   */
  readonly depthBatches?: boolean;
  /**
   * When market events arrive: `"periodic"` (default, every `1 / rate` s) or
   * `"poisson"` (exponential gaps of mean `1 / rate`, seeded by `seed`).
   */
  readonly arrivals?: "periodic" | "poisson";
  /**
   * Market events per arrival (default 1): `burst` events back to back, arrivals
   * at `rate / burst` (the mean rate stays `rate`).
   */
  readonly burst?: number;
  /**
   * Replay recorded `.npz` files (written by `client.record()`, or hftbacktest data)
   * instead of the random walk: `files` in order for the only instrument, or by symbol; `speed`
   * a multiple of the recorded speed (default 1; 0 = as fast as possible). The first file's
   * leading snapshot is the initial book (`startPrice` is then unused); orders are matched by
   * the sim against the replayed book and trades.
   */
  readonly replay?: {
    readonly files: readonly string[] | Readonly<Record<string, readonly string[]>>;
    readonly speed?: number;
  };
}

/**
 * Counters of a sim (`hl_sim_stats`).
 *
 * @example
 * ```ts
 * import type { SimStats } from "./sim.ts";
 * const fills = (s: SimStats): number => s.fills;
 * ```
 */
export interface SimStats {
  /** Market events published. */
  readonly marketEvents: number;
  /** Order requests received. */
  readonly ordersReceived: number;
  /** Orders acknowledged. */
  readonly acks: number;
  /** Fills. */
  readonly fills: number;
  /** Orders canceled on request. */
  readonly cancels: number;
  /** Orders rejected. */
  readonly rejects: number;
  /** Registrations answered. */
  readonly registrations: number;
  /** Registration batches sent. */
  readonly batchesSent: number;
  /** IPC messages published. */
  readonly messagesSent: number;
  /** Orders expired. */
  readonly expired: number;
  /** IPC errors. */
  readonly ipcErrors: number;
  /** The sim thread is running. */
  readonly running: boolean;
  /** Orders resting in the sim's books now. */
  readonly restingOrders: number;
  /** Instruments whose replay still has events to publish (0 once every replay ended). */
  readonly replaying: number;
}

/**
 * A running in-process sim connector. `stop()` (or `await using`) ends it;
 * it is idempotent.
 *
 * @example
 * ```ts ignore
 * import { Sim, SimFault } from "./sim.ts";
 * const sim = await Sim.start({
 *   name: `demo-${Deno.pid}`,
 *   instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
 * });
 * sim.fault(SimFault.PauseMarket, 1);
 * sim.stop();
 * ```
 */
export class Sim {
  readonly #native: NativeSim;
  #stopped = false;
  #exited = false;
  /** The connector name. */
  readonly name: string;

  private constructor(native: NativeSim, name: string) {
    this.#native = native;
    this.name = name;
  }

  /**
   * Starts a sim; loads the native library first if needed (hence async).
   * Rejects with a `ValidationError` for a bad configuration.
   *
   * @example
   * ```ts ignore
   * import { Sim } from "./sim.ts";
   * using sim = await Sim.start({
   *   name: "paper",
   *   instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
   * });
   * ```
   */
  static async start(options: SimOptions): Promise<Sim> {
    // Keys left undefined take the sim's default (JSON.stringify leaves them out).
    const cfg = {
      name: options.name,
      instruments: (options.instruments ?? []).map((i) => ({
        symbol: i.symbol,
        tick_size: i.tickSize,
        lot_size: i.lotSize,
        start_price: i.startPrice,
      })),
      rate: options.rate,
      seed: options.seed,
      levels: options.levels,
      trade_ratio: options.tradeRatio,
      fuse_deletions: options.fuseDeletions,
      stale_after_ms: options.staleAfterMs,
      poll_us: options.pollUs,
      max_level_lots: options.maxLevelLots,
      cancel_race: options.cancelRace,
      rest_fills: options.restFills,
      depth_batches: options.depthBatches,
      arrivals: options.arrivals,
      burst: options.burst,
      replay: options.replay,
    };
    return new Sim(await NativeSim.start(cfg, options), options.name);
  }

  /** True once stopped. */
  get stopped(): boolean {
    return this.#stopped;
  }

  #check(what: string): void {
    if (this.#stopped || this.#exited) {
      throw new ClosedError(`${what}: the sim "${this.name}" is stopped`);
    }
  }

  /**
   * Injects a fault (see {@linkcode SimFault}).
   *
   * @example
   * ```ts ignore
   * sim.fault(SimFault.RejectOrders, -2019); // reject every new order with code -2019
   * ```
   */
  fault(fault: SimFault, value = 0): void {
    this.#check(`Cannot inject fault ${fault}`);
    this.#native.fault(fault, value);
    if (fault === SimFault.Exit) this.#exited = true;
  }

  /** Pauses (true) or resumes (false) market data; the connector stays alive. */
  pauseMarket(paused = true): void {
    this.fault(SimFault.PauseMarket, paused ? 1 : 0);
  }

  /** Rejects every new order with `code` (0 turns it off). */
  rejectOrders(code: number): void {
    this.fault(SimFault.RejectOrders, code);
  }

  /** Delays order responses by `ms`. */
  delayOrders(ms: number): void {
    this.fault(SimFault.DelayMs, ms);
  }

  /** Publishes a connector `LiveError` of `kind` (0 ConnectionInterrupted .. 3 Custom). */
  publishError(kind: number): void {
    this.fault(SimFault.Error, kind);
  }

  /** Counters of the sim. */
  stats(): SimStats {
    this.#check("Cannot read sim stats");
    const { running, ...counts } = this.#native.stats();
    return { ...counts, running: running !== 0 };
  }

  /**
   * The sim's true book of instrument `asset` (its index in `instruments`), best first, as
   * `[price, qty]` pairs: what the exchange holds, to compare a client's book against.
   *
   * @example Compare a client's book with the exchange's
   * ```ts ignore
   * const truth = sim.book(0, 20);
   * const mine = client.depth(0, 20);
   * console.log(truth.bids[0], mine.bids[0]);
   * ```
   */
  book(asset = 0, levels = 20): { bids: [number, number][]; asks: [number, number][] } {
    this.#check("Cannot read the sim's book");
    const { bids, asks } = this.#native.book(asset, levels);
    return {
      bids: bids.map((l) => [l.price, l.qty]),
      asks: asks.map((l) => [l.price, l.qty]),
    };
  }

  /** Stops the sim (idempotent). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#native.stop();
  }

  /** Stops the sim. */
  [Symbol.dispose](): void {
    this.stop();
  }

  /** Stops the sim. */
  [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    return Promise.resolve();
  }
}
