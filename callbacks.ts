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
 * once, in the order they were added.
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
  readonly #handlers = new Map<keyof Events, Set<Handler<never>>>();
  readonly #onError: (e: unknown, event: keyof Events) => void;
  #count = 0;

  /** `onError` receives what a handler threw (default {@linkcode reportCallbackError}). */
  constructor(onError: (e: unknown, event: keyof Events) => void = reportCallbackError) {
    this.#onError = onError;
  }

  /** Adds `handler` for `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    let set = this.#handlers.get(event);
    if (set === undefined) this.#handlers.set(event, set = new Set());
    if (!set.has(handler as Handler<never>)) {
      set.add(handler as Handler<never>);
      this.#count++;
    }
    return () => this.off(event, handler);
  }

  /** Removes `handler` from `event` (no-op when it is not there). */
  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): void {
    if (this.#handlers.get(event)?.delete(handler as Handler<never>)) this.#count--;
  }

  /** Whether `event` has at least one handler. */
  has(event: keyof Events): boolean {
    const set = this.#handlers.get(event);
    return set !== undefined && set.size > 0;
  }

  /** Handlers in total, over every event. */
  get size(): number {
    return this.#count;
  }

  /** Calls every handler of `event` with `value`; what one throws goes to `onError`. */
  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.#handlers.get(event);
    if (set === undefined || set.size === 0) return;
    for (const h of set) {
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
