/**
 * Signal-driven input readiness on the main thread (fcntl(2): O_ASYNC with F_SETOWN_EX naming this
 * thread; socket(7) and tun devices send SIGIO when input arrives). libuv turns the signal into an
 * event of the main loop, so an idle fd wakes this thread directly. The alternative, a poll(2) on
 * a thread-pool thread, wakes that thread first and it then wakes this one: one cross-thread
 * wake-up more per packet, on a quiet machine the larger part of an idle packet's latency.
 *
 * The signal says only "input somewhere": the callback polls its fds without blocking. Signals of
 * one kind merge while pending, so the callback must read until EAGAIN; input that arrives after
 * that raises a new signal. Input already queued before watch() raises none: callers poll once
 * after watching. Main thread only: a worker's process object gets no signal events, and the owner
 * set here is the main thread (its TID is the PID).
 */
import { F_GETFL, F_SETFL, sys } from './libc.js';

export const O_ASYNC = 0o20000;
const F_SETOWN_EX = 15;
const F_OWNER_TID = 0;

/**
 * An array, not a Set: dispatch() runs per packet, mostly in the interpreter, and indexing is its
 * cheapest loop. Replaced, never changed in place, so a listener removed during dispatch() is safe.
 */
let listeners: ReadonlyArray<() => void> = [];
let installed = false;

function dispatch(): void {
  const fns = listeners;
  for (let i = 0; i < fns.length; i++) fns[i]!();
}

function listen(fn: () => void): void {
  if (!listeners.includes(fn)) listeners = [...listeners, fn];
}

function unlisten(fn: () => void): void {
  if (listeners.includes(fn)) listeners = listeners.filter((f) => f !== fn);
}

/**
 * The SIGIO listener is installed once and never removed: SIGIO's default action ends the
 * process, and a signal already on its way when the last watcher left must not do that.
 */
function install(): void {
  if (installed) return;
  process.on('SIGIO', dispatch);
  installed = true;
}

export class SignalIo {
  private readonly watched = new Set<number>();

  /** `ready` runs on the main thread's event loop after input arrived on one of the watched fds. */
  constructor(private readonly ready: () => void) {}

  /**
   * Starts watching fd; false if the fd cannot signal (then nothing changed for it). The owner is
   * set after O_ASYNC because a tun device's fasync hook claims the file for the whole process.
   */
  watch(fd: number): boolean {
    if (this.watched.has(fd)) return true;
    install();
    listen(this.ready);
    const fl = sys.fcntl(fd, F_GETFL, 0);
    if (fl < 0 || sys.fcntl(fd, F_SETFL, fl | O_ASYNC) < 0) return false;
    const owner = new Int32Array([F_OWNER_TID, process.pid]); // the main thread's TID is the PID
    if (sys.fcntlPtr(fd, F_SETOWN_EX, owner) < 0) {
      sys.fcntl(fd, F_SETFL, fl);
      return false;
    }
    this.watched.add(fd);
    return true;
  }

  /** Stops watching fd (it may be closed afterwards). */
  unwatch(fd: number): void {
    if (!this.watched.delete(fd)) return;
    const fl = sys.fcntl(fd, F_GETFL, 0);
    if (fl >= 0) sys.fcntl(fd, F_SETFL, fl & ~O_ASYNC);
    if (this.watched.size === 0) unlisten(this.ready);
  }

  /** Watches exactly these fds (unwatching the others); false if one of them cannot signal. */
  set(fds: readonly number[]): boolean {
    for (const fd of [...this.watched]) if (!fds.includes(fd)) this.unwatch(fd);
    return fds.every((fd) => this.watch(fd));
  }

  /** Stops watching every fd. */
  close(): void {
    for (const fd of [...this.watched]) this.unwatch(fd);
    unlisten(this.ready);
  }
}
