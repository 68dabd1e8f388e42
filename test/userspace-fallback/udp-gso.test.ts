/**
 * RingWriter's UDP send paths (write-drain.ts) on loopback (nothing leaves the host's lo), on the
 * calling thread (the default while the worker has nothing in hand) and in the writer worker
 * (WGTS_INLINE_WRITES=0 hands it every batch): UDP GSO trains,
 * the plain path (GSO off, as WGTS_UDP_GSO=0 makes it), and a socket on which every GSO send fails
 * (SO_NO_CHECK: the kernel refuses UDP_SEGMENT without checksums, EINVAL), where each train must be
 * retried datagram by datagram. Datagrams of two destinations interleave in trains with a shorter
 * tail, as a TSO super-packet's sealed segments do; each destination must get every datagram, intact
 * and in order.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { AF_INET, AF_INET6, encodeSockaddrIn, encodeSockaddrIn6 } from '../../src/conf/sockaddr.js';
import { SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, int32, sys } from '../../src/system/libc.js';
import { acquireWriter, releaseWriter, type RingWriter } from '../../src/userspace-fallback/ring-writer.js';

/** SO_NO_CHECK (asm-generic/socket.h): send without UDP checksums, which UDP GSO refuses. */
const SO_NO_CHECK = 11;
const LOOPBACK = new Uint8Array([127, 0, 0, 1]);
const LOOPBACK6 = new Uint8Array(16);
LOOPBACK6[15] = 1;
type Family = 4 | 6;
const loopback = (family: Family, port: number): Uint8Array =>
  family === 4 ? encodeSockaddrIn(LOOPBACK, port) : encodeSockaddrIn6(LOOPBACK6, port, 0);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sender(noCheck = false, family: Family = 4): number {
  const fd = sys.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  cleanups.push(() => void sys.close(fd));
  if (noCheck) expect(sys.setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, int32(1), 4)).toBe(0);
  const sa = loopback(family, 0);
  expect(sys.bind(fd, sa, sa.length)).toBe(0);
  return fd;
}

interface Receiver { sock: Socket; sa: Uint8Array; got: Buffer[] }

async function receiver(family: Family = 4): Promise<Receiver> {
  const sock = createSocket({ type: family === 4 ? 'udp4' : 'udp6', recvBufferSize: 8 << 20 });
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => sock.bind(0, family === 4 ? '127.0.0.1' : '::1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  return { sock, sa: loopback(family, sock.address().port), got };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Datagram `seq` for a destination: its number, the length, and bytes derived from both. */
function datagram(seq: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  new DataView(p.buffer).setUint32(0, seq);
  for (let i = 4; i < len; i++) p[i] = (seq * 7 + i) & 0xff;
  return p;
}

/**
 * Sends `trainsEach` trains of 9 x 1400 + 1 x 500 bytes to each of two receivers, alternating, and
 * checks what arrived; returns the writer's counters.
 */
async function carry(writer: RingWriter, fd: number, trainsEach: number, family: Family = 4): Promise<{ trains: number; splits: number }> {
  const rx = [await receiver(family), await receiver(family)];
  const sent: number[][] = [[], []];
  for (let t = 0; t < trainsEach; t++) {
    for (let d = 0; d < 2; d++) {
      for (let s = 0; s < 10; s++) {
        const seq = sent[d]!.length;
        const len = s === 9 ? 500 : 1400;
        expect(writer.push(fd, datagram(seq, len), rx[d]!.sa)).toBe(true);
        sent[d]!.push(len);
      }
    }
    writer.flush();
    // Flow control: neither the ring nor the receivers' socket buffers may overflow (losses would
    // then be the test's, not the writer's).
    if (t % 5 === 4) {
      await writer.settle();
      await until(() => rx.every((r, d) => r.got.length >= sent[d]!.length));
    }
  }
  await until(() => rx.every((r, d) => r.got.length >= sent[d]!.length));
  for (let d = 0; d < 2; d++) {
    const got = rx[d]!.got;
    expect(got.length).toBe(sent[d]!.length);
    for (let seq = 0; seq < got.length; seq++) {
      const g = got[seq]!;
      if (g.length !== sent[d]![seq] || g.readUInt32BE(0) !== seq || !g.equals(datagram(seq, g.length))) {
        throw new Error(`destination ${d}: datagram ${seq} arrived wrong (length ${g.length}, number ${g.readUInt32BE(0)})`);
      }
    }
  }
  await writer.settle();
  return writer.udpCounters();
}

/**
 * The process's writer, with WGTS_UDP_GSO as asked (releasing the last user stops it, so each test
 * gets a fresh one). `inline`: the calling thread sends (the default). Otherwise WGTS_INLINE_WRITES=0
 * and the worker started (a worker takes a copy of the environment when it starts) and up: until it
 * is, flush() writes on the calling thread, and a test's datagrams could all go out that way on a
 * busy machine, past the worker's paths.
 */
async function startWriter(udpGso: boolean, inline: boolean): Promise<RingWriter> {
  const before = { gso: process.env.WGTS_UDP_GSO, inline: process.env.WGTS_INLINE_WRITES };
  if (udpGso) delete process.env.WGTS_UDP_GSO;
  else process.env.WGTS_UDP_GSO = '0';
  if (inline) delete process.env.WGTS_INLINE_WRITES;
  else process.env.WGTS_INLINE_WRITES = '0';
  const restore = (name: string, v: string | undefined): void => {
    if (v === undefined) delete process.env[name];
    else process.env[name] = v;
  };
  const w = acquireWriter();
  cleanups.push(async () => {
    await releaseWriter(w);
    restore('WGTS_UDP_GSO', before.gso);
    restore('WGTS_INLINE_WRITES', before.inline);
  });
  if (inline) return w;
  // A batch of two starts the worker; they go to a receiver of their own (the second longer, so
  // the pair is no train for the counters).
  const fd = sender();
  const sink = await receiver();
  w.push(fd, datagram(0, 100), sink.sa);
  w.push(fd, datagram(1, 200), sink.sa);
  w.flush();
  await until(() => w.workerReady);
  return w;
}

describe.each([
  ['on the calling thread', true],
  ['in the writer worker (WGTS_INLINE_WRITES=0)', false],
])('UDP sends %s', (_name, inline) => {
  it('UDP GSO: trains of equal datagrams with a shorter tail arrive intact and in order', async () => {
    const c = await carry(await startWriter(true, inline), sender(), 200);
    expect(c.trains).toBeGreaterThan(0);
    expect(c.splits).toBe(0);
  }, 60_000);

  it('UDP GSO over IPv6', async () => {
    const c = await carry(await startWriter(true, inline), sender(false, 6), 100, 6);
    expect(c.trains).toBeGreaterThan(0);
    expect(c.splits).toBe(0);
  }, 60_000);

  it('GSO off (WGTS_UDP_GSO=0): the same datagrams, one by one in sendmmsg batches', async () => {
    const c = await carry(await startWriter(false, inline), sender(), 200);
    expect(c).toEqual({ trains: 0, splits: 0 });
  }, 60_000);

  it('a socket refusing GSO sends (EINVAL): the train goes out datagram by datagram, nothing lost', async () => {
    const c = await carry(await startWriter(true, inline), sender(true), 50);
    expect(c.splits).toBeGreaterThan(0);
    expect(c.trains).toBe(0);
    // The socket's largest segment size drops below the failed one: not every one of the 100 trains
    // fails first (only those already staged with the first).
    expect(c.splits).toBeLessThan(30);
  }, 60_000);

  it('a lone datagram goes out at once', async () => {
    const w = await startWriter(true, inline);
    const fd = sender();
    const rx = await receiver();
    for (let i = 0; i < 3; i++) {
      w.push(fd, datagram(i, 148), rx.sa);
      w.flush();
      await until(() => rx.got.length === i + 1, 5000);
    }
    expect(rx.got.map((g) => g.readUInt32BE(0))).toEqual([0, 1, 2]);
  }, 30_000);
});
