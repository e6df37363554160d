/**
 * The `hftlive-sim` binary as a separate process: a connector killed with
 * SIGKILL is reported as `disconnect` within 500 ms, and a restarted one as
 * `reconnect` with the instrument registered again and data flowing.
 */

import assert from "node:assert/strict";
import { LiveClient } from "../mod.ts";
import { lastTrade, simBin, uniqueName, until } from "./helpers.ts";

function spawnSim(name: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(simBin, {
    args: [
      name,
      "--rate",
      "500",
      "--seed",
      "3",
      "--symbol",
      "btcusdt",
      "--tick",
      "0.1",
      "--lot",
      "0.001",
      "--price",
      "50000",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    assert.match(out, new RegExp(`^ready ${name}`));
    // Keep draining so the child never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })().catch(() => {});
    child.stderr.cancel().catch(() => {});
    return child;
  })();
}

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
