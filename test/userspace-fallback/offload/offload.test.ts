import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coalesceTcp, type TunWrite } from '../../../src/userspace-fallback/offload/gro-coalesce.js';
import { OffloadError, segmentPacket } from '../../../src/userspace-fallback/offload/gso-segment.js';
import { checksumOf, foldSum, sumBytes } from '../../../src/userspace-fallback/offload/inet-checksum.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  decodeVirtioNetHdr,
  encodeVirtioNetHdr,
  type VirtioNetHdr,
} from '../../../src/userspace-fallback/offload/virtio-net-hdr.js';
import { buildPacket, checksumsVerify, ipHeaderLen, makePartial, refSum, sameBytes, TCP, UDP, type PacketSpec } from './packets.js';

const FIN = 0x01;
const PSH = 0x08;
const ACK = 0x10;
const CWR = 0x80;

/** The header a TUN with TSO/USO reads before a super-packet built from `spec`. */
function superPacket(spec: PacketSpec, gsoSize: number): { hdr: VirtioNetHdr; pkt: Uint8Array } {
  const pkt = makePartial(buildPacket(spec), spec.protocol);
  const ihl = ipHeaderLen(pkt);
  const tcp = spec.protocol === TCP;
  return {
    hdr: {
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: tcp ? (spec.v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6) : VIRTIO_NET_HDR_GSO_UDP_L4,
      hdrLen: ihl + (tcp ? 20 + (spec.options?.length ?? 0) : 8),
      gsoSize,
      csumStart: ihl,
      csumOffset: tcp ? 16 : 6,
    },
    pkt,
  };
}

function split(hdr: VirtioNetHdr, pkt: Uint8Array, maxSegments = 100_000): Uint8Array[] {
  const out: Uint8Array[] = [];
  segmentPacket(hdr, pkt, new Uint8Array(140_000), (s) => out.push(Uint8Array.from(s)), maxSegments);
  return out;
}

const u16 = (p: Uint8Array, at: number) => (p[at]! << 8) | p[at + 1]!;
const u32 = (p: Uint8Array, at: number) => ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0;
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('Internet checksum (RFC 1071)', () => {
  it('matches the worked example of RFC 1071 §3 and a known IPv4 header', () => {
    // RFC 1071: the words 0001 f203 f4f5 f6f7 sum to 2ddf0, folded ddf2.
    const words = hex('0001 f203 f4f5 f6f7');
    expect(foldSum(sumBytes(words, 0, 8))).toBe(0xddf2);
    expect(checksumOf(sumBytes(words, 0, 8))).toBe(0x220d);
    // An IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199) whose checksum field is b861.
    const ip = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(checksumOf(sumBytes(ip, 0, 20))).toBe(0xb861);
    // Odd length: the last byte is the high half of a word.
    expect(foldSum(sumBytes(Uint8Array.of(0x12, 0x34, 0x56), 0, 3))).toBe(0x1234 + 0x5600);
  });

  it('agrees with the independent sum on random data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(0xffff), fc.nat(7), fc.nat(7), (data, init, lead, from) => {
        // At every alignment of the buffer and of the start (the 32-bit fast path and the byte path).
        const buf = new Uint8Array(lead + data.length);
        buf.set(data, lead);
        const view = buf.subarray(lead);
        const start = Math.min(from, data.length);
        const ours = foldSum(sumBytes(view, start, data.length, init));
        const ref = refSum(Uint8Array.of(init >> 8, init & 0xff), data.subarray(start));
        // 0 and 0xffff are the same number in ones' complement.
        expect(ours % 0xffff).toBe(ref % 0xffff);
      }),
      { seed: 1306, numRuns: 300 },
    );
  });
});

describe('virtio_net_hdr codec', () => {
  it('lays out struct virtio_net_hdr in little- and big-endian order', () => {
    const hdr = { flags: 1, gsoType: 4, hdrLen: 0x4a, gsoSize: 0x5a8, csumStart: 0x28, csumOffset: 0x10 };
    const le = new Uint8Array(10);
    encodeVirtioNetHdr(hdr, le, 0, true);
    expect([...le]).toEqual([1, 4, 0x4a, 0, 0xa8, 5, 0x28, 0, 0x10, 0]);
    const be = new Uint8Array(12);
    encodeVirtioNetHdr(hdr, be, 2, false);
    expect([...be.subarray(2)]).toEqual([1, 4, 0, 0x4a, 5, 0xa8, 0, 0x28, 0, 0x10]);
    expect(decodeVirtioNetHdr(le, 0, true)).toEqual(hdr);
    expect(decodeVirtioNetHdr(be, 2, false)).toEqual(hdr);
  });

  it('round-trips any header and rejects short buffers and out-of-range fields', () => {
    const field16 = fc.nat(0xffff);
    fc.assert(
      fc.property(fc.record({ flags: fc.nat(255), gsoType: fc.nat(255), hdrLen: field16, gsoSize: field16, csumStart: field16, csumOffset: field16 }), (h) => {
        const b = new Uint8Array(10);
        encodeVirtioNetHdr(h, b);
        expect(decodeVirtioNetHdr(b)).toEqual(h);
      }),
      { seed: 1307, numRuns: 200 },
    );
    expect(() => decodeVirtioNetHdr(new Uint8Array(9))).toThrow(RangeError);
    expect(() => encodeVirtioNetHdr({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0x10000, csumStart: 0, csumOffset: 0 }, new Uint8Array(10))).toThrow(/gso_size/);
    expect(() => encodeVirtioNetHdr({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 }, new Uint8Array(10), 1)).toThrow(RangeError);
  });
});

describe('segmentPacket (TSO/USO in userspace)', () => {
  it('cuts an IPv4 TCP super-packet: lengths, IDs, sequence numbers, flags and checksums', () => {
    const payload = Uint8Array.from({ length: 2500 }, (_, i) => i & 0xff);
    const { hdr, pkt } = superPacket({ v4: true, protocol: TCP, payload, seq: 0xfffffc00, id: 0xffff, flags: ACK | PSH | FIN | CWR }, 1000);
    const segs = split(hdr, pkt);
    expect(segs.map((s) => s.length)).toEqual([1040, 1040, 540]);
    expect(segs.map((s) => u16(s, 2))).toEqual([1040, 1040, 540]); // total length
    expect(segs.map((s) => u16(s, 4))).toEqual([0xffff, 0, 1]); // identification wraps
    expect(segs.map((s) => u32(s, 24))).toEqual([0xfffffc00, 0xffffffe8, 0x3d0]); // sequence wraps
    expect(segs.map((s) => s[33])).toEqual([ACK | CWR, ACK, ACK | PSH | FIN]);
    for (const s of segs) expect(checksumsVerify(s, TCP)).toBe(true);
    expect(Buffer.concat(segs.map((s) => s.subarray(40)))).toEqual(Buffer.from(payload));
  });

  it('cuts an IPv6 UDP (USO) super-packet: payload and UDP lengths, checksums', () => {
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    const { hdr, pkt } = superPacket({ v4: false, protocol: UDP, payload }, 1200);
    const segs = split(hdr, pkt);
    expect(segs.map((s) => s.length)).toEqual([1248, 1248, 648]);
    expect(segs.map((s) => u16(s, 4))).toEqual([1208, 1208, 608]); // IPv6 payload length
    expect(segs.map((s) => u16(s, 44))).toEqual([1208, 1208, 608]); // UDP length
    for (const s of segs) expect(checksumsVerify(s, UDP)).toBe(true);
  });

  it('sends a UDP checksum that computes to 0 as 0xffff (RFC 768)', () => {
    // Pick the two payload bytes that make the ones' complement sum 0xffff.
    const probe = buildPacket({ v4: true, protocol: UDP, payload: new Uint8Array(2) });
    const sum0 = refSum(Uint8Array.of(10, 0, 0, 1, 10, 0, 0, 2, 0, UDP, 0, 10), probe.subarray(20, 26));
    const x = 0xffff - sum0;
    const { hdr, pkt } = superPacket({ v4: true, protocol: UDP, payload: Uint8Array.of(x >> 8, x & 0xff) }, 1000);
    const [only] = split(hdr, pkt);
    expect(u16(only!, 26)).toBe(0xffff);
    expect(checksumsVerify(only!, UDP)).toBe(true);
  });

  it('finishes a partial checksum without GSO, and passes plain packets through untouched', () => {
    const plain = buildPacket({ v4: true, protocol: UDP, payload: Uint8Array.of(1, 2, 3) });
    const partial = makePartial(plain, UDP);
    const got = split({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 6 }, partial);
    expect(got).toEqual([plain]);
    const none = { flags: 0, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
    const seen: Uint8Array[] = [];
    segmentPacket(none, plain, new Uint8Array(0), (s) => seen.push(s));
    expect(seen[0]).toBe(plain);
  });

  it.each([
    ['GSO without NEEDS_CSUM', (h: VirtioNetHdr) => ({ ...h, flags: 0 }), /NEEDS_CSUM/],
    ['TCPV6 on IPv4', (h: VirtioNetHdr) => ({ ...h, gsoType: VIRTIO_NET_HDR_GSO_TCPV6 }), /non-IPv6/],
    ['UDP_L4 on a TCP packet', (h: VirtioNetHdr) => ({ ...h, gsoType: VIRTIO_NET_HDR_GSO_UDP_L4, csumOffset: 6 }), /protocol/],
    ['csum_offset not the TCP checksum', (h: VirtioNetHdr) => ({ ...h, csumOffset: 6 }), /csum_offset/],
    ['csum_start in the IP header', (h: VirtioNetHdr) => ({ ...h, csumStart: 10 }), /csum_start/],
    ['gso_size 0', (h: VirtioNetHdr) => ({ ...h, gsoSize: 0 }), /gso_size/],
    ['unknown gso_type', (h: VirtioNetHdr) => ({ ...h, gsoType: 3 }), /unsupported/],
    ['more segments than the batch', (h: VirtioNetHdr) => ({ ...h, gsoSize: 10 }), /more than 128/],
  ])('rejects %s', (_name, change, message) => {
    const { hdr, pkt } = superPacket({ v4: true, protocol: TCP, payload: new Uint8Array(2000) }, 1000);
    expect(() => segmentPacket(change(hdr), pkt, new Uint8Array(70_000), () => undefined)).toThrow(message);
    expect(() => segmentPacket(change(hdr), pkt, new Uint8Array(70_000), () => undefined)).toThrow(OffloadError);
  });

  it('rejects truncated headers and a too-small scratch buffer', () => {
    const { hdr, pkt } = superPacket({ v4: true, protocol: TCP, payload: new Uint8Array(2000) }, 1000);
    expect(() => segmentPacket(hdr, pkt.subarray(0, 30), new Uint8Array(70_000), () => undefined)).toThrow(/truncated/);
    expect(() => segmentPacket(hdr, pkt, new Uint8Array(500), () => undefined)).toThrow(/scratch/);
  });
});

const specArb = fc
  .record({
    v4: fc.boolean(),
    protocol: fc.constantFrom(TCP, UDP),
    payloadLen: fc.oneof(fc.nat(3000), fc.nat(65535 - 40 - 60)),
    seq: fc.nat(0xffffffff),
    ack: fc.nat(0xffffffff),
    id: fc.nat(0xffff),
    flags: fc.constantFrom(ACK, ACK | PSH, ACK | FIN, ACK | PSH | FIN, ACK | CWR, ACK | CWR | PSH),
    optWords: fc.nat(10),
    seed: fc.nat(),
    gsoDivisor: fc.integer({ min: 1, max: 200 }),
  })
  .map((r) => {
    const payload = Uint8Array.from({ length: r.payloadLen }, (_, i) => (i * 31 + r.seed) & 0xff);
    const options = Uint8Array.from({ length: r.optWords * 4 }, (_, i) => (i + r.seed) & 0xff);
    const spec: PacketSpec = { v4: r.v4, protocol: r.protocol, payload, seq: r.seq, ack: r.ack, id: r.id, flags: r.flags, options: r.protocol === TCP ? options : undefined };
    const gsoSize = Math.max(1, Math.min(65535, Math.ceil(r.payloadLen / r.gsoDivisor) + (r.seed % 7)));
    return { spec, gsoSize };
  });

describe('segmentPacket, property: every segment verifies and the payload is kept', () => {
  it('holds for random TCP/UDP super-packets over IPv4 and IPv6', () => {
    fc.assert(
      fc.property(specArb, ({ spec, gsoSize }) => {
        const { hdr, pkt } = superPacket(spec, gsoSize);
        const segs = split(hdr, pkt);
        const ihl = spec.v4 ? 20 : 40;
        const headers = hdr.hdrLen;
        expect(segs.length).toBe(Math.max(1, Math.ceil(spec.payload.length / gsoSize)));
        segs.forEach((s, i) => {
          expect(checksumsVerify(s, spec.protocol)).toBe(true);
          expect(s.length - headers).toBeLessThanOrEqual(gsoSize);
          if (spec.v4) expect(u16(s, 4)).toBe((spec.id! + i) & 0xffff);
          if (spec.protocol === TCP) {
            expect(u32(s, ihl + 4)).toBe((spec.seq! + i * gsoSize) >>> 0);
            const last = i === segs.length - 1;
            expect(s[ihl + 13]).toBe(spec.flags! & ~(last ? 0 : FIN | PSH) & ~(i === 0 ? 0 : CWR));
            expect(sameBytes(s.subarray(ihl + 20, headers), spec.options!)).toBe(true);
          }
        });
        expect(sameBytes(Buffer.concat(segs.map((s) => s.subarray(headers))), spec.payload)).toBe(true);
      }),
      { seed: 1308, numRuns: 100 },
    );
  });
});

/** What the kernel would take from these writes: super-packets cut again (by our segmenter). */
function resegment(writes: TunWrite[]): Uint8Array[] {
  return writes.flatMap((w) => (w.hdr.gsoType === VIRTIO_NET_HDR_GSO_NONE ? [w.packet] : split(w.hdr, w.packet)));
}

describe('coalesceTcp (GRO in userspace)', () => {
  const seg = (over: Partial<PacketSpec> & { n?: number } = {}) =>
    buildPacket({ v4: true, protocol: TCP, payload: new Uint8Array(over.n ?? 1000).fill(over.seq ?? 0), ...over });

  it('joins in-order segments of one flow into one super-packet with the right header', () => {
    const segs = [0, 1, 2].map((i) => seg({ seq: 1000 + i * 1000, flags: i === 2 ? ACK | PSH : ACK, id: 7 + i }));
    const writes = coalesceTcp(segs);
    expect(writes).toHaveLength(1);
    const { hdr, packet } = writes[0]!;
    expect(hdr).toEqual({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 40, gsoSize: 1000, csumStart: 20, csumOffset: 16 });
    expect(packet.length).toBe(3040);
    expect(u16(packet, 2)).toBe(3040);
    expect(refSum(packet.subarray(0, 20))).toBe(0xffff); // IPv4 header checksum
    expect(packet[33]).toBe(ACK | PSH);
    // The TCP checksum field holds the pseudo-header sum for the kernel to finish.
    expect(u16(packet, 36)).toBe(refSum(Uint8Array.of(10, 0, 0, 1, 10, 0, 0, 2, 0, TCP, 3020 >> 8, 3020 & 0xff)));
    expect(resegment(writes)).toEqual(segs);
  });

  it.each([
    ['a different acknowledgment number', { ack: 778 }],
    ['a different TTL', { ttl: 63 }],
    ['a different TOS (an ECN mark)', { tos: 3 }],
    ['a gap in the sequence', { seq: 2001 }],
    ['another source port', { sport: 40001 }],
    ['SYN set', { flags: 0x12 }],
    ['no payload', { n: 0 }],
    ['a larger payload than the first', { n: 1001 }],
    ['different TCP options', { options: Uint8Array.of(1, 1, 1, 1) }],
  ])('keeps apart a segment with %s', (_name, over) => {
    const a = seg({ seq: 1000 });
    const b = seg({ seq: 2000, ...over });
    const writes = coalesceTcp([a, b]);
    expect(writes.map((w) => w.hdr.gsoType)).toEqual([0, 0]);
    expect(writes.map((w) => w.packet)).toEqual([a, b]);
  });

  it('ends a super-packet after PSH or a short segment, and after maxSegments', () => {
    const afterPsh = coalesceTcp([seg({ seq: 1000, flags: ACK | PSH }), seg({ seq: 2000 })]);
    expect(afterPsh).toHaveLength(2);
    const afterShort = coalesceTcp([seg({ seq: 1000 }), seg({ seq: 2000, n: 500 }), seg({ seq: 2500 })]);
    expect(afterShort.map((w) => w.packet.length)).toEqual([1540, 1040]);
    const capped = coalesceTcp([0, 1, 2, 3, 4].map((i) => seg({ seq: 1000 + i * 1000 })), 2);
    expect(capped.map((w) => w.packet.length)).toEqual([2040, 2040, 1040]);
  });

  it('does not verify segment checksums (authenticated, as the kernel marks them CHECKSUM_UNNECESSARY)', () => {
    const good = [0, 1, 2].map((i) => seg({ seq: 1000 + i * 1000 }));
    const flipped = good.map((p) => Uint8Array.from(p));
    flipped[1]![100]! ^= 1;
    const w = coalesceTcp(flipped);
    expect(w).toHaveLength(1);
    // The bytes go through as they arrived; the super-packet carries the pseudo-header sum only.
    expect(w[0]!.packet.subarray(40 + 1000, 40 + 2000)).toEqual(flipped[1]!.subarray(40));
  });

  it('passes through packets that are not candidates: UDP, IPv4 options, fragments', () => {
    const udp = buildPacket({ v4: true, protocol: UDP, payload: new Uint8Array(100) });
    const withOpts = seg({ ipOptions: Uint8Array.of(1, 1, 1, 0) });
    const frag = Uint8Array.from(seg());
    frag[6] = 0x20; // MF
    const writes = coalesceTcp([udp, withOpts, frag]);
    expect(writes.map((x) => x.packet)).toEqual([udp, withOpts, frag]);
    expect(writes.every((x) => x.hdr.flags === 0 && x.hdr.gsoType === 0)).toBe(true);
  });

  it('property: segment -> coalesce -> segment again gives back exactly the segments, flows interleaved', () => {
    const flowArb = fc.record({
      v4: fc.boolean(),
      payloadLen: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 60000 })),
      gsoSize: fc.integer({ min: 500, max: 9000 }),
      seq: fc.nat(0xffffffff),
      id: fc.nat(0xffff),
      psh: fc.boolean(),
      optWords: fc.nat(10),
      seed: fc.nat(255),
    });
    fc.assert(
      fc.property(fc.array(flowArb, { minLength: 1, maxLength: 3 }), fc.nat(), (flows, shuffle) => {
        const perFlow = flows.map((f, k) => {
          const spec: PacketSpec = {
            v4: f.v4,
            protocol: TCP,
            payload: Uint8Array.from({ length: f.payloadLen }, (_, i) => (i + f.seed) & 0xff),
            seq: f.seq,
            id: f.id,
            flags: f.psh ? ACK | PSH : ACK,
            options: new Uint8Array(f.optWords * 4).fill(1),
            sport: 30000 + k,
          };
          const { hdr, pkt } = superPacket(spec, f.gsoSize);
          return split(hdr, pkt);
        });
        // Interleave the flows, keeping each flow's order.
        const batch: Uint8Array[] = [];
        const next = perFlow.map(() => 0);
        let r = shuffle;
        while (batch.length < perFlow.reduce((a, s) => a + s.length, 0)) {
          const k = r % perFlow.length;
          r = (r * 1103515245 + 12345) >>> 0;
          if (next[k]! < perFlow[k]!.length) batch.push(perFlow[k]![next[k]!++]!);
        }
        const writes = coalesceTcp(batch, 1000);
        for (const w of writes) if (w.hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE) expect(w.hdr.gsoType).toBe(w.packet[0]! >> 4 === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
        // Each flow in one write (its segments are in order, equal-sized but the last, PSH at the end).
        expect(writes).toHaveLength(flows.length);
        const back = resegment(writes);
        const sportOf = (p: Uint8Array) => u16(p, ipHeaderLen(p));
        for (let k = 0; k < flows.length; k++) {
          const got = back.filter((p) => sportOf(p) === 30000 + k);
          expect(got.length).toBe(perFlow[k]!.length);
          got.forEach((p, i) => expect(sameBytes(p, perFlow[k]![i]!)).toBe(true));
        }
      }),
      { seed: 1309, numRuns: 40 },
    );
  });
});
