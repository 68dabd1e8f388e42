/**
 * Cutting a coalesced UDP receive back into the datagrams that were sent. A socket with UDP_GRO
 * (udp(7)) may hand over a run of datagrams as one buffer with the segment size in a control
 * message. The kernel merges only datagrams of one flow (same addresses and ports, so the one
 * source address holds for all), each `gsoSize` bytes except the last, which may be shorter
 * (net/ipv4/udp_offload.c stops merging after a shorter one; a GSO train arrives the same way).
 * Splitting at every `gsoSize` bytes gives back exactly the datagrams on the wire.
 *
 * Pure: the reader worker (reader-worker.ts) splits before records enter the ring, so nothing
 * above it sees a coalesced datagram.
 */

/** The datagrams in `payload` (views, not copies): cut every `gsoSize` bytes; all of it when `gsoSize` is 0 or covers it. */
export function splitCoalesced(payload: Uint8Array, gsoSize: number): Uint8Array[] {
  const len = payload.length;
  if (!(gsoSize > 0) || gsoSize >= len) return [payload];
  const out: Uint8Array[] = [];
  for (let off = 0; off < len; off += gsoSize) out.push(payload.subarray(off, Math.min(off + gsoSize, len)));
  return out;
}
