/**
 * The markdown report of `bench/run.ts`: every measurement's results over rounds (median
 * [min–max]), compared with the best native consumer at the same rate in the same run (LiveBot
 * where it keeps up, hftlive's engine driven from Rust), never "met" against a saturated baseline.
 *
 * @module
 */

/** One measurement's JSON line (plus the 1-minute load average when it started), or an error. */
export type Result = Record<string, unknown>;

/** One measurement to run: its key (`group/consumer`), command and extra environment. */
export interface Case {
  key: string;
  cmd: string[];
  env?: Record<string, string>;
}

/** What the run measured. */
export interface BenchConfig {
  quick: boolean;
  rounds: number;
  orders: number;
  tpSeconds: number;
  ladder: number[];
  memSeconds: number;
  memRate: number;
  cycles: number;
  rttRate: number;
  argv: readonly string[];
  latency?: { kind: string; rate: number; seconds: number; consumers: string[] }[];
}

/** When and where it ran. */
export interface RunMeta {
  started: Date;
  load0: string;
  load1: string;
  wallSeconds: number;
  deno: string;
}

type Results = Map<string, Result[]>;

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

function sh(cmd: string, args: string[]): string {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
    return new TextDecoder().decode(o.stdout).trim();
  } catch {
    return "?";
  }
}

/** Labels of the latency consumers. */
const LABEL: Record<string, string> = {
  "native-livebot": "native LiveBot (`wait_next_feed`)",
  "native-hftlive": "native hftlive engine (inline `poll`, Rust)",
  stream: "hftlive TS stream (`for await`)",
  callbacks: "hftlive TS callbacks (`on`)",
  hot: "hftlive TS hot loop (`poll`, inline, main thread)",
  worker: "hftlive TS hot loop in a Worker (`StrategyWorker`)",
};
const NATIVE = ["native-livebot", "native-hftlive"];
const TS = ["stream", "callbacks", "hot", "worker"];

export function report(results: Results, cfg: BenchConfig, meta: RunMeta): string {
  const get = (k: string, path: string): number[] =>
    (results.get(k) ?? []).map((r) => {
      let v: unknown = r;
      for (const p of path.split(".")) v = (v as Record<string, unknown>)?.[p];
      return typeof v === "number" ? v : NaN;
    }).filter((x) => Number.isFinite(x));
  const med = (k: string, path: string): number => median(get(k, path));
  const cell = (k: string, path: string): string => {
    const v = get(k, path);
    if (v.length === 0) return "–";
    if (v.length === 1) return fmtN(v[0]);
    return `${fmtN(median(v))} [${fmtN(Math.min(...v))}–${fmtN(Math.max(...v))}]`;
  };
  /** A consumer that did not keep up: most rounds saw < 80% of the samples, or p50 > 10 ms. */
  const saturated = (k: string): boolean => {
    const rs = (results.get(k) ?? []).filter((r) => !r.error);
    if (rs.length === 0) return true;
    const bad = rs.filter((r) =>
      (r.n as number) < 0.8 * (r.expected as number) || !((r.p50 as number) <= 10_000)
    );
    return bad.length * 2 > rs.length;
  };
  /** The best native consumer of group `g` for percentile `q`: the lowest median not saturated. */
  const baseline = (g: string, q: string): { v: number; who: string } | undefined => {
    let best: { v: number; who: string } | undefined;
    for (const c of NATIVE) {
      const k = `${g}/${c}`;
      if (!results.has(k) || saturated(k)) continue;
      const v = med(k, q);
      if (Number.isFinite(v) && (best === undefined || v < best.v)) {
        best = { v, who: c === "native-livebot" ? "LiveBot" : "hftlive engine" };
      }
    }
    return best;
  };
  const vs = (v: number, b: { v: number } | undefined): string =>
    b === undefined || !Number.isFinite(v)
      ? "–"
      : `${(v / b.v).toFixed(2)}× (${v - b.v >= 0 ? "+" : ""}${fmtN(v - b.v)} µs)`;

  const out: string[] = [];
  const p = (s = ""): number => out.push(s);
  const cpu = sh("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).trim();
  const loads = [...results.values()].flat().map((r) => r.load as number).filter(Number.isFinite);
  p(`## hftlive benchmarks — ${meta.started.toISOString().replace("T", " ").slice(0, 19)} UTC`);
  p();
  p(`- Command: \`bash bench/run.sh ${cfg.argv.join(" ")}\`${cfg.quick ? " (quick)" : ""}`);
  p(`- Machine: ${sh("nproc", [])} CPUs, ${cpu}, ${sh("uname", ["-sr"])}`);
  p(
    `- Load average at start ${meta.load0}, at end ${meta.load1}; 1-minute load when each measurement started: min ${
      fmtN(Math.min(...loads))
    }, median ${fmtN(median(loads))}, max ${fmtN(Math.max(...loads))}`,
  );
  p(`- ${sh(meta.deno, ["--version"]).split("\n")[0]}; ${sh("rustc", ["--version"])}; wall time ${
    meta.wallSeconds.toFixed(0)
  } s`);
  p(
    `- ${cfg.rounds} rounds, interleaved (case order reversed every other round), one process per measurement, each with its own in-process hftlive-sim (seed 7, \`poll_us\` 50). Cells: median [min–max] over rounds of each round's HDR percentile (3 significant digits). Latencies in µs.`,
  );
  p(
    "- Latency = the handler's clock − the event's `local_ts` (the sim's publish time). Trades: sim `trade_ratio` 1, every trade. Depth: `trade_ratio` 0, one sample per depth message (LiveBot: when `wait_next_feed` returns after its `BatchEnd`; hftlive: its first depth update; the engine delivers whole messages). Native LiveBot = hftbacktest 0.9.4 `LiveBot` + `IceoryxUnifiedChannel`; native hftlive = our engine through its Rust API (inline, no JS).",
  );
  p(
    "- Baseline = the best native consumer at that rate and kind in this run (the lower median of each percentile among those not saturated). A consumer is saturated when most rounds saw < 80% of the events or a p50 > 10 ms: then there is no comparison.",
  );
  p();

  // ------------------------------------------------------------ latency
  const groups = cfg.latency ?? [];
  const acceptance = groups.filter((w) => w.kind === "trade" && (w.rate === 50 || w.rate === 1000));
  if (acceptance.length > 0) {
    p("### Trades, hftlive against the best native consumer (p50 and p99, µs)");
    p();
    p("| rate/s | baseline p50 | baseline p99 | consumer | p50 | p50 vs baseline | p99 | p99 vs baseline |");
    p("|---|---|---|---|---|---|---|---|");
    for (const w of acceptance) {
      const g = `lat/trade/${w.rate}`;
      const b50 = baseline(g, "p50"), b99 = baseline(g, "p99");
      const bs = (b: typeof b50): string => b ? `${fmtN(b.v)} (${b.who})` : "saturated";
      for (const c of TS) {
        const k = `${g}/${c}`;
        if (!results.has(k)) continue;
        const none = b50 === undefined ? "baseline saturated: no comparison" : undefined;
        p(`| ${w.rate} | ${bs(b50)} | ${bs(b99)} | ${c} | ${cell(k, "p50")} | ${
          none ?? vs(med(k, "p50"), b50)
        } | ${cell(k, "p99")} | ${none ?? vs(med(k, "p99"), b99)} |`);
      }
    }
    p();
  }
  for (const kind of ["trade", "depth"]) {
    const ws = groups.filter((w) => w.kind === kind);
    if (ws.length === 0) continue;
    p(`### Latency (sim publish → handler), ${kind === "trade" ? "trades" : "depth messages"}`);
    p();
    p("| rate/s | consumer | p50 | p90 | p99 | p99.9 | max | n | CPU (cores) | load |");
    p("|---|---|---|---|---|---|---|---|---|---|");
    for (const w of ws) {
      for (const c of [...NATIVE, ...TS]) {
        const k = `lat/${kind}/${w.rate}/${c}`;
        if (!results.has(k)) continue;
        const sat = saturated(k) ? " **(saturated)**" : "";
        p(`| ${w.rate} | ${LABEL[c]}${sat} | ${cell(k, "p50")} | ${cell(k, "p90")} | ${
          cell(k, "p99")
        } | ${cell(k, "p999")} | ${cell(k, "max")} | ${fmtN(med(k, "n"))} / ${
          fmtN(med(k, "expected"))
        } | ${cell(k, "cpu")} | ${cell(k, "load")} |`);
      }
    }
    p();
    p(`#### Against the goals (${kind === "trade" ? "trades" : "depth"})`);
    p();
    p("Goals (DESIGN.md): hot loop, Worker and callbacks p50 and p99 ≤ 1.0× the baseline; stream p50 ≤ baseline + 15 µs, p99 ≤ baseline + 100 µs.");
    p();
    p("| rate/s | baseline p50 / p99 | consumer | p50 | p99 | verdict |");
    p("|---|---|---|---|---|---|");
    for (const w of ws) {
      const g = `lat/${kind}/${w.rate}`;
      const b50 = baseline(g, "p50"), b99 = baseline(g, "p99");
      const base = b50 && b99
        ? `${fmtN(b50.v)} (${b50.who}) / ${fmtN(b99.v)} (${b99.who})`
        : "saturated";
      for (const c of TS) {
        const k = `${g}/${c}`;
        if (!results.has(k)) continue;
        const s50 = med(k, "p50"), s99 = med(k, "p99");
        let verdict: string;
        if (!b50 || !b99) verdict = "baseline saturated: no comparison";
        else if (saturated(k)) verdict = "**not met** (saturated)";
        else {
          const ok = c === "stream"
            ? [s50 <= b50.v + 15, s99 <= b99.v + 100]
            : [s50 <= b50.v, s99 <= b99.v];
          verdict = `p50 ${ok[0] ? "**met**" : "**not met**"}, p99 ${
            ok[1] ? "**met**" : "**not met**"
          }`;
        }
        p(`| ${w.rate} | ${base} | ${c} | ${fmtN(s50)}: ${vs(s50, b50)} | ${fmtN(s99)}: ${
          vs(s99, b99)
        } | ${verdict} |`);
      }
    }
    p();
    p(`#### Where the time goes (${kind === "trade" ? "trades" : "depth"}): p50 of each stage, µs`);
    p();
    p(
      "Stages from the event's own stamps: publish (`localTs`, the sim) → engine (`engineTs`, the engine took it off IPC) → wake (`wakeTs`, the client's wake-up reached JavaScript; poll mode: `poll()` returned it) → drain (`recvTs`) → handler. Native hftlive: publish → engine → handler. Each cell: median over rounds of the stage's p50 (and p99); p50s of stages do not add up to the total's p50.",
    );
    p();
    p("| rate/s | consumer | publish → engine | engine → wake | wake → drain | drain → handler | total p50 |");
    p("|---|---|---|---|---|---|---|");
    const st = (k: string, s: string): string =>
      results.has(k) && get(k, `stages.${s}.p50`).length > 0
        ? `${fmtN(med(k, `stages.${s}.p50`))} / ${fmtN(med(k, `stages.${s}.p99`))}`
        : "–";
    for (const w of ws) {
      for (const c of ["native-hftlive", ...TS]) {
        const k = `lat/${kind}/${w.rate}/${c}`;
        if (!results.has(k)) continue;
        if (c === "native-hftlive") {
          p(`| ${w.rate} | ${c} | ${st(k, "engine")} | ${
            st(k, "deliver")
          } (engine → handler) | | | ${fmtN(med(k, "p50"))} |`);
        } else {
          p(`| ${w.rate} | ${c} | ${st(k, "engine")} | ${st(k, "wake")} | ${st(k, "drain")} | ${
            st(k, "handler")
          } | ${fmtN(med(k, "p50"))} |`);
        }
      }
    }
    p();
  }

  // ------------------------------------------------------------ monitoring page
  if ([...results.keys()].some((k) => k.startsWith("mon/"))) {
    p("### Stream latency with the monitoring page open (trades, `for await`, µs)");
    p();
    p(
      "One viewer (an `EventSource` on the page's event stream, in another Deno process), updates every 250 ms. Without and with, interleaved in the same rounds.",
    );
    p();
    p("| rate/s | p50 without | p50 with | p99 without | p99 with | monitor ms/s | ms/update | update bytes | page bytes |");
    p("|---|---|---|---|---|---|---|---|---|");
    for (const rate of [50, 1000]) {
      const a = `mon/trade/${rate}/stream`, b = `${a}-monitor`;
      if (!results.has(a)) continue;
      p(`| ${rate} | ${cell(a, "p50")} | ${cell(b, "p50")} | ${cell(a, "p99")} | ${
        cell(b, "p99")
      } | ${cell(b, "monitor_busy_ms_per_s")} | ${cell(b, "monitor_ms_per_update")} | ${
        cell(b, "monitor_update_bytes")
      } | ${cell(b, "monitor_page_bytes")} |`);
    }
    p();
  }

  // ------------------------------------------------------------ order round trip
  if (results.has("rtt/native-livebot")) {
    p(`### Order round trip (submit → ack seen; cancel → Canceled seen), sim at ${cfg.rttRate} events/s, ${cfg.orders} orders per round`);
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
    const n = med("rtt/native-livebot", "p50");
    const s = med("rtt/hftlive-stream", "p50"), h = med("rtt/hftlive-poll", "p50");
    p();
    p(`Goals: stream p50 ≤ LiveBot + 15 µs: ${fmtN(s)} vs ${fmtN(n)} (${s - n >= 0 ? "+" : ""}${
      fmtN(s - n)
    } µs) **${s <= n + 15 ? "met" : "not met"}**; hot loop p50 ≤ 1.0×: ${(h / n).toFixed(2)}× **${
      h <= n ? "met" : "not met"
    }**.`);
    p();
  }

  // ------------------------------------------------------------ throughput
  if ([...results.keys()].some((k) => k.startsWith("flood/"))) {
    p("### Throughput with a producer that is not the bottleneck (the core's test producer)");
    p();
    p(
      'The engine fills the ring with numbered trades as fast as the consumer makes room (`injectFault("flood")`, a fault-injection build); `lost` = gaps in the numbers + engine and stream drops. `JS ns/event` = main-thread CPU per event.',
    );
    p();
    p("| consumer | events/s | lost | JS ns/event | CPU (cores) | goal | verdict |");
    p("|---|---|---|---|---|---|---|");
    for (
      const [c, goal] of [["for-await", 2e6], ["poll-thread", 1e7], ["poll-inline", 1e7]] as const
    ) {
      const k = `flood/${c}`;
      if (!results.has(k)) continue;
      const ev = med(k, "events_per_s");
      const lost = get(k, "lost");
      const ok = ev >= goal && lost.length > 0 && lost.every((x) => x === 0);
      p(`| ${c} | ${cell(k, "events_per_s")} | ${cell(k, "lost")} | ${
        cell(k, "js_ns_per_event")
      } | ${cell(k, "cpu")} | ≥ ${fmtN(goal)}/s, nothing lost | **${ok ? "met" : "not met"}** |`);
    }
    p();
  }
  if ([...results.keys()].some((k) => k.startsWith("tp"))) {
    p("### Throughput through the sim (trade_ratio 1: each market event is a trade and a depth batch; the sim is the bottleneck near 330k/s)");
    p();
    p("| sim rate | consumer | events/s | sim events/s | lost | JS ns/event | CPU (cores) |");
    p("|---|---|---|---|---|---|---|");
    for (const rate of [1e9, ...cfg.ladder]) {
      const g = rate >= 1e9 ? "tpmax" : `tp${rate}`;
      for (
        const b of ["native-livebot", "native-hftlive", "hftlive-for-await", "hftlive-poll-inline"]
      ) {
        const k = `${g}/${b}`;
        if (!results.has(k)) continue;
        p(`| ${rate >= 1e9 ? "max" : rate} | ${b} | ${cell(k, "events_per_s")} | ${
          cell(k, "trades_per_s")
        } | ${cell(k, "lost")} | ${cell(k, "js_ns_per_event")} | ${cell(k, "cpu")} |`);
      }
    }
    p();
  }

  // ------------------------------------------------------------ recording
  const rec = results.get("record/alternate")?.[0];
  if (rec) {
    const l = (k: string): string => {
      const v = rec[k] as Record<string, number> | undefined;
      return v ? `p50 ${v.p50} µs, p99 ${v.p99} µs` : "-";
    };
    p(`## Recording (client.record)`);
    p();
    p(`- ${rec.seconds} s at ${rec.rate} events/s, recording switched on and off every ${rec.phase} s: feed latency (trade handler) off ${
      l("latency_off")
    }; on ${l("latency_on")}. Per phase (p50/p99 µs): ${
      (rec.phases as string[] ?? []).join(", ")
    }.`);
    p(`- ${rec.events_written} events written, ${rec.events_dropped} dropped, ${rec.files} files, ${rec.bytes_per_million_events} bytes per million events; RSS ${rec.rss_min}–${rec.rss_max} MiB (first ${rec.rss_first}, last ${rec.rss_last}).`);
    p();
  }

  // ------------------------------------------------------------ memory
  if (results.has("mem/rate")) {
    const mr = results.get("mem/rate")?.[0] ?? {};
    const mc = results.get("mem/cycles")?.[0] ?? {};
    const mn = results.get("mem/native-cycles")?.[0] ?? {};
    const mrp = results.get("mem/rate-poll")?.[0];
    const mcp = results.get("mem/cycles-poll")?.[0];
    p("### Memory (one run each)");
    p();
    p(`- Stream mode, ${mr.seconds ?? cfg.memSeconds} s at ${cfg.memRate} events/s (sim delivered ${
      fmtN(mr.sim_events_per_s as number)
    }/s, JS consumer ${
      fmtN(mr.js_events_per_s as number)
    } events/s, drops ${mr.drops}, load ${mr.load}): RSS first ${mr.rss_first} MiB, last ${mr.rss_last} MiB, min–max ${mr.rss_min}–${mr.rss_max} MiB (range **${mr.rss_range} MiB**), slope ${mr.slope_mib_per_min} MiB/min. Goal: flat within 5 MiB over 300 s: **${
      (mr.rss_range as number) <= 5 ? "met" : "not met"
    }**${cfg.memSeconds < 300 ? ` (a ${cfg.memSeconds} s run; \`--mem-long\` for 300 s)` : ""}.`);
    p(`- ${mc.cycles} connect(ready)/close cycles (${mc.ms_per_cycle} ms each, load ${mc.load}): RSS ${mc.rss_start} MiB at start, ${mc.rss_after_warm} MiB after 20 cycles, ${mc.rss_end} MiB at the end (growth after warm-up **${mc.rss_growth} MiB**); marks ${
      JSON.stringify(mc.marks)
    }; V8 heap ${mc.heap_after_warm} → ${mc.heap_end} MiB. Goal: no growth across 1,000 cycles (read as ≤ 1 MiB): **${
      (mc.rss_growth as number) <= 1 ? "met" : "not met"
    }**${(mc.cycles as number) < 1000 ? " (fewer cycles)" : ""}.`);
    p(`- The same cycles on the native engine alone (Rust, threaded client, no JS): RSS ${mn.rss_after_warm} MiB after 20 cycles, ${mn.rss_end} MiB after ${mn.cycles} (growth ${mn.rss_growth} MiB, ${mn.ms_per_cycle} ms per cycle).`);
    if (mrp && mcp) {
      p(`- Poll mode (engine thread, \`poll()\` loop): RSS over ${mrp.seconds} s at ${cfg.memRate}/s ${mrp.rss_first} → ${mrp.rss_last} MiB (range ${mrp.rss_range} MiB, slope ${mrp.slope_mib_per_min} MiB/min); ${mcp.cycles} connect/poll-until-registered/close cycles: ${mcp.rss_after_warm} → ${mcp.rss_end} MiB (growth ${mcp.rss_growth} MiB, V8 heap ${mcp.heap_after_warm} → ${mcp.heap_end} MiB).`);
    }
    p();
  }

  const errors = [...results.entries()].flatMap(([k, rs]) =>
    rs.filter((r) => r.error).map((r) => `${k}: ${r.error}`)
  );
  if (errors.length) {
    p("### Errors");
    p();
    for (const e of errors) p(`- ${e}`);
    p();
  }
  return out.join("\n");
}
