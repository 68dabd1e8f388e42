/**
 * The shared ring layout (src/userspace-fallback/ring.ts) driven from one thread as producer and
 * consumer: records cross the end of the buffer intact, a full ring refuses records without ever
 * looking empty, and a producer waiting for room leaves once the consumer sets STOP.
 */
import { describe, expect, it } from 'vitest';
import { Ctrl, LEN_BYTES, WRAP, newRing, nextOffset, release, reserve, reserveBlocking, used } from '../../src/userspace-fallback/ring.js';

const HDR = LEN_BYTES;

function ring(capacity: number) {
  const { sab, ctrlSab } = newRing(capacity);
  const dv = new DataView(sab);
  const data = new Uint8Array(sab);
  const ctrl = new Int32Array(ctrlSab);
  let w = 0;
  return {
    dv, ctrl,
    /** Producer: writes one record, false when full. */
    put(payload: Uint8Array): boolean {
      const at = reserve(dv, w, Atomics.load(ctrl, Ctrl.R), HDR + payload.length + 3);
      if (at === -1) return false;
      dv.setInt32(at, payload.length, true);
      data.set(payload, at + HDR);
      w = nextOffset(at, HDR, payload.length);
      Atomics.store(ctrl, Ctrl.W, w);
      return true;
    },
    /** Consumer: takes up to `max` records. */
    take(max = Infinity): Uint8Array[] {
      const out: Uint8Array[] = [];
      let r = ctrl[Ctrl.R]!;
      const end = Atomics.load(ctrl, Ctrl.W);
      while (r !== end && out.length < max) {
        const len = dv.getInt32(r, true);
        if (len === WRAP) {
          r = 0;
          continue;
        }
        out.push(data.slice(r + HDR, r + HDR + len));
        r = nextOffset(r, HDR, len);
      }
      release(ctrl, r);
      return out;
    },
    get w() {
      return w;
    },
  };
}

const packet = (seq: number, len: number) => Uint8Array.from({ length: len }, (_, i) => (seq * 7 + i) & 0xff);

describe('ring', () => {
  it('carries records of varied sizes across many wrap-arounds, in order and intact', () => {
    const rg = ring(1024);
    let sent = 0;
    let received = 0;
    let wraps = 0;
    while (received < 2000) {
      const before = rg.w;
      // Uneven sizes (not multiples of 4) so the alignment padding is exercised too.
      while (rg.put(packet(sent, 1 + ((sent * 37) % 150)))) {
        sent++;
        if (rg.w < before) wraps++;
      }
      for (const p of rg.take(3)) {
        expect(p).toEqual(packet(received, 1 + ((received * 37) % 150)));
        received++;
      }
    }
    expect(wraps).toBeGreaterThan(50);
  });

  it('refuses a record when full, never letting W catch up with R, and accepts again once space is freed', () => {
    const rg = ring(256);
    let n = 0;
    while (rg.put(packet(n, 40))) n++;
    expect(n).toBeGreaterThan(0);
    expect(n).toBe(5); // 5 records of 44 bytes; a sixth would leave no room for the wrap marker
    expect(rg.put(packet(n, 40))).toBe(false);
    const w = Atomics.load(rg.ctrl, Ctrl.W);
    expect(w).not.toBe(Atomics.load(rg.ctrl, Ctrl.R)); // full does not read as empty
    expect(used(rg.dv, w, Atomics.load(rg.ctrl, Ctrl.R))).toBeGreaterThan(256 - 2 * 48);
    expect(rg.take(2)).toHaveLength(2);
    expect(rg.put(packet(99, 40))).toBe(true);
  });

  it('wraps only when the reader has left room at the start', () => {
    const rg = ring(256);
    while (rg.put(packet(0, 40)));
    // R is still 0: wrapping would make W equal R, so the producer must refuse instead.
    expect(reserve(rg.dv, rg.w, 0, 48)).toBe(-1);
    rg.take(2);
    expect(reserve(rg.dv, rg.w, Atomics.load(rg.ctrl, Ctrl.R), 48)).toBe(0);
    expect(rg.dv.getInt32(rg.w, true)).toBe(WRAP);
  });

  it('an empty ring past its middle starts again at the head, so light traffic keeps to the first half', () => {
    const rg = ring(4096);
    let maxW = 0;
    for (let i = 0; i < 1000; i++) {
      expect(rg.put(packet(i, 100))).toBe(true);
      maxW = Math.max(maxW, rg.w);
      expect(rg.take()).toEqual([packet(i, 100)]); // one record at a time: the ring is empty before each put
    }
    expect(maxW).toBeLessThanOrEqual(2048 + 108);
    // Before the middle an empty ring goes on where it is (the space behind R is not all it gets).
    expect(reserve(rg.dv, 1000, 1000, 108)).toBe(1000);
    expect(reserve(rg.dv, 2048, 2048, 108)).toBe(0);
  });

  it('a ring sent back to the head from past its middle reads as holding its new records only', () => {
    const rg = ring(4096);
    while (rg.w < 2048) {
      rg.put(packet(0, 100));
      rg.take();
    }
    const r = Atomics.load(rg.ctrl, Ctrl.R);
    expect(r).toBe(rg.w); // empty, past the middle
    expect(rg.put(packet(1, 100))).toBe(true); // back at the head; the consumer has not seen the marker yet
    expect(Atomics.load(rg.ctrl, Ctrl.R)).toBe(r);
    expect(used(rg.dv, rg.w, r)).toBe(rg.w);
    expect(used(rg.dv, rg.w, r)).toBeLessThan(120);
    expect(rg.take()).toEqual([packet(1, 100)]);
  });

  it('a producer waiting for room leaves with -1 once STOP is set', () => {
    const rg = ring(256);
    while (rg.put(packet(0, 40)));
    let waits = 0;
    const at = reserveBlocking(rg.ctrl, rg.dv, rg.w, 48, () => {
      // The consumer stops the source while the producer waits (here: during its first wait slice).
      if (++waits === 1) Atomics.store(rg.ctrl, Ctrl.STOP, 1);
    }, 5);
    expect(at).toBe(-1);
    expect(waits).toBe(1);
  });

  it('a producer waiting for room resumes when the consumer frees some', () => {
    const rg = ring(256);
    while (rg.put(packet(0, 40)));
    const at = reserveBlocking(rg.ctrl, rg.dv, rg.w, 48, () => void rg.take(2), 5);
    expect(at).toBeGreaterThanOrEqual(0);
  });
});
