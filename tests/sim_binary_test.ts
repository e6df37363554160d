/**
 * The `hftlive-sim` binary as a separate process: a connector killed with
 * SIGKILL is reported as `disconnect` within 500 ms, and a restarted one as
 * `reconnect` with the instrument registered again and data flowing.
 */

import assert from "node:assert/strict";
import { LiveClient } from "../mod.ts";
import { lastTrade, simBin, spawnSim, uniqueName, until } from "./helpers.ts";

let binExists = false;
try {
  binExists = Deno.statSync(simBin).isFile;
} catch { /* not built */ }

Deno.test({
  name: "a killed hftlive-sim process is a disconnect within 500 ms; its restart a reconnect",
  ignore: !binExists,
  fn: async () => {
    const name = uniqueName("bin");
    let child = await spawnSim(name);
    const client = await LiveClient.connect({
      instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
      ready: 10_000,
    });
    try {
      await lastTrade(client);
      const events: [string, number][] = [];
      client.on("disconnect", () => events.push(["disconnect", performance.now()]));
      client.on("reconnect", () => events.push(["reconnect", performance.now()]));
      const t0 = performance.now();
      child.kill("SIGKILL");
      await child.status;
      await until(() => events.some(([e]) => e === "disconnect"), 3000, "disconnect");
      const dt = events.find(([e]) => e === "disconnect")![1] - t0;
      assert.ok(dt < 500, `disconnect reported after ${dt.toFixed(0)} ms`);
      assert.equal(client.health.connected, false);
      assert.equal(client.health.instruments[0].registered, false);

      child = await spawnSim(name);
      await until(() => events.some(([e]) => e === "reconnect"), 10_000, "reconnect");
      assert.equal(client.health.connected, true);
      assert.equal(client.health.reconnects, 1);
      assert.equal(client.health.instruments[0].registered, true);
      await lastTrade(client);
      const book = client.depth(0, 5);
      assert.ok(book.bids.length > 0 && book.asks.length > 0, "book rebuilt after reconnect");
    } finally {
      await client.close();
      child.kill("SIGTERM");
      await child.status;
    }
  },
});
