/**
 * From live to backtest and back: records the paper exchange's feed for `SECONDS` in
 * hftbacktest's `.npz` format while a strategy runs, then replays the files through a second
 * paper exchange into the same strategy code, and compares what the strategy saw.
 *
 * Run: `deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net examples/record_replay.ts`
 *
 * @module
 */

import { ErrorKind, LiveClient, Sim, SimFault, type Trade } from "../mod.ts";

const SECONDS = Number(Deno.env.get("HFTLIVE_EXAMPLE_SECONDS") ?? 10);
const SPEED = 2; // the replay runs at twice the recorded speed
const TICK = 0.1;
const LOT = 0.001;
const instrument = { symbol: "btcusdt", tickSize: TICK, lotSize: LOT, startPrice: 50_000 };

/** The strategy: trade count, volume, VWAP, and how often a trade crosses the VWAP. */
class Strategy {
  trades = 0;
  volume = 0;
  #notional = 0;
  crosses = 0;
  #above: boolean | undefined;
  onTrade(t: Trade): void {
    this.trades++;
    this.volume += t.qty;
    this.#notional += t.price * t.qty;
    const above = t.price > this.vwap;
    if (this.#above !== undefined && above !== this.#above) this.crosses++;
    this.#above = above;
  }
  get vwap(): number {
    return this.volume > 0 ? this.#notional / this.volume : 0;
  }
}

/** Connects to `sim`, runs a fresh strategy on it; `ready()` once registered. */
async function run(sim: Sim): Promise<{ client: LiveClient; strategy: Strategy }> {
  const client = await LiveClient.connect({
    instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: TICK, lotSize: LOT }],
  });
  const strategy = new Strategy();
  client.on("trade", (t) => strategy.onTrade(t)); // before any event can arrive
  await client.ready();
  return { client, strategy };
}

/** Resolves once `client` has everything `sim` sent so far: a marker through the same IPC. */
function marker(sim: Sim, client: LiveClient): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const off = client.on("error", (e) => {
    if (e.kind === ErrorKind.Custom) (off(), resolve());
  });
  sim.fault(SimFault.Error, ErrorKind.Custom);
  return promise;
}

function show(what: string, s: Strategy, client: LiveClient): string {
  const bbo = client.bbo(0);
  const mid = bbo ? ((bbo.bidPrice + bbo.askPrice) / 2).toFixed(2) : "-";
  return `${what} trades=${s.trades} volume=${s.volume.toFixed(3)} vwap=${s.vwap.toFixed(2)} ` +
    `crosses=${s.crosses} mid=${mid}`;
}

// 1. Live: the exchange waits (paused) until the recording runs, so both see the same events.
const dir = await Deno.makeTempDir({ prefix: "hftlive-record-" });
const live = await Sim.start({ name: `rec-${Deno.pid}`, instruments: [instrument], rate: 500 });
live.fault(SimFault.PauseMarket, 1);
const a = await run(live);
const rec = a.client.record(dir, { rollSeconds: Math.max(1, SECONDS / 3) });
live.fault(SimFault.PauseMarket, 0);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
live.fault(SimFault.PauseMarket, 1);
await marker(live, a.client); // the strategy has seen every event the recording holds
const { files, stats } = await rec.stop();
console.log(
  `recorded ${stats.eventsWritten} events into ${files.length} files, ${stats.dropped} dropped`,
);
const liveLine = show("live  ", a.strategy, a.client);
await a.client.close();
live.stop();

// 2. Replay: the same strategy code against a paper exchange replaying the files.
const replay = await Sim.start({
  name: `replay-${Deno.pid}`,
  instruments: [instrument],
  replay: { files, speed: SPEED },
});
const b = await run(replay);
const deadline = Date.now() + (SECONDS / SPEED + 10) * 1000;
while (replay.stats().replaying > 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 50));
}
await marker(replay, b.client); // the strategy has seen the whole replay
const replayLine = show("replay", b.strategy, b.client);
await b.client.close();
replay.stop();
await Deno.remove(dir, { recursive: true });

console.log(liveLine);
console.log(replayLine);
console.log(`replay matches live: ${liveLine.slice(6) === replayLine.slice(6)}`);
