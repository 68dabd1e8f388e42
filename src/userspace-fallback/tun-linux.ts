/**
 * `Tun` over Linux /dev/net/tun (IFF_TUN | IFF_NO_PI: bare IPv4/IPv6 packets, no header).
 *
 * Native layer: koffi, not an N-API addon. koffi ships prebuilt binaries (no compiler at install) and
 * a call costs about 0.4 µs (1 µs for a 1400-byte write(), measured: less than fs.writeSync), far
 * below the kernel's own cost per packet. Reads happen in a worker thread blocked in poll()/read()
 * and writes in another (ring-reader.ts; both shared with the UDP side), so the main thread pays no
 * syscall per packet: it is woken once per burst of up to 128 packets and only copies outgoing
 * packets into a ring. A hand-written addon would save only the FFI trampoline; the bench
 * (docs/benchmarks.md, "Data plane") shows the time going to crypto and the kernel, not to the FFI.
 *
 * Interface deletion (`ip link del`, how wg-quick down stops a userspace implementation): the kernel
 * detaches the queue, poll() reports POLLERR and read() fails with EBADFD (EFAULT if the read was
 * already blocked); the reader ends with that errno and onClose fires. Moving the interface to
 * another namespace does not disturb the fd.
 *
 * Link state: wireguard-go brings its device up and down with the interface (IFF_UP), so a device
 * whose link is down binds no socket and sends nothing. Like wireguard-go, onLinkState learns of
 * changes from the kernel as they happen: a NETLINK_ROUTE socket subscribed to RTMGRP_LINK, polled
 * by the TUN reader's worker along with the TUN (RingReaderOptions.onLink in ring-reader.ts: no extra
 * isolate), filtered on our ifindex. A poll would lag: with `ip link set up` on both ends and an
 * immediate ping, the first packet met a device still down (dropped) or a peer whose socket was not
 * bound yet (initiation lost, the ping waits 5 s for the retry). The state is looked up once
 * (SIOCGIFFLAGS) when the watch starts, again when the subscription is in place, and after ENOBUFS
 * (notifications dropped). Without a subscription SIOCGIFFLAGS is polled every 250 ms instead.
 *
 * Moving the interface to another namespace (`ip link set X netns NS`): the kernel takes it down
 * (RTM_NEWLINK without IFF_UP: the device goes down), then announces RTM_DELLINK in the birth
 * namespace, where our netlink socket stays, and the new namespace's notifications never reach it.
 * RTM_DELLINK with the TUN fd still attached (TUNGETIFF works; after a real deletion it fails with
 * EBADFD) means moved: while away the interface counts as up (wgts keeps the device running, its
 * UDP socket in the birth namespace, as the kernel selftest topology wants) and later notifications
 * for the old ifindex are ignored (the number may be reused here). Every second the name is looked up
 * again; if it reappears here (moved back, or a namesake: a tun cannot be told apart by name) the
 * watch follows its current ifindex.
 * A real deletion is reported by the TUN reader (EBADFD) and by RTM_DELLINK, whichever comes first.
 */
import { readFileSync } from 'node:fs';
import { AF_INET } from '../conf/sockaddr.js';
import type { Tun } from './tun.js';
import {
  IFF_VNET_HDR, IFNAMSIZ, SIOCGIFFLAGS, SIOCGIFMTU, SIOCSIFMTU, SOCK_CLOEXEC, SOCK_DGRAM, TUNGETIFF, ifreq, setNonBlocking, sys,
  sysError,
} from '../system/libc.js';
import { nativeCopier } from '../system/native-copy.js';
import { TunFramer } from './offload/tun-frames.js';
import { VIRTIO_NET_HDR_LEN } from './offload/virtio-net-hdr.js';
import { negotiateOffloads, openTun } from './tun-offload.js';
import { RingReader, type LinkEvent } from './ring-reader.js';
import { SYNC_WRITES, acquireWriter, releaseWriter, type RingWriter } from './ring-writer.js';
import { microtask } from './microtask.js';
import { monotonicMs } from './monotonic.js';

/** wireguard-go's default MTU for a new TUN. */
export const DEFAULT_MTU = 1420;
/** Largest packet a TUN read can return (the MTU is a 16-bit quantity in practice). */
const MAX_PACKET = 65535;

/**
 * Whether to ask for the TUN offloads (tun-offload.ts): on unless WGTS_TUN_OFFLOAD=0, which keeps
 * the plain path (for A/B runs and kernels that misbehave).
 */
export const TUN_OFFLOAD = process.env.WGTS_TUN_OFFLOAD !== '0';

/** Creates the TUN device `name` (or attaches to it if it exists and is free) and sets its MTU. */
export function createTun(name: string, mtu = DEFAULT_MTU, offload = TUN_OFFLOAD): LinuxTun {
  const t = openTun(name, offload);
  const tun = new LinuxTun(t.fd, t.name, t.vnetHdr);
  tun.setMtu(mtu);
  return tun;
}

/**
 * Wraps an already-open TUN fd (WG_TUN_FD from a parent or a supervisor); the name and whether it
 * carries a virtio_net_hdr come from TUNGETIFF. With the header we ask for the offloads ourselves
 * (the opener may not have); if the kernel refuses them all, the header stays and never says GSO.
 */
export function tunFromFd(fd: number): LinuxTun {
  const ifr = ifreq('');
  if (sys.ioctl(fd, TUNGETIFF, ifr) < 0) throw sysError(`TUNGETIFF on fd ${fd}`, sys.errno());
  const vnetHdr = (ifr.readUInt16LE(IFNAMSIZ) & IFF_VNET_HDR) !== 0;
  if (vnetHdr) negotiateOffloads(fd);
  return new LinuxTun(fd, readName(ifr), vnetHdr);
}

function readName(ifr: Buffer): string {
  const end = ifr.indexOf(0);
  return ifr.toString('latin1', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
}

/** Runs an SIOC*IF* ioctl on a throwaway AF_INET socket (the interface is looked up by name in our namespace). */
function ifIoctl(req: number, ifr: Buffer): number {
  const s = sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -sys.errno();
  const rc = sys.ioctl(s, req, ifr);
  const e = rc < 0 ? sys.errno() : 0;
  sys.close(s);
  return rc < 0 ? -e : rc;
}

export class LinuxTun implements Tun {
  private reader: RingReader | undefined;
  /** Writes go through the shared RingWriter (acquireWriter) once started, unless WGTS_SYNC_WRITES=1. */
  private writer: RingWriter | undefined;
  private closeCbs: Array<() => void> = [];
  private closed = false;
  /** Where the TUN reader's link notifications go (see onLinkState). */
  private onLinkEvent: ((ev: LinkEvent) => void) | undefined;
  private cachedMtu = DEFAULT_MTU;
  private mtuCheckedAt = -Infinity;
  /**
   * The link watch has told us the MTU (every change comes as RTM_NEWLINK with IFLA_MTU): mtu()
   * needs no look-up until it stops (resync, error, moved away).
   */
  private mtuWatched = false;
  /** Packets the kernel refused on write (counted, never thrown). */
  writeErrors = 0;

  /** With a virtio_net_hdr: reads are cut into packets and writes coalesced (offload/tun-frames.ts). */
  private readonly framer: TunFramer | undefined;
  /** Packets written during the current task, framed and handed to the writer when it ends. */
  private pending: Uint8Array[] = [];
  private flushQueued = false;

  constructor(public fd: number, readonly name: string, readonly vnetHdr = false) {
    if (vnetHdr) this.framer = new TunFramer(undefined, nativeCopier());
  }

  /** TUN reads cut into packets that could not be understood (dropped), with the header. */
  get malformedReads(): number {
    return this.framer?.malformed ?? 0;
  }

  start(onPackets: (packets: Uint8Array[]) => void): void {
    if (this.reader) throw new Error('LinuxTun.start called twice');
    setNonBlocking(this.fd, true);
    const framer = this.framer;
    this.reader = new RingReader({
      fds: [this.fd],
      maxPacket: framer ? VIRTIO_NET_HDR_LEN + MAX_PACKET : MAX_PACKET,
      withAddr: false,
      // One call per read with the header: the framer's segments live until its next read.
      onPackets: framer
        ? (reads) => {
            for (const r of reads) {
              const packets = framer.unframeRead(r);
              if (packets.length) onPackets(packets);
            }
          }
        : (packets) => onPackets(packets),
      onError: () => this.fireClose(),
      onLink: (ev) => this.onLinkEvent?.(ev),
    });
    this.reader.start();
    if (!SYNC_WRITES) this.writer = acquireWriter();
  }

  write(packets: Uint8Array[]): void {
    if (this.framer) {
      // Collected until the current task ends (a burst of decrypted packets), then coalesced: a lone
      // packet waits for nothing but the end of the burst it came in.
      for (const p of packets) this.pending.push(p);
      if (!this.flushQueued) {
        this.flushQueued = true;
        microtask(this.flushLater);
      }
      return;
    }
    this.writeFrames(packets);
  }

  /** flushPending as a field: queued per burst of decrypted packets, with no closure made each time. */
  private readonly flushLater = (): void => this.flushPending();

  private flushPending(): void {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    if (this.closed || batch.length === 0) return;
    const writer = this.writer;
    if (!writer) return this.writeFrames(this.framer!.frameWrites(batch));
    // Built straight in the writer's ring: no buffer per packet or super-packet.
    this.writeErrors += this.framer!.writeInto(batch, (len) => writer.reserve(this.fd, len));
    writer.flush();
  }

  private writeFrames(packets: Uint8Array[]): void {
    const writer = this.writer;
    if (writer) {
      for (const p of packets) if (!writer.push(this.fd, p)) this.writeErrors++;
      writer.flush();
      return;
    }
    for (const p of packets) {
      if (sys.write(this.fd, p, p.length) < 0) {
        this.writeErrors++;
        const e = sys.errno();
        if (e === 77 /* EBADFD */ || e === 9 /* EBADF */) this.fireClose();
      }
    }
  }

  mtu(): number {
    if (this.mtuWatched) return this.cachedMtu;
    const now = monotonicMs();
    if (now - this.mtuCheckedAt < 1000) return this.cachedMtu;
    this.mtuCheckedAt = now;
    try {
      const v = Number.parseInt(readFileSync(`/sys/class/net/${this.name}/mtu`, 'latin1'), 10);
      if (Number.isInteger(v) && v > 0) this.cachedMtu = v;
    } catch {
      // Not visible from here (moved to another namespace): the SIOCGIFMTU lookup is by name in our
      // namespace too, so keep the last value seen.
      const ifr = ifreq(this.name);
      if (ifIoctl(SIOCGIFMTU, ifr) >= 0) this.cachedMtu = ifr.readInt32LE(IFNAMSIZ);
    }
    return this.cachedMtu;
  }

  /** Sets the interface MTU (SIOCSIFMTU). */
  setMtu(mtu: number): void {
    const ifr = ifreq(this.name);
    ifr.writeInt32LE(mtu, IFNAMSIZ);
    const rc = ifIoctl(SIOCSIFMTU, ifr);
    if (rc < 0) throw sysError(`SIOCSIFMTU ${this.name}`, -rc);
    this.cachedMtu = mtu;
    this.mtuCheckedAt = monotonicMs();
  }

  /**
   * Calls `cb(up)` now and whenever the interface's IFF_UP flag changes, as the kernel announces it
   * (the TUN reader's link watch, so start() first; see the header). Polls every `fallbackMs` instead
   * if there is no subscription. Returns a function that stops watching.
   */
  onLinkState(cb: (up: boolean) => void, fallbackMs = 250): () => void {
    const reader = this.reader;
    let last: boolean | undefined;
    let moved = false;
    let subscribed = reader?.linkState === 'ready';
    let timer: NodeJS.Timeout | undefined;
    const report = (up: boolean): void => {
      if (this.closed || up === last) return;
      last = up;
      cb(up);
    };
    /** SIOCGIFFLAGS by name; ENODEV (not in our namespace: moved away) counts as up. */
    const lookUp = (): void => {
      const ifr = ifreq(this.name);
      const visible = ifIoctl(SIOCGIFFLAGS, ifr) >= 0;
      if (visible && moved) {
        // Back in the birth namespace (or a namesake: see the header).
        moved = false;
        reader?.setLinkIndex(sys.if_nametoindex(this.name));
      }
      report(visible ? (ifr.readUInt16LE(IFNAMSIZ) & 1) !== 0 : true);
    };
    const schedule = (): void => {
      clearTimeout(timer);
      timer = undefined;
      if (this.closed || (subscribed && !moved)) return;
      timer = setTimeout(() => {
        lookUp();
        schedule();
      }, moved ? 1000 : fallbackMs);
      timer.unref();
    };
    this.onLinkEvent = (ev: LinkEvent): void => {
      if (ev.kind === 'ready') subscribed = true;
      if (ev.kind === 'error') subscribed = false;
      if (ev.kind !== 'link' || moved || ev.deleted) this.mtuWatched = false;
      // Away in another namespace, our old index may name some other interface here.
      if (ev.kind === 'link' && moved) return;
      if (ev.kind === 'link' && !ev.deleted && ev.mtu !== undefined && ev.mtu > 0) {
        this.cachedMtu = ev.mtu;
        this.mtuWatched = true;
      }
      if (ev.kind === 'link' && ev.deleted) {
        // RTM_DELLINK: deleted (the TUN fd is detached: TUNGETIFF fails) or moved to another namespace.
        if (sys.ioctl(this.fd, TUNGETIFF, ifreq('')) < 0) return this.fireClose();
        moved = true;
        report(true);
      } else if (ev.kind === 'link') report(ev.up);
      else lookUp();
      schedule();
    };
    // Notifications from here on, then the state as it is now.
    reader?.setLinkIndex(sys.if_nametoindex(this.name));
    lookUp();
    schedule();
    return () => {
      clearTimeout(timer);
      this.onLinkEvent = undefined;
      this.mtuWatched = false;
      reader?.setLinkIndex(0);
    };
  }

  onClose(cb: () => void): void {
    this.closeCbs.push(cb);
  }

  private fireClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCbs) cb();
  }

  async close(): Promise<void> {
    this.closed = true;
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await reader.stop();
    const writer = this.writer;
    this.writer = undefined;
    if (writer) await releaseWriter(writer); // the writes queued for our fd are done with
    if (this.fd >= 0) {
      sys.close(this.fd);
      this.fd = -1;
    }
  }
}
