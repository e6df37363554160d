/**
 * hftlive: live trading from TypeScript on hftbacktest's Rust live core.
 *
 * A {@linkcode LiveClient} receives market data and order updates from an
 * hftbacktest connector (Binance Futures, Binance Spot, Bybit, or the
 * embedded {@linkcode Sim} paper exchange) and sends orders back, with
 * health monitoring. Timestamps are numbers of nanoseconds since the Unix
 * epoch (exact to ~256 ns today); prices and quantities are in instrument
 * units.
 *
 * Under Deno it needs only `--allow-ffi`; `--allow-net --allow-read=/tmp
 * --allow-write=/tmp` add the faster doorbell wake-up for streams. The same
 * module is on npm as `hftlive` (Node 20+). The native library comes from the
 * npm package `@hftlive/linux-x64-gnu` (Linux x86-64, glibc >= 2.34) unless
 * `libPath`, `HFTLIVE_LIB` or a cargo build beside the module gives one.
 *
 * @example Trading against the embedded paper exchange
 * ```ts ignore
 * import { LiveClient, OrderStatus, Side, Sim } from "./mod.ts";
 *
 * await using sim = await Sim.start({
 *   name: `paper-${Deno.pid}`,
 *   instruments: [{ symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001, startPrice: 50_000 }],
 *   rate: 1000,
 * });
 * await using client = await LiveClient.connect({
 *   instruments: [{ connector: sim.name, symbol: "btcusdt", tickSize: 0.1, lotSize: 0.001 }],
 *   ready: true,
 * });
 *
 * client.on("disconnect", (e) => console.warn(`connector ${e.name} went away`));
 * for await (const bbo of client.bookUpdates) {
 *   const order = await client.submitOrder(
 *     { side: Side.Buy, price: bbo.bidPrice, qty: 0.001 },
 *     { wait: true },
 *   );
 *   console.log(order.orderId, order.status === OrderStatus.New);
 *   break;
 * }
 * console.log(client.health.feedLatency.p50, "ns");
 * ```
 *
 * @module
 */

export * from "./models.ts";
export * from "./errors.ts";
export { LiveClient } from "./client.ts";
export { type ClientEvents } from "./router.ts";
export { type NativeStats } from "./ffi/native.ts";
export { Monitor, type MonitorOptions, type MonitorStats } from "./monitor.ts";
export {
  type ClientFault,
  type ConnectOptions,
  type DepthKind,
  type InstrumentOptions,
} from "./options.ts";
export { type StreamItem, type StreamKind, type StreamOptions } from "./streams.ts";
export { type CancelAllOptions, type WaitOptions } from "./order_desk.ts";
export {
  type ApplyResult,
  type Direction,
  type InstrumentSpec,
  isLegalTransition,
  MAX_ORDER_ID,
  nextOrderId,
  OrderTracker,
  type RateLimit,
  type Rounding,
  roundPrice,
  roundQty,
  TokenBucket,
  validateOrder,
  type ValidOrder,
} from "./orders.ts";
export { LatencyWindow, RateCounter } from "./health.ts";
export {
  Recorder,
  type RecorderPort,
  type RecordingStats,
  type RecordingSummary,
  type RecordOptions,
} from "./recorder.ts";
export { Sim, SimFault, type SimInstrument, type SimOptions, type SimStats } from "./sim.ts";
export { runWorkerStrategy, StrategyWorker, type WorkerStrategyContext } from "./worker.ts";
export { candidatePaths, type LoadOptions } from "./ffi/library.ts";
export { formatEvent, formatOrder, isoTime } from "./format.ts";
export { ABI_VERSION, VERSION } from "./ffi/symbols.ts";
