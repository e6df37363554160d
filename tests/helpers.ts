/**
 * Shared helpers of the Deno tests: unique connector names and a sim to run
 * against. The in-process sim (`Sim.start`) is used when the native library
 * exports it; otherwise the `hftlive-sim` binary of the cargo build is
 * spawned (then fault injection is unavailable and fault tests are skipped).
 */

import { LiveClient, type LiveEvent, Sim, type SimFault } from "../mod.ts";
import type { ConnectOptions } from "../client.ts";
import assert from "node:assert/strict";

let counter = 0;

/** A connector name unique to this process and call. */
export function uniqueName(prefix = "t"): string {
  return `${prefix}-${Deno.pid}-${++counter}-${Math.floor(Math.random() * 1e6)}`;
}

/** Whether the native library has the in-process sim. */
export const hasInProcessSim: boolean = (() => {
  try {
    const s = Sim.start({ name: "", instruments: [] });
    s.stop();
    return true;
  } catch (e) {
    return !(e instanceof Error && /built without hl_sim_start/.test(e.message));
  }
})();

/** A running sim, in-process or as a child process. */
export interface TestSim extends AsyncDisposable {
  readonly name: string;
  readonly symbol: string;
  fault(fault: SimFault, value?: number): void;
  stop(): Promise<void>;
}

export interface TestSimOptions {
  name?: string;
  rate?: number;
  seed?: number;
  staleAfterMs?: number;
  symbols?: string[];
}

const simBin = new URL("../rust/target/release/hftlive-sim", import.meta.url).pathname;

/** Starts a sim with btcusdt (tick 0.1, lot 0.001, 50 000). */
export async function startSim(opts: TestSimOptions = {}): Promise<TestSim> {
  const name = opts.name ?? uniqueName();
  const symbols = opts.symbols ?? ["btcusdt"];
  const instruments = symbols.map((symbol) => ({
    symbol,
    tickSize: 0.1,
    lotSize: 0.001,
    startPrice: 50_000,
  }));
  if (hasInProcessSim) {
    const sim = Sim.start({
      name,
      instruments,
      rate: opts.rate ?? 500,
      seed: opts.seed ?? 1,
      staleAfterMs: opts.staleAfterMs,
    });
    return {
      name,
      symbol: symbols[0],
      fault: (f, v) => sim.fault(f, v),
      stop: () => {
        sim.stop();
        return Promise.resolve();
      },
      [Symbol.asyncDispose]: () => {
        sim.stop();
        return Promise.resolve();
      },
    };
  }
  const args = [name, "--rate", String(opts.rate ?? 500), "--seed", String(opts.seed ?? 1)];
  if (opts.staleAfterMs) args.push("--stale-after-ms", String(opts.staleAfterMs));
  for (const s of symbols) args.push("--symbol", s);
  const child = new Deno.Command(simBin, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /ready/);
  reader.releaseLock();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  };
  return {
    name,
    symbol: symbols[0],
    fault: () => {
      throw new Error("fault injection needs the in-process sim");
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Connects a client to `sim` (btcusdt) and waits for registration. */
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

Deno.test("startSim() serves a client that registers", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  assert.equal(client.health.instruments[0].registered, true);
});
