/**
 * Decoding of the core's fixed 64-byte event records (`rust/ABI.md`,
 * "Records") from a byte buffer, with one `DataView` and no `BigInt`: 64-bit
 * integers are read as two 32-bit halves (`hi * 2**32 + lo`), exact up to
 * 2^53 and within ~256 ns for today's nanosecond timestamps.
 *
 * @module
 */

import type {
  BookUpdate,
  ConnectorEvent,
  DepthClear,
  DepthUpdate,
  DroppedEvent,
  ErrorEvent,
  ErrorKind,
  InstrumentEvent,
  InstrumentState,
  OrderStatus,
  OrderType,
  OrderUpdate,
  PositionUpdate,
  Side,
  TimeInForce,
  Trade,
} from "../models.ts";
import { RECORD_SIZE } from "./symbols.ts";

/** Record kinds (byte 0). */
export const RecordKind = {
  Trade: 1,
  Depth: 2,
  DepthClear: 3,
  Bbo: 4,
  Order: 5,
  Position: 6,
  Error: 7,
  Connector: 8,
  Instrument: 9,
  Dropped: 10,
} as const;
/** A record kind. */
export type RecordKind = typeof RecordKind[keyof typeof RecordKind];

/** The event type of each record kind (index = kind; "" for kinds that are not events). */
export const RECORD_TYPES: readonly string[] = [
  "",
  "trade",
  "depth",
  "depthClear",
  "bbo",
  "order",
  "position",
  "error",
  "connector",
  "instrument",
  "dropped",
];

/** hftbacktest's `DEPTH_SNAPSHOT_EVENT` in the low byte of `ev`. */
const DEPTH_SNAPSHOT_EVENT = 4;
const TWO_32 = 4294967296;
/** Byte offset of the engine's receive time in market records (payload slot 7). */
const ENGINE_TS = 56;
const NO_ASSET = 0xffff;

/** An event decoded from a record (market, order, position, error, status). */
export type DecodedEvent =
  | Trade
  | DepthUpdate
  | DepthClear
  | BookUpdate
  | OrderUpdate
  | PositionUpdate
  | ErrorEvent
  | ConnectorEvent
  | InstrumentEvent
  | DroppedEvent;

/** Reads a little-endian i64 at `o` as a number (no BigInt). */
export function readI64(v: DataView, o: number): number {
  return v.getInt32(o + 4, true) * TWO_32 + v.getUint32(o, true);
}

/** Reads a little-endian u64 at `o` as a number (no BigInt; exact below 2^53). */
export function readU64(v: DataView, o: number): number {
  return v.getUint32(o + 4, true) * TWO_32 + v.getUint32(o, true);
}

/**
 * Decodes records from one buffer. The ERROR record's text is read through
 * `takeMessage` (one message per ERROR record, in order), so every ERROR
 * record must be decoded exactly once.
 */
export class RecordDecoder {
  readonly #view: DataView;
  readonly #connectorNames: readonly string[];
  readonly #takeMessage: () => string;

  /** Decodes from `buffer` (the client's drain buffer). */
  constructor(
    buffer: Uint8Array,
    connectorNames: readonly string[],
    takeMessage: () => string,
  ) {
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    this.#connectorNames = connectorNames;
    this.#takeMessage = takeMessage;
  }

  /** Kind byte of record `i`. */
  kind(i: number): number {
    return this.#view.getUint8(i * RECORD_SIZE);
  }

  /** Whether record `i` is market data (trade, depth change or clear, best bid/offer). */
  isMarket(i: number): boolean {
    const k = this.kind(i);
    return k >= RecordKind.Trade && k <= RecordKind.Bbo;
  }

  /**
   * Decodes record `i`; `recvTs` stamps market/order/position events, `wakeTs`
   * (the wake-up that led to this drain) market events.
   */
  decode(i: number, recvTs: number, wakeTs: number = recvTs): DecodedEvent | undefined {
    const v = this.#view;
    const o = i * RECORD_SIZE;
    const kind = v.getUint8(o);
    const side = v.getInt8(o + 1) as Side;
    const asset = v.getUint16(o + 2, true);
    switch (kind) {
      case RecordKind.Trade:
        return {
          type: "trade",
          asset,
          side,
          price: v.getFloat64(o + 8, true),
          qty: v.getFloat64(o + 16, true),
          exchTs: readI64(v, o + 24),
          localTs: readI64(v, o + 32),
          engineTs: readI64(v, o + ENGINE_TS),
          wakeTs,
          recvTs,
          flags: v.getUint32(o + 4, true),
        };
      case RecordKind.Depth: {
        const flags = v.getUint32(o + 4, true);
        return {
          type: "depth",
          asset,
          side,
          price: v.getFloat64(o + 8, true),
          qty: v.getFloat64(o + 16, true),
          exchTs: readI64(v, o + 24),
          localTs: readI64(v, o + 32),
          engineTs: readI64(v, o + ENGINE_TS),
          wakeTs,
          recvTs,
          snapshot: (flags & 0xff) === DEPTH_SNAPSHOT_EVENT,
          flags,
        };
      }
      case RecordKind.DepthClear:
        return {
          type: "depthClear",
          asset,
          side,
          upToPrice: v.getFloat64(o + 8, true),
          exchTs: readI64(v, o + 24),
          localTs: readI64(v, o + 32),
          engineTs: readI64(v, o + ENGINE_TS),
          wakeTs,
          recvTs,
          flags: v.getUint32(o + 4, true),
        };
      case RecordKind.Bbo:
        return {
          type: "bbo",
          asset,
          bidPrice: v.getFloat64(o + 8, true),
          bidQty: v.getFloat64(o + 16, true),
          askPrice: v.getFloat64(o + 24, true),
          askQty: v.getFloat64(o + 32, true),
          exchTs: readI64(v, o + 40),
          localTs: readI64(v, o + 48),
          engineTs: readI64(v, o + ENGINE_TS),
          wakeTs,
          recvTs,
        };
      case RecordKind.Order:
        return decodeOrder(v, o, recvTs);
      case RecordKind.Position:
        return {
          type: "position",
          asset,
          qty: v.getFloat64(o + 8, true),
          exchTs: readI64(v, o + 16),
          recvTs,
        };
      case RecordKind.Error:
        return {
          type: "error",
          kind: v.getUint32(o + 4, true) as ErrorKind,
          asset: asset === NO_ASSET ? -1 : asset,
          code: readI64(v, o + 8),
          orderId: readU64(v, o + 16),
          ts: readI64(v, o + 24),
          message: this.#takeMessage(),
        };
      case RecordKind.Connector: {
        const index = v.getUint32(o + 8, true);
        return {
          type: "connector",
          connector: index,
          name: this.#connectorNames[index] ?? `#${index}`,
          up: v.getUint32(o + 4, true) === 1,
          ts: readI64(v, o + 16),
        };
      }
      case RecordKind.Instrument:
        return {
          type: "instrument",
          asset,
          state: v.getUint32(o + 4, true) as InstrumentState,
          ts: readI64(v, o + 16),
        };
      case RecordKind.Dropped:
        return { type: "dropped", count: readU64(v, o + 8) };
      default:
        return undefined;
    }
  }
}

/**
 * Decodes an ORDER record at byte offset `o` (also used for the records of
 * `hl_client_orders`). `requestTs` and `updateTs` are filled in by the client.
 */
export function decodeOrder(v: DataView, o: number, recvTs: number): OrderUpdate {
  const typeByte = v.getUint8(o + 7);
  return {
    type: "order",
    asset: v.getUint16(o + 2, true),
    orderId: readU64(v, o + 8),
    side: v.getInt8(o + 1) as Side,
    price: v.getFloat64(o + 16, true),
    qty: v.getFloat64(o + 24, true),
    leavesQty: v.getFloat64(o + 32, true),
    execQty: v.getFloat64(o + 40, true),
    execPrice: v.getFloat64(o + 48, true),
    status: v.getUint8(o + 4) as OrderStatus,
    req: v.getUint8(o + 5) as OrderStatus,
    timeInForce: v.getUint8(o + 6) as TimeInForce,
    orderType: (typeByte & 0x7f) as OrderType,
    maker: (typeByte & 0x80) !== 0,
    exchTs: readI64(v, o + 56),
    requestTs: 0,
    updateTs: recvTs,
    recvTs,
  };
}
