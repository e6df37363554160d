/**
 * Routing: where each decoded event goes. Market data updates connectivity
 * (staleness) and the feed latency, order records go through the order desk,
 * connector and instrument events through connectivity (whose transitions are
 * acted on here), and everything ends on the client's streams, its callbacks
 * and, inside `poll()`, in the list `poll()` returns.
 *
 * @module
 */

import type { Callbacks } from "./callbacks.ts";
import { TimeoutError } from "./errors.ts";
import type { Connectivity, Transition } from "./connectivity.ts";
import type { HealthRecorder } from "./health.ts";
import {
  type BookUpdate,
  type ConnectorEvent,
  type DepthClear,
  type DepthSnapshot,
  type DepthUpdate,
  type ErrorEvent,
  ErrorKind,
  errorKindName,
  type Fill,
  type InstrumentEvent,
  type InstrumentHealth,
  InstrumentState,
  type LiveEvent,
  type OrderUpdate,
  type PositionUpdate,
  type Trade,
} from "./models.ts";
import type { DeskSink, OrderDesk } from "./order_desk.ts";
import type { StreamHub } from "./streams.ts";

/**
 * Callback events of `LiveClient.on` and their payloads.
 *
 * @example
 * ```ts
 * import type { ClientEvents } from "./router.ts";
 * type Disconnect = ClientEvents["disconnect"]; // ConnectorEvent
 * ```
 */
export interface ClientEvents {
  /** A trade. */
  trade: Trade;
  /** A best bid/offer change. */
  bbo: BookUpdate;
  /** A depth change or clear. */
  depth: DepthUpdate | DepthClear;
  /** An order update. */
  order: OrderUpdate;
  /** A fill. */
  fill: Fill;
  /** A position change. */
  position: PositionUpdate;
  /** A connector, engine or client error (never swallowed). */
  error: ErrorEvent;
  /** A connector came up for the first time. */
  connect: ConnectorEvent;
  /** A connector went away (within ~liveness interval of it going). */
  disconnect: ConnectorEvent;
  /** A connector came back, its instruments are registered again, books rebuilt, orders reconciled (by the core). */
  reconnect: ConnectorEvent;
  /** An instrument got no market data for `staleAfterMs` (connector may still be alive). */
  stale: InstrumentHealth;
  /** A stale instrument got market data again. */
  fresh: InstrumentHealth;
  /** Registration progress of an instrument. */
  instrument: InstrumentEvent;
  /** Every event. */
  event: LiveEvent;
}

/** The parts a router routes between. */
export interface RouterParts {
  /** Stream consumers. */
  readonly streams: StreamHub;
  /** Callbacks. */
  readonly callbacks: Callbacks<ClientEvents>;
  /** Connector and instrument status. */
  readonly connectivity: Connectivity;
  /** Latency windows and counters. */
  readonly health: HealthRecorder;
  /** Staleness threshold (ns). */
  readonly staleAfterNs: number;
  /** The core's clock (ns). */
  readonly now: () => number;
  /** The core's book of an instrument (for the `snapshots` stream). */
  readonly depth: (asset: number, levels: number) => DepthSnapshot;
  /** Interval of the `snapshots` stream (ms). */
  readonly snapshotIntervalMs: number;
  /** Levels per side in `snapshots`. */
  readonly snapshotLevels: number;
  /** Keeps a timer from holding the process open. */
  readonly unrefTimer: (t: ReturnType<typeof setInterval>) => void;
}

/**
 * What the monitoring page taps, synchronously as events are routed: trades and
 * this client's order updates (each call must be cheap and must not throw).
 */
export interface RouterTap {
  /** A trade. */
  trade(ev: Trade): void;
  /** An order update. */
  order(ev: OrderUpdate): void;
}

/** An event as the core's records decode to, or a client-side error. */
export type RoutedEvent = Exclude<LiveEvent, Fill | { readonly type: "snapshot" }>;

/** Drained records, as the router reads them (the client's record decoder). */
export interface RecordSource {
  /** Kind byte of record `i` (an index into the health recorder's kinds). */
  kind(i: number): number;
  /** Whether record `i` is market data. */
  isMarket(i: number): boolean;
  /**
   * Record `i` decoded (`recvTs` and `wakeTs` stamped), or undefined for a kind
   * this version does not know.
   */
  decode(i: number, recvTs: number, wakeTs: number): RoutedEvent | undefined;
}

/**
 * Routes the events of one client. It is the order desk's sink: order
 * updates and fills the desk derives come back through {@linkcode EventRouter.deliver}.
 */
export class EventRouter implements DeskSink {
  readonly #p: RouterParts;
  #desk: OrderDesk | undefined;
  readonly #bbo: (BookUpdate | undefined)[] = [];
  readonly #unknownKinds = new Set<number>();
  #lastTick = 0;
  /** Records of the drain buffer not delivered yet: `#next .. #end`. */
  #next = 0;
  #end = 0;
  #reporting = false;
  readonly #readyWaiters: ((error?: Error) => void)[] = [];
  #snapshotTimer: ReturnType<typeof setInterval> | undefined;
  /** Where `poll()` collects the events it returns (undefined outside `poll`). */
  out: LiveEvent[] | undefined;
  /** The monitoring page's tap (undefined while no monitor runs: one check per trade). */
  tap: RouterTap | undefined;

  /** A router over `parts`; {@linkcode EventRouter.attach} gives it the order desk. */
  constructor(parts: RouterParts) {
    this.#p = parts;
  }

  /** The order desk (built with this router as its sink). */
  attach(desk: OrderDesk): void {
    this.#desk = desk;
  }

  /** The last best bid/offer of `asset`. */
  bbo(asset: number): BookUpdate | undefined {
    return this.#bbo[asset];
  }

  /** `n` records were drained into the buffer: deliver them from the first. */
  load(n: number): void {
    this.#next = 0;
    this.#end = n;
  }

  /** Drained records are waiting to be delivered (the last run ran out of time). */
  get backlog(): boolean {
    return this.#next < this.#end;
  }

  /**
   * Decodes and routes the loaded records not delivered yet, until `deadline`
   * (`performance.now()` ms; checked every 32 records). Closing, market data is
   * skipped: what is left is delivered for orders, positions and errors.
   * `now` is the drain time (`recvTs`), `wakeTs` when the wake-up that led to
   * it reached JavaScript (`now` when there was none).
   */
  run(
    src: RecordSource,
    now: number,
    deadline: number,
    closing: boolean,
    wakeTs: number = now,
  ): void {
    const health = this.#p.health;
    const end = this.#end;
    let i = this.#next;
    while (i < end) {
      const stop = Math.min(end, i + 32);
      for (; i < stop; i++) {
        if (closing && src.isMarket(i)) continue;
        const ev = src.decode(i, now, wakeTs);
        if (ev === undefined) {
          this.unknownRecord(src.kind(i));
          continue;
        }
        health.count(src.kind(i));
        this.dispatch(ev);
      }
      if (deadline !== Infinity && performance.now() > deadline) break;
    }
    this.#next = i;
    health.endBatch(now);
    this.tick(now);
  }

  /** Routes one event. */
  dispatch(ev: RoutedEvent): void {
    const { streams, callbacks: cb, connectivity: conn, health } = this.#p;
    switch (ev.type) {
      case "trade":
        this.#market(ev);
        this.tap?.trade(ev);
        streams.fan("trades", ev);
        cb.emit("trade", ev);
        break;
      case "depth":
      case "depthClear":
        if (ev.exchTs > 0 && ev.localTs > 0) conn.market(ev.asset, ev.recvTs);
        streams.fan("depthUpdates", ev);
        cb.emit("depth", ev);
        break;
      case "bbo":
        this.#bbo[ev.asset] = ev;
        this.#market(ev);
        streams.fan("bookUpdates", ev);
        cb.emit("bbo", ev);
        break;
      case "order":
        this.#desk!.onOrder(ev); // delivers through deliver()
        return;
      case "position":
        streams.fan("positions", ev);
        cb.emit("position", ev);
        break;
      case "error":
        health.error(errorKindName(ev.kind));
        this.#desk!.onError(ev);
        streams.fan("errors", ev);
        cb.emit("error", ev);
        break;
      case "connector":
        this.#apply(conn.onConnector(ev));
        break;
      case "instrument":
        if (ev.state === InstrumentState.Registered) health.feedFrom(ev.asset, ev.ts);
        this.#apply(conn.onInstrument(ev));
        cb.emit("instrument", ev);
        break;
      case "dropped":
        health.engineDropsReported += ev.count;
        break;
    }
    this.#everywhere(ev);
  }

  /** An order update or fill from the order desk. */
  deliver(ev: OrderUpdate | Fill): void {
    if (ev.type === "order") {
      this.tap?.order(ev);
      this.#p.streams.fan("orderUpdates", ev);
      this.#p.callbacks.emit("order", ev);
    } else {
      this.#p.streams.fan("fills", ev);
      this.#p.callbacks.emit("fill", ev);
    }
    this.#everywhere(ev);
  }

  /** Reports a client-side problem as an `error` event (streams, callbacks, counts). */
  clientError(
    asset: number,
    code: number,
    orderId: number,
    message: string,
    ts: number = this.#p.now(),
  ): void {
    this.dispatch({ type: "error", kind: ErrorKind.Client, asset, code, orderId, message, ts });
  }

  /**
   * A callback threw: counted in `health.callbackErrors` and reported as an
   * `error` event (streams, `error` callbacks). What an `error` callback throws,
   * or anything thrown with nobody listening for errors, goes to
   * `console.error` instead: never to the caller of the callback (the pump or
   * `poll()`), so one bad handler stops neither the others nor the client.
   */
  callbackThrew(e: unknown, event: keyof ClientEvents, closed: boolean): void {
    this.#p.health.callbackErrors++;
    const { streams, callbacks } = this.#p;
    const listening = callbacks.has("error") || streams.count("errors") > 0 ||
      streams.count("events") > 0;
    if (event === "error" || this.#reporting || !listening || closed) {
      console.error(`hftlive: a "${String(event)}" callback threw:`, e);
      return;
    }
    this.#reporting = true;
    try {
      this.clientError(-1, 0, 0, `A "${String(event)}" callback threw: ${String(e)}`);
    } finally {
      this.#reporting = false;
    }
  }

  /** A record this version cannot decode (a newer core?): counted, reported once per kind. */
  unknownRecord(kind: number): void {
    this.#p.health.unknownRecords++;
    if (this.#unknownKinds.has(kind)) return;
    this.#unknownKinds.add(kind);
    this.clientError(
      -1,
      kind,
      0,
      `Records of unknown kind ${kind} from the native core are skipped (counted in ` +
        "health.unknownRecords); the library and the TypeScript module may be of different versions",
    );
  }

  /** Periodic work (at most every 50 ms): rates and staleness. */
  tick(now: number): void {
    if (now - this.#lastTick < 50e6) return;
    this.#lastTick = now;
    this.#p.health.roll(now);
    this.#apply(this.#p.connectivity.tick(now, this.#p.staleAfterNs));
    this.#desk?.retryCancels(); // room in the core's queue may have freed without a record
  }

  /**
   * Resolves when every instrument is registered, or rejects with
   * {@linkcode TimeoutError} after `timeoutMs`.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.#p.connectivity.allRegistered) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = timeoutMs === Infinity ? undefined : setTimeout(() => {
      const i = this.#readyWaiters.indexOf(done);
      if (i >= 0) this.#readyWaiters.splice(i, 1);
      reject(
        new TimeoutError(
          `Instruments not registered within ${timeoutMs} ms (waiting for connector): ${
            this.#p.connectivity.unregistered().join(", ")
          }`,
        ),
      );
    }, timeoutMs);
    const done = (error?: Error): void => {
      if (timer !== undefined) clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    this.#readyWaiters.push(done);
    return promise;
  }

  /** Whether something waits in {@linkcode EventRouter.whenReady}. */
  get readyWaiting(): boolean {
    return this.#readyWaiters.length > 0;
  }

  /** Rejects every {@linkcode EventRouter.whenReady} with `error`. */
  closeReady(error: Error): void {
    for (const w of this.#readyWaiters.splice(0)) w(error);
  }

  /** Starts (true) or stops (false) the timer of the `snapshots` stream. */
  snapshots(on: boolean): void {
    if (!on) {
      if (this.#snapshotTimer !== undefined) clearInterval(this.#snapshotTimer);
      this.#snapshotTimer = undefined;
      return;
    }
    if (this.#snapshotTimer !== undefined) return;
    const timer = setInterval(() => {
      const { connectivity, snapshotLevels, streams } = this.#p;
      for (let a = 0; a < connectivity.assets; a++) {
        if (!connectivity.isRegistered(a)) continue;
        let s: DepthSnapshot;
        try {
          s = this.#p.depth(a, snapshotLevels);
        } catch (e) {
          if (this.#snapshotTimer === undefined) return; // stopped (closing)
          this.clientError(
            a,
            (e as { status?: number }).status ?? 0,
            0,
            `Cannot take the snapshot of asset ${a}: ${e instanceof Error ? e.message : String(e)}`,
          );
          continue;
        }
        streams.fan("snapshots", s);
      }
    }, this.#p.snapshotIntervalMs);
    this.#p.unrefTimer(timer);
    this.#snapshotTimer = timer;
  }

  /** What every event goes to: `poll()`'s result, the `events` stream, `event` callbacks. */
  #everywhere(ev: LiveEvent): void {
    this.out?.push(ev);
    this.#p.streams.fan("events", ev);
    this.#p.callbacks.emit("event", ev);
  }

  #market(ev: Trade | BookUpdate): void {
    // Snapshot-derived records carry no real timestamps (hftbacktest's fused-depth snapshot
    // sets local_ts 0 and exch_ts to each level's age): no latency sample from them.
    if (ev.exchTs > 0 && ev.localTs > 0) {
      this.#p.connectivity.market(ev.asset, ev.recvTs);
      this.#p.health.market(ev);
    }
  }

  /** Acts on what connectivity reports. */
  #apply(transitions: readonly Transition[]): void {
    const cb = this.#p.callbacks;
    for (const t of transitions) {
      switch (t.type) {
        case "connect":
          cb.emit("connect", t.event);
          break;
        case "disconnect": {
          cb.emit("disconnect", t.event);
          const c = t.event.connector;
          const conn = this.#p.connectivity;
          this.#desk!.connectorDown(t.event.name, (a) => conn.connectorOf(a) === c);
          break;
        }
        case "reconnect":
          this.#p.health.reconnects++;
          cb.emit("reconnect", t.event);
          break;
        case "stale":
        case "fresh":
          cb.emit(t.type, t.health);
          break;
        case "ready":
          for (const w of this.#readyWaiters.splice(0)) w();
          break;
      }
    }
  }
}
