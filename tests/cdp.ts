/**
 * A headless Chromium driven over the Chrome DevTools Protocol with Deno's
 * built-in WebSocket (no puppeteer, no browser download): Debian's `chromium`,
 * installed by `scripts/chromium.sh` when missing. Not a test file itself.
 *
 * Chromium is started with `--remote-debugging-port=0`; the port it picked is
 * read from its stderr line "DevTools listening on ws://…". One page target is
 * created and attached in flat mode; `evaluate` runs an expression in it.
 */

const root = new URL("../", import.meta.url);

/**
 * The Chromium binary: `scripts/chromium.sh` finds it or installs Debian's `chromium`. Throws
 * with the script's message when that is not possible (the browser test fails, never skips).
 */
export async function chromiumPath(): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: [new URL("scripts/chromium.sh", root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  if (code !== 0 || out === "") {
    throw new Error(
      "Cannot run the monitor's browser test: no Chromium and scripts/chromium.sh could not " +
        `install it (apt-get install chromium, or set CHROMIUM):\n${
          new TextDecoder().decode(stderr)
        }`,
    );
  }
  return out.split("\n").pop()!;
}

/** Resolves with `value` after `ms`; `cancel()` clears the timer (no leaked timer in a test). */
function delay<T>(ms: number, value: T): { promise: Promise<T>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<T>((r) => (timer = setTimeout(() => r(value), ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

interface Pending {
  resolve(v: Record<string, unknown>): void;
  reject(e: Error): void;
}

/** A running headless Chromium with one page. */
export class Browser {
  readonly #child: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #stderr: Promise<string>;
  readonly #pending = new Map<number, Pending>();
  readonly #console: string[] = [];
  #id = 0;
  #session = "";

  private constructor(child: Deno.ChildProcess, ws: WebSocket, stderr: Promise<string>) {
    this.#child = child;
    this.#ws = ws;
    this.#stderr = stderr;
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data as string) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
        method?: string;
        params?: { type?: string; args?: { value?: unknown }[]; exceptionDetails?: unknown };
      };
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`CDP: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method === "Runtime.consoleAPICalled") {
        this.#console.push(
          `${msg.params?.type}: ${msg.params?.args?.map((a) => String(a.value)).join(" ")}`,
        );
      } else if (msg.method === "Runtime.exceptionThrown") {
        this.#console.push(`exception: ${JSON.stringify(msg.params?.exceptionDetails)}`);
      }
    };
  }

  /** Starts Chromium headless with its profile under `dir`, and opens a blank page. */
  static async launch(dir: string, width = 1280, height = 1500): Promise<Browser> {
    const child = new Deno.Command(await chromiumPath(), {
      args: [
        "--headless=new",
        "--no-sandbox", // running as root in CI needs it
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        `--user-data-dir=${dir}/profile`,
        `--window-size=${width},${height}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Read stderr up to the DevTools line, then keep draining it (a full pipe would block it).
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    let endpoint: string | undefined;
    const deadline = Date.now() + 30_000;
    while (endpoint === undefined) {
      const late = delay(Math.max(0, deadline - Date.now()), undefined);
      const r = await Promise.race([lines.read(), late.promise]);
      late.cancel();
      if (r === undefined) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error(`Chromium printed no DevTools URL in 30 s:\n${seen}`);
      }
      const { value, done } = r;
      if (done) {
        await child.status;
        throw new Error(`Chromium exited before listening:\n${seen}`);
      }
      seen += value;
      endpoint = seen.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
    }
    const stderr = (async () => {
      let rest = seen;
      for (;;) {
        const { value, done } = await lines.read();
        if (done) return rest;
        rest += value;
      }
    })();
    const ws = new WebSocket(endpoint);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) => reject(new Error(`Cannot open the DevTools socket: ${String(e)}`));
    });
    const b = new Browser(child, ws, stderr);
    const { targetId } = await b.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await b.send("Target.attachToTarget", { targetId, flatten: true });
    b.#session = sessionId as string;
    await b.send("Runtime.enable", {}, true);
    await b.send("Page.enable", {}, true);
    return b;
  }

  /** Sends a CDP command (to the page when `page`), resolves with its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    page = false,
  ): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject });
    this.#ws.send(
      JSON.stringify({ id, method, params, ...(page ? { sessionId: this.#session } : {}) }),
    );
    return promise;
  }

  /** Navigates the page to `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    await this.send("Page.navigate", { url }, true);
    await this.waitFor("document.readyState === 'complete'", 10_000, "the page to load");
  }

  /** Evaluates `expression` in the page; returns its value (JSON-serializable). */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }, true) as { result: { value?: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) {
      throw new Error(`evaluate(${expression}) threw: ${JSON.stringify(r.exceptionDetails)}`);
    }
    return r.result.value as T;
  }

  /**
   * Polls `expression` in the page until it is truthy (every 50 ms) or throws
   * after `ms` with `what` and the last value.
   */
  async waitFor<T = unknown>(expression: string, ms: number, what: string): Promise<T> {
    const end = Date.now() + ms;
    let last: unknown;
    for (;;) {
      last = await this.evaluate<T>(expression);
      if (last) return last as T;
      if (Date.now() > end) {
        throw new Error(
          `timed out after ${ms} ms waiting for ${what}; last value ${JSON.stringify(last)}; ` +
            `page console: ${this.#console.join(" | ") || "(empty)"}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A PNG screenshot of the page, written to `path`; returns its size in bytes. */
  async screenshot(path: string): Promise<number> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" }, true);
    const png = Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
    await Deno.writeFile(path, png);
    return png.length;
  }

  /** What the page logged (console and uncaught exceptions). */
  get console(): readonly string[] {
    return this.#console;
  }

  /** Closes the browser and waits for it to exit. */
  async close(): Promise<void> {
    const asked = delay(2000, undefined);
    try {
      await Promise.race([this.send("Browser.close"), asked.promise]);
    } catch { /* exiting anyway */ }
    asked.cancel();
    const closed = new Promise<void>((r) => {
      if (this.#ws.readyState === WebSocket.CLOSED) r();
      else this.#ws.addEventListener("close", () => r(), { once: true });
    });
    this.#ws.close();
    await closed;
    const late = delay(5000, false);
    const exited = await Promise.race([this.#child.status.then(() => true), late.promise]);
    late.cancel();
    if (!exited) {
      this.#child.kill("SIGKILL");
      await this.#child.status;
    }
    await this.#stderr;
    for (const p of this.#pending.values()) p.reject(new Error("browser closed"));
    this.#pending.clear();
  }
}
