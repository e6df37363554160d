// deno-lint-ignore-file explicit-function-return-type -- plain JavaScript: no return types
// The Node backend against the symbol table with the real koffi and the packed library (run by
// tests/npm/run.sh in the project where the packages are installed): every symbol of the table is
// bound, with as many parameters as the table gives and the C types it maps them to, and nothing
// else; a nonblocking symbol returns a promise. Prints "ok: ..." or throws.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import process from "node:process";
import { pathToFileURL } from "node:url";

const base = pathToFileURL(`${process.cwd()}/node_modules/hftlive/`);
const { symbols } = await import(new URL("ffi/symbols.js", base).href);
const { bindSymbols } = await import(new URL("ffi/node.js", base).href);
const platform = "@hftlive/linux-x64-gnu";
const { path } = await import(platform);
const koffi = createRequire(base)("koffi");

const lib = koffi.load(path);
const declared = []; // in the table's order (an alias declares its symbol a second time)
const bound = bindSymbols({
  func(name, result, parameters) {
    const fn = lib.func(name, result, parameters);
    declared.push({ name, fn });
    return fn;
  },
});
const ctype = { u32: "uint32_t", i32: "int32_t", f64: "double", buffer: "void *" };
const table = Object.entries(symbols);
assert.deepEqual(Object.keys(bound), table.map(([key]) => key));
assert.equal(declared.length, table.length);
table.forEach(([key, def], i) => {
  const { name, fn } = declared[i];
  assert.equal(name, def.name ?? key, `${key}: symbol`);
  assert.equal(typeof bound[key], "function", `${key} is bound`);
  assert.equal(fn.info.arguments.length, def.parameters.length, `${key}: arity`);
  assert.deepEqual(
    fn.info.arguments.map((a) => a.type.name),
    def.parameters.map((p) => koffi.type(ctype[p]).name),
    `${key}: parameter types`,
  );
  assert.equal(fn.info.result.name, koffi.type(ctype[def.result]).name, `${key}: result type`);
});
assert.equal(bound.hl_abi_version(), 1);
assert.ok(bound.hl_now() > 1e18, "hl_now is ns since the epoch");
const waited = bound.hl_client_wait(0xffffffff, 0);
assert.ok(waited instanceof Promise, "a nonblocking symbol returns a promise");
assert.ok((await waited) < 0, "a wait on no handle is an error status");
console.log(`ok: ${Object.keys(symbols).length} symbols bound as the table declares them`);
