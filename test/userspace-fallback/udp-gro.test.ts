/**
 * Receiving UDP GSO trains on sockets with UDP_GRO (udp(7)) on loopback (nothing leaves the host's
 * lo): the kernel hands a train up as one buffer with its segment size in a control message, and it
 * must come back apart as exactly the datagrams that were sent. First the pure split, then
 * DatagramBatch reading the control message, then UdpBind end to end (the reader worker splits
 * before its ring) over IPv4 and IPv6, with GRO and with WGTS_UDP_GRO=0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WgEndpoint } from '../../src/conf/model.js';
import { AF_INET, AF_INET6, encodeSockaddrIn, encodeSockaddrIn6 } from '../../src/conf/sockaddr.js';
import {
  DatagramBatch, MSG_DONTWAIT, POLLFD_BYTES, POLLIN, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_UDP,
  SendBatch, UDP_GRO, int32, sys,
} from '../../src/system/libc.js';
import { splitCoalesced } from '../../src/userspace-fallback/udp-gro.js';
import { UdpBind } from '../../src/userspace-fallback/udp.js';

type Family = 4 | 6;
const LOOPBACK = new Uint8Array([127, 0, 0, 1]);
const LOOPBACK6 = new Uint8Array(16);
LOOPBACK6[15] = 1;
const loopback = (family: Family, port: number): Uint8Array =>
  family === 4 ? encodeSockaddrIn(LOOPBACK, port) : encodeSockaddrIn6(LOOPBACK6, port, 0);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function socket(family: Family, gro = false): { fd: number; port: number } {
  const fd = sys.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  cleanups.push(() => void sys.close(fd));
  if (gro) expect(sys.setsockopt(fd, SOL_UDP, UDP_GRO, int32(1), 4)).toBe(0);
  const sa = loopback(family, 0);
  expect(sys.bind(fd, sa, sa.length)).toBe(0);
  const out = new Uint8Array(28);
  expect(sys.getsockname(fd, out, new Uint32Array([28]))).toBe(0);
  return { fd, port: new DataView(out.buffer).getUint16(2, false) };
}

/** Datagram `seq` of sender `from`: both numbers, then bytes derived from them and the length. */
function datagram(from: number, seq: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  const dv = new DataView(p.buffer);
  dv.setUint32(0, from);
  dv.setUint32(4, seq);
  for (let i = 8; i < len; i++) p[i] = (from * 31 + seq * 7 + i) & 0xff;
  return p;
}

/** A train as the writer worker sends it: 9 x 1400 bytes and a 500-byte tail, one UDP GSO send. */
const TRAIN = [1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 500];

function sendTrain(batch: SendBatch, fd: number, to: Uint8Array, from: number, firstSeq: number): void {
  let off = 0;
  TRAIN.forEach((len, k) => {
    batch.data.set(datagram(from, firstSeq + k, len), off);
    off += len;
  });
  batch.setMessage(0, 0, off, to, TRAIN[0]!);
  expect(batch.send(fd, 0, 1, 0)).toBe(1);
}

function waitReadable(fd: number): void {
  const pfd = new Uint8Array(POLLFD_BYTES);
  const pv = new DataView(pfd.buffer);
  pv.setInt32(0, fd, true);
  pv.setInt16(4, POLLIN, true);
  expect(sys.poll(pfd, 1, 5000)).toBe(1);
}

describe('splitCoalesced', () => {
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i & 0xff);
  it('cuts every gso_size bytes, the last shorter', () => {
    const p = bytes(3 * 1400 + 500);
    const parts = splitCoalesced(p, 1400);
    expect(parts.map((x) => x.length)).toEqual([1400, 1400, 1400, 500]);
    expect(Buffer.concat(parts).equals(Buffer.from(p))).toBe(true);
    expect(parts[1]!.buffer).toBe(p.buffer); // views, not copies
  });
  it('an exact multiple has no short tail', () => {
    expect(splitCoalesced(bytes(4 * 1452), 1452).map((x) => x.length)).toEqual([1452, 1452, 1452, 1452]);
  });
  it('no segment size, or one as large as the payload: the payload as it is', () => {
    const p = bytes(1000);
    for (const gso of [0, -1, 1000, 5000, Number.NaN]) {
      const parts = splitCoalesced(p, gso);
      expect(parts).toHaveLength(1);
      expect(parts[0]).toBe(p);
    }
  });
  it('segments of one byte', () => {
    expect(splitCoalesced(bytes(5), 1).map((x) => [...x])).toEqual([[0], [1], [2], [3], [4]]);
  });
});

describe('DatagramBatch with control messages', () => {
  it.each([4, 6] as const)('IPv%i: a GSO train reaches a UDP_GRO socket as one buffer with its segment size', (family) => {
    const rx = socket(family, true);
    const tx = socket(family);
    sendTrain(new SendBatch(1, 1 << 16), tx.fd, loopback(family, rx.port), 1, 0);
    waitReadable(rx.fd);
    const batch = new DatagramBatch(4, 1 << 16, 64);
    expect(batch.receive(rx.fd, 4)).toBe(1);
    expect(batch.groSize(0)).toBe(1400);
    const parts = splitCoalesced(batch.payload(0), batch.groSize(0));
    expect(parts.map((p) => p.length)).toEqual(TRAIN);
    parts.forEach((p, k) => expect(Buffer.from(p).equals(Buffer.from(datagram(1, k, TRAIN[k]!)))).toBe(true));
    expect(new DataView(batch.source(0).buffer, batch.source(0).byteOffset).getUint16(2, false)).toBe(tx.port);
  });

  it('without UDP_GRO the kernel cuts the train itself and no datagram carries a segment size', () => {
    const rx = socket(4);
    const tx = socket(4);
    sendTrain(new SendBatch(1, 1 << 16), tx.fd, loopback(4, rx.port), 1, 0);
    waitReadable(rx.fd);
    const batch = new DatagramBatch(16, 2048, 64);
    expect(batch.receive(rx.fd, 16)).toBe(TRAIN.length);
    for (let k = 0; k < TRAIN.length; k++) {
      expect(batch.groSize(k)).toBe(0);
      expect(Buffer.from(batch.payload(k)).equals(Buffer.from(datagram(1, k, TRAIN[k]!)))).toBe(true);
    }
    // A batch without a control area (the registry's) reads the same and never reports one.
    sendTrain(new SendBatch(1, 1 << 16), tx.fd, loopback(4, rx.port), 1, 0);
    waitReadable(rx.fd);
    const plain = new DatagramBatch(16, 2048);
    expect(plain.receive(rx.fd, 16)).toBe(TRAIN.length);
    expect(plain.groSize(0)).toBe(0);
    expect(plain.payload(9).length).toBe(500);
  });

  it('each receive sees its own datagrams whatever earlier ones left in the headers (only those the kernel filled are reset)', () => {
    const rx = socket(4, true);
    const txs = [socket(4), socket(4), socket(4)];
    const portOf = (batch: DatagramBatch, k: number): number =>
      new DataView(batch.source(k).buffer, batch.source(k).byteOffset).getUint16(2, false);
    const plain = (sends: Array<[number, number]>): void => {
      for (const [t, len] of sends) {
        const p = datagram(t, len, len);
        const to = loopback(4, rx.port);
        expect(sys.sendto(txs[t]!.fd, p, p.length, 0, to, to.length)).toBe(len);
      }
      waitReadable(rx.fd);
    };
    const batch = new DatagramBatch(4, 1 << 16, 64);
    // A coalesced train: a control message and a long payload in header 0.
    sendTrain(new SendBatch(1, 1 << 16), txs[0]!.fd, loopback(4, rx.port), 1, 0);
    waitReadable(rx.fd);
    expect(batch.receive(rx.fd, 4)).toBe(1);
    expect(batch.groSize(0)).toBe(1400);
    // Then plain datagrams from other senders, more than the last receive filled, and fewer.
    for (const round of [[[1, 100], [2, 200], [1, 300]], [[2, 40]], [[0, 60], [1, 70], [2, 80], [0, 90]]] as Array<Array<[number, number]>>) {
      plain(round);
      expect(batch.receive(rx.fd, 4)).toBe(round.length);
      round.forEach(([t, len], k) => {
        expect(batch.groSize(k)).toBe(0);
        expect(portOf(batch, k)).toBe(txs[t]!.port);
        expect(Buffer.from(batch.payload(k)).equals(Buffer.from(datagram(t, len, len)))).toBe(true);
      });
      expect(batch.receive(rx.fd, 4)).toBe(-1); // empty now (EAGAIN)
    }
    // A train again: header 0 must have its control room back (the kernel set it to 0 meanwhile).
    sendTrain(new SendBatch(1, 1 << 16), txs[0]!.fd, loopback(4, rx.port), 1, 0);
    waitReadable(rx.fd);
    expect(batch.receive(rx.fd, 4)).toBe(1);
    expect(batch.groSize(0)).toBe(1400);
    expect(batch.payload(0).length).toBe(9 * 1400 + 500);
  });
});

describe('UdpBind receiving GSO trains', () => {
  /**
   * Two senders per family send `trains` trains each, alternating, to one bind; every datagram must
   * arrive once, intact, in each sender's order, from that sender's address.
   */
  async function carry(family: Family, trains: number, gro: boolean): Promise<void> {
    const before = process.env.WGTS_UDP_GRO;
    if (gro) delete process.env.WGTS_UDP_GRO;
    else process.env.WGTS_UDP_GRO = '0';
    const bind = new UdpBind();
    cleanups.push(() => bind.close());
    let port: number;
    try {
      port = await bind.open(0);
    } finally {
      if (before === undefined) delete process.env.WGTS_UDP_GRO;
      else process.env.WGTS_UDP_GRO = before;
    }
    const senders = [socket(family), socket(family)];
    const host = family === 4 ? '127.0.0.1' : '::1';
    const got: Array<Array<{ p: Buffer; from: WgEndpoint }>> = [[], []];
    bind.onReceive((packet, from) => {
      const who = new DataView(packet.buffer, packet.byteOffset).getUint32(0);
      got[who]?.push({ p: Buffer.from(packet), from });
    });
    const batch = new SendBatch(1, 1 << 16);
    const to = loopback(family, port);
    for (let t = 0; t < trains; t++) {
      for (let s = 0; s < 2; s++) sendTrain(batch, senders[s]!.fd, to, s, t * TRAIN.length);
      // Flow control: the receiving socket buffer must not overflow (a loss would be the test's).
      if (t % 10 === 9) await until(() => got.every((g) => g.length >= (t + 1) * TRAIN.length));
    }
    await until(() => got.every((g) => g.length >= trains * TRAIN.length));
    for (let s = 0; s < 2; s++) {
      expect(got[s]).toHaveLength(trains * TRAIN.length);
      got[s]!.forEach(({ p, from }, seq) => {
        const len = TRAIN[seq % TRAIN.length]!;
        if (!p.equals(Buffer.from(datagram(s, seq, len)))) throw new Error(`sender ${s}: datagram ${seq} arrived wrong (length ${p.length})`);
        if (from.host !== host || from.port !== senders[s]!.port) throw new Error(`sender ${s}: datagram ${seq} from ${from.host}:${from.port}`);
      });
    }
  }

  async function until(cond: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('IPv4 with UDP_GRO: every datagram intact, in order, from its sender', () => carry(4, 100, true), 60_000);
  it('IPv6 with UDP_GRO', () => carry(6, 100, true), 60_000);
  it('WGTS_UDP_GRO=0: the same datagrams, cut by the kernel', () => carry(4, 100, false), 60_000);
});
