/**
 * Cancel on exit, for the ways out that JavaScript sees: every client opened
 * with `cancelOnExit` is closed (which cancels its resting orders) when the
 * process gets SIGINT or SIGTERM, then the process exits with the signal's
 * usual status (130, 143). A second signal while that runs exits at once.
 * The listeners exist only while such a client is open and do not keep the
 * process alive.
 *
 * It reaches the runtime through an injected {@linkcode ExitHost}, so it
 * names no runtime itself.
 *
 * @example
 * ```ts
 * import { guardOnExit, unguard } from "./exit_guard.ts";
 * const client = { close: () => Promise.resolve() };
 * const host = { onSignals: () => () => {}, exit: (_code: number) => {} };
 * guardOnExit(client, host);
 * unguard(client);
 * ```
 *
 * @module
 */

/** The signals that end a process by default and that a trader sends to stop. */
export type ExitSignal = "SIGINT" | "SIGTERM";

/** What a guarded client offers: a close that cancels its resting orders. */
export interface Closable {
  /** Closes (cancelling resting orders, with its own deadline). */
  close(): Promise<void>;
}

/** The runtime's part: signal listeners and exit. */
export interface ExitHost {
  /** Listens to SIGINT and SIGTERM; returns a function that stops listening. */
  onSignals(handler: (signal: ExitSignal) => void): () => void;
  /** Exits the process with `code`. */
  exit(code: number): void;
}

// Held weakly: guarding a client must not keep a dropped one from being collected (its
// finalizer then closes it natively).
const guarded = new Set<WeakRef<Closable>>();
const refs = new WeakMap<Closable, WeakRef<Closable>>();
let stopListening: (() => void) | undefined;
let exiting = false;

/** Closes `client` when the process is told to stop (see the module doc). */
export function guardOnExit(client: Closable, host: ExitHost): void {
  const ref = new WeakRef(client);
  refs.set(client, ref);
  guarded.add(ref);
  if (stopListening !== undefined) return;
  stopListening = host.onSignals((signal) => {
    const code = signal === "SIGINT" ? 130 : 143;
    if (exiting) return host.exit(code); // asked twice: stop now
    exiting = true;
    const open = [...guarded].map((r) => r.deref()).filter((c) => c !== undefined);
    void Promise.allSettled(open.map((c) => c.close())).then(() => host.exit(code));
  });
}

/** Stops guarding `client` (it closed); the listeners go with the last one. */
export function unguard(client: Closable): void {
  const ref = refs.get(client);
  if (ref !== undefined) guarded.delete(ref);
  for (const r of guarded) if (r.deref() === undefined) guarded.delete(r);
  if (guarded.size === 0 && stopListening !== undefined && !exiting) {
    stopListening();
    stopListening = undefined;
  }
}
