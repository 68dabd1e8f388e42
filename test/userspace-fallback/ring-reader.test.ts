/**
 * The hand-off between the reader worker and the main thread (ring-reader.ts, reader-worker.ts)
 * under stress: a producer thread pushes a byte stream into a pipe as fast as it can, the worker
 * reads it into a deliberately tiny ring (a few records: it wraps hundreds of times and is full
 * most of the time, so the worker keeps waiting for room while the main thread waits for data), and
 * the main thread checks every byte, now fast, now slow. A lost wake-up on either side stalls the
 * stream (the producer never stops writing until everything is through) or shows in missedWakeups.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { O_CLOEXEC, setNonBlocking, sys } from '../../src/system/libc.js';
import { RingReader, missedWakeups, ringStates } from '../../src/userspace-fallback/ring-reader.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The stream's byte at offset k: a cycle of 251 (prime), so a lost, repeated or reordered read shows. */
const byteAt = (k: number): number => k % 251;

/** A thread writing `total` bytes of the stream into `fd` (blocking), in chunks of uneven size. */
function producer(fd: number, total: number): Worker {
  const code = `
    const { writeSync } = require('node:fs');
    const { fd, total } = require('node:worker_threads').workerData;
    let k = 0, n = 0;
    while (k < total) {
      const len = Math.min(total - k, 1 + ((n++ * 1237) % 6000));
      const chunk = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) chunk[i] = (k + i) % 251;
      let off = 0;
      while (off < len) off += writeSync(fd, chunk, off, len - off);
      k += len;
    }`;
  return new Worker(code, { eval: true, workerData: { fd, total } });
}

describe('reader worker <-> main thread hand-off', () => {
  it('moves a 16 MiB stream through a 16 KiB ring intact, with no stall and no missed wake-up', async () => {
    const fds = new Int32Array(2);
    expect(sys.pipe2(fds, O_CLOEXEC)).toBe(0);
    const [rd, wr] = [fds[0]!, fds[1]!];
    setNonBlocking(rd, true);
    const TOTAL = 16 << 20;
    const missedBefore = missedWakeups;
    let got = 0;
    let bad = -1;
    let calls = 0;
    let failed: number | undefined;
    const reader = new RingReader({
      fds: [rd],
      maxPacket: 4096,
      withAddr: false,
      capacity: 16 << 10,
      batch: 8,
      onPackets(packets) {
        for (const p of packets) {
          for (let i = 0; i < p.length; i++) if (bad < 0 && p[i] !== byteAt(got + i)) bad = got + i;
          got += p.length;
        }
        // Every few calls a slow consumer (the ring fills and the worker waits for room), otherwise a
        // fast one (the ring drains and the main thread waits for data).
        if (++calls % 7 === 0) {
          const until = performance.now() + 0.3;
          while (performance.now() < until);
        }
      },
      onError(errno) {
        failed = errno;
      },
    });
    reader.start();
    cleanups.push(() => {
      sys.close(wr);
      sys.close(rd);
    });
    cleanups.push(() => reader.stop());
    const writer = producer(wr, TOTAL);
    cleanups.push(async () => void (await writer.terminate()));

    const end = Date.now() + 60_000;
    let last = -1;
    let lastMove = Date.now();
    while (got < TOTAL && failed === undefined) {
      if (got !== last) {
        last = got;
        lastMove = Date.now();
      }
      // No progress for 5 s (each wait of the main thread ends after 1 s at most): a stall.
      if (Date.now() - lastMove > 5000 || Date.now() > end) {
        throw new Error(`stalled at ${got} of ${TOTAL} bytes: ring ${JSON.stringify(ringStates())}, missed wake-ups ${missedWakeups - missedBefore}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(failed).toBeUndefined();
    expect(got).toBe(TOTAL);
    expect(bad).toBe(-1);
    expect(missedWakeups - missedBefore).toBe(0);
  }, 90_000);
});
