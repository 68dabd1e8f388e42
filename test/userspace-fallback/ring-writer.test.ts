/**
 * RingWriter's writes on the calling thread (ring-writer.ts, sendInline): a batch flushed before the
 * worker is up, and lone packets while it sleeps, are written by the caller; a full fd hands the
 * rest to the worker without writing anything twice or out of order. Driven through a pipe, whose
 * 64 KiB buffer fills (EAGAIN) when nobody reads it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { O_CLOEXEC, O_NONBLOCK, sys } from '../../src/system/libc.js';
import { RingWriter } from '../../src/userspace-fallback/ring-writer.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SIZE = 1000;
const packet = (seq: number): Uint8Array => {
  const p = new Uint8Array(SIZE).fill(seq & 0xff);
  new DataView(p.buffer).setUint32(0, seq);
  return p;
};

/** Reads whole packets from `fd` (non-blocking) until `n` have come or `ms` pass; their sequence numbers. */
async function readPackets(fd: number, n: number, ms = 10_000): Promise<number[]> {
  const seqs: number[] = [];
  const buf = new Uint8Array(SIZE);
  const end = Date.now() + ms;
  while (seqs.length < n && Date.now() < end) {
    // Writes of up to PIPE_BUF bytes are atomic, so each read of SIZE bytes is one packet.
    const got = sys.read(fd, buf, SIZE);
    if (got === SIZE) {
      const seq = new DataView(buf.buffer).getUint32(0);
      expect(buf[SIZE - 1]).toBe(seq & 0xff);
      seqs.push(seq);
    } else await new Promise((r) => setTimeout(r, 2));
  }
  return seqs;
}

describe('RingWriter', () => {
  it('writes on the calling thread until the worker is up, and a full fd hands the rest over in order', async () => {
    const fds = new Int32Array(2);
    expect(sys.pipe2(fds, O_CLOEXEC | O_NONBLOCK)).toBe(0);
    const [rd, wr] = [fds[0]!, fds[1]!];
    cleanups.push(() => {
      sys.close(rd);
      sys.close(wr);
    });
    const writer = new RingWriter(1 << 20);
    cleanups.push(() => writer.stop());

    // 150 KB into a 64 KiB pipe nobody reads yet: the first ~65 go out here, then EAGAIN.
    for (let i = 0; i < 150; i++) expect(writer.push(wr, packet(i))).toBe(true);
    writer.flush();
    expect(writer.inline).toBeGreaterThan(0);
    expect(writer.inline).toBeLessThan(150);
    const first = await readPackets(rd, 150);
    expect(first).toEqual(Array.from({ length: 150 }, (_, i) => i));

    // Once the worker sleeps on an empty ring, lone packets go out on this thread again.
    await writer.settle();
    let seq = 150;
    const inlineBefore = writer.inline;
    for (let round = 0; round < 50; round++) {
      writer.push(wr, packet(seq++));
      writer.flush();
      expect(await readPackets(rd, 1)).toEqual([seq - 1]);
    }
    expect(writer.inline - inlineBefore).toBeGreaterThan(0);
    expect(await readPackets(rd, 1, 50)).toEqual([]); // nothing written twice
  });
});
