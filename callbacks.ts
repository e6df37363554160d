/**
 * Callbacks by event name with error isolation: a handler that throws is
 * reported (through `reportError` where the runtime has it) and never stops
 * the handlers after it, nor the code that emitted the event.
 *
 * @example
 * ```ts
 * import { Callbacks } from "./callbacks.ts";
 *
 * const cb = new Callbacks<{ tick: number }>();
 * const off = cb.on("tick", (n) => console.log("tick", n));
 * cb.emit("tick", 1);
 * off();
 * ```
 *
 * @module
 */

/** A handler of one event. */
export type Handler<T> = (value: T) => void;

/**
 * Reports an error thrown by a callback without throwing it: `reportError`
 * (Deno, browsers, Node 22+) dispatches it to the global `error` event and,
 * when nothing handles it, logs it; without `reportError` it is logged with
 * `console.error`.
 *
 * @example
 * ```ts
 * import { reportCallbackError } from "./callbacks.ts";
 * addEventListener("error", (e) => e.preventDefault(), { once: true });
 * reportCallbackError(new Error("a callback failed"));
 * ```
 */
export function reportCallbackError(e: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof report === "function") report(e);
  else console.error("hftlive: a callback threw:", e);
}

/**
 * A set of handlers per event name. `emit` calls each handler of the event
 * once, in the order they were added; a handler added during an `emit` is
 * called from the next one, one removed during it is not called any more.
 *
 * @example
 * ```ts
 * import { Callbacks } from "./callbacks.ts";
 * const cb = new Callbacks<{ a: string }>((e) => console.error("handler failed", e));
 * cb.on("a", () => {
 *   throw new Error("boom");
 * });
 * cb.on("a", (s) => console.log(s)); // still called
 * cb.emit("a", "hello");
 * ```
 */
export class Callbacks<Events> {
  /** Handlers per event, replaced (never mutated) on add and remove: an emit sees a snapshot. */
  readonly #handlers = new Map<keyof Events, readonly Handler<never>[]>();
  readonly #onError: (e: unknown, event: keyof Events) => void;
  #count = 0;

  /** `onError` receives what a handler threw (default {@linkcode reportCallbackError}). */
  constructor(onError: (e: unknown, event: keyof Events) => void = reportCallbackError) {
    this.#onError = onError;
  }

  /** Adds `handler` for `event` (once); returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    const list = this.#handlers.get(event) ?? [];
    if (!list.includes(handler as Handler<never>)) {
      this.#handlers.set(event, [...list, handler as Handler<never>]);
      this.#count++;
    }
    return () => this.off(event, handler);
  }

  /** Removes `handler` from `event` (no-op when it is not there). */
  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): void {
    const list = this.#handlers.get(event);
    if (list === undefined || !list.includes(handler as Handler<never>)) return;
    this.#handlers.set(event, list.filter((h) => h !== handler));
    this.#count--;
  }

  /** Whether `event` has at least one handler. */
  has(event: keyof Events): boolean {
    return (this.#handlers.get(event)?.length ?? 0) > 0;
  }

  /** Handlers in total, over every event. */
  get size(): number {
    return this.#count;
  }

  /** Calls every handler of `event` with `value`; what one throws goes to `onError`. */
  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const list = this.#handlers.get(event);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      const h = list[i];
      // Removed by an earlier handler of this emit: not called (as with EventTarget).
      const now = this.#handlers.get(event);
      if (now !== list && !now?.includes(h)) continue;
      try {
        (h as Handler<Events[K]>)(value);
      } catch (e) {
        try {
          this.#onError(e, event);
        } catch (e2) {
          reportCallbackError(e2);
        }
      }
    }
  }

  /** Removes every handler. */
  clear(): void {
    this.#handlers.clear();
    this.#count = 0;
  }
}
