/**
 * UdpBind over real sockets on loopback (no namespace needed: nothing leaves the host's lo), and
 * the sockaddr <-> endpoint conversions. Also exercises the worker rings (ring-reader.ts, ring-writer.ts): receive
 * and send bursts large enough to wrap the 4 MiB rings several times, checked for order and content,
 * and the sharing of one reader and one writer thread by every bind of the process.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { WgEndpoint } from '../../src/conf/model.js';
import { UdpBind, endpointOf, sockaddrOf, type UdpBindOptions } from '../../src/userspace-fallback/udp.js';
import { mac1Key } from '../../src/userspace-fallback/cookie.js';
import { mac } from '../../src/crypto/primitives.js';
import { missedWakeups, readerWorkerRunning, ringStates } from '../../src/userspace-fallback/ring-reader.js';

const binds: UdpBind[] = [];
function bind(opts?: UdpBindOptions): UdpBind {
  const b = new UdpBind(opts);
  binds.push(b);
  return b;
}
afterEach(async () => {
  await Promise.all(binds.splice(0).map((b) => b.close()));
});

/** This process's I/O worker threads, by the names they give themselves (reader-worker.ts, writer-worker.ts). */
function ioThreads(): { rx: number; tx: number } {
  const names = readdirSync('/proc/self/task').map((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'latin1').trim();
    } catch {
      return ''; // ended meanwhile
    }
  });
  return { rx: names.filter((n) => n === 'wgts-rx').length, tx: names.filter((n) => n === 'wgts-tx').length };
}

/**
 * Waits until `cond()` holds, polling every 5 ms, or fails after `ms` with `state()` and the rings'
 * control words in the message (a stall then says which side waits for what).
 */
async function until(cond: () => boolean, ms = 5000, state: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) {
      throw new Error(`timed out: ${state()} reader rings ${JSON.stringify(ringStates())}, missed wake-ups ${missedWakeups}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('sockaddr conversions', () => {
  const cases: Array<[WgEndpoint, WgEndpoint]> = [
    [{ family: 4, host: '192.0.2.1', port: 51820 }, { family: 4, host: '192.0.2.1', port: 51820 }],
    [{ family: 6, host: '2001:db8::1', port: 1 }, { family: 6, host: '2001:db8::1', port: 1 }],
    [{ family: 6, host: '::ffff:10.0.0.1', port: 65535 }, { family: 4, host: '10.0.0.1', port: 65535 }],
    [{ family: 6, host: 'fe80::1%1', port: 9 }, { family: 6, host: 'fe80::1%lo', port: 9 }],
  ];
  it.each(cases)('%o round-trips to %o', (ep, back) => {
    const sa = sockaddrOf(ep);
    expect(sa).not.toBeNull();
    expect(endpointOf(sa!.sa)).toEqual(back);
  });
  it('rejects names', () => {
    expect(sockaddrOf({ family: 4, host: 'example.com', port: 1 })).toBeNull();
  });
});

describe('UdpBind', () => {
  it('binds IPv4 and IPv6 on the same random port and receives from both, v4-mapped sent over IPv4', async () => {
    const a = bind();
    const b = bind();
    const pa = await a.open(0);
    const pb = await b.open(0);
    expect(pa).toBeGreaterThan(0);
    const got: string[] = [];
    b.onReceive((p, from) => got.push(`${Buffer.from(p).toString()} ${from.host}:${from.port}`));
    a.send([Buffer.from('four')], { family: 4, host: '127.0.0.1', port: pb });
    a.send([Buffer.from('six')], { family: 6, host: '::1', port: pb });
    a.send([Buffer.from('mapped')], { family: 6, host: '::ffff:127.0.0.1', port: pb });
    await until(() => got.length === 3);
    expect(got.sort()).toEqual([`four 127.0.0.1:${pa}`, `mapped 127.0.0.1:${pa}`, `six ::1:${pa}`]);
  });

  it('reports EADDRINUSE and keeps its old sockets', async () => {
    const a = bind();
    const b = bind();
    const pa = await a.open(0);
    const pb = await b.open(0);
    await expect(b.open(pa)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(b.listenPort).toBe(pb);
    let got = 0;
    b.onReceive(() => got++);
    a.send([new Uint8Array(8)], { family: 4, host: '127.0.0.1', port: pb });
    await until(() => got === 1);
  });

  it('sets and clears SO_MARK', async () => {
    const a = bind();
    await a.open(0);
    await a.setMark(51820);
    await a.setMark(0);
  });

  it('reads light traffic on the main thread; under traffic one reader thread serves every bind (the writer needs no thread of its own until a socket is full), and closing or re-binding one leaves the others running', async () => {
    const a = bind();
    const b = bind();
    const c = bind();
    await a.open(0);
    const pb = await b.open(0);
    await c.open(0);
    let got = 0;
    b.onReceive(() => got++);
    // A lone datagram: read by the main thread's idle poll (idle-poll.ts), no worker started, and
    // none written by one either (a lone datagram is sent inline, see RingWriter.flush).
    a.send([new Uint8Array(8)], { family: 4, host: '127.0.0.1', port: pb });
    await until(() => got === 1);
    expect(ioThreads()).toEqual({ rx: 0, tx: 0 });
    expect(readerWorkerRunning()).toBe(false);
    // Traffic (bursts past the idle poll's limits): the reader worker takes over. Loopback may
    // drop some of a burst this size, so only the thread is waited for.
    for (let i = 0; i < 40 && ioThreads().rx === 0; i++) {
      a.send(Array.from({ length: 64 }, () => new Uint8Array(8)), { family: 4, host: '127.0.0.1', port: pb });
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => ioThreads().rx === 1);
    expect(readerWorkerRunning()).toBe(true);
    const before = got;
    await c.close();
    a.send([new Uint8Array(8)], { family: 4, host: '127.0.0.1', port: pb });
    await until(() => got > before);
    const pb2 = await b.open(0); // a new random port: b's ring leaves the reader and joins again
    expect(pb2).not.toBe(pb);
    const after = got;
    a.send([new Uint8Array(8)], { family: 4, host: '127.0.0.1', port: pb2 });
    await until(() => got === after + 1);
    expect(ioThreads().rx).toBe(1);
    expect(ioThreads().tx).toBeLessThanOrEqual(1); // one writer thread at most, if a socket was ever full
    await Promise.all([a.close(), b.close()]);
    await until(() => ioThreads().rx === 0 && ioThreads().tx === 0);
    expect(readerWorkerRunning()).toBe(false);
  });

  it("a device's bind sorts before the ring: data and valid-mac1 handshakes through, junk and bad mac1 dropped and counted", async () => {
    const a = bind();
    const b = bind({ handshakeLane: true });
    await a.open(0);
    const pb = await b.open(0);
    const ourPublic = new Uint8Array(32).fill(9);
    b.setMac1Key(mac1Key(ourPublic));
    const got: string[] = [];
    b.onReceive((p) => got.push(`${p[0]}:${p.length}`));
    const initiation = (valid: boolean): Uint8Array => {
      const m = new Uint8Array(148).fill(7);
      m.set([1, 0, 0, 0]);
      m.set(mac(mac1Key(valid ? ourPublic : new Uint8Array(32)), m.subarray(0, 116)), 116);
      m.fill(0, 132);
      return m;
    };
    const data = new Uint8Array(48);
    data.set([4, 0, 0, 0]);
    const to = { family: 4 as const, host: '127.0.0.1', port: pb };
    a.send([initiation(false)], to); // bad mac1
    a.send([new Uint8Array([1, 0, 0, 0, 5])], to); // initiation type, wrong size: junk
    a.send([new Uint8Array([9, 9, 9])], to); // junk
    a.send([initiation(true)], to);
    a.send([data], to);
    await until(() => got.length === 2);
    expect(got.sort()).toEqual(['1:148', '4:48']);
    expect(b.gateCounters()).toEqual({ mac1Failed: 1, handshakesDropped: 0, junk: 2 });
    // Without a key every handshake fails mac1 (a device with no private key answers none).
    b.setMac1Key(null);
    a.send([initiation(true)], to);
    await until(() => b.gateCounters()!.mac1Failed === 2);
  });

  it('moves 30k datagrams in order and intact through the worker rings (several wraps)', async () => {
    const a = bind();
    const b = bind();
    await a.open(0);
    const pb = await b.open(0);
    const seen: number[] = [];
    let corrupt = 0;
    b.onReceive((p) => {
      const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
      const seq = dv.getUint32(0);
      if (p.length !== 1400 || p[1399] !== (seq & 0xff)) corrupt++;
      seen.push(seq);
    });
    const ep: WgEndpoint = { family: 4, host: '127.0.0.1', port: pb };
    const N = 30_000;
    const progress = (): string => `received ${seen.length}, last ${seen.at(-1)}, send errors ${a.sendErrors};`;
    for (let i = 0; i < N; i += 100) {
      const batch: Uint8Array[] = [];
      for (let j = i; j < i + 100; j++) {
        const p = new Uint8Array(1400);
        new DataView(p.buffer).setUint32(0, j);
        p[1399] = j & 0xff;
        batch.push(p);
      }
      a.send(batch, ep);
      // Flow control: keep at most ~1000 datagrams in flight, so neither the send ring nor the
      // receiving socket buffer overflows; losses would then be loopback's, not the rings'. (With
      // 2000, GSO trains from the writer and three such runs on two cores lost 5 % on loopback.)
      if (i % 500 === 0) await until(() => (seen.at(-1) ?? 0) >= i - 1000, 10_000, progress);
    }
    await until(() => (seen.at(-1) ?? 0) >= N - 100, 10_000, progress);
    expect(seen.length).toBeGreaterThan(N * 0.95);
    expect(corrupt).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  }, 30_000);

  it('a lone datagram sent while a batch is still queued does not overtake it', async () => {
    const a = bind();
    const b = bind();
    await a.open(0);
    const pb = await b.open(0);
    const seen: number[] = [];
    b.onReceive((p) => seen.push(new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0)));
    const ep: WgEndpoint = { family: 4, host: '127.0.0.1', port: pb };
    const datagram = (seq: number): Uint8Array => {
      const p = new Uint8Array(1200);
      new DataView(p.buffer).setUint32(0, seq);
      return p;
    };
    let seq = 0;
    for (let round = 0; round < 20; round++) {
      // A batch goes to the writer worker; the lone datagrams right after it must queue behind it,
      // while the ones after a pause (worker asleep, ring empty) go out on this thread.
      a.send(Array.from({ length: 200 }, () => datagram(seq++)), ep);
      for (let i = 0; i < 20; i++) a.send([datagram(seq++)], ep);
      await until(() => seen.length === seq, 5000, () => `received ${seen.length} of ${seq} (first out of place: ${seen.findIndex((v, i) => v !== i)}), send errors ${a.sendErrors};`);
    }
    for (let i = 0; i < seen.length; i++) expect(seen[i]).toBe(i);
  }, 30_000);
});
