/**
 * A manual Clock for tests: time moves only when the test calls `advance`, which fires every timer
 * that falls due, in deadline order, including timers scheduled by the callbacks themselves.
 */
import type { Clock, TimerHandle } from '../../src/userspace-fallback/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private pending: Pending[] = [];
  /** Wall clock at t = 0 (seconds since the epoch). */
  constructor(private readonly wallBase = 1_700_000_000n) {}

  now(): number {
    return this.t;
  }

  wallclock(): { sec: bigint; nsec: number } {
    const ms = Math.floor(this.t);
    return { sec: this.wallBase + BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000 };
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  /** Number of live (not cancelled) timers. */
  get pendingCount(): number {
    this.pending = this.pending.filter((p) => !p.cancelled);
    return this.pending.length;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      let next: Pending | null = null;
      for (const p of this.pending) if (p.at <= end && (next === null || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (next === null) break;
      this.t = Math.max(this.t, next.at);
      next.cancelled = true;
      next.fn();
    }
    this.t = end;
  }

  /** Advances in `step` ms increments (lets interleaved traffic and timers run like real time). */
  advanceBy(total: number, step: number): void {
    for (let done = 0; done < total; done += step) this.advance(Math.min(step, total - done));
  }
}
