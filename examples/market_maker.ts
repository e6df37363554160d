/**
 * A small market maker: quotes one bid and one ask around the mid, `SPREAD`
 * ticks apart, re-quotes when the mid moves, and stops quoting the side that
 * would grow the inventory beyond `MAX_POSITION`.
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/market_maker.ts`
 *
 * @module
 */

import { LiveClient, OrderStatus, Side, Sim, TimeInForce } from "../mod.ts";

const SECONDS = Number(Deno.env.get("HFTLIVE_EXAMPLE_SECONDS") ?? 3);
const TICK = 0.1;
const LOT = 0.001;
const SPREAD = 2; // ticks from the mid
const MAX_POSITION = 0.005;

await using sim = await Sim.start({
  name: `mm-${Deno.pid}`,
  instruments: [{ symbol: "btcusdt", tickSize: TICK, lotSize: LOT, startPrice: 50_000 }],
  rate: 1000,
});
await using client = await LiveClient.connect({
  instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  ready: true,
  rateLimit: { rate: 50, burst: 20 },
});

const quotes: Record<number, number> = { [Side.Buy]: 0, [Side.Sell]: 0 };
let fills = 0;
let maxInventory = 0;
client.on("fill", (f) => {
  fills++;
  console.log(
    `fill ${f.side === Side.Buy ? "buy" : "sell"} ${f.qty.toFixed(3)} @ ${f.price.toFixed(1)}`,
  );
});
client.on("position", (p) => {
  maxInventory = Math.max(maxInventory, Math.abs(p.qty));
});

function quote(side: Side, price: number): void {
  const current = quotes[side] ? client.order(quotes[side]) : undefined;
  const live = current !== undefined &&
    (current.status === OrderStatus.New || current.status === OrderStatus.PartiallyFilled);
  if (live && Math.abs(current.price - price) < TICK / 2) return;
  if (live && current.req === OrderStatus.None) {
    try {
      client.cancelOrder(current.orderId);
    } catch { /* raced with a fill, or rate limited: next tick */ }
    return;
  }
  if (live || (current !== undefined && current.status === OrderStatus.None)) return;
  const pos = client.position(0).qty;
  if (side === Side.Buy ? pos >= MAX_POSITION : pos <= -MAX_POSITION) return;
  try {
    quotes[side] = client.submitOrder({ side, price, qty: LOT, timeInForce: TimeInForce.GTX })
      .orderId;
  } catch (e) {
    if (!(e instanceof Error && e.name === "RateLimitedError")) throw e;
  }
}

const stop = Date.now() + SECONDS * 1000;
for await (const bbo of client.bookUpdates) {
  if (Date.now() > stop) break;
  if (!Number.isFinite(bbo.bidPrice) || !Number.isFinite(bbo.askPrice)) continue;
  const mid = (bbo.bidPrice + bbo.askPrice) / 2;
  quote(Side.Buy, Math.floor(mid / TICK - SPREAD) * TICK);
  quote(Side.Sell, Math.ceil(mid / TICK + SPREAD) * TICK);
}
await client.cancelAll(undefined, { wait: true, timeoutMs: 3000 }).catch(() => {});
const position = client.position(0).qty;
console.log(`${fills} fills, position ${position.toFixed(3)}`);
console.log(
  `max inventory ${maxInventory.toFixed(3)} (limit ${MAX_POSITION.toFixed(3)}): ${
    maxInventory <= MAX_POSITION + LOT / 2 ? "within limit" : "LIMIT EXCEEDED"
  }`,
);
