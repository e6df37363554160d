/**
 * One Deno test per test case of the seed's Python live client
 * (`tests/test_live_client.py`: TestLiveClientModels, TestLiveClient,
 * TestLiveClientCallbacks; 23 cases). The Python tests ran against mocks
 * (MockBot, MockDepth, MockOrderDict, MockEvent); these run against the real
 * native core and the in-process sim. Mapping: tests/PYTHON_PARITY.md.
 */

import assert from "node:assert/strict";
import {
  type BookUpdate,
  ClosedError,
  type ConnectionHealth,
  type DepthSnapshot,
  ErrorKind,
  LiveClient,
  LiveError,
  type LiveEvent,
  nextOrderId,
  type Order,
  OrderNotFoundError,
  type OrderRequest,
  OrderStatus,
  Side,
  Sim,
  TimeInForce,
  type Trade,
  ValidationError,
} from "../mod.ts";
import {
  barrier,
  connect,
  engineThreads,
  lastTrade,
  nextEvent,
  sleep,
  startSim,
  uniqueName,
  until,
} from "./helpers.ts";

const TICK = 0.1;
const LOT = 0.001;

function first<T extends LiveEvent["type"]>(
  client: LiveClient,
  type: T,
): Promise<Extract<LiveEvent, { type: T }>> {
  return nextEvent(client, (e): e is Extract<LiveEvent, { type: T }> => e.type === type);
}

// ----------------------------------------------------------- TestLiveClientModels

Deno.test("python parity 01: Trade model created from a real trade record", async () => {
  await using sim = await startSim({ rate: 1000 });
  await using client = await connect(sim);
  const t: Trade = await first(client, "trade");
  assert.equal(t.type, "trade");
  assert.equal(t.asset, 0);
  assert.ok(t.side === Side.Buy || t.side === Side.Sell);
  assert.ok(t.price > 0 && Math.abs(t.price / TICK - Math.round(t.price / TICK)) < 1e-6);
  assert.ok(t.qty > 0 && Math.abs(t.qty / LOT - Math.round(t.qty / LOT)) < 1e-6);
  assert.ok(t.exchTs > 1.7e18 && t.localTs >= t.exchTs && t.recvTs >= t.localTs - 1e6);
  // Immutable like the Python frozen dataclass: readonly at compile time.
  const _mutate = (): void => {
    // @ts-expect-error Trade is readonly
    t.price = 1;
  };
});

Deno.test("python parity 02: BookLevel and BookUpdate (best bid/offer) models", async () => {
  await using sim = await startSim({ rate: 1000 });
  await using client = await connect(sim);
  const b: BookUpdate = await first(client, "bbo");
  assert.equal(b.type, "bbo");
  assert.ok(b.bidPrice < b.askPrice, `${b.bidPrice} < ${b.askPrice}`);
  assert.ok(b.bidQty > 0 && b.askQty > 0);
  const book = client.depth(0, 1);
  assert.deepEqual(Object.keys(book.bids[0]).sort(), ["price", "qty"]);
  const _mutate = (): void => {
    // @ts-expect-error BookUpdate is readonly
    b.bidPrice = 1;
  };
});

Deno.test("python parity 03: DepthSnapshot model from the core's book", async () => {
  await using sim = await startSim({ rate: 1000, levels: 8 });
  await using client = await connect(sim);
  // A fresh connector answers the registration with an empty batch and publishes its book just
  // after: ready can come before the book (5-9% of connects in a loop, on main as well).
  await first(client, "bbo");
  const s: DepthSnapshot = client.depth(0, 5);
  assert.equal(s.type, "snapshot");
  assert.equal(s.asset, 0);
  assert.equal(s.bids.length, 5);
  assert.equal(s.asks.length, 5);
  for (let i = 1; i < 5; i++) {
    assert.ok(s.bids[i].price < s.bids[i - 1].price, "bids best first");
    assert.ok(s.asks[i].price > s.asks[i - 1].price, "asks best first");
  }
  assert.ok(s.bids[0].price < s.asks[0].price);
  assert.ok(s.ts > 1.7e18);
  assert.equal(client.depth(0, 50).bids.length, 8, "no more levels than the book has");
});

Deno.test("python parity 04: OrderRequest model and event serialization round trip", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const req: OrderRequest = {
    side: Side.Buy,
    price: (await lastTrade(client)) - 50,
    qty: 0.002,
    timeInForce: TimeInForce.GTC,
  };
  assert.deepEqual(JSON.parse(JSON.stringify(req)), req);
  const o = await client.submitOrder(req, { wait: true });
  const copy = JSON.parse(JSON.stringify(o)) as Order;
  assert.deepEqual(copy, o, "events are plain data: JSON round trip keeps every field");
  assert.equal(copy.side, Side.Buy);
  assert.equal(copy.qty, 0.002);
  const t = await first(client, "trade");
  assert.deepEqual(JSON.parse(JSON.stringify(t)), t);
  await client.cancelOrder(o.orderId, { wait: true });
});

Deno.test("python parity 05: ConnectionHealth model before and after connecting", async () => {
  const name = uniqueName("health");
  await using client = await LiveClient.connect({
    instruments: [{ connector: name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  let h: ConnectionHealth = client.health;
  assert.equal(h.connected, false);
  assert.equal(h.feedLatency.count, 0);
  assert.equal(h.orderLatency.count, 0);
  assert.equal(h.reconnects, 0);
  assert.equal(h.instruments.length, 1);
  assert.equal(h.instruments[0].symbol, "btcusdt");
  await using _sim = await startSim({ name, rate: 1000 });
  await client.ready(10_000);
  await lastTrade(client);
  h = client.health;
  assert.equal(h.connected, true);
  assert.deepEqual(h.connectors, { [name]: true });
  assert.ok(h.feedLatency.count > 0 && h.feedLatency.p50 > 0);
});

Deno.test("python parity 06: events are converted from the native records of every kind", async () => {
  await using sim = await startSim({ rate: 1000 });
  const client = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  const seen = new Map<string, LiveEvent>();
  client.on("event", (e) => {
    if (!seen.has(e.type)) seen.set(e.type, e);
  });
  await client.ready(10_000);
  const price = (await lastTrade(client)) + 100;
  client.buy({ price, qty: LOT }); // crosses: order, fill, position
  await until(() => seen.has("position"), 5000, "position");
  sim.sim.publishError(ErrorKind.Custom);
  await until(() => seen.has("error"), 5000, "error");
  await client.close();
  for (const k of ["trade", "depth", "bbo", "order", "fill", "position", "error", "connector"]) {
    assert.ok(seen.has(k), `no ${k} event`);
  }
  const c = seen.get("connector") as Extract<LiveEvent, { type: "connector" }>;
  assert.equal(c.name, sim.name);
  const d = seen.get("depth") as Extract<LiveEvent, { type: "depth" }>;
  assert.equal(typeof d.snapshot, "boolean");
  const p = seen.get("position") as Extract<LiveEvent, { type: "position" }>;
  assert.ok(Math.abs(p.qty - LOT) < 1e-9);
  const e = seen.get("error") as Extract<LiveEvent, { type: "error" }>;
  assert.equal(e.kind, ErrorKind.Custom);
});

// ----------------------------------------------------------------- TestLiveClient

Deno.test("python parity 07: client initialization", async () => {
  await using sim = await startSim();
  await using client = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  assert.equal(client.mode, "stream");
  assert.equal(client.closed, false);
  assert.deepEqual(client.instruments.map((i) => [i.connector, i.symbol]), [[
    sim.name,
    "btcusdt",
  ]]);
  await assert.rejects(LiveClient.connect({ instruments: [] }), ValidationError);
  await assert.rejects(
    LiveClient.connect({
      instruments: [{ connector: sim.name, symbol: "x", tickSize: 0, lotSize: LOT }],
    }),
    ValidationError,
  );
});

Deno.test("python parity 08: lifecycle start and stop (close is idempotent)", async () => {
  await using sim = await startSim();
  const client = await connect(sim);
  assert.equal(client.health.connected, true);
  await client.close();
  await client.close();
  assert.equal(client.closed, true);
  assert.equal(client.health.connected, false);
  assert.throws(() => client.position(0), ClosedError);
});

Deno.test("python parity 09: context manager (await using) closes on scope exit", async () => {
  await using sim = await startSim();
  let outer: LiveClient | undefined;
  {
    await using client = await connect(sim);
    outer = client;
    assert.equal(client.closed, false);
  }
  assert.equal(outer.closed, true);
  let thrown: LiveClient | undefined;
  await assert.rejects(async () => {
    await using client = await connect(sim);
    thrown = client;
    throw new Error("strategy failed");
  }, /strategy failed/);
  assert.equal(thrown?.closed, true, "closed when the scope throws too");
});

Deno.test("python parity 10: submit a buy order", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) - 50;
  const sent = client.buy({ price, qty: LOT });
  assert.equal(sent.side, Side.Buy);
  assert.equal(sent.status, OrderStatus.None);
  assert.equal(sent.req, OrderStatus.New);
  await until(() => client.order(sent.orderId)?.status === OrderStatus.New, 5000, "ack");
  assert.equal(sim.sim.stats().ordersReceived, 1);
  await client.cancelOrder(sent.orderId, { wait: true });
});

Deno.test("python parity 11: submit a sell order", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) + 50;
  const o = await client.sell({ price, qty: 0.002 }, { wait: true });
  assert.equal(o.side, Side.Sell);
  assert.equal(o.status, OrderStatus.New);
  assert.equal(o.leavesQty, 0.002);
  assert.ok(Math.abs(o.price - Math.round(price / TICK) * TICK) < 1e-9, "rounded to the tick");
  await client.cancelOrder(o.orderId, { wait: true });
});

Deno.test("python parity 12: cancel an order (success)", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const o = await client.buy({ price: (await lastTrade(client)) - 50, qty: LOT }, { wait: true });
  const c = await client.cancelOrder(o.orderId, { wait: true });
  assert.equal(c.status, OrderStatus.Canceled);
  assert.equal(c.req, OrderStatus.None);
  assert.equal(client.orders().length, 0);
  assert.equal(sim.sim.stats().cancels, 1);
});

Deno.test("python parity 13: cancel an order (failure: unknown id, finished order)", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  assert.throws(() => client.cancelOrder(987_654_321), OrderNotFoundError);
  const o = await client.buy({ price: (await lastTrade(client)) + 100, qty: LOT }, { wait: true });
  await until(() => client.order(o.orderId)?.status === OrderStatus.Filled, 5000, "fill");
  await assert.rejects(client.cancelOrder(o.orderId, { wait: true }), {
    name: "InvalidOrderStatusError",
    message: new RegExp(`Cannot cancel order ${o.orderId}: it is Filled`),
  });
});

Deno.test("python parity 14: position query", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  assert.equal(client.position(0).qty, 0);
  const px = await lastTrade(client);
  client.buy({ price: px + 100, qty: 0.003 });
  await until(() => Math.abs(client.position(0).qty - 0.003) < 1e-9, 5000, "long 0.003");
  client.sell({ price: px - 100, qty: 0.001 });
  await until(() => Math.abs(client.position(0).qty - 0.002) < 1e-9, 5000, "long 0.002");
  const p = client.position(0);
  assert.equal(p.asset, 0);
  assert.ok(p.exchTs > 0);
  assert.throws(() => client.position(3), ValidationError);
});

Deno.test("python parity 15: active orders query", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const px = await lastTrade(client);
  const a = await client.buy({ price: px - 50, qty: LOT }, { wait: true });
  const b = await client.sell({ price: px + 50, qty: LOT }, { wait: true });
  const ids = (os: Order[]): number[] => os.map((o) => o.orderId).sort();
  assert.deepEqual(ids(client.orders()), [a.orderId, b.orderId].sort());
  assert.deepEqual(ids(client.orders(0)), [a.orderId, b.orderId].sort());
  assert.deepEqual(ids(client.nativeOrders(0)), [a.orderId, b.orderId].sort(), "core agrees");
  assert.equal(client.order(a.orderId)?.price, a.price);
  await client.cancelAll(undefined, { wait: true });
  assert.deepEqual(client.orders(), []);
  assert.equal(
    client.order(a.orderId)?.status,
    OrderStatus.Canceled,
    "finished orders stay queryable",
  );
});

Deno.test("python parity 16: health tracking (latency, rates, last event)", async () => {
  await using sim = await startSim({ rate: 2000 });
  await using client = await connect(sim);
  const o = await client.buy({ price: (await lastTrade(client)) - 50, qty: LOT }, { wait: true });
  await client.cancelOrder(o.orderId, { wait: true });
  // Rates are over the last completed one-second window: wait until one has completed.
  await until(() => client.health.eventsPerSecond > 0, 5000, "a completed rate window");
  const h = client.health;
  assert.ok(h.feedLatency.count > 100);
  assert.ok(h.feedLatency.p50 <= h.feedLatency.p99 && h.feedLatency.p99 <= h.feedLatency.max);
  assert.ok(h.feedExchangeToLocal.count > 0 && h.feedLocalToJs.count > 0);
  assert.ok(h.orderLatency.count >= 2 && h.orderLatency.p50 > 0);
  assert.ok(h.eventsPerSecond > 100, `${h.eventsPerSecond} events/s`);
  assert.ok((h.eventsPerSecondByType.trade ?? 0) > 0);
  assert.ok(h.eventsTotal > 0);
  assert.ok(Date.now() * 1e6 - h.lastEventAt < 1e9, "an event within the last second");
  assert.equal(h.engineDrops, 0);
});

Deno.test("python parity 17: order id auto-generation (unique, safe, overridable)", async () => {
  await using sim = await startSim();
  await using a = await connect(sim);
  await using b = await connect(sim);
  const px = (await lastTrade(a)) - 50;
  const ids = new Set<number>();
  for (let i = 0; i < 5; i++) {
    ids.add(a.buy({ price: px, qty: LOT }).orderId);
    ids.add(b.buy({ price: px, qty: LOT }).orderId);
  }
  assert.equal(ids.size, 10, "unique across clients");
  for (const id of ids) assert.ok(Number.isSafeInteger(id) && id > 0);
  assert.ok(nextOrderId() > Math.max(...ids));
  const own = nextOrderId() + 1000;
  assert.equal(a.buy({ price: px, qty: LOT, orderId: own }).orderId, own);
  assert.throws(() => a.buy({ price: px, qty: LOT, orderId: own }), {
    name: "DuplicateOrderIdError",
  });
  await until(() => a.orders().every((o) => o.status === OrderStatus.New), 5000, "acks");
  await until(() => b.orders().every((o) => o.status === OrderStatus.New), 5000, "acks");
  await a.cancelAll(undefined, { wait: true });
  await b.cancelAll(undefined, { wait: true });
});

Deno.test("python parity 18: feed processing queues trades and book updates", async () => {
  await using sim = await startSim({ rate: 2000 });
  await using client = await connect(sim);
  const trades = client.trades.getReader();
  const books = client.bookUpdates.getReader();
  const got: Trade[] = [];
  for (let i = 0; i < 20; i++) got.push((await trades.read()).value!);
  const b = (await books.read()).value!;
  await trades.cancel();
  await books.cancel();
  for (let i = 1; i < got.length; i++) assert.ok(got[i].localTs >= got[i - 1].localTs, "in order");
  assert.equal(b.type, "bbo");
  assert.ok(sim.sim.stats().marketEvents > 20);
  assert.equal(client.health.streamDrops.trades, 0);
});

Deno.test("python parity 19: thread cleanup (engine threads joined on close)", async () => {
  await using sim = await startSim();
  const before = await engineThreads();
  const clients = await Promise.all([connect(sim), connect(sim), connect(sim)]);
  assert.equal(await engineThreads(), before + 3);
  await Promise.all(clients.map((c) => c.close()));
  assert.equal(await engineThreads(), before, "every engine thread joined");
  const inline = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
    mode: "poll",
    inline: true,
  });
  assert.equal(await engineThreads(), before, "inline poll mode runs no engine thread");
  await inline.close();
});

Deno.test("python parity 20: asyncio integration (concurrent async consumers, timeouts)", async () => {
  await using sim = await startSim({ rate: 2000 });
  await using client = await connect(sim);
  const take = async <T>(s: ReadableStream<T>, n: number): Promise<T[]> => {
    const out: T[] = [];
    for await (const v of s) {
      out.push(v);
      if (out.length === n) break;
    }
    return out;
  };
  const [trades, depth, order] = await Promise.all([
    take(client.trades, 10),
    take(client.depthUpdates, 10),
    (async () => client.buy({ price: (await lastTrade(client)) - 50, qty: LOT }, { wait: true }))(),
  ]);
  assert.equal(trades.length, 10);
  assert.equal(depth.length, 10);
  assert.equal(order.status, OrderStatus.New);
  // get_trade(timeout): a read raced against a timer; a paused feed times out.
  sim.sim.pauseMarket(true);
  await barrier(sim, client); // every trade sent before the pause has arrived
  const reader = client.trades.getReader();
  // Time must pass here: this is the timeout being tested (no trade can come while paused).
  const timedOut = await Promise.race([
    reader.read().then(() => "trade"),
    sleep(200).then(() => "timeout"),
  ]);
  assert.equal(timedOut, "timeout");
  // The timeout fired because the feed is paused, not because reads are broken.
  sim.sim.pauseMarket(false);
  const { value: late } = await reader.read();
  assert.equal(late?.type, "trade");
  await reader.cancel();
  await client.cancelOrder(order.orderId, { wait: true, signal: AbortSignal.timeout(5000) });
});

Deno.test("python parity 21: error decoding (native status codes become typed errors)", async () => {
  // A configuration the core refuses: its message and code are decoded.
  await assert.rejects(
    LiveClient.connect({
      instruments: [{
        connector: "x",
        symbol: "btcusdt",
        tickSize: TICK,
        lotSize: LOT,
        depth: { roi: [60_000, 40_000] },
      }],
    }),
    (e: unknown) => e instanceof ValidationError && /Cannot connect/.test(e.message),
  );
  await assert.rejects(
    () =>
      Sim.start({
        name: uniqueName(),
        instruments: [{ symbol: "s", tickSize: TICK, lotSize: LOT, startPrice: 100 }],
        levels: 0,
      }),
    // The core reports this as HL_E_IPC (a ConnectionError) today: hl_sim_start validates the
    // config only inside Sim::start; it should be HL_E_CONFIG (a ValidationError).
    (e: unknown) => e instanceof LiveError && /Cannot start the sim: .*levels/.test(e.message),
  );
  await using sim = await startSim();
  const client = await connect(sim);
  await client.close();
  assert.throws(
    () => client.buy({ price: 1, qty: LOT }),
    (e: unknown) => e instanceof ClosedError && e.code === "CLOSED" && /closed/.test(e.message),
  );
});

// -------------------------------------------------------- TestLiveClientCallbacks

Deno.test("python parity 22: connection callbacks (connect, disconnect, reconnect)", async () => {
  const name = uniqueName("cb");
  let sim = await startSim({ name });
  const events: string[] = [];
  const client = await LiveClient.connect({
    instruments: [{ connector: name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  client.on("connect", (e) => events.push(`connect ${e.name}`));
  client.on("disconnect", (e) => events.push(`disconnect ${e.name}`));
  client.on("reconnect", (e) => events.push(`reconnect ${e.name}`));
  try {
    await client.ready(10_000);
    await sim.stop();
    await until(() => events.length >= 2, 3000, "disconnect");
    sim = await startSim({ name });
    await until(() => events.length >= 3, 10_000, "reconnect");
    assert.deepEqual(events, [`connect ${name}`, `disconnect ${name}`, `reconnect ${name}`]);
  } finally {
    await client.close();
    await sim.stop();
  }
});

Deno.test("python parity 23: error callbacks (every error delivered, a throwing callback isolated)", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const logged: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    const got: number[] = [];
    client.on("error", () => {
      throw new Error("callback bug");
    });
    client.on("error", (e) => got.push(e.kind));
    sim.sim.publishError(ErrorKind.ConnectionInterrupted);
    sim.sim.publishError(ErrorKind.Custom);
    sim.sim.rejectOrders(-1013);
    const o = await client.buy({ price: (await lastTrade(client)) - 50, qty: LOT }, {
      wait: true,
    });
    assert.equal(o.status, OrderStatus.Rejected);
    await until(() => got.length >= 3, 3000, "three errors");
    assert.deepEqual(got, [
      ErrorKind.ConnectionInterrupted,
      ErrorKind.Custom,
      ErrorKind.OrderError,
    ]);
    // What an error callback throws is counted and logged, not re-reported as another error.
    assert.equal(client.health.callbackErrors, 3);
    assert.equal(logged.length, 3);
    assert.ok(logged.every((a) => (a[1] as Error).message === "callback bug"));
  } finally {
    console.error = consoleError;
  }
});
