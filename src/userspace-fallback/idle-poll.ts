/**
 * The main thread's own reads while the data plane is idle (ring-reader.ts says when): one poll()
 * over every source's fds and link-watch socket and a cancel pipe, run on a libuv thread-pool thread
 * (koffi's async call, so the main thread's event loop goes on); when it returns, the main thread
 * reads the ready fds into the sources' rings with the reader worker's code (reader-burst.ts) and
 * hands the records to their RingReader at once. This serves handshakes, keepalives and pings
 * without a second V8 isolate (8-12 MiB RSS).
 *
 * Where the fds can signal (O_ASYNC: sockets, tun, pipes; system/signal-io.ts), the wait is a SIGIO
 * to this thread instead of the thread-pool poll, and the poll runs here without blocking: one
 * thread wakes per packet instead of two. WGTS_IDLE_SIGIO=0 keeps the thread-pool poll.
 *
 * When traffic grows past what is cheap to serve this way (TRAFFIC_* below), ring-reader.ts starts the
 * reader worker; this poll serves until the worker has loaded, then stops with everything it read
 * handed on, and the worker goes on from the rings' write offsets. It gets them back when quiet.
 */
import { EIO } from '../conf/errno.js';
import type { LinkEvent } from './link-watch.js';
import { AsyncPollSet, O_CLOEXEC, O_NONBLOCK, sys } from '../system/libc.js';
import { SignalIo } from '../system/signal-io.js';
import { burst, fail, openSource, rewindIfEmpty, type Source } from './reader-burst.js';
import type { SourceSpec } from './reader-spec.js';
import { microtask } from './microtask.js';

/** What the idle poll hands records to (a RingReader). */
export interface IdleConsumer {
  /** Takes what is in the rings; true if handshakes are left over (more than a turn's budget). */
  pump(): boolean;
  linkEvent(ev: LinkEvent): void;
}

/**
 * Traffic that moves the reads to the worker: more than TRAFFIC_RECORDS records (packets read from
 * the TUN, datagrams from UDP) within TRAFFIC_WINDOW_MS, about 2000 a second. A ping every 20 ms is
 * 100 records a second per daemon (its TUN and its UDP), keepalives and handshakes far fewer: they
 * stay here: their RTT is the same either way within this machine's noise (interleaved pairs, pings
 * 20 ms apart: 50 right after the handshake, as the bench does, median 1.30 ms here against 1.48 ms
 * with the worker; 200 later, 1.62 against 1.41 ms), while starting the worker for them put its
 * start-up, some 100 ms of CPU, into their RTT (mean 2.17 against 1.65 ms). Bulk traffic passes
 * 2000 a second within milliseconds, where each wake-up here would cost a thread-pool round trip
 * per handful of packets (the worker reads 128 per wake-up); a burst that fills BURST counts too.
 */
const TRAFFIC_RECORDS = 200;
const TRAFFIC_WINDOW_MS = 100;
/**
 * Records one fd gives per wake-up here. Reaching it means packets arrive faster than this path
 * takes them: traffic, so the worker takes over (the rest waits in the socket or TUN queue).
 *
 * On the signal path, after a pass that read datagrams the poll looks again once the pass's writes
 * are done (a microtask after them): input those writes caused is taken at once. Writing a ping to
 * the TUN queues the kernel's echo reply before write() returns, and its signal would only be seen
 * after a return to libuv (its signal pipe, the epoll wake-up, node's signal event). Such passes
 * chain for up to BURST records; then the next look waits for the event loop's turn.
 */
const BURST = 32;
/** poll() failures in a row before the sources end with EIO (a poll that keeps failing would spin). */
const MAX_POLL_FAILURES = 100;
/** Whether to wait for SIGIO (see above); read once. */
const USE_SIGNALS = process.env.WGTS_IDLE_SIGIO !== '0';

interface Entry {
  src: Source;
  consumer: IdleConsumer;
  removed: boolean;
}

export class IdlePoll {
  private readonly entries = new Map<number, Entry>();
  private readonly set = new AsyncPollSet();
  /** The cancel pipe: a byte makes a pending poll return (a source added or removed, exit). */
  private readonly pipe = new Int32Array(2);
  private slots: Array<{ e: Entry; fd: number; link: boolean } | undefined> = [];
  private polling = false;
  /** In ready(): it re-arms the poll itself when done (a consumer may add or remove meanwhile). */
  private handling = false;
  /** Removals in progress: the poll is not re-armed, nor handed to the worker, until they are done. */
  private held = 0;
  private waiters: Array<() => void> = [];
  private windowStart = 0;
  private windowRecords = 0;
  private failures = 0;
  private closed = false;
  /** `busy` was told: the worker is starting, and this poll serves until it takes over. */
  private told = false;
  /** process.exit() waits for the thread pool, whose thread may sit in poll(): wake it first. */
  private readonly atExit = (): void => this.kick();
  /** signalled() as a field: the SIGIO callback, and queued after a pass (arm()). */
  private readonly look = (): void => this.signalled();
  /** The SIGIO wait, while every fd could be watched; undefined: the thread-pool poll. */
  private signals: SignalIo | undefined = USE_SIGNALS ? new SignalIo(this.look) : undefined;
  /** Waiting for a SIGIO (the signal path's counterpart of a pending thread-pool poll). */
  private awaitingSignal = false;
  /** The fd set changed (a source added, removed or ended): arm() builds the poll set again. */
  private dirty = true;
  /** Input may be waiting that raised no signal: fds just watched, or a pass that read something. */
  private unsignalled = true;
  /** Records the passes since the last wait for a signal took. */
  private chain = 0;

  /** `busy` is told (once) when traffic wants the worker; this poll goes on until handOver(). */
  constructor(private readonly busy: () => void) {
    if (sys.pipe2(this.pipe, O_CLOEXEC | O_NONBLOCK) < 0) throw new Error(`pipe2 failed: errno ${sys.errno()}`);
    process.on('exit', this.atExit);
  }

  get size(): number {
    return this.entries.size;
  }

  add(id: number, spec: SourceSpec, consumer: IdleConsumer): void {
    this.entries.set(id, { src: openSource(spec, (ev) => consumer.linkEvent(ev)), consumer, removed: false });
    this.dirty = true;
    if (this.polling) this.kick();
    else if (this.held === 0 && !this.handling) this.arm();
  }

  /** Resolves once no poll covers the source's fds any more (they may be closed then). */
  async remove(id: number): Promise<void> {
    if (!this.entries.has(id)) return;
    this.held++;
    try {
      if (this.polling) {
        const quiet = new Promise<void>((resolve) => this.waiters.push(resolve));
        this.kick();
        await quiet;
      }
      this.entries.get(id)!.removed = true;
      this.entries.delete(id);
      this.watchOnly(this.fds());
      this.dirty = true;
    } finally {
      this.held--;
    }
    if (this.entries.size === 0) this.close();
    else if (this.held === 0 && !this.polling && !this.handling) this.arm();
  }

  /**
   * Stops polling (waits for a pending poll to return, everything it read handed on) and lets go
   * of every source: the worker takes them from the rings' write offsets.
   */
  async handOver(): Promise<void> {
    this.held++;
    if (this.polling) {
      const quiet = new Promise<void>((resolve) => this.waiters.push(resolve));
      this.kick();
      await quiet;
    }
    this.entries.clear();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.atExit);
    this.signals?.close();
    sys.close(this.pipe[0]!);
    sys.close(this.pipe[1]!);
    this.set.free();
  }

  private kick(): void {
    if (!this.polling || this.closed) return;
    sys.write(this.pipe[1]!, new Uint8Array(1), 1);
    // Waiting for a signal holds nothing open in the event loop (libuv's signal handles do not
    // keep it alive), so a shutdown that waits on this kick could see the loop end first: look
    // at the pipe from an immediate, which does keep it alive.
    if (this.awaitingSignal) setImmediate(() => this.signalled());
  }

  /** The fds to wait on, the cancel pipe first; sets `slots` to match. */
  private fds(): number[] {
    const fds = [this.pipe[0]!];
    this.slots = [undefined];
    for (const e of this.entries.values()) {
      if (e.src.dead) continue;
      for (const fd of e.src.fds) {
        fds.push(fd);
        this.slots.push({ e, fd, link: false });
      }
      if (e.src.link) {
        fds.push(e.src.link.fd);
        this.slots.push({ e, fd: e.src.link.fd, link: true });
      }
    }
    return fds;
  }

  /**
   * Signals from exactly these fds (a removed source's fds may be closed and their numbers reused).
   * False, with the signal path given up for good, if one of them cannot signal.
   */
  private watchOnly(fds: number[]): boolean {
    if (!this.signals) return false;
    if (this.signals.set(fds)) return true;
    this.signals.close();
    this.signals = undefined;
    return false;
  }

  private arm(): void {
    if (this.closed || this.entries.size === 0) return;
    // The set is rebuilt only when it changed: an idle packet should not pay for it.
    if (this.dirty) {
      const fds = this.fds();
      this.set.set(fds);
      this.dirty = false;
      if (this.watchOnly(fds)) this.unsignalled = true;
    }
    this.polling = true;
    if (this.signals) {
      this.awaitingSignal = true;
      if (this.unsignalled) {
        // Input queued before the fds were watched raised no signal, and input this pass's writes
        // caused has one still to come (see BURST): look once more, after this turn's writes (not
        // from inside add() or ready()). Input that arrives later signals.
        this.unsignalled = false;
        if (this.chain < BURST) microtask(this.look);
        else {
          // Passes keep finding input: the next look waits for the event loop's turn (timers,
          // the UAPI socket) rather than run on in microtasks.
          this.chain = 0;
          setImmediate(this.look);
        }
      } else this.chain = 0;
      return;
    }
    this.set.poll((rc) => this.ready(rc));
  }

  /** A SIGIO arrived (for any watcher in this process): poll without blocking, and go on if ready. */
  private signalled(): void {
    if (!this.awaitingSignal || this.closed) return;
    const rc = this.set.pollNow();
    if (rc === 0) {
      this.chain = 0;
      return;
    }
    this.awaitingSignal = false;
    this.ready(rc);
  }

  private ready(rc: number): void {
    this.polling = false;
    if (this.closed) return;
    this.handling = true;
    let more: boolean;
    try {
      more = this.take(rc);
    } finally {
      this.handling = false;
    }
    if (this.waiters.length > 0) for (const resolve of this.waiters.splice(0)) resolve();
    if (this.held > 0 || this.closed) return;
    if ((more || this.windowRecords > TRAFFIC_RECORDS) && !this.told) {
      this.told = true;
      this.busy();
      // Until the worker takes over, traffic is read through the thread-pool poll: a signal per
      // datagram of a flood would cost the main thread more than the poll's wake-ups.
      this.signals?.close();
      this.signals = undefined;
    }
    if (this.held > 0 || this.closed) return;
    if (rc < 0) this.unsignalled = true; // signals handled meanwhile find no wait: look again then
    if (rc < 0) setTimeout(this.retry, 10).unref();
    else this.arm();
  }

  /** After a failed poll (a field, not a closure in ready(): that would cost it a context per call). */
  private readonly retry = (): void => {
    if (this.held === 0 && !this.polling) this.arm();
  };

  /** Reads what poll() found ready and hands it on; true if traffic wants the worker. */
  private take(rc: number): boolean {
    let more = false;
    if (rc < 0) {
      if (++this.failures > MAX_POLL_FAILURES) {
        for (const e of [...this.entries.values()]) {
          fail(e.src, EIO);
          e.src.dead = true;
          this.dirty = true;
          e.consumer.pump();
        }
      }
    } else {
      this.failures = 0;
      if (this.set.revents(0) !== 0) sys.read(this.pipe[0]!, new Uint8Array(64), 64);
      const now = Date.now(); // a window heuristic: Date.now() costs less than performance.now()
      if (now - this.windowStart > TRAFFIC_WINDOW_MS || now < this.windowStart) {
        this.windowStart = now;
        this.windowRecords = 0;
      }
      // A source's slots are next to each other (fds()): it is pumped once, after its last one.
      let pending: Entry | undefined;
      for (let i = 1; i < this.slots.length; i++) {
        const revents = this.set.revents(i);
        const slot = this.slots[i]!;
        const s = slot.e.src;
        if (pending !== undefined && pending !== slot.e) {
          if (!pending.removed && pending.consumer.pump()) more = true;
          pending = undefined;
        }
        if (revents === 0 || s.dead || slot.e.removed) continue;
        if (slot.link) {
          if (!s.link!.read()) {
            s.link = undefined;
            this.dirty = true;
          }
          continue;
        }
        rewindIfEmpty(s);
        const r = burst(s, slot.fd, revents, BURST, false);
        this.windowRecords += r.read;
        this.chain += r.read;
        if (r.more) more = this.unsignalled = true;
        else if (s.withAddr && r.read > 0) this.unsignalled = true;
        if (r.ended) {
          s.dead = true;
          this.dirty = true;
        }
        pending = slot.e;
      }
      if (pending !== undefined && !pending.removed && pending.consumer.pump()) more = true;
    }
    return more;
  }
}

