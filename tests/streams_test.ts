/**
 * Unit tests of `streams.ts`: the per-kind policies of {@linkcode StreamHub}
 * (drop-oldest, conflation, overflow), cancellation, ending and validation.
 * Pure TypeScript: no native library, no permissions.
 */

import assert from "node:assert/strict";
import { StreamOverflowError, ValidationError } from "../errors.ts";
import {
  type BookUpdate,
  type DepthClear,
  type DepthSnapshot,
  type DepthUpdate,
  type ErrorEvent,
  ErrorKind,
  type LiveEvent,
  OrderStatus,
  OrderType,
  type OrderUpdate,
  Side,
  TimeInForce,
  type Trade,
} from "../models.ts";
import { isMarketEvent, StreamHub, type StreamHubOptions, type StreamKind } from "../streams.ts";

// ------------------------------------------------------------------ events

function trade(price: number, asset = 0): Trade {
  return {
    type: "trade",
    asset,
    side: Side.Buy,
    price,
    qty: 1,
    exchTs: 1,
    localTs: 2,
    engineTs: 2,
    wakeTs: 3,
    recvTs: 3,
    flags: 0,
  };
}

function depth(price: number, asset = 0): DepthUpdate {
  return {
    type: "depth",
    asset,
    side: Side.Sell,
    price,
    qty: 1,
    snapshot: false,
    exchTs: 1,
    localTs: 2,
    engineTs: 2,
    wakeTs: 3,
    recvTs: 3,
    flags: 0,
  };
}

function depthClear(asset = 0): DepthClear {
  return {
    type: "depthClear",
    asset,
    side: Side.None,
    upToPrice: NaN,
    exchTs: 1,
    localTs: 2,
    engineTs: 2,
    wakeTs: 3,
    recvTs: 3,
    flags: 0,
  };
}

function bbo(bidPrice: number, asset = 0): BookUpdate {
  return {
    type: "bbo",
    asset,
    bidPrice,
    bidQty: 1,
    askPrice: bidPrice + 1,
    askQty: 1,
    exchTs: 1,
    localTs: 2,
    engineTs: 2,
    wakeTs: 3,
    recvTs: 3,
  };
}

function snapshot(ts: number, asset = 0): DepthSnapshot {
  return { type: "snapshot", asset, bids: [{ price: 1, qty: 1 }], asks: [], ts };
}

function orderUpdate(orderId: number, asset = 0): OrderUpdate {
  return {
    type: "order",
    asset,
    orderId,
    side: Side.Buy,
    price: 10,
    qty: 1,
    leavesQty: 1,
    execQty: 0,
    execPrice: 0,
    status: OrderStatus.New,
    req: OrderStatus.None,
    timeInForce: TimeInForce.GTC,
    orderType: OrderType.Limit,
    maker: false,
    exchTs: 1,
    requestTs: 1,
    updateTs: 3,
    recvTs: 3,
  };
}

function errorEvent(code: number, asset = 0): ErrorEvent {
  return { type: "error", kind: ErrorKind.Custom, asset, code, orderId: 0, message: "e", ts: 1 };
}

// ----------------------------------------------------------------- helpers

function hub(options: Partial<StreamHubOptions> = {}): StreamHub {
  return new StreamHub({ capacity: 100, maxBuffered: 100, ...options });
}

/** Reads `s` to its end; the error it ended with, if any, is returned with what it delivered. */
async function drain<T>(s: ReadableStream<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const x of s) items.push(x);
  } catch (e) {
    return { items, error: e };
  }
  return { items, error: undefined };
}

// ------------------------------------------------------------------- tests

Deno.test("StreamHub drops the oldest trade beyond capacity and counts it", async () => {
  const h = hub();
  const s = h.open("trades", { capacity: 3 });
  for (let p = 1; p <= 5; p++) h.fan("trades", trade(p));
  assert.equal(h.drops.trades, 2);
  h.endAll();
  const { items, error } = await drain(s);
  assert.equal(error, undefined);
  assert.deepEqual(items.map((t) => t.price), [3, 4, 5]);
  assert.equal(h.drops.trades, 2);
});

Deno.test("StreamHub drops the oldest depth update or clear beyond capacity and counts it", async () => {
  const h = hub();
  const s = h.open("depthUpdates", { capacity: 2 });
  h.fan("depthUpdates", depth(1));
  h.fan("depthUpdates", depthClear());
  h.fan("depthUpdates", depth(2));
  h.fan("depthUpdates", depth(3));
  assert.equal(h.drops.depthUpdates, 2);
  h.endAll();
  const { items } = await drain(s);
  assert.deepEqual(items.map((d) => d.type === "depth" ? d.price : "clear"), [2, 3]);
});

Deno.test("StreamHub counts drops of every consumer of a kind", async () => {
  const h = hub();
  const a = h.open("trades", { capacity: 1 });
  const b = h.open("trades", { capacity: 2 });
  for (let p = 1; p <= 4; p++) h.fan("trades", trade(p));
  // a dropped 3, b dropped 2.
  assert.equal(h.drops.trades, 5);
  h.endAll();
  assert.deepEqual((await drain(a)).items.map((t) => t.price), [4]);
  assert.deepEqual((await drain(b)).items.map((t) => t.price), [3, 4]);
});

Deno.test("StreamHub uses the hub's default capacity for market data", async () => {
  const h = hub({ capacity: 2 });
  const s = h.open("trades");
  for (let p = 1; p <= 3; p++) h.fan("trades", trade(p));
  assert.equal(h.drops.trades, 1);
  h.endAll();
  assert.deepEqual((await drain(s)).items.map((t) => t.price), [2, 3]);
});

Deno.test("StreamHub conflates book updates per asset, keeping the newest and counting drops", async () => {
  const h = hub();
  const s = h.open("bookUpdates");
  h.fan("bookUpdates", bbo(10, 0));
  h.fan("bookUpdates", bbo(20, 1));
  h.fan("bookUpdates", bbo(11, 0));
  h.fan("bookUpdates", bbo(12, 0));
  assert.equal(h.drops.bookUpdates, 2);
  h.endAll();
  const { items } = await drain(s);
  assert.deepEqual(items.map((b) => [b.asset, b.bidPrice]), [[0, 12], [1, 20]]);
});

Deno.test("StreamHub conflates snapshots per asset, keeping the newest and counting drops", async () => {
  const h = hub();
  const s = h.open("snapshots");
  h.fan("snapshots", snapshot(1, 1));
  h.fan("snapshots", snapshot(2, 0));
  h.fan("snapshots", snapshot(3, 1));
  assert.equal(h.drops.snapshots, 1);
  h.endAll();
  const { items } = await drain(s);
  assert.deepEqual(items.map((x) => [x.asset, x.ts]), [[1, 3], [0, 2]]);
});

Deno.test("StreamHub conflation ignores capacity: many assets are all kept", async () => {
  const h = hub();
  const s = h.open("bookUpdates", { capacity: 1 });
  for (let a = 0; a < 5; a++) h.fan("bookUpdates", bbo(a, a));
  assert.equal(h.drops.bookUpdates, 0);
  h.endAll();
  assert.equal((await drain(s)).items.length, 5);
});

Deno.test("StreamHub events stream drops only market events beyond capacity", async () => {
  const h = hub();
  const s = h.open("events", { capacity: 2 });
  const sequence: LiveEvent[] = [
    trade(1),
    orderUpdate(7),
    trade(2),
    errorEvent(5),
    depthClear(), // drops trade 1
    depth(3), // drops trade 2
    { type: "connector", connector: 0, name: "c", up: true, ts: 1 },
  ];
  for (const ev of sequence) h.fan("events", ev);
  assert.equal(h.drops.events, 2);
  h.endAll();
  const { items } = await drain(s);
  assert.deepEqual(items.map((e) => e.type), [
    "order",
    "error",
    "depthClear",
    "depth",
    "connector",
  ]);
});

Deno.test("StreamHub events stream overflows on non-market events only", async () => {
  const h = hub();
  const s = h.open("events", { capacity: 1, maxBuffered: 2 });
  // Market events never count towards maxBuffered.
  for (let p = 1; p <= 10; p++) h.fan("events", trade(p));
  h.fan("events", orderUpdate(1));
  h.fan("events", orderUpdate(2));
  assert.equal(h.drops.events, 9);
  h.fan("events", orderUpdate(3)); // the third unread order update overflows
  assert.equal(h.drops.events, 10);
  const { items, error } = await drain(s);
  assert.deepEqual(items.map((e) => e.type), ["trade", "order", "order"]);
  assert.ok(error instanceof StreamOverflowError);
});

Deno.test("isMarketEvent() is true for trades, depth, clears and best bid/offer only", () => {
  for (const t of ["trade", "depth", "depthClear", "bbo"]) {
    assert.equal(isMarketEvent({ type: t }), true);
  }
  for (const t of ["order", "fill", "position", "error", "connector", "instrument", "snapshot"]) {
    assert.equal(isMarketEvent({ type: t }), false);
  }
});

Deno.test("StreamHub overflows a never-drop stream past maxBuffered when no read is pending", async () => {
  const overflows: [unknown, StreamKind, number][] = [];
  const h = hub({ onOverflow: (e, kind, asset) => overflows.push([e, kind, asset]) });
  const s = h.open("orderUpdates", { maxBuffered: 3 });
  for (let id = 1; id <= 3; id++) h.fan("orderUpdates", orderUpdate(id));
  assert.equal(h.drops.orderUpdates, 0);
  h.fan("orderUpdates", orderUpdate(4)); // one more than maxBuffered
  assert.equal(h.drops.orderUpdates, 1);
  // The hook runs after the push that overflowed, from a microtask.
  assert.equal(overflows.length, 0);
  await Promise.resolve();
  assert.equal(overflows.length, 1);
  const [e, kind, asset] = overflows[0];
  assert.ok(e instanceof StreamOverflowError);
  assert.equal(e.code, "STREAM_OVERFLOW");
  assert.match(e.message, /The orderUpdates stream overflowed: 3 unread events/);
  assert.equal(kind, "orderUpdates");
  assert.equal(asset, -1);
  // Later events are refused and counted, the hook is not called again.
  h.fan("orderUpdates", orderUpdate(5));
  h.fan("orderUpdates", orderUpdate(6));
  assert.equal(h.drops.orderUpdates, 3);
  await Promise.resolve();
  assert.equal(overflows.length, 1);
  // It delivers what it held, then errors with the same error.
  const { items, error } = await drain(s);
  assert.deepEqual(items.map((o) => o.orderId), [1, 2, 3]);
  assert.equal(error, e);
  assert.equal(h.count("orderUpdates"), 0);
});

Deno.test("StreamHub overflow hook gets the stream's asset filter", async () => {
  const overflows: [StreamKind, number][] = [];
  const h = hub({ assets: 2, onOverflow: (_e, kind, asset) => overflows.push([kind, asset]) });
  const s = h.open("errors", { asset: 1, maxBuffered: 1 });
  h.fan("errors", errorEvent(1, 1));
  h.fan("errors", errorEvent(2, 0)); // another asset: not this consumer's
  h.fan("errors", errorEvent(3, 1));
  await Promise.resolve();
  assert.deepEqual(overflows, [["errors", 1]]);
  assert.equal(h.drops.errors, 1);
  const { items, error } = await drain(s);
  assert.deepEqual(items.map((x) => x.code), [1]);
  assert.ok(error instanceof StreamOverflowError);
});

Deno.test("StreamHub does not call the overflow hook once every stream was ended", async () => {
  let calls = 0;
  const h = hub({ onOverflow: () => calls++ });
  const s = h.open("fills", { maxBuffered: 1 });
  const fill = {
    type: "fill",
    asset: 0,
    orderId: 1,
    side: Side.Buy,
    price: 1,
    qty: 1,
    leavesQty: 0,
    maker: false,
    exact: true,
    exchTs: 1,
    recvTs: 1,
  } as const;
  h.fan("fills", fill);
  h.fan("fills", { ...fill, orderId: 2 }); // overflows
  h.endAll(); // before the hook's microtask ran
  await Promise.resolve();
  assert.equal(calls, 0);
  const { items, error } = await drain(s);
  assert.deepEqual(items.map((f) => f.orderId), [1]);
  assert.ok(error instanceof StreamOverflowError);
});

Deno.test("StreamHub: an actively read never-drop stream does not overflow on a large burst", async () => {
  let waits = 0;
  let woken = Promise.withResolvers<void>();
  const h = hub({
    onWait: () => {
      waits++;
      woken.resolve();
    },
  });
  const s = h.open("positions", { maxBuffered: 3 });
  const reader = s.getReader();
  assert.equal(h.waiting(), false);
  const first = reader.read();
  await woken.promise; // the consumer waits for its next event
  assert.equal(h.waiting(), true);
  assert.equal(waits, 1);
  for (let i = 1; i <= 1000; i++) {
    h.fan("positions", { type: "position", asset: 0, qty: i, exchTs: i, recvTs: i });
  }
  assert.equal(h.waiting(), false);
  assert.equal(h.drops.positions, 0);
  const got: number[] = [];
  const r = await first;
  assert.equal(r.done, false);
  got.push(r.value!.qty);
  for (let i = 1; i < 1000; i++) {
    const x = await reader.read();
    assert.equal(x.done, false);
    got.push(x.value!.qty);
  }
  assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.equal(h.drops.positions, 0);
  woken = Promise.withResolvers<void>();
  const end = reader.read();
  await woken.promise;
  h.endAll();
  assert.deepEqual(await end, { done: true, value: undefined });
});

Deno.test("StreamHub: a burst after a delivered batch is limited again by maxBuffered", async () => {
  const woken = Promise.withResolvers<void>();
  const h = hub({ onWait: () => woken.resolve() });
  const s = h.open("orderUpdates", { maxBuffered: 2 });
  const reader = s.getReader();
  const first = reader.read();
  await woken.promise;
  h.fan("orderUpdates", orderUpdate(1));
  assert.equal((await first).value?.orderId, 1);
  // Nothing is pending now: the next burst is buffered up to maxBuffered only.
  for (let id = 2; id <= 4; id++) h.fan("orderUpdates", orderUpdate(id));
  assert.equal(h.drops.orderUpdates, 1);
  assert.equal((await reader.read()).value?.orderId, 2);
  assert.equal((await reader.read()).value?.orderId, 3);
  await assert.rejects(reader.read(), StreamOverflowError);
});

Deno.test("StreamHub: breaking out of for-await removes the consumer", async () => {
  const counts: [StreamKind, number][] = [];
  const h = hub({ onCount: (kind, n) => counts.push([kind, n]) });
  const s = h.open("trades");
  assert.equal(h.count("trades"), 1);
  h.fan("trades", trade(1));
  h.fan("trades", trade(2));
  for await (const t of s) {
    assert.equal(t.price, 1);
    break;
  }
  assert.equal(h.count("trades"), 0);
  assert.deepEqual(counts, [["trades", 1], ["trades", 0]]);
  // Nothing more is offered to it (and nothing is counted as dropped).
  for (let p = 3; p < 300; p++) h.fan("trades", trade(p));
  assert.equal(h.drops.trades, 0);
});

Deno.test("StreamHub: reader.cancel() removes the consumer, also while a read is pending", async () => {
  const counts: [StreamKind, number][] = [];
  const woken = Promise.withResolvers<void>();
  const h = hub({ onCount: (kind, n) => counts.push([kind, n]), onWait: () => woken.resolve() });
  const a = h.open("fills");
  const b = h.open("fills");
  assert.equal(h.count("fills"), 2);
  const reader = a.getReader();
  const pending = reader.read();
  await woken.promise;
  await reader.cancel();
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(h.count("fills"), 1);
  assert.equal(h.waiting(), false);
  await b.cancel();
  assert.equal(h.count("fills"), 0);
  assert.deepEqual(counts, [["fills", 1], ["fills", 2], ["fills", 1], ["fills", 0]]);
});

Deno.test("StreamHub: a stream read to its end is removed", async () => {
  const counts: number[] = [];
  const h = hub({ onCount: (_k, n) => counts.push(n) });
  const s = h.open("errors");
  h.fan("errors", errorEvent(1));
  h.endAll();
  assert.equal(h.count("errors"), 1); // until it delivered what it holds
  assert.equal((await drain(s)).items.length, 1);
  assert.equal(h.count("errors"), 0);
  assert.deepEqual(counts, [1, 0]);
});

Deno.test("StreamHub.endAll(error) errors every stream after delivering what it holds", async () => {
  const h = hub();
  const trades = h.open("trades");
  const orders = h.open("orderUpdates");
  const books = h.open("bookUpdates");
  h.fan("trades", trade(1));
  h.fan("trades", trade(2));
  h.fan("orderUpdates", orderUpdate(9));
  h.fan("bookUpdates", bbo(5));
  const failure = new Error("the client failed");
  h.endAll(failure);
  // Later events are not delivered (nor counted: the stream did not overflow).
  h.fan("trades", trade(3));
  assert.equal(h.drops.trades, 0);
  const t = await drain(trades);
  assert.deepEqual(t.items.map((x) => x.price), [1, 2]);
  assert.equal(t.error, failure);
  const o = await drain(orders);
  assert.deepEqual(o.items.map((x) => x.orderId), [9]);
  assert.equal(o.error, failure);
  const b = await drain(books);
  assert.deepEqual(b.items.map((x) => x.bidPrice), [5]);
  assert.equal(b.error, failure);
});

Deno.test("StreamHub.endAll(error) wakes a pending read with the error", async () => {
  const woken = Promise.withResolvers<void>();
  const h = hub({ onWait: () => woken.resolve() });
  const reader = h.open("positions").getReader();
  const pending = reader.read();
  await woken.promise;
  const failure = new Error("closed");
  h.endAll(failure);
  await assert.rejects(pending, (e) => e === failure);
  assert.equal(h.count("positions"), 0);
});

Deno.test("StreamHub.endAll() closes streams; one opened after it ends at once", async () => {
  const h = hub();
  const before = h.open("trades");
  h.fan("trades", trade(1));
  h.endAll();
  h.endAll(new Error("a second end changes nothing"));
  assert.deepEqual(await drain(before), { items: [trade(1)], error: undefined });
  const after = h.open("trades");
  assert.deepEqual(await drain(after), { items: [], error: undefined });
  assert.equal(h.count("trades"), 0);
});

Deno.test("StreamHub delivers only the asset a stream filters on", async () => {
  const h = hub({ assets: 3, capacity: 2 });
  const one = h.open("trades", { asset: 1 });
  const all = h.open("trades", { capacity: 10 });
  for (let p = 1; p <= 6; p++) h.fan("trades", trade(p, p % 3));
  // Asset 1 got trades 1 and 4 only: nothing of another asset was dropped on its behalf.
  assert.equal(h.drops.trades, 0);
  h.endAll();
  assert.deepEqual((await drain(one)).items.map((t) => t.price), [1, 4]);
  assert.deepEqual((await drain(all)).items.map((t) => t.price), [1, 2, 3, 4, 5, 6]);
});

Deno.test("StreamHub.open() throws ValidationError for a bad kind, asset, capacity or maxBuffered", () => {
  const h = hub({ assets: 2 });
  const cases: [() => unknown, RegExp][] = [
    [() => h.open("quotes" as StreamKind), /Cannot open stream "quotes": no such stream/],
    [() => h.open("toString" as StreamKind), /no such stream/],
    [
      () => h.open("trades", { asset: 2 }),
      /Cannot open the trades stream: asset 2 is not configured/,
    ],
    [() => h.open("trades", { asset: -1 }), /asset -1 is not configured/],
    [() => h.open("trades", { asset: 0.5 }), /asset 0.5 is not configured/],
    [() => h.open("trades", { capacity: 0 }), /capacity 0 is not an integer >= 1/],
    [() => h.open("trades", { capacity: 1.5 }), /capacity 1.5 is not an integer >= 1/],
    [() => h.open("fills", { maxBuffered: 0 }), /maxBuffered 0 is not an integer >= 1/],
    [() => h.open("fills", { maxBuffered: NaN }), /maxBuffered NaN is not an integer >= 1/],
  ];
  for (const [f, re] of cases) {
    assert.throws(
      f,
      (e: unknown) => e instanceof ValidationError && re.test(e.message),
      String(re),
    );
  }
  for (const k of ["trades", "bookUpdates", "events"] as const) assert.equal(h.count(k), 0);
  // A bad default fails at open, not at construction.
  const bad = hub({ capacity: 0 });
  assert.throws(() => bad.open("trades"), ValidationError);
});

Deno.test("StreamHub.open() without an asset count accepts any integer asset", async () => {
  const h = hub();
  const s = h.open("trades", { asset: 42 });
  h.fan("trades", trade(1, 42));
  h.endAll();
  assert.equal((await drain(s)).items.length, 1);
});

Deno.test("StreamHub.isKind() names exactly the nine streams", () => {
  const kinds = [
    "trades",
    "bookUpdates",
    "depthUpdates",
    "snapshots",
    "orderUpdates",
    "fills",
    "positions",
    "errors",
    "events",
  ];
  for (const k of kinds) assert.equal(StreamHub.isKind(k), true, k);
  for (const k of ["trade", "hasOwnProperty", "__proto__", ""]) {
    assert.equal(StreamHub.isKind(k), false, k);
  }
});
