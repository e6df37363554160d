/**
 * Benchmark runner: runs the native baselines (`rust/hftlive/examples/native_baseline.rs`:
 * hftbacktest's `LiveBot`, and hftlive's engine driven from Rust) and hftlive from TypeScript
 * (`bench/hftlive_bench.ts`) side by side, each measurement in its own process against its own
 * in-process sim configured the same way, interleaved over rounds, and prints a markdown report
 * (`bench/report.ts`): HDR percentiles, medians with [min–max] over rounds, the load average of
 * every measurement, the comparison with the best native consumer at each rate, the per-stage
 * breakdown, throughput with a producer that is not the bottleneck, memory.
 *
 * ```
 * bash bench/run.sh [--quick] [--rounds N] [--lat-scale X] [--mem-long] [--out FILE.md]
 * ```
 *
 * Options: `--rounds N` (quick 2, else 3), `--lat-scale X` (multiplies every latency duration),
 * `--orders N`, `--tp-seconds S`, `--mem-seconds S` (`--mem-long`: 300 s and 1,000 cycles),
 * `--mem-rate R`, `--cycles N`, `--only lat|mon|rtt|tp|flood|mem|record` (repeatable; `mon`:
 * stream latency with and without the monitoring page open), `--out FILE.md`
 * (also writes FILE.raw.json). Run through `bench/run.sh`: it builds (also the fault-injection
 * library the flood cases load, `HFTLIVE_FLOOD_LIB`) and sets HFTBACKTEST_CHANNEL_CONFIG.
 *
 * @module
 */

import { type BenchConfig, type Case, report, type Result } from "./report.ts";

const argv = Deno.args;
const flag = (k: string): boolean => argv.includes(k);
const opt = (k: string, d: number): number => {
  const i = argv.indexOf(k);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const optS = (k: string): string | undefined => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = new Set(argv.flatMap((a, i) => (a === "--only" ? [argv[i + 1]] : [])));
const part = (p: string): boolean => only.size === 0 || only.has(p);

const QUICK = flag("--quick");
const MEM_LONG = flag("--mem-long");
const cfg: BenchConfig = {
  quick: QUICK,
  rounds: opt("--rounds", QUICK ? 2 : 3),
  orders: opt("--orders", QUICK ? 50 : 300),
  tpSeconds: opt("--tp-seconds", QUICK ? 0.7 : 2),
  ladder: QUICK ? [100_000] : [50_000, 100_000, 150_000, 200_000],
  memSeconds: opt("--mem-seconds", MEM_LONG ? 300 : QUICK ? 8 : 60),
  memRate: opt("--mem-rate", 100_000),
  cycles: opt("--cycles", MEM_LONG ? 1000 : QUICK ? 150 : 1000),
  rttRate: 1_000,
  argv,
};
const LAT_SCALE = opt("--lat-scale", 1);

/**
 * Latency workloads: kind, rate, seconds, and which consumers run. Quick: trades at 50 and
 * 1,000/s with every consumer, at 20 and 100/s the stream and hot loop (for the stage
 * breakdown), depth at 50/s. Full: trades and depth at 20, 50, 100, 1,000/s with every consumer,
 * trades at 10,000/s (where LiveBot saturates).
 */
const ALL = ["native-livebot", "native-hftlive", "stream", "callbacks", "hot", "worker"];
const SOME = ["native-livebot", "native-hftlive", "stream", "hot"];
const workloads: { kind: string; rate: number; seconds: number; consumers: string[] }[] = QUICK
  ? [
    { kind: "trade", rate: 20, seconds: 4, consumers: SOME },
    { kind: "trade", rate: 50, seconds: 4, consumers: ALL },
    { kind: "trade", rate: 100, seconds: 3, consumers: SOME },
    { kind: "trade", rate: 1000, seconds: 2, consumers: ALL },
    { kind: "depth", rate: 50, seconds: 4, consumers: SOME },
  ]
  : [
    ...["trade", "depth"].flatMap((kind) => [
      { kind, rate: 20, seconds: 30, consumers: ALL },
      { kind, rate: 50, seconds: 20, consumers: ALL },
      { kind, rate: 100, seconds: 10, consumers: ALL },
      { kind, rate: 1000, seconds: 5, consumers: ALL },
    ]),
    { kind: "trade", rate: 10_000, seconds: 3, consumers: ALL },
  ];
cfg.latency = workloads.map((w) => ({ ...w, seconds: w.seconds * LAT_SCALE }));

const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const native = `${root}rust/target/release/examples/native_baseline`;
const tsBench = `${root}bench/hftlive_bench.ts`;
const floodLib = Deno.env.get("HFTLIVE_FLOOD_LIB");

const nat = (bench: string, kv: Record<string, unknown>): string[] => [
  native,
  bench,
  ...Object.entries(kv).map(([k, v]) => `${k}=${v}`),
];
const ts = (bench: string, kv: Record<string, unknown>): string[] => [
  deno,
  "run",
  "-A",
  "--v8-flags=--expose-gc",
  tsBench,
  bench,
  ...Object.entries(kv).map(([k, v]) => `${k}=${v}`),
];

function roundCases(): Case[] {
  const cases: Case[] = [];
  if (part("lat")) {
    for (const w of cfg.latency!) {
      const kv = { kind: w.kind, rate: w.rate, seconds: w.seconds };
      const g = `lat/${w.kind}/${w.rate}`;
      const add = (c: string, cmd: string[]): number => cases.push({ key: `${g}/${c}`, cmd });
      for (const c of w.consumers) {
        if (c === "native-livebot") add(c, nat("latency", kv));
        else if (c === "native-hftlive") add(c, nat("latency", { ...kv, bot: "hftlive" }));
        else add(c, ts(`latency-${c}`, kv));
      }
    }
  }
  if (part("mon")) {
    // Stream latency with and without the monitoring page open (one `EventSource` viewer in another process).
    for (const rate of [50, 1000]) {
      const seconds = (rate === 50 ? (QUICK ? 6 : 20) : (QUICK ? 3 : 5)) * LAT_SCALE;
      const kv = { kind: "trade", rate, seconds };
      cases.push({ key: `mon/trade/${rate}/stream`, cmd: ts("latency-stream", kv) });
      cases.push({
        key: `mon/trade/${rate}/stream-monitor`,
        cmd: ts("latency-stream", { ...kv, monitor: 1 }),
      });
    }
  }
  if (part("rtt")) {
    const rkv = { rate: cfg.rttRate, orders: cfg.orders };
    cases.push({ key: "rtt/native-livebot", cmd: nat("rtt", rkv) });
    cases.push({ key: "rtt/hftlive-stream", cmd: ts("rtt-stream", rkv) });
    cases.push({ key: "rtt/hftlive-poll", cmd: ts("rtt-poll", rkv) });
  }
  if (part("tp")) {
    for (const rate of [1e9, ...cfg.ladder]) {
      const g = rate >= 1e9 ? "tpmax" : `tp${rate}`;
      const nkv = { rate, seconds: cfg.tpSeconds, trade_ratio: 1, poll_us: 0 };
      const tkv = { rate, seconds: cfg.tpSeconds };
      if (rate >= 1e9 && !QUICK) {
        cases.push({ key: `${g}/native-livebot`, cmd: nat("throughput", nkv) });
      }
      cases.push({
        key: `${g}/native-hftlive`,
        cmd: nat("throughput", { ...nkv, bot: "hftlive" }),
      });
      cases.push({ key: `${g}/hftlive-for-await`, cmd: ts("tp-stream", tkv) });
      cases.push({ key: `${g}/hftlive-poll-inline`, cmd: ts("tp-poll", tkv) });
    }
  }
  if (part("flood") && floodLib) {
    const env = { HFTLIVE_LIB: floodLib };
    const kv = { seconds: cfg.tpSeconds * 2 };
    cases.push({ key: "flood/for-await", cmd: ts("tp-flood", { ...kv, mode: "stream" }), env });
    cases.push({ key: "flood/poll-thread", cmd: ts("tp-flood", { ...kv, mode: "poll" }), env });
    cases.push({
      key: "flood/poll-inline",
      cmd: ts("tp-flood", { ...kv, mode: "poll", inline: 1 }),
      env,
    });
  }
  return cases;
}

const load1 = (): number => Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);

async function run(c: Case, timeoutMs: number): Promise<Result> {
  const name = `hlb${Deno.pid}x${Math.floor(Math.random() * 1e9)}`;
  const load = load1();
  const cmd = new Deno.Command(c.cmd[0], {
    args: [...c.cmd.slice(1), `name=${name}`],
    env: c.env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  try {
    const out = await cmd.output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !text.startsWith("{")) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return { error: `exit ${out.code}: ${err || text}`, load };
    }
    return { ...JSON.parse(text), load };
  } catch (e) {
    return { error: String(e), load };
  }
}

const results = new Map<string, Result[]>();
const add = (k: string, r: Result): void => {
  if (!results.has(k)) results.set(k, []);
  results.get(k)!.push(r);
};

const started = new Date();
const loadAvg = (): string =>
  Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const load0 = loadAvg();
const t0 = performance.now();
const log = (s: string): void =>
  console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);
if (part("flood") && !floodLib) log("HFTLIVE_FLOOD_LIB not set: no flood cases (run bench/run.sh)");

for (let round = 0; round < cfg.rounds; round++) {
  let cases = roundCases();
  // Interleave: alternate the order of the cases from round to round.
  if (round % 2 === 1) cases = cases.reverse();
  for (const c of cases) {
    const r = await run(c, 300_000);
    add(c.key, r);
    log(`round ${round + 1}/${cfg.rounds} ${c.key}: ${JSON.stringify(r).slice(0, 160)}`);
  }
}
if (part("mem")) {
  log(`memory: ${cfg.memSeconds} s at ${cfg.memRate}/s`);
  const memCase = (key: string, cmd: string[], ms: number): Promise<void> =>
    run({ key, cmd }, ms).then((r) => (add(key, r), log(`${key}: ${JSON.stringify(r)}`)));
  await memCase(
    "mem/rate",
    ts("mem-rate", { rate: cfg.memRate, seconds: cfg.memSeconds }),
    (cfg.memSeconds + 120) * 1000,
  );
  await memCase("mem/cycles", ts("mem-cycles", { cycles: cfg.cycles }), 900_000);
  if (!QUICK) {
    await memCase(
      "mem/rate-poll",
      ts("mem-rate", { rate: cfg.memRate, seconds: Math.round(cfg.memSeconds / 2), mode: "poll" }),
      (cfg.memSeconds + 120) * 1000,
    );
    await memCase(
      "mem/cycles-poll",
      ts("mem-cycles", { cycles: cfg.cycles, mode: "poll" }),
      900_000,
    );
  }
  await memCase(
    "mem/native-cycles",
    nat("cycles", { bot: "hftlive", cycles: cfg.cycles }),
    900_000,
  );
}

if (part("record")) {
  // Recording on and off in alternating 5 s phases of one run (bench/record.ts).
  const seconds = QUICK ? 20 : 60;
  log(`recording: ${seconds} s at ${cfg.memRate}/s, on/off every 5 s`);
  const key = "record/alternate";
  const r = await run(
    { key, cmd: ts("record", { rate: cfg.memRate, seconds, phase: 5 }) },
    (seconds + 120) * 1000,
  );
  add(key, r);
  log(`${key}: ${JSON.stringify(r)}`);
}

const text = report(results, cfg, {
  started,
  load0,
  load1: loadAvg(),
  wallSeconds: (performance.now() - t0) / 1000,
  deno,
});
console.log(text);
const file = optS("--out");
if (file) {
  Deno.writeTextFileSync(file, text + "\n");
  const raw = file.replace(/\.md$/, "") + ".raw.json";
  Deno.writeTextFileSync(raw, JSON.stringify(Object.fromEntries(results), null, 1));
}
