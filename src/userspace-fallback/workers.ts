/**
 * Starting and ending the data plane's worker threads. Each worker is a module file of its own
 * (reader-worker.ts, writer-worker.ts), bundled by scripts/build.mjs into `workers/` beside the
 * daemon's bundle, so a worker imports the ring layout and the libc bindings like any module.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export type WorkerName = 'reader' | 'writer';

/**
 * Where the built worker file is. The code calling this runs from the daemon's bundle (dist/), from
 * one of its chunks (dist/chunks/), or from the sources under test (src/userspace-fallback/, whose
 * workers come from the last build: `npm run build`, or the test setup).
 */
function workerFile(name: WorkerName): string {
  for (const dir of ['./workers/', '../workers/', '../../dist/workers/']) {
    const file = fileURLToPath(new URL(`${dir}${name}.mjs`, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error(`wgts-userspace: worker file ${name}.mjs not found beside ${fileURLToPath(import.meta.url)} (run npm run build)`);
}

/** Starts a worker (unref'd: it never keeps the process alive by itself). */
export function startWorker(name: WorkerName, workerData: unknown): Worker {
  const worker = new Worker(workerFile(name), { workerData });
  worker.unref();
  return worker;
}

/** Waits up to a second for a worker told to stop to exit by itself, then terminates it. */
export async function endWorker(worker: Worker): Promise<void> {
  if (worker.threadId === -1) return; // already ended
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
  ]);
  clearTimeout(timer);
  await worker.terminate().catch(() => undefined);
}

interface WaitAsyncResult { async: boolean; value: Promise<string> | string }
/** Atomics.waitAsync (Node 16+; not yet in TypeScript's lib for ES2022). */
export const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult;
}).waitAsync.bind(Atomics);
