/**
 * Builds the npm packages into `npm/` (`deno task npm`):
 *
 * - `npm/hftlive/`: the module (every file `mod.ts` reaches) compiled to ESM
 *   JavaScript and `.d.ts` by npm's `typescript` (pinned below, installed into
 *   `.tools/` on first use), relative `.ts` specifiers rewritten to `.js`;
 *   `package.json` (`koffi` as its dependency, the platform package as an
 *   optional one), README and LICENSE.
 * - `npm/linux-x64-gnu/`: `@hftlive/linux-x64-gnu`, the native library of the
 *   release build (`rust/target/release/libhftlive.so`, built first with cargo
 *   without the test-only features, so a test build must come after it, and
 *   stripped of debug symbols) with `index.js`/`index.d.ts` exporting its
 *   path, and `os`/`cpu`/`libc` so npm installs it only where it runs.
 *
 * Every package has the version {@linkcode VERSION} of `ffi/symbols.ts`, and the
 * library's ABI version is checked against {@linkcode ABI_VERSION} before it is
 * packed. TypeScript only emits here (`--noCheck`): `deno check` type-checks the
 * same sources, and `tests/npm/run.sh` type-checks the emitted `.d.ts` as a
 * consumer would.
 *
 * @module
 */

import { ABI_VERSION, VERSION } from "./ffi/symbols.ts";
import { platformPackage } from "./ffi/library.ts";

/** npm's `typescript`, pinned: the compiler of the npm build. */
const TYPESCRIPT = "5.9.3";
/** koffi, pinned: the FFI of the Node backend (`ffi/node.ts`). */
const KOFFI = "3.3.4";
/** The project's public repository, for package.json. */
const REPOSITORY = "git+https://github.com/hftlive/hftlive.git";

const root = new URL("./", import.meta.url);
const path = (rel: string): string => decodeURIComponent(new URL(rel, root).pathname);

/** Runs a command; returns its stdout, throws with its output when it fails. */
async function run(cmd: string, args: string[], cwd = path(".")): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${code}):\n${out}${new TextDecoder().decode(stderr)}`,
    );
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** The path of `tsc`, installing the pinned `typescript` into `.tools/` when missing. */
async function typescript(): Promise<string> {
  const pkg = path(".tools/node_modules/typescript/package.json");
  const installed = (await exists(pkg))
    ? (JSON.parse(await Deno.readTextFile(pkg)) as { version: string }).version
    : undefined;
  if (installed !== TYPESCRIPT) {
    console.error(`npm-build: installing typescript@${TYPESCRIPT} into .tools/`);
    await Deno.mkdir(path(".tools"), { recursive: true });
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--save-dev",
      "--save-exact",
      `typescript@${TYPESCRIPT}`,
    ], path(".tools"));
  }
  return path(".tools/node_modules/typescript/bin/tsc");
}

/** The module's own files: everything `mod.ts` reaches, relative to the root. */
async function moduleFiles(): Promise<string[]> {
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", path("mod.ts")])) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith(root.href))
    .map((s) => s.slice(root.href.length)).sort();
}

/**
 * Rewrites relative `.ts` import and export specifiers to `.js` (what tsc emits next to them),
 * and `npm:` specifiers to the bare package name (resolved from `node_modules` under Node).
 */
export function rewriteSpecifiers(source: string): string {
  return source.replace(
    /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.{1,2}\/[^"'\n]*?)\.ts\2/g,
    "$1$2$3.js$2",
  ).replace(/(\bimport\s*\(\s*)(["'])npm:((?:@[\w.-]+\/)?[\w.-]+)@[^"'\n]*\2/g, "$1$2$3$2");
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(file, JSON.stringify(value, null, 2) + "\n");
}

/** Fields every package shares. */
function common(description: string): Record<string, unknown> {
  return {
    version: VERSION,
    description,
    license: "MIT",
    repository: { type: "git", url: REPOSITORY },
    homepage: "https://jsr.io/@hftlive/client",
    keywords: ["hftbacktest", "trading", "hft", "ffi", "deno", "koffi"],
  };
}

/** The ABI version of the library at `lib` (`hl_abi_version`). */
function abiVersion(lib: string): number {
  const dl = Deno.dlopen(lib, { hl_abi_version: { parameters: [], result: "u32" } });
  try {
    return dl.symbols.hl_abi_version();
  } finally {
    dl.close();
  }
}

/** `@hftlive/linux-x64-gnu`: the release library, stripped, and its path. */
async function buildPlatformPackage(dir: string, name: string): Promise<void> {
  console.error("npm-build: cargo build --release");
  await run("cargo", ["build", "--release", "--workspace", "--quiet"], path("rust"));
  const built = path("rust/target/release/libhftlive.so");
  const abi = abiVersion(built);
  if (abi !== ABI_VERSION) {
    throw new Error(`${built} has ABI version ${abi}, the module binds to ${ABI_VERSION}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const lib = `${dir}/libhftlive.so`;
  await Deno.copyFile(built, lib);
  try {
    await run("strip", ["--strip-unneeded", lib]); // the hl_* exports stay (.dynsym)
  } catch (e) {
    console.error(`npm-build: strip failed, shipping the library unstripped: ${e}`);
  }
  await Deno.writeTextFile(
    `${dir}/index.js`,
    `/** Absolute path of the hftlive native library (libhftlive.so) in this package. */
export const path = decodeURIComponent(new URL("./libhftlive.so", import.meta.url).pathname);
export default path;
`,
  );
  await Deno.writeTextFile(
    `${dir}/index.d.ts`,
    `/** Absolute path of the hftlive native library (libhftlive.so) in this package. */
export declare const path: string;
export default path;
`,
  );
  await writeJson(`${dir}/package.json`, {
    name,
    ...common(
      `The hftlive native library (libhftlive.so, C ABI ${ABI_VERSION}) for Linux x86-64 with glibc >= 2.34; installed by the npm package hftlive and found by jsr:@hftlive/client`,
    ),
    type: "module",
    os: ["linux"],
    cpu: ["x64"],
    libc: ["glibc"],
    main: "./index.js",
    types: "./index.d.ts",
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./libhftlive.so": "./libhftlive.so",
      "./package.json": "./package.json",
    },
    files: ["index.js", "index.d.ts", "libhftlive.so", "README.md", "LICENSE"],
  });
  await Deno.writeTextFile(
    `${dir}/README.md`,
    `# ${name}

The native library of [hftlive](https://www.npmjs.com/package/hftlive) ${VERSION} (C ABI ${ABI_VERSION})
for Linux on x86-64 with glibc 2.34 or newer, built from the \`rust/\` workspace of hftlive.

Nothing to do with it directly: \`npm install hftlive\` installs it as an optional dependency, and
Deno users of \`jsr:@hftlive/client\` get it through \`npm:\`. It exports the library's path:

\`\`\`js
import { path } from "${name}";
\`\`\`
`,
  );
  await Deno.copyFile(path("LICENSE"), `${dir}/LICENSE`);
}

/** `hftlive`: the module compiled to JavaScript and declarations. */
async function buildMainPackage(dir: string, pkg: string, pkgDir: string): Promise<void> {
  const tsc = await typescript();
  const stage = path("npm/.stage");
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  const files = await moduleFiles();
  for (const f of files) {
    await Deno.mkdir(`${stage}/${f}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${stage}/${f}`, rewriteSpecifiers(await Deno.readTextFile(path(f))));
  }
  await writeJson(`${stage}/package.json`, { type: "module" });
  await writeJson(`${stage}/tsconfig.json`, {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023", "ESNext.Disposable", "ESNext.Promise", "DOM"],
      types: [],
      strict: true,
      declaration: true,
      skipLibCheck: true,
      rootDir: ".",
      outDir: dir,
      newLine: "lf",
      // The platform package's declarations, built just before.
      paths: { [pkg]: [`${pkgDir}/index.d.ts`] },
    },
    files,
  });
  console.error(`npm-build: tsc ${files.length} files`);
  await run("node", [tsc, "--noCheck", "-p", `${stage}/tsconfig.json`]);
  await Deno.remove(stage, { recursive: true });
  await writeJson(`${dir}/package.json`, {
    name: "hftlive",
    ...common(
      "Live trading from TypeScript on hftbacktest's Rust live core: market data, orders and health from hftbacktest connectors (Binance Futures, Binance Spot, Bybit) or an embedded paper exchange",
    ),
    type: "module",
    main: "./mod.js",
    types: "./mod.d.ts",
    exports: {
      ".": { types: "./mod.d.ts", default: "./mod.js" },
      "./package.json": "./package.json",
    },
    engines: { node: ">=20" },
    dependencies: { koffi: KOFFI },
    optionalDependencies: { [pkg]: VERSION },
  });
  await Deno.copyFile(path("README.md"), `${dir}/README.md`);
  await Deno.copyFile(path("LICENSE"), `${dir}/LICENSE`);
}

if (import.meta.main) {
  const pkg = platformPackage("linux", "x64")!;
  const main = path("npm/hftlive");
  const platform = path("npm/linux-x64-gnu");
  for (const d of [main, platform]) await Deno.remove(d, { recursive: true }).catch(() => {});
  await buildPlatformPackage(platform, pkg);
  await buildMainPackage(main, pkg, platform);
  console.log(`npm/hftlive and npm/linux-x64-gnu (${pkg}) ${VERSION}, ABI ${ABI_VERSION}`);
}
