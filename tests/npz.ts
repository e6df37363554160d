/**
 * A reader of the recorder's `.npz` files written from the formats' specifications (zip local
 * file headers, NumPy's `.npy` 1.0), independent of the code that writes them: the tests check
 * the files with it. Not a test file itself.
 */

import assert from "node:assert/strict";

/** hftbacktest's `event_dtype`, as its Rust `write_npy` and Python package spell it. */
export const DESCR =
  "[('ev', '<u8'), ('exch_ts', '<i8'), ('local_ts', '<i8'), ('px', '<f8'), ('qty', '<f8'), " +
  "('order_id', '<u8'), ('ival', '<i8'), ('fval', '<f8'), ]";

/** hftbacktest event flags. */
export const EV = {
  DEPTH: 1,
  TRADE: 2,
  CLEAR: 3,
  SNAPSHOT: 4,
  BUY: 2 ** 29,
  SELL: 2 ** 28,
  LOCAL: 2 ** 30,
  EXCH: 2 ** 31,
} as const;

/** One event (timestamps as bigint: ns since the epoch do not fit a double exactly). */
export interface NpzEvent {
  ev: number;
  exchTs: bigint;
  localTs: bigint;
  px: number;
  qty: number;
}

/** The kind of an event (its low byte). */
export const kind = (e: NpzEvent): number => e.ev % 256;

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data.slice()]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The entries of a zip archive (name -> bytes), from its local file headers. */
export async function unzip(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Uint8Array>();
  let o = 0;
  while (o + 30 <= bytes.length && v.getUint32(o, true) === 0x04034b50) {
    const method = v.getUint16(o + 8, true);
    let size = v.getUint32(o + 18, true);
    const nameLen = v.getUint16(o + 26, true);
    const extraLen = v.getUint16(o + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(o + 30, o + 30 + nameLen));
    if (size === 0xffffffff) {
      // Zip64: the sizes are in the extra field 0x0001 (uncompressed, then compressed).
      let x = o + 30 + nameLen;
      while (v.getUint16(x, true) !== 1) x += 4 + v.getUint16(x + 2, true);
      size = Number(v.getBigUint64(x + 12, true));
    }
    const start = o + 30 + nameLen + extraLen;
    const raw = bytes.subarray(start, start + size);
    assert.ok(method === 0 || method === 8, `${name}: compression method ${method}`);
    out.set(name, method === 8 ? await inflate(raw) : raw);
    o = start + size;
  }
  return out;
}

/** Parses `data.npy` of a recorder `.npz` file, checking the header hftbacktest requires. */
export async function readNpz(path: string): Promise<NpzEvent[]> {
  const entries = await unzip(await Deno.readFile(path));
  assert.deepEqual([...entries.keys()], ["data.npy"], path);
  const npy = entries.get("data.npy")!;
  assert.deepEqual([...npy.subarray(0, 8)], [0x93, 78, 85, 77, 80, 89, 1, 0], "magic, v1.0");
  const v = new DataView(npy.buffer, npy.byteOffset, npy.byteLength);
  const hlen = v.getUint16(8, true);
  const header = new TextDecoder().decode(npy.subarray(10, 10 + hlen));
  assert.equal((10 + hlen) % 64, 0, "data aligned to 64 bytes (read_npz_file requires it)");
  const m = /^\{'descr': (.*), 'fortran_order': False, 'shape': \((\d+), \)\} *\n$/.exec(header);
  assert.ok(m, `header ${JSON.stringify(header)}`);
  assert.equal(m[1], DESCR);
  const n = Number(m[2]);
  assert.equal(npy.length, 10 + hlen + 64 * n, "64 bytes an event");
  const events: NpzEvent[] = [];
  for (let i = 0, o = 10 + hlen; i < n; i++, o += 64) {
    events.push({
      ev: Number(v.getBigUint64(o, true)),
      exchTs: v.getBigInt64(o + 8, true),
      localTs: v.getBigInt64(o + 16, true),
      px: v.getFloat64(o + 24, true),
      qty: v.getFloat64(o + 32, true),
    });
  }
  return events;
}

/** A book as hftbacktest's depth keeps it: price tick -> qty, per side. */
export interface TickBook {
  bids: Map<number, number>;
  asks: Map<number, number>;
}

/** Applies events to a book the way hftbacktest's backtester does (every depth event). */
export function applyEvents(book: TickBook, events: NpzEvent[], tick: number): TickBook {
  for (const e of events) {
    const k = kind(e);
    const buy = (e.ev & EV.BUY) !== 0;
    const sell = (e.ev & EV.SELL) !== 0;
    const t = Math.round(e.px / tick);
    if ((k === EV.DEPTH || k === EV.SNAPSHOT) && (buy || sell)) {
      const side = buy ? book.bids : book.asks;
      if (e.qty > 0) side.set(t, e.qty);
      else side.delete(t);
    } else if (k === EV.CLEAR && !buy && !sell) {
      book.bids.clear();
      book.asks.clear();
    }
  }
  return book;
}

/** A book's levels best first, as [price tick, qty]. */
export function levels(book: TickBook): { bids: number[][]; asks: number[][] } {
  const bids = [...book.bids].sort((a, b) => b[0] - a[0]);
  const asks = [...book.asks].sort((a, b) => a[0] - b[0]);
  return { bids, asks };
}
