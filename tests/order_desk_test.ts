/**
 * Unit tests of `order_desk.ts`: the desk reaches the core only through an
 * {@linkcode OrderPort} and reports through a {@linkcode DeskSink}, so both
 * are plain recording objects here. Pure TypeScript: no native library, no
 * permissions. Every wait a test starts is settled (or the desk closed)
 * before it ends, so no timer outlives a test.
 */

import assert from "node:assert/strict";
import {
  BackpressureError,
  CancelAllError,
  ClosedError,
  ConnectionError,
  DuplicateOrderIdError,
  InvalidOrderStatusError,
  OrderNotFoundError,
  RateLimitedError,
  TimeoutError,
  ValidationError,
} from "../errors.ts";
import { HealthRecorder } from "../health.ts";
import {
  type ErrorEvent,
  ErrorKind,
  type Fill,
  type Order,
  OrderStatus,
  type OrderUpdate,
  Side,
} from "../models.ts";
import { type DeskSink, OrderDesk, type OrderPort, REJECT_CODE_GRACE_MS } from "../order_desk.ts";
import type { InstrumentSpec, RateLimit, ValidOrder } from "../orders.ts";

// ------------------------------------------------------------------ set-up

/** Assets 0 and 2 are on connector "a", asset 1 on connector "b". */
const INSTRUMENTS: readonly InstrumentSpec[] = [
  { connector: "a", symbol: "x", tickSize: 0.1, lotSize: 0.001 },
  { connector: "b", symbol: "y", tickSize: 0.1, lotSize: 0.001 },
  { connector: "a", symbol: "z", tickSize: 1, lotSize: 1 },
];

const onA = (asset: number): boolean => INSTRUMENTS[asset].connector === "a";

/** A client-side problem as the desk reports it to its sink. */
interface ClientError {
  readonly asset: number;
  readonly code: number;
  readonly orderId: number;
  readonly message: string;
  readonly ts: number | undefined;
}

/** A desk over a recording port and sink. */
interface Fixture {
  readonly desk: OrderDesk;
  readonly health: HealthRecorder;
  /** Orders the port sent. */
  readonly submitted: ValidOrder[];
  /** Cancels the port sent, as [asset, orderId]. */
  readonly cancels: [number, number][];
  /** What the desk delivered (order updates and fills), in order. */
  readonly delivered: (OrderUpdate | Fill)[];
  /** Client-side problems the desk reported. */
  readonly errors: ClientError[];
  /** Order ids whose cancel the port refuses (throws). */
  readonly refuseCancel: Set<number>;
  /** Refuse every submit (throws). */
  refuseSubmit: boolean;
  /** The core's queue is full: every cancel throws BackpressureError. */
  fullQueue: boolean;
  /** The core's clock (ns). */
  now: number;
  /** Called by the sink on every delivery (a user callback). */
  onDeliver: ((ev: OrderUpdate | Fill) => void) | undefined;
  /** Times the desk said a wait started. */
  waits: number;
}

function fixture(
  options: { rateLimit?: RateLimit; waitTimeoutMs?: number; keepFinishedOrders?: number } = {},
): Fixture {
  const f = {
    submitted: [] as ValidOrder[],
    cancels: [] as [number, number][],
    delivered: [] as (OrderUpdate | Fill)[],
    errors: [] as ClientError[],
    refuseCancel: new Set<number>(),
    refuseSubmit: false,
    fullQueue: false,
    now: 1_000,
    onDeliver: undefined as ((ev: OrderUpdate | Fill) => void) | undefined,
    waits: 0,
    health: new HealthRecorder([""]),
  };
  const port: OrderPort = {
    submit: (v) => {
      if (f.refuseSubmit) throw new Error(`queue full for order ${v.orderId}`);
      f.submitted.push(v);
    },
    cancel: (asset, orderId) => {
      if (f.refuseCancel.has(orderId)) throw new Error(`queue full for cancel ${orderId}`);
      if (f.fullQueue) throw new BackpressureError(`Cannot cancel order ${orderId}: queue full`);
      f.cancels.push([asset, orderId]);
    },
    now: () => f.now,
  };
  const sink: DeskSink = {
    deliver: (ev) => {
      f.delivered.push(ev);
      f.onDeliver?.(ev);
    },
    clientError: (asset, code, orderId, message, ts) =>
      void f.errors.push({ asset, code, orderId, message, ts }),
  };
  const desk = new OrderDesk({
    instruments: INSTRUMENTS,
    port,
    sink,
    waitTimeoutMs: options.waitTimeoutMs ?? 5_000,
    rateLimit: options.rateLimit,
    keepFinishedOrders: options.keepFinishedOrders,
    health: f.health,
    onWait: () => f.waits++,
  });
  return Object.assign(f, { desk });
}

/** Submits a buy of `qty` at 100 on `asset` with id `orderId`. */
function place(f: Fixture, orderId: number, asset = 0, qty = 1): Order {
  return f.desk.submit({ asset, side: Side.Buy, price: 100, qty }, orderId);
}

/**
 * An ORDER record from the core about `orderId` (request settled, no execution,
 * unless `patch` says otherwise), stamped with the fixture's clock.
 */
function record(f: Fixture, orderId: number, patch: Partial<Order>): OrderUpdate {
  const o = f.desk.get(orderId);
  assert.ok(o, `order ${orderId} is known`);
  return {
    type: "order",
    asset: o.asset,
    orderId,
    side: o.side,
    price: o.price,
    qty: o.qty,
    leavesQty: o.leavesQty,
    execQty: 0,
    execPrice: 0,
    status: o.status,
    req: OrderStatus.None,
    timeInForce: o.timeInForce,
    orderType: o.orderType,
    maker: false,
    exchTs: f.now - 10,
    requestTs: 0,
    updateTs: 0,
    recvTs: f.now,
    ...patch,
  };
}

/** Feeds the desk an ORDER record. */
function answer(f: Fixture, orderId: number, patch: Partial<Order>): void {
  f.desk.onOrder(record(f, orderId, patch));
}

const ack = (f: Fixture, orderId: number): void => answer(f, orderId, { status: OrderStatus.New });

/** An ERROR record with the exchange's code for `orderId`. */
function orderError(orderId: number, code: number, message: string): ErrorEvent {
  return { type: "error", kind: ErrorKind.OrderError, asset: 0, code, orderId, message, ts: 1 };
}

const fills = (f: Fixture): Fill[] => f.delivered.filter((e): e is Fill => e.type === "fill");
const updates = (f: Fixture): OrderUpdate[] =>
  f.delivered.filter((e): e is OrderUpdate => e.type === "order");

// ------------------------------------------------------------------ submit

Deno.test("OrderDesk.submit() validates, rounds and sends the order through the port", () => {
  const f = fixture();
  f.now = 5_000;
  // 100.04 and 0.0021 go to 100 and 0.002 with either rounding rule.
  const o = f.desk.submit({ side: Side.Buy, price: 100.04, qty: 0.0021 }, 7);
  assert.deepEqual(f.submitted, [{
    asset: 0,
    orderId: 7,
    side: Side.Buy,
    price: 100,
    qty: 0.002,
    timeInForce: 0,
    orderType: 0,
  }]);
  assert.equal(o.orderId, 7);
  assert.equal(o.status, OrderStatus.None);
  assert.equal(o.req, OrderStatus.New);
  assert.equal(o.leavesQty, 0.002);
  assert.equal(o.requestTs, 5_000);
  assert.deepEqual(f.desk.get(7), o);
  assert.deepEqual(f.desk.active().map((x) => x.orderId), [7]);
  assert.equal(f.desk.waiting, false);
});

Deno.test("OrderDesk.submit() takes the request's orderId, else a fresh one", () => {
  const f = fixture();
  const a = f.desk.submit({ side: Side.Buy, price: 10, qty: 1, orderId: 42 });
  const b = f.desk.submit({ side: Side.Buy, price: 10, qty: 1 });
  assert.equal(a.orderId, 42);
  assert.ok(Number.isSafeInteger(b.orderId) && b.orderId !== 42);
  assert.deepEqual(f.submitted.map((v) => v.orderId), [42, b.orderId]);
});

Deno.test("OrderDesk.submit() sends nothing on a ValidationError", () => {
  const f = fixture();
  const bad = [
    { side: Side.Buy, price: 0, qty: 1 },
    { side: Side.Buy, price: 100, qty: 0.0001 },
    { side: Side.Buy, price: 100, qty: 1, asset: 3 },
    { side: 2 as Side, price: 100, qty: 1 },
  ];
  for (const req of bad) {
    assert.throws(() => f.desk.submit(req, 9), ValidationError);
  }
  assert.deepEqual(f.submitted, []);
  assert.equal(f.desk.get(9), undefined);
  assert.deepEqual(f.desk.active(), []);
});

Deno.test("OrderDesk.submit() sends nothing on a DuplicateOrderIdError", () => {
  const f = fixture();
  place(f, 3);
  assert.throws(
    () => place(f, 3),
    (e: unknown) =>
      e instanceof DuplicateOrderIdError && e.orderId === 3 &&
      /Cannot submit order 3: the order id was already used/.test(e.message),
  );
  // A finished order's id is refused too.
  answer(f, 3, { status: OrderStatus.Filled, leavesQty: 0, execQty: 1, execPrice: 100 });
  assert.throws(() => place(f, 3), DuplicateOrderIdError);
  assert.equal(f.submitted.length, 1);
});

Deno.test("OrderDesk.submit() keeps no order when the port refuses it", () => {
  const f = fixture();
  f.refuseSubmit = true;
  assert.throws(() => place(f, 5), /queue full for order 5/);
  assert.equal(f.desk.get(5), undefined);
  f.refuseSubmit = false;
  assert.equal(place(f, 5).orderId, 5); // the id is still free
});

Deno.test("OrderDesk.submit() and cancel() are refused by the rate limit with nothing sent", () => {
  const f = fixture({ rateLimit: { rate: 1, burst: 2 } });
  place(f, 1);
  place(f, 2);
  assert.throws(() => place(f, 3), RateLimitedError);
  ack(f, 1);
  assert.throws(() => f.desk.cancel(1), RateLimitedError);
  assert.deepEqual(f.submitted.map((v) => v.orderId), [1, 2]);
  assert.deepEqual(f.cancels, []);
  assert.equal(f.desk.rateLimited, 2);
  assert.equal(f.desk.get(3), undefined);
});

// ------------------------------------------------------------------ cancel

Deno.test("OrderDesk.cancel() sends the cancel and records the request", () => {
  const f = fixture();
  place(f, 1, 2);
  ack(f, 1);
  f.now = 9_000;
  const o = f.desk.cancel(1);
  assert.deepEqual(f.cancels, [[2, 1]]);
  assert.equal(o.req, OrderStatus.Canceled);
  assert.equal(o.requestTs, 9_000);
});

Deno.test("OrderDesk.cancel() throws for an unknown or finished order and sends nothing", () => {
  const f = fixture();
  assert.throws(
    () => f.desk.cancel(77),
    (e: unknown) =>
      e instanceof OrderNotFoundError && e.orderId === 77 &&
      /Cannot cancel order 77: no such order on this client/.test(e.message),
  );
  place(f, 1);
  answer(f, 1, { status: OrderStatus.Canceled });
  assert.throws(
    () => f.desk.cancel(1),
    (e: unknown) => e instanceof InvalidOrderStatusError && /it is Canceled/.test(e.message),
  );
  assert.deepEqual(f.cancels, []);
});

// ------------------------------------------------------------------- waits

Deno.test("OrderDesk.wait() resolves a submit on the first response", async () => {
  const f = fixture();
  const o = place(f, 1);
  const p = f.desk.wait("submit", o, {});
  assert.equal(f.desk.waiting, true);
  assert.equal(f.waits, 1);
  ack(f, 1);
  assert.equal(f.desk.waiting, false);
  const got = await p;
  assert.equal(got.status, OrderStatus.New);
  assert.equal(got.orderId, 1);
  assert.equal(got.req, OrderStatus.None);
});

Deno.test("OrderDesk.wait() resolves a submit answered by a fill with the fill", async () => {
  const f = fixture();
  const p = f.desk.wait("submit", place(f, 1), {});
  answer(f, 1, { status: OrderStatus.Filled, leavesQty: 0, execQty: 1, execPrice: 100 });
  assert.equal((await p).status, OrderStatus.Filled);
});

Deno.test("OrderDesk.wait() gives every concurrent wait its own result", async () => {
  const f = fixture();
  const a1 = f.desk.wait("submit", place(f, 1), {});
  const a2 = f.desk.wait("submit", f.desk.get(1)!, {});
  const b = f.desk.wait("submit", place(f, 2), { timeoutMs: 20 });
  ack(f, 1);
  assert.equal((await a1).status, OrderStatus.New);
  assert.equal((await a2).status, OrderStatus.New);
  await assert.rejects(b, (e: unknown) => e instanceof TimeoutError && e.orderId === 2);
  assert.equal(f.desk.waiting, false);
});

Deno.test("OrderDesk.wait() resolves a cancel once the cancel is answered", async () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  const p = f.desk.wait("cancel", f.desk.cancel(1), {});
  // A fill while the cancel is in flight does not answer it.
  answer(f, 1, {
    status: OrderStatus.PartiallyFilled,
    req: OrderStatus.Canceled,
    leavesQty: 0.5,
    execQty: 0.5,
    execPrice: 100,
  });
  assert.equal(f.desk.waiting, true);
  answer(f, 1, { status: OrderStatus.Canceled });
  const got = await p;
  assert.equal(got.status, OrderStatus.Canceled);
  assert.equal(got.leavesQty, 0.5);
});

Deno.test("OrderDesk.wait() rejects with an ambiguous TimeoutError carrying the order id", async () => {
  const f = fixture({ waitTimeoutMs: 10 });
  const o = place(f, 12);
  await assert.rejects(f.desk.wait("submit", o, {}), (e: unknown) => {
    assert.ok(e instanceof TimeoutError);
    assert.equal(e.code, "TIMEOUT");
    assert.equal(e.orderId, 12);
    assert.equal(e.ambiguous, true);
    assert.match(
      e.message,
      /Order 12: no answer to the submit within 10 ms; the outcome is unknown/,
    );
    return true;
  });
  assert.equal(f.desk.waiting, false);
  // A late answer is still applied, with no wait left to settle.
  ack(f, 12);
  assert.equal(f.desk.get(12)?.status, OrderStatus.New);
});

Deno.test("OrderDesk.wait() rejects with the abort reason and leaves no wait", async () => {
  const f = fixture();
  const o = place(f, 1);
  const ac = new AbortController();
  const p = f.desk.wait("submit", o, { signal: ac.signal });
  const reason = new Error("the strategy stopped");
  ac.abort(reason);
  await assert.rejects(p, (e: unknown) => e === reason);
  assert.equal(f.desk.waiting, false);
  // The request itself is not cancelled.
  assert.deepEqual(f.cancels, []);
  assert.equal(f.desk.get(1)?.req, OrderStatus.New);
});

Deno.test("OrderDesk.wait() aborted without a reason rejects with the signal's AbortError", async () => {
  const f = fixture();
  const ac = new AbortController();
  const p = f.desk.wait("submit", place(f, 1), { signal: ac.signal });
  ac.abort();
  await assert.rejects(
    p,
    (e: unknown) => e === ac.signal.reason && (e as Error).name === "AbortError",
  );
  assert.equal(f.desk.waiting, false);
});

Deno.test("OrderDesk.wait() with an already aborted signal rejects at once", async () => {
  const f = fixture();
  const o = place(f, 1);
  const p = f.desk.wait("submit", o, { signal: AbortSignal.abort(new Error("too late")) });
  await assert.rejects(p, /too late/);
  assert.equal(f.desk.waiting, false);
});

Deno.test("OrderDesk.wait() stops listening to its signal once settled", async () => {
  const f = fixture();
  const ac = new AbortController();
  const p = f.desk.wait("submit", place(f, 1), { signal: ac.signal });
  ack(f, 1);
  assert.equal((await p).status, OrderStatus.New);
  ac.abort(new Error("after the answer")); // nothing left to reject: no unhandled rejection
  assert.equal(f.desk.waiting, false);
});

// -------------------------------------------------------- rejection codes

Deno.test("OrderDesk: a Rejected update waits for the OrderError that carries the code", async () => {
  const f = fixture();
  const p = f.desk.wait("submit", place(f, 1), {});
  answer(f, 1, { status: OrderStatus.Rejected, leavesQty: 0 });
  // The update is delivered at once, but the wait holds for the code.
  assert.equal(updates(f).at(-1)?.status, OrderStatus.Rejected);
  assert.equal(f.desk.waiting, true);
  f.desk.onError(orderError(1, -5022, "Due to the order could not be executed as maker"));
  assert.equal(f.desk.waiting, false);
  const got = await p;
  assert.equal(got.status, OrderStatus.Rejected);
  assert.equal(got.rejectCode, -5022);
  assert.equal(got.rejectReason, "Due to the order could not be executed as maker");
  assert.equal(f.desk.get(1)?.rejectCode, -5022);
});

Deno.test("OrderDesk: an OrderError before the Rejected update resolves the wait at once with the code", async () => {
  const f = fixture();
  const p = f.desk.wait("submit", place(f, 1), {});
  f.desk.onError(orderError(1, -2019, "Margin is insufficient."));
  assert.equal(f.desk.waiting, true); // not rejected yet: the error alone settles nothing
  answer(f, 1, { status: OrderStatus.Rejected, leavesQty: 0 });
  assert.equal(f.desk.waiting, false);
  const got = await p;
  assert.equal(got.status, OrderStatus.Rejected);
  assert.equal(got.rejectCode, -2019);
  assert.equal(got.rejectReason, "Margin is insufficient.");
  // The delivered update carries the code too.
  assert.equal(updates(f).at(-1)?.rejectCode, -2019);
});

Deno.test("OrderDesk: a Rejected update without an OrderError resolves after the grace period", async () => {
  const f = fixture();
  const p = f.desk.wait("submit", place(f, 1), {});
  const t0 = performance.now();
  answer(f, 1, { status: OrderStatus.Rejected, leavesQty: 0 });
  const got = await p;
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= REJECT_CODE_GRACE_MS - 2, `resolved after ${elapsed} ms`);
  assert.equal(got.status, OrderStatus.Rejected);
  assert.equal(got.rejectCode, undefined);
  assert.equal(f.desk.waiting, false);
  // A code arriving later still lands on the order.
  f.desk.onError(orderError(1, -1013, "Filter failure"));
  assert.equal(f.desk.get(1)?.rejectCode, -1013);
});

Deno.test("OrderDesk: an ERROR record of another kind or without an order id settles nothing", () => {
  const f = fixture();
  const p = f.desk.wait("submit", place(f, 1), {});
  answer(f, 1, { status: OrderStatus.Rejected, leavesQty: 0 });
  f.desk.onError({ ...orderError(1, -1, "x"), kind: ErrorKind.Custom });
  f.desk.onError(orderError(0, -1, "no order"));
  assert.equal(f.desk.waiting, true);
  assert.equal(f.desk.get(1)?.rejectCode, undefined);
  f.desk.onError(orderError(1, -2, "now"));
  return p.then((o) => assert.equal(o.rejectCode, -2));
});

Deno.test({
  // A submit wait that already saw its Rejected update and only holds for the rejection's code
  // knows the outcome: a connector going down during the grace period does not make it ambiguous.
  name: "OrderDesk.connectorDown() during the reject-code grace resolves the wait as Rejected",
  fn: async () => {
    const f = fixture();
    const p = f.desk.wait("submit", place(f, 1), {});
    answer(f, 1, { status: OrderStatus.Rejected, leavesQty: 0 });
    f.desk.connectorDown("a", onA);
    const got = await p.catch((e) => e);
    assert.ok(!(got instanceof Error), `rejected with ${got}`);
    assert.equal((got as Order).status, OrderStatus.Rejected);
  },
});

Deno.test({
  // The same for close(): the wait already got its Rejected answer.
  name: "OrderDesk.close() during the reject-code grace resolves the wait as Rejected",
  fn: async () => {
    const f = fixture();
    const p = f.desk.wait("submit", place(f, 1), {});
    answer(f, 1, { status: OrderStatus.Rejected, leavesQty: 0 });
    f.desk.close("close()", undefined);
    const got = await p.catch((e) => e);
    assert.ok(!(got instanceof Error), `rejected with ${got}`);
    assert.equal((got as Order).status, OrderStatus.Rejected);
  },
});

// ------------------------------------------------------------------- fills

Deno.test("OrderDesk derives an exact fill from a partial fill update", () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  assert.deepEqual(fills(f), []);
  f.now = 2_000;
  answer(f, 1, {
    status: OrderStatus.PartiallyFilled,
    leavesQty: 0.4,
    execQty: 0.6,
    execPrice: 99.9,
    maker: true,
  });
  // The order update first, then its fill.
  assert.deepEqual(f.delivered.slice(-2).map((e) => e.type), ["order", "fill"]);
  assert.deepEqual(fills(f), [{
    type: "fill",
    asset: 0,
    orderId: 1,
    side: Side.Buy,
    price: 99.9,
    qty: 0.6,
    leavesQty: 0.4,
    maker: true,
    exact: true,
    exchTs: 1_990,
    recvTs: 2_000,
  }]);
  answer(f, 1, { status: OrderStatus.Filled, leavesQty: 0, execQty: 0.4, execPrice: 100 });
  const last = fills(f).at(-1)!;
  assert.equal(last.qty, 0.4);
  assert.equal(last.price, 100);
  assert.equal(last.leavesQty, 0);
  assert.equal(last.exact, true);
  assert.equal(f.health.inexactFills, 0);
});

Deno.test("OrderDesk: the fill quantity is the leaves decrease, without float noise", () => {
  const f = fixture();
  place(f, 1, 0, 0.3);
  ack(f, 1);
  answer(f, 1, {
    status: OrderStatus.PartiallyFilled,
    leavesQty: 0.2,
    execQty: 0.1,
    execPrice: 100,
  });
  // 0.3 - 0.2 is 0.09999999999999998 in floating point.
  assert.equal(fills(f)[0].qty, 0.1);
  assert.equal(fills(f)[0].exact, true);
});

Deno.test("OrderDesk: a REST-style cumulative update gives an inexact fill with price NaN", () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  // The whole quantity at once, the last execution's size only, no price.
  answer(f, 1, { status: OrderStatus.Filled, leavesQty: 0, execQty: 0.25, execPrice: 0 });
  const [fill] = fills(f);
  assert.equal(fill.qty, 1);
  assert.equal(fill.leavesQty, 0);
  assert.ok(Number.isNaN(fill.price));
  assert.equal(fill.exact, false);
  assert.equal(f.health.inexactFills, 1);
});

Deno.test("OrderDesk: an update covering a missed execution gives an inexact fill at the last price", () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  answer(f, 1, {
    status: OrderStatus.PartiallyFilled,
    leavesQty: 0.5,
    execQty: 0.2,
    execPrice: 101,
  });
  const [fill] = fills(f);
  assert.equal(fill.qty, 0.5);
  assert.equal(fill.price, 101);
  assert.equal(fill.exact, false);
  assert.equal(f.health.inexactFills, 1);
});

Deno.test("OrderDesk derives no fill from updates that do not lower the leaves quantity", () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  answer(f, 1, { status: OrderStatus.PartiallyFilled, leavesQty: 1, execQty: 0, execPrice: 0 });
  f.desk.cancel(1);
  answer(f, 1, { status: OrderStatus.Canceled, leavesQty: 1 });
  assert.deepEqual(fills(f), []);
  assert.deepEqual(updates(f).map((u) => u.status), [
    OrderStatus.New,
    OrderStatus.PartiallyFilled,
    OrderStatus.Canceled,
  ]);
});

// -------------------------------------------------------- deferred cancels

Deno.test("OrderDesk.cancelAll() sends the cancel of an unacknowledged order on its acknowledgement", () => {
  const f = fixture();
  place(f, 1);
  assert.deepEqual(f.desk.cancelAll(undefined), [1]);
  assert.deepEqual(f.cancels, []); // the exchange may not know the order yet
  ack(f, 1);
  assert.deepEqual(f.cancels, [[0, 1]]);
  assert.equal(f.desk.get(1)?.req, OrderStatus.Canceled);
  // A second acknowledgement-like update sends nothing more.
  answer(f, 1, { status: OrderStatus.New, req: OrderStatus.Canceled });
  assert.deepEqual(f.cancels, [[0, 1]]);
  // Nor does a second cancelAll while the cancel is in flight.
  assert.deepEqual(f.desk.cancelAll(undefined), [1]);
  assert.deepEqual(f.cancels, [[0, 1]]);
});

Deno.test("OrderDesk: a deferred cancel is not sent if a callback cancelled the order first", () => {
  const f = fixture();
  place(f, 1);
  f.desk.cancelAll(undefined);
  f.onDeliver = (ev) => {
    if (ev.type === "order" && ev.status === OrderStatus.New) f.desk.cancel(ev.orderId);
  };
  ack(f, 1);
  assert.deepEqual(f.cancels, [[0, 1]]); // the callback's, once
  assert.deepEqual(f.errors, []);
});

Deno.test("OrderDesk: a deferred cancel is not sent after its connector went down", () => {
  const f = fixture();
  place(f, 1, 0);
  place(f, 2, 1);
  f.desk.cancelAll(undefined);
  f.desk.connectorDown("a", onA);
  ack(f, 1);
  ack(f, 2);
  // Only the order of connector "b" still gets its cancel.
  assert.deepEqual(f.cancels, [[1, 2]]);
});

Deno.test("OrderDesk: a deferred cancel is dropped when the order finishes before its acknowledgement", async () => {
  const f = fixture();
  place(f, 1);
  const p = f.desk.cancelAll(undefined, { wait: true }) as Promise<Order[]>;
  answer(f, 1, { status: OrderStatus.Filled, leavesQty: 0, execQty: 1, execPrice: 100 });
  assert.deepEqual(f.cancels, []);
  const [final] = await p;
  assert.equal(final.status, OrderStatus.Filled);
});

Deno.test("OrderDesk: a deferred cancel the port refuses is reported and fails its wait", async () => {
  const f = fixture();
  place(f, 1);
  const p = f.desk.cancelAll(undefined, { wait: true }) as Promise<Order[]>;
  f.refuseCancel.add(1);
  ack(f, 1);
  await assert.rejects(p, /queue full for cancel 1/);
  assert.equal(f.errors.length, 1);
  assert.equal(f.errors[0].asset, 0);
  assert.equal(f.errors[0].orderId, 1);
  assert.match(
    f.errors[0].message,
    /Order 1: the cancel deferred to its acknowledgement could not be sent: queue full/,
  );
  assert.equal(f.desk.waiting, false);
});

// ---------------------------------------------------------------- cancelAll

Deno.test("OrderDesk.cancelAll() with wait resolves with the final state of every order", async () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  place(f, 2); // not acknowledged
  place(f, 3);
  ack(f, 3);
  f.desk.cancel(3); // already being cancelled: nothing more is sent
  f.cancels.length = 0;
  const p = f.desk.cancelAll(undefined, { wait: true });
  assert.ok(p instanceof Promise);
  assert.deepEqual(f.cancels, [[0, 1]]);
  answer(f, 1, { status: OrderStatus.Canceled });
  ack(f, 2);
  assert.deepEqual(f.cancels, [[0, 1], [0, 2]]);
  answer(f, 2, { status: OrderStatus.Canceled });
  answer(f, 3, { status: OrderStatus.Filled, leavesQty: 0, execQty: 1, execPrice: 100 });
  const finals = await p;
  assert.deepEqual(finals.map((o) => [o.orderId, o.status]), [
    [1, OrderStatus.Canceled],
    [2, OrderStatus.Canceled],
    [3, OrderStatus.Filled],
  ]);
  assert.equal(f.desk.waiting, false);
});

Deno.test("OrderDesk.cancelAll(asset) cancels only that asset's orders", () => {
  const f = fixture();
  place(f, 1, 0);
  place(f, 2, 1);
  place(f, 3, 2);
  for (const id of [1, 2, 3]) ack(f, id);
  assert.deepEqual(f.desk.cancelAll(2), [3]);
  assert.deepEqual(f.cancels, [[2, 3]]);
  assert.throws(
    () => f.desk.cancelAll(3),
    (e: unknown) =>
      e instanceof ValidationError &&
      /Cannot cancel all orders: asset 3 is not configured \(0\.\.2\)/.test(e.message),
  );
  assert.deepEqual(f.desk.cancelAll(undefined), [1, 2, 3]); // 3 is already in flight
  assert.deepEqual(f.cancels, [[2, 3], [0, 1], [1, 2]]);
});

Deno.test("OrderDesk.cancelAll() with no active order returns nothing and resolves empty", async () => {
  const f = fixture();
  assert.deepEqual(f.desk.cancelAll(undefined), []);
  assert.deepEqual(await f.desk.cancelAll(undefined, { wait: true }), []);
});

Deno.test("OrderDesk.cancelAll() throws CancelAllError listing the cancels sent and refused", () => {
  const f = fixture();
  for (const id of [1, 2, 3]) {
    place(f, id);
    ack(f, id);
  }
  place(f, 4); // deferred: counts as sent
  f.refuseCancel.add(2);
  assert.throws(() => f.desk.cancelAll(undefined), (e: unknown) => {
    assert.ok(e instanceof CancelAllError);
    assert.equal(e.code, "CANCEL_ALL");
    assert.deepEqual(e.sent, [1, 3, 4]);
    assert.equal(e.failed.length, 1);
    assert.equal(e.failed[0].orderId, 2);
    assert.match(e.failed[0].error.message, /queue full for cancel 2/);
    assert.match(
      e.message,
      /Cannot cancel all orders: 1 of 4 cancels were refused \(2: queue full/,
    );
    assert.equal(e.settled, undefined);
    return true;
  });
  assert.deepEqual(f.cancels, [[0, 1], [0, 3]]);
  assert.equal(f.desk.get(2)?.req, OrderStatus.None); // not recorded as being cancelled
  ack(f, 4);
  assert.deepEqual(f.cancels, [[0, 1], [0, 3], [0, 4]]);
});

Deno.test("OrderDesk.cancelAll() with wait: CancelAllError.settled follows the cancels sent", async () => {
  const f = fixture();
  for (const id of [1, 2, 3]) {
    place(f, id);
    ack(f, id);
  }
  f.refuseCancel.add(1);
  let error: CancelAllError | undefined;
  try {
    f.desk.cancelAll(undefined, { wait: true });
  } catch (e) {
    assert.ok(e instanceof CancelAllError);
    error = e;
  }
  assert.ok(error?.settled instanceof Promise);
  assert.deepEqual(error.sent, [2, 3]);
  assert.deepEqual(error.failed.map((x) => x.orderId), [1]);
  answer(f, 2, { status: OrderStatus.Canceled });
  answer(f, 3, { status: OrderStatus.Filled, leavesQty: 0, execQty: 1, execPrice: 100 });
  const results = await error.settled;
  assert.deepEqual(
    results.map((r) => r.status === "fulfilled" ? (r.value as Order).status : r.reason),
    [OrderStatus.Canceled, OrderStatus.Filled],
  );
  assert.equal(f.desk.waiting, false); // nobody waits for the refused order
});

Deno.test({
  // The wait options are checked before anything is sent: with an invalid timeoutMs nothing
  // goes out (no cancel, no deferred cancel).
  name: "OrderDesk.cancelAll() with an invalid timeoutMs sends nothing",
  fn: () => {
    const f = fixture();
    place(f, 1);
    ack(f, 1);
    place(f, 2);
    assert.throws(
      () => f.desk.cancelAll(undefined, { wait: true, timeoutMs: -1 }),
      ValidationError,
    );
    assert.deepEqual(f.cancels, []);
    assert.equal(f.desk.get(1)?.req, OrderStatus.None);
    ack(f, 2);
    assert.deepEqual(f.cancels, []);
  },
});

Deno.test("OrderDesk.cancelAll() is never refused by the rate limit", async () => {
  const f = fixture({ rateLimit: { rate: 1, burst: 2 } });
  place(f, 1);
  place(f, 2); // the bucket is empty now
  ack(f, 1);
  ack(f, 2);
  const p = f.desk.cancelAll(undefined, { wait: true });
  assert.deepEqual(f.cancels, [[0, 1], [0, 2]]);
  assert.equal(f.desk.rateLimited, 0);
  answer(f, 1, { status: OrderStatus.Canceled });
  answer(f, 2, { status: OrderStatus.Canceled });
  assert.equal((await p).length, 2);
  // The tokens were borrowed: the next request is refused until the debt is repaid.
  assert.throws(() => place(f, 3), RateLimitedError);
  assert.equal(f.desk.rateLimited, 1);
});

Deno.test("OrderDesk: a deferred cancel goes out on acknowledgement even with the rate limit exhausted", () => {
  const f = fixture({ rateLimit: { rate: 1, burst: 1 } });
  place(f, 1);
  f.desk.cancelAll(undefined);
  ack(f, 1);
  assert.deepEqual(f.cancels, [[0, 1]]);
  assert.deepEqual(f.errors, []);
});

// ------------------------------------------------- connectors and restarts

Deno.test("OrderDesk.connectorDown() rejects only the waits of that connector's orders, ambiguous", async () => {
  const f = fixture();
  const a0 = f.desk.wait("submit", place(f, 1, 0), {});
  const a2 = f.desk.wait("submit", place(f, 2, 2), {});
  place(f, 3, 1);
  ack(f, 3);
  const b = f.desk.wait("cancel", f.desk.cancel(3), {});
  f.desk.connectorDown("a", onA);
  for (const [p, id] of [[a0, 1], [a2, 2]] as const) {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.orderId, id);
      assert.equal(e.ambiguous, true);
      assert.match(e.message, new RegExp(`Order ${id}: connector "a" went away before answering`));
      return true;
    });
  }
  assert.equal(f.desk.waiting, true); // connector "b"'s wait
  answer(f, 3, { status: OrderStatus.Canceled });
  assert.equal((await b).status, OrderStatus.Canceled);
  // The orders themselves stay as they were (their outcome is unknown).
  assert.equal(f.desk.get(1)?.status, OrderStatus.None);
});

// ------------------------------------------------------------------- close

Deno.test("OrderDesk.close() rejects every pending wait with ClosedError", async () => {
  const f = fixture();
  const a = f.desk.wait("submit", place(f, 1, 0), {});
  const b = f.desk.wait("submit", place(f, 2, 1), {});
  const failure = new Error("the engine failed");
  f.desk.close("the client stopped", failure);
  assert.equal(f.desk.waiting, false);
  for (const [p, id] of [[a, 1], [b, 2]] as const) {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ClosedError);
      assert.equal(e.orderId, id);
      assert.equal(e.ambiguous, true);
      assert.equal(e.cause, failure);
      assert.match(e.message, new RegExp(`Order ${id}: no answer before the client stopped`));
      return true;
    });
  }
  f.desk.close("again", undefined); // nothing left: a no-op
  // Orders stay readable.
  assert.deepEqual(f.desk.active().map((o) => o.orderId), [1, 2]);
});

// ------------------------------------------------------ illegal transitions

Deno.test("OrderDesk reports and counts an illegal status transition without applying it", () => {
  const f = fixture();
  place(f, 1);
  answer(f, 1, { status: OrderStatus.Filled, leavesQty: 0, execQty: 1, execPrice: 100 });
  const delivered = f.delivered.length;
  f.now = 7_000;
  answer(f, 1, { status: OrderStatus.New, leavesQty: 1 });
  assert.equal(f.desk.get(1)?.status, OrderStatus.Filled);
  assert.equal(f.delivered.length, delivered); // nothing delivered for it
  assert.equal(f.health.illegalTransitions, 1);
  assert.equal(f.errors.length, 1);
  assert.equal(f.errors[0].asset, 0);
  assert.equal(f.errors[0].orderId, 1);
  assert.equal(f.errors[0].ts, 7_000);
  assert.match(f.errors[0].message, /Order 1: illegal status transition Filled → New ignored/);
});

Deno.test("OrderDesk adopts an order it did not submit (a restarted client)", () => {
  const f = fixture();
  f.desk.onOrder({
    type: "order",
    asset: 1,
    orderId: 99,
    side: Side.Sell,
    price: 10,
    qty: 2,
    leavesQty: 2,
    execQty: 0,
    execPrice: 0,
    status: OrderStatus.New,
    req: OrderStatus.None,
    timeInForce: 0,
    orderType: 0,
    maker: false,
    exchTs: 1,
    requestTs: 0,
    updateTs: 0,
    recvTs: 2,
  });
  assert.equal(f.desk.get(99)?.status, OrderStatus.New);
  assert.deepEqual(f.desk.active(1).map((o) => o.orderId), [99]);
  assert.deepEqual(f.errors, []);
});

Deno.test("OrderDesk: a repeated terminal answer is not delivered again, and settles a wait", async () => {
  const f = fixture();
  place(f, 1);
  ack(f, 1);
  f.desk.cancel(1);
  answer(f, 1, { status: OrderStatus.Canceled });
  const before = f.delivered.length;
  // A late second answer (the core's cancel race) after the order finished.
  const w = f.desk.wait("cancel", f.desk.get(1)!, {});
  answer(f, 1, { status: OrderStatus.Canceled });
  assert.equal(f.delivered.length, before);
  assert.equal((await w).status, OrderStatus.Canceled);
});

Deno.test("OrderDesk fails fast with ConnectionError, nothing sent, while the connector is down", () => {
  const sent: number[] = [];
  const downs = new Set<string>(["b"]);
  const desk = new OrderDesk({
    instruments: INSTRUMENTS,
    port: {
      submit: (v) => void sent.push(v.orderId),
      cancel: (_a, id) => void sent.push(-id),
      now: () => 1,
      down: (a) => downs.has(INSTRUMENTS[a].connector) ? INSTRUMENTS[a].connector : undefined,
    },
    sink: { deliver: () => {}, clientError: () => {} },
    waitTimeoutMs: 1000,
  });
  assert.throws(
    () => desk.submit({ asset: 1, side: Side.Buy, price: 100, qty: 1 }, 7),
    (e: unknown) =>
      e instanceof ConnectionError && !e.ambiguous && e.orderId === 7 &&
      /connector "b" is down \(nothing was sent/.test(e.message),
  );
  assert.equal(desk.get(7), undefined);
  desk.submit({ asset: 0, side: Side.Buy, price: 100, qty: 1 }, 8);
  desk.onOrder({ ...desk.get(8)!, type: "order", status: OrderStatus.New, req: 0, recvTs: 2 });
  downs.add("a");
  assert.throws(() => desk.cancel(8), ConnectionError);
  assert.deepEqual(sent, [8]);
});

Deno.test("OrderDesk.cancelAll: cancels a full queue refuses wait for room, then go out on a retry without any order update", () => {
  const f = fixture();
  for (const id of [1, 2, 3]) {
    place(f, id);
    ack(f, id);
  }
  f.fullQueue = true;
  const ids = f.desk.cancelAll(0) as number[];
  assert.deepEqual([...ids].sort(), [1, 2, 3]);
  assert.equal(f.cancels.length, 0);
  assert.equal(f.desk.cancelBacklog, 3);
  f.desk.retryCancels(); // still full
  assert.equal(f.cancels.length, 0);
  // A second cancelAll neither duplicates nor loses them.
  assert.deepEqual([...(f.desk.cancelAll(0) as number[])].sort(), [1, 2, 3]);
  assert.equal(f.desk.cancelBacklog, 3);
  f.fullQueue = false;
  f.desk.retryCancels(); // the client's tick: room freed though no record came
  assert.deepEqual(f.cancels.map((c) => c[1]).sort(), [1, 2, 3]);
  assert.equal(f.desk.cancelBacklog, 0);
  assert.equal(f.errors.length, 0);
});

Deno.test("OrderDesk.cancelAll: waiting cancels dropped with their connector are reported by id", () => {
  const f = fixture();
  place(f, 7, 0);
  ack(f, 7);
  place(f, 8, 1);
  ack(f, 8);
  f.fullQueue = true;
  f.desk.cancelAll(undefined);
  assert.equal(f.desk.cancelBacklog, 2);
  f.desk.connectorDown("a", onA);
  assert.equal(f.desk.cancelBacklog, 1, "connector b's cancel still waits");
  const e = f.errors.find((x) => /cancels of cancelAll/.test(x.message));
  assert.ok(e, JSON.stringify(f.errors));
  assert.match(e.message, /^1 cancels of cancelAll .* not sent \(connector "a" went away\).*: 7$/);
  f.desk.close("the test ended", undefined);
  assert.equal(f.desk.cancelBacklog, 0);
  assert.ok(f.errors.some((x) => /not sent \(the test ended\).*: 8$/.test(x.message)));
});

Deno.test("OrderDesk: a cancel wait started inside an order callback waits for the cancel's answer", async () => {
  const f = fixture();
  place(f, 5);
  let p: Promise<Order> | undefined;
  f.onDeliver = (ev) => {
    if (ev.type === "order" && ev.status === OrderStatus.New && p === undefined) {
      p = f.desk.wait("cancel", f.desk.cancel(5), { timeoutMs: 1000 });
    }
  };
  ack(f, 5);
  assert.ok(p);
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(settled, false, "not resolved by the acknowledgement it was started in");
  answer(f, 5, { status: OrderStatus.Canceled });
  assert.equal((await p).status, OrderStatus.Canceled);
});
