/**
 * The Worker side of `latency-worker` (`bench/latency.ts`): a hot loop (`poll()`, engine inline)
 * in this Worker, recording feed latency and its stages; returns the summary to the main thread.
 *
 * @module
 */

import { LiveClient, runWorkerStrategy } from "../mod.ts";
import { LatencyRecorder } from "./hdr.ts";
import { pollUntilRegistered, sampler } from "./latency.ts";
import { cpuSeconds, now } from "./common.ts";

interface Params {
  name: string;
  kind: "trade" | "depth";
  seconds: number;
  warmup: number;
  engineWait: string;
  opts: Record<string, unknown>;
}

function threadCpu(): number {
  const tid = Deno.readLinkSync("/proc/thread-self").split("/").pop();
  const f = Deno.readTextFileSync(`/proc/self/task/${tid}/stat`);
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(x[11]) + Number(x[12])) / 100;
}

runWorkerStrategy<Params, Record<string, unknown>>(async (ctx) => {
  const p = ctx.params;
  await using client = await LiveClient.connect({
    instruments: [{ connector: p.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
    mode: "poll",
    inline: true,
    engineWait: p.engineWait as "adaptive",
    ...p.opts,
  });
  pollUntilRegistered(client);
  const rec = new LatencyRecorder();
  const take = sampler(p.kind);
  const t = performance.now();
  const warmEnd = t + p.warmup * 1000, end = warmEnd + p.seconds * 1000;
  let cpu0 = -1, pcpu0 = 0, t0 = 0;
  while (!ctx.stopped) {
    const evs = client.poll(100);
    const tt = performance.now();
    if (tt >= end) break;
    if (tt < warmEnd) continue;
    if (cpu0 < 0) (cpu0 = threadCpu(), pcpu0 = cpuSeconds(), t0 = tt);
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i];
      if (take(ev)) rec.add(now(), ev);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = (threadCpu() - cpu0) / secs, pcpu = (cpuSeconds() - pcpu0) / secs;
  const h = client.health;
  return {
    ...rec.json(),
    cpu: Math.round(pcpu * 1e3) / 1e3,
    cpu_worker_thread: Math.round(cpu * 1e3) / 1e3,
    drops: h.engineDrops + Object.values(h.streamDrops).reduce((a, b) => a + b, 0),
  };
});
