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
import { Ctrl, WRITER_HDR, WRITER_OFF_FD, WRITER_OFF_SA, WRITER_OFF_SALEN, newRing, nextOffset, reserve } from './ring.js';
import { endWorker, startWorker, waitAsync } from './workers.js';

/**
 * WGTS_SYNC_WRITES=1 makes the edges write on the main thread instead of through a RingWriter
 * (for A/B measurements with scripts/bench.mjs).
 */
export const SYNC_WRITES = process.env.WGTS_SYNC_WRITES === '1';


export class RingWriter {
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly ctrl: Int32Array;
  private worker: Worker | undefined;
  private w = 0;
  /** Records queued so far (wrapping like ctrl[DONE]). */
  private pushed = 0;
  private stopped = false;
  /** Packets dropped because the ring was full. */
  dropped = 0;

  constructor(capacity = 4 << 20) {
    const ring = newRing(capacity);
    this.data = new Uint8Array(ring.sab);
    this.dv = new DataView(ring.sab);
    this.ctrl = new Int32Array(ring.ctrlSab);
  }

  start(): void {
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
    return true;
  }

  /** UDP GSO trains the worker sent so far, and those it had to split (wrapping at 2^32). */
  udpCounters(): { trains: number; splits: number } {
    return { trains: Atomics.load(this.ctrl, Ctrl.TRAINS) >>> 0, splits: Atomics.load(this.ctrl, Ctrl.SPLITS) >>> 0 };
  }

  /** Publishes the queued packets to the worker (call once per batch). */
  flush(): void {
    Atomics.store(this.ctrl, Ctrl.W, this.w);
    Atomics.add(this.ctrl, Ctrl.SEQ, 1);
    // Wake the worker only if it sleeps (a futex syscall otherwise costs the main thread for nothing).
    if (Atomics.load(this.ctrl, Ctrl.SLEEPING) !== 0) Atomics.notify(this.ctrl, Ctrl.SEQ);
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
