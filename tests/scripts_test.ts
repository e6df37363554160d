// scripts/libclang.sh decides whether scripts/run.sh installs libclang-dev: it must find the
// library bindgen loads and must not take LLVM's libclang-cpp for it.
import { strictEqual } from "node:assert/strict";

async function found(files: string[]): Promise<boolean> {
  const root = await Deno.makeTempDir({ prefix: "hftlive-libclang-" });
  try {
    for (const f of files) {
      const path = `${root}${f}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, new Uint8Array());
    }
    const { code } = await new Deno.Command("bash", {
      args: [new URL("../scripts/libclang.sh", import.meta.url).pathname, root],
      stdout: "null",
      stderr: "inherit",
    }).output();
    return code === 0;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("libclang.sh does not take LLVM's libclang-cpp for libclang", async () => {
  strictEqual(
    await found([
      "/usr/lib/llvm-14/lib/libclang-cpp.so.14",
      "/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14",
      "/usr/lib/llvm-14/lib/libLLVM-14.so",
    ]),
    false,
  );
  strictEqual(await found([]), false);
});

Deno.test("libclang.sh finds the names bindgen loads", async () => {
  // What Debian's libclang1-14 / libclang-14-dev install, and the other names clang-sys accepts.
  strictEqual(await found(["/usr/lib/x86_64-linux-gnu/libclang-14.so.14.0.6"]), true);
  strictEqual(await found(["/usr/lib/llvm-14/lib/libclang.so.1"]), true);
  strictEqual(await found(["/usr/lib/llvm-14/lib/libclang.so"]), true);
  strictEqual(await found(["/usr/local/lib/libclang-17.so"]), true);
  strictEqual(
    await found(["/usr/lib/llvm-14/lib/libclang-cpp.so.14", "/usr/lib/llvm-14/lib/libclang.so.1"]),
    true,
  );
});

Deno.test("chromium.sh takes $CHROMIUM when it is an executable, and prints it", async () => {
  const { code, stdout } = await new Deno.Command("/bin/bash", {
    args: [
      "-c",
      `source ${new URL("../scripts/chromium.sh", import.meta.url).pathname}; chromium_found`,
    ],
    env: { CHROMIUM: "/bin/sh", PATH: "/nonexistent" },
    stdout: "piped",
  }).output();
  strictEqual(code, 0);
  strictEqual(new TextDecoder().decode(stdout).trim(), "/bin/sh");
});
