/**
 * How a stream-mode client learns that records are ready: a
 * {@linkcode WakeSource} the pump loops on. Two kinds:
 *
 * - `"socket"` (the doorbell): the client arms it with a synchronous call when
 *   it finds nothing ready; the engine then writes one byte to a Unix socket
 *   that the runtime's own event loop watches (no thread hop). The socket file
 *   is removed as soon as it is connected.
 * - `"wait"`: one pending `nonblocking` native wait, returned through the
 *   runtime's blocking thread pool.
 *
 * Both wake at least every 250 ms for the client's periodic work.
 *
 * @module
 */

import { NativeError } from "../errors.ts";
import type { NativeClient } from "./native.ts";
import type { UnixConn } from "./runtime.ts";

/** How often a sleeping pump wakes for periodic work (ms). */
const TICK_MS = 250;

/**
 * A wake-up the pump loops on: `ready()` says what is there now (for the
 * doorbell it also arms it), `sleep()` waits for the next wake-up.
 */
export interface WakeSource {
  /** `"socket"` or `"wait"` (turns to `"wait"` if connecting the doorbell fails). */
  readonly kind: "socket" | "wait";
  /**
   * When the last `sleep()` was woken in JavaScript: the doorbell's read or
   * the native wait resolving (ns since the epoch, the core's clock; one
   * `hl_now` per wake-up).
   */
  readonly wokeAt: number;
  /** Prepares the source (connects the doorbell); call once before the loop. */
  start(): Promise<void>;
  /** Records ready now (> 0, drain them), none (0), or a failure status (< 0). */
  ready(): number;
  /**
   * Sleeps until the next wake-up. Resolves with a number for the pump to
   * handle like a wait's result (> 0 ready, 0 a timeout or tick, < 0 a status),
   * or undefined when it was rung (call `ready()` again). Rejects when the
   * doorbell fails or the core closed it.
   */
  sleep(): Promise<number | undefined>;
  /**
   * Whether the pending wake-up keeps the process alive: a client nothing
   * consumes (no pending read, no callback, no wait) lets the process exit.
   */
  keepAlive(on: boolean): void;
  /** Releases the source (idempotent). */
  close(): void;
}

class WaitWake implements WakeSource {
  readonly kind = "wait";
  readonly #native: NativeClient;
  #alive = true;
  wokeAt = 0;
  /** Ends a timer sleep early (a consumer arrived). */
  #wakeTimer: (() => void) | undefined;

  constructor(native: NativeClient) {
    this.#native = native;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  ready(): number {
    return 0;
  }

  sleep(): Promise<number> {
    if (this.#alive) {
      return this.#native.wait(TICK_MS).then((r) => {
        this.wokeAt = this.#native.now();
        return r;
      });
    }
    // Nothing consumes the client: a pending native call would keep the process alive, so it
    // sleeps on a timer that does not, and drains at each tick.
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wakeTimer = undefined;
        this.wokeAt = this.#native.now();
        resolve(0);
      }, TICK_MS);
      this.#native.lib.runtime.unrefTimer(t);
      this.#wakeTimer = () => {
        clearTimeout(t);
        resolve(0);
      };
    });
  }

  keepAlive(on: boolean): void {
    this.#alive = on;
    if (on) {
      const w = this.#wakeTimer;
      this.#wakeTimer = undefined;
      w?.();
    }
  }

  close(): void {
    this.keepAlive(true);
  }
}

class BellWake implements WakeSource {
  #kind: "socket" | "wait" = "socket";
  readonly #native: NativeClient;
  readonly #path: string;
  #conn: UnixConn | undefined;
  #fallback: WaitWake | undefined;
  readonly #buf = new Uint8Array(256);
  #reading = false;
  #readDone = false;
  #readResult: number | null = 0;
  #readError: unknown;
  #wakeUp: (() => void) | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  #alive = true;
  #wokeAt = 0;

  constructor(native: NativeClient, path: string) {
    this.#native = native;
    this.#path = path;
  }

  get kind(): "socket" | "wait" {
    return this.#kind;
  }

  get wokeAt(): number {
    return this.#fallback !== undefined ? this.#fallback.wokeAt : this.#wokeAt;
  }

  async start(): Promise<void> {
    const native = this.#native;
    try {
      this.#conn = await native.lib.runtime.connectUnix(this.#path);
    } catch {
      native.bellAccept(); // removes the listener and its file
      return this.#fallBack();
    }
    if (!native.bellAccept()) {
      this.#conn.close();
      this.#conn = undefined;
      return this.#fallBack();
    }
    // One timer for the periodic work, not one per sleep (no timer work on the wake-up path).
    this.#tick = setInterval(() => this.#wakeUp?.(), TICK_MS);
    const alive = this.#alive;
    this.#alive = true;
    this.keepAlive(alive);
  }

  #fallBack(): void {
    this.#kind = "wait";
    this.#fallback = new WaitWake(this.#native);
  }

  ready(): number {
    return this.#fallback !== undefined ? 0 : this.#native.arm();
  }

  async sleep(): Promise<number | undefined> {
    if (this.#fallback !== undefined) return this.#fallback.sleep();
    const conn = this.#conn!;
    if (!this.#reading) {
      // One read pending at a time with one handler (a Promise.race per sleep would pile
      // reactions onto that read while idle).
      this.#reading = true;
      this.#readDone = false;
      conn.read(this.#buf).then((r) => {
        this.#wokeAt = this.#native.now();
        this.#readDone = true;
        this.#readResult = r;
        this.#wakeUp?.();
      }, (e: unknown) => {
        this.#readDone = true;
        this.#readError = e;
        this.#wakeUp?.();
      });
    }
    if (!this.#readDone) {
      await new Promise<void>((resolve) => (this.#wakeUp = resolve));
      this.#wakeUp = undefined;
    }
    if (!this.#readDone) return 0; // the tick
    this.#reading = false;
    if (this.#readError !== undefined) throw this.#readError;
    if (this.#readResult === null) {
      // The core closed its end: the client is closing (or was collected and finalized).
      throw new NativeError("The doorbell socket was closed by the core");
    }
    return undefined;
  }

  keepAlive(on: boolean): void {
    this.#fallback?.keepAlive(on);
    if (on === this.#alive) return;
    this.#alive = on;
    const rt = this.#native.lib.runtime;
    if (this.#tick !== undefined) {
      if (on) rt.refTimer(this.#tick);
      else rt.unrefTimer(this.#tick);
    }
    if (on) this.#conn?.ref();
    else this.#conn?.unref();
  }

  close(): void {
    if (this.#tick !== undefined) clearInterval(this.#tick);
    this.#tick = undefined;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#conn = undefined;
  }
}

/**
 * The wake source of a stream-mode client: the doorbell when `preferred` is
 * `"socket"` and the runtime allows a Unix socket in /tmp (the core then
 * listens at once, so the kind is known when this returns), else the native wait.
 */
export function openWake(
  native: NativeClient,
  preferred: "socket" | "wait",
  keepWarmMs = 0,
): WakeSource {
  const rt = native.lib.runtime;
  let src: WakeSource | undefined;
  if (preferred === "socket") {
    const path = `/tmp/hftlive-${rt.pid}-${native.handle}-${Math.floor(Math.random() * 1e9)}.sock`;
    if (rt.unixSocketAllowed(path) && native.bellListen(path)) src = new BellWake(native, path);
  }
  src ??= new WaitWake(native);
  if (keepWarmMs > 0) {
    // An empty timer wakes the event loop every keepWarmMs while the client is open, so an
    // event after a quiet spell finds the thread (and its caches) warm; it never keeps the
    // process alive.
    const warm = setInterval(() => {}, keepWarmMs);
    rt.unrefTimer(warm);
    const close = src.close.bind(src);
    src.close = () => {
      clearInterval(warm);
      close();
    };
  }
  return src;
}
