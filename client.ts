/**
 * `LiveClient`: connects to hftbacktest connectors through the native core, delivers market
 * data and order updates as streams, callbacks or a synchronous poll, sends orders, records the
 * feed, and reports health.
 *
 * Two modes, chosen at connect time: `"stream"` (default; one wake-up per client shared by every
 * stream, callbacks and waits, never blocking the event loop) and `"poll"` (the strategy owns the
 * thread and calls {@linkcode LiveClient.poll}; with `inline: true` the engine runs inside
 * `poll`). A client belongs to the thread (main or Worker) that connected it. `close()` is
 * idempotent; every call after it throws {@linkcode ClosedError}. The native library stays
 * loaded for the life of the process.
 *
 * See the module documentation of `mod.ts` for an example.
 *
 * @module
 */

import { ClosedError, ModeError, NativeError, ValidationError } from "./errors.ts";
import { Callbacks } from "./callbacks.ts";
import { guardOnExit, unguard } from "./exit_guard.ts";
import { Connectivity } from "./connectivity.ts";
import { RECORD_TYPES } from "./ffi/codec.ts";
import { NativeClient, type NativeStats, requestStats } from "./ffi/native.ts";
import { openWake, type WakeSource } from "./ffi/wake.ts";
import { startRecorder } from "./ffi/recorder.ts";
import type { Recorder, RecordOptions } from "./recorder.ts";
import { HealthRecorder } from "./health.ts";
import {
  type BookUpdate,
  type ConnectionHealth,
  type DepthClear,
  type DepthSnapshot,
  type DepthUpdate,
  type ErrorEvent,
  type Fill,
  type InstrumentHealth,
  type LiveEvent,
  type Order,
  type OrderRequest,
  type OrderUpdate,
  type Position,
  type PositionUpdate,
  Side,
  type Trade,
} from "./models.ts";
import { type CancelAllOptions, OrderDesk, type WaitOptions } from "./order_desk.ts";
import {
  checkTimeout,
  CLIENT_FAULTS,
  type ClientFault,
  type ConnectOptions,
  nativeConfig,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { type InstrumentSpec, nextOrderId } from "./orders.ts";
import { closeMonitors, type Monitor, type MonitorOptions, startMonitor } from "./monitor.ts";
import { type PumpHost, runPump } from "./pump.ts";
import { type ClientEvents, EventRouter } from "./router.ts";
import { StreamHub, type StreamItem, type StreamKind, type StreamOptions } from "./streams.ts";

export type { ConnectOptions, DepthKind, InstrumentOptions } from "./options.ts";

/** How long one step of the pump delivers before the event loop gets a turn (ms). */
const STEP_BUDGET_MS = 10;

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
  readonly #native: NativeClient;
  readonly #opts: ResolvedOptions;
  readonly #conn: Connectivity;
  readonly #health: HealthRecorder;
  readonly #desk: OrderDesk;
  readonly #streams: StreamHub;
  readonly #callbacks = new Callbacks<ClientEvents>((e, event) =>
    this.#router.callbackThrew(e, event, this.#closed)
  );
  readonly #router: EventRouter;
  /** The pump's view of this client (held here; the pump holds it only weakly). */
  readonly #host: PumpHost | undefined;
  readonly #wakeSource: WakeSource | undefined;
  readonly #pumpDone: Promise<void> | undefined;
  /** close() was called: user requests are refused from then on. */
  #closeRequested = false;
  /** The pump stops (after cancel on exit). */
  #closing = false;
  #closed = false;
  /** Why the client stopped by itself (the error that failed the event pump), if it did. */
  #failure: Error | undefined;
  #closePromise: Promise<void> | undefined;
  #inPoll = false;
  /** When the pump's last wake-up reached JavaScript (ns), until the next drain uses it. */
  #wokeAt = 0;
  /** The core's counters, as last read. */
  #stats: NativeStats | undefined;

  private constructor(native: NativeClient, opts: ResolvedOptions, conn: Connectivity) {
    this.#native = native;
    this.#opts = opts;
    this.#conn = conn;
    const health = this.#health = new HealthRecorder(RECORD_TYPES);
    this.#streams = new StreamHub({
      capacity: opts.streamCapacity,
      maxBuffered: opts.streamMaxBuffered,
      assets: opts.instruments.length,
      // Reported after the push that overflowed: on callbacks, the other streams' errors and
      // the error counts.
      onOverflow: (e, _kind, asset) => {
        if (!this.#closed) this.#router.clientError(asset, 0, 0, e.message);
      },
      onWait: () => this.#pin(),
      onCount: (kind, n) => {
        if (kind === "snapshots") this.#router.snapshots(n > 0);
      },
    });
    const router = this.#router = new EventRouter({
      streams: this.#streams,
      callbacks: this.#callbacks,
      connectivity: conn,
      health,
      staleAfterNs: opts.staleAfterMs * 1e6,
      now: () => native.now(),
      depth: (a, levels) => this.depth(a, levels),
      snapshotIntervalMs: opts.snapshotIntervalMs,
      snapshotLevels: opts.snapshotLevels,
      unrefTimer: (t) => native.lib.runtime.unrefTimer(t),
    });
    this.#desk = new OrderDesk({
      instruments: opts.instruments,
      port: {
        submit: (v) => native.submit(v),
        cancel: (asset, id) => native.cancel(asset, id),
        now: () => native.now(),
        down: (a) => {
          const c = conn.connectorOf(a);
          return conn.isDown(c) ? conn.connectorNames[c] : undefined;
        },
      },
      sink: router,
      waitTimeoutMs: opts.waitTimeoutMs,
      keepFinishedOrders: opts.keepFinishedOrders,
      rateLimit: opts.given.rateLimit,
      rounding: opts.rounding,
      health,
      marketPrice: (asset, side) => {
        const b = router.bbo(asset);
        return b === undefined ? NaN : side === Side.Buy ? b.askPrice : b.bidPrice;
      },
      onWait: () => this.#pin(),
    });
    router.attach(this.#desk);
    native.closeWhenCollected(this);
    if (opts.mode === "stream") {
      this.#host = {
        step: (n, wokeAt) => this.#pumpStep(n, wokeAt),
        backlog: () => this.#router.backlog,
        stopping: () => this.#closing,
        fail: (e) => this.#fail(e),
      };
      this.#wakeSource = openWake(native, opts.wake, opts.keepWarmMs);
      this.#pumpDone = runPump(new WeakRef(this.#host), this.#wakeSource);
    }
  }

  /**
   * Opens a client: loads the native library, starts the engine and, in
   * stream mode, the shared wake-up. With `ready`, resolves once every
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
    const client = await LiveClient.#open(options);
    if (client.#opts.cancelOnExit) guardOnExit(client, client.#native.lib.runtime);
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

  static async #open(options: ConnectOptions): Promise<LiveClient> {
    const opts = resolveOptions(options);
    const conn = new Connectivity(opts.instruments);
    const native = await NativeClient.open(nativeConfig(opts), {
      libPath: options.libPath,
      drainRecords: opts.drainRecords,
      connectorNames: conn.connectorNames,
      // Building the engine (~100 ms) runs off the JavaScript thread, but an inline engine
      // lives on the thread that opens it.
      blocking: options.inline === true,
    });
    try {
      // The core closes it (cancelling on exit) when this thread ends, e.g. a Worker terminated.
      if (opts.cancelOnExit) native.guard();
      return new LiveClient(native, opts, conn);
    } catch (e) {
      await native.close(); // nothing may stay open
      throw e;
    }
  }

  // ------------------------------------------------------------- pump

  /**
   * Clients that something still consumes (a pending stream read, a callback, a pending wait)
   * are held strongly here, so a client referenced only by a frame suspended on one of its
   * streams is not collected under it. The pump unpins a client once nothing consumes it, and
   * close() always does; an unpinned, unreferenced client is collected and closed by the
   * finalizer.
   */
  static readonly #pinned = new Set<LiveClient>();

  #pin(): void {
    // Poll mode has no pump: whoever calls poll() holds the client.
    if (this.#closing || this.#opts.mode !== "stream") return;
    LiveClient.#pinned.add(this);
    this.#wakeSource?.keepAlive(true);
  }

  /** Whether anything still consumes this client's events. */
  #inUse(): boolean {
    return this.#streams.waiting() || this.#callbacks.size > 0 || this.#desk.waiting ||
      this.#router.readyWaiting;
  }

  /** One step of the pump: handles a wake-up's result and drains; false to stop. */
  #pumpStep(waited: number, wokeAt: number): boolean {
    this.#wokeAt = wokeAt;
    // Nothing consumes the client: it neither pins itself nor keeps the process alive.
    if (!this.#inUse()) {
      LiveClient.#pinned.delete(this);
      this.#wakeSource?.keepAlive(false);
    }
    try {
      if (waited < 0) throw this.#native.error(waited, "Cannot wait for events");
      if (waited === 0) this.#router.tick(this.#native.now());
      const deadline = performance.now() + STEP_BUDGET_MS;
      if (this.#router.backlog) this.#run(deadline);
      else this.#drain(1, deadline);
      return !this.#closing;
    } catch (e) {
      if (!this.#closing) this.#fail(e);
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
    this.#router.clientError(
      -1,
      (err as { status?: number }).status ?? 0,
      0,
      `The event pump stopped, the client closes: ${err.message}`,
    );
    void this.close();
  }

  /**
   * Drains and delivers up to `rounds` buffers of records. The pump takes one
   * buffer per step, delivering until `deadline` (the rest of the buffer waits
   * for its next step, after the event loop had a turn); close() and poll()
   * take everything.
   */
  #drain(rounds: number, deadline = Infinity): void {
    for (let i = 0; i < rounds && !this.#router.backlog; i++) {
      const n = this.#native.drain();
      if (n <= 0) return;
      this.#router.load(n);
      this.#run(deadline);
      if (!this.#native.full(n)) return;
    }
  }

  /** Delivers the drained records not delivered yet, until `deadline` (ms). */
  #run(deadline: number): void {
    const now = this.#native.now();
    const woke = this.#wokeAt > 0 ? this.#wokeAt : now;
    this.#wokeAt = 0;
    this.#router.run(this.#native.decoder, now, deadline, this.#closing, woke);
  }

  #assertOpen(what: string): void {
    if (this.#closed || this.#closing || this.#closeRequested) {
      const f = this.#failure;
      throw f === undefined
        ? new ClosedError(`${what}: the client is closed`)
        : new ClosedError(`${what}: the client stopped: ${f.message}`, { cause: f });
    }
  }

  #checkAsset(asset: number, what: string): void {
    this.#desk.checkAsset(asset, what);
  }

  // ----------------------------------------------------------- streams

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
    this.#assertStreams(kind);
    return this.#streams.open(kind, options);
  }

  #assertStreams(kind: string): void {
    this.#assertOpen(`Cannot open the ${kind} stream`);
    if (this.#opts.mode !== "stream") {
      throw new ModeError(
        `Cannot open the ${kind} stream: the client was connected with mode "poll"; use poll() and on() instead`,
      );
    }
  }

  #shared<K extends StreamKind>(kind: K): ReadableStream<StreamItem[K]> {
    this.#assertStreams(kind);
    return this.#streams.shared(kind);
  }

  // The getters return one shared stream per kind (the same object until it is cancelled or
  // ends); `stream()` opens an independent subscription on every call.

  /** Trades (shared stream; drops oldest beyond capacity). */
  get trades(): ReadableStream<Trade> {
    return this.#shared("trades");
  }
  /** Best bid/offer changes (shared stream; conflated: newest per asset). */
  get bookUpdates(): ReadableStream<BookUpdate> {
    return this.#shared("bookUpdates");
  }
  /** Depth level changes and clears (shared stream; drops oldest beyond capacity). */
  get depthUpdates(): ReadableStream<DepthUpdate | DepthClear> {
    return this.#shared("depthUpdates");
  }
  /** Book snapshots every `snapshotIntervalMs` (shared stream; newest per asset). */
  get snapshots(): ReadableStream<DepthSnapshot> {
    return this.#shared("snapshots");
  }
  /** Order updates of this client (shared stream; never drops). */
  get orderUpdates(): ReadableStream<OrderUpdate> {
    return this.#shared("orderUpdates");
  }
  /** Fills of this client's orders (shared stream; never drops). */
  get fills(): ReadableStream<Fill> {
    return this.#shared("fills");
  }
  /** Position changes (shared stream; never drops). */
  get positions(): ReadableStream<PositionUpdate> {
    return this.#shared("positions");
  }
  /** Connector, engine and client errors (shared stream; never drops). */
  get errors(): ReadableStream<ErrorEvent> {
    return this.#shared("errors");
  }
  /** Every event (shared stream; market data drops oldest beyond capacity, the rest never). */
  get events(): ReadableStream<LiveEvent> {
    return this.#shared("events");
  }

  /**
   * Registers a callback; returns a function that removes it. Callbacks run synchronously as
   * events are decoded (in stream mode from the client's pump, in poll mode from inside
   * `poll()`); an exception in one is counted in `health.callbackErrors` and reported as an
   * `error` event (to `console.error` when nothing listens for errors), and stops neither the
   * others nor the client.
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
    const off = this.#callbacks.on(event, handler);
    this.#pin();
    return off;
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
    this.#callbacks.off(event, handler);
  }

  // ---------------------------------------------------------- hot loop

  /**
   * Hot-loop mode: waits up to `timeoutMs` (fractions allowed; 0 = don't wait) for events and
   * returns them decoded (also updating orders and health and firing callbacks). Blocks the
   * calling thread: run it in a Worker or a process dedicated to the strategy.
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
    if (this.#opts.mode !== "poll") {
      throw new ModeError(
        'Cannot poll: the client was connected with mode "stream" (its events go to streams and callbacks); connect with mode: "poll" for a hot loop',
      );
    }
    if (this.#inPoll) {
      throw new ModeError("Cannot poll: poll() is already running (called from a callback?)");
    }
    this.#inPoll = true;
    const out: LiveEvent[] = [];
    try {
      const n = this.#native.poll(timeoutMs);
      if (n > 0) {
        this.#router.out = out;
        this.#router.load(n);
        this.#run(Infinity);
      } else this.#router.tick(this.#native.now());
      return out;
    } finally {
      this.#router.out = undefined;
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
    while (!this.#closed && !this.#closing && !this.#closeRequested) {
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
        this.#checkWait(options, req?.orderId ?? 0);
        return this.#wait("submit", this.#submit(req), options);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#submit(req);
  }

  #submit(req: OrderRequest): Order {
    const orderId = req?.orderId ?? nextOrderId();
    this.#assertOpen(`Cannot submit order ${orderId}`);
    return this.#desk.submit(req, orderId);
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
        this.#checkWait(options, orderId);
        return this.#wait("cancel", this.#cancel(orderId), options);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#cancel(orderId);
  }

  #cancel(orderId: number): Order {
    this.#assertOpen(`Cannot cancel order ${orderId}`);
    return this.#desk.cancel(orderId);
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
  cancelAll(
    asset: number | undefined,
    options: CancelAllOptions & { wait: true },
  ): Promise<Order[]>;
  /** Cancels every active order (see the first overload). */
  cancelAll(asset?: number, options?: CancelAllOptions): number[] | Promise<Order[]>;
  /** Implementation. */
  cancelAll(asset?: number, options?: CancelAllOptions): number[] | Promise<Order[]> {
    try {
      this.#assertOpen("Cannot cancel all orders");
      if (options?.wait) this.#checkWait(options, 0);
      return this.#desk.cancelAll(asset, options);
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
  replaceOrder(
    orderId: number,
    changes: { readonly price?: number; readonly qty?: number; readonly orderId?: number },
    options: WaitOptions = {},
  ): Promise<Order> {
    try {
      this.#assertOpen(`Cannot replace order ${orderId}`);
      this.#checkWait(options, orderId);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#desk.replace(orderId, changes, options);
  }

  /** Checks wait options before anything is sent (and that a wait can work here). */
  #checkWait(options: WaitOptions, orderId: number): void {
    const what = `Cannot wait for order ${orderId || "(new)"}`;
    if (this.#inPoll) throw new ModeError(`${what} inside poll()`);
    this.#desk.checkWait(options, what);
  }

  #wait(kind: "submit" | "cancel", o: Order, options: WaitOptions): Promise<Order> {
    return this.#desk.wait(kind, o, options);
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
    return this.#desk.active(asset);
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
    return this.#native.orders(asset);
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
    return this.#desk.get(orderId);
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
    return this.#native.position(asset);
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
    const { bids, asks } = this.#native.depth(asset, levels);
    return { type: "snapshot", asset, bids, asks, ts: this.#native.now() };
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
    return this.#router.bbo(asset);
  }

  // ------------------------------------------------------------ health

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
      checkTimeout(timeoutMs, "Cannot wait for registration", "timeoutMs");
      if (this.#conn.allRegistered) return Promise.resolve();
      if (this.#opts.mode === "poll") {
        // Nothing processes registrations in poll mode but poll() itself, and events polled
        // here would be lost to the caller.
        throw new ValidationError(
          "Cannot wait for registration in poll mode: call poll() until " +
            "client.health.instruments[i].registered (or an 'instrument' event says so)",
        );
      }
    } catch (e) {
      return Promise.reject(e);
    }
    this.#pin();
    return this.#router.whenReady(timeoutMs);
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
    const closed = this.#closed;
    const now = closed ? 0 : this.#native.now();
    if (!closed) {
      this.#stats = this.#native.stats(); // the last one stays readable after close
      this.#health.roll(now);
    }
    const st = this.#stats;
    const staleNs = this.#opts.staleAfterMs * 1e6;
    const connectors = this.#conn.connectorsUp();
    if (closed) { for (const k in connectors) connectors[k] = false; }
    return this.#health.snapshot({
      connected: !closed && this.#conn.connected,
      connectors,
      instruments: this.#opts.instruments.map((_, a): InstrumentHealth =>
        this.#conn.health(a, now, staleNs)
      ),
      streamDrops: this.#streams.drops,
      rateLimited: this.#desk.rateLimited,
      engineDrops: st?.marketDropped ?? 0,
      requests: requestStats(st),
    });
  }

  /** Raw counters of the native engine (`hl_client_stats`), e.g. `recordsPushed`. */
  nativeStats(): NativeStats {
    this.#assertOpen("Cannot read native stats");
    return this.#native.stats();
  }

  /**
   * Fault injection, for testing how a strategy copes with a failing core
   * (see {@linkcode ClientFault}); throws {@linkcode ValidationError} for
   * another name.
   *
   * @example
   * ```ts ignore
   * client.on("error", (e) => console.error(e.message));
   * client.injectFault("enginePanic");
   * ```
   */
  injectFault(fault: ClientFault): void {
    this.#assertOpen("Cannot inject a fault");
    if (!CLIENT_FAULTS.includes(fault)) {
      throw new ValidationError(
        `Cannot inject fault "${fault}": not ${CLIENT_FAULTS.map((f) => `"${f}"`).join(", ")}`,
      );
    }
    this.#native.fault(fault);
  }

  /** Serves this client's read-only live monitoring page: see {@linkcode Monitor}. */
  monitor(options?: MonitorOptions): Promise<Monitor> {
    return startMonitor(this, this.#router, this.#health, this.#native.lib.runtime, options);
  }

  /**
   * Records the market data of the client's instruments into `dir` as hftbacktest `.npz`
   * files, written by the native core off its engine thread (see {@linkcode Recorder}), e.g.
   * `await using rec = client.record("/data/rec", { rollSeconds: 3600 });`.
   */
  record(dir: string, options: RecordOptions = {}): Recorder {
    this.#assertOpen(`Cannot record into ${dir}`);
    return startRecorder(this.#native, dir, options, this.#opts.instruments.length);
  }

  /** The instruments, indexed by asset number. */
  get instruments(): readonly InstrumentSpec[] {
    return this.#opts.instruments;
  }

  /** How a stream-mode client is woken: `"socket"` (the doorbell) or `"wait"` (if that failed). */
  get wake(): "socket" | "wait" {
    return this.#wakeSource?.kind ?? "wait";
  }

  /** "stream" or "poll". */
  get mode(): "stream" | "poll" {
    return this.#opts.mode;
  }

  /** True once `close()` has started. */
  get closed(): boolean {
    return this.#closeRequested || this.#closing || this.#closed;
  }

  // --------------------------------------------------------- lifecycle

  /**
   * Closes the client (idempotent; every call returns the same promise). With `cancelOnExit`
   * (the default) it first cancels every resting order and waits up to `exitTimeoutMs` for the
   * answers (new requests are refused from the start; what could not be cancelled is reported
   * on `errors`). Then it stops the event pump, delivers remaining order events, ends every
   * stream, rejects pending waits with {@linkcode ClosedError}, stops recordings, closes the
   * native client and clears timers.
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

  /** Cancel on exit: every resting order, answers awaited up to `exitTimeoutMs`. */
  async #cancelOnExit(): Promise<void> {
    if (!this.#opts.cancelOnExit || this.#failure !== undefined) return;
    try {
      // Poll mode: nothing else drives the client now, so the desk polls until answered.
      await this.#desk.cancelForExit(
        this.#opts.exitTimeoutMs,
        this.#opts.mode === "poll" ? () => this.poll(20) : undefined,
      );
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.#router.clientError(-1, 0, 0, `Cannot cancel every resting order on close: ${why}`);
    }
  }

  async #doClose(): Promise<void> {
    this.#closeRequested = true;
    // The caller's pending waits end now (the cancels on exit below wait on their own).
    if (this.#failure === undefined) this.#desk.close("the client was closed", undefined);
    await this.#cancelOnExit(); // first: a monitor's graceful shutdown may wait on a viewer
    await closeMonitors(this.#router);
    unguard(this);
    this.#closing = true;
    LiveClient.#pinned.delete(this);
    this.#router.snapshots(false);
    if (this.#pumpDone !== undefined) {
      this.#wakeSource?.keepAlive(true); // close() is awaited: the pump's last turn must come
      this.#native.wake();
      await this.#pumpDone;
      try {
        this.#run(Infinity); // what is left (order updates in particular)
        this.#drain(64);
      } catch { /* closing anyway */ }
    }
    this.#closed = true;
    await this.#native.close(this.#opts.given.inline === true);
    const failure = this.#failure;
    this.#streams.endAll(
      failure && new ClosedError(`The client stopped: ${failure.message}`, { cause: failure }),
    );
    const why = failure === undefined
      ? "the client was closed"
      : `the client stopped (${failure.message})`;
    this.#desk.close(why, failure);
    this.#router.closeReady(
      new ClosedError(`Cannot wait for registration: ${why}`, { cause: failure }),
    );
    this.#callbacks.clear();
  }

  /** Closes the client (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
