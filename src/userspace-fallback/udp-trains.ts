/**
 * Which queued datagrams can leave in one UDP GSO send (UDP_SEGMENT, udp(7)): a run of consecutive
 * datagrams to the same destination, all as long as the first except the last, which may be shorter.
 * The kernel cuts such a buffer back into the same datagrams (net/ipv4/udp_offload.c), so the wire
 * sees exactly what one sendto() per datagram would have sent. The main thread seals a TSO
 * super-packet's segments for one peer in a row (send.ts), so a bulk flow's datagrams come as
 * trains of equal-size segments with a shorter tail.
 *
 * Pure: the write drain (write-drain.ts) gathers a burst of ring records and asks where each
 * train ends.
 */

/** Segments per GSO send: the kernel's UDP_MAX_SEGMENTS (include/linux/udp.h) since 4.18. */
export const GSO_MAX_SEGMENTS = 64;
/**
 * Bytes per GSO send: one UDP datagram's largest payload over IPv4 (65535 - 20 IP - 8 UDP), which
 * is also within IPv6's 65535 - 8.
 */
export const GSO_MAX_BYTES = 65507;

/**
 * The end (exclusive) of the train that starts at `start`, looking at datagrams [start, end):
 * `lengths[i]` is datagram i's size, `dests[i]` an id equal for equal destinations. At most
 * `maxSegments` datagrams and `maxBytes` bytes; a datagram longer than `maxSegmentSize` (the
 * largest segment size GSO is known to accept on the socket; 0 when it is off) travels alone.
 * Always at least start + 1 (a train of one is a plain send).
 */
export function trainEnd(
  lengths: ArrayLike<number>,
  dests: ArrayLike<number>,
  start: number,
  end: number,
  maxSegmentSize: number,
  maxSegments = GSO_MAX_SEGMENTS,
  maxBytes = GSO_MAX_BYTES,
): number {
  const seg = lengths[start]!;
  if (seg <= 0 || seg > maxSegmentSize) return start + 1;
  const dest = dests[start];
  const last = Math.min(end, start + maxSegments);
  let bytes = seg;
  let j = start + 1;
  while (j < last) {
    const len = lengths[j]!;
    // The previous one must be full-size (only the last may be short), and this one no longer.
    if (dests[j] !== dest || len <= 0 || len > seg || lengths[j - 1] !== seg || bytes + len > maxBytes) break;
    bytes += len;
    j++;
  }
  return j;
}
