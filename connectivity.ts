/**
 * Connectivity: one status record per connector and per instrument, driven
 * by the core's CONNECTOR and INSTRUMENT events and by the clock. It holds no
 * I/O and emits nothing: each method returns the transitions it caused
 * (connect, disconnect, reconnect, stale, fresh, ready), and the client acts
 * on them. (Orders after a connector restart are reconciled by the native
 * core itself, which holds the authoritative order state.)
 *
 * A connector "reconnects" when it was seen down, came back, and every one of
 * its instruments registered again (books rebuilt, orders reconciled by the core).
 *
 * @example
 * ```ts
 * import { Connectivity } from "./connectivity.ts";
 * import { InstrumentState } from "./models.ts";
 *
 * const c = new Connectivity([{ connector: "bf", symbol: "btcusdt" }]);
 * c.onConnector({ type: "connector", connector: 0, name: "bf", up: true, ts: 1 });
 * const t = c.onInstrument({ type: "instrument", asset: 0, state: InstrumentState.Registered, ts: 2 });
 * console.log(t.map((x) => x.type), c.allRegistered); // ["ready"] true
 * ```
 *
 * @module
 */

import {
  type ConnectorEvent,
  type InstrumentEvent,
  type InstrumentHealth,
  InstrumentState,
} from "./models.ts";

/**
 * An instrument as connectivity knows it.
 *
 * @example
 * ```ts
 * import type { InstrumentName } from "./connectivity.ts";
 * const i: InstrumentName = { connector: "bf", symbol: "btcusdt" };
 * ```
 */
export interface InstrumentName {
  /** Connector name. */
  readonly connector: string;
  /** Symbol. */
  readonly symbol: string;
}

/**
 * What a connectivity event or tick changed, for the client to act on.
 *
 * - `connect`: a connector is up for the first time.
 * - `disconnect`: a connector that was seen went away (its outstanding requests
 *   have an unknown outcome now).
 * - `reconnect`: a connector came back and all its instruments registered again.
 * - `stale` / `fresh`: an instrument stopped / resumed getting market data.
 * - `ready`: every instrument is registered.
 *
 * @example
 * ```ts
 * import type { Transition } from "./connectivity.ts";
 * const name = (t: Transition): string => t.type;
 * ```
 */
export type Transition =
  | { readonly type: "connect" | "disconnect" | "reconnect"; readonly event: ConnectorEvent }
  | { readonly type: "stale" | "fresh"; readonly health: InstrumentHealth }
  | { readonly type: "ready" };

interface ConnectorStatus {
  readonly name: string;
  readonly assets: number[];
  /** Undefined until the first CONNECTOR event. */
  up: boolean | undefined;
  wasDown: boolean;
  everUp: boolean;
}

interface InstrumentStatus {
  readonly name: InstrumentName;
  readonly connector: number;
  registered: boolean;
  waitingForConnector: boolean;
  /** Receive time of the last market event (ns), or of the registration. */
  lastMarket: number;
  stale: boolean;
  /** Registering again after its connector restarted (the reconnect waits for it). */
  rejoining: boolean;
}

const NONE: readonly Transition[] = Object.freeze([]);

/**
 * The status of every connector and instrument of one client.
 *
 * @example
 * ```ts
 * import { Connectivity } from "./connectivity.ts";
 * const c = new Connectivity([{ connector: "a", symbol: "x" }, { connector: "b", symbol: "y" }]);
 * console.log(c.connectorNames, c.connectorOf(1)); // ["a", "b"] 1
 * ```
 */
export class Connectivity {
  readonly #connectors: ConnectorStatus[] = [];
  readonly #instruments: InstrumentStatus[];

  /** Connectors are numbered in order of first appearance in `instruments`. */
  constructor(instruments: readonly InstrumentName[]) {
    this.#instruments = instruments.map((name, asset) => {
      let c = this.#connectors.findIndex((s) => s.name === name.connector);
      if (c < 0) {
        c = this.#connectors.push({
          name: name.connector,
          assets: [],
          up: undefined,
          wasDown: false,
          everUp: false,
        }) - 1;
      }
      this.#connectors[c].assets.push(asset);
      return {
        name,
        connector: c,
        registered: false,
        waitingForConnector: false,
        lastMarket: 0,
        stale: false,
        rejoining: false,
      };
    });
  }

  /** Number of instruments. */
  get assets(): number {
    return this.#instruments.length;
  }

  /** Connector names by index. */
  get connectorNames(): string[] {
    return this.#connectors.map((c) => c.name);
  }

  /** The connector index of an instrument. */
  connectorOf(asset: number): number {
    return this.#instruments[asset].connector;
  }

  /** Whether connector `c` is known to be down (seen down, not seen up since). */
  isDown(c: number): boolean {
    return this.#connectors[c].up === false;
  }

  /** Whether every connector is up. */
  get connected(): boolean {
    return this.#connectors.every((c) => c.up === true);
  }

  /** Per connector name: up or not. */
  connectorsUp(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const c of this.#connectors) out[c.name] = c.up === true;
    return out;
  }

  /** Whether every instrument is registered. */
  get allRegistered(): boolean {
    return this.#instruments.every((i) => i.registered);
  }

  /** Whether instrument `asset` is registered. */
  isRegistered(asset: number): boolean {
    return this.#instruments[asset].registered;
  }

  /** `connector/symbol` of the instruments not registered yet. */
  unregistered(): string[] {
    return this.#instruments.filter((i) => !i.registered).map((i) =>
      `${i.name.connector}/${i.name.symbol}`
    );
  }

  /** Market data of `asset` was received at `recvTs` (ns). */
  market(asset: number, recvTs: number): void {
    this.#instruments[asset].lastMarket = recvTs;
  }

  /**
   * A CONNECTOR event. An "up" while already up is a connector that restarted
   * between two liveness checks (a new publisher): it counts as down, then up.
   */
  onConnector(ev: ConnectorEvent): readonly Transition[] {
    const c = this.#connectors[ev.connector];
    if (c === undefined) return NONE;
    if (ev.up && c.up === true) {
      const down = this.onConnector({ ...ev, up: false });
      return [...down, ...this.onConnector(ev)];
    }
    const prev = c.up;
    c.up = ev.up;
    if (ev.up) {
      if (prev === false && c.wasDown) {
        // Back after being down: every instrument registers again.
        for (const a of c.assets) {
          this.#instruments[a].registered = false;
          this.#instruments[a].rejoining = true;
        }
      }
      if (c.everUp) return NONE;
      // The first time it is seen up, whether or not it was seen down first (a client started
      // before its connector).
      c.everUp = true;
      return [{ type: "connect", event: ev }];
    }
    // No connector to register with: its instruments wait for it (DESIGN point 1).
    for (const a of c.assets) {
      this.#instruments[a].registered = false;
      this.#instruments[a].waitingForConnector = true;
    }
    if (prev === undefined) return NONE;
    c.wasDown = true;
    return [{ type: "disconnect", event: ev }];
  }

  /** An INSTRUMENT event. */
  onInstrument(ev: InstrumentEvent): readonly Transition[] {
    const i = this.#instruments[ev.asset];
    if (i === undefined) return NONE;
    if (ev.state === InstrumentState.WaitingForConnector) {
      i.waitingForConnector = true;
      return NONE;
    }
    if (ev.state !== InstrumentState.Registered) return NONE;
    i.waitingForConnector = false;
    i.registered = true;
    i.lastMarket = ev.ts; // staleness counts from registration
    const out: Transition[] = [];
    if (i.rejoining) {
      i.rejoining = false;
      const c = this.#connectors[i.connector];
      if (
        c.wasDown &&
        c.assets.every((a) => this.#instruments[a].registered && !this.#instruments[a].rejoining)
      ) {
        out.push({
          type: "reconnect",
          event: { type: "connector", connector: i.connector, name: c.name, up: true, ts: ev.ts },
        });
      }
    }
    if (this.allRegistered) out.push({ type: "ready" });
    return out;
  }

  /**
   * Periodic check: instruments that got no market data for `staleAfterNs`
   * while registered turn stale, and fresh again when it returns.
   */
  tick(now: number, staleAfterNs: number): readonly Transition[] {
    let out: Transition[] | undefined;
    for (let a = 0; a < this.#instruments.length; a++) {
      const i = this.#instruments[a];
      // Fresh again only with market data: an instrument that lost its registration (its
      // connector went away) keeps its state until it is registered again.
      if (!i.registered) continue;
      const stale = i.lastMarket > 0 && now - i.lastMarket > staleAfterNs;
      if (stale !== i.stale) {
        i.stale = stale;
        (out ??= []).push({
          type: stale ? "stale" : "fresh",
          health: this.health(a, now, staleAfterNs),
        });
      }
    }
    return out ?? NONE;
  }

  /** The health of instrument `asset` at `now`. */
  health(asset: number, now: number, staleAfterNs: number): InstrumentHealth {
    const i = this.#instruments[asset];
    return {
      asset,
      symbol: i.name.symbol,
      connector: i.name.connector,
      registered: i.registered,
      waitingForConnector: i.waitingForConnector && !i.registered,
      lastMarketAt: i.lastMarket,
      stale: i.registered && i.lastMarket > 0 && now - i.lastMarket > staleAfterNs,
    };
  }
}
