/**
 * Time as the protocol core sees it: injected, so tests drive it with a manual clock and never sleep.
 * Imports nothing.
 */

/** A scheduled callback that can be cancelled. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic time in milliseconds (fractional allowed); only differences are meaningful. */
  now(): number;
  /** Wall-clock time, for TAI64N timestamps and "latest handshake" (seconds and nanoseconds since the Unix epoch). */
  wallclock(): { sec: bigint; nsec: number };
  /** Calls `fn` once after `ms` milliseconds of this clock's time. */
  schedule(ms: number, fn: () => void): TimerHandle;
}
