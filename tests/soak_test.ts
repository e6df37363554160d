/**
 * A longer soak of the order path, behind a flag: `HFTLIVE_SOAK=<minutes>`
 * (e.g. `HFTLIVE_SOAK=10 bash scripts/test.sh`). Rounds of bursts, random
 * cancels, the kill switch and connector restarts (the hftlive-sim binary is
 * SIGKILLed and started again) with throwing callbacks installed; after every
 * round the client and the core agree and nothing is left resting.
 */

import assert from "node:assert/strict";
import { BackpressureError, LiveClient, OrderStatus } from "../mod.ts";
import { spawnSim, uniqueName, until } from "./helpers.ts";

const minutes = Number(Deno.env.get("HFTLIVE_SOAK") ?? 0);

Deno.test({
  name: `soak: order path for ${minutes || "(off: set HFTLIVE_SOAK=<minutes>)"} minutes`,
  ignore: !(minutes > 0),
  fn: async () => {
    const name = uniqueName("soak");
    let sim = await spawnSim(name, 500);
    const client = await LiveClient.connect({
      instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
      ready: 10_000,
      livenessIntervalMs: 20,
      waitTimeoutMs: 60_000,
    });
    const logged: unknown[] = [];
    const consoleError = console.error;
    console.error = (...a: unknown[]) => void logged.push(a);
    for (const k of ["trade", "order", "fill", "event"] as const) {
      client.on(k, () => {
        if (Math.random() < 0.01) throw new Error(`soak: ${k} callback bug`);
      });
    }
    const end = Date.now() + minutes * 60_000;
    let rounds = 0, submitted = 0, refused = 0, restarts = 0;
    try {
      while (Date.now() < end) {
        rounds++;
        const n = 1_000 + Math.floor(Math.random() * 20_000);
        const ids: number[] = [];
        for (let i = 0; i < n; i++) {
          try {
            ids.push(client.buy({ price: 40_000 - (i % 500) * 0.1, qty: 0.001 }).orderId);
          } catch (e) {
            if (!(e instanceof BackpressureError)) throw e;
            refused++;
          }
        }
        submitted += ids.length;
        if (Math.random() < 0.3) {
          // A connector restart in the middle of it.
          const back = new Promise((r) => client.on("reconnect", r));
          sim.kill("SIGKILL");
          await sim.status;
          sim = await spawnSim(name, 500);
          await back;
          restarts++;
        } else {
          for (const id of ids) {
            if (Math.random() < 0.1 && client.order(id)?.status === OrderStatus.New) {
              try {
                client.cancelOrder(id);
              } catch { /* in flight: fine */ }
            }
          }
        }
        await until(
          () => {
            const r = client.health.requests;
            return r.queued === 0 && r.inFlight === 0;
          },
          60_000,
          `round ${rounds}: requests answered`,
        );
        await client.cancelAll(0, { wait: true, timeoutMs: 60_000 }).catch(() => {});
        await until(
          () => client.orders().length === 0 && client.nativeOrders(0).length === 0,
          30_000,
          `round ${rounds}: nothing resting, client and core agree`,
        );
      }
    } finally {
      console.error = consoleError;
      await client.close();
      sim.kill("SIGKILL");
      await sim.status;
    }
    console.log(
      `soak: ${rounds} rounds, ${submitted} orders, ${refused} refused, ${restarts} restarts, ` +
        `${client.health.callbackErrors} callback errors, unanswered ${client.health.requests.unanswered}`,
    );
    assert.ok(rounds > 0);
  },
});
