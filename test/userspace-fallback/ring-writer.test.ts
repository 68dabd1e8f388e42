/**
 * RingWriter's writes on the calling thread (ring-writer.ts, writeInline): batches are written by
 * the caller while the worker has nothing in hand; a full fd hands the rest to the worker, and later
 * batches follow it there until it is done, without writing anything twice or out of order. Driven
 * through a pipe, whose 64 KiB buffer fills (EAGAIN) when nobody reads it. And a datagram sealed
 * straight into the ring (RingWriter.reserve, send.ts sealDataInto) leaves byte for byte as the
 * one sealed into a buffer of its own (encryptData).
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { AF_INET, encodeSockaddrIn } from '../../src/conf/sockaddr.js';
import { O_CLOEXEC, O_NONBLOCK, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, sys } from '../../src/system/libc.js';
import { Keypair } from '../../src/userspace-fallback/noise.js';
import { RingWriter } from '../../src/userspace-fallback/ring-writer.js';
import { encryptData, sealDataInto } from '../../src/userspace-fallback/send.js';
import { MESSAGE_DATA_OVERHEAD, paddedLength } from '../../src/userspace-fallback/messages.js';

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

/** A non-blocking pipe (closed after the test) and a writer of `capacity` bytes (stopped after it). */
function pipeAndWriter(capacity = 1 << 20): { rd: number; wr: number; writer: RingWriter } {
  const fds = new Int32Array(2);
  expect(sys.pipe2(fds, O_CLOEXEC | O_NONBLOCK)).toBe(0);
  const [rd, wr] = [fds[0]!, fds[1]!];
  cleanups.push(() => {
    sys.close(rd);
    sys.close(wr);
  });
  const writer = new RingWriter(capacity);
  cleanups.push(() => writer.stop());
  return { rd, wr, writer };
}

describe('RingWriter', () => {
  it('writes on the calling thread until the worker is up, and a full fd hands the rest over in order', async () => {
    const { rd, wr, writer } = pipeAndWriter();

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

  it('batches flushed while the worker drains a full fd go to it, behind what it holds, in order', async () => {
    const { rd, wr, writer } = pipeAndWriter();
    let seq = 0;
    for (; seq < 150; seq++) writer.push(wr, packet(seq));
    writer.flush();
    const inlineBefore = writer.inline;
    // Nobody reads yet: the worker holds the rest and waits for room, so none of these may be
    // written here (they would overtake it).
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 5; i++) writer.push(wr, packet(seq++));
      writer.flush();
    }
    expect(writer.inline).toBe(inlineBefore);
    expect(await readPackets(rd, seq)).toEqual(Array.from({ length: seq }, (_, i) => i));
    // Drained: batches are written here again.
    await writer.settle();
    for (let i = 0; i < 5; i++) writer.push(wr, packet(seq + i));
    writer.flush();
    expect(writer.inline).toBe(inlineBefore + 5);
    expect(await readPackets(rd, 5)).toEqual([seq, seq + 1, seq + 2, seq + 3, seq + 4]);
    expect(await readPackets(rd, 1, 50)).toEqual([]); // nothing written twice
  });

  it('a data message sealed into the ring is sent byte for byte as the one sealed on its own', async () => {
    const rx = createSocket('udp4');
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => rx.close(() => resolve())));
    const fd = sys.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cleanups.push(() => void sys.close(fd));
    const sa = encodeSockaddrIn(new Uint8Array([127, 0, 0, 1]), rx.address().port);
    const writer = new RingWriter(1 << 20);
    cleanups.push(() => writer.stop());

    const key = new Uint8Array(32).map((_, i) => i * 3 + 1);
    const kp = new Keypair(key, new Uint8Array(32), true, 0, 1, 0x01020304);
    const mtu = 1420;
    // Full-size, padded, and empty (a keepalive) plaintexts; counters past 2^32 too.
    const plains = [new Uint8Array(mtu).map((_, i) => i), new Uint8Array(333).fill(7), new Uint8Array(0)];
    const counters = [0, 5, 2 ** 32 + 9];
    const expected: Uint8Array[] = [];
    for (const p of plains) {
      for (const c of counters) {
        expected.push(encryptData(kp, c, p, mtu).slice());
        const out = writer.reserve(fd, MESSAGE_DATA_OVERHEAD + paddedLength(p.length, mtu), sa);
        expect(out).not.toBeNull();
        sealDataInto(kp, c, p, out!);
      }
    }
    writer.flush();
    const end = Date.now() + 10_000;
    while (got.length < expected.length && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(expected.map((e) => Buffer.from(e).toString('hex')));
  });

  it('a small ring wrapping many times while batches go back and forth between this thread and the worker: all in order, once', async () => {
    const { rd, wr, writer } = pipeAndWriter(48 << 10); // a pipe's 64 KiB holds more than the ring
    const TOTAL = 3000;
    const got: number[] = [];
    const deadline = Date.now() + 40_000;
    // Read in bursts with pauses, so the pipe fills (the worker takes over) and empties (this thread again).
    const reader = (async () => {
      const buf = new Uint8Array(SIZE);
      while (got.length < TOTAL && Date.now() < deadline) {
        for (let i = 0; i < 40 && sys.read(rd, buf, SIZE) === SIZE; i++) got.push(new DataView(buf.buffer).getUint32(0));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let seq = 0; seq < TOTAL; ) {
      const n = 1 + (seq % 9);
      for (let i = 0; i < n && seq < TOTAL; i++) {
        while (!writer.push(wr, packet(seq))) {
          writer.flush();
          await writer.settle(100); // ring full: let the worker drain some
        }
        seq++;
      }
      writer.flush();
      if (seq % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await writer.settle();
    await reader;
    expect(got).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(writer.inline).toBeGreaterThan(0);
    expect(writer.inline).toBeLessThan(TOTAL); // the worker took part
  }, 60_000);
});
