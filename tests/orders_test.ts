import assert from "node:assert/strict";
import {
  DuplicateOrderIdError,
  isLegalTransition,
  nextOrderId,
  type Order,
  OrderStatus,
  OrderTracker,
  OrderType,
  RateLimitedError,
  roundPrice,
  roundQty,
  Side,
  TimeInForce,
  TokenBucket,
  validateOrder,
  ValidationError,
} from "../mod.ts";

const specs = [{ connector: "c", symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }];

Deno.test("roundPrice() rounds to the nearest tick, or down/up; roundQty() down by default", () => {
  assert.equal(roundPrice(100.04, 0.1), 100);
  assert.equal(roundPrice(100.06, 0.1), 100.1);
  assert.equal(roundPrice(100.06, 0.1, "down"), 100);
  assert.equal(roundPrice(100.01, 0.1, "up"), 100.1);
  assert.equal(roundPrice(0.30000000000000004, 0.1), 0.3);
  // On the grid within float noise: kept, whatever the direction.
  assert.equal(roundPrice(50_000.1, 0.1, "down"), 50_000.1);
  assert.equal(roundPrice(0.3, 0.1, "up"), 0.3);
  assert.equal(roundQty(0.0026, 0.001), 0.002);
  assert.equal(roundQty(0.0026, 0.001, "nearest"), 0.003);
  assert.equal(roundQty(0.0004, 0.001), 0);
  assert.equal(roundQty(0.003, 0.001), 0.003);
});

Deno.test("validateOrder() never makes an order larger or more aggressive than asked", () => {
  const buy = validateOrder({ side: Side.Buy, price: 100.09, qty: 0.0029 }, 1, specs);
  assert.equal(buy.price, 100); // down: a buy never pays more
  assert.equal(buy.qty, 0.002); // down: never more than asked
  const sell = validateOrder({ side: Side.Sell, price: 100.01, qty: 0.0029 }, 2, specs);
  assert.equal(sell.price, 100.1); // up: a sell never sells cheaper
  assert.equal(sell.qty, 0.002);
  // hftbacktest's nearest-tick rule, on request.
  const near = validateOrder(
    { side: Side.Buy, price: 100.09, qty: 0.0026 },
    3,
    specs,
    undefined,
    "nearest",
  );
  assert.equal(near.price, 100.1);
  assert.equal(near.qty, 0.003);
  // What the adversarial review found: 0.0005 of lot 0.001 became 0.001; a buy at 0.05 of tick
  // 0.1 became 0.1; 1e300 saturated the core's tick count.
  assert.throws(
    () => validateOrder({ side: Side.Buy, price: 10, qty: 0.0005 }, 4, specs),
    /qty 0.0005 rounds down to 0 lots of 0.001/,
  );
  assert.throws(
    () => validateOrder({ side: Side.Buy, price: 0.05, qty: 1 }, 5, specs),
    /price 0.05 rounds down to 0 ticks of 0.1/,
  );
  assert.equal(validateOrder({ side: Side.Sell, price: 0.05, qty: 1 }, 6, specs).price, 0.1);
  assert.throws(
    () => validateOrder({ side: Side.Sell, price: 1e300, qty: 1 }, 7, specs),
    /more than the core can hold exactly/,
  );
  assert.throws(
    () => validateOrder({ side: Side.Sell, price: 10, qty: 1e300 }, 8, specs),
    /more than the core can hold exactly/,
  );
});

Deno.test("nextOrderId() is unique, increasing and a safe integer", () => {
  const a = nextOrderId();
  const b = nextOrderId();
  assert.ok(b > a);
  assert.ok(Number.isSafeInteger(a) && a >= 1);
});

Deno.test("validateOrder() rounds price and qty", () => {
  const v = validateOrder({ side: Side.Buy, price: 100.04, qty: 0.0021 }, 7, specs);
  assert.deepEqual(v, {
    asset: 0,
    orderId: 7,
    side: Side.Buy,
    price: 100,
    qty: 0.002,
    timeInForce: TimeInForce.GTC,
    orderType: OrderType.Limit,
  });
});

Deno.test("validateOrder() throws ValidationError for every invalid input", () => {
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ side: 1, price: 0, qty: 1 }, 42, /Cannot submit order 42: price 0 is not above 0/],
    [{ side: 1, price: -5, qty: 1 }, 1, /price -5 is not above 0/],
    [{ side: 1, price: NaN, qty: 1 }, 1, /price NaN is not a finite number/],
    [{ side: 1, price: Infinity, qty: 1 }, 1, /price Infinity is not a finite number/],
    [{ side: 1, qty: 1 }, 1, /price undefined is not a finite number/],
    [{ side: 1, price: 0.04, qty: 1 }, 1, /rounds down to 0 ticks of 0.1/],
    [{ side: 1, price: 10, qty: 0 }, 1, /qty 0 is not above 0/],
    [{ side: 1, price: 10, qty: -1 }, 1, /qty -1 is not above 0/],
    [{ side: 1, price: 10, qty: NaN }, 1, /qty NaN is not a finite number/],
    [{ side: 1, price: 10, qty: 0.0004 }, 1, /qty 0.0004 rounds down to 0 lots of 0.001/],
    [{ side: 1, price: 10, qty: 1, asset: 3 }, 1, /asset 3 is not configured/],
    [{ side: 1, price: 10, qty: 1, asset: -1 }, 1, /asset -1 is not configured/],
    [{ side: 2, price: 10, qty: 1 }, 1, /side 2 is not Side.Buy/],
    [{ side: 1, price: 10, qty: 1, orderType: 5 }, 1, /order type 5 is not Limit/],
    [{ side: 1, price: 10, qty: 1, timeInForce: 9 }, 1, /time in force 9/],
    [
      { side: 1, price: 10, qty: 1, orderType: 1, timeInForce: 1 },
      1,
      /market order cannot be post-only/,
    ],
    [{ side: 1, price: 10, qty: 1 }, 0, /order id is not an integer/],
    [{ side: 1, price: 10, qty: 1 }, 1.5, /order id is not an integer/],
    [{ side: 1, price: 10, qty: 1 }, 2 ** 53, /order id is not an integer/],
  ];
  for (const [req, id, re] of cases) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => validateOrder(req as any, id, specs),
      (e: unknown) => e instanceof ValidationError && e.code === "VALIDATION" && re.test(e.message),
      `${JSON.stringify(req)} / ${id}`,
    );
  }
});

Deno.test("validateOrder() prices a market order without price from the book", () => {
  const v = validateOrder(
    { side: Side.Buy, qty: 0.001, orderType: OrderType.Market },
    3,
    specs,
    (_a, side) => (side === Side.Buy ? 101.2 : 101.1),
  );
  assert.equal(v.price, 101.2);
  assert.throws(
    () =>
      validateOrder(
        { side: Side.Sell, qty: 0.001, orderType: OrderType.Market },
        4,
        specs,
        () => NaN,
      ),
    /needs a best bid/,
  );
});

function order(status: OrderStatus, extra: Partial<Order> = {}): Order {
  return {
    asset: 0,
    orderId: 1,
    side: Side.Buy,
    price: 10,
    qty: 1,
    leavesQty: 1,
    execQty: 0,
    execPrice: 0,
    status,
    req: OrderStatus.None,
    timeInForce: TimeInForce.GTC,
    orderType: OrderType.Limit,
    maker: false,
    exchTs: 1,
    requestTs: 0,
    updateTs: 0,
    ...extra,
  };
}

Deno.test("isLegalTransition() follows the order state machine", () => {
  const S = OrderStatus;
  assert.ok(isLegalTransition(S.None, S.New));
  assert.ok(isLegalTransition(S.None, S.Rejected));
  assert.ok(isLegalTransition(S.New, S.PartiallyFilled));
  assert.ok(isLegalTransition(S.PartiallyFilled, S.Filled));
  assert.ok(isLegalTransition(S.PartiallyFilled, S.Canceled));
  assert.ok(!isLegalTransition(S.PartiallyFilled, S.New));
  for (const t of [S.Filled, S.Canceled, S.Expired, S.Rejected]) {
    for (const to of [S.New, S.PartiallyFilled, S.Filled, S.Canceled]) {
      assert.ok(!isLegalTransition(t, to), `${t} -> ${to}`);
    }
  }
});

Deno.test("OrderTracker keeps terminal states sticky and reports illegal transitions", () => {
  const t = new OrderTracker();
  t.submitted(
    {
      asset: 0,
      orderId: 1,
      side: Side.Buy,
      price: 10,
      qty: 1,
      timeInForce: 0,
      orderType: 0,
    },
    123,
  );
  assert.equal(t.get(1)?.status, OrderStatus.None);
  assert.equal(t.apply(order(OrderStatus.New)).order?.status, OrderStatus.New);
  assert.equal(t.get(1)?.requestTs, 123);
  assert.equal(
    t.apply(order(OrderStatus.PartiallyFilled, { leavesQty: 0.5 })).order?.status,
    OrderStatus.PartiallyFilled,
  );
  assert.equal(
    t.apply(order(OrderStatus.Filled, { leavesQty: 0 })).order?.status,
    OrderStatus.Filled,
  );
  const r = t.apply(order(OrderStatus.New));
  assert.match(r.illegal ?? "", /illegal status transition Filled → New/);
  assert.equal(t.get(1)?.status, OrderStatus.Filled);
  // A repeated terminal answer is not an illegal transition.
  const again = t.apply(order(OrderStatus.Filled, { leavesQty: 0 }));
  assert.equal(again.illegal, undefined);
  assert.equal(again.order?.status, OrderStatus.Filled);
  assert.deepEqual(t.active(), []);
  assert.throws(() => t.checkUnused(1), DuplicateOrderIdError);
});

Deno.test("OrderTracker keeps a rejection code that arrived before the Rejected update", () => {
  const t = new OrderTracker();
  t.submitted(
    { asset: 0, orderId: 1, side: Side.Buy, price: 10, qty: 1, timeInForce: 0, orderType: 0 },
    5,
  );
  t.setRejection(1, -2019, "Margin is insufficient.");
  const r = t.apply(order(OrderStatus.Rejected));
  assert.equal(r.order?.status, OrderStatus.Rejected);
  assert.equal(r.order?.rejectCode, -2019);
  assert.equal(r.order?.rejectReason, "Margin is insufficient.");
});

Deno.test("TokenBucket fails fast beyond the burst and counts refusals", () => {
  const b = new TokenBucket({ rate: 1, burst: 2 });
  b.take("x");
  b.take("x");
  assert.throws(
    () => b.take("Cannot submit order 3"),
    (e: unknown) =>
      e instanceof RateLimitedError && /Cannot submit order 3: rate limit of 1\/s/.test(e.message),
  );
  assert.equal(b.refused, 1);
  assert.throws(() => new TokenBucket({ rate: 0 }), ValidationError);
});
