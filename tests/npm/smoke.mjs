// deno-lint-ignore-file explicit-function-return-type -- plain JavaScript: no return types
// The installed npm packages, as a user of Node or Deno runs them: `node smoke.mjs` or
// `deno run --node-modules-dir=manual --allow-ffi --allow-env --allow-read --allow-write=/tmp
// --allow-net smoke.mjs` in a project where `npm install hftlive` was run (tests/npm/run.sh).
// Starts the paper exchange, connects, streams events, submits and cancels an order, reads
// health and closes; the process must then exit on its own. Prints one line per step. With the
// argument `monitor` it also serves the monitoring page (node:http under Node, Deno.serve under
// Deno) and checks the token, the page and one live update over Server-Sent Events.

// Imported by name, resolved in the project's node_modules (a variable keeps this file out of
// the repository's own module graph, where "hftlive" does not resolve).
const pkg = "hftlive";
const { LiveClient, OrderStatus, Side, Sim } = await import(pkg);

const runtime = typeof globalThis.Deno === "object" ? "deno" : "node";
const name = `npm-smoke-${runtime}-${Math.floor(Math.random() * 1e9)}`;
const symbol = { symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 };

const sim = await Sim.start({
  name,
  instruments: [{ ...symbol, startPrice: 50_000 }],
  rate: 1000,
});
try {
  const client = await LiveClient.connect({
    instruments: [{ connector: name, ...symbol }],
    ready: 10_000,
  });
  try {
    console.log(`connected: wake ${client.wake}`);
    let events = 0;
    let trades = 0;
    let bid = NaN;
    const deadline = Date.now() + 10_000;
    for await (const e of client.events) {
      events++;
      if (e.type === "trade") trades++;
      if (e.type === "bbo") bid = e.bidPrice;
      if ((trades >= 5 && bid > 0) || Date.now() > deadline) break;
    }
    console.log(`streamed: ${events} events, ${trades} trades, best bid ${bid}`);
    if (trades < 5 || !(bid > 0)) throw new Error("too few events");

    const order = await client.submitOrder(
      { side: Side.Buy, price: bid - 50, qty: 0.001 },
      { wait: true, timeoutMs: 5_000 },
    );
    if (order.status !== OrderStatus.New) throw new Error(`order status ${order.status}`);
    console.log(`submitted: order ${order.orderId} new`);
    const canceled = await client.cancelOrder(order.orderId, { wait: true, timeoutMs: 5_000 });
    if (canceled.status !== OrderStatus.Canceled) {
      throw new Error(`cancel left status ${canceled.status}`);
    }
    console.log(`canceled: order ${order.orderId}`);

    const h = client.health;
    if (!h.connected) throw new Error("health: not connected");
    console.log(`health: connected, feed p50 ${h.feedLatency.p50} ns, ${h.eventsTotal} events`);

    const args = runtime === "deno" ? globalThis.Deno.args : (await import("node:process")).argv;
    if (args.includes("monitor")) await monitorCheck(client);
  } finally {
    await client.close();
  }
} finally {
  sim.stop();
}

/** The monitoring page: token refused, page served, one live update with a book. */
async function monitorCheck(client) {
  const monitor = await client.monitor();
  try {
    const refused = await fetch(monitor.url.replace(/token=.*/, "token=wrong-token-0123456789"));
    await refused.text();
    if (refused.status !== 401 || monitor.refused !== 1) {
      throw new Error(`monitor: no token gave ${refused.status}, refused ${monitor.refused}`);
    }
    const page = await fetch(monitor.url);
    const html = await page.text();
    if (page.status !== 200 || !html.includes("<title>hftlive monitor</title>")) {
      throw new Error(`monitor: page status ${page.status}`);
    }
    const events = await fetch(monitor.url.replace("/?", "/events?"));
    const reader = events.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/^data: .*\n\n/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error("monitor: the event stream ended");
      text += value;
    }
    await reader.cancel();
    const update = JSON.parse(text.match(/^data: (.*)$/m)[1]);
    if (!(update.instruments[0].bids.length > 0)) throw new Error("monitor: no book in the update");
  } finally {
    await monitor.close();
  }
  console.log("monitor: page served, 401 without the token, live updates");
}

// Which file the native library came from (the platform package, when nothing else is there);
// read by a child `cat`, as Deno reads /proc/self only with --allow-all (needs --allow-run=cat).
try {
  const { execFileSync } = await import("node:child_process");
  const { default: process } = await import("node:process");
  const maps = execFileSync("cat", [`/proc/${process.pid}/maps`], {
    encoding: "utf8",
    env: {},
  });
  const lib = maps.split("\n").find((l) => l.endsWith("libhftlive.so"));
  console.log(`library: ${lib ? lib.slice(lib.indexOf("/")) : "not mapped"}`);
} catch (e) {
  console.log(`library: unknown (${e instanceof Error ? e.message : e})`);
}
console.log(`closed (${runtime})`);
