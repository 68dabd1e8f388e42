/**
 * Copies for the data path's packet payloads that go through libc's memmove rather than V8's copy
 * when they are long enough to pay for the FFI call. Used by the I/O edges (tun-linux.ts hands it to
 * the offload code, reader-burst.ts copies datagrams into the read ring).
 */
import { Addresses } from '../crypto/openssl-ffi.js';
import { addressOfBytes, memmoveAt } from './libc.js';

/** Shorter copies stay with TypedArray.prototype.set: one FFI call costs about 0.1 µs. */
const NATIVE_COPY_MIN = 256;

/**
 * A copy like `dst.set(src, at)` that hands copies of NATIVE_COPY_MIN bytes and more to memmove(3)
 * on addresses (Addresses). V8 copies into or out of a SharedArrayBuffer with relaxed atomics, byte
 * by byte unless both ends are equally aligned: the data path's payload copies (out of the read
 * ring, into the writer ring) cost 0.3-1 µs per 1400 bytes that way against ~0.14 µs
 * (docs/benchmarks.md "Data plane"). Throws RangeError, as set() does, past the end of `dst`.
 */
export function nativeCopier(): (dst: Uint8Array, at: number, src: Uint8Array) => void {
  const known = new WeakMap<ArrayBufferLike, number>();
  const dsts = new Addresses(addressOfBytes, known);
  const srcs = new Addresses(addressOfBytes, known);
  return (dst, at, src) => {
    const n = src.length;
    if (n < NATIVE_COPY_MIN) return dst.set(src, at);
    if (!(Number.isInteger(at) && at >= 0 && at + n <= dst.length)) throw new RangeError('copy beyond the destination');
    memmoveAt(dsts.of(dst, at), srcs.of(src, 0), n);
  };
}
