/**
 * Test helpers for the offload modules: packet builders and an independent checksum (a plain loop
 * over 16-bit words reduced modulo 0xffff, unlike the end-around-carry folding of
 * src/userspace-fallback/offload/inet-checksum.ts).
 */
export const TCP = 6;
export const UDP = 17;

/** Ones' complement sum of 16-bit big-endian words (odd byte padded), as a number in 0..0xffff. */
export function refSum(...parts: Uint8Array[]): number {
  let total = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) total += p[i]! * 256 + (i + 1 < p.length ? p[i + 1]! : 0);
  }
  // x mod 0xffff is the ones' complement sum, except that a non-zero multiple of 0xffff is 0xffff.
  const r = total % 0xffff;
  return r === 0 && total !== 0 ? 0xffff : r;
}

/** Byte equality of two views, cheaper than a deep equal on large arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

export function pseudo(pkt: Uint8Array, protocol: number, length: number): Uint8Array {
  const v4 = pkt[0]! >> 4 === 4;
  const addrs = v4 ? pkt.subarray(12, 20) : pkt.subarray(8, 40);
  return Uint8Array.from([...addrs, 0, protocol, (length >> 8) & 0xff, length & 0xff, ...(v4 ? [] : [0, 0])]);
}

export function ipHeaderLen(pkt: Uint8Array): number {
  return pkt[0]! >> 4 === 4 ? (pkt[0]! & 15) * 4 : 40;
}

/** True if the IPv4 header checksum (when IPv4) and the TCP/UDP checksum verify. */
export function checksumsVerify(pkt: Uint8Array, protocol: number): boolean {
  const ihl = ipHeaderLen(pkt);
  if (pkt[0]! >> 4 === 4 && refSum(pkt.subarray(0, ihl)) !== 0xffff) return false;
  const l4 = pkt.subarray(ihl);
  if (protocol === UDP && l4[6] === 0 && l4[7] === 0) return false; // we never send "no checksum"
  return refSum(pseudo(pkt, protocol, l4.length), l4) === 0xffff;
}

export interface PacketSpec {
  v4: boolean;
  protocol: number;
  payload: Uint8Array;
  seq?: number;
  ack?: number;
  flags?: number;
  options?: Uint8Array; // TCP options, a multiple of 4 bytes
  id?: number;
  ttl?: number;
  tos?: number;
  src?: number; // last byte of the source address (10.0.0.x / fd00::x), default 1
  dst?: number; // last byte of the destination address, default 2
  sport?: number;
  dport?: number;
  window?: number;
  ipOptions?: Uint8Array; // IPv4 options, a multiple of 4 bytes
}

/** A complete IP packet with valid checksums. */
export function buildPacket(s: PacketSpec): Uint8Array {
  const ipOpts = s.ipOptions ?? new Uint8Array(0);
  const ihl = s.v4 ? 20 + ipOpts.length : 40;
  const l4h = s.protocol === TCP ? 20 + (s.options?.length ?? 0) : 8;
  const total = ihl + l4h + s.payload.length;
  const p = new Uint8Array(total);
  const dv = new DataView(p.buffer);
  if (s.v4) {
    p[0] = 0x40 | (ihl / 4);
    p[1] = s.tos ?? 0;
    dv.setUint16(2, total);
    dv.setUint16(4, s.id ?? 0x1234);
    p[6] = 0x40; // DF
    p[8] = s.ttl ?? 64;
    p[9] = s.protocol;
    p.set([10, 0, 0, s.src ?? 1, 10, 0, 0, s.dst ?? 2], 12);
    p.set(ipOpts, 20);
    const c = ~refSum(p.subarray(0, ihl)) & 0xffff;
    dv.setUint16(10, c);
  } else {
    dv.setUint32(0, (6 << 28) | ((s.tos ?? 0) << 20) | 0xbeef);
    dv.setUint16(4, total - 40);
    p[6] = s.protocol;
    p[7] = s.ttl ?? 64;
    p.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s.src ?? 1], 8);
    p.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s.dst ?? 2], 24);
  }
  dv.setUint16(ihl, s.sport ?? 40000);
  dv.setUint16(ihl + 2, s.dport ?? 5201);
  if (s.protocol === TCP) {
    dv.setUint32(ihl + 4, s.seq ?? 1000);
    dv.setUint32(ihl + 8, s.ack ?? 777);
    p[ihl + 12] = (l4h / 4) << 4;
    p[ihl + 13] = s.flags ?? 0x10;
    dv.setUint16(ihl + 14, s.window ?? 502);
    if (s.options) p.set(s.options, ihl + 20);
  } else {
    dv.setUint16(ihl + 4, l4h + s.payload.length);
  }
  p.set(s.payload, ihl + l4h);
  const csumAt = ihl + (s.protocol === TCP ? 16 : 6);
  let c = ~refSum(pseudo(p, s.protocol, total - ihl), p.subarray(ihl)) & 0xffff;
  if (s.protocol === UDP && c === 0) c = 0xffff;
  dv.setUint16(csumAt, c);
  return p;
}

/** Turns a complete packet into what a TUN with offloads reads: transport checksum field = pseudo-header sum. */
export function makePartial(pkt: Uint8Array, protocol: number): Uint8Array {
  const p = Uint8Array.from(pkt);
  const ihl = ipHeaderLen(p);
  const at = ihl + (protocol === TCP ? 16 : 6);
  const partial = refSum(pseudo(p, protocol, p.length - ihl));
  p[at] = partial >> 8;
  p[at + 1] = partial & 0xff;
  return p;
}
