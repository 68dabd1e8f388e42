/**
 * Packet writes off the main thread: the main thread copies each packet (its fd and, for UDP, the
 * sockaddr) into a shared ring (layout in ring.ts) and returns at once; the writer worker
 * (writer-worker.ts) drains the ring with one write() per TUN packet and one sendmmsg() per burst
 * of UDP datagrams for one socket (equal-size runs to one peer as UDP GSO trains). The
 * syscall and the kernel work behind it (the UDP/IP stack, veth, the receiving side's softirq; the
 * TUN's netif_rx) then run in parallel with the protocol's crypto on the main thread, which the
 * profile showed spending most of its busy time inside sendto(). One ring and one worker serve every
 * TUN and Bind of the process: acquireWriter() / releaseWriter().
 *
 * A full ring drops the packet (counted), like a full queue in wireguard-go. A send that fails with
 * EAGAIN (socket buffer full) waits in the worker for POLLOUT, so bursts apply backpressure to the
 * ring instead of being dropped at the socket.
 */
import type { Worker } from 'node:worker_threads';
import { EAGAIN, EINTR } from '../conf/errno.js';
import { MSG_NOSIGNAL, sys } from '../system/libc.js';
import { Ctrl, WRAP, WRITER_HDR, WRITER_OFF_FD, WRITER_OFF_SA, WRITER_OFF_SALEN, newRing, nextOffset, reserve } from './ring.js';
import { endWorker, startWorker, waitAsync } from './workers.js';

/**
 * WGTS_SYNC_WRITES=1 makes the edges write on the main thread instead of through a RingWriter
 * (for A/B measurements with scripts/bench.mjs).
 */
export const SYNC_WRITES = process.env.WGTS_SYNC_WRITES === '1';


/** Time without a batch for the worker after which a lone packet is written inline (see flush). */
const QUIET_MS = 1;

export class RingWriter {
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly ctrl: Int32Array;
  private worker: Worker | undefined;
  private w = 0;
  /** The producer offset last published (ctrl[W]). */
  private published = 0;
  /** The worker has come up (see flush). */
  private ready = false;
  /** When the worker was last given records (performance.now()). */
  private publishedAt = -Infinity;
  /** Records pushed since the last flush. */
  private unpublished = 0;
  /** Records queued so far (wrapping like ctrl[DONE]). */
  private pushed = 0;
  /** Packets sent or written on the calling thread (see sendInline). */
  inline = 0;
  private stopped = false;
  /** Packets dropped because the ring was full. */
  dropped = 0;

  constructor(capacity = 4 << 20) {
    const ring = newRing(capacity);
    this.data = new Uint8Array(ring.sab);
    this.dv = new DataView(ring.sab);
    this.ctrl = new Int32Array(ring.ctrlSab);
  }

  /**
   * The worker starts with the first batch published to it (flush). Lone packets do not need it
   * (sendInline), so a daemon that only sees handshakes, keepalives and pings never pays for its
   * isolate (about 8 MiB of RSS, docs/benchmarks.md "Data plane").
   */
  private startWorker(): void {
    this.worker = startWorker('writer', { sab: this.data.buffer, ctrlSab: this.ctrl.buffer });
    this.worker.on('error', () => undefined);
  }

  /**
   * Queues one packet for `fd`: sendto(`sa`) when given, else write(); `head` (a TUN's
   * virtio_net_hdr) goes right before the packet in the same write. Returns false if the ring is
   * full (dropped).
   */
  push(fd: number, packet: Uint8Array, sa?: Uint8Array, head?: Uint8Array): boolean {
    const headLen = head ? head.length : 0;
    const len = headLen + packet.length;
    const w = reserve(this.dv, this.w, Atomics.load(this.ctrl, Ctrl.R), WRITER_HDR + len + 3);
    if (w === -1) {
      this.dropped++;
      return false;
    }
    const dv = this.dv;
    dv.setInt32(w, len, true);
    dv.setInt32(w + WRITER_OFF_FD, fd, true);
    if (sa) {
      dv.setInt32(w + WRITER_OFF_SALEN, sa.length, true);
      this.data.set(sa, w + WRITER_OFF_SA);
    } else dv.setInt32(w + WRITER_OFF_SALEN, 0, true);
    if (head) this.data.set(head, w + WRITER_HDR);
    this.data.set(packet, w + WRITER_HDR + headLen);
    this.w = nextOffset(w, WRITER_HDR, len);
    this.pushed = (this.pushed + 1) | 0;
    this.unpublished++;
    return true;
  }

  /** Whether the worker is up: it has taken over from the inline writes of the start (flush). */
  get workerReady(): boolean {
    return this.worker !== undefined && (this.ready || Atomics.load(this.ctrl, Ctrl.SLEEPING) !== 0);
  }

  /** UDP GSO trains the worker sent so far, and those it had to split (wrapping at 2^32). */
  udpCounters(): { trains: number; splits: number } {
    return { trains: Atomics.load(this.ctrl, Ctrl.TRAINS) >>> 0, splits: Atomics.load(this.ctrl, Ctrl.SPLITS) >>> 0 };
  }

  /** Publishes the queued packets to the worker (call once per batch). */
  flush(): void {
    const n = this.unpublished;
    if (n === 0) return;
    this.unpublished = 0;
    const ctrl = this.ctrl;
    if (!this.worker && n > 1 && !this.stopped) this.startWorker();
    // The worker announces its first sleep once it is up; until then this thread writes everything
    // itself rather than let packets wait for an isolate to boot (0.1-0.2 s on a busy machine).
    if (!this.ready && this.worker && Atomics.load(ctrl, Ctrl.SLEEPING) !== 0) this.ready = true;
    // A lone packet after a quiet spell only: while traffic flows the worker takes every write, so
    // the main thread (the protocol's and crypto's thread) does not also carry the kernel's work
    // behind a coalesced TUN write or a stream of ACKs.
    const inline = !this.ready || (n === 1 && Atomics.load(ctrl, Ctrl.SLEEPING) !== 0 && performance.now() - this.publishedAt > QUIET_MS);
    if (inline && !this.stopped && Atomics.load(ctrl, Ctrl.R) === this.published && this.sendInline()) return;
    if (!this.worker && !this.stopped) this.startWorker();
    this.published = this.w;
    this.publishedAt = performance.now();
    Atomics.store(ctrl, Ctrl.W, this.w);
    Atomics.add(ctrl, Ctrl.SEQ, 1);
    // Wake the worker only if it sleeps (a futex syscall otherwise costs the main thread for nothing).
    if (Atomics.load(ctrl, Ctrl.SLEEPING) !== 0) Atomics.notify(ctrl, Ctrl.SEQ);
  }

  /**
   * Sends the unpublished records on the calling thread, leaving them out of the ring. For a lone
   * packet when the worker sleeps (issue "a lone packet must not wait for a batch"): waking it costs
   * this thread a futex call and the packet the wake-up itself, about 0.1-0.2 ms per hop on the
   * bench's VM (docs/benchmarks.md "Data plane"); and for everything until the worker is up.
   * The caller checked that R === the last published W: the worker has returned from the syscall of
   * every record published so far (it stores R only after them) and no other thread produces, so
   * per-fd order holds. If a socket is full (EAGAIN) the rest goes to the worker, which waits for
   * room; the records already sent stay in the ring with fd -1 (the worker's call fails, it drops
   * them) and false is returned.
   */
  private sendInline(): boolean {
    const { dv, data } = this;
    let sent = 0;
    let at = this.published;
    while (at !== this.w) {
      const len = dv.getInt32(at, true);
      if (len === WRAP) {
        at = 0;
        continue;
      }
      const fd = dv.getInt32(at + WRITER_OFF_FD, true);
      const salen = dv.getInt32(at + WRITER_OFF_SALEN, true);
      const payload = data.subarray(at + WRITER_HDR, at + WRITER_HDR + len);
      let rc: number;
      for (;;) {
        rc = salen !== 0
          ? sys.sendto(fd, payload, len, MSG_NOSIGNAL, data.subarray(at + WRITER_OFF_SA, at + WRITER_OFF_SA + salen), salen)
          : sys.write(fd, payload, len);
        if (rc >= 0 || sys.errno() !== EINTR) break;
      }
      // Any failure but EAGAIN drops the packet, as the worker does.
      if (rc < 0 && sys.errno() === EAGAIN) {
        for (let k = this.published; k !== at; ) {
          const l = dv.getInt32(k, true);
          if (l === WRAP) {
            k = 0;
            continue;
          }
          dv.setInt32(k + WRITER_OFF_FD, -1, true);
          k = nextOffset(k, WRITER_HDR, l);
        }
        this.inline += sent; // still counted in `pushed`: the worker counts them done when it skips them
        return false;
      }
      sent++;
      at = nextOffset(at, WRITER_HDR, len);
    }
    this.w = this.published;
    this.pushed = (this.pushed - sent) | 0;
    this.inline += sent;
    return true;
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
      const done = Atomics.load(this.ctrl, Ctrl.DONE);
      const left = end - performance.now();
      if (((done - this.pushed) | 0) >= 0 || left <= 0 || !this.worker || this.worker.threadId === -1) return;
      const res = waitAsync(this.ctrl, Ctrl.DONE, done, left);
      if (res.async) await res.value;
    }
  }

  /** Stops the worker once it has drained the ring. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.ctrl, Ctrl.STATE, 1);
    Atomics.add(this.ctrl, Ctrl.SEQ, 1);
    Atomics.notify(this.ctrl, Ctrl.SEQ);
    if (this.worker) await endWorker(this.worker);
  }
}

let sharedWriter: RingWriter | undefined;
let writerUsers = 0;

/** The process's writer (started by its first user); give it back with releaseWriter(). */
export function acquireWriter(): RingWriter {
  if (!sharedWriter) {
    sharedWriter = new RingWriter();
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
