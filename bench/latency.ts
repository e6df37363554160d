/**
 * Feed latency of hftlive from TypeScript, four ways of consuming it, each against its own
 * in-process sim (`bench/common.ts`): latency = the handler's `hl_now()` − the event's `localTs`
 * (the sim's publish time), plus its stages (`bench/hdr.ts`), in HDR histograms.
 *
 * - `latency-stream`: `for await` over `client.trades` / `client.depthUpdates` (the doorbell
 *   by default; `wake=wait` for the native wait);
 * - `latency-callbacks`: `client.on("trade" | "depth")`;
 * - `latency-hot`: `poll()` in the main thread, engine inline;
 * - `latency-worker`: the same hot loop in a Worker (`StrategyWorker`, `bench/latency_worker.ts`).
 *
 * Arguments: `kind=trade|depth` (trades: sim trade_ratio 1, every trade; depth: trade_ratio 0,
 * one sample per depth message, its first depth update), `rate`, `seconds`, `warmup`,
 * `engineWait`, `arrivals`, `burst`, `opts=<JSON of more connect options>`; `inline=0` (hot loop:
 * the engine on its own thread), `keepWarmMs=N` (stream, callbacks: the connect option keepWarmMs, an empty timer every N
 * ms, an experiment on how much an idle JavaScript thread costs); `monitor=1` (stream, callbacks:
 * the monitoring page runs, `monitorMs` apart (default 250), with one viewer: an `EventSource`
 * on its event stream in another Deno process; the JSON line then has the monitor's cost).
 *
 * @module
 */

import { InstrumentState, LiveClient, type LiveEvent, StrategyWorker } from "../mod.ts";
import {
  cpuSeconds,
  emit,
  extraOptions,
  instruments,
  name,
  now,
  num,
  sleep,
  startSim,
  str,
} from "./common.ts";
import { LatencyRecorder, type Stamped } from "./hdr.ts";

type Kind = "trade" | "depth";

/**
 * Which events are samples: every trade, or the first depth update of each depth message (the
 * updates of one message share `localTs`; snapshots and clears are not samples).
 */
export function sampler(kind: Kind): (ev: LiveEvent) => ev is LiveEvent & Stamped {
  if (kind === "trade") return (ev): ev is LiveEvent & Stamped => ev.type === "trade";
  let last = 0;
  return (ev): ev is LiveEvent & Stamped => {
    if (ev.type !== "depth" || ev.snapshot || ev.exchTs <= 0 || ev.localTs === last) return false;
    last = ev.localTs;
    return true;
  };
}

const kind = (): Kind => str("kind", "trade") as Kind;
const rate = (): number => num("rate", 1000);

function sim(): ReturnType<typeof startSim> {
  return startSim(rate(), kind() === "depth" ? 0 : 1, num("poll_us", 50));
}

/** The measurement window: warm-up, then `seconds`; CPU over the window. */
class Window {
  readonly #warmEnd: number;
  readonly #end: number;
  #cpu0 = -1;
  #t0 = 0;
  constructor() {
    const t = performance.now();
    this.#warmEnd = t + num("warmup", 0.5) * 1000;
    this.#end = this.#warmEnd + num("seconds", 5) * 1000;
  }
  /** 0: warming up, 1: measuring, 2: over. */
  at(t = performance.now()): 0 | 1 | 2 {
    if (t >= this.#end) return 2;
    if (t < this.#warmEnd) return 0;
    if (this.#cpu0 < 0) (this.#cpu0 = cpuSeconds(), this.#t0 = t);
    return 1;
  }
  get msLeft(): number {
    return Math.max(0, this.#end - performance.now());
  }
  cpu(): number {
    if (this.#cpu0 < 0) return NaN;
    return Math.round((cpuSeconds() - this.#cpu0) / ((performance.now() - this.#t0) / 1000) * 1e3) /
      1e3;
  }
}

/**
 * With `monitor=1`: the client's monitoring page and one viewer of it (an `EventSource` in
 * another Deno process, as a browser would be); returns what to add to the report, after
 * stopping the viewer. Without: nothing.
 */
async function viewer(client: LiveClient): Promise<() => Promise<Record<string, unknown>>> {
  if (num("monitor", 0) !== 1) return () => Promise.resolve({});
  const m = await client.monitor({ intervalMs: num("monitorMs", 250) });
  // A browser-like viewer: EventSource (it reconnects when the monitor rotates its stream).
  const js = `const es = new EventSource(${JSON.stringify(m.url.replace("/?", "/events?"))});
    es.onmessage = (e) => JSON.parse(e.data);`;
  const viewerProc = new Deno.Command(Deno.execPath(), {
    args: ["eval", js],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const end = performance.now() + 5000;
  while (m.stats.viewers === 0 && performance.now() < end) await sleep(20);
  const t0 = performance.now();
  const s0 = m.stats;
  return async () => {
    const s = m.stats;
    const sec = (performance.now() - t0) / 1000;
    viewerProc.kill("SIGKILL");
    await viewerProc.status;
    await m.close();
    const updates = s.updates - s0.updates;
    return {
      monitor: 1,
      monitor_viewers: s0.viewers,
      monitor_updates_per_s: Math.round(updates / sec * 10) / 10,
      monitor_busy_ms_per_s: Math.round((s.busyMs - s0.busyMs) / sec * 1000) / 1000,
      monitor_ms_per_update: Math.round((s.busyMs - s0.busyMs) / Math.max(1, updates) * 1000) /
        1000,
      monitor_update_bytes: s.lastUpdateBytes,
      monitor_page_bytes: s.pageBytes,
      monitor_skipped: s.skipped - s0.skipped,
    };
  };
}

function report(rec: LatencyRecorder, w: Window, client: LiveClient, extra = {}): void {
  const h = client.health;
  emit({
    ...rec.json(),
    cpu: w.cpu(),
    rate: rate(),
    kind: kind(),
    expected: rate() * num("seconds", 5),
    drops: h.engineDrops + Object.values(h.streamDrops).reduce((a, b) => a + b, 0),
    ...extra,
  });
}

function streamOptions(): Parameters<typeof LiveClient.connect>[0] {
  return {
    instruments,
    ready: true,
    engineWait: str("engineWait", "adaptive") as "adaptive",
    wake: str("wake", "socket") as "socket",
    keepWarmMs: num("keepWarmMs", 0),
    ...extraOptions(),
  };
}

/** `for await` over the trades or depth updates stream. */
export async function latencyStream(): Promise<void> {
  await using _sim = await sim();
  await using client = await LiveClient.connect(streamOptions());
  const stopViewer = await viewer(client);
  const rec = new LatencyRecorder();
  const take = sampler(kind());
  const w = new Window();
  const stream = kind() === "trade" ? client.trades : client.depthUpdates;
  for await (const ev of stream as AsyncIterable<LiveEvent>) {
    const t = now();
    const phase = w.at();
    if (phase === 2) break;
    if (take(ev) && phase === 1) rec.add(t, ev);
  }
  const mon = await stopViewer();
  report(rec, w, client, { wake: str("wake", "socket"), ...mon });
}

/** `client.on("trade" | "depth", handler)`. */
export async function latencyCallbacks(): Promise<void> {
  await using _sim = await sim();
  await using client = await LiveClient.connect(streamOptions());
  const stopViewer = await viewer(client);
  const rec = new LatencyRecorder();
  const take = sampler(kind());
  const w = new Window();
  const handler = (ev: LiveEvent): void => {
    const t = now();
    if (take(ev) && w.at() === 1) rec.add(t, ev);
  };
  if (kind() === "trade") client.on("trade", handler);
  else client.on("depth", handler);
  while (w.at() !== 2) await sleep(Math.min(100, w.msLeft + 1));
  report(rec, w, client, await stopViewer());
}

/** Polls an inline poll-mode client until its instrument is registered. */
export function pollUntilRegistered(client: LiveClient): void {
  const end = performance.now() + 10_000;
  for (;;) {
    if (performance.now() > end) throw new Error("not registered within 10 s");
    for (const ev of client.poll(10)) {
      if (ev.type === "instrument" && ev.state === InstrumentState.Registered) return;
    }
  }
}

/** The hot loop in the main thread: `poll()` with the engine inline (`inline=0`: its thread). */
export async function latencyHot(): Promise<void> {
  await using _sim = await sim();
  await using client = await LiveClient.connect({
    instruments,
    mode: "poll",
    inline: num("inline", 1) === 1,
    engineWait: str("engineWait", "adaptive") as "adaptive",
    ...extraOptions(),
  });
  pollUntilRegistered(client);
  const rec = new LatencyRecorder();
  const take = sampler(kind());
  const w = new Window();
  for (;;) {
    const evs = client.poll(100);
    const phase = w.at();
    if (phase === 2) break;
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i];
      if (take(ev) && phase === 1) rec.add(now(), ev);
    }
  }
  report(rec, w, client);
}

/** The hot loop in a Worker (`bench/latency_worker.ts`); the main thread waits. */
export async function latencyWorker(): Promise<void> {
  await using _sim = await sim();
  const w = StrategyWorker.start<Record<string, unknown>>(
    new URL("./latency_worker.ts", import.meta.url),
    {
      name,
      kind: kind(),
      seconds: num("seconds", 5),
      warmup: num("warmup", 0.5),
      engineWait: str("engineWait", "adaptive"),
      opts: extraOptions(),
    },
  );
  const r = await w.done;
  emit({
    ...r,
    rate: rate(),
    kind: kind(),
    expected: rate() * num("seconds", 5),
  });
}
