import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base32Decode, base32Encode } from '../../src/registry/base32.js';
import { keyFromBase64 } from '../../src/conf/keys.js';

// RFC 4648 §10 test vectors, lower-cased.
const RFC: [string, string][] = [
  ['', ''],
  ['f', 'my======'],
  ['fo', 'mzxq===='],
  ['foo', 'mzxw6==='],
  ['foob', 'mzxw6yq='],
  ['fooba', 'mzxw6ytb'],
  ['foobar', 'mzxw6ytboi======'],
];

describe('base32', () => {
  it.each(RFC)('RFC 4648 vector %j', (plain, encoded) => {
    expect(base32Encode(new TextEncoder().encode(plain))).toBe(encoded);
    expect(new TextDecoder().decode(base32Decode(encoded)!)).toBe(plain);
    expect(new TextDecoder().decode(base32Decode(encoded.toUpperCase().replace(/=+$/, ''))!)).toBe(plain);
  });

  it("spells a public key as wgsd's README does (56 characters with padding)", () => {
    const key = keyFromBase64('xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=')!;
    expect(base32Encode(key)).toBe('yutrled535igkl7bdlerl6m4vjxsxm3uqqpl4nmsn27mt56ad4ha====');
  });

  it('agrees with coreutils base32 on random input', () => {
    const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 40 }), { numRuns: 20, seed: 6 });
    for (const bytes of samples) {
      const ref = execFileSync('base32', ['-w0'], { input: bytes }).toString().trim().toLowerCase();
      expect(base32Encode(bytes)).toBe(ref);
    }
  });

  it('round-trips any bytes, either case, padding optional', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = base32Encode(bytes);
        expect(base32Decode(text)).toEqual(bytes);
        expect(base32Decode(text.toUpperCase())).toEqual(bytes);
        expect(base32Decode(text.replace(/=+$/, ''))).toEqual(bytes);
      }),
      { seed: 6 },
    );
  });

  it.each([
    ['my=====', 'padding to a length that is not a multiple of 8'],
    ['m', 'one dangling character'],
    ['mzx', 'three characters cannot end a group'],
    ['mz======', 'non-zero trailing bits'],
    ['my1=====', "'1' is not in the alphabet"],
    ['my==a===', 'padding in the middle'],
  ])('rejects %j (%s)', (text) => {
    expect(base32Decode(text)).toBeNull();
  });
});
