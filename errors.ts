/**
 * Error classes of hftlive and the decoding of the native core's status codes.
 *
 * Every error thrown by this module is a {@linkcode LiveError} with a string
 * {@linkcode LiveError.code}; errors that come from a native call also carry
 * the raw `status` of the C ABI. Catch the subclass for the condition you
 * handle:
 *
 * @example Handling a validation error
 * ```ts
 * import { LiveError, ValidationError } from "./errors.ts";
 *
 * try {
 *   throw new ValidationError("Cannot submit order 42: price 0 is not above 0");
 * } catch (e) {
 *   if (e instanceof ValidationError) console.log(e.code, e.message);
 *   else if (e instanceof LiveError) throw e;
 * }
 * ```
 *
 * @module
 */

/**
 * Status codes of the C ABI (`rust/ABI.md`); `>= 0` is success.
 *
 * @example
 * ```ts
 * import { Status } from "./errors.ts";
 * console.log(Status.Closed); // -3
 * ```
 */
export const Status = {
  Ok: 0,
  Handle: -1,
  Argument: -2,
  Closed: -3,
  Panic: -4,
  Ipc: -5,
  NotFound: -6,
  Duplicate: -7,
  Full: -8,
  Config: -9,
  Buffer: -10,
  State: -11,
  Engine: -12,
  Backpressure: -13,
  Limit: -14,
} as const;
/** A status code of the C ABI. */
export type Status = typeof Status[keyof typeof Status];

const STATUS_NAMES: Record<number, string> = {
  0: "HL_OK",
  [-1]: "HL_E_HANDLE",
  [-2]: "HL_E_ARGUMENT",
  [-3]: "HL_E_CLOSED",
  [-4]: "HL_E_PANIC",
  [-5]: "HL_E_IPC",
  [-6]: "HL_E_NOT_FOUND",
  [-7]: "HL_E_DUPLICATE",
  [-8]: "HL_E_FULL",
  [-9]: "HL_E_CONFIG",
  [-10]: "HL_E_BUFFER",
  [-11]: "HL_E_STATE",
  [-12]: "HL_E_ENGINE",
  [-13]: "HL_E_BACKPRESSURE",
  [-14]: "HL_E_LIMIT",
};

/**
 * The C name of a status code, e.g. `"HL_E_IPC"` for -5.
 *
 * @example
 * ```ts
 * import { statusName } from "./errors.ts";
 * console.log(statusName(-5)); // "HL_E_IPC"
 * ```
 */
export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `HL_E_UNKNOWN(${status})`;
}

/**
 * Codes carried by {@linkcode LiveError.code}, one per error class.
 *
 * @example
 * ```ts
 * import { ErrorCode } from "./errors.ts";
 * console.log(ErrorCode.Closed); // "CLOSED"
 * ```
 */
export const ErrorCode = {
  Validation: "VALIDATION",
  OrderNotFound: "ORDER_NOT_FOUND",
  DuplicateOrderId: "DUPLICATE_ORDER_ID",
  InvalidOrderStatus: "INVALID_ORDER_STATUS",
  Timeout: "TIMEOUT",
  Closed: "CLOSED",
  RateLimited: "RATE_LIMITED",
  Connection: "CONNECTION",
  Native: "NATIVE",
  Library: "LIBRARY",
  StreamOverflow: "STREAM_OVERFLOW",
  CancelAll: "CANCEL_ALL",
  Mode: "MODE",
  Backpressure: "BACKPRESSURE",
  Limit: "LIMIT",
} as const;
/** A {@linkcode LiveError} code. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * Options of every {@linkcode LiveError} constructor.
 *
 * @example
 * ```ts
 * import { LiveError, type LiveErrorOptions } from "./errors.ts";
 * const options: LiveErrorOptions = { status: -5 };
 * console.log(new LiveError("NATIVE", "boom", options).status);
 * ```
 */
export interface LiveErrorOptions extends ErrorOptions {
  /** Status code of the native call that failed, when one did. */
  status?: number;
  /** The order concerned, when there is one. */
  orderId?: number;
  /** The outcome of the request is unknown (e.g. the connector went away after it was sent). */
  ambiguous?: boolean;
}

/**
 * Base class of every error thrown by hftlive.
 *
 * @example
 * ```ts
 * import { LiveError } from "./errors.ts";
 * const e = new LiveError("NATIVE", "Cannot open client: IPC failure", { status: -5 });
 * console.log(e instanceof Error, e.code, e.status);
 * ```
 */
export class LiveError extends Error {
  /** What kind of failure this is (see {@linkcode ErrorCode}). */
  readonly code: string;
  /** Status code of the native call that failed, if any. */
  readonly status: number | undefined;
  /** The order concerned, if any. */
  readonly orderId: number | undefined;
  /** True when the outcome of the request is unknown. */
  readonly ambiguous: boolean;

  /** Creates an error with a code and a message. */
  constructor(code: string, message: string, options: LiveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LiveError";
    this.code = code;
    this.status = options.status;
    this.orderId = options.orderId;
    this.ambiguous = options.ambiguous ?? false;
  }
}

/**
 * An argument failed validation before anything was sent (or the native core
 * refused it as invalid).
 *
 * @example
 * ```ts
 * import { ValidationError } from "./errors.ts";
 * throw new ValidationError("Cannot submit order 42: price 0 is not above 0");
 * ```
 */
export class ValidationError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Validation, message, options);
    this.name = "ValidationError";
  }
}

/**
 * The order id (or asset) is not known to this client.
 *
 * @example
 * ```ts
 * import { OrderNotFoundError } from "./errors.ts";
 * const e = new OrderNotFoundError("Cannot cancel order 7: no such order", { orderId: 7 });
 * console.log(e.orderId);
 * ```
 */
export class OrderNotFoundError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.OrderNotFound, message, options);
    this.name = "OrderNotFoundError";
  }
}

/**
 * The order id was already used by this client.
 *
 * @example
 * ```ts
 * import { DuplicateOrderIdError } from "./errors.ts";
 * console.log(new DuplicateOrderIdError("Cannot submit order 1: id already used").code);
 * ```
 */
export class DuplicateOrderIdError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.DuplicateOrderId, message, options);
    this.name = "DuplicateOrderIdError";
  }
}

/**
 * The operation is not allowed in the order's current status (e.g. cancelling
 * a filled order), or an illegal status transition was reported.
 *
 * @example
 * ```ts
 * import { InvalidOrderStatusError } from "./errors.ts";
 * console.log(new InvalidOrderStatusError("Cannot cancel order 3: it is Filled").code);
 * ```
 */
export class InvalidOrderStatusError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.InvalidOrderStatus, message, options);
    this.name = "InvalidOrderStatusError";
  }
}

/**
 * A wait ran out of time.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "./errors.ts";
 * console.log(new TimeoutError("Order 5 got no response within 1000 ms").code);
 * ```
 */
export class TimeoutError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Timeout, message, options);
    this.name = "TimeoutError";
  }
}

/**
 * The client (or sim) is closed; every call after `close()` throws this.
 *
 * @example
 * ```ts
 * import { ClosedError } from "./errors.ts";
 * console.log(new ClosedError("Cannot submit order: the client is closed").code);
 * ```
 */
export class ClosedError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Closed, message, options);
    this.name = "ClosedError";
  }
}

/**
 * The client-side rate limit refused a request (nothing was sent).
 *
 * @example
 * ```ts
 * import { RateLimitedError } from "./errors.ts";
 * console.log(new RateLimitedError("Cannot submit order 9: rate limit of 10/s reached").code);
 * ```
 */
export class RateLimitedError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.RateLimited, message, options);
    this.name = "RateLimitedError";
  }
}

/**
 * A stream whose events may not be dropped (orders, fills, positions, errors)
 * held more unread events than its `maxBuffered`: it delivered what it held,
 * then ended with this error; the events it refused are counted in
 * `health.streamDrops`.
 *
 * @example
 * ```ts
 * import { StreamOverflowError } from "./errors.ts";
 * console.log(new StreamOverflowError("The fills stream overflowed").code); // "STREAM_OVERFLOW"
 * ```
 */
export class StreamOverflowError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.StreamOverflow, message, options);
    this.name = "StreamOverflowError";
  }
}

/**
 * `cancelAll()` could not request the cancellation of some orders: `sent` are
 * the ids whose cancel went out (or will go out on their acknowledgement),
 * `failed` the others with why.
 *
 * @example
 * ```ts
 * import { CancelAllError } from "./errors.ts";
 * const e = new CancelAllError("Cannot cancel 1 of 3 orders", [1, 2], [
 *   { orderId: 3, error: new Error("queue full") },
 * ]);
 * console.log(e.sent, e.failed[0].orderId);
 * ```
 */
export class CancelAllError extends LiveError {
  /** Orders whose cancel was sent or is deferred to their acknowledgement. */
  readonly sent: readonly number[];
  /** Orders whose cancel could not be sent, with the reason. */
  readonly failed: readonly { readonly orderId: number; readonly error: Error }[];
  /**
   * With `wait: true`: settles with the outcome of each order covered that
   * was not refused (by ascending id); otherwise undefined.
   */
  readonly settled: Promise<PromiseSettledResult<unknown>[]> | undefined;
  /** Creates the error. */
  constructor(
    message: string,
    sent: readonly number[],
    failed: readonly { readonly orderId: number; readonly error: Error }[],
    settled?: Promise<PromiseSettledResult<unknown>[]>,
    options?: LiveErrorOptions,
  ) {
    super(ErrorCode.CancelAll, message, options);
    this.name = "CancelAllError";
    this.sent = sent;
    this.failed = failed;
    this.settled = settled;
  }
}

/**
 * The call does not fit the client's mode: streams and waits on a `"poll"`
 * client, `poll()` on a `"stream"` client, `poll()` called from inside `poll()`.
 *
 * @example
 * ```ts
 * import { ModeError } from "./errors.ts";
 * console.log(new ModeError("Cannot poll: the client was connected with mode \"stream\"").code);
 * ```
 */
export class ModeError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Mode, message, options);
    this.name = "ModeError";
  }
}

/**
 * The core's queue of requests waiting to be sent is full (`maxQueuedRequests`:
 * the connector answers slower than requests come). Nothing was queued: retry
 * once answers come in (`health.requests` shows the queue).
 *
 * @example
 * ```ts
 * import { BackpressureError } from "./errors.ts";
 * console.log(new BackpressureError("Cannot submit order 3: 1000000 requests wait").code);
 * ```
 */
export class BackpressureError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Backpressure, message, options);
    this.name = "BackpressureError";
  }
}

/**
 * A limit of hftbacktest's IPC was reached when connecting: too many clients
 * or bots on one connector (iceoryx2 allows 20 nodes per service; an hftlive
 * client takes 2), or a channel configuration (`buffer_size`, `max_bots`)
 * that does not match the connector's. The message says which and what to do.
 *
 * @example
 * ```ts
 * import { LimitError } from "./errors.ts";
 * console.log(new LimitError("Cannot connect: too many clients on connector bf").code);
 * ```
 */
export class LimitError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Limit, message, options);
    this.name = "LimitError";
  }
}

/**
 * The connector is unreachable or went away (IPC failure, connector down while
 * a request was outstanding: then {@linkcode LiveError.ambiguous} is true).
 *
 * @example
 * ```ts
 * import { ConnectionError } from "./errors.ts";
 * const e = new ConnectionError("Order 4: connector went away", { ambiguous: true });
 * console.log(e.ambiguous);
 * ```
 */
export class ConnectionError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions) {
    super(ErrorCode.Connection, message, options);
    this.name = "ConnectionError";
  }
}

/**
 * Any other failure reported by the native core, or the library could not be
 * loaded (then {@linkcode LiveError.code} is `"LIBRARY"`).
 *
 * @example
 * ```ts
 * import { NativeError } from "./errors.ts";
 * console.log(new NativeError("hl_client_poll: panic", { status: -4 }).status);
 * ```
 */
export class NativeError extends LiveError {
  /** Creates the error. */
  constructor(message: string, options?: LiveErrorOptions & { code?: string }) {
    super(options?.code ?? ErrorCode.Native, message, options);
    this.name = "NativeError";
  }
}

/**
 * Turns a negative native status into the matching typed error. `message` is
 * the native message (read with `hl_last_error`); `what` prefixes it when the
 * native message is empty.
 *
 * @example
 * ```ts
 * import { errorFromStatus, DuplicateOrderIdError } from "./errors.ts";
 * const e = errorFromStatus(-7, "Cannot submit order 1: order id 1 was already used", "submit");
 * console.log(e instanceof DuplicateOrderIdError);
 * ```
 */
export function errorFromStatus(
  status: number,
  message: string,
  what: string,
  options: LiveErrorOptions = {},
): LiveError {
  const text = message.length > 0 ? message : `${what}: ${statusName(status)} (status ${status})`;
  const opts = { ...options, status };
  switch (status) {
    case Status.Argument:
    case Status.Config:
      return new ValidationError(text, opts);
    case Status.Closed:
    case Status.Handle:
      return new ClosedError(text, opts);
    case Status.Ipc:
      return new ConnectionError(text, opts);
    case Status.NotFound:
      return new OrderNotFoundError(text, opts);
    case Status.Duplicate:
      return new DuplicateOrderIdError(text, opts);
    case Status.State:
      return new InvalidOrderStatusError(text, opts);
    case Status.Backpressure:
      return new BackpressureError(text, opts);
    case Status.Limit:
      return new LimitError(text, opts);
    default:
      return new NativeError(text, opts);
  }
}
