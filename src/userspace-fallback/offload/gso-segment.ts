/**
 * Segmentation of what a TUN with IFF_VNET_HDR and TUNSETOFFLOAD hands us (the kernel's TSO/USO done
 * in userspace, the role of tun/offload_linux.go's split in wireguard-go): one read may be a TCP or
 * UDP "super-packet" of up to 64 KiB with one IP and transport header, to be cut into packets of at
 * most gso_size payload bytes, each a complete IP packet with its own lengths and checksums:
 *
 * - IPv4: total length per segment, identification incremented per segment (the kernel's TSO does the
 *   same unless told the ID is fixed), header checksum recomputed.
 * - IPv6: payload length per segment (extension headers before csum_start count as payload).
 * - TCP: sequence number advanced by the bytes before the segment; FIN and PSH only on the last
 *   segment and CWR only on the first (net/ipv4/tcp_offload.c, tcp_gso_segment).
 * - UDP (GSO_UDP_L4): the UDP length per segment.
 * - The transport checksum of every segment computed in full (pseudo-header with the segment's
 *   length); a UDP checksum of 0 is sent as 0xffff (RFC 768).
 *
 * A packet without GSO but with F_NEEDS_CSUM has its checksum finished in place: the field holds
 * the pseudo-header sum, and the sum from csum_start to the end completes it (the kernel's
 * skb_checksum_help, which also writes a result of 0 as 0xffff).
 *
 * The header is validated against the packet (the kernel's virtio_net_hdr_to_skb rules and more):
 * anything inconsistent throws OffloadError and the caller drops the packet.
 */
import { checksumOf, foldSum, pseudoHeaderSum, setIPv4HeaderChecksum, sumBytes } from './inet-checksum.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  type VirtioNetHdr,
} from './virtio-net-hdr.js';

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_CWR = 0x80;
/** Offset of the flags byte in a TCP header. */
export const TCP_FLAGS_OFFSET = 13;
/** Offset of the checksum in a TCP header (csum_offset for TCP). */
export const TCP_CSUM_OFFSET = 16;
/** Offset of the checksum in a UDP header (csum_offset for UDP). */
export const UDP_CSUM_OFFSET = 6;
export const IPV4_ADDR_AT = 12;
export const IPV6_ADDR_AT = 8;
export const IPV6_HEADER_LEN = 40;
const UDP_HEADER_LEN = 8;

/**
 * Copies `src` into `dst` at `at`, as `dst.set(src, at)` does: the offload code's payload copies go
 * through one, so the I/O edge can hand in a faster one (system/native-copy.ts).
 */
export type CopyBytes = (dst: Uint8Array, at: number, src: Uint8Array) => void;
export const copyWithSet: CopyBytes = (dst, at, src) => dst.set(src, at);

/** A super-packet or checksum request that does not describe a packet we can send. */
export class OffloadError extends Error {}

function bad(message: string): never {
  throw new OffloadError(message);
}

/**
 * Cuts `pkt` (the bytes after the virtio_net_hdr) as `hdr` asks. The segments are built one after
 * another in `scratch` (which must hold the payload plus one copy of the headers per segment,
 * each segment 4-byte aligned) and
 * passed to `emit` as views of it, valid until `scratch` is next used: a caller keeps them without
 * copying each segment a second time. A packet that needs no cutting is
 * passed as `pkt` itself, its checksum finished in place if asked. At most `maxSegments` segments
 * are made (the batch the caller can take); more throw OffloadError before anything is emitted.
 * Payloads are copied with `copy`. Returns the number of packets emitted.
 */
export function segmentPacket(
  hdr: VirtioNetHdr,
  pkt: Uint8Array,
  scratch: Uint8Array,
  emit: (segment: Uint8Array) => void,
  maxSegments = 128,
  copy: CopyBytes = copyWithSet,
): number {
  const gsoType = hdr.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if (pkt.length < 1) bad('empty packet');
  const version = pkt[0]! >> 4;
  if (gsoType === VIRTIO_NET_HDR_GSO_NONE) {
    if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) completeChecksum(hdr, pkt);
    emit(pkt);
    return 1;
  }
  if (!(hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) bad('GSO packet without NEEDS_CSUM');
  const tcp = gsoType === VIRTIO_NET_HDR_GSO_TCPV4 || gsoType === VIRTIO_NET_HDR_GSO_TCPV6;
  if (!tcp && gsoType !== VIRTIO_NET_HDR_GSO_UDP_L4) bad(`unsupported gso_type ${hdr.gsoType}`);
  if (gsoType === VIRTIO_NET_HDR_GSO_TCPV4 && version !== 4) bad('GSO_TCPV4 on a non-IPv4 packet');
  if (gsoType === VIRTIO_NET_HDR_GSO_TCPV6 && version !== 6) bad('GSO_TCPV6 on a non-IPv6 packet');
  if (version !== 4 && version !== 6) bad(`IP version ${version}`);
  const v4 = version === 4;
  const ipHeaderLen = v4 ? (pkt[0]! & 0x0f) * 4 : IPV6_HEADER_LEN;
  const start = hdr.csumStart;
  if (v4 && ipHeaderLen < 20) bad('IPv4 header length below 20');
  if (start < ipHeaderLen) bad('csum_start inside the IP header');
  if (v4 && start !== ipHeaderLen) bad('csum_start is not the end of the IPv4 header');
  if (hdr.csumOffset !== (tcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET)) bad(`csum_offset ${hdr.csumOffset}`);
  if (v4 && pkt[9] !== (tcp ? IPPROTO_TCP : IPPROTO_UDP)) bad('IPv4 protocol does not match gso_type');
  if (v4 && (pkt[6]! & 0x3f) | pkt[7]!) bad('IPv4 fragment');
  let headersLen: number;
  if (tcp) {
    if (pkt.length < start + 20) bad('TCP header truncated');
    headersLen = start + (pkt[start + 12]! >> 4) * 4;
    if (headersLen < start + 20) bad('TCP data offset below 5');
  } else {
    headersLen = start + UDP_HEADER_LEN;
  }
  // hdr_len is only a hint (the kernel treats it as one too); the transport header decides.
  if (headersLen > pkt.length) bad('transport header truncated');
  const gsoSize = hdr.gsoSize;
  if (gsoSize < 1) bad('gso_size 0');
  const payloadLen = pkt.length - headersLen;
  const count = Math.max(1, Math.ceil(payloadLen / gsoSize));
  if (count > maxSegments) bad(`${count} segments, more than ${maxSegments}`);
  // Each segment starts 4-byte aligned, as the first does, for sumBytes's 32-bit loads.
  if (scratch.length < count * ((headersLen + 3) & ~3) + payloadLen + 3 * count) bad('scratch buffer too small');

  const protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  const addrAt = v4 ? IPV4_ADDR_AT : IPV6_ADDR_AT;
  const addrLen = v4 ? 4 : 16;
  const csumAt = start + hdr.csumOffset;
  const id0 = (pkt[4]! << 8) | pkt[5]!;
  const seq0 = tcp ? ((pkt[start + 4]! << 24) | (pkt[start + 5]! << 16) | (pkt[start + 6]! << 8) | pkt[start + 7]!) >>> 0 : 0;
  const flags0 = tcp ? pkt[start + TCP_FLAGS_OFFSET]! : 0;

  // Each segment: the headers, then its slice of the payload; then only the fields that differ.
  const headers = pkt.subarray(0, headersLen);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const from = headersLen + i * gsoSize;
    const len = Math.min(gsoSize, pkt.length - from);
    const segLen = headersLen + len;
    const seg = scratch.subarray(at, at + segLen);
    at = (at + segLen + 3) & ~3;
    seg.set(headers, 0);
    copy(seg, headersLen, pkt.subarray(from, from + len));
    if (v4) {
      const id = (id0 + i) & 0xffff;
      seg[2] = segLen >>> 8;
      seg[3] = segLen & 0xff;
      seg[4] = id >>> 8;
      seg[5] = id & 0xff;
      setIPv4HeaderChecksum(seg, ipHeaderLen);
    } else {
      const plen = segLen - IPV6_HEADER_LEN;
      seg[4] = plen >>> 8;
      seg[5] = plen & 0xff;
    }
    const transportLen = segLen - start;
    if (tcp) {
      const seq = (seq0 + i * gsoSize) >>> 0;
      seg[start + 4] = seq >>> 24;
      seg[start + 5] = (seq >>> 16) & 0xff;
      seg[start + 6] = (seq >>> 8) & 0xff;
      seg[start + 7] = seq & 0xff;
      let flags = flags0;
      if (i !== count - 1) flags &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
      if (i !== 0) flags &= ~TCP_FLAG_CWR;
      seg[start + TCP_FLAGS_OFFSET] = flags;
    } else {
      seg[start + 4] = transportLen >>> 8;
      seg[start + 5] = transportLen & 0xff;
    }
    seg[csumAt] = 0;
    seg[csumAt + 1] = 0;
    const sum = sumBytes(seg, start, segLen, pseudoHeaderSum(seg, addrAt, addrLen, protocol, transportLen));
    let csum = checksumOf(sum);
    if (!tcp && csum === 0) csum = 0xffff;
    seg[csumAt] = csum >>> 8;
    seg[csumAt + 1] = csum & 0xff;
    emit(seg);
  }
  return count;
}

/** Finishes a partial checksum in place (F_NEEDS_CSUM without GSO). */
export function completeChecksum(hdr: VirtioNetHdr, pkt: Uint8Array): void {
  const at = hdr.csumStart + hdr.csumOffset;
  if (hdr.csumStart >= pkt.length || at + 2 > pkt.length) bad('csum_start/csum_offset beyond the packet');
  // The field already holds the pseudo-header sum; summing over it completes the checksum.
  const csum = checksumOf(foldSum(sumBytes(pkt, hdr.csumStart, pkt.length)));
  pkt[at] = csum === 0 ? 0xff : csum >>> 8;
  pkt[at + 1] = csum === 0 ? 0xff : csum & 0xff;
}
