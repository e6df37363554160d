/**
 * Unit tests of `callbacks.ts`: handlers by event name, error isolation,
 * removal and counting. Pure TypeScript: no native library, no permissions.
 */

import assert from "node:assert/strict";
import { Callbacks, reportCallbackError } from "../callbacks.ts";

interface Events {
  tick: number;
  name: string;
}

/** Runs `f` with the global `error` event caught (and kept from failing the test). */
function catchingReported(f: () => void): unknown[] {
  const reported: unknown[] = [];
  const listener = (e: ErrorEvent): void => {
    e.preventDefault();
    reported.push(e.error);
  };
  addEventListener("error", listener);
  try {
    f();
  } finally {
    removeEventListener("error", listener);
  }
  return reported;
}

Deno.test("Callbacks.emit() calls every handler of the event once, in the order added", () => {
  const cb = new Callbacks<Events>();
  const calls: string[] = [];
  cb.on("tick", (n) => calls.push(`a${n}`));
  cb.on("tick", (n) => calls.push(`b${n}`));
  cb.on("name", (s) => calls.push(`name ${s}`));
  cb.emit("tick", 1);
  cb.emit("name", "x");
  cb.emit("tick", 2);
  assert.deepEqual(calls, ["a1", "b1", "name x", "a2", "b2"]);
});

Deno.test("Callbacks: a throwing handler goes to onError and the next handler still runs", () => {
  const errors: [unknown, keyof Events][] = [];
  const cb = new Callbacks<Events>((e, event) => errors.push([e, event]));
  const boom = new Error("boom");
  const seen: number[] = [];
  cb.on("tick", () => {
    throw boom;
  });
  cb.on("tick", (n) => seen.push(n));
  cb.emit("tick", 7); // does not throw
  assert.deepEqual(seen, [7]);
  assert.deepEqual(errors, [[boom, "tick"]]);
  // Every emit reports again.
  cb.emit("tick", 8);
  assert.deepEqual(seen, [7, 8]);
  assert.equal(errors.length, 2);
});

Deno.test("Callbacks: a non-Error thrown by a handler reaches onError as thrown", () => {
  const errors: unknown[] = [];
  const cb = new Callbacks<Events>((e) => errors.push(e));
  cb.on("name", () => {
    throw "a string";
  });
  cb.emit("name", "x");
  assert.deepEqual(errors, ["a string"]);
});

Deno.test("Callbacks: an onError that throws is reported and the next handler still runs", () => {
  const secondary = new Error("onError failed");
  const cb = new Callbacks<Events>(() => {
    throw secondary;
  });
  const seen: number[] = [];
  cb.on("tick", () => {
    throw new Error("handler failed");
  });
  cb.on("tick", (n) => seen.push(n));
  const reported = catchingReported(() => cb.emit("tick", 1));
  assert.deepEqual(seen, [1]);
  assert.deepEqual(reported, [secondary]);
});

Deno.test("Callbacks by default report a handler's error through reportError", () => {
  const cb = new Callbacks<Events>();
  const boom = new Error("boom");
  cb.on("tick", () => {
    throw boom;
  });
  let after = false;
  cb.on("tick", () => (after = true));
  const reported = catchingReported(() => cb.emit("tick", 1));
  assert.deepEqual(reported, [boom]);
  assert.equal(after, true);
});

Deno.test("reportCallbackError() dispatches the error without throwing", () => {
  const e = new Error("x");
  assert.deepEqual(catchingReported(() => reportCallbackError(e)), [e]);
});

Deno.test("Callbacks: the function on() returns removes the handler", () => {
  const cb = new Callbacks<Events>();
  const seen: number[] = [];
  const off = cb.on("tick", (n) => seen.push(n));
  cb.emit("tick", 1);
  off();
  cb.emit("tick", 2);
  off(); // a second call is a no-op
  assert.deepEqual(seen, [1]);
  assert.equal(cb.size, 0);
  assert.equal(cb.has("tick"), false);
});

Deno.test("Callbacks.off() removes one handler and is a no-op for one not added", () => {
  const cb = new Callbacks<Events>();
  const seen: string[] = [];
  const a = (n: number): void => void seen.push(`a${n}`);
  const b = (n: number): void => void seen.push(`b${n}`);
  cb.on("tick", a);
  cb.on("tick", b);
  cb.off("tick", a);
  cb.off("tick", a);
  cb.off("name", () => {});
  cb.emit("tick", 1);
  assert.deepEqual(seen, ["b1"]);
  assert.equal(cb.size, 1);
});

Deno.test("Callbacks.size and has() count handlers; adding one twice counts once", () => {
  const cb = new Callbacks<Events>();
  assert.equal(cb.size, 0);
  assert.equal(cb.has("tick"), false);
  const h = (): void => {};
  cb.on("tick", h);
  cb.on("tick", h); // the same handler again
  assert.equal(cb.size, 1);
  assert.equal(cb.has("tick"), true);
  assert.equal(cb.has("name"), false);
  cb.on("name", h);
  assert.equal(cb.size, 2);
  let calls = 0;
  cb.on("tick", () => calls++);
  cb.emit("tick", 1);
  assert.equal(calls, 1);
  assert.equal(cb.size, 3);
  cb.off("tick", h);
  assert.equal(cb.size, 2);
  assert.equal(cb.has("tick"), true);
});

Deno.test("Callbacks.clear() removes every handler", () => {
  const cb = new Callbacks<Events>();
  let calls = 0;
  cb.on("tick", () => calls++);
  cb.on("name", () => calls++);
  cb.clear();
  cb.emit("tick", 1);
  cb.emit("name", "x");
  assert.equal(calls, 0);
  assert.equal(cb.size, 0);
  assert.equal(cb.has("tick"), false);
  // Usable again after clear.
  cb.on("tick", () => calls++);
  cb.emit("tick", 1);
  assert.equal(calls, 1);
  assert.equal(cb.size, 1);
});

Deno.test("Callbacks: a handler removed by an earlier one during emit is not called", () => {
  const cb = new Callbacks<Events>();
  const seen: string[] = [];
  const b = (): void => void seen.push("b");
  cb.on("tick", () => {
    seen.push("a");
    cb.off("tick", b);
  });
  cb.on("tick", b);
  cb.emit("tick", 1);
  assert.deepEqual(seen, ["a"]);
  assert.equal(cb.size, 1);
});

Deno.test("Callbacks.emit() of an event without handlers does nothing", () => {
  let errors = 0;
  const cb = new Callbacks<Events>(() => errors++);
  cb.emit("tick", 1);
  const off = cb.on("tick", () => {});
  off();
  cb.emit("tick", 2);
  assert.equal(errors, 0);
});

Deno.test("Callbacks: a handler that removes and re-adds itself during emit is called once", () => {
  const cb = new Callbacks<Events>();
  let calls = 0;
  const h = (): void => {
    calls++;
    cb.off("tick", h);
    cb.on("tick", h);
  };
  cb.on("tick", h);
  cb.emit("tick", 1);
  assert.equal(calls, 1);
  cb.emit("tick", 2);
  assert.equal(calls, 2);
});
