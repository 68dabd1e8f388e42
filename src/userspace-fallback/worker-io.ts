/**
 * Packet reads off the main thread: a worker thread polls non-blocking fds (a TUN, or UDP sockets) and
 * reads bursts of packets straight into a SharedArrayBuffer ring; the main thread is woken once per
 * burst (Atomics.waitAsync) and hands the packets, as zero-copy views into the ring, to its callback.
 *
 * Why this shape (measured on the bench, see docs/benchmarks.md "Data plane"): Node core cannot wrap a
 * TUN fd in a stream, and fs.read goes through the libuv threadpool with one callback per packet. A
 * worker blocked in poll()/read() costs the main thread nothing per packet; the only per-packet work
 * left on the main thread is a subarray() and the protocol itself. Reading into the shared ring
 * avoids a copy and a postMessage per burst.
 *
 * Ring layout (single producer = worker, single consumer = main): `data` holds records
 * [i32 length][optional 28-byte sockaddr + 4 pad][payload], each 4-byte aligned; length -1 marks a
 * wrap to offset 0. `ctrl` holds W (producer offset), R (consumer offset), SEQ (bumped after each
 * burst, main waits on it), RSEQ (bumped when main frees space, the worker waits on it when full),
 * STATE (0, or the errno that ended the reader).
 */
import { Worker } from 'node:worker_threads';
import { koffiPath, sys, O_CLOEXEC } from './native.js';

const W = 0;
const R = 1;
const SEQ = 2;
const RSEQ = 3;
const STATE = 4;
/** RingWriter only: 1 while the worker waits on SEQ. */
const SLEEPING = 5;
/** RingReader with onLink: the ifindex whose notifications the worker reports (0: none). */
const LINK_INDEX = 6;

/**
 * WGTS_SYNC_WRITES=1 makes the edges write on the main thread instead of through a RingWriter
 * (for A/B measurements with scripts/bench.mjs).
 */
export const SYNC_WRITES = process.env.WGTS_SYNC_WRITES === '1';

let lastBugReport = 0;
/** Packet handler exceptions so far (see reportPacketBug). */
export let packetBugs = 0;
/**
 * A packet handler threw: that is a bug in the protocol code, but one bad packet must not take the
 * whole tunnel down (an exception escaping the read loop would end the process). Counted, and
 * reported on stderr at most once a second.
 */
export function reportPacketBug(err: unknown): void {
  packetBugs++;
  const now = Date.now();
  if (now - lastBugReport < 1000) return;
  lastBugReport = now;
  process.stderr.write(`wgts-userspace: packet handler failed (${packetBugs} so far): ${err instanceof Error ? err.stack : String(err)}\n`);
}

/**
 * Starts `body` (a self-contained function, see readerWorkerMain) as an unref'd eval-mode worker with
 * `workerData` plus koffiPath. The body gets `require` as a parameter so bundlers leave its calls alone.
 */
function evalWorker(body: (req: NodeJS.Require) => void, workerData: Record<string, unknown>): Worker {
  const worker = new Worker(`(${body.toString()})(require)`, { eval: true, workerData: { ...workerData, koffiPath: koffiPath() } });
  worker.unref();
  return worker;
}

/** Waits up to a second for a worker told to stop to exit by itself, then terminates it. */
async function endWorker(worker: Worker): Promise<void> {
  if (worker.threadId === -1) return; // already ended (e.g. the link watcher after an error)
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
  ]);
  clearTimeout(timer);
  await worker.terminate().catch(() => undefined);
}

/**
 * A worker blocked in poll() on some fds plus the read end of a wake pipe (workerData.wakeFd): a
 * byte written to the pipe makes it return from poll() and end.
 */
class PollWorker {
  private readonly wakeFds = new Int32Array(2);
  private worker: Worker | undefined;

  start(body: (req: NodeJS.Require) => void, workerData: Record<string, unknown>): Worker {
    if (sys.pipe2(this.wakeFds, O_CLOEXEC) < 0) throw new Error(`pipe2 failed: errno ${sys.errno()}`);
    this.worker = evalWorker(body, { ...workerData, wakeFd: this.wakeFds[0] });
    return this.worker;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = endWorker(worker);
    sys.write(this.wakeFds[1]!, new Uint8Array(1), 1);
    await exited;
    sys.close(this.wakeFds[0]!);
    sys.close(this.wakeFds[1]!);
  }
}

export interface RingReaderOptions {
  /** The fds to poll (one worker serves them all: a TUN, or a Bind's IPv4 and IPv6 sockets). */
  fds: number[];
  /** Largest packet the reader accepts (a read buffer of this size is reserved per packet). */
  maxPacket: number;
  /** UDP: record the source sockaddr (recvfrom) with each packet. */
  withAddr: boolean;
  /** Ring size in bytes (default 4 MiB: about 2800 full-size packets). */
  capacity?: number;
  /** Packets per worker burst before it wakes the main thread (default 128, wireguard-go's batch). */
  batch?: number;
  /** Called with up to `batch` packets; the views (and `addrs`) are valid only during the call. */
  onPackets(packets: Uint8Array[], addrs: Uint8Array[]): void;
  /** Thread name (prctl PR_SET_NAME, ≤ 15 chars) so per-thread CPU shows in top -H and the bench. */
  name?: string;
  /** Called once if the reader ends with an error (errno number), e.g. EBADFD when the TUN is deleted. */
  onError(errno: number): void;
  /**
   * Link notifications (the TUN's reader): the worker also polls a NETLINK_ROUTE socket subscribed
   * to RTMGRP_LINK and reports, as they happen, RTM_NEWLINK/RTM_DELLINK of the interface named by
   * setLinkIndex(), IFF_UP decoded. Riding on this worker costs no extra isolate (about 9 MiB each).
   */
  onLink?(ev: LinkEvent): void;
}

/**
 * What the link watch reports: 'ready' once subscribed (the caller looks up anything before that
 * itself), 'resync' when the kernel dropped notifications (ENOBUFS: look the state up again),
 * 'error' if the netlink socket cannot be made or read (the watch ends; poll instead). The socket
 * lives in the namespace the daemon was started in, like the UDP sockets.
 */
export type LinkEvent =
  | { kind: 'ready' }
  | { kind: 'link'; index: number; up: boolean; deleted: boolean }
  | { kind: 'resync' }
  | { kind: 'error'; errno: number };

interface WaitAsyncResult { async: boolean; value: Promise<string> | string }
const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number): WaitAsyncResult;
}).waitAsync.bind(Atomics);

export class RingReader {
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly ctrl: Int32Array;
  private readonly hdr: number;
  private readonly batch: number;
  private worker: Worker | undefined;
  private readonly pollWorker = new PollWorker();
  private stopped = false;
  private readonly packets: Uint8Array[] = [];
  private readonly addrs: Uint8Array[] = [];

  constructor(private readonly opts: RingReaderOptions) {
    const sab = new SharedArrayBuffer(opts.capacity ?? 4 << 20);
    this.data = new Uint8Array(sab);
    this.dv = new DataView(sab);
    this.ctrl = new Int32Array(new SharedArrayBuffer(64));
    this.hdr = opts.withAddr ? 32 : 4;
    this.batch = opts.batch ?? 128;
  }

  /** The link watch's state so far (a caller that arrives late learns whether it is subscribed). */
  linkState: 'off' | 'pending' | 'ready' | 'failed' = 'off';

  start(): void {
    const onLink = this.opts.onLink;
    this.worker = this.pollWorker.start(readerWorkerMain, {
      fds: this.opts.fds, sab: this.data.buffer, ctrlSab: this.ctrl.buffer, maxPacket: this.opts.maxPacket,
      withAddr: this.opts.withAddr, batch: this.batch, name: this.opts.name ?? 'wgts-rx', watchLink: !!onLink,
    });
    this.worker.on('error', (err) => {
      if (!this.stopped) this.fail(5 /* EIO */, err);
    });
    if (onLink) {
      this.linkState = 'pending';
      this.worker.on('message', (ev: LinkEvent) => {
        if (ev.kind === 'ready') this.linkState = 'ready';
        if (ev.kind === 'error') this.linkState = 'failed';
        if (!this.stopped) onLink(ev);
      });
    }
    void this.loop();
  }

  /** Which interface's link notifications to report (see RingReaderOptions.onLink); 0 for none. */
  setLinkIndex(index: number): void {
    Atomics.store(this.ctrl, LINK_INDEX, index);
  }

  /** Stops the worker (wakes it through the pipe) and the main-thread loop. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.add(this.ctrl, SEQ, 1);
    Atomics.notify(this.ctrl, SEQ);
    Atomics.add(this.ctrl, RSEQ, 1);
    Atomics.notify(this.ctrl, RSEQ);
    await this.pollWorker.stop();
  }

  private fail(errno: number, cause?: unknown): void {
    if (this.stopped) return;
    void cause;
    this.stopped = true;
    this.opts.onError(errno);
  }

  private async loop(): Promise<void> {
    const ctrl = this.ctrl;
    while (!this.stopped) {
      const seq = Atomics.load(ctrl, SEQ);
      this.drain();
      const state = Atomics.load(ctrl, STATE);
      if (state !== 0) {
        this.drain();
        this.fail(state);
        return;
      }
      const res = waitAsync(ctrl, SEQ, seq);
      if (res.async) await res.value;
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Hands everything in the ring to the callback, `batch` packets at a time, freeing space after each. */
  private drain(): void {
    const { ctrl, dv, data, hdr, packets, addrs } = this;
    let r = ctrl[R]!;
    const w = Atomics.load(ctrl, W);
    while (r !== w && !this.stopped) {
      packets.length = 0;
      addrs.length = 0;
      while (r !== w && packets.length < this.batch) {
        const len = dv.getInt32(r, true);
        if (len === -1) {
          r = 0;
          continue;
        }
        packets.push(data.subarray(r + hdr, r + hdr + len));
        if (hdr !== 4) addrs.push(data.subarray(r + 4, r + 32));
        r = (r + hdr + len + 3) & ~3;
      }
      try {
        if (packets.length > 0) this.opts.onPackets(packets, addrs);
      } catch (err) {
        reportPacketBug(err);
      } finally {
        Atomics.store(ctrl, R, r);
        Atomics.add(ctrl, RSEQ, 1);
        Atomics.notify(ctrl, RSEQ);
      }
    }
  }
}

/**
 * The worker's body. Runs as an eval'd script in its own isolate, so it must be self-contained:
 * it references only its workerData and require(). Kept in sync with the ring layout above.
 */
function readerWorkerMain(req: NodeJS.Require): void {
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const wd = wt.workerData as {
    koffiPath: string; fds: number[]; wakeFd: number; sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer;
    maxPacket: number; withAddr: boolean; batch: number; name: string; watchLink: boolean;
  };
  const koffi = req(wd.koffiPath) as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  libc.func('int prctl(int, const char *, unsigned long, unsigned long, unsigned long)')(15 /* PR_SET_NAME */, wd.name, 0, 0, 0);
  const read = libc.func('long read(int, void *, unsigned long)');
  const recvfrom = libc.func('long recvfrom(int, void *, unsigned long, int, void *, unsigned int *)');
  const poll = libc.func('int poll(void *, unsigned long, int)');
  const data = new Uint8Array(wd.sab);
  const dv = new DataView(wd.sab);
  const ctrl = new Int32Array(wd.ctrlSab);
  const CAP = data.length;
  const HDR = wd.withAddr ? 32 : 4;
  const NEED = HDR + wd.maxPacket + 8;
  /**
   * The link watch (see RingReaderOptions.onLink): socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) bound
   * to RTMGRP_LINK; read() drains it and posts the events for ctrl[LINK_INDEX], false once it failed.
   */
  function linkSocket(): { fd: number; read(): boolean } | undefined {
    const port = wt.parentPort!;
    const socket = libc.func('int socket(int, int, int)');
    const bind = libc.func('int bind(int, const void *, unsigned int)');
    const close = libc.func('int close(int)');
    const fd = socket(16 /* AF_NETLINK */, 3 /* SOCK_RAW */ | 0o2000000 /* SOCK_CLOEXEC */, 0 /* NETLINK_ROUTE */) as number;
    // struct sockaddr_nl { u16 family; u16 pad; u32 pid (0: the kernel assigns one); u32 groups }
    const sa = new Uint8Array(12);
    const sv = new DataView(sa.buffer);
    sv.setUint16(0, 16, true);
    sv.setUint32(8, 1 /* RTMGRP_LINK */, true);
    if (fd < 0 || (bind(fd, sa, 12) as number) < 0) {
      port.postMessage({ kind: 'error', errno: koffi.errno() });
      if (fd >= 0) close(fd);
      return undefined;
    }
    port.postMessage({ kind: 'ready' });
    const buf = new Uint8Array(64 << 10);
    const bv = new DataView(buf.buffer);
    const from = new Uint8Array(12);
    const fv = new DataView(from.buffer);
    const flen = new Uint32Array(1);
    const read = (): boolean => {
      for (;;) {
        flen[0] = 12;
        const n = recvfrom(fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */, from, flen) as number;
        if (n < 0) {
          const e = koffi.errno();
          if (e === 11 /* EAGAIN */) return true;
          if (e === 4 /* EINTR */) continue;
          if (e === 105 /* ENOBUFS: notifications were dropped */) {
            port.postMessage({ kind: 'resync' });
            continue;
          }
          port.postMessage({ kind: 'error', errno: e });
          close(fd);
          return false;
        }
        if (fv.getUint32(4, true) !== 0) continue; // only the kernel (port id 0) speaks for interfaces
        const index = Atomics.load(ctrl, 6);
        // nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid } then ifinfomsg { u8 family;
        // u8 pad; u16 type; i32 index; u32 flags; u32 change }, each message 4-byte aligned.
        for (let off = 0; off + 32 <= n; ) {
          const len = bv.getUint32(off, true);
          if (len < 16 || off + len > n) break;
          const type = bv.getUint16(off + 4, true);
          if ((type === 16 /* RTM_NEWLINK */ || type === 17 /* RTM_DELLINK */) && len >= 32 && index !== 0 && bv.getInt32(off + 20, true) === index) {
            port.postMessage({ kind: 'link', index, up: (bv.getUint32(off + 24, true) & 1 /* IFF_UP */) !== 0, deleted: type === 17 });
          }
          off += (len + 3) & ~3;
        }
      }
    };
    return { fd, read };
  }
  const link = wd.watchLink ? linkSocket() : undefined;
  // struct pollfd { int fd; short events; short revents; } for each fd, the wake pipe, the link socket.
  const pollFds = [...wd.fds, wd.wakeFd, ...(link ? [link.fd] : [])];
  const pfd = new Uint8Array(8 * pollFds.length);
  const pv = new DataView(pfd.buffer);
  pollFds.forEach((fd, i) => {
    pv.setInt32(i * 8, fd, true);
    pv.setInt16(i * 8 + 4, 1 /* POLLIN */, true);
  });
  const alen = new Uint32Array(1);
  let w = Atomics.load(ctrl, 0);
  const publish = (): void => {
    Atomics.add(ctrl, 2, 1);
    Atomics.notify(ctrl, 2);
  };
  const fail = (errno: number): void => {
    Atomics.store(ctrl, 4, errno);
    publish();
  };
  /** Reads one burst from `fd` into the ring; false when the reader must end (error or stop). */
  const burst = (fd: number, revents: number): boolean => {
    let n = 0;
    let emptyReads = 0;
    while (n < wd.batch) {
      // Wait for room for one more maximal record.
      for (;;) {
        const rseq = Atomics.load(ctrl, 3);
        const r = Atomics.load(ctrl, 1);
        if (w >= r) {
          if (CAP - w > NEED) break;
          if (r > NEED) {
            dv.setInt32(w, -1, true);
            w = 0;
            Atomics.store(ctrl, 0, 0);
            continue;
          }
        } else if (r - w > NEED) break;
        if (n > 0) {
          publish();
          n = 0;
        }
        Atomics.wait(ctrl, 3, rseq, 100);
        if (Atomics.load(ctrl, 4) !== 0) return false;
      }
      let len: number;
      if (wd.withAddr) {
        alen[0] = 28;
        len = recvfrom(fd, data.subarray(w + HDR, w + HDR + wd.maxPacket), wd.maxPacket, 0,
          data.subarray(w + 4, w + 32), alen) as number;
      } else {
        len = read(fd, data.subarray(w + HDR, w + HDR + wd.maxPacket), wd.maxPacket) as number;
      }
      if (len < 0) {
        const e = koffi.errno();
        if (e === 11 /* EAGAIN */) {
          // POLLERR/POLLHUP/POLLNVAL with nothing to read: the fd is dead (TUN deleted).
          if (n === 0 && emptyReads === 0 && (revents & 0x38) !== 0 && !wd.withAddr) {
            fail(77 /* EBADFD */);
            return false;
          }
          break;
        }
        if (e === 4) continue;
        if (wd.withAddr && e !== 9 /* EBADF */ && e !== 14) {
          // UDP: ICMP-reported errors (ECONNREFUSED...) are per-datagram, not fatal.
          if (++emptyReads > 64) break;
          continue;
        }
        fail(e);
        return false;
      }
      dv.setInt32(w, len, true);
      w = (w + HDR + len + 3) & ~3;
      Atomics.store(ctrl, 0, w);
      n++;
    }
    if (n > 0) publish();
    return true;
  };
  const nfds = wd.fds.length;
  for (;;) {
    for (let i = 0; i < pollFds.length; i++) pv.setInt16(i * 8 + 6, 0, true);
    const rc = poll(pfd, pollFds.length, -1) as number;
    if (rc < 0) {
      const e = koffi.errno();
      if (e === 4 /* EINTR */) continue;
      fail(e);
      return;
    }
    if (pv.getInt16(nfds * 8 + 6, true) !== 0) return; // woken through the pipe: stop
    if (link && pv.getInt16((nfds + 1) * 8 + 6, true) !== 0 && !link.read()) pv.setInt32((nfds + 1) * 8, -1, true);
    for (let i = 0; i < nfds; i++) {
      const revents = pv.getInt16(i * 8 + 6, true);
      if (revents !== 0 && !burst(wd.fds[i]!, revents)) return;
    }
  }
}

/**
 * Packet writes off the main thread: the main thread copies each packet (and, for UDP, the target fd
 * and sockaddr) into a shared ring and returns at once; a worker thread drains the ring with one
 * write()/sendto() per packet. The syscall and the kernel work behind it (the UDP/IP stack, veth,
 * the receiving side's softirq; the TUN's netif_rx) then run in parallel with the protocol's crypto
 * on the main thread, which the profile showed spending most of its busy time inside sendto().
 *
 * Record: [i32 length][i32 fd][i32 sockaddr length][28-byte sockaddr][payload], 4-byte aligned,
 * length -1 = wrap. ctrl: W, R, SEQ (bumped by main after a batch; the worker waits on it when
 * empty), STOP, SLEEPING (set by the worker around its wait, so main notifies only then). A full ring drops the packet (counted), like a full queue in wireguard-go. A
 * send that fails with EAGAIN (socket buffer full) waits in the worker for POLLOUT, so bursts apply
 * backpressure to the ring instead of being dropped at the socket.
 */
export class RingWriter {
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly ctrl: Int32Array;
  private readonly cap: number;
  private worker: Worker | undefined;
  private w = 0;
  private stopped = false;
  /** Packets dropped because the ring was full. */
  dropped = 0;

  constructor(
    private readonly mode: 'write' | 'sendto',
    private readonly name = 'wgts-tx',
    capacity = 4 << 20,
  ) {
    const sab = new SharedArrayBuffer(capacity);
    this.data = new Uint8Array(sab);
    this.dv = new DataView(sab);
    this.cap = capacity;
    this.ctrl = new Int32Array(new SharedArrayBuffer(64));
  }

  start(): void {
    this.worker = evalWorker(writerWorkerMain, { sab: this.data.buffer, ctrlSab: this.ctrl.buffer, mode: this.mode, name: this.name });
    this.worker.on('error', () => undefined);
  }

  /** Queues one packet for `fd` (and `sa` for sendto). Returns false if the ring is full (dropped). */
  push(fd: number, packet: Uint8Array, sa?: Uint8Array): boolean {
    const need = WHDR + packet.length;
    let w = this.w;
    const r = Atomics.load(this.ctrl, R);
    if (w >= r) {
      if (this.cap - w <= need + 4) {
        if (r <= need + 4) return this.drop();
        this.dv.setInt32(w, -1, true);
        w = 0;
      }
    }
    if (w < r && r - w <= need + 4) return this.drop();
    const dv = this.dv;
    dv.setInt32(w, packet.length, true);
    dv.setInt32(w + 4, fd, true);
    if (sa) {
      dv.setInt32(w + 8, sa.length, true);
      this.data.set(sa, w + 12);
    } else dv.setInt32(w + 8, 0, true);
    this.data.set(packet, w + WHDR);
    this.w = (w + need + 3) & ~3;
    return true;
  }

  /** Publishes the queued packets to the worker (call once per batch). */
  flush(): void {
    Atomics.store(this.ctrl, W, this.w);
    Atomics.add(this.ctrl, SEQ, 1);
    // Wake the worker only if it sleeps (a futex syscall otherwise costs the main thread for nothing).
    if (Atomics.load(this.ctrl, SLEEPING) !== 0) Atomics.notify(this.ctrl, SEQ);
  }

  private drop(): boolean {
    this.dropped++;
    return false;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.ctrl, STATE, 1);
    Atomics.add(this.ctrl, SEQ, 1);
    Atomics.notify(this.ctrl, SEQ);
    if (this.worker) await endWorker(this.worker);
  }
}

/** Writer record header: length, fd, sockaddr length, 28-byte sockaddr. */
const WHDR = 40;

/** The writer worker's body (self-contained, see readerWorkerMain). */
function writerWorkerMain(req: NodeJS.Require): void {
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const wd = wt.workerData as { koffiPath: string; sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer; mode: 'write' | 'sendto'; name: string };
  const koffi = req(wd.koffiPath) as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  libc.func('int prctl(int, const char *, unsigned long, unsigned long, unsigned long)')(15 /* PR_SET_NAME */, wd.name, 0, 0, 0);
  const write = libc.func('long write(int, const void *, unsigned long)');
  const sendto = libc.func('long sendto(int, const void *, unsigned long, int, const void *, unsigned int)');
  const poll = libc.func('int poll(void *, unsigned long, int)');
  const data = new Uint8Array(wd.sab);
  const dv = new DataView(wd.sab);
  const ctrl = new Int32Array(wd.ctrlSab);
  const pfd = new Uint8Array(8);
  const pv = new DataView(pfd.buffer);
  let r = Atomics.load(ctrl, 1);
  for (;;) {
    const seq = Atomics.load(ctrl, 2);
    const w = Atomics.load(ctrl, 0);
    if (r === w) {
      if (Atomics.load(ctrl, 4) !== 0) return;
      // Announce the sleep, then re-check: a producer that published after our load of W has
      // either bumped SEQ (so wait returns at once) or will see SLEEPING and notify.
      Atomics.store(ctrl, 5, 1);
      if (Atomics.load(ctrl, 0) === r) Atomics.wait(ctrl, 2, seq, 1000);
      Atomics.store(ctrl, 5, 0);
      continue;
    }
    let n = 0;
    while (r !== w) {
      const len = dv.getInt32(r, true);
      if (len === -1) {
        r = 0;
        continue;
      }
      const fd = dv.getInt32(r + 4, true);
      const salen = dv.getInt32(r + 8, true);
      const payload = data.subarray(r + 40, r + 40 + len);
      for (let attempt = 0; attempt < 100; attempt++) {
        const rc = (wd.mode === 'sendto'
          ? sendto(fd, payload, len, 0x4000 /* MSG_NOSIGNAL */, data.subarray(r + 12, r + 12 + salen), salen)
          : write(fd, payload, len)) as number;
        if (rc >= 0) break;
        const e = koffi.errno();
        if (e === 4) continue; // EINTR
        if (e !== 11) break; // not EAGAIN: drop (unreachable, closed fd...)
        pv.setInt32(0, fd, true);
        pv.setInt16(4, 4 /* POLLOUT */, true);
        pv.setInt16(6, 0, true);
        poll(pfd, 1, 100);
      }
      r = (r + 40 + len + 3) & ~3;
      if (++n % 32 === 0) Atomics.store(ctrl, 1, r);
    }
    Atomics.store(ctrl, 1, r);
  }
}
