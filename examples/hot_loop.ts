/**
 * Hot-loop strategy (synchronous style): the strategy owns its thread and
 * calls `client.poll()` in a loop; with `inline: true` the engine runs inside
 * `poll()` too (no engine thread). Run it in a Worker, or as here in a process
 * whose only job is the strategy: `poll()` blocks the thread it runs on.
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/hot_loop.ts`
 *
 * @module
 */

import { LiveClient, OrderStatus, orderStatusName, Sim } from "../mod.ts";

const SECONDS = Number(Deno.env.get("HFTLIVE_EXAMPLE_SECONDS") ?? 2);
await using sim = await Sim.start({
  name: `hot-${Deno.pid}`,
  instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
  rate: 2000,
});
await using client = await LiveClient.connect({
  instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
  mode: "poll",
  inline: true,
});

let events = 0;
let mid = NaN;
let orderId = 0;
const end = Date.now() + SECONDS * 1000;
while (Date.now() < end) {
  for (const ev of client.poll(1)) {
    events++;
    if (ev.type === "bbo" && Number.isFinite(ev.bidPrice) && Number.isFinite(ev.askPrice)) {
      mid = (ev.bidPrice + ev.askPrice) / 2;
    } else if (ev.type === "order" && ev.orderId === orderId) {
      console.log(`order ${ev.orderId}: ${orderStatusName(ev.status)}`);
    }
  }
  // One resting bid 5 ticks under the mid, once the book is known.
  if (orderId === 0 && Number.isFinite(mid)) {
    orderId = client.buy({ price: mid - 0.5, qty: 0.001 }).orderId;
  }
}
if (orderId !== 0 && client.order(orderId)?.status === OrderStatus.New) client.cancelOrder(orderId);
for (let i = 0; i < 50 && client.orders().length > 0; i++) client.poll(10);
const h = client.health;
console.log(
  `${events} events in ${SECONDS} s, feed latency p50 ${
    (h.feedLatency.p50 / 1e3).toFixed(1)
  } µs, ` +
    `p99 ${(h.feedLatency.p99 / 1e3).toFixed(1)} µs`,
);
