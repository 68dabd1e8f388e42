/**
 * Packet buffers for the data path, carved from 1 MiB slabs. `Buffer.allocUnsafe` carves from 8 KiB
 * pools, so a new ArrayBuffer (with its backing-store bookkeeping and GC pressure) is made every few
 * datagrams; profiled here, that was more CPU than the ChaCha20-Poly1305 itself. A slab is
 * released by the GC once no view into it is alive (the Bind and the TUN do not keep packets after
 * their send/write returns, staged packets are copied), so memory stays bounded. Imports nothing.
 *
 * Views are plain Uint8Arrays; contents are NOT zeroed (callers overwrite every byte they hand on).
 */
const SLAB_SIZE = 1 << 20;

let slab = new ArrayBuffer(SLAB_SIZE);
let used = 0;

/** A fresh `len`-byte view, 8-byte aligned. */
export function allocPacket(len: number): Uint8Array {
  const need = (len + 7) & ~7;
  if (used + need > SLAB_SIZE) {
    slab = new ArrayBuffer(Math.max(SLAB_SIZE, need));
    used = 0;
  }
  const v = new Uint8Array(slab, used, len);
  used += need;
  return v;
}

/** A view of `b[start, start + len)` without Buffer's subarray overhead. */
export function view(b: Uint8Array, start: number, len: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + start, len);
}
