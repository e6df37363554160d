/**
 * Recording the live feed in hftbacktest's own data format: the options, their
 * validation, and the {@linkcode Recorder} handle that
 * {@linkcode LiveClient.record} returns. The native core does the work (every
 * feed event goes from its engine to a writer thread through a bounded queue;
 * JavaScript pays nothing per event); this module only talks to it through a
 * {@linkcode RecorderPort}.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";

/**
 * Options of {@linkcode LiveClient.record}.
 *
 * @example
 * ```ts
 * import type { RecordOptions } from "./recorder.ts";
 * const options: RecordOptions = { rollSeconds: 3600, rollBytes: 256 * 2 ** 20 };
 * ```
 */
export interface RecordOptions {
  /** Instruments to record, by asset number; all by default. */
  readonly instruments?: readonly number[];
  /** A file is closed (and the next one started) once its events take this many bytes (64 each); default 256 MiB, at least 4096. */
  readonly rollBytes?: number;
  /** A file is closed once it is this old (seconds); default 3600, at least 0.01. */
  readonly rollSeconds?: number;
  /** Events the queue from the engine to the writer holds, in [1024, 2^24]; default 262144. Beyond it events are dropped and counted. */
  readonly queueCapacity?: number;
  /** Deflate the `.npz` files (zip level 1); stored by default. */
  readonly compress?: boolean;
  /**
   * `"backtest"` (default): the connector's event flags plus `EXCH_EVENT | LOCAL_EVENT` on
   * every event, as hftbacktest's own converters write data (its exchange side reads only
   * `EXCH_EVENT` rows, and connectors publish `LOCAL_*` events). `"connector"`: the flags
   * exactly as the connector set them.
   */
  readonly flags?: "backtest" | "connector";
}

/**
 * A recording's counters.
 *
 * @example
 * ```ts
 * import type { RecordingStats } from "./recorder.ts";
 * const lost = (s: RecordingStats): boolean => s.dropped > 0;
 * ```
 */
export interface RecordingStats {
  /** Events written (the books at the start of each file included). */
  readonly eventsWritten: number;
  /** Events dropped because the writer fell behind (the engine never waits for it). */
  readonly dropped: number;
  /** Complete `.npz` files. */
  readonly filesClosed: number;
  /** Bytes of the complete files. */
  readonly bytesClosed: number;
  /** Events queued for the writer now. */
  readonly queued: number;
  /** The queue's capacity. */
  readonly queueCapacity: number;
  /** I/O failures (the first one's message is in {@linkcode RecordingSummary.error}). */
  readonly errors: number;
  /** Whether the recording still runs. */
  readonly running: boolean;
}

/**
 * What a stopped recording wrote.
 *
 * @example
 * ```ts
 * import type { RecordingSummary } from "./recorder.ts";
 * const show = (s: RecordingSummary): string => s.files.join("\n");
 * ```
 */
export interface RecordingSummary {
  /** The complete `.npz` files, in the order they were closed. */
  readonly files: readonly string[];
  /** The counters at the end. */
  readonly stats: RecordingStats;
  /** The first I/O failure, if any. */
  readonly error?: string;
}

/**
 * What a {@linkcode Recorder} needs from the native core.
 *
 * @example
 * ```ts
 * import type { RecorderPort } from "./recorder.ts";
 * const none = (p: RecorderPort): Promise<void> => p.stop();
 * ```
 */
export interface RecorderPort {
  /** The counters now (after the client closed: the last ones read). */
  stats(): RecordingStats;
  /** The complete files so far and the first I/O failure. */
  info(): { files: string[]; error: string | null };
  /** Stops: resolves once every file is complete. */
  stop(): Promise<void>;
}

const STAT_NAMES = [
  "eventsWritten",
  "dropped",
  "filesClosed",
  "bytesClosed",
  "queued",
  "queueCapacity",
  "errors",
  "running",
] as const;

/** The core's counters (`hl_record_stats`, in its order) as {@linkcode RecordingStats}. */
export function recordingStats(v: ArrayLike<number>): RecordingStats {
  const r: Record<string, number | boolean> = {};
  STAT_NAMES.forEach((k, i) => (r[k] = v[i] ?? 0));
  r.running = r.running === 1;
  return r as unknown as RecordingStats;
}

/**
 * Checks `dir` and `options` for a client of `assets` instruments and returns
 * the core's configuration (`rust/ABI.md`, "Recording"); throws
 * {@linkcode ValidationError} naming the first bad option.
 *
 * @example
 * ```ts
 * import { recordConfig } from "./recorder.ts";
 * console.log(recordConfig("/tmp/rec", { rollSeconds: 60 }, 1));
 * ```
 */
export function recordConfig(
  dir: string,
  options: RecordOptions,
  assets: number,
): Record<string, unknown> {
  const bad = (why: string): never => {
    throw new ValidationError(`Cannot record: ${why}`);
  };
  if (typeof dir !== "string" || dir === "") bad("the directory must be a non-empty path");
  if (options === null || typeof options !== "object") bad("options must be an object");
  const known = ["instruments", "rollBytes", "rollSeconds", "queueCapacity", "compress", "flags"];
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) bad(`unknown option "${k}"`);
  }
  const cfg: Record<string, unknown> = { dir };
  const int = (v: unknown, lo: number, hi: number, name: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
      bad(`${name} ${String(v)} is not an integer in [${lo}, ${hi}]`);
    }
    return v as number;
  };
  if (options.instruments !== undefined) {
    const list = options.instruments;
    if (!Array.isArray(list) || list.length === 0) bad("instruments must be a non-empty array");
    const seen = new Set<number>();
    for (const a of list) {
      int(a, 0, assets - 1, "instrument");
      if (seen.has(a)) bad(`instrument ${a} is listed twice`);
      seen.add(a);
    }
    cfg.assets = [...list];
  }
  if (options.rollBytes !== undefined) {
    cfg.roll_bytes = int(options.rollBytes, 4096, Number.MAX_SAFE_INTEGER, "rollBytes");
  }
  if (options.rollSeconds !== undefined) {
    const s = options.rollSeconds;
    if (typeof s !== "number" || !Number.isFinite(s) || s < 0.01) {
      bad(`rollSeconds ${String(s)} is not a number of seconds >= 0.01`);
    }
    cfg.roll_secs = s;
  }
  if (options.queueCapacity !== undefined) {
    cfg.queue_capacity = int(options.queueCapacity, 1024, 2 ** 24, "queueCapacity");
  }
  if (options.compress !== undefined) {
    if (typeof options.compress !== "boolean") bad("compress must be a boolean");
    cfg.compress = options.compress;
  }
  if (options.flags !== undefined) {
    if (options.flags !== "backtest" && options.flags !== "connector") {
      bad(`flags "${String(options.flags)}" is not "backtest" or "connector"`);
    }
    cfg.flags = options.flags;
  }
  return cfg;
}

/**
 * A running recording of a client's market data: one series of `.npz` files
 * per instrument in its directory, named
 * `<connector>_<symbol>_<start UTC>_<nnnnn>.npz`, each holding `data` (an array
 * of hftbacktest's 64-byte events) that begins with the book. Stop it with
 * {@linkcode Recorder.stop} (or `await using`); closing the client stops it
 * too. Create it with {@linkcode LiveClient.record}.
 *
 * @example
 * ```ts ignore
 * await using rec = client.record("/data/btc", { rollSeconds: 3600 });
 * // ... later
 * const { files, stats } = await rec.stop();
 * console.log(files, stats.dropped);
 * ```
 */
export class Recorder {
  readonly #dir: string;
  readonly #port: RecorderPort;
  #stopped: Promise<RecordingSummary> | undefined;

  /** Wraps a started recording (see {@linkcode LiveClient.record}). */
  constructor(dir: string, port: RecorderPort) {
    this.#dir = dir;
    this.#port = port;
  }

  /** The directory of the files. */
  get dir(): string {
    return this.#dir;
  }

  /** The counters now. */
  get stats(): RecordingStats {
    return this.#port.stats();
  }

  /** The complete files so far, in the order they were closed. */
  get files(): string[] {
    return this.#port.info().files;
  }

  /**
   * Stops recording: what the engine had queued is written, the open files
   * are closed and packaged. Resolves once every file is complete
   * (idempotent: every call returns the same promise).
   */
  stop(): Promise<RecordingSummary> {
    this.#stopped ??= this.#port.stop().then(() => {
      const { files, error } = this.#port.info();
      const stats = this.#port.stats();
      return error === null ? { files, stats } : { files, stats, error };
    });
    return this.#stopped;
  }

  /** Stops recording (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
