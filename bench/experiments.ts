/**
 * A/B experiments on where the time goes at low rates (bench/RESULTS.md, "Where the time goes"):
 * each experiment is a set of variants of one latency measurement, run interleaved over rounds
 * (order reversed every other round), one process each, with the 1-minute load average at the
 * start of each; prints medians [min–max] over rounds of the total's percentiles, the stages'
 * p50 and the CPU, and appends every raw result to `--raw FILE` (JSON lines).
 *
 * ```
 * deno run -A bench/experiments.ts <idle|liveness|flush|wake|poll|warm|all> [--rounds 5]
 *     [--rate 50] [--seconds 10] [--raw /tmp/experiments.jsonl]
 * ```
 *
 * Needs the release build and `native_baseline` (`bash bench/run.sh --only none` builds them);
 * `flush` also needs the build from before the engine handed messages over one by one, at
 * `rust/target/ab/` (`native_baseline-noflush`, `libhftlive-noflush.so`).
 *
 * @module
 */

const argv = Deno.args;
const opt = (k: string, d: string): string => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const which = argv[0] ?? "all";
const ROUNDS = Number(opt("--rounds", "5"));
const RATE = Number(opt("--rate", "50"));
const SECONDS = Number(opt("--seconds", "10"));
const RAW = opt("--raw", "");

const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const native = `${root}rust/target/release/examples/native_baseline`;
const ab = `${root}rust/target/ab/`;
if (!Deno.env.get("HFTBACKTEST_CHANNEL_CONFIG")) {
  const cfg = Deno.makeTempFileSync({ suffix: ".toml" });
  Deno.writeTextFileSync(cfg, "buffer_size = 4096\nmax_bots = 16\n");
  Deno.env.set("HFTBACKTEST_CHANNEL_CONFIG", cfg);
}

interface Variant {
  name: string;
  cmd: string[];
  env?: Record<string, string>;
}

const kv = (o: Record<string, unknown>): string[] =>
  Object.entries(o).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`);
const base = { rate: RATE, seconds: SECONDS, kind: "trade" };
const nat = (o: Record<string, unknown> = {}, bin = native): string[] => [
  bin,
  "latency",
  "bot=hftlive",
  ...kv({ ...base, ...o }),
];
const ts = (bench: string, o: Record<string, unknown> = {}): string[] => [
  deno,
  "run",
  "-A",
  `${root}bench/hftlive_bench.ts`,
  `latency-${bench}`,
  ...kv({ ...base, ...o }),
];

const EXPERIMENTS: Record<string, () => Variant[]> = {
  /** The engine's idle strategy and timer slack: what an event waits for a sleeping engine. */
  idle: () => [
    { name: "native adaptive (default)", cmd: nat() },
    {
      name: "native adaptive, slack 10 µs",
      cmd: nat({ engine_opts: '"engine_timer_slack_ns":10000' }),
    },
    {
      name: "native adaptive, slack 1 µs",
      cmd: nat({ engine_opts: '"engine_timer_slack_ns":1000' }),
    },
    { name: "native yield (a core)", cmd: nat({ engine_wait: "yield" }) },
    { name: "TS hot adaptive (default)", cmd: ts("hot") },
    {
      name: "TS hot adaptive, slack 10 µs",
      cmd: ts("hot", { opts: { engineTimerSlackNs: 10000 } }),
    },
    { name: "TS hot yield (a core)", cmd: ts("hot", { engineWait: "yield" }) },
    { name: "TS stream (default)", cmd: ts("stream") },
    { name: "TS stream, slack 10 µs", cmd: ts("stream", { opts: { engineTimerSlackNs: 10000 } }) },
  ],
  /** The liveness check's dead-node cleanup, on a machine with many iceoryx2 nodes. */
  liveness: () => [
    {
      name: "cleanup every check (before), 40 extra nodes",
      cmd: nat({ extra_nodes: 40, engine_opts: '"liveness_cleanup_ms":0' }),
    },
    {
      name: "cleanup every 5 s + publisher pid (now), 40 extra nodes",
      cmd: nat({ extra_nodes: 40 }),
    },
    {
      name: "cleanup every check (before), no extra node",
      cmd: nat({ engine_opts: '"liveness_cleanup_ms":0' }),
    },
    { name: "cleanup every 5 s + publisher pid (now), no extra node", cmd: nat() },
  ],
  /** Handing a message's records over when it is whole rather than at the end of the step. */
  flush: () => [
    {
      name: "native, records at the end of the step (before)",
      cmd: nat({}, `${ab}native_baseline-noflush`),
    },
    { name: "native, records when the message is whole (now)", cmd: nat() },
    {
      name: "TS hot, at the end of the step (before)",
      cmd: ts("hot"),
      env: { HFTLIVE_LIB: `${ab}libhftlive-noflush.so` },
    },
    { name: "TS hot, when the message is whole (now)", cmd: ts("hot") },
    {
      name: "TS stream, at the end of the step (before)",
      cmd: ts("stream"),
      env: { HFTLIVE_LIB: `${ab}libhftlive-noflush.so` },
    },
    { name: "TS stream, when the message is whole (now)", cmd: ts("stream") },
  ],
  /** How JavaScript is woken: the doorbell, the native wait, callbacks. */
  wake: () => [
    { name: "stream, doorbell (default)", cmd: ts("stream") },
    { name: "stream, native wait", cmd: ts("stream", { wake: "wait" }) },
    { name: "callbacks, doorbell", cmd: ts("callbacks") },
    { name: "callbacks, native wait", cmd: ts("callbacks", { wake: "wait" }) },
  ],
  /** What poll(timeout) does while waiting: the engine inline, or its own thread. */
  poll: () => [
    { name: "hot, inline engine (default)", cmd: ts("hot") },
    { name: "hot, engine thread (spin 50 µs, then park)", cmd: ts("hot", { inline: 0 }) },
    { name: "worker, inline engine", cmd: ts("worker") },
  ],
  /** Does an idle JavaScript thread cost time? The same with an empty 1 ms interval. */
  warm: () => [
    { name: "stream", cmd: ts("stream") },
    { name: "stream + empty 1 ms interval", cmd: ts("stream", { keepWarmMs: 1 }) },
    { name: "callbacks", cmd: ts("callbacks") },
    { name: "callbacks + empty 1 ms interval", cmd: ts("callbacks", { keepWarmMs: 1 }) },
  ],
};

type R = Record<string, unknown>;

async function run(v: Variant): Promise<R> {
  const load = Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  const name = `hlx${Deno.pid}x${Math.floor(Math.random() * 1e9)}`;
  try {
    const out = await new Deno.Command(v.cmd[0], {
      args: [...v.cmd.slice(1), `name=${name}`],
      env: v.env,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(SECONDS * 1000 + 120_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !text.startsWith("{")) {
      return { error: new TextDecoder().decode(out.stderr).slice(-300), load };
    }
    return { ...JSON.parse(text), load };
  } catch (e) {
    return { error: String(e), load };
  }
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x: number): string =>
  !Number.isFinite(x)
    ? "–"
    : x >= 1e4
    ? `${(x / 1e3).toFixed(0)}k`
    : x >= 100
    ? x.toFixed(0)
    : x.toFixed(1);
const pick = (r: R, path: string): number => {
  let v: unknown = r;
  for (const p of path.split(".")) v = (v as R)?.[p];
  return typeof v === "number" ? v : NaN;
};
const cell = (rs: R[], path: string): string => {
  const v = rs.map((r) => pick(r, path)).filter(Number.isFinite);
  if (v.length === 0) return "–";
  return `${f(median(v))} [${f(Math.min(...v))}–${f(Math.max(...v))}]`;
};

const names = which === "all" ? Object.keys(EXPERIMENTS) : which.split(",");
for (const exp of names) {
  const variants = EXPERIMENTS[exp]();
  const results = new Map<string, R[]>(variants.map((v) => [v.name, []]));
  const started = new Date().toISOString();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const v of order) {
      const r = await run(v);
      results.get(v.name)!.push(r);
      if (RAW) {
        Deno.writeTextFileSync(RAW, JSON.stringify({ exp, variant: v.name, round, ...r }) + "\n", {
          append: true,
        });
      }
      console.error(
        `[${exp} ${round + 1}/${ROUNDS}] ${v.name}: p50 ${r.p50} p99 ${r.p99} load ${r.load}`,
      );
    }
  }
  console.log(
    `\n#### ${exp}: ${RATE} trades/s, ${SECONDS} s, ${ROUNDS} rounds, started ${started}\n`,
  );
  console.log(
    "| variant | p50 | p99 | p99.9 | max | publish → engine p50 | engine → wake/poll p50 | wake → drain p50 | drain → handler p50 | CPU | load |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const v of variants) {
    const rs = results.get(v.name)!.filter((r) => !r.error);
    const nativeRow = v.cmd[0] !== deno;
    console.log(
      `| ${v.name} | ${cell(rs, "p50")} | ${cell(rs, "p99")} | ${cell(rs, "p999")} | ${
        cell(rs, "max")
      } | ${cell(rs, "stages.engine.p50")} | ${
        nativeRow ? `${cell(rs, "stages.deliver.p50")} (→ handler)` : cell(rs, "stages.wake.p50")
      } | ${nativeRow ? "" : cell(rs, "stages.drain.p50")} | ${
        nativeRow ? "" : cell(rs, "stages.handler.p50")
      } | ${cell(rs, "cpu")} | ${cell(results.get(v.name)!, "load")} |`,
    );
    const errs = results.get(v.name)!.filter((r) => r.error);
    if (errs.length) {
      console.log(`| (${errs.length} errors: ${String(errs[0].error).slice(0, 80)}) |`);
    }
  }
}
