// StrategyWorker / runWorkerStrategy (worker.ts): a hot-loop strategy in a Worker connected to the
// in-process sim of the main thread, its messages, its result, its failures.
import assert from "node:assert/strict";
import { StrategyWorker } from "../mod.ts";
import { startSim } from "./helpers.ts";

const fixture = new URL("./fixtures/worker_strategy.ts", import.meta.url);

Deno.test("a worker strategy polls the sim in its Worker, posts, and returns its result on stop", async () => {
  await using sim = await startSim({ rate: 500 });
  const w = StrategyWorker.start<{ trades: number; polls: number }>(fixture, {
    mode: "count",
    connector: sim.name,
  });
  const reader = w.messages.getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  const m = first.value as { firstTrade: number; engineTs: boolean };
  assert.ok(m.firstTrade > 40_000 && m.firstTrade < 60_000, JSON.stringify(m));
  assert.equal(m.engineTs, true);
  // The main thread's event loop runs meanwhile.
  let ticks = 0;
  const t = setInterval(() => ticks++, 10);
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(t);
  assert.ok(ticks >= 10, `main thread ticked ${ticks} times`);
  const r = await w.stop();
  assert.ok(r.trades > 10 && r.polls > 1, JSON.stringify(r));
  assert.equal((await reader.read()).done, true, "messages end with the strategy");
  assert.deepEqual(await w.done, r);
});

Deno.test("a worker strategy that throws rejects done and stop with its message", async () => {
  const w = StrategyWorker.start(fixture, { mode: "throw" });
  await assert.rejects(w.done, /worker strategy failed: strategy exploded/);
  await assert.rejects(w.stop(), /strategy exploded/);
});

Deno.test("a worker strategy gets its parameters structured-cloned and stopped false", async () => {
  const w = StrategyWorker.start(fixture, { mode: "echo", extra: [1, 2] });
  assert.deepEqual(await w.done, { params: { mode: "echo", extra: [1, 2] }, stopped: false });
  assert.deepEqual(await w.stop(), { params: { mode: "echo", extra: [1, 2] }, stopped: false });
});
