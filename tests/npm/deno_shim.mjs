// deno-lint-ignore-file explicit-function-return-type -- plain JavaScript: no return types
// Just enough of Deno's API, over Node's, for the portable Deno tests (tests/npm/run.sh runs
// them under Node against the installed npm package): `Deno.test` registers a `node:test` test;
// `Deno.pid`, `Deno.Command(...).output()` and `Deno.readDirSync` are what those tests and
// tests/helpers.ts use besides. No `dlopen`, so hftlive still takes Node's backend (koffi).
// Tests named in HFTLIVE_NODE_SKIP (one a line) are reported as skipped.
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";

/** Names of tests to skip (one a line), from tests/npm/run.sh. */
const skipped = (process.env.HFTLIVE_NODE_SKIP ?? "").split("\n").filter((l) => l !== "");

class Command {
  #cmd;
  #args;

  constructor(cmd, options = {}) {
    this.#cmd = cmd;
    this.#args = options.args ?? [];
  }

  output() {
    return new Promise((resolve) => {
      execFile(this.#cmd, this.#args, { encoding: "buffer" }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, success: code === 0, stdout, stderr });
      });
    });
  }
}

globalThis.Deno = {
  pid: process.pid,
  Command,
  readDirSync(path) {
    return readdirSync(path, { withFileTypes: true }).map((e) => ({
      name: e.name,
      isFile: e.isFile(),
      isDirectory: e.isDirectory(),
      isSymlink: e.isSymbolicLink(),
    }));
  },
  test(a, b) {
    const def = typeof a === "string" ? { name: a, fn: b } : { ...a, fn: a.fn ?? b };
    const skip = def.ignore === true || skipped.includes(def.name);
    test(def.name, { skip }, () => def.fn());
  },
};
