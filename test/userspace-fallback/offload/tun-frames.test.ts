import { describe, expect, it } from 'vitest';
import { TunFramer } from '../../../src/userspace-fallback/offload/tun-frames.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_LEN,
  decodeVirtioNetHdr,
  encodeVirtioNetHdr,
  plainVirtioNetHdr,
  type VirtioNetHdr,
} from '../../../src/userspace-fallback/offload/virtio-net-hdr.js';
import { buildPacket, checksumsVerify, makePartial, sameBytes, TCP } from './packets.js';

const framed = (hdr: VirtioNetHdr, pkt: Uint8Array) => {
  const b = new Uint8Array(VIRTIO_NET_HDR_LEN + pkt.length);
  encodeVirtioNetHdr(hdr, b, 0);
  b.set(pkt, VIRTIO_NET_HDR_LEN);
  return b;
};

describe('TunFramer', () => {
  it('turns a TSO read into verified segments and a plain read into itself', () => {
    const f = new TunFramer();
    const payload = Uint8Array.from({ length: 64000 }, (_, i) => i & 0xff);
    const pkt = makePartial(buildPacket({ v4: true, protocol: TCP, payload }), TCP);
    const hdr = { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 40, gsoSize: 1380, csumStart: 20, csumOffset: 16 };
    const segs = f.unframeRead(framed(hdr, pkt));
    expect(segs).toHaveLength(Math.ceil(64000 / 1380));
    expect(segs.every((s) => checksumsVerify(s, TCP))).toBe(true);
    expect(sameBytes(Buffer.concat(segs.map((s) => s.subarray(40))), payload)).toBe(true);
    const plain = buildPacket({ v4: false, protocol: TCP, payload: new Uint8Array(10) });
    expect(f.unframeRead(framed(plainVirtioNetHdr(), plain)).map((s) => [...s])).toEqual([[...plain]]);
    expect(f.malformed).toBe(0);
  });

  it('drops and counts reads it cannot cut: too short, a bad header, more segments than the batch', () => {
    const f = new TunFramer(8);
    const pkt = makePartial(buildPacket({ v4: true, protocol: TCP, payload: new Uint8Array(2000) }), TCP);
    const good = { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 40, gsoSize: 1000, csumStart: 20, csumOffset: 16 };
    expect(f.unframeRead(new Uint8Array(10))).toEqual([]);
    expect(f.unframeRead(framed({ ...good, csumOffset: 6 }, pkt))).toEqual([]);
    expect(f.unframeRead(framed({ ...good, gsoSize: 100 }, pkt))).toEqual([]);
    expect(f.malformed).toBe(3);
    expect(f.unframeRead(framed(good, pkt))).toHaveLength(2);
  });

  it('frames a batch for writing: one super-packet per flow, a header before every write', () => {
    const f = new TunFramer();
    const segs = [0, 1, 2, 3].map((i) => buildPacket({ v4: true, protocol: TCP, seq: 1 + i * 1000, id: 0x1234 + i, payload: new Uint8Array(1000).fill(i) }));
    const other = buildPacket({ v4: true, protocol: TCP, sport: 1234, payload: new Uint8Array(5) });
    const writes = f.frameWrites([segs[0]!, other, ...segs.slice(1)]);
    expect(writes.map((w) => decodeVirtioNetHdr(w, 0).gsoType)).toEqual([VIRTIO_NET_HDR_GSO_TCPV4, 0]);
    expect(writes.map((w) => w.length - VIRTIO_NET_HDR_LEN)).toEqual([4040, other.length]);
    expect(sameBytes(writes[1]!.subarray(VIRTIO_NET_HDR_LEN), other)).toBe(true);
    // The super-packet, read back as the kernel would see it, is the four segments again.
    // writeInto builds the same writes in room the caller reserves (here views of one ring-like
    // buffer, its bytes dirty as a reused ring's are); a null reservation drops that write.
    const ring = new Uint8Array(1 << 16).fill(0xee);
    const each: Uint8Array[] = [];
    let at = 0;
    const dropped = f.writeInto([segs[0]!, other, ...segs.slice(1)], (len) => {
      const v = ring.subarray(at, at + len);
      at += len;
      each.push(v);
      return v;
    });
    expect(dropped).toBe(0);
    expect(each.length).toBe(writes.length);
    each.forEach((w, i) => expect(sameBytes(w, writes[i]!)).toBe(true));
    expect(f.writeInto([segs[0]!, other], () => null)).toBe(2);
    const back = f.unframeRead(writes[0]!);
    expect(back).toHaveLength(4);
    back.forEach((s, i) => expect(sameBytes(s, segs[i]!)).toBe(true));
  });
});
