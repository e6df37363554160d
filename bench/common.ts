/**
 * What the TypeScript benches share: their `key=value` arguments, the core's clock, the sim
 * every bench runs against (configured like the native baseline's: one instrument, seed 7, tick
 * 0.1, lot 0.001), CPU and memory readings, and the one JSON line each bench prints.
 *
 * @module
 */

import { Sim } from "../mod.ts";
import { loadLibrarySync } from "../ffi/library.ts";

export const [bench = "latency-hot", ...rest] = Deno.args;
export const args: Map<string, string> = new Map(
  rest.map((kv) => kv.split("=", 2) as [string, string]),
);
export const num = (k: string, d: number): number => (args.has(k) ? Number(args.get(k)) : d);
export const str = (k: string, d: string): string => args.get(k) ?? d;

/** The core's clock (`hl_now`): CLOCK_REALTIME in ns, as f64 (256 ns steps today). */
export const now: () => number = loadLibrarySync().symbols.hl_now;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const name: string = str("name", `hlb-ts-${Deno.pid}-${bench}`);
export const SYMBOL = { symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 } as const;
export const instruments = [{ connector: name, ...SYMBOL }];

/** The bench's sim: `rate` market events/s, arrivals and burst from the arguments. */
export function startSim(rate: number, tradeRatio: number, pollUs: number): Promise<Sim> {
  return Sim.start({
    name,
    instruments: [{ ...SYMBOL, startPrice: 50_000 }],
    rate,
    seed: 7,
    tradeRatio,
    pollUs,
    arrivals: str("arrivals", "periodic") as "periodic",
    burst: num("burst", 1),
  });
}

/** CPU seconds of this process (user + system). Reading /proc/self needs -A. */
export function cpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/self/stat");
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(x[11]) + Number(x[12])) / 100;
}

/** CPU seconds of this process's main (JavaScript) thread. */
export function mainThreadCpu(): number {
  const f = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(x[11]) + Number(x[12])) / 100;
}

export const rssMiB = (): number => Deno.memoryUsage().rss / 2 ** 20;
// deno-lint-ignore no-explicit-any
export const gc = (): void => (globalThis as any).gc?.();

/** Prints the bench's one JSON line. */
export function emit(body: Record<string, unknown>): void {
  console.log(JSON.stringify({ impl: `hftlive-${bench}`, bench, ...body }));
}

/** Extra client options from `opts=<JSON>` (e.g. `{"engineSpinUs":1000}`). */
export function extraOptions(): Record<string, unknown> {
  const o = args.get("opts");
  return o ? JSON.parse(o) : {};
}
