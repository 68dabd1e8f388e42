/**
 * Packet reads off the main thread. One reader worker per process (reader-worker.ts) polls every
 * non-blocking fd the data plane reads (the TUN, the Bind's IPv4 and IPv6 sockets, the TUN's link
 * watch) and reads bursts of packets straight into one shared ring per source (a RingReader: the
 * TUN's, the Bind's; layout in ring.ts); the main thread is woken once per burst (Atomics.waitAsync
 * on that ring) and hands the packets, as zero-copy views into the ring, to the source's callback.
 * Writes go the other way through ring-writer.ts.
 *
 * Why this shape (measured on the bench, see docs/benchmarks.md "Data plane"): Node core cannot wrap
 * a TUN fd in a stream, and fs.read goes through the libuv threadpool with one callback per packet.
 * A worker blocked in poll()/read() costs the main thread nothing per packet; the only per-packet
 * work left on the main thread is a subarray() and the protocol itself. Reading into the shared ring
 * avoids a copy and a postMessage per burst.
 *
 * Why one reader for every source: each worker is a V8 isolate of 8-12 MiB RSS, and one poll()
 * serves any number of fds (the benchmarks measured the same throughput as one thread per fd).
 * Reads and writes stay on separate threads: a writer blocked on a full socket buffer must not hold
 * up the reads, nor a reader waiting for ring space the writes.
 *
 * The worker runs only under traffic. While the data plane is idle (handshakes, keepalives, the odd
 * ping) the main thread reads the same fds into the same rings itself (idle-poll.ts, with the
 * worker's code, reader-burst.ts): an idle daemon then holds one V8 isolate instead of two. Past a
 * couple of thousand packets a second the sources go to the worker, and back after QUIET_CHECK_MS
 * of quiet.
 *
 * The worker's set of sources changes while it runs (the Bind re-opens its sockets on a port change,
 * a device goes down and up): requests go by postMessage plus a byte on a wake pipe that it polls
 * along with the fds. A source is removed only once the worker acknowledges it, so its fds may then
 * be closed. The worker starts with its first source and ends with its last.
 */
import type { Worker } from 'node:worker_threads';
import { EIO } from '../conf/errno.js';
import { IdlePoll, type IdleConsumer } from './idle-poll.js';
import { openLinkSocket, type LinkEvent } from './link-watch.js';
import { O_CLOEXEC, O_NONBLOCK, sys } from '../system/libc.js';
import { GATE_BYTES, GATE_HS_DROPPED, GATE_JUNK, GATE_KEY_OFFSET, GATE_KEY_SET, GATE_MAC1_FAILED, type ReaderMessage, type ReaderRequest, type SourceSpec } from './reader-spec.js';
import { Ctrl, LEN_BYTES, SOCKADDR_BYTES, WRAP, newRing, nextOffset, release, used } from './ring.js';
import { endWorker, startWorker, waitAsync } from './workers.js';

export type { LinkEvent } from './link-watch.js';

/**
 * How long the main thread sleeps on an empty ring before it looks again by itself. Only a safety
 * net (the worker wakes it after every burst): a lost wake-up would otherwise leave records in the
 * ring until the next burst, and forever if the sender waits for them (flow control, a full ring).
 */
const WAKE_CHECK_MS = 1000;
/** Records handed to callbacks so far, all readers (how busy the data plane is, see ReaderThread). */
let recordsTaken = 0;
/**
 * The reader worker ends, and the main thread's idle poll takes the reads back, when fewer than
 * QUIET_RECORDS records came in during QUIET_CHECK_MS: under 5 a second (keepalives, a handshake,
 * the odd ping), far below the 2000 a second that start the worker (idle-poll.ts), so traffic near
 * either rate does not flap between the two.
 */
const QUIET_CHECK_MS = 10_000;
const QUIET_RECORDS = 50;

/** Times the main thread found records that no wake-up announced (see WAKE_CHECK_MS). */
export let missedWakeups = 0;

/** The control words of every running reader's ring, for diagnostics (a test's failure message). */
export function ringStates(): Array<{ W: number; R: number; SEQ: number; RSEQ: number; STATE: number; STOP: number }> {
  return [...liveReaders].map((r) => r.ctrlWords());
}
const liveReaders = new Set<RingReader>();

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
  /** Link notifications of the interface named by setLinkIndex() (the TUN's reader; link-watch.ts). */
  onLink?(ev: LinkEvent): void;
  /**
   * UDP of a device: handshake messages take a path of their own (see HandshakeLane). The worker
   * sorts each datagram by type and size, checks mac1 of initiations and responses with the key
   * given to setMac1Key() and drops what fails, and puts handshake messages in a bounded ring of
   * their own (dropped when full). The main thread takes them after the data, at most
   * `budgetMs` of work per turn, so data of established sessions never waits behind a flood.
   */
  handshakes?: HandshakeLane;
}

export interface HandshakeLane {
  /** Called with up to `batch` handshake messages (views valid during the call). */
  onPackets(packets: Uint8Array[], addrs: Uint8Array[]): void;
  /** Ring size in bytes (default 1 MiB: about 5800 initiations, the kernel queues 4096). */
  capacity?: number;
  /** Main-thread time per turn for handshakes (default 2 ms). */
  budgetMs?: number;
}

/**
 * The process's reads, shared by every RingReader: the main thread's idle poll (idle-poll.ts) until
 * traffic asks for more, then the reader worker.
 */
class ReaderThread {
  private worker: Worker | undefined;
  private wakeFds = new Int32Array(2);
  private idle: IdlePoll | undefined;
  private readonly readers = new Map<number, RingReader>();
  private readonly specs = new Map<number, SourceSpec>();
  private readonly removals = new Map<number, () => void>();
  private nextId = 1;
  /** Set while the sources move from the worker back to the idle poll (toIdle). */
  private switching: Promise<void> | undefined;
  private workerReady = false;
  private quietTimer: NodeJS.Timeout | undefined;

  /** Whether the reader worker runs (for tests and diagnostics). */
  get workerRunning(): boolean {
    return this.worker !== undefined;
  }

  /** The worker reads the sources (it has loaded and taken them over from the idle poll). */
  private get working(): boolean {
    return this.worker !== undefined && this.workerReady && !this.switching;
  }

  add(reader: RingReader, spec: SourceSpec): number {
    const id = this.nextId++;
    this.readers.set(id, reader);
    this.specs.set(id, spec);
    if (this.switching) {
      // Handed to the idle poll with the others when the switch ends.
    } else if (this.working) {
      this.post({ op: 'add', id, ...spec });
      reader.runLoop();
    } else {
      this.idle ??= new IdlePoll(() => this.toWorker());
      this.idle.add(id, spec, reader);
    }
    return id;
  }

  /** Resolves once nothing reads the source's fds any more (they may be closed then). */
  async remove(id: number): Promise<void> {
    if (this.switching) await this.switching;
    if (!this.readers.has(id)) return;
    if (!this.working) {
      const idle = this.idle;
      await idle?.remove(id);
      this.forget(id);
      if (idle && idle === this.idle && idle.size === 0) this.idle = undefined;
      return;
    }
    const worker = this.worker!;
    const removed = new Promise<void>((resolve) => this.removals.set(id, resolve));
    this.post({ op: 'remove', id });
    await removed;
    this.forget(id);
    if (this.readers.size === 0 && this.worker === worker) await this.endWorker(worker);
  }

  /** Ends the worker (every source already removed from it) and closes its wake pipe. */
  private async endWorker(worker: Worker): Promise<void> {
    this.worker = undefined;
    this.workerReady = false;
    clearInterval(this.quietTimer);
    const [rd, wr] = [this.wakeFds[0]!, this.wakeFds[1]!];
    const exited = endWorker(worker);
    worker.postMessage({ op: 'exit' } satisfies ReaderRequest);
    sys.write(wr, new Uint8Array(1), 1);
    await exited;
    sys.close(rd);
    sys.close(wr);
  }

  /**
   * Quiet again (QUIET_RECORDS): the sources go back to the idle poll. The worker lets go of them
   * first; then the readers' loops end, what the worker left in the rings is handed on, and the
   * idle poll goes on from the rings' write offsets.
   */
  private async toIdle(worker: Worker): Promise<void> {
    let done!: () => void;
    this.switching = new Promise<void>((resolve) => (done = resolve));
    try {
      await Promise.all([...this.specs.keys()].map((id) => {
        const removed = new Promise<void>((resolve) => this.removals.set(id, resolve));
        this.post({ op: 'remove', id });
        return removed;
      }));
      if (this.worker !== worker) return; // it died meanwhile: its readers have failed
      await this.endWorker(worker);
      for (const reader of this.readers.values()) reader.endLoop();
      for (const reader of this.readers.values()) reader.pump();
      if (this.readers.size === 0) return;
      this.idle = new IdlePoll(() => this.toWorker());
      for (const [id, spec] of this.specs) this.idle.add(id, spec, this.readers.get(id)!);
    } finally {
      this.switching = undefined;
      done();
    }
  }

  private forget(id: number): void {
    this.readers.delete(id);
    this.specs.delete(id);
  }

  /**
   * Traffic: the worker starts; the idle poll serves until it has loaded (its 'ready'), so no packet
   * waits for a V8 isolate to boot.
   */
  private toWorker(): void {
    if (!this.worker) this.startWorker();
  }

  /** The worker has loaded: it takes every source over from the idle poll. */
  private async takeOver(worker: Worker): Promise<void> {
    const idle = this.idle;
    this.switching = idle?.handOver();
    try {
      await this.switching;
    } finally {
      this.switching = undefined;
    }
    if (this.worker !== worker) return; // it died meanwhile
    if (this.idle === idle) this.idle = undefined;
    this.workerReady = true;
    if (this.readers.size === 0) {
      await this.endWorker(worker);
      return;
    }
    for (const [id, spec] of this.specs) this.post({ op: 'add', id, ...spec });
    for (const reader of this.readers.values()) reader.runLoop();
    let seen = recordsTaken;
    this.quietTimer = setInterval(() => {
      const n = recordsTaken - seen;
      seen = recordsTaken;
      if (n < QUIET_RECORDS && this.worker === worker && !this.switching) void this.toIdle(worker);
    }, QUIET_CHECK_MS);
    this.quietTimer.unref();
  }

  private startWorker(): void {
    const wakeFds = new Int32Array(2);
    // Non-blocking: a full pipe (64 KiB of unread wake-ups) must not block the main thread.
    if (sys.pipe2(wakeFds, O_CLOEXEC | O_NONBLOCK) < 0) throw new Error(`pipe2 failed: errno ${sys.errno()}`);
    this.wakeFds = wakeFds;
    const worker = startWorker('reader', { wakeFd: wakeFds[0] });
    this.worker = worker;
    // process.exit() joins the worker threads, and this one may sit in poll() (a native call that
    // termination cannot interrupt) with sources nobody removed: tell it to leave first.
    const atExit = (): void => {
      if (this.worker === worker) this.post({ op: 'exit' });
    };
    process.once('exit', atExit);
    worker.once('exit', () => process.off('exit', atExit));
    worker.on('message', (m: ReaderMessage) => {
      if (m.kind === 'ready') void this.takeOver(worker);
      else if (m.kind === 'removed') {
        this.removals.get(m.id)?.();
        this.removals.delete(m.id);
      } else this.readers.get(m.id)?.linkEvent(m);
    });
    // The worker died (a bug, or terminate()): its sources end with EIO, and waiting removals resolve.
    const died = (): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.workerReady = false;
      clearInterval(this.quietTimer);
      for (const resolve of this.removals.values()) resolve();
      this.removals.clear();
      const readers = [...this.readers.values()];
      this.readers.clear();
      this.specs.clear();
      sys.close(wakeFds[0]!);
      sys.close(wakeFds[1]!);
      for (const r of readers) r.fail(EIO);
    };
    worker.on('error', died);
    worker.on('exit', died);
  }

  private post(msg: ReaderRequest): void {
    this.worker!.postMessage(msg);
    sys.write(this.wakeFds[1]!, new Uint8Array(1), 1);
  }
}

const readerThread = new ReaderThread();

/** Whether the reader worker runs now (it starts with traffic, see idle-poll.ts). */
export function readerWorkerRunning(): boolean {
  return readerThread.workerRunning;
}

export class RingReader implements IdleConsumer {
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
  /** The handshake lane (UDP of a device): its ring and the gate shared with the worker. */
  private readonly hs: { data: Uint8Array; dv: DataView; ctrl: Int32Array; gate: Int32Array; gateBytes: Uint8Array } | undefined;

  constructor(private readonly opts: RingReaderOptions) {
    const ring = newRing(opts.capacity ?? 4 << 20);
    this.data = new Uint8Array(ring.sab);
    this.dv = new DataView(ring.sab);
    this.ctrl = new Int32Array(ring.ctrlSab);
    this.hdr = LEN_BYTES + (opts.withAddr ? SOCKADDR_BYTES : 0);
    this.batch = opts.batch ?? 128;
    if (opts.handshakes) {
      if (!opts.withAddr) throw new Error('a handshake lane needs source addresses');
      const hr = newRing(opts.handshakes.capacity ?? 1 << 20);
      const gateSab = new SharedArrayBuffer(GATE_BYTES);
      this.hs = {
        data: new Uint8Array(hr.sab), dv: new DataView(hr.sab), ctrl: new Int32Array(hr.ctrlSab),
        gate: new Int32Array(gateSab, 0, GATE_KEY_OFFSET / 4), gateBytes: new Uint8Array(gateSab),
      };
    }
  }

  private keyGeneration = 0;

  /** The key incoming handshakes' mac1 is checked with (HASH(LABEL_MAC1 || our public key)); null drops them all. */
  setMac1Key(key: Uint8Array | null): void {
    const hs = this.hs;
    if (!hs) return;
    Atomics.store(hs.gate, GATE_KEY_SET, 0);
    if (key === null) {
      hs.gateBytes.fill(0, GATE_KEY_OFFSET);
      return;
    }
    hs.gateBytes.set(key, GATE_KEY_OFFSET);
    Atomics.store(hs.gate, GATE_KEY_SET, ++this.keyGeneration);
  }

  /** How full the handshake ring is (0..1): the kernel's measure of "under load". */
  handshakeBacklog(): number {
    const hs = this.hs;
    if (!hs) return 0;
    return used(hs.dv, Atomics.load(hs.ctrl, Ctrl.W), Atomics.load(hs.ctrl, Ctrl.R)) / hs.data.length;
  }

  /** Handshake messages dropped for a full lane or a source over its rate (the gate's count). */
  handshakesDropped(): number {
    const g = this.hs?.gate;
    return g ? Atomics.load(g, GATE_HS_DROPPED) : 0;
  }

  /** Datagrams the worker dropped: bad mac1, handshake ring full, neither data nor handshake. */
  gateCounters(): { mac1Failed: number; handshakesDropped: number; junk: number } {
    const g = this.hs?.gate;
    return g
      ? { mac1Failed: Atomics.load(g, GATE_MAC1_FAILED), handshakesDropped: Atomics.load(g, GATE_HS_DROPPED), junk: Atomics.load(g, GATE_JUNK) }
      : { mac1Failed: 0, handshakesDropped: 0, junk: 0 };
  }

  /** The link watch's state so far (a caller that arrives late learns whether it is subscribed). */
  linkState: 'off' | 'pending' | 'ready' | 'failed' = 'off';

  /** The ring's control words now (see ringStates). */
  ctrlWords(): { W: number; R: number; SEQ: number; RSEQ: number; STATE: number; STOP: number } {
    const c = this.ctrl;
    const at = (i: number): number => Atomics.load(c, i);
    return { W: at(Ctrl.W), R: at(Ctrl.R), SEQ: at(Ctrl.SEQ), RSEQ: at(Ctrl.RSEQ), STATE: at(Ctrl.STATE), STOP: at(Ctrl.STOP) };
  }

  /** The link watch's socket (link-watch.ts): this thread's, whichever thread reads it. */
  private linkFd: number | undefined;
  private looping = false;
  private loopWanted = false;

  start(): void {
    liveReaders.add(this);
    if (this.opts.onLink) {
      this.linkState = 'pending';
      this.linkFd = openLinkSocket((ev) => this.linkEvent(ev));
    }
    this.id = readerThread.add(this, {
      fds: this.opts.fds, sab: this.data.buffer as SharedArrayBuffer, ctrlSab: this.ctrl.buffer as SharedArrayBuffer,
      maxPacket: this.opts.maxPacket, withAddr: this.opts.withAddr, batch: this.batch, linkFd: this.linkFd,
      handshakes: this.hs && {
        sab: this.hs.data.buffer as SharedArrayBuffer, ctrlSab: this.hs.ctrl.buffer as SharedArrayBuffer,
        gateSab: this.hs.gateBytes.buffer as SharedArrayBuffer,
      },
    });
  }

  /** The reader worker fills the ring: wait for its wake-ups (see loop()). */
  runLoop(): void {
    this.loopWanted = true;
    if (this.looping || this.stopped) return;
    this.looping = true;
    void this.loop().finally(() => (this.looping = false));
  }

  /** The worker no longer fills the ring: the loop ends at its next wake-up (woken now). */
  endLoop(): void {
    this.loopWanted = false;
    Atomics.add(this.ctrl, Ctrl.SEQ, 1);
    Atomics.notify(this.ctrl, Ctrl.SEQ);
  }

  /**
   * The idle poll filled the ring: take everything now, as loop() does per wake-up. True if
   * handshakes are left over (a flood: then the worker takes over, and loop() paces them).
   */
  pump(): boolean {
    if (this.stopped) return false;
    this.drain();
    const state = Atomics.load(this.ctrl, Ctrl.STATE);
    if (state !== 0) {
      this.drain();
      this.fail(state);
      return false;
    }
    return this.hs !== undefined && this.drainHandshakes();
  }

  /** A link event from the worker (see RingReaderOptions.onLink). */
  linkEvent(ev: LinkEvent): void {
    if (ev.kind === 'ready') this.linkState = 'ready';
    if (ev.kind === 'error') this.linkState = 'failed';
    if (!this.stopped) this.opts.onLink?.(ev);
  }

  /** Which interface's link notifications to report (see RingReaderOptions.onLink); 0 for none. */
  setLinkIndex(index: number): void {
    Atomics.store(this.ctrl, Ctrl.LINK_INDEX, index);
  }

  /** Stops the main-thread loop and takes the fds out of the worker's poll set. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    this.stopped = true; // a source that failed must still leave the worker's list
    liveReaders.delete(this);
    Atomics.store(this.ctrl, Ctrl.STOP, 1);
    Atomics.add(this.ctrl, Ctrl.SEQ, 1);
    Atomics.notify(this.ctrl, Ctrl.SEQ);
    Atomics.add(this.ctrl, Ctrl.RSEQ, 1);
    Atomics.notify(this.ctrl, Ctrl.RSEQ);
    await readerThread.remove(this.id);
    if (this.linkFd !== undefined) sys.close(this.linkFd);
    this.linkFd = undefined;
  }

  /** The source ended (errno from the worker, or EIO if the worker died). */
  fail(errno: number): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.onError(errno);
  }

  private async loop(): Promise<void> {
    const ctrl = this.ctrl;
    while (!this.stopped && this.loopWanted) {
      const seq = Atomics.load(ctrl, Ctrl.SEQ);
      this.drain();
      const state = Atomics.load(ctrl, Ctrl.STATE);
      if (state !== 0) {
        this.drain();
        this.fail(state);
        return;
      }
      // Data first: handshakes get a bounded slice of this turn, and what is left waits for the next
      // turn (after whatever else the event loop has, data of the other rings included).
      if (this.hs && this.drainHandshakes()) {
        // Handshakes left over: the next slice after a pause (or at once when data arrives), so a
        // flood takes at most about a third of this thread and the reader worker keeps its share of
        // the CPU; what does not fit waits in the lane, and the worker drops when the lane is full.
        // The worker bumps SEQ for data only while the lane is busy, so this wait ends on data or time.
        const res = waitAsync(ctrl, Ctrl.SEQ, Atomics.load(ctrl, Ctrl.SEQ), 2 * (this.opts.handshakes!.budgetMs ?? 2));
        if (res.async) await res.value;
        continue;
      }
      if (this.hs) {
        // Idle with an empty lane: announce it, then look again (a handshake queued meanwhile is
        // either seen now, or the worker sees SLEEPING and bumps SEQ for it).
        Atomics.store(ctrl, Ctrl.SLEEPING, 1);
        if (Atomics.load(this.hs.ctrl, Ctrl.W) !== Atomics.load(this.hs.ctrl, Ctrl.R)) {
          Atomics.store(ctrl, Ctrl.SLEEPING, 0);
          continue;
        }
      }
      const res = waitAsync(ctrl, Ctrl.SEQ, seq, WAKE_CHECK_MS);
      if (res.async) {
        // SEQ moved but no wake-up came: counted, and the records are taken now rather than never.
        if ((await res.value) === 'timed-out' && Atomics.load(ctrl, Ctrl.SEQ) !== seq) {
          missedWakeups++;
        }
      } else await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.hs) Atomics.store(ctrl, Ctrl.SLEEPING, 0);
    }
  }

  /**
   * Hands handshake messages to their callback, `batch` at a time, until the ring is empty or this
   * turn's budget is spent. True if some are left.
   */
  private drainHandshakes(): boolean {
    const hs = this.hs!;
    const lane = this.opts.handshakes!;
    const { packets, addrs } = this;
    const hdr = LEN_BYTES + SOCKADDR_BYTES;
    const batch = 16;
    const end = performance.now() + (lane.budgetMs ?? 2);
    let r = hs.ctrl[Ctrl.R]!;
    let w = Atomics.load(hs.ctrl, Ctrl.W);
    while (r !== w && !this.stopped) {
      if (performance.now() >= end) return true;
      packets.length = 0;
      addrs.length = 0;
      while (r !== w && packets.length < batch) {
        const len = hs.dv.getInt32(r, true);
        if (len === WRAP) {
          r = 0;
          continue;
        }
        packets.push(hs.data.subarray(r + hdr, r + hdr + len));
        addrs.push(hs.data.subarray(r + LEN_BYTES, r + hdr));
        r = nextOffset(r, hdr, len);
      }
      try {
        recordsTaken += packets.length;
        if (packets.length > 0) lane.onPackets(packets, addrs);
      } catch (err) {
        reportPacketBug(err);
      } finally {
        release(hs.ctrl, r);
      }
      if (Atomics.load(this.ctrl, Ctrl.W) !== this.ctrl[Ctrl.R]) this.drain(); // data that came meanwhile first
      w = Atomics.load(hs.ctrl, Ctrl.W);
    }
    return false;
  }

  /** Hands everything in the ring to the callback, `batch` packets at a time, freeing space after each. */
  private drain(): void {
    const { ctrl, dv, data, hdr, packets, addrs } = this;
    let r = ctrl[Ctrl.R]!;
    const w = Atomics.load(ctrl, Ctrl.W);
    while (r !== w && !this.stopped) {
      packets.length = 0;
      addrs.length = 0;
      while (r !== w && packets.length < this.batch) {
        const len = dv.getInt32(r, true);
        if (len === WRAP) {
          r = 0;
          continue;
        }
        packets.push(data.subarray(r + hdr, r + hdr + len));
        if (hdr !== LEN_BYTES) addrs.push(data.subarray(r + LEN_BYTES, r + hdr));
        r = nextOffset(r, hdr, len);
      }
      try {
        recordsTaken += packets.length;
        if (packets.length > 0) this.opts.onPackets(packets, addrs);
      } catch (err) {
        reportPacketBug(err);
      } finally {
        release(ctrl, r);
      }
    }
  }
}
