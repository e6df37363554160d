/**
 * A hot-loop strategy off the main thread: the strategy module runs in a
 * `Worker`, connects there itself (`mode: "poll"`, usually `inline: true`:
 * the engine runs inside its `poll()`), and owns that thread. The main thread
 * keeps its event loop free and hears from the strategy only when the
 * strategy says something (`post`) and when it ends (its result).
 *
 * - Main thread: {@linkcode StrategyWorker.start} a module with parameters;
 *   read what it posts from `messages` (or `onMessage`); `stop()` asks it to
 *   finish and resolves with its result.
 * - Worker: the module calls {@linkcode runWorkerStrategy} with the strategy
 *   function; the function gets a {@linkcode WorkerStrategyContext}: its
 *   parameters, `stopped` (checked between polls: a worker blocked in `poll()`
 *   cannot receive messages, so the stop request is a shared flag, seen
 *   within one poll timeout) and `post()`.
 *
 * The API inside the worker is the one the main thread has: `LiveClient`,
 * `poll()`, `buy()`, `cancelOrder()`. Forwarding every event to the main
 * thread would cost 10–20 µs each (`postMessage`): post decisions and
 * results, not the feed. Uses the web-standard `Worker` (Deno, browsers,
 * Bun); Node has no global `Worker`, so `start` throws there.
 *
 * @example Main thread
 * ```ts ignore
 * import { StrategyWorker } from "./mod.ts";
 * const w = StrategyWorker.start<{ trades: number }>(
 *   new URL("./my_strategy.ts", import.meta.url),
 *   { connector: "paper", seconds: 5 },
 * );
 * w.onMessage((m) => console.log("strategy says", m));
 * const result = await w.stop();
 * console.log(result.trades);
 * ```
 *
 * @example In the worker (`my_strategy.ts`)
 * ```ts ignore
 * import { LiveClient, runWorkerStrategy } from "./mod.ts";
 * runWorkerStrategy<{ connector: string }, { trades: number }>(async (ctx) => {
 *   await using client = await LiveClient.connect({
 *     instruments: [{ connector: ctx.params.connector, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 *     mode: "poll",
 *     inline: true,
 *   });
 *   let trades = 0;
 *   while (!ctx.stopped) {
 *     for (const ev of client.poll(50)) if (ev.type === "trade") trades++;
 *   }
 *   return { trades };
 * });
 * ```
 *
 * @module
 */

/** Messages between the helper's two sides. */
type Envelope =
  | { readonly hftlive: "ready" }
  | { readonly hftlive: "start"; readonly params: unknown; readonly stop: SharedArrayBuffer }
  | { readonly hftlive: "message"; readonly data: unknown }
  | { readonly hftlive: "done"; readonly result: unknown }
  | { readonly hftlive: "error"; readonly message: string; readonly stack?: string };

/** What a web `Worker` offers the main thread (typed here, not from a runtime's lib). */
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string; preventDefault?: () => void }) => void) | null;
}

/** What a worker's global scope offers (typed here, not from a runtime's lib). */
interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((e: { data: unknown }) => void) | null;
}

const isEnvelope = (d: unknown): d is Envelope =>
  typeof d === "object" && d !== null && typeof (d as { hftlive?: unknown }).hftlive === "string";

/**
 * What a worker strategy gets: its parameters, the stop flag and a way to
 * talk to the main thread.
 *
 * @example
 * ```ts
 * import type { WorkerStrategyContext } from "./worker.ts";
 * function loop(ctx: WorkerStrategyContext<{ seconds: number }>): void {
 *   const end = Date.now() + ctx.params.seconds * 1000;
 *   while (!ctx.stopped && Date.now() < end) { /* client.poll(...) *\/ }
 *   ctx.post("finished");
 * }
 * ```
 */
export interface WorkerStrategyContext<P> {
  /** The parameters given to {@linkcode StrategyWorker.start} (structured-cloned). */
  readonly params: P;
  /** True once the main thread called `stop()` (a shared flag: no message needs to arrive). */
  readonly stopped: boolean;
  /** Sends `data` (structured-cloned) to the main thread's `messages` / `onMessage`. */
  post(data: unknown): void;
}

/**
 * The worker side: says it is ready, then runs `strategy` with its context
 * once the main thread's {@linkcode StrategyWorker.start} sends the parameters; what it returns (or
 * resolves with) is the result of the main thread's `stop()`/`done`; what it
 * throws rejects them.
 *
 * @example
 * ```ts ignore
 * import { runWorkerStrategy } from "./mod.ts";
 * runWorkerStrategy<{ n: number }, number>((ctx) => ctx.params.n * 2);
 * ```
 */
export function runWorkerStrategy<P, R>(
  strategy: (ctx: WorkerStrategyContext<P>) => R | Promise<R>,
): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (e) => {
    const m = e.data;
    if (!isEnvelope(m) || m.hftlive !== "start") return;
    scope.onmessage = null;
    const flag = new Int32Array(m.stop);
    const ctx: WorkerStrategyContext<P> = {
      params: m.params as P,
      get stopped(): boolean {
        return Atomics.load(flag, 0) !== 0;
      },
      post: (data) => scope.postMessage({ hftlive: "message", data } satisfies Envelope),
    };
    Promise.resolve()
      .then(() => strategy(ctx))
      .then(
        (result) => scope.postMessage({ hftlive: "done", result } satisfies Envelope),
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          scope.postMessage({ hftlive: "error", message: e.message, stack: e.stack });
        },
      );
  };
  // The main thread sends the parameters only now: a message that arrives before a worker
  // module has installed its handler (a top-level await ran first) would be lost.
  scope.postMessage({ hftlive: "ready" } satisfies Envelope);
}

/**
 * The main-thread side of a worker strategy (see the module documentation).
 *
 * @example
 * ```ts ignore
 * import { StrategyWorker } from "./mod.ts";
 * const w = StrategyWorker.start(new URL("./strategy.ts", import.meta.url), { seconds: 2 });
 * for await (const m of w.messages) console.log(m); // ends when the strategy does
 * console.log(await w.done);
 * ```
 */
export class StrategyWorker<R = unknown> {
  readonly #worker: WebWorker;
  readonly #stop: Int32Array;
  readonly #done: Promise<R>;
  readonly #handlers: ((data: unknown) => void)[] = [];
  readonly #queue: unknown[] = [];
  #pull: (() => void) | undefined;
  #ended = false;
  /** Everything the strategy posted, in order; ends when the strategy ends. */
  readonly messages: ReadableStream<unknown>;

  private constructor(worker: WebWorker, stop: SharedArrayBuffer, params: unknown) {
    this.#worker = worker;
    this.#stop = new Int32Array(stop);
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    this.#done = promise;
    // Nobody may await `done` (stop() does): a failure must not be an unhandled rejection here.
    promise.catch(() => {});
    const end = (): void => {
      this.#ended = true;
      this.#pull?.();
      this.#worker.terminate();
    };
    worker.onmessage = (e) => {
      const m = e.data;
      if (!isEnvelope(m)) return;
      if (m.hftlive === "ready") {
        worker.postMessage({ hftlive: "start", params, stop } satisfies Envelope);
      } else if (m.hftlive === "message") {
        for (const h of [...this.#handlers]) h(m.data);
        this.#queue.push(m.data);
        this.#pull?.();
      } else if (m.hftlive === "done") {
        end();
        resolve(m.result as R);
      } else if (m.hftlive === "error") {
        end();
        const err = new Error(`The worker strategy failed: ${m.message}`);
        if (m.stack) err.stack = m.stack;
        reject(err);
      }
    };
    worker.onerror = (e) => {
      e.preventDefault?.();
      end();
      reject(new Error(`The worker strategy failed: ${e.message ?? "uncaught error"}`));
    };
    this.messages = new ReadableStream<unknown>({
      pull: async (controller) => {
        while (this.#queue.length === 0 && !this.#ended) {
          await new Promise<void>((r) => (this.#pull = r));
          this.#pull = undefined;
        }
        if (this.#queue.length > 0) controller.enqueue(this.#queue.shift());
        else controller.close();
      },
    });
  }

  /**
   * Starts `module` (a module calling {@linkcode runWorkerStrategy}) in a new
   * module `Worker` and hands it `params` (structured-cloned). In Deno the
   * worker has this process's permissions.
   *
   * @example
   * ```ts ignore
   * import { StrategyWorker } from "./mod.ts";
   * const w = StrategyWorker.start(new URL("./strategy.ts", import.meta.url), { seconds: 2 });
   * ```
   */
  static start<R = unknown, P = unknown>(module: URL | string, params?: P): StrategyWorker<R> {
    const Ctor = (globalThis as { Worker?: new (u: URL | string, o: object) => WebWorker }).Worker;
    if (typeof Ctor !== "function") {
      throw new Error("StrategyWorker needs the web-standard Worker (Deno, browsers, Bun)");
    }
    const stop = new SharedArrayBuffer(4);
    const worker = new Ctor(module, { type: "module" });
    return new StrategyWorker<R>(worker, stop, params);
  }

  /**
   * Calls `handler` with each message the strategy posts (besides queuing it
   * on `messages`); returns a function that removes it.
   *
   * @example
   * ```ts ignore
   * const off = w.onMessage((m) => console.log(m));
   * off();
   * ```
   */
  onMessage(handler: (data: unknown) => void): () => void {
    this.#handlers.push(handler);
    return () => {
      const i = this.#handlers.indexOf(handler);
      if (i >= 0) this.#handlers.splice(i, 1);
    };
  }

  /**
   * The strategy's result: resolves when its function returns, rejects when it
   * throws or the worker fails.
   *
   * @example
   * ```ts ignore
   * const result = await w.done;
   * ```
   */
  get done(): Promise<R> {
    return this.#done;
  }

  /**
   * Asks the strategy to finish (sets the flag it sees as `stopped`) and
   * resolves with its result. After `timeoutMs` (default 10 s) without an
   * answer the worker is terminated and the promise rejects.
   *
   * @example
   * ```ts ignore
   * const result = await w.stop();
   * ```
   */
  async stop(timeoutMs = 10_000): Promise<R> {
    Atomics.store(this.#stop, 0, 1);
    if (this.#ended) return await this.#done;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#ended = true;
        this.#pull?.();
        this.#worker.terminate();
        reject(new Error(`The worker strategy did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.#done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
