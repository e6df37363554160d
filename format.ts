/**
 * Readable one-line descriptions of events, for logs and consoles: enums by
 * name, timestamps as ISO times, the instrument as `#asset`. Events stay
 * plain objects (no `toString` on the hot path); call {@linkcode formatEvent}
 * where text is wanted.
 *
 * @example
 * ```ts
 * import { formatEvent } from "./format.ts";
 * console.log(formatEvent({
 *   type: "trade", asset: 0, side: -1, price: 50_000.1, qty: 0.002,
 *   exchTs: 1.7e18, localTs: 1.7e18, recvTs: 1.7e18, flags: 0,
 * }));
 * // trade #0 Sell 0.002 @ 50000.1 at 2023-11-14T22:13:20.000Z
 * ```
 *
 * @module
 */

import {
  errorKindName,
  instrumentStateName,
  type LiveEvent,
  type Order,
  orderStatusName,
  orderTypeName,
  sideName,
  timeInForceName,
} from "./models.ts";

/**
 * A nanosecond timestamp (ns since the Unix epoch) as an ISO time, to the
 * millisecond; `-` for 0 (no timestamp).
 *
 * @example
 * ```ts
 * import { isoTime } from "./format.ts";
 * console.log(isoTime(1_700_000_000_123_456_789)); // 2023-11-14T22:13:20.123Z
 * ```
 */
export function isoTime(ns: number): string {
  return ns > 0 ? new Date(Math.floor(ns / 1e6)).toISOString() : "-";
}

/**
 * An order in one line: id, instrument, side, quantity and price, status, the
 * request in flight, what is left.
 *
 * @example
 * ```ts
 * import { formatOrder } from "./format.ts";
 * console.log(formatOrder({
 *   asset: 0, orderId: 7, side: 1, price: 100, qty: 2, leavesQty: 2, execQty: 0, execPrice: 0,
 *   status: 1, req: 0, timeInForce: 1, orderType: 0, maker: false, exchTs: 0, requestTs: 0,
 *   updateTs: 0,
 * }));
 * // order 7 #0 Buy 2 @ 100 Limit GTX New, leaves 2
 * ```
 */
export function formatOrder(o: Order): string {
  const req = o.req !== 0 ? ` (${orderStatusName(o.req)} requested)` : "";
  const rej = o.rejectCode !== undefined ? `, code ${o.rejectCode}: ${o.rejectReason ?? ""}` : "";
  return `order ${o.orderId} #${o.asset} ${sideName(o.side)} ${o.qty} @ ${o.price} ${
    orderTypeName(o.orderType)
  } ${timeInForceName(o.timeInForce)} ${
    orderStatusName(o.status)
  }${req}, leaves ${o.leavesQty}${rej}`;
}

/**
 * Any event in one line (see the module doc).
 *
 * @example
 * ```ts
 * import { formatEvent } from "./format.ts";
 * console.log(formatEvent({ type: "connector", connector: 0, name: "bf", up: false, ts: 0 }));
 * // connector bf down
 * ```
 */
export function formatEvent(ev: LiveEvent): string {
  switch (ev.type) {
    case "trade":
      return `trade #${ev.asset} ${sideName(ev.side)} ${ev.qty} @ ${ev.price} at ${
        isoTime(ev.exchTs)
      }`;
    case "depth":
      return `depth #${ev.asset} ${sideName(ev.side)} ${ev.price} = ${ev.qty}${
        ev.snapshot ? " (snapshot)" : ""
      }`;
    case "depthClear":
      return `depthClear #${ev.asset} ${sideName(ev.side)}${
        Number.isNaN(ev.upToPrice) ? "" : ` up to ${ev.upToPrice}`
      }`;
    case "bbo":
      return `bbo #${ev.asset} ${ev.bidPrice} x ${ev.bidQty} / ${ev.askPrice} x ${ev.askQty}`;
    case "order":
      return formatOrder(ev);
    case "fill":
      return `fill ${ev.orderId} #${ev.asset} ${sideName(ev.side)} ${ev.qty} @ ${
        Number.isNaN(ev.price) ? "?" : ev.price
      }${ev.maker ? " maker" : ""}${ev.exact ? "" : " (price not exact)"}, leaves ${ev.leavesQty}`;
    case "position":
      return `position #${ev.asset} ${ev.qty}`;
    case "error":
      return `error ${errorKindName(ev.kind)}${ev.code !== 0 ? ` code ${ev.code}` : ""}${
        ev.orderId > 0 ? ` order ${ev.orderId}` : ""
      }${ev.asset >= 0 ? ` #${ev.asset}` : ""}: ${ev.message}`;
    case "connector":
      return `connector ${ev.name} ${ev.up ? "up" : "down"}`;
    case "instrument":
      return `instrument #${ev.asset} ${instrumentStateName(ev.state)}`;
    case "dropped":
      return `dropped ${ev.count} market records`;
    case "snapshot":
      return `snapshot #${ev.asset} ${ev.bids.length} bids, ${ev.asks.length} asks${
        ev.bids.length > 0 && ev.asks.length > 0
          ? ` (${ev.bids[0].price} / ${ev.asks[0].price})`
          : ""
      }`;
  }
}
