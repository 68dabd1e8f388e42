/**
 * `Bind` over real UDP sockets: one IPv4 and one IPv6 (IPV6_V6ONLY) socket on the same port, as
 * wireguard-go's StdNetBind does.
 *
 * The sockets are made with libc through koffi (system/libc.ts) instead of node:dgram, because dgram can
 * neither set SO_MARK (wg-quick's fwmark 51820 for full tunnels) nor hand out raw datagrams without a
 * callback and an rinfo object per packet. Receiving runs in the reader worker that also reads the
 * TUN (poll + recvfrom into a ring of the Bind's own, ring-reader.ts), waking the main thread once per
 * burst; sending puts the datagram into the write ring shared with the TUN (sealed there by the
 * device, reserve(); ring-writer.ts), from which sendmmsg() batches with UDP GSO trains go out
 * (write-drain.ts), the writer worker waiting for POLLOUT when the 7 MiB socket buffer is full.
 * WGTS_SYNC_WRITES=1 sends synchronously instead (dropping and counting on a full buffer).
 *
 * Endpoints: IPv4 and IPv4-mapped IPv6 destinations go out of the IPv4 socket; the IPv6 socket never
 * sees v4-mapped sources because it is v6-only. Received source addresses become WgEndpoint objects
 * with Go's text form (wireguard-go's UAPI prints them that way); the last one is cached so a steady
 * flow from one peer allocates nothing per packet.
 */
import type { WgEndpoint } from '../conf/model.js';
import { EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EINVAL } from '../conf/errno.js';
import { formatIPv4, formatIPv6Go, parseIPv4, parseIPv6 } from '../conf/ip.js';
import { AF_INET, AF_INET6, parseSockaddr, encodeSockaddrIn, encodeSockaddrIn6 } from '../conf/sockaddr.js';
import type { Bind } from './bind.js';
import {
  IPPROTO_IPV6, IPV6_V6ONLY, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET,
  SOL_UDP, SO_MARK, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUF, SO_SNDBUFFORCE, UDP_GRO, int32, sys, sysError,
} from '../system/libc.js';
import { RingReader, reportPacketBug } from './ring-reader.js';
import { UNDER_LOAD_AFTER_MS, UNDER_LOAD_BACKLOG } from './reader-spec.js';
import { SYNC_WRITES, acquireWriter, releaseWriter, type RingWriter } from './ring-writer.js';

/** wireguard-go asks for 7 MiB socket buffers (FORCE variants when privileged). */
const SOCKET_BUFFER = 7 << 20;
/** Largest UDP payload. */
const MAX_DATAGRAM = 65535;

interface Sock {
  fd: number;
  family: 4 | 6;
}

/** sockaddr_in / sockaddr_in6 bytes for an endpoint; null when the host is not a numeric address. */
export function sockaddrOf(ep: WgEndpoint): { sa: Uint8Array; family: 4 | 6 } | null {
  let host = ep.host;
  let scope = 0;
  const pct = host.indexOf('%');
  if (pct !== -1) {
    const zone = host.slice(pct + 1);
    host = host.slice(0, pct);
    scope = /^[0-9]+$/.test(zone) ? Number(zone) : ifIndex(zone);
  }
  const v4 = host.includes(':') ? null : parseIPv4(host);
  if (v4) return { sa: encodeSockaddrIn(v4, ep.port), family: 4 };
  const v6 = parseIPv6(host);
  if (!v6) return null;
  if (isV4Mapped(v6)) return { sa: encodeSockaddrIn(v6.subarray(12), ep.port), family: 4 };
  return { sa: encodeSockaddrIn6(v6, ep.port, scope), family: 6 };
}

function isV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

function ifIndex(name: string): number {
  return sys.if_nametoindex(name);
}

function ifIndexToName(index: number): string {
  const buf = Buffer.alloc(16);
  return sys.if_indextoname(index, buf) ? buf.toString('latin1', 0, Math.max(0, buf.indexOf(0))) : String(index);
}

/** The endpoint a received sockaddr names (Go's text form). */
export function endpointOf(sa: Uint8Array): WgEndpoint {
  const f = parseSockaddr(sa);
  if (f === undefined) throw new RangeError('received a source address that is neither AF_INET nor AF_INET6');
  const { addr, port, scope } = f;
  if (f.family === 4) return { family: 4, host: formatIPv4(addr), port };
  if (isV4Mapped(addr)) return { family: 4, host: formatIPv4(addr.subarray(12)), port };
  const host = formatIPv6Go(addr) + (scope !== 0 ? `%${ifIndexToName(scope)}` : '');
  return { family: 6, host, port };
}

export interface UdpBindOptions {
  /**
   * A device's Bind: datagrams are sorted in the reader worker, handshake messages checked (mac1)
   * and queued on a lane of their own (RingReaderOptions.handshakes). Off, every datagram is
   * delivered as it came (a plain UDP transport).
   */
  handshakeLane?: boolean;
}

export class UdpBind implements Bind {
  constructor(private readonly opts: UdpBindOptions = {}) {}

  private socks: Sock[] = [];
  /** Our ring in the reader worker, which polls both sockets. */
  private reader: RingReader | undefined;
  private port = 0;
  private mark = 0;
  private receiveCb: (packet: Uint8Array, from: WgEndpoint) => void = () => undefined;
  private saCache = new WeakMap<WgEndpoint, { sa: Uint8Array; family: 4 | 6 } | null>();
  private lastSa = new Uint8Array(28);
  private lastEp: WgEndpoint | undefined;
  /** Sends go through the shared RingWriter (acquireWriter); undefined until the first open or with WGTS_SYNC_WRITES=1. */
  private writer: RingWriter | undefined;
  /** Datagrams dropped on send (no socket for the family, buffer full, unreachable...). */
  sendErrors = 0;
  private mac1Key: Uint8Array | null = null;
  private lastUnderLoad = -Infinity;
  /** The reader's count of dropped handshake messages at the last underLoad(). */
  private handshakesDropped = 0;

  async open(port: number): Promise<number> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw sysError(`invalid port ${port}`, EINVAL);
    if (this.socks.length > 0 && port !== 0 && port === this.port) return this.port;
    const fresh = this.bindPair(port);
    const old = this.socks;
    const oldReader = this.reader;
    this.socks = fresh.socks;
    this.port = fresh.port;
    this.lastEp = undefined;
    this.reader = undefined;
    await this.closeSocks(old, oldReader);
    this.startReader();
    if (!this.writer && !SYNC_WRITES) this.writer = acquireWriter();
    return this.port;
  }

  /** Binds v4 and v6 on `port` (0: random, retried until both families get the same one). */
  private bindPair(port: number): { socks: Sock[]; port: number } {
    let lastErr: Error | undefined;
    for (let attempt = 0; attempt < (port === 0 ? 100 : 1); attempt++) {
      const socks: Sock[] = [];
      try {
        const s4 = this.makeSocket(4, port);
        socks.push(s4.sock);
        const bound = s4.port;
        try {
          socks.push(this.makeSocket(6, bound).sock);
        } catch (err) {
          const code = (err as { errno?: number }).errno;
          // No IPv6 on this host or namespace: run v4-only, as wireguard-go does.
          if (code !== EAFNOSUPPORT && code !== EADDRNOTAVAIL) throw err;
        }
        return { socks, port: bound };
      } catch (err) {
        for (const s of socks) sys.close(s.fd);
        lastErr = err as Error;
        if ((err as { errno?: number }).errno !== EADDRINUSE) break;
      }
    }
    throw lastErr ?? sysError('bind', EADDRINUSE);
  }

  private makeSocket(family: 4 | 6, port: number): { sock: Sock; port: number } {
    const fd = sys.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sysError(`socket(${family === 4 ? 'AF_INET' : 'AF_INET6'})`, sys.errno());
    try {
      const big = int32(SOCKET_BUFFER);
      if (sys.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, big, 4) < 0) sys.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, big, 4);
      if (sys.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, big, 4) < 0) sys.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, big, 4);
      if (family === 6 && sys.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, int32(1), 4) < 0) {
        throw sysError('setsockopt(IPV6_V6ONLY)', sys.errno());
      }
      // UDP GRO (udp(7)): a GSO train or a run the NIC coalesced arrives as one buffer, which the
      // reader worker cuts back into its datagrams (udp-gro.ts); it costs the sender less too, as
      // the kernel need not segment the train on its way up. WGTS_UDP_GRO=0 reads datagram by
      // datagram; a kernel without it (before 5.0: ENOPROTOOPT) does the same.
      if (process.env.WGTS_UDP_GRO !== '0') sys.setsockopt(fd, SOL_UDP, UDP_GRO, int32(1), 4);
      if (this.mark !== 0 && sys.setsockopt(fd, SOL_SOCKET, SO_MARK, int32(this.mark), 4) < 0) {
        throw sysError('setsockopt(SO_MARK)', sys.errno());
      }
      const sa = family === 4 ? encodeSockaddrIn(new Uint8Array(4), port) : encodeSockaddrIn6(new Uint8Array(16), port, 0);
      if (sys.bind(fd, sa, sa.length) < 0) throw sysError(`bind ${family === 4 ? '0.0.0.0' : '[::]'}:${port}`, sys.errno());
      const out = new Uint8Array(28);
      const len = new Uint32Array([28]);
      if (sys.getsockname(fd, out, len) < 0) throw sysError('getsockname', sys.errno());
      return { sock: { fd, family }, port: new DataView(out.buffer).getUint16(2, false) };
    } catch (err) {
      sys.close(fd);
      throw err;
    }
  }

  private startReader(): void {
    const deliver = (packets: Uint8Array[], addrs: Uint8Array[]): void => {
      for (let i = 0; i < packets.length; i++) {
        try {
          this.receiveCb(packets[i]!, this.fromSockaddr(addrs[i]!));
        } catch (err) {
          reportPacketBug(err); // one bad datagram must not cost the rest of the burst
        }
      }
    };
    this.reader = new RingReader({
      fds: this.socks.map((s) => s.fd),
      maxPacket: MAX_DATAGRAM,
      withAddr: true,
      onPackets: deliver,
      onError: () => undefined,
      handshakes: this.opts.handshakeLane ? { onPackets: deliver } : undefined,
    });
    this.reader.setMac1Key(this.mac1Key);
    this.reader.start();
  }

  /** Bind: the key incoming handshakes' mac1 must verify with (checked in the reader worker). */
  setMac1Key(key: Uint8Array | null): void {
    this.mac1Key = key && key.slice();
    this.reader?.setMac1Key(this.mac1Key);
  }

  /**
   * Bind: under load while the handshake lane is at least 1/8 full (the kernel's receive.c measure,
   * its queue of 4096 against 512) or the reader dropped handshake messages since the last look
   * (lane full, or a source over its rate, reader-burst.ts sort()), and for a second after.
   */
  underLoad(now: number): boolean {
    const reader = this.reader;
    if (!reader) return false;
    const dropped = reader.handshakesDropped();
    if (reader.handshakeBacklog() >= UNDER_LOAD_BACKLOG || dropped !== this.handshakesDropped) this.lastUnderLoad = now;
    this.handshakesDropped = dropped;
    return now - this.lastUnderLoad < UNDER_LOAD_AFTER_MS;
  }

  /** Datagrams the reader worker dropped before the main thread saw them. */
  gateCounters(): { mac1Failed: number; handshakesDropped: number; junk: number } | undefined {
    return this.reader?.gateCounters();
  }

  private fromSockaddr(sa: Uint8Array): WgEndpoint {
    const last = this.lastSa;
    const n = sa[0] === AF_INET ? 8 : 28;
    if (this.lastEp) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (sa[i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastEp;
    }
    last.set(sa.subarray(0, 28));
    this.lastEp = endpointOf(sa);
    return this.lastEp;
  }

  async setMark(mark: number): Promise<void> {
    for (const s of this.socks) {
      if (sys.setsockopt(s.fd, SOL_SOCKET, SO_MARK, int32(mark), 4) < 0) throw sysError('setsockopt(SO_MARK)', sys.errno());
    }
    this.mark = mark >>> 0;
  }

  /** The socket and sockaddr for `to`, or undefined (no address, no socket of its family). */
  private route(to: WgEndpoint): { fd: number; sa: Uint8Array } | undefined {
    let dest = this.saCache.get(to);
    if (dest === undefined) {
      dest = sockaddrOf(to);
      this.saCache.set(to, dest);
    }
    if (!dest) return undefined;
    let sock: Sock | undefined;
    for (const s of this.socks) if (s.family === dest.family) sock = s;
    return sock && { fd: sock.fd, sa: dest.sa };
  }

  send(packets: Uint8Array[], to: WgEndpoint): void {
    const r = this.route(to);
    if (!r) {
      this.sendErrors += packets.length;
      return;
    }
    const writer = this.writer;
    if (writer) {
      for (const p of packets) if (!writer.push(r.fd, p, r.sa)) this.sendErrors++;
      writer.flush();
      return;
    }
    for (const p of packets) {
      if (sys.sendto(r.fd, p, p.length, 0, r.sa, r.sa.length) < 0) this.sendErrors++;
    }
  }

  /** Bind.reserve: room in the writer's ring (see RingWriter.reserve); without a writer, a fresh buffer sent by sendReserved. */
  reserve(len: number, to: WgEndpoint): Uint8Array | null {
    const r = this.route(to);
    const out = !r ? null : this.writer ? this.writer.reserve(r.fd, len, r.sa) : new Uint8Array(len);
    if (out === null) this.sendErrors++;
    else if (!this.writer) this.reserved.push({ packet: out, to });
    return out;
  }

  /** Bind.sendReserved. */
  sendReserved(): void {
    if (this.writer) return this.writer.flush();
    for (const { packet, to } of this.reserved.splice(0)) this.send([packet], to);
  }

  private readonly reserved: Array<{ packet: Uint8Array; to: WgEndpoint }> = [];

  onReceive(cb: (packet: Uint8Array, from: WgEndpoint) => void): void {
    this.receiveCb = cb;
  }

  /** The port currently bound (0 when closed). */
  get listenPort(): number {
    return this.socks.length > 0 ? this.port : 0;
  }

  private async closeSocks(socks: Sock[], reader: RingReader | undefined): Promise<void> {
    if (reader) await reader.stop();
    // Datagrams still queued for these fds must go out (or fail) before the numbers can be reused.
    await this.writer?.settle();
    for (const s of socks) sys.close(s.fd);
  }

  async close(): Promise<void> {
    const old = this.socks;
    const reader = this.reader;
    this.socks = [];
    this.reader = undefined;
    this.port = 0;
    const writer = this.writer;
    this.writer = undefined;
    // Release the writer first: it may still hold datagrams for the fds about to be closed.
    if (writer) await releaseWriter(writer);
    await this.closeSocks(old, reader);
  }
}
