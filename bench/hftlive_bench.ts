/**
 * hftlive's side of the benchmarks: one measurement per process, printed as one
 * JSON line on stdout (the runner `bench/run.ts` aggregates them).
 *
 * ```
 * deno run -A --v8-flags=--expose-gc bench/hftlive_bench.ts <bench> [key=value ...]
 *   latency-stream     for await on client.trades / depthUpdates   (bench/latency.ts: kind, rate,
 *   latency-callbacks  client.on("trade" | "depth")                 seconds, warmup, engineWait,
 *   latency-hot        poll() hot loop, inline engine               arrivals, burst, opts)
 *   latency-worker     the hot loop in a Worker (StrategyWorker)
 *   rtt-stream      await submit {wait:true}, cancel {wait:true}   (rate, orders)
 *   rtt-poll        submit, poll() until the ack; cancel, poll() until Canceled (rate, orders)
 *   tp-stream       for await on client.events at max sim rate     (seconds)
 *   tp-poll         poll() at max sim rate (inline=1: inline engine, else engine thread)
 *   tp-flood        decode/delivery ceiling: the core's test producer (a library built with the
 *                   fault-injection feature) fills the ring; mode=stream (for await) | poll
 *                   (inline=0|1); counts gaps in its numbered trades (seconds, warmup)
 *   mem-rate        RSS every second for `seconds` at `rate` (for await consumer)
 *   mem-cycles      RSS across `cycles` connect/close cycles
 *   record          feed latency with recording on and off in alternating phases, RSS, drops,
 *                   file size per million events (bench/record.ts: rate, seconds, phase,
 *                   compress)
 * ```
 *
 * Every bench runs against an in-process hftlive-sim configured exactly like the native
 * baseline's (`rust/hftlive/examples/native_baseline.rs`): one instrument, seed 7,
 * tick 0.1, lot 0.001. Latency = `hl_now()` in the handler − the event's `localTs`
 * (the sim's publish time), both CLOCK_REALTIME in ns (f64: 256 ns resolution).
 *
 * @module
 */

import { InstrumentState, LiveClient, OrderStatus } from "../mod.ts";
import {
  bench,
  cpuSeconds,
  emit,
  gc,
  instruments,
  mainThreadCpu,
  now,
  num,
  rssMiB,
  sleep,
  startSim,
  str,
} from "./common.ts";
import { stats } from "./hdr.ts";
import { latencyCallbacks, latencyHot, latencyStream, latencyWorker } from "./latency.ts";
import { recordBench } from "./record.ts";

async function rttStream(): Promise<void> {
  const rate = num("rate", 1000), orders = num("orders", 300);
  await using _sim = await startSim(rate, 0.5, 50);
  await using client = await LiveClient.connect({
    instruments,
    ready: true,
    wake: str("wake", "socket") as "socket",
  });
  await sleep(num("warmup", 0.5) * 1000);
  const sub: number[] = [], can: number[] = [];
  let bad = 0;
  for (let i = 0; i < orders; i++) {
    const t0 = now();
    const o = await client.buy({ price: 45_000, qty: 0.001 }, { wait: true });
    sub.push((now() - t0) / 1e3);
    if (o.status !== OrderStatus.New) bad++;
    const t1 = now();
    const c = await client.cancelOrder(o.orderId, { wait: true });
    can.push((now() - t1) / 1e3);
    if (c.status !== OrderStatus.Canceled) bad++;
    await sleep(1);
  }
  emit({ ...stats(sub), cancel: stats(can), bad, rate });
}

async function rttPoll(): Promise<void> {
  const rate = num("rate", 1000), orders = num("orders", 300);
  await using _sim = await startSim(rate, 0.5, 50);
  await using client = await LiveClient.connect({
    instruments,
    mode: "poll",
    inline: true,
    engineWait: str("engineWait", "adaptive") as "adaptive",
  });
  const pollFor = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end) client.poll(Math.max(0, end - performance.now()));
  };
  // Registration and warm-up.
  const warmEnd = performance.now() + 10_000;
  while (!client.health.connected && performance.now() < warmEnd) client.poll(10);
  pollFor(num("warmup", 0.5) * 1000);
  const until = (id: number, ok: (s: number) => boolean): boolean => {
    const end = performance.now() + 5000;
    while (performance.now() < end) {
      const evs = client.poll(100);
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i];
        if (ev.type === "order" && ev.orderId === id && ev.status !== OrderStatus.None) {
          return ok(ev.status);
        }
      }
    }
    return false;
  };
  const sub: number[] = [], can: number[] = [];
  let bad = 0;
  for (let i = 0; i < orders; i++) {
    const t0 = now();
    const o = client.buy({ price: 45_000, qty: 0.001 });
    if (!until(o.orderId, (s) => s === OrderStatus.New)) bad++;
    sub.push((now() - t0) / 1e3);
    const t1 = now();
    client.cancelOrder(o.orderId);
    if (!until(o.orderId, (s) => s === OrderStatus.Canceled)) bad++;
    can.push((now() - t1) / 1e3);
    pollFor(1);
  }
  emit({ ...stats(sub), cancel: stats(can), bad, rate });
}

/** Max-rate throughput; trade_ratio 1 so every sim market event is exactly one trade. */
async function throughput(kind: "stream" | "poll"): Promise<void> {
  const seconds = num("seconds", 3), warmup = num("warmup", 0.5);
  const inline = num("inline", 1) === 1;
  await using sim = await startSim(num("rate", 1e9), 1, 0);
  const client = await LiveClient.connect(
    kind === "stream"
      ? { instruments, ringCapacity: 1 << 16, streamCapacity: 1 << 20 }
      : { instruments, mode: "poll", inline, ringCapacity: 1 << 16 },
  );
  let events = 0, trades = 0;
  const t0 = performance.now();
  const warmEnd = t0 + warmup * 1000, end = warmEnd + seconds * 1000;
  let e0 = 0, tr0 = 0, w0 = 0, e1 = 0, tr1 = 0, w1 = 0, cpu0 = 0, cpu1 = 0, js0 = 0, js1 = 0;
  const mark = (): boolean => {
    const t = performance.now();
    if (w0 === 0 && t >= warmEnd) {
      (w0 = t, e0 = events, tr0 = trades, cpu0 = cpuSeconds(), js0 = mainThreadCpu());
    }
    if (w1 === 0 && t >= end) {
      (w1 = t, e1 = events, tr1 = trades, cpu1 = cpuSeconds(), js1 = mainThreadCpu());
      return true;
    }
    return false;
  };
  let produced = 0;
  if (kind === "stream") {
    const consumer = (async () => {
      for await (const ev of client.events) {
        events++;
        if (ev.type === "trade") trades++;
      }
    })();
    while (!mark()) await sleep(5);
    sim.pauseMarket(true);
    produced = sim.stats().marketEvents;
    const dl = performance.now() + 1000;
    while (trades < produced && performance.now() < dl) await sleep(5);
    produced = sim.stats().marketEvents;
    await client.close();
    await consumer;
  } else {
    let n = 0;
    for (;;) {
      const evs = client.poll(10);
      events += evs.length;
      for (let i = 0; i < evs.length; i++) if (evs[i].type === "trade") trades++;
      if ((++n & 15) === 0 && mark()) break;
    }
    sim.pauseMarket(true);
    produced = sim.stats().marketEvents;
    const dl = performance.now() + 1000;
    while (trades < produced && performance.now() < dl) {
      for (const ev of client.poll(10)) (events++, ev.type === "trade" && trades++);
    }
    produced = sim.stats().marketEvents;
  }
  const h = client.health;
  const win = (w1 - w0) / 1000;
  emit({
    mode: kind === "stream" ? "for-await" : inline ? "poll-inline" : "poll-thread",
    events_per_s: Math.round((e1 - e0) / win),
    trades_per_s: Math.round((tr1 - tr0) / win),
    produced,
    received: trades,
    lost: produced - trades,
    engineDrops: h.engineDrops,
    streamDrops: Object.values(h.streamDrops).reduce((a, b) => a + b, 0),
    cpu: Math.round((cpu1 - cpu0) / win * 1000) / 1000,
    // Main (JS) thread CPU per delivered event, and the rate that CPU cost would allow if the
    // JS thread had a core to itself (an estimate of the consumer's capacity, not a measurement).
    js_ns_per_event: Math.round((js1 - js0) * 1e9 / (e1 - e0)),
    js_capacity_per_s: Math.round((e1 - e0) / (js1 - js0)),
  });
  if (!client.closed) await client.close();
}

/**
 * Decode/delivery ceiling with a producer that is never the bottleneck: the core's test producer
 * (`injectFault("flood")`, a fault-injection build) fills the ring with trades numbered in their
 * price; `mode=stream`: `for await` over `client.trades`; `mode=poll`: `poll()` (inline=1: the
 * engine inline, else its own thread). Every trade's number is checked: `lost` = gaps + drops.
 */
async function flood(): Promise<void> {
  const seconds = num("seconds", 2), warmup = num("warmup", 0.3);
  const mode = str("mode", "stream");
  const inline = num("inline", 0) === 1;
  const client = await LiveClient.connect(
    mode === "stream"
      ? { instruments, streamCapacity: 1 << 20, ringCapacity: 1 << 16 }
      : { instruments, mode: "poll", inline, ringCapacity: 1 << 16 },
  );
  let next = 0, gaps = 0, events = 0;
  const t0 = performance.now();
  const warmEnd = t0 + warmup * 1000, end = warmEnd + seconds * 1000;
  let e0 = 0, w0 = 0, e1 = 0, w1 = 0, cpu0 = 0, cpu1 = 0, js0 = 0, js1 = 0;
  const mark = (): boolean => {
    const t = performance.now();
    if (w0 === 0 && t >= warmEnd) (w0 = t, e0 = events, cpu0 = cpuSeconds(), js0 = mainThreadCpu());
    if (w1 === 0 && t >= end) {
      (w1 = t, e1 = events, cpu1 = cpuSeconds(), js1 = mainThreadCpu());
      return true;
    }
    return false;
  };
  client.injectFault("flood");
  if (mode === "stream") {
    const consumer = (async () => {
      for await (const t of client.trades) {
        events++;
        if (t.price !== next) (gaps++, next = t.price);
        next++;
      }
    })();
    while (!mark()) await sleep(5);
    client.injectFault("floodStop");
    await sleep(100);
    await client.close();
    await consumer;
  } else {
    for (let n = 0;; n++) {
      const evs = client.poll(10);
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i];
        if (ev.type !== "trade") continue;
        events++;
        if (ev.price !== next) (gaps++, next = ev.price);
        next++;
      }
      if ((n & 15) === 0 && mark()) break;
    }
    client.injectFault("floodStop");
    for (let i = 0; i < 20; i++) events += client.poll(5).length;
  }
  const h = client.health;
  const pushed = mode === "stream" ? NaN : client.nativeStats().recordsPushed;
  const drops = h.engineDrops + Object.values(h.streamDrops).reduce((a, b) => a + b, 0);
  const win = (w1 - w0) / 1000;
  emit({
    mode: mode === "stream" ? "for-await" : inline ? "poll-inline" : "poll-thread",
    events_per_s: Math.round((e1 - e0) / win),
    received: events,
    gaps,
    drops,
    lost: gaps + drops,
    pushed,
    cpu: Math.round((cpu1 - cpu0) / win * 1000) / 1000,
    js_ns_per_event: Math.round((js1 - js0) * 1e9 / (e1 - e0)),
  });
  if (!client.closed) await client.close();
}

async function memRate(): Promise<void> {
  const rate = num("rate", 100_000), seconds = num("seconds", 60), warmup = num("warmup", 5);
  // mode=poll: a poll() loop on an engine thread instead (no nonblocking FFI calls).
  const poll = str("mode", "stream") === "poll";
  await using sim = await startSim(rate, 0.5, 50);
  await using client = await LiveClient.connect(
    poll ? { instruments, mode: "poll" } : { instruments },
  );
  let events = 0;
  const consumer = poll ? Promise.resolve() : (async () => {
    for await (const _ of client.events) events++;
  })();
  const wait = async (ms: number): Promise<void> => {
    if (!poll) return await sleep(ms);
    const end = performance.now() + ms;
    while (performance.now() < end) events += client.poll(10).length;
  };
  const samples: [number, number][] = [];
  const t0 = performance.now();
  await wait(warmup * 1000);
  const m0 = sim.stats().marketEvents, e0 = events;
  for (let i = 0; i <= seconds; i++) {
    samples.push([(performance.now() - t0) / 1000, rssMiB()]);
    if (i < seconds) await wait(1000);
  }
  const m1 = sim.stats().marketEvents, e1 = events;
  const rss = samples.map((s) => s[1]);
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s[0], 0) / n, my = rss.reduce((a, b) => a + b, 0) / n;
  const slope = samples.reduce((a, s) => a + (s[0] - mx) * (s[1] - my), 0) /
    samples.reduce((a, s) => a + (s[0] - mx) ** 2, 0);
  const h = client.health;
  await client.close();
  await consumer;
  const r = (x: number): number => Math.round(x * 100) / 100;
  emit({
    mode: poll ? "poll-thread" : "for-await",
    rate,
    seconds,
    sim_events_per_s: Math.round((m1 - m0) / seconds),
    js_events_per_s: Math.round((e1 - e0) / seconds),
    rss_first: r(rss[0]),
    rss_last: r(rss[n - 1]),
    rss_min: r(Math.min(...rss)),
    rss_max: r(Math.max(...rss)),
    rss_growth: r(rss[n - 1] - rss[0]),
    rss_range: r(Math.max(...rss) - Math.min(...rss)),
    slope_mib_per_min: r(slope * 60),
    drops: h.engineDrops + Object.values(h.streamDrops).reduce((a, b) => a + b, 0),
  });
}

async function memCycles(): Promise<void> {
  const cycles = num("cycles", 1000), warm = num("warm", 20);
  await using _sim = await startSim(num("rate", 1000), 0.5, 50);
  const sample = async (): Promise<number> => {
    gc();
    await sleep(50);
    gc();
    return rssMiB();
  };
  const heap = (): number => Math.round(Deno.memoryUsage().heapUsed / 2 ** 20 * 100) / 100;
  const rssStart = await sample();
  let heapWarm = 0;
  let rssWarm = 0;
  const t0 = performance.now();
  const marks: Record<string, number> = {};
  for (let i = 1; i <= cycles; i++) {
    if (str("mode", "stream") === "poll") {
      // Engine thread, poll() until registered: no nonblocking FFI call involved.
      const c = await LiveClient.connect({ instruments, mode: "poll" });
      const end = performance.now() + 5000;
      let reg = false;
      while (!reg && performance.now() < end) {
        for (const ev of c.poll(10)) {
          if (ev.type === "instrument" && ev.state === InstrumentState.Registered) reg = true;
        }
      }
      await c.close();
    } else {
      const c = await LiveClient.connect({ instruments, ready: 5000 });
      await c.close();
    }
    if (i === warm) (rssWarm = await sample(), heapWarm = heap());
    if (i % Math.max(1, Math.floor(cycles / 4)) === 0) {
      marks[i] = Math.round(await sample() * 100) / 100;
    }
  }
  const ms = (performance.now() - t0) / cycles;
  const rssEnd = await sample();
  const r = (x: number): number => Math.round(x * 100) / 100;
  emit({
    mode: str("mode", "stream"),
    cycles,
    ms_per_cycle: r(ms),
    rss_start: r(rssStart),
    rss_after_warm: r(rssWarm),
    rss_end: r(rssEnd),
    rss_growth: r(rssEnd - rssWarm),
    heap_after_warm: heapWarm,
    heap_end: heap(),
    external_end: Math.round(Deno.memoryUsage().external / 2 ** 20 * 100) / 100,
    marks,
  });
}

switch (bench) {
  case "latency-hot":
    await latencyHot();
    break;
  case "latency-stream":
    await latencyStream();
    break;
  case "latency-callbacks":
    await latencyCallbacks();
    break;
  case "latency-worker":
    await latencyWorker();
    break;
  case "tp-flood":
    await flood();
    break;
  case "rtt-stream":
    await rttStream();
    break;
  case "rtt-poll":
    await rttPoll();
    break;
  case "tp-stream":
    await throughput("stream");
    break;
  case "tp-poll":
    await throughput("poll");
    break;
  case "mem-rate":
    await memRate();
    break;
  case "mem-cycles":
    await memCycles();
    break;
  case "record":
    await recordBench();
    break;
  default:
    console.error(`unknown bench ${bench}`);
    Deno.exit(2);
}
