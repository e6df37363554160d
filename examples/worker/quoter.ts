/**
 * The strategy of `examples/worker_strategy.ts`, run in a Worker: connects
 * with `mode: "poll"` and `inline: true` (the engine runs inside `poll()` on
 * this thread), keeps one resting bid 5 ticks under the mid, tells the main
 * thread when it is acknowledged, and returns a summary when asked to stop.
 *
 * @module
 */

import { LiveClient, OrderStatus, runWorkerStrategy } from "../../mod.ts";

/** What the main thread passes. */
export interface QuoterParams {
  readonly connector: string;
  readonly symbol: string;
}

/** What the strategy returns at stop. */
export interface QuoterResult {
  readonly events: number;
  readonly trades: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly openOrders: number;
}

runWorkerStrategy<QuoterParams, QuoterResult>(async (ctx) => {
  await using client = await LiveClient.connect({
    instruments: [{
      connector: ctx.params.connector,
      symbol: ctx.params.symbol,
      tickSize: 0.1,
      lotSize: 0.001,
    }],
    mode: "poll",
    inline: true,
  });
  let events = 0, trades = 0, mid = NaN, orderId = 0, acked = false;
  while (!ctx.stopped) {
    for (const ev of client.poll(50)) {
      events++;
      if (ev.type === "trade") trades++;
      else if (ev.type === "bbo" && Number.isFinite(ev.bidPrice + ev.askPrice)) {
        mid = (ev.bidPrice + ev.askPrice) / 2;
      } else if (ev.type === "order" && ev.orderId === orderId && !acked) {
        if (ev.status === OrderStatus.New) {
          acked = true;
          ctx.post(`order ${orderId} acknowledged at ${ev.price.toFixed(1)}`);
        }
      }
    }
    if (orderId === 0 && Number.isFinite(mid)) {
      orderId = client.buy({ price: mid - 0.5, qty: 0.001 }).orderId;
    }
  }
  const h = client.health;
  // Closing (await using) cancels the resting order and waits for the answer.
  return {
    events,
    trades,
    p50Us: h.feedLatency.p50 / 1e3,
    p99Us: h.feedLatency.p99 / 1e3,
    openOrders: client.orders().length,
  };
});
