import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { allowedStrings, txtAllowed, TXT_STRING_MAX } from '../../src/registry/records.js';

describe('TXT allowed= strings', () => {
  it('one string, wgsd form, while the list fits in 255 bytes (also when empty)', () => {
    expect(allowedStrings(['10.0.0.1/32', 'fd00::1/128'])).toEqual(['allowed=10.0.0.1/32,fd00::1/128']);
    expect(allowedStrings([])).toEqual(['allowed=']);
    const fifteen = Array.from({ length: 15 }, (_, i) => `10.0.${i}.0/24`);
    const exactly = [...fifteen, '1'.repeat(255 - 'allowed='.length - fifteen.join(',').length - 1)];
    expect(allowedStrings(exactly)).toEqual([`allowed=${exactly.join(',')}`]);
    expect(allowedStrings(exactly)[0]).toHaveLength(255);
  });

  it('a longer list continues in more allowed= strings, cut between prefixes, and joins back', () => {
    const prefixes = Array.from({ length: 31 }, (_, i) => `10.31.${i}.0/24`);
    const strings = allowedStrings(prefixes);
    expect(strings).toHaveLength(2);
    for (const s of strings) {
      expect(s.startsWith('allowed=')).toBe(true);
      expect(s.length).toBeLessThanOrEqual(TXT_STRING_MAX);
    }
    expect(txtAllowed(['txtvers=1', 'pub=x', ...strings])).toBe(prefixes.join(','));
  });

  it('any list of prefixes round-trips, every string within 255 bytes', () => {
    const prefix = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`),
    );
    fc.assert(
      fc.property(fc.array(prefix, { maxLength: 200 }), (list) => {
        const strings = allowedStrings(list);
        expect(strings.every((s) => Buffer.byteLength(s) <= TXT_STRING_MAX)).toBe(true);
        expect(txtAllowed(strings)).toBe(list.join(','));
      }),
    );
  });

  it('txtAllowed: null without an allowed= string, other keys ignored', () => {
    expect(txtAllowed(['txtvers=1', 'pub=x'])).toBeNull();
    expect(txtAllowed(['allowed=', 'other=1'])).toBe('');
  });
});
