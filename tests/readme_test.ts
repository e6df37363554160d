/**
 * The README's first-use snippets run as written: each is copied from README.md (the code block
 * whose first line names its file), its import pointed at this checkout's mod.ts, then
 * type-checked and run with the one permission the README states, `--allow-ffi`. (The Node
 * snippet, `first.mjs`, runs in tests/npm/run.sh against the installed npm package.)
 */

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const mod = new URL("mod.ts", root).href;

/** The code block of README.md whose first line starts with `first`. */
async function snippet(first: string): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const block = readme.split("\n```").find((b) => b.split("\n")[1]?.startsWith(first));
  assert.ok(block, `README.md has a code block starting with ${first}`);
  return block.slice(block.indexOf("\n") + 1);
}

async function run(code: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const { code: status, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--check", "--allow-ffi", file], // type-checked, then run
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(status, 0, `exit ${status}\n${out}\n${new TextDecoder().decode(stderr)}`);
    return out;
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("README: first.ts (JSR) runs with --allow-ffi", async () => {
  const code = await snippet("// first.ts");
  // The snippet's specifier is the JSR package (unreachable here): it runs against this checkout.
  const jsrSpecifier = JSON.stringify(["jsr", "@hftlive/client"].join(":"));
  assert.ok(code.includes(`from ${jsrSpecifier}`), "first.ts imports the JSR package");
  const out = await run(code.replace(jsrSpecifier, JSON.stringify(mod)));
  assert.match(out, /^trade /m);
  assert.match(out, /new: true/);
  assert.match(out, /connected: true/);
});

Deno.test("README: the checkout's strategy.ts runs with --allow-ffi", async () => {
  const code = await snippet("// strategy.ts");
  assert.match(code, /from "\.\/mod\.ts"/);
  await run(code.replace(`"./mod.ts"`, JSON.stringify(mod)));
});
