/**
 * Enums and event/record types of hftlive.
 *
 * **Units.** Prices and quantities are in instrument units (not ticks or
 * lots). Every timestamp is a `number` of **nanoseconds since the Unix epoch**
 * (an f64: exact to about 256 ns at today's epoch, since 2^53 ns ≈ 104 days
 * and today's values are ~2^60.6); latencies are `number`s of nanoseconds.
 * All values handed out are immutable (`readonly`).
 *
 * Enums are `as const` objects with a type of the same name; their numeric
 * values are hftbacktest's own.
 *
 * @example Switching on an event
 * ```ts
 * import { type LiveEvent, Side } from "./models.ts";
 *
 * function describe(ev: LiveEvent): string {
 *   switch (ev.type) {
 *     case "trade":
 *       return `${ev.side === Side.Buy ? "buy" : "sell"} ${ev.qty} @ ${ev.price}`;
 *     case "bbo":
 *       return `${ev.bidPrice} / ${ev.askPrice}`;
 *     default:
 *       return ev.type;
 *   }
 * }
 * ```
 *
 * @module
 */

/**
 * Discriminant of every {@linkcode LiveEvent}.
 *
 * @example
 * ```ts
 * import { EventType } from "./models.ts";
 * console.log(EventType.Trade); // "trade"
 * ```
 */
export const EventType = {
  /** A trade (market data). */
  Trade: "trade",
  /** A change of one depth level (market data). */
  Depth: "depth",
  /** Levels removed in bulk (market data). */
  DepthClear: "depthClear",
  /** The best bid/offer changed (market data). */
  BookUpdate: "bbo",
  /** An order of this client changed. */
  Order: "order",
  /** A fill of an order of this client (derived from order updates). */
  Fill: "fill",
  /** The position of an instrument changed. */
  Position: "position",
  /** An error reported by the connector or the engine. */
  Error: "error",
  /** A connector came up or went down. */
  Connector: "connector",
  /** Registration progress of an instrument. */
  Instrument: "instrument",
  /** The engine dropped market data because nobody drained fast enough. */
  Dropped: "dropped",
  /** A depth snapshot (from the `snapshots` stream or `depth()`). */
  Snapshot: "snapshot",
} as const;
/** A {@linkcode LiveEvent} discriminant. */
export type EventType = typeof EventType[keyof typeof EventType];

/**
 * Order or aggressor side (hftbacktest's values).
 *
 * @example
 * ```ts
 * import { Side } from "./models.ts";
 * console.log(Side.Buy, Side.Sell); // 1 -1
 * ```
 */
export const Side = {
  Buy: 1,
  Sell: -1,
  /** Unknown or not applicable. */
  None: 0,
} as const;
/** A {@linkcode Side} value. */
export type Side = typeof Side[keyof typeof Side];

/**
 * Time in force (hftbacktest's values).
 *
 * @example
 * ```ts
 * import { TimeInForce } from "./models.ts";
 * console.log(TimeInForce.GTX); // 1 (post-only)
 * ```
 */
export const TimeInForce = {
  /** Good till cancel. */
  GTC: 0,
  /** Good till crossing: post-only, rejected if it would take liquidity. */
  GTX: 1,
  /** Fill or kill. */
  FOK: 2,
  /** Immediate or cancel. */
  IOC: 3,
} as const;
/** A {@linkcode TimeInForce} value. */
export type TimeInForce = typeof TimeInForce[keyof typeof TimeInForce];

/**
 * Order type (hftbacktest's values). A market order still carries a price
 * (hftbacktest's connectors require one).
 *
 * @example
 * ```ts
 * import { OrderType } from "./models.ts";
 * console.log(OrderType.Market); // 1
 * ```
 */
export const OrderType = {
  Limit: 0,
  Market: 1,
} as const;
/** An {@linkcode OrderType} value. */
export type OrderType = typeof OrderType[keyof typeof OrderType];

/**
 * Order status (hftbacktest's values; `Rejected` is what hftlive reports for a
 * connector-side rejection, which hftbacktest itself reports as `Expired`).
 *
 * @example
 * ```ts
 * import { OrderStatus, orderStatusName } from "./models.ts";
 * console.log(orderStatusName(OrderStatus.PartiallyFilled)); // "PartiallyFilled"
 * ```
 */
export const OrderStatus = {
  /** Not acknowledged yet (just submitted), or unknown to the connector. */
  None: 0,
  New: 1,
  Expired: 2,
  Filled: 3,
  Canceled: 4,
  PartiallyFilled: 5,
  Rejected: 6,
  Replaced: 7,
} as const;
/** An {@linkcode OrderStatus} value. */
export type OrderStatus = typeof OrderStatus[keyof typeof OrderStatus];

const STATUS_NAMES = [
  "None",
  "New",
  "Expired",
  "Filled",
  "Canceled",
  "PartiallyFilled",
  "Rejected",
  "Replaced",
];

/**
 * The name of an order status, e.g. `"Filled"`.
 *
 * @example
 * ```ts
 * import { orderStatusName } from "./models.ts";
 * console.log(orderStatusName(3)); // "Filled"
 * ```
 */
export function orderStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `Unknown(${status})`;
}

function namesOf(values: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map(Object.entries(values).map(([k, v]) => [v, k]));
}

const SIDE_NAMES = namesOf(Side);
const TIF_NAMES = namesOf(TimeInForce);
const ORDER_TYPE_NAMES = namesOf(OrderType);

/**
 * The name of a side: `"Buy"`, `"Sell"` or `"None"`.
 *
 * @example
 * ```ts
 * import { Side, sideName } from "./models.ts";
 * console.log(sideName(Side.Sell)); // "Sell"
 * ```
 */
export function sideName(side: number): string {
  return SIDE_NAMES.get(side) ?? `Unknown(${side})`;
}

/**
 * The name of a time in force, e.g. `"GTX"`.
 *
 * @example
 * ```ts
 * import { TimeInForce, timeInForceName } from "./models.ts";
 * console.log(timeInForceName(TimeInForce.IOC)); // "IOC"
 * ```
 */
export function timeInForceName(tif: number): string {
  return TIF_NAMES.get(tif) ?? `Unknown(${tif})`;
}

/**
 * The name of an order type: `"Limit"` or `"Market"`.
 *
 * @example
 * ```ts
 * import { OrderType, orderTypeName } from "./models.ts";
 * console.log(orderTypeName(OrderType.Market)); // "Market"
 * ```
 */
export function orderTypeName(type: number): string {
  return ORDER_TYPE_NAMES.get(type) ?? `Unknown(${type})`;
}

/**
 * True for statuses that never change again (Filled, Canceled, Expired,
 * Rejected, Replaced).
 *
 * @example
 * ```ts
 * import { isTerminalStatus, OrderStatus } from "./models.ts";
 * console.log(isTerminalStatus(OrderStatus.Filled)); // true
 * ```
 */
export function isTerminalStatus(status: number): boolean {
  return status === 2 || status === 3 || status === 4 || status === 6 || status === 7;
}

/**
 * Kinds of {@linkcode ErrorEvent}: the connector's `LiveError` kinds, the
 * engine's own errors and client-side problems.
 *
 * @example
 * ```ts
 * import { ErrorKind } from "./models.ts";
 * console.log(ErrorKind.OrderError); // 2
 * ```
 */
export const ErrorKind = {
  ConnectionInterrupted: 0,
  CriticalConnectionError: 1,
  OrderError: 2,
  Custom: 3,
  /** The native engine (IPC send/receive failure, etc.). */
  Engine: 100,
  /** Detected by the TypeScript client (e.g. an illegal order status transition). */
  Client: 200,
} as const;
/** An {@linkcode ErrorKind} value. */
export type ErrorKind = typeof ErrorKind[keyof typeof ErrorKind];

/**
 * The `code` of an {@linkcode ErrorEvent} of kind `Engine`: what the core
 * says about a request or an order (`orderId` names it).
 *
 * @example
 * ```ts
 * import { EngineErrorCode, type ErrorEvent, ErrorKind } from "./models.ts";
 * const unanswered = (e: ErrorEvent): boolean =>
 *   e.kind === ErrorKind.Engine && e.code === EngineErrorCode.Unanswered;
 * ```
 */
export const EngineErrorCode = {
  /** Something else went wrong in the core (IPC receive, …). */
  Other: 0,
  /** The request was not sent (connector down, IPC send failure): nothing reached the exchange. */
  NotSent: 1,
  /** No answer within `requestTimeoutMs`: a cancel may be sent again. */
  Unanswered: 2,
  /** Not reported by a restarted connector: marked Expired, outcome ambiguous. */
  ExpiredAfterRestart: 3,
  /** Cancel on exit: what was sent and answered. */
  CancelOnExit: 4,
} as const;
/** An {@linkcode EngineErrorCode} value. */
export type EngineErrorCode = typeof EngineErrorCode[keyof typeof EngineErrorCode];

const ERROR_KIND_NAMES: Readonly<Record<number, string>> = {
  0: "ConnectionInterrupted",
  1: "CriticalConnectionError",
  2: "OrderError",
  3: "Custom",
  100: "Engine",
  200: "Client",
};

/**
 * The name of an {@linkcode ErrorKind} value (its number as text when unknown).
 *
 * @example
 * ```ts
 * import { ErrorKind, errorKindName } from "./models.ts";
 * console.log(errorKindName(ErrorKind.OrderError)); // "OrderError"
 * ```
 */
export function errorKindName(kind: number): string {
  return ERROR_KIND_NAMES[kind] ?? String(kind);
}

/**
 * Registration progress of an instrument (INSTRUMENT records).
 *
 * @example
 * ```ts
 * import { InstrumentState } from "./models.ts";
 * console.log(InstrumentState.Registered); // 3
 * ```
 */
export const InstrumentState = {
  /** `RegisterInstrument` sent; waiting for the connector to answer. */
  WaitingForConnector: 1,
  /** The connector's answer (book snapshot) started. */
  SnapshotBegin: 2,
  /** Registered, book rebuilt from the snapshot. */
  Registered: 3,
} as const;
/** An {@linkcode InstrumentState} value. */
export type InstrumentState = typeof InstrumentState[keyof typeof InstrumentState];

const INSTRUMENT_STATE_NAMES = namesOf(InstrumentState);

/**
 * The name of an instrument's registration state, e.g. `"Registered"`.
 *
 * @example
 * ```ts
 * import { InstrumentState, instrumentStateName } from "./models.ts";
 * console.log(instrumentStateName(InstrumentState.Registered)); // "Registered"
 * ```
 */
export function instrumentStateName(state: number): string {
  return INSTRUMENT_STATE_NAMES.get(state) ?? `Unknown(${state})`;
}

/**
 * One price level.
 *
 * @example
 * ```ts
 * import type { BookLevel } from "./models.ts";
 * const level: BookLevel = { price: 100.5, qty: 2 };
 * ```
 */
export interface BookLevel {
  /** Price in instrument units. */
  readonly price: number;
  /** Quantity in instrument units. */
  readonly qty: number;
}

/**
 * Fields common to market-data events.
 *
 * @example
 * ```ts
 * import type { MarketEventBase } from "./models.ts";
 * const age = (e: MarketEventBase): number => e.recvTs - e.exchTs;
 * ```
 */
export interface MarketEventBase {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Exchange timestamp (ns since epoch). */
  readonly exchTs: number;
  /** Timestamp at which the connector received it (ns since epoch). */
  readonly localTs: number;
  /**
   * Timestamp at which the native engine took the connector's message off IPC
   * (ns since epoch; the same for every event of one message). With `localTs`
   * and `recvTs` it splits the feed latency into connector → engine and
   * engine → JavaScript.
   */
  readonly engineTs: number;
  /**
   * Timestamp at which the client's wake-up for this batch reached JavaScript
   * (ns since epoch): the doorbell's read or the native wait resolving. Equal
   * to `recvTs` when no wait came before the drain (poll mode, or records that
   * were already waiting).
   */
  readonly wakeTs: number;
  /** Timestamp at which JavaScript received it (ns since epoch; one per drained batch). */
  readonly recvTs: number;
}

/**
 * A trade. `side` is the aggressor's side.
 *
 * @example
 * ```ts
 * import type { Trade } from "./models.ts";
 * function notional(t: Trade): number { return t.price * t.qty; }
 * ```
 */
export interface Trade extends MarketEventBase {
  /** Event discriminant. */
  readonly type: "trade";
  /** Side (Buy/Sell). */
  readonly side: Side;
  /** Price in instrument units. */
  readonly price: number;
  /** Quantity in instrument units. */
  readonly qty: number;
  /** hftbacktest's raw `ev` flags (low 32 bits). */
  readonly flags: number;
}

/**
 * A change of one depth level; `qty` 0 removes the level.
 *
 * @example
 * ```ts
 * import type { DepthUpdate } from "./models.ts";
 * const removed = (d: DepthUpdate): boolean => d.qty === 0;
 * ```
 */
export interface DepthUpdate extends MarketEventBase {
  /** Event discriminant. */
  readonly type: "depth";
  /** Side of the book: Buy = bid, Sell = ask. */
  readonly side: Side;
  /** Price in instrument units. */
  readonly price: number;
  /** Quantity in instrument units. */
  readonly qty: number;
  /** Part of the snapshot sent when the instrument was (re-)registered. */
  readonly snapshot: boolean;
  /** hftbacktest's raw `ev` flags (low 32 bits). */
  readonly flags: number;
}

/**
 * Levels removed in bulk: the whole book (`side` None), or one side up to
 * `upToPrice` (NaN = the whole side). Sent, for instance, before a fresh
 * snapshot after a (re-)registration.
 *
 * @example
 * ```ts
 * import type { DepthClear } from "./models.ts";
 * const whole = (c: DepthClear): boolean => Number.isNaN(c.upToPrice);
 * ```
 */
export interface DepthClear extends MarketEventBase {
  /** Event discriminant. */
  readonly type: "depthClear";
  /** Side (Buy/Sell). */
  readonly side: Side;
  /** Clear up to this price (NaN = the whole side). */
  readonly upToPrice: number;
  /** hftbacktest's raw `ev` flags (low 32 bits). */
  readonly flags: number;
}

/**
 * The best bid/offer changed. Prices are NaN (and quantities 0) when a side is empty.
 *
 * @example
 * ```ts
 * import type { BookUpdate } from "./models.ts";
 * const mid = (b: BookUpdate): number => (b.bidPrice + b.askPrice) / 2;
 * ```
 */
export interface BookUpdate extends MarketEventBase {
  /** Event discriminant. */
  readonly type: "bbo";
  /** Best bid price (NaN when empty). */
  readonly bidPrice: number;
  /** Quantity at the best bid. */
  readonly bidQty: number;
  /** Best ask price (NaN when empty). */
  readonly askPrice: number;
  /** Quantity at the best ask. */
  readonly askQty: number;
}

/**
 * An order as reported by the core (and tracked by the client).
 *
 * @example
 * ```ts
 * import { type Order, OrderStatus } from "./models.ts";
 * const done = (o: Order): boolean => o.status === OrderStatus.Filled;
 * ```
 */
export interface Order {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Order id. */
  readonly orderId: number;
  /** Side (Buy/Sell). */
  readonly side: Side;
  /** Limit price (rounded to the tick). */
  readonly price: number;
  /** Quantity (rounded to the lot). */
  readonly qty: number;
  /** Quantity still open. */
  readonly leavesQty: number;
  /** Quantity of the last execution. */
  readonly execQty: number;
  /** Price of the last execution. */
  readonly execPrice: number;
  /** Current status. */
  readonly status: OrderStatus;
  /** Request in flight (OrderStatus.New = submit, Canceled = cancel, None = none). */
  readonly req: OrderStatus;
  /** Time in force. */
  readonly timeInForce: TimeInForce;
  /** Order type. */
  readonly orderType: OrderType;
  /** The last execution provided liquidity. */
  readonly maker: boolean;
  /** Exchange timestamp of the last update (ns since epoch; 0 before any). */
  readonly exchTs: number;
  /** When the last request for it was made in JavaScript (ns since epoch). */
  readonly requestTs: number;
  /** When the last update reached JavaScript (ns since epoch; 0 before any). */
  readonly updateTs: number;
  /** Exchange error code of a rejection (Rejected only, once known). */
  readonly rejectCode?: number;
  /** Exchange message of a rejection (Rejected only, once known). */
  readonly rejectReason?: string;
}

/**
 * An order update event.
 *
 * @example
 * ```ts
 * import type { OrderUpdate } from "./models.ts";
 * const id = (u: OrderUpdate): number => u.orderId;
 * ```
 */
export interface OrderUpdate extends Order {
  /** Event discriminant. */
  readonly type: "order";
  /** Timestamp at which JavaScript received it (ns since epoch). */
  readonly recvTs: number;
}

/**
 * A fill of one of this client's orders, derived from order updates.
 *
 * @example
 * ```ts
 * import type { Fill } from "./models.ts";
 * const value = (f: Fill): number => f.price * f.qty;
 * ```
 */
export interface Fill {
  /** Event discriminant. */
  readonly type: "fill";
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Order id. */
  readonly orderId: number;
  /** Side (Buy/Sell). */
  readonly side: Side;
  /** Execution price. */
  readonly price: number;
  /** Quantity filled by this execution. */
  readonly qty: number;
  /** What is left of the order. */
  readonly leavesQty: number;
  /** The (last) execution provided liquidity. */
  readonly maker: boolean;
  /**
   * `price` is the price of all of `qty`: the update carried exactly one
   * execution. False when the connector folded several executions into one
   * update (a REST answer carries the cumulative quantity and no price) or an
   * update was missed: then `price` is the last execution's price, or `NaN`
   * when none was given, and `qty` is still exact. Count: `health.inexactFills`.
   */
  readonly exact: boolean;
  /** Exchange timestamp (ns since epoch). */
  readonly exchTs: number;
  /** When JavaScript received it (ns since epoch). */
  readonly recvTs: number;
}

/**
 * A position of one instrument.
 *
 * @example
 * ```ts
 * import type { Position } from "./models.ts";
 * const flat = (p: Position): boolean => p.qty === 0;
 * ```
 */
export interface Position {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Signed quantity (positive long). */
  readonly qty: number;
  /** Exchange timestamp of the last change (ns since epoch; 0 if none yet). */
  readonly exchTs: number;
}

/**
 * A position change event.
 *
 * @example
 * ```ts
 * import type { PositionUpdate } from "./models.ts";
 * const q = (p: PositionUpdate): number => p.qty;
 * ```
 */
export interface PositionUpdate extends Position {
  /** Event discriminant. */
  readonly type: "position";
  /** When JavaScript received it (ns since epoch). */
  readonly recvTs: number;
}

/**
 * An error reported by the connector (its `LiveError`s), the engine or the
 * client. Never swallowed: it reaches the `errors` stream and `error` callbacks.
 *
 * @example
 * ```ts
 * import { type ErrorEvent, ErrorKind } from "./models.ts";
 * const isReject = (e: ErrorEvent): boolean => e.kind === ErrorKind.OrderError;
 * ```
 */
export interface ErrorEvent {
  /** Event discriminant. */
  readonly type: "error";
  /** Error kind. */
  readonly kind: ErrorKind;
  /** Instrument concerned, or -1. */
  readonly asset: number;
  /** Exchange or custom error code (0 if none). */
  readonly code: number;
  /** Order concerned (0 if unknown). */
  readonly orderId: number;
  /** Human-readable text. */
  readonly message: string;
  /** When it was recorded (ns since epoch). */
  readonly ts: number;
}

/**
 * A connector came up (`up` true) or went down.
 *
 * @example
 * ```ts
 * import type { ConnectorEvent } from "./models.ts";
 * const log = (e: ConnectorEvent): string => `${e.name} ${e.up ? "up" : "down"}`;
 * ```
 */
export interface ConnectorEvent {
  /** Event discriminant. */
  readonly type: "connector";
  /** Connector index (order of first appearance in `instruments`). */
  readonly connector: number;
  /** Connector name. */
  readonly name: string;
  /** True when the connector is up. */
  readonly up: boolean;
  /** Timestamp (ns since epoch). */
  readonly ts: number;
}

/**
 * Registration progress of an instrument.
 *
 * @example
 * ```ts
 * import { type InstrumentEvent, InstrumentState } from "./models.ts";
 * const ready = (e: InstrumentEvent): boolean => e.state === InstrumentState.Registered;
 * ```
 */
export interface InstrumentEvent {
  /** Event discriminant. */
  readonly type: "instrument";
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Registration state. */
  readonly state: InstrumentState;
  /** Timestamp (ns since epoch). */
  readonly ts: number;
}

/**
 * The engine dropped `count` market-data records since the previous such
 * event (the ring was full: nobody drained fast enough).
 *
 * @example
 * ```ts
 * import type { DroppedEvent } from "./models.ts";
 * const n = (d: DroppedEvent): number => d.count;
 * ```
 */
export interface DroppedEvent {
  /** Event discriminant. */
  readonly type: "dropped";
  /** Number of records. */
  readonly count: number;
}

/**
 * A book snapshot, best levels first.
 *
 * @example
 * ```ts
 * import type { DepthSnapshot } from "./models.ts";
 * const spread = (s: DepthSnapshot): number => s.asks[0].price - s.bids[0].price;
 * ```
 */
export interface DepthSnapshot {
  /** Event discriminant. */
  readonly type: "snapshot";
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Bid levels, best first. */
  readonly bids: readonly BookLevel[];
  /** Ask levels, best first. */
  readonly asks: readonly BookLevel[];
  /** When it was taken (ns since epoch). */
  readonly ts: number;
}

/**
 * Every event a client delivers, discriminated by `type`.
 *
 * @example
 * ```ts
 * import type { LiveEvent } from "./models.ts";
 * const isMarket = (e: LiveEvent): boolean => e.type === "trade" || e.type === "bbo";
 * ```
 */
export type LiveEvent =
  | Trade
  | DepthUpdate
  | DepthClear
  | BookUpdate
  | OrderUpdate
  | Fill
  | PositionUpdate
  | ErrorEvent
  | ConnectorEvent
  | InstrumentEvent
  | DroppedEvent
  | DepthSnapshot;

/**
 * An order to submit. `asset` defaults to 0, `timeInForce` to GTC,
 * `orderType` to Limit. `price` may be omitted for market orders (then the
 * opposite best price is used). `orderId` overrides the auto-generated id.
 *
 * @example
 * ```ts
 * import { type OrderRequest, Side } from "./models.ts";
 * const req: OrderRequest = { side: Side.Buy, price: 100.1, qty: 0.01 };
 * ```
 */
export interface OrderRequest {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset?: number;
  /** Side (Buy/Sell). */
  readonly side: Side;
  /** Price in instrument units. */
  readonly price?: number;
  /** Quantity in instrument units. */
  readonly qty: number;
  /** Time in force. */
  readonly timeInForce?: TimeInForce;
  /** Order type. */
  readonly orderType?: OrderType;
  /** Order id. */
  readonly orderId?: number;
}

/**
 * Rolling latency statistics in nanoseconds (NaN until there is a sample).
 *
 * @example
 * ```ts
 * import type { LatencyStats } from "./models.ts";
 * const us = (s: LatencyStats): number => s.p50 / 1000;
 * ```
 */
export interface LatencyStats {
  /** Last sample (ns). */
  readonly last: number;
  /** Median over the window (ns). */
  readonly p50: number;
  /** 90th percentile (ns). */
  readonly p90: number;
  /** 99th percentile (ns). */
  readonly p99: number;
  /** Maximum over the window (ns). */
  readonly max: number;
  /** Samples in the rolling window. */
  readonly count: number;
}

/**
 * Health of one instrument.
 *
 * @example
 * ```ts
 * import type { InstrumentHealth } from "./models.ts";
 * const ok = (h: InstrumentHealth): boolean => h.registered && !h.stale;
 * ```
 */
export interface InstrumentHealth {
  /** Instrument index (its position in the `instruments` option). */
  readonly asset: number;
  /** Symbol as the connector/exchange names it (e.g. `btcusdt`). */
  readonly symbol: string;
  /** Connector name. */
  readonly connector: string;
  /** Registration acknowledged by the connector and book rebuilt. */
  readonly registered: boolean;
  /** `RegisterInstrument` sent, no answer yet. */
  readonly waitingForConnector: boolean;
  /** When the last market event arrived (ns since epoch; 0 if none). */
  readonly lastMarketAt: number;
  /** No market data for longer than `staleAfterMs` while registered. */
  readonly stale: boolean;
}

/**
 * A snapshot of a client's connection health.
 *
 * @example
 * ```ts
 * import type { ConnectionHealth } from "./models.ts";
 * const line = (h: ConnectionHealth): string =>
 *   `${h.connected ? "up" : "down"} feed p50 ${(h.feedLatency.p50 / 1e3).toFixed(1)} µs`;
 * ```
 */
export interface ConnectionHealth {
  /** Every connector is up (liveness seen by the engine, independent of market data). */
  readonly connected: boolean;
  /** Per connector name: up or not. */
  readonly connectors: Readonly<Record<string, boolean>>;
  /** Per-instrument health. */
  readonly instruments: readonly InstrumentHealth[];
  /** When the last event of any kind arrived (ns since epoch; 0 if none). */
  readonly lastEventAt: number;
  /** Exchange timestamp → JavaScript receive time. */
  readonly feedLatency: LatencyStats;
  /** Exchange timestamp → connector local timestamp. */
  readonly feedExchangeToLocal: LatencyStats;
  /** Connector local timestamp → JavaScript receive time. */
  readonly feedLocalToJs: LatencyStats;
  /** Request in JavaScript → first response in JavaScript. */
  readonly orderLatency: LatencyStats;
  /** Request in JavaScript → exchange timestamp of the response. */
  readonly orderRequestToExchange: LatencyStats;
  /** Exchange timestamp of the response → JavaScript. */
  readonly orderExchangeToResponse: LatencyStats;
  /** Events per second over the last completed second, total and per type. */
  readonly eventsPerSecond: number;
  /** Events per second per event type. */
  readonly eventsPerSecondByType: Readonly<Record<string, number>>;
  /** Events received in total. */
  readonly eventsTotal: number;
  /** Market records the engine dropped because the ring was full (read from the core now). */
  readonly engineDrops: number;
  /** Of those, the drops already reported in order by `dropped` events. */
  readonly engineDropsReported: number;
  /** Records of a kind this module cannot decode, skipped (library/module version mismatch). */
  readonly unknownRecords: number;
  /** Fills whose price does not cover all of their quantity (see {@linkcode Fill.exact}). */
  readonly inexactFills: number;
  /** Events dropped (or conflated) per stream kind, summed over that kind's consumers. */
  readonly streamDrops: Readonly<Record<string, number>>;
  /** Requests refused by the client-side rate limit. */
  readonly rateLimited: number;
  /** Illegal order status transitions reported (not applied). */
  readonly illegalTransitions: number;
  /** Connector errors seen, by {@linkcode ErrorKind} name. */
  readonly errors: Readonly<Record<string, number>>;
  /** Number of times a connector came back after being down. */
  readonly reconnects: number;
  /** Exceptions thrown by callbacks (each reported as a `Client` error event). */
  readonly callbackErrors: number;
  /** The core's order path: paced requests (read from the core now). */
  readonly requests: RequestStats;
}

/**
 * The core's requests to its connectors (see `ConnectOptions.maxInFlight`).
 *
 * @example
 * ```ts
 * import type { RequestStats } from "./models.ts";
 * const busy = (r: RequestStats): boolean => r.queued > 0;
 * ```
 */
export interface RequestStats {
  /** Accepted, waiting to be sent (the connector answers slower than requests come). */
  readonly queued: number;
  /** Sent, not answered yet. */
  readonly inFlight: number;
  /** Sent in total. */
  readonly sent: number;
  /** Never answered (timed out, or in flight when the connector went away). */
  readonly unanswered: number;
  /** Refused with `BackpressureError` (the queue was full). */
  readonly refused: number;
  /** Orders adopted from the connector's registration answers. */
  readonly adopted: number;
  /** Requests in flight allowed per connector. */
  readonly window: number;
  /** Requests that may wait to be sent. */
  readonly maxQueued: number;
}
