// Bundles the CLI (dist/wgts.mjs) and the userspace daemon (dist/wgts-userspace.mjs), so a command
// reads a few files instead of dozens of modules; subcommands are lazy chunks under dist/chunks/, so
// `wgts --version` compiles almost nothing (see docs/benchmarks.md, "Cold start").
import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { bundleOptions, buildWorkers } from './build-options.mjs';

const common = { ...bundleOptions, sourcemap: 'linked' };

// Code splitting: each subcommand's module (loaded lazily by main.ts) becomes its own chunk, so a
// command compiles only what it runs; code shared by the CLI and the daemon lands in shared chunks.
const result = await build({
  ...common,
  entryPoints: { wgts: 'src/cli/main.ts', 'wgts-userspace': 'src/userspace-fallback/daemon.ts' },
  outdir: 'dist',
  splitting: true,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
});
await buildWorkers(process.cwd(), 'dist', { sourcemap: 'linked' });

// Remove chunks of earlier builds. dist/ itself is never emptied first: tests running bin/wgts while
// another suite rebuilds would find it missing for a moment.
const fresh = new Set(Object.keys(result.metafile.outputs).map((f) => relative('dist/chunks', f)));
for (const name of await readdir('dist/chunks')) {
  if (!fresh.has(name)) await rm(join('dist/chunks', name), { force: true });
}
