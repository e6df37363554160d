/**
 * Order ids, tick/lot rounding, validation, the order state machine and the
 * client-side rate limit.
 *
 * **Rounding rule.** By default (`"conservative"`) rounding never makes an
 * order larger or more aggressive than asked: a quantity rounds down to the
 * lot, a buy price down to the tick and a sell price up to the tick; a value
 * already on the grid (within floating-point noise of 1e-9 of a step) is
 * kept as is. `"nearest"` is hftbacktest's own rule, `Math.round(value /
 * step)` for both. Either way a value that rounds to zero steps, or whose
 * tick or lot count is not an exact integer in JavaScript (above 2^53), is
 * refused with a {@linkcode ValidationError}.
 *
 * **Order ids** are JS numbers, integers in `[1, 2^53 - 1]`, passed to the
 * core as f64. Auto-generated ids come from one process-wide counter (so they
 * are unique across every client of the process), seeded from the clock so
 * that two processes started at different milliseconds do not collide.
 *
 * @example Rounding to the instrument's grid
 * ```ts
 * import { roundPrice, roundQty } from "./orders.ts";
 * console.log(roundPrice(100.07, 0.05)); // 100.05 (nearest)
 * console.log(roundQty(0.0019, 0.001)); // 0.001 (down)
 * ```
 *
 * @module
 */

import { DuplicateOrderIdError, RateLimitedError, ValidationError } from "./errors.ts";
import {
  isTerminalStatus,
  type Order,
  type OrderRequest,
  OrderStatus,
  orderStatusName,
  OrderType,
  Side,
  TimeInForce,
} from "./models.ts";

/** The largest order id (2^53 - 1). */
export const MAX_ORDER_ID: number = Number.MAX_SAFE_INTEGER;

// Time-seeded so that processes started at different milliseconds get disjoint
// ranges (1024 ids per millisecond of start time; good until the year 2248).
let nextId = Date.now() * 1024 + Math.floor(Math.random() * 1024);

/**
 * A new order id, unique within the process.
 *
 * @example
 * ```ts
 * import { nextOrderId } from "./orders.ts";
 * const a = nextOrderId(), b = nextOrderId();
 * console.log(b > a); // true
 * ```
 */
export function nextOrderId(): number {
  if (nextId >= MAX_ORDER_ID) nextId = 1;
  return nextId++;
}

/**
 * How prices and quantities are put on the instrument's grid:
 * `"conservative"` (default: quantity down, buy price down, sell price up) or
 * `"nearest"` (hftbacktest's `Math.round`).
 *
 * @example
 * ```ts
 * import type { Rounding } from "./orders.ts";
 * const r: Rounding = "nearest";
 * ```
 */
export type Rounding = "conservative" | "nearest";

/**
 * Which way a value goes to the grid.
 *
 * @example
 * ```ts
 * import { type Direction, roundPrice } from "./orders.ts";
 * const d: Direction = "up";
 * console.log(roundPrice(100.01, 0.1, d)); // 100.1
 * ```
 */
export type Direction = "down" | "up" | "nearest";

/** Grid steps of `v`: exact when on the grid within float noise, else rounded per `dir`. */
function steps(v: number, step: number, dir: Direction): number {
  const x = v / step;
  const r = Math.round(x);
  if (Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x))) return r;
  return dir === "down" ? Math.floor(x) : dir === "up" ? Math.ceil(x) : r;
}

/**
 * Rounds a price to the tick: to the nearest one by default (hftbacktest's
 * rule), or `"down"`/`"up"`.
 *
 * @example
 * ```ts
 * import { roundPrice } from "./orders.ts";
 * console.log(roundPrice(50_000.04, 0.1)); // 50000
 * console.log(roundPrice(50_000.04, 0.1, "up")); // 50000.1
 * ```
 */
export function roundPrice(price: number, tickSize: number, dir: Direction = "nearest"): number {
  return toGrid(steps(price, tickSize, dir), tickSize);
}

/**
 * Rounds a quantity down to the lot (0 when less than one lot), or to the
 * nearest lot with `"nearest"`.
 *
 * @example
 * ```ts
 * import { roundQty } from "./orders.ts";
 * console.log(roundQty(0.0026, 0.001)); // 0.002
 * console.log(roundQty(0.0026, 0.001, "nearest")); // 0.003
 * ```
 */
export function roundQty(qty: number, lotSize: number, dir: Direction = "down"): number {
  return toGrid(steps(qty, lotSize, dir), lotSize);
}

/** `n * step`, cleaned of binary noise (0.1 * 3 = 0.30000000000000004 → 0.3). */
function toGrid(n: number, step: number): number {
  const v = n * step;
  const decimals = Math.max(0, Math.min(15, Math.ceil(-Math.log10(step)) + 2));
  return Number(v.toFixed(decimals));
}

/**
 * Static description of an instrument, as the client knows it.
 *
 * @example
 * ```ts
 * import type { InstrumentSpec } from "./orders.ts";
 * const spec: InstrumentSpec = { connector: "bf", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 };
 * ```
 */
export interface InstrumentSpec {
  /** Name of the connector (the hftbacktest `connector` name, or a sim's name). */
  readonly connector: string;
  /** Symbol as the connector/exchange names it (e.g. `btcusdt`). */
  readonly symbol: string;
  /** Price tick size. */
  readonly tickSize: number;
  /** Quantity lot size. */
  readonly lotSize: number;
}

/**
 * A validated order, ready to cross the FFI.
 *
 * @example
 * ```ts
 * import { type ValidOrder, validateOrder } from "./orders.ts";
 * const v: ValidOrder = validateOrder({ side: 1, price: 10, qty: 1 }, 1, [
 *   { connector: "c", symbol: "s", tickSize: 0.1, lotSize: 1 },
 * ]);
 * ```
 */
export interface ValidOrder {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Order id. */
  readonly orderId: number;
  /** Side (Buy/Sell). */
  readonly side: Side;
  /** Price in instrument units. */
  readonly price: number;
  /** Quantity in instrument units. */
  readonly qty: number;
  /** Time in force. */
  readonly timeInForce: TimeInForce;
  /** Order type. */
  readonly orderType: OrderType;
}

function positiveFinite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}

/**
 * Checks an order request and rounds it (see the module doc for the rule).
 * Throws a {@linkcode ValidationError} saying what and why; nothing is sent.
 * `marketPrice` supplies the price of a market order that has none.
 *
 * @example
 * ```ts
 * import { validateOrder } from "./orders.ts";
 * const spec = [{ connector: "sim", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }];
 * const v = validateOrder({ side: 1, price: 100.04, qty: 0.0021 }, 7, spec);
 * console.log(v.price, v.qty); // 100 0.002
 * ```
 */
export function validateOrder(
  req: OrderRequest,
  orderId: number,
  instruments: readonly InstrumentSpec[],
  marketPrice?: (asset: number, side: Side) => number,
  rounding: Rounding = "conservative",
): ValidOrder {
  const what = `Cannot submit order ${orderId}`;
  if (req === null || typeof req !== "object") {
    throw new ValidationError(`${what}: the request is not an object`);
  }
  if (!Number.isInteger(orderId) || orderId < 1 || orderId > MAX_ORDER_ID) {
    throw new ValidationError(`${what}: order id is not an integer in [1, 2^53 - 1]`);
  }
  const asset = req.asset ?? 0;
  if (!Number.isInteger(asset) || asset < 0 || asset >= instruments.length) {
    throw new ValidationError(
      `${what}: asset ${asset} is not configured (0..${instruments.length - 1})`,
      { orderId },
    );
  }
  const spec = instruments[asset];
  if (req.side !== Side.Buy && req.side !== Side.Sell) {
    throw new ValidationError(`${what}: side ${req.side} is not Side.Buy (1) or Side.Sell (-1)`, {
      orderId,
    });
  }
  const orderType = req.orderType ?? OrderType.Limit;
  if (orderType !== OrderType.Limit && orderType !== OrderType.Market) {
    throw new ValidationError(`${what}: order type ${orderType} is not Limit (0) or Market (1)`, {
      orderId,
    });
  }
  const tif = req.timeInForce ?? TimeInForce.GTC;
  if (tif !== 0 && tif !== 1 && tif !== 2 && tif !== 3) {
    throw new ValidationError(`${what}: time in force ${tif} is not GTC, GTX, FOK or IOC`, {
      orderId,
    });
  }
  if (orderType === OrderType.Market && tif === TimeInForce.GTX) {
    throw new ValidationError(`${what}: a market order cannot be post-only (GTX)`, { orderId });
  }
  let price = req.price;
  if (price === undefined && orderType === OrderType.Market && marketPrice) {
    price = marketPrice(asset, req.side);
    if (!positiveFinite(price)) {
      throw new ValidationError(
        `${what}: a market order without a price needs a best ${
          req.side === Side.Buy ? "ask" : "bid"
        }, and there is none yet`,
        { orderId },
      );
    }
  }
  if (typeof price !== "number" || !Number.isFinite(price)) {
    throw new ValidationError(`${what}: price ${price} is not a finite number`, { orderId });
  }
  if (price <= 0) {
    throw new ValidationError(`${what}: price ${price} is not above 0`, { orderId });
  }
  const conservative = rounding === "conservative";
  const priceDir: Direction = !conservative ? "nearest" : req.side === Side.Buy ? "down" : "up";
  const ticks = steps(price, spec.tickSize, priceDir);
  if (ticks < 1) {
    throw new ValidationError(
      `${what}: price ${price} rounds ${dirText(priceDir)} to 0 ticks of ${spec.tickSize}`,
      { orderId },
    );
  }
  if (ticks > MAX_STEPS) {
    throw new ValidationError(
      `${what}: price ${price} is ${ticks} ticks of ${spec.tickSize}, more than the core can hold exactly (2^53)`,
      { orderId },
    );
  }
  const qty = req.qty;
  if (typeof qty !== "number" || !Number.isFinite(qty)) {
    throw new ValidationError(`${what}: qty ${qty} is not a finite number`, { orderId });
  }
  if (qty <= 0) {
    throw new ValidationError(`${what}: qty ${qty} is not above 0`, { orderId });
  }
  const qtyDir: Direction = conservative ? "down" : "nearest";
  const lots = steps(qty, spec.lotSize, qtyDir);
  if (lots < 1) {
    throw new ValidationError(
      `${what}: qty ${qty} rounds ${dirText(qtyDir)} to 0 lots of ${spec.lotSize}`,
      { orderId },
    );
  }
  if (lots > MAX_STEPS) {
    throw new ValidationError(
      `${what}: qty ${qty} is ${lots} lots of ${spec.lotSize}, more than the core can hold exactly (2^53)`,
      { orderId },
    );
  }
  return {
    asset,
    orderId,
    side: req.side,
    price: toGrid(ticks, spec.tickSize),
    qty: toGrid(lots, spec.lotSize),
    timeInForce: tif,
    orderType,
  };
}

/** The largest tick or lot count sent: exact in a double and in the core's i64. */
const MAX_STEPS = Number.MAX_SAFE_INTEGER;

function dirText(d: Direction): string {
  return d === "nearest" ? "to the nearest step" : d;
}

/** Statuses an order may move to from each status (terminal ones: none). */
const LEGAL: Record<number, readonly number[]> = {
  [OrderStatus.None]: [0, 1, 2, 3, 4, 5, 6],
  [OrderStatus.New]: [1, 2, 3, 4, 5],
  [OrderStatus.PartiallyFilled]: [2, 3, 4, 5],
};

/**
 * Whether an order may move from `from` to `to`: None → anything; New →
 * New, PartiallyFilled, Filled, Canceled, Expired; PartiallyFilled →
 * PartiallyFilled, Filled, Canceled, Expired. Terminal states are sticky.
 *
 * @example
 * ```ts
 * import { isLegalTransition, OrderStatus } from "./mod.ts";
 * console.log(isLegalTransition(OrderStatus.Filled, OrderStatus.New)); // false
 * ```
 */
export function isLegalTransition(from: OrderStatus, to: OrderStatus): boolean {
  return LEGAL[from]?.includes(to) ?? false;
}

/** Result of {@linkcode OrderTracker.apply}. */
export interface ApplyResult {
  /** The order after the update (unchanged if illegal). */
  readonly order: Order | undefined;
  /** The previous state, if the order was known. */
  readonly previous: Order | undefined;
  /** Set when the transition was illegal and was not applied. */
  readonly illegal?: string;
}

/**
 * Tracks this client's orders through the state machine. Terminal orders
 * are kept (for `order(id)`) up to `keepTerminal` of them, oldest evicted.
 *
 * @example
 * ```ts
 * import { OrderTracker } from "./orders.ts";
 * const t = new OrderTracker();
 * console.log(t.get(1)); // undefined
 * ```
 */
export class OrderTracker {
  readonly #orders = new Map<number, Order>();
  #terminal: number[] = [];
  #terminalHead = 0;
  readonly #keepTerminal: number;
  readonly #cancelOnAck = new Set<number>();

  /** Creates an empty tracker. */
  constructor(keepTerminal = 10_000) {
    this.#keepTerminal = keepTerminal;
  }

  /**
   * Throws {@linkcode DuplicateOrderIdError} if `orderId` is an active order of
   * this client or one of its last `keepTerminal` finished ones (the core also
   * refuses the ids of its last 100,000 finished orders per asset).
   */
  checkUnused(orderId: number): void {
    if (this.#orders.has(orderId)) {
      throw new DuplicateOrderIdError(
        `Cannot submit order ${orderId}: the order id was already used by this client`,
        { orderId },
      );
    }
  }

  /** Records a submitted order (status None until the first response). */
  submitted(v: ValidOrder, requestTs: number): Order {
    const o: Order = {
      asset: v.asset,
      orderId: v.orderId,
      side: v.side,
      price: v.price,
      qty: v.qty,
      leavesQty: v.qty,
      execQty: 0,
      execPrice: 0,
      status: OrderStatus.None,
      req: OrderStatus.New,
      timeInForce: v.timeInForce,
      orderType: v.orderType,
      maker: false,
      exchTs: 0,
      requestTs,
      updateTs: 0,
    };
    this.#orders.set(v.orderId, o);
    return o;
  }

  /** Records a cancel request. */
  cancelRequested(orderId: number, requestTs: number): void {
    const o = this.#orders.get(orderId);
    if (o) this.#orders.set(orderId, { ...o, req: OrderStatus.Canceled, requestTs });
  }

  /** Asks for a cancel to be sent once the order is acknowledged (see `takeCancelOnAck`). */
  cancelOnAck(orderId: number): void {
    this.#cancelOnAck.add(orderId);
  }

  /** Whether a cancel is deferred to this order's acknowledgement. */
  hasCancelOnAck(orderId: number): boolean {
    return this.#cancelOnAck.has(orderId);
  }

  /**
   * True (once) when `o` has a deferred cancel and can be cancelled now; a
   * finished order's deferred cancel is dropped.
   */
  takeCancelOnAck(o: Order): boolean {
    if (!this.#cancelOnAck.has(o.orderId)) return false;
    if (isTerminalStatus(o.status)) {
      this.#cancelOnAck.delete(o.orderId);
      return false;
    }
    if (o.req === OrderStatus.Canceled) {
      // Someone cancelled it already (e.g. from an order callback): nothing more to send.
      this.#cancelOnAck.delete(o.orderId);
      return false;
    }
    if (o.status === OrderStatus.None || o.req !== OrderStatus.None) return false;
    this.#cancelOnAck.delete(o.orderId);
    return true;
  }

  /** Drops the deferred cancels of the orders for which `pred` holds; returns their ids. */
  dropCancelOnAck(pred: (o: Order) => boolean): number[] {
    const out: number[] = [];
    for (const id of this.#cancelOnAck) {
      const o = this.#orders.get(id);
      if (o === undefined || pred(o)) {
        this.#cancelOnAck.delete(id);
        out.push(id);
      }
    }
    return out;
  }

  /** Applies an update from the core; illegal transitions are reported, not applied. */
  apply(u: Order): ApplyResult {
    const prev = this.#orders.get(u.orderId);
    if (prev === undefined) {
      // Not submitted through this tracker (e.g. a restarted client): adopt it.
      this.#orders.set(u.orderId, u);
      if (isTerminalStatus(u.status)) this.#retire(u.orderId);
      return { order: u, previous: undefined };
    }
    if (prev.status === u.status && isTerminalStatus(u.status)) {
      // A repeated terminal answer (e.g. a late cancel answer after Canceled): nothing changes.
      return { order: prev, previous: prev };
    }
    if (!isLegalTransition(prev.status, u.status)) {
      return {
        order: prev,
        previous: prev,
        illegal: `Order ${u.orderId}: illegal status transition ${orderStatusName(prev.status)} → ${
          orderStatusName(u.status)
        } ignored`,
      };
    }
    // The exchange's rejection code may have arrived (ERROR record) before this update.
    const next: Order = { ...u, requestTs: prev.requestTs };
    if (next.rejectCode === undefined && prev.rejectCode !== undefined) {
      Object.assign(next, { rejectCode: prev.rejectCode, rejectReason: prev.rejectReason });
    }
    this.#orders.set(u.orderId, next);
    if (isTerminalStatus(next.status)) this.#retire(u.orderId);
    return { order: next, previous: prev };
  }

  /** Sets rejection details on an order. */
  setRejection(orderId: number, code: number, reason: string): Order | undefined {
    const o = this.#orders.get(orderId);
    if (!o) return undefined;
    const next = { ...o, rejectCode: code, rejectReason: reason };
    this.#orders.set(orderId, next);
    return next;
  }

  /** Marks an order as finished with the given status (reconciliation). */
  finish(orderId: number, status: OrderStatus): Order | undefined {
    const o = this.#orders.get(orderId);
    if (!o || isTerminalStatus(o.status)) return o;
    const next = { ...o, status, req: OrderStatus.None };
    this.#orders.set(orderId, next);
    this.#retire(orderId);
    return next;
  }

  #retire(orderId: number): void {
    this.#cancelOnAck.delete(orderId);
    this.#terminal.push(orderId);
    if (this.#terminal.length - this.#terminalHead > this.#keepTerminal) {
      const old = this.#terminal[this.#terminalHead++];
      const o = this.#orders.get(old);
      if (o && isTerminalStatus(o.status)) this.#orders.delete(old);
      if (this.#terminalHead > 4096 && this.#terminalHead * 2 > this.#terminal.length) {
        this.#terminal = this.#terminal.slice(this.#terminalHead);
        this.#terminalHead = 0;
      }
    }
  }

  /** The order, or undefined. */
  get(orderId: number): Order | undefined {
    return this.#orders.get(orderId);
  }

  /** Active (non-terminal) orders, optionally of one asset, by id. */
  active(asset?: number): Order[] {
    const out: Order[] = [];
    for (const o of this.#orders.values()) {
      if (!isTerminalStatus(o.status) && (asset === undefined || o.asset === asset)) out.push(o);
    }
    return out.sort((a, b) => a.orderId - b.orderId);
  }
}

/**
 * Token-bucket rate limit options: `rate` requests per second on average,
 * bursts of up to `burst` (default `rate`).
 *
 * @example
 * ```ts
 * import type { RateLimit } from "./orders.ts";
 * const limit: RateLimit = { rate: 10, burst: 20 };
 * ```
 */
export interface RateLimit {
  /** Requests per second on average. */
  readonly rate: number;
  /** Largest burst (default `rate`). */
  readonly burst?: number;
}

/**
 * A token bucket; `take()` fails fast with {@linkcode RateLimitedError}.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./orders.ts";
 * const b = new TokenBucket({ rate: 1, burst: 1 });
 * b.take("Cannot submit order 1"); // ok
 * try { b.take("Cannot submit order 2"); } catch (e) { console.log((e as Error).name); }
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  /** Requests refused so far. */
  refused = 0;

  /** Creates a full bucket. */
  constructor(limit: RateLimit) {
    if (!positiveFinite(limit.rate)) {
      throw new ValidationError(`Cannot create rate limit: rate ${limit.rate} is not above 0`);
    }
    const burst = limit.burst ?? limit.rate;
    if (!positiveFinite(burst) || burst < 1) {
      throw new ValidationError(`Cannot create rate limit: burst ${burst} is not at least 1`);
    }
    this.#rate = limit.rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = performance.now();
  }

  /**
   * Takes `n` tokens (default 1) or none: throws {@linkcode RateLimitedError}
   * (`what` prefixes the message) when fewer than `n` are available.
   */
  take(what: string, n = 1): void {
    this.#refill();
    if (this.#tokens < n) {
      this.refused += n;
      throw new RateLimitedError(
        n === 1
          ? `${what}: rate limit of ${this.#rate}/s (burst ${this.#burst}) reached`
          : `${what}: ${n} requests exceed the rate limit of ${this.#rate}/s (burst ${this.#burst}; ${
            Math.floor(this.#tokens)
          } available now); nothing was sent`,
      );
    }
    this.#tokens -= n;
  }

  /**
   * Takes `n` tokens even if the bucket cannot cover them, going into debt:
   * later requests are refused until the debt is repaid at `rate`. For
   * requests that reduce risk (cancelling everything) and must not be refused.
   */
  force(n: number): void {
    this.#refill();
    this.#tokens -= n;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}
