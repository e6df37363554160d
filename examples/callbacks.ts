/**
 * Callbacks for connection loss and errors: `disconnect`, `reconnect`,
 * `stale` and `error`, driven by the sim's fault injection (pause market data,
 * publish a connector error, stop and restart the connector).
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/callbacks.ts`
 *
 * @module
 */

import { LiveClient, Sim, SimFault } from "../mod.ts";

const name = `callbacks-${Deno.pid}`;
const instruments = [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let sim = await Sim.start({ name, instruments, rate: 500 });
await using client = await LiveClient.connect({
  instruments: [{ connector: name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
  ready: true,
  staleAfterMs: 300,
});
client.on("disconnect", (e) => console.log(`disconnect: ${e.name}`));
client.on("reconnect", (e) => console.log(`reconnect: ${e.name} (registered again, book rebuilt)`));
client.on(
  "stale",
  (h) => console.log(`stale: ${h.symbol} (connector still up: ${client.health.connected})`),
);
client.on("fresh", (h) => console.log(`fresh: ${h.symbol}`));
client.on("error", (e) => console.log(`error kind ${e.kind} code ${e.code}: ${e.message}`));

sim.fault(SimFault.PauseMarket, 1);
await sleep(600);
sim.fault(SimFault.PauseMarket, 0);
await sleep(200);
sim.fault(SimFault.Error, 0); // ConnectionInterrupted
await sleep(200);
sim.stop();
await sleep(500);
sim = await Sim.start({ name, instruments, rate: 500 });
await sleep(1500);
console.log(`connected=${client.health.connected} reconnects=${client.health.reconnects}`);
await client.close();
sim.stop();
