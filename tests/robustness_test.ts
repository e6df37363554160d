/**
 * What happens when things go wrong inside the client: the core fails, a
 * consumer stops reading a stream that may not drop, cancels meet orders not
 * yet acknowledged or a rate limit, a connector folds executions into one
 * update, the core sends a record this module does not know. All against the
 * real core and the sim over real IPC; faults come from the core's and the
 * sim's fault injection.
 */

import assert from "node:assert/strict";
import {
  ClosedError,
  DuplicateOrderIdError,
  type ErrorEvent,
  type Fill,
  LiveClient,
  NativeError,
  OrderStatus,
  type OrderUpdate,
  RateLimitedError,
  SimFault,
  StreamOverflowError,
} from "../mod.ts";
import { barrier, connect, startSim, until } from "./helpers.ts";

/** The best bid and the two best asks of a quiet book (rate 0: it never moves). */
function quietBook(
  client: LiveClient,
): { bid: number; asks: readonly { price: number; qty: number }[] } {
  const d = client.depth(0, 5);
  assert.ok(d.bids.length > 0 && d.asks.length > 1, "the sim's initial book is in");
  return { bid: d.bids[0].price, asks: d.asks };
}

async function waitForBook(client: LiveClient): Promise<void> {
  await until(() => client.depth(0, 2).asks.length > 1 && client.depth(0, 1).bids.length > 0);
}

Deno.test("an engine panic in stream mode: reported, streams deliver then error, waits reject, client closed", async () => {
  await using sim = await startSim({ rate: 0 });
  const client = await connect(sim);
  await waitForBook(client);
  const errors: ErrorEvent[] = [];
  client.on("error", (e) => errors.push(e));
  const updates = client.orderUpdates.getReader();
  const { bid } = quietBook(client);
  const acked = await client.buy({ price: bid - 10, qty: 0.001 }, { wait: true });
  assert.equal(acked.status, OrderStatus.New);
  // A request the sim does not answer before the failure.
  sim.fault(SimFault.DelayMs, 60_000);
  const pending = client.buy({ price: bid - 20, qty: 0.001 }, { wait: true });

  client.injectFault("enginePanic");

  const err = await pending.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ClosedError, String(err));
  assert.equal(err.ambiguous, true);
  assert.match(err.message, /the client stopped \(.*panicked: fault injected/);
  assert.ok(err.cause instanceof NativeError && err.cause.status === -12, String(err.cause));
  // The stream first delivers what it holds (the ack), then errors with the failure.
  const got: OrderUpdate[] = [];
  let streamError: unknown;
  for (;;) {
    try {
      const { value, done } = await updates.read();
      if (done) break;
      got.push(value);
    } catch (e) {
      streamError = e;
      break;
    }
  }
  assert.deepEqual(got.map((u) => [u.orderId, u.status]), [[acked.orderId, OrderStatus.New]]);
  assert.ok(streamError instanceof ClosedError, `stream ended with ${streamError}`);
  const cause = streamError.cause;
  assert.ok(cause instanceof NativeError && cause.status === -12, String(cause));
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /event pump stopped.*panicked: fault injected/);
  assert.equal(errors[0].code, -12);
  assert.equal(client.closed, true);
  assert.throws(
    () => client.buy({ price: bid - 10, qty: 0.001 }),
    (e: unknown) => e instanceof ClosedError && /panicked/.test(e.message),
  );
  // The last known orders stay readable, to reconcile from a new client.
  assert.deepEqual(client.orders().map((o) => o.orderId).includes(acked.orderId), true);
  await client.close(); // already closed by the failure: a no-op
});

Deno.test("an engine panic in poll mode (threaded and inline): poll() throws HL_E_ENGINE from then on", async () => {
  await using sim = await startSim({ rate: 200 });
  for (const inline of [false, true]) {
    const client = await LiveClient.connect({
      instruments: [{ connector: sim.name, symbol: sim.symbol, tickSize: 0.1, lotSize: 0.001 }],
      mode: "poll",
      inline,
    });
    await until(() => {
      client.poll(0);
      return client.health.instruments[0].registered;
    });
    client.injectFault("enginePanic");
    let thrown: unknown;
    const deadline = Date.now() + 10_000;
    while (thrown === undefined && Date.now() < deadline) {
      try {
        client.poll(50);
      } catch (e) {
        thrown = e;
      }
    }
    assert.ok(thrown instanceof NativeError, `inline ${inline}: ${thrown}`);
    assert.equal(thrown.status, -12);
    assert.match(thrown.message, /panicked: fault injected/);
    assert.throws(
      () => client.poll(0),
      (e: unknown) => e instanceof NativeError && e.status === -12,
    );
    await client.close();
  }
});

Deno.test("a never-drop stream that is not read overflows at maxBuffered: delivers, errors, counts, reports", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim);
  await waitForBook(client);
  const reported: ErrorEvent[] = [];
  client.on("error", (e) => reported.push(e));
  const updates = client.stream("orderUpdates", { maxBuffered: 3 }).getReader();
  const { bid } = quietBook(client);
  const ids = [1, 2, 3, 4].map((k) => client.buy({ price: bid - k, qty: 0.001 }).orderId);
  await until(() => ids.every((id) => client.order(id)?.status === OrderStatus.New));
  assert.equal(client.health.streamDrops.orderUpdates, 1, "the fourth ack was refused, counted");
  const got: number[] = [];
  let end: unknown;
  for (;;) {
    try {
      const { value, done } = await updates.read();
      if (done) break;
      got.push(value.orderId);
    } catch (e) {
      end = e;
      break;
    }
  }
  assert.deepEqual(got, ids.slice(0, 3));
  assert.ok(end instanceof StreamOverflowError, String(end));
  assert.match(end.message, /orderUpdates stream overflowed: 3 unread events/);
  await until(() => reported.length > 0);
  assert.match(reported[0].message, /overflowed/);
  // Other consumers are not affected; the client goes on.
  const finals = await client.cancelAll(undefined, { wait: true });
  assert.deepEqual(finals.map((o) => o.status), ids.map(() => OrderStatus.Canceled));
});

Deno.test("cancelAll() covers orders not yet acknowledged: their cancel goes out on the ack", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim);
  await waitForBook(client);
  const { bid } = quietBook(client);
  // In stream mode nothing is processed before this synchronous code yields: both are unacked.
  const a = client.buy({ price: bid - 1, qty: 0.001 });
  const b = client.buy({ price: bid - 2, qty: 0.001 });
  assert.equal(client.order(a.orderId)?.status, OrderStatus.None);
  assert.deepEqual(client.cancelAll(), [a.orderId, b.orderId]);
  await until(() => [a, b].every((o) => client.order(o.orderId)?.status === OrderStatus.Canceled));
  assert.equal(sim.sim.stats().cancels, 2);
  // With wait: resolves with the final states, not the acks.
  const c = client.buy({ price: bid - 3, qty: 0.001 });
  const finals = await client.cancelAll(0, { wait: true });
  assert.deepEqual(finals.map((o) => [o.orderId, o.status]), [[c.orderId, OrderStatus.Canceled]]);
  assert.deepEqual(client.orders(), []);
});

Deno.test("cancelAll() is never refused by the rate limit: it borrows, later requests wait", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim, { rateLimit: { rate: 0.001, burst: 3 } });
  await waitForBook(client);
  const { bid } = quietBook(client);
  const ids = [1, 2, 3].map((k) => client.buy({ price: bid - k, qty: 0.001 }).orderId);
  await until(() => ids.every((id) => client.order(id)?.status === OrderStatus.New));
  // The bucket is empty and cannot ever hold the 4 cancels needed (burst 3) — still all go out.
  const more = ids.length; // nothing left for a fourth order:
  assert.throws(() => client.buy({ price: bid - 4, qty: 0.001 }), RateLimitedError);
  const finals = await client.cancelAll(undefined, { wait: true });
  assert.deepEqual(finals.map((o) => o.status), ids.map(() => OrderStatus.Canceled));
  assert.equal(sim.sim.stats().cancels, more);
  assert.equal(client.health.rateLimited, 1, "only the refused buy counts");
  // In debt now: the next request is refused.
  assert.throws(() => client.buy({ price: bid - 4, qty: 0.001 }), RateLimitedError);
});

Deno.test("a deferred cancel is not sent twice when a callback cancels on the ack", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim);
  await waitForBook(client);
  const { bid } = quietBook(client);
  const errors: ErrorEvent[] = [];
  client.on("error", (e) => errors.push(e));
  const o = client.buy({ price: bid - 1, qty: 0.001 });
  client.on("order", (u) => {
    if (u.orderId === o.orderId && u.status === OrderStatus.New) client.cancelOrder(u.orderId);
  });
  const finals = await client.cancelAll(undefined, { wait: true });
  assert.deepEqual(finals.map((f) => f.status), [OrderStatus.Canceled]);
  await barrier(sim, client);
  assert.equal(sim.sim.stats().cancels, 1);
  assert.deepEqual(errors.filter((e) => e.kind !== 3).map((e) => e.message), []);
});

Deno.test("an actively read never-drop stream does not overflow on a burst larger than maxBuffered", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim, { streamMaxBuffered: 5 });
  await waitForBook(client);
  const { bid } = quietBook(client);
  const seen: number[] = [];
  let failure: unknown;
  const reading = (async () => {
    try {
      for await (const u of client.orderUpdates) seen.push(u.orderId);
    } catch (e) {
      failure = e;
    }
  })();
  await barrier(sim, client); // the reader is parked on its read by now
  const ids = Array.from(
    { length: 20 },
    (_, k) => client.buy({ price: bid - 1 - k, qty: 0.001 }).orderId,
  );
  await until(() => seen.length === 20 || failure !== undefined);
  assert.equal(failure, undefined);
  assert.deepEqual(seen, ids);
  assert.equal(client.health.streamDrops.orderUpdates, 0);
  await client.close();
  await reading;
});

Deno.test("fills: one per execution with its price; a REST-style update gives an inexact fill", async () => {
  for (const restFills of [false, true]) {
    await using sim = await startSim({ rate: 0, restFills });
    await using client = await connect(sim);
    await waitForBook(client);
    const { asks } = quietBook(client);
    const fills: Fill[] = [];
    client.on("fill", (f) => fills.push(f));
    // Takes all of the best ask and one lot of the next level.
    const qty = Number((asks[0].qty + 0.001).toFixed(3));
    const o = client.buy({ price: asks[1].price, qty });
    await until(() => client.order(o.orderId)?.status === OrderStatus.Filled);
    const total = fills.reduce((s, f) => s + f.qty, 0);
    assert.ok(Math.abs(total - qty) < 1e-9, `fills sum to the order's qty (${total} vs ${qty})`);
    if (!restFills) {
      assert.deepEqual(
        fills.map((f) => [f.price, f.qty, f.exact]),
        [[asks[0].price, asks[0].qty, true], [asks[1].price, 0.001, true]],
      );
      assert.equal(client.health.inexactFills, 0);
    } else {
      assert.equal(fills.length, 1);
      assert.equal(fills[0].exact, false);
      assert.ok(Number.isNaN(fills[0].price), "no price is invented for a REST answer");
      assert.equal(client.health.inexactFills, 1);
    }
  }
});

Deno.test("records of an unknown kind are skipped, counted and reported once", async () => {
  await using sim = await startSim({ rate: 100 });
  await using client = await connect(sim);
  const errors: ErrorEvent[] = [];
  client.on("error", (e) => errors.push(e));
  client.injectFault("unknownRecord");
  await until(() => client.health.unknownRecords === 1);
  client.injectFault("unknownRecord");
  await until(() => client.health.unknownRecords === 2);
  const unknown = errors.filter((e) => /unknown kind/.test(e.message));
  assert.equal(unknown.length, 1);
  assert.equal(unknown[0].code, 0xee);
  assert.throws(() => client.injectFault("nope" as "enginePanic"), /not "enginePanic"/);
});

Deno.test("finished orders are forgotten beyond keepFinishedOrders; the core still refuses their ids", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim, { keepFinishedOrders: 2 });
  await waitForBook(client);
  const { bid } = quietBook(client);
  const base = Date.now();
  for (let k = 1; k <= 3; k++) {
    await client.buy({ price: bid - k, qty: 0.001, orderId: base + k }, { wait: true });
    await client.cancelOrder(base + k, { wait: true });
  }
  assert.equal(client.order(base + 1), undefined, "the oldest finished order is forgotten");
  assert.equal(client.order(base + 3)?.status, OrderStatus.Canceled);
  assert.throws(
    () => client.buy({ price: bid - 1, qty: 0.001, orderId: base + 1 }),
    (e: unknown) => e instanceof DuplicateOrderIdError && e.status === -7,
  );
  assert.throws(
    () => client.buy({ price: bid - 1, qty: 0.001, orderId: base + 3 }),
    (e: unknown) => e instanceof DuplicateOrderIdError && e.status === undefined,
  );
});

Deno.test("both wake-ups (doorbell socket, native wait) deliver events, answer orders and close cleanly", async () => {
  await using sim = await startSim({ rate: 500 });
  for (const wake of ["socket", "wait"] as const) {
    const client = await connect(sim, { wake });
    await until(() => client.wake === wake, 5000, `wake ${wake} in use`);
    const reader = client.trades.getReader();
    const { value } = await reader.read();
    assert.equal(value?.type, "trade");
    const { bid } = quietBookOrLive(client);
    const o = await client.buy({ price: bid - 50, qty: 0.001 }, { wait: true });
    assert.equal(o.status, OrderStatus.New);
    await client.cancelOrder(o.orderId, { wait: true });
    const drained = (async () => {
      while (!(await reader.read()).done); // what was buffered, then the end close() brings
    })();
    await client.close();
    await drained;
  }
  const left = [...Deno.readDirSync("/tmp")].filter((e) =>
    e.name.startsWith(`hftlive-${Deno.pid}-`)
  );
  assert.deepEqual(left.map((e) => e.name), [], "no doorbell socket file left");
  await assert.rejects(
    LiveClient.connect({
      instruments: [{ connector: sim.name, symbol: sim.symbol, tickSize: 0.1, lotSize: 0.001 }],
      wake: "bell" as "socket",
    }),
    /wake "bell" is not one of "socket", "wait"/,
  );
});

/** The best bid of a moving book. */
function quietBookOrLive(client: LiveClient): { bid: number } {
  const d = client.depth(0, 1);
  assert.ok(d.bids.length > 0, "book in");
  return { bid: d.bids[0].price };
}

Deno.test("the test producer's numbered trades reach for await in order, none lost (stream and poll)", async () => {
  for (const mode of ["stream", "poll"] as const) {
    // No connector: the producer needs none.
    await using client = await LiveClient.connect({
      instruments: [{ connector: `flood-${Deno.pid}`, symbol: "x", tickSize: 0.1, lotSize: 1 }],
      mode,
      streamCapacity: 1 << 20,
    });
    let next = 0;
    client.injectFault("flood");
    if (mode === "stream") {
      for await (const t of client.trades) {
        assert.equal(t.price, next++, "in order, no gap");
        if (next === 200_000) break;
      }
    } else {
      while (next < 200_000) {
        for (const ev of client.poll(100)) {
          if (ev.type === "trade") assert.equal(ev.price, next++, "in order, no gap");
        }
      }
    }
    client.injectFault("floodStop");
    assert.equal(client.health.engineDrops, 0);
    assert.deepEqual(Object.values(client.health.streamDrops).filter((n) => n > 0), []);
  }
});
