// The esbuild options every wgts bundle shares: scripts/build.mjs (dist/), the quick test harness's
// private build, and the kernel netlink benchmark. One place, so a change reaches all of them.
// Native packages (koffi, netlink) stay external: they load their prebuilt binaries at run time.
import { join } from 'node:path';
import { build } from 'esbuild';

export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['koffi', 'netlink'],
  // ESM bundles need a require() for the CommonJS dependencies esbuild inlines.
  banner: { js: "import { createRequire as __wgtsCreateRequire } from 'node:module'; const require = __wgtsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};

// The data plane's worker threads are module files of their own, found at run time in `workers/`
// beside the daemon's bundle (src/userspace-fallback/workers.ts), and so is the registry's UDP
// worker (src/registry/udp-batched.ts). Each is bundled whole (no shared chunks): a worker then
// loads one file.
export const workerEntries = {
  'workers/reader': 'src/userspace-fallback/reader-worker.ts',
  'workers/writer': 'src/userspace-fallback/writer-worker.ts',
  'workers/registry-udp': 'src/registry/udp-worker.ts',
};

/** Builds the worker files into `outdir/workers/` (`repo` is the repository root). */
export async function buildWorkers(repo, outdir, extra = {}) {
  const entryPoints = Object.fromEntries(Object.entries(workerEntries).map(([out, src]) => [out, join(repo, src)]));
  await build({ ...bundleOptions, ...extra, entryPoints, outdir, outExtension: { '.js': '.mjs' } });
}
