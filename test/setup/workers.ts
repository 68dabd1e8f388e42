// The data plane's workers are separate module files found in dist/workers/ (src/userspace-fallback/
// workers.ts): tests that import the sources get them built from the current sources first.
import { resolve } from 'node:path';
import { buildWorkers } from '../../scripts/build-options.mjs';

export default async function setup(): Promise<void> {
  const repo = resolve(import.meta.dirname, '../..');
  await buildWorkers(repo, resolve(repo, 'dist'), { sourcemap: 'linked' });
}
