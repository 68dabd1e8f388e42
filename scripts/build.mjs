// Bundles the CLI and the userspace daemon into one file each, so `wgts --version` starts fast:
// one module to read and compile instead of dozens (see docs/benchmarks.md, "cold start").
// Native packages (koffi, netlink) stay external: they load their prebuilt binaries at run time.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  external: ['koffi', 'netlink'],
  // ESM bundles need a require() for the CommonJS dependencies esbuild inlines.
  banner: { js: "import { createRequire as __wgtsCreateRequire } from 'node:module'; const require = __wgtsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/wgts.mjs' }),
  build({ ...common, entryPoints: ['src/userspace-fallback/daemon.ts'], outfile: 'dist/wgts-userspace.mjs' }),
]);
