/**
 * Starting and ending the data plane's worker threads. Each worker is a module file of its own
 * (reader-worker.ts, writer-worker.ts), bundled by scripts/build.mjs into `workers/` beside the
 * daemon's bundle, so a worker imports the ring layout and the libc bindings like any module.
 */
import { Worker } from 'node:worker_threads';
import { builtWorkerFile } from '../system/worker-file.js';

export type WorkerName = 'reader' | 'writer';

/** Starts a worker (unref'd: it never keeps the process alive by itself). */
export function startWorker(name: WorkerName, workerData: unknown): Worker {
  const worker = new Worker(builtWorkerFile(name), { workerData });
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
