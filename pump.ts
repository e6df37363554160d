/**
 * The stream-mode pump: sleeps on the client's {@linkcode WakeSource}, then
 * has the client drain and deliver everything ready, until the client closes,
 * fails or is collected.
 *
 * It sees the client only as a {@linkcode PumpHost} behind a `WeakRef`, and
 * only inside the three helpers below, none of which awaits: no local of the
 * pump can hold the client across an `await`, so a client dropped without
 * `close()` can be collected while the pump sleeps; its finalizer then closes
 * the native client, which wakes the sleep, and the pump ends (nothing keeps
 * the process alive).
 *
 * @module
 */

import type { WakeSource } from "./ffi/wake.ts";

/** What the pump may ask of the client. */
export interface PumpHost {
  /**
   * Handles a wake-up result (> 0 records ready, 0 a timeout or tick, < 0 a
   * failure status) and drains; false when the pump should stop. `wokeAt`:
   * when the wake-up that led to this step reached JavaScript (ns since the
   * epoch), 0 when the step follows no sleep.
   */
  step(waited: number, wokeAt: number): boolean;
  /** Records drained but not delivered yet (the last step ran out of time). */
  backlog(): boolean;
  /** The client is closing: the pump stops. */
  stopping(): boolean;
  /** The pump cannot go on (the client reports it and closes). */
  fail(error: unknown): void;
}

function step(ref: WeakRef<PumpHost>, waited: number, wokeAt: number): boolean {
  const h = ref.deref();
  return h !== undefined && !h.stopping() && h.step(waited, wokeAt);
}

function backlog(ref: WeakRef<PumpHost>): boolean {
  return ref.deref()?.backlog() ?? false;
}

function gone(ref: WeakRef<PumpHost>): boolean {
  const h = ref.deref();
  return h === undefined || h.stopping();
}

function fail(ref: WeakRef<PumpHost>, e: unknown): void {
  const h = ref.deref();
  if (h !== undefined && !h.stopping()) h.fail(e);
}

/**
 * How long the pump may drain without a break (ms): records that keep coming
 * faster than the handlers take them must not starve the event loop (timers,
 * other I/O, other clients), so after this long it yields one macrotask.
 */
const BUSY_BUDGET_MS = 10;

/** Lets every queued task (timers included) run once. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs the pump until the host stops; resolves when it has (never rejects).
 * Waits first, drains after: nothing is delivered before the caller of
 * `connect()` has had the chance to attach callbacks and streams.
 */
export async function runPump(host: WeakRef<PumpHost>, wake: WakeSource): Promise<void> {
  try {
    await wake.start();
    let busySince = -1;
    /** When the last sleep's wake-up reached JavaScript; 0 once a step used it. */
    let woke = 0;
    for (;;) {
      const n = backlog(host) ? 1 : wake.ready();
      if (n !== 0) {
        if (busySince < 0) busySince = performance.now();
        else if (performance.now() - busySince > BUSY_BUDGET_MS) {
          await yieldToEventLoop();
          busySince = performance.now();
        }
        if (!step(host, n, woke)) return;
        woke = 0;
        continue;
      }
      busySince = -1;
      if (gone(host)) return;
      const r = await wake.sleep();
      // A tick (0) is no wake-up: the doorbell's last read time would be stale.
      woke = r === 0 ? 0 : wake.wokeAt;
      if (r !== undefined) {
        if (!step(host, r, woke)) return;
        woke = 0;
      }
    }
  } catch (e) {
    fail(host, e);
  } finally {
    wake.close();
  }
}
