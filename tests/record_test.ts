// Recording and replay against the real native core and the in-process sim over real IPC: the
// files are read back with an independent reader (tests/npz.ts); the Rust test
// rust/hftlive/tests/recording.rs reads them with hftbacktest's own reader and backtester.
import assert from "node:assert/strict";
import { LiveClient, Sim, SimFault, type Trade, ValidationError } from "../mod.ts";
import { barrier, connect, startSim, type TestSim, uniqueName, until } from "./helpers.ts";
import { applyEvents, EV, kind, levels, type NpzEvent, readNpz } from "./npz.ts";

const TICK = 0.1;

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "hftlive-rec-" });
}

/** The client's book as [price tick, qty] levels. */
function clientBook(client: LiveClient): { bids: number[][]; asks: number[][] } {
  const d = client.depth(0, 10_000);
  const side = (l: readonly { price: number; qty: number }[]): number[][] =>
    l.map((x) => [Math.round(x.price / TICK), x.qty]);
  return { bids: side(d.bids), asks: side(d.asks) };
}

/** Pauses the sim's market and waits until the client has everything it sent. */
async function pause(sim: TestSim, client: LiveClient): Promise<void> {
  sim.fault(SimFault.PauseMarket, 1);
  await barrier(sim, client);
}

function feedOf(events: NpzEvent[]): NpzEvent[] {
  const k = events.findIndex((e) => kind(e) !== EV.CLEAR && kind(e) !== EV.SNAPSHOT);
  return k < 0 ? [] : events.slice(k);
}

Deno.test("record() writes hftbacktest .npz files, rolled by size, that hold the live feed", async () => {
  await using sim = await startSim({ rate: 3000, fuseDeletions: true });
  await using client = await connect(sim);
  const trades: Trade[] = [];
  client.on("trade", (t) => trades.push(t));
  await until(() => trades.length >= 50, 5000, "trades");
  // Paused, so the recording starts at a known point of the feed.
  await pause(sim, client);
  const dir = await tempDir();
  await using rec = client.record(dir, { rollBytes: 64 * 1500 });
  await until(() => rec.stats.eventsWritten > 0, 5000, "the initial book written");
  const from = trades.length;
  sim.fault(SimFault.PauseMarket, 0);
  await until(() => trades.length >= from + 1500, 10_000, "trades while recording");
  await pause(sim, client);
  const { files, stats, error } = await rec.stop();
  assert.equal(error, undefined);
  assert.equal(stats.dropped, 0);
  assert.equal(stats.running, false);
  assert.ok(files.length >= 3, `rolled by size: ${files.length} files`);
  assert.equal(stats.filesClosed, files.length);
  let written = 0;
  const recorded: NpzEvent[] = [];
  let book = { bids: new Map<number, number>(), asks: new Map<number, number>() };
  for (const [i, f] of files.entries()) {
    assert.match(
      f,
      new RegExp(`^${dir}/${sim.name}_btcusdt_\\d{8}T\\d{6}\\.\\d{3}Z_0000${i}\\.npz$`),
    );
    const events = await readNpz(f);
    written += events.length;
    // Each file starts with the book: a clear, then snapshot levels, all EXCH | LOCAL.
    assert.equal(events[0].ev, EV.CLEAR + EV.EXCH + EV.LOCAL);
    assert.ok(kind(events[1]) === EV.SNAPSHOT);
    for (const e of events) assert.equal(e.ev & (EV.EXCH | EV.LOCAL), EV.EXCH | EV.LOCAL);
    recorded.push(...feedOf(events));
    // Every file replays alone to its end: the last one to the client's book.
    book = applyEvents({ bids: new Map(), asks: new Map() }, events, TICK);
  }
  assert.equal(written, stats.eventsWritten);
  assert.deepEqual(levels(book), clientBook(client));
  const recTrades = recorded.filter((e) => kind(e) === EV.TRADE);
  assert.deepEqual(
    recTrades.map((e) => [e.px, e.qty, Number(e.localTs)]),
    trades.slice(from).map((t) => [t.price, t.qty, t.localTs]),
    "the recorded trades are the ones the client saw",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("record() rolls by time, and each file starts with the book", async () => {
  await using sim = await startSim({ rate: 500 });
  await using client = await connect(sim);
  const dir = await tempDir();
  const rec = client.record(dir, { rollSeconds: 0.2, compress: true });
  await until(() => rec.stats.filesClosed >= 3, 10_000, "three rolls");
  const { files } = await rec.stop();
  for (const [i, f] of files.entries()) {
    const events = await readNpz(f); // deflated entries too
    assert.equal(kind(events[0]), EV.CLEAR);
    // The first file starts with the book the client had (maybe none yet); later ones with
    // the book the previous one ended with (20 levels a side).
    if (i > 0) assert.ok(events.slice(1, 41).every((e) => kind(e) === EV.SNAPSHOT), f);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a sim replaying the files delivers the recorded events to an unchanged strategy", async () => {
  // Record.
  await using sim = await startSim({ rate: 3000 });
  const dir = await tempDir();
  let recorded: NpzEvent[] = [];
  let files: readonly string[] = [];
  {
    await using client = await connect(sim);
    await until(() => client.bbo(0) !== undefined, 5000, "a book");
    const rec = client.record(dir);
    await until(() => rec.stats.eventsWritten > 3000, 10_000, "3000 events");
    ({ files } = await rec.stop());
    for (const f of files) recorded.push(...feedOf(await readNpz(f)));
  }
  recorded = recorded.filter((e) => kind(e) === EV.TRADE);
  // Replay into a fresh client: the same strategy code (here: collect trades) runs unchanged.
  const name = uniqueName("replay");
  const replay = await Sim.start({
    name,
    instruments: [{ symbol: "btcusdt", tickSize: TICK, lotSize: 0.001, startPrice: 50_000 }],
    replay: { files, speed: 4 },
  });
  try {
    // Not waiting for registration in connect(): the replay starts with it, and the handler
    // must be there for its first event.
    const client = await LiveClient.connect({
      instruments: [{ connector: name, symbol: "btcusdt", tickSize: TICK, lotSize: 0.001 }],
    });
    const seen: Trade[] = [];
    client.on("trade", (t) => seen.push(t));
    await client.ready();
    await until(() => seen.length >= recorded.length, 10_000, "the replayed trades");
    await client.close();
    assert.deepEqual(
      seen.map((t) => [t.price, t.qty, (t.flags & EV.BUY) !== 0]),
      recorded.map((e) => [e.px, e.qty, (e.ev & EV.BUY) !== 0]),
    );
    // Recorded feed latency kept: local - exch as recorded.
    assert.deepEqual(
      seen.map((t) => t.localTs - t.exchTs),
      recorded.map((e) => Number(e.localTs - e.exchTs)),
    );
  } finally {
    replay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a writer that falls behind drops and counts, and the books stay right", async () => {
  // Bursts of 4096 events into a queue of 1024: the writer (polling every 2 ms) falls behind.
  await using sim = await startSim({ rate: 40_000, burst: 4096 });
  await using client = await connect(sim);
  const dir = await tempDir();
  const rec = client.record(dir, { queueCapacity: 1024 });
  await until(() => rec.stats.dropped > 0, 10_000, "drops");
  await pause(sim, client);
  const { files, stats } = await rec.stop();
  assert.ok(stats.dropped > 0 && stats.eventsWritten > 0);
  const health = client.health;
  assert.ok(health.connected);
  // After each drop the engine sent the books again: the file still ends with the live book.
  const events = await readNpz(files[files.length - 1]);
  const book = applyEvents({ bids: new Map(), asks: new Map() }, events, TICK);
  assert.deepEqual(levels(book), clientBook(client));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("record() refuses bad options with ValidationError, and close() stops it", async () => {
  await using sim = await startSim({ rate: 200 });
  await using client = await connect(sim);
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["", {}, /non-empty path/],
    ["/tmp", { instruments: [1] }, /instrument 1 is not an integer in \[0, 0\]/],
    ["/tmp", { rollBytes: 10 }, /rollBytes/],
    ["/tmp", { rollSeconds: 0 }, /rollSeconds/],
    ["/tmp", { queueCapacity: 1e9 }, /queueCapacity/],
    ["/tmp", { flags: "raw" }, /flags/],
    ["/tmp", { colour: 1 }, /unknown option "colour"/],
    ["/proc/hftlive-cannot-be-here", {}, /cannot create the directory/],
  ];
  for (const [dir, opts, says] of bad) {
    assert.throws(() => client.record(dir, opts), (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.match(e.message, says);
      return true;
    });
  }
  const dir = await tempDir();
  const rec = client.record(dir);
  await until(() => rec.stats.eventsWritten > 0, 5000, "events");
  await client.close();
  // The client's close stopped the recording first: its files are complete and readable.
  const { files, stats } = await rec.stop();
  assert.equal(stats.running, false);
  assert.equal(files.length, 1);
  assert.ok((await readNpz(files[0])).length === stats.eventsWritten);
  assert.throws(() => client.record(dir), /closed/);
  // A replay of a file that is not there is refused up front.
  const instruments = [{ symbol: "btcusdt", tickSize: TICK, lotSize: 0.001, startPrice: 50_000 }];
  await assert.rejects(
    Sim.start({ name: uniqueName("r"), instruments, replay: { files: [`${dir}/none.npz`] } }),
    (e: unknown) =>
      e instanceof ValidationError && /none\.npz" is not a readable file/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
