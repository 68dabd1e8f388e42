/**
 * Where a worker thread's built module file is. scripts/build-options.mjs bundles every worker (the
 * data plane's reader and writer, the registry's UDP worker) into `workers/` beside the bundles.
 * The code calling this runs from a bundle (dist/), one of its chunks (dist/chunks/), or the
 * sources under test (src/system/), whose workers come from the last build (`npm run build`, or the
 * test setup).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function builtWorkerFile(name: string): string {
  for (const dir of ['./workers/', '../workers/', '../../dist/workers/']) {
    const file = fileURLToPath(new URL(`${dir}${name}.mjs`, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error(`worker file ${name}.mjs not found beside ${fileURLToPath(import.meta.url)} (run npm run build)`);
}
