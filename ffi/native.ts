/**
 * The native objects as TypeScript sees them: {@linkcode NativeClient} (one
 * `hl_client_*` handle) and {@linkcode NativeSim} (one `hl_sim_*` handle).
 * Each owns its handle, every buffer it passes to the core, the layouts of
 * what the core writes into them (depth, position, stats, order records) and
 * turns status codes into typed errors. This is the only code, with the rest
 * of `ffi/`, that knows the ABI.
 *
 * @module
 */

import { ClosedError, ErrorCode, errorFromStatus, type LiveError, NativeError } from "../errors.ts";
import type { BookLevel, Order, Position, RequestStats } from "../models.ts";
import { CLIENT_FAULTS, type ClientFault } from "../options.ts";
import type { ValidOrder } from "../orders.ts";
import { decodeOrder, RecordDecoder } from "./codec.ts";
import { loadLibrary, type LoadOptions, type NativeLibrary } from "./library.ts";
import { RECORD_SIZE } from "./symbols.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `HL_E_CLOSED`. */
const E_CLOSED = -3;
/** `HL_E_BUFFER`. */
const E_BUFFER = -10;

type OpenFn<R> = (
  cfg: Uint8Array,
  cfgLen: number,
  outHandle: Uint32Array,
  err: Uint8Array,
  errCap: number,
) => R;

/**
 * The protocol of `hl_client_open` and `hl_sim_start`: a JSON configuration
 * in, a handle out, or the failure's message written into an error buffer.
 * `open` may be synchronous or return a promise (a nonblocking binding); the
 * buffers live until it settles.
 */
function openObject(open: OpenFn<number>, config: unknown, what: string): number;
function openObject(open: OpenFn<Promise<number>>, config: unknown, what: string): Promise<number>;
function openObject(
  open: OpenFn<number | Promise<number>>,
  config: unknown,
  what: string,
): number | Promise<number> {
  const json = encoder.encode(JSON.stringify(config));
  const out = new Uint32Array(1);
  const err = new Uint8Array(4096);
  const done = (rc: number): number => {
    if (rc < 0) {
      const end = err.indexOf(0);
      const msg = decoder.decode(err.subarray(0, end < 0 ? err.length : end));
      throw errorFromStatus(rc, msg ? `${what}: ${msg}` : "", what);
    }
    return out[0];
  };
  const rc = open(json, json.length, out, err, err.length);
  return typeof rc === "number" ? done(rc) : rc.then(done);
}

/** Reads `[n_bids, n_asks, bids…, asks…]` written by `hl_client_depth` / `hl_sim_book`. */
function readLevels(out: Float64Array, levels: number): { bids: BookLevel[]; asks: BookLevel[] } {
  const side = (base: number, n: number): BookLevel[] => {
    const r: BookLevel[] = [];
    for (let i = 0; i < n; i++) r.push({ price: out[base + 2 * i], qty: out[base + 2 * i + 1] });
    return r;
  };
  return { bids: side(2, out[0]), asks: side(2 + 2 * levels, out[1]) };
}

/**
 * Counters of the native engine (`hl_client_stats`).
 *
 * @example
 * ```ts
 * import type { NativeStats } from "./native.ts";
 * const f = (s: NativeStats): number => s.recordsPushed;
 * ```
 */
export interface NativeStats {
  /** Records pushed into the ring. */
  recordsPushed: number;
  /** Market records dropped because the ring was full. */
  marketDropped: number;
  /** Order updates of other bots seen and ignored. */
  foreignOrders: number;
  /** IPC send/receive failures. */
  ipcErrors: number;
  /** `RegisterInstrument` messages sent. */
  registrations: number;
  /** Engine loop iterations. */
  engineLoops: number;
  /** Ring capacity in records. */
  ringCapacity: number;
  /** Records ready to drain now. */
  ready: number;
  /** Requests accepted and waiting to be sent. */
  requestsQueued: number;
  /** Requests sent and not answered yet (all connectors). */
  requestsInFlight: number;
  /** Requests sent in total. */
  requestsSent: number;
  /** Requests never answered (timeouts, connector down or restarted while in flight). */
  requestsUnanswered: number;
  /** Submits and cancels refused because the queue was full. */
  requestsRefused: number;
  /** Orders adopted from the connector's registration answers. */
  ordersAdopted: number;
  /** Requests in flight allowed per connector (the smallest window in effect). */
  window: number;
  /** Requests that may wait to be sent. */
  maxQueuedRequests: number;
}

const STATS = [
  "recordsPushed",
  "marketDropped",
  "foreignOrders",
  "ipcErrors",
  "registrations",
  "engineLoops",
  "ringCapacity",
  "ready",
  "requestsQueued",
  "requestsInFlight",
  "requestsSent",
  "requestsUnanswered",
  "requestsRefused",
  "ordersAdopted",
  "window",
  "maxQueuedRequests",
] as const satisfies readonly (keyof NativeStats)[];

/** The order-path part of the core's counters (zeros before the first read). */
export function requestStats(st: NativeStats | undefined): RequestStats {
  return {
    queued: st?.requestsQueued ?? 0,
    inFlight: st?.requestsInFlight ?? 0,
    sent: st?.requestsSent ?? 0,
    unanswered: st?.requestsUnanswered ?? 0,
    refused: st?.requestsRefused ?? 0,
    adopted: st?.ordersAdopted ?? 0,
    window: st?.window ?? 0,
    maxQueued: st?.maxQueuedRequests ?? 0,
  };
}

/** GC backstop: closes a native client whose owner was collected unclosed. */
const finalizer = new FinalizationRegistry<{ lib: NativeLibrary; handle: number }>(
  ({ lib, handle }) => {
    lib.symbols.hl_client_close(handle);
  },
);

/** Options of {@linkcode NativeClient.open}. */
export interface NativeClientOptions extends LoadOptions {
  /** Records drained per call (the size of the client's drain buffer). */
  readonly drainRecords: number;
  /** Connector names by index (for decoding CONNECTOR records). */
  readonly connectorNames: readonly string[];
}

/**
 * One native client: the handle, the drain buffer (owned for the client's
 * whole life, never resized) and its decoder, and every call on the handle.
 * Failures throw the matching {@linkcode LiveError} with the core's message.
 */
export class NativeClient {
  /** The library the client was opened with. */
  readonly lib: NativeLibrary;
  /** The native handle. */
  readonly handle: number;
  /** Decodes the records of the drain buffer. */
  readonly decoder: RecordDecoder;
  readonly #buf: Uint8Array;
  readonly #maxRecords: number;
  readonly #msgBuf = new Uint8Array(4096);
  readonly #scratch = new Float64Array(64);
  readonly #stats = new Float64Array(STATS.length);
  readonly #beforeClose = new Set<() => Promise<unknown>>();
  #closing = false;
  #closed = false;

  private constructor(lib: NativeLibrary, handle: number, options: NativeClientOptions) {
    this.lib = lib;
    this.handle = handle;
    this.#maxRecords = options.drainRecords;
    this.#buf = new Uint8Array(options.drainRecords * RECORD_SIZE);
    this.decoder = new RecordDecoder(this.#buf, options.connectorNames, () => this.#takeMessage());
  }

  /**
   * Loads the library and opens a client with the core's JSON configuration
   * `config`. With `blocking: false` the open runs off the JavaScript thread
   * (an inline client must be opened on the thread that polls it: blocking).
   */
  static async open(
    config: unknown,
    options: NativeClientOptions & { readonly blocking: boolean },
  ): Promise<NativeClient> {
    const lib = await loadLibrary(options);
    const h = options.blocking
      ? openObject(lib.symbols.hl_client_open, config, "Cannot connect")
      : await openObject(lib.symbols.hl_client_open_async, config, "Cannot connect");
    return new NativeClient(lib, h, options);
  }

  /**
   * Closes the native handle when `owner` is collected without {@linkcode NativeClient.close}
   * (a backstop; close() unregisters it).
   */
  closeWhenCollected(owner: object): void {
    finalizer.register(owner, { lib: this.lib, handle: this.handle }, this);
  }

  /** The core's clock: ns since the Unix epoch. */
  now(): number {
    return this.lib.symbols.hl_now();
  }

  #check(status: number, what: string, orderId?: number): number {
    if (status >= 0) return status;
    throw this.lib.error(this.handle, status, what, orderId);
  }

  /** The error for a negative status (with the handle's last message). */
  error(status: number, what: string): LiveError {
    return this.lib.error(this.handle, status, what);
  }

  /** Drains ready records into the buffer; returns how many (0 ..= drainRecords). */
  drain(): number {
    const n = this.lib.symbols.hl_client_drain(this.handle, this.#buf, this.#maxRecords);
    if (n < 0 && this.#closed) return 0;
    return this.#check(n, "Cannot drain events");
  }

  /** Whether a drain filled the whole buffer (more may be ready). */
  full(n: number): boolean {
    return n >= this.#maxRecords;
  }

  /** Hot loop: waits up to `timeoutMs` for records, drains them; returns how many. */
  poll(timeoutMs: number): number {
    const us = Math.min(0xffffffff, Math.max(0, Math.round(timeoutMs * 1000)));
    const n = this.lib.symbols.hl_client_poll(this.handle, this.#buf, this.#maxRecords, us);
    if (n < 0 && (n === E_CLOSED || this.#closed)) {
      throw new ClosedError("Cannot poll: the client is closed");
    }
    return this.#check(n, "Cannot poll");
  }

  /** One pending native wait (nonblocking symbol): > 0 ready, 0 timeout or woken, < 0 status. */
  wait(timeoutMs: number): Promise<number> {
    return this.lib.symbols.hl_client_wait(this.handle, timeoutMs);
  }

  /** Wakes every pending wait and rings the doorbell. */
  wake(): void {
    this.lib.symbols.hl_client_wake(this.handle);
  }

  /** Arms the doorbell: > 0 records ready (not armed), 0 armed, < 0 status. */
  arm(): number {
    return this.lib.symbols.hl_client_arm(this.handle);
  }

  /** Doorbell step 1: the core listens on a Unix socket at `path`. */
  bellListen(path: string): boolean {
    const p = encoder.encode(path);
    return this.lib.symbols.hl_client_bell_listen(this.handle, p, p.length) === 0;
  }

  /** Doorbell step 2 (after connecting): the core accepts and removes the file. */
  bellAccept(): boolean {
    return this.lib.symbols.hl_client_bell_accept(this.handle) === 0;
  }

  /** Sends a new order (validated and rounded already). */
  submit(v: ValidOrder): void {
    this.#check(
      this.lib.symbols.hl_client_submit(
        this.handle,
        v.asset,
        v.orderId,
        v.side,
        v.price,
        v.qty,
        v.timeInForce,
        v.orderType,
      ),
      `Cannot submit order ${v.orderId}`,
      v.orderId,
    );
  }

  /** Sends a cancel. */
  cancel(asset: number, orderId: number): void {
    this.#check(
      this.lib.symbols.hl_client_cancel(this.handle, asset, orderId),
      `Cannot cancel order ${orderId}`,
      orderId,
    );
  }

  /** The core's position of `asset`. */
  position(asset: number): Position {
    const out = this.#scratch;
    this.#check(
      this.lib.symbols.hl_client_position(this.handle, asset, out),
      `Cannot read the position of asset ${asset}`,
    );
    return { asset, qty: out[0], exchTs: out[1] };
  }

  /** The core's book of `asset`, best `levels` per side. */
  depth(asset: number, levels: number): { bids: BookLevel[]; asks: BookLevel[] } {
    const need = 2 + 4 * levels;
    const out = need <= this.#scratch.length ? this.#scratch : new Float64Array(need);
    this.#check(
      this.lib.symbols.hl_client_depth(this.handle, asset, levels, out),
      `Cannot read the depth of asset ${asset}`,
    );
    return readLevels(out, levels);
  }

  /** The core's active orders of `asset`. */
  orders(asset: number): Order[] {
    let cap = 4096;
    let buf = new Uint8Array(cap * RECORD_SIZE);
    let rc = this.lib.symbols.hl_client_orders(this.handle, asset, buf, cap);
    // More orders than records in the buffer (HL_E_BUFFER): grow it to what the core holds.
    for (let tries = 0; rc === E_BUFFER && tries < 8; tries++) {
      cap *= 4;
      buf = new Uint8Array(cap * RECORD_SIZE);
      rc = this.lib.symbols.hl_client_orders(this.handle, asset, buf, cap);
    }
    const n = this.#check(rc, "Cannot list orders");
    const v = new DataView(buf.buffer);
    const now = this.now();
    const out: Order[] = [];
    for (let i = 0; i < n; i++) {
      const { type: _t, recvTs: _r, ...o } = decodeOrder(v, i * RECORD_SIZE, now);
      out.push(o);
    }
    return out;
  }

  /** The engine's counters. */
  stats(): NativeStats {
    const st = this.#stats;
    this.#check(
      this.lib.symbols.hl_client_stats(this.handle, st, STATS.length),
      "Cannot read native stats",
    );
    const r = {} as NativeStats;
    STATS.forEach((k, i) => (r[k] = st[i]));
    return r;
  }

  /**
   * Ties the client to the calling thread: the core closes it (cancelling on
   * exit) when this thread ends, e.g. a Worker terminated. Synchronous on
   * purpose: a pool thread would end while the client lives.
   */
  guard(): void {
    this.#check(this.lib.symbols.hl_client_guard(this.handle), "Cannot guard the client");
  }

  /** Fault injection (`hl_client_fault`). */
  fault(kind: ClientFault): void {
    const code = CLIENT_FAULTS.indexOf(kind) + 1;
    this.#check(this.lib.symbols.hl_client_fault(this.handle, code), "Cannot inject a fault");
  }

  #takeMessage(): string {
    const n = this.lib.symbols.hl_client_take_message(
      this.handle,
      this.#msgBuf,
      this.#msgBuf.length,
    );
    return n > 0 ? decoder.decode(this.#msgBuf.subarray(0, n)) : "";
  }

  /**
   * Runs `fn` (awaited, its failure ignored) before the handle is closed, while the handle
   * still works (a recording reads its files there); returns a function that forgets it.
   */
  beforeClose(fn: () => Promise<unknown>): () => void {
    this.#beforeClose.add(fn);
    return () => this.#beforeClose.delete(fn);
  }

  /** Whether {@linkcode NativeClient.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the handle: wakes waits, stops and joins the engine (idempotent).
   * With `blocking: false` the join runs off the JavaScript thread.
   */
  async close(blocking = true): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    for (const fn of [...this.#beforeClose]) await fn().catch(() => {});
    this.#beforeClose.clear();
    this.#closed = true;
    finalizer.unregister(this);
    if (blocking) this.lib.symbols.hl_client_close(this.handle);
    else await this.lib.symbols.hl_client_close_async(this.handle);
  }
}

/** Counters of a sim (`hl_sim_stats`), in the ABI's order. */
export const SIM_STATS = [
  "marketEvents",
  "ordersReceived",
  "acks",
  "fills",
  "cancels",
  "rejects",
  "registrations",
  "batchesSent",
  "messagesSent",
  "expired",
  "ipcErrors",
  "running",
  "restingOrders",
  "replaying",
] as const;

/** One in-process sim connector (`hl_sim_*`). */
export class NativeSim {
  readonly #lib: NativeLibrary;
  readonly #handle: number;

  private constructor(lib: NativeLibrary, handle: number) {
    this.#lib = lib;
    this.#handle = handle;
  }

  /** Loads the library and starts a sim from its JSON configuration `config`. */
  static async start(config: unknown, options: LoadOptions): Promise<NativeSim> {
    const lib = await loadLibrary(options);
    const start = lib.symbols.hl_sim_start;
    if (!start) {
      throw new NativeError(
        `Cannot start the sim: the native library at ${lib.path} was built without hl_sim_start`,
        { code: ErrorCode.Library },
      );
    }
    return new NativeSim(lib, openObject(start, config, "Cannot start the sim"));
  }

  #fn<K extends "hl_sim_fault" | "hl_sim_stats" | "hl_sim_book">(
    name: K,
  ): NonNullable<NativeLibrary["symbols"][K]> {
    const f = this.#lib.symbols[name];
    if (f === null) {
      throw new NativeError(`The native library at ${this.#lib.path} has no ${name}`, {
        code: ErrorCode.Library,
      });
    }
    return f as NonNullable<NativeLibrary["symbols"][K]>;
  }

  /** Injects fault number `fault` with `value`. */
  fault(fault: number, value: number): void {
    const rc = this.#fn("hl_sim_fault")(this.#handle, fault, value);
    if (rc < 0) throw errorFromStatus(rc, "", `Cannot inject fault ${fault}`);
  }

  /** The sim's counters, by {@linkcode SIM_STATS} name. */
  stats(): Record<(typeof SIM_STATS)[number], number> {
    const out = new Float64Array(SIM_STATS.length);
    const n = this.#fn("hl_sim_stats")(this.#handle, out, out.length);
    if (n < 0) throw errorFromStatus(n, "", "Cannot read sim stats");
    const r = {} as Record<(typeof SIM_STATS)[number], number>;
    SIM_STATS.forEach((k, i) => (r[k] = out[i]));
    return r;
  }

  /** The sim's true book of instrument `asset`. */
  book(asset: number, levels: number): { bids: BookLevel[]; asks: BookLevel[] } {
    const out = new Float64Array(2 + 4 * levels);
    const rc = this.#fn("hl_sim_book")(this.#handle, asset, levels, out);
    if (rc < 0) throw errorFromStatus(rc, "", `Cannot read the sim's book of asset ${asset}`);
    return readLevels(out, levels);
  }

  /** Stops the sim (drops its ports, joins its thread). */
  stop(): void {
    this.#lib.symbols.hl_sim_stop?.(this.#handle);
  }
}
