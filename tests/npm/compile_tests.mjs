// Compiles the portable Deno tests (they use only the public API and tests/helpers.ts) for Node:
// `node compile_tests.mjs <repo root> <out dir> <file>...`. Each file is transpiled by npm's
// typescript (.tools/, as npm-build.ts installs it; no type check: `deno check` did that) with
// "../mod.ts" and "../client.ts" importing the installed package "hftlive", and the Deno shim
// imported first. Writes <out dir>/<name>.js and the shim beside them.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import process from "node:process";

const [root, out, ...files] = process.argv.slice(2);
const ts = createRequire(join(root, ".tools/"))("typescript");
mkdirSync(out, { recursive: true });
copyFileSync(join(root, "tests/npm/deno_shim.mjs"), join(out, "deno_shim.mjs"));
for (const file of files) {
  const source = readFileSync(join(root, file), "utf8")
    .replace(/(["'])\.\.\/(?:mod|client)\.ts\1/g, '"hftlive"')
    .replace(/(["'])\.\/([\w-]+)\.ts\1/g, '"./$2.js"');
  const { outputText } = ts.transpileModule(source, {
    fileName: basename(file),
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const name = basename(file).replace(/\.ts$/, ".js");
  writeFileSync(join(out, name), `import "./deno_shim.mjs";\n${outputText}`);
}
