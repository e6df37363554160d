/**
 * A hot-loop strategy in a Worker: the main thread starts the paper exchange
 * and the strategy module (`worker/quoter.ts`) in a `Worker`, which connects
 * there with `mode: "poll"` (engine inline) and owns that thread. The main
 * thread's event loop stays free; it hears from the strategy only when it
 * posts (here: its order's acknowledgement) and gets its result at `stop()`.
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/worker_strategy.ts`
 *
 * @module
 */

import { Sim, StrategyWorker } from "../mod.ts";
import type { QuoterParams, QuoterResult } from "./worker/quoter.ts";

const SECONDS = Number(Deno.env.get("HFTLIVE_EXAMPLE_SECONDS") ?? 2);
await using sim = await Sim.start({
  name: `worker-${Deno.pid}`,
  instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
  rate: 1000,
});

const params: QuoterParams = { connector: sim.name, symbol: "btcusdt" };
const strategy = StrategyWorker.start<QuoterResult>(
  new URL("./worker/quoter.ts", import.meta.url),
  params,
);
strategy.onMessage((m) => console.log(`strategy: ${m}`));

// The main thread is free meanwhile: timers, I/O, a UI, other clients.
let ticks = 0;
const timer = setInterval(() => ticks++, 100);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
clearInterval(timer);

const r = await strategy.stop();
console.log(`main thread ran ${ticks} timer ticks while the strategy polled`);
console.log(
  `${r.events} events, ${r.trades} trades in the worker; feed latency p50 ${
    r.p50Us.toFixed(1)
  } µs, p99 ${r.p99Us.toFixed(1)} µs; open orders at exit ${r.openOrders}`,
);
