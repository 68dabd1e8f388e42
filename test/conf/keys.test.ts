import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { keyFromBase64, keyFromHex, keyIsZero, keysEqual, keyToBase64, keyToHex } from '../../src/conf/keys.js';

describe('keys', () => {
  it('base64 round-trips against Buffer for random keys', () => {
    for (let i = 0; i < 500; i++) {
      const k = new Uint8Array(randomBytes(32));
      const b64 = keyToBase64(k);
      expect(b64).toBe(Buffer.from(k).toString('base64'));
      expect(keyFromBase64(b64)).toEqual(k);
      expect(keyToHex(k)).toBe(Buffer.from(k).toString('hex'));
      expect(keyFromHex(keyToHex(k))).toEqual(k);
      expect(keyFromHex(keyToHex(k).toUpperCase())).toEqual(k);
    }
  });
  it.each([
    ['too short', 'AAAA'],
    ['no padding', 'A'.repeat(44)],
    ['bad alphabet', '-' + 'A'.repeat(42) + '='],
    ['non-zero low bits in the 43rd char', 'A'.repeat(42) + 'B='],
    ['url-safe alphabet', '_'.repeat(43) + '='],
    ['45 chars', 'A'.repeat(44) + '='],
    ['space inside', ' ' + 'A'.repeat(42) + '='],
  ])('rejects base64: %s', (_name, text) => {
    expect(keyFromBase64(text)).toBeNull();
  });
  it('accepts every legal 43rd character', () => {
    for (const c of 'AEIMQUYcgkosw048') expect(keyFromBase64('A'.repeat(42) + c + '=')).not.toBeNull();
  });
  it('rejects bad hex', () => {
    expect(keyFromHex('g'.repeat(64))).toBeNull();
    expect(keyFromHex('0'.repeat(63))).toBeNull();
  });
  it('zero and equality checks', () => {
    expect(keyIsZero(new Uint8Array(32))).toBe(true);
    const k = new Uint8Array(32);
    k[31] = 1;
    expect(keyIsZero(k)).toBe(false);
    expect(keysEqual(k, Uint8Array.from(k))).toBe(true);
    expect(keysEqual(k, new Uint8Array(32))).toBe(false);
  });
});
