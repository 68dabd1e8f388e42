/**
 * Monotonic time in milliseconds for the per-packet paths. process.hrtime() reads CLOCK_MONOTONIC
 * as performance.now() does, without the latter's receiver check and wrappers: four JS frames less,
 * on paths that read the clock several times per packet and mostly run in the interpreter for
 * lone packets. The origin is arbitrary: only differences mean anything.
 */
export function monotonicMs(): number {
  const t = process.hrtime();
  return t[0]! * 1e3 + t[1]! / 1e6;
}
