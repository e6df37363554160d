// Node against Deno on the same npm build: `node runtimes.mjs <bench>` or `deno run
// --node-modules-dir=manual --allow-ffi --allow-net --allow-read=/tmp --allow-write=/tmp
// runtimes.mjs <bench>`, in a project where hftlive is installed (bench/runtimes.sh makes one).
// Prints one JSON line.
//   throughput: the sim at full speed (every event a trade) into `for await (client.trades)`
//               for 3 s after 0.5 s of warm-up: trades/s delivered, drops, and the process's
//               CPU per trade in µs (sim and engine threads included: the same in both runtimes);
//   latency:    trades at 1,000 events/s for 5 s: connector local timestamp -> the handler of
//               `for await (client.trades)`, in µs (the core's clock, hl_now, on both ends).
import process from "node:process";
import { pathToFileURL } from "node:url";

const pkg = "hftlive"; // a variable: resolved in the project's node_modules, not the repository
const { LiveClient, Sim } = await import(pkg);
const library = new URL("node_modules/hftlive/ffi/library.js", pathToFileURL(`${process.cwd()}/`));
const now = (await (await import(library.href)).loadLibrary()).symbols.hl_now;

const bench = process.argv[2] ?? "latency";
const runtime = typeof globalThis.Deno === "object" ? "deno" : "node";
const name = `rt-${runtime}-${process.pid}`;
const symbol = { symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 };
const quantile = (s, q) => s[Math.round((s.length - 1) * q)];

const fast = bench === "throughput";
const sim = await Sim.start({
  name,
  instruments: [{ ...symbol, startPrice: 50_000 }],
  rate: fast ? 1e9 : 1000,
  tradeRatio: fast ? 1 : 0.5,
  pollUs: fast ? 0 : 50,
  seed: 7,
});
const client = await LiveClient.connect({
  instruments: [{ connector: name, ...symbol }],
  ready: true,
  ...(fast ? { ringCapacity: 1 << 16, streamCapacity: 1 << 20 } : {}),
});
const t0 = performance.now();
const warmEnd = t0 + 500, end = warmEnd + (fast ? 3000 : 5000);
const lat = [];
let n = 0, n0 = 0, w0 = 0, cpu0 = 0;
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
for await (const tr of client.trades) {
  const l = (now() - tr.localTs) / 1e3;
  const t = performance.now();
  if (t >= end) break;
  if (t < warmEnd) continue;
  if (w0 === 0) (w0 = t, n0 = n, cpu0 = cpuSeconds());
  n++;
  if (!fast) lat.push(l);
}
const seconds = (performance.now() - w0) / 1000;
const cpuPerTrade = Math.round((cpuSeconds() - cpu0) / (n - n0) * 1e7) / 10;
const h = client.health;
const drops = h.engineDrops + Object.values(h.streamDrops).reduce((a, b) => a + b, 0);
await client.close();
sim.stop();
lat.sort((a, b) => a - b);
console.log(JSON.stringify(
  fast ? { runtime, bench, tradesPerSecond: Math.round((n - n0) / seconds), cpuPerTrade, drops } : {
    runtime,
    bench,
    n: lat.length,
    p50: Math.round(quantile(lat, 0.5) * 10) / 10,
    p99: Math.round(quantile(lat, 0.99) * 10) / 10,
    drops,
  },
));
