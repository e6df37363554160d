/**
 * Packaging: one version everywhere, the Node backend built from the same symbol table as the
 * Deno one (a fake koffi records what it declares; tests/npm/symbols_check.mjs does the same with
 * the real koffi), the platform package, and npm-build.ts's specifier rewriting.
 */

import assert from "node:assert/strict";
import { bindSymbols, type KoffiFunction, type KoffiLibrary } from "../ffi/node.ts";
import { platformPackage } from "../ffi/library.ts";
import { ABI_VERSION, type SymbolDefinition, symbols, VERSION } from "../ffi/symbols.ts";
import { rewriteSpecifiers } from "../npm-build.ts";

const root = new URL("../", import.meta.url);
const read = (path: string): Promise<string> => Deno.readTextFile(new URL(path, root));

Deno.test("VERSION is the version of deno.json and of the platform package the loader imports", async () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
  assert.equal((JSON.parse(await read("deno.json")) as { version: string }).version, VERSION);
  const imports = [...(await read("ffi/library.ts")).matchAll(/import\("npm:([^"]+)"\)/g)]
    .map((m) => m[1]);
  assert.deepEqual(imports, [`@hftlive/linux-x64-gnu@${VERSION}`]);
  assert.equal(ABI_VERSION, 1);
});

Deno.test("the npm packages built in npm/ carry VERSION and depend on each other at it", async () => {
  let main: Record<string, unknown>;
  try {
    main = JSON.parse(await read("npm/hftlive/package.json"));
  } catch {
    return; // not built here (`deno task npm`); scripts/test.sh builds it before this test
  }
  const platform = JSON.parse(await read("npm/linux-x64-gnu/package.json"));
  assert.equal(main.version, VERSION);
  assert.equal(platform.version, VERSION);
  assert.deepEqual(main.optionalDependencies, { [platform.name]: VERSION });
  assert.deepEqual(platform.os, ["linux"]);
  assert.deepEqual(platform.cpu, ["x64"]);
  assert.deepEqual(platform.libc, ["glibc"]);
});

/** A koffi library that records every declaration, in order; its functions record their calls. */
function fakeKoffi(missing: string[] = []): {
  lib: KoffiLibrary;
  declared: { name: string; result: string; parameters: string[] }[];
  calls: unknown[][];
} {
  const declared: { name: string; result: string; parameters: string[] }[] = [];
  const calls: unknown[][] = [];
  const lib: KoffiLibrary = {
    func(name, result, parameters): KoffiFunction {
      if (missing.includes(name)) throw new Error(`Cannot find function '${name}'`);
      declared.push({ name, result, parameters });
      const fn = (...args: unknown[]): unknown => {
        calls.push([name, ...args]);
        return 7;
      };
      return Object.assign(fn, {
        async: (...args: unknown[]): void => {
          const done = args.pop() as (err: unknown, result: unknown) => void;
          calls.push([name, ...args]);
          setTimeout(() => done(null, 3), 0);
        },
      });
    },
  };
  return { lib, declared, calls };
}

Deno.test("the Node backend declares every symbol of the table with its arity and C types", () => {
  const { lib, declared } = fakeKoffi();
  const bound = bindSymbols(lib);
  const c = { u32: "uint32_t", i32: "int32_t", f64: "double", buffer: "void *" } as const;
  const table = Object.entries(symbols) as [string, SymbolDefinition][];
  assert.deepEqual(Object.keys(bound), table.map(([key]) => key));
  assert.deepEqual(
    declared,
    table.map(([key, def]) => ({
      name: def.name ?? key,
      result: c[def.result],
      parameters: def.parameters.map((p) => c[p]),
    })),
  );
  for (const [key] of table) assert.equal(typeof bound[key as keyof typeof bound], "function", key);
});

Deno.test("the Node backend: sync symbols return numbers, nonblocking ones promises", async () => {
  const { lib, calls } = fakeKoffi();
  const bound = bindSymbols(lib);
  const buf = new Uint8Array(64);
  assert.equal(bound.hl_client_drain(1, buf, 1), 7);
  const waited = bound.hl_client_wait(1, 250);
  assert.ok(waited instanceof Promise);
  assert.equal(await waited, 3);
  assert.deepEqual(calls, [["hl_client_drain", 1, buf, 1], ["hl_client_wait", 1, 250]]);
});

Deno.test("the Node backend: a missing optional symbol is null, a missing required one throws", () => {
  assert.equal(bindSymbols(fakeKoffi(["hl_sim_start"]).lib).hl_sim_start, null);
  assert.throws(() => bindSymbols(fakeKoffi(["hl_client_open"]).lib), /hl_client_open/);
});

Deno.test("platformPackage() names the package only where one is published", () => {
  assert.equal(platformPackage("linux", "x64"), "@hftlive/linux-x64-gnu");
  assert.equal(platformPackage("linux", "arm64"), undefined);
  assert.equal(platformPackage("darwin", "x64"), undefined);
});

Deno.test("npm-build rewrites relative .ts specifiers to .js and npm: imports to bare names", () => {
  const cases: [string, string][] = [
    [`import { a } from "./a.ts";`, `import { a } from "./a.js";`],
    [`export * from "../b/c.ts";`, `export * from "../b/c.js";`],
    [`import type { T } from './t.ts';`, `import type { T } from './t.js';`],
    [`await import("./node.ts")`, `await import("./node.js")`],
    [`await import("npm:@hftlive/linux-x64-gnu@0.1.0")`, `await import("@hftlive/linux-x64-gnu")`],
    [`import x from "node:net";`, `import x from "node:net";`],
    [`const s = "./not-an-import.ts";`, `const s = "./not-an-import.ts";`],
  ];
  for (const [source, built] of cases) assert.equal(rewriteSpecifiers(source), built);
});
