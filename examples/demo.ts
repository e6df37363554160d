/**
 * `deno task demo`: starts the embedded paper exchange, connects a client,
 * prints live trades, best bid/offer and health for ~3 s, then submits an
 * order, shows its acknowledgement and its fill or cancel, and exits 0.
 *
 * With `--monitor` it also serves the live monitoring page (`client.monitor()`)
 * and prints its URL, token included; `--monitor=SECONDS` keeps the page up
 * that long after the orders (default 30; Ctrl-C stops it earlier).
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/demo.ts`
 * (`deno task demo --monitor`)
 *
 * @module
 */

import {
  LiveClient,
  type LiveEvent,
  type Order,
  OrderStatus,
  orderStatusName,
  Side,
  Sim,
} from "../mod.ts";

const SECONDS = Number(Deno.env.get("HFTLIVE_EXAMPLE_SECONDS") ?? 3);
const TICK = 0.1;
const LOT = 0.001;
const name = `demo-${Deno.pid}`;
const monitorArg = Deno.args.find((a) => a === "--monitor" || a.startsWith("--monitor="));
const LINGER = monitorArg?.includes("=") ? Number(monitorArg.split("=")[1]) : 30;

/** Decimal places of a tick or lot size (0.1 → 1, 0.001 → 3, 0.25 → 2, 1e-8 → 8). */
function decimals(step: number): number {
  const [mantissa, exp] = step.toExponential().split("e");
  const frac = mantissa.split(".")[1]?.length ?? 0;
  return Math.max(0, frac - Number(exp));
}
const us = (ns: number): string => Number.isFinite(ns) ? `${(ns / 1e3).toFixed(0)} µs` : "–";
/** A price on the tick grid, without float noise. */
const px = (p: number): string => Number.isFinite(p) ? p.toFixed(decimals(TICK)) : "–";
/** A quantity on the lot grid, without float noise (0.026000000000000002 → "0.026"). */
const qty = (q: number): string => Number.isFinite(q) ? q.toFixed(decimals(LOT)) : "–";

function describe(o: Order): string {
  const fill = o.execQty > 0 ? `, last fill ${qty(o.execQty)} @ ${px(o.execPrice)}` : "";
  return `order ${o.orderId} ${o.side === Side.Buy ? "buy" : "sell"} ${qty(o.qty)} @ ${
    px(o.price)
  }: ${orderStatusName(o.status)} (leaves ${qty(o.leavesQty)}${fill})`;
}

await using sim = await Sim.start({
  name,
  instruments: [{ symbol: "btcusdt", tickSize: TICK, lotSize: LOT, startPrice: 50_000 }],
  rate: 200,
  seed: 7,
});
console.log(`paper exchange "${sim.name}" started`);

await using client = await LiveClient.connect({
  instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  ready: 10_000,
});
console.log("client connected, btcusdt registered");

// The live monitoring page (read-only, 127.0.0.1, the token is in the URL).
await using monitor = monitorArg ? await client.monitor() : undefined;
if (monitor) console.log(`monitor ${monitor.url}`);

client.on("disconnect", (e) => console.log(`!! connector ${e.name} went away`));
client.on("error", (e) => console.log(`!! error (kind ${e.kind}, code ${e.code}): ${e.message}`));

// Market data for a few seconds: trades and best bid/offer from two streams,
// health once a second.
const until = Date.now() + SECONDS * 1000;
const stop = AbortSignal.timeout(SECONDS * 1000);
let trades = 0;
let bbos = 0;
const printTrades = (async () => {
  for await (const t of client.trades.pipeThrough(new TransformStream(), { signal: stop })) {
    if (trades++ % 20 === 0) {
      console.log(
        `trade  ${t.side === Side.Buy ? "buy " : "sell"} ${qty(t.qty)} @ ${px(t.price)}`,
      );
    }
  }
})().catch(() => {});
const printBbo = (async () => {
  for await (const b of client.bookUpdates.pipeThrough(new TransformStream(), { signal: stop })) {
    if (bbos++ % 40 === 0) {
      console.log(
        `bbo    ${px(b.bidPrice)} x ${qty(b.bidQty)} | ${px(b.askPrice)} x ${qty(b.askQty)}`,
      );
    }
  }
})().catch(() => {});
while (Date.now() < until) {
  await new Promise((r) => setTimeout(r, 1000));
  const h = client.health;
  console.log(
    `health connected=${h.connected} events/s=${h.eventsPerSecond} feed p50=${
      us(h.feedLatency.p50)
    } p99=${us(h.feedLatency.p99)} drops=${h.engineDrops}`,
  );
}
await Promise.all([printTrades, printBbo]);
console.log(`${trades} trades, ${bbos} best bid/offer changes`);

// An order: a buy just below the best bid (rests), then one through the ask (fills).
const book = client.depth(0, 5);
console.log(
  `book   bids ${book.bids.map((l) => px(l.price)).join(" ")} | asks ${
    book.asks.map((l) => px(l.price)).join(" ")
  }`,
);
const bbo = client.bbo(0);
const bid = Number.isFinite(bbo?.bidPrice) ? bbo!.bidPrice : 50_000;
const ask = Number.isFinite(bbo?.askPrice) ? bbo!.askPrice : bid + TICK;

const updates: LiveEvent[] = [];
client.on("order", (u) => updates.push(u));

const resting = await client.submitOrder(
  { side: Side.Buy, price: bid - 10 * TICK, qty: LOT },
  { wait: true, timeoutMs: 5000 },
);
console.log(`ack    ${describe(resting)}`);
if (resting.status === OrderStatus.New || resting.status === OrderStatus.PartiallyFilled) {
  const canceled = await client.cancelOrder(resting.orderId, { wait: true, timeoutMs: 5000 });
  console.log(`cancel ${describe(canceled)}`);
}

const taking = await client.submitOrder(
  { side: Side.Buy, price: ask + 10 * TICK, qty: 2 * LOT },
  { wait: true, timeoutMs: 5000 },
);
console.log(`ack    ${describe(taking)}`);
const deadline = Date.now() + 3000;
while (client.order(taking.orderId)?.status !== OrderStatus.Filled && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
const final = client.order(taking.orderId)!;
console.log(`final  ${describe(final)}`);
if (final.status !== OrderStatus.Filled && final.status !== OrderStatus.Canceled) {
  const c = await client.cancelOrder(final.orderId, { wait: true, timeoutMs: 5000 });
  console.log(`cancel ${describe(c)}`);
}
console.log(`position ${qty(client.position(0).qty)}`);
const h = client.health;
console.log(
  `order round trip p50 ${us(h.orderLatency.p50)} (request→exchange ${
    us(h.orderRequestToExchange.p50)
  }, exchange→JS ${us(h.orderExchangeToResponse.p50)}), ${updates.length} order updates`,
);
if (monitor) {
  console.log(`monitor stays up for ${LINGER} s (Ctrl-C to stop): ${monitor.url}`);
  await new Promise((r) => setTimeout(r, LINGER * 1000));
  const s = monitor.stats;
  console.log(
    `monitor ${s.updates} updates, ${s.refused} refused requests, ${
      (s.busyMs / Math.max(1, s.updates)).toFixed(2)
    } ms per update`,
  );
}
console.log("done");
