/**
 * The TUN side's framing when the device was opened with IFF_VNET_HDR (tun-offload.ts): what the
 * data plane reads and writes are whole IP packets, what the TUN reads and writes are
 * virtio_net_hdr + packet, possibly a super-packet. Pure: the caller does the I/O.
 *
 * - `unframeRead`: one TUN read -> the packets in it (a TSO/USO super-packet cut by segmentPacket,
 *   checksums finished), as views into an arena owned by this object and valid until the next call.
 *   A read the header does not describe is dropped and counted.
 * - `frameWrites`: the packets of one batch -> TUN write buffers, TCP segments of a flow coalesced
 *   (coalesceTcp) so the host's stack takes a burst in one write; `writeInto` builds the same
 *   writes in room the caller reserves (the writer's ring), without a buffer per super-packet.
 */
import { coalescePlan, coalesceTcp, writeSuperPacket } from './gro-coalesce.js';
import { OffloadError, copyWithSet, segmentPacket, type CopyBytes } from './gso-segment.js';
import { VIRTIO_NET_HDR_LEN, decodeVirtioNetHdr, encodeVirtioNetHdr, plainVirtioNetHdr } from './virtio-net-hdr.js';

/** Largest IP packet a TUN read or write carries. */
const MAX_PACKET = 65535;
/** Headers a segment may repeat: IPv6 (40) + extension headers + TCP with options (60), bounded. */
const MAX_HEADERS = 256;

export class TunFramer {
  /** Reads dropped because their virtio_net_hdr did not fit the packet. */
  malformed = 0;
  /** Where segments are built: a super-packet's payload plus one copy of the headers per segment. */
  private readonly arena: Uint8Array;

  /**
   * `maxSegments` bounds the packets one read may become (the batch the data plane takes); `copy`
   * moves the payloads (segments into the arena, packets into the caller's room).
   */
  constructor(
    private readonly maxSegments = 128,
    private readonly copy: CopyBytes = copyWithSet,
  ) {
    this.arena = new Uint8Array(MAX_PACKET + maxSegments * MAX_HEADERS);
  }

  /** The packets in one TUN read (header included); an empty list for a malformed read. */
  unframeRead(read: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (read.length <= VIRTIO_NET_HDR_LEN) {
      this.malformed++;
      return out;
    }
    const hdr = decodeVirtioNetHdr(read, 0);
    const pkt = read.subarray(VIRTIO_NET_HDR_LEN);
    try {
      // Segments are built in the arena and handed on as views of it (no copy per segment).
      segmentPacket(hdr, pkt, this.arena, (seg) => out.push(seg), this.maxSegments, this.copy);
    } catch (err) {
      if (!(err instanceof OffloadError)) throw err;
      this.malformed++;
      return [];
    }
    return out;
  }

  /** TUN write buffers (header + packet) for a batch of packets, in order, TCP flows coalesced. */
  frameWrites(packets: readonly Uint8Array[]): Uint8Array[] {
    return coalesceTcp(packets).map(({ hdr, packet }) => {
      const buf = new Uint8Array(VIRTIO_NET_HDR_LEN + packet.length);
      encodeVirtioNetHdr(hdr, buf, 0);
      buf.set(packet, VIRTIO_NET_HDR_LEN);
      return buf;
    });
  }

  /**
   * The same writes built in place: `reserve(len)` gives room for one write of `len` bytes (header
   * included), or null when there is none (that write is dropped). Returns the writes dropped.
   */
  writeInto(packets: readonly Uint8Array[], reserve: (len: number) => Uint8Array | null): number {
    let dropped = 0;
    for (const w of coalescePlan(packets)) {
      const out = reserve(VIRTIO_NET_HDR_LEN + w.length);
      if (out === null) {
        dropped++;
        continue;
      }
      if (w instanceof Uint8Array) {
        encodeVirtioNetHdr(PLAIN, out, 0);
        this.copy(out, VIRTIO_NET_HDR_LEN, w);
      } else encodeVirtioNetHdr(writeSuperPacket(w, out.subarray(VIRTIO_NET_HDR_LEN), this.copy), out, 0);
    }
    return dropped;
  }
}

const PLAIN = plainVirtioNetHdr();
