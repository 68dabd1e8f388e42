/**
 * Packet writes for the main thread: each packet (its fd and, for UDP, the sockaddr) is copied into a
 * shared ring (layout in ring.ts), and flush() carries out the batch (write-drain.ts: one write() per
 * TUN packet, one sendmmsg() per burst of UDP datagrams for one socket, equal-size runs to one peer as
 * UDP GSO trains, straight from the ring). One ring serves every TUN and Bind of the process:
 * acquireWriter() / releaseWriter().
 *
 * Who makes the system calls: this thread, as long as the writer worker (writer-worker.ts) has
 * nothing in hand; the worker only when an fd is full (EAGAIN). On the bench's saturated 2-core
 * machine what counts is CPU per byte across all threads, and waking a worker per batch cost more
 * than it saved (a futex wake on this thread, a context switch and a futex wait on the worker's,
 * and the wake-up preempting this thread; docs/benchmarks.md "Data plane"). A GSO train makes the
 * syscalls few: one per TSO super-packet's worth of datagrams. The worker stays for what this
 * thread must not do: wait for POLLOUT. It starts with the first batch it is handed.
 * WGTS_INLINE_WRITES=0 brings back the earlier split (the worker takes every batch while traffic
 * flows; a lone packet after a quiet spell is written here), for A/B measurements.
 *
 * Per-fd order: this thread writes only while the worker has finished every record published to
 * it (R === the last published W; no other thread produces), and what it cannot write goes to the
 * worker after those, so records for an fd leave in the order they were pushed.
 *
 * A full ring drops the packet (counted), like a full queue in wireguard-go. A send that fails with
 * EAGAIN (socket buffer full) waits in the worker for POLLOUT, so bursts apply backpressure to the
 * ring instead of being dropped at the socket.
 */
import type { Worker } from 'node:worker_threads';
import { Ctrl, WRAP, WRITER_HDR, WRITER_OFF_FD, WRITER_OFF_SA, WRITER_OFF_SALEN, newRing, nextOffset, reserve } from './ring.js';
import { endWorker, startWorker, waitAsync } from './workers.js';
import { WriteDrain } from './write-drain.js';
import { monotonicMs } from './monotonic.js';

/**
 * WGTS_SYNC_WRITES=1 makes the edges write on the main thread instead of through a RingWriter
 * (for A/B measurements with scripts/bench.mjs).
 */
export const SYNC_WRITES = process.env.WGTS_SYNC_WRITES === '1';

/** Time without a batch for the worker after which a lone packet is written inline (WGTS_INLINE_WRITES=0). */
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
  /** When the worker was last given records (monotonicMs()). */
  private publishedAt = -Infinity;
  /** Records pushed since the last flush. */
  private unpublished = 0;
  /** Records queued so far (wrapping like ctrl[DONE]). */
  private pushed = 0;
  /** Packets sent or written on the calling thread (see writeInline). */
  inline = 0;
  /** This thread's drain (non-blocking), made with the first inline write, and when it last wrote. */
  private drain: WriteDrain | undefined;
  private inlineAt = -Infinity;
  /** WGTS_INLINE_WRITES=0: the worker takes every batch while traffic flows (see the module comment). */
  private readonly inlineAlways = process.env.WGTS_INLINE_WRITES !== '0';
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
   * The worker starts with the first batch handed to it (flush): while sockets and the TUN keep up
   * this thread writes everything (writeInline), so a daemon never pays for the isolate (about
   * 8 MiB of RSS, docs/benchmarks.md "Data plane") unless an fd fills up.
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
    const w = this.record(fd, headLen + packet.length, sa);
    if (w === -1) return false;
    if (head) this.data.set(head, w + WRITER_HDR);
    this.data.set(packet, w + WRITER_HDR + headLen);
    return true;
  }

  /**
   * Room for one write of `len` bytes to `fd` (a datagram to `sa` when given), a view into the ring
   * that the caller fills before the next flush(): a packet sealed (send.ts) or a super-packet built
   * (offload/tun-frames.ts writeInto) straight into the ring costs no copy. null if the ring is full
   * (dropped).
   */
  reserve(fd: number, len: number, sa?: Uint8Array): Uint8Array | null {
    const w = this.record(fd, len, sa);
    return w === -1 ? null : this.data.subarray(w + WRITER_HDR, w + WRITER_HDR + len);
  }

  /** Writes a record's header for `len` payload bytes and queues it; its offset, or -1 (full, dropped). */
  private record(fd: number, len: number, sa: Uint8Array | undefined): number {
    const w = reserve(this.dv, this.w, Atomics.load(this.ctrl, Ctrl.R), WRITER_HDR + len + 3);
    if (w === -1) {
      this.dropped++;
      return -1;
    }
    const dv = this.dv;
    dv.setInt32(w, len, true);
    dv.setInt32(w + WRITER_OFF_FD, fd, true);
    if (sa) {
      dv.setInt32(w + WRITER_OFF_SALEN, sa.length, true);
      this.data.set(sa, w + WRITER_OFF_SA);
    } else dv.setInt32(w + WRITER_OFF_SALEN, 0, true);
    this.w = nextOffset(w, WRITER_HDR, len);
    this.pushed = (this.pushed + 1) | 0;
    this.unpublished++;
    return w;
  }

  /** Whether the worker is up: it has taken over from the inline writes of the start (flush). */
  get workerReady(): boolean {
    return this.worker !== undefined && (this.ready || Atomics.load(this.ctrl, Ctrl.SLEEPING) !== 0);
  }

  /** UDP GSO trains the worker sent so far, and those it had to split (wrapping at 2^32). */
  udpCounters(): { trains: number; splits: number } {
    const d = this.drain;
    return {
      trains: (Atomics.load(this.ctrl, Ctrl.TRAINS) + (d ? d.trains : 0)) >>> 0,
      splits: (Atomics.load(this.ctrl, Ctrl.SPLITS) + (d ? d.splits : 0)) >>> 0,
    };
  }

  /** Carries out the queued packets, here or by the worker (call once per batch). */
  flush(): void {
    const n = this.unpublished;
    if (n === 0) return;
    this.unpublished = 0;
    const ctrl = this.ctrl;
    let inline: boolean;
    if (this.inlineAlways) inline = true;
    else {
      if (!this.worker && n > 1 && !this.stopped) this.startWorker();
      // The worker announces its first sleep once it is up; until then this thread writes everything
      // itself rather than let packets wait for an isolate to boot (0.1-0.2 s on a busy machine).
      if (!this.ready && this.worker && Atomics.load(ctrl, Ctrl.SLEEPING) !== 0) this.ready = true;
      inline = !this.ready || (n === 1 && Atomics.load(ctrl, Ctrl.SLEEPING) !== 0 && monotonicMs() - this.publishedAt > QUIET_MS);
    }
    if (inline && !this.stopped && Atomics.load(ctrl, Ctrl.R) === this.published && this.writeInline()) return;
    if (!this.worker && !this.stopped) this.startWorker();
    this.published = this.w;
    this.publishedAt = monotonicMs();
    Atomics.store(ctrl, Ctrl.W, this.w);
    Atomics.add(ctrl, Ctrl.SEQ, 1);
    // Wake the worker only if it sleeps (a futex syscall otherwise costs the main thread for nothing).
    if (Atomics.load(ctrl, Ctrl.SLEEPING) !== 0) Atomics.notify(ctrl, Ctrl.SEQ);
  }

  /**
   * Carries out the unpublished records on the calling thread, leaving them out of the ring.
   * The caller checked that R === the last published W: the worker has returned from the syscall of
   * every record published so far (it stores R only after them) and no other thread produces, so
   * per-fd order holds. If an fd is full (EAGAIN) the rest goes to the worker, which waits for room;
   * the records already written stay in the ring with fd -1 (the worker counts them done without a
   * system call) and false is returned.
   */
  private writeInline(): boolean {
    const drain = (this.drain ??= new WriteDrain(this.data, this.dv, false));
    // As the worker does after a second without records: an fd number reused by a new socket then
    // gets a GSO verdict of its own.
    const now = monotonicMs();
    if (now - this.inlineAt > 1000) drain.forget();
    this.inlineAt = now;
    const before = drain.done;
    let at = this.published;
    while (at !== this.w) {
      at = drain.step(at, this.w);
      if (drain.blocked) break;
    }
    const sent = (drain.done - before) | 0;
    this.inline += sent;
    if (at === this.w) {
      this.w = this.published;
      this.pushed = (this.pushed - sent) | 0;
      return true;
    }
    const dv = this.dv;
    for (let k = this.published; k !== at; ) {
      const l = dv.getInt32(k, true);
      if (l === WRAP) {
        k = 0;
        continue;
      }
      dv.setInt32(k + WRITER_OFF_FD, -1, true);
      k = nextOffset(k, WRITER_HDR, l);
    }
    return false; // still counted in `pushed`: the worker counts them done when it skips them
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
