/**
 * Recovering orders a strategy left resting: the first client rests three
 * orders and goes away without cancelling them (`cancelOnExit: false`, as a
 * crashed or killed process would leave them). A new client on the same
 * connector adopts them from the connector's registration answer, lists them
 * with `orders()`, and cancels them with `cancelAll()` — the recovery to run
 * after any failure (`adoptOrders` is on by default).
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/recover_orders.ts`
 *
 * @module
 */

import { formatOrder, LiveClient, Sim } from "../mod.ts";

await using sim = await Sim.start({
  name: `recover-${Deno.pid}`,
  instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
  rate: 100,
});
const instruments = [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }];

// A strategy that rests orders and dies without cancelling them.
const first = await LiveClient.connect({ instruments, ready: true, cancelOnExit: false });
for (let i = 0; i < 3; i++) await first.buy({ price: 49_000 - i, qty: 0.001 }, { wait: true });
await first.close();
console.log(`left resting: ${first.orders().length} orders`);

// Recovery: a new client sees them, then cancels them.
await using client = await LiveClient.connect({ instruments, ready: true });
for (const o of client.orders()) console.log(`found   ${formatOrder(o)}`);
const finals = await client.cancelAll(undefined, { wait: true, timeoutMs: 5_000 });
for (const o of finals) console.log(`cleaned ${formatOrder(o)}`);
console.log(
  `resting now: ${client.orders().length} (health: ${client.health.requests.adopted} adopted)`,
);
