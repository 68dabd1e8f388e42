import { describe, expect, it } from 'vitest';
import { nativeCopier } from '../../src/system/native-copy.js';

describe('nativeCopier', () => {
  const copy = nativeCopier();
  const filled = (n: number, seed: number, shared = false) => {
    const b = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  };

  it('copies as set() does, short and long, between shared and ordinary memory, at odd offsets', () => {
    for (const len of [0, 1, 255, 256, 1397, 4096]) {
      for (const [srcShared, dstShared] of [[true, false], [false, true], [true, true], [false, false]] as const) {
        const src = filled(len + 11, len, srcShared).subarray(3, 3 + len);
        const dst = filled(len + 40, 7, dstShared);
        const want = Uint8Array.from(dst);
        want.set(src, 5);
        copy(dst, 5, src);
        expect(Array.from(dst)).toEqual(Array.from(want));
      }
    }
  });

  it('moves overlapping bytes within one buffer as memmove does', () => {
    const b = filled(2048, 1, true);
    const want = Uint8Array.from(b);
    want.set(want.subarray(0, 1500), 100);
    copy(b, 100, b.subarray(0, 1500));
    expect(Array.from(b)).toEqual(Array.from(want));
  });

  it('refuses a copy past the end of the destination, long or short, and writes nothing', () => {
    const dst = new Uint8Array(1000);
    expect(() => copy(dst, 1, new Uint8Array(1000).fill(9))).toThrow(RangeError);
    expect(() => copy(dst, -1, new Uint8Array(300))).toThrow(RangeError);
    expect(() => copy(dst, 990, new Uint8Array(20))).toThrow(RangeError);
    expect(dst.every((x) => x === 0)).toBe(true);
  });
});
