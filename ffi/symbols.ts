/**
 * The one symbol table of `libhftlive` (C ABI version 1, `rust/ABI.md`).
 *
 * No logic lives here. Every parameter carries its Rust type in a comment. Hot
 * symbols take only `u32`, `i32`, `f64` and `buffer` parameters (a JS number
 * passed for a `u64`/`usize` parameter falls off Deno's fast call path), and no
 * symbol returns a 64-bit integer (those come back as `BigInt`). Only calls
 * that wait are `nonblocking` (they run on the runtime's blocking pool and
 * return a promise): `hl_client_wait`, which parks until records are ready
 * (a client keeps at most one pending), and the `_async` bindings of open and
 * close, which build and join the engine thread.
 *
 * The `hl_sim_*` symbols are optional so that a library built without the
 * embedded paper exchange still loads.
 *
 * @module
 */

/**
 * ABI version of the native library this module binds to; checked right after
 * loading (a library of another ABI is refused).
 *
 * @example
 * ```ts
 * import { ABI_VERSION } from "./symbols.ts";
 * console.log(`C ABI ${ABI_VERSION}`);
 * ```
 */
export const ABI_VERSION = 1;

/**
 * The release version: of the JSR module (`deno.json`), of the npm packages
 * (`hftlive` and the platform packages such as `@hftlive/linux-x64-gnu`, built
 * by `npm-build.ts` from this constant) and of the git tag `v<VERSION>`. A
 * release ships the native library of {@linkcode ABI_VERSION};
 * `tests/packaging_test.ts` checks that every place agrees.
 *
 * @example
 * ```ts
 * import { VERSION } from "./symbols.ts";
 * console.log(`hftlive ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";

/** Size in bytes of one event record. */
export const RECORD_SIZE = 64;

/** A native parameter or result type of the table (the subset hftlive uses). */
export type NativeType = "u32" | "i32" | "f64" | "buffer";

/** One entry of the table, in the shape `Deno.dlopen` takes (and the Node backend reads). */
export interface SymbolDefinition {
  /** The native symbol, when it is not the key (a second, nonblocking binding of it). */
  readonly name?: string;
  /** Parameter types, in order. */
  readonly parameters: readonly NativeType[];
  /** Result type. */
  readonly result: NativeType;
  /** The call waits: run it off the JavaScript thread, returning a promise. */
  readonly nonblocking?: boolean;
  /** The library may lack it (the symbol is then `null`). */
  readonly optional?: boolean;
}

/** The symbol table, shared by every runtime backend. */
export const symbols = {
  /** `hl_abi_version() -> u32` */
  hl_abi_version: { parameters: [], result: "u32" },
  /** `hl_now() -> f64`: CLOCK_REALTIME in ns since the Unix epoch. */
  hl_now: { parameters: [], result: "f64" },
  hl_client_open: {
    parameters: [
      "buffer", // cfg: *const u8 (UTF-8 JSON)
      "u32", // cfg_len: u32
      "buffer", // out_handle: *mut u32
      "buffer", // err: *mut u8
      "u32", // err_cap: u32
    ],
    result: "i32",
  },
  /** `hl_client_open` off the JavaScript thread (it builds the engine's IPC ports: ~100 ms). */
  hl_client_open_async: {
    name: "hl_client_open",
    parameters: ["buffer", "u32", "buffer", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  hl_client_close: { parameters: ["u32" /* h: u32 */], result: "i32" },
  /** `hl_client_close` off the JavaScript thread (it joins the engine thread). */
  hl_client_close_async: {
    name: "hl_client_close",
    parameters: ["u32"],
    result: "i32",
    nonblocking: true,
  },
  hl_client_wake: { parameters: ["u32" /* h: u32 */], result: "i32" },
  /** Ties the client to the calling thread: closed (cancel on exit) when it ends. Never nonblocking. */
  hl_client_guard: { parameters: ["u32" /* h: u32 */], result: "i32" },
  hl_client_bell_listen: {
    parameters: [
      "u32", // h: u32
      "buffer", // path: *const u8
      "u32", // len: u32
    ],
    result: "i32",
  },
  hl_client_bell_accept: { parameters: ["u32" /* h: u32 */], result: "i32" },
  hl_client_arm: { parameters: ["u32" /* h: u32 */], result: "i32" },
  hl_client_fault: {
    parameters: [
      "u32", // h: u32
      "u32", // kind: u32
    ],
    result: "i32",
  },
  hl_client_wait: {
    parameters: [
      "u32", // h: u32
      "u32", // timeout_ms: u32
    ],
    result: "i32",
    nonblocking: true,
  },
  hl_client_drain: {
    parameters: [
      "u32", // h: u32
      "buffer", // buf: *mut u8 (max_records * 64 bytes)
      "u32", // max_records: u32
    ],
    result: "i32",
  },
  hl_client_poll: {
    parameters: [
      "u32", // h: u32
      "buffer", // buf: *mut u8 (max_records * 64 bytes)
      "u32", // max_records: u32
      "u32", // timeout_us: u32
    ],
    result: "i32",
  },
  hl_client_submit: {
    parameters: [
      "u32", // h: u32
      "u32", // asset: u32
      "f64", // order_id: f64 (integer in [1, 2^53 - 1])
      "i32", // side: i32 (1 buy, -1 sell)
      "f64", // price: f64
      "f64", // qty: f64
      "u32", // tif: u32 (0 GTC, 1 GTX, 2 FOK, 3 IOC)
      "u32", // ord_type: u32 (0 limit, 1 market)
    ],
    result: "i32",
  },
  hl_client_cancel: {
    parameters: [
      "u32", // h: u32
      "u32", // asset: u32
      "f64", // order_id: f64
    ],
    result: "i32",
  },
  hl_client_position: {
    parameters: [
      "u32", // h: u32
      "u32", // asset: u32
      "buffer", // out: *mut f64 (2)
    ],
    result: "i32",
  },
  hl_client_depth: {
    parameters: [
      "u32", // h: u32
      "u32", // asset: u32
      "u32", // levels: u32
      "buffer", // out: *mut f64 (2 + 4 * levels)
    ],
    result: "i32",
  },
  hl_client_orders: {
    parameters: [
      "u32", // h: u32
      "u32", // asset: u32
      "buffer", // buf: *mut u8 (max_records * 64 bytes)
      "u32", // max_records: u32
    ],
    result: "i32",
  },
  hl_client_stats: {
    parameters: [
      "u32", // h: u32
      "buffer", // out: *mut f64 (n)
      "u32", // n: u32
    ],
    result: "i32",
  },
  hl_last_error: {
    parameters: [
      "u32", // h: u32
      "buffer", // buf: *mut u8
      "u32", // cap: u32
    ],
    result: "i32",
  },
  hl_client_take_message: {
    parameters: [
      "u32", // h: u32
      "buffer", // buf: *mut u8
      "u32", // cap: u32
    ],
    result: "i32",
  },
  hl_cleanup_stale: { parameters: [], result: "i32" },
  hl_record_start: {
    parameters: [
      "u32", // h: u32
      "buffer", // cfg: *const u8 (UTF-8 JSON)
      "u32", // len: u32
    ],
    result: "i32",
    optional: true,
  },
  /** `hl_record_stop` off the JavaScript thread (it drains the queue and packages files). */
  hl_record_stop_async: {
    name: "hl_record_stop",
    parameters: [
      "u32", // h: u32
      "u32", // id: u32
    ],
    result: "i32",
    nonblocking: true,
    optional: true,
  },
  hl_record_stats: {
    parameters: [
      "u32", // h: u32
      "u32", // id: u32
      "buffer", // out: *mut f64 (n)
      "u32", // n: u32
    ],
    result: "i32",
    optional: true,
  },
  hl_record_info: {
    parameters: [
      "u32", // h: u32
      "u32", // id: u32
      "buffer", // buf: *mut u8 (cap; the result is the full length)
      "u32", // cap: u32
    ],
    result: "i32",
    optional: true,
  },
  hl_sim_start: {
    parameters: [
      "buffer", // cfg: *const u8 (UTF-8 JSON)
      "u32", // cfg_len: u32
      "buffer", // out_handle: *mut u32
      "buffer", // err: *mut u8
      "u32", // err_cap: u32
    ],
    result: "i32",
    optional: true,
  },
  hl_sim_stop: { parameters: ["u32" /* h: u32 */], result: "i32", optional: true },
  hl_sim_fault: {
    parameters: [
      "u32", // h: u32
      "u32", // fault: u32
      "f64", // value: f64
    ],
    result: "i32",
    optional: true,
  },
  hl_sim_stats: {
    parameters: [
      "u32", // h: u32
      "buffer", // out: *mut f64 (n)
      "u32", // n: u32
    ],
    result: "i32",
    optional: true,
  },
  hl_sim_book: {
    parameters: [
      "u32", // h: u32
      "u32", // asset: u32
      "u32", // levels: u32
      "buffer", // out: *mut f64 (2 + 4 * levels)
    ],
    result: "i32",
    optional: true,
  },
} as const satisfies Record<string, SymbolDefinition>;

/** A byte or float buffer the native side reads or writes during one call. */
export type NativeBuffer = Uint8Array | Uint32Array | Float64Array;

/** The JavaScript type of one parameter or result type of the table. */
type JsType<T> = T extends "buffer" ? NativeBuffer : number;

/** The function a table entry describes, as every backend exposes it. */
type NativeFn<D> = D extends {
  readonly parameters: infer P extends readonly unknown[];
  readonly result: infer R;
} ? (
    ...args: { -readonly [K in keyof P]: JsType<P[K]> }
  ) => D extends { readonly nonblocking: true } ? Promise<JsType<R>>
    : JsType<R>
  : never;

/**
 * The native functions as every backend exposes them: plain numbers and
 * typed arrays, nothing runtime specific, derived from {@linkcode symbols}
 * (an optional symbol is `null` when the library lacks it). `ffi/deno.ts`
 * builds it with `Deno.dlopen`; a Node backend builds the same shape from the
 * same table.
 */
export type NativeSymbols = {
  readonly [K in keyof typeof symbols]: typeof symbols[K] extends { readonly optional: true }
    ? NativeFn<typeof symbols[K]> | null
    : NativeFn<typeof symbols[K]>;
};
