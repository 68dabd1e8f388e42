/**
 * Key codecs (the role of wireguard-tools' encoding.c): base64 as wg prints keys, hex as UAPI
 * carries them, and constant-time zero/equality checks. Imports nothing.
 *
 * Encoding and decoding work on character codes with arithmetic masks instead of table look-ups or
 * branches on the secret bytes or characters (as encoding.c does), so the time taken does not depend
 * on the key's value. Encoders fill a scratch array of character codes and make the string in one
 * `String.fromCharCode` call: measured 15-20x faster than appending two-character pieces, which
 * matters for a UAPI `get` of 10,000 peers (docs/benchmarks.md, "UAPI get").
 */
import { KEY_LEN, type Key } from './model.js';

/** Length of a key in base64: 43 significant characters and one '='. */
export const KEY_B64_LEN = 44;
/** Length of a key in hex. */
export const KEY_HEX_LEN = 64;

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

/** The base64 character code of a 6-bit value, without branching on it. */
function b64CharCode(v: number): number {
  // 'A' + v, then a correction for each range v has passed: a-z (+6), 0-9 (-75), '+' (-15), '/' (+3).
  return 65 + v + (((25 - v) >> 8) & 6) - (((51 - v) >> 8) & 75) - (((61 - v) >> 8) & 15) + (((62 - v) >> 8) & 3);
}

/** The hex character code ('0'-'9', 'a'-'f') of a nibble, without branching on it. */
function hexCharCode(n: number): number {
  // '0' + n for 0-9; from 10 on, 'a' + n - 10: 87 + n, minus 39 while n < 10.
  return 87 + n + (((n - 10) >> 8) & ~38);
}

const hexScratch: number[] = new Array<number>(KEY_HEX_LEN).fill(0);
const b64Scratch: number[] = new Array<number>(KEY_B64_LEN).fill(0);

/** The string of the character codes in `scratch`, which is zeroed afterwards (it may hold a secret). */
function fromScratch(scratch: number[]): string {
  const text = String.fromCharCode.apply(null, scratch);
  scratch.fill(0);
  return text;
}

/** Encodes a 32-byte key as wg prints it: 44 base64 characters ending in '='. */
export function keyToBase64(key: Key): string {
  if (key.length !== KEY_LEN) throw new RangeError(`key: expected ${KEY_LEN} bytes, got ${key.length}`);
  const scratch = b64Scratch;
  let o = 0;
  for (let i = 0; i < 30; i += 3) {
    const v = (key[i]! << 16) | (key[i + 1]! << 8) | key[i + 2]!;
    scratch[o++] = b64CharCode((v >> 18) & 63);
    scratch[o++] = b64CharCode((v >> 12) & 63);
    scratch[o++] = b64CharCode((v >> 6) & 63);
    scratch[o++] = b64CharCode(v & 63);
  }
  const v = (key[30]! << 16) | (key[31]! << 8);
  scratch[o++] = b64CharCode((v >> 18) & 63);
  scratch[o++] = b64CharCode((v >> 12) & 63);
  scratch[o++] = b64CharCode((v >> 6) & 63);
  scratch[o] = 0x3d; // '='
  return fromScratch(scratch);
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

/** Writes a key's 64 lowercase hex character codes into `out` from `offset` (UAPI's key form). */
export function writeKeyHex(key: Key, out: Uint8Array | number[], offset: number): void {
  if (key.length !== KEY_LEN) throw new RangeError(`key: expected ${KEY_LEN} bytes, got ${key.length}`);
  for (let i = 0; i < KEY_LEN; i++) {
    out[offset + 2 * i] = hexCharCode(key[i]! >> 4);
    out[offset + 2 * i + 1] = hexCharCode(key[i]! & 15);
  }
}

/** Encodes a key as 64 lowercase hex characters (UAPI). */
export function keyToHex(key: Key): string {
  writeKeyHex(key, hexScratch, 0);
  return fromScratch(hexScratch);
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
