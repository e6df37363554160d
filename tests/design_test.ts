/**
 * DESIGN.md, "What hftbacktest's live stack really does", points 1–5, each
 * reproduced by the in-process sim and checked through the public API.
 */

import assert from "node:assert/strict";
import {
  type BookLevel,
  type DepthClear,
  type DepthUpdate,
  ErrorKind,
  LiveClient,
  OrderStatus,
  OrderType,
  Side,
  type Sim,
} from "../mod.ts";
import { connect, lastTrade, startSim, uniqueName, until } from "./helpers.ts";

/** hftbacktest's `LOCAL_EVENT` flag. */
const LOCAL_EVENT = 1 << 30;
const TICK = 0.1;
const LOT = 0.001;

/** A book rebuilt from depth records only (the oracle for the core's book). */
class StreamBook {
  readonly bids = new Map<number, number>(); // tick -> lots
  readonly asks = new Map<number, number>();
  fusedDeletions = 0;
  snapshotLevels = 0;

  apply(e: DepthUpdate | DepthClear): void {
    if (e.type === "depth") {
      const side = e.side === Side.Buy ? this.bids : this.asks;
      const tick = Math.round(e.price / TICK);
      if (e.snapshot) this.snapshotLevels++;
      if (e.qty === 0) {
        side.delete(tick);
        if ((e.flags & LOCAL_EVENT) === 0) this.fusedDeletions++;
      } else {
        side.set(tick, Math.round(e.qty / LOT));
      }
      return;
    }
    const clear = (side: Map<number, number>, buy: boolean): void => {
      if (Number.isNaN(e.upToPrice)) return side.clear();
      const upTo = Math.round(e.upToPrice / TICK);
      for (const t of [...side.keys()]) if (buy ? t >= upTo : t <= upTo) side.delete(t);
    };
    if (e.side !== Side.Sell) clear(this.bids, true);
    if (e.side !== Side.Buy) clear(this.asks, false);
  }

  levels(n: number): { bids: [number, number][]; asks: [number, number][] } {
    const bids = [...this.bids].sort((a, b) => b[0] - a[0]).slice(0, n);
    const asks = [...this.asks].sort((a, b) => a[0] - b[0]).slice(0, n);
    return { bids, asks };
  }
}

/** A book level on the tick/lot grid: [tick, lots]. */
function grid(levels: readonly BookLevel[]): [number, number][] {
  return levels.map((l) => [Math.round(l.price / TICK), Math.round(l.qty / LOT)]);
}

/** The sim's true book on the tick/lot grid (what the exchange holds). */
function exchangeBook(sim: Sim, n = 100): { bids: [number, number][]; asks: [number, number][] } {
  const b = sim.book(0, n);
  return {
    bids: b.bids.map(([p, q]) => [Math.round(p / TICK), Math.round(q / LOT)]),
    asks: b.asks.map(([p, q]) => [Math.round(p / TICK), Math.round(q / LOT)]),
  };
}

function bookOf(
  client: LiveClient,
  n = 100,
): { bids: [number, number][]; asks: [number, number][] } {
  const d = client.depth(0, n);
  return { bids: grid(d.bids), asks: grid(d.asks) };
}

Deno.test("point 2: with fused deletions the core's book matches the exchange level for level", async () => {
  const LEVELS = 10;
  await using sim = await startSim({ rate: 3000, levels: LEVELS, fuseDeletions: true, seed: 11 });
  // Not `ready`: subscribe before the first record so the oracle sees the snapshot too.
  await using client = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  const oracle = new StreamBook();
  const reader = client.stream("depthUpdates", { capacity: 1_000_000 }).getReader();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      oracle.apply(value);
    }
  })();
  await client.ready(10_000);
  // Let fused deletions happen, then freeze the exchange and wait until the core agrees.
  await until(() => oracle.fusedDeletions >= 20, 10_000, "deletions without LOCAL_EVENT");
  sim.sim.pauseMarket(true);
  const exchange = (): { bids: [number, number][]; asks: [number, number][] } =>
    exchangeBook(sim.sim);
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  await until(() => same(bookOf(client), exchange()), 10_000, "the core's book to equal the sim's");
  await until(() => same(oracle.levels(100), exchange()), 10_000, "every depth record in JS");
  const core = bookOf(client);
  assert.ok(oracle.fusedDeletions > 0, "the sim emitted deletions without LOCAL_EVENT");
  assert.equal(client.health.streamDrops.depthUpdates, 0);
  assert.equal(client.health.engineDrops, 0);
  // The exchange (sim) keeps exactly LEVELS levels per side: no stale level survives.
  assert.equal(core.bids.length, LEVELS, `bids ${JSON.stringify(core.bids)}`);
  assert.equal(core.asks.length, LEVELS, `asks ${JSON.stringify(core.asks)}`);
  assert.ok(core.bids[0][0] < core.asks[0][0], "book not crossed");
  for (let i = 1; i < LEVELS; i++) {
    assert.ok(core.bids[i][0] < core.bids[i - 1][0] && core.asks[i][0] > core.asks[i - 1][0]);
  }
  assert.deepEqual(core, exchange(), "core book = the exchange's book, level for level");
  assert.deepEqual(core, oracle.levels(100), "core book = book rebuilt from every depth record");
  // The cached best bid/offer agrees with the book.
  const bbo = client.bbo(0)!;
  assert.equal(Math.round(bbo.bidPrice / TICK), core.bids[0][0]);
  assert.equal(Math.round(bbo.askPrice / TICK), core.asks[0][0]);
});

Deno.test("point 3: a second client joining a streamed symbol starts with the full book", async () => {
  await using sim = await startSim({ rate: 2000, levels: 15, seed: 12 });
  await using first = await connect(sim);
  await lastTrade(first);
  // Let the book move well away from its initial state, then freeze it and let the first
  // client catch up with the exchange.
  const events0 = sim.sim.stats().marketEvents;
  await until(() => sim.sim.stats().marketEvents > events0 + 500, 10_000, "500 market events");
  sim.sim.pauseMarket(true);
  await until(
    () => JSON.stringify(bookOf(first)) === JSON.stringify(exchangeBook(sim.sim)),
    10_000,
    "the first client's book to equal the sim's",
  );
  const second = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  try {
    let snapshotLevels = 0;
    second.on("depth", (d) => {
      if (d.type === "depth" && d.snapshot) snapshotLevels++;
    });
    await second.ready(10_000);
    // Right after registration, with no market data since: the book came from the snapshot.
    const b = bookOf(second);
    assert.ok(snapshotLevels >= 30, `${snapshotLevels} snapshot levels`);
    assert.equal(b.bids.length, 15);
    assert.equal(b.asks.length, 15);
    assert.deepEqual(b, bookOf(first), "the joining client's book equals the first client's");
    assert.deepEqual(b, exchangeBook(sim.sim), "and the exchange's");
    // Snapshot levels carry no real timestamps (local_ts 0, exch_ts = the level's age): they
    // must not feed the latency statistics.
    const h = second.health;
    assert.equal(h.feedLatency.count, 0, `latency samples from a snapshot: ${h.feedLatency.max}`);
    assert.equal(h.feedLocalToJs.count, 0);
  } finally {
    await second.close();
  }
});

Deno.test("point 3: a joining client has a non-empty book as soon as it is ready (market running)", async () => {
  await using sim = await startSim({ rate: 2000, seed: 13 });
  await using first = await connect(sim);
  await lastTrade(first);
  await using second = await connect(sim);
  const d = second.depth(0, 5);
  assert.equal(d.bids.length, 5);
  assert.equal(d.asks.length, 5);
  assert.ok(d.bids[0].price < d.asks[0].price);
});

Deno.test("point 1: a client started before the connector registers and receives data", async () => {
  const name = uniqueName("early");
  await using client = await LiveClient.connect({
    instruments: [{ connector: name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
    registerIntervalMs: 50,
  });
  const connects: string[] = [];
  client.on("connect", (e) => connects.push(e.name));
  await until(() => client.health.instruments[0].waitingForConnector, 3000, "waiting");
  assert.equal(client.health.connected, false);
  assert.equal(client.health.instruments[0].registered, false);
  // No connector, nothing to register with: the core sends no registration until it appears.
  assert.equal(client.nativeStats().registrations, 0);
  await using _sim = await startSim({ name, rate: 1000 });
  await client.ready(10_000);
  assert.equal(client.health.connected, true);
  assert.equal(client.health.instruments[0].waitingForConnector, false);
  assert.deepEqual(connects, [name], "connect fires once the connector appears");
  const price = await lastTrade(client);
  assert.ok(price > 40_000 && price < 60_000);
  const d = client.depth(0, 5);
  assert.ok(d.bids.length > 0 && d.asks.length > 0);
  assert.ok(client.nativeStats().registrations >= 1, "registered once the connector appeared");
});

Deno.test("point 4: paused data is per-instrument staleness while the connector stays connected", async () => {
  await using a = await startSim({ rate: 1000, seed: 14 });
  await using b = await startSim({ rate: 1000, seed: 15 });
  await using client = await LiveClient.connect({
    instruments: [
      { connector: a.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT },
      { connector: b.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT },
    ],
    ready: 10_000,
    staleAfterMs: 250,
  });
  const events: string[] = [];
  client.on("stale", (h) => events.push(`stale ${h.asset}`));
  client.on("fresh", (h) => events.push(`fresh ${h.asset}`));
  client.on("disconnect", (e) => events.push(`disconnect ${e.name}`));
  // Both instruments have market data of their own (not just a registration time) before
  // one of them is paused.
  const traded = new Set<number>();
  const offTrade = client.on("trade", (t) => traded.add(t.asset));
  await until(() => traded.size === 2, 5000, "a trade of each instrument");
  offTrade();
  assert.equal(events.join(), "", "nothing stale while both markets run");
  const pausedAt = performance.now();
  let staleAfter = NaN;
  client.on("stale", () => (staleAfter ||= performance.now() - pausedAt));
  a.sim.pauseMarket(true);
  await until(() => events.includes("stale 0"), 3000, "stale 0");
  assert.equal(events.join(), "stale 0");
  assert.ok(staleAfter >= 200, `stale ${staleAfter.toFixed(0)} ms after the pause (limit 250)`);
  let h = client.health;
  assert.equal(h.connected, true, "both connectors alive");
  assert.deepEqual(h.connectors, { [a.name]: true, [b.name]: true });
  assert.equal(h.instruments[0].stale, true);
  assert.equal(h.instruments[1].stale, false, "the other instrument keeps its data");
  assert.equal(h.instruments[0].registered, true);
  a.sim.pauseMarket(false);
  await until(() => events.includes("fresh 0"), 3000, "fresh 0");
  h = client.health;
  assert.equal(h.instruments[0].stale, false);
  assert.deepEqual(events, ["stale 0", "fresh 0"]);
});

Deno.test("point 4: a sim that stops publishing on its own (staleAfterMs) is reported stale", async () => {
  await using sim = await startSim({ rate: 1000, staleAfterMs: 300 });
  await using client = await connect(sim, { staleAfterMs: 200 });
  const stale: number[] = [];
  client.on("stale", (h) => stale.push(h.asset));
  await until(() => stale.length > 0, 5000, "stale");
  assert.equal(client.health.connected, true);
  assert.equal(client.health.instruments[0].stale, true);
});

Deno.test("point 4: connector LiveErrors reach errors, callbacks and health counts", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const reader = client.errors.getReader();
  const cb: number[] = [];
  client.on("error", (e) => cb.push(e.kind));
  sim.sim.publishError(ErrorKind.ConnectionInterrupted);
  sim.sim.publishError(ErrorKind.CriticalConnectionError);
  const first = await reader.read();
  const second = await reader.read();
  await reader.cancel();
  assert.equal(first.value?.kind, ErrorKind.ConnectionInterrupted);
  assert.equal(second.value?.kind, ErrorKind.CriticalConnectionError);
  assert.match(first.value!.message, /ConnectionInterrupted/);
  assert.deepEqual(cb, [0, 1]);
  const h = client.health;
  assert.equal(h.errors.ConnectionInterrupted, 1);
  assert.equal(h.errors.CriticalConnectionError, 1);
  assert.equal(h.connected, true, "a connector error is not a disconnect");
});

Deno.test("point 5: a connector rejection is Rejected with the exchange's code, sticky", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  const price = (await lastTrade(client)) - 100;
  sim.sim.rejectOrders(-2019);
  const errs: number[] = [];
  client.on("error", (e) => {
    if (e.kind === ErrorKind.OrderError) errs.push(e.code);
  });
  const o = await client.sell({ price: price + 200, qty: LOT }, { wait: true });
  assert.equal(o.status, OrderStatus.Rejected);
  assert.equal(o.rejectCode, -2019);
  assert.ok(o.rejectReason && o.rejectReason.length > 0, "reason carries the message");
  assert.deepEqual(errs, [-2019]);
  assert.equal(client.order(o.orderId)?.status, OrderStatus.Rejected);
  assert.equal(client.orders().length, 0);
  assert.equal(client.health.errors.OrderError, 1);
  await assert.rejects(client.cancelOrder(o.orderId, { wait: true }), {
    name: "InvalidOrderStatusError",
  });
  sim.sim.rejectOrders(0);
  const ok = await client.buy({ price, qty: LOT }, { wait: true });
  assert.equal(ok.status, OrderStatus.New);
  await client.cancelOrder(ok.orderId, { wait: true });
});

Deno.test("point 5: a MARKET order carries a price and fills", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  await lastTrade(client);
  const o = await client.submitOrder(
    { side: Side.Buy, qty: 2 * LOT, orderType: OrderType.Market },
    { wait: true },
  );
  assert.ok(Number.isFinite(o.price) && o.price > 0, `market order price ${o.price}`);
  await until(() => client.order(o.orderId)?.status === OrderStatus.Filled, 3000, "filled");
  assert.ok(Math.abs(client.position(0).qty - 2 * LOT) < 1e-9);
});
