/**
 * Runs every example in `examples/` as a subprocess against its embedded sim
 * (`deno run --allow-ffi --allow-env --allow-read --allow-write=/tmp --allow-net <file>`, with
 * `HFTLIVE_EXAMPLE_SECONDS=1`) and checks its exit code and key output lines.
 */

import assert from "node:assert/strict";
import { spawnScript } from "./helpers.ts";

const dir = new URL("../examples/", import.meta.url);

async function runExample(file: string): Promise<string> {
  const { code, out, err } = await spawnScript(new URL(file, dir), [], {
    env: { HFTLIVE_EXAMPLE_SECONDS: "1" },
  }).finish();
  assert.equal(code, 0, `${file} exited with ${code}\n--- stdout\n${out}\n--- stderr\n${err}`);
  return out;
}

/** Every number printed with more than 6 decimals (float noise like 0.026000000000000002). */
function floatNoise(out: string): string[] {
  return out.match(/\d+\.\d{7,}/g) ?? [];
}

Deno.test("every example has a test here", () => {
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".ts")).map((e) => e.name)
    .sort();
  assert.deepEqual(files, [
    "async_streams.ts",
    "callbacks.ts",
    "demo.ts",
    "hot_loop.ts",
    "market_maker.ts",
    "record_replay.ts",
    "recover_orders.ts",
    "worker_strategy.ts",
  ]);
});

Deno.test("examples/record_replay.ts replays the recording into the same strategy, same result", async () => {
  const out = await runExample("record_replay.ts");
  const m = out.match(/^recorded (\d+) events into (\d+) files, 0 dropped$/m);
  assert.ok(m, out);
  assert.ok(Number(m[1]) > 100 && Number(m[2]) >= 1, out);
  const live = out.match(/^live {3}(trades=(\d+) .*)$/m);
  const replay = out.match(/^replay (trades=\d+ .*)$/m);
  assert.ok(live && replay, out);
  assert.ok(Number(live[2]) > 50, "trades seen live");
  assert.equal(replay[1], live[1]);
  assert.match(out, /^replay matches live: true$/m);
});

Deno.test("examples/demo.ts prints trades, best bid/offer, an ack and a fill or cancel", async () => {
  const out = await runExample("demo.ts");
  assert.match(out, /^paper exchange "demo-\d+" started$/m);
  assert.match(out, /^client connected, btcusdt registered$/m);
  assert.match(out, /^trade {2}(buy |sell) \d+\.\d{3} @ \d+\.\d$/m);
  assert.match(out, /^bbo {4}\d+\.\d x \d+\.\d{3} \| \d+\.\d x \d+\.\d{3}$/m);
  assert.match(out, /^health connected=true /m);
  assert.match(out, /^book {3}bids (\d+\.\d ?)+ \| asks (\d+\.\d ?)+$/m);
  assert.match(out, /^ack {4}order \d+ buy 0\.001 @ \d+\.\d: New \(leaves 0\.001\)$/m);
  assert.match(out, /^(cancel|final) .*: (Canceled|Filled) /m);
  assert.match(
    out,
    /^final {2}order \d+ buy 0\.002 @ \d+\.\d: Filled \(leaves 0\.000, last fill /m,
  );
  assert.match(out, /^position \d+\.\d{3}$/m);
  assert.match(out, /^order round trip p50 \d+ µs/m);
  assert.match(out, /^done$/m);
  assert.deepEqual(floatNoise(out), [], "quantities and prices are printed on their grid");
});

Deno.test("examples/demo.ts --monitor serves the page (token required) and prints its URL", async () => {
  const script = spawnScript(new URL("demo.ts", dir), ["--monitor=1"], {
    env: { HFTLIVE_EXAMPLE_SECONDS: "1" },
  });
  const out = await script.until(/^monitor (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})$/m);
  const url = out.match(/^monitor (http:\S+)$/m)![1];
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>hftlive monitor<\/title>/);
  const refused = await fetch(url.replace(/token=.*/, "token=0123456789abcdef0123456789abcdef"));
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const { code, out: all, err } = await script.finish();
  assert.equal(code, 0, `${all}\n${err}`);
  assert.match(all, /^monitor stays up for 1 s \(Ctrl-C to stop\): http:/m);
  assert.match(all, /^monitor \d+ updates, 1 refused requests, \d+\.\d\d ms per update$/m);
  assert.match(all, /^done$/m);
});

Deno.test("examples/async_streams.ts runs concurrent handlers and ends them on close", async () => {
  const out = await runExample("async_streams.ts");
  assert.match(out, /^order \d+ New$/m);
  const m = out.match(/^trades=(\d+) bbo=(\d+) orders=(\d+) errors=(\d+)$/m);
  assert.ok(m, out);
  assert.ok(Number(m[1]) > 0, "trades handled");
  assert.ok(Number(m[2]) > 0, "bbo handled");
  assert.ok(Number(m[3]) >= 2, "ack and cancel (or fill) handled");
  assert.equal(Number(m[4]), 0);
});

Deno.test("examples/callbacks.ts reports stale, fresh, error, disconnect and reconnect", async () => {
  const out = await runExample("callbacks.ts");
  assert.match(out, /^stale: btcusdt \(connector still up: true\)$/m);
  assert.match(out, /^fresh: btcusdt$/m);
  assert.match(out, /^error kind 0 code 0: .*ConnectionInterrupted$/m);
  assert.match(out, /^disconnect: callbacks-\d+$/m);
  assert.match(out, /^reconnect: callbacks-\d+ /m);
  assert.match(out, /^connected=true reconnects=1$/m);
  const order = ["stale:", "fresh:", "error kind", "disconnect:", "reconnect:"].map((s) =>
    out.indexOf(s)
  );
  assert.deepEqual([...order].sort((a, b) => a - b), order, "callbacks in the order of the faults");
});

Deno.test("examples/hot_loop.ts polls events synchronously and places an order", async () => {
  const out = await runExample("hot_loop.ts");
  assert.match(out, /^order \d+: New$/m);
  const m = out.match(/^(\d+) events in 1 s, feed latency p50 (\d+\.\d) µs, p99 (\d+\.\d) µs$/m);
  assert.ok(m, out);
  assert.ok(Number(m[1]) > 100, `only ${m[1]} events`);
});

Deno.test("examples/market_maker.ts quotes, fills and stays within its inventory limit", async () => {
  const out = await runExample("market_maker.ts");
  assert.match(out, /^\d+ fills, position -?\d+\.\d{3}$/m);
  const m = out.match(/^max inventory (\d+\.\d{3}) \(limit (\d+\.\d{3})\): within limit$/m);
  assert.ok(m, out);
  assert.ok(Number(m[1]) <= Number(m[2]));
  const pos = Number(out.match(/position (-?\d+\.\d{3})/)![1]);
  assert.ok(Math.abs(pos) <= Number(m[2]));
});

Deno.test("examples/worker_strategy.ts runs a hot loop in a Worker while the main thread ticks", async () => {
  const out = await runExample("worker_strategy.ts");
  assert.match(out, /^strategy: order \d+ acknowledged at \d+\.\d$/m);
  const ticks = out.match(/^main thread ran (\d+) timer ticks while the strategy polled$/m);
  assert.ok(ticks && Number(ticks[1]) >= 5, out);
  const m = out.match(/^(\d+) events, (\d+) trades in the worker; feed latency p50 /m);
  assert.ok(m && Number(m[1]) > 100 && Number(m[2]) > 10, out);
});

Deno.test("examples/recover_orders.ts finds the orders a dead client left and cancels them", async () => {
  const out = await runExample("recover_orders.ts");
  assert.match(out, /^left resting: 3 orders$/m);
  assert.equal(out.match(/^found /gm)?.length, 3);
  assert.equal(out.match(/^cleaned order \d+ .* Canceled/gm)?.length, 3);
  assert.match(out, /^resting now: 0 \(health: 3 adopted\)$/m);
});
