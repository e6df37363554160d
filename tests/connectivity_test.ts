/**
 * Unit tests of `connectivity.ts`: the transitions CONNECTOR and INSTRUMENT
 * events and the clock cause. Pure TypeScript: no native library, no
 * permissions, no timers.
 */

import assert from "node:assert/strict";
import { Connectivity, type Transition } from "../connectivity.ts";
import { type ConnectorEvent, type InstrumentEvent, InstrumentState } from "../models.ts";

/** Assets 0 and 2 are on connector "a" (index 0), asset 1 on connector "b" (index 1). */
function make(): Connectivity {
  return new Connectivity([
    { connector: "a", symbol: "x" },
    { connector: "b", symbol: "y" },
    { connector: "a", symbol: "z" },
  ]);
}

const NAMES = ["a", "b"];

function connector(c: number, up: boolean, ts: number): ConnectorEvent {
  return { type: "connector", connector: c, name: NAMES[c], up, ts };
}

function instrument(asset: number, state: InstrumentState, ts: number): InstrumentEvent {
  return { type: "instrument", asset, state, ts };
}

const types = (ts: readonly Transition[]): string[] => ts.map((t) => t.type);

/** Both connectors up, every instrument registered at `ts`. */
function allUp(c: Connectivity, ts = 10): void {
  c.onConnector(connector(0, true, ts));
  c.onConnector(connector(1, true, ts));
  for (let a = 0; a < c.assets; a++) c.onInstrument(instrument(a, InstrumentState.Registered, ts));
}

Deno.test("Connectivity numbers connectors in order of first appearance", () => {
  const c = make();
  assert.deepEqual(c.connectorNames, ["a", "b"]);
  assert.equal(c.assets, 3);
  assert.deepEqual([0, 1, 2].map((a) => c.connectorOf(a)), [0, 1, 0]);
  assert.equal(c.connected, false);
  assert.deepEqual(c.connectorsUp(), { a: false, b: false });
  assert.equal(c.isDown(0), false); // not seen yet: not known to be down
});

Deno.test("Connectivity: a connector's first up is a connect", () => {
  const c = make();
  const ev = connector(0, true, 5);
  assert.deepEqual(c.onConnector(ev), [{ type: "connect", event: ev }]);
  assert.deepEqual(c.connectorsUp(), { a: true, b: false });
  assert.equal(c.connected, false);
  assert.deepEqual(types(c.onConnector(connector(1, true, 7))), ["connect"]);
  assert.equal(c.connected, true);
});

Deno.test("Connectivity: a connector seen up then down is a disconnect", () => {
  const c = make();
  allUp(c);
  const ev = connector(0, false, 20);
  assert.deepEqual(c.onConnector(ev), [{ type: "disconnect", event: ev }]);
  assert.equal(c.isDown(0), true);
  assert.equal(c.connected, false);
  // Its instruments wait for it; the other connector's stay registered.
  assert.equal(c.isRegistered(0), false);
  assert.equal(c.isRegistered(2), false);
  assert.equal(c.isRegistered(1), true);
  assert.equal(c.allRegistered, false);
  assert.deepEqual(c.unregistered(), ["a/x", "a/z"]);
  assert.equal(c.health(0, 20, 1e9).waitingForConnector, true);
  assert.equal(c.health(1, 20, 1e9).waitingForConnector, false);
});

Deno.test("Connectivity: a client started before its connector gets no disconnect, then a connect", () => {
  const c = make();
  assert.deepEqual(c.onConnector(connector(0, false, 1)), []);
  assert.equal(c.isDown(0), true);
  assert.equal(c.health(0, 1, 1e9).waitingForConnector, true);
  const up = connector(0, true, 2);
  assert.deepEqual(c.onConnector(up), [{ type: "connect", event: up }]);
  // First registrations: no reconnect.
  assert.deepEqual(c.onInstrument(instrument(0, InstrumentState.Registered, 3)), []);
  assert.deepEqual(c.onInstrument(instrument(2, InstrumentState.Registered, 3)), []);
  // Seen up now: going down is a disconnect.
  assert.deepEqual(types(c.onConnector(connector(0, false, 4))), ["disconnect"]);
});

Deno.test("Connectivity: a restarted connector reconnects once every instrument registered again", () => {
  const c = make();
  allUp(c);
  assert.deepEqual(types(c.onConnector(connector(0, false, 20))), ["disconnect"]);
  assert.deepEqual(c.onConnector(connector(0, true, 30)), []); // not reconnected yet
  assert.equal(c.isRegistered(0), false);
  assert.equal(c.isRegistered(2), false);
  assert.deepEqual(c.onInstrument(instrument(0, InstrumentState.WaitingForConnector, 31)), []);
  assert.deepEqual(c.onInstrument(instrument(0, InstrumentState.SnapshotBegin, 32)), []);
  const first = c.onInstrument(instrument(0, InstrumentState.Registered, 33));
  assert.deepEqual(first, []); // asset 2 of the same connector is not back yet
  // Asset 2 (the last of connector "a") registers: exactly one reconnect.
  c.onInstrument(instrument(2, InstrumentState.SnapshotBegin, 34));
  const last = c.onInstrument(instrument(2, InstrumentState.Registered, 35));
  assert.deepEqual(types(last), ["reconnect", "ready"]);
  assert.deepEqual(last[0], {
    type: "reconnect",
    event: { type: "connector", connector: 0, name: "a", up: true, ts: 35 },
  });
  // A later registration of the same instrument reconnects no more.
  assert.deepEqual(types(c.onInstrument(instrument(0, InstrumentState.Registered, 40))), ["ready"]);
});

Deno.test("Connectivity: a restart leaves other connectors alone", () => {
  const c = make();
  allUp(c);
  c.onConnector(connector(0, false, 20));
  assert.equal(c.isRegistered(1), true);
  assert.deepEqual(c.connectorsUp(), { a: false, b: true });
  c.onConnector(connector(0, true, 30));
  assert.equal(c.isRegistered(1), true);
  // Connector "b"'s instrument registering again does not reconnect.
  assert.deepEqual(c.onInstrument(instrument(1, InstrumentState.Registered, 31)), []);
  c.onInstrument(instrument(0, InstrumentState.Registered, 32));
  assert.deepEqual(
    types(c.onInstrument(instrument(2, InstrumentState.Registered, 33))),
    ["reconnect", "ready"],
  );
  assert.equal(c.connected, true);
});

Deno.test("Connectivity: a connector going down again before re-registering reconnects once, later", () => {
  const c = make();
  allUp(c);
  c.onConnector(connector(0, false, 20));
  c.onConnector(connector(0, true, 30));
  assert.deepEqual(c.onInstrument(instrument(0, InstrumentState.Registered, 31)), []);
  assert.deepEqual(types(c.onConnector(connector(0, false, 40))), ["disconnect"]);
  c.onConnector(connector(0, true, 50));
  const t0 = c.onInstrument(instrument(0, InstrumentState.Registered, 51));
  assert.deepEqual(t0, []);
  const t2 = c.onInstrument(instrument(2, InstrumentState.Registered, 52));
  assert.deepEqual(types(t2), ["reconnect", "ready"]);
});

Deno.test({
  // The core reports a connector restart that happened between two liveness checks as up → up
  // (a new publisher id, no down in between: see check_liveness in the engine, which then
  // un-registers the instruments and clears their books). It counts as a down, then an up.
  name: "Connectivity: a restart seen as up → up (no down between) re-registers and reconnects",
  fn: () => {
    const c = make();
    allUp(c);
    c.onConnector(connector(0, true, 30));
    assert.equal(c.isRegistered(0), false);
    assert.equal(c.isRegistered(2), false);
    assert.deepEqual(c.onInstrument(instrument(0, InstrumentState.Registered, 31)), []);
    assert.ok(
      types(c.onInstrument(instrument(2, InstrumentState.Registered, 32))).includes("reconnect"),
    );
  },
});

Deno.test("Connectivity is ready when every instrument registered", () => {
  const c = make();
  c.onConnector(connector(0, true, 1));
  c.onConnector(connector(1, true, 1));
  assert.equal(c.allRegistered, false);
  assert.deepEqual(c.unregistered(), ["a/x", "b/y", "a/z"]);
  assert.deepEqual(c.onInstrument(instrument(1, InstrumentState.WaitingForConnector, 2)), []);
  assert.deepEqual(c.onInstrument(instrument(1, InstrumentState.SnapshotBegin, 3)), []);
  assert.deepEqual(c.onInstrument(instrument(1, InstrumentState.Registered, 4)), []);
  assert.deepEqual(c.onInstrument(instrument(0, InstrumentState.Registered, 5)), []);
  assert.equal(c.allRegistered, false);
  assert.deepEqual(c.unregistered(), ["a/z"]);
  assert.deepEqual(c.onInstrument(instrument(2, InstrumentState.Registered, 6)), [{
    type: "ready",
  }]);
  assert.equal(c.allRegistered, true);
  assert.deepEqual(c.unregistered(), []);
});

Deno.test("Connectivity ignores events about unknown connectors and instruments", () => {
  const c = make();
  assert.deepEqual(
    c.onConnector({ type: "connector", connector: 5, name: "?", up: true, ts: 1 }),
    [],
  );
  assert.deepEqual(c.onInstrument(instrument(9, InstrumentState.Registered, 1)), []);
  assert.deepEqual(c.connectorsUp(), { a: false, b: false });
});

Deno.test("Connectivity: an instrument turns stale after staleAfterNs without market data, fresh when it returns", () => {
  const c = make();
  const stale = 1_000;
  allUp(c, 10_000); // staleness counts from registration
  assert.deepEqual(c.tick(10_000 + stale, stale), []); // not more than staleAfterNs yet
  c.market(1, 10_500);
  const t = c.tick(10_000 + stale + 1, stale);
  // Assets 0 and 2 got nothing since registering; asset 1 did.
  assert.deepEqual(types(t), ["stale", "stale"]);
  assert.deepEqual(t[0], {
    type: "stale",
    health: {
      asset: 0,
      symbol: "x",
      connector: "a",
      registered: true,
      waitingForConnector: false,
      lastMarketAt: 10_000,
      stale: true,
    },
  });
  assert.equal((t[1] as { health: { asset: number } }).health.asset, 2);
  assert.deepEqual(c.tick(10_000 + stale + 2, stale), []); // reported once
  c.market(0, 12_000);
  const f = c.tick(12_001, stale);
  assert.deepEqual(types(f), ["fresh", "stale"]); // asset 0 back; asset 1 now stale too
  assert.deepEqual(f[0], {
    type: "fresh",
    health: {
      asset: 0,
      symbol: "x",
      connector: "a",
      registered: true,
      waitingForConnector: false,
      lastMarketAt: 12_000,
      stale: false,
    },
  });
});

Deno.test("Connectivity: an unregistered instrument is never stale", () => {
  const c = make();
  c.onConnector(connector(0, true, 1));
  assert.deepEqual(c.tick(1e12, 1_000), []);
  assert.equal(c.health(0, 1e12, 1_000).stale, false);
});

Deno.test({
  // A stale instrument whose connector goes down is un-registered; it must not turn "fresh"
  // (market data is back) then: a strategy resuming on `fresh` would resume as its connector died.
  name: "Connectivity: a stale instrument does not turn fresh when its connector goes down",
  fn: () => {
    const c = make();
    allUp(c, 10_000);
    assert.deepEqual(types(c.tick(20_000, 1_000)), ["stale", "stale", "stale"]);
    c.onConnector(connector(0, false, 20_001));
    assert.deepEqual(types(c.tick(20_002, 1_000)), []);
  },
});

Deno.test("Connectivity.health() reports an instrument's fields", () => {
  const c = make();
  assert.deepEqual(c.health(2, 0, 1_000), {
    asset: 2,
    symbol: "z",
    connector: "a",
    registered: false,
    waitingForConnector: false,
    lastMarketAt: 0,
    stale: false,
  });
  c.onConnector(connector(0, true, 1));
  c.onInstrument(instrument(2, InstrumentState.WaitingForConnector, 2));
  assert.equal(c.health(2, 2, 1_000).waitingForConnector, true);
  c.onInstrument(instrument(2, InstrumentState.Registered, 500));
  c.market(2, 800);
  assert.deepEqual(c.health(2, 1_500, 1_000), {
    asset: 2,
    symbol: "z",
    connector: "a",
    registered: true,
    waitingForConnector: false,
    lastMarketAt: 800,
    stale: false,
  });
  assert.equal(c.health(2, 1_801, 1_000).stale, true);
});
