/**
 * Benchmark runner: runs the native baseline (`rust/hftlive/examples/native_baseline.rs`,
 * hftbacktest's `LiveBot`) and hftlive (`bench/hftlive_bench.ts`) side by side, each
 * measurement in its own process against its own in-process sim configured the same
 * way, interleaved over several rounds, and prints a markdown report: medians with
 * [min–max] over rounds and the comparisons DESIGN.md's performance goals ask for.
 *
 * ```
 * bash bench/run.sh [--quick] [--rounds N] [--mem-seconds S] [--cycles N] [--out FILE]
 * ```
 *
 * Run through `bench/run.sh` (it builds, and sets HFTBACKTEST_CHANNEL_CONFIG).
 *
 * @module
 */

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

const QUICK = flag("--quick");
const ROUNDS = opt("--rounds", 3);
const LAT_SECONDS = opt("--lat-seconds", QUICK ? 1 : 3);
const ORDERS = opt("--orders", QUICK ? 50 : 300);
const TP_SECONDS = opt("--tp-seconds", QUICK ? 0.7 : 2);
const LADDER = QUICK ? [100_000] : [50_000, 100_000, 150_000, 200_000];
const MEM_SECONDS = opt("--mem-seconds", QUICK ? 8 : 120);
const MEM_RATE = opt("--mem-rate", 100_000);
const CYCLES = opt("--cycles", QUICK ? 150 : 1000);
const LAT_RATES = [1_000, 10_000];
const RTT_RATE = 1_000;

const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const native = `${root}rust/target/release/examples/native_baseline`;
const tsBench = `${root}bench/hftlive_bench.ts`;

type Result = Record<string, unknown>;
interface Case {
  key: string;
  group: string;
  cmd: string[];
}

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
  for (const rate of LAT_RATES) {
    const kv = { rate, seconds: LAT_SECONDS };
    const g = `lat${rate}`;
    cases.push({ key: `${g}/native-livebot`, group: g, cmd: nat("latency", kv) });
    cases.push({ key: `${g}/hftlive-hot`, group: g, cmd: ts("latency-hot", kv) });
    cases.push({
      key: `${g}/hftlive-hot-yield`,
      group: g,
      cmd: ts("latency-hot", { ...kv, engineWait: "yield" }),
    });
    cases.push({
      key: `${g}/native-hftlive`,
      group: g,
      cmd: nat("latency", { ...kv, bot: "hftlive" }),
    });
    cases.push({ key: `${g}/hftlive-stream`, group: g, cmd: ts("latency-stream", kv) });
  }
  const rkv = { rate: RTT_RATE, orders: ORDERS };
  cases.push({ key: "rtt/native-livebot", group: "rtt", cmd: nat("rtt", rkv) });
  cases.push({ key: "rtt/hftlive-stream", group: "rtt", cmd: ts("rtt-stream", rkv) });
  cases.push({ key: "rtt/hftlive-poll", group: "rtt", cmd: ts("rtt-poll", rkv) });
  for (const rate of [1e9, ...LADDER]) {
    const g = rate >= 1e9 ? "tpmax" : `tp${rate}`;
    const nkv = { rate, seconds: TP_SECONDS, trade_ratio: 1, poll_us: 0 };
    const tkv = { rate, seconds: TP_SECONDS };
    if (rate >= 1e9 && !QUICK) {
      cases.push({ key: `${g}/native-livebot`, group: g, cmd: nat("throughput", nkv) });
    }
    cases.push({
      key: `${g}/native-hftlive`,
      group: g,
      cmd: nat("throughput", { ...nkv, bot: "hftlive" }),
    });
    cases.push({ key: `${g}/hftlive-for-await`, group: g, cmd: ts("tp-stream", tkv) });
    cases.push({ key: `${g}/hftlive-poll-inline`, group: g, cmd: ts("tp-poll", tkv) });
    if (rate >= 1e9 && !QUICK) {
      cases.push({
        key: `${g}/hftlive-poll-thread`,
        group: g,
        cmd: ts("tp-poll", { ...tkv, inline: 0 }),
      });
    }
  }
  return cases;
}

async function run(cmd: string[], timeoutMs: number): Promise<Result> {
  const name = `hlb${Deno.pid}x${Math.floor(Math.random() * 1e9)}`;
  const c = new Deno.Command(cmd[0], {
    args: [...cmd.slice(1), `name=${name}`],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  try {
    const out = await c.output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !text.startsWith("{")) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return { error: `exit ${out.code}: ${err || text}` };
    }
    return JSON.parse(text);
  } catch (e) {
    return { error: String(e) };
  }
}

const results = new Map<string, Result[]>();
const add = (k: string, r: Result): void => {
  if (!results.has(k)) results.set(k, []);
  results.get(k)!.push(r);
};

function sh(cmd: string, args: string[]): string {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
    return new TextDecoder().decode(o.stdout).trim();
  } catch {
    return "?";
  }
}

const started = new Date();
const load0 = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const t0 = performance.now();
const log = (s: string): void =>
  console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);

for (let round = 0; round < ROUNDS; round++) {
  let cases = roundCases();
  // Interleave: alternate the order of the cases from round to round.
  if (round % 2 === 1) cases = cases.reverse();
  for (const c of cases) {
    const r = await run(c.cmd, 180_000);
    add(c.key, r);
    log(`round ${round + 1}/${ROUNDS} ${c.key}: ${JSON.stringify(r).slice(0, 160)}`);
  }
}
log(`memory: ${MEM_SECONDS} s at ${MEM_RATE}/s`);
add(
  "mem/rate",
  await run(ts("mem-rate", { rate: MEM_RATE, seconds: MEM_SECONDS }), (MEM_SECONDS + 120) * 1000),
);
log(JSON.stringify(results.get("mem/rate")![0]));
log(`memory: ${CYCLES} connect/close cycles`);
add("mem/cycles", await run(ts("mem-cycles", { cycles: CYCLES }), 600_000));
log(JSON.stringify(results.get("mem/cycles")![0]));
if (!QUICK) {
  log(`memory: ${MEM_SECONDS / 2} s at ${MEM_RATE}/s, poll() on an engine thread`);
  add(
    "mem/rate-poll",
    await run(
      ts("mem-rate", { rate: MEM_RATE, seconds: Math.round(MEM_SECONDS / 2), mode: "poll" }),
      (MEM_SECONDS + 120) * 1000,
    ),
  );
  log(JSON.stringify(results.get("mem/rate-poll")![0]));
  log(`memory: ${CYCLES} connect/close cycles, poll mode`);
  add("mem/cycles-poll", await run(ts("mem-cycles", { cycles: CYCLES, mode: "poll" }), 600_000));
  log(JSON.stringify(results.get("mem/cycles-poll")![0]));
}
log(`memory: ${CYCLES} native open/close cycles`);
add("mem/native-cycles", await run(nat("cycles", { bot: "hftlive", cycles: CYCLES }), 600_000));
log(JSON.stringify(results.get("mem/native-cycles")![0]));
const load1 = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

// ------------------------------------------------------------------ report

const get = (k: string, path: string): number[] =>
  (results.get(k) ?? []).map((r) => {
    let v: unknown = r;
    for (const p of path.split(".")) v = (v as Record<string, unknown>)?.[p];
    return typeof v === "number" ? v : NaN;
  }).filter((x) => Number.isFinite(x));
const median = (v: number[]): number => {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtN = (x: number): string => {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(0)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
};
const cell = (k: string, path: string): string => {
  const v = get(k, path);
  if (v.length === 0) return "–";
  return `${fmtN(median(v))} [${fmtN(Math.min(...v))}–${fmtN(Math.max(...v))}]`;
};
const med = (k: string, path: string): number => median(get(k, path));
const errors = [...results.entries()].flatMap(([k, rs]) =>
  rs.filter((r) => r.error).map((r) => `${k}: ${r.error}`)
);

const out: string[] = [];
const p = (s = ""): number => out.push(s);
const cpu = sh("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).trim();
p(`## hftlive benchmarks — ${started.toISOString().replace("T", " ").slice(0, 19)} UTC`);
p();
p(`- Command: \`bash bench/run.sh ${argv.join(" ")}\`${QUICK ? " (quick)" : ""}`);
p(`- Machine: ${sh("nproc", [])} CPUs, ${cpu}, ${
  sh("uname", ["-sr"])
}; load average at start ${load0}, at end ${load1}`);
p(`- ${sh(deno, ["--version"]).split("\n")[0]}; ${sh("rustc", ["--version"])}; wall time ${
  ((performance.now() - t0) / 1000).toFixed(0)
} s`);
p(`- ${ROUNDS} rounds, interleaved (case order reversed every other round), one process per measurement, each with its own in-process hftlive-sim (seed 7). Cells: median [min–max] over rounds. Latencies in µs.`);
p(`- Latency = handler's clock − event \`local_ts\` (the sim's publish time), trades only. Native LiveBot = hftbacktest 0.9.4 \`LiveBot\` + \`IceoryxUnifiedChannel\`; native hftlive = our engine through the C ABI (inline, no JS).`);
p();

p("### Latency (sim publish → handler), trades; sim rate in market events/s");
p();
p("| rate | bot | p50 µs | p90 µs | p99 µs | n per round | CPU (cores) |");
p("|---|---|---|---|---|---|---|");
for (const rate of LAT_RATES) {
  for (
    const b of [
      "native-livebot",
      "native-hftlive",
      "hftlive-hot",
      "hftlive-hot-yield",
      "hftlive-stream",
    ]
  ) {
    const k = `lat${rate}/${b}`;
    const label = {
      "native-livebot": "native LiveBot (wait_next_feed)",
      "native-hftlive": "native hftlive engine (inline poll, Rust)",
      "hftlive-hot": "hftlive TS hot loop (`poll`, inline, default engineWait adaptive)",
      "hftlive-hot-yield": "hftlive TS hot loop (`poll`, inline, engineWait yield: owns a core)",
      "hftlive-stream": "hftlive TS stream (`for await client.trades`)",
    }[b];
    p(`| ${rate} | ${label} | ${cell(k, "p50")} | ${cell(k, "p90")} | ${cell(k, "p99")} | ${
      fmtN(med(k, "n"))
    } | ${cell(k, "cpu")} |`);
  }
}
p();
p(`### Order round trip (submit → ack seen; cancel → Canceled seen), sim at ${RTT_RATE} events/s, ${ORDERS} orders per round`);
p();
p("| bot | submit p50 µs | submit p99 µs | cancel p50 µs | cancel p99 µs | bad |");
p("|---|---|---|---|---|---|");
for (
  const [b, label] of [
    ["native-livebot", "native LiveBot (`submit_buy_order(wait=true)`, `cancel(wait=true)`)"],
    ["hftlive-stream", "hftlive TS stream (`await buy(…, {wait: true})`)"],
    ["hftlive-poll", "hftlive TS hot loop (submit, `poll` until the ack)"],
  ]
) {
  const k = `rtt/${b}`;
  p(`| ${label} | ${cell(k, "p50")} | ${cell(k, "p99")} | ${cell(k, "cancel.p50")} | ${
    cell(k, "cancel.p99")
  } | ${cell(k, "bad")} |`);
}
p();
p("### Throughput (sim trade_ratio 1: every market event is one trade + one depth batch)");
p();
p("`events/s` = records delivered to the consumer (trades, depth, BBO, …); `sim events/s` = market events (= trades) delivered; `lost` = sim market events − trades seen (after pausing the sim and draining). `JS capacity` = events per second of main-thread CPU (an estimate of what the JS side could take with a core to itself).");
p();
p("| sim rate | consumer | events/s | sim events/s | lost | JS ns/event | JS capacity events/s | CPU (cores) |");
p("|---|---|---|---|---|---|---|---|");
for (const rate of [1e9, ...LADDER]) {
  const g = rate >= 1e9 ? "tpmax" : `tp${rate}`;
  for (
    const b of [
      "native-livebot",
      "native-hftlive",
      "hftlive-for-await",
      "hftlive-poll-inline",
      "hftlive-poll-thread",
    ]
  ) {
    const k = `${g}/${b}`;
    if (!results.has(k)) continue;
    p(`| ${rate >= 1e9 ? "max" : rate} | ${b} | ${cell(k, "events_per_s")} | ${
      cell(k, "trades_per_s")
    } | ${cell(k, "lost")} | ${cell(k, "js_ns_per_event")} | ${cell(k, "js_capacity_per_s")} | ${
      cell(k, "cpu")
    } |`);
  }
}
p();
const mr = results.get("mem/rate")?.[0] ?? {};
const mc = results.get("mem/cycles")?.[0] ?? {};
const mn = results.get("mem/native-cycles")?.[0] ?? {};
const mrp = results.get("mem/rate-poll")?.[0] ?? {};
const mcp = results.get("mem/cycles-poll")?.[0] ?? {};
p("### Memory (hftlive TS, stream mode, one run)");
p();
p(`- RSS over ${MEM_SECONDS} s at ${MEM_RATE} events/s (sim delivered ${
  fmtN(mr.sim_events_per_s as number)
}/s, JS consumer ${
  fmtN(mr.js_events_per_s as number)
} events/s, stream drops ${mr.drops}): first ${mr.rss_first} MiB, last ${mr.rss_last} MiB, min–max ${mr.rss_min}–${mr.rss_max} MiB (range ${mr.rss_range} MiB), slope ${mr.slope_mib_per_min} MiB/min.`);
p(`- ${mc.cycles} connect(ready)/close cycles (${mc.ms_per_cycle} ms each): RSS ${mc.rss_start} MiB at start, ${mc.rss_after_warm} MiB after 20 cycles, ${mc.rss_end} MiB at the end (growth after warm-up ${mc.rss_growth} MiB); marks ${
  JSON.stringify(mc.marks)
}.`);
p();

// Goals.
/** Native latency above 10 ms means LiveBot is not keeping up with the sim (its backlog). */
const saturated = (rate: number): string =>
  med(`lat${rate}/native-livebot`, "p50") > 10_000
    ? " (baseline saturated: LiveBot cannot keep up at this rate)"
    : "";
const verdict = (ok: boolean | undefined): string =>
  ok === undefined ? "–" : ok ? "**met**" : "**not met**";
p(
  `- V8 heap used in those cycles: ${mc.heap_after_warm} MiB after 20 cycles, ${mc.heap_end} MiB at the end (external ${mc.external_end} MiB).`,
);
p(
  `- Same cycles on the native engine alone (Rust, threaded client, no JS): RSS ${mn.rss_after_warm} MiB after 20 cycles, ${mn.rss_end} MiB after ${mn.cycles} (growth ${mn.rss_growth} MiB, ${mn.ms_per_cycle} ms per cycle).`,
);
if (!QUICK) {
  p(
    `- Poll mode (engine thread, \`poll()\` loop, no nonblocking FFI call): RSS over ${mrp.seconds} s at ${MEM_RATE}/s ${mrp.rss_first} → ${mrp.rss_last} MiB (range ${mrp.rss_range} MiB, slope ${mrp.slope_mib_per_min} MiB/min); ${mcp.cycles} connect/poll-until-registered/close cycles: ${mcp.rss_after_warm} → ${mcp.rss_end} MiB (growth ${mcp.rss_growth} MiB, V8 heap ${mcp.heap_after_warm} → ${mcp.heap_end} MiB).`,
  );
}
p();
p("### DESIGN.md performance goals");
p();
p("| goal | native | hftlive | comparison | verdict |");
p("|---|---|---|---|---|");
for (const rate of LAT_RATES) {
  const n50 = med(`lat${rate}/native-livebot`, "p50"),
    n99 = med(`lat${rate}/native-livebot`, "p99");
  const h50 = med(`lat${rate}/hftlive-hot`, "p50"), h99 = med(`lat${rate}/hftlive-hot`, "p99");
  const s50 = med(`lat${rate}/hftlive-stream`, "p50"),
    s99 = med(`lat${rate}/hftlive-stream`, "p99");
  const y50 = med(`lat${rate}/hftlive-hot-yield`, "p50");
  const y99 = med(`lat${rate}/hftlive-hot-yield`, "p99");
  p(`| hot loop p50 ≤ 1.25× native @${rate}/s | ${fmtN(n50)} | ${fmtN(h50)} | ${
    (h50 / n50).toFixed(2)
  }× | ${verdict(h50 <= 1.25 * n50)}${saturated(rate)} |`);
  p(`| hot loop p99 ≤ 2× native @${rate}/s | ${fmtN(n99)} | ${fmtN(h99)} | ${
    (h99 / n99).toFixed(2)
  }× | ${verdict(h99 <= 2 * n99)}${saturated(rate)} |`);
  p(
    `| (hot loop, engineWait yield) p50 ≤ 1.25× native @${rate}/s | ${fmtN(n50)} | ${fmtN(y50)} | ${
      (y50 / n50).toFixed(2)
    }× | ${verdict(y50 <= 1.25 * n50)}${saturated(rate)} |`,
  );
  p(
    `| (hot loop, engineWait yield) p99 ≤ 2× native @${rate}/s | ${fmtN(n99)} | ${fmtN(y99)} | ${
      (y99 / n99).toFixed(2)
    }× | ${verdict(y99 <= 2 * n99)}${saturated(rate)} |`,
  );
  p(`| stream p50 ≤ native + 15 µs @${rate}/s | ${fmtN(n50)} | ${fmtN(s50)} | ${
    s50 - n50 >= 0 ? "+" : ""
  }${fmtN(s50 - n50)} µs | ${verdict(s50 <= n50 + 15)}${saturated(rate)} |`);
  p(`| stream p99 ≤ native + 100 µs @${rate}/s | ${fmtN(n99)} | ${fmtN(s99)} | ${
    s99 - n99 >= 0 ? "+" : ""
  }${fmtN(s99 - n99)} µs | ${verdict(s99 <= n99 + 100)}${saturated(rate)} |`);
}
const lossless = (b: string): [number, string] => {
  let best = NaN, at = "none";
  for (const rate of LADDER) {
    const k = `tp${rate}/${b}`;
    const lost = get(k, "lost");
    if (lost.length > 0 && lost.every((x) => x === 0)) {
      const ev = med(k, "events_per_s");
      if (!(ev <= best)) (best = ev, at = String(rate));
    }
  }
  return [best, at];
};
for (
  const [b, goal, label] of [["hftlive-for-await", 2e6, "for await"], [
    "hftlive-poll-inline",
    1e7,
    "poll",
  ]] as const
) {
  const [ev, at] = lossless(b);
  const mx = med(`tpmax/${b}`, "events_per_s"), lost = med(`tpmax/${b}`, "lost");
  const nat = lossless("native-hftlive");
  p(`| ≥ ${fmtN(goal)} events/s, nothing lost, ${label} | native hftlive engine lossless: ${
    fmtN(nat[0])
  } events/s (sim ${nat[1]}/s); LiveBot max ${
    fmtN(med("tpmax/native-livebot", "events_per_s"))
  } trades/s | lossless (every round): ${fmtN(ev)} events/s (sim ${at}/s); at max sim rate ${
    fmtN(mx)
  } events/s with ${fmtN(lost)} lost | JS capacity ≈ ${
    fmtN(med(`tpmax/${b}`, "js_capacity_per_s"))
  } events/s | ${verdict(ev >= goal)} |`);
}
{
  const n = med("rtt/native-livebot", "p50"),
    s = med("rtt/hftlive-stream", "p50"),
    h = med("rtt/hftlive-poll", "p50");
  p(`| order RTT stream p50 ≤ native + 15 µs | ${fmtN(n)} | ${fmtN(s)} | ${s - n >= 0 ? "+" : ""}${
    fmtN(s - n)
  } µs | ${verdict(s <= n + 15)} |`);
  p(`| order RTT hot loop p50 ≤ 1.25× native | ${fmtN(n)} | ${fmtN(h)} | ${(h / n).toFixed(2)}× | ${
    verdict(h <= 1.25 * n)
  } |`);
}
p(`| RSS flat within 5 MiB over 5 min at 100k events/s | – | range ${mr.rss_range} MiB over ${MEM_SECONDS} s | ${
  MEM_SECONDS < 300 ? `shorter run than the goal's 300 s` : ""
} | ${verdict((mr.rss_range as number) <= 5)}${
  MEM_SECONDS < 300 ? " (for the run length)" : ""
} |`);
p(`| no RSS growth across 1,000 connect/close cycles | – | +${mc.rss_growth} MiB over ${mc.cycles} cycles after warm-up | | ${
  verdict((mc.rss_growth as number) <= 1)
}${(mc.cycles as number) < 1000 ? " (fewer cycles)" : ""} |`);
p();
if (errors.length) {
  p("### Errors");
  p();
  for (const e of errors) p(`- ${e}`);
  p();
}
const report = out.join("\n");
console.log(report);
const file = optS("--out");
if (file) {
  Deno.writeTextFileSync(file, report + "\n");
  const raw = file.replace(/\.md$/, "") + ".raw.json";
  Deno.writeTextFileSync(raw, JSON.stringify(Object.fromEntries(results), null, 1));
}
