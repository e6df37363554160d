/**
 * Lifecycle at the boundary: the GC backstop (a subprocess with
 * `--v8-flags=--expose-gc` drops clients without closing them) and many
 * connect/close cycles in one process with Deno's op and resource sanitizers
 * on (no leaked timers or pending native waits), no engine thread, no
 * iceoryx2 file and no memory left behind.
 */

import assert from "node:assert/strict";
import { LiveClient } from "../mod.ts";
import { engineThreads, spawnScript, startSim } from "./helpers.ts";

/**
 * Runs a fixture in a subprocess with `--expose-gc` and the base permissions plus `extra`;
 * `timeoutMs` also catches a fixture that something keeps alive.
 */
async function runFixture(
  name: string,
  extra: string[],
  fixtureArgs: string[] = [],
  timeoutMs = 30_000,
): Promise<{ code: number; out: string; err: string }> {
  const script = new URL(`./fixtures/${name}`, import.meta.url).pathname;
  const base = ["run", "--v8-flags=--expose-gc", "--allow-ffi", "--allow-env", "--allow-read"];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...base, ...extra, script, ...fixtureArgs],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/**
 * iceoryx2 node files of this process. A node id's low 32 bits are the pid
 * of its process (other processes, e.g. other test runs, may use iceoryx2 at
 * the same time, so only our own nodes are counted).
 */
function ownNodeFiles(): string[] {
  const out: string[] = [];
  const ours = (id: string): boolean => {
    try {
      return Number(BigInt(id) & 0xffffffffn) === Deno.pid;
    } catch {
      return false;
    }
  };
  try {
    for (const e of Deno.readDirSync("/tmp/iceoryx2/nodes")) {
      const id = e.name.replace(/^iox2_/, "").split(".")[0];
      if (!ours(id)) continue;
      if (!e.isDirectory) out.push(e.name);
      else for (const f of Deno.readDirSync(`/tmp/iceoryx2/nodes/${e.name}`)) out.push(f.name);
    }
  } catch { /* no iceoryx2 directory */ }
  return out;
}

for (const wake of ["socket", "wait"]) {
  Deno.test(`clients dropped without close() are finalized by GC (${wake} wake-up): no crash, no double free, process exits`, async () => {
    const { code, out, err } = await runFixture(
      "finalizer.ts",
      [
        "--allow-run",
        // Without these permissions the doorbell socket cannot be created: the native wait is used.
        ...(wake === "socket" ? ["--allow-write=/tmp", "--allow-net"] : []),
      ],
      ["8"], // 24 dropped clients: more than max_bots (16), so only collected ones make room
    ); // (the timeout also catches a dropped client keeping the process alive)
    assert.equal(code, 0, `exit ${code}\n--- stdout\n${out}\n--- stderr\n${err}`);
    assert.match(out, /^engine threads left: 0$/m, "the finalizer closed every native client");
    assert.match(out, /^finalized$/m);
    assert.doesNotMatch(err, /panic|double free|Segmentation|SIGSEGV|free\(\)/i);
  });
}

Deno.test({
  name: "a client awaited only by its own pending stream read is not collected",
  // The pump holds its client strongly across each wait while a stream, callback or wait
  // consumes it; before, a client referenced only by a frame suspended on one of its streams
  // was collected and the read never settled ("Top-level await promise never resolved").
  fn: async () => {
    // With the doorbell's permissions (the finalizer test covers both wake-ups).
    const { code, out, err } = await runFixture("gc_pending_read.ts", [
      "--allow-write=/tmp",
      "--allow-net",
    ]);
    assert.equal(code, 0, `exit ${code}\n--- stdout\n${out}\n--- stderr\n${err}`);
    assert.match(out, /^got trade \d/m);
  },
});

Deno.test("200 connect/close cycles leave no engine thread, timer, pending wait or iceoryx2 file", async () => {
  await using sim = await startSim({ rate: 200 });
  const instruments = [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }];
  const threads = await engineThreads();
  const nodes = ownNodeFiles().length; // the sim's node
  // Warm up (library load, first iceoryx2 node), then measure.
  for (let i = 0; i < 5; i++) {
    await (await LiveClient.connect({ instruments, ready: 10_000 })).close();
  }
  for (let i = 0; i < 200; i++) {
    const c = await LiveClient.connect({ instruments, ready: i % 10 === 0 ? 10_000 : undefined });
    const pending = i % 2 === 0 ? c.trades.getReader().read() : undefined;
    await c.close();
    if (pending !== undefined) await pending; // a pending stream read ends with close()
    assert.equal(c.closed, true);
  }
  assert.equal(await engineThreads(), threads, "every engine thread joined");
  assert.equal(ownNodeFiles().length, nodes, "no client iceoryx2 node left");
});

Deno.test("resident memory stays flat over 600 connect/close cycles (with GC)", async () => {
  const { code, out, err } = await runFixture("cycles.ts", [], [], 60_000);
  assert.equal(code, 0, `${out}\n${err}`);
  const rss = [...out.matchAll(/^round \d+ rss (\d+\.\d) MiB$/gm)].map((m) => Number(m[1]));
  assert.equal(rss.length, 3, out);
  // Allocator arenas of the engine threads wobble by a few MiB; a leaked ring (4 MiB per
  // client) or drain buffer (256 KiB per client) would add 50–800 MiB over 400 cycles.
  assert.ok(rss[2] - rss[0] < 16, `RSS ${rss.join(" → ")} MiB`);
});

for (const wake of ["socket", "wait"] as const) {
  Deno.test(`a client nobody closes or consumes does not keep the process alive (wake ${wake})`, async () => {
    const perms = wake === "socket" ? ["--allow-write=/tmp", "--allow-net"] : [];
    const t0 = performance.now();
    const { code, out, err } = await runFixture("forgotten.ts", perms, ["idle"], 20_000);
    assert.equal(code, 0, `exit ${code}\n--- stdout\n${out}\n--- stderr\n${err}`);
    assert.match(out, new RegExp(`^connected wake=${wake}$`, "m"));
    assert.ok(performance.now() - t0 < 15_000);
  });
}

Deno.test("a client with a callback keeps the process alive", async () => {
  const script = spawnScript(new URL("./fixtures/forgotten.ts", import.meta.url), ["callback"]);
  assert.match(await script.until("trading"), /trading/);
  // Still running: nothing made it exit (a status would settle this race first).
  const exited = await Promise.race([
    script.child.status.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
  ]);
  assert.equal(exited, false, "the process stayed alive while a callback consumes the client");
  script.child.kill("SIGKILL");
  await script.finish();
});
