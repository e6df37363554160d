// HealthRecorder and the event formatting: pure TypeScript, no native library.
import assert from "node:assert/strict";
import {
  ErrorKind,
  formatEvent,
  formatOrder,
  InstrumentState,
  instrumentStateName,
  isoTime,
  OrderStatus,
  orderTypeName,
  Side,
  sideName,
  timeInForceName,
  type Trade,
} from "../mod.ts";
import { HealthRecorder } from "../health.ts";

const trade = (asset: number, localTs: number, recvTs: number): Trade => ({
  type: "trade",
  asset,
  side: Side.Buy,
  price: 1,
  qty: 1,
  exchTs: localTs - 10,
  localTs,
  engineTs: localTs,
  wakeTs: recvTs,
  recvTs,
  flags: 0,
});

Deno.test("HealthRecorder counts feed latency only from the instrument's registration on", () => {
  const h = new HealthRecorder(["", "trade"]);
  // Queued while connecting: published before the registration, drained late.
  h.market(trade(0, 1_000, 5_000_000));
  h.feedFrom(0, 2_000);
  h.market(trade(0, 1_500, 5_000_000)); // still before it
  h.market(trade(0, 3_000, 3_100));
  h.market(trade(1, 3_000, 3_100)); // an instrument not registered yet
  const s = h.snapshot({
    connected: true,
    connectors: {},
    instruments: [],
    streamDrops: {},
    rateLimited: 0,
    engineDrops: 0,
    requests: {
      queued: 0,
      inFlight: 0,
      sent: 0,
      unanswered: 0,
      refused: 0,
      adopted: 0,
      window: 0,
      maxQueued: 0,
    },
  });
  assert.equal(s.feedLatency.count, 1);
  assert.equal(s.feedLocalToJs.p50, 100);
  assert.equal(s.feedLatency.p50, 110);
});

Deno.test("enum names and formatEvent() read as text", () => {
  assert.equal(sideName(Side.Sell), "Sell");
  assert.equal(timeInForceName(3), "IOC");
  assert.equal(orderTypeName(1), "Market");
  assert.equal(instrumentStateName(InstrumentState.SnapshotBegin), "SnapshotBegin");
  assert.equal(sideName(9), "Unknown(9)");
  assert.equal(isoTime(0), "-");
  assert.equal(isoTime(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123Z");
  assert.equal(
    formatEvent(trade(2, 1_700_000_000_000_000_010, 0)),
    "trade #2 Buy 1 @ 1 at 2023-11-14T22:13:20.000Z",
  );
  assert.equal(
    formatEvent({
      type: "error",
      kind: ErrorKind.OrderError,
      asset: 0,
      code: -2019,
      orderId: 5,
      message: "Margin is insufficient.",
      ts: 0,
    }),
    "error OrderError code -2019 order 5 #0: Margin is insufficient.",
  );
  assert.equal(
    formatOrder({
      asset: 1,
      orderId: 9,
      side: Side.Sell,
      price: 10.5,
      qty: 2,
      leavesQty: 1,
      execQty: 1,
      execPrice: 10.5,
      status: OrderStatus.PartiallyFilled,
      req: OrderStatus.Canceled,
      timeInForce: 0,
      orderType: 0,
      maker: true,
      exchTs: 0,
      requestTs: 0,
      updateTs: 0,
    }),
    "order 9 #1 Sell 2 @ 10.5 Limit GTC PartiallyFilled (Canceled requested), leaves 1",
  );
  assert.equal(
    formatEvent({ type: "connector", connector: 0, name: "bf", up: true, ts: 0 }),
    "connector bf up",
  );
});
