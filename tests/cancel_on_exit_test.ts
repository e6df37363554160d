/**
 * Cancel on exit (`cancelOnExit`, default true): a client that goes away
 * cancels its resting orders, whichever way it goes — close(), an exception
 * leaving an `await using` scope, SIGINT, SIGTERM. Against the sim.
 */

import assert from "node:assert/strict";
import { LiveClient, OrderStatus } from "../mod.ts";
import { connect, spawnScript, spawnSim, startSim, uniqueName } from "./helpers.ts";

const LOT = 0.001;

Deno.test("cancel on exit: close() cancels every resting order and waits for the answers", async () => {
  await using sim = await startSim({ rate: 0 });
  const client = await connect(sim);
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await client.buy({ price: 40_000 - i, qty: LOT }, { wait: true })).orderId);
  }
  await client.close();
  for (const id of ids) assert.equal(client.order(id)?.status, OrderStatus.Canceled);
  assert.equal(sim.sim.stats().cancels, 5);
});

Deno.test("cancel on exit: an exception leaving an await using scope cancels too", async () => {
  await using sim = await startSim({ rate: 0 });
  let ids: number[] = [];
  await assert.rejects(async () => {
    await using client = await connect(sim);
    ids = [
      (await client.buy({ price: 40_000, qty: LOT }, { wait: true })).orderId,
      (await client.sell({ price: 60_000, qty: LOT }, { wait: true })).orderId,
    ];
    throw new Error("a bug in the strategy");
  }, /a bug in the strategy/);
  assert.equal(ids.length, 2);
  assert.equal(sim.sim.stats().cancels, 2);
});

Deno.test("cancel on exit: cancelOnExit false leaves the orders resting", async () => {
  await using sim = await startSim({ rate: 0 });
  const client = await connect(sim, { cancelOnExit: false });
  await client.buy({ price: 40_000, qty: LOT }, { wait: true });
  await client.close();
  const st = sim.sim.stats();
  assert.deepEqual([st.acks, st.cancels, st.fills, st.expired], [1, 0, 0, 0]);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`cancel on exit: ${signal} cancels the resting orders, then exits with ${code}`, async () => {
    const script = spawnScript(new URL("./fixtures/exit_signal.ts", import.meta.url));
    assert.match(await script.until("resting"), /resting/);
    script.child.kill(signal);
    const { code: status, out, err } = await script.finish();
    assert.equal(status, code, `${out}\n${err}`);
    assert.equal(out.match(/^canceled \d+$/gm)?.length, 3, out);
  });
}

for (const [how, code] of [["exit", 0], ["throw", 1]] as const) {
  Deno.test(`cancel on exit: leaving the process (${how}) without close() cancels the resting orders`, async () => {
    const name = uniqueName("exit");
    const simProc = await spawnSim(name, 50);
    try {
      const script = spawnScript(new URL("./fixtures/exit_abruptly.ts", import.meta.url), [
        name,
        how,
      ]);
      const { code: status, out, err } = await script.finish();
      assert.match(out, /resting/);
      assert.equal(status, code, err);
      // A new client would adopt anything left resting: nothing is.
      await using client = await LiveClient.connect({
        instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: LOT }],
        ready: 10_000,
      });
      await barrierOn(client);
      assert.equal(client.orders().length, 0);
      assert.equal(client.health.requests.adopted, 0);
    } finally {
      simProc.kill("SIGKILL");
      await simProc.status;
    }
  });
}

/** One trade seen: the registration answer (where adopted orders come) was delivered before it. */
async function barrierOn(client: LiveClient): Promise<void> {
  const r = client.stream("trades").getReader();
  await r.read();
  await r.cancel();
}
