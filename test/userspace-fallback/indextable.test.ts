import { describe, expect, it } from 'vitest';
import { IndexTable } from '../../src/userspace-fallback/indextable.js';

describe('index table', () => {
  it('retries on collision, replaces in place, and a stale release does not free a reused index', () => {
    const draws = [7, 7, 7, 9, 7, 11];
    const t = new IndexTable<string>(() => draws.shift()!);
    expect(t.add('hs-a')).toBe(7);
    expect(t.add('hs-b')).toBe(9); // two collisions with 7 skipped
    t.replace(7, 'kp-a');
    expect(t.lookup(7)).toBe('kp-a');
    t.remove(7, 'hs-a'); // the handshake entry no longer owns 7
    expect(t.lookup(7)).toBe('kp-a');
    t.remove(7, 'kp-a');
    expect(t.lookup(7)).toBeUndefined();
    expect(t.add('hs-c')).toBe(7); // reused
    t.replace(12345, 'nothing'); // replacing an absent index adds nothing
    expect(t.lookup(12345)).toBeUndefined();
    expect(t.size).toBe(2);
  });
  it('indices are unsigned 32-bit', () => {
    const t = new IndexTable<number>(() => -1);
    expect(t.add(1)).toBe(0xffffffff);
  });
});
