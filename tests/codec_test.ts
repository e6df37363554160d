import assert from "node:assert/strict";
import { readI64, readU64, RecordDecoder } from "../ffi/codec.ts";
import { ErrorKind, InstrumentState, OrderStatus, Side, TimeInForce } from "../mod.ts";
import { LatencyWindow, RateCounter } from "../health.ts";
import { candidatePaths } from "../ffi/library.ts";
import {
  ClosedError,
  ConnectionError,
  DuplicateOrderIdError,
  errorFromStatus,
  InvalidOrderStatusError,
  NativeError,
  OrderNotFoundError,
  ValidationError,
} from "../errors.ts";

const TS = 1_764_000_000_123_456_789; // ns; not exactly representable, compare approximately

function rec(kind: number, side: number, asset: number, aux: number): [Uint8Array, DataView] {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setUint8(0, kind);
  v.setInt8(1, side);
  v.setUint16(2, asset, true);
  v.setUint32(4, aux, true);
  return [b, v];
}

Deno.test("readI64() and readU64() decode 64-bit values without BigInt", () => {
  const v = new DataView(new ArrayBuffer(16));
  v.setBigInt64(0, BigInt(TS), true);
  v.setBigUint64(8, 2n ** 53n - 1n, true);
  assert.ok(Math.abs(readI64(v, 0) - TS) <= 256);
  assert.equal(readU64(v, 8), 2 ** 53 - 1);
  v.setBigInt64(0, -5n, true);
  assert.equal(readI64(v, 0), -5);
});

Deno.test("RecordDecoder decodes every record kind", () => {
  const messages = ['connector "x": boom'];
  const buf = new Uint8Array(64 * 10);
  const put = (i: number, r: Uint8Array): void => buf.set(r, i * 64);
  // TRADE
  let [b, v] = rec(1, 1, 0, 2 | (1 << 29));
  v.setFloat64(8, 100.5, true);
  v.setFloat64(16, 0.25, true);
  v.setBigInt64(24, BigInt(TS), true);
  v.setBigInt64(32, BigInt(TS + 1000), true);
  v.setBigInt64(56, BigInt(TS + 5000), true);
  put(0, b);
  // DEPTH snapshot level
  [b, v] = rec(2, -1, 1, 4);
  v.setFloat64(8, 101, true);
  v.setFloat64(16, 0, true);
  put(1, b);
  // DEPTH_CLEAR
  [b, v] = rec(3, 0, 0, 3);
  v.setFloat64(8, NaN, true);
  put(2, b);
  // BBO
  [b, v] = rec(4, 0, 0, 0);
  [100, 1, 100.1, 2].forEach((x, k) => v.setFloat64(8 + 8 * k, x, true));
  v.setBigInt64(40, BigInt(TS), true);
  put(3, b);
  // ORDER: status 5, req 0, tif 1, type limit | maker
  [b, v] = rec(5, 1, 0, 5 | (0 << 8) | (1 << 16) | ((0 | 0x80) << 24));
  v.setBigUint64(8, 123456789012345n, true);
  [100, 2, 1.5, 0.5, 99.9].forEach((x, k) => v.setFloat64(16 + 8 * k, x, true));
  v.setBigInt64(56, BigInt(TS), true);
  put(4, b);
  // POSITION
  [b, v] = rec(6, 0, 0, 0);
  v.setFloat64(8, -0.5, true);
  put(5, b);
  // ERROR kind 2 with code and order id
  [b, v] = rec(7, 0, 0xffff, 2);
  v.setBigInt64(8, -2019n, true);
  v.setBigUint64(16, 77n, true);
  put(6, b);
  // CONNECTOR up
  [b, v] = rec(8, 0, 0xffff, 1);
  v.setUint32(8, 0, true);
  put(7, b);
  // INSTRUMENT registered
  [b, v] = rec(9, 0, 0, 3);
  put(8, b);
  // DROPPED
  [b, v] = rec(10, 0, 0xffff, 0);
  v.setBigUint64(8, 12n, true);
  put(9, b);

  const d = new RecordDecoder(buf, ["sim"], () => messages.shift() ?? "");
  const e = Array.from({ length: 10 }, (_, i) => d.decode(i, 5));
  const t = e[0]!;
  assert.equal(t.type, "trade");
  if (t.type === "trade") {
    assert.equal(t.side, Side.Buy);
    assert.equal(t.price, 100.5);
    assert.equal(t.qty, 0.25);
    assert.ok(Math.abs(t.localTs - t.exchTs - 1000) <= 256);
    assert.ok(Math.abs(t.engineTs - t.exchTs - 5000) <= 256);
    assert.equal(t.recvTs, 5);
    assert.equal(t.wakeTs, 5, "no wake-up given: wakeTs is recvTs");
  }
  assert.deepEqual(
    { ...e[1]!, exchTs: 0, localTs: 0 },
    {
      type: "depth",
      asset: 1,
      side: Side.Sell,
      price: 101,
      qty: 0,
      exchTs: 0,
      localTs: 0,
      engineTs: 0,
      wakeTs: 5,
      recvTs: 5,
      snapshot: true,
      flags: 4,
    },
  );
  assert.equal(e[2]!.type, "depthClear");
  assert.ok(e[2]!.type === "depthClear" && Number.isNaN(e[2]!.upToPrice));
  assert.ok(e[3]!.type === "bbo" && e[3]!.askPrice === 100.1 && e[3]!.bidQty === 1);
  const w = d.decode(3, 9, 7);
  assert.ok(w?.type === "bbo" && w.wakeTs === 7 && w.recvTs === 9);
  const o = e[4]!;
  assert.ok(o.type === "order");
  if (o.type === "order") {
    assert.equal(o.orderId, 123456789012345);
    assert.equal(o.status, OrderStatus.PartiallyFilled);
    assert.equal(o.req, OrderStatus.None);
    assert.equal(o.timeInForce, TimeInForce.GTX);
    assert.equal(o.maker, true);
    assert.equal(o.leavesQty, 1.5);
    assert.equal(o.execPrice, 99.9);
  }
  assert.ok(e[5]!.type === "position" && e[5]!.qty === -0.5);
  assert.deepEqual({ ...e[6]!, ts: 0 }, {
    type: "error",
    kind: ErrorKind.OrderError,
    asset: -1,
    code: -2019,
    orderId: 77,
    message: 'connector "x": boom',
    ts: 0,
  });
  assert.deepEqual({ ...e[7]!, ts: 0 }, {
    type: "connector",
    connector: 0,
    name: "sim",
    up: true,
    ts: 0,
  });
  assert.ok(e[8]!.type === "instrument" && e[8]!.state === InstrumentState.Registered);
  assert.deepEqual(e[9], { type: "dropped", count: 12 });
});

Deno.test("errorFromStatus() maps every native status to its error class", () => {
  assert.ok(errorFromStatus(-2, "bad", "x") instanceof ValidationError);
  assert.ok(errorFromStatus(-9, "bad", "x") instanceof ValidationError);
  assert.ok(errorFromStatus(-3, "", "x") instanceof ClosedError);
  assert.ok(errorFromStatus(-1, "", "x") instanceof ClosedError);
  assert.ok(errorFromStatus(-5, "", "x") instanceof ConnectionError);
  assert.ok(errorFromStatus(-6, "", "x") instanceof OrderNotFoundError);
  assert.ok(errorFromStatus(-7, "", "x") instanceof DuplicateOrderIdError);
  assert.ok(errorFromStatus(-11, "", "x") instanceof InvalidOrderStatusError);
  const p = errorFromStatus(-4, "", "Cannot poll");
  assert.ok(p instanceof NativeError);
  assert.equal(p.status, -4);
  assert.equal(p.message, "Cannot poll: HL_E_PANIC (status -4)");
});

Deno.test("LatencyWindow reports last and rolling percentiles", () => {
  const w = new LatencyWindow(100);
  assert.ok(Number.isNaN(w.stats().p50));
  for (let i = 1; i <= 200; i++) w.add(i);
  const s = w.stats();
  assert.equal(s.count, 100);
  assert.equal(s.last, 200);
  assert.equal(s.p50, 150);
  assert.equal(s.p90, 190);
  assert.equal(s.p99, 199);
  assert.equal(s.max, 200);
});

Deno.test("RateCounter reports the last completed second", () => {
  const r = new RateCounter();
  r.add("trade", 5, 1e9);
  r.add("bbo", 2, 1.5e9);
  r.add("trade", 1, 2.1e9);
  assert.equal(r.perSecond(), 7);
  assert.deepEqual(r.perSecondByType(), { trade: 5, bbo: 2 });
  r.roll(5e9);
  assert.equal(r.perSecond(), 0);
});

Deno.test("candidatePaths() lists option, env and build outputs in order", () => {
  const prev = Deno.env.get("HFTLIVE_LIB");
  Deno.env.set("HFTLIVE_LIB", "/env/libhftlive.so");
  try {
    const p = candidatePaths({ libPath: "/opt/x.so" });
    assert.equal(p[0], "/opt/x.so");
    assert.equal(p[1], "/env/libhftlive.so");
    assert.match(p[2], /rust\/target\/release\/libhftlive\.so$/);
    assert.match(p[3], /rust\/target\/debug\/libhftlive\.so$/);
  } finally {
    if (prev === undefined) Deno.env.delete("HFTLIVE_LIB");
    else Deno.env.set("HFTLIVE_LIB", prev);
  }
});
