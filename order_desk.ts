/**
 * The order desk: everything a client does with orders between the caller
 * and the core — validation and the rate limit before a request goes out,
 * the order tracker, waiters (`wait: true`), fills derived from order
 * updates, the grace period that lets a rejection's code arrive, cancels
 * deferred to an order's acknowledgement, `cancelAll`, and what a
 * connector restart or a close means for outstanding requests.
 *
 * It reaches the core only through an {@linkcode OrderPort} and reports only
 * through a {@linkcode DeskSink}, so it is tested without the native library.
 *
 * @example
 * ```ts
 * import { OrderDesk } from "./order_desk.ts";
 * import { Side } from "./models.ts";
 *
 * const sent: number[] = [];
 * const desk = new OrderDesk({
 *   instruments: [{ connector: "c", symbol: "s", tickSize: 0.1, lotSize: 1 }],
 *   port: { submit: (v) => void sent.push(v.orderId), cancel: () => {}, now: () => 0 },
 *   sink: { deliver: () => {}, clientError: () => {} },
 *   waitTimeoutMs: 1000,
 * });
 * const o = desk.submit({ side: Side.Buy, price: 10, qty: 1 });
 * console.log(sent[0] === o.orderId); // true
 * ```
 *
 * @module
 */

import {
  BackpressureError,
  CancelAllError,
  ClosedError,
  ConnectionError,
  InvalidOrderStatusError,
  OrderNotFoundError,
  TimeoutError,
  ValidationError,
} from "./errors.ts";
import type { HealthRecorder } from "./health.ts";
import {
  type ErrorEvent,
  ErrorKind,
  type Fill,
  isTerminalStatus,
  type Order,
  type OrderRequest,
  OrderStatus,
  orderStatusName,
  type OrderUpdate,
  type Side,
} from "./models.ts";
import { checkTimeout } from "./options.ts";
import {
  type InstrumentSpec,
  nextOrderId,
  OrderTracker,
  type RateLimit,
  type Rounding,
  TokenBucket,
  validateOrder,
  type ValidOrder,
} from "./orders.ts";

/**
 * Options of requests that can wait for the connector's answer.
 *
 * @example
 * ```ts
 * import type { WaitOptions } from "./order_desk.ts";
 * const o: WaitOptions = { wait: true, timeoutMs: 2000 };
 * ```
 */
export interface WaitOptions {
  /** Resolve on the first response instead of returning at once. */
  readonly wait?: boolean;
  /** Timeout of the wait (ms; default the client's `waitTimeoutMs`). */
  readonly timeoutMs?: number;
  /** Aborts the wait (not the request). */
  readonly signal?: AbortSignal;
}

/**
 * Options of `cancelAll`: the wait options, and progress while it waits.
 *
 * @example
 * ```ts
 * import type { CancelAllOptions } from "./order_desk.ts";
 * const o: CancelAllOptions = {
 *   wait: true,
 *   timeoutMs: 30_000,
 *   onProgress: (done, total) => console.log(`${done}/${total} finished`),
 * };
 * ```
 */
export interface CancelAllOptions extends WaitOptions {
  /** With `wait`: called as orders finish, with how many of how many have. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * How the desk reaches the core. `submit` and `cancel` throw the core's
 * refusal as a typed error (nothing was sent then).
 *
 * @example
 * ```ts
 * import type { OrderPort } from "./order_desk.ts";
 * const port: OrderPort = { submit: () => {}, cancel: () => {}, now: () => Date.now() * 1e6 };
 * ```
 */
export interface OrderPort {
  /** Sends a new order. */
  submit(order: ValidOrder): void;
  /** Sends a cancel. */
  cancel(asset: number, orderId: number): void;
  /** The core's clock (ns since the Unix epoch). */
  now(): number;
  /** The connector of `asset` when it is known to be down (nothing can reach it), else undefined. */
  down?(asset: number): string | undefined;
}

/**
 * Where the desk's events go: order updates and fills to the client's
 * streams and callbacks, and client-side problems as `error` events.
 *
 * @example
 * ```ts
 * import type { DeskSink } from "./order_desk.ts";
 * const sink: DeskSink = {
 *   deliver: (e) => console.log(e.type),
 *   clientError: (_a, _c, _id, message) => console.error(message),
 * };
 * ```
 */
export interface DeskSink {
  /** An order update or a fill. */
  deliver(ev: OrderUpdate | Fill): void;
  /** A client-side problem, reported as an `error` event of kind `Client` (at `ts`, default now). */
  clientError(asset: number, code: number, orderId: number, message: string, ts?: number): void;
}

/**
 * Options of an {@linkcode OrderDesk}.
 *
 * @example
 * ```ts
 * import type { OrderDeskOptions } from "./order_desk.ts";
 * const o: Omit<OrderDeskOptions, "port" | "sink"> = {
 *   instruments: [{ connector: "c", symbol: "s", tickSize: 0.1, lotSize: 1 }],
 *   waitTimeoutMs: 10_000,
 * };
 * ```
 */
export interface OrderDeskOptions {
  /** The instruments, by asset index. */
  readonly instruments: readonly InstrumentSpec[];
  /** The core. */
  readonly port: OrderPort;
  /** Where events go. */
  readonly sink: DeskSink;
  /** Default timeout of waits (ms). */
  readonly waitTimeoutMs: number;
  /** Finished orders kept for `get(id)` (default 10,000). */
  readonly keepFinishedOrders?: number;
  /** Optional token bucket on submit and cancel. */
  readonly rateLimit?: RateLimit;
  /** Rounding of prices and quantities (default "conservative"). */
  readonly rounding?: Rounding;
  /** Latency windows and counters (optional). */
  readonly health?: HealthRecorder;
  /** The price a market order without one gets (best ask for a buy, best bid for a sell). */
  readonly marketPrice?: (asset: number, side: Side) => number;
  /** Called when a wait starts (the client keeps itself alive while something waits). */
  readonly onWait?: () => void;
}

interface Waiter {
  readonly kind: "submit" | "cancel";
  readonly orderId: number;
  readonly resolve: (o: Order) => void;
  readonly reject: (reason: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A Rejected update arrived; waiting (briefly) for its error code. */
  rejected?: Order;
  cleanup?: () => void;
}

/** How long a wait that saw a rejection waits for the ERROR record carrying its code. */
export const REJECT_CODE_GRACE_MS = 200;

const toError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e));

/**
 * This client's orders and the requests in flight about them.
 *
 * @example
 * ```ts
 * import { OrderDesk } from "./order_desk.ts";
 * const desk = new OrderDesk({
 *   instruments: [{ connector: "c", symbol: "s", tickSize: 1, lotSize: 1 }],
 *   port: { submit: () => {}, cancel: () => {}, now: () => 0 },
 *   sink: { deliver: () => {}, clientError: () => {} },
 *   waitTimeoutMs: 100,
 * });
 * console.log(desk.active().length); // 0
 * ```
 */
export class OrderDesk {
  readonly #specs: readonly InstrumentSpec[];
  readonly #port: OrderPort;
  readonly #sink: DeskSink;
  readonly #health: HealthRecorder | undefined;
  readonly #marketPrice: ((asset: number, side: Side) => number) | undefined;
  readonly #onWait: (() => void) | undefined;
  readonly #waitTimeoutMs: number;
  readonly #rounding: Rounding;
  readonly #tracker: OrderTracker;
  readonly #limiter: TokenBucket | undefined;
  readonly #waiters = new Map<number, Waiter[]>();
  /**
   * Cancels of `cancelAll` the core refused for a full queue (`BackpressureError`), oldest
   * first: sent as answers free room (after each order update), never dropped silently.
   */
  readonly #cancelBacklog = new Set<number>();

  /** A desk with no orders. */
  constructor(options: OrderDeskOptions) {
    this.#specs = options.instruments;
    this.#port = options.port;
    this.#sink = options.sink;
    this.#health = options.health;
    this.#marketPrice = options.marketPrice;
    this.#onWait = options.onWait;
    this.#waitTimeoutMs = options.waitTimeoutMs;
    this.#rounding = options.rounding ?? "conservative";
    this.#limiter = options.rateLimit ? new TokenBucket(options.rateLimit) : undefined;
    this.#tracker = new OrderTracker(options.keepFinishedOrders ?? 10_000);
  }

  /** Cancels of `cancelAll` waiting for room in the core's queue. */
  get cancelBacklog(): number {
    return this.#cancelBacklog.size;
  }

  /** Requests refused by the rate limit so far. */
  get rateLimited(): number {
    return this.#limiter?.refused ?? 0;
  }

  /** Whether any wait is pending. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  /** An order by id (active or recently finished). */
  get(orderId: number): Order | undefined {
    return this.#tracker.get(orderId);
  }

  /** Active orders (optionally of one asset), by id. */
  active(asset?: number): Order[] {
    return this.#tracker.active(asset);
  }

  // ------------------------------------------------------------ requests

  /** Validates and rounds an order request without sending it (throws {@linkcode ValidationError}). */
  check(req: OrderRequest, orderId: number): ValidOrder {
    return validateOrder(req, orderId, this.#specs, this.#marketPrice, this.#rounding);
  }

  /** Throws {@linkcode DuplicateOrderIdError} when `orderId` is in use by this client. */
  checkUnused(orderId: number): void {
    this.#tracker.checkUnused(orderId);
  }

  /** Validates, rounds and sends a new order; returns it as submitted (status None). */
  submit(req: OrderRequest, orderId: number = req?.orderId ?? nextOrderId()): Order {
    const v = this.check(req, orderId);
    this.#tracker.checkUnused(orderId);
    this.#checkUp(v.asset, `Cannot submit order ${orderId}`, orderId);
    this.#limiter?.take(`Cannot submit order ${orderId}`);
    this.#port.submit(v);
    return this.#tracker.submitted(v, this.#port.now());
  }

  /**
   * Sends a cancel. Throws {@linkcode OrderNotFoundError} for an unknown id and
   * {@linkcode InvalidOrderStatusError} for a finished order; the core refuses
   * one with a request in flight. `limit: false` skips the rate limit.
   */
  cancel(orderId: number, limit = true): Order {
    const what = `Cannot cancel order ${orderId}`;
    const o = this.#tracker.get(orderId);
    if (o === undefined) {
      throw new OrderNotFoundError(`${what}: no such order on this client`, { orderId });
    }
    if (isTerminalStatus(o.status)) {
      throw new InvalidOrderStatusError(`${what}: it is ${orderStatusName(o.status)}`, { orderId });
    }
    this.#checkUp(o.asset, what, orderId);
    if (limit) this.#limiter?.take(what);
    this.#port.cancel(o.asset, orderId);
    this.#tracker.cancelRequested(orderId, this.#port.now());
    return this.#tracker.get(orderId)!;
  }

  /** Fails fast, with nothing sent, when the connector of `asset` is known to be down. */
  #checkUp(asset: number, what: string, orderId: number): void {
    const down = this.#port.down?.(asset);
    if (down !== undefined) {
      throw new ConnectionError(
        `${what}: connector "${down}" is down (nothing was sent; wait for the reconnect event)`,
        { orderId },
      );
    }
  }

  /** Checks an asset index (`what` prefixes the message). */
  checkAsset(asset: number, what: string): void {
    if (!Number.isInteger(asset) || asset < 0 || asset >= this.#specs.length) {
      throw new ValidationError(
        `${what}: asset ${asset} is not configured (0..${this.#specs.length - 1})`,
      );
    }
  }

  /**
   * Cancels every active order (of one asset, or all): see `LiveClient.cancelAll`.
   * Returns the ids covered, or with `wait` a promise of their final states.
   */
  cancelAll(asset: number | undefined, options?: CancelAllOptions): number[] | Promise<Order[]> {
    const what = "Cannot cancel all orders";
    if (asset !== undefined) this.checkAsset(asset, what);
    if (options?.wait) {
      checkTimeout(options.timeoutMs ?? this.#waitTimeoutMs, what, "timeoutMs");
    }
    // Cancels already waiting for room go first (room may have freed without an order update).
    this.retryCancels();
    const active = this.#tracker.active(asset);
    const send = active.filter((o) => o.req === OrderStatus.None && o.status !== OrderStatus.None);
    const defer = active.filter((o) =>
      o.req === OrderStatus.New && !this.#tracker.hasCancelOnAck(o.orderId)
    );
    // Cancelling everything reduces risk: the client's own rate limit never refuses it, it
    // borrows the tokens (later requests are refused until the debt is repaid).
    this.#limiter?.force(
      send.filter((o) => !this.#cancelBacklog.has(o.orderId)).length + defer.length,
    );
    const sent: number[] = [];
    const failed: { orderId: number; error: Error }[] = [];
    for (const o of send) {
      if (this.#cancelBacklog.has(o.orderId)) continue; // already waiting for room
      // Once the queue is full, the rest wait for room behind the first refused one.
      if (this.#cancelBacklog.size > 0) {
        this.#cancelBacklog.add(o.orderId);
        continue;
      }
      try {
        this.cancel(o.orderId, false);
        sent.push(o.orderId);
      } catch (e) {
        // A full queue is not a refusal of the kill switch: the cancel goes out when answers
        // free room (see #sendBacklog).
        if (e instanceof BackpressureError) this.#cancelBacklog.add(o.orderId);
        else failed.push({ orderId: o.orderId, error: toError(e) });
      }
    }
    for (const o of defer) {
      this.#tracker.cancelOnAck(o.orderId);
      sent.push(o.orderId);
    }
    const refused = new Set(failed.map((f) => f.orderId));
    const ids = active.map((o) => o.orderId).filter((id) => !refused.has(id));
    let done = 0;
    const progress = options?.onProgress;
    const counted = (p: Promise<Order>): Promise<Order> =>
      progress === undefined ? p : p.finally(() => progress(++done, ids.length));
    const waits = options?.wait
      ? ids.map((id) => counted(this.wait("cancel", this.#tracker.get(id)!, options)))
      : [];
    if (failed.length > 0) {
      const settled = waits.length > 0 ? Promise.allSettled(waits) : undefined;
      throw new CancelAllError(
        `${what}: ${failed.length} of ${active.length} cancels were refused (${
          failed.slice(0, 3).map((f) => `${f.orderId}: ${f.error.message}`).join("; ")
        }${
          failed.length > 3 ? `; and ${failed.length - 3} more, in .failed` : ""
        }); the others were sent`,
        sent,
        failed,
        settled,
      );
    }
    return options?.wait ? Promise.all(waits) : ids;
  }

  /**
   * Cancel-and-replace (see `LiveClient.replaceOrder`). The replacement is
   * checked before anything is cancelled: a bad price or qty, or an id in use,
   * leaves the original order alone.
   */
  async replace(
    orderId: number,
    changes: { readonly price?: number; readonly qty?: number; readonly orderId?: number },
    options: WaitOptions,
  ): Promise<Order> {
    const what = `Cannot replace order ${orderId}`;
    const o = this.#tracker.get(orderId);
    if (o === undefined) {
      throw new OrderNotFoundError(`${what}: no such order on this client`, { orderId });
    }
    const newId = changes.orderId ?? nextOrderId();
    const request = (qty: number): OrderRequest => ({
      asset: o.asset,
      side: o.side,
      price: changes.price ?? o.price,
      qty: changes.qty ?? qty,
      timeInForce: o.timeInForce,
      orderType: o.orderType,
      orderId: newId,
    });
    this.check(request(o.leavesQty), newId);
    this.#tracker.checkUnused(newId);
    const old = await this.wait("cancel", this.cancel(orderId), options);
    if (old.status !== OrderStatus.Canceled) {
      throw new InvalidOrderStatusError(
        `${what}: it is ${orderStatusName(old.status)}, not Canceled`,
        { orderId },
      );
    }
    const sent = this.submit(request(old.leavesQty), newId);
    return options.wait ? await this.wait("submit", sent, options) : sent;
  }

  /** Checks wait options (before anything is sent): timeout range, signal type. */
  checkWait(options: WaitOptions, what: string): void {
    if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs, what, "timeoutMs");
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new ValidationError(`${what}: signal is not an AbortSignal`);
    }
  }

  /**
   * Cancels every resting order and waits up to `timeoutMs` for the answers
   * (cancel on exit). `drive`, when given, is called in a loop until then
   * instead of waiting (a poll-mode client has nothing else delivering).
   */
  async cancelForExit(timeoutMs: number, drive?: () => void): Promise<void> {
    if (this.#tracker.active().length === 0) return;
    if (drive === undefined) {
      await this.cancelAll(undefined, { wait: true, timeoutMs });
      return;
    }
    this.cancelAll(undefined);
    const deadline = performance.now() + timeoutMs;
    while (this.#tracker.active().length > 0 && performance.now() < deadline) drive();
  }

  /**
   * Waits for the answer to the `kind` request about `o`: resolves on the first
   * response, rejects with {@linkcode TimeoutError}, or with the abort reason.
   */
  wait(kind: "submit" | "cancel", o: Order, options: WaitOptions): Promise<Order> {
    const timeoutMs = checkTimeout(
      options.timeoutMs ?? this.#waitTimeoutMs,
      `Cannot wait for order ${o.orderId}`,
      "timeoutMs",
    );
    const { promise, resolve, reject } = Promise.withResolvers<Order>();
    const w: Waiter = { kind, orderId: o.orderId, resolve, reject, timer: undefined };
    if (timeoutMs !== Infinity) {
      w.timer = setTimeout(() => {
        this.#finish(w, {
          reason: new TimeoutError(
            `Order ${o.orderId}: no answer to the ${kind} within ${timeoutMs} ms; the outcome is unknown`,
            { orderId: o.orderId, ambiguous: true },
          ),
        });
      }, timeoutMs);
    }
    const signal = options.signal;
    if (signal !== undefined) {
      // Rejects with the abort reason as given (like fetch), whatever it is.
      const onAbort = (): void => this.#finish(w, { reason: signal.reason });
      if (signal.aborted) {
        queueMicrotask(onAbort);
      } else {
        signal.addEventListener("abort", onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
    }
    let list = this.#waiters.get(o.orderId);
    if (list === undefined) this.#waiters.set(o.orderId, list = []);
    this.#onWait?.();
    list.push(w);
    return promise;
  }

  // -------------------------------------------------------------- events

  /** An ORDER record from the core (`recvTs` stamped). */
  onOrder(raw: OrderUpdate): void {
    const { order, previous, illegal } = this.#tracker.apply(raw);
    if (illegal !== undefined || order === undefined) {
      if (this.#health) this.#health.illegalTransitions++;
      this.#sink.clientError(
        raw.asset,
        0,
        raw.orderId,
        illegal ?? `Order ${raw.orderId}: update ignored`,
        raw.recvTs,
      );
      return;
    }
    const ev: OrderUpdate = { ...order, type: "order", recvTs: raw.recvTs, updateTs: raw.recvTs };
    if (order === previous) {
      // A repeated terminal answer (e.g. a late cancel answer after Canceled): nothing changed,
      // nothing to deliver; a wait on it still settles.
      this.#settle(ev, previous);
      return;
    }
    this.#health?.orderUpdate(ev, previous);
    this.#sink.deliver(ev);
    const fill = this.#fill(ev, previous);
    if (fill !== undefined) this.#sink.deliver(fill);
    this.#settle(ev, previous);
    // A cancel asked for before the acknowledgement goes out now.
    // (The tracker's state, not `ev`: a callback above may have cancelled the order already.)
    const now = this.#tracker.get(ev.orderId);
    if (now !== undefined && this.#tracker.takeCancelOnAck(now)) {
      this.#sendDeferredCancel(ev.orderId);
    }
    // An answer freed room in the core's queue: cancels waiting for it go out.
    this.retryCancels();
  }

  /**
   * Sends the backlog of `cancelAll` until the core's queue is full again. Called after order
   * updates, at the start of `cancelAll` and on the client's periodic tick (≤ 250 ms), since
   * the core can free room without a record reaching the desk.
   */
  retryCancels(): void {
    if (this.#cancelBacklog.size === 0) return;
    for (const id of this.#cancelBacklog) {
      const o = this.#tracker.get(id);
      if (o === undefined || isTerminalStatus(o.status) || o.req === OrderStatus.Canceled) {
        this.#cancelBacklog.delete(id); // finished, or cancelled since: nothing to send
        continue;
      }
      try {
        this.cancel(id, false);
        this.#cancelBacklog.delete(id);
      } catch (e) {
        if (e instanceof BackpressureError) return;
        this.#cancelBacklog.delete(id);
        this.#cancelFailed(id, e, "the cancel of cancelAll could not be sent");
      }
    }
  }

  /** An order update that lowered the leaves quantity is a fill. */
  #fill(ev: OrderUpdate, previous: Order | undefined): Fill | undefined {
    const prevLeaves = previous?.leavesQty ?? ev.qty;
    if (
      !(ev.status === OrderStatus.Filled || ev.status === OrderStatus.PartiallyFilled) ||
      !(ev.leavesQty < prevLeaves)
    ) {
      return undefined;
    }
    const qty = Number((prevLeaves - ev.leavesQty).toPrecision(12));
    // One execution per update is what connectors send over their streams; an update that
    // covers more (a REST answer: cumulative quantity, no price) or follows a lost one gives
    // a fill whose price is not known for all of its quantity.
    const exact = ev.execPrice > 0 && Math.abs(ev.execQty - qty) <= 1e-9 * Math.max(1, qty);
    if (!exact && this.#health) this.#health.inexactFills++;
    return {
      type: "fill",
      asset: ev.asset,
      orderId: ev.orderId,
      side: ev.side,
      price: ev.execPrice > 0 ? ev.execPrice : NaN,
      qty,
      leavesQty: ev.leavesQty,
      maker: ev.maker,
      exact,
      exchTs: ev.exchTs,
      recvTs: ev.recvTs,
    };
  }

  #settle(ev: Order, previous: Order | undefined): void {
    const ws = this.#waiters.get(ev.orderId);
    if (ws === undefined) return;
    for (const w of [...ws]) {
      if (w.kind === "submit") {
        if (ev.status === OrderStatus.Rejected && ev.rejectCode === undefined) {
          // Hold briefly for the ERROR record carrying the exchange's code.
          w.rejected = ev;
          if (w.timer !== undefined) clearTimeout(w.timer);
          w.timer = setTimeout(
            () => this.#finish(w, this.#tracker.get(ev.orderId) ?? ev),
            REJECT_CODE_GRACE_MS,
          );
          continue;
        }
        this.#finish(w, ev);
      } else {
        // The tracker's state, not `ev`: a callback may have sent the cancel since.
        const cur = this.#tracker.get(ev.orderId) ?? ev;
        const settled = isTerminalStatus(cur.status) ||
          (cur.req === OrderStatus.None && !this.#tracker.hasCancelOnAck(ev.orderId) &&
            !this.#cancelBacklog.has(ev.orderId));
        if (settled && previous !== undefined) this.#finish(w, ev);
      }
    }
  }

  #sendDeferredCancel(orderId: number): void {
    try {
      this.cancel(orderId, false);
    } catch (e) {
      this.#cancelFailed(
        orderId,
        e,
        "the cancel deferred to its acknowledgement could not be sent",
      );
    }
  }

  /** Cancels of `cancelAll` dropped before they could be sent: one error names them. */
  #reportUnsent(ids: number[], why: string): void {
    if (ids.length === 0) return;
    const shown = ids.slice(0, 10).join(", ") + (ids.length > 10 ? `, … (${ids.length})` : "");
    this.#sink.clientError(
      this.#tracker.get(ids[0])?.asset ?? -1,
      0,
      ids[0],
      `${ids.length} cancels of cancelAll waiting for room in the core's queue were not sent (${why}); those orders may still rest, cancel them again: ${shown}`,
    );
  }

  /** A cancel sent later on the user's behalf failed: reported, and its waits reject. */
  #cancelFailed(orderId: number, e: unknown, what: string): void {
    const o = this.#tracker.get(orderId);
    this.#sink.clientError(
      o?.asset ?? -1,
      (e as { status?: number }).status ?? 0,
      orderId,
      `Order ${orderId}: ${what}: ${toError(e).message}`,
    );
    for (const w of [...(this.#waiters.get(orderId) ?? [])]) {
      if (w.kind === "cancel") this.#finish(w, { reason: e });
    }
  }

  /** An ERROR record: an order rejection's code settles the wait held for it. */
  onError(ev: ErrorEvent): void {
    if (ev.kind !== ErrorKind.OrderError || ev.orderId <= 0) return;
    const o = this.#tracker.setRejection(ev.orderId, ev.code, ev.message);
    if (o === undefined || o.status !== OrderStatus.Rejected) return;
    for (const w of [...(this.#waiters.get(ev.orderId) ?? [])]) {
      if (w.rejected !== undefined) this.#finish(w, o);
    }
  }

  /**
   * A connector went away: requests about orders of its instruments (`ofConnector`)
   * have an unknown outcome. Deferred cancels are dropped (nothing is sent later on their
   * behalf) and their waits reject with an ambiguous {@linkcode ConnectionError}.
   */
  connectorDown(name: string, ofConnector: (asset: number) => boolean): void {
    this.#tracker.dropCancelOnAck((o) => ofConnector(o.asset));
    const dropped: number[] = [];
    for (const id of this.#cancelBacklog) {
      const o = this.#tracker.get(id);
      if (o === undefined || ofConnector(o.asset)) {
        this.#cancelBacklog.delete(id);
        if (o !== undefined && !isTerminalStatus(o.status)) dropped.push(id);
      }
    }
    this.#reportUnsent(dropped, `connector "${name}" went away`);
    for (const [id, ws] of [...this.#waiters]) {
      const o = this.#tracker.get(id);
      if (o === undefined || !ofConnector(o.asset)) continue;
      for (const w of [...ws]) {
        if (this.#settleRejected(w)) continue;
        this.#finish(w, {
          reason: new ConnectionError(
            `Order ${id}: connector "${name}" went away before answering; the outcome is unknown`,
            { orderId: id, ambiguous: true },
          ),
        });
      }
    }
  }

  /** Rejects every pending wait (the client closed; `failure` is why it stopped, if it failed). */
  close(why: string, failure: Error | undefined): void {
    this.#reportUnsent([...this.#cancelBacklog], why);
    this.#cancelBacklog.clear();
    for (const ws of [...this.#waiters.values()]) {
      for (const w of [...ws]) {
        if (this.#settleRejected(w)) continue;
        this.#finish(w, {
          reason: new ClosedError(`Order ${w.orderId}: no answer before ${why}`, {
            orderId: w.orderId,
            ambiguous: true,
            cause: failure,
          }),
        });
      }
    }
  }

  /** A wait that already saw its Rejected update (held for the code) resolves with it now. */
  #settleRejected(w: Waiter): boolean {
    if (w.rejected === undefined) return false;
    this.#finish(w, this.#tracker.get(w.orderId) ?? w.rejected);
    return true;
  }

  /** Settles `w` with an order (resolves) or with anything else (rejects with it as is). */
  #finish(w: Waiter, outcome: Order | { readonly reason: unknown }): void {
    const ws = this.#waiters.get(w.orderId);
    if (ws === undefined) return;
    const i = ws.indexOf(w);
    if (i < 0) return;
    ws.splice(i, 1);
    if (ws.length === 0) this.#waiters.delete(w.orderId);
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.cleanup?.();
    if ("reason" in outcome) w.reject(outcome.reason);
    else w.resolve(outcome);
  }
}
