/**
 * The monitoring page (`client.monitor()`), against the real core and the sim:
 * its options and security defaults, its event stream, closing, the process
 * not kept alive, and the page itself in a headless Chromium (scripts/chromium.sh
 * installs Debian's `chromium` when missing; without it the browser test fails).
 */

import assert from "node:assert/strict";
import { type Monitor, OrderStatus, Side, ValidationError } from "../mod.ts";
import { Browser } from "./cdp.ts";
import { connect, RUN_PERMISSIONS, startSim } from "./helpers.ts";

/** One page's event stream, read with fetch: the parsed `data:` of each update. */
interface Events {
  next(): Promise<Update>;
  /** The name of the next named event (`event: closed`), or "end" when the stream ends. */
  nextNamed(): Promise<string>;
  close(): Promise<void>;
}

/** The fields of an update the tests read. */
interface Update {
  seq: number;
  t: number;
  health: { connected: boolean; instruments: { registered: boolean; symbol: string }[] };
  instruments: {
    bbo: number[] | null;
    bids: number[][];
    asks: number[][];
    position: number | null;
  }[];
  trades: { p: number; q: number; t: number }[];
  orders: { id: number; status: string }[];
  orderUpdates: { id: number; status: string }[];
  latency: unknown[][];
}

async function openEvents(url: string): Promise<Events> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const block = async (): Promise<string | undefined> => {
    for (;;) {
      const i = buf.indexOf("\n\n");
      if (i >= 0) {
        const b = buf.slice(0, i);
        buf = buf.slice(i + 2);
        return b;
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buf += value;
    }
  };
  return {
    async next(): Promise<Update> {
      for (;;) {
        const b = await block();
        if (b === undefined) throw new Error("the event stream ended");
        const data = b.split("\n").find((l) => l.startsWith("data: "));
        if (data !== undefined && !b.startsWith("event:")) return JSON.parse(data.slice(6));
      }
    },
    async nextNamed(): Promise<string> {
      for (;;) {
        const b = await block();
        if (b === undefined) return "end";
        const m = b.match(/^event: (\S+)/);
        if (m) return m[1];
      }
    },
    close: () => reader.cancel(),
  };
}

const at = (m: Monitor, path: string, token = m.token): string =>
  `http://127.0.0.1:${m.port}${path}${token === "" ? "" : `?token=${token}`}`;

/** Whether a TCP port on 127.0.0.1 can be bound (then it is released again). */
function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("monitor() refuses a non-loopback bind without allowRemote, and bad options", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  for (const hostname of ["0.0.0.0", "192.168.1.10", "example.com", "::"]) {
    await assert.rejects(client.monitor({ hostname }), ValidationError, hostname);
  }
  await assert.rejects(client.monitor({ port: 70_000 }), ValidationError);
  await assert.rejects(client.monitor({ token: "short" }), ValidationError);
  await assert.rejects(client.monitor({ token: "has spaces in it, 1234" }), ValidationError);
  await assert.rejects(client.monitor({ intervalMs: 1 }), ValidationError);
  await assert.rejects(client.monitor({ levels: 0 }), ValidationError);
  // Loopback names are fine; a remote bind is allowed when asked for.
  for (const hostname of ["127.0.0.1", "localhost"]) {
    await using m = await client.monitor({ hostname });
    assert.ok(m.port > 0);
    assert.match(m.url, new RegExp(`^http://${hostname}:${m.port}/\\?token=[0-9a-f]{32}$`));
  }
  await using remote = await client.monitor({ hostname: "0.0.0.0", allowRemote: true });
  assert.match(remote.url, /^http:\/\/0\.0\.0\.0:\d+\/\?token=/);
});

Deno.test("every request needs the token: 401 (counted) without it, 405 for anything but GET", async () => {
  await using sim = await startSim();
  await using client = await connect(sim);
  await using m = await client.monitor({ token: "a-given-token-0123456789" });
  assert.equal(m.token, "a-given-token-0123456789");
  const other = await client.monitor();
  assert.notEqual(other.token, m.token, "a random token per monitor");
  assert.match(other.token, /^[0-9a-f]{32}$/);
  await other.close();
  for (const path of ["/", "/events", "/nothing"]) {
    for (
      const token of [
        "",
        "wrong-token-0123456789",
        "a-given-token-012345678",
        "A-GIVEN-TOKEN-0123456789",
      ]
    ) {
      const r = await fetch(at(m, path, token));
      assert.equal(r.status, 401, `${path} with token "${token}"`);
      assert.doesNotMatch(await r.text(), /btcusdt|token-0123/, "nothing of the page leaks");
    }
  }
  assert.equal(m.refused, 12);
  const post = await fetch(at(m, "/"), { method: "POST", body: "side=buy" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
  assert.equal(m.refused, 13);
  const page = await fetch(at(m, "/"));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.match(
    page.headers.get("content-security-policy")!,
    /default-src 'none'; script-src 'sha256-/,
  );
  assert.equal(page.headers.get("cache-control"), "no-store, no-transform");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const html = await page.text();
  assert.match(html, /^<!doctype html>/);
  assert.equal(new TextEncoder().encode(html).length, m.stats.pageBytes);
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3)/, "no CDN or other origin");
  assert.equal((await fetch(at(m, "/nothing"))).status, 404);
  assert.equal(m.refused, 13, "a right token is not refused");
  const head = await fetch(at(m, "/"), { method: "HEAD" });
  assert.equal(head.status, 200);
});

Deno.test("the event stream carries health, book, trades, orders and position, a few times a second", async () => {
  await using sim = await startSim({ rate: 500 });
  await using client = await connect(sim);
  await using m = await client.monitor({ intervalMs: 200 });
  const ev = await openEvents(at(m, "/events"));
  try {
    const first = await ev.next();
    assert.equal(first.health.connected, true);
    assert.equal(first.health.instruments[0].symbol, "btcusdt");
    assert.equal(first.health.instruments[0].registered, true);
    const resting = await client.submitOrder(
      { side: Side.Buy, price: client.bbo(0)!.bidPrice - 5, qty: 0.001 },
      { wait: true },
    );
    assert.equal(resting.status, OrderStatus.New);
    // Updates come on the monitor's timer, not per event (the sim sends ~500 events/s).
    const t0 = performance.now();
    let u = await ev.next();
    const seqs = [u.seq];
    while (performance.now() - t0 < 1000) seqs.push((u = await ev.next()).seq);
    assert.ok(seqs.length <= 8, `${seqs.length} updates in 1 s at intervalMs 200`);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, "none skipped");
    const book = u.instruments[0];
    assert.ok(book.bids.length > 0 && book.asks.length > 0, "a depth ladder");
    assert.ok(book.bids[0][0] < book.asks[0][0], "bids below asks");
    assert.ok(book.bbo !== null && book.bbo[0] === book.bids[0][0]);
    assert.equal(book.position, 0);
    assert.ok(u.trades.length > 0 && u.trades.length <= 20, "the last trades");
    assert.ok(u.trades[0].t >= u.trades[u.trades.length - 1].t, "newest first");
    assert.deepEqual(u.orders.map((o) => [o.id, o.status]), [[resting.orderId, "New"]]);
    assert.ok(u.orderUpdates.some((o) => o.id === resting.orderId && o.status === "New"));
    assert.ok(u.latency.length >= 1, "a latency point per second");
    const text = JSON.stringify(u);
    assert.doesNotMatch(text, /libPath|api_?key|secret|channel/i, "no configuration on the page");
    assert.ok(m.stats.viewers === 1 && m.stats.updates >= seqs.length);
  } finally {
    await ev.close();
  }
});

Deno.test("close() ends the pages' streams and frees the port; client.close() closes its monitors", async () => {
  await using sim = await startSim();
  const client = await connect(sim);
  const m = await client.monitor();
  const port = m.port;
  assert.equal(portFree(port), false, "listening");
  const ev = await openEvents(at(m, "/events"));
  await ev.next();
  await m.close();
  assert.equal(await ev.nextNamed(), "closed", "the page is told");
  assert.equal(await ev.nextNamed(), "end");
  assert.equal(portFree(port), true, "the port is free once close() resolves");
  await m.close(); // idempotent
  // The same port again, then the client's close closes it.
  const again = await client.monitor({ port });
  assert.equal(again.port, port);
  const ev2 = await openEvents(at(again, "/events"));
  await ev2.next();
  await client.close();
  assert.equal(again.closed, true);
  assert.equal(await ev2.nextNamed(), "closed");
  assert.equal(portFree(port), true);
  await assert.rejects(client.monitor(), /closed/);
});

for (const page of [false, true]) {
  Deno.test(`a client and its monitor do not keep the process alive (${page ? "a page open" : "no page"})`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...RUN_PERMISSIONS,
        new URL("./fixtures/monitor_forgotten.ts", import.meta.url).pathname,
      ],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const err = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/^monitor \S+$/m.test(out)) {
      const { value, done } = await lines.read();
      if (done) assert.fail(`the fixture ended early:\n${out}\n${await err}`);
      out += value;
    }
    const url = out.match(/^monitor (\S+)$/m)![1];
    const ev = page ? await openEvents(url.replace("/?", "/events?")) : undefined;
    await ev?.next(); // a page is connected
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    const t0 = performance.now();
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      out += value;
    }
    const { code } = await child.status;
    const ms = performance.now() - t0;
    assert.equal(code, 0, `${out}\n${await err}`);
    assert.match(out, new RegExp(`^viewers ${page ? 1 : 0}$`, "m"));
    // Nothing else to do: it exits at once; with a page open, when that page's event stream
    // ends (Deno keeps a process alive while a response is in flight): within 5 s.
    assert.ok(ms < (page ? 8000 : 3000), `exited ${ms.toFixed(0)} ms after its work was done`);
    if (ev) assert.equal(await ev.nextNamed(), "end", "the page's stream just ends");
  });
}

/** Text of the rows of a table's body, for the page checks. */
const rows = (id: string): string =>
  `[...document.getElementById(${JSON.stringify(id)}).tBodies[0].rows].map((r) => r.innerText)`;

Deno.test("the page in headless Chromium shows the book, trades, an order's lifecycle and the position, live", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hftlive-monitor-" });
  await using sim = await startSim({ rate: 200, seed: 7 });
  await using client = await connect(sim);
  await using m = await client.monitor();
  const browser = await Browser.launch(dir);
  try {
    await browser.goto(m.url);
    // Live updates arrive and change.
    const s1 = await browser.waitFor<number>(
      "Number(document.body.dataset.seq) >= 2 && Number(document.body.dataset.seq)",
      10_000,
      "two updates",
    );
    await browser.waitFor(`Number(document.body.dataset.seq) > ${s1 + 2}`, 10_000, "more updates");
    assert.equal(
      await browser.evaluate("document.getElementById('conn').textContent"),
      "connected",
    );
    // The book: best bid/offer and a ladder of asks above bids.
    const bbo = await browser.waitFor<string>(
      "/^bbo \\d+\\.\\d{3} @ \\d+\\.\\d \\| \\d+\\.\\d x \\d+\\.\\d{3}$/.test(document.getElementById('bbo-0').textContent) && document.getElementById('bbo-0').textContent",
      5000,
      "the best bid/offer",
    );
    const ladder = await browser.evaluate<string[]>(rows("ladder-0"));
    assert.equal(ladder.length, 20, `10 levels a side: ${ladder.join(" / ")}`);
    // Trades appear and change.
    const trades1 = await browser.waitFor<string[]>(
      `${rows("trades")}.length > 0 && ${rows("trades")}`,
      5000,
      "trades",
    );
    await browser.waitFor(
      `${rows("trades")}[0] !== ${JSON.stringify(trades1[0])}`,
      10_000,
      "a new trade",
    );
    // Position before any order.
    assert.equal(
      await browser.evaluate("document.getElementById('pos-0').textContent"),
      "position 0.000",
    );
    // An order's lifecycle: resting (New, in the active orders), canceled (gone, in the updates).
    const bid = client.bbo(0)!.bidPrice;
    const resting = await client.submitOrder({ side: Side.Buy, price: bid - 1, qty: 0.001 }, {
      wait: true,
    });
    assert.equal(resting.status, OrderStatus.New);
    const id = String(resting.orderId);
    const active = await browser.waitFor<string[]>(
      `${rows("orders")}.find((r) => r.startsWith(${JSON.stringify(id + "\t")}))`,
      5000,
      "the resting order among the active orders",
    );
    assert.match(String(active), /\tbuy\t0\.001 @ \d+\.\d\tNew\t/);
    await client.cancelOrder(resting.orderId, { wait: true });
    await browser.waitFor(
      `!${rows("orders")}.some((r) => r.startsWith(${JSON.stringify(id + "\t")})) && ${
        rows("order-updates")
      }.some((r) => r.includes(${
        JSON.stringify("\t" + id + "\t")
      }) && r.includes("\\tCanceled\\t"))`,
      5000,
      "the order canceled and gone from the active orders",
    );
    // A taking order fills: the position changes on the page.
    const ask = client.bbo(0)!.askPrice;
    const taking = await client.submitOrder({ side: Side.Buy, price: ask + 1, qty: 0.002 }, {
      wait: true,
    });
    await browser.waitFor(
      `${rows("order-updates")}.some((r) => r.includes(${
        JSON.stringify("\t" + taking.orderId + "\t")
      }) && r.includes("\\tFilled\\t"))`,
      5000,
      "the taking order filled",
    );
    const pos = await browser.waitFor<string>(
      "document.getElementById('pos-0').textContent !== 'position 0.000' && document.getElementById('pos-0').textContent",
      5000,
      "the position to change",
    );
    assert.equal(pos, `position ${client.position(0).qty.toFixed(3)}`);
    assert.equal(pos, "position 0.002");
    // The book kept moving meanwhile; health and the latency chart are drawn.
    await browser.waitFor(
      `document.getElementById('bbo-0').textContent !== ${JSON.stringify(bbo)}`,
      10_000,
      "the book to move",
    );
    const counters = await browser.evaluate<string>(
      "document.getElementById('counters').innerText",
    );
    assert.match(counters, /reconnects\s+0/);
    assert.match(counters, /unknown records\s+0/);
    await browser.waitFor(
      "document.getElementById('lat-now').textContent.startsWith('last second: feed ')",
      5000,
      "a latency point",
    );
    const inst = await browser.evaluate<string[]>(rows("insts"));
    assert.match(inst[0], /^btcusdt\tyes\tfresh\t/);
    assert.deepEqual(
      browser.console.filter((l) => !l.startsWith("log")),
      [],
      "no errors in the page",
    );
    const png = `${dir}/monitor.png`;
    const size = await browser.screenshot(png);
    assert.ok(size > 10_000, `screenshot of ${size} bytes`);
    console.log(
      `screenshot: ${png} (${size} bytes); page ${m.stats.pageBytes} bytes, update ${m.stats.lastUpdateBytes} bytes, ${m.stats.updates} updates in ${
        m.stats.busyMs.toFixed(1)
      } ms`,
    );
  } finally {
    await browser.close();
  }
  assert.equal(m.refused, 0, "the page's own requests carry the token");
});
