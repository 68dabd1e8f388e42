/**
 * Packet I/O off the main thread, in two worker threads per process: one reader and one writer.
 *
 * Reads: the reader worker polls every non-blocking fd the data plane reads (the TUN, the Bind's
 * IPv4 and IPv6 sockets, the TUN's link-notification socket) and reads bursts of packets straight
 * into one SharedArrayBuffer ring per source (a RingReader: the TUN's, the Bind's); the main thread
 * is woken once per burst (Atomics.waitAsync on that ring) and hands the packets, as zero-copy views
 * into the ring, to the source's callback.
 *
 * Writes: the main thread copies each outgoing packet (with its fd and, for UDP, the sockaddr) into
 * one ring shared by the TUN and the Bind, and the writer worker drains it with write() or sendto().
 *
 * Why this shape (measured on the bench, see docs/benchmarks.md "Data plane"): Node core cannot wrap a
 * TUN fd in a stream, and fs.read goes through the libuv threadpool with one callback per packet. A
 * worker blocked in poll()/read() costs the main thread nothing per packet; the only per-packet work
 * left on the main thread is a subarray() and the protocol itself. Reading into the shared ring
 * avoids a copy and a postMessage per burst. Syscalls for sending (sendto() was 40 % of the main
 * thread's busy time) run in parallel with the crypto.
 *
 * Why two workers and not one per fd or per source: every worker is a V8 isolate of 8-12 MiB RSS,
 * and until 2026-12 the daemon ran four (tun-rx, udp-rx, tun-tx, udp-tx). One poll() serves any
 * number of fds, and one writer any mix of write() and sendto(): idle RSS went from 87 to 70 MiB
 * with throughput within the noise of the four-worker build in the same bench runs (each I/O
 * thread was 5-20 % busy before). Reads and writes stay on separate threads: a writer blocked on a
 * full socket buffer (it waits for POLLOUT) must not hold up the reads, nor a reader waiting for
 * ring space the writes; one thread for both would save another ~8 MiB (not measured for speed).
 *
 * The reader worker's set of sources changes while it runs (the Bind re-opens its sockets on a port
 * change, a device goes down and up): requests arrive by postMessage and a byte on a wake pipe that it
 * polls along with the fds, and it reads them synchronously (receiveMessageOnPort), since it never
 * returns to its event loop. A source is removed only once the worker acknowledges it, so its fds may
 * then be closed. The workers start with their first user and end with their last.
 *
 * Reader ring layout (single producer = worker, single consumer = main): `data` holds records
 * [i32 length][optional 28-byte sockaddr + 4 pad][payload], each 4-byte aligned; length -1 marks a
 * wrap to offset 0. `ctrl` holds W (producer offset), R (consumer offset), SEQ (bumped after each
 * burst, main waits on it), RSEQ (bumped when main frees space, the worker waits on it when full),
 * STATE (0, or the errno that ended the source), LINK_INDEX, STOP (set by main: leave this source).
 */
import { Worker } from 'node:worker_threads';
import { koffiPath, sys, O_CLOEXEC, O_NONBLOCK } from './native.js';

const W = 0;
const R = 1;
const SEQ = 2;
const RSEQ = 3;
const STATE = 4;
/** RingWriter only: 1 while the worker waits on SEQ. */
const SLEEPING = 5;
/** RingReader with onLink: the ifindex whose notifications the worker reports (0: none). */
const LINK_INDEX = 6;
/** RingReader: set by the main thread when it stops the source (the worker must not wait for ring space). */
const STOP = 7;
/** RingWriter: records the worker has finished with (sent, written or dropped), wrapping at 2^32. */
const DONE = 8;

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
  if (worker.threadId === -1) return; // already ended
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
  ]);
  clearTimeout(timer);
  await worker.terminate().catch(() => undefined);
}

export interface RingReaderOptions {
  /** The fds to poll (a TUN, or a Bind's IPv4 and IPv6 sockets). */
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
  /** Called once if the reader ends with an error (errno number), e.g. EBADFD when the TUN is deleted. */
  onError(errno: number): void;
  /**
   * Link notifications (the TUN's reader): the reader worker also polls a NETLINK_ROUTE socket
   * subscribed to RTMGRP_LINK and reports, as they happen, RTM_NEWLINK/RTM_DELLINK of the interface
   * named by setLinkIndex(), IFF_UP decoded. Riding on the reader costs no extra isolate.
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

/** What the reader worker posts: a source's link event, or the acknowledgement of a removal. */
type ReaderMessage = (LinkEvent & { id: number }) | { kind: 'removed'; id: number };

/** A source as the reader worker is told of it (see readerWorkerMain). */
interface SourceSpec {
  fds: number[];
  sab: SharedArrayBuffer;
  ctrlSab: SharedArrayBuffer;
  maxPacket: number;
  withAddr: boolean;
  batch: number;
  watchLink: boolean;
}

interface WaitAsyncResult { async: boolean; value: Promise<string> | string }
const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult;
}).waitAsync.bind(Atomics);

/**
 * The process's reader worker, shared by every RingReader (see the header). Started by the first
 * add(), ended when the last source is removed.
 */
class ReaderThread {
  private worker: Worker | undefined;
  private wakeFds = new Int32Array(2);
  private readonly readers = new Map<number, RingReader>();
  private readonly removals = new Map<number, () => void>();
  private nextId = 1;

  add(reader: RingReader, spec: SourceSpec): number {
    if (!this.worker) this.startWorker();
    const id = this.nextId++;
    this.readers.set(id, reader);
    this.post({ op: 'add', id, ...spec });
    return id;
  }

  /** Resolves once the worker no longer reads the source's fds (they may be closed then). */
  async remove(id: number): Promise<void> {
    const worker = this.worker;
    if (!this.readers.has(id) || !worker) return;
    const removed = new Promise<void>((resolve) => this.removals.set(id, resolve));
    this.post({ op: 'remove', id });
    await removed;
    this.readers.delete(id);
    if (this.readers.size === 0 && this.worker === worker) {
      this.worker = undefined;
      const [rd, wr] = [this.wakeFds[0]!, this.wakeFds[1]!];
      const exited = endWorker(worker);
      worker.postMessage({ op: 'exit' });
      sys.write(wr, new Uint8Array(1), 1);
      await exited;
      sys.close(rd);
      sys.close(wr);
    }
  }

  private startWorker(): void {
    const wakeFds = new Int32Array(2);
    // Non-blocking: a full pipe (64 KiB of unread wake-ups) must not block the main thread.
    if (sys.pipe2(wakeFds, O_CLOEXEC | O_NONBLOCK) < 0) throw new Error(`pipe2 failed: errno ${sys.errno()}`);
    this.wakeFds = wakeFds;
    const worker = evalWorker(readerWorkerMain, { wakeFd: wakeFds[0] });
    this.worker = worker;
    // process.exit() joins the worker threads, and this one may sit in poll() (a native call that
    // termination cannot interrupt) with sources nobody removed: tell it to leave first.
    const atExit = (): void => {
      if (this.worker === worker) this.post({ op: 'exit' });
    };
    process.once('exit', atExit);
    worker.once('exit', () => process.off('exit', atExit));
    worker.on('message', (m: ReaderMessage) => {
      if (m.kind === 'removed') {
        this.removals.get(m.id)?.();
        this.removals.delete(m.id);
      } else this.readers.get(m.id)?.linkEvent(m);
    });
    // The worker died (a bug, or terminate()): its sources end with EIO, and waiting removals resolve.
    const died = (): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const resolve of this.removals.values()) resolve();
      this.removals.clear();
      const readers = [...this.readers.values()];
      this.readers.clear();
      sys.close(wakeFds[0]!);
      sys.close(wakeFds[1]!);
      for (const r of readers) r.fail(5 /* EIO */);
    };
    worker.on('error', died);
    worker.on('exit', died);
  }

  private post(msg: unknown): void {
    this.worker!.postMessage(msg);
    sys.write(this.wakeFds[1]!, new Uint8Array(1), 1);
  }
}

const readerThread = new ReaderThread();

export class RingReader {
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly ctrl: Int32Array;
  private readonly hdr: number;
  private readonly batch: number;
  private id = 0;
  /** No more callbacks (stopped, or the source failed). */
  private stopped = false;
  /** stop() was called: the source is (being) removed from the worker. */
  private removed = false;
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
    if (this.opts.onLink) this.linkState = 'pending';
    this.id = readerThread.add(this, {
      fds: this.opts.fds, sab: this.data.buffer as SharedArrayBuffer, ctrlSab: this.ctrl.buffer as SharedArrayBuffer,
      maxPacket: this.opts.maxPacket, withAddr: this.opts.withAddr, batch: this.batch, watchLink: !!this.opts.onLink,
    });
    void this.loop();
  }

  /** A link event from the worker (see RingReaderOptions.onLink). */
  linkEvent(ev: LinkEvent): void {
    if (ev.kind === 'ready') this.linkState = 'ready';
    if (ev.kind === 'error') this.linkState = 'failed';
    if (!this.stopped) this.opts.onLink?.(ev);
  }

  /** Which interface's link notifications to report (see RingReaderOptions.onLink); 0 for none. */
  setLinkIndex(index: number): void {
    Atomics.store(this.ctrl, LINK_INDEX, index);
  }

  /** Stops the main-thread loop and takes the fds out of the worker's poll set. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    this.stopped = true; // a source that failed must still leave the worker's list
    Atomics.store(this.ctrl, STOP, 1);
    Atomics.add(this.ctrl, SEQ, 1);
    Atomics.notify(this.ctrl, SEQ);
    Atomics.add(this.ctrl, RSEQ, 1);
    Atomics.notify(this.ctrl, RSEQ);
    await readerThread.remove(this.id);
  }

  /** The source ended (errno from the worker, or EIO if the worker died). */
  fail(errno: number): void {
    if (this.stopped) return;
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
 * The reader worker's body. Runs as an eval'd script in its own isolate, so it must be self-contained:
 * it references only its workerData, its messages and require(). Kept in sync with the ring layout
 * above. Sources arrive and leave by message (see the header); `poll()` covers the wake pipe, every
 * live source's fds and link sockets.
 */
function readerWorkerMain(req: NodeJS.Require): void {
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const port = wt.parentPort!;
  const wd = wt.workerData as { koffiPath: string; wakeFd: number };
  const koffi = req(wd.koffiPath) as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  libc.func('int prctl(int, const char *, unsigned long, unsigned long, unsigned long)')(15 /* PR_SET_NAME */, 'wgts-rx', 0, 0, 0);
  const read = libc.func('long read(int, void *, unsigned long)');
  const recvfrom = libc.func('long recvfrom(int, void *, unsigned long, int, void *, unsigned int *)');
  const poll = libc.func('int poll(void *, unsigned long, int)');
  const socket = libc.func('int socket(int, int, int)');
  const bind = libc.func('int bind(int, const void *, unsigned int)');
  const close = libc.func('int close(int)');

  interface Spec {
    id: number; fds: number[]; sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer; maxPacket: number;
    withAddr: boolean; batch: number; watchLink: boolean;
  }
  interface Source {
    id: number; fds: number[]; data: Uint8Array; dv: DataView; ctrl: Int32Array; hdr: number; need: number;
    maxPacket: number; withAddr: boolean; batch: number; w: number; dead: boolean;
    link: { fd: number; read(): boolean } | undefined;
  }
  const sources = new Map<number, Source>();

  /**
   * The link watch (see RingReaderOptions.onLink): socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) bound
   * to RTMGRP_LINK; read() drains it and posts the events for ctrl[LINK_INDEX], false once it failed.
   */
  function linkSocket(id: number, ctrl: Int32Array): Source['link'] {
    const fd = socket(16 /* AF_NETLINK */, 3 /* SOCK_RAW */ | 0o2000000 /* SOCK_CLOEXEC */, 0 /* NETLINK_ROUTE */) as number;
    // struct sockaddr_nl { u16 family; u16 pad; u32 pid (0: the kernel assigns one); u32 groups }
    const sa = new Uint8Array(12);
    const sv = new DataView(sa.buffer);
    sv.setUint16(0, 16, true);
    sv.setUint32(8, 1 /* RTMGRP_LINK */, true);
    if (fd < 0 || (bind(fd, sa, 12) as number) < 0) {
      port.postMessage({ id, kind: 'error', errno: koffi.errno() });
      if (fd >= 0) close(fd);
      return undefined;
    }
    port.postMessage({ id, kind: 'ready' });
    const buf = new Uint8Array(64 << 10);
    const bv = new DataView(buf.buffer);
    const from = new Uint8Array(12);
    const fv = new DataView(from.buffer);
    const flen = new Uint32Array(1);
    const readLink = (): boolean => {
      for (;;) {
        flen[0] = 12;
        const n = recvfrom(fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */, from, flen) as number;
        if (n < 0) {
          const e = koffi.errno();
          if (e === 11 /* EAGAIN */) return true;
          if (e === 4 /* EINTR */) continue;
          if (e === 105 /* ENOBUFS: notifications were dropped */) {
            port.postMessage({ id, kind: 'resync' });
            continue;
          }
          port.postMessage({ id, kind: 'error', errno: e });
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
            port.postMessage({ id, kind: 'link', index, up: (bv.getUint32(off + 24, true) & 1 /* IFF_UP */) !== 0, deleted: type === 17 });
          }
          off += (len + 3) & ~3;
        }
      }
    };
    return { fd, read: readLink };
  }

  // struct pollfd { int fd; short events; short revents; }: the wake pipe first, then each live
  // source's fds and link socket; slots[i] says whose entry i is.
  let pfd = new Uint8Array(0);
  let pv = new DataView(pfd.buffer);
  let slots: Array<{ src: Source; link: boolean } | undefined> = [];
  const rebuild = (): void => {
    const fds = [wd.wakeFd];
    slots = [undefined];
    for (const s of sources.values()) {
      if (s.dead) continue;
      for (const fd of s.fds) {
        fds.push(fd);
        slots.push({ src: s, link: false });
      }
      if (s.link) {
        fds.push(s.link.fd);
        slots.push({ src: s, link: true });
      }
    }
    pfd = new Uint8Array(8 * fds.length);
    pv = new DataView(pfd.buffer);
    fds.forEach((fd, i) => {
      pv.setInt32(i * 8, fd, true);
      pv.setInt16(i * 8 + 4, 1 /* POLLIN */, true);
    });
  };

  const wakeBuf = new Uint8Array(256);
  /** Applies the main thread's requests (add, remove, exit); false on exit. */
  const control = (): boolean => {
    read(wd.wakeFd, wakeBuf, wakeBuf.length);
    for (let m = wt.receiveMessageOnPort(port); m; m = wt.receiveMessageOnPort(port)) {
      const op = m.message as ({ op: 'add' } & Spec) | { op: 'remove'; id: number } | { op: 'exit' };
      if (op.op === 'exit') return false;
      if (op.op === 'add') {
        const hdr = op.withAddr ? 32 : 4;
        const ctrl = new Int32Array(op.ctrlSab);
        sources.set(op.id, {
          id: op.id, fds: op.fds, data: new Uint8Array(op.sab), dv: new DataView(op.sab), ctrl, hdr,
          need: hdr + op.maxPacket + 8, maxPacket: op.maxPacket, withAddr: op.withAddr, batch: op.batch,
          w: Atomics.load(ctrl, 0), dead: false, link: op.watchLink ? linkSocket(op.id, ctrl) : undefined,
        });
      } else {
        const s = sources.get(op.id);
        if (s?.link) close(s.link.fd);
        sources.delete(op.id);
        port.postMessage({ kind: 'removed', id: op.id });
      }
    }
    rebuild();
    return true;
  };

  const publish = (ctrl: Int32Array): void => {
    Atomics.add(ctrl, 2, 1);
    Atomics.notify(ctrl, 2);
  };
  const fail = (s: Source, errno: number): false => {
    Atomics.store(s.ctrl, 4, errno);
    publish(s.ctrl);
    return false;
  };
  const alen = new Uint32Array(1);
  /** Reads one burst from `fd` into the source's ring; false when the source ends (error or stop). */
  const burst = (s: Source, fd: number, revents: number): boolean => {
    const { data, dv, ctrl, hdr, need, maxPacket, withAddr } = s;
    const cap = data.length;
    let w = s.w;
    let n = 0;
    let emptyReads = 0;
    try {
      while (n < s.batch) {
        // Wait for room for one more maximal record (this holds up the other sources too: the main
        // thread is behind on all of them then, and a ring holds thousands of packets).
        for (;;) {
          const rseq = Atomics.load(ctrl, 3);
          const r = Atomics.load(ctrl, 1);
          if (w >= r) {
            if (cap - w > need) break;
            if (r > need) {
              dv.setInt32(w, -1, true);
              w = 0;
              Atomics.store(ctrl, 0, 0);
              continue;
            }
          } else if (r - w > need) break;
          if (n > 0) {
            publish(ctrl);
            n = 0;
          }
          Atomics.wait(ctrl, 3, rseq, 100);
          if (Atomics.load(ctrl, 7 /* STOP */) !== 0) return false;
        }
        let len: number;
        if (withAddr) {
          alen[0] = 28;
          len = recvfrom(fd, data.subarray(w + hdr, w + hdr + maxPacket), maxPacket, 0, data.subarray(w + 4, w + 32), alen) as number;
        } else {
          len = read(fd, data.subarray(w + hdr, w + hdr + maxPacket), maxPacket) as number;
        }
        if (len < 0) {
          const e = koffi.errno();
          if (e === 11 /* EAGAIN */) {
            // POLLERR/POLLHUP/POLLNVAL with nothing to read: the fd is dead (TUN deleted).
            if (n === 0 && emptyReads === 0 && (revents & 0x38) !== 0 && !withAddr) return fail(s, 77 /* EBADFD */);
            break;
          }
          if (e === 4) continue;
          if (withAddr && e !== 9 /* EBADF */ && e !== 14) {
            // UDP: ICMP-reported errors (ECONNREFUSED...) are per-datagram, not fatal.
            if (++emptyReads > 64) break;
            continue;
          }
          return fail(s, e);
        }
        dv.setInt32(w, len, true);
        w = (w + hdr + len + 3) & ~3;
        Atomics.store(ctrl, 0, w);
        n++;
      }
      if (n > 0) publish(ctrl);
      return true;
    } finally {
      s.w = w;
    }
  };

  rebuild();
  for (;;) {
    for (let i = 0; i < slots.length; i++) pv.setInt16(i * 8 + 6, 0, true);
    const rc = poll(pfd, slots.length, -1) as number;
    if (rc < 0) {
      const e = koffi.errno();
      if (e === 4 /* EINTR */) continue;
      for (const s of sources.values()) if (!s.dead) fail(s, e);
      return;
    }
    if (pv.getInt16(6, true) !== 0) {
      if (!control()) return;
      continue; // the poll set changed
    }
    let changed = false;
    for (let i = 1; i < slots.length; i++) {
      const revents = pv.getInt16(i * 8 + 6, true);
      const slot = slots[i]!;
      if (revents === 0 || slot.src.dead) continue;
      const s = slot.src;
      if (slot.link) {
        if (!s.link!.read()) {
          s.link = undefined;
          changed = true;
        }
      } else if (!burst(s, pv.getInt32(i * 8, true), revents)) {
        s.dead = true; // ended: out of the poll set until the main thread removes it
        changed = true;
      }
    }
    if (changed) rebuild();
  }
}

/**
 * Packet writes off the main thread: the main thread copies each packet (its fd and, for UDP, the
 * sockaddr) into a shared ring and returns at once; the writer worker drains the ring with one
 * write() (TUN) or sendto() (UDP) per packet. The syscall and the kernel work behind it (the UDP/IP
 * stack, veth, the receiving side's softirq; the TUN's netif_rx) then run in parallel with the
 * protocol's crypto on the main thread, which the profile showed spending most of its busy time
 * inside sendto(). One ring and one worker serve every TUN and Bind of the process (see the header):
 * acquireWriter() / releaseWriter().
 *
 * Record: [i32 length][i32 fd][i32 sockaddr length (0: write())][28-byte sockaddr][payload], 4-byte
 * aligned, length -1 = wrap. ctrl: W, R, SEQ (bumped by main after a batch; the worker waits on it
 * when empty), STATE (1: stop), SLEEPING (set by the worker around its wait, so main notifies only
 * then), DONE (records finished, for settle()). A full ring drops the packet (counted), like a full
 * queue in wireguard-go. A send that fails with EAGAIN (socket buffer full) waits in the worker for
 * POLLOUT, so bursts apply backpressure to the ring instead of being dropped at the socket.
 */
export class RingWriter {
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly ctrl: Int32Array;
  private readonly cap: number;
  private worker: Worker | undefined;
  private w = 0;
  /** Records queued so far (wrapping like ctrl[DONE]). */
  private pushed = 0;
  private stopped = false;
  /** Packets dropped because the ring was full. */
  dropped = 0;

  constructor(capacity = 4 << 20) {
    const sab = new SharedArrayBuffer(capacity);
    this.data = new Uint8Array(sab);
    this.dv = new DataView(sab);
    this.cap = capacity;
    this.ctrl = new Int32Array(new SharedArrayBuffer(64));
  }

  start(): void {
    this.worker = evalWorker(writerWorkerMain, { sab: this.data.buffer, ctrlSab: this.ctrl.buffer });
    this.worker.on('error', () => undefined);
  }

  /**
   * Queues one packet for `fd`: sendto(`sa`) when given, else write(). Returns false if the ring is
   * full (dropped).
   */
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
    this.pushed = (this.pushed + 1) | 0;
    return true;
  }

  /** Publishes the queued packets to the worker (call once per batch). */
  flush(): void {
    Atomics.store(this.ctrl, W, this.w);
    Atomics.add(this.ctrl, SEQ, 1);
    // Wake the worker only if it sleeps (a futex syscall otherwise costs the main thread for nothing).
    if (Atomics.load(this.ctrl, SLEEPING) !== 0) Atomics.notify(this.ctrl, SEQ);
  }

  /**
   * Resolves once the worker is done with every packet queued so far (or after `ms`), so that the
   * fds they name can be closed: another user of the shared ring keeps the worker running, and a
   * closed fd's number may be reused at once.
   */
  async settle(ms = 2000): Promise<void> {
    this.flush();
    const end = performance.now() + ms;
    for (;;) {
      const done = Atomics.load(this.ctrl, DONE);
      const left = end - performance.now();
      if (((done - this.pushed) | 0) >= 0 || left <= 0 || !this.worker || this.worker.threadId === -1) return;
      const res = waitAsync(this.ctrl, DONE, done, left);
      if (res.async) await res.value;
    }
  }

  private drop(): boolean {
    this.dropped++;
    return false;
  }

  /** Stops the worker once it has drained the ring. */
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

let sharedWriter: RingWriter | undefined;
let writerUsers = 0;

/** The process's writer (started by its first user); give it back with releaseWriter(). */
export function acquireWriter(): RingWriter {
  if (!sharedWriter) {
    sharedWriter = new RingWriter();
    sharedWriter.start();
  }
  writerUsers++;
  return sharedWriter;
}

/**
 * Gives the writer back: resolves once the packets queued so far are done with (the caller may
 * close its fds then); the last user's release stops the worker.
 */
export async function releaseWriter(writer: RingWriter): Promise<void> {
  if (writer !== sharedWriter) return;
  if (--writerUsers > 0) return writer.settle();
  sharedWriter = undefined;
  await writer.stop();
}

/** The writer worker's body (self-contained, see readerWorkerMain). */
function writerWorkerMain(req: NodeJS.Require): void {
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const wd = wt.workerData as { koffiPath: string; sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer };
  const koffi = req(wd.koffiPath) as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  libc.func('int prctl(int, const char *, unsigned long, unsigned long, unsigned long)')(15 /* PR_SET_NAME */, 'wgts-tx', 0, 0, 0);
  const write = libc.func('long write(int, const void *, unsigned long)');
  const sendto = libc.func('long sendto(int, const void *, unsigned long, int, const void *, unsigned int)');
  const poll = libc.func('int poll(void *, unsigned long, int)');
  const data = new Uint8Array(wd.sab);
  const dv = new DataView(wd.sab);
  const ctrl = new Int32Array(wd.ctrlSab);
  const pfd = new Uint8Array(8);
  const pv = new DataView(pfd.buffer);
  let r = Atomics.load(ctrl, 1);
  let done = 0;
  const finished = (): void => {
    Atomics.store(ctrl, 1, r);
    Atomics.store(ctrl, 8 /* DONE */, done);
    Atomics.notify(ctrl, 8);
  };
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
        const rc = (salen !== 0
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
      done = (done + 1) | 0;
      if (++n % 32 === 0) finished();
    }
    finished();
  }
}
