/**
 * Key codecs (the role of wireguard-tools' encoding.c): base64 as wg prints keys, hex as UAPI
 * carries them, and constant-time zero/equality checks. Imports nothing.
 *
 * Decoding works on character codes with arithmetic masks instead of table look-ups or branches on
 * the secret characters, so the time taken does not depend on the key's value.
 */
import { KEY_LEN, type Key } from './model.js';

/** Length of a key in base64: 43 significant characters and one '='. */
export const KEY_B64_LEN = 44;
/** Length of a key in hex. */
export const KEY_HEX_LEN = 64;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Maps one base64 character code to its 6-bit value, or -1, without branching on the value. */
function decodeB64Char(c: number): number {
  // Each term is (value offset) masked by "c is in range"; -1 stays if no range matched.
  let ret = -1;
  ret += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64); // A-Z -> 0..25 (+1 for the -1 base)
  ret += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70); // a-z -> 26..51
  ret += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5); // 0-9 -> 52..61
  ret += (((0x2a - c) & (c - 0x2c)) >> 8) & 63; // '+' -> 62
  ret += (((0x2e - c) & (c - 0x30)) >> 8) & 64; // '/' -> 63
  return ret;
}

/** Encodes a 32-byte key as wg prints it: 44 base64 characters ending in '='. */
export function keyToBase64(key: Key): string {
  if (key.length !== KEY_LEN) throw new RangeError(`key: expected ${KEY_LEN} bytes, got ${key.length}`);
  let out = '';
  for (let i = 0; i < 30; i += 3) {
    const v = (key[i]! << 16) | (key[i + 1]! << 8) | key[i + 2]!;
    out += B64[(v >> 18) & 63]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]! + B64[v & 63]!;
  }
  const v = (key[30]! << 16) | (key[31]! << 8);
  out += B64[(v >> 18) & 63]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]! + '=';
  return out;
}

/**
 * Decodes a base64 key with wg's rules: exactly 44 characters, the last one '=', the standard
 * alphabet, and a 43rd character whose two low bits are zero (so every key has one spelling).
 * Returns null when the text is not a key.
 */
export function keyFromBase64(text: string): Key | null {
  if (text.length !== KEY_B64_LEN || text.charCodeAt(KEY_B64_LEN - 1) !== 0x3d) return null;
  const key = new Uint8Array(KEY_LEN);
  let bad = 0;
  let i = 0;
  for (; i < 10; i++) {
    const a = decodeB64Char(text.charCodeAt(i * 4));
    const b = decodeB64Char(text.charCodeAt(i * 4 + 1));
    const c = decodeB64Char(text.charCodeAt(i * 4 + 2));
    const d = decodeB64Char(text.charCodeAt(i * 4 + 3));
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    bad |= (a | b | c | d) >>> 31;
    key[i * 3] = (v >> 16) & 0xff;
    key[i * 3 + 1] = (v >> 8) & 0xff;
    key[i * 3 + 2] = v & 0xff;
  }
  const a = decodeB64Char(text.charCodeAt(40));
  const b = decodeB64Char(text.charCodeAt(41));
  const c = decodeB64Char(text.charCodeAt(42));
  bad |= (a | b | c) >>> 31;
  const v = (a << 18) | (b << 12) | (c << 6);
  key[30] = (v >> 16) & 0xff;
  key[31] = (v >> 8) & 0xff;
  // The low two bits of the 43rd character fall outside the 32 bytes and must be zero.
  bad |= c & 3 ? 1 : 0;
  if (bad) {
    key.fill(0);
    return null;
  }
  return key;
}

/** Encodes a key as 64 lowercase hex characters (UAPI). */
export function keyToHex(key: Key): string {
  if (key.length !== KEY_LEN) throw new RangeError(`key: expected ${KEY_LEN} bytes, got ${key.length}`);
  let out = '';
  for (let i = 0; i < KEY_LEN; i++) out += key[i]!.toString(16).padStart(2, '0');
  return out;
}

function decodeHexChar(c: number): number {
  let ret = -1;
  ret += (((0x2f - c) & (c - 0x3a)) >> 8) & (c - 47); // 0-9
  ret += (((0x60 - c) & (c - 0x67)) >> 8) & (c - 86); // a-f
  ret += (((0x40 - c) & (c - 0x47)) >> 8) & (c - 54); // A-F
  return ret;
}

/** Decodes 64 hex characters (either case) into a key; null if the text is not exactly that. */
export function keyFromHex(text: string): Key | null {
  if (text.length !== KEY_HEX_LEN) return null;
  const key = new Uint8Array(KEY_LEN);
  let bad = 0;
  for (let i = 0; i < KEY_LEN; i++) {
    const hi = decodeHexChar(text.charCodeAt(i * 2));
    const lo = decodeHexChar(text.charCodeAt(i * 2 + 1));
    bad |= (hi | lo) >>> 31;
    key[i] = ((hi << 4) | lo) & 0xff;
  }
  if (bad) {
    key.fill(0);
    return null;
  }
  return key;
}

/** True if every byte is zero; constant time. */
export function keyIsZero(key: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < key.length; i++) acc |= key[i]!;
  return acc === 0;
}

/** Constant-time equality of two byte strings of the same length (false if lengths differ). */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}
