/**
 * Async streams with several concurrent handlers: trades, best bid/offer,
 * order updates and errors, each consumed by its own `for await` loop.
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/async_streams.ts`
 *
 * @module
 */

import { isTerminalStatus, LiveClient, orderStatusName, Side, Sim } from "../mod.ts";

const SECONDS = Number(Deno.env.get("HFTLIVE_EXAMPLE_SECONDS") ?? 2);
await using sim = await Sim.start({
  name: `streams-${Deno.pid}`,
  instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
  rate: 1000,
});
await using client = await LiveClient.connect({
  instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
  ready: true,
});

const counts = { trades: 0, bbo: 0, orders: 0, errors: 0 };
const handlers = [
  (async () => {
    for await (const _ of client.trades) counts.trades++;
  })(),
  (async () => {
    for await (const _ of client.bookUpdates) counts.bbo++;
  })(),
  (async () => {
    for await (const o of client.orderUpdates) {
      counts.orders++;
      console.log(`order ${o.orderId} ${orderStatusName(o.status)}`);
    }
  })(),
  (async () => {
    for await (const e of client.errors) {
      counts.errors++;
      console.log(`error ${e.kind}: ${e.message}`);
    }
  })(),
];

const bbo = client.bbo(0);
const price = Number.isFinite(bbo?.bidPrice) ? bbo!.bidPrice - 1 : 49_000;
const order = await client.submitOrder({ side: Side.Buy, price, qty: 0.001 }, { wait: true });
await new Promise((r) => setTimeout(r, SECONDS * 1000));
// The market may have walked into the bid meanwhile: cancel only if still working.
const now = client.order(order.orderId);
if (now !== undefined && !isTerminalStatus(now.status)) {
  await client.cancelOrder(order.orderId, { wait: true });
}
await client.close(); // ends every stream: the handlers finish
await Promise.all(handlers);
console.log(
  `trades=${counts.trades} bbo=${counts.bbo} orders=${counts.orders} errors=${counts.errors}`,
);
