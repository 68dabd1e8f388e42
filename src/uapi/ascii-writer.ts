/**
 * Builds a large ASCII reply (a UAPI `get` of 10,000 peers is ~4 MB) in one growing byte buffer,
 * turned into a string once. Per-field strings joined at the end spent most of their time in the
 * garbage collector (docs/benchmarks.md, "UAPI get"). Keys are written as hex bytes with no string
 * in between, and the buffer is zeroed when done because it held the private key.
 */
import { KEY_HEX_LEN, writeKeyHex } from '../conf/keys.js';
import type { Key } from '../conf/model.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export class AsciiWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initial = 64 * 1024) {
    this.buf = new Uint8Array(initial);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf.fill(0, 0, this.len);
    this.buf = next;
  }

  /** Appends text; characters beyond ASCII (an IPv6 zone can hold any) are written as UTF-8. */
  text(s: string): this {
    const n = s.length;
    this.reserve(n);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        // Rare: let the UTF-8 encoder write the rest of this string.
        const rest = Buffer.from(s.slice(i), 'utf8');
        this.reserve(rest.length);
        this.buf.set(rest, this.len);
        this.len += rest.length;
        return this;
      }
      this.buf[this.len++] = c;
    }
    return this;
  }

  /** Appends a non-negative integer in decimal (bigints beyond 2^53 through their own toString). */
  uint(value: number | bigint): this {
    if (typeof value === 'bigint') {
      if (value > MAX_SAFE) return this.text(value.toString());
      value = Number(value);
    }
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    this.reserve(digits);
    let v = value;
    for (let i = this.len + digits - 1; i >= this.len; i--) {
      this.buf[i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
    this.len += digits;
    return this;
  }

  /** Appends a key as 64 lowercase hex characters. */
  keyHex(key: Key): this {
    this.reserve(KEY_HEX_LEN);
    writeKeyHex(key, this.buf, this.len);
    this.len += KEY_HEX_LEN;
    return this;
  }

  /** The text written so far; the buffer is zeroed and emptied. */
  finish(): string {
    const text = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len).toString('utf8');
    this.buf.fill(0, 0, this.len);
    this.len = 0;
    return text;
  }
}
