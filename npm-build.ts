/**
 * Builds the npm package into `npm/` (TypeScript compiled with npm's `typescript`, koffi for
 * FFI under Node, the native library as a per-platform package).
 *
 * Not implemented yet: the npm build is its own issue. Running this script says so and exits
 * with status 1 rather than producing a half-built package.
 *
 * @module
 */
if (import.meta.main) {
  console.error(
    "npm-build.ts: the npm build is not implemented yet (see the npm issue); nothing was written to npm/",
  );
  Deno.exit(1);
}
