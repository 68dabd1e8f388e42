/**
 * Coalescing of decrypted TCP segments into super-packets for one TUN write (GRO in userspace, the
 * receive half of the TUN offloads; design after wireguard-go's tun/offload_linux.go and the
 * kernel's GRO rules, tools/testing/selftests/net/gro.c). The TUN must have been set up with
 * IFF_VNET_HDR and TUNSETOFFLOAD TSO4/TSO6: the kernel then takes each super-packet as one skb and
 * cuts it again only if it must (forwarding), so the local stack sees one packet per batch and flow.
 *
 * A segment joins the super-packet of its flow when all of these hold, otherwise it starts a new one:
 * - same flow: IP version, addresses, ports and acknowledgment number (an ACK change is news the
 *   receiver must see);
 * - IPv4 without options or fragmentation, IPv6 with TCP as the next header (no extension headers);
 * - equal TOS/traffic class (ECN marks included), TTL/hop limit, IPv4 DF, TCP header length and options;
 * - flags ACK or ACK|PSH only, a payload, the sequence number right after the super-packet's end;
 * - the super-packet does not end in PSH or in a segment shorter than its first (all segments but the
 *   last are gso_size long), and this one is not longer than that;
 * - the result stays within 65535 bytes and `maxSegments` segments.
 * Only in-order appends are made (a reordered segment starts a new super-packet): the cost of
 * missing a merge is one more write, never wrong data.
 *
 * Checksums are not verified: every segment here was authenticated by Poly1305, so it is what the
 * peer sent, and the kernel's WireGuard tells the stack the same (drivers/net/wireguard/receive.c
 * marks decrypted packets CHECKSUM_UNNECESSARY at every level). Summing each payload was about a
 * tenth of the receiving main thread's time under a bulk flow (docs/benchmarks.md "Data plane").
 *
 * A super-packet is written with flags NEEDS_CSUM, gso_type TCPV4/TCPV6, gso_size = its first
 * segment's payload, csum_start at the TCP header and the TCP checksum field holding the pseudo-header
 * sum (the kernel finishes it); IPv4 total length and header checksum and IPv6 payload length are
 * rewritten, PSH is set if the last segment had it. Every other packet goes out unchanged with a
 * plain header.
 */
import { foldSum, pseudoHeaderSum, setIPv4HeaderChecksum } from './inet-checksum.js';
import {
  copyWithSet,
  type CopyBytes,
  IPPROTO_TCP,
  IPV4_ADDR_AT,
  IPV6_ADDR_AT,
  IPV6_HEADER_LEN,
  TCP_CSUM_OFFSET,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_FLAGS_OFFSET,
} from './gso-segment.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  plainVirtioNetHdr,
  type VirtioNetHdr,
} from './virtio-net-hdr.js';

/** One TUN write: its virtio_net_hdr and the packet after it. */
export interface TunWrite {
  hdr: VirtioNetHdr;
  packet: Uint8Array;
}

const MAX_IP_PACKET = 65535;

/** A super-packet being planned: the views of its segments, all of one flow. */
interface Flow extends Coalesced {
  first: Uint8Array;
  ipHeaderLen: number;
  tcpHeaderLen: number;
  gsoSize: number;
  nextSeq: number;
  segments: Uint8Array[];
  length: number;
  closed: boolean; // ended by PSH or by a short segment
}

/** The TCP header length if `pkt` is a candidate at all (see the module comment), else 0. */
function candidate(pkt: Uint8Array): number {
  const version = pkt[0]! >> 4;
  let ipHeaderLen: number;
  if (version === 4) {
    if (pkt.length < 40 || pkt[0] !== 0x45 || pkt[9] !== IPPROTO_TCP) return 0;
    if (((pkt[2]! << 8) | pkt[3]!) !== pkt.length) return 0;
    if ((pkt[6]! & 0x3f) | pkt[7]!) return 0; // MF or a fragment offset
    ipHeaderLen = 20;
  } else if (version === 6) {
    if (pkt.length < 60 || pkt[6] !== IPPROTO_TCP) return 0;
    if (((pkt[4]! << 8) | pkt[5]!) !== pkt.length - IPV6_HEADER_LEN) return 0;
    ipHeaderLen = IPV6_HEADER_LEN;
  } else {
    return 0;
  }
  const tcpHeaderLen = (pkt[ipHeaderLen + 12]! >> 4) * 4;
  if (tcpHeaderLen < 20 || ipHeaderLen + tcpHeaderLen >= pkt.length) return 0; // no payload
  const flags = pkt[ipHeaderLen + TCP_FLAGS_OFFSET]!;
  if (flags !== TCP_FLAG_ACK && flags !== (TCP_FLAG_ACK | TCP_FLAG_PSH)) return 0;
  return tcpHeaderLen;
}

function seqOf(pkt: Uint8Array, at: number): number {
  return ((pkt[at]! << 24) | (pkt[at + 1]! << 16) | (pkt[at + 2]! << 8) | pkt[at + 3]!) >>> 0;
}

function equalRange(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True if `pkt` belongs to `flow`'s flow and header shape (everything but sequence and length). */
function sameFlow(flow: Flow, pkt: Uint8Array, tcpHeaderLen: number): boolean {
  const f = flow.first;
  const ihl = flow.ipHeaderLen;
  if (tcpHeaderLen !== flow.tcpHeaderLen || pkt[0]! >> 4 !== f[0]! >> 4) return false;
  if (ihl === 20) {
    // TOS, DF (and the reserved bit), TTL, addresses.
    if (pkt[1] !== f[1] || pkt[6]! >> 5 !== f[6]! >> 5 || pkt[8] !== f[8] || !equalRange(pkt, f, 12, 20)) return false;
  } else {
    // Traffic class (version nibble already equal), hop limit, addresses.
    if (pkt[0] !== f[0] || pkt[1]! >> 4 !== f[1]! >> 4 || pkt[7] !== f[7] || !equalRange(pkt, f, 8, 40)) return false;
  }
  // Ports, acknowledgment number, then options (data offset, window and urgent pointer may differ).
  return equalRange(pkt, f, ihl, ihl + 4) && equalRange(pkt, f, ihl + 8, ihl + 12) && equalRange(pkt, f, ihl + 20, ihl + tcpHeaderLen);
}

/**
 * A super-packet to be: the segments of one flow that coalesceTcp joined. `length` is its size;
 * writeSuperPacket builds it.
 */
export interface Coalesced {
  readonly segments: readonly Uint8Array[];
  readonly length: number;
}

/**
 * Coalesces a batch of packets bound for the TUN, in order, without building anything: each entry
 * is a packet to write as it is (plain header) or the segments of a super-packet (two or more; see
 * writeSuperPacket). The input views are not modified.
 */
export function coalescePlan(packets: readonly Uint8Array[], maxSegments = 64): Array<Uint8Array | Coalesced> {
  const writes: (Uint8Array | Flow)[] = [];
  const open: Flow[] = [];
  for (const pkt of packets) {
    const tcpHeaderLen = candidate(pkt);
    if (tcpHeaderLen === 0) {
      writes.push(pkt);
      continue;
    }
    const ipHeaderLen = pkt[0]! >> 4 === 4 ? 20 : IPV6_HEADER_LEN;
    const payload = pkt.length - ipHeaderLen - tcpHeaderLen;
    const seq = seqOf(pkt, ipHeaderLen + 4);
    let joined = false;
    // Newest first: in-order traffic finds its flow at once.
    for (let i = open.length - 1; i >= 0 && !joined; i--) {
      const flow = open[i]!;
      if (!sameFlow(flow, pkt, tcpHeaderLen)) continue;
      if (
        flow.closed ||
        seq !== flow.nextSeq ||
        payload > flow.gsoSize ||
        flow.length + payload > MAX_IP_PACKET ||
        flow.segments.length >= maxSegments
      ) {
        break; // this flow cannot take it; a new super-packet starts with it
      }
      flow.segments.push(pkt);
      flow.length += payload;
      flow.nextSeq = (seq + payload) >>> 0;
      if (payload < flow.gsoSize || pkt[ipHeaderLen + TCP_FLAGS_OFFSET]! & TCP_FLAG_PSH) flow.closed = true;
      joined = true;
    }
    if (joined) continue;
    const flow: Flow = {
      first: pkt,
      ipHeaderLen,
      tcpHeaderLen,
      gsoSize: payload,
      nextSeq: (seq + payload) >>> 0,
      segments: [pkt],
      length: pkt.length,
      closed: (pkt[ipHeaderLen + TCP_FLAGS_OFFSET]! & TCP_FLAG_PSH) !== 0,
    };
    open.push(flow);
    writes.push(flow);
  }
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!;
    if (!(w instanceof Uint8Array) && w.segments.length === 1) writes[i] = w.first;
  }
  return writes;
}

/**
 * Coalesces a batch of packets bound for the TUN, in order. Returns the writes: packets that joined
 * nothing are passed through (same view, plain header); each super-packet is a new buffer at the
 * position of its first segment. The input views are not modified.
 */
export function coalesceTcp(packets: readonly Uint8Array[], maxSegments = 64): TunWrite[] {
  return coalescePlan(packets, maxSegments).map((w) => {
    if (w instanceof Uint8Array) return { hdr: plainVirtioNetHdr(), packet: w };
    const packet = new Uint8Array(w.length);
    return { hdr: writeSuperPacket(w, packet), packet };
  });
}

/**
 * Builds super-packet `c` (from coalescePlan) in `out` (at least c.length bytes, at its start) and
 * returns its virtio_net_hdr: the first segment's headers with the lengths and flags of the whole,
 * then every segment's payload (copied with `copy`).
 */
export function writeSuperPacket(c: Coalesced, out: Uint8Array, copy: CopyBytes = copyWithSet): VirtioNetHdr {
  const flow = c as Flow;
  const ihl = flow.ipHeaderLen;
  const headersLen = ihl + flow.tcpHeaderLen;
  const total = flow.length;
  copy(out, 0, flow.first);
  let at = flow.first.length;
  for (let i = 1; i < flow.segments.length; i++) {
    const seg = flow.segments[i]!;
    copy(out, at, seg.subarray(headersLen));
    at += seg.length - headersLen;
  }
  const last = flow.segments[flow.segments.length - 1]!;
  out[ihl + TCP_FLAGS_OFFSET]! |= last[ihl + TCP_FLAGS_OFFSET]! & TCP_FLAG_PSH;
  const v4 = ihl === 20;
  if (v4) {
    out[2] = total >>> 8;
    out[3] = total & 0xff;
    setIPv4HeaderChecksum(out, ihl);
  } else {
    const plen = total - IPV6_HEADER_LEN;
    out[4] = plen >>> 8;
    out[5] = plen & 0xff;
  }
  // NEEDS_CSUM: the field holds the folded pseudo-header sum, not complemented; the kernel adds the rest.
  const tcpLen = total - ihl;
  const partial = foldSum(pseudoHeaderSum(out, v4 ? IPV4_ADDR_AT : IPV6_ADDR_AT, v4 ? 4 : 16, IPPROTO_TCP, tcpLen));
  out[ihl + TCP_CSUM_OFFSET] = partial >>> 8;
  out[ihl + TCP_CSUM_OFFSET + 1] = partial & 0xff;
  return {
    flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
    gsoType: v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
    hdrLen: headersLen,
    gsoSize: flow.gsoSize,
    csumStart: ihl,
    csumOffset: TCP_CSUM_OFFSET,
  };
}
