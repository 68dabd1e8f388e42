import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../src/userspace-fallback/replay.js';
import { COUNTER_WINDOW_SIZE, REJECT_AFTER_MESSAGES, readCounter } from '../../src/userspace-fallback/messages.js';

// Numbered cases in the manner of the kernel's selftest/counter.c;
// T_LIM = window + 1. REJECT_AFTER_MESSAGES is this implementation's (see messages.ts).
const T_LIM = COUNTER_WINDOW_SIZE + 1;
const R = REJECT_AFTER_MESSAGES;
const table: [number, boolean][] = [
  [0, true], [1, true], [1, false], [9, true], [8, true], [7, true], [7, false],
  [T_LIM, true], [T_LIM - 1, true], [T_LIM - 1, false], [T_LIM - 2, true], [2, true], [2, false],
  [T_LIM + 16, true], [3, false], [T_LIM + 16, false], [T_LIM * 4, true], [T_LIM * 4 - (T_LIM - 1), true],
  [10, false], [T_LIM * 4 - T_LIM, false], [T_LIM * 4 - (T_LIM + 1), false], [T_LIM * 4 - (T_LIM - 2), true],
  [T_LIM * 4 + 1 - T_LIM, false], [0, false], [R, false], [R - 1, true], [R, false], [R - 1, false],
  [R - 2, true], [R + 1, false], [R + 2, false], [R - 2, false], [R - 3, true], [0, false],
];

describe('replay window', () => {
  it('edge table', () => {
    const w = new ReplayWindow();
    table.forEach(([c, ok], i) => expect([i + 1, w.validate(c)]).toEqual([i + 1, ok]));
  });
  it('bulk sweeps around the window', () => {
    const run = (f: (t: (c: number, ok: boolean) => void) => void) => {
      const w = new ReplayWindow();
      f((c, ok) => expect([c, w.validate(c)]).toEqual([c, ok]));
    };
    const W = COUNTER_WINDOW_SIZE;
    run((T) => { for (let i = 1; i <= W; i++) T(i, true); T(0, true); T(0, false); });
    run((T) => { for (let i = 2; i <= W + 1; i++) T(i, true); T(1, true); T(0, false); });
    run((T) => { for (let i = W + 1; i-- > 0; ) T(i, true); });
    run((T) => { for (let i = W + 2; i-- > 1; ) T(i, true); T(0, false); });
    run((T) => { for (let i = W + 1; i-- > 1; ) T(i, true); T(W + 1, true); T(0, false); });
    run((T) => { for (let i = W + 1; i-- > 1; ) T(i, true); T(0, true); T(W + 1, true); });
  });
  it('matches a naive set-based twin under seeded random input', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let greatest = -1;
    for (let i = 0; i < 20000; i++) {
      const c = Math.max(0, Math.floor(greatest + (rnd() - 0.7) * 3 * COUNTER_WINDOW_SIZE));
      const expectOk = !seen.has(c) && c + 1 + COUNTER_WINDOW_SIZE >= greatest + 1;
      expect(w.validate(c)).toBe(expectOk);
      if (expectOk) { seen.add(c); greatest = Math.max(greatest, c); }
    }
  });
  it('counters ≥ 2^53 read as −1 and are rejected', () => {
    const b = new Uint8Array(8).fill(0xff);
    expect(readCounter(b, 0)).toBe(-1);
    expect(new ReplayWindow().validate(-1)).toBe(false);
    b.set([1, 0, 0, 0, 1, 0, 0, 0]);
    expect(readCounter(b, 0)).toBe(2 ** 32 + 1);
  });
});
