/**
 * The handshake lane's gate (reader-burst.ts sort()): what a flood from one host leaves for another
 * host's first initiation. Driven on the lane's own buffers, no sockets: the admission policy alone.
 */
import { describe, expect, it } from 'vitest';
import { mac } from '../../src/crypto/primitives.js';
import { mac1Key } from '../../src/userspace-fallback/cookie.js';
import { openSource, sort, toLane, type Lane } from '../../src/userspace-fallback/reader-burst.js';
import { GATE_BYTES, GATE_HS_DROPPED, GATE_KEY_OFFSET, GATE_KEY_SET, GATE_MAC1_FAILED } from '../../src/userspace-fallback/reader-spec.js';
import { Ctrl, newRing } from '../../src/userspace-fallback/ring.js';
import { encodeSockaddrIn } from '../../src/conf/sockaddr.js';
import { PACKETS_BURSTABLE } from '../../src/userspace-fallback/ratelimiter.js';

const ourPublic = new Uint8Array(32).fill(9);

function lane(): Lane {
  const data = newRing(1 << 16);
  const hs = newRing(1 << 20);
  const gateSab = new SharedArrayBuffer(GATE_BYTES);
  new Uint8Array(gateSab, GATE_KEY_OFFSET, 32).set(mac1Key(ourPublic));
  Atomics.store(new Int32Array(gateSab), GATE_KEY_SET, 1);
  const s = openSource(
    { fds: [], ...data, maxPacket: 1500, withAddr: true, batch: 32, linkFd: undefined, handshakes: { ...hs, gateSab } },
    () => undefined,
  );
  return s.lane!;
}

/** A fresh initiation (no mac2) with a valid mac1, its content varied by `n`. */
function initiation(n: number): Uint8Array {
  const m = new Uint8Array(148).fill(n & 0xff);
  m.set([1, 0, 0, 0]);
  m.set(mac(mac1Key(ourPublic), m.subarray(0, 116)), 116);
  m.fill(0, 132);
  return m;
}

const flooder = encodeSockaddrIn(new Uint8Array([10, 98, 1, 2]), 40000);
const newcomer = encodeSockaddrIn(new Uint8Array([10, 0, 0, 2]), 51820);

/** Offers datagrams to the gate as the reader does, queueing what it admits; counts the verdicts. */
function offer(l: Lane, sa: Uint8Array, count: number, from = 0): { handshake: number; drop: number } {
  const n = { handshake: 0, drop: 0 };
  for (let i = 0; i < count; i++) {
    const p = initiation(from + i);
    const where = sort(l, p, sa);
    if (where === 'handshake') toLane(l, sa, p);
    n[where === 'handshake' ? 'handshake' : 'drop']++;
  }
  return n;
}

describe('handshake lane admission', () => {
  it('a flooding host fills the lane to the load mark, then gets its rate; another host still gets in', () => {
    const l = lane();
    // Until the lane is 1/8 full nothing is limited: a burst of many peers behind one address passes.
    const first = offer(l, flooder, 600);
    expect(first).toEqual({ handshake: 600, drop: 0 });
    // Past the mark the flooding host gets its burst and then nothing more, though the lane has room.
    const more = offer(l, flooder, 2000, 600);
    expect(more.handshake).toBeLessThanOrEqual(200 + PACKETS_BURSTABLE); // the mark (~712 records), then the burst
    expect(more.drop).toBeGreaterThan(1700);
    expect(Atomics.load(l.gate, GATE_HS_DROPPED)).toBe(more.drop);
    // The newcomer's first initiation is let in: it will get its cookie reply.
    expect(sort(l, initiation(7), newcomer)).toBe('handshake');
    // The main thread empties the lane; the flood goes on and is still held to its rate (a source
    // over its rate keeps the load on), while the lane stays short.
    Atomics.store(l.ctrl, Ctrl.R, Atomics.load(l.ctrl, Ctrl.W));
    expect(offer(l, flooder, 100, 5000).handshake).toBeLessThanOrEqual(1);
    // A bad mac1 is refused before any of this, and costs no source its tokens.
    const bad = initiation(1);
    bad[116]! ^= 1;
    expect(sort(l, bad, newcomer)).toBe('drop');
    expect(Atomics.load(l.gate, GATE_MAC1_FAILED)).toBe(1);
  });

  it('a lane that never reaches the load mark limits no one', () => {
    const l = lane();
    for (let round = 0; round < 20; round++) {
      expect(offer(l, flooder, 300, round * 300)).toEqual({ handshake: 300, drop: 0 });
      Atomics.store(l.ctrl, Ctrl.R, Atomics.load(l.ctrl, Ctrl.W)); // the main thread keeps up
    }
  });
});
