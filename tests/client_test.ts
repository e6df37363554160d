import assert from "node:assert/strict";
import {
  ClosedError,
  ErrorKind,
  InvalidOrderStatusError,
  LiveClient,
  NativeError,
  OrderNotFoundError,
  OrderStatus,
  RateLimitedError,
  Side,
  SimFault,
  TimeoutError,
  type Trade,
  ValidationError,
} from "../mod.ts";
import { barrier, connect, lastTrade, startSim, uniqueName, until } from "./helpers.ts";

Deno.test("LiveClient.connect() receives trades, best bid/offer and depth updates", async () => {
  await using sim = await startSim({ rate: 1000 });
  await using client = await connect(sim);
  const trades = [];
  for await (const t of client.trades) {
    trades.push(t);
    if (trades.length === 5) break;
  }
  assert.equal(trades.length, 5);
  for (const t of trades) {
    assert.equal(t.type, "trade");
    assert.equal(t.asset, 0);
    assert.ok(t.side === Side.Buy || t.side === Side.Sell);
    assert.ok(t.price > 40_000 && t.price < 60_000);
    assert.ok(t.qty > 0);
    assert.ok(t.exchTs > 1.7e18 && t.recvTs >= t.localTs - 1e6);
  }
  const reader = client.bookUpdates.getReader();
  const { value: bbo } = await reader.read();
  await reader.cancel();
  assert.equal(bbo?.type, "bbo");
  for await (const d of client.depthUpdates) {
    assert.ok(d.type === "depth" || d.type === "depthClear");
    break;
  }
  const snap = client.depth(0, 5);
  assert.equal(snap.type, "snapshot");
  assert.ok(snap.bids.length + snap.asks.length > 0);
  const h = client.health;
  assert.equal(h.connected, true);
  assert.ok(h.feedLatency.count > 0);
  assert.ok(h.lastEventAt > 0);
});

Deno.test("several consumers of one stream each get every event", async () => {
  await using sim = await startSim({ rate: 1000 });
  await using client = await connect(sim);
  const a = client.stream("trades").getReader();
  const b = client.stream("trades").getReader();
  const [x, y] = await Promise.all([a.read(), b.read()]);
  assert.deepEqual(x.value, y.value);
  await a.cancel();
  await b.cancel();
});

Deno.test("stream filtered by asset only gets that asset", async () => {
  await using sim = await startSim({ rate: 2000, symbols: ["btcusdt", "ethusdt"] });
  await using client = await LiveClient.connect({
    instruments: [
      { connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 },
      { connector: sim.name, symbol: "ethusdt", tickSize: 0.1, lotSize: 0.001 },
    ],
    ready: 10_000,
  });
  let n = 0;
  for await (const t of client.stream("trades", { asset: 1 })) {
    assert.equal(t.asset, 1);
    if (++n === 10) break;
  }
});

Deno.test("a slow consumer drops the oldest trades and counts them; orders never drop", async () => {
  await using sim = await startSim({ rate: 5000 });
  await using client = await connect(sim);
  const reader = client.stream("trades", { capacity: 8 }).getReader();
  // Every trade dispatched to the stream since it was opened (same objects, same order).
  let dispatched = 0;
  let newest: Trade | undefined;
  client.on("trade", (t) => {
    dispatched++;
    newest = t;
  });
  const orders = client.orderUpdates.getReader();
  const price = (await lastTrade(client)) - 200;
  const ids = [];
  for (let i = 0; i < 20; i++) ids.push(client.buy({ price, qty: 0.001 }).orderId);
  // The consumer stays slow (reads nothing) until more trades than its capacity arrived.
  await until(() => client.health.streamDrops.trades > 0, 5000, "dropped trades");
  // Freeze the market and let every trade already sent reach the client.
  sim.sim.pauseMarket(true);
  await barrier(sim, client);
  assert.ok(dispatched > 8);
  assert.equal(
    client.health.streamDrops.trades,
    dispatched - 8,
    "every trade beyond the newest 8 is dropped and counted",
  );
  const kept: Trade[] = [];
  while (kept.length < 8) {
    const { value } = await reader.read();
    assert.ok(value);
    kept.push(value);
  }
  assert.equal(kept[7], newest, "the oldest were dropped: the newest trade is the last kept");
  for (let i = 1; i < kept.length; i++) assert.ok(kept[i].localTs >= kept[i - 1].localTs);
  const seen = new Set<number>();
  while (seen.size < 20) {
    const { value } = await orders.read();
    seen.add(value!.orderId);
  }
  assert.deepEqual([...seen].sort(), ids.sort());
  assert.equal(client.health.streamDrops.orderUpdates, 0);
  await reader.cancel();
  await orders.cancel();
  await client.cancelAll(undefined, { wait: true });
});

Deno.test("bookUpdates conflates to the newest per asset", async () => {
  await using sim = await startSim({ rate: 5000 });
  await using client = await connect(sim);
  const reader = client.bookUpdates.getReader();
  const { value: first } = await reader.read();
  // The consumer stays slow until several quotes were conflated away after that read (a drop
  // means a newer quote replaced one held: one is held now). Drops counted before the first
  // read completed do not count: a burst can be conflated into that read itself.
  const d0 = client.health.streamDrops.bookUpdates;
  await until(() => client.health.streamDrops.bookUpdates > d0 + 2, 5000, "conflated quotes");
  sim.sim.pauseMarket(true);
  await barrier(sim, client);
  const { value } = await reader.read();
  assert.ok(value && first);
  assert.equal(value, client.bbo(0), "the one kept is the newest best bid/offer");
  assert.ok(value.localTs > first.localTs);
  await reader.cancel();
});

Deno.test("submitOrder() with wait resolves on the ack; cancelOrder() on the cancel", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) - 100;
  const o = await client.submitOrder({ side: Side.Buy, price, qty: 0.001 }, { wait: true });
  assert.equal(o.status, OrderStatus.New);
  assert.equal(client.orders(0).length, 1);
  assert.equal(client.order(o.orderId)?.status, OrderStatus.New);
  const c = await client.cancelOrder(o.orderId, { wait: true });
  assert.equal(c.status, OrderStatus.Canceled);
  assert.equal(client.orders().length, 0);
  assert.throws(() => client.cancelOrder(o.orderId), InvalidOrderStatusError);
  assert.throws(() => client.cancelOrder(12345), OrderNotFoundError);
  const h = client.health;
  assert.ok(h.orderLatency.count >= 2);
  assert.ok(h.orderLatency.p50 > 0);
});

Deno.test("a crossing order fills and emits fills and a position", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) + 100;
  const before = client.position(0).qty;
  const fills = client.fills.getReader();
  const positions = client.positions.getReader();
  const o = client.buy({ price, qty: 0.002 });
  const { value: f } = await fills.read();
  assert.equal(f?.orderId, o.orderId);
  assert.ok(f!.qty > 0 && f!.price > 0);
  const { value: p } = await positions.read();
  assert.ok(p && p.qty > before);
  await until(() => client.order(o.orderId)?.status === OrderStatus.Filled);
  await fills.cancel();
  await positions.cancel();
  assert.ok(Math.abs(client.position(0).qty - before - 0.002) < 1e-9);
});

Deno.test("submitOrder() validates before sending and rejects duplicate ids", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  assert.throws(() => client.buy({ price: 0, qty: 1, orderId: 42 }), {
    name: "ValidationError",
    message: "Cannot submit order 42: price 0 is not above 0",
  });
  assert.throws(() => client.buy({ price: 100, qty: 1, asset: 5 }), ValidationError);
  const price = (await lastTrade(client)) - 100;
  const id = Date.now();
  client.buy({ price, qty: 0.001, orderId: id });
  assert.throws(() => client.buy({ price, qty: 0.001, orderId: id }), {
    name: "DuplicateOrderIdError",
  });
  await assert.rejects(
    client.submitOrder({ side: Side.Buy, price: NaN, qty: 1 }, { wait: true }),
    ValidationError,
  );
  await until(() => client.order(id)?.status === OrderStatus.New);
  client.cancelAll();
});

Deno.test("order ids are unique across two clients in one process", async () => {
  await using sim = await startSim();
  await using a = await connect(sim);
  await using b = await connect(sim);
  const price = (await lastTrade(a)) - 100;
  const x = await a.buy({ price, qty: 0.001 }, { wait: true });
  const y = await b.buy({ price, qty: 0.001 }, { wait: true });
  assert.notEqual(x.orderId, y.orderId);
  // Each client only sees its own orders.
  assert.deepEqual(a.orders().map((o) => o.orderId), [x.orderId]);
  assert.deepEqual(b.orders().map((o) => o.orderId), [y.orderId]);
  await a.cancelAll(undefined, { wait: true });
  await b.cancelAll(undefined, { wait: true });
});

Deno.test("replaceOrder() cancels and resubmits with a new id", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) - 100;
  const o = await client.buy({ price, qty: 0.003 }, { wait: true });
  const r = await client.replaceOrder(o.orderId, { price: price - 1 }, { wait: true });
  assert.notEqual(r.orderId, o.orderId);
  assert.equal(r.status, OrderStatus.New);
  assert.equal(r.qty, 0.003);
  assert.equal(client.order(o.orderId)?.status, OrderStatus.Canceled);
  await client.cancelOrder(r.orderId, { wait: true });
});

Deno.test("rate limit fails fast with RateLimitedError and is counted", async () => {
  await using sim = await startSim();
  await using client = await connect(sim, { rateLimit: { rate: 1, burst: 2 } });
  const price = (await lastTrade(client)) - 100;
  const a = client.buy({ price, qty: 0.001 });
  const b = client.buy({ price, qty: 0.001 });
  assert.throws(() => client.buy({ price, qty: 0.001 }), RateLimitedError);
  assert.equal(client.health.rateLimited, 1);
  // The refused order never left the client: the sim answers exactly the two that did.
  await until(
    () => [a, b].every((o) => client.order(o.orderId)?.status === OrderStatus.New),
    5000,
    "acks of the two orders sent",
  );
  assert.equal(sim.sim.stats().ordersReceived, 2);
  assert.deepEqual(client.orders().map((o) => o.orderId).sort(), [a.orderId, b.orderId].sort());
});

Deno.test("use after close throws ClosedError; close() is idempotent", async () => {
  await using sim = await startSim();
  const client = await connect(sim);
  const p1 = client.close();
  const p2 = client.close();
  assert.equal(p1, p2);
  await p1;
  assert.equal(client.closed, true);
  assert.throws(() => client.buy({ price: 1, qty: 1 }), ClosedError);
  assert.throws(() => client.trades, ClosedError);
  assert.throws(() => client.depth(), ClosedError);
  assert.throws(() => client.position(), ClosedError);
  assert.equal(client.order(1), undefined); // order reads stay available after close
  assert.throws(() => client.bbo(), ClosedError);
  assert.throws(() => client.cancelAll(), ClosedError);
  assert.equal(client.health.connected, false);
});

Deno.test("close() during a pending wait ends streams and rejects waits", async () => {
  await using sim = await startSim({ rate: 50 });
  // Without cancel on exit, close() has nothing to wait for (with it, it waits for its cancels).
  const client = await connect(sim, { cancelOnExit: false });
  const price = (await lastTrade(client)) - 100;
  // No market data and no order answer can arrive before close(): the read and the wait
  // are still pending when it runs, and it must end both.
  sim.sim.pauseMarket(true);
  sim.fault(SimFault.DelayMs, 5000);
  await barrier(sim, client);
  const pendingRead = client.trades.getReader().read();
  const err = client.submitOrder({ side: Side.Buy, price, qty: 0.001 }, {
    wait: true,
    timeoutMs: 5000,
  }).catch((e) => e);
  await until(() => sim.sim.stats().ordersReceived === 1, 5000, "the order at the sim");
  const t0 = Date.now();
  await client.close();
  assert.deepEqual(await pendingRead, { done: true, value: undefined }, "the stream ended");
  const e = await err;
  assert.ok(e instanceof ClosedError, String(e));
  assert.equal(e.ambiguous, true);
  assert.ok(Date.now() - t0 < 1000, "close() did not wait for the answer");
  assert.equal(sim.sim.stats().acks, 0, "the sim had not answered yet");
});

Deno.test("a wait times out with TimeoutError (ambiguous)", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) - 100;
  sim.fault(SimFault.DelayMs, 500);
  const e = await client.submitOrder({ side: Side.Buy, price, qty: 0.001 }, {
    wait: true,
    timeoutMs: 50,
  }).catch((e) => e);
  assert.ok(e instanceof TimeoutError, String(e));
  assert.equal(e.ambiguous, true);
  const id = e.orderId!;
  assert.equal(client.order(id)?.status, OrderStatus.None, "no answer yet");
  // Ambiguous, not failed: the late ack still updates the order.
  await until(() => client.order(id)?.status === OrderStatus.New, 5000, "the late ack");
  assert.equal(sim.sim.stats().acks, 1);
});

Deno.test("poll mode returns decoded events synchronously", async () => {
  await using sim = await startSim({ rate: 1000 });
  await using client = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
    mode: "poll",
  });
  assert.throws(() => client.trades, /mode "poll"/);
  const seen = new Set<string>();
  const end = Date.now() + 5000;
  while (!seen.has("trade") && Date.now() < end) {
    for (const e of client.poll(20)) seen.add(e.type);
  }
  assert.ok(seen.has("trade"));
  assert.ok(seen.has("bbo"));
  assert.equal(client.health.instruments[0].registered, true);
});

Deno.test("stream mode refuses poll()", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  assert.throws(() => client.poll(0), /mode "stream"/);
});

Deno.test("connect() to a missing connector reports waiting for connector", async () => {
  const name = uniqueName("absent");
  await using client = await LiveClient.connect({
    instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
  });
  await assert.rejects(client.ready(300), TimeoutError);
  const h = client.health;
  assert.equal(h.connected, false);
  assert.equal(h.instruments[0].registered, false);
});

Deno.test("a client started before the connector registers once it appears", async () => {
  const name = uniqueName("late");
  await using client = await LiveClient.connect({
    instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
  });
  // The client is up and has found no connector before the sim starts.
  await until(() => client.health.instruments[0].waitingForConnector, 5000, "waiting");
  assert.equal(client.health.connected, false);
  await using _sim = await startSim({ name });
  await client.ready(10_000);
  assert.equal(client.health.connected, true);
  assert.equal(client.health.instruments[0].waitingForConnector, false);
  await lastTrade(client);
});

Deno.test("disconnect and reconnect are reported when the connector restarts", async () => {
  const name = uniqueName("restart");
  let sim = await startSim({ name });
  await using client = await connect(sim);
  const events: string[] = [];
  client.on("disconnect", () => events.push("disconnect"));
  client.on("reconnect", () => events.push("reconnect"));
  const t0 = Date.now();
  await sim.stop();
  await until(() => events.includes("disconnect"), 3000, "disconnect");
  assert.ok(Date.now() - t0 < 500, `disconnect after ${Date.now() - t0} ms`);
  assert.equal(client.health.connected, false);
  sim = await startSim({ name });
  try {
    await until(() => events.includes("reconnect"), 10_000, "reconnect");
    assert.equal(client.health.connected, true);
    assert.equal(client.health.reconnects, 1);
    await lastTrade(client);
  } finally {
    await sim.stop();
  }
});

Deno.test("a connector rejection carries the exchange code", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const errors = client.errors.getReader();
  const price = (await lastTrade(client)) - 100;
  sim.fault(SimFault.RejectOrders, -2019);
  const o = await client.submitOrder({ side: Side.Buy, price, qty: 0.001 }, { wait: true });
  assert.equal(o.status, OrderStatus.Rejected);
  assert.equal(o.rejectCode, -2019);
  const { value: e } = await errors.read();
  assert.equal(e?.kind, ErrorKind.OrderError);
  assert.equal(e?.orderId, o.orderId);
  assert.equal(e?.code, -2019);
  await errors.cancel();
});

Deno.test("paused market data shows as staleness while the connector stays up", async () => {
  await using sim = await startSim();
  await using client = await connect(sim, { staleAfterMs: 300 });
  const stale: number[] = [];
  client.on("stale", (h) => stale.push(h.asset));
  await lastTrade(client);
  sim.fault(SimFault.PauseMarket, 1);
  await until(() => stale.length > 0, 3000, "stale");
  const h = client.health;
  assert.equal(h.connected, true);
  assert.equal(h.instruments[0].stale, true);
  sim.fault(SimFault.PauseMarket, 0);
  await until(() => !client.health.instruments[0].stale, 3000, "fresh");
});

Deno.test("connector errors reach the errors stream and error callbacks", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const got: number[] = [];
  client.on("error", (e) => got.push(e.kind));
  for (const kind of [0, 1, 3]) sim.fault(SimFault.Error, kind);
  await until(() => got.length >= 3, 3000, "errors");
  assert.deepEqual(got.sort(), [0, 1, 3]);
});

Deno.test("loading from a wrong libPath lists every path tried", async () => {
  await assert.rejects(
    LiveClient.connect({
      instruments: [{ connector: "x", symbol: "y", tickSize: 1, lotSize: 1 }],
      libPath: "/nonexistent/libhftlive.so",
    }),
    (e: unknown) =>
      e instanceof NativeError && e.code === "LIBRARY" &&
      /\/nonexistent\/libhftlive\.so/.test(e.message),
  );
});

Deno.test("close() rejects a pending ready() at once (no timer left running)", async () => {
  await using client = await LiveClient.connect({
    instruments: [{
      connector: uniqueName("never"),
      symbol: "btcusdt",
      tickSize: 0.1,
      lotSize: 0.001,
    }],
  });
  const pending = client.ready(60_000);
  const t0 = Date.now();
  await client.close();
  await assert.rejects(pending, ClosedError);
  assert.ok(Date.now() - t0 < 1000);
});

Deno.test("connect() in poll mode with ready fails fast instead of timing out", async () => {
  const start = Date.now();
  await assert.rejects(
    LiveClient.connect({
      instruments: [{
        connector: uniqueName("pollready"),
        symbol: "btcusdt",
        tickSize: 0.1,
        lotSize: 0.001,
      }],
      mode: "poll",
      ready: 5_000,
    }),
    (e: unknown) => e instanceof ValidationError && /poll mode/.test(e.message),
  );
  assert.ok(Date.now() - start < 2_000, "no wait for the 5 s timeout");
});
