/**
 * The order path at size and through failures, from TypeScript against the
 * real core and the sim: bursts are paced, never lost; the kill switch works
 * at any size; a dead client's orders can be found and cancelled; a failing
 * engine and a terminated Worker cancel what they leave; the core and the
 * client agree after connector restarts; IPC limits are specific errors.
 */

import assert from "node:assert/strict";
import { BackpressureError, LimitError, LiveClient, type Order, OrderStatus } from "../mod.ts";
import { connect, spawnScript, spawnSim, startSim, uniqueName, until } from "./helpers.ts";

const LOT = 0.001;

/** Submits `n` resting buys (below the market, spread over 1,000 price levels). */
function burst(client: LiveClient, n: number): { sent: Order[]; refused: number } {
  const sent: Order[] = [];
  let refused = 0;
  for (let i = 0; i < n; i++) {
    try {
      sent.push(client.buy({ price: 40_000 - (i % 1000) * 0.1, qty: LOT }));
    } catch (e) {
      if (!(e instanceof BackpressureError)) throw e;
      refused++;
    }
  }
  return { sent, refused };
}

/** Waits until the core has nothing queued or in flight. */
async function settled(client: LiveClient, ms = 60_000): Promise<void> {
  await until(
    () => {
      const r = client.health.requests;
      return r.queued === 0 && r.inFlight === 0;
    },
    ms,
    "every request answered",
  );
}

Deno.test("order path: 100,000 submits in a burst are all accounted for, and cancelAll clears them all", async () => {
  await using sim = await startSim({ rate: 0 });
  await using client = await connect(sim, { waitTimeoutMs: 120_000, exitTimeoutMs: 60_000 });
  const N = 100_000;
  const { sent, refused } = burst(client, N);
  assert.equal(sent.length + refused, N);
  await settled(client);
  // The core answered everything; the client has seen it once its records are delivered.
  const unanswered = (): number =>
    sent.filter((o) => client.order(o.orderId)?.status === OrderStatus.None).length;
  await until(() => unanswered() === 0, 30_000, "every answer delivered");
  let acked = 0, rejected = 0, other = 0;
  for (const o of sent) {
    const s = client.order(o.orderId)?.status;
    if (s === OrderStatus.New) acked++;
    else if (s === OrderStatus.Rejected) rejected++;
    else other++;
  }
  assert.equal(other, 0, "no order left without an answer");
  assert.equal(acked + rejected + refused, N);
  assert.equal(sim.sim.stats().ordersReceived, acked + rejected, "the exchange got every one sent");
  assert.equal(client.health.requests.unanswered, 0);
  // The kill switch at that size: paced, with progress, none left.
  let last = 0;
  const finals = await client.cancelAll(0, {
    wait: true,
    timeoutMs: 120_000,
    onProgress: (done) => (last = done),
  });
  assert.equal(finals.length, acked);
  assert.equal(last, acked);
  assert.ok(finals.every((o) => o.status === OrderStatus.Canceled));
  assert.equal(client.orders().length, 0);
  assert.equal(client.nativeOrders(0).length, 0);
  assert.equal(sim.sim.stats().restingOrders, 0);
});

Deno.test("order path: a full queue refuses with BackpressureError, counted, nothing lost; cancelAll waits for room", async () => {
  await using sim = await startSim({ rate: 0 });
  sim.sim.delayOrders(50); // the exchange answers slower than the strategy sends
  const bound = { maxInFlight: 20, maxQueuedRequests: 200 };
  await using client = await connect(sim, bound);
  const first = burst(client, 2_000);
  assert.ok(first.refused > 0, "some refused");
  assert.equal(client.health.requests.refused, first.refused);
  sim.sim.delayOrders(0);
  await settled(client);
  // More orders rest than the core's window and queue hold together.
  const sent = [...first.sent];
  while (sent.length <= 2 * (bound.maxInFlight + bound.maxQueuedRequests)) {
    sent.push(...burst(client, 300).sent);
    await settled(client);
  }
  await until(
    () => sent.every((o) => client.order(o.orderId)?.status === OrderStatus.New),
    30_000,
    "every acknowledgement delivered",
  );
  assert.equal(sim.sim.stats().ordersReceived, sent.length);
  // The kill switch is not refused by the full queue: what does not fit waits for room.
  const refused = client.health.requests.refused;
  const finals = await client.cancelAll(0, { wait: true, timeoutMs: 30_000 });
  assert.equal(finals.length, sent.length);
  assert.ok(finals.every((o) => o.status === OrderStatus.Canceled));
  assert.equal(client.orders().length, 0);
  assert.equal(sim.sim.stats().restingOrders, 0);
  assert.ok(client.health.requests.refused > refused, "the full queue refused some cancels first");
});

Deno.test("order path: a new client finds and cancels what a SIGKILLed process left resting", async () => {
  const name = uniqueName("orphan");
  const simProc = await spawnSim(name, 50);
  try {
    const script = spawnScript(new URL("./fixtures/rest_orders.ts", import.meta.url), [name, "5"]);
    const out = await script.until(/resting( \d+)+\n/);
    const ids = out.match(/resting((?: \d+)+)/)![1].trim().split(" ").map(Number);
    assert.equal(ids.length, 5);
    script.child.kill("SIGKILL");
    await script.finish();
    // The orders still rest at the exchange; a new client (another bot id) adopts them.
    await using client = await LiveClient.connect({
      instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: LOT }],
      ready: 10_000,
    });
    await until(() => client.orders().length === 5, 5000, "the left orders adopted");
    assert.deepEqual(client.orders().map((o) => o.orderId).sort(), ids.sort());
    assert.equal(client.health.requests.adopted, 5);
    const finals = await client.cancelAll(0, { wait: true, timeoutMs: 10_000 });
    assert.equal(finals.length, 5);
    assert.ok(finals.every((o) => o.status === OrderStatus.Canceled));
  } finally {
    simProc.kill("SIGKILL");
    await simProc.status;
  }
});

Deno.test("order path: an engine failure cancels the resting orders (cancel on exit)", async () => {
  await using sim = await startSim({ rate: 0 });
  const client = await connect(sim);
  for (let i = 0; i < 3; i++) {
    await client.buy({ price: 40_000 - i, qty: LOT }, { wait: true });
  }
  client.injectFault("enginePanic");
  await until(() => client.closed, 5000, "the client stopped");
  await until(() => sim.sim.stats().cancels === 3, 10_000, "three cancels at the exchange");
  await client.close();
});

Deno.test("order path: a terminated Worker's client cancels its resting orders", async () => {
  await using sim = await startSim({ rate: 0 });
  const worker = new Worker(new URL("./fixtures/worker_orders.ts", import.meta.url), {
    type: "module",
  });
  const resting = new Promise<number>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<number>) => resolve(e.data);
    worker.onerror = (e) => reject(e.error ?? e.message);
  });
  worker.postMessage({ connector: sim.name, n: 3 });
  assert.equal(await resting, 3);
  worker.terminate();
  await until(() => sim.sim.stats().cancels === 3, 10_000, "three cancels at the exchange");
});

Deno.test("order path: the core and the client agree on every order across connector restarts", async () => {
  const name = uniqueName("restart");
  let simProc = await spawnSim(name, 50);
  await using client = await LiveClient.connect({
    instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: LOT }],
    ready: 10_000,
    livenessIntervalMs: 20,
  });
  try {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) {
        await client.buy({ price: 40_000 - i, qty: LOT }, { wait: true });
      }
      assert.equal(client.nativeOrders(0).length, 5);
      const down = new Promise((r) => client.on("disconnect", r));
      const back = new Promise((r) => client.on("reconnect", r));
      simProc.kill("SIGKILL");
      await simProc.status;
      await down;
      simProc = await spawnSim(name, 50);
      await back;
      // The restarted connector does not know them: both sides say so.
      await until(() => client.orders().length === 0, 5000, "orders expired by the core");
      assert.equal(client.nativeOrders(0).length, 0, `round ${round}`);
    }
  } finally {
    simProc.kill("SIGKILL");
    await simProc.status;
  }
});

Deno.test("order path: the 10th client on one connector fails with LimitError", async () => {
  await using sim = await startSim({ rate: 0 });
  const clients: LiveClient[] = [];
  try {
    for (let i = 0; i < 9; i++) clients.push(await connect(sim));
    await assert.rejects(
      connect(sim),
      (e: unknown) => e instanceof LimitError && /20 nodes/.test(e.message),
    );
  } finally {
    for (const c of clients) await c.close();
  }
});
