/**
 * Run inside a network namespace by tun-offload.test.ts (bundled by esbuild and run with one argument: offload, plain or refused):
 * opens TUN `tofl0` through openTun, gives the kernel 10.0.0.1/24 on it and plays a TCP peer at
 * 10.0.0.2 by hand through the TUN, so the kernel's TCP is on the other side of our offload code:
 * - we connect to a server on 10.0.0.1:5201 and send 50,000 bytes as 1000-byte segments, coalesced
 *   by coalesceTcp into super-packets when the TUN has a virtio_net_hdr (GRO writes);
 * - the server answers with 200,000 bytes, which the kernel may hand us as TSO super-packets; we
 *   cut them with segmentPacket, check every segment's checksums independently and ACK in order.
 * Prints one JSON line with what happened. Traffic never leaves the namespace.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { coalesceTcp } from '../../../src/userspace-fallback/offload/gro-coalesce.js';
import { OffloadError, segmentPacket } from '../../../src/userspace-fallback/offload/gso-segment.js';
import {
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_LEN,
  decodeVirtioNetHdr,
  encodeVirtioNetHdr,
  plainVirtioNetHdr,
  type VirtioNetHdr,
} from '../../../src/userspace-fallback/offload/virtio-net-hdr.js';
import { openTun } from '../../../src/userspace-fallback/tun-offload.js';
import { setNonBlocking, sys } from '../../../src/system/libc.js';
import { buildPacket, checksumsVerify, TCP } from '../../userspace-fallback/offload/packets.js';

const mode = process.argv[2];
const UP = 50_000;
const DOWN = 200_000;
const PORT = 5201;
const SPORT = 40000;
const ISN = 0x10000000;
const pattern = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (i * k + (i >> 8)) & 0xff);

const tun = mode === 'refused' ? openTun('tofl0', true, [0x100000]) : openTun('tofl0', mode === 'offload');
execFileSync('ip', ['addr', 'add', '10.0.0.1/24', 'dev', tun.name]);
execFileSync('ip', ['link', 'set', tun.name, 'up']);
setNonBlocking(tun.fd, true);

const stats = { vnetHdr: tun.vnetHdr, offloads: tun.offloads, reads: 0, gsoReads: 0, largestRead: 0, segments: 0, badChecksums: 0, superWrites: 0, writeErrors: 0, upOk: false, downOk: false, error: '' };

const up = pattern(UP, 7);
const down = pattern(DOWN, 13);
let serverGot = Buffer.alloc(0);
const server = createServer((sock) => {
  sock.on('data', (d) => {
    serverGot = Buffer.concat([serverGot, d]);
    if (serverGot.length === UP) {
      stats.upOk = serverGot.equals(up);
      sock.end(down);
    }
  });
  sock.on('error', () => undefined);
});
server.listen(PORT, '10.0.0.1');

function writeTun(hdr: VirtioNetHdr, pkt: Uint8Array): void {
  let buf = pkt;
  if (tun.vnetHdr) {
    buf = new Uint8Array(VIRTIO_NET_HDR_LEN + pkt.length);
    encodeVirtioNetHdr(hdr, buf, 0);
    buf.set(pkt, VIRTIO_NET_HDR_LEN);
  }
  if (sys.write(tun.fd, buf, buf.length) < 0) stats.writeErrors++;
}
const seg = (o: { seq: number; ack: number; flags: number; payload?: Uint8Array; options?: Uint8Array }) =>
  buildPacket({ v4: true, protocol: TCP, src: 2, dst: 1, sport: SPORT, dport: PORT, window: 65535, id: 1, payload: o.payload ?? new Uint8Array(0), ...o });

let serverNext = -1; // next sequence number we expect from the server
const received = new Map<number, Uint8Array>();
let downBytes = 0;
const downBuf = new Uint8Array(DOWN);

function onSegment(p: Uint8Array): void {
  if (p[0]! >> 4 !== 4 || p[9] !== TCP || p[19] !== 2) return; // not TCP to 10.0.0.2 (IPv6 chatter on link-up)
  stats.segments++;
  if (!checksumsVerify(p, TCP)) {
    stats.badChecksums++;
    return;
  }
  const dv = new DataView(p.buffer, p.byteOffset, p.length);
  const seq = dv.getUint32(24);
  const flags = p[33]!;
  const hl = (p[32]! >> 4) * 4;
  const payload = p.subarray(20 + hl);
  if (flags & 0x02 && flags & 0x10) {
    // SYN-ACK: complete the handshake, then send our data, coalesced when the TUN allows it.
    serverNext = (seq + 1) >>> 0;
    writeTun(plainVirtioNetHdr(), seg({ seq: ISN + 1, ack: serverNext, flags: 0x10 }));
    const segments: Uint8Array[] = [];
    for (let off = 0; off < UP; off += 1000) {
      segments.push(seg({ seq: ISN + 1 + off, ack: serverNext, flags: off + 1000 >= UP ? 0x18 : 0x10, payload: up.subarray(off, off + 1000) }));
    }
    if (tun.vnetHdr) {
      for (const w of coalesceTcp(segments)) {
        if (w.hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE) stats.superWrites++;
        writeTun(w.hdr, w.packet);
      }
    } else {
      for (const s of segments) writeTun(plainVirtioNetHdr(), s);
    }
    return;
  }
  if (serverNext < 0 || payload.length === 0) return;
  const off = (seq - ((serverNext - downBytes) >>> 0)) >>> 0;
  if (off < DOWN) received.set(off, Uint8Array.from(payload));
}

function ackInOrder(): void {
  let advanced = false;
  for (let p = received.get(downBytes); p; p = received.get(downBytes)) {
    received.delete(downBytes);
    downBuf.set(p.subarray(0, DOWN - downBytes), downBytes);
    downBytes += p.length;
    serverNext = (serverNext + p.length) >>> 0;
    advanced = true;
  }
  if (advanced) writeTun(plainVirtioNetHdr(), seg({ seq: ISN + 1 + UP, ack: serverNext, flags: 0x10 }));
  if (downBytes >= DOWN) stats.downOk = Buffer.from(downBuf).equals(down);
}

const buf = new Uint8Array(VIRTIO_NET_HDR_LEN + 65536);
// Room for a 64 KiB super-packet cut into segments: its payload plus headers per segment.
const scratch = new Uint8Array(2 * 65536);
const deadline = Date.now() + 20_000;
function pump(): void {
  for (;;) {
    const n = sys.read(tun.fd, buf, buf.length);
    if (n < 0) break;
    stats.reads++;
    try {
      if (tun.vnetHdr) {
        const hdr = decodeVirtioNetHdr(buf, 0);
        if (hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE) stats.gsoReads++;
        stats.largestRead = Math.max(stats.largestRead, n - VIRTIO_NET_HDR_LEN);
        segmentPacket(hdr, buf.subarray(VIRTIO_NET_HDR_LEN, n), scratch, onSegment);
      } else {
        stats.largestRead = Math.max(stats.largestRead, n);
        onSegment(buf.subarray(0, n));
      }
    } catch (err) {
      if (!(err instanceof OffloadError)) throw err;
      stats.error ||= err.message;
    }
  }
  ackInOrder();
  if ((stats.upOk && stats.downOk) || Date.now() > deadline) {
    console.log(JSON.stringify(stats));
    process.exit(0);
  }
  setTimeout(pump, 1); // the fd is non-blocking: look again shortly, until done or the deadline
}

server.on('listening', () => {
  writeTun(plainVirtioNetHdr(), seg({ seq: ISN, ack: 0, flags: 0x02, options: Uint8Array.of(2, 4, 0x05, 0xb4) }));
  pump();
});
