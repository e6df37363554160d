/**
 * The cost of recording (`client.record`): the sim at `rate` market events/s for `seconds`,
 * a `client.on("trade")` handler measuring feed latency (`hl_now()` − the trade's `localTs`),
 * with recording switched on and off every `phase` seconds in the same run (off first), so
 * both latency distributions come from the same process, sim and machine state. Reports p50 /
 * p99 of each, RSS every second, events written and dropped, and the size of the files per
 * million events (`compress=1`: deflated). `start=on` records first; with `phase` >= `seconds`
 * one recording runs the whole time (RSS while recording).
 *
 * @module
 */

import { LiveClient, type Recorder, type Trade } from "../mod.ts";
import { emit, instruments, now, num, rssMiB, sleep, startSim, str } from "./common.ts";
import { stats } from "./hdr.ts";

export async function recordBench(): Promise<void> {
  const rate = num("rate", 100_000), seconds = num("seconds", 60), phase = num("phase", 5);
  const warmup = num("warmup", 3), compress = num("compress", 0) === 1;
  // start=on: the first phase records (with phase >= seconds: one recording for the whole run).
  const first = str("start", "off") === "on" ? "on" : "off";
  const second = first === "on" ? "off" : "on";
  await using sim = await startSim(rate, 0.5, 50);
  await using client = await LiveClient.connect({ instruments, ready: true });
  const dir = await Deno.makeTempDir({ prefix: "hftlive-bench-record-" });
  // Samples in one array allocated up front (RSS is measured), phase by phase.
  const cap = Math.ceil(seconds * rate * 0.6);
  const samples = new Float64Array(cap).fill(-1); // touched now, not while measuring RSS
  let n = 0;
  const phases: { state: "off" | "on"; from: number; to: number }[] = [];
  let state: "warm" | "off" | "on" = "warm";
  client.on("trade", (t: Trade) => {
    if (state !== "warm" && n < cap) samples[n++] = (now() - t.localTs) / 1e3;
  });
  await sleep(warmup * 1000);
  const rss: number[] = [];
  const totals = { written: 0, dropped: 0, files: 0, bytes: 0 };
  const m0 = sim.stats().marketEvents;
  let rec: Recorder | undefined;
  /** Stops the running recording and adds its results to the totals. */
  const stopRecording = async (r: Recorder): Promise<void> => {
    const { stats: st, files } = await r.stop();
    totals.written += st.eventsWritten;
    totals.dropped += st.dropped;
    totals.files += files.length;
    totals.bytes += st.bytesClosed;
  };
  for (let s = 0; s < seconds; s++) {
    if (s % phase === 0) {
      if (rec) await stopRecording(rec);
      rec = undefined;
      if (phases.length > 0) phases[phases.length - 1].to = n;
      state = (s / phase) % 2 === 0 ? first : second;
      phases.push({ state, from: n, to: n });
      if (state === "on") rec = client.record(dir, { compress });
    }
    await sleep(1000);
    rss.push(Math.round(rssMiB() * 10) / 10);
  }
  state = "warm";
  phases[phases.length - 1].to = n;
  if (rec) await stopRecording(rec);
  const m1 = sim.stats().marketEvents;
  const pick = (st: "off" | "on"): number[] =>
    phases.filter((p) => p.state === st).flatMap((p) => Array.from(samples.subarray(p.from, p.to)));
  const h = client.health;
  await Deno.remove(dir, { recursive: true });
  emit({
    rate,
    seconds,
    phase,
    compress,
    sim_events_per_s: Math.round((m1 - m0) / seconds),
    latency_off: stats(pick("off")),
    latency_on: stats(pick("on")),
    // p50 / p99 of each phase, in order (off, on, off, ...): the spread of the noise.
    phases: phases.map((p) => {
      const s = stats(Array.from(samples.subarray(p.from, p.to)));
      return `${p.state} ${s.p50}/${s.p99}`;
    }),
    rss,
    rss_first: rss[0],
    rss_last: rss[rss.length - 1],
    rss_min: Math.min(...rss),
    rss_max: Math.max(...rss),
    events_written: totals.written,
    events_dropped: totals.dropped,
    files: totals.files,
    bytes: totals.bytes,
    bytes_per_million_events: Math.round(totals.bytes / totals.written * 1e6),
    client_drops: h.engineDrops + Object.values(h.streamDrops).reduce((a, b) => a + b, 0),
  });
}
