/**
 * A TUN made of queues (the role of wireguard-go's tun/tuntest): `inject` plays packets the host
 * sends into the interface, `written` collects what the device delivers to the host. Plus ICMP echo
 * builders for IPv4 and IPv6.
 */
import type { Tun } from '../../src/userspace-fallback/tun.js';

export class FakeTun implements Tun {
  readonly written: Uint8Array[] = [];
  mtuValue = 1420;
  closed = false;
  private cb: ((packets: Uint8Array[]) => void) | null = null;
  private closeCbs: (() => void)[] = [];

  constructor(readonly name: string) {}

  start(onPackets: (packets: Uint8Array[]) => void): void {
    if (this.cb) throw new Error('FakeTun.start called twice');
    this.cb = onPackets;
  }

  /** Packets from the host into the tunnel, in one batch. The buffers are scribbled on afterwards,
   * as a real TUN reuses them, so a device that keeps a reference without copying is caught. */
  inject(...packets: Uint8Array[]): void {
    const bufs = packets.map((p) => p.slice());
    this.cb?.(bufs);
    for (const b of bufs) b.fill(0xee);
  }

  write(packets: Uint8Array[]): void {
    for (const p of packets) this.written.push(new Uint8Array(p)); // a plain copy (the device may hand Buffers)
  }

  mtu(): number {
    return this.mtuValue;
  }

  onClose(cb: () => void): void {
    this.closeCbs.push(cb);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCbs) cb();
  }

  /** Removes and returns what was written. */
  take(): Uint8Array[] {
    return this.written.splice(0);
  }
}

function checksum(b: Uint8Array, off: number, len: number, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  if (len & 1) s += b[off + len - 1]! << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

const ip4 = (s: string) => s.split('.').map(Number);

/** An IPv4 ICMP echo request (type 8) or reply (type 0) from src to dst. */
export function icmpEcho(src: string, dst: string, opts: { id?: number; seq?: number; payload?: number; reply?: boolean } = {}): Uint8Array {
  const payload = opts.payload ?? 56;
  const p = new Uint8Array(20 + 8 + payload);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 1;
  p.set(ip4(src), 12);
  p.set(ip4(dst), 16);
  v.setUint16(10, checksum(p, 0, 20));
  p[20] = opts.reply ? 0 : 8;
  v.setUint16(24, opts.id ?? 1);
  v.setUint16(26, opts.seq ?? 1);
  for (let i = 0; i < payload; i++) p[28 + i] = i & 0xff;
  v.setUint16(22, checksum(p, 20, 8 + payload));
  return p;
}

function ip6(s: string): Uint8Array {
  const [h, t] = s.split('::');
  const hg = h ? h.split(':') : [], tg = t ? t.split(':') : [];
  const groups = t === undefined ? hg : [...hg, ...Array<string>(8 - hg.length - tg.length).fill('0'), ...tg];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { const n = parseInt(g, 16); out[i * 2] = n >> 8; out[i * 2 + 1] = n & 0xff; });
  return out;
}

/** An ICMPv6 echo request (128) or reply (129) from src to dst. */
export function icmp6Echo(src: string, dst: string, opts: { id?: number; seq?: number; payload?: number; reply?: boolean } = {}): Uint8Array {
  const payload = opts.payload ?? 56;
  const p = new Uint8Array(40 + 8 + payload);
  const v = new DataView(p.buffer);
  p[0] = 0x60;
  v.setUint16(4, 8 + payload);
  p[6] = 58;
  p[7] = 64;
  p.set(ip6(src), 8);
  p.set(ip6(dst), 24);
  p[40] = opts.reply ? 129 : 128;
  v.setUint16(44, opts.id ?? 1);
  v.setUint16(46, opts.seq ?? 1);
  for (let i = 0; i < payload; i++) p[48 + i] = i & 0xff;
  // Pseudo-header checksum.
  const pseudo = new Uint8Array(40 + 8 + payload);
  pseudo.set(p.subarray(8, 40), 0);
  new DataView(pseudo.buffer).setUint32(32, 8 + payload);
  pseudo[39] = 58;
  pseudo.set(p.subarray(40), 40);
  v.setUint16(42, checksum(pseudo, 0, pseudo.length));
  return p;
}

/** Turns an echo request into the matching reply (swap addresses, type), as a host would. */
export function echoReply(req: Uint8Array): Uint8Array {
  const p = req.slice();
  if (p[0]! >> 4 === 4) {
    p.set(req.subarray(16, 20), 12);
    p.set(req.subarray(12, 16), 16);
    p[20] = 0;
    p[22] = 0; p[23] = 0;
    new DataView(p.buffer).setUint16(22, checksum(p, 20, p.length - 20));
  } else {
    p.set(req.subarray(24, 40), 8);
    p.set(req.subarray(8, 24), 24);
    p[40] = 129;
  }
  return p;
}
