/**
 * Recordings over the C ABI (`hl_record_*`): starts one on a native client and
 * gives the {@linkcode Recorder} its port. The client's close stops it first
 * (while the handle still works), so its files and counters stay readable.
 *
 * @module
 */

import { ErrorCode, NativeError } from "../errors.ts";
import {
  recordConfig,
  Recorder,
  type RecorderPort,
  type RecordingStats,
  recordingStats,
  type RecordOptions,
} from "../recorder.ts";
import type { NativeClient } from "./native.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Fields of `hl_record_stats`. */
const N_STATS = 8;

/**
 * Starts recording the market data of `native` (a client of `assets`
 * instruments) into `dir`; validation errors and the core's refusals throw.
 */
export function startRecorder(
  native: NativeClient,
  dir: string,
  options: RecordOptions,
  assets: number,
): Recorder {
  const config = recordConfig(dir, options, assets);
  const sym = native.lib.symbols;
  const { hl_record_start: start, hl_record_stop_async: stop } = sym;
  const { hl_record_stats: stats, hl_record_info: info } = sym;
  if (!start || !stop || !stats || !info) {
    throw new NativeError(
      `Cannot record: the native library at ${native.lib.path} has no hl_record_* functions`,
      { code: ErrorCode.Library },
    );
  }
  const json = encoder.encode(JSON.stringify(config));
  const id = start(native.handle, json, json.length);
  if (id < 0) throw native.error(id, `Cannot record into ${dir}`);
  const out = new Float64Array(N_STATS);
  let last: RecordingStats = recordingStats(out);
  let lastInfo: { files: string[]; error: string | null } = { files: [], error: null };
  let done = false;
  const port: RecorderPort = {
    stats(): RecordingStats {
      if (done || native.closed) return last;
      if (stats(native.handle, id, out, N_STATS) >= 0) last = recordingStats(out);
      return last;
    },
    info(): { files: string[]; error: string | null } {
      if (done || native.closed) return lastInfo;
      let buf = new Uint8Array(4096);
      let n = info(native.handle, id, buf, buf.length);
      if (n > buf.length) {
        buf = new Uint8Array(n);
        n = info(native.handle, id, buf, buf.length);
      }
      if (n >= 0) lastInfo = JSON.parse(decoder.decode(buf.subarray(0, n)));
      return lastInfo;
    },
    async stop(): Promise<void> {
      if (done) return;
      forget();
      const rc = await stop(native.handle, id);
      port.stats();
      port.info();
      done = true;
      if (rc < 0) throw native.error(rc, `Cannot stop the recording into ${dir}`);
    },
  };
  const recorder = new Recorder(dir, port);
  const forget = native.beforeClose(() => recorder.stop());
  return recorder;
}
