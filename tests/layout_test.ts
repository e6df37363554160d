// The layout's rules (DESIGN.md, "Layout"), checked on the module graph of mod.ts and the files:
// domain modules never import ffi/ or client.ts; nothing outside ffi/ names the runtime;
// files stay small enough to have one job; Rust `unsafe` only at the ABI edge.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const rel = (u: string): string => u.slice(root.href.length);

/** The local files of the published module's graph (everything mod.ts reaches). */
async function moduleFiles(): Promise<string[]> {
  const deno = Deno.execPath();
  const { stdout, success } = await new Deno.Command(deno, {
    args: ["info", "--json", new URL("mod.ts", root).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success, "deno info failed");
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith(root.href)).map(rel);
}

/** Source without comments (doc examples mention `Deno.` legitimately). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

const read = (path: string): Promise<string> => Deno.readTextFile(new URL(path, root));

/** Root modules that may use ffi/: the facade, the pump and the sim. */
const NOT_DOMAIN = new Set(["client.ts", "pump.ts", "sim.ts", "mod.ts"]);

Deno.test("domain modules import neither ffi/ nor client.ts", async () => {
  const offenders: string[] = [];
  for (const f of await moduleFiles()) {
    if (f.includes("/") || NOT_DOMAIN.has(f)) continue;
    for (const m of (await read(f)).matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
      if (m[1].includes("ffi/") || /(^|\/)client\.ts$/.test(m[1])) {
        offenders.push(`${f} -> ${m[1]}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("nothing outside ffi/ names Deno or a Node module", async () => {
  const offenders: string[] = [];
  const files = await moduleFiles();
  assert.ok(files.includes("client.ts") && files.includes("ffi/native.ts"), "graph looks wrong");
  for (const f of files) {
    if (f.startsWith("ffi/")) continue;
    const src = code(await read(f));
    if (/\bDeno\s*\.|globalThis\s*\.\s*Deno|\bglobalThis\s*as\b[^;]*Deno/.test(src)) {
      offenders.push(`${f}: Deno`);
    }
    if (/from\s+"node:/.test(src)) offenders.push(`${f}: node: import`);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("no TypeScript source file of the module is over 1,000 lines", async () => {
  const big: string[] = [];
  for (const f of await moduleFiles()) {
    const n = (await read(f)).split("\n").length;
    if (n > 1000) big.push(`${f} (${n})`);
  }
  assert.deepEqual(big, []);
});

/** Rust sources of the workspace (tracked files, the target directory aside). */
async function rustFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: URL): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      if (e.name === "target") continue;
      const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(u);
      else if (e.name.endsWith(".rs")) out.push(rel(u.href));
    }
  };
  await walk(new URL("rust/", root));
  return out.sort();
}

Deno.test("no Rust source file is over 700 lines", async () => {
  const big: string[] = [];
  for (const f of await rustFiles()) {
    const n = (await read(f)).split("\n").length;
    if (n > 700) big.push(`${f} (${n})`);
  }
  assert.deepEqual(big, []);
});

Deno.test("Rust `unsafe` appears only under the core's abi/ (and the ABI's own test)", async () => {
  const offenders: string[] = [];
  for (const f of await rustFiles()) {
    if (f.startsWith("rust/hftlive/src/abi/") || f === "rust/hftlive/tests/abi.rs") continue;
    const src = (await read(f)).replace(/\/\/.*$/gm, "");
    if (/\bunsafe\b/.test(src)) offenders.push(f);
  }
  assert.deepEqual(offenders, []);
});
