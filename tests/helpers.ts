/**
 * Shared helpers of the Deno tests: unique connector names, the in-process
 * sim (`Sim.start`) to run against, and small async utilities. Not a test
 * file itself (no `_test` suffix), so importing it registers no tests.
 */

import {
  type ErrorEvent,
  ErrorKind,
  LiveClient,
  type LiveEvent,
  Sim,
  SimFault,
  type SimOptions,
} from "../mod.ts";
import type { ConnectOptions } from "../client.ts";
import assert from "node:assert/strict";

let counter = 0;

/** A connector name unique to this process and call. */
export function uniqueName(prefix = "t"): string {
  return `${prefix}-${Deno.pid}-${++counter}-${Math.floor(Math.random() * 1e6)}`;
}

/** A running in-process sim with the symbol tests connect to. */
export interface TestSim extends AsyncDisposable {
  readonly name: string;
  readonly symbol: string;
  readonly sim: Sim;
  fault(fault: SimFault, value?: number): void;
  stop(): Promise<void>;
}

/** Options of {@linkcode startSim}. */
export interface TestSimOptions extends Partial<Omit<SimOptions, "instruments">> {
  symbols?: string[];
}

/** Path of the `hftlive-sim` binary of the cargo build. */
export const simBin: string = new URL("../rust/target/release/hftlive-sim", import.meta.url)
  .pathname;

/** Starts an in-process sim with btcusdt (tick 0.1, lot 0.001, 50 000) by default. */
export async function startSim(opts: TestSimOptions = {}): Promise<TestSim> {
  const { symbols: syms, ...rest } = opts;
  const name = opts.name ?? uniqueName();
  const symbols = syms ?? ["btcusdt"];
  const sim = await Sim.start({
    rate: 500,
    seed: 1,
    ...rest,
    name,
    instruments: symbols.map((symbol) => ({
      symbol,
      tickSize: 0.1,
      lotSize: 0.001,
      startPrice: 50_000,
    })),
  });
  const stop = (): Promise<void> => {
    sim.stop();
    return Promise.resolve();
  };
  return {
    name,
    symbol: symbols[0],
    sim,
    fault: (f, v) => sim.fault(f, v),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Connects a client to `sim` (its first symbol) and waits for registration. */
export function connect(sim: TestSim, extra: Partial<ConnectOptions> = {}): Promise<LiveClient> {
  return LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: sim.symbol, tickSize: 0.1, lotSize: 0.001 }],
    ready: 10_000,
    ...extra,
  });
}

/** Resolves with the first event for which `pred` holds, or rejects after `ms`. */
export function nextEvent<T extends LiveEvent>(
  client: LiveClient,
  pred: (e: LiveEvent) => e is T,
  ms = 5000,
): Promise<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const timer = setTimeout(() => {
    off();
    reject(new Error(`no matching event within ${ms} ms`));
  }, ms);
  const off = client.on("event", (e) => {
    if (pred(e)) {
      clearTimeout(timer);
      off();
      resolve(e);
    }
  });
  return promise;
}

/** The price of the next trade the client sees. */
export async function lastTrade(client: LiveClient): Promise<number> {
  const e = await nextEvent(
    client,
    (e): e is Extract<LiveEvent, { type: "trade" }> => e.type === "trade",
  );
  return e.price;
}

/**
 * A barrier through the real IPC: resolves once `client` has received everything `sim` sent
 * before this call. The sim runs faults in order on its one thread and sends every message on
 * one publisher, so a connector error injected now reaches the client after all of them.
 * (It counts as one `Custom` error in the client's health.)
 */
export async function barrier(sim: TestSim, client: LiveClient, ms = 5000): Promise<void> {
  const marker = nextEvent(
    client,
    (e): e is ErrorEvent =>
      e.type === "error" && e.kind === ErrorKind.Custom && /injected fault/.test(e.message),
    ms,
  );
  sim.fault(SimFault.Error, ErrorKind.Custom);
  await marker;
}

/** Waits until `cond()` holds (polling every 10 ms) or throws after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Threads named "hftlive-engine" in this process (one per open threaded
 * client). Read by a child `cat`: Deno refuses to read /proc/<self> without
 * --allow-all.
 */
export async function engineThreads(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `cat /proc/${Deno.pid}/task/*/comm 2>/dev/null`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((l) => l === "hftlive-engine").length;
}

/** The permissions examples and fixtures run with (the doorbell needs /tmp and net). */
export const RUN_PERMISSIONS: readonly string[] = [
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write=/tmp",
  "--allow-net",
];

/** A `deno run` child whose stdout is read as text. */
export interface Script {
  readonly child: Deno.ChildProcess;
  /** Everything read from stdout so far. */
  readonly out: () => string;
  /** Reads stdout until `marker` appears (or it ends); returns what was read so far. */
  until(marker: string | RegExp): Promise<string>;
  /** Reads stdout to its end, waits for the exit; returns the status, stdout and stderr. */
  finish(): Promise<{ code: number; out: string; err: string }>;
}

/**
 * Spawns `deno run` of `path` with {@linkcode RUN_PERMISSIONS} (or `options.perms`) and
 * `options.env` added to the environment.
 */
export function spawnScript(
  path: string | URL,
  args: readonly string[] = [],
  options: { perms?: readonly string[]; env?: Record<string, string> } = {},
): Script {
  const file = typeof path === "string" ? path : path.pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.perms ?? RUN_PERMISSIONS), file, ...args],
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const err = new Response(child.stderr).text();
  let out = "";
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const { value, done } = await reader.read();
    if (done) ended = true;
    else out += value;
    return !done;
  };
  const found = (m: string | RegExp): boolean =>
    typeof m === "string" ? out.includes(m) : m.test(out);
  return {
    child,
    out: () => out,
    async until(marker): Promise<string> {
      while (!found(marker) && await more()) { /* reading */ }
      return out;
    },
    async finish(): Promise<{ code: number; out: string; err: string }> {
      while (await more()) { /* reading */ }
      const { code } = await child.status;
      return { code, out, err: await err };
    },
  };
}

/**
 * Starts the `hftlive-sim` binary as connector `name` (btcusdt, tick 0.1, lot 0.001, 50,000) and
 * resolves once it says it is ready; its output is drained so it never blocks.
 */
export function spawnSim(name: string, rate = 500): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(simBin, {
    args: [
      name,
      "--rate",
      String(rate),
      "--seed",
      "3",
      "--symbol",
      "btcusdt",
      "--tick",
      "0.1",
      "--lot",
      "0.001",
      "--price",
      "50000",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    assert.match(out, new RegExp(`^ready ${name}`));
    // Keep draining so the child never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })().catch(() => {});
    child.stderr.cancel().catch(() => {});
    return child;
  })();
}
