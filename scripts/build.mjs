// Bundles the CLI (dist/wgts.mjs) and the userspace daemon (dist/wgts-userspace.mjs), so a command
// reads a few files instead of dozens of modules; subcommands are lazy chunks under dist/chunks/, so
// `wgts --version` compiles almost nothing (see docs/benchmarks.md, "Cold start").
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
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

// The daemonized child (src/userspace-fallback/daemon.ts re-runs itself detached) as one CommonJS
// file: Node starts a CommonJS program without its ES module loader, which a process that stays up
// for days would carry for nothing (about 1.4 MiB of RSS, measured). Extensionless, so its command
// line ends in `wgts-userspace IFNAME` as wireguard-go's does; dist/daemon/package.json makes it
// CommonJS inside this "type": "module" package. The banner does what bin/wgts-userspace does before
// loading the bundle (strict mode first, as in the ES modules it is built from; SIGINT/SIGTERM
// remembered until the daemon's handlers replay them) and gives import.meta.url, which CommonJS
// lacks; the footer runs main().
await build({
  ...common,
  format: 'cjs',
  entryPoints: ['src/userspace-fallback/daemon.ts'],
  outfile: 'dist/daemon/wgts-userspace',
  banner: {
    js: [
      "'use strict';",
      'const __wgtsPending = (globalThis.__wgtsPendingSignals = []);',
      "for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => __wgtsPending.push(sig));",
      "const __wgtsImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
    ].join('\n'),
  },
  footer: { js: 'module.exports.main(process.argv.slice(1)).then((code) => { process.exitCode = code; });' },
  define: { 'import.meta.url': '__wgtsImportMetaUrl' },
});
await writeFile('dist/daemon/package.json', '{ "type": "commonjs" }\n');
// esbuild escapes non-ASCII characters in code (its default charset) but not in the comments it
// keeps (an arrow, a minus sign): one of them makes V8 hold the whole 260 KB source as two-byte
// characters, for as long as the daemon runs. Each becomes '?', one UTF-16 unit for one, so the
// source map's columns still hold.
const child = await readFile('dist/daemon/wgts-userspace', 'utf8');
await writeFile('dist/daemon/wgts-userspace', child.replace(/[^\x00-\x7f]/g, '?'));

// Remove chunks of earlier builds. dist/ itself is never emptied first: tests running bin/wgts while
// another suite rebuilds would find it missing for a moment.
const fresh = new Set(Object.keys(result.metafile.outputs).map((f) => relative('dist/chunks', f)));
for (const name of await readdir('dist/chunks')) {
  if (!fresh.has(name)) await rm(join('dist/chunks', name), { force: true });
}
